/* SPDX-License-Identifier: MIT */
/*
 * The command table: every command's name, function, subcommands, one-line
 * summary and full help. Everything that lists commands is made from it:
 * dispatch, `agentd COMMAND --help`, the Commands section of `agentd
 * --help` and the shell completion scripts (`agentd completion bash|zsh`),
 * so there is no second, hand-kept list to drift.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const ad_cli_cmd_t ad_cli_cmds[] = {
    {"serve", NULL, NULL, "run the daemon (HTTP, WebSocket and SSE on one listener)",
     "Usage: agentd serve [OPTION]...\n"
     "Run the daemon in the foreground (see 'agentd serve --help').\n"},
    {"ls", ad_cli_ls, NULL, "list agents: name, status, worktree and cost",
     "Usage: agentd ls [--all] [--worktree WT] [--status S] [--json]\n"
     "List agents as a table: id, full name, executor, status, mode, the\n"
     "worktree's name and what the agent's runs cost so far. A waiting agent\n"
     "reads needs you (an approval or a question waits) or turn done.\n"
     "  --all          archived agents too (shown as archived)\n"
     "  --worktree WT  only this worktree's agents (its id or name)\n"
     "  --status S     only agents in status S (running, waiting, idle, ...)\n"
     "  --json         the daemon's JSON instead of the table\n"},
    {"new", ad_cli_new, NULL, "create an agent and print its id",
     "Usage: agentd new --worktree WT [--executor E] [--mode M] [--name N]\n"
     "                  [--allow read,write,execute] [--terminal] [--model M]\n"
     "                  [--base-url URL] [--acp-agent A] [--json] [-- PROGRAM ARG...]\n"
     "Create an agent and print its id. A program after -- makes a command agent\n"
     "that runs it (with --executor acp: an ACP agent that runs it).\n"
     "  --worktree WT   the worktree's id or name (required)\n"
     "  --executor E    claude (default), codex, gemini, command or acp\n"
     "  --acp-agent A   an ACP agent: gemini, claude-code-acp or codex-acp\n"
     "                  (implies --executor acp)\n"
     "  --mode M        regular (asks before tools), plan or auto\n"
     "  --name N        its name (default: \"Agent HH:MM\")\n"
     "  --allow LIST    its permissions, comma-separated: read, write, execute\n"
     "                  or rules such as Bash(git *) (default: read)\n"
     "  --terminal      run it in a terminal (a pty) instead of pipes\n"
     "  --model M       the model its CLI uses\n"
     "  --base-url URL  point a claude, codex or gemini agent at another API\n"
     "                  provider\n"
     "  --json          the new agent as JSON\n"},
    {"start", ad_cli_start, NULL, "start an agent, optionally with a first prompt",
     "Usage: agentd start AGENT [PROMPT] [--config CFG [--config-flags]] [--json]\n"
     "Start an agent, optionally with a first prompt.\n"
     "  --config CFG     a hyper-parameter config: its values in the JSON file\n"
     "                   named by AGENTD_CONFIG\n"
     "  --config-flags   also as --name=value flags (command agents)\n"
     "  --json           the agent as JSON\n"},
    {"send", ad_cli_send, NULL, "send a message to a running agent",
     "Usage: agentd send AGENT MESSAGE [--json]\n"
     "Send a message to a running agent (codex and gemini: the next turn,\n"
     "resuming the session).\n"
     "  --json  the daemon's answer as JSON\n"},
    {"logs", ad_cli_logs, NULL, "print an agent's transcript; -f follows it live",
     "Usage: agentd logs [-f [--until idle|end]] AGENT [--json]\n"
     "Print an agent's transcript: '> ' user messages, assistant text,\n"
     "'▶ Bash  git status' for a tool call and '✓ Bash' or '✗ Bash (exit 1)' for\n"
     "its result, '— status: waiting' for status changes, and '? approval ID'\n"
     "for a tool call waiting for 'agentd approve ID'.\n"
     "  -f, --follow  the current run live (or the next one, if it never ran),\n"
     "                exiting when the run ends: 0 if it succeeded or was\n"
     "                stopped, 1 if it failed or was lost, 3 if it ended\n"
     "                degraded (some output lost). An agent that is\n"
     "                not running prints its transcript and exits the same\n"
     "                way for its last run.\n"
     "  --until W     with -f: end (the default) waits for the run's end; idle\n"
     "                exits when the agent's turn ends (it waits for a new\n"
     "                message: 0) or ends in error (1), or the run ends\n"
     "  --json        raw messages (with -f: raw events), one JSON a line\n"},
    {"stop", ad_cli_stop, NULL, "stop an agent and wait until its run has ended",
     "Usage: agentd stop [--force] [--no-wait] AGENT [--json]\n"
     "Stop an agent: politely, then SIGTERM and SIGKILL after the grace period\n"
     "(--stop-grace-ms of the daemon), and wait until its run has ended.\n"
     "  --force    SIGKILL at once (also escalates a stop already under way)\n"
     "  --no-wait  return as soon as the daemon says stopping\n"
     "  --json     the agent as JSON\n"},
    {"fork", ad_cli_fork, NULL, "copy an agent (its conversation too) as a new agent",
     "Usage: agentd fork AGENT [--name N] [--worktree WT] [--json]\n"
     "Make a new agent from AGENT: its settings, and its conversation for\n"
     "claude (the fork resumes the session); print the new id.\n"
     "  --name N       the fork's name (default: the parent's, with (fork))\n"
     "  --worktree WT  place the fork in another worktree of the same org\n"
     "  --json         the new agent as JSON\n"},
    {"rm", ad_cli_rm, NULL, "archive an agent (--hard: delete it)",
     "Usage: agentd rm [--hard] AGENT [--json]\n"
     "Archive an agent (its transcript stays; a running one is stopped).\n"
     "  --hard  delete it and its transcript for good\n"
     "  --json  the daemon's answer as JSON\n"},
    {"approvals", ad_cli_approvals, NULL, "an agent's tool calls waiting for approval",
     "Usage: agentd approvals AGENT [--json]\n"
     "An agent's tool calls waiting for approval: id, tool and input.\n"
     "  --json  the daemon's JSON\n"},
    {"approve", ad_cli_approve, NULL, "allow or deny a tool call waiting for approval",
     "Usage: agentd approve ID [--deny | --always] [--json]\n"
     "Allow a tool call waiting for approval (ID from 'agentd approvals' or\n"
     "'agentd logs -f').\n"
     "  --deny    refuse it instead\n"
     "  --always  allow it, and the same tool from now on, for this agent\n"
     "  --json    the decided approval as JSON\n"},
    {"token", ad_cli_token, "create ls revoke rotate-owner", "make, list or revoke API tokens",
     "Usage: agentd token create NAME [--scope read|write|admin] [--org ID]\n"
     "                          [--expires-in 30d] [--rate N] [--json]\n"
     "       agentd token ls [--json]\n"
     "       agentd token revoke ID [--json]\n"
     "       agentd token rotate-owner [--json]\n"
     "Make an API token (printed once, never again), list tokens (never their\n"
     "secrets) or revoke one at once; rotate-owner makes a new owner token\n"
     "(printed once) and ends every session of the old one.\n"
     "  --scope S       read (default), write or admin\n"
     "  --org ID        the organisation it acts for\n"
     "  --expires-in D  a lifetime: 3600, 90m, 12h or 30d (default: none)\n"
     "  --rate N        requests per minute it may make (0: the default)\n"
     "  --json          the daemon's JSON\n"},
    {"credits", ad_cli_credits, "grant show", "an organisation's credits, or grant it some",
     "Usage: agentd credits [show] [ORG] [--json]\n"
     "       agentd credits grant ORG AMOUNT [--note TEXT] [--json]\n"
     "An organisation's credit balance (granted, less what its runs cost, less\n"
     "what running ones have cost so far) and its grants; or grant it credits\n"
     "(one credit is one US dollar of model cost; a negative AMOUNT takes some\n"
     "back). ORG is an organisation's id or name (default: the default org).\n"
     "  --note TEXT  why, kept with the grant\n"
     "  --json       the daemon's JSON\n"},
    {"import", ad_cli_import, NULL, "bring a Claude Manager database across",
     "Usage: agentd import PATH/claude-manager.db [--org ORG] [--json]\n"
     "Copy a Claude Manager install's workspaces, worktrees, agents, messages,\n"
     "usage, settings and agent sessions into agentd (ids kept), and print per\n"
     "table how many rows the source had and how many were imported, already\n"
     "present (a second import changes nothing) or skipped.\n"
     "  --org ORG  the organisation its workspaces go to (default: the default)\n"
     "  --json     the daemon's JSON\n"},
    {"login", ad_cli_login, NULL, "print a dashboard sign-in URL with a one-time code",
     "Usage: agentd login [--json]\n"
     "Print a dashboard sign-in URL with a one-time code (good once, for 5 min).\n"
     "  --json  the daemon's JSON\n"},
    {"ws", ad_cli_ws, "ls add", "list or add workspaces (git repositories)",
     "Usage: agentd ws ls [--json]\n"
     "       agentd ws add PATH [--name N] [--json]\n"
     "Workspaces are the git repositories agentd manages: list them, or add\n"
     "the repository at PATH (its worktrees come with it).\n"
     "  --name N  the workspace's name (default: the folder's)\n"
     "  --json    the daemon's JSON\n"},
    {"wt", ad_cli_wt, "ls new rm merge", "list, create, delete or merge worktrees",
     "Usage: agentd wt ls [--workspace WS] [--json]\n"
     "       agentd wt new --workspace WS NAME [--branch B] [--base REF]\n"
     "       agentd wt rm [--force] WT\n"
     "       agentd wt merge WT [--into BRANCH] [--strategy merge|squash|rebase]\n"
     "                       [--message TEXT]\n"
     "Worktrees: list them, create one (a new branch NAME, or --branch, made\n"
     "from --base, by default the main worktree's branch), delete one, and\n"
     "merge one's branch into its base branch (see 'agentd merge --help').\n"
     "  --workspace WS  the workspace (ls: only its worktrees)\n"
     "  --branch B      the new worktree's branch (default: NAME)\n"
     "  --base REF      what the branch is made from\n"
     "  --force         delete even with uncommitted or unmerged work (lost);\n"
     "                  a merged worktree (agentd merged it, or its squash is\n"
     "                  on the base) needs no --force\n"
     "  --into BRANCH   merge: the branch to merge into (default: its base)\n"
     "  --strategy S    merge: merge (the default), squash or rebase\n"
     "  --message TEXT  merge: the commit message (merge and squash)\n"
     "  --json          the daemon's JSON\n"},
    {"merge", ad_cli_merge, NULL, "merge a worktree's branch into its base",
     "Usage: agentd merge WT [--into BRANCH] [--strategy merge|squash|rebase]\n"
     "                       [--message TEXT] [--json]\n"
     "Merge the worktree's branch into BRANCH (default: the branch the worktree\n"
     "was made from). A conflict changes nothing and lists the files; the\n"
     "worktree that has BRANCH checked out must have no uncommitted changes.\n"
     "The merge is recorded: the worktree reads merged afterwards.\n"
     "  --into BRANCH  the branch to merge into\n"
     "  --strategy S   merge (a merge commit, the default), squash (one\n"
     "                 commit) or rebase (replay, then fast-forward)\n"
     "  --message T    the commit message (merge and squash)\n"
     "  --json         the daemon's JSON\n"},
    {"pr", ad_cli_pr, "create status", "open a worktree's pull request, or show it and its checks",
     "Usage: agentd pr create WT --title TITLE [--body TEXT] [--draft] [--json]\n"
     "       agentd pr status WT [--json]\n"
     "create pushes the worktree's branch and opens a pull request into its base\n"
     "branch on the forge its remote points at (GitHub, GitLab, Gitea/Forgejo),\n"
     "with the token stored as credential github, gitlab or gitea; an open one\n"
     "for the branch is taken over. status reads its state and checks.\n"
     "A self-hosted forge is mapped by an admin in the setting forge_hosts.\n"
     "  --title T  the pull request's title (required)\n"
     "  --body T   its description\n"
     "  --draft    open it as a draft\n"
     "  --json     the daemon's JSON\n"},
    {"workflow", ad_cli_workflow, "run ls show stop", "run a multi-agent workflow as a crew",
     "Usage: agentd workflow run FILE [--worktree WT] [--input TEXT] [--wait] [--json]\n"
     "       agentd workflow ls|show ID|stop ID [--json]\n"
     "run starts the workflow in FILE (JSON: {name, worktreeId?, input?, budgetUsd?,\n"
     "steps: [{id, needs?, prompt, agent? | definition?}]}) as a crew, one agent per\n"
     "step; a step starts once the steps it needs have succeeded, its prompt made\n"
     "from {{input}} and {{steps.ID.output}}. show prints each step and its output;\n"
     "stop stops the running steps and skips the rest.\n"
     "  --worktree WT  where its agents work (instead of the file's worktreeId)\n"
     "  --input TEXT   the workflow's input (instead of the file's)\n"
     "  --wait         wait for the end; exit 1 unless it succeeded\n"
     "  --json         the daemon's JSON\n"},
    {"diff", ad_cli_diff, NULL, "a worktree's changes, or its work against the base",
     "Usage: agentd diff WT [FILE] [--against REF] [--working] [--json]\n"
     "What a worktree's branch would bring to its base: ahead/behind, the\n"
     "commits, and the files changed (committed or not) with +/- counts; with\n"
     "FILE, that file's patch.\n"
     "  --against REF  compare with REF instead of the base branch\n"
     "  --working      only the uncommitted changes (against HEAD)\n"
     "  --json         the daemon's JSON\n"},
    {"commit", ad_cli_commit, NULL, "commit a worktree's changes",
     "Usage: agentd commit WT -m MESSAGE [--all] [--json]\n"
     "Commit the worktree's staged changes (no hooks run).\n"
     "  -m, --message T  the commit message (required)\n"
     "  --all            stage every change first, new files too (git add -A)\n"
     "  --json           the daemon's JSON\n"},
    {"open", ad_cli_open, NULL, "open the dashboard (or an agent's page) in a browser",
     "Usage: agentd open [AGENT] [--print]\n"
     "Open the dashboard, or AGENT's page, in a browser (xdg-open or open);\n"
     "with no display, or --print, print the URL instead.\n"
     "  --print  print the URL, open nothing\n"
     "AGENTD_OPENER names the program to open it with (such as firefox).\n"},
    {"mcp", ad_cli_mcp, NULL, "be an MCP server for an agent or assistant (stdio)",
     "Usage: agentd mcp\n"
     "Speak the Model Context Protocol on stdin and stdout, for a host that runs\n"
     "this as an MCP server (Claude Code: claude mcp add agentd -- agentd mcp).\n"
     "Its tools are agentd's: list_agents, get_agent, list_worktrees,\n"
     "create_worktree, start_agent, send_message, stop_agent, read_transcript,\n"
     "list_approvals, decide_approval, diff, merge, training_metrics, health;\n"
     "each calls the daemon on its unix socket with the CLI's rights (the\n"
     "owner's), as agentd's other commands do.\n"},
    {"acp", ad_cli_acp, NULL, "be an ACP agent for an editor (stdio)",
     "Usage: agentd acp [--executor E] [--acp-agent A] [--mode M] [--model M]\n"
     "                  [-- PROGRAM ARG...]\n"
     "Speak the Agent Client Protocol on stdin and stdout, for an editor (Zed,\n"
     "JetBrains, Neovim, Emacs) configured to run this as its agent. Each session\n"
     "is an agentd agent: session/new makes one in the worktree at its cwd (with\n"
     "these options, as 'agentd new'), session/load attaches to one the fleet\n"
     "already runs (its transcript first), session/prompt sends a message,\n"
     "session/cancel stops the run; approvals come as permission requests.\n"
     "Leaving the editor stops nothing.\n"
     "  --executor E   claude (the default), codex, gemini, acp or command\n"
     "  --acp-agent A  an ACP preset: gemini, claude-code-acp, codex-acp\n"
     "  --mode M       plan, ask or auto\n"
     "  --model M      the model\n"},
    {"app", ad_cli_app, NULL, "open the dashboard as an app window",
     "Usage: agentd app [AGENT] [--print]\n"
     "Open the dashboard, or AGENT's page, as an app window of a Chromium-family\n"
     "browser (chromium, google-chrome, brave-browser, microsoft-edge: --app=URL),\n"
     "else in the default browser as 'agentd open' does. The dashboard installs as\n"
     "an app from there too, and opens while agentd is down to say so.\n"
     "  --print  print the URL, open nothing\n"
     "AGENTD_APP_BROWSER names the browser to use.\n"},
    {"completion", ad_cli_completion, "bash zsh names", "print a shell completion script",
     "Usage: agentd completion bash|zsh\n"
     "       agentd completion names agents|worktrees|workspaces\n"
     "Print a completion script for bash or zsh, made from this agentd's own\n"
     "command table; it completes agent, worktree and workspace names from the\n"
     "running daemon (completion names prints them, one a line). Load it with:\n"
     "  bash: source <(agentd completion bash)\n"
     "  zsh:  source <(agentd completion zsh)\n"},
    {"version", NULL, NULL, "print the version", "Usage: agentd version\nPrint the version.\n"},
    {"help", NULL, NULL, "print this help", "Usage: agentd help\nPrint the help.\n"},
};
const size_t ad_cli_ncmds = AD_ARRAY_LEN(ad_cli_cmds);

const ad_cli_cmd_t *ad_cli_cmd(const char *name)
{
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        if (strcmp(ad_cli_cmds[i].name, name) == 0) {
            return &ad_cli_cmds[i];
        }
    }
    return NULL;
}

bool ad_cli_is_command(const char *cmd)
{
    const ad_cli_cmd_t *c = ad_cli_cmd(cmd);
    return c != NULL && c->fn != NULL;
}

void ad_cli_print_commands(FILE *out)
{
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        const char *p = ad_cli_cmds[i].help;
        /* the usage lines, without "Usage: agentd " */
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
            size_t lead = strspn(p, " ");
            if (strncmp(p, "Usage: agentd ", 14) == 0 || strncmp(p, "       agentd ", 14) == 0) {
                fprintf(out, "  %.*s\n", (int)(len - 14), p + 14);
            } else if (lead > 8 && lead < len && p[lead] == '[') { /* a usage line goes on */
                fprintf(out, "      %.*s\n", (int)(len - lead), p + lead);
            } else {
                break;
            }
            p = nl != NULL ? nl + 1 : p + len;
        }
        fprintf(out, "              %s\n", ad_cli_cmds[i].summary);
    }
}

