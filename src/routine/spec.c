/* SPDX-License-Identifier: MIT */
/*
 * What a routine's body may hold (POST /api/routines, and a PATCH merged
 * over the stored routine), and when its trigger fires next. Pure but for
 * the zone file a cron trigger names. Any thread.
 */
#include "routine/routine.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_MAX (64 * 1024)
#define EVENTS_MAX 32

int64_t ad_routine_every_ms(const char *s)
{
    if (s == NULL || !isdigit((unsigned char)s[0])) {
        return 0;
    }
    char *end;
    long long n = strtoll(s, &end, 10);
    int64_t unit = strcmp(end, "s") == 0   ? 1000
                   : strcmp(end, "m") == 0 ? 60000
                   : strcmp(end, "h") == 0 ? 3600000
                   : strcmp(end, "d") == 0 ? 86400000
                                           : 0;
    if (unit == 0 || n < 1 || n > 366LL * 86400000 / unit) {
        return 0;
    }
    return n * unit;
}

const char *ad_routine_kind(const json_t *t)
{
    return json_object_get(t, "every") != NULL  ? "every"
           : json_object_get(t, "cron") != NULL ? "cron"
                                                : "webhook";
}

static bool event_name_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != ' ') {
            return false;
        }
    }
    return n > 0 && n <= 64;
}

static int check_trigger(const json_t *t, const char *tzdir, json_t **out, ad_field_err_t *e)
{
    if (!json_is_object(t)) {
        return ad_field_fail(e, "trigger",
                             "must be {every}, {cron, tz?} or {webhook: true, "
                             "events?}");
    }
    const char *key;
    json_t *v;
    int kinds = 0;
    json_object_foreach((json_t *)t, key, v)
    {
        if (strcmp(key, "every") != 0 && strcmp(key, "cron") != 0 && strcmp(key, "tz") != 0 &&
            strcmp(key, "webhook") != 0 && strcmp(key, "events") != 0) {
            return ad_field_fail(e, "trigger", "has an unknown member %.40s", key);
        }
        kinds +=
            strcmp(key, "every") == 0 || strcmp(key, "cron") == 0 || strcmp(key, "webhook") == 0;
    }
    if (kinds != 1) {
        return ad_field_fail(e, "trigger", "must be one of {every}, {cron, tz?}, {webhook: true}");
    }
    const char *kind = ad_routine_kind(t);
    if (strcmp(kind, "every") == 0) {
        if (ad_routine_every_ms(json_string_value(json_object_get(t, "every"))) == 0) {
            return ad_field_fail(e, "trigger.every",
                                 "must be a whole number and a unit: 10s, 15m, 1h, 2d");
        }
        *out = json_pack("{s:O}", "every", json_object_get(t, "every"));
        return 0;
    }
    if (strcmp(kind, "cron") == 0) {
        ad_cron_t c;
        char why[160];
        const char *tz = json_string_value(json_object_get(t, "tz"));
        if (json_object_get(t, "tz") != NULL && tz == NULL) {
            return ad_field_fail(e, "trigger.tz", "must be a zone name such as Europe/Paris");
        }
        if (ad_cron_parse(json_string_value(json_object_get(t, "cron")), &c, why, sizeof(why)) !=
            0) {
            return ad_field_fail(e, "trigger.cron", "%s", why);
        }
        ad_tz_t *z = NULL;
        if (ad_tz_load(tzdir, tz != NULL ? tz : "UTC", &z) != 0) {
            return ad_field_fail(e, "trigger.tz", "is not a time zone this machine knows");
        }
        ad_tz_free(z);
        *out = json_pack("{s:O, s:s}", "cron", json_object_get(t, "cron"), "tz",
                         tz != NULL ? tz : "UTC");
        return 0;
    }
    if (!json_is_true(json_object_get(t, "webhook")) || json_object_get(t, "tz") != NULL) {
        return ad_field_fail(e, "trigger.webhook", "must be true");
    }
    json_t *ev = json_object_get(t, "events");
    if (ev != NULL) {
        size_t i;
        json_t *x;
        if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > EVENTS_MAX) {
            return ad_field_fail(e, "trigger.events", "must be 1 to %d event names", EVENTS_MAX);
        }
        json_array_foreach(ev, i, x)
        {
            if (!json_is_string(x) || !event_name_ok(json_string_value(x))) {
                return ad_field_fail(e, "trigger.events",
                                     "names events as pull_request.opened, check_run.failed, "
                                     "issues.labeled");
            }
        }
    }
    *out = ev != NULL ? json_pack("{s:b, s:O}", "webhook", 1, "events", ev)
                      : json_pack("{s:b}", "webhook", 1);
    return 0;
}

