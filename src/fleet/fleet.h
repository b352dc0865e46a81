/* SPDX-License-Identifier: MIT */
/*
 * The fleet engine (issue #77, docs/nodes.md, docs/operations.md): the
 * operator's tools for worker nodes that sit above src/node, with their
 * routes (its engine's routes hook):
 *   - registration tokens: short-lived, single-use unless said, traded by
 *     a node at its first start for its own node key (regs.c, trade.c);
 *   - each node's event history, read back (events.c; what is recorded is
 *     src/node's nodehist.c);
 *   - the autoscaling hook: a command run when starts wait in the queue or
 *     the idle nodes are not the warm minimum (autoscale.c).
 * Its state is app->fleet, made when the worker plane and the store are
 * there. Loop thread only.
 */
#ifndef AD_FLEET_H
#define AD_FLEET_H

struct ad_engine;
extern const struct ad_engine ad_fleet_engine;

#endif
