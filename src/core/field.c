/* SPDX-License-Identifier: MIT */
/*
 * The checks of one field of a JSON object (core.h, "fields"): type,
 * length, range, choices, with the reason in the words every route answers
 * a 422 with. The REST layer's ad_api_str and friends answer with these;
 * a subsystem that checks a whole spec uses them directly and hands back
 * the first bad field.
 */
#include "core.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ad_field_fail(ad_field_err_t *e, const char *field, const char *fmt, ...)
{
    snprintf(e->field, sizeof(e->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof(e->why), fmt, ap);
    va_end(ap);
    return AD_EINVAL;
}

bool ad_field_choice(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c != NULL ? (size_t)(c - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0) {
            return true;
        }
        if (c == NULL) {
            return false;
        }
        p = c + 1;
    }
}

int ad_field_str(const json_t *o, const char *key, bool required, size_t maxlen, const char **out,
                 ad_field_err_t *e)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return required ? ad_field_fail(e, key, "is required") : 0;
    }
    if (!json_is_string(v)) {
        return ad_field_fail(e, key, "must be a string");
    }
    if (json_string_length(v) > maxlen) {
        return ad_field_fail(e, key, "is too long");
    }
    *out = json_string_value(v);
    return 0;
}

int ad_field_enum(const json_t *o, const char *key, bool required, const char *choices,
                  const char **out, ad_field_err_t *e)
{
    const char *s = NULL;
    int rc = ad_field_str(o, key, required, 64, &s, e);
    if (rc != 0 || s == NULL) {
        return rc;
    }
    if (!ad_field_choice(choices, s)) {
        return ad_field_fail(e, key, "must be one of %s", choices);
    }
    *out = s;
    return 0;
}

int ad_field_int(const json_t *o, const char *key, bool required, int64_t min, int64_t max,
                 int64_t *out, bool *present, ad_field_err_t *e)
{
    json_t *v = json_object_get(o, key);
    if (present != NULL) {
        *present = false;
    }
    if (v == NULL) {
        return required ? ad_field_fail(e, key, "is required") : 0;
    }
    if (!json_is_integer(v)) {
        return ad_field_fail(e, key, "must be an integer");
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        return ad_field_fail(e, key, "is out of range");
    }
    *out = (int64_t)x;
    if (present != NULL) {
        *present = true;
    }
    return 0;
}

int ad_field_query_int(const char *s, const char *key, int64_t min, int64_t max, bool *has,
                       int64_t *out, ad_field_err_t *e)
{
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v < min || v > max) {
        return ad_field_fail(e, key, "must be a whole number from %lld to %lld", (long long)min,
                             (long long)max);
    }
    *out = v;
    *has = true;
    return 0;
}

int ad_field_bool(const json_t *o, const char *key, bool *out, bool *present, ad_field_err_t *e)
{
    json_t *v = json_object_get(o, key);
    if (present != NULL) {
        *present = v != NULL;
    }
    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        return ad_field_fail(e, key, "must be a boolean");
    }
    *out = json_is_true(v);
    return 0;
}

int ad_field_str_array(const json_t *o, const char *key, bool required, size_t max, size_t maxlen,
                       json_t **out, ad_field_err_t *e)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return required ? ad_field_fail(e, key, "is required") : 0;
    }
    if (!json_is_array(v)) {
        return ad_field_fail(e, key, "must be an array of strings");
    }
    if (json_array_size(v) > max) {
        return ad_field_fail(e, key, "has too many items");
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            return ad_field_fail(e, key, "must be an array of strings");
        }
        if (json_string_length(x) == 0 || json_string_length(x) > maxlen) {
            return ad_field_fail(e, key, "has an empty or too long item");
        }
    }
    *out = v;
    return 0;
}

int ad_field_query_bool(const char *s, const char *key, bool def, bool *out, ad_field_err_t *e)
{
    if (s == NULL || s[0] == '\0') {
        *out = def;
        return 0;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = false;
        return 0;
    }
    return ad_field_fail(e, key, "must be true or false");
}
