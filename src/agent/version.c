/* SPDX-License-Identifier: MIT */
/*
 * CLI versions: reading the version out of a CLI's `--version` line, and
 * the versions each executor's flags and parser were tested with. A run
 * keeps its CLI's version; one outside this table is run anyway, with a
 * notice that says what may not work (src/run/version.c).
 */
#include "agent/agent_int.h"

#include <stdio.h>
#include <string.h>

/* Tested major.minor per executor (patch releases are taken as
 * compatible). Update with the pinned versions in tests/e2e/package.json
 * and the transcripts in tests/fixtures/transcripts. */
static const struct {
    ad_executor_t exec;
    const char *cli;
    const char *tested; /* "MAJOR.MINOR." */
} tested[] = {
    {AD_EXEC_CLAUDE, "Claude Code", "2.1."},
    {AD_EXEC_CODEX, "Codex CLI", "0.169."},
    {AD_EXEC_GEMINI, "Gemini CLI", "0.61."},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int ad_cli_version_parse(const char *line, char *out, size_t outsz)
{
    if (outsz > 0) {
        out[0] = '\0';
    }
    for (const char *p = line; p != NULL && *p != '\0'; p++) {
        if (!is_digit(*p) || (p > line && (is_digit(p[-1]) || p[-1] == '.'))) {
            continue;
        }
        size_t n = 0;
        bool dot = false;
        while (is_digit(p[n]) || (p[n] == '.' && is_digit(p[n + 1]))) {
            dot = dot || p[n] == '.';
            n++;
        }
        if (dot && n < outsz) {
            memcpy(out, p, n);
            out[n] = '\0';
            return 0;
        }
    }
    return AD_ENOENT;
}

bool ad_cli_version_known(ad_executor_t e, const char *version, char *known_out, size_t knownsz)
{
    if (known_out != NULL && knownsz > 0) {
        known_out[0] = '\0';
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(tested); i++) {
        if (tested[i].exec != e) {
            continue;
        }
        if (known_out != NULL) {
            snprintf(known_out, knownsz, "%sx", tested[i].tested);
        }
        return version != NULL && strncmp(version, tested[i].tested, strlen(tested[i].tested)) == 0;
    }
    return true;
}

void ad_cli_version_warning(ad_executor_t e, const char *version, char *out, size_t outsz)
{
    char known[32];
    ad_cli_version_known(e, version, known, sizeof(known));
    const char *cli = ad_executor_name(e);
    for (size_t i = 0; i < AD_ARRAY_LEN(tested); i++) {
        if (tested[i].exec == e) {
            cli = tested[i].cli;
        }
    }
    if (version == NULL || version[0] == '\0') {
        snprintf(out, outsz,
                 "[agentd: the %s version could not be read (`--version` printed none); agentd "
                 "was tested with %s, and its flags or output may differ]",
                 cli, known);
        return;
    }
    snprintf(out, outsz,
             "[agentd: %s %s is not a version agentd was tested with (%s): it runs anyway, but "
             "flags it refuses or output agentd does not understand may follow; output it cannot "
             "read is shown as plain text]",
             cli, version, known);
}

/* The next number of a dotted version, moving *s past it and its dot. */
static long version_part(const char **s)
{
    long v = 0;
    while (**s >= '0' && **s <= '9' && v < 1000000) {
        v = v * 10 + (**s - '0');
        (*s)++;
    }
    if (**s == '.') {
        (*s)++;
    }
    return v;
}

bool ad_cli_version_at_least(const char *version, const char *min)
{
    if (version == NULL || version[0] < '0' || version[0] > '9') {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        long a = version_part(&version), b = version_part(&min);
        if (a != b) {
            return a > b;
        }
    }
    return true;
}
