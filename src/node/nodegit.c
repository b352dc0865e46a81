/* SPDX-License-Identifier: MIT */
/*
 * Worktrees on nodes, the node's side (docs/nodes.md, "Worktrees on
 * nodes"). A spawn that names a worktree waits while the node asks the
 * plane for its repository (git_get, with the commit it has), receives the
 * bundle (git_chunk…, git_ready), fetches it into its mirror of the
 * workspace (<data>/mirrors/<ws>.git, bare) and makes or reuses a worktree
 * of it (<data>/worktrees/<wt>) at that exact commit; then the holder
 * starts there. Frames the plane sends meanwhile (its ATTACH, the first
 * prompt) wait with the run. While it runs, commits it makes go back at
 * the next renewal (git_put of a bundle, answered git_put_done); when the
 * holder reports the agent's exit, the EXIT waits while the rest (and what
 * the agent left uncommitted, committed as agentd) goes, so the plane has
 * the work before it stores the run's end. Git runs through src/git on the
 * pool.
 */
#include "node/node_int.h"

#include "git/git.h"
#include "hold/hold.h"
#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GET_MAX (4ull << 30)
#define PENDQ_MAX (8u << 20)

/* What a pool job needs to find its run again (it may be gone by then). */
typedef struct {
    worker_t *w;
    char run[AD_ID_MAX];
} job_t;

static job_t *job(worker_t *w, const wrun_t *r)
{
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->w = w;
    snprintf(j->run, sizeof(j->run), "%s", r->id);
    return j;
}

/* The job's run, still waiting for its worktree; NULL (and j freed) when
 * it is gone. */
static wrun_t *job_run(job_t *j)
{
    wrun_t *r = ad_worker_run_find(j->w, j->run);
    free(j);
    return r;
}

static void tmp_file(const worker_t *w, const char *run, const char *what, char *out, size_t n)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tmp", w->cfg->data_dir);
    mkdir(dir, 0700);
    snprintf(out, n, "%s/%s-%s.bundle", dir, run, what);
}

static void mirror_path(const worker_t *w, const wrun_t *r, char *out, size_t n)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/mirrors", w->cfg->data_dir);
    mkdir(dir, 0700);
    snprintf(out, n, "%s/%s.git", dir, r->ws_id);
}

/* The worktree could not be made: the run fails to start, saying why. */
static void give_up(worker_t *w, wrun_t *r, const char *why)
{
    ad_log(AD_LOG_WARN, "node", "no worktree for a run run=%s why=\"%s\"", r->id, why);
    ad_worker_send(w,
                   json_pack("{s:s, s:s, s:s}", "t", "spawn_failed", "run", r->id, "error", why));
    ad_worker_run_free(w, r);
}

/* ---- getting the repository ------------------------------------------------------- */

/* ---- setup files: a new worktree gets them, as locally ------------------------------ */

typedef struct {
    uv_work_t work;
    worker_t *w;
    char run[AD_ID_MAX];
    char root[4200];
    char exclude[4400]; /* the mirror's info/exclude: setup files stay out of its commits */
    json_t *files;      /* [{path, data, mode}] */
    int written;
} setup_t;

/* rel as an anchored line of the mirror's info/exclude, once: a setup file
 * (an .env, a key) is never committed by the node's "what is left". */
static void exclude_add(const char *exclude, const char *rel)
{
    char line[4200], have[65536];
    snprintf(line, sizeof(line), "/%s\n", rel);
    int fd = open(exclude, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return;
    }
    ssize_t n = pread(fd, have, sizeof(have) - 1, 0);
    have[n > 0 ? n : 0] = '\0';
    if (strstr(have, line) == NULL) {
        (void)ad_write_all(fd, line, strlen(line));
    }
    close(fd);
}

/* Writes data below root at rel, making its folders, following no link
 * (a link in the repository cannot lead a write out of the worktree). */
