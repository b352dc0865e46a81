/* SPDX-License-Identifier: MIT */
/*
 * Routines (issue #75, docs/routines.md): a saved agent (executor, command
 * or prompt, mode, permissions, sandbox, node placement) in a worktree, or
 * in a fresh one per run from a base branch, with a trigger: every N
 * seconds, minutes, hours or days; a cron expression in a time zone; a
 * signed webhook (GitHub's X-Hub-Signature-256), optionally only some forge
 * events. Each fire is a routine run row; a run makes an agent and starts
 * it through the REST routes themselves, in-process as the routine
 * (ad_server_call: the same checks and audit as POST /api/agents and
 * .../start), and is watched to its end.
 *
 * The scheduler keeps one timer, set for the earliest next fire of any
 * routine (one indexed read), so idle routines cost nothing; a fire is
 * claimed with one conditional UPDATE of the routine's next_fire_at, so of
 * several control planes on one database exactly one runs it, and a fire
 * missed while no plane ran is handled by the routine's `missed` policy
 * (skip, once, all) when a plane comes back.
 *
 * Parts: tz.c (TZif files and POSIX TZ rules), cron.c (cron expressions,
 * the next fire in a zone), spec.c (what a routine's body may hold, its
 * next fire), hook.c (a webhook delivery's signature and events),
 * sched.c (the engine: timer, claims), start.c (a run started), watch.c
 * (runs followed to their end, queued ones started), routes.c (its REST
 * routes, registered by the engine's routes hook), plugin.c.
 *
 * Ownership: the engine is the app's (plugin.c); json_t given to it is
 * borrowed. Threads: loop thread only (the pure parts: any).
 */
#ifndef AD_ROUTINE_H
#define AD_ROUTINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- time zones (tz.c) ------------------------------------------------------------ */
#define AD_TZ_DIR "/usr/share/zoneinfo"
typedef struct ad_tz ad_tz_t;
/* Zone name ("Europe/Paris"; "UTC" needs no file) from dir (NULL:
 * AD_TZ_DIR): 0, AD_EINVAL (a name that is not one, a file that does not
 * read) or AD_ENOENT. */
int ad_tz_load(const char *dir, const char *name, ad_tz_t **out);
/* A zone from a TZif file's bytes (v1, v2+ with its footer rule). */
int ad_tz_parse(const uint8_t *data, size_t len, ad_tz_t **out);
/* A zone that is always offset seconds from UTC. */
ad_tz_t *ad_tz_fixed(int32_t offset);
void ad_tz_free(ad_tz_t *z);
/* Whether name may name a zone file: [A-Za-z0-9/_+-], no "..", 64 bytes. */
bool ad_tz_name_valid(const char *name);
/* The UTC offset (seconds) at UTC second t. */
int32_t ad_tz_offset(const ad_tz_t *z, int64_t t);
/* The first transition after t (INT64_MAX: none); the last at or before
 * t (INT64_MIN: none) with the offset before it. */
int64_t ad_tz_next_transition(const ad_tz_t *z, int64_t t);
int64_t ad_tz_prev_transition(const ad_tz_t *z, int64_t t, int32_t *before);
/* Civil dates: days since 1970-01-01 and back. */
int64_t ad_tz_days_from_civil(int64_t y, int m, int d);
void ad_tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* ---- cron expressions (cron.c) --------------------------------------------------- */
typedef struct {
    uint64_t minute; /* bit v: minute v */
    uint32_t hour, dom;
    uint16_t month; /* bits 1-12 */
    uint8_t dow;    /* bits 0-6, Sunday 0 */
    bool hour_star, dom_star, dow_star;
} ad_cron_t;
/* How far ahead a next fire is looked for. */
#define AD_CRON_HORIZON_S (5LL * 366 * 86400)
/* "min hour dom month dow": 0, or AD_EINVAL with why. */
int ad_cron_parse(const char *expr, ad_cron_t *c, char *why, size_t whysz);
/* Whether local time (seconds since the epoch, read as local) matches. */
bool ad_cron_match(const ad_cron_t *c, int64_t local);
/* The first fire after UTC second after in zone z (UTC seconds), or -1
 * when none comes within AD_CRON_HORIZON_S. */
int64_t ad_cron_next(const ad_cron_t *c, const ad_tz_t *z, int64_t after);

/* ---- a routine's body (spec.c) --------------------------------------------------- */
#define AD_ROUTINE_NAME_MAX 100
#define AD_ROUTINE_PROMPT_MAX (64 * 1024)
#define AD_ROUTINE_PAYLOAD_MAX (1024 * 1024)
#define AD_ROUTINE_MISSED_MAX 100 /* fires run at once for missed: all */
/* Checks a create body (or, with patch, the fields a PATCH gives merged
 * over the stored routine by the caller) and makes the spec kept:
 * {worktreeId | workspaceId + baseBranch, agent (without prompt and
 * worktreeId), prompt?, trigger, missed, limits}. tzdir NULL: AD_TZ_DIR.
 * 0 and *spec (new), or AD_EINVAL with e. */
