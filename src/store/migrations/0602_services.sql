-- Services (src/svc): long-running helpers agentd keeps up, with a typed
-- config checked against their schema, a restart policy and a probe.
CREATE TABLE services (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    name TEXT NOT NULL,
    command TEXT NOT NULL,            -- JSON argv; "{key}" arguments take config values
    cwd TEXT,
    config TEXT NOT NULL DEFAULT '{}', -- JSON, checked against schema
    schema TEXT NOT NULL DEFAULT '{}', -- JSON {fields: {name: {type, min, max, …}}}
    restart TEXT NOT NULL DEFAULT 'on-failure'
        CHECK (restart IN ('always', 'on-failure', 'never')),
    probe TEXT,                        -- JSON {type: tcp|unix|http|command, …}
    enabled INTEGER NOT NULL DEFAULT 1, -- kept running (and started with the daemon)
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX services_by_org ON services(org_id, created_at);
