-- A message can say it failed: a tool call whose result was an error (or a
-- denial), an API error shown as a message. Tool calls are one row each: the
-- result replaces the row of its call (src/run/output.c).
ALTER TABLE messages ADD COLUMN is_error INTEGER NOT NULL DEFAULT 0 CHECK (is_error IN (0, 1));