int ad_routine_spec(const json_t *body, const char *tzdir, json_t **spec, ad_field_err_t *e);
/* A PATCH body merged over the routine cur (a row): body may name only
 * name, worktreeId, workspaceId, baseBranch, agent, prompt, trigger,
 * missed, limits, enabled, rotateSecret (null removes one; a new place
 * replaces the old whole); *out (new) is a body for ad_routine_spec. 0, or
 * AD_EINVAL with e. */
int ad_routine_patch_merge(const json_t *cur, const json_t *body, json_t **out, ad_field_err_t *e);
/* The trigger's kind: "every", "cron", "webhook" (also with events). */
const char *ad_routine_kind(const json_t *trigger);
/* An "every" trigger's period in ms ("10s", "15m", "1h", "2d"), 0 when
 * it does not read. */
int64_t ad_routine_every_ms(const char *s);
/* The first scheduled fire after after_ms (wall ms) of trigger (0: none,
 * a webhook's). tzdir as above. */
int64_t ad_routine_next_fire(const json_t *trigger, const char *tzdir, int64_t after_ms);

/* ---- webhook deliveries (hook.c) --------------------------------------------------- */
/* Whether body is signed with secret: X-Hub-Signature-256 "sha256=<hex>"
 * (GitHub, Gitea, Forgejo), or X-Gitlab-Token equal to the secret
 * (GitLab); compared in constant time. Either header may be NULL. */
bool ad_routine_hook_signed(const char *secret, const char *body, size_t len, const char *sig256,
                            const char *gitlab_token);
/* Whether a delivery of forge event (X-GitHub-Event, X-Gitea-Event or
 * X-Gitlab-Event; NULL: none) with body passes the trigger's events list
 * ("pull_request", "pull_request.opened", "issue_comment.created",
 * "check_run.failed", "issues.labeled"; no list: every delivery); why
 * says which it did not match. */
bool ad_routine_hook_wanted(const json_t *trigger, const char *event, const json_t *body, char *why,
                            size_t whysz);
/* What a delivery to POST /api/hooks/:id comes to. */
typedef enum {
    AD_HOOK_UNSIGNED, /* no such routine, or not signed with its secret: 401 */
    AD_HOOK_BAD_BODY, /* past AD_ROUTINE_PAYLOAD_MAX, not UTF-8, or a NUL byte */
    AD_HOOK_PAUSED,   /* the routine is not enabled */
    AD_HOOK_PING,     /* a forge's ping: answered, nothing started */
    AD_HOOK_IGNORED,  /* an event the routine does not list */
    AD_HOOK_FIRE,     /* a run */
} ad_routine_hook_t;
typedef struct {
    const json_t *routine; /* the row, or NULL when there is none */
    const char *secret;
    const char *body;
    size_t len;
    const char *sig256, *gitlab_token, *event, *delivery; /* headers, or NULL */
} ad_routine_hook_in_t;
/* The delivery judged; why gets the 401's message, else the audit's words
 * (and for AD_HOOK_IGNORED why it was). */
ad_routine_hook_t ad_routine_hook_check(const ad_routine_hook_in_t *in, char *why, size_t whysz);

/* ---- the engine (sched.c, start.c, watch.c) ------------------------------------------ */
typedef struct ad_routines ad_routines_t;
struct ad_app;
struct ad_req;
/* How src/api checks a routine's agent body (borrowed) in worktree wt (""
 * for a fresh one per run) of org, as POST /api/agents checks one, as r's
 * caller: false after answering 403 or 422. The engine's routes call it
 * (src/api sits above the engine, so it lends the check: no cycle). */
typedef bool (*ad_routine_agent_check_fn)(struct ad_app *app, struct ad_req *r, const json_t *agent,
                                          const char *wt, const char *org);
void ad_routines_set_agent_check(ad_routines_t *e, ad_routine_agent_check_fn fn);
/* A routine was made, changed or removed here: the next fire is read again
 * (and, once, the routine's row published, routine_update). NULL ok. */
void ad_routines_changed(ad_routines_t *e);
/* Fires routine (a row, borrowed) now, by source ("manual", "webhook",
 * "event"), with payload (the delivery's body, or NULL): its run row is
 * written under the limits, then started when it may. cb(0, the run (new,
 * cb's), ud) once written, or cb(rc, NULL, ud). */
typedef void (*ad_routine_run_cb)(int rc, json_t *run, void *ud);
void ad_routines_fire(ad_routines_t *e, const json_t *routine, const char *source,
                      const char *payload, ad_routine_run_cb cb, void *ud);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_routine_engine;

#endif
