/* SPDX-License-Identifier: MIT */
/*
 * GET /api/usage/agents: each agent's usage in a period, costliest first,
 * at most 500, with their totals (ad_store_usage_agents_text).
 *
 * Summed here, not by SQL. One SQL statement (sum per agent, join agents,
 * sort, LIMIT 500) grouped every row of the period in a temporary b-tree,
 * joined every agent and sorted them all: 21 ms of CPU for a month of
 * 10,000 agents (bench/README, F2). Reading every row of the period and
 * summing it here was still 5 ms. Now the agents whose row of the period is
 * not the whole of their usage (a run still running, a run that ended past
 * now) are summed first, their agents looked up a batch at a time; then
 * the others are read costliest first by an index (agent_usage_by_cost,
 * migration 2880) joined to their agents (name, organisation; by
 * agents_for_usage, migration 2890: one b-tree descent each), until no
 * row left unread can be among the first 500 of the caller's
 * organisation. The answer is written as text, no json_t.
 *
 * Threads: the loop thread (the read connection). Everything allocated here
 * is freed before return.
 */
#include "store/table.h"
#include "tables/usage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP 500
/* agents of the extras looked up per statement (64 in test builds, so
 * their tests cross batches) */
#ifdef AD_TEST_BUILD
#define BATCH 64
#else
#define BATCH 640
#endif
/* the most agents a period can list before the read refuses (AD_ETOOBIG) */
#define SUMS_MAX (4u << 20)
/* the found agents' names, worktrees and executors: an arena's chunk and
 * cap (names and ids are bounded where they are stored) */
#define NAMES_CHUNK (32u << 10)
#define NAMES_MAX ((size_t)1 << 30)

typedef struct {
    char id[AD_ID_MAX];
    int64_t runs, input, output, cache_read, cache_write;
    double cost;
    /* once the agent was found (name not NULL): its name, worktree and
     * executor, in the caller's arena, and when it was deleted */
    const char *name, *worktree, *executor;
    int64_t deleted_at; /* 0: not deleted */
} sum_t;

typedef struct {
    sum_t *v;
    size_t n, cap;
} sums_t;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const sum_t *)a)->id, ((const sum_t *)b)->id);
}

/* Costliest first; then most tokens. */
static int by_cost(const sum_t *a, const sum_t *b)
{
    if (a->cost != b->cost) {
        return a->cost > b->cost ? -1 : 1;
    }
    int64_t ta = a->input + a->output, tb = b->input + b->output;
    return ta == tb ? 0 : ta > tb ? -1 : 1;
}

/* The answer's order: by cost, then by name (as SQLite's BINARY); sorts
 * pointers (an entry is 136 bytes). */
static int by_cost_name(const void *a, const void *b)
{
    const sum_t *x = *(sum_t *const *)a, *y = *(sum_t *const *)b;
    int c = by_cost(x, y);
    return c != 0 ? c : strcmp(x->name, y->name);
}

/* A new entry at the end of s (AD_ETOOBIG past SUMS_MAX). */
static int grow(sums_t *s, sum_t **out)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        sum_t *v = cap <= SUMS_MAX ? realloc(s->v, cap * sizeof(*v)) : NULL;
        if (v == NULL) {
            return cap <= SUMS_MAX ? AD_ENOMEM : AD_ETOOBIG;
        }
        s->v = v;
        s->cap = cap;
    }
    *out = &s->v[s->n++];
    return 0;
}

/* Fills e from st's row (agent_id, runs, input, output, cache read, cache
 * write, cost). */
static void from_row(sum_t *e, ad_db_stmt_t *st)
{
    const char *id = (const char *)ad_db_column_text(st, 0);
    size_t len = id != NULL ? (size_t)ad_db_column_bytes(st, 0) : 0;
    len = len < sizeof(e->id) ? len : sizeof(e->id) - 1;
    memcpy(e->id, id != NULL ? id : "", len);
    e->id[len] = '\0';
    e->runs = ad_db_column_int64(st, 1);
    e->input = ad_db_column_int64(st, 2);
    e->output = ad_db_column_int64(st, 3);
    e->cache_read = ad_db_column_int64(st, 4);
    e->cache_write = ad_db_column_int64(st, 5);
    e->cost = ad_db_column_double(st, 6);
    e->name = NULL;
}

#define USAGE_COLS                                                                                 \
    "runs, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd"

/* The agents whose row of the period's first day (start_day = day) is not
 * all they used in it, with all they used: the runs still running, the
 * rows of a later start day of the kind (runs that ended past now), and
 * those agents' rows of the day. One entry per agent, sorted by id. */
