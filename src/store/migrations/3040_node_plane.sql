-- SPDX-License-Identifier: MIT
-- 3040: which control plane a worker node is linked to (issue #77, "any plane
-- answers for the fleet"). Each plane writes its own id when a node joins or
-- renews through it, so every plane on one database can say a node linked
-- elsewhere is up (its plane live, its last renewal recent) and which plane
-- holds it, instead of showing it offline.
ALTER TABLE nodes ADD COLUMN plane_id TEXT;
