/* SPDX-License-Identifier: MIT */
/*
 * The REST layer's shared parts: route registration for every resource,
 * input checks that name the bad field, the write helper that answers only
 * after the store has committed, and event publishing. Resource handlers
 * live in one file each (workspaces.c, agents.c, ...).
 */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ad_api_register(ad_app_t *app)
{
    api_workspaces_register(app);
    api_worktrees_register(app);
    api_agents_register(app);
    api_messages_register(app);
    api_settings_register(app);
    api_usage_register(app);
    api_runs_register(app);
    api_terminal_register(app);
    api_crews_register(app);
    api_live_register(app);
    api_git_register(app);
#ifdef AD_TEST_BUILD
    api_test_routes_register(app);
#endif
}

/* ---- input -------------------------------------------------------------- */

int api_invalid(ad_req_t *r, const char *field, const char *reason)
{
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", field, "reason", reason), "%s %s", field, reason);
    return -1;
}

bool api_choice(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0) {
            return true;
        }
        if (e == NULL) {
            return false;
        }
        p = e + 1;
    }
}

int api_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
            const char **out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL) {
        return required ? api_invalid(r, key, "is required") : 0;
    }
    if (!json_is_string(v)) {
        return api_invalid(r, key, "must be a string");
    }
    size_t len = json_string_length(v);
    if (len > maxlen) {
        return api_invalid(r, key, "is too long");
    }
    *out = json_string_value(v);
    return 0;
}

int api_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
             const char **out)
{
    const char *s = NULL;
    if (api_str(r, body, key, required, 64, &s) != 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    if (!api_choice(choices, s)) {
        char why[160];
        snprintf(why, sizeof(why), "must be one of %s", choices);
        return api_invalid(r, key, why);
    }
    *out = s;
    return 0;
}

int api_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min, int64_t max,
            int64_t *out, bool *present)
{
    json_t *v = json_object_get(body, key);
    if (present != NULL) {
        *present = false;
    }
    if (v == NULL) {
        return required ? api_invalid(r, key, "is required") : 0;
    }
    if (!json_is_integer(v)) {
        return api_invalid(r, key, "must be an integer");
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        return api_invalid(r, key, "is out of range");
    }
    *out = (int64_t)x;
    if (present != NULL) {
        *present = true;
    }
    return 0;
}

int api_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present)
{
    json_t *v = json_object_get(body, key);
    if (present != NULL) {
        *present = v != NULL;
    }
    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        return api_invalid(r, key, "must be a boolean");
    }
    *out = json_is_true(v);
    return 0;
}

int api_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                  size_t maxlen, json_t **out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL) {
        return required ? api_invalid(r, key, "is required") : 0;
    }
    if (!json_is_array(v)) {
        return api_invalid(r, key, "must be an array of strings");
    }
    if (json_array_size(v) > max) {
        return api_invalid(r, key, "has too many items");
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            return api_invalid(r, key, "must be an array of strings");
        }
        if (json_string_length(x) == 0 || json_string_length(x) > maxlen) {
            return api_invalid(r, key, "has an empty or too long item");
        }
    }
    *out = v;
    return 0;
}

json_t *api_body_optional(ad_req_t *r, bool *failed)
{
    size_t len = 0;
    const char *b = ad_req_body(r, &len);
    *failed = false;
    bool blank = true;
    for (size_t i = 0; i < len; i++) {
        if (b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t') {
            blank = false;
            break;
        }
    }
    if (blank) {
        return json_object();
    }
    json_t *j = ad_req_json(r);
    if (j == NULL) {
        *failed = true;
    }
    return j;
}

int api_query_bool(ad_req_t *r, const char *key, bool def, bool *out)
{
    const char *v = ad_req_query(r, key);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return 0;
    }
    return api_invalid(r, key, "must be true or false");
}

/* ---- writes ------------------------------------------------------------------ */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    api_done_fn done;
} write_ctx_t;

static void on_written(int rc, json_t *result, void *ud)
{
    write_ctx_t *w = ud;
    w->done(w->app, w->req, rc, result);
    json_decref(result);
    free(w);
}

void api_write(ad_app_t *app, ad_req_t *r, ad_store_op_fn op, json_t *args, api_done_fn done)
{
    write_ctx_t *w = ad_xmalloc(sizeof(*w));
    w->app = app;
    w->req = r;
    w->done = done;
    ad_store_write(app->store, op, args, on_written, w);
}

void api_fail(ad_req_t *r, int rc, const char *what, const char *id)
{
    switch (rc) {
    case AD_ENOENT:
        ad_res_error_code(r, rc, id != NULL ? json_pack("{s:s}", "id", id) : NULL, "%s not found",
                          what);
        break;
    case AD_EEXIST:
        ad_res_error_code(r, rc, NULL, "%s already exists", what);
        break;
    case AD_ECONSTRAINT:
        ad_res_error_code(r, rc, NULL, "%s violates a constraint", what);
        break;
    case AD_EFULL:
        ad_res_error_code(r, rc, NULL, "the disk is full: %s was not saved", what);
        break;
    case AD_EBUSY:
        ad_res_error_code(r, rc, NULL, "the database is busy; try again");
        break;
    default:
        ad_res_error_code(r, rc, NULL, "%s: %s", what, ad_strerror(rc));
        break;
    }
}

/* ---- events ------------------------------------------------------------------- */

/* The topics of api_publish's "prefix", id pairs (NULL-terminated). */
typedef struct {
    char buf[8][AD_ID_MAX + 16];
    const char *ptrs[8];
    size_t n;
} topics_t;

static void topics_collect(topics_t *t, va_list ap)
{
    t->n = 0;
    for (;;) {
        const char *prefix = va_arg(ap, const char *);
        if (prefix == NULL) {
            break;
        }
        const char *id = va_arg(ap, const char *);
        if (id == NULL || t->n == AD_ARRAY_LEN(t->buf)) {
            continue;
        }
        if (id[0] == '\0') {
            snprintf(t->buf[t->n], sizeof(t->buf[t->n]), "%s", prefix);
        } else {
            snprintf(t->buf[t->n], sizeof(t->buf[t->n]), "%s:%s", prefix, id);
        }
        t->ptrs[t->n] = t->buf[t->n];
        t->n++;
    }
}

void api_publish(ad_app_t *app, const char *type, json_t *payload, ...)
{
    topics_t t;
    va_list ap;
    va_start(ap, payload);
    topics_collect(&t, ap);
    va_end(ap);
    ad_bus_publish(app->bus, type, t.ptrs, t.n, payload);
}

void api_publish_text(ad_app_t *app, const char *type, const char *payload, size_t len, ...)
{
    topics_t t;
    va_list ap;
    va_start(ap, len);
    topics_collect(&t, ap);
    va_end(ap);
    ad_bus_publish_text(app->bus, type, t.ptrs, t.n, payload, len);
}
