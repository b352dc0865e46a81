-- The pull request opened for a worktree's branch (issue #32,
-- POST /api/worktrees/:id/pr): on which forge, its number and address,
-- and its state when agentd last looked. One per worktree (the latest);
-- it goes with its worktree.
CREATE TABLE worktree_prs (
    worktree_id TEXT PRIMARY KEY REFERENCES worktrees(id) ON DELETE CASCADE,
    forge TEXT NOT NULL,
    api_base TEXT NOT NULL,
    owner TEXT NOT NULL,
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    url TEXT,
    title TEXT,
    head_branch TEXT NOT NULL,
    base_branch TEXT NOT NULL,
    state TEXT NOT NULL,
    draft INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
