/* SPDX-License-Identifier: MIT */
/*
 * What a program needs to run in an agent's sandbox (agentbox.c shows
 * it): the program resolved the way its user's shell would (a leading ~
 * against the home folder, a relative path against the worktree, a bare
 * name on the agent's PATH: agentd's own with the home's usual toolchain
 * folders in front), then the toolchain tree it lives in, followed through
 * symlinks, pyvenv.cfg's base interpreter and a script's #! line
 * (`#!/usr/bin/env NAME` found on that PATH): ~/.pyenv, a conda install or
 * env, a venv, ~/.nvm, ~/.cargo and ~/.rustup, ~/.asdf, mise's data,
 * /opt/<tool>. Paths the command's arguments name outside the worktree are
 * shown as they are. All read-only.
 *
 * Never shown on its own: agentd's data dir, and a home's secrets (the
 * deny list below): a tree that would hold one is narrowed to the file, or
 * left out; a path named that cannot be shown is said, with how to allow
 * it, instead of failing inside the sandbox with "No such file".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEPTH_MAX 8

/* A home's secrets, relative to it: keys, cloud and registry credentials,
 * keyrings, browser profiles, shell history. */
static const char *const secrets[] = {
    ".ssh",
    ".aws",
    ".gnupg",
    ".docker/config.json",
    ".kube",
    ".netrc",
    ".config/gcloud",
    ".azure",
    ".config/gh",
    ".git-credentials",
    ".config/git/credentials",
    ".local/share/keyrings",
    ".password-store",
    ".pki",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".node_repl_history",
    ".lesshst",
    ".local/share/fish/fish_history",
    ".pypirc",
    ".npmrc",
    ".yarnrc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".config/hub",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".pgpass",
    ".my.cnf",
};

/* The toolchain trees of a home, relative to it: a program found in one
 * gets the whole tree (its shims and versions, its env's libraries).
 * mirror: also shown at its place under /home/agent, for a tool that finds
 * it through $HOME alone (rustup, asdf, mise); not for a tree a tool
 * writes its caches in (cargo's registry, go's modules, conda's list),
 * which then start afresh in the agent's own home. also: another tree it
 * needs (rustup's proxies in ~/.cargo/bin run ~/.rustup's toolchains). */
static const struct {
    const char *rel;
    bool mirror;
    const char *also;
} trees[] = {
    {".pyenv", true, NULL},
    {".nvm", true, NULL},
    {".cargo", false, ".rustup"},
    {".rustup", true, NULL},
    {".asdf", true, NULL},
    {".local/share/mise", true, NULL},
    {".local/pipx", false, NULL},
    {".local/lib", false, NULL},
    {".conda", false, NULL},
    {"miniconda3", false, NULL},
    {"anaconda3", false, NULL},
    {"miniforge3", false, NULL},
    {"mambaforge", false, NULL},
    {"micromamba", false, NULL},
    {".volta", true, NULL},
    {".bun", true, NULL},
    {".deno", true, NULL},
    {"go", false, NULL},
    {".rbenv", true, NULL},
    {".sdkman", true, NULL},
    {".juliaup", true, NULL},
    {".elan", true, NULL},
    {".ghcup", true, NULL},
    {".opam", true, NULL},
    {".local/share/pnpm", false, NULL},
};

/* The usual toolchain folders of a home a login shell puts on PATH. */
static const char *const path_dirs[] = {
    ".local/bin",
    "bin",
    ".cargo/bin",
    ".pyenv/shims",
    ".pyenv/bin",
    ".asdf/shims",
    ".local/share/mise/shims",
    ".volta/bin",
    ".bun/bin",
    ".deno/bin",
    "go/bin",
};

/* How long the common part of dir and path is when dir holds path (or is
 * it), else 0. */
static size_t under(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/') {
        l--;
    }
    if (l == 0 || strncmp(path, dir, l) != 0) {
        return 0;
    }
    return path[l] == '\0' || path[l] == '/' || l == 1 ? l : 0;
}

