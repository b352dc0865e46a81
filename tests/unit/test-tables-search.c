/* SPDX-License-Identifier: MIT */
/*
 * Search (src/tables/search.c, issue #76): a request's words made into a
 * query no operator can reach, its bounds; and on the store (SQLite, or
 * PostgreSQL under make unit-pg) the index kept current by the writes the
 * runner makes: a tool call found by its input, then, written over by its
 * result (the upsert of ad_store_messages_insert), by its output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/messages.h"
#include "tables/runs.h"
#include "tables/search.h"
#include "tables/workspaces.h"
#include "store/store_int.h"
#include "store_fixture.h"

static int req(const char *q, ad_search_req_t *out, ad_field_err_t *e)
{
    return ad_search_req(q, NULL, NULL, NULL, NULL, NULL, "", out, e);
}

static void words_become_quoted_strings(void **state)
{
    (void)state;
    ad_search_req_t r;
    ad_field_err_t e;
    assert_int_equal(req("  hello   world\t", &r, &e), 0);
    assert_string_equal(r.match, "\"hello\" \"world\"");
    assert_string_equal(r.words, "hello world");
    assert_int_equal(req("a\"b NEAR(x) col:y *", &r, &e), 0);
    assert_string_equal(r.match, "\"a\"\"b\" \"NEAR(x)\" \"col:y\" \"*\"");
    assert_int_equal(r.limit, AD_SEARCH_LIMIT_DEFAULT);
    assert_int_equal(r.offset, 0);
    assert_int_equal(r.since, 0);
    /* the largest query fits the match buffer: every byte a quote */
    char q[AD_SEARCH_Q_MAX + 1];
    memset(q, '"', AD_SEARCH_Q_MAX);
    q[AD_SEARCH_Q_MAX] = '\0';
    assert_int_equal(req(q, &r, &e), 0);
    assert_int_equal(strlen(r.match), 2 * AD_SEARCH_Q_MAX + 2);
}

static void bad_requests_name_their_field(void **state)
{
    (void)state;
    ad_search_req_t r;
    ad_field_err_t e;
    static const char *const bad_q[] = {"", " \t ", "a\001b", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(bad_q) / sizeof(bad_q[0]); i++) {
        assert_int_equal(req(bad_q[i], &r, &e), AD_EINVAL);
        assert_string_equal(e.field, "q");
    }
    assert_int_equal(req(NULL, &r, &e), AD_EINVAL);
    char big[AD_SEARCH_Q_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(req(big, &r, &e), AD_EINVAL);
    assert_int_equal(req("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", &r, &e), AD_EINVAL);
    assert_int_equal(ad_search_req("x", NULL, NULL, "soon", NULL, NULL, "", &r, &e), AD_EINVAL);
    assert_string_equal(e.field, "since");
    assert_int_equal(ad_search_req("x", NULL, NULL, NULL, "101", NULL, "", &r, &e), AD_EINVAL);
    assert_string_equal(e.field, "limit");
    assert_int_equal(ad_search_req("x", NULL, NULL, NULL, NULL, "-1", "", &r, &e), AD_EINVAL);
    assert_string_equal(e.field, "offset");
    assert_int_equal(
        ad_search_req("x", NULL, NULL, "2026-11-29T09:00:00Z", "5", "10", "org_x", &r, &e), 0);
    assert_int_equal(r.limit, 5);
    assert_int_equal(r.offset, 10);
    assert_true(r.since > 0);
    assert_string_equal(r.org, "org_x");
}

typedef struct {
    bool done;
    int rc;
    json_t *out;
} wait_t;

static void on_search(int rc, json_t *result, void *ud)
{
    wait_t *w = ud;
    w->done = true;
    w->rc = rc;
    w->out = json_incref(result);
}

static void on_written(int rc, void *ud)
{
    store_fx_on_result(rc, NULL, ud);
}

/* The hits for q, as the pool read answers them (owned). */
static json_t *search(store_fx_t *f, const char *q)
{
    ad_search_req_t r;
    ad_field_err_t e;
    assert_int_equal(req(q, &r, &e), 0);
    wait_t w = {0};
    ad_store_search(f->st, &r, on_search, &w);
    for (int i = 0; i < 100000 && !w.done; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!w.done) {
            usleep(100);
        }
    }
    assert_true(w.done);
    assert_int_equal(w.rc, 0);
    json_t *results = json_incref(json_object_get(w.out, "results"));
    json_decref(w.out);
    return results;
}

