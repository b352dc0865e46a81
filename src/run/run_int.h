/* SPDX-License-Identifier: MIT */
/*
 * Private to src/run: a run's core state, the runner, and the functions
 * the core's files share (runner.c: life cycle, events and agent updates;
 * start.c; output.c: parser records, live output and queued messages;
 * batch.c: messages to the writer; exit.c; control.c: stop, pause,
 * input). What only some runs need is a run feature's (feature.h: the
 * interface and the hooks; features.h: what the features export).
 *
 * Threads: loop thread only.
 */
#ifndef AD_RUN_INT_H
#define AD_RUN_INT_H

#include "agent/agent.h"
#include "run/run.h"
#include "node/node.h"
#include "run/feature.h"
#include "tables/runs.h"

#define AD_RUN_OUT_FLUSH_BYTES (64 * 1024) /* coalesced output becomes a message */
#define AD_RUN_FLUSH_MS 100
/* Plain output waits up to this long to become one stored message (its
 * live event went out at once): a run printing ten lines a second then
 * costs the store a row a second, not ten (issue #38, F1). */
#define AD_RUN_OUT_FLUSH_MS 1000
#define AD_RUN_BATCH_MAX 256
#define AD_RUN_BATCH_BYTES (4 * 1024 * 1024)
/* Message bytes handed to the writer and not yet committed, over all runs:
 * past it, plain output is not stored (events still go out live). */
#define AD_RUN_INFLIGHT_BYTES (16 * 1024 * 1024)
#define AD_RUN_STATE_ENV_MAX 256
#define AD_RUN_APPROVALS_MAX 32
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
/* The same for histograms and counts (each up to 256 buckets or
 * categories, a few KiB stored). */
#define AD_RUN_DIST_BATCH 1000
#define AD_RUN_DIST_HOLD_MAX 2000
/* Events published and not yet in the event log: past this, plain
 * output is not streamed live (it is still stored), so a flooding agent
 * cannot grow the bus without bound. The bus holds events a few ms to
 * commit them together, and at 10k lines/s a commit or two already spans
 * more than a hundred events: 4096 is about 0.4 s of lag at that rate
 * (about 1 MB of events), well past a healthy writer's. */
#define AD_RUN_LIVE_BACKLOG_MAX 4096
/* The same in bytes: a flood's events are up to AD_RUN_LIVE_BYTES each, so
 * 4096 of them could hold 256 MiB while a slow disk holds the writer up. */
#define AD_RUN_LIVE_BACKLOG_BYTES (8u << 20)
/* Tool calls of a run awaiting their result at once (parallel calls). */
#define AD_RUN_OPEN_CALLS 16
/* A batch the store refused for space is handed to it again after this,
 * doubling up to the max (batch.c's stuck queue). */
#define AD_RUN_RETRY_MIN_MS 100
#define AD_RUN_RETRY_MAX_MS 2000

typedef struct ad_run_stuck ad_run_stuck_t;
/* Buckets of the runner's index of runs by agent id (a power of two). */
#define AD_RUN_INDEX_BUCKETS 1024
typedef struct ad_run_term_env ad_run_term_env_t;
/* A store call made in its turn behind stuck batches (ad_run_store_call);
 * cancelled: the daemon is closing and nothing more can be stored. */
typedef void (*ad_run_after_fn)(void *ud, bool cancelled);

/* The topics a run's events go to: agent, run, workspace, org (so only
 * its organisation's subscribers get them) and its crew's, if any. */
/* A run's events held back while its start is recorded (start.c): a
 * reader must never see a run's output before the run that made it. */
typedef struct {
    json_t *events; /* [{type, payload}] in order */
    size_t bytes;   /* about: their contents and 256 each */
} ad_run_early_t;

/* Past this much held back, events go out at once (out of order, never
 * lost): a start record waiting for an absent PostgreSQL must not let a
 * flooding agent grow memory. */
#define AD_RUN_EARLY_BYTES (1u << 20)

typedef struct {
    char t[5][96];
    const char *v[5];
    size_t n;
    /* Set from the process's start until run_started is out: the start's
     * record owns it, the run borrows it. NULL in copies. */
    ad_run_early_t *early;
} ad_run_topics_t;

