/* SPDX-License-Identifier: MIT */
/*
 * Tests for the process supervisor with a real uv loop and real children
 * (sh, cat, env and tests/fixtures/fake-agent.js under node): lines and the
 * cap, exits and signals, stop escalation, group kill, pause/resume, pty,
 * environment, spawn errors, no zombies after many cycles, 100 MB of output.
 * Every wait is bounded by a timer; a test that hits it fails.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/io.c"

#define MAX_KEPT 256
#define WAIT_MS 20000

static char fake_agent[4096];

typedef struct {
    size_t lines[3];
    size_t bytes[3];
    size_t kept;
    char *line[MAX_KEPT];
    ad_proc_stream_t stream[MAX_KEPT];
    bool trunc[MAX_KEPT];
    char last[4096]; /* no allocation per line: the flood test measures RSS */
    size_t max_len;
    bool exited;
    ad_proc_exit_t ex;
    size_t lines_at_exit;
    size_t raw_bytes;
    ad_proc_t *p;
    bool started; /* on_start was called */
    int start_rc; /* ... with this */
    char start_err[256];
    bool exited_before_start; /* on_exit came first (never should) */
} col_t;

static void col_free(col_t *c)
{
    for (size_t i = 0; i < c->kept; i++) {
        free(c->line[i]);
    }
    memset(c, 0, sizeof(*c));
}

static void on_line_cb(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                       bool truncated, void *ud)
{
    AD_UNUSED(p);
    col_t *c = ud;
    assert_int_equal(line[len], '\0');
    c->lines[stream]++;
    c->bytes[stream] += len;
    if (len > c->max_len) {
        c->max_len = len;
    }
    if (c->kept < MAX_KEPT) {
        /* keep short copies: a truncated line is checked by length and end */
        size_t keep = len > 4096 ? 4096 : len;
        char *s = ad_xmalloc(keep + 64);
        memcpy(s, line, keep);
        s[keep] = '\0';
        if (len > keep) {
            snprintf(s + keep, 64, "...%s", line + len - strlen(AD_PROC_TRUNC_MARKER));
        }
        c->line[c->kept] = s;
        c->stream[c->kept] = stream;
        c->trunc[c->kept] = truncated;
        c->kept++;
    }
    if (len < sizeof(c->last)) {
        memcpy(c->last, line, len + 1);
    }
}

static void on_data_cb(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t len,
                       void *ud)
{
    AD_UNUSED(p);
    AD_UNUSED(stream);
    AD_UNUSED(data);
    col_t *c = ud;
    c->raw_bytes += len;
}

static void on_start_cb(ad_proc_t *p, int rc, const char *err, void *ud)
{
    col_t *c = ud;
    assert_false(c->started); /* exactly once */
    assert_false(c->exited);
    c->started = true;
    c->start_rc = rc;
    snprintf(c->start_err, sizeof(c->start_err), "%s", err != NULL ? err : "");
    if (rc == 0) {
        assert_true(ad_proc_pid(p) > 0);
        assert_false(ad_proc_starting(p));
    } else {
        c->p = NULL;
    }
}

static void on_exit_cb(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(p);
    col_t *c = ud;
    assert_false(c->exited); /* exactly once */
    if (!c->started && ex->start_error == NULL) {
        c->exited_before_start = true;
    }
    c->exited = true;
    c->ex = *ex;
    c->lines_at_exit = c->lines[1] + c->lines[2];
    c->p = NULL;
}

static bool timed_out;
static void on_guard(uv_timer_t *t)
{
    AD_UNUSED(t);
    timed_out = true;
}

/* Runs the loop until *flag or the guard fires; fails on the guard. */
static void run_until(uv_loop_t *loop, bool *flag, uint64_t ms)
{
    uv_timer_t guard;
    timed_out = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, ms, 0);
    while (!*flag && !timed_out) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_false(timed_out);
}

/* Runs the loop until the collector holds a line containing needle. */
static bool has_line(col_t *c, const char *needle)
{
    for (size_t i = 0; i < c->kept; i++) {
        if (strstr(c->line[i], needle) != NULL) {
            return true;
        }
    }
    return false;
}

static void run_until_line(uv_loop_t *loop, col_t *c, const char *needle)
{
    uv_timer_t guard;
    timed_out = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, WAIT_MS, 0);
    while (!has_line(c, needle) && !timed_out && !c->exited) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_true(has_line(c, needle));
}

static ad_proc_opts_t opts_for(const char *const *argv, col_t *c)
{
    ad_proc_opts_t o;
    memset(&o, 0, sizeof(o));
    o.argv = argv;
    o.on_line = on_line_cb;
    o.on_data = on_data_cb;
    o.on_exit = on_exit_cb;
    o.on_start = on_start_cb;
    o.ud = c;
    return o;
}

