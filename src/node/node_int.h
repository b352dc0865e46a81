/* SPDX-License-Identifier: MIT */
/*
 * Private to src/node: the control plane's structures (plane.c: nodes and
 * links; relay.c: one remote run each) and what they share. Loop thread.
 */
#ifndef AD_NODE_INT_H
#define AD_NODE_INT_H

#include "node/node.h"
#include "proc/proc.h"
#include "health/health.h"

/* What waits for a node's link (held.c's frames while it is down) and what
 * a relay lets queue into its socket pair before it drops and resyncs. */
#define AD_RELAY_QUEUE_MAX (8u << 20)
#define AD_RELAY_WQ_MAX (4u << 20)
/* Buckets of the plane's relay index (a power of two). */
#define AD_RELAY_BUCKETS 1024u

/* xfer.c: a file over the link, as JSON messages of base64 chunks. */
typedef struct ad_xfer ad_xfer_t;
typedef struct {
    int (*send)(void *ud, json_t *msg); /* takes msg; 0 or AD_ECLOSED */
    size_t (*queued)(void *ud);         /* bytes the link has not written yet */
    void (*done)(void *ud, int rc);     /* once, after the last chunk (not after cancel) */
} ad_xfer_io_t;
/* Sends the file at path: each message is fields (taken) with seq, last
 * and data. NULL when the file cannot be opened (fields released). */
ad_xfer_t *ad_xfer_send(uv_loop_t *loop, const char *path, json_t *fields, const ad_xfer_io_t *io,
                        void *ud);
/* Stops a send; done is not called. */
void ad_xfer_cancel(ad_xfer_t *x);
/* A file being received (embedded in its owner). */
typedef struct {
    uv_loop_t *loop;
    int fd;
    uint64_t max, next;
    int writing, rc;
    bool last_seen, reported, orphan;
    char path[4200];
    void (*done)(void *ud, int rc); /* set by the owner: once, all written (or failed) */
    void *ud;
} ad_xfer_in_t;
/* Opens path (made 0600, emptied) for at most max bytes. 0 or AD_EIO. */
int ad_xfer_in_open(ad_xfer_in_t *in, uv_loop_t *loop, const char *path, uint64_t max);
/* One chunk message (borrowed), in order: 0, or the error that ends it
 * (out of order, too big, bad data, a write that failed). done follows
 * the last chunk's write, or the first error. */
int ad_xfer_in_chunk(ad_xfer_in_t *in, json_t *msg);
/* No more chunks come (nothing was to be sent): done follows the writes. */
void ad_xfer_in_end(ad_xfer_in_t *in);
/* Its owner goes (in was ad_xcalloc'd): the file is closed and removed and
 * in freed once its writes are back; done is not called. */
void ad_xfer_in_abandon(ad_xfer_in_t *in);

typedef struct ad_node_live ad_node_live_t;