/* A message not yet handed to the writer; it owns its strings. */
typedef struct {
    char id[AD_ID_MAX];
    const char *role; /* static */
    char *content, *tool_name, *tool_input, *tool_output;
    int64_t token_count;
    int64_t now;
    bool is_complete;
    bool is_error;
    bool replace; /* written over the row with this id (a tool call's result) */
    bool output;  /* plain output: may be shed when the writer is behind */
    size_t bytes;
    int64_t hold[2]; /* held: spool offsets (stdout, stderr) stored with it; 0 none */
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

/* A start whose spawn's outcome is not known yet (start.c), and the
 * messages sent to the agent meanwhile. */
typedef struct ad_run_pending ad_run_pending_t;

/* A permission prompt's request id at most (approvals.c). */
#define AD_RUN_REQUEST_ID_MAX 128

/* How a run talks to its process, from its launch. */
typedef struct {
    ad_executor_t exec;
    bool stdin_json; /* claude stream-json input */
    bool accepts_input;
    bool one_shot;  /* codex exec/gemini: the run is one turn */
    bool rpc;       /* codex app-server: JSON-RPC through the parser */
    bool pty;       /* in a terminal (feat_tty.c keeps its raw output) */
    bool sandboxed; /* runs in an agent sandbox here (an exit 127 says where to look) */
} ad_run_how_t;

/* What the run's turns said and cost (output.c), for its end (exit.c). */
typedef struct {
    ad_usage_t usage;
    double cost;
    int64_t count; /* turns */
    bool had_error;
    char reason[256];
    /* The last non-blank stderr line (cut to fit): why a process that
     * reported no error of its own exited non-zero, for the run's reason. */
    char last_err[200];
    char said_id[AD_ID_MAX]; /* the newest message queued: a status's ref */
    /* The last assistant message, until its API message's real token
     * count comes (AD_REC_TOKENS) and it is written again with it. */
    char last_id[AD_ID_MAX];
    int64_t last_at;
    char *last_text; /* owned; NULL when none is waiting */
} ad_run_turn_t;

/* The run's messages on their way to the store (output.c, batch.c). */
typedef struct {
    ad_buf_t out[2];     /* pending output text: stdout, stderr */
    uint64_t out_end[2]; /* spool offset past the last line in out[i] */
    /* Loop time (ms) out[] is stored at: the run's next tick after its
     * first byte, shared with other runs (output.c, next_tick). */
    uint64_t out_due;
    ad_run_batch_t batch; /* messages not yet handed to the writer */
    uint64_t dropped;     /* output messages not stored: the writer was behind */
    uint64_t lost_rows;   /* messages the store refused for good */
    uv_timer_t flush;
    bool flush_init;
} ad_run_msgs_t;

/* Plain output read this loop iteration, for the bus (output.c). */
typedef struct {
    ad_buf_t buf[2]; /* stdout, stderr */
    bool dirty;
    uint64_t dropped; /* bytes not streamed live */
    /* held runs: the spool offset past buf[i]'s lines (agent_output's
     * `at`), and, for a run taken over from another plane, the offset up
     * to which that plane streamed it already (seen.c): not again */
    uint64_t end[2], streamed[2];
} ad_run_live_t;

/* A stop asked (control.c): who waits for the end, since when (wall ms,
 * 0: none, issue #32), and whether it was forced. */
typedef struct {
    ad_run_waiter_t *waiters;
    int64_t since;
    bool force;
} ad_run_stop_t;

/* Held runs (issue #15, hold.c): messages carry the spool offset past
 * the output they cover; one stdout line's messages go to the writer
 * together (line_first: the batch's first message of the line being
 * handled), so a stored offset never covers half a line's rows. */
typedef struct {
    char *dir; /* the holder's directory (owned); NULL: not held */
    bool in_line;
    size_t line_first;
    int msg_stream; /* the offset the next queued message carries */
    uint64_t msg_off;
    /* Status changes made while a line is handled wait for the line's
     * rows (runner.c): a client that sees `waiting` finds the answer. */
    struct ad_run_held_update *updates;
    size_t nupdates;
} ad_run_held_t;

/* A full disk (issue #41): the holder cannot spool (hold, with its
 * reason) or the store cannot write (store); on is what was last
 * published (run_stalled / run_resumed). */
typedef struct {
    bool hold, store, on;
    char reason[64];
    int64_t at; /* ms since the epoch */
} ad_run_stall_t;

/* A run: its identity, process, parser, topics and what every run needs;
 * what only some runs need is a feature's state (ctx, feature.h). */
typedef struct ad_run {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    char crew_id[AD_ID_MAX]; /* "" when the agent is in no crew */
    char org_id[AD_ID_MAX];
    char node_id[AD_ID_MAX]; /* its worker node ("": here; feat_node.c) */
    char *cwd;               /* the worktree (owned): ACP's fs requests are served below it */
    ad_run_topics_t topics;
    ad_run_how_t how;
    /* Non-NULL while its process is starting (a spawner thread forks it):
     * the run row is written, and what waits for the process (the first
     * prompt, messages, a stop) goes to it, once it runs. */
    ad_run_pending_t *pending;
    ad_proc_t *proc;
    uint64_t started_ns;
    char prompt_msg_id[AD_ID_MAX]; /* the first prompt's message, or "" */
    ad_parser_t *parser;
    ad_recs_t recs;
    ad_run_turn_t turn;
    ad_run_msgs_t msgs;
    ad_run_live_t live;
    ad_run_held_t held;
    ad_run_stall_t stall;
    ad_run_stop_t stop;
    void *ctx[AD_RUN_FEATURES]; /* each feature's state (feature.h), NULL until used */
    /* the runner's list, its index by agent id (a chain per bucket, newest
     * first, as in runs) and the runs whose live output or points wait for
     * the turn's check (output.c); on_check: in that list */
    struct ad_run *next, *hnext, *check_next;
    bool on_check;
} ad_run_t;

/* seen.c: the output other planes streamed already, by run (issue #77). */
typedef struct ad_run_seen ad_run_seen_t;
/* Subscribes to the events that come over Redis; NULL when it cannot. */
ad_run_seen_t *ad_run_seen_start(ad_bus_t *bus);
void ad_run_seen_free(ad_run_seen_t *s);
/* The spool offset of stream (0 stdout, 1 stderr) of run_id another plane
 * streamed up to (0: none seen). s may be NULL. */
uint64_t ad_run_seen_at(ad_run_seen_t *s, const char *run_id, int stream);

struct ad_runner {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    struct ad_run_commit *commits; /* HEAD reads in flight (commit.c), owned by their git jobs */
    ad_runner_key_fn key_fn;       /* stored API keys (ad_runner_set_key_source) */
    void *key_ud;
    char *otlp_endpoint; /* where runs send telemetry (ad_runner_set_telemetry), or NULL */
    ad_runner_token_fn token_fn;
    void *token_ud;
    ad_bus_t *bus;
    ad_procs_t *procs;
    ad_runner_point_fn point_fn; /* ad_runner_set_point_hook */
    void *point_ud;
    ad_run_t *runs;
    /* runs by agent id (ad_run_find): a lookup per stored batch must not
     * walk a thousand runs */
    ad_run_t *index[AD_RUN_INDEX_BUCKETS];
    size_t inflight_bytes;
    uv_check_t check; /* flushes live output after each poll phase */
    bool check_on;
    ad_run_t *check_runs; /* the runs it flushes (on_check) */
    bool held_back;       /* some held run was held back for the writer */
    ad_runner_stats_t stats;
    ad_plane_t *plane;   /* worker nodes (ad_runner_set_plane), or NULL */
    ad_run_seen_t *seen; /* with Redis: what other planes streamed (seen.c), or NULL */
    json_t *orphans;     /* agent processes an older agentd left without a holder */
    /* Batches the store refused for space, and what waits behind them
     * (batch.c); batch_seq numbers the batches in the order they were made. */
    ad_run_stuck_t *stuck;
    uint64_t batch_seq;
    uv_timer_t retry;
    unsigned retry_ms;
    int stuck_rc;  /* what the first stuck batch failed with: the runs' stall reason */
    bool retrying; /* the first stuck batch is at the writer */
    bool closing;
    int open_handles; /* check, retry, queue, pace and turn, until all are closed */
    /* starts asked through the API, one a loop turn (pace.c) */
    uv_idle_t pace;
    struct ad_run_paced *pace_head, **pace_tail;
    uv_prepare_t turn;           /* times the loop's turns (pace.c) */
    uint64_t turn_at, turn_idle; /* the last turn's start, the poll's blocked time then (ns) */
    /* the queue's tick (queue.c): each second while nodes may join */
    uv_timer_t queue_tick;
    json_t *queue_items; /* the tick's list, while it walks it (NULL: idle) */
    size_t queue_next;   /* the next item of it to look at */
    /* The last runs lost (exit.c; health's runs.lost), oldest overwritten */
    struct {
        char agent_id[AD_ID_MAX], run_id[AD_ID_MAX], org[AD_ID_MAX];
        char reason[256];
        int64_t at_ms;
    } lost[8];
    unsigned nlost;
    struct ad_run_suspends *suspends; /* agents suspended on a usage limit (suspend.c) */
    struct ad_run_goals *goals;       /* agents' goals (goal.c) */
};

/* ---- pace.c ------------------------------------------------------------------- */
typedef struct ad_run_paced ad_run_paced_t;
void ad_run_pace_init(ad_runner_t *r);
/* Drops the starts still waiting (their callers' connections are closed
 * by then) and closes both handles. */
void ad_run_pace_close(ad_runner_t *r, uv_close_cb on_closed);

/* ---- runner.c ----------------------------------------------------------------- */
ad_run_t *ad_run_find(const ad_runner_t *r, const char *agent_id);
/* The run here whose run id is run_id, or NULL. */
ad_run_t *ad_run_find_by_run(const ad_runner_t *r, const char *run_id);
/* Puts run at the front of r->runs (and the index), or takes it out of
 * both (and out of the check's list). */
void ad_run_link(ad_runner_t *r, ad_run_t *run);
void ad_run_unlink(ad_runner_t *r, ad_run_t *run);
void ad_run_topics_init(ad_run_topics_t *t, const char *agent_id, const char *run_id,
                        const char *ws, const char *org, const char *crew);
void ad_run_topics_copy(ad_run_topics_t *dst, const ad_run_topics_t *src);
/* Publishes payload to t's topics and releases it (into t->early, when
 * that is set and not full). */
void ad_run_publish(ad_runner_t *r, const ad_run_topics_t *t, const char *type, json_t *payload);
/* agent_status {agentId, status, reason?, statusReason?}: why (borrowed, may
 * be NULL) is the stored statusReason {code, text, at, ref} of the change. */
void ad_run_publish_status(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                           const char *status, const char *reason, json_t *why);
void ad_run_call_cb(ad_runner_cb cb, void *ud, int rc, json_t *result, const char *msg);
/* Queues a change of the agent row after what the run has said so far;
 * u->id and u->now are filled here, u->state_patch is taken. The status
 * stays as it is: a change of status goes through ad_run_set_status, which
 * says why. */
void ad_run_agent_update(ad_run_t *run, ad_store_agent_runtime_t *u, ad_runner_cb cb, void *ud);
/* resume.c: a Claude run the CLI could not resume (its session is gone):
 * the lost id into sid and its first prompt (taken from the run), else
 * NULL; then, once the run's end is stored, the agent starts a fresh
 * session with that prompt (taken), the transcript saying so. */
#define AD_RUN_SID_MAX 128
char *ad_run_session_lost(ad_run_t *run, char sid[AD_RUN_SID_MAX]);
/* A fork's first run has its own session now: true once (resume.c). */
bool ad_run_fork_seen(ad_run_t *run);
void ad_run_fresh_session(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                          const char *run_id, const char *sid, char *prompt);
/* THE one way a live run changes its agent's status (issue #33): status
 * with why (code, text and ref: the protocol event that caused it, with
 * its id, e.g. code "turn_ended", ref the result message's id), written
 * after what the run said so far, then published as agent_status with the
 * stored statusReason {code, text, at, ref}; the change lands in the
 * agent's status history (migration 2470). u (may be NULL) carries other
 * fields to change with it (u->state_patch is taken). Executors call it on
 * every protocol event that changes what the agent is doing:
 *   running  code "message_sent" / "approval_answered" / "resumed" / "turn_started"
 *   waiting  only when the agent asked: "approval_requested" (ref the
 *            approval id), "question" or "turn_ended" (a turn that needs
 *            input), never merely idle
 *   error    "turn_failed" (ref the result message), paused "paused".
 * A run's start and end and the daemon's restart set theirs in the store
 * calls (ad_store_run_start_t.why, ad_store_run_end_t.why, reconcile).
 * Loop thread. */
void ad_run_set_status(ad_run_t *run, ad_store_agent_runtime_t *u, ad_row_agent_status_t status,
                       const ad_store_status_reason_t *why, ad_runner_cb cb, void *ud);
/* Frees what a run owns (its handles are closed or never opened). */
void ad_run_free(ad_run_t *run);

/* ---- output.c ----------------------------------------------------------------- */
/* Queues a message of the run (text is repaired UTF-8; rec may be NULL)
 * and returns it as a message_created event shows it (new reference). */
json_t *ad_run_queue_message(ad_run_t *run, const char *role, const char *text, size_t len,
                             const ad_rec_t *rec, char id_out[AD_ID_MAX]);
/* The same with a given id and time (a row written again: a tool call's
 * result over its call). */
json_t *ad_run_queue_message_as(ad_run_t *run, const char *id, int64_t at, const char *role,
                                const char *text, size_t len, const ad_rec_t *rec,
                                char id_out[AD_ID_MAX]);
/* ---- batch.c: stored messages to the writer ----------------------------------- */
/* Hands the queued messages to the writer; with done, the batch is written
 * on its own and done(rc, ctx) follows its commit. */
void ad_run_flush_batch(ad_run_t *run, ad_store_done_cb done, void *ctx);
void ad_run_batch_cleanup(ad_run_batch_t *b);
/* Publishes run_stalled / run_resumed when the run's stall changed (hold.c). */
void ad_run_stall_update(ad_run_t *run);
/* The supervisor's stall callback (hold.c). */
void ad_run_on_stall(ad_proc_t *p, bool stalled, const char *reason, void *ud);
/* ---- output.c: plain output, live and stored ------------------------------------ */
/* Coalesced output and queued messages to the writer, in order. */
void ad_run_flush_all(ad_run_t *run);
/* Plain output read this loop iteration to the bus. */
void ad_run_flush_live(ad_run_t *run);
/* run has live output or points for this turn's check. */
void ad_run_want_check(ad_run_t *run);
/* Queues a checked histogram or counts for the store with the run's
 * metric points (feat_program.c). */
void ad_run_keep_dist(ad_run_t *run, json_t *d);
/* A command agent's `histogram` / `counts` line (dists.c): checked, kept
 * and published as distribution_update; a refused one becomes a system
 * line of the run's live output saying why. */
void ad_run_on_dist(ad_run_t *run, const char *type, json_t *obj);
/* The supervisor's callbacks (src/proc) for a run's output. */
void ad_run_on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud);
/* A terminal's raw bytes (feat_tty.c). */
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

