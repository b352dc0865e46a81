/* SPDX-License-Identifier: MIT */
/*
 * What a chat request may hold (src/chat/spec.c, issue #79's test for
 * src/chat): a stateless call's session id and messages, a new chat's
 * fields and their defaults, a message page's query, and the model an
 * agent definition stands for. Pure checks: no stream, no store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "chat/chat.h"

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void session_ids(void **state)
{
    (void)state;
    char long_id[70];
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    assert_true(ad_chat_session_id_ok("abc-DEF_019"));
    assert_true(ad_chat_session_id_ok(long_id));
    long_id[64] = 'a';
    long_id[65] = '\0';
    assert_false(ad_chat_session_id_ok(long_id)); /* 65 */
    assert_false(ad_chat_session_id_ok(""));
    assert_false(ad_chat_session_id_ok("chat_123")); /* a stored chat's topic */
    assert_true(ad_chat_session_id_ok("chatx_1"));
    assert_false(ad_chat_session_id_ok("a b"));
    assert_false(ad_chat_session_id_ok("a/b"));
    assert_false(ad_chat_session_id_ok("a.b"));
}

static void messages(void **state)
{
    (void)state;
    char why[128];
    json_t *in = J("[{\"role\":\"user\",\"content\":\"hi\",\"extra\":1},"
                   "{\"role\":\"assistant\",\"content\":\"yes\"}]");
    json_t *out = ad_chat_messages_check(in, why, sizeof(why));
    assert_non_null(out);
    assert_int_equal(json_array_size(out), 2);
    assert_null(json_object_get(json_array_get(out, 0), "extra")); /* only role and content */
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "role")),
                        "assistant");
    json_decref(out);
    json_decref(in);

    static const char *const bad[] = {
        "[]",
        "{}",
        "[{\"role\":\"system\",\"content\":\"x\"}]",
        "[{\"role\":\"user\",\"content\":\"\"}]",
        "[{\"role\":\"user\",\"content\":5}]",
        "[{\"content\":\"x\"}]",
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        in = J(bad[i]);
        why[0] = '\0';
        assert_null(ad_chat_messages_check(in, why, sizeof(why)));
        assert_true(why[0] != '\0');
        json_decref(in);
    }
    /* 200 is the most */
    in = json_array();
    for (int i = 0; i < 200; i++) {
        json_array_append_new(in, json_pack("{s:s, s:s}", "role", "user", "content", "x"));
    }
    out = ad_chat_messages_check(in, why, sizeof(why));
    assert_non_null(out);
    json_decref(out);
    json_array_append_new(in, json_pack("{s:s, s:s}", "role", "user", "content", "x"));
    assert_null(ad_chat_messages_check(in, why, sizeof(why)));
    json_decref(in);
}

