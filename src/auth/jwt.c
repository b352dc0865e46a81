/* SPDX-License-Identifier: MIT */
/*
 * JSON Web Tokens (RFC 7519) as a credential beside agentd's own tokens:
 * HS256 with a shared secret (--jwt-secret-file), or RS256/ES256 with a
 * public key (--jwt-public-key). The issuer and the audience are checked,
 * exp/nbf honoured, and two claims name the org and the scope. A JWT is
 * never more than an API token of that scope in that org: never the owner.
 * What a JWT signs in is checked again only against its exp (a JWT cannot
 * be revoked here; keep them short).
 */
#include "auth_int.h"
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JWT_MAX 4096  /* a longer token is refused unread */
#define SECRET_MIN 32 /* HS256 secret: at least 256 bits */
#define SECRET_MAX 1024
#define PART_MAX 3072 /* a decoded part */
#define BUCKETS 128   /* subjects whose request rate is followed (then reused) */

typedef enum { ALG_HS256 = 1, ALG_RS256, ALG_ES256 } alg_t;

struct ad_jwt {
    uint8_t secret[SECRET_MAX];
    size_t secret_len; /* 0: no HS256 */
    ad_tls_key_t *key; /* NULL: no RS256/ES256 (src/tls: agentd-tls.so) */
    alg_t key_alg;     /* ALG_RS256 or ALG_ES256 for key */
    ad_scope_t max_scope;
    /* each subject's request rate, as an API token's (--token-rate-per-
     * minute): by the hash of iss and sub, a slot reused when another
     * subject needs it (it then starts full) */
    ad_tok_t buckets[BUCKETS];
};

/* ---- reading the keys ------------------------------------------------------------ */

static int read_small_file(const char *path, uint8_t *buf, size_t bufsz, size_t *len, bool secret,
                           char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return AD_EINVAL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (secret && (st.st_mode & 077) != 0)) {
        close(fd);
        snprintf(err, errsz, "%s must be a regular file%s", path,
                 secret ? " no one but this user may read (mode 0600)" : "");
        return AD_EINVAL;
    }
    ssize_t n = read(fd, buf, bufsz);
    close(fd);
    if (n < 0 || (size_t)n >= bufsz) {
        snprintf(err, errsz, "%s: %s", path, n < 0 ? strerror(errno) : "too large");
        return AD_EINVAL;
    }
    *len = (size_t)n;
    return 0;
}

static int load_secret(struct ad_jwt *j, const char *path, char *err, size_t errsz)
{
    size_t n = 0;
    int rc = read_small_file(path, j->secret, sizeof(j->secret), &n, true, err, errsz);
    while (rc == 0 && n > 0 && (j->secret[n - 1] == '\n' || j->secret[n - 1] == '\r')) {
        n--; /* one line of text, as an editor writes it */
    }
    if (rc == 0 && n < SECRET_MIN) {
        snprintf(err, errsz, "--jwt-secret-file %s: the secret must have at least %d bytes", path,
                 SECRET_MIN);
        rc = AD_EINVAL;
    }
    j->secret_len = rc == 0 ? n : 0;
    return rc;
}

static int load_key(struct ad_jwt *j, const char *path, char *err, size_t errsz)
{
    uint8_t pem[16384];
    size_t n = 0;
    int rc = read_small_file(path, pem, sizeof(pem), &n, false, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_tls_alg_t alg = 0;
    char why[400];
    rc = ad_tls_key_load(pem, n, &j->key, &alg, why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errsz, "--jwt-public-key %s: %s", path, why);
        return rc;
    }
    j->key_alg = alg == AD_TLS_RS256 ? ALG_RS256 : ALG_ES256;
    return 0;
}

void ad_auth_jwt_free(ad_auth_t *a)
{
    if (a->jwt != NULL) {
        ad_tls_key_free(a->jwt->key);
        memset(a->jwt->secret, 0, sizeof(a->jwt->secret));
        free(a->jwt);
        a->jwt = NULL;
    }
}

int ad_auth_jwt_open(ad_auth_t *a, char *err, size_t errsz)
{
    const ad_config_t *cfg = a->cfg;
    if (cfg->jwt_secret_file[0] == '\0' && cfg->jwt_public_key[0] == '\0') {
        return 0;
    }
    if (cfg->jwt_issuer[0] == '\0' || cfg->jwt_audience[0] == '\0') {
        snprintf(err, errsz, "JWTs need --jwt-issuer and --jwt-audience (both are checked)");
        return AD_EINVAL;
    }
    a->jwt = ad_xcalloc(1, sizeof(*a->jwt));
    int rc = ad_scope_parse(cfg->jwt_max_scope, &a->jwt->max_scope);
    if (rc != 0) {
        snprintf(err, errsz, "--jwt-max-scope must be read, write or admin");
    }
    if (rc == 0 && cfg->jwt_secret_file[0] != '\0') {
        rc = load_secret(a->jwt, cfg->jwt_secret_file, err, errsz);
    }
    if (rc == 0 && cfg->jwt_public_key[0] != '\0') {
        rc = load_key(a->jwt, cfg->jwt_public_key, err, errsz);
    }
    if (rc != 0) {
        ad_auth_jwt_free(a);
    }
    return rc;
}