static bool write_below(const char *root, const char *rel, const uint8_t *data, size_t n, int mode)
{
    char path[4096];
    if (rel[0] == '/' || strstr(rel, "..") != NULL ||
        snprintf(path, sizeof(path), "%s", rel) >= (int)sizeof(path)) {
        return false;
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *save = NULL, *part = strtok_r(path, "/", &save);
    while (fd >= 0 && part != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        if (next == NULL) {
            int f = openat(fd, part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                           (mode_t)(mode & 0777 ? mode & 0777 : 0600));
            close(fd);
            fd = -1;
            bool ok = f >= 0 && ad_write_all(f, data, n) == n;
            if (f >= 0) {
                ok = close(f) == 0 && ok;
            }
            return ok;
        }
        if (mkdirat(fd, part, 0700) != 0 && errno != EEXIST) {
            break;
        }
        int sub = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = sub;
        part = next;
    }
    if (fd >= 0) {
        close(fd);
    }
    return false;
}

static void setup_write(uv_work_t *req)
{
    setup_t *st = req->data;
    size_t i;
    json_t *f;
    json_array_foreach(st->files, i, f)
    {
        const char *rel = json_string_value(json_object_get(f, "path"));
        const char *data = json_string_value(json_object_get(f, "data"));
        if (rel == NULL || data == NULL) {
            continue;
        }
        size_t len = strlen(data), max = len / 4 * 3 + 3;
        uint8_t *buf = ad_xmalloc(max);
        int n = ad_base64_decode(data, len, buf, max);
        if (rel[0] != '/' && strstr(rel, "..") == NULL) {
            exclude_add(st->exclude, rel);
        }
        if (n >= 0 && write_below(st->root, rel, buf, (size_t)n,
                                  (int)json_integer_value(json_object_get(f, "mode")))) {
            st->written++;
        }
        free(buf);
    }
}

static void start_in_worktree(worker_t *w, wrun_t *r);

/* ---- the setup command: run in a new worktree, as locally -------------------------------- */

#define SETUP_TIMEOUT_MS 600000 /* as a local worktree's (src/wtree/worktree.c) */

typedef struct {
    worker_t *w;
    char run[AD_ID_MAX];
} setup_cmd_t;

/* Says how it went (git_setup: the plane records it on the worktree as a
 * local setup's outcome), then the agent starts, as locally whatever the
 * outcome. */
static void setup_ran(const ad_git_result_t *res, void *ud)
{
    setup_cmd_t *q = ud;
    json_t *m = json_pack("{s:s, s:s}", "t", "git_setup", "run", q->run);
    if (res->rc == 0) {
        json_object_set_new(m, "setup",
                            json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "exitCode",
                                      json_object_get(res->data, "exitCode"), "signal",
                                      json_object_get(res->data, "signal"), "timedOut",
                                      json_object_get(res->data, "timedOut"), "output",
                                      json_object_get(res->data, "output"), "outputTruncated",
                                      json_object_get(res->data, "outputTruncated")));
    } else {
        json_object_set_new(m, "error", json_string(res->err.msg));
    }
    ad_worker_send(q->w, m);
    wrun_t *r = ad_worker_run_find(q->w, q->run);
    if (r != NULL && r->spawn != NULL) {
        start_in_worktree(q->w, r);
    }
    free(q);
}

/* The workspace's setup command (the plane sends it once approved) in the
 * new worktree: the owner's organisation's unconfined, another's in the
 * node's plain sandbox of the worktree, or not at all where there is none,
 * as locally. Then the agent starts. */
static void setup_then_start(worker_t *w, wrun_t *r)
{
    const char *cmd = json_string_value(json_object_get(r->ready, "setupCommand"));
    if (cmd == NULL || cmd[0] == '\0') {
        start_in_worktree(w, r);
        return;
    }
    char *wrapped = NULL;
    if (!json_is_true(json_object_get(json_object_get(r->spawn, "sandbox"), "owners"))) {
        wrapped = ad_proc_sandbox_shell(w->procs, r->wt_path, cmd, NULL);
        cmd = wrapped != NULL ? wrapped
                              : "echo 'agentd: setup commands of an organisation other than "
                                "the owner'\''s run only in a sandbox, and this node has none' "
                                ">&2; exit 126";
    }
    setup_cmd_t *q = ad_xcalloc(1, sizeof(*q));
    q->w = w;
    snprintf(q->run, sizeof(q->run), "%s", r->id);
    ad_git_args_t a = {.repo_path = r->wt_path,
                       .path = r->wt_path,
                       .command = cmd,
                       .timeout_ms = SETUP_TIMEOUT_MS};
    int rc = ad_git_queue(w->loop, AD_GIT_OP_SETUP, &a, setup_ran, q);
    free(wrapped);
    if (rc != 0) {
        free(q);
        start_in_worktree(w, r);
    }
}

