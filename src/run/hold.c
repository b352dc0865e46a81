/* SPDX-License-Identifier: MIT */
/*
 * Held runs (issue #15): where a run's holder lives, taking up at start-up
 * every run a previous daemon left under a holder (from the offsets its
 * stored messages carry), the holder's directory removed once a run's end
 * is stored, the line bracket that keeps one line's rows in one commit,
 * and agent processes an older agentd left without a holder (reported,
 * never silent). The holder is src/hold's, its socket src/proc's.
 *
 * The exactly-once rule: a message derived from held output carries the
 * spool offset just past the last byte it covers, in the same row and so
 * the same commit; a new daemon asks the holder for the output from the
 * largest stored offset of each stream. Rows of one line are committed
 * together, so a stored offset never covers half a line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "run/features.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hold/hold.h"
#include "tables/planes.h"

char *ad_run_hold_path(const ad_runner_t *r, const char *run_id)
{
    char dir[4096];
    if (!r->cfg->hold_agents || ad_hold_dir(r->cfg->data_dir, run_id, dir, sizeof(dir)) != 0) {
        return NULL;
    }
    return ad_xstrdup(dir);
}

/* What the holder wrote in its log (its own errors: a full disk, a spool
 * it could not open), into the daemon's log before the directory goes. */
static void log_holder_log(const char *dir)
{
    char text[2048];
    if (ad_hold_log_read(dir, text, sizeof(text)) == 0) {
        return;
    }
    int lines = 0;
    for (char *line = text, *nl; line != NULL && *line != '\0' && lines < 16; line = nl) {
        nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl++ = '\0';
        }
        if (*line != '\0') {
            ad_log(AD_LOG_INFO, "runner", "holder log dir=%s line=\"%s\"", dir, line);
            lines++;
        }
    }
}

/* The folder's removal, at a thread of libuv's pool (issue #80): eight
 * unlinks and an rmdir are about 0.5 ms on ext4, and a commit that stores
 * 50 runs' ends at once ran them all in one loop turn. */
typedef struct {
    uv_work_t work;
    char *dir;
} hold_rm_t;

static void hold_rm_work(uv_work_t *w)
{
    hold_rm_t *h = w->data;
    log_holder_log(h->dir);
    ad_hold_remove(h->dir);
}

static void hold_rm_done(uv_work_t *w, int status)
{
    AD_UNUSED(status);
    hold_rm_t *h = w->data;
    free(h->dir);
    free(h);
}

void ad_run_hold_done(ad_runner_t *r, char *dir, int rc)
{
    if (dir == NULL || rc != 0) {
        free(dir);
        return;
    }
    hold_rm_t *h = ad_xcalloc(1, sizeof(*h));
    h->dir = dir;
    h->work.data = h;
    if (uv_queue_work(r->loop, &h->work, hold_rm_work, hold_rm_done) != 0) {
        hold_rm_work(&h->work); /* no pool: here, as before */
        hold_rm_done(&h->work, 0);
    }
}

/* ---- a full disk (issue #41) ------------------------------------------------------- */

void ad_run_stall_update(ad_run_t *run)
{
    bool now = run->stall.hold || run->stall.store;
    if (now == run->stall.on) {
        return;
    }
    run->stall.on = now;
    if (now) {
        if (!run->stall.hold) {
            snprintf(run->stall.reason, sizeof(run->stall.reason), "%s",
                     ad_run_stuck_reason(run->r));
        }
        run->stall.at = (int64_t)ad_wall_ms();
        ad_log(AD_LOG_WARN, "runner", "run stalled agent=%s run=%s reason=\"%s\"", run->agent_id,
               run->run_id, run->stall.reason);
        ad_run_publish(run->r, &run->topics, "run_stalled",
                       json_pack("{s:s, s:s, s:s, s:I}", "agentId", run->agent_id, "runId",
                                 run->run_id, "reason", run->stall.reason, "since",
                                 (json_int_t)run->stall.at));
        return;
    }
    int64_t ms = (int64_t)ad_wall_ms() - run->stall.at;
    ad_log(AD_LOG_INFO, "runner", "run resumed agent=%s run=%s stalled_ms=%lld", run->agent_id,
           run->run_id, (long long)ms);
    /* The transcript says so too (issue #78), between two lines: a note
     * inside a held line would carry that line's spool offset. */
    if (!run->held.in_line) {
        char text[512];
        bool held = run->proc != NULL && ad_proc_held(run->proc);
        snprintf(text, sizeof(text), "[agentd: this run was stalled for %lld s (%s). %s]",
                 (long long)((ms > 0 ? ms : 0) / 1000), run->stall.reason,
                 held ? "Its output waited in its holder's spool and the agent waited on its "
                        "writes: nothing was lost, and it went on by itself."
                      : "Its output waited for the database; if any could not be kept, the "
                        "run ends degraded and says so here.");
        ad_rec_t note;
        memset(&note, 0, sizeof(note));
        note.is_complete = true;
        json_decref(ad_run_queue_message(run, "system", text, strlen(text), &note, NULL));
    }
    ad_run_publish(run->r, &run->topics, "run_resumed",
                   json_pack("{s:s, s:s, s:I}", "agentId", run->agent_id, "runId", run->run_id,
                             "stalledMs", (json_int_t)(ms > 0 ? ms : 0)));
}

