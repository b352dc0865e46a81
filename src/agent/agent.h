/* SPDX-License-Identifier: MIT */
/*
 * agent: executors and output parsers. An executor turns an agent (executor
 * name, mode, permissions, session, model, prompt) into an argv, extra
 * environment and the first stdin bytes; a parser turns each stdout line of
 * the running agent into normalized records that the runner (src/run) maps
 * to bus events (docs/events.md), stored messages and usage. Nothing here
 * spawns, stores or publishes.
 *
 * Threads: everything here is plain data and may run on any thread; one
 * parser belongs to one run and is used by one thread at a time.
 */
#ifndef AD_AGENT_H
#define AD_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/core.h"
#include "rows.h"

/* ---- executors and modes ------------------------------------------------ */

/* The executor is the schema's (schema/rows.def, enum executor): an agent
 * row's executor is one of these as it is, in the same order. */
typedef ad_row_executor_t ad_executor_t;
#define AD_EXEC_CLAUDE AD_ROW_EXECUTOR_CLAUDE
#define AD_EXEC_CODEX AD_ROW_EXECUTOR_CODEX
#define AD_EXEC_GEMINI AD_ROW_EXECUTOR_GEMINI
#define AD_EXEC_COMMAND AD_ROW_EXECUTOR_COMMAND
#define AD_EXEC_ACP AD_ROW_EXECUTOR_ACP /* any Agent Client Protocol agent (acp.c) */

/* The schema's agent_mode, in an order of its own: a spec zeroed is
 * regular, never auto. The words are the schema's (ad_agent_mode_of maps a
 * row's). */
typedef enum {
    AD_MODE_REGULAR = 0, /* the CLI's default permission handling */
    AD_MODE_PLAN,        /* read-only planning */
    AD_MODE_AUTO,        /* no permission prompts at all */
} ad_agent_mode_t;

/* "claude", "codex", "gemini", "command", "acp" <-> enum (the schema's
 * table). parse returns 0 or AD_EINVAL for an unknown name. name() returns a
 * static string ("unknown" out of range). */
int ad_executor_parse(const char *name, ad_executor_t *out);
const char *ad_executor_name(ad_executor_t e);
/* "regular", "plan", "auto" <-> enum (NULL or "" parses as regular). */
int ad_agent_mode_parse(const char *name, ad_agent_mode_t *out);
const char *ad_agent_mode_name(ad_agent_mode_t m);
/* A row's mode (ad_row_agent_t.mode) as the spec's. */
ad_agent_mode_t ad_agent_mode_of(ad_row_agent_mode_t m);

/* The executable configured for an executor: cfg->claude_bin etc. (flags
 * --claude-bin/--codex-bin/--gemini-bin, AGENTD_CLAUDE_BIN/...). NULL for
 * AD_EXEC_COMMAND. Borrowed from cfg. */
const char *ad_executor_bin(const ad_config_t *cfg, ad_executor_t e);

/* Finds an executable the way execvp would: a name containing '/' is
 * checked as is, any other name is looked up in each directory of path_env
 * (the PATH the child will get; NULL means getenv("PATH")). Writes the path
 * found into out. Returns 0, AD_ENOENT when nothing executable is found,
 * AD_EINVAL for an empty name, AD_ETOOBIG when out is too small. */
int ad_executable_resolve(const char *name, const char *path_env, char *out, size_t outsz);

