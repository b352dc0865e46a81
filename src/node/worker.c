/* SPDX-License-Identifier: MIT */
/*
 * `agentd node --join URL --token T …`: a worker node (docs/nodes.md). One
 * loop: the outbound link to the control plane (src/ws/client.c), kept up
 * with backoff and a watch on the plane's answers to our renewals; a
 * holder per run it was asked to spawn (through src/proc, exactly as a
 * local daemon does); and for each run a connection to its holder, opened
 * afresh at every ATTACH the plane sends and tagged with its epoch. The
 * node parses nothing of an agent's output and stores nothing but its
 * holders' folders; what it may do is what the plane's messages ask, for
 * runs the plane gave it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "node/node_int.h"

#include "health/health.h"
#include "hold/hold.h"
#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* A link replaced by another connection of this node's token: the first
 * retry after this, doubling to the max; reset once a link stayed up so long. */
#define REPLACED_MIN_MS 500
#define REPLACED_MAX_MS 30000
#define REPLACED_CALM_MS 60000
#define LINK_QUEUE_MAX (8u << 20)
#define SPAWN_ARGS_MAX 4096
#define SPAWN_ENV_MAX 1024
#define EXIT_REFUSED 3

static void link_connect(worker_t *w);
static void on_retry(uv_timer_t *t);

/* ---- the holders ------------------------------------------------------------------ */

wrun_t *ad_worker_run_find(worker_t *w, const char *id)
{
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        if (strcmp(r->id, id) == 0) {
            return r;
        }
    }
    return NULL;
}

wrun_t *ad_worker_run_add(worker_t *w, const char *id)
{
    wrun_t *r = ad_xcalloc(1, sizeof(*r));
    r->w = w;
    snprintf(r->id, sizeof(r->id), "%.*s", (int)sizeof(r->id) - 1, id);
    ad_hold_dir(w->cfg->data_dir, id, r->dir, sizeof(r->dir));
    r->next = w->runs;
    w->runs = r;
    return r;
}

static void on_conn_closed(uv_handle_t *h)
{
    hconn_t *c = h->data;
    ad_buf_cleanup(&c->rbuf);
    free(c);
}

static void conn_close(wrun_t *r)
{
    if (r->conn != NULL) {
        r->conn->run = NULL;
        uv_close((uv_handle_t *)&r->conn->pipe, on_conn_closed);
        r->conn = NULL;
    }
}

void ad_worker_run_free(worker_t *w, wrun_t *r)
{
    conn_close(r);
    ad_terms_free(r->terms); /* its terminals end with it */
    ad_worker_git_free(r);
    for (wrun_t **pp = &w->runs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    free(r);
}

void ad_worker_send(worker_t *w, json_t *msg)
{
    char *t = json_dumps(msg, JSON_COMPACT);
    if (t != NULL && w->link != NULL) {
        ad_wsc_send(w->link, t, strlen(t), false);
    }
    free(t);
    json_decref(msg);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    AD_UNUSED(suggested);
    hconn_t *c = h->data;
    size_t room = c->rbuf.max - c->rbuf.len;
    buf->len = room > 65536 ? 65536 : room > 0 ? room : 1;
    buf->base = ad_xmalloc(buf->len);
}

static void pause_reading(worker_t *w);
static void on_drain(uv_timer_t *t);

/* A holder frame to the plane, under the connection's epoch. */
void ad_worker_frame_up(worker_t *w, hconn_t *c, const unsigned char *f, size_t flen)
{
    unsigned char hdr[AD_LINK_HDR + AD_LINK_RUN_MAX];
    size_t hl = ad_link_header(hdr, c->run->id, c->epoch);
    /* a frame type the link does not carry (a newer holder's) is skipped,
     * as the holder wire's rule says (src/hold/hold.h), not sent to be
     * refused with the whole link */
    if (w->link == NULL || hl == 0 || flen < AD_HOLD_HDR ||
        !ad_link_frame_up_ok(f[4], flen - AD_HOLD_HDR)) {
        return;
    }
    unsigned char *m = ad_xmalloc(hl + flen);
    memcpy(m, hdr, hl);
    memcpy(m + hl, f, flen);
    ad_wsc_send(w->link, m, hl + flen, true);
    free(m);
    if (ad_wsc_queued(w->link) > LINK_QUEUE_MAX) {
        pause_reading(w); /* the holders spool meanwhile */
    }
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    hconn_t *c = st->data;
    wrun_t *r = c->run;
    if (r == NULL) {
        free(buf->base);
        return;
    }
    worker_t *w = r->w;
    if (nread < 0) {
        free(buf->base);
        /* The holder went (killed, or a replay holder done): ask the plane
         * to attach again, which reopens from what it has (a replay now). */
        conn_close(r);
        if (w->welcomed) {
            ad_worker_send(w, json_pack("{s:s, s:s}", "t", "reattach", "run", r->id));
        }
        return;
    }
    bool ok = ad_buf_append(&c->rbuf, buf->base, (size_t)nread) == 0;
    free(buf->base);
    if (!ok) {
        conn_close(r);
        return;
    }
    size_t at = 0;
    const unsigned char *d = (const unsigned char *)c->rbuf.data;
    while (c->rbuf.len - at >= AD_HOLD_HDR) {
        size_t len = AD_HOLD_HDR + ad_hold_len(d + at);
        if (len > AD_HOLD_HDR + AD_HOLD_MAX_PAYLOAD) {
            conn_close(r);
            return;
        }
        if (c->rbuf.len - at < len) {
            break;
        }
        if (d[at + 4] != AD_HOLD_EXIT || !ad_worker_git_exit(w, r, c, d + at, len)) {
            ad_worker_frame_up(w, c, d + at, len);
        }
        at += len;
    }
    ad_buf_consume(&c->rbuf, at);
}

static void conn_start(worker_t *w, hconn_t *c)
{
    if (!c->reading && !w->paused) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->pipe, conn_alloc, conn_read);
    }
}