void ad_run_on_stall(ad_proc_t *p, bool stalled, const char *reason, void *ud)
{
    AD_UNUSED(p);
    ad_run_t *run = ud;
    run->stall.hold = stalled;
    if (stalled) {
        snprintf(run->stall.reason, sizeof(run->stall.reason), "%s",
                 reason != NULL && reason[0] != '\0' ? reason : "disk full");
    }
    ad_run_stall_update(run);
}

json_t *ad_runner_run_live(const ad_runner_t *r, const char *run_id)
{
    for (const ad_run_t *run = r->runs; run != NULL; run = run->next) {
        if (strcmp(run->run_id, run_id) != 0) {
            continue;
        }
        char text[4096];
        bool log = run->held.dir != NULL && ad_hold_log_read(run->held.dir, text, sizeof(text)) > 0;
        json_t *stalled = run->stall.on ? json_pack("{s:s, s:I}", "reason", run->stall.reason,
                                                    "since", (json_int_t)run->stall.at)
                                        : json_null();
        json_t *live = json_pack("{s:o, s:o}", "stalled", stalled, "holderLog",
                                 log ? ad_json_text(text, strlen(text)) : json_null());
        ad_run_node_live(run, live); /* on a worker node (feat_node.c) */
        return live;
    }
    return NULL;
}

json_t *ad_runner_stalled(const ad_runner_t *r, const char *org)
{
    json_t *out = json_array();
    for (const ad_run_t *run = r->runs; run != NULL; run = run->next) {
        if (!run->stall.on || (org != NULL && org[0] != '\0' && strcmp(run->org_id, org) != 0)) {
            continue;
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:I}", "agentId", run->agent_id,
                                             "runId", run->run_id, "reason", run->stall.reason,
                                             "since", (json_int_t)run->stall.at));
    }
    return out;
}

void ad_run_line_begin(ad_run_t *run, ad_proc_stream_t stream)
{
    if (run->proc == NULL || !ad_proc_held(run->proc)) {
        return;
    }
    run->held.in_line = true;
    run->held.line_first = run->msgs.batch.n;
    run->held.msg_stream = stream == AD_PROC_STDERR ? 1 : 0;
    run->held.msg_off = ad_proc_line_end(run->proc, stream);
}

void ad_run_line_end(ad_run_t *run)
{
    if (!run->held.in_line) {
        return;
    }
    run->held.in_line = false;
    run->held.msg_off = 0;
    if (run->held.nupdates > 0) {
        ad_run_held_updates_flush(run); /* the line's rows first, then them */
    } else if (run->msgs.batch.n >= AD_RUN_BATCH_MAX ||
               run->msgs.batch.bytes >= AD_RUN_BATCH_BYTES) {
        ad_run_flush_batch(run, NULL, NULL);
    }
}

/* ---- start-up ---------------------------------------------------------------------- */

/* A holder whose run is over (or cannot be taken up): its agent ends. */
static void end_stale(const char *dir, const char *why)
{
    ad_hold_info_t info;
    if (ad_hold_info_read(dir, &info) == 0 && ad_hold_alive(&info)) {
        ad_log(AD_LOG_WARN, "runner", "ending a holder whose run is over dir=%s why=\"%s\"", dir,
               why);
        kill(info.pid, SIGTERM); /* the holder ends its agent and itself */
    }
    ad_hold_remove(dir);
}

