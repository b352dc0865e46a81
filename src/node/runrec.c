/* SPDX-License-Identifier: MIT */
/*
 * What a node keeps of each of its runs beyond the holder
 * (docs/nodes.md, "A node's restart"): <data>/runs/<run>/run.json, 0600,
 * {agent, wt, ws, base}. Its holder outlives the node's agentd; without
 * this file a node that restarted took the run up knowing only its id, so
 * its worktree's status and diff were refused, its commits no longer went
 * home and its ACP file requests had no folder. The folder is never read
 * from the file: it is made again from the ids, as the spawn made it.
 * Written (a temporary file renamed over it) when the run starts and each
 * time the plane takes a push; read once, when the node starts. Loop
 * thread.
 */
#include "node/node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_MAX 4096 /* its four ids and a commit fit many times over */

bool ad_node_id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return n > 0 && n < AD_ID_MAX;
}

static void rec_path(const worker_t *w, const char *run, const char *name, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/runs/%s%s%s", w->cfg->data_dir, run, name[0] != '\0' ? "/" : "", name);
}

void ad_worker_run_save(worker_t *w, const wrun_t *r)
{
    char dir[4200], tmp[4300], path[4300];
    snprintf(dir, sizeof(dir), "%s/runs", w->cfg->data_dir);
    (void)mkdir(dir, 0700);
    rec_path(w, r->id, "", dir, sizeof(dir));
    rec_path(w, r->id, "run.json.tmp", tmp, sizeof(tmp));
    rec_path(w, r->id, "run.json", path, sizeof(path));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "agent", r->agent_id, "wt", r->wt_id, "ws",
                          r->ws_id, "base", r->base, "lease", (json_int_t)r->lease);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int fd = text != NULL && (mkdir(dir, 0700) == 0 || errno == EEXIST)
                 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)
                 : -1;
    bool ok = fd >= 0 && ad_write_all(fd, text, strlen(text)) == strlen(text);
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        (void)unlink(tmp);
        ad_log(AD_LOG_WARN, "node", "could not keep a run's record run=%s err=%s", r->id,
               strerror(errno));
    }
    free(text);
}

void ad_worker_run_load(worker_t *w, wrun_t *r)
{
    char path[4300], buf[REC_MAX];
    rec_path(w, r->id, "run.json", path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    json_t *o = n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
    const char *agent = json_string_value(json_object_get(o, "agent"));
    const char *wt = json_string_value(json_object_get(o, "wt"));
    const char *ws = json_string_value(json_object_get(o, "ws"));
    const char *base = json_string_value(json_object_get(o, "base"));
    if (o == NULL || agent == NULL || wt == NULL || ws == NULL || base == NULL ||
        (agent[0] != '\0' && !ad_node_id_ok(agent)) || (wt[0] != '\0' && !ad_node_id_ok(wt)) ||
        (ws[0] != '\0' && !ad_node_id_ok(ws)) || (wt[0] != '\0') != (ws[0] != '\0') ||
        strlen(base) >= sizeof(r->base) || strspn(base, "0123456789abcdef") != strlen(base)) {
        if (fd >= 0) {
            ad_log(AD_LOG_WARN, "node", "a run's record is unreadable run=%s", r->id);
        }
        json_decref(o);
        return; /* a run of an older node, or none: taken up knowing its id only */
    }
    snprintf(r->agent_id, sizeof(r->agent_id), "%s", agent);
    /* the highest lease epoch seen for it (issue #77): a restart keeps fencing */
    json_int_t lease = json_integer_value(json_object_get(o, "lease"));
    r->lease = lease > 0 && lease <= UINT32_MAX ? (uint32_t)lease : 0;
    if (wt[0] != '\0') { /* as ad_worker_git_spawn names them */
        snprintf(r->wt_id, sizeof(r->wt_id), "%s", wt);
        snprintf(r->ws_id, sizeof(r->ws_id), "%s", ws);
        snprintf(r->wt_path, sizeof(r->wt_path), "%s/worktrees/%s", w->cfg->data_dir, wt);
        snprintf(r->base, sizeof(r->base), "%s", base);
        snprintf(r->cwd, sizeof(r->cwd), "%s", r->wt_path);
        if (base[0] != '\0') {
            json_object_set_new(w->bases, wt, json_string(base));
        }
    } else { /* as on_spawn names it */
        snprintf(r->cwd, sizeof(r->cwd), "%s/work/%s", w->cfg->data_dir,
                 agent[0] != '\0' ? agent : r->id);
    }
    json_decref(o);
}

void ad_worker_run_unsave(worker_t *w, const char *run)
{
    static const char *const names[] = {"run.json", "run.json.tmp", "config.json"};
    char path[4300];
    for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
        rec_path(w, run, names[i], path, sizeof(path));
        (void)unlink(path);
    }
    rec_path(w, run, "", path, sizeof(path));
    (void)rmdir(path);
}
