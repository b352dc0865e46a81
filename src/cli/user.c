/* SPDX-License-Identifier: MIT */
/*
 * agentd user add|ls|passwd|disable|rm|role: user accounts over the
 * daemon's unix socket (the owner's). A password is read from standard
 * input (without echo on a terminal), never from the command line, where
 * every user of the machine could read it.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* One line of standard input into out (its newline dropped), asked for
 * with prompt and no echo on a terminal: 0, or 1 after a message. */
static int read_password(const ad_cli_t *c, const char *prompt, char *out, size_t outsz)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs(prompt, stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool got = fgets(out, (int)outsz, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    size_t n = got ? strlen(out) : 0;
    if (n > 0 && out[n - 1] != '\n' && !feof(stdin)) {
        explicit_bzero(out, outsz);
        return ad_cli_fail(c, "the password is too long (at most 256 bytes)");
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) {
        out[--n] = '\0';
    }
    if (n == 0) {
        return ad_cli_fail(c, "no password given on standard input");
    }
    return 0;
}

static void user_path(const char *name, const char *tail, char *out, size_t outsz)
{
    char enc[200];
    ad_cli_url_encode(name, enc, sizeof(enc));
    snprintf(out, outsz, "/api/users/%s%s", enc, tail);
}

static void print_user(const ad_cli_t *c, json_t *j, const char *verb)
{
    if (c->json) {
        ad_cli_print_json(j);
        return;
    }
    printf("%s %s (%s)\n", verb, ad_cli_str(j, "username", "?"), ad_cli_str(j, "id", "?"));
}

/* agentd user add NAME [--role R] [--org ORG]: the password from stdin. */
static int user_add(ad_cli_t *c, int argc, char **argv)
{
    const char *role = NULL, *org = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--role", true, &role, NULL},
                             {"--org", true, &org, NULL}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd user add NAME [--role read|write|admin] [--org ID] "
                               "(the password on standard input)");
    }
    char pw[300];
    if (read_password(c, "password: ", pw, sizeof(pw)) != 0) {
        return 1;
    }
    json_t *body = json_pack("{s:s, s:s}", "username", pos[0], "password", pw);
    explicit_bzero(pw, sizeof(pw));
    if (role != NULL) {
        json_object_set_new(body, "role", json_string(role));
    }
    if (org != NULL) {
        json_object_set_new(body, "orgId", json_string(org));
    }
    json_t *j = ad_cli_call(c, "POST", "/api/users", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    print_user(c, j, "made");
    json_decref(j);
    return 0;
}

static int user_ls(ad_cli_t *c, int argc, char **argv)
{
    int rc = 0;
    json_t *j = ad_cli_list(c, argc, argv, "/api/users", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-30s %-20s %-24s %-9s %s\n", "ID", "USERNAME", "HOME ORG", "STATE", "ROLES");
    size_t i, k;
    json_t *u, *role;
    json_array_foreach(json_object_get(j, "users"), i, u)
    {
        char roles[512] = "";
        size_t used = 0;
        json_array_foreach(json_object_get(u, "roles"), k, role)
        {
            int n = snprintf(roles + used, sizeof(roles) - used, "%s%s:%s", k > 0 ? "," : "",
                             ad_cli_str(role, "orgId", "?"), ad_cli_str(role, "role", "?"));
            if (n < 0 || (size_t)n >= sizeof(roles) - used) {
                break;
            }
            used += (size_t)n;
        }
        printf("%-30s %-20s %-24s %-9s %s\n", ad_cli_str(u, "id", "?"),
               ad_cli_str(u, "username", ""), ad_cli_str(u, "orgId", ""),
               json_is_true(json_object_get(u, "disabled")) ? "disabled" : "active",
               roles[0] != '\0' ? roles : "-");
    }
    json_decref(j);
    return 0;
}

static int user_passwd(ad_cli_t *c, int argc, char **argv)
{
    const char *pos[1];
    int rc = ad_cli_one_id(c, argc, argv,
                           "usage: agentd user passwd NAME (the password on "
                           "standard input)",
                           pos);
    if (rc != 0) {
        return rc;
    }
    char pw[300], path[256];
    if (read_password(c, "new password: ", pw, sizeof(pw)) != 0) {
        return 1;
    }
    json_t *body = json_pack("{s:s}", "password", pw);
    explicit_bzero(pw, sizeof(pw));
    user_path(pos[0], "", path, sizeof(path));
    json_t *j = ad_cli_call(c, "PATCH", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    print_user(c, j, "new password for");
    json_decref(j);
    return 0;
}

static int user_disable(ad_cli_t *c, int argc, char **argv)
{
    const char *pos[1];
    int rc = ad_cli_one_id(c, argc, argv, "usage: agentd user disable NAME", pos);
    if (rc != 0) {
        return rc;
    }
    char path[256];
    user_path(pos[0], "", path, sizeof(path));
    json_t *body = json_pack("{s:b}", "disabled", 1);
    json_t *j = ad_cli_call(c, "PATCH", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    print_user(c, j, "disabled (its sessions have ended)");
    json_decref(j);
    return 0;
}

static int user_rm(ad_cli_t *c, int argc, char **argv)
{
    const char *pos[1];
    int rc = ad_cli_one_id(c, argc, argv, "usage: agentd user rm NAME", pos);
    if (rc != 0) {
        return rc;
    }
    char path[256];
    user_path(pos[0], "", path, sizeof(path));
    json_t *j = ad_cli_call(c, "DELETE", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    json_decref(j);
    if (!c->json) {
        printf("removed %s: its sessions and role tokens have ended\n", pos[0]);
    } else {
        printf("{\"removed\": true}\n");
    }
    return 0;
}

/* agentd user role NAME ORG read|write|admin|none */
static int user_role(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[3];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 3, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 3) {
        return ad_cli_usage(c, "usage: agentd user role NAME ORG read|write|admin|none");
    }
    char path[512], tail[300], enc[200];
    ad_cli_url_encode(pos[1], enc, sizeof(enc));
    snprintf(tail, sizeof(tail), "/roles/%s", enc);
    user_path(pos[0], tail, path, sizeof(path));
    bool none = strcmp(pos[2], "none") == 0;
    json_t *body = none ? NULL : json_pack("{s:s}", "role", pos[2]);
    json_t *j = ad_cli_call(c, none ? "DELETE" : "PUT", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    print_user(c, j, "roles set for");
    json_decref(j);
    return 0;
}

int ad_cli_user(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"add", user_add},       {"ls", user_ls},
                                        {"passwd", user_passwd}, {"disable", user_disable},
                                        {"rm", user_rm},         {"role", user_role}};
    return ad_cli_subcommand(c, "user", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd user add|ls|passwd|disable|rm|role ...", argc, argv);
}
