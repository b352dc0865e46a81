/* SPDX-License-Identifier: MIT */
/*
 * run: the run life cycle, the subsystem that drives the others for an
 * agent (src/agent's executors and parsers, src/proc's processes, the
 * store and the bus). Starts an agent's process through the
 * supervisor (src/proc) with its executor's launch (agent.h), records a run
 * per start, turns output lines (through the executor's parser) into bus
 * events and stored messages, and ends the run with its status when the
 * process exits. Also the start-up reconciliation of runs a previous daemon
 * left running.
 *
 * The `command` executor takes its argv from the agent's state:
 *   state.command   ["prog", "arg", …]  (required; prog looked up on PATH)
 *   state.terminal  true: run on a pseudo-terminal (default false)
 *   state.env       {"NAME": "value", …} extra environment (AGENTD_* dropped)
 *   state.stopWith  "sigint" (default for command, codex and gemini),
 *                   "stdin" or "none": the polite stop step; claude's
 *                   default is SIGINT and then stdin closed
 *   state.model, state.baseUrl, state.codexConfig: see ad_agent_spec_t
 * Codex runs on `codex app-server` (JSON-RPC on its stdin and stdout, the
 * lines made by src/agent's parser of the run): one process for many turns,
 * a message mid-turn steered into it, stop interrupting the turn first.
 * Gemini, and Codex older than app-server, run one turn per process (the
 * prompt on stdin, then closed); a message to such an agent with no live
 * run starts a run that resumes its session (ad_runner_message).
 * The working directory is the agent's worktree path.
 *
 * Threads: loop thread only. store, bus and procs are borrowed and must
 * outlive the runner; free it after ad_procs_shutdown() has completed and
 * ad_store_close() has delivered the last completions.
 */
#ifndef AD_RUN_H
#define AD_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/config.h"
#include "core/core.h"
#include "proc/proc.h"
#include "store/store.h"
#include "tables/agents.h"

typedef struct ad_runner ad_runner_t;

/* Completion of an asynchronous runner call: rc 0 or AD_E*; result is
 * borrowed for the call (may be NULL on error); msg a one-line reason on
 * error (borrowed, may be NULL). */
typedef void (*ad_runner_cb)(int rc, json_t *result, const char *msg, void *ud);

/* Returns owned: free with ad_runner_free(); the memory goes when the loop
 * has run the close callback of its handle. */
ad_runner_t *ad_runner_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store,
                           ad_bus_t *bus, ad_procs_t *procs);
void ad_runner_free(ad_runner_t *r);

/* Where an agent's API key comes from when its environment names none: a
 * claude agent gets ANTHROPIC_API_KEY, a codex agent OPENAI_API_KEY, from
 * fn(ud, org, "anthropic" | "openai") (borrowed for the call; NULL: none).
 * The key goes only into the child's environment, never a row, event or
 * log. Loop thread. */
typedef const char *(*ad_runner_key_fn)(void *ud, const char *org, const char *provider);
void ad_runner_set_key_source(ad_runner_t *r, ad_runner_key_fn fn, void *ud);
/* Where runs send their telemetry (src/otel receives it): each run from
 * now on gets TRACEPARENT, OTEL_EXPORTER_OTLP_ENDPOINT (endpoint, copied),
 * _PROTOCOL http/json and _HEADERS x-agentd-run=<token(ud, runId)>, and a
 * Claude run the settings that turn its OpenTelemetry on (traces, metrics,
 * logs), each unless the agent's state.env names it. endpoint NULL: none
 * of it (TRACEPARENT alone with --otlp-endpoint). Loop thread. */
typedef void (*ad_runner_token_fn)(void *ud, const char *run_id, char *out, size_t outsz);
void ad_runner_set_telemetry(ad_runner_t *r, const char *endpoint, ad_runner_token_fn fn, void *ud);

/* Worker nodes (issue #34, src/node): agents whose state.node names a
 * node run there, through plane (borrowed; must outlive the runner). Set
 * before ad_runner_reconcile, which takes up the runs left on nodes. The
 * runner hooks itself to the plane's reachability. Loop thread. */
struct ad_plane;
void ad_runner_set_plane(ad_runner_t *r, struct ad_plane *plane);

