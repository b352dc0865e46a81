/* SPDX-License-Identifier: MIT */
/*
 * Tests for the run life cycle with a real store (temporary data dir), the
 * real supervisor and tests/fixtures/fake-agent.js as a `command` agent.
 * The bus is replaced by a recorder defined here (the archive's bus.o is
 * then not linked). Every wait is bounded.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"
#include "run/run_int.h"  /* ad_run_take_held: take_up without a plane */
#include "run/features.h" /* ad_run_resume_time */
#include "bus/bus.h"
#include "store/store.h"
#include "tables/runs.h"
#include "store/store_int.h"
#include "store_fixture.h"

/* A hang guard, not a bound: a start on a machine as loaded as make check's
 * (tsan, PostgreSQL and the browser beside it) took over 20 s. */
#define WAIT_MS 120000
#define MAX_EVENTS 4096

static char fake_agent[4096];

/* ---- a recording bus ------------------------------------------------------- */

static struct {
    char *type[MAX_EVENTS];
    json_t *payload[MAX_EVENTS];
    char *topic0[MAX_EVENTS];
    size_t n;
} ev;

struct ad_bus {
    int unused;
};

ad_bus_t *ad_bus_new(uv_loop_t *loop, const ad_config_t *cfg)
{
    AD_UNUSED(loop);
    AD_UNUSED(cfg);
    return ad_xcalloc(1, sizeof(ad_bus_t));
}

void ad_bus_free(ad_bus_t *bus)
{
    free(bus);
}

uint64_t ad_bus_publish(ad_bus_t *bus, const char *type, const char *const *topics, size_t ntopics,
                        json_t *payload)
{
    AD_UNUSED(bus);
    if (ev.n < MAX_EVENTS) {
        ev.type[ev.n] = ad_xstrdup(type);
        ev.payload[ev.n] = json_incref(payload);
        ev.topic0[ev.n] = ad_xstrdup(ntopics > 0 ? topics[0] : "");
        ev.n++;
    }
    return ev.n;
}

/* The store's message record publishes its text this way (msgrecord.c):
 * recorded as ad_bus_publish does, its first pair as the topic. */
uint64_t ad_bus_publish_text_to(ad_bus_t *bus, const char *type, const char *payload, size_t len,
                                ...)
{
    AD_UNUSED(bus);
    va_list ap;
    va_start(ap, len);
    const char *key = va_arg(ap, const char *);
    const char *val = key != NULL ? va_arg(ap, const char *) : NULL;
    va_end(ap);
    if (ev.n < MAX_EVENTS) {
        char topic[256];
        snprintf(topic, sizeof(topic), "%s:%s", key != NULL ? key : "", val != NULL ? val : "");
        ev.type[ev.n] = ad_xstrdup(type);
        ev.payload[ev.n] = json_loadb(payload, len, 0, NULL);
        ev.topic0[ev.n] = ad_xstrdup(key != NULL ? topic : "");
        ev.n++;
    }
    return ev.n;
}

uint64_t ad_bus_seq(const ad_bus_t *bus)
{
    AD_UNUSED(bus);
    return ev.n;
}

uint64_t ad_bus_persisted_seq(const ad_bus_t *bus)
{
    AD_UNUSED(bus);
    return ev.n;
}

size_t ad_bus_unpersisted_bytes(const ad_bus_t *bus)
{
    AD_UNUSED(bus);
    return 0;
}

/* The runner follows other planes' output only with Redis (src/run/seen.c):
 * never here, but linked. */
ad_bus_sub_t *ad_bus_sub_new(ad_bus_t *bus, const ad_bus_sub_ops_t *ops, void *ud,
                             size_t queue_limit)
{
    AD_UNUSED(bus);
    AD_UNUSED(ops);
    AD_UNUSED(ud);
    AD_UNUSED(queue_limit);
    return NULL;
}

int ad_bus_subscribe(ad_bus_sub_t *sub, const char *const *topics, size_t n, bool has_since,
                     uint64_t since)
{
    AD_UNUSED(sub);
    AD_UNUSED(topics);
    AD_UNUSED(n);
    AD_UNUSED(has_since);
    AD_UNUSED(since);
    return AD_EINVAL;
}

void ad_bus_sub_free(ad_bus_sub_t *sub)
{
    AD_UNUSED(sub);
}

void ad_bus_deliver_turn(ad_bus_t *bus)
{
    AD_UNUSED(bus); /* events are recorded as they are published */
}

static void events_clear(void)
{
    for (size_t i = 0; i < ev.n; i++) {
        free(ev.type[i]);
        free(ev.topic0[i]);
        json_decref(ev.payload[i]);
    }
    ev.n = 0;
}