static void run_until(uv_loop_t *loop, bool *flag, uint64_t ms);

/* Spawns, without waiting for the start. */
static ad_proc_t *spawn_async(ad_procs_t *s, const ad_proc_opts_t *o)
{
    ad_proc_t *p = NULL;
    char err[256];
    int rc = ad_proc_spawn(s, o, &p, err, sizeof(err));
    if (rc != 0) {
        fail_msg("spawn failed: %s", err);
    }
    assert_true(ad_proc_starting(p));
    assert_int_equal(ad_proc_pid(p), 0);
    ((col_t *)o->ud)->p = p;
    return p;
}

/* Spawns and runs the loop until it runs (on_start said so). */
static ad_proc_t *spawn_ok(ad_procs_t *s, const ad_proc_opts_t *o)
{
    ad_proc_t *p = spawn_async(s, o);
    col_t *c = o->ud;
    if (o->on_start != NULL) {
        run_until(s->loop, &c->started, WAIT_MS);
        if (c->start_rc != 0) {
            fail_msg("spawn failed: %s", c->start_err);
        }
    }
    return p;
}

typedef struct {
    uv_loop_t loop;
    ad_procs_t *s;
} fx_t;

static int setup(void **state)
{
    fx_t *f = ad_xcalloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    f->s = ad_procs_new(&f->loop, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    ad_procs_free(f->s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* State letter of a process from /proc ('?' when gone). */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return '?';
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' ? rp[2] : '?';
}

/* Counts our children, and those that are zombies. */
static void count_children(size_t *all, size_t *zombies)
{
    *all = 0;
    *zombies = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL) {
            continue;
        }
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char st;
        long ppid;
        if (rp == NULL || sscanf(rp + 1, " %c %ld", &st, &ppid) != 2) {
            continue;
        }
        if (ppid == (long)getpid()) {
            (*all)++;
            if (st == 'Z') {
                (*zombies)++;
            }
        }
    }
    closedir(d);
}

/* ---- line splitting, directly -------------------------------------------- */

static void feed(ad_rstream_t *rs, const char *s)
{
    char tmp[256];
    size_t n = strlen(s);
    memcpy(tmp, s, n);
    split_lines(rs, tmp, n);
}

static void split_handles_chunks_crlf_and_the_cap(void **state)
{
    AD_UNUSED(state);
    col_t c = {0};
    ad_proc_t p = {0};
    p.max_line = 8;
    p.on_line = on_line_cb;
    p.ud = &c;
    ad_rstream_t *rs = ad_xcalloc(1, sizeof(*rs));
    rs->p = &p;
    rs->stream = AD_PROC_STDOUT;
    ad_buf_init(&rs->line, p.max_line + sizeof(AD_PROC_TRUNC_MARKER));

    feed(rs, "ab");
    feed(rs, "c\r\nde\n\n");
    feed(rs, "12345678\n");        /* exactly the cap: whole */
    feed(rs, "123456789\nnext\n"); /* one past: cut, marker, next line intact */
    feed(rs, "abcdefghij");        /* past the cap without a newline ... */
    feed(rs, "klmnop");            /* ... the rest is skipped ... */
    feed(rs, "qr\nok\n");          /* ... until its newline */
    assert_int_equal(c.kept, 8);
    assert_string_equal(c.line[0], "abc");
    assert_string_equal(c.line[1], "de");
    assert_string_equal(c.line[2], "");
    assert_string_equal(c.line[3], "12345678");
    assert_false(c.trunc[3]);
    assert_string_equal(c.line[4], "12345678" AD_PROC_TRUNC_MARKER);
    assert_true(c.trunc[4]);
    assert_string_equal(c.line[5], "next");
    assert_string_equal(c.line[6], "abcdefgh" AD_PROC_TRUNC_MARKER);
    assert_string_equal(c.line[7], "ok");
    ad_buf_cleanup(&rs->line);
    free(rs);
    col_free(&c);
}

/* ---- real children --------------------------------------------------------- */

static void exit_code_after_all_output(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"sh", "-c", "echo out1; echo err1 >&2; printf 'tail'; exit 3", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    spawn_async(f->s, &o);
    assert_int_equal(ad_procs_count(f->s), 1);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 3);
    assert_int_equal(c.ex.term_signal, 0);
    assert_false(c.ex.stop_requested);
    assert_int_equal(c.lines_at_exit, 3); /* every line came before the exit */
    assert_true(has_line(&c, "out1"));
    assert_true(has_line(&c, "tail"));
    for (size_t i = 0; i < c.kept; i++) {
        if (strcmp(c.line[i], "err1") == 0) {
            assert_int_equal(c.stream[i], AD_PROC_STDERR);
        }
    }
    assert_int_equal(ad_procs_count(f->s), 0);
    col_free(&c);
}

