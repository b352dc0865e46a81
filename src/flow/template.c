/* SPDX-License-Identifier: MIT */
/*
 * A workflow's steps checked (their ids, needs, prompts and agents), the
 * spec kept of a request, and a step's prompt rendered: {{input}} and
 * {{steps.<id>.output}}, nothing else (no expressions, no loops); a
 * template may name only steps it needs, so every value it uses is there
 * when it runs.
 */
#include "flow/flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n >= 1 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool in_list(const json_t *ids, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)ids, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), id) == 0) {
            return true;
        }
    }
    return false;
}

/* The reference inside {{ }} of length n: "input" or a step id (copied
 * into step). false for anything else. */
static bool parse_ref(const char *p, size_t n, char step[33], bool *is_input)
{
    static const char pre[] = "steps.", post[] = ".output";
    while (n > 0 && *p == ' ') {
        p++, n--;
    }
    while (n > 0 && p[n - 1] == ' ') {
        n--;
    }
    *is_input = n == 5 && memcmp(p, "input", 5) == 0;
    if (*is_input) {
        return true;
    }
    size_t lp = sizeof(pre) - 1, lo = sizeof(post) - 1;
    if (n <= lp + lo || memcmp(p, pre, lp) != 0 || memcmp(p + n - lo, post, lo) != 0 ||
        n - lp - lo > 32) {
        return false;
    }
    memcpy(step, p + lp, n - lp - lo);
    step[n - lp - lo] = '\0';
    return id_ok(step);
}

/* Walks tmpl's references: each is checked against needs (when not NULL)
 * or appended with its value to out (when not NULL). false on a bad one. */
static bool walk(const char *tmpl, const json_t *needs, const char *input, const json_t *state,
                 ad_buf_t *out)
{
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        size_t lit = open != NULL ? (size_t)(open - p) : strlen(p);
        if (out != NULL && ad_buf_append(out, p, lit) != 0) {
            return false;
        }
        if (open == NULL) {
            return true;
        }
        const char *close = strstr(open + 2, "}}");
        char step[33] = "";
        bool is_input = false;
        if (close == NULL || !parse_ref(open + 2, (size_t)(close - open - 2), step, &is_input) ||
            (needs != NULL && !is_input && !in_list(needs, step))) {
            return false;
        }
        if (out != NULL) {
            const char *v =
                is_input ? input
                         : json_string_value(json_object_get(
                               json_object_get(json_object_get(state, "steps"), step), "output"));
            if (v != NULL && ad_buf_append(out, v, strlen(v)) != 0) {
                return false;
            }
        }
        p = close + 2;
    }
}

int ad_flow_check(const json_t *steps, char *field, size_t fieldsz, char *why, size_t whysz)
{
    size_t n = json_array_size(steps);
    if (!json_is_array(steps) || n == 0 || n > AD_FLOW_STEPS_MAX) {
        snprintf(field, fieldsz, "steps");
        snprintf(why, whysz, "must be an array of 1 to %d steps", AD_FLOW_STEPS_MAX);
        return AD_EINVAL;
    }
    json_t *seen = json_array(), *none = json_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *s = json_array_get(steps, i), *needs = json_object_get(s, "needs");
        const char *id = json_string_value(json_object_get(s, "id"));
        const char *prompt = json_string_value(json_object_get(s, "prompt"));
        const char *bad = NULL, *msg = NULL;
        if (!json_is_object(s)) {
            bad = "", msg = "must be an object";
        } else if (!id_ok(id)) {
            bad = ".id", msg = "must be 1 to 32 of a-z, 0-9, _ and -";
        } else if (in_list(seen, id)) {
            bad = ".id", msg = "is used by an earlier step";
        } else if (needs != NULL && !json_is_array(needs)) {
            bad = ".needs", msg = "must be an array of step ids";
        } else if (prompt == NULL || strlen(prompt) > AD_FLOW_PROMPT_MAX) {
            bad = ".prompt", msg = "must be a string of at most 256 KiB";
        }
        size_t k;
        json_t *v;
        json_array_foreach(needs, k, v)
        {
            if (bad == NULL && (!json_is_string(v) || !in_list(seen, json_string_value(v)))) {
                bad = ".needs", msg = "names a step that is not before this one";
            }
        }
        if (bad == NULL && !walk(prompt, needs != NULL ? needs : none, NULL, NULL, NULL)) {
            bad = ".prompt",
            msg = "may use only {{input}} and {{steps.<id>.output}} of a step it needs";
        }
        if (bad != NULL) {
            snprintf(field, fieldsz, "steps[%zu]%s", i, bad);
            snprintf(why, whysz, "%s", msg);
            rc = AD_EINVAL;
        } else {
            json_array_append_new(seen, json_string(id));
        }
    }
    json_decref(seen);
    json_decref(none);
    return rc;
}

char *ad_flow_render(const char *tmpl, const char *input, const json_t *state)
{
    ad_buf_t b;
    ad_buf_init(&b, AD_FLOW_PROMPT_MAX + AD_FLOW_STEPS_MAX * AD_FLOW_OUTPUT_MAX);
    if (!walk(tmpl, NULL, input != NULL ? input : "", state, &b)) {
        ad_buf_cleanup(&b);
        return NULL;
    }
    return b.data != NULL ? b.data : ad_xstrdup(""); /* the buffer's memory is the caller's */
}

