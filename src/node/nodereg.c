/* SPDX-License-Identifier: MIT */
/*
 * The node's own key (issue #77, docs/nodes.md "Registration tokens"): a
 * node started with a registration token trades it, once, for a node key
 * of its own and keeps that in <data>/node-key.json (0600: {key, tokenId,
 * nodeId, name, orgId}); every later start links with the key, so the
 * registration token (short-lived, single-use) is needed only the first
 * time. The trade is a WebSocket to /api/nodes/register?name=N with the
 * token as its bearer (the node's one client speaks WebSocket): one text
 * message {t: "registered", key, …}, then the plane closes. A refusal
 * (4401: unknown, expired, used or revoked; 4409: the name is another
 * node's) stops the node with its reason; a plane that cannot be reached
 * is tried again, the next --join URL each time, as the link does. Neither
 * token is ever logged. Loop thread.
 */
#include "node/node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE "node-key.json"
#define KEY_MAX_BYTES 4096
#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000
#define EXIT_REFUSED 3

static void key_path(const worker_t *w, const char *suffix, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s%s", w->cfg->data_dir, KEY_FILE, suffix);
}

/* The key kept by an earlier trade into w->token: true when there is one. */
static bool key_load(worker_t *w)
{
    char path[4200];
    key_path(w, "", path, sizeof(path));
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    const char *key = json_string_value(json_object_get(j, "key"));
    bool ok = key != NULL && key[0] != '\0' && strlen(key) < sizeof(w->token);
    if (ok) {
        snprintf(w->token, sizeof(w->token), "%s", key);
        ad_log(AD_LOG_INFO, "node", "linking with this node's key node=%s token_id=%s", w->name,
               json_string_value(json_object_get(j, "tokenId")) ?: "?");
    }
    json_decref(j);
    return ok;
}

/* Writes the key (a new file, 0600, renamed over the old): 0 or -1. */
static int key_save(worker_t *w, json_t *msg)
{
    json_t *keep =
        json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "key", json_object_get(msg, "key"), "tokenId",
                  json_object_get(msg, "tokenId"), "nodeId", json_object_get(msg, "nodeId"), "name",
                  json_object_get(msg, "name"), "orgId", json_object_get(msg, "orgId"));
    char *text = json_dumps(keep, JSON_COMPACT);
    json_decref(keep);
    char tmp[4200], path[4200];
    key_path(w, ".new", tmp, sizeof(tmp));
    key_path(w, "", path, sizeof(path));
    (void)unlink(tmp);
    int fd = text != NULL ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    size_t n = text != NULL ? strlen(text) : 0;
    bool ok = fd >= 0 && ad_write_all(fd, text, n) == n && fsync(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        (void)unlink(tmp);
    }
    if (text != NULL) {
        memset(text, 0, n);
        free(text);
    }
    return ok ? 0 : -1;
}

static void trade(worker_t *w);

static void on_retry(uv_timer_t *t)
{
    trade(t->data);
}

static void on_open(ad_wsc_t *c, void *ud)
{
    AD_UNUSED(c);
    AD_UNUSED(ud); /* the plane speaks first */
}

static void on_message(ad_wsc_t *c, const char *data, size_t len, bool binary, void *ud)
{
    worker_t *w = ud;
    json_t *msg = binary ? NULL : json_loadb(data, len, 0, NULL);
    const char *t = json_string_value(json_object_get(msg, "t"));
    const char *key = json_string_value(json_object_get(msg, "key"));
    if (t != NULL && strcmp(t, "registered") == 0 && key != NULL &&
        strlen(key) < sizeof(w->token)) {
        if (key_save(w, msg) != 0) {
            fprintf(stderr, "agentd node: cannot keep the node key in %s: %s\n", w->cfg->data_dir,
                    strerror(errno));
            ad_log(AD_LOG_ERROR, "node", "cannot write the node key file dir=%s", w->cfg->data_dir);
        }
        snprintf(w->token, sizeof(w->token), "%s", key);
        memset(w->reg_token, 0, sizeof(w->reg_token)); /* it is used up */
        ad_log(AD_LOG_INFO, "node", "traded the registration token for a node key node=%s id=%s",
               w->name, json_string_value(json_object_get(msg, "nodeId")) ?: "?");
        printf("agentd node %s registered\n", w->name);
        fflush(stdout);
    }
    json_decref(msg);
    AD_UNUSED(c);
}

