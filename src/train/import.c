/* SPDX-License-Identifier: MIT */
/*
 * Imports that tail (issue #35): each import reads its source on the pool
 * (readers.c) from where it stopped, hands the points to the store (one
 * batch a read, the alert rules seeing them first), and only once they are
 * committed writes where it has read to, so a restarted daemon carries on
 * from there (a point read twice replaces itself: one point per step). A
 * one-time import ends when a read finds nothing new; a followed one waits
 * for the source to change (inotify through uv_fs_event, and a poll every
 * second for what inotify does not see: nested folders, a file replaced)
 * until it is stopped or, for an MLflow run, its meta.yaml says it ended.
 */
#include "train/train_int.h"
#include "tables/imports.h"
#include "tables/runs.h"
#include "tables/series.h"

#include <stdlib.h>
#include <string.h>

#define POLL_MS 1000
#define SETTLE_MS 50

typedef struct imp {
    struct imp *next;
    ad_train_imports_t *im;
    char id[AD_ID_MAX], org[AD_ID_MAX], run_id[AD_ID_MAX], agent_id[AD_ID_MAX];
    ad_import_kind_t kind;
    char path[4096];
    bool follow, own_run;
    json_t *state;
    char *patch_done;  /* the run patch last written (compact JSON) */
    char *state_saved; /* the state last written (compact JSON) */
    bool reading, again, finishing, stopped;
    int handles; /* open: poll, settle and (following) the fs watch */
    uv_timer_t poll, settle;
    uv_fs_event_t ev;
    bool ev_on;
    uv_work_t work;
    ad_train_read_t *rd;
} imp_t;

struct ad_train_imports {
    uv_loop_t *loop;
    ad_store_t *store;
    ad_train_t *train;
    ad_train_publish_fn publish;
    void *ud;
    imp_t *list;
    size_t alive; /* imports whose memory is not yet gone */
    bool closing;
};

static void kick(imp_t *x);

static void publish_row(ad_train_imports_t *im, const json_t *row)
{
    if (im->publish != NULL && row != NULL && !im->closing) {
        json_t *p = json_pack("{s:O}", "import", row);
        im->publish(im->ud, "import_update", p, json_string_value(json_object_get(row, "orgId")),
                    NULL, json_string_value(json_object_get(row, "runId")));
        json_decref(p);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    imp_t *x = h->data;
    if (--x->handles > 0) {
        return;
    }
    ad_train_imports_t *im = x->im;
    json_decref(x->state);
    free(x->patch_done);
    free(x->state_saved);
    free(x);
    if (--im->alive == 0 && im->closing) {
        free(im);
    }
}

/* Takes x off the list and closes its handles (its memory goes with the
 * last); a read still on the pool keeps it until it returns. */
static void imp_drop(imp_t *x)
{
    ad_train_imports_t *im = x->im;
    for (imp_t **pp = &im->list; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    if (x->reading) {
        x->finishing = true; /* the read's end drops it */
        return;
    }
    if (x->ev_on) {
        uv_fs_event_stop(&x->ev);
        uv_close((uv_handle_t *)&x->ev, on_handle_closed);
    }
    uv_close((uv_handle_t *)&x->poll, on_handle_closed);
    uv_close((uv_handle_t *)&x->settle, on_handle_closed);
}

static void saved(int rc, json_t *row, void *ud)
{
    ad_train_imports_t *im = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "train", "import state not saved: %s", ad_strerror(rc));
    }
    publish_row(im, row);
    json_decref(row);
}

static void save(imp_t *x, const char *status, const char *error, int64_t points)
{
    if (x->im->closing) {
        return;
    }
    char *text = json_dumps(x->state, JSON_COMPACT | JSON_SORT_KEYS);
    bool same = x->state_saved != NULL && strcmp(text, x->state_saved) == 0;
    free(x->state_saved);
    x->state_saved = text;
    if (same && points == 0 && strcmp(status, "running") == 0) {
        return; /* a poll that found nothing new writes nothing */
    }
    json_t *args =
        json_pack("{s:s, s:s, s:O, s:I, s:I}", "id", x->id, "status", status, "state", x->state,
                  "points", (json_int_t)points, "now", (json_int_t)ad_wall_ms());
    if (error != NULL) {
        json_object_set_new(args, "error", json_string(error));
    }
    ad_store_write(x->im->store, ad_store_op_import_save, args, saved, x->im);
}

static void run_patch(imp_t *x, json_t *patch)
{
    if (!x->own_run || json_object_size(patch) == 0 || x->im->closing) {
        return;
    }
    char *text = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
    if (x->patch_done != NULL && strcmp(text, x->patch_done) == 0) {
        free(text);
        return; /* the same as last time: nothing to write */
    }
    free(x->patch_done);
    x->patch_done = text;
    json_t *args = json_deep_copy(patch);
    json_object_set_new(args, "id", json_string(x->run_id));
    ad_store_write(x->im->store, ad_store_op_external_run_update, args, NULL, NULL);
}