/* A message sent while the run's process starts: written once it runs
 * (ad_runner_message then), or answered with why it could not start. 0,
 * or AD_ESTATE when the run is not starting. content is copied. */
int ad_run_pending_message(ad_run_t *run, const char *content, ad_runner_cb cb, void *ud);
/* What a start still held when its runner closes (no callback). */
void ad_run_pending_free(ad_run_t *run);

/* ---- commit.c ----------------------------------------------------------------- */
/* Reads HEAD of the worktree at path (borrowed) on the thread pool and
 * stores it on run_id as the commit it started from (commit.c). Best
 * effort. Loop thread. */
void ad_run_note_commit(ad_runner_t *r, const char *run_id, const char *path);
/* The runner is going: HEAD reads still in flight answer into nothing. */
void ad_run_commits_detach(ad_runner_t *r);

/* ---- start.c: a run on a worker node (issue #34) ------------------------------- */
/* The run run_id of agent_id on node_id, left running by a previous
 * daemon: taken up through a relay that waits for its node (src/node),
 * from the stored offsets. 0 or the code of what failed. */
int ad_run_attach_remote(ad_runner_t *r, const char *agent_id, const char *run_id,
                         int64_t started_at, const char *node_id, char *err, size_t errsz);

/* ---- start.c: taking a held run up again ------------------------------------- */
/* The run run_id of agent_id (started at started_at, ms) continues under
 * its holder at dir from at's offsets; *status gets the status the agent's
 * row has (what it keeps). 0, or the code of what failed (err says why);
 * nothing is left behind on failure. */