typedef struct ad_relay {
    struct ad_relay *next;
    struct ad_relay *hnext; /* in its bucket of the plane's relay_index */
    ad_plane_t *p;
    char run_id[AD_ID_MAX];
    char node_id[AD_ID_MAX];
    uv_pipe_t pipe; /* our end of the socket pair; held.c has the other */
    bool pipe_open, pipe_closed;
    bool freeing;
    ad_buf_t rbuf;  /* held.c's frames, not yet whole */
    ad_buf_t q;     /* held.c's frames waiting for the link */
    uint32_t epoch; /* of the last ATTACH sent to the node */
    /* the run's lease epoch as this plane holds it (issue #77, its fencing
     * token, runs.lease_epoch): sent with every message for the run, and
     * the node refuses a lower one than it has seen */
    uint32_t lease;
    /* the node's epoch above lease that r waits under for the next sweep
     * (planelease.c's owned_elsewhere; 0: none): a hello or `fenced` no
     * higher than it is not read from the store again */
    uint32_t lease_wait;
    uint64_t pos[2]; /* bytes written into the socket pair, per stream (contiguous) */
    uint64_t scroll; /* the scrollback asked for by held.c's first ATTACH */
    bool have_pos;   /* held.c's ATTACH has come */
    bool first_sent; /* an ATTACH went to a node (later ones ask no scrollback) */
    /* The spawn sent to the node (owned), kept until the node says
     * "spawned" or "spawn_failed": a link that closed with it in flight
     * leaves a node that never heard of the run, and its hello then lists
     * no holder for it; sync_runs sends it again instead of losing it. */
    json_t *spawn;
    bool attached; /* an ATTACH went out on the node's current link */
    bool resync;   /* frames dropped for backpressure: ATTACH again once drained */
    size_t wq;     /* bytes queued into the socket pair */
    bool unreachable;
    bool gpu; /* it asked for a GPU (placement counts the node's taken ones) */
    long pid; /* its process's pid on the node, as the node said (0: not known) */
    /* Its worktree here (ad_plane_run_worktree; "" none), and the bundle a
     * node is pushing back for it (gitsync.c). */
    char wt_id[AD_ID_MAX], ws_id[AD_ID_MAX];
    char *wt_path;
    ad_xfer_in_t *put;
    json_t *figures;     /* what its node said it uses ({cpuPercent, ...}), or NULL */
    char *setup_src;     /* the workspace's main worktree, or NULL */
    json_t *setup_files; /* its setup files (relative paths), or NULL */
    char *setup_cmd;     /* its approved setup command, or NULL */
} ad_relay_t;

struct ad_node_live {
    ad_node_live_t *next;
    char id[AD_ID_MAX];
    char name[64];
    char org[AD_ID_MAX];
    char token_id[AD_ID_MAX];
    ad_plane_link_t *link; /* NULL: not connected */
    uint64_t renewed_ms;   /* monotonic: the last hello or renew */
    bool unreachable;
    int64_t unreachable_since; /* wall ms */
    /* its data dir as it says (caps.dataDir, "" unknown): where its runs'
     * folders are (ad_plane_agent_cwd) */
    char data_dir[2048];
};

struct ad_plane_link {
    ad_plane_t *p;
    ad_ws_t *ws;
    char token_id[AD_ID_MAX];
    char org_id[AD_ID_MAX];
    ad_node_live_t *node; /* after the hello's join */
    bool joining, closed;
    json_t *hello_runs;   /* the runs the hello listed, until the join is stored */
    json_t *hello_leases; /* its lease epochs of them ({run: epoch}), as long */
    char data_dir[2048];  /* the hello's caps.dataDir, until the join is stored */
};

/* A request asked of a node over its link, waiting for its answer (ask.c):
 * the first member of each kind's. */
typedef struct ad_node_ask {
    struct ad_node_ask *next;
    uint64_t id;
    char node[AD_ID_MAX]; /* the node asked: only its answer counts */
    uint64_t deadline_ms; /* monotonic */
} ad_node_ask_t;

/* A git operation asked of a node (gitsync.c). */
typedef struct {
    ad_node_ask_t ask;
    ad_git_op_t op;
    ad_git_done_cb cb;
    void *ud;
} ad_git_rpc_t;

/* An ACP agent's file request asked of its node (nodefs.c). */
typedef struct {
    ad_node_ask_t ask;
    ad_plane_fs_cb cb;
    void *ud;
} ad_fs_rpc_t;

/* An ACP agent's terminal request asked of its node (nodeterm.c). */
typedef struct {
    ad_node_ask_t ask;
    ad_plane_term_cb cb;
    void *ud;
} ad_term_rpc_t;

/* A Claude session file asked of a node, or sent to it (nodesess.c). */
typedef struct {
    ad_node_ask_t ask;
    ad_plane_sess_cb cb;
    void *ud;
} ad_sess_rpc_t;

