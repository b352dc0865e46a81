-- SPDX-License-Identifier: MIT
-- 3010: one line per agent saying what it is doing and what it needs
-- (issue #76, docs/api.md "An agent's one-line summary"). Made by the
-- workbench's model (the summary_model setting, off while it is empty)
-- from the agent's last turn, with the agent's organisation's key. One row
-- per agent: the newest line as the API shows it (summary: the JSON
-- {text, at, turn}), the turn it read (the id of the newest
-- message it saw: the same turn is not asked again), and what the lines
-- made so far cost, which the organisation's credits count as spent.
-- summary_org is the agent's org (not org_id: the agent lists join this
-- table, and agents.org_id would become ambiguous).
CREATE TABLE agent_summaries (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    summary_org TEXT NOT NULL,
    summary TEXT NOT NULL,
    turn TEXT NOT NULL,
    model TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0
);
CREATE INDEX agent_summaries_by_org ON agent_summaries(summary_org);

INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('summary_model', '', 'string',
     'the model that writes each agent''s one-line summary after its turns (empty: off)', 0),
    ('summary_provider', 'anthropic', 'string',
     'the provider of summary_model: anthropic or openai (each organisation''s own key)', 0);
