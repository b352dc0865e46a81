/* SPDX-License-Identifier: MIT */
/*
 * The tools: agentd's fleet over its REST API, one table for every
 * transport. Each tool is one REST call (a path filled from its
 * arguments) or a few in order (start_agent), run in-process as the
 * caller (ad_server_call): the scope it needs is its routes', read from
 * the route table before anything runs, and the caller's organisation
 * bounds what it sees, as over REST. Arguments are checked against the
 * tool's schema first (exact: unknown fields refused); a bad argument, a
 * scope too small or the daemon's refusal is a result with isError and
 * the reason, naming the field or the scope.
 */
#include "mcp/mcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MCP_TEXT_MAX (1u << 20) /* a tool's answer as text: the JSON, cut past this */
#define PATH_MAX_LEN 2048

enum { T_READ = 1, T_DESTRUCTIVE = 2, T_TASK = 4 };

typedef struct call call_t;
typedef void (*step_fn)(call_t *k, int step, int status, json_t *answer);

typedef struct {
    const char *name;
    const char *title;
    const char *description;
    const char *schema; /* JSON Schema of the arguments */
    /* One REST call: method and path, {arg} filled from the arguments;
     * query: the optional arguments that go in the query string. */
    const char *method;
    const char *path;
    const char *query;
    const char *extra;    /* JSON merged into the body (a POST's: the arguments not in the path) */
    step_fn fn;           /* several calls, instead of method and path */
    const char *needs[2]; /* fn's calls, "METHOD /path", for the scope */
    unsigned flags;
} tool_t;

struct call {
    mcp_x_t *x;
    const tool_t *t;
    json_t *args;
    bool as_task;
    json_t *made;
};

/* ---- the REST calls ----------------------------------------------------------------------- */

typedef struct {
    mcp_x_t *x;
    ad_mcp_rest_cb cb;
    void *ud;
    char *body;
} rest_t;

static void rest_done(int status, const char *body, size_t len, void *ud)
{
    rest_t *c = ud;
    json_t *j = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    ad_mcp_rest_cb cb = c->cb;
    mcp_x_t *x = c->x;
    void *cud = c->ud;
    free(c->body);
    free(c);
    cb(x, status, j != NULL ? j : json_object(), cud);
}

void ad_mcp_rest(mcp_x_t *x, const char *method, const char *target, json_t *body,
                 ad_mcp_rest_cb cb, void *ud)
{
    rest_t *c = ad_xcalloc(1, sizeof(*c));
    c->x = x;
    c->cb = cb;
    c->ud = ud;
    c->body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    ad_http_call_t call = {.method = method,
                           .target = target,
                           .body = c->body,
                           .len = c->body != NULL ? strlen(c->body) : 0,
                           .auth = &x->who,
                           .access = ad_mcp_access_of(&x->who),
                           .peer = "mcp"};
    ad_server_call(x->m->server, &call, rest_done, c);
}

json_t *ad_mcp_tool_result(json_t *value, bool error)
{
    char *text = json_dumps(value, JSON_COMPACT);
    size_t n = text != NULL ? strlen(text) : 0;
    json_t *r =
        json_pack("{s:[{s:s, s:s%}], s:b}", "content", "type", "text", "text",
                  text != NULL ? text : "", n < MCP_TEXT_MAX ? n : MCP_TEXT_MAX, "isError", error);
    if (json_is_object(value)) {
        json_object_set(r, "structuredContent", value);
    }
    free(text);
    json_decref(value);
    return r;
}

static void call_free(call_t *k)
{
    json_decref(k->args);
    json_decref(k->made);
    free(k);
}

static void finish(call_t *k, json_t *value, bool error)
{
    mcp_x_t *x = k->x;
    call_free(k);
    ad_mcp_x_result(x, ad_mcp_tool_result(value, error));
}

static json_t *refusal(const char *code, const char *message, json_t *details)
{
    return json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message", message, "details",
                     details != NULL ? details : json_object());
}

/* tmpl with each {arg} replaced by the argument, percent-encoded. false
 * when it does not fit. */
