/* SPDX-License-Identifier: MIT */
/*
 * creds: each organisation's provider keys (Anthropic, OpenAI). A key is
 * kept in the Secret Service when agentd has a session bus (keyring.c,
 * libsecret loaded with dlopen), else in <data_dir>/credentials/
 * <org>.<provider>.key (mode 0600, in a 0700 folder, written then
 * renamed), and mirrored in memory. The credential rows (src/store) hold
 * only what may be shown (last four characters, email, base URL, status);
 * the routes are src/api/creds.c's. No log line ever carries a key.
 *
 * Ownership: ad_creds_t owns the keys in memory (wiped when replaced or
 * freed); the loop and the store are borrowed and must outlive it.
 * Dependencies: store (the rows' base URLs and, at start, which keys the
 * Secret Service holds), libsecret through dlopen.
 * Threads: loop thread only; the file and D-Bus work runs on the pool.
 */
#ifndef AD_CREDS_H
#define AD_CREDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/core.h"

#define AD_CREDS_KEY_MIN 8
#define AD_CREDS_KEY_MAX 512

struct ad_store;
typedef struct ad_creds ad_creds_t;

/* Reads the stored key files of data_dir now, and the Secret Service's
 * keys of store's rows on the pool. store may be NULL. */
ad_creds_t *ad_creds_new(uv_loop_t *loop, struct ad_store *store, const char *data_dir);
/* Wipes every key; the memory goes once the pool jobs still out are back
 * (their callbacks then get AD_ECLOSED). NULL is a no-op. */
void ad_creds_free(ad_creds_t *c);
/* Whether key may be stored: 8 to 512 printable characters without spaces
 * (it goes in a header). Any thread. */
bool ad_creds_key_ok(const char *key);
/* Whether url may be a credential's base URL: http:// or https://, no
 * spaces or line ends. Any thread. */
bool ad_creds_url_ok(const char *url);

/* The key of org ("" or NULL: the default org) for provider, or NULL.
 * Borrowed until the key changes: copy it before yielding to the loop.
 * Never log it. c may be NULL (no key). */
const char *ad_creds_key(ad_creds_t *c, const char *org, const char *provider);
/* Where org's key is kept: "none", "file" or "secret-service". */
const char *ad_creds_storage(ad_creds_t *c, const char *org, const char *provider);
/* The base URL of org's provider: the credential's (set by an admin), else
 * ANTHROPIC_BASE_URL / OPENAI_BASE_URL of the daemon's environment, else
 * the public API. */
void ad_creds_base_url(ad_creds_t *c, const char *org, const char *provider, char *out,
                       size_t outsz);
/* "••••" and the last four characters of a key. */
void ad_creds_mask(const char *last4, char *out, size_t outsz);
/* Whether p is a provider a key may be stored for: a model provider
 * (anthropic, openai) or a forge (github, gitlab, gitea: pull requests). */
bool ad_creds_provider_known(const char *p);
#define AD_CREDS_PROVIDERS "anthropic,openai,github,gitlab,gitea"
/* Whether p is a model provider (its key signs a model in). */
bool ad_creds_model_provider(const char *p);
/* A credential row of the store as it is shown, in place: storage, masked
 * (never the key nor its last4) and configured: true. */
void ad_creds_view(ad_creds_t *c, json_t *row);
/* GET /api/auth/status's answer for org from its credential rows
 * (borrowed, viewed in place): {authenticated, orgId, providers: {provider:
 * row}}, the model providers' only. New reference. */
json_t *ad_creds_status(ad_creds_t *c, const char *org, json_t *rows);
/* The rows the REST routes answer with (rows.c), viewed (ad_creds_view):
 * org's ("": every org's) into *rows, or one provider's into *row (new; 0
 * or the store's error); org's status as ad_creds_status gives it (no
 * readable row: none configured; new); and the status update args {orgId,
 * provider, status (valid or invalid), reason?, now} of a validation's
 * verdict {provider, valid, reason?} (new). */
int ad_creds_list(ad_creds_t *c, struct ad_store *st, const char *org, json_t **rows);
int ad_creds_get(ad_creds_t *c, struct ad_store *st, const char *org, const char *provider,
                 json_t **row);
json_t *ad_creds_status_of(ad_creds_t *c, struct ad_store *st, const char *org);
json_t *ad_creds_status_args(const json_t *verdict, const char *org, int64_t now);
/* The key an agent of org without one in its environment gets: the stored
 * one of a model provider, never a forge's token (a pull request's).
 * Borrowed as ad_creds_key. creds is an ad_creds_t: the function is the
 * runner's key source as it is (ad_runner_set_key_source). */
const char *ad_creds_agent_key(void *creds, const char *org, const char *provider);
/* Whether s may name an org or a provider in a key's file name
 * ([A-Za-z0-9_-], shorter than AD_ID_MAX). */
bool ad_creds_name_ok(const char *s);

/* cb(rc, ud) on the loop when ad_creds_set is done: 0; AD_EIO (the file
 * could not be written or removed), AD_ETOOBIG (too many keys) or
 * AD_ECLOSED (freed meanwhile). */
typedef void (*ad_creds_done_cb)(int rc, void *ud);
/* Stores key (NULL: removes it) of org for provider: the Secret Service
 * first when there is one, else the file. 0 (cb will be called), or
 * AD_EINVAL (a bad name) / AD_EIO, and cb is not called. */
int ad_creds_set(ad_creds_t *c, const char *org, const char *provider, const char *key,
                 ad_creds_done_cb cb, void *ud);

/* ---- a credential changed (save.c) ----------------------------------------------
 * PUT /api/credentials/:provider {apiKey, email?, baseUrl?}: *key (8-512
 * printable bytes) and the fields checked; with org, *args the row's
 * upsert (new: last4, email, baseUrl, never the key). 0, or AD_EINVAL with
 * e. Any thread. */
int ad_creds_put_args(const json_t *body, const char *provider, const char *org, json_t **args,
                      const char **key, ad_field_err_t *e);
/* cb(rc, in_key, result, ud) on the loop: 0 and the row write's result
 * (taken); or the error, in_key telling whether the key could not be
 * stored (AD_ETOOBIG: too many; else the file) or the row not written. */
typedef void (*ad_creds_saved_cb)(int rc, bool in_key, json_t *result, void *ud);
/* Stores key (NULL: removes it) of args' orgId and provider, then writes
 * args (taken; {orgId, provider} for a removal) as the row. 0 (cb will be
 * called) or ad_creds_set's error (cb not called). Loop thread. */
int ad_creds_save(ad_creds_t *c, struct ad_store *st, json_t *args, const char *key,
                  ad_creds_saved_cb cb, void *ud);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_creds_engine;

#endif