/* Marks runs left 'running' by a previous daemon as lost (agent status
 * error, pid cleared, state.statusReason set) and publishes agent_status for
 * each. cb (may be NULL) gets {runs, agents}. Call once at start-up before
 * serving requests. */
void ad_runner_reconcile(ad_runner_t *r, ad_runner_cb cb, void *ud);

/* Starts agent_id with an optional initial prompt (borrowed). Synchronous
 * refusals return the code and call nothing: AD_ENOENT (no such agent),
 * AD_ESTATE (running, or archived), AD_EINVAL (the launch cannot be built
 * or spawned: missing executable, no command; err says why). On 0, cb gets
 * {agent} once the run row is committed. */
int ad_runner_start(ad_runner_t *r, const char *agent_id, const char *prompt, ad_runner_cb cb,
                    void *ud, char *err, size_t errsz);
/* A hyper-parameter config for a run (issue #16, src/hparam). */
typedef struct {
    json_t *record; /* {id, name, schemaId, values} (borrowed); stored on the run */
    json_t *schema; /* its schema, for the flags' order (borrowed) */
    bool flags;     /* also "--name=value" after a command agent's argv */
} ad_run_config_t;
/* ad_runner_start with a config: its values are written as one JSON object
 * to <data-dir>/runs/<runId>/config.json (mode 0600, the directory 0700),
 * whose path the program gets in AGENTD_CONFIG; with cfg->flags a command
 * agent also gets them as flags. The record goes on the run row (`config`).
 * AD_EINVAL for flags on another executor, AD_EIO when the file cannot be
 * written (err says why). */
int ad_runner_start_cfg(ad_runner_t *r, const char *agent_id, const char *prompt,
                        const ad_run_config_t *cfg, ad_runner_cb cb, void *ud, char *err,
                        size_t errsz);
/* ---- the queue of starts waiting for a node (queue.c, issue #77) -------------
 * A start asked with queue (or of an agent whose placement says queue:
 * true) that no node can take now (its node away, cordoned or full; no
 * fitting node with room) waits instead of failing: stored (it survives a
 * restart), the agent's statusReason {code: "queued", text: why}, and cb
 * gets {agent, queued: true, queue: item} once stored (AD_EEXIST: queued
 * already). It starts by itself, FIFO per organisation, when a node has
 * room (a tick each second; one control plane takes it, a compare-and-set
 * in the store). who: the caller, for the item (copied). */
typedef struct {
    bool queue;
    const char *who;
} ad_run_queue_ask_t;
int ad_runner_start_q(ad_runner_t *r, const char *agent_id, const char *prompt,
                      const ad_run_config_t *cfg, const ad_run_queue_ask_t *q, ad_runner_cb cb,
                      void *ud, char *err, size_t errsz);
/* ad_runner_start_q at a later loop turn, one start a turn (pace.c, issue
 * #80), so 100 starts asked at once do not hold every other client of the
 * loop behind their work: the API's start. Everything is copied (cfg's
 * record and schema, goal: references taken); cb gets what
 * ad_runner_start_q returns at once as well as what it answers later, and
 * on 0 the goal is set (ad_runner_goal_set). Loop thread. */
typedef struct {
    const char *agent_id, *org, *prompt;
    const ad_run_config_t *cfg; /* or NULL */
    bool queue;                 /* ad_run_queue_ask_t's */
    const char *who;
    const json_t *goal; /* or NULL */
} ad_runner_paced_t;
void ad_runner_start_paced(ad_runner_t *r, const ad_runner_paced_t *a, ad_runner_cb cb, void *ud);
/* Takes agent_id's queued start out (DELETE, or a stop of an agent not
 * running): cb gets {agent} (statusReason "queue_cancelled"), or when none
 * waits AD_ENOENT (stop: AD_ESTATE "agent … is not running", the stop's
 * answer as before). */
void ad_runner_queue_cancel(ad_runner_t *r, const char *agent_id, bool stop, ad_runner_cb cb,
                            void *ud);
/* The queue of org ("": all), oldest first, at most 1,000 items, as GET
 * /api/nodes/queue answers it (new reference). Loop thread. */
