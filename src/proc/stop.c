/* SPDX-License-Identifier: MIT */
/*
 * Signals and stop escalation: signals to a child's whole process group,
 * the graceful stop (the polite step, SIGTERM after a grace, SIGKILL after
 * another), force, pause/resume (SIGSTOP/SIGCONT), and the shutdown of
 * every child at once within one grace. Reaping what stopped is exit.c's.
 */
#include "proc/proc_int.h"

#include "hold/hold.h"

#include <errno.h>
#include <signal.h>

int ad_proc_kill_group(ad_proc_t *p, int signum)
{
    if (p->starting) {
        return AD_ESTATE; /* no pid yet: never kill(-0) */
    }
    if (p->held) {
        int32_t sig = signum;
        return ad_proc_held_send(p, AD_HOLD_SIGNAL, &sig, sizeof(sig));
    }
    if (kill(-p->pid, signum) != 0) {
        return errno == EPERM ? AD_EPERM : AD_ESTATE;
    }
    return 0;
}

int ad_proc_signal(ad_proc_t *p, int signum)
{
    if (p->exited) {
        return AD_ESTATE;
    }
    return ad_proc_kill_group(p, signum);
}

/* At shutdown, once SIGKILL is sent: a run on a worker node whose node is
 * away would end only when the node comes back (or its grace runs out,
 * minutes later). Its holder there keeps it, as --keep-agents would, and
 * the next agentd takes it up from the node; the daemon does not wait. */
static void remote_left_to_node(ad_proc_t *p)
{
    if (p->remote && p->s->shutting_down && !p->kept && !p->finished) {
        ad_log(AD_LOG_INFO, "proc", "left to its node's holder at shutdown pid=%ld", (long)p->pid);
        p->kept = true;
        p->s->kept++;
        ad_procs_done_maybe(p->s);
    }
}

static void on_stop_timer(uv_timer_t *t)
{
    ad_proc_t *p = t->data;
    if (p->exited) {
        return;
    }
    if (p->stage < 2) {
        p->stage = 2;
        ad_log(AD_LOG_INFO, "proc", "grace over, sending SIGTERM pid=%ld", (long)p->pid);
        ad_proc_kill_group(p, SIGTERM);
        ad_proc_kill_group(p, SIGCONT);
        uv_timer_start(&p->stop_timer, on_stop_timer, p->kill_grace_ms, 0);
    } else if (p->stage < 3) {
        p->stage = 3;
        p->ex.forced = true;
        ad_log(AD_LOG_INFO, "proc", "grace over, sending SIGKILL pid=%ld", (long)p->pid);
        ad_proc_kill_group(p, SIGKILL);
        remote_left_to_node(p);
    }
}

int ad_proc_stop(ad_proc_t *p, bool force)
{
    if (p->exited) {
        return AD_ESTATE;
    }
    p->ex.stop_requested = true;
    if (p->starting) { /* applied once it runs (spawn.c) */
        p->start_stop = force ? 2 : p->start_stop > 0 ? p->start_stop : 1;
        return 0;
    }
    if (force) {
        if (p->stage < 3) {
            p->stage = 3;
            p->ex.forced = true;
            uv_timer_stop(&p->stop_timer);
            ad_proc_kill_group(p, SIGKILL);
            remote_left_to_node(p);
        }
        return 0;
    }
    if (p->stage > 0) {
        return 0; /* already on its way */
    }
    p->stage = 1;
    switch (p->polite) {
    case AD_PROC_POLITE_CLOSE_STDIN:
        ad_proc_close_stdin(p);
        break;
    case AD_PROC_POLITE_SIGINT:
        ad_proc_kill_group(p, SIGINT);
        break;
    case AD_PROC_POLITE_SIGINT_CLOSE:
        /* The turn in progress ends with a result; no more input ends the
         * process (reference A.7 and E.6). */
        ad_proc_kill_group(p, SIGINT);
        ad_proc_close_stdin(p);
        break;
    case AD_PROC_POLITE_NONE:
        on_stop_timer(&p->stop_timer); /* SIGTERM now */
        return 0;
    }
    if (p->paused) {
        ad_proc_kill_group(p, SIGCONT); /* a stopped group cannot act on the request */
        p->paused = false;
    }
    uv_timer_start(&p->stop_timer, on_stop_timer, p->term_grace_ms, 0);
    return 0;
}

int ad_proc_pause(ad_proc_t *p)
{
    if (p->exited || p->paused || p->stage > 0 || p->starting) {
        return AD_ESTATE;
    }
    int rc = ad_proc_signal(p, SIGSTOP);
    if (rc == 0) {
        p->paused = true;
    }
    return rc;
}

int ad_proc_resume(ad_proc_t *p)
{
    if (p->exited || !p->paused) {
        return AD_ESTATE;
    }
    int rc = ad_proc_signal(p, SIGCONT);
    if (rc == 0) {
        p->paused = false;
    }
    return rc;
}

void ad_procs_shutdown(ad_procs_t *s, uint64_t grace_ms, void (*done)(void *ud), void *ud)
{
    s->shutting_down = true;
    s->shutdown_grace_ms = grace_ms;
    s->done = done;
    s->done_ud = ud;
    for (ad_proc_t *p = s->head; p != NULL && (s->keep_held || s->keep_remote); p = p->next) {
        /* one still starting is kept, or stopped, once it runs (spawn.c) */
        bool keep = (s->keep_held && p->held) || (s->keep_remote && p->remote);
        if (keep && !p->finished && !p->kept && !p->starting) {
            p->kept = true; /* --keep-agents: its holder keeps it */
            s->kept++;
        }
    }
    if (s->live == s->kept) {
        s->done = NULL;
        if (done != NULL) {
            done(ud);
        }
        return;
    }
    uint64_t half = grace_ms / 2;
    ad_log(AD_LOG_INFO, "proc", "stopping processes count=%zu grace_ms=%llu", s->live - s->kept,
           (unsigned long long)grace_ms);
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (p->exited || p->kept || p->starting) {
            continue;
        }
        if (p->term_grace_ms > half) {
            p->term_grace_ms = half;
        }
        p->kill_grace_ms = grace_ms - p->term_grace_ms;
        if (p->stage == 0) {
            ad_proc_stop(p, grace_ms == 0);
        } else if (p->stage == 1 && uv_is_active((uv_handle_t *)&p->stop_timer)) {
            uv_timer_start(&p->stop_timer, on_stop_timer, p->term_grace_ms, 0);
        } else if (p->stage == 2 && uv_is_active((uv_handle_t *)&p->stop_timer)) {
            uv_timer_start(&p->stop_timer, on_stop_timer, p->kill_grace_ms, 0);
        }
    }
}
