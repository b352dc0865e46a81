-- Issue #14: an agent the user stopped is `stopped`, not `finished`. Only
-- the agents table's status CHECK widens. Rebuilding the table inside the
-- migration's transaction is not possible here (foreign keys are on, so
-- dropping the old table would cascade to runs and messages), and a wider
-- CHECK changes nothing on disk, so the stored CREATE TABLE text is edited
-- in place, SQLite's documented way for such changes; writable_schema=RESET
-- reloads this connection's schema, and the table made and dropped after
-- it moves the schema cookie, so every other connection reloads too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''idle'', ''paused'')', '''idle'', ''paused'', ''stopped'')')
 WHERE type = 'table' AND name = 'agents' AND sql NOT LIKE '%''stopped''%';
PRAGMA writable_schema = RESET;
CREATE TABLE agentd_schema_bump (x INTEGER);
DROP TABLE agentd_schema_bump;
