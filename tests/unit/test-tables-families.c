/* SPDX-License-Identifier: MIT */
/* Tests for the table families (src/tables): workspaces and worktrees, agents
 * (orders, archive, fork, reorder), an org's pairs read on the pool (counts
 * by status, sessions' agents), message pagination, settings and usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tables/agents.h"
#include "tables/approvals.h"
#include "tables/extsess.h"
#include "tables/messages.h"
#include "tables/settings.h"
#include "tables/usage.h"
#include "tables/workspaces.h"
#include "store/store_int.h"
#include "store_fixture.h"
#include "tables/tables_int.h"

typedef store_fx_t fixture_t;
STORE_FX_SETUP(setup, "tables")

static const char *sget(json_t *o, const char *path1, const char *key)
{
    json_t *x = path1 != NULL ? json_object_get(o, path1) : o;
    return json_string_value(json_object_get(x, key));
}

/* Creates a workspace at path with a main worktree; returns their ids. */
static void make_workspace(fixture_t *f, const char *path, char ws[AD_ID_MAX], char wt[AD_ID_MAX])
{
    ad_id_new("ws", ws);
    ad_id_new("wt", wt);
    json_t *r = NULL;
    assert_int_equal(
        store_fx_write(f, ad_store_op_workspace_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", ws, "name", "proj", "path",
                                 path, "worktreeId", wt, "branch", "", "now", (json_int_t)1000),
                       &r),
        0);
    assert_string_equal(sget(r, "workspace", "path"), path);
    assert_string_equal(sget(r, "worktree", "workspaceId"), ws);
    assert_true(json_is_true(json_object_get(json_object_get(r, "worktree"), "isMain")));
    json_decref(r);
}

static void make_agent(fixture_t *f, const char *wt, const char *name, char id[AD_ID_MAX])
{
    ad_id_new("ag", id);
    json_t *r = NULL;
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s, s:I}", "id", id, "worktreeId",
                                 wt, "name", name, "mode", "regular", "permissions", "read",
                                 "executor", "claude", "now", (json_int_t)ad_wall_ms()),
                       &r),
        0);
    json_decref(r);
}

static void workspaces_and_worktrees(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX];
    make_workspace(f, "/tmp/a", ws, wt);
    /* The same path again is a conflict and leaves nothing behind. */
    char ws2[AD_ID_MAX], wt2[AD_ID_MAX];
    ad_id_new("ws", ws2);
    ad_id_new("wt", wt2);
    assert_int_equal(
        store_fx_write(f, ad_store_op_workspace_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", ws2, "name", "x", "path",
                                 "/tmp/a", "worktreeId", wt2, "now", (json_int_t)1),
                       NULL),
        AD_EEXIST);
    json_t *l = NULL;
    assert_int_equal(ad_store_workspace_list(f->st, "", &l), 0);
    assert_int_equal(json_array_size(json_object_get(l, "workspaces")), 1);
    json_decref(l);
    /* An org filter sees its own rows only. */
    assert_int_equal(ad_store_workspace_list(f->st, "org_default", &l), 0);
    assert_int_equal(json_array_size(json_object_get(l, "workspaces")), 1);
    json_decref(l);
    assert_int_equal(ad_store_workspace_list(f->st, "org_other", &l), 0);
    assert_int_equal(json_array_size(json_object_get(l, "workspaces")), 0);
    json_decref(l);
    assert_int_equal(ad_store_worktree_get(f->st, wt2, &l), AD_ENOENT);

    /* A second worktree, then update and list order. */
    char wt3[AD_ID_MAX];
    ad_id_new("wt", wt3);
    json_t *r = NULL;
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_insert,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", wt3,
                                              "workspaceId", ws, "name", "feature", "branch",
                                              "feat", "path", "/tmp/a-feat", "now", (json_int_t)2),
                                    &r),
                     0);
    json_decref(r);
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_update,
                                    json_pack("{s:s, s:s, s:I}", "id", wt3, "sortMode", "bogus",
                                              "now", (json_int_t)3),
                                    NULL),
                     AD_ECONSTRAINT);
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_update,
                                    json_pack("{s:s, s:s, s:I}", "id", wt3, "sortMode", "name",
                                              "now", (json_int_t)3),
                                    &r),
                     0);
    assert_string_equal(sget(r, "worktree", "sortMode"), "name");
    assert_string_equal(sget(r, "worktree", "branch"), "feat");
    json_decref(r);
    assert_int_equal(ad_store_worktree_list(f->st, ws, "", &l), 0);
    json_t *arr = json_object_get(l, "worktrees");
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(sget(json_array_get(arr, 0), NULL, "id"), wt); /* main first */
    json_decref(l);
    /* The main worktree cannot be deleted; another can. */
    assert_int_equal(
        store_fx_write(f, ad_store_op_worktree_delete, json_pack("{s:s}", "id", wt), NULL),
        AD_ESTATE);
    char ag[AD_ID_MAX];
    make_agent(f, wt3, "doomed", ag);
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_delete,
                                    json_pack("{s:s, s:I}", "id", wt3, "now", (json_int_t)4000),
                                    &r),
                     0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "agentIds"), 0)), ag);
    json_decref(r);
    /* Issue #74: the worktree is hidden, its agent archived, not deleted. */
    assert_int_equal(ad_store_worktree_get(f->st, wt3, &l), AD_ENOENT);
    assert_int_equal(ad_store_agent_get(f->st, ag, &l), 0);
    assert_non_null(json_object_get(l, "deletedAt"));
    json_decref(l);
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_delete,
                                    json_pack("{s:s, s:I}", "id", wt3, "now", (json_int_t)4001),
                                    NULL),
                     AD_ENOENT);
    /* A new worktree at the removed one's path is made; the old row stays. */
    char wt4[AD_ID_MAX];
    ad_id_new("wt", wt4);
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_insert,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", wt4,
                                              "workspaceId", ws, "name", "feature", "branch",
                                              "feat", "path", "/tmp/a-feat", "now", (json_int_t)5),
                                    NULL),
                     0);
    assert_int_equal(ad_store_agent_get(f->st, ag, &l), 0);
    json_decref(l);
    /* Removing the workspace hides it and its worktrees and archives its
     * agents (issue #14): the agent is still there, with deletedAt. */
    make_agent(f, wt, "a1", ag);
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_delete,
                                    json_pack("{s:s, s:I}", "id", ws, "now", (json_int_t)5000), &r),
                     0);
    json_decref(r);
    assert_int_equal(ad_store_workspace_get(f->st, ws, &l), AD_ENOENT);
    assert_int_equal(ad_store_worktree_get(f->st, wt, &l), AD_ENOENT);
    assert_int_equal(ad_store_agent_get(f->st, ag, &l), 0);
    assert_non_null(json_object_get(l, "deletedAt"));
    json_decref(l);
    assert_int_equal(
        store_fx_write(f, ad_store_op_workspace_delete, json_pack("{s:s}", "id", ws), NULL),
        AD_ENOENT);
}

