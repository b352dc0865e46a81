/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0, one message per line (agent.h "JSON-RPC 2.0 over lines"):
 * what the stdio protocols of ACP agents and codex app-server carry. A
 * line is checked whole before anything in it is believed: its length, that
 * it is one object, its id (integer or short string), its method, params
 * and error members; anything else is AD_RPC_INVALID with a reason.
 */
#include "agent/agent_int.h"
#include "agent/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ad_rpc_init(ad_rpc_t *r, unsigned flags)
{
    memset(r, 0, sizeof(*r));
    r->flags = flags;
    r->line_max = AD_RPC_LINE_MAX_DEFAULT;
    r->next_id = 1;
}

void ad_rpc_msg_clear(ad_rpc_msg_t *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
}

static ad_rpc_kind_t invalid(ad_rpc_msg_t *m, int64_t code, const char *why)
{
    m->kind = AD_RPC_INVALID;
    m->code = code;
    m->message = code == AD_RPC_PARSE_ERROR ? "Parse error" : "Invalid Request";
    snprintf(m->why, sizeof(m->why), "%s", why);
    return m->kind;
}

/* The same for a line that is not JSON, with the parser's reason. */
static ad_rpc_kind_t not_json(ad_rpc_msg_t *m, const json_error_t *e)
{
    invalid(m, AD_RPC_PARSE_ERROR, "");
    snprintf(m->why, sizeof(m->why), "not JSON: %.120s", e->text);
    return m->kind;
}

/* An id as JSON-RPC allows it here: an integer, or a string of 1 to
 * AD_RPC_ID_MAX-1 bytes (null only in an error, handled by the caller). */
static bool id_ok(const json_t *id)
{
    if (json_is_integer(id)) {
        return true;
    }
    return json_is_string(id) && json_string_length(id) > 0 &&
           json_string_length(id) < AD_RPC_ID_MAX;
}

static bool method_ok(const char *method)
{
    size_t n = method != NULL ? strlen(method) : 0;
    return n > 0 && n < AD_RPC_METHOD_MAX;
}

static ad_rpc_kind_t parse_call(ad_rpc_msg_t *m, const json_t *method, const json_t *id)
{
    if (!json_is_string(method) || !method_ok(json_string_value(method)) ||
        strlen(json_string_value(method)) != json_string_length(method)) {
        return invalid(m, AD_RPC_INVALID_REQUEST, "method is not a name of 1 to 127 bytes");
    }
    json_t *params = json_object_get(m->root, "params");
    if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
        return invalid(m, AD_RPC_INVALID_REQUEST, "params is not an object or an array");
    }
    if (json_object_get(m->root, "result") != NULL || json_object_get(m->root, "error") != NULL) {
        return invalid(m, AD_RPC_INVALID_REQUEST, "a call with a result or an error member");
    }
    m->method = json_string_value(method);
    m->params = params;
    m->kind = id != NULL ? AD_RPC_REQUEST : AD_RPC_NOTIFICATION;
    return m->kind;
}

static ad_rpc_kind_t parse_error_member(ad_rpc_msg_t *m, json_t *err)
{
    json_t *code = json_object_get(err, "code");
    json_t *msg = json_object_get(err, "message");
    if (!json_is_object(err) || !json_is_integer(code) || !json_is_string(msg)) {
        return invalid(m, AD_RPC_INVALID_REQUEST,
                       "error is not an object with an integer code and a string message");
    }
    m->kind = AD_RPC_ERROR;
    m->code = json_integer_value(code);
    m->message = json_string_value(msg);
    m->data = json_object_get(err, "data");
    return m->kind;
}

static ad_rpc_kind_t parse_answer(ad_rpc_msg_t *m, json_t *id_member)
{
    json_t *result = json_object_get(m->root, "result");
    json_t *err = json_object_get(m->root, "error");
    if ((result == NULL) == (err == NULL)) {
        return invalid(m, AD_RPC_INVALID_REQUEST,
                       "no method, and not exactly one of result and error");
    }
    if (id_member == NULL) {
        return invalid(m, AD_RPC_INVALID_REQUEST, "a response without an id");
    }
    if (result != NULL) {
        if (json_is_null(id_member)) {
            return invalid(m, AD_RPC_INVALID_REQUEST, "a result with a null id");
        }
        m->kind = AD_RPC_RESPONSE;
        m->result = result;
        return m->kind;
    }
    return parse_error_member(m, err);
}