/* A service's probe asked of a node (probes.c). */
typedef struct {
    ad_node_ask_t ask;
    ad_probe_cb cb;
    void *ud;
    uint64_t started_ms; /* monotonic */
} ad_probe_rpc_t;

struct ad_plane {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    ad_plane_hooks_t hooks;
    ad_node_live_t *nodes;
    ad_relay_t *relays;
    ad_relay_t *relay_index[AD_RELAY_BUCKETS]; /* the relays by run id (relay.c) */
    uv_timer_t tick;
    uint64_t resent_bytes, stale_frames;
    ad_node_ask_t *rpcs; /* gitsync.c */
    uint64_t rpc_seq;
    ad_node_ask_t *probes;    /* probes.c */
    ad_node_ask_t *fs_rpcs;   /* nodefs.c */
    ad_node_ask_t *term_rpcs; /* nodeterm.c */
    ad_node_ask_t *sess_rpcs; /* nodesess.c */
    ad_node_ask_t *ext_rpcs;  /* nodeext.c */
    /* The last held processes whose end was stored, with their nodes (a
     * ring): a frame of theirs still in flight is late, not another
     * node's. A run's row says so too; a job's does not name its node. */
    struct {
        char id[AD_ID_MAX], node_id[AD_ID_MAX];
    } done[64];
    size_t ndone;
    /* The live control planes' advertised URLs as last sent to the nodes
     * (issue #39), read every AD_PLANES_BEAT_MS while a node is linked. */
    json_t *plane_urls;
    uint64_t plane_urls_ms;
};

/* nodehist.c: the events of a change of the operator's settings (row: the
 * node as set); why a link closed with code, in words. */
void ad_plane_event_set(ad_plane_t *p, json_t *row, const ad_store_node_set_t *set);
const char *ad_plane_close_why(int code);

/* plane.c */
/* How long a node's lease lasts (--node-lease-ms, default 6 s). */
uint64_t ad_plane_lease_ms(const ad_plane_t *p);
/* nodelist.c: row (a stored node's, owned) with its live state; returned. */
json_t *ad_plane_node_row(ad_plane_t *p, json_t *row);
/* The node entry of id (made when new, from the store's row). */
ad_node_live_t *ad_plane_node_live(ad_plane_t *p, const char *id);
/* Sends text on the node's link, if it is up: 0 or AD_ECLOSED. A message
 * naming a run of this plane's on that node gets its lease epoch ("lease")
 * when it has none. */
int ad_plane_send_text(ad_node_live_t *n, json_t *msg);
/* Sends a holder frame for run at epoch, under the run's lease epoch
 * lease, on the node's link. */
int ad_plane_send_frame(ad_node_live_t *n, const char *run, uint32_t epoch, uint32_t lease,
                        const unsigned char *frame, size_t flen);
/* planelease.c (issue #77): the run's lease epoch as the store holds it
 * (1 when it cannot be read: the first one); whether the node's hello says
 * (leases: {run: epoch}) it has seen a newer epoch of r's run than this
 * plane holds (true: r is not to be attached under its own), r then let go
 * if another plane's lease on the run is live, else left for the next
 * sweep to give; the node's `fenced` {lease}: it refused a message of
 * r's, r let go under the same rule. Letting
 * go: logged, a node event, the run layer told (hooks.dropped: no end is
 * written) and the relay freed without a word to the node; the node is
 * then sent to the owner (`moved`) when nothing else of this plane runs
 * on it. */
uint32_t ad_plane_lease_stored(ad_plane_t *p, const char *run_id);
bool ad_plane_lease_behind(ad_relay_t *r, json_t *leases);
void ad_plane_fenced(ad_relay_t *r, json_int_t lease);
/* planemove.c: after sync_runs, the node told to dial the plane whose live
 * lease holds every run it lists (and none of this plane's), if one does. */
