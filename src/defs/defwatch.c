/* SPDX-License-Identifier: MIT */
/*
 * The definitions folders watched (issue #18): the data dir's definitions
 * folder and .claude/agents of every workspace get a uv_fs_event each; a
 * change (a file written, renamed, removed) restarts a short debounce
 * timer, and when it fires `definitions_changed` {source, workspaceId?} is
 * published, to everybody for the data dir's folder (every organisation
 * reads it), to the workspace's organisation for a workspace's folder.
 *
 * The set of folders is checked again every second on the loop (the
 * workspace rows, one stat per folder): a folder that appears, goes away or
 * is replaced by another directory (a new inode: inotify would keep
 * watching the old one) is watched again and reported as a change, and a
 * workspace's watch ends with the workspace. The definitions themselves are
 * still read on each request (defs.c); the watch only tells the clients.
 *
 * Ownership: the list of watches and their handles belong to the
 * ad_defwatch_t; each handle is its own allocation, freed in its close
 * callback, so a watch is freed at once when it ends. Loop thread only.
 */
#include "defs/defs.h"

#include "store/store.h"
#include "tables/workspaces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RESYNC_MS 1000
#define DEBOUNCE_MS 150
#define WATCHES_MAX 4096

typedef struct watch {
    struct watch *next;
    ad_defwatch_t *dw; /* the watcher it belongs to */
    char path[4200];
    char ws_id[AD_ID_MAX]; /* "" for the data dir's folder */
    char org[AD_ID_MAX];   /* "" for the data dir's folder */
    uv_fs_event_t *ev;     /* NULL while the folder is missing */
    uv_timer_t *debounce;
    dev_t dev; /* the folder last seen (when exists) */
    ino_t ino;
    bool exists;
    bool seen; /* during a resync: still wanted */
} watch_t;

struct ad_defwatch {
    uv_loop_t *loop;
    struct ad_store *store; /* borrowed; NULL: only the data dir's folder */
    ad_bus_t *bus;          /* borrowed */
    char data_dir[4096];
    watch_t *watches;
    size_t nwatches;
    uv_timer_t *resync_timer;
    bool synced_once;
};

static void handle_free(uv_handle_t *h)
{
    free(h);
}

static void publish(const watch_t *w)
{
    json_t *p = json_pack("{s:s}", "source", w->ws_id[0] ? "workspace" : "data");
    if (w->ws_id[0] != '\0') {
        json_object_set_new(p, "workspaceId", json_string(w->ws_id));
    }
    /* The topics ad_bus_publish_to gave it: an empty id names the bare prefix. */
    char ws[AD_ID_MAX + 16], org[AD_ID_MAX + 16];
    snprintf(ws, sizeof(ws), w->ws_id[0] ? "workspace:%s" : "workspace%s", w->ws_id);
    snprintf(org, sizeof(org), w->org[0] ? "org:%s" : "org%s", w->org);
    const char *topics[3] = {"definitions", ws, org};
    size_t n = 3;
    ad_bus_publish(w->dw->bus, "definitions_changed", topics, n, p);
    json_decref(p);
}

static void debounced(uv_timer_t *t)
{
    publish(t->data);
}

static void changed(watch_t *w)
{
    uv_timer_start(w->debounce, debounced, DEBOUNCE_MS, 0);
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    AD_UNUSED(name);
    AD_UNUSED(events);
    AD_UNUSED(status);
    changed(h->data);
}

static void unwatch(watch_t *w)
{
    if (w->ev != NULL) {
        uv_fs_event_stop(w->ev);
        uv_close((uv_handle_t *)w->ev, handle_free);
        w->ev = NULL;
    }
}

/* Watches w's folder as it is now (or stops, when it is gone); reports a
 * change when the folder appeared, went or is another one than last time
 * (never on the first pass). A watch that cannot start (the inotify limit)
 * is tried again on the next pass without being reported again. */
