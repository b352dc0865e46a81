/* SPDX-License-Identifier: MIT */
/*
 * Identity: the owner token and its file, API tokens and sessions kept in
 * memory (loaded at start, written through to the store), turning a
 * credential into a principal. The login that makes a session and the
 * sessions are sessions.c's, the per-request checks guard.c's, the
 * throttles limits.c's.
 */
#include "auth/auth_int.h"
#include "rows.h"
#include "tables/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- scopes and principals --------------------------------------------------------- */

const char *ad_scope_name(ad_scope_t s)
{
    switch (s) { /* the words are the schema's (schema/rows.def, token_scope) */
    case AD_SCOPE_READ:
        return ad_row_token_scope_name(AD_ROW_TOKEN_SCOPE_READ);
    case AD_SCOPE_WRITE:
        return ad_row_token_scope_name(AD_ROW_TOKEN_SCOPE_WRITE);
    case AD_SCOPE_ADMIN:
        return ad_row_token_scope_name(AD_ROW_TOKEN_SCOPE_ADMIN);
    case AD_SCOPE_NODE:
        return ad_row_token_scope_name(AD_ROW_TOKEN_SCOPE_NODE);
    default:
        return "none";
    }
}

int ad_scope_parse(const char *s, ad_scope_t *out)
{
    static const ad_scope_t all[] = {AD_SCOPE_READ, AD_SCOPE_WRITE, AD_SCOPE_ADMIN};
    for (size_t i = 0; s != NULL && i < AD_ARRAY_LEN(all); i++) {
        if (strcmp(s, ad_scope_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return AD_EINVAL;
}

int ad_scope_parse_token(const char *s, ad_scope_t *out)
{
    if (s != NULL && strcmp(s, ad_row_token_scope_name(AD_ROW_TOKEN_SCOPE_NODE)) == 0) {
        *out = AD_SCOPE_NODE;
        return 0;
    }
    return ad_scope_parse(s, out);
}

bool ad_principal_sees(const ad_principal_t *p, const char *org_id)
{
    return p != NULL && (p->owner || (org_id != NULL && strcmp(p->org_id, org_id) == 0));
}

const char *ad_principal_org_for(const ad_principal_t *p, const char *requested)
{
    if (p != NULL && !p->owner) {
        return p->org_id;
    }
    return requested != NULL && requested[0] != '\0' ? requested : AD_ORG_DEFAULT;
}

const char *ad_principal_filter(const ad_principal_t *p)
{
    return p != NULL && !p->owner ? p->org_id : "";
}

bool ad_principal_can(const ad_principal_t *p, ad_scope_t scope)
{
    return p != NULL && p->scope >= scope;
}

json_t *ad_auth_principal_json(const ad_auth_t *a, const ad_principal_t *p)
{
    return json_pack("{s:s, s:s?, s:s, s:b, s:b}", "name", p->name, "orgId",
                     p->owner ? NULL : p->org_id, "scope", ad_scope_name(p->scope), "owner",
                     p->owner, "authRequired", a->required);
}

/* ---- the owner token ------------------------------------------------------------------ */

/* Makes a new owner token and writes it to path (mode 0600, through a
 * temporary file: the old one stays until the new one is whole). */
static int owner_token_make(ad_auth_t *a, const char *path, char *err, size_t errsz)
{
    char token[sizeof(a->owner_token)];
    if (ad_secret_new(token) != 0) {
        snprintf(err, errsz, "cannot make the owner token: no randomness");
        return AD_EIO;
    }
    char tmp[4210];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(token);
    bool ok = fd >= 0 && write(fd, token, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0) {
        ok = false;
    }
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        memset(token, 0, sizeof(token));
        return AD_EIO;
    }
    memcpy(a->owner_token, token, sizeof(token));
    memset(token, 0, sizeof(token));
    ad_log(AD_LOG_INFO, "auth", "owner token made path=%s", path);
    a->owner_made = true;
    return 0;
}

/* Reads <data-dir>/owner-token, or makes it (mode 0600) at first start. */
static int owner_token_load(ad_auth_t *a, char *err, size_t errsz)
{
    if (a->cfg->token[0] != '\0') {
        snprintf(a->owner_token, sizeof(a->owner_token), "%s", a->cfg->token);
        return 0;
    }
    a->owner_file = true;
    char path[4200];
    snprintf(path, sizeof(path), "%s/owner-token", a->cfg->data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        ssize_t n = read(fd, a->owner_token, sizeof(a->owner_token) - 1);
        close(fd);
        while (n > 0 && (a->owner_token[n - 1] == '\n' || a->owner_token[n - 1] == '\r')) {
            n--;
        }
        if (n >= AD_TOKEN_MIN_CHARS) { /* 128 bits, as --token-file's */
            a->owner_token[n] = '\0';
            return 0;
        }
        ad_log(AD_LOG_WARN, "auth",
               "owner token file shorter than %d characters (128 bits), making a new one path=%s",
               AD_TOKEN_MIN_CHARS, path);
    }
    return owner_token_make(a, path, err, errsz);
}

void ad_auth_owner_bind_of(const char *owner_hash, char out[40])
{
    char h[65];
    ad_sha256_hex(owner_hash, strlen(owner_hash), h);
    snprintf(out, 40, "owner:%.32s", h);
}

static void owner_set(ad_auth_t *a)
{
    ad_sha256_hex(a->owner_token, strlen(a->owner_token), a->owner_hash);
    ad_auth_owner_bind_of(a->owner_hash, a->owner_bind);
}

bool ad_auth_owner_token_made(const ad_auth_t *a)
{
    return a->owner_made;
}

const char *ad_auth_owner_token(const ad_auth_t *a)
{
    return a->owner_token;
}

bool ad_auth_required(const ad_auth_t *a)
{
    return a->required;
}

/* ---- tokens ---------------------------------------------------------------------------- */

static void tok_principal(ad_tok_t *t)
{
    ad_principal_t *p = &t->who;
    memset(p, 0, sizeof(*p));
    snprintf(p->token_id, sizeof(p->token_id), "%s", t->row.id);
    snprintf(p->name, sizeof(p->name), "%s", t->row.name);
    snprintf(p->org_id, sizeof(p->org_id), "%s", t->row.org_id);
    if (ad_scope_parse_token(t->row.scope, &p->scope) != 0) {
        p->scope = AD_SCOPE_NONE;
    }
}

static ad_tok_t *tok_add(ad_auth_t *a, const ad_store_token_t *row)
{
    ad_tok_t *t = ad_xcalloc(1, sizeof(*t));
    t->row = *row;
    tok_principal(t);
    t->next = a->tokens;
    a->tokens = t;
    return t;
}

static ad_tok_t *tok_find(const ad_auth_t *a, const char *id)
{
    for (ad_tok_t *t = a->tokens; t != NULL; t = t->next) {
        if (strcmp(t->row.id, id) == 0) {
            return t;
        }
    }
    return NULL;
}

bool ad_auth_tok_live(const ad_tok_t *t, int64_t now)
{
    return t->row.revoked_at == 0 && (t->row.expires_at == 0 || t->row.expires_at > now);
}

/* The token id's row as the database has it now when several control
 * planes share it (PostgreSQL, issue #39): one made or revoked through
 * another plane counts here within TOK_REREAD_MS. A row read again keeps
 * its rate bucket; an unknown id is never kept (no cache of misses to
 * fill); a read that fails leaves what was known. On SQLite this process
 * is the only writer and its rows are the truth. */
#define TOK_REREAD_MS 1000
ad_tok_t *ad_auth_tok_current(ad_auth_t *a, const char *id)
{
    ad_tok_t *t = tok_find(a, id);
    if (strcmp(ad_store_backend(a->store), "postgres") != 0) {
        return t;
    }
    uint64_t now = ad_mono_ms();
    if (t != NULL && now - t->read_ms < TOK_REREAD_MS) {
        return t;
    }
    ad_store_token_t row;
    int rc = ad_store_token_get(a->store, id, &row);
    if (rc == 0 && t != NULL) {
        t->row = row;
        tok_principal(t);
    } else if (rc == 0) {
        t = tok_add(a, &row);
    } else if (rc == AD_ENOENT && t != NULL) {
        t->row.revoked_at = ad_wall_ms(); /* gone from the database: not live */
    }
    if (t != NULL && rc != AD_EINTERNAL) {
        t->read_ms = now;
    }
    return t;
}

/* An API token is "<id>.<secret>"; the owner token has no dot. */
const ad_principal_t *ad_auth_token_lookup(ad_auth_t *a, const char *token, ad_tok_t **tok)
{
    *tok = NULL;
    size_t len = strlen(token);
    if (len == 0 || len > 512) {
        return NULL;
    }
    char h[65];
    ad_sha256_hex(token, len, h);
    if (ad_auth_owner_bind_for(a, h) != NULL) { /* this plane's, or a peer's (planes.c) */
        return &a->owner;
    }
    const char *dot = strchr(token, '.');
    if (dot == NULL || (size_t)(dot - token) >= AD_ID_MAX) {
        return NULL;
    }
    char id[AD_ID_MAX];
    memcpy(id, token, (size_t)(dot - token));
    id[dot - token] = '\0';
    ad_tok_t *t = ad_auth_tok_current(a, id);
    if (t == NULL || !ad_auth_tok_live(t, ad_wall_ms())) {
        return NULL;
    }
    ad_sha256_hex(dot + 1, strlen(dot + 1), h);
    if (!ad_consttime_eq(h, t->row.secret_hash, 64)) {
        return NULL;
    }
    *tok = t;
    return &t->who;
}

const ad_principal_t *ad_auth_lookup(ad_auth_t *a, ad_req_t *r, const char *token, ad_tok_t **tok)
{
    *tok = NULL;
    return ad_auth_jwt_shaped(token) ? ad_auth_jwt_lookup(a, r, token, tok)
                                     : ad_auth_token_lookup(a, token, tok);
}

typedef struct {
    ad_auth_t *a;
    ad_store_token_t row;
    char secret[AD_SECRET_MAX];
    ad_auth_cb cb;
    void *ud;
} create_t;

static json_t *token_json(const ad_store_token_t *r)
{
    char created[AD_TIME_MAX], expires[AD_TIME_MAX], revoked[AD_TIME_MAX];
    ad_time_format(r->created_at, created);
    ad_time_format(r->expires_at, expires);
    ad_time_format(r->revoked_at, revoked);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:I}", "id", r->id, "name", r->name,
                     "orgId", r->org_id, "scope", r->scope, "createdAt", created, "expiresAt",
                     r->expires_at > 0 ? expires : NULL, "revokedAt",
                     r->revoked_at > 0 ? revoked : NULL, "ratePerMinute",
                     (json_int_t)r->rate_per_minute);
}

