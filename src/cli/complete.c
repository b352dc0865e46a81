/* SPDX-License-Identifier: MIT */
/*
 * Shell completion (`agentd completion bash|zsh|fish`), made from the
 * command table (table.c) and the option table (src/core/config.c): the
 * commands, their subcommands and options (with their descriptions where
 * the shell shows them), the daemon's options after serve, and agent,
 * worktree and workspace names asked of the running daemon
 * (`completion names`). The packages install the same scripts.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define OPTS_MAX 1024

/* The option line of opt in help ("  --all   text", "  -f, --follow  text"):
 * its description's first line into desc, and whether a value follows the
 * option ("--worktree WT"). False when help has no such line. */
static bool option_line(const char *help, const char *opt, char *desc, size_t descsz, bool *value)
{
    size_t n = strlen(opt);
    for (const char *p = help; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        const char *q = p + 2;
        if (len > 3 && p[0] == ' ' && p[1] == ' ' && p[2] == '-') {
            /* "-f, --follow": the short form first */
            const char *hit = NULL;
            if (strncmp(q, opt, n) == 0 && (q[n] == ' ' || q[n] == ',' || q[n] == '\n')) {
                hit = q + n;
            } else if (q[0] == '-' && q[1] != '-' && q[2] == ',' && strncmp(q + 4, opt, n) == 0 &&
                       (q[4 + n] == ' ' || q[4 + n] == '\n')) {
                hit = q + 4 + n;
            }
            if (hit != NULL) {
                if (*hit == ',') { /* "-f, --follow": past the long form */
                    hit += 2 + strcspn(hit + 2, " \n");
                }
                *value = hit[0] == ' ' && hit[1] != ' ' && isupper((unsigned char)hit[1]);
                const char *d = hit;
                if (*value) {
                    d += 1 + strcspn(hit + 1, " \n");
                }
                d += strspn(d, " ");
                size_t dl = strcspn(d, "\n");
                snprintf(desc, descsz, "%.*s", (int)dl, d);
                return true;
            }
        }
        p += len + (p[len] == '\n');
    }
    desc[0] = '\0';
    *value = false;
    return false;
}

void ad_cli_help_options(const char *help, ad_cli_opt_fn fn, void *ud)
{
    char seen[OPTS_MAX + 2] = " ";
    size_t o = 1;
    for (const char *p = help; *p != '\0'; p++) {
        bool start = p == help || isspace((unsigned char)p[-1]) || p[-1] == '[' || p[-1] == ',' ||
                     p[-1] == '|';
        if (!start || p[0] != '-' || !(isalpha((unsigned char)p[1]) || p[1] == '-')) {
            continue;
        }
        size_t n = 1;
        while (isalnum((unsigned char)p[n]) || p[n] == '-') {
            n++;
        }
        if (n < 2 || (p[1] == '-' && n < 3) || (p[1] != '-' && n != 2) || n > 40) {
            continue;
        }
        char word[48];
        snprintf(word, sizeof(word), " %.*s ", (int)n, p);
        if (strstr(seen, word) != NULL || o + n + 2 >= sizeof(seen)) {
            continue;
        }
        o += (size_t)snprintf(seen + o, sizeof(seen) - o, "%.*s ", (int)n, p);
        char opt[48], desc[200];
        bool value;
        snprintf(opt, sizeof(opt), "%.*s", (int)n, p);
        option_line(help, opt, desc, sizeof(desc), &value);
        fn(opt, desc, value, ud);
    }
}

typedef struct {
    char *out;
    size_t n, size;
} join_t;

static void join_opt(const char *opt, const char *desc, bool value, void *ud)
{
    join_t *j = ud;
    AD_UNUSED(desc);
    AD_UNUSED(value);
    int w = snprintf(j->out + j->n, j->size - j->n, "%s%s", j->n > 0 ? " " : "", opt);
    if (w > 0 && (size_t)w < j->size - j->n) {
        j->n += (size_t)w;
    } else {
        j->out[j->n] = '\0'; /* the rest does not fit: left out */
    }
}