static void setup_done(uv_work_t *req, int status)
{
    AD_UNUSED(status);
    setup_t *st = req->data;
    wrun_t *r = ad_worker_run_find(st->w, st->run);
    ad_log(AD_LOG_INFO, "node", "setup files copied run=%s count=%d", st->run, st->written);
    if (r != NULL && r->spawn != NULL) {
        setup_then_start(st->w, r);
    }
    json_decref(st->files);
    free(st);
}

static void start_in_worktree(worker_t *w, wrun_t *r)
{
    json_t *spawn = r->spawn;
    r->spawn = NULL;
    ad_log(AD_LOG_INFO, "node", "worktree ready run=%s path=%s head=%s", r->id, r->wt_path,
           r->base);
    ad_worker_spawn(w, r, spawn, r->wt_path);
    json_decref(spawn);
}

static void on_worktree(const ad_git_result_t *res, void *ud)
{
    job_t *j = ud;
    worker_t *w = j->w;
    wrun_t *r = job_run(j);
    if (r == NULL || r->spawn == NULL) {
        return;
    }
    if (res->rc != 0) {
        give_up(w, r, res->err.msg);
        return;
    }
    const char *head = json_string_value(json_object_get(res->data, "head"));
    snprintf(r->base, sizeof(r->base), "%s", head != NULL ? head : "");
    json_object_set_new(w->bases, r->wt_id, json_string(r->base));
    bool known = false;
    size_t i;
    json_t *v;
    json_array_foreach(w->repos, i, v)
    {
        known = known || strcmp(json_string_value(v), r->ws_id) == 0;
    }
    if (!known) { /* said in the next renewal: placement prefers it */
        json_array_append_new(w->repos, json_string(r->ws_id));
    }
    json_t *files = json_object_get(r->ready, "setup");
    bool created = json_is_true(json_object_get(res->data, "created"));
    if (created && json_array_size(files) > 0) {
        setup_t *st = ad_xcalloc(1, sizeof(*st));
        st->w = w;
        snprintf(st->run, sizeof(st->run), "%s", r->id);
        snprintf(st->root, sizeof(st->root), "%s", r->wt_path);
        char mirror[4300];
        mirror_path(w, r, mirror, sizeof(mirror));
        snprintf(st->exclude, sizeof(st->exclude), "%s/info/exclude", mirror);
        char info[4400];
        snprintf(info, sizeof(info), "%s/info", mirror);
        mkdir(info, 0755);
        st->files = json_incref(files);
        st->work.data = st;
        if (uv_queue_work(w->loop, &st->work, setup_write, setup_done) == 0) {
            return;
        }
        json_decref(st->files);
        free(st);
    }
    if (created) {
        setup_then_start(w, r);
        return;
    }
    start_in_worktree(w, r);
}

static void make_worktree(worker_t *w, wrun_t *r)
{
    char mirror[4300], branch[256];
    mirror_path(w, r, mirror, sizeof(mirror));
    const char *tip = json_string_value(json_object_get(r->ready, "tip"));
    const char *b = json_string_value(json_object_get(r->ready, "branch"));
    char why[160];
    if (b != NULL && b[0] != '\0' && ad_git_branch_name_valid(b, why, sizeof(why))) {
        snprintf(branch, sizeof(branch), "%s", b);
    } else {
        snprintf(branch, sizeof(branch), "agentd-%s", r->wt_id);
    }
    ad_git_args_t a = {.repo_path = mirror, .path = r->wt_path, .branch = branch, .base = tip};
    if (ad_git_queue(w->loop, AD_GIT_OP_NODE_WORKTREE, &a, on_worktree, job(w, r)) != 0) {
        give_up(w, r, "git is not available on the node");
    }
}

static void on_mirror_fetched(const ad_git_result_t *res, void *ud)
{
    job_t *j = ud;
    worker_t *w = j->w;
    wrun_t *r = job_run(j);
    if (r == NULL || r->spawn == NULL) {
        return;
    }
    if (r->in != NULL) {
        unlink(r->in->path);
    }
    if (res->rc != 0) {
        give_up(w, r, res->err.msg);
        return;
    }
    make_worktree(w, r);
}