static hconn_t *conn_new(wrun_t *r, int fd)
{
    hconn_t *c = ad_xcalloc(1, sizeof(*c));
    c->run = r;
    ad_buf_init(&c->rbuf, AD_HOLD_HDR + AD_HOLD_MAX_PAYLOAD + 65536);
    uv_pipe_init(r->w->loop, &c->pipe, 0);
    c->pipe.data = c;
    uv_pipe_open(&c->pipe, fd);
    return c;
}

static void pause_reading(worker_t *w)
{
    w->paused = true;
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        if (r->conn != NULL && r->conn->reading) {
            uv_read_stop((uv_stream_t *)&r->conn->pipe);
            r->conn->reading = false;
        }
    }
    uv_timer_start(&w->drain, on_drain, 20, 20);
}

static void on_drain(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (w->link != NULL && ad_wsc_queued(w->link) > LINK_QUEUE_MAX / 2) {
        return;
    }
    uv_timer_stop(&w->drain);
    w->paused = false;
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        if (r->conn != NULL && r->conn->attached) {
            conn_start(w, r->conn);
        }
    }
}

/* A holder frame from the plane for r. ATTACH opens a fresh connection
 * (but the one a spawn left, which has carried nothing yet). */
static void frame_down(worker_t *w, wrun_t *r, uint32_t epoch, const unsigned char *f, size_t flen)
{
    if (ad_worker_git_hold_down(r, epoch, f, flen)) {
        return; /* its holder is not up yet: its worktree is being made */
    }
    if (f[4] == AD_HOLD_ATTACH) {
        if (r->conn != NULL && r->conn->attached) {
            conn_close(r);
        }
        if (r->conn == NULL) {
            char err[256];
            ad_hold_info_t info;
            bool alive = ad_hold_info_read(r->dir, &info) == 0 && ad_hold_alive(&info);
            pid_t replay = 0;
            struct stat st;
            int fd = stat(r->dir, &st) == 0
                         ? ad_proc_holder_connect(r->dir, !alive, &replay, err, sizeof(err))
                         : -1;
            if (fd < 0) {
                ad_log(AD_LOG_WARN, "node", "no holder for a run the plane asks for run=%s", r->id);
                ad_worker_send(w, json_pack("{s:s, s:s}", "t", "lost", "run", r->id));
                ad_worker_run_free(w, r);
                return;
            }
            r->conn = conn_new(r, fd);
        }
        r->conn->epoch = epoch;
        r->conn->attached = true;
        conn_start(w, r->conn);
    }
    if (r->conn == NULL || !r->conn->attached || r->conn->epoch != epoch) {
        return; /* for a connection that is gone: the next ATTACH settles it */
    }
    char *copy = ad_xmalloc(flen);
    memcpy(copy, f, flen);
    uv_buf_t b = uv_buf_init(copy, (unsigned)flen);
    /* Small frames to a local socket: written at once, else dropped with
     * the connection (the holder's queue is the bound). */
    int n = uv_try_write((uv_stream_t *)&r->conn->pipe, &b, 1);
    if (n != (int)flen) {
        ad_log(AD_LOG_WARN, "node", "holder socket full, reconnecting run=%s", r->id);
        conn_close(r);
        ad_worker_send(w, json_pack("{s:s, s:s}", "t", "reattach", "run", r->id));
    }
    free(copy);
}

