/* SPDX-License-Identifier: MIT */
/*
 * agentd-tray: the tray helper (src/cli/tray.c), a process of its own and
 * the only one linked with libsystemd. `agentd tray` execs it with the
 * data dir; it reads the same options and variables as agentd.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    static ad_config_t cfg;
    char err[512];
    json_set_alloc_funcs(ad_xmalloc, free);
    if (ad_config_load_env(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd tray: %s\n", err);
        return 2;
    }
    int rest = 0;
    int rc = ad_config_parse_args(&cfg, argc - 1, argv + 1, &rest, err, sizeof(err));
    if (rc == 1) {
        ad_cli_print_command_help(ad_cli_cmd("tray"), stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "agentd tray: %s\n", rc == 2 ? "agentd-tray has no --version" : err);
        return 2;
    }
    if (cfg.data_dir[0] == '\0') {
        fprintf(stderr, "agentd tray: no data dir: set --data-dir, AGENTD_DATA_DIR or HOME\n");
        return 2;
    }
    return ad_tray_main(&cfg, argc - 1 - rest, argv + 1 + rest);
}
