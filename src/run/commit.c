/* SPDX-License-Identifier: MIT */
/*
 * The commit a run started from (issue #35): once the run row is written,
 * HEAD of its worktree is read on the thread pool (src/git) and stored on
 * the run (runs.git_commit), so the run page can say what code it ran even
 * after the branch has moved on. Best effort: a worktree with no commit, or
 * a git error, leaves it unset (logged).
 */
#include "run/features.h"
#include "git/git.h"

#include <stdio.h>
#include <stdlib.h>

/* A commit message kept on a run is cut to this many bytes (at a character
 * boundary): the run page shows it, it is not an archive of the repo. */
#define MESSAGE_MAX 4096

/* A HEAD read in flight, on its runner's list until it answers. The runner
 * going (ad_run_commits_detach) leaves r NULL: the store has closed before
 * it (src/main.c, close_parts), and a late answer writes nothing. */
struct ad_run_commit {
    ad_runner_t *r;
    struct ad_run_commit *prev, *next;
    char run_id[AD_ID_MAX];
};
typedef struct ad_run_commit commit_ctx_t;

static void commit_saved(int rc, json_t *result, void *ud)
{
    char *run_id = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "recording the run's commit failed run=%s error=%s", run_id,
               ad_strerror(rc));
    }
    json_decref(result);
    free(run_id);
}

static void unlink_commit(commit_ctx_t *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        c->r->commits = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
}

static void head_read(const ad_git_result_t *res, void *ud)
{
    commit_ctx_t *c = ud;
    if (c->r == NULL) {
        free(c); /* the runner, and the store before it, are gone */
        return;
    }
    unlink_commit(c);
    if (res->rc == 0 && json_is_object(res->data)) {
        json_t *commit = json_deep_copy(res->data);
        json_t *msg = json_object_get(commit, "message");
        if (json_is_string(msg) && json_string_length(msg) > MESSAGE_MAX) {
            size_t n = ad_utf8_valid_prefix(json_string_value(msg), MESSAGE_MAX);
            json_object_set_new(commit, "message", json_stringn(json_string_value(msg), n));
            json_object_set_new(commit, "messageTruncated", json_true());
        }
        json_t *args = json_pack("{s:s, s:o}", "runId", c->run_id, "commit", commit);
        ad_store_write(c->r->store, ad_store_op_run_commit, args, commit_saved,
                       ad_xstrdup(c->run_id));
    } else if (res->rc != 0 && res->rc != AD_ESTATE) {
        ad_log(AD_LOG_WARN, "runner", "reading the run's commit failed run=%s error=%s", c->run_id,
               res->err.msg[0] != '\0' ? res->err.msg : ad_strerror(res->rc));
    }
    free(c);
}

void ad_run_note_commit(ad_runner_t *r, const char *run_id, const char *path)
{
    AD_ASSERT_LOOP();
    if (path == NULL || path[0] == '\0') {
        return;
    }
    commit_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    snprintf(c->run_id, sizeof(c->run_id), "%s", run_id);
    ad_git_args_t a = {.path = path};
    if (ad_git_queue(r->loop, AD_GIT_OP_HEAD, &a, head_read, c) != 0) {
        free(c);
        return;
    }
    c->r = r;
    c->next = r->commits;
    if (r->commits != NULL) {
        r->commits->prev = c;
    }
    r->commits = c;
}

void ad_run_commits_detach(ad_runner_t *r)
{
    while (r->commits != NULL) {
        commit_ctx_t *c = r->commits;
        unlink_commit(c);
        c->r = NULL;
    }
}