static int check_limits(const json_t *l, json_t **out, ad_field_err_t *e)
{
    if (l != NULL && !json_is_object(l)) {
        return ad_field_fail(e, "limits", "must be an object");
    }
    int64_t per_day = 0, conc = 1;
    bool has_day = false;
    if (ad_field_int(l, "runsPerDay", false, 1, 100000, &per_day, &has_day, e) != 0 ||
        ad_field_int(l, "concurrent", false, 1, 100, &conc, NULL, e) != 0) {
        char f[sizeof(e->field)];
        snprintf(f, sizeof(f), "%s", e->field);
        snprintf(e->field, sizeof(e->field), "limits.%.80s", f);
        return AD_EINVAL;
    }
    *out = json_pack("{s:I}", "concurrent", (json_int_t)conc);
    if (has_day) {
        json_object_set_new(*out, "runsPerDay", json_integer(per_day));
    }
    static const char *const usd[] = {"costPerRunUsd", "costPerDayUsd"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(l, usd[i]);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v))) {
            json_decref(*out);
            return ad_field_fail(e, i == 0 ? "limits.costPerRunUsd" : "limits.costPerDayUsd",
                                 "must be a number of USD above 0");
        }
        json_object_set_new(*out, usd[i], json_real(json_number_value(v)));
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)l, key, v)
    {
        if (json_object_get(*out, key) == NULL && !json_is_null(v)) {
            json_decref(*out);
            return ad_field_fail(e, "limits", "has an unknown member %.40s", key);
        }
    }
    return 0;
}

/* The worktree: an existing one, or a fresh one per run from a branch. */
static int check_where(const json_t *b, json_t *spec, ad_field_err_t *e)
{
    const char *wt = NULL, *ws = NULL, *base = NULL;
    if (ad_field_str(b, "worktreeId", false, AD_ID_MAX - 1, &wt, e) != 0 ||
        ad_field_str(b, "workspaceId", false, AD_ID_MAX - 1, &ws, e) != 0 ||
        ad_field_str(b, "baseBranch", false, 200, &base, e) != 0) {
        return AD_EINVAL;
    }
    if ((wt != NULL) == (ws != NULL || base != NULL)) {
        return ad_field_fail(e, "worktreeId",
                             "name a worktree, or a workspaceId and a "
                             "baseBranch for a fresh worktree per run");
    }
    if (wt != NULL) {
        json_object_set_new(spec, "worktreeId", json_string(wt));
    } else if (ws == NULL || base == NULL || base[0] == '\0' || base[0] == '-') {
        return ad_field_fail(e, ws == NULL ? "workspaceId" : "baseBranch", "is required");
    } else {
        json_object_set_new(spec, "workspaceId", json_string(ws));
        json_object_set_new(spec, "baseBranch", json_string(base));
    }
    return 0;
}

static int check_agent(const json_t *b, json_t *spec, ad_field_err_t *e)
{
    json_t *agent = json_object_get(b, "agent");
    if (agent != NULL && !json_is_object(agent)) {
        return ad_field_fail(e, "agent",
                             "must be an agent's body (executor, command, mode, "
                             "permissions, sandbox, node ...)");
    }
    json_t *a = agent != NULL ? json_deep_copy(agent) : json_object();
    const char *prompt = NULL;
    if (ad_field_str(a, "prompt", false, AD_ROUTINE_PROMPT_MAX, &prompt, e) != 0 ||
        ad_field_str(b, "prompt", false, AD_ROUTINE_PROMPT_MAX, &prompt, e) != 0) {
        json_decref(a);
        return AD_EINVAL;
    }
    if (prompt != NULL) {
        json_object_set_new(spec, "prompt", json_string(prompt));
    }
    json_object_del(a, "prompt");
    json_t *sb = json_object_get(a, "sandbox");
    if (json_is_string(sb) && strcmp(json_string_value(sb), "none") == 0) {
        json_decref(a);
        return ad_field_fail(e, "agent.sandbox",
                             "cannot be none: a routine's runs act as the "
                             "routine, not as the owner");
    }
    if (json_object_get(a, "worktreeId") != NULL || json_object_get(a, "name") != NULL) {
        json_decref(a);
        return ad_field_fail(e, "agent",
                             "names neither its worktree nor its name (the "
                             "routine's)");
    }
    char *text = json_dumps(a, JSON_COMPACT);
    size_t n = text != NULL ? strlen(text) : 0;
    free(text);
    if (n > AGENT_MAX) {
        json_decref(a);
        return ad_field_fail(e, "agent", "is too long");
    }
    json_object_set_new(spec, "agent", a);
    return 0;
}