int ad_runner_queue_list(ad_runner_t *r, const char *org, json_t **out);
/* Stops the agent's run (force: SIGKILL now; codex app-server: the turn in
 * progress is interrupted first, and the polite step follows its end or
 * the stop grace). Returns AD_ENOENT when the
 * agent is not running (nothing is called); on 0, cb gets {agent} after the
 * process has exited and the run's end is committed. */
int ad_runner_stop(ad_runner_t *r, const char *agent_id, bool force, ad_runner_cb cb, void *ud);
/* True while a stop of agent_id's run is under way (asked, the process not
 * yet gone): since (wall ms of the first stop) and force (a force stop was
 * asked) are set. The agent reads "stopping" meanwhile: its agent_status
 * events say so until the run's end. Loop thread. */
bool ad_runner_stopping(const ad_runner_t *r, const char *agent_id, int64_t *since, bool *force);
/* An agent row as it is live, in place: while its stop is under way,
 * status "stopping" and stopping {since (RFC 3339), force}; while its run
 * is stalled, stalled (run_stalled's reason). r may be NULL.
 * Loop thread. */
void ad_runner_agent_live(const ad_runner_t *r, json_t *agent);
/* The same for a typed row (ad_store_agent_row's): status
 * AD_ROW_AGENT_STATUS_STOPPING and its stopping set. */
void ad_runner_agent_row_live(const ad_runner_t *r, ad_row_agent_t *agent);
/* The same for each row of the array agents (a list's). */
void ad_runner_agents_live(const ad_runner_t *r, json_t *agents);
/* The same for a row of the list written as text (ad_store_agent_list_text's
 * fn): o's status and tail set while its stop is under way. Returns the
 * status the row reads (status, or "stopping"). */
const char *ad_runner_row_live(const ad_runner_t *r, const char *agent_id, const char *status,
                               ad_store_agent_out_t *o);
/* Once what the store has queued (a stop's mark) is committed: cb(agent,
 * ud) with agent_id's row as it is live (ad_runner_agent_live; {id} when
 * it cannot be read), a new reference that cb takes (crewops.c). */
typedef void (*ad_runner_agent_cb)(json_t *agent, void *ud);
void ad_runner_stop_kept(ad_runner_t *r, ad_store_t *st, const char *agent_id,
                         ad_runner_agent_cb cb, void *ud);
/* SIGSTOP/SIGCONT the run's process group; the agent becomes paused /
 * running. AD_ENOENT when not running, AD_ESTATE when already so. On 0, cb
 * gets {agent} after the status is committed. */
int ad_runner_pause(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud);
int ad_runner_resume(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud);
/* Sends a user message to the running agent's stdin (claude: a stream-json
 * user line; codex app-server: turn/start, or turn/steer while a turn runs;
 * others: the text and a newline) and stores it. For a codex or gemini
 * agent with no live run, starts a run with the message as its prompt,
 * resuming the agent's session (refusals as ad_runner_start); while a
 * one-turn run (gemini, codex exec) is live, AD_ESTATE ("busy"). AD_ESTATE when the agent is not
 * running or cannot take input (stdin closed), AD_EINVAL for text that is
 * not UTF-8, AD_ETOOBIG when stdin's queue is full. On 0, cb gets
 * {messageId, status:"sent", running:true} after the message is stored
 * (after the run row, with agent, for a new run). */
int ad_runner_message(ad_runner_t *r, const char *agent_id, const char *content, ad_runner_cb cb,
                      void *ud, char *err, size_t errsz);
/* Goals (issue #75, src/run/goal.c): goal {check: [argv], prompt, maxTurns,
 * maxCost?, timeoutSec?} of a start or message checked into *out (a new
 * object, defaults filled in): 0, or AD_EINVAL with e. */
int ad_run_goal_parse(const json_t *in, json_t **out, ad_field_err_t *e);
/* The agent's goal from now on (spec: a parsed goal, copied), replacing
 * any; stored in state.goal. Its turns are counted from the next turn's
 * end. Loop thread. */
