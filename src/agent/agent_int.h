/* SPDX-License-Identifier: MIT */
/*
 * Private to src/agent: the parser state shared by the per-executor line
 * parsers (claude.c, codex.c, gemini.c, command.c) and the helpers in
 * parser.c that build records, track open tool calls, deduplicate usage by
 * message id and compute the context level.
 */
#ifndef AD_AGENT_INT_H
#define AD_AGENT_INT_H

#include "agent/agent.h"
#include "agent/price.h"
#include "agent/rpc.h"

/* Bounds on per-run state fed by the agent's output. */
#define AD_PARSER_MAX_TOOLS 1024     /* open tool calls remembered */
#define AD_PARSER_MAX_SEEN 4096      /* message ids remembered for usage dedupe */
#define AD_PARSER_TEXT_MAX (1 << 20) /* streamed text kept for a final message */

typedef struct {
    char *id;
    char *name;
    json_t *input; /* owned reference or NULL */
    uint64_t start_ms;
} open_tool_t;

typedef struct {
    char *id;
    ad_usage_t usage;
} seen_msg_t;

typedef struct ad_acp ad_acp_t;

struct ad_parser {
    ad_executor_t kind;
    ad_acp_t *acp; /* AD_EXEC_ACP: the protocol's state (acp_exec.c), owned */
    char *session_id;
    char *model;
    json_t *prices;    /* the model_prices setting, or NULL */
    ad_buf_t unpriced; /* ",model,model," already said to have no price */
    char *last_error;  /* gemini: the last error event, for a bare error result */
    open_tool_t *tools;
    size_t ntools;
    seen_msg_t *seen;
    size_t nseen;
    int64_t window;           /* context window learned from the agent; 0 = unknown */
    int64_t context_tokens;   /* tokens in context after the last API call */
    int last_level;           /* last AD_REC_CONTEXT level sent, -1 = none */
    double last_total_cost;   /* cumulative cost at the previous result */
    ad_buf_t text;            /* streamed assistant text not yet in a message */
    bool text_cut;            /* a piece of text was refused: the rest is not kept */
    struct ad_codex_app *app; /* codex app-server's protocol state, or NULL (appserver.c) */
};

/* ---- launch helpers (exec.c) ---------------------------------------------- */

/* A NULL-terminated, growable argv or env list; owns its strings. */
typedef struct {
    char **v;
    size_t n;
    size_t cap;
} ad_strv_t;

void ad_strv_push(ad_strv_t *s, const char *str);
/* Pushes prefix + value as one entry. */
void ad_strv_push2(ad_strv_t *s, const char *prefix, const char *value);
void ad_strv_free(ad_strv_t *s);

/* Per-executor argv/env builders for codex.c and gemini.c (the program
 * path is already argv[0]). They fill out->stdin_data with the prompt and
 * return 0, or AD_EINVAL with err set. */
/* codex.c: -c model_providers.agentd={base_url, the Responses API over
 * HTTP} -c model_provider=agentd, appended to argv (Codex and codex-acp
 * take the same overrides). 0 or AD_ETOOBIG. */
int ad_codex_provider_args(const char *base_url, ad_strv_t *argv);
/* -c key=value for each entry of an agent's codexConfig (codex, codex-acp);
 * AD_EINVAL with err naming the key that cannot be written as TOML. */
int ad_codex_config_args(const json_t *cfg, ad_strv_t *argv, char *err, size_t errsz);
/* The tool name shown for a codex item type (exec --json's snake_case or
 * app-server's camelCase), or NULL when the item is not a tool (codex.c). */
const char *ad_codex_tool_name(const char *itype);
/* gemini.c: the environment of every Gemini CLI run (headless and the
 * ACP preset), appended to env, then GOOGLE_GEMINI_BASE_URL when base_url
 * is set. */
void ad_gemini_env(const char *base_url, ad_strv_t *env);
int ad_codex_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_strv_t *env, ad_launch_t *out,
                   char *err, size_t errsz);
int ad_gemini_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_strv_t *env, ad_launch_t *out,
                    char *err, size_t errsz);

/* AD_EXEC_ACP's argv/env (acp_exec.c): the preset's program and flags, or
 * the command; no stdin (ad_acp_begin starts the protocol). */
int ad_acp_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_strv_t *env, ad_launch_t *out,
                 char *err, size_t errsz);
/* The program of spec's preset or command (cfg gives gemini's), or NULL
 * with err set. */
const char *ad_acp_program(const ad_agent_spec_t *spec, const ad_config_t *cfg, char *err,
                           size_t errsz);

/* ---- ACP state (acp_exec.c builds and answers, acp.c reads lines) ---------- */

#define AD_ACP_QUEUE_MAX 16 /* user messages waiting for the turn to end */
#define AD_ACP_ASKS_MAX 32  /* permission requests waiting for the user */

enum { AD_ACP_TAG_INIT = 1, AD_ACP_TAG_NEW, AD_ACP_TAG_LOAD, AD_ACP_TAG_PROMPT };

