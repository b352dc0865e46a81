/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the LLM workbench's parsers of untrusted bytes:
 * the Messages API stream (SSE framing and event JSON) fed in two reads
 * split where the input says, and the same bytes as a Chat Completions
 * stream, each with the tool calls it put together; then the same bytes
 * as a definition file (YAML front matter), as an answer whose code
 * blocks name files, and as a path and content in a tar archive. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"
#include "fuzz_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_delta(void *ud, ad_llm_delta_t kind, const char *text, size_t len)
{
    size_t *total = ud;
    (void)kind;
    (void)text;
    *total += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_split_t in;
    if (!fz_split(data, size, &in)) {
        return 0;
    }
    size_t total = 0;
    ad_llm_stream_t st;
    ad_llm_stream_init(&st, on_delta, &total);
    if (ad_llm_stream_feed(&st, in.s, in.split) == 0) {
        (void)ad_llm_stream_feed(&st, in.s + in.split, in.n - in.split);
    }
    json_decref(ad_llm_tool_calls(&st));
    ad_llm_stream_cleanup(&st);
    ad_llm_stream_init_openai(&st, on_delta, &total);
    if (ad_llm_stream_feed(&st, in.s, in.split) == 0) {
        (void)ad_llm_stream_feed(&st, in.s + in.split, in.n - in.split);
    }
    json_decref(ad_llm_tool_calls(&st));
    ad_llm_stream_cleanup(&st);
    json_decref(ad_def_parse(in.s, in.n, "fuzz"));
    char *text = malloc(in.n + 1);
    memcpy(text, in.s, in.n);
    text[in.n] = '\0';
    json_decref(ad_llm_code_files(text));
    (void)ad_llm_path_ok(in.s, in.n);
    ad_buf_t tar;
    ad_buf_init(&tar, 64 * 1024);
    char name[80];
    ad_llm_tar_folder_name(text, name, sizeof(name));
    (void)ad_llm_tar_file(&tar, in.split < in.n ? text + in.split : "", in.s, in.split, 0);
    ad_buf_cleanup(&tar);
    free(text);
    return 0;
}
