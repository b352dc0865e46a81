/* SPDX-License-Identifier: MIT */
/*
 * `agentd acp`: agentd as an ACP agent (Agent Client Protocol, JSON-RPC 2.0
 * a line on stdin and stdout) for an editor that runs it as its agent (Zed,
 * JetBrains, Neovim, Emacs). Each ACP session is an agentd agent: the
 * editor talks to it through the daemon like the CLI does, and leaving the
 * editor does not stop it.
 *
 *   session/new {cwd}      an agent in the worktree at cwd (its executor
 *                          and command from this command's options)
 *   session/load {id}      an agent the fleet already has: its transcript
 *                          sent as updates, then its live ones
 *   session/list           the agents
 *   session/prompt         a message (the first starts the agent); the
 *                          answer comes once the turn ended
 *   session/cancel         stops the agent's run
 *
 * The agent's text, tool calls and approvals reach the editor as
 * session/update notifications and session/request_permission requests
 * (decided through the approvals API), from the daemon's event stream of
 * that agent, followed by one thread a session; the main thread reads
 * stdin. Everything written to stdout goes through one lock.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACP_LINE_MAX (16u << 20)
#define ACP_SESSIONS_MAX 64
#define ACP_ASKS_MAX 256
#define ACP_EVENT_MAX (16u << 20)
#define ACP_PROTOCOL 1
#define RPC_INVALID_PARAMS (-32602)
#define RPC_NOT_FOUND (-32601)
#define RPC_INTERNAL (-32603)

typedef struct acp acp_t;

typedef struct {
    acp_t *a;
    char agent[128];
    pthread_t thread;
    bool thread_on;
    json_t *prompt_id; /* the session/prompt waiting for its turn's end, or NULL */
    bool cancelled;    /* session/cancel since that prompt */
    bool streamed;     /* text streamed since the last assistant message */
    bool started;      /* the agent's first prompt was sent */
    int fd;            /* the agent's event stream, subscribed (see stream_open) */
    ad_cli_response_t resp;
    ad_cli_sse_t sse;
} session_t;

struct acp {
    ad_cli_t *c;
    pthread_mutex_t lock; /* stdout, sessions' state, asks */
    session_t sessions[ACP_SESSIONS_MAX];
    size_t nsessions;
    struct {
        long id;
        char approval[128];
    } asks[ACP_ASKS_MAX]; /* our session/request_permission requests */
    long next_id;
    /* what sessions make: from the command's options */
    const char *executor, *acp_agent, *mode, *model;
    json_t *command; /* or NULL */
};

/* ---- writing ------------------------------------------------------------------------ */

/* Writes msg (stolen) as one line. Under a->lock. */
static void put_locked(json_t *msg)
{
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    char *line = json_dumps(msg, JSON_COMPACT);
    if (line != NULL) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(line);
    json_decref(msg);
}

static void put(acp_t *a, json_t *msg)
{
    pthread_mutex_lock(&a->lock);
    put_locked(msg);
    pthread_mutex_unlock(&a->lock);
}

static void answer(acp_t *a, json_t *id, json_t *result)
{
    put(a, json_pack("{s:O, s:o}", "id", id, "result", result != NULL ? result : json_null()));
}

static void fail(acp_t *a, json_t *id, int code, const char *message)
{
    put(a, json_pack("{s:O, s:{s:i, s:s}}", "id", id, "error", "code", code, "message", message));
}

static void update_locked(session_t *s, json_t *u)
{
    put_locked(json_pack("{s:s, s:{s:s, s:o}}", "method", "session/update", "params", "sessionId",
                         s->agent, "update", u));
}

static void update(session_t *s, json_t *u)
{
    pthread_mutex_lock(&s->a->lock);
    update_locked(s, u);
    pthread_mutex_unlock(&s->a->lock);
}

static json_t *text_block(const char *text)
{
    return json_pack("{s:s, s:s}", "type", "text", "text", text);
}