static void death_by_signal_is_reported(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"sh", "-c", "echo dying; kill -SEGV $$", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    spawn_ok(f->s, &o);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, -1);
    assert_int_equal(c.ex.term_signal, SIGSEGV);
    assert_true(has_line(&c, "dying"));
    col_free(&c);
}

static void spawn_errors_are_clear_and_call_nothing(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    char err[256];
    ad_proc_t *p = NULL;
    const char *missing[] = {"agentd-no-such-command-xyz", NULL};
    ad_proc_opts_t o = opts_for(missing, &c);
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), AD_ENOENT);
    assert_non_null(strstr(err, "command not found"));

    char tmpl[] = "/tmp/agentd-proc-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x7f\x01garbage", 9), 9);
    close(fd);
    const char *notexec[] = {tmpl, NULL};
    o = opts_for(notexec, &c);
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), AD_EPERM);
    chmod(tmpl, 0755); /* executable but not a program: exec fails in the child */
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), 0);
    run_until(&f->loop, &c.started, WAIT_MS);
    assert_int_equal(c.start_rc, AD_EPERM); /* said to on_start, with why */
    assert_non_null(strstr(c.start_err, "format"));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(c.exited); /* and nothing else */
    /* without on_start: on_exit says so, as an exit 127 with the reason */
    o.on_start = NULL;
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 127);
    assert_int_equal(c.ex.pid, 0);
    assert_non_null(c.ex.start_error);
    unlink(tmpl);
    memset(&c, 0, sizeof(c));

    const char *sh[] = {"sh", "-c", "true", NULL};
    o = opts_for(sh, &c);
    o.cwd = "/no/such/dir";
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), AD_ENOENT);
    assert_non_null(strstr(err, "/no/such/dir"));

    const char *bad_env[] = {"=x", NULL};
    o = opts_for(sh, &c);
    o.env = bad_env;
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), AD_EINVAL);

    const char *empty[] = {NULL};
    o = opts_for(empty, &c);
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, err, sizeof(err)), AD_EINVAL);
    assert_int_equal(ad_procs_count(f->s), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(c.exited);
    assert_int_equal(c.kept, 0);
}

static void stdin_is_queued_and_closed(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"cat", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.max_stdin_bytes = 1024;
    ad_proc_t *p = spawn_ok(f->s, &o);
    assert_int_equal(ad_proc_write(p, "hello\n", 6), 0);
    assert_int_equal(ad_proc_write(p, "wor", 3), 0);
    assert_int_equal(ad_proc_write(p, "ld\n", 3), 0);
    char big[2048];
    memset(big, 'b', sizeof(big));
    assert_int_equal(ad_proc_write(p, big, sizeof(big)), AD_ETOOBIG);
    assert_int_equal(ad_proc_resize(p, 10, 10), AD_ESTATE);
    ad_proc_close_stdin(p);
    assert_int_equal(ad_proc_write(p, "late\n", 5), AD_ECLOSED);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 0);
    assert_int_equal(c.kept, 2);
    assert_string_equal(c.line[0], "hello");
    assert_string_equal(c.line[1], "world");
    col_free(&c);
}

static void environment_is_clean(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    setenv("AGENTD_TOKEN", "s3cret-token", 1);
    setenv("AGENTD_OTHER", "x", 1);
    setenv("SOME_RANDOM_VAR", "leak", 1);
    setenv("LC_TIME", "C", 1);
    const char *argv[] = {"env", NULL};
    const char *env[] = {"FOO=bar", "HOME=/tmp/agent-home", "AGENTD_TOKEN=again", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.env = env;
    o.cwd = "/";
    spawn_ok(f->s, &o);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 0);
    assert_true(has_line(&c, "FOO=bar"));
    assert_true(has_line(&c, "HOME=/tmp/agent-home"));
    assert_true(has_line(&c, "PATH="));
    assert_true(has_line(&c, "LC_TIME=C"));
    assert_false(has_line(&c, "AGENTD_"));
    assert_false(has_line(&c, "s3cret"));
    assert_false(has_line(&c, "SOME_RANDOM_VAR"));
    assert_false(has_line(&c, "TERM="));
    unsetenv("AGENTD_TOKEN");
    unsetenv("AGENTD_OTHER");
    unsetenv("SOME_RANDOM_VAR");
    col_free(&c);

    /* the working directory is the one asked for */
    col_t d = {0};
    const char *pwd[] = {"pwd", NULL};
    o = opts_for(pwd, &d);
    o.cwd = "/tmp";
    spawn_ok(f->s, &o);
    run_until(&f->loop, &d.exited, WAIT_MS);
    assert_true(has_line(&d, "/tmp"));
    col_free(&d);
}

