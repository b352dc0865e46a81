/* SPDX-License-Identifier: MIT */
/*
 * node: worker nodes (issue #34, docs/nodes.md). Both roles of the link
 * between a control plane and the nodes that dial out to it:
 *   link.c    the binary frames of the link (a holder frame, its run, its
 *             epoch), pure;
 *   plane.c   the control plane's side: the nodes connected now, their
 *             registration, leases and reachability, revocation;
 *   relay.c   the control plane's side of one remote run: a socket pair
 *             whose other end is an ordinary held process (src/proc/held.c)
 *             and whose frames go over the node's link, epoch-tagged;
 *   worker.c  `agentd node --join`: the node's loop, its outbound link,
 *             its holders, its capabilities;
 *   probes.c  a service's probe asked of its node, and the answer;
 *   nodefs.c  an ACP agent's file requests served on its node;
 *   ask.c     what the plane asks of a node and waits for (git, probes,
 *             files): answered only by the node asked, failed when it goes;
 *   nodeext.c the CLIs' own sessions in a node user's HOME, listed, read
 *             and placed for an adoption (src/sessfile reads them).
 * What runs and agents are stays src/run's: the plane knows runs only by
 * id and node; the runner tells it a run's start and end, and hears of
 * reachability through a hook.
 *
 * Threads: loop thread only (link.c: any thread).
 */
#ifndef AD_NODE_H
#define AD_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth/auth.h"
#include "bus/bus.h"
#include "git/git.h"
#include "health/health.h"
#include "core/config.h"
#include "core/core.h"
#include "store/store.h"
#include "tables/planes.h"
#include "tables/nodes.h"
#include "ws/ws.h"

/* The link's close when another connection with the node's token took its
 * place: the node reconnects with backoff and says so (issue #73), where
 * 4409 (a name or token taken at join) and 4401/4403 stop it. */
#define AD_NODE_CLOSE_REPLACED 4410

/* ---- the link's frames (link.c) ----------------------------------------------------
 * A binary message: [u8 AD_LINK_HOLD][u8 n][u32 epoch LE][n bytes run id]
 * [one holder frame (src/hold/hold.h)], the frame's length matching the
 * message's. Little-endian, as the holder's own wire on the machines
 * agentd runs on. */
#define AD_LINK_HOLD 1
#define AD_LINK_HDR 6
#define AD_LINK_RUN_MAX 63
/* The control plane's frames to a node carry the run's lease epoch too
 * (issue #77, its fencing token: migration 3060): [u8 AD_LINK_HOLD_LEASE]
 * [u8 n][u32 epoch LE][u32 lease LE][n bytes run id][one holder frame]. */
#define AD_LINK_HOLD_LEASE 2
#define AD_LINK_HDR_LEASE 10
/* The link's binary messages are at most this (one holder frame); what a
 * node takes of the control plane's text messages (a git_ready with its
 * setup files, 512 KiB of them in base64, is the largest) at most the
 * second. */
#define AD_LINK_MSG_MAX (AD_LINK_HDR_LEASE + AD_LINK_RUN_MAX + 8 + (256u * 1024u))
#define AD_LINK_TEXT_MAX (2u << 20)
/* Writes the header for run and epoch into out (AD_LINK_HDR + strlen(run)
 * bytes); the length written, 0 when run is too long or empty. */
size_t ad_link_header(unsigned char *out, const char *run, uint32_t epoch);
/* Reads a message: run (NUL-terminated), epoch, and the holder frame in
 * it (borrowed from m). 0, or AD_EINVAL for anything malformed: a short
 * message, a run id that is empty, too long or not [A-Za-z0-9_], a frame
 * whose length is not the rest of the message or past the holder's bound. */
int ad_link_parse(const unsigned char *m, size_t len, char run[AD_LINK_RUN_MAX + 1],
                  uint32_t *epoch, const unsigned char **frame, size_t *flen);
/* The same with the run's lease epoch (AD_LINK_HDR_LEASE + strlen(run)
 * bytes), and a message of either kind read with it (*lease 0 for an
 * AD_LINK_HOLD one). */
size_t ad_link_header_lease(unsigned char *out, const char *run, uint32_t epoch, uint32_t lease);
int ad_link_parse_lease(const unsigned char *m, size_t len, char run[AD_LINK_RUN_MAX + 1],
                        uint32_t *epoch, uint32_t *lease, const unsigned char **frame,
                        size_t *flen);