static void on_token_stored(int rc, json_t *result, void *ud)
{
    create_t *c = ud;
    json_decref(result);
    json_t *out = NULL;
    if (rc == 0) {
        tok_add(c->a, &c->row);
        out = token_json(&c->row);
        char text[AD_ID_MAX + AD_SECRET_MAX + 2];
        snprintf(text, sizeof(text), "%s.%s", c->row.id, c->secret);
        json_object_set_new(out, "token", json_string(text));
        ad_log(AD_LOG_INFO, "auth", "token created id=%s name=%s org=%s scope=%s", c->row.id,
               c->row.name, c->row.org_id, c->row.scope);
    }
    c->cb(rc, out, c->ud);
    json_decref(out);
    memset(c->secret, 0, sizeof(c->secret));
    free(c);
}

int ad_auth_token_create(ad_auth_t *a, const char *name, const char *org_id, ad_scope_t scope,
                         int64_t expires_at, int64_t rate_per_minute, ad_auth_cb cb, void *ud,
                         char *err, size_t errsz)
{
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(((ad_store_token_t *)0)->name)) {
        snprintf(err, errsz, "name must be 1-63 bytes");
        return AD_EINVAL;
    }
    if (scope == AD_SCOPE_NONE || rate_per_minute < 0) {
        snprintf(err, errsz, "scope must be read, write, admin or node");
        return AD_EINVAL;
    }
    create_t *c = ad_xcalloc(1, sizeof(*c));
    c->a = a;
    c->cb = cb;
    c->ud = ud;
    if (ad_secret_new(c->secret) != 0) {
        free(c);
        snprintf(err, errsz, "no randomness for the secret");
        return AD_EIO;
    }
    ad_id_new("tok", c->row.id);
    snprintf(c->row.name, sizeof(c->row.name), "%s", name);
    snprintf(c->row.org_id, sizeof(c->row.org_id), "%s", org_id);
    snprintf(c->row.scope, sizeof(c->row.scope), "%s", ad_scope_name(scope));
    ad_sha256_hex(c->secret, strlen(c->secret), c->row.secret_hash);
    c->row.rate_per_minute = rate_per_minute;
    c->row.created_at = ad_wall_ms();
    c->row.expires_at = expires_at;
    ad_store_token_insert(a->store, &c->row, on_token_stored, c);
    return 0;
}