void ad_runner_goal_set(ad_runner_t *r, const char *agent_id, const char *org, const json_t *spec);
/* The agent has no goal (a start or message that carried one was refused). */
void ad_runner_goal_clear(ad_runner_t *r, const char *agent_id);
/* Usage limits (issue #75, src/run/suspend.c): resumes a suspended agent
 * now (a run of its session with the message "continue"). AD_ENOENT when
 * it is not suspended; else ad_runner_start's codes, err saying why. On
 * 0, cb gets {agent} once the run row is committed. Loop thread. */
int ad_runner_unsuspend(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud, char *err,
                        size_t errsz);
/* A stop of an agent with no run that would run again by itself: one
 * suspended on a usage limit, or between the turns of a goal (its check
 * running). Its suspension and goal end, it reads `stopped`. AD_ENOENT
 * (nothing done) when it is neither, or has a run (ad_runner_stop's). On
 * 0, cb gets {agent} once stored. Loop thread. */
int ad_runner_halt(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud);
/* Answers a permission prompt of the agent's live run (src/run/approvals.c):
 * writes the decision for approval_id to the CLI's stdin, and the agent is
 * `running` again once no prompt is left. tool and input (borrowed) are the
 * approval's: allow gives the input back, allow_always adds a session rule
 * for tool. AD_ENOENT when the run is gone or no longer waits on that
 * approval (decided already, withdrawn); AD_ESTATE/AD_ETOOBIG when stdin
 * is closed or full. */
typedef enum {
    AD_APPROVAL_ALLOW = 0,
    AD_APPROVAL_DENY,
    AD_APPROVAL_ALLOW_ALWAYS,
} ad_approval_decision_t;
/* allow|deny|allow_always (checked by the caller) as a decision; anything
 * else is allow. */
ad_approval_decision_t ad_approval_decision_of(const char *s);
int ad_runner_approval_answer(ad_runner_t *r, const char *agent_id, const char *approval_id,
                              ad_approval_decision_t d, const char *tool, json_t *input);
/* POST /api/approvals/:id's work (approvals.c), on approval row a:
 * decide: the decision (allow|deny|allow_always) answered to the run
 * (ad_runner_approval_answer) when a is pending, else AD_ESTATE; args:
 * the store's decide args {id, decision, status (allowed or denied), by,
 * now} (new); may: who may give which decision (below). Loop thread. */
int ad_runner_approval_decide(ad_runner_t *r, const json_t *a, const char *decision);
json_t *ad_run_approval_args(const json_t *a, const char *decision, const char *by, int64_t now);
/* approval_decided {approval: the decided row} to its agent's, run's and
 * organisation's topics, once the decision is stored. */
void ad_run_approval_publish(ad_bus_t *bus, json_t *decided);
/* Whether a caller (admin: with admin scope) may give decision on a:
 * allowing a call is running a program on someone's say-so, so a write
 * token (which starts none) may allow only what the agent's permissions
 * already allow (its tool), and deny anything; allow_always changes the
 * permissions, so it is an admin's, like PATCHing them. */
bool ad_run_approval_may(ad_store_t *st, const json_t *a, const char *decision, bool admin);
/* Agent processes an older agentd left running without a holder, found
 * at start-up: [{runId, agentId, orgId, pid}] (borrowed; never NULL). */
json_t *ad_runner_orphans(const ad_runner_t *r);
/* The holders of the live held runs of org (NULL or "": every org), for
 * `agentd version`: [{runId, agentId, pid, version}] (version "" for a
 * holder from before holders said theirs). New reference. Loop thread. */
json_t *ad_runner_holders(const ad_runner_t *r, const char *org);
/* Runs that cannot go on for now (a full disk, issue #41), org's (NULL or
 * "": all): [{agentId, runId, reason, since}]. New reference. */
json_t *ad_runner_stalled(const ad_runner_t *r, const char *org);
/* The runs lost in the last AD_RUNNER_LOST_MS (their holder killed, their
 * node gone) whose agent has not started again: [{agentId, runId,
 * reason, at}], org's ("" or NULL: every org's; issue #78). */
#define AD_RUNNER_LOST_MS (10 * 60 * 1000)
json_t *ad_runner_lost(const ad_runner_t *r, const char *org);
/* What a live run adds to its stored row: {stalled: {reason, since} or
 * null, holderLog: the end of its holder's log (its own errors) or null}.
 * NULL when run_id is not running here. New reference. */
