/* SPDX-License-Identifier: MIT */
/*
 * User accounts (issue #74): a username and a password kept as an
 * argon2id hash (libargon2, made and checked on libuv's thread pool, never
 * on the loop), a home org, and per org a role that is a token scope,
 * backed by an API token of the account's own whose secret nobody knows.
 * Signing in with the password makes a session of that token, so
 * everything a token's session does (scope, org, rate, the end of its
 * channels when it is revoked) holds for an account; a role changed or
 * removed, an account disabled or removed, revokes its tokens. Passwords
 * are wiped after hashing and are never logged nor answered.
 */
#include "auth/auth_int.h"

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* OWASP's argon2id floor (19 MiB, 2 passes, 1 lane): 28 ms a hash
 * here; at most PW_BUSY_MAX at once, so a flood of sign-ins takes 38 MiB
 * and two pool threads, and the rest are told to come back. */
#define PW_T 2
#define PW_M (19 * 1024)
#define PW_P 1
#define PW_SALT 16
#define PW_HASH 32
#define PW_BUSY_MAX 2

typedef struct job job_t;
struct job {
    uv_work_t work;
    ad_auth_t *a;
    bool make; /* hash pw into hash; else check pw against hash ("": a decoy) */
    char pw[AD_AUTH_PASSWORD_MAX + 1];
    size_t pwlen;
    char hash[160];
    int result;
    void (*next)(job_t *j);
    ad_store_account_t acct;
    ad_store_account_op_t op;
    char org[AD_ID_MAX];
    char role[8];
    char peer[48];
    ad_auth_cb cb;
    void *ud;
};

static void job_free(job_t *j)
{
    explicit_bzero(j->pw, sizeof(j->pw));
    free(j);
}

static void pw_work(uv_work_t *w)
{
    job_t *j = w->data;
    if (j->make) {
        uint8_t salt[PW_SALT];
        bool ok = getrandom(salt, sizeof(salt), 0) == (ssize_t)sizeof(salt);
        j->result =
            ok && argon2id_hash_encoded(PW_T, PW_M, PW_P, j->pw, j->pwlen, salt, sizeof(salt),
                                        PW_HASH, j->hash, sizeof(j->hash)) == ARGON2_OK
                ? 0
                : AD_EIO;
    } else if (j->hash[0] == '\0') {
        /* no such account: the same work, so the time says nothing */
        uint8_t salt[PW_SALT] = {0}, out[PW_HASH];
        argon2id_hash_raw(PW_T, PW_M, PW_P, j->pw, j->pwlen, salt, sizeof(salt), out, sizeof(out));
        j->result = AD_EPERM;
    } else {
        /* argon2's own comparison is constant-time */
        j->result = argon2id_verify(j->hash, j->pw, j->pwlen) == ARGON2_OK ? 0 : AD_EPERM;
    }
    explicit_bzero(j->pw, sizeof(j->pw));
}

static void pw_after(uv_work_t *w, int status)
{
    AD_UNUSED(status);
    job_t *j = w->data;
    ad_auth_t *a = j->a;
    a->pw_busy--;
    if (a->closing > 0 || a->store_gone) {
        job_free(j); /* shutting down: the server ends the request */
        if (a->closing > 0) {
            ad_auth_release(a);
        }
        return;
    }
    j->next(j);
}

/* Queues j's hash; AD_EAGAIN when PW_BUSY_MAX are under way (j freed). */
static int pw_queue(job_t *j)
{
    if (j->a->pw_busy >= PW_BUSY_MAX ||
        uv_queue_work(j->a->loop, &j->work, pw_work, pw_after) != 0) {
        job_free(j);
        return AD_EAGAIN;
    }
    j->a->pw_busy++;
    return 0;
}

static job_t *job_new(ad_auth_t *a, const char *password, void (*next)(job_t *), ad_auth_cb cb,
                      void *ud)
{
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->a = a;
    j->work.data = j;
    j->next = next;
    j->cb = cb;
    j->ud = ud;
    if (password != NULL) {
        j->pwlen = strlen(password);
        memcpy(j->pw, password, j->pwlen < AD_AUTH_PASSWORD_MAX ? j->pwlen : AD_AUTH_PASSWORD_MAX);
    }
    return j;
}

/* ---- checks ------------------------------------------------------------------------ */

