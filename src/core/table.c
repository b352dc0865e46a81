/* SPDX-License-Identifier: MIT */
/*
 * The table of a report download (core.h, "tables of a report"): rows of
 * text cells, filled from an object's figures or row by row, written as
 * CSV here or as a PDF page by pdf.c. Which figures a report holds is its
 * route's.
 */
#include "core.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ad_table_add(ad_table_t *t, const char *const *vals)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap != 0 ? t->cap * 2 : 16;
        t->cells = ad_xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
    }
    for (size_t c = 0; c < t->ncols; c++) {
        const char *v = vals[c] != NULL ? vals[c] : "";
        char *copy = ad_arena_strndup(t->arena, v, strlen(v));
        t->cells[t->nrows * t->ncols + c] = copy != NULL ? copy : "";
    }
    t->nrows++;
}

/* A scalar as text into buf; NULL for objects and arrays. */
static const char *scalar_text(const json_t *v, char *buf, size_t bufsz)
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, bufsz, "%.6g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, bufsz, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_null(v)) {
        snprintf(buf, bufsz, "%s", "");
    } else {
        return NULL;
    }
    return buf;
}

void ad_table_metrics(ad_table_t *t, const json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        char buf[64];
        const char *text = scalar_text(v, buf, sizeof(buf));
        if (text != NULL) {
            const char *row[2] = {k, text};
            ad_table_add(t, row);
        }
    }
}

static int csv_field(ad_buf_t *b, const char *v)
{
    bool formula = v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@';
    bool numeric = v[0] == '-' && v[1] >= '0' && v[1] <= '9';
    int rc = ad_buf_putc(b, '"');
    if (formula && !numeric) {
        rc = rc != 0 ? rc : ad_buf_putc(b, '\'');
    }
    for (const char *p = v; *p != '\0' && rc == 0; p++) {
        rc = *p == '"' ? ad_buf_append(b, "\"\"", 2) : ad_buf_putc(b, *p);
    }
    return rc != 0 ? rc : ad_buf_putc(b, '"');
}

int ad_table_csv(ad_buf_t *b, const char *const *head, const ad_table_t *t)
{
    int rc = 0;
    for (size_t r = 0; r <= t->nrows && rc == 0; r++) {
        const char *const *row = r == 0 ? head : t->cells + (r - 1) * t->ncols;
        for (size_t c = 0; c < t->ncols && rc == 0; c++) {
            rc = c > 0 ? ad_buf_putc(b, ',') : 0;
            rc = rc != 0 ? rc : csv_field(b, row[c]);
        }
        rc = rc != 0 ? rc : ad_buf_append(b, "\r\n", 2);
    }
    return rc;
}

void ad_table_free(ad_table_t *t)
{
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}
