-- The tool calls of a chat answer, put together from the stream (a
-- Messages API tool_use block or a Chat Completions tool_calls delta): a
-- JSON array [{id, name, input, arguments?, truncated?}], NULL when none.
ALTER TABLE llm_messages ADD COLUMN tool_calls TEXT;
