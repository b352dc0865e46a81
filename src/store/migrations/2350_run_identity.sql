-- Run identity (issue #35): what a user calls a run and how it is drawn.
-- name and color NULL mean the default, computed when read (the agent's
-- name, the config's name and the run's number among the agent's runs; a
-- colour of a fixed palette picked from the run's start time and id), so a
-- rename of the agent shows in runs never renamed. tags is a JSON array of
-- strings, notes free text, run_group a group name runs are compared by.
-- Bounds are src/api/runs.c's (PATCH /api/runs/:id).
ALTER TABLE runs ADD COLUMN name TEXT;
ALTER TABLE runs ADD COLUMN color TEXT;
ALTER TABLE runs ADD COLUMN tags TEXT CHECK (tags IS NULL OR json_valid(tags));
ALTER TABLE runs ADD COLUMN notes TEXT;
ALTER TABLE runs ADD COLUMN run_group TEXT;
