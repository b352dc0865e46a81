/* SPDX-License-Identifier: MIT */
/*
 * llm: a direct client of the Anthropic Messages API (stream: true). One
 * libcurl multi handle driven by the libuv loop (socket and timer
 * callbacks, no thread per request); libcurl is loaded with dlopen on the
 * first request, so a daemon that never calls a model never maps it. The
 * SSE decoder and the Messages stream decoder are pure and exposed for the
 * unit tests and the fuzzers. The chats, the store and the events are the
 * REST layer's (src/api/chats.c); this folder knows none of them.
 *
 * Threads: loop thread only. No API key is ever logged by this folder.
 */
#ifndef AD_LLM_H
#define AD_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/core.h"

/* ---- Server-Sent Events (sse.c) -------------------------------------------
 * The WHATWG decoding rules: lines end in LF, CR or CRLF; ':' starts a
 * comment; "field: value" with one leading space stripped; data lines are
 * joined with LF; a blank line dispatches. Bytes may arrive in any split.
 */
#define AD_SSEDEC_EVENT_MAX 64
typedef void (*ad_ssedec_cb)(void *ud, const char *event, const char *data, size_t len);
typedef struct {
    ad_buf_t line; /* the line being read (capped) */
    ad_buf_t data; /* the event's data so far (capped) */
    char event[AD_SSEDEC_EVENT_MAX];
    bool has_data;
    bool after_cr; /* the last byte was CR: a following LF ends nothing */
    ad_ssedec_cb cb;
    void *ud;
} ad_ssedec_t;
/* max bounds one line and one event's data. cb is called once per event
 * (event "" means "message"); data is NUL-terminated and borrowed. */
void ad_ssedec_init(ad_ssedec_t *s, size_t max, ad_ssedec_cb cb, void *ud);
void ad_ssedec_cleanup(ad_ssedec_t *s);
/* 0, or AD_ETOOBIG when a line or an event passes max (the stream is then
 * unusable). */
int ad_ssedec_feed(ad_ssedec_t *s, const char *p, size_t n);

/* ---- the Messages stream (anthropic.c; openai.c for Chat Completions) ---------- */
typedef enum {
    AD_LLM_ANTHROPIC, /* the Messages API: POST <base>/v1/messages, x-api-key */
    AD_LLM_OPENAI,    /* Chat Completions: POST <base>/chat/completions, Bearer */
} ad_llm_provider_t;
/* "anthropic" or "openai" -> 0 and *out, else AD_EINVAL. */
int ad_llm_provider_parse(const char *name, ad_llm_provider_t *out);

typedef struct {
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_read_tokens;
    int64_t cache_write_tokens;
} ad_llm_usage_t;

typedef enum {
    AD_LLM_TEXT,     /* text_delta */
    AD_LLM_THINKING, /* thinking_delta */
    AD_LLM_TOOL,     /* input_json_delta of a tool_use block */
} ad_llm_delta_t;

typedef void (*ad_llm_delta_cb)(void *ud, ad_llm_delta_t kind, const char *text, size_t len);

/* The state of one streamed answer. Owns its SSE decoder. */
typedef struct {
    ad_ssedec_t sse;
    ad_llm_delta_cb on_delta;
    void *ud;
    ad_llm_usage_t usage;
    char model[128];
    char message_id[96];
    char stop_reason[40];
    char error_type[64]; /* set by an `error` event */
    char error_message[512];
    int blocks;    /* content blocks started */
    bool started;  /* message_start seen */
    bool stopped;  /* message_stop seen */
    bool failed;   /* an error event, or bytes that are no stream */
    bool openai;   /* Chat Completions chunks instead of Messages events */
    json_t *tools; /* the tool calls so far (tools.c); NULL until one; owned */
    ad_buf_t text; /* a text delta's decoded text, when it had escapes (anthropic.c) */
} ad_llm_stream_t;

void ad_llm_stream_init(ad_llm_stream_t *st, ad_llm_delta_cb on_delta, void *ud);
/* The same for a Chat Completions stream (openai.c). */
void ad_llm_stream_init_openai(ad_llm_stream_t *st, ad_llm_delta_cb on_delta, void *ud);
/* One Chat Completions `data:` payload (openai.c; called by the decoder). */
void ad_llm_openai_event(ad_llm_stream_t *st, const char *data, size_t len);
void ad_llm_stream_cleanup(ad_llm_stream_t *st);
/* Feeds response body bytes. 0, or AD_ETOOBIG (an event past 1 MiB). */
int ad_llm_stream_feed(ad_llm_stream_t *st, const char *p, size_t n);
/* Tool calls (tools.c), from a tool_use block or a Chat Completions
 * tool_calls delta: the call at index is started (id and name filled in
 * when given, later pieces may add them), then its arguments come in
 * pieces. At most 64 calls of 256 KiB of arguments. */
