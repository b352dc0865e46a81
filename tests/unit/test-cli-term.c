/* SPDX-License-Identifier: MIT */
/* Tests for src/cli/term.c, a terminal agent's output made fit for
 * `agentd logs`: every kind of sequence dropped, colours kept only when
 * asked, and a sequence cut between two writes (as the event stream cuts
 * it) still recognised, whatever the cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

static const char SCREEN[] = "\x1b]0;title\x07\x1b[2J\x1b[H\x1b[1;32mgreen\x1b[0m text\r\n"
                             "\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\ \x1bP1$r\x1b\\here\r\n"
                             "a\x08\x7f\x01z\xc2\x9b\xc2\xa0\xc3\xa9 50%\r99%\x1b[K\x1b(B\x1b"
                             "7!";

static char *cleaned(const char *s, size_t n, size_t cut, bool colour)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    ad_cli_term_t t;
    ad_cli_term_init(&t, colour);
    ad_cli_term_write(&t, s, cut, mem);
    ad_cli_term_write(&t, s + cut, n - cut, mem);
    ad_cli_term_finish(&t, mem);
    fclose(mem);
    return buf;
}

static void strips_every_sequence(void **state)
{
    (void)state;
    char *out = ad_cli_term_clean(SCREEN, false);
    assert_string_equal(out, "green text\nlink here\naz\xc2\xa0\xc3\xa9 50%\n99%!");
    free(out);
}

static void keeps_colours_when_asked(void **state)
{
    (void)state;
    char *out = cleaned(SCREEN, strlen(SCREEN), 0, true);
    assert_non_null(strstr(out, "\x1b[1;32mgreen\x1b[0m text\n"));
    assert_null(strstr(out, "\x1b]"));
    assert_null(strstr(out, "\x1b[2J"));
    /* the colour is reset at the end */
    size_t n = strlen(out);
    assert_true(n > 4 && strcmp(out + n - 4, "\x1b[0m") == 0);
    free(out);
}

static void any_cut_gives_the_same(void **state)
{
    (void)state;
    size_t n = strlen(SCREEN);
    char *whole = cleaned(SCREEN, n, 0, true);
    for (size_t cut = 1; cut < n; cut++) {
        char *out = cleaned(SCREEN, n, cut, true);
        assert_string_equal(out, whole);
        free(out);
    }
    free(whole);
}

static void a_long_csi_is_dropped(void **state)
{
    (void)state;
    char in[200] = "\x1b[";
    memset(in + 2, '1', 100);
    memcpy(in + 102, "mok", 4);
    char *out = ad_cli_term_clean(in, true);
    assert_string_equal(out, "ok");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strips_every_sequence),
        cmocka_unit_test(keeps_colours_when_asked),
        cmocka_unit_test(any_cut_gives_the_same),
        cmocka_unit_test(a_long_csi_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