/* A stop asked before the restart goes on (issue #32): the escalation
 * starts again, SIGKILL at once when it was forced or its grace is over. */
static void stop_again(ad_runner_t *r, const char *agent_id, const char *run_id)
{
    int64_t since = 0;
    bool force = false;
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL || run->proc == NULL ||
        ad_store_run_stop_asked(r->store, run_id, &since, &force) != 0 || since == 0) {
        return;
    }
    int64_t grace = (int64_t)r->cfg->stop_grace_ms;
    force = force || ad_wall_ms() - since > 2 * grace;
    ad_log(AD_LOG_INFO, "runner", "the stop asked before the restart goes on agent=%s force=%d",
           agent_id, force);
    run->stop.since = since;
    run->stop.force = force;
    ad_proc_stop(run->proc, force);
}

/* The agent keeps the status it had (st, its row's when taken up), with a
 * reason that says the daemon restarted and took its run up again. */
static void note_reattached(ad_runner_t *r, const char *agent_id, const char *run_id,
                            ad_row_agent_status_t st)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL) {
        return;
    }
    ad_store_status_reason_t why;
    ad_status_reason_set(&why, "reattached", run_id,
                         "daemon restarted, run %s re-attached from its holder", run_id);
    ad_run_set_status(run, NULL, st, &why, NULL, NULL);
}

/* Takes up one run from its holder; true when it runs on. */
static bool reattach_one(ad_runner_t *r, const char *run_id, const char *dir)
{
    json_t *run = NULL;
    if (ad_store_run_get(r->store, run_id, &run) != 0) {
        end_stale(dir, "no such run");
        return false;
    }
    const char *status = json_string_value(json_object_get(run, "status"));
    char agent_id[AD_ID_MAX];
    snprintf(agent_id, sizeof(agent_id), "%s",
             json_string_value(json_object_get(run, "agentId")) ?: "");
    int64_t started = 0;
    const char *at_text = json_string_value(json_object_get(run, "startedAt"));
    if (at_text == NULL || ad_time_parse(at_text, &started) != 0) {
        started = ad_wall_ms();
    }
    bool running = status != NULL && strcmp(status, "running") == 0;
    json_decref(run);
    if (!running) {
        end_stale(dir, "the run is not running");
        return false;
    }
    ad_hold_info_t info;
    if (ad_hold_info_read(dir, &info) != 0) {
        end_stale(dir, "no holder info");
        return false;
    }
    int64_t out = 0, err = 0;
    ad_store_run_hold_offsets(r->store, run_id, &out, &err);
    ad_proc_resume_t at = {.agent = info.agent,
                           .holder = info.pid,
                           .pty = info.pty,
                           .replay = !ad_hold_alive(&info),
                           .out_off = (uint64_t)out,
                           .err_off = (uint64_t)err};
    char why[512];
    ad_row_agent_status_t st = AD_ROW_AGENT_STATUS_RUNNING;
    if (ad_run_attach(r, agent_id, run_id, started, dir, &at, &st, why, sizeof(why)) != 0) {
        ad_log(AD_LOG_WARN, "runner", "could not take up a held run run=%s why=\"%s\"", run_id,
               why);
        end_stale(dir, why);
        return false;
    }
    note_reattached(r, agent_id, run_id, st);
    stop_again(r, agent_id, run_id);
    return true;
}

char **ad_run_reattach_all(ad_runner_t *r)
{
    size_t n = 0, cap = 8;
    char **kept = ad_xcalloc(cap + 1, sizeof(char *));
    char root[4096];
    DIR *d = ad_hold_root(r->cfg->data_dir, root, sizeof(root)) == 0 ? opendir(root) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "run_", 4) != 0 || strlen(e->d_name) >= AD_ID_MAX) {
            continue;
        }
        char dir[4096 + 300];
        if (snprintf(dir, sizeof(dir), "%s/%s", root, e->d_name) >= (int)sizeof(dir)) {
            continue;
        }
        /* Taken over while this plane was down (--takeover-dirs on a
         * survivor): the survivor's now, its holder left alone. */
        if (ad_store_run_leased_elsewhere(r->store, r->cfg->plane_id, e->d_name, ad_wall_ms())) {
            ad_log(AD_LOG_INFO, "runner", "a held run is another plane's now run=%s", e->d_name);
            continue;
        }
        if (!reattach_one(r, e->d_name, dir)) {
            continue;
        }
        if (n == cap) {
            cap *= 2;
            kept = ad_xrealloc(kept, (cap + 1) * sizeof(char *));
        }
        kept[n++] = ad_xstrdup(e->d_name);
        kept[n] = NULL;
    }
    if (d != NULL) {
        closedir(d);
    }
    if (n > 0) {
        ad_log(AD_LOG_INFO, "runner", "took up held runs count=%zu", n);
    }
    return kept;
}