/* The node's fence (issue #77): a message for a run under lease epoch got,
 * where *known is the highest the node has seen for it. false (refused,
 * *known kept) when got is lower: it comes from a plane that lost the run;
 * else true, *known raised to got. Pure. */
bool ad_link_lease_ok(uint32_t *known, uint32_t got);
/* Whether a holder frame of type may go node -> control plane (up) or
 * control plane -> node (down), with a payload of len bytes. */
bool ad_link_frame_up_ok(unsigned type, size_t len);
bool ad_link_frame_down_ok(unsigned type, size_t len);

/* ---- the control plane (plane.c, relay.c) --------------------------------------- */
typedef struct ad_plane ad_plane_t;
typedef struct ad_plane_link ad_plane_link_t;

/* What the run layer hears from the plane. */
typedef struct {
    /* A run's node became unreachable (false: back) at since (wall ms);
     * node is its name. */
    void (*reachable)(void *ud, const char *run_id, bool reachable, int64_t since,
                      const char *node);
    /* The node's runs that were unreachable past the grace (or whose node
     * was revoked, or lost them) are being ended as lost: why says so. */
    void (*lost)(void *ud, const char *run_id, const char *why);
    /* Another control plane owns the run now (issue #77: it took its lease,
     * a higher epoch): the run's socket pair closes, and nothing of its end
     * may be written or published here, since it goes on there. Before the
     * close. */
    void (*dropped)(void *ud, const char *run_id);
    void *ud;
} ad_plane_hooks_t;

/* Returns owned (free with ad_plane_free; the memory goes in its timer's
 * close callback). cfg, store and bus borrowed. */
ad_plane_t *ad_plane_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus);
void ad_plane_free(ad_plane_t *p);
void ad_plane_set_hooks(ad_plane_t *p, const ad_plane_hooks_t *h);

/* A link opens for token (its id, name and org; copied) on ws; it waits
 * for the node's hello. The link's socket (below) does this. */
ad_plane_link_t *ad_plane_link_open(ad_plane_t *p, ad_ws_t *ws, const char *token_id,
                                    const char *org_id);
void ad_plane_link_message(ad_plane_link_t *l, const char *data, size_t len, bool binary);
/* The socket is gone with close code (the link is freed here). */
void ad_plane_link_closed(ad_plane_link_t *l, int code);

/* ---- the link's socket (wslink.c) -----------------------------------------------
 * /api/nodes/link, once src/api/nodes.c has checked the upgrade's
 * credential is a node token's: open makes the link on ws (its socket
 * data) and watches cred (copied) with auth, closing the socket 4401 the
 * moment the token is revoked or expires; message hands a frame to the
 * link; closed frees both (the socket is gone). */
void ad_plane_ws_open(ad_plane_t *p, ad_auth_t *auth, ad_ws_t *ws, const ad_auth_cred_t *cred,
                      const char *token_id, const char *org_id);
void ad_plane_ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary);
void ad_plane_ws_closed(ad_ws_t *ws, int code);

/* Nodes with their live state: [{…the row, state: connected | unreachable
 * | offline | revoked, connected, runs}] of org ("": all); new reference.
 * NULL when the store could not be read. */
json_t *ad_plane_nodes(ad_plane_t *p, const char *org);
/* One of them, or NULL (unknown). New reference. */
json_t *ad_plane_node(ad_plane_t *p, const char *id);
/* Revokes a node: its row marked, its token revoked by revoke_token(ud,
 * token id) (the caller's: src/auth), its link closed (4403 "node
 * revoked") and its runs lost. cb(rc, row, ud2) after the row's commit;
 * AD_ENOENT for an unknown or revoked node. */
void ad_plane_revoke(ad_plane_t *p, const char *id, void (*revoke_token)(void *, const char *),
                     void *ud, ad_store_result_cb cb, void *ud2);
/* A node of org by name (or id): its id into id; connected: its link is
 * up. AD_ENOENT when there is none (or it is revoked). */
int ad_plane_find(ad_plane_t *p, const char *org, const char *name, char id[AD_ID_MAX],
                  bool *connected);