/* ---- the daemon's events of a session's agent ------------------------------------- */

static void turn_ended(session_t *s, const char *reason)
{
    pthread_mutex_lock(&s->a->lock);
    if (s->prompt_id != NULL) {
        json_t *id = s->prompt_id;
        s->prompt_id = NULL;
        const char *why = s->cancelled ? "cancelled" : reason;
        put_locked(json_pack("{s:o, s:{s:s}}", "id", id, "result", "stopReason", why));
    }
    pthread_mutex_unlock(&s->a->lock);
}

/* An approval asked of the editor. What the agent asked is shown as it
 * gave it: an ACP agent's own tool call (title, kind, locations, input), or
 * a CLI's tool name and input. */
static void on_approval(session_t *s, json_t *ap)
{
    acp_t *a = s->a;
    json_t *input = json_object_get(ap, "input");
    const char *title = ad_cli_str(input, "title", NULL);
    json_t *raw = json_object_get(input, "rawInput");
    json_t *options = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]", "optionId",
                                "allow", "name", "Allow", "kind", "allow_once", "optionId",
                                "allow_always", "name", "Allow always", "kind", "allow_always",
                                "optionId", "deny", "name", "Deny", "kind", "reject_once");
    json_t *tc = json_pack("{s:s, s:s, s:s}", "toolCallId",
                           ad_cli_str(input, "toolCallId", ad_cli_str(ap, "id", "approval")),
                           "title", title != NULL ? title : ad_cli_str(ap, "toolName", "a tool"),
                           "status", "pending");
    if (raw != NULL || input != NULL) {
        json_object_set(tc, "rawInput", raw != NULL ? raw : input);
    }
    if (json_is_string(json_object_get(input, "kind"))) {
        json_object_set(tc, "kind", json_object_get(input, "kind"));
    }
    if (json_is_array(json_object_get(input, "locations"))) {
        json_object_set(tc, "locations", json_object_get(input, "locations"));
    }
    pthread_mutex_lock(&a->lock);
    long id = ++a->next_id;
    size_t slot = (size_t)id % ACP_ASKS_MAX;
    a->asks[slot].id = id;
    snprintf(a->asks[slot].approval, sizeof(a->asks[slot].approval), "%s",
             ad_cli_str(ap, "id", ""));
    put_locked(json_pack("{s:I, s:s, s:{s:s, s:o, s:o}}", "id", (json_int_t)id, "method",
                         "session/request_permission", "params", "sessionId", s->agent, "toolCall",
                         tc, "options", options));
    pthread_mutex_unlock(&a->lock);
}

static void on_event(session_t *s, const char *type, json_t *p)
{
    if (strcmp(type, "agent_output") == 0) {
        const char *text = ad_cli_str(p, "content", "");
        if (text[0] != '\0' && strcmp(ad_cli_str(p, "stream", "stdout"), "stdout") == 0) {
            s->streamed = true;
            update(s, json_pack("{s:s, s:o}", "sessionUpdate", "agent_message_chunk", "content",
                                text_block(text)));
        }
    } else if (strcmp(type, "message_created") == 0) {
        json_t *m = json_object_get(p, "message");
        if (strcmp(ad_cli_str(m, "role", ""), "assistant") == 0) {
            if (!s->streamed) {
                update(s, json_pack("{s:s, s:o}", "sessionUpdate", "agent_message_chunk", "content",
                                    text_block(ad_cli_str(m, "content", ""))));
            }
            s->streamed = false;
        }
    } else if (strcmp(type, "tool_start") == 0) {
        json_t *u =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "sessionUpdate", "tool_call", "toolCallId",
                      ad_cli_str(p, "toolId", "?"), "title", ad_cli_str(p, "name", "tool"), "kind",
                      "other", "status", "in_progress");
        if (json_object_get(p, "params") != NULL) {
            json_object_set(u, "rawInput", json_object_get(p, "params"));
        }
        update(s, u);
    } else if (strcmp(type, "tool_end") == 0) {
        bool failed = strcmp(ad_cli_str(p, "status", ""), "error") == 0;
        update(s,
               json_pack("{s:s, s:s, s:s}", "sessionUpdate", "tool_call_update", "toolCallId",
                         ad_cli_str(p, "toolId", "?"), "status", failed ? "failed" : "completed"));
    } else if (strcmp(type, "approval_requested") == 0) {
        on_approval(s, json_object_get(p, "approval"));
    } else if (strcmp(type, "agent_status") == 0) {
        const char *st = ad_cli_str(p, "status", "");
        const char *code = ad_cli_str(json_object_get(p, "statusReason"), "code", "");
        if ((strcmp(st, "waiting") == 0 && strcmp(code, "turn_ended") == 0) ||
            strcmp(st, "finished") == 0 || strcmp(st, "stopped") == 0 || strcmp(st, "error") == 0) {
            turn_ended(s, strcmp(st, "error") == 0 ? "refusal" : "end_turn");
        }
    } else if (strcmp(type, "run_ended") == 0) {
        turn_ended(s, "end_turn");
    }
}

