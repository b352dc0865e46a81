/* SPDX-License-Identifier: MIT */
/*
 * The definitions an organisation may read (defs.h, "lookup"): the data
 * dir's definitions folder (every organisation's) and .claude/agents of
 * each workspace of the organisation (theirs alone), read again on each
 * ask (on the pool, src/llm's ad_defs_load) so edits show at once; a
 * definition found by name, the listing with the categories, and the
 * best one for a prompt. The routes are src/api/defs.c's.
 */
#include "defs/defs.h"
#include "llm/llm.h"
#include "store/store.h"
#include "tables/workspaces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The folders org may read definitions from. New reference. */
static json_t *folders(ad_store_t *st, const char *data_dir, const char *org)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/definitions", data_dir);
    json_t *dirs = json_pack("[{s:s}]", "path", p);
    json_t *ws = NULL;
    if (st != NULL && ad_store_workspace_paths(st, org, &ws) == 0) {
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(ws, "workspaces"), i, w)
        {
            const char *path = jstr(w, "path");
            if (path != NULL) {
                /* read below the repository only (src/llm/defs.c) */
                snprintf(p, sizeof(p), "%s/.claude/agents", path);
                json_array_append_new(dirs, json_pack("{s:s, s:s, s:s, s:s}", "path", p, "root",
                                                      path, "rel", ".claude/agents", "workspaceId",
                                                      jstr(w, "id")));
            }
        }
    }
    json_decref(ws);
    return dirs;
}

int ad_defs_read(uv_loop_t *loop, ad_store_t *st, const char *data_dir, const char *org,
                 ad_defs_cb cb, void *ud)
{
    return ad_defs_load(loop, folders(st, data_dir, org), cb, ud);
}

json_t *ad_defs_named(json_t *defs, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d)
    {
        if (strcmp(jstr(d, "name"), name) == 0) {
            return d;
        }
    }
    return NULL;
}

/* A definition as listed: without its prompt (GET one has it). */
static json_t *brief(json_t *def)
{
    json_t *d = json_deep_copy(def);
    json_object_del(d, "systemPrompt");
    return d;
}

json_t *ad_defs_listing(json_t *defs, const char *q, const char *cat)
{
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
    json_decref(ranked);
    return json_pack("{s:o, s:o}", "definitions", out, "categories", cats);
}

json_t *ad_defs_select(json_t *defs, const char *prompt)
{
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
            if (strcmp(jstr(d, "name"), "general") == 0 && json_object_get(d, "error") == NULL) {
                general = brief(d);
            }
        }
        out =
            json_pack("{s:o, s:i, s:[], s:b, s:[]}", "definition", general ? general : json_null(),
                      "score", 0, "matched", "default", 1, "alternatives");
    }
    json_decref(ranked);
    return out;
}

typedef struct {
    char *name;
    ad_defs_found_cb cb;
    void *ud;
} find_t;

static void found(json_t *defs, void *ud)
{
    find_t *f = ud;
    f->cb(ad_defs_named(defs, f->name), f->ud);
    json_decref(defs);
    free(f->name);
    free(f);
}

int ad_defs_find(uv_loop_t *loop, struct ad_store *st, const char *data_dir, const char *org,
                 const char *name, ad_defs_found_cb cb, void *ud)
{
    find_t *f = ad_xcalloc(1, sizeof(*f));
    *f = (find_t){.name = ad_xstrdup(name), .cb = cb, .ud = ud};
    int rc = ad_defs_read(loop, st, data_dir, org, found, f);
    if (rc != 0) {
        free(f->name);
        free(f);
    }
    return rc;
}
