-- Issue #40 (seed 002): multi-agent workflows. A workflow is a crew whose
-- agents are its steps; spec is what the user gave (steps, each with the
-- steps it needs and a prompt template; input; budget), state what became
-- of each step (agent, status, output, cost). Both JSON, written whole.
CREATE TABLE workflows (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT '',
    crew_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX workflows_org ON workflows(org_id, created_at);
CREATE INDEX workflows_running ON workflows(status) WHERE status = 'running';
