/* SPDX-License-Identifier: MIT */
/*
 * Worktrees on nodes, the control plane's side (docs/nodes.md, "Worktrees
 * on nodes"): a node asks for the repository of one of its runs' worktrees
 * (git_get: a bundle of the worktree's HEAD, less what the node says it
 * has) and pushes its work back (git_put: a bundle, fetched into
 * refs/agentd/nodes/<worktree>/<node>; the worktree's branch fast-forwarded to it
 * when that only moves it on, so review and merge work here after the node
 * is gone). Both through src/git on the pool; files in <data-dir>/nodes/.
 * A node names only its own runs (plane.c checks), never a path or a ref.
 */
#include "node/node_int.h"

#include "git/git.h"
#include "tables/gitrows.h"
#include "tables/workspaces.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUT_MAX (1ull << 30)

/* The repository of the plane's worktree wt_id (its workspace's row) into
 * buf: the trust root a bundle of it is checked against (issue #73); "-"
 * (which the check refuses) when the rows do not say. */
static const char *repo_of(ad_plane_t *p, const char *wt_id, char *buf, size_t bufsz)
{
    json_t *wt = NULL, *ws = NULL;
    const char *ws_id = NULL, *path = NULL;
    if (p->store != NULL && wt_id != NULL && ad_store_worktree_get(p->store, wt_id, &wt) == 0) {
        ws_id = json_string_value(json_object_get(wt, "workspaceId"));
    }
    if (ws_id != NULL && ad_store_workspace_get(p->store, ws_id, &ws) == 0) {
        path = json_string_value(json_object_get(ws, "path"));
    }
    snprintf(buf, bufsz, "%s", path != NULL ? path : "-");
    json_decref(wt);
    json_decref(ws);
    return buf;
}

static int tmp_path(const ad_plane_t *p, const char *run, const char *what, char *out, size_t outsz)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/nodes", p->cfg->data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return AD_EIO;
    }
    int n = snprintf(out, outsz, "%s/%s-%s.bundle", dir, run, what);
    return n > 0 && (size_t)n < outsz ? 0 : AD_ETOOBIG;
}

/* ---- git_get ------------------------------------------------------------------ */

typedef struct {
    ad_plane_t *p;
    char node[AD_ID_MAX], run[AD_ID_MAX], x[AD_ID_MAX];
    char file[4300];
    json_t *ready; /* git_ready, sent after the last chunk */
    uv_work_t work;
    char *setup_src;     /* owned: the setup files' folder, or NULL */
    json_t *setup_files; /* owned: their paths; read into ready.setup on the pool */
    bool send_bundle;
} get_t;

#define SETUP_MAX (512u * 1024u) /* the setup files a git_ready carries, in all */

static ad_node_live_t *live(get_t *g)
{
    ad_node_live_t *n = ad_plane_node_live(g->p, g->node);
    return n != NULL && n->link != NULL ? n : NULL;
}

static int get_send(void *ud, json_t *msg)
{
    ad_node_live_t *n = live(ud);
    if (n == NULL) {
        json_decref(msg);
        return AD_ECLOSED;
    }
    return ad_plane_send_text(n, msg);
}

static size_t get_queued(void *ud)
{
    ad_node_live_t *n = live(ud);
    return n != NULL && n->link != NULL ? ad_ws_queued_bytes(n->link->ws) : 0;
}

static void get_end(get_t *g, int rc, const char *why)
{
    ad_node_live_t *n = live(g);
    if (n != NULL && rc == 0) {
        ad_plane_send_text(n, json_incref(g->ready));
    } else if (n != NULL) {
        ad_plane_send_text(n, json_pack("{s:s, s:s, s:s}", "t", "git_error", "x", g->x, "error",
                                        why != NULL ? why : ad_strerror(rc)));
    }
    unlink(g->file);
    json_decref(g->ready);
    json_decref(g->setup_files);
    free(g->setup_src);
    free(g);
}

static void get_sent(void *ud, int rc)
{
    get_end(ud, rc, "the bundle could not be sent");
}

static const ad_xfer_io_t get_io = {get_send, get_queued, get_sent};

/* On the pool: the workspace's setup files, as a local worktree's setup
 * copies them (relative paths below the main worktree, no link followed),
 * into ready.setup [{path, data (base64), mode}]; what is not there goes to
 * ready.setupMissing, what passes the bound to ready.setupTooLarge. */
