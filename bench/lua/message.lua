-- SPDX-License-Identifier: MIT
-- wrk script for H3b: each request records one message (200-byte content)
-- on the agent, so every request is a persisted write (the message row)
-- plus one persisted event (message_created), answered after the commit.
local n = 0
local pad = string.rep("x", 180)
-- wrk.headers holds what -H gave (the token); a table passed to
-- wrk.format replaces it, so the content type is added to a copy.
local headers = {}
init = function()
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
end
request = function()
  n = n + 1
  return wrk.format("POST", nil, headers,
    string.format('{"role":"user","content":"%s-%08d"}', pad, n))
end
