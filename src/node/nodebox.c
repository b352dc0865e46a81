/* SPDX-License-Identifier: MIT */
/*
 * The agent sandbox on a node (docs/nodes.md, "The agent sandbox"): the
 * control plane computes an agent's policy as for a local run and sends it
 * with the spawn ({none, owners, network, allow, cli, readOnly, program});
 * the node builds the sandbox from it with src/proc's builder, exactly as a
 * local daemon does, for its own paths: the run's worktree (or work
 * folder) read-write, its own data dir covered, its own homes/<agent> at
 * /home/agent, its own --sandbox-paths. No path of the plane's is taken:
 * an admin's sandbox paths name the plane's files and do not go.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "node/node_int.h"

#include "git/git.h"
#include "proc/proc.h"

#include <stdlib.h>
#include <string.h>

#define ALLOW_MAX 32 /* as a policy's network {allow} (src/run/spec.c) */

int ad_worker_box(worker_t *w, const wrun_t *r, const char *agent_id, json_t *msg, const char *cwd,
                  const char *argv0, ad_proc_box_t *box, char *err, size_t errsz)
{
    memset(box, 0, sizeof(*box));
    /* the run's git folder is the node's mirror of its workspace (the
     * node's own record, nodegit.c), the worktree's .git and commondir
     * checked against it (issue #73): never what they say */
    char mirror[4300], why[700];
    ad_git_trust_t *t = NULL;
    if (r != NULL && r->wt_path[0] != '\0' && cwd != NULL && strcmp(cwd, r->wt_path) == 0) {
        snprintf(mirror, sizeof(mirror), "%s/mirrors/%s.git", w->cfg->data_dir, r->ws_id);
        t = ad_xcalloc(1, sizeof(*t));
        int trc = ad_git_trust_check(mirror, true, cwd, t, why, sizeof(why));
        if (trc == AD_ENOENT) {
            memset(t, 0, sizeof(*t)); /* the folder is gone: the spawn says so */
        } else if (trc != 0) {
            free(t);
            snprintf(err, errsz, "the agent's worktree was tampered with, so it does not start: %s",
                     why);
            ad_log(AD_LOG_WARN, "node", "start refused run=%s why=\"%s\"", r->id, why);
            return AD_EPERM;
        }
    }
    /* without one (a plane older than this node): sandboxed, network on,
     * and nothing of the owner's */
    json_t *p = json_object_get(msg, "sandbox");
    json_t *list = json_object_get(p, "allow");
    list = json_is_null(list) ? NULL : list;
    size_t n = json_array_size(list);
    const char *allow[ALLOW_MAX];
    if ((p != NULL && !json_is_object(p)) ||
        (list != NULL && (!json_is_array(list) || n == 0 || n > ALLOW_MAX))) {
        free(t);
        snprintf(err, errsz, "a malformed sandbox in the spawn");
        return AD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        allow[i] = json_string_value(json_array_get(list, i));
        if (allow[i] == NULL) {
            free(t);
            snprintf(err, errsz, "a malformed sandbox in the spawn");
            return AD_EINVAL;
        }
    }
    const char *cli = json_string_value(json_object_get(p, "cli"));
    if (cli != NULL && strcmp(cli, "claude") != 0 && strcmp(cli, "codex") != 0 &&
        strcmp(cli, "gemini") != 0) {
        cli = NULL;
    }
    char exe[4096];
    bool found = json_is_true(json_object_get(p, "program")) && argv0 != NULL &&
                 ad_path_which_in(argv0, getenv("PATH"), cwd, exe, sizeof(exe)) == 0;
    ad_proc_box_in_t in = {.data_dir = w->cfg->data_dir,
                           .agent_id = agent_id,
                           .wt = cwd,
                           .git_common = t != NULL && t->common[0] != '\0' ? t->common : NULL,
                           .read_only = json_is_true(json_object_get(p, "readOnly")),
                           .exe = found ? exe : NULL,
                           .cli = cli,
                           .owners = json_is_true(json_object_get(p, "owners")),
                           .unconfined = json_is_true(json_object_get(p, "none")),
                           .network = !json_is_false(json_object_get(p, "network")),
                           .allow = n > 0 ? allow : NULL,
                           .nallow = n,
                           .sandbox_paths = w->cfg->sandbox_paths};
    int rc = ad_proc_box(w->procs, &in, box, err, errsz);
    free(t);
    return rc;
}

const char **ad_worker_box_env(const char **env, const ad_proc_box_t *box)
{
    size_t n = 0;
    while (env[n] != NULL) {
        n++;
    }
    const char **v = ad_xcalloc(n + 3, sizeof(char *));
    size_t k = 0;
    bool boxed = !box->none && box->home != NULL;
    for (size_t i = 0; i < n; i++) {
        if (!boxed || (strncmp(env[i], "HOME=", 5) != 0 && strncmp(env[i], "TMPDIR=", 7) != 0)) {
            v[k++] = env[i];
        }
    }
    if (boxed) { /* the node's own, whatever the plane said */
        v[k++] = "HOME=/home/agent";
        v[k++] = "TMPDIR=/tmp";
    }
    return v;
}
