/* SPDX-License-Identifier: MIT */
/*
 * Client commands. Each parses its flags, makes one or a few REST calls over
 * the daemon's unix socket and prints a table (or the JSON with --json).
 * Errors from the daemon are shown as the server's own message; a daemon
 * that is not running is named as such.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define RESPONSE_MAX (64u << 20)

typedef ad_cli_t cli_t;

typedef struct {
    long status;
    ad_buf_t body;
    bool truncated;
} resp_t;

static int fail(const cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const cli_t *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int usage(const cli_t *c, const char *msg)
{
    fprintf(stderr, "%s: %s (see 'agentd --help')\n", c->prog, msg);
    return 2;
}

static bool collect(const char *p, size_t n, void *ud)
{
    resp_t *r = ud;
    if (ad_buf_append(&r->body, p, n) != 0) {
        r->truncated = true;
        return false; /* aborts the request */
    }
    return true;
}

/* The daemon's socket: computed per request, since command flags may have
 * moved the data dir. */
static const char *sock_path(cli_t *c)
{
    snprintf(c->sock, sizeof(c->sock), "%s/agentd.sock", c->cfg->data_dir);
    return c->sock;
}

static int not_running(const cli_t *c)
{
    return fail(c, "cannot reach the daemon at %s: is 'agentd serve' running with this data dir?",
                c->sock);
}

/* One request. body may be NULL. On success r holds the status and body
 * (free with ad_buf_cleanup). Returns 0, or 1 after printing why. */
static int request(cli_t *c, const char *method, const char *path, json_t *body, resp_t *r)
{
    r->status = 0;
    r->truncated = false;
    ad_buf_init(&r->body, RESPONSE_MAX);
    char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    char err[300];
    int rc = ad_cli_http(sock_path(c), c->cfg->token, method, path, "application/json", payload,
                         payload != NULL ? strlen(payload) : 0, 60000, collect, r, &r->status, err,
                         sizeof(err));
    free(payload);
    if (rc != 0) {
        ad_buf_cleanup(&r->body);
    }
    if (rc == AD_ENOENT) {
        return not_running(c);
    }
    if (rc != 0) {
        return fail(c, "request %s %s failed: %s", method, path, err);
    }
    return 0;
}

/* Prints the daemon's error message for a non-2xx response. */
static int fail_response(const cli_t *c, resp_t *r)
{
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (msg != NULL) {
        fail(c, "%s (%s, HTTP %ld)", msg, code ? code : "ERROR", r->status);
    } else {
        fail(c, "the daemon answered HTTP %ld", r->status);
    }
    json_decref(j);
    ad_buf_cleanup(&r->body);
    return 1;
}

/* Makes a request that must succeed with a JSON body; returns it (new
 * reference) or NULL after printing why (*rc holds the exit code). */
static json_t *call(cli_t *c, const char *method, const char *path, json_t *body, int *rc)
{
    resp_t r;
    *rc = request(c, method, path, body, &r);
    if (*rc != 0) {
        return NULL;
    }
    if (r.status < 200 || r.status > 299) {
        *rc = fail_response(c, &r);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
    if (j == NULL && r.body.len > 0) {
        fail(c, "the daemon sent invalid JSON: %s", jerr.text);
        *rc = 1;
    } else if (j == NULL) {
        j = json_object();
    }
    ad_buf_cleanup(&r.body);
    return j;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s != NULL) {
        puts(s);
        free(s);
    }
}

static const char *str_of(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : dflt;
}

/* Percent-encodes s into out for use in a path segment or query value. */
static void url_encode(const char *s, char *out, size_t outsz)
{
    ad_url_encode(s, out, outsz);
}

/* The worktrees' names by id ({} when they cannot be read: ids shown). */
static json_t *worktree_names(cli_t *c)
{
    int rc;
    json_t *names = json_object();
    json_t *j = call(c, "GET", "/api/worktrees", NULL, &rc);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(j, "worktrees"), i, w)
    {
        const char *id = str_of(w, "id", NULL);
        if (id != NULL) {
            json_object_set_new(names, id, json_string(str_of(w, "name", id)));
        }
    }
    json_decref(j);
    return names;
}

/* Full names (the column is as wide as the longest), the worktree's name
 * and what the agent's runs cost. */
/* Where an agent runs (issue #34): its node's name, "any" for a placement
 * on any node that fits, "" for the control plane itself. */
