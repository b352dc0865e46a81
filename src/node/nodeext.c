/* SPDX-License-Identifier: MIT */
/*
 * The CLIs' own sessions kept on a node (issue #76, docs/sessions.md
 * "Sessions on nodes"): the plane asks {t: ext_sessions, id, op: "list" |
 * "read" | "place", …} and waits for {t: ext_sessions_done, id, sessions?,
 * truncated?, session?, messages?, dropped?, placed? | error, notFound?}.
 * The node reads its own user's HOME with src/sessfile (the same bounded,
 * untrusted reading as the plane's own), on the thread pool, one scan at a
 * time (a list asked meanwhile gets that scan's answer) and at most
 * EXT_JOBS_MAX reads or places at once; every answer stays under
 * EXT_ANSWER_MAX, well within the plane's WebSocket message bound. "place"
 * copies a session file of Claude Code, Codex or Gemini CLI to where the
 * CLI of an agent's runs looks for it here (nodesess.c's rule: the node
 * finds the folder itself, never told a path), so an adopted session
 * resumes on this node. The
 * plane's side takes an answer only from the node it asked; what it says
 * is the caller's to check (src/sessions). Loop thread.
 */
#include "node/node_int.h"
#include "proc/claudesess.h"
#include "sessfile/sessfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXT_TIMEOUT_MS 30000
#define EXT_ANSWER_MAX (640u * 1024u)
#define EXT_FIELD_MAX (32u * 1024u) /* a message's text, in a node's read */
#define EXT_JOBS_MAX 4
#define EXT_WAIT_MAX 16

/* ---- the control plane's side ------------------------------------------------------ */

typedef struct {
    ad_node_ask_t ask;
    ad_plane_ext_cb cb;
    void *ud;
} ad_ext_rpc_t;

int ad_plane_ext_sessions(ad_plane_t *p, const char *node_id, json_t *req, uint64_t wait_ms,
                          ad_plane_ext_cb cb, void *ud)
{
    ad_node_live_t *n = ad_plane_node_live(p, node_id);
    if (n == NULL || n->link == NULL || n->unreachable) {
        json_decref(req);
        cb(AD_ESTATE, NULL, "the node is not connected now", ud);
        return 0;
    }
    ad_ext_rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->cb = cb;
    q->ud = ud;
    ad_node_ask_add(p, &p->ext_rpcs, &q->ask, n->id, wait_ms != 0 ? wait_ms : EXT_TIMEOUT_MS);
    json_object_set_new(req, "t", json_string("ext_sessions"));
    json_object_set_new(req, "id", json_integer((json_int_t)q->ask.id));
    ad_plane_send_text(n, req); /* takes req */
    return 0;
}

void ad_plane_ext_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg)
{
    ad_ext_rpc_t *q =
        (ad_ext_rpc_t *)ad_node_ask_take(&p->ext_rpcs, json_object_get(msg, "id"), n->id);
    if (q == NULL) {
        ad_log(AD_LOG_WARN, "node", "sessions answer ignored node=%s (not one asked of it)",
               n->name);
        return;
    }
    const char *err = json_string_value(json_object_get(msg, "error"));
    if (err != NULL) {
        char why[300];
        snprintf(why, sizeof(why), "node %s: %.200s", n->name, err);
        q->cb(json_is_true(json_object_get(msg, "notFound")) ? AD_ENOENT : AD_EIO, NULL, why,
              q->ud);
    } else {
        q->cb(0, msg, NULL, q->ud);
    }
    free(q);
}

void ad_plane_ext_expire(ad_plane_t *p, bool all)
{
    bool gone;
    ad_ext_rpc_t *q;
    while ((q = (ad_ext_rpc_t *)ad_node_ask_expired(p, &p->ext_rpcs, all, &gone)) != NULL) {
        q->cb(gone ? AD_ECLOSED : AD_ETIMEDOUT, NULL,
              gone ? "the node went away before it answered" : "the node did not answer in time",
              q->ud);
        free(q);
    }
}

/* ---- the node's side --------------------------------------------------------------- */

