/* SPDX-License-Identifier: MIT */
/*
 * Alert rules (issue #35): what a rule may say, checked field by field so
 * a refusal names the field, and the spec that is stored. A patch is the
 * stored rule with the patch's fields over it, checked whole again. A
 * rule scoped to a row must name one its maker sees, and takes its org.
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const fields[] = {
    "name",    "kind",  "series", "threshold", "steps",  "staleSeconds", "workspaceId",
    "agentId", "runId", "action", "signal",    "notify", "enabled",      "description",
};
static const char *const kinds[] = {"nan", "above", "below", "stale", "gpuThrottle"};
static const char *const actions[] = {"none", "stop", "pause", "signal"};
static const char *const signals[] = {"SIGUSR1", "SIGUSR2", "SIGINT", "SIGTERM", "SIGHUP"};

static bool one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

typedef struct {
    char *field;
    size_t fieldsz;
    char *why;
    size_t whysz;
} err_t;

static int bad(err_t *e, const char *field, const char *why)
{
    snprintf(e->field, e->fieldsz, "%s", field);
    snprintf(e->why, e->whysz, "%s", why);
    return AD_EINVAL;
}

/* A string field of 1..max bytes (absent allowed unless required). */
static int str_field(const json_t *r, const char *key, bool required, size_t max, err_t *e)
{
    json_t *v = json_object_get(r, key);
    if (v == NULL || json_is_null(v)) {
        return required ? bad(e, key, "is required") : 0;
    }
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n == 0 || n > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be a string of 1 to %zu bytes", max);
        return bad(e, key, why);
    }
    return 0;
}

static int check_scope(const json_t *r, err_t *e)
{
    static const char *const keys[] = {"workspaceId", "agentId", "runId"};
    int set = 0;
    for (size_t i = 0; i < 3; i++) {
        if (str_field(r, keys[i], false, AD_ID_MAX - 1, e) != 0) {
            return AD_EINVAL;
        }
        if (json_is_string(json_object_get(r, keys[i]))) {
            if (++set > 1) {
                return bad(e, keys[i], "a rule is for one workspace, agent or run, not two");
            }
        }
    }
    return 0;
}

static int check_kind(const json_t *r, const char *kind, err_t *e)
{
    bool series_kind =
        strcmp(kind, "nan") == 0 || strcmp(kind, "above") == 0 || strcmp(kind, "below") == 0;
    if (str_field(r, "series", series_kind, 200, e) != 0) {
        return AD_EINVAL;
    }
    json_t *thr = json_object_get(r, "threshold");
    bool bound = strcmp(kind, "above") == 0 || strcmp(kind, "below") == 0;
    if (bound && (!json_is_number(thr) || !isfinite(json_number_value(thr)))) {
        return bad(e, "threshold", "is required for above and below: a finite number");
    }
    if (!bound && thr != NULL && !json_is_null(thr)) {
        return bad(e, "threshold", "only above and below rules have one");
    }
    json_t *steps = json_object_get(r, "steps");
    if (steps != NULL && !json_is_null(steps) &&
        (!bound || !json_is_integer(steps) || json_integer_value(steps) < 1 ||
         json_integer_value(steps) > 1000000)) {
        return bad(e, "steps",
                   bound ? "must be a whole number from 1 to 1000000"
                         : "only above and below rules have one");
    }
    json_t *stale = json_object_get(r, "staleSeconds");
    bool is_stale = strcmp(kind, "stale") == 0;
    if (is_stale && (!json_is_integer(stale) || json_integer_value(stale) < 1 ||
                     json_integer_value(stale) > 7 * 86400)) {
        return bad(e, "staleSeconds", "is required for stale: a whole number from 1 to 604800");
    }
    if (!is_stale && stale != NULL && !json_is_null(stale)) {
        return bad(e, "staleSeconds", "only stale rules have one");
    }
    if (strcmp(kind, "gpuThrottle") == 0 && json_object_get(r, "series") != NULL &&
        !json_is_null(json_object_get(r, "series"))) {
        return bad(e, "series", "a gpuThrottle rule watches the GPUs, not a series");
    }
    return 0;
}