static const char *agent_node(json_t *a)
{
    json_t *st = json_object_get(a, "state");
    const char *node = json_string_value(json_object_get(st, "node"));
    return node != NULL ? node : json_is_object(json_object_get(st, "placement")) ? "any" : "";
}

/* What the row adds after its cost (issue #75): until when a suspended
 * agent waits ("suspended until 14:05", local time), or the turn of a goal
 * under way ("goal turn 2 of 5"); "" for none. */
static void agent_note(json_t *a, char *out, size_t outsz)
{
    int64_t at = 0;
    json_t *goal = json_object_get(json_object_get(a, "state"), "goal");
    out[0] = '\0';
    if (strcmp(str_of(a, "status", ""), "suspended") == 0 &&
        ad_time_parse(str_of(a, "resumeAt", ""), &at) == 0) {
        time_t t = (time_t)(at / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        snprintf(out, outsz, "  suspended until %02d:%02d", tm.tm_hour, tm.tm_min);
    } else if (strcmp(str_of(goal, "status", ""), "active") == 0) {
        json_int_t turn = json_integer_value(json_object_get(goal, "turn"));
        json_int_t max = json_integer_value(json_object_get(goal, "maxTurns"));
        snprintf(out, outsz, "  goal turn %lld of %lld", (long long)(turn < max ? turn + 1 : max),
                 (long long)max);
    }
}

static void print_agents_table(cli_t *c, json_t *agents)
{
    json_t *wts = worktree_names(c);
    int namew = 4, wtw = 8, nodew = 0,
        asks = 100; /* approvals asked for at most 100 waiting agents */
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        int n = (int)strlen(str_of(a, "name", ""));
        int w = (int)strlen(str_of(wts, str_of(a, "worktreeId", ""), str_of(a, "worktreeId", "")));
        int nd = (int)strlen(agent_node(a));
        namew = n > namew ? (n < 200 ? n : 200) : namew;
        wtw = w > wtw ? (w < 200 ? w : 200) : wtw;
        nodew = nd > nodew ? (nd < 64 ? nd : 64) : nodew;
    }
    /* the NODE column only once a node is in use: tables stay as they were without */
    nodew = nodew > 0 && nodew < 4 ? 4 : nodew;
    printf("%-30s %-*s %-9s %-9s %-8s %-*s ", "ID", namew, "NAME", "EXECUTOR", "STATUS", "MODE",
           wtw, "WORKTREE");
    if (nodew > 0) {
        printf("%-*s ", nodew, "NODE");
    }
    printf("COST\n");
    json_array_foreach(agents, i, a)
    {
        const char *st = ad_cli_status_word(c, a, &asks);
        const char *wt = str_of(a, "worktreeId", "");
        json_t *cost = json_object_get(a, "costUsd");
        printf("%-30s %-*s %-9s %-9s %-8s %-*s ", str_of(a, "id", "?"), namew,
               str_of(a, "name", ""), str_of(a, "executor", ""), st, str_of(a, "mode", ""), wtw,
               str_of(json_object_get(wts, wt) ? wts : NULL, wt, wt));
        if (nodew > 0) {
            const char *nd = agent_node(a);
            printf("%-*s ", nodew, nd[0] != '\0' ? nd : "-");
        }
        char note[64];
        agent_note(a, note, sizeof(note));
        printf("$%.2f%s\n", json_is_number(cost) ? json_number_value(cost) : 0.0, note);
        /* its one-line summary (issue #76), under its name; terminal controls taken out */
        const char *line = str_of(json_object_get(a, "summary"), "text", "");
        if (line[0] != '\0') {
            char *clean = ad_cli_term_clean(line, false);
            printf("%-30s \u21b3 %s\n", "", clean != NULL ? clean : "");
            free(clean);
        }
    }
    json_decref(wts);
}

/* ---- argument parsing ---------------------------------------------------- */

typedef ad_cli_flag_t flag_t;

/* Parses flags (anywhere) and positionals. Global options such as
 * --data-dir are accepted here too. Returns 0 or 2 after printing usage. */
