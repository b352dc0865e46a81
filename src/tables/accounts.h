/* SPDX-License-Identifier: MIT */
/*
 * tables: user accounts (accounts.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_ACCOUNTS_H
#define AD_TABLES_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- user accounts (accounts.c, migration 2905) ----------------------------------
 * A username, an argon2id hash (src/auth's), a home org (whose admins
 * manage it), and per org a role (read, write, admin: a token scope)
 * backed by an API token of its own. Reads: loop thread, indexed. */
#define AD_STORE_ACCOUNT_ROLES 16
typedef struct {
    char org_id[AD_ID_MAX];
    char role[8];
    char token_id[AD_ID_MAX];
} ad_store_account_role_t;
typedef struct {
    char id[AD_ID_MAX];
    char username[40];
    char org_id[AD_ID_MAX];
    char pw_hash[160]; /* argon2id's encoded form */
    int64_t created_at;
    int64_t disabled_at; /* 0: enabled */
    size_t nroles;
    ad_store_account_role_t roles[AD_STORE_ACCOUNT_ROLES];
} ad_store_account_t;
/* The account with this username or id and its roles: 0, AD_ENOENT. */
int ad_store_account_get(ad_store_t *st, const char *id_or_username, ad_store_account_t *out);
/* {id, username, orgId, createdAt, disabledAt?, disabled, roles [{orgId,
 * role}]} (never the hash), roles cut to org's (NULL: all). New ref. */
json_t *ad_store_account_json(const ad_store_account_t *a, const char *org);
/* Those of home org (NULL or "": every account), by username, at most 1000. */
int ad_store_account_list(ad_store_t *st, const char *org, json_t **out);
typedef enum {
    AD_ACCOUNT_OP_CREATE,   /* row */
    AD_ACCOUNT_OP_PASSWORD, /* row.id, row.pw_hash */
    AD_ACCOUNT_OP_DISABLE,  /* row.id: its role tokens revoked */
    AD_ACCOUNT_OP_DELETE,   /* row.id: the same, and the row goes */
    AD_ACCOUNT_OP_ROLE,     /* row.id, org_id, role ("": removed), token_id */
} ad_store_account_kind_t;
typedef struct {
    ad_store_account_kind_t kind;
    ad_store_account_t row;
    char org_id[AD_ID_MAX];
    char role[8];
    char token_id[AD_ID_MAX];
    int64_t now;
} ad_store_account_op_t;
/* cb gets {revoked: [token ids]} (their sessions deleted in the same
 * transaction); AD_EEXIST for a username taken, AD_ENOENT for no such
 * (or, for a role, a disabled) account. */
void ad_store_account_write(ad_store_t *st, const ad_store_account_op_t *op, ad_store_result_cb cb,
                            void *ud);

typedef struct {
    char id_hash[65];         /* hex SHA-256 of the cookie value */
    char token_id[AD_ID_MAX]; /* "": the owner's session */
    int64_t created_at;
    int64_t expires_at;
} ad_store_session_t;
/* One live session by its id hash, on the loop's read connection (a
 * session made through another control plane, authsync.c): 0, AD_ENOENT
 * (none, or expired) or a read error. */
int ad_store_session_get(ad_store_t *st, const char *id_hash, int64_t now, ad_store_session_t *out);
/* Sessions not expired at now (*out owned: free()). */
int ad_store_sessions_load(ad_store_t *st, int64_t now, ad_store_session_t **out, size_t *n);
void ad_store_session_insert(ad_store_t *st, const ad_store_session_t *x, ad_store_result_cb cb,
                             void *ud);
void ad_store_session_delete(ad_store_t *st, const char *id_hash, ad_store_result_cb cb, void *ud);

typedef struct {
    int64_t ts;
    char token_name[64];
    char org_id[AD_ID_MAX]; /* "": the owner */
    char method[12];
    char route[128];
    char target_id[AD_ID_MAX + 16];
    int status;
    char remote[48];
    char detail[1024]; /* what changed, in words (ad_req_set_note); "" none */
} ad_store_audit_t;
/* Queues one audit row (copied); nothing is called back. */
void ad_store_audit_insert(ad_store_t *st, const ad_store_audit_t *a);
/* {entries:[{id, ts, tokenName, orgId, method, route, targetId?, status,
 * remote, detail?}], nextCursor} newest first; org "" or NULL: every org. */
int ad_store_audit_list(ad_store_t *st, const char *org, int limit, int64_t before_id,
                        json_t **out);
/* Deletes rows older than before_ts. */
void ad_store_audit_trim(ad_store_t *st, int64_t before_ts);

#endif