struct wext {
    worker_t *w;
    char home[4096];
    ad_sess_info_t *cache; /* the last scan's (the next one reuses what did not change) */
    size_t n;
    bool scanning;
    json_int_t waiting[EXT_WAIT_MAX]; /* the list requests the scan under way answers */
    size_t nwait;
    int jobs; /* reads and places on the pool */
    uv_work_t work;
    ad_sess_info_t *next;
    size_t n_next;
};

typedef struct {
    uv_work_t work;
    worker_t *w;
    json_int_t id;
    char op;
    char tool[16], sid[AD_SESS_ID_MAX];
    char dir[4200]; /* place, Claude Code: the agent's projects folder here */
    size_t trusted;
    ad_worker_cli_t cli; /* place, Codex and Gemini CLI: their folder for its runs */
    json_t *out;         /* the answer, made on the pool */
} ext_job_t;

static struct wext *ext_of(worker_t *w)
{
    if (w->ext == NULL) {
        w->ext = ad_xcalloc(1, sizeof(*w->ext));
        w->ext->w = w;
        const char *home = getenv("HOME");
        snprintf(w->ext->home, sizeof(w->ext->home), "%s", home != NULL ? home : "");
    }
    return w->ext;
}

void ad_worker_ext_free(worker_t *w)
{
    if (w->ext != NULL) {
        ad_sess_infos_free(w->ext->cache, w->ext->n);
        free(w->ext);
        w->ext = NULL;
    }
}

static void answer_err(worker_t *w, json_int_t id, const char *why, bool not_found)
{
    ad_worker_send(w, json_pack("{s:s, s:I, s:s, s:b}", "t", "ext_sessions_done", "id", id, "error",
                                why, "notFound", not_found));
}

static size_t dumped_len(const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    size_t n = t != NULL ? strlen(t) : 0;
    free(t);
    return n;
}

/* The scan's sessions, newest first, as many as fit EXT_ANSWER_MAX. */
static json_t *list_answer(const ad_sess_info_t *v, size_t n)
{
    json_t *arr = json_array();
    size_t used = 0;
    bool cut = false;
    for (size_t i = 0; i < n; i++) {
        json_t *s = ad_sess_info_json(&v[i]);
        size_t len = dumped_len(s) + 1;
        if (used + len > EXT_ANSWER_MAX) {
            json_decref(s);
            cut = true;
            break;
        }
        used += len;
        json_array_append_new(arr, s);
    }
    return json_pack("{s:o, s:b}", "sessions", arr, "truncated", cut);
}

static void scan_work(uv_work_t *req)
{
    struct wext *x = req->data;
    ad_sess_scan(x->home, x->cache, x->n, &x->next, &x->n_next);
}

static void scan_done(uv_work_t *req, int status)
{
    struct wext *x = req->data;
    worker_t *w = x->w;
    AD_UNUSED(status);
    x->scanning = false;
    ad_sess_infos_free(x->cache, x->n);
    x->cache = x->next;
    x->n = x->n_next;
    x->next = NULL;
    x->n_next = 0;
    json_t *ans = list_answer(x->cache, x->n);
    for (size_t i = 0; i < x->nwait; i++) {
        json_t *m = json_deep_copy(ans);
        json_object_set_new(m, "t", json_string("ext_sessions_done"));
        json_object_set_new(m, "id", json_integer(x->waiting[i]));
        ad_worker_send(w, m);
    }
    x->nwait = 0;
    json_decref(ans);
}

static void list(worker_t *w, json_int_t id)
{
    struct wext *x = ext_of(w);
    if (x->nwait >= EXT_WAIT_MAX) {
        answer_err(w, id, "too many session lists asked at once", false);
        return;
    }
    x->waiting[x->nwait++] = id;
    if (x->scanning) {
        return;
    }
    x->scanning = true;
    x->work.data = x;
    if (uv_queue_work(w->loop, &x->work, scan_work, scan_done) != 0) {
        x->scanning = false;
        x->nwait = 0;
        answer_err(w, id, "the scan could not start", false);
    }
}

