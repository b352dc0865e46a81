/* SPDX-License-Identifier: MIT */
/*
 * What the REST routes of accounts compute beside the checks of auth.c:
 * the session cookie's header, the sign-in URL a login code rides in, the
 * organisations a caller may see, the one a caller names (or is given)
 * for a new row or a read, whether a caller sees a row of an org, and an
 * audit page's query. src/api's
 * auth.c reads the requests and answers.
 */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ad_auth_cookie_header(const ad_req_t *r, const char *value, int64_t max_age, char *out,
                           size_t outsz)
{
    char name[32];
    ad_auth_cookie_name(r, name, sizeof(name));
    snprintf(out, outsz, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", name, value,
             (long long)max_age, ad_req_is_tls(r) ? "; Secure" : "");
}

void ad_auth_login_url(const ad_config_t *cfg, int port, const char *code, char *url, size_t urlsz)
{
    char base[400];
    ad_config_base_url(cfg, port, false, base, sizeof(base));
    snprintf(url, urlsz, "%s/login#code=%s", base, code);
}

void ad_auth_orgs_seen(json_t *orgs, const ad_principal_t *who)
{
    for (size_t i = json_array_size(orgs); i-- > 0;) {
        if (!ad_principal_sees(who,
                               json_string_value(json_object_get(json_array_get(orgs, i), "id")))) {
            json_array_remove(orgs, i);
        }
    }
}

int ad_auth_audit_query(const char *lim, const char *before, int *limit, int64_t *cursor,
                        ad_field_err_t *e)
{
    long l = lim != NULL ? strtol(lim, NULL, 10) : 100;
    long long c = before != NULL ? strtoll(before, NULL, 10) : 0;
    if (l < 1 || l > 1000 || c < 0) {
        return ad_field_fail(e, "limit",
                             "must be 1-1000 (and before a cursor from a previous page)");
    }
    *limit = (int)l;
    *cursor = c;
    return 0;
}

int ad_auth_org_for(ad_store_t *st, const ad_principal_t *who, const json_t *body,
                    char org[AD_ID_MAX], ad_field_err_t *e)
{
    const char *want = NULL;
    if (ad_field_str(body, "orgId", false, AD_ID_MAX - 1, &want, e) != 0) {
        return AD_EINVAL;
    }
    int rc = ad_auth_org_named(st, who, want, true, org);
    if (rc == AD_EPERM) {
        return ad_field_fail(e, "orgId", "must be your own organisation");
    }
    return rc == AD_ENOENT ? ad_field_fail(e, "orgId", "is not an organisation") : rc;
}

int ad_auth_org_named(ad_store_t *st, const ad_principal_t *who, const char *want,
                      bool other_refused, char org[AD_ID_MAX])
{
    if (!who->owner) {
        if (other_refused && want != NULL && strcmp(want, who->org_id) != 0) {
            return AD_EPERM;
        }
        snprintf(org, AD_ID_MAX, "%s", who->org_id);
        return 0;
    }
    return ad_store_org_find(st, want != NULL ? want : AD_ORG_DEFAULT, org);
}

int ad_auth_row_org(ad_store_t *st, const ad_principal_t *who, ad_store_row_t kind, const char *id,
                    char org_out[AD_ID_MAX])
{
    char org[AD_ID_MAX];
    int rc = ad_store_row_org(st, kind, id, org);
    if (rc == 0 && !ad_principal_sees(who, org)) {
        rc = AD_ENOENT; /* another org's row is answered like a missing one */
    } else if (rc == 0 && org_out != NULL) {
        snprintf(org_out, AD_ID_MAX, "%s", org);
    }
    return rc;
}