/* ---- checking a token -------------------------------------------------------------- */

bool ad_auth_jwt_shaped(const char *token)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    return strncmp(token, "eyJ", 3) == 0 && d2 != NULL && strchr(d2 + 1, '.') == NULL;
}

/* base64url without padding into out: the length, or -1. */
static int b64url(const char *in, size_t len, uint8_t *out, size_t outsz)
{
    char std[(PART_MAX / 3 + 2) * 4 + 4];
    if (len % 4 == 1 || len + 4 > sizeof(std)) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '=' || c == '+' || c == '/') {
            return -1; /* base64url has none of these */
        }
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t n = len;
    while (n % 4 != 0) {
        std[n++] = '=';
    }
    int rc = ad_base64_decode(std, n, out, outsz);
    return rc < 0 ? -1 : rc;
}

static bool signature_ok(const struct ad_jwt *j, alg_t alg, const char *msg, size_t mlen,
                         const uint8_t *sig, size_t slen)
{
    if (alg == ALG_HS256) {
        uint8_t mac[32];
        ad_hmac_sha256(j->secret, j->secret_len, msg, mlen, mac);
        return slen == 32 && ad_consttime_eq(mac, sig, 32);
    }
    return ad_tls_key_verify(j->key, msg, mlen, sig, slen); /* the key's own algorithm */
}

/* The header's alg, if it is one this daemon has a key for; 0 otherwise
 * ("none", a family without a key, anything with "crit"). */
static alg_t header_alg(const struct ad_jwt *j, const json_t *h)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    if (alg == NULL || json_object_get(h, "crit") != NULL) {
        return 0;
    }
    if (strcmp(alg, "HS256") == 0 && j->secret_len > 0) {
        return ALG_HS256;
    }
    if (strcmp(alg, "RS256") == 0 && j->key_alg == ALG_RS256) {
        return ALG_RS256;
    }
    if (strcmp(alg, "ES256") == 0 && j->key_alg == ALG_ES256) {
        return ALG_ES256;
    }
    return 0;
}

static bool audience_ok(const json_t *aud, const char *want)
{
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), want) == 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) {
            return true;
        }
    }
    return false;
}

/* The highest scope the claim names ("read", "write", "admin", each
 * optionally "agentd:"-prefixed; a space-separated list as OAuth writes
 * it, or an array), capped at --jwt-max-scope. NONE when it names none. */
