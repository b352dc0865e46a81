/* SPDX-License-Identifier: MIT */
/*
 * What every route handler shares: src/api's and those of the engines
 * that register their own routes through the engine's routes hook
 * (src/routine, src/push, src/loop, src/search). Who is asking; whether
 * the row of :id is theirs to see (another org's row is answered exactly
 * like a missing one, 404); a body's or query's field read, answering 422
 * VALIDATION_ERROR {field, reason} in src/core/field.c's words; an AD_E*
 * code, a list or a row answered as JSON; a write answered after its
 * commit. src/api calls them by its older names, ad_api_* (api_int.h).
 *
 * Each answers r itself when it says so; the handler then just returns.
 * Threads: loop thread only.
 */
#ifndef AD_AUTH_ROUTE_H
#define AD_AUTH_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"

/* ---- who is asking ---------------------------------------------------------------- */
/* The principal of r. Never NULL: a request that reached a non-public
 * route has one; elsewhere one that sees nothing and may do nothing
 * ("anonymous", org "-", no scope) stands in. */
const ad_principal_t *ad_route_who(const ad_req_t *r);
/* Answers 403 {scope} and returns false unless r's principal has scope. */
bool ad_route_require(ad_req_t *r, ad_scope_t scope, const char *what);
/* Answers 403 "only the owner <what>" and returns false unless r's
 * principal is the daemon's owner. */
bool ad_route_require_owner(ad_req_t *r, const char *what);
/* False after answering 503 when the store is not open. */
bool ad_route_need_store(ad_app_t *app, ad_req_t *r);
/* Whether the row of kind with id exists and r's principal may see it;
 * when not, answers 404 naming it (or the read's error): a row of another
 * org is answered exactly like a missing one. org_out (may be NULL) gets
 * the row's org. */
bool ad_route_visible(ad_app_t *app, ad_req_t *r, ad_store_row_t kind, const char *id,
                      char org_out[AD_ID_MAX]);
/* The row of r's :id read by get (a new reference; the row carries
 * orgId), or NULL after answering: 503 without a store, 404 naming what
 * (another org's row too), or the read's error. */
typedef int (*ad_route_row_get_fn)(struct ad_store *st, const char *id, json_t **out);
json_t *ad_route_row_load(ad_app_t *app, ad_req_t *r, ad_route_row_get_fn get, const char *what);
/* The worktree row of r's :id (new), or NULL after answering 404 "no
 * worktree <id>" (another org's too) or the read's error. */
json_t *ad_route_worktree(ad_app_t *app, ad_req_t *r);

/* ---- input: 0 (the value in *out, or the field absent and *out left alone),
 * or -1 after answering 422 ---------------------------------------------------------- */
/* Answers 422 for field with reason. Returns -1. */
int ad_route_invalid(ad_req_t *r, const char *field, const char *reason);
/* Answers 422 for the field a subsystem's check named. Returns -1. */
int ad_route_invalid_err(ad_req_t *r, const ad_field_err_t *e);
int ad_route_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
                 const char **out);
/* choices: comma-separated allowed values. */
int ad_route_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
                  const char **out);
int ad_route_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min,
                 int64_t max, int64_t *out, bool *present);
int ad_route_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present);
/* An array of at most max strings of at most maxlen bytes each. */
int ad_route_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                       size_t maxlen, json_t **out);
/* Query flag: absent -> def; true/1 and false/0. */
int ad_route_query_bool(ad_req_t *r, const char *key, bool def, bool *out);
/* ?key= as a whole number in [min, max] into *out (*has set). */
int ad_route_query_int(ad_req_t *r, const char *key, int64_t min, int64_t max, bool *has,
                       int64_t *out);

/* ---- answers -------------------------------------------------------------------- */
/* An AD_E* code answered with its status and a message about what (404
 * with details {id} when id is given). */
void ad_route_fail(ad_req_t *r, int rc, const char *what, const char *id);
/* A list read (rc, rows taken): 200 {key: rows}, or rc as ad_route_fail. */
void ad_route_list(ad_req_t *r, int rc, json_t *rows, const char *key, const char *what);
/* A read (rc, out taken): 200 with out, or rc as ad_route_fail(what, id). */
void ad_route_answer(ad_req_t *r, int rc, json_t *out, const char *what, const char *id);
/* 200 with row (taken), or nothing when it is NULL (a load that answered). */
void ad_route_answer_row(ad_req_t *r, json_t *row);

/* ---- writes --------------------------------------------------------------------- */
/* Queues op(args) on the store's writer (args taken) and calls done on
 * the loop after the commit, with the request still open; if the client
 * has gone, done still runs (to publish) and answering is a no-op.
 * result is borrowed (the write's reference is dropped after done). */
typedef void (*ad_route_done_fn)(ad_app_t *app, ad_req_t *r, int rc, json_t *result);
void ad_route_write(ad_app_t *app, ad_req_t *r, ad_store_op_fn op, json_t *args,
                    ad_route_done_fn done);

#endif
