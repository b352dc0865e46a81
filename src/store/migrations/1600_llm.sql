-- The LLM workbench (src/llm, src/api/chats.c): chats with Claude through
-- the Messages API, their messages, and the metadata of each organisation's
-- provider credentials. The keys themselves are never in the database: they
-- live in files of mode 0600 under <data_dir>/credentials (src/api/creds.c).
CREATE TABLE llm_chats (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    title TEXT,
    provider TEXT NOT NULL DEFAULT 'anthropic' CHECK (provider IN ('anthropic', 'openai')),
    model TEXT NOT NULL,
    system TEXT,
    definition TEXT,
    project_id TEXT,
    temperature REAL,
    max_tokens INTEGER,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX llm_chats_by_org ON llm_chats(org_id, updated_at);

CREATE TABLE llm_messages (
    id TEXT PRIMARY KEY,
    chat_id TEXT NOT NULL REFERENCES llm_chats(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    -- an assistant answer is streaming until it ends complete, stopped
    -- (by the user; the partial text kept), error, or interrupted (agentd
    -- stopped while it streamed)
    status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error',
                                           'interrupted')),
    error TEXT,
    model TEXT,
    stop_reason TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    cost_usd REAL,
    attempts INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX llm_messages_by_chat ON llm_messages(chat_id, created_at, id);

CREATE TABLE llm_credentials (
    org_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    last4 TEXT NOT NULL,          -- the key's last four characters, for the mask
    email TEXT,
    base_url TEXT,                -- set by admins only; NULL: the default
    status TEXT NOT NULL DEFAULT 'unchecked'
        CHECK (status IN ('unchecked', 'valid', 'invalid')),
    status_reason TEXT,
    validated_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, provider)
);
