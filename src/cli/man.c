/* SPDX-License-Identifier: MIT */
/*
 * The manual pages, as roff: agentd(1) from the option table
 * (src/core/config.c) and the command table's summaries, and one page per
 * command group, agentd-GROUP(1), from each command's own help (table.c).
 * `agentd help --man PAGE` prints one; the build writes them all for the
 * packages. Nothing here is written twice: a new option or command shows
 * up in its page by itself.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* ---- roff text ----------------------------------------------------------------- */

/* n bytes of s as roff text on one output line: backslashes escaped, an
 * option word's hyphens as minus signs (\-), non-ASCII characters as
 * \[uXXXX], and a leading '.' or '\'' kept from being a request. */
static void text(FILE *out, const char *s, size_t n)
{
    bool opt = false;
    if (n > 0 && (s[0] == '.' || s[0] == '\'')) {
        fputs("\\&", out);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool word_start = i == 0 || strchr(" [(|,=/", s[i - 1]) != NULL;
        if (word_start) {
            opt = ch == '-';
        } else if (ch == ' ') {
            opt = false;
        }
        if (ch == '\\') {
            fputs("\\e", out);
        } else if (ch == '-' && opt) {
            fputs("\\-", out);
        } else if (ch >= 0x80) {
            /* one UTF-8 sequence (the help text is ours and valid) */
            unsigned cp = 0;
            size_t len = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
            cp = ch & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
            for (size_t k = 1; k < len && i + k < n; k++) {
                cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
            }
            i += len - 1;
            fprintf(out, "\\[u%04X]", cp);
        } else {
            fputc(ch, out);
        }
    }
    fputc('\n', out);
}

static void text0(FILE *out, const char *s)
{
    text(out, s, strlen(s));
}

/* Every line of a paragraph of help text, as one roff paragraph. */
static void paragraph(FILE *out, const char *s)
{
    for (const char *p = s; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        size_t lead = strspn(p, " ");
        if (n > lead) {
            text(out, p + lead, n - lead);
        }
        p += n + (p[n] == '\n');
    }
}

static void header(FILE *out, const char *name)
{
    char up[64];
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < sizeof(up); i++) {
        up[i] = (char)toupper((unsigned char)name[i]);
    }
    up[i] = '\0';
    fprintf(out,
            ".\\\" Made by 'agentd help --man %s' from agentd's own tables: do not edit.\n"
            ".TH %s 1 \"\" \"agentd %s\" \"agentd manual\"\n",
            name, up, AD_VERSION);
}

/* ---- a command's help ---------------------------------------------------------- */

/* The length of help's usage block: "Usage: agentd ..." and the lines
 * that go on with it. */
static size_t usage_len(const char *help)
{
    const char *p = help;
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        size_t lead = strspn(p, " ");
        bool usage = strncmp(p, "Usage: agentd ", 14) == 0 ||
                     strncmp(p, "       agentd ", 14) == 0 ||
                     (lead > 8 && lead < n && p[lead] == '[');
        if (!usage) {
            break;
        }
        p += n + (p[n] == '\n');
    }
    return (size_t)(p - help);
}

/* The usage lines without "Usage: " and their indentation, one a line. */
static void synopsis(FILE *out, const char *help)
{
    size_t len = usage_len(help);
    for (const char *p = help; p < help + len;) {
        size_t n = strcspn(p, "\n");
        size_t lead = strncmp(p, "Usage: ", 7) == 0 ? 7 : strspn(p, " ");
        if (lead > 14) {
            fputs("    ", out); /* a line that goes on */
        }
        text(out, p + lead, n - lead);
        p += n + (p[n] == '\n');
    }
}

/* The body of a command's help after its usage: plain lines make
 * paragraphs, "  --opt VALUE  text" lines (and the deeper lines under
 * them) tagged paragraphs, other indented lines literal blocks. */
static void body(FILE *out, const char *help)
{
    enum { NONE, PARA, OPT, LITERAL } state = NONE;
    for (const char *p = help + usage_len(help); *p != '\0';) {
        size_t n = strcspn(p, "\n");
        size_t lead = strspn(p, " ");
        if (lead == 2 && n > 3 && p[2] == '-') {
            const char *gap = strstr(p + 2, "  ");
            size_t left = gap != NULL && gap < p + n ? (size_t)(gap - p) - 2 : n - 2;
            fputs(state == LITERAL ? ".fi\n.RE\n.TP\n" : ".TP\n", out);
            fputs(".B ", out);
            text(out, p + 2, left);
            const char *right = p + 2 + left;
            right += strspn(right, " ");
            if (right < p + n) {
                text(out, right, (size_t)(p + n - right));
            }
            state = OPT;
        } else if (lead >= 4 && state == OPT && n > lead) {
            text(out, p + lead, n - lead);
        } else if (lead >= 2 && n > lead) {
            if (state != LITERAL) {
                fputs(".PP\n.RS\n.nf\n", out);
            }
            text(out, p + 2, n - 2);
            state = LITERAL;
        } else if (n > 0) {
            if (state == LITERAL) {
                fputs(".fi\n.RE\n", out);
            }
            if (state != PARA) {
                fputs(".PP\n", out);
            }
            text(out, p, n);
            state = PARA;
        }
        p += n + (p[n] == '\n');
    }
    if (state == LITERAL) {
        fputs(".fi\n.RE\n", out);
    }
}

