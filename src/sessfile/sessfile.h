/* SPDX-License-Identifier: MIT */
/*
 * sessfile: the agent CLIs' own session files under a HOME, found and read
 * as untrusted input (issue #76, docs/sessions.md): Claude Code's
 * ~/.claude/projects/<folder>/<id>.jsonl, Codex's
 * ~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl and Gemini CLI's
 * ~/.gemini/tmp/<project>/chats/session-*.jsonl (its id the header's
 * sessionId). Files are opened with no link followed beneath the CLI's own
 * folder, read in bounded windows (files, bytes, line length), any line
 * that is not what is expected skipped. Pure reading, no state: the
 * control plane's engine (src/sessions) and a node (src/node) both call
 * it. Any thread (the scans and reads block on the disk: the thread pool).
 */
#ifndef AD_SESSFILE_H
#define AD_SESSFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* The bounds of a reading (scan.c, read.c). */
#define AD_SESS_FILES_MAX 2000        /* files looked at in a scan, each CLI */
#define AD_SESS_LIST_MAX 500          /* sessions listed, newest first */
#define AD_SESS_LINE_MAX (1u << 20)   /* a longer line is skipped */
#define AD_SESS_WINDOW (128u << 10)   /* the head and the tail read for a listing */
#define AD_SESS_READ_MAX (64u << 20)  /* the last bytes of a file a read takes */
#define AD_SESS_MESSAGES_MAX 5000     /* the last messages a read keeps */
#define AD_SESS_TEXT_MAX (256u << 10) /* a message's text is cut there */
#define AD_SESS_PREVIEW_MAX 400       /* firstMessage, lastMessage */
#define AD_SESS_LIVE_MS 10000         /* written this recently: live */
#define AD_SESS_ID_MAX 64

typedef enum { AD_SESS_CLAUDE = 0, AD_SESS_CODEX, AD_SESS_GEMINI, AD_SESS_TOOLS } ad_sess_tool_t;

/* ---- names.c --------------------------------------------------------------------- */
/* "claude", "codex", "gemini". */
const char *ad_sess_tool_name(ad_sess_tool_t t);
int ad_sess_tool_parse(const char *s, ad_sess_tool_t *out);
/* "claude", "codex" or "gemini": 0, or AD_EINVAL (with e naming tool, when
 * e is not NULL). */
int ad_sess_tool_check(const char *tool, ad_field_err_t *e);
/* A session id as the CLIs make them (letters, digits and '-', at most
 * AD_SESS_ID_MAX - 1, not starting with '-'): 0, or AD_EINVAL with e
 * naming sessionId. */
int ad_sess_id_check(const char *id, ad_field_err_t *e);

/* A session file and what its head and tail say. */
typedef struct {
    ad_sess_tool_t tool;
    char id[AD_SESS_ID_MAX];
    char rel[512]; /* below the CLI's folder: "<project>/<id>.jsonl", "2026/11/29/rollout-…" */
    char branch[256];
    char *cwd;          /* owned: the folder it ran in (absolute), or NULL */
    char *first, *last; /* owned previews, or NULL */
    int64_t started_ms, last_ms, mtime_ms, size;
    uint64_t dev, ino;
    bool live, open_elsewhere;
} ad_sess_info_t;

void ad_sess_info_clear(ad_sess_info_t *s);
/* s's folder set to path (absolute, at most PATH_MAX; else left). */
void ad_sess_set_cwd(ad_sess_info_t *s, const char *path);
/* The listing's object of s (new reference): {tool, sessionId, cwd,
 * gitBranch, startedAt, lastActivity, firstMessage, lastMessage, size,
 * live}. */
json_t *ad_sess_info_json(const ad_sess_info_t *s);

/* ---- scan.c ---------------------------------------------------------------------- */
/* The CLI's folder under home ("<home>/.claude/projects",
 * "<home>/.codex/sessions") opened with no link followed on the way: a
 * directory fd, or -1. */
int ad_sess_root_open(const char *home, ad_sess_tool_t tool);
/* Every session file under home, newest first, at most
 * AD_SESS_LIST_MAX; an entry of prev (n_prev, the last scan's) whose
 * file has the same size and time is reused without a read. *out owned
 * (ad_sess_infos_free). */
void ad_sess_scan(const char *home, const ad_sess_info_t *prev, size_t n_prev, ad_sess_info_t **out,
                  size_t *n);
void ad_sess_infos_free(ad_sess_info_t *v, size_t n);
/* The newest file of session id of tool, summarized, into *out: 0 or
 * AD_ENOENT. */
int ad_sess_find(const char *home, ad_sess_tool_t tool, const char *id, ad_sess_info_t *out);
/* The file rel below the CLI's folder opened for reading, no link
 * followed beneath it, a regular file: an fd, or -1. */
int ad_sess_file_open(const char *home, ad_sess_tool_t tool, const char *rel);

/* ---- read.c ---------------------------------------------------------------------- */
/* Session id of tool under home read whole (its last AD_SESS_READ_MAX
 * bytes): *out {session, messages: [{role, content, toolName?,
 * toolInput?, toolOutput?, isComplete, isError, createdAt}]} (the last
 * AD_SESS_MESSAGES_MAX, oldest first; new reference). 0, AD_EINVAL (a tool
 * or id that is none) or AD_ENOENT. */
int ad_sess_read(const char *home, const char *tool, const char *id, json_t **out);

/* ---- lines.c --------------------------------------------------------------------- */
typedef void (*ad_sess_line_fn)(void *ud, const char *line, size_t len);
/* The whole lines of fd between byte from and to, each passed to fn
 * without its '\n' (lines over AD_SESS_LINE_MAX skipped, and the first
 * one when from > 0: it may be cut). 0, or AD_EIO. */
int ad_sess_lines(int fd, int64_t from, int64_t to, ad_sess_line_fn fn, void *ud);

/* ---- parse.c --------------------------------------------------------------------- */
/* One line of a session file into s's summary: cwd, branch, start,
 * first and last message. */
void ad_sess_summary_line(ad_sess_info_t *s, const char *line, size_t len);
/* Messages read from a session's lines, in order, the last
 * AD_SESS_MESSAGES_MAX kept. */
typedef struct ad_sess_msgs ad_sess_msgs_t;
ad_sess_msgs_t *ad_sess_msgs_new(ad_sess_tool_t tool);
void ad_sess_msgs_line(void *m, const char *line, size_t len); /* an ad_sess_line_fn */
/* The messages as a JSON array (new reference); m is freed. */
json_t *ad_sess_msgs_take(ad_sess_msgs_t *m);

/* ---- live.c ---------------------------------------------------------------------- */
/* Sets live on each of v[0..n) written in the last AD_SESS_LIVE_MS or
 * held open by a process (a bounded /proc/<pid>/fd walk, done only when
 * one was written in the last 10 minutes). */
void ad_sess_live_mark(ad_sess_info_t *v, size_t n, int64_t now_ms);

#endif
