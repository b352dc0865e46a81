/* SPDX-License-Identifier: MIT */
/*
 * Private to src/cli: the unix-socket HTTP client the commands use.
 */
#ifndef AD_CLI_INT_H
#define AD_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/config.h"
#include "core/core.h"

#include <jansson.h>

#include <http_parser.h>

/* Receives body bytes as they arrive (borrowed for the call). Returns false
 * to abort the request. */
typedef bool (*ad_cli_body_cb)(const char *p, size_t n, void *ud);

/* A response being parsed (http-parser): the status, and the body handed
 * to on_body as it arrives (on_body returning false aborts). */
typedef struct {
    http_parser parser;
    ad_cli_body_cb on_body;
    void *ud;
    long status;
    bool done;
    bool aborted;
    /* two headers kept for the callers that need them (agentd mcp) */
    char field[32];        /* the header name being read, lower-case */
    bool in_value;         /* its value is being read */
    char session[64];      /* Mcp-Session-Id */
    char content_type[64]; /* Content-Type */
} ad_cli_response_t;
void ad_cli_response_init(ad_cli_response_t *r, ad_cli_body_cb cb, void *ud);
/* Feeds n bytes read from the daemon (n == 0: its EOF). 0, or AD_ETOOBIG
 * (aborted by on_body), AD_EIO (not HTTP), AD_ECLOSED (cut mid-body). */
int ad_cli_response_feed(ad_cli_response_t *r, const char *buf, size_t n, char *err, size_t errsz);
/* One request on a new connection to the unix socket sock. token (may be
 * NULL or "") becomes a bearer Authorization header; body (may be NULL) is
 * sent as JSON. Waits at most timeout_ms for each read (-1: forever, for
 * event streams). *status gets the response status (0 if none arrived).
 * Returns 0; AD_ENOENT when nothing listens on sock; AD_ECLOSED when the
 * daemon closed the connection before the response ended; AD_ETIMEDOUT, AD_ETOOBIG (cb aborted),
 * AD_EIO, AD_EINVAL, each with a one-line reason in err. Blocking: for the client process. */
int ad_cli_http(const char *sock, const char *token, const char *method, const char *path,
                const char *accept, const char *body, size_t blen, int timeout_ms,
                ad_cli_body_cb cb, void *ud, long *status, char *err, size_t errsz);

/* A GET on a new connection to sock, its request sent: the connected
 * descriptor in *fd_out (the caller reads the answer, with
 * ad_cli_response_feed, and closes it), for a stream followed from an
 * event loop. 0, or ad_cli_http's errors. */
int ad_cli_http_open(const char *sock, const char *token, const char *path, const char *accept,
                     int *fd_out, char *err, size_t errsz);

/* ad_cli_http with extra request headers ("Name: value\r\n" lines, may be
 * NULL) and the response's kept headers in *out (its status too). */
int ad_cli_http_ex(const char *sock, const char *token, const char *method, const char *path,
                   const char *accept, const char *extra, const char *body, size_t blen,
                   int timeout_ms, ad_cli_body_cb cb, void *ud, ad_cli_response_t *out, char *err,
                   size_t errsz);

/* ---- Server-Sent Events (sse.c) ---------------------------------------------
 * fn gets each whole event's data (borrowed for the call); false stops the
 * feed. */
typedef bool (*ad_cli_sse_fn)(const char *data, size_t len, void *ud);
typedef struct {
    ad_buf_t line; /* the current, incomplete line */
    ad_buf_t data; /* data: lines of the current event */
    bool too_big;
    ad_cli_sse_fn fn;
    void *ud;
} ad_cli_sse_t;
void ad_cli_sse_init(ad_cli_sse_t *s, size_t max, ad_cli_sse_fn fn, void *ud);
/* Feeds n bytes; false once fn asked to stop. */
bool ad_cli_sse_feed(ad_cli_sse_t *s, const char *p, size_t n);
void ad_cli_sse_cleanup(ad_cli_sse_t *s);

/* ---- JSON-RPC on stdin (rpclines.c) -------------------------------------------
 * Reads stdin until its end, a JSON object a line (at most max bytes):
 * on_msg gets each (borrowed), put a parse error to write (stolen). */
