-- SPDX-License-Identifier: MIT
-- Removing a worktree (issue #74) keeps its row, as removing a workspace
-- does (2110): its folder goes, the row is marked removed and leaves the
-- lists, and its agents are archived, their transcripts, runs and metrics
-- still readable. A new worktree at the same path frees the old row's path
-- (src/store/workspaces.c, wt_insert).
ALTER TABLE worktrees ADD COLUMN removed_at INTEGER;