/* ---- completion scripts -------------------------------------------------------- */

/* The options a command's help names ("--all", "-f"...), space-separated,
 * each once, into out. */
static void options_of(const char *help, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = help; *p != '\0'; p++) {
        bool start = p == help || isspace((unsigned char)p[-1]) || p[-1] == '[' || p[-1] == ',';
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
        char padded[1100];
        snprintf(padded, sizeof(padded), " %s ", out);
        if (strstr(padded, word) != NULL || o + n + 2 >= outsz) {
            continue;
        }
        o += (size_t)snprintf(out + o, outsz - o, "%s%.*s", o > 0 ? " " : "", (int)n, p);
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

static void bash_script(void)
{
    char opts[1024];
    fputs("# bash completion for agentd, made by 'agentd completion bash'\n"
          "_agentd() {\n"
          "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" words=\"\" kind=\"\"\n"
          "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "    words=\"",
          stdout);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        printf("%s%s", i > 0 ? " " : "", ad_cli_cmds[i].name);
    }
    fputs(" --help --version\"\n"
          "  else\n"
          "    case \"${COMP_WORDS[1]}\" in\n",
          stdout);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        options_of(ad_cli_cmds[i].help, opts, sizeof(opts));
        const char *subs = ad_cli_cmds[i].subs;
        const char *kind = names_of(ad_cli_cmds[i].help);
        printf("      %s) words=\"%s%s%s --help\"%s%s ;;\n", ad_cli_cmds[i].name,
               subs != NULL ? subs : "", subs != NULL && opts[0] ? " " : "", opts,
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
          stdout);
}