void ad_llm_tool_start(ad_llm_stream_t *st, int index, const char *id, const char *name);
void ad_llm_tool_args(ad_llm_stream_t *st, int index, const char *text, size_t len);
/* The calls as [{id, name, input (the parsed arguments; null when they are
 * no JSON, then arguments: the text), truncated?}]. New reference. */
json_t *ad_llm_tool_calls(const ad_llm_stream_t *st);

/* The JSON body of a streamed request (new reference). messages is
 * borrowed: [{role, content}]. A system prompt of 1024 bytes or more and
 * the conversation prefix (the last message before the new one) carry
 * cache_control, so repeated turns read the cache. */
typedef struct {
    ad_llm_provider_t provider;
    const char *model;
    const char *system; /* NULL: none */
    json_t *messages;
    double temperature;
    bool has_temperature;
    int max_tokens;
} ad_llm_body_t;
json_t *ad_llm_request_body(const ad_llm_body_t *b);
/* The Chat Completions body: the system prompt as the first message,
 * stream_options.include_usage (openai.c). New reference. */
json_t *ad_llm_request_body_openai(const ad_llm_body_t *b);
/* An error body {type:"error", error:{type, message}} into type/message
 * (left alone when body is no such thing). */
void ad_llm_error_body(const char *body, size_t len, char *type, size_t typesz, char *message,
                       size_t msgsz);
/* retry-after (seconds, or an HTTP date) in ms, or -1 when absent/invalid. */
int64_t ad_llm_retry_after_ms(const char *value, int64_t now_ms);
/* Whether an HTTP status is worth another try: 408, 409, 429, 5xx, 529. */
bool ad_llm_status_retryable(int status);
/* The wait before attempt n (1-based) when the server said nothing:
 * 500 ms * 2^(n-1), at most 8 s, minus up to 25 % jitter (rnd in [0,1)). */
int64_t ad_llm_backoff_ms(int attempt, double rnd);

/* ---- agent definitions (defs.c) -------------------------------------------------
 * A definition: name, category, description, capabilities[], tools[],
 * model, version, author, tags[], tier (fast/balanced/thorough), color,
 * systemPrompt (the body), file, source (data/workspace), workspaceId?, and
 * error when the file is not a good definition (it is listed anyway).
 */
/* Parses a definition file (text of len bytes). fallback_name (the file's
 * stem) names it when the front matter does not. Never NULL; new ref. */
json_t *ad_def_parse(const char *text, size_t len, const char *fallback_name);
/* defs (borrowed) of category (NULL: any) ranked by BM25 against query
 * over name, category, description, capabilities and tags: [{definition,
 * score, matched:[words]}], best first (then by name). New reference. */
json_t *ad_defs_rank(json_t *defs, const char *query, const char *category);
/* cb(defs, ud) on the loop: every .md file of each folder [{path,
 * workspaceId?}] (stolen), read on the thread pool, in folder then name
 * order, then the built-in "general" definition (source "builtin") unless
 * one of them is named so. defs is owned by cb. 0, or an error and cb is
 * not called. */
typedef void (*ad_defs_cb)(json_t *defs, void *ud);
int ad_defs_load(uv_loop_t *loop, json_t *dirs, ad_defs_cb cb, void *ud);

/* ---- rate limits (ratelimit.c) ---------------------------------------------------
 * Token buckets per key ("<org>|<provider>|<model>"): requests, input and
 * output tokens per minute. Owned by the caller (one per daemon). */
typedef struct {
    int64_t requests;      /* per minute */
    int64_t input_tokens;  /* per minute */
    int64_t output_tokens; /* per minute */
} ad_rl_limits_t;
typedef struct ad_rl ad_rl_t;
ad_rl_t *ad_rl_new(const ad_rl_limits_t *defaults);
void ad_rl_free(ad_rl_t *rl);
/* 0: a request of about est_input input tokens may start now (charged);
 * else the ms to wait before trying again. now: wall or monotonic ms, the
 * same clock on every call. */
int64_t ad_rl_try(ad_rl_t *rl, const char *key, int64_t est_input, int64_t now);
/* After a request: charges what it really used beyond the estimate. */
void ad_rl_settle(ad_rl_t *rl, const char *key, int64_t est_input, const ad_llm_usage_t *u,
                  int64_t now);
/* anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining}
 * and OpenAI's x-ratelimit-{limit,remaining}-{requests,tokens} lower the
 * buckets to what the provider says. Other names are ignored. */
void ad_rl_header(ad_rl_t *rl, const char *key, const char *name, const char *value, int64_t now);
/* The key's count of requests waiting (the caller's queue), or NULL. */
int *ad_rl_waiting(ad_rl_t *rl, const char *key, int64_t now);
/* [{key (without prefix), requests {limit, remaining}, inputTokens,
 * outputTokens, queued}] of the keys starting with prefix. New ref. */
json_t *ad_rl_json(ad_rl_t *rl, const char *prefix, int64_t now);

/* ---- files in answers (files.c) ---------------------------------------------------- */
/* Whether p (n bytes) is a project path: relative, UTF-8, at most 512
 * bytes, no empty, "." or ".." segment, no backslash, colon or control
 * character. */
bool ad_llm_path_ok(const char *p, size_t n);
/* The fenced code blocks of markdown whose info string names a file
 * ("```ts src/app.ts", "```src/app.ts", "```py title=app.py"):
 * [{path, content}], the last block winning for a path. New reference. */
json_t *ad_llm_code_files(const char *md);

/* ---- a project as a tar archive (tar.c) -------------------------------------------- */
/* Appends a regular file (mode 0644) at path (at most 1000 bytes; a pax
 * header carries one over 99) to out. 0, or AD_ETOOBIG: past the
 * buffer's max, or a len or an mtime past ustar's 11 octal digits (8 GiB;
 * the year 2242), which are refused, not cut. */
int ad_llm_tar_file(ad_buf_t *out, const char *path, const char *content, size_t len,
                    int64_t mtime);
/* The two zero blocks that end an archive. */
int ad_llm_tar_end(ad_buf_t *out);
/* A folder name from a project's name: [A-Za-z0-9._-], others as '-', at
 * most 60 bytes, never "", "." or starting with '.'; "project" for none. */
void ad_llm_tar_folder_name(const char *name, char *out, size_t outsz);

/* ---- a project taken out as files (export.c), blocking: the pool ------------------ */
/* Whether dir is an absolute path without . or .. parts or a trailing /. */
bool ad_llm_export_path_ok(const char *dir);
/* project {name, description, messages, files [{path, content}]} (borrowed)
 * written into the new folder dir with .agentd-project.json: 0,
 * AD_EEXIST (the folder exists or cannot be made) or AD_EIO / AD_ENOMEM,
 * with why. Never writes through a symlink. */
int ad_llm_project_export(const json_t *project, const char *dir, char *why, size_t whysz);
/* The same packed as a tar archive of folder/ into tar (its bound:
 * AD_ETOOBIG). 0 or the error. */
int ad_llm_project_tar(const json_t *project, const char *folder, ad_buf_t *tar);
/* sync.c (blocking: the pool). base {path: [mtime ns, size]} (borrowed,
 * updated) is the folder's side of each file as both sides last agreed on
 * it; a folder file that differs from it (or, with no entry, has an mtime
 * after since_ms) changed on the folder side. push: the project's files
 * written into the folder dir where they differ and the folder side did
 * not change (*written: how many), every open below dir; 0, AD_ENOENT (no
 * folder) or AD_EIO. scan: the folder's files changed on the folder side
 * and not as the project has them, as changes [{path, content}] (new
 * reference); links, dot files, files over 512 KiB or not UTF-8 are left
 * out. */
int ad_llm_sync_push(const json_t *project, const char *dir, int64_t since_ms, json_t *base,
                     size_t *written);
json_t *ad_llm_sync_scan(const json_t *project, const char *dir, int64_t since_ms, json_t *base);
/* A project's files (name: the request's field) before they are saved: at
 * most 2000 {path (ad_llm_path_ok), content (at most 512 KiB; not needed
 * with delete: true when patch)}, no path twice, 64 MiB in all with
 * *total (which adds their bytes). 0, or AD_EINVAL with field (such as
 * "files[3]") and why. Any thread. */
int ad_llm_project_files_check(const json_t *files, const char *name, bool patch, size_t *total,
                               char *field, size_t fsz, char *why, size_t wsz);
/* A project's messages: at most 10000 {role user|assistant|system,
 * content of at most 1 MiB}; *total adds their bytes. As above. */
int ad_llm_project_messages_check(const json_t *msgs, size_t *total, char *field, size_t fsz,
                                  char *why, size_t wsz);

