-- Removing a workspace (issue #14) keeps its rows: it is marked removed, its
-- agents are archived (their transcripts and runs stay readable) and its
-- worktrees leave the lists. Its files on disk are never touched. Adding the
-- same path again brings the workspace back with its worktrees.
ALTER TABLE workspaces ADD COLUMN removed_at INTEGER;