/* ---- spawning -------------------------------------------------------------------------- */

/* A JSON array of strings as a NULL-terminated vector (borrowed from a),
 * or NULL when it is not one or longer than max. */
static const char **str_vec(json_t *a, size_t max, bool need_eq)
{
    if (!json_is_array(a) || json_array_size(a) > max) {
        return NULL;
    }
    const char **v = ad_xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        const char *s = json_string_value(x);
        if (s == NULL || (need_eq && strchr(s, '=') == NULL)) {
            free(v);
            return NULL;
        }
        v[i] = s;
    }
    return v;
}

static int make_dir_p(const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* <data>/runs/<run>/ : a run's config file's folder. */
static void config_dir(const worker_t *w, const char *run, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/runs/%s", w->cfg->data_dir, run);
}

/* A hyper-parameter config the run was given (docs/training.md): its
 * values written to <data>/runs/<run>/config.json (0600, the folder 0700)
 * and named by AGENTD_CONFIG ahead of env. Returns env itself without a
 * config, else a new vector (the caller frees it and *entry), or NULL when
 * the file cannot be written. */
static const char **with_config(const worker_t *w, const char *run, json_t *config,
                                const char **env, char **entry)
{
    *entry = NULL;
    if (!json_is_object(config)) {
        return env;
    }
    char dir[4200], path[4300];
    snprintf(dir, sizeof(dir), "%s/runs", w->cfg->data_dir);
    mkdir(dir, 0700);
    config_dir(w, run, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/config.json", dir);
    char *text = json_dumps(config, JSON_COMPACT);
    int fd = (mkdir(dir, 0700) == 0 || errno == EEXIST) && text != NULL
                 ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)
                 : -1;
    bool ok = fd >= 0 && ad_write_all(fd, text, strlen(text)) == strlen(text) &&
              ad_write_all(fd, "\n", 1) == 1;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    free(text);
    if (!ok) {
        return NULL;
    }
    size_t n = 0;
    while (env[n] != NULL) {
        n++;
    }
    const char **v = ad_xcalloc(n + 2, sizeof(char *));
    size_t len = strlen(path) + sizeof("AGENTD_CONFIG=");
    *entry = ad_xmalloc(len);
    snprintf(*entry, len, "AGENTD_CONFIG=%s", path);
    v[0] = *entry;
    memcpy(v + 1, env, n * sizeof(char *));
    return v;
}

/* Starts the holder of r for argv in cwd, in the sandbox of the spawn's
 * policy (nodebox.c), with env and the run's config file. */
static int spawn_boxed(worker_t *w, wrun_t *r, json_t *msg, const char **argv, const char **env,
                       const char *cwd, int *fd, pid_t *agent_pid, char *err, size_t errsz)
{
    const char *agent = json_string_value(json_object_get(msg, "agent"));
    ad_proc_box_t box;
    char prog[4096];
    int rc = ad_worker_box(w, r, ad_node_id_ok(agent) ? agent : r->id, msg, cwd, argv, prog, &box,
                           err, errsz);
    if (rc != 0) {
        ad_proc_box_cleanup(&box);
        return rc;
    }
    if (prog[0] != '\0') {
        argv[0] = prog; /* a command's program as its user's shell here finds it */
    } else if (!box.none && box.exe[0] != '\0') {
        argv[0] = box.exe; /* the CLI's real program, whose folder the box shows */
    }
    json_int_t rows = json_integer_value(json_object_get(msg, "rows"));
    json_int_t cols = json_integer_value(json_object_get(msg, "cols"));
    ad_proc_opts_t o = {.argv = argv,
                        .cwd = cwd,
                        .pty = json_is_true(json_object_get(msg, "pty")),
                        .rows = rows > 0 && rows < 1000 ? (uint16_t)rows : 0,
                        .cols = cols > 0 && cols < 1000 ? (uint16_t)cols : 0,
                        .hold_dir = r->dir,
                        .hold_wait_sec = (uint32_t)w->cfg->hold_wait_sec,
                        .nice = (int)w->cfg->agent_nice, /* the node's own --agent-nice */
                        .cgroup_name = r->id};
    const char **benv = ad_worker_box_env(env, &box);
    char *entry = NULL;
    const char **full = with_config(w, r->id, json_object_get(msg, "config"), benv, &entry);
    if (full == NULL) {
        snprintf(err, errsz, "cannot write the run's config file");
        rc = AD_EIO;
    } else {
        if (entry != NULL) {
            ad_proc_box_show(&box, entry + strlen("AGENTD_CONFIG="));
        }
        o.env = full;
        o.sandbox = box.none || box.home == NULL ? NULL : &box.sb;
        rc = ad_proc_spawn_holder(w->procs, &o, fd, agent_pid, err, errsz);
    }
    if (full != benv) {
        free(full);
    }
    free(benv);
    free(entry);
    ad_proc_box_cleanup(&box);
    return rc;
}

void ad_worker_spawn(worker_t *w, wrun_t *r, json_t *msg, const char *cwd)
{
    char err[512] = "";
    const char **argv = str_vec(json_object_get(msg, "argv"), SPAWN_ARGS_MAX, false);
    const char **env = str_vec(json_object_get(msg, "env"), SPAWN_ENV_MAX, true);
    int fd = -1, rc = AD_EINVAL;
    pid_t agent_pid = 0;
    if (argv == NULL || argv[0] == NULL || env == NULL) {
        snprintf(err, sizeof(err), "a malformed spawn");
    } else if (make_dir_p(cwd) != 0) {
        snprintf(err, sizeof(err), "cannot make its working directory: %s", strerror(errno));
    } else {
        rc = spawn_boxed(w, r, msg, argv, env, cwd, &fd, &agent_pid, err, sizeof(err));
    }
    free(argv);
    free(env);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "node", "run could not start run=%s why=\"%s\"", r->id, err);
        ad_worker_send(
            w, json_pack("{s:s, s:s, s:s}", "t", "spawn_failed", "run", r->id, "error", err));
        ad_worker_run_free(w, r);
        return;
    }
    r->conn = conn_new(r, fd);
    r->agent_pid = agent_pid;
    snprintf(r->cwd, sizeof(r->cwd), "%s", cwd);
    const char *agent = json_string_value(json_object_get(msg, "agent"));
    snprintf(r->agent_id, sizeof(r->agent_id), "%s",
             agent != NULL && ad_node_id_ok(agent) ? agent : "");
    json_int_t lease = json_integer_value(json_object_get(msg, "lease"));
    if (lease > (json_int_t)r->lease && lease <= UINT32_MAX) {
        r->lease = (uint32_t)lease;
    }
    ad_worker_run_save(w, r); /* what a restart of this node needs of it (runrec.c) */
    ad_log(AD_LOG_INFO, "node", "run started run=%s pid=%ld", r->id, (long)agent_pid);
    ad_worker_send(w, json_pack("{s:s, s:s, s:I}", "t", "spawned", "run", r->id, "pid",
                                (json_int_t)agent_pid));
    if (r->attach_pending) { /* the plane's ATTACH came first: now, and what followed it */
        r->attach_pending = false;
        frame_down(w, r, r->attach_epoch, r->attach, sizeof(r->attach));
        size_t at = 0;
        const unsigned char *q = (const unsigned char *)r->pendq.data;
        while (r->conn != NULL && r->pendq.len - at >= AD_HOLD_HDR) {
            size_t len = AD_HOLD_HDR + ad_hold_len(q + at);
            frame_down(w, r, r->attach_epoch, q + at, len);
            at += len;
        }
        ad_buf_reset(&r->pendq);
    }
}