typedef enum {
    AD_ACP_STARTING = 0, /* initialize sent */
    AD_ACP_OPENING,      /* session/new or session/load sent */
    AD_ACP_READY,        /* a session, no turn */
    AD_ACP_TURN,         /* a session/prompt not answered yet */
    AD_ACP_BROKEN,       /* a fault was reported: nothing more is read */
} ad_acp_phase_t;

#define AD_ACP_GRANTS_MAX 32 /* permissions allowed in the turn, not yet used */

/* A request the user decides: its id (as JSON text, the approval's request
 * id) and either a permission request (method NULL: the options the agent
 * offered, the permission word and the worktree paths it names, for the
 * grant an allow gives) or an fs/terminal request held until the decision
 * (method and params, served on allow). */
typedef struct {
    char *id_json;
    json_t *id;
    json_t *options;
    char word[80];
    json_t *paths; /* array of worktree-relative paths; NULL: none named */
    char *method;
    json_t *params;
} ad_acp_ask_t;

struct ad_acp {
    ad_rpc_t rpc;
    ad_acp_phase_t phase;
    char *cwd;
    char *load_id; /* the session to load, or NULL */
    char *session; /* the session open, or NULL */
    bool can_load; /* agentCapabilities.loadSession */
    bool resumed;  /* taken up after a restart: answers to unknown ids end a turn */
    ad_agent_mode_t mode;
    json_t *perms; /* the agent's permission entries (array of strings) */
    char *queue[AD_ACP_QUEUE_MAX];
    size_t nqueue;
    ad_acp_ask_t asks[AD_ACP_ASKS_MAX];
    size_t nasks;
    double cost_total; /* the session's cost from usage_update, USD; -1 none */
    json_t *kinds;     /* {toolCallId: kind} of the calls seen (a permission
                          request may leave the kind out); emptied past 256 */
    /* What a permission the user (or the permissions) allowed in this turn
     * lets through once: [{word, paths}] (paths null: any in the worktree).
     * An fs write or a terminal that follows the permission request for it
     * is not asked again; emptied when the turn ends. */
    json_t *grants;
    bool terminal; /* the terminal capability was offered */
};

void ad_acp_free(ad_acp_t *a);
/* An fs/… or terminal/… request of the agent (acp_req.c): checked (the
 * worktree by name, the params), then served (AD_REC_REQUEST), refused, or
 * held for the user as an approval when the mode and permissions do not
 * allow it and no grant covers it. */
void ad_acp_on_client_request(ad_parser_t *p, const ad_rpc_msg_t *m, ad_recs_t *out);
/* Serves or refuses a held request the user decided (acp_req.c); params
 * borrowed. */
void ad_acp_held_decided(ad_parser_t *p, const json_t *id, const char *method, json_t *params,
                         bool allow, ad_recs_t *out);
/* Whether the agent's permissions hold word (acp_perm.c). */
bool ad_acp_perms_have(const json_t *perms, const char *word);
/* Records that a request of word for paths (a worktree-relative array;
 * NULL: any) was allowed (acp_perm.c). */
void ad_acp_grant(ad_acp_t *a, const char *word, const json_t *paths);
/* Uses up the grant of word covering rel (NULL: no path), if any. */
bool ad_acp_grant_take(ad_acp_t *a, const char *word, const char *rel);
/* A JSON-RPC error answer to id (borrowed) as an AD_REC_WRITE. */
void ad_acp_reply_error(ad_parser_t *p, const json_t *id, int64_t code, const char *msg,
                        ad_recs_t *out);