/* The index of the first event of type whose payload has key == value
 * (value NULL: any), or -1. */
static int find_event(const char *type, const char *key, const char *value)
{
    for (size_t i = 0; i < ev.n; i++) {
        if (strcmp(ev.type[i], type) != 0) {
            continue;
        }
        if (key == NULL) {
            return (int)i;
        }
        const char *v = json_string_value(json_object_get(ev.payload[i], key));
        if (v != NULL && (value == NULL || strstr(v, value) != NULL)) {
            return (int)i;
        }
    }
    return -1;
}

static size_t count_events(const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < ev.n; i++) {
        n += strcmp(ev.type[i], type) == 0;
    }
    return n;
}

/* ---- fixture ------------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    ad_config_t cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    ad_procs_t *procs;
    ad_runner_t *runner;
    char dir[256];
} fx_t;

static bool timed_out;
static void on_guard(uv_timer_t *t)
{
    AD_UNUSED(t);
    timed_out = true;
}

static void run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg)
{
    uv_timer_t guard;
    timed_out = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, WAIT_MS, 0);
    while (!pred(arg) && !timed_out) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_false(timed_out);
}

/* run_until without the assertion: whether pred came true in time. */
static bool run_until_quiet(uv_loop_t *loop, bool (*pred)(void *), void *arg)
{
    uv_timer_t guard;
    timed_out = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, WAIT_MS, 0);
    while (!pred(arg) && !timed_out) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return !timed_out;
}

static bool flag_set(void *arg)
{
    return *(bool *)arg;
}

static bool has_event_exit(void *arg)
{
    return find_event("agent_exit", "agentId", arg) >= 0;
}

typedef struct {
    const char *type, *key, *value;
} evq_t;
static bool has_event_q(void *arg)
{
    evq_t *q = arg;
    return find_event(q->type, q->key, q->value) >= 0;
}

static void wait_event(fx_t *f, const char *type, const char *key, const char *value)
{
    evq_t q = {type, key, value};
    run_until(&f->loop, has_event_q, &q);
}

typedef struct {
    bool done;
    int rc;
    json_t *result;
} reply_t;

static void on_reply(int rc, json_t *result, const char *msg, void *ud)
{
    AD_UNUSED(msg);
    reply_t *r = ud;
    r->done = true;
    r->rc = rc;
    r->result = json_incref(result);
}

typedef struct {
    char sql[8192];
    bool done;
} job_t;

static void on_job(int rc, void *ctx)
{
    assert_int_equal(rc, 0);
    ((job_t *)ctx)->done = true;
}

static int sql_raw(ad_store_tx_t *tx, void *ctx)
{
    const char *sql = ((job_t *)ctx)->sql;
    if (ad_db_is_pg(tx->db)) {
        if (ad_db_pg_exec(tx->db, sql) != AD_DB_OK) {
            fprintf(stderr, "sql: %s\n", ad_db_errmsg(tx->db));
            return AD_EINTERNAL;
        }
        return 0;
    }
    char *err = NULL;
    int rc = sqlite3_exec(ad_db_sqlite(tx->db), sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "sql: %s\n", err);
        sqlite3_free(err);
        return AD_EINTERNAL;
    }
    return 0;
}

static void exec_raw(fx_t *f, const char *fmt, ...)
{
    static job_t job;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job.sql, sizeof(job.sql), fmt, ap);
    va_end(ap);
    job.done = false;
    ad_store_submit(f->store, sql_raw, on_job, &job);
    run_until(&f->loop, flag_set, &job.done);
}

/* A query's first column as text (owned), or NULL: its first row's, or
 * with all set every row's joined by '|'. */
static char *query_rows(fx_t *f, bool all, const char *fmt, va_list ap)
{
    char sql[2048];
    vsnprintf(sql, sizeof(sql), fmt, ap);
    ad_db_t *db = ad_store_rdb(f->store);
    ad_db_stmt_t *s = NULL;
    assert_int_equal(ad_db_prepare_v2(db, sql, -1, &s, NULL), AD_DB_OK);
    ad_buf_t b;
    ad_buf_init(&b, 1u << 20);
    bool any = false;
    while (ad_db_step(s) == AD_DB_ROW && ad_db_column_text(s, 0) != NULL) {
        assert_int_equal(ad_buf_puts(&b, any ? "|" : ""), 0);
        assert_int_equal(ad_buf_puts(&b, (const char *)ad_db_column_text(s, 0)), 0);
        any = true;
        if (!all) {
            break;
        }
    }
    ad_db_finalize(s);
    char *out = any ? ad_xstrndup(b.data != NULL ? b.data : "", b.len) : NULL;
    ad_buf_cleanup(&b);
    return out;
}