/* What an agent asks for. Every pointer is borrowed for the call. */
typedef struct {
    ad_executor_t executor;
    ad_agent_mode_t mode;
    const char *const *permissions; /* allowed tools, e.g. "Bash", "Read" */
    size_t npermissions;
    const char *session_id; /* NULL or "": a new session; else resume it */
    /* claude: resume session_id into a new session (--fork-session), so the
     * session file it came from is never appended to (a forked agent's
     * first run). */
    bool fork_session;
    const char *model; /* NULL or "": the CLI's default */
    /* claude only, NULL or "": none. Text added to the CLI's system prompt
     * (--append-system-prompt): an agent definition's body. */
    const char *system_prompt;
    const char *prompt; /* NULL or "": none (claude then waits on stdin) */
    /* AD_EXEC_COMMAND, and AD_EXEC_ACP without a preset: argv, command[0]
     * = program */
    const char *const *command;
    size_t ncommand;
    /* AD_EXEC_ACP: a preset ("gemini", "claude-code-acp", "codex-acp",
     * see ad_acp_preset_check), or NULL / "" to run command. */
    const char *acp_agent;
    /* The allow_root_auto setting: claude in auto mode when agentd runs as
     * root needs IS_SANDBOX=1, which only this lets agentd set. */
    bool allow_root_auto;
    /* The program runs on a worker node (issue #34): it is looked up on
     * the node's PATH when it starts there, not on agentd's here. */
    bool remote;
    /* NULL or "": the CLI's own provider. Else the API base URL the CLI
     * talks to, as its own setting takes it: ANTHROPIC_BASE_URL for claude,
     * GOOGLE_GEMINI_BASE_URL for gemini (both without the /v1 part), and
     * for codex the provider's base_url (with /v1: it appends /responses). */
    const char *base_url;
    /* codex only, NULL for none: an object of extra `-c key=value` settings
     * (dotted keys, JSON values written as TOML). Borrowed. */
    const json_t *codex_config;
    /* codex only, NULL or "": not known. The CLI's version from an earlier
     * run: one older than AD_CODEX_APP_MIN runs `codex exec --json` (one
     * process per turn) instead of `codex app-server`. */
    const char *cli_version;
} ad_agent_spec_t;

/* The first Codex CLI version whose `app-server` agentd speaks (its schema
 * is pinned by tests/e2e/codex-app-schema.test.js). */
#define AD_CODEX_APP_MIN "0.169.0"

/* How to launch one run. Owns everything; release with ad_launch_cleanup(). */
typedef struct {
    char **argv; /* NULL-terminated; argv[0] is the resolved absolute path */
    size_t argc;
    char **env; /* extra "KEY=VALUE" entries on top of the supervisor's clean
                   environment, NULL-terminated (may be just {NULL}) */
    size_t nenv;
    char *stdin_data; /* bytes to write on stdin at start, or NULL */
    size_t stdin_len;
    /* true: stdin stays open after stdin_data and later user messages go there
     * (claude stream-json input); false: close stdin after stdin_data. */
    bool interactive;
    /* The polite first step of a graceful stop (reference A.7, E.6), before
     * SIGTERM and SIGKILL: close stdin, then send stop_signal to the process
     * group. SIGINT for the agent CLIs (it ends a claude turn with a result;
     * SIGTERM would leave none), SIGTERM for commands. */
    int stop_signal;
    /* One turn per process (codex exec, gemini headless): the run ends
     * when the turn does, and a follow-up is a new run resuming the
     * session. */
    bool one_shot;
    /* The CLI prints its version only when asked: the runner runs
     * `argv[0] --version` beside the run (claude says it in its init). */
    bool probe_version;
    /* codex app-server: JSON-RPC lines on stdin and stdout. The first lines
     * come from ad_codex_app_open (the run knows the sandbox by then), the
     * protocol's later lines from the parser (AD_REC_WRITE) and from
     * ad_codex_app_input / _interrupt / _answer. */
    bool rpc;
} ad_launch_t;

