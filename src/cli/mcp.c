/* SPDX-License-Identifier: MIT */
/*
 * `agentd mcp`: an MCP server on stdio (Model Context Protocol, JSON-RPC
 * 2.0 a line) for a host that spawns it (Claude Code, Codex, Cursor, an IDE
 * assistant): agentd's fleet as tools. Each tool is a call of the REST API
 * through the daemon's unix socket, with the rights the CLI has there (the
 * owner's: whoever may run this may run agentd's CLI), and answers what
 * the route answers. Inputs are checked against each tool's schema
 * (exact: unknown fields refused) before anything is called; a bad input
 * or a refusal of the daemon is a tool result with isError and the reason,
 * naming the field.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MCP_LINE_MAX (16u << 20)
#define MCP_TEXT_MAX (1u << 20) /* a tool's answer as text: the JSON, cut past this */
#define RPC_INVALID_PARAMS (-32602)
#define RPC_NOT_FOUND (-32601)

/* The revisions this server speaks; the first is its own. */
static const char *const protocols[] = {"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"};

typedef struct {
    ad_cli_t *c;
    json_t *args;
    long status;
    char path[1024];
} call_t;

typedef json_t *(*tool_fn)(call_t *k);

typedef struct {
    const char *name;
    const char *description;
    const char *schema; /* JSON Schema of the arguments */
    tool_fn fn;
} tool_t;

/* ---- the REST calls -------------------------------------------------------------- */

static const char *arg(call_t *k, const char *key)
{
    return json_string_value(json_object_get(k->args, key));
}

/* prefix, the encoded value of key (a path segment), then suffix. */
static void path_with(call_t *k, const char *prefix, const char *key, const char *suffix)
{
    char enc[400];
    ad_cli_url_encode(arg(k, key) != NULL ? arg(k, key) : "", enc, sizeof(enc));
    snprintf(k->path, sizeof(k->path), "%s%s%s", prefix, enc, suffix);
}

static json_t *rest(call_t *k, const char *method, json_t *body)
{
    int rc = 0;
    json_t *j = ad_cli_call_any(k->c, method, k->path, body, &k->status, &rc);
    json_decref(body);
    if (j == NULL) {
        k->status = 503;
        return json_pack("{s:{s:s, s:s}}", "error", "code", "UNAVAILABLE", "message",
                         "the daemon cannot be reached");
    }
    return j;
}

static json_t *t_list_agents(call_t *k)
{
    snprintf(k->path, sizeof(k->path), "/api/agents");
    return rest(k, "GET", NULL);
}

static json_t *t_agent(call_t *k)
{
    path_with(k, "/api/agents/", "agentId", "");
    return rest(k, "GET", NULL);
}

static json_t *t_list_worktrees(call_t *k)
{
    snprintf(k->path, sizeof(k->path), "/api/worktrees");
    return rest(k, "GET", NULL);
}

static json_t *t_create_worktree(call_t *k)
{
    snprintf(k->path, sizeof(k->path), "/api/worktrees");
    json_t *body = json_deep_copy(k->args);
    json_object_set_new(body, "createBranch", json_true());
    return rest(k, "POST", body);
}

static json_t *t_start_agent(call_t *k)
{
    snprintf(k->path, sizeof(k->path), "/api/agents");
    json_t *body = json_deep_copy(k->args);
    json_object_del(body, "prompt");
    json_t *made = rest(k, "POST", body);
    if (k->status != 201) {
        return made;
    }
    char enc[200];
    ad_cli_url_encode(json_string_value(json_object_get(made, "id")), enc, sizeof(enc));
    snprintf(k->path, sizeof(k->path), "/api/agents/%s/start", enc);
    json_t *started = rest(k, "POST", json_pack("{s:s}", "initialPrompt", arg(k, "prompt")));
    if (k->status >= 300) {
        json_decref(made);
        return started;
    }
    json_decref(started);
    return made;
}

static json_t *t_send_message(call_t *k)
{
    path_with(k, "/api/agents/", "agentId", "/message");
    return rest(k, "POST", json_pack("{s:s}", "content", arg(k, "content")));
}

static json_t *t_stop_agent(call_t *k)
{
    path_with(k, "/api/agents/", "agentId", "/stop");
    return rest(k, "POST", json_object());
}

static json_t *t_read_transcript(call_t *k)
{
    char enc[200], before[300] = "";
    ad_cli_url_encode(arg(k, "agentId"), enc, sizeof(enc));
    if (arg(k, "before") != NULL) {
        char b[200];
        ad_cli_url_encode(arg(k, "before"), b, sizeof(b));
        snprintf(before, sizeof(before), "&before=%s", b);
    }
    json_t *limit = json_object_get(k->args, "limit");
    snprintf(k->path, sizeof(k->path), "/api/agents/%s/messages?limit=%lld%s", enc,
             limit != NULL ? (long long)json_integer_value(limit) : 50LL, before);
    return rest(k, "GET", NULL);
}