static char *query1(fx_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = query_rows(f, false, fmt, ap);
    va_end(ap);
    return out;
}

static char *query_all(fx_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = query_rows(f, true, fmt, ap);
    va_end(ap);
    return out;
}

static void new_agent(fx_t *f, const char *id, const char *state_json)
{
    exec_raw(f,
             "INSERT INTO agents (id, worktree_id, name, executor, state, created_at, "
             "updated_at) VALUES ('%s', 'wt_1', '%s', 'command', '%s', 1, 1)",
             id, id, state_json);
}

static void open_all(fx_t *f)
{
    char err[256];
    char path[512];
    snprintf(path, sizeof(path), "%s/agentd.db", f->dir);
    ad_store_opts_t so = store_fx_opts_keep(path);
    assert_int_equal(ad_store_open(&f->loop, &so, &f->store, err, sizeof(err)), 0);
    f->bus = ad_bus_new(&f->loop, &f->cfg);
    f->procs = ad_procs_new(&f->loop, NULL);
    f->runner = ad_runner_new(&f->loop, &f->cfg, f->store, f->bus, f->procs);
}

static void close_all(fx_t *f)
{
    ad_procs_shutdown(f->procs, 1000, NULL, NULL);
    /* wait (bounded by the grace) for every exit to be recorded */
    while (ad_procs_count(f->procs) > 0) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    ad_store_close(f->store);
    ad_runner_free(f->runner);
    ad_procs_free(f->procs);
    ad_bus_free(f->bus);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static int setup(void **state)
{
    fx_t *f = ad_xcalloc(1, sizeof(*f));
    char err[256];
    assert_int_equal(ad_config_load_env(&f->cfg, err, sizeof(err)), 0);
    f->cfg.stop_grace_ms = 300;
    f->cfg.hold_agents = false; /* plain children: the holder path is tests/e2e/hold.test.js */
    snprintf(f->dir, sizeof(f->dir), "/tmp/agentd-runner-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* a worktree agentd made is a git repository: the start checks its
     * .git against the workspace row (issue #73's trust root) */
    char init[PATH_MAX + 64];
    snprintf(init, sizeof(init), "git init -q '%s' >/dev/null 2>&1", f->dir);
    assert_int_equal(system(init), 0);
    uv_loop_init(&f->loop);
    store_fx_pg_empty();
    open_all(f);
    exec_raw(f,
             "INSERT INTO workspaces (id, name, path, created_at, updated_at) VALUES "
             "('ws_1', 'w', '%s', 1, 1); INSERT INTO worktrees (id, workspace_id, name, path, "
             "is_main, created_at, updated_at) VALUES ('wt_1', 'ws_1', 'main', '%s', 1, 1, 1)",
             f->dir, f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    close_all(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    events_clear();
    free(f);
    return 0;
}

static char *cmd_state(const char *mode, const char *extra)
{
    static char buf[8400];
    snprintf(buf, sizeof(buf), "{\"command\":[\"node\",\"%s\",\"%s\"%s]}", fake_agent, mode,
             extra != NULL ? extra : "");
    return buf;
}

/* ---- tests ------------------------------------------------------------------------ */

static void command_agent_runs_to_success(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_1", cmd_state("metrics", ",\"3\""));
    reply_t rep = {0};
    char err[256];
    assert_int_equal(ad_runner_start(f->runner, "ag_1", NULL, on_reply, &rep, err, sizeof(err)), 0);
    assert_true(ad_runner_is_running(f->runner, "ag_1"));
    run_until(&f->loop, flag_set, &rep.done);
    assert_int_equal(rep.rc, 0);
    json_decref(rep.result);
    run_until(&f->loop, has_event_exit, "ag_1");
    /* the run is recorded as it ended */
    json_t *runs = NULL;
    bool stored = false;
    char *st = NULL;
    for (int i = 0; i < 1000 && !stored; i++) { /* the end commits after the event */
        uv_run(&f->loop, UV_RUN_NOWAIT);
        free(st);
        st = query1(f, "SELECT status FROM agents WHERE id = 'ag_1'");
        stored = st != NULL && strcmp(st, "finished") == 0;
        if (!stored) {
            usleep(2000);
        }
    }
    assert_true(stored);
    free(st);
    assert_int_equal(ad_store_run_list(f->store, "ag_1", 10, &runs), 0);
    json_t *run = json_array_get(json_object_get(runs, "runs"), 0);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(run, "exitCode")), 0);
    assert_true(json_is_null(json_object_get(run, "signal")));
    assert_non_null(json_object_get(run, "endedAt"));
    json_t *one = NULL;
    assert_int_equal(
        ad_store_run_get(f->store, json_string_value(json_object_get(run, "id")), &one), 0);
    json_decref(one);
    json_decref(runs);
    /* metric lines became metrics_update, the rest output and messages */
    assert_int_equal(count_events("metrics_update"), 3);
    int m = find_event("metrics_update", "agentId", "ag_1");
    json_t *pt = json_array_get(json_object_get(ev.payload[m], "points"), 0);
    assert_string_equal(json_string_value(json_object_get(pt, "name")), "loss");
    assert_true(find_event("agent_output", "content", "step 2 done") >= 0);
    assert_true(find_event("agent_status", "status", "running") >= 0);
    assert_true(find_event("agent_status", "status", "finished") >= 0);
    assert_true(find_event("agent_update", "id", "ag_1") >= 0);
    char *epoch = query1(f, "SELECT json_extract(state, '$.epoch') FROM agents WHERE id='ag_1'");
    assert_non_null(epoch);
    assert_string_equal(epoch, "1");
    free(epoch);
    char *state_text = query1(f, "SELECT state FROM agents WHERE id='ag_1'");
    json_t *agent_state = json_loads(state_text, 0, NULL);
    json_t *cmdkept = json_array_get(json_object_get(agent_state, "command"), 2);
    assert_string_equal(json_string_value(cmdkept), "metrics"); /* the merge kept the command */
    json_decref(agent_state);
    free(state_text);
    char *msgs = query_all(f, "SELECT content FROM messages WHERE agent_id='ag_1' ORDER BY "
                              "created_at, id");
    assert_non_null(msgs);
    assert_non_null(strstr(msgs, "step 0 done\nstep 1 done\nstep 2 done"));
    free(msgs);
    char *pid = query1(f, "SELECT pid FROM agents WHERE id='ag_1'");
    assert_null(pid);
    assert_false(ad_runner_is_running(f->runner, "ag_1"));
}

/* The writer, held until the test lets it go (bounded: 120 s, past run_until's guard). */
static atomic_bool writer_free;
static int hold_writer(ad_store_tx_t *tx, void *ctx)
{
    AD_UNUSED(tx);
    AD_UNUSED(ctx);
    for (int i = 0; i < 120000 && !atomic_load(&writer_free); i++) {
        usleep(1000);
    }
    return 0;
}

static void on_held(int rc, void *ctx)
{
    AD_UNUSED(rc);
    *(bool *)ctx = true;
}

/* The agent's first output has been read: published, or held back. */
/* The agent's output was read: published, or held back for after the
 * start's record, by the run or (once the run has ended: its exit comes
 * after its output's end, and ci5's TSan run got there before this looked)
 * by the start that waits for the writer. */
static bool output_read(void *arg)
{
    fx_t *f = arg;
    ad_run_t *run = ad_run_find(f->runner, "ag_s");
    return find_event("agent_output", NULL, NULL) >= 0 || run == NULL ||
           (run->topics.early != NULL && json_array_size(run->topics.early->events) > 0);
}

/* A store slow to record a start (PostgreSQL, a busy writer) must not let
 * a reader see the run's output before the run: agent_status running and
 * run_started come first, then what the agent printed meanwhile, in order
 * (`agentd logs -f` printed a line above the run's header so, in CI). */
static void a_slow_start_record_keeps_the_order_of_events(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_s", cmd_state("metrics", ",\"3\""));
    atomic_store(&writer_free, false);
    bool held_done = false;
    ad_store_submit(f->store, hold_writer, on_held, &held_done);
    reply_t rep = {0};
    char err[256];
    assert_int_equal(ad_runner_start(f->runner, "ag_s", NULL, on_reply, &rep, err, sizeof(err)), 0);
    if (!run_until_quiet(&f->loop, output_read, f)) {
        /* say where it stood (ci8 hung here once, under TSan, unexplained) */
        ad_run_t *run = ad_run_find(f->runner, "ag_s");
        fprintf(stderr, "no output read: run %s, spawn %s, pid %ld, early %zu, events %zu\n",
                run != NULL ? "linked" : "gone",
                run == NULL            ? "-"
                : run->pending != NULL ? "pending"
                                       : "answered",
                run != NULL && run->proc != NULL ? (long)ad_proc_pid(run->proc) : -1L,
                run != NULL && run->topics.early != NULL
                    ? json_array_size(run->topics.early->events)
                    : (size_t)0,
                ev.n);
        atomic_store(&writer_free, true);
        fail();
    }
    assert_int_equal(find_event("run_started", NULL, NULL), -1); /* the writer is held */
    atomic_store(&writer_free, true);
    run_until(&f->loop, flag_set, &rep.done);
    assert_int_equal(rep.rc, 0);
    json_decref(rep.result);
    run_until(&f->loop, has_event_exit, "ag_s");
    run_until(&f->loop, flag_set, &held_done);
    int running = find_event("agent_status", "status", "running");
    int started = find_event("run_started", NULL, NULL);
    int first = find_event("agent_output", "content", "step 0 done");
    int last = find_event("agent_output", "content", "step 2 done");
    assert_true(running >= 0 && started >= 0 && first >= 0 && last >= 0);
    assert_true(running < first);
    assert_true(started < first);
    assert_true(first < last);
    assert_true(find_event("agent_exit", "agentId", "ag_s") > last);
}

