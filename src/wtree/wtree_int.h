/* SPDX-License-Identifier: MIT */
/*
 * Private to src/wtree: the engine, a request's context carried across its
 * steps, and the helpers every step shares (wtree.c).
 */
#ifndef AD_WTREE_INT_H
#define AD_WTREE_INT_H

#include "wtree/wtree.h"

struct ad_wtree {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    struct ad_runner *runner;
    struct ad_procs *procs;
    struct ad_plane *plane; /* worker nodes, or NULL */
    bool closed;            /* ad_wtree_close ran: the store is gone */
    unsigned inflight;      /* requests under way; the engine goes with the last */
};

/* One request across its steps. */
typedef struct {
    ad_wtree_t *W;
    ad_wtree_cb cb; /* NULL once the outcome was given */
    void *ud;
    json_t *body;  /* the request's arguments (owned) */
    json_t *ws;    /* workspace row (owned) */
    json_t *wt;    /* worktree row (owned) */
    json_t *git;   /* a git result kept between steps (owned) */
    json_t *setup; /* the setup to run (owned) */
    char id[AD_ID_MAX];
    char change[16];
    ad_principal_t who; /* workspace create: who asks */
    bool force;         /* delete ?force=true */
    size_t stopping;    /* agents whose stop has not completed yet */
    int stop_rc;        /* the first failed stop, or 0 */
    bool retried;       /* a worktree add tried again with a new branch */
    bool make_branch;   /* a missing branch is made (ad_wtree_create_t) */
    bool node_read;     /* review: this step is asked of the run's node */
} ad_wtree_ctx_t;

ad_wtree_ctx_t *ad_wtree_ctx_new(ad_wtree_t *W, ad_wtree_cb cb, void *ud);
/* Frees c (the engine with it when closed and c was its last). */
void ad_wtree_ctx_free(ad_wtree_ctx_t *c);
/* Gives c's outcome (once; later calls do nothing). */
void ad_wtree_done(ad_wtree_ctx_t *c, json_t *data);
void ad_wtree_fail(ad_wtree_ctx_t *c, int rc, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ad_wtree_git_fail(ad_wtree_ctx_t *c, const ad_git_result_t *res);
/* A store write's failure of what (id), in the words the REST layer's
 * ad_api_fail uses. */
void ad_wtree_fail_store(ad_wtree_ctx_t *c, int rc, const char *what, const char *id);
/* Ends and frees c with its outcome. */
void ad_wtree_finish(ad_wtree_ctx_t *c, json_t *data);
/* After a pool job: false (the outcome AD_ECLOSED given, c freed) when the
 * engine was closed meanwhile. */
bool ad_wtree_still_open(ad_wtree_ctx_t *c);
/* still_open, and git succeeded (else its error given, c freed). */
bool ad_wtree_step_ok(ad_wtree_ctx_t *c, const ad_git_result_t *res);
/* Queues git work for c; on failure gives AD_EINTERNAL and frees c. */
int ad_wtree_queue(ad_wtree_ctx_t *c, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb cb);
/* The repository of git work on path when path is c's worktree (its
 * workspace's row, into buf), the trust root the job checks; with path
 * NULL and no worktree, c's workspace's (a list or an add, which check its
 * main worktree); NULL when the work is on neither (trust.c). */
const char *ad_wtree_trust_repo(ad_wtree_ctx_t *c, const char *path, char *buf, size_t bufsz);
/* An audit row: git work on worktree wt (a row) refused, why. */
void ad_wtree_trust_audit(ad_wtree_t *W, const json_t *wt, const char *op, const char *why);
/* datadir.c (issue #73): why the work tree at path may not be a workspace
 * (it holds agentd's data dir, or a folder in it looks like a data dir), or
 * NULL. Walks the tree, bounded: loop thread, at
 * registration only. */
const char *ad_wtree_data_dir_repo(const ad_wtree_t *W, const char *path);
/* Whether the worktree at path holds agentd's data dir, or file below it
 * (NULL: none) resolves into the data dir outside the worktree. */
bool ad_wtree_reads_data_dir(const ad_wtree_t *W, const char *path, const char *file);
/* Whether an agent's run on a worker node has the worktree at path now. */
bool ad_wtree_on_node(ad_wtree_t *W, const char *path);
/* The string at key of o, or NULL. Borrowed. */
const char *ad_wtree_jstr(const json_t *o, const char *key);
/* Publishes type with payload to the "prefix", id pairs (NULL-ended; a
 * NULL id skips its pair; "system" with id "" is the bare topic). */
void ad_wtree_emit(ad_wtree_t *W, const char *type, json_t *payload, ...);
void ad_wtree_publish_deleted(ad_wtree_t *W, const char *id, const char *ws_id, const char *org,
                              json_t *agents);
void ad_wtree_publish_agent_flag(ad_wtree_t *W, const char *agent_id, const char *ws_id,
                                 const char *org, bool vanished);

#endif
