/* SPDX-License-Identifier: MIT */
/*
 * agentd logs [-f] AGENT: an agent's transcript, one thing a line. Without
 * -f the stored messages, oldest first; with -f the current run live from
 * the daemon's event stream (GET /api/events as Server-Sent Events, the
 * bus's replay first so nothing of the run is missed), until the run ends.
 *
 * Both render the same way: user messages as "> text", assistant text as
 * it is, a tool call as "▶ Bash  git status" and its result as "✓ Bash" or
 * "✗ Bash (exit 1)" (with what a failed one said, indented, on the next
 * line), status changes as "— status: waiting". --json prints
 * the raw messages (or events) one JSON object a line.
 *
 * -f exits by itself when the run ends: 0 when it succeeded or was stopped,
 * 1 when it failed or was lost (or the daemon went away first), 3 when it
 * ended degraded (its work done, some output lost). An agent
 * that is not running prints its transcript and exits the way its last run
 * ended; one that never ran waits for its first run.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSE_EVENT_MAX (16u << 20)
#define TOOLS_KEPT 64 /* tool calls whose names are remembered for their ends */

/* ---- following the live stream -------------------------------------------------- */

typedef struct {
    ad_cli_t *c;
    ad_cli_sse_t sse;
    char target[128];   /* the run followed; "" until the next one starts */
    bool seen;          /* an event of the target run has arrived */
    bool open_line;     /* streamed text not yet ended by a newline */
    ad_cli_term_t term; /* the streamed text's escape sequences, across events */
    bool streamed;      /* assistant text streamed since its last message */
    bool ended;         /* the target run ended: stop reading */
    int exit_code;
    bool until_idle;    /* --until idle: a turn's end ends it too */
    bool armed;         /* --until idle: past the newest message known at start */
    char last_msg[128]; /* that message's id ("" when the agent had none) */
    struct {
        char id[96];
        char name[64];
    } tools[TOOLS_KEPT];
    size_t ntools;
} follow_t;

/* 0 for a run that succeeded or was stopped, 1 for one that failed or
 * was lost, 3 for one that did its work but lost some of its output
 * (degraded). */
static int run_exit_code(const char *status)
{
    if (strcmp(status, "degraded") == 0) {
        return 3;
    }
    static const char *ok[] = {"succeeded", "stopped", "finished"};
    for (size_t i = 0; i < AD_ARRAY_LEN(ok); i++) {
        if (strcmp(status, ok[i]) == 0) {
            return 0;
        }
    }
    return 1;
}

static void end_line(follow_t *f)
{
    ad_cli_term_finish(&f->term, stdout);
    if (f->open_line) {
        fputc('\n', stdout);
        f->open_line = false;
    }
}

static const char *tool_name(follow_t *f, const char *id)
{
    for (size_t i = 0; i < f->ntools && i < TOOLS_KEPT; i++) {
        if (strcmp(f->tools[i].id, id) == 0) {
            return f->tools[i].name;
        }
    }
    return "tool";
}

static void on_tool_start(follow_t *f, json_t *p)
{
    const char *name = ad_cli_str(p, "name", "tool");
    size_t slot = f->ntools++ % TOOLS_KEPT;
    snprintf(f->tools[slot].id, sizeof(f->tools[slot].id), "%s", ad_cli_str(p, "toolId", ""));
    snprintf(f->tools[slot].name, sizeof(f->tools[slot].name), "%s", name);
    ad_cli_print_tool_start(name, json_object_get(p, "params"));
}

static void on_output(follow_t *f, json_t *p)
{
    const char *content = ad_cli_str(p, "content", "");
    size_t n = strlen(content);
    ad_cli_term_write(&f->term, content, n, stdout);
    if (n > 0) {
        f->open_line = content[n - 1] != '\n';
        f->streamed = true;
    }
    if (!json_is_false(json_object_get(p, "isComplete"))) {
        end_line(f);
        f->open_line = false;
    }
}