static void agents_lifecycle(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], a[AD_ID_MAX], b[AD_ID_MAX], c[AD_ID_MAX];
    make_workspace(f, "/tmp/b", ws, wt);
    make_agent(f, wt, "zeta", a);
    make_agent(f, wt, "alpha", b);
    make_agent(f, wt, "Mid", c);
    json_t *g = NULL;
    assert_int_equal(ad_store_agent_get(f->st, a, &g), 0);
    /* Exactly the agent fields: optional ones absent when unset. */
    const char *keys[] = {"id",          "worktreeId",  "name",         "status",    "contextLevel",
                          "mode",        "permissions", "displayOrder", "createdAt", "updatedAt",
                          "executor",    "crewId",      "state",        "orgId",     "costUsd",
                          "totalTokens", "statusReason"};
    assert_int_equal(json_object_size(g), AD_ARRAY_LEN(keys));
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        if (json_object_get(g, keys[i]) == NULL) {
            fail_msg("missing %s", keys[i]);
        }
    }
    assert_string_equal(sget(g, NULL, "status"), "idle"); /* it never ran */
    assert_true(json_is_array(json_object_get(g, "permissions")));
    assert_true(json_is_null(json_object_get(g, "crewId")));
    json_decref(g);

    /* Free order follows displayOrder; name order when the worktree says so. */
    json_t *l = NULL;
    assert_int_equal(ad_store_agent_list(f->st, wt, NULL, false, "", &l), 0);
    json_t *arr = json_object_get(l, "agents");
    assert_string_equal(sget(json_array_get(arr, 0), NULL, "id"), a);
    assert_string_equal(sget(json_array_get(arr, 2), NULL, "id"), c);
    json_decref(l);
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_update,
                                    json_pack("{s:s, s:s, s:I}", "id", wt, "sortMode", "name",
                                              "now", (json_int_t)3),
                                    NULL),
                     0);
    assert_int_equal(ad_store_agent_list(f->st, wt, NULL, false, "", &l), 0);
    arr = json_object_get(l, "agents");
    assert_string_equal(sget(json_array_get(arr, 0), NULL, "name"), "alpha");
    assert_string_equal(sget(json_array_get(arr, 1), NULL, "name"), "Mid");
    json_decref(l);
    assert_int_equal(ad_store_agent_list(f->st, "wt_nope", NULL, false, "", &l), AD_ENOENT);

    /* Update: partial, crewId cleared by null. */
    json_t *r = NULL;
    assert_int_equal(store_fx_write(f, ad_store_op_agent_update,
                                    json_pack("{s:s, s:s, s:s, s:I}", "id", a, "mode", "plan",
                                              "crewId", "cr_1", "now", (json_int_t)5),
                                    &r),
                     0);
    assert_string_equal(sget(r, "agent", "mode"), "plan");
    assert_string_equal(sget(r, "agent", "name"), "zeta");
    assert_string_equal(sget(r, "agent", "crewId"), "cr_1");
    assert_string_equal(sget(r, NULL, "workspaceId"), ws);
    json_decref(r);
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_update,
                       json_pack("{s:s, s:n, s:I}", "id", a, "crewId", "now", (json_int_t)6), &r),
        0);
    assert_true(json_is_null(json_object_get(json_object_get(r, "agent"), "crewId")));
    json_decref(r);
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_update,
                       json_pack("{s:s, s:s, s:I}", "id", a, "mode", "yolo", "now", (json_int_t)6),
                       NULL),
        AD_ECONSTRAINT);

    /* Archive hides it, blocks start; restore brings it back. */
    assert_int_equal(ad_store_agent_check_startable(f->st, a), 0);
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_delete,
                       json_pack("{s:s, s:b, s:I}", "id", a, "archive", 1, "now", (json_int_t)7),
                       &r),
        0);
    assert_non_null(sget(r, "agent", "deletedAt"));
    json_decref(r);
    assert_int_equal(ad_store_agent_check_startable(f->st, a), AD_ESTATE);
    assert_int_equal(ad_store_agent_check_startable(f->st, "ag_nope"), AD_ENOENT);
    assert_int_equal(ad_store_agent_list(f->st, wt, NULL, false, "", &l), 0);
    assert_int_equal(json_array_size(json_object_get(l, "agents")), 2);
    json_decref(l);
    assert_int_equal(ad_store_agent_list(f->st, NULL, NULL, true, "", &l), 0);
    assert_int_equal(json_array_size(json_object_get(l, "agents")), 3);
    json_decref(l);
    assert_int_equal(store_fx_write(f, ad_store_op_agent_restore,
                                    json_pack("{s:s, s:I}", "id", a, "now", (json_int_t)8), &r),
                     0);
    assert_null(json_object_get(json_object_get(r, "agent"), "deletedAt"));
    json_decref(r);

    /* Fork copies the session and points to its parent. */
    char fk[AD_ID_MAX];
    ad_id_new("ag", fk);
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_fork,
                       json_pack("{s:s, s:s, s:I}", "id", a, "newId", fk, "now", (json_int_t)9),
                       &r),
        0);
    assert_string_equal(sget(r, "agent", "parentAgentId"), a);
    assert_string_equal(sget(r, "agent", "name"), "zeta (fork)");
    assert_string_equal(sget(r, "agent", "mode"), "plan");
    json_decref(r);

    /* Reorder: all or nothing. */
    assert_int_equal(store_fx_write(f, ad_store_op_agent_reorder,
                                    json_pack("{s:s, s:[s,s,s], s:I}", "worktreeId", wt, "ids", c,
                                              b, "ag_nope", "now", (json_int_t)10),
                                    &r),
                     AD_EINVAL);
    assert_string_equal(sget(r, NULL, "id"), "ag_nope");
    json_decref(r);
    assert_int_equal(ad_store_agent_get(f->st, c, &g), 0);
    assert_int_equal(json_integer_value(json_object_get(g, "displayOrder")), 2);
    json_decref(g);
    assert_int_equal(store_fx_write(f, ad_store_op_agent_reorder,
                                    json_pack("{s:s, s:[s,s,s,s], s:I}", "worktreeId", wt, "ids", c,
                                              b, a, fk, "now", (json_int_t)10),
                                    &r),
                     0);
    json_decref(r);
    assert_int_equal(ad_store_agent_get(f->st, c, &g), 0);
    assert_int_equal(json_integer_value(json_object_get(g, "displayOrder")), 0);
    json_decref(g);

    /* Hard delete removes the row (and its fork keeps living, parent unset). */
    assert_int_equal(
        store_fx_write(f, ad_store_op_agent_delete,
                       json_pack("{s:s, s:b, s:I}", "id", a, "archive", 0, "now", (json_int_t)11),
                       NULL),
        0);
    assert_int_equal(ad_store_agent_get(f->st, a, &g), AD_ENOENT);
    assert_int_equal(ad_store_agent_get(f->st, fk, &g), 0);
    assert_null(json_object_get(g, "parentAgentId"));
    json_decref(g);
}