void ad_plane_move_if_elsewhere(ad_plane_link_t *l, const json_t *runs);
/* The same, for a node this plane has just let runs of go: sent to the
 * owner when no other run of this plane is on it. */
void ad_plane_move_after_loss(ad_plane_t *p, const char *node_id, const json_t *runs);
/* The link broke the rules: closed (code), with an audit row saying why. */
void ad_plane_link_refuse(ad_plane_link_t *l, int code, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* gitsync.c: worktrees on nodes, the control plane's side. A node's
 * git_get (a bundle of the run's worktree's HEAD, sent as git_chunk then
 * git_ready) and git_put chunks (its work, fetched into the hidden ref
 * when whole, answered git_put_done). r is the node's own run (checked). */
void ad_plane_git_get(ad_plane_t *p, ad_node_live_t *n, ad_relay_t *r, json_t *msg);
void ad_plane_git_put(ad_plane_t *p, ad_node_live_t *n, ad_relay_t *r, json_t *msg);
/* What a relay holds of a push: let go (the relay goes). */
void ad_plane_git_put_free(ad_relay_t *r);
/* A node ran the setup command of r's new worktree (git_setup): its
 * outcome recorded on the worktree as a local setup's. */
void ad_plane_git_setup(ad_plane_t *p, ad_relay_t *r, json_t *msg);
/* ask.c: q (its kind's request, zeroed but for its own fields) given the
 * next id, node_id and a deadline timeout_ms away, and put in list. */
void ad_node_ask_add(ad_plane_t *p, ad_node_ask_t **list, ad_node_ask_t *q, const char *node_id,
                     uint64_t timeout_ms);
/* The request of list with id that was asked of node_id, taken out; NULL
 * when there is none (another node's, or already answered). */
ad_node_ask_t *ad_node_ask_take(ad_node_ask_t **list, json_t *id, const char *node_id);
/* The next request of list whose node went (*gone) or whose time is up,
 * taken out; every one when all. NULL when none is left to fail. */
ad_node_ask_t *ad_node_ask_expired(ad_plane_t *p, ad_node_ask_t **list, bool all, bool *gone);

/* A node's answer to a git operation (git_rpc_done): its caller called. */
void ad_plane_git_rpc_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg);
/* The tick: operations whose node went away or took too long fail (all:
 * every one, at the plane's end). */
void ad_plane_git_rpc_expire(ad_plane_t *p, bool all);

/* probes.c: a node's answer to a probe (probe_done): its caller called;
 * the tick: probes whose node went away or took too long fail (all: every
 * one, at the plane's end). */
void ad_plane_probe_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg);
void ad_plane_probe_expire(ad_plane_t *p, bool all);
/* nodefs.c: a node's answer to a file request (fs_done), and the tick's
 * expiry, as the probes'. */
void ad_plane_fs_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg);
void ad_plane_fs_expire(ad_plane_t *p, bool all);
/* nodesess.c: a node's answer to a session file request (session_done),
 * and the tick's expiry, as the probes'. */
void ad_plane_sess_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg);
void ad_plane_sess_expire(ad_plane_t *p, bool all);
/* nodeext.c: a node's answer about its user's CLI sessions
 * (ext_sessions_done), and the tick's expiry, as the probes'. */
void ad_plane_ext_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg);
void ad_plane_ext_expire(ad_plane_t *p, bool all);
/* nodeterm.c: a node's answer to a terminal request (term_done), and the
 * tick's (all: the plane's end) failing of those its node left or let
 * lapse. */
void ad_plane_term_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg);
void ad_plane_term_expire(ad_plane_t *p, bool all);

/* relay.c */
ad_relay_t *ad_relay_find(const ad_plane_t *p, const char *run_id);
/* A new relay for run on node: *fd is held.c's end. NULL with err. */
ad_relay_t *ad_relay_new(ad_plane_t *p, const char *node_id, const char *run_id, int *fd, char *err,
                         size_t errsz);
