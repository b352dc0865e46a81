/* SPDX-License-Identifier: MIT */
/*
 * Usage accounting: each model request adds to its daily, weekly and
 * monthly rows of usage_stats (with a per-model breakdown), atomically, and
 * the reads behind /api/usage. totalTokens = input + output tokens; cache
 * tokens are counted apart.
 */
#include "bus/bus.h"
#include "store/table.h"
#include "tables/usage.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const periods[] = {"daily", "weekly", "monthly"};

int ad_usage_period_key(int64_t ms, const char *period, char out[16])
{
    int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    if (strcmp(period, "weekly") == 0) {
        /* 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays. */
        int64_t wd = ((days + 3) % 7 + 7) % 7;
        days -= wd;
    } else if (strcmp(period, "daily") != 0 && strcmp(period, "monthly") != 0) {
        return AD_EINVAL;
    }
    time_t t = (time_t)(days * 86400);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        return AD_EINVAL;
    }
    if (strcmp(period, "monthly") == 0) {
        tm.tm_mday = 1;
    }
    if (tm.tm_year < -1900 || tm.tm_year > 8099) {
        return AD_EINVAL;
    }
    snprintf(out, 16, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
    return 0;
}

/* model_usage[model] += rec. */
static void add_model(json_t *mu, const ad_usage_rec_t *rec, const char *model)
{
    json_t *m = json_object_get(mu, model);
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(mu, model, m);
    }
    struct {
        const char *k;
        int64_t v;
    } ints[] = {
        {"inputTokens", rec->input_tokens},
        {"outputTokens", rec->output_tokens},
        {"cacheReadTokens", rec->cache_read_tokens},
        {"cacheWriteTokens", rec->cache_write_tokens},
        {"requestCount", 1},
        {"errorCount", rec->error ? 1 : 0},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(ints); i++) {
        json_t *v = json_object_get(m, ints[i].k);
        int64_t cur = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        json_object_set_new(m, ints[i].k, json_integer(cur + ints[i].v));
    }
    json_t *c = json_object_get(m, "costUsd");
    double cur = json_is_number(c) ? json_number_value(c) : 0;
    json_object_set_new(m, "costUsd", json_real(cur + rec->cost_usd));
}

ad_usage_rec_t ad_usage_rec_of_args(json_t *args, int64_t now)
{
    return (ad_usage_rec_t){.model = ad_args_str(args, "model"),
                            .input_tokens = ad_args_int(args, "inputTokens", 0),
                            .output_tokens = ad_args_int(args, "outputTokens", 0),
                            .cache_read_tokens = ad_args_int(args, "cacheReadTokens", 0),
                            .cache_write_tokens = ad_args_int(args, "cacheWriteTokens", 0),
                            .cost_usd = json_number_value(json_object_get(args, "costUsd")),
                            .at_ms = now};
}

int ad_store_usage_apply(ad_store_tx_t *tx, const ad_usage_rec_t *rec)
{
    ad_db_t *db = tx->db;
    int64_t at = rec->at_ms > 0 ? rec->at_ms : ad_wall_ms();
    const char *model = rec->model != NULL && rec->model[0] != '\0' ? rec->model : "unknown";
    for (size_t p = 0; p < AD_ARRAY_LEN(periods); p++) {
        char date[16];
        if (ad_usage_period_key(at, periods[p], date) != 0) {
            return AD_EINVAL;
        }
        ad_db_stmt_t *s = ad_store_stmt(db, "SELECT model_usage FROM usage_stats WHERE date = ?1 "
                                            "AND period = ?2");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_db_bind_text(s, 1, date, -1, AD_DB_TRANSIENT);
        ad_db_bind_text(s, 2, periods[p], -1, AD_DB_STATIC);
        int rc = ad_db_step(s);
        json_t *mu = NULL;
        if (rc == AD_DB_ROW) {
            mu = json_loads((const char *)ad_db_column_text(s, 0), 0, NULL);
        }
        ad_db_reset(s);
        if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
            return ad_store_rc(db, rc);
        }
        if (!json_is_object(mu)) {
            json_decref(mu);
            mu = json_object();
        }
        add_model(mu, rec, model);
        s = ad_store_stmt(
            db,
            "INSERT INTO usage_stats (date, period, input_tokens, output_tokens, "
            "cache_read_tokens, cache_write_tokens, total_tokens, cost_usd, request_count, "
            "error_count, model_usage, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?11, ?7, "
            "1, ?8, ?9, ?10) ON CONFLICT(date, period) DO UPDATE SET "
            "input_tokens = usage_stats.input_tokens + excluded.input_tokens, "
            "output_tokens = usage_stats.output_tokens + excluded.output_tokens, "
            "cache_read_tokens = usage_stats.cache_read_tokens + excluded.cache_read_tokens, "
            "cache_write_tokens = usage_stats.cache_write_tokens + excluded.cache_write_tokens, "
            "total_tokens = usage_stats.total_tokens + excluded.total_tokens, "
            "cost_usd = usage_stats.cost_usd + excluded.cost_usd, request_count = "
            "usage_stats.request_count + 1, "
            "error_count = usage_stats.error_count + excluded.error_count, "
            "model_usage = excluded.model_usage, updated_at = excluded.updated_at");
        if (s == NULL) {
            json_decref(mu);
            return AD_EINTERNAL;
        }
        ad_db_bind_text(s, 1, date, -1, AD_DB_TRANSIENT);
        ad_db_bind_text(s, 2, periods[p], -1, AD_DB_STATIC);
        ad_db_bind_int64(s, 3, rec->input_tokens);
        ad_db_bind_int64(s, 4, rec->output_tokens);
        ad_db_bind_int64(s, 5, rec->cache_read_tokens);
        ad_db_bind_int64(s, 6, rec->cache_write_tokens);
        ad_db_bind_double(s, 7, rec->cost_usd);
        ad_db_bind_int(s, 8, rec->error ? 1 : 0);
        ad_store_bind_json(s, 9, mu);
        ad_db_bind_int64(s, 10, ad_wall_ms());
        /* the sum here: PostgreSQL cannot type `?3 + ?4` */
        ad_db_bind_int64(s, 11, rec->input_tokens + rec->output_tokens);
        json_decref(mu);
        rc = ad_db_step(s);
        ad_db_reset(s);
        if (rc != AD_DB_DONE) {
            return ad_store_rc(db, rc);
        }
    }
    return 0;
}

