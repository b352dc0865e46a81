/* SPDX-License-Identifier: MIT */
/*
 * planes and run_leases (migration 2870, issue #39): several control
 * planes on one database. A plane's heartbeat (its row, the leases of the
 * runs it runs renewed, the leases of its runs that ended let go) is one
 * typed write; a takeover is another, whose conditional upsert lets
 * exactly one plane win a run whose lease lapsed. Reads (the live planes,
 * whose lease a run is under) are on the loop's read connection, by key.
 * Times are each plane's wall clock in ms: the planes of one database must
 * keep their clocks within a second of each other (NTP), well inside the
 * lease. What a lease means to a run is src/run's and src/cluster's.
 */
#include "store/table.h"
#include "tables/planes.h"
#include "tables/tables_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[AD_ID_MAX];
    char url[512];
    int64_t started, now, ttl;
    char *runs; /* run ids, each followed by '\n' (malloc'd), or NULL */
} beat_t;

/* The lease of run renewed when it is ours (or made when it has none);
 * another plane's is left alone, and when that one is live the run is
 * added to lost: this plane lost it (issue #77). A lapsed lease of another
 * plane is the takeover's (plane_take), which raises its epoch. */
static int beat_lease(ad_db_t *db, const beat_t *b, const char *run, json_t *lost)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "INSERT INTO run_leases (run_id, plane_id, expires_at) "
                          "VALUES (?1, ?2, ?3) "
                          "ON CONFLICT (run_id) DO UPDATE SET expires_at = excluded.expires_at "
                          "WHERE run_leases.plane_id = excluded.plane_id");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run);
    ad_store_bind_text(s, 2, b->id);
    ad_db_bind_int64(s, 3, b->now + b->ttl);
    int rc = ad_store_step_done(db, s);
    if (rc != 0 || ad_db_changes(db) == 1) {
        return rc;
    }
    s = ad_store_stmt(db, "SELECT 1 FROM run_leases WHERE run_id = ?1 AND plane_id <> ?2 AND "
                          "expires_at >= ?3");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run);
    ad_store_bind_text(s, 2, b->id);
    ad_db_bind_int64(s, 3, b->now);
    int step = ad_db_step(s);
    ad_db_reset(s);
    if (step == AD_DB_ROW) {
        json_array_append_new(lost, json_string(run));
    }
    return step == AD_DB_ROW || step == AD_DB_DONE ? 0 : ad_store_rc(db, step);
}

/* Each of the plane's leases looks its run up by id. The first form, `run_id
 * IN (SELECT id FROM runs WHERE status <> 'running')`, built the list of
 * every ended run on each beat: with a million runs an idle daemon spent 19 %
 * of a core on it, and each request waited behind it (bench/README, F2). */
const char ad_sql_leases_ended[] = "DELETE FROM run_leases WHERE plane_id = ?1 AND EXISTS "
                                   "(SELECT 1 FROM runs r WHERE r.id = run_leases.run_id "
                                   "AND r.status <> 'running')";

static int plane_beat(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const beat_t *b = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO planes (id, url, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_at = "
                "excluded.started_at, heartbeat_at = excluded.heartbeat_at");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, b->id);
    ad_store_bind_text(s, 2, b->url);
    ad_db_bind_int64(s, 3, b->started);
    ad_db_bind_int64(s, 4, b->now);
    int rc = ad_store_step_done(tx->db, s);
    json_t *lost = json_array();
    for (const char *p = b->runs; rc == 0 && p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char run[AD_ID_MAX];
        if (n > 0 && n < sizeof(run)) {
            memcpy(run, p, n);
            run[n] = '\0';
            rc = beat_lease(tx->db, b, run, lost);
        }
        p += n + (nl != NULL ? 1 : 0);
    }
    if (rc != 0) {
        json_decref(lost);
        return rc;
    }
    *result = lost;
    /* the leases of our runs that ended go (a lapsed one of a run still
     * running stays: whoever takes the run over overwrites it) */
    s = ad_store_stmt(tx->db, ad_sql_leases_ended);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, b->id);
    return ad_store_step_done(tx->db, s);
}

static void beat_cleanup(void *in)
{
    free(((beat_t *)in)->runs);
}

void ad_store_plane_beat(ad_store_t *st, const ad_store_plane_beat_t *in, ad_store_result_cb cb,
                         void *ud)
{
    beat_t b = {.started = in->started_ms, .now = in->now_ms, .ttl = in->lease_ms};
    snprintf(b.id, sizeof(b.id), "%s", in->id);
    snprintf(b.url, sizeof(b.url), "%s", in->url != NULL ? in->url : "");
    if (in->runs != NULL && in->nruns > 0) {
        ad_buf_t buf;
        ad_buf_init(&buf, 16u << 20);
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < in->nruns; i++) {
            rc = ad_buf_puts(&buf, in->runs[i]);
            rc = rc != 0 ? rc : ad_buf_putc(&buf, '\n');
        }
        b.runs = rc == 0 ? ad_buf_detach(&buf, NULL) : NULL;
        ad_buf_cleanup(&buf);
    }
    ad_store_typed_write(st, plane_beat, &b, sizeof(b), beat_cleanup, cb, ud);
}

