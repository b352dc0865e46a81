/* SPDX-License-Identifier: MIT */
/*
 * Private to src/live: a channel and the set of channels, shared by
 * channel.c (delivery, notices, credentials, heartbeat), proto.c (the /ws
 * protocol, pending commands), open.c (the routes' openings), cmds.c (the
 * seed's commands) and testroutes.c.
 */
#ifndef AD_LIVE_INT_H
#define AD_LIVE_INT_H

#include "compat/compat.h"
#include "live/live.h"

struct ad_live_chan {
    ad_live_t *L; /* the set it is in; NULL once the set has closed */
    ad_bus_t *bus;
    ad_auth_t *auth;
    size_t bound; /* the send-queue bound (bytes) */
    ad_live_kind_t kind;
    ad_ws_t *ws;
    ad_sse_t *sse;
    ad_bus_sub_t *sub;
    char id[AD_ID_MAX + 16]; /* run id or crew id */
    char agent_id[AD_ID_MAX + 16];
    ad_live_chan_t *next, *prev; /* every open channel of L */
    bool done;                   /* closing: deliver nothing more */
    bool cut_memory;             /* overflowed the server-wide send bound */
    bool cut_replay;             /* held replay budget without reading (src/bus) */
    ad_principal_t who;          /* who opened it */
    ad_auth_cred_t cred;         /* what it signed in with, checked again */
    ad_auth_watch_t *watch;      /* ... at once when it ends (src/auth) */
    ad_live_pending_t *cmds;     /* the seed's commands still pending (root only) */
    bool compat_seed;            /* /ws?compat=seed: the workbench seed's stream events */
    ad_compat_acc_t *acc;        /* ... with the text of each answer so far */
    /* /ws: the agent whose page the client says it shows, visible and
     * focused ("": none); presence.c */
    char presence[AD_ID_MAX];
    char *types; /* SSE ?types=: ",a,b," the event types passed on; NULL: all */
};

/* Frames of recent seqs (channel.c). A batched channel takes a turn's
 * events one subscriber after another (ad_bus_sub_batch), so a seq's frame
 * is asked for again after the turn's other seqs: one slot per seq modulo
 * the slots, and at most LIVE_FRAMES_BYTES held (past it the others are let
 * go before a frame is kept). */
#define LIVE_FRAMES_SLOTS 256
#define LIVE_FRAMES_BYTES (512u * 1024)
typedef struct {
    uint64_t seq[LIVE_FRAMES_SLOTS];
    ad_wsmsg_t *msg[LIVE_FRAMES_SLOTS];
    size_t len[LIVE_FRAMES_SLOTS];
    size_t bytes;
} live_msgcache_t;

/* The last run of events sent as one buffer (channel.c): each /ws reader
 * of the same topics gets the same run of a turn's events, so the
 * run's frames are written once into one message, and the readers after the
 * first find it by the events' seqs (a seq names one event) and the
 * compression it was made for. One run for readers that do not compress and
 * one for those that do (browsers), so that readers of both kinds taking
 * turns do not make it again each time. At most LIVE_RUN_BYTES in one. */
#define LIVE_RUN_BYTES (256u * 1024)
typedef struct {
    uint64_t *seqs;
    size_t n, cap;
    int bits;        /* the compression it was made for (0: none) */
    ad_wsmsg_t *msg; /* NULL: none kept */
} live_run_t;

struct ad_live {
    ad_bus_t *bus;
    ad_auth_t *auth;
    size_t bound;
    const ad_live_parts_t *parts; /* may be NULL */
    ad_live_chan_t *channels;     /* every open channel */
    uv_timer_t heartbeat;
    /* Events turned into WebSocket frames: every socket that gets the same
     * seq shares one; the same in the seed's dialect and in the root
     * socket's (root_msg). */
    live_msgcache_t frames, seed_frames, root_frames;
    live_run_t run, zrun; /* plain readers' run, compressing readers' run */
#ifdef AD_TEST_BUILD
    struct ad_live_burst *bursts; /* testroutes.c: bursts of events in progress */
    void *tests;                  /* testroutes.c: what its handlers reach */
#endif
};
/* cmds.c: whether type is one of the seed's commands on "/" (answered
 * then): start_training {agentId|id, initialPrompt?, force?} (admin),
 * pause_training, resume_training, stop_training {agentId|id, force?}
 * (write), start_discovery {command, name?, environment?, cwd?} (admin),
 * each as its REST route (the same scope, the caller's org only, the usage
 * limits); answered agent_update, discovery_progress or error {code,
 * message, command, status}. */
bool ad_live_seed_command(ad_live_chan_t *ch, const char *type, json_t *payload,
                          const ad_live_parts_t *parts);
#ifdef AD_TEST_BUILD
/* testroutes.c: ends the bursts still in progress (answered 503). */
void ad_live_test_close(ad_live_t *L);
#endif

/* Frees ch: its subscriber, watch and pending commands' link (channel.c). */
void ad_live_chan_free(ad_live_chan_t *ch);
/* Notice whose last says why the connection ends: it may use the reserve
 * past the send-queue bound (a slow reader still gets it). */
void ad_live_notice_ex(ad_live_chan_t *ch, const char *type, json_t *payload, bool last);
/* presence.c: a /ws message {type: presence, payload: {agentId}}: sets or
 * clears ch's presence and acknowledges it. */
void ad_live_presence_msg(ad_live_chan_t *ch, json_t *payload);
/* Whether ch passes ev on; *final: ev ends the channel (filter.c). */
bool ad_live_pass(const ad_live_chan_t *ch, const ad_bus_event_t *ev, bool *final);
/* Lets go of ch's pending commands: their answers go nowhere (proto.c). */
void ad_live_pending_drop(ad_live_chan_t *ch);

#endif
