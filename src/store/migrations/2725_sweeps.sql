-- Sweeps (issue #35): a config schema, a method (grid, random, TPE), a
-- metric and its goal, a budget, at most N trials at once and an early
-- stopping rule; agentd starts the trials as runs of agents it makes from
-- a template agent. spec is what the user gave, state every trial (its
-- config, agent, run, status, values at each rung, final metric) and the
-- sampler's seed: all of it written whole on each change, so a restarted
-- daemon carries on from the row.
CREATE TABLE sweeps (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sweeps_org ON sweeps(org_id, created_at);
CREATE INDEX sweeps_running ON sweeps(status) WHERE status = 'running';
