-- Issue #32: a stop asked of a running run is remembered with the run, so
-- a daemon that restarts during the escalation (the run taken up from its
-- holder) carries the stop on instead of forgetting it.
ALTER TABLE runs ADD COLUMN stop_asked_at INTEGER;
ALTER TABLE runs ADD COLUMN stop_force INTEGER NOT NULL DEFAULT 0;
