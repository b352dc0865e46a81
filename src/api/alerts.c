/* SPDX-License-Identifier: MIT */
/*
 * Alert rules and their firings over REST (issue #35): /api/alert-rules
 * (CRUD; write scope, admin for a rule with a webhook, since it makes
 * agentd call out), /api/alert-rules/:id/firings and /api/runs/:id/alerts.
 * What a rule may say is src/train's (rule.c), the engine too (alerts.c);
 * this file reads requests, checks who may, and answers.
 */
#include "api/api_int.h"
#include "train/train.h"
#include "tables/alerts.h"

#include <stdio.h>

#define FIRINGS_LIMIT 500

/* The rule's scope row must be one the caller sees; its org becomes the
 * rule's (src/train). 1: no scope; -1 after answering. */
static int scope_org(ad_app_t *app, ad_req_t *r, const json_t *spec, char org[AD_ID_MAX])
{
    ad_field_err_t e;
    int rc = ad_train_rule_org(app->store, ad_api_who(r), spec, org, &e);
    return rc < 0 ? ad_api_invalid_err(r, &e) : rc;
}

/* Checks body (over old for a patch) into *spec; answers and returns -1
 * when it is refused. */
static int check(ad_app_t *app, ad_req_t *r, json_t *body, const json_t *old, json_t **spec)
{
    char field[96], why[256];
    if (ad_train_rule_check(body, old, app->cfg->alert_webhook_allow, spec, field, sizeof(field),
                            why, sizeof(why)) != 0) {
        return ad_api_invalid(r, field, why);
    }
    if (ad_train_rule_webhook(*spec) && !ad_api_require(r, AD_SCOPE_ADMIN, "a webhook")) {
        json_decref(*spec);
        *spec = NULL;
        return -1;
    }
    return 0;
}

static void saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "alert rule", NULL);
        return;
    }
    ad_train_rule_set(app->train, result); /* and published */
    ad_res_json(r, ad_req_param(r, "id") != NULL ? 200 : 201, json_incref(result));
}

static void create_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    char org[AD_ID_MAX];
    /* orgId is the owner's choice of org, not a rule field */
    json_t *in = json_deep_copy(body);
    json_object_del(in, "orgId");
    json_t *spec = NULL;
    int so = 0;
    if (check(app, r, in, NULL, &spec) != 0 || (so = scope_org(app, r, spec, org)) < 0 ||
        (so == 1 && ad_api_org_for(app, r, body, org) != 0)) {
        json_decref(spec);
        json_decref(in);
        json_decref(body);
        return;
    }
    json_t *args = ad_train_rule_args(NULL, org, spec, (int64_t)ad_wall_ms());
    json_decref(in);
    json_decref(body);
    ad_api_write(app, r, ad_store_op_alert_rule_put, args, saved);
}

/* The rule of :id the caller sees, or NULL after answering 404. */
static json_t *visible_rule(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_alert_rule_get, "alert rule");
}

static void get_h(ad_req_t *r, void *ud)
{
    ad_api_answer_row(r, visible_rule(ud, r));
}

static void list_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rules = NULL;
    int rc = ad_store_alert_rule_list(app->store, ad_principal_filter(ad_api_who(r)), &rules);
    ad_api_list(r, rc, rules, "rules", "alert rules");
}

static void patch_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *old = visible_rule(app, r);
    if (old == NULL) {
        return;
    }
    json_t *body = ad_req_json(r);
    json_t *spec = NULL;
    char org[AD_ID_MAX];
    snprintf(org, sizeof(org), "%s", json_string_value(json_object_get(old, "orgId")));
    /* a rule that keeps its webhook is changed by an admin only, too */
    if (body == NULL || check(app, r, body, old, &spec) != 0 || scope_org(app, r, spec, org) < 0) {
        json_decref(spec);
        json_decref(body);
        json_decref(old);
        return;
    }
    json_t *args = ad_train_rule_args(ad_req_param(r, "id"), org, spec, (int64_t)ad_wall_ms());
    json_decref(body);
    json_decref(old);
    ad_api_write(app, r, ad_store_op_alert_rule_put, args, saved);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    const char *id = ad_req_param(r, "id");
    if (rc != 0) {
        ad_api_fail(r, rc, "alert rule", id);
        return;
    }
    ad_train_rule_remove(app->train, id,
                         json_string_value(json_object_get(result, "orgId"))); /* and published */
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void delete_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *old = visible_rule(app, r);
    if (old == NULL) {
        return;
    }
    json_decref(old);
    ad_api_write(app, r, ad_store_op_alert_rule_delete,
                 json_pack("{s:s}", "id", ad_req_param(r, "id")), deleted);
}

static void answer_firings(ad_app_t *app, ad_req_t *r, const char *run_id, const char *rule_id)
{
    json_t *f = NULL;
    int rc = ad_store_alert_firings(app->store, run_id, rule_id, ad_principal_filter(ad_api_who(r)),
                                    FIRINGS_LIMIT, &f);
    ad_api_list(r, rc, f, "firings", "alert firings");
}

static void rule_firings_h(ad_req_t *r, void *ud)
{
    json_t *rule = visible_rule(ud, r);
    if (rule != NULL) {
        answer_firings(ud, r, NULL, ad_req_param(r, "id"));
        json_decref(rule);
    }
}

static void run_firings_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
        answer_firings(app, r, id, NULL);
    }
}

void ad_api_alerts_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/alert-rules", AD_ACCESS_READ, list_h, app);
    ad_server_route(s, "POST", "/api/alert-rules", AD_ACCESS_WRITE, create_h, app);
    ad_server_route(s, "GET", "/api/alert-rules/:id", AD_ACCESS_READ, get_h, app);
    ad_server_route(s, "PATCH", "/api/alert-rules/:id", AD_ACCESS_WRITE, patch_h, app);
    ad_server_route(s, "DELETE", "/api/alert-rules/:id", AD_ACCESS_WRITE, delete_h, app);
    ad_server_route(s, "GET", "/api/alert-rules/:id/firings", AD_ACCESS_READ, rule_firings_h, app);
    ad_server_route(s, "GET", "/api/runs/:id/alerts", AD_ACCESS_READ, run_firings_h, app);
}
