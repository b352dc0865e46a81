/* SPDX-License-Identifier: MIT */
/* Tests for the small pieces the CLI's commands share to build a request
 * and show its answer (src/cli/cli.c): an option given or not in a body,
 * and an answer's id on a line. The requests themselves (ad_cli_call_show,
 * ad_cli_call_any_show) are the e2e suite's: `agentd pr`, `agentd routine`
 * and `agentd sessions` in pr.test.js, routines.test.js and
 * sessions-external.test.js. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"

static void set_str_only_when_given(void **state)
{
    (void)state;
    json_t *o = json_object();
    ad_cli_set_str(o, "name", "n1");
    ad_cli_set_str(o, "mode", NULL);
    ad_cli_set_str(o, "empty", "");
    assert_string_equal(ad_cli_str(o, "name", NULL), "n1");
    assert_null(json_object_get(o, "mode"));
    assert_string_equal(ad_cli_str(o, "empty", NULL), "");
    ad_cli_set_str(o, "name", "n2"); /* a second value replaces the first */
    assert_string_equal(ad_cli_str(o, "name", NULL), "n2");
    assert_int_equal(json_object_size(o), 2);
    json_decref(o);
}

/* What show(j) writes on stdout. */
static char *stdout_of(ad_cli_show_fn show, json_t *j)
{
    char path[] = "/tmp/agentd-cli-show-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    show(j);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    char *out = calloc(1, 256);
    assert_true(pread(fd, out, 255, 0) >= 0);
    close(fd);
    unlink(path);
    return out;
}

static void show_id_prints_the_id(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s}", "id", "ag_1");
    char *out = stdout_of(ad_cli_show_id, j);
    assert_string_equal(out, "ag_1\n");
    free(out);
    json_decref(j);
    j = json_object();
    out = stdout_of(ad_cli_show_id, j);
    assert_string_equal(out, "?\n");
    free(out);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_str_only_when_given),
        cmocka_unit_test(show_id_prints_the_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
