/* SPDX-License-Identifier: MIT */
/*
 * Tests for the sandbox of src/proc/sandbox.c with bubblewrap for real: the
 * probe's answer (and --sandbox off's), what a plain sandbox shows (its cwd,
 * not the covered data dir), and the shell line of a setup command, whose
 * quoting must carry any command through unchanged. Skipped where bwrap
 * cannot make namespaces (the probe says why).
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
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"

typedef struct {
    uv_loop_t loop;
    ad_procs_t *s;
    char dir[64];  /* the cwd shown read-write */
    char data[96]; /* a stand-in data dir, covered */
} fx_t;

static int setup(void **state)
{
    fx_t *f = ad_xcalloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    f->s = ad_procs_new(&f->loop, NULL);
    snprintf(f->dir, sizeof(f->dir), "/tmp/agentd-sbx-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
    assert_int_equal(mkdir(f->data, 0700), 0);
    char p[160];
    snprintf(p, sizeof(p), "%s/owner-token", f->data);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("secret-owner-token\n", fp);
    fclose(fp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    ad_procs_free(f->s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* Runs `sh -c line` in dir; its stdout (bounded) into out. Exit status. */
static int sh(const char *dir, const char *line, char *out, size_t outsz)
{
    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "cd '%s' && /bin/sh -c \"$AGENTD_SBX_LINE\" 2>&1", dir);
    setenv("AGENTD_SBX_LINE", line, 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outsz - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unsetenv("AGENTD_SBX_LINE");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void off_says_so(void **state)
{
    fx_t *f = *state;
    const char *why = NULL;
    assert_false(ad_procs_sandbox(f->s, &why)); /* not probed yet: none */
    ad_procs_sandbox_init(f->s, false, f->data);
    assert_false(ad_procs_sandbox(f->s, &why));
    assert_non_null(strstr(why, "--sandbox off"));
    assert_null(ad_proc_sandbox_shell(f->s, f->dir, "true", NULL));
}

static void plain_sandbox_shows_its_cwd_not_the_data_dir(void **state)
{
    fx_t *f = *state;
    const char *why = NULL;
    ad_procs_sandbox_init(f->s, true, f->data);
    if (!ad_procs_sandbox(f->s, &why)) {
        skip(); /* why says it: no bwrap or no user namespaces here */
    }
    assert_non_null(strstr(why, "bubblewrap"));
    /* network "off": no proxy (its half outside is agentd's own binary,
     * which this test is not; tests/e2e/sandbox-net-jobs.test.js runs it) */
    const ad_proc_net_t off = {.network = false};
    char *line = ad_proc_sandbox_shell(
        f->s, f->dir,
        "cat data/owner-token || echo NO-TOKEN; echo made > made.txt && echo WROTE; "
        "echo \"quotes 'single' and \\\"double\\\" \\$HOME\"; ls /proc | grep -c '^[0-9]'",
        &off);
    assert_non_null(line);
    char out[4096];
    int rc = sh(f->dir, line, out, sizeof(out));
    free(line);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "secret-owner-token"));
    assert_non_null(strstr(out, "NO-TOKEN"));
    assert_non_null(strstr(out, "WROTE"));
    assert_non_null(strstr(out, "quotes 'single' and \"double\" $HOME"));
    char made[160];
    snprintf(made, sizeof(made), "%s/made.txt", f->dir);
    assert_int_equal(access(made, F_OK), 0);
    /* its own pid namespace: a handful of processes, not the machine's */
    const char *last = strrchr(out, '\n');
    while (last != NULL && last > out && last[-1] != '\n') {
        last--;
    }
    assert_true(strtoul(last != NULL ? last : out, NULL, 10) < 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(off_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(plain_sandbox_shows_its_cwd_not_the_data_dir, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