static void on_close(ad_wsc_t *c, int code, const char *reason, void *ud)
{
    AD_UNUSED(c);
    worker_t *w = ud;
    w->reg = NULL;
    if (w->stopping) {
        return;
    }
    if (w->token[0] != '\0') {
        ad_worker_connect(w); /* registered: the link, with the key */
        return;
    }
    if (code == 4401 || code == 4409 || code == 4400 || code == 401 || code == 403) {
        fprintf(stderr, "agentd node: the control plane refused the registration (%d %s)\n", code,
                reason);
        ad_log(AD_LOG_ERROR, "node", "registration refused code=%d reason=\"%s\"", code, reason);
        ad_worker_stop(w, EXIT_REFUSED);
        return;
    }
    ad_log(AD_LOG_INFO, "node", "registration: no answer code=%d reason=\"%s\" retry_ms=%u", code,
           reason, w->backoff_ms);
    w->cur = (w->cur + 1) % w->nurls;
    snprintf(w->url, sizeof(w->url), "%s", w->urls[w->cur]);
    uv_timer_start(&w->retry, on_retry, w->backoff_ms, 0);
    w->backoff_ms = w->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->backoff_ms * 2;
}

static const ad_wsc_handler_t handler = {on_open, on_message, on_close};

/* The register URL beside the link URL now: …/api/nodes/register?name=N. */
static void register_url(const worker_t *w, char *out, size_t outsz)
{
    const char *tail = "/api/nodes/link";
    size_t n = strlen(w->url), tl = strlen(tail);
    size_t base = n >= tl && strcmp(w->url + n - tl, tail) == 0 ? n - tl : n;
    char name[200];
    ad_url_encode(w->name, name, sizeof(name));
    snprintf(out, outsz, "%.*s/api/nodes/register?name=%s", (int)base, w->url, name);
}

static void trade(worker_t *w)
{
    if (w->stopping || w->reg != NULL) {
        return;
    }
    char url[AD_NODE_DIAL_MAX + 256], err[256];
    register_url(w, url, sizeof(url));
    if (ad_wsc_open(w->loop, url, w->reg_token, 64 * 1024, &handler, w, &w->reg, err,
                    sizeof(err)) != 0) {
        w->reg = NULL;
        ad_log(AD_LOG_WARN, "node", "cannot open the registration: %s", err);
        w->cur = (w->cur + 1) % w->nurls;
        snprintf(w->url, sizeof(w->url), "%s", w->urls[w->cur]);
        uv_timer_start(&w->retry, on_retry, w->backoff_ms, 0);
        w->backoff_ms = w->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->backoff_ms * 2;
    }
}

int ad_worker_key(worker_t *w)
{
    if (w->token[0] != '\0') {
        return 0; /* --token or --token-file */
    }
    if (key_load(w)) {
        return 0; /* its own key, from an earlier trade */
    }
    if (w->reg_token[0] == '\0') {
        fprintf(stderr, "agentd node: no token: give --token, --token-file or a "
                        "--registration-token (docs/nodes.md)\n");
        return -1;
    }
    ad_log(AD_LOG_INFO, "node", "trading the registration token for a node key node=%s", w->name);
    w->backoff_ms = RETRY_MIN_MS;
    trade(w);
    return 1;
}

void ad_worker_key_stop(worker_t *w)
{
    if (w->reg != NULL) {
        ad_wsc_close(w->reg, 1001, "node stopping");
        w->reg = NULL;
    }
}