/* A message's text fields cut to EXT_FIELD_MAX (on a UTF-8 boundary). */
static void cut_fields(json_t *msg)
{
    static const char *const keys[] = {"content", "toolInput", "toolOutput"};
    for (size_t k = 0; k < AD_ARRAY_LEN(keys); k++) {
        json_t *v = json_object_get(msg, keys[k]);
        if (json_is_string(v) && json_string_length(v) > EXT_FIELD_MAX) {
            size_t n = ad_utf8_valid_prefix(json_string_value(v), EXT_FIELD_MAX);
            json_object_set_new(msg, keys[k], json_stringn(json_string_value(v), n));
        }
    }
}

/* The read's newest messages that fit EXT_ANSWER_MAX (less the session's
 * own object); how many older ones were left out in "dropped". */
static void fit_read(json_t *out)
{
    json_t *msgs = json_object_get(out, "messages");
    size_t used = dumped_len(json_object_get(out, "session")) + 256, n = json_array_size(msgs);
    size_t keep_from = n;
    while (keep_from > 0) {
        json_t *m = json_array_get(msgs, keep_from - 1);
        cut_fields(m);
        size_t len = dumped_len(m) + 1;
        if (used + len > EXT_ANSWER_MAX) {
            break;
        }
        used += len;
        keep_from--;
    }
    json_t *kept = json_array();
    for (size_t i = keep_from; i < n; i++) {
        json_array_append(kept, json_array_get(msgs, i));
    }
    json_object_set_new(out, "messages", kept);
    json_object_set_new(out, "dropped", json_integer((json_int_t)keep_from));
}

/* The session's file s (read whole, len bytes) written where j's agent's
 * runs here look for it: Claude Code's in the worktree's projects folder;
 * Codex's in its sessions folder at the same date (none when that folder
 * is the user's own, where it is already); Gemini CLI's in the chats of
 * the worktree's project folder, made as the CLI makes them. */
static int put_file(const ext_job_t *j, const ad_sess_info_t *s, const char *buf, size_t len)
{
    const char *slash = strrchr(s->rel, '/');
    const char *base = slash != NULL ? slash + 1 : s->rel;
    char dir[8600], name[256];
    if (s->tool == AD_SESS_CLAUDE) {
        return ad_proc_claude_session_write(j->dir, j->trusted, j->sid, buf, len);
    }
    if (s->tool == AD_SESS_CODEX) {
        int n = snprintf(dir, sizeof(dir), "%s/sessions/%.*s", j->cli.dir,
                         slash != NULL ? (int)(slash - s->rel) : 0, s->rel);
        return n < 0 || (size_t)n >= sizeof(dir)
                   ? ENAMETOOLONG
                   : ad_proc_cli_file_write(dir, j->cli.trusted, base, buf, len);
    }
    int err = ad_proc_gemini_place(j->cli.dir, j->cli.trusted, j->cli.wt, name, sizeof(name));
    if (err == 0 &&
        (size_t)snprintf(dir, sizeof(dir), "%s/tmp/%s/chats", j->cli.dir, name) >= sizeof(dir)) {
        err = ENAMETOOLONG;
    }
    return err != 0 ? err : ad_proc_cli_file_write(dir, j->cli.trusted, base, buf, len);
}

/* Session sid of the job's CLI under home copied whole to where the
 * agent's runs here look for it: 0 or an errno. */
