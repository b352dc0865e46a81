/* SPDX-License-Identifier: MIT */
/*
 * Provider credentials of each organisation. The key goes to the Secret
 * Service when agentd has a session bus (keyring.c; read back at start-up
 * on the pool), else, or when that fails, to
 * <data_dir>/credentials/<org>.<provider>.key (mode 0600, in a 0700
 * folder; on the thread pool, written then renamed); it is kept in memory;
 * the row (src/store) holds what may be shown: the last four characters,
 * email, base URL, validation status. No answer, log line or event ever
 * carries a key. Setting a base URL needs an admin token: it decides
 * where the org's key is sent.
 *   PUT    /api/credentials/:provider {apiKey, email?, baseUrl?, orgId?}
 *   GET    /api/credentials   GET /api/credentials/:provider
 *   DELETE /api/credentials/:provider
 *   POST   /api/credentials/:provider/validate {model?}
 *   GET    /api/auth/status
 * Validating sends a one-token request with the stored key (src/llm).
 */
#include "api/keyring.h"
#include "api/workbench.h"
#include "run/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROVIDERS "anthropic,openai"
#define KEY_MIN 8
#define KEY_MAX 512
#define KEYS_MAX 1024
#define VALIDATE_MODEL "claude-haiku-4-5"

typedef struct {
    char org[AD_ID_MAX];
    char provider[16];
    char *key;
    bool keyring; /* kept in the Secret Service, not a file */
} key_t_;

static key_t_ keys[KEYS_MAX];
static size_t nkeys;
static char dir[4200];
static char data_dir[4200];
static bool closed;

static key_t_ *find(const char *org, const char *provider)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].org, org) == 0 && strcmp(keys[i].provider, provider) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static int remember(const char *org, const char *provider, const char *key, bool keyring)
{
    key_t_ *k = find(org, provider);
    if (k == NULL) {
        if (nkeys == KEYS_MAX) {
            return AD_ETOOBIG;
        }
        k = &keys[nkeys++];
        snprintf(k->org, sizeof(k->org), "%s", org);
        snprintf(k->provider, sizeof(k->provider), "%s", provider);
    } else {
        wipe_free(k->key);
    }
    k->key = ad_xstrdup(key);
    k->keyring = keyring;
    return 0;
}

static void forget(const char *org, const char *provider)
{
    key_t_ *k = find(org, provider);
    if (k != NULL) {
        wipe_free(k->key);
        *k = keys[--nkeys];
    }
}

const char *ad_api_cred_key(const char *org, const char *provider)
{
    key_t_ *k = find(org != NULL && org[0] != '\0' ? org : AD_ORG_DEFAULT, provider);
    return k != NULL ? k->key : NULL;
}

void ad_api_cred_mask(const char *last4, char *out, size_t outsz)
{
    snprintf(out, outsz, "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2%s",
             last4 != NULL ? last4 : "");
}

void ad_api_cred_base_url(ad_app_t *app, const char *org, const char *provider, char *out,
                          size_t outsz)
{
    json_t *row = NULL;
    const char *url = NULL;
    if (app->store != NULL && ad_store_cred_get(app->store, org, provider, &row) == 0) {
        url = ad_api_jstr(row, "baseUrl");
    }
    bool openai = strcmp(provider, "openai") == 0;
    if (url == NULL || url[0] == '\0') {
        url = getenv(openai ? "OPENAI_BASE_URL" : "ANTHROPIC_BASE_URL");
    }
    if (url == NULL || url[0] == '\0') {
        url = openai ? "https://api.openai.com/v1" : "https://api.anthropic.com";
    }
    snprintf(out, outsz, "%s", url);
    json_decref(row);
}

/* Names are <org>.<provider>.key; ids and providers have no dots. */
static bool name_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) >= AD_ID_MAX) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static int key_path(const char *org, const char *provider, char *out, size_t outsz)
{
    if (!name_ok(org) || !name_ok(provider)) {
        return AD_EINVAL;
    }
    int n = snprintf(out, outsz, "%s/%s.%s.key", dir, org, provider);
    return n > 0 && (size_t)n < outsz ? 0 : AD_ETOOBIG;
}

