/* SPDX-License-Identifier: MIT */
/*
 * A project taken out of agentd as files (blocking: run on the pool): its
 * files written into a new folder, or packed as a tar archive (tar.c),
 * each with .agentd-project.json beside them (name, description and the
 * conversation, as agentd stores them); and what a project may hold,
 * checked before it is saved. src/api checks who asks and where.
 */
#include "llm/llm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (512 * 1024) /* below --max-body-bytes (1 MiB by default) */
#define FILES_MAX 2000
#define MESSAGES_MAX 10000
#define MESSAGE_MAX (1024 * 1024)
#define TOTAL_MAX (64 * 1024 * 1024)

bool ad_llm_export_path_ok(const char *dir)
{
    size_t n = strlen(dir);
    return !(dir[0] != '/' || n < 2 || dir[n - 1] == '/' || strstr(dir, "/../") != NULL ||
             strstr(dir, "/./") != NULL || strcmp(dir + n - 3, "/..") == 0);
}

/* The .agentd-project.json text of project (free it), or NULL. */
static char *project_meta(const json_t *project)
{
    json_t *meta = json_pack("{s:O, s:O, s:O}", "name", json_object_get(project, "name"),
                             "description", json_object_get(project, "description"), "messages",
                             json_object_get(project, "messages"));
    char *text = json_dumps(meta, JSON_INDENT(2));
    json_decref(meta);
    return text;
}

/* Creates the folders of rel under root (each one new or already a folder
 * we made; never through a symlink). */
static int make_parents(const char *root, const char *rel)
{
    char p[4800];
    int n = snprintf(p, sizeof(p), "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof(p)) {
        return AD_ETOOBIG;
    }
    for (char *q = p + strlen(root) + 1; (q = strchr(q, '/')) != NULL; q++) {
        *q = '\0';
        struct stat st;
        if (mkdir(p, 0755) != 0 &&
            (errno != EEXIST || lstat(p, &st) != 0 || !S_ISDIR(st.st_mode))) {
            return AD_EIO;
        }
        *q = '/';
    }
    return 0;
}

static int write_new(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        return AD_EIO;
    }
    bool ok = write(fd, data, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    return ok ? 0 : AD_EIO;
}

int ad_llm_project_export(const json_t *project, const char *dir, char *why, size_t whysz)
{
    if (mkdir(dir, 0755) != 0) {
        snprintf(why, whysz, "%s",
                 errno == EEXIST ? "the folder already exists" : "cannot create the folder");
        return AD_EEXIST;
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(project, "files"), i, f)
    {
        const char *rel = json_string_value(json_object_get(f, "path"));
        json_t *content = json_object_get(f, "content");
        char p[4800];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        if (make_parents(dir, rel) != 0 ||
            write_new(p, json_string_value(content), json_string_length(content)) != 0) {
            snprintf(why, whysz, "cannot write %s", rel);
            return AD_EIO;
        }
    }
    char *text = project_meta(project);
    char p[4200];
    snprintf(p, sizeof(p), "%s/.agentd-project.json", dir);
    int rc = text != NULL ? write_new(p, text, strlen(text)) : AD_ENOMEM;
    free(text);
    return rc;
}

int ad_llm_project_tar(const json_t *project, const char *folder, ad_buf_t *tar)
{
    int64_t mtime = ad_wall_ms() / 1000;
    char p[1200];
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(project, "files"), i, f)
    {
        json_t *c = json_object_get(f, "content");
        snprintf(p, sizeof(p), "%s/%s", folder, json_string_value(json_object_get(f, "path")));
        int rc = ad_llm_tar_file(tar, p, json_string_value(c), json_string_length(c), mtime);
        if (rc != 0) {
            return rc;
        }
    }
    char *text = project_meta(project);
    snprintf(p, sizeof(p), "%s/.agentd-project.json", folder);
    int rc = text != NULL ? ad_llm_tar_file(tar, p, text, strlen(text), mtime) : AD_ENOMEM;
    free(text);
    return rc != 0 ? rc : ad_llm_tar_end(tar);
}

/* Fails with field (the item's name) and why filled. */
static int refuse(char *field, size_t fsz, const char *name, char *why, size_t wsz,
                  const char *reason)
{
    snprintf(field, fsz, "%s", name);
    snprintf(why, wsz, "%s", reason);
    return AD_EINVAL;
}

int ad_llm_project_files_check(const json_t *files, const char *name, bool patch, size_t *total,
                               char *field, size_t fsz, char *why, size_t wsz)
{
    if (!json_is_array(files) || json_array_size(files) > FILES_MAX) {
        return refuse(field, fsz, name, why, wsz, "must be a list of at most 2000 files");
    }
    size_t i;
    json_t *x;
    json_array_foreach(files, i, x)
    {
        char f[64];
        snprintf(f, sizeof(f), "%s[%zu]", name, i);
        json_t *path = json_object_get(x, "path"), *content = json_object_get(x, "content");
        bool del = patch && json_is_true(json_object_get(x, "delete"));
        if (!json_is_object(x) || !json_is_string(path) ||
            !ad_llm_path_ok(json_string_value(path), json_string_length(path))) {
            return refuse(field, fsz, f, why, wsz,
                          "needs a relative path without . or .. segments");
        }
        if (!del && (!json_is_string(content) || json_string_length(content) > FILE_MAX)) {
            return refuse(field, fsz, f, why, wsz, "needs a content string of at most 512 KiB");
        }
        *total += del ? 0 : json_string_length(content);
        for (size_t k = 0; k < i; k++) {
            if (json_equal(json_object_get(json_array_get(files, k), "path"), path)) {
                return refuse(field, fsz, f, why, wsz, "names a path twice");
            }
        }
    }
    return *total > TOTAL_MAX ? refuse(field, fsz, name, why, wsz, "is more than 64 MiB in all")
                              : 0;
}

int ad_llm_project_messages_check(const json_t *msgs, size_t *total, char *field, size_t fsz,
                                  char *why, size_t wsz)
{
    if (!json_is_array(msgs) || json_array_size(msgs) > MESSAGES_MAX) {
        return refuse(field, fsz, "messages", why, wsz, "must be a list of at most 10000 messages");
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *c = json_object_get(m, "content");
        if (role == NULL ||
            (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
             strcmp(role, "system") != 0) ||
            !json_is_string(c) || json_string_length(c) > MESSAGE_MAX) {
            char f[48];
            snprintf(f, sizeof(f), "messages[%zu]", i);
            return refuse(field, fsz, f, why, wsz,
                          "needs a role (user, assistant, system) and content");
        }
        *total += json_string_length(c);
    }
    return 0;
}
