/* SPDX-License-Identifier: MIT */
/*
 * The command table: every command's name, function, subcommands, one-line
 * summary and full help. Everything that lists commands is made from it:
 * dispatch, `agentd COMMAND --help`, the Commands section of `agentd
 * --help`, the shell completion scripts (complete.c) and the manual pages
 * (man.c), so there is no second, hand-kept list to drift. Each command
 * belongs to a group, which is its manual page (agentd-GROUP(1)).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

const ad_cli_cmd_t ad_cli_cmds[] = {
    {"serve", NULL, NULL, "run the daemon (HTTP, WebSocket and SSE on one listener)",
     "Usage: agentd serve [OPTION]...\n"
     "Run the daemon in the foreground (see 'agentd serve --help').\n",
     "daemon"},
    {"ls", ad_cli_ls, NULL, "list agents: name, status, worktree and cost",
     "Usage: agentd ls [--all] [--worktree WT] [--status S] [--json]\n"
     "List agents as a table: id, full name, executor, status, mode, the\n"
     "worktree's name, the node it runs on (once one is used) and what the\n"
     "agent's runs cost so far. A waiting agent\n"
     "reads needs you (an approval or a question waits) or turn done.\n"
     "  --all          archived agents too (shown as archived)\n"
     "  --worktree WT  only this worktree's agents (its id or name)\n"
     "  --status S     only agents in status S (running, waiting, idle, ...)\n"
     "  --json         the daemon's JSON instead of the table\n",
     "agents"},
    {"new", ad_cli_new, NULL, "create an agent and print its id",
     "Usage: agentd new --worktree WT [--executor E] [--mode M] [--name N]\n"
     "                  [--allow read,write,execute] [--terminal] [--model M]\n"
     "                  [--base-url URL] [--acp-agent A] [--node N|any] [--json]\n"
     "                  [-- PROGRAM ARG...]\n"
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
     "  --node N        run it on worker node N (any: any node that fits)\n"
     "  --json          the new agent as JSON\n",
     "agents"},
    {"sessions", ad_cli_sessions, "ls adopt",
     "the CLIs' own sessions on this machine, or adopt one as an agent",
     "Usage: agentd sessions [ls] [--node N] [--json]\n"
     "       agentd sessions adopt claude|codex|gemini SESSION-ID [--node N]\n"
     "                             [--worktree WT] [--name N] [--mode M] [--json]\n"
     "List the sessions Claude Code, Codex and Gemini CLI keep in the daemon\n"
     "user's HOME (~/.claude/projects, ~/.codex/sessions, ~/.gemini/tmp) and in\n"
     "each connected node user's, newest first: the tool, the session id, its\n"
     "node (- for this machine), whether a process still writes it, its last\n"
     "activity, git branch, folder and first message. Or adopt one: an agent in\n"
     "the worktree it ran in (its folder registered as a workspace when none\n"
     "is), its messages imported, its session resumed at the agent's next\n"
     "start. A session still being written is refused until it ends.\n"
     "  --node N       a node's sessions (ls), or adopt one of node N's Claude\n"
     "                 sessions: the agent is pinned to N and resumes there\n"
     "  --worktree WT  the worktree (id or name); it must be the session's folder\n"
     "                 (on a node: the worktree whose copy there the agent uses)\n"
     "  --name N       the agent's name (default: the first message)\n"
     "  --mode M       regular (asks before tools), plan or auto\n"
     "  --json         the daemon's JSON\n",
     "agents"},
    {"start", ad_cli_start, NULL, "start an agent, optionally with a first prompt",
     "Usage: agentd start AGENT [PROMPT] [--config CFG [--config-flags]] [--queue]\n"
     "       [--goal CMD [--goal-prompt TEXT] [--max-turns N] [--max-cost USD]] [--json]\n"
     "Start an agent, optionally with a first prompt.\n"
     "  --config CFG     a hyper-parameter config: its values in the JSON file\n"
     "                   named by AGENTD_CONFIG\n"
     "  --config-flags   also as --name=value flags (command agents)\n"
     "  --queue          when no worker node can take it now, wait in the queue\n"
     "                   and start when one has room (docs/nodes.md)\n"
     "  --goal CMD       a goal: after each turn CMD (a shell line) runs in the\n"
     "                   worktree, until it exits 0 (`agentd send` takes these too)\n"
     "  --goal-prompt T  what the agent is sent, with the check's output, while\n"
     "                   the goal is not met\n"
     "  --max-turns N    the goal's turns at most (10)\n"
     "  --max-cost USD   the goal's cost at most, in dollars\n"
     "  --json           the agent as JSON\n",
     "agents"},
    {"send", ad_cli_send, NULL, "send a message to a running agent",
     "Usage: agentd send AGENT MESSAGE [--goal CMD ...] [--json]\n"
     "Send a message to a running agent (codex and gemini: the next turn,\n"
     "resuming the session).\n"
     "  --goal CMD  a goal from this turn on, as `agentd start` takes it\n"
     "              (--goal-prompt, --max-turns, --max-cost)\n"
     "  --json      the daemon's answer as JSON\n",
     "agents"},
    {"search", ad_cli_search, NULL, "search every transcript: messages, tool calls, outputs",
     "Usage: agentd search QUERY [--agent A] [--worktree W] [--since T] [--limit N]\n"
     "                     [--offset N] [--json]\n"
     "Search the messages, tool calls and tool outputs of every agent you can see,\n"
     "best match first: each hit's time, agent, kind (message, tool_call or\n"
     "tool_output) and message id, then its snippet with the matching words in\n"
     "bold. QUERY is words (all must match; quotes and operators are words too).\n"
     "  --agent A     only this agent's (its id or name)\n"
     "  --worktree W  only this worktree's agents' (its id or name)\n"
     "  --since T     only messages from T on (RFC 3339, or milliseconds)\n"
     "  --limit N     at most N hits (1-100, default 20)\n"
     "  --offset N    skip the first N (the line 'more: --offset N' says where)\n"
     "  --json        the daemon's JSON\n",
     "agents"},
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
     "  --json        raw messages (with -f: raw events), one JSON a line\n",
     "agents"},
    {"stop", ad_cli_stop, NULL, "stop an agent and wait until its run has ended",
     "Usage: agentd stop [--force] [--no-wait] AGENT [--json]\n"
     "Stop an agent: politely, then SIGTERM and SIGKILL after the grace period\n"
     "(--stop-grace-ms of the daemon), and wait until its run has ended.\n"
     "  --force    SIGKILL at once (also escalates a stop already under way)\n"
     "  --no-wait  return as soon as the daemon says stopping\n"
     "  --json     the agent as JSON\n",
     "agents"},
    {"move", ad_cli_move, NULL, "move a live agent to a worker node or the control plane",
     "Usage: agentd move AGENT (--node NAME | --plane) [--json]\n"
     "Move an agent to another machine while it runs (admin): stopped at a safe\n"
     "point, its worktree's work carried, started again there in the same\n"
     "transcript (docs/nodes.md, \"Moving a live agent\"). A stopped agent is\n"
     "placed there for its next start. Refused, with the reason, when the node\n"
     "cannot take it or its executor cannot resume there.\n"
     "  --node NAME  the worker node (its name or id)\n"
     "  --plane      the control plane\n"
     "  --json       the daemon's answer {agent, moved}\n",
     "agents"},
    {"resume", ad_cli_resume, NULL, "resume an agent suspended on a usage limit (or paused)",
     "Usage: agentd resume AGENT [--json]\n"
     "An agent suspended on a rate or usage limit resumes now instead of at\n"
     "the reset (`agentd ls` says until when): a new run of its session with\n"
     "the message \"continue\". A paused agent goes on (SIGCONT).\n"
     "  --json  the agent as JSON\n",
     "agents"},
    {"fork", ad_cli_fork, NULL, "copy an agent (its conversation too) as a new agent",
     "Usage: agentd fork AGENT [--name N] [--worktree WT] [--json]\n"
     "Make a new agent from AGENT: its settings, and its conversation for\n"
     "claude (the fork resumes the session); print the new id.\n"
     "  --name N       the fork's name (default: the parent's, with (fork))\n"
     "  --worktree WT  place the fork in another worktree of the same org\n"
     "  --json         the new agent as JSON\n",
     "agents"},
    {"rm", ad_cli_rm, NULL, "archive an agent (--hard: delete it)",
     "Usage: agentd rm [--hard] [--yes] AGENT [--json]\n"
     "Archive an agent: its transcript, runs and metrics stay (the dashboard's\n"
     "Restore brings it back). A running one is stopped: on a terminal it says\n"
     "so and asks first; elsewhere it is refused (exit 2) without --yes.\n"
     "  --hard  delete it with its transcript, runs and metrics for good; refused\n"
     "          while it runs; on a terminal it asks first\n"
     "  --yes   do it without asking (--hard, or stopping a running agent)\n"
     "  --json  the daemon's answer as JSON\n",
     "agents"},
    {"approvals", ad_cli_approvals, NULL, "an agent's tool calls waiting for approval",
     "Usage: agentd approvals AGENT [--json]\n"
     "An agent's tool calls waiting for approval: id, tool and input.\n"
     "  --json  the daemon's JSON\n",
     "agents"},
    {"approve", ad_cli_approve, NULL, "allow or deny a tool call waiting for approval",
     "Usage: agentd approve ID [--deny | --always] [--json]\n"
     "Allow a tool call waiting for approval (ID from 'agentd approvals' or\n"
     "'agentd logs -f').\n"
     "  --deny    refuse it instead\n"
     "  --always  allow it, and the same tool from now on, for this agent\n"
     "  --json    the decided approval as JSON\n",
     "agents"},
    {"node", ad_cli_node, "ls queue drain cordon uncordon set events token",
     "run a worker node (--join), or list and manage the nodes",
     "Usage: agentd node --join URL[,URL...] (--token T | --token-file F |\n"
     "                   --registration-token-file F) [--name N]\n"
     "                   [--labels k=v,...] [--data-dir D] [--planes-allow H,...]\n"
     "       agentd node ls|queue [--json]\n"
     "       agentd node drain|cordon|uncordon NAME [--json]\n"
     "       agentd node set NAME [--max-runs N|none] [--label k=v,... | --clear-labels]\n"
     "       agentd node events NAME [--limit N] [--json]\n"
     "       agentd node token create [--ttl 10m] [--max-uses N] [--label k=v,...]\n"
     "       agentd node token ls|revoke ID\n"
     "Run this machine as a worker node of the control plane at URL: one outbound\n"
     "WebSocket, authenticated with a token of scope node (agentd token create\n"
     "NAME --scope node); runs placed on it run here under holders and survive\n"
     "restarts and network cuts of either side (docs/nodes.md). Or list the\n"
     "nodes that joined this control plane: name, state, schedule, runs, queued\n"
     "starts, last seen; drain one (no new work, what runs finishes), cordon or\n"
     "uncordon it, bound its runs or set its labels (admin; docs/nodes.md,\n"
     "\"Draining, cordoning, capacity and queues\"); list the starts queued;\n"
     "show a node's history; make the short-lived registration tokens a new\n"
     "node trades, once, for a key of its own (\"Registration tokens\").\n"
     "  --data-dir D      the node's own data dir (its holders and working folders)\n"
     "  --join URL,...    the control planes (http(s):// or ws(s)://), up to 8,\n"
     "                    dialled in turn\n"
     "  --planes-allow H,...  hosts besides --join's whose control planes' URLs,\n"
     "                    as the planes send them, this node may dial\n"
     "  --token T         a node token (seen by every user of the machine: prefer\n"
     "                    --token-file)\n"
     "  --token-file F    read the node token from F (mode 0600)\n"
     "  --registration-token-file F  a registration token, traded at the first\n"
     "                    start for this node's key (kept in its data dir, 0600)\n"
     "  --registration-token T  the same on the command line\n"
     "  --ttl D           (token create) how long it may be used: 600, 10m, 2h, 7d\n"
     "  --max-uses N      (token create) nodes that may trade it (default 1)\n"
     "  --limit N         (events) at most N, newest first (default 50)\n"
     "  --name N          this node's name, unique in its org (default: host name)\n"
     "  --labels k=v,...  labels a placement may ask for\n"
     "  --max-runs N      (set) the most runs at once; none: no bound\n"
     "  --label k=v,...   (set) labels that replace the node's own (--labels too)\n"
     "  --clear-labels    (set) the node's own labels again\n"
     "  --json            (ls, queue, drain, ...) the daemon's JSON\n",
     "agents"},
    {"token", ad_cli_token, "create ls revoke rotate-owner", "make, list or revoke API tokens",
     "Usage: agentd token create NAME [--scope read|write|admin|node] [--org ID]\n"
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
     "  --json          the daemon's JSON\n",
     "access"},
    {"user", ad_cli_user, "add ls passwd disable rm role",
     "user accounts that sign in with a password",
     "Usage: agentd user add NAME [--role read|write|admin] [--org ID] [--json]\n"
     "       agentd user ls [--json]\n"
     "       agentd user passwd NAME\n"
     "       agentd user disable NAME\n"
     "       agentd user rm NAME\n"
     "       agentd user role NAME ORG read|write|admin|none [--json]\n"
     "Accounts sign in to the dashboard with a username and a password (kept\n"
     "as an argon2id hash), with a role per organisation (a token scope). The\n"
     "password is read from standard input (no echo on a terminal), never\n"
     "from the command line. Disabling or removing an account, or changing a\n"
     "role, ends its sessions at once.\n"
     "  --role R   its role in --org (default: none yet)\n"
     "  --org ID   its home organisation, whose admins manage it\n"
     "  --json     the daemon's JSON\n",
     "access"},
    {"credits", ad_cli_credits, "grant show", "an organisation's credits, or grant it some",
     "Usage: agentd credits [show] [ORG] [--json]\n"
     "       agentd credits grant ORG AMOUNT [--note TEXT] [--json]\n"
     "An organisation's credit balance (granted, less what its runs cost, less\n"
     "what running ones have cost so far) and its grants; or grant it credits\n"
     "(one credit is one US dollar of model cost; a negative AMOUNT takes some\n"
     "back). ORG is an organisation's id or name (default: the default org).\n"
     "  --note TEXT  why, kept with the grant\n"
     "  --json       the daemon's JSON\n",
     "access"},
    {"import", ad_cli_import, NULL, "bring a Claude Manager database across",
     "Usage: agentd import PATH/claude-manager.db [--org ORG] [--json]\n"
     "Copy a Claude Manager install's workspaces, worktrees, agents, messages,\n"
     "usage, settings and agent sessions into agentd (ids kept), and print per\n"
     "table how many rows the source had and how many were imported, already\n"
     "present (a second import changes nothing) or skipped.\n"
     "  --org ORG  the organisation its workspaces go to (default: the default)\n"
     "  --json     the daemon's JSON\n",
     "access"},
    {"login", ad_cli_login, NULL, "print a dashboard sign-in URL with a one-time code",
     "Usage: agentd login [--json]\n"
     "Print a dashboard sign-in URL with a one-time code (good once, for 5 min).\n"
     "  --json  the daemon's JSON\n",
     "access"},
    {"ws", ad_cli_ws, "ls add", "list or add workspaces (git repositories)",
     "Usage: agentd ws ls [--json]\n"
     "       agentd ws add PATH [--name N] [--json]\n"
     "Workspaces are the git repositories agentd manages: list them, or add\n"
     "the repository at PATH (its worktrees come with it).\n"
     "  --name N  the workspace's name (default: the folder's)\n"
     "  --json    the daemon's JSON\n",
     "worktrees"},
    {"wt", ad_cli_wt, "ls new rm merge", "list, create, delete or merge worktrees",
     "Usage: agentd wt ls [--workspace WS] [--json]\n"
     "       agentd wt new --workspace WS NAME [--branch B] [--base REF]\n"
     "       agentd wt rm [--force] [--stop] [--yes] WT\n"
     "       agentd wt merge WT [--into BRANCH] [--strategy merge|squash|rebase]\n"
     "                       [--message TEXT]\n"
     "Worktrees: list them, create one (a new branch NAME, or --branch, made\n"
     "from --base, by default the main worktree's branch), remove one, and\n"
     "merge one's branch into its base branch (see 'agentd merge --help').\n"
     "rm deletes the worktree's folder (its branch and commits stay) and\n"
     "archives its agents: their transcripts, runs and metrics are kept\n"
     "(agentd logs ID, and the dashboard's Runs and Analytics).\n"
     "It refuses while an agent of it runs; on a terminal it names them and\n"
     "asks whether to stop them.\n"
     "  --workspace WS  the workspace (ls: only its worktrees)\n"
     "  --branch B      the new worktree's branch (default: NAME)\n"
     "  --base REF      what the branch is made from\n"
     "  --force         delete even with uncommitted or unmerged work (lost);\n"
     "                  a merged worktree (agentd merged it, or its squash is\n"
     "                  on the base) needs no --force\n"
     "  --stop          rm: stop the worktree's running agents first\n"
     "  --yes           rm: do not ask; stop running agents (as --stop)\n"
     "  --into BRANCH   merge: the branch to merge into (default: its base)\n"
     "  --strategy S    merge: merge (the default), squash or rebase\n"
     "  --message TEXT  merge: the commit message (merge and squash)\n"
     "  --json          the daemon's JSON\n",
     "worktrees"},
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
     "  --json         the daemon's JSON\n",
     "worktrees"},
    {"pr", ad_cli_pr, "create status loop",
     "open a worktree's pull request, or show it and its checks",
     "Usage: agentd pr create WT --title TITLE [--body TEXT] [--draft] [--json]\n"
     "       agentd pr status WT [--json]\n"
     "       agentd pr loop WT [--agent A [--max-turns N] [--no-checks] [--no-reviews] | --off]\n"
     "create pushes the worktree's branch and opens a pull request into its base\n"
     "branch on the forge its remote points at (GitHub, GitLab, Gitea/Forgejo),\n"
     "with the token stored as credential github, gitlab or gitea; an open one\n"
     "for the branch is taken over. status reads its state and checks.\n"
     "A self-hosted forge is mapped by an admin in the setting forge_hosts.\n"
     "  --title T  the pull request's title (required)\n"
     "  --body T   its description\n"
     "  --draft    open it as a draft\n"
     "loop shows the pull request's feedback loop; with --agent it turns it on:\n"
     "the agent gets each failed check (with its log) and review comment as its\n"
     "next message, until the checks pass or its turn limit is reached.\n"
     "  --agent A       loop: turn it on for agent A, of this worktree\n"
     "  --max-turns N   loop: the agent's turn limit (1 to 100, 5)\n"
     "  --no-checks     loop: leave failed checks out\n"
     "  --no-reviews    loop: leave review comments out\n"
     "  --off           loop: turn it off\n"
     "  --json     the daemon's JSON\n",
     "worktrees"},
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
     "  --json         the daemon's JSON\n",
     "worktrees"},
    {"routine", ad_cli_routine, "ls new run runs rm",
     "agents that run themselves: on a schedule or a webhook",
     "Usage: agentd routine ls [--json]\n"
     "       agentd routine new NAME (--worktree WT | --workspace WS [--base BRANCH])\n"
     "                          (--every 1h | --cron EXPR [--tz ZONE] | --webhook [--events "
     "LIST])\n"
     "                          [--prompt TEXT] [--executor E] [--missed skip|once|all]\n"
     "                          [--runs-per-day N] [--concurrent N] [--cost-per-run USD]\n"
     "                          [--cost-per-day USD] [--paused] [--file FILE] [-- COMMAND...]\n"
     "       agentd routine run|runs|rm ROUTINE [--json]\n"
     "A routine is a saved agent and a trigger: every N s, m, h or d; a cron\n"
     "expression (five fields) in a time zone; or a webhook signed with the\n"
     "routine's secret (printed once by new), which GitHub, GitLab or Gitea can\n"
     "call. Each fire makes an agent named after it in the worktree (or a fresh\n"
     "worktree from BRANCH) and starts it with the prompt; a command after --\n"
     "makes it a command agent. run fires it now; runs lists its runs, newest\n"
     "first, with why a fire was skipped. ROUTINE: an id or a name.\n"
     "  --worktree WT    the worktree its runs work in\n"
     "  --workspace WS   a fresh worktree per run in WS, from --base BRANCH\n"
     "  --base BRANCH    (default main)\n"
     "  --every P        10s, 15m, 1h, 2d\n"
     "  --cron EXPR      min hour day month weekday, as \"0 3 * * 1-5\"\n"
     "  --tz ZONE        the cron's zone (Europe/Paris; default UTC)\n"
     "  --webhook        fired by POST /api/hooks/ID, signed with its secret\n"
     "  --events LIST    a webhook for these forge events only: pull_request.opened,\n"
     "                   check_run.failed, issues.labeled ...\n"
     "  --prompt TEXT    what the agent starts with (a webhook's body is quoted under it)\n"
     "  --runs-per-day N, --concurrent N (default 1), --cost-per-run USD,\n"
     "  --cost-per-day USD   the limits: a fire past one is skipped with the reason\n"
     "  --paused         made switched off\n"
     "  --missed M       fires missed while agentd was down, or overlapping a run:\n"
     "                   skip, once (the default: one run for them) or all\n"
     "  --file FILE      the body as JSON (docs/routines.md); the flags add to it\n"
     "  --json           the daemon's JSON\n",
     "agents"},
    {"diff", ad_cli_diff, NULL, "a worktree's changes, or its work against the base",
     "Usage: agentd diff WT [FILE] [--against REF] [--working] [--json]\n"
     "What a worktree's branch would bring to its base: ahead/behind, the\n"
     "commits, and the files changed (committed or not) with +/- counts; with\n"
     "FILE, that file's patch.\n"
     "  --against REF  compare with REF instead of the base branch\n"
     "  --working      only the uncommitted changes (against HEAD)\n"
     "  --json         the daemon's JSON\n",
     "worktrees"},
    {"commit", ad_cli_commit, NULL, "commit a worktree's changes",
     "Usage: agentd commit WT -m MESSAGE [--all] [--json]\n"
     "Commit the worktree's staged changes (no hooks run).\n"
     "  -m, --message T  the commit message (required)\n"
     "  --all            stage every change first, new files too (git add -A)\n"
     "  --json           the daemon's JSON\n",
     "worktrees"},
    {"open", ad_cli_open, NULL, "open the dashboard (or an agent's page) in a browser",
     "Usage: agentd open [AGENT] [--print]\n"
     "Open the dashboard, or AGENT's page, in a browser (xdg-open or open);\n"
     "with no display, or --print, print the URL instead.\n"
     "  --print  print the URL, open nothing\n"
     "AGENTD_OPENER names the program to open it with (such as firefox).\n",
     "desktop"},
    {"mcp", ad_cli_mcp, NULL, "be an MCP server for an agent or assistant (stdio)",
     "Usage: agentd mcp\n"
     "Speak the Model Context Protocol on stdin and stdout, for a host that runs\n"
     "this as an MCP server (Claude Code: claude mcp add agentd -- agentd mcp).\n"
     "Its tools are agentd's: list_agents, get_agent, list_worktrees,\n"
     "create_worktree, start_agent, send_message, stop_agent, read_transcript,\n"
     "list_approvals, decide_approval, diff, merge, training_metrics, health;\n"
     "each calls the daemon on its unix socket with the CLI's rights (the\n"
     "owner's), as agentd's other commands do.\n",
     "editors"},
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
     "  --model M      the model\n",
     "editors"},
    {"app", ad_cli_app, NULL, "open the dashboard as an app window",
     "Usage: agentd app [AGENT] [--print]\n"
     "Open the dashboard, or AGENT's page, as an app window of a Chromium-family\n"
     "browser (chromium, google-chrome, brave-browser, microsoft-edge: --app=URL),\n"
     "else in the default browser as 'agentd open' does. The dashboard installs as\n"
     "an app from there too, and opens while agentd is down to say so.\n"
     "  --print  print the URL, open nothing\n"
     "AGENTD_APP_BROWSER names the browser to use.\n",
     "desktop"},
    {"tray", ad_cli_tray, NULL, "show the agents that need you in the desktop's tray",
     "Usage: agentd tray\n"
     "Run the tray helper (agentd-tray, a process of its own): an icon in the\n"
     "desktop's tray (StatusNotifierItem) that says how many agents need you (an\n"
     "approval or a question waits), with a menu of them (each opens its page),\n"
     "Open dashboard, Pause all and Quit. It shows desktop notifications: an\n"
     "approval request with the tool and its input, and Allow and Deny buttons\n"
     "that decide it; a finished turn or a failed run, with Open. None about an\n"
     "agent whose page you have in front of you in the dashboard. It talks to\n"
     "the daemon as the CLI does (the unix socket) and follows its events; the\n"
     "packages start it at login (/etc/xdg/autostart).\n",
     "desktop"},
    {"completion", ad_cli_completion, "bash zsh fish names", "print a shell completion script",
     "Usage: agentd completion bash|zsh|fish\n"
     "       agentd completion names agents|worktrees|workspaces\n"
     "Print a completion script for bash, zsh or fish, made from this agentd's\n"
     "own command and option tables; it completes agent, worktree and workspace\n"
     "names from the running daemon (completion names prints them, one a line).\n"
     "The packages install these scripts; to load one by hand:\n"
     "  bash: source <(agentd completion bash)\n"
     "  zsh:  source <(agentd completion zsh)\n"
     "  fish: agentd completion fish | source\n",
     "desktop"},
    {"service", ad_cli_service, "install uninstall status units",
     "run agentd as a systemd user service, started on the first connection",
     "Usage: agentd service install [--no-start]\n"
     "       agentd service uninstall\n"
     "       agentd service status [--json]\n"
     "       agentd service units [--system] DIR\n"
     "install writes systemd user units to ~/.config/systemd/user and enables\n"
     "them: agentd.socket listens on --listen and on <data-dir>/agentd.sock and\n"
     "starts agentd.service (agentd serve --keep-agents, KillMode=process) on the\n"
     "first connection. systemd keeps the sockets while agentd restarts or is\n"
     "upgraded, so a connection then waits instead of being refused, and every\n"
     "agent keeps running under its holder. The units run this agentd with this\n"
     "data dir and the PATH of the shell that installs them. uninstall disables\n"
     "and removes them (running agents go on); status says what is in place.\n"
     "units writes the units a package installs into DIR: the user units (for\n"
     "/usr/lib/systemd/user, %h paths), or with --system the server units that\n"
     "run agentd as the user agentd on /var/lib/agentd.\n"
     "  --no-start  install: enable the socket from the next login, start nothing\n"
     "  --system    units: the system-wide units for a server\n"
     "  --json      status: as JSON\n"
     "Without a login session (a server, ssh), user services stop at logout:\n"
     "'loginctl enable-linger USER' keeps them running.\n",
     "daemon"},
    {"db", ad_cli_db, "migrate copy check repair resum",
     "check or repair the SQLite database; prepare a PostgreSQL one",
     "Usage: agentd db migrate [--database URL]\n"
     "       agentd db copy [--from sqlite:PATH] [--to URL]\n"
     "       agentd db check\n"
     "       agentd db repair\n"
     "       agentd db resum\n"
     "check reads every page of the data dir's agentd.db (each page carries a\n"
     "checksum) and prints each table: ok, or what is damaged; exit 1 when any\n"
     "is. repair (agentd stopped: it refuses while a daemon holds the data dir)\n"
     "copies every readable row into a new database, puts it in place, keeps\n"
     "the old one as agentd.db.damaged-<ms> and prints each table's rows\n"
     "copied and lost (docs/operations.md, \"A damaged database\"). resum\n"
     "(agentd stopped) sums every page again after another program (the\n"
     "sqlite3 shell) wrote to agentd.db on purpose: its pages fail the check.\n"
     "PostgreSQL, the first part (docs/operations.md): the daemon serves from\n"
     "SQLite only, and 'agentd serve --database' refuses. migrate applies\n"
     "agentd's schema to the database (once: a second run applies nothing;\n"
     "two at once wait on each other). copy migrates, then copies every row of\n"
     "an agentd SQLite database into it in one transaction, and prints each\n"
     "table's rows on both sides: it refuses a target that holds data and a\n"
     "source a running daemon holds, and commits nothing unless every count\n"
     "matches. URL: postgres://USER[:PASSWORD]@HOST[:PORT]/DB (libpq's form;\n"
     "?host=/dir for a unix socket), default AGENTD_DATABASE_URL.\n"
     "  --database URL  (migrate) the PostgreSQL database\n"
     "  --to URL        (copy) the PostgreSQL database (default: --database)\n"
     "  --from PATH     (copy) sqlite:FILE, a file or a data dir (default: the\n"
     "                  data dir's agentd.db); stop its daemon first\n"
     "Exit codes: 2 a bad URL or usage, 1 anything else (unreachable server,\n"
     "refused credentials, a target with data, no source, counts that differ,\n"
     "a damaged table, a running daemon).\n",
     "daemon"},
    {"sandbox", ad_cli_sandbox, "check", "try a command in an agent's sandbox, as an agent runs it",
     "Usage: agentd sandbox check [--json] [--worktree WT | --agent AGENT]\n"
     "                            [-- COMMAND [ARG]...]\n"
     "Ask the daemon to run COMMAND in an agent's sandbox the way an agent of the\n"
     "owner's organisation runs it: found on the agent's PATH (agentd's, with the\n"
     "home's toolchain folders such as ~/.local/bin and ~/.pyenv/shims in front),\n"
     "a relative path against an empty read-only scratch worktree, ~ against the\n"
     "home, and shown what it needs (its toolchain tree, the paths its arguments\n"
     "name). Prints what it resolved to, what the sandbox shows, whether it\n"
     "started, its exit code and first output. Without COMMAND, whether each\n"
     "agent CLI found (claude, codex, gemini) starts in the sandbox (its\n"
     "--version).\n"
     "Exit 0 when it ran and exited 0 (each CLI found starts), else 1.\n"
     "  --json             the daemon's JSON\n"
     "  --worktree WT      check COMMAND in that worktree (name or id), read-only,\n"
     "                     as its organisation's agents run: ./tools/run.sh is\n"
     "                     found in it\n"
     "  --agent AGENT      the same in that agent's worktree\n",
     "agents"},
    {"version", ad_cli_version, NULL, "this agentd's version, the daemon's and its holders'",
     "Usage: agentd version [--json]\n"
     "Print this agentd's version, and when a daemon runs on the data dir its\n"
     "version and each holder's: the process that keeps an agent running across\n"
     "restarts and upgrades keeps the version it was started with until its agent\n"
     "ends. A holder from before holders said their version reads 'older'; it\n"
     "works as ever. agentd itself checks nothing on the network.\n"
     "  --json  {client, daemon, holders} as JSON\n",
     "daemon"},
    {"help", ad_cli_help, NULL, "print this help, a command's, or a manual page",
     "Usage: agentd help [COMMAND]\n"
     "       agentd help --man [PAGE]\n"
     "       agentd help --man-pages\n"
     "Print this help, or COMMAND's (as 'agentd COMMAND --help'). The manual\n"
     "pages are made from the same text and the same option table: --man prints\n"
     "one as roff (read it with: agentd help --man | man -l -).\n"
     "  --man PAGE   agentd (the default) or agentd-GROUP, as --man-pages lists\n"
     "  --man-pages  each page's name and the commands it describes, one a line\n",
     "daemon"},
};
const size_t ad_cli_ncmds = AD_ARRAY_LEN(ad_cli_cmds);

const ad_cli_group_t ad_cli_groups[] = {
    {"daemon", "run the daemon; versions and help"},
    {"agents", "make, run, watch and stop agents"},
    {"worktrees", "workspaces, worktrees, their changes, merges and workflows"},
    {"access", "tokens, sign-in, credits and imports"},
    {"desktop", "the dashboard in a browser, the tray, shell completion"},
    {"editors", "agentd as an MCP server or an ACP agent"},
};
const size_t ad_cli_ngroups = AD_ARRAY_LEN(ad_cli_groups);

const char ad_cli_about[] = "The local control plane for AI agents.";
const char ad_cli_conventions[] =
    "AGENT, WS, WT: an id or a name (an id wins). Exit codes: 1 failed or\n"
    "not found, 2 usage error or a name several rows share (ids listed).\n"
    "Client commands talk to the daemon over <data-dir>/agentd.sock and\n"
    "accept --json for machine-readable output.\n";

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

/* Each line of text, indented by two spaces. */
static void indented(FILE *out, const char *text)
{
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        fprintf(out, "  %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

void ad_cli_print_usage(FILE *out)
{
    fprintf(out,
            "Usage: agentd [OPTION]... COMMAND [ARG]...\n"
            "%s\n"
            "\n"
            "Commands:\n",
            ad_cli_about);
    ad_cli_print_commands(out);
    fputs("\n", out);
    indented(out, ad_cli_conventions);
    fputs("\n"
          "Options (each also read from the AGENTD_* variable shown):\n",
          out);
    ad_config_print_help(out);
    fputs("  --help                         print help and exit\n"
          "  --version                      print the version and exit\n"
          "\n"
          "Run 'agentd COMMAND --help' for a command's own help.\n",
          out);
}

void ad_cli_print_serve_usage(FILE *out)
{
    fputs("Usage: agentd serve [OPTION]...\n"
          "Run the agentd daemon in the foreground until SIGINT or SIGTERM.\n"
          "\n"
          "Options:\n",
          out);
    ad_config_print_help(out);
}

int ad_cli_help(ad_cli_t *c, int argc, char **argv)
{
    if (argc == 0) {
        ad_cli_print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[0], "--man-pages") == 0 && argc == 1) {
        return ad_cli_man_list(stdout);
    }
    if (strcmp(argv[0], "--man") == 0 && argc <= 2) {
        if (ad_cli_man_page(argc == 2 ? argv[1] : "agentd", stdout) != 0) {
            return ad_cli_usage(c, "no such manual page (see 'agentd help --man-pages')");
        }
        return 0;
    }
    const ad_cli_cmd_t *cmd = argc == 1 ? ad_cli_cmd(argv[0]) : NULL;
    if (cmd == NULL) {
        return ad_cli_usage(c, "usage: agentd help [COMMAND | --man [PAGE] | --man-pages]");
    }
    if (strcmp(cmd->name, "serve") == 0) {
        ad_cli_print_serve_usage(stdout);
    } else {
        ad_cli_print_command_help(cmd, stdout);
    }
    return 0;
}