/* A run's HEAD read that answers after the daemon closed its store and
 * freed its runner (src/main.c's order, close_all's here) writes nothing:
 * it used to queue a write on the closed store, never run and never freed
 * (LeakSanitizer's report, or a use after free once the store had gone). */
static void a_head_read_after_the_close_writes_nothing(void **state)
{
    fx_t *f = *state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "git -C '%s' init -q && git -C '%s' -c user.name=t -c user.email=t@example.com "
             "commit -q --allow-empty -m first",
             f->dir, f->dir);
    assert_int_equal(system(cmd), 0);
    ad_run_note_commit(f->runner, "run_late", f->dir);
    /* The teardown closes the store, frees the runner, then runs the loop:
     * the read answers there. */
}

static void starts_are_refused_clearly(void **state)
{
    fx_t *f = *state;
    char err[256];
    assert_int_equal(ad_runner_start(f->runner, "ag_nope", NULL, NULL, NULL, err, sizeof(err)),
                     AD_ENOENT);
    new_agent(f, "ag_2", "{}");
    assert_int_equal(ad_runner_start(f->runner, "ag_2", NULL, NULL, NULL, err, sizeof(err)),
                     AD_EINVAL);
    assert_non_null(strstr(err, "command"));
    new_agent(f, "ag_3", "{\"command\":[\"agentd-no-such-program\"]}");
    assert_int_equal(ad_runner_start(f->runner, "ag_3", NULL, NULL, NULL, err, sizeof(err)),
                     AD_EINVAL);
    assert_non_null(strstr(err, "not found"));
    new_agent(f, "ag_4", cmd_state("sleep", NULL));
    exec_raw(f, "UPDATE agents SET deleted_at = 5 WHERE id = 'ag_4'");
    assert_int_equal(ad_runner_start(f->runner, "ag_4", NULL, NULL, NULL, err, sizeof(err)),
                     AD_ESTATE);
    exec_raw(f, "UPDATE agents SET deleted_at = NULL WHERE id = 'ag_4'");
    reply_t rep = {0};
    assert_int_equal(ad_runner_start(f->runner, "ag_4", NULL, on_reply, &rep, err, sizeof(err)), 0);
    assert_int_equal(ad_runner_start(f->runner, "ag_4", NULL, NULL, NULL, err, sizeof(err)),
                     AD_ESTATE);
    assert_non_null(strstr(err, "already running"));
    run_until(&f->loop, flag_set, &rep.done);
    json_decref(rep.result);
    /* not running: stop and message say so */
    assert_int_equal(ad_runner_stop(f->runner, "ag_2", false, NULL, NULL), AD_ENOENT);
    assert_int_equal(ad_runner_message(f->runner, "ag_2", "hi", NULL, NULL, err, sizeof(err)),
                     AD_ESTATE);
}

