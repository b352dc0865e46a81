/* SPDX-License-Identifier: MIT */
/*
 * An agent's transcript as text, for `agentd logs`: user messages as
 * "> text", assistant text as it is (a terminal agent's escape sequences
 * and control bytes dropped, colours kept on a terminal: term.c), a tool
 * call as "▶ Bash  git status" and its result as "✓ Bash" or "✗ Bash
 * (exit 1)" (with what a failed one said, indented, on the next line).
 * The stored transcript puts a header line before each run's messages:
 * "— run 2  ID  started 2026-11-23 22:40:01 UTC  failed (exit 3)".
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- rendering, shared by the stored and the live transcript ---------------- */

/* s in one short line: escape sequences dropped, newlines become spaces,
 * a long one ends in "…" (never cutting a UTF-8 character in two). */
static void one_line(const char *raw, char *out, size_t outsz)
{
    char *s = raw != NULL ? ad_cli_term_clean(raw, false) : NULL;
    size_t o = 0, n = s != NULL ? strlen(s) : 0;
    size_t cap = outsz < AD_CLI_SUMMARY_MAX + 1 ? outsz - 1 : AD_CLI_SUMMARY_MAX;
    for (size_t i = 0; i < n && o < cap; i++) {
        char ch = s[i];
        out[o++] = (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : ch;
    }
    if (o < n && o == cap) {
        while (o > 0 && ((unsigned char)s[o] & 0xC0) == 0x80) {
            o--; /* s[o], the first byte left out, must start a character */
        }
        out[o] = '\0';
        snprintf(out + o, outsz - o, "%s", outsz - o > 4 ? "…" : "");
    } else {
        out[o] = '\0';
    }
    free(s);
}

/* A tool input in one short line: the field that says what it does (a
 * command, a path, a pattern...), else the whole input as JSON. */
void ad_cli_tool_summary(json_t *input, char *out, size_t outsz)
{
    static const char *keys[] = {"command", "file_path", "path",   "pattern",
                                 "url",     "query",     "prompt", "description"};
    const char *s = NULL;
    char *dumped = NULL;
    for (size_t i = 0; s == NULL && i < AD_ARRAY_LEN(keys); i++) {
        s = json_string_value(json_object_get(input, keys[i]));
    }
    if (s == NULL && input != NULL && !json_is_null(input)) {
        dumped = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
        s = dumped;
    }
    one_line(s, out, outsz);
    free(dumped);
}

/* What a failed tool said, indented under its "✗" line. */
void ad_cli_print_tool_error(json_t *m)
{
    const char *output = ad_cli_str(m, "toolOutput", "");
    if (output[0] != '\0' && json_is_true(json_object_get(m, "isError"))) {
        char line[AD_CLI_SUMMARY_MAX + 8];
        one_line(output, line, sizeof(line));
        printf("  %s\n", line);
    }
}

void ad_cli_print_tool_start(const char *name, json_t *input)
{
    char sum[AD_CLI_SUMMARY_MAX + 8];
    ad_cli_tool_summary(input, sum, sizeof(sum));
    printf("▶ %s%s%s\n", name, sum[0] != '\0' ? "  " : "", sum);
}

void ad_cli_print_tool_end(const char *name, bool failed, json_t *code)
{
    if (!failed) {
        printf("✓ %s\n", name);
    } else if (json_is_integer(code)) {
        printf("✗ %s (exit %lld)\n", name, (long long)json_integer_value(code));
    } else {
        printf("✗ %s\n", name);
    }
}

/* A user's message as "> " lines; assistant text as is; anything else
 * with its role. */
void ad_cli_print_text(const char *role, const char *raw)
{
    char *content = ad_cli_term_clean(raw, ad_cli_colour_wanted());
    const char *text = content != NULL ? content : "";
    if (strcmp(role, "user") == 0) {
        const char *p = text;
        do {
            const char *nl = strchr(p, '\n');
            size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
            printf("> %.*s\n", (int)len, p);
            p = nl != NULL ? nl + 1 : NULL;
        } while (p != NULL && *p != '\0');
    } else if (strcmp(role, "assistant") == 0) {
        size_t n = strlen(text);
        printf("%s%s", text, n == 0 || text[n - 1] != '\n' ? "\n" : "");
    } else {
        printf("[%s] %s\n", role, text);
    }
    if (content != NULL && strstr(content, "\x1b[") != NULL) {
        fputs("\x1b[0m", stdout); /* no colour left on after it */
    }
    free(content);
}

/* One stored message. A tool message holds both its call and its result. */
static void print_message(json_t *m)
{
    const char *role = ad_cli_str(m, "role", "?");
    const char *tool = ad_cli_str(m, "toolName", NULL);
    if (tool == NULL || strcmp(role, "tool") != 0) {
        ad_cli_print_text(role, ad_cli_str(m, "content", ""));
        return;
    }
    const char *in = ad_cli_str(m, "toolInput", NULL);
    json_t *input = in != NULL ? json_loads(in, JSON_DECODE_ANY, NULL) : NULL;
    ad_cli_print_tool_start(tool, input != NULL ? input : json_object_get(m, "toolInput"));
    json_decref(input);
    if (!json_is_false(json_object_get(m, "isComplete"))) {
        ad_cli_print_tool_end(tool, json_is_true(json_object_get(m, "isError")), NULL);
        ad_cli_print_tool_error(m);
    }
}

/* ---- the stored transcript ---------------------------------------------------- */

/* Messages a page (the API's limit=, at most 200). A test build reads
 * AGENTD_TEST_LOGS_PAGE instead, so a test walks many pages cheaply. */
static int page_size(void)
{
#ifdef AD_TEST_BUILD
    const char *v = getenv("AGENTD_TEST_LOGS_PAGE");
    char *end = NULL;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v != NULL && end != v && *end == '\0' && n >= 1 && n <= 200) {
        return (int)n;
    }
#endif
    return 100;
}

