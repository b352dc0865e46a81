/* SPDX-License-Identifier: MIT */
/*
 * `agentd service`: agentd as a systemd service. The units are written
 * here and nowhere else: agentd.socket holds the TCP listener and the
 * CLI's unix socket (systemd keeps them while agentd restarts, so a
 * connection then waits instead of being refused) and starts
 * agentd.service on the first connection; the service runs `agentd serve
 * --keep-agents` with KillMode=process, so a restart or an upgrade
 * signals agentd alone and every agent's holder keeps its agent for the
 * next one. install writes the user's units and enables the socket,
 * uninstall undoes it, status says what is in place; units writes them
 * for a package (the user units with %h paths, or the system units that
 * run agentd as a dedicated user). Taking the listeners over is
 * src/http/inherit.c's.
 */
#define _GNU_SOURCE /* pipe2 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define UNIT_MAX 16384
#define SUN_PATH_MAX 107 /* what systemd's ListenStream= takes for a unix path */

typedef enum { UNITS_USER, UNITS_PACKAGE, UNITS_SYSTEM } units_kind_t;

typedef struct {
    units_kind_t kind;
    char exe[PATH_MAX];      /* UNITS_USER: this agentd */
    char data_dir[PATH_MAX]; /* UNITS_USER: the data dir, absolute */
    char listen[300];        /* HOST:PORT ([v6]:PORT) */
    const char *path_env;    /* UNITS_USER: the PATH agents are looked up on */
} units_t;

/* s with '%' doubled (systemd's specifiers), as one word of a unit line:
 * in double quotes when it has a blank, '"' or '\'. */
static int unit_word(ad_buf_t *b, const char *s, bool quote_if_needed)
{
    bool q = quote_if_needed && strpbrk(s, " \t\"\\") != NULL;
    int rc = q ? ad_buf_putc(b, '"') : 0;
    for (; rc == 0 && *s != '\0'; s++) {
        if (*s == '%') {
            rc = ad_buf_puts(b, "%%");
        } else if (q && (*s == '"' || *s == '\\')) {
            rc = ad_buf_putc(b, '\\');
            rc = rc ? rc : ad_buf_putc(b, *s);
        } else {
            rc = ad_buf_putc(b, *s);
        }
    }
    return rc ? rc : q ? ad_buf_putc(b, '"') : 0;
}

/* The data dir as the units name it (%h: the user's home, for a package). */
static const char *units_data_dir(const units_t *u)
{
    return u->kind == UNITS_SYSTEM    ? "/var/lib/agentd"
           : u->kind == UNITS_PACKAGE ? "%h/.local/share/agentd"
                                      : u->data_dir;
}

static int socket_unit(const units_t *u, ad_buf_t *b)
{
    int rc =
        ad_buf_printf(b,
                      "# agentd's listeners: systemd holds them, starts agentd.service on the\n"
                      "# first connection, and keeps them while agentd restarts (a connection\n"
                      "# then waits). Made by 'agentd service %s'.\n"
                      "[Unit]\n"
                      "Description=agentd sockets (dashboard and API, and the CLI's unix "
                      "socket)\n"
                      "Documentation=man:agentd(1) man:agentd-daemon(1)\n"
                      "\n"
                      "[Socket]\n"
                      "ListenStream=%s\n",
                      u->kind == UNITS_USER ? "install" : "units", u->listen);
    char sock[PATH_MAX + 20];
    snprintf(sock, sizeof(sock), "%s/agentd.sock", units_data_dir(u));
    if (rc == 0 && (u->kind != UNITS_USER || strlen(sock) <= SUN_PATH_MAX)) {
        rc = ad_buf_puts(b, "ListenStream=");
        rc = rc ? rc : u->kind == UNITS_USER ? unit_word(b, sock, false) : ad_buf_puts(b, sock);
        rc = rc ? rc : ad_buf_puts(b, "\n");
    } else if (rc == 0) {
        rc = ad_buf_puts(b, "# The data dir's path is too long for a unix socket here: agentd\n"
                            "# makes <data-dir>/agentd.sock itself.\n");
    }
    if (rc == 0 && u->kind == UNITS_SYSTEM) {
        rc = ad_buf_puts(b, "SocketUser=agentd\nSocketGroup=agentd\n");
    }
    return rc ? rc
              : ad_buf_puts(b, "SocketMode=0600\n"
                               "DirectoryMode=0700\n"
                               "FileDescriptorName=agentd\n"
                               "\n"
                               "[Install]\n"
                               "WantedBy=sockets.target\n");
}