/* ---- taking over another plane's held runs (--takeover-dirs) ------------------------------ */

/* A folder of another plane's that may be trusted: a real directory (not a
 * link), ours, that no one else may write to or (the run's) even read. */
static bool own_private_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           (st.st_mode & 077) == 0;
}

/* The next data dir of the comma-separated list at *p, into out; false at
 * its end. Our own data dir is skipped. */
static bool next_takeover_dir(const ad_runner_t *r, const char **p, char *out, size_t outsz)
{
    while (**p != '\0') {
        size_t n = strcspn(*p, ",");
        const char *at = *p;
        *p += n + ((*p)[n] == ',');
        if (n == 0 || n >= outsz) {
            continue;
        }
        memcpy(out, at, n);
        out[n] = '\0';
        if (strcmp(out, r->cfg->data_dir) != 0) {
            return true;
        }
    }
    return false;
}

json_t *ad_runner_takeover_candidates(const ad_runner_t *r)
{
    json_t *ids = json_array();
    const char *p = r->cfg->takeover_dirs;
    char data[4096], root[4200];
    while (json_array_size(ids) < AD_RUN_TAKEOVER_MAX &&
           next_takeover_dir(r, &p, data, sizeof(data))) {
        if (ad_hold_root(data, root, sizeof(root)) != 0 || !own_private_dir(root)) {
            continue;
        }
        DIR *d = opendir(root);
        struct dirent *e;
        while (d != NULL && json_array_size(ids) < AD_RUN_TAKEOVER_MAX &&
               (e = readdir(d)) != NULL) {
            if (ad_id_valid(e->d_name, "run") && ad_run_find_by_run(r, e->d_name) == NULL) {
                json_array_append_new(ids, json_string(e->d_name));
            }
        }
        if (d != NULL) {
            closedir(d);
        }
    }
    return ids;
}

int ad_run_take_held(ad_runner_t *r, const char *run_id, char *err, size_t errsz)
{
    const char *p = r->cfg->takeover_dirs;
    char data[4096], root[4200], dir[4200 + AD_ID_MAX];
    if (!ad_id_valid(run_id, "run")) {
        snprintf(err, errsz, "not a run id");
        return AD_EINVAL;
    }
    while (next_takeover_dir(r, &p, data, sizeof(data))) {
        if (ad_hold_root(data, root, sizeof(root)) != 0 || !own_private_dir(root) ||
            snprintf(dir, sizeof(dir), "%s/%s", root, run_id) >= (int)sizeof(dir) ||
            !own_private_dir(dir)) {
            continue;
        }
        json_t *run = NULL;
        char agent_id[AD_ID_MAX] = "";
        int64_t started = 0;
        bool running = false;
        if (ad_store_run_get(r->store, run_id, &run) == 0) {
            snprintf(agent_id, sizeof(agent_id), "%s",
                     json_string_value(json_object_get(run, "agentId")) ?: "");
            const char *st = json_string_value(json_object_get(run, "status"));
            running = st != NULL && strcmp(st, "running") == 0;
            const char *at = json_string_value(json_object_get(run, "startedAt"));
            if (at == NULL || ad_time_parse(at, &started) != 0) {
                started = ad_wall_ms();
            }
            json_decref(run);
        }
        if (!running) {
            snprintf(err, errsz, "not a running run");
            return AD_ENOENT;
        }
        if (!reattach_one(r, run_id, dir)) {
            /* its holder was ended (reattach_one): the run is over, and no
             * plane will take it up now that its folder is gone */
            ad_store_run_end_t e = {.status = AD_ROW_RUN_STATUS_LOST,
                                    .agent_status = AD_ROW_AGENT_STATUS_ERROR,
                                    .now = ad_wall_ms()};
            e.duration_ms = e.now > started ? e.now - started : 0;
            snprintf(e.id, sizeof(e.id), "%s", run_id);
            snprintf(e.agent_id, sizeof(e.agent_id), "%s", agent_id);
            snprintf(e.reason, sizeof(e.reason), "its holder could not be taken over");
            ad_status_reason_set(&e.why, "lost", run_id,
                                 "control plane %s could not take run %s over from its holder",
                                 r->cfg->plane_id, run_id);
            ad_store_run_end(r->store, &e, NULL, NULL);
            snprintf(err, errsz, "its holder in %s could not be taken up", dir);
            return AD_EIO;
        }
        ad_run_t *taken = ad_run_find(r, agent_id);
        if (taken != NULL) {
            ad_store_status_reason_t why;
            ad_status_reason_set(&why, "taken_over", run_id,
                                 "control plane %s took run %s over from its holder in %s",
                                 r->cfg->plane_id, run_id, data);
            ad_run_set_status(taken, NULL, AD_ROW_AGENT_STATUS_RUNNING, &why, NULL, NULL);
        }
        ad_log(AD_LOG_INFO, "runner", "took a held run over run=%s dir=%s", run_id, dir);
        return 0;
    }
    snprintf(err, errsz, "no holder of it in --takeover-dirs");
    return AD_ENOENT;
}

