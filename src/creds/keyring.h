/* SPDX-License-Identifier: MIT */
/*
 * Private to src/creds: provider keys in the Secret Service through libsecret
 * (loaded with dlopen on first use). creds.c uses it when
 * ad_keyring_wanted(), and the 0600 files otherwise or when it fails.
 * The store/lookup/clear calls block on D-Bus: pool threads only. No key is
 * ever put in why.
 */
#ifndef AD_CREDS_KEYRING_H
#define AD_CREDS_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

/* A session bus is there (DBUS_SESSION_BUS_ADDRESS) and
 * AGENTD_CREDENTIALS is not "file". Any thread. */
bool ad_keyring_wanted(void);
/* 0; AD_ENOENT (no libsecret) or AD_EIO (the service refused: locked, no
 * service on the bus) with the reason in why. */
int ad_keyring_store(const char *data_dir, const char *org, const char *provider, const char *key,
                     char *why, size_t whysz);
/* The key (malloc'd: wipe and free it), or NULL (none, or an error in
 * why, which is then not empty). */
char *ad_keyring_lookup(const char *data_dir, const char *org, const char *provider, char *why,
                        size_t whysz);
/* Removes the item (none is no error). 0, AD_ENOENT or AD_EIO as store. */
int ad_keyring_clear(const char *data_dir, const char *org, const char *provider, char *why,
                     size_t whysz);

#endif