/* At start-up (before the loop serves anyone): every stored key. */
static void load_keys(void)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char org[AD_ID_MAX], provider[16], path[4400], key[KEY_MAX + 2];
        const char *dot = strchr(e->d_name, '.');
        size_t len = strlen(e->d_name);
        if (dot == NULL || len < 5 || strcmp(e->d_name + len - 4, ".key") != 0 ||
            (size_t)(dot - e->d_name) >= sizeof(org)) {
            continue;
        }
        snprintf(org, sizeof(org), "%.*s", (int)(dot - e->d_name), e->d_name);
        snprintf(provider, sizeof(provider), "%.*s", (int)(len - 4 - (size_t)(dot + 1 - e->d_name)),
                 dot + 1);
        if (key_path(org, provider, path, sizeof(path)) != 0) {
            continue;
        }
        FILE *f = fopen(path, "re");
        if (f == NULL) {
            continue;
        }
        size_t n = fread(key, 1, sizeof(key) - 1, f);
        fclose(f);
        key[n] = '\0';
        if (n >= KEY_MIN && n <= KEY_MAX && remember(org, provider, key, false) != 0) {
            ad_log(AD_LOG_WARN, "llm", "too many stored credentials; some are ignored");
        }
        memset(key, 0, sizeof(key));
    }
    closedir(d);
}

/* ---- writing a key on the pool --------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    ad_app_t *app;
    ad_req_t *req;
    json_t *args; /* the row's write, after the file */
    char path[4400];
    char *key; /* NULL: delete the file */
    int rc;
    bool keyring; /* try the Secret Service first */
    bool in_keyring; /* the key went there */
    char why[300];   /* why the Secret Service was not used */
} file_job_t;

static int write_key(const char *path, const char *key)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return AD_EIO;
    }
    char tmp[4500];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return AD_EIO;
    }
    size_t len = strlen(key);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, key, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return AD_EIO;
    }
    return 0;
}

/* The Secret Service when there is one (the file then goes), else the
 * 0600 file; a delete clears both. */
static void file_work(uv_work_t *w)
{
    file_job_t *j = w->data;
    const char *org = ad_api_jstr(j->args, "orgId"), *provider = ad_api_jstr(j->args, "provider");
    if (j->key != NULL && j->keyring &&
        ad_keyring_store(data_dir, org, provider, j->key, j->why, sizeof(j->why)) == 0) {
        j->in_keyring = true;
        j->rc = unlink(j->path) == 0 || errno == ENOENT ? 0 : AD_EIO;
    } else if (j->key != NULL) {
        j->rc = write_key(j->path, j->key);
    } else {
        if (j->keyring) {
            ad_keyring_clear(data_dir, org, provider, j->why, sizeof(j->why));
        }
        j->rc = unlink(j->path) == 0 || errno == ENOENT ? 0 : AD_EIO;
    }
}

static void cred_view(json_t *row)
{
    key_t_ *k = find(ad_api_jstr(row, "orgId"), ad_api_jstr(row, "provider"));
    json_object_set_new(row, "storage",
                        json_string(k == NULL ? "none" : k->keyring ? "secret-service" : "file"));
    char mask[64];
    ad_api_cred_mask(ad_api_jstr(row, "last4"), mask, sizeof(mask));
    json_object_set_new(row, "masked", json_string(mask));
    json_object_del(row, "last4");
    json_object_set_new(row, "configured", json_true());
}

static void row_written(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "credential", NULL);
        return;
    }
    json_t *c = json_object_get(result, "credential");
    if (c == NULL) {
        ad_res_json(r, 200, json_incref(result));
        return;
    }
    cred_view(c);
    /* The event says that the credential changed, never the key. */
    ad_api_publish(app, "credential_update", c, "org", ad_api_jstr(c, "orgId"), NULL);
    ad_res_json(r, 200, json_incref(c));
}

static void file_done(uv_work_t *w, int status)
{
    file_job_t *j = w->data;
    const char *org = ad_api_jstr(j->args, "orgId"), *provider = ad_api_jstr(j->args, "provider");
    if (status != 0 || j->rc != 0) {
        ad_res_error(j->req, 500, "INTERNAL", NULL, "cannot store the credential file");
        json_decref(j->args);
    } else {
        if (j->key != NULL && j->keyring && !j->in_keyring) {
            ad_log(AD_LOG_WARN, "llm", "credential of %s/%s kept in a 0600 file: %s", org,
                   provider, j->why);
        }
        if (j->key != NULL && remember(org, provider, j->key, j->in_keyring) != 0) {
            ad_res_error(j->req, 507, "FULL", NULL, "too many credentials");
            json_decref(j->args);
        } else {
            if (j->key == NULL) {
                forget(org, provider);
            }
            ad_api_write(j->app, j->req,
                         j->key != NULL ? ad_store_op_cred_upsert : ad_store_op_cred_delete,
                         j->args, row_written);
        }
    }
    wipe_free(j->key);
    free(j);
}

