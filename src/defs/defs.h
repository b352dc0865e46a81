/* SPDX-License-Identifier: MIT */
/*
 * defs: the definitions folders watched (issue #18). The data dir's
 * definitions folder and .claude/agents of every workspace get a
 * uv_fs_event each; a change is published as definitions_changed
 * {source, workspaceId?} on the bus, to everybody for the data dir's folder,
 * to the workspace's organisation for a workspace's folder. Reading and
 * ranking the definitions is src/llm's (ad_defs_load); the routes that
 * serve them are src/api/defs.c's.
 *
 * Ownership: the watcher owns its watches and their handles; the loop, the
 * store and the bus are borrowed and must outlive it.
 * Dependencies: store (the workspace rows), bus (the event).
 * Threads: loop thread only.
 */
#ifndef AD_DEFS_H
#define AD_DEFS_H

#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"

struct ad_store;
typedef struct ad_defwatch ad_defwatch_t;

/* Starts watching <data_dir>/definitions and the workspaces' folders of
 * store (NULL: only the data dir's), checked again every second. */
ad_defwatch_t *ad_defwatch_start(uv_loop_t *loop, struct ad_store *store, ad_bus_t *bus,
                                 const char *data_dir);
/* Closes every handle (their memory goes in the close callbacks) and frees
 * w. NULL is a no-op. */
void ad_defwatch_stop(ad_defwatch_t *w);

#endif
