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
 *
 * The program is found as on a control plane (src/proc/toolbox.c), with
 * the node's own PATH and home: a command's ~ against the node user's
 * home, a relative path against the run's worktree, a bare name on the
 * agent's PATH (the node's, the home's toolchain folders in front), and
 * for the owner's organisation's agents the toolchain tree it needs and
 * the paths its arguments name shown read-only; the run's PATH is that
 * agent PATH unless its own env says one.
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
                  const char *const *argv, char prog[4096], ad_proc_box_t *box, char *err,
                  size_t errsz)
{
    memset(box, 0, sizeof(*box));
    prog[0] = '\0';
    const char *argv0 = argv != NULL ? argv[0] : NULL;
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
    /* found as its user's shell here would (toolbox.c): a CLI's program on
     * the agent's PATH, a command's ~, relative path or bare name */
    const char *home = getenv("HOME");
    char *path = ad_proc_agent_path(getenv("PATH"), home);
    char exe[4096];
    bool cli_prog = json_is_true(json_object_get(p, "program"));
    bool found =
        cli_prog && argv0 != NULL && ad_path_which_in(argv0, path, cwd, exe, sizeof(exe)) == 0;
    if (!cli_prog && argv0 != NULL && cwd != NULL &&
        ad_proc_resolve(argv0, path, cwd, home, exe, sizeof(exe)) == 0) {
        snprintf(prog, 4096, "%s", exe);
    }
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
                           .sandbox_paths = w->cfg->sandbox_paths,
                           .program = found || prog[0] != '\0' ? exe : NULL,
                           .argv = cli_prog ? NULL : argv,
                           .path = path,
                           .home = home};
    int rc = ad_proc_box(w->procs, &in, box, err, errsz);
    free(t);
    free(path);
    return rc;
}

const char **ad_worker_box_env(const char **env, const ad_proc_box_t *box)
{
    size_t n = 0;
    while (env[n] != NULL) {
        n++;
    }
    /* the agent's PATH first (the env's own, later, wins), in the vector's
     * own block: one free() */
    char *path = ad_proc_agent_path(getenv("PATH"), getenv("HOME"));
    size_t plen = strlen(path) + sizeof("PATH=");
    const char **v = ad_xcalloc(1, (n + 4) * sizeof(char *) + plen);
    char *pe = (char *)(v + n + 4);
    snprintf(pe, plen, "PATH=%s", path);
    free(path);
    size_t k = 0;
    v[k++] = pe;
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
