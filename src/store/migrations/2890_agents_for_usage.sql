-- SPDX-License-Identifier: MIT
-- GET /api/usage/agents joins each of the 500 agents it shows to its row of
-- agents by id (src/store/usagetop.c). By the primary key that is two
-- b-tree descents an agent, the key's index and then the table; with every
-- column the read takes in this index it is one, and the request reads 12 %
-- fewer instructions (bench/README, F2). The columns change only when an
-- agent is renamed, moved, deleted or given to another organisation, so
-- the status updates of running agents do not write to it.
CREATE INDEX agents_for_usage ON agents (id, org_id, name, worktree_id, executor, deleted_at);