/* The options a command's help names, space-separated, each once. */
static void options_of(const char *help, char *out, size_t outsz)
{
    join_t j = {out, 0, outsz};
    out[0] = '\0';
    ad_cli_help_options(help, join_opt, &j);
}

/* The daemon's options (the option table's flags), space-separated. */
static void daemon_options(char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ad_config_opt_count(); i++) {
        ad_config_opt_t opt;
        ad_config_opt_get(i, &opt);
        int w = opt.flag != NULL
                    ? snprintf(out + o, outsz - o, "%s--%s", o > 0 ? " " : "", opt.flag)
                    : 0;
        if (w > 0 && (size_t)w < outsz - o) {
            o += (size_t)w;
        }
    }
}

/* Whether the word w (bounded by non-letters) is in the Usage lines as a
 * positional (not an option's value, as in "--worktree WT"). */
static bool usage_names(const char *help, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(help, w); p != NULL; p = strstr(p + 1, w)) {
        if ((p > help && isalnum((unsigned char)p[-1])) || isalnum((unsigned char)p[n])) {
            continue;
        }
        const char *q = p;
        while (q > help && (q[-1] == ' ' || q[-1] == '[')) {
            q--;
        }
        if (q > help && q[-1] == ']') {
            return true; /* after a whole [--option] */
        }
        while (q > help && !isspace((unsigned char)q[-1]) && q[-1] != '[') {
            q--;
        }
        if (q[0] != '-') {
            return true; /* the word before it is no option */
        }
    }
    return false;
}

/* What a command's positional names (the kind `completion names` lists),
 * from its help: AGENT, else WT, else WS; NULL for none. */
static const char *names_of(const char *help)
{
    char usage[1024];
    const char *blank = strstr(help, "\n  -"); /* the options start */
    snprintf(usage, sizeof(usage), "%.*s", blank != NULL ? (int)(blank - help) : 0, help);
    return usage_names(usage, "AGENT") ? "agents"
           : usage_names(usage, "WT")  ? "worktrees"
           : usage_names(usage, "WS")  ? "workspaces"
                                       : NULL;
}

/* What completes after cmd, space-separated, into out: its subcommands
 * and options (serve: the daemon's options), then --help. Returns the
 * kind of names its positionals are (names_of), or NULL. */
static const char *words_of(const ad_cli_cmd_t *cmd, const char *dopts, char *out, size_t outsz)
{
    char opts[OPTS_MAX];
    if (strcmp(cmd->name, "serve") == 0) {
        snprintf(out, outsz, "%s --help", dopts);
        return NULL;
    }
    options_of(cmd->help, opts, sizeof(opts));
    snprintf(out, outsz, "%s%s%s --help", cmd->subs != NULL ? cmd->subs : "",
             cmd->subs != NULL && opts[0] ? " " : "", opts);
    return names_of(cmd->help);
}

/* ---- bash ------------------------------------------------------------------------ */

static void bash_script(FILE *out)
{
    char words[OPTS_MAX + 4200], dopts[4096];
    daemon_options(dopts, sizeof(dopts));
    fputs("# bash completion for agentd, made by 'agentd completion bash'\n"
          "_agentd() {\n"
          "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" words=\"\" kind=\"\"\n"
          "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n",
          out);
    /* the daemon's options for "--", else the commands */
    fprintf(out,
            "    words=\"%s --help --version\"\n"
            "    [[ \"$cur\" == --* ]] || words=\"",
            dopts);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        fprintf(out, "%s%s", i > 0 ? " " : "", ad_cli_cmds[i].name);
    }
    fputs(" --help --version\"\n"
          "  else\n"
          "    case \"${COMP_WORDS[1]}\" in\n",
          out);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        const char *kind = words_of(&ad_cli_cmds[i], dopts, words, sizeof(words));
        fprintf(out, "      %s) words=\"%s\"%s%s ;;\n", ad_cli_cmds[i].name, words,
                kind != NULL ? " kind=" : "", kind != NULL ? kind : "");
    }
    fputs("    esac\n"
          "    case \"${COMP_WORDS[COMP_CWORD-1]}\" in\n"
          "      --worktree) kind=worktrees words=\"\" ;;\n"
          "      --workspace) kind=workspaces words=\"\" ;;\n"
          "    esac\n"
          "  fi\n"
          "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
          "  if [ -n \"$kind\" ] && [[ \"$cur\" != -* ]]; then\n"
          "    local name IFS=$'\\n'\n"
          "    for name in $(\"${COMP_WORDS[0]}\" completion names \"$kind\" 2>/dev/null); do\n"
          "      [[ \"$name\" == \"$cur\"* ]] && COMPREPLY+=(\"$(printf '%q' \"$name\")\")\n"
          "    done\n"
          "  fi\n"
          "}\n"
          "complete -o default -F _agentd agentd\n",
          out);
}

