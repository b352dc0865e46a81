/* SPDX-License-Identifier: MIT */
/* Tests for the JSON-RPC 2.0 line codec (src/agent/rpc.c): every kind of
 * message parsed, every malformed line refused with its reason and the
 * standard code, the size cap, peers that omit "jsonrpc", requests with
 * increasing ids matched to their responses, the pending bound, and the
 * lines built for responses, errors and notifications. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/rpc.h"

static ad_rpc_kind_t parse(const ad_rpc_t *r, const char *line, ad_rpc_msg_t *m)
{
    return ad_rpc_parse(r, line, strlen(line), m);
}

static void parses_each_kind(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, 0);
    ad_rpc_msg_t m;
    assert_int_equal(parse(&r,
                           "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"fs/read_text_file\","
                           "\"params\":{\"path\":\"/w/a\"}}\r",
                           &m),
                     AD_RPC_REQUEST);
    assert_string_equal(m.method, "fs/read_text_file");
    assert_int_equal(json_integer_value(m.id), 7);
    assert_string_equal(json_string_value(json_object_get(m.params, "path")), "/w/a");
    ad_rpc_msg_clear(&m);

    assert_int_equal(parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"x\"}", &m),
                     AD_RPC_REQUEST);
    assert_string_equal(json_string_value(m.id), "abc");
    assert_null(m.params);
    ad_rpc_msg_clear(&m);

    assert_int_equal(
        parse(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":[1]}", &m),
        AD_RPC_NOTIFICATION);
    assert_null(m.id);
    assert_true(json_is_array(m.params));
    ad_rpc_msg_clear(&m);

    assert_int_equal(parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":null}", &m),
                     AD_RPC_RESPONSE);
    assert_true(json_is_null(m.result));
    ad_rpc_msg_clear(&m);

    assert_int_equal(parse(&r,
                           "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
                           "\"message\":\"nope\",\"data\":{\"k\":1}}}",
                           &m),
                     AD_RPC_ERROR);
    assert_null(m.id);
    assert_int_equal(m.code, -32601);
    assert_string_equal(m.message, "nope");
    assert_int_equal(json_integer_value(json_object_get(m.data, "k")), 1);
    ad_rpc_msg_clear(&m);
}

static void expect_invalid(const ad_rpc_t *r, const char *line, int64_t code, const char *why)
{
    ad_rpc_msg_t m;
    assert_int_equal(parse(r, line, &m), AD_RPC_INVALID);
    if (m.code != code) {
        fail_msg("\"%s\": code %lld, not %lld (%s)", line, (long long)m.code, (long long)code,
                 m.why);
    }
    if (strstr(m.why, why) == NULL) {
        fail_msg("\"%s\": why \"%s\" does not say \"%s\"", line, m.why, why);
    }
    ad_rpc_msg_clear(&m);
}

static void refuses_malformed(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, 0);
    expect_invalid(&r, "", AD_RPC_PARSE_ERROR, "not JSON");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",", AD_RPC_PARSE_ERROR, "not JSON");
    expect_invalid(&r, "\xff\xfe", AD_RPC_PARSE_ERROR, "not JSON");
    expect_invalid(&r, "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]", AD_RPC_INVALID_REQUEST, "batch");
    expect_invalid(&r, "42", AD_RPC_INVALID_REQUEST, "not a JSON object");
    expect_invalid(&r, "{\"method\":\"a\"}", AD_RPC_INVALID_REQUEST, "jsonrpc");
    expect_invalid(&r, "{\"jsonrpc\":\"1.0\",\"method\":\"a\"}", AD_RPC_INVALID_REQUEST, "jsonrpc");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"a\"}", AD_RPC_INVALID_REQUEST,
                   "id");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"a\"}", AD_RPC_INVALID_REQUEST,
                   "id");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"a\"}", AD_RPC_INVALID_REQUEST,
                   "id");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"a\"}", AD_RPC_INVALID_REQUEST,
                   "null id");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"method\":5}", AD_RPC_INVALID_REQUEST, "method");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"\"}", AD_RPC_INVALID_REQUEST, "method");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"a\\u0000b\"}", AD_RPC_PARSE_ERROR,
                   "not JSON");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":3}",
                   AD_RPC_INVALID_REQUEST, "params");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"result\":1}",
                   AD_RPC_INVALID_REQUEST, "result");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":1}", AD_RPC_INVALID_REQUEST, "exactly one");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}",
                   AD_RPC_INVALID_REQUEST, "exactly one");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"result\":1}", AD_RPC_INVALID_REQUEST,
                   "without an id");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":1}", AD_RPC_INVALID_REQUEST,
                   "null id");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\"}}",
                   AD_RPC_INVALID_REQUEST, "error");
    expect_invalid(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"result\":1}", AD_RPC_PARSE_ERROR,
                   "not JSON");
}

/* An invalid request whose id could be read keeps it, so it can be answered. */
static void invalid_keeps_id(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, 0);
    ad_rpc_msg_t m;
    assert_int_equal(
        parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"a\",\"params\":\"x\"}", &m),
        AD_RPC_INVALID);
    assert_int_equal(json_integer_value(m.id), 9);
    size_t len = 0;
    char *line = ad_rpc_error(&r, m.id, m.code, m.message, NULL, &len);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32600,"
                              "\"message\":\"Invalid Request\"}}\n");
    assert_int_equal(len, strlen(line));
    free(line);
    ad_rpc_msg_clear(&m);
}

