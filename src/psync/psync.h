/* SPDX-License-Identifier: MIT */
/*
 * psync: a workbench project kept in sync with a folder (issue #40, seed
 * 002). While a project has a sync folder (a row of the store's), every
 * change of its files is written into the folder (ad_psync_push), and
 * every tick the folder is read for files changed on its side, which
 * become the project's (the pull). A file edited in the folder wins over
 * the project's version until it is read (a push leaves it alone). What
 * both sides last agreed on is kept per file in memory (the base, see
 * src/llm/sync.c); after a restart, the time of the last read stands in
 * for it. The file work is src/llm/sync.c's, on the pool, one job at a
 * time. Which folder may be set, and who may set it, is checked by the
 * caller with ad_psync_path_check.
 *
 * Ownership: the engine is the app's (ad_psync_new / ad_psync_close).
 * Threads: loop thread only (the file work runs on the pool).
 */
#ifndef AD_PSYNC_H
#define AD_PSYNC_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"

typedef struct ad_psync ad_psync_t;

/* A new engine on st and bus (borrowed, must outlive it). every_ms: how
 * often the folders are read (0: never; pushes still happen). */
ad_psync_t *ad_psync_new(uv_loop_t *loop, ad_store_t *st, ad_bus_t *bus, uint64_t every_ms);
/* project (a row, borrowed) changed: publishes project_update {id, change,
 * project} to the project's and its organisation's topics, then pushes
 * its files to its sync folder, if it has one (ad_psync_push). The
 * project routes call it after each change; the engine after saving what
 * a folder changed (change "files"). ps may be NULL: nothing happens. */
void ad_psync_changed(ad_psync_t *ps, const json_t *project, const char *change);
/* Writes project id's files into its sync folder, if it has one (queued;
 * a push already queued does for both). ps may be NULL. */
void ad_psync_push(ad_psync_t *ps, const char *id);
/* Forgets what was agreed with project id's folder (its folder was set or
 * cleared: the old base does not hold). ps may be NULL. */
void ad_psync_forget(ad_psync_t *ps, const char *id);
/* Stops the timer; a job under way finishes on its own and saves nothing.
 * The memory goes when both are done. */
void ad_psync_close(ad_psync_t *ps);

/* Whether path may be a sync folder under roots (--project-sync-roots, a
 * comma-separated list): 0; AD_EPERM when roots is empty (no folder may be
 * synced); AD_EINVAL with why when path is not an existing folder,
 * absolute and with no link in it, or lies under none of the roots. Any
 * thread (it reads the file system). */
int ad_psync_path_check(const char *roots, const char *path, char *why, size_t whysz);
/* The sync state of project id: {id, path?, syncedAt?} (RFC 3339), a new
 * reference in *out; 0 or the store's error. */
int ad_psync_view(ad_store_t *st, const char *id, json_t **out);
/* Sets project id's sync folder to path (NULL: clears it) in st, then
 * forgets what was agreed with the old one and pushes the files to the new
 * (out.c): cb(0, {id, path?, syncedAt: null} (new, cb's), ud), or cb(the
 * store's error, NULL, ud). ps may be NULL. Loop thread. */
typedef void (*ad_psync_set_cb)(int rc, json_t *view, void *ud);
void ad_psync_set(ad_psync_t *ps, ad_store_t *st, const char *id, const char *path,
                  ad_psync_set_cb cb, void *ud);

/* ---- a project taken out (out.c) -------------------------------------------------------
 * Project id read whole from st, then its files written into the new
 * folder dir (ad_llm_project_export) or packed as a tar archive
 * (ad_llm_project_tar, at most 256 MiB) on the pool; cb(out, ud) on the
 * loop, once. out (borrowed for the call): loaded false when the read
 * failed (rc the store's); else rc the file work's (AD_EINTERNAL when the
 * pool would not take it), why its words, files how many were written,
 * tar the archive and folder its top folder. Loop thread. */
typedef struct {
    bool loaded;
    int rc;
    char why[256];
    char dir[4096];
    int64_t files;
    ad_buf_t tar;
    char folder[64];
} ad_psync_out_t;
typedef void (*ad_psync_out_cb)(const ad_psync_out_t *out, void *ud);
void ad_psync_export(uv_loop_t *loop, ad_store_t *st, const char *id, const char *dir,
                     ad_psync_out_cb cb, void *ud);
void ad_psync_archive(uv_loop_t *loop, ad_store_t *st, const char *id, ad_psync_out_cb cb,
                      void *ud);
/* POST /api/projects/:id/commit {worktreeId, path?, message?}: the fields
 * checked (path a relative folder without . or .. segments, message not
 * empty); *wt_id borrowed from body. */
int ad_project_commit_check(const json_t *body, const char **wt_id, ad_field_err_t *e);

/* ---- what a project's bodies may hold (spec.c) ---------------------------------------
 * Each 0, or AD_EINVAL with the field and why in e. */
/* POST /api/projects {name (not required with chatId: the chat's title),
 * description?, userId?, chatId? (a chat of org)} as the insert's args
 * for org (*out new). */
int ad_project_create_args(ad_store_t *st, const json_t *body, const char *org, json_t **out,
                           ad_field_err_t *e);
/* PUT /api/projects/:id {name?, description?, messages?, files?} as the
 * save's args (*out new). */
int ad_project_save_args(const char *id, const json_t *body, json_t **out, ad_field_err_t *e);
/* PATCH /api/projects/:id/files {changes}: the changes checked. */
int ad_project_changes_check(const json_t *body, ad_field_err_t *e);
/* The files op's args for project id (changes borrowed). New reference. */
json_t *ad_project_files_args(const char *id, const json_t *changes);
/* The files the code blocks of message msg_id of chat chat_id (seen by the
 * caller) name, as file changes (*out new). */
int ad_project_message_files(ad_store_t *st, const char *chat_id, const char *msg_id, json_t **out,
                             ad_field_err_t *e);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_psync_engine;

#endif