/* The bundle is whole (or there was none to send) and git_ready came. */
static void proceed(worker_t *w, wrun_t *r)
{
    if (r->spawn == NULL || r->ready == NULL || !r->in_done || r->preparing) {
        return; /* (or on its way already) */
    }
    r->preparing = true;
    if (r->in_rc != 0) {
        give_up(w, r, "the repository did not arrive whole");
        return;
    }
    if (json_is_true(json_object_get(r->ready, "empty"))) {
        /* the mirror has it already; and when the worktree is at it, nothing is
         * to be done at all (the next start of the same agent, mostly) */
        const char *tip = json_string_value(json_object_get(r->ready, "tip"));
        const char *at = json_string_value(json_object_get(w->bases, r->wt_id));
        char git_file[4400];
        struct stat st;
        snprintf(git_file, sizeof(git_file), "%s/.git", r->wt_path);
        if (tip != NULL && at != NULL && strcmp(tip, at) == 0 && stat(git_file, &st) == 0) {
            snprintf(r->base, sizeof(r->base), "%s", tip);
            json_t *spawn = r->spawn;
            r->spawn = NULL;
            ad_worker_spawn(w, r, spawn, r->wt_path);
            json_decref(spawn);
            return;
        }
        make_worktree(w, r);
        return;
    }
    char mirror[4300], ref[128];
    mirror_path(w, r, mirror, sizeof(mirror));
    snprintf(ref, sizeof(ref), "refs/agentd/base/%s", r->wt_id);
    ad_git_args_t a = {
        .path = mirror, .file = r->in->path, .branch = "HEAD", .name = ref, .create_branch = true};
    if (ad_git_queue(w->loop, AD_GIT_OP_BUNDLE_FETCH, &a, on_mirror_fetched, job(w, r)) != 0) {
        give_up(w, r, "git is not available on the node");
    }
}

static void on_bundle_in(void *ud, int rc)
{
    wrun_t *r = ud;
    r->in_done = true;
    r->in_rc = rc;
    proceed(r->w, r);
}

void ad_worker_git_spawn(worker_t *w, json_t *msg)
{
    const char *run = json_string_value(json_object_get(msg, "run"));
    json_t *wt = json_object_get(msg, "worktree");
    const char *wt_id = json_string_value(json_object_get(wt, "id"));
    const char *ws_id = json_string_value(json_object_get(wt, "workspace"));
    wrun_t *r = ad_worker_run_add(w, run);
    if (!ad_node_id_ok(wt_id) || !ad_node_id_ok(ws_id)) {
        give_up(w, r, "a malformed worktree");
        return;
    }
    snprintf(r->wt_id, sizeof(r->wt_id), "%s", wt_id);
    snprintf(r->ws_id, sizeof(r->ws_id), "%s", ws_id);
    snprintf(r->wt_path, sizeof(r->wt_path), "%s/worktrees/%s", w->cfg->data_dir, wt_id);
    char dir[4200], file[4300];
    snprintf(dir, sizeof(dir), "%s/worktrees", w->cfg->data_dir);
    mkdir(dir, 0700);
    r->spawn = json_incref(msg);
    ad_buf_init(&r->pendq, PENDQ_MAX);
    r->in = ad_xcalloc(1, sizeof(*r->in));
    tmp_file(w, run, "get", file, sizeof(file));
    if (ad_xfer_in_open(r->in, w->loop, file, GET_MAX) != 0) {
        give_up(w, r, "cannot write to the node's data dir");
        return;
    }
    r->in->done = on_bundle_in;
    r->in->ud = r;
    /* what it has: the commit its worktree of this worktree is at, when
     * there is one (a later run of the same agent) */
    char head_file[4400];
    snprintf(head_file, sizeof(head_file), "%s/.git", r->wt_path);
    struct stat st;
    json_t *haves = json_array();
    json_t *at = json_object_get(w->bases, wt_id);
    if (stat(head_file, &st) == 0 && json_is_string(at)) {
        json_array_append(haves, at);
    }
    ad_worker_send(
        w, json_pack("{s:s, s:s, s:s, s:o}", "t", "git_get", "x", run, "run", run, "have", haves));
}

/* ---- pushing the work back ----------------------------------------------------------- */

