/* SPDX-License-Identifier: MIT */
/*
 * Provider credentials of each organisation. The key goes to the Secret
 * Service when agentd has a session bus (keyring.c; read back at start-up
 * on the pool), else, or when that fails, to
 * <data_dir>/credentials/<org>.<provider>.key (mode 0600, in a 0700
 * folder; on the thread pool, written then renamed); it is kept in memory.
 * The rows (src/store) hold what may be shown; the routes are
 * src/api/creds.c's. No log line ever carries a key.
 */
#include "creds/creds.h"

#include "creds/keyring.h"
#include "store/store.h"
#include "tables/auth.h"
#include "tables/llm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_MAX 1024

typedef struct {
    char org[AD_ID_MAX];
    char provider[16];
    char *key;
    bool keyring; /* kept in the Secret Service, not a file */
} key_t_;

struct ad_creds {
    uv_loop_t *loop;
    struct ad_store *store; /* borrowed; may be NULL */
    key_t_ keys[KEYS_MAX];
    size_t nkeys;
    char dir[4200];
    char data_dir[4200];
    size_t pending; /* pool jobs not back yet: the last one frees a closed store */
    bool closed;
};

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static key_t_ *find(ad_creds_t *c, const char *org, const char *provider)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        if (strcmp(c->keys[i].org, org) == 0 && strcmp(c->keys[i].provider, provider) == 0) {
            return &c->keys[i];
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

static int remember(ad_creds_t *c, const char *org, const char *provider, const char *key,
                    bool keyring)
{
    key_t_ *k = find(c, org, provider);
    if (k == NULL) {
        if (c->nkeys == KEYS_MAX) {
            return AD_ETOOBIG;
        }
        k = &c->keys[c->nkeys++];
        snprintf(k->org, sizeof(k->org), "%s", org);
        snprintf(k->provider, sizeof(k->provider), "%s", provider);
    } else {
        wipe_free(k->key);
    }
    k->key = ad_xstrdup(key);
    k->keyring = keyring;
    return 0;
}

static void forget(ad_creds_t *c, const char *org, const char *provider)
{
    key_t_ *k = find(c, org, provider);
    if (k != NULL) {
        wipe_free(k->key);
        *k = c->keys[--c->nkeys];
    }
}

const char *ad_creds_key(ad_creds_t *c, const char *org, const char *provider)
{
    AD_ASSERT_LOOP();
    if (c == NULL) {
        return NULL;
    }
    key_t_ *k = find(c, org != NULL && org[0] != '\0' ? org : AD_ORG_DEFAULT, provider);
    return k != NULL ? k->key : NULL;
}

const char *ad_creds_storage(ad_creds_t *c, const char *org, const char *provider)
{
    key_t_ *k = c != NULL && org != NULL && provider != NULL ? find(c, org, provider) : NULL;
    return k == NULL ? "none" : k->keyring ? "secret-service" : "file";
}

void ad_creds_mask(const char *last4, char *out, size_t outsz)
{
    snprintf(out, outsz, "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2%s",
             last4 != NULL ? last4 : "");
}

void ad_creds_base_url(ad_creds_t *c, const char *org, const char *provider, char *out,
                       size_t outsz)
{
    json_t *row = NULL;
    const char *url = NULL;
    if (c->store != NULL && ad_store_cred_get(c->store, org, provider, &row) == 0) {
        url = jstr(row, "baseUrl");
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
bool ad_creds_name_ok(const char *s)
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

static int key_path(ad_creds_t *c, const char *org, const char *provider, char *out, size_t outsz)
{
    if (!ad_creds_name_ok(org) || !ad_creds_name_ok(provider)) {
        return AD_EINVAL;
    }
    int n = snprintf(out, outsz, "%s/%s.%s.key", c->dir, org, provider);
    return n > 0 && (size_t)n < outsz ? 0 : AD_ETOOBIG;
}

/* At start-up (before the loop serves anyone): every stored key. */
static void load_keys(ad_creds_t *c)
{
    DIR *d = opendir(c->dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char org[AD_ID_MAX], provider[16], path[4400], key[AD_CREDS_KEY_MAX + 2];
        const char *dot = strchr(e->d_name, '.');
        size_t len = strlen(e->d_name);
        if (dot == NULL || len < 5 || strcmp(e->d_name + len - 4, ".key") != 0 ||
            (size_t)(dot - e->d_name) >= sizeof(org)) {
            continue;
        }
        snprintf(org, sizeof(org), "%.*s", (int)(dot - e->d_name), e->d_name);
        snprintf(provider, sizeof(provider), "%.*s", (int)(len - 4 - (size_t)(dot + 1 - e->d_name)),
                 dot + 1);
        if (key_path(c, org, provider, path, sizeof(path)) != 0) {
            continue;
        }
        FILE *f = fopen(path, "re");
        if (f == NULL) {
            continue;
        }
        size_t n = fread(key, 1, sizeof(key) - 1, f);
        fclose(f);
        key[n] = '\0';
        if (n >= AD_CREDS_KEY_MIN && n <= AD_CREDS_KEY_MAX &&
            remember(c, org, provider, key, false) != 0) {
            ad_log(AD_LOG_WARN, "llm", "too many stored credentials; some are ignored");
        }
        memset(key, 0, sizeof(key));
    }
    closedir(d);
}

/* ---- writing a key on the pool --------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    ad_creds_t *creds;
    char org[AD_ID_MAX];
    char provider[16];
    char path[4400];
    char *key; /* NULL: delete the file */
    int rc;
    bool keyring;    /* try the Secret Service first */
    bool in_keyring; /* the key went there */
    char why[300];   /* why the Secret Service was not used */
    ad_creds_done_cb cb;
    void *ud;
} file_job_t;

/* A closed store goes with its last pool job. */
static void release(ad_creds_t *c)
{
    c->pending--;
    if (c->closed && c->pending == 0) {
        free(c);
    }
}

static int write_key(const char *dir, const char *path, const char *key)
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
    const char *data_dir = j->creds->data_dir; /* not changed after ad_creds_new */
    if (j->key != NULL && j->keyring &&
        ad_keyring_store(data_dir, j->org, j->provider, j->key, j->why, sizeof(j->why)) == 0) {
        j->in_keyring = true;
        j->rc = unlink(j->path) == 0 || errno == ENOENT ? 0 : AD_EIO;
    } else if (j->key != NULL) {
        j->rc = write_key(j->creds->dir, j->path, j->key);
    } else {
        if (j->keyring) {
            ad_keyring_clear(data_dir, j->org, j->provider, j->why, sizeof(j->why));
        }
        j->rc = unlink(j->path) == 0 || errno == ENOENT ? 0 : AD_EIO;
    }
}

static void file_done(uv_work_t *w, int status)
{
    file_job_t *j = w->data;
    ad_creds_t *c = j->creds;
    int rc = status != 0 ? AD_EIO : j->rc;
    if (rc == 0 && c->closed) {
        rc = AD_ECLOSED;
    }
    if (rc == 0) {
        if (j->key != NULL && j->keyring && !j->in_keyring) {
            ad_log(AD_LOG_WARN, "llm", "credential of %s/%s kept in a 0600 file: %s", j->org,
                   j->provider, j->why);
        }
        if (j->key != NULL) {
            rc = remember(c, j->org, j->provider, j->key, j->in_keyring);
        } else {
            forget(c, j->org, j->provider);
        }
    }
    wipe_free(j->key);
    j->cb(rc, j->ud);
    free(j);
    release(c);
}

int ad_creds_set(ad_creds_t *c, const char *org, const char *provider, const char *key,
                 ad_creds_done_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    file_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->creds = c;
    j->cb = cb;
    j->ud = ud;
    snprintf(j->org, sizeof(j->org), "%s", org);
    snprintf(j->provider, sizeof(j->provider), "%s", provider);
    j->key = key != NULL ? ad_xstrdup(key) : NULL;
    j->keyring = ad_keyring_wanted();
    j->work.data = j;
    int rc = key_path(c, org, provider, j->path, sizeof(j->path));
    if (rc == 0 && uv_queue_work(c->loop, &j->work, file_work, file_done) != 0) {
        rc = AD_EIO;
    }
    if (rc != 0) {
        wipe_free(j->key);
        free(j);
        return rc;
    }
    c->pending++;
    return 0;
}

/* ---- the Secret Service's keys, read at start-up on the pool ---------------------------- */

typedef struct {
    uv_work_t work;
    ad_creds_t *creds;
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
        char *key = ad_keyring_lookup(j->creds->data_dir, jstr(p, "orgId"), jstr(p, "provider"),
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
    ad_creds_t *c = j->creds;
    size_t i;
    json_t *p;
    json_array_foreach(j->pairs, i, p)
    {
        const char *org = jstr(p, "orgId"), *provider = jstr(p, "provider");
        json_t *key = json_object_get(p, "key");
        if (status == 0 && !c->closed && key != NULL && find(c, org, provider) == NULL) {
            if (remember(c, org, provider, json_string_value(key), true) != 0) {
                ad_log(AD_LOG_WARN, "llm", "too many stored credentials; some are ignored");
            }
        } else if (json_object_get(p, "why") != NULL) {
            ad_log(AD_LOG_WARN, "llm", "credential of %s/%s: %s", org, provider, jstr(p, "why"));
        }
        if (key != NULL) {
            memset((char *)json_string_value(key), 0, json_string_length(key));
        }
    }
    json_decref(j->pairs);
    free(j);
    release(c);
}

static void kr_load(ad_creds_t *c)
{
    json_t *rows = NULL;
    if (!ad_keyring_wanted() || c->store == NULL || ad_store_cred_list(c->store, "", &rows) != 0) {
        return;
    }
    kr_load_t *j = ad_xcalloc(1, sizeof(*j));
    j->creds = c;
    j->pairs = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_array_append_new(j->pairs,
                              json_pack("{s:O, s:O}", "orgId", json_object_get(row, "orgId"),
                                        "provider", json_object_get(row, "provider")));
    }
    json_decref(rows);
    j->work.data = j;
    if (json_array_size(j->pairs) == 0 ||
        uv_queue_work(c->loop, &j->work, kr_load_work, kr_load_done) != 0) {
        json_decref(j->pairs);
        free(j);
        return;
    }
    c->pending++;
}

ad_creds_t *ad_creds_new(uv_loop_t *loop, struct ad_store *store, const char *data_dir)
{
    ad_creds_t *c = ad_xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->store = store;
    snprintf(c->dir, sizeof(c->dir), "%s/credentials", data_dir);
    if (realpath(data_dir, c->data_dir) == NULL) {
        snprintf(c->data_dir, sizeof(c->data_dir), "%s", data_dir);
    }
    load_keys(c);
    kr_load(c);
    return c;
}

void ad_creds_free(ad_creds_t *c)
{
    if (c == NULL) {
        return;
    }
    c->closed = true;
    for (size_t i = 0; i < c->nkeys; i++) {
        wipe_free(c->keys[i].key);
    }
    c->nkeys = 0;
    if (c->pending == 0) {
        free(c);
    }
}

bool ad_creds_key_ok(const char *key)
{
    size_t n = strlen(key);
    bool ok = n >= AD_CREDS_KEY_MIN && n <= AD_CREDS_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        ok = key[i] > 0x20 && key[i] < 0x7f; /* no spaces or line ends: it goes in a header */
    }
    return ok;
}

