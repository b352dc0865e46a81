/* SPDX-License-Identifier: MIT */
/*
 * Reaping and the exit report: a SIGCHLD watcher that waits only for our
 * own pids (libuv waits only for the ones it spawned, so neither steals the
 * other's children), the exit status, and the one exit callback per
 * process, given only after its output has ended (io.c's drain timer gives
 * up on output a grandchild keeps open). Closing the handles afterwards is
 * proc.c's.
 */
#include "proc/proc_int.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

void ad_proc_record_status(ad_proc_t *p, int status)
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

void ad_proc_on_sigchld(uv_signal_t *h, int signum)
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
            ad_proc_record_status(p, status);
            ad_proc_finish_maybe(p);
        } else if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it: report it rather than wait forever. */
            ad_log(AD_LOG_ERROR, "proc", "child vanished pid=%ld", (long)p->pid);
            p->ex.lost = true;
            ad_proc_record_status(p, 0xff00);
            p->ex.exit_code = -1;
            ad_proc_finish_maybe(p);
        }
    }
    ad_procs_sync_ref(s);
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
    ad_proc_close_all(p);
    if (s->shutting_down && s->live == 0 && s->done != NULL) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_ud);
    }
}
