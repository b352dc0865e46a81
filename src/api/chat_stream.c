/* SPDX-License-Identifier: MIT */
/*
 * The stateless chat call (docs/workbench.md): the workbench seed's
 * stream_ai_response and stop_stream, answered by the chat engine
 * (src/chat) without a stored chat.
 */
#include "api/workbench.h"
#include "chat/chat.h"

/* POST /api/chats/stream {sessionId, messages [{role, content}], model,
 * systemPrompt?, provider?, maxTokens?, orgId? (owner)}: the workbench
 * seed's stream_ai_response. Nothing is stored but the usage; the answer
 * streams as stream_token / stream_complete / stream_error with the
 * caller's sessionId on chat:<sessionId> (202 {sessionId, messageId}). */
static void stream_stateless(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r), *messages = NULL, *spec = NULL;
    char org[AD_ID_MAX];
    ad_field_err_t e;
    if (body == NULL) {
        return;
    }
    if (ad_chat_stateless_spec(body, &spec, &messages, &e) != 0) {
        ad_api_invalid_err(r, &e);
        goto out;
    }
    const char *session = ad_api_jstr(spec, "id"), *model = ad_api_jstr(spec, "model");
    if (ad_api_org_for(app, r, body, org) != 0) {
        goto out;
    }
    if (ad_chat_session_streaming(app->chat, org, session)) {
        ad_res_error(r, 409, "CONFLICT", NULL, "session %s is still streaming", session);
        goto out;
    }
    if (!ad_api_chat_key_ok(app, r, org, ad_api_jstr(spec, "provider"))) {
        goto out;
    }
    json_object_set_new(spec, "orgId", json_string(org));
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

static void session_stopped(void *ud, int rc, json_t *message)
{
    AD_UNUSED(message);
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "session", NULL);
        return;
    }
    ad_res_json(
        r, 200,
        json_pack("{s:s, s:b}", "sessionId", ad_req_param(r, "sessionId"), "stopped", true));
}

/* POST /api/chats/stream/:sessionId/stop {orgId? (owner)}: the seed's
 * stop_stream. Answered once the answer has ended (its stream_complete
 * {stopped: true} published); 404 when the caller's org has no such call
 * streaming, as the seed's SessionNotFound. */
static void stop_stateless(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    bool failed = false;
    json_t *body = ad_req_json_optional(r, &failed);
    char org[AD_ID_MAX];
    const char *session = ad_req_param(r, "sessionId");
    if (failed) {
        return;
    }
    if (body == NULL) {
        body = json_object();
    }
    if (ad_api_org_for(app, r, body, org) != 0) {
        json_decref(body);
        return;
    }
    json_decref(body);
    if (!ad_chat_session_id_ok(session) ||
        ad_chat_session_stop(app->chat, org, session, session_stopped, r) != 0) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "sessionId", session),
                     "no call of this session is streaming");
    }
}

void ad_api_chat_stream_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/chats/stream", AD_ACCESS_WRITE, stream_stateless,
                    app);
    ad_server_route(app->server, "POST", "/api/chats/stream/:sessionId/stop", AD_ACCESS_WRITE,
                    stop_stateless, app);
}