/* Builds the launch for spec. cfg gives the executables (borrowed);
 * path_env is the PATH the child will have (NULL: getenv("PATH")).
 *   claude : claude -p --output-format stream-json --input-format stream-json
 *            --verbose --include-partial-messages [--permission-prompt-tool
 *            stdio (regular mode: a tool that needs permission becomes a
 *            control_request on stdout, AD_REC_APPROVAL) | --permission-mode plan |
 *            --dangerously-skip-permissions (+ IS_SANDBOX=1 in env when agentd
 *            runs as root and spec->allow_root_auto; as root without it the
 *            launch is refused with AD_EPERM)] [--allowedTools
 *            A,B] [--model M] [--resume ID [--fork-session]]; the prompt is the first stdin
 *            line (ad_claude_user_line), interactive;
 *            ANTHROPIC_BASE_URL=base_url in env when given.
 *   codex  : codex exec --json [-c model_providers.agentd={…base_url…}
 *            -c model_provider=agentd] [-c K=V for codex_config] [--model M]
 *            (--sandbox read-only | --sandbox workspace-write |
 *            --dangerously-bypass-approvals-and-sandbox for plan / regular /
 *            auto) [resume ID] -   with the prompt on stdin, then closed, so
 *            it never waits for more input; one_shot, probe_version.
 *   gemini : gemini --output-format stream-json --skip-trust --approval-mode
 *            (plan | auto_edit | yolo) [--model M] [--resume ID] --prompt=
 *            with the prompt on stdin, then closed; GOOGLE_GEMINI_BASE_URL
 *            in env for base_url; one_shot, probe_version.
 *   command: spec->command as given.
 * Returns 0; AD_ENOENT when the executable is not found (err says which and
 * how to configure it: the API answers 422); AD_EINVAL for a bad spec (no
 * command, no prompt for codex or gemini, a session id or model that starts
 * with '-', a codex_config that cannot be written as TOML, ...). On error
 * *out is left empty (safe to clean up). */
int ad_launch_build(const ad_agent_spec_t *spec, const ad_config_t *cfg, const char *path_env,
                    ad_launch_t *out, char *err, size_t errsz);
void ad_launch_cleanup(ad_launch_t *l);

/* An agent's permission entries (perms.c): "read", "write", "execute" (the
 * seed's words) or a Claude Code tool rule ("Bash", "Bash(git log *)",
 * "mcp__server__tool"). check: 0, or AD_EINVAL with why saying what is
 * wrong. tools: the --allowedTools text for an entry (read -> "Read,Glob,
 * Grep", write -> "Edit,Write,NotebookEdit", execute -> "Bash"; a rule is
 * itself). Static or borrowed from entry. */
int ad_permission_check(const char *entry, char *why, size_t whysz);
const char *ad_permission_tools(const char *entry);
/* Whether an entry of perms (an array of permission entries) already lets
 * tool run: a word whose tools name it ("execute" -> Bash) or the bare
 * tool. A rule with an argument ("Bash(git log *)") is the CLI's to match,
 * so it does not count here. */
bool ad_permissions_allow(const json_t *perms, const char *tool);

/* Whether an agent's codexConfig can be given to codex as `-c key=value`
 * settings: an object of at most 64 dotted keys whose values are strings,
 * numbers, booleans, arrays or objects (no null). 0, or AD_EINVAL with err
 * saying which key is wrong. */
int ad_codex_config_check(const json_t *cfg, char *err, size_t errsz);
/* A definition's front matter and body (def: {systemPrompt, model, tools}
 * as src/defs reads them) fill what an agent's create request (body, in
 * place) left out: systemPrompt, model (not "inherit"), and permissions
 * from the tools that are valid permission rules (at most 64). */
void ad_agent_def_apply(json_t *body, const json_t *def);

/* ---- CLI versions ---------------------------------------------------------- */

/* The version in a CLI's `--version` line ("codex-cli 0.169.0" -> "0.169.0",
 * "0.61.0", "2.1.330 (Claude Code)"): the first run of digits and dots with
 * at least one dot, copied into out. Returns 0, or AD_ENOENT when the line
 * has none (out is then ""). */
int ad_cli_version_parse(const char *line, char *out, size_t outsz);

/* Whether agentd was tested with this version of e's CLI: same major and
 * minor as a version in its table (patch releases are taken as
 * compatible). known_out (may be NULL) gets the tested versions, e.g.
 * "0.169.x". AD_EXEC_COMMAND has no table (always known). */
bool ad_cli_version_known(ad_executor_t e, const char *version, char *known_out, size_t knownsz);

/* The run-time notice for a version agentd does not know: one line that
 * names the CLI, its version, the tested ones and what may go wrong. */
