/* SPDX-License-Identifier: MIT */
/*
 * Reaping and the exit report: a SIGCHLD watcher that reaps every exited
 * child (agentd is a subreaper: orphans of agent trees are ours; libuv
 * spawns nothing here), the exit status, the end of the tree with its
 * leader, and the one exit callback per process, given only after its output has ended (io.c's
 * drain timer gives up on output a grandchild keeps open). Closing the handles afterwards is
 * proc.c's.
 */
#include "proc/proc_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    ad_proc_usage_t u;
    ad_cgroup_usage(p->cgroup, &u);
    p->ex.oom_killed = u.oom_killed;
    /* The tree ends with its leader: a background job, a daemon that left
     * the group (setsid) when there is a cgroup, members that ignored
     * SIGTERM; but for a helper whose children are meant to outlive it
     * (leave_tree: the autoscaling hook's nodes). */
    if (!p->leave_tree) {
        ad_proc_kill_tree(p);
    }
    ad_log(AD_LOG_DEBUG, "proc", "exited pid=%ld code=%d signal=%d", (long)p->pid, p->ex.exit_code,
           p->ex.term_signal);
}

void ad_proc_kill_tree(ad_proc_t *p)
{
    if (!p->held && p->pid > 0) { /* a holder ends its agent's group itself */
        kill(-p->pid, SIGKILL);
    }
    if (p->cgroup[0] == '\0') {
        return;
    }
    ad_cgroup_kill(p->cgroup);
    size_t n = strlen(p->cgroup) + 1;
    cg_dead_t *d = ad_xmalloc(sizeof(*d) + n);
    memcpy(d->path, p->cgroup, n);
    d->next = p->s->cg_dead;
    p->s->cg_dead = d;
    p->cgroup[0] = '\0';
}

void ad_procs_reap_cgroups(ad_procs_t *s, bool all)
{
    /* Members die asynchronously after cgroup.kill; when closing, give
     * them a bounded moment (2 s). */
    for (int tries = 0; s->cg_dead != NULL && tries < (all ? 200 : 1); tries++) {
        for (cg_dead_t **pp = &s->cg_dead; *pp != NULL;) {
            cg_dead_t *d = *pp;
            if (ad_cgroup_remove(d->path)) {
                *pp = d->next;
                free(d);
            } else {
                pp = &d->next;
            }
        }
        if (all && s->cg_dead != NULL) {
            usleep(10000);
        }
    }
}

static ad_proc_t *find_pid(ad_procs_t *s, pid_t pid)
{
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (p->pid == pid && !p->exited && !p->held) {
            return p;
        }
    }
    return NULL;
}

/* Reaps every exited child: ours get their exit reported; an orphan of a
 * tree (we are its subreaper) is just reaped; a child some other thread
 * waits for (src/git) keeps its status in core for that thread. */
void ad_proc_on_sigchld(uv_signal_t *h, int signum)
{
    AD_UNUSED(signum);
    ad_procs_t *s = h->data;
    for (;;) {
        int status = 0;
        ad_child_lock();
        pid_t r = waitpid(-1, &status, WNOHANG);
        ad_proc_t *p = r > 0 ? find_pid(s, r) : NULL;
        if (r > 0 && p == NULL) {
            ad_child_status_put_locked(r, status);
        }
        ad_child_unlock();
        if (r <= 0) {
            break;
        }
        if (p != NULL) {
            ad_proc_record_status(p, status);
            ad_proc_finish_maybe(p);
        }
    }
    ad_procs_reap_cgroups(s, false);
    ad_procs_sync_ref(s);
}

static bool output_done(const ad_proc_t *p)
{
    return (!p->out.used || p->out.eof) && (!p->err.used || p->err.eof);
}

void ad_proc_finish_maybe(ad_proc_t *p)
{
    if (p->finished || !p->exited || p->starting) {
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
    if (p->kept) {
        p->kept = false;
        s->kept--;
    }
    uv_timer_stop(&p->drain_timer);
    uv_timer_stop(&p->stop_timer);
    if (p->on_exit != NULL) {
        p->on_exit(p, &p->ex, p->ud);
    }
    ad_proc_close_all(p);
    ad_procs_done_maybe(s);
}

void ad_procs_done_maybe(ad_procs_t *s)
{
    if (s->shutting_down && s->live == s->kept && s->done != NULL) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_ud);
    }
}
