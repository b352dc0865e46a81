-- SPDX-License-Identifier: MIT
-- 2820: a service placed on a worker node names it (issue #34, docs/nodes.md;
-- NULL: it runs on the control plane), and the run of it on that node now
-- (NULL: none), which a restarted control plane takes up instead of
-- starting the service a second time.
ALTER TABLE services ADD COLUMN node_id TEXT;
ALTER TABLE services ADD COLUMN node_run TEXT;
