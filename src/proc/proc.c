/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor: reaping through a SIGCHLD watcher, the close
 * ordering that reports an exit only after the output has ended, signals
 * and the stop escalation (polite step, SIGTERM, SIGKILL to the group),
 * pause/resume, and shutdown. Spawning is spawn.c's, output and input
 * io.c's, the environment env.c's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- supervisor ---------------------------------------------------------- */

static void procs_free_maybe(ad_procs_t *s)
{
    if (s->freeing && s->sig_closed && s->mem == 0) {
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

static void record_status(ad_proc_t *p, int status)
{
    p->exited = true;
    p->s->unreaped--;
    if (WIFEXITED(status)) {
        p->ex.exit_code = WEXITSTATUS(status);
        p->ex.term_signal = 0;
    } else if (WIFSIGNALED(status)) {
        p->ex.exit_code = -1;
        p->ex.term_signal = WTERMSIG(status);
    } else {
        p->ex.exit_code = -1;
        p->ex.term_signal = 0;
    }
    uv_timer_stop(&p->stop_timer);
    if (p->ex.stop_requested) {
        /* A stop means the whole group goes: members that outlived their
         * leader (ignoring SIGTERM, say) get SIGKILL now. */
        kill(-p->pid, SIGKILL);
    }
    ad_log(AD_LOG_DEBUG, "proc", "exited pid=%ld code=%d signal=%d", (long)p->pid, p->ex.exit_code,
           p->ex.term_signal);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    AD_UNUSED(signum);
    ad_procs_t *s = h->data;
    ad_proc_t *next;
    for (ad_proc_t *p = s->head; p != NULL; p = next) {
        next = p->next;
        if (p->exited) {
            continue;
        }
        int status = 0;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            record_status(p, status);
            ad_proc_finish_maybe(p);
        } else if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it: report it rather than wait forever. */
            ad_log(AD_LOG_ERROR, "proc", "child vanished pid=%ld", (long)p->pid);
            p->ex.lost = true;
            record_status(p, 0xff00);
            p->ex.exit_code = -1;
            ad_proc_finish_maybe(p);
        }
    }
    ad_procs_sync_ref(s);
}

ad_procs_t *ad_procs_new(uv_loop_t *loop)
{
    ad_procs_t *s = ad_xcalloc(1, sizeof(*s));
    s->loop = loop;
    uv_signal_init(loop, &s->sigchld);
    s->sigchld.data = s;
    uv_signal_start(&s->sigchld, on_sigchld, SIGCHLD);
    uv_unref((uv_handle_t *)&s->sigchld);
    return s;
}

size_t ad_procs_count(const ad_procs_t *s)
{
    return s->live;
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

static void close_all(ad_proc_t *p)
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

static bool output_done(const ad_proc_t *p)
{
    return (!p->out.used || p->out.eof) && (!p->err.used || p->err.eof);
}

void ad_proc_finish_maybe(ad_proc_t *p)
{
    if (p->finished || !p->exited) {
        return;
    }
    if (!output_done(p)) {
        if (!uv_is_active((uv_handle_t *)&p->drain_timer)) {
            uv_timer_start(&p->drain_timer, ad_proc_on_drain, p->drain_ms, 0);
        }
        return;
    }
    p->finished = true;
    ad_procs_t *s = p->s;
    s->live--;
    uv_timer_stop(&p->drain_timer);
    uv_timer_stop(&p->stop_timer);
    if (p->on_exit != NULL) {
        p->on_exit(p, &p->ex, p->ud);
    }
    close_all(p);
    if (s->shutting_down && s->live == 0 && s->done != NULL) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_ud);
    }
}

/* ---- signals and stop ------------------------------------------------------ */

int ad_proc_signal(ad_proc_t *p, int signum)
{
    if (p->exited) {
        return AD_ESTATE;
    }
    if (kill(-p->pid, signum) != 0) {
        return errno == EPERM ? AD_EPERM : AD_ESTATE;
    }
    return 0;
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
        kill(-p->pid, SIGTERM);
        kill(-p->pid, SIGCONT);
        uv_timer_start(&p->stop_timer, on_stop_timer, p->kill_grace_ms, 0);
    } else if (p->stage < 3) {
        p->stage = 3;
        p->ex.forced = true;
        ad_log(AD_LOG_INFO, "proc", "grace over, sending SIGKILL pid=%ld", (long)p->pid);
        kill(-p->pid, SIGKILL);
    }
}

int ad_proc_stop(ad_proc_t *p, bool force)
{
    if (p->exited) {
        return AD_ESTATE;
    }
    p->ex.stop_requested = true;
    if (force) {
        if (p->stage < 3) {
            p->stage = 3;
            p->ex.forced = true;
            uv_timer_stop(&p->stop_timer);
            kill(-p->pid, SIGKILL);
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
        kill(-p->pid, SIGINT);
        break;
    case AD_PROC_POLITE_SIGINT_CLOSE:
        /* The turn in progress ends with a result; no more input ends the
         * process (reference A.7 and E.6). */
        kill(-p->pid, SIGINT);
        ad_proc_close_stdin(p);
        break;
    case AD_PROC_POLITE_NONE:
        on_stop_timer(&p->stop_timer); /* SIGTERM now */
        return 0;
    }
    if (p->paused) {
        kill(-p->pid, SIGCONT); /* a stopped group cannot act on the request */
        p->paused = false;
    }
    uv_timer_start(&p->stop_timer, on_stop_timer, p->term_grace_ms, 0);
    return 0;
}

int ad_proc_pause(ad_proc_t *p)
{
    if (p->exited || p->paused || p->stage > 0) {
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

/* ---- shutdown and free ------------------------------------------------------ */

void ad_procs_shutdown(ad_procs_t *s, uint64_t grace_ms, void (*done)(void *ud), void *ud)
{
    s->shutting_down = true;
    s->done = done;
    s->done_ud = ud;
    if (s->live == 0) {
        s->done = NULL;
        if (done != NULL) {
            done(ud);
        }
        return;
    }
    uint64_t half = grace_ms / 2;
    ad_log(AD_LOG_INFO, "proc", "stopping processes count=%zu grace_ms=%llu", s->live,
           (unsigned long long)grace_ms);
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (p->exited) {
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

static void on_sig_closed(uv_handle_t *h)
{
    ad_procs_t *s = h->data;
    s->sig_closed = true;
    procs_free_maybe(s);
}

void ad_procs_free(ad_procs_t *s)
{
    if (s == NULL) {
        return;
    }
    s->freeing = true;
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (!p->exited) {
            kill(-p->pid, SIGKILL);
            int status = 0;
            pid_t r;
            do {
                r = waitpid(p->pid, &status, 0);
            } while (r < 0 && errno == EINTR);
            record_status(p, r == p->pid ? status : 0xff00);
        }
        if (!p->finished) {
            p->finished = true;
            s->live--;
            close_all(p);
        }
    }
    uv_close((uv_handle_t *)&s->sigchld, on_sig_closed);
}