static bool sse_event(const char *data, size_t len, void *ud)
{
    session_t *s = ud;
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *type = ad_cli_str(ev, "type", "");
    json_t *p = json_object_get(ev, "payload");
    const char *agent = ad_cli_str(p, "agentId", NULL);
    json_t *ap = json_object_get(p, "approval");
    if (agent == NULL && ap != NULL) {
        agent = ad_cli_str(ap, "agentId", NULL);
    }
    if (agent == NULL && json_object_get(p, "message") != NULL) {
        agent = ad_cli_str(json_object_get(p, "message"), "agentId", NULL);
    }
    if (agent == NULL && json_object_get(p, "run") != NULL) {
        agent = ad_cli_str(json_object_get(p, "run"), "agentId", NULL);
    }
    if (ev != NULL && agent != NULL && strcmp(agent, s->agent) == 0) {
        on_event(s, type, p);
    }
    json_decref(ev);
    return true;
}

static bool on_bytes(const char *p, size_t n, void *ud)
{
    return ad_cli_sse_feed(ud, p, n);
}

/* The agent's event stream, opened and subscribed before the session is
 * answered: the daemon sends the response head after it subscribed the
 * stream, so a prompt sent once the editor has its answer cannot publish an
 * event the stream misses. A new agent is followed from its first event; a
 * loaded one from now (its past comes from its transcript). false if the
 * stream is not up within 10 s. */
static bool stream_open(session_t *s)
{
    char topic[200], enc[400], path[600], err[300], buf[4096];
    snprintf(topic, sizeof(topic), "agent:%s", s->agent);
    ad_cli_url_encode(topic, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/events?topics=%s%s", enc, s->started ? "" : "&since=0");
    s->fd = -1;
    if (ad_cli_http_open(ad_cli_sock(s->a->c), s->a->c->cfg->token, path, "text/event-stream",
                         &s->fd, err, sizeof(err)) != 0) {
        return false;
    }
    ad_cli_response_init(&s->resp, on_bytes, &s->sse);
    ad_cli_sse_init(&s->sse, ACP_EVENT_MAX, sse_event, s);
    while (s->resp.status == 0) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        ssize_t n = poll(&pfd, 1, 10000) == 1 ? read(s->fd, buf, sizeof(buf)) : -1;
        if (n <= 0 || ad_cli_response_feed(&s->resp, buf, (size_t)n, err, sizeof(err)) != 0) {
            break;
        }
    }
    if (s->resp.status != 200) {
        ad_cli_sse_cleanup(&s->sse);
        close(s->fd);
        s->fd = -1;
        return false;
    }
    return true;
}

/* The session's thread: the agent's events until stdin ends (the process
 * exits then) or the daemon goes away. */