/* ---- the pages ----------------------------------------------------------------- */

static const ad_cli_group_t *group_of(const char *page)
{
    if (strncmp(page, "agentd-", 7) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < ad_cli_ngroups; i++) {
        if (strcmp(page + 7, ad_cli_groups[i].name) == 0) {
            return &ad_cli_groups[i];
        }
    }
    return NULL;
}

static void see_also(FILE *out, const char *except)
{
    fputs(".SH SEE ALSO\n", out);
    bool first = true;
    if (except != NULL) {
        fputs(".BR agentd (1)", out);
        first = false;
    }
    for (size_t i = 0; i < ad_cli_ngroups; i++) {
        if (except != NULL && strcmp(ad_cli_groups[i].name, except) == 0) {
            continue;
        }
        fprintf(out, "%s.BR agentd\\-%s (1)", first ? "" : ",\n", ad_cli_groups[i].name);
        first = false;
    }
    fputs("\n", out);
}

static void group_page(FILE *out, const ad_cli_group_t *g)
{
    char name[64];
    snprintf(name, sizeof(name), "agentd-%s", g->name);
    header(out, name);
    /* NAME: the page's name, then each command's, for whatis and the
     * agentd-COMMAND links the packages make */
    fprintf(out, ".SH NAME\nagentd\\-%s", g->name);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        if (strcmp(ad_cli_cmds[i].group, g->name) == 0) {
            fprintf(out, ", agentd\\-%s", ad_cli_cmds[i].name);
        }
    }
    fputs(" \\- ", out);
    text0(out, g->summary);
    fputs(".SH SYNOPSIS\n.nf\n", out);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        if (strcmp(ad_cli_cmds[i].group, g->name) == 0) {
            synopsis(out, ad_cli_cmds[i].help);
        }
    }
    fputs(".fi\n.SH DESCRIPTION\n", out);
    paragraph(out, ad_cli_conventions);
    fputs(".PP\nGlobal options such as\n.B \\-\\-data\\-dir\ngo anywhere on the command line; "
          "they are listed in\n.BR agentd (1).\n",
          out);
    fputs(".SH COMMANDS\n", out);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        const ad_cli_cmd_t *cmd = &ad_cli_cmds[i];
        if (strcmp(cmd->group, g->name) != 0) {
            continue;
        }
        fprintf(out, ".SS \"agentd %s\"\n", cmd->name);
        for (const char *c = cmd->name; *c != '\0'; c++) {
            AD_ASSERT(islower((unsigned char)*c)); /* no quoting needed */
        }
        if (strcmp(cmd->name, "serve") == 0) {
            fputs("Run the daemon in the foreground until SIGINT or SIGTERM. Its options are "
                  "listed under OPTIONS in\n.BR agentd (1).\n",
                  out);
            continue;
        }
        body(out, cmd->help);
    }
    see_also(out, g->name);
}

static void option_entries(FILE *out)
{
    for (size_t i = 0; i < ad_config_opt_count(); i++) {
        ad_config_opt_t o;
        ad_config_opt_get(i, &o);
        if (o.flag == NULL) {
            continue;
        }
        char flag[96];
        snprintf(flag, sizeof(flag), "--%s%s", o.flag, o.is_bool ? "" : "=");
        fputs(".TP\n", out);
        if (o.is_bool) {
            fputs(".B ", out);
            text0(out, flag);
        } else {
            /* .BI "--flag=" "VALUE" on one line (text() ends it) */
            char buf[128];
            snprintf(buf, sizeof(buf), "%s\" \"%s\"", flag, o.metavar);
            fputs(".BI \"", out);
            text0(out, buf);
        }
        text0(out, o.help);
        fputs(".br\n", out);
        if (o.def != NULL && o.def[0] != '\0') {
            char line[512];
            snprintf(line, sizeof(line), "Environment: %s; default: %s.", o.env, o.def);
            text0(out, line);
        } else {
            char line[256];
            snprintf(line, sizeof(line), "Environment: %s.", o.env);
            text0(out, line);
        }
    }
    fputs(".TP\n.B \\-\\-help\nprint help and exit\n.TP\n.B \\-\\-version\n"
          "print the version and exit\n",
          out);
}

