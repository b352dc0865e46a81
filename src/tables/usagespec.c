/* SPDX-License-Identifier: MIT */
/*
 * What /api/usage's requests may hold (issue #30; moved from
 * src/api/usage.c): a period and a date range, a number of days, one
 * request's usage reported by a client, and the words of a reached limit.
 * Pure: any thread.
 */
#include "store/table.h"
#include "tables/usage.h"

#include <stdio.h>
#include <string.h>

int ad_usage_range_check(const char **period, const char **from, const char **to, ad_field_err_t *e)
{
    if (*period == NULL || (*period)[0] == '\0') {
        *period = "daily";
    }
    if (!ad_field_choice("daily,weekly,monthly", *period)) {
        return ad_field_fail(e, "period", "must be one of daily,weekly,monthly");
    }
    if (from == NULL) {
        return 0;
    }
    *from = *from != NULL && (*from)[0] == '\0' ? NULL : *from;
    *to = *to != NULL && (*to)[0] == '\0' ? NULL : *to;
    if (*from != NULL && !ad_usage_date_ok(*from)) {
        return ad_field_fail(e, "from", "must be a date YYYY-MM-DD");
    }
    if (*to != NULL && !ad_usage_date_ok(*to)) {
        return ad_field_fail(e, "to", "must be a date YYYY-MM-DD");
    }
    if (*from != NULL && *to != NULL && strcmp(*from, *to) > 0) {
        return ad_field_fail(e, "from", "must not be after to");
    }
    return 0;
}

int ad_usage_days_check(const char *s, int *days, ad_field_err_t *e)
{
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    size_t n = strlen(s);
    long v = 0;
    if (n > 3 || strspn(s, "0123456789") != n) {
        return ad_field_fail(e, "days", "must be a whole number from 1 to 366");
    }
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 366) {
        return ad_field_fail(e, "days", "must be a whole number from 1 to 366");
    }
    *days = (int)v;
    return 0;
}

int ad_usage_rec_check(const json_t *body, ad_usage_rec_t *rec, ad_field_err_t *e)
{
    const int64_t max = INT64_C(1) << 40;
    memset(rec, 0, sizeof(*rec));
    if (ad_field_str(body, "model", false, 200, &rec->model, e) != 0 ||
        ad_field_int(body, "inputTokens", true, 0, max, &rec->input_tokens, NULL, e) != 0 ||
        ad_field_int(body, "outputTokens", true, 0, max, &rec->output_tokens, NULL, e) != 0 ||
        ad_field_int(body, "cacheReadTokens", false, 0, max, &rec->cache_read_tokens, NULL, e) !=
            0 ||
        ad_field_int(body, "cacheWriteTokens", false, 0, max, &rec->cache_write_tokens, NULL, e) !=
            0 ||
        ad_field_bool(body, "error", &rec->error, NULL, e) != 0) {
        return AD_EINVAL;
    }
    json_t *c = json_object_get(body, "costUsd");
    if (c != NULL) {
        if (!json_is_number(c) || json_number_value(c) < 0 || json_number_value(c) > 1e9) {
            return ad_field_fail(e, "costUsd", "must be a number from 0");
        }
        rec->cost_usd = json_number_value(c);
    }
    return 0;
}

const char *ad_usage_reached(const json_t *limits, bool figures, char *msg, size_t msgsz,
                             json_t **details)
{
    static const char *const periods[2] = {"daily", "monthly"};
    for (int i = 0; i < 2; i++) {
        json_t *l = json_object_get(limits, periods[i]);
        if (!json_is_true(json_object_get(l, "exceeded"))) {
            continue;
        }
        if (!figures) { /* usage is the default organisation's: others learn no figures */
            *details = json_pack("{s:s}", "period", periods[i]);
            snprintf(msg, msgsz,
                     "the %s usage limit the owner set is reached; send force: true to go past it",
                     periods[i]);
            return periods[i];
        }
        json_int_t tl = json_integer_value(json_object_get(l, "tokenLimit"));
        json_int_t tu = json_integer_value(json_object_get(l, "tokensUsed"));
        *details = json_pack("{s:s, s:O}", "period", periods[i], "usage", l);
        if (tl > 0 && tu >= tl) {
            snprintf(msg, msgsz,
                     "the %s token limit is reached (%lld of %lld tokens); send force: true to go "
                     "past it",
                     periods[i], (long long)tu, (long long)tl);
        } else {
            snprintf(msg, msgsz,
                     "the %s cost limit is reached ($%.2f of $%.2f); send force: true to go past "
                     "it",
                     periods[i], json_number_value(json_object_get(l, "costUsedUsd")),
                     json_number_value(json_object_get(l, "costLimitUsd")));
        }
        return periods[i];
    }
    return NULL;
}
