/* SPDX-License-Identifier: MIT */
/*
 * `agentd tray`: runs agentd-tray, the tray helper, which sits beside
 * agentd (as agentd-hold does). It is a binary of its own so that agentd
 * itself never links libsystemd or anything of D-Bus: the daemon's size
 * and memory stay what they are (tray.c, tray_dbus.c).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ad_cli_tray(ad_cli_t *c, int argc, char **argv)
{
    char dir[PATH_MAX], exe[PATH_MAX + 16];
    if (ad_exe_dir(dir, sizeof(dir)) != 0 ||
        (size_t)snprintf(exe, sizeof(exe), "%s/agentd-tray", dir) >= sizeof(exe)) {
        return ad_cli_fail(c, "cannot tell where this agentd is (/proc/self/exe)");
    }
    char *args[16] = {"agentd-tray", "--data-dir", c->cfg->data_dir};
    int n = 3;
    for (int i = 0; i < argc && n < (int)AD_ARRAY_LEN(args) - 1; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    execv(exe, args);
    char msg[PATH_MAX + 200];
    snprintf(msg, sizeof(msg),
             "cannot run %s (%s): the tray helper is built beside agentd when libsystemd is "
             "there (Debian: libsystemd-dev)",
             exe, strerror(errno));
    return ad_cli_fail(c, msg);
}
