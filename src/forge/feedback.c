/* SPDX-License-Identifier: MIT */
/*
 * forge: what a pull request asks of its author (forge.h, "feedback";
 * issue #75): its checks with their ids and, for a failed one, the
 * failing job's log trimmed; and the comments made on it since a time.
 * Pool threads (blocking requests through src/llm's fetch).
 *
 * GitHub's documented endpoints: GET /repos/{o}/{r}/pulls/{n}, the
 * combined status and the check runs of the head
 * (/commits/{sha}/status, /commits/{sha}/check-runs), a job's log
 * (/actions/jobs/{id}/logs: a 302 to a pre-signed URL, fetched without the
 * token), review comments (/pulls/{n}/comments?since=) and conversation
 * comments (/issues/{n}/comments?since=).
 */
#include "forge/forge_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_READ_MAX (8 * 1024 * 1024) /* a log's bytes read at most; the tail is kept */
#define TEXT_MAX (16 * 1024)           /* a comment's or summary's bytes kept */

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* GET url's JSON answer when it is a 200, else NULL and the read fails
 * (j->sub_rc): checks half read could look passed. */
static json_t *get_ok(ad_forge_job_t *j, const char *url)
{
    json_t *a = NULL;
    long status = ad_forgex_call(j, "GET", url, NULL, &a);
    if (status != 200) {
        if (j->sub_rc == 0) {
            j->sub_rc = ad_forgex_failed(j, status, a);
        }
        json_decref(a);
        return NULL;
    }
    return a;
}

/* text[0..n) as valid UTF-8 without secret (may be ""), as a new JSON string. */
static json_t *clean(const char *secret, const char *text, size_t n)
{
    ad_buf_t b;
    ad_buf_init(&b, n * 3 + 16);
    if (ad_utf8_repair(&b, text, n) != 0 || ad_buf_append(&b, "", 1) != 0) {
        ad_buf_cleanup(&b);
        return json_string("");
    }
    char *at;
    size_t tl = strlen(secret);
    while (tl > 0 && (at = strstr(b.data, secret)) != NULL) {
        memset(at, '*', tl);
    }
    json_t *s = json_string(b.data);
    ad_buf_cleanup(&b);
    return s != NULL ? s : json_string("");
}

static json_t *clean_text(ad_forge_job_t *j, const char *text, size_t n)
{
    return clean(j->token, text, n);
}

/* A bounded copy of a forge's text (a comment, a summary). */
static json_t *short_text(ad_forge_job_t *j, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return clean_text(j, s != NULL ? s : "", n < TEXT_MAX ? n : TEXT_MAX);
}

json_t *ad_forge_log_tail(const char *log, size_t n, const char *secret)
{
    size_t lines = 0, start = n;
    while (start > 0 && n - start < AD_FORGE_LOG_MAX) {
        if (log[start - 1] == '\n' && start != n && ++lines >= AD_FORGE_LOG_LINES) {
            break;
        }
        start--;
    }
    if (n - start >= AD_FORGE_LOG_MAX) { /* past the bytes: from the next line on */
        const char *nl = memchr(log + start, '\n', n - start);
        start = nl != NULL && (size_t)(nl - log) + 1 < n ? (size_t)(nl - log) + 1 : start;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += log[i] == '\n';
    }
    json_t *tail = clean(secret, log + start, n - start);
    if (start == 0) {
        return tail;
    }
    char note[160];
    snprintf(note, sizeof(note), "[log trimmed: its last %zu lines of %zu are below]\n",
             lines > 0 ? lines : 1, total);
    json_t *s = json_sprintf("%s%s", note, json_string_value(tail));
    json_decref(tail);
    return s;
}

/* A GitHub Actions job's log: 302 to a pre-signed URL (fetched without the
 * token), or the text itself. NULL when the forge gives none. */
static json_t *job_log(ad_forge_job_t *j, const char *root, json_int_t id)
{
    char url[2400];
    snprintf(url, sizeof(url), "%s/actions/jobs/%lld/logs", root, (long long)id);
    ad_buf_t b;
    ad_buf_init(&b, LOG_READ_MAX);
    long st = ad_forgex_call_raw(j, "GET", url, NULL, true, &b);
    if (st >= 300 && st < 400 && j->meta.location[0] != '\0' &&
        (strncmp(j->meta.location, "https://", 8) == 0 ||
         strncmp(j->meta.location, "http://", 7) == 0)) {
        char where[sizeof(j->meta.location)];
        snprintf(where, sizeof(where), "%s", j->meta.location);
        ad_buf_cleanup(&b);
        ad_buf_init(&b, LOG_READ_MAX);
        st = ad_forgex_call_raw(j, "GET", where, NULL, false, &b);
    }
    json_t *out = NULL;
    if (st == 200 && b.len > 0) {
        out = ad_forge_log_tail(b.data, b.len, j->token);
    }
    ad_buf_cleanup(&b);
    return out;
}

