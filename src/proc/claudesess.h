/* SPDX-License-Identifier: MIT */
/*
 * Claude Code's session files on this machine (claudesess.c, issue #76):
 * where the CLI keeps an agent's sessions as its runs are arranged here,
 * and a session file read or put there for a live move of the agent
 * (src/move, src/node/nodesess.c). Part of src/proc's interface beside
 * proc.h. Any thread.
 */
#ifndef AD_PROC_CLAUDESESS_H
#define AD_PROC_CLAUDESESS_H

#include "core/core.h"

/* ---- Claude Code's session files (claudesess.c, issue #76) ------------------------------
 * Where Claude Code keeps the sessions of an agent's runs on this machine,
 * as its run is arranged here (agentbox.c, clicfg.c): <its config
 * folder>/projects/<the worktree's name>, the config folder being the
 * agent's own HOME (state.env, control plane only) when it has one, else
 * the user's ~/.claude for an unsandboxed run or an owner's agent whose
 * user has one, else <data_dir>/homes/<agent>/.claude. */
typedef struct {
    const char *data_dir;  /* agentd's (or the node's) data dir */
    const char *agent_id;  /* its letters checked: an id, never a path */
    const char *wt;        /* the folder the CLI runs in (need not exist yet) */
    const char *user_home; /* this machine's user's HOME, or NULL */
    const char *own_home;  /* the agent's state.env HOME, or NULL */
    bool boxed;            /* it runs in agentd's sandbox */
    bool owners;           /* an agent of the owner's organisation */
} ad_proc_claude_where_t;
/* The folder of the CLI whose config folder in a home is dot (".claude",
 * ".codex", ".gemini") that w's runs use, into out: the agent's own HOME's
 * when it has one, else the user's (*users set: unsandboxed, or an owner's
 * agent whose user has one, its parts shown to the run by clicfg.c), else
 * <data_dir>/homes/<agent>/<dot>; *trusted as ad_proc_claude_projects
 * says. 0 or AD_EINVAL. */
int ad_proc_cli_dir(const ad_proc_claude_where_t *w, const char *dot, char *out, size_t outsz,
                    size_t *trusted, bool *users);
/* The worktree's path as getcwd() will say it there (its real path, or its
 * parent's and its last part when it is not made yet). */
void ad_proc_real_wt(const char *wt, char *out, size_t outsz);
/* The CLI's name for a project folder: the path with every character but
 * A-Z a-z 0-9 made '-'. */
void ad_proc_claude_project_name(const char *wt, char *out, size_t outsz);
/* The projects folder of w into out, and in *trusted how many of its
 * first bytes are a root no agent can change (its own HOME, the user's
 * ~/.claude, the data dir's homes/): what follows may be the agent's and
 * is walked with no link followed. 0, or AD_EINVAL (an agent id or a path
 * that does not fit). Any thread. */
int ad_proc_claude_projects(const ad_proc_claude_where_t *w, char *out, size_t outsz,
                            size_t *trusted);
/* A session id Claude Code makes (a UUID: letters, digits and '-', 1 to
 * 64): never a path. */
bool ad_proc_claude_sid_ok(const char *sid);
/* The most a session file moved between machines may be, and the most of
 * it one message between a node and its plane carries (in base64, 512
 * KiB: well under the plane's WebSocket message bound). */
#define AD_PROC_CLAUDE_SESSION_MAX (64u << 20)
#define AD_PROC_CLAUDE_CHUNK (384u * 1024u)
/* Session sid's file in dir (dir/<sid>.jsonl; no link followed at it or
 * at any part of dir past its trusted first bytes) read into *out (owned,
 * *len bytes): 0, ENOENT, EFBIG past the bound, or an errno. */
int ad_proc_claude_session_read(const char *dir, size_t trusted, const char *sid, char **out,
                                size_t *len);
/* The part of it at offset, at most max bytes, into *out (owned, *len
 * bytes; none past its end), and its *size: the same codes. */
int ad_proc_claude_session_read_at(const char *dir, size_t trusted, const char *sid,
                                   uint64_t offset, size_t max, char **out, size_t *len,
                                   uint64_t *size);
/* Part of it written at offset (0: anew; else right after the last part)
 * into a hidden file beside it, which the final part renames into place,
 * so the CLI never reads half a file; the folder as for a write. 0 or an
 * errno (EINVAL for a part out of order); on an error the parts go. */
int ad_proc_claude_session_put(const char *dir, size_t trusted, const char *sid, uint64_t offset,
                               const char *data, size_t len, bool final);
/* data written as dir/name (name one plain file name; at most
 * AD_PROC_CLAUDE_SESSION_MAX bytes, 0600, whole or not at all; dir's
 * missing parts made 0700, none past its trusted bytes a link): 0 or an
 * errno. */
int ad_proc_cli_file_write(const char *dir, size_t trusted, const char *name, const char *data,
                           size_t len);
/* Gemini CLI's project folder for the worktree wt in its config folder cfg
 * (gemcfg.c): the name cfg/projects.json gives wt, else a new one made
 * from wt's last part as the CLI makes them, its tmp/<name>/.project_root
 * saying wt (the CLI's mark of whose it is) and the registry naming it, so
 * `gemini --resume` in wt looks in cfg/tmp/<name>/chats. name (at most 200
 * bytes) into name; 0 or an errno. */
int ad_proc_gemini_place(const char *cfg, size_t trusted, const char *wt, char *name,
                         size_t namesz);
/* Written as dir/<sid>.jsonl (0600, whole or not at all; dir's missing
 * parts made 0700, none past its trusted bytes a link): 0 or an errno. */
int ad_proc_claude_session_write(const char *dir, size_t trusted, const char *sid, const char *data,
                                 size_t len);

#endif
