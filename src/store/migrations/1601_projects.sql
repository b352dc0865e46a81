-- Projects of the LLM workbench (src/api/projects.c): a conversation's
-- messages and the files it produced, saved together. A save replaces the
-- messages and files in one transaction: a crash leaves the old project or
-- the new one, never a mix.
CREATE TABLE llm_projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    user_id TEXT,
    name TEXT NOT NULL,
    description TEXT,
    chat_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX llm_projects_by_org ON llm_projects(org_id, updated_at);

CREATE TABLE llm_project_messages (
    project_id TEXT NOT NULL REFERENCES llm_projects(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, position)
);

CREATE TABLE llm_project_files (
    project_id TEXT NOT NULL REFERENCES llm_projects(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    content TEXT NOT NULL,
    size INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, path)
);
