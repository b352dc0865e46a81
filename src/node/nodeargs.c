/* SPDX-License-Identifier: MIT */
/*
 * `agentd node`'s command line (docs/nodes.md): --join's URLs (and the
 * schemes and hosts they allow the planes to send), the token, the name,
 * the labels, the data dir and --planes-allow, read into the worker before
 * its loop starts (worker.c, ad_node_main).
 */
#include "node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "k=v,k2=v2" as an object; NULL when malformed. */
static json_t *parse_labels(const char *s)
{
    json_t *o = json_object();
    char buf[2048];
    if (s == NULL || s[0] == '\0') {
        return o;
    }
    if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf)) {
        json_decref(o);
        return NULL;
    }
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            json_decref(o);
            return NULL;
        }
        *eq = '\0';
        json_object_set_new(o, kv, json_string(eq + 1));
    }
    return o;
}

static int read_token_file(const char *path, char *out, size_t outsz)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(out, 1, outsz - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] != '\0' ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: agentd node --join URL[,URL...] (--token T | --token-file F | "
                    "--registration-token T | --registration-token-file F) [--name N] "
                    "[--labels k=v,...] [--data-dir D] [--planes-allow HOST[,HOST...]]\n");
    return 2;
}

/* --join URL[,URL...]: each one dialled at /api/nodes/link; its scheme and
 * host are what the planes may send. 0, or 2 (said on stderr). */
static int parse_join(worker_t *w, const char *join)
{
    for (const char *j = join; *j != '\0';) {
        size_t jl = strcspn(j, ",");
        const char *next = j[jl] == ',' ? j + jl + 1 : j + jl;
        while (jl > 0 && j[jl - 1] == '/') {
            jl--;
        }
        if (w->nurls == AD_NODE_JOIN_MAX || jl == 0 || jl > 2000) {
            fprintf(stderr, "agentd node: --join takes 1 to %d URLs, comma-separated\n",
                    AD_NODE_JOIN_MAX);
            return 2;
        }
        char *u = w->urls[w->nurls++];
        snprintf(u, sizeof(w->urls[0]), "%.*s/api/nodes/link", (int)jl, j);
        bool tls;
        char h[256], port[8], path[1024];
        if (ad_wsc_parse_url(u, &tls, h, sizeof(h), port, sizeof(port), path, sizeof(path)) != 0) {
            fprintf(stderr, "agentd node: --join needs http(s):// or ws(s):// URLs\n");
            return 2;
        }
        /* what the planes may send: this scheme and host (planeurl.c; a
         * host it would refuse is dialled as given, never learned) */
        (void)ad_node_allow_host(&w->allow, h);
        w->allow.https = w->allow.https || tls;
        w->allow.http = w->allow.http || !tls;
        j = next;
    }
    return 0;
}

/* --planes-allow HOST[,HOST...]: more hosts the planes may send. 0, or 2. */
static int parse_planes_allow(worker_t *w, const char *planes_allow)
{
    for (const char *a = planes_allow; a != NULL && *a != '\0';) {
        size_t al = strcspn(a, ",");
        char h[300];
        if (al == 0 || al >= sizeof(h)) {
            fprintf(stderr, "agentd node: --planes-allow takes host names, comma-separated\n");
            return 2;
        }
        snprintf(h, sizeof(h), "%.*s", (int)al, a);
        int rc = ad_node_allow_host(&w->allow, h);
        if (rc != 0) {
            fprintf(stderr, "agentd node: --planes-allow %s: %s\n", h,
                    rc == AD_ETOOBIG ? "too many hosts" : "not a host name or address");
            return 2;
        }
        a = a[al] == ',' ? a + al + 1 : a + al;
    }
    return 0;
}

bool ad_worker_args(worker_t *w, ad_config_t *cfg, int argc, char **argv, int *code)
{
    const char *join = NULL, *token = NULL, *token_file = NULL, *name = NULL, *labels = NULL,
               *data_dir = NULL, *planes_allow = NULL, *reg = NULL, *reg_file = NULL;
    for (int i = 0; i < argc; i++) {
        const char **dst = strcmp(argv[i], "--join") == 0                      ? &join
                           : strcmp(argv[i], "--data-dir") == 0                ? &data_dir
                           : strcmp(argv[i], "--token") == 0                   ? &token
                           : strcmp(argv[i], "--token-file") == 0              ? &token_file
                           : strcmp(argv[i], "--name") == 0                    ? &name
                           : strcmp(argv[i], "--labels") == 0                  ? &labels
                           : strcmp(argv[i], "--planes-allow") == 0            ? &planes_allow
                           : strcmp(argv[i], "--registration-token") == 0      ? &reg
                           : strcmp(argv[i], "--registration-token-file") == 0 ? &reg_file
                                                                               : NULL;
        if (strcmp(argv[i], "--help") == 0) {
            usage();
            *code = 0;
            return false;
        }
        if (dst == NULL || i + 1 >= argc) {
            *code = usage();
            return false;
        }
        *dst = argv[++i];
    }
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe != 1) {
        fprintf(stderr, "agentd node: a big-endian machine cannot be a node (docs/nodes.md)\n");
        *code = 1;
        return false;
    }
    if (data_dir != NULL && snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", data_dir) >=
                                (int)sizeof(cfg->data_dir)) {
        fprintf(stderr, "agentd node: --data-dir is too long\n");
        *code = 2;
        return false;
    }
    w->cfg = cfg;
    w->labels = parse_labels(labels);
    if (join == NULL || w->labels == NULL) {
        *code = usage();
        return false;
    }
    if (reg_file != NULL && read_token_file(reg_file, w->reg_token, sizeof(w->reg_token)) != 0) {
        fprintf(stderr, "agentd node: cannot read a registration token from %s\n", reg_file);
        *code = 2;
        return false;
    }
    if (reg != NULL) {
        snprintf(w->reg_token, sizeof(w->reg_token), "%s", reg);
    }
    if (token_file != NULL && read_token_file(token_file, w->token, sizeof(w->token)) != 0) {
        fprintf(stderr, "agentd node: cannot read a token from %s\n", token_file);
        *code = 2;
        return false;
    }
    if (token != NULL) {
        snprintf(w->token, sizeof(w->token), "%s", token);
    }
    char host[64] = "node";
    gethostname(host, sizeof(host) - 1);
    snprintf(w->name, sizeof(w->name), "%s", name != NULL ? name : host);
    if ((*code = parse_join(w, join)) != 0) {
        return false;
    }
    if (w->nurls == 0) {
        *code = usage();
        return false;
    }
    w->njoin = w->nurls;
    if ((*code = parse_planes_allow(w, planes_allow)) != 0) {
        return false;
    }
    snprintf(w->url, sizeof(w->url), "%s", w->urls[0]);
    return true;
}
