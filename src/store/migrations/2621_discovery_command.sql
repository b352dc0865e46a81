-- The program a discovery job runs when its start names none (issue #40,
-- the training seed's start_autonomous_discovery(environment): its client
-- gives an environment, not a program). An argv, each "{environment}" in it
-- replaced by the job's environment; [] until the owner sets one.
INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('discovery_command', '[]', 'json',
     'the program a discovery job runs when none is given: [program, args...], {environment} replaced',
     0);