/* ad_store_org_pairs through its two readers: integers and strings, the
 * org filter ("" every org), the limit. */
static void org_pairs_on_the_pool(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], a1[AD_ID_MAX], a2[AD_ID_MAX], sql[200];
    make_workspace(f, "/srv/pairs", ws, wt);
    make_agent(f, wt, "one", a1);
    make_agent(f, wt, "two", a2);
    snprintf(sql, sizeof(sql), "UPDATE agents SET session_id = 'sess-1' WHERE id = '%s'", a1);
    store_fx_exec(f, sql);

    store_wait_t w = {0};
    ad_store_agent_status_counts(f->st, "", store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
    json_int_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(w.result, k, v)
    {
        assert_true(json_is_integer(v));
        n += json_integer_value(v);
    }
    assert_int_equal(n, 2);
    json_decref(w.result);

    w = (store_wait_t){0};
    ad_store_agent_status_counts(f->st, "org_elsewhere", store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(json_object_size(w.result), 0);
    json_decref(w.result);

    w = (store_wait_t){0};
    ad_store_session_agents(f->st, NULL, store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(json_object_size(w.result), 1);
    assert_string_equal(sget(w.result, NULL, "sess-1"), a1);
    json_decref(w.result);

    w = (store_wait_t){0};
    ad_store_org_pairs(f->st,
                       "SELECT id, name FROM agents WHERE (?1 = '' OR org_id = ?1) "
                       "ORDER BY name LIMIT ?2",
                       "", 1, false, store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(json_object_size(w.result), 1);
    assert_string_equal(sget(w.result, NULL, a1), "one");
    json_decref(w.result);

    w = (store_wait_t){0};
    ad_store_org_pairs(f->st, "SELECT nope FROM nowhere WHERE ?1 = ''", "", 0, true,
                       store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_not_equal(w.rc, 0);
    assert_null(w.result);
}

static void insert_message(fixture_t *f, const char *agent, int64_t now, char id[AD_ID_MAX])
{
    ad_id_new("msg", id);
    json_t *r = NULL;
    int rc = store_fx_write(f, ad_store_op_message_insert,
                            json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "agentId", agent,
                                      "role", "user", "content", "hi", "now", (json_int_t)now),
                            &r);
    assert_int_equal(rc, 0);
    json_decref(r);
}

/* A page stops growing past 16 MiB of text: three messages of 9 MiB come
 * as two pages (two, then one) with a cursor between them, none lost. The
 * API's text is the tree's, byte for byte. */
static void a_page_of_big_messages_ends_early_and_goes_on(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], a[AD_ID_MAX], ids[3][AD_ID_MAX];
    make_workspace(f, "/tmp/c", ws, wt);
    make_agent(f, wt, "talker", a);
    size_t big = 9u << 20;
    char *content = malloc(big + 1);
    assert_non_null(content);
    memset(content, 'x', big);
    content[big] = '\0';
    for (int i = 0; i < 3; i++) {
        ad_id_new("msg", ids[i]);
        json_t *r = NULL;
        assert_int_equal(store_fx_write(f, ad_store_op_message_insert,
                                        json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", ids[i],
                                                  "agentId", a, "role", "user", "content", content,
                                                  "now", (json_int_t)(1000 + i)),
                                        &r),
                         0);
        json_decref(r);
    }
    free(content);
    json_t *p = NULL;
    assert_int_equal(ad_store_message_page(f->st, a, 10, NULL, &p), 0);
    json_t *msgs = json_object_get(p, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(sget(json_array_get(msgs, 1), NULL, "id"), ids[1]);
    assert_int_equal(strlen(sget(json_array_get(msgs, 0), NULL, "content")), big);
    assert_true(json_is_true(json_object_get(p, "hasMore")));
    char *cursor = strdup(json_string_value(json_object_get(p, "nextCursor")));
    json_decref(p);
    assert_int_equal(ad_store_message_page(f->st, a, 10, cursor, &p), 0);
    free(cursor);
    msgs = json_object_get(p, "messages");
    assert_int_equal(json_array_size(msgs), 1);
    assert_string_equal(sget(json_array_get(msgs, 0), NULL, "id"), ids[0]);
    assert_false(json_is_true(json_object_get(p, "hasMore")));
    /* the text as the API sends it, and the tree dumped as jansson would */
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_PAGE_TEXT_MAX);
    char c[AD_ID_MAX + 24];
    snprintf(c, sizeof(c), "%s", ids[1]);
    assert_int_equal(ad_store_message_page_text(f->st, a, 10, c, &b), 0);
    char *dump = json_dumps(p, JSON_COMPACT);
    assert_string_equal(b.data, dump);
    free(dump);
    ad_buf_cleanup(&b);
    json_decref(p);
}

static void messages_paginate_without_skips_or_repeats(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], a[AD_ID_MAX];
    make_workspace(f, "/tmp/c", ws, wt);
    make_agent(f, wt, "talker", a);
    enum { N = 57 };
    char ids[N + 40][AD_ID_MAX];
    for (int i = 0; i < N; i++) {
        /* Several share a millisecond: the id breaks the tie. */
        insert_message(f, a, 1000 + i / 4, ids[i]);
    }
    int seen = 0, extra = 0;
    char *cursor = NULL;
    for (int page = 0; page < 100; page++) {
        json_t *p = NULL;
        assert_int_equal(ad_store_message_page(f->st, a, 10, cursor, &p), 0);
        free(cursor);
        cursor = NULL;
        json_t *msgs = json_object_get(p, "messages");
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m)
        {
            /* newest first, exactly the next older one each time */
            assert_string_equal(sget(m, NULL, "id"), ids[N - 1 - seen]);
            seen++;
        }
        /* New messages arriving meanwhile do not disturb later pages. */
        if (extra < 5) {
            insert_message(f, a, 5000 + extra, ids[N + extra]);
            extra++;
        }
        bool more = json_is_true(json_object_get(p, "hasMore"));
        if (more) {
            cursor = strdup(json_string_value(json_object_get(p, "nextCursor")));
        } else {
            assert_true(json_is_null(json_object_get(p, "nextCursor")));
        }
        json_decref(p);
        if (!more) {
            break;
        }
    }
    assert_int_equal(seen, N);
    json_t *p = NULL;
    assert_int_equal(ad_store_message_page(f->st, a, 10, "garbage", &p), AD_EINVAL);
    assert_int_equal(ad_store_message_page(f->st, "ag_nope", 10, NULL, &p), AD_ENOENT);
    /* A bare message id works as a cursor. */
    assert_int_equal(ad_store_message_page(f->st, a, 3, ids[2], &p), 0);
    json_t *msgs = json_object_get(p, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(sget(json_array_get(msgs, 0), NULL, "id"), ids[1]);
    assert_false(json_is_true(json_object_get(p, "hasMore")));
    json_decref(p);
    /* Unknown agent on insert: not found, nothing written. */
    char mid[AD_ID_MAX];
    ad_id_new("msg", mid);
    assert_int_equal(store_fx_write(f, ad_store_op_message_insert,
                                    json_pack("{s:s, s:s, s:s, s:I}", "id", mid, "agentId", "ag_x",
                                              "role", "user", "now", (json_int_t)1),
                                    NULL),
                     AD_ENOENT);
    assert_int_equal(store_fx_write(f, ad_store_op_message_insert,
                                    json_pack("{s:s, s:s, s:s, s:I}", "id", mid, "agentId", a,
                                              "role", "robot", "now", (json_int_t)1),
                                    NULL),
                     AD_ECONSTRAINT);
}

