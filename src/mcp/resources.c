/* SPDX-License-Identifier: MIT */
/*
 * Resources: agents' transcripts, a page at a time, and training runs'
 * metric series, as agentd:// URIs read through the same REST routes as
 * the tools (so the same scope and organisation bound them):
 *   agentd://agents/{agentId}/transcript{?before,limit}  GET /api/agents/:id/messages
 *   agentd://runs/{runId}/metrics                        GET /api/runs/:id/metrics
 *   agentd://runs/{runId}/metrics/{name}{?buckets}       GET /api/runs/:id/metrics/:name
 * resources/list names the caller's agents' transcripts and its training
 * runs' metrics; resources/templates/list the three forms above.
 */
#include "mcp/mcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEME "agentd://"
#define LIST_AGENTS_MAX 200
#define LIST_RUNS_MAX 100

/* ---- resources/read --------------------------------------------------------------------- */

typedef struct {
    char uri[1024];
    char next[1100]; /* a transcript page's next page, or "" */
    bool transcript;
} read_t;

static void not_found(mcp_x_t *x, const char *uri)
{
    /* 2026-07-28 made it Invalid params; before, -32002 */
    ad_mcp_x_error(x, 200, x->modern ? RPC_INVALID_PARAMS : -32002, json_pack("{s:s}", "uri", uri),
                   "Resource not found: %s", uri);
}

static void read_done(mcp_x_t *x, int status, json_t *body, void *ud)
{
    read_t *c = ud;
    if (status == 404 || status == 405) {
        json_decref(body);
        not_found(x, c->uri);
        free(c);
        return;
    }
    if (status < 200 || status >= 300) {
        const char *msg =
            json_string_value(json_object_get(json_object_get(body, "error"), "message"));
        ad_mcp_x_error(x, 200, RPC_INVALID_PARAMS, json_incref(json_object_get(body, "error")),
                       "%s: %s", c->uri, msg != NULL ? msg : "refused");
        json_decref(body);
        free(c);
        return;
    }
    if (c->transcript) {
        const char *cursor = json_string_value(json_object_get(body, "nextCursor"));
        if (cursor != NULL) {
            char enc[600];
            ad_url_encode(cursor, enc, sizeof(enc));
            json_object_set_new(body, "nextUri", json_sprintf("%s?before=%s", c->next, enc));
        }
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *out = json_pack("{s:[{s:s, s:s, s:s}]}", "contents", "uri", c->uri, "mimeType",
                            "application/json", "text", text != NULL ? text : "{}");
    free(text);
    if (x->modern) {
        json_object_set_new(out, "ttlMs", json_integer(0));
        json_object_set_new(out, "cacheScope", json_string("private"));
    }
    free(c);
    ad_mcp_x_result(x, out);
}

/* The value of query key in q (a URI's query, "a=1&b=2"), percent-encoded
 * again for a REST query; false when absent. */
static bool query_arg(const char *q, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);
    for (const char *p = q; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, "&");
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            char raw[600], dec[600];
            snprintf(raw, sizeof(raw), "%.*s", (int)(n - kl - 1), p + kl + 1);
            size_t o = 0;
            for (size_t i = 0; raw[i] != '\0' && o + 1 < sizeof(dec); i++) {
                unsigned v;
                if (raw[i] == '%' && sscanf(raw + i + 1, "%2x", &v) == 1) {
                    dec[o++] = (char)v;
                    i += 2;
                } else {
                    dec[o++] = raw[i];
                }
            }
            dec[o] = '\0';
            ad_url_encode(dec, out, outsz);
            return true;
        }
        p += n + (p[n] == '&');
    }
    return false;
}

static void read_resource(mcp_x_t *x)
{
    const char *uri = json_string_value(json_object_get(x->params, "uri"));
    if (uri == NULL || strlen(uri) >= 1000 || strncmp(uri, SCHEME, strlen(SCHEME)) != 0) {
        not_found(x, uri != NULL ? uri : "(none)");
        return;
    }
    read_t *c = ad_xcalloc(1, sizeof(*c));
    snprintf(c->uri, sizeof(c->uri), "%s", uri);
    char path[1024];
    snprintf(path, sizeof(path), "%s", uri + strlen(SCHEME));
    char *q = strchr(path, '?');
    if (q != NULL) {
        *q++ = '\0';
    }
    char id[AD_ID_MAX + 8], rest[800], target[2048], arg[700];
    id[0] = rest[0] = '\0';
    int n = 0;
    if (sscanf(path, "agents/%55[^/]/%799s%n", id, rest, &n) == 2 && path[n] == '\0' &&
        strcmp(rest, "transcript") == 0) {
        c->transcript = true;
        snprintf(c->next, sizeof(c->next), "%sagents/%s/transcript", SCHEME, id);
        int len = snprintf(target, sizeof(target), "/api/agents/%s/messages?limit=", id);
        len += snprintf(target + len, sizeof(target) - (size_t)len, "%s",
                        query_arg(q, "limit", arg, sizeof(arg)) ? arg : "50");
        if (query_arg(q, "before", arg, sizeof(arg))) {
            snprintf(target + len, sizeof(target) - (size_t)len, "&before=%s", arg);
        }
    } else if (sscanf(path, "runs/%55[^/]/%799[^\n]", id, rest) == 2 &&
               strcmp(rest, "metrics") == 0) {
        snprintf(target, sizeof(target), "/api/runs/%s/metrics", id);
    } else if (sscanf(path, "runs/%55[^/]/%799[^\n]", id, rest) == 2 &&
               strncmp(rest, "metrics/", 8) == 0 && rest[8] != '\0') {
        /* the name as one path segment (a "train/loss" given as is or encoded) */
        char name[700] = "", raw[820];
        snprintf(raw, sizeof(raw), "n=%s", rest + 8);
        query_arg(raw, "n", name, sizeof(name));
        int len = snprintf(target, sizeof(target), "/api/runs/%s/metrics/%s", id, name);
        if (query_arg(q, "buckets", arg, sizeof(arg))) {
            snprintf(target + len, sizeof(target) - (size_t)len, "?buckets=%s", arg);
        }
    } else {
        free(c);
        not_found(x, uri);
        return;
    }
    for (const char *p = id; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-')) {
            free(c);
            not_found(x, uri);
            return;
        }
    }
    ad_mcp_rest(x, "GET", target, NULL, read_done, c);
}

