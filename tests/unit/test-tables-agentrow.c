/* SPDX-License-Identifier: MIT */
/* The agent row (issue #79, docs/internals/rows.md): an agent built through
 * the agents family comes back as ad_row_agent_t with every field the store
 * keeps, its JSON is ad_row_agent_encode's, and the list written as text
 * (GET /api/agents' fast path, no json_t a value) is byte for byte the
 * codec's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rows.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/runs.h"
#include "tables/workspaces.h"
#include "store/store_int.h"
#include "store_fixture.h"

typedef store_fx_t fixture_t;
STORE_FX_SETUP(setup, "agentrow")

static void make_worktree(fixture_t *f, char wt[AD_ID_MAX])
{
    char ws[AD_ID_MAX];
    ad_id_new("ws", ws);
    ad_id_new("wt", wt);
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_insert,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", ws, "name",
                                              "proj", "path", "/tmp/agentrow", "worktreeId", wt,
                                              "branch", "", "now", (json_int_t)1000),
                                    NULL),
                     0);
}

static int runtime_sync(fixture_t *f, const ad_store_agent_runtime_t *in)
{
    store_wait_t w = {0};
    ad_store_agent_runtime(f->st, in, store_fx_on_result, &w);
    store_fx_wait(f, &w);
    json_decref(w.result);
    return w.rc;
}

static void on_done(int rc, void *ctx)
{
    store_fx_on_result(rc, NULL, ctx);
}

/* A finished run of agent id that cost cost_usd (the agent's costUsd and
 * totalTokens are its runs' sums). */
static void add_run(fixture_t *f, const char *id, double cost_usd)
{
    char run[AD_ID_MAX];
    ad_id_new("run", run);
    ad_store_test_run_t x = {
        .duration_ms = 10, .input_tokens = 5, .output_tokens = 7, .cost_usd = cost_usd};
    store_wait_t w = {0};
    ad_store_test_run_insert(f->st, run, id, "succeeded", &x, on_done, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
}

/* The typed insert (as a queued op: the form the API's writes take), a
 * status with its reason, then the row read back field by field. */
static void an_agent_made_by_the_family_reads_back_typed(void **state)
{
    fixture_t *f = *state;
    char wt[AD_ID_MAX], id[AD_ID_MAX];
    make_worktree(f, wt);
    ad_id_new("ag", id);
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:s, s:s, s:I, s:{s:[s]}}", "id",
                                 id, "worktreeId", wt, "name", "typed", "mode", "plan",
                                 "permissions", "read", "write", "executor", "codex", "sessionId",
                                 "sess-1", "now", (json_int_t)2000, "state", "command", "true"),
                       NULL),
        0);
    ad_store_agent_runtime_t u = {.now = 3000,
                                  .set_status = true,
                                  .status = AD_ROW_AGENT_STATUS_WAITING,
                                  .context_level = 42};
    snprintf(u.id, sizeof(u.id), "%s", id);
    ad_status_reason_set(&u.why, "turn_ended", "msg_1", "the turn ended");
    assert_int_equal(runtime_sync(f, &u), 0);

    ad_row_agent_t a;
    assert_int_equal(ad_store_agent_row(f->st, id, &a), 0);
    assert_string_equal(a.id, id);
    assert_string_equal(a.worktree_id, wt);
    assert_string_equal(a.name, "typed");
    assert_int_equal(a.status, AD_ROW_AGENT_STATUS_WAITING);
    assert_int_equal(a.mode, AD_ROW_AGENT_MODE_PLAN);
    assert_int_equal(a.executor, AD_ROW_EXECUTOR_CODEX);
    assert_int_equal(a.context_level, 42);
    assert_int_equal(json_array_size(a.permissions), 2);
    assert_string_equal(a.session_id, "sess-1");
    assert_int_equal(a.created_at, 2000);
    assert_int_equal(a.updated_at, 3000);
    assert_false(a.has_pid);
    assert_false(a.has_started_at);
    assert_null(a.crew_id);
    assert_null(a.parent_agent_id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(a.state, "command"), 0)),
                        "true");
    assert_non_null(a.status_reason);
    assert_string_equal(a.status_reason->code, "turn_ended");
    assert_string_equal(a.status_reason->ref, "msg_1");
    assert_int_equal(a.status_reason->at, 3000);
    assert_true(a.cost_usd == 0.0);
    assert_int_equal(a.total_tokens, 0);

    /* its JSON is the codec's, and it decodes to the same row */
    json_t *j = NULL;
    assert_int_equal(ad_store_agent_get(f->st, id, &j), 0);
    json_t *enc = ad_row_agent_encode(&a);
    assert_true(json_equal(j, enc));
    assert_string_equal(json_string_value(json_object_get(j, "status")), "waiting");
    assert_string_equal(json_string_value(json_object_get(j, "executor")), "codex");
    assert_null(json_object_get(j, "pid")); /* opt and unset: left out */
    assert_true(json_is_null(json_object_get(j, "crewId")));
    ad_row_agent_t back;
    char err[128] = "";
    assert_int_equal(ad_row_agent_decode(j, &back, err, sizeof(err)), 0);
    assert_string_equal(back.status_reason->text, "the turn ended");
    ad_row_agent_cleanup(&back);
    json_decref(enc);
    json_decref(j);
    ad_row_agent_cleanup(&a);

    /* an unknown id: AD_ENOENT, and the row is still safe to clean up */
    assert_int_equal(ad_store_agent_row(f->st, "ag_nope", &a), AD_ENOENT);
    ad_row_agent_cleanup(&a);
}

