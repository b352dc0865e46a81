/* SPDX-License-Identifier: MIT */
/*
 * Run features (issue #79): what a run does for one executor or one
 * option (a command's metrics, approvals, the Codex app-server, ACP, a
 * worker node, …) lives in its own file, with its own state and hooks the
 * run's core calls. The model is nginx's module context:
 *
 *  - a feature is an ad_run_feature_t: a name, the size of its state, and
 *    the hooks it sets (any may be NULL);
 *  - a run holds one slot per feature (run->ctx[AD_RUN_FEAT_*]); the
 *    feature allocates its state at first use (ad_run_ctx: most runs use
 *    few features, and an unused one costs a NULL pointer), reads it back
 *    with ad_run_ctx_peek, and only the feature reads or writes it;
 *  - the core calls the hooks through the ad_run_feat_* functions below,
 *    in the order of the enum (ad_run_features[]).
 *
 * Hooks, in the order a run meets them:
 *   open     the run is made from the agent's row (a start or a run taken
 *            up): what the feature keeps of the agent
 *   launch   before the spawn (a fresh start): the environment (s->env)
 *   input    the process is up (a fresh start): the first protocol lines,
 *            before stdin is closed and the first prompt stored
 *   started  the run row is queued (a fresh start), before the messages
 *            that waited for the spawn are sent
 *   attach   a run taken up (from its holder, or on a node), before it is
 *            linked: the protocol state again
 *   record   each parser record, after live output was flushed: true says
 *            the feature handled it (the core and later features skip it)
 *   flush    before a run's live output goes to the bus (each loop turn,
 *            before each event); final: at the run's end
 *   line_end a stdout line and its records are handled
 *   exit     the process ended and its parser is drained, before the end
 *            is recorded
 *   release  the run is let go (exit, or the runner closing): timers,
 *            children
 *   free     the run is freed: what the state owns (the core then frees
 *            the state itself)
 *
 * Threads: loop thread only, as the run.
 */
#ifndef AD_RUN_FEATURE_H
#define AD_RUN_FEATURE_H

#include "agent/agent.h"
#include "run/run.h"

struct ad_run;

/* The features, in the order their hooks are called. */
typedef enum {
    AD_RUN_FEAT_PROGRAM,   /* feat_program.c: a command's metrics, histograms, tool events */
    AD_RUN_FEAT_CALLS,     /* feat_calls.c: a CLI's tool calls, one row per call */
    AD_RUN_FEAT_OTEL,      /* feat_otel.c: the run's trace context and telemetry endpoint */
    AD_RUN_FEAT_RESUME,    /* resume.c: a fork's session, a lost session's fresh start */
    AD_RUN_FEAT_VERSION,   /* version.c: the CLI's version, probed or said */
    AD_RUN_FEAT_NODE,      /* feat_node.c: a run on a worker node */
    AD_RUN_FEAT_CODEXAPP,  /* codexapp.c: the Codex app-server's thread and stop */
    AD_RUN_FEAT_APPROVALS, /* approvals.c: permission prompts, any executor's */
    AD_RUN_FEAT_ACP,       /* acp.c, acp_term.c: the ACP protocol, requests, terminals */
    AD_RUN_FEAT_TTY,       /* feat_tty.c: a terminal run's raw output for its viewers */
    AD_RUN_FEAT_LIMIT,     /* feat_limit.c: a rate or usage limit suspends the agent */
    AD_RUN_FEAT_GOAL,      /* feat_goal.c: a goal's check after each turn */
    AD_RUN_FEATURES
} ad_run_feat_t;

#define AD_RUN_SBX_ALLOW 32 /* network {allow} entries at most */

/* What an agent's sandbox shows (sandbox.c). */
typedef struct {
    ad_proc_box_t box;
    json_t *policy; /* the effective policy (ad_run_sandbox_of), owned */
} ad_run_sbx_t;

/* What a start needs, gathered from the agent's row (start.c). Owns what
 * it holds; hooks read it, and launch may add to env. */