json_t *ad_auth_token_list(const ad_auth_t *a, const char *org)
{
    json_t *arr = json_array();
    for (const ad_tok_t *t = a->tokens; t != NULL; t = t->next) {
        if (org == NULL || org[0] == '\0' || strcmp(org, t->row.org_id) == 0) {
            json_array_insert_new(arr, 0, token_json(&t->row)); /* oldest first */
        }
    }
    return arr;
}

const char *ad_auth_token_org(ad_auth_t *a, const char *id)
{
    const ad_tok_t *t = ad_auth_tok_current(a, id); /* one made through another plane too */
    return t != NULL ? t->row.org_id : NULL;
}

typedef struct {
    ad_auth_t *a;
    char id[AD_ID_MAX];
    ad_auth_cb cb;
    void *ud;
} revoke_t;

void ad_auth_changed(ad_auth_t *a)
{
    ad_auth_watch_recheck(a); /* channels of what ended close at once */
    if (a->on_change != NULL) {
        a->on_change(a->on_change_ud);
    }
}

void ad_auth_on_change(ad_auth_t *a, void (*cb)(void *ud), void *ud)
{
    a->on_change = cb;
    a->on_change_ud = ud;
}

static void sessions_drop_token(ad_auth_t *a, const ad_tok_t *t)
{
    for (ad_sess_t **pp = &a->sessions; *pp != NULL;) {
        ad_sess_t *x = *pp;
        if (x->tok == t) {
            *pp = x->next;
            free(x);
        } else {
            pp = &x->next;
        }
    }
}

