/* SPDX-License-Identifier: MIT */
/*
 * Private to src/run: a run's state, the runner, and the functions its
 * files share (runner.c: life cycle, events and agent updates; start.c;
 * output.c: parser records, live output and stored messages; exit.c;
 * control.c: stop, pause, input).
 *
 * Threads: loop thread only.
 */
#ifndef AD_RUN_INT_H
#define AD_RUN_INT_H

#include "agent/agent.h"
#include "run/run.h"

#define AD_RUN_OUT_FLUSH_BYTES (64 * 1024) /* coalesced output becomes a message */
#define AD_RUN_FLUSH_MS 100
#define AD_RUN_BATCH_MAX 256
#define AD_RUN_BATCH_BYTES (4 * 1024 * 1024)
/* Message bytes handed to the writer and not yet committed, over all runs:
 * past it, plain output is not stored (events still go out live). */
#define AD_RUN_INFLIGHT_BYTES (16 * 1024 * 1024)
#define AD_RUN_STATE_ENV_MAX 256
/* The last raw terminal output kept for viewers that attach later. */
#define AD_RUN_REPLAY_BYTES (64 * 1024)
/* Plain output lines read in one loop iteration go out as one agent_output
 * event (a line at a time when that is all there is). */
#define AD_RUN_LIVE_BYTES (64 * 1024)
/* Metric points handed to the store at once at most (issue #16). */
#define AD_RUN_METRIC_BATCH 20000
/* Metric batches out at the writer before runs hold theirs, and the points a
 * run holds before it hands them over anyway. */
#define AD_RUN_METRIC_JOBS_MAX 32
#define AD_RUN_METRIC_HOLD_MAX 200000
/* Events published and not yet in the events table: past this, plain
 * output is not streamed live (it is still stored), so a flooding agent
 * cannot grow the bus without bound. The bus holds events a few ms to
 * commit them together, and at 10k lines/s a commit or two already spans
 * more than a hundred events: 4096 is about 0.4 s of lag at that rate
 * (about 1 MB of events), well past a healthy writer's. */
#define AD_RUN_LIVE_BACKLOG_MAX 4096

/* The topics a run's events go to: agent, run, workspace, org (so only
 * its organisation's subscribers get them) and its crew's, if any. */
typedef struct {
    char t[5][96];
    const char *v[5];
    size_t n;
} ad_run_topics_t;

/* A message not yet handed to the writer; it owns its strings. */
typedef struct {
    char id[AD_ID_MAX];
    const char *role; /* static */
    char *content, *tool_name, *tool_input, *tool_output;
    int64_t token_count;
    int64_t now;
    bool is_complete;
    bool output; /* plain output: may be shed when the writer is behind */
    size_t bytes;
} ad_run_msg_t;

typedef struct {
    ad_run_msg_t *v;
    size_t n, cap;
    size_t bytes;
} ad_run_batch_t;

struct ad_runner_tap {
    struct ad_runner_tap *next, *prev;
    struct ad_run *run;
    ad_runner_raw_cb cb;
    void *ud;
};

typedef struct ad_run_waiter {
    struct ad_run_waiter *next;
    ad_runner_cb cb;
    void *ud;
} ad_run_waiter_t;

typedef struct ad_run {
    ad_runner_t *r;
    struct ad_run *next;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    char crew_id[AD_ID_MAX]; /* "" when the agent is in no crew */
    char org_id[AD_ID_MAX];
    ad_run_topics_t topics;
    ad_executor_t exec;
    bool stdin_json; /* claude stream-json input */
    bool accepts_input;
    bool one_shot;                 /* codex/gemini: the run is one turn */
    char cli_version[64];          /* "" until the CLI's version is known */
    char prompt_msg_id[AD_ID_MAX]; /* the first prompt's message, or "" */
    ad_parser_t *parser;
    ad_recs_t recs;
    ad_proc_t *proc;
    uint64_t started_ns;
    ad_usage_t usage;
    double cost;
    int64_t turns;
    bool had_error;
    char reason[256];
    ad_buf_t out[2];      /* pending output text: stdout, stderr */
    ad_run_batch_t batch; /* messages not yet handed to the writer */
    uint64_t dropped;     /* output messages not stored: the writer was behind */
    uv_timer_t flush;
    bool flush_init;
    ad_run_waiter_t *stop_waiters;
    bool pty;
    ad_buf_t live[2]; /* plain output read this loop iteration */
    bool live_dirty;
    json_t *metric_points; /* metric points read this loop iteration (issue #16) */
    uint64_t live_dropped; /* bytes not streamed live */
    ad_buf_t replay;       /* the last raw terminal output, for new viewers */
    ad_runner_tap_t *taps;
} ad_run_t;

