/* SPDX-License-Identifier: MIT */
/*
 * The CLIs' session files as src/sessfile reads them (issue #76): ids, the
 * scan of a HOME with hostile neighbours (a huge line, bad JSON, a
 * symlinked file and folder, a FIFO, a name that is no id), Claude's and
 * Codex's records into a summary and messages (sidechain, meta and
 * injected text left out, a tool call with its result), the head and the
 * tail of a long file, and the bounded line reader. The routes, the poll
 * and the adoption are the e2e suite's (sessions-external).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sessfile/sessfile.h"

static char home[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX + 256];
    snprintf(p, sizeof(p), "%s/%s", home, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mk(const char *rel)
{
    char p[PATH_MAX + 256];
    snprintf(p, sizeof(p), "%s/%s", home, rel);
    assert_int_equal(mkdir(p, 0700), 0);
}

#define CWD "/work/proj"
#define USER(text, extra)                                                                          \
    "{\"type\":\"user\",\"cwd\":\"" CWD "\",\"gitBranch\":\"dev\",\"sessionId\":\"s\","            \
    "\"timestamp\":\"2026-11-29T10:00:00.000Z\"" extra ",\"message\":{\"role\":\"user\","          \
    "\"content\":\"" text "\"}}\n"
#define ASSISTANT(blocks)                                                                          \
    "{\"type\":\"assistant\",\"cwd\":\"" CWD "\",\"timestamp\":\"2026-11-29T10:00:05.000Z\","      \
    "\"message\":{\"id\":\"m1\",\"role\":\"assistant\",\"model\":\"x\",\"content\":[" blocks       \
    "]}}\n"

static int setup(void **state)
{
    (void)state;
    char tmp[] = "/tmp/agentd-sessions-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    assert_non_null(realpath(tmp, home));
    mk(".claude");
    mk(".claude/projects");
    mk(".claude/projects/-work-proj");
    mk(".codex");
    mk(".codex/sessions");
    mk(".codex/sessions/2026");
    mk(".codex/sessions/2026/11");
    mk(".codex/sessions/2026/11/29");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    return system(cmd) == 0 ? 0 : -1;
}

static void ids(void **state)
{
    (void)state;
    assert_int_equal(ad_sess_id_check("b76a10ee-ee41-48df-ace1-f5a772f246b2", NULL), 0);
    assert_int_equal(ad_sess_id_check("abc", NULL), 0);
    const char *bad[] = {"", "..", "../../etc/passwd", "a/b", "-rf", "a b", "a.jsonl", "é", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        ad_field_err_t e = {0};
        assert_int_equal(ad_sess_id_check(bad[i], &e), AD_EINVAL);
        assert_string_equal(e.field, "sessionId");
    }
    char longid[AD_SESS_ID_MAX + 1];
    memset(longid, 'a', AD_SESS_ID_MAX);
    longid[AD_SESS_ID_MAX] = '\0';
    assert_int_equal(ad_sess_id_check(longid, NULL), AD_EINVAL);
    assert_int_equal(ad_sess_tool_check("claude", NULL), 0);
    assert_int_equal(ad_sess_tool_check("gemini", NULL), 0);
    assert_int_equal(ad_sess_tool_check("vim", NULL), AD_EINVAL);
}

/* A scan keeps the good sessions and nothing through a link, a FIFO or a
 * name that is no id; a huge line and bad JSON are skipped. */
