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
 * pool threads only; each is cancelled after CALL_TIMEOUT_S (a locked
 * collection waits on a prompt nobody may answer). AGENTD_CREDENTIALS=file
 * turns this off.
 */
#include "creds/keyring.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    void *(*cancellable_new)(void);     /* GIO, a dependency */
    void (*cancellable_cancel)(void *); /* thread-safe */
    void (*object_unref)(void *);       /* GObject */
    bool ok;
} lib;

/* A call to the Secret Service may wait on a prompt (a locked collection)
 * that a daemon cannot answer: after this long it is cancelled, and the key
 * goes to the file instead. */
#define CALL_TIMEOUT_S 10

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    void *cancellable;
    pthread_t thread;
    bool started;
} watchdog_t;

static void *watchdog_main(void *arg)
{
    watchdog_t *w = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CALL_TIMEOUT_S;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (!w->done && rc == 0) {
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    bool late = !w->done;
    pthread_mutex_unlock(&w->mu);
    if (late) {
        lib.cancellable_cancel(w->cancellable);
    }
    return NULL;
}

/* A cancellable for one call, cancelled by a watchdog thread after
 * CALL_TIMEOUT_S; wd_end stops the watchdog and frees it. */
static void *wd_begin(watchdog_t *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->cancellable = lib.cancellable_new();
    w->started = w->cancellable != NULL && pthread_create(&w->thread, NULL, watchdog_main, w) == 0;
    return w->cancellable;
}

static void wd_end(watchdog_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started) {
        pthread_join(w->thread, NULL);
    }
    if (w->cancellable != NULL) {
        lib.object_unref(w->cancellable);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

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
    *(void **)&lib.cancellable_new = dlsym(h, "g_cancellable_new");
    *(void **)&lib.cancellable_cancel = dlsym(h, "g_cancellable_cancel");
    *(void **)&lib.object_unref = dlsym(h, "g_object_unref");
    lib.ok = lib.store && lib.lookup && lib.clear && lib.free_password && lib.error_free &&
             lib.cancellable_new && lib.cancellable_cancel && lib.object_unref;
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
    watchdog_t w;
    int ok = lib.store(&SCHEMA, NULL /* the default collection */, label, key, wd_begin(&w), &e,
                       "agentd-data", data_dir, "org", org, "provider", provider, NULL);
    wd_end(&w);
    return ok && e == NULL ? 0 : failed(e, "the Secret Service refused the key", why, whysz);
}

char *ad_keyring_lookup(const char *data_dir, const char *org, const char *provider, char *why,
                        size_t whysz)
{
    if (!ready(why, whysz)) {
        return NULL;
    }
    gerror_t *e = NULL;
    watchdog_t w;
    char *p = lib.lookup(&SCHEMA, wd_begin(&w), &e, "agentd-data", data_dir, "org", org, "provider",
                         provider, NULL);
    wd_end(&w);
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
    watchdog_t w;
    lib.clear(&SCHEMA, wd_begin(&w), &e, "agentd-data", data_dir, "org", org, "provider", provider,
              NULL);
    wd_end(&w);
    return e == NULL ? 0 : failed(e, "the Secret Service", why, whysz);
}
