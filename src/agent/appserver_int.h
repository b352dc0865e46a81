/* SPDX-License-Identifier: MIT */
/*
 * Private to appserver.c and appitems.c: the state of one run's
 * conversation with `codex app-server` (the parser owns it, p->app).
 */
#ifndef AD_AGENT_APPSERVER_INT_H
#define AD_AGENT_APPSERVER_INT_H

#include "agent/agent_int.h"

#define AD_APP_QUEUE_MAX 64 /* messages waiting for the thread or the turn */
#define AD_APP_STEERS_MAX 16
#define AD_APP_DIFF_MAX (256 * 1024)
/* The longest approval request id (as JSON) the runner keeps (its
 * request_id field, src/run/run_int.h). */
#define AD_APP_REQUEST_ID_MAX 128
#define AD_APP_LINE_MAX ((size_t)64 * 1024 * 1024) /* ad_parser_feed's own bound */

/* What a request agentd sent was for (ad_rpc_call_t.tag); a steer's tag is
 * AD_APP_TAG_STEER plus its number. */
enum {
    AD_APP_TAG_INIT = 1,
    AD_APP_TAG_THREAD,
    AD_APP_TAG_TURN,
    AD_APP_TAG_INTERRUPT,
    AD_APP_TAG_STEER = 1000
};

typedef struct ad_codex_app {
    ad_rpc_t rpc;         /* the codec (rpc.c): ids, pending calls; no "jsonrpc" member */
    char resume_id[128];  /* the thread asked to resume or fork, "" for a new one */
    json_t *start_params; /* thread/start's params, kept for a resume codex refuses */
    bool thread_ready;    /* the thread is open (its id is p->session_id) */
    bool thread_failed;   /* codex refused to open any: nothing can be sent */
    bool turn_pending;    /* a turn/start is out, its turn not yet known */
    char *turn_id;        /* the turn in progress, NULL when none runs */
    char *queue[AD_APP_QUEUE_MAX];
    size_t nqueue;
    struct {
        unsigned long long seq;
        char *text;
    } steers[AD_APP_STEERS_MAX]; /* steers not yet answered */
    size_t nsteers;
    unsigned long long seq;
    bool allow_commands, allow_edits;
    /* thread/tokenUsage/updated: the thread's total, and the total when
     * the last turn ended (a turn's usage is the difference). */
    ad_usage_t total, at_turn;
    int64_t total_input; /* input tokens with cached ones, for the context */
    char *diff;          /* the turn's aggregated diff (turn/diff/updated) */
} app_t;

/* A request line for method (params stolen), remembered under tag. Owned,
 * or NULL when too many are pending. */
char *ad_app_request(app_t *a, const char *method, json_t *params, int64_t tag, size_t *len);
/* thread/start with the settings the resume had: codex refused to resume
 * or fork the agent's thread (its files gone, another CODEX_HOME). */
char *ad_app_new_thread(app_t *a, size_t *len);
/* turn/start of text on the open thread. Owned line. */
char *ad_app_turn_start(ad_parser_t *p, const char *text, size_t *len);

/* appitems.c, for apprpc.c: an item started or completed (params of
 * item/started, item/completed); thread/tokenUsage/updated; turn/completed;
 * the queued messages sent once the thread or turn allows; the turn in
 * progress (id NULL: unchanged). */
void ad_app_on_item(ad_parser_t *p, json_t *params, bool completed, uint64_t now, ad_recs_t *out);
void ad_app_on_usage(ad_parser_t *p, json_t *params, ad_recs_t *out);
void ad_app_on_turn_completed(ad_parser_t *p, json_t *params, uint64_t now, ad_recs_t *out);
void ad_app_send_queued(ad_parser_t *p, ad_recs_t *out);
void ad_app_set_turn(app_t *a, const char *id);

#endif