/* The import is over: its row says how, and a run it made ends. */
static void finish(imp_t *x, const char *status, const char *error, const char *run_status)
{
    save(x, status, error, 0);
    if (x->own_run && !x->im->closing) {
        json_t *args = json_pack("{s:s, s:s}", "id", x->run_id, "status", run_status);
        ad_store_write(x->im->store, ad_store_op_external_run_update, args, NULL, NULL);
    }
    ad_log(AD_LOG_INFO, "train", "import %s id=%s run=%s", status, x->id, x->run_id);
    imp_drop(x);
}

typedef struct {
    imp_t *x;
    int64_t points;
    bool more, ended;
    char run_status[16];
} batch_t;

static void after_batch(int rc, json_t *result, void *ud)
{
    batch_t *b = ud;
    imp_t *x = b->x;
    json_decref(result);
    x->reading = false;
    if (x->finishing || x->im->closing) {
        x->finishing = false;
        imp_drop(x); /* stopped or closing while it read: now it goes */
    } else if (rc != 0) {
        finish(x, "failed", "the store refused the points", "failed");
    } else {
        save(x, "running", NULL, b->points);
        if (b->more || x->again) {
            x->again = false;
            kick(x);
        } else if (!x->follow || b->ended) {
            finish(x, "done", NULL, b->run_status[0] ? b->run_status : "succeeded");
        }
    }
    free(b);
}

static void read_work(uv_work_t *w)
{
    ad_train_read(((imp_t *)w->data)->rd);
}

static void read_free(ad_train_read_t *rd)
{
    json_decref(rd->points);
    json_decref(rd->nonfinite);
    json_decref(rd->dists);
    json_decref(rd->patch);
    json_decref(rd->state);
    free(rd);
}

static void read_after(uv_work_t *w, int status)
{
    imp_t *x = w->data;
    ad_train_read_t *rd = x->rd;
    x->rd = NULL;
    batch_t *b = ad_xcalloc(1, sizeof(*b));
    b->x = x;
    if (status != 0 || x->finishing || x->im->closing) {
        read_free(rd);
        after_batch(0, NULL, b);
        return;
    }
    if (rd->rc != 0 && !x->follow) { /* a followed path may come back */
        x->reading = false;
        free(b);
        finish(x, "failed", rd->error, "failed");
        read_free(rd);
        return;
    }
    json_decref(x->state);
    x->state = json_incref(rd->state); /* where the read got to, saved once its points are in */
    json_object_set_new(x->state, "skipped",
                        json_integer(json_integer_value(json_object_get(x->state, "skipped")) +
                                     (json_int_t)rd->skipped));
    b->points = (int64_t)json_array_size(rd->points);
    b->more = rd->more;
    b->ended = rd->ended;
    const char *end = json_string_value(json_object_get(rd->patch, "status"));
    snprintf(b->run_status, sizeof(b->run_status), "%s", rd->ended && end != NULL ? end : "");
    json_t *seen = json_copy(rd->points);
    json_array_extend(seen, rd->nonfinite);
    ad_train_points(x->im->train, x->agent_id, x->run_id, x->org, seen);
    json_decref(seen);
    json_object_del(rd->patch, "status"); /* the end is written by finish */
    json_object_del(rd->patch, "endedAt");
    run_patch(x, rd->patch);
    if (json_array_size(rd->points) + json_array_size(rd->dists) > 0) {
        json_t *batch = json_pack("{s:s, s:s, s:I, s:O}", "runId", x->run_id, "orgId", x->org,
                                  "now", (json_int_t)ad_wall_ms(), "points", rd->points);
        if (json_array_size(rd->dists) > 0) {
            json_object_set(batch, "dists", rd->dists);
        }
        ad_store_series_append(x->im->store, batch, after_batch, b);
    } else {
        after_batch(0, NULL, b);
    }
    read_free(rd);
}

static void kick(imp_t *x)
{
    if (x->reading) {
        x->again = true;
        return;
    }
    if (x->finishing || x->stopped) {
        return;
    }
    ad_train_read_t *rd = ad_xcalloc(1, sizeof(*rd));
    rd->kind = x->kind;
    snprintf(rd->path, sizeof(rd->path), "%s", x->path);
    rd->state = json_deep_copy(x->state);
    x->rd = rd;
    x->reading = true;
    x->work.data = x;
    if (uv_queue_work(x->im->loop, &x->work, read_work, read_after) != 0) {
        x->reading = false;
        json_decref(rd->state);
        free(rd);
        x->rd = NULL;
    }
}