static bool fill_path(const char *tmpl, json_t *args, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = tmpl; *p != '\0';) {
        if (*p != '{') {
            if (o + 1 >= outsz) {
                return false;
            }
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(end - p - 1), p + 1);
        json_t *v = json_object_get(args, key);
        char raw[512], enc[1600];
        if (json_is_integer(v)) {
            snprintf(raw, sizeof(raw), "%lld", (long long)json_integer_value(v));
        } else {
            snprintf(raw, sizeof(raw), "%s",
                     json_string_value(v) != NULL ? json_string_value(v) : "");
        }
        ad_url_encode(raw, enc, sizeof(enc));
        size_t el = strlen(enc);
        if (o + el + 1 >= outsz) {
            return false;
        }
        memcpy(out + o, enc, el);
        o += el;
        p = end + 1;
    }
    out[o] = '\0';
    return true;
}

static void one_done(mcp_x_t *x, int status, json_t *body, void *ud)
{
    AD_UNUSED(x);
    call_t *k = ud;
    finish(k, body, status < 200 || status >= 300);
}

/* A tool that is one REST call. */
static void run_one(call_t *k)
{
    const tool_t *t = k->t;
    char path[PATH_MAX_LEN];
    if (!fill_path(t->path, k->args, path, sizeof(path))) {
        finish(k, refusal("INVALID_ARGUMENT", "an argument is too long", NULL), true);
        return;
    }
    char sep = strchr(path, '?') != NULL ? '&' : '?';
    for (const char *q = t->query; q != NULL && *q != '\0';) {
        size_t n = strcspn(q, ",");
        char name[64], tmpl[160], part[1700];
        snprintf(name, sizeof(name), "%.*s", (int)n, q);
        q += n + (q[n] == ',');
        if (json_object_get(k->args, name) == NULL) {
            continue;
        }
        snprintf(tmpl, sizeof(tmpl), "%c%s={%s}", sep, name, name);
        size_t pl = strlen(path);
        if (!fill_path(tmpl, k->args, part, sizeof(part)) || pl + strlen(part) >= sizeof(path)) {
            finish(k, refusal("INVALID_ARGUMENT", "an argument is too long", NULL), true);
            return;
        }
        memcpy(path + pl, part, strlen(part) + 1);
        sep = '&';
    }
    json_t *body = NULL;
    if (strcmp(t->method, "GET") != 0) {
        body = json_deep_copy(k->args);
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(body, tmp, key, v)
        {
            char mark[80];
            snprintf(mark, sizeof(mark), "{%s}", key);
            if (strstr(t->path, mark) != NULL) {
                json_object_del(body, key);
            }
        }
        json_t *extra = t->extra != NULL ? json_loads(t->extra, 0, NULL) : NULL;
        if (extra != NULL) {
            json_object_update(body, extra);
            json_decref(extra);
        }
    }
    ad_mcp_rest(k->x, t->method, path, body, one_done, k);
}

/* start_agent: the agent made, then started on the prompt; answers the
 * agent, or (asked as a task) a task that is its run. */
static void start_step(mcp_x_t *x, int status, json_t *body, void *ud);