bool ad_creds_url_ok(const char *url)
{
    return (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
           strpbrk(url, " \r\n\t") == NULL;
}

/* ---- what a credential shows ------------------------------------------------------ */

#define MODEL_PROVIDERS "anthropic,openai"

bool ad_creds_provider_known(const char *p)
{
    return p != NULL && ad_field_choice(AD_CREDS_PROVIDERS, p);
}

bool ad_creds_model_provider(const char *p)
{
    return p != NULL && ad_field_choice(MODEL_PROVIDERS, p);
}

void ad_creds_view(ad_creds_t *c, json_t *row)
{
    const char *org = json_string_value(json_object_get(row, "orgId"));
    const char *provider = json_string_value(json_object_get(row, "provider"));
    json_object_set_new(row, "storage", json_string(ad_creds_storage(c, org, provider)));
    char mask[64];
    ad_creds_mask(json_string_value(json_object_get(row, "last4")), mask, sizeof(mask));
    json_object_set_new(row, "masked", json_string(mask));
    json_object_del(row, "last4");
    json_object_set_new(row, "configured", json_true());
}

json_t *ad_creds_status(ad_creds_t *c, const char *org, json_t *rows)
{
    json_t *providers = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *p = json_string_value(json_object_get(row, "provider"));
        if (ad_creds_model_provider(p)) { /* a forge token signs no model in */
            ad_creds_view(c, row);
            json_object_set(providers, p, row);
        }
    }
    bool any = json_object_size(providers) > 0;
    return json_pack("{s:b, s:s, s:o}", "authenticated", any, "orgId", org, "providers", providers);
}

const char *ad_creds_agent_key(void *creds, const char *org, const char *provider)
{
    return ad_creds_model_provider(provider) ? ad_creds_key(creds, org, provider) : NULL;
}
