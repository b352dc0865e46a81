/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor: one per loop, its list of processes, their
 * accessors, and the close ordering that frees a process once its last
 * handle has closed (after its exit was reported). The work is in the
 * other files of src/proc: spawn.c (fork/exec, pipes, pty), io.c (output
 * lines, stdin), exit.c (reaping, the exit report), stop.c (signals, stop
 * escalation, shutdown), env.c (a child's environment).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- supervisor ---------------------------------------------------------- */

static void procs_free_maybe(ad_procs_t *s)
{
    if (s->freeing && s->sig_closed && s->sweep_closed && s->async_closed && s->pace_closed &&
        s->mem == 0) {
        free(s);
    }
}

void ad_procs_sync_ref(ad_procs_t *s)
{
    /* A child that closed its output but still runs has no other handle
     * keeping the loop alive, so the watcher holds it while any child is
     * unreaped, and otherwise lets the loop end. */
    if (s->unreaped > 0 && !s->freeing) {
        uv_ref((uv_handle_t *)&s->sigchld);
    } else {
        uv_unref((uv_handle_t *)&s->sigchld);
    }
}

#define SWEEP_MS 1000

static void on_sweep(uv_timer_t *t)
{
    ad_procs_t *s = t->data;
    ad_proc_on_sigchld(&s->sigchld, SIGCHLD);
}

/* Held output's pace (issue #38, F1). Many holders each send a line now and
 * then, so under load every line was its own wake-up of the loop (and a
 * context switch away from the holder that sent it), and the turn's frames
 * to readers went out a line at a time. When a turn that read held output
 * comes less than PACE_BUSY_NS after the last such turn ended (held lines
 * faster than about 2,000 a second), the loop waits PACE_NS before it
 * polls: the lines of that time are then read in one turn, and the holders
 * that send them do not wake it. A line waits PACE_NS at most; slower
 * output never waits. */
#define PACE_NS 500000L
#define PACE_BUSY_NS 500000ull

static void on_pace(uv_prepare_t *h)
{
    ad_procs_t *s = h->data;
    if (!s->held_read) {
        return;
    }
    s->held_read = false;
    if (uv_hrtime() - s->held_turn_ns < PACE_BUSY_NS) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = PACE_NS};
        nanosleep(&ts, NULL);
    }
    s->held_turn_ns = uv_hrtime(); /* the next gap counts from here, past the wait */
}

ad_procs_t *ad_procs_new(uv_loop_t *loop, const char *instance)
{
    ad_procs_t *s = ad_xcalloc(1, sizeof(*s));
    s->loop = loop;
    /* Orphans of agent trees (a backgrounded job, a daemonized child) come
     * to us instead of init: reaped here, never left behind. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        ad_log(AD_LOG_WARN, "proc", "not a subreaper err=%s", strerror(errno));
    }
    ad_cgroups_init(&s->cg, instance);
    ad_log(AD_LOG_INFO, "proc", "containment how=\"%s\"",
           s->cg.ok ? s->cg.why : "process groups and subreaper");
    if (!s->cg.ok) {
        ad_log(AD_LOG_INFO, "proc", "no cgroup per run why=\"%s\"", s->cg.why);
    }
    uv_signal_init(loop, &s->sigchld);
    s->sigchld.data = s;
    uv_signal_start(&s->sigchld, ad_proc_on_sigchld, SIGCHLD);
    uv_unref((uv_handle_t *)&s->sigchld);
    /* A backstop for the watcher: every second, reap what it may have
     * missed. SIGCHLD is not queued, but the watcher waits for every
     * exited child each time it runs, so none should be missed; yet CI
     * once saw a holder stay a zombie for 30 s with the loop alive (a
     * wake-up lost between the signal and libuv's pipe, never explained).
     * One waitpid a second costs nothing and bounds such a loss. */
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&s->sweep);
    uv_prepare_init(loop, &s->pace);
    s->pace.data = s;
    uv_prepare_start(&s->pace, on_pace);
    uv_unref((uv_handle_t *)&s->pace);
    ad_spawner_init(s);
    return s;
}

size_t ad_procs_count(const ad_procs_t *s)
{
    return s->live;
}

const char *ad_procs_containment(const ad_procs_t *s)
{
    return s->cg.why;
}

bool ad_procs_cgroups(const ad_procs_t *s)
{
    return s->cg.ok;
}

bool ad_procs_closing(const ad_procs_t *s)
{
    return s->shutting_down || s->freeing;
}

void ad_procs_limits(const ad_procs_t *s, bool *memory, bool *cpu)
{
    *memory = s->cg.ok && s->cg.memory;
    *cpu = s->cg.ok && s->cg.cpu;
}

