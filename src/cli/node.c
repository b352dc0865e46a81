/* SPDX-License-Identifier: MIT */
/*
 * agentd node ls: the worker nodes the control plane knows (issue #34,
 * docs/nodes.md), from GET /api/nodes; the operator's tools (issue #77):
 * node drain|cordon|uncordon NAME, node set NAME --max-runs N|none
 * --label k=v[,k=v] | --clear-labels, node queue. `agentd node --join …`
 * is not a client command: main.c runs the node's role (src/node) for it.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a node's schedule reads: drained, draining, cordoned or ready. */
static const char *sched_word(json_t *n)
{
    return json_is_true(json_object_get(n, "drained"))    ? "drained"
           : json_is_true(json_object_get(n, "draining")) ? "draining"
           : json_is_true(json_object_get(n, "cordoned")) ? "cordoned"
                                                          : "ready";
}

static int node_ls(ad_cli_t *c, int argc, char **argv)
{
    int rc = 0;
    json_t *j = ad_cli_list(c, argc, argv, "/api/nodes", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-30s %-20s %-12s %-9s %-9s %-6s %-24s %-30s %s\n", "ID", "NAME", "STATE", "SCHEDULE",
           "RUNS", "QUEUED", "LAST SEEN", "PLANE", "LABELS");
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(j, "nodes"), i, n)
    {
        char labels[256] = "";
        size_t off = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(n, "labels"), k, v)
        {
            int w = snprintf(labels + off, sizeof(labels) - off, "%s%s=%s", off ? "," : "", k,
                             json_string_value(v) ? json_string_value(v) : "");
            off = w > 0 && (size_t)w < sizeof(labels) - off ? off + (size_t)w : off;
        }
        char runs[32];
        json_t *max = json_object_get(n, "maxRuns");
        if (json_is_integer(max)) {
            snprintf(runs, sizeof(runs), "%lld/%lld",
                     (long long)json_integer_value(json_object_get(n, "runs")),
                     (long long)json_integer_value(max));
        } else {
            snprintf(runs, sizeof(runs), "%lld",
                     (long long)json_integer_value(json_object_get(n, "runs")));
        }
        /* the plane holding its link: this one, another (its id), or none */
        json_t *pl = json_object_get(n, "plane");
        const char *plane = !json_is_object(pl)                         ? "-"
                            : json_is_true(json_object_get(pl, "here")) ? "here"
                                                                        : ad_cli_str(pl, "id", "?");
        printf("%-30s %-20s %-12s %-9s %-9s %-6lld %-24s %-30s %s\n", ad_cli_str(n, "id", "?"),
               ad_cli_str(n, "name", ""), ad_cli_str(n, "state", ""), sched_word(n), runs,
               (long long)json_integer_value(json_object_get(n, "queued")),
               ad_cli_str(n, "lastSeenAt", ""), plane, labels);
    }
    json_decref(j);
    return 0;
}

/* The id of the node named (or whose id is) want, into id: 0, or the exit
 * code after saying why. */
static int node_id(ad_cli_t *c, const char *want, char *id, size_t idsz)
{
    int rc = 0;
    json_t *j = ad_cli_call(c, "GET", "/api/nodes", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    rc = 1;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(j, "nodes"), i, n)
    {
        if (json_object_get(n, "revokedAt") == NULL &&
            (strcmp(ad_cli_str(n, "name", ""), want) == 0 ||
             strcmp(ad_cli_str(n, "id", ""), want) == 0)) {
            snprintf(id, idsz, "%s", ad_cli_str(n, "id", ""));
            rc = 0;
        }
    }
    json_decref(j);
    if (rc != 0) {
        fprintf(stderr, "%s: no node named %s\n", c->prog, want);
    }
    return rc;
}

/* method path (of the node NAME, after its id) with body; prints the node. */
static int node_act(ad_cli_t *c, const char *name, const char *method, const char *what,
                    json_t *body)
{
    char id[128], path[256];
    int rc = node_id(c, name, id, sizeof(id));
    if (rc != 0) {
        return rc;
    }
    snprintf(path, sizeof(path), "/api/nodes/%s%s", id, what);
    json_t *j = ad_cli_call(c, method, path, body, &rc);
    if (j == NULL) {
        return rc;
    }
    json_t *n = json_object_get(j, "node");
    if (c->json) {
        ad_cli_print_json(n);
    } else {
        printf("%s: %s\n", ad_cli_str(n, "name", name), sched_word(n));
    }
    json_decref(j);
    return 0;
}

static int one_name(ad_cli_t *c, int argc, char **argv, const char *usage, const char **name)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, usage);
    }
    *name = pos[0];
    return 0;
}

static int node_drain(ad_cli_t *c, int argc, char **argv)
{
    const char *name = NULL;
    int rc = one_name(c, argc, argv, "usage: agentd node drain NAME [--json]", &name);
    return rc != 0 ? rc : node_act(c, name, "POST", "/drain", NULL);
}