static void graceful_stop_escalates_to_sigkill(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "ignore-term", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.polite = AD_PROC_POLITE_CLOSE_STDIN;
    o.term_grace_ms = 200;
    o.kill_grace_ms = 300;
    ad_proc_t *p = spawn_ok(f->s, &o);
    run_until_line(&f->loop, &c, "\"ready\"");
    assert_int_equal(ad_proc_stop(p, false), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_true(has_line(&c, "got SIGTERM")); /* it was asked, and refused */
    assert_int_equal(c.ex.term_signal, SIGKILL);
    assert_true(c.ex.stop_requested);
    assert_true(c.ex.forced);
    col_free(&c);
}

static void polite_sigint_lets_it_exit(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "sigint", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.polite = AD_PROC_POLITE_SIGINT;
    o.term_grace_ms = 10000;
    ad_proc_t *p = spawn_ok(f->s, &o);
    run_until_line(&f->loop, &c, "\"ready\"");
    assert_int_equal(ad_proc_stop(p, false), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_true(has_line(&c, "got SIGINT"));
    assert_int_equal(c.ex.exit_code, 130);
    assert_false(c.ex.forced);
    col_free(&c);
}

static void force_stop_kills_now(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"sleep", "30", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    ad_proc_t *p = spawn_ok(f->s, &o);
    assert_true(ad_proc_alive(p));
    assert_int_equal(ad_proc_stop(p, true), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.term_signal, SIGKILL);
    assert_true(c.ex.forced);
    col_free(&c);
}

static void group_kill_reaches_grandchildren(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "grandchild", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.polite = AD_PROC_POLITE_NONE;
    ad_proc_t *p = spawn_ok(f->s, &o);
    run_until_line(&f->loop, &c, "\"grandchild\"");
    const char *g = strstr(c.line[0], "\"grandchild\":");
    assert_non_null(g);
    pid_t gpid = (pid_t)strtol(g + 13, NULL, 10);
    assert_true(gpid > 0);
    assert_true(proc_state(gpid) != '?');
    assert_int_equal(getpgid(gpid), ad_proc_pid(p)); /* same group */
    assert_int_equal(ad_proc_stop(p, false), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.term_signal, SIGTERM);
    /* The grandchild got the same SIGTERM; give it a bounded moment. */
    for (int i = 0; i < 200 && proc_state(gpid) != '?' && proc_state(gpid) != 'Z'; i++) {
        usleep(10000);
    }
    char st = proc_state(gpid);
    assert_true(st == '?' || st == 'Z');
    col_free(&c);
}

static void pause_and_resume_the_group(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "slow", "100000", "20", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.polite = AD_PROC_POLITE_NONE;
    ad_proc_t *p = spawn_ok(f->s, &o);
    run_until_line(&f->loop, &c, "tick 1");
    assert_int_equal(ad_proc_pause(p), 0);
    assert_true(ad_proc_paused(p));
    assert_int_equal(ad_proc_pause(p), AD_ESTATE);
    for (int i = 0; i < 200 && proc_state(ad_proc_pid(p)) != 'T'; i++) {
        usleep(10000);
    }
    assert_int_equal(proc_state(ad_proc_pid(p)), 'T');
    assert_int_equal(ad_proc_resume(p), 0);
    assert_false(ad_proc_paused(p));
    assert_int_equal(ad_proc_resume(p), AD_ESTATE);
    size_t before = c.lines[1];
    char want[32];
    snprintf(want, sizeof(want), "tick %zu", before + 2);
    run_until_line(&f->loop, &c, want); /* output flows again */
    /* a paused group still stops gracefully */
    assert_int_equal(ad_proc_pause(p), 0);
    assert_int_equal(ad_proc_stop(p, false), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.term_signal, SIGTERM);
    col_free(&c);
}

static void pty_child_sees_a_terminal_and_resizes(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "tty", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.pty = true;
    o.rows = 30;
    o.cols = 100;
    ad_proc_t *p = spawn_ok(f->s, &o);
    assert_true(ad_proc_is_pty(p));
    run_until_line(&f->loop, &c, "\"type\":\"tty\"");
    assert_true(has_line(&c, "{\"type\":\"tty\",\"isatty\":true,\"rows\":30,\"cols\":100}"));
    assert_int_equal(ad_proc_resize(p, 40, 120), 0);
    run_until_line(&f->loop, &c, "\"type\":\"resize\"");
    assert_true(has_line(&c, "{\"type\":\"resize\",\"rows\":40,\"cols\":120}"));
    assert_int_equal(ad_proc_write(p, "quit\n", 5), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 0);
    assert_true(c.raw_bytes > 0);
    col_free(&c);

    /* TERM is set for terminals, and the child has a controlling tty */
    col_t d = {0};
    const char *tty[] = {"sh", "-c", "echo TERM=$TERM; tty; test -t 0 && echo stdin-tty", NULL};
    o = opts_for(tty, &d);
    o.pty = true;
    spawn_ok(f->s, &o);
    run_until(&f->loop, &d.exited, WAIT_MS);
    assert_true(has_line(&d, "TERM=xterm"));
    assert_true(has_line(&d, "/dev/pts/"));
    assert_true(has_line(&d, "stdin-tty"));
    col_free(&d);
}

static void huge_line_is_cut_with_a_marker(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "huge", "20971520", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.max_line_bytes = 1 << 20;
    ad_proc_t *p = spawn_ok(f->s, &o);
    (void)p;
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 0);
    assert_int_equal(c.kept, 2);
    assert_true(c.trunc[0]);
    assert_int_equal(c.max_len, (1 << 20) + strlen(AD_PROC_TRUNC_MARKER));
    assert_non_null(strstr(c.line[0], AD_PROC_TRUNC_MARKER));
    assert_string_equal(c.line[1], "after");
    assert_false(c.trunc[1]);
    assert_int_equal(c.raw_bytes, 20971520 + strlen("\nafter\n"));
    col_free(&c);
}

static void binary_garbage_is_survived(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "garbage", "300000", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    spawn_ok(f->s, &o);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 0);
    assert_int_equal(c.lines[1], 2);
    assert_string_equal(c.last, "done");
    col_free(&c);
}