static void on_spawn(worker_t *w, json_t *msg)
{
    const char *run = json_string_value(json_object_get(msg, "run"));
    const char *agent = json_string_value(json_object_get(msg, "agent"));
    if (!ad_node_id_ok(run) || ad_worker_run_find(w, run) != NULL) {
        return;
    }
    if (json_is_object(json_object_get(msg, "worktree"))) {
        ad_worker_git_spawn(w, msg); /* in a worktree of its repository (nodegit.c) */
        return;
    }
    char cwd[4200];
    snprintf(cwd, sizeof(cwd), "%s/work/%s", w->cfg->data_dir, ad_node_id_ok(agent) ? agent : run);
    ad_worker_spawn(w, ad_worker_run_add(w, run), msg, cwd);
}

/* The plane is done with the run (its end stored), or never knew it. */
static void on_forget(worker_t *w, json_t *msg, bool end)
{
    const char *id = json_string_value(json_object_get(msg, "run"));
    wrun_t *r = id != NULL ? ad_worker_run_find(w, id) : NULL;
    if (r == NULL) {
        return;
    }
    ad_hold_info_t info;
    if (end && ad_hold_info_read(r->dir, &info) == 0 && ad_hold_alive(&info)) {
        ad_log(AD_LOG_WARN, "node", "ending a run the control plane does not know run=%s", id);
        kill(info.pid, SIGTERM); /* the holder ends its agent, then itself */
    }
    conn_close(r);
    ad_hold_remove(r->dir);
    ad_worker_run_unsave(w, r->id);
    ad_worker_run_free(w, r);
}

