/* SPDX-License-Identifier: MIT */
/*
 * Names where ids go: every client command that takes an agent, workspace
 * or worktree takes its name too. The caller's own list (the daemon filters
 * it by the token's org) is fetched once; an exact id wins over any name, a
 * name must match one row. An agent's name is looked for among live agents
 * first and among archived ones only when no live agent has it.
 *
 * A worktree named "main" that no worktree is named is the main worktree
 * of the one workspace (with several, the choice is refused as any name
 * several rows share).
 *
 * Exit codes: no match is 1 (like the daemon's 404 for an unknown id), a
 * name that matches several is 2 (a usage error: say which one) and the
 * candidates' ids are listed.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

/* The daemon's lists are bounded (10,000 rows, newest kept); past that an
 * old row can only be named by its id. We list at most MAX_CANDIDATES ids
 * in an ambiguity message. */
#define MAX_CANDIDATES 10

static const struct {
    const char *what, *path, *key;
} kinds[] = {
    [AD_CLI_AGENT] = {"agent", "/api/agents?includeDeleted=true", "agents"},
    [AD_CLI_WORKSPACE] = {"workspace", "/api/workspaces", "workspaces"},
    [AD_CLI_WORKTREE] = {"worktree", "/api/worktrees", "worktrees"},
};

static bool archived(json_t *row)
{
    return json_is_string(json_object_get(row, "deletedAt"));
}

/* Rows named want, among live (or archived) rows: their count, the ids of
 * the first few in ids (", "-separated) and the first id in out. */
static size_t by_name(json_t *rows, const char *want, bool want_archived, char *out, size_t outsz,
                      char *ids, size_t idsz)
{
    size_t i, hits = 0;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(ad_cli_str(r, "name", ""), want) != 0 || archived(r) != want_archived) {
            continue;
        }
        const char *id = ad_cli_str(r, "id", "");
        if (hits == 0) {
            snprintf(out, outsz, "%s", id);
        }
        if (hits < MAX_CANDIDATES) {
            size_t used = strlen(ids);
            snprintf(ids + used, idsz - used, "%s%s", hits > 0 ? ", " : "", id);
        } else if (hits == MAX_CANDIDATES) {
            size_t used = strlen(ids);
            snprintf(ids + used, idsz - used, ", ...");
        }
        hits++;
    }
    return hits;
}

/* "main", when no worktree has that name: a workspace's main worktree (its
 * own checkout, named after the workspace), which must be the only one.
 * As by_name. */
static size_t main_worktrees(json_t *rows, char *out, size_t outsz, char *ids, size_t idsz)
{
    size_t i, hits = 0;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (!json_is_true(json_object_get(r, "isMain"))) {
            continue;
        }
        const char *id = ad_cli_str(r, "id", "");
        if (hits == 0) {
            snprintf(out, outsz, "%s", id);
        }
        if (hits < MAX_CANDIDATES) {
            size_t used = strlen(ids);
            snprintf(ids + used, idsz - used, "%s%s (%s)", hits > 0 ? ", " : "", id,
                     ad_cli_str(r, "name", ""));
        }
        hits++;
    }
    return hits;
}

static int pick(ad_cli_t *c, ad_cli_kind_t kind, json_t *rows, const char *want, char *out,
                size_t outsz)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(ad_cli_str(r, "id", ""), want) == 0) {
            snprintf(out, outsz, "%s", want);
            return 0;
        }
    }
    char ids[1200] = "", msg[1600];
    size_t hits = by_name(rows, want, false, out, outsz, ids, sizeof(ids));
    if (hits == 0 && kind == AD_CLI_AGENT) {
        hits = by_name(rows, want, true, out, outsz, ids, sizeof(ids));
    }
    if (hits == 0 && kind == AD_CLI_WORKTREE && strcmp(want, "main") == 0) {
        hits = main_worktrees(rows, out, outsz, ids, sizeof(ids));
    }
    if (hits == 1) {
        return 0;
    }
    out[0] = '\0';
    if (hits == 0) {
        snprintf(msg, sizeof(msg), "no %s named %s", kinds[kind].what, want);
        return ad_cli_fail(c, msg);
    }
    fprintf(stderr, "%s: %zu %ss are named %s: %s; use an id\n", c->prog, hits, kinds[kind].what,
            want, ids);
    return 2;
}

int ad_cli_resolve(ad_cli_t *c, ad_cli_kind_t kind, const char *want, char *out, size_t outsz)
{
    int rc;
    out[0] = '\0';
    if (want == NULL || want[0] == '\0') {
        char msg[100];
        snprintf(msg, sizeof(msg), "an empty %s id or name", kinds[kind].what);
        return ad_cli_usage(c, msg);
    }
    json_t *j = ad_cli_call(c, "GET", kinds[kind].path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    rc = pick(c, kind, json_object_get(j, kinds[kind].key), want, out, outsz);
    json_decref(j);
    return rc;
}

int ad_cli_print_names(ad_cli_t *c, ad_cli_kind_t kind)
{
    int rc;
    json_t *j = ad_cli_call(c, "GET", kinds[kind].path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, kinds[kind].key), i, r)
    {
        const char *name = ad_cli_str(r, "name", "");
        if (name[0] != '\0' && !archived(r) && strchr(name, '\n') == NULL) {
            puts(name);
        }
    }
    json_decref(j);
    return 0;
}