static void queue_file(ad_app_t *app, ad_req_t *r, json_t *args, const char *key)
{
    file_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->app = app;
    j->req = r;
    j->args = args;
    j->key = key != NULL ? ad_xstrdup(key) : NULL;
    j->keyring = ad_keyring_wanted();
    j->work.data = j;
    if (key_path(ad_api_jstr(args, "orgId"), ad_api_jstr(args, "provider"), j->path,
                 sizeof(j->path)) != 0 ||
        uv_queue_work(app->loop, &j->work, file_work, file_done) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot store the credential file");
        json_decref(args);
        wipe_free(j->key);
        free(j);
    }
}

/* ---- routes ---------------------------------------------------------------------------- */

static bool provider_ok(ad_req_t *r, const char **out)
{
    const char *p = ad_req_param(r, "provider");
    if (p == NULL || !ad_api_choice(PROVIDERS, p)) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "provider", p ? p : ""),
                     "no such provider (known: %s)", PROVIDERS);
        return false;
    }
    *out = p;
    return true;
}

static bool key_ok(ad_req_t *r, const char *key)
{
    size_t n = strlen(key);
    bool ok = n >= KEY_MIN && n <= KEY_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        ok = key[i] > 0x20 && key[i] < 0x7f; /* no spaces or line ends: it goes in a header */
    }
    if (!ok) {
        ad_api_invalid(r, "apiKey", "must be 8 to 512 printable characters without spaces");
    }
    return ok;
}

static bool url_ok(ad_req_t *r, const char *url)
{
    if (url == NULL || url[0] == '\0') {
        return true;
    }
    bool ok = (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
              strpbrk(url, " \r\n\t") == NULL;
    if (!ok) {
        ad_api_invalid(r, "baseUrl", "must be an http:// or https:// URL");
        return false;
    }
    return ad_api_require(r, AD_SCOPE_ADMIN, "setting a base URL");
}

static void put_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider, *key = NULL, *email = NULL, *url = NULL;
    char org[AD_ID_MAX];
    json_t *body = NULL;
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r) ||
        (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_api_str(r, body, "apiKey", true, KEY_MAX, &key) == 0 && key_ok(r, key) &&
        ad_api_str(r, body, "email", false, 254, &email) == 0 &&
        ad_api_str(r, body, "baseUrl", false, 512, &url) == 0 && url_ok(r, url) &&
        ad_api_org_for(app, r, body, org) == 0) {
        size_t n = strlen(key);
        json_t *args =
            json_pack("{s:s, s:s, s:s, s:b, s:I}", "orgId", org, "provider", provider, "last4",
                      key + n - 4, "setBaseUrl", url != NULL, "now", (json_int_t)ad_wall_ms());
        if (email != NULL) {
            json_object_set_new(args, "email", json_string(email));
        }
        if (url != NULL && url[0] != '\0') {
            json_object_set_new(args, "baseUrl", json_string(url));
        }
        queue_file(app, r, args, key);
    }
    json_decref(body);
}

/* The caller's org for a read or change of one credential: an org token's
 * own; the owner's ?orgId= or the default org. */
static void org_of(ad_req_t *r, char org[AD_ID_MAX])
{
    const ad_principal_t *who = ad_api_who(r);
    const char *q = ad_req_query(r, "orgId");
    snprintf(org, AD_ID_MAX, "%s",
             !who->owner ? who->org_id : (q != NULL && name_ok(q) ? q : AD_ORG_DEFAULT));
}

static void get_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider;
    char org[AD_ID_MAX];
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r)) {
        return;
    }
    org_of(r, org);
    json_t *row = NULL;
    int rc = ad_store_cred_get(app->store, org, provider, &row);
    if (rc != 0) {
        ad_api_fail(r, rc, "credential", provider);
        return;
    }
    cred_view(row);
    ad_res_json(r, 200, row);
}

static void list_creds(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_store_cred_list(app->store, ad_principal_filter(ad_api_who(r)), &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "credentials", NULL);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        cred_view(row);
    }
    ad_res_json(r, 200, json_pack("{s:o}", "credentials", rows));
}