typedef struct {
    ad_store_message_t *m;
    bool done;
    int rc;
} typed_wait_t;

static int typed_job(ad_store_tx_t *tx, void *ctx)
{
    return ad_store_message_insert(tx, ((typed_wait_t *)ctx)->m);
}

static void typed_done(int rc, void *ctx)
{
    typed_wait_t *w = ctx;
    w->done = true;
    w->rc = rc;
}

static int typed_insert(fixture_t *f, ad_store_message_t *m)
{
    typed_wait_t w = {.m = m};
    ad_store_submit(f->st, typed_job, typed_done, &w);
    for (int i = 0; i < 100000 && !w.done; i++) { /* at most ~10 s */
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!w.done) {
            usleep(100);
        }
    }
    assert_true(w.done);
    return w.rc;
}

/* The typed insert writes what the JSON op writes, and its object is the
 * one a read of the row gives back, optional fields or not. */
static void messages_typed_insert_matches_the_row(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], a[AD_ID_MAX];
    make_workspace(f, "/tmp/typed", ws, wt);
    make_agent(f, wt, "typed", a);

    char id1[AD_ID_MAX], id2[AD_ID_MAX];
    ad_id_new("msg", id1);
    ad_id_new("msg", id2);
    ad_store_message_t full = {.id = id1,
                               .agent_id = a,
                               .role = "tool",
                               .content = "out \"q\" é",
                               .tool_name = "bash",
                               .tool_input = "{\"cmd\":\"ls\"}",
                               .tool_output = "a\nb",
                               .token_count = 42,
                               .is_complete = false,
                               .now = 1700000000123};
    ad_store_message_t bare = {.id = id2,
                               .agent_id = a,
                               .role = "user",
                               .content = NULL,
                               .is_complete = true,
                               .now = 1700000000456};
    assert_int_equal(typed_insert(f, &full), 0);
    assert_string_equal(full.worktree_id, wt);
    assert_string_equal(full.workspace_id, ws);
    assert_int_equal(typed_insert(f, &bare), 0);

    json_t *p = NULL;
    assert_int_equal(ad_store_message_page(f->st, a, 10, NULL, &p), 0);
    json_t *msgs = json_object_get(p, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    json_t *want_bare = ad_store_message_json(&bare), *want_full = ad_store_message_json(&full);
    assert_true(json_equal(json_array_get(msgs, 0), want_bare)); /* newest first */
    assert_true(json_equal(json_array_get(msgs, 1), want_full));
    assert_string_equal(json_string_value(json_object_get(want_bare, "content")), "");
    assert_null(json_object_get(want_bare, "toolName"));
    assert_false(json_is_true(json_object_get(want_full, "isComplete")));
    /* The same keys in the same order, so the JSON text is the same too. */
    char *t1 = json_dumps(json_array_get(msgs, 1), JSON_COMPACT);
    char *t2 = json_dumps(want_full, JSON_COMPACT);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    /* The text form is byte for byte jansson's, tricky strings included. */
    const char *tricky[] = {
        "",           "plain",        "q\"uote\\back/slash",
        "\b\f\n\r\t", "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80",
        "<\\u0000>"};
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        ad_store_message_t t = full;
        t.content = tricky[i];
        t.tool_output = i % 2 ? NULL : tricky[i];
        t.run_id = i % 3 ? NULL : "run_x";
        t.token_count = (int64_t)i * 1000000007;
        t.is_complete = i % 2;
        json_t *o = ad_store_message_json(&t);
        char *want = json_dumps(o, JSON_COMPACT);
        ad_buf_t b;
        ad_buf_init(&b, 1 << 20);
        assert_int_equal(ad_store_message_text(&t, &b), 0);
        assert_string_equal(b.data, want);
        ad_buf_cleanup(&b);
        free(want);
        json_decref(o);
    }
    json_decref(want_bare);
    json_decref(want_full);
    json_decref(p);

    /* Unknown agent: not found; a bad role: a constraint; nothing written. */
    char id3[AD_ID_MAX];
    ad_id_new("msg", id3);
    ad_store_message_t lost = {.id = id3, .agent_id = "ag_nope", .role = "user", .now = 1};
    assert_int_equal(typed_insert(f, &lost), AD_ENOENT);
    ad_store_message_t robot = {.id = id3, .agent_id = a, .role = "robot", .now = 1};
    assert_int_equal(typed_insert(f, &robot), AD_ECONSTRAINT);
    assert_int_equal(ad_store_message_page(f->st, a, 10, NULL, &p), 0);
    assert_int_equal(json_array_size(json_object_get(p, "messages")), 2);
    json_decref(p);
}