json_t *ad_runner_run_live(const ad_runner_t *r, const char *run_id);
/* Whether run_id is running under this runner now: true from its spawn,
 * before its row is in the store. Loop thread. */
bool ad_runner_has_run(const ad_runner_t *r, const char *run_id);
/* Run run_id's stored row with ad_runner_run_live's fields laid over it
 * when it runs here: *out new. 0, or the store's error (crewops.c). */
int ad_runner_run_view(const ad_runner_t *r, ad_store_t *st, const char *run_id, json_t **out);
/* A metric point a run's program reported (a `metric`/`metrics` line or
 * an agent_update's metrics), as it is read, before it is stored: value may
 * be NaN or infinite (a bare NaN/Infinity token or the string, which is
 * never stored); has_step false when the line gave none. Ids borrowed for
 * the call. The hook must not stop or change the run from inside the call
 * (defer that). Loop thread. One hook; NULL removes it. */
typedef void (*ad_runner_point_fn)(const char *agent_id, const char *run_id, const char *org,
                                   const char *name, bool has_step, int64_t step, double value,
                                   void *ud);
void ad_runner_set_point_hook(ad_runner_t *r, ad_runner_point_fn fn, void *ud);
/* Sends signum to the agent's live run's process group (SIGUSR1: a
 * checkpoint, as a program reads it). AD_ENOENT when not running. */
int ad_runner_signal(ad_runner_t *r, const char *agent_id, int signum);
/* Takes up run_id, a running run whose lease this control plane has just
 * won (issue #39, src/cluster/planes.c): on a worker node, a relay waits
 * for its node as after a restart; else its holder in one of
 * --takeover-dirs is attached as a restarted daemon's would be. Output
 * resumes from the stored offsets, also for a node's run this plane ran
 * all along while another held it (taken back: ad_run_node_take_back). 0
 * (also when it runs here already), or an AD_E* code with why in err. */
int ad_runner_take_up(ad_runner_t *r, const char *run_id, char *err, size_t errsz);
/* Another plane's held runs (--takeover-dirs, issue #39): the run ids
 * under those planes' hold/ folders that do not run here, at most
 * AD_RUN_TAKEOVER_MAX (new reference; the lease decides which are taken,
 * then ad_runner_take_up takes each from its holder). A folder is used
 * only when it is a directory of this user's that nobody else may read,
 * never through a symbolic link. */
#define AD_RUN_TAKEOVER_MAX 256
json_t *ad_runner_takeover_candidates(const ad_runner_t *r);
/* Calls fn for every run whose process is alive, with its agent, run and
 * org ids and its process (all borrowed for the call). */
typedef void (*ad_runner_each_fn)(const char *agent_id, const char *run_id, const char *org,
                                  const ad_proc_t *proc, void *ud);
void ad_runner_each(const ad_runner_t *r, ad_runner_each_fn fn, void *ud);
/* Whether a live run works in the worktree at path on a worker node
 * (issue #34): its run id, and its node's name (both may be NULL). */
bool ad_runner_remote_at(const ad_runner_t *r, const char *path, char run_id[AD_ID_MAX], char *node,
                         size_t nodesz);
/* Counters since start, for /metrics: runs ended by status, their
 * durations (per-bucket counts, AD_RUN_DURATION_BOUNDS upper bounds in
 * seconds, the last bucket above them), tokens and cost. */
#define AD_RUN_DURATION_BUCKETS 9
extern const double ad_run_duration_bounds[AD_RUN_DURATION_BUCKETS];
/* The loop's turns (pace.c): what each worked, its blocked poll left out,
 * in buckets of these upper bounds (seconds; the last bucket above them). */
