/* SPDX-License-Identifier: MIT */
/*
 * defs: the definitions folders watched (issue #18). The data dir's
 * definitions folder and .claude/agents of every workspace get a
 * uv_fs_event each; a change is published as definitions_changed
 * {source, workspaceId?} on the bus, to everybody for the data dir's folder,
 * to the workspace's organisation for a workspace's folder. Which folders
 * an organisation reads, a definition found by name, the listing and the
 * best one for a prompt are lookup.c's; reading and ranking the files is
 * src/llm's (ad_defs_load, ad_defs_rank); the routes that serve them are
 * src/api/defs.c's.
 *
 * Ownership: the watcher owns its watches and their handles; the loop, the
 * store and the bus are borrowed and must outlive it.
 * Dependencies: store (the workspace rows), bus (the event).
 * Threads: loop thread only.
 */
#ifndef AD_DEFS_H
#define AD_DEFS_H

#include <uv.h>

#include <jansson.h>

#include "bus/bus.h"
#include "core/core.h"
#include "llm/llm.h"

struct ad_store;
typedef struct ad_defwatch ad_defwatch_t;

/* Starts watching <data_dir>/definitions and the workspaces' folders of
 * store (NULL: only the data dir's), checked again every second. */
ad_defwatch_t *ad_defwatch_start(uv_loop_t *loop, struct ad_store *store, ad_bus_t *bus,
                                 const char *data_dir);
/* Closes every handle (their memory goes in the close callbacks) and frees
 * w. NULL is a no-op. */
void ad_defwatch_stop(ad_defwatch_t *w);

/* ---- lookup (lookup.c) ------------------------------------------------------------- */
/* Reads the definitions org may see (the data dir's folder, and
 * .claude/agents of org's workspaces; org "" every workspace's) on the
 * pool: cb(defs (owned), ud) on the loop. 0, or an error and cb is not
 * called. st may be NULL (the data dir's only). Loop thread. */
int ad_defs_read(uv_loop_t *loop, struct ad_store *st, const char *data_dir, const char *org,
                 ad_defs_cb cb, void *ud);
/* The definition named name in defs (borrowed from it), or NULL. */
json_t *ad_defs_named(json_t *defs, const char *name);
/* ad_defs_read, then cb(the definition named name (borrowed for the
 * call) or NULL, ud) on the loop. 0, or the read's error (cb not called). */
typedef void (*ad_defs_found_cb)(json_t *def, void *ud);
int ad_defs_find(uv_loop_t *loop, struct ad_store *st, const char *data_dir, const char *org,
                 const char *name, ad_defs_found_cb cb, void *ud);
/* GET /api/definitions's answer for q and category (either may be NULL):
 * {definitions (without their prompts; ranked by q, with score and matched,
 * when given), categories}. New reference. */
json_t *ad_defs_listing(json_t *defs, const char *q, const char *cat);
/* The best definition for prompt: {definition (without its prompt), score,
 * matched, default: false, alternatives: [{name, score}] (at most 3)}; with
 * no word in common, the one named "general" (or null) with default: true.
 * New reference. */
json_t *ad_defs_select(json_t *defs, const char *prompt);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_defs_engine;

#endif