static void on_settle(uv_timer_t *t)
{
    kick(t->data);
}

static void on_poll(uv_timer_t *t)
{
    kick(t->data);
}

/* A change in the folder or file: read once things settle a little. */
static void on_fs(uv_fs_event_t *h, const char *name, int events, int status)
{
    AD_UNUSED(name);
    AD_UNUSED(events);
    AD_UNUSED(status);
    imp_t *x = h->data;
    uv_timer_start(&x->settle, on_settle, SETTLE_MS, 0);
}

static const char *const kind_names[] = {"tfevents", "mlruns", "csv"};

int ad_train_import_kind(const char *s)
{
    for (int i = 0; i < 3; i++) {
        if (s != NULL && strcmp(s, kind_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int ad_train_import_start(ad_train_imports_t *im, const json_t *row, const char *agent_id)
{
    const char *kind = json_string_value(json_object_get(row, "kind"));
    int k = ad_train_import_kind(kind);
    if (k < 0 || im->closing) {
        return AD_EINVAL;
    }
    imp_t *x = ad_xcalloc(1, sizeof(*x));
    x->im = im;
    x->kind = (ad_import_kind_t)k;
    snprintf(x->id, sizeof(x->id), "%s", json_string_value(json_object_get(row, "id")));
    snprintf(x->org, sizeof(x->org), "%s", json_string_value(json_object_get(row, "orgId")));
    snprintf(x->run_id, sizeof(x->run_id), "%s", json_string_value(json_object_get(row, "runId")));
    snprintf(x->agent_id, sizeof(x->agent_id), "%s", agent_id != NULL ? agent_id : "");
    snprintf(x->path, sizeof(x->path), "%s", json_string_value(json_object_get(row, "path")));
    x->follow = json_is_true(json_object_get(row, "follow"));
    json_t *state = json_object_get(row, "state");
    x->state = json_is_object(state) ? json_deep_copy(state) : json_object();
    x->own_run = !json_is_false(json_object_get(x->state, "ownRun"));
    uv_timer_init(im->loop, &x->poll);
    uv_timer_init(im->loop, &x->settle);
    x->poll.data = x;
    x->settle.data = x;
    x->handles = 2;
    if (x->follow) {
        uv_fs_event_init(im->loop, &x->ev);
        x->ev.data = x;
        x->handles++;
        x->ev_on = true;
        if (uv_fs_event_start(&x->ev, on_fs, x->path, 0) != 0) {
            ad_log(AD_LOG_INFO, "train", "import %s: no inotify watch, polling path=%s", x->id,
                   x->path);
        }
        uv_timer_start(&x->poll, on_poll, POLL_MS, POLL_MS);
    }
    x->next = im->list;
    im->list = x;
    im->alive++;
    kick(x);
    return 0;
}

int ad_train_import_stop(ad_train_imports_t *im, const char *id)
{
    for (imp_t *x = im->list; x != NULL; x = x->next) {
        if (strcmp(x->id, id) == 0) {
            x->stopped = true;
            finish(x, "stopped", NULL, "stopped");
            return 0;
        }
    }
    return AD_ENOENT;
}

ad_train_imports_t *ad_train_imports_new(uv_loop_t *loop, ad_store_t *store, ad_train_t *train,
                                         ad_train_publish_fn publish, void *ud)
{
    ad_train_imports_t *im = ad_xcalloc(1, sizeof(*im));
    im->loop = loop;
    im->store = store;
    im->train = train;
    im->publish = publish;
    im->ud = ud;
    json_t *rows = NULL;
    if (ad_store_import_list(store, "", true, &rows) == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            json_t *run = NULL;
            const char *agent = NULL;
            if (ad_store_run_get(store, json_string_value(json_object_get(row, "runId")), &run) ==
                0) {
                agent = json_string_value(json_object_get(run, "agentId"));
            }
            ad_train_import_start(im, row, agent); /* carries on where it stopped */
            json_decref(run);
        }
    }
    json_decref(rows);
    return im;
}

void ad_train_imports_close(ad_train_imports_t *im)
{
    if (im == NULL) {
        return;
    }
    im->closing = true;
    while (im->list != NULL) {
        imp_drop(im->list);
    }
    if (im->alive == 0) {
        free(im); /* else the last import's close frees it */
    }
}

json_t *ad_train_import_made(ad_train_imports_t *im, const json_t *result)
{
    json_t *row = NULL;
    const char *id = json_string_value(json_object_get(result, "importId"));
    if (im == NULL || ad_store_import_get(im->store, id, &row) != 0) {
        return NULL;
    }
    ad_train_import_start(im, row, json_string_value(json_object_get(result, "agentId")));
    return row;
}
