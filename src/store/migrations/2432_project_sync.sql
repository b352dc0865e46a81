-- A workbench project kept in sync with a folder (issue #40, seed 002),
-- opt-in per project: the folder, and when the last sync ended (a file in
-- the folder changed after it is taken into the project).
ALTER TABLE llm_projects ADD COLUMN sync_path TEXT;
ALTER TABLE llm_projects ADD COLUMN sync_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX llm_projects_synced ON llm_projects(sync_path) WHERE sync_path IS NOT NULL;
