/* SPDX-License-Identifier: MIT */
/*
 * A credential changed (issue #30; moved from src/api/creds.c): what PUT
 * /api/credentials/:provider may hold and the row's args (the last four
 * characters of the key, never the key), then the key stored or removed
 * (ad_creds_set) and, once it is, the row written through the store.
 */
#include "creds/creds.h"
#include "store/store.h"
#include "tables/llm.h"

#include <stdlib.h>
#include <string.h>

int ad_creds_put_args(const json_t *body, const char *provider, const char *org, json_t **args,
                      const char **key, ad_field_err_t *e)
{
    const char *email = NULL, *url = NULL;
    if (ad_field_str(body, "apiKey", true, AD_CREDS_KEY_MAX, key, e) != 0) {
        return AD_EINVAL;
    }
    if (!ad_creds_key_ok(*key)) {
        return ad_field_fail(e, "apiKey", "must be 8 to 512 printable characters without spaces");
    }
    if (ad_field_str(body, "email", false, 254, &email, e) != 0 ||
        ad_field_str(body, "baseUrl", false, 512, &url, e) != 0) {
        return AD_EINVAL;
    }
    if (url != NULL && url[0] != '\0' && !ad_creds_url_ok(url)) {
        return ad_field_fail(e, "baseUrl", "must be an http:// or https:// URL");
    }
    if (org == NULL) {
        return 0; /* checked only */
    }
    size_t n = strlen(*key);
    *args = json_pack("{s:s, s:s, s:s, s:b, s:I}", "orgId", org, "provider", provider, "last4",
                      *key + n - 4, "setBaseUrl", url != NULL, "now", (json_int_t)ad_wall_ms());
    if (email != NULL) {
        json_object_set_new(*args, "email", json_string(email));
    }
    if (url != NULL && url[0] != '\0') {
        json_object_set_new(*args, "baseUrl", json_string(url));
    }
    return 0;
}

typedef struct {
    struct ad_store *store;
    json_t *args; /* the row's write, after the key */
    bool put;
    ad_creds_saved_cb cb;
    void *ud;
} save_t;

static void row_written(int rc, json_t *result, void *ud)
{
    save_t *s = ud;
    s->cb(rc, false, result, s->ud);
    free(s);
}

static void key_stored(int rc, void *ud)
{
    save_t *s = ud;
    if (rc != 0) {
        json_decref(s->args);
        s->cb(rc, true, NULL, s->ud);
        free(s);
        return;
    }
    ad_store_write(s->store, s->put ? ad_store_op_cred_upsert : ad_store_op_cred_delete, s->args,
                   row_written, s);
}

int ad_creds_save(ad_creds_t *c, struct ad_store *st, json_t *args, const char *key,
                  ad_creds_saved_cb cb, void *ud)
{
    save_t *s = ad_xcalloc(1, sizeof(*s));
    *s = (save_t){.store = st, .args = args, .put = key != NULL, .cb = cb, .ud = ud};
    const char *org = json_string_value(json_object_get(args, "orgId"));
    const char *provider = json_string_value(json_object_get(args, "provider"));
    int rc = ad_creds_set(c, org, provider, key, key_stored, s);
    if (rc != 0) {
        json_decref(args);
        free(s);
    }
    return rc;
}
