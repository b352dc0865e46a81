/* SPDX-License-Identifier: MIT */
/* Tests for the executors: argv, env and stdin for every executor, mode,
 * permission and resume combination; codex's provider and -c settings as
 * TOML; base URLs; PATH lookup and the refusal of a missing executable; the
 * claude stream-json user line; CLI versions and model prices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/exec.c"

static char bindir[256];
static ad_config_t cfg;

static void make_exe(const char *dir, const char *name, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    AD_UNUSED(state);
    snprintf(bindir, sizeof(bindir), "/tmp/agentd-exec-test-XXXXXX");
    assert_non_null(mkdtemp(bindir));
    make_exe(bindir, "claude", 0755);
    make_exe(bindir, "codex", 0755);
    make_exe(bindir, "gemini", 0755);
    make_exe(bindir, "notexec", 0644);
    char err[256];
    assert_int_equal(ad_config_load_env(&cfg, err, sizeof(err)), 0);
    return 0;
}

static int teardown(void **state)
{
    AD_UNUSED(state);
    const char *names[] = {"claude", "codex", "gemini", "notexec"};
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", bindir, names[i]);
        unlink(path);
    }
    rmdir(bindir);
    return 0;
}

/* The argv after argv[0], joined with single spaces. */
static void args_of(const ad_launch_t *l, char *out, size_t outsz)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 1; i < l->argc; i++) {
        int n = snprintf(out + off, outsz - off, "%s%s", i > 1 ? " " : "", l->argv[i]);
        assert_true(n > 0 && (size_t)n < outsz - off);
        off += (size_t)n;
    }
    assert_null(l->argv[l->argc]);
}

static void build_ok(const ad_agent_spec_t *spec, bool root, ad_launch_t *l)
{
    char err[256];
    int rc = launch_build(spec, &cfg, bindir, root, l, err, sizeof(err));
    if (rc != 0) {
        fail_msg("launch_build: %s", err);
    }
}

