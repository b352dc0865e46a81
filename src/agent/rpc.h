/* SPDX-License-Identifier: MIT */
/*
 * agent's JSON-RPC 2.0 codec (rpc.c), what the stdio protocols (ACP agents,
 * codex app-server) speak. Plain data, any thread, one owner at a time.
 */
#ifndef AD_AGENT_RPC_H
#define AD_AGENT_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- JSON-RPC 2.0 over lines (rpc.c) -----------------------------------------
 * The codec of the stdio protocols (ACP agents, codex app-server): one
 * JSON-RPC message per line. Parses a line into a request, notification,
 * response or error with bounded sizes; builds requests with increasing
 * integer ids and remembers them until their response comes; builds
 * notifications, responses and errors. Executor-neutral: no method is
 * known here. Plain data, one owner at a time.
 */

/* Standard error codes. */
#define AD_RPC_PARSE_ERROR (-32700)
#define AD_RPC_INVALID_REQUEST (-32600)
#define AD_RPC_METHOD_NOT_FOUND (-32601)
#define AD_RPC_INVALID_PARAMS (-32602)
#define AD_RPC_INTERNAL_ERROR (-32603)

#define AD_RPC_LINE_MAX_DEFAULT (4 * 1024 * 1024) /* a line past it is refused */
#define AD_RPC_PENDING_MAX 256                    /* requests awaiting a response */
#define AD_RPC_METHOD_MAX 128                     /* bytes of a method name, NUL included */
#define AD_RPC_ID_MAX 128                         /* bytes of a string id */

/* The peer omits "jsonrpc":"2.0" (codex app-server): not required on the
 * lines read, not written on the lines built. A "jsonrpc" member that is
 * there must still be "2.0". */
#define AD_RPC_NO_VERSION 1u

typedef enum {
    AD_RPC_REQUEST = 0,  /* method, params (may be NULL), id */
    AD_RPC_NOTIFICATION, /* method, params */
    AD_RPC_RESPONSE,     /* id, result */
    AD_RPC_ERROR,        /* id (NULL when the peer sent null), code, message, data */
    /* Not a JSON-RPC message: code is AD_RPC_PARSE_ERROR (not JSON) or
     * AD_RPC_INVALID_REQUEST (too long, not an object, wrong members);
     * why says what; id is set when the line had a usable one, so a
     * request can be answered with the error. */
    AD_RPC_INVALID,
} ad_rpc_kind_t;

/* One parsed line. Everything but root and why is borrowed from root. */
typedef struct {
    ad_rpc_kind_t kind;
    json_t *root;       /* owned: the parsed object (NULL when not JSON) */
    const json_t *id;   /* an integer or a string, or NULL */
    const char *method; /* request, notification */
    json_t *params;     /* object or array, or NULL */
    json_t *result;     /* response: any value */
    int64_t code;       /* error (the peer's), invalid (ours) */
    const char *message;
    json_t *data; /* error: NULL when absent */
    char why[160];
} ad_rpc_msg_t;

/* A request sent and not yet answered; tag is the caller's (what the
 * answer is for). */
typedef struct {
    int64_t id;
    int64_t tag;
    char method[AD_RPC_METHOD_MAX];
} ad_rpc_call_t;

typedef struct {
    unsigned flags;
    size_t line_max; /* AD_RPC_LINE_MAX_DEFAULT after init; may be set */
    int64_t next_id;
    ad_rpc_call_t pending[AD_RPC_PENDING_MAX];
    size_t npending;
} ad_rpc_t;

void ad_rpc_init(ad_rpc_t *r, unsigned flags);

/* Parses one line (without its '\n'; a trailing '\r' is ignored; any
 * bytes, need not be NUL-terminated) into *m, which the caller clears with
 * ad_rpc_msg_clear() whatever the kind. Returns m->kind. */
ad_rpc_kind_t ad_rpc_parse(const ad_rpc_t *r, const char *line, size_t len, ad_rpc_msg_t *m);
void ad_rpc_msg_clear(ad_rpc_msg_t *m);

/* A request line for method with params (stolen; NULL: none), newline
 * included, in *line (owned: free()) and *len; the call is remembered as
 * pending with tag. Returns its id (1, 2, 3, ...), or AD_ETOOBIG when
 * AD_RPC_PENDING_MAX calls are pending, AD_EINVAL for an empty or too long
 * method or params that are not an object or array. */
int64_t ad_rpc_request(ad_rpc_t *r, const char *method, json_t *params, int64_t tag, char **line,
                       size_t *len);
/* The pending call a response or error answers (m->id an integer id this
 * side sent): copied into *out and forgotten. False for any other id. */
bool ad_rpc_match(ad_rpc_t *r, const ad_rpc_msg_t *m, ad_rpc_call_t *out);

/* A notification line (params stolen, may be NULL). Owned, '\n' included;
 * NULL for an empty or too long method or bad params. */
char *ad_rpc_notification(const ad_rpc_t *r, const char *method, json_t *params, size_t *len);
/* The response to the request with id (borrowed) carrying result (stolen;
 * NULL: null). Owned, '\n' included. */
char *ad_rpc_response(const ad_rpc_t *r, const json_t *id, json_t *result, size_t *len);
/* The error answer to id (borrowed; NULL: null, for a line whose id could
 * not be read) with code, message and data (stolen, may be NULL). */
char *ad_rpc_error(const ad_rpc_t *r, const json_t *id, int64_t code, const char *message,
                   json_t *data, size_t *len);

#endif