static int service_unit(const units_t *u, ad_buf_t *b)
{
    int rc = ad_buf_printf(b,
                           "# agentd, started by agentd.socket on the first connection. Made by\n"
                           "# 'agentd service %s'.\n"
                           "[Unit]\n"
                           "Description=agentd, the local control plane for AI agents\n"
                           "Documentation=man:agentd(1) man:agentd-daemon(1)\n"
                           "Requires=agentd.socket\n"
                           "After=agentd.socket\n"
                           "\n"
                           "[Service]\n"
                           "Type=exec\n",
                           u->kind == UNITS_USER ? "install" : "units");
    if (rc == 0 && u->kind == UNITS_SYSTEM) {
        rc = ad_buf_puts(b, "User=agentd\n"
                            "Group=agentd\n"
                            "StateDirectory=agentd\n"
                            "StateDirectoryMode=0700\n"
                            "# Hardening (issue #73). Agents' sandboxes (bubblewrap) need user\n"
                            "# namespaces: no RestrictNamespaces=. The system is read-only but\n"
                            "# the data dir: list the repositories agents work in too\n"
                            "# (systemctl edit agentd.service: ReadWritePaths=/srv/repos).\n"
                            "NoNewPrivileges=yes\n"
                            "ProtectSystem=strict\n"
                            "ProtectHome=read-only\n"
                            "ReadWritePaths=/var/lib/agentd\n"
                            "PrivateTmp=yes\n"
                            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n");
    }
    if (rc == 0 && u->kind == UNITS_USER && u->path_env != NULL && u->path_env[0] != '\0') {
        /* the user manager's PATH is short: agents' CLIs live in ~/.local/bin,
         * npm's folder... */
        rc = ad_buf_puts(b, "Environment=");
        char kv[8192];
        snprintf(kv, sizeof(kv), "PATH=%s", u->path_env);
        rc = rc ? rc : unit_word(b, kv, true);
        rc = rc ? rc : ad_buf_puts(b, "\n");
    }
    rc = rc ? rc : ad_buf_puts(b, "ExecStart=");
    rc = rc                      ? rc
         : u->kind == UNITS_USER ? unit_word(b, u->exe, true)
                                 : ad_buf_puts(b, "/usr/bin/agentd");
    rc = rc ? rc : ad_buf_puts(b, " serve --data-dir=");
    rc = rc                      ? rc
         : u->kind == UNITS_USER ? unit_word(b, u->data_dir, true)
                                 : ad_buf_puts(b, units_data_dir(u));
    return rc ? rc
              : ad_buf_puts(
                    b, " --keep-agents\n"
                       "# A stop or a restart signals agentd alone: each agent's holder stays\n"
                       "# in this cgroup and keeps its agent for the next agentd.\n"
                       "KillMode=process\n"
                       "# agentd gives each run a cgroup of its own below this one.\n"
                       "Delegate=yes\n"
                       "Restart=on-failure\n"
                       "TimeoutStopSec=60\n"
                       "\n"
                       "[Install]\n"
                       "Also=agentd.socket\n");
}

static void listen_of(const ad_config_t *cfg, char *out, size_t outsz)
{
    bool v6 = strchr(cfg->listen_host, ':') != NULL;
    snprintf(out, outsz, "%s%s%s:%d", v6 ? "[" : "", cfg->listen_host, v6 ? "]" : "",
             cfg->listen_port);
}

/* The units for this user and this agentd: its own executable, the data
 * dir made absolute, --listen, and the PATH of the shell that runs this. */
static int user_units(ad_cli_t *c, units_t *u)
{
    memset(u, 0, sizeof(*u));
    u->kind = UNITS_USER;
    char dir[PATH_MAX];
    if (ad_exe_dir(dir, sizeof(dir)) != 0 ||
        (size_t)snprintf(u->exe, sizeof(u->exe), "%s/agentd", dir) >= sizeof(u->exe)) {
        return ad_cli_fail(c, "cannot tell where this agentd is (/proc/self/exe)");
    }
    const char *dd = c->cfg->data_dir;
    char cwd[PATH_MAX];
    int n = dd[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL
                ? snprintf(u->data_dir, sizeof(u->data_dir), "%.2048s/%.2040s", cwd, dd)
                : snprintf(u->data_dir, sizeof(u->data_dir), "%s", dd);
    if (n < 0 || (size_t)n >= sizeof(u->data_dir)) {
        return ad_cli_fail(c, "the data dir's path is too long");
    }
    if (c->cfg->listen_port == 0) {
        return ad_cli_usage(c, "the service needs a fixed port: --listen HOST:PORT with PORT > 0");
    }
    listen_of(c->cfg, u->listen, sizeof(u->listen));
    u->path_env = getenv("PATH");
    return 0;
}

/* ~/.config/systemd/user ($XDG_CONFIG_HOME/systemd/user). */
static int unit_dir(char *out, size_t outsz)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    size_t n = xdg != NULL && xdg[0] == '/' ? (size_t)snprintf(out, outsz, "%s/systemd/user", xdg)
               : home != NULL && home[0] == '/'
                   ? (size_t)snprintf(out, outsz, "%s/.config/systemd/user", home)
                   : outsz;
    return n < outsz ? 0 : AD_EINVAL;
}

/* mkdir -p path (0755: what systemd's own folders are). */
static int make_dirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s != '\0'; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *s = '/';
        }
    }
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* The file's content into b (AD_ENOENT when missing). */
static int read_file(const char *path, ad_buf_t *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return AD_ENOENT;
    }
    char tmp[4096];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = read(fd, tmp, sizeof(tmp))) > 0) {
        rc = ad_buf_append(b, tmp, (size_t)n);
    }
    close(fd);
    return rc;
}

