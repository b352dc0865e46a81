/* SPDX-License-Identifier: MIT */
/*
 * /api/definitions: agent definitions from the data dir's definitions
 * folder (every organisation's) and from .claude/agents of each workspace
 * of the caller's organisation (theirs alone), read again on each request
 * (on the pool), so edits show at once; which folders, the listing and the
 * choice for a prompt are src/defs's (lookup.c), the files src/llm's. A
 * file with bad front matter is listed with its error.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/workbench.md.
 */
#include "api/workbench.h"
#include "defs/defs.h"

#include <stdlib.h>

#define PROMPT_MAX (64 * 1024)

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    ad_api_def_cb cb;
    void *ud;
    json_t *body; /* select: the request */
} find_t;

/* Reads the definitions r's caller may see, then cb(defs, f). */
static int read_defs(ad_app_t *app, ad_req_t *r, ad_defs_cb cb, find_t *f)
{
    return ad_defs_read(app->loop, app->store, app->cfg->data_dir,
                        ad_principal_filter(ad_api_who(r)), cb, f);
}

static void found(json_t *def, void *ud)
{
    find_t *f = ud;
    f->cb(f->app, f->req, def, f->ud);
    free(f);
}

int ad_api_def_find(ad_app_t *app, ad_req_t *r, const char *name, ad_api_def_cb cb, void *ud)
{
    find_t *f = ad_xcalloc(1, sizeof(*f));
    *f = (find_t){.app = app, .req = r, .cb = cb, .ud = ud};
    int rc = ad_defs_find(app->loop, app->store, app->cfg->data_dir,
                          ad_principal_filter(ad_api_who(r)), name, found, f);
    if (rc != 0) {
        free(f);
    }
    return rc;
}

static void listed(json_t *defs, void *ud)
{
    find_t *f = ud;
    ad_req_t *r = f->req;
    ad_res_json(r, 200, ad_defs_listing(defs, ad_req_query(r, "q"), ad_req_query(r, "category")));
    json_decref(defs);
    free(f);
}

static void load_or_fail(ad_app_t *app, ad_req_t *r, find_t *f, ad_defs_cb cb)
{
    if (read_defs(app, r, cb, f) != 0) {
        json_decref(f->body);
        free(f);
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot read the definitions");
    }
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    find_t *f = ad_xcalloc(1, sizeof(*f));
    f->app = app;
    f->req = r;
    load_or_fail(app, r, f, listed);
}

static void got_one(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    AD_UNUSED(app);
    AD_UNUSED(ud);
    if (def == NULL) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "name", ad_req_param(r, "name")),
                     "definition not found");
        return;
    }
    ad_res_json(r, 200, json_incref(def));
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (ad_api_def_find(app, r, ad_req_param(r, "name"), got_one, NULL) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot read the definitions");
    }
}

/* The best definition for the prompt (src/defs). */
static void selected(json_t *defs, void *ud)
{
    find_t *f = ud;
    ad_res_json(f->req, 200, ad_defs_select(defs, ad_api_jstr(f->body, "prompt")));
    json_decref(defs);
    json_decref(f->body);
    free(f);
}

static void select_def(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    const char *prompt = NULL;
    if (body == NULL) {
        return;
    }
    if (ad_api_str(r, body, "prompt", true, PROMPT_MAX, &prompt) != 0) {
        json_decref(body);
        return;
    }
    find_t *f = ad_xcalloc(1, sizeof(*f));
    f->app = app;
    f->req = r;
    f->body = body;
    load_or_fail(app, r, f, selected);
}

void ad_api_defs_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/definitions", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "GET", "/api/definitions/:name", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "POST", "/api/definitions/select", AD_ACCESS_READ, select_def,
                    app);
}
