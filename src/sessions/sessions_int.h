/* SPDX-License-Identifier: MIT */
/*
 * What the files of src/sessions share: the engine's state as watch.c
 * keeps it (the files themselves are src/sessfile's).
 */
#ifndef AD_SESSIONS_INT_H
#define AD_SESSIONS_INT_H

#include "sessions/sessions.h"

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
/* Whether S was closed; the plane its nodes are asked through (NULL: none). */
bool sess_closed(const ad_sessions_t *S);
struct ad_plane *sess_plane(const ad_sessions_t *S);

/* ---- prep.c ----------------------------------------------------------------------- */
/* An adoption under way (prep.c: this machine's; nodes.c: a node's). */
typedef struct {
    ad_sessions_t *S;
    ad_wtree_t *W; /* this machine's: folders are registered through it */
    json_t *body;  /* the caller's, borrowed */
    ad_principal_t who;
    char org[AD_ID_MAX];
    char want[AD_ID_MAX];                /* the worktree asked for, "" any */
    char node[AD_ID_MAX], node_name[64]; /* a node's: the node */
    json_t *read;                        /* {session, messages}, owned */
    ad_wtree_cb cb;
    void *ud;
} sess_adopt_t;
/* Ends a (freed) through its callback with rc and code, details (taken)
 * and the message, or with its read when rc is 0. */
void sess_adopt_end(sess_adopt_t *a, int rc, const char *code, json_t *details, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
/* The agents that hold sessions (held, taken; rc its read's) against a's
 * session, a released (sess_hold before the read): true when that ended a
 * (S closed, the read failed, ALREADY_ADOPTED). */
bool sess_adopt_held(sess_adopt_t *a, int rc, json_t *held);
/* An adopted agent's executor (session s's tool), and a name from its first
 * message (on one line) unless body has one. */
void sess_agent_fields(json_t *body, const json_t *s);

/* ---- nodecheck.c ------------------------------------------------------------------ */
/* A node's session object (borrowed) rebuilt with only the listing's
 * fields, each checked and bounded, and node {id, name}: a new reference,
 * or NULL when it is not a session. */
json_t *sess_node_session(const json_t *in, const char *node_id, const char *node_name);
/* A node's messages (borrowed) rebuilt the same way, the unknown dropped,
 * at most AD_SESS_MESSAGES_MAX: a new array. */
json_t *sess_node_messages(const json_t *in);

#endif