static void main_page(FILE *out)
{
    header(out, "agentd");
    fputs(".SH NAME\nagentd \\- ", out);
    char about[200];
    snprintf(about, sizeof(about), "%s", ad_cli_about);
    about[0] = (char)tolower((unsigned char)about[0]);
    about[strcspn(about, ".")] = '\0';
    text0(out, about);
    fputs(".SH SYNOPSIS\n.B agentd\n[\\fIOPTION\\fR]... \\fICOMMAND\\fR [\\fIARG\\fR]...\n"
          ".br\n.B agentd serve\n[\\fIOPTION\\fR]...\n"
          ".SH DESCRIPTION\n"
          ".B agentd\n"
          "is one daemon that starts and supervises agent processes (the Claude Code, Codex and\n"
          "Gemini CLIs, ACP agents, training runs, any command) in git worktrees, records what\n"
          "they do, and streams it to a web dashboard and to clients over HTTP, WebSocket and\n"
          "Server-Sent Events. Its other commands are clients of the running daemon.\n"
          ".PP\n",
          out);
    paragraph(out, ad_cli_conventions);
    fputs(".SH COMMANDS\n", out);
    for (size_t g = 0; g < ad_cli_ngroups; g++) {
        fprintf(out, ".SS \"%s (agentd\\-%s(1))\"\n", ad_cli_groups[g].summary,
                ad_cli_groups[g].name);
        for (size_t i = 0; i < ad_cli_ncmds; i++) {
            if (strcmp(ad_cli_cmds[i].group, ad_cli_groups[g].name) == 0) {
                fprintf(out, ".TP\n.B agentd %s\n", ad_cli_cmds[i].name);
                text0(out, ad_cli_cmds[i].summary);
            }
        }
    }
    fputs(".SH OPTIONS\n"
          "Options go before the command, or after serve; each is also read from the\n"
          "environment variable named with it. Flags win over the environment, which wins\n"
          "over the defaults.\n",
          out);
    option_entries(out);
    fputs(".SH ENVIRONMENT\nBesides the variables named under OPTIONS, read where they are "
          "used:\n",
          out);
    for (size_t i = 0; i < ad_config_opt_count(); i++) {
        ad_config_opt_t o;
        ad_config_opt_get(i, &o);
        if (o.flag != NULL) {
            continue;
        }
        fputs(".TP\n.B ", out);
        text0(out, o.env);
        text0(out, o.help);
        if (o.def != NULL && o.def[0] != '\0') {
            char line[256];
            snprintf(line, sizeof(line), "Default: %s.", o.def);
            fputs(".br\n", out);
            text0(out, line);
        }
    }
    fputs(".SH FILES\n"
          ".TP\n.I ~/.local/share/agentd\n"
          "the data directory (mode 0700), or $XDG_DATA_HOME/agentd, or --data-dir; locked by\n"
          "the daemon that uses it\n"
          ".TP\n.I <data-dir>/agentd.sock\n"
          "the unix socket the client commands use (mode 0600; its requests act as the owner)\n"
          ".TP\n.I <data-dir>/owner-token\n"
          "the owner token made at the first start (mode 0600)\n"
          ".TP\n.I <data-dir>/hold/\n"
          "one folder per agent kept by a holder process, so that agents outlive the daemon\n"
          ".SH \"EXIT STATUS\"\n"
          "0 done; 1 failed or not found; 2 a usage error, or a name several rows share.\n"
          ".B agentd logs \\-f\n"
          "exits 3 for a run that ended degraded.\n",
          out);
    see_also(out, NULL);
}

int ad_cli_man_page(const char *page, FILE *out)
{
    if (strcmp(page, "agentd") == 0) {
        main_page(out);
        return 0;
    }
    const ad_cli_group_t *g = group_of(page);
    if (g == NULL) {
        return AD_ENOENT;
    }
    group_page(out, g);
    return 0;
}

int ad_cli_man_list(FILE *out)
{
    fputs("agentd\n", out);
    for (size_t g = 0; g < ad_cli_ngroups; g++) {
        fprintf(out, "agentd-%s", ad_cli_groups[g].name);
        for (size_t i = 0; i < ad_cli_ncmds; i++) {
            if (strcmp(ad_cli_cmds[i].group, ad_cli_groups[g].name) == 0) {
                fprintf(out, " %s", ad_cli_cmds[i].name);
            }
        }
        fputc('\n', out);
    }
    return 0;
}
