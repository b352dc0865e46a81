/* SPDX-License-Identifier: MIT */
/*
 * Tests for what a live move decides by itself (src/move/rules.c, issue
 * #76): the refusals in their order (a move under way, archived,
 * stopping, a start queued, an approval pending, already there, its node
 * away), and the
 * transcript's note.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "move/move_int.h"

static void refusals_in_order(void **state)
{
    (void)state;
    const char *why = NULL;
    ad_move_state_t s = {.running = true, .from = "", .to = "nd_1", .from_linked = true};
    assert_null(ad_move_refusal(&s, &why));
    assert_null(why);
    s.approval = true;
    assert_string_equal(ad_move_refusal(&s, &why), "approval_pending");
    assert_non_null(strstr(why, "approval"));
    s.queued = true;
    assert_string_equal(ad_move_refusal(&s, &why), "queued");
    s.stopping = true;
    assert_string_equal(ad_move_refusal(&s, &why), "stopping");
    s.archived = true;
    assert_string_equal(ad_move_refusal(&s, &why), "archived");
    s.moving = true;
    assert_string_equal(ad_move_refusal(&s, &why), "moving");
    /* an approval matters only to a live run */
    s = (ad_move_state_t){.approval = true, .from = "", .to = "nd_1", .from_linked = true};
    assert_null(ad_move_refusal(&s, &why));
    /* there already */
    s.to = "";
    assert_string_equal(ad_move_refusal(&s, &why), "same_place");
    /* off a node that is away: only when it runs there */
    s = (ad_move_state_t){.running = true, .from = "nd_1", .to = "", .from_linked = false};
    assert_string_equal(ad_move_refusal(&s, &why), "node_away");
    s.running = false;
    assert_null(ad_move_refusal(&s, &why));
}

static void the_note_says_where(void **state)
{
    (void)state;
    char out[200];
    ad_move_note_text(NULL, "box1", true, out, sizeof(out));
    assert_string_equal(out, "moved from the control plane to node box1; it goes on there");
    ad_move_note_text("box1", NULL, false, out, sizeof(out));
    assert_string_equal(out,
                        "moved from node box1 to the control plane; it runs there from its next "
                        "start");
    ad_move_note_text("a", "b", true, out, 12);
    assert_int_equal(strlen(out), 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refusals_in_order),
        cmocka_unit_test(the_note_says_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
