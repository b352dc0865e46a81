/* SPDX-License-Identifier: MIT */
/*
 * forge: the REST calls of a pull request (create, read with its checks)
 * on GitHub, Gitea/Forgejo (GitHub's shapes, "token" auth, no check runs)
 * and GitLab (merge requests), answers normalized to one shape. Pool
 * threads (blocking requests through src/llm's fetch).
 */
#include "forge/forge_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (4 * 1024 * 1024)

/* Percent-encodes s (all but unreserved characters) into out. */
static void url_encode(const char *s, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s != '\0' && o + 4 < outsz; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* The repository's API root: {base}/repos/{o}/{r} or {base}/projects/{id}. */
void ad_forgex_root(const ad_forge_target_t *t, char *out, size_t outsz)
{
    if (t->kind == AD_FORGE_GITLAB) {
        char path[400], enc[1200];
        snprintf(path, sizeof(path), "%s/%s", t->owner, t->repo);
        url_encode(path, enc, sizeof(enc));
        snprintf(out, outsz, "%s/projects/%s", t->api_base, enc);
    } else {
        snprintf(out, outsz, "%s/repos/%s/%s", t->api_base, t->owner, t->repo);
    }
}

/* The forge's words for a failure, without the token, at most 300 bytes. */
static void forge_message(ad_forge_job_t *j, json_t *answer, long status)
{
    const char *m = json_string_value(json_object_get(answer, "message"));
    json_t *errs = json_object_get(answer, "errors");
    const char *detail = json_string_value(json_object_get(json_array_get(errs, 0), "message"));
    if (m == NULL && json_is_array(json_object_get(answer, "message"))) {
        m = json_string_value(json_array_get(json_object_get(answer, "message"), 0));
    }
    snprintf(j->msg, sizeof(j->msg), "the forge answered %ld%s%s%s%s", status, m ? ": " : "",
             m ? m : "", detail ? ": " : "", detail ? detail : "");
    char *at;
    while (j->token[0] != '\0' && (at = strstr(j->msg, j->token)) != NULL) {
        memset(at, '*', strlen(j->token));
    }
}

/* One request, its answer's body into b (at most b's cap), with the
 * token (auth) or without (a pre-signed URL a redirect named). The HTTP
 * status, or -1 when the forge could not be reached (j->msg says why).
 * The rate limit the forge says goes into j->retry_after_s. */
long ad_forgex_call_raw(ad_forge_job_t *j, const char *method, const char *url, json_t *body,
                        bool auth_on, ad_buf_t *b)
{
    const ad_forge_target_t *t = &j->req.target;
    char auth[AD_FORGE_TOKEN_MAX + 40];
    if (t->kind == AD_FORGE_GITLAB) {
        snprintf(auth, sizeof(auth), "PRIVATE-TOKEN: %s", j->token);
    } else {
        snprintf(auth, sizeof(auth), "Authorization: %s %s",
                 t->kind == AD_FORGE_GITHUB ? "Bearer" : "token", j->token);
    }
    /* without the token, the header list starts after it */
    const char *all[] = {auth,
                         "Accept: application/json",
                         "Content-Type: application/json",
                         "User-Agent: agentd",
                         "X-GitHub-Api-Version: 2022-11-28",
                         NULL};
    const char *const *headers = auth_on ? all : all + 1;
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    ad_fetch_t f = {
        .method = method, .url = url, .headers = headers, .body = text, .meta = &j->meta};
    long status = 0;
    char err[256];
    if (ad_llm_fetch(&f, &status, b, err, sizeof(err)) != 0) {
        snprintf(j->msg, sizeof(j->msg), "cannot reach the forge: %s", err);
        status = -1;
    } else if (status == 429 || (status == 403 && j->meta.ratelimit_remaining == 0)) {
        /* Retry-After, else until X-RateLimit-Reset (at least 1 s), else a minute */
        long wait = 60;
        if (j->meta.retry_after_s >= 0) {
            wait = j->meta.retry_after_s;
        } else if (j->meta.ratelimit_reset > 0) {
            wait = j->meta.ratelimit_reset - (long)(ad_wall_ms() / 1000);
        }
        j->retry_after_s = wait > 0 ? wait : 1;
    }
    memset(auth, 0, sizeof(auth));
    free(text);
    return status;
}

/* One request; its JSON answer into *out (NULL when none parsed). The
 * HTTP status, or -1 when the forge could not be reached. */
long ad_forgex_call(ad_forge_job_t *j, const char *method, const char *url, json_t *body,
                    json_t **out)
{
    ad_buf_t b;
    ad_buf_init(&b, ANSWER_MAX);
    *out = NULL;
    long status = ad_forgex_call_raw(j, method, url, body, true, &b);
    if (status >= 0 && b.len > 0) {
        *out = json_loadb(b.data, b.len, 0, NULL);
    }
    ad_buf_cleanup(&b);
    return status;
}

/* The rc of an HTTP status that is no success (the message set). */
int ad_forgex_failed(ad_forge_job_t *j, long status, json_t *answer)
{
    j->http_status = (int)status;
    if (status < 0) {
        return AD_EIO;
    }
    forge_message(j, answer, status);
    if (status >= 300 && status < 400) {
        return AD_EINTERNAL; /* a redirect is not followed: the token stays here */
    }
    switch (status) {
    case 401:
    case 403:
        return AD_EPERM;
    case 404:
        return AD_ENOENT;
    case 409:
    case 422:
        return AD_ESTATE;
    default:
        return AD_EIO;
    }
}

json_t *ad_forgex_normalize(const ad_forge_target_t *t, json_t *p)
{
    bool gl = t->kind == AD_FORGE_GITLAB;
    const char *state = json_string_value(json_object_get(p, "state"));
    const char *st = "open";
    if (json_is_true(json_object_get(p, "merged")) ||
        json_is_string(json_object_get(p, "merged_at")) || (state && !strcmp(state, "merged"))) {
        st = "merged";
    } else if (state != NULL && (strcmp(state, "closed") == 0 || strcmp(state, "locked") == 0)) {
        st = "closed";
    }
    json_t *head = json_object_get(p, "head"), *base = json_object_get(p, "base");
    return json_pack(
        "{s:s, s:I, s:s?, s:s, s:b, s:s?, s:s?, s:s?, s:s?}", "forge", ad_forge_kind_name(t->kind),
        "number", json_integer_value(json_object_get(p, gl ? "iid" : "number")), "url",
        json_string_value(json_object_get(p, gl ? "web_url" : "html_url")), "state", st, "draft",
        json_is_true(json_object_get(p, gl ? "draft" : "draft")), "title",
        json_string_value(json_object_get(p, "title")), "head",
        json_string_value(gl ? json_object_get(p, "source_branch") : json_object_get(head, "ref")),
        "base",
        json_string_value(gl ? json_object_get(p, "target_branch") : json_object_get(base, "ref")),
        "headSha",
        json_string_value(gl ? json_object_get(p, "sha") : json_object_get(head, "sha")));
}

/* An open pull request of head, found after the forge said one exists. */
static int find_open(ad_forge_job_t *j, const char *root)
{
    const ad_forge_target_t *t = &j->req.target;
    char url[3400], enc[600], q[700];
    bool gl = t->kind == AD_FORGE_GITLAB;
    if (gl) {
        url_encode(j->req.head, enc, sizeof(enc));
        snprintf(url, sizeof(url), "%s/merge_requests?state=opened&source_branch=%s", root, enc);
    } else {
        snprintf(q, sizeof(q), "%s:%s", t->owner, j->req.head);
        url_encode(q, enc, sizeof(enc));
        snprintf(url, sizeof(url), "%s/pulls?state=open&head=%s", root, enc);
    }
    json_t *list = NULL;
    long status = ad_forgex_call(j, "GET", url, NULL, &list);
    int rc = AD_ESTATE;
    size_t i;
    json_t *p;
    json_array_foreach(status == 200 ? list : NULL, i, p)
    {
        const char *ref =
            json_string_value(gl ? json_object_get(p, "source_branch")
                                 : json_object_get(json_object_get(p, "head"), "ref"));
        if (ref != NULL && strcmp(ref, j->req.head) == 0) {
            j->out = ad_forgex_normalize(t, p);
            json_object_set_new(j->out, "existing", json_true());
            rc = 0;
            break;
        }
    }
    json_decref(list);
    return rc;
}

int ad_forgex_create(ad_forge_job_t *j)
{
    const ad_forge_target_t *t = &j->req.target;
    char root[2100], url[2200], title[600];
    ad_forgex_root(t, root, sizeof(root));
    bool gl = t->kind == AD_FORGE_GITLAB, gh = t->kind == AD_FORGE_GITHUB;
    snprintf(title, sizeof(title), "%s%s", j->req.draft && !gh ? (gl ? "Draft: " : "WIP: ") : "",
             j->req.title);
    json_t *body;
    if (gl) {
        snprintf(url, sizeof(url), "%s/merge_requests", root);
        body = json_pack("{s:s, s:s, s:s, s:s}", "source_branch", j->req.head, "target_branch",
                         j->req.base, "title", title, "description", j->req.body);
    } else {
        snprintf(url, sizeof(url), "%s/pulls", root);
        body = json_pack("{s:s, s:s, s:s, s:s}", "title", title, "body", j->req.body, "head",
                         j->req.head, "base", j->req.base);
        if (gh) {
            json_object_set_new(body, "draft", json_boolean(j->req.draft));
        }
    }
    json_t *answer = NULL;
    long status = ad_forgex_call(j, "POST", url, body, &answer);
    json_decref(body);
    int rc = 0;
    if (status == 201 || status == 200) {
        j->out = ad_forgex_normalize(t, answer);
        json_object_set_new(j->out, "existing", json_false());
    } else {
        rc = ad_forgex_failed(j, status, answer);
        /* GitHub says 422 "already exists", Gitea and GitLab 409. */
        if (rc == AD_ESTATE && find_open(j, root) == 0) {
            rc = 0;
        }
    }
    json_decref(answer);
    return rc;
}
