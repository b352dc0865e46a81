-- Feedback loops (issue #75, PUT /api/worktrees/:id/pr/loop): for a
-- worktree with a pull request, which agent answers its failed checks and
-- review comments, how many turns it may take, and where the loop stands.
-- One per worktree; it goes with its worktree or its agent.
CREATE TABLE pr_loops (
    worktree_id TEXT PRIMARY KEY REFERENCES worktrees(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL DEFAULT 1,
    checks INTEGER NOT NULL DEFAULT 1,
    reviews INTEGER NOT NULL DEFAULT 1,
    max_turns INTEGER NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    reason_code TEXT,
    reason_text TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX pr_loops_enabled ON pr_loops(enabled);

-- What a loop sent its agent: one row per check failure or comment, keyed
-- by the forge's own id so that none is ever sent twice (across restarts).
CREATE TABLE pr_loop_items (
    id TEXT PRIMARY KEY,
    worktree_id TEXT NOT NULL REFERENCES worktrees(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    forge_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT,
    message TEXT NOT NULL,
    message_id TEXT,
    run_id TEXT,
    turn INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (worktree_id, kind, forge_id)
);
CREATE INDEX pr_loop_items_by_time ON pr_loop_items(worktree_id, created_at);
