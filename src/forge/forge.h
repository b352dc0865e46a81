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

typedef enum { AD_FORGE_OP_CREATE, AD_FORGE_OP_STATUS } ad_forge_op_t;

typedef struct {
    ad_forge_op_t op;
    ad_forge_target_t target;
    const char *token; /* copied */
    /* create */
    const char *title, *body, *head, *base;
    bool draft;
    /* status */
    long number;
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

#endif