#define AD_RUN_TURN_BUCKETS 10
extern const double ad_run_turn_bounds[AD_RUN_TURN_BUCKETS];
typedef struct {
    uint64_t ended[5]; /* succeeded, failed, stopped, lost, degraded (ad_row_run_status_t order) */
    uint64_t duration_counts[AD_RUN_DURATION_BUCKETS + 1];
    double duration_sum_sec;
    uint64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
    uint64_t turn_counts[AD_RUN_TURN_BUCKETS + 1];
    double turn_sum_sec, turn_max_sec;
} ad_runner_stats_t;
void ad_runner_stats(const ad_runner_t *r, ad_runner_stats_t *out);
/* The stats as Prometheus families into b (prom.c; runner NULL: zeros),
 * with the runs stalled on a full disk. 0 or AD_ETOOBIG. Loop thread. */
int ad_runner_prom(const ad_runner_t *runner, ad_buf_t *b);
/* True while agent_id has a live process. */
bool ad_runner_is_running(const ad_runner_t *r, const char *agent_id);
/* A live move (issue #76, src/move; move.c): whether agent_id has a live
 * run, and its node's id into node_id ("" here). */
bool ad_runner_agent_node(const ad_runner_t *r, const char *agent_id, char node_id[AD_ID_MAX]);
/* The move's note in agent_id's transcript (a system message, no run) and
 * agent_moved {agentId, ...moved} on its topics (moved taken). */
void ad_runner_moved_note(ad_runner_t *r, const char *agent_id, const char *text, json_t *moved);
/* Every agent of crew (a crew row; st's agents of its org, archived ones
 * left out) started with prompt when it is not running (start), or
 * stopped (force) when it is: *out {crewId, started|stopping: [ids],
 * skipped: [{id, reason}]} (new). 0, or the store's error. Loop thread
 * (crewops.c). */
int ad_runner_crew_all(ad_runner_t *r, ad_store_t *st, const json_t *crew, bool start, bool force,
                       const char *prompt, json_t **out);
/* The agent joined crew (NULL or "": left its crew) while its run goes on:
 * the run's events go to crew:<crew> and carry its id from now on. */
void ad_runner_set_crew(ad_runner_t *r, const char *agent_id, const char *crew);
/* Terminal agents: resize, and raw input bytes. AD_ENOENT / AD_ESTATE. */
int ad_runner_resize(ad_runner_t *r, const char *agent_id, uint16_t rows, uint16_t cols);
int ad_runner_write_raw(ad_runner_t *r, const char *agent_id, const void *data, size_t len);

/* Raw terminal output of a running terminal agent, for attached viewers.
 * cb gets the recent output (up to 64 KiB) at once, then every chunk as it
 * is read; when the run ends it is called with (NULL, 0) and the tap is gone (do not
 * untap it then). Returns AD_ENOENT when the agent is not running, AD_ESTATE
 * when it has no terminal. */
typedef struct ad_runner_tap ad_runner_tap_t;
typedef void (*ad_runner_raw_cb)(const char *data, size_t len, void *ud);
int ad_runner_tap(ad_runner_t *r, const char *agent_id, ad_runner_raw_cb cb, void *ud,
                  ad_runner_tap_t **out);
/* Detaches a viewer; no callback follows. */
void ad_runner_untap(ad_runner_tap_t *t);

/* Whether path may be shown to a sandboxed agent (state.sandbox.paths):
 * absolute, existing, and neither inside nor holding the data dir. why
 * says why not. */
bool ad_run_sandbox_path_ok(const ad_config_t *cfg, const char *path, char *why, size_t whysz);
/* The sandbox policy an agent runs under: its own state.sandbox (agent_pol,
 * may be NULL) over its workspace's default (ws_pol, may be NULL), field by
 * field: "none" (the agent's), or {network: "on"|"off", paths: […], from:
 * {network, paths}} where from names whose each one is ("agent",
 * "workspace" or "default"). A new reference. */
json_t *ad_run_sandbox_effective(json_t *agent_pol, json_t *ws_pol);
/* The same for a stored agent (its row, with worktreeId), its workspace
 * read from st (loop thread); agent is borrowed. NULL when the store could not say (a start
 * is refused then: a policy not read could be a narrower one). */
json_t *ad_run_sandbox_of(ad_store_t *st, const ad_row_agent_t *agent);
/* The agent id as its row (ad_store_agent_row_sandbox: 0, AD_ENOENT or an
 * error) with sandbox_effective filled, for GET /api/agents/:id: one
 * statement, as on PostgreSQL each is a round trip. Loop thread. */
