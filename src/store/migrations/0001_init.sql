-- SPDX-License-Identifier: MIT
-- 0001: the tables of DESIGN.md section 3 plus crews. Times are integer
-- milliseconds since the Unix epoch (the API formats them as RFC 3339).
-- Never edit a released migration: add a new numbered file instead.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE worktrees (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    branch TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL UNIQUE,
    sort_mode TEXT NOT NULL DEFAULT 'free' CHECK (sort_mode IN ('free', 'status', 'name')),
    display_order INTEGER NOT NULL DEFAULT 0,
    is_main INTEGER NOT NULL DEFAULT 0 CHECK (is_main IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX worktrees_by_workspace ON worktrees(workspace_id, display_order);

CREATE TABLE crews (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    worktree_id TEXT NOT NULL REFERENCES worktrees(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    executor TEXT NOT NULL DEFAULT 'claude'
        CHECK (executor IN ('claude', 'codex', 'gemini', 'command')),
    status TEXT NOT NULL DEFAULT 'finished'
        CHECK (status IN ('running', 'waiting', 'error', 'finished', 'idle', 'paused')),
    context_level INTEGER NOT NULL DEFAULT 0 CHECK (context_level BETWEEN 0 AND 100),
    mode TEXT NOT NULL DEFAULT 'regular' CHECK (mode IN ('auto', 'plan', 'regular')),
    permissions TEXT NOT NULL DEFAULT '["read"]' CHECK (json_valid(permissions)),
    display_order INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    session_id TEXT,
    parent_agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
    crew_id TEXT,
    state TEXT CHECK (state IS NULL OR json_valid(state)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    started_at INTEGER,
    stopped_at INTEGER,
    deleted_at INTEGER
);
CREATE INDEX agents_by_worktree ON agents(worktree_id, display_order);
CREATE INDEX agents_by_parent ON agents(parent_agent_id);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'failed', 'stopped', 'lost')),
    exit_code INTEGER,
    signal INTEGER,
    duration_ms INTEGER,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    num_turns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_agent ON runs(agent_id, started_at);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content TEXT NOT NULL DEFAULT '',
    token_count INTEGER NOT NULL DEFAULT 0,
    tool_name TEXT,
    tool_input TEXT,
    tool_output TEXT,
    is_complete INTEGER NOT NULL DEFAULT 1 CHECK (is_complete IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_by_agent ON messages(agent_id, created_at, id);
CREATE INDEX messages_by_run ON messages(run_id);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    type TEXT NOT NULL,
    topics TEXT NOT NULL,
    payload TEXT NOT NULL
);

CREATE TABLE usage_stats (
    date TEXT NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    request_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    model_usage TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(model_usage)),
    updated_at INTEGER NOT NULL,
    UNIQUE (date, period)
);
CREATE INDEX usage_by_period ON usage_stats(period, date);

CREATE TABLE metric_points (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX metric_points_by_run ON metric_points(run_id, name, step);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('string', 'number', 'boolean', 'json')),
    description TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('theme', 'system', 'string', 'dashboard theme: system, light or dark', 0),
    ('auto_save', 'true', 'boolean', 'save edits automatically', 0),
    ('notifications', 'true', 'boolean', 'show notifications', 0),
    ('default_mode', 'regular', 'string', 'mode of new agents: auto, plan or regular', 0),
    ('confirm_delete', 'true', 'boolean', 'ask before deleting', 0),
    ('max_context_warning', '80', 'number', 'warn when an agent''s context passes this percentage', 0),
    ('daily_token_limit', '0', 'number', 'tokens allowed per day (0: no limit)', 0),
    ('monthly_token_limit', '0', 'number', 'tokens allowed per month (0: no limit)', 0),
    ('daily_cost_limit', '0', 'number', 'USD allowed per day (0: no limit)', 0),
    ('monthly_cost_limit', '0', 'number', 'USD allowed per month (0: no limit)', 0);

CREATE TABLE agent_sessions (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    session_data TEXT,
    context_snapshot TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX agent_sessions_by_agent ON agent_sessions(agent_id);