static void scan_hostile(void **state)
{
    (void)state;
    put(".claude/projects/-work-proj/good.jsonl",
        "{\"type\":\"summary\",\"summary\":\"x\"}\n" USER("<system-reminder>x", "")
            USER("meta", ",\"isMeta\":true") USER("side", ",\"isSidechain\":true")
                USER("first question", "") ASSISTANT("{\"type\":\"text\",\"text\":\"an answer\"}"));
    size_t huge = 3u << 20;
    char *big = malloc(huge + 1024);
    assert_non_null(big);
    snprintf(big, 64, "%s", "{\"type\":\"user\",\"message\":{\"content\":\"");
    size_t pre = strlen(big);
    memset(big + pre, 'x', huge);
    snprintf(big + pre + huge, 1024 - pre, "%s", "\"}}\n{not json\n" USER("after the junk", ""));
    put(".claude/projects/-work-proj/junk.jsonl", big);
    free(big);
    char secret[PATH_MAX + 64], link[PATH_MAX + 128];
    snprintf(secret, sizeof(secret), "%s/secret.jsonl", home);
    put("secret.jsonl", USER("SECRET", ""));
    snprintf(link, sizeof(link), "%s/.claude/projects/-work-proj/linked.jsonl", home);
    assert_int_equal(symlink(secret, link), 0);
    snprintf(link, sizeof(link), "%s/.claude/projects/-linked-dir", home);
    assert_int_equal(symlink(home, link), 0);
    snprintf(link, sizeof(link), "%s/.claude/projects/-work-proj/fifo.jsonl", home);
    assert_int_equal(mkfifo(link, 0600), 0);
    put(".claude/projects/-work-proj/no%2fid.jsonl", USER("odd", ""));
    put(".claude/projects/-work-proj/notes.txt", USER("odd", ""));

    ad_sess_info_t *v = NULL;
    size_t n = 0;
    ad_sess_scan(home, NULL, 0, &v, &n);
    assert_int_equal(n, 2);
    ad_sess_info_t *good = strcmp(v[0].id, "good") == 0 ? &v[0] : &v[1];
    ad_sess_info_t *junk = good == &v[0] ? &v[1] : &v[0];
    assert_string_equal(junk->id, "junk");
    assert_string_equal(junk->first, "after the junk");
    assert_string_equal(good->cwd, CWD);
    assert_string_equal(good->branch, "dev");
    assert_string_equal(good->first, "first question");
    assert_string_equal(good->last, "an answer");
    assert_true(good->live); /* just written */
    json_t *j = ad_sess_info_json(good);
    assert_string_equal(json_string_value(json_object_get(j, "startedAt")),
                        "2026-11-29T10:00:00.000Z");
    json_decref(j);

    /* a second scan reuses what did not change */
    ad_sess_info_t *w = NULL;
    size_t m = 0;
    ad_sess_scan(home, v, n, &w, &m);
    assert_int_equal(m, 2);
    assert_string_equal(w[0].first, v[0].first);
    ad_sess_infos_free(w, m);
    ad_sess_infos_free(v, n);

    ad_sess_info_t one = {0};
    assert_int_equal(ad_sess_find(home, AD_SESS_CLAUDE, "linked", &one), AD_ENOENT);
    assert_int_equal(ad_sess_find(home, AD_SESS_CLAUDE, "fifo", &one), AD_ENOENT);
    assert_int_equal(ad_sess_find(home, AD_SESS_CLAUDE, "good", &one), 0);
    assert_string_equal(one.first, "first question");
    ad_sess_info_clear(&one);
    /* a HOME that is no absolute path: nothing */
    assert_int_equal(ad_sess_root_open("relative", AD_SESS_CLAUDE), -1);
}

static void read_all(ad_sess_tool_t tool, const char *rel, json_t **out)
{
    int fd = ad_sess_file_open(home, tool, rel);
    assert_true(fd >= 0);
    ad_sess_msgs_t *m = ad_sess_msgs_new(tool);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(ad_sess_lines(fd, 0, st.st_size, ad_sess_msgs_line, m), 0);
    close(fd);
    *out = ad_sess_msgs_take(m);
}

