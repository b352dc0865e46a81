-- Issue #41: a run that did its work but lost some of its output (a full
-- disk, a writer that could not keep up) ends `degraded`, not `succeeded`.
-- Only the runs table's status CHECK widens; as in 2000_agent_stopped.sql
-- the stored CREATE TABLE text is edited in place (a rebuild would cascade
-- to messages with foreign keys on), and the table made and dropped after
-- it moves the schema cookie so every connection reloads. run_stats counts
-- a degraded run in `runs` only (neither passed nor failed).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''stopped'', ''lost'')', '''stopped'', ''lost'', ''degraded'')')
 WHERE type = 'table' AND name = 'runs' AND sql NOT LIKE '%''degraded''%';
PRAGMA writable_schema = RESET;
CREATE TABLE agentd_schema_bump2 (x INTEGER);
DROP TABLE agentd_schema_bump2;