int ad_run_attach(ad_runner_t *r, const char *agent_id, const char *run_id, int64_t started_at,
                  const char *dir, const ad_proc_resume_t *at, ad_row_agent_status_t *status,
                  char *err, size_t errsz);

/* ---- hold.c ------------------------------------------------------------------- */
/* The holder directory of run_id (owned: free()), or NULL when agents are
 * not held or the path does not fit. */
char *ad_run_hold_path(const ad_runner_t *r, const char *run_id);
/* Takes up every run a previous daemon left under a holder; returns the
 * ids taken up (NULL-terminated, owned: free each and the array). */
char **ad_run_reattach_all(ad_runner_t *r);
/* Taking one of another plane's held runs up from its holder once its
 * lease is ours (ad_runner_takeover_candidates, run.h). */
int ad_run_take_held(ad_runner_t *r, const char *run_id, char *err, size_t errsz);
/* The run's end is stored (rc 0): its holder's directory goes, at a
 * thread of libuv's pool (its log lines logged first). Takes dir. */
void ad_run_hold_done(ad_runner_t *r, char *dir, int rc);
/* start.c: removes run_id's config file and its directory
 * (<data-dir>/runs/<runId>/, issue #16) once the run's end is stored: the
 * values stay on the run row. Nothing to remove is fine. */