static int read_extras(ad_db_t *db, const char *kind, int64_t day, sums_t *s)
{
    ad_db_stmt_t *st = ad_store_stmt(
        db, "SELECT agent_id, " USAGE_COLS " FROM agent_usage WHERE kind = ?2 AND start_day > ?1 "
            "AND runs > 0 UNION ALL SELECT agent_id, 1, input_tokens, output_tokens, "
            "cache_read_tokens, cache_write_tokens, cost_usd FROM runs INDEXED BY runs_by_end "
            "WHERE ended_at IS NULL UNION ALL SELECT agent_id, " USAGE_COLS " FROM agent_usage "
            "WHERE kind = ?2 AND start_day = ?1 AND runs > 0 AND agent_id IN (SELECT agent_id "
            "FROM runs INDEXED BY runs_by_end WHERE ended_at IS NULL UNION SELECT agent_id FROM "
            "agent_usage WHERE kind = ?2 AND start_day > ?1)");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(st, 1, day);
    ad_db_bind_text(st, 2, kind, -1, AD_DB_STATIC);
    int rc, err = 0;
    sum_t *e;
    while (err == 0 && (rc = ad_db_step(st)) == AD_DB_ROW) {
        err = grow(s, &e);
        if (err == 0) {
            from_row(e, st);
        }
    }
    ad_db_reset(st);
    if (err != 0) {
        return err;
    }
    if (rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    if (s->n == 0) {
        return 0;
    }
    qsort(s->v, s->n, sizeof(*s->v), by_id);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w > 0 && strcmp(s->v[w - 1].id, s->v[i].id) == 0) {
            sum_t *d = &s->v[w - 1];
            d->runs += s->v[i].runs;
            d->input += s->v[i].input;
            d->output += s->v[i].output;
            d->cache_read += s->v[i].cache_read;
            d->cache_write += s->v[i].cache_write;
            d->cost += s->v[i].cost;
        } else {
            s->v[w++] = s->v[i];
        }
    }
    s->n = w;
    return 0;
}

static int by_id_p(const void *a, const void *b)
{
    return strcmp((*(sum_t *const *)a)->id, (*(sum_t *const *)b)->id);
}

/* Keeps the agent of st's row with e: its name, worktree_id, executor and
 * deleted_at, columns col to col + 3; the strings in names. */
static int keep_agent(sum_t *e, ad_db_stmt_t *st, int col, ad_arena_t *names)
{
    const char *v[3];
    size_t len[3], total = 0;
    for (int i = 0; i < 3; i++) {
        v[i] = (const char *)ad_db_column_text(st, col + i);
        len[i] = v[i] != NULL ? (size_t)ad_db_column_bytes(st, col + i) : 0;
        if (v[i] == NULL || !ad_utf8_valid(v[i], len[i])) { /* never crash */
            v[i] = "";
            len[i] = 0;
        }
        total += len[i] + 1;
    }
    char *p = ad_arena_alloc(names, total);
    if (p == NULL) {
        return AD_ENOMEM;
    }
    const char **dst[3] = {&e->name, &e->worktree, &e->executor};
    for (int i = 0; i < 3; i++) {
        memcpy(p, v[i], len[i]);
        p[len[i]] = '\0';
        *dst[i] = p;
        p += len[i] + 1;
    }
    e->deleted_at =
        ad_db_column_type(st, col + 3) != AD_DB_NULL ? ad_db_column_int64(st, col + 3) : 0;
    return 0;
}

/* Looks up the agents of batch[0..n) (of org, "" any) in one statement and
 * keeps what the answer shows of each one found, its strings in names.
 * batch is sorted by id here. */