static int parse(cli_t *c, int argc, char **argv, flag_t *flags, size_t nflags, const char **pos,
                 int maxpos, int *npos)
{
    *npos = 0;
    c->rest = argc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            c->rest = i + 1; /* what follows is a command line, not ours */
            break;
        }
        if (strncmp(a, "-", 1) != 0 || strcmp(a, "-") == 0) {
            if (*npos >= maxpos) {
                char msg[300];
                snprintf(msg, sizeof(msg), "unexpected argument '%s'", a);
                return usage(c, msg);
            }
            pos[(*npos)++] = a;
            continue;
        }
        bool matched = false;
        for (size_t f = 0; f < nflags; f++) {
            size_t n = strlen(flags[f].name);
            if (strncmp(a, flags[f].name, n) != 0 || (a[n] != '\0' && a[n] != '=')) {
                continue;
            }
            matched = true;
            if (!flags[f].takes_value) {
                if (a[n] == '=') {
                    return usage(c, "this option takes no value");
                }
                *flags[f].flag = true;
            } else if (a[n] == '=') {
                *flags[f].value = a + n + 1;
            } else if (i + 1 < argc) {
                *flags[f].value = argv[++i];
            } else {
                char msg[300];
                snprintf(msg, sizeof(msg), "option '%s' needs a value", flags[f].name);
                return usage(c, msg);
            }
            break;
        }
        if (matched) {
            continue;
        }
        /* Not ours: maybe a global option (--data-dir DIR). */
        char err[300];
        snprintf(err, sizeof(err), "unknown option '%s'", a);
        int rest;
        int take = (strchr(a, '=') == NULL && i + 1 < argc) ? 2 : 1;
        int rc = ad_config_parse_args(c->cfg, take, argv + i, &rest, err, sizeof(err));
        if (rc == 0 && rest == take) {
            i += take - 1;
            continue;
        }
        if (rc != 0 && take == 2) {
            rc = ad_config_parse_args(c->cfg, 1, argv + i, &rest, err, sizeof(err));
            if (rc == 0 && rest == 1) {
                continue;
            }
        }
        return usage(c, err);
    }
    if (c->rest < argc && !c->allow_rest) {
        return usage(c, "unexpected arguments after '--'");
    }
    return 0;
}

/* ---- commands ------------------------------------------------------------- */

int ad_cli_ls(cli_t *c, int argc, char **argv)
{
    const char *worktree = NULL, *status = NULL;
    bool all = false;
    flag_t flags[] = {{"--json", false, NULL, &c->json},
                      {"--worktree", true, &worktree, NULL},
                      {"--status", true, &status, NULL},
                      {"--all", false, NULL, &all}};
    const char *pos[1];
    int npos, rc = parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    char path[1024], enc[300];
    ad_buf_t q;
    ad_buf_init(&q, sizeof(path));
    int qrc = ad_buf_puts(&q, "/api/agents");
    char sep = '?';
    if (worktree != NULL) {
        char id[200];
        if ((rc = ad_cli_resolve(c, AD_CLI_WORKTREE, worktree, id, sizeof(id))) != 0) {
            ad_buf_cleanup(&q);
            return rc;
        }
        url_encode(id, enc, sizeof(enc));
        qrc = qrc != 0 ? qrc : ad_buf_printf(&q, "%cworktreeId=%s", sep, enc);
        sep = '&';
    }
    if (status != NULL) {
        url_encode(status, enc, sizeof(enc));
        qrc = qrc != 0 ? qrc : ad_buf_printf(&q, "%cstatus=%s", sep, enc);
        sep = '&';
    }
    if (all) {
        qrc = qrc != 0 ? qrc : ad_buf_printf(&q, "%cincludeDeleted=true", sep);
    }
    if (qrc != 0) {
        ad_buf_cleanup(&q);
        return fail(c, "the query is too long");
    }
    snprintf(path, sizeof(path), "%s", q.data);
    ad_buf_cleanup(&q);
    json_t *j = call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        print_json(j);
    } else {
        print_agents_table(c, json_object_get(j, "agents"));
    }
    json_decref(j);
    return 0;
}

