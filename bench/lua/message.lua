-- SPDX-License-Identifier: MIT
-- wrk script for H3b: each request records one message (200-byte content)
-- on the agent, so every request is a persisted write (the message row)
-- plus one persisted event (message_created), answered after the commit.
local n = 0
local pad = string.rep("x", 180)
request = function()
  n = n + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    string.format('{"role":"user","content":"%s-%08d"}', pad, n))
end