typedef struct {
    ad_usage_rec_t rec;
    char *model;
    ad_store_done_cb done;
    void *ctx;
} usage_job_t;

static int usage_job(ad_store_tx_t *tx, void *ctx)
{
    usage_job_t *u = ctx;
    return ad_store_usage_apply(tx, &u->rec);
}

static void usage_done(int rc, void *ctx)
{
    usage_job_t *u = ctx;
    if (u->done != NULL) {
        u->done(rc, u->ctx);
    }
    free(u->model);
    free(u);
}

void ad_store_usage_record(ad_store_t *st, const ad_usage_rec_t *rec, ad_store_done_cb done,
                           void *ctx)
{
    usage_job_t *u = ad_xcalloc(1, sizeof(*u));
    u->rec = *rec;
    u->model = rec->model != NULL ? ad_xstrdup(rec->model) : NULL;
    u->rec.model = u->model;
    if (u->rec.at_ms <= 0) {
        u->rec.at_ms = ad_wall_ms();
    }
    u->done = done;
    u->ctx = ctx;
    ad_store_submit(st, usage_job, usage_done, u);
}

#define USAGE_COLS                                                                                 \
    "date, period, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "           \
    "total_tokens, cost_usd, request_count, error_count, model_usage"

int ad_store_usage_rows(ad_store_t *st, const char *period, const char *from, const char *to,
                        json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " USAGE_COLS " FROM usage_stats WHERE "
                                        "period = ?1 AND date >= COALESCE(?2, '') AND date <= "
                                        "COALESCE(?3, '9999') ORDER BY date LIMIT 1000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, period, -1, AD_DB_TRANSIENT);
    ad_store_bind_text(s, 2, from);
    ad_store_bind_text(s, 3, to);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_t *row = ad_store_row_json(s, "model_usage", NULL);
        /* cost_usd is REAL but SQLite may hand back 0 as an integer. */
        json_object_set_new(row, "costUsd", json_real(ad_db_column_double(s, 7)));
        json_array_append_new(arr, row);
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    *out = arr;
    return 0;
}

int ad_store_usage_row(ad_store_t *st, const char *period, const char *date, json_t **out)
{
    json_t *rows = NULL;
    int e = ad_store_usage_rows(st, period, date, date, &rows);
    if (e != 0) {
        return e;
    }
    if (json_array_size(rows) > 0) {
        *out = json_incref(json_array_get(rows, 0));
    } else {
        *out = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:{}}", "date", date,
                         "period", period, "inputTokens", 0, "outputTokens", 0, "cacheReadTokens",
                         0, "cacheWriteTokens", 0, "totalTokens", 0, "costUsd", 0.0, "requestCount",
                         0, "errorCount", 0, "modelUsage");
    }
    json_decref(rows);
    return 0;
}

typedef struct {
    ad_store_t *st;
    struct ad_bus *bus;
    ad_store_result_cb cb;
    void *ud;
} posted_t;

static void posted(int rc, void *ctx)
{
    posted_t *p = ctx;
    json_t *row = NULL;
    if (rc == 0 && ad_store_usage_today(p->st, (int64_t)ad_wall_ms(), &row) == 0) {
        ad_bus_publish_to(p->bus, "usage_update", row, "usage", "", NULL);
    }
    p->cb(rc, row, p->ud);
    free(p);
}

void ad_store_usage_post(ad_store_t *st, struct ad_bus *bus, const ad_usage_rec_t *rec,
                         ad_store_result_cb cb, void *ud)
{
    posted_t *p = ad_xcalloc(1, sizeof(*p));
    *p = (posted_t){.st = st, .bus = bus, .cb = cb, .ud = ud};
    ad_store_usage_record(st, rec, posted, p);
}
