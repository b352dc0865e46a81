/* SPDX-License-Identifier: MIT */
/*
 * Control planes on one database (cluster.h, issue #39): this plane's id
 * (kept in <data-dir>/plane-id), its heartbeat every AD_PLANES_BEAT_MS
 * through the store's writer (its row in `planes`, the leases of the runs
 * it runs), and after each heartbeat a sweep that takes the runs on nodes
 * whose lease lapsed, and the held runs of other planes on this machine
 * the runner names (--takeover-dirs), and hands each to the runner (hooks). The rows are
 * src/tables/planes.c's.
 *
 * Ownership: the planes object owns its timer; its memory goes in the
 * timer's close callback, and a store answer that comes after close sees
 * the closing flag through a reference count.
 */
#include "cluster/cluster.h"
#include "tables/planes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ad_planes {
    uv_loop_t *loop;
    ad_store_t *store;
    ad_planes_hooks_t hooks;
    char id[AD_ID_MAX];
    char url[512];
    int64_t started_ms;
    uv_timer_t timer;
    unsigned refs; /* the timer, and each store call out */
    bool closing, beating;
    bool leaving; /* ad_planes_leave: no more heartbeats */
    /* Since when (monotonic ms) every heartbeat has been stored; 0 after a
     * failure, until the next one is. */
    uint64_t db_up_since;
    uint64_t beat_sent; /* when the heartbeat on the writer was sent (monotonic ms) */
    /* The timer's last tick, monotonic and wall ms (a machine asleep moves
     * only the second): a tick late by more than a third of a lease means
     * this plane was away (on_timer). */
    uint64_t tick_mono;
    int64_t tick_wall;
    uint64_t beats, beat_failures, taken, take_failures, lost;
    /* Whether another plane was live at the last heartbeat (read after
     * each one stored; kept as it was when the read fails; true until
     * the first read): a request needs no look for an owner elsewhere
     * while this plane is alone. */
    bool others;
};

/* ---- the id --------------------------------------------------------------------------------- */

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= AD_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

int ad_planes_id(const char *data_dir, const char *given, char out[AD_ID_MAX], char *err,
                 size_t errsz)
{
    if (given != NULL && given[0] != '\0') {
        if (!id_ok(given)) {
            snprintf(err, errsz, "--plane-id %s: 1 to %d of A-Z a-z 0-9 _ -", given, AD_ID_MAX - 1);
            return AD_EINVAL;
        }
        snprintf(out, AD_ID_MAX, "%s", given);
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/plane-id", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        char buf[AD_ID_MAX + 2];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }
        buf[n > 0 ? n : 0] = '\0';
        if (id_ok(buf)) { /* shorter than AD_ID_MAX */
            memcpy(out, buf, strlen(buf) + 1);
            return 0;
        }
        ad_log(AD_LOG_WARN, "planes", "plane-id file holds no id, making a new one path=%s", path);
    }
    ad_id_new("pl", out);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0;
    if (ok) {
        size_t len = strlen(out);
        ok = write(fd, out, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
        ok = close(fd) == 0 && ok;
    }
    if (!ok) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        return AD_EIO;
    }
    return 0;
}

/* ---- the heartbeat and the sweep ---------------------------------------------------------- */

static void unref(ad_planes_t *p)
{
    if (--p->refs == 0) {
        free(p);
    }
}

static void on_taken(int rc, json_t *won, void *ud)
{
    ad_planes_t *p = ud;
    if (rc != 0) {
        p->take_failures++;
    }
    size_t i;
    json_t *v;
    json_array_foreach(won, i, v)
    {
        const char *run = json_string_value(v);
        if (p->closing || run == NULL) {
            continue;
        }
        p->taken++;
        ad_log(AD_LOG_INFO, "planes", "run lease taken over plane=%s run=%s", p->id, run);
        if (p->hooks.take != NULL) {
            p->hooks.take(p->hooks.ud, run);
        }
    }
    json_decref(won);
    unref(p);
}

/* The runs the heartbeat found under another plane's live lease: that
 * plane took them while this one could not renew (cut off from the
 * database, or frozen). The runner lets each go without ending it. */
static void leases_lost(ad_planes_t *p, json_t *lost)
{
    size_t i;
    json_t *v;
    json_array_foreach(lost, i, v)
    {
        const char *run = json_string_value(v);
        if (p->closing || run == NULL) {
            continue;
        }
        p->lost++;
        ad_log(AD_LOG_WARN, "planes", "run lease lost to another plane plane=%s run=%s", p->id,
               run);
        if (p->hooks.lost != NULL) {
            p->hooks.lost(p->hooks.ud, run);
        }
    }
}