static void messages_go_to_stdin_and_stop_is_recorded(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_5", cmd_state("echo", NULL));
    reply_t rep = {0};
    char err[256];
    assert_int_equal(
        ad_runner_start(f->runner, "ag_5", "first words", on_reply, &rep, err, sizeof(err)), 0);
    run_until(&f->loop, flag_set, &rep.done);
    json_decref(rep.result);
    wait_event(f, "agent_output", "content", "first words");
    reply_t mrep = {0};
    assert_int_equal(
        ad_runner_message(f->runner, "ag_5", "hello there", on_reply, &mrep, err, sizeof(err)), 0);
    run_until(&f->loop, flag_set, &mrep.done);
    assert_int_equal(mrep.rc, 0);
    assert_string_equal(json_string_value(json_object_get(mrep.result, "status")), "sent");
    const char *mid = json_string_value(json_object_get(mrep.result, "messageId"));
    assert_true(ad_id_valid(mid, "msg"));
    char *role = query1(f, "SELECT role FROM messages WHERE id = '%s'", mid);
    assert_string_equal(role, "user");
    free(role);
    json_decref(mrep.result);
    wait_event(f, "agent_output", "content", "hello there");

    reply_t srep = {0};
    assert_int_equal(ad_runner_stop(f->runner, "ag_5", false, on_reply, &srep), 0);
    run_until(&f->loop, flag_set, &srep.done);
    assert_int_equal(srep.rc, 0);
    json_t *agent = json_object_get(srep.result, "agent");
    assert_string_equal(json_string_value(json_object_get(agent, "status")), "stopped");
    json_decref(srep.result);
    char *rs = query1(f, "SELECT status FROM runs WHERE agent_id = 'ag_5'");
    assert_string_equal(rs, "stopped");
    free(rs);
}

