/* SPDX-License-Identifier: MIT */
/*
 * Row S4 of bench/README.md (issue #76): a data dir of N messages (default
 * 1,000,000) for search. Opened through the store (every migration runs),
 * then made to look like a data dir from before migration 2950 (the search
 * index, its view and triggers dropped, the migration unrecorded), filled
 * by plain INSERTs in big transactions, and opened through the store again,
 * which runs 2950 and so indexes every message: that open's time is the
 * backfill an upgraded data dir pays once. Two organisations, 100 agents
 * each; messages of 20 to 80 words drawn from a vocabulary of 20,000 made-up
 * words with Zipf's frequencies (the word of rank r about N*50/(10.5 r)
 * times), every third a tool call with its input and output. The words are
 * w<rank> spelled in letters (bench/search.js asks for ranks by band).
 * Linked against libagentd.a (make build/release/bench/searchgen).
 *
 * Usage: searchgen --dir DIR [--messages N]
 * A DIR holding a finished dir of the same size (DIR/searchgen.done) is
 * reused. Prints one JSON line: sizes, seconds (migrations, rows, backfill)
 * and bytes on disk.
 */
#define GEN_NAME "searchgen"
#include "gen.h"
#include "store/store.h"
#include "store/store_int.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VOCAB 20000
#define AGENTS_PER_ORG 100
#define TX_ROWS 100000

/* The word of rank r (1-based): its number in base 26 as letters after a
 * "q", so no two ranks share a word and none is an English word. */
static int word(int r, char *out)
{
    int n = 0;
    out[n++] = 'q';
    for (int v = r; v > 0; v /= 26) {
        out[n++] = (char)('a' + v % 26);
    }
    out[n] = '\0';
    return n;
}

/* Zipf's cumulative weights over the vocabulary, for drawing a rank. */
static double cdf[VOCAB + 1];
static void zipf_init(void)
{
    double s = 0;
    for (int r = 1; r <= VOCAB; r++) {
        s += 1.0 / r;
        cdf[r] = s;
    }
    for (int r = 1; r <= VOCAB; r++) {
        cdf[r] /= s;
    }
}
static int zipf(void)
{
    double u = (double)(rnd() >> 11) / 9007199254740992.0;
    int lo = 1, hi = VOCAB;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] < u) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int text(char *out, size_t cap, int words)
{
    size_t n = 0;
    for (int i = 0; i < words && n + 16 < cap; i++) {
        n += (size_t)word(zipf(), out + n);
        out[n++] = ' ';
    }
    out[n] = '\0';
    return (int)n;
}

