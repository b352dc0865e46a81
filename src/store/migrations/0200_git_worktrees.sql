-- SPDX-License-Identifier: MIT
-- 0200: git worktrees (issue 7). A workspace's setup for new worktrees
-- (files copied from the main worktree, a command run in the new one), the
-- outcome of that setup per worktree, and worktrees that vanished outside
-- agentd: a worktree row with agents is kept with vanished_at set, and its
-- agents are flagged with worktree_vanished_at, until the folder comes back.
ALTER TABLE workspaces ADD COLUMN setup_files TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(setup_files));
ALTER TABLE workspaces ADD COLUMN setup_command TEXT NOT NULL DEFAULT '';
ALTER TABLE worktrees ADD COLUMN setup TEXT CHECK (setup IS NULL OR json_valid(setup));
ALTER TABLE worktrees ADD COLUMN vanished_at INTEGER;
ALTER TABLE agents ADD COLUMN worktree_vanished_at INTEGER;
