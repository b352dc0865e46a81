/* SPDX-License-Identifier: MIT */
/*
 * cli: the client commands (ls, new, start, send, logs, stop, rm) that talk
 * to a running daemon over its unix socket in the data dir. Blocking libcurl
 * calls: this runs in the short-lived client process, never in the daemon.
 */
#ifndef AD_CLI_H
#define AD_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/config.h"
#include "core/core.h"

/* The Commands section of `agentd --help`, from the command table (the
 * same table completion scripts are made from). */
void ad_cli_print_commands(FILE *out);
/* `agentd --help` and `agentd serve --help`. */
void ad_cli_print_usage(FILE *out);
void ad_cli_print_serve_usage(FILE *out);
/* True when cmd names a client command. */
bool ad_cli_is_command(const char *cmd);
/* Runs client command cmd with its arguments (argv[0..argc) after the
 * command name). cfg is borrowed; command flags may update it. Returns the
 * process exit code: 0 success, 1 failure (one clear line on stderr), 2 bad
 * usage. */
int ad_cli_main(ad_config_t *cfg, const char *cmd, int argc, char **argv);

#endif
