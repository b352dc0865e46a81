/* SPDX-License-Identifier: MIT */
/* Allocation failures in the agent output parsers. agentd aborts on
 * out-of-memory (core.h), and hands jansson the same allocator (main.c:
 * jansson's own out-of-memory paths are not safe, jansson issue #362), so
 * "clean" means: a child whose Nth allocation fails dies by abort() with
 * the out-of-memory message, never by a crash elsewhere. For each recorded
 * transcript, N runs from 1 until a whole parse needs fewer than N (every N
 * up to DENSE, then a stride, so the run stays short). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "alloc_fixture.h"

#define FIX "tests/fixtures/transcripts/"
#define DENSE 400
#define STRIDE 37
#define MAX_N 400000

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* One whole parse as the runner does it: lines, finish, and each record
 * turned into its event and message. */
static void parse_all(ad_executor_t kind, const char *text, size_t len)
{
    ad_parser_t *p = ad_parser_new(kind);
    ad_recs_t recs;
    ad_recs_init(&recs);
    ad_rec_ids_t ids = {.agent_id = "ag_1", .run_id = "run_1", .crew_id = NULL};
    const char *s = text;
    const char *end = text + len;
    uint64_t now = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
        ad_parser_feed(p, s, n, now++, &recs);
        s += n + (nl != NULL ? 1 : 0);
    }
    ad_parser_finish(p, now, &recs);
    for (size_t i = 0; i < recs.n; i++) {
        const char *type;
        json_decref(ad_rec_event(&recs.v[i], &ids, &type));
        json_decref(ad_rec_message_json(&recs.v[i]));
    }
    ad_usage_t u;
    ad_parser_pending_usage(p, &u);
    ad_parser_free(p);
    ad_recs_cleanup(&recs);
}

typedef struct {
    ad_executor_t kind;
    const char *text;
    size_t len;
} parse_job_t;

static void parse_failing(void *ud, unsigned long n)
{
    const parse_job_t *j = ud;
    json_set_alloc_funcs(ad_xmalloc, free);
    ad_alloc_fail_after(n);
    parse_all(j->kind, j->text, j->len);
}

/* 0: the parse completed; 1: it aborted as designed. Fails on anything
 * else. */
static int run_child(ad_executor_t kind, const char *text, size_t len, unsigned long n)
{
    parse_job_t j = {kind, text, len};
    return alloc_run_child(parse_failing, &j, n);
}

static void each_allocation_fails(const char *file, ad_executor_t kind)
{
    size_t len;
    char *text = read_file(file, &len);
    unsigned long n = 1;
    unsigned long aborts = 0;
    while (n <= MAX_N && run_child(kind, text, len, n) != 0) {
        aborts++;
        n += n < DENSE ? 1 : STRIDE;
    }
    print_message("%s: %lu failing allocations each aborted cleanly; done by %lu\n", file, aborts,
                  n);
    assert_true(aborts > 0 && n <= MAX_N);
    free(text);
}

static void claude(void **state)
{
    AD_UNUSED(state);
    each_allocation_fails(FIX "claude-handmade.jsonl", AD_EXEC_CLAUDE);
}

static void codex(void **state)
{
    AD_UNUSED(state);
    each_allocation_fails(FIX "codex-handmade.jsonl", AD_EXEC_CODEX);
    each_allocation_fails(FIX "codex-0.169.0-command.jsonl", AD_EXEC_CODEX);
    each_allocation_fails(FIX "codex-0.169.0-error-429.jsonl", AD_EXEC_CODEX);
}

static void gemini(void **state)
{
    AD_UNUSED(state);
    each_allocation_fails(FIX "gemini-handmade.jsonl", AD_EXEC_GEMINI);
    each_allocation_fails(FIX "gemini-0.61.0-tool-error.jsonl", AD_EXEC_GEMINI);
}

static void command(void **state)
{
    AD_UNUSED(state);
    each_allocation_fails(FIX "command-metrics.jsonl", AD_EXEC_COMMAND);
}

int main(void)
{
    ad_log_set_level(AD_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude),
        cmocka_unit_test(codex),
        cmocka_unit_test(gemini),
        cmocka_unit_test(command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