static void *follow(void *ud)
{
    session_t *s = ud;
    char buf[16384], err[300];
    for (;;) {
        ssize_t n = read(s->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || ad_cli_response_feed(&s->resp, buf, (size_t)n, err, sizeof(err)) != 0 ||
            s->resp.done) {
            break;
        }
    }
    ad_cli_sse_cleanup(&s->sse);
    close(s->fd);
    turn_ended(s, "end_turn"); /* the stream ended: nothing more comes for a waiting prompt */
    return NULL;
}

/* ---- requests from the editor ----------------------------------------------------- */

static session_t *session_of(acp_t *a, json_t *params)
{
    const char *id = ad_cli_str(params, "sessionId", "");
    for (size_t i = 0; i < a->nsessions; i++) {
        if (strcmp(a->sessions[i].agent, id) == 0) {
            return &a->sessions[i];
        }
    }
    return NULL;
}

static session_t *session_add(acp_t *a, const char *agent, bool started)
{
    if (a->nsessions >= ACP_SESSIONS_MAX) {
        return NULL;
    }
    session_t *s = &a->sessions[a->nsessions++];
    memset(s, 0, sizeof(*s));
    s->a = a;
    s->started = started;
    snprintf(s->agent, sizeof(s->agent), "%s", agent);
    if (!stream_open(s)) {
        a->nsessions--;
        return NULL;
    }
    s->thread_on = pthread_create(&s->thread, NULL, follow, s) == 0;
    return s;
}

/* The worktree whose folder is cwd: its id into out, or false. */
static bool worktree_at(acp_t *a, const char *cwd, char *out, size_t outsz)
{
    char want[PATH_MAX], have[PATH_MAX];
    int rc = 0;
    if (cwd == NULL || realpath(cwd, want) == NULL) {
        return false;
    }
    json_t *j = ad_cli_call(a->c, "GET", "/api/worktrees", NULL, &rc);
    size_t i;
    json_t *w;
    bool found = false;
    json_array_foreach(json_object_get(j, "worktrees"), i, w)
    {
        const char *p = ad_cli_str(w, "path", NULL);
        if (!found && p != NULL && realpath(p, have) != NULL && strcmp(have, want) == 0) {
            snprintf(out, outsz, "%s", ad_cli_str(w, "id", ""));
            found = true;
        }
    }
    json_decref(j);
    return found;
}

/* An error answer of the daemon as the JSON-RPC error of id. */
static void fail_daemon(acp_t *a, json_t *id, json_t *j, long status)
{
    json_t *err = json_object_get(j, "error");
    char msg[600];
    snprintf(msg, sizeof(msg), "agentd: %s (%s, HTTP %ld)", ad_cli_str(err, "message", "failed"),
             ad_cli_str(err, "code", "ERROR"), status);
    fail(a, id, status == 404 || status == 422 ? RPC_INVALID_PARAMS : RPC_INTERNAL, msg);
}

static void session_new(acp_t *a, json_t *id, json_t *params)
{
    char wt[200];
    if (!worktree_at(a, ad_cli_str(params, "cwd", NULL), wt, sizeof(wt))) {
        fail(a, id, RPC_INVALID_PARAMS,
             "cwd is not a worktree agentd knows (add its repository: agentd ws add PATH)");
        return;
    }
    json_t *body = json_pack("{s:s}", "worktreeId", wt);
    if (a->executor != NULL) {
        json_object_set_new(body, "executor", json_string(a->executor));
    }
    if (a->acp_agent != NULL) {
        json_object_set_new(body, "acpAgent", json_string(a->acp_agent));
    }
    if (a->mode != NULL) {
        json_object_set_new(body, "mode", json_string(a->mode));
    }
    if (a->model != NULL) {
        json_object_set_new(body, "model", json_string(a->model));
    }
    if (a->command != NULL) {
        json_object_set(body, "command", a->command);
    }
    long status = 0;
    int rc = 0;
    json_t *j = ad_cli_call_any(a->c, "POST", "/api/agents", body, &status, &rc);
    json_decref(body);
    if (j == NULL || status != 201) {
        fail_daemon(a, id, j, status);
    } else if (session_add(a, ad_cli_str(j, "id", ""), false) == NULL) {
        fail(a, id, RPC_INTERNAL,
             a->nsessions >= ACP_SESSIONS_MAX ? "too many sessions on this connection"
                                              : "cannot follow the new agent's events");
    } else {
        answer(a, id, json_pack("{s:s}", "sessionId", ad_cli_str(j, "id", "")));
    }
    json_decref(j);
}