/* The node's link is up (hello stored): an ATTACH from what the relay has,
 * then what waited. */
void ad_relay_link_up(ad_relay_t *r);
/* A new ATTACH from what the relay has (the node lost its holder
 * connection, or asks again). */
void ad_relay_reattach(ad_relay_t *r);
/* The node's link went down. */
void ad_relay_link_down(ad_relay_t *r);
/* A holder frame from the node for this relay (checked by the caller). */
void ad_relay_from_node(ad_relay_t *r, uint32_t epoch, const unsigned char *frame, size_t flen);
/* The node could not start the run: a stderr line and an exit (127). */
void ad_relay_spawn_failed(ad_relay_t *r, const char *why);
/* The run cannot go on (its node lost it, was revoked, or was away past
 * the grace): the socket pair closes, held.c ends the run as lost. */
void ad_relay_lose(ad_relay_t *r, const char *why);
/* Unlinks and frees r (its pipe closed first). */
void ad_relay_free(ad_relay_t *r);

/* ---- the node's role (worker.c, nodegit.c) ---- */
typedef struct worker worker_t;

/* One connection to a run's holder, for one epoch. */
typedef struct hconn {
    struct wrun *run; /* NULL once the run let it go */
    uv_pipe_t pipe;
    uint32_t epoch;
    bool attached; /* an ATTACH went through it */
    bool reading;
    ad_buf_t rbuf;
} hconn_t;

typedef struct wrun {
    struct wrun *next;
    worker_t *w;
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX]; /* from its spawn ("" after the node's restart) */
    /* the highest lease epoch a plane's message for it carried (issue #77):
     * a lower one comes from a plane that lost the run and is refused */
    uint32_t lease;
    pid_t agent_pid; /* its agent (0 until known): what health measures */
    char dir[4200];
    char cwd[4200];    /* the folder it runs in ("" until spawned; its files: nodefs.c) */
    ad_terms_t *terms; /* an ACP agent's terminals (nodeterm.c; NULL until the first) */
    hconn_t *conn;
    /* Worktrees on nodes (nodegit.c): a spawn waiting for its worktree,
     * what the plane sends for it meanwhile (its ATTACH, then frames of
     * that epoch), the bundle coming, and the worktree once made. */
    json_t *spawn;
    bool attach_pending;
    uint32_t attach_epoch;
    unsigned char attach[8 + 24];
    ad_buf_t pendq;
    ad_xfer_in_t *in;
    json_t *ready; /* git_ready, once it came */
    bool in_done, preparing;
    int in_rc;
    char wt_id[AD_ID_MAX], ws_id[AD_ID_MAX];
    char wt_path[4200];
    char base[72]; /* the commit its worktree was made from, or last pushed */
    /* its holder's EXIT, held while its work is pushed back; its commits
     * also go while it runs (HEAD read at a renewal when head_sig moved,
     * head_busy meanwhile; nodegit.c), one push at a time, push_final for
     * the one that ends the run */
    unsigned char held_exit[8 + 4];
    bool exit_held, pushing, push_final, head_busy;
    uint64_t head_sig, head_sig_read; /* at the last read that found nothing new; at this one */
    uint64_t exit_held_ms;            /* monotonic: when; past a bound it goes anyway */
} wrun_t;

/* planeurl.c: the control planes' URLs a node learns (issue #39). */
#define AD_NODE_JOIN_MAX 8     /* URLs dialled, --join's and learned ones */
#define AD_NODE_URL_MAX 2000   /* a URL's length, as given or sent */
#define AD_NODE_DIAL_MAX 2100  /* a URL to dial: one of those, /api/nodes/link added */
#define AD_NODE_ALLOW_MAX 24   /* --join's hosts and --planes-allow's */
#define AD_NODE_REFUSED_MAX 64 /* refusals remembered so each is logged once */
typedef struct {
    bool http, https; /* the schemes --join's URLs use (ws:// as http, wss:// as https) */
    char hosts[AD_NODE_ALLOW_MAX][254]; /* lower case, IPv6 without brackets */
    size_t nhosts;
} ad_node_allow_t;
/* Adds host (a name, an IPv4 address, or an IPv6 one with or without
 * brackets) to a's hosts: 0, AD_EINVAL (not a host) or AD_ETOOBIG. */