/* The line parser of an ACP run (acp.c). */
void ad_acp_feed(ad_parser_t *p, const char *line, size_t len, uint64_t now, ad_recs_t *out);
/* An AD_REC_WRITE of a built line (taken). */
void ad_acp_send(ad_recs_t *out, char *line);
/* An AD_REC_FAULT; the parser reads nothing more. */
void ad_acp_fault(ad_parser_t *p, ad_recs_t *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The session/prompt for text (a request, tag AD_ACP_TAG_PROMPT), the turn
 * begun; NULL when it cannot be built. */
char *ad_acp_prompt_line(ad_parser_t *p, const char *text, size_t *len);
/* The session is open: the first waiting message goes out. */
void ad_acp_next_prompt(ad_parser_t *p, ad_recs_t *out);
/* session/request_permission (acp_perm.c): an approval, or answered at
 * once by mode, permissions or a location outside the worktree. */
void ad_acp_on_permission(ad_parser_t *p, const json_t *id, json_t *params, uint64_t now,
                          ad_recs_t *out);
/* session/update (acp_update.c). */
void ad_acp_on_update(ad_parser_t *p, json_t *update, uint64_t now, ad_recs_t *out);
/* A path the agent names, as the part below cwd ("" is cwd itself), or
 * NULL when it is not absolute or leaves cwd by name (.., another root).
 * Owned. Symlinks are the runner's to refuse (it opens beneath cwd). */
char *ad_acp_rel_path(const char *cwd, const char *path);

/* Writes v as a TOML value (string, number, boolean, array or inline
 * table) into b, for codex's `-c key=value`. AD_EINVAL for null, AD_ETOOBIG
 * past b's cap or 16 levels of nesting. */
int ad_toml_value(ad_buf_t *b, const json_t *v);
/* A TOML basic string ("…" with escapes). */
int ad_toml_string(ad_buf_t *b, const char *s, size_t len);

/* The cost of usage at price p (USD). */
double ad_price_cost(const ad_price_t *p, const ad_usage_t *u);
/* The cost of usage of model at the parser's prices; 0 and a notice (once
 * per model and run) when the model, or its price, is not known. */
double ad_parser_cost(ad_parser_t *p, const char *model, const ad_usage_t *u, ad_recs_t *out);

/* The HTTP status an API error message names ("last status: 429 …"), or
 * what it describes (a rate limit or quota: 429; an overloaded model or one
 * at capacity: 503); 0 when neither. */
int ad_error_status_in(const char *message);

/* Appends a zeroed record of `type` (exit_code -1, total_cost_usd -1). */
ad_rec_t *ad_rec_push(ad_recs_t *out, ad_rec_type_t type);
/* An AD_REC_OUTPUT record holding the (capped) line. */
void ad_rec_output(ad_recs_t *out, const char *line, size_t len);
/* Keeps a piece of streamed assistant text in p->text: its start, up to
 * AD_PARSER_TEXT_MAX; after the first piece refused nothing more is kept,
 * so the text never has a hole. ad_parser_text_reset empties it. */
void ad_parser_text_add(ad_parser_t *p, const char *s, size_t n);
void ad_parser_text_reset(ad_parser_t *p);
/* The streamed text kept in p->text as one complete assistant
 * AD_REC_MESSAGE (with p->model), p->text emptied; nothing when empty. */
void ad_parser_text_flush(ad_parser_t *p, ad_recs_t *out);
/* An AD_REC_NOTICE record; json is borrowed (a reference is taken). */
void ad_rec_notice(ad_recs_t *out, const char *subtype, const char *text, json_t *json);

/* Owned copy of obj[key] when it is a string, else NULL. */
char *ad_json_strdup(const json_t *obj, const char *key);
/* obj[key] as a string (borrowed) or NULL. */
const char *ad_json_str(const json_t *obj, const char *key);
/* obj[key] as an integer (integers and reals), or def. */
int64_t ad_json_int(const json_t *obj, const char *key, int64_t def);

void ad_parser_set_session(ad_parser_t *p, const char *session_id, const char *model);

/* Remembers an open tool call (input borrowed; a reference is taken). */
void ad_tool_open(ad_parser_t *p, const char *id, const char *name, json_t *input, uint64_t now);
/* Forgets tool `id` and returns it in *t (caller owns its fields). Returns
 * false when the id was never opened. */
bool ad_tool_close(ad_parser_t *p, const char *id, open_tool_t *t);
/* Emits AD_REC_TOOL_END for tool `id` (and returns the closed tool in *t when
 * t is not NULL, else frees it). duration_ms from its start; 0 if unknown. */
ad_rec_t *ad_tool_end(ad_parser_t *p, const char *id, bool is_error, int exit_code, uint64_t now,
                      ad_recs_t *out, open_tool_t *t);
void ad_open_tool_free(open_tool_t *t);

/* Records usage seen for message id (largest value per field wins). */
void ad_usage_note(ad_parser_t *p, const char *id, const ad_usage_t *u);
void ad_usage_reset(ad_parser_t *p);

/* Sets the tokens in context and emits AD_REC_CONTEXT when the level moves. */
void ad_context_update(ad_parser_t *p, int64_t tokens, ad_recs_t *out);

/* Per-executor line parsers: obj is the parsed JSON object (borrowed). They
 * return false when the line is not one of theirs (it then becomes output). */
bool ad_claude_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out);
bool ad_codex_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out);
/* codex app-server's JSON-RPC lines (appitems.c, read with rpc.c): false
 * for a line that is not JSON-RPC (it becomes output). Its state goes with
 * ad_codex_app_free (appserver.c). */
bool ad_codex_app_feed(ad_parser_t *p, const char *line, size_t len, uint64_t now, ad_recs_t *out);
void ad_codex_app_free(struct ad_codex_app *a);
/* The launch of `codex app-server` (appserver.c): the provider and -c
 * settings as for exec, then `app-server`; the lines come later. */
int ad_codex_app_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_launch_t *out, char *err,
                       size_t errsz);
/* codex.c's -c arguments for a provider at base_url and the agent's
 * codexConfig, shared by exec and app-server. */
int ad_codex_common_args(const ad_agent_spec_t *spec, ad_strv_t *argv, char *err, size_t errsz);
/* Whether version (x.y.z) is at least min; false when it cannot be read. */
bool ad_cli_version_at_least(const char *version, const char *min);
bool ad_gemini_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out);
bool ad_command_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out);

#endif
