/* SPDX-License-Identifier: MIT */
/* Tests for ids, clocks, error names, logging and the data dir lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "core/child.h"
#include "core/core.h"

static void ids_are_prefixed_valid_and_ordered(void **state)
{
    AD_UNUSED(state);
    char prev[AD_ID_MAX] = "";
    for (int i = 0; i < 5000; i++) {
        char id[AD_ID_MAX];
        assert_int_equal(ad_id_new("ag", id), 0);
        assert_int_equal(strlen(id), 29);
        assert_true(ad_id_valid(id, "ag"));
        assert_false(ad_id_valid(id, "ws"));
        assert_true(strcmp(prev, id) < 0);
        memcpy(prev, id, sizeof(id));
    }
    char id[AD_ID_MAX];
    assert_int_equal(ad_id_new("", id), AD_EINVAL);
    assert_int_equal(ad_id_new("waytoolongprefixxx", id), AD_EINVAL);
    assert_false(ad_id_valid("ag_short", "ag"));
    assert_false(ad_id_valid("ag_0123456789abcdefghjkmnpqrsU", "ag"));
}

static void time_round_trips(void **state)
{
    AD_UNUSED(state);
    char s[AD_TIME_MAX];
    ad_time_format(0, s);
    assert_string_equal(s, "1970-01-01T00:00:00.000Z");
    ad_time_format(1795290286123LL, s);
    assert_string_equal(s, "2026-11-21T19:44:46.123Z");
    int64_t ms;
    assert_int_equal(ad_time_parse(s, &ms), 0);
    assert_int_equal(ms, 1795290286123LL);
    assert_int_equal(ad_time_parse("2026-11-21T19:44:46Z", &ms), 0);
    assert_int_equal(ms, 1795290286000LL);
    assert_int_equal(ad_time_parse("2026-11-21T19:44:46.5Z", &ms), 0);
    assert_int_equal(ms, 1795290286500LL);
    assert_int_equal(ad_time_parse("2026-11-21 19:44:46Z", &ms), AD_EINVAL);
    assert_int_equal(ad_time_parse("2026-13-21T19:44:46Z", &ms), AD_EINVAL);
    assert_int_equal(ad_time_parse("2026-11-21T19:44:46+01:00", &ms), AD_EINVAL);
    assert_int_equal(ad_time_parse("", &ms), AD_EINVAL);
    uint64_t a = ad_mono_ns(), b = ad_mono_ns();
    assert_true(b >= a);
    assert_true(ad_wall_ms() > 1700000000000LL);
}

/* The hand-written formatter against the C library's gmtime_r and strftime:
 * the last millisecond of every day from 1890 to 2210 (leap days, century
 * years, before 1970), then random instants from 1000 to 9999; and its own
 * way with years of other lengths. */
static int time_check(int64_t ms)
{
    char got[AD_TIME_MAX], want[AD_TIME_MAX];
    ad_time_format(ms, got);
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        return -1;
    }
    size_t n = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(want + n, sizeof(want) - n, ".%03dZ", (int)(ms - secs * 1000));
    if (strcmp(got, want) != 0) {
        print_error("%lld: %s, libc %s\n", (long long)ms, got, want);
        return -1;
    }
    return 0;
}