int ad_node_allow_host(ad_node_allow_t *a, const char *host);
/* Whether a control plane's URL may be dialled under a: 0 and the URL to
 * dial into out (rebuilt from the parts checked, /api/nodes/link added);
 * AD_EINVAL (malformed) or AD_EPERM (a scheme or host not allowed), with
 * why. Pure. */
int ad_node_plane_url(const ad_node_allow_t *a, const char *url, char *out, size_t outsz, char *why,
                      size_t whysz);

/* The URLs a plane sent (a JSON array): those allowed take the places after
 * --join's, in their order; refusals are logged once each. */
void ad_worker_learn(worker_t *w, json_t *list);
/* A plane's `moved` {plane, url}: this node's runs are another plane's
 * (planemove.c). An allowed URL becomes the link's (among the learned
 * ones) and the link closes to dial it at once; a refused one is logged,
 * and the node stays. */
void ad_worker_moved(worker_t *w, json_t *msg);

struct worker {
    uv_loop_t *loop;
    ad_config_t *cfg;
    char url[2100]; /* the link's URL now: one of urls */
    /* --join URL1,URL2,…: every control plane's address (issue #39); a
     * link that cannot be opened moves on to the next. After the njoin
     * given come the ones the planes sent that the rules allow
     * (planeurl.c), at most AD_NODE_JOIN_MAX in all. */
    char urls[AD_NODE_JOIN_MAX][AD_NODE_DIAL_MAX];
    size_t nurls, cur, njoin;
    /* the URL whose link last failed before a welcome, and when (monotonic
     * ms): a `moved` there within a lease is not followed (a plane just
     * killed still reads live for a lease, planemove.c) */
    char failed_url[AD_NODE_DIAL_MAX];
    uint64_t failed_ms;
    ad_node_allow_t allow;
    uint64_t refused[AD_NODE_REFUSED_MAX]; /* refusals logged (hashes, a ring) */
    size_t nrefused;
    bool link_welcomed; /* the link now was welcomed (else: try the next URL) */
    /* links in a row another connection with this node's token replaced
     * (4410): each waits longer before taking the link back (issue #73) */
    unsigned replaced;
    uint64_t welcomed_ms; /* when the link now was welcomed (monotonic) */
    char token[512];
    /* a registration token to trade for the node's key (nodereg.c; "":
     * none), the trade's socket while it is under way */
    char reg_token[160];
    ad_wsc_t *reg;
    char name[64];
    json_t *labels;
    ad_procs_t *procs;
    ad_health_t *health; /* the host's figures, sampled as the control plane samples its own */
    uv_work_t clis_work;
    json_t *clis; /* {claude: {path, version}, …}: read on the pool at start and each renewal */
    struct clis *clis_last; /* owned: what the last probe found (nodecaps.c) */
    json_t *repos;          /* the workspaces it has a mirror of (ids): placement prefers it */
    json_t *bases; /* {worktree id: the commit its worktree here is at, as the plane has it} */
    bool clis_busy;
    ad_wsc_t *link;
    bool welcomed;
    uv_timer_t renew, retry, drain;
    uv_signal_t sigint, sigterm;
    unsigned backoff_ms;
    uint64_t heard_ms; /* monotonic: the plane's last word */
    uint64_t lease_ms, renew_ms;
    wrun_t *runs;
    bool stopping, paused;
    int exit_code;
    struct wext *ext; /* nodeext.c: its user's CLI sessions (NULL until asked) */
};