static int check_notify(const json_t *r, const char *allow, err_t *e)
{
    json_t *n = json_object_get(r, "notify");
    if (n == NULL || json_is_null(n)) {
        return 0;
    }
    if (!json_is_object(n)) {
        return bad(e, "notify", "must be an object {desktop?, webhook?}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v)
    {
        if (strcmp(k, "desktop") != 0 && strcmp(k, "webhook") != 0) {
            char f[96];
            snprintf(f, sizeof(f), "notify.%.64s", k);
            return bad(e, f, "is not a notify field (desktop, webhook)");
        }
    }
    json_t *d = json_object_get(n, "desktop");
    if (d != NULL && !json_is_boolean(d)) {
        return bad(e, "notify.desktop", "must be true or false");
    }
    json_t *w = json_object_get(n, "webhook");
    if (w == NULL || json_is_null(w)) {
        return 0;
    }
    if (!json_is_string(w) || json_string_length(w) > AD_TRAIN_WEBHOOK_MAX) {
        return bad(e, "notify.webhook", "must be an http or https URL of at most 2048 bytes");
    }
    char pin[512], why[256];
    if (ad_train_webhook_check(json_string_value(w), allow, false, pin, sizeof(pin), why,
                               sizeof(why)) != 0) {
        return bad(e, "notify.webhook", why);
    }
    return 0;
}

int ad_train_rule_check(const json_t *in, const json_t *old, const char *allow, json_t **out,
                        char *field, size_t fieldsz, char *why, size_t whysz)
{
    err_t e = {field, fieldsz, why, whysz};
    if (!json_is_object(in)) {
        return bad(&e, "body", "must be a JSON object");
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        if (!one_of(k, fields, AD_ARRAY_LEN(fields))) {
            return bad(&e, k, "is not a rule field");
        }
    }
    json_t *r = json_object();
    if (old != NULL) {
        json_object_foreach((json_t *)old, k, v)
        {
            if (one_of(k, fields, AD_ARRAY_LEN(fields))) {
                json_object_set_new(r, k, json_deep_copy(v));
            }
        }
    }
    json_object_foreach((json_t *)in, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(r, k); /* null: back to the default */
        } else {
            json_object_set_new(r, k, json_deep_copy(v));
        }
    }
    int rc = AD_EINVAL;
    const char *kind = json_string_value(json_object_get(r, "kind"));
    const char *action = json_string_value(json_object_get(r, "action"));
    const char *sig = json_string_value(json_object_get(r, "signal"));
    json_t *en = json_object_get(r, "enabled");
    if (str_field(r, "name", true, 200, &e) != 0 ||
        str_field(r, "description", false, 4096, &e) != 0) {
        goto out;
    }
    if (!one_of(kind, kinds, AD_ARRAY_LEN(kinds))) {
        bad(&e, "kind", "must be one of nan, above, below, stale, gpuThrottle");
        goto out;
    }
    if (check_kind(r, kind, &e) != 0 || check_scope(r, &e) != 0 ||
        check_notify(r, allow, &e) != 0) {
        goto out;
    }
    if (json_object_get(r, "action") != NULL && !one_of(action, actions, AD_ARRAY_LEN(actions))) {
        bad(&e, "action", "must be one of none, stop, pause, signal");
        goto out;
    }
    if (json_object_get(r, "signal") != NULL && (!one_of(sig, signals, AD_ARRAY_LEN(signals)) ||
                                                 action == NULL || strcmp(action, "signal") != 0)) {
        bad(&e, "signal",
            action != NULL && strcmp(action, "signal") == 0
                ? "must be one of SIGUSR1, SIGUSR2, SIGINT, SIGTERM, SIGHUP"
                : "only a rule whose action is signal has one");
        goto out;
    }
    if (en != NULL && !json_is_boolean(en)) {
        bad(&e, "enabled", "must be true or false");
        goto out;
    }
    /* the defaults, written out so a reader sees what the rule does */
    if (action == NULL) {
        json_object_set_new(r, "action", json_string("none"));
    } else if (strcmp(action, "signal") == 0 && sig == NULL) {
        json_object_set_new(r, "signal", json_string("SIGUSR1"));
    }
    if ((strcmp(kind, "above") == 0 || strcmp(kind, "below") == 0) &&
        json_object_get(r, "steps") == NULL) {
        json_object_set_new(r, "steps", json_integer(1));
    }
    if (en == NULL) {
        json_object_set_new(r, "enabled", json_true());
    }
    json_t *n = json_object_get(r, "notify");
    if (n == NULL) {
        n = json_object();
        json_object_set_new(r, "notify", n);
    }
    if (json_object_get(n, "desktop") == NULL) {
        json_object_set_new(n, "desktop", json_true());
    }
    rc = 0;
out:
    if (rc == 0) {
        *out = r;
    } else {
        json_decref(r);
    }
    return rc;
}

bool ad_train_rule_webhook(const json_t *spec)
{
    return json_is_string(json_object_get(json_object_get(spec, "notify"), "webhook"));
}

static const char *ad_train_rule_scope(const json_t *spec, const char **id)
{
    static const char *const keys[] = {"workspaceId", "agentId", "runId"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        *id = json_string_value(json_object_get(spec, keys[i]));
        if (*id != NULL) {
            return keys[i];
        }
    }
    return NULL;
}

int ad_train_rule_org(ad_store_t *st, const ad_principal_t *who, const json_t *spec,
                      char org[AD_ID_MAX], ad_field_err_t *e)
{
    const char *id = NULL, *key = ad_train_rule_scope(spec, &id);
    if (key == NULL) {
        return 1; /* no scope: the caller's org */
    }
    ad_store_row_t kind = strcmp(key, "workspaceId") == 0 ? AD_STORE_ROW_WORKSPACE
                          : strcmp(key, "agentId") == 0   ? AD_STORE_ROW_AGENT
                                                          : AD_STORE_ROW_RUN;
    if (ad_auth_row_org(st, who, kind, id, org) != 0) {
        return ad_field_fail(e, key, "no %s with that id", key);
    }
    return 0;
}

json_t *ad_train_rule_args(const char *id, const char *org, json_t *spec, int64_t now)
{
    char made[AD_ID_MAX];
    if (id == NULL) {
        ad_id_new("alr", made);
        id = made;
    }
    return json_pack("{s:s, s:s, s:o, s:I}", "id", id, "orgId", org, "spec", spec, "now",
                     (json_int_t)now);
}