static json_t *t_list_approvals(call_t *k)
{
    path_with(k, "/api/agents/", "agentId", "/approvals?pending=true");
    return rest(k, "GET", NULL);
}

static json_t *t_decide_approval(call_t *k)
{
    path_with(k, "/api/approvals/", "approvalId", "");
    return rest(k, "POST", json_pack("{s:s}", "decision", arg(k, "decision")));
}

static json_t *t_diff(call_t *k)
{
    path_with(k, "/api/worktrees/", "worktreeId", "/diff?against=base");
    return rest(k, "GET", NULL);
}

static json_t *t_merge(call_t *k)
{
    path_with(k, "/api/worktrees/", "worktreeId", "/merge");
    json_t *body = json_deep_copy(k->args);
    json_object_del(body, "worktreeId");
    return rest(k, "POST", body);
}

static json_t *t_metrics(call_t *k)
{
    path_with(k, "/api/runs/", "runId", "/metrics");
    return rest(k, "GET", NULL);
}

static json_t *t_health(call_t *k)
{
    snprintf(k->path, sizeof(k->path), "/api/health");
    return rest(k, "GET", NULL);
}

/* Each tool's arguments, as JSON Schema. */
#define S(props, req)                                                                              \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req                           \
    "],\"additionalProperties\":false}"
#define STR(name) "\"" name "\":{\"type\":\"string\"}"

static const tool_t tools[] = {
    {"list_agents", "The agents of the fleet with their status, worktree and cost.", S("", ""),
     t_list_agents},
    {"get_agent", "One agent: its status (and why), worktree, executor, cost.",
     S(STR("agentId"), "\"agentId\""), t_agent},
    {"list_worktrees", "The git worktrees agents work in, with their branches.", S("", ""),
     t_list_worktrees},
    {"create_worktree",
     "A new git worktree of a workspace, on a new branch (its name unless branch is given, "
     "made from base or the main worktree's branch).",
     S(STR("workspaceId") "," STR("name") "," STR("branch") "," STR("base"),
       "\"workspaceId\",\"name\""),
     t_create_worktree},
    {"start_agent",
     "Create an agent in a worktree and start it on a prompt; answers the agent (its id is "
     "what the other tools take).",
     S(STR("worktreeId") "," STR("prompt") "," STR(
           "name") ",\"executor\":{\"type\":\"string\",\"enum\":[\"claude\",\"codex\","
                   "\"gemini\",\"acp\",\"command\"]},\"command\":{\"type\":\"array\","
                   "\"items\":{\"type\":\"string\"}}",
       "\"worktreeId\",\"prompt\""),
     t_start_agent},
    {"send_message", "A message to an agent: its next turn, or a steer mid-turn.",
     S(STR("agentId") "," STR("content"), "\"agentId\",\"content\""), t_send_message},
    {"stop_agent", "Stop an agent's run.", S(STR("agentId"), "\"agentId\""), t_stop_agent},
    {"read_transcript",
     "An agent's messages, newest first, a page at a time (before: the "
     "nextCursor of the page before).",
     S(STR("agentId") ",\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":200},"
                      "" STR("before"),
       "\"agentId\""),
     t_read_transcript},
    {"list_approvals", "An agent's tool calls waiting for a decision.",
     S(STR("agentId"), "\"agentId\""), t_list_approvals},
    {"decide_approval", "Allow or deny a tool call an agent waits on.",
     S(STR("approvalId") ",\"decision\":{\"type\":\"string\",\"enum\":[\"allow\","
                         "\"deny\",\"allow_always\"]}",
       "\"approvalId\",\"decision\""),
     t_decide_approval},
    {"diff", "What a worktree's branch changes against its base branch.",
     S(STR("worktreeId"), "\"worktreeId\""), t_diff},
    {"merge", "Merge a worktree's branch into its base branch (or into).",
     S(STR("worktreeId") "," STR("into") ",\"strategy\":{\"type\":\"string\",\"enum\":["
                                         "\"merge\",\"squash\",\"rebase\"]}",
       "\"worktreeId\""),
     t_merge},
    {"training_metrics", "A run's training metrics: each series and its summary.",
     S(STR("runId"), "\"runId\""), t_metrics},
    {"health", "The machine's health: CPU, memory, disk, GPUs, agents.", S("", ""), t_health},
};

/* ---- the schema check -------------------------------------------------------------- */

/* args checked against schema (the subset the tools use: object, string,
 * integer with bounds, enum, array of strings, required, no other field).
 * NULL, or why with the field named. */
