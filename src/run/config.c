/* SPDX-License-Identifier: MIT */
/*
 * A hyper-parameter config handed to a run (issue #16): its file under
 * <data-dir>/runs/<runId>/ and AGENTD_CONFIG, its flags on a command's
 * argv, and the record stored on the run row. On a node the node writes
 * the file. The file goes once the run's end is stored.
 */
#include "run/features.h"
#include "hparam/hparam.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FLAGS_MAX AD_HPARAM_FIELDS_MAX

void ad_run_config_remove(const ad_runner_t *r, const char *run_id)
{
    char dir[4200], file[4300];
    if (r->cfg->data_dir[0] == '\0') {
        return;
    }
    snprintf(dir, sizeof(dir), "%s/runs/%s", r->cfg->data_dir, run_id);
    snprintf(file, sizeof(file), "%s/config.json", dir);
    if (unlink(file) == 0 || errno != ENOENT) {
        rmdir(dir);
    }
}

/* <data-dir>/runs/<runId>/config.json, mode 0600 in a 0700 directory,
 * holding the values as one JSON object (removed when the run has ended:
 * ad_run_config_remove). */
static int write_config(const ad_runner_t *r, const char *run_id, json_t *values, char *path,
                        size_t pathsz, char *err, size_t errsz)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/runs", r->cfg->data_dir);
    if (r->cfg->data_dir[0] == '\0' || n < 0 || (size_t)n >= sizeof(dir) - AD_ID_MAX - 16) {
        snprintf(err, errsz, "agentd has no data dir to write the run's config to");
        return AD_EINVAL;
    }
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (snprintf(dir + n, sizeof(dir) - (size_t)n, "/%s", run_id) > 0 && mkdir(dir, 0700) != 0)) {
        snprintf(err, errsz, "cannot make %s: %s", dir, strerror(errno));
        return AD_EIO;
    }
    snprintf(path, pathsz, "%s/config.json", dir);
    char *txt = json_dumps(values, JSON_COMPACT);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = txt != NULL ? strlen(txt) : 0;
    bool ok =
        fd >= 0 && txt != NULL && write(fd, txt, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    int e = errno;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    free(txt);
    if (!ok) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(e));
        return AD_EIO;
    }
    return 0;
}

/* A config's flags on a command's argv, and its record for the run row. */
static int config_flags(ad_run_start_t *s, const ad_run_config_t *cfg, json_t *values)
{
    if (cfg->flags) {
        ad_launch_t *l = &s->launch;
        l->argv = ad_xrealloc(l->argv, (l->argc + CONFIG_FLAGS_MAX + 1) * sizeof(char *));
        l->argc += ad_hparam_flags(cfg->schema, values, l->argv + l->argc, CONFIG_FLAGS_MAX);
        l->argv[l->argc] = NULL;
    }
    s->config = json_dumps(cfg->record, JSON_COMPACT);
    return 0;
}

/* The config's file and AGENTD_CONFIG, its flags on a command's argv, and
 * the record to store on the run. On a node (remote) the node writes the
 * file: its values go in the spawn. */
int ad_run_config_apply(const ad_runner_t *r, ad_run_start_t *s, const char *run_id,
                        const ad_run_config_t *cfg, bool remote, char *err, size_t errsz)
{
    if (cfg->flags && s->spec.executor != AD_EXEC_COMMAND) {
        snprintf(err, errsz, "configFlags works with command agents only");
        return AD_EINVAL;
    }
    json_t *values = json_object_get(cfg->record, "values");
    if (remote) { /* the node writes the file where its agent runs (spawn_msg) */
        s->remote_config = json_incref(values);
        return config_flags(s, cfg, values);
    }
    char path[4200];
    int rc = write_config(r, run_id, values, path, sizeof(path), err, errsz);
    if (rc != 0) {
        return rc;
    }
    size_t nenv = 0;
    while (s->env[nenv] != NULL) {
        nenv++;
    }
    size_t len = strlen(path) + sizeof("AGENTD_CONFIG=");
    char *e = ad_xmalloc(len);
    snprintf(e, len, "AGENTD_CONFIG=%s", path);
    s->env[nenv] = e;
    ad_run_sandbox_show(&s->sbx, path);
    return config_flags(s, cfg, values);
}
