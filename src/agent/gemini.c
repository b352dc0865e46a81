/* SPDX-License-Identifier: MIT */
/*
 * Gemini CLI: how it is launched headless (flags of the 0.61 CLI: approval
 * mode per agent mode, trust, resume, the prompt on stdin) and what its
 * `--output-format stream-json` output means (reference agent-protocols.md
 * C and the transcripts recorded from the real CLI,
 * tests/fixtures/transcripts/gemini-0.61.0-*): init, message (delta:true
 * marks streamed assistant tokens, gathered here into one message; the
 * user's own prompt is echoed and skipped), tool_use/tool_result, error
 * and result (stats per model, costed from the model_prices setting).
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- launch ------------------------------------------------------------------ */

/* GEMINI_CLI_NO_RELAUNCH: started plainly, the CLI loads its bundle, then
 * starts itself again as a child with a larger heap (--max-old-space-size
 * at half the machine's memory) and waits on it, so each run was two
 * Node processes, the first idle for the whole run. The child is told this
 * variable; set here, the first process is the CLI, with Node's default
 * heap (4 GiB here): `gemini --version` 2.5 CPU-seconds → 1.3. */
void ad_gemini_env(const char *base_url, ad_strv_t *env)
{
    ad_strv_push(env, "GEMINI_CLI_NO_RELAUNCH=true");
    if (base_url != NULL && base_url[0] != '\0') {
        ad_strv_push2(env, "GOOGLE_GEMINI_BASE_URL=", base_url);
    }
}

int ad_gemini_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_strv_t *env, ad_launch_t *out,
                    char *err, size_t errsz)
{
    if (spec->prompt == NULL || spec->prompt[0] == '\0') {
        snprintf(err, errsz,
                 "a gemini agent needs a prompt: the headless CLI runs one prompt "
                 "per run");
        return AD_EINVAL;
    }
    ad_strv_push(argv, "--output-format");
    ad_strv_push(argv, "stream-json");
    /* The worktree is one the owner registered and started an agent in:
     * trusted (headless, an untrusted folder is refused). */
    ad_strv_push(argv, "--skip-trust");
    /* Headless there is no one to approve: plan reads only, regular may
     * edit files (no shell), auto may do anything. */
    ad_strv_push(argv, "--approval-mode");
    ad_strv_push(argv, spec->mode == AD_MODE_PLAN   ? "plan"
                       : spec->mode == AD_MODE_AUTO ? "yolo"
                                                    : "auto_edit");
    if (spec->model != NULL && spec->model[0] != '\0') {
        ad_strv_push(argv, "--model");
        ad_strv_push(argv, spec->model);
    }
    if (spec->session_id != NULL && spec->session_id[0] != '\0') {
        ad_strv_push(argv, "--resume");
        ad_strv_push(argv, spec->session_id);
    }
    /* Headless with the prompt on stdin (then closed): no size limit of an
     * argument, and nothing to wait for. */
    ad_strv_push(argv, "--prompt=");
    ad_gemini_env(spec->base_url, env);
    out->stdin_len = strlen(spec->prompt);
    out->stdin_data = ad_xstrndup(spec->prompt, out->stdin_len);
    return 0;
}

/* ---- output ---------------------------------------------------------------- */

static void on_message(ad_parser_t *p, json_t *obj, ad_recs_t *out)
{
    const char *role = ad_json_str(obj, "role");
    json_t *content = json_object_get(obj, "content");
    if (!json_is_string(content) || role == NULL || strcmp(role, "assistant") != 0) {
        return; /* the user's prompt, echoed: agentd has stored it already */
    }
    if (json_is_true(json_object_get(obj, "delta"))) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_DELTA);
        r->text = ad_xstrndup(json_string_value(content), json_string_length(content));
        ad_parser_text_add(p, json_string_value(content), json_string_length(content));
        return;
    }
    ad_parser_text_flush(p, out);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_ASSISTANT;
    r->text = ad_xstrndup(json_string_value(content), json_string_length(content));
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    r->is_complete = true;
}

static void on_tool_use(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    ad_parser_text_flush(p, out);
    const char *id = ad_json_str(obj, "tool_id");
    json_t *params = json_object_get(obj, "parameters");
    ad_tool_open(p, id, ad_json_str(obj, "tool_name"), params, now);
    ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_START);
    r->tool_id = ad_json_strdup(obj, "tool_id");
    r->tool_name = ad_json_strdup(obj, "tool_name");
    r->json = params != NULL ? json_incref(params) : json_object();
    r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_json_strdup(obj, "tool_id");
    r->tool_name = ad_json_strdup(obj, "tool_name");
    r->json = params != NULL ? json_incref(params) : json_object();
}