int ad_run_agent_row(ad_store_t *st, const char *id, ad_row_agent_t *out);

/* ---- an agent's run settings, checked before they are stored (spec.c) ----------
 * Each returns 0, or AD_EINVAL with why saying what is wrong (the REST
 * layer answers it as a 422 on the field). Any thread. */
/* Environment variables that change how a program loads or what it runs
 * (LD_*, NODE_OPTIONS, PYTHONPATH, GIT_* hooks, ...). */
bool ad_run_env_unsafe(const char *name);
/* env maps names to strings; an unsafe name only with allow_unsafe. */
int ad_run_env_check(const json_t *env, bool allow_unsafe, char *why, size_t whysz);
/* A sandbox policy object {network: "on"|"off"|{allow: [host[:port]]},
 * paths: ["/ro", {path, write}], hostServices: ["ADDR:PORT"]}
 * (ad_run_sandbox_path_ok for each path; each service an IP literal as
 * inet_ntop writes it, a port not 3128, no port twice). */
int ad_run_sandbox_check(const ad_config_t *cfg, const json_t *sb, char *why, size_t whysz);
/* Whether a caller (owner: the daemon's owner; org_id: its organisation)
 * may set the sandbox policy sb, once an admin scope is checked: "none"
 * only the owner, and never as a workspace's (workspace: sb is a
 * workspace's default); paths and hostServices only the owner's
 * organisation, since they show this machine's files and services; then
 * ad_run_sandbox_check. 0, AD_EINVAL (a
 * 422 on "sandbox") or AD_EPERM (a 403), with why. */
int ad_run_sandbox_allowed(const ad_config_t *cfg, const json_t *sb, bool workspace, bool owner,
                           const char *org_id, char *why, size_t whysz);
/* The audit's words for a change of a sandbox policy, into out (n bytes,
 * cut to fit): "<what>: old -> new", each compact JSON, or "default" when
 * unset (NULL or null). */
void ad_run_sandbox_note(const char *what, const json_t *old, const json_t *now, char *out,
                         size_t n);
/* limits {memoryMb 16..1048576, cpuPercent 1..100000 (of one core)}: the
 * run's cgroup enforces them (src/proc). */
int ad_run_limits_check(const json_t *lim, char *why, size_t whysz);
/* Whether s may name a worker node (state.node): 1-63 of [A-Za-z0-9._-]. */
bool ad_run_node_name_ok(const char *s);
/* A placement asked of worker nodes (state.placement): {labels: {k: v}
 * (at most 32, names as node names, values up to 128 bytes), gpu: bool,
 * memoryMb: 1..16777216}, nothing else; {} is any node. */
int ad_run_placement_check(const json_t *p, char *why, size_t whysz);
/* Whether url is an http:// or https:// URL of printable characters. */
bool ad_run_base_url_ok(const char *url);
/* ---- an agent's run spec, from its create or update body (agentspec.c) --------
 * The values only: who may set them is the caller's. Any thread. */
/* What the first field of body that only an admin may set asks for
 * ("setting an agent's environment", "setting an agent's sandbox", "an
 * agent that runs a command", "choosing where an agent's CLI sends its
 * requests"), or NULL. executor NULL is claude. */
const char *ad_run_spec_admin_need(const json_t *body, const char *executor);
/* How the runner starts the agent: command (argv; required for the
 * command executor), terminal, env ({NAME: value}; an unsafe name only
 * with allowUnsafeEnv), stopWith (sigint, stdin, none), model, limits,
 * sandbox ("none" or a policy), baseUrl, codexConfig, systemPrompt
 * (claude's), acpAgent (acp's, else a command) and a state object, checked
 * into *state (new; NULL when the body names none of them). 0, or
 * AD_EINVAL with e. */
int ad_run_spec_state(const ad_config_t *cfg, const json_t *body, const char *executor,
                      json_t **state, ad_field_err_t *e);
/* What an agent's create and update share: name (1 to 200 bytes), mode
 * (AD_ROW_AGENT_MODE_CHOICES, the schema's), permissions (at most 64 entries of src/agent's
 * ad_permission_check) and crewId (a string or null), into args. 0, or
 * AD_EINVAL with e; a refused permission's index in *bad_perm (else
 * SIZE_MAX). Whether the crew is one of the agent's org is the caller's. */