/* ---- resources/list --------------------------------------------------------------------- */

static void listed_runs(mcp_x_t *x, int status, json_t *body, void *ud)
{
    json_t *list = ud;
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(body, "runs"), i, run)
    {
        const char *id = json_string_value(json_object_get(run, "id"));
        const char *name = json_string_value(json_object_get(run, "name"));
        if (status == 200 && id != NULL) {
            json_t *r = json_pack("{s:s, s:s}", "description",
                                  "the run's training metric series and their summaries",
                                  "mimeType", "application/json");
            json_object_set_new(r, "uri", json_sprintf("%sruns/%s/metrics", SCHEME, id));
            json_object_set_new(r, "name", json_sprintf("metrics of %s", name != NULL ? name : id));
            json_array_append_new(list, r);
        }
    }
    json_decref(body);
    json_t *out = json_pack("{s:o}", "resources", list);
    if (x->modern) {
        json_object_set_new(out, "ttlMs", json_integer(0));
        json_object_set_new(out, "cacheScope", json_string("private"));
    }
    ad_mcp_x_result(x, out);
}

static void listed_agents(mcp_x_t *x, int status, json_t *body, void *ud)
{
    AD_UNUSED(ud);
    json_t *list = json_array();
    size_t i;
    json_t *agent;
    json_array_foreach(json_object_get(body, "agents"), i, agent)
    {
        const char *id = json_string_value(json_object_get(agent, "id"));
        const char *name = json_string_value(json_object_get(agent, "name"));
        if (status == 200 && id != NULL && i < LIST_AGENTS_MAX) {
            json_t *r = json_pack("{s:s, s:s}", "description",
                                  "the agent's messages, newest first, 50 a page (nextUri)",
                                  "mimeType", "application/json");
            json_object_set_new(r, "uri", json_sprintf("%sagents/%s/transcript", SCHEME, id));
            json_object_set_new(r, "name",
                                json_sprintf("transcript of %s", name != NULL ? name : id));
            json_array_append_new(list, r);
        }
    }
    json_decref(body);
    char target[64];
    snprintf(target, sizeof(target), "/api/training/runs?limit=%d", LIST_RUNS_MAX);
    ad_mcp_rest(x, "GET", target, NULL, listed_runs, list);
}

static json_t *templates(bool modern)
{
    json_t *out = json_pack(
        "{s:[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]}",
        "resourceTemplates", "uriTemplate", SCHEME "agents/{agentId}/transcript{?before,limit}",
        "name", "transcript", "description",
        "An agent's messages, newest first, a page at a time (before: a page's nextCursor; "
        "limit 1-200, 50 by default).",
        "mimeType", "application/json", "uriTemplate", SCHEME "runs/{runId}/metrics", "name",
        "training-metrics", "description",
        "A run's training metric series, each with its count, steps and summary.", "mimeType",
        "application/json", "uriTemplate", SCHEME "runs/{runId}/metrics/{name}{?buckets}", "name",
        "metric-series", "description",
        "One metric series of a run, bucketed (buckets up to 20000, 1000 by default): per "
        "bucket x, min, max, mean, last, count.",
        "mimeType", "application/json");
    if (modern) {
        json_object_set_new(out, "ttlMs", json_integer(3600000));
        json_object_set_new(out, "cacheScope", json_string("public"));
    }
    return out;
}

void ad_mcp_resources_call(mcp_x_t *x)
{
    const char *m = x->method;
    if (strcmp(m, "resources/read") == 0) {
        read_resource(x);
    } else if (strcmp(m, "resources/list") == 0) {
        ad_mcp_rest(x, "GET", "/api/agents", NULL, listed_agents, NULL);
    } else if (strcmp(m, "resources/templates/list") == 0) {
        ad_mcp_x_result(x, templates(x->modern));
    } else {
        ad_mcp_x_error(x, x->modern ? 404 : 200, RPC_NOT_FOUND, NULL, "Method not found: %s", m);
    }
}
