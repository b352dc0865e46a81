/* SPDX-License-Identifier: MIT */
/*
 * A project taken out of agentd as files (blocking: run on the pool): its
 * files written into a new folder, or packed as a tar archive (tar.c),
 * each with .agentd-project.json beside them (name, description and the
 * conversation, as agentd stores them). src/api checks who asks and where.
 */
#include "llm/llm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
