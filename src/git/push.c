/* SPDX-License-Identifier: MIT */
/*
 * git: pushing a worktree's branch. libgit2's push needs credential and
 * certificate callbacks to do what `git push` does with the user's ssh
 * agent, credential helpers and url rewrites, so the git program runs it:
 * a fixed argv, no shell, every user-given word validated and placed after
 * "--", stdin /dev/null, prompts off, the ext:: transport off, GIT_*
 * variables of agentd's own environment dropped, 2 minutes at most.
 * Pool threads only.
 */
#include "git/git_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PUSH_TIMEOUT_MS 120000
#define PUSH_OUTPUT_MAX (32 * 1024)

/* The git program on agentd's PATH, only when that is an absolute path: the
 * child runs in the worktree, where a relative PATH entry could find a
 * "git" an agent wrote. */
bool ad_gitx_find_git(char *out, size_t outsz)
{
    return ad_path_which("git", NULL, out, outsz) == 0 && out[0] == '/';
}

/* The remote a config names for branch when none is given:
 * branch.<b>.remote, else origin, else the only remote (remote.<x>.url).
 * Read from the config directly: in libgit2 1.5 git_remote_list() and
 * git_remote_lookup() leak PCRE2 match data on every call. */
static void default_remote(git_config *cfg, const char *branch, char *out, size_t outsz)
{
    git_buf buf = {0};
    git_config_iterator *it = NULL;
    git_config_entry *entry;
    char key[300], only[256] = "";
    size_t count = 0;
    snprintf(key, sizeof(key), "branch.%s.remote", branch);
    out[0] = '\0';
    if (git_config_get_string_buf(&buf, cfg, key) == 0) {
        snprintf(out, outsz, "%s", buf.ptr);
        git_buf_dispose(&buf);
        return;
    }
    if (git_config_iterator_new(&it, cfg) != 0) {
        return;
    }
    while (git_config_next(&entry, it) == 0) {
        size_t n = strlen(entry->name);
        if (strncmp(entry->name, "remote.", 7) != 0 || n < 12 ||
            strcmp(entry->name + n - 4, ".url") != 0 || n - 11 >= sizeof(only)) {
            continue;
        }
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(n - 11), entry->name + 7);
        if (strcmp(name, "origin") == 0) {
            snprintf(out, outsz, "origin");
        }
        if (count == 0 || strcmp(name, only) != 0) {
            count++;
            snprintf(only, sizeof(only), "%s", name);
        }
    }
    git_config_iterator_free(it);
    if (out[0] == '\0' && count == 1) {
        snprintf(out, outsz, "%s", only);
    }
}

/* url without the user info of scheme://user:secret@host/...: a token kept
 * in the remote's URL is never answered. */
static void url_without_secret(const char *url, char *out, size_t outsz)
{
    const char *s = strstr(url, "://");
    const char *at = s != NULL ? strchr(s + 3, '@') : NULL;
    const char *slash = s != NULL ? strchr(s + 3, '/') : NULL;
    if (at != NULL && (slash == NULL || at < slash)) {
        snprintf(out, outsz, "%.*s%s", (int)(s + 3 - url), url, at + 1);
    } else {
        snprintf(out, outsz, "%s", url);
    }
}

/* The remote to push to: given or the default; it must be a configured
 * remote (remote.<name>.url), named by the ref rules (never an option). */
static int pick_remote(git_repository *repo, const char *branch, const char *given, char *out,
                       size_t outsz, char *url_out, size_t urlsz, ad_git_err_t *e)
{
    git_config *cfg = NULL;
    git_buf url = {0};
    char key[300], why[200];
    if (git_repository_config_snapshot(&cfg, repo) != 0) {
        return ad_gitx_fail(e, AD_EINTERNAL, "", "cannot read the repository's config");
    }
    if (given != NULL) {
        snprintf(out, outsz, "%s", given);
    } else {
        default_remote(cfg, branch, out, outsz);
    }
    int rc = 0;
    if (given == NULL && (out[0] == '\0' || strcmp(out, ".") == 0)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "no_remote",
                          "%s has no remote to push to; add one (git remote add)", branch);
    } else {
        snprintf(key, sizeof(key), "remote.%s.url", out);
        if (!ad_git_ref_valid(out, why, sizeof(why)) ||
            git_config_get_string_buf(&url, cfg, key) != 0) {
            rc = ad_gitx_fail(e, AD_EINVAL, "invalid_remote", "no remote named %s", out);
        } else {
            url_without_secret(url.ptr, url_out, urlsz);
        }
    }
    git_buf_dispose(&url);
    git_config_free(cfg);
    return rc;
}

static int run_push(const ad_git_trust_t *t, const char *wt_path, const char *remote,
                    const char *url, const char *branch, json_t **out, ad_git_err_t *e)
{
    char refspec[600];
    snprintf(refspec, sizeof(refspec), "refs/heads/%s:refs/heads/%s", branch, branch);
    /* --receive-pack: the remote's program is git's own, whatever
     * remote.<name>.receivepack says (git keeps the first one it reads) */
    const char *const args[] = {
        "push", "--porcelain", "--set-upstream", "--no-verify", "--receive-pack=git-receive-pack",
        "--",   remote,        refspec,          NULL};
    ad_buf_t output;
    ad_buf_init(&output, PUSH_OUTPUT_MAX);
    bool truncated = false, timed_out = false;
    int st = 0;
    int rc = ad_gitx_inert(t, wt_path, true, args, PUSH_TIMEOUT_MS, &output, &truncated, &st,
                           &timed_out, e);
    if (rc == 0) {
        json_t *text = ad_gitx_json_text(output.data ? output.data : "", output.len);
        if (timed_out || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            rc = ad_gitx_fail(e, AD_ESTATE, "push_failed", "git push to %s %s", remote,
                              timed_out ? "took too long" : "failed");
            json_decref(e->details);
            e->details = json_pack("{s:o, s:s}", "output", text, "remote", remote);
        } else {
            *out = json_pack("{s:b, s:s, s:s, s:s, s:o}", "pushed", true, "remote", remote, "url",
                             url, "branch", branch, "output", text);
            ad_log(AD_LOG_INFO, "git", "pushed branch=%s remote=%s", branch, remote);
        }
    }
    ad_buf_cleanup(&output);
    return rc;
}

int ad_git_push(const ad_git_trust_t *t, const char *wt_path, const char *remote, json_t **out,
                ad_git_err_t *e)
{

    git_repository *repo = NULL;
    git_reference *head = NULL;
    char branch[256], rname[256], url[1024] = "";
    *out = NULL;
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc != 0) {
        return rc;
    }
    if (t == NULL) {
        git_repository_free(repo);
        return ad_gitx_fail(e, AD_EPERM, "untrusted_git",
                            "a push needs the worktree's repository from agentd's rows");
    }
    int grc = git_repository_head(&head, repo);
    if (grc < 0 || !git_reference_is_branch(head)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "detached",
                          "the worktree is not on a branch with a commit; nothing to push");
        goto out;
    }
    snprintf(branch, sizeof(branch), "%s", git_reference_shorthand(head));
    rc = pick_remote(repo, branch, remote, rname, sizeof(rname), url, sizeof(url), e);
    if (rc == 0) {
        rc = run_push(t, wt_path, rname, url, branch, out, e);
    }
out:
    git_reference_free(head);
    git_repository_free(repo);
    return rc;
}