int ad_cli_new(cli_t *c, int argc, char **argv)
{
    const char *worktree = NULL, *executor = NULL, *mode = NULL, *name = NULL, *model = NULL,
               *base_url = NULL, *allow = NULL, *acp = NULL, *node = NULL;
    bool terminal = false;
    flag_t flags[] = {{"--json", false, NULL, &c->json},     {"--worktree", true, &worktree, NULL},
                      {"--executor", true, &executor, NULL}, {"--mode", true, &mode, NULL},
                      {"--name", true, &name, NULL},         {"--terminal", false, NULL, &terminal},
                      {"--model", true, &model, NULL},       {"--base-url", true, &base_url, NULL},
                      {"--allow", true, &allow, NULL},       {"--acp-agent", true, &acp, NULL},
                      {"--node", true, &node, NULL}};
    c->allow_rest = true;
    const char *pos[1];
    int npos, rc = parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    if (worktree == NULL) {
        return usage(c, "--worktree ID is required");
    }
    char wt[200];
    if ((rc = ad_cli_resolve(c, AD_CLI_WORKTREE, worktree, wt, sizeof(wt))) != 0) {
        return rc;
    }
    json_t *body = json_pack("{s:s}", "worktreeId", wt);
    if (executor != NULL || acp != NULL) {
        json_object_set_new(body, "executor", json_string(executor != NULL ? executor : "acp"));
    }
    if (acp != NULL) {
        json_object_set_new(body, "acpAgent", json_string(acp));
    }
    if (mode != NULL) {
        json_object_set_new(body, "mode", json_string(mode));
    }
    if (name != NULL) {
        json_object_set_new(body, "name", json_string(name));
    }
    if (model != NULL) {
        json_object_set_new(body, "model", json_string(model));
    }
    if (base_url != NULL) {
        json_object_set_new(body, "baseUrl", json_string(base_url));
    }
    if (terminal) {
        json_object_set_new(body, "terminal", json_true());
    }
    if (node != NULL && strcmp(node, "any") == 0) {
        json_object_set_new(body, "placement", json_object()); /* any node that fits */
    } else if (node != NULL) {
        json_object_set_new(body, "node", json_string(node));
    }
    if (allow != NULL) {
        /* "read,write,execute": the permissions, checked by the daemon */
        json_t *perms = json_array();
        for (const char *p = allow; *p != '\0';) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            if (len == 0 || len > 127) {
                json_decref(perms);
                json_decref(body);
                return usage(c, "--allow takes permissions separated by commas, such as "
                                "read,write,execute");
            }
            json_array_append_new(perms, json_stringn(p, len));
            p = comma != NULL ? comma + 1 : p + len;
        }
        json_object_set_new(body, "permissions", perms);
    }
    if (c->rest < argc) {
        /* agentd new ... -- ARGV: a command agent's program and arguments. */
        json_t *cmd = json_array();
        for (int i = c->rest; i < argc; i++) {
            json_array_append_new(cmd, json_string(argv[i]));
        }
        json_object_set_new(body, "command", cmd);
        if (executor == NULL) {
            json_object_set_new(body, "executor", json_string("command"));
        }
    }
    json_t *j = call(c, "POST", "/api/agents", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    json_t *agent = json_object_get(j, "agent") ? json_object_get(j, "agent") : j;
    if (c->json) {
        print_json(agent);
    } else {
        printf("%s\n", str_of(agent, "id", "?"));
    }
    json_decref(j);
    return 0;
}

/* How names are taken (resolve.c), at the end of every command's help. */
const char AD_CLI_NAMES_HELP[] =
    "AGENT, WT and WS are an id or a name (in your org; an id wins). Exit codes:\n"
    "0 done, 1 failed or not found ('no agent named X'), 2 usage error or a name\n"
    "that several rows share (their ids are listed).\n";

void ad_cli_print_command_help(const ad_cli_cmd_t *cmd, FILE *out)
{
    fputs(cmd->help, out);
    fputs(AD_CLI_NAMES_HELP, out);
    fputs("Client commands talk to the daemon over <data-dir>/agentd.sock; global\n"
          "options such as --data-dir DIR go anywhere (see 'agentd --help').\n",
          out);
}

/* True after printing cmd's help (the table's, table.c), when argv asks
 * for it before any "--". */
static bool print_help(const ad_cli_cmd_t *cmd, int argc, char **argv)
{
    bool asked = false;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        asked = asked || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    }
    if (asked) {
        ad_cli_print_command_help(cmd, stdout);
    }
    return asked;
}

int ad_cli_main(ad_config_t *cfg, const char *cmd, int argc, char **argv)
{
    static char prog[64];
    cli_t c = {.cfg = cfg, .json = false, .prog = prog};
    snprintf(prog, sizeof(prog), "agentd %s", cmd);
    const ad_cli_cmd_t *entry = ad_cli_cmd(cmd);
    if (entry == NULL || entry->fn == NULL) {
        return usage(&c, "unknown command");
    }
    if (print_help(entry, argc, argv)) {
        return 0;
    }
    if (strcmp(cmd, "completion") == 0 || strcmp(cmd, "help") == 0 ||
        (strcmp(cmd, "version") == 0 && cfg->data_dir[0] == '\0')) {
        return entry->fn(&c, argc, argv); /* needs no daemon, nor a data dir */
    }
    if (cfg->data_dir[0] == '\0') {
        return usage(&c, "no data dir: set --data-dir, AGENTD_DATA_DIR or HOME");
    }
    return entry->fn(&c, argc, argv);
}

