-- SPDX-License-Identifier: MIT
-- 2950: full-text search over every message, tool call and tool output
-- (issue #76, src/tables/search.c). An FTS5 index whose content is the
-- messages table itself (external content, through the view search_docs:
-- nothing is stored twice), kept current by the three triggers below as
-- rows are inserted, written over (a tool call's result) and deleted (an
-- agent's cascade). Three columns: body (the message's text), call (the
-- tool's name and input) and output (the tool's output), each its first
-- 32,768 characters, with the bytes 0x01 and 0x02 read as blanks: they
-- are the snippets' match markers, so no content can forge one.
-- PostgreSQL has its own version of this migration (a generated tsvector
-- column and a GIN index, src/store/pgsql.c). The last statement indexes
-- the messages a data dir already holds (docs/internals/tables.md, "Search").
CREATE VIEW search_docs AS SELECT rowid AS rid,
    replace(replace(substr(content, 1, 32768), char(1), ' '), char(2), ' ') AS body,
    replace(replace(substr(coalesce(tool_name, '') || ' ' || coalesce(tool_input, ''), 1, 32768),
        char(1), ' '), char(2), ' ') AS call,
    replace(replace(substr(coalesce(tool_output, ''), 1, 32768), char(1), ' '), char(2), ' ')
        AS output
    FROM messages;
CREATE VIRTUAL TABLE search_fts USING fts5(body, call, output, content='search_docs',
    content_rowid='rid', tokenize='unicode61 remove_diacritics 2');
-- a word in the message's own text weighs more than one in a tool's input or output
INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(1.0, 0.5, 0.5)');
CREATE TRIGGER search_messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO search_fts(rowid, body, call, output) VALUES (new.rowid,
        replace(replace(substr(new.content, 1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(new.tool_name, '') || ' ' || coalesce(new.tool_input, ''),
            1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(new.tool_output, ''), 1, 32768), char(1), ' '), char(2),
            ' '));
END;
CREATE TRIGGER search_messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO search_fts(search_fts, rowid, body, call, output) VALUES ('delete', old.rowid,
        replace(replace(substr(old.content, 1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(old.tool_name, '') || ' ' || coalesce(old.tool_input, ''),
            1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(old.tool_output, ''), 1, 32768), char(1), ' '), char(2),
            ' '));
END;
CREATE TRIGGER search_messages_au AFTER UPDATE OF content, tool_name, tool_input, tool_output
    ON messages BEGIN
    INSERT INTO search_fts(search_fts, rowid, body, call, output) VALUES ('delete', old.rowid,
        replace(replace(substr(old.content, 1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(old.tool_name, '') || ' ' || coalesce(old.tool_input, ''),
            1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(old.tool_output, ''), 1, 32768), char(1), ' '), char(2),
            ' '));
    INSERT INTO search_fts(rowid, body, call, output) VALUES (new.rowid,
        replace(replace(substr(new.content, 1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(new.tool_name, '') || ' ' || coalesce(new.tool_input, ''),
            1, 32768), char(1), ' '), char(2), ' '),
        replace(replace(substr(coalesce(new.tool_output, ''), 1, 32768), char(1), ' '), char(2),
            ' '));
END;
INSERT INTO search_fts(search_fts) VALUES ('rebuild');
