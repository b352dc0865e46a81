/* SPDX-License-Identifier: MIT */
/*
 * ACP session/request_permission (agent.h "ACP"): the tool call is shown
 * (one card, as its later updates), then the request is answered at once
 * when nothing is for the user to decide (a location outside the worktree:
 * refused; plan mode: refused; auto mode, or a kind of tool the agent's
 * permissions allow: allowed) or becomes an AD_REC_APPROVAL the user
 * answers with ad_acp_permission_answer. The approval's tool is the
 * permission word of the tool's kind ("read", "write", "execute", else the
 * kind capitalised), so "Allow always" adds a word agentd understands. An
 * allowed request grants its word (and the paths it names) once for the
 * rest of the turn: the fs write or terminal that carries the call out is
 * not asked again (acp_req.c).
 */
#include "agent/agent_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The permission word of an ACP tool kind, into out. */
static void kind_word(const char *kind, char *out, size_t outsz)
{
    static const struct {
        const char *kind, *word;
    } map[] = {{"read", "read"},    {"search", "read"}, {"edit", "write"},
               {"delete", "write"}, {"move", "write"},  {"execute", "execute"}};
    for (size_t i = 0; kind != NULL && i < AD_ARRAY_LEN(map); i++) {
        if (strcmp(kind, map[i].kind) == 0) {
            snprintf(out, outsz, "%s", map[i].word);
            return;
        }
    }
    /* A tool rule agentd's permission check takes: a capital, then
     * letters, digits and '_'. */
    size_t n = 0;
    for (const char *c = kind != NULL ? kind : "other"; *c != '\0' && n + 1 < outsz && n < 64;
         c++) {
        if (isalnum((unsigned char)*c) || *c == '_') {
            out[n] = n == 0 ? (char)toupper((unsigned char)*c) : *c;
            n++;
        }
    }
    out[n] = '\0';
    if (n == 0 || !isupper((unsigned char)out[0])) {
        snprintf(out, outsz, "Other");
    }
}

bool ad_acp_perms_have(const json_t *perms, const char *word)
{
    size_t i;
    json_t *v;
    json_array_foreach(perms, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), word) == 0) {
            return true;
        }
    }
    return false;
}

/* The paths the tool call names (its locations, its diffs), worktree-
 * relative, into *paths (owned; NULL when it names none); the first one
 * outside the worktree is returned, else NULL. */
static const char *paths_of(const ad_acp_t *a, json_t *tool, json_t **paths)
{
    *paths = NULL;
    const char *arrays[] = {"locations", "content"};
    for (size_t k = 0; k < AD_ARRAY_LEN(arrays); k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(tool, arrays[k]), i, v)
        {
            json_t *path = json_object_get(v, "path");
            if (path == NULL) {
                continue;
            }
            char *rel =
                json_is_string(path) ? ad_acp_rel_path(a->cwd, json_string_value(path)) : NULL;
            if (rel == NULL) {
                json_decref(*paths);
                *paths = NULL;
                return json_is_string(path) ? json_string_value(path) : "(not a path)";
            }
            if (*paths == NULL) {
                *paths = json_array();
            }
            if (json_array_size(*paths) < 64) {
                json_array_append_new(*paths, json_string(rel));
            }
            free(rel);
        }
    }
    return NULL;
}

/* Remembers the request so it can be answered; false when too many wait. */
static bool keep(ad_acp_t *a, const json_t *id, const char *id_json, json_t *options,
                 const char *word, json_t *paths)
{
    if (a->nasks >= AD_ACP_ASKS_MAX) {
        return false;
    }
    ad_acp_ask_t *k = &a->asks[a->nasks++];
    memset(k, 0, sizeof(*k));
    k->id_json = ad_xstrdup(id_json);
    k->id = json_deep_copy(id);
    k->options = json_is_array(options) ? json_incref(options) : json_array();
    snprintf(k->word, sizeof(k->word), "%s", word);
    k->paths = json_incref(paths);
    return true;
}