/* ---- zsh ------------------------------------------------------------------------- */

/* s for inside zsh or fish single quotes (fish: backslashes too), ':'
 * escaped for zsh's _describe. */
static void quoted(FILE *out, const char *s, bool colon, bool fish)
{
    for (; *s != '\0'; s++) {
        if (*s == '\'' && !fish) {
            fputs("'\\''", out);
        } else if ((*s == '\'' || *s == '\\') && fish) {
            fputc('\\', out);
            fputc(*s, out);
        } else if (*s == ':' && colon) {
            fputs("\\:", out);
        } else {
            fputc(*s, out);
        }
    }
}

static void zsh_script(FILE *out)
{
    char words[OPTS_MAX + 4200], dopts[4096];
    daemon_options(dopts, sizeof(dopts));
    fputs("#compdef agentd\n"
          "# zsh completion for agentd, made by 'agentd completion zsh'\n"
          "_agentd() {\n"
          "  local -a cmds\n"
          "  local kind=\"\"\n"
          "  cmds=(\n",
          out);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        /* 'name:summary' (names have no ':'; the summary's are escaped) */
        fprintf(out, "    '%s:", ad_cli_cmds[i].name);
        quoted(out, ad_cli_cmds[i].summary, true, false);
        fputs("'\n", out);
    }
    fprintf(out,
            "  )\n"
            "  if (( CURRENT == 2 )); then\n"
            "    if [[ $PREFIX == --* ]]; then\n"
            "      compadd -- %s --help --version\n"
            "    else\n"
            "      _describe 'agentd command' cmds\n"
            "    fi\n"
            "    return\n"
            "  fi\n"
            "  case ${words[2]} in\n",
            dopts);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        const char *kind = words_of(&ad_cli_cmds[i], dopts, words, sizeof(words));
        fprintf(out, "    %s) compadd -- %s%s%s ;;\n", ad_cli_cmds[i].name, words,
                kind != NULL ? "; kind=" : "", kind != NULL ? kind : "");
    }
    fputs("  esac\n"
          "  case ${words[CURRENT-1]} in\n"
          "    --worktree) kind=worktrees ;;\n"
          "    --workspace) kind=workspaces ;;\n"
          "  esac\n"
          "  if [[ -n $kind && $PREFIX != -* ]]; then\n"
          "    local -a names\n"
          "    names=(${(f)\"$(${words[1]} completion names $kind 2>/dev/null)\"})\n"
          "    compadd -a names\n"
          "  fi\n"
          "  _files\n"
          "}\n"
          "if [ \"${funcstack[1]}\" = _agentd ]; then\n"
          "  _agentd \"$@\"\n"
          "else\n"
          "  compdef _agentd agentd\n"
          "fi\n",
          out);
}

/* ---- fish ------------------------------------------------------------------------ */

typedef struct {
    FILE *out;
    const char *cmd;
} fish_t;

/* One `complete` line for an option of a command (cmd NULL: before any
 * command). A value of --worktree or --workspace is a name the daemon
 * lists; another value is anything (-r). */