/* ---- takeover ------------------------------------------------------------------------------ */

typedef struct {
    char id[AD_ID_MAX];
    int64_t now, ttl;
    char (*held)[AD_ID_MAX]; /* owned: the held runs this plane could take up */
    size_t nheld;
} take_t;

#define TAKE_MAX 256 /* runs taken in one sweep; the next takes the rest */

static int bump_epoch(ad_db_t *db, const char *run)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE runs SET lease_epoch = lease_epoch + 1 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run);
    return ad_store_step_done(db, s);
}

static int plane_take(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const take_t *t = in;
    /* Running runs on nodes under no live lease: one whose lease lapsed,
     * or one with none that started more than a lease ago (its plane died
     * before its first heartbeat). */
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "SELECT r.id FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id "
                              "WHERE r.status = 'running' AND r.node_id IS NOT NULL AND "
                              "((l.run_id IS NULL AND r.started_at < ?2) OR "
                              "(l.plane_id <> ?1 AND l.expires_at < ?3)) LIMIT 256");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, t->id);
    ad_db_bind_int64(s, 2, t->now - t->ttl);
    ad_db_bind_int64(s, 3, t->now);
    char(*cand)[AD_ID_MAX] = ad_xcalloc(2 * TAKE_MAX, AD_ID_MAX);
    size_t n = 0;
    int step;
    while (n < TAKE_MAX && (step = ad_db_step(s)) == AD_DB_ROW) {
        const char *id = (const char *)ad_db_column_text(s, 0);
        if (id != NULL && strlen(id) < AD_ID_MAX) {
            snprintf(cand[n++], AD_ID_MAX, "%s", id);
        }
    }
    ad_db_reset(s);
    /* Held runs of planes on this machine (the caller can reach their
     * holders): the same rule, for runs not on a node. */
    for (size_t i = 0; i < t->nheld && i < TAKE_MAX; i++) {
        s = ad_store_stmt(tx->db, "SELECT 1 FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id "
                                  "WHERE r.id = ?4 AND r.status = 'running' AND r.node_id IS NULL "
                                  "AND ((l.run_id IS NULL AND r.started_at < ?2) OR "
                                  "(l.plane_id <> ?1 AND l.expires_at < ?3))");
        if (s == NULL) {
            free(cand);
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, t->id);
        ad_db_bind_int64(s, 2, t->now - t->ttl);
        ad_db_bind_int64(s, 3, t->now);
        ad_store_bind_text(s, 4, t->held[i]);
        if (ad_db_step(s) == AD_DB_ROW) {
            snprintf(cand[n++], AD_ID_MAX, "%s", t->held[i]);
        }
        ad_db_reset(s);
    }
    int rc = 0;
    json_t *won = json_array();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* the one statement that decides: a lapsed (or absent) lease
         * becomes ours; when two planes try, one row changes for one */
        s = ad_store_stmt(
            tx->db, "INSERT INTO run_leases (run_id, plane_id, expires_at) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (run_id) DO UPDATE SET plane_id = excluded.plane_id, "
                    "expires_at = excluded.expires_at WHERE run_leases.expires_at < ?4");
        if (s == NULL) {
            rc = AD_EINTERNAL;
            break;
        }
        ad_store_bind_text(s, 1, cand[i]);
        ad_store_bind_text(s, 2, t->id);
        ad_db_bind_int64(s, 3, t->now + t->ttl);
        ad_db_bind_int64(s, 4, t->now);
        rc = ad_store_step_done(tx->db, s);
        if (rc == 0 && ad_db_changes(tx->db) == 1) {
            /* a takeover: the run's fencing token goes up (issue #77) */
            rc = bump_epoch(tx->db, cand[i]);
            json_array_append_new(won, json_string(cand[i]));
        }
    }
    free(cand);
    if (rc != 0) {
        json_decref(won);
        return rc;
    }
    *result = won;
    return 0;
}

static void take_cleanup(void *in)
{
    free(((take_t *)in)->held);
}

void ad_store_plane_take(ad_store_t *st, const char *plane_id, int64_t now_ms, int64_t lease_ms,
                         const char *const *held, size_t nheld, ad_store_result_cb cb, void *ud)
{
    take_t t = {.now = now_ms, .ttl = lease_ms};
    snprintf(t.id, sizeof(t.id), "%s", plane_id);
    if (held != NULL && nheld > 0) {
        t.held = ad_xcalloc(nheld, AD_ID_MAX);
        for (size_t i = 0; i < nheld; i++) {
            if (held[i] != NULL && strlen(held[i]) < AD_ID_MAX) {
                snprintf(t.held[t.nheld++], AD_ID_MAX, "%s", held[i]);
            }
        }
    }
    ad_store_typed_write(st, plane_take, &t, sizeof(t), take_cleanup, cb, ud);
}