/* An id as agentd makes them (letters, digits, '_'), short enough to be
 * a file name here (runrec.c). */
bool ad_node_id_ok(const char *s);
/* runrec.c: <data>/runs/<run>/run.json, what a restart of this node needs
 * of r (its agent, worktree, workspace and the commit the plane has).
 * save: at its start and at each push taken; load: into r, taken up at
 * start (its folder made again from the ids); unsave: the file and what
 * else that folder holds, once the plane is done with the run. */
void ad_worker_run_save(worker_t *w, const wrun_t *r);
void ad_worker_run_load(worker_t *w, wrun_t *r);
void ad_worker_run_unsave(worker_t *w, const char *run);
/* nodereg.c (issue #77): the node's credential. --token wins; else its key
 * in <data>/node-key.json (0600, kept from a trade); else the registration
 * token is traded for one at the first control plane that answers
 * (/api/nodes/register, a WebSocket): the key is saved, then the link
 * opens (ad_worker_connect). 0: w->token is set, link now; 1: a trade is
 * under way; -1: nothing to link with (said on stderr). key_stop closes a
 * trade under way (the node stops). */
int ad_worker_key(worker_t *w);
void ad_worker_key_stop(worker_t *w);
/* worker.c: opens the link; stops the node with exit code. */
void ad_worker_connect(worker_t *w);
void ad_worker_stop(worker_t *w, int code);
/* nodeargs.c: `agentd node`'s arguments into w (and cfg's data dir):
 * true to go on, or false and the exit code (usage said on stderr). */
bool ad_worker_args(worker_t *w, ad_config_t *cfg, int argc, char **argv, int *code);
/* nodecaps.c: probes the agent CLIs again on the pool (unless a probe is at
 * work); the node's capabilities and its runs' figures, new references;
 * the runs' agents as health measures them (ad_health_opts_t.targets). */
void ad_worker_clis_probe(worker_t *w);
json_t *ad_worker_caps(const worker_t *w);
json_t *ad_worker_run_figures(const worker_t *w);
size_t ad_worker_run_targets(ad_health_target_t *out, size_t max, void *ud);
/* worker.c */
wrun_t *ad_worker_run_find(worker_t *w, const char *id);
/* A run of id added to w's; every caller has passed id through
 * ad_node_id_ok (so it fits a wrun_t's id, which is cut to its bound). */
wrun_t *ad_worker_run_add(worker_t *w, const char *id);
void ad_worker_run_free(worker_t *w, wrun_t *r);
/* A control message to the plane (taken), if the link is up. */
void ad_worker_send(worker_t *w, json_t *msg);
/* probes.c: the plane's probe {id, run, probe} of a service on this node,
 * run here (tcp, unix or http), answered probe_done. */
void ad_worker_probe(worker_t *w, json_t *msg);
/* nodefs.c: the plane's file request {id, run, op, path, …} for an ACP
 * agent of this node, served beneath its run's folder, answered fs_done. */
void ad_worker_fs(worker_t *w, json_t *msg);
/* nodesess.c: the plane's session file request {id, op, agent, worktree,
 * sid, owners, none, data?} for a move, answered session_done. */
void ad_worker_session(worker_t *w, json_t *msg);
/* nodesess.c: the folder the CLI keeps an agent's sessions in here, as the
 * node's runs are arranged (nodebox.c), from msg's agent, worktree, owners
 * and none (ids, never paths): 0, or EINVAL. */
int ad_worker_claude_dir(worker_t *w, json_t *msg, char *dir, size_t dirsz, size_t *trusted);
/* The config folder (dot: ".codex", ".gemini") of the CLI that msg's
 * agent's runs here use (src/proc's ad_proc_cli_dir: users when it is the
 * node user's own) and the real path of the folder they run in. 0 or
 * EINVAL (an id that is none). */
