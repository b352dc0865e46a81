-- SPDX-License-Identifier: MIT
-- The agent sandbox per workspace (issue #31): a workspace's default policy
-- {network, paths} (NULL: agentd's default), applied to its agents where
-- their own state.sandbox does not say otherwise. The audit row of a
-- request that changed something worth naming (a sandbox policy, old and
-- new) carries it in words.
ALTER TABLE workspaces ADD COLUMN sandbox TEXT;
ALTER TABLE audit_log ADD COLUMN detail TEXT;
