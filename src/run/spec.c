/* SPDX-License-Identifier: MIT */
/*
 * An agent's run settings checked before they are stored (the REST layer
 * answers 422 with the reason these give): its environment (and the names
 * that change how a program loads or what it runs), the shape of its
 * sandbox policy, its cgroup limits and the URL its CLI sends requests to.
 * Who may set them is the caller's business (src/api), but for a sandbox
 * policy's owner rules (ad_run_sandbox_allowed). Also what a new
 * agent gets when the request leaves a field out, and whether auto mode
 * as root is refused.
 */
#include "rows.h"
#include "run/run.h"
#include "tables/auth.h"
#include "tables/settings.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

bool ad_run_env_unsafe(const char *name)
{
    /* Programs that read their options, plug-ins or code from the
     * environment (the list is long because it has to be: each was a way to
     * run code in a child). */
    static const char *const prefixes[] = {
        "LD_",     "DYLD_",     "GIT_",    "NODE_",       "PYTHON",     "PERL",      "RUBY",
        "JAVA_",   "_JAVA_",    "JDK_",    "BASH_FUNC_",  "MALLOC_",    "GCONV_",    "NPM_CONFIG_",
        "GLIBC_",  "MAKE",      "GNUMAKE", "CARGO_",      "RUSTC",      "RUSTDOC",   "RUSTFLAGS",
        "GO",      "CGO_",      "DOTNET_", "COMPlus_",    "CORECLR_",   "MONO_",     "LUA_",
        "TCL",     "R_",        "JULIA_",  "ERL_",        "ELIXIR_",    "PHP",       "OPENSSL_",
        "SSL_",    "PIP_",      "CONDA",   "VIRTUAL_ENV", "GEM_",       "BUNDLE_",   "BUN_",
        "DENO_",   "ELECTRON_", "QT_",     "GTK_",        "GIO_",       "GDK_",      "XDG_",
        "SSH_",    "GNUPG",     "GPG_",    "KRB5",        "PKG_CONFIG", "CAML",      "OCAML",
        "SVN_",    "HG",        "LESS",    "MAN",         "GROFF_",     "TEXINPUTS", "TERMINFO",
        "TERMCAP", "PS1",       "PS2",     "PS4",         "NLSPATH",    "CCACHE_",   "DISTCC_"};
    static const char *const names[] = {
        "PATH", "ENV", "BASH_ENV", "PROMPT_COMMAND", "SHELLOPTS", "IFS", "CDPATH", "CLASSPATH",
        "PERLLIB", "HOME", "SHELL", "EDITOR", "VISUAL", "PAGER", "LOCPATH", "HOSTALIASES",
        "RES_OPTIONS", "TMPDIR", "BROWSER", "SSH_ASKPASS", "SUDO_ASKPASS", "ZDOTDIR",
        "XDG_CONFIG_HOME", "CC", "CXX", "CPP", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS",
        "LDLIBS", "AR", "LD", "AS", "INPUTRC", "VIMINIT", "EXINIT", "MYVIMRC", "EMACSLOADPATH",
        "SSLKEYLOGFILE", "CURL_HOME", "WGETRC", "GETCONF_DIR", "HISTFILE", "KUBECONFIG",
        "DOCKER_HOST", "BROWSER", "COMP_WORDBREAKS", "ENV_FILE",
        /* where the CLIs read their config and hooks, how bash starts (issue #73) */
        "CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "BASHOPTS", "OPENAI_API_BASE"};
    /* where requests go: a proxy or another API host sees the prompts and
     * the keys (HTTPS_PROXY, ALL_PROXY, NO_PROXY, ANTHROPIC_BASE_URL,
     * OPENAI_BASE_URL, GOOGLE_GEMINI_BASE_URL, ...; issue #73) */
    static const char *const suffixes[] = {"_PROXY", "_BASE_URL"};
    size_t nl = strlen(name);
    for (size_t i = 0; i < AD_ARRAY_LEN(suffixes); i++) {
        size_t sl = strlen(suffixes[i]);
        if ((nl >= sl && strcasecmp(name + nl - sl, suffixes[i]) == 0) ||
            strcasecmp(name, suffixes[i] + 1) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(prefixes); i++) {
        if (strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

int ad_run_env_check(const json_t *env, bool allow_unsafe, char *why, size_t whysz)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v)
    {
        if (!json_is_string(v) || k[0] == '\0' || strchr(k, '=') != NULL) {
            snprintf(why, whysz, "must map variable names to strings");
            return AD_EINVAL;
        }
        if (!allow_unsafe && ad_run_env_unsafe(k)) {
            snprintf(why, whysz,
                     "sets %s, which changes how programs load or what they run; send "
                     "allowUnsafeEnv: true to allow it",
                     k);
            return AD_EINVAL;
        }
    }
    return 0;
}

/* network {allow: ["host", "host:port", "[v6]:port"]}: at most 32 names of
 * at most 255 characters, nothing a proxy request line could be bent with. */
static int allow_check(const json_t *net, char *why, size_t whysz)
{
    json_t *allow = json_object_get(net, "allow");
    if (json_object_size(net) != 1 || !json_is_array(allow) || json_array_size(allow) == 0 ||
        json_array_size(allow) > 32) {
        snprintf(why, whysz, "network {allow} takes a list of 1 to 32 hosts");
        return AD_EINVAL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(allow, i, v)
    {
        const char *h = json_string_value(v);
        size_t n = h != NULL ? strlen(h) : 0;
        bool ok = n > 0 && n <= 255 && h[0] != ':';
        for (size_t j = 0; ok && j < n; j++) {
            char c = h[j];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
        }
        if (!ok) {
            snprintf(why, whysz, "each network allow entry is host, host:port or [v6]:port");
            return AD_EINVAL;
        }
    }
    return 0;
}

/* hostServices ["127.0.0.1:5432", "[::1]:6379"]: at most 16 services of
 * this host, each an IP literal as inet_ntop writes it (the proxy
 * compares them as text) and a port; ports distinct (each is also a
 * listener on the agent's loopback) and not the proxy's own, 3128. */
static int services_check(const json_t *v, char *why, size_t whysz)
{
    if (!json_is_array(v) || json_array_size(v) > 16) {
        snprintf(why, whysz, "hostServices must be a list of at most 16 \"ADDR:PORT\"");
        return AD_EINVAL;
    }
    unsigned long ports[16];
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        const char *colon = s != NULL ? strrchr(s, ':') : NULL;
        char addr[64], back[INET6_ADDRSTRLEN];
        unsigned char bin[16];
        bool v6 = s != NULL && s[0] == '[';
        size_t al = colon != NULL ? (size_t)(colon - s) : 0;
        bool ok =
            colon != NULL && al > (v6 ? 2u : 0u) && al < sizeof(addr) && (!v6 || colon[-1] == ']');
        if (ok) {
            memcpy(addr, s + v6, al - (v6 ? 2 : 0));
            addr[al - (v6 ? 2 : 0)] = '\0';
            ok = inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) == 1 &&
                 inet_ntop(v6 ? AF_INET6 : AF_INET, bin, back, sizeof(back)) != NULL &&
                 strcmp(back, addr) == 0;
        }
        char *end = NULL;
        unsigned long port = ok ? strtoul(colon + 1, &end, 10) : 0;
        ok = ok && colon[1] >= '1' && colon[1] <= '9' && end != NULL && *end == '\0' &&
             port <= 65535 && port != 3128;
        for (size_t j = 0; ok && j < i; j++) {
            ok = ports[j] != port;
        }
        if (!ok) {
            snprintf(why, whysz,
                     "each hostServices entry is ADDR:PORT with ADDR an IP address as written "
                     "by inet_ntop (127.0.0.1, [::1]) and PORT 1-65535, not 3128, each port "
                     "once");
            return AD_EINVAL;
        }
        ports[i] = port;
    }
    return 0;
}

static int paths_check(const ad_config_t *cfg, const json_t *v, char *why, size_t whysz)
{
    if (!json_is_array(v) || json_array_size(v) > 16) {
        snprintf(why, whysz, "paths must be a list of at most 16");
        return AD_EINVAL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(v, i, p)
    {
        const char *path = json_is_string(p) ? json_string_value(p)
                                             : json_string_value(json_object_get(p, "path"));
        json_t *w = json_object_get(p, "write");
        if (path == NULL || (w != NULL && !json_is_boolean(w))) {
            snprintf(why, whysz, "each path must be a string or {path, write: true|false}");
            return AD_EINVAL;
        }
        if (!ad_run_sandbox_path_ok(cfg, path, why, whysz)) {
            return AD_EINVAL;
        }
    }
    return 0;
}

int ad_run_sandbox_check(const ad_config_t *cfg, const json_t *sb, char *why, size_t whysz)
{
    if (!json_is_object(sb)) {
        snprintf(why, whysz, "must be \"none\" or {network, paths}");
        return AD_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sb, k, v)
    {
        if (strcmp(k, "network") == 0) {
            const char *n = json_string_value(v);
            if (json_is_object(v)) {
                if (allow_check(v, why, whysz) != 0) {
                    return AD_EINVAL;
                }
            } else if (n == NULL || (strcmp(n, "on") != 0 && strcmp(n, "off") != 0)) {
                snprintf(why, whysz, "network must be \"on\", \"off\" or {allow: [host[:port]]}");
                return AD_EINVAL;
            }
        } else if (strcmp(k, "paths") == 0) {
            if (paths_check(cfg, v, why, whysz) != 0) {
                return AD_EINVAL;
            }
        } else if (strcmp(k, "hostServices") == 0) {
            if (services_check(v, why, whysz) != 0) {
                return AD_EINVAL;
            }
        } else {
            snprintf(why, whysz, "takes network, paths and hostServices only");
            return AD_EINVAL;
        }
    }
    return 0;
}

/* A policy as the note shows it: compact JSON (the caller frees it), or
 * NULL for "default". */
static char *note_policy(const json_t *sb)
{
    return sb != NULL && !json_is_null(sb)
               ? json_dumps(sb, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
               : NULL;
}

void ad_run_sandbox_note(const char *what, const json_t *old, const json_t *now, char *out,
                         size_t n)
{
    char *o = note_policy(old), *w = note_policy(now);
    snprintf(out, n, "%s: %s -> %s", what, o != NULL ? o : "default", w != NULL ? w : "default");
    free(o);
    free(w);
}

int ad_run_sandbox_allowed(const ad_config_t *cfg, const json_t *sb, bool workspace, bool owner,
                           const char *org_id, char *why, size_t whysz)
{
    if (workspace && !json_is_object(sb)) {
        snprintf(why, whysz,
                 "a workspace's sandbox is {network, paths} (or null for agentd's "
                 "default); \"none\" is set per agent, by the owner");
        return AD_EINVAL;
    }
    if (json_is_string(sb)) {
        if (strcmp(json_string_value(sb), "none") != 0) {
            snprintf(why, whysz, "must be \"none\" or {network, paths}");
            return AD_EINVAL;
        }
        if (!owner) {
            snprintf(why, whysz,
                     "only the owner may run an agent without a sandbox "
                     "(sandbox: \"none\")");
            return AD_EPERM;
        }
        return 0;
    }
    if (ad_run_sandbox_check(cfg, sb, why, whysz) != 0) {
        return AD_EINVAL;
    }
    /* Paths show this machine's files: another organisation's admin (the
     * attacker of issue #31) would name ~/.ssh or the owner's checkouts. */
    if (json_array_size(json_object_get(sb, "paths")) > 0 && !owner &&
        strcmp(org_id, AD_ORG_DEFAULT) != 0) {
        snprintf(why, whysz,
                 "only the owner's organisation may show an agent paths beyond its "
                 "worktree (sandbox.paths): they are this machine's files");
        return AD_EPERM;
    }
    /* Host services are this machine's too (its Redis holds every
     * organisation's events). */
    if (json_array_size(json_object_get(sb, "hostServices")) > 0 && !owner &&
        strcmp(org_id, AD_ORG_DEFAULT) != 0) {
        snprintf(why, whysz,
                 "only the owner's organisation may open this host's services to an agent "
                 "(sandbox.hostServices)");
        return AD_EPERM;
    }
    return 0;
}

int ad_run_limits_check(const json_t *lim, char *why, size_t whysz)
{
    if (!json_is_object(lim)) {
        snprintf(why, whysz, "must be an object {memoryMb, cpuPercent}");
        return AD_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)lim, k, v)
    {
        bool mem = strcmp(k, "memoryMb") == 0, cpu = strcmp(k, "cpuPercent") == 0;
        json_int_t x = json_integer_value(v);
        if ((!mem && !cpu) || !json_is_integer(v) || (mem && (x < 16 || x > 1048576)) ||
            (cpu && (x < 1 || x > 100000))) {
            snprintf(why, whysz, "memoryMb must be 16 to 1048576 and cpuPercent 1 to 100000");
            return AD_EINVAL;
        }
    }
    return 0;
}

bool ad_run_base_url_ok(const char *url)
{
    bool ok = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
    for (const char *c = url; ok && *c != '\0'; c++) {
        ok = *c > ' ' && *c < 0x7f;
    }
    return ok;
}

void ad_run_agent_defaults(ad_store_t *st, json_t *args)
{
    if (json_object_get(args, "name") == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char name[32];
        snprintf(name, sizeof(name), "Agent %02d:%02d", tm.tm_hour % 100, tm.tm_min % 100);
        json_object_set_new(args, "name", json_string(name));
    }
    if (json_object_get(args, "mode") == NULL) {
        /* The default_mode setting, itself "regular" by default. */
        json_t *s = NULL;
        const char *m = "regular";
        if (ad_store_settings_get(st, &s) == 0) {
            const char *v = json_string_value(json_object_get(s, "default_mode"));
            ad_row_agent_mode_t known;
            if (ad_row_agent_mode_parse(v, &known) == 0) {
                m = v;
            }
        }
        json_object_set_new(args, "mode", json_string(m));
        json_decref(s);
    }
    if (json_object_get(args, "permissions") == NULL) {
        json_object_set_new(args, "permissions", json_pack("[s]", "read"));
    }
}

const char *ad_run_root_auto_refused(ad_store_t *st, const char *mode, const char *executor)
{
    if (mode == NULL || strcmp(mode, "auto") != 0 || geteuid() != 0 ||
        (executor != NULL && strcmp(executor, "claude") != 0)) {
        return NULL;
    }
    json_t *s = NULL;
    bool allowed =
        ad_store_settings_get(st, &s) == 0 && json_is_true(json_object_get(s, "allow_root_auto"));
    json_decref(s);
    return allowed ? NULL
                   : "auto mode as root is off: agentd runs as root, and Claude Code may then "
                     "skip permissions only inside a sandbox. Run agentd as a normal user, or "
                     "set allow_root_auto (PATCH /api/settings) if this machine is a sandbox";
}

bool ad_run_node_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

int ad_run_placement_check(const json_t *p, char *why, size_t whysz)
{
    if (!json_is_object(p)) {
        snprintf(why, whysz, "must be an object {labels, gpu, memoryMb, queue}");
        return AD_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p, k, v)
    {
        if (strcmp(k, "labels") == 0) {
            if (!json_is_object(v) || json_object_size(v) > 32) {
                snprintf(why, whysz, "labels must be an object of at most 32 strings");
                return AD_EINVAL;
            }
            const char *lk;
            json_t *lv;
            json_object_foreach(v, lk, lv)
            {
                if (!ad_run_node_name_ok(lk) || !json_is_string(lv) ||
                    json_string_length(lv) > 128) {
                    snprintf(why, whysz,
                             "label %.64s: names are letters, digits, . _ -, values "
                             "strings up to 128 bytes",
                             lk);
                    return AD_EINVAL;
                }
            }
        } else if (strcmp(k, "gpu") == 0 || strcmp(k, "queue") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(why, whysz, "%s must be true or false", k);
                return AD_EINVAL;
            }
        } else if (strcmp(k, "memoryMb") == 0) {
            json_int_t mb = json_integer_value(v);
            if (!json_is_integer(v) || mb < 1 || mb > 16777216) {
                snprintf(why, whysz, "memoryMb must be an integer from 1 to 16777216");
                return AD_EINVAL;
            }
        } else {
            snprintf(why, whysz, "%.64s is not a placement field (labels, gpu, memoryMb, queue)",
                     k);
            return AD_EINVAL;
        }
    }
    return 0;
}