typedef void (*ad_cli_rpc_fn)(json_t *msg, void *ud);
typedef void (*ad_cli_rpc_put_fn)(json_t *msg, void *ud);
void ad_cli_rpc_lines(size_t max, ad_cli_rpc_fn on_msg, ad_cli_rpc_put_fn put, void *ud);

/* ---- the commands' shared state and helpers (cli.c) ------------------------ */
typedef struct {
    ad_config_t *cfg;
    char sock[4200];
    bool json;
    const char *prog; /* "agentd ls" etc., for messages */
    int rest;         /* index of the first argument after "--", or argc */
    bool allow_rest;  /* whether the command takes arguments after "--" */
} ad_cli_t;

typedef struct {
    const char *name; /* "--json" */
    bool takes_value;
    const char **value; /* for takes_value */
    bool *flag;         /* for switches */
} ad_cli_flag_t;

/* A request that must answer 2xx with JSON: the body (new reference), or
 * NULL after printing the daemon's message (*rc: the exit code). */
json_t *ad_cli_call(ad_cli_t *c, const char *method, const char *path, json_t *body, int *rc);
/* A request whatever its status: the JSON body (new reference; {} when
 * none) and *status, or NULL after printing why it failed (*rc). */
json_t *ad_cli_call_any(ad_cli_t *c, const char *method, const char *path, json_t *body,
                        long *status, int *rc);
/* Flags anywhere, at most maxpos positionals; 0 or 2 after the usage line. */
int ad_cli_parse(ad_cli_t *c, int argc, char **argv, ad_cli_flag_t *flags, size_t nflags,
                 const char **pos, int maxpos, int *npos);
/* A command's subcommands: "agentd wt ls" is {"ls", wt_ls} of wt's. */
typedef int (*ad_cli_fn)(ad_cli_t *c, int argc, char **argv);
typedef struct {
    const char *name;
    ad_cli_fn fn;
} ad_cli_sub_t;
/* Runs the one of subs that argv[0] names on the arguments after it, with
 * c->prog "agentd <cmd> <name>"; when argv[0] names none, dflt on all of
 * argv (when given), else the usage error usage_msg (2). */
int ad_cli_subcommand(ad_cli_t *c, const char *cmd, const ad_cli_sub_t *subs, size_t n,
                      ad_cli_fn dflt, const char *usage_msg, int argc, char **argv);
/* 0 for a 2xx answer; else the daemon's error ("field: message (CODE,
 * HTTP n)") on stderr and 1. j is ad_cli_call_any's body (borrowed). */
int ad_cli_answered(const ad_cli_t *c, json_t *j, long status);
/* "<prog>: msg" on stderr; returns 1. */
int ad_cli_fail(const ad_cli_t *c, const char *msg);
/* A usage error on stderr; returns 2. */
int ad_cli_usage(const ad_cli_t *c, const char *msg);
void ad_cli_print_json(json_t *j);
/* `… ls [--json]`: argv parsed for --json alone, GET path; with --json the
 * answer is printed and NULL returned with *rc 0; else the answer for the
 * caller's table (owned). NULL with *rc on a failure (already said). */
json_t *ad_cli_list(ad_cli_t *c, int argc, char **argv, const char *path, int *rc);
/* The string at key of o, or dflt. Borrowed. */
const char *ad_cli_str(json_t *o, const char *key, const char *dflt);
/* How a command shows a daemon's answer without --json (j borrowed). */
typedef void (*ad_cli_show_fn)(json_t *j);
/* A request that must answer 2xx (ad_cli_call), its answer printed whole
 * with --json, else shown by show (NULL: nothing). body is taken (may be
 * NULL). 0, or the exit code after the failure was said. */
int ad_cli_call_show(ad_cli_t *c, const char *method, const char *path, json_t *body,
                     ad_cli_show_fn show);
/* The same through ad_cli_call_any: a status other than 2xx is said as
 * ad_cli_answered says it. */
int ad_cli_call_any_show(ad_cli_t *c, const char *method, const char *path, json_t *body,
                         ad_cli_show_fn show);