int ad_flow_check_agents(json_t *steps, char *field, size_t fieldsz, char *why, size_t whysz)
{
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        json_t *agent = json_object_get(s, "agent");
        json_t *def = json_object_get(s, "definition");
        snprintf(field, fieldsz, "steps[%zu].%s", i, def != NULL ? "definition" : "agent");
        if ((agent != NULL && !json_is_object(agent)) || (def != NULL && !json_is_string(def)) ||
            (agent == NULL && def == NULL)) {
            snprintf(why, whysz, "each step needs an agent object or a definition");
            return AD_EINVAL;
        }
        if (agent == NULL) {
            json_object_set_new(s, "agent", json_object());
        }
        if (json_object_get(json_object_get(s, "agent"), "worktreeId") != NULL) {
            snprintf(field, fieldsz, "steps[%zu].agent.worktreeId", i);
            snprintf(why, whysz, "is the workflow's (worktreeId at the top)");
            return AD_EINVAL;
        }
    }
    return 0;
}

json_t *ad_flow_spec(const json_t *body, json_t **state)
{
    json_t *steps = json_array(), *st = json_object();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(body, "steps"), i, s)
    {
        json_t *needs = json_object_get(s, "needs");
        const char *id = json_string_value(json_object_get(s, "id"));
        json_array_append_new(steps,
                              json_pack("{s:s, s:o, s:s}", "id", id, "needs",
                                        needs != NULL ? json_incref(needs) : json_array(), "prompt",
                                        json_string_value(json_object_get(s, "prompt"))));
        json_object_set_new(st, id, json_pack("{s:s}", "status", "pending"));
    }
    *state = json_pack("{s:o}", "steps", st);
    const char *input = json_string_value(json_object_get(body, "input"));
    return json_pack("{s:s, s:O?, s:o}", "input", input != NULL ? input : "", "budgetUsd",
                     json_object_get(body, "budgetUsd"), "steps", steps);
}

int ad_flow_body_check(json_t *body, ad_field_err_t *e)
{
    const char *name = NULL, *wt = NULL, *input = NULL;
    json_t *budget = json_object_get(body, "budgetUsd");
    if (ad_field_str(body, "name", true, 200, &name, e) != 0 ||
        ad_field_str(body, "worktreeId", true, AD_ID_MAX, &wt, e) != 0 ||
        ad_field_str(body, "input", false, AD_FLOW_PROMPT_MAX, &input, e) != 0) {
        return AD_EINVAL;
    }
    if (budget != NULL && (!json_is_number(budget) || json_number_value(budget) <= 0)) {
        return ad_field_fail(e, "budgetUsd", "must be a positive number (USD)");
    }
    json_t *steps = json_object_get(body, "steps");
    if (ad_flow_check(steps, e->field, sizeof(e->field), e->why, sizeof(e->why)) != 0 ||
        ad_flow_check_agents(steps, e->field, sizeof(e->field), e->why, sizeof(e->why)) != 0) {
        return AD_EINVAL;
    }
    return 0;
}

json_t *ad_flow_insert_args(const json_t *body, const char *org)
{
    char id[AD_ID_MAX], crew[AD_ID_MAX];
    ad_id_new("wf", id);
    ad_id_new("crew", crew);
    json_t *state = NULL;
    json_t *spec = ad_flow_spec(body, &state);
    return json_pack("{s:s, s:s, s:s, s:O, s:o, s:o, s:I, s:[]}", "id", id, "orgId", org, "crewId",
                     crew, "name", json_object_get(body, "name"), "spec", spec, "state", state,
                     "now", (json_int_t)ad_wall_ms(), "agents");
}

json_t *ad_flow_step_agent(const json_t *args, const json_t *body, size_t index)
{
    json_t *step = json_array_get(json_object_get(body, "steps"), index);
    json_t *agent = json_deep_copy(json_object_get(step, "agent"));
    if (json_object_get(agent, "name") == NULL) {
        char name[300];
        snprintf(name, sizeof(name), "%s/%s", json_string_value(json_object_get(args, "name")),
                 json_string_value(json_object_get(step, "id")));
        json_object_set_new(agent, "name", json_string(name));
    }
    json_object_del(agent, "crewId"); /* the workflow's, made with it */
    return agent;
}

void ad_flow_add_agent(json_t *args, const json_t *body, size_t index, json_t *agent)
{
    json_t *step = json_array_get(json_object_get(body, "steps"), index);
    json_object_set_new(agent, "crewId",
                        json_string(json_string_value(json_object_get(args, "crewId"))));
    json_object_set_new(json_object_get(json_object_get(json_object_get(args, "state"), "steps"),
                                        json_string_value(json_object_get(step, "id"))),
                        "agentId", json_string(json_string_value(json_object_get(agent, "id"))));
    json_array_append_new(json_object_get(args, "agents"), agent);
}
