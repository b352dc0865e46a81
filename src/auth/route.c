/* SPDX-License-Identifier: MIT */
/*
 * The helpers every route handler shares (route.h): src/api's and the
 * engines' that register their own routes. They were src/api's (api.c),
 * and copied into src/routine and src/push when those engines took their
 * routes; here, one layer below both, each has one copy.
 */
#include "auth/route.h"
#include "tables/gitrows.h"

#include <stdlib.h>
#include <string.h>

/* ---- who is asking ---------------------------------------------------------------- */

/* Sees nothing (its org matches no row) and may do nothing. */
static const ad_principal_t nobody = {.name = "anonymous", .org_id = "-", .scope = AD_SCOPE_NONE};

const ad_principal_t *ad_route_who(const ad_req_t *r)
{
    const ad_principal_t *p = ad_auth_principal(r);
    return p != NULL ? p : &nobody;
}

bool ad_route_require(ad_req_t *r, ad_scope_t scope, const char *what)
{
    const ad_principal_t *p = ad_route_who(r);
    if (ad_principal_can(p, scope)) {
        return true;
    }
    ad_res_error(r, 403, "FORBIDDEN", json_pack("{s:s}", "scope", ad_scope_name(p->scope)),
                 "%s needs a token with %s scope", what, ad_scope_name(scope));
    return false;
}

bool ad_route_require_owner(ad_req_t *r, const char *what)
{
    if (ad_route_who(r)->owner) {
        return true;
    }
    ad_res_error(r, 403, "FORBIDDEN", NULL, "only the owner %s", what);
    return false;
}

bool ad_route_need_store(ad_app_t *app, ad_req_t *r)
{
    if (app->store == NULL) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "the store is not open");
        return false;
    }
    return true;
}

bool ad_route_visible(ad_app_t *app, ad_req_t *r, ad_store_row_t kind, const char *id,
                      char org_out[AD_ID_MAX])
{
    int rc = ad_auth_row_org(app->store, ad_route_who(r), kind, id, org_out);
    if (rc != 0) {
        ad_route_fail(r, rc, ad_store_row_kind_name(kind), id);
        return false;
    }
    return true;
}

json_t *ad_route_row_load(ad_app_t *app, ad_req_t *r, ad_route_row_get_fn get, const char *what)
{
    const char *id = ad_req_param(r, "id");
    json_t *row = NULL;
    if (!ad_route_need_store(app, r)) {
        return NULL;
    }
    int rc = id != NULL && strlen(id) < AD_ID_MAX ? get(app->store, id, &row) : AD_ENOENT;
    if (rc == 0 && !ad_principal_sees(ad_route_who(r), ad_jstr(row, "orgId"))) {
        rc = AD_ENOENT;
    }
    if (rc != 0) {
        json_decref(row);
        ad_route_fail(r, rc, what, id);
        return NULL;
    }
    return row;
}

json_t *ad_route_worktree(ad_app_t *app, ad_req_t *r)
{
    const char *id = ad_req_param(r, "id");
    json_t *wt = NULL;
    int rc = ad_store_git_worktree_get(app->store, id, &wt);
    if (rc == 0 && !ad_principal_sees(ad_route_who(r), ad_jstr(wt, "orgId"))) {
        json_decref(wt);
        rc = AD_ENOENT; /* another org's worktree is as good as none */
    }
    if (rc == AD_ENOENT) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "no worktree %s", id);
        return NULL;
    }
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "cannot read worktree %s", id);
        return NULL;
    }
    return wt;
}

/* ---- input ------------------------------------------------------------------------ */

int ad_route_invalid(ad_req_t *r, const char *field, const char *reason)
{
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", field, "reason", reason), "%s %s", field, reason);
    return -1;
}

int ad_route_invalid_err(ad_req_t *r, const ad_field_err_t *e)
{
    return ad_route_invalid(r, e->field, e->why);
}

/* rc of a core field check: 0, or -1 after answering its 422. */
static int checked(ad_req_t *r, int rc, const ad_field_err_t *e)
{
    return rc != 0 ? ad_route_invalid_err(r, e) : 0;
}

int ad_route_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
                 const char **out)
{
    ad_field_err_t e;
    return checked(r, ad_field_str(body, key, required, maxlen, out, &e), &e);
}

int ad_route_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
                  const char **out)
{
    ad_field_err_t e;
    return checked(r, ad_field_enum(body, key, required, choices, out, &e), &e);
}

int ad_route_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min,
                 int64_t max, int64_t *out, bool *present)
{
    ad_field_err_t e;
    return checked(r, ad_field_int(body, key, required, min, max, out, present, &e), &e);
}

int ad_route_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present)
{
    ad_field_err_t e;
    return checked(r, ad_field_bool(body, key, out, present, &e), &e);
}

int ad_route_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                       size_t maxlen, json_t **out)
{
    ad_field_err_t e;
    return checked(r, ad_field_str_array(body, key, required, max, maxlen, out, &e), &e);
}

int ad_route_query_bool(ad_req_t *r, const char *key, bool def, bool *out)
{
    ad_field_err_t e;
    return checked(r, ad_field_query_bool(ad_req_query(r, key), key, def, out, &e), &e);
}

int ad_route_query_int(ad_req_t *r, const char *key, int64_t min, int64_t max, bool *has,
                       int64_t *out)
{
    ad_field_err_t e;
    return checked(r, ad_field_query_int(ad_req_query(r, key), key, min, max, has, out, &e), &e);
}

/* ---- answers -------------------------------------------------------------------- */

void ad_route_fail(ad_req_t *r, int rc, const char *what, const char *id)
{
    char msg[256];
    ad_err_about(rc, what, msg, sizeof(msg));
    ad_res_error_code(r, rc, rc == AD_ENOENT && id != NULL ? json_pack("{s:s}", "id", id) : NULL,
                      "%s", msg);
}

void ad_route_list(ad_req_t *r, int rc, json_t *rows, const char *key, const char *what)
{
    if (rc != 0) {
        json_decref(rows);
        ad_route_fail(r, rc, what, NULL);
    } else {
        ad_res_json(r, 200, json_pack("{s:o}", key, rows));
    }
}

void ad_route_answer(ad_req_t *r, int rc, json_t *out, const char *what, const char *id)
{
    if (rc != 0) {
        json_decref(out);
        ad_route_fail(r, rc, what, id);
    } else {
        ad_res_json(r, 200, out);
    }
}

void ad_route_answer_row(ad_req_t *r, json_t *row)
{
    if (row != NULL) {
        ad_res_json(r, 200, row);
    }
}

/* ---- writes --------------------------------------------------------------------- */

typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    ad_route_done_fn done;
} write_t;

static void written(int rc, json_t *result, void *ud)
{
    write_t *w = ud;
    w->done(w->app, w->r, rc, result);
    json_decref(result);
    free(w);
}

void ad_route_write(ad_app_t *app, ad_req_t *r, ad_store_op_fn op, json_t *args,
                    ad_route_done_fn done)
{
    write_t *w = ad_xmalloc(sizeof(*w));
    *w = (write_t){.app = app, .r = r, .done = done};
    ad_store_write(app->store, op, args, written, w);
}