/* ---- the link ------------------------------------------------------------------------------ */

static void on_renew(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (w->link == NULL || !w->welcomed) {
        return;
    }
    if (ad_mono_ms() - w->heard_ms > w->lease_ms) {
        /* The plane has not answered for a lease: the link is dead
         * whatever TCP says (a cut, a stall). */
        ad_log(AD_LOG_WARN, "node", "control plane silent for a lease, reconnecting");
        ad_wsc_close(w->link, 0, "silent");
        return;
    }
    ad_worker_send(w, json_pack("{s:s, s:o, s:o}", "t", "renew", "caps", ad_worker_caps(w), "runs",
                                ad_worker_run_figures(w)));
    ad_worker_git_tick(w);
    ad_worker_clis_probe(w); /* what the next renewal says */
}

static void send_hello(worker_t *w)
{
    json_t *runs = json_array(), *leases = json_object();
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        json_array_append_new(runs, json_string(r->id));
        if (r->lease > 0) { /* the plane that holds an older one learns it lost the run */
            json_object_set_new(leases, r->id, json_integer(r->lease));
        }
    }
    ad_worker_send(w, json_pack("{s:s, s:s, s:O, s:s, s:o, s:o, s:o}", "t", "hello", "name",
                                w->name, "labels", w->labels, "version", AD_VERSION, "caps",
                                ad_worker_caps(w), "runs", runs, "leases", leases));
}

static void on_link_open(ad_wsc_t *c, void *ud)
{
    AD_UNUSED(c);
    worker_t *w = ud;
    w->heard_ms = ad_mono_ms();
    send_hello(w);
}

/* Test builds: AGENTD_TEST_NODE_DROP_SPAWN=N drops the first N spawns
 * and closes the link each time, as a link that died with a spawn in
 * flight would (tests/e2e/nodes-flap.test.js). Release builds: never. */
static bool drop_spawn(worker_t *w)
{
    AD_UNUSED(w);
#ifdef AD_TEST_BUILD
    static int dropped;
    const char *n = getenv("AGENTD_TEST_NODE_DROP_SPAWN");
    if (n != NULL && dropped < (int)strtoul(n, NULL, 10)) {
        dropped++;
        ad_log(AD_LOG_WARN, "node", "test: a spawn lost with its link");
        return true;
    }
#endif
    return false;
}

