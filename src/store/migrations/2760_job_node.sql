-- SPDX-License-Identifier: MIT
-- 2760: a job placed on a worker node names it (issue #34, docs/nodes.md;
-- NULL: it ran on the control plane).
ALTER TABLE jobs ADD COLUMN node_id TEXT;