/* A user message, or an assistant message whose text did not stream. */
static void on_message(follow_t *f, json_t *m)
{
    const char *role = ad_cli_str(m, "role", "");
    if (strcmp(role, "tool") == 0) {
        return; /* shown from tool_start and tool_end */
    }
    if (strcmp(role, "assistant") == 0 && f->streamed) {
        end_line(f); /* its text already streamed as agent_output */
        f->streamed = false;
        return;
    }
    end_line(f);
    ad_cli_print_text(role, ad_cli_str(m, "content", ""));
}

static void on_run_ended(follow_t *f, json_t *run)
{
    const char *status = ad_cli_str(run, "status", "?");
    json_t *code = json_object_get(run, "exitCode");
    end_line(f);
    if (json_is_integer(code)) {
        printf("— run %s (exit %lld)\n", status, (long long)json_integer_value(code));
    } else {
        printf("— run %s\n", status);
    }
    f->ended = true;
    f->exit_code = run_exit_code(status);
}

/* The id of the run an event belongs to, or "". */
static const char *event_run(const char *type, json_t *p)
{
    if (strcmp(type, "run_started") == 0 || strcmp(type, "run_ended") == 0) {
        return ad_cli_str(json_object_get(p, "run"), "id", "");
    }
    if (strcmp(type, "message_created") == 0 || strcmp(type, "message_updated") == 0) {
        return ad_cli_str(json_object_get(p, "message"), "runId", "");
    }
    return ad_cli_str(p, "runId", "");
}

/* Whether an event is of the run followed. Events replayed from earlier
 * runs are skipped; with no target yet, the next run to start becomes it. */
static bool of_target(follow_t *f, const char *type, json_t *p)
{
    const char *run = event_run(type, p);
    if (f->target[0] == '\0' && run[0] != '\0') {
        snprintf(f->target, sizeof(f->target), "%s", run); /* its first run */
    }
    if (run[0] != '\0' && strcmp(run, f->target) == 0) {
        f->seen = true;
        return true;
    }
    if (run[0] != '\0') {
        return false; /* another run's */
    }
    return f->seen; /* statuses and exits carry no run: after the run's first event */
}

/* --until idle: the turn ended (waiting for a message, not for an
 * approval: 0) or ended in error (1). */
static void turn_end(follow_t *f, const char *status, const char *reason)
{
    bool idle = (strcmp(status, "waiting") == 0 && strcmp(reason, "approval") != 0) ||
                strcmp(status, "idle") == 0;
    if (idle || strcmp(status, "error") == 0) {
        end_line(f);
        printf("— turn ended (%s)\n", status);
        f->ended = true;
        f->exit_code = idle ? 0 : 1;
    }
}

/* --until idle arms once the newest message known at the start has gone
 * by in the replay: a turn's end before it is an earlier turn's. */
static void arm(follow_t *f, const char *type, json_t *p)
{
    if (f->armed || strcmp(type, "replay_truncated") == 0) {
        f->armed = true;
        return;
    }
    if (strcmp(type, "message_created") == 0 || strcmp(type, "message_updated") == 0) {
        const char *id = ad_cli_str(json_object_get(p, "message"), "id", "");
        f->armed = strcmp(id, f->last_msg) == 0;
    }
}