/* Whether another plane is live, as the planes table says now. */
static void others_read(ad_planes_t *p)
{
    json_t *live = NULL;
    if (ad_store_planes_list(p->store, ad_wall_ms() - AD_PLANES_LEASE_MS, &live) != 0) {
        return;
    }
    bool others = false;
    size_t i;
    json_t *v;
    json_array_foreach(live, i, v)
    {
        others = others || strcmp(json_string_value(json_object_get(v, "id")) ?: "", p->id) != 0;
    }
    json_decref(live);
    p->others = others;
}

static void on_beat(int rc, json_t *result, void *ud)
{
    ad_planes_t *p = ud;
    p->beating = false;
    if (rc == 0) {
        leases_lost(p, result);
        if (!p->closing) {
            others_read(p);
        }
    }
    json_decref(result);
    uint64_t now = ad_mono_ms();
    if (rc != 0) {
        p->beat_failures++;
        p->db_up_since = 0;
        ad_log(AD_LOG_WARN, "planes", "heartbeat not stored plane=%s err=%s", p->id,
               ad_strerror(rc));
    } else {
        p->beats++;
        /* a heartbeat the writer held (the database away: it keeps the
         * writes until it is back) counts as an outage that ended now */
        if (p->db_up_since == 0 || now - p->beat_sent > AD_PLANES_LEASE_MS / 3) {
            p->db_up_since = now;
        }
    }
    /* Leases freeze while the database is away (issue #77): after an outage
     * every plane's leases read lapsed, though nobody could renew them. A
     * plane takes a run over only once its own heartbeats have been stored
     * for a whole lease, which gave every owner that same lease to renew
     * its own: an outage moves no run, a dead plane's runs still move. */
    bool steady = p->db_up_since != 0 && now - p->db_up_since >= AD_PLANES_LEASE_MS;
    if (rc == 0 && !p->closing && !p->leaving && steady) {
        json_t *held = p->hooks.held != NULL ? p->hooks.held(p->hooks.ud) : NULL;
        size_t n = json_array_size(held);
        const char **ids = ad_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            ids[i] = json_string_value(json_array_get(held, i));
        }
        p->refs++;
        ad_store_plane_take(p->store, p->id, ad_wall_ms(), AD_PLANES_LEASE_MS, ids, n, on_taken, p);
        free(ids);
        json_decref(held);
    }
    unref(p);
}

static void beat(ad_planes_t *p)
{
    if (p->beating || p->closing || p->leaving) {
        return; /* the last one is still on the writer: one at a time */
    }
    json_t *ids = p->hooks.runs != NULL ? p->hooks.runs(p->hooks.ud) : NULL;
    size_t n = json_array_size(ids);
    const char **runs = ad_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        runs[i] = json_string_value(json_array_get(ids, i));
    }
    ad_store_plane_beat_t b = {.id = p->id,
                               .url = p->url,
                               .started_ms = p->started_ms,
                               .now_ms = ad_wall_ms(),
                               .lease_ms = AD_PLANES_LEASE_MS,
                               .runs = runs,
                               .nruns = n};
    p->beating = true;
    p->beat_sent = ad_mono_ms();
    p->refs++;
    ad_store_plane_beat(p->store, &b, on_beat, p);
    free(runs);
    json_decref(ids);
}

/* A tick late: this plane was frozen, or its machine asleep, and stored
 * no heartbeat meanwhile, as in an outage. Other planes' lapsed leases
 * then wait a lease of steady heartbeats again (on_beat): a run it still
 * holds is heard of from its node first, and taken back rather than let go
 * (node/planelease.c). */
static void on_timer(uv_timer_t *t)
{
    ad_planes_t *p = t->data;
    uint64_t mono = ad_mono_ms();
    int64_t wall = ad_wall_ms();
    int64_t gap = p->tick_mono == 0 ? 0 : (int64_t)(mono - p->tick_mono);
    int64_t wall_gap = p->tick_mono == 0 ? 0 : wall - p->tick_wall;
    gap = wall_gap > gap ? wall_gap : gap;
    p->tick_mono = mono;
    p->tick_wall = wall;
    if (gap > AD_PLANES_BEAT_MS + AD_PLANES_LEASE_MS / 3) {
        ad_log(AD_LOG_INFO, "planes",
               "heartbeat late, this plane was away: no run taken over for a lease plane=%s "
               "away_ms=%lld",
               p->id, (long long)gap);
        p->db_up_since = 0;
    }
    beat(p);
}