/* ---- reads ----------------------------------------------------------------------------------- */

int ad_store_planes_list(ad_store_t *st, int64_t live_since_ms, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT p.id, p.url, p.started_at, p.heartbeat_at, (SELECT COUNT(*) FROM run_leases l "
            "WHERE l.plane_id = p.id) FROM planes p WHERE p.heartbeat_at >= ?1 ORDER BY p.id "
            "LIMIT 1000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, live_since_ms);
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        char started[AD_TIME_MAX], beat[AD_TIME_MAX];
        ad_time_format(ad_db_column_int64(s, 2), started);
        ad_time_format(ad_db_column_int64(s, 3), beat);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", (const char *)ad_db_column_text(s, 0),
                         "url", (const char *)ad_db_column_text(s, 1), "startedAt", started,
                         "heartbeatAt", beat, "runs", (json_int_t)ad_db_column_int64(s, 4)));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}

int ad_store_run_lease(ad_store_t *st, const char *run_id, char plane_id[AD_ID_MAX],
                       int64_t *expires_ms)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT plane_id, expires_at FROM run_leases WHERE run_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    int step = ad_db_step(s);
    int rc = AD_ENOENT;
    if (step == AD_DB_ROW) {
        snprintf(plane_id, AD_ID_MAX, "%s", (const char *)ad_db_column_text(s, 0) ?: "");
        *expires_ms = ad_db_column_int64(s, 1);
        rc = 0;
    } else if (step != AD_DB_DONE) {
        rc = ad_store_rc(db, step);
    }
    ad_db_reset(s);
    return rc;
}

/* One row (plane id, url) of s into *out: 0, AD_ENOENT or the store's code. */
static int plane_ref_row(ad_db_t *db, ad_db_stmt_t *s, ad_store_plane_ref_t *out)
{
    int step = ad_db_step(s);
    int rc = AD_ENOENT;
    if (step == AD_DB_ROW) {
        snprintf(out->id, sizeof(out->id), "%s", (const char *)ad_db_column_text(s, 0) ?: "");
        snprintf(out->url, sizeof(out->url), "%s", (const char *)ad_db_column_text(s, 1) ?: "");
        rc = 0;
    } else if (step != AD_DB_DONE) {
        rc = ad_store_rc(db, step);
    }
    ad_db_reset(s);
    return rc;
}

int ad_store_agent_run_plane(ad_store_t *st, const char *self, const char *agent_id, int64_t now_ms,
                             int64_t live_since_ms, ad_store_plane_ref_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT l.plane_id, p.url FROM runs r JOIN run_leases l ON l.run_id = r.id "
            "JOIN planes p ON p.id = l.plane_id WHERE r.agent_id = ?1 AND r.status = 'running' "
            "AND l.plane_id <> ?2 AND l.expires_at >= ?3 AND p.heartbeat_at >= ?4 "
            "ORDER BY r.started_at DESC LIMIT 1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    ad_store_bind_text(s, 2, self);
    ad_db_bind_int64(s, 3, now_ms);
    ad_db_bind_int64(s, 4, live_since_ms);
    return plane_ref_row(db, s, out);
}

int ad_store_plane_live(ad_store_t *st, const char *plane_id, int64_t live_since_ms,
                        ad_store_plane_ref_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT id, url FROM planes WHERE id = ?1 AND heartbeat_at >= ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, plane_id);
    ad_db_bind_int64(s, 2, live_since_ms);
    return plane_ref_row(db, s, out);
}

int ad_store_run_epoch(ad_store_t *st, const char *run_id, int64_t *epoch)
{
    return ad_store_run_int64(st, "SELECT lease_epoch FROM runs WHERE id = ?1", run_id, epoch);
}

bool ad_store_run_leased_elsewhere(ad_store_t *st, const char *plane_id, const char *run_id,
                                   int64_t now_ms)
{
    char owner[AD_ID_MAX];
    int64_t exp = 0;
    return plane_id != NULL && plane_id[0] != '\0' &&
           ad_store_run_lease(st, run_id, owner, &exp) == 0 && strcmp(owner, plane_id) != 0 &&
           exp >= now_ms;
}

int ad_store_runs_leased_elsewhere(ad_store_t *st, const char *plane_id, int64_t now_ms,
                                   json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT run_id FROM run_leases WHERE plane_id <> ?1 AND "
                                        "expires_at >= ?2 LIMIT 100000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, plane_id);
    ad_db_bind_int64(s, 2, now_ms);
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, json_string((const char *)ad_db_column_text(s, 0)));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}

typedef struct {
    char id[AD_ID_MAX];
} leave_t;

static int plane_leave(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const leave_t *l = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE planes SET heartbeat_at = 0 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, l->id);
    return ad_store_step_done(tx->db, s);
}

void ad_store_plane_leave(ad_store_t *st, const char *id)
{
    leave_t l;
    snprintf(l.id, sizeof(l.id), "%s", id);
    ad_store_typed_write(st, plane_leave, &l, sizeof(l), NULL, NULL, NULL);
}
