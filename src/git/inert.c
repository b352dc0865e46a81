/* SPDX-License-Identifier: MIT */
/*
 * git: the one way agentd runs the git program (push, bundles; issue #73),
 * inert. The repository is given explicitly (GIT_DIR, GIT_COMMON_DIR and
 * GIT_WORK_TREE from the trust root, src/git/trust.c: never what a .git
 * file or a commondir says); no system or global config (an empty HOME of
 * its own, XDG_CONFIG_HOME dropped); hooks off; no attributes but the
 * repository's, and no program any config names runs for them: every
 * filter, textconv and merge driver the config defines is emptied, as are
 * the signing programs, credential helpers, askpass, the pager, editors,
 * fsmonitor (a remote's receive-pack is the push's own --receive-pack:
 * git keeps the first of remote.*.receivepack, the repository's; a
 * remote helper, remote.*.vcs, is refused); only the file,
 * http, https and ssh transports (no ext::, no fd::). Pool threads only.
 */
#include "git/git_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ENV_MAX 256
#define ARG_MAX_N 200
#define DRIVERS_MAX 24
#define SCAN_MAX (64 * 1024)
#define HELPERS_MAX 4

/* Config of every run: after the repository's on git's command line, so
 * these win. */
static const char *const fixed[] = {"core.hooksPath=/dev/null",
                                    "core.fsmonitor=false",
                                    "core.attributesFile=/dev/null",
                                    "core.askPass=/bin/false",
                                    "core.sshCommand=ssh",
                                    "core.pager=cat",
                                    "core.editor=/bin/true",
                                    "sequence.editor=/bin/true",
                                    "commit.gpgSign=false",
                                    "tag.gpgSign=false",
                                    "push.gpgSign=false",
                                    "merge.verifySignatures=false",
                                    "gpg.program=/bin/false",
                                    "gpg.openpgp.program=/bin/false",
                                    "gpg.x509.program=/bin/false",
                                    "gpg.ssh.program=/bin/false",
                                    "credential.helper=",
                                    "protocol.allow=never",
                                    "protocol.file.allow=always",
                                    "protocol.http.allow=always",
                                    "protocol.https.allow=always",
                                    "protocol.ssh.allow=always",
                                    "protocol.ext.allow=never",
                                    "submodule.recurse=false",
                                    "push.recurseSubmodules=no",
                                    "fetch.recurseSubmodules=false"};

typedef struct {
    char *envp[ENV_MAX];
    char *argv[ARG_MAX_N];
    size_t argc;
    char home[PATH_MAX], home_env[PATH_MAX + 8];
    char gd[4200], cd[4200], wt[4200];
    char over[DRIVERS_MAX * 5][320]; /* "-c" values of the drivers found */
    size_t nover;
    char helper[HELPERS_MAX][320]; /* "credential.helper=…" of the user's own config */
    size_t nhelper;
    char exe[PATH_MAX];
} inert_t;

static void env_build(inert_t *x, const ad_git_trust_t *t, const char *home)
{
    size_t n = 0;
    for (char **v = environ; *v != NULL && n + 24 < ENV_MAX; v++) {
        if (strncmp(*v, "GIT_", 4) != 0 && strncmp(*v, "HOME=", 5) != 0 &&
            strncmp(*v, "XDG_CONFIG_HOME=", 16) != 0 && strncmp(*v, "SSH_ASKPASS", 11) != 0 &&
            strncmp(*v, "EDITOR=", 7) != 0 && strncmp(*v, "VISUAL=", 7) != 0 &&
            strncmp(*v, "PAGER=", 6) != 0) {
            x->envp[n++] = *v;
        }
    }
    snprintf(x->home_env, sizeof(x->home_env), "HOME=%s", home);
    static char *const set[] = {"GIT_CONFIG_NOSYSTEM=1",
                                "GIT_CONFIG_GLOBAL=/dev/null",
                                "GIT_ATTR_NOSYSTEM=1",
                                "GIT_TERMINAL_PROMPT=0",
                                "GIT_ASKPASS=/bin/false",
                                "GIT_SSH_COMMAND=ssh",
                                "GIT_ALLOW_PROTOCOL=file:http:https:ssh",
                                "GIT_PAGER=cat",
                                "GIT_EDITOR=/bin/true",
                                "GIT_NO_REPLACE_OBJECTS=1",
                                "LC_ALL=C"};
    x->envp[n++] = x->home_env;
    for (size_t i = 0; i < AD_ARRAY_LEN(set); i++) {
        x->envp[n++] = set[i];
    }
    if (t != NULL) {
        snprintf(x->gd, sizeof(x->gd), "GIT_DIR=%s", t->gitdir);
        snprintf(x->cd, sizeof(x->cd), "GIT_COMMON_DIR=%s", t->common);
        x->envp[n++] = x->gd;
        x->envp[n++] = x->cd;
        if (t->work_tree[0] != '\0') {
            snprintf(x->wt, sizeof(x->wt), "GIT_WORK_TREE=%s", t->work_tree);
            x->envp[n++] = x->wt;
        }
    }
    x->envp[n] = NULL;
}

