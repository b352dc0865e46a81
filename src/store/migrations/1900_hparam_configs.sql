-- Hyper-parameter configs (issue #16, src/hparam, src/store/hparams.c).
-- A schema's definition is the JSON the user sent (description, fields,
-- presets), checked by src/hparam before it is stored; the built-in PPO
-- schema lives in the code, not here. A config's values are complete
-- (every field of its schema) and were checked against it when saved.
CREATE TABLE config_schemas (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    name TEXT NOT NULL,
    definition TEXT NOT NULL CHECK (json_valid(definition)),
    created_at INTEGER NOT NULL
);
CREATE INDEX config_schemas_by_org ON config_schemas(org_id, name);

CREATE TABLE configs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    name TEXT NOT NULL,
    schema_id TEXT NOT NULL,
    vals TEXT NOT NULL CHECK (json_valid(vals)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX configs_by_org ON configs(org_id, updated_at);
CREATE INDEX configs_by_schema ON configs(schema_id);

-- The config a run was started with: {id, name, schemaId, values}, so the
-- runs table can show, sort and filter runs by their hyper-parameters.
ALTER TABLE runs ADD COLUMN config TEXT CHECK (config IS NULL OR json_valid(config));