ad_rpc_kind_t ad_rpc_parse(const ad_rpc_t *r, const char *line, size_t len, ad_rpc_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > r->line_max) {
        char why[96];
        snprintf(why, sizeof(why), "a line of %zu bytes, over the %zu-byte limit", len,
                 r->line_max);
        return invalid(m, AD_RPC_INVALID_REQUEST, why);
    }
    json_error_t jerr;
    m->root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (m->root == NULL) {
        return not_json(m, &jerr);
    }
    if (!json_is_object(m->root)) {
        return invalid(m, AD_RPC_INVALID_REQUEST,
                       json_is_array(m->root) ? "a batch (batches are not supported)"
                                              : "not a JSON object");
    }
    json_t *ver = json_object_get(m->root, "jsonrpc");
    if (ver != NULL || (r->flags & AD_RPC_NO_VERSION) == 0) {
        if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
            return invalid(m, AD_RPC_INVALID_REQUEST, "jsonrpc is not \"2.0\"");
        }
    }
    json_t *id = json_object_get(m->root, "id");
    if (id != NULL && !json_is_null(id) && !id_ok(id)) {
        return invalid(m, AD_RPC_INVALID_REQUEST,
                       "id is not an integer or a string of 1 to 127 bytes");
    }
    m->id = id != NULL && !json_is_null(id) ? id : NULL;
    json_t *method = json_object_get(m->root, "method");
    if (method != NULL) {
        if (id != NULL && json_is_null(id)) {
            return invalid(m, AD_RPC_INVALID_REQUEST, "a request with a null id");
        }
        return parse_call(m, method, m->id);
    }
    return parse_answer(m, id);
}

bool ad_rpc_match(ad_rpc_t *r, const ad_rpc_msg_t *m, ad_rpc_call_t *out)
{
    if ((m->kind != AD_RPC_RESPONSE && m->kind != AD_RPC_ERROR) || !json_is_integer(m->id)) {
        return false;
    }
    int64_t id = json_integer_value(m->id);
    for (size_t i = 0; i < r->npending; i++) {
        if (r->pending[i].id == id) {
            *out = r->pending[i];
            r->pending[i] = r->pending[r->npending - 1];
            r->npending--;
            return true;
        }
    }
    return false;
}

/* The line for obj (stolen): compact, "jsonrpc" first unless the peer
 * omits it, '\n' at the end. Owned; NULL when it cannot be written. */
static char *finish(const ad_rpc_t *r, json_t *obj, size_t *len)
{
    *len = 0;
    if (obj == NULL) {
        return NULL;
    }
    json_t *line = json_object();
    if ((r->flags & AD_RPC_NO_VERSION) == 0) {
        json_object_set_new(line, "jsonrpc", json_string("2.0"));
    }
    json_object_update(line, obj);
    json_decref(obj);
    char *out = ad_json_line(line, JSON_COMPACT | JSON_PRESERVE_ORDER, len);
    json_decref(line);
    return out;
}

/* A call's members (params stolen), or NULL when method or params are bad. */
static json_t *call_obj(const char *method, json_t *params)
{
    if (!method_ok(method) ||
        (params != NULL && !json_is_object(params) && !json_is_array(params))) {
        json_decref(params);
        return NULL;
    }
    json_t *obj = json_pack("{s:s}", "method", method);
    if (params != NULL) {
        json_object_set_new(obj, "params", params);
    }
    return obj;
}

int64_t ad_rpc_request(ad_rpc_t *r, const char *method, json_t *params, int64_t tag, char **line,
                       size_t *len)
{
    *line = NULL;
    *len = 0;
    if (r->npending >= AD_RPC_PENDING_MAX) {
        json_decref(params);
        return AD_ETOOBIG;
    }
    json_t *obj = call_obj(method, params);
    if (obj == NULL) {
        return AD_EINVAL;
    }
    int64_t id = r->next_id++;
    json_t *full = json_pack("{s:I}", "id", (json_int_t)id);
    json_object_update(full, obj);
    json_decref(obj);
    *line = finish(r, full, len);
    if (*line == NULL) {
        return AD_EINVAL;
    }
    ad_rpc_call_t *c = &r->pending[r->npending++];
    c->id = id;
    c->tag = tag;
    snprintf(c->method, sizeof(c->method), "%s", method);
    return id;
}

char *ad_rpc_notification(const ad_rpc_t *r, const char *method, json_t *params, size_t *len)
{
    return finish(r, call_obj(method, params), len);
}

char *ad_rpc_response(const ad_rpc_t *r, const json_t *id, json_t *result, size_t *len)
{
    json_t *obj = json_pack("{s:O, s:o}", "id", id != NULL ? id : json_null(), "result",
                            result != NULL ? result : json_null());
    return finish(r, obj, len);
}

char *ad_rpc_error(const ad_rpc_t *r, const json_t *id, int64_t code, const char *message,
                   json_t *data, size_t *len)
{
    json_t *err = json_pack("{s:I, s:s}", "code", (json_int_t)code, "message",
                            message != NULL ? message : "");
    if (err == NULL) {
        json_decref(data);
        *len = 0;
        return NULL;
    }
    if (data != NULL) {
        json_object_set_new(err, "data", data);
    }
    json_t *obj = json_pack("{s:O, s:o}", "id", id != NULL ? id : json_null(), "error", err);
    return finish(r, obj, len);
}