static void time_format_matches_libc(void **state)
{
    AD_UNUSED(state);
    const int64_t day = 86400000LL, y1890 = -2524521600000LL;
    for (int64_t i = 0; i < 320 * 366; i++) {
        assert_int_equal(time_check(y1890 + i * day + day - 1), 0);
    }
    const int64_t lo = -30610224000000LL, hi = 253402300799999LL; /* 1000-01-01 .. 9999 */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        assert_int_equal(time_check(lo + (int64_t)(x % (uint64_t)(hi - lo))), 0);
    }
    char got[AD_TIME_MAX];
    ad_time_format(-1, got);
    assert_string_equal(got, "1969-12-31T23:59:59.999Z");
    ad_time_format(951782400000LL, got); /* a century's leap day */
    assert_string_equal(got, "2000-02-29T00:00:00.000Z");
    ad_time_format(-62135596800000LL + 1461 * 86400000LL, got); /* year 4 was leap */
    assert_string_equal(got, "0005-01-01T00:00:00.000Z");
    ad_time_format(253402300800000LL, got);
    assert_string_equal(got, "10000-01-01T00:00:00.000Z");
    ad_time_format(INT64_MIN, got);
    assert_true(strlen(got) < AD_TIME_MAX);
    ad_time_format(INT64_MAX, got);
    assert_true(strlen(got) < AD_TIME_MAX);
}

static void errors_have_names(void **state)
{
    AD_UNUSED(state);
    assert_string_equal(ad_errname(AD_ENOENT), "ENOENT");
    assert_string_equal(ad_strerror(AD_ENOENT), "not found");
    assert_string_equal(ad_strerror(AD_EFULL), "storage full");
    assert_string_equal(ad_strerror(-9999), "unknown error");
    assert_string_equal(ad_strerror(5), "unknown error");
    assert_string_equal(ad_errname(AD_OK), "OK");
    for (int e = AD_ERR_BASE_ - 1; e > AD_ERR_MIN_; e--) {
        assert_true(AD_IS_ERR(e));
        assert_string_not_equal(ad_strerror(e), "unknown error");
        assert_string_not_equal(ad_errname(e), "EUNKNOWN");
    }
    /* Out of errno's range: a -errno (a libuv code too) is never one of
     * ours, and is still named. */
    for (int e = 1; e <= 1000; e++) {
        assert_false(AD_IS_ERR(-e));
    }
    assert_false(AD_IS_ERR(UV_EOF));
    assert_false(AD_IS_ERR(UV_EAI_AGAIN));
    assert_false(AD_IS_ERR(UV_ECANCELED));
    assert_string_equal(ad_errname(-EACCES), "EACCES");
    assert_string_equal(ad_errname(-ENOENT), "ENOENT");
    assert_string_not_equal(ad_strerror(-EIO), "unknown error");
    assert_string_not_equal(ad_strerror(-ENOENT), ad_strerror(AD_ENOENT));
    assert_string_equal(ad_errname(AD_ERR_MIN_), "EUNKNOWN");
}

/* Runs fn in a child; true when the child was killed by SIGABRT. */
static bool aborts(void (*fn)(void))
{
    fflush(stderr);
    pid_t child = fork();
    if (child == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 2); /* the BUG line is expected */
        }
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(child, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void assert_false_fn(void)
{
    int x = 1;
    AD_ASSERT(x == 2);
}

static void assert_true_fn(void)
{
    int x = 1;
    AD_ASSERT(x == 1);
}

static void *other_thread(void *arg)
{
    bool *on_loop = arg;
    *on_loop = ad_loop_thread_is();
    return NULL;
}

static void loop_assert_off_loop(void)
{
    pthread_t t;
    bool on_loop = true;
    pthread_create(&t, NULL, other_thread, &on_loop);
    pthread_join(t, NULL);
    AD_ASSERT(on_loop);
}

static void asserts_abort_in_test_builds(void **state)
{
    AD_UNUSED(state);
    assert_true(aborts(assert_false_fn));
    assert_false(aborts(assert_true_fn));
    /* No loop thread set yet: every thread counts as it. */
    assert_false(aborts(loop_assert_off_loop));
    ad_loop_thread_set();
    assert_true(ad_loop_thread_is());
    assert_true(aborts(loop_assert_off_loop));
}

/* The sanitizer build still catches undefined behaviour, and says where:
 * its UBSan checks trap (the Makefile, SAN) and ASan reports the trap with
 * the line (tools/asan_options.c). This binary runs itself again with
 * AD_TEST_OVERFLOW set (cmocka handles SIGILL in its own process, before
 * ASan could), main() overflows a signed int, and what it wrote to stderr
 * must be ASan's report naming this file. Other builds have no such
 * check: skipped there. */
static int overflow_now(void)
{
    volatile int big = INT_MAX;
    int sum = big + 1; /* undefined: the check traps here */
    return sum < 0 ? 3 : 4;
}

static void undefined_behaviour_is_reported_in_check_builds(void **state)
{
    AD_UNUSED(state);
#if defined(AD_TEST_BUILD) && defined(__SANITIZE_ADDRESS__)
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        setenv("AD_TEST_OVERFLOW", "1", 1);
        execl("/proc/self/exe", "test-core-misc", (char *)NULL);
        _exit(5);
    }
    close(fds[1]);
    char out[16384];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(out) - 1 && (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0) {
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1); /* ASan's exit code: not 3, 4 or 5 */
    assert_non_null(strstr(out, "ERROR: AddressSanitizer: ILL"));
    assert_non_null(strstr(out, "in overflow_now "));
    assert_non_null(strstr(out, "test-core-misc.c:"));
#else
    skip();
#endif
}

