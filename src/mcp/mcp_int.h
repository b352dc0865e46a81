/* SPDX-License-Identifier: MIT */
/*
 * Private to src/mcp: the server, its sessions and streams, one request in
 * flight (an exchange), and what the files of the folder share.
 */
#ifndef AD_MCP_INT_H
#define AD_MCP_INT_H

#include "mcp/mcp.h"

#include <jansson.h>

#define MCP_MODERN "2026-07-28"
#define MCP_LEGACY "2025-11-25"
#define MCP_TASKS_EXT "io.modelcontextprotocol/tasks"
#define MCP_RELATED_TASK "io.modelcontextprotocol/related-task"
#define MCP_SESSIONS_MAX 1024
#define MCP_SESSIONS_PER_CRED_MAX 64
#define MCP_SESSION_IDLE_MS (6 * 3600 * 1000)
#define MCP_SESSION_TASKS_MAX 256
#define MCP_STREAMS_MAX 1024
#define MCP_POLL_MS 1000

/* JSON-RPC and MCP error codes */
#define RPC_PARSE (-32700)
#define RPC_INVALID_REQUEST (-32600)
#define RPC_NOT_FOUND (-32601)
#define RPC_INVALID_PARAMS (-32602)
#define RPC_INTERNAL (-32603)
#define MCP_HEADER_MISMATCH (-32020)
#define MCP_MISSING_CAPABILITY (-32021)
#define MCP_UNSUPPORTED_VERSION (-32022)

typedef struct mcp_stream mcp_stream_t;

/* A session of the handshake era (2025-11-25 and before): made by
 * initialize, bound to the credential that made it. */
typedef struct mcp_session {
    struct mcp_session *next;
    char id[AD_SECRET_MAX];
    ad_auth_cred_t cred;
    char version[16];
    json_t *tasks;     /* {taskId: true}: the tasks it made or asked about */
    int64_t used_ms;   /* wall clock of its last use: the idle bound */
    uint64_t used_seq; /* the order of last uses (m->use_seq): least recently used goes
                        * first, also between uses in the same millisecond */
    mcp_stream_t *get; /* its GET stream, or NULL */
} mcp_session_t;

enum { MCP_STREAM_GET = 0, MCP_STREAM_LISTEN, MCP_STREAM_RESULT };

/* An open event stream: a session's GET stream, a subscriptions/listen
 * answer, or a tasks/result that waits for its task's end. */
struct mcp_stream {
    mcp_stream_t *next;
    ad_mcp_t *m;
    ad_sse_t *sse;
    ad_auth_watch_t *watch;
    int kind;
    ad_principal_t who;
    char session[AD_SECRET_MAX]; /* GET: its session */
    char task[AD_ID_MAX];        /* RESULT: its task */
    json_t *id;                  /* LISTEN, RESULT: the request's id */
    json_t *task_ids;            /* LISTEN: {taskId: true} */
};

struct ad_mcp {
    uv_loop_t *loop;
    ad_server_t *server;
    ad_bus_t *bus;
    ad_store_t *store;
    ad_auth_t *auth;
    ad_bus_sub_t *sub;
    mcp_session_t *sessions;
    size_t nsessions;
    uint64_t use_seq; /* counts session uses (mcp_session_t.used_seq) */
    mcp_stream_t *streams;
    size_t nstreams;
    json_t *working;   /* {agentId: taskId}: tasks not ended yet */
    json_t *notified;  /* {taskId: "status text"}: what streams were last told */
    unsigned inflight; /* exchanges and task jobs not done */
    bool closing;
};

/* One JSON-RPC request in flight. */
typedef struct mcp_x {
    ad_mcp_t *m;
    ad_req_t *r; /* NULL once answered */
    ad_principal_t who;
    ad_auth_cred_t cred;
    char version[16];
    bool modern;
    char session[AD_SECRET_MAX]; /* "" : none */
    json_t *id;
    char method[64];
    json_t *params;
    json_t *caps; /* the client's capabilities (modern: this request's) */
} mcp_x_t;