int ad_auth_username_check(const char *u, ad_field_err_t *e)
{
    size_t n = u != NULL ? strlen(u) : 0;
    if (n == 0 || n > AD_AUTH_USERNAME_MAX) {
        return ad_field_fail(e, "username", "must be 1-%d characters", AD_AUTH_USERNAME_MAX);
    }
    if (strspn(u, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n || strchr("._-", u[0]) != NULL) {
        return ad_field_fail(e, "username",
                             "may hold a-z, 0-9, '.', '_' and '-' and starts with a letter or "
                             "digit");
    }
    return 0;
}

int ad_auth_password_check(const json_t *v, ad_field_err_t *e)
{
    if (!json_is_string(v)) {
        return ad_field_fail(e, "password", "must be a string");
    }
    size_t n = json_string_length(v);
    if (n != strlen(json_string_value(v))) {
        return ad_field_fail(e, "password", "must not hold a NUL character");
    }
    if (n < AD_AUTH_PASSWORD_MIN || n > AD_AUTH_PASSWORD_MAX) {
        return ad_field_fail(e, "password", "must be %d-%d bytes", AD_AUTH_PASSWORD_MIN,
                             AD_AUTH_PASSWORD_MAX);
    }
    return 0;
}

/* ---- sign-in ----------------------------------------------------------------------- */

static void user_key(const char *username, char out[48])
{
    snprintf(out, 48, "u:%.45s", username);
}

static void login_checked(job_t *j)
{
    ad_auth_t *a = j->a;
    const ad_store_account_role_t *pick = NULL;
    for (size_t i = 0; j->result == 0 && i < j->acct.nroles; i++) {
        const ad_store_account_role_t *r = &j->acct.roles[i];
        if (j->org[0] != '\0' ? strcmp(r->org_id, j->org) == 0
                              : pick == NULL || strcmp(r->org_id, AD_ORG_DEFAULT) == 0) {
            pick = r; /* the org asked for; else the default org's, else the first */
        }
    }
    ad_tok_t *tok = pick != NULL ? ad_auth_tok_current(a, pick->token_id) : NULL;
    int64_t now = ad_wall_ms();
    int rc = AD_EPERM;
    if (j->result == 0 && j->acct.disabled_at == 0 && tok != NULL && tok->row.revoked_at == 0 &&
        (tok->row.expires_at == 0 || tok->row.expires_at > now)) {
        rc = ad_auth_session_new(a, tok, j->cb, j->ud);
        if (rc == 0) {
            ad_log(AD_LOG_INFO, "auth", "signed in with a password user=%s org=%s",
                   j->acct.username, tok->row.org_id);
            job_free(j);
            return;
        }
    } else {
        char net[48], prefix[48], ukey[48];
        ad_auth_fail_keys(j->peer, "", net, prefix);
        user_key(j->acct.username, ukey);
        ad_auth_peer_failed(a, net);
        ad_auth_peer_failed(a, ukey);
    }
    j->cb(rc, NULL, j->ud);
    job_free(j);
}

int ad_auth_login_password(ad_auth_t *a, const char *username, const char *password,
                           const char *org, const char *peer, int64_t *retry_after, ad_auth_cb cb,
                           void *ud)
{
    char net[48], prefix[48], ukey[48];
    ad_auth_fail_keys(peer, "", net, prefix);
    user_key(username, ukey);
    int64_t r1 = 0, r2 = 0;
    bool l1 = ad_auth_peer_locked(a, net, &r1), l2 = ad_auth_peer_locked(a, ukey, &r2);
    if (l1 || l2) {
        *retry_after = r1 > r2 ? r1 : r2;
        return AD_EAGAIN; /* no hash is spent on a locked-out guesser */
    }
    job_t *j = job_new(a, password, login_checked, cb, ud);
    snprintf(j->peer, sizeof(j->peer), "%s", peer);
    snprintf(j->org, sizeof(j->org), "%s", org != NULL ? org : "");
    int rc = ad_store_account_get(a->store, username, &j->acct);
    if (rc == 0 && strcmp(j->acct.username, username) == 0) {
        snprintf(j->hash, sizeof(j->hash), "%s", j->acct.pw_hash);
    } else if (rc == 0 || rc == AD_ENOENT) {
        memset(&j->acct, 0, sizeof(j->acct)); /* an id is no username: a decoy hash */
        snprintf(j->acct.username, sizeof(j->acct.username), "%s", username);
    } else {
        job_free(j);
        return rc;
    }
    rc = pw_queue(j);
    if (rc == AD_EAGAIN) {
        *retry_after = 1;
    }
    return rc;
}

/* ---- changes ----------------------------------------------------------------------- */

/* The account as it is now, to cb. */
static void answer_account(job_t *j, int rc)
{
    json_t *out = NULL;
    if (rc == 0) {
        rc = ad_store_account_get(j->a->store, j->op.row.id, &j->acct);
        out = rc == 0 ? ad_store_account_json(&j->acct, NULL) : NULL;
    }
    j->cb(rc, out, j->ud);
    json_decref(out);
    job_free(j);
}

static void op_done(int rc, json_t *result, void *ud)
{
    job_t *j = ud;
    if (rc == 0) {
        ad_auth_tokens_revoked(j->a, json_object_get(result, "revoked"));
    } else if (j->op.kind == AD_ACCOUNT_OP_ROLE && j->op.token_id[0] != '\0') {
        ad_auth_token_revoke(j->a, j->op.token_id, NULL, NULL); /* made for nothing */
    }
    json_decref(result);
    if (j->op.kind == AD_ACCOUNT_OP_DELETE) {
        j->cb(rc, NULL, j->ud);
        job_free(j);
    } else if (rc == 0 && j->role[0] != '\0' && j->op.kind == AD_ACCOUNT_OP_CREATE) {
        ad_store_account_t row = j->op.row;
        char org[AD_ID_MAX], role[8];
        snprintf(org, sizeof(org), "%s", j->org);
        snprintf(role, sizeof(role), "%s", j->role);
        ad_auth_cb cb = j->cb;
        void *ud2 = j->ud;
        ad_auth_t *a = j->a;
        job_free(j);
        ad_auth_user_role(a, &row, org, role, cb, ud2); /* then its first role */
    } else {
        answer_account(j, rc);
    }
}

static void op_write(job_t *j)
{
    if (j->make && j->result != 0) {
        j->cb(j->result, NULL, j->ud);
        job_free(j);
        return;
    }
    if (j->make) {
        snprintf(j->op.row.pw_hash, sizeof(j->op.row.pw_hash), "%s", j->hash);
    }
    j->op.now = ad_wall_ms();
    ad_store_account_write(j->a->store, &j->op, op_done, j);
}

int ad_auth_user_create(ad_auth_t *a, const char *username, const char *password,
                        const char *home_org, const char *role, ad_auth_cb cb, void *ud)
{
    job_t *j = job_new(a, password, op_write, cb, ud);
    j->make = true;
    j->op.kind = AD_ACCOUNT_OP_CREATE;
    ad_id_new("usr", j->op.row.id);
    snprintf(j->op.row.username, sizeof(j->op.row.username), "%s", username);
    snprintf(j->op.row.org_id, sizeof(j->op.row.org_id), "%s", home_org);
    j->op.row.created_at = ad_wall_ms();
    snprintf(j->org, sizeof(j->org), "%s", home_org);
    snprintf(j->role, sizeof(j->role), "%s", role != NULL ? role : "");
    return pw_queue(j);
}

int ad_auth_user_password(ad_auth_t *a, const char *id, const char *password, ad_auth_cb cb,
                          void *ud)
{
    job_t *j = job_new(a, password, op_write, cb, ud);
    j->make = true;
    j->op.kind = AD_ACCOUNT_OP_PASSWORD;
    snprintf(j->op.row.id, sizeof(j->op.row.id), "%s", id);
    return pw_queue(j);
}

void ad_auth_user_end(ad_auth_t *a, const char *id, bool remove, ad_auth_cb cb, void *ud)
{
    job_t *j = job_new(a, NULL, op_write, cb, ud);
    j->op.kind = remove ? AD_ACCOUNT_OP_DELETE : AD_ACCOUNT_OP_DISABLE;
    snprintf(j->op.row.id, sizeof(j->op.row.id), "%s", id);
    op_write(j);
}

static void role_token_made(int rc, json_t *result, void *ud)
{
    job_t *j = ud;
    if (rc != 0) {
        j->cb(rc, NULL, j->ud);
        job_free(j);
        return;
    }
    snprintf(j->op.token_id, sizeof(j->op.token_id), "%s",
             json_string_value(json_object_get(result, "id")));
    op_write(j); /* the token's secret (in result) is dropped: nobody ever holds it */
}

void ad_auth_user_role(ad_auth_t *a, const ad_store_account_t *acct, const char *org,
                       const char *role, ad_auth_cb cb, void *ud)
{
    job_t *j = job_new(a, NULL, op_write, cb, ud);
    j->op.kind = AD_ACCOUNT_OP_ROLE;
    snprintf(j->op.row.id, sizeof(j->op.row.id), "%s", acct->id);
    snprintf(j->op.org_id, sizeof(j->op.org_id), "%s", org);
    snprintf(j->op.role, sizeof(j->op.role), "%s", role);
    ad_scope_t scope;
    if (role[0] == '\0') {
        op_write(j); /* removed: only the old token goes */
        return;
    }
    if (ad_scope_parse(role, &scope) != 0) {
        j->cb(AD_EINVAL, NULL, j->ud);
        job_free(j);
        return;
    }
    char name[64], err[160];
    snprintf(name, sizeof(name), "user:%s", acct->username);
    int rc = ad_auth_token_create(a, name, org, scope, 0, 0, role_token_made, j, err, sizeof(err));
    if (rc != 0) {
        j->cb(rc, NULL, j->ud);
        job_free(j);
    }
}
