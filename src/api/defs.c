/* SPDX-License-Identifier: MIT */
/*
 * /api/definitions: agent definitions (src/llm/defs.c) from the data dir's
 * definitions folder (every organisation's) and from .claude/agents of each
 * workspace of the caller's organisation (theirs alone), read again on
 * each request (on the pool), so edits show at once. A file with bad
 * front matter is listed with its error.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/workbench.md.
 */
#include "api/workbench.h"
#include "defs/defs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_MAX (64 * 1024)

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char *name; /* find: the definition asked for */
    ad_api_def_cb cb;
    void *ud;
    json_t *body; /* select: the request */
} find_t;

/* The folders org may read definitions from. New reference. */
static json_t *folders(ad_app_t *app, const char *org)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/definitions", app->cfg->data_dir);
    json_t *dirs = json_pack("[{s:s}]", "path", p);
    json_t *ws = NULL;
    if (app->store != NULL && ad_store_workspace_list(app->store, org, &ws) == 0) {
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(ws, "workspaces"), i, w)
        {
            const char *path = ad_api_jstr(w, "path");
            if (path != NULL) {
                /* read below the repository only (src/llm/defs.c) */
                snprintf(p, sizeof(p), "%s/.claude/agents", path);
                json_array_append_new(dirs, json_pack("{s:s, s:s, s:s, s:s}", "path", p, "root",
                                                      path, "rel", ".claude/agents", "workspaceId",
                                                      ad_api_jstr(w, "id")));
            }
        }
    }
    json_decref(ws);
    return dirs;
}

/* A definition as listed: without its prompt (GET one has it). */
static json_t *brief(json_t *def)
{
    json_t *d = json_deep_copy(def);
    json_object_del(d, "systemPrompt");
    return d;
}

static void found(json_t *defs, void *ud)
{
    find_t *f = ud;
    json_t *hit = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d)
    {
        if (strcmp(ad_api_jstr(d, "name"), f->name) == 0) {
            hit = d;
            break;
        }
    }
    f->cb(f->app, f->req, hit, f->ud);
    json_decref(defs);
    free(f->name);
    free(f);
}

int ad_api_def_find(ad_app_t *app, ad_req_t *r, const char *name, ad_api_def_cb cb, void *ud)
{
    find_t *f = ad_xcalloc(1, sizeof(*f));
    f->app = app;
    f->req = r;
    f->name = ad_xstrdup(name);
    f->cb = cb;
    f->ud = ud;
    int rc = ad_defs_load(app->loop, folders(app, ad_principal_filter(ad_api_who(r))), found, f);
    if (rc != 0) {
        free(f->name);
        free(f);
    }
    return rc;
}

static void listed(json_t *defs, void *ud)
{
    find_t *f = ud;
    ad_req_t *r = f->req;
    const char *q = ad_req_query(r, "q"), *cat = ad_req_query(r, "category");
    json_t *ranked = ad_defs_rank(defs, q != NULL ? q : "", cat);
    json_t *out = json_array(), *cats = json_array();
    size_t i;
    json_t *row, *d;
    json_array_foreach(ranked, i, row)
    {
        if (q != NULL && q[0] != '\0' && json_number_value(json_object_get(row, "score")) <= 0) {
            continue;
        }
        json_t *b = brief(json_object_get(row, "definition"));
        if (q != NULL && q[0] != '\0') {
            json_object_set(b, "score", json_object_get(row, "score"));
            json_object_set(b, "matched", json_object_get(row, "matched"));
        }
        json_array_append_new(out, b);
    }
    json_array_foreach(defs, i, d)
    {
        json_t *c = json_object_get(d, "category");
        bool seen = !json_is_string(c);
        for (size_t k = 0; !seen && k < json_array_size(cats); k++) {
            seen = json_equal(json_array_get(cats, k), c);
        }
        if (!seen) {
            json_array_append(cats, c);
        }
    }
    ad_res_json(r, 200, json_pack("{s:o, s:o}", "definitions", out, "categories", cats));
    json_decref(ranked);
    json_decref(defs);
    free(f);
}

static void load_or_fail(ad_app_t *app, ad_req_t *r, find_t *f, ad_defs_cb cb)
{
    if (ad_defs_load(app->loop, folders(app, ad_principal_filter(ad_api_who(r))), cb, f) != 0) {
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

/* The best definition for a prompt; without any word in common, the one
 * named "general" when there is one, else none. */
static void selected(json_t *defs, void *ud)
{
    find_t *f = ud;
    const char *prompt = ad_api_jstr(f->body, "prompt");
    json_t *ranked = ad_defs_rank(defs, prompt, NULL);
    json_t *best = json_array_get(ranked, 0), *out;
    if (best != NULL && json_number_value(json_object_get(best, "score")) > 0 &&
        json_object_get(json_object_get(best, "definition"), "error") == NULL) {
        json_t *alts = json_array();
        for (size_t i = 1; i < json_array_size(ranked) && json_array_size(alts) < 3; i++) {
            json_t *row = json_array_get(ranked, i);
            if (json_number_value(json_object_get(row, "score")) > 0) {
                json_array_append_new(
                    alts, json_pack("{s:O, s:O}", "name",
                                    json_object_get(json_object_get(row, "definition"), "name"),
                                    "score", json_object_get(row, "score")));
            }
        }
        out = json_pack("{s:o, s:O, s:O, s:b, s:o}", "definition",
                        brief(json_object_get(best, "definition")), "score",
                        json_object_get(best, "score"), "matched", json_object_get(best, "matched"),
                        "default", 0, "alternatives", alts);
    } else {
        json_t *general = NULL;
        size_t i;
        json_t *d;
        json_array_foreach(defs, i, d)
        {
            if (strcmp(ad_api_jstr(d, "name"), "general") == 0 &&
                json_object_get(d, "error") == NULL) {
                general = brief(d);
            }
        }
        out =
            json_pack("{s:o, s:i, s:[], s:b, s:[]}", "definition", general ? general : json_null(),
                      "score", 0, "matched", "default", 1, "alternatives");
    }
    ad_res_json(f->req, 200, out);
    json_decref(ranked);
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
    app->defwatch = ad_defwatch_start(app->loop, app->store, app->bus, app->cfg->data_dir);
    ad_server_route(app->server, "GET", "/api/definitions", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "GET", "/api/definitions/:name", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "POST", "/api/definitions/select", AD_ACCESS_READ, select_def,
                    app);
}