/* The list written as text, the list as JSON and each agent's JSON all say
 * the same bytes: a fork (parent, status idle, state copied) among them. */
static void the_list_text_is_the_codecs_byte_for_byte(void **state)
{
    fixture_t *f = *state;
    char wt[AD_ID_MAX], id[AD_ID_MAX], fork[AD_ID_MAX];
    make_worktree(f, wt);
    ad_id_new("ag", id);
    ad_id_new("ag", fork);
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:I}", "id", id,
                                 "worktreeId", wt, "name", "src", "mode", "regular", "permissions",
                                 "read", "executor", "claude", "sessionId", "s-9", "now",
                                 (json_int_t)1500),
                       NULL),
        0);
    json_t *r = NULL;
    assert_int_equal(store_fx_write(f, ad_store_op_agent_fork,
                                    json_pack("{s:s, s:s, s:I}", "id", id, "newId", fork, "now",
                                              (json_int_t)1600),
                                    &r),
                     0);
    json_t *fa = json_object_get(r, "agent");
    assert_string_equal(json_string_value(json_object_get(fa, "parentAgentId")), id);
    assert_string_equal(json_string_value(json_object_get(fa, "status")), "idle");
    assert_string_equal(json_string_value(json_object_get(fa, "name")), "src (fork)");
    assert_true(json_is_true(json_object_get(json_object_get(fa, "state"), "forkSession")));
    json_decref(r);
    ad_store_agent_runtime_t u = {
        .now = 1700, .set_status = true, .status = AD_ROW_AGENT_STATUS_ERROR, .context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", id);
    ad_status_reason_set(&u.why, "turn_failed", NULL, "a \"quoted\" reason");
    assert_int_equal(runtime_sync(f, &u), 0);
    add_run(f, id, 0.25); /* a cost the text and the codec must write alike */
    add_run(f, fork, 1.0);

    json_t *l = NULL;
    assert_int_equal(ad_store_agent_list(f->st, wt, NULL, false, "", &l), 0);
    assert_int_equal(json_array_size(json_object_get(l, "agents")), 2);
    char *tree = json_dumps(l, JSON_COMPACT);
    ad_buf_t b;
    ad_buf_init(&b, 64u << 20); /* the list reserves room for a full page */
    ad_store_agent_query_t q = {.worktree_id = wt, .org = ""};
    assert_int_equal(ad_store_agent_list_text(f->st, &q, NULL, NULL, &b), 0);
    if (b.len != strlen(tree) || memcmp(b.data, tree, b.len) != 0) {
        print_message("text: %.*s\ntree: %s\n", (int)b.len, b.data, tree);
    }
    assert_int_equal(b.len, strlen(tree));
    assert_non_null(strstr(tree, "\"costUsd\":0.25,\"totalTokens\":12"));
    assert_memory_equal(b.data, tree, b.len);
    free(tree);
    ad_buf_cleanup(&b);
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_agent_made_by_the_family_reads_back_typed, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(the_list_text_is_the_codecs_byte_for_byte, setup,
                                        store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
