/* SPDX-License-Identifier: MIT */
/*
 * proc internals shared by proc.c and env.c: building a child's environment
 * and finding its executable. Not for other subsystems.
 */
#ifndef AD_PROC_INT_H
#define AD_PROC_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Builds a NULL-terminated "NAME=value" array: the inherited allow-list,
 * then extra (may be NULL) overriding by name; AGENTD_* is dropped from
 * both. TERM is inherited only when pty (default xterm-256color). Returns 0
 * and *out (owned: free with ad_proc_env_free()), or AD_EINVAL with err set
 * for an entry that is not NAME=value. */
int ad_proc_env_build(const char *const *extra, bool pty, char ***out, char *err, size_t errsz);
void ad_proc_env_free(char **env);
/* The value of name in env, or NULL. Borrowed from env. */
const char *ad_proc_env_get(char *const *env, const char *name);

#endif