int ad_routine_spec(const json_t *b, const char *tzdir, json_t **out, ad_field_err_t *e)
{
    const char *name = NULL, *missed = "once";
    if (!json_is_object(b)) {
        return ad_field_fail(e, "body", "must be an object");
    }
    if (ad_field_str(b, "name", true, AD_ROUTINE_NAME_MAX, &name, e) != 0 ||
        ad_field_enum(b, "missed", false, "skip,once,all", &missed, e) != 0) {
        return AD_EINVAL;
    }
    if (strspn(name, " \t") == strlen(name)) {
        return ad_field_fail(e, "name", "must not be blank");
    }
    json_t *spec = json_object(), *trigger = NULL, *limits = NULL;
    if (check_where(b, spec, e) != 0 || check_agent(b, spec, e) != 0 ||
        check_trigger(json_object_get(b, "trigger"), tzdir, &trigger, e) != 0 ||
        check_limits(json_object_get(b, "limits"), &limits, e) != 0) {
        json_decref(spec);
        json_decref(trigger);
        return AD_EINVAL;
    }
    json_object_set_new(spec, "trigger", trigger);
    json_object_set_new(spec, "limits", limits);
    json_object_set_new(spec, "missed", json_string(missed));
    *out = spec;
    return 0;
}

int64_t ad_routine_next_fire(const json_t *t, const char *tzdir, int64_t after_ms)
{
    const char *kind = ad_routine_kind(t);
    if (strcmp(kind, "every") == 0) {
        int64_t p = ad_routine_every_ms(json_string_value(json_object_get(t, "every")));
        return p > 0 ? after_ms + p : 0;
    }
    if (strcmp(kind, "cron") != 0) {
        return 0;
    }
    ad_cron_t c;
    char why[160];
    ad_tz_t *z = NULL;
    if (ad_cron_parse(json_string_value(json_object_get(t, "cron")), &c, why, sizeof(why)) != 0 ||
        ad_tz_load(tzdir, json_string_value(json_object_get(t, "tz")), &z) != 0) {
        return 0;
    }
    int64_t s = ad_cron_next(&c, z, after_ms / 1000 - (after_ms % 1000 < 0));
    ad_tz_free(z);
    return s > 0 ? s * 1000 : 0;
}

/* What a PATCH may name. */
static const char *const patchable[] = {"name",   "worktreeId", "workspaceId", "baseBranch",
                                        "agent",  "prompt",     "trigger",     "missed",
                                        "limits", "enabled",    "rotateSecret"};

int ad_routine_patch_merge(const json_t *cur, const json_t *body, json_t **out, ad_field_err_t *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < AD_ARRAY_LEN(patchable) && !ok; i++) {
            ok = strcmp(key, patchable[i]) == 0;
        }
        if (!ok) {
            return ad_field_fail(e, key, "cannot be changed");
        }
    }
    json_t *m = json_object();
    static const char *const keep[] = {"name",       "agent",      "trigger",
                                       "limits",     "worktreeId", "workspaceId",
                                       "baseBranch", "prompt",     "missed"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keep); i++) {
        if (json_object_get(cur, keep[i]) != NULL) {
            json_object_set(m, keep[i], json_object_get(cur, keep[i]));
        }
    }
    if (json_object_get(body, "worktreeId") != NULL ||
        json_object_get(body, "workspaceId") != NULL) {
        json_object_del(m, "worktreeId"); /* a new place replaces the old whole */
        json_object_del(m, "workspaceId");
        json_object_del(m, "baseBranch");
    }
    json_object_foreach((json_t *)body, key, v)
    {
        if (json_is_null(v)) {
            json_object_del(m, key);
        } else if (strcmp(key, "enabled") != 0 && strcmp(key, "rotateSecret") != 0) {
            json_object_set(m, key, v);
        }
    }
    *out = m;
    return 0;
}
