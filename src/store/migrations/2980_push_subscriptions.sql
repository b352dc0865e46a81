-- SPDX-License-Identifier: MIT
-- 2980: Web Push subscriptions (issue #76, docs/push.md). One row per
-- browser (its push service's endpoint and its keys, as the browser's
-- PushSubscription gives them) per user: user_id is the API token the
-- dashboard signed in with ('owner' for the owner), org_id the org whose
-- events it is sent. last_ok_at / last_fail_at say how the last pushes went;
-- a push service's 404 or 410 deletes the row.
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_ok_at INTEGER,
    last_fail_at INTEGER,
    last_error TEXT,
    UNIQUE (org_id, user_id, endpoint)
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id, org_id);