static bool known(ad_forge_job_t *j, const char *forge_id)
{
    size_t i;
    json_t *v;
    json_array_foreach(j->known, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), forge_id) == 0) {
            return true;
        }
    }
    return false;
}

static json_t *item(const char *forge_id, const char *name, const char *state, const char *url)
{
    return json_pack("{s:s, s:s, s:s, s:s?}", "forgeId", forge_id, "name", name ? name : "check",
                     "state", state, "url", url);
}

/* The commit statuses (GitHub, Gitea: context; GitLab: name). */
static void read_statuses(ad_forge_job_t *j, const char *root, const char *sha, json_t *items)
{
    bool gl = j->req.target.kind == AD_FORGE_GITLAB;
    char url[2400];
    snprintf(url, sizeof(url), gl ? "%s/repository/commits/%s/statuses" : "%s/commits/%s/status",
             root, sha);
    json_t *a = get_ok(j, url);
    json_t *list = gl ? a : json_object_get(a, "statuses");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        char fid[64];
        snprintf(fid, sizeof(fid), "status:%lld",
                 (long long)json_integer_value(json_object_get(v, "id")));
        const char *state = ad_forgex_check_state(NULL, jstr(v, gl ? "status" : "state"));
        json_t *it = item(fid, jstr(v, gl ? "name" : "context"), state, jstr(v, "target_url"));
        if (jstr(v, "description") != NULL) {
            json_object_set_new(it, "detail", short_text(j, jstr(v, "description")));
        }
        json_array_append_new(items, it);
    }
    json_decref(a);
}

/* A failed check run's why: its job's log (Actions), else its output. */
static void run_detail(ad_forge_job_t *j, const char *root, json_t *v, json_t *it, int *logs)
{
    json_t *out = json_object_get(v, "output");
    const char *app = jstr(json_object_get(v, "app"), "slug");
    json_t *log = NULL;
    if ((app == NULL || strcmp(app, "github-actions") == 0) && *logs < AD_FORGE_LOGS_MAX) {
        (*logs)++;
        log = job_log(j, root, json_integer_value(json_object_get(v, "id")));
    }
    if (log != NULL) {
        json_object_set_new(it, "log", log);
    }
    const char *parts[] = {jstr(out, "title"), jstr(out, "summary"), jstr(out, "text")};
    char text[TEXT_MAX];
    size_t o = 0;
    for (size_t k = 0; k < AD_ARRAY_LEN(parts) && o + 2 < sizeof(text); k++) {
        if (parts[k] != NULL && parts[k][0] != '\0') {
            int w = snprintf(text + o, sizeof(text) - o, "%s%s", o > 0 ? "\n" : "", parts[k]);
            o = w < 0 ? o : o + (size_t)w < sizeof(text) ? o + (size_t)w : sizeof(text) - 1;
        }
    }
    if (o > 0) {
        json_object_set_new(it, "detail", clean_text(j, text, o));
    }
}

/* GitHub's check runs of the head, with the why of new failures. */
static void read_check_runs(ad_forge_job_t *j, const char *root, const char *sha, json_t *items)
{
    char url[2400];
    snprintf(url, sizeof(url), "%s/commits/%s/check-runs?per_page=100", root, sha);
    json_t *a = get_ok(j, url);
    size_t i;
    json_t *v;
    int logs = 0;
    json_array_foreach(json_object_get(a, "check_runs"), i, v)
    {
        char fid[64];
        snprintf(fid, sizeof(fid), "run:%lld",
                 (long long)json_integer_value(json_object_get(v, "id")));
        const char *state = ad_forgex_check_state(jstr(v, "status"), jstr(v, "conclusion"));
        json_t *it = item(fid, jstr(v, "name"), state, jstr(v, "html_url"));
        if (strcmp(state, "failure") == 0 && !known(j, fid)) {
            run_detail(j, root, v, it, &logs);
        }
        json_array_append_new(items, it);
    }
    json_decref(a);
}

/* A comment made or edited since the request's time (a forge that does
 * not filter by since is filtered here; the times are RFC 3339 UTC). */