typedef struct {
    char dir[4200];
    size_t trusted;
    bool users;
    char wt[4200];
} ad_worker_cli_t;
int ad_worker_cli_dir(worker_t *w, json_t *msg, const char *dot, ad_worker_cli_t *out);
/* nodeext.c: the plane's ext_sessions {id, op: list | read | place, …}:
 * this node user's CLI sessions listed, one read, or one placed for an
 * adopted agent, on the pool; answered ext_sessions_done. ext_free: what
 * it keeps (the last scan), at the node's end. */
void ad_worker_ext_sessions(worker_t *w, json_t *msg);
void ad_worker_ext_free(worker_t *w);
/* nodeterm.c: the plane's terminal request {id, run, op, …} for an ACP
 * agent of this node, run on the run's terminals here, answered term_done. */
void ad_worker_term(worker_t *w, json_t *msg);
/* Starts r's holder with the spawn msg (borrowed) in cwd: its connection
 * kept for the ATTACH (and what waited for it); spawn_failed on failure,
 * and r freed. */
void ad_worker_spawn(worker_t *w, wrun_t *r, json_t *msg, const char *cwd);
/* nodefence.c: whether a plane's message for r (what: "frame", "done",
 * "end") under lease epoch lease may be acted on: false when it is lower
 * than r has seen (refused, the plane told `fenced`); a higher one is kept
 * and saved. */
bool ad_worker_lease_ok(worker_t *w, wrun_t *r, json_int_t lease, const char *what);
/* A holder frame up to the plane, under the connection's epoch. */
void ad_worker_frame_up(worker_t *w, hconn_t *c, const unsigned char *f, size_t flen);
/* nodebox.c */
/* The run's sandbox (box, cleaned up by the caller either way) from the
 * spawn msg's policy, for cwd on this node; argv the spawn's (NULL: none).
 * A command's program as found here (toolbox.c: ~, relative to cwd, the
 * agent's PATH) into prog, "" when not. 0, or AD_EPERM / AD_EINVAL /
 * AD_EIO with err. */
int ad_worker_box(worker_t *w, const wrun_t *r, const char *agent_id, json_t *msg, const char *cwd,
                  const char *const *argv, char prog[4096], ad_proc_box_t *box, char *err,
                  size_t errsz);
/* env (borrowed entries) after the node's agent PATH (toolbox.c), with
 * the sandbox's HOME and TMPDIR in place of the plane's; owned vector
 * (free() it, not its entries). */
const char **ad_worker_box_env(const char **env, const ad_proc_box_t *box);
/* nodegit.c */
/* A spawn that names a worktree: its repository fetched from the plane
 * (git_get), a worktree made of it, then ad_worker_spawn there. */
void ad_worker_git_spawn(worker_t *w, json_t *msg);
/* git_chunk, git_ready, git_error, git_put_done from the plane. */
void ad_worker_git_msg(worker_t *w, const char *t, json_t *msg);
/* git_rpc from the plane: a git operation on one of its runs' worktrees. */
void ad_worker_git_rpc(worker_t *w, json_t *msg);
/* A frame from the plane for a run still waiting for its worktree: kept.
 * True when r is such a run. */
bool ad_worker_git_hold_down(wrun_t *r, uint32_t epoch, const unsigned char *f, size_t flen);
/* The holder's EXIT of a run with a worktree: held while the work is
 * pushed back (git_put), then sent up. True when it was held. */
bool ad_worker_git_exit(worker_t *w, wrun_t *r, hconn_t *c, const unsigned char *f, size_t flen);
/* r goes: what it holds of git. */
void ad_worker_git_free(wrun_t *r);
/* Each renewal: an EXIT held past its bound (the plane never answered the
 * push) goes up anyway. */
void ad_worker_git_tick(worker_t *w);
/* The workspaces whose mirrors the data dir has, into w->repos (at start). */
void ad_worker_git_scan(worker_t *w);

#endif