void ad_cli_version_warning(ad_executor_t e, const char *version, char *out, size_t outsz);

/* The stdin line that sends a user message to claude in stream-json input
 * mode, newline included:
 * {"type":"user","message":{"role":"user","content":TEXT},
 *  "parent_tool_use_id":null,"session_id":"default"}\n
 * Returns owned (free with free()); *len gets its length. text must be valid
 * UTF-8 (AD_EINVAL otherwise, *len = 0, NULL returned). */
char *ad_claude_user_line(const char *text, size_t *len);

/* ---- parser records --------------------------------------------------------
 * One stdout line gives zero or more records, in the order the runner should
 * act on them. A record is a tagged struct: which fields mean something
 * depends on `type` (listed per type). Strings are owned by the record (NULL
 * when absent); `json` is an owned reference (json_incref it to keep it
 * beyond ad_recs_clear()).
 */
typedef enum {
    /* A line that is not a known JSON record (non-JSON, unknown type,
     * truncated): text = the line (capped at AD_PARSER_OUTPUT_MAX bytes,
     * then "…[truncated]"). → agent_output {stream:"stdout", content:text,
     * isComplete:true}. */
    AD_REC_OUTPUT = 0,
    /* Token streaming: text = the delta. → agent_output {isComplete:false}. */
    AD_REC_DELTA,
    /* The CLI's session: session_id, model, version (any may be NULL).
     * Claude sends it at start and again at each turn; store the latest. */
    AD_REC_SESSION,
    /* A message to store: role, text, tool_id/tool_name, json = tool input
     * (role tool), tool_output (role tool, with the result), token_count,
     * is_complete (false for a tool call whose result is not in yet),
     * is_error (a tool that failed, or an API error shown as a message).
     * → message_created {message}; a tool call's result is stored over
     * its call (same id): message_updated {message}. */
    AD_REC_MESSAGE,
    /* A tool call began: tool_id, tool_name, json = params.
     * → tool_start {toolId, name, params, agentId, runId, crewId}. */
    AD_REC_TOOL_START,
    /* A tool call ended: tool_id, tool_name, duration_ms (from its
     * TOOL_START; 0 when unknown), is_error (status "error" else "success"),
     * exit_code (-1 when unknown). → tool_end {toolId, durationMs, status,
     * exitCode (null when unknown)}. */
    AD_REC_TOOL_END,
    /* A turn ended: usage (this turn), cost_usd (this turn: the CLI's, or
     * for codex and gemini the usage at the configured model prices, see
     * ad_parser_set_prices), total_cost_usd
     * (cumulative for the process, -1 when the CLI gives none), duration_ms,
     * num_turns, model, session_id, subtype (e.g. "success",
     * "error_max_turns"), is_error with text = the error ("API Error: 529 …",
     * "interrupted (aborted_streaming)" after SIGINT) and api_error_status
     * (HTTP code or 0). → run usage; is_error → run/agent error unless the
     * runner itself interrupted the turn; if the process is still alive the
     * agent is `waiting` for input. */
    AD_REC_RESULT,
    /* Retry / rate-limit / other notice: subtype ("api_retry", "rate_limit",
     * "compact", "error"), text = a one-line human description, json = the
     * original object. → agent_output {stream:"system"} (and a log line). */
    AD_REC_NOTICE,
    /* Context usage: level 0-100 = tokens in context / model window.
     * → agent_context {agentId, level}. Only sent when it changes. */
    AD_REC_CONTEXT,
    /* AD_EXEC_COMMAND: a JSON line whose type the bus knows. subtype = the
     * event type ("metric", "metrics", "tool_start", "tool_progress",
     * "tool_end", "agent_update"), json = the whole object. */
    AD_REC_EVENT,
    /* The agent's API message just ended with its real output token count
     * (claude's message_delta; the assistant lines before it carry the count
     * at the message's start): token_count. → the run's last assistant
     * message is written again with it (message_updated). */
    AD_REC_TOKENS,
    /* Claude asks whether it may run a tool (a control_request can_use_tool,
     * sent with --permission-prompt-tool stdio): subtype = the CLI's
     * request_id, tool_name, tool_id (tool_use_id), json = the tool input,
     * text = the CLI's description (may be NULL). is_error set: the CLI
     * withdrew request subtype (control_cancel_request), nothing else set.
     * → an approval the user decides (src/run, approvals). */
    AD_REC_APPROVAL,
    /* A JSON-RPC peer (codex app-server, an ACP agent) needs an answer: text = the line
     * to write on the agent's stdin, newline included (a turn/start once
     * the thread is open, an automatic approval, an error for a request
     * agentd does not serve). */
    AD_REC_WRITE,
    /* ACP: the agent asks something only the runner can do (read or write
     * a file of the worktree, run a terminal): subtype = the method
     * ("fs/read_text_file", "fs/write_text_file", "terminal/create",
     * "terminal/output", "terminal/wait_for_exit", "terminal/kill",
     * "terminal/release"), tool_id = the request's id as JSON text, text =
     * the worktree-relative path (fs), the terminal's cwd ("" for the
     * worktree; create) or the terminalId (the others), a path already
     * checked to stay below the worktree by name (the runner opens it
     * beneath the worktree), json = the params, checked. Allowed already
     * (mode, permissions, a grant or the user). → answered with
     * ad_acp_reply. */
    AD_REC_REQUEST,
    /* ACP: the agent broke the protocol (a line that is not JSON-RPC, an
     * update for a session it never opened, a line over the limit, a
     * failed handshake): text = why. → the run fails with that reason and
     * the agent is stopped. */
    AD_REC_FAULT,
} ad_rec_type_t;