/* Placement (place.c). Whether node (a row of ad_plane_nodes: labels,
 * caps, state) fits want {labels: {k: v}, gpu: true, memoryMb: N} and has
 * cli (a CLI's name, NULL: any) installed, gpus_busy of its GPUs being
 * taken: true, or false with why; *busy: it could, but not now (not
 * connected, its GPUs or memory taken). Pure. */
bool ad_node_fits(const json_t *node, const json_t *want, const char *cli, int gpus_busy,
                  bool *busy, char *why, size_t whysz);
/* Whether node (a row as above) may take a new run: 0, or why not (it is
 * cordoned or draining: AD_ESTATE; it runs maxRuns: AD_EBUSY), e.g. "it is
 * cordoned", "it runs 4 of 4". Pure. ad_plane_node_room: the same of node
 * id as it stands now (AD_ENOENT: unknown). */
int ad_node_room(const json_t *node, char *why, size_t whysz);
/* Whether node (a row as ad_plane_node gives it) is linked to another
 * control plane than this one (issue #77): then work for it goes through
 * that plane, and why says which (its id and URL). */
bool ad_node_linked_elsewhere(const json_t *node, char *why, size_t whysz);
/* Why node id (named name) cannot take work through this plane, when
 * ad_plane_find said it is not connected here: "node NAME is not connected",
 * or that it is linked to another plane (which one). */
void ad_plane_not_here(ad_plane_t *p, const char *id, const char *name, char *err, size_t errsz);
/* The live plane, not this one, that holds the link of the node agent_id is
 * placed on by name (its state.node): true with it in *to, so its start is
 * sent there (src/cluster's forward.c). */
bool ad_plane_agent_node_elsewhere(ad_plane_t *p, const char *agent_id, ad_store_plane_ref_t *to);
int ad_plane_node_room(ad_plane_t *p, const char *id, char *why, size_t whysz);
/* The operator's settings of node id (cordoned, draining, maxRuns, labels;
 * tables/nodes.h), stored so every control plane sees them, then
 * node_updated {node} published; cb(rc, node with its live state, ud),
 * AD_ENOENT for an unknown or revoked node. */
void ad_plane_set(ad_plane_t *p, const char *id, const ad_store_node_set_t *set,
                  ad_store_result_cb cb, void *ud);
/* A node's event history (nodehist.c, issue #77): kind (linked, unlinked,
 * drained, run_placed, key_traded, ...) with detail (stolen; NULL: {}; this
 * plane's id added) stored for node id of org (NULL: its live entry's) and
 * published as node_event {event} on the org's topic. */
void ad_plane_event(ad_plane_t *p, const char *node_id, const char *org, const char *kind,
                    json_t *detail);
/* A PATCH's body {cordoned?, maxRuns?: 0..100000|null, labels?: {k: v}|null}
 * into set (its labels JSON text allocated: the caller frees it): 0, or
 * AD_EINVAL with e (an unknown key, a bad value; at most 32 labels, names
 * of letters, digits, . _ -, values strings up to 128 bytes). */
int ad_node_set_check(const json_t *body, ad_store_node_set_t *set, ad_field_err_t *e);
/* The node of org that fits want (as above), holds workspace ws's
 * repository already (caps.repos; ws may be NULL) and is least busy: its id.
 * AD_EINVAL when none could run it, AD_ESTATE when some could but none
 * can now; *reasons then [{node, id, why}] (new reference). */
int ad_plane_place(ad_plane_t *p, const char *org, const json_t *want, const char *cli,
                   const char *ws, char id[AD_ID_MAX], json_t **reasons);

/* A run placed on node_id: the relay made, spawn (taken; NULL for a run
 * taken up after a restart; its "gpu": true counts a GPU taken) sent first. *fd is held.c's end of
 * the socket pair (ad_proc_attach_fd). AD_ESTATE when a spawn is asked of a node whose link is down
 * (err says so). */
int ad_plane_run_open(ad_plane_t *p, const char *node_id, const char *run_id, json_t *spawn,
                      int *fd, char *err, size_t errsz);
/* The run's worktree here (its id, workspace id and folder; copied): what
 * its node may fetch (a bundle of its HEAD) and push back (into
 * refs/agentd/nodes/<worktree>/<node>, the worktree fast-forwarded when it can
 * be). Without it a node gets no repository for the run. */