/* ad_cli_show_fn: the answer's id on a line. */
void ad_cli_show_id(json_t *j);
/* Sets key of o to the string v, unless v is NULL (an option not given). */
void ad_cli_set_str(json_t *o, const char *key, const char *v);
/* Percent-encodes s for a path segment or query value. */
void ad_cli_url_encode(const char *s, char *out, size_t outsz);

/* The daemon's socket path (computed from the data dir) and the message
 * for a daemon that is not running (returns 1). */
const char *ad_cli_sock(ad_cli_t *c);
int ad_cli_not_running(const ad_cli_t *c);

/* resolve.c: the id of the agent, workspace or worktree whose id or name is
 * want, into out. 0; 1 after "no agent named X"; 2 after listing the ids of
 * the several rows named X; or the failed request's exit code. */
typedef enum { AD_CLI_AGENT, AD_CLI_WORKSPACE, AD_CLI_WORKTREE } ad_cli_kind_t;
int ad_cli_resolve(ad_cli_t *c, ad_cli_kind_t kind, const char *want, char *out, size_t outsz);
/* The names of the live rows of kind, one a line (for shell completion).
 * 0, or the failed request's exit code. */
int ad_cli_print_names(ad_cli_t *c, ad_cli_kind_t kind);

/* A command that takes --json and one id: 0 with the id in pos[0], else
 * the exit code after saying how to call it (usage_text). */
int ad_cli_one_id(ad_cli_t *c, int argc, char **argv, const char *usage_text, const char **pos);

/* attention.c: an agent's status for a table: "needs you" or "turn done"
 * for a waiting one (its pending approvals asked while *asks_left > 0,
 * which counts down), "archived", else its status. Static string. */
const char *ad_cli_status_word(ad_cli_t *c, json_t *agent, int *asks_left);

/* Ids or names, and the exit codes, for every command's --help. */
extern const char AD_CLI_NAMES_HELP[];

/* The commands (argv after the command's name). cli.c: ls, new (and the
 * helpers below); control.c: start, send, stop, rm, approvals, approve;
 * token.c: token, login; logs.c: logs; wt.c: ws, wt, merge; work.c: fork,
 * diff, commit, open; table.c: completion. */
int ad_cli_ls(ad_cli_t *c, int argc, char **argv);
int ad_cli_new(ad_cli_t *c, int argc, char **argv);
int ad_cli_start(ad_cli_t *c, int argc, char **argv);
int ad_cli_send(ad_cli_t *c, int argc, char **argv);
int ad_cli_stop(ad_cli_t *c, int argc, char **argv);
int ad_cli_resume(ad_cli_t *c, int argc, char **argv);
int ad_cli_move(ad_cli_t *c, int argc, char **argv);
int ad_cli_rm(ad_cli_t *c, int argc, char **argv);
int ad_cli_approvals(ad_cli_t *c, int argc, char **argv);
int ad_cli_approve(ad_cli_t *c, int argc, char **argv);
int ad_cli_token(ad_cli_t *c, int argc, char **argv);
/* user.c: user, the accounts that sign in with a password */
int ad_cli_user(ad_cli_t *c, int argc, char **argv);
/* agentd db migrate|copy: PostgreSQL (db.c, issue #39). */
int ad_cli_db(ad_cli_t *c, int argc, char **argv);
int ad_cli_node(ad_cli_t *c, int argc, char **argv);       /* node.c */
int ad_cli_node_token(ad_cli_t *c, int argc, char **argv); /* nodetoken.c */
int ad_cli_credits(ad_cli_t *c, int argc, char **argv);    /* credits.c */
int ad_cli_import(ad_cli_t *c, int argc, char **argv);     /* import.c */
int ad_cli_login(ad_cli_t *c, int argc, char **argv);
/* sessions.c */
int ad_cli_sessions(ad_cli_t *c, int argc, char **argv);
int ad_cli_logs(ad_cli_t *c, int argc, char **argv);
/* search.c: search (issue #76) */
int ad_cli_search(ad_cli_t *c, int argc, char **argv);
int ad_cli_ws(ad_cli_t *c, int argc, char **argv);
int ad_cli_wt(ad_cli_t *c, int argc, char **argv);
int ad_cli_merge(ad_cli_t *c, int argc, char **argv);
/* pr.c */
int ad_cli_pr(ad_cli_t *c, int argc, char **argv);
/* mcp.c */
int ad_cli_mcp(ad_cli_t *c, int argc, char **argv);
/* acp.c */
int ad_cli_acp(ad_cli_t *c, int argc, char **argv);
/* workflow.c */
int ad_cli_workflow(ad_cli_t *c, int argc, char **argv);
/* routine.c */
int ad_cli_routine(ad_cli_t *c, int argc, char **argv);
int ad_cli_fork(ad_cli_t *c, int argc, char **argv);
int ad_cli_diff(ad_cli_t *c, int argc, char **argv);
int ad_cli_commit(ad_cli_t *c, int argc, char **argv);
int ad_cli_open(ad_cli_t *c, int argc, char **argv);
int ad_cli_app(ad_cli_t *c, int argc, char **argv);
int ad_cli_completion(ad_cli_t *c, int argc, char **argv);
/* version.c */
int ad_cli_version(ad_cli_t *c, int argc, char **argv);
int ad_cli_sandbox(ad_cli_t *c, int argc, char **argv); /* sbx.c */
/* service.c */
int ad_cli_service(ad_cli_t *c, int argc, char **argv);
/* tray_exec.c: `agentd tray` execs agentd-tray beside agentd, so that
 * nothing of D-Bus is ever loaded into agentd itself. */
