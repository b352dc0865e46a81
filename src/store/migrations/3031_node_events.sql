-- SPDX-License-Identifier: MIT
-- 3031: an event history per worker node (issue #77, docs/nodes.md "A
-- node's history"): linked, unlinked, drained, cordoned, a run placed on
-- it, ... with its detail (JSON text). Bounded per node: each insert
-- prunes that node's oldest past the bound.
CREATE TABLE node_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL,
    org_id TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX node_events_by_node ON node_events(node_id, id);