/* The agent's transcript as updates, oldest first (one page: the newest
 * 200 messages). */
static void replay(acp_t *a, session_t *s)
{
    char path[300];
    int rc = 0;
    snprintf(path, sizeof(path), "/api/agents/%s/messages?limit=200", s->agent);
    json_t *j = ad_cli_call(a->c, "GET", path, NULL, &rc);
    json_t *msgs = json_object_get(j, "messages");
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        json_t *m = json_array_get(msgs, i);
        const char *role = ad_cli_str(m, "role", "");
        const char *kind = strcmp(role, "user") == 0        ? "user_message_chunk"
                           : strcmp(role, "assistant") == 0 ? "agent_message_chunk"
                                                            : NULL;
        if (kind != NULL) {
            update(s, json_pack("{s:s, s:o}", "sessionUpdate", kind, "content",
                                text_block(ad_cli_str(m, "content", ""))));
        } else if (strcmp(role, "tool") == 0) {
            update(s,
                   json_pack("{s:s, s:s, s:s, s:s, s:s}", "sessionUpdate", "tool_call",
                             "toolCallId", ad_cli_str(m, "id", "?"), "title",
                             ad_cli_str(m, "toolName", "tool"), "kind", "other", "status",
                             json_is_true(json_object_get(m, "isError")) ? "failed" : "completed"));
        }
    }
    json_decref(j);
}

static void session_load(acp_t *a, json_t *id, json_t *params)
{
    const char *agent = ad_cli_str(params, "sessionId", "");
    char path[400], enc[300];
    long status = 0;
    int rc = 0;
    ad_cli_url_encode(agent, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s", enc);
    json_t *j = strlen(agent) < 128 ? ad_cli_call_any(a->c, "GET", path, NULL, &status, &rc) : NULL;
    if (j == NULL || status != 200) {
        fail(a, id, RPC_INVALID_PARAMS, "no such session: an agent id of this daemon is one");
        json_decref(j);
        return;
    }
    session_t *s = session_of(a, params);
    if (s == NULL) {
        s = &a->sessions[a->nsessions < ACP_SESSIONS_MAX ? a->nsessions : 0];
        if (a->nsessions >= ACP_SESSIONS_MAX) {
            fail(a, id, RPC_INTERNAL, "too many sessions on this connection");
            json_decref(j);
            return;
        }
        memset(s, 0, sizeof(*s));
        s->a = a;
        s->started = true;
        snprintf(s->agent, sizeof(s->agent), "%s", agent);
        if (!stream_open(s)) {
            fail(a, id, RPC_INTERNAL, "cannot follow the agent's events");
            json_decref(j);
            return;
        }
        replay(a, s); /* the stream's events wait in its socket until the thread reads them */
        a->nsessions++;
        s->thread_on = pthread_create(&s->thread, NULL, follow, s) == 0;
    }
    answer(a, id, json_null());
    json_decref(j);
}

static void session_list(acp_t *a, json_t *id)
{
    int rc = 0;
    json_t *j = ad_cli_call(a->c, "GET", "/api/agents", NULL, &rc);
    json_t *out = json_array();
    size_t i;
    json_t *ag;
    json_array_foreach(json_object_get(j, "agents"), i, ag)
    {
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:s}", "sessionId", ad_cli_str(ag, "id", ""),
                                        "cwd", ad_cli_str(ag, "worktreePath", "/"), "title",
                                        ad_cli_str(ag, "name", "")));
    }
    json_decref(j);
    answer(a, id, json_pack("{s:o}", "sessions", out));
}