/* ---- shared with the other command files (cli_int.h) ---------------------- */

const char *ad_cli_sock(ad_cli_t *c)
{
    return sock_path(c);
}

int ad_cli_not_running(const ad_cli_t *c)
{
    return not_running(c);
}

json_t *ad_cli_call(ad_cli_t *c, const char *method, const char *path, json_t *body, int *rc)
{
    return call(c, method, path, body, rc);
}

json_t *ad_cli_call_any(ad_cli_t *c, const char *method, const char *path, json_t *body,
                        long *status, int *rc)
{
    resp_t r;
    *rc = request(c, method, path, body, &r);
    if (*rc != 0) {
        return NULL;
    }
    *status = r.status;
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    ad_buf_cleanup(&r.body);
    return j != NULL ? j : json_object();
}

int ad_cli_parse(ad_cli_t *c, int argc, char **argv, ad_cli_flag_t *flags, size_t nflags,
                 const char **pos, int maxpos, int *npos)
{
    return parse(c, argc, argv, flags, nflags, pos, maxpos, npos);
}

int ad_cli_fail(const ad_cli_t *c, const char *msg)
{
    return fail(c, "%s", msg);
}

int ad_cli_usage(const ad_cli_t *c, const char *msg)
{
    return usage(c, msg);
}

int ad_cli_subcommand(ad_cli_t *c, const char *cmd, const ad_cli_sub_t *subs, size_t n,
                      ad_cli_fn dflt, const char *usage_msg, int argc, char **argv)
{
    static char prog[96]; /* c->prog points here: one command a process */
    for (size_t i = 0; argc > 0 && i < n; i++) {
        if (strcmp(argv[0], subs[i].name) == 0) {
            snprintf(prog, sizeof(prog), "agentd %s %s", cmd, subs[i].name);
            c->prog = prog;
            return subs[i].fn(c, argc - 1, argv + 1);
        }
    }
    return dflt != NULL ? dflt(c, argc, argv) : usage(c, usage_msg);
}

int ad_cli_answered(const ad_cli_t *c, json_t *j, long status)
{
    if (status >= 200 && status < 300) {
        return 0;
    }
    json_t *err = json_object_get(j, "error");
    json_t *field = json_object_get(json_object_get(err, "details"), "field");
    char msg[800];
    snprintf(msg, sizeof(msg), "%s%s%s (%s, HTTP %ld)",
             json_is_string(field) ? json_string_value(field) : "",
             json_is_string(field) ? ": " : "", ad_cli_str(err, "message", "failed"),
             ad_cli_str(err, "code", "ERROR"), status);
    return ad_cli_fail(c, msg);
}

void ad_cli_print_json(json_t *j)
{
    print_json(j);
}

const char *ad_cli_str(json_t *o, const char *key, const char *dflt)
{
    return str_of(o, key, dflt);
}

/* j (taken) as the command's output: printed whole with --json, else by
 * show; rc passed through, and nothing printed unless it is 0. */
static int shown(const ad_cli_t *c, json_t *j, int rc, ad_cli_show_fn show)
{
    if (rc == 0 && c->json) {
        ad_cli_print_json(j);
    } else if (rc == 0 && show != NULL) {
        show(j);
    }
    json_decref(j);
    return rc;
}

int ad_cli_call_show(ad_cli_t *c, const char *method, const char *path, json_t *body,
                     ad_cli_show_fn show)
{
    int rc;
    json_t *j = ad_cli_call(c, method, path, body, &rc);
    json_decref(body);
    return j != NULL ? shown(c, j, rc, show) : rc;
}

int ad_cli_call_any_show(ad_cli_t *c, const char *method, const char *path, json_t *body,
                         ad_cli_show_fn show)
{
    int rc;
    long status = 0;
    json_t *j = ad_cli_call_any(c, method, path, body, &status, &rc);
    json_decref(body);
    return j != NULL ? shown(c, j, ad_cli_answered(c, j, status), show) : rc;
}

void ad_cli_show_id(json_t *j)
{
    printf("%s\n", ad_cli_str(j, "id", "?"));
}

void ad_cli_set_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL) {
        json_object_set_new(o, key, json_string(v));
    }
}

void ad_cli_url_encode(const char *s, char *out, size_t outsz)
{
    url_encode(s, out, outsz);
}