/* Claude's messages: a tool call answered by its result is one message. */
static void claude_messages(void **state)
{
    (void)state;
    put(".claude/projects/-work-proj/tools.jsonl",
        USER("list the files", "") ASSISTANT(
            "{\"type\":\"text\",\"text\":\"Looking.\"},{\"type\":\"tool_use\",\"id\":\"t1\","
            "\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}") "{\"type\":\"user\",\"cwd\":\"" CWD
                                                                 "\",\"message\":{\"role\":"
                                                                 "\"user\",\"content\":[{"
                                                                 "\"type\":\"tool_result\",\"tool_"
                                                                 "use_id\":\"t1\",\"content\":"
                                                                 "\"README.md\"}]}}\n" ASSISTANT(
                                                                     "{\"type\":\"text\",\"text\":"
                                                                     "\"One file.\"}"));
    json_t *msgs = NULL;
    read_all(AD_SESS_CLAUDE, "-work-proj/tools.jsonl", &msgs);
    assert_int_equal(json_array_size(msgs), 4);
    const char *roles[] = {"user", "assistant", "tool", "assistant"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, i), "role")),
                            roles[i]);
    }
    json_t *tool = json_array_get(msgs, 2);
    assert_string_equal(json_string_value(json_object_get(tool, "toolName")), "Bash");
    assert_string_equal(json_string_value(json_object_get(tool, "toolOutput")), "README.md");
    assert_string_equal(json_string_value(json_object_get(tool, "toolInput")),
                        "{\"command\":\"ls\"}");
    assert_true(json_is_true(json_object_get(tool, "isComplete")));
    assert_null(json_object_get(tool, "toolId"));
    json_decref(msgs);
}

/* Codex: the meta's folder and branch, the injected context left out. */
static void codex_files(void **state)
{
    (void)state;
    const char *rel = "2026/11/29/rollout-2026-11-29T09-36-09-01a226a9-733a-7e71-9b0d-"
                      "f880bc3e9dcc.jsonl";
    char path[512];
    snprintf(path, sizeof(path), ".codex/sessions/%s", rel);
    put(path,
        "{\"timestamp\":\"2026-11-29T09:36:09.033Z\",\"type\":\"session_meta\",\"payload\":{"
        "\"id\":\"01a226a9-733a-7e71-9b0d-f880bc3e9dcc\",\"timestamp\":\"2026-11-29T09:36:"
        "09.033Z\",\"cwd\":\"/work/c\",\"git\":{\"branch\":\"main\"}}}\n"
        "{\"type\":\"response_item\",\"payload\":{\"type\":\"message\",\"role\":\"developer\","
        "\"content\":[{\"type\":\"input_text\",\"text\":\"rules\"}]}}\n"
        "{\"type\":\"response_item\",\"payload\":{\"type\":\"message\",\"role\":\"user\","
        "\"content\":[{\"type\":\"input_text\",\"text\":\"<environment_context>x\"}]}}\n"
        "{\"type\":\"response_item\",\"payload\":{\"type\":\"message\",\"role\":\"user\","
        "\"content\":[{\"type\":\"input_text\",\"text\":\"remember this word\"}]}}\n"
        "{\"type\":\"event_msg\",\"payload\":{\"type\":\"agent_message\",\"message\":\"x\"}}\n"
        "{\"type\":\"response_item\",\"payload\":{\"type\":\"message\",\"role\":\"assistant\","
        "\"content\":[{\"type\":\"output_text\",\"text\":\"banana\"}]}}\n");
    ad_sess_info_t s = {0};
    assert_int_equal(ad_sess_find(home, AD_SESS_CODEX, "01a226a9-733a-7e71-9b0d-f880bc3e9dcc", &s),
                     0);
    assert_string_equal(s.cwd, "/work/c");
    assert_string_equal(s.branch, "main");
    assert_string_equal(s.first, "remember this word");
    assert_string_equal(s.last, "banana");
    ad_sess_info_clear(&s);
    json_t *msgs = NULL;
    read_all(AD_SESS_CODEX, rel, &msgs);
    assert_int_equal(json_array_size(msgs), 2);
    json_decref(msgs);
}

