/* SPDX-License-Identifier: MIT */
/*
 * Provider keys in the Secret Service (GNOME Keyring, KWallet's bridge,
 * KeePassXC) through libsecret, when agentd runs with a session bus
 * (DBUS_SESSION_BUS_ADDRESS) and libsecret-1.so.0 is there. libsecret is
 * loaded with dlopen on first use, never linked: it brings GLib and GIO
 * (a few MiB) that a daemon on a server, without a session bus, would map
 * for nothing. Like NVML's, the few types used are declared here from
 * the library's documented ABI (SecretSchema, GError), so building needs
 * no GLib headers.
 *
 * An item's attributes: "agentd-data" (the data dir, so two daemons never
 * read each other's), "org" and "provider". The calls block on D-Bus:
 * pool threads only. AGENTD_CREDENTIALS=file turns this off.
 */
#include "api/keyring.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

typedef struct {
    const char *name;
    int type; /* SECRET_SCHEMA_ATTRIBUTE_STRING = 0 */
} attr_t;

typedef struct {
    const char *name;
    int flags; /* SECRET_SCHEMA_NONE = 0 */
    attr_t attributes[32];
    int reserved;
    void *reserved1, *reserved2, *reserved3, *reserved4, *reserved5, *reserved6, *reserved7;
} schema_t;

typedef struct {
    uint32_t domain;
    int code;
    char *message;
} gerror_t;

static const schema_t SCHEMA = {
    .name = "org.agentd.ProviderKey",
    .flags = 0,
    .attributes = {{"agentd-data", 0}, {"org", 0}, {"provider", 0}, {NULL, 0}},
};

static struct {
    int (*store)(const schema_t *, const char *collection, const char *label, const char *password,
                 void *cancellable, gerror_t **error, ...);
    char *(*lookup)(const schema_t *, void *cancellable, gerror_t **error, ...);
    int (*clear)(const schema_t *, void *cancellable, gerror_t **error, ...);
    void (*free_password)(char *);
    void (*error_free)(gerror_t *);
    bool ok;
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen("libsecret-1.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        return;
    }
    *(void **)&lib.store = dlsym(h, "secret_password_store_sync");
    *(void **)&lib.lookup = dlsym(h, "secret_password_lookup_sync");
    *(void **)&lib.clear = dlsym(h, "secret_password_clear_sync");
    *(void **)&lib.free_password = dlsym(h, "secret_password_free");
    *(void **)&lib.error_free = dlsym(h, "g_error_free"); /* GLib, a dependency */
    lib.ok = lib.store && lib.lookup && lib.clear && lib.free_password && lib.error_free;
}

bool ad_keyring_wanted(void)
{
    const char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
    const char *mode = getenv("AGENTD_CREDENTIALS");
    return bus != NULL && bus[0] != '\0' && (mode == NULL || strcmp(mode, "file") != 0);
}

static bool ready(char *why, size_t whysz)
{
    pthread_once(&once, load);
    if (!lib.ok) {
        snprintf(why, whysz, "libsecret-1.so.0 is not installed");
    }
    return lib.ok;
}

static int failed(gerror_t *e, const char *what, char *why, size_t whysz)
{
    snprintf(why, whysz, "%s: %s", what, e != NULL && e->message ? e->message : "refused");
    if (e != NULL) {
        lib.error_free(e);
    }
    return AD_EIO;
}

int ad_keyring_store(const char *data_dir, const char *org, const char *provider, const char *key,
                     char *why, size_t whysz)
{
    if (!ready(why, whysz)) {
        return AD_ENOENT;
    }
    char label[200];
    snprintf(label, sizeof(label), "agentd %s key (%s)", provider, org);
    gerror_t *e = NULL;
    int ok = lib.store(&SCHEMA, NULL /* the default collection */, label, key, NULL, &e,
                       "agentd-data", data_dir, "org", org, "provider", provider, NULL);
    return ok && e == NULL ? 0 : failed(e, "the Secret Service refused the key", why, whysz);
}

char *ad_keyring_lookup(const char *data_dir, const char *org, const char *provider, char *why,
                        size_t whysz)
{
    if (!ready(why, whysz)) {
        return NULL;
    }
    gerror_t *e = NULL;
    char *p = lib.lookup(&SCHEMA, NULL, &e, "agentd-data", data_dir, "org", org, "provider",
                         provider, NULL);
    if (e != NULL) {
        failed(e, "the Secret Service", why, whysz);
    }
    if (p == NULL) {
        return NULL;
    }
    char *out = strdup(p);
    lib.free_password(p); /* libsecret wipes it */
    return out;
}

int ad_keyring_clear(const char *data_dir, const char *org, const char *provider, char *why,
                     size_t whysz)
{
    if (!ready(why, whysz)) {
        return AD_ENOENT;
    }
    gerror_t *e = NULL;
    lib.clear(&SCHEMA, NULL, &e, "agentd-data", data_dir, "org", org, "provider", provider, NULL);
    return e == NULL ? 0 : failed(e, "the Secret Service", why, whysz);
}
