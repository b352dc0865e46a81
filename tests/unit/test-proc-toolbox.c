/* SPDX-License-Identifier: MIT */
/*
 * Tests for what a program needs shown in an agent's sandbox
 * (src/proc/toolbox.c), on a home folder made like a developer's: the
 * deny list (every secret, and the home itself, is refused; a toolchain
 * tree is not), the agent's PATH (the home's toolchain folders in front,
 * ~ expanded, none twice), a program resolved as its user's shell would,
 * and the trees a program needs: pyenv's through a shim, a venv's base
 * interpreter, a #!/usr/bin/env script's interpreter, never a secret
 * reached through a link or named as an argument, never the data dir.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/proc.h"

typedef struct {
    char home[64];
    char data[96];
} fx_t;

static void put(const char *home, const char *rel, const char *text, mode_t mode)
{
    char p[512], cmd[600];
    snprintf(p, sizeof(p), "%s/%s", home, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static void link_to(const char *home, const char *rel, const char *target)
{
    char p[512], cmd[600];
    snprintf(p, sizeof(p), "%s/%s", home, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    fx_t *f = ad_xcalloc(1, sizeof(*f));
    snprintf(f->home, sizeof(f->home), "/tmp/agentd-toolbox-unit-XXXXXX");
    assert_non_null(mkdtemp(f->home));
    snprintf(f->data, sizeof(f->data), "%s/agentd-data", f->home);
    assert_int_equal(mkdir(f->data, 0700), 0);
    char shim[512];
    snprintf(shim, sizeof(shim), "#!/bin/sh\nexec %s/.pyenv/versions/3.12.1/bin/python3 \"$@\"\n",
             f->home);
    put(f->home, ".pyenv/shims/python3", shim, 0755);
    link_to(f->home, ".pyenv/versions/3.12.1/bin/python3", "/usr/bin/python3");
    char cfg[512];
    snprintf(cfg, sizeof(cfg), "home = %s/.pyenv/versions/3.12.1/bin\nversion = 3.12.1\n", f->home);
    put(f->home, "venvs/ml/pyvenv.cfg", cfg, 0644);
    link_to(f->home, "venvs/ml/bin/python", "python3");
    link_to(f->home, "venvs/ml/bin/python3", "/usr/bin/python3");
    put(f->home, ".local/bin/tool", "#!/usr/bin/env -S python3 -u\nprint(1)\n", 0755);
    put(f->home, ".ssh/id_rsa", "SECRET\n", 0600);
    link_to(f->home, "scripts/key", "../.ssh/id_rsa");
    put(f->home, "scripts/eval.sh", "#!/bin/sh\necho eval\n", 0755);
    put(f->home, ".cargo/bin/cargo", "#!/bin/sh\n", 0755);
    put(f->home, ".cargo/credentials.toml", "token\n", 0600);
    put(f->home, ".rustup/toolchains/stable/bin/rustc", "#!/bin/sh\n", 0755);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void deny_list_refuses_every_secret_and_the_home(void **state)
{
    fx_t *f = *state;
    static const char *const secret[] = {
        ".ssh",
        ".ssh/id_rsa",
        ".aws/credentials",
        ".gnupg",
        ".docker/config.json",
        ".kube/config",
        ".netrc",
        ".config/gcloud/x.db",
        ".local/share/keyrings/login.keyring",
        ".mozilla/firefox",
        ".config/google-chrome",
        ".bash_history",
        ".zsh_history",
        ".pypirc",
        ".npmrc",
        ".git-credentials",
        ".config/gh/hosts.yml",
        ".password-store/x.gpg",
    };
    char p[512];
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->home, secret[i]);
        assert_non_null(ad_proc_home_secret(f->home, p));
    }
    assert_non_null(ad_proc_home_secret(f->home, f->home));
    assert_non_null(ad_proc_home_secret(f->home, "/tmp"));
    static const char *const fine[] = {".pyenv",    ".nvm/versions",       ".local/bin/tool",
                                       ".config",   ".docker/cli-plugins", ".sshrc",
                                       "projects/x"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->home, fine[i]);
        assert_null(ad_proc_home_secret(f->home, p));
    }
    /* what a folder shown holds: covered */
    char in[8][4096];
    snprintf(p, sizeof(p), "%s/.cargo", f->home);
    assert_int_equal(ad_proc_home_secrets_in(f->home, p, in, 8), 1);
    assert_non_null(strstr(in[0], ".cargo/credentials.toml"));
    assert_int_equal(ad_proc_home_secrets_in(f->home, f->home, in, 8), 2); /* .ssh, cargo's */
}