/* Gemini: the folder from .project_root, the injected context left out,
 * and a chat whose .project_root is a link has no folder. */
static void gemini_files(void **state)
{
    (void)state;
    mk(".gemini");
    mk(".gemini/tmp");
    mk(".gemini/tmp/proj");
    mk(".gemini/tmp/proj/chats");
    put(".gemini/tmp/proj/.project_root", "/work/g");
    put(".gemini/tmp/proj/chats/session-2026-11-29T09-36-b675a584.jsonl",
        "{\"sessionId\":\"b675a584-45f4\",\"startTime\":\"2026-11-29T09:36:19.989Z\","
        "\"kind\":\"main\"}\n"
        "{\"$set\":{\"messages\":[{\"type\":\"user\",\"content\":[{\"text\":\"x\"}]}]}}\n"
        "{\"type\":\"user\",\"content\":[{\"text\":\"<session_context>\\nctx\"}]}\n"
        "{\"type\":\"user\",\"timestamp\":\"2026-11-29T09:36:20.201Z\",\"content\":[{"
        "\"text\":\"remember this word\"}]}\n"
        "{\"type\":\"gemini\",\"content\":\"banana\"}\n");
    ad_sess_info_t s = {0};
    /* its id is the header's (what --resume takes), found by it or by the file's name */
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "b675a584-45f4", &s), 0);
    assert_string_equal(s.id, "b675a584-45f4");
    assert_string_equal(s.cwd, "/work/g");
    assert_string_equal(s.first, "remember this word");
    assert_string_equal(s.last, "banana");
    json_t *j = ad_sess_info_json(&s);
    assert_string_equal(json_string_value(json_object_get(j, "tool")), "gemini");
    assert_string_equal(json_string_value(json_object_get(j, "sessionId")), "b675a584-45f4");
    json_decref(j);
    ad_sess_info_clear(&s);
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "2026-11-29T09-36-b675a584", &s), 0);
    assert_string_equal(s.id, "b675a584-45f4");
    ad_sess_info_clear(&s);
    /* an id that only shares the name's 8 characters is no session */
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "b675a584-ffff", &s), AD_ENOENT);
    /* a header that names another session than the file's name: the name stays its id */
    put(".gemini/tmp/proj/chats/session-2026-11-29T10-00-aaaaaaaa.jsonl",
        "{\"sessionId\":\"bbbbbbbb-0000\",\"startTime\":\"2026-11-29T10:00:00.000Z\"}\n"
        "{\"type\":\"user\",\"content\":\"hi\"}\n");
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "bbbbbbbb-0000", &s), AD_ENOENT);
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "aaaaaaaa-0000", &s), AD_ENOENT);
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "2026-11-29T10-00-aaaaaaaa", &s), 0);
    assert_string_equal(s.id, "2026-11-29T10-00-aaaaaaaa");
    ad_sess_info_clear(&s);
    json_t *msgs = NULL;
    read_all(AD_SESS_GEMINI, "proj/chats/session-2026-11-29T09-36-b675a584.jsonl", &msgs);
    assert_int_equal(json_array_size(msgs), 2);
    json_decref(msgs);

    mk(".gemini/tmp/linked");
    mk(".gemini/tmp/linked/chats");
    char target[PATH_MAX + 64], link[PATH_MAX + 128];
    snprintf(target, sizeof(target), "%s/.gemini/tmp/proj/.project_root", home);
    snprintf(link, sizeof(link), "%s/.gemini/tmp/linked/.project_root", home);
    assert_int_equal(symlink(target, link), 0);
    put(".gemini/tmp/linked/chats/session-x.jsonl", "{\"type\":\"user\",\"content\":\"hi\"}\n");
    assert_int_equal(ad_sess_find(home, AD_SESS_GEMINI, "x", &s), 0);
    assert_null(s.cwd);
    ad_sess_info_clear(&s);
}

/* A long file: the first message from its head, the last from its tail,
 * nothing in between read for the listing. */