static void stateless_spec(void **state)
{
    (void)state;
    ad_field_err_t e = {0};
    json_t *spec = NULL, *msgs = NULL;
    json_t *body = J("{\"sessionId\":\"s1\",\"model\":\"m\",\"systemPrompt\":\"be brief\","
                     "\"maxTokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    assert_int_equal(ad_chat_stateless_spec(body, &spec, &msgs, &e), 0);
    assert_string_equal(json_string_value(json_object_get(spec, "id")), "s1");
    assert_string_equal(json_string_value(json_object_get(spec, "provider")), "anthropic");
    assert_string_equal(json_string_value(json_object_get(spec, "system")), "be brief");
    assert_int_equal(json_integer_value(json_object_get(spec, "maxTokens")), 100);
    assert_int_equal(json_array_size(msgs), 1);
    json_decref(spec);
    json_decref(msgs);
    json_decref(body);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", "sessionId"},
        {"{\"sessionId\":\"chat_1\",\"model\":\"m\",\"messages\":[{\"role\":\"user\","
         "\"content\":\"q\"}]}",
         "sessionId"},
        {"{\"sessionId\":\"s\",\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]"
         "}",
         "model"},
        {"{\"sessionId\":\"s\",\"model\":\"m\",\"messages\":[]}", "messages"},
        {"{\"sessionId\":\"s\",\"model\":\"m\",\"provider\":\"gemini\",\"messages\":[{\"role\":"
         "\"user\",\"content\":\"q\"}]}",
         "provider"},
        {"{\"sessionId\":\"s\",\"model\":\"m\",\"maxTokens\":128001,\"messages\":[{\"role\":"
         "\"user\",\"content\":\"q\"}]}",
         "maxTokens"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        body = J(bad[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_chat_stateless_spec(body, &spec, &msgs, &e), AD_EINVAL);
        assert_string_equal(e.field, bad[i].field);
        json_decref(body);
    }
}

static void new_chat_fields(void **state)
{
    (void)state;
    ad_field_err_t e = {0};
    json_t *args = json_object();
    json_t *body = J("{\"title\":\"t\"}");
    assert_int_equal(ad_chat_spec(body, args, &e), 0);
    assert_string_equal(json_string_value(json_object_get(args, "provider")), "anthropic");
    assert_string_equal(json_string_value(json_object_get(args, "model")), "claude-sonnet-4-5");
    assert_string_equal(json_string_value(json_object_get(args, "title")), "t");
    assert_null(json_object_get(args, "maxTokens"));
    json_decref(body);
    json_decref(args);

    /* OpenAI: its default model, and temperature up to 2 */
    args = json_object();
    body = J("{\"provider\":\"openai\",\"temperature\":1.5,\"maxTokens\":10}");
    assert_int_equal(ad_chat_spec(body, args, &e), 0);
    assert_string_equal(json_string_value(json_object_get(args, "model")), "gpt-4o-mini");
    assert_true(json_number_value(json_object_get(args, "temperature")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(args, "maxTokens")), 10);
    json_decref(body);
    json_decref(args);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"temperature\":1.5}", "temperature"}, /* Anthropic's is 0 to 1 */
        {"{\"provider\":\"openai\",\"temperature\":2.5}", "temperature"},
        {"{\"temperature\":-0.1}", "temperature"},
        {"{\"temperature\":\"hot\"}", "temperature"},
        {"{\"model\":\"\"}", "model"},
        {"{\"maxTokens\":0}", "maxTokens"},
        {"{\"title\":5}", "title"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        args = json_object();
        body = J(bad[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_chat_spec(body, args, &e), AD_EINVAL);
        assert_string_equal(e.field, bad[i].field);
        json_decref(body);
        json_decref(args);
    }
}

static void content_and_page(void **state)
{
    (void)state;
    ad_field_err_t e = {0};
    const char *content = NULL;
    json_t *body = J("{\"content\":\"hello\"}");
    assert_int_equal(ad_chat_content_check(body, &content, &e), 0);
    assert_string_equal(content, "hello");
    json_decref(body);
    body = J("{\"content\":\"\"}");
    assert_int_equal(ad_chat_content_check(body, &content, &e), AD_EINVAL);
    assert_string_equal(e.field, "content");
    json_decref(body);

    int limit = 0;
    assert_int_equal(ad_chat_page_query(NULL, NULL, &limit, &e), 0);
    assert_int_equal(limit, 50);
    assert_int_equal(ad_chat_page_query("200", "msg_1", &limit, &e), 0);
    assert_int_equal(limit, 200);
    static const char *const bad_limits[] = {"0", "201", "5x", "", "-1"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad_limits); i++) {
        assert_int_equal(ad_chat_page_query(bad_limits[i], NULL, &limit, &e), AD_EINVAL);
        assert_string_equal(e.field, "limit");
    }
    assert_int_equal(ad_chat_page_query("1", "", &limit, &e), AD_EINVAL);
    assert_string_equal(e.field, "before");
}

static void definition_model(void **state)
{
    (void)state;
    static const struct {
        const char *def, *model;
    } cases[] = {
        {"{\"model\":\"opus\"}", "claude-opus-4-1"},
        {"{\"model\":\"haiku\"}", "claude-haiku-4-5"},
        {"{\"model\":\"inherit\",\"tier\":\"fast\"}", "claude-haiku-4-5"},
        {"{\"tier\":\"thorough\"}", "claude-opus-4-1"},
        {"{\"model\":\"claude-3-7-sonnet\"}", "claude-3-7-sonnet"},
        {"{\"model\":\"gpt-4o\"}", NULL}, /* not Claude: keep the default */
        {"{}", NULL},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
        json_t *def = J(cases[i].def);
        const char *m = ad_chat_def_model(def);
        if (cases[i].model == NULL) {
            assert_null(m);
        } else {
            assert_non_null(m);
            assert_string_equal(m, cases[i].model);
        }
        json_decref(def);
    }

    /* The definition fills what the request left out, and only that. */
    json_t *def = J("{\"systemPrompt\":\"you review\",\"model\":\"opus\"}");
    json_t *args = J("{\"model\":\"claude-sonnet-4-5\",\"defaultModel\":true}");
    ad_chat_spec_def(args, def);
    assert_string_equal(json_string_value(json_object_get(args, "system")), "you review");
    assert_string_equal(json_string_value(json_object_get(args, "model")), "claude-opus-4-1");
    assert_null(json_object_get(args, "defaultModel"));
    json_decref(args);
    args = J("{\"model\":\"mine\",\"system\":\"own\",\"defaultModel\":false}");
    ad_chat_spec_def(args, def);
    assert_string_equal(json_string_value(json_object_get(args, "system")), "own");
    assert_string_equal(json_string_value(json_object_get(args, "model")), "mine");
    assert_null(json_object_get(args, "defaultModel"));
    json_decref(args);
    json_decref(def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_ids),      cmocka_unit_test(messages),
        cmocka_unit_test(stateless_spec),   cmocka_unit_test(new_chat_fields),
        cmocka_unit_test(content_and_page), cmocka_unit_test(definition_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