static void on_token_revoked(int rc, json_t *result, void *ud)
{
    revoke_t *c = ud;
    json_decref(result);
    ad_tok_t *t = tok_find(c->a, c->id);
    if (rc == 0 && t != NULL) {
        t->row.revoked_at = ad_wall_ms();
        sessions_drop_token(c->a, t);
        ad_log(AD_LOG_INFO, "auth", "token revoked id=%s name=%s", t->row.id, t->row.name);
    }
    if (c->cb != NULL) {
        c->cb(rc, NULL, c->ud);
    }
    if (rc == 0) {
        ad_auth_changed(c->a);
    }
    free(c);
}

bool ad_auth_tok_put(ad_auth_t *a, const ad_store_token_t *row, bool *added)
{
    int64_t now = ad_wall_ms();
    ad_tok_t *t = tok_find(a, row->id);
    *added = t == NULL;
    if (t == NULL) {
        tok_add(a, row)->read_ms = ad_mono_ms();
        return false;
    }
    bool was = ad_auth_tok_live(t, now);
    t->row = *row;
    tok_principal(t);
    t->read_ms = ad_mono_ms();
    return was && !ad_auth_tok_live(t, now);
}

void ad_auth_tokens_revoked(ad_auth_t *a, const json_t *ids)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        ad_tok_t *t = tok_find(a, json_string_value(id));
        if (t != NULL && t->row.revoked_at == 0) {
            t->row.revoked_at = ad_wall_ms();
        }
        if (t != NULL) {
            sessions_drop_token(a, t);
        }
    }
    if (json_array_size(ids) > 0) {
        ad_auth_changed(a);
    }
}