/* One push at a time per run. While the run lives, a renewal that finds
 * HEAD moved past what the plane has (r->base) pushes the new commits alone
 * (nothing uncommitted: the agent is still at work), so its commits are on
 * the plane though the node is lost later. The holder's EXIT starts the
 * final push, which commits what is left first, and goes up only after it
 * (or after an interim push in flight ends and the final one follows). */

typedef struct {
    worker_t *w;
    char run[AD_ID_MAX];
    char file[4300];
    bool final;
} put_t;

static int push_start(worker_t *w, wrun_t *r, bool final);

static void exit_release(worker_t *w, const char *run)
{
    wrun_t *r = ad_worker_run_find(w, run);
    if (r == NULL || !r->exit_held) {
        return;
    }
    r->exit_held = false;
    r->pushing = false;
    if (r->conn != NULL && r->conn->attached) {
        ad_worker_frame_up(w, r->conn, r->held_exit, sizeof(r->held_exit));
    }
}

/* A push is over (sent and answered, empty, or failed): the EXIT waiting
 * behind an interim push starts the final one; after the final one it goes. */
static void push_ended(worker_t *w, const char *run, bool final)
{
    wrun_t *r = ad_worker_run_find(w, run);
    if (r == NULL) {
        return;
    }
    r->pushing = false;
    if (!(r->exit_held && !final && w->link != NULL && push_start(w, r, true) == 0)) {
        exit_release(w, run);
    }
}

static int put_send(void *ud, json_t *msg)
{
    put_t *p = ud;
    if (p->w->link == NULL) {
        json_decref(msg);
        return AD_ECLOSED;
    }
    ad_worker_send(p->w, msg);
    return 0;
}

static size_t put_queued(void *ud)
{
    put_t *p = ud;
    return p->w->link != NULL ? ad_wsc_queued(p->w->link) : 0;
}

static void put_sent(void *ud, int rc)
{
    put_t *p = ud;
    unlink(p->file);
    if (rc != 0) {
        /* the link went: an EXIT comes again after the reattach, and a
         * renewal after it pushes what is still not on the plane */
        wrun_t *r = ad_worker_run_find(p->w, p->run);
        if (r != NULL) {
            r->pushing = false;
        }
        exit_release(p->w, p->run);
    } /* else the push ends once the plane says git_put_done (or git_error) */
    free(p);
}

static const ad_xfer_io_t put_io = {put_send, put_queued, put_sent};

static void on_bundled(const ad_git_result_t *res, void *ud)
{
    put_t *p = ud;
    if (res->rc != 0 || json_is_true(json_object_get(res->data, "empty"))) {
        if (res->rc != 0) {
            ad_log(AD_LOG_WARN, "node", "a worktree's work could not be bundled run=%s why=\"%s\"",
                   p->run, res->err.msg);
        }
        unlink(p->file);
        push_ended(p->w, p->run, p->final);
        free(p);
        return;
    }
    json_t *fields = json_pack("{s:s, s:s, s:s, s:b}", "t", "git_put", "x", p->run, "run", p->run,
                               "final", p->final);
    if (p->w->link == NULL || ad_xfer_send(p->w->loop, p->file, fields, &put_io, p) == NULL) {
        if (p->w->link == NULL) {
            json_decref(fields);
        }
        unlink(p->file);
        push_ended(p->w, p->run, p->final);
        free(p);
    }
}

/* 0, or the push could not be queued (r->pushing false again). */
static int push_start(worker_t *w, wrun_t *r, bool final)
{
    r->pushing = true;
    r->push_final = final;
    put_t *p = ad_xcalloc(1, sizeof(*p));
    p->w = w;
    p->final = final;
    snprintf(p->run, sizeof(p->run), "%s", r->id);
    tmp_file(w, r->id, final ? "put" : "putlive", p->file, sizeof(p->file));
    json_t *have = json_array();
    if (r->base[0] != '\0') {
        json_array_append_new(have, json_string(r->base));
    }
    char message[200];
    snprintf(message, sizeof(message), "agentd: work run %s left uncommitted on node %s", r->id,
             w->name);
    char mirror[4300];
    mirror_path(w, r, mirror, sizeof(mirror));
    ad_git_args_t a = {.path = r->wt_path,
                       .branch = "HEAD",
                       .file = p->file,
                       .files = have,
                       .message = final ? message : NULL,
                       .trust_repo = mirror, /* its .git checked against the node's mirror */
                       .trust_bare = true};
    int rc = ad_git_queue(w->loop, AD_GIT_OP_BUNDLE, &a, on_bundled, p);
    json_decref(have);
    if (rc != 0) {
        free(p);
        r->pushing = false;
    }
    return rc;
}

