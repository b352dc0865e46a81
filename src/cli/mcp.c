/* SPDX-License-Identifier: MIT */
/*
 * `agentd mcp`: the MCP server on stdio, for a host that spawns it (Claude
 * Code, Codex, Cursor, an IDE assistant). It is a bridge: each JSON-RPC
 * line from the host is POSTed to the daemon's /mcp over its unix socket,
 * with the headers the Streamable HTTP transport wants (the session id
 * initialize got, MCP-Protocol-Version, Mcp-Method, Mcp-Name), and each
 * message of the answer (JSON or an event stream) is a line on stdout.
 * Every request runs on its own thread, so one that waits (tasks/result,
 * subscriptions/listen) holds up nothing; after initialize a thread
 * follows the session's GET stream for the daemon's notifications. The
 * protocol, the tools and their checks are the daemon's (src/mcp); this
 * side has the CLI's rights on the socket (the owner's).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MCP_LINE_MAX (16u << 20)
#define MCP_ANSWER_MAX (64u << 20)
#define MCP_THREADS_MAX 64

typedef struct {
    const char *sock;     /* the daemon's socket */
    pthread_mutex_t lock; /* stdout, and what follows */
    pthread_cond_t idle;
    char session[64];
    char version[16];
    unsigned running;
    bool streaming; /* the GET stream's thread is up */
} bridge_t;

typedef struct {
    bridge_t *b;
    json_t *msg;
} job_t;

static void put(bridge_t *b, json_t *msg)
{
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    char *line = json_dumps(msg, JSON_COMPACT);
    pthread_mutex_lock(&b->lock);
    if (line != NULL) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    pthread_mutex_unlock(&b->lock);
    free(line);
}

static void put_error(bridge_t *b, json_t *id, int code, const char *message)
{
    json_t *e = json_pack("{s:O, s:{s:i, s:s}}", "id", id != NULL ? id : json_null(), "error",
                          "code", code, "message", message);
    put(b, e);
    json_decref(e);
}

/* An event stream's messages, each a line. */
static bool on_event(const char *data, size_t len, void *ud)
{
    bridge_t *b = ud;
    json_t *msg = json_loadb(data, len, 0, NULL);
    if (json_is_object(msg)) {
        put(b, msg);
    }
    json_decref(msg);
    return true;
}

typedef struct {
    bridge_t *b;
    ad_cli_sse_t sse;
    ad_buf_t body;
    bool stream;
    bool typed; /* the Content-Type was looked at */
    ad_cli_response_t *res;
} answer_t;

static bool on_body(const char *p, size_t n, void *ud)
{
    answer_t *a = ud;
    if (!a->typed) {
        a->typed = true;
        a->stream = strncmp(a->res->content_type, "text/event-stream", 17) == 0;
    }
    if (a->stream) {
        return ad_cli_sse_feed(&a->sse, p, n);
    }
    return ad_buf_append(&a->body, p, n) == 0;
}

/* Mcp-Name's value: as is when it is plain visible ASCII, else the
 * =?base64?…?= form. */
static void name_header(const char *v, char *out, size_t outsz)
{
    bool plain =
        v[0] != ' ' && v[0] != '\0' && v[strlen(v) - 1] != ' ' && strncmp(v, "=?base64?", 9) != 0;
    for (const unsigned char *p = (const unsigned char *)v; plain && *p != '\0'; p++) {
        plain = *p >= 0x20 && *p < 0x7f;
    }
    if (plain) {
        snprintf(out, outsz, "%s", v);
        return;
    }
    char enc[1400];
    ad_base64_encode((const uint8_t *)v, strlen(v), enc, sizeof(enc));
    snprintf(out, outsz, "=?base64?%s?=", enc);
}

/* The transport's headers for msg. */
static void headers_for(bridge_t *b, json_t *msg, char *out, size_t outsz)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    const char *mv = json_string_value(json_object_get(json_object_get(params, "_meta"),
                                                       "io.modelcontextprotocol/protocolVersion"));
    size_t o = 0;
    out[0] = '\0';
    pthread_mutex_lock(&b->lock);
    if (b->session[0] != '\0') {
        o += (size_t)snprintf(out + o, outsz - o, "Mcp-Session-Id: %s\r\n", b->session);
    }
    const char *version = mv != NULL ? mv : b->version[0] != '\0' ? b->version : NULL;
    if (version != NULL && o < outsz) {
        o += (size_t)snprintf(out + o, outsz - o, "MCP-Protocol-Version: %s\r\n", version);
    }
    pthread_mutex_unlock(&b->lock);
    if (mv != NULL && method != NULL && o < outsz) {
        o += (size_t)snprintf(out + o, outsz - o, "Mcp-Method: %s\r\n", method);
        const char *name = json_string_value(json_object_get(params, "name"));
        name = name != NULL ? name : json_string_value(json_object_get(params, "uri"));
        name = name != NULL ? name : json_string_value(json_object_get(params, "taskId"));
        if (name != NULL && o < outsz) {
            char h[1500];
            name_header(name, h, sizeof(h));
            snprintf(out + o, outsz - o, "Mcp-Name: %s\r\n", h);
        }
    }
}

static void *follow(void *ud);

