/* SPDX-License-Identifier: MIT */
/*
 * Private to src/monitor: the monitor's state, shared by monitor.c (the
 * sampler's feed), status.c (GET /api/health's figures) and history.c (the
 * history read back from disk).
 */
#ifndef AD_MONITOR_INT_H
#define AD_MONITOR_INT_H

#include "monitor/monitor.h"

struct ad_monitor {
    ad_monitor_opts_t o;
    ad_health_t *health;
    ad_health_pend_t *pend;  /* records not yet on disk (NULL without a store) */
    uint64_t puts;           /* host chunks stored (the history is trimmed every tenth) */
    uint64_t event_ms;       /* the last system_health event (monotonic ms) */
    json_t *requirements;    /* the last requirements check, kept a minute */
    int64_t requirements_ms; /* when it was made (wall clock) */
    size_t reads; /* history reads and checks under way: the last one frees a closed monitor */
    bool closed;  /* ad_monitor_free was called while reads were under way */
};

/* sbxcheck.c: a program tried in an agent's sandbox, its inputs copied on
 * the loop (ad_monitor_box_inputs; ad_monitor_box_cleanup after) and run
 * on the pool. */
typedef struct {
    const struct ad_procs *procs;
    bool owners; /* as an agent of the owner's organisation */
    char agent_id[96];
    char data_dir[4096];
    char sandbox_paths[4096];
    char home[4096];
    char wt[4096]; /* a worktree of agentd's to check in, "" for a scratch one */
    char *path;    /* the agent's PATH (owned) */
} ad_monitor_box_t;
void ad_monitor_box_inputs(const ad_monitor_t *m, const char *org, ad_monitor_box_t *b);
void ad_monitor_box_cleanup(ad_monitor_box_t *b);
/* {sandbox, command, program, agentPath, shown: [{at, from?, mode}], started,
 * ok, exitCode, output, error}: new reference. cli: "claude"… or NULL. */
json_t *ad_monitor_box_run(const ad_monitor_box_t *b, const char *cli, const char *const *argv);
/* A line "<CLI> in the agent sandbox" per agent CLI found, onto items. */
void ad_monitor_box_items(const ad_monitor_box_t *b, const ad_health_tool_t *tools, size_t n,
                          json_t *items);

#endif
