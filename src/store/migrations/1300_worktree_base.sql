-- SPDX-License-Identifier: MIT
-- 1300: the branch a worktree was created from (issue 14, review and merge).
-- Review "against base", merge and rebase default to it. Rows made before
-- this migration, or found by a refresh, take the workspace's default
-- branch: the branch checked out in its main worktree. The main worktree
-- itself has no base (NULL).
ALTER TABLE worktrees ADD COLUMN base_branch TEXT;
UPDATE worktrees SET base_branch = (
    SELECT m.branch FROM worktrees m
    WHERE m.workspace_id = worktrees.workspace_id AND m.is_main = 1 AND m.branch <> ''
) WHERE is_main = 0;