struct ad_runner {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    ad_procs_t *procs;
    ad_run_t *runs;
    size_t inflight_bytes;
    uv_check_t check; /* flushes live output after each poll phase */
    bool check_on;
    ad_runner_stats_t stats;
};

/* ---- runner.c ----------------------------------------------------------------- */
ad_run_t *ad_run_find(const ad_runner_t *r, const char *agent_id);
void ad_run_topics_init(ad_run_topics_t *t, const char *agent_id, const char *run_id,
                        const char *ws, const char *org, const char *crew);
void ad_run_topics_copy(ad_run_topics_t *dst, const ad_run_topics_t *src);
/* Publishes payload to t's topics and releases it. */
void ad_run_publish(ad_runner_t *r, const ad_run_topics_t *t, const char *type, json_t *payload);
void ad_run_publish_status(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                           const char *status, const char *reason);
void ad_run_call_cb(ad_runner_cb cb, void *ud, int rc, json_t *result, const char *msg);
/* A JSON string of bytes that may not be UTF-8 (repaired). New reference. */
json_t *ad_run_json_text(const char *s, size_t n);
/* Queues a change of the agent row after what the run has said so far;
 * u->id, u->now and u->status are filled here, u->state_patch is taken.
 * status (AD_AGENT_STATUS_KEEP: unchanged) is also published as
 * agent_status once committed. */
void ad_run_agent_update(ad_run_t *run, ad_store_agent_runtime_t *u, ad_agent_status_t status,
                         ad_runner_cb cb, void *ud);
/* Frees what a run owns (its handles are closed or never opened). */
void ad_run_free(ad_run_t *run);

/* ---- output.c ----------------------------------------------------------------- */
/* Queues a message of the run (text is repaired UTF-8; rec may be NULL)
 * and returns it as a message_created event shows it (new reference). */
json_t *ad_run_queue_message(ad_run_t *run, const char *role, const char *text, size_t len,
                             const ad_rec_t *rec, char id_out[AD_ID_MAX]);
/* Hands the queued messages to the writer; with done, the batch is written
 * on its own and done(rc, ctx) follows its commit. */
void ad_run_flush_batch(ad_run_t *run, ad_store_done_cb done, void *ctx);
/* Coalesced output and queued messages to the writer, in order. */
void ad_run_flush_all(ad_run_t *run);
/* Plain output read this loop iteration to the bus. */
void ad_run_flush_live(ad_run_t *run);
/* Hands every metric point the run holds to the store (at its end). */
void ad_run_flush_metrics(ad_run_t *run);
void ad_run_batch_cleanup(ad_run_batch_t *b);
/* The supervisor's callbacks (src/proc) for a run's output. */
void ad_run_on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud);
void ad_run_on_data(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t len, void *ud);
/* Handles the parser records collected in run->recs. */
void ad_run_handle_recs(ad_run_t *run);
/* The runner's check handle: flushes every run's live output. */
void ad_run_on_check(uv_check_t *h);

/* ---- start.c ------------------------------------------------------------------ */
/* A message to an agent with no live run whose CLI runs one turn per
 * process (codex, gemini): a new run with the message as its prompt,
 * resuming the agent's session. Refusals as ad_runner_start, and AD_ESTATE
 * for other executors. On 0, cb gets {messageId, status:"sent",
 * running:true, agent} once the run row is committed. */
int ad_run_start_followup(ad_runner_t *r, const char *agent_id, const char *content,
                          ad_runner_cb cb, void *ud, char *err, size_t errsz);

/* ---- version.c ----------------------------------------------------------------- */
/* Runs `argv0 --version` (cwd and env as the run's; borrowed) beside the
 * run and keeps what it prints on the run (ad_run_version_set), or on its
 * row when the run has ended first. */
void ad_run_probe_version(ad_run_t *run, const char *argv0, const char *cwd,
                          const char *const *env);
/* The run's CLI version is known (a parsed version, or "" when none could
 * be read): stored on the run row, logged, and a version agentd was not
 * tested with is said in the transcript (a system message). Once per run. */
void ad_run_version_set(ad_run_t *run, const char *version);

/* ---- exit.c ------------------------------------------------------------------- */
void ad_run_on_exit(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud);
/* Takes the run off the runner's list and frees it once its timer closed. */
void ad_run_release(ad_run_t *run);

#endif
