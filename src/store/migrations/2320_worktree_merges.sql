-- What agentd merged (issue #32): one row per merge of a worktree's branch
-- made through POST /api/worktrees/:id/merge, so the worktree reads merged
-- after a squash (its branch is then still "ahead" of the base by git's
-- count) and deleting it needs no force. head is the worktree commit that
-- was merged (for rebase: the rebased tip), commit_id what the base branch
-- points at afterwards. The rows go with their worktree.
CREATE TABLE worktree_merges (
    id TEXT PRIMARY KEY,
    worktree_id TEXT NOT NULL REFERENCES worktrees(id) ON DELETE CASCADE,
    branch TEXT NOT NULL,
    into_branch TEXT NOT NULL,
    strategy TEXT NOT NULL,
    head TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    previous TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX worktree_merges_by_worktree ON worktree_merges (worktree_id, created_at);
