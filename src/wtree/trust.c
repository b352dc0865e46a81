/* SPDX-License-Identifier: MIT */
/*
 * The trust root of the git work asked of a worktree (issue #73): the
 * repository comes from the workspace's row, the worktree's folder from
 * its own, and the pool job checks the worktree's .git and commondir
 * against them before anything is opened (src/git/trust.c). A refusal is
 * the request's answer (409, reason "untrusted_git") and a row of the
 * audit, whoever asked: someone changed what agentd wrote.
 */
#include "wtree/wtree_int.h"
#include "tables/accounts.h"
#include "tables/workspaces.h"

#include <stdio.h>
#include <string.h>

const char *ad_wtree_trust_repo(ad_wtree_ctx_t *c, const char *path, char *buf, size_t bufsz)
{
    const char *wt_path = ad_wtree_jstr(c->wt, "path");
    const char *ws_path = ad_wtree_jstr(c->ws, "path");
    if (c->wt == NULL && path == NULL && ws_path != NULL) {
        /* work on a registered workspace's repository (a refresh's list, a
         * new worktree): its main worktree is checked (path NULL: the job
         * checks repo_path, which the caller set to ws_path) */
        snprintf(buf, bufsz, "%s", ws_path);
        return buf;
    }
    if (c->wt == NULL || path == NULL || wt_path == NULL || strcmp(path, wt_path) != 0) {
        return NULL; /* not git work on this worktree (a workspace's, a new one's) */
    }
    const char *repo = NULL;
    json_t *ws = NULL;
    if (c->ws != NULL && ad_wtree_jstr(c->ws, "id") != NULL &&
        ad_wtree_jstr(c->wt, "workspaceId") != NULL &&
        strcmp(ad_wtree_jstr(c->ws, "id"), ad_wtree_jstr(c->wt, "workspaceId")) == 0) {
        repo = ad_wtree_jstr(c->ws, "path");
    } else if (!c->W->closed &&
               ad_store_workspace_get(c->W->store, ad_wtree_jstr(c->wt, "workspaceId"), &ws) == 0) {
        repo = ad_wtree_jstr(ws, "path");
    }
    /* no repository known: the check refuses (a path that is not one) */
    snprintf(buf, bufsz, "%s", repo != NULL ? repo : "-");
    json_decref(ws);
    return buf;
}

void ad_wtree_trust_audit(ad_wtree_t *W, const json_t *wt, const char *op, const char *why)
{
    if (W->closed || W->store == NULL) {
        return;
    }
    ad_store_audit_t row;
    memset(&row, 0, sizeof(row));
    row.ts = ad_wall_ms();
    snprintf(row.token_name, sizeof(row.token_name), "agentd");
    const char *org = ad_wtree_jstr(wt, "orgId");
    snprintf(row.org_id, sizeof(row.org_id), "%s", org != NULL ? org : "");
    snprintf(row.method, sizeof(row.method), "GIT");
    snprintf(row.route, sizeof(row.route), "/api/worktrees/:id (git %s)", op);
    const char *id = ad_wtree_jstr(wt, "id");
    snprintf(row.target_id, sizeof(row.target_id), "%s", id != NULL ? id : "");
    row.status = 409;
    snprintf(row.remote, sizeof(row.remote), "local");
    snprintf(row.detail, sizeof(row.detail), "git refused, the worktree was tampered with: %s",
             why);
    ad_log(AD_LOG_WARN, "wtree", "git refused worktree=%s op=%s why=\"%s\"", row.target_id, op,
           why);
    ad_store_audit_insert(W->store, &row);
}