typedef struct {
    ad_row_agent_t agent; /* its row (schema/rows.def), owned */
    json_t *settings;
    json_t *state; /* borrowed from agent (agent.state) */
    char ws[AD_ID_MAX];
    char path[4096];
    ad_agent_spec_t spec;
    const char **perms, **cmd, **env;
    ad_launch_t launch;
    ad_proc_limits_t limits; /* state.limits {memoryMb, cpuPercent} */
    char *config;            /* the run's config record as JSON text, or NULL */
    json_t *remote_config;   /* on a node: the config's values, for the node to write */
    json_t *remote_sandbox;  /* on a node: the policy its node builds the sandbox from */
    ad_run_sbx_t sbx;        /* what its sandbox shows */
    const char **argv;       /* the launch's argv, the CLI's real program first */
    char *agent_path;        /* the agent's PATH (ad_proc_agent_path); NULL on a node */
    char prog[4096];         /* a command's program as its user's shell finds it */
} ad_run_start_t;

typedef struct ad_run_feature {
    const char *name;
    size_t ctx_size; /* its state per run (0: none) */
    void (*open)(struct ad_run *run, const ad_run_start_t *s);
    void (*launch)(struct ad_run *run, ad_run_start_t *s);
    void (*input)(struct ad_run *run, const ad_run_start_t *s, const char *prompt);
    void (*started)(struct ad_run *run, ad_run_start_t *s);
    void (*attach)(struct ad_run *run, ad_run_start_t *s);
    bool (*record)(struct ad_run *run, const ad_rec_t *rec);
    void (*flush)(struct ad_run *run, bool final);
    void (*line_end)(struct ad_run *run);
    void (*exit)(struct ad_run *run, const ad_proc_exit_t *ex);
    void (*release)(struct ad_run *run);
    void (*free)(struct ad_run *run, void *ctx);
} ad_run_feature_t;

/* Every feature, by its index (feature.c). */
extern const ad_run_feature_t *const ad_run_features[AD_RUN_FEATURES];

/* The feature's state of run, allocated (zeroed) at the first call. */
void *ad_run_ctx(struct ad_run *run, ad_run_feat_t id);
/* The feature's state of run, or NULL when it has none yet. */
void *ad_run_ctx_peek(const struct ad_run *run, ad_run_feat_t id);

/* The core's calls of each hook, feature by feature (feature.c). */
void ad_run_feat_open(struct ad_run *run, const ad_run_start_t *s);
void ad_run_feat_launch(struct ad_run *run, ad_run_start_t *s);
void ad_run_feat_input(struct ad_run *run, const ad_run_start_t *s, const char *prompt);
void ad_run_feat_started(struct ad_run *run, ad_run_start_t *s);
void ad_run_feat_attach(struct ad_run *run, ad_run_start_t *s);
bool ad_run_feat_record(struct ad_run *run, const ad_rec_t *rec);
void ad_run_feat_flush(struct ad_run *run, bool final);
void ad_run_feat_line_end(struct ad_run *run);
void ad_run_feat_exit(struct ad_run *run, const ad_proc_exit_t *ex);
void ad_run_feat_release(struct ad_run *run);
void ad_run_feat_free(struct ad_run *run);

/* The features' own definitions (one per feat_*.c or feature file). */
extern const ad_run_feature_t ad_run_feat_program;
extern const ad_run_feature_t ad_run_feat_calls;
extern const ad_run_feature_t ad_run_feat_otel;
extern const ad_run_feature_t ad_run_feat_resume;
extern const ad_run_feature_t ad_run_feat_version;
extern const ad_run_feature_t ad_run_feat_node;
extern const ad_run_feature_t ad_run_feat_codexapp;
extern const ad_run_feature_t ad_run_feat_approvals;
extern const ad_run_feature_t ad_run_feat_acp;
extern const ad_run_feature_t ad_run_feat_tty;
extern const ad_run_feature_t ad_run_feat_limit;
extern const ad_run_feature_t ad_run_feat_goal;

#endif
