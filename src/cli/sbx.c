/* SPDX-License-Identifier: MIT */
/*
 * `agentd sandbox check [-- COMMAND...]`: the daemon tries COMMAND in an
 * agent's sandbox the way an agent runs it (POST /api/requirements/sandbox:
 * resolved on the agent's PATH, its toolchain shown, the agent's env), and
 * this prints what it resolved to, what the sandbox showed, whether it
 * started and what it printed; without a command, each agent CLI's line of
 * GET /api/requirements (does it start in the sandbox). Exit 0 when it
 * ran and exited 0 (every CLI found starts), 1 otherwise.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static void print_indented(const char *text)
{
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        printf("  %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static int command(ad_cli_t *c, int argc, char **argv)
{
    json_t *cmd = json_array();
    for (int i = c->rest; i < argc; i++) {
        json_array_append_new(cmd, json_string(argv[i]));
    }
    json_t *body = json_pack("{s:o}", "command", cmd);
    int rc = 0;
    json_t *j = ad_cli_call(c, "POST", "/api/requirements/sandbox", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    bool ok = json_is_true(json_object_get(j, "ok"));
    if (c->json) {
        ad_cli_print_json(j);
        json_decref(j);
        return ok ? 0 : 1;
    }
    printf("program:  %s\n", str(j, "program")[0] != '\0' ? str(j, "program") : "(not found)");
    printf("PATH:     %s\n", str(j, "agentPath"));
    printf("shown (besides the system, /usr /etc /bin /lib, read-only):\n");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(j, "shown"), i, b)
    {
        const char *from = str(b, "from");
        printf("  %-10s %s%s%s\n", str(b, "mode"), str(b, "at"), from[0] != '\0' ? "  <- " : "",
               from);
    }
    json_t *code = json_object_get(j, "exitCode");
    if (json_is_integer(code)) {
        printf("started:  %s, exit %lld\n",
               json_is_true(json_object_get(j, "started")) ? "yes" : "no",
               (long long)json_integer_value(code));
    } else {
        printf("started:  no\n");
    }
    if (str(j, "error")[0] != '\0') {
        printf("error:    %s\n", str(j, "error"));
    }
    if (str(j, "output")[0] != '\0') {
        printf("output:\n");
        print_indented(str(j, "output"));
    }
    printf("%s\n", ok ? "ok: it runs in the sandbox as an agent would run it"
                      : "not ok: an agent running it would fail the same way (a path it needs "
                        "can be shown with --sandbox-paths or the agent's sandbox paths)");
    json_decref(j);
    return ok ? 0 : 1;
}

static int check(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    c->allow_rest = true;
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    if (c->rest < argc) {
        return command(c, argc, argv);
    }
    json_t *j = ad_cli_call(c, "GET", "/api/requirements?refresh=true", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    bool ok = true;
    size_t i;
    json_t *it, *lines = json_array();
    json_array_foreach(json_object_get(j, "items"), i, it)
    {
        const char *id = str(it, "id");
        size_t n = strlen(id);
        if (strcmp(id, "sandbox") != 0 && (n < 8 || strcmp(id + n - 8, "-sandbox") != 0)) {
            continue;
        }
        json_array_append(lines, it);
        ok = ok && strcmp(str(it, "status"), "ok") == 0;
    }
    if (c->json) {
        ad_cli_print_json(lines);
    } else {
        json_array_foreach(lines, i, it)
        {
            bool good = strcmp(str(it, "status"), "ok") == 0;
            printf("%s %s: %s\n", good ? "ok  " : "FAIL", str(it, "name"), str(it, "value"));
            if (!good && str(it, "fix")[0] != '\0') {
                printf("     %s\n", str(it, "fix"));
            }
        }
    }
    json_decref(lines);
    json_decref(j);
    return ok ? 0 : 1;
}

int ad_cli_sandbox(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"check", check}};
    return ad_cli_subcommand(c, "sandbox", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd sandbox check [-- COMMAND...] (agentd sandbox --help)",
                             argc, argv);
}
