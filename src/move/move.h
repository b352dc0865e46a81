/* SPDX-License-Identifier: MIT */
/*
 * move: a live agent moved between the control plane and a worker node
 * (issue #76, docs/nodes.md "Moving a live agent"). POST
 * /api/agents/:id/move {node} (a node's name or id, or null for the
 * control plane): the agent is stopped at a safe point (its executor's
 * polite stop, as POST .../stop does: a command gets its stopWith, a
 * Claude Code is stopped between turns), its worktree's
 * work carried (committed and uncommitted: the node's own push at the
 * run's end brings it home; going out, what the control plane's worktree
 * has uncommitted is committed first, since a node is sent a bundle of
 * HEAD), its state.node set, a `moved` note put in its transcript, and it
 * is started again there, resuming its session where the executor has
 * one. An executor that cannot resume its session elsewhere is refused
 * (422, reason executor_cannot_resume) before anything is stopped, as is
 * a node that cannot take the agent (409/422) or an agent waiting on an
 * approval (409).
 *
 * Parts: move.c (the route and the steps), session.c (a Claude agent's
 * session file carried), plugin.c (the engine: its routes hook, the tick
 * that waits for a Claude agent's turn to end). Ownership: the engine is
 * the app's; a move under way holds its request until the agent runs
 * where it was sent (or the step that failed answers). Threads: loop
 * thread only.
 */
#ifndef AD_MOVE_H
#define AD_MOVE_H

extern const struct ad_engine ad_move_engine;

#endif