static void settings_typed_with_defaults(void **state)
{
    fixture_t *f = *state;
    json_t *s = NULL;
    assert_int_equal(ad_store_settings_get(f->st, &s), 0);
    assert_string_equal(sget(s, NULL, "theme"), "system");
    assert_true(json_is_true(json_object_get(s, "auto_save"))); /* back, with a meaning: 2911 */
    assert_true(json_is_true(json_object_get(s, "notifications")));
    assert_true(json_is_true(json_object_get(s, "confirm_delete")));
    assert_string_equal(sget(s, NULL, "default_mode"), "regular");
    assert_int_equal(json_integer_value(json_object_get(s, "max_context_warning")), 80);
    json_decref(s);
    const char *bad, *why;
    json_t *p = json_pack("{s:s, s:i}", "theme", "dark", "max_context_warning", 101);
    assert_int_equal(ad_store_settings_validate(p, &bad, &why), AD_EINVAL);
    assert_string_equal(bad, "max_context_warning");
    json_decref(p);
    p = json_pack("{s:s}", "notifications", "yes");
    assert_int_equal(ad_store_settings_validate(p, &bad, &why), AD_EINVAL);
    assert_string_equal(bad, "notifications");
    json_decref(p);
    p = json_pack("{s:s}", "theme", "neon");
    assert_int_equal(ad_store_settings_validate(p, &bad, &why), AD_EINVAL);
    json_decref(p);
    /* A good patch with an unknown key: known keys change, unknown ignored. */
    json_t *r = NULL;
    assert_int_equal(store_fx_write(f, ad_store_op_settings_update,
                                    json_pack("{s:{s:s, s:b, s:f, s:s}, s:I}", "patch", "theme",
                                              "dark", "notifications", 0, "max_context_warning",
                                              90.0, "bogus", "x", "now", (json_int_t)5),
                                    &r),
                     0);
    json_t *all = json_object_get(r, "settings");
    assert_string_equal(sget(all, NULL, "theme"), "dark");
    assert_true(json_is_false(json_object_get(all, "notifications")));
    assert_int_equal(json_integer_value(json_object_get(all, "max_context_warning")), 90);
    assert_null(json_object_get(all, "bogus"));
    json_decref(r);
    /* A bad patch changes nothing. */
    assert_int_equal(store_fx_write(f, ad_store_op_settings_update,
                                    json_pack("{s:{s:s, s:s}, s:I}", "patch", "theme", "light",
                                              "default_mode", "nope", "now", (json_int_t)6),
                                    NULL),
                     AD_EINVAL);
    assert_int_equal(ad_store_settings_get(f->st, &s), 0);
    assert_string_equal(sget(s, NULL, "theme"), "dark");
    json_decref(s);
}

