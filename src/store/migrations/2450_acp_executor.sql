-- Issue #33: agents of the `acp` executor (any Agent Client Protocol agent).
-- Only the agents table's executor CHECK widens; as in 2000_agent_stopped,
-- the stored CREATE TABLE text is edited in place (a wider CHECK changes
-- nothing on disk) and a table made and dropped moves the schema cookie.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''gemini'', ''command'')', '''gemini'', ''command'', ''acp'')')
 WHERE type = 'table' AND name = 'agents' AND sql NOT LIKE '%''acp''%';
PRAGMA writable_schema = RESET;
CREATE TABLE agentd_schema_bump (x INTEGER);
DROP TABLE agentd_schema_bump;