static void claude_modes_permissions_resume_model(void **state)
{
    AD_UNUSED(state);
    char args[2048], want_bin[512];
    ad_launch_t l;
    snprintf(want_bin, sizeof(want_bin), "%s/claude", bindir);

    ad_agent_spec_t s = {.executor = AD_EXEC_CLAUDE, .mode = AD_MODE_REGULAR};
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(l.argv[0], want_bin);
    /* regular mode: permission prompts come to agentd over stdio */
    assert_string_equal(args,
                        "-p --output-format stream-json --input-format stream-json "
                        "--verbose --include-partial-messages --permission-prompt-tool stdio");
    assert_int_equal(l.nenv, 0);
    assert_null(l.env[0]);
    assert_null(l.stdin_data);
    assert_true(l.interactive);
    assert_int_equal(l.stop_signal, SIGINT);
    ad_launch_cleanup(&l);

    s.mode = AD_MODE_PLAN;
    build_ok(&s, true, &l);
    args_of(&l, args, sizeof(args));
    assert_non_null(strstr(args, "--include-partial-messages --permission-mode plan"));
    assert_null(strstr(args, "--permission-prompt-tool"));
    assert_int_equal(l.nenv, 0);
    ad_launch_cleanup(&l);

    /* a fork's first run resumes into a new session */
    s.session_id = "0b6c6f0e-1111-4c3e-9d7a-000000000001";
    s.fork_session = true;
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    assert_non_null(strstr(args, " --resume 0b6c6f0e-1111-4c3e-9d7a-000000000001 --fork-session"));
    ad_launch_cleanup(&l);
    s.fork_session = false;
    s.session_id = NULL;

    /* auto as root: refused unless allow_root_auto; then IS_SANDBOX=1 */
    s.mode = AD_MODE_AUTO;
    {
        char why[512] = "";
        assert_int_equal(launch_build(&s, &cfg, bindir, true, &l, why, sizeof(why)), AD_EPERM);
        assert_non_null(strstr(why, "allow_root_auto"));
        assert_null(l.argv);
    }
    s.allow_root_auto = true;
    build_ok(&s, true, &l);
    args_of(&l, args, sizeof(args));
    assert_non_null(strstr(args, " --dangerously-skip-permissions"));
    assert_null(strstr(args, "--permission-mode"));
    assert_int_equal(l.nenv, 1);
    assert_string_equal(l.env[0], "IS_SANDBOX=1");
    ad_launch_cleanup(&l);
    build_ok(&s, false, &l);
    assert_int_equal(l.nenv, 0);
    ad_launch_cleanup(&l);

    const char *perms[] = {"Bash", "Read", "Bash(git log *)"};
    ad_agent_spec_t full = {.executor = AD_EXEC_CLAUDE,
                            .mode = AD_MODE_REGULAR,
                            .permissions = perms,
                            .npermissions = 3,
                            .session_id = "b81da81e-cd58-47e7-993e-5744848c20e7",
                            .model = "sonnet",
                            .prompt = "say \"hi\"\n"};
    build_ok(&full, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(args, "-p --output-format stream-json --input-format stream-json "
                              "--verbose --include-partial-messages --permission-prompt-tool "
                              "stdio --allowedTools "
                              "Bash,Read,Bash(git log *) --model sonnet --resume "
                              "b81da81e-cd58-47e7-993e-5744848c20e7");
    /* The prompt is the first stdin line, never an argument. */
    assert_string_equal(
        l.stdin_data, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"say "
                      "\\\"hi\\\"\\n\"},\"parent_tool_use_id\":null,\"session_id\":\"default\"}\n");
    assert_int_equal(l.stdin_len, strlen(l.stdin_data));
    ad_launch_cleanup(&l);
}

/* Flags of the Codex 0.169 and Gemini CLI 0.61 that the e2e tests run for
 * real (tests/e2e/runs-codex.test.js, runs-gemini.test.js). */
static void codex_argv_per_mode_and_resume(void **state)
{
    AD_UNUSED(state);
    char args[2048];
    ad_launch_t l;
    /* a CLI older than app-server (AD_CODEX_APP_MIN): exec --json */
    ad_agent_spec_t s = {
        .executor = AD_EXEC_CODEX, .prompt = "list files", .cli_version = "0.168.2"};
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    /* --full-auto is gone from 0.169: regular is the workspace-write sandbox */
    assert_string_equal(args, "exec --json --sandbox workspace-write -");
    assert_false(l.interactive);
    assert_true(l.one_shot);
    assert_true(l.probe_version);
    /* the prompt goes to stdin, which is then closed: codex never waits */
    assert_int_equal(l.stdin_len, strlen("list files"));
    assert_memory_equal(l.stdin_data, "list files", l.stdin_len);
    assert_int_equal(l.stop_signal, SIGINT);
    ad_launch_cleanup(&l);

    s.mode = AD_MODE_PLAN;
    s.model = "gpt-5.5";
    s.session_id = "01a2042c-94c0-7ed2-81eb-5feb7068cb11";
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    /* exec's own flags go before `resume`, which takes only a few */
    assert_string_equal(args, "exec --json --model gpt-5.5 --sandbox read-only resume "
                              "01a2042c-94c0-7ed2-81eb-5feb7068cb11 -");
    ad_launch_cleanup(&l);

    s.mode = AD_MODE_AUTO;
    s.session_id = NULL;
    s.model = NULL;
    s.prompt = "-rf is a flag";
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(args, "exec --json --dangerously-bypass-approvals-and-sandbox -");
    assert_memory_equal(l.stdin_data, "-rf is a flag", l.stdin_len);
    ad_launch_cleanup(&l);

    /* no prompt: nothing for one turn to do */
    ad_agent_spec_t none = {.executor = AD_EXEC_CODEX, .cli_version = "0.100.0"};
    char err[256];
    assert_int_equal(launch_build(&none, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "needs a prompt"));
}

/* 0.169 and later, or a version not known yet: one `codex app-server` per
 * run, interactive, its lines written by the run (appserver.c). */
static void codex_app_server_launch(void **state)
{
    AD_UNUSED(state);
    char args[2048];
    ad_launch_t l;
    const char *versions[] = {NULL, "0.169.0", "0.170.1", "1.0.0"};
    for (size_t i = 0; i < AD_ARRAY_LEN(versions); i++) {
        ad_agent_spec_t s = {.executor = AD_EXEC_CODEX,
                             .cli_version = versions[i],
                             .mode = AD_MODE_PLAN,
                             .model = "gpt-5.5",
                             .session_id = "01a2042c-94c0-7ed2-81eb-5feb7068cb11"};
        build_ok(&s, false, &l);
        args_of(&l, args, sizeof(args));
        assert_string_equal(args, "app-server"); /* mode, model, thread: in the JSON-RPC lines */
        assert_true(l.rpc);
        assert_true(l.interactive);
        assert_false(l.one_shot);
        assert_true(l.probe_version);
        assert_null(l.stdin_data);
        ad_launch_cleanup(&l);
    }
    assert_true(ad_cli_version_at_least("0.169.0", AD_CODEX_APP_MIN));
    assert_false(ad_cli_version_at_least("0.168.9", AD_CODEX_APP_MIN));
    assert_false(ad_cli_version_at_least("0.99.0", AD_CODEX_APP_MIN));
    assert_true(ad_cli_version_at_least("0.1000.0", AD_CODEX_APP_MIN));
    assert_false(ad_cli_version_at_least("?", AD_CODEX_APP_MIN));
}

static void codex_provider_and_config(void **state)
{
    AD_UNUSED(state);
    char args[4096];
    ad_launch_t l;
    json_t *cfgj = json_loads("{\"model_providers.agentd.request_max_retries\":0,"
                              "\"shell_environment_policy\":{\"inherit\":\"all\",\"set\":{\"A B\":"
                              "\"x\\\"y\"}},\"tools.web_search\":true,\"x\":[1,2.5,\"s\"],"
                              "\"f\":2.0}",
                              JSON_PRESERVE_ORDER, NULL);
    assert_non_null(cfgj);
    ad_agent_spec_t s = {.executor = AD_EXEC_CODEX,
                         .prompt = "hi",
                         .cli_version = "0.168.0",
                         .base_url = "http://127.0.0.1:9/v1",
                         .codex_config = cfgj};
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(
        args, "exec --json -c model_providers.agentd={name=\"agentd\",base_url=\"http://"
              "127.0.0.1:9/v1\",wire_api=\"responses\",env_key=\"OPENAI_API_KEY\","
              "supports_websockets=false} -c model_provider=agentd -c "
              "model_providers.agentd.request_max_retries=0 -c "
              "shell_environment_policy={inherit=\"all\",set={\"A B\"=\"x\\\"y\"}} -c "
              "tools.web_search=true -c x=[1,2.5,\"s\"] -c f=2.0 --sandbox workspace-write -");
    ad_launch_cleanup(&l);
    char err[256];
    assert_int_equal(ad_codex_config_check(cfgj, err, sizeof(err)), 0);
    json_decref(cfgj);

    /* TOML has no null; keys are dotted names */
    const char *bad[] = {"{\"a\":null}", "{\"-c\":1}", "{\"a b\":1}", "{\"a.\":1}", "[1]"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        assert_int_equal(ad_codex_config_check(b, err, sizeof(err)), AD_EINVAL);
        s.codex_config = b;
        assert_int_equal(launch_build(&s, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
        assert_null(l.argv);
        json_decref(b);
    }
    /* nesting is bounded */
    json_t *deep = json_integer(1);
    for (int i = 0; i < 20; i++) {
        deep = json_pack("{s:o}", "k", deep);
    }
    json_t *top = json_pack("{s:o}", "d", deep);
    assert_int_equal(ad_codex_config_check(top, err, sizeof(err)), AD_EINVAL);
    json_decref(top);
}

static void gemini_argv_per_mode_and_resume(void **state)
{
    AD_UNUSED(state);
    char args[2048];
    ad_launch_t l;
    ad_agent_spec_t g = {.executor = AD_EXEC_GEMINI, .prompt = "List files"};
    build_ok(&g, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(
        args, "--output-format stream-json --skip-trust --approval-mode auto_edit --prompt=");
    assert_memory_equal(l.stdin_data, "List files", l.stdin_len);
    assert_true(l.one_shot);
    /* one process per run: the CLI does not start itself again */
    assert_int_equal(l.nenv, 1);
    assert_string_equal(l.env[0], "GEMINI_CLI_NO_RELAUNCH=true");
    ad_launch_cleanup(&l);
    g.mode = AD_MODE_AUTO;
    g.model = "gemini-2.5-pro";
    g.session_id = "2583a972-9e55-40f2-b2a1-020ee8b5e1d8";
    g.base_url = "http://127.0.0.1:9";
    build_ok(&g, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(args, "--output-format stream-json --skip-trust --approval-mode yolo "
                              "--model gemini-2.5-pro --resume "
                              "2583a972-9e55-40f2-b2a1-020ee8b5e1d8 --prompt=");
    assert_int_equal(l.nenv, 2);
    assert_string_equal(l.env[0], "GEMINI_CLI_NO_RELAUNCH=true");
    assert_string_equal(l.env[1], "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:9");
    ad_launch_cleanup(&l);
    g.mode = AD_MODE_PLAN;
    build_ok(&g, false, &l);
    args_of(&l, args, sizeof(args));
    assert_non_null(strstr(args, "--approval-mode plan"));
    ad_launch_cleanup(&l);

    /* the ACP preset runs the same CLI: the same environment */
    ad_agent_spec_t a = {.executor = AD_EXEC_ACP, .acp_agent = "gemini", .base_url = g.base_url};
    build_ok(&a, false, &l);
    args_of(&l, args, sizeof(args));
    assert_string_equal(args, "--acp --skip-trust --approval-mode default");
    assert_int_equal(l.nenv, 2);
    assert_string_equal(l.env[0], "GEMINI_CLI_NO_RELAUNCH=true");
    assert_string_equal(l.env[1], "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:9");
    ad_launch_cleanup(&l);

    /* claude gets the base URL in its own variable */
    ad_agent_spec_t c = {.executor = AD_EXEC_CLAUDE, .base_url = "https://proxy.example/"};
    build_ok(&c, false, &l);
    assert_int_equal(l.nenv, 1);
    assert_string_equal(l.env[0], "ANTHROPIC_BASE_URL=https://proxy.example/");
    assert_false(l.one_shot);
    assert_false(l.probe_version);
    ad_launch_cleanup(&l);
    char err[256];
    const char *bad[] = {"ftp://x", "http://a b", "http://a\n", "javascript:x"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        c.base_url = bad[i];
        assert_int_equal(launch_build(&c, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
        assert_non_null(strstr(err, "base URL"));
    }
}

static void versions_parse_and_check(void **state)
{
    AD_UNUSED(state);
    char v[64], known[32], text[512];
    assert_int_equal(ad_cli_version_parse("codex-cli 0.169.0", v, sizeof(v)), 0);
    assert_string_equal(v, "0.169.0");
    assert_int_equal(ad_cli_version_parse("0.61.0\n", v, sizeof(v)), 0);
    assert_string_equal(v, "0.61.0");
    assert_int_equal(ad_cli_version_parse("2.1.330 (Claude Code)", v, sizeof(v)), 0);
    assert_string_equal(v, "2.1.330");
    assert_int_equal(ad_cli_version_parse("v1.2.3-beta", v, sizeof(v)), 0);
    assert_string_equal(v, "1.2.3");
    assert_int_equal(ad_cli_version_parse("build 7 of 2024", v, sizeof(v)), AD_ENOENT);
    assert_string_equal(v, "");
    assert_int_equal(ad_cli_version_parse("1.2", v, 3), AD_ENOENT); /* too long for out */

    assert_true(ad_cli_version_known(AD_EXEC_CODEX, "0.169.0", known, sizeof(known)));
    assert_string_equal(known, "0.169.x");
    assert_true(ad_cli_version_known(AD_EXEC_CODEX, "0.169.4", NULL, 0));
    assert_false(ad_cli_version_known(AD_EXEC_CODEX, "0.170.0", NULL, 0));
    assert_false(ad_cli_version_known(AD_EXEC_CODEX, "0.16.9", NULL, 0));
    assert_true(ad_cli_version_known(AD_EXEC_GEMINI, "0.61.0", NULL, 0));
    assert_false(ad_cli_version_known(AD_EXEC_GEMINI, "", NULL, 0));
    assert_true(ad_cli_version_known(AD_EXEC_CLAUDE, "2.1.330", NULL, 0));
    assert_true(ad_cli_version_known(AD_EXEC_COMMAND, NULL, NULL, 0));
    ad_cli_version_warning(AD_EXEC_CODEX, "0.200.1", text, sizeof(text));
    assert_non_null(strstr(text, "Codex CLI 0.200.1 is not a version agentd was tested with "
                                 "(0.169.x)"));
    ad_cli_version_warning(AD_EXEC_GEMINI, "", text, sizeof(text));
    assert_non_null(strstr(text, "Gemini CLI version could not be read"));
}

static void prices_validate_and_look_up(void **state)
{
    AD_UNUSED(state);
    const char *why = NULL;
    json_t *p = json_loads("{\"gpt-5.5\":{\"input\":1.25,\"output\":10,\"cachedInput\":0.125},"
                           "\"gemini-*\":{\"input\":0.3,\"output\":2.5},"
                           "\"gemini-3.8-*\":{\"input\":1,\"output\":4,\"cacheWrite\":2}}",
                           0, NULL);
    assert_int_equal(ad_prices_validate(p, &why), 0);
    ad_price_t pr;
    assert_true(ad_price_lookup(p, "gpt-5.5", &pr));
    assert_true(pr.input == 1.25 && pr.output == 10 && pr.cached_input == 0.125);
    assert_true(pr.cache_write == 1.25);                      /* defaults to the input price */
    assert_false(ad_price_lookup(p, "acme-5.5-mini", &pr));   /* neither set nor built in */
    assert_false(ad_price_lookup(p, "gemini", &pr));          /* a prefix needs its stem */
    assert_true(ad_price_lookup(p, "gemini-3.8-flash", &pr)); /* the longest prefix wins */
    assert_true(pr.input == 1 && pr.cache_write == 2);
    assert_true(ad_price_lookup(p, "gemini-3.5-flash-lite", &pr));
    assert_true(pr.input == 0.3 && pr.cached_input == 0.3);
    assert_false(ad_price_lookup(p, NULL, &pr));
    assert_false(ad_price_lookup(NULL, "acme-5.5", &pr));
    assert_true(ad_price_lookup(NULL, "gpt-5.5", &pr)); /* built in (test-agent-price.c) */
    json_decref(p);
    const char *bad[] = {"[]",
                         "{\"m\":1}",
                         "{\"m\":{\"input\":1}}",
                         "{\"m\":{\"input\":1,\"output\":-1}}",
                         "{\"m\":{\"input\":1,\"output\":2,\"extra\":3}}",
                         "{\"m\":{\"input\":1,\"output\":\"2\"}}",
                         "{\"\":{\"input\":1,\"output\":2}}",
                         "{\"*\":{\"input\":1,\"output\":2}}",
                         "{\"m\":{\"input\":1,\"output\":2000000}}"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        assert_int_equal(ad_prices_validate(b, &why), AD_EINVAL);
        assert_non_null(why);
        json_decref(b);
    }
}

static void command_argv_as_given(void **state)
{
    AD_UNUSED(state);
    ad_launch_t l;
    const char *cmd[] = {"sh", "-c", "echo '{\"type\":\"metric\"}'"};
    ad_agent_spec_t s = {.executor = AD_EXEC_COMMAND, .command = cmd, .ncommand = 3};
    char err[256];
    assert_int_equal(launch_build(&s, &cfg, "/usr/bin:/bin", false, &l, err, sizeof(err)), 0);
    assert_int_equal(l.argc, 3);
    assert_true(strcmp(l.argv[0], "/usr/bin/sh") == 0 || strcmp(l.argv[0], "/bin/sh") == 0);
    assert_string_equal(l.argv[1], "-c");
    assert_string_equal(l.argv[2], cmd[2]);
    assert_false(l.interactive);
    assert_int_equal(l.stop_signal, SIGTERM);
    ad_launch_cleanup(&l);

    ad_agent_spec_t none = {.executor = AD_EXEC_COMMAND};
    assert_int_equal(launch_build(&none, &cfg, "/bin", false, &l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "needs a command"));
    assert_null(l.argv);
    ad_launch_cleanup(&l); /* safe on an empty launch */
}

static void missing_executable_is_refused_clearly(void **state)
{
    AD_UNUSED(state);
    ad_launch_t l;
    char err[256];
    ad_agent_spec_t s = {.executor = AD_EXEC_CLAUDE, .prompt = "hi"};
    /* not on this PATH */
    assert_int_equal(launch_build(&s, &cfg, "/nonexistent-dir", false, &l, err, sizeof(err)),
                     AD_ENOENT);
    assert_non_null(strstr(err, "executable for claude agents not found: claude"));
    assert_non_null(strstr(err, "AGENTD_CLAUDE_BIN"));
    assert_null(l.argv);
    assert_null(l.stdin_data);

    /* configured to a path that is not executable */
    ad_config_t c2 = cfg;
    snprintf(c2.codex_bin, sizeof(c2.codex_bin), "%s/notexec", bindir);
    ad_agent_spec_t cx = {.executor = AD_EXEC_CODEX, .prompt = "hi"};
    assert_int_equal(launch_build(&cx, &c2, bindir, false, &l, err, sizeof(err)), AD_ENOENT);
    assert_non_null(strstr(err, "AGENTD_CODEX_BIN"));

    /* configured to an absolute path that exists */
    snprintf(c2.gemini_bin, sizeof(c2.gemini_bin), "%s/claude", bindir);
    ad_agent_spec_t gm = {.executor = AD_EXEC_GEMINI, .prompt = "hi"};
    assert_int_equal(launch_build(&gm, &c2, "/nonexistent-dir", false, &l, err, sizeof(err)), 0);
    assert_string_equal(l.argv[0], c2.gemini_bin);
    ad_launch_cleanup(&l);

    const char *cmd[] = {"no-such-program-xyz"};
    ad_agent_spec_t c = {.executor = AD_EXEC_COMMAND, .command = cmd, .ncommand = 1};
    assert_int_equal(launch_build(&c, &cfg, bindir, false, &l, err, sizeof(err)), AD_ENOENT);
    assert_string_equal(err, "executable not found: no-such-program-xyz");
}

static void bad_values_are_refused(void **state)
{
    AD_UNUSED(state);
    ad_launch_t l;
    char err[256];
    ad_agent_spec_t s = {.executor = AD_EXEC_CLAUDE,
                         .session_id = "--dangerously-skip-permissions"};
    assert_int_equal(launch_build(&s, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "session id"));
    s.session_id = NULL;
    s.model = "-x";
    assert_int_equal(launch_build(&s, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
    const char *perms[] = {"Bash", ""};
    ad_agent_spec_t p = {.executor = AD_EXEC_CLAUDE, .permissions = perms, .npermissions = 2};
    assert_int_equal(launch_build(&p, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "permission 1"));
    ad_agent_spec_t u = {.executor = AD_EXEC_CLAUDE, .prompt = "bad \xff utf8"};
    assert_int_equal(launch_build(&u, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
    assert_null(l.argv);
    ad_agent_spec_t k = {.executor = (ad_executor_t)42};
    assert_int_equal(launch_build(&k, &cfg, bindir, false, &l, err, sizeof(err)), AD_EINVAL);
}

static void resolve_follows_path_rules(void **state)
{
    AD_UNUSED(state);
    char out[512], want[512];
    snprintf(want, sizeof(want), "%s/codex", bindir);
    char path[1024];
    snprintf(path, sizeof(path), "/nonexistent:%s:/bin", bindir);
    assert_int_equal(ad_executable_resolve("codex", path, out, sizeof(out)), 0);
    assert_string_equal(out, want);
    assert_int_equal(ad_executable_resolve("notexec", path, out, sizeof(out)), AD_ENOENT);
    assert_int_equal(ad_executable_resolve("", path, out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_executable_resolve(bindir, path, out, sizeof(out)), AD_ENOENT);
    assert_int_equal(ad_executable_resolve("codex", path, out, 4), AD_ETOOBIG);
    /* a relative path with a slash is made absolute */
    assert_int_equal(chdir(bindir), 0);
    assert_int_equal(ad_executable_resolve("./gemini", "", out, sizeof(out)), 0);
    assert_int_equal(out[0], '/');
    assert_non_null(strstr(out, "gemini"));
    /* an empty PATH entry is the current directory */
    assert_int_equal(ad_executable_resolve("claude", "/nonexistent::", out, sizeof(out)), 0);
    assert_int_equal(out[0], '/');
}

static void names_parse_both_ways(void **state)
{
    AD_UNUSED(state);
    ad_executor_t e;
    ad_agent_mode_t m;
    const char *ex[] = {"claude", "codex", "gemini", "command"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ad_executor_parse(ex[i], &e), 0);
        assert_string_equal(ad_executor_name(e), ex[i]);
    }
    assert_int_equal(ad_executor_parse("Claude", &e), AD_EINVAL);
    assert_int_equal(ad_executor_parse(NULL, &e), AD_EINVAL);
    const char *md[] = {"regular", "plan", "auto"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ad_agent_mode_parse(md[i], &m), 0);
        assert_string_equal(ad_agent_mode_name(m), md[i]);
    }
    assert_int_equal(ad_agent_mode_parse("", &m), 0);
    assert_int_equal(m, AD_MODE_REGULAR);
    assert_int_equal(ad_agent_mode_parse("yolo", &m), AD_EINVAL);
    assert_string_equal(ad_executor_bin(&cfg, AD_EXEC_CLAUDE), "claude");
    assert_string_equal(ad_executor_bin(&cfg, AD_EXEC_GEMINI), "gemini");
    assert_null(ad_executor_bin(&cfg, AD_EXEC_COMMAND));
}

static void config_rows_for_executables(void **state)
{
    AD_UNUSED(state);
    ad_config_t c;
    char err[256];
    setenv("AGENTD_CLAUDE_BIN", "/opt/claude/bin/claude", 1);
    assert_int_equal(ad_config_load_env(&c, err, sizeof(err)), 0);
    unsetenv("AGENTD_CLAUDE_BIN");
    assert_string_equal(c.claude_bin, "/opt/claude/bin/claude");
    char *argv[] = {"--codex-bin", "/x/codex", "--gemini-bin=/y/gemini"};
    int rest = 0;
    assert_int_equal(ad_config_parse_args(&c, 3, argv, &rest, err, sizeof(err)), 0);
    assert_string_equal(c.codex_bin, "/x/codex");
    assert_string_equal(c.gemini_bin, "/y/gemini");
}

static void user_line_is_exact(void **state)
{
    AD_UNUSED(state);
    size_t n;
    char *line = ad_claude_user_line("what word was it?", &n);
    assert_string_equal(line, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
                              "\"what word was it?\"},\"parent_tool_use_id\":null,"
                              "\"session_id\":\"default\"}\n");
    assert_int_equal(n, strlen(line));
    /* one line whatever the text holds */
    free(line);
    line = ad_claude_user_line("a\nb\r\n\"c\"\t\u00e9", &n);
    assert_null(memchr(line, '\n', n - 1));
    assert_int_equal(line[n - 1], '\n');
    json_error_t je;
    json_t *j = json_loadb(line, n, 0, &je);
    assert_non_null(j);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "message"), "content")),
        "a\nb\r\n\"c\"\t\u00e9");
    json_decref(j);
    free(line);
    assert_null(ad_claude_user_line("\xc3", &n));
    assert_int_equal(n, 0);
}

/* The seed words map to Claude Code's tools; rules in its own syntax pass;
 * anything else is refused with a reason. */
static void permission_vocabulary(void **state)
{
    AD_UNUSED(state);
    char why[200];
    assert_string_equal(ad_permission_tools("read"), "Read,Glob,Grep");
    assert_string_equal(ad_permission_tools("write"), "Edit,Write,NotebookEdit");
    assert_string_equal(ad_permission_tools("execute"), "Bash");
    assert_string_equal(ad_permission_tools("Bash(git:*)"), "Bash(git:*)");
    const char *good[] = {"read",
                          "write",
                          "execute",
                          "Bash",
                          "Edit",
                          "Bash(git:*)",
                          "Bash(git log *)",
                          "Read(./src/**)",
                          "mcp__agentd__approve",
                          "WebFetch"};
    for (size_t i = 0; i < AD_ARRAY_LEN(good); i++) {
        assert_int_equal(ad_permission_check(good[i], why, sizeof(why)), 0);
    }
    const char *bad[] = {"",         "bash",  "Read ", "Bash(",      "Bash()", "Bash(a,b)",
                         "Bash(x)y", "-Bash", "mcp__", "Bash(a\nb)", "Exec!"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        assert_int_equal(ad_permission_check(bad[i], why, sizeof(why)), AD_EINVAL);
        assert_true(why[0] != '\0');
    }
    ad_agent_spec_t s = {.executor = AD_EXEC_CLAUDE, .mode = AD_MODE_PLAN};
    const char *perms[] = {"read", "execute", "Bash(git:*)"};
    s.permissions = perms;
    s.npermissions = 3;
    ad_launch_t l;
    char args[1024];
    build_ok(&s, false, &l);
    args_of(&l, args, sizeof(args));
    assert_non_null(strstr(args, " --allowedTools Read,Glob,Grep,Bash,Bash(git:*)"));
    ad_launch_cleanup(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude_modes_permissions_resume_model),
        cmocka_unit_test(permission_vocabulary),
        cmocka_unit_test(codex_argv_per_mode_and_resume),
        cmocka_unit_test(codex_provider_and_config),
        cmocka_unit_test(codex_app_server_launch),
        cmocka_unit_test(gemini_argv_per_mode_and_resume),
        cmocka_unit_test(versions_parse_and_check),
        cmocka_unit_test(prices_validate_and_look_up),
        cmocka_unit_test(command_argv_as_given),
        cmocka_unit_test(missing_executable_is_refused_clearly),
        cmocka_unit_test(bad_values_are_refused),
        cmocka_unit_test(resolve_follows_path_rules),
        cmocka_unit_test(names_parse_both_ways),
        cmocka_unit_test(config_rows_for_executables),
        cmocka_unit_test(user_line_is_exact),
    };
    return cmocka_run_group_tests_name("agent-exec", tests, setup, teardown);
}