static void read_setup(uv_work_t *req)
{
    get_t *g = req->data;
    json_t *files = json_array(), *missing = json_array(), *big = json_array();
    size_t total = 0;
    size_t i;
    json_t *v;
    json_array_foreach(g->setup_files, i, v)
    {
        const char *rel = json_string_value(v);
        if (rel == NULL || rel[0] == '/' || strstr(rel, "..") != NULL || i >= 200) {
            continue;
        }
        int fd = ad_open_beneath(g->setup_src, rel, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            json_array_append_new(missing, json_string(rel));
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        if (total + (size_t)st.st_size > SETUP_MAX) {
            json_array_append_new(big, json_string(rel));
            close(fd);
            continue;
        }
        size_t n = (size_t)st.st_size;
        char *buf = ad_xmalloc(n + 1);
        size_t got = 0;
        for (ssize_t k = 1; got < n && k > 0; got += k > 0 ? (size_t)k : 0) {
            k = read(fd, buf + got, n - got);
        }
        bool ok = got == n;
        close(fd);
        if (ok) {
            size_t enc_max = (n + 2) / 3 * 4 + 1;
            char *enc = ad_xmalloc(enc_max);
            ad_base64_encode((const uint8_t *)buf, n, enc, enc_max);
            json_array_append_new(files, json_pack("{s:s, s:s, s:i}", "path", rel, "data", enc,
                                                   "mode", (int)(st.st_mode & 0777)));
            free(enc);
            total += n;
        } else {
            json_array_append_new(missing, json_string(rel));
        }
        free(buf);
    }
    json_object_set_new(g->ready, "setup", files);
    json_object_set_new(g->ready, "setupMissing", missing);
    json_object_set_new(g->ready, "setupTooLarge", big);
}

static void send_bundle(get_t *g)
{
    if (!g->send_bundle) {
        get_end(g, 0, NULL);
        return;
    }
    json_t *fields = json_pack("{s:s, s:s}", "t", "git_chunk", "x", g->x);
    if (ad_xfer_send(g->p->loop, g->file, fields, &get_io, g) == NULL) {
        get_end(g, AD_EIO, "the bundle could not be read");
    }
}

static void setup_read(uv_work_t *req, int status)
{
    AD_UNUSED(status);
    send_bundle(req->data);
}

static void on_bundled(const ad_git_result_t *res, void *ud)
{
    get_t *g = ud;
    if (res->rc != 0) {
        get_end(g, res->rc, res->err.msg);
        return;
    }
    g->ready =
        json_pack("{s:s, s:s, s:O, s:O, s:O}", "t", "git_ready", "x", g->x, "tip",
                  json_object_get(res->data, "tip"), "branch", json_object_get(res->data, "branch"),
                  "empty", json_object_get(res->data, "empty"));
    g->send_bundle = !json_is_true(json_object_get(res->data, "empty"));
    ad_relay_t *r = ad_relay_find(g->p, g->run);
    if (r != NULL && r->setup_cmd != NULL) {
        json_object_set_new(g->ready, "setupCommand", json_string(r->setup_cmd));
    }
    g->work.data = g;
    if (g->setup_files != NULL &&
        uv_queue_work(g->p->loop, &g->work, read_setup, setup_read) == 0) {
        return;
    }
    send_bundle(g);
}

void ad_plane_git_get(ad_plane_t *p, ad_node_live_t *n, ad_relay_t *r, json_t *msg)
{
    const char *x = json_string_value(json_object_get(msg, "x"));
    get_t *g = ad_xcalloc(1, sizeof(*g));
    g->p = p;
    snprintf(g->node, sizeof(g->node), "%s", n->id);
    snprintf(g->run, sizeof(g->run), "%s", r->run_id);
    snprintf(g->x, sizeof(g->x), "%s", x != NULL && strlen(x) < AD_ID_MAX ? x : r->run_id);
    if (r->wt_path == NULL || tmp_path(p, r->run_id, "get", g->file, sizeof(g->file)) != 0) {
        get_end(g, AD_ENOENT, "the run has no worktree here");
        return;
    }
    if (r->setup_files != NULL && r->setup_src != NULL) {
        g->setup_src = ad_xstrdup(r->setup_src);
        g->setup_files = json_incref(r->setup_files);
    }
    json_t *have = json_object_get(msg, "have");
    char repo[4096];
    ad_git_args_t a = {.path = r->wt_path,
                       .branch = "HEAD",
                       .file = g->file,
                       .files = json_is_array(have) && json_array_size(have) <= 16 ? have : NULL,
                       .trust_repo = repo_of(p, r->wt_id, repo, sizeof(repo))};
    if (ad_git_queue(p->loop, AD_GIT_OP_BUNDLE, &a, on_bundled, g) != 0) {
        get_end(g, AD_EINTERNAL, "git is not available here");
    }
}

/* ---- git_put ------------------------------------------------------------------- */

typedef struct {
    ad_plane_t *p;
    char node[AD_ID_MAX], x[AD_ID_MAX], wt[AD_ID_MAX];
    char file[4300];
} put_t;

static void put_answer(put_t *c, json_t *msg)
{
    ad_node_live_t *n = ad_plane_node_live(c->p, c->node);
    if (n != NULL) {
        ad_plane_send_text(n, msg);
    } else {
        json_decref(msg);
    }
    unlink(c->file);
    free(c);
}

static void on_fetched(const ad_git_result_t *res, void *ud)
{
    put_t *c = ud;
    if (res->rc != 0) {
        ad_log(AD_LOG_WARN, "node", "a node's work could not be fetched worktree=%s why=\"%s\"",
               c->wt, res->err.msg);
        put_answer(
            c, json_pack("{s:s, s:s, s:s}", "t", "git_error", "x", c->x, "error", res->err.msg));
        return;
    }
    ad_log(AD_LOG_INFO, "node", "a node's work fetched worktree=%s tip=%s fast_forwarded=%d", c->wt,
           json_string_value(json_object_get(res->data, "tip")),
           json_is_true(json_object_get(res->data, "fastForwarded")));
    put_answer(c, json_pack("{s:s, s:s, s:O, s:O}", "t", "git_put_done", "x", c->x, "tip",
                            json_object_get(res->data, "tip"), "fastForwarded",
                            json_object_get(res->data, "fastForwarded")));
}

static void on_put_whole(void *ud, int rc)
{
    ad_relay_t *r = ud;
    ad_xfer_in_t *in = r->put;
    put_t *c = ad_xcalloc(1, sizeof(*c));
    c->p = r->p;
    snprintf(c->node, sizeof(c->node), "%s", r->node_id);
    snprintf(c->x, sizeof(c->x), "%s", r->run_id);
    snprintf(c->wt, sizeof(c->wt), "%s", r->wt_id);
    snprintf(c->file, sizeof(c->file), "%s", in->path);
    r->put = NULL;
    free(in);
    char ref[128];
    /* per worktree and node: two nodes working on one worktree never overwrite
     * each other's work */
    snprintf(ref, sizeof(ref), "refs/agentd/nodes/%s/%s", r->wt_id, r->node_id);
    char repo[4096];
    ad_git_args_t a = {.path = r->wt_path,
                       .file = c->file,
                       .branch = "HEAD",
                       .name = ref,
                       .base = r->wt_path,
                       .trust_repo = repo_of(r->p, r->wt_id, repo, sizeof(repo))};
    if (rc != 0 || r->wt_path == NULL ||
        ad_git_queue(r->p->loop, AD_GIT_OP_BUNDLE_FETCH, &a, on_fetched, c) != 0) {
        put_answer(c, json_pack("{s:s, s:s, s:s}", "t", "git_error", "x", c->x, "error",
                                rc != 0 ? "the bundle did not arrive whole" : "no worktree"));
    }
}

void ad_plane_git_put(ad_plane_t *p, ad_node_live_t *n, ad_relay_t *r, json_t *msg)
{
    AD_UNUSED(n);
    if (json_integer_value(json_object_get(msg, "seq")) == 0 && r->put != NULL) {
        ad_xfer_in_abandon(r->put); /* a push started over (the link came back) */
        r->put = NULL;
    }
    json_int_t seq = json_integer_value(json_object_get(msg, "seq"));
    if (seq == 0 && r->put == NULL && r->wt_path != NULL) {
        char file[4300];
        r->put = ad_xcalloc(1, sizeof(*r->put));
        if (tmp_path(p, r->run_id, "put", file, sizeof(file)) != 0 ||
            ad_xfer_in_open(r->put, p->loop, file, PUT_MAX) != 0) {
            free(r->put);
            r->put = NULL;
            return;
        }
        r->put->done = on_put_whole;
        r->put->ud = r;
    }
    if (r->put != NULL) {
        ad_xfer_in_chunk(r->put, msg);
    } else if (seq == 0 || json_is_true(json_object_get(msg, "last"))) {
        /* nowhere to put it: said, so the node lets the run's end go */
        ad_node_live_t *live_n = ad_plane_node_live(p, r->node_id);
        if (live_n != NULL) {
            ad_plane_send_text(live_n,
                               json_pack("{s:s, s:s, s:s}", "t", "git_error", "x", r->run_id,
                                         "error", "the control plane cannot take this run's work"));
        }
    }
}

void ad_plane_git_put_free(ad_relay_t *r)
{
    ad_xfer_in_abandon(r->put);
    r->put = NULL;
}

/* ---- the setup command a node ran ------------------------------------------------------ */

typedef struct {
    ad_plane_t *p;
    char wt[AD_ID_MAX];
} setup_saved_t;

/* Recorded: worktree_updated {row, change: "setup"} on the worktree, its
 * workspace and org, as a local setup's (src/wtree/worktree.c). */
static void setup_saved(int rc, json_t *result, void *ud)
{
    setup_saved_t *c = ud;
    json_t *row = json_object_get(result, "worktree");
    if (rc != 0 || !json_is_object(row)) {
        ad_log(AD_LOG_WARN, "node", "setup outcome not saved worktree=%s error=%s", c->wt,
               ad_errname(rc));
    } else {
        json_t *ev = json_deep_copy(row);
        json_object_set_new(ev, "change", json_string("setup"));
        char t[3][AD_ID_MAX + 16];
        snprintf(t[0], sizeof(t[0]), "worktree:%s", c->wt);
        snprintf(t[1], sizeof(t[1]), "org:%s",
                 json_string_value(json_object_get(row, "orgId")) ?: "");
        snprintf(t[2], sizeof(t[2]), "workspace:%s",
                 json_string_value(json_object_get(row, "workspaceId")) ?: "");
        const char *topics[3] = {t[0], t[1], t[2]};
        ad_bus_publish(c->p->bus, "worktree_updated", topics, 3, ev);
        json_decref(ev);
    }
    json_decref(result);
    free(c);
}

void ad_plane_git_setup(ad_plane_t *p, ad_relay_t *r, json_t *msg)
{
    if (r->setup_cmd == NULL || r->wt_id[0] == '\0' || p->store == NULL) {
        return; /* not asked of it: nothing to record */
    }
    /* what a local setup records (src/wtree/worktree.c), the command the
     * plane's own; of the node's words only these fields */
    json_t *in = json_object_get(msg, "setup");
    json_t *code = json_object_get(in, "exitCode"), *sig = json_object_get(in, "signal");
    /* its output held to a local setup's bound, whatever the node sent */
    const char *text = json_string_value(json_object_get(in, "output"));
    size_t tlen = text != NULL ? json_string_length(json_object_get(in, "output")) : 0;
    bool cut = tlen > AD_GIT_SETUP_OUTPUT_MAX;
    if (cut) {
        tlen = ad_utf8_valid_prefix(text, AD_GIT_SETUP_OUTPUT_MAX);
    }
    json_t *setup = json_pack("{s:s, s:o, s:o, s:b, s:s#, s:b}", "command", r->setup_cmd,
                              "exitCode", json_is_integer(code) ? json_incref(code) : json_null(),
                              "signal", json_is_integer(sig) ? json_incref(sig) : json_null(),
                              "timedOut", json_is_true(json_object_get(in, "timedOut")), "output",
                              text != NULL ? text : "", tlen, "outputTruncated",
                              cut || json_is_true(json_object_get(in, "outputTruncated")));
    const char *err = json_string_value(json_object_get(msg, "error"));
    bool ok = in != NULL && json_is_integer(code) && json_integer_value(code) == 0;
    json_object_set_new(setup, "state", json_string(ok ? "succeeded" : "failed"));
    if (in == NULL) {
        json_object_set_new(setup, "error",
                            json_string(err != NULL ? err : "the node could not run it"));
    }
    json_object_set_new(setup, "node", json_string(r->node_id));
    ad_store_worktree_setup_t o = {.now = ad_wall_ms(), .setup = setup}; /* taken */
    snprintf(o.id, sizeof(o.id), "%s", r->wt_id);
    setup_saved_t *c = ad_xcalloc(1, sizeof(*c));
    c->p = p;
    snprintf(c->wt, sizeof(c->wt), "%s", r->wt_id);
    ad_store_worktree_setup_save(p->store, &o, setup_saved, c);
    free(r->setup_cmd); /* once per run */
    r->setup_cmd = NULL;
}

/* ---- git on a node's worktree while its run lives there -------------------------------- */

#define RPC_TIMEOUT_MS 30000

static const char *op_name(ad_git_op_t op)
{
    return op == AD_GIT_OP_STATUS    ? "status"
           : op == AD_GIT_OP_DIFF    ? "diff"
           : op == AD_GIT_OP_COMMIT  ? "commit"
           : op == AD_GIT_OP_REVIEW  ? "review"
           : op == AD_GIT_OP_COMMITS ? "commits"
                                     : NULL;
}

/* Calls the caller with rc and a message (data NULL). */
static void rpc_fail(ad_git_rpc_t *q, int rc, const char *reason, const char *msg)
{
    ad_git_result_t res = {.op = q->op, .rc = rc};
    ad_git_err_init(&res.err);
    snprintf(res.err.msg, sizeof(res.err.msg), "%s", msg);
    snprintf(res.err.reason, sizeof(res.err.reason), "%s", reason);
    q->cb(&res, q->ud);
    ad_git_err_cleanup(&res.err);
}

int ad_plane_git_rpc(ad_plane_t *p, const char *run_id, ad_git_op_t op, const ad_git_args_t *a,
                     ad_git_done_cb cb, void *ud)
{
    const char *name = op_name(op);
    ad_relay_t *r = ad_relay_find(p, run_id);
    if (name == NULL || cb == NULL) {
        return AD_EINVAL;
    }
    ad_git_rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->op = op;
    q->cb = cb;
    q->ud = ud;
    ad_node_live_t *n = r != NULL ? ad_plane_node_live(p, r->node_id) : NULL;
    if (n == NULL || n->link == NULL || n->unreachable) {
        rpc_fail(q, AD_ECLOSED, "node_unreachable",
                 "the worktree is on a node that is not connected now");
        free(q);
        return 0;
    }
    ad_node_ask_add(p, &p->rpcs, &q->ask, n->id, RPC_TIMEOUT_MS);
    json_t *args = json_pack("{s:s?, s:s?, s:b, s:s?}", "file", a->file, "message", a->message,
                             "all", a->force, "against", a->base);
    ad_plane_send_text(n,
                       json_pack("{s:s, s:I, s:s, s:s, s:o}", "t", "git_rpc", "id",
                                 (json_int_t)q->ask.id, "run", run_id, "op", name, "args", args));
    return 0;
}

void ad_plane_git_rpc_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg)
{
    /* (another node's id: not this one to answer) */
    ad_git_rpc_t *q = (ad_git_rpc_t *)ad_node_ask_take(&p->rpcs, json_object_get(msg, "id"), n->id);
    if (q == NULL) {
        return;
    }
    json_t *err = json_object_get(msg, "err");
    json_int_t rc = json_integer_value(json_object_get(msg, "rc"));
    ad_git_result_t res = {.op = q->op, .rc = rc < 0 && AD_IS_ERR(rc) ? (int)rc : 0};
    ad_git_err_init(&res.err);
    if (res.rc != 0) {
        snprintf(res.err.msg, sizeof(res.err.msg), "%s",
                 json_string_value(json_object_get(err, "msg")) ?: "failed on the node");
        snprintf(res.err.reason, sizeof(res.err.reason), "%s",
                 json_string_value(json_object_get(err, "reason")) ?: "");
    } else if (!json_is_object(json_object_get(msg, "data"))) {
        res.rc = AD_EINTERNAL;
        snprintf(res.err.msg, sizeof(res.err.msg), "the node answered without data");
    }
    res.data = res.rc == 0 ? json_object_get(msg, "data") : NULL;
    q->cb(&res, q->ud);
    ad_git_err_cleanup(&res.err);
    free(q);
}

void ad_plane_git_rpc_expire(ad_plane_t *p, bool all)
{
    bool gone;
    ad_git_rpc_t *q;
    while ((q = (ad_git_rpc_t *)ad_node_ask_expired(p, &p->rpcs, all, &gone)) != NULL) {
        rpc_fail(q, gone ? AD_ECLOSED : AD_ETIMEDOUT, "node_unreachable",
                 gone ? "the node of the worktree went away before it answered"
                      : "the node of the worktree did not answer in time");
        free(q);
    }
}
