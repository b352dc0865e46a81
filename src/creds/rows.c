/* SPDX-License-Identifier: MIT */
/*
 * The credential rows the REST routes answer with (src/api's creds.c):
 * the store's rows as they are shown (ad_creds_view: never a key), an
 * organisation's sign-in status, and the status a validation stores.
 * Loop thread.
 */
#include "creds/creds.h"
#include "store/store.h"
#include "tables/llm.h"

int ad_creds_list(ad_creds_t *c, ad_store_t *st, const char *org, json_t **rows)
{
    int rc = ad_store_cred_list(st, org, rows);
    if (rc != 0) {
        return rc;
    }
    size_t i;
    json_t *row;
    json_array_foreach(*rows, i, row)
    {
        ad_creds_view(c, row);
    }
    return 0;
}

int ad_creds_get(ad_creds_t *c, ad_store_t *st, const char *org, const char *provider, json_t **row)
{
    int rc = ad_store_cred_get(st, org, provider, row);
    if (rc == 0) {
        ad_creds_view(c, *row);
    }
    return rc;
}

json_t *ad_creds_status_of(ad_creds_t *c, ad_store_t *st, const char *org)
{
    json_t *rows = NULL;
    if (ad_store_cred_list(st, org, &rows) != 0) {
        rows = json_array(); /* none readable: none configured */
    }
    json_t *out = ad_creds_status(c, org, rows);
    json_decref(rows);
    return out;
}

json_t *ad_creds_status_args(const json_t *verdict, const char *org, int64_t now)
{
    bool valid = json_is_true(json_object_get(verdict, "valid"));
    return json_pack("{s:s, s:O, s:s, s:O?, s:I}", "orgId", org, "provider",
                     json_object_get(verdict, "provider"), "status", valid ? "valid" : "invalid",
                     "reason", json_object_get(verdict, "reason"), "now", (json_int_t)now);
}