static void log_masks_secrets(void **state)
{
    AD_UNUSED(state);
    char out[256];
    ad_log_mask("login token=abc123 user=bob", out, sizeof(out));
    assert_string_equal(out, "login token=*** user=bob");
    ad_log_mask("hdr authorization=\"Bearer xyz 1\" ok=1", out, sizeof(out));
    assert_string_equal(out, "hdr authorization=*** ok=1");
    ad_log_mask("sent Bearer s3cr3t to api_key=k1 x.key=k2 keys=3", out, sizeof(out));
    assert_string_equal(out, "sent Bearer *** to api_key=*** x.key=*** keys=3");
    ad_log_mask("key sk-ant-api03-abcdefgh in env", out, sizeof(out));
    assert_string_equal(out, "key sk-*** in env");
    ad_log_mask("password=", out, sizeof(out));
    assert_string_equal(out, "password=***");
    char tiny[8];
    ad_log_mask("a very long message", tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), 7);
}

static char *capture_log(ad_log_format_t f, const char *msg)
{
    char path[] = "/tmp/agentd-logXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    ad_log_set_fd(fd);
    ad_log_set_format(f);
    ad_log(AD_LOG_INFO, "test", "%s", msg);
    ad_log(AD_LOG_DEBUG, "test", "hidden at info level");
    ad_log_set_fd(2);
    ad_log_set_format(AD_LOG_TEXT);
    static char buf[1024];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* A warning that repeats is written once per window, then with the count
 * of what was held back; another call site is not held back by it. */
static void log_holds_back_repeated_warnings(void **state)
{
    AD_UNUSED(state);
    char path[] = "/tmp/agentd-logXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    ad_log_set_fd(fd);
    for (int i = 0; i < 1000; i++) {
        ad_log(AD_LOG_WARN, "test", "disk full write=%d", i);
    }
    ad_log(AD_LOG_WARN, "test", "another warning");
    ad_log(AD_LOG_INFO, "test", "info is never held");
    ad_log(AD_LOG_INFO, "test", "info is never held");
    /* After the window, the next one is written with the count. */
    ad_log_set_repeat_window(1);
    usleep(5000);
    ad_log(AD_LOG_WARN, "test", "disk full write=%d", 1000);
    ad_log_set_repeat_window(5000);
    ad_log_set_fd(2);
    static char buf[4096];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
    size_t lines = 0;
    for (char *p = buf; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    assert_int_equal(lines, 5);
    assert_non_null(strstr(buf, "write=0\n"));
    assert_non_null(strstr(buf, "write=1000 repeated=999\n"));
    assert_null(strstr(buf, "write=1\n"));
    assert_non_null(strstr(buf, "another warning"));
}

static void log_writes_one_line_text_or_json(void **state)
{
    AD_UNUSED(state);
    char *line = capture_log(AD_LOG_TEXT, "listening addr=127.0.0.1 token=t0p");
    assert_non_null(
        strstr(line, " level=info sub=test msg=\"listening\" addr=127.0.0.1 token=***\n"));
    assert_true(strncmp(line, "ts=", 3) == 0);
    assert_null(strstr(line, "hidden"));
    assert_string_equal(strchr(line, '\n'), "\n"); /* exactly one line */

    line =
        capture_log(AD_LOG_JSON, "run ended code=0 reason=\"all \\\"done\\\"\" sk-ant-xxxxxxxxx");
    assert_non_null(strstr(line, "\"level\":\"info\",\"sub\":\"test\",\"msg\":\"run ended\""));
    assert_non_null(strstr(line, "\"code\":\"0\""));
    assert_non_null(strstr(line, "\"extra\":\"sk-***\""));
    assert_null(strstr(line, "xxxxxxxx"));

    line = capture_log(AD_LOG_TEXT, "two\nlines");
    assert_non_null(strstr(line, "msg=\"two lines\"\n"));
}

static void utf8_sequences(void **state)
{
    AD_UNUSED(state);
    const unsigned char *u = (const unsigned char *)"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    assert_int_equal(ad_utf8_seq_len(u, 10), 1);
    assert_int_equal(ad_utf8_seq_len(u + 1, 9), 2);
    assert_int_equal(ad_utf8_seq_len(u + 3, 7), 3);
    assert_int_equal(ad_utf8_seq_len(u + 6, 4), 4);
    assert_int_equal(ad_utf8_seq_len(u + 6, 3), 0);                                 /* truncated */
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"\xc0\xaf", 2), 0);     /* overlong */
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"\xed\xa0\x80", 3), 0); /* surrogate */
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"\x80", 1), 0);
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"\xe2\x28\xa1", 3), 0);
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"", 0), 0);
    assert_int_equal(ad_utf8_seq_len((const unsigned char *)"\0", 1), 1);
}