static void delete_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider;
    char org[AD_ID_MAX];
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r)) {
        return;
    }
    org_of(r, org);
    json_t *row = NULL;
    int rc = ad_store_cred_get(app->store, org, provider, &row);
    json_decref(row);
    if (rc != 0) {
        ad_api_fail(r, rc, "credential", provider);
        return;
    }
    queue_file(app, r, json_pack("{s:s, s:s}", "orgId", org, "provider", provider), NULL);
}

static void auth_status(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    char org[AD_ID_MAX];
    org_of(r, org);
    json_t *providers = json_object();
    if (ad_store_cred_list(app->store, org, &rows) == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            cred_view(row);
            json_object_set(providers, ad_api_jstr(row, "provider"), row);
        }
    }
    json_decref(rows);
    bool any = json_object_size(providers) > 0;
    ad_res_json(
        r, 200,
        json_pack("{s:b, s:s, s:o}", "authenticated", any, "orgId", org, "providers", providers));
}

/* ---- validating a credential ------------------------------------------------------------ */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char org[AD_ID_MAX];
    char provider[16];
} check_t;

/* The verdict is answered once its status is stored, so a read that
 * follows the answer sees it. */
static void checked_written(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    AD_UNUSED(result);
    json_t *out = ad_req_data(r);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "llm", "a credential status was not saved err=%s", ad_errname(rc));
    }
    ad_res_json(r, 200, out);
}

static void on_checked(void *ud, const ad_llm_result_t *res)
{
    check_t *c = ud;
    /* A stop after the first token is what a one-token request ends with;
     * any answer that is no refusal of the key says the key works. */
    bool valid = res->rc == 0 || (res->http_status >= 200 && res->http_status < 300) ||
                 res->http_status == 429 || res->http_status == 529;
    char reason[600];
    snprintf(reason, sizeof(reason), "%s%s%s", res->error_type, res->error_type[0] ? ": " : "",
             res->error_message);
    json_t *out = json_pack("{s:s, s:b, s:i}", "provider", c->provider, "valid", valid, "status",
                            res->http_status);
    if (!valid) {
        json_object_set_new(out, "reason", json_string(reason));
    }
    ad_req_set_data(c->req, out);
    ad_api_write(c->app, c->req, ad_store_op_cred_status,
                 json_pack("{s:s, s:s, s:s, s:s?, s:I}", "orgId", c->org, "provider", c->provider,
                           "status", valid ? "valid" : "invalid", "reason", valid ? NULL : reason,
                           "now", (json_int_t)ad_wall_ms()),
                 checked_written);
    free(c);
}

static void validate(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider, *model;
    ad_llm_provider_t kind;
    bool failed = false;
    if (!provider_ok(r, &provider) || ad_llm_provider_parse(provider, &kind) != 0) {
        return;
    }
    model = kind == AD_LLM_OPENAI ? "gpt-4o-mini" : "claude-haiku-4-5";
    json_t *body = ad_api_body_optional(r, &failed);
    if (failed || (body != NULL && ad_api_str(r, body, "model", false, 127, &model) != 0)) {
        json_decref(body);
        return;
    }
    const ad_principal_t *who = ad_api_who(r);
    check_t *c = ad_xcalloc(1, sizeof(*c));
    c->app = app;
    c->req = r;
    snprintf(c->org, sizeof(c->org), "%s", who->owner ? AD_ORG_DEFAULT : who->org_id);
    snprintf(c->provider, sizeof(c->provider), "%s", provider);
    const char *key = ad_api_cred_key(c->org, provider);
    if (key == NULL) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "no %s credential for this organisation", provider);
        free(c);
        json_decref(body);
        return;
    }
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "ping");
    ad_llm_body_t b = {.provider = kind, .model = model, .messages = msgs, .max_tokens = 1};
    json_t *req_body = ad_llm_request_body(&b);
    char base[600], err[256];
    ad_api_cred_base_url(app, c->org, provider, base, sizeof(base));
    ad_llm_spec_t spec = {.provider = kind,
                          .base_url = base,
                          .api_key = key,
                          .body = req_body,
                          .max_retries = 0,
                          .stall_ms = 30000};
    ad_llm_cbs_t cbs = {.on_end = on_checked};
    ad_llm_req_t *rq;
    if (ad_llm_start(ad_api_llm(app), &spec, &cbs, c, &rq, err, sizeof(err)) != 0) {
        ad_res_error(r, 502, "UPSTREAM", NULL, "%s", err);
        free(c);
    }
    json_decref(req_body);
    json_decref(msgs);
    json_decref(body);
}

