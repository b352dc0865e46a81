-- The commit a run started from (issue #35, the run page): HEAD of its
-- worktree when it started, as JSON {id, shortId, summary, message, author,
-- email, time, branch}, read by src/run/commit.c on the thread pool just
-- after the run row is written. NULL for runs before this, or when the
-- worktree had no commit.
ALTER TABLE runs ADD COLUMN git_commit TEXT CHECK (git_commit IS NULL OR json_valid(git_commit));
