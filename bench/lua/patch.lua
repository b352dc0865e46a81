-- SPDX-License-Identifier: MIT
-- wrk script for H3: each request is a PATCH that renames the agent, so
-- every request is a persisted write with a distinct value.
local n = 0
request = function()
  n = n + 1
  return wrk.format("PATCH", nil, { ["Content-Type"] = "application/json" },
    string.format('{"name":"bench-%d"}', n))
end