/* Writes data to dir/name through a temporary file and a rename; a file
 * that already holds it is left alone (*changed false). */
static int write_unit(const char *dir, const char *name, const ad_buf_t *data, bool *changed)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ad_buf_t old;
    ad_buf_init(&old, UNIT_MAX);
    *changed = !(read_file(path, &old) == 0 && old.len == data->len &&
                 memcmp(old.data, data->data, data->len) == 0);
    ad_buf_cleanup(&old);
    if (!*changed) {
        return 0;
    }
    snprintf(tmp, sizeof(tmp), "%s.agentd-tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    bool ok = write(fd, data->data, data->len) == (ssize_t)data->len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Runs argv (found on PATH) and waits: its exit status, or -1 when it
 * could not run. Its stdout's first line goes to out when out is given
 * (stderr is the terminal's). */
static int run(char *const argv[], char *out, size_t outsz)
{
    int pfd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out != NULL) {
        out[0] = '\0';
        if (pipe2(pfd, O_CLOEXEC) != 0) {
            posix_spawn_file_actions_destroy(&fa);
            return -1;
        }
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out != NULL) {
        close(pfd[1]);
        size_t n = 0;
        ssize_t r;
        char sink[512];
        while (rc == 0 && (r = read(pfd[0], n + 1 < outsz ? out + n : sink,
                                    n + 1 < outsz ? outsz - 1 - n : sizeof(sink))) > 0) {
            n += n + 1 < outsz ? (size_t)r : 0;
        }
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
        close(pfd[0]);
    }
    if (rc != 0) {
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int systemctl(const char *a, const char *b, const char *c, char *out, size_t outsz)
{
    char *argv[] = {"systemctl", "--user", (char *)a, (char *)b, (char *)c, NULL};
    return run(argv, out, outsz);
}

static bool lingering(char *user, size_t usersz)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(user, usersz, "%s", pw != NULL ? pw->pw_name : "$USER");
    char path[300];
    snprintf(path, sizeof(path), "/var/lib/systemd/linger/%s", user);
    return access(path, F_OK) == 0;
}

static void linger_advice(void)
{
    char user[128];
    if (lingering(user, sizeof(user))) {
        printf("linger is on: agentd and its agents keep running after you log out\n");
        return;
    }
    printf("agentd runs while you are logged in. For a machine you do not log in to (a\n"
           "server, a box reached over ssh), or to keep agents running after you log out,\n"
           "let your services run without a session:\n"
           "  loginctl enable-linger %s\n",
           user);
}

/* Whether a daemon answers on the data dir's socket: its version then. */
static bool daemon_answers(ad_cli_t *c, char *version, size_t vsz)
{
    long status = 0;
    int rc = 0;
    json_t *j = ad_cli_call_any(c, "GET", "/api/health", NULL, &status, &rc);
    bool up = j != NULL && status == 200;
    snprintf(version, vsz, "%s", up ? ad_cli_str(j, "version", "?") : "");
    json_decref(j);
    return up;
}

static int make_units(const units_t *u, ad_buf_t *sock, ad_buf_t *svc)
{
    ad_buf_init(sock, UNIT_MAX);
    ad_buf_init(svc, UNIT_MAX);
    int rc = socket_unit(u, sock);
    return rc ? rc : service_unit(u, svc);
}

static int install(ad_cli_t *c, int argc, char **argv)
{
    bool no_start = false;
    ad_cli_flag_t flags[] = {{"--no-start", false, NULL, &no_start}};
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    units_t u;
    char dir[PATH_MAX], state[64], version[64];
    if ((rc = user_units(c, &u)) != 0) {
        return rc;
    }
    if (unit_dir(dir, sizeof(dir)) != 0 || make_dirs(dir) != 0) {
        return ad_cli_fail(c, "cannot make the folder for user units (~/.config/systemd/user)");
    }
    /* A daemon started by hand holds the port and the socket: the socket
     * unit could take neither. */
    bool up = daemon_answers(c, version, sizeof(version));
    if (up && !no_start &&
        (systemctl("is-active", "agentd.service", NULL, state, sizeof(state)) != 0 ||
         strcmp(state, "active") != 0)) {
        fprintf(stderr,
                "%s: an agentd not started by systemd already runs on %s: stop it first (with "
                "--keep-agents its agents go on and the service takes them up), or pass "
                "--no-start\n",
                c->prog, u.data_dir);
        return 1;
    }
    ad_buf_t sock, svc;
    bool ch_sock = false, ch_svc = false;
    rc = make_units(&u, &sock, &svc);
    if (rc == 0 && (write_unit(dir, "agentd.socket", &sock, &ch_sock) != 0 ||
                    write_unit(dir, "agentd.service", &svc, &ch_svc) != 0)) {
        rc = -1;
    }
    ad_buf_cleanup(&sock);
    ad_buf_cleanup(&svc);
    if (rc != 0) {
        return ad_cli_fail(c, "cannot write the units (see the folder's permissions)");
    }
    printf("%s/agentd.socket %s\n%s/agentd.service %s\n", dir, ch_sock ? "written" : "unchanged",
           dir, ch_svc ? "written" : "unchanged");
    int r = systemctl("daemon-reload", NULL, NULL, NULL, 0);
    if (r == 0) {
        r = systemctl("enable", no_start ? "agentd.socket" : "--now",
                      no_start ? NULL : "agentd.socket", NULL, 0);
    }
    if (r != 0) {
        fprintf(stderr,
                "%s: systemctl --user did not take them (%s): without a user session manager\n"
                "(no systemd, or no login session here), enable them later with:\n"
                "  systemctl --user daemon-reload && systemctl --user enable --now "
                "agentd.socket\n",
                c->prog, r < 0 ? "no systemctl" : "it failed");
        return 1;
    }
    if ((ch_sock || ch_svc) && up) {
        printf("agentd.service runs the old units: 'systemctl --user restart agentd.service' "
               "takes the new ones (agents keep running)\n");
    }
    printf("agentd.socket is %s: agentd starts on the first connection to %s or %s/agentd.sock\n",
           no_start ? "enabled (from your next login)" : "enabled and listening", u.listen,
           u.data_dir);
    linger_advice();
    return 0;
}

static int uninstall(ad_cli_t *c, int argc, char **argv)
{
    int npos, rc = ad_cli_parse(c, argc, argv, NULL, 0, NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    char dir[PATH_MAX], path[PATH_MAX + 32];
    if (unit_dir(dir, sizeof(dir)) != 0) {
        return ad_cli_fail(c, "no home folder: set HOME");
    }
    int r = systemctl("disable", "--now", "agentd.socket", NULL, 0);
    r = r == 0 ? systemctl("stop", "agentd.service", NULL, NULL, 0) : r;
    bool removed = false;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/agentd.%s", dir, i == 0 ? "socket" : "service");
        if (unlink(path) == 0) {
            printf("removed %s\n", path);
            removed = true;
        }
    }
    if (removed) {
        systemctl("daemon-reload", NULL, NULL, NULL, 0);
    }
    if (r != 0) {
        fprintf(stderr, "%s: systemctl --user could not stop the units (%s)\n", c->prog,
                r < 0 ? "no systemctl" : "it failed");
    }
    printf("agentd is no longer started by systemd; agents its holders keep go on running "
           "until an agentd on the same data dir takes them up or they end\n");
    return r == 0 ? 0 : 1;
}

/* Whether the unit file in dir is what install would write now. */
static const char *unit_state(const char *dir, const char *name, const ad_buf_t *want, char *path,
                              size_t pathsz)
{
    snprintf(path, pathsz, "%s/%s", dir, name);
    ad_buf_t have;
    ad_buf_init(&have, UNIT_MAX);
    int rc = read_file(path, &have);
    bool same = rc == 0 && have.len == want->len && memcmp(have.data, want->data, want->len) == 0;
    ad_buf_cleanup(&have);
    return rc == AD_ENOENT ? "missing" : same ? "current" : "differs";
}

static int status(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    units_t u;
    char dir[PATH_MAX], psock[PATH_MAX + 32], psvc[PATH_MAX + 32];
    char enabled[64], sock_active[64], svc_active[64], version[64], user[128];
    if ((rc = user_units(c, &u)) != 0) {
        return rc;
    }
    if (unit_dir(dir, sizeof(dir)) != 0) {
        return ad_cli_fail(c, "no home folder: set HOME");
    }
    ad_buf_t sock, svc;
    if (make_units(&u, &sock, &svc) != 0) {
        ad_buf_cleanup(&sock);
        ad_buf_cleanup(&svc);
        return ad_cli_fail(c, "a unit does not fit its buffer");
    }
    const char *st_sock = unit_state(dir, "agentd.socket", &sock, psock, sizeof(psock));
    const char *st_svc = unit_state(dir, "agentd.service", &svc, psvc, sizeof(psvc));
    ad_buf_cleanup(&sock);
    ad_buf_cleanup(&svc);
    bool have_systemctl =
        systemctl("is-enabled", "agentd.socket", NULL, enabled, sizeof(enabled)) >= 0;
    systemctl("is-active", "agentd.socket", NULL, sock_active, sizeof(sock_active));
    systemctl("is-active", "agentd.service", NULL, svc_active, sizeof(svc_active));
    bool up = daemon_answers(c, version, sizeof(version));
    bool linger = lingering(user, sizeof(user));
    if (c->json) {
        json_t *j =
            json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s}, s:{s:b, s:s?}, s:b}",
                      "socketUnit", "path", psock, "state", st_sock, "serviceUnit", "path", psvc,
                      "state", st_svc, "socket", "enabled", have_systemctl ? enabled : "unknown",
                      "active", have_systemctl ? sock_active : "unknown", "service", "active",
                      have_systemctl ? svc_active : "unknown", "daemon", "running", up, "version",
                      up ? version : NULL, "linger", linger);
        ad_cli_print_json(j);
        json_decref(j);
        return 0;
    }
    printf("units:          %s (%s)\n                %s (%s)\n", psock, st_sock, psvc, st_svc);
    if (have_systemctl) {
        printf("agentd.socket:  %s, %s\n", enabled[0] ? enabled : "?",
               sock_active[0] ? sock_active : "?");
        printf("agentd.service: %s%s\n", svc_active[0] ? svc_active : "?",
               strcmp(svc_active, "active") == 0 ? "" : " (starts on the first connection)");
    } else {
        printf("systemctl:      not found (no systemd here)\n");
    }
    printf("daemon:         %s%s\n", up ? "answering, version " : "not running", up ? version : "");
    printf("linger:         %s\n", linger ? "on (runs without a login session)"
                                          : "off (stops when you log out: loginctl enable-linger)");
    if (strcmp(st_sock, "current") != 0 || strcmp(st_svc, "current") != 0) {
        printf("run 'agentd service install' to write the units as this agentd makes them\n");
    }
    return 0;
}

/* `service units [--system] DIR`: the units a package installs. */
static int units(ad_cli_t *c, int argc, char **argv)
{
    bool sys = false;
    ad_cli_flag_t flags[] = {{"--system", false, NULL, &sys}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd service units [--system] DIR");
    }
    units_t u = {.kind = sys ? UNITS_SYSTEM : UNITS_PACKAGE};
    listen_of(c->cfg, u.listen, sizeof(u.listen));
    ad_buf_t sock, svc;
    bool changed;
    rc = make_units(&u, &sock, &svc);
    if (rc == 0 &&
        (make_dirs(pos[0]) != 0 || write_unit(pos[0], "agentd.socket", &sock, &changed) != 0 ||
         write_unit(pos[0], "agentd.service", &svc, &changed) != 0)) {
        rc = -1;
    }
    ad_buf_cleanup(&sock);
    ad_buf_cleanup(&svc);
    return rc == 0 ? 0 : ad_cli_fail(c, "cannot write the units");
}

int ad_cli_service(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {
        {"install", install}, {"uninstall", uninstall}, {"status", status}, {"units", units}};
    return ad_cli_subcommand(c, "service", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd service install|uninstall|status|units", argc, argv);
}