/* s for inside zsh single quotes, ':' escaped for _describe. */
static void zsh_quoted(const char *s, bool colon)
{
    for (; *s != '\0'; s++) {
        if (*s == '\'') {
            fputs("'\\''", stdout);
        } else if (*s == ':' && colon) {
            fputs("\\:", stdout);
        } else {
            putchar(*s);
        }
    }
}

static void zsh_script(void)
{
    char opts[1024];
    fputs("#compdef agentd\n"
          "# zsh completion for agentd, made by 'agentd completion zsh'\n"
          "_agentd() {\n"
          "  local -a cmds\n"
          "  local kind=\"\"\n"
          "  cmds=(\n",
          stdout);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        /* 'name:summary' (names have no ':'; the summary's are escaped) */
        printf("    '%s:", ad_cli_cmds[i].name);
        zsh_quoted(ad_cli_cmds[i].summary, true);
        fputs("'\n", stdout);
    }
    fputs("  )\n"
          "  if (( CURRENT == 2 )); then\n"
          "    _describe 'agentd command' cmds\n"
          "    return\n"
          "  fi\n"
          "  case ${words[2]} in\n",
          stdout);
    for (size_t i = 0; i < ad_cli_ncmds; i++) {
        options_of(ad_cli_cmds[i].help, opts, sizeof(opts));
        const char *subs = ad_cli_cmds[i].subs;
        const char *kind = names_of(ad_cli_cmds[i].help);
        printf("    %s) compadd -- %s%s%s --help%s%s ;;\n", ad_cli_cmds[i].name,
               subs != NULL ? subs : "", subs != NULL && opts[0] ? " " : "", opts,
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
          stdout);
}

int ad_cli_completion(ad_cli_t *c, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "bash") == 0) {
        bash_script();
        return 0;
    }
    if (argc == 1 && strcmp(argv[0], "zsh") == 0) {
        zsh_script();
        return 0;
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
    return ad_cli_usage(c, "usage: agentd completion bash|zsh|names agents|worktrees|workspaces");
}