bool ad_auth_credential_live(ad_auth_t *a, const ad_auth_cred_t *cred)
{
    int64_t now = ad_wall_ms();
    if (!a->required) {
        return true; /* --auth none: nothing was needed to come in */
    }
    if (cred->kind == 1) {
        if (strncmp(cred->key, "owner:", 6) == 0) {
            return ad_auth_owner_bind_live(a, cred->key); /* until it is rotated */
        }
        ad_tok_t *t = tok_find(a, cred->key);
        return t != NULL && ad_auth_tok_live(t, now);
    }
    if (cred->kind == 2) {
        for (ad_sess_t *x = a->sessions; x != NULL; x = x->next) {
            if (ad_consttime_eq(cred->key, x->id_hash, 64)) {
                return x->expires_at > now &&
                       (x->tok != NULL ? ad_auth_tok_live(x->tok, now)
                                       : ad_auth_owner_bind_live(a, x->bind));
            }
        }
        return false;
    }
    if (cred->kind == 3) {
        return cred->expires_at > now;
    }
    return true;
}

int64_t ad_auth_credential_expiry(ad_auth_t *a, const ad_auth_cred_t *cred)
{
    if (!a->required) {
        return 0;
    }
    if (cred->kind == 1) {
        ad_tok_t *t = tok_find(a, cred->key);
        return t != NULL ? t->row.expires_at : 0;
    }
    if (cred->kind == 2) {
        for (ad_sess_t *x = a->sessions; x != NULL; x = x->next) {
            if (ad_consttime_eq(cred->key, x->id_hash, 64)) {
                int64_t e = x->expires_at;
                if (x->tok != NULL && x->tok->row.expires_at > 0 && x->tok->row.expires_at < e) {
                    e = x->tok->row.expires_at;
                }
                return e;
            }
        }
    }
    return cred->kind == 3 ? cred->expires_at : 0;
}

void ad_auth_token_revoke(ad_auth_t *a, const char *id, ad_auth_cb cb, void *ud)
{
    revoke_t *c = ad_xcalloc(1, sizeof(*c));
    c->a = a;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->cb = cb;
    c->ud = ud;
    ad_store_token_revoke(a->store, c->id, ad_wall_ms(), on_token_revoked, c);
}

void ad_auth_token_drop(void *auth, const char *id)
{
    ad_auth_token_revoke(auth, id, NULL, NULL); /* revoked by hand already: the same end */
}

/* ---- rotating the owner token -------------------------------------------------------- */

/* The sessions of this plane's owner token (bind), as it is rotated. */
static void owner_sessions_drop(ad_auth_t *a, const char *bind)
{
    for (ad_sess_t **pp = &a->sessions; *pp != NULL;) {
        ad_sess_t *x = *pp;
        if (x->tok == NULL && strcmp(x->bind, bind) == 0) {
            *pp = x->next;
            ad_store_session_delete(a->store, x->id_hash, NULL, NULL);
            free(x);
        } else {
            pp = &x->next;
        }
    }
}