/* The prompt's text: its text blocks, and the links of the others. */
static char *prompt_text(json_t *params)
{
    ad_buf_t b;
    ad_buf_init(&b, ACP_LINE_MAX);
    size_t i;
    json_t *blk;
    bool ok = true;
    json_array_foreach(json_object_get(params, "prompt"), i, blk)
    {
        const char *t = ad_cli_str(blk, "text", NULL);
        if (t == NULL) {
            t = ad_cli_str(blk, "uri", NULL);
        }
        if (t == NULL) {
            t = ad_cli_str(json_object_get(blk, "resource"), "uri", NULL);
        }
        if (t != NULL) {
            ok = ok && (b.len == 0 || ad_buf_putc(&b, '\n') == 0) &&
                 ad_buf_append(&b, t, strlen(t)) == 0;
        }
    }
    if (!ok || b.data == NULL) {
        ad_buf_cleanup(&b);
        return NULL;
    }
    return b.data;
}

static void session_prompt(acp_t *a, json_t *id, json_t *params)
{
    session_t *s = session_of(a, params);
    char *text = prompt_text(params);
    if (s == NULL || text == NULL) {
        fail(a, id, RPC_INVALID_PARAMS, s == NULL ? "no such session" : "the prompt has no text");
        free(text);
        return;
    }
    pthread_mutex_lock(&a->lock);
    bool busy = s->prompt_id != NULL;
    if (!busy) {
        s->prompt_id = json_incref(id);
        s->cancelled = false;
    }
    pthread_mutex_unlock(&a->lock);
    if (busy) {
        fail(a, id, RPC_INVALID_PARAMS, "a prompt of this session is under way");
        free(text);
        return;
    }
    char path[300];
    json_t *agent = NULL;
    long status = 0;
    int rc = 0;
    snprintf(path, sizeof(path), "/api/agents/%s", s->agent);
    agent = ad_cli_call_any(a->c, "GET", path, NULL, &status, &rc);
    const char *st = ad_cli_str(agent, "status", "idle");
    bool live =
        strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0 || strcmp(st, "paused") == 0;
    json_t *body =
        live ? json_pack("{s:s}", "content", text) : json_pack("{s:s}", "initialPrompt", text);
    snprintf(path, sizeof(path), "/api/agents/%s/%s", s->agent, live ? "message" : "start");
    json_decref(agent);
    json_t *j = ad_cli_call_any(a->c, "POST", path, body, &status, &rc);
    json_decref(body);
    free(text);
    s->started = true;
    if (j == NULL || status >= 300) {
        pthread_mutex_lock(&a->lock);
        json_t *pending = s->prompt_id;
        s->prompt_id = NULL;
        pthread_mutex_unlock(&a->lock);
        if (pending != NULL) {
            fail_daemon(a, pending, j, status);
            json_decref(pending);
        }
    }
    json_decref(j);
}

static void session_cancel(acp_t *a, json_t *params)
{
    session_t *s = session_of(a, params);
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&a->lock);
    s->cancelled = s->prompt_id != NULL;
    pthread_mutex_unlock(&a->lock);
    char path[300];
    long status = 0;
    int rc = 0;
    snprintf(path, sizeof(path), "/api/agents/%s/stop", s->agent);
    json_t *none = json_object();
    json_decref(ad_cli_call_any(a->c, "POST", path, none, &status, &rc));
    json_decref(none);
}