/* Repair keeps valid text as is and turns each bad byte and NUL into
 * U+FFFD; the prefix check stops at the first bad byte. */
static void utf8_repair_and_prefix(void **state)
{
    AD_UNUSED(state);
    static const struct {
        const char *in;
        size_t n;
        const char *out;
        size_t prefix;
    } cases[] = {
        {"plain", 5, "plain", 5},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9", 5},
        {"a\xff"
         "b",
         3,
         "a\xef\xbf\xbd"
         "b",
         1},
        {"a\0b", 3,
         "a\xef\xbf\xbd"
         "b",
         3}, /* NUL is valid UTF-8 but not text */
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 0},
        {"x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd", 1}, /* cut inside a character */
        {"\xf0\x9f\x98\x80!", 5, "\xf0\x9f\x98\x80!", 5},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
        ad_buf_t b;
        ad_buf_init(&b, 1024);
        assert_int_equal(ad_utf8_repair(&b, cases[i].in, cases[i].n), 0);
        assert_int_equal(b.len, strlen(cases[i].out));
        assert_memory_equal(b.data, cases[i].out, b.len);
        assert_int_equal(ad_utf8_valid_prefix(cases[i].in, cases[i].n), cases[i].prefix);
        assert_int_equal(ad_utf8_valid(b.data, b.len), true);
        ad_buf_cleanup(&b);
    }
    ad_buf_t small;
    ad_buf_init(&small, 4);
    assert_int_equal(ad_utf8_repair(&small, "\xff\xff", 2), AD_ETOOBIG);
    ad_buf_cleanup(&small);
}

