/* SPDX-License-Identifier: MIT */
/*
 * What the files of src/sessions share: a session as a scan found it
 * (scan.c), the line readers of each CLI's records (parse.c), a file read
 * line by line in a bounded window (lines.c) and whether a process still
 * writes it (live.c). Everything here runs on the thread pool unless said.
 */
#ifndef AD_SESSIONS_INT_H
#define AD_SESSIONS_INT_H

#include "sessions/sessions.h"

typedef enum { SESS_CLAUDE = 0, SESS_CODEX, SESS_GEMINI, SESS_TOOLS } sess_tool_t;

/* "claude", "codex", "gemini". */
const char *sess_tool_name(sess_tool_t t);
int sess_tool_parse(const char *s, sess_tool_t *out);

/* A session file and what its head and tail say. */
typedef struct {
    sess_tool_t tool;
    char id[AD_SESS_ID_MAX];
    char rel[512]; /* below the CLI's folder: "<project>/<id>.jsonl", "2026/11/29/rollout-…" */
    char branch[256];
    char *cwd;          /* owned: the folder it ran in (absolute), or NULL */
    char *first, *last; /* owned previews, or NULL */
    int64_t started_ms, last_ms, mtime_ms, size;
    uint64_t dev, ino;
    bool live, open_elsewhere;
} sess_info_t;

void sess_info_clear(sess_info_t *s);
/* s's folder set to path (absolute, at most PATH_MAX; else left). */
void sess_set_cwd(sess_info_t *s, const char *path);
/* The listing's object of s (new reference). */
json_t *sess_info_json(const sess_info_t *s);

/* ---- scan.c ---------------------------------------------------------------------- */
/* The CLI's folder under home ("<home>/.claude/projects",
 * "<home>/.codex/sessions") opened with no link followed on the way: a
 * directory fd, or -1. */
int sess_root_open(const char *home, sess_tool_t tool);
/* Every session file under home, newest first, at most
 * AD_SESS_LIST_MAX; an entry of prev (n_prev, the last scan's) whose
 * file has the same size and time is reused without a read. *out owned
 * (sess_infos_free). */
void sess_scan(const char *home, const sess_info_t *prev, size_t n_prev, sess_info_t **out,
               size_t *n);
void sess_infos_free(sess_info_t *v, size_t n);
/* The newest file of session id of tool, summarized, into *out: 0 or
 * AD_ENOENT. */
int sess_find(const char *home, sess_tool_t tool, const char *id, sess_info_t *out);
/* The file rel below the CLI's folder opened for reading, no link
 * followed beneath it, a regular file: an fd, or -1. */
int sess_file_open(const char *home, sess_tool_t tool, const char *rel);

/* ---- lines.c --------------------------------------------------------------------- */
typedef void (*sess_line_fn)(void *ud, const char *line, size_t len);
/* The whole lines of fd between byte from and to, each passed to fn
 * without its '\n' (lines over AD_SESS_LINE_MAX skipped, and the first
 * one when from > 0: it may be cut). 0, or AD_EIO. */
int sess_lines(int fd, int64_t from, int64_t to, sess_line_fn fn, void *ud);

/* ---- parse.c --------------------------------------------------------------------- */
/* One line of a session file into s's summary: cwd, branch, start,
 * first and last message. */
void sess_summary_line(sess_info_t *s, const char *line, size_t len);
/* Messages read from a session's lines, in order, the last
 * AD_SESS_MESSAGES_MAX kept. */
typedef struct sess_msgs sess_msgs_t;
sess_msgs_t *sess_msgs_new(sess_tool_t tool);
void sess_msgs_line(void *m, const char *line, size_t len); /* a sess_line_fn */
/* The messages as a JSON array (new reference); m is freed. */
json_t *sess_msgs_take(sess_msgs_t *m);

/* ---- watch.c ---------------------------------------------------------------------- */
/* The scan's list {sessions: […]} (ad_sessions_list without the agents
 * that hold them). Loop thread. */
void sess_list_scan(ad_sessions_t *S, ad_sessions_cb cb, void *ud);
ad_store_t *sess_store(const ad_sessions_t *S);
/* A step that waits on another subsystem holds S (sess_hold) and lets go
 * when it comes back (sess_release: true when S was closed meanwhile, and
 * may be gone now: the step then ends with AD_ECLOSED). */
void sess_hold(ad_sessions_t *S);
bool sess_release(ad_sessions_t *S);

/* ---- live.c ---------------------------------------------------------------------- */
/* Sets live on each of v[0..n) written in the last AD_SESS_LIVE_MS or
 * held open by a process (a bounded /proc/<pid>/fd walk, done only when
 * one was written in the last 10 minutes). */
void sess_live_mark(sess_info_t *v, size_t n, int64_t now_ms);

#endif