/* ---- orphans ------------------------------------------------------------------------- */

/* True when pid runs and started no later than the run (ms since the
 * epoch): the same process, not a later one that reused its pid. */
static bool still_there(pid_t pid, int64_t started_ms)
{
    uint64_t start;
    if (pid <= 0 || !ad_hold_proc_start(pid, &start)) {
        return false;
    }
    long hz = sysconf(_SC_CLK_TCK);
    double uptime = 0;
    FILE *f = fopen("/proc/uptime", "re");
    if (f == NULL || hz <= 0) {
        if (f != NULL) {
            fclose(f);
        }
        return false;
    }
    if (fscanf(f, "%lf", &uptime) != 1) {
        uptime = 0;
    }
    fclose(f);
    double boot_ms = (double)ad_wall_ms() - uptime * 1000.0;
    double proc_ms = boot_ms + (double)start * 1000.0 / (double)hz;
    return proc_ms <= (double)started_ms + 2000.0; /* clock steps and rounding */
}

void ad_run_find_orphans(ad_runner_t *r, json_t *runs)
{
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run)
    {
        json_int_t pid = json_integer_value(json_object_get(run, "pid"));
        json_int_t started = json_integer_value(json_object_get(run, "startedAt"));
        if (!still_there((pid_t)pid, started)) {
            continue;
        }
        const char *run_id = json_string_value(json_object_get(run, "id"));
        const char *agent_id = json_string_value(json_object_get(run, "agentId"));
        ad_log(AD_LOG_WARN, "runner",
               "agent process left running by an agentd without holders, not supervised: "
               "stop it by hand pid=%lld run=%s agent=%s",
               (long long)pid, run_id, agent_id);
        ad_row_agent_t agent = {0};
        char ws[AD_ID_MAX], path[8];
        if (agent_id != NULL) {
            ad_store_runs_agent_get(r->store, agent_id, &agent, ws, path, sizeof(path));
        }
        json_array_append_new(r->orphans,
                              json_pack("{s:s?, s:s?, s:s?, s:I}", "runId", run_id, "agentId",
                                        agent_id, "orgId", agent.org_id, "pid", pid));
        ad_row_agent_cleanup(&agent);
    }
}

json_t *ad_runner_orphans(const ad_runner_t *r)
{
    return r->orphans;
}

json_t *ad_runner_holders(const ad_runner_t *r, const char *org)
{
    json_t *out = json_array();
    for (const ad_run_t *run = r->runs; run != NULL; run = run->next) {
        if (run->proc == NULL || !ad_proc_held(run->proc) || run->pending != NULL ||
            (org != NULL && org[0] != '\0' && strcmp(run->org_id, org) != 0)) {
            continue;
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s}", "runId", run->run_id,
                                             "agentId", run->agent_id, "pid",
                                             (json_int_t)ad_proc_holder_pid(run->proc), "version",
                                             ad_proc_holder_version(run->proc)));
    }
    return out;
}