static long vm_rss_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    if (fp != NULL) {
        fclose(fp);
    }
    return kb;
}

static void hundred_megabytes_with_memory_bounded(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"node", fake_agent, "flood", "100", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    long before = vm_rss_kb();
    ad_proc_t *p = spawn_ok(f->s, &o);
    size_t max_line_cap = 0;
    uv_timer_t guard;
    timed_out = false;
    uv_timer_init(&f->loop, &guard);
    uv_timer_start(&guard, on_guard, 120000, 0);
    while (!c.exited && !timed_out) {
        uv_run(&f->loop, UV_RUN_ONCE);
        if (c.p != NULL && p->out.line.cap > max_line_cap) {
            max_line_cap = p->out.line.cap;
        }
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(timed_out);
    long after = vm_rss_kb();
    assert_int_equal(c.ex.exit_code, 0);
    assert_true(c.raw_bytes >= 100u * 1048576);
    assert_int_equal(c.bytes[1] + c.lines[1], c.raw_bytes); /* every byte, every line */
    assert_string_equal(c.last, "done");
    assert_true(max_line_cap <= 4096); /* lines of 100 bytes never needed more */
    /* 100 MB went through; the process grew by far less than that */
    assert_true(after - before < 32 * 1024);
    print_message("flood: %zu bytes, %zu lines, rss %ld -> %ld kB\n", c.raw_bytes, c.lines[1],
                  before, after);
    col_free(&c);
}

static void drain_is_bounded_when_a_grandchild_holds_output(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *argv[] = {"sh", "-c", "sleep 30 & echo started", NULL};
    ad_proc_opts_t o = opts_for(argv, &c);
    o.drain_ms = 300;
    spawn_ok(f->s, &o);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_int_equal(c.ex.exit_code, 0);
    assert_true(has_line(&c, "started"));
    col_free(&c);
}

static void set_flag(void *ud)
{
    *(bool *)ud = true;
}

static void shutdown_stops_everything(void **state)
{
    fx_t *f = *state;
    col_t c[3];
    memset(c, 0, sizeof(c));
    const char *a0[] = {"sleep", "30", NULL};
    const char *a1[] = {"node", fake_agent, "ignore-term", NULL};
    const char *a2[] = {"cat", NULL};
    const char *const *argvs[] = {a0, a1, a2};
    for (int i = 0; i < 3; i++) {
        ad_proc_opts_t o = opts_for(argvs[i], &c[i]);
        spawn_ok(f->s, &o);
    }
    run_until_line(&f->loop, &c[1], "\"ready\"");
    bool done = false;
    ad_procs_shutdown(f->s, 600, set_flag, &done);
    run_until(&f->loop, &done, WAIT_MS);
    for (int i = 0; i < 3; i++) {
        assert_true(c[i].exited);
        assert_true(c[i].ex.stop_requested);
        col_free(&c[i]);
    }
    assert_int_equal(ad_procs_count(f->s), 0);
    ad_proc_t *p = NULL;
    ad_proc_opts_t o = opts_for(a0, &c[0]);
    assert_int_equal(ad_proc_spawn(f->s, &o, &p, NULL, 0), AD_ESTATE);
    /* with nothing running, done comes at once */
    done = false;
    ad_procs_shutdown(f->s, 600, set_flag, &done);
    assert_true(done);
}

static void many_cycles_leave_no_zombies(void **state)
{
    fx_t *f = *state;
    enum { TOTAL = 500, BATCH = 10 };
    const char *argv[] = {"sleep", "30", NULL};
    for (int done = 0; done < TOTAL; done += BATCH) {
        col_t c[BATCH];
        memset(c, 0, sizeof(c));
        ad_proc_t *p[BATCH];
        for (int i = 0; i < BATCH; i++) {
            ad_proc_opts_t o = opts_for(argv, &c[i]);
            o.polite = AD_PROC_POLITE_NONE;
            p[i] = spawn_ok(f->s, &o);
        }
        for (int i = 0; i < BATCH; i++) {
            assert_int_equal(ad_proc_stop(p[i], (done / BATCH + i) % 2 == 0), 0);
        }
        for (int i = 0; i < BATCH; i++) {
            run_until(&f->loop, &c[i].exited, WAIT_MS);
            assert_true(c[i].ex.term_signal == SIGKILL || c[i].ex.term_signal == SIGTERM);
            col_free(&c[i]);
        }
    }
    assert_int_equal(ad_procs_count(f->s), 0);
    size_t all, zombies;
    count_children(&all, &zombies);
    assert_int_equal(zombies, 0);
    assert_int_equal(all, 0);
}

/* A child whose SIGCHLD never reaches the watcher (blocked here, so the
 * kernel keeps it pending) is still reaped, by the once-a-second sweep,
 * and its status kept for whoever waits for it. */
static pid_t lost_pid;
static bool lost_reaped;

static void on_lost_check(uv_timer_t *t)
{
    if (proc_state(lost_pid) == '?') {
        lost_reaped = true;
        uv_timer_stop(t);
    }
}

static void a_lost_sigchld_is_made_good(void **state)
{
    fx_t *f = *state;
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    lost_pid = fork();
    if (lost_pid == 0) {
        _exit(3);
    }
    assert_true(lost_pid > 0);
    for (int i = 0; i < 5000 && proc_state(lost_pid) != 'Z'; i++) {
        usleep(1000);
    }
    assert_int_equal(proc_state(lost_pid), 'Z');
    lost_reaped = false;
    uv_timer_t check;
    uv_timer_init(&f->loop, &check);
    uv_timer_start(&check, on_lost_check, 20, 20);
    run_until(&f->loop, &lost_reaped, 5000);
    uv_close((uv_handle_t *)&check, NULL);
    int status = 0;
    assert_true(ad_child_status_take(lost_pid, &status));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    pthread_sigmask(SIG_SETMASK, &old, NULL); /* the pending signal finds nothing */
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Two agentd on one machine share agentd-runs. One's start-up removes
 * the empty cgroups it left; it must not remove the one the other has just
 * made for a tree that has not joined it yet (CI saw a run lose its cgroup
 * so: its stop and its figures went with it). Each keeps its own folder,
 * and a held tree of the other's is still found by its agent's pid. */
static void another_daemon_leaves_our_cgroups_alone(void **state)
{
    fx_t *f = *state;
    if (!f->s->cg.ok) {
        print_message("skipped: no cgroup v2 here (%s)\n", f->s->cg.why);
        return;
    }
    char path[4200], err[256];
    int fd = -1;
    assert_int_equal(ad_cgroup_create(&f->s->cg, "run_unit_fresh", NULL, path, sizeof(path), &fd,
                                      err, sizeof(err)),
                     0);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    /* another daemon starts (twice: its own leftover goes the second time) */
    ad_procs_t *other = ad_procs_new(&f->loop, "/unit/another/data-dir");
    assert_true(other->cg.ok);
    assert_string_not_equal(other->cg.root, f->s->cg.root);
    assert_string_equal(other->cg.shared, f->s->cg.shared);
    assert_int_equal(stat(path, &st), 0); /* still there, empty */
    char left[4200];
    snprintf(left, sizeof(left), "%s/run_unit_left", other->cg.root);
    assert_int_equal(mkdir(left, 0755), 0);
    ad_procs_free(other);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    other = ad_procs_new(&f->loop, "/unit/another/data-dir");
    assert_int_not_equal(stat(left, &st), 0);
    assert_int_equal(stat(path, &st), 0);

    /* a tree joins ours; the other daemon finds its cgroup by its pid,
     * under its name only */
    pid_t child = fork();
    if (child == 0) {
        if (write(fd, "0", 1) != 1) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    assert_true(child > 0);
    char found[4200] = "";
    for (int i = 0; i < WAIT_MS && ad_cgroup_of_pid(&other->cg, child, "run_unit_fresh", found,
                                                    sizeof(found)) != 0;
         i++) {
        usleep(1000); /* until the child has joined */
    }
    assert_string_equal(found, path);
    assert_int_equal(ad_cgroup_of_pid(&other->cg, child, "run_unit_other", found, sizeof(found)),
                     -1);
    assert_int_equal(ad_cgroup_of_pid(&other->cg, getpid(), "run_unit_fresh", found, sizeof(found)),
                     -1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(fd);
    ad_procs_free(other);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_true(ad_cgroup_remove(path));
}

/* What is asked while a spawn is at its thread waits for it: input is
 * queued, a stop applies once it runs; signals are refused (no pid). */
/* The child joins its run's cgroup before it runs anything: born in it
 * (clone3 with CLONE_INTO_CGROUP, issue #80) where the kernel lets us, and
 * by its own write to cgroup.procs when not; the fallback forced here
 * (no_into) must land it in the same place. The line it prints is read
 * from /proc/self/cgroup after its exec, so either way it is already in. */
static void a_child_joins_its_cgroup_born_or_moved(void **state)
{
    fx_t *f = *state;
    if (!f->s->cg.ok) {
        print_message("skipped: no cgroup v2 here (%s)\n", f->s->cg.why);
        return;
    }
    const char *argv[] = {"sh", "-c", "grep '^0::' /proc/self/cgroup", NULL};
    const char *names[] = {"unit_born_in", "unit_moved"};
    for (int k = 0; k < 2; k++) {
        f->s->sp.no_into = k == 1;
        uint64_t born0 = __atomic_load_n(&f->s->sp.born_in, __ATOMIC_RELAXED);
        uint64_t moved0 = __atomic_load_n(&f->s->sp.moved, __ATOMIC_RELAXED);
        col_t c = {0};
        ad_proc_opts_t o = opts_for(argv, &c);
        o.cgroup_name = names[k];
        spawn_ok(f->s, &o);
        run_until(&f->loop, &c.exited, WAIT_MS);
        assert_int_equal(c.ex.exit_code, 0);
        char want[300];
        snprintf(want, sizeof(want), "/%s", names[k]);
        bool in = c.kept == 1 && strstr(c.line[0], want) != NULL &&
                  strcmp(c.line[0] + strlen(c.line[0]) - strlen(want), want) == 0;
        if (!in) {
            fail_msg("%s: the child was in %s", names[k], c.kept > 0 ? c.line[0] : "(nothing)");
        }
        uint64_t born = __atomic_load_n(&f->s->sp.born_in, __ATOMIC_RELAXED) - born0;
        uint64_t moved = __atomic_load_n(&f->s->sp.moved, __ATOMIC_RELAXED) - moved0;
        assert_int_equal(born + moved, 1);
        if (k == 1) {
            assert_int_equal(moved, 1); /* forced: the write to cgroup.procs */
        } else if (born == 0) {
            print_message("note: this kernel refused clone3 into a cgroup; moved instead\n");
        }
        col_free(&c);
    }
}

static void the_window_before_the_start(void **state)
{
    fx_t *f = *state;
    col_t c = {0};
    const char *cat[] = {"cat", NULL};
    ad_proc_opts_t o = opts_for(cat, &c);
    ad_proc_t *p = spawn_async(f->s, &o);
    assert_int_equal(ad_proc_write(p, "early\n", 6), 0);
    ad_proc_close_stdin(p);
    assert_int_equal(ad_proc_signal(p, SIGUSR1), AD_ESTATE);
    assert_int_equal(ad_proc_pause(p), AD_ESTATE);
    assert_true(ad_proc_alive(p));
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_true(c.started);
    assert_int_equal(c.start_rc, 0);
    assert_false(c.exited_before_start);
    assert_int_equal(c.ex.exit_code, 0);
    assert_true(has_line(&c, "early"));
    col_free(&c);

    /* a stop asked before the start: it runs, then stops */
    const char *sl[] = {"sleep", "30", NULL};
    o = opts_for(sl, &c);
    o.polite = AD_PROC_POLITE_NONE;
    p = spawn_async(f->s, &o);
    assert_int_equal(ad_proc_stop(p, false), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_true(c.started);
    assert_true(c.ex.stop_requested);
    assert_int_equal(c.ex.term_signal, SIGTERM);
    col_free(&c);

    /* and a force stop */
    o = opts_for(sl, &c);
    p = spawn_async(f->s, &o);
    assert_int_equal(ad_proc_stop(p, true), 0);
    run_until(&f->loop, &c.exited, WAIT_MS);
    assert_true(c.ex.forced);
    assert_int_equal(c.ex.term_signal, SIGKILL);
    col_free(&c);
}

/* Children that end before the loop hears their pid are still reported,
 * once each, with their status (the reaper kept it for the pid). */
static void quick_exits_are_reported(void **state)
{
    fx_t *f = *state;
    enum { N = 40 };
    col_t c[N];
    memset(c, 0, sizeof(c));
    const char *t[] = {"sh", "-c", "exit 3", NULL};
    for (int i = 0; i < N; i++) {
        ad_proc_opts_t o = opts_for(t, &c[i]);
        spawn_async(f->s, &o);
    }
    for (int i = 0; i < N; i++) {
        run_until(&f->loop, &c[i].exited, WAIT_MS);
        assert_true(c[i].started);
        assert_int_equal(c[i].ex.exit_code, 3);
        col_free(&c[i]);
    }
    size_t all, zombies;
    count_children(&all, &zombies);
    assert_int_equal(zombies, 0);
}

/* Shutdown and free with spawns under way: the shutdown waits for them
 * and stops them; free leaves nothing running and calls nothing. */
static void closing_while_starting(void **state)
{
    fx_t *f = *state;
    col_t c[2];
    memset(c, 0, sizeof(c));
    const char *sl[] = {"sleep", "30", NULL};
    ad_proc_opts_t o = opts_for(sl, &c[0]);
    o.polite = AD_PROC_POLITE_NONE;
    spawn_async(f->s, &o);
    bool done = false;
    ad_procs_shutdown(f->s, 600, set_flag, &done);
    run_until(&f->loop, &done, WAIT_MS);
    assert_true(c[0].started);
    assert_true(c[0].exited);
    assert_true(c[0].ex.stop_requested);
    col_free(&c[0]);
}

static void free_while_starting(void **state)
{
    fx_t *f = *state;
    col_t c[4];
    memset(c, 0, sizeof(c));
    const char *sl[] = {"sleep", "30", NULL};
    for (int i = 0; i < 4; i++) {
        ad_proc_opts_t o = opts_for(sl, &c[i]);
        spawn_async(f->s, &o);
    }
    ad_procs_free(f->s); /* the teardown's loop run frees the rest */
    f->s = NULL;
    for (int i = 0; i < 4; i++) {
        assert_false(c[i].started);
        assert_false(c[i].exited);
    }
    size_t all, zombies;
    count_children(&all, &zombies);
    assert_int_equal(all, 0);
}

static void which_finds_executables(void **state)
{
    AD_UNUSED(state);
    char out[4096];
    assert_int_equal(ad_path_which("sh", "/nonexistent:/bin:/usr/bin", out, sizeof(out)), 0);
    assert_string_equal(out, "/bin/sh");
    assert_int_equal(ad_path_which("no-such-cmd-xyz", "/bin", out, sizeof(out)), AD_ENOENT);
    assert_int_equal(ad_path_which("/bin/sh", NULL, out, sizeof(out)), 0);
    assert_int_equal(ad_path_which("/etc", NULL, out, sizeof(out)), AD_ENOENT);
}

int main(void)
{
    if (realpath("tests/fixtures/fake-agent.js", fake_agent) == NULL) {
        fprintf(stderr, "run from the repository root (tests/fixtures/fake-agent.js)\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* as agentd does; children must get it back */
    ad_log_set_level(AD_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_handles_chunks_crlf_and_the_cap),
        cmocka_unit_test(which_finds_executables),
        cmocka_unit_test_setup_teardown(exit_code_after_all_output, setup, teardown),
        cmocka_unit_test_setup_teardown(death_by_signal_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(spawn_errors_are_clear_and_call_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(stdin_is_queued_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_is_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(graceful_stop_escalates_to_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(polite_sigint_lets_it_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(force_stop_kills_now, setup, teardown),
        cmocka_unit_test_setup_teardown(group_kill_reaches_grandchildren, setup, teardown),
        cmocka_unit_test_setup_teardown(pause_and_resume_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(pty_child_sees_a_terminal_and_resizes, setup, teardown),
        cmocka_unit_test_setup_teardown(huge_line_is_cut_with_a_marker, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_garbage_is_survived, setup, teardown),
        cmocka_unit_test_setup_teardown(hundred_megabytes_with_memory_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_is_bounded_when_a_grandchild_holds_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(shutdown_stops_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(many_cycles_leave_no_zombies, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_sigchld_is_made_good, setup, teardown),
        cmocka_unit_test_setup_teardown(the_window_before_the_start, setup, teardown),
        cmocka_unit_test_setup_teardown(another_daemon_leaves_our_cgroups_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_child_joins_its_cgroup_born_or_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(quick_exits_are_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(closing_while_starting, setup, teardown),
        cmocka_unit_test_setup_teardown(free_while_starting, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
