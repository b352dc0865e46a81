/* SPDX-License-Identifier: MIT */
/*
 * forge: a pull request's state and its checks (the combined commit status,
 * and GitHub's check runs; GitLab: the head pipeline), and the job that
 * runs create or status on the pool.
 */
#include "forge/forge_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One check's state in four words. */
const char *ad_forgex_check_state(const char *status, const char *conclusion)
{
    if (status != NULL && strcmp(status, "completed") != 0) {
        return "pending"; /* queued, in_progress */
    }
    const char *s = conclusion != NULL ? conclusion : status;
    if (s == NULL) {
        return "pending";
    }
    if (!strcmp(s, "success") || !strcmp(s, "neutral") || !strcmp(s, "skipped")) {
        return "success";
    }
    if (!strcmp(s, "pending") || !strcmp(s, "running") || !strcmp(s, "created")) {
        return "pending";
    }
    return "failure"; /* failure, error, cancelled, timed_out, action_required, failed */
}

static void add_item(json_t *items, const char *name, const char *state, const char *url)
{
    json_array_append_new(items, json_pack("{s:s, s:s, s:s?}", "name", name ? name : "check",
                                           "state", state, "url", url));
}

/* GET url's answer (new reference) when it is a 200, else NULL. Called
 * once per list: json_array_foreach evaluates its array at every turn. */
static json_t *get_ok(ad_forge_job_t *j, const char *url)
{
    json_t *a = NULL;
    if (ad_forgex_call(j, "GET", url, NULL, &a) != 200) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Every check of the PR's head commit into items. */
static void read_checks(ad_forge_job_t *j, const char *root, const char *sha, json_t *items)
{
    const ad_forge_target_t *t = &j->req.target;
    char url[2400];
    size_t i;
    json_t *v;
    if (t->kind == AD_FORGE_GITLAB) {
        snprintf(url, sizeof(url), "%s/repository/commits/%s/statuses", root, sha);
        json_t *a = get_ok(j, url);
        json_array_foreach(a, i, v)
        {
            add_item(items, json_string_value(json_object_get(v, "name")),
                     ad_forgex_check_state(NULL, json_string_value(json_object_get(v, "status"))),
                     json_string_value(json_object_get(v, "target_url")));
        }
        json_decref(a);
        return;
    }
    snprintf(url, sizeof(url), "%s/commits/%s/status", root, sha);
    json_t *a = get_ok(j, url);
    json_array_foreach(json_object_get(a, "statuses"), i, v)
    {
        add_item(items, json_string_value(json_object_get(v, "context")),
                 ad_forgex_check_state(NULL, json_string_value(json_object_get(v, "state"))),
                 json_string_value(json_object_get(v, "target_url")));
    }
    json_decref(a);
    if (t->kind != AD_FORGE_GITHUB) {
        return;
    }
    snprintf(url, sizeof(url), "%s/commits/%s/check-runs", root, sha);
    a = get_ok(j, url);
    json_array_foreach(json_object_get(a, "check_runs"), i, v)
    {
        add_item(items, json_string_value(json_object_get(v, "name")),
                 ad_forgex_check_state(json_string_value(json_object_get(v, "status")),
                                       json_string_value(json_object_get(v, "conclusion"))),
                 json_string_value(json_object_get(v, "html_url")));
    }
    json_decref(a);
}

/* failure if any failed, else pending if any runs, else success; none. */
const char *ad_forgex_overall(json_t *items)
{
    const char *st = json_array_size(items) > 0 ? "success" : "none";
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v)
    {
        const char *s = json_string_value(json_object_get(v, "state"));
        if (strcmp(s, "failure") == 0) {
            return "failure";
        }
        if (strcmp(s, "pending") == 0) {
            st = "pending";
        }
    }
    return st;
}

int ad_forgex_pr_read(ad_forge_job_t *j, char *root, size_t rootsz, json_t **pr, const char **sha)
{
    const ad_forge_target_t *t = &j->req.target;
    char url[2200];
    ad_forgex_root(t, root, rootsz);
    snprintf(url, sizeof(url), "%s/%s/%ld", root,
             t->kind == AD_FORGE_GITLAB ? "merge_requests" : "pulls", j->req.number);
    json_t *answer = NULL;
    long status = ad_forgex_call(j, "GET", url, NULL, &answer);
    if (status != 200) {
        int rc = ad_forgex_failed(j, status, answer);
        json_decref(answer);
        return rc;
    }
    *pr = ad_forgex_normalize(t, answer);
    json_decref(answer);
    *sha = json_string_value(json_object_get(*pr, "headSha"));
    if (*sha != NULL && (strspn(*sha, "0123456789abcdef") != strlen(*sha) || strlen(*sha) > 64)) {
        *sha = NULL;
    }
    return 0;
}