void ad_run_config_remove(const ad_runner_t *r, const char *run_id);
/* Lost runs whose agent process still runs (an older agentd, no holder):
 * logged and kept for /api/health. runs: the reconcile result's runs. */
void ad_run_find_orphans(ad_runner_t *r, json_t *runs);
/* In ad_run_on_line around one stdout line (held runs' line offsets). */
void ad_run_line_begin(ad_run_t *run, ad_proc_stream_t stream);
void ad_run_line_end(ad_run_t *run);
/* The status changes held while the line was handled, written after its
 * rows (runner.c; called by ad_run_line_end). */
void ad_run_held_updates_flush(ad_run_t *run);

/* ---- config.c, sandbox.c: a start's config and sandbox ---------------------------- */
/* The config's file and AGENTD_CONFIG, its flags on a command's argv, and
 * the record to store on the run (remote: the node writes the file). */
int ad_run_config_apply(const ad_runner_t *r, ad_run_start_t *s, const char *run_id,
                        const ad_run_config_t *cfg, bool remote, char *err, size_t errsz);
/* Whose CLI's config the sandbox shows, and whether the worktree is
 * read-only in it. */
ad_executor_t ad_run_box_kind(const ad_run_start_t *s, bool *read_only);
/* The agent's sandbox here (s->sbx), from its row. */
int ad_run_start_sandbox(ad_runner_t *r, const char *agent_id, ad_run_start_t *s, char *err,
                         size_t errsz);