/* The runner's key source: an agent without a key in its environment gets
 * its organisation's stored one. */
static const char *key_for_agent(void *ud, const char *org, const char *provider)
{
    AD_UNUSED(ud);
    return ad_api_cred_key(org, provider);
}

/* ---- the Secret Service's keys, read at start-up on the pool ---------------------------- */

typedef struct {
    uv_work_t work;
    json_t *pairs; /* [{orgId, provider}] of the stored rows; the found keys added as "key" */
} kr_load_t;

static void kr_load_work(uv_work_t *w)
{
    kr_load_t *j = w->data;
    size_t i;
    json_t *p;
    json_array_foreach(j->pairs, i, p)
    {
        char why[300] = "";
        char *key = ad_keyring_lookup(data_dir, ad_api_jstr(p, "orgId"), ad_api_jstr(p, "provider"),
                                      why, sizeof(why));
        if (key != NULL) {
            json_object_set_new(p, "key", json_string(key));
            wipe_free(key);
        } else if (why[0] != '\0') {
            json_object_set_new(p, "why", json_string(why));
        }
    }
}

/* A key in a file wins: it was written after the Secret Service failed. */
static void kr_load_done(uv_work_t *w, int status)
{
    kr_load_t *j = w->data;
    size_t i;
    json_t *p;
    json_array_foreach(j->pairs, i, p)
    {
        const char *org = ad_api_jstr(p, "orgId"), *provider = ad_api_jstr(p, "provider");
        json_t *key = json_object_get(p, "key");
        if (status == 0 && !closed && key != NULL && find(org, provider) == NULL) {
            remember(org, provider, json_string_value(key), true);
        } else if (json_object_get(p, "why") != NULL) {
            ad_log(AD_LOG_WARN, "llm", "credential of %s/%s: %s", org, provider,
                   ad_api_jstr(p, "why"));
        }
        if (key != NULL) {
            memset((char *)json_string_value(key), 0, json_string_length(key));
        }
    }
    json_decref(j->pairs);
    free(j);
}

static void kr_load(ad_app_t *app)
{
    json_t *rows = NULL;
    if (!ad_keyring_wanted() || app->store == NULL || ad_store_cred_list(app->store, "", &rows) != 0) {
        return;
    }
    kr_load_t *j = ad_xcalloc(1, sizeof(*j));
    j->pairs = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_array_append_new(j->pairs, json_pack("{s:O, s:O}", "orgId", json_object_get(row, "orgId"),
                                                  "provider", json_object_get(row, "provider")));
    }
    json_decref(rows);
    j->work.data = j;
    if (json_array_size(j->pairs) == 0 || uv_queue_work(app->loop, &j->work, kr_load_work, kr_load_done) != 0) {
        json_decref(j->pairs);
        free(j);
    }
}

void ad_api_creds_register(ad_app_t *app)
{
    closed = false;
    snprintf(dir, sizeof(dir), "%s/credentials", app->cfg->data_dir);
    if (realpath(app->cfg->data_dir, data_dir) == NULL) {
        snprintf(data_dir, sizeof(data_dir), "%s", app->cfg->data_dir);
    }
    load_keys();
    kr_load(app);
    if (app->runner != NULL) {
        ad_runner_set_key_source(app->runner, key_for_agent, app);
    }
    ad_server_route(app->server, "PUT", "/api/credentials/:provider", AD_ACCESS_WRITE, put_cred,
                    app);
    ad_server_route(app->server, "GET", "/api/credentials", AD_ACCESS_READ, list_creds, app);
    ad_server_route(app->server, "GET", "/api/credentials/:provider", AD_ACCESS_READ, get_cred,
                    app);
    ad_server_route(app->server, "DELETE", "/api/credentials/:provider", AD_ACCESS_ADMIN,
                    delete_cred, app);
    ad_server_route(app->server, "GET", "/api/auth/status", AD_ACCESS_READ, auth_status, app);
    ad_server_route(app->server, "POST", "/api/credentials/:provider/validate", AD_ACCESS_WRITE,
                    validate, app);
}

void ad_api_creds_close(void)
{
    closed = true;
    for (size_t i = 0; i < nkeys; i++) {
        wipe_free(keys[i].key);
    }
    nkeys = 0;
}
