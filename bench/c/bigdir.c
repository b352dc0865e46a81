/* SPDX-License-Identifier: MIT */
/*
 * Row F2 of bench/README.md (issue #38): a data dir that has grown. Makes a
 * data dir with agentd's real schema (opened through the store, so every
 * migration runs) and fills it: workspaces, worktrees, agents, runs with
 * usage and cost (as ended runs, so the run triggers keep their aggregates),
 * messages spread over the runs with a skew (a few hot agents with many
 * runs, one giant run), metric points through the store's series writer,
 * and an event log of the requested size through the event log's own
 * writer (src/store/evlog.c). Rows go in by plain INSERTs in big
 * transactions with the journal off, the journal set back to WAL at the end.
 * Ids are agentd's own shape (a prefix and 26 characters, time first), made
 * from each row's own time. Linked against libagentd.a (make bigdir-gen).
 *
 * Usage: bigdir --dir DIR [--scale F] [--agents N --runs N --messages N
 *        --points N --evlog-bytes N] [--keep]
 * Without --dir a temporary folder under /tmp is made and removed at the
 * end unless --keep. A DIR holding a finished data dir of the same sizes
 * (DIR/bigdir.done) is reused as it is. Prints one JSON line: the sizes, the
 * seconds each part took, and the bytes on disk.
 */
#define _GNU_SOURCE /* nftw FTW_DEPTH */
#define GEN_NAME "bigdir"
#include "gen.h"
#include "store/store.h"
#include "tables/series.h"
#include "store/store_int.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_MS 86400000LL
#define HOT_AGENTS 10  /* agents that get a fifth of every run */
#define TX_ROWS 200000 /* rows per transaction */
#define SERIES_BATCH 5000

typedef struct {
    int64_t agents, runs, messages, points, evlog_bytes;
} sizes_t;

/* agentd's id shape (src/core/id.c): 48 bits of ms, 80 more, 26
 * characters of base32 from the top; here the 80 are a counter, so ids
 * made in time order sort in it (the tables' keys are appended to). */
static void mkid(char *out, size_t outsz, const char *prefix, int64_t ms, uint64_t n)
{
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
    unsigned char b[16] = {0};
    for (int i = 0; i < 6; i++) {
        b[i] = (unsigned char)((uint64_t)ms >> (40 - 8 * i));
    }
    for (int i = 0; i < 8; i++) {
        b[8 + i] = (unsigned char)(n >> (56 - 8 * i));
    }
    int len = snprintf(out, outsz, "%s_", prefix);
    for (int i = 0; i < 26 && (size_t)len + (size_t)i + 1 < outsz; i++) {
        int bit = 128 - 5 * (26 - i);
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int pos = bit + k;
            v <<= 1;
            if (pos >= 0) {
                v |= (b[pos / 8] >> (7 - pos % 8)) & 1u;
            }
        }
        out[len + i] = alphabet[v];
        out[len + i + 1] = '\0';
    }
}

/* Text for the message bodies: words cut from a fixed buffer. */
static char filler[8192];
static void filler_init(void)
{
    static const char *const words[] = {"the",      "agent",  "reads",   "src/store/runs.c",
                                        "and",      "writes", "a",       "test",
                                        "for",      "cost",   "totals;", "running",
                                        "make",     "check",  "now.",    "diff",
                                        "--git",    "index",  "query",   "plan",
                                        "OK",       "{",      "}",       "\"path\":",
                                        "function", "return", "0;",      "error:"};
    size_t n = 0;
    while (n + 32 < sizeof(filler)) {
        const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
        n += (size_t)snprintf(filler + n, sizeof(filler) - n, "%s ", w);
    }
}
/* len bytes of it (at most 4 KiB), from a random place. */
static const char *text(int len, int *outlen)
{
    if (len > 4096) {
        len = 4096;
    }
    *outlen = len;
    return filler + rnd() % (sizeof(filler) - 4100);
}

/* Rows so far in this transaction: commit and begin every TX_ROWS. */
static void tick(sqlite3 *db, int64_t *rows)
{
    if (++*rows % TX_ROWS == 0) {
        exec(db, "COMMIT; BEGIN");
    }
}