int ad_forgex_status(ad_forge_job_t *j)
{
    char root[2100];
    const char *sha = NULL;
    int rc = ad_forgex_pr_read(j, root, sizeof(root), &j->out, &sha);
    if (rc != 0) {
        return rc;
    }
    json_t *items = json_array();
    if (sha != NULL) {
        read_checks(j, root, sha, items);
    }
    json_object_set_new(j->out, "checks",
                        json_pack("{s:s, s:o}", "state", ad_forgex_overall(items), "items", items));
    return 0;
}

/* ---- the job ------------------------------------------------------------------------- */

static void work(uv_work_t *w)
{
    ad_forge_job_t *j = w->data;
    j->rc = j->req.op == AD_FORGE_OP_CREATE     ? ad_forgex_create(j)
            : j->req.op == AD_FORGE_OP_FEEDBACK ? ad_forgex_feedback(j)
                                                : ad_forgex_status(j);
    if (j->rc == 0 && j->out == NULL) {
        j->rc = AD_EINTERNAL;
        snprintf(j->msg, sizeof(j->msg), "the forge's answer was not understood");
    }
}

static void after(uv_work_t *w, int status)
{
    ad_forge_job_t *j = w->data;
    if (status != 0 && j->rc == 0) {
        j->rc = AD_ECLOSED;
    }
    memset(j->token, 0, sizeof(j->token));
    if (j->fcb != NULL) {
        j->fcb(j->rc, j->rc == 0 ? j->out : NULL, j->msg, j->http_status, j->retry_after_s, j->ud);
    } else {
        j->cb(j->rc, j->rc == 0 ? j->out : NULL, j->msg, j->http_status, j->ud);
    }
    json_decref(j->out);
    json_decref(j->known);
    free(j->title);
    free(j->body);
    free(j->head);
    free(j->base);
    free(j->since);
    free(j);
}

static char *dup_or_empty(const char *s)
{
    return ad_xstrdup(s != NULL ? s : "");
}

/* The job of r (copied) on the pool; cb or fcb gets its outcome. */
static int queue_job(uv_loop_t *loop, const ad_forge_req_t *r, json_t *known, ad_forge_cb cb,
                     ad_forge_feedback_cb fcb, void *ud, char *err, size_t errsz)
{
    if (!ad_llm_fetch_ready(err, errsz)) {
        return AD_EIO;
    }
    if (r->token == NULL || strlen(r->token) > AD_FORGE_TOKEN_MAX) {
        snprintf(err, errsz, "no usable token");
        return AD_EINVAL;
    }
    ad_forge_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->req = *r;
    snprintf(j->token, sizeof(j->token), "%s", r->token);
    j->req.token = NULL;
    j->req.title = j->title = dup_or_empty(r->title);
    j->req.body = j->body = dup_or_empty(r->body);
    j->req.head = j->head = dup_or_empty(r->head);
    j->req.base = j->base = dup_or_empty(r->base);
    j->req.since = j->since = r->since != NULL ? ad_xstrdup(r->since) : NULL;
    j->known = known != NULL ? json_deep_copy(known) : NULL;
    j->cb = cb;
    j->fcb = fcb;
    j->ud = ud;
    j->work.data = j;
    if (uv_queue_work(loop, &j->work, work, after) != 0) {
        memset(j->token, 0, sizeof(j->token));
        free(j->title);
        free(j->body);
        free(j->head);
        free(j->base);
        free(j->since);
        json_decref(j->known);
        free(j);
        snprintf(err, errsz, "cannot queue the request");
        return AD_EIO;
    }
    return 0;
}

int ad_forge_queue(uv_loop_t *loop, const ad_forge_req_t *r, ad_forge_cb cb, void *ud, char *err,
                   size_t errsz)
{
    return queue_job(loop, r, NULL, cb, NULL, ud, err, errsz);
}

int ad_forge_feedback(uv_loop_t *loop, const ad_forge_feedback_req_t *fr, ad_forge_feedback_cb cb,
                      void *ud, char *err, size_t errsz)
{
    ad_forge_req_t r = {.op = AD_FORGE_OP_FEEDBACK,
                        .target = fr->target,
                        .token = fr->token,
                        .number = fr->number,
                        .since = fr->since};
    return queue_job(loop, &r, fr->known, NULL, cb, ud, err, errsz);
}
