/* SPDX-License-Identifier: MIT */
/*
 * tables: organisations, API tokens, dashboard sessions and the audit log (auth.c, tokenread.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_AUTH_H
#define AD_TABLES_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- accounts (auth.c) -------------------------------------------------------------
 * Organisations, API tokens and dashboard sessions (both kept as SHA-256
 * hashes only) and the audit log. Loop thread.
 */
#define AD_ORG_DEFAULT "org_default"
/* [{id, name, createdAt}]. */
int ad_store_org_list(ad_store_t *st, json_t **out);
/* The id of the org with this id or name: 0 or AD_ENOENT. */
int ad_store_org_find(ad_store_t *st, const char *id_or_name, char id_out[AD_ID_MAX]);
/* Kinds of rows that belong to an organisation. */
typedef enum {
    AD_STORE_ROW_WORKSPACE,
    AD_STORE_ROW_WORKTREE,
    AD_STORE_ROW_AGENT,
    AD_STORE_ROW_CREW,
    AD_STORE_ROW_RUN, /* a run's org is its agent's */
    AD_STORE_ROW_JOB,
    AD_STORE_ROW_SERVICE,
} ad_store_row_t;
/* The org of the row of kind with id into org_out (the default org when
 * the row names none): 0, AD_ENOENT, or the read's error. */
int ad_store_row_org(ad_store_t *st, ad_store_row_t kind, const char *id, char org_out[AD_ID_MAX]);
/* The word for a row of kind in messages ("workspace", "run", ...). */
const char *ad_store_row_kind_name(ad_store_row_t kind);
/* cb gets {id, name, createdAt}; AD_EEXIST when the name is taken. */
void ad_store_org_create(ad_store_t *st, const char *id, const char *name, int64_t now,
                         ad_store_result_cb cb, void *ud);

typedef struct {
    char id[AD_ID_MAX];
    char name[64];
    char org_id[AD_ID_MAX];
    char scope[8];           /* read, write, admin */
    char secret_hash[65];    /* hex SHA-256 of the secret part */
    int64_t rate_per_minute; /* 0: the default */
    int64_t created_at;
    int64_t expires_at; /* 0: never */
    int64_t revoked_at; /* 0: live */
} ad_store_token_t;
/* Every token, revoked ones too (*out owned: free()). */
int ad_store_tokens_load(ad_store_t *st, ad_store_token_t **out, size_t *n);
/* One token's row by id (tokenread.c): 0, AD_ENOENT, or a read error. */
int ad_store_token_get(ad_store_t *st, const char *id, ad_store_token_t *out);
/* AD_ENOENT when the org does not exist. */
void ad_store_token_insert(ad_store_t *st, const ad_store_token_t *t, ad_store_result_cb cb,
                           void *ud);
/* Revokes a live token and ends its sessions; AD_ENOENT when there is none. */
void ad_store_token_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                           void *ud);

/* ---- across control planes (authsync.c, migration 3000, issue #77) --------------------
 * What the other control planes on one PostgreSQL database changed in
 * tokens, sessions and owner tokens, for src/auth/planes.c; and the
 * one-time login codes any plane redeems.
 */
#define AD_AUTH_CHANGE_TOKEN "token"             /* made or revoked: its row again */
#define AD_AUTH_CHANGE_SESSION_END "session_end" /* key: the session's id hash */
#define AD_AUTH_CHANGE_OWNER "owner"             /* key: the plane whose owner token changed */
#define AD_AUTH_SYNC_MAX 256
#define AD_AUTH_OWNERS_MAX 16
typedef struct {
    int64_t id;
    char kind[16];
    char key[72];
} ad_store_auth_change_t;
typedef struct {
    char plane_id[AD_ID_MAX];
    char hash[65]; /* hex SHA-256 of the plane's owner token */
} ad_store_auth_owner_t;
typedef struct {
    ad_store_auth_change_t changes[AD_AUTH_SYNC_MAX]; /* at or after since, oldest first */
    size_t nchanges;
    ad_store_token_t tokens[AD_AUTH_SYNC_MAX]; /* the rows the token changes name */
    size_t ntokens;
    ad_store_auth_owner_t owners[AD_AUTH_OWNERS_MAX]; /* updated at or after owners_since */
    size_t nowners;
} ad_store_auth_sync_t;
/* Reads into *out (the caller's until done) on the thread pool; done(rc,
 * ctx) on the loop. */
void ad_store_auth_sync(ad_store_t *st, int64_t since, int64_t owners_since,
                        ad_store_auth_sync_t *out, ad_store_done_cb done, void *ctx);
/* Sets this plane's owner token hash (and notes the change). */
void ad_store_auth_owner_put(ad_store_t *st, const char *plane_id, const char *hash, int64_t now);
/* A login code's hash, valid until expires_at; taken once: cb gets 0, or
 * AD_ENOENT for a code unknown, used or expired. */
void ad_store_login_code_put(ad_store_t *st, const char *hash, int64_t expires_at);
void ad_store_login_code_take(ad_store_t *st, const char *hash, int64_t now, ad_store_result_cb cb,
                              void *ud);

#endif
