/* SPDX-License-Identifier: MIT */
/*
 * The tray helper's daemon side (agentd-tray, issue #37): it talks to the
 * daemon as the CLI does, on <data-dir>/agentd.sock with the owner's
 * rights, follows the event stream (only the few event types it needs,
 * so a busy fleet's output never reaches it), keeps the list of agents
 * that need the user (an approval or a question waits), and decides what
 * to tell the desktop: an approval request as a notification with Allow
 * and Deny that decide it through the same approval API, a finished turn
 * or a failed run with Open, none about an agent whose page the user has
 * in front of them (GET /api/agents/:id/presence). When the daemon goes
 * away the stream is opened again with backoff (with socket activation
 * the connection starts it). Everything of D-Bus is tray_dbus.c's; this
 * process is never the daemon, which links none of it.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <systemd/sd-event.h>

extern char **environ;

#define NOTES_MAX 64
#define NEEDS_MAX 20         /* agents listed in the menu */
#define EVENT_MAX (1u << 20) /* one event's data */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define REFRESH_US 100000 /* events within 100 ms share one refresh */
#define STREAM_TYPES                                                                               \
    "agent_status,agent_update,approval_requested,approval_decided,approval_updated,run_ended"

typedef enum { NOTE_APPROVAL, NOTE_OPEN } note_kind_t;

typedef struct {
    uint32_t nid;
    note_kind_t kind;
    char approval[AD_ID_MAX];
    char run[AD_ID_MAX];
    char agent[AD_ID_MAX];
} note_t;

struct ad_tray {
    ad_config_t *cfg;
    ad_cli_t cli;
    sd_event *ev;
    ad_tray_bus_t *bus;
    char agentd[PATH_MAX]; /* the agentd beside us: `agentd open` */
    int fd;                /* the event stream, or -1 */
    sd_event_source *io, *retry, *refresh;
    ad_cli_response_t resp;
    ad_cli_sse_t sse;
    bool sse_init;
    uint64_t backoff_ms;
    bool up;
    json_t *needs;   /* [{id, name, why, tool}] */
    json_t *running; /* [id] of running agents */
    json_t *names;   /* {id: name} */
    note_t notes[NOTES_MAX];
    size_t nnotes;
};

/* ---- what the bus side reads ---------------------------------------------------- */

json_t *ad_tray_needs(ad_tray_t *t)
{
    return t->needs;
}

bool ad_tray_up(ad_tray_t *t)
{
    return t->up;
}

/* ---- the daemon's answers ------------------------------------------------------- */

/* A request whatever its answer: the JSON body (new reference) and its
 * status, or NULL when the daemon could not be reached (said on stderr,
 * the session's log). */
static json_t *call(ad_tray_t *t, const char *method, const char *path, json_t *body, long *status)
{
    int rc = 0;
    *status = 0;
    json_t *j = ad_cli_call_any(&t->cli, method, path, body, status, &rc);
    return rc == 0 ? j : NULL;
}

static const char *str(json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : dflt;
}

/* Why a waiting agent waits, when it needs the user: "approval" or
 * "question" (the stored reason, or the code of its last change). */
static const char *need_of(json_t *a)
{
    if (json_is_string(json_object_get(a, "deletedAt")) ||
        strcmp(str(a, "status", ""), "waiting") != 0) {
        return NULL;
    }
    const char *why = str(json_object_get(a, "state"), "statusReason", "");
    const char *code = str(json_object_get(a, "statusReason"), "code", "");
    if (strcmp(why, "approval") == 0 || strcmp(code, "approval_requested") == 0) {
        return "approval";
    }
    return strcmp(why, "question") == 0 ? "question" : NULL;
}

/* GET /api/agents/<id><rest>: as call(). */
static json_t *agent_get(ad_tray_t *t, const char *id, const char *rest, long *status)
{
    char enc[200], path[300];
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s%s", enc, rest);
    return call(t, "GET", path, NULL, status);
}

