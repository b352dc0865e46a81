/* SPDX-License-Identifier: MIT */
/*
 * tables: runs (runs.c, runstop.c, status.c, testrows.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_RUNS_H
#define AD_TABLES_RUNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rows.h"
#include "store/store.h"
#include "tables/messages.h"

/* ---- runs (runs.c; written by the runner, src/run) ------------------------------
 * The run object: id, agentId, startedAt, endedAt, status (running,
 * succeeded, failed, stopped, lost, degraded: it ended well but some of
 * its output was lost, issue #41), exitCode, signal, durationMs,
 * inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd,
 * numTurns (null where not known yet), name, color, tags, notes, group
 * (issue #35: name and color have defaults; see AD_RUN_NAME_SQL).
 */
/* Statuses are the schema's enums (schema/rows.def, build/<mode>/gen/rows.h:
 * ad_row_run_status_t, ad_row_agent_status_t and their one string table,
 * ad_row_*_name() and ad_row_*_parse()), so a misspelt one does not compile. */
/* Why an agent has its status (issue #33): stored as agents.status_reason
 * {code, text, at, ref} with every change of status, and kept in the
 * agent's status history (migration 2470). code is a short word
 * ("run_started", "turn_ended", "approval_requested", "exited", "lost", …),
 * text what a person reads, ref the id of what caused it (a message,
 * approval or run id; "" for none). code "" means no reason: the store then
 * records "unexplained" for a status that changed. */
typedef struct {
    char code[32];
    char text[256];
    char ref[128];
} ad_store_status_reason_t;
/* Fills r from code, ref (NULL: none) and a printf text. Any thread. */
void ad_status_reason_set(ad_store_status_reason_t *r, const char *code, const char *ref,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* {agentId, entries:[{status, code, text, ref, at}]} newest first, at most
 * limit (1-200). AD_ENOENT for an unknown agent. Loop thread. */
int ad_store_status_history(ad_store_t *st, const char *agent_id, int limit, json_t **out);
int ad_store_run_get(ad_store_t *st, const char *id, json_t **out);
/* A run's identity (issue #35): args {id, set: {name?, color?, tags?,
 * notes?, group?}}, each a string (tags a JSON array) or null for the
 * default; checked by the caller, taken by the call (as ad_store_write's
 * args). cb gets the run (a reference it owns), or
 * AD_ENOENT. Loop thread. */
void ad_store_run_patch(ad_store_t *st, json_t *args, ad_store_result_cb cb, void *ud);
/* {runs:[…]} of one agent, newest first, at most limit (1-1000; else 100). */
int ad_store_run_list(ad_store_t *st, const char *agent_id, int limit, json_t **out);
/* The agent (any, archived too) into *agent (zeroed first; the caller
 * cleans it up, whatever the answer), its worktree's workspace id and path
 * ("" when the worktree is gone). 0 or AD_ENOENT. Loop thread. */
int ad_store_runs_agent_get(ad_store_t *st, const char *id, ad_row_agent_t *agent,
                            char workspace_id[AD_ID_MAX], char *path, size_t pathsz);
/* A run begins: a 'running' run row; the agent becomes running with pid and
 * startedAt, its state.statusReason cleared. AD_ENOENT for an unknown
 * agent. cb gets {run, agent}. Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    int64_t now;
    int64_t pid;                  /* 0: not known */
    char *config;                 /* the run's config as JSON text, or NULL; malloc'd, taken
                                     over by the call (freed after the write) */
    ad_store_status_reason_t why; /* the agent's new statusReason */
    char node_id[AD_ID_MAX];      /* the worker node it runs on (issue #34); "": here */
    /* the control plane starting it ("": none): the run gets its lease at
     * once, lasting lease_ms from now, and lease epoch 1 (issue #77) */
    char plane_id[AD_ID_MAX];
    int64_t lease_ms;
} ad_store_run_start_t;
void ad_store_run_start(ad_store_t *st, const ad_store_run_start_t *s, ad_store_result_cb cb,
                        void *ud);

/* The version of the CLI a run uses (runs.cli_version, `cliVersion` on the
 * wire); an unknown run id changes nothing. cb gets NULL. Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    char version[64];
    char plane_id[AD_ID_MAX]; /* the plane writing it ("": none): as ad_store_run_usage_t's */
} ad_store_run_cli_version_t;
void ad_store_run_cli_version(ad_store_t *st, const ad_store_run_cli_version_t *v,
                              ad_store_result_cb cb, void *ud);

/* A live run's usage so far (after each turn): tokens, cost and turns of the
 * row while it is running (an ended or unknown run changes nothing; the end
 * writes the totals again). cb gets NULL. Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
    int64_t num_turns;
    /* the control plane writing it ("": none said): nothing is written while
     * another plane holds a live lease on the run (issue #77: a plane that
     * lost the lease writes nothing of the run) */
    char plane_id[AD_ID_MAX];
} ad_store_run_usage_t;
void ad_store_run_usage(ad_store_t *st, const ad_store_run_usage_t *u, ad_store_result_cb cb,
                        void *ud);