static void sigterm_ignorer_is_killed_after_the_grace(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_6", cmd_state("ignore-term", NULL));
    reply_t rep = {0};
    assert_int_equal(ad_runner_start(f->runner, "ag_6", NULL, on_reply, &rep, NULL, 0), 0);
    wait_event(f, "agent_output", "content", "ready");
    reply_t srep = {0};
    assert_int_equal(ad_runner_stop(f->runner, "ag_6", false, on_reply, &srep), 0);
    run_until(&f->loop, flag_set, &srep.done);
    json_decref(srep.result);
    json_decref(rep.result);
    assert_true(find_event("agent_output", "content", "got SIGINT") >= 0);
    assert_true(find_event("agent_output", "content", "got SIGTERM") >= 0);
    char *sig = query1(f, "SELECT signal FROM runs WHERE agent_id = 'ag_6'");
    assert_string_equal(sig, "9");
    free(sig);
}

static void failure_sets_error_with_a_reason(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_7", cmd_state("exit", ",\"3\""));
    assert_int_equal(ad_runner_start(f->runner, "ag_7", NULL, NULL, NULL, NULL, 0), 0);
    wait_event(f, "agent_status", "status", "error");
    int i = find_event("agent_status", "status", "error");
    assert_string_equal(json_string_value(json_object_get(ev.payload[i], "reason")),
                        "exited with code 3: exiting 3"); /* its stderr says so */
    char *rs = query1(f, "SELECT status || ',' || exit_code FROM runs WHERE agent_id = 'ag_7'");
    assert_string_equal(rs, "failed,3");
    free(rs);
    char *why =
        query1(f, "SELECT json_extract(state, '$.statusReason') FROM agents WHERE id = 'ag_7'");
    assert_string_equal(why, "exited with code 3: exiting 3");
    free(why);
    /* stderr was kept too */
    assert_true(find_event("agent_output", "stream", "stderr") >= 0);
}

static void pause_and_resume_change_status(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_8", cmd_state("slow", ",\"100000\",\"50\""));
    assert_int_equal(ad_runner_start(f->runner, "ag_8", NULL, NULL, NULL, NULL, 0), 0);
    wait_event(f, "agent_output", "content", "tick 1");
    reply_t p = {0};
    assert_int_equal(ad_runner_pause(f->runner, "ag_8", on_reply, &p), 0);
    run_until(&f->loop, flag_set, &p.done);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p.result, "agent"), "status")), "paused");
    json_decref(p.result);
    assert_true(find_event("agent_status", "status", "paused") >= 0);
    assert_int_equal(ad_runner_pause(f->runner, "ag_8", NULL, NULL), AD_ESTATE);
    reply_t q = {0};
    assert_int_equal(ad_runner_resume(f->runner, "ag_8", on_reply, &q), 0);
    run_until(&f->loop, flag_set, &q.done);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(q.result, "agent"), "status")),
        "running");
    json_decref(q.result);
    reply_t s = {0};
    assert_int_equal(ad_runner_stop(f->runner, "ag_8", true, on_reply, &s), 0);
    run_until(&f->loop, flag_set, &s.done);
    json_decref(s.result);
}

static void restart_marks_running_runs_lost(void **state)
{
    fx_t *f = *state;
    new_agent(f, "ag_9", "{}");
    exec_raw(f, "INSERT INTO runs (id, agent_id, started_at, status) VALUES ('run_old', 'ag_9', "
                "1000, 'running'); UPDATE agents SET status = 'running', pid = 4242 WHERE id = "
                "'ag_9'");
    reply_t rep = {0};
    ad_runner_reconcile(f->runner, on_reply, &rep);
    run_until(&f->loop, flag_set, &rep.done);
    assert_int_equal(rep.rc, 0);
    assert_int_equal(json_array_size(json_object_get(rep.result, "runs")), 1);
    json_decref(rep.result);
    char *rs = query1(f, "SELECT status FROM runs WHERE id = 'run_old'");
    assert_string_equal(rs, "lost");
    free(rs);
    char *ag = query1(f, "SELECT status || ',' || coalesce(CAST(pid AS TEXT), 'none') || ',' || "
                         "json_extract(state, '$.statusReason') FROM agents WHERE id = 'ag_9'");
    assert_non_null(strstr(ag, "error,none,lost: "));
    free(ag);
    assert_true(find_event("agent_status", "reason", "lost") >= 0);
}

