/* SPDX-License-Identifier: MIT */
/*
 * git: the asynchronous layer. A job copies its arguments, runs one
 * synchronous ad_git_* call on the libuv thread pool and hands the result
 * to its callback on the loop thread. The loop thread never touches libgit2.
 */
#include "git/git_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct job {
    uv_work_t work;
    ad_git_op_t op;
    char *repo_path, *path, *name, *branch, *base, *file, *command, *message;
    char *trust_repo;
    bool trust_bare;
    json_t *files;
    json_t *merged;
    bool create_branch, force;
    uint64_t timeout_ms;
    ad_git_done_cb done;
    void *ud;
    ad_git_result_t res;
    uv_loop_t *loop;
    struct job *next; /* in the setup queue, or its repository's */
    char *wkey;       /* a mutation's repository (repo_q_t), else NULL */
} job_t;

/* Setup commands can run for minutes; one at a time keeps them from
 * occupying the pool's few threads, which git reads and the store share.
 * Loop thread only. */
static job_t *setup_head, *setup_tail;
static bool setup_running;

/* Mutations of one repository run one at a time: libgit2 takes git's lock
 * files and fails, rather than waits, when another writer holds them. A
 * mutation waits for its repository here, on the loop, never on a pool
 * thread, and one repository's never waits for another's: the git program
 * a mutation runs (a node's bundle fetched) can wait minutes on a FIFO an
 * agent put in its repository, and a process-wide lock held that long
 * stopped every organisation's mutations. The repository is the trust
 * root's (the job's trust_repo, from agentd's rows); jobs without one share
 * one queue, as all did before. Loop thread only. */
typedef struct repo_q {
    struct repo_q *next;
    char *key;
    job_t *head, *tail; /* waiting behind the one on the pool */
} repo_q_t;
static repo_q_t *busy_repos;

static char *dup_or_null(const char *s)
{
    return s != NULL ? ad_xstrdup(s) : NULL;
}

static void job_free(job_t *j)
{
    free(j->repo_path);
    free(j->path);
    free(j->name);
    free(j->branch);
    free(j->base);
    free(j->file);
    free(j->command);
    free(j->message);
    free(j->trust_repo);
    free(j->wkey);
    json_decref(j->files);
    json_decref(j->merged);
    json_decref(j->res.data);
    ad_git_err_cleanup(&j->res.err);
    free(j);
}