/* The editor's answer to one of our permission requests. */
static void permission_answered(acp_t *a, json_t *msg)
{
    long id = (long)json_integer_value(json_object_get(msg, "id"));
    char approval[128] = "";
    pthread_mutex_lock(&a->lock);
    size_t slot = (size_t)id % ACP_ASKS_MAX;
    if (id > 0 && a->asks[slot].id == id) {
        snprintf(approval, sizeof(approval), "%s", a->asks[slot].approval);
        a->asks[slot].id = 0;
    }
    pthread_mutex_unlock(&a->lock);
    json_t *outcome = json_object_get(json_object_get(msg, "result"), "outcome");
    const char *picked = strcmp(ad_cli_str(outcome, "outcome", ""), "selected") == 0
                             ? ad_cli_str(outcome, "optionId", "deny")
                             : "deny"; /* cancelled, or an error: no */
    const char *decision = strcmp(picked, "allow") == 0          ? "allow"
                           : strcmp(picked, "allow_always") == 0 ? "allow_always"
                                                                 : "deny";
    if (approval[0] == '\0') {
        return;
    }
    char path[300];
    long status = 0;
    int rc = 0;
    snprintf(path, sizeof(path), "/api/approvals/%s", approval);
    json_t *body = json_pack("{s:s}", "decision", decision);
    json_decref(ad_cli_call_any(a->c, "POST", path, body, &status, &rc));
    json_decref(body);
}

static void dispatch(acp_t *a, json_t *msg)
{
    const char *method = ad_cli_str(msg, "method", NULL);
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    if (method == NULL) {
        if (id != NULL) {
            permission_answered(a, msg);
        }
        return;
    }
    if (strcmp(method, "session/cancel") == 0) {
        session_cancel(a, params);
    } else if (id == NULL) {
        return; /* another notification: nothing to do */
    } else if (strcmp(method, "initialize") == 0) {
        answer(a, id,
               json_pack("{s:i, s:{s:b, s:{s:b, s:b, s:b}}, s:{s:s, s:s}, s:[]}", "protocolVersion",
                         ACP_PROTOCOL, "agentCapabilities", "loadSession", 1, "promptCapabilities",
                         "image", 0, "audio", 0, "embeddedContext", 0, "agentInfo", "name",
                         "agentd", "version", AD_VERSION, "authMethods"));
    } else if (strcmp(method, "session/new") == 0) {
        session_new(a, id, params);
    } else if (strcmp(method, "session/load") == 0) {
        session_load(a, id, params);
    } else if (strcmp(method, "session/list") == 0) {
        session_list(a, id);
    } else if (strcmp(method, "session/prompt") == 0) {
        session_prompt(a, id, params);
    } else if (strcmp(method, "authenticate") == 0) {
        answer(a, id, json_object());
    } else {
        fail(a, id, RPC_NOT_FOUND, "method not found");
    }
}

static void on_line(json_t *msg, void *ud)
{
    dispatch(ud, msg);
}

static void put_line(json_t *msg, void *ud)
{
    put(ud, msg);
}

int ad_cli_acp(ad_cli_t *c, int argc, char **argv)
{
    acp_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return ad_cli_fail(c, "out of memory");
    }
    a->c = c;
    ad_cli_flag_t flags[] = {{"--executor", true, &a->executor, NULL},
                             {"--acp-agent", true, &a->acp_agent, NULL},
                             {"--mode", true, &a->mode, NULL},
                             {"--model", true, &a->model, NULL}};
    c->allow_rest = true;
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        free(a);
        return rc;
    }
    if (c->rest < argc) {
        a->command = json_array();
        for (int i = c->rest; i < argc; i++) {
            json_array_append_new(a->command, json_string(argv[i]));
        }
        if (a->executor == NULL) {
            a->executor = "command";
        }
    }
    json_t *up = ad_cli_call(c, "GET", "/api/health", NULL, &rc); /* the daemon is there */
    json_decref(up);
    if (up == NULL) {
        json_decref(a->command);
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    ad_cli_rpc_lines(ACP_LINE_MAX, on_line, put_line, a);
    /* the editor went away: the agents go on; the followers end with us */
    fflush(stdout);
    _exit(0);
}