static void on_text(worker_t *w, const char *data, size_t len)
{
    json_t *msg = json_loadb(data, len, 0, NULL);
    const char *t = json_string_value(json_object_get(msg, "t"));
    /* for a run under a lower lease epoch than seen (issue #77): refused */
    json_t *fence = json_object_get(msg, "lease");
    const char *run = json_string_value(json_object_get(msg, "run"));
    wrun_t *r = fence != NULL && run != NULL ? ad_worker_run_find(w, run) : NULL;
    if (t == NULL || (r != NULL && !ad_worker_lease_ok(w, r, json_integer_value(fence), t))) {
        json_decref(msg);
        return;
    }
    if (strcmp(t, "welcome") == 0) {
        json_int_t lease = json_integer_value(json_object_get(msg, "leaseMs"));
        json_int_t renew = json_integer_value(json_object_get(msg, "renewMs"));
        w->lease_ms = lease >= 300 ? (uint64_t)lease : 6000;
        w->renew_ms = renew >= 100 ? (uint64_t)renew : w->lease_ms / 3;
        w->welcomed = true;
        w->link_welcomed = true;
        w->backoff_ms = BACKOFF_MIN_MS;
        w->welcomed_ms = ad_mono_ms();
        uv_timer_start(&w->renew, on_renew, w->renew_ms, w->renew_ms);
        ad_log(AD_LOG_INFO, "node", "joined the control plane node=%s id=%s", w->name,
               json_string_value(json_object_get(msg, "nodeId")) ?: "?");
        printf("agentd node %s joined %s\n", w->name, w->url);
        fflush(stdout);
        ad_worker_learn(w, json_object_get(msg, "planes"));
    } else if (strcmp(t, "planes") == 0) {
        ad_worker_learn(w, json_object_get(msg, "planes"));
    } else if (strcmp(t, "moved") == 0) {
        w->backoff_ms = BACKOFF_MIN_MS; /* the owner is up: dial it at once */
        ad_worker_moved(w, msg);
    } else if (strcmp(t, "spawn") == 0 && drop_spawn(w)) {
        ad_wsc_close(w->link, 0, "test: the spawn lost with its link");
    } else if (strcmp(t, "spawn") == 0) {
        on_spawn(w, msg);
    } else if (strcmp(t, "done") == 0 || strcmp(t, "end") == 0) {
        on_forget(w, msg, t[0] == 'e');
    } else if (strncmp(t, "git_", 4) == 0) {
        ad_worker_git_msg(w, t, msg);
    } else if (strcmp(t, "probe") == 0) {
        ad_worker_probe(w, msg);
    } else if (strcmp(t, "fs") == 0) {
        ad_worker_fs(w, msg);
    } else if (strcmp(t, "session") == 0) {
        ad_worker_session(w, msg);
    } else if (strcmp(t, "ext_sessions") == 0) {
        ad_worker_ext_sessions(w, msg);
    } else if (strcmp(t, "term") == 0) {
        ad_worker_term(w, msg);
    }
    json_decref(msg);
}

static void on_link_message(ad_wsc_t *c, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(c);
    worker_t *w = ud;
    w->heard_ms = ad_mono_ms();
    if (!binary) {
        on_text(w, data, len);
        return;
    }
    char run[AD_LINK_RUN_MAX + 1];
    uint32_t epoch, lease;
    const unsigned char *f;
    size_t flen;
    if (ad_link_parse_lease((const unsigned char *)data, len, run, &epoch, &lease, &f, &flen) !=
            0 ||
        !ad_link_frame_down_ok(f[4], flen - AD_HOLD_HDR)) {
        ad_log(AD_LOG_WARN, "node", "a malformed frame from the control plane, reconnecting");
        ad_wsc_close(w->link, 1002, "malformed frame");
        return;
    }
    wrun_t *r = ad_worker_run_find(w, run);
    if (r != NULL && !ad_worker_lease_ok(w, r, lease, "frame")) {
        return; /* input, a signal, a resize or an attach of a plane that lost the run */
    }
    if (r == NULL && f[4] == AD_HOLD_ATTACH) {
        ad_worker_send(w, json_pack("{s:s, s:s}", "t", "lost", "run", run));
        return;
    }
    if (r != NULL) {
        frame_down(w, r, epoch, f, flen);
    }
}

/* The revoked node's agents end with it: nobody can take their output. */
static void end_all(worker_t *w)
{
    while (w->runs != NULL) {
        json_t *m = json_pack("{s:s}", "run", w->runs->id);
        on_forget(w, m, true);
        json_decref(m);
    }
}

static void stop_loop(worker_t *w, int code);

