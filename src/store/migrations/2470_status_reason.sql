-- SPDX-License-Identifier: MIT
-- Why an agent has its status (issue #33): agents.status_reason is
-- {code, text, at, ref} as JSON text, written with every change of status
-- (ad_store_status_reason_t). Each change of status or reason is kept in
-- agent_status_history (the newest 200 per agent), so "why did it stop"
-- can be answered later. A status changed by a write that named no reason
-- gets code "unexplained": the reason never describes an older status.
ALTER TABLE agents ADD COLUMN status_reason TEXT;
CREATE TABLE agent_status_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  code TEXT,
  text TEXT,
  ref TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX agent_status_history_by_agent ON agent_status_history(agent_id, id);
CREATE TRIGGER agent_status_unexplained AFTER UPDATE OF status ON agents
WHEN NEW.status IS NOT OLD.status AND NEW.status_reason IS OLD.status_reason
BEGIN
  UPDATE agents SET status_reason = json_object('code', 'unexplained', 'text',
    'status changed to ' || NEW.status || ' with no reason recorded', 'at',
    COALESCE(NEW.updated_at, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)), 'ref', NULL)
  WHERE id = NEW.id;
END;
CREATE TRIGGER agent_status_history_add AFTER UPDATE OF status, status_reason ON agents
WHEN NEW.status_reason IS NOT NULL AND NEW.status_reason IS NOT OLD.status_reason
BEGIN
  INSERT INTO agent_status_history (agent_id, status, code, text, ref, at)
  VALUES (NEW.id, NEW.status, json_extract(NEW.status_reason, '$.code'),
          json_extract(NEW.status_reason, '$.text'), json_extract(NEW.status_reason, '$.ref'),
          COALESCE(json_extract(NEW.status_reason, '$.at'), NEW.updated_at, 0));
  DELETE FROM agent_status_history WHERE agent_id = NEW.id AND id <= (
    SELECT id FROM agent_status_history WHERE agent_id = NEW.id ORDER BY id DESC LIMIT 1 OFFSET 200);
END;
