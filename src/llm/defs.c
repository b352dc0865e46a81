/* SPDX-License-Identifier: MIT */
/*
 * Agent definitions: markdown files whose YAML front matter (libyaml)
 * names the agent and whose body is its system prompt, the format of
 * Claude Code's own subagent files (.claude/agents). Parsing, BM25 ranking, and the
 * folder scan run on the thread pool (every request reads the folders
 * again, so a changed file is seen at once). Which folders an organisation
 * may see is the caller's business (src/api/defs.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "llm/llm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define DEF_FILE_MAX (256 * 1024)
#define DEF_FILES_MAX 1000
#define YAML_DEPTH_MAX 16

/* ---- YAML front matter into JSON -------------------------------------------------------- */

static json_t *yaml_node(yaml_parser_t *p, yaml_event_t *first, int depth, int *err);

static json_t *yaml_scalar(const yaml_event_t *e)
{
    return json_stringn((const char *)e->data.scalar.value, e->data.scalar.length);
}

/* The events after a MAPPING_START or SEQUENCE_START up to its end. */
static json_t *yaml_container(yaml_parser_t *p, bool mapping, int depth, int *err)
{
    json_t *out = mapping ? json_object() : json_array();
    json_t *key = NULL;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e)) {
            *err = 1;
            break;
        }
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        json_t *v = yaml_node(p, &e, depth + 1, err);
        yaml_event_delete(&e);
        if (*err) {
            json_decref(v);
            break;
        }
        if (!mapping) {
            json_array_append_new(out, v);
        } else if (key == NULL) {
            key = v;
        } else {
            if (json_is_string(key)) {
                json_object_set_new(out, json_string_value(key), v);
            } else {
                json_decref(v);
            }
            json_decref(key);
            key = NULL;
        }
    }
    json_decref(key);
    return out;
}

static json_t *yaml_node(yaml_parser_t *p, yaml_event_t *first, int depth, int *err)
{
    if (depth > YAML_DEPTH_MAX) {
        *err = 1;
        return NULL;
    }
    switch (first->type) {
    case YAML_SCALAR_EVENT:
        return yaml_scalar(first);
    case YAML_MAPPING_START_EVENT:
        return yaml_container(p, true, depth, err);
    case YAML_SEQUENCE_START_EVENT:
        return yaml_container(p, false, depth, err);
    default:
        return json_null(); /* aliases are not followed */
    }
}

/* The front matter as a JSON object, or NULL with a reason in why. */
static json_t *yaml_front(const char *text, size_t len, char *why, size_t whysz)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    json_t *root = NULL;
    int err = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            err = 1;
            break;
        }
        bool end = e.type == YAML_STREAM_END_EVENT;
        if (root == NULL && (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SCALAR_EVENT ||
                             e.type == YAML_SEQUENCE_START_EVENT)) {
            root = yaml_node(&p, &e, 0, &err);
        }
        yaml_event_delete(&e);
        if (end || err) {
            break;
        }
    }
    if (err) {
        snprintf(why, whysz, "bad YAML front matter: %s at line %zu",
                 p.problem != NULL ? p.problem : "too deeply nested", p.problem_mark.line + 2);
        json_decref(root);
        root = NULL;
    } else if (!json_is_object(root)) {
        snprintf(why, whysz, "the front matter is not a mapping of fields");
        json_decref(root);
        root = NULL;
    }
    yaml_parser_delete(&p);
    return root;
}

/* ---- a definition ------------------------------------------------------------------------ */

/* "a, b" or [a, b] into ["a", "b"] (new reference). */
static json_t *str_list(json_t *v)
{
    json_t *out = json_array();
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (json_is_string(x)) {
                json_array_append(out, x);
            }
        }
        return out;
    }
    const char *s = json_string_value(v);
    while (s != NULL && *s != '\0') {
        const char *end = strchr(s, ',');
        size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
        while (n > 0 && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1])) {
            n--;
        }
        if (n > 0) {
            json_array_append_new(out, json_stringn(s, n));
        }
        s = end != NULL ? end + 1 : NULL;
    }
    return out;
}