static int node_cordon(ad_cli_t *c, int argc, char **argv)
{
    const char *name = NULL;
    int rc = one_name(c, argc, argv, "usage: agentd node cordon NAME [--json]", &name);
    return rc != 0 ? rc : node_act(c, name, "POST", "/cordon", NULL);
}

static int node_uncordon(ad_cli_t *c, int argc, char **argv)
{
    const char *name = NULL;
    int rc = one_name(c, argc, argv, "usage: agentd node uncordon NAME [--json]", &name);
    return rc != 0 ? rc : node_act(c, name, "POST", "/uncordon", NULL);
}

/* k=v[,k=v...] into an object; NULL when malformed. */
static json_t *parse_labels(const char *text)
{
    json_t *o = json_object();
    char *copy = strdup(text), *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            json_decref(o);
            o = NULL;
            break;
        }
        *eq = '\0';
        json_object_set_new(o, kv, json_string(eq + 1));
    }
    free(copy);
    return o;
}

static int node_set(ad_cli_t *c, int argc, char **argv)
{
    const char *max = NULL, *labels = NULL;
    bool clear = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--max-runs", true, &max, NULL},
                             {"--label", true, &labels, NULL},
                             {"--labels", true, &labels, NULL},
                             {"--clear-labels", false, NULL, &clear}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    static const char usage[] = "usage: agentd node set NAME [--max-runs N|none] "
                                "[--label k=v[,k=v...] | --clear-labels] [--json]";
    if (npos != 1 || (max == NULL && labels == NULL && !clear) || (labels != NULL && clear)) {
        return ad_cli_usage(c, usage);
    }
    json_t *body = json_object();
    if (max != NULL) {
        char *end = NULL;
        long n = strtol(max, &end, 10);
        if (strcmp(max, "none") == 0) {
            json_object_set_new(body, "maxRuns", json_null());
        } else if (end != max && *end == '\0' && n >= 0) {
            json_object_set_new(body, "maxRuns", json_integer(n));
        } else {
            json_decref(body);
            return ad_cli_usage(c, usage);
        }
    }
    if (labels != NULL) {
        json_t *l = parse_labels(labels);
        if (l == NULL) {
            json_decref(body);
            return ad_cli_usage(c, usage);
        }
        json_object_set_new(body, "labels", l);
    }
    if (clear) {
        json_object_set_new(body, "labels", json_null());
    }
    rc = node_act(c, pos[0], "PATCH", "", body);
    json_decref(body);
    return rc;
}

/* agentd node queue: the starts waiting for a node, oldest first. */
static int node_queue(ad_cli_t *c, int argc, char **argv)
{
    int rc = 0;
    json_t *j = ad_cli_list(c, argc, argv, "/api/nodes/queue", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-30s %-20s %-24s %s\n", "AGENT", "NAME", "QUEUED AT", "WHY");
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(j, "queue"), i, q)
    {
        printf("%-30s %-20s %-24s %s\n", ad_cli_str(q, "agentId", "?"),
               ad_cli_str(q, "agentName", ""), ad_cli_str(q, "queuedAt", ""),
               ad_cli_str(q, "reasons", ""));
    }
    json_decref(j);
    return 0;
}

/* agentd node events NAME [--limit N]: its history, newest first. */
static int node_events(ad_cli_t *c, int argc, char **argv)
{
    const char *limit = "50";
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--limit", true, &limit, NULL}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    char id[128], path[320];
    long n = strtol(limit, NULL, 10);
    if (rc != 0 || npos != 1 || n < 1 || n > 500) {
        return rc != 0 ? rc
                       : ad_cli_usage(c, "usage: agentd node events NAME [--limit 1-500] [--json]");
    }
    if ((rc = node_id(c, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    snprintf(path, sizeof(path), "/api/nodes/%s/events?limit=%ld", id, n);
    json_t *j = ad_cli_call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
        json_decref(j);
        return 0;
    }
    printf("%-24s %-18s %s\n", "AT", "EVENT", "DETAIL");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "events"), i, e)
    {
        json_t *d = json_deep_copy(json_object_get(e, "detail"));
        json_object_del(d, "plane");
        char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%-24s %-18s %s\n", ad_cli_str(e, "at", ""), ad_cli_str(e, "kind", ""),
               text != NULL && strcmp(text, "{}") != 0 ? text : "");
        free(text);
        json_decref(d);
    }
    json_decref(j);
    return 0;
}

int ad_cli_node(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"ls", node_ls},         {"drain", node_drain},
                                        {"cordon", node_cordon}, {"uncordon", node_uncordon},
                                        {"set", node_set},       {"queue", node_queue},
                                        {"events", node_events}, {"token", ad_cli_node_token}};
    return ad_cli_subcommand(c, "node", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd node ls|queue [--json] | agentd node "
                             "drain|cordon|uncordon NAME | agentd node set NAME --max-runs N "
                             "--label k=v | agentd node events NAME | agentd node token "
                             "create|ls|revoke | agentd node --join URL ...",
                             argc, argv);
}