static void render(follow_t *f, const char *type, json_t *p)
{
    if (strcmp(type, "agent_output") == 0) {
        on_output(f, p);
        return;
    }
    if (strcmp(type, "message_created") == 0) {
        on_message(f, json_object_get(p, "message"));
    } else if (strcmp(type, "message_updated") == 0) {
        json_t *m = json_object_get(p, "message");
        if (strcmp(ad_cli_str(m, "role", ""), "tool") == 0 &&
            json_is_true(json_object_get(m, "isComplete"))) {
            ad_cli_print_tool_error(m); /* under the "✗" line of its tool_end */
        }
    } else if (strcmp(type, "tool_start") == 0) {
        end_line(f);
        on_tool_start(f, p);
    } else if (strcmp(type, "tool_end") == 0) {
        end_line(f);
        const char *status = ad_cli_str(p, "status", "success");
        ad_cli_print_tool_end(tool_name(f, ad_cli_str(p, "toolId", "")),
                              strcmp(status, "success") != 0, json_object_get(p, "exitCode"));
    } else if (strcmp(type, "agent_status") == 0) {
        const char *reason = ad_cli_str(p, "reason", NULL);
        end_line(f);
        printf("— status: %s%s%s%s\n", ad_cli_str(p, "status", "?"), reason ? " (" : "",
               reason ? reason : "", reason ? ")" : "");
        if (f->until_idle && f->armed) {
            turn_end(f, ad_cli_str(p, "status", ""), ad_cli_str(p, "reason", ""));
        }
    } else if (strcmp(type, "approval_requested") == 0) {
        json_t *ap = json_object_get(p, "approval");
        char sum[AD_CLI_SUMMARY_MAX + 8];
        ad_cli_tool_summary(json_object_get(ap, "input"), sum, sizeof(sum));
        end_line(f);
        printf("? approval %s: %s%s%s (agentd approve %s)\n", ad_cli_str(ap, "id", "?"),
               ad_cli_str(ap, "toolName", "tool"), sum[0] != '\0' ? "  " : "", sum,
               ad_cli_str(ap, "id", "?"));
    } else if (strcmp(type, "run_started") == 0) {
        end_line(f);
        ad_cli_print_run_header(json_object_get(p, "run"), 0);
    } else if (strcmp(type, "run_ended") == 0) {
        on_run_ended(f, json_object_get(p, "run"));
    } else if (strcmp(type, "run_stalled") == 0) {
        end_line(f);
        printf("— stalled: %s (the agent waits; nothing is lost)\n", ad_cli_str(p, "reason", "?"));
    } else if (strcmp(type, "run_resumed") == 0) {
        end_line(f);
        printf("— resumed\n");
    } else if (strcmp(type, "replay_truncated") == 0) {
        end_line(f);
        printf("— older events are no longer kept\n");
    }
}

static void on_event(follow_t *f, const char *data, size_t len)
{
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *type = ad_cli_str(ev, "type", "");
    json_t *p = json_object_get(ev, "payload");
    if (ev != NULL && f->until_idle) {
        arm(f, type, p);
    }
    bool mine = ev != NULL && (strcmp(type, "replay_truncated") == 0 || of_target(f, type, p));
    if (mine && f->c->json) {
        char *line = json_dumps(ev, JSON_COMPACT);
        puts(line != NULL ? line : "{}");
        free(line);
        if (strcmp(type, "run_ended") == 0) {
            f->ended = true;
            f->exit_code = run_exit_code(ad_cli_str(json_object_get(p, "run"), "status", "?"));
        } else if (strcmp(type, "agent_status") == 0 && f->until_idle && f->armed) {
            turn_end(f, ad_cli_str(p, "status", ""), ad_cli_str(p, "reason", ""));
        }
    } else if (mine) {
        render(f, type, p);
    }
    fflush(stdout);
    json_decref(ev);
}

static bool sse_event(const char *data, size_t len, void *ud)
{
    follow_t *f = ud;
    on_event(f, data, len);
    return !f->ended; /* the run ended: close the stream */
}

static bool on_sse(const char *p, size_t total, void *ud)
{
    follow_t *f = ud;
    return ad_cli_sse_feed(&f->sse, p, total);
}