static void usage_rows_add_up_atomically(void **state)
{
    fixture_t *f = *state;
    char k[16];
    /* 2026-11-21 is a Saturday; its ISO week starts Monday 2026-11-16. */
    int64_t t = 1795290286123LL;
    assert_int_equal(ad_usage_period_key(t, "daily", k), 0);
    assert_string_equal(k, "2026-11-21");
    assert_int_equal(ad_usage_period_key(t, "weekly", k), 0);
    assert_string_equal(k, "2026-11-16");
    assert_int_equal(ad_usage_period_key(t, "monthly", k), 0);
    assert_string_equal(k, "2026-11-01");
    assert_int_equal(ad_usage_period_key(t, "yearly", k), AD_EINVAL);

    int done = 0;
    ad_usage_rec_t recs[] = {
        {.model = "opus", .input_tokens = 100, .output_tokens = 50, .cost_usd = 0.5, .at_ms = t},
        {.model = "opus",
         .input_tokens = 10,
         .output_tokens = 5,
         .cache_read_tokens = 7,
         .cost_usd = 0.25,
         .error = true,
         .at_ms = t},
        {.model = "haiku", .input_tokens = 1, .output_tokens = 1, .at_ms = t + 86400000LL},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(recs); i++) {
        ad_store_usage_record(f->st, &recs[i], NULL, NULL);
    }
    /* A sync op after them: they are committed once it completes. */
    json_t *r = NULL;
    AD_UNUSED(done);
    assert_int_equal(store_fx_write(f, ad_store_op_settings_update,
                                    json_pack("{s:{}, s:I}", "patch", "now", (json_int_t)1), &r),
                     0);
    json_decref(r);
    json_t *row = NULL;
    assert_int_equal(ad_store_usage_row(f->st, "daily", "2026-11-21", &row), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "inputTokens")), 110);
    assert_int_equal(json_integer_value(json_object_get(row, "totalTokens")), 165);
    assert_int_equal(json_integer_value(json_object_get(row, "cacheReadTokens")), 7);
    assert_int_equal(json_integer_value(json_object_get(row, "requestCount")), 2);
    assert_int_equal(json_integer_value(json_object_get(row, "errorCount")), 1);
    assert_float_equal(json_real_value(json_object_get(row, "costUsd")), 0.75, 1e-9);
    json_t *opus = json_object_get(json_object_get(row, "modelUsage"), "opus");
    assert_int_equal(json_integer_value(json_object_get(opus, "requestCount")), 2);
    json_decref(row);
    assert_int_equal(ad_store_usage_row(f->st, "weekly", "2026-11-16", &row), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "requestCount")), 3);
    assert_non_null(json_object_get(json_object_get(row, "modelUsage"), "haiku"));
    json_decref(row);
    assert_int_equal(ad_store_usage_row(f->st, "monthly", "2026-11-01", &row), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "totalTokens")), 167);
    json_decref(row);
    json_t *rows = NULL;
    assert_int_equal(ad_store_usage_rows(f->st, "daily", "2026-11-01", "2026-11-30", &rows), 0);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    assert_int_equal(ad_store_usage_row(f->st, "daily", "2020-01-01", &row), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "requestCount")), 0);
    json_decref(row);
}

