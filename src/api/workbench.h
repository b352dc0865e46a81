/* SPDX-License-Identifier: MIT */
/*
 * Private to src/api: the LLM workbench's resource files (issue #18).
 * creds.c keeps each organisation's provider keys (files of mode 0600 under
 * <data_dir>/credentials, mirrored in memory; the rows hold only metadata);
 * chats.c runs streamed chats through src/llm. Loop thread only.
 */
#ifndef AD_API_WORKBENCH_H
#define AD_API_WORKBENCH_H

#include "api/api_int.h"
#include "llm/llm.h"

/* creds.c: /api/credentials/..., /api/auth/status. Loads the stored keys. */
void ad_api_creds_register(ad_app_t *app);
void ad_api_creds_close(void);
/* The key of org for provider, or NULL. Borrowed until the key changes:
 * copy it before yielding to the loop. Never log it. */
const char *ad_api_cred_key(const char *org, const char *provider);
/* The base URL of org's provider: the credential's (set by an admin), else
 * ANTHROPIC_BASE_URL of the daemon's environment, else the public API. */
void ad_api_cred_base_url(ad_app_t *app, const char *org, const char *provider, char *out,
                          size_t outsz);
/* "••••" and the last four characters of key. */
void ad_api_cred_mask(const char *last4, char *out, size_t outsz);
/* The client every request of the workbench goes through (chats.c). */
ad_llm_t *ad_api_llm(ad_app_t *app);

/* defs.c: /api/definitions... */
void ad_api_defs_register(ad_app_t *app);
/* cb(app, r, def, ud) on the loop with the definition called name that r's
 * caller may see (borrowed; NULL when there is none). 0, or an error and
 * cb is not called. */
typedef void (*ad_api_def_cb)(ad_app_t *app, ad_req_t *r, json_t *def, void *ud);
int ad_api_def_find(ad_app_t *app, ad_req_t *r, const char *name, ad_api_def_cb cb, void *ud);
/* defwatch.c: watches the definitions folders and publishes
 * definitions_changed {source, workspaceId?}; stop closes every handle. */
void ad_api_defwatch_start(ad_app_t *app);
void ad_api_defwatch_stop(void);

/* projects.c: /api/projects... */
void ad_api_projects_register(ad_app_t *app);

/* chats.c: /api/chats/... (and defs.c's and projects.c's routes). Stops every stream on close. */
void ad_api_chats_register(ad_app_t *app);
void ad_api_chats_close(void);

#endif
