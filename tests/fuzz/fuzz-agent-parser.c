/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the agent output parsers: the first byte picks the
 * executor (4-7: codex on app-server, its JSON-RPC lines, with a message
 * waiting for the thread; 8 and up: an ACP agent after initialize, with a
 * prompt waiting for the session), the rest is split into lines and fed to one parser, then every
 * record is mapped to its event the way the runner does. Build with
 * BUILD=fuzz (clang, -fsanitize=fuzzer); seed corpus:
 * tests/fixtures/transcripts/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    ad_executor_t kind = (ad_executor_t)(data[0] % 4);
    bool acp = data[0] >= 8;
    bool app = !acp && (data[0] & 4) != 0;
    ad_parser_t *p = ad_parser_new(acp ? AD_EXEC_ACP : app ? AD_EXEC_CODEX : kind);
    if (acp) {
        ad_acp_setup_t s = {.cwd = "/w", .prompt = "hello", .mode = (ad_agent_mode_t)(data[0] % 3)};
        size_t len = 0;
        free(ad_acp_begin(p, &s, &len));
    }
    if (app) {
        ad_codex_open_t o = {.mode = (ad_agent_mode_t)(data[0] % 3)};
        size_t len = 0;
        char *line = ad_codex_app_open(p, &o, &len);
        free(line);
        line = NULL;
        (void)ad_codex_app_input(p, "hello", &line, &len);
        free(line);
    }
    ad_recs_t recs;
    ad_recs_init(&recs);
    ad_rec_ids_t ids = {.agent_id = "ag_1", .run_id = "run_1", .crew_id = NULL};
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    uint64_t now = 0;
    while (n > 0) {
        const char *nl = memchr(s, '\n', n);
        size_t len = nl != NULL ? (size_t)(nl - s) : n;
        ad_parser_feed(p, s, len, now++, &recs);
        s += len;
        n -= len;
        if (nl != NULL) {
            s++;
            n--;
        }
    }
    ad_parser_finish(p, now, &recs);
    for (size_t i = 0; i < recs.n; i++) {
        const char *type;
        json_t *ev = ad_rec_event(&recs.v[i], &ids, &type);
        char *dump = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
        if (ev != NULL && dump == NULL) {
            abort(); /* a payload that cannot be serialized is a bug */
        }
        free(dump);
        json_decref(ev);
        json_decref(ad_rec_message_json(&recs.v[i]));
    }
    ad_usage_t u;
    ad_parser_pending_usage(p, &u);
    ad_parser_free(p);
    ad_recs_cleanup(&recs);
    return 0;
}
