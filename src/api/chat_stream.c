/* SPDX-License-Identifier: MIT */
/*
 * The stateless chat call (docs/workbench.md): the workbench seed's
 * stream_ai_response, answered by the chat engine (src/chat) without a
 * stored chat.
 */
#include "api/workbench.h"
#include "chat/chat.h"

#include <stdio.h>
#include <string.h>

#define CONTENT_MAX (256 * 1024)

/* POST /api/chats/stream {sessionId, messages [{role, content}], model,
 * systemPrompt?, provider?, maxTokens?, orgId? (owner)}: the workbench
 * seed's stream_ai_response. Nothing is stored but the usage; the answer
 * streams as stream_token / stream_complete / stream_error with the
 * caller's sessionId on chat:<sessionId> (202 {sessionId, messageId}). */
static void stream_stateless(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r), *messages = NULL, *spec = NULL;
    const char *session = NULL, *model = NULL, *system = NULL, *provider = "anthropic";
    int64_t max_tokens = 0;
    bool has_max = false;
    char org[AD_ID_MAX];
    if (body == NULL || ad_api_str(r, body, "sessionId", true, 64, &session) != 0 ||
        ad_api_str(r, body, "model", true, 127, &model) != 0 ||
        ad_api_str(r, body, "systemPrompt", false, CONTENT_MAX, &system) != 0 ||
        ad_api_enum(r, body, "provider", false, "anthropic,openai", &provider) != 0 ||
        ad_api_int(r, body, "maxTokens", false, 1, 128000, &max_tokens, &has_max) != 0 ||
        ad_api_org_for(app, r, body, org) != 0) {
        goto out;
    }
    if (!ad_chat_session_id_ok(session)) {
        ad_api_invalid(r, "sessionId", "1 to 64 of A-Z a-z 0-9 - _, not starting chat_");
        goto out;
    }
    if (model[0] == '\0') {
        ad_api_invalid(r, "model", "must not be empty");
        goto out;
    }
    char why[128];
    messages = ad_chat_messages_check(json_object_get(body, "messages"), why, sizeof(why));
    if (messages == NULL) {
        ad_api_invalid(r, "messages", why);
        goto out;
    }
    if (ad_chat_streaming(app->chat, session)) {
        ad_res_error(r, 409, "CONFLICT", NULL, "session %s is still streaming", session);
        goto out;
    }
    if (!ad_api_chat_key_ok(app, r, org, provider)) {
        goto out;
    }
    spec = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id", session, "orgId", org, "model", model,
                     "provider", provider, "system", system);
    if (has_max) {
        json_object_set_new(spec, "maxTokens", json_integer(max_tokens));
    }
    ad_chat_stream_t *s = ad_chat_stateless_new(app->chat, spec, messages);
    int64_t wait = 0;
    if (!ad_api_chat_admitted(r, s, model, &wait)) {
        goto out;
    }
    char msg[AD_ID_MAX];
    bool queued = wait > 0;
    int rc = ad_chat_stateless_begin(s, msg);
    json_t *ans =
        json_pack("{s:s, s:s, s:b}", "sessionId", session, "messageId", msg, "queued", queued);
    if (queued) {
        json_object_set_new(ans, "waitMs", json_integer(wait));
    }
    ad_res_json(r, rc == 0 ? 202 : 502, ans);
out:
    json_decref(spec);
    json_decref(messages);
    json_decref(body);
}

void ad_api_chat_stream_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/chats/stream", AD_ACCESS_WRITE, stream_stateless,
                    app);
}
