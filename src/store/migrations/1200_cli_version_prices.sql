-- The version of the agent CLI a run used ("0.169.0"), read once per run
-- (issue #22); NULL for commands and runs from before.
ALTER TABLE runs ADD COLUMN cli_version TEXT;

-- USD per million tokens per model, by which runs of CLIs that report no
-- cost (Codex, Gemini) are costed. Empty: agentd ships no prices.
INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('model_prices', '{}', 'json',
     'USD per million tokens per model: {"model": {"input", "output", "cachedInput", "cacheWrite"}}; a trailing * matches a prefix', 0);