static void on_tool_result(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    const char *id = ad_json_str(obj, "tool_id");
    const char *status = ad_json_str(obj, "status");
    bool failed = status == NULL || strcmp(status, "success") != 0;
    open_tool_t t;
    ad_tool_end(p, id, failed, -1, now, out, &t);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = id != NULL ? ad_xstrdup(id) : NULL;
    r->tool_name = t.name;
    r->json = t.input;
    t.name = NULL;
    t.input = NULL;
    ad_open_tool_free(&t);
    /* A failed tool says why in error.message ("File not found: /path");
     * its output is the shorter text the model saw. */
    if (failed) {
        r->tool_output = ad_json_strdup(json_object_get(obj, "error"), "message");
    }
    if (r->tool_output == NULL) {
        r->tool_output = ad_json_strdup(obj, "output");
    }
    r->is_error = failed;
    r->is_complete = true;
}

/* Usage per model (stats.models): each priced on its own. The CLI lists
 * the models in the order it used them, the routing model (asked which
 * model should answer) first: the model of the result is the last one
 * that used tokens. */
static double price_models(ad_parser_t *p, json_t *models, ad_rec_t **r, ad_recs_t *out)
{
    size_t idx = (size_t)(*r - out->v);
    const char *k, *top = NULL;
    double cost = 0;
    json_t *m;
    json_object_foreach(models, k, m)
    {
        ad_usage_t u = {.input_tokens = ad_json_int(m, "input", 0),
                        .output_tokens = ad_json_int(m, "output_tokens", 0),
                        .cache_read_tokens = ad_json_int(m, "cached", 0)};
        if (ad_json_int(m, "total_tokens", 0) > 0) {
            top = k;
            cost += ad_parser_cost(p, k, &u, out);
        }
    }
    *r = &out->v[idx];
    if (top != NULL) {
        free((*r)->model);
        (*r)->model = ad_xstrdup(top);
    }
    return cost;
}

static void on_result(ad_parser_t *p, json_t *obj, ad_recs_t *out)
{
    ad_parser_text_flush(p, out);
    json_t *st = json_object_get(obj, "stats");
    const char *status = ad_json_str(obj, "status");
    ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
    r->subtype = ad_xstrdup(status != NULL ? status : "success");
    r->is_error = status != NULL && strcmp(status, "success") != 0;
    if (r->is_error) {
        json_t *e = json_object_get(obj, "error");
        r->text =
            json_is_string(e) ? ad_xstrdup(json_string_value(e)) : ad_json_strdup(e, "message");
        if (r->text == NULL) {
            r->text = ad_xstrdup(p->last_error != NULL ? p->last_error : "error");
        }
        r->api_error_status = ad_error_status_in(r->text);
    }
    r->session_id = p->session_id != NULL ? ad_xstrdup(p->session_id) : NULL;
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    /* input_tokens = cached + input (reference C). */
    int64_t total_in = ad_json_int(st, "input_tokens", 0);
    int64_t cached = ad_json_int(st, "cached", 0);
    r->usage.input_tokens = ad_json_int(st, "input", total_in - cached);
    r->usage.cache_read_tokens = cached;
    r->usage.output_tokens = ad_json_int(st, "output_tokens", 0);
    r->duration_ms = ad_json_int(st, "duration_ms", 0);
    r->num_turns = 1;
    json_t *models = json_object_get(st, "models");
    if (json_is_object(models) && json_object_size(models) > 0) {
        double cost = price_models(p, models, &r, out);
        r->cost_usd = cost;
    } else {
        ad_usage_t u = r->usage;
        size_t idx = out->n - 1;
        double cost = ad_parser_cost(p, p->model, &u, out);
        out->v[idx].cost_usd = cost;
    }
    free(p->last_error);
    p->last_error = NULL;
}

bool ad_gemini_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    const char *type = ad_json_str(obj, "type");
    if (type == NULL) {
        return false;
    }
    if (strcmp(type, "init") == 0) {
        /* "auto": the CLI picks a model per turn; the result names them. */
        const char *model = ad_json_str(obj, "model");
        bool named = model != NULL && strcmp(model, "auto") != 0;
        ad_parser_set_session(p, ad_json_str(obj, "session_id"), named ? model : NULL);
        ad_rec_t *r = ad_rec_push(out, AD_REC_SESSION);
        r->session_id = ad_json_strdup(obj, "session_id");
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    } else if (strcmp(type, "message") == 0) {
        on_message(p, obj, out);
    } else if (strcmp(type, "tool_use") == 0) {
        on_tool_use(p, obj, now, out);
    } else if (strcmp(type, "tool_result") == 0) {
        on_tool_result(p, obj, now, out);
    } else if (strcmp(type, "error") == 0) {
        const char *m = ad_json_str(obj, "message");
        const char *sev = ad_json_str(obj, "severity");
        ad_rec_notice(out, sev != NULL && strcmp(sev, "warning") == 0 ? "warning" : "error",
                      m != NULL ? m : "error", obj);
        if (m != NULL) {
            free(p->last_error);
            p->last_error = ad_xstrdup(m);
        }
    } else if (strcmp(type, "result") == 0) {
        on_result(p, obj, out);
    } else {
        return false;
    }
    return true;
}