static void run(uv_work_t *w)
{
    job_t *j = w->data;
    ad_git_err_t *e = &j->res.err;
    uint64_t t0 = ad_mono_ns();
    /* The library (agentd-git.so, front.c) is loaded by the first git job
     * or check, not at daemon start. */
    const ad_git_backend_t *be = ad_gitx_backend(e);
    if (be == NULL) {
        j->res.rc = AD_EINTERNAL;
        return;
    }
    /* From here on no open of this thread waits on what an agent put in
     * the repository (noblock.c). */
    ad_untrusted_opens_begin();
    /* The trust root first, on this thread, just before the operation: a
     * worktree whose .git or commondir no longer names what the rows say
     * is refused, and nothing of it is opened (trust.c). */
    ad_git_trust_t trust;
    if (j->trust_repo != NULL) {
        char why[AD_GIT_MSG_MAX - 64];
        /* a repository's own work (list, add) checks its main worktree */
        bool on_repo = j->op == AD_GIT_OP_LIST || j->op == AD_GIT_OP_ADD;
        int trc = ad_git_trust_check(j->trust_repo, j->trust_bare,
                                     on_repo ? j->trust_repo : j->path, &trust, why, sizeof(why));
        if (trc == AD_ENOENT) {
            j->trust_repo[0] = '\0'; /* the folder is gone: the operation says so */
        }
        if (trc != 0 && trc != AD_ENOENT) {
            ad_log(AD_LOG_WARN, "git", "refused op=%s path=%s why=\"%s\"", ad_git_op_name(j->op),
                   j->path != NULL ? j->path : "", why);
            j->res.rc = ad_gitx_fail(e, AD_EPERM, "untrusted_git", "%s", why);
            j->res.elapsed_ns = ad_mono_ns() - t0;
            (void)ad_untrusted_opens_end(NULL, 0);
            return;
        }
    }
    ad_git_args_t a = {.repo_path = j->repo_path,
                       .path = j->path,
                       .name = j->name,
                       .branch = j->branch,
                       .base = j->base,
                       .file = j->file,
                       .command = j->command,
                       .message = j->message,
                       .files = j->files,
                       .merged = j->merged,
                       .create_branch = j->create_branch,
                       .force = j->force,
                       .timeout_ms = j->timeout_ms,
                       .trust_repo = j->trust_repo,
                       .trust_bare = j->trust_bare,
                       .trust = j->trust_repo != NULL && j->trust_repo[0] != '\0' ? &trust : NULL};
    j->res.rc = be->exec(j->op, &a, &j->res.data, e);
    char odd[256];
    if (ad_untrusted_opens_end(odd, sizeof(odd))) {
        /* A FIFO where git keeps a file: someone put it there, refused as
         * the trust root refuses (whatever libgit2 made of the failed open) */
        ad_log(AD_LOG_WARN, "git", "refused op=%s path=%s why=\"a FIFO: %s\"",
               ad_git_op_name(j->op), j->path != NULL ? j->path : "", odd);
        if (j->res.rc != 0) {
            ad_gitx_drop(e, &j->res.data);
            j->res.rc = ad_gitx_fail(e, AD_EPERM, "untrusted_git",
                                     "%s is a FIFO, not a file: git refused to open it", odd);
        }
    }
    j->res.elapsed_ns = ad_mono_ns() - t0;
}

static bool op_writes(ad_git_op_t op)
{
    return op == AD_GIT_OP_ADD || op == AD_GIT_OP_REMOVE || op == AD_GIT_OP_CHECKOUT ||
           op == AD_GIT_OP_COMMIT || op == AD_GIT_OP_MERGE || op == AD_GIT_OP_REBASE ||
           op == AD_GIT_OP_COMMIT_FILES || op == AD_GIT_OP_BUNDLE_FETCH ||
           op == AD_GIT_OP_NODE_WORKTREE;
}

const char *ad_git_op_name(ad_git_op_t op)
{
    static const char *const names[] = {
        "open",     "list", "add",          "setup",  "status",  "remove",       "branches",
        "checkout", "diff", "remove_check", "review", "commits", "commit",       "merge",
        "rebase",   "push", "commit_files", "head",   "bundle",  "bundle_fetch", "node_worktree"};
    return (size_t)op < AD_ARRAY_LEN(names) ? names[op] : "git";
}

static void after(uv_work_t *w, int status);

static int submit(job_t *j)
{
    return uv_queue_work(j->loop, &j->work, run, after) != 0 ? AD_EINTERNAL : 0;
}

/* Starts the next queued setup, if any; a failed start answers it. */
static void setup_next(void)
{
    while (!setup_running && setup_head != NULL) {
        job_t *j = setup_head;
        setup_head = j->next;
        if (setup_head == NULL) {
            setup_tail = NULL;
        }
        j->next = NULL;
        if (submit(j) == 0) {
            setup_running = true;
            return;
        }
        j->res.rc = ad_gitx_fail(&j->res.err, AD_EINTERNAL, "", "cannot queue the setup");
        j->done(&j->res, j->ud);
        job_free(j);
    }
}

static repo_q_t **repo_find(const char *key)
{
    repo_q_t **q = &busy_repos;
    while (*q != NULL && strcmp((*q)->key, key) != 0) {
        q = &(*q)->next;
    }
    return q;
}

/* A mutation to the pool, or behind its repository's; 0, or AD_EINTERNAL
 * when it could not be queued (then nothing holds it). */
