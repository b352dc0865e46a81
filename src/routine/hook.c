/* SPDX-License-Identifier: MIT */
/*
 * A webhook delivery (POST /api/hooks/:routineId): its signature, as
 * GitHub signs (X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body
 * under the secret>; Gitea and Forgejo send the same), or GitLab's shared
 * X-Gitlab-Token; both compared in constant time. And which forge events
 * a routine wants. Pure. Any thread.
 */
#include "routine/routine.h"

#include <stdio.h>
#include <string.h>

/* a == b over n bytes, in time independent of where they differ. */
static bool same(const unsigned char *a, const unsigned char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= a[i] ^ b[i];
    }
    return d == 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

bool ad_routine_hook_signed(const char *secret, const char *body, size_t len, const char *sig256,
                            const char *gitlab_token)
{
    size_t slen = secret != NULL ? strlen(secret) : 0;
    if (slen == 0) {
        return false;
    }
    if (sig256 != NULL) {
        if (strncmp(sig256, "sha256=", 7) != 0 || strlen(sig256 + 7) != 64) {
            return false;
        }
        unsigned char want[32], got[32];
        ad_hmac_sha256((const uint8_t *)secret, slen, body != NULL ? body : "", len, want);
        for (size_t i = 0; i < 32; i++) {
            int hi = hexval(sig256[7 + 2 * i]), lo = hexval(sig256[8 + 2 * i]);
            if (hi < 0 || lo < 0) {
                return false;
            }
            got[i] = (unsigned char)(hi << 4 | lo);
        }
        return same(want, got, 32);
    }
    if (gitlab_token != NULL && strlen(gitlab_token) == slen) {
        return same((const unsigned char *)secret, (const unsigned char *)gitlab_token, slen);
    }
    return false;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The delivery's name for event: "<event>" and "<event>.<action>", with
 * check_run.failed for a completed check run that failed; GitLab's "Merge
 * Request Hook" and "Note Hook" read as pull_request and issue_comment. */
static void names(const char *event, const json_t *body, char *base, size_t bsz, char *full,
                  size_t fsz)
{
    const char *ev = event;
    if (strcmp(event, "Merge Request Hook") == 0) {
        ev = "pull_request";
    } else if (strcmp(event, "Note Hook") == 0) {
        ev = "issue_comment";
    } else if (strcmp(event, "Issue Hook") == 0) {
        ev = "issues";
    }
    snprintf(base, bsz, "%s", ev);
    const char *action = str(body, "action");
    if (action == NULL) {
        action = str(json_object_get(body, "object_attributes"), "action");
    }
    json_t *run = json_object_get(body, "check_run");
    const char *conclusion = str(run, "conclusion");
    if (strcmp(ev, "check_run") == 0 && action != NULL && strcmp(action, "completed") == 0 &&
        conclusion != NULL &&
        (strcmp(conclusion, "failure") == 0 || strcmp(conclusion, "timed_out") == 0)) {
        action = "failed";
    }
    if (action != NULL && strcmp(action, "open") == 0) {
        action = "opened"; /* GitLab's word */
    }
    snprintf(full, fsz, "%s.%s", ev, action != NULL ? action : "");
}

bool ad_routine_hook_wanted(const json_t *trigger, const char *event, const json_t *body, char *why,
                            size_t whysz)
{
    json_t *events = json_object_get(trigger, "events");
    if (events == NULL) {
        return true;
    }
    if (event == NULL) {
        snprintf(why, whysz, "the delivery names no event (X-GitHub-Event)");
        return false;
    }
    char base[80], full[160];
    names(event, body, base, sizeof(base), full, sizeof(full));
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        const char *want = json_string_value(e);
        if (strcmp(want, base) == 0 || strcmp(want, full) == 0) {
            return true;
        }
    }
    snprintf(why, whysz, "%.150s is not among the routine's events", full);
    return false;
}

ad_routine_hook_t ad_routine_hook_check(const ad_routine_hook_in_t *in, char *why, size_t whysz)
{
    const char *id = json_string_value(json_object_get(in->routine, "id"));
    if (in->routine == NULL ||
        !ad_routine_hook_signed(in->secret, in->body, in->len, in->sig256, in->gitlab_token)) {
        snprintf(why, whysz,
                 "the delivery is not signed with the routine's secret "
                 "(X-Hub-Signature-256)");
        return AD_HOOK_UNSIGNED;
    }
    json_t *text = json_stringn(in->body != NULL ? in->body : "", in->len); /* UTF-8 */
    bool bad = in->len > AD_ROUTINE_PAYLOAD_MAX || text == NULL ||
               (in->body != NULL && memchr(in->body, 0, in->len) != NULL);
    json_decref(text);
    snprintf(why, whysz, "routine %s: a webhook delivery%s%.60s%s%.60s", id,
             in->event != NULL ? " of " : "", in->event != NULL ? in->event : "",
             in->delivery != NULL ? " " : "", in->delivery != NULL ? in->delivery : "");
    if (bad) {
        return AD_HOOK_BAD_BODY;
    }
    if (!json_is_true(json_object_get(in->routine, "enabled"))) {
        return AD_HOOK_PAUSED;
    }
    if (in->event != NULL && strcmp(in->event, "ping") == 0) {
        return AD_HOOK_PING;
    }
    json_t *payload = in->len > 0 ? json_loadb(in->body, in->len, 0, NULL) : NULL;
    bool wanted = ad_routine_hook_wanted(json_object_get(in->routine, "trigger"), in->event,
                                         payload, why, whysz);
    json_decref(payload);
    return wanted ? AD_HOOK_FIRE : AD_HOOK_IGNORED;
}
