/* SPDX-License-Identifier: MIT */
/*
 * forge: pull requests on the forge a worktree's git remote points at
 * (GitHub, GitLab, Gitea/Forgejo), through their REST APIs.
 *
 * Where the token goes: only to an API base from the built-in table
 * (github.com -> https://api.github.com, gitlab.com ->
 * https://gitlab.com/api/v4) or from the admin's setting forge_hosts
 * {"<remote URL prefix>": {"kind", "apiBase"}}. The remote URL (which
 * whoever can write the repository's config chooses) only picks among
 * those and names the owner and repository, each checked to be a plain
 * path segment; requests never follow a redirect (src/llm fetch.c). No
 * answer, log line or error carries the token: it is copied into the job,
 * wiped when the job ends, and any forge message that quotes it is
 * scrubbed.
 *
 * Ownership: a job copies everything it is given; the result passed to the
 * callback is borrowed for the call.
 * Dependencies: core, llm (libcurl).
 * Threads: ad_forge_resolve and the validators anywhere; ad_forge_queue on
 * the loop thread, the requests on the pool, the callback on the loop.
 */
#ifndef AD_FORGE_H
#define AD_FORGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/core.h"

typedef enum { AD_FORGE_GITHUB, AD_FORGE_GITLAB, AD_FORGE_GITEA } ad_forge_kind_t;

typedef struct {
    ad_forge_kind_t kind;
    char api_base[512]; /* no trailing '/' */
    char owner[256];    /* gitlab: the groups, '/'-separated */
    char repo[128];
} ad_forge_target_t;

/* "github", "gitlab", "gitea": also the credential provider of its token. */
const char *ad_forge_kind_name(ad_forge_kind_t k);

/* Checks the setting forge_hosts: an object of at most 64 entries, each
 * key a remote URL prefix ending in '/' or ':' (no user info), each value
 * {"kind": github|gitlab|gitea, "apiBase": an http(s) URL}. 0, or
 * AD_EINVAL with a static reason in *why. */
int ad_forge_hosts_validate(json_t *hosts, const char **why);

/* The forge of remote_url: the longest forge_hosts prefix it starts with
 * (user info ignored), else a built-in host. 0, or AD_ENOENT (no forge
 * known for it) / AD_EINVAL (owner or repository not plain names) with a
 * reason in why. hosts may be NULL. */
int ad_forge_resolve(const char *remote_url, json_t *hosts, ad_forge_target_t *out, char *why,
                     size_t whysz);

/* The target a stored PR row names ({forge, apiBase, owner, repo}). */
void ad_forge_target_of(json_t *row, ad_forge_target_t *out);

typedef enum { AD_FORGE_OP_CREATE, AD_FORGE_OP_STATUS, AD_FORGE_OP_FEEDBACK } ad_forge_op_t;

typedef struct {
    ad_forge_op_t op;
    ad_forge_target_t target;
    const char *token; /* copied */
    /* create */
    const char *title, *body, *head, *base;
    bool draft;
    /* status, feedback */
    long number;
    const char *since; /* feedback */
} ad_forge_req_t;

/* The outcome on the loop: rc 0 and pr {forge, number, url, state
 * (open|closed|merged), draft, title, head, base, headSha, existing
 * (create found one open already)}, with status also checks {state
 * (success|failure|pending|none), items [{name, state, url}]}. Else rc
 * AD_EIO (unreachable), AD_EPERM (the forge refused the token), AD_ENOENT
 * (no such pull request or repository), AD_ESTATE (refused, e.g. no
 * commits between the branches), AD_EINTERNAL (answer not understood),
 * with a message (the forge's, scrubbed) and the forge's HTTP status. */
typedef void (*ad_forge_cb)(int rc, json_t *pr, const char *msg, int http_status, void *ud);

/* Runs r on the pool. 0 (cb will be called once), or AD_EIO (libcurl
 * missing) with a reason in err and no callback. */
int ad_forge_queue(uv_loop_t *loop, const ad_forge_req_t *r, ad_forge_cb cb, void *ud, char *err,
                   size_t errsz);

/* ---- feedback (feedback.c; issue #75) -------------------------------------------------
 * What a pull request asks of its author now: its state, its checks with
 * the forge's own ids and, for a failed one, why (a GitHub Actions job's
 * log, trimmed to its last AD_FORGE_LOG_LINES lines and AD_FORGE_LOG_MAX
 * bytes with a note that it was; else the check's own summary), and the
 * review and conversation comments made since a time. GitHub in full;
 * Gitea: statuses and conversation comments; GitLab: pipeline statuses and
 * the merge request's notes (system notes left out). A log is read only
 * for a failure whose id is not in known, at most AD_FORGE_LOGS_MAX a
 * call. A log's redirect (GitHub answers 302 to a pre-signed URL) is
 * followed once, without the token; the token is scrubbed from any text. */
#define AD_FORGE_LOG_LINES 150
#define AD_FORGE_LOG_MAX (12 * 1024)
#define AD_FORGE_LOGS_MAX 3

/* The tail of a log (log[0..n)): its last AD_FORGE_LOG_LINES lines within
 * AD_FORGE_LOG_MAX bytes, cut at a line, as valid UTF-8 with secret (may
 * be "") masked, after a first line "[log trimmed: ...]" when that is not
 * all of it. A new JSON string. Any thread. */
json_t *ad_forge_log_tail(const char *log, size_t n, const char *secret);

typedef struct {
    ad_forge_target_t target;
    const char *token; /* copied */
    long number;
    const char *since; /* RFC 3339: comments updated from then on; copied, may be NULL */
    json_t *known;     /* forge ids ("run:1", ...) answered already; copied, may be NULL */
} ad_forge_feedback_req_t;

/* rc 0 and out {pr (as ad_forge_cb's), checks {state, items [{forgeId
 * ("run:<id>" or "status:<id>"), name, state, url?, detail?, log?}]},
 * comments [{forgeId ("review:<id>", "comment:<id>" or "note:<id>"), kind
 * (review|comment), author, body, path?, line?, url?, createdAt?}]}; else
 * as ad_forge_cb, also when one of the lists could not be read (a read
 * in part is no read: checks half read could look passed). retry_after_s
 * > 0: the forge's rate limit asks to wait that long before the next
 * call. */
typedef void (*ad_forge_feedback_cb)(int rc, json_t *out, const char *msg, int http_status,
                                     long retry_after_s, void *ud);
int ad_forge_feedback(uv_loop_t *loop, const ad_forge_feedback_req_t *r, ad_forge_feedback_cb cb,
                      void *ud, char *err, size_t errsz);

#endif