bool ad_worker_git_exit(worker_t *w, wrun_t *r, hconn_t *c, const unsigned char *f, size_t flen)
{
    AD_UNUSED(c);
    if (r == NULL || r->wt_path[0] == '\0' || flen != sizeof(r->held_exit) || w->link == NULL) {
        return false;
    }
    memcpy(r->held_exit, f, flen);
    r->exit_held = true;
    r->exit_held_ms = ad_mono_ms();
    if (r->pushing) {
        return true; /* one push at a time; its end starts the final one, or sends this EXIT */
    }
    if (push_start(w, r, true) != 0) {
        r->exit_held = false;
        return false;
    }
    return true;
}

/* HEAD as the renewal read it: new commits go now, the run still at work.
 * Only a read that found nothing new keeps its signature: anything else
 * (a push, one that could not go, a failed read) reads again next time. */
static void on_head(const ad_git_result_t *res, void *ud)
{
    job_t *j = ud;
    worker_t *w = j->w;
    wrun_t *r = job_run(j);
    if (r == NULL) {
        return;
    }
    r->head_busy = false;
    const char *id = json_string_value(json_object_get(res->data, "id"));
    bool same = res->rc == 0 && id != NULL && strcmp(id, r->base) == 0;
    r->head_sig = same ? r->head_sig_read : 0;
    if (same || res->rc != 0 || id == NULL || r->pushing || r->exit_held || w->link == NULL ||
        !w->welcomed) {
        return;
    }
    (void)push_start(w, r, false); /* if it cannot go now, the next renewal tries again */
}

static uint64_t sig_of(uint64_t h, const char *path)
{
    struct stat st;
    uint64_t v[5] = {0};
    if (stat(path, &st) == 0) {
        v[0] = st.st_ino, v[1] = (uint64_t)st.st_size, v[2] = (uint64_t)st.st_mtim.tv_nsec;
        v[3] = (uint64_t)st.st_mtim.tv_sec, v[4] = (uint64_t)st.st_ctim.tv_nsec;
    }
    for (size_t i = 0; i < 5; i++) {
        h = (h ^ v[i]) * 1099511628211ull;
    }
    return h;
}

/* What could move a run's HEAD, by inode, size and times: the worktree's
 * .git file, its folder's HEAD in the mirror (the worktree is named by its
 * id there), the branch that HEAD names and the mirror's packed-refs. The
 * checked read of HEAD (a git job with its trust check) was most of a
 * node's CPU at 100 runs (bench/README.md, N4); a renewal makes it only
 * when this moved. The files are the agent's to write: they pick what is
 * stat'ed, never what is trusted, and any change of theirs means a read. */
static uint64_t head_sig(const worker_t *w, const wrun_t *r)
{
    char p[4600], head[256] = "";
    snprintf(p, sizeof(p), "%s/.git", r->wt_path);
    uint64_t h = sig_of(14695981039346656037ull, p);
    snprintf(p, sizeof(p), "%s/mirrors/%s.git/worktrees/%s/HEAD", w->cfg->data_dir, r->ws_id,
             r->wt_id);
    h = sig_of(h, p);
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK); /* a FIFO waits for no one */
    if (fd < 0) {
        return ~r->head_sig; /* not where it should be: read every time */
    }
    ssize_t n = read(fd, head, sizeof(head) - 1);
    close(fd);
    head[n > 0 ? n : 0] = '\0';
    head[strcspn(head, "\n")] = '\0';
    char why[64];
    if (strncmp(head, "ref: refs/heads/", 16) == 0 &&
        ad_git_branch_name_valid(head + 16, why, sizeof(why))) {
        snprintf(p, sizeof(p), "%s/mirrors/%s.git/%s", w->cfg->data_dir, r->ws_id, head + 5);
        h = sig_of(h, p);
    }
    snprintf(p, sizeof(p), "%s/mirrors/%s.git/packed-refs", w->cfg->data_dir, r->ws_id);
    return sig_of(h, p);
}

#define EXIT_HOLD_MAX_MS 120000