static const char *check(json_t *schema, json_t *args, char *why, size_t whysz)
{
    if (!json_is_object(args)) {
        return "arguments must be an object";
    }
    json_t *props = json_object_get(schema, "properties");
    const char *key;
    json_t *v;
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
            snprintf(why, whysz, "%s: %s", key,
                     p == NULL      ? "is not an argument of this tool"
                     : en != NULL   ? "is not one of the values the schema lists"
                     : type != NULL ? type
                                    : "is not valid");
            if (p != NULL && en == NULL && type != NULL) {
                snprintf(why, whysz, "%s: must be a%s %s", key,
                         strcmp(type, "integer") == 0 ? "n" : "",
                         strcmp(type, "integer") == 0 ? "integer in range"
                         : strcmp(type, "array") == 0 ? "array of strings"
                                                      : "non-empty string");
            }
            return why;
        }
    }
    size_t i;
    json_array_foreach(json_object_get(schema, "required"), i, v)
    {
        if (json_object_get(args, json_string_value(v)) == NULL) {
            snprintf(why, whysz, "%s: is required", json_string_value(v));
            return why;
        }
    }
    return NULL;
}

/* ---- the protocol --------------------------------------------------------------------- */

static void put(json_t *msg)
{
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    char *line = json_dumps(msg, JSON_COMPACT);
    if (line != NULL) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(line);
    json_decref(msg);
}

static json_t *tool_result(json_t *value, bool error)
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

static json_t *tools_list(void)
{
    json_t *out = json_array();
    for (size_t i = 0; i < AD_ARRAY_LEN(tools); i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "name", tools[i].name,
                                             "description", tools[i].description, "inputSchema",
                                             schema != NULL ? schema : json_object()));
    }
    return json_pack("{s:o}", "tools", out);
}

static void tools_call(ad_cli_t *c, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    const tool_t *t = NULL;
    for (size_t i = 0; name != NULL && i < AD_ARRAY_LEN(tools); i++) {
        t = strcmp(tools[i].name, name) == 0 ? &tools[i] : t;
    }
    if (t == NULL) {
        put(json_pack("{s:O, s:{s:i, s:s}}", "id", id, "error", "code", RPC_INVALID_PARAMS,
                      "message", "unknown tool"));
        return;
    }
    json_t *schema = json_loads(t->schema, 0, NULL);
    json_t *none = json_object();
    char why[300];
    const char *bad = check(schema, args != NULL ? args : none, why, sizeof(why));
    json_decref(schema);
    if (bad != NULL) {
        json_decref(none);
        put(json_pack("{s:O, s:o}", "id", id, "result",
                      tool_result(json_pack("{s:{s:s, s:s}}", "error", "code", "INVALID_ARGUMENT",
                                            "message", bad),
                                  true)));
        return;
    }
    call_t k = {.c = c, .args = args != NULL ? args : none};
    json_t *value = t->fn(&k);
    json_decref(none);
    put(json_pack("{s:O, s:o}", "id", id, "result",
                  tool_result(value, k.status < 200 || k.status >= 300)));
}

static void dispatch(ad_cli_t *c, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    if (method == NULL || id == NULL) {
        return; /* a notification (initialized, cancelled) or a stray answer */
    }
    if (strcmp(method, "initialize") == 0) {
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        const char *v = protocols[0];
        for (size_t i = 0; want != NULL && i < AD_ARRAY_LEN(protocols); i++) {
            v = strcmp(want, protocols[i]) == 0 ? protocols[i] : v;
        }
        put(json_pack("{s:O, s:{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}}", "id", id, "result",
                      "protocolVersion", v, "capabilities", "tools", "listChanged", 0, "serverInfo",
                      "name", "agentd", "version", AD_VERSION, "instructions",
                      "agentd runs coding agents in git worktrees: list them, start one on a "
                      "prompt, read its transcript, decide its approvals, diff and merge."));
    } else if (strcmp(method, "ping") == 0) {
        put(json_pack("{s:O, s:{}}", "id", id, "result"));
    } else if (strcmp(method, "tools/list") == 0) {
        put(json_pack("{s:O, s:o}", "id", id, "result", tools_list()));
    } else if (strcmp(method, "tools/call") == 0) {
        tools_call(c, id, params);
    } else {
        put(json_pack("{s:O, s:{s:i, s:s}}", "id", id, "error", "code", RPC_NOT_FOUND, "message",
                      "method not found"));
    }
}

static void on_line(json_t *msg, void *ud)
{
    dispatch(ud, msg);
}

static void put_line(json_t *msg, void *ud)
{
    AD_UNUSED(ud);
    put(msg);
}

int ad_cli_mcp(ad_cli_t *c, int argc, char **argv)
{
    int npos, rc = ad_cli_parse(c, argc, argv, NULL, 0, NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    json_t *up = ad_cli_call(c, "GET", "/api/health", NULL, &rc); /* the daemon is there */
    if (up == NULL) {
        return rc;
    }
    json_decref(up);
    ad_cli_rpc_lines(MCP_LINE_MAX, on_line, put_line, c);
    return 0;
}