static bool system_path(const char *p)
{
    static const char *const sys[] = {"/usr",   "/bin",    "/sbin", "/lib",  "/lib32",
                                      "/lib64", "/libx32", "/etc",  "/proc", "/dev"};
    for (size_t i = 0; i < AD_ARRAY_LEN(sys); i++) {
        if (under(p, sys[i]) > 0) {
            return true;
        }
    }
    return false;
}

const char *ad_proc_home_secret(const char *home, const char *path)
{
    if (home == NULL || home[0] != '/' || strcmp(home, "/") == 0) {
        return NULL;
    }
    char s[PATH_MAX];
    for (size_t i = 0; i < AD_ARRAY_LEN(secrets); i++) {
        snprintf(s, sizeof(s), "%.*s/%s", PATH_MAX - 64, home, secrets[i]);
        if (under(path, s) > 0) { /* it, or in it */
            return secrets[i];
        }
    }
    /* the home itself, or a folder of it that holds them all */
    return under(home, path) > 0 ? secrets[0] : NULL;
}

size_t ad_proc_home_secrets_in(const char *home, const char *dir, char (*out)[PATH_MAX], size_t max)
{
    size_t n = 0;
    if (home == NULL || home[0] != '/' || strcmp(home, "/") == 0) {
        return 0;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(secrets) && n < max; i++) {
        char s[PATH_MAX];
        struct stat st;
        snprintf(s, sizeof(s), "%.*s/%s", PATH_MAX - 64, home, secrets[i]);
        if (under(s, dir) > 0 && strcmp(s, dir) != 0 && lstat(s, &st) == 0) {
            snprintf(out[n++], PATH_MAX, "%s", s);
        }
    }
    return n;
}

/* s[0..n) onto out (cap bytes, *len used), after a ':' when out has
 * something; false (out unchanged) when it does not fit. */
static bool path_add(char *out, size_t cap, size_t *len, const char *s1, size_t n1, const char *s2,
                     size_t n2)
{
    size_t sep = *len > 0 ? 1 : 0;
    if (*len + sep + n1 + n2 + 1 > cap) {
        return false;
    }
    if (sep) {
        out[(*len)++] = ':';
    }
    memcpy(out + *len, s1, n1);
    memcpy(out + *len + n1, s2, n2);
    *len += n1 + n2;
    out[*len] = '\0';
    return true;
}

/* Whether the PATH list names dir (or ~ and the rest of it). */
static bool path_names(const char *list, const char *dir, const char *home)
{
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ":");
        size_t hl = strlen(home);
        if ((n == strlen(dir) && strncmp(p, dir, n) == 0) ||
            (n > 0 && p[0] == '~' && n - 1 == strlen(dir) - hl &&
             strncmp(p + 1, dir + hl, n - 1) == 0)) {
            return true;
        }
        p += n + (p[n] == ':');
    }
    return false;
}

#define AGENT_PATH_MAX 32768

char *ad_proc_agent_path(const char *path, const char *home)
{
    char *out = ad_xmalloc(AGENT_PATH_MAX);
    size_t len = 0;
    out[0] = '\0';
    bool has_home = home != NULL && home[0] == '/' && strcmp(home, "/") != 0;
    const char *list = path != NULL ? path : AD_DEFAULT_PATH;
    /* the home's toolchain folders that exist and are not named yet */
    for (size_t i = 0; has_home && i < AD_ARRAY_LEN(path_dirs); i++) {
        char e[PATH_MAX];
        struct stat st;
        snprintf(e, sizeof(e), "%.*s/%s", PATH_MAX - 64, home, path_dirs[i]);
        if (stat(e, &st) == 0 && S_ISDIR(st.st_mode) && !path_names(list, e, home)) {
            (void)path_add(out, AGENT_PATH_MAX, &len, e, strlen(e), "", 0);
        }
    }
    /* then agentd's, a leading ~ expanded (bash does at lookup) */
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ":");
        if (has_home && n > 0 && p[0] == '~' && (n == 1 || p[1] == '/')) {
            (void)path_add(out, AGENT_PATH_MAX, &len, home, strlen(home), p + 1, n - 1);
        } else {
            (void)path_add(out, AGENT_PATH_MAX, &len, p, n, "", 0);
        }
        p += n + (p[n] == ':');
    }
    return out;
}