static void ops_in_one_group_fail_alone(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX];
    make_workspace(f, "/tmp/g", ws, wt);
    /* Three writes queued together: the middle one fails, so the group
     * runs twice; the others still commit, each with one result. */
    store_wait_t w[3] = {{0}};
    char ids[3][AD_ID_MAX];
    for (int i = 0; i < 3; i++) {
        ad_id_new("ag", ids[i]);
        ad_store_write(f->st, ad_store_op_agent_insert,
                       json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s, s:I}", "id", ids[i],
                                 "worktreeId", i == 1 ? "wt_missing" : wt, "name", "n", "mode",
                                 "regular", "permissions", "read", "executor", "claude", "now",
                                 (json_int_t)1),
                       store_fx_on_result, &w[i]);
    }
    for (int i = 0; i < 100000 && !(w[0].done && w[1].done && w[2].done); i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_true(w[0].done && w[1].done && w[2].done);
    assert_int_equal(w[0].rc, 0);
    assert_int_equal(w[1].rc, AD_ENOENT);
    assert_int_equal(w[2].rc, 0);
    assert_string_equal(sget(w[2].result, "agent", "id"), ids[2]);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(w[2].result, "agent"), "displayOrder")),
        1);
    for (int i = 0; i < 3; i++) {
        json_decref(w[i].result);
    }
    json_t *g = NULL;
    assert_int_equal(ad_store_agent_get(f->st, ids[1], &g), AD_ENOENT);
}