static void pidlock_refuses_second_holder(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-lockXXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], err[256];
    snprintf(sub, sizeof(sub), "%s/a/b/data", dir);
    assert_int_equal(ad_dir_create(sub, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    ad_pidlock_t l;
    assert_int_equal(ad_pidlock_acquire(&l, sub, err, sizeof(err)), 0);
    pid_t child = fork();
    if (child == 0) {
        ad_pidlock_t l2;
        char e2[256];
        int rc = ad_pidlock_acquire(&l2, sub, e2, sizeof(e2));
        char want[64];
        snprintf(want, sizeof(want), "(pid %ld)", (long)getppid());
        _exit(rc == AD_EBUSY && strstr(e2, want) != NULL ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ad_pidlock_release(&l);
    assert_int_equal(ad_pidlock_acquire(&l, sub, err, sizeof(err)), 0);
    ad_pidlock_release(&l);

    snprintf(sub, sizeof(sub), "%s/file", dir);
    FILE *f = fopen(sub, "w");
    fclose(f);
    assert_int_equal(ad_dir_create(sub, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "not a directory"));
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* An agent's text files (textfile.c, served for local runs and on
 * nodes): lines and bounds, and every way out of the root refused: "..",
 * an absolute path, a symlinked folder or file, a write through a link. */
static void textfile_stays_beneath_its_root(void **state)
{
    (void)state;
    char base[] = "/tmp/agentd-textfile-XXXXXX";
    assert_non_null(mkdtemp(base));
    char root[128], p[256];
    snprintf(root, sizeof(root), "%s/wt", base);
    assert_int_equal(mkdir(root, 0700), 0);
    snprintf(p, sizeof(p), "%s/secret", base);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("outside\n", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/link", root);
    assert_int_equal(symlink("../secret", p), 0);
    snprintf(p, sizeof(p), "%s/up", root);
    assert_int_equal(symlink("..", p), 0);

    assert_int_equal(ad_textfile_write(root, "notes.txt", "a\nb\nc\n", 6, NULL, NULL), 0);
    json_t *c = NULL;
    assert_int_equal(ad_textfile_read(root, "notes.txt", 2, 1, NULL, NULL, &c), 0);
    assert_string_equal(json_string_value(c), "b\n");
    json_decref(c);
    assert_int_equal(ad_textfile_read(root, "missing.txt", 0, 0, NULL, NULL, &c), ENOENT);
    assert_string_equal(ad_textfile_why(ENOENT), AD_TEXTFILE_NOT_FOUND);
    assert_null(c);

    const char *out[] = {"../secret", "link", "up/secret", "/etc/hostname"};
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        int rc = ad_textfile_read(root, out[i], 0, 0, NULL, NULL, &c);
        assert_true(rc == EXDEV || rc == ELOOP);
        assert_null(c);
        assert_string_equal(ad_textfile_why(rc), "path is outside the worktree");
        rc = ad_textfile_write(root, out[i], "x", 1, NULL, NULL);
        assert_true(rc == EXDEV || rc == ELOOP || rc == EINVAL);
    }
    snprintf(p, sizeof(p), "%s/secret", base);
    f = fopen(p, "r");
    char got[32] = "";
    assert_non_null(fgets(got, sizeof(got), f));
    fclose(f);
    assert_string_equal(got, "outside\n");
    /* a folder, and a file past the bound, are not served */
    snprintf(p, sizeof(p), "%s/dir", root);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(ad_textfile_read(root, "dir", 0, 0, NULL, NULL, &c), EFBIG);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    assert_int_equal(system(cmd), 0);
}

/* A write the disk cannot take (here the file size limit) leaves the file
 * as it was, and no temporary file beside it: the file is replaced whole or
 * not at all. A reader that had it open keeps reading the old content. */
static void textfile_write_is_whole_or_not_at_all(void **state)
{
    (void)state;
    char root[] = "/tmp/agentd-textfile-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[256];
    snprintf(p, sizeof(p), "%s/notes.txt", root);
    assert_int_equal(ad_textfile_write(root, "notes.txt", "first version\n", 14, NULL, NULL), 0);
    assert_int_equal(chmod(p, 0640), 0);
    int reader = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(reader >= 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {.rlim_cur = 4, .rlim_max = 4};
        signal(SIGXFSZ, SIG_IGN);
        const char *more = "a much longer second version\n";
        _exit(setrlimit(RLIMIT_FSIZE, &lim) == 0 &&
                      ad_textfile_write(root, "notes.txt", more, strlen(more), NULL, NULL) == ENOSPC
                  ? 0
                  : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    json_t *c = NULL;
    assert_int_equal(ad_textfile_read(root, "notes.txt", 0, 0, NULL, NULL, &c), 0);
    assert_string_equal(json_string_value(c), "first version\n");
    json_decref(c);

    assert_int_equal(ad_textfile_write(root, "notes.txt", "second\n", 7, NULL, NULL), 0);
    char got[32] = "";
    assert_int_equal(read(reader, got, sizeof(got) - 1), 14);
    assert_string_equal(got, "first version\n");
    close(reader);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    DIR *d = opendir(root);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
        assert_true(strncmp(e->d_name, ".agentd-w-", 10) != 0);
    }
    closedir(d);
    assert_int_equal(n, 1);
    unlink(p);
    assert_int_equal(rmdir(root), 0);
}

/* A program run to its end (core/child.h): its output and errors in one
 * buffer, bounded; its folder and environment; no signal blocked in it
 * whatever the caller blocks; at the deadline its whole group killed; a
 * start that cannot happen is an error, not a status. */
/* A descriptor libuv closed (syscall(SYS_close), which ThreadSanitizer
 * does not intercept) and opened again by another thread, with nothing
 * the sanitizer sees ordering the two: the tsan build's syscall
 * (tools/tsan_close.c) tells it of the close, so no race is reported
 * (make tsan-unit fails on a report). In the other builds it only checks
 * that the number is used again. */
static atomic_int reuse_step;
static int reuse_fd = -1;

static void *reopen_thread(void *arg)
{
    AD_UNUSED(arg);
    /* relaxed: no happens-before for the sanitizer, as between the loop
     * and the store's threads in the daemon */
    while (atomic_load_explicit(&reuse_step, memory_order_relaxed) == 0) {
        sched_yield();
    }
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    atomic_store_explicit(&reuse_fd, fd, memory_order_relaxed);
    return NULL;
}

static void a_descriptor_libuv_closed_is_reused_by_another_thread(void **state)
{
    AD_UNUSED(state);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reopen_thread, NULL), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_file fds[2];
    assert_int_equal(uv_pipe(fds, 0, 0), 0);
    uv_pipe_t p[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(uv_pipe_init(&loop, &p[i], 0), 0);
        assert_int_equal(uv_pipe_open(&p[i], fds[i]), 0);
        uv_close((uv_handle_t *)&p[i], NULL); /* libuv's own close of fds[i] */
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    atomic_store_explicit(&reuse_step, 1, memory_order_relaxed);
    assert_int_equal(pthread_join(t, NULL), 0);
    int fd = atomic_load_explicit(&reuse_fd, memory_order_relaxed);
    assert_true(fd >=
                0); /* the lowest free number: the loop's epoll or a pipe's, closed by libuv */
    assert_true(fd <= (fds[0] > fds[1] ? fds[0] : fds[1]));
    close(fd);
}

static void child_run(const char *script, ad_child_run_t *o, ad_child_ran_t *ran, int want_rc)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    char err[256] = "";
    ad_buf_reset(o->out);
    assert_int_equal(ad_child_run(argv, o, ran, err, sizeof(err)), want_rc);
}

static bool gone_or_zombie(pid_t pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return true;
    }
    bool z = fgets(stat, sizeof(stat), f) != NULL && strstr(stat, ") Z ") != NULL;
    fclose(f);
    return z;
}

static void child_run_bounds_its_output_and_its_time(void **state)
{
    (void)state;
    ad_buf_t b;
    ad_buf_init(&b, 4096);
    ad_child_ran_t ran;
    char *env[] = {"WHO=agentd", NULL};
    ad_child_run_t o = {.dir = "/tmp", .envp = env, .timeout_ms = 30000, .out = &b};
    child_run("echo out; echo err >&2; pwd; echo $WHO; exit 3", &o, &ran, 0);
    assert_string_equal(b.data, "out\nerr\n/tmp\nagentd\n");
    assert_true(WIFEXITED(ran.status) && WEXITSTATUS(ran.status) == 3);
    assert_false(ran.timed_out || ran.truncated);

    o.stderr_only = true;
    child_run("echo out; echo err >&2", &o, &ran, 0);
    assert_string_equal(b.data, "err\n");
    o.stderr_only = false;

    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    child_run("grep SigBlk /proc/self/status", &o, &ran, 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_string_equal(b.data, "SigBlk:\t0000000000000000\n");

    ad_buf_t small;
    ad_buf_init(&small, 8);
    o.out = &small;
    child_run("printf 0123456789abcdef; printf more", &o, &ran, 0);
    assert_int_equal(small.len, 8);
    assert_memory_equal(small.data, "01234567", 8);
    assert_true(ran.truncated && WIFEXITED(ran.status) && WEXITSTATUS(ran.status) == 0);
    ad_buf_cleanup(&small);
    o.out = &b;

    o.timeout_ms = 300;
    child_run("sleep 30 & echo $!; wait", &o, &ran, 0);
    assert_true(ran.timed_out);
    assert_true(WIFSIGNALED(ran.status) && WTERMSIG(ran.status) == SIGKILL);
    pid_t left = (pid_t)strtol(b.data, NULL, 10);
    assert_true(left > 0);
    for (int i = 0; i < 500 && !gone_or_zombie(left); i++) { /* bounded: 5 s */
        usleep(10000);
    }
    assert_true(gone_or_zombie(left));

    o.timeout_ms = 30000;
    o.dir = "/nonexistent-agentd-dir";
    char *argv[] = {"/bin/true", NULL};
    char err[256] = "";
    assert_int_equal(ad_child_run(argv, &o, &ran, err, sizeof(err)), AD_EIO);
    assert_non_null(strstr(err, "cannot start /bin/true in /nonexistent-agentd-dir"));
    o.dir = NULL;
    char *missing[] = {"/nonexistent-agentd-program", NULL};
    assert_int_equal(ad_child_run(missing, &o, &ran, err, sizeof(err)), AD_EIO);
    assert_non_null(strstr(err, "No such file"));
    ad_buf_cleanup(&b);
}

int main(void)
{
    if (getenv("AD_TEST_OVERFLOW") != NULL) {
        return overflow_now();
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_prefixed_valid_and_ordered),
        cmocka_unit_test(time_round_trips),
        cmocka_unit_test(time_format_matches_libc),
        cmocka_unit_test(errors_have_names),
        cmocka_unit_test(asserts_abort_in_test_builds),
        cmocka_unit_test(undefined_behaviour_is_reported_in_check_builds),
        cmocka_unit_test(log_masks_secrets),
        cmocka_unit_test(log_writes_one_line_text_or_json),
        cmocka_unit_test(log_holds_back_repeated_warnings),
        cmocka_unit_test(utf8_sequences),
        cmocka_unit_test(utf8_repair_and_prefix),
        cmocka_unit_test(pidlock_refuses_second_holder),
        cmocka_unit_test(textfile_stays_beneath_its_root),
        cmocka_unit_test(textfile_write_is_whole_or_not_at_all),
        cmocka_unit_test(child_run_bounds_its_output_and_its_time),
        cmocka_unit_test(a_descriptor_libuv_closed_is_reused_by_another_thread),
    };
    return cmocka_run_group_tests_name("core-misc", tests, NULL, NULL);
}