static void on_link_close(ad_wsc_t *c, int code, const char *reason, void *ud)
{
    AD_UNUSED(c);
    worker_t *w = ud;
    w->link = NULL;
    w->welcomed = false;
    uv_timer_stop(&w->renew);
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        conn_close(r); /* reopened at the next ATTACH, from what the plane has */
    }
    if (w->stopping) {
        return;
    }
    if (code == AD_NODE_CLOSE_REPLACED ||
        (code == 4409 && strncmp(reason, "replaced", 8) == 0)) { /* an older plane's word */
        /* another connection with this node's token took the link: a
         * duplicate (or a stolen token) must not stop the real node; it
         * takes the link back, waiting longer each time in a row */
        if (w->link_welcomed && ad_mono_ms() - w->welcomed_ms >= REPLACED_CALM_MS) {
            w->replaced = 0;
        }
        w->link_welcomed = false;
        w->replaced++;
        unsigned shift = w->replaced < 7 ? w->replaced - 1 : 6;
        uint64_t wait = (uint64_t)REPLACED_MIN_MS << shift;
        wait = wait > REPLACED_MAX_MS ? REPLACED_MAX_MS : wait;
        fprintf(stderr,
                "agentd node: another connection with this node's token replaced the link; "
                "reconnecting in %llu ms (is a second node running with this token?)\n",
                (unsigned long long)wait);
        ad_log(AD_LOG_WARN, "node",
               "link replaced by another connection with this node's token, reconnecting "
               "retry_ms=%llu times=%u",
               (unsigned long long)wait, w->replaced);
        uv_timer_start(&w->retry, on_retry, wait, 0);
        return;
    }
    if (code == 4401 || code == 4403 || code == 4409 || code == 401 || code == 403) {
        fprintf(stderr, "agentd node: the control plane refused this node (%d %s)\n", code, reason);
        ad_log(AD_LOG_ERROR, "node", "refused by the control plane code=%d reason=\"%s\"", code,
               reason);
        if (strcmp(reason, "node revoked") == 0) {
            end_all(w);
        }
        stop_loop(w, EXIT_REFUSED);
        return;
    }
    bool was_up = w->link_welcomed;
    w->link_welcomed = false;
    if (!was_up) {
        snprintf(w->failed_url, sizeof(w->failed_url), "%s", w->url);
        w->failed_ms = ad_mono_ms();
    }
    if (!was_up && w->nurls > 1) {
        /* this control plane cannot be reached: the next one (its runs
         * are taken over by a survivor, docs/operations.md) */
        w->cur = (w->cur + 1) % w->nurls;
        snprintf(w->url, sizeof(w->url), "%s", w->urls[w->cur]);
        if (w->cur != 0) {
            w->backoff_ms = BACKOFF_MIN_MS;
        }
    }
    ad_log(AD_LOG_INFO, "node", "link down code=%d reason=\"%s\" retry_ms=%u next=%s", code, reason,
           w->backoff_ms, w->url);
    uv_timer_start(&w->retry, on_retry, w->backoff_ms, 0);
    w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

static const ad_wsc_handler_t link_handler = {on_link_open, on_link_message, on_link_close};

static void on_retry(uv_timer_t *t)
{
    link_connect(t->data);
}

static void link_connect(worker_t *w)
{
    if (w->stopping || w->link != NULL) {
        return;
    }
    char err[256];
    if (ad_wsc_open(w->loop, w->url, w->token, AD_LINK_TEXT_MAX, &link_handler, w, &w->link, err,
                    sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "node", "cannot open the link: %s", err);
        w->link = NULL;
        snprintf(w->failed_url, sizeof(w->failed_url), "%s", w->url);
        w->failed_ms = ad_mono_ms();
        if (w->nurls > 1) {
            w->cur = (w->cur + 1) % w->nurls;
            snprintf(w->url, sizeof(w->url), "%s", w->urls[w->cur]);
        }
        uv_timer_start(&w->retry, on_retry, w->backoff_ms, 0);
    }
}

void ad_worker_connect(worker_t *w)
{
    link_connect(w);
}

/* ---- the process --------------------------------------------------------------------------- */

void ad_worker_stop(worker_t *w, int code)
{
    stop_loop(w, code);
}

