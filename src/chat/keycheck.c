/* SPDX-License-Identifier: MIT */
/*
 * Whether an organisation's stored model key works (chat.h, "checking a
 * key"): a one-token request with it through the engine's provider
 * client, and the verdict. Storing the verdict and answering are the REST
 * layer's (src/api/creds.c).
 */
#include "chat/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_chat_key_cb cb;
    void *ud;
    char provider[16];
} check_t;

static void on_checked(void *ud, const ad_llm_result_t *res)
{
    check_t *c = ud;
    /* A stop after the first token is what a one-token request ends with;
     * any answer that is no refusal of the key says the key works. */
    bool valid = res->rc == 0 || (res->http_status >= 200 && res->http_status < 300) ||
                 res->http_status == 429 || res->http_status == 529;
    char reason[600];
    snprintf(reason, sizeof(reason), "%s%s%s", res->error_type, res->error_type[0] ? ": " : "",
             res->error_message);
    json_t *out = json_pack("{s:s, s:b, s:i}", "provider", c->provider, "valid", valid, "status",
                            res->http_status);
    if (!valid) {
        json_object_set_new(out, "reason", json_string(reason));
    }
    c->cb(c->ud, out);
    free(c);
}

int ad_chat_key_check(ad_chat_t *chat, ad_creds_t *creds, const char *org, const char *provider,
                      const char *model, ad_chat_key_cb cb, void *ud, char *err, size_t errsz)
{
    AD_ASSERT_LOOP();
    ad_llm_provider_t kind;
    if (ad_llm_provider_parse(provider, &kind) != 0) {
        snprintf(err, errsz, "only a model provider's key can be validated");
        return AD_EINVAL;
    }
    const char *key = ad_creds_key(creds, org, provider);
    if (key == NULL) {
        snprintf(err, errsz, "no %s credential for this organisation", provider);
        return AD_ENOENT;
    }
    if (model == NULL) {
        model = kind == AD_LLM_OPENAI ? "gpt-4o-mini" : "claude-haiku-4-5";
    }
    check_t *c = ad_xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    snprintf(c->provider, sizeof(c->provider), "%s", provider);
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "ping");
    ad_llm_body_t b = {.provider = kind, .model = model, .messages = msgs, .max_tokens = 1};
    json_t *body = ad_llm_request_body(&b);
    char base[600];
    ad_creds_base_url(creds, org, provider, base, sizeof(base));
    ad_llm_spec_t spec = {.provider = kind,
                          .base_url = base,
                          .api_key = key,
                          .body = body,
                          .max_retries = 0,
                          .stall_ms = 30000};
    ad_llm_cbs_t cbs = {.on_end = on_checked};
    ad_llm_req_t *rq;
    int rc = ad_llm_start(ad_chat_llm(chat), &spec, &cbs, c, &rq, err, errsz);
    if (rc != 0) {
        free(c);
        rc = AD_EIO; /* the request could not be sent */
    }
    json_decref(body);
    json_decref(msgs);
    return rc;
}
