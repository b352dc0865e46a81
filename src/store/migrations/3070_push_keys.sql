-- SPDX-License-Identifier: MIT
-- 3070: the Web Push VAPID key pair, one for every control plane of a
-- database (issue #77, docs/push.md "The VAPID key"). A browser subscribes
-- with the public key of the plane its page came from, and its push service
-- takes pushes signed with that key only, while the plane that holds an
-- agent's run is the one that pushes its approval: so every plane signs with
-- the key stored here. The first plane to need one offers its own (its
-- <data-dir>/push-vapid.key, made if missing) and every plane reads the one
-- that won. name is 'vapid'; secret is "v1 <private>.<public>" in base64url,
-- read by src/push only and never answered by any route.
CREATE TABLE push_keys (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