static void size_cap(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, 0);
    r.line_max = 64;
    char line[200];
    snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"t\":\"%s\"}}",
             "0123456789012345678901234567890123456789");
    ad_rpc_msg_t m;
    assert_int_equal(parse(&r, line, &m), AD_RPC_INVALID);
    assert_non_null(strstr(m.why, "over the 64-byte limit"));
    assert_null(m.root);
    ad_rpc_msg_clear(&m);
    r.line_max = strlen(line);
    assert_int_equal(parse(&r, line, &m), AD_RPC_NOTIFICATION);
    ad_rpc_msg_clear(&m);
}

static void no_version_peers(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, AD_RPC_NO_VERSION);
    ad_rpc_msg_t m;
    assert_int_equal(parse(&r, "{\"id\":1,\"method\":\"item/started\",\"params\":{}}", &m),
                     AD_RPC_REQUEST);
    ad_rpc_msg_clear(&m);
    expect_invalid(&r, "{\"jsonrpc\":\"1.0\",\"method\":\"a\"}", AD_RPC_INVALID_REQUEST, "jsonrpc");
    char *line = NULL;
    size_t len = 0;
    int64_t id =
        ad_rpc_request(&r, "thread/start", json_pack("{s:s}", "cwd", "/w"), 0, &line, &len);
    assert_int_equal(id, 1);
    assert_string_equal(line,
                        "{\"id\":1,\"method\":\"thread/start\",\"params\":{\"cwd\":\"/w\"}}\n");
    free(line);
    line = ad_rpc_notification(&r, "initialized", NULL, &len);
    assert_string_equal(line, "{\"method\":\"initialized\"}\n");
    free(line);
}