static void many_start_stop_cycles(void **state)
{
    fx_t *f = *state;
    exec_raw(f, "INSERT INTO agents (id, worktree_id, name, executor, state, created_at, "
                "updated_at) VALUES ('ag_c', 'wt_1', 'c', 'command', "
                "'{\"command\":[\"sleep\",\"30\"],\"stopWith\":\"none\"}', 1, 1)");
    for (int i = 0; i < 50; i++) {
        reply_t rep = {0}, srep = {0};
        assert_int_equal(ad_runner_start(f->runner, "ag_c", NULL, on_reply, &rep, NULL, 0), 0);
        run_until(&f->loop, flag_set, &rep.done);
        json_decref(rep.result);
        assert_int_equal(ad_runner_stop(f->runner, "ag_c", i % 2 == 0, on_reply, &srep), 0);
        run_until(&f->loop, flag_set, &srep.done);
        json_decref(srep.result);
    }
    char *n = query1(f, "SELECT count(*) FROM runs WHERE agent_id = 'ag_c' AND status = 'stopped'");
    assert_string_equal(n, "50");
    free(n);
    assert_int_equal(ad_procs_count(f->procs), 0);
}

/* ---- --takeover-dirs: whose holder folders a plane trusts ---------------------------- */

static void mkdir_mode(const char *base, const char *rel, mode_t mode)
{
    char path[4600];
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, mode), 0); /* past the umask */
}

/* base/name as another plane's data dir: hold/ in hold_mode with a folder
 * for run_id in run_mode. */
static void plane_dir(const char *base, const char *name, mode_t hold_mode, const char *run_id,
                      mode_t run_mode)
{
    char rel[256];
    mkdir_mode(base, name, 0700);
    snprintf(rel, sizeof(rel), "%s/hold", name);
    mkdir_mode(base, rel, hold_mode);
    snprintf(rel, sizeof(rel), "%s/hold/%s", name, run_id);
    mkdir_mode(base, rel, run_mode);
}

/* A running run of its own agent, so that only the folder checks can
 * refuse it. */
static void running_run(fx_t *f, const char *run_id, int i)
{
    char agent[32];
    snprintf(agent, sizeof(agent), "ag_t%d", i);
    new_agent(f, agent, "{}");
    exec_raw(f,
             "INSERT INTO runs (id, agent_id, started_at, status) VALUES ('%s', '%s', 1000, "
             "'running')",
             run_id, agent);
}

/* Only a real directory of our uid that no one else may enter, with a run
 * id for a name, is offered or taken: a link, a group-readable or -writable
 * folder, another user's, a bad name and our own data dir are not. The one
 * trusted folder gets as far as its holder (none there: the run is lost),
 * which the refused ones never reach although their runs are running too. */
