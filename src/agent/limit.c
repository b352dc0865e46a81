/* SPDX-License-Identifier: MIT */
/*
 * Rate and usage limits in what the CLIs print (issue #75): whether a
 * record says the agent hit a limit, and when it may go on.
 *
 * What the CLIs print was read from running them against the mocks
 * (tests/fixtures, tests/e2e/limits.test.js):
 *  - Claude Code on a subscription: a rate_limit_event whose
 *    rate_limit_info.status is "rejected" with resetsAt (Unix seconds),
 *    then a result with is_error, api_error_status 429 and the text
 *    "You've hit your 5-hour limit · resets 8:59am (UTC)"; older CLIs
 *    said "Claude AI usage limit reached|<Unix seconds>". Not retried.
 *  - Claude Code on an API key: a 429 is retried (system/api_retry with
 *    error_status 429 and retry_delay_ms, the API's retry-after), then the
 *    result "API Error: Request rejected (429) · <the API's message>",
 *    api_error_status 429, without the reset.
 *  - Codex: "rate limit exceeded: … Please try again in 0.2s." (its turn's
 *    error); a plan's limit says "usage limit" and "try again in …".
 *  - Gemini: "[API Error: You exceeded your current quota … Please wait and
 *    try again later", no time.
 * A time that cannot be read leaves *reset_ms 0: the caller waits its
 * default.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include "agent/agent_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Words that say a limit was hit, in an error's text (case ignored). */
static const char *const limit_words[] = {
    "usage limit",
    "hit your limit",
    "-hour limit",
    "weekly limit",
    "rate limit",
    "rate_limit",
    "quota exceeded",
    "exceeded your current quota",
    "resource_exhausted",
    "too many requests",
    "request rejected (429)",
};

bool ad_limit_text(const char *text)
{
    if (text == NULL) {
        return false;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(limit_words); i++) {
        if (strcasestr(text, limit_words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* "try again in 0.2s", "in 5 minutes", "in 1h": now + that, or 0. */
static int64_t after_in(const char *text, int64_t now_ms)
{
    const char *p = strcasestr(text, "try again in ");
    if (p == NULL) {
        return 0;
    }
    p += strlen("try again in ");
    char *end = NULL;
    double n = strtod(p, &end);
    if (end == p || n < 0 || n > 1e7) {
        return 0;
    }
    while (*end == ' ') {
        end++;
    }
    double unit = 1000; /* seconds */
    if (strncasecmp(end, "ms", 2) == 0) {
        unit = 1;
    } else if (tolower((unsigned char)*end) == 'm') {
        unit = 60000;
    } else if (tolower((unsigned char)*end) == 'h') {
        unit = 3600000;
    }
    return now_ms + (int64_t)(n * unit + 0.5);
}

/* "usage limit reached|1700000000": that second, or 0. */
static int64_t after_bar(const char *text)
{
    const char *p = strchr(text, '|');
    if (p == NULL || !isdigit((unsigned char)p[1])) {
        return 0;
    }
    long long s = strtoll(p + 1, NULL, 10);
    return s > 1000000000LL && s < 100000000000LL ? (int64_t)s * 1000 : 0;
}

/* "resets 8:59am (UTC)", "resets 3pm": the next such time after now, in
 * UTC when it says so, else in the daemon's local time (the CLI's, on the
 * same machine); 0 when there is none. */
static int64_t after_resets(const char *text, int64_t now_ms)
{
    const char *p = strcasestr(text, "resets ");
    if (p == NULL) {
        return 0;
    }
    p += strlen("resets ");
    char *end = NULL;
    long h = strtol(p, &end, 10), m = 0;
    if (end == p || h < 0 || h > 23) {
        return 0;
    }
    if (*end == ':') {
        const char *mp = end + 1;
        m = strtol(mp, &end, 10);
        if (end == mp || m < 0 || m > 59) {
            return 0;
        }
    }
    if (strncasecmp(end, "pm", 2) == 0 && h < 12) {
        h += 12;
    } else if (strncasecmp(end, "am", 2) == 0 && h == 12) {
        h = 0;
    }
    bool utc = strcasestr(end, "(UTC)") != NULL;
    time_t now = (time_t)(now_ms / 1000);
    struct tm tm;
    if (utc) {
        gmtime_r(&now, &tm);
    } else {
        localtime_r(&now, &tm);
    }
    tm.tm_hour = (int)h;
    tm.tm_min = (int)m;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t at = utc ? timegm(&tm) : mktime(&tm);
    if (at == (time_t)-1) {
        return 0;
    }
    if ((int64_t)at * 1000 <= now_ms - 60000) { /* earlier today: tomorrow's */
        at += 86400;
    }
    return (int64_t)at * 1000;
}

int64_t ad_limit_reset(const char *text, int64_t now_ms)
{
    if (text == NULL) {
        return 0;
    }
    int64_t at = after_bar(text);
    at = at != 0 ? at : after_in(text, now_ms);
    return at != 0 ? at : after_resets(text, now_ms);
}

ad_limit_t ad_limit_of(const ad_rec_t *rec, int64_t now_ms, int64_t *reset_ms)
{
    *reset_ms = 0;
    if (rec->type == AD_REC_NOTICE && rec->subtype != NULL && rec->json != NULL) {
        if (strcmp(rec->subtype, "rate_limit") == 0) { /* Claude's rate_limit_event */
            json_t *info = json_object_get(rec->json, "rate_limit_info");
            const char *st = json_string_value(json_object_get(info, "status"));
            json_t *at = json_object_get(info, "resetsAt");
            if (st == NULL || strcmp(st, "rejected") != 0) {
                return AD_LIMIT_NONE;
            }
            *reset_ms = json_is_number(at) ? (int64_t)(json_number_value(at) * 1000) : 0;
            return AD_LIMIT_HINT;
        }
        if (strcmp(rec->subtype, "api_retry") == 0 &&
            json_integer_value(json_object_get(rec->json, "error_status")) == 429) {
            json_int_t d = json_integer_value(json_object_get(rec->json, "retry_delay_ms"));
            *reset_ms = d > 0 ? now_ms + (int64_t)d : 0;
            return AD_LIMIT_HINT;
        }
        return AD_LIMIT_NONE;
    }
    if (rec->type != AD_REC_RESULT || !rec->is_error) {
        return AD_LIMIT_NONE;
    }
    if (rec->api_error_status != 429 && !ad_limit_text(rec->text)) {
        return AD_LIMIT_NONE;
    }
    *reset_ms = ad_limit_reset(rec->text, now_ms);
    return AD_LIMIT_HIT;
}
