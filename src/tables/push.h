/* SPDX-License-Identifier: MIT */
/*
 * tables: Web Push subscriptions (push.c, migration 2980, issue #76).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md, docs/push.md.
 *
 * A row is one browser's push endpoint and keys for one user (userId: the
 * API token the dashboard signed in with, "owner" for the owner) in one
 * org (orgId; "" for the owner: every org's events). The keys (p256dh,
 * auth) are read by src/push only; the API's list leaves them out.
 */
#ifndef AD_TABLES_PUSH_H
#define AD_TABLES_PUSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The most subscriptions one user may have in one org. */
#define AD_PUSH_SUBS_PER_USER 16
/* The most subscriptions one event is sent to. */
#define AD_PUSH_TARGETS_MAX 1000

/* The user's subscriptions in org, oldest first: [{id, endpoint,
 * createdAt, lastOkAt?, lastFailAt?, lastError?}]. Loop thread. */
int ad_store_push_list(ad_store_t *st, const char *org, const char *user, json_t **out);
/* What an event of org is sent to: [{id, orgId, userId, endpoint, p256dh,
 * auth}] of org's users whose token still signs in (not revoked, not
 * expired) and the owner's (orgId ""), at most AD_PUSH_TARGETS_MAX. Loop
 * thread. */
int ad_store_push_targets(ad_store_t *st, const char *org, json_t **out);
/* One subscription with its keys ({id, orgId, userId, endpoint, p256dh,
 * auth, createdAt}): 0, AD_ENOENT. Loop thread. */
int ad_store_push_get(ad_store_t *st, const char *id, json_t **out);
/* args {id, orgId, userId, endpoint, p256dh, auth, now}: stores the
 * subscription; the user's row of the same endpoint keeps its id and takes
 * the new keys. AD_ETOOBIG when the user already has AD_PUSH_SUBS_PER_USER
 * others. result: the row as the list gives it. */
int ad_store_op_push_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {orgId, userId, endpoint} (the user's own) or {id} (the push
 * service said it is gone): deletes it. AD_ENOENT when there was none. */
int ad_store_op_push_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, ok, error?, now}: the last push's outcome (a row gone since
 * is no error). */
int ad_store_op_push_mark(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- the VAPID key every plane signs with (migration 3070, issue #77) ---- */
/* The stored key's text ("v1 <priv>.<pub>", src/push's) into out: 0,
 * AD_ENOENT when none is stored yet. Loop thread. The text is secret:
 * never logged, never answered. */
int ad_store_push_vapid_get(ad_store_t *st, char *out, size_t outsz);
/* args {secret, now}: stores the key unless one is stored already; result
 * {secret}: the one stored (the first offer wins). */
int ad_store_op_push_vapid_offer(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