int ad_cli_tray(ad_cli_t *c, int argc, char **argv);

/* ---- the tray helper (agentd-tray: tray.c, tray_dbus.c) -----------------------
 * A process of its own, linked with libsystemd (sd-bus, sd-event): it
 * follows the daemon's event stream on the unix socket, shows the agents
 * that need the user as a StatusNotifierItem with a com.canonical.dbusmenu
 * menu, and asks for approvals through org.freedesktop.Notifications.
 * tray.c is the daemon's side and what to show; tray_dbus.c the bus's. */
typedef struct ad_tray ad_tray_t;
/* agentd-tray's whole life (tools/tray_main.c): cfg borrowed; the exit
 * status. */
int ad_tray_main(ad_config_t *cfg, int argc, char **argv);
/* What the bus side reads (tray.c): the agents that need the user, an
 * array of {id, name, why, tool} (borrowed), and whether the daemon
 * answers. */
json_t *ad_tray_needs(ad_tray_t *t);
bool ad_tray_up(ad_tray_t *t);
/* What the menu and the notifications do (tray.c). id NULL: the
 * dashboard. */
void ad_tray_open(ad_tray_t *t, const char *agent_id);
void ad_tray_pause_all(ad_tray_t *t);
void ad_tray_quit(ad_tray_t *t);
/* A notification's action was invoked, or it was closed. */
void ad_tray_note_action(ad_tray_t *t, uint32_t nid, const char *action);
void ad_tray_note_closed(ad_tray_t *t, uint32_t nid);
/* The bus side (tray_dbus.c). open: connects to the session bus, exports
 * the item and its menu, registers with the StatusNotifierWatcher (now or
 * when one comes) and listens to the notification server's signals; 0 or
 * -errno with err. */
typedef struct ad_tray_bus ad_tray_bus_t;
int ad_tray_bus_open(ad_tray_t *t, void *event, ad_tray_bus_t **out, char *err, size_t errsz);
void ad_tray_bus_free(ad_tray_bus_t *b);
/* The count or the menu changed: NewStatus, NewTitle, NewToolTip, NewIcon
 * and LayoutUpdated. */
void ad_tray_bus_changed(ad_tray_bus_t *b);
/* Shows a notification: actions "key", "label" pairs (n of them, even),
 * timeout_ms -1 (the server's) or 0 (until dismissed). Its id, or 0 when
 * no notification server took it. */
uint32_t ad_tray_bus_notify(ad_tray_bus_t *b, const char *summary, const char *body,
                            const char *const *actions, size_t n, int urgency, int timeout_ms);
void ad_tray_bus_close_note(ad_tray_bus_t *b, uint32_t nid);