/* name with a leading ~ or ~/ taken against home, a relative one against
 * cwd, into out; false when it does not fit or cannot be. */
static bool expand(const char *name, const char *cwd, const char *home, char *out, size_t outsz)
{
    int w;
    if (name[0] == '~' && (name[1] == '\0' || name[1] == '/')) {
        if (home == NULL || home[0] != '/') {
            return false;
        }
        w = snprintf(out, outsz, "%s%s", home, name + 1);
    } else if (name[0] != '/' && cwd != NULL) {
        w = snprintf(out, outsz, "%s/%s", cwd, name);
    } else {
        w = snprintf(out, outsz, "%s", name);
    }
    return w > 0 && (size_t)w < outsz && out[0] == '/';
}

int ad_proc_resolve(const char *argv0, const char *path, const char *cwd, const char *home,
                    char *out, size_t outsz)
{
    if (argv0 == NULL || argv0[0] == '\0') {
        return AD_ENOENT;
    }
    if (argv0[0] == '~' || strchr(argv0, '/') != NULL) {
        char full[PATH_MAX];
        if (!expand(argv0, cwd, home, full, sizeof(full))) {
            return AD_ENOENT;
        }
        return ad_path_which_in(full, path, NULL, out, outsz);
    }
    return ad_path_which_in(argv0, path, cwd, out, outsz);
}

/* ---- what it needs ---------------------------------------------------------------- */

typedef struct {
    const ad_proc_tools_in_t *in;
    ad_proc_tools_t *t;
} walk_t;

static bool allowed(walk_t *w, const char *p);

/* root shown (as a tree, or the file alone), unless where it leads may
 * not be (bwrap shows a link's target). */
static void add_root(walk_t *w, const char *root, bool tree, bool mirror)
{
    ad_proc_tools_t *t = w->t;
    char real[PATH_MAX];
    if (realpath(root, real) == NULL || !allowed(w, real)) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (under(root, t->root[i]) > 0) {
            return; /* shown already */
        }
    }
    if (t->n >= AD_ARRAY_LEN(t->root)) {
        return;
    }
    snprintf(t->root[t->n], sizeof(t->root[t->n]), "%s", root);
    t->tree[t->n] = tree;
    t->mirror[t->n] = mirror;
    t->n++;
}

static void hidden(walk_t *w, const char *path, const char *why)
{
    ad_proc_tools_t *t = w->t;
    if (t->hidden[0] == '\0') {
        snprintf(t->hidden, sizeof(t->hidden), "%s", path);
        snprintf(t->hidden_why, sizeof(t->hidden_why), "%s", why);
    }
}

/* Whether p needs nothing: the system, the worktree, a path the caller
 * shows already, or a folder the sandbox has of its own. */
static bool shown(const walk_t *w, const char *p)
{
    static const char *const own[] = {"/", "/tmp", "/var/tmp", "/run", "/var", "/home", "/sys"};
    for (size_t i = 0; i < AD_ARRAY_LEN(own); i++) {
        if (strcmp(p, own[i]) == 0) {
            return true;
        }
    }
    if (system_path(p) || under(p, "/sys") > 0 || (w->in->wt != NULL && under(p, w->in->wt) > 0)) {
        return true;
    }
    for (size_t i = 0; i < w->in->nshown; i++) {
        if (under(p, w->in->shown[i]) > 0) {
            return true;
        }
    }
    return false;
}

/* Whether p may be shown; else says why (once). */
static bool allowed(walk_t *w, const char *p)
{
    const char *data = w->in->data_dir;
    if (data != NULL && (under(p, data) > 0 || under(data, p) > 0)) {
        char why[200];
        snprintf(why, sizeof(why), "%s",
                 under(p, data) > 0 ? "it is in agentd's data dir, which no agent may see"
                                    : "it holds agentd's data dir, which no agent may see");
        hidden(w, p, why);
        return false;
    }
    const char *s = ad_proc_home_secret(w->in->home, p);
    if (s != NULL) {
        char why[200];
        snprintf(why, sizeof(why), "agentd never shows a home's secrets (~/%s) on its own", s);
        hidden(w, p, why);
        return false;
    }
    return true;
}