static void insert(store_fx_t *f, ad_store_message_t *m)
{
    store_wait_t w = {0};
    ad_store_messages_insert(f->st, m, 1, on_written, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
}

static void a_tool_call_written_over_is_found_by_its_output(void **state)
{
    (void)state;
    store_fx_t *f = store_fx_new("search", true);
    char ws[AD_ID_MAX], wt[AD_ID_MAX], ag[AD_ID_MAX], id[AD_ID_MAX];
    ad_id_new("ws", ws);
    ad_id_new("wt", wt);
    ad_id_new("ag", ag);
    ad_id_new("msg", id);
    assert_int_equal(
        store_fx_write(f, ad_store_op_workspace_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", ws, "name", "p", "path",
                                 f->dir, "worktreeId", wt, "branch", "", "now", (json_int_t)1000),
                       NULL),
        0);
    assert_int_equal(store_fx_write(f, ad_store_op_agent_insert,
                                    json_pack("{s:s, s:s, s:s, s:s, s:[], s:s, s:I, s:{s:[s]}}",
                                              "id", ag, "worktreeId", wt, "name", "a", "mode",
                                              "regular", "permissions", "executor", "command",
                                              "now", (json_int_t)1000, "state", "command", "true"),
                                    NULL),
                     0);
    ad_store_message_t call = {.id = id,
                               .agent_id = ag,
                               .role = "tool",
                               .content = "",
                               .tool_name = "Bash",
                               .tool_input = "{\"command\":\"grep -r ocelot src\"}",
                               .is_complete = false,
                               .now = 2000};
    insert(f, &call);
    json_t *hits = search(f, "ocelot");
    assert_int_equal(json_array_size(hits), 1);
    json_t *h = json_array_get(hits, 0);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "tool_call");
    assert_string_equal(json_string_value(json_object_get(h, "messageId")), id);
    json_decref(hits);

    /* the result written over the call: its output is searchable, the row one */
    ad_store_message_t result = call;
    result.tool_input = NULL;
    result.tool_output = "src/zoo.c:3: the margay sleeps";
    result.is_complete = true;
    result.replace = true;
    result.now = 3000;
    insert(f, &result);
    hits = search(f, "margay");
    assert_int_equal(json_array_size(hits), 1);
    h = json_array_get(hits, 0);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "tool_output");
    assert_string_equal(json_string_value(json_object_get(h, "messageId")), id);
    /* the hit is the row schema/rows.def names (the dashboard's type) */
    ad_row_search_hit_t row = {0};
    char err[256];
    assert_int_equal(ad_row_search_hit_decode(h, &row, err, sizeof(err)), 0);
    assert_int_equal(row.kind, AD_ROW_SEARCH_KIND_TOOL_OUTPUT);
    assert_int_equal(row.created_at, 2000); /* the call's time, kept */
    ad_row_search_hit_cleanup(&row);
    const char *snip = json_string_value(json_object_get(h, "snippet"));
    json_t *range = json_array_get(json_object_get(h, "highlights"), 0);
    size_t s = (size_t)json_integer_value(json_array_get(range, 0));
    size_t e = (size_t)json_integer_value(json_array_get(range, 1));
    assert_true(e <= strlen(snip)); /* ASCII: UTF-16 offsets are bytes */
    assert_int_equal(e - s, 6);
    assert_memory_equal(snip + s, "margay", 6);
    json_decref(hits);
    /* the call's input stayed (coalesce): still found by it, once */
    hits = search(f, "ocelot");
    assert_int_equal(json_array_size(hits), 1);
    json_decref(hits);
    store_fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_become_quoted_strings),
        cmocka_unit_test(bad_requests_name_their_field),
        cmocka_unit_test(a_tool_call_written_over_is_found_by_its_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