typedef struct {
    char (*agent)[48]; /* agent ids */
    int64_t t0, now;   /* the runs' span: a year up to now */
    char giant_run[48];
} world_t;

static int fill_rows(const char *db_path, const sizes_t *z, world_t *w, double *secs)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(db_path, &db) != SQLITE_OK) {
        fprintf(stderr, "bigdir: open %s\n", db_path);
        return -1;
    }
    if (exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; "
                 "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF; BEGIN") != 0) {
        sqlite3_close(db);
        return -1;
    }
    double t = now_s();
    int64_t rows = 0;
    int64_t nws = z->agents / 50 + 1, nwt = z->agents / 10 + 1;
    char wsid[48], path[128], name[64];
    sqlite3_stmt *ws = prep(db, "INSERT INTO workspaces (id, name, path, created_at, updated_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?4)");
    sqlite3_stmt *wt = prep(db, "INSERT INTO worktrees (id, workspace_id, name, branch, path, "
                                "is_main, created_at, updated_at) VALUES (?1, ?2, ?3, ?3, ?4, "
                                "?5, ?6, ?6)");
    sqlite3_stmt *ag = prep(db, "INSERT INTO agents (id, worktree_id, name, executor, status, "
                                "display_order, created_at, updated_at, org_id) VALUES (?1, ?2, "
                                "?3, 'claude', 'idle', ?4, ?5, ?5, 'org_default')");
    char(*wtid)[48] = calloc((size_t)nwt, 48);
    for (int64_t i = 0; i < nws; i++) {
        mkid(wsid, sizeof(wsid), "ws", w->t0 - DAY_MS + i, (uint64_t)i);
        snprintf(name, sizeof(name), "repo-%lld", (long long)i);
        snprintf(path, sizeof(path), "/srv/repos/repo-%lld", (long long)i);
        sqlite3_bind_text(ws, 1, wsid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ws, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ws, 3, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ws, 4, w->t0 - DAY_MS);
        step(db, ws);
        for (int64_t k = i; k < nwt; k += nws) {
            mkid(wtid[k], 48, "wt", w->t0 - DAY_MS + k, (uint64_t)k);
            snprintf(name, sizeof(name), "wt-%lld", (long long)k);
            snprintf(path, sizeof(path), "/srv/repos/repo-%lld.worktrees/wt-%lld", (long long)i,
                     (long long)k);
            sqlite3_bind_text(wt, 1, wtid[k], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(wt, 2, wsid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(wt, 3, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(wt, 4, path, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(wt, 5, k == i);
            sqlite3_bind_int64(wt, 6, w->t0 - DAY_MS);
            step(db, wt);
        }
    }
    for (int64_t i = 0; i < z->agents; i++) {
        mkid(w->agent[i], 48, "ag", w->t0 - DAY_MS / 2 + i, (uint64_t)i);
        snprintf(name, sizeof(name), "agent-%lld", (long long)i);
        sqlite3_bind_text(ag, 1, w->agent[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ag, 2, wtid[i % nwt], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ag, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ag, 4, i / nwt);
        sqlite3_bind_int64(ag, 5, w->t0 - DAY_MS / 2 + i); /* as its id: no two alike */
        step(db, ag);
        tick(db, &rows);
    }
    free(wtid);
    sqlite3_finalize(ws);
    sqlite3_finalize(wt);
    sqlite3_finalize(ag);

    /* Runs one after another over the year, each with its messages inside
     * its span; a fifth of them go to the hot agents; one run of agent 0
     * in the middle has a hundredth of every message (the giant transcript). */
    sqlite3_stmt *rs = prep(
        db, "INSERT INTO runs (id, agent_id, started_at, ended_at, status, exit_code, duration_ms, "
            "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, "
            "num_turns, cli_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
            "?13, '2.0.14')");
    sqlite3_stmt *ms = prep(
        db,
        "INSERT INTO messages (id, agent_id, run_id, role, content, token_count, tool_name, "
        "tool_input, tool_output, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    int64_t gap = (w->now - w->t0) / (z->runs > 0 ? z->runs : 1);
    int64_t giant_at = z->runs / 2, giant = z->messages / 100;
    int64_t spread = z->messages - giant, done = 0, mseq = 0;
    static const char *const roles[] = {"user", "assistant", "tool", "assistant",
                                        "tool", "assistant", "tool", "assistant"};
    for (int64_t r = 0; r < z->runs; r++) {
        int64_t a = (rnd() % 5 == 0) ? (int64_t)(rnd() % HOT_AGENTS)
                                     : (int64_t)(rnd() % (uint64_t)z->agents);
        if (r == giant_at) {
            a = 0;
        }
        int64_t start = w->t0 + r * gap, dur = gap / 2 + (int64_t)(rnd() % (uint64_t)(gap / 3 + 1));
        char rid[48];
        mkid(rid, sizeof(rid), "run", start, (uint64_t)r);
        if (r == giant_at) {
            snprintf(w->giant_run, sizeof(w->giant_run), "%s", rid);
        }
        /* every run has ended: a run left running would be marked lost by the
         * first daemon to open the dir, and the next start would see other data */
        bool running = false;
        unsigned pick = (unsigned)(rnd() % 100);
        const char *status = running     ? "running"
                             : pick < 90 ? "succeeded"
                             : pick < 96 ? "failed"
                             : pick < 99 ? "stopped"
                                         : "lost";
        int64_t in = 2000 + (int64_t)(rnd() % 200000), out = 200 + (int64_t)(rnd() % 20000);
        sqlite3_bind_text(rs, 1, rid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(rs, 2, w->agent[a], -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(rs, 3, start);
        if (running) {
            sqlite3_bind_null(rs, 4);
            sqlite3_bind_null(rs, 6);
            sqlite3_bind_null(rs, 7);
        } else {
            sqlite3_bind_int64(rs, 4, start + dur);
            sqlite3_bind_int(rs, 6, strcmp(status, "failed") == 0 ? 1 : 0);
            sqlite3_bind_int64(rs, 7, dur);
        }
        sqlite3_bind_text(rs, 5, status, -1, SQLITE_STATIC);
        sqlite3_bind_int64(rs, 8, in);
        sqlite3_bind_int64(rs, 9, out);
        sqlite3_bind_int64(rs, 10, in / 2);
        sqlite3_bind_int64(rs, 11, in / 10);
        sqlite3_bind_double(rs, 12, (double)in * 3e-6 + (double)out * 15e-6);
        sqlite3_bind_int64(rs, 13, 1 + (int64_t)(rnd() % 40));
        step(db, rs);
        tick(db, &rows);

        /* this run's messages: its share of the spread, jittered by up to
         * half the mean either way, the total exact */
        int64_t want = spread * (r + 1) / z->runs - done;
        int64_t mean = spread / (z->runs > 0 ? z->runs : 1);
        int64_t n =
            want + (r + 1 < z->runs && mean > 1 ? (int64_t)(rnd() % (uint64_t)mean) - mean / 2 : 0);
        if (n < 0) {
            n = 0;
        }
        done += n;
        if (r == giant_at) {
            n += giant;
        }
        for (int64_t k = 0; k < n; k++) {
            char mid[48];
            int64_t at = start + (dur * k) / (n + 1);
            mkid(mid, sizeof(mid), "msg", at, (uint64_t)mseq++);
            const char *role = roles[k % 8];
            int len;
            const char *body = text(strcmp(role, "user") == 0   ? 40 + (int)(rnd() % 200)
                                    : strcmp(role, "tool") == 0 ? 20 + (int)(rnd() % 60)
                                                                : 40 + (int)(rnd() % 300),
                                    &len);
            sqlite3_bind_text(ms, 1, mid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ms, 2, w->agent[a], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ms, 3, rid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ms, 4, role, -1, SQLITE_STATIC);
            sqlite3_bind_text(ms, 5, body, len, SQLITE_STATIC);
            sqlite3_bind_int(ms, 6, len / 4);
            if (strcmp(role, "tool") == 0) {
                int il, ol;
                const char *ti = text(30 + (int)(rnd() % 90), &il);
                const char *to = text(50 + (int)(rnd() % 450), &ol);
                sqlite3_bind_text(ms, 7, (rnd() & 1) ? "Bash" : "Read", -1, SQLITE_STATIC);
                sqlite3_bind_text(ms, 8, ti, il, SQLITE_STATIC);
                sqlite3_bind_text(ms, 9, to, ol, SQLITE_STATIC);
            } else {
                sqlite3_bind_null(ms, 7);
                sqlite3_bind_null(ms, 8);
                sqlite3_bind_null(ms, 9);
            }
            sqlite3_bind_int64(ms, 10, at);
            step(db, ms);
            tick(db, &rows);
        }
    }
    sqlite3_finalize(rs);
    sqlite3_finalize(ms);
    if (exec(db, "COMMIT; PRAGMA journal_mode=WAL") != 0) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    *secs = now_s() - t;
    return 0;
}

typedef struct {
    int pending, failed;
} waits_t;

static void on_append(int rc, json_t *result, void *ud)
{
    waits_t *wt = ud;
    wt->pending--;
    wt->failed += rc != 0;
    json_decref(result);
}

/* Metric points through the store's series writer: training curves on the
 * first runs of agents 10-19 (a run each, 2 series), as POST
 * /api/runs/:id/metrics batches them. */
static int fill_points(uv_loop_t *loop, ad_store_t *st, const char *db_path, const sizes_t *z,
                       double *secs)
{
    if (z->points <= 0) {
        *secs = 0;
        return 0;
    }
    double t = now_s();
    int64_t nruns = z->points / 100000 + 1;
    sqlite3 *db = NULL;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *q = prep(db, "SELECT id FROM runs ORDER BY rowid LIMIT ?1");
    sqlite3_bind_int64(q, 1, nruns);
    char(*run)[48] = calloc((size_t)nruns, 48);
    int64_t got = 0;
    while (sqlite3_step(q) == SQLITE_ROW && got < nruns) {
        snprintf(run[got++], 48, "%s", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    waits_t wt = {0, 0};
    int64_t per = z->points / (got > 0 ? got : 1), left = z->points;
    for (int64_t r = 0; r < got && left > 0; r++) {
        int64_t n = r + 1 == got ? left : per;
        for (int64_t i = 0; i < n;) {
            json_t *pts = json_array();
            for (int k = 0; k < SERIES_BATCH && i < n; k++, i++) {
                double noise = ((double)(rnd() % 20001) / 10000.0 - 1.0);
                double v =
                    (double)(int64_t)((2.0 / (1.0 + (double)i / 1000.0) + noise * 0.05) * 1000.0) /
                    1000.0;
                json_array_append_new(
                    pts, json_pack("{s:s, s:I, s:I, s:f}", "name", (i & 1) ? "loss" : "reward",
                                   "step", (json_int_t)(i / 2), "ts",
                                   (json_int_t)(1760000000000 + i * 50), "value", v));
            }
            wt.pending++;
            ad_store_series_append(st,
                                   json_pack("{s:s, s:s, s:I, s:o}", "runId", run[r], "orgId",
                                             "org_default", "now", (json_int_t)0, "points", pts),
                                   on_append, &wt);
            while (wt.pending > 8) {
                uv_run(loop, UV_RUN_ONCE);
            }
        }
        left -= n;
    }
    while (wt.pending > 0) {
        uv_run(loop, UV_RUN_ONCE);
    }
    free(run);
    *secs = now_s() - t;
    return wt.failed ? -1 : 0;
}

/* The event log: records as the bus writes them (type, topics, a JSON
 * payload of 300-900 bytes), the last week's times, until it holds bytes. */
static int fill_evlog(const char *dir, const sizes_t *z, const world_t *w, double *secs)
{
    double t = now_s();
    char path[4200], err[256];
    snprintf(path, sizeof(path), "%s/events", dir);
    ad_evlog_t *log = NULL;
    if (ad_evlog_open(path, 8u << 20, false, &log, err, sizeof(err)) != 0) {
        fprintf(stderr, "bigdir: event log: %s\n", err);
        return -1;
    }
    static const char *const types[] = {"message_created", "agent_update", "run_ended", "tool_call",
                                        "agent_output"};
    uint64_t written = 0, seq = 0;
    int64_t n_est = z->evlog_bytes / 650 + 1, t_from = w->now - 6 * DAY_MS;
    char topics[128], payload[2048];
    while ((int64_t)written < z->evlog_bytes) {
        seq++;
        const char *agent = w->agent[rnd() % (uint64_t)z->agents];
        const char *type = types[seq % 5];
        int tl = snprintf(topics, sizeof(topics), "agent:%s", agent);
        int bl;
        const char *body = text(200 + (int)(rnd() % 600), &bl);
        int pl = snprintf(payload, sizeof(payload),
                          "{\"type\":\"%s\",\"agentId\":\"%s\",\"message\":{\"role\":"
                          "\"assistant\",\"content\":\"%.*s\"}}",
                          type, agent, bl, body);
        ad_evlog_rec_t rec = {.seq = seq,
                              .ts_ms = t_from + (int64_t)seq * (6 * DAY_MS) / n_est,
                              .type = type,
                              .type_len = strlen(type),
                              .topics = topics,
                              .topics_len = (size_t)tl,
                              .payload = payload,
                              .payload_len = (size_t)pl};
        if (ad_evlog_add(log, &rec) != 0) {
            fprintf(stderr, "bigdir: event log add failed at seq %llu\n", (unsigned long long)seq);
            ad_evlog_free(log);
            return -1;
        }
        written += AD_EVLOG_REC_HDR + rec.type_len + rec.topics_len + rec.payload_len + 3;
        if (seq % 10000 == 0 && ad_evlog_commit(log) != 0) {
            ad_evlog_free(log);
            return -1;
        }
    }
    int rc = ad_evlog_commit(log);
    ad_evlog_sync(log);
    ad_evlog_free(log);
    *secs = now_s() - t;
    return rc;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static int64_t du(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "du -sb '%s' 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    long long n = 0;
    if (p != NULL) {
        if (fscanf(p, "%lld", &n) != 1) {
            n = 0;
        }
        pclose(p);
    }
    return n;
}

static int64_t arg_num(const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    return end != s && v >= 0 ? (int64_t)v : -1;
}

int main(int argc, char **argv)
{
    sizes_t z = {10000, 1000000, 50000000, 100000000, 10000000000LL};
    double scale = 1;
    const char *dir = NULL;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--keep") == 0) {
            keep = true;
            continue;
        }
        if (strcmp(argv[i], "--dir") == 0) {
            dir = v;
        } else if (strcmp(argv[i], "--scale") == 0) {
            scale = strtod(v, NULL);
        } else if (strcmp(argv[i], "--agents") == 0) {
            z.agents = arg_num(v);
        } else if (strcmp(argv[i], "--runs") == 0) {
            z.runs = arg_num(v);
        } else if (strcmp(argv[i], "--messages") == 0) {
            z.messages = arg_num(v);
        } else if (strcmp(argv[i], "--points") == 0) {
            z.points = arg_num(v);
        } else if (strcmp(argv[i], "--evlog-bytes") == 0) {
            z.evlog_bytes = arg_num(v);
        } else {
            fprintf(stderr, "usage: bigdir [--dir DIR] [--scale F] [--agents N] [--runs N] "
                            "[--messages N] [--points N] [--evlog-bytes N] [--keep]\n");
            return 2;
        }
        i++;
    }
    if (scale <= 0 || scale > 1) {
        fprintf(stderr, "bigdir: --scale from 0 to 1\n");
        return 2;
    }
    z.agents = (int64_t)((double)z.agents * scale);
    z.runs = (int64_t)((double)z.runs * scale);
    z.messages = (int64_t)((double)z.messages * scale);
    z.points = (int64_t)((double)z.points * scale);
    z.evlog_bytes = (int64_t)((double)z.evlog_bytes * scale);
    if (z.agents < HOT_AGENTS + 10 || z.runs < 100 || z.agents > 1000000 || z.runs > 100000000 ||
        z.messages > 2000000000LL || z.points > 2000000000LL || z.evlog_bytes > (1LL << 40)) {
        fprintf(stderr, "bigdir: sizes out of range (agents >= 20, runs >= 100)\n");
        return 2;
    }
    char tmp[] = "/tmp/agentd-bigdir-XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmp);
        if (dir == NULL) {
            perror("bigdir: mkdtemp");
            return 1;
        }
    } else if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) {
        perror("bigdir: --dir");
        return 1;
    } else {
        keep = true;
    }
    char db_path[4200], done_path[4200], sig[256];
    snprintf(db_path, sizeof(db_path), "%s/agentd.db", dir);
    snprintf(done_path, sizeof(done_path), "%s/bigdir.done", dir);
    snprintf(sig, sizeof(sig), "agents=%lld runs=%lld messages=%lld points=%lld evlog=%lld",
             (long long)z.agents, (long long)z.runs, (long long)z.messages, (long long)z.points,
             (long long)z.evlog_bytes);
    if (done_same(done_path, sig)) {
        printf("{\"dir\":\"%s\",\"reused\":true,\"agents\":%lld,\"runs\":%lld,"
               "\"messages\":%lld,\"points\":%lld,\"evlogBytes\":%lld,\"bytes\":%lld}\n",
               dir, (long long)z.agents, (long long)z.runs, (long long)z.messages,
               (long long)z.points, (long long)z.evlog_bytes, (long long)du(dir));
        return 0;
    }
    if (access(db_path, F_OK) == 0) {
        fprintf(stderr, "bigdir: %s holds a data dir of other sizes; remove it first\n", dir);
        return 1;
    }
    filler_init();
    world_t w = {0};
    w.now = (int64_t)time(NULL) * 1000;
    w.t0 = w.now - 365 * DAY_MS;
    w.agent = calloc((size_t)z.agents, 48);
    double t_all = now_s(), t_rows = 0, t_points = 0, t_log = 0, t_mig;

    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = db_path};
    char err[256];
    if (ad_store_open(&loop, &o, &st, err, sizeof(err)) != 0) { /* the migrations */
        fprintf(stderr, "bigdir: open: %s\n", err);
        return 1;
    }
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    t_mig = now_s() - t_all;
    int rc = fill_rows(db_path, &z, &w, &t_rows);
    if (rc == 0 && ad_store_open(&loop, &o, &st, err, sizeof(err)) == 0) {
        rc = fill_points(&loop, st, db_path, &z, &t_points);
        ad_store_close(st);
        uv_run(&loop, UV_RUN_DEFAULT);
    } else if (rc == 0) {
        fprintf(stderr, "bigdir: reopen: %s\n", err);
        rc = -1;
    }
    uv_loop_close(&loop);
    if (rc == 0) {
        rc = fill_evlog(dir, &z, &w, &t_log);
    }
    if (rc == 0) {
        sqlite3 *db = NULL;
        sqlite3_open(db_path, &db);
        exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
        sqlite3_close(db);
        umask(077);
        done_write(done_path, sig);
    }
    printf("{\"dir\":\"%s\",\"reused\":false,\"ok\":%s,\"agents\":%lld,\"runs\":%lld,"
           "\"messages\":%lld,\"points\":%lld,\"evlogBytes\":%lld,\"bytes\":%lld,"
           "\"giantRun\":\"%s\",\"seconds\":{\"migrations\":%.2f,\"rows\":%.2f,\"points\":%.2f,"
           "\"evlog\":%.2f,\"all\":%.2f}}\n",
           dir, rc == 0 ? "true" : "false", (long long)z.agents, (long long)z.runs,
           (long long)z.messages, (long long)z.points, (long long)z.evlog_bytes, (long long)du(dir),
           w.giant_run, t_mig, t_rows, t_points, t_log, now_s() - t_all);
    free(w.agent);
    if (!keep) {
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    return rc == 0 ? 0 : 1;
}