/* One message to the daemon, its answer to stdout. */
static void *run(void *ud)
{
    job_t *j = ud;
    bridge_t *b = j->b;
    json_t *msg = j->msg;
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    char extra[4096];
    headers_for(b, msg, extra, sizeof(extra));
    char *body = json_dumps(msg, JSON_COMPACT);
    ad_cli_response_t res;
    answer_t a = {.b = b, .res = &res};
    ad_cli_sse_init(&a.sse, MCP_ANSWER_MAX, on_event, b);
    ad_buf_init(&a.body, MCP_ANSWER_MAX);
    char err[300];
    int rc = ad_cli_http_ex(b->sock, NULL, "POST", "/mcp", "application/json, text/event-stream",
                            extra, body, body != NULL ? strlen(body) : 0, -1, on_body, &a, &res,
                            err, sizeof(err));
    free(body);
    json_t *answer = a.body.len > 0 ? json_loadb(a.body.data, a.body.len, 0, NULL) : NULL;
    if (rc != 0 && id != NULL) {
        put_error(b, id, -32603, rc == AD_ENOENT ? "the daemon cannot be reached" : err);
    } else if (json_is_object(answer) && (json_object_get(answer, "result") != NULL ||
                                          json_object_get(answer, "error") != NULL)) {
        if (json_is_null(json_object_get(answer, "id")) && id != NULL) {
            json_object_set(answer, "id", id);
        }
        if (method != NULL && strcmp(method, "initialize") == 0 && res.session[0] != '\0') {
            const char *v = json_string_value(
                json_object_get(json_object_get(answer, "result"), "protocolVersion"));
            pthread_mutex_lock(&b->lock);
            snprintf(b->session, sizeof(b->session), "%s", res.session);
            snprintf(b->version, sizeof(b->version), "%s", v != NULL ? v : "");
            bool start = !b->streaming;
            b->streaming = true;
            pthread_mutex_unlock(&b->lock);
            pthread_t t;
            if (start && pthread_create(&t, NULL, follow, b) == 0) {
                pthread_detach(t);
            }
        }
        put(b, answer);
    } else if (id != NULL && !a.stream && res.status >= 300) {
        const char *why =
            json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
        put_error(b, id, -32603, why != NULL ? why : "the daemon refused the request");
    }
    json_decref(answer);
    ad_buf_cleanup(&a.body);
    ad_cli_sse_cleanup(&a.sse);
    json_decref(msg);
    free(j);
    pthread_mutex_lock(&b->lock);
    b->running--;
    pthread_cond_broadcast(&b->idle);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* The session's GET stream: the daemon's notifications (task status). */
static void *follow(void *ud)
{
    bridge_t *b = ud;
    char extra[256];
    pthread_mutex_lock(&b->lock);
    snprintf(extra, sizeof(extra), "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: %s\r\n", b->session,
             b->version);
    pthread_mutex_unlock(&b->lock);
    ad_cli_response_t res;
    answer_t a = {.b = b, .res = &res};
    ad_cli_sse_init(&a.sse, MCP_ANSWER_MAX, on_event, b);
    ad_buf_init(&a.body, 64 * 1024);
    char err[300];
    ad_cli_http_ex(b->sock, NULL, "GET", "/mcp", "text/event-stream", extra, NULL, 0, -1, on_body,
                   &a, &res, err, sizeof(err));
    ad_buf_cleanup(&a.body);
    ad_cli_sse_cleanup(&a.sse);
    return NULL;
}

static void on_line(json_t *msg, void *ud)
{
    bridge_t *b = ud;
    pthread_mutex_lock(&b->lock);
    while (b->running >= MCP_THREADS_MAX) {
        pthread_cond_wait(&b->idle, &b->lock);
    }
    /* initialize answers before anything else is sent: its session goes
     * with what follows */
    bool first = json_string_value(json_object_get(msg, "method")) != NULL &&
                 strcmp(json_string_value(json_object_get(msg, "method")), "initialize") == 0;
    b->running++;
    pthread_mutex_unlock(&b->lock);
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->b = b;
    j->msg = json_incref(msg);
    pthread_t t;
    if (first || pthread_create(&t, NULL, run, j) != 0) {
        run(j);
        return;
    }
    pthread_detach(t);
}

static void put_line(json_t *msg, void *ud)
{
    put(ud, msg);
    json_decref(msg);
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
    bridge_t b = {.sock = ad_cli_sock(c)};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.idle, NULL);
    ad_cli_rpc_lines(MCP_LINE_MAX, on_line, put_line, &b);
    /* the host closed stdin: what is in flight ends (a while at most: a
     * subscription never does), then the session */
    pthread_mutex_lock(&b.lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (b.running > 0 && pthread_cond_timedwait(&b.idle, &b.lock, &until) == 0) {
    }
    pthread_mutex_unlock(&b.lock);
    if (b.session[0] != '\0') {
        char extra[128], err[300];
        snprintf(extra, sizeof(extra), "Mcp-Session-Id: %s\r\n", b.session);
        ad_cli_response_t res;
        answer_t a = {.b = &b, .res = &res};
        ad_buf_init(&a.body, 4096);
        ad_cli_http_ex(ad_cli_sock(c), NULL, "DELETE", "/mcp", "application/json", extra, NULL, 0,
                       10000, on_body, &a, &res, err, sizeof(err));
        ad_buf_cleanup(&a.body);
    }
    return 0;
}