static void refresh(watch_t *w)
{
    struct stat sb;
    bool exists = stat(w->path, &sb) == 0 && S_ISDIR(sb.st_mode);
    bool same = exists == w->exists && (!exists || (sb.st_dev == w->dev && sb.st_ino == w->ino));
    if (same && (!exists || w->ev != NULL)) {
        return;
    }
    unwatch(w);
    w->exists = exists;
    if (exists) {
        w->dev = sb.st_dev;
        w->ino = sb.st_ino;
        uv_fs_event_t *ev = ad_xcalloc(1, sizeof(*ev));
        uv_fs_event_init(w->dw->loop, ev);
        ev->data = w;
        if (uv_fs_event_start(ev, on_event, w->path, 0) != 0) {
            uv_close((uv_handle_t *)ev, handle_free);
        } else {
            w->ev = ev;
        }
    }
    if (w->dw->synced_once && !same) {
        changed(w);
    }
}

static watch_t *watch_get(ad_defwatch_t *dw, const char *path, const char *ws_id, const char *org)
{
    for (watch_t *w = dw->watches; w != NULL; w = w->next) {
        if (strcmp(w->ws_id, ws_id) == 0 && strcmp(w->path, path) == 0) {
            return w;
        }
    }
    if (dw->nwatches >= WATCHES_MAX) {
        return NULL;
    }
    watch_t *w = ad_xcalloc(1, sizeof(*w));
    w->dw = dw;
    snprintf(w->path, sizeof(w->path), "%s", path);
    snprintf(w->ws_id, sizeof(w->ws_id), "%s", ws_id);
    snprintf(w->org, sizeof(w->org), "%s", org);
    w->debounce = ad_xcalloc(1, sizeof(*w->debounce));
    uv_timer_init(dw->loop, w->debounce);
    w->debounce->data = w;
    w->next = dw->watches;
    dw->watches = w;
    dw->nwatches++;
    return w;
}

static void watch_free(watch_t *w)
{
    unwatch(w);
    uv_timer_stop(w->debounce);
    uv_close((uv_handle_t *)w->debounce, handle_free);
    w->dw->nwatches--;
    free(w);
}

static void want(ad_defwatch_t *dw, const char *path, const char *ws_id, const char *org)
{
    watch_t *w = watch_get(dw, path, ws_id, org);
    if (w != NULL) {
        w->seen = true;
        refresh(w);
    }
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void resync(uv_timer_t *t)
{
    ad_defwatch_t *dw = t->data;
    char p[4200];
    for (watch_t *w = dw->watches; w != NULL; w = w->next) {
        w->seen = false;
    }
    snprintf(p, sizeof(p), "%s/definitions", dw->data_dir);
    want(dw, p, "", "");
    json_t *ws = NULL;
    if (dw->store != NULL && ad_store_workspace_paths(dw->store, "", &ws) == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(ws, "workspaces"), i, row)
        {
            const char *path = jstr(row, "path"), *id = jstr(row, "id");
            const char *org = jstr(row, "orgId");
            if (path != NULL && id != NULL) {
                snprintf(p, sizeof(p), "%s/.claude/agents", path);
                want(dw, p, id, org != NULL ? org : "org_default");
            }
        }
    }
    json_decref(ws);
    for (watch_t **pp = &dw->watches; *pp != NULL;) {
        watch_t *w = *pp;
        if (w->seen) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        if (w->exists) {
            publish(w); /* the workspace went, and its definitions with it */
        }
        watch_free(w);
    }
    dw->synced_once = true;
}

ad_defwatch_t *ad_defwatch_start(uv_loop_t *loop, struct ad_store *store, ad_bus_t *bus,
                                 const char *data_dir)
{
    AD_ASSERT_LOOP();
    ad_defwatch_t *dw = ad_xcalloc(1, sizeof(*dw));
    dw->loop = loop;
    dw->store = store;
    dw->bus = bus;
    snprintf(dw->data_dir, sizeof(dw->data_dir), "%s", data_dir);
    dw->resync_timer = ad_xcalloc(1, sizeof(*dw->resync_timer));
    uv_timer_init(loop, dw->resync_timer);
    dw->resync_timer->data = dw;
    resync(dw->resync_timer);
    uv_timer_start(dw->resync_timer, resync, RESYNC_MS, RESYNC_MS);
    return dw;
}

void ad_defwatch_stop(ad_defwatch_t *dw)
{
    AD_ASSERT_LOOP();
    if (dw == NULL) {
        return;
    }
    uv_timer_stop(dw->resync_timer);
    uv_close((uv_handle_t *)dw->resync_timer, handle_free);
    while (dw->watches != NULL) {
        watch_t *w = dw->watches;
        dw->watches = w->next;
        watch_free(w);
    }
    free(dw);
}