/* s->argv: the launch's, the real program first (and codex's own sandbox
 * off inside agentd's). */
void ad_run_sandbox_argv(ad_run_start_t *s);

/* ---- exit.c ------------------------------------------------------------------- */
void ad_run_on_exit(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud);
/* Takes the run off the runner's list and frees it once its timer closed. */
void ad_run_release(ad_run_t *run);

/* ---- sandbox.c: what an agent's sandbox shows ----------------------------------------- */

/* "claude", "codex" or "gemini" for their executors, else NULL. */
const char *ad_run_sandbox_cli(ad_executor_t ex);

/* The sandbox of agent (its row) for a start in worktree wt (read_only:
 * shown read-only) running exe (the executable the launch resolved, may be
 * NULL). AD_EPERM when it may
 * not run here (another org's agent with no sandbox on this machine),
 * AD_EINVAL for a bad state.sandbox, AD_EIO; err says why. Clean up with
 * ad_run_sandbox_cleanup() either way. */
/* argv: a command's (the paths its arguments name are shown), NULL for a
 * CLI; agent_path: the agent's PATH (ad_proc_agent_path), which a
 * script's `#!/usr/bin/env NAME` is found on. */
int ad_run_sandbox(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                   ad_executor_t ex, bool read_only, const char *wt, const char *exe,
                   const char *const *argv, const char *agent_path, ad_run_sbx_t *x, char *err,
                   size_t errsz);
void ad_run_sandbox_cleanup(ad_run_sbx_t *x);
/* A start refused before it made a run (refused.c): why goes into the
 * agent's transcript as a system message and becomes its statusReason
 * (code "start_refused", status error). agent is its row, ws its
 * workspace id (may be NULL or ""). Loop thread. */
/* The queue (queue.c): a start queued (agent borrowed; node_id the node it
 * names, "" for its placement's; why: what placement said), answered
 * through cb; 0 or AD_EEXIST/store errors (cb not called). The tick's
 * timer started (ad_runner_set_plane) and closed (ad_runner_free). */
int ad_run_queue_add(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                     const char *ws, const char *prompt, const char *node_id, const char *why,
                     const char *who, ad_runner_cb cb, void *ud);
void ad_run_queue_init(ad_runner_t *r);
void ad_run_queue_close(ad_runner_t *r, uv_close_cb done);
/* Whether agent_id could be placed now: 0 (a node has room, or it runs
 * here), AD_EAGAIN (not now: err says why), AD_EINVAL (never, or the
 * agent can no longer start: err says why). start.c. */
int ad_run_place_now(ad_runner_t *r, const char *agent_id, char *err, size_t errsz);
void ad_run_start_refused(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                          const char *ws, const char *why);
/* Shows path (a file agentd made for the run) read-only in x. */
void ad_run_sandbox_show(ad_run_sbx_t *x, const char *path);

#endif