static void argv_start(inert_t *x)
{
    x->argc = 0;
    x->argv[x->argc++] = x->exe;
    for (size_t i = 0; i < AD_ARRAY_LEN(fixed); i++) {
        x->argv[x->argc++] = "-c";
        x->argv[x->argc++] = (char *)fixed[i];
    }
    for (size_t i = 0; i < x->nover; i++) {
        x->argv[x->argc++] = "-c";
        x->argv[x->argc++] = x->over[i];
    }
    /* After fixed[]'s empty credential.helper, which drops every helper
     * the repository's config named: only the user's own come back. */
    for (size_t i = 0; i < x->nhelper; i++) {
        x->argv[x->argc++] = "-c";
        x->argv[x->argc++] = x->helper[i];
    }
}

/* One override, once. */
static bool over(inert_t *x, const char *sec, const char *name, size_t len, const char *kv)
{
    char v[320];
    if (len > 200) {
        return false;
    }
    snprintf(v, sizeof(v), "%s.%.*s.%s", sec, (int)len, name, kv);
    for (size_t i = 0; i < x->nover; i++) {
        if (strcmp(x->over[i], v) == 0) {
            return true;
        }
    }
    if (x->nover >= AD_ARRAY_LEN(x->over)) {
        return false;
    }
    snprintf(x->over[x->nover++], sizeof(x->over[0]), "%s", v);
    return true;
}

/* The subsection of name "<sec>.<sub>.<key>" when sec and key are the
 * given ones, its length in *len; NULL otherwise. */
static const char *sub_of(const char *name, const char *sec, const char *const *keys, size_t *len)
{
    size_t ls = strlen(sec);
    if (strncmp(name, sec, ls) != 0 || name[ls] != '.') {
        return NULL;
    }
    const char *sub = name + ls + 1, *dot = strrchr(sub, '.');
    if (dot == NULL || dot == sub) {
        return NULL;
    }
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (strcmp(dot + 1, keys[i]) == 0) {
            *len = (size_t)(dot - sub);
            return sub;
        }
    }
    return NULL;
}

/* Every program the repository's config (with its includes) names for a
 * driver, emptied: `git config --list` of the same repository and
 * environment, read for its names. */