ad_planes_t *ad_planes_start(uv_loop_t *loop, ad_store_t *store, const char *id, const char *url,
                             const ad_planes_hooks_t *hooks)
{
    ad_planes_t *p = ad_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->store = store;
    p->hooks = *hooks;
    snprintf(p->id, sizeof(p->id), "%s", id);
    snprintf(p->url, sizeof(p->url), "%s", url != NULL ? url : "");
    p->started_ms = ad_wall_ms();
    p->refs = 1;
    p->others = true; /* not known alone until a heartbeat's read says so */
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_unref((uv_handle_t *)&p->timer);
    uv_timer_start(&p->timer, on_timer, 0, AD_PLANES_BEAT_MS);
    ad_log(AD_LOG_INFO, "planes", "control plane id=%s url=%s", p->id, p->url);
    return p;
}

const char *ad_planes_self(const ad_planes_t *p)
{
    return p != NULL ? p->id : "";
}

json_t *ad_planes_health(ad_planes_t *p)
{
    if (p == NULL) {
        return json_null();
    }
    json_t *live = NULL;
    int64_t since = ad_wall_ms() - AD_PLANES_LEASE_MS;
    if (ad_store_planes_list(p->store, since, &live) != 0) {
        live = json_null();
    }
    return json_pack("{s:s, s:s, s:I, s:o}", "id", p->id, "url", p->url, "leaseMs",
                     (json_int_t)AD_PLANES_LEASE_MS, "planes", live);
}

int ad_planes_prom(ad_planes_t *p, ad_buf_t *b)
{
    if (p == NULL) {
        return 0;
    }
    int rc =
        ad_buf_printf(b,
                      "# HELP agentd_plane_info This control plane's id.\n"
                      "# TYPE agentd_plane_info gauge\n"
                      "agentd_plane_info{plane=\"%s\"} 1\n"
                      "# HELP agentd_plane_heartbeats_total Heartbeats stored, and failed.\n"
                      "# TYPE agentd_plane_heartbeats_total counter\n"
                      "agentd_plane_heartbeats_total{result=\"ok\"} %llu\n"
                      "agentd_plane_heartbeats_total{result=\"failed\"} %llu\n"
                      "# HELP agentd_plane_runs_taken_over_total Runs whose lapsed lease "
                      "this plane took.\n"
                      "# TYPE agentd_plane_runs_taken_over_total counter\n"
                      "agentd_plane_runs_taken_over_total %llu\n"
                      "# HELP agentd_plane_run_leases_lost_total Runs whose lease another "
                      "plane took from this one (let go here, not ended).\n"
                      "# TYPE agentd_plane_run_leases_lost_total counter\n"
                      "agentd_plane_run_leases_lost_total %llu\n",
                      p->id, (unsigned long long)p->beats, (unsigned long long)p->beat_failures,
                      (unsigned long long)p->taken, (unsigned long long)p->lost);
    json_t *live = NULL;
    if (rc == 0 && ad_store_planes_list(p->store, ad_wall_ms() - AD_PLANES_LEASE_MS, &live) == 0) {
        rc = ad_buf_puts(b, "# HELP agentd_plane_run_leases Run leases each live control plane "
                            "holds (which plane owns what).\n"
                            "# TYPE agentd_plane_run_leases gauge\n");
        size_t i;
        json_t *v;
        json_array_foreach(live, i, v)
        {
            rc = rc != 0 ? rc
                         : ad_buf_printf(b, "agentd_plane_run_leases{plane=\"%s\"} %lld\n",
                                         json_string_value(json_object_get(v, "id")),
                                         (long long)json_integer_value(json_object_get(v, "runs")));
        }
        json_decref(live);
    }
    return rc;
}

static void on_timer_closed(uv_handle_t *h)
{
    unref(h->data);
}

void ad_planes_close(ad_planes_t *p)
{
    if (p == NULL) {
        return;
    }
    p->closing = true;
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

bool ad_planes_alone(const ad_planes_t *p)
{
    return p == NULL || !p->others;
}

size_t ad_planes_others_live(ad_planes_t *p)
{
    json_t *live = NULL;
    size_t n = 0;
    if (p == NULL ||
        ad_store_planes_list(p->store, ad_wall_ms() - AD_PLANES_LEASE_MS, &live) != 0) {
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(live, i, v)
    {
        n += strcmp(json_string_value(json_object_get(v, "id")) ?: "", p->id) != 0;
    }
    json_decref(live);
    return n;
}

void ad_planes_leave(ad_planes_t *p)
{
    if (p != NULL && !p->leaving) {
        beat(p); /* the runs it started since the last one get their lease */
        p->leaving = true;
        ad_store_plane_leave(p->store, p->id);
    }
}

uv_loop_t *ad_planes_loop(const ad_planes_t *p)
{
    return p->loop;
}

ad_store_t *ad_planes_store(const ad_planes_t *p)
{
    return p->store;
}