void ad_worker_git_tick(worker_t *w)
{
    uint64_t now = ad_mono_ms();
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        if (r->exit_held && now - r->exit_held_ms > EXIT_HOLD_MAX_MS) {
            ad_log(AD_LOG_WARN, "node",
                   "the control plane did not take a run's work in time; "
                   "its end goes on run=%s",
                   r->id);
            exit_release(w, r->id);
        } else if (r->wt_path[0] != '\0' && r->spawn == NULL && r->base[0] != '\0' && !r->pushing &&
                   !r->exit_held && !r->head_busy &&
                   (r->head_sig_read = head_sig(w, r)) != r->head_sig) {
            char mirror[4300];
            mirror_path(w, r, mirror, sizeof(mirror));
            ad_git_args_t a = {.path = r->wt_path, .trust_repo = mirror, .trust_bare = true};
            r->head_busy = true;
            job_t *j = job(w, r);
            if (ad_git_queue(w->loop, AD_GIT_OP_HEAD, &a, on_head, j) != 0) {
                free(j);
                r->head_busy = false;
            }
        }
    }
}

/* ---- the plane's messages ------------------------------------------------------------- */

/* ---- git on the worktree while the run lives here (git_rpc) ----------------------------- */

#define RPC_ANSWER_MAX (768u * 1024u) /* under the link's message bound */

typedef struct {
    worker_t *w;
    json_int_t id;
} rpc_t;

static void rpc_answer(worker_t *w, json_int_t id, int rc, json_t *data, const char *msg,
                       const char *reason)
{
    json_t *m = json_pack("{s:s, s:I, s:i}", "t", "git_rpc_done", "id", id, "rc", rc);
    if (rc == 0) {
        json_object_set(m, "data", data);
    } else {
        json_object_set_new(m, "err",
                            json_pack("{s:s, s:s}", "msg", msg != NULL ? msg : "", "reason",
                                      reason != NULL ? reason : ""));
    }
    char *text = json_dumps(m, JSON_COMPACT);
    size_t len = text != NULL ? strlen(text) : 0;
    free(text);
    if (len > RPC_ANSWER_MAX) { /* a diff too large for one message: said, not cut */
        json_decref(m);
        m = json_pack("{s:s, s:I, s:i, s:{s:s, s:s}}", "t", "git_rpc_done", "id", id, "rc",
                      AD_ETOOBIG, "err", "msg",
                      "the answer is too large to send from the node; ask for one file (path=)",
                      "reason", "too_large");
    }
    ad_worker_send(w, m);
}