typedef enum {
    AD_ROLE_USER = 0,
    AD_ROLE_ASSISTANT,
    AD_ROLE_SYSTEM,
    AD_ROLE_TOOL,
} ad_role_t;

/* "user", "assistant", "system", "tool". */
const char *ad_role_name(ad_role_t r);

typedef struct {
    int64_t input_tokens; /* not counting cache reads/writes */
    int64_t output_tokens;
    int64_t cache_creation_tokens;
    int64_t cache_read_tokens;
} ad_usage_t;

typedef struct {
    ad_rec_type_t type;
    char *text;
    char *subtype;
    char *session_id;
    char *model;
    ad_role_t role;
    char *tool_id;
    char *tool_name;
    char *tool_output;
    json_t *json;
    int64_t token_count;
    int64_t duration_ms;
    int64_t num_turns;
    int exit_code;
    int api_error_status;
    int level;
    bool is_complete;
    bool is_error;
    ad_usage_t usage;
    double cost_usd;
    double total_cost_usd;
    char *version; /* AD_REC_SESSION: the CLI's version when it says it */
} ad_rec_t;

/* A growable list of records. Owns the records; ad_recs_clear() frees their
 * contents and keeps the array for reuse; ad_recs_cleanup() frees it all. */
typedef struct {
    ad_rec_t *v;
    size_t n;
    size_t cap;
} ad_recs_t;

void ad_recs_init(ad_recs_t *r);
void ad_recs_clear(ad_recs_t *r);
void ad_recs_cleanup(ad_recs_t *r);

/* Ids a record's event refers to; borrowed; crew_id may be NULL. */
typedef struct {
    const char *agent_id;
    const char *run_id;
    const char *crew_id;
} ad_rec_ids_t;

/* The bus event (docs/events.md) for a record, for the records that map to one
 * event by themselves: OUTPUT, DELTA, NOTICE -> "agent_output"; TOOL_START
 * -> "tool_start"; TOOL_END -> "tool_end" (status "success"/"error",
 * exitCode null when unknown); CONTEXT -> "agent_context"; EVENT -> its own
 * type, the line's fields without "type" plus agentId/runId when absent.
 * Sets *type (static or borrowed from r) and returns the payload (owned:
 * json_decref), or NULL for MESSAGE, SESSION and RESULT, which the runner
 * stores first (message_created needs the stored message; RESULT changes
 * status and usage). */
