-- agent_sessions (issue #40, the Claude Manager seed's table, in agentd's
-- schema since 0001 and never written): one row per run, written when the
-- run ends, with what the session was (session_data) and where its context
-- stood (context_snapshot: the agent's context level, the run's tokens and
-- cost, how many messages it made and the last five, cut to 500 characters).
CREATE TRIGGER agent_sessions_run_end AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status != 'running' BEGIN
    INSERT OR REPLACE INTO agent_sessions (id, agent_id, session_data, context_snapshot, created_at, updated_at)
    SELECT 'as_' || NEW.id, NEW.agent_id,
           json_object('runId', NEW.id, 'sessionId', a.session_id, 'executor', a.executor,
                       'mode', a.mode, 'status', NEW.status, 'exitCode', NEW.exit_code,
                       'startedAt', NEW.started_at, 'endedAt', NEW.ended_at,
                       'durationMs', NEW.duration_ms),
           json_object('contextLevel', a.context_level, 'inputTokens', NEW.input_tokens,
                       'outputTokens', NEW.output_tokens, 'cacheReadTokens', NEW.cache_read_tokens,
                       'cacheWriteTokens', NEW.cache_write_tokens, 'costUsd', NEW.cost_usd,
                       'numTurns', NEW.num_turns,
                       'messageCount', (SELECT COUNT(*) FROM messages WHERE run_id = NEW.id),
                       'lastMessages', json((SELECT COALESCE(json_group_array(json_object(
                           'role', m.role, 'content', substr(m.content, 1, 500),
                           'toolName', m.tool_name)), '[]')
                           FROM (SELECT role, content, tool_name FROM messages WHERE run_id = NEW.id
                                 ORDER BY created_at DESC, id DESC LIMIT 5) m))),
           COALESCE(NEW.ended_at, NEW.started_at), COALESCE(NEW.ended_at, NEW.started_at)
    FROM agents a WHERE a.id = NEW.agent_id;
END;