int ad_run_spec_common(const json_t *body, json_t *args, size_t *bad_perm, ad_field_err_t *e);
/* A PATCH's command and env, checked as at create, into args; state and
 * executor cannot be changed. 0, or AD_EINVAL with e. Its node and
 * placement too (ad_run_spec_place). */
int ad_run_spec_patch(const json_t *body, json_t *args, ad_field_err_t *e);
/* Where an agent runs, from a PATCH's or a fork's body (issue #77): node
 * (a name or id) or placement, either null for here, checked as at create,
 * into args "node" and "placement" (the other one null when one is set;
 * the store sets or removes them in state). 0, or AD_EINVAL with e. */
int ad_run_spec_place(const json_t *body, json_t *args, ad_field_err_t *e);

/* A PATCH of a run's own fields {name?, color? (#rrggbb), tags?, notes?,
 * group?}, each null to reset it, into set; any other key is refused. 0,
 * or AD_EINVAL with e. */
int ad_run_patch_check(const json_t *body, json_t *set, ad_field_err_t *e);
/* Stores set (taken; as ad_run_patch_check made it) on run id of org,
 * then publishes run_update with the run to its run's and org's topics and
 * calls cb(0, the run (a reference cb owns), ud); or cb(the store's error,
 * NULL, ud) (AD_ENOENT: no such run). Loop thread. */
void ad_run_patch_save(ad_store_t *st, ad_bus_t *bus, const char *id, const char *org, json_t *set,
                       ad_store_result_cb cb, void *ud);

/* The config config_id of org for a run: *record {id, name, schemaId,
 * values (checked again against its schema)} and *schema (a built-in, or
 * one of org's; new references). 0, or AD_EINVAL with e naming configId
 * or the value. Loop thread (store reads). */
int ad_run_config_load(ad_store_t *st, const char *config_id, const char *org, json_t **record,
                       json_t **schema, ad_field_err_t *e);

/* A start's config: configId and configFlags of body (a start's), else
 * the agent's state.configId and state.configFlags (a default config for
 * every start), loaded into cfg (record and schema new, NULL for none);
 * the start's queue checked too (a boolean). 0, or AD_EINVAL with e. Loop
 * thread (store reads). */
int ad_run_start_config(ad_store_t *st, const json_t *body, const char *agent_id, const char *org,
                        ad_run_config_t *cfg, ad_field_err_t *e);

/* What a new agent's insert arguments get when the request left them out:
 * name "Agent HH:MM" (local time), mode the default_mode setting (else
 * regular), permissions [read]. Loop thread (reads the settings). */
void ad_run_agent_defaults(ad_store_t *st, json_t *args);
/* Whether a new agent's body lets it run tools unasked at its first start
 * (permissions beyond "read", or auto mode): an admin's to create. And a
 * new agent's insert args completed (agentspec.c): the definition it came
 * from (def_name, may be NULL) in its state, a null crewId dropped, a new
 * "ag_" id, worktreeId, executor (NULL: claude) and now. Any thread. */
bool ad_run_spec_unasked(const json_t *body);
void ad_run_agent_finish(json_t *args, const char *wt, const char *executor, const char *def_name,
                         int64_t now);
/* Whether auto mode for Claude Code (executor NULL is claude) is refused:
 * agentd runs as root and the owner did not set allow_root_auto (Claude
 * Code may skip permissions as root only inside a sandbox). NULL when it
 * is not, else the words that say why and what to do. Loop thread. */
const char *ad_run_root_auto_refused(ad_store_t *st, const char *mode, const char *executor);
/* agent_update with payload (borrowed) on the topics of agent (a row): the
 * agent's, its worktree's, workspace ws's and its organisation's, in that
 * order (agentspec.c). And a reorder's result {agents, workspaceId}: an
 * agent_update {id, displayOrder} for each agent. Loop thread. */
void ad_run_agent_publish(ad_bus_t *bus, json_t *payload, const json_t *agent, const char *ws);
void ad_run_agents_order_publish(ad_bus_t *bus, const json_t *result);

#endif
