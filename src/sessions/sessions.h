/* SPDX-License-Identifier: MIT */
/*
 * sessions: the agent CLIs' own sessions on this machine and on the
 * organisation's nodes (issue #76, docs/sessions.md), found where the CLIs
 * keep them in the daemon user's HOME (and the node user's), read by
 * src/sessfile as untrusted input. The engine
 * (plugin.c) keeps the last scan, polls it every 2 s once somebody has asked, and publishes what
 * changed as external_session {session} on the topics "sessions" and "org:org_default" (they are
 * the owner's files). adopt.c's write makes an agent of a session with its transcript. Loop thread
 * unless said.
 */
#ifndef AD_SESSIONS_H
#define AD_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth/auth.h"
#include "bus/bus.h"
#include "core/core.h"
#include "sessfile/sessfile.h"
#include "store/store.h"
#include "wtree/wtree.h"

typedef struct ad_sessions ad_sessions_t;
struct ad_plane; /* src/node/node.h */

/* The engine's state over home (the daemon user's HOME, copied; NULL or
 * "": no sessions are found); bus and store borrowed. Closed by
 * ad_sessions_close. */
ad_sessions_t *ad_sessions_new(uv_loop_t *loop, ad_bus_t *bus, ad_store_t *store, const char *home);
void ad_sessions_close(ad_sessions_t *S);
extern const struct ad_engine ad_sessions_engine;

/* Whether who sees this machine's sessions (S made, and who of the
 * owner's organisation: they are the daemon user's files). */
bool ad_sessions_sees(const ad_sessions_t *S, const ad_principal_t *who);

/* cb(rc, out, ud): out owned by the callee, NULL on error. */
typedef void (*ad_sessions_cb)(int rc, json_t *out, void *ud);
/* How long a list waits for a node's answer (list.c): a list is a page
 * load, so a node slow to answer is left out (nodes[].listed false,
 * error "the node did not answer in time") rather than holding the page;
 * its answer when it comes is dropped (src/node takes an answer only for
 * a request still waiting, and the list's is gone). */
#define AD_SESSIONS_NODE_LIST_MS 3000
/* list.c: out->data {sessions: [{tool, sessionId, cwd, gitBranch,
 * startedAt, lastActivity, firstMessage, lastMessage, size, live, agentId,
 * node}], nodes: [{id, name, state, listed, sessions?, truncated?,
 * error?}]}, newest first: this machine's from a fresh scan (local: the
 * caller sees them; the poll starts with the first call; node null) and
 * those of each connected node of org ("": every org's) asked over its
 * link (node {id, name}); agentId is the agent of org that holds the
 * session, or null. node (a node's name or id, NULL or "": all) lists that
 * node's only: AD_ENOENT (details.field node) for one org does not have.
 * S NULL: an empty list. cb once. */
void ad_sessions_list(ad_sessions_t *S, const char *org, bool local, const char *node,
                      ad_wtree_cb cb, void *ud);
/* nodes.c: one session, for a route: this machine's (node NULL: as
 * ad_sessions_read; the caller decides who sees them) or one of node's (a
 * name or id of org's), read over its link. cb gets out->data {session
 * (with node), messages (, dropped: a node's older messages left out)}, or
 * the refusal: AD_ENOENT (no such node or session; S NULL), AD_ESTATE
 * with code NODE_AWAY (not connected here) or NODE_OUTDATED (too old to
 * be asked), AD_EAGAIN with NODE_FAILED (it failed or did not answer),
 * AD_EINVAL (not a tool or id). */
void ad_sessions_get(ad_sessions_t *S, const char *org, const char *node, const char *tool,
                     const char *id, ad_wtree_cb cb, void *ud);
/* nodes.c: an adoption on a node (body {tool, sessionId, node, worktreeId?,
 * and an agent's fields}, borrowed until cb): as ad_sessions_adoption, but
 * Claude Code only (AD_EINVAL, tool), the node of who's organisation
 * (AD_ENOENT, field node) connected here (AD_ESTATE, code NODE_AWAY), the
 * session read from it, and the worktree the one asked for or the one
 * whose copy on the node the session ran in (else AD_ESTATE, code
 * WORKTREE_NEEDED). On success body has executor, name and node (the
 * node's name: the agent is pinned there) and out->data {session,
 * messages, worktreeId, orgId, node {id, name}}. */
int ad_sessions_node_adoption(ad_sessions_t *S, const ad_principal_t *who, json_t *body,
                              ad_wtree_cb cb, void *ud, ad_field_err_t *e);
/* nodes.c: a node adoption's session file (data: the adoption's
 * out->data, borrowed) copied on its node to where the new agent's runs
 * there look for it (args: the write's args, ad_sessions_adopt_args',
 * borrowed until cb: the folder follows the agent's id, organisation and
 * sandbox). cb once: rc 0 with out->data args, or AD_EAGAIN code
 * NODE_FAILED with the node's words (AD_ECLOSED: agentd is closing). */
void ad_sessions_node_place(ad_sessions_t *S, const json_t *data, json_t *args, ad_wtree_cb cb,
                            void *ud);
/* plugin.c: the plane through which nodes are asked (borrowed). */
void ad_sessions_set_plane(ad_sessions_t *S, struct ad_plane *p);
/* One session: {session, messages: [{role, content, toolName?,
 * toolInput?, toolOutput?, isError, createdAt}]} (the last
 * AD_SESS_MESSAGES_MAX, oldest first); AD_ENOENT when it is not found. */
void ad_sessions_read(ad_sessions_t *S, const char *tool, const char *id, ad_sessions_cb cb,
                      void *ud);

/* prep.c: an adoption's checks, for who, of the request body {tool,
 * sessionId, worktreeId?, and an agent's fields} (one with node: a node's,
 * ad_sessions_node_adoption) (borrowed: it must stay
 * until cb): the fields (AD_EINVAL with e: nothing queued, no cb), the
 * worktree visible to who (AD_ENOENT), then the session read (AD_ENOENT:
 * none), not live (AD_ESTATE, code SESSION_LIVE), held by no agent of
 * who's org (AD_EEXIST, code ALREADY_ADOPTED, details.agentId), and the
 * worktree at its folder: the one asked for when it is that one (else
 * AD_ESTATE, details.cwd), the org's own, or the folder registered
 * through W under the workspaces' rules (AD_ESTATE, details.needed
 * "workspace_roots", when who may not; W's errors as they are). On success
 * body has executor (the tool) and a name (the first message, unless it
 * had one), and cb(ud, out) gets out->data {session, messages, worktreeId,
 * orgId}; else the error as src/wtree gives its own. */
int ad_sessions_adoption(ad_sessions_t *S, ad_wtree_t *W, const ad_principal_t *who, json_t *body,
                         ad_wtree_cb cb, void *ud, ad_field_err_t *e);
/* adopt.c: the write's args {agent, messages} from the agent's insert
 * args (taken) and the adoption's data (borrowed): the session id set. */
json_t *ad_sessions_adopt_args(json_t *agent, const json_t *data);

/* adopt.c, writer thread: args {agent: the agent's insert args (ad_store_op_agent_insert),
 * messages: what ad_sessions_read gave}; the agent and its messages in one
 * transaction. result {agent, workspaceId, imported}. */
int ad_sessions_op_adopt(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
