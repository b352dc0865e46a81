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
#include "core/core.h"
#include "proc/proc.h"
#include "store/store.h"

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
int ad_runner_approval_answer(ad_runner_t *r, const char *agent_id, const char *approval_id,
                              ad_approval_decision_t d, const char *tool, json_t *input);
/* Agent processes an older agentd left running without a holder, found
 * at start-up: [{runId, agentId, orgId, pid}] (borrowed; never NULL). */
json_t *ad_runner_orphans(const ad_runner_t *r);
/* Runs that cannot go on for now (a full disk, issue #41), org's (NULL or
 * "": all): [{agentId, runId, reason, since}]. New reference. */
json_t *ad_runner_stalled(const ad_runner_t *r, const char *org);
/* What a live run adds to its stored row: {stalled: {reason, since} or
 * null, holderLog: the end of its holder's log (its own errors) or null}.
 * NULL when run_id is not running here. New reference. */
json_t *ad_runner_run_live(const ad_runner_t *r, const char *run_id);
/* Calls fn for every run whose process is alive, with its agent, run and
 * org ids and its process (all borrowed for the call). */
typedef void (*ad_runner_each_fn)(const char *agent_id, const char *run_id, const char *org,
                                  const ad_proc_t *proc, void *ud);
void ad_runner_each(const ad_runner_t *r, ad_runner_each_fn fn, void *ud);
/* Counters since start, for /metrics: runs ended by status, their
 * durations (per-bucket counts, AD_RUN_DURATION_BOUNDS upper bounds in
 * seconds, the last bucket above them), tokens and cost. */
#define AD_RUN_DURATION_BUCKETS 9
extern const double ad_run_duration_bounds[AD_RUN_DURATION_BUCKETS];
typedef struct {
    uint64_t ended[5]; /* succeeded, failed, stopped, lost, degraded (ad_run_status_t order) */
    uint64_t duration_counts[AD_RUN_DURATION_BUCKETS + 1];
    double duration_sum_sec;
    uint64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
} ad_runner_stats_t;
void ad_runner_stats(const ad_runner_t *r, ad_runner_stats_t *out);
/* The stats as Prometheus families into b (prom.c; runner NULL: zeros),
 * with the runs stalled on a full disk. 0 or AD_ETOOBIG. Loop thread. */
int ad_runner_prom(const ad_runner_t *runner, ad_buf_t *b);
/* True while agent_id has a live process. */
bool ad_runner_is_running(const ad_runner_t *r, const char *agent_id);
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
 * read from st (loop thread). NULL when the store could not say (a start
 * is refused then: a policy not read could be a narrower one). */
json_t *ad_run_sandbox_of(ad_store_t *st, json_t *agent);

/* ---- an agent's run settings, checked before they are stored (spec.c) ----------
 * Each returns 0, or AD_EINVAL with why saying what is wrong (the REST
 * layer answers it as a 422 on the field). Any thread. */
/* Environment variables that change how a program loads or what it runs
 * (LD_*, NODE_OPTIONS, PYTHONPATH, GIT_* hooks, ...). */
bool ad_run_env_unsafe(const char *name);
/* env maps names to strings; an unsafe name only with allow_unsafe. */
int ad_run_env_check(const json_t *env, bool allow_unsafe, char *why, size_t whysz);
/* A sandbox policy object {network: "on"|"off"|{allow: [host[:port]]},
 * paths: ["/ro", {path, write}]} (ad_run_sandbox_path_ok for each path). */
int ad_run_sandbox_check(const ad_config_t *cfg, const json_t *sb, char *why, size_t whysz);
/* limits {memoryMb 16..1048576, cpuPercent 1..100000 (of one core)}: the
 * run's cgroup enforces them (src/proc). */
int ad_run_limits_check(const json_t *lim, char *why, size_t whysz);
/* Whether url is an http:// or https:// URL of printable characters. */
bool ad_run_base_url_ok(const char *url);
/* What a new agent's insert arguments get when the request left them out:
 * name "Agent HH:MM" (local time), mode the default_mode setting (else
 * regular), permissions [read]. Loop thread (reads the settings). */
void ad_run_agent_defaults(ad_store_t *st, json_t *args);
/* Whether auto mode for Claude Code (executor NULL is claude) is refused:
 * agentd runs as root and the owner did not set allow_root_auto (Claude
 * Code may skip permissions as root only inside a sandbox). Loop thread. */
bool ad_run_root_auto_refused(ad_store_t *st, const char *mode, const char *executor);

#endif
