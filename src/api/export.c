/* SPDX-License-Identifier: MIT */
/*
 * Stats export (issue #40, the crews seed's "Export functionality
 * (CSV/PDF)"): GET /api/dashboard/export?report=stats|tokens|rentals
 * &format=csv|pdf[&range=…] answers the figures of the matching dashboard
 * route as a download: a CSV file, or a one-page PDF table (src/core/pdf.c).
 * stats and tokens are metric/value rows, rentals one row per agent. The
 * caller's organisation only, as the JSON routes.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>

#define EXPORT_MAX (4u << 20)

typedef struct {
    const char **cells; /* row-major, ncols a row; strings in the arena */
    size_t ncols, nrows, cap;
    ad_arena_t *arena;
} table_t;

static void add_row(table_t *t, const char *const *vals)
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
static const char *scalar_text(json_t *v, char *buf, size_t bufsz)
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

/* The object's scalar members as metric/value rows, in key order. */
static void metric_rows(table_t *t, json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        char buf[64];
        const char *text = scalar_text(v, buf, sizeof(buf));
        if (text != NULL) {
            const char *row[2] = {k, text};
            add_row(t, row);
        }
    }
}

static void agent_rows(table_t *t, json_t *out)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "agents"), i, a)
    {
        char runs[24], secs[32];
        snprintf(runs, sizeof(runs), "%lld",
                 (long long)json_integer_value(json_object_get(a, "runs")));
        snprintf(secs, sizeof(secs), "%.3f", json_number_value(json_object_get(a, "agentSeconds")));
        const char *row[5] = {ad_api_jstr(a, "agentId"), ad_api_jstr(a, "name"),
                              ad_api_jstr(a, "node"), runs, secs};
        add_row(t, row);
    }
    char runs[24], secs[32];
    snprintf(runs, sizeof(runs), "%lld",
             (long long)json_integer_value(json_object_get(out, "runs")));
    snprintf(secs, sizeof(secs), "%.3f", json_number_value(json_object_get(out, "agentSeconds")));
    const char *total[5] = {"total", "(with running runs)", "", runs, secs};
    add_row(t, total);
}

/* A CSV field (RFC 4180): quoted when it must be; a leading = + - @ gets
 * a quote mark so a spreadsheet never runs a cell as a formula. */
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

static int csv(ad_buf_t *b, const char *const *head, const table_t *t)
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

/* The report's figures as a table; NULL after answering an error. */
static json_t *report(ad_app_t *app, ad_req_t *r, const char *name, table_t *t)
{
    json_t *out = strcmp(name, "stats") == 0    ? ad_api_dashboard_stats(app, r)
                  : strcmp(name, "tokens") == 0 ? ad_api_token_stats(app, r)
                                                : ad_api_rentals_json(app, r);
    if (out == NULL) {
        return NULL;
    }
    t->ncols = strcmp(name, "rentals") == 0 ? 5 : 2;
    if (t->ncols == 5) {
        agent_rows(t, out);
    } else {
        metric_rows(t, out);
    }
    return out;
}

static void export_get(ad_req_t *r, void *ud)
{
    const char *name = ad_req_query(r, "report");
    const char *format = ad_req_query(r, "format");
    if (name == NULL || !ad_api_choice("stats,tokens,rentals", name)) {
        ad_api_invalid(r, "report", "must be one of stats,tokens,rentals");
        return;
    }
    format = format != NULL && format[0] != '\0' ? format : "csv";
    if (!ad_api_choice("csv,pdf", format)) {
        ad_api_invalid(r, "format", "must be csv or pdf");
        return;
    }
    table_t t = {.arena = ad_req_arena(r)};
    json_t *out = report(ud, r, name, &t);
    if (out == NULL) {
        free(t.cells);
        return;
    }
    static const char *const metric_head[] = {"metric", "value"};
    static const char *const agent_head[] = {"agent_id", "name", "node", "runs", "agent_seconds"};
    const char *const *head = t.ncols == 5 ? agent_head : metric_head;
    ad_buf_t b;
    ad_buf_init(&b, EXPORT_MAX);
    char title[96], day[AD_TIME_MAX], file[128];
    ad_time_format(ad_wall_ms(), day);
    day[10] = '\0';
    snprintf(title, sizeof(title), "agentd %s report, %s (UTC)", name, day);
    bool pdf = strcmp(format, "pdf") == 0;
    int rc = pdf ? ad_pdf_table(&b, title, head, t.ncols, t.cells, t.nrows) : csv(&b, head, &t);
    snprintf(file, sizeof(file), "attachment; filename=\"agentd-%s-%s.%s\"", name, day, format);
    if (rc != 0) {
        ad_api_fail(r, rc, "export", NULL);
    } else {
        ad_res_header(r, "Content-Disposition", file);
        ad_res_header(r, "Cache-Control", "no-store");
        ad_res_send(r, 200, pdf ? "application/pdf" : "text/csv; charset=utf-8", b.data, b.len);
    }
    ad_buf_cleanup(&b);
    free(t.cells);
    json_decref(out);
}

void ad_api_export_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/dashboard/export", AD_ACCESS_READ, export_get, app);
}