static int place_file(const char *home, const ext_job_t *j)
{
    ad_sess_info_t s = {0};
    ad_sess_tool_t tool;
    if (ad_sess_tool_parse(j->tool, &tool) != 0 || ad_sess_find(home, tool, j->sid, &s) != 0) {
        return ENOENT;
    }
    if (tool == AD_SESS_CODEX && j->cli.users) {
        ad_sess_info_clear(&s); /* its runs use the user's ~/.codex/sessions: it is there */
        return 0;
    }
    int err = 0;
    int fd = ad_sess_file_open(home, tool, s.rel);
    char *buf = NULL;
    size_t len = 0;
    if (fd < 0) {
        err = ENOENT;
    } else if (s.size > (int64_t)AD_PROC_CLAUDE_SESSION_MAX) {
        err = EFBIG;
    } else {
        buf = ad_xmalloc((size_t)s.size + 1);
        ssize_t got = pread(fd, buf, (size_t)s.size, 0);
        len = got > 0 ? (size_t)got : 0;
        err = got < 0 ? EIO : 0;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (err == 0) {
        err = put_file(j, &s, buf, len);
    }
    free(buf);
    ad_sess_info_clear(&s);
    return err;
}

static void job_work(uv_work_t *req)
{
    ext_job_t *j = req->data;
    const char *home = j->w->ext->home;
    if (j->op == 'r') {
        json_t *out = NULL;
        int rc = ad_sess_read(home, j->tool, j->sid, &out);
        if (rc != 0) {
            j->out = json_pack("{s:s, s:b}", "error", "no such session here", "notFound", 1);
        } else {
            fit_read(out);
            j->out = out;
        }
        return;
    }
    int err = place_file(home, j);
    j->out = err == 0 ? json_pack("{s:b}", "placed", 1)
                      : json_pack("{s:s, s:b}", "error",
                                  err == EFBIG ? "the session file is too large (at most 64 MiB)"
                                               : strerror(err),
                                  "notFound", err == ENOENT);
}

static void job_done(uv_work_t *req, int status)
{
    ext_job_t *j = req->data;
    AD_UNUSED(status);
    j->w->ext->jobs--;
    json_object_set_new(j->out, "t", json_string("ext_sessions_done"));
    json_object_set_new(j->out, "id", json_integer(j->id));
    if (j->op == 'p' && json_is_true(json_object_get(j->out, "placed"))) {
        ad_log(AD_LOG_INFO, "node", "adopted session placed tool=%s sid=%s dir=%s", j->tool, j->sid,
               strcmp(j->tool, "claude") == 0 ? j->dir : j->cli.dir);
    }
    ad_worker_send(j->w, j->out);
    free(j);
}

void ad_worker_ext_sessions(worker_t *w, json_t *msg)
{
    json_t *idv = json_object_get(msg, "id");
    const char *op = json_string_value(json_object_get(msg, "op"));
    const char *tool = json_string_value(json_object_get(msg, "tool"));
    const char *sid = json_string_value(json_object_get(msg, "sid"));
    if (!json_is_integer(idv)) {
        return;
    }
    json_int_t id = json_integer_value(idv);
    if (op != NULL && strcmp(op, "list") == 0) {
        list(w, id);
        return;
    }
    bool read = op != NULL && strcmp(op, "read") == 0;
    bool place = op != NULL && strcmp(op, "place") == 0;
    if ((!read && !place) || ad_sess_tool_check(tool, NULL) != 0 ||
        ad_sess_id_check(sid, NULL) != 0) {
        answer_err(w, id, "a request this node does not take", false);
        return;
    }
    struct wext *x = ext_of(w);
    if (x->jobs >= EXT_JOBS_MAX) {
        answer_err(w, id, "too many session reads at once: ask again", false);
        return;
    }
    ext_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->w = w;
    j->id = id;
    j->op = op[0];
    snprintf(j->tool, sizeof(j->tool), "%s", tool);
    snprintf(j->sid, sizeof(j->sid), "%s", sid);
    bool claude = strcmp(tool, "claude") == 0;
    if (place &&
        (claude ? ad_worker_claude_dir(w, msg, j->dir, sizeof(j->dir), &j->trusted)
                : ad_worker_cli_dir(w, msg, strcmp(tool, "codex") == 0 ? ".codex" : ".gemini",
                                    &j->cli)) != 0) {
        free(j);
        answer_err(w, id, "the agent's folder here is not allowed", false);
        return;
    }
    j->work.data = j;
    x->jobs++;
    if (uv_queue_work(w->loop, &j->work, job_work, job_done) != 0) {
        x->jobs--;
        free(j);
        answer_err(w, id, "the read could not start", false);
    }
}