static void head_and_tail(void **state)
{
    (void)state;
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/.claude/projects/-work-proj/long.jsonl", home);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(USER("the start", ""), f);
    for (int i = 0; i < 4000; i++) { /* ~1 MiB of turns */
        fputs(USER("middle turn with some words in it to make the file long enough", ""), f);
    }
    fputs(USER("the end", ""), f);
    fclose(f);
    ad_sess_info_t s = {0};
    assert_int_equal(ad_sess_find(home, AD_SESS_CLAUDE, "long", &s), 0);
    assert_true(s.size > 4 * (int64_t)AD_SESS_WINDOW);
    assert_string_equal(s.first, "the start");
    assert_string_equal(s.last, "the end");
    ad_sess_info_clear(&s);
}

typedef struct {
    int n;
    size_t last;
} count_t;

static void count_line(void *ud, const char *line, size_t len)
{
    (void)line;
    count_t *c = ud;
    c->n++;
    c->last = len;
}

/* The line reader: a line over the limit skipped across chunks, the first
 * line of a window that starts inside the file skipped, a last line with
 * no newline left for later. */
static void lines(void **state)
{
    (void)state;
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/lines.txt", home);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("one\n", f);
    for (size_t i = 0; i < AD_SESS_LINE_MAX + 10; i++) {
        fputc('x', f);
    }
    fputs("\ntwo\nthree\npartial", f);
    fclose(f);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    count_t c = {0};
    assert_int_equal(ad_sess_lines(fd, 0, st.st_size, count_line, &c), 0);
    assert_int_equal(c.n, 3); /* one, two, three */
    assert_int_equal(c.last, 5);
    c = (count_t){0};
    assert_int_equal(ad_sess_lines(fd, 2, st.st_size, count_line, &c), 0);
    assert_int_equal(c.n, 2); /* "ne" and the long line skipped */
    close(fd);
}

/* Live: written in the last seconds, or held open by another process. */
static void live_files(void **state)
{
    (void)state;
    put(".claude/projects/-work-proj/held.jsonl", USER("held", ""));
    put(".claude/projects/-work-proj/idle.jsonl", USER("idle", ""));
    char held[PATH_MAX + 128], idle[PATH_MAX + 128];
    snprintf(held, sizeof(held), "%s/.claude/projects/-work-proj/held.jsonl", home);
    snprintf(idle, sizeof(idle), "%s/.claude/projects/-work-proj/idle.jsonl", home);
    struct timespec old[2] = {{.tv_sec = time(NULL) - 300}, {.tv_sec = time(NULL) - 300}};
    assert_int_equal(utimensat(AT_FDCWD, held, old, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, idle, old, 0), 0);
    int p[2], ready[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* holds the file open until the pipe closes */
        int fd = open(held, O_RDONLY);
        char c;
        close(p[1]);
        (void)!write(ready[1], "r", 1);
        (void)!read(p[0], &c, 1);
        close(fd);
        _exit(0);
    }
    close(p[0]);
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1); /* the child has it open */
    close(ready[0]);
    ad_sess_info_t v[2] = {0};
    assert_int_equal(ad_sess_find(home, AD_SESS_CLAUDE, "held", &v[0]), 0);
    assert_int_equal(ad_sess_find(home, AD_SESS_CLAUDE, "idle", &v[1]), 0);
    assert_true(v[0].live);
    assert_false(v[1].live);
    close(p[1]);
    waitpid(child, NULL, 0);
    ad_sess_info_clear(&v[0]);
    ad_sess_info_clear(&v[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids),
        cmocka_unit_test_setup_teardown(scan_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(claude_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(codex_files, setup, teardown),
        cmocka_unit_test_setup_teardown(gemini_files, setup, teardown),
        cmocka_unit_test_setup_teardown(head_and_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(lines, setup, teardown),
        cmocka_unit_test_setup_teardown(live_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