/* ---- the client (client.c) ------------------------------------------------- */
typedef struct ad_llm ad_llm_t;
typedef struct ad_llm_req ad_llm_req_t;

typedef struct {
    ad_llm_provider_t provider;
    const char *base_url; /* anthropic: no /v1 ("https://api.anthropic.com");
                           * openai: with it ("https://api.openai.com/v1") */
    const char *api_key;  /* borrowed for the call: copied into the header */
    json_t *body;         /* borrowed: serialized at start */
    int max_retries;      /* 429/529/5xx tried again at most this often */
    int stall_ms;         /* no byte (pings count) for this long: cut */
    int connect_ms;       /* connect timeout */
} ad_llm_spec_t;

typedef struct {
    int rc;          /* 0: complete; AD_ECLOSED: cancelled; else failed */
    int http_status; /* the last answer's status, 0 when none */
    int attempts;
    char error_type[64]; /* the provider's error type, or ours (stalled, ...) */
    char error_message[512];
    const ad_llm_stream_t *stream; /* what was decoded (usage, stop reason) */
} ad_llm_result_t;

typedef struct {
    ad_llm_delta_cb on_delta;
    /* Before another try: status, the wait, the attempt about to be made. */
    void (*on_retry)(void *ud, int status, int64_t wait_ms, int attempt);
    /* Rate-limit headers of an answer (anthropic-ratelimit-*, x-ratelimit-*;
     * name lowercase, value). */
    void (*on_header)(void *ud, const char *name, const char *value);
    /* Exactly once per started request, then the request is freed. */
    void (*on_end)(void *ud, const ad_llm_result_t *res);
} ad_llm_cbs_t;

/* The client of loop. Never fails: libcurl is loaded on the first start. */
ad_llm_t *ad_llm_new(uv_loop_t *loop);
/* Cancels every request (their on_end runs with AD_ECLOSED), closes the
 * handles; the memory goes in their close callbacks (run the loop once). */
void ad_llm_free(ad_llm_t *c);
/* Starts a request. 0 and *out (borrowed, valid until on_end), or an error
 * with a message in err (libcurl missing, a bad base URL), and then no
 * callback runs. */
int ad_llm_start(ad_llm_t *c, const ad_llm_spec_t *spec, const ad_llm_cbs_t *cbs, void *ud,
                 ad_llm_req_t **out, char *err, size_t errsz);
/* Stops a request at once: the connection is dropped, on_end runs now
 * with rc AD_ECLOSED and everything is freed. Called from inside the
 * request's own on_delta, the transfer is refused there and on_end runs
 * (once) when curl reports it, later in the same loop turn. */
void ad_llm_cancel(ad_llm_req_t *rq);
/* Requests in flight. */
size_t ad_llm_active(const ad_llm_t *c);

/* ---- one plain HTTP request (fetch.c) ------------------------------------- */
/* For REST APIs other than the models' (src/forge). Never follows a
 * redirect; http and https only. */
/* What a caller may read of the answer's headers (ad_fetch_t.meta): the
 * Location of a redirect (not followed; the caller decides, without its
 * credentials), and the rate limit a forge says (Retry-After in seconds,
 * X-RateLimit-Remaining, X-RateLimit-Reset in epoch seconds; -1 when not
 * said). Only these headers are read; none carries a request's secret. */
typedef struct {
    char location[1024];
    long retry_after_s;
    long ratelimit_remaining;
    long ratelimit_reset;
} ad_fetch_meta_t;
typedef struct {
    const char *method;         /* GET, POST */
    const char *url;            /* borrowed */
    const char *const *headers; /* "Name: value", NULL-terminated; borrowed */
    const char *body;           /* JSON text or NULL; borrowed */
    size_t body_len;            /* 0: strlen(body); else body's bytes (binary: src/push) */
    long timeout_ms;            /* 0: 30 s */
    const char *resolve;        /* "host:port:address": connect there only (checked), or NULL */
    ad_fetch_meta_t *meta;      /* filled when not NULL */
} ad_fetch_t;

/* Loads libcurl; loop thread, before the first ad_llm_fetch. False with a
 * reason in err when it is missing. */
bool ad_llm_fetch_ready(char *err, size_t errsz);
/* Blocking: pool threads only. 0 with the answer's status and body (out
 * keeps at most its cap), or AD_EIO with curl's message in err (never a
 * header's value). */
int ad_llm_fetch(const ad_fetch_t *f, long *status, ad_buf_t *out, char *err, size_t errsz);

#endif
