/* SPDX-License-Identifier: MIT */
/*
 * Private to src/api: the LLM workbench's resource files (issue #18).
 * creds.c serves each organisation's provider keys (kept by src/creds);
 * chats.c serves the streamed chats of src/chat (src/llm underneath);
 * defs.c the agent definitions (src/llm reads them, src/defs watches
 * their folders). Loop thread only.
 */
#ifndef AD_API_WORKBENCH_H
#define AD_API_WORKBENCH_H

#include "api/api_int.h"
#include "chat/chat.h"
#include "llm/llm.h"

/* creds.c: /api/credentials/..., /api/auth/status. Loads the stored keys. */
void ad_api_creds_register(ad_app_t *app);

/* defs.c: /api/definitions... */
void ad_api_defs_register(ad_app_t *app);
/* cb(app, r, def, ud) on the loop with the definition called name that r's
 * caller may see (borrowed; NULL when there is none). 0, or an error and
 * cb is not called. */
typedef void (*ad_api_def_cb)(ad_app_t *app, ad_req_t *r, json_t *def, void *ud);
int ad_api_def_find(ad_app_t *app, ad_req_t *r, const char *name, ad_api_def_cb cb, void *ud);

/* projects.c: /api/projects... */
void ad_api_projects_register(ad_app_t *app);
/* project_out.c: a project's export, archive and commit routes. */
void ad_api_project_out_register(ad_app_t *app);

/* chats.c: /api/chats/... (and defs.c's and projects.c's routes). */
void ad_api_chats_register(ad_app_t *app);
/* chats.c: true when org has a key for provider, else false after answering
 * 422 CREDENTIAL_MISSING. */
bool ad_api_chat_key_ok(ad_app_t *app, ad_req_t *r, const char *org, const char *provider);
/* chats.c: true when s may start (*wait: ms it queues first), else false
 * after answering 429 RATE_LIMITED with Retry-After and dropping s. */
bool ad_api_chat_admitted(ad_req_t *r, ad_chat_stream_t *s, const char *model, int64_t *wait);
/* chat_stream.c: POST /api/chats/stream, the stateless call. */
void ad_api_chat_stream_register(ad_app_t *app);

#endif