/* term.c: a terminal agent's output without its screen's escape sequences
 * and control bytes (colours kept when keep_colour). The state carries a
 * sequence cut between two writes. */
typedef struct {
    int state;
    bool keep_colour;
    bool coloured; /* a colour was written: reset it at the end */
    bool cr;       /* a \r whose next byte decides */
    bool seq_overflow;
    char seq[32]; /* a CSI sequence's parameters so far */
    size_t seqlen;
} ad_cli_term_t;
void ad_cli_term_init(ad_cli_term_t *t, bool keep_colour);
void ad_cli_term_write(ad_cli_term_t *t, const char *s, size_t n, FILE *out);
/* Ends a stream: a pending \r, the colour reset; t is ready for the next. */
void ad_cli_term_finish(ad_cli_term_t *t, FILE *out);
/* s cleaned, as a new string (free it), or NULL when out of memory. */
char *ad_cli_term_clean(const char *s, bool keep_colour);
/* Whether colours go to stdout: a terminal, and NO_COLOR not set. */
bool ad_cli_colour_wanted(void);

/* transcript.c: the rendering shared by `logs` and `logs -f`, and the
 * stored transcript with a header line before each run's messages. */
#define AD_CLI_SUMMARY_MAX 100 /* bytes of a tool's one-line input */
void ad_cli_tool_summary(json_t *input, char *out, size_t outsz);
void ad_cli_print_tool_error(json_t *m);
void ad_cli_print_tool_start(const char *name, json_t *input);
void ad_cli_print_tool_end(const char *name, bool failed, json_t *code);
void ad_cli_print_text(const char *role, const char *content);
/* "— run N  ID  started T  STATUS (exit E)": run a runs-list row; n its
 * number among the agent's runs (0: not known). */
void ad_cli_print_run_header(json_t *run, size_t n);
/* The agent's stored messages, oldest first; 0 or the exit code. */
int ad_cli_print_history(ad_cli_t *c, const char *id);

/* table.c: the one command table. fn NULL: a command main.c runs (serve,
 * version, help). subs: subcommands, space-separated, or NULL. help: the
 * "Usage: agentd ..." lines, what it does, every option. */
typedef struct {
    const char *name;
    int (*fn)(ad_cli_t *c, int argc, char **argv);
    const char *subs;
    const char *summary;
    const char *help;
    const char *group; /* an ad_cli_groups name: its manual page */
} ad_cli_cmd_t;
extern const ad_cli_cmd_t ad_cli_cmds[];
extern const size_t ad_cli_ncmds;
/* The command groups, in the order their pages are listed. */
typedef struct {
    const char *name;    /* agentd-<name>(1) */
    const char *summary; /* its NAME line */
} ad_cli_group_t;
extern const ad_cli_group_t ad_cli_groups[];
extern const size_t ad_cli_ngroups;
/* The one-line description, and the paragraph on names and exit codes, of
 * `agentd --help` and agentd(1). */
extern const char ad_cli_about[];
extern const char ad_cli_conventions[];
int ad_cli_help(ad_cli_t *c, int argc, char **argv);
/* What `agentd COMMAND --help` prints (cli.c). */
void ad_cli_print_command_help(const ad_cli_cmd_t *cmd, FILE *out);
/* man.c: the manual page named page ("agentd" or "agentd-GROUP") as roff
 * on out: 0, or AD_ENOENT for no such page. ad_cli_man_list: each page's
 * name, then the commands it describes, space-separated, one page a line. */
int ad_cli_man_page(const char *page, FILE *out);
int ad_cli_man_list(FILE *out);
/* complete.c: the option lines of a command's help. Calls fn for each
 * option the help names ("--all", "-f"), once each, in order, with its
 * description (the first line of its option line; "" when none), and
 * whether its option line names a value ("--worktree WT"). */
typedef void (*ad_cli_opt_fn)(const char *opt, const char *desc, bool takes_value, void *ud);
void ad_cli_help_options(const char *help, ad_cli_opt_fn fn, void *ud);
/* The entry named name, or NULL. */
const ad_cli_cmd_t *ad_cli_cmd(const char *name);

#endif