static int follow(ad_cli_t *c, const char *id, const char *run_id, bool until_idle,
                  const char *last_msg)
{
    char path[1024], topic[300], enc[600], err[300];
    snprintf(topic, sizeof(topic), "agent:%s", id);
    ad_cli_url_encode(topic, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/events?topics=%s&since=0", enc);
    follow_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return ad_cli_fail(c, "out of memory");
    }
    f->c = c;
    snprintf(f->target, sizeof(f->target), "%s", run_id);
    f->until_idle = until_idle;
    ad_cli_term_init(&f->term, ad_cli_colour_wanted());
    snprintf(f->last_msg, sizeof(f->last_msg), "%s", last_msg);
    f->armed = last_msg[0] == '\0';
    ad_cli_sse_init(&f->sse, SSE_EVENT_MAX, sse_event, f);
    long status = 0;
    int rc = ad_cli_http(ad_cli_sock(c), c->cfg->token, "GET", path, "text/event-stream", NULL, 0,
                         -1, on_sse, f, &status, err, sizeof(err));
    ad_cli_sse_cleanup(&f->sse);
    bool ended = f->ended;
    int code = f->exit_code;
    if (!ended) {
        end_line(f);
    }
    free(f);
    if (ended) {
        return code; /* we closed the stream ourselves (AD_ETOOBIG) */
    }
    if (rc == AD_ENOENT) {
        return ad_cli_not_running(c);
    }
    if (status >= 300) {
        snprintf(err, sizeof(err), "the daemon refused the event stream (HTTP %ld)", status);
        return ad_cli_fail(c, err);
    }
    if (rc != 0 && rc != AD_ECLOSED) {
        char msg[400];
        snprintf(msg, sizeof(msg), "event stream failed: %s", err);
        return ad_cli_fail(c, msg);
    }
    return ad_cli_fail(c, "the daemon closed the event stream before the run ended");
}

/* The agent's latest run: its id into run ("" when it never ran) and its
 * status. 0, or the failed request's exit code. */
static int latest_run(ad_cli_t *c, const char *id, char *run, size_t runsz, char *status,
                      size_t statussz)
{
    char path[512], enc[200];
    int rc;
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/runs?limit=1", enc);
    json_t *j = ad_cli_call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    json_t *r = json_array_get(json_object_get(j, "runs"), 0);
    snprintf(run, runsz, "%s", ad_cli_str(r, "id", ""));
    snprintf(status, statussz, "%s", ad_cli_str(r, "status", ""));
    json_decref(j);
    return 0;
}

/* The id of the agent's newest message into out ("" when none). */
static int newest_message(ad_cli_t *c, const char *id, char *out, size_t outsz)
{
    char enc[200], path[400];
    int rc;
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/messages?limit=1", enc);
    json_t *j = ad_cli_call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    snprintf(out, outsz, "%s",
             ad_cli_str(json_array_get(json_object_get(j, "messages"), 0), "id", ""));
    json_decref(j);
    return 0;
}

int ad_cli_logs(ad_cli_t *c, int argc, char **argv)
{
    bool follow_flag = false;
    const char *until = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"-f", false, NULL, &follow_flag},
                             {"--follow", false, NULL, &follow_flag},
                             {"--until", true, &until, NULL}};
    const char *pos[1];
    char id[200], run[128], status[64], last[128] = "";
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd logs [-f [--until idle|end]] ID|NAME");
    }
    if (until != NULL && strcmp(until, "idle") != 0 && strcmp(until, "end") != 0) {
        return ad_cli_usage(c, "--until takes idle (the turn's end) or end (the run's end)");
    }
    if (until != NULL && !follow_flag) {
        return ad_cli_usage(c, "--until needs -f");
    }
    bool until_idle = until != NULL && strcmp(until, "idle") == 0;
    if ((rc = ad_cli_resolve(c, AD_CLI_AGENT, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    if (!follow_flag) {
        return ad_cli_print_history(c, id);
    }
    if ((rc = latest_run(c, id, run, sizeof(run), status, sizeof(status))) != 0) {
        return rc;
    }
    if (run[0] != '\0' && strcmp(status, "running") != 0) {
        /* Its run already ended: the transcript, and how that run ended. */
        rc = ad_cli_print_history(c, id);
        if (rc == 0 && !c->json) {
            printf("— run %s\n", status);
        }
        return rc != 0 ? rc : run_exit_code(status);
    }
    if (until_idle && (rc = newest_message(c, id, last, sizeof(last))) != 0) {
        return rc;
    }
    return follow(c, id, run, until_idle, last);
}
