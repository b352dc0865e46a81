-- SPDX-License-Identifier: MIT
-- GET /api/usage/agents reads a period's agents costliest first and stops
-- once the 500 it shows are certain (src/store/usagetop.c), instead of
-- summing and sorting every agent of the period: a month of 10,000 agents
-- was 5 ms of CPU a request (bench/README, F2). Every column the read
-- takes is in the index, so the rows are not looked up one by one.
CREATE INDEX agent_usage_by_cost ON agent_usage (kind, start_day, cost_usd, runs, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens);