static ad_scope_t claim_scope(const json_t *c, ad_scope_t max)
{
    char buf[512];
    if (json_is_array(c)) {
        size_t off = 0;
        size_t i;
        json_t *v;
        buf[0] = '\0';
        json_array_foreach(c, i, v)
        {
            int n = json_is_string(v)
                        ? snprintf(buf + off, sizeof(buf) - off, "%s ", json_string_value(v))
                        : 0;
            if (n < 0 || (size_t)n >= sizeof(buf) - off) {
                return AD_SCOPE_NONE;
            }
            off += (size_t)n;
        }
    } else if (!json_is_string(c) ||
               snprintf(buf, sizeof(buf), "%s", json_string_value(c)) >= (int)sizeof(buf)) {
        return AD_SCOPE_NONE;
    }
    ad_scope_t best = AD_SCOPE_NONE;
    char *save = NULL;
    for (char *w = strtok_r(buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        ad_scope_t s;
        if (strncmp(w, "agentd:", 7) == 0) {
            w += 7;
        }
        if (ad_scope_parse(w, &s) == 0 && s > best) {
            best = s;
        }
    }
    return best > max ? max : best;
}

/* The registered claims: issuer, audience, exp (required) and nbf, with
 * --jwt-leeway. NULL when they pass, else why not. */
static const char *claims_refusal(const ad_config_t *cfg, const json_t *c, int64_t now_s)
{
    const char *iss = json_string_value(json_object_get(c, "iss"));
    json_t *exp = json_object_get(c, "exp");
    json_t *nbf = json_object_get(c, "nbf");
    int64_t leeway = (int64_t)cfg->jwt_leeway_s;
    if (iss == NULL || strcmp(iss, cfg->jwt_issuer) != 0) {
        return "issuer";
    }
    if (!audience_ok(json_object_get(c, "aud"), cfg->jwt_audience)) {
        return "audience";
    }
    if (!json_is_number(exp) || (int64_t)json_number_value(exp) + leeway <= now_s) {
        return "expired or no exp";
    }
    if (nbf != NULL && (!json_is_number(nbf) || (int64_t)json_number_value(nbf) - leeway > now_s)) {
        return "not yet valid (nbf)";
    }
    return NULL;
}

/* Decodes part [p, p+len) as a JSON object. New reference or NULL. */
static json_t *part_json(const char *p, size_t len)
{
    uint8_t *raw = ad_xmalloc(PART_MAX + 1);
    int n = b64url(p, len, raw, PART_MAX);
    json_t *j =
        n > 0 ? json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Header and claims of a token whose signature is good; false (and why)
 * when the token is malformed or its signature is not ours. */
static bool decode_verified(const struct ad_jwt *j, const char *token, json_t **claims,
                            const char **why)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = strchr(d1 + 1, '.');
    json_t *h = part_json(token, (size_t)(d1 - token));
    alg_t alg = h != NULL ? header_alg(j, h) : 0;
    json_decref(h);
    if (alg == 0) {
        *why = "header (alg)";
        return false;
    }
    uint8_t sig[600];
    int slen = b64url(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
    if (slen <= 0 || !signature_ok(j, alg, token, (size_t)(d2 - token), sig, (size_t)slen)) {
        *why = "signature";
        return false;
    }
    *claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
    *why = "claims are not a JSON object";
    return *claims != NULL;
}

/* The principal from checked claims, in r's arena: NULL (and why) without
 * a known org or a scope. */
static ad_principal_t *principal_of(ad_auth_t *a, ad_req_t *r, const json_t *c, const char **why)
{
    const ad_config_t *cfg = a->cfg;
    const char *org = json_string_value(json_object_get(c, cfg->jwt_org_claim));
    ad_scope_t scope = claim_scope(json_object_get(c, cfg->jwt_scope_claim), a->jwt->max_scope);
    char org_id[AD_ID_MAX];
    if (org == NULL || ad_store_org_find(a->store, org, org_id) != 0) {
        *why = "org claim names no org";
        return NULL;
    }
    if (scope == AD_SCOPE_NONE) {
        *why = "scope claim names no scope";
        return NULL;
    }
    ad_principal_t *p = ad_arena_alloc(ad_req_arena(r), sizeof(*p));
    if (p == NULL) {
        *why = "out of request memory";
        return NULL;
    }
    memset(p, 0, sizeof(*p));
    const char *sub = json_string_value(json_object_get(c, "sub"));
    char idsrc[600];
    snprintf(idsrc, sizeof(idsrc), "%s\n%s", cfg->jwt_issuer, sub != NULL ? sub : "");
    char h[65];
    ad_sha256_hex(idsrc, strlen(idsrc), h);
    /* one key per subject for the per-token caps; never an API token's id */
    snprintf(p->token_id, sizeof(p->token_id), "jwt_%.24s", h);
    snprintf(p->name, sizeof(p->name), "jwt:%.59s", sub != NULL ? sub : "");
    snprintf(p->org_id, sizeof(p->org_id), "%s", org_id);
    p->scope = scope;
    p->expires_at = (int64_t)json_number_value(json_object_get(c, "exp")) * 1000;
    return p;
}

/* The rate bucket of the subject with this token_id. */
static ad_tok_t *bucket(struct ad_jwt *j, const char *token_id)
{
    ad_tok_t *t = &j->buckets[ad_hash_str(token_id) % BUCKETS];
    if (strcmp(t->row.id, token_id) != 0) {
        memset(t, 0, sizeof(*t));
        snprintf(t->row.id, sizeof(t->row.id), "%s", token_id);
    }
    return t;
}

const ad_principal_t *ad_auth_jwt_lookup(ad_auth_t *a, ad_req_t *r, const char *token,
                                         ad_tok_t **tok)
{
    if (a->jwt == NULL || strlen(token) > JWT_MAX) {
        return NULL;
    }
    json_t *claims = NULL;
    const char *why = NULL;
    ad_principal_t *p = NULL;
    if (decode_verified(a->jwt, token, &claims, &why)) {
        why = claims_refusal(a->cfg, claims, ad_wall_ms() / 1000);
        p = why == NULL ? principal_of(a, r, claims, &why) : NULL;
    }
    json_decref(claims);
    if (p == NULL) {
        ad_log(AD_LOG_INFO, "auth", "JWT refused reason=\"%s\"", why);
    } else {
        *tok = bucket(a->jwt, p->token_id);
    }
    return p;
}