static void requests_and_matching(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, 0);
    char *line = NULL;
    size_t len = 0;
    assert_int_equal(
        ad_rpc_request(&r, "initialize", json_pack("{s:i}", "protocolVersion", 1), 10, &line, &len),
        1);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                              "\"params\":{\"protocolVersion\":1}}\n");
    assert_int_equal(len, strlen(line));
    free(line);
    assert_int_equal(ad_rpc_request(&r, "session/new", NULL, 11, &line, &len), 2);
    free(line);
    assert_int_equal(r.npending, 2);

    ad_rpc_msg_t m;
    ad_rpc_call_t c;
    /* an answer to an id never sent, or a string id, matches nothing */
    assert_int_equal(parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", &m),
                     AD_RPC_RESPONSE);
    assert_false(ad_rpc_match(&r, &m, &c));
    ad_rpc_msg_clear(&m);
    assert_int_equal(parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":\"2\",\"result\":{}}", &m),
                     AD_RPC_RESPONSE);
    assert_false(ad_rpc_match(&r, &m, &c));
    ad_rpc_msg_clear(&m);
    /* out of order, each once */
    assert_int_equal(
        parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":1,\"message\":\"m\"}}", &m),
        AD_RPC_ERROR);
    assert_true(ad_rpc_match(&r, &m, &c));
    assert_int_equal(c.id, 2);
    assert_int_equal(c.tag, 11);
    assert_string_equal(c.method, "session/new");
    assert_false(ad_rpc_match(&r, &m, &c));
    ad_rpc_msg_clear(&m);
    assert_int_equal(parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", &m),
                     AD_RPC_RESPONSE);
    assert_true(ad_rpc_match(&r, &m, &c));
    assert_int_equal(c.tag, 10);
    ad_rpc_msg_clear(&m);
    assert_int_equal(r.npending, 0);
    /* a request is never matched as an answer */
    assert_int_equal(parse(&r, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"a\"}", &m),
                     AD_RPC_REQUEST);
    assert_false(ad_rpc_match(&r, &m, &c));
    ad_rpc_msg_clear(&m);
}

static void request_bounds(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t *r = malloc(sizeof(*r));
    assert_non_null(r);
    ad_rpc_init(r, 0);
    char *line = NULL;
    size_t len = 0;
    for (int i = 0; i < AD_RPC_PENDING_MAX; i++) {
        assert_int_equal(ad_rpc_request(r, "m", NULL, i, &line, &len), i + 1);
        free(line);
    }
    assert_int_equal(ad_rpc_request(r, "m", json_object(), 0, &line, &len), AD_ETOOBIG);
    assert_null(line);
    r->npending = 0;
    assert_int_equal(ad_rpc_request(r, "", NULL, 0, &line, &len), AD_EINVAL);
    char long_method[AD_RPC_METHOD_MAX + 1];
    memset(long_method, 'a', sizeof(long_method) - 1);
    long_method[sizeof(long_method) - 1] = '\0';
    assert_int_equal(ad_rpc_request(r, long_method, NULL, 0, &line, &len), AD_EINVAL);
    assert_int_equal(ad_rpc_request(r, "m", json_integer(3), 0, &line, &len), AD_EINVAL);
    assert_int_equal(r->npending, 0);
    assert_null(ad_rpc_notification(r, "m", json_string("x"), &len));
    assert_int_equal(len, 0);
    free(r);
}

static void responses(void **state)
{
    AD_UNUSED(state);
    ad_rpc_t r;
    ad_rpc_init(&r, 0);
    size_t len = 0;
    json_t *id = json_string("req-1");
    char *line = ad_rpc_response(&r, id, json_pack("{s:s}", "content", "hi\n\"there\""), &len);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"result\":{\"content\":"
                              "\"hi\\n\\\"there\\\"\"}}\n");
    free(line);
    line = ad_rpc_response(&r, id, NULL, &len);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"result\":null}\n");
    free(line);
    line = ad_rpc_error(&r, NULL, AD_RPC_PARSE_ERROR, "Parse error", json_string("d"), &len);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                              "\"message\":\"Parse error\",\"data\":\"d\"}}\n");
    free(line);
    json_decref(id);
    /* what is built parses back as what it is */
    line = ad_rpc_notification(&r, "session/cancel", json_pack("{s:s}", "sessionId", "s1"), &len);
    ad_rpc_msg_t m;
    assert_int_equal(ad_rpc_parse(&r, line, len - 1, &m), AD_RPC_NOTIFICATION);
    assert_string_equal(m.method, "session/cancel");
    ad_rpc_msg_clear(&m);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_each_kind), cmocka_unit_test(refuses_malformed),
        cmocka_unit_test(invalid_keeps_id), cmocka_unit_test(size_cap),
        cmocka_unit_test(no_version_peers), cmocka_unit_test(requests_and_matching),
        cmocka_unit_test(request_bounds),   cmocka_unit_test(responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
