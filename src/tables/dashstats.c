/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's figures (store.h, "dashboard figures"): a range's first
 * day, the run statistics of a range with the latest runs and the crews
 * at work, and this month's spend against the monthly limits projected to
 * the month's end. Made from stats.c's reads, the crews and the settings;
 * the routes and the seed's snake_case are src/api's (dashboard.c).
 *
 * Threads: loop thread (the read connection).
 */
#include "store/table.h"
#include "tables/crews.h"
#include "tables/settings.h"
#include "tables/stats.h"

#include <string.h>
#include <time.h>

#define DAY_MS INT64_C(86400000)

int ad_store_range_from(const char *range, int64_t now, int64_t *from_day)
{
    static const struct {
        const char *name;
        int64_t days;
    } ranges[] = {{"24h", 1}, {"7d", 7}, {"30d", 30}, {"90d", 90}, {"all", -1}};
    for (size_t i = 0; i < AD_ARRAY_LEN(ranges); i++) {
        if (strcmp(range, ranges[i].name) == 0) {
            *from_day = ranges[i].days < 0 ? 0 : now / DAY_MS - ranges[i].days + 1;
            return 0;
        }
    }
    return AD_EINVAL;
}

/* Crews of org with an agent alive (busy or available). */
static int64_t active_crews(ad_store_t *st, const char *org)
{
    json_t *crews = NULL;
    if (ad_store_crew_list(st, org, &crews) != 0) {
        return 0;
    }
    int64_t n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        const char *st_ = json_string_value(json_object_get(c, "status"));
        n += st_ != NULL && strcmp(st_, "offline") != 0;
    }
    json_decref(crews);
    return n;
}

int ad_store_dashboard_stats(ad_store_t *st, const char *org, const char *range, int64_t now,
                             json_t **out)
{
    int64_t from_day = 0;
    if (ad_store_range_from(range, now, &from_day) != 0) {
        return AD_EINVAL;
    }
    json_t *stats = NULL, *recent = NULL;
    int rc = ad_store_run_stats(st, org, from_day, &stats);
    ad_store_runs_query_t q = {.org = org, .limit = 5};
    if (rc == 0) {
        rc = ad_store_runs_query(st, &q, &recent);
    }
    if (rc != 0) {
        json_decref(stats);
        return rc;
    }
    json_object_set_new(stats, "range", json_string(range));
    json_object_set_new(stats, "activeCrews", json_integer(active_crews(st, org)));
    json_object_set(stats, "recentRuns", json_object_get(recent, "runs"));
    json_decref(recent);
    *out = stats;
    return 0;
}

/* A number setting, or 0 when unset. */
static double setting_num(json_t *settings, const char *key)
{
    json_t *v = json_object_get(settings, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

int ad_store_token_stats(ad_store_t *st, const char *org, int64_t now, json_t **out)
{
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int64_t day = now / DAY_MS, first = day - (tm.tm_mday - 1);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    int len = mdays[tm.tm_mon] + (tm.tm_mon == 1 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    json_t *s = NULL, *settings = NULL;
    int rc = ad_store_run_stats(st, org, first, &s);
    if (rc == 0) {
        rc = ad_store_settings_get(st, &settings);
    }
    if (rc != 0) {
        json_decref(s);
        return rc;
    }
    double elapsed = (double)(now - first * DAY_MS) / (double)((int64_t)len * DAY_MS);
    double tokens = (double)json_integer_value(json_object_get(s, "totalTokens"));
    double cost = json_number_value(json_object_get(s, "costUsd"));
    double tbudget = setting_num(settings, "monthly_token_limit");
    double cbudget = setting_num(settings, "monthly_cost_limit");
    *out = json_pack(
        "{s:s, s:I, s:o, s:f, s:o, s:f, s:f, s:o, s:f, s:o}", "period", "month", "spentTokens",
        (json_int_t)tokens, "budgetTokens", tbudget > 0 ? json_real(tbudget) : json_null(),
        "projectedTokens", elapsed > 0 ? tokens / elapsed : tokens, "remainingTokens",
        tbudget > 0 ? json_real(tbudget > tokens ? tbudget - tokens : 0) : json_null(), "spentUsd",
        cost, "projectedUsd", elapsed > 0 ? cost / elapsed : cost, "budgetUsd",
        cbudget > 0 ? json_real(cbudget) : json_null(), "elapsedFraction", elapsed, "remainingUsd",
        cbudget > 0 ? json_real(cbudget > cost ? cbudget - cost : 0) : json_null());
    json_decref(s);
    json_decref(settings);
    return 0;
}