static bool recent(ad_forge_job_t *j, json_t *c)
{
    const char *t = jstr(c, "updated_at") != NULL ? jstr(c, "updated_at") : jstr(c, "created_at");
    return j->req.since == NULL || t == NULL || strncmp(t, j->req.since, 19) >= 0;
}

/* GitHub says how a comment's author stands to the repository: only its
 * owner, members and collaborators direct the agent (on a public
 * repository anyone may comment). Forges that do not say are trusted as
 * their own access control has it. */
static bool trusted(json_t *c)
{
    const char *a = jstr(c, "author_association");
    return a == NULL || strcmp(a, "OWNER") == 0 || strcmp(a, "MEMBER") == 0 ||
           strcmp(a, "COLLABORATOR") == 0;
}

static void read_comments(ad_forge_job_t *j, const char *url, const char *prefix, const char *kind,
                          json_t *out)
{
    json_t *a = get_ok(j, url);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_true(json_object_get(v, "system")) || !recent(j, v) || !trusted(v)) {
            continue; /* GitLab's notes of events; a stranger's words */
        }
        char fid[64];
        snprintf(fid, sizeof(fid), "%s:%lld", prefix,
                 (long long)json_integer_value(json_object_get(v, "id")));
        json_t *user =
            json_object_get(v, j->req.target.kind == AD_FORGE_GITLAB ? "author" : "user");
        const char *who = jstr(user, j->req.target.kind == AD_FORGE_GITLAB ? "username" : "login");
        json_t *pos = json_object_get(v, "position"); /* GitLab's DiffNote */
        json_t *line = json_object_get(pos != NULL ? pos : v, pos != NULL ? "new_line" : "line");
        if (!json_is_integer(line)) {
            line = json_object_get(v, "original_line");
        }
        const char *path = pos != NULL ? jstr(pos, "new_path") : jstr(v, "path");
        json_t *c = json_pack("{s:s, s:s, s:s, s:o, s:s?, s:O?, s:s?, s:s?}", "forgeId", fid,
                              "kind", kind, "author", who != NULL ? who : "someone", "body",
                              short_text(j, jstr(v, "body")), "path", path, "line",
                              json_is_integer(line) ? line : NULL, "url", jstr(v, "html_url"),
                              "createdAt", jstr(v, "created_at"));
        if (c != NULL) {
            json_array_append_new(out, c);
        }
    }
    json_decref(a);
}

static void all_comments(ad_forge_job_t *j, const char *root, json_t *out)
{
    const ad_forge_target_t *t = &j->req.target;
    char url[2600], since[80] = "";
    if (j->req.since != NULL && strspn(j->req.since, "0123456789-:.TZ") == strlen(j->req.since) &&
        strlen(j->req.since) < 40) {
        snprintf(since, sizeof(since), "&since=%s", j->req.since);
    }
    if (t->kind == AD_FORGE_GITLAB) {
        snprintf(url, sizeof(url), "%s/merge_requests/%ld/notes?per_page=100&sort=asc", root,
                 j->req.number);
        read_comments(j, url, "note", "comment", out);
        return;
    }
    if (t->kind == AD_FORGE_GITHUB) {
        snprintf(url, sizeof(url), "%s/pulls/%ld/comments?per_page=100%s", root, j->req.number,
                 since);
        read_comments(j, url, "review", "review", out);
    }
    snprintf(url, sizeof(url), "%s/issues/%ld/comments?per_page=100%s", root, j->req.number, since);
    read_comments(j, url, "comment", "comment", out);
}

int ad_forgex_feedback(ad_forge_job_t *j)
{
    char root[2100];
    json_t *pr = NULL;
    const char *sha = NULL;
    int rc = ad_forgex_pr_read(j, root, sizeof(root), &pr, &sha);
    if (rc != 0) {
        return rc;
    }
    json_t *items = json_array(), *comments = json_array();
    if (sha != NULL) {
        read_statuses(j, root, sha, items);
        if (j->req.target.kind == AD_FORGE_GITHUB) {
            read_check_runs(j, root, sha, items);
        }
    }
    all_comments(j, root, comments);
    if (j->sub_rc != 0) {
        json_decref(pr);
        json_decref(items);
        json_decref(comments);
        return j->sub_rc;
    }
    j->out = json_pack("{s:o, s:{s:s, s:o}, s:o}", "pr", pr, "checks", "state",
                       ad_forgex_overall(items), "items", items, "comments", comments);
    return 0;
}