static void take_fields(json_t *def, json_t *front)
{
    static const char *const strs[] = {"name",    "category", "description", "model",
                                       "version", "author",   "tier",        "color"};
    static const char *const lists[] = {"capabilities", "tools", "tags"};
    for (size_t i = 0; i < AD_ARRAY_LEN(strs); i++) {
        json_t *v = json_object_get(front, strs[i]);
        if (json_is_string(v) && json_string_length(v) > 0) {
            json_object_set(def, strs[i], v);
        }
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(lists); i++) {
        json_object_set_new(def, lists[i], str_list(json_object_get(front, lists[i])));
    }
    const char *tier = json_string_value(json_object_get(def, "tier"));
    if (tier != NULL && strcmp(tier, "fast") != 0 && strcmp(tier, "balanced") != 0 &&
        strcmp(tier, "thorough") != 0) {
        json_object_set_new(def, "error", json_string("tier must be fast, balanced or thorough"));
    }
}

json_t *ad_def_parse(const char *text, size_t len, const char *fallback_name)
{
    json_t *def = json_pack("{s:s}", "name", fallback_name);
    char why[256] = "";
    const char *body = NULL;
    if (len < 4 || memcmp(text, "---", 3) != 0 || (text[3] != '\n' && text[3] != '\r')) {
        snprintf(why, sizeof(why), "no YAML front matter (the file must start with ---)");
    } else {
        const char *start = text + (text[3] == '\r' ? 5 : 4);
        const char *end = NULL;
        for (const char *q = start; q != NULL && q < text + len;) {
            size_t left = (size_t)(text + len - q); /* text need not end in NUL */
            if (left >= 3 && memcmp(q, "---", 3) == 0 &&
                (left == 3 || q[3] == '\n' || q[3] == '\r')) {
                end = q;
                break;
            }
            q = memchr(q, '\n', (size_t)(text + len - q));
            q = q != NULL ? q + 1 : NULL;
        }
        if (end == NULL) {
            snprintf(why, sizeof(why), "the front matter has no closing ---");
        } else {
            json_t *front = yaml_front(start, (size_t)(end - start), why, sizeof(why));
            if (front != NULL) {
                take_fields(def, front);
                json_decref(front);
            }
            body = memchr(end, '\n', (size_t)(text + len - end));
            body = body != NULL ? body + 1 : text + len;
        }
    }
    if (why[0] != '\0') {
        json_object_set_new(def, "error", json_string(why));
    }
    if (body != NULL) {
        while (body < text + len && (*body == '\n' || *body == '\r')) {
            body++;
        }
        json_object_set_new(def, "systemPrompt", json_stringn(body, (size_t)(text + len - body)));
    }
    return def;
}

/* ---- ranking (BM25) ------------------------------------------------------------------------ */

#define TERMS_MAX 256

typedef struct {
    char w[TERMS_MAX][32];
    size_t n;
} terms_t;

static bool stopword(const char *w)
{
    static const char *const stop[] = {"a",   "an",  "and", "the", "to",   "of",   "for",
                                       "in",  "on",  "is",  "it",  "me",   "my",   "with",
                                       "can", "you", "i",   "be",  "this", "that", "please"};
    for (size_t i = 0; i < AD_ARRAY_LEN(stop); i++) {
        if (strcmp(w, stop[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void tokenize(const char *s, terms_t *t)
{
    while (s != NULL && *s != '\0' && t->n < TERMS_MAX) {
        while (*s != '\0' && !isalnum((unsigned char)*s)) {
            s++;
        }
        size_t n = 0;
        char w[32];
        while (isalnum((unsigned char)*s)) {
            if (n < sizeof(w) - 1) {
                w[n++] = (char)tolower((unsigned char)*s);
            }
            s++;
        }
        /* The plainest stemming: "tests" finds "test", "schemas" "schema". */
        if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's') {
            n--;
        }
        w[n] = '\0';
        if (n > 1 && !stopword(w)) {
            memcpy(t->w[t->n++], w, n + 1);
        }
    }
}

/* What a definition is searched by: name, category, description,
 * capabilities and tags. */
static void doc_terms(json_t *def, terms_t *t)
{
    static const char *const strs[] = {"name", "category", "description"};
    static const char *const lists[] = {"capabilities", "tags"};
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < AD_ARRAY_LEN(strs); i++) {
        tokenize(json_string_value(json_object_get(def, strs[i])), t);
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(lists); i++) {
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(def, lists[i]), k, x)
        {
            tokenize(json_string_value(x), t);
        }
    }
}

static size_t count(const terms_t *t, const char *w)
{
    size_t c = 0;
    for (size_t i = 0; i < t->n; i++) {
        c += strcmp(t->w[i], w) == 0;
    }
    return c;
}

static void dedupe(terms_t *t)
{
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < out && !seen; j++) {
            seen = strcmp(t->w[j], t->w[i]) == 0;
        }
        if (!seen) {
            memmove(t->w[out++], t->w[i], sizeof(t->w[0]));
        }
    }
    t->n = out;
}

