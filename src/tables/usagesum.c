/* SPDX-License-Identifier: MIT */
/*
 * Usage figures made from the usage rows (usage.c): the totals of a list of
 * rows, the daily history with a row for every day (zeros included), and
 * the daily and monthly limits from the settings with what is left. Reads
 * on the loop; what a request asks is checked by src/api/usage.c.
 */
#include "store/table.h"
#include "tables/settings.h"
#include "tables/usage.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL

/* YYYY-MM-DD naming a real day. */
bool ad_usage_date_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
    int64_t ms;
    if (ad_time_parse(buf, &ms) != 0) {
        return false;
    }
    char back[16];
    return ad_usage_period_key(ms, "daily", back) == 0 && strcmp(back, s) == 0;
}

static const char *const sum_keys[] = {"inputTokens",      "outputTokens", "cacheReadTokens",
                                       "cacheWriteTokens", "totalTokens",  "requestCount",
                                       "errorCount"};

/* The sums of rows' integer keys, and of their costUsd. */
static json_t *totals_of(json_t *rows, const char *const *keys, size_t nkeys)
{
    json_t *t = json_object();
    for (size_t k = 0; k < nkeys; k++) {
        json_int_t sum = 0;
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            sum += json_integer_value(json_object_get(row, keys[k]));
        }
        json_object_set_new(t, keys[k], json_integer(sum));
    }
    double cost = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        cost += json_number_value(json_object_get(row, "costUsd"));
    }
    json_object_set_new(t, "costUsd", json_real(cost));
    return t;
}

json_t *ad_store_usage_totals(json_t *rows)
{
    return totals_of(rows, sum_keys, AD_ARRAY_LEN(sum_keys));
}

int ad_store_usage_history(ad_store_t *st, int days, int64_t now, json_t **result)
{
    char from[16], to[16];
    ad_usage_period_key(now - (int64_t)(days - 1) * DAY_MS, "daily", from);
    ad_usage_period_key(now, "daily", to);
    json_t *rows = NULL;
    int rc = ad_store_usage_rows(st, "daily", from, to, &rows);
    if (rc != 0) {
        return rc;
    }
    /* One entry per day, oldest first; days without use are zeros. */
    json_t *hist = json_array();
    size_t next = 0;
    for (int d = days - 1; d >= 0; d--) {
        char key[16];
        ad_usage_period_key(now - (int64_t)d * DAY_MS, "daily", key);
        json_t *row = json_array_get(rows, next);
        if (row != NULL && strcmp(json_string_value(json_object_get(row, "date")), key) == 0) {
            json_array_append(hist, row);
            next++;
        } else {
            json_t *zero = NULL;
            if (ad_store_usage_row(st, "daily", key, &zero) == 0) {
                json_array_append_new(hist, zero);
            }
        }
    }
    *result = json_pack("{s:i, s:s, s:s, s:o, s:o}", "days", days, "from", from, "to", to, "totals",
                        totals_of(hist, sum_keys, AD_ARRAY_LEN(sum_keys)), "history", hist);
    json_decref(rows);
    return 0;
}

/* {tokenLimit, tokensUsed, tokensRemaining, costLimitUsd, costUsedUsd,
 * costRemainingUsd, exceeded}; a limit of 0 means none (remaining null). */
static json_t *limit_of(json_t *row, double token_limit, double cost_limit)
{
    json_int_t used = json_integer_value(json_object_get(row, "totalTokens"));
    double cost = json_number_value(json_object_get(row, "costUsd"));
    json_t *o = json_object();
    json_object_set_new(o, "period", json_incref(json_object_get(row, "period")));
    json_object_set_new(o, "date", json_incref(json_object_get(row, "date")));
    json_object_set_new(o, "tokenLimit", json_integer((json_int_t)token_limit));
    json_object_set_new(o, "tokensUsed", json_integer(used));
    json_object_set_new(
        o, "tokensRemaining",
        token_limit > 0
            ? json_integer(used >= (json_int_t)token_limit ? 0 : (json_int_t)token_limit - used)
            : json_null());
    json_object_set_new(o, "costLimitUsd", json_real(cost_limit));
    json_object_set_new(o, "costUsedUsd", json_real(cost));
    json_object_set_new(o, "costRemainingUsd",
                        cost_limit > 0 ? json_real(cost >= cost_limit ? 0 : cost_limit - cost)
                                       : json_null());
    bool exceeded =
        (token_limit > 0 && (double)used >= token_limit) || (cost_limit > 0 && cost >= cost_limit);
    json_object_set_new(o, "exceeded", json_boolean(exceeded));
    return o;
}

int ad_store_usage_limits(ad_store_t *st, int64_t now, json_t **out)
{
    json_t *s = NULL, *day = NULL, *month = NULL;
    char dkey[16], mkey[16];
    ad_usage_period_key(now, "daily", dkey);
    ad_usage_period_key(now, "monthly", mkey);
    int rc = ad_store_settings_get(st, &s);
    if (rc == 0) {
        rc = ad_store_usage_row(st, "daily", dkey, &day);
    }
    if (rc == 0) {
        rc = ad_store_usage_row(st, "monthly", mkey, &month);
    }
    if (rc == 0) {
        *out =
            json_pack("{s:o, s:o}", "daily",
                      limit_of(day, json_number_value(json_object_get(s, "daily_token_limit")),
                               json_number_value(json_object_get(s, "daily_cost_limit"))),
                      "monthly",
                      limit_of(month, json_number_value(json_object_get(s, "monthly_token_limit")),
                               json_number_value(json_object_get(s, "monthly_cost_limit"))));
    }
    json_decref(s);
    json_decref(day);
    json_decref(month);
    return rc;
}

int ad_store_usage_agents(ad_store_t *st, const char *period, int64_t now, const char *org,
                          json_t **out)
{
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_USAGE_TEXT_MAX);
    return ad_store_text_tree(ad_store_usage_agents_text(st, period, now, org, &b), &b, out);
}

const char *ad_store_usage_reached(ad_store_t *st, int64_t now)
{
    json_t *all = NULL;
    if (ad_store_usage_limits(st, now, &all) != 0) {
        return NULL;
    }
    const char *reached = NULL;
    if (json_is_true(json_object_get(json_object_get(all, "daily"), "exceeded"))) {
        reached = "daily";
    } else if (json_is_true(json_object_get(json_object_get(all, "monthly"), "exceeded"))) {
        reached = "monthly";
    }
    json_decref(all);
    return reached;
}

int ad_store_usage_today(ad_store_t *st, int64_t now, json_t **out)
{
    char key[16];
    ad_usage_period_key(now, "daily", key);
    return ad_store_usage_row(st, "daily", key, out);
}

int ad_store_usage_period(ad_store_t *st, const char *period, const char *from, const char *to,
                          json_t **out)
{
    json_t *rows = NULL;
    int rc = ad_store_usage_rows(st, period, from, to, &rows);
    if (rc != 0) {
        return rc;
    }
    *out = json_pack("{s:s, s:s?, s:s?, s:o, s:o}", "period", period, "from", from, "to", to,
                     "totals", ad_store_usage_totals(rows), "rows", rows);
    return 0;
}