void ad_plane_run_worktree(ad_plane_t *p, const char *run_id, const char *wt_id, const char *ws_id,
                           const char *path);
/* The workspace's setup files (relative paths, borrowed; copied) and the
 * folder they are copied from (its main worktree): a node's new worktree
 * of the run gets them as a local one does (docs/nodes.md). */
void ad_plane_run_setup(ad_plane_t *p, const char *run_id, const char *src, json_t *files,
                        const char *command);
/* The run's end is stored: its node may forget it (its holder folder
 * goes). The relay goes. */
void ad_plane_run_done(ad_plane_t *p, const char *run_id);
/* Fencing (issue #77, planelease.c). The heartbeat found run_id under
 * another plane's live lease: this plane lets it go (hooks.dropped, no end,
 * nothing to the node but, when nothing else of this plane runs there, the
 * `moved` that sends it to the owner). Runs not on a node: nothing. */
void ad_plane_run_lease_lost(ad_plane_t *p, const char *run_id);
/* Whether run_id, which this plane runs on a node, was taken over again
 * while it ran here (its stored epoch is above its relay's): another plane
 * held it meanwhile, and what that plane stored must not be stored again. */
bool ad_plane_run_lease_newer(ad_plane_t *p, const char *run_id);
/* Such a run attached again under the stored epoch, the node asked for its
 * output from out_off and err_off (what is stored) when they are past what
 * this plane had: the caller has moved held.c there (ad_proc_held_skip). */
void ad_plane_run_lease_refresh(ad_plane_t *p, const char *run_id, uint64_t out_off,
                                uint64_t err_off);
/* A worktree operation on the node of run_id's worktree, while the run
 * lives there (its status, its working changes, a commit of them): asked
 * over the link, answered by the node's own git; cb gets the result as
 * ad_git_queue's would (once, on the loop; a node away or too slow is an
 * AD_ECLOSED / AD_ETIMEDOUT result with a message). op: AD_GIT_OP_STATUS,
 * DIFF (a.file), COMMIT (a.message, a.force), REVIEW (a.base, a.file) or
 * COMMITS (a.base): a.base a commit id the node has (the merge base the
 * caller found here), never a name. 0, or AD_EINVAL for another op (cb not
 * called). */
int ad_plane_git_rpc(ad_plane_t *p, const char *run_id, ad_git_op_t op, const ad_git_args_t *a,
                     ad_git_done_cb cb, void *ud);

/* The folder an agent of node_id works in there, as the node makes it
 * (<its data dir>/worktrees/<wt_id>, or /work/<agent_id> without a
 * worktree), for what the agent is told of its folder (an ACP session's
 * cwd, codex app-server's). false when the node has not said its data
 * dir (not connected since this plane started). */
bool ad_plane_agent_cwd(ad_plane_t *p, const char *node_id, const char *wt_id, const char *agent_id,
                        char *out, size_t outsz);
/* A Claude Code session file for a live move (nodesess.c, issue #76), a
 * part at a time: agent's session sid (its worktree wt_id, "" none) read
 * on node_id from offset (data NULL: at most AD_PROC_CLAUDE_CHUNK bytes,
 * and the file's size), or data (len bytes, at most a chunk) written
 * there at offset (0: anew; final: the last part, the file then put in
 * place whole); owners and none say how its runs are arranged there (the
 * owner's organisation; sandbox "none"). cb once, on the loop (maybe
 * before this returns): rc 0 with the part read (borrowed; NULL for a
 * write) and the file's size, or AD_ENOENT (no such file there) or AD_EIO
 * with why. Always 0. */
typedef struct {
    const char *agent_id, *wt_id, *sid;
    bool owners, none;
    uint64_t offset;
    const char *data;
    size_t len;
    bool final;
} ad_plane_sess_req_t;
typedef void (*ad_plane_sess_cb)(int rc, const char *data, size_t len, uint64_t size,
                                 const char *why, void *ud);
int ad_plane_claude_session(ad_plane_t *p, const char *node_id, const ad_plane_sess_req_t *req,
                            ad_plane_sess_cb cb, void *ud);