/* BM25 (k1 1.2, b 0.75) of query q against docs[i]; matched gets the words
 * found. */
static double bm25(const terms_t *q, const terms_t *docs, size_t n, size_t i, double avg,
                   json_t *matched)
{
    double score = 0;
    for (size_t k = 0; k < q->n; k++) {
        double tf = (double)count(&docs[i], q->w[k]);
        if (tf == 0) {
            continue;
        }
        size_t df = 0;
        for (size_t j = 0; j < n; j++) {
            df += count(&docs[j], q->w[k]) > 0;
        }
        double idf = log(1.0 + ((double)n - (double)df + 0.5) / ((double)df + 0.5));
        score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * (double)docs[i].n / avg));
        json_array_append_new(matched, json_string(q->w[k]));
    }
    return score;
}

static int by_score(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double sx = json_number_value(json_object_get(x, "score"));
    double sy = json_number_value(json_object_get(y, "score"));
    if (sx != sy) {
        return sx < sy ? 1 : -1;
    }
    const char *nx = json_string_value(json_object_get(json_object_get(x, "definition"), "name"));
    const char *ny = json_string_value(json_object_get(json_object_get(y, "definition"), "name"));
    return strcmp(nx != NULL ? nx : "", ny != NULL ? ny : "");
}

json_t *ad_defs_rank(json_t *defs, const char *query, const char *category)
{
    size_t n = json_array_size(defs);
    terms_t *q = ad_xcalloc(1, sizeof(*q));
    tokenize(query, q);
    dedupe(q);
    terms_t *docs = ad_xcalloc(n > 0 ? n : 1, sizeof(*docs));
    double avg = 0;
    for (size_t i = 0; i < n; i++) {
        doc_terms(json_array_get(defs, i), &docs[i]);
        avg += (double)docs[i].n;
    }
    avg = n > 0 && avg > 0 ? avg / (double)n : 1;
    json_t **rows = ad_xcalloc(n > 0 ? n : 1, sizeof(*rows));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *def = json_array_get(defs, i);
        const char *cat = json_string_value(json_object_get(def, "category"));
        if (category != NULL && category[0] != '\0' &&
            (cat == NULL || strcasecmp(cat, category) != 0)) {
            continue;
        }
        json_t *matched = json_array();
        double score = bm25(q, docs, n, i, avg, matched);
        rows[m++] = json_pack("{s:O, s:f, s:o}", "definition", def, "score",
                              floor(score * 1000 + 0.5) / 1000, "matched", matched);
    }
    qsort(rows, m, sizeof(*rows), by_score);
    json_t *out = json_array();
    for (size_t i = 0; i < m; i++) {
        json_array_append_new(out, rows[i]);
    }
    free(rows);
    free(docs);
    free(q);
    return out;
}

/* ---- the folders, on the pool ------------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    json_t *dirs; /* [{path, workspaceId?}] */
    json_t *defs;
    ad_defs_cb cb;
    void *ud;
} load_t;

/* Reads file of dir; below rootfd (rel: dir's path in it) when rootfd >= 0,
 * so a link that leads out of a repository is not followed. */