json_t *ad_rec_event(const ad_rec_t *r, const ad_rec_ids_t *ids, const char **type);

/* The message fields of an AD_REC_MESSAGE, camelCase as on the wire: role,
 * content, tokenCount, toolName, toolInput, toolOutput, isComplete (null for
 * absent ones). The runner adds id, agentId, runId and createdAt. Returns
 * owned (json_decref), or NULL for other record types. */
json_t *ad_rec_message_json(const ad_rec_t *r);

/* Plain-output records are capped at this many bytes of the line. */
#define AD_PARSER_OUTPUT_MAX (256 * 1024)

/* ---- parsers ----------------------------------------------------------- */

typedef struct ad_parser ad_parser_t;

/* A parser for one run of executor e. Returns owned: ad_parser_free(). */
ad_parser_t *ad_parser_new(ad_executor_t e);
void ad_parser_free(ad_parser_t *p);

/* Parses one stdout line (without its '\n'; a trailing '\r' is ignored; any
 * bytes, any length; need not be NUL-terminated). now_ms is a monotonic
 * clock in milliseconds (uv_now), used for tool durations. Appends records
 * to out and returns how many. Never fails: input it does not understand
 * becomes AD_REC_OUTPUT (blank lines give nothing). */
size_t ad_parser_feed(ad_parser_t *p, const char *line, size_t len, uint64_t now_ms,
                      ad_recs_t *out);

/* Call once when the process has exited: ends tool calls still open
 * (AD_REC_TOOL_END with is_error, text "interrupted") and flushes streamed
 * text that never got its final message. Returns how many records. */
size_t ad_parser_finish(ad_parser_t *p, uint64_t now_ms, ad_recs_t *out);

/* Token usage seen since the last AD_REC_RESULT, from assistant lines
 * deduplicated by message.id (the largest count per id wins): what to record
 * when a run dies before its result. */
void ad_parser_pending_usage(const ad_parser_t *p, ad_usage_t *out);

/* What the runner knows before the first line: the model the agent asked
 * for (codex never says which model it uses; NULL: the CLI's default) and
 * the model_prices setting (borrowed; a reference is kept; NULL: none), by
 * which codex and gemini turns are costed. A turn whose model has no price
 * adds a AD_REC_NOTICE (subtype "price", once per model) saying its cost
 * is not counted. */
void ad_parser_set_model(ad_parser_t *p, const char *model);
void ad_parser_set_prices(ad_parser_t *p, json_t *prices);

/* The session id and model seen so far (borrowed, NULL if none). */
const char *ad_parser_session_id(const ad_parser_t *p);
const char *ad_parser_model(const ad_parser_t *p);

/* ---- codex app-server (appserver.c) ----------------------------------------
 * One `codex app-server` process per agent run, one thread: the parser of
 * the run (ad_parser_new(AD_EXEC_CODEX)) keeps the protocol's state (thread,
 * the turn in progress, input waiting for the thread) once one of these has
 * been called. Lines returned are owned (free()), newline included. */
typedef struct {
    ad_agent_mode_t mode;
    const char *session_id;   /* NULL or "": thread/start; else resume it (or fork it) */
    bool fork;                /* thread/fork of session_id: a forked agent's first run */
    const char *model;        /* NULL: codex's default */
    const char *instructions; /* NULL: none (developerInstructions) */
    const char *cwd;          /* the worktree */
    /* agentd's sandbox confines the process: codex's own (bwrap) cannot
     * nest inside it, so codex runs commands directly (danger-full-access)
     * and approvals still ask. */
    bool outer_sandbox;
    /* The agent's permissions let commands (execute, Bash) or edits
     * (write, Edit) run: such approval requests are accepted at once. */
    bool allow_commands, allow_edits;
} ad_codex_open_t;

/* The first lines: initialize, initialized and thread/start (or
 * thread/resume, thread/fork). AD_EINVAL-free: NULL only if out of memory. */
char *ad_codex_app_open(ad_parser_t *p, const ad_codex_open_t *o, size_t *len);
/* A run taken up again after a restart (its app-server lives on under its
 * holder): the parser speaks the protocol on thread_id. */