/* The tool of agent id's first pending approval ("" when none). */
static void pending_tool(ad_tray_t *t, const char *id, char *out, size_t outsz)
{
    long status = 0;
    json_t *j = agent_get(t, id, "/approvals?pending=true", &status);
    json_t *first = json_array_get(json_object_get(j, "approvals"), 0);
    snprintf(out, outsz, "%s", status == 200 ? str(first, "toolName", "") : "");
    json_decref(j);
}

/* The agents again: which need the user, which run, their names. The
 * bus is told when what it shows changed. */
static void refresh_now(ad_tray_t *t)
{
    long status = 0;
    json_t *j = call(t, "GET", "/api/agents", NULL, &status);
    if (j == NULL || status != 200) {
        json_decref(j);
        return;
    }
    json_t *needs = json_array(), *running = json_array(), *names = json_object();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(j, "agents"), i, a)
    {
        const char *id = str(a, "id", NULL);
        if (id == NULL) {
            continue;
        }
        json_object_set_new(names, id, json_string(str(a, "name", id)));
        if (strcmp(str(a, "status", ""), "running") == 0) {
            json_array_append_new(running, json_string(id));
        }
        const char *why = need_of(a);
        if (why != NULL && json_array_size(needs) < NEEDS_MAX) {
            char tool[128] = "";
            if (strcmp(why, "approval") == 0) {
                pending_tool(t, id, tool, sizeof(tool));
            }
            json_array_append_new(needs, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name",
                                                   str(a, "name", id), "why", why, "tool", tool));
        }
    }
    json_decref(j);
    bool changed = !json_equal(needs, t->needs);
    json_decref(t->needs);
    json_decref(t->running);
    json_decref(t->names);
    t->needs = needs;
    t->running = running;
    t->names = names;
    if (changed) {
        ad_tray_bus_changed(t->bus);
    }
}

static int on_refresh(sd_event_source *s, uint64_t usec, void *ud)
{
    ad_tray_t *t = ud;
    AD_UNUSED(usec);
    sd_event_source_unref(s);
    t->refresh = NULL;
    refresh_now(t);
    return 0;
}

/* A refresh soon: a burst of events makes one. */
static void refresh_soon(ad_tray_t *t)
{
    if (t->refresh == NULL) {
        sd_event_add_time_relative(t->ev, &t->refresh, CLOCK_MONOTONIC, REFRESH_US, 0, on_refresh,
                                   t);
    }
}

/* ---- notifications ------------------------------------------------------------ */

static note_t *note_add(ad_tray_t *t, uint32_t nid)
{
    if (t->nnotes == NOTES_MAX) { /* the oldest goes: it was long on screen */
        memmove(&t->notes[0], &t->notes[1], sizeof(t->notes[0]) * (NOTES_MAX - 1));
        t->nnotes--;
    }
    note_t *n = &t->notes[t->nnotes++];
    memset(n, 0, sizeof(*n));
    n->nid = nid;
    return n;
}

static note_t *note_find(ad_tray_t *t, uint32_t nid)
{
    for (size_t i = 0; i < t->nnotes; i++) {
        if (t->notes[i].nid == nid) {
            return &t->notes[i];
        }
    }
    return NULL;
}

static void note_drop(ad_tray_t *t, note_t *n)
{
    size_t i = (size_t)(n - t->notes);
    memmove(&t->notes[i], &t->notes[i + 1], sizeof(t->notes[0]) * (t->nnotes - i - 1));
    t->nnotes--;
}

/* Closes the notifications of an approval (or of every approval of run)
 * decided or withdrawn elsewhere. */
static void close_approval_notes(ad_tray_t *t, const char *approval, const char *run)
{
    for (size_t i = t->nnotes; i-- > 0;) {
        note_t *n = &t->notes[i];
        if (n->kind == NOTE_APPROVAL && ((approval != NULL && strcmp(n->approval, approval) == 0) ||
                                         (run != NULL && strcmp(n->run, run) == 0))) {
            ad_tray_bus_close_note(t->bus, n->nid);
            note_drop(t, n);
        }
    }
}