static int look_up(ad_db_t *db, sum_t **batch, size_t n, const char *org, ad_arena_t *names)
{
    qsort(batch, n, sizeof(*batch), by_id_p);
    ad_buf_t ids;
    ad_buf_init(&ids, (size_t)BATCH * (AD_ID_MAX + 4) + 4);
    int err = ad_buf_putc(&ids, '[');
    for (size_t i = 0; i < n && err == 0; i++) {
        err = i > 0 ? ad_buf_putc(&ids, ',') : 0;
        err = err ? err : ad_json_string(&ids, batch[i]->id, strlen(batch[i]->id));
    }
    err = err ? err : ad_buf_putc(&ids, ']');
    ad_db_stmt_t *st = err == 0 ? ad_store_stmt(db, "SELECT id, name, worktree_id, executor, "
                                                    "deleted_at FROM agents INDEXED BY "
                                                    "agents_for_usage WHERE id IN "
                                                    "(SELECT value FROM json_each(?1)) AND "
                                                    "(?2 = '' OR org_id = ?2)")
                                : NULL;
    if (st == NULL) {
        ad_buf_cleanup(&ids);
        return err ? err : AD_EINTERNAL;
    }
    ad_db_bind_text(st, 1, ids.data, (int)ids.len, AD_DB_STATIC);
    ad_store_bind_text(st, 2, org);
    int rc;
    while (err == 0 && (rc = ad_db_step(st)) == AD_DB_ROW) {
        sum_t key;
        const char *id = (const char *)ad_db_column_text(st, 0);
        snprintf(key.id, sizeof(key.id), "%s", id != NULL ? id : "");
        sum_t *kp = &key;
        sum_t **hit = bsearch(&kp, batch, n, sizeof(*batch), by_id_p);
        if (hit != NULL && (*hit)->name == NULL) {
            err = keep_agent(*hit, st, 1, names);
        }
    }
    ad_db_reset(st);
    ad_buf_cleanup(&ids);
    return err != 0 ? err : rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* One agent of the answer, as its JSON text. */
static int put_row(ad_buf_t *b, const sum_t *e)
{
    int rc = ad_buf_lit(b, "{\"agentId\":");
    rc = rc ? rc : ad_json_string(b, e->id, strlen(e->id));
    rc = rc ? rc : ad_buf_lit(b, ",\"name\":");
    rc = rc ? rc : ad_json_string(b, e->name, strlen(e->name));
    rc = rc ? rc : ad_buf_lit(b, ",\"worktreeId\":");
    rc = rc ? rc : ad_json_string(b, e->worktree, strlen(e->worktree));
    rc = rc ? rc : ad_buf_lit(b, ",\"executor\":");
    rc = rc ? rc : ad_json_string(b, e->executor, strlen(e->executor));
    if (rc == 0 && e->deleted_at != 0) {
        char ts[AD_TIME_MAX];
        ad_time_format(e->deleted_at, ts);
        rc = ad_buf_lit(b, ",\"deletedAt\":");
        rc = rc ? rc : ad_json_string(b, ts, strlen(ts));
    }
    rc = rc ? rc : ad_buf_lit(b, ",\"runs\":");
    rc = rc ? rc : ad_json_integer(b, e->runs);
    rc = rc ? rc : ad_buf_lit(b, ",\"inputTokens\":");
    rc = rc ? rc : ad_json_integer(b, e->input);
    rc = rc ? rc : ad_buf_lit(b, ",\"outputTokens\":");
    rc = rc ? rc : ad_json_integer(b, e->output);
    rc = rc ? rc : ad_buf_lit(b, ",\"cacheReadTokens\":");
    rc = rc ? rc : ad_json_integer(b, e->cache_read);
    rc = rc ? rc : ad_buf_lit(b, ",\"cacheWriteTokens\":");
    rc = rc ? rc : ad_json_integer(b, e->cache_write);
    rc = rc ? rc : ad_buf_lit(b, ",\"totalTokens\":");
    rc = rc ? rc : ad_json_integer(b, e->input + e->output);
    rc = rc ? rc : ad_buf_lit(b, ",\"costUsd\":");
    rc = rc ? rc : ad_json_real(b, isfinite(e->cost) ? e->cost : 0);
    return rc ? rc : ad_buf_putc(b, '}');
}

/* The answer's text for the agents *found[0..n): {period, from, totals,
 * agents}; the totals are of the agents listed. */
static int put_answer(ad_buf_t *b, const char *period, const char *from, sum_t *const *found,
                      size_t n)
{
    int64_t runs = 0, input = 0, output = 0;
    double cost = 0;
    for (size_t i = 0; i < n; i++) {
        runs += found[i]->runs;
        input += found[i]->input;
        output += found[i]->output;
        cost += found[i]->cost;
    }
    int rc = ad_buf_lit(b, "{\"period\":");
    rc = rc ? rc : ad_json_string(b, period, strlen(period));
    rc = rc ? rc : ad_buf_lit(b, ",\"from\":");
    rc = rc ? rc : ad_json_string(b, from, strlen(from));
    rc = rc ? rc : ad_buf_lit(b, ",\"totals\":{\"runs\":");
    rc = rc ? rc : ad_json_integer(b, runs);
    rc = rc ? rc : ad_buf_lit(b, ",\"inputTokens\":");
    rc = rc ? rc : ad_json_integer(b, input);
    rc = rc ? rc : ad_buf_lit(b, ",\"outputTokens\":");
    rc = rc ? rc : ad_json_integer(b, output);
    rc = rc ? rc : ad_buf_lit(b, ",\"totalTokens\":");
    rc = rc ? rc : ad_json_integer(b, input + output);
    rc = rc ? rc : ad_buf_lit(b, ",\"costUsd\":");
    rc = rc ? rc : ad_json_real(b, isfinite(cost) ? cost : 0);
    rc = rc ? rc : ad_buf_lit(b, "},\"agents\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = i > 0 ? ad_buf_putc(b, ',') : 0;
        rc = rc ? rc : put_row(b, found[i]);
    }
    return rc ? rc : ad_buf_lit(b, "]}");
}

/* Looks up the agents of v[0..n) (of org, "" any) a batch at a time and
 * copies those found to the end of found, their strings in names. */
static int keep_found(ad_db_t *db, sum_t *v, size_t n, const char *org, ad_arena_t *names,
                      sums_t *found)
{
    sum_t *batch[BATCH];
    int err = 0;
    for (size_t i = 0; err == 0 && i < n; i += BATCH) {
        size_t k = n - i < BATCH ? n - i : BATCH;
        for (size_t j = 0; j < k; j++) {
            batch[j] = &v[i + j];
        }
        err = look_up(db, batch, k, org, names);
    }
    sum_t *e;
    for (size_t i = 0; i < n && err == 0; i++) {
        if (v[i].name != NULL && (err = grow(found, &e)) == 0) {
            *e = v[i];
        }
    }
    return err;
}

/* Reads the period's rows of the other agents of org costliest first, each
 * with its agent from one join, into found, until a row costs less than
 * the TOP-th read: no row after it can be among the first TOP. Rows of the
 * agents of extras (whole already) are passed over. (The agents were
 * looked up a batch at a time by ids sent as JSON before: the join is a
 * third less CPU; bench/README, F2.) */
static int scan(ad_db_t *db, const char *kind, int64_t day, const sums_t *extras, const char *org,
                ad_arena_t *names, sums_t *found)
{
    ad_db_stmt_t *st = ad_store_stmt(
        db, "SELECT u.agent_id, u.runs, u.input_tokens, u.output_tokens, u.cache_read_tokens, "
            "u.cache_write_tokens, u.cost_usd, a.name, a.worktree_id, a.executor, a.deleted_at "
            "FROM agent_usage u INDEXED BY agent_usage_by_cost CROSS JOIN agents a INDEXED BY "
            "agents_for_usage WHERE u.kind "
            "= ?2 AND u.start_day = ?1 AND u.runs > 0 AND a.id = u.agent_id AND (?3 = '' OR "
            "a.org_id = ?3) ORDER BY u.cost_usd DESC");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(st, 1, day);
    ad_db_bind_text(st, 2, kind, -1, AD_DB_STATIC);
    ad_store_bind_text(st, 3, org);
    size_t read = 0;
    double bar = 0; /* the TOP-th row's cost */
    int rc, err = 0;
    while (err == 0 && (rc = ad_db_step(st)) == AD_DB_ROW) {
        sum_t e;
        from_row(&e, st);
        if (read >= TOP && e.cost < bar) {
            rc = AD_DB_DONE;
            break;
        }
        if (extras->n > 0 && bsearch(&e, extras->v, extras->n, sizeof(*extras->v), by_id) != NULL) {
            continue;
        }
        sum_t *slot;
        err = keep_agent(&e, st, 7, names);
        err = err ? err : grow(found, &slot);
        if (err == 0) {
            *slot = e;
        }
        if (++read == TOP) {
            bar = e.cost;
        }
    }
    ad_db_reset(st);
    return err != 0 ? err : rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

int ad_store_usage_agents_text(ad_store_t *st, const char *period, int64_t now, const char *org,
                               ad_buf_t *out)
{
    char key[16], buf[32];
    int64_t since_ms = 0;
    if (ad_usage_period_key(now, period, key) != 0) {
        return AD_EINVAL;
    }
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", key);
    if (ad_time_parse(buf, &since_ms) != 0) {
        return AD_EINTERNAL;
    }
    const char *kind = strcmp(period, "weekly") == 0    ? "w"
                       : strcmp(period, "monthly") == 0 ? "m"
                                                        : "d";
    /* the first day computed here: PostgreSQL types ?1 / 86400000 int4 */
    int64_t day = since_ms / 86400000;
    ad_db_t *db = ad_store_rdb(st);
    org = org != NULL ? org : "";
    sums_t extras = {NULL, 0, 0}, found = {NULL, 0, 0};
    ad_arena_t names;
    ad_arena_init(&names, NAMES_CHUNK, NAMES_MAX);
    sum_t **order = NULL;
    int err = read_extras(db, kind, day, &extras);
    if (err == 0) {
        err = keep_found(db, extras.v, extras.n, org, &names, &found);
    }
    if (err == 0) {
        err = scan(db, kind, day, &extras, org, &names, &found);
    }
    if (err == 0 && found.n > 0) {
        order = malloc(found.n * sizeof(*order));
        err = order != NULL ? 0 : AD_ENOMEM;
    }
    if (err == 0 && found.n > 0) {
        for (size_t i = 0; i < found.n; i++) {
            order[i] = &found.v[i];
        }
        qsort(order, found.n, sizeof(*order), by_cost_name);
    }
    if (err == 0) {
        err = put_answer(out, period, key, order, found.n < TOP ? found.n : TOP);
    }
    free(order);
    ad_arena_cleanup(&names);
    free(found.v);
    free(extras.v);
    return err;
}