void ad_codex_app_attach(ad_parser_t *p, const char *thread_id, const ad_codex_open_t *o);
/* A user message: turn/start when no turn runs, turn/steer while one does.
 * 0 with *line NULL when it waits for the thread (sent as a later
 * AD_REC_WRITE); AD_EINVAL for text that is not UTF-8, AD_ETOOBIG when too
 * many wait, AD_ESTATE when codex refused to open any thread. */
int ad_codex_app_input(ad_parser_t *p, const char *text, char **line, size_t *len);
/* turn/interrupt of the turn in progress, or NULL when none runs. */
char *ad_codex_app_interrupt(ad_parser_t *p, size_t *len);
/* The answer to an approval request (request_id as AD_REC_APPROVAL's
 * subtype gave it: the JSON of the peer's id): decision "accept",
 * "decline" or "acceptForSession". NULL for an id that is not JSON. */
char *ad_codex_app_answer(ad_parser_t *p, const char *request_id, const char *decision,
                          size_t *len);
/* Whether the parser speaks app-server (ad_codex_app_open or _attach). */
bool ad_codex_app_on(const ad_parser_t *p);
/* Whether a turn runs or is asked for (a message sent at a turn's end
 * starts the next at once). */
bool ad_codex_app_busy(const ad_parser_t *p);

/* The context window (tokens) of a model name: known families, a "[1m]"
 * suffix for 1M-token variants, 200000 for other claude models, and
 * `fallback` for names it does not know. */
int64_t ad_model_context_window(const char *model, int64_t fallback);

/* ---- ACP: the Agent Client Protocol (acp.c, acp_exec.c) -----------------------
 * JSON-RPC 2.0 over the agent's stdin/stdout (rpc.c). agentd is the client:
 * initialize, then session/new with the worktree as cwd (or session/load of
 * the agent's session when the agent can), then one session/prompt per
 * user message (messages sent during a turn wait for its end, in order).
 * session/update becomes records (text, tool calls, plans, usage);
 * session/request_permission becomes an AD_REC_APPROVAL (or is answered at
 * once in plan and auto mode, or when the agent's permissions allow the
 * kind of tool); fs/read_text_file, fs/write_text_file and terminal/…
 * become AD_REC_REQUEST for the runner when the mode, the permissions or
 * a grant allow them (else an AD_REC_APPROVAL; the terminal capability is
 * offered but in plan mode); anything that breaks the protocol is an
 * AD_REC_FAULT.
 */

/* Whether name is a known preset: "gemini" (the gemini CLI with --acp),
 * "claude-code-acp", "codex-acp". */
bool ad_acp_preset_check(const char *name);

/* What the parser needs before the first line. Borrowed for the call. */
typedef struct {
    const char *cwd;        /* the worktree, absolute */
    const char *session_id; /* NULL or "": a new session; else load it when the agent can */
    const char *prompt;     /* NULL or "": none; else the first session/prompt */
    ad_agent_mode_t mode;
    const char *const *permissions; /* "read", "write", "execute", tool kinds */
    size_t npermissions;
    const char *client_version; /* agentd's, for clientInfo */
    /* The longest line the agent may write (the supervisor's cap, which
     * cuts longer lines and marks them: such a line is a fault). 0: 8 MiB. */
    size_t line_max;
    /* Do not offer fs/read_text_file (the agent reads with its own tools,
     * in its sandbox): for the Gemini CLI 0.61, which takes any error of
     * that request, "not found" too, as a failed read, and so cannot
     * create a file. */
    bool no_fs_read;
    /* ad_acp_resume only: a turn was running when the previous daemon
     * stopped (the agent was not waiting for input). */
    bool in_turn;
} ad_acp_setup_t;

/* Starts the protocol on an ACP parser: returns the initialize request line
 * (owned, '\n' included); NULL when p is not an ACP parser. */
