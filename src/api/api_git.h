/* SPDX-License-Identifier: MIT */
/*
 * api: the git-backed REST handlers of src/api/git.c, for the resource files
 * that own the routes (workspaces.c, worktrees.c) and for main wiring.
 * Threads: loop thread only.
 */
#ifndef AD_API_GIT_H
#define AD_API_GIT_H

#include "api/api.h"

/* Registers the git routes: POST /api/workspaces/:id/refresh,
 * GET|PUT /api/workspaces/:id/setup, POST /api/worktrees/:id/checkout,
 * GET /api/worktrees/:id/branches|status|diff|setup. When crud is set, also
 * POST /api/workspaces, POST /api/worktrees and DELETE /api/worktrees/:id
 * (for builds where no other file registers them). app is borrowed. */
void ad_api_git_register(ad_app_t *app, bool crud);

/* The handlers behind those three routes, for a resource file to call from
 * its own route (ud is the ad_app_t). */
void ad_api_git_workspace_create(ad_req_t *req, void *ud);
void ad_api_git_worktree_create(ad_req_t *req, void *ud);
void ad_api_git_worktree_delete(ad_req_t *req, void *ud);

#endif