/* The CLIs' own sessions in node_id's user's HOME (nodeext.c, issue #76):
 * req (taken) {op: "list"} answers {sessions: [...], truncated}; {op:
 * "read", tool, sid} {session, messages, dropped} (the newest messages
 * that fit 640 KiB, each text at most 32 KiB); {op: "place", tool:
 * "claude", sid, agent, worktree, owners, none} copies the session file
 * to where agent's runs on that node will look for it ({placed: true}).
 * cb once, on the loop (maybe before this returns): rc 0 with the node's
 * answer (borrowed, unchecked: the caller checks what it takes), or
 * AD_ESTATE (not connected), AD_ENOENT (not there), AD_EIO, AD_ECLOSED or
 * AD_ETIMEDOUT with why: the node did not answer within wait_ms (0: 30
 * s), and its late answer is dropped (logged), never handed to cb. Always
 * 0. */
typedef void (*ad_plane_ext_cb)(int rc, json_t *answer, const char *why, void *ud);
int ad_plane_ext_sessions(ad_plane_t *p, const char *node_id, json_t *req, uint64_t wait_ms,
                          ad_plane_ext_cb cb, void *ud);
/* An ACP agent's file request, for its node (nodefs.c): path relative to
 * its worktree (checked by name by the caller); content (content_len
 * bytes) to write, or NULL to read lines [line, line + limit). */
typedef struct {
    const char *path;
    const char *content;
    size_t content_len;
    int64_t line, limit;
} ad_plane_fs_req_t;
/* Once, on the loop: a read's text (a string, borrowed) or json null for a
 * write done; or NULL and why (not_found: the file is not there). */
typedef void (*ad_plane_fs_cb)(json_t *content, const char *why, bool not_found, void *ud);
/* req served by run_id's node beneath the run's folder there. Always 0 (a
 * node away or too slow is a failure given to cb). */
int ad_plane_fs(ad_plane_t *p, const char *run_id, const ad_plane_fs_req_t *req, ad_plane_fs_cb cb,
                void *ud);

/* Once, on the loop: an ACP terminal request's result (an object,
 * borrowed), or NULL and why. */
typedef void (*ad_plane_term_cb)(json_t *result, const char *why, void *ud);
/* req (borrowed: {op, terminal} or, for "create", {op, params, cwd: below
 * the run's folder, agent, env, sandbox}) run by run_id's node on the
 * run's terminals there (nodeterm.c). Always 0 (a node away or too slow is
 * a failure given to cb). */
int ad_plane_term(ad_plane_t *p, const char *run_id, json_t *req, ad_plane_term_cb cb, void *ud);

/* What run_id's node last said the run uses, into a's figures and node
 * (its name; the ids and org are the caller's to fill): false when none. */
bool ad_plane_run_measured(const ad_plane_t *p, const char *run_id, ad_health_agent_t *a);
/* probe (a service's tcp, unix or http probe, borrowed) run by the node of
 * run_id, where the service is (probes.c): cb once, on the loop, with its
 * result, or a failure when the node is not connected, goes away or does
 * not answer in the probe's time. Always 0. */
int ad_plane_probe(ad_plane_t *p, const char *run_id, json_t *probe, ad_probe_cb cb, void *ud);
/* The pid of run_id's process on its node, as the node said (0: not known). */
long ad_plane_run_pid(const ad_plane_t *p, const char *run_id);
/* Whether run_id is on a node, and its name (when name is not NULL). */
bool ad_plane_run_node(const ad_plane_t *p, const char *run_id, char *name, size_t namesz,
                       bool *unreachable);
/* Counters for /metrics and the bench: bytes of DATA received that were
 * below what the relay had already (resent), frames of an old epoch dropped. */
void ad_plane_stats(const ad_plane_t *p, uint64_t *resent_bytes, uint64_t *stale_frames);
/* The same and the nodes connected, unreachable and runs on nodes as
 * Prometheus families into b (p NULL: zeros). 0 or AD_ETOOBIG. */
int ad_plane_prom(const ad_plane_t *p, ad_buf_t *b);

/* ---- the node's role (worker.c) ------------------------------------------------- */
/* `agentd node …`: argv after "node" (--join URL, --token T | --token-file
 * F, --name N, --labels k=v,…; `ls` lists the nodes through the control
 * plane's CLI socket instead, see src/cli). cfg: the global options
 * (--data-dir, log settings). Returns the exit status. */
int ad_node_main(ad_config_t *cfg, int argc, char **argv);

#endif