char *ad_acp_begin(ad_parser_t *p, const ad_acp_setup_t *s, size_t *len);
/* Takes the protocol up on a run agentd left running (a restart): the
 * session is known, nothing of the handshake is sent again; while a turn
 * is taken to run (s->in_turn), an answer to a request this parser never
 * sent ends it, and messages wait for that. */
void ad_acp_resume(ad_parser_t *p, const ad_acp_setup_t *s);
/* A user message: 0 with *line the session/prompt (owned) to write now, or
 * 0 with *line NULL when it waits for the turn that runs (sent when that
 * ends, as an AD_REC_WRITE); AD_ETOOBIG when 16 messages already wait,
 * AD_EINVAL for text that is not UTF-8. */
int ad_acp_prompt(ad_parser_t *p, const char *text, char **line, size_t *len);
/* The session/cancel notification for the turn that runs (owned), or NULL
 * when none runs. Waiting messages are dropped. */
char *ad_acp_cancel(ad_parser_t *p, size_t *len);
/* Whether a turn runs (a session/prompt not answered yet). */
bool ad_acp_busy(const ad_parser_t *p);

typedef enum {
    AD_ACP_ALLOW = 0,
    AD_ACP_DENY,
    AD_ACP_ALLOW_ALWAYS,
} ad_acp_decision_t;

/* The answer to permission request request_id (an AD_REC_APPROVAL's
 * subtype): the option the agent offered whose kind fits the decision
 * (allow: allow_once, else allow_always; allow_always: allow_always, else
 * allow_once; deny: reject_once, else reject_always, else "cancelled").
 * A request this parser never saw (asked of the agentd before a restart,
 * its agent re-attached) is answered from offered, the options the agent
 * offered as the approval stored them (borrowed; NULL: none kept). Owned;
 * NULL when the request is not pending (it is forgotten after). */
char *ad_acp_permission_answer(ad_parser_t *p, const char *request_id, ad_acp_decision_t d,
                               const json_t *offered, size_t *len);
/* The user's decision on request_id (an AD_REC_APPROVAL's subtype), as
 * records into out: for a permission request, the AD_REC_WRITE answer above
 * (and, when allowed, a grant: the fs write or terminal that carries the
 * call out in this turn is not asked again; allow always also puts the word
 * in the run's permissions); for an fs or terminal request held for the
 * user, the AD_REC_REQUEST that serves it (allow) or an error answer
 * (deny). A request this parser never saw (asked before a restart) is
 * decided from the approval as stored: tool and input (borrowed, may be
 * NULL). False when there is nothing to decide. */
bool ad_acp_decide(ad_parser_t *p, const char *request_id, ad_acp_decision_t d, const char *tool,
                   const json_t *input, ad_recs_t *out);
/* The answer to an AD_REC_REQUEST whose id is id_json: result (stolen) when
 * message is NULL, else the error code and message. Owned, or NULL for an
 * id that does not parse. */
char *ad_acp_reply(ad_parser_t *p, const char *id_json, json_t *result, int64_t code,
                   const char *message, size_t *len);

/* ---- rate and usage limits (limit.c, issue #75) ------------------------------------- */
typedef enum {
    AD_LIMIT_NONE = 0,
    AD_LIMIT_HINT, /* a notice that says when a limit resets (the turn may still end well) */
    AD_LIMIT_HIT,  /* the turn ended on a rate or usage limit */
} ad_limit_t;
/* Whether rec says the agent met a limit: a failed RESULT with
 * api_error_status 429 or a limit's words in its text (HIT); Claude's
 * rate_limit_event "rejected" or an api_retry after a 429 (HINT). reset_ms
 * gets when it may go on (ms since the epoch; 0: not said). Any thread. */
ad_limit_t ad_limit_of(const ad_rec_t *rec, int64_t now_ms, int64_t *reset_ms);
/* Whether text reads as a CLI's rate or usage limit message. */
bool ad_limit_text(const char *text);
/* The reset text names ("…|1700000000", "try again in 30s", "resets 3pm"), ms since the epoch, or
 * 0. */
int64_t ad_limit_reset(const char *text, int64_t now_ms);

#endif