static int write_submit(job_t *j)
{
    repo_q_t **q = repo_find(j->wkey);
    if (*q != NULL) {
        if ((*q)->tail != NULL) {
            (*q)->tail->next = j;
        } else {
            (*q)->head = j;
        }
        (*q)->tail = j;
        return 0;
    }
    if (submit(j) != 0) {
        return AD_EINTERNAL;
    }
    repo_q_t *n = ad_xcalloc(1, sizeof(*n));
    n->key = ad_xstrdup(j->wkey);
    *q = n;
    return 0;
}

/* The repository of a mutation that ended: its next to the pool (one that
 * cannot be submitted is answered so), or the repository is free. */
static void write_next(const char *key)
{
    repo_q_t **q = repo_find(key);
    repo_q_t *r = *q;
    if (r == NULL) {
        return;
    }
    while (r->head != NULL) {
        job_t *n = r->head;
        r->head = n->next;
        if (r->head == NULL) {
            r->tail = NULL;
        }
        n->next = NULL;
        if (submit(n) == 0) {
            return;
        }
        n->res.rc = ad_gitx_fail(&n->res.err, AD_EINTERNAL, "", "cannot queue the git operation");
        n->done(&n->res, n->ud);
        job_free(n);
    }
    *q = r->next;
    free(r->key);
    free(r);
}

static void after(uv_work_t *w, int status)
{
    job_t *j = w->data;
    ad_log(AD_LOG_DEBUG, "git", "done op=%s rc=%d elapsed_ms=%.1f", ad_git_op_name(j->op),
           j->res.rc, (double)j->res.elapsed_ns / 1e6);
    if (status == UV_ECANCELED) {
        j->res.rc = ad_gitx_fail(&j->res.err, AD_ECLOSED, "", "the git operation was cancelled");
    }
    bool was_setup = j->op == AD_GIT_OP_SETUP;
    char *wkey = j->wkey;
    j->wkey = NULL;
    j->done(&j->res, j->ud);
    job_free(j);
    if (was_setup) {
        setup_running = false;
        setup_next();
    }
    if (wkey != NULL) {
        write_next(wkey);
        free(wkey);
    }
}

int ad_git_queue(uv_loop_t *loop, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb done,
                 void *ud)
{
    if ((unsigned)op > AD_GIT_OP_NODE_WORKTREE || done == NULL) {
        return AD_EINVAL;
    }
    /* The library is loaded and set up here, on the loop thread (front.c
     * says why); a failure is the job's answer, from run(). */
    ad_git_err_t e;
    ad_git_err_init(&e);
    (void)ad_gitx_ready(&e);
    ad_git_err_cleanup(&e);
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->work.data = j;
    j->op = op;
    j->repo_path = dup_or_null(a->repo_path);
    j->path = dup_or_null(a->path);
    j->name = dup_or_null(a->name);
    j->branch = dup_or_null(a->branch);
    j->base = dup_or_null(a->base);
    j->file = dup_or_null(a->file);
    j->command = dup_or_null(a->command);
    j->message = dup_or_null(a->message);
    j->files = a->files != NULL ? json_deep_copy(a->files) : NULL;
    j->merged = a->merged != NULL ? json_deep_copy(a->merged) : NULL;
    j->create_branch = a->create_branch;
    j->force = a->force;
    j->timeout_ms = a->timeout_ms;
    j->trust_repo = dup_or_null(a->trust_repo);
    j->trust_bare = a->trust_bare;
    j->done = done;
    j->ud = ud;
    j->res.op = op;
    j->loop = loop;
    ad_git_err_init(&j->res.err);
    if (op == AD_GIT_OP_SETUP) {
        if (setup_tail != NULL) {
            setup_tail->next = j;
        } else {
            setup_head = j;
        }
        setup_tail = j;
        setup_next();
        return 0;
    }
    if (op_writes(op)) {
        j->wkey = ad_xstrdup(a->trust_repo != NULL ? a->trust_repo : "");
        if (write_submit(j) != 0) {
            job_free(j);
            return AD_EINTERNAL;
        }
        return 0;
    }
    if (submit(j) != 0) {
        job_free(j);
        return AD_EINTERNAL;
    }
    return 0;
}