/* ---- server.c: exchanges and the method table ---------------------------------------- */
/* Answers x with result (stolen): the JSON-RPC response, stamped for the
 * modern era. Frees x. */
void ad_mcp_x_result(mcp_x_t *x, json_t *result);
/* Answers x with a JSON-RPC error (data stolen, may be NULL) and HTTP
 * status. Frees x. */
void ad_mcp_x_error(mcp_x_t *x, int status, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* One thing in flight less; frees a closing server after the last. */
void ad_mcp_unref(ad_mcp_t *m);
/* Frees x without answering (its request was handed on). */
void ad_mcp_x_free(mcp_x_t *x);
/* Runs x's method. */
void ad_mcp_dispatch(mcp_x_t *x);
/* The session of id that cred may use, or NULL. */
mcp_session_t *ad_mcp_session_find(ad_mcp_t *m, const char *id, const ad_auth_cred_t *cred);
/* Whether the client of x takes tasks (its capabilities, or x's session's). */
bool ad_mcp_x_tasks_ok(const mcp_x_t *x);
/* The {name, version} of the server. New reference. */
json_t *ad_mcp_server_info(void);
/* The highest access p's scope allows. */
ad_access_t ad_mcp_access_of(const ad_principal_t *p);

/* ---- tools.c ------------------------------------------------------------------------ */
/* {tools:[…]} as the era says them. New reference. */
json_t *ad_mcp_tools_list(bool modern);
/* tools/call (params name, arguments, task?): answers x. */
void ad_mcp_tools_call(mcp_x_t *x);
/* The arguments of a tool checked against its schema: NULL, or why (the
 * field named) in why. */
const char *ad_mcp_check_args(const char *schema, json_t *args, char *why, size_t whysz);
/* An in-process REST call as x's caller; cb gets status and the body as
 * JSON (new reference, never NULL: {} when it was not JSON). */
typedef void (*ad_mcp_rest_cb)(mcp_x_t *x, int status, json_t *body, void *ud);
void ad_mcp_rest(mcp_x_t *x, const char *method, const char *target, json_t *body,
                 ad_mcp_rest_cb cb, void *ud);
/* The CallToolResult of a REST answer (value stolen). New reference. */
json_t *ad_mcp_tool_result(json_t *value, bool error);

/* ---- tasks.c ------------------------------------------------------------------------ */
/* Follows the bus for the tasks not ended; takes up those a previous
 * daemon left working. */
void ad_mcp_tasks_start(ad_mcp_t *m);
void ad_mcp_tasks_stop(ad_mcp_t *m);
/* A started agent's run becomes a task (agent: the start's answer,
 * borrowed): answers x with CreateTaskResult once it is stored. */
void ad_mcp_task_create(mcp_x_t *x, json_t *agent);
/* tasks/get, tasks/result, tasks/list, tasks/cancel, tasks/update. */
void ad_mcp_tasks_call(mcp_x_t *x);
/* subscriptions/listen (modern): answers x with a stream. */
void ad_mcp_listen(mcp_x_t *x);

/* ---- resources.c ---------------------------------------------------------------------- */
/* resources/list, resources/templates/list, resources/read. */
void ad_mcp_resources_call(mcp_x_t *x);

/* ---- streams (http.c) ------------------------------------------------------------------- */
/* Opens an event stream on x's request (answering it): kind, id (the
 * request's, or NULL). NULL when the client has gone; x is freed either
 * way. */
mcp_stream_t *ad_mcp_stream_open(mcp_x_t *x, int kind);
/* Sends one JSON-RPC message (borrowed) on s. */
void ad_mcp_stream_send(mcp_stream_t *s, json_t *msg);
void ad_mcp_stream_close(mcp_stream_t *s);

#endif