static void takeover_trusts_only_private_run_folders(void **state)
{
    fx_t *f = *state;
    enum { GOOD, LOOSE, LINKED, GROUP, OTHER, OWN, NRUNS };
    char run[NRUNS][AD_ID_MAX];
    for (int i = 0; i < NRUNS; i++) {
        assert_int_equal(ad_id_new("run", run[i]), 0);
        running_run(f, run[i], i);
    }
    const char *b = f->dir;
    /* good: a private hold root with a private run folder, a bad name and
     * a run folder others may write to */
    plane_dir(b, "good", 0700, run[GOOD], 0700);
    mkdir_mode(b, "good/hold/not-a-run", 0700);
    char rel[256];
    snprintf(rel, sizeof(rel), "good/hold/%s", run[LOOSE]);
    mkdir_mode(b, rel, 0770);
    /* linked: hold is a link to a private folder */
    mkdir_mode(b, "linked", 0700);
    mkdir_mode(b, "elsewhere", 0700);
    snprintf(rel, sizeof(rel), "elsewhere/%s", run[LINKED]);
    mkdir_mode(b, rel, 0700);
    char target[4600], link[4600];
    snprintf(target, sizeof(target), "%s/elsewhere", b);
    snprintf(link, sizeof(link), "%s/linked/hold", b);
    assert_int_equal(symlink(target, link), 0);
    /* group: the group may read the hold root */
    plane_dir(b, "group", 0750, run[GROUP], 0700);
    /* other: another user's hold root (root can make one; others skip it) */
    plane_dir(b, "other", 0700, run[OTHER], 0700);
    char other[4600];
    snprintf(other, sizeof(other), "%s/other/hold", b);
    bool chowned = geteuid() == 0 && chown(other, 65534, 65534) == 0;
    /* own: this plane's own data dir */
    plane_dir(b, "own", 0700, run[OWN], 0700);
    snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/own", b);
    int n = snprintf(f->cfg.takeover_dirs, sizeof(f->cfg.takeover_dirs),
                     ",%s/linked,%s/group,%s/own,,%s/other,/nonexistent,%s/good", b, b, b, b, b);
    assert_true(n > 0 && (size_t)n < sizeof(f->cfg.takeover_dirs));

    json_t *ids = ad_runner_takeover_candidates(f->runner);
    char *got = json_dumps(ids, JSON_COMPACT);
    size_t want = chowned ? 2 : 3; /* unowned, "other" is ours and private */
    assert_int_equal(json_array_size(ids), want);
    assert_non_null(strstr(got, run[GOOD]));
    assert_non_null(strstr(got, run[LOOSE])); /* its name is offered; taking it is refused */
    assert_null(strstr(got, run[LINKED]));
    assert_null(strstr(got, run[GROUP]));
    assert_null(strstr(got, run[OWN]));
    assert_null(strstr(got, "not-a-run"));
    if (chowned) {
        assert_null(strstr(got, run[OTHER]));
    }
    free(got);
    json_decref(ids);

    char err[256] = "";
    assert_int_equal(ad_run_take_held(f->runner, "not-a-run", err, sizeof(err)), AD_EINVAL);
    assert_int_equal(ad_run_take_held(f->runner, "../good", err, sizeof(err)), AD_EINVAL);
    int refused[] = {LOOSE, LINKED, GROUP, OWN, OTHER};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (refused[i] == OTHER && !chowned) {
            continue;
        }
        err[0] = '\0';
        assert_int_equal(ad_run_take_held(f->runner, run[refused[i]], err, sizeof(err)), AD_ENOENT);
        assert_string_equal(err, "no holder of it in --takeover-dirs");
        char *st = query1(f, "SELECT status FROM runs WHERE id = '%s'", run[refused[i]]);
        assert_string_equal(st, "running"); /* left alone */
        free(st);
    }
    /* the trusted one: past every check to its holder, which is not there */
    assert_int_equal(ad_run_take_held(f->runner, run[GOOD], err, sizeof(err)), AD_EIO);
    assert_non_null(strstr(err, "could not be taken up"));
    exec_raw(f, "SELECT 1"); /* after the run's end, which went to the store first */
    char *st = query1(f, "SELECT status FROM runs WHERE id = '%s'", run[GOOD]);
    assert_string_equal(st, "lost");
    free(st);
}

/* A suspended agent resumes at the reset plus a spread of at most 10 % of
 * the wait and 60 s (issue #75, src/run/suspend.c), never before it. */
static void resume_time_is_the_reset_plus_a_bounded_spread(void **state)
{
    AD_UNUSED(state);
    const int64_t now = 1795942800000LL;
    bool spread = false;
    for (int i = 0; i < 200; i++) {
        int64_t t = ad_run_resume_time(now + 100000, now); /* 100 s: up to 10 s more */
        assert_true(t >= now + 100000 && t <= now + 110000);
        spread = spread || t != now + 100000;
        t = ad_run_resume_time(now + 3600000, now); /* an hour: up to 60 s more */
        assert_true(t >= now + 3600000 && t <= now + 3660000);
    }
    assert_true(spread);                                        /* not all in one millisecond */
    assert_int_equal(ad_run_resume_time(now - 5000, now), now); /* a reset passed: now */
}

int main(void)
{
    if (realpath("tests/fixtures/fake-agent.js", fake_agent) == NULL) {
        fprintf(stderr, "run from the repository root (tests/fixtures/fake-agent.js)\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    ad_log_set_level(AD_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(command_agent_runs_to_success, setup, teardown),
        cmocka_unit_test_setup_teardown(a_slow_start_record_keeps_the_order_of_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_head_read_after_the_close_writes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(starts_are_refused_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(messages_go_to_stdin_and_stop_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(sigterm_ignorer_is_killed_after_the_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_sets_error_with_a_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(pause_and_resume_change_status, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_marks_running_runs_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(many_start_stop_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(takeover_trusts_only_private_run_folders, setup, teardown),
        cmocka_unit_test(resume_time_is_the_reset_plus_a_bounded_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