#define TREE_ENV (-2)    /* a venv or conda env (pyvenv.cfg, conda-meta) */
#define TREE_PREFIX (-3) /* <prefix>/bin/x outside the home */

/* The toolchain tree of p (an existing absolute path), into root; tree
 * false when only p itself is to be shown; *known: its entry in trees,
 * TREE_ENV, TREE_PREFIX, or -1. */
static void tree_of(const walk_t *w, const char *p, char *root, size_t rootsz, bool *tree,
                    int *known)
{
    const char *home = w->in->home;
    *tree = true;
    *known = -1;
    if (home != NULL && home[0] == '/' && strcmp(home, "/") != 0 && under(p, home) > 0) {
        for (size_t i = 0; i < AD_ARRAY_LEN(trees); i++) {
            char t[PATH_MAX];
            snprintf(t, sizeof(t), "%.*s/%s", PATH_MAX - 64, home, trees[i].rel);
            if (under(p, t) > 0) {
                snprintf(root, rootsz, "%s", t);
                *known = (int)i;
                return;
            }
        }
    }
    /* a venv or conda env: its folder (up to four levels above) */
    char d[PATH_MAX];
    snprintf(d, sizeof(d), "%s", p);
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(d, '/');
        if (slash == NULL || slash == d) {
            break;
        }
        *slash = '\0';
        if ((home != NULL && strcmp(d, home) == 0) || system_path(d)) {
            break;
        }
        char mark[PATH_MAX + 16], meta[PATH_MAX + 16];
        snprintf(mark, sizeof(mark), "%s/pyvenv.cfg", d);
        snprintf(meta, sizeof(meta), "%s/conda-meta", d);
        if (access(mark, F_OK) == 0 || access(meta, F_OK) == 0) {
            snprintf(root, rootsz, "%s", d);
            *known = TREE_ENV;
            return;
        }
    }
    /* /opt/<tool>/bin/x: /opt/<tool> (not under a home: its folders are
     * the user's own, shown one by one) */
    snprintf(d, sizeof(d), "%s", p);
    char *slash = strrchr(d, '/');
    bool in_home = home != NULL && home[0] == '/' && under(p, home) > 0;
    if (!in_home && slash != NULL && slash - d >= 4 && strncmp(slash - 4, "/bin", 4) == 0) {
        slash[-4] = '\0';
        char *top = strchr(d + 1, '/');
        if (top != NULL && top[1] != '\0' && strcmp(d, "/home") != 0) {
            snprintf(root, rootsz, "%s", d);
            *known = TREE_PREFIX;
            return;
        }
    }
    snprintf(root, rootsz, "%s", p);
    *tree = false;
}

static void need(walk_t *w, const char *p, int depth, bool trusted);

/* A venv's base interpreter (pyvenv.cfg: home = <folder>). */
static void venv_base(walk_t *w, const char *root, int depth, bool trusted)
{
    char cfg[PATH_MAX + 16], line[PATH_MAX + 32];
    snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", root);
    FILE *f = fopen(cfg, "re");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (strncmp(line, "home", 4) != 0 || eq == NULL) {
            continue;
        }
        char *v = eq + 1;
        while (*v == ' ') {
            v++;
        }
        if (v[0] == '/') {
            need(w, v, depth + 1, trusted);
        }
    }
    fclose(f);
}