/* ---- close ordering ------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    ad_proc_t *p = h->data;
    if (--p->handles > 0) {
        return;
    }
    ad_procs_t *s = p->s;
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        s->head = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    ad_buf_cleanup(&p->out.line);
    ad_buf_cleanup(&p->err.line);
    ad_buf_cleanup(&p->hbuf);
    free(p->cgroup);
    free(p);
    s->mem--;
    procs_free_maybe(s);
}

void ad_proc_close_handle(ad_proc_t *p, uv_handle_t *h)
{
    AD_UNUSED(p);
    if (!uv_is_closing(h)) {
        uv_close(h, on_handle_closed);
    }
}

void ad_proc_close_all(ad_proc_t *p)
{
    if (p->out.used) {
        ad_proc_close_handle(p, (uv_handle_t *)&p->out.pipe);
    }
    if (p->err.used) {
        ad_proc_close_handle(p, (uv_handle_t *)&p->err.pipe);
    }
    if (p->in_used) {
        ad_proc_close_handle(p, (uv_handle_t *)&p->in);
    }
    ad_proc_close_handle(p, (uv_handle_t *)&p->stop_timer);
    ad_proc_close_handle(p, (uv_handle_t *)&p->drain_timer);
}

/* ---- accessors ----------------------------------------------------------- */

pid_t ad_proc_pid(const ad_proc_t *p)
{
    return p->pid;
}
bool ad_proc_is_pty(const ad_proc_t *p)
{
    return p->pty;
}
bool ad_proc_paused(const ad_proc_t *p)
{
    return p->paused;
}
bool ad_proc_alive(const ad_proc_t *p)
{
    return !p->exited;
}
bool ad_proc_starting(const ad_proc_t *p)
{
    return p->starting;
}
void ad_proc_usage(const ad_proc_t *p, ad_proc_usage_t *u)
{
    ad_cgroup_usage(p->cgroup, u);
}
const char *ad_proc_cgroup(const ad_proc_t *p)
{
    return p->cgroup;
}
bool ad_proc_held(const ad_proc_t *p)
{
    return p->held;
}
uint64_t ad_proc_line_end(const ad_proc_t *p, ad_proc_stream_t stream)
{
    return !p->held ? 0 : stream == AD_PROC_STDERR ? p->err.line_end : p->out.line_end;
}
void ad_procs_keep_held(ad_procs_t *s)
{
    s->keep_held = true;
}

void ad_procs_keep_remote(ad_procs_t *s)
{
    s->keep_remote = true;
}

/* ---- free ----------------------------------------------------------------- */

static void on_sig_closed(uv_handle_t *h)
{
    ad_procs_t *s = h->data;
    s->sig_closed = true;
    procs_free_maybe(s);
}

static void on_sweep_closed(uv_handle_t *h)
{
    ad_procs_t *s = h->data;
    s->sweep_closed = true;
    procs_free_maybe(s);
}

static void on_pace_closed(uv_handle_t *h)
{
    ad_procs_t *s = h->data;
    s->pace_closed = true;
    procs_free_maybe(s);
}

static void on_async_closed(uv_handle_t *h)
{
    ad_procs_t *s = h->data;
    s->async_closed = true;
    procs_free_maybe(s);
}

void ad_procs_free(ad_procs_t *s)
{
    if (s == NULL) {
        return;
    }
    s->freeing = true;
    ad_sandbox_probe_free(s); /* the start's probe, if no one asked yet */
    /* Spawns under way end first: what they started is known, then
     * treated as the rest (no callback is called). */
    ad_spawn_job_t *jobs = ad_spawner_stop(s, on_async_closed);
    while (jobs != NULL) {
        ad_spawn_job_t *j = jobs;
        jobs = j->next;
        ad_proc_spawned(s, j, false);
    }
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (p->finished) {
            continue; /* closed already (a spawn that failed) */
        }
        if (!p->exited && p->held) {
            /* Its holder carries on; a next daemon takes it up again. */
            ad_log(AD_LOG_INFO, "proc", "leaving held process running pid=%ld", (long)p->pid);
        } else if (!p->exited) {
            ad_proc_kill_tree(p);
            int status = 0;
            pid_t r;
            do {
                r = waitpid(p->pid, &status, 0);
            } while (r < 0 && errno == EINTR);
            ad_proc_record_status(p, r == p->pid ? status : 0xff00);
        }
        if (!p->finished) {
            p->finished = true;
            s->live--;
            ad_proc_close_all(p);
        }
    }
    /* Reap what the killed trees left, then drop their cgroups. */
    ad_proc_on_sigchld(&s->sigchld, SIGCHLD);
    ad_procs_reap_cgroups(s, true);
    for (cg_dead_t *d = s->cg_dead, *next; d != NULL; d = next) {
        next = d->next;
        ad_log(AD_LOG_WARN, "proc", "cgroup left behind path=%s", d->path);
        free(d);
    }
    s->cg_dead = NULL;
    ad_cgroups_done(&s->cg);
    uv_close((uv_handle_t *)&s->sigchld, on_sig_closed);
    uv_close((uv_handle_t *)&s->sweep, on_sweep_closed);
    uv_close((uv_handle_t *)&s->pace, on_pace_closed);
}