/* A run ends: its status, exit, duration and usage; the agent gets
 * agent_status, no pid, stoppedAt, and state.statusReason = reason when one
 * is given. cb gets {run, agent}; AD_EINVAL for status AD_ROW_RUN_STATUS_RUNNING, or
 * an agent_status that is running or stopping (an ended run leaves its agent
 * in a stored status that is not running; nothing is written). Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    ad_row_run_status_t status;         /* how it ended: not AD_ROW_RUN_STATUS_RUNNING */
    ad_row_agent_status_t agent_status; /* what the agent becomes: not running, stopping */
    char reason[256];                   /* "": none (state.statusReason, the old string) */
    ad_store_status_reason_t why;       /* the agent's new statusReason */
    int64_t now;
    int64_t duration_ms;
    bool has_exit_code;
    int exit_code;
    int signal; /* 0: none */
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
    int64_t num_turns;
    /* the control plane ending it ("": none said): a live lease of another
     * plane on the run refuses the end (AD_ESTATE, nothing written; issue
     * #77: a plane that lost a run's lease ends nothing of it) */
    char plane_id[AD_ID_MAX];
} ad_store_run_end_t;
void ad_store_run_end(ad_store_t *st, const ad_store_run_end_t *e, ad_store_result_cb cb, void *ud);

/* What a live run changes on its agent; empty fields stay as they are.
 * state_patch (an object, or NULL) is merged key by key into state; the
 * reference is taken. AD_ENOENT for an unknown agent. cb gets {agent}. */
typedef struct {
    char id[AD_ID_MAX];
    int64_t now;
    bool set_status;              /* false: the status stays as it is */
    ad_row_agent_status_t status; /* the new one, when set_status */
    ad_store_status_reason_t why; /* code "": statusReason unchanged */
    char session_id[256];         /* "": unchanged */
    int context_level;            /* < 0: unchanged */
    json_t *state_patch;
    /* the live run making the change and the control plane writing it (""
     * both: none said): nothing is written while another plane holds a
     * live lease on that run (AD_ESTATE; issue #77) */
    char run_id[AD_ID_MAX];
    char plane_id[AD_ID_MAX];
} ad_store_agent_runtime_t;
void ad_store_agent_runtime(ad_store_t *st, const ad_store_agent_runtime_t *u,
                            ad_store_result_cb cb, void *ud);

/* Inserts msgs[0..n) (plain inserts: each agent and run must exist), all
 * or none, and calls done after the commit. msgs and every string they
 * point to are borrowed until done. Loop thread. */
void ad_store_messages_insert(ad_store_t *st, const ad_store_message_t *msgs, size_t n,
                              ad_store_done_cb done, void *ctx);

/* Every run still 'running' (left by a daemon that died) becomes 'lost'
 * with endedAt/durationMs; its agent becomes 'error' with no pid and
 * state.statusReason = reason. cb gets {runs:[{id, agentId, startedAt}],
 * agents:[…]}. Loop thread. */
void ad_store_runs_reconcile(ad_store_t *st, int64_t now, const char *reason, ad_store_result_cb cb,
                             void *ud);
/* The same, leaving alone the runs named in keep (NULL-terminated, may be
 * NULL; copied): those a new daemon has taken up again from their holders.
 * Each lost run in the result also has the agent's last `pid` (or null),
 * so what an older daemon left running without a holder can be found. */
void ad_store_runs_reconcile_keep(ad_store_t *st, int64_t now, const char *reason,
                                  const char *const *keep, ad_store_result_cb cb, void *ud);
/* Where a held run's output is to be read again: the largest stored
 * hold_out and hold_err of its messages (0 when none), read from the run's
 * row of run_hold (migration 2850), which the message writes keep in the
 * same commit. Loop thread. */
int ad_store_run_hold_offsets(ad_store_t *st, const char *run_id, int64_t *out, int64_t *err);
/* The stop asked of a running run (runstop.c, migration 2480): mark queues
 * the write (the first since is kept, force only rises); asked reads it
 * back (*since 0: none), for a run taken up from its holder. Loop thread. */
void ad_store_run_stop_mark(ad_store_t *st, const char *run_id, int64_t since, bool force);
int ad_store_run_stop_asked(ad_store_t *st, const char *run_id, int64_t *since, bool *force);

/* args {runId, commit}: the commit the run started from (runs.git_commit,
 * migration 2731; runs.c). */
int ad_store_op_run_commit(ad_store_tx_t *tx, json_t *args, json_t **result);

#ifdef AD_TEST_BUILD
/* Test builds (src/store/testhooks.c), for the test routes: a run row with
 * a given status, and an agent's status set directly. done gets AD_ENOENT
 * for an unknown agent. Loop thread. */
typedef struct {
    int64_t duration_ms; /* < 0: none (a running run) */
    int64_t input_tokens, output_tokens;
    double cost_usd;
    char node[64]; /* runs.node_id; "": the control plane's (NULL) */
} ad_store_test_run_t;
/* x (may be NULL) gives a finished run its figures. */
void ad_store_test_run_insert(ad_store_t *st, const char *id, const char *agent_id,
                              const char *status, const ad_store_test_run_t *x,
                              ad_store_done_cb done, void *ctx);
void ad_store_test_agent_status(ad_store_t *st, const char *agent_id, const char *status,
                                ad_store_done_cb done, void *ctx);
#endif

#endif