/* A script's #! interpreter (through `env NAME`, found on the agent's PATH). */
static void shebang(walk_t *w, const char *p, int depth, bool trusted)
{
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    FILE *f = fopen(p, "re");
    char line[512];
    if (f == NULL) {
        return;
    }
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (!got || line[0] != '#' || line[1] != '!') {
        return;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *words[8];
    size_t n = 0;
    for (char *s = line + 2; n < AD_ARRAY_LEN(words);) {
        s += strspn(s, " \t");
        if (*s == '\0') {
            break;
        }
        words[n++] = s;
        s += strcspn(s, " \t");
        if (*s != '\0') {
            *s++ = '\0';
        }
    }
    if (n == 0) {
        return;
    }
    const char *base = strrchr(words[0], '/');
    base = base != NULL ? base + 1 : words[0];
    need(w, words[0], depth + 1, trusted);
    if (strcmp(base, "env") != 0) {
        return;
    }
    for (size_t i = 1; i < n; i++) { /* env's options and NAME=value, then the program */
        if (words[i][0] == '-' || strchr(words[i], '=') != NULL) {
            continue;
        }
        char found[PATH_MAX];
        if (ad_proc_resolve(words[i], w->in->path, NULL, w->in->home, found, sizeof(found)) == 0) {
            need(w, found, depth + 1, trusted);
        }
        return;
    }
}

/* Whether the agent may write p (its worktree, a read-write path): what
 * such a file says (a link, a #! line, a pyvenv.cfg) is the agent's word. */
static bool writable(const walk_t *w, const char *p)
{
    if (w->in->wt != NULL && under(p, w->in->wt) > 0) {
        return true;
    }
    for (size_t i = 0; i < w->in->nwritable; i++) {
        if (under(p, w->in->writable[i]) > 0) {
            return true;
        }
    }
    return false;
}

/* p (absolute) and what it needs: its tree, its symlinks' targets, its
 * venv's base, its interpreter. trusted: named by the admin or by a file
 * the agent cannot write; else (a link or #! line in the worktree) only a
 * toolchain tree is shown for it, never a file or folder of its choice,
 * which would let an agent pick what its next run sees. */
static void need(walk_t *w, const char *p, int depth, bool trusted)
{
    struct stat st;
    if (depth > DEPTH_MAX || p[0] != '/' || lstat(p, &st) != 0) {
        return;
    }
    bool next_trusted = trusted && !writable(w, p);
    if (!shown(w, p) && allowed(w, p)) {
        char root[PATH_MAX];
        bool tree;
        int known;
        tree_of(w, p, root, sizeof(root), &tree, &known);
        if (!trusted && known < 0 && known != TREE_ENV) {
            return; /* the agent's word: a home toolchain or an env, nothing else */
        }
        /* a secret in a tree is covered (agentbox.c) */
        add_root(w, root, tree, known >= 0 && trees[known].mirror);
        if (tree) {
            venv_base(w, root, depth, next_trusted);
        }
        if (known >= 0 && trees[known].also != NULL) {
            char also[PATH_MAX];
            snprintf(also, sizeof(also), "%.*s/%s", PATH_MAX - 64, w->in->home, trees[known].also);
            need(w, also, depth + 1, true);
        }
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX], next[PATH_MAX];
        ssize_t n = readlink(p, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            char dir[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s", p);
            char *slash = strrchr(dir, '/');
            *slash = '\0';
            if (target[0] == '/' ||
                (size_t)snprintf(next, sizeof(next), "%s/%s", dir[0] != '\0' ? dir : "", target) <
                    sizeof(next)) {
                need(w, target[0] == '/' ? target : next, depth + 1, next_trusted);
            }
        }
        return;
    }
    shebang(w, p, depth, next_trusted);
}

void ad_proc_tools(const ad_proc_tools_in_t *in, ad_proc_tools_t *out)
{
    memset(out, 0, sizeof(*out));
    walk_t w = {.in = in, .t = out};
    if (in->program != NULL && in->program[0] == '/') {
        need(&w, in->program, 0, true);
    }
    for (size_t i = 1; in->argv != NULL && in->argv[i] != NULL; i++) {
        const char *a = in->argv[i];
        if (!(a[0] == '/' || (a[0] == '~' && (a[1] == '\0' || a[1] == '/')) ||
              strncmp(a, "./", 2) == 0 || strncmp(a, "../", 3) == 0)) {
            continue;
        }
        char full[PATH_MAX], real[PATH_MAX];
        struct stat st;
        if (!expand(a, in->wt, in->home, full, sizeof(full)) || lstat(full, &st) != 0) {
            continue;
        }
        if (realpath(full, real) == NULL) {
            continue;
        }
        /* a path named: itself (add_root checks where a link of it leads) */
        if (!shown(&w, full) && allowed(&w, full)) {
            add_root(&w, full, false, false);
        }
    }
}
