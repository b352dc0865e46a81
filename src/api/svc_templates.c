/* SPDX-License-Identifier: MIT */
/*
 * GET /api/services/templates: the built-in service templates (src/svc
 * template.c), each {id, name, description, schema}; POST /api/services
 * {template: id, command} makes a service from one (services.c). Read
 * access: a template is the same for every organisation and names no
 * program.
 */
#include "api/api_int.h"
#include "svc/svc.h"

static void list(ad_req_t *r, void *ud)
{
    (void)ud;
    ad_res_json(r, 200, json_pack("{s:O}", "templates", ad_svc_templates()));
}

void ad_api_svc_templates_register(ad_app_t *app)
{
    ad_svc_templates(); /* built here, on the loop thread */
    ad_server_route(app->server, "GET", "/api/services/templates", AD_ACCESS_READ, list, app);
}