/* The page of the agent's messages (enc: its id, URL-encoded) before
 * cursor ("": the newest), newest first: the answer, or NULL after
 * printing why (*rc). */
static json_t *get_page(ad_cli_t *c, const char *enc, const char *cursor, int *rc)
{
    char path[1024], cenc[768] = "";
    if (strlen(cursor) * 3 >= sizeof(cenc)) {
        *rc = ad_cli_fail(c, "the daemon's page cursor is too long");
        return NULL;
    }
    ad_cli_url_encode(cursor, cenc, sizeof(cenc));
    snprintf(path, sizeof(path), "/api/agents/%s/messages?limit=%d%s%s", enc, page_size(),
             cursor[0] != '\0' ? "&before=" : "", cenc);
    return ad_cli_call(c, "GET", path, NULL, rc);
}

/* The cursor of the page after page (older), or NULL on the last. */
static const char *next_cursor(json_t *page)
{
    const char *next = ad_cli_str(page, "nextCursor", NULL);
    return json_is_true(json_object_get(page, "hasMore")) ? next : NULL;
}

/* Walks every page, newest first, keeping only their cursors (cursors[i]
 * reads page i + 1) and the newest page (*first): the oldest page, or NULL
 * after printing why (*rc). Memory is a cursor a page, not the messages. */
static json_t *walk_pages(ad_cli_t *c, const char *enc, json_t *cursors, json_t **first, int *rc)
{
    json_t *page = get_page(c, enc, "", rc);
    *first = json_incref(page);
    const char *next;
    while (page != NULL && (next = next_cursor(page)) != NULL) {
        size_t n = json_array_size(cursors);
        if (json_array_size(json_object_get(page, "messages")) == 0 ||
            (n > 0 && strcmp(next, json_string_value(json_array_get(cursors, n - 1))) == 0)) {
            *rc = ad_cli_fail(c, "the daemon's pages of messages do not end");
            json_decref(page);
            return NULL;
        }
        json_array_append_new(cursors, json_string(next));
        json_t *older = get_page(c, enc, next, rc);
        json_decref(page);
        page = older;
    }
    return page;
}

/* A time from the API (ms since the epoch, or text) as "YYYY-MM-DD
 * HH:MM:SS UTC" into out. */