/* Approvals: a pending row, decided once (a second decision is AD_ESTATE
 * and changes nothing), allow_always appends the tool to the agent's
 * permissions only once, closing a run's pending rows, and the read side
 * never shows the CLI's request id. */
static void approvals_decide_once(void **state)
{
    fixture_t *f = *state;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], ag[AD_ID_MAX];
    make_workspace(f, "/tmp/agentd-approvals-proj", ws, wt);
    make_agent(f, wt, "asker", ag);
    const char *ids[] = {"ap_1", "ap_2", "ap_3"};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = NULL;
        assert_int_equal(
            store_fx_write(f, ad_store_op_approval_insert,
                           json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:I}", "id", ids[i],
                                     "agentId", ag, "runId", i < 2 ? "run_a" : "run_b", "orgId",
                                     "org_default", "requestId", ids[i], "toolName", "Bash",
                                     "input", "command", "ls", "now", (json_int_t)(1000 + i)),
                           &r),
            0);
        assert_string_equal(sget(r, NULL, "status"), "pending");
        assert_null(json_object_get(r, "requestId"));
        assert_string_equal(sget(json_object_get(r, "input"), NULL, "command"), "ls");
        json_decref(r);
    }
    for (int k = 0; k < 2; k++) { /* allow_always twice: the tool is added once */
        json_t *r = NULL;
        int rc = store_fx_write(f, ad_store_op_approval_decide,
                                json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", ids[k], "decision",
                                          "allow_always", "status", "allowed", "by", "owner", "now",
                                          (json_int_t)2000),
                                &r);
        assert_int_equal(rc, 0);
        json_decref(r);
    }
    json_t *again = NULL;
    assert_int_equal(
        store_fx_write(f, ad_store_op_approval_decide,
                       json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", "ap_1", "decision", "deny",
                                 "status", "denied", "by", "x", "now", (json_int_t)3000),
                       &again),
        AD_ESTATE);
    json_decref(again);
    json_t *a = NULL;
    assert_int_equal(ad_store_agent_get(f->st, ag, &a), 0);
    json_t *perms = json_object_get(a, "permissions");
    assert_int_equal(json_array_size(perms), 2);
    assert_string_equal(json_string_value(json_array_get(perms, 1)), "Bash");
    json_decref(a);
    assert_int_equal(store_fx_write(f, ad_store_op_approval_close,
                                    json_pack("{s:s, s:s, s:I}", "runId", "run_b", "status",
                                              "expired", "now", (json_int_t)4000),
                                    NULL),
                     0);
    json_t *list = NULL;
    assert_int_equal(ad_store_approval_list(f->st, ag, false, &list), 0);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(sget(json_array_get(list, 0), NULL, "status"), "expired");
    assert_string_equal(sget(json_array_get(list, 2), NULL, "status"), "allowed");
    assert_string_equal(sget(json_array_get(list, 2), NULL, "decision"), "allow_always");
    json_decref(list);
    assert_int_equal(ad_store_approval_list(f->st, ag, true, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(ad_store_approval_get(f->st, "ap_nope", &list), AD_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(workspaces_and_worktrees, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(agents_lifecycle, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(org_pairs_on_the_pool, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(a_page_of_big_messages_ends_early_and_goes_on, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(messages_paginate_without_skips_or_repeats, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(messages_typed_insert_matches_the_row, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(settings_typed_with_defaults, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(usage_rows_add_up_atomically, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(ops_in_one_group_fail_alone, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(approvals_decide_once, setup, store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
