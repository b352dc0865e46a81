/* SPDX-License-Identifier: MIT */
/*
 * Files in answers: what a project path may be, and the fenced code blocks
 * of an answer that name a file (what "save to project" saves). Pure.
 */
#include "llm/llm.h"

#include <string.h>

#define CODE_FILES_MAX 200

bool ad_llm_path_ok(const char *p, size_t n)
{
    if (n == 0 || n > 512 || p[0] == '/' || p[n - 1] == '/' || !ad_utf8_valid(p, n)) {
        return false;
    }
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            size_t len = i - seg;
            if (len == 0 || (len == 1 && p[seg] == '.') ||
                (len == 2 && p[seg] == '.' && p[seg + 1] == '.')) {
                return false;
            }
            seg = i + 1;
        } else if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' || p[i] == ':') {
            return false;
        }
    }
    return true;
}

/* The file an info string names: the last word that is a path with a dot
 * or a slash in it (a language name has neither), title=/file=/path=
 * prefixes and quotes removed. 0 when none. */
static size_t info_path(const char *info, size_t n, const char **out)
{
    size_t found = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (info[i] == ' ' || info[i] == '\t')) {
            i++;
        }
        size_t start = i;
        while (i < n && info[i] != ' ' && info[i] != '\t') {
            i++;
        }
        const char *w = info + start;
        size_t len = i - start;
        const char *eq = memchr(w, '=', len);
        if (eq != NULL) {
            len -= (size_t)(eq + 1 - w);
            w = eq + 1;
        }
        if (len >= 2 && (w[0] == '"' || w[0] == '\'') && w[len - 1] == w[0]) {
            w++;
            len -= 2;
        }
        if (len > 0 && (memchr(w, '.', len) != NULL || memchr(w, '/', len) != NULL) &&
            ad_llm_path_ok(w, len)) {
            *out = w;
            found = len;
        }
    }
    return found;
}

static void put(json_t *files, const char *path, size_t plen, const char *body, size_t blen)
{
    json_t *p = json_stringn(path, plen);
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        if (json_equal(json_object_get(f, "path"), p)) {
            json_object_set_new(f, "content", json_stringn(body, blen));
            json_decref(p);
            return;
        }
    }
    if (json_array_size(files) < CODE_FILES_MAX) {
        json_array_append_new(files, json_pack("{s:o, s:s%}", "path", p, "content", body, blen));
    } else {
        json_decref(p);
    }
}

json_t *ad_llm_code_files(const char *md)
{
    json_t *files = json_array();
    const char *s = md;
    while (s != NULL && *s != '\0') {
        const char *eol = strchr(s, '\n');
        size_t len = eol != NULL ? (size_t)(eol - s) : strlen(s);
        if (len >= 3 && strncmp(s, "```", 3) == 0 && eol != NULL) {
            const char *path = NULL;
            size_t plen = info_path(s + 3, len - 3 - (s[len - 1] == '\r'), &path);
            const char *body = eol + 1, *q = body, *end = NULL;
            while (q != NULL && *q != '\0') {
                if (strncmp(q, "```", 3) == 0) {
                    end = q;
                    break;
                }
                q = strchr(q, '\n');
                q = q != NULL ? q + 1 : NULL;
            }
            if (end == NULL) {
                break; /* an unclosed block is no file yet */
            }
            if (plen > 0) {
                put(files, path, plen, body, (size_t)(end - body));
            }
            eol = strchr(end, '\n');
        }
        s = eol != NULL ? eol + 1 : NULL;
    }
    return files;
}