static void format_time(json_t *at, char *out, size_t outsz)
{
    const char *iso = json_string_value(at); /* 2026-11-23T22:40:01.123Z */
    if (iso != NULL && strlen(iso) >= 19 && iso[10] == 'T') {
        snprintf(out, outsz, "%.10s %.8s UTC", iso, iso + 11);
        return;
    }
    if (iso != NULL) {
        snprintf(out, outsz, "%s", iso);
        return;
    }
    time_t secs = (time_t)(json_integer_value(at) / 1000);
    struct tm tm;
    if (!json_is_integer(at) || gmtime_r(&secs, &tm) == NULL ||
        strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        snprintf(out, outsz, "?");
    }
}

void ad_cli_print_run_header(json_t *run, size_t n)
{
    char at[64], num[32] = "";
    format_time(json_object_get(run, "startedAt"), at, sizeof(at));
    if (n > 0) {
        snprintf(num, sizeof(num), "%zu  ", n);
    }
    json_t *code = json_object_get(run, "exitCode");
    printf("— run %s%s  started %s  %s", num, ad_cli_str(run, "id", "?"), at,
           ad_cli_str(run, "status", "?"));
    if (json_is_integer(code)) {
        printf(" (exit %lld)", (long long)json_integer_value(code));
    }
    fputc('\n', stdout);
}

/* The agent's runs, newest first (the newest 1000), or NULL after
 * printing why (*rc). */
static json_t *load_runs(ad_cli_t *c, const char *id, int *rc)
{
    char enc[200], path[400];
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/runs?limit=1000", enc);
    json_t *j = ad_cli_call(c, "GET", path, NULL, rc);
    json_t *runs = json_incref(json_object_get(j, "runs"));
    json_decref(j);
    return j != NULL && runs == NULL ? json_array() : runs;
}

/* Before a message of another run than the one before it: that run's
 * header line. */
static void run_change(json_t *runs, json_t *m, char *cur, size_t cursz)
{
    const char *run = ad_cli_str(m, "runId", NULL);
    if (run == NULL || strcmp(run, cur) == 0) {
        return;
    }
    snprintf(cur, cursz, "%s", run);
    size_t total = json_array_size(runs);
    for (size_t i = 0; i < total; i++) {
        json_t *r = json_array_get(runs, i);
        if (strcmp(ad_cli_str(r, "id", ""), run) == 0) {
            ad_cli_print_run_header(r, total - i);
            return;
        }
    }
    json_t *unknown = json_pack("{s:s, s:s}", "id", run, "status", "?");
    ad_cli_print_run_header(unknown, 0);
    json_decref(unknown);
}

/* A page's messages, oldest first: a run's header before its first. */
static void print_page(ad_cli_t *c, json_t *page, json_t *runs, char *cur, size_t cursz)
{
    json_t *all = json_object_get(page, "messages");
    for (size_t i = json_array_size(all); i > 0; i--) {
        json_t *m = json_array_get(all, i - 1);
        if (c->json) {
            char *line = json_dumps(m, JSON_COMPACT);
            puts(line != NULL ? line : "{}");
            free(line);
        } else {
            run_change(runs, m, cur, cursz);
            print_message(m);
        }
    }
}

/* Every page, oldest first: the pages are walked newest first keeping
 * their cursors, then read again from the oldest, one at a time, so a
 * transcript of any length prints whole without being held. */
int ad_cli_print_history(ad_cli_t *c, const char *id)
{
    int rc = 0;
    char enc[200], cur[128] = "";
    ad_cli_url_encode(id, enc, sizeof(enc));
    json_t *cursors = json_array(), *first = NULL, *runs = NULL;
    json_t *page = walk_pages(c, enc, cursors, &first, &rc);
    if (page != NULL && !c->json) {
        runs = load_runs(c, id, &rc);
    }
    if (page != NULL && (runs != NULL || c->json)) {
        print_page(c, page, runs, cur, sizeof(cur));
        size_t n = json_array_size(cursors);
        for (size_t j = n; rc == 0 && j-- > 1;) { /* pages n - 1 .. 1 */
            json_decref(page);
            page = get_page(c, enc, json_string_value(json_array_get(cursors, j - 1)), &rc);
            if (page != NULL) {
                print_page(c, page, runs, cur, sizeof(cur));
            }
        }
        if (rc == 0 && n > 0) {
            print_page(c, first, runs, cur, sizeof(cur));
        }
    }
    json_decref(page);
    json_decref(first);
    json_decref(cursors);
    json_decref(runs);
    fflush(stdout);
    return rc;
}