static void start_agent(call_t *k, int step, int status, json_t *answer)
{
    if (step == 0) {
        json_t *body = json_deep_copy(k->args);
        json_object_del(body, "prompt");
        ad_mcp_rest(k->x, "POST", "/api/agents", body, start_step, k);
        return;
    }
    if (step == 1) {
        if (status != 201) {
            finish(k, answer, true);
            return;
        }
        k->made = answer;
        char enc[200], path[300];
        ad_url_encode(json_string_value(json_object_get(answer, "id")), enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/agents/%s/start", enc);
        ad_mcp_rest(k->x, "POST", path,
                    json_pack("{s:O}", "initialPrompt", json_object_get(k->args, "prompt")),
                    start_step, k);
        return;
    }
    if (status < 200 || status >= 300) {
        finish(k, answer, true);
        return;
    }
    if (k->as_task) {
        mcp_x_t *x = k->x;
        k->x = NULL;
        ad_mcp_task_create(x, answer);
        json_decref(answer);
        call_free(k);
        return;
    }
    finish(k, answer, false);
}

static void start_step(mcp_x_t *x, int status, json_t *body, void *ud)
{
    AD_UNUSED(x);
    call_t *k = ud;
    int step = k->made == NULL ? 1 : 2;
    start_agent(k, step, status, body);
}

/* ---- the table ------------------------------------------------------------------------------ */

#define S(props, req)                                                                              \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req                           \
    "],\"additionalProperties\":false}"
#define STR(name, what) "\"" name "\":{\"type\":\"string\",\"description\":\"" what "\"}"

static const tool_t tools[] = {
    {"list_agents",
     "List agents",
     "The agents of the fleet with their status, worktree and cost.",
     S("", ""),
     "GET",
     "/api/agents",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"get_agent",
     "Get an agent",
     "One agent: its status (and why), worktree, executor, cost.",
     S(STR("agentId", "the agent's id (ag_…)"), "\"agentId\""),
     "GET",
     "/api/agents/{agentId}",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"list_worktrees",
     "List worktrees",
     "The git worktrees agents work in, with their branches.",
     S("", ""),
     "GET",
     "/api/worktrees",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"create_worktree",
     "Create a worktree",
     "A new git worktree of a workspace, on a new branch (its name unless branch is given, "
     "made from base or the main worktree's branch).",
     S(STR("workspaceId", "the workspace (ws_…)") "," STR("name", "the worktree's name") "," STR(
           "branch", "the new branch (default: name)") "," STR("base", "the branch to start from"),
       "\"workspaceId\",\"name\""),
     "POST",
     "/api/worktrees",
     NULL,
     "{\"createBranch\":true}",
     NULL,
     {NULL, NULL},
     0},
    {"start_agent",
     "Start an agent",
     "Create an agent in a worktree and start it on a prompt. Answers the agent (its id is what "
     "the other tools take), or, asked as a task, a task that is the agent's run: it ends when "
     "the prompt is done, with the agent's answer.",
     S(STR("worktreeId", "the worktree (wt_…)") "," STR(
           "prompt",
           "what the agent is to do") "," STR("name",
                                              "the agent's name") ",\"executor\":{\"type\":"
                                                                  "\"string\",\"enum\":[\"claude\","
                                                                  "\"codex\",\"gemini\",\"acp\","
                                                                  "\"command\"]},\"command\":{"
                                                                  "\"type\":\"array\",\"items\":{"
                                                                  "\"type\":\"string\"}}",
       "\"worktreeId\",\"prompt\""),
     NULL,
     NULL,
     NULL,
     NULL,
     start_agent,
     {"POST /api/agents", "POST /api/agents/x/start"},
     T_TASK},
    {"send_message",
     "Message an agent",
     "A message to an agent: its next turn, or a steer mid-turn.",
     S(STR("agentId", "the agent (ag_…)") "," STR("content", "the message"),
       "\"agentId\",\"content\""),
     "POST",
     "/api/agents/{agentId}/message",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     0},
    {"stop_agent",
     "Stop an agent",
     "Stop an agent's run.",
     S(STR("agentId", "the agent (ag_…)"), "\"agentId\""),
     "POST",
     "/api/agents/{agentId}/stop",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_DESTRUCTIVE},
    {"read_transcript",
     "Read a transcript",
     "An agent's messages, newest first, a page at a time (before: the nextCursor of the page "
     "before).",
     S(STR("agentId", "the agent (ag_…)") ",\"limit\":{\"type\":\"integer\",\"minimum\":1,"
                                          "\"maximum\":200}," STR("before", "a page's nextCursor"),
       "\"agentId\""),
     "GET",
     "/api/agents/{agentId}/messages",
     "limit,before",
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"list_approvals",
     "List approvals",
     "An agent's tool calls waiting for a decision.",
     S(STR("agentId", "the agent (ag_…)"), "\"agentId\""),
     "GET",
     "/api/agents/{agentId}/approvals?pending=true",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"decide_approval",
     "Decide an approval",
     "Allow or deny a tool call an agent waits on.",
     S(STR("approvalId", "the approval (ap_…)") ",\"decision\":{\"type\":\"string\",\"enum\":["
                                                "\"allow\",\"deny\",\"allow_always\"]}",
       "\"approvalId\",\"decision\""),
     "POST",
     "/api/approvals/{approvalId}",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     0},
    {"diff",
     "Diff a worktree",
     "What a worktree's branch changes against its base branch.",
     S(STR("worktreeId", "the worktree (wt_…)"), "\"worktreeId\""),
     "GET",
     "/api/worktrees/{worktreeId}/diff?against=base",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"merge",
     "Merge a worktree",
     "Merge a worktree's branch into its base branch (or into).",
     S(STR("worktreeId", "the worktree (wt_…)") "," STR(
           "into", "the branch to merge into") ","
                                               "\"strategy\":{\"type\":\"string\",\"enum\":["
                                               "\"merge\",\"squash\",\"rebase\"]}",
       "\"worktreeId\""),
     "POST",
     "/api/worktrees/{worktreeId}/merge",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_DESTRUCTIVE},
    {"training_metrics",
     "Training metrics",
     "A run's training metrics: each series and its summary.",
     S(STR("runId", "the run (run_…)"), "\"runId\""),
     "GET",
     "/api/runs/{runId}/metrics",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
    {"health",
     "Health",
     "The machine's health: CPU, memory, disk, GPUs, agents.",
     S("", ""),
     "GET",
     "/api/health",
     NULL,
     NULL,
     NULL,
     {NULL, NULL},
     T_READ},
};

json_t *ad_mcp_tools_list(bool modern)
{
    json_t *out = json_array();
    for (size_t i = 0; i < AD_ARRAY_LEN(tools); i++) {
        const tool_t *t = &tools[i];
        json_t *schema = json_loads(t->schema, 0, NULL);
        json_t *tool = json_pack(
            "{s:s, s:s, s:s, s:o, s:{s:s, s:b, s:b, s:b}}", "name", t->name, "title", t->title,
            "description", t->description, "inputSchema", schema != NULL ? schema : json_object(),
            "annotations", "title", t->title, "readOnlyHint", (t->flags & T_READ) != 0,
            "destructiveHint", (t->flags & T_DESTRUCTIVE) != 0, "openWorldHint", 0);
        if (!modern && (t->flags & T_TASK) != 0) {
            json_object_set_new(tool, "execution", json_pack("{s:s}", "taskSupport", "optional"));
        }
        json_array_append_new(out, tool);
    }
    return json_pack("{s:o}", "tools", out);
}

/* ---- the schema check ------------------------------------------------------------------------ */

/* args checked against schema (the subset the tools use: object, string,
 * integer with bounds, enum, array of strings, required, no other field).
 * NULL, or why with the field named. */
const char *ad_mcp_check_args(const char *schema_text, json_t *args, char *why, size_t whysz)
{
    if (!json_is_object(args)) {
        return "arguments must be an object";
    }
    json_t *schema = json_loads(schema_text, 0, NULL);
    json_t *props = json_object_get(schema, "properties");
    const char *key;
    json_t *v;
    const char *bad = NULL;
    json_object_foreach(args, key, v)
    {
        json_t *p = json_object_get(props, key);
        const char *type = json_string_value(json_object_get(p, "type"));
        bool ok = p != NULL;
        if (ok && strcmp(type, "string") == 0) {
            ok = json_is_string(v) && json_string_length(v) > 0;
        } else if (ok && strcmp(type, "integer") == 0) {
            ok = json_is_integer(v) &&
                 json_integer_value(v) >= json_integer_value(json_object_get(p, "minimum")) &&
                 json_integer_value(v) <= json_integer_value(json_object_get(p, "maximum"));
        } else if (ok && strcmp(type, "array") == 0) {
            size_t i;
            json_t *item;
            ok = json_is_array(v) && json_array_size(v) > 0;
            json_array_foreach(v, i, item)
            {
                ok = ok && json_is_string(item);
            }
        }
        json_t *en = json_object_get(p, "enum");
        if (ok && en != NULL) {
            bool in = false;
            size_t i;
            json_t *e;
            json_array_foreach(en, i, e)
            {
                in |= json_equal(e, v);
            }
            ok = in;
        }
        if (!ok) {
            bool integer = type != NULL && strcmp(type, "integer") == 0;
            snprintf(why, whysz, "%s: %s%s", key,
                     p == NULL    ? "is not an argument of this tool"
                     : en != NULL ? "is not one of the values the schema lists"
                     : integer    ? "must be an integer in range"
                                  : "must be a ",
                     p == NULL || en != NULL || integer ? ""
                     : strcmp(type, "array") == 0       ? "non-empty array of strings"
                                                        : "non-empty string");
            bad = why;
            break;
        }
    }
    size_t i;
    json_array_foreach(json_object_get(schema, "required"), i, v)
    {
        if (bad == NULL && json_object_get(args, json_string_value(v)) == NULL) {
            snprintf(why, whysz, "%s: is required", json_string_value(v));
            bad = why;
        }
    }
    json_decref(schema);
    return bad;
}

/* ---- tools/call ------------------------------------------------------------------------------ */

/* The access the tool's routes need at most. */
static ad_access_t needed(ad_mcp_t *m, const tool_t *t)
{
    ad_access_t most = AD_ACCESS_READ;
    for (int i = 0; i < 3; i++) {
        char method[16], path[PATH_MAX_LEN];
        if (i == 0 && t->fn == NULL) {
            snprintf(method, sizeof(method), "%s", t->method);
            snprintf(path, sizeof(path), "%s", t->path);
        } else if (i > 0 && t->needs[i - 1] != NULL) {
            sscanf(t->needs[i - 1], "%15s %2047s", method, path);
        } else {
            continue;
        }
        for (char *p = strchr(path, '{'); p != NULL; p = strchr(path, '{')) {
            char *e = strchr(p, '}');
            memmove(p + 1, e + 1, strlen(e + 1) + 1);
            *p = 'x'; /* a parameter matches any segment */
        }
        char *q = strchr(path, '?');
        if (q != NULL) {
            *q = '\0';
        }
        ad_access_t a = AD_ACCESS_ADMIN;
        if (!ad_server_route_access_of(m->server, method, path, &a)) {
            a = AD_ACCESS_ADMIN; /* unknown: asked of the most trusted only */
        }
        most = a > most ? a : most;
    }
    return most;
}

static const char *access_name(ad_access_t a)
{
    return a == AD_ACCESS_ADMIN ? "admin" : a == AD_ACCESS_WRITE ? "write" : "read";
}

void ad_mcp_tools_call(mcp_x_t *x)
{
    const char *name = json_string_value(json_object_get(x->params, "name"));
    json_t *args = json_object_get(x->params, "arguments");
    json_t *task = json_object_get(x->params, "task");
    const tool_t *t = NULL;
    for (size_t i = 0; name != NULL && i < AD_ARRAY_LEN(tools); i++) {
        t = strcmp(tools[i].name, name) == 0 ? &tools[i] : t;
    }
    if (t == NULL) {
        ad_mcp_x_error(x, 200, RPC_INVALID_PARAMS, NULL, "unknown tool: %s",
                       name != NULL ? name : "(none)");
        return;
    }
    if (!x->modern && task != NULL && ((t->flags & T_TASK) == 0 || !json_is_object(task))) {
        ad_mcp_x_error(x, 200, RPC_NOT_FOUND, NULL, "%s cannot run as a task", t->name);
        return;
    }
    json_t *none = json_object();
    char why[300];
    const char *bad = ad_mcp_check_args(t->schema, args != NULL ? args : none, why, sizeof(why));
    if (bad != NULL) {
        json_decref(none);
        ad_mcp_x_result(x, ad_mcp_tool_result(refusal("INVALID_ARGUMENT", bad, NULL), true));
        return;
    }
    ad_access_t need = needed(x->m, t);
    if (need > ad_mcp_access_of(&x->who)) {
        json_decref(none);
        char msg[300];
        snprintf(msg, sizeof(msg), "%s needs the %s scope; this token's scope is %s", t->name,
                 access_name(need), ad_scope_name(x->who.scope));
        ad_mcp_x_result(x, ad_mcp_tool_result(
                               refusal("FORBIDDEN", msg,
                                       json_pack("{s:s, s:s}", "scope", ad_scope_name(x->who.scope),
                                                 "needed", access_name(need))),
                               true));
        return;
    }
    call_t *k = ad_xcalloc(1, sizeof(*k));
    k->x = x;
    k->t = t;
    k->args = args != NULL ? json_incref(args) : json_incref(none);
    json_decref(none);
    k->as_task = (t->flags & T_TASK) != 0 && (x->modern ? ad_mcp_x_tasks_ok(x) : task != NULL);
    if (t->fn != NULL) {
        t->fn(k, 0, 0, NULL);
    } else {
        run_one(k);
    }
}
