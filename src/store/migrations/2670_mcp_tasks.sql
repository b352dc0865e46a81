-- Issue #36: an MCP host's task is an agent's run (the Tasks extension of
-- the Model Context Protocol, src/mcp). The row keeps what the protocol
-- needs beyond the run: the org it is bound to, when it was made and last
-- changed, and, once the run's prompt is done, its terminal status and the
-- tool result it ended with, so the end stays what it was whatever the
-- run does next (a Claude run lives on after its turn, for the next
-- message).
CREATE TABLE mcp_tasks (
    id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'working'
        CHECK (status IN ('working', 'completed', 'failed', 'cancelled')),
    status_message TEXT,
    result TEXT
);
CREATE INDEX mcp_tasks_by_org ON mcp_tasks(org_id, created_at, id);
CREATE INDEX mcp_tasks_working ON mcp_tasks(status) WHERE status = 'working';
