/* SPDX-License-Identifier: MIT */
/*
 * What POST /api/imports may hold (issue #35; moved from
 * src/api/imports.c): the kind, a path that is absolute, there now (or,
 * followed, may come), a folder or a CSV file as the kind says and not
 * agentd's own data dir; where the points go (a run to attach to, or a new
 * run of an agent, or of a new agent in a worktree); and the store's args
 * of the whole (the run, perhaps its agent, the import row). Which rows the
 * caller may name is the handler's check.
 */
#include "train/train_int.h"
#include "tables/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_path(const char *data_dir, const char *path, int kind, bool follow,
                      char real[PATH_MAX], ad_field_err_t *e)
{
    if (path[0] != '/') {
        return ad_field_fail(e, "path", "must be an absolute path");
    }
    struct stat st;
    if (realpath(path, real) == NULL || stat(real, &st) != 0) {
        if (!follow) {
            return ad_field_fail(e, "path", "does not exist");
        }
        snprintf(real, PATH_MAX, "%s", path); /* followed: it may come */
    } else if ((kind == 2) != S_ISREG(st.st_mode) || (kind != 2 && !S_ISDIR(st.st_mode))) {
        return ad_field_fail(e, "path", "%s",
                             kind == 2 ? "must be a CSV file" : "must be a folder");
    }
    char data[PATH_MAX];
    if (realpath(data_dir, data) != NULL) {
        size_t n = strlen(data);
        if (strncmp(real, data, n) == 0 && (real[n] == '/' || real[n] == '\0')) {
            return ad_field_fail(e, "path", "is inside agentd's data dir");
        }
    }
    return 0;
}

int ad_train_import_check(const json_t *body, const char *data_dir, ad_train_import_req_t *q,
                          ad_field_err_t *e)
{
    bool has = false;
    memset(q, 0, sizeof(*q));
    if (ad_field_enum(body, "kind", true, "tfevents,mlruns,csv", &q->kind, e) != 0 ||
        ad_field_str(body, "path", true, 4000, &q->path, e) != 0 ||
        ad_field_bool(body, "follow", &q->follow, &has, e) != 0 ||
        ad_field_str(body, "name", false, 200, &q->name, e) != 0 ||
        ad_field_str(body, "runId", false, AD_ID_MAX - 1, &q->run, e) != 0 ||
        ad_field_str(body, "agentId", false, AD_ID_MAX - 1, &q->agent, e) != 0 ||
        ad_field_str(body, "worktreeId", false, AD_ID_MAX - 1, &q->wt, e) != 0) {
        return AD_EINVAL;
    }
    if (check_path(data_dir, q->path, ad_train_import_kind(q->kind), q->follow, q->real, e) != 0) {
        return AD_EINVAL;
    }
    if (q->run == NULL && q->agent == NULL && q->wt == NULL) {
        return ad_field_fail(e, "worktreeId", "give runId, agentId or worktreeId");
    }
    return 0;
}

json_t *ad_train_import_args(ad_store_t *st, const ad_train_import_req_t *q, const char *org)
{
    int64_t now = ad_wall_ms();
    json_t *args = json_pack("{s:I}", "now", (json_int_t)now);
    char run_id[AD_ID_MAX], agent_id[AD_ID_MAX] = "", imp[AD_ID_MAX];
    if (q->run != NULL) { /* attach: the points go to that run */
        snprintf(run_id, sizeof(run_id), "%s", q->run);
        json_t *row = NULL;
        if (ad_store_run_get(st, q->run, &row) == 0) {
            snprintf(agent_id, sizeof(agent_id), "%s",
                     json_string_value(json_object_get(row, "agentId")));
        }
        json_decref(row);
    } else {
        if (q->agent != NULL) {
            snprintf(agent_id, sizeof(agent_id), "%s", q->agent);
        } else {
            ad_id_new("ag", agent_id);
            const char *base = strrchr(q->real, '/');
            json_object_set_new(
                args, "agent",
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:I, s:{s:[], s:b}}", "id",
                          agent_id, "worktreeId", q->wt, "name",
                          q->name != NULL ? q->name : base + 1, "executor", "command", "status",
                          "finished", "mode", "regular", "permissions", "read", "now",
                          (json_int_t)now, "state", "command", "imported", true));
        }
        ad_id_new("run", run_id);
        json_object_set_new(args, "id", json_string(run_id));
        json_object_set_new(args, "agentId", json_string(agent_id));
        json_object_set_new(args, "source", json_string(q->kind));
        if (q->name != NULL) {
            json_object_set_new(args, "name", json_string(q->name));
        }
    }
    ad_id_new("imp", imp);
    json_object_set_new(args, "import",
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:{s:b}}", "id", imp,
                                  "orgId", org, "kind", q->kind, "path", q->real, "runId", run_id,
                                  "follow", q->follow, "agentId", agent_id, "state", "ownRun",
                                  q->run == NULL));
    return args;
}