static int fill(const char *path, int64_t n, int64_t t0)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        return -1;
    }
    /* a data dir from before search: no index, no triggers, 2950 not applied */
    if (exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; "
                 "PRAGMA foreign_keys=OFF; BEGIN; DROP TRIGGER search_messages_ai; "
                 "DROP TRIGGER search_messages_ad; DROP TRIGGER search_messages_au; "
                 "DROP TABLE search_fts; DROP VIEW search_docs; DELETE FROM schema_migrations "
                 "WHERE version = 2950; INSERT INTO orgs (id, name, created_at) VALUES "
                 "('org_bench', 'bench', 0); INSERT INTO workspaces (id, name, path, created_at, "
                 "updated_at) VALUES ('ws_bench', 'bench', '/srv/bench', 0, 0); INSERT INTO "
                 "worktrees (id, workspace_id, name, branch, path, is_main, created_at, "
                 "updated_at) VALUES ('wt_bench', 'ws_bench', 'bench', 'main', '/srv/bench', 1, "
                 "0, 0)") != 0) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_stmt *ag = prep(db, "INSERT INTO agents (id, worktree_id, name, executor, status, "
                                "created_at, updated_at, org_id) VALUES (?1, 'wt_bench', ?1, "
                                "'claude', 'idle', 0, 0, ?2)");
    char id[64];
    for (int i = 0; i < 2 * AGENTS_PER_ORG; i++) {
        snprintf(id, sizeof(id), "ag_bench%04d", i);
        sqlite3_bind_text(ag, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ag, 2, i < AGENTS_PER_ORG ? "org_default" : "org_bench", -1,
                          SQLITE_STATIC);
        step(db, ag);
    }
    sqlite3_finalize(ag);
    sqlite3_stmt *ms = prep(db, "INSERT INTO messages (id, agent_id, role, content, tool_name, "
                                "tool_input, tool_output, created_at) VALUES (?1, ?2, ?3, ?4, "
                                "?5, ?6, ?7, ?8)");
    static char body[2048], in[1024], out[2048];
    for (int64_t k = 0; k < n; k++) {
        snprintf(id, sizeof(id), "msg_%026lld", (long long)k);
        char agent[32];
        snprintf(agent, sizeof(agent), "ag_bench%04d", (int)(rnd() % (2 * AGENTS_PER_ORG)));
        bool tool = k % 3 == 2;
        sqlite3_bind_text(ms, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ms, 2, agent, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ms, 3, tool ? "tool" : (k % 3 == 0 ? "user" : "assistant"), -1,
                          SQLITE_STATIC);
        int len = tool ? 0 : text(body, sizeof(body), 20 + (int)(rnd() % 61));
        sqlite3_bind_text(ms, 4, body, len, SQLITE_STATIC);
        if (tool) {
            int il = text(in, sizeof(in), 4 + (int)(rnd() % 8));
            int ol = text(out, sizeof(out), 20 + (int)(rnd() % 61));
            sqlite3_bind_text(ms, 5, (rnd() & 1) ? "Bash" : "Read", -1, SQLITE_STATIC);
            sqlite3_bind_text(ms, 6, in, il, SQLITE_STATIC);
            sqlite3_bind_text(ms, 7, out, ol, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(ms, 5);
            sqlite3_bind_null(ms, 6);
            sqlite3_bind_null(ms, 7);
        }
        sqlite3_bind_int64(ms, 8, t0 + k * 1000);
        step(db, ms);
        if ((k + 1) % TX_ROWS == 0 && exec(db, "COMMIT; BEGIN") != 0) {
            return -1;
        }
    }
    sqlite3_finalize(ms);
    int rc = exec(db, "COMMIT; PRAGMA journal_mode=WAL");
    sqlite3_close(db);
    return rc;
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int open_close(uv_loop_t *loop, const char *path)
{
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = path};
    char err[256];
    if (ad_store_open(loop, &o, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "searchgen: open: %s\n", err);
        return -1;
    }
    ad_store_close(st);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int64_t n = 1000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        } else if (strcmp(argv[i], "--messages") == 0) {
            n = strtoll(argv[i + 1], NULL, 10);
        }
    }
    if (dir == NULL || n < 1000 || n > 100000000) {
        fprintf(stderr, "usage: searchgen --dir DIR [--messages N (1000 to 100M)]\n");
        return 2;
    }
    char db_path[4200], done_path[4200], sig[64];
    snprintf(db_path, sizeof(db_path), "%s/agentd.db", dir);
    snprintf(done_path, sizeof(done_path), "%s/searchgen.done", dir);
    snprintf(sig, sizeof(sig), "messages=%lld", (long long)n);
    if (done_same(done_path, sig)) {
        printf("{\"dir\":\"%s\",\"reused\":true,\"messages\":%lld,\"bytes\":%lld}\n", dir,
               (long long)n, file_bytes(db_path));
        return 0;
    }
    if ((mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) || access(db_path, F_OK) == 0) {
        fprintf(stderr, "searchgen: %s must be a new or empty folder\n", dir);
        return 1;
    }
    zipf_init();
    uv_loop_t loop;
    uv_loop_init(&loop);
    double t = now_s();
    if (open_close(&loop, db_path) != 0) { /* every migration */
        return 1;
    }
    double t_mig = now_s() - t;
    t = now_s();
    if (fill(db_path, n, (int64_t)time(NULL) * 1000 - n * 1000) != 0) {
        return 1;
    }
    double t_rows = now_s() - t;
    long long before = file_bytes(db_path);
    t = now_s();
    if (open_close(&loop, db_path) != 0) { /* 2950: the backfill */
        return 1;
    }
    double t_fill = now_s() - t;
    uv_loop_close(&loop);
    done_write(done_path, sig);
    printf("{\"dir\":\"%s\",\"reused\":false,\"messages\":%lld,\"bytesBefore\":%lld,"
           "\"bytes\":%lld,\"seconds\":{\"migrations\":%.2f,\"rows\":%.2f,\"backfill\":%.2f}}\n",
           dir, (long long)n, before, file_bytes(db_path), t_mig, t_rows, t_fill);
    return 0;
}