static void stop_loop(worker_t *w, int code)
{
    w->stopping = true;
    ad_worker_key_stop(w);
    w->exit_code = code;
    if (w->link != NULL) {
        ad_wsc_close(w->link, 1001, "node stopping");
    }
    for (wrun_t *r = w->runs; r != NULL; r = r->next) {
        conn_close(r); /* holders keep their agents for the next start */
    }
    uv_timer_stop(&w->renew);
    uv_timer_stop(&w->retry);
    uv_timer_stop(&w->drain);
    uv_signal_stop(&w->sigint);
    uv_signal_stop(&w->sigterm);
    ad_procs_keep_held(w->procs);
    uv_stop(w->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    AD_UNUSED(signum);
    stop_loop(h->data, 0);
}

/* The holders this data dir has: runs a previous node process started. */
static void scan_holders(worker_t *w)
{
    char root[4096];
    DIR *d = ad_hold_root(w->cfg->data_dir, root, sizeof(root)) == 0 ? opendir(root) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "run_", 4) == 0 && ad_node_id_ok(e->d_name)) {
            ad_worker_run_load(w, ad_worker_run_add(w, e->d_name));
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

int ad_node_main(ad_config_t *cfg, int argc, char **argv)
{
    static worker_t w;
    int code = 0;
    if (!ad_worker_args(&w, cfg, argc, argv, &code)) {
        return code;
    }
    char err[512];
    ad_pidlock_t lock;
    if (cfg->data_dir[0] == '\0' || ad_dir_create(cfg->data_dir, err, sizeof(err)) != 0 ||
        ad_pidlock_acquire(&lock, cfg->data_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd node: %s\n", cfg->data_dir[0] ? err : "no data dir");
        return 1;
    }
    umask(077);
    signal(SIGPIPE, SIG_IGN);
    ad_log_set_level(cfg->log_level);
    ad_log_set_format(cfg->log_format);
    w.loop = uv_default_loop();
    ad_loop_thread_set();
    w.procs = ad_procs_new(w.loop, cfg->data_dir);
    /* the agents' sandbox, as a local daemon's (--sandbox, --sandbox-paths
     * before `node`): built here for this node's paths (nodebox.c) */
    ad_procs_sandbox_init(w.procs, strcmp(cfg->sandbox, "off") != 0, cfg->data_dir);
    ad_health_opts_t ho = {.data_dir = cfg->data_dir,
                           .nvml_lib = cfg->nvml_lib,
                           .interval_ms = 2000,
                           .targets = ad_worker_run_targets,
                           .ud = &w};
    w.health = ad_health_new(w.loop, &ho);
    ad_worker_clis_probe(&w);
    w.backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(w.loop, &w.renew);
    uv_timer_init(w.loop, &w.retry);
    uv_timer_init(w.loop, &w.drain);
    w.renew.data = w.retry.data = w.drain.data = &w;
    uv_signal_init(w.loop, &w.sigint);
    uv_signal_init(w.loop, &w.sigterm);
    w.sigint.data = w.sigterm.data = &w;
    uv_signal_start(&w.sigint, on_signal, SIGINT);
    uv_signal_start(&w.sigterm, on_signal, SIGTERM);
    ad_worker_git_scan(&w);
    scan_holders(&w);
    ad_log(AD_LOG_INFO, "node", "starting node=%s join=%s holders=%s", w.name, w.url,
           w.runs != NULL ? "some" : "none");
    int key = ad_worker_key(&w); /* its key, or a trade first (nodereg.c) */
    if (key == 0) {
        link_connect(&w);
    }
    if (key >= 0) {
        uv_run(w.loop, UV_RUN_DEFAULT);
    } else {
        w.exit_code = 2;
    }
    while (w.runs != NULL) {
        wrun_t *r = w.runs;
        w.runs = r->next;
        conn_close(r);
        ad_worker_git_free(r); /* a transfer under way ends with the process */
        free(r);
    }
    uv_close((uv_handle_t *)&w.renew, NULL);
    uv_close((uv_handle_t *)&w.retry, NULL);
    uv_close((uv_handle_t *)&w.drain, NULL);
    uv_close((uv_handle_t *)&w.sigint, NULL);
    uv_close((uv_handle_t *)&w.sigterm, NULL);
    ad_procs_free(w.procs);
    ad_health_close(w.health);
    uv_run(w.loop, UV_RUN_DEFAULT); /* (the CLI probe, if still at work, comes back here) */
    json_decref(w.clis);
    ad_worker_ext_free(&w);
    free(w.clis_last);
    json_decref(w.repos);
    json_decref(w.bases);
    uv_loop_close(w.loop);
    json_decref(w.labels);
    memset(w.token, 0, sizeof(w.token));
    memset(w.reg_token, 0, sizeof(w.reg_token));
    ad_pidlock_release(&lock);
    return w.exit_code;
}