static void agent_path_puts_home_toolchains_first_once(void **state)
{
    fx_t *f = *state;
    char given[512];
    snprintf(given, sizeof(given), "~/.pyenv/shims:/usr/bin:/bin");
    char *p = ad_proc_agent_path(given, f->home);
    char want[1024];
    /* ~/.local/bin and ~/.cargo/bin exist and are added; ~/.pyenv/shims is
     * named already (as ~/…), expanded in place */
    snprintf(want, sizeof(want), "%s/.local/bin:%s/.cargo/bin:%s/.pyenv/shims:/usr/bin:/bin",
             f->home, f->home, f->home);
    assert_string_equal(p, want);
    free(p);
}

static void resolve_as_the_shell_does(void **state)
{
    fx_t *f = *state;
    char out[4096], want[600], cwd[512];
    snprintf(cwd, sizeof(cwd), "%s/scripts", f->home);
    assert_int_equal(ad_proc_resolve("./eval.sh", "/usr/bin", cwd, f->home, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%s/scripts/./eval.sh", f->home);
    assert_string_equal(out, want);
    assert_int_equal(
        ad_proc_resolve("~/scripts/eval.sh", "/usr/bin", "/", f->home, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%s/scripts/eval.sh", f->home);
    assert_string_equal(out, want);
    char path[600];
    snprintf(path, sizeof(path), "%s/.pyenv/shims:/usr/bin", f->home);
    assert_int_equal(ad_proc_resolve("python3", path, "/", f->home, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%s/.pyenv/shims/python3", f->home);
    assert_string_equal(out, want);
    assert_int_equal(ad_proc_resolve("./nope", path, cwd, f->home, out, sizeof(out)), AD_ENOENT);
}

/* Whether t shows root (as a tree when tree). */
static bool shows(const ad_proc_tools_t *t, const char *root, bool tree)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->root[i], root) == 0 && t->tree[i] == tree) {
            return true;
        }
    }
    return false;
}

static void tools_follow_shims_venvs_and_shebangs(void **state)
{
    fx_t *f = *state;
    char prog[600], root[600], path[600];
    snprintf(path, sizeof(path), "%s/.pyenv/shims:/usr/bin:/bin", f->home);
    ad_proc_tools_t *t = ad_xcalloc(1, sizeof(*t));
    ad_proc_tools_in_t in = {.program = prog,
                             .wt = "/nonexistent-wt",
                             .data_dir = f->data,
                             .home = f->home,
                             .path = path};
    /* a venv: its folder and its base interpreter's tree */
    snprintf(prog, sizeof(prog), "%s/venvs/ml/bin/python", f->home);
    ad_proc_tools(&in, t);
    assert_string_equal(t->hidden, "");
    snprintf(root, sizeof(root), "%s/venvs/ml", f->home);
    assert_true(shows(t, root, true));
    snprintf(root, sizeof(root), "%s/.pyenv", f->home);
    assert_true(shows(t, root, true));
    /* a ~/.local/bin script: itself alone, and through `env -S python3 -u`
     * the pyenv tree */
    snprintf(prog, sizeof(prog), "%s/.local/bin/tool", f->home);
    ad_proc_tools(&in, t);
    assert_true(shows(t, prog, false));
    assert_true(shows(t, root, true));
    snprintf(root, sizeof(root), "%s/.local", f->home);
    assert_false(shows(t, root, true));
    /* cargo (a rustup proxy): ~/.cargo, and ~/.rustup's toolchains, which
     * rustup finds through $HOME (so shown under /home/agent too); cargo
     * writes its registry in ~/.cargo (so not) */
    snprintf(prog, sizeof(prog), "%s/.cargo/bin/cargo", f->home);
    ad_proc_tools(&in, t);
    snprintf(root, sizeof(root), "%s/.cargo", f->home);
    assert_true(shows(t, root, true));
    assert_false(t->mirror[0]);
    snprintf(root, sizeof(root), "%s/.rustup", f->home);
    assert_true(shows(t, root, true));
    assert_int_equal(t->n, 2);
    assert_true(t->mirror[1]);
    /* a secret named as an argument, or reached through a link: refused */
    const char *argv[] = {"cat", NULL, NULL};
    char arg[600];
    snprintf(arg, sizeof(arg), "%s/scripts/key", f->home);
    argv[1] = arg;
    in.program = "/usr/bin/cat";
    in.argv = argv;
    ad_proc_tools(&in, t);
    assert_int_equal(t->n, 0);
    assert_non_null(strstr(t->hidden_why, "~/.ssh"));
    /* the data dir: refused, and said so */
    snprintf(arg, sizeof(arg), "%s/owner-token", f->data);
    put(f->data, "owner-token", "x\n", 0600);
    ad_proc_tools(&in, t);
    assert_int_equal(t->n, 0);
    assert_non_null(strstr(t->hidden_why, "data dir"));
    /* the home itself as an argument: refused (it holds the secrets) */
    argv[1] = "~";
    ad_proc_tools(&in, t);
    assert_int_equal(t->n, 0);
    assert_string_equal(t->hidden, f->home);
    free(t);
}

/* What the agent wrote in its worktree (a link, a #! line) cannot pick a
 * file or folder of the machine for its next run to see: only a toolchain
 * tree is shown for it. */
static void the_agents_files_choose_no_path(void **state)
{
    fx_t *f = *state;
    put(f->home, "Documents/notes.sh", "#!/bin/sh\necho private\n", 0755);
    put(f->home, "wt/.keep", "", 0644);
    char wt[200], target[600], prog[700], path[600], root[600], line[700];
    snprintf(wt, sizeof(wt), "%s/wt", f->home);
    snprintf(target, sizeof(target), "%s/Documents/notes.sh", f->home);
    link_to(f->home, "wt/run", target);
    snprintf(line, sizeof(line), "#!%s/Documents/notes.sh\n", f->home);
    put(f->home, "wt/tool.sh", line, 0755);
    put(f->home, "wt/py.sh", "#!/usr/bin/env python3\n", 0755);
    snprintf(path, sizeof(path), "%s/.pyenv/shims:/usr/bin:/bin", f->home);
    ad_proc_tools_t *t = ad_xcalloc(1, sizeof(*t));
    ad_proc_tools_in_t in = {
        .program = prog, .wt = wt, .data_dir = f->data, .home = f->home, .path = path};
    snprintf(prog, sizeof(prog), "%s/run", wt);
    ad_proc_tools(&in, t);
    assert_int_equal(t->n, 0);
    snprintf(prog, sizeof(prog), "%s/tool.sh", wt);
    ad_proc_tools(&in, t);
    assert_int_equal(t->n, 0);
    /* nor a <prefix>/bin folder of the machine (its data may be beside it),
     * which the admin may name */
    char pre[64], tool[200];
    snprintf(pre, sizeof(pre), "/tmp/agentd-toolbox-prefix-XXXXXX");
    assert_non_null(mkdtemp(pre));
    put(pre, "srv/app/bin/tool", "#!/bin/sh\n", 0755);
    snprintf(tool, sizeof(tool), "%s/srv/app/bin/tool", pre);
    link_to(f->home, "wt/app", tool);
    snprintf(prog, sizeof(prog), "%s/app", wt);
    ad_proc_tools(&in, t);
    assert_int_equal(t->n, 0);
    in.program = tool;
    ad_proc_tools(&in, t);
    snprintf(root, sizeof(root), "%s/srv/app", pre);
    assert_true(shows(t, root, true));
    in.program = prog;
    snprintf(line, sizeof(line), "rm -rf '%s'", pre);
    assert_int_equal(system(line), 0);
    /* the same file named by the admin is shown */
    in.program = target;
    ad_proc_tools(&in, t);
    assert_true(shows(t, target, false));
    /* a toolchain through env is */
    in.program = prog;
    snprintf(prog, sizeof(prog), "%s/py.sh", wt);
    ad_proc_tools(&in, t);
    snprintf(root, sizeof(root), "%s/.pyenv", f->home);
    assert_true(shows(t, root, true));
    assert_int_equal(t->n, 1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(deny_list_refuses_every_secret_and_the_home, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(agent_path_puts_home_toolchains_first_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(resolve_as_the_shell_does, setup, teardown),
        cmocka_unit_test_setup_teardown(tools_follow_shims_venvs_and_shebangs, setup, teardown),
        cmocka_unit_test_setup_teardown(the_agents_files_choose_no_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