static int scan(inert_t *x, const char *dir, ad_git_err_t *e)
{
    argv_start(x);
    x->argv[x->argc++] = "config";
    x->argv[x->argc++] = "--name-only";
    x->argv[x->argc++] = "--list";
    x->argv[x->argc++] = "-z";
    x->argv[x->argc] = NULL;
    ad_buf_t b;
    ad_buf_init(&b, SCAN_MAX);
    bool truncated = false, timed_out = false;
    int st = 0;
    int rc = ad_gitx_run(dir, x->argv, x->envp, 30000, &b, &truncated, &st, &timed_out, e);
    if (rc == 0 && (truncated || timed_out || !WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
        rc = ad_gitx_fail(e, AD_EPERM, "untrusted_git",
                          "the repository's config cannot be read to keep its programs off");
    }
    static const char *const fk[] = {"clean", "smudge", "process", "required", NULL};
    static const char *const dk[] = {"textconv", "command", NULL};
    static const char *const mk[] = {"driver", NULL};
    static const char *const vk[] = {"vcs", NULL};
    for (size_t off = 0; rc == 0 && b.data != NULL && off < b.len;) {
        const char *name = b.data + off;
        size_t nl = strnlen(name, b.len - off);
        off += nl + 1;
        size_t len = 0;
        const char *s;
        bool ok = true;
        if ((s = sub_of(name, "filter", fk, &len)) != NULL) {
            ok = over(x, "filter", s, len, "clean=") && over(x, "filter", s, len, "smudge=") &&
                 over(x, "filter", s, len, "process=") &&
                 over(x, "filter", s, len, "required=false");
        } else if ((s = sub_of(name, "diff", dk, &len)) != NULL) {
            ok = over(x, "diff", s, len, "textconv=") && over(x, "diff", s, len, "command=");
        } else if ((s = sub_of(name, "merge", mk, &len)) != NULL) {
            ok = over(x, "merge", s, len, "driver=");
        } else if (sub_of(name, "remote", vk, &len) != NULL) {
            rc = ad_gitx_fail(e, AD_EPERM, "untrusted_git",
                              "the repository's config names a remote helper (remote.*.vcs), "
                              "which agentd does not run");
            break;
        }
        if (!ok) {
            rc = ad_gitx_fail(e, AD_EPERM, "untrusted_git",
                              "the repository's config names too many programs to keep off");
        }
    }
    ad_buf_cleanup(&b);
    return rc;
}

/* The credential helpers of the user's own global config (git's order:
 * ~/.config/git/config, then ~/.gitconfig; an XDG_CONFIG_HOME elsewhere
 * is not followed), for a push only: a
 * push to an https remote needs them, and the user's files are not the
 * repository's (no sandbox binds them writable). Read with --file, so no
 * include and nothing of the repository; an empty value clears the list,
 * as in git. At most HELPERS_MAX; a longer one is skipped. */
static void user_helpers(inert_t *x, const char *dir, const char *home)
{
    char files[2][PATH_MAX];
    snprintf(files[0], sizeof(files[0]), "%s/.config/git/config", home);
    snprintf(files[1], sizeof(files[1]), "%s/.gitconfig", home);
    for (size_t f = 0; f < 2; f++) {
        if (access(files[f], R_OK) != 0) {
            continue;
        }
        char *argv[] = {
            x->exe, "config", "--file", files[f], "--get-all", "-z", "credential.helper", NULL};
        ad_buf_t b;
        ad_buf_init(&b, SCAN_MAX);
        bool truncated = false, timed_out = false;
        int st = 0;
        ad_git_err_t e = {0};
        if (ad_gitx_run(dir, argv, x->envp, 10000, &b, &truncated, &st, &timed_out, &e) == 0 &&
            !truncated && !timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            for (size_t off = 0; b.data != NULL && off < b.len;) {
                const char *v = b.data + off;
                size_t len = strnlen(v, b.len - off);
                off += len + 1;
                if (len == 0) {
                    x->nhelper = 0;
                } else if (len < sizeof(x->helper[0]) - 32 && x->nhelper < HELPERS_MAX) {
                    snprintf(x->helper[x->nhelper++], sizeof(x->helper[0]),
                             "credential.helper=%.*s", (int)len, v);
                }
            }
        }
        json_decref(e.details);
        ad_buf_cleanup(&b);
    }
}

int ad_gitx_inert(const ad_git_trust_t *t, const char *dir, bool user_creds,
                  const char *const *args, uint64_t timeout_ms, ad_buf_t *out, bool *truncated,
                  int *status, bool *timed_out, ad_git_err_t *e)
{
    const char *home = getenv("HOME");
    inert_t *x = ad_xcalloc(1, sizeof(*x));
    int rc = 0;
    bool made = false; /* (not the name's last letter: mkdtemp may end it with an X) */
    /* made 0700, empty, under the user's TMPDIR when it names a folder */
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > sizeof(x->home) - 32) {
        tmp = "/tmp";
    }
    snprintf(x->home, sizeof(x->home), "%s/agentd-git-XXXXXX", tmp);
    if (!ad_gitx_find_git(x->exe, sizeof(x->exe))) {
        rc = ad_gitx_fail(e, AD_EINTERNAL, "no_git", "the git program is not installed");
    } else if (mkdtemp(x->home) == NULL) {
        rc = ad_gitx_fail(e, AD_EIO, "", "cannot make an empty home for git");
    } else {
        made = true;
    }
    if (rc == 0) {
        /* A push keeps the user's HOME, where its credential helpers keep
         * what they know; GIT_CONFIG_GLOBAL=/dev/null still keeps git
         * itself from reading the user's config there. */
        bool real_home = user_creds && home != NULL && home[0] == '/';
        env_build(x, t, real_home ? home : x->home);
        rc = scan(x, dir, e);
        if (rc == 0 && real_home) {
            user_helpers(x, dir, home);
        }
    }
    if (rc == 0) {
        argv_start(x);
        for (size_t i = 0; args[i] != NULL && x->argc < ARG_MAX_N - 1; i++) {
            x->argv[x->argc++] = (char *)args[i];
        }
        x->argv[x->argc] = NULL;
        rc = ad_gitx_run(dir, x->argv, x->envp, timeout_ms, out, truncated, status, timed_out, e);
    }
    if (made) {
        rmdir(x->home);
    }
    free(x);
    return rc;
}