int ad_auth_owner_rotate(ad_auth_t *a, ad_auth_cb cb, void *ud, char *err, size_t errsz)
{
    if (!a->owner_file) {
        snprintf(err, errsz, "the owner token was given with --token: change it there");
        return AD_EPERM;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/owner-token", a->cfg->data_dir);
    int rc = owner_token_make(a, path, err, errsz); /* the old one stays on failure */
    a->owner_made = false;                          /* printed by whoever asked, not at start */
    if (rc != 0) {
        return rc;
    }
    char old_bind[40];
    memcpy(old_bind, a->owner_bind, sizeof(old_bind));
    owner_set(a);
    memset(a->codes, 0, sizeof(a->codes)); /* codes were the old owner's */
    owner_sessions_drop(a, old_bind);
    ad_auth_planes_owner_changed(a); /* the other planes let the old one go */
    ad_log(AD_LOG_INFO, "auth", "owner token rotated: its sessions and channels end");
    json_t *out = json_pack("{s:s}", "token", a->owner_token);
    cb(0, out, ud);
    json_decref(out);
    ad_auth_changed(a);
    return 0;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static int load_rows(ad_auth_t *a, char *err, size_t errsz)
{
    ad_store_token_t *toks = NULL;
    size_t n = 0;
    int rc = ad_store_tokens_load(a->store, &toks, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tok_add(a, &toks[i]);
    }
    free(toks);
    ad_store_session_t *sess = NULL;
    size_t ns = 0;
    if (rc == 0) {
        rc = ad_store_sessions_load(a->store, ad_wall_ms(), &sess, &ns);
    }
    for (size_t i = 0; rc == 0 && i < ns; i++) {
        /* An owner session lives only while the owner token it came from
         * does ("" : made before sessions were bound, so bound to none). */
        const char *tid = sess[i].token_id;
        bool owner = strncmp(tid, "owner:", 6) == 0;
        ad_tok_t *t = !owner && tid[0] != '\0' ? tok_find(a, tid) : NULL;
        bool shared = strcmp(ad_store_backend(a->store), "postgres") == 0;
        if ((owner && strcmp(tid, a->owner_bind) == 0) || t != NULL) {
            ad_auth_sess_add(a, sess[i].id_hash, sess[i].expires_at, t, owner ? tid : NULL);
        } else if (owner && shared) {
            /* another plane's owner token's, maybe: read when it is used */
        } else if (owner || tid[0] == '\0') {
            ad_store_session_delete(a->store, sess[i].id_hash, NULL, NULL);
        }
    }
    free(sess);
    if (rc != 0) {
        snprintf(err, errsz, "cannot read tokens and sessions: %s", ad_strerror(rc));
    }
    return rc;
}

/* Parses a comma-separated list into a fixed table; false when it is too
 * long. */
static bool parse_list(const char *list, char (*out)[256], size_t max, size_t *n)
{
    for (const char *p = list; *p != '\0';) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        if (*n == max || len >= 256) {
            return false;
        }
        memcpy(out[*n], p, len);
        out[(*n)++][len] = '\0';
        p += len;
    }
    return true;
}

static int configure(ad_auth_t *a, char *err, size_t errsz)
{
    const ad_config_t *cfg = a->cfg;
    int rc = ad_config_check(cfg, err, errsz); /* main checked; a test may not have */
    if (rc != 0) {
        return rc;
    }
    a->required = strcmp(cfg->auth_mode, "token") == 0;
    static const char *const local[] = {"localhost", "127.0.0.1", "::1"};
    for (size_t i = 0; i < AD_ARRAY_LEN(local); i++) {
        snprintf(a->hosts[a->nhosts++], sizeof(a->hosts[0]), "%s", local[i]);
    }
    snprintf(a->hosts[a->nhosts++], sizeof(a->hosts[0]), "%s", cfg->listen_host);
    if (!parse_list(cfg->allowed_hosts, a->hosts, AD_AUTH_HOSTS_MAX, &a->nhosts) ||
        !parse_list(cfg->cors_origins, a->origins, AD_AUTH_ORIGINS_MAX, &a->norigins)) {
        snprintf(err, errsz, "--allowed-hosts or --cors-origins has too many or too long entries");
        return AD_EINVAL;
    }
    for (size_t i = 0; i < a->norigins; i++) {
        a->any_origin |= strcmp(a->origins[i], "*") == 0;
    }
    return 0;
}

static void on_trim(uv_timer_t *t);

int ad_auth_open(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_auth_t **out,
                 char *err, size_t errsz)
{
    ad_auth_t *a = ad_xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->cfg = cfg;
    a->store = store;
    a->owner = (ad_principal_t){.name = "owner", .scope = AD_SCOPE_ADMIN, .owner = true};
    a->unix_owner = (ad_principal_t){.name = "unix-socket", .scope = AD_SCOPE_ADMIN, .owner = true};
    int rc = configure(a, err, errsz);
    rc = rc != 0 ? rc : owner_token_load(a, err, errsz);
    if (rc == 0) {
        owner_set(a);
    }
    rc = rc != 0 ? rc : load_rows(a, err, errsz);
    rc = rc != 0 ? rc : ad_auth_jwt_open(a, err, errsz);
    if (rc != 0) {
        ad_auth_close(a);
        return rc;
    }
    ad_auth_planes_open(a);
    uv_timer_init(loop, &a->trim_timer);
    a->trim_timer.data = a;
    a->trim_open = true;
    uv_timer_start(&a->trim_timer, on_trim, 1000, AD_AUTH_AUDIT_TRIM_MS);
    uv_unref((uv_handle_t *)&a->trim_timer);
    *out = a;
    return 0;
}

/* Audit rows older than the audit_retention_days setting go, hourly. */
static void on_trim(uv_timer_t *t)
{
    ad_auth_t *a = t->data;
    json_t *settings = NULL;
    int64_t days = 90;
    if (ad_store_settings_get(a->store, &settings) == 0) {
        json_t *v = json_object_get(settings, "audit_retention_days");
        if (json_is_integer(v)) {
            days = json_integer_value(v);
        }
    }
    json_decref(settings);
    if (days > 0) {
        ad_store_audit_trim(a->store, ad_wall_ms() - days * 24 * 3600 * 1000);
    }
}

static void auth_free(ad_auth_t *a)
{
    while (a->tokens != NULL) {
        ad_tok_t *t = a->tokens;
        a->tokens = t->next;
        free(t);
    }
    while (a->sessions != NULL) {
        ad_sess_t *x = a->sessions;
        a->sessions = x->next;
        free(x);
    }
    memset(a->owner_token, 0, sizeof(a->owner_token));
    free(a->sync);
    ad_auth_jwt_free(a);
    free(a);
}

void ad_auth_release(ad_auth_t *a)
{
    if (--a->closing == 0) {
        auth_free(a);
    }
}

static void on_closed(uv_handle_t *h)
{
    ad_auth_release(h->data);
}

void ad_auth_store_done(ad_auth_t *a)
{
    if (a != NULL) {
        ad_auth_noise_close(a);
        a->store_gone = true;
    }
}

void ad_auth_close(ad_auth_t *a)
{
    if (a == NULL) {
        return;
    }
    ad_auth_delayed_flush(a);
    ad_auth_noise_close(a);
    a->store_gone = true;
    a->closing = 1 + (int)a->pw_busy; /* ours, until both timers and the hashes are done */
    ad_auth_watch_close(a, on_closed);
    ad_auth_planes_close(a);
    if (a->trim_open) {
        a->closing++;
        uv_close((uv_handle_t *)&a->trim_timer, on_closed);
    }
    ad_auth_release(a);
}

int ad_auth_token_spec(const json_t *body, ad_auth_token_spec_t *t, ad_field_err_t *e)
{
    const char *scope = NULL;
    int64_t expires_in = 0;
    memset(t, 0, sizeof(*t));
    t->scope = AD_SCOPE_READ;
    if (ad_field_str(body, "name", true, 63, &t->name, e) != 0 ||
        ad_field_enum(body, "scope", true, AD_ROW_TOKEN_SCOPE_CHOICES, &scope, e) != 0 ||
        ad_field_int(body, "expiresInSeconds", false, 1, INT64_C(100) * 365 * 86400, &expires_in,
                     NULL, e) != 0 ||
        ad_field_int(body, "ratePerMinute", false, 0, 100000000, &t->rate, NULL, e) != 0) {
        return AD_EINVAL;
    }
    ad_scope_parse_token(scope, &t->scope);
    t->expires_at = expires_in > 0 ? (int64_t)ad_wall_ms() + expires_in * 1000 : 0;
    return 0;
}
