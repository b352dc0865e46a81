-- Alerts that act (issue #35): rules per organisation, workspace, agent
-- or run (the rule, checked by src/train, kept as JSON), and every firing
-- recorded on its run (what fired, the point, what was done, how the
-- webhook went).
CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX alert_rules_org ON alert_rules(org_id, created_at);

CREATE TABLE alert_firings (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX alert_firings_run ON alert_firings(run_id, at);
CREATE INDEX alert_firings_rule ON alert_firings(rule_id, at);