static void fish_option(const char *opt, const char *desc, bool value, void *ud)
{
    fish_t *f = ud;
    if (strcmp(opt, "--help") == 0) {
        return; /* one line for every command, below */
    }
    if (f->cmd != NULL) {
        fprintf(f->out, "complete -c agentd -n '__fish_seen_subcommand_from %s'", f->cmd);
    } else {
        fputs("complete -c agentd -n __fish_use_subcommand", f->out);
    }
    if (opt[1] == '-') {
        fprintf(f->out, " -l %s", opt + 2);
    } else {
        fprintf(f->out, " -s %s", opt + 1);
    }
    if (strcmp(opt, "--worktree") == 0 || strcmp(opt, "--workspace") == 0) {
        fprintf(f->out, " -x -a '(__agentd_names %ss)'", opt + 2);
    } else if (value) {
        fputs(" -r", f->out);
    }
    if (desc[0] != '\0') {
        fputs(" -d '", f->out);
        quoted(f->out, desc, false, true);
        fputc('\'', f->out);
    }
    fputc('\n', f->out);
}

static void fish_script(FILE *out)
{
    fputs("# fish completion for agentd, made by 'agentd completion fish'\n"
          "function __agentd_names\n"
          "    set -l cmd (commandline -opc)[1]\n"
          "    command -q $cmd; or return\n"
          "    command $cmd completion names $argv 2>/dev/null\n"
          "end\n"
          "complete -c agentd -f\n"
          "complete -c agentd -l help -d 'print help and exit'\n"
          "complete -c agentd -n __fish_use_subcommand -l version -d 'print the version and "
          "exit'\n",
          out);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        fprintf(out, "complete -c agentd -n __fish_use_subcommand -a %s -d '", ad_cli_cmds[i].name);
        quoted(out, ad_cli_cmds[i].summary, false, true);
        fputs("'\n", out);
    }
    /* The daemon's options: before the command, and after serve. */
    for (size_t i = 0; i < ad_config_opt_count(); i++) {
        ad_config_opt_t o;
        ad_config_opt_get(i, &o);
        if (o.flag == NULL) {
            continue;
        }
        char opt[80];
        snprintf(opt, sizeof(opt), "--%s", o.flag);
        fish_t g = {out, NULL}, s = {out, "serve"};
        fish_option(opt, o.help, !o.is_bool, &g);
        fish_option(opt, o.help, !o.is_bool, &s);
    }
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        const ad_cli_cmd_t *cmd = &ad_cli_cmds[i];
        if (cmd->subs != NULL) {
            fprintf(out, "complete -c agentd -n '__fish_seen_subcommand_from %s' -a '%s'\n",
                    cmd->name, cmd->subs);
        }
        const char *kind = names_of(cmd->help);
        if (kind != NULL) {
            fprintf(out,
                    "complete -c agentd -n '__fish_seen_subcommand_from %s' -a "
                    "'(__agentd_names %s)'\n",
                    cmd->name, kind);
        }
        if (strcmp(cmd->name, "serve") != 0) {
            fish_t f = {out, cmd->name};
            ad_cli_help_options(cmd->help, fish_option, &f);
        }
    }
}

int ad_cli_completion(ad_cli_t *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*script)(FILE *out);
    } shells[] = {{"bash", bash_script}, {"zsh", zsh_script}, {"fish", fish_script}};
    for (size_t i = 0; argc == 1 && i < AD_ARRAY_LEN(shells); i++) {
        if (strcmp(argv[0], shells[i].name) == 0) {
            shells[i].script(stdout);
            return 0;
        }
    }
    if (argc == 2 && strcmp(argv[0], "names") == 0) {
        static const struct {
            const char *word;
            ad_cli_kind_t kind;
        } kinds[] = {{"agents", AD_CLI_AGENT},
                     {"worktrees", AD_CLI_WORKTREE},
                     {"workspaces", AD_CLI_WORKSPACE}};
        for (size_t i = 0; i < AD_ARRAY_LEN(kinds); i++) {
            if (strcmp(argv[1], kinds[i].word) == 0) {
                return ad_cli_print_names(c, kinds[i].kind);
            }
        }
    }
    return ad_cli_usage(c,
                        "usage: agentd completion bash|zsh|fish|names agents|worktrees|workspaces");
}