static json_t *read_def(const char *dir, int rootfd, const char *rel, const char *file)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 3), file);
    int fd;
    if (rootfd >= 0) {
        char rp[4400];
        snprintf(rp, sizeof(rp), "%s/%s", rel, file);
        fd = ad_openat_beneath(rootfd, rp, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    } else {
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    }
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        return NULL;
    }
    char *buf = ad_xmalloc(DEF_FILE_MAX + 1);
    size_t n = 0;
    while (n < DEF_FILE_MAX + 1) {
        ssize_t r = read(fd, buf + n, DEF_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    json_t *def;
    if (n > DEF_FILE_MAX) {
        def = json_pack("{s:s, s:s}", "name", name, "error", "the file is larger than 256 KiB");
    } else if (!ad_utf8_valid(buf, n)) {
        def = json_pack("{s:s, s:s}", "name", name, "error", "the file is not UTF-8");
    } else {
        def = ad_def_parse(buf, n, name);
    }
    free(buf);
    json_object_set_new(def, "file", json_string(path));
    return def;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(json_t *src, json_t *out)
{
    const char *dir = json_string_value(json_object_get(src, "path"));
    const char *root = json_string_value(json_object_get(src, "root"));
    const char *rel = json_string_value(json_object_get(src, "rel"));
    int rootfd = -1;
    DIR *d = NULL;
    if (root != NULL && rel != NULL) {
        /* a repository's folder: opened without leaving the repository */
        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int dfd = rootfd >= 0 ? ad_openat_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY) : -1;
        d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL && dfd >= 0) {
            close(dfd);
        }
    } else if (dir != NULL) {
        d = opendir(dir);
    }
    if (d == NULL) {
        if (rootfd >= 0) {
            close(rootfd);
        }
        return;
    }
    char **names = ad_xcalloc(DEF_FILES_MAX, sizeof(*names));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < DEF_FILES_MAX) {
        size_t len = strlen(e->d_name);
        if (len > 3 && e->d_name[0] != '.' && strcmp(e->d_name + len - 3, ".md") == 0) {
            names[n++] = ad_xstrdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        json_t *def =
            json_array_size(out) < DEF_FILES_MAX ? read_def(dir, rootfd, rel, names[i]) : NULL;
        if (def != NULL) {
            json_t *ws = json_object_get(src, "workspaceId");
            json_object_set_new(def, "source", json_string(ws != NULL ? "workspace" : "data"));
            if (ws != NULL) {
                json_object_set(def, "workspaceId", ws);
            }
            json_array_append_new(out, def);
        }
        free(names[i]);
    }
    free(names);
    if (rootfd >= 0) {
        close(rootfd);
    }
}

/* The general definition agentd brings (issue #40, the workbench seed's
 * fallback): what a chat or agent gets when nothing more specific fits.
 * A file named general (or whose name is general) replaces it. */
static const char BUILTIN_GENERAL[] =
    "---\n"
    "name: general\n"
    "description: A general-purpose assistant for any task no other definition fits\n"
    "category: general\n"
    "tier: balanced\n"
    "capabilities: answering questions, explaining, writing, coding, reviewing, planning\n"
    "tags: general, default, assistant\n"
    "---\n"
    "You are a capable, careful general-purpose assistant. Answer what is asked, plainly and\n"
    "accurately. When the request is ambiguous, say what you assume. When you write code,\n"
    "make it complete and runnable, and name the file each block belongs in. Say so when\n"
    "you do not know something rather than guessing.\n";

/* defs plus the built-in general one when no definition there is named so. */
static void add_builtin(json_t *defs)
{
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d)
    {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (name != NULL && strcmp(name, "general") == 0) {
            return;
        }
    }
    json_t *g = ad_def_parse(BUILTIN_GENERAL, sizeof(BUILTIN_GENERAL) - 1, "general");
    json_object_set_new(g, "source", json_string("builtin"));
    json_array_append_new(defs, g);
}

static void load_work(uv_work_t *w)
{
    load_t *l = w->data;
    l->defs = json_array();
    size_t i;
    json_t *src;
    json_array_foreach(l->dirs, i, src)
    {
        scan_dir(src, l->defs);
    }
    add_builtin(l->defs);
}

static void load_done(uv_work_t *w, int status)
{
    load_t *l = w->data;
    if (status != 0 && l->defs == NULL) {
        l->defs = json_array();
    }
    l->cb(l->defs, l->ud);
    json_decref(l->dirs);
    free(l);
}

int ad_defs_load(uv_loop_t *loop, json_t *dirs, ad_defs_cb cb, void *ud)
{
    load_t *l = ad_xcalloc(1, sizeof(*l));
    l->work.data = l;
    l->dirs = dirs;
    l->cb = cb;
    l->ud = ud;
    int rc = uv_queue_work(loop, &l->work, load_work, load_done);
    if (rc != 0) {
        json_decref(dirs);
        free(l);
        return AD_EINTERNAL;
    }
    return 0;
}
