-- SPDX-License-Identifier: MIT
-- 2990: the operator's tools for worker nodes (issue #77, docs/nodes.md
-- "Draining, cordoning, capacity and queues"), kept in the store so every
-- control plane on one database sees them. A cordoned node takes no new
-- run; a draining one is cordoned and reads drained once its runs have
-- ended. max_runs bounds its runs (NULL: no bound). labels_set, when not
-- NULL, is what the control plane set and overrides the labels the node
-- says (labels).
ALTER TABLE nodes ADD COLUMN cordoned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN draining INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN max_runs INTEGER;
ALTER TABLE nodes ADD COLUMN labels_set TEXT;
-- The runs running on a node, counted for its max_runs by any plane.
CREATE INDEX runs_running_on_node ON runs(node_id) WHERE node_id IS NOT NULL AND status = 'running';

-- The queue: starts that wait for a node with room, FIFO per organisation
-- (queued_at, then agent_id). One per agent. node_id: the node the agent
-- names (NULL: its placement's). A plane starts an item only after taking
-- it with one conditional UPDATE (claimed_by, claimed_until), as a run's
-- lease is taken, so one plane starts it; a claim that lapses (its plane
-- died) may be taken again.
CREATE TABLE node_queue (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    node_id TEXT,
    prompt TEXT,
    reasons TEXT NOT NULL DEFAULT '',
    queued_at INTEGER NOT NULL,
    queued_by TEXT NOT NULL DEFAULT '',
    claimed_by TEXT,
    claimed_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX node_queue_order ON node_queue(org_id, queued_at, agent_id);
CREATE INDEX node_queue_by_time ON node_queue(queued_at, agent_id);
CREATE INDEX node_queue_by_node ON node_queue(node_id) WHERE node_id IS NOT NULL;
