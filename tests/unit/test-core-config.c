/* SPDX-License-Identifier: MIT */
/* Tests for configuration: defaults, environment, flags, and bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/core.h"

static int setup(void **state)
{
    AD_UNUSED(state);
    unsetenv("AGENTD_LISTEN");
    unsetenv("AGENTD_DATA_DIR");
    unsetenv("AGENTD_MAX_BODY_BYTES");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/u", 1);
    return 0;
}

static void defaults(void **state)
{
    AD_UNUSED(state);
    ad_config_t c;
    char err[256];
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8765);
    assert_string_equal(c.data_dir, "/home/u/.local/share/agentd");
    assert_int_equal(c.log_level, AD_LOG_INFO);
    assert_false(c.durability_full);
    assert_int_equal(c.max_body_bytes, 1048576);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/xdg/agentd");
}

static void flags_win_over_env(void **state)
{
    AD_UNUSED(state);
    ad_config_t c;
    char err[256];
    setenv("AGENTD_LISTEN", "0.0.0.0:9000", 1);
    setenv("AGENTD_MAX_BODY_BYTES", "2048", 1);
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(c.max_body_bytes, 2048);
    char *argv[] = {"--listen", "[::1]:0", "--data-dir=/d", "--durability", "full", "rest", "x"};
    int rest;
    assert_int_equal(ad_config_parse_args(&c, 7, argv, &rest, err, sizeof(err)), 0);
    assert_int_equal(rest, 5);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 0);
    assert_string_equal(c.data_dir, "/d");
    assert_true(c.durability_full);
}

static void bad_values_name_the_option(void **state)
{
    AD_UNUSED(state);
    ad_config_t c;
    char err[256];
    int rest;
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), 0);
    char *a1[] = {"--listen", "nohost"};
    assert_int_equal(ad_config_parse_args(&c, 2, a1, &rest, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "--listen"));
    char *a2[] = {"--listen=1.2.3.4:70000"};
    assert_int_equal(ad_config_parse_args(&c, 1, a2, &rest, err, sizeof(err)), AD_EINVAL);
    char *a3[] = {"--bogus"};
    assert_int_equal(ad_config_parse_args(&c, 1, a3, &rest, err, sizeof(err)), AD_EINVAL);
    assert_string_equal(err, "unknown option '--bogus'");
    char *a4[] = {"--max-body-bytes", "-5"};
    assert_int_equal(ad_config_parse_args(&c, 2, a4, &rest, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "whole number"));
    char *a5[] = {"--log-level"};
    assert_int_equal(ad_config_parse_args(&c, 1, a5, &rest, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "needs a value"));
    char *a6[] = {"-x"};
    assert_int_equal(ad_config_parse_args(&c, 1, a6, &rest, err, sizeof(err)), AD_EINVAL);
    char *a7[] = {"--listen=::1:80"};
    assert_int_equal(ad_config_parse_args(&c, 1, a7, &rest, err, sizeof(err)), AD_EINVAL);
    char *a8[] = {"--help"};
    assert_int_equal(ad_config_parse_args(&c, 1, a8, &rest, err, sizeof(err)), 1);
    char *a9[] = {"--version"};
    assert_int_equal(ad_config_parse_args(&c, 1, a9, &rest, err, sizeof(err)), 2);

    setenv("AGENTD_MAX_BODY_BYTES", "lots", 1);
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "AGENTD_MAX_BODY_BYTES='lots'"));
    unsetenv("AGENTD_MAX_BODY_BYTES");
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    setenv("AGENTD_DATA_DIR", big, 1);
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), AD_EINVAL);
    unsetenv("AGENTD_DATA_DIR");
}

/* The variables read with getenv() where they are used are listed by
 * --help like every option, without becoming flags or being checked here. */
static void help_lists_env_only_settings(void **state)
{
    AD_UNUSED(state);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ad_config_print_help(f);
    assert_int_equal(fclose(f), 0);
    static const char *const names[] = {
        "AGENTD_LLM_RPM=N",    "AGENTD_LLM_ITPM=N",      "AGENTD_LLM_OTPM=N",
        "AGENTD_LLM_QUEUE=N",  "AGENTD_LLM_STALL_MS=MS", "AGENTD_CREDENTIALS=file",
        "AGENTD_GIT_LIB=PATH", "ANTHROPIC_BASE_URL=URL", "OPENAI_BASE_URL=URL"};
    for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
        assert_non_null(strstr(text, names[i]));
    }
    assert_non_null(strstr(text, "[environment only; default 50]"));
    assert_non_null(strstr(text, "[environment only; default 60000]"));
    assert_non_null(strstr(text, "[AGENTD_LISTEN; default 127.0.0.1:8765]"));
    free(text);

    ad_config_t c;
    char err[256];
    setenv("AGENTD_LLM_RPM", "lots", 1); /* its user falls back to 50, as before */
    setenv("AGENTD_GIT_LIB", "/nowhere/agentd-git.so", 1);
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), 0);
    unsetenv("AGENTD_LLM_RPM");
    unsetenv("AGENTD_GIT_LIB");
    int rest;
    char *a1[] = {"--llm-rpm=5"};
    assert_int_equal(ad_config_parse_args(&c, 1, a1, &rest, err, sizeof(err)), AD_EINVAL);
    assert_string_equal(err, "unknown option '--llm-rpm'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults, setup),
        cmocka_unit_test_setup(flags_win_over_env, setup),
        cmocka_unit_test_setup(bad_values_name_the_option, setup),
        cmocka_unit_test_setup(help_lists_env_only_settings, setup),
    };
    return cmocka_run_group_tests_name("core-config", tests, NULL, NULL);
}