void ad_acp_grant(ad_acp_t *a, const char *word, const json_t *paths)
{
    if (json_array_size(a->grants) >= AD_ACP_GRANTS_MAX) {
        json_array_remove(a->grants, 0);
    }
    json_array_append_new(a->grants, json_pack("{s:s, s:O?}", "word", word, "paths", paths));
}

bool ad_acp_grant_take(ad_acp_t *a, const char *word, const char *rel)
{
    size_t i, k;
    json_t *g, *path;
    json_array_foreach(a->grants, i, g)
    {
        const char *w = ad_json_str(g, "word");
        json_t *paths = json_object_get(g, "paths");
        bool fits = json_array_size(paths) == 0 || rel == NULL;
        json_array_foreach(paths, k, path)
        {
            fits = fits || strcmp(json_string_value(path), rel) == 0;
        }
        if (w != NULL && strcmp(w, word) == 0 && fits) {
            json_array_remove(a->grants, i);
            return true;
        }
    }
    return false;
}

static void answer_now(ad_parser_t *p, const char *id_json, ad_acp_decision_t d, ad_recs_t *out)
{
    size_t len = 0;
    ad_acp_send(out, ad_acp_permission_answer(p, id_json, d, NULL, &len));
}

void ad_acp_on_permission(ad_parser_t *p, const json_t *id, json_t *params, uint64_t now,
                          ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    json_t *tool = json_object_get(params, "toolCall");
    json_t *options = json_object_get(params, "options");
    char *id_json = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (id_json == NULL || !json_is_object(tool)) {
        free(id_json);
        size_t len = 0;
        ad_acp_send(out, ad_rpc_error(&a->rpc, id, AD_RPC_INVALID_PARAMS,
                                      "toolCall must be an object", NULL, &len));
        return;
    }
    /* the card first, so a decision has something to show */
    json_t *upd = json_deep_copy(tool);
    json_object_del(upd, "status");
    json_object_set_new(upd, "sessionUpdate", json_string("tool_call"));
    ad_acp_on_update(p, upd, now, out);
    json_decref(upd);
    /* the kind, when the request leaves it out, is the call's (claude-code-acp) */
    const char *kind = ad_json_str(tool, "kind");
    const char *id_str = ad_json_str(tool, "toolCallId");
    if (kind == NULL && id_str != NULL) {
        kind = json_string_value(json_object_get(a->kinds, id_str));
    }
    char word[80];
    kind_word(kind, word, sizeof(word));
    json_t *paths = NULL;
    const char *outside = paths_of(a, tool, &paths);
    bool kept = keep(a, id, id_json, options, word, paths);
    json_decref(paths);
    if (!kept || outside != NULL || a->mode != AD_MODE_REGULAR ||
        ad_acp_perms_have(a->perms, word)) {
        if (outside != NULL) {
            char text[400];
            snprintf(text, sizeof(text),
                     "refused: the agent asked permission for %.200s, outside its worktree",
                     outside);
            ad_rec_notice(out, "error", text, NULL);
        }
        bool allow = kept && outside == NULL && a->mode != AD_MODE_PLAN;
        if (kept) {
            answer_now(p, id_json, allow ? AD_ACP_ALLOW : AD_ACP_DENY, out);
        } else {
            size_t len = 0;
            ad_acp_send(out, ad_rpc_response(
                                 &a->rpc, id,
                                 json_pack("{s:{s:s}}", "outcome", "outcome", "cancelled"), &len));
        }
        free(id_json);
        return;
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_APPROVAL);
    r->subtype = id_json;
    r->tool_name = ad_xstrdup(word);
    r->tool_id = ad_json_strdup(tool, "toolCallId");
    r->text = ad_json_strdup(tool, "title");
    json_t *opts = json_is_array(options) ? json_incref(options) : json_array();
    r->json = json_pack("{s:O?, s:s?, s:O?, s:O?, s:o}", "title", json_object_get(tool, "title"),
                        "kind", kind, "locations", json_object_get(tool, "locations"), "rawInput",
                        json_object_get(tool, "rawInput"), "options", opts);
}
