-- SPDX-License-Identifier: MIT
-- wrk script for H3: each request is a PATCH that renames the agent, so
-- every request is a persisted write with a distinct value.
local n = 0
-- wrk.headers holds what -H gave (the token); a table passed to
-- wrk.format replaces it, so the content type is added to a copy.
local headers = {}
init = function()
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
end
request = function()
  n = n + 1
  return wrk.format("PATCH", nil, headers,
    string.format('{"name":"bench-%d"}', n))
end