/* A full commit id (sha1 or sha256), hex only. */
static bool commit_id(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

static void on_rpc(const ad_git_result_t *res, void *ud)
{
    rpc_t *q = ud;
    rpc_answer(q->w, q->id, res->rc, res->data, res->err.msg, res->err.reason);
    free(q);
}

void ad_worker_git_rpc(worker_t *w, json_t *msg)
{
    json_int_t id = json_integer_value(json_object_get(msg, "id"));
    const char *run = json_string_value(json_object_get(msg, "run"));
    const char *op = json_string_value(json_object_get(msg, "op"));
    json_t *args = json_object_get(msg, "args");
    wrun_t *r = run != NULL ? ad_worker_run_find(w, run) : NULL;
    ad_git_op_t o = op == NULL                   ? AD_GIT_OP_OPEN
                    : strcmp(op, "status") == 0  ? AD_GIT_OP_STATUS
                    : strcmp(op, "diff") == 0    ? AD_GIT_OP_DIFF
                    : strcmp(op, "commit") == 0  ? AD_GIT_OP_COMMIT
                    : strcmp(op, "review") == 0  ? AD_GIT_OP_REVIEW
                    : strcmp(op, "commits") == 0 ? AD_GIT_OP_COMMITS
                                                 : AD_GIT_OP_OPEN;
    if (r == NULL || r->wt_path[0] == '\0' || r->spawn != NULL || o == AD_GIT_OP_OPEN) {
        rpc_answer(w, id, AD_ENOENT, NULL, "no such worktree on this node", "not_found");
        return;
    }
    char mirror[4300];
    mirror_path(w, r, mirror, sizeof(mirror));
    ad_git_args_t a = {.path = r->wt_path,
                       .trust_repo = mirror,
                       .trust_bare = true,
                       .file = json_string_value(json_object_get(args, "file")),
                       .message = json_string_value(json_object_get(args, "message")),
                       .force = json_is_true(json_object_get(args, "all")),
                       .base = json_string_value(json_object_get(args, "against"))};
    if (o == AD_GIT_OP_COMMIT && a.message == NULL) {
        rpc_answer(w, id, AD_EINVAL, NULL, "a commit message is required", "");
        return;
    }
    if ((o == AD_GIT_OP_REVIEW || o == AD_GIT_OP_COMMITS) && !commit_id(a.base)) {
        /* the plane sends the merge base it found, a commit id: never a
         * name, a path or an option */
        rpc_answer(w, id, AD_EINVAL, NULL, "against must be a commit id", "invalid_ref");
        return;
    }
    rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->w = w;
    q->id = id;
    if (ad_git_queue(w->loop, o, &a, on_rpc, q) != 0) {
        free(q);
        rpc_answer(w, id, AD_EINTERNAL, NULL, "git is not available on the node", "");
    }
}

void ad_worker_git_msg(worker_t *w, const char *t, json_t *msg)
{
    if (strcmp(t, "git_rpc") == 0) {
        ad_worker_git_rpc(w, msg);
        return;
    }
    const char *x = json_string_value(json_object_get(msg, "x"));
    wrun_t *r = x != NULL ? ad_worker_run_find(w, x) : NULL;
    if (r == NULL) {
        return;
    }
    if (strcmp(t, "git_chunk") == 0 && r->spawn != NULL && r->in != NULL && !r->in_done) {
        ad_xfer_in_chunk(r->in, msg);
    } else if (strcmp(t, "git_ready") == 0 && r->spawn != NULL && r->ready == NULL) {
        r->ready = json_incref(msg);
        if (json_is_true(json_object_get(msg, "empty")) && r->in->next == 0) {
            /* no chunk comes: the end (no write under way) proceeds at once,
             * and a spawn that fails there frees r */
            ad_xfer_in_end(r->in);
            return;
        }
        proceed(w, r);
    } else if (strcmp(t, "git_error") == 0 && r->spawn != NULL) {
        const char *e = json_string_value(json_object_get(msg, "error"));
        give_up(w, r, e != NULL ? e : "the control plane could not send the repository");
    } else if (strcmp(t, "git_error") == 0 || strcmp(t, "git_put_done") == 0) {
        const char *tip = json_string_value(json_object_get(msg, "tip"));
        if (tip != NULL && strlen(tip) < sizeof(r->base) && t[4] == 'p') {
            snprintf(r->base, sizeof(r->base), "%s", tip); /* the plane has it now */
            json_object_set_new(w->bases, r->wt_id, json_string(tip));
            ad_worker_run_save(w, r);
        }
        if (r->pushing) {
            push_ended(w, r->id, r->push_final);
        } else {
            exit_release(w, r->id);
        }
    }
}

bool ad_worker_git_hold_down(wrun_t *r, uint32_t epoch, const unsigned char *f, size_t flen)
{
    if (r->spawn == NULL) {
        return false;
    }
    if (f[4] == AD_HOLD_ATTACH && flen == sizeof(r->attach)) {
        memcpy(r->attach, f, flen);
        r->attach_epoch = epoch;
        r->attach_pending = true;
        ad_buf_reset(&r->pendq); /* what came for an earlier ATTACH is the plane's to resend */
    } else if (r->attach_pending && epoch == r->attach_epoch &&
               ad_buf_append(&r->pendq, f, flen) != 0) {
        ad_log(AD_LOG_WARN, "node", "input for a run still starting was dropped run=%s", r->id);
    }
    return true;
}

void ad_worker_git_free(wrun_t *r)
{
    json_decref(r->spawn);
    r->spawn = NULL;
    json_decref(r->ready);
    r->ready = NULL;
    ad_buf_cleanup(&r->pendq);
    ad_xfer_in_abandon(r->in);
    r->in = NULL;
}

void ad_worker_git_scan(worker_t *w)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/mirrors", w->cfg->data_dir);
    w->repos = json_array();
    w->bases = json_object();
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && json_array_size(w->repos) < 1000) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".git") == 0) {
            char id[AD_ID_MAX];
            snprintf(id, sizeof(id), "%.*s", (int)(n - 4), e->d_name);
            if (ad_node_id_ok(id)) {
                json_array_append_new(w->repos, json_string(id));
            }
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}
