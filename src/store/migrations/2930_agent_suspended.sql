-- SPDX-License-Identifier: MIT
-- Issue #75: an agent whose CLI hit a rate or usage limit is `suspended`
-- (state.suspended {resumeAt, since, reason} says until when) and resumes
-- itself at the reset. Only the agents table's status CHECK widens, edited
-- in place as 2000_agent_stopped.sql does (see there why); PostgreSQL's
-- form is src/store/pgsql.c's override.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''paused'', ''stopped'')', '''paused'', ''stopped'', ''suspended'')')
 WHERE type = 'table' AND name = 'agents' AND sql NOT LIKE '%''suspended''%';
PRAGMA writable_schema = RESET;
CREATE TABLE agentd_schema_bump (x INTEGER);
DROP TABLE agentd_schema_bump;