/* Whether the user has agent id's page in front of them in a dashboard. */
static bool viewed(ad_tray_t *t, const char *id)
{
    long status = 0;
    json_t *j = agent_get(t, id, "/presence", &status);
    bool v = status == 200 && json_is_true(json_object_get(j, "viewed"));
    json_decref(j);
    return v;
}

static const char *name_of(ad_tray_t *t, const char *id)
{
    const char *n = str(t->names, id, NULL);
    if (n == NULL) {
        refresh_now(t); /* an agent made since the last list */
        n = str(t->names, id, id);
    }
    return n;
}

/* Text for a notification body: '&', '<' and '>' as entities (a server
 * may read the body as markup). */
static void body_text(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (; *s != '\0' && o + 6 < outsz; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
        if (e != NULL) {
            o += (size_t)snprintf(out + o, outsz - o, "%s", e);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void notify_approval(ad_tray_t *t, json_t *ap)
{
    const char *id = str(ap, "id", NULL), *agent = str(ap, "agentId", NULL);
    if (id == NULL || agent == NULL || viewed(t, agent)) {
        return;
    }
    char summary[300], input[AD_CLI_SUMMARY_MAX + 8], raw[1200], body[1600];
    const char *tool = str(ap, "toolName", "a tool");
    snprintf(summary, sizeof(summary), "%s asks to use %s", name_of(t, agent), tool);
    ad_cli_tool_summary(json_object_get(ap, "input"), input, sizeof(input));
    const char *desc = str(ap, "description", "");
    snprintf(raw, sizeof(raw), "%s %s%s%s", tool, input, desc[0] ? "\n" : "", desc);
    body_text(raw, body, sizeof(body));
    static const char *const actions[] = {"allow", "Allow", "deny", "Deny", "default", "Open"};
    uint32_t nid = ad_tray_bus_notify(t->bus, summary, body, actions, AD_ARRAY_LEN(actions), 2, 0);
    if (nid != 0) {
        note_t *n = note_add(t, nid);
        n->kind = NOTE_APPROVAL;
        snprintf(n->approval, sizeof(n->approval), "%s", id);
        snprintf(n->run, sizeof(n->run), "%s", str(ap, "runId", ""));
        snprintf(n->agent, sizeof(n->agent), "%s", agent);
    }
}

/* A finished turn or a failed run: what happened, and Open. */
static void notify_open(ad_tray_t *t, const char *agent, const char *what, const char *detail)
{
    if (viewed(t, agent)) {
        return;
    }
    char summary[300], body[800];
    snprintf(summary, sizeof(summary), "%s %s", name_of(t, agent), what);
    body_text(detail, body, sizeof(body));
    static const char *const actions[] = {"default", "Open", "open", "Open"};
    uint32_t nid = ad_tray_bus_notify(t->bus, summary, body, actions, AD_ARRAY_LEN(actions), 1, -1);
    if (nid != 0) {
        note_t *n = note_add(t, nid);
        n->kind = NOTE_OPEN;
        snprintf(n->agent, sizeof(n->agent), "%s", agent);
    }
}

/* ---- the event stream ----------------------------------------------------------- */

static void on_stream_event(ad_tray_t *t, json_t *env)
{
    const char *type = str(env, "type", "");
    json_t *p = json_object_get(env, "payload");
    if (strcmp(type, "approval_requested") == 0) {
        refresh_soon(t);
        notify_approval(t, json_object_get(p, "approval"));
    } else if (strcmp(type, "approval_decided") == 0) {
        close_approval_notes(t, str(json_object_get(p, "approval"), "id", ""), NULL);
        refresh_soon(t);
    } else if (strcmp(type, "approval_updated") == 0) {
        close_approval_notes(t, NULL, str(p, "runId", ""));
        refresh_soon(t);
    } else if (strcmp(type, "agent_status") == 0) {
        refresh_soon(t);
        json_t *why = json_object_get(p, "statusReason");
        const char *code = str(why, "code", "");
        const char *agent = str(p, "agentId", NULL);
        if (agent != NULL && strcmp(str(p, "status", ""), "waiting") == 0 &&
            strcmp(code, "turn_ended") == 0) {
            notify_open(t, agent, "finished its turn", str(why, "text", ""));
        } else if (agent != NULL && strcmp(code, "turn_failed") == 0) {
            notify_open(t, agent, "failed its turn", str(why, "text", ""));
        }
    } else if (strcmp(type, "run_ended") == 0) {
        refresh_soon(t);
        json_t *run = json_object_get(p, "run");
        const char *st = str(run, "status", "");
        const char *agent = str(run, "agentId", NULL);
        if (agent != NULL && (strcmp(st, "failed") == 0 || strcmp(st, "lost") == 0)) {
            char detail[300];
            snprintf(detail, sizeof(detail), "run %s ended %s", str(run, "id", ""), st);
            notify_open(t, agent, "run failed", detail);
        }
    } else if (strcmp(type, "agent_update") == 0) {
        refresh_soon(t);
    }
}

static bool on_sse_data(const char *data, size_t len, void *ud)
{
    json_t *env = json_loadb(data, len, 0, NULL);
    if (json_is_object(env)) {
        on_stream_event(ud, env);
    }
    json_decref(env);
    return true;
}

static bool on_body(const char *p, size_t n, void *ud)
{
    ad_tray_t *t = ud;
    return ad_cli_sse_feed(&t->sse, p, n);
}

static void stream_open(ad_tray_t *t);

static int on_retry(sd_event_source *s, uint64_t usec, void *ud)
{
    ad_tray_t *t = ud;
    AD_UNUSED(usec);
    sd_event_source_unref(s);
    t->retry = NULL;
    stream_open(t);
    return 0;
}

static void set_up(ad_tray_t *t, bool up)
{
    if (t->up != up) {
        t->up = up;
        ad_tray_bus_changed(t->bus);
    }
}

/* The stream is gone (the daemon stopped or restarts): try again later. */
static void stream_lost(ad_tray_t *t)
{
    t->io = sd_event_source_disable_unref(t->io);
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    set_up(t, false);
    if (t->retry == NULL) {
        sd_event_add_time_relative(t->ev, &t->retry, CLOCK_MONOTONIC, t->backoff_ms * 1000, 0,
                                   on_retry, t);
        t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
    }
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
    ad_tray_t *t = ud;
    AD_UNUSED(s);
    AD_UNUSED(revents);
    char buf[65536], err[200];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        if (n <= 0 || ad_cli_response_feed(&t->resp, buf, (size_t)n, err, sizeof(err)) != 0 ||
            (t->resp.status != 0 && t->resp.status != 200)) {
            stream_lost(t);
            return 0;
        }
        if (t->resp.status == 200 && !t->up) {
            t->backoff_ms = BACKOFF_MIN_MS;
            set_up(t, true);
            refresh_now(t); /* what changed while the stream was away */
        }
    }
}

static void stream_open(ad_tray_t *t)
{
    char err[300];
    int fd = -1;
    if (ad_cli_http_open(ad_cli_sock(&t->cli), t->cfg->token,
                         "/api/events?topics=agent:*&types=" STREAM_TYPES, "text/event-stream", &fd,
                         err, sizeof(err)) != 0) {
        stream_lost(t);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    t->fd = fd;
    ad_cli_response_init(&t->resp, on_body, t);
    if (t->sse_init) {
        ad_cli_sse_cleanup(&t->sse);
    }
    ad_cli_sse_init(&t->sse, EVENT_MAX, on_sse_data, t);
    t->sse_init = true;
    if (sd_event_add_io(t->ev, &t->io, fd, EPOLLIN, on_readable, t) < 0) {
        stream_lost(t);
    }
}

/* ---- what the user asks for ------------------------------------------------------ */

void ad_tray_open(ad_tray_t *t, const char *agent_id)
{
    char *argv[] = {t->agentd, "--data-dir", t->cfg->data_dir, "open", (char *)agent_id, NULL};
    posix_spawnattr_t attr;
    sigset_t dflt;
    posix_spawnattr_init(&attr);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGCHLD);
    posix_spawnattr_setsigdefault(&attr, &dflt); /* `agentd open` waits for its opener */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    posix_spawn(&pid, t->agentd, NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
}

void ad_tray_pause_all(ad_tray_t *t)
{
    refresh_now(t);
    size_t i;
    json_t *id;
    json_t *body = json_object(); /* call() borrows it */
    json_array_foreach(t->running, i, id)
    {
        char enc[200], path[300];
        long status = 0;
        ad_cli_url_encode(json_string_value(id), enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/agents/%s/pause", enc);
        json_decref(call(t, "POST", path, body, &status));
    }
    json_decref(body);
    refresh_soon(t);
}

void ad_tray_quit(ad_tray_t *t)
{
    sd_event_exit(t->ev, 0);
}

void ad_tray_note_action(ad_tray_t *t, uint32_t nid, const char *action)
{
    note_t *n = note_find(t, nid);
    if (n == NULL) {
        return; /* not ours, or already handled */
    }
    if (n->kind == NOTE_APPROVAL && (strcmp(action, "allow") == 0 || strcmp(action, "deny") == 0)) {
        char enc[200], path[300];
        long status = 0;
        ad_cli_url_encode(n->approval, enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/approvals/%s", enc);
        json_t *body = json_pack("{s:s}", "decision", action);
        json_decref(call(t, "POST", path, body, &status));
        json_decref(body);
        ad_tray_bus_close_note(t->bus, nid);
        note_drop(t, n);
        refresh_soon(t);
    } else if (strcmp(action, "open") == 0 || strcmp(action, "default") == 0) {
        ad_tray_open(t, n->agent);
    }
}

void ad_tray_note_closed(ad_tray_t *t, uint32_t nid)
{
    note_t *n = note_find(t, nid);
    if (n != NULL) {
        note_drop(t, n);
    }
}

/* ---- the process ---------------------------------------------------------------- */

int ad_tray_main(ad_config_t *cfg, int argc, char **argv)
{
    AD_UNUSED(argv);
    static char prog[] = "agentd tray";
    if (argc > 0) {
        fprintf(stderr, "%s: takes no arguments (see 'agentd tray --help')\n", prog);
        return 2;
    }
    ad_tray_t *t = ad_xcalloc(1, sizeof(*t));
    t->cfg = cfg;
    t->cli = (ad_cli_t){.cfg = cfg, .prog = prog};
    t->fd = -1;
    t->backoff_ms = BACKOFF_MIN_MS;
    t->needs = json_array();
    t->running = json_array();
    t->names = json_object();
    char dir[PATH_MAX], err[300];
    if (ad_exe_dir(dir, sizeof(dir)) == 0) {
        snprintf(t->agentd, sizeof(t->agentd), "%.4000s/agentd", dir);
    }
    int rc = 1;
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGCHLD, SIG_IGN); /* `agentd open` children reap themselves */
    signal(SIGPIPE, SIG_IGN);
    if (sd_event_default(&t->ev) < 0 || sd_event_add_signal(t->ev, NULL, SIGTERM, NULL, NULL) < 0 ||
        sd_event_add_signal(t->ev, NULL, SIGINT, NULL, NULL) < 0) {
        fprintf(stderr, "%s: cannot make an event loop\n", prog);
        goto out;
    }
    if (ad_tray_bus_open(t, t->ev, &t->bus, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        goto out;
    }
    stream_open(t);
    rc = sd_event_loop(t->ev) < 0 ? 1 : 0;
out:
    t->io = sd_event_source_disable_unref(t->io);
    t->retry = sd_event_source_disable_unref(t->retry);
    t->refresh = sd_event_source_disable_unref(t->refresh);
    if (t->fd >= 0) {
        close(t->fd);
    }
    if (t->sse_init) {
        ad_cli_sse_cleanup(&t->sse);
    }
    ad_tray_bus_free(t->bus);
    sd_event_unref(t->ev);
    json_decref(t->needs);
    json_decref(t->running);
    json_decref(t->names);
    free(t);
    return rc;
}
