/* SPDX-License-Identifier: MIT */
/*
 * Rate limits: three token buckets (requests, input tokens, output tokens
 * per minute) per key (an organisation's credential and a model), refilled
 * continuously, lowered by what the provider says in its
 * anthropic-ratelimit-* headers, charged an estimate of the input before a
 * request and the real usage after it. Pure: the caller queues what must
 * wait (src/api/chats.c).
 */
#include "llm/llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MS 60000.0
#define KEYS_MAX 4096

typedef struct {
    double level;
    double cap;
    int64_t at_ms; /* when level was last refilled */
} bucket_t;

typedef struct entry {
    struct entry *next;
    char key[256];
    bucket_t b[3]; /* requests, input tokens, output tokens */
    int waiting;
} entry_t;

struct ad_rl {
    ad_rl_limits_t defaults;
    entry_t *entries;
    size_t n;
};

ad_rl_t *ad_rl_new(const ad_rl_limits_t *defaults)
{
    ad_rl_t *rl = ad_xcalloc(1, sizeof(*rl));
    rl->defaults = *defaults;
    return rl;
}

void ad_rl_free(ad_rl_t *rl)
{
    if (rl == NULL) {
        return;
    }
    while (rl->entries != NULL) {
        entry_t *e = rl->entries;
        rl->entries = e->next;
        free(e);
    }
    free(rl);
}

static void refill(bucket_t *b, int64_t now)
{
    if (now > b->at_ms) {
        b->level = fmin(b->cap, b->level + b->cap * (double)(now - b->at_ms) / WINDOW_MS);
        b->at_ms = now;
    }
}

static entry_t *entry(ad_rl_t *rl, const char *key, int64_t now)
{
    for (entry_t *e = rl->entries; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            for (int i = 0; i < 3; i++) {
                refill(&e->b[i], now);
            }
            return e;
        }
    }
    if (rl->n >= KEYS_MAX) {
        return NULL;
    }
    entry_t *e = ad_xcalloc(1, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    double caps[3] = {(double)rl->defaults.requests, (double)rl->defaults.input_tokens,
                      (double)rl->defaults.output_tokens};
    for (int i = 0; i < 3; i++) {
        e->b[i] = (bucket_t){.level = caps[i], .cap = caps[i], .at_ms = now};
    }
    e->next = rl->entries;
    rl->entries = e;
    rl->n++;
    return e;
}

/* ms until b holds need (need is capped at the bucket's size). */
static int64_t wait_for(const bucket_t *b, double need)
{
    need = fmin(need, b->cap);
    if (b->level >= need || b->cap <= 0) {
        return 0;
    }
    return (int64_t)ceil((need - b->level) * WINDOW_MS / b->cap);
}

int64_t ad_rl_try(ad_rl_t *rl, const char *key, int64_t est_input, int64_t now)
{
    entry_t *e = entry(rl, key, now);
    if (e == NULL) {
        return 0; /* past the key cap nothing is limited rather than everything */
    }
    int64_t w = wait_for(&e->b[0], 1);
    int64_t wi = wait_for(&e->b[1], (double)est_input);
    int64_t wo = wait_for(&e->b[2], 1);
    w = w > wi ? w : wi;
    w = w > wo ? w : wo;
    if (w > 0) {
        return w;
    }
    e->b[0].level -= 1;
    e->b[1].level -= fmin((double)est_input, e->b[1].cap);
    return 0;
}

void ad_rl_settle(ad_rl_t *rl, const char *key, int64_t est_input, const ad_llm_usage_t *u,
                  int64_t now)
{
    entry_t *e = entry(rl, key, now);
    if (e == NULL) {
        return;
    }
    /* Cache reads count towards the input limit as the API counts them. */
    int64_t in = u->input_tokens + u->cache_write_tokens;
    e->b[1].level -= (double)(in - est_input);
    e->b[2].level -= (double)u->output_tokens;
    for (int i = 1; i < 3; i++) {
        e->b[i].level = fmax(e->b[i].level, -e->b[i].cap);
    }
}

/* OpenAI's x-ratelimit-{limit,remaining}-{requests,tokens}: tokens are
 * counted against the input bucket. */
static void openai_header(ad_rl_t *rl, const char *key, const char *rest, const char *value,
                          int64_t now)
{
    bool limit = strncmp(rest, "limit-", 6) == 0;
    if (!limit && strncmp(rest, "remaining-", 10) != 0) {
        return;
    }
    const char *what = rest + (limit ? 6 : 10);
    int i = strcmp(what, "requests") == 0 ? 0 : strcmp(what, "tokens") == 0 ? 1 : -1;
    entry_t *e = i >= 0 ? entry(rl, key, now) : NULL;
    char *end;
    double v = strtod(value, &end);
    if (e == NULL || end == value || v < 0) {
        return;
    }
    if (limit && v > 0) {
        e->b[i].cap = v;
    }
    e->b[i].level = fmin(e->b[i].level, v);
}

void ad_rl_header(ad_rl_t *rl, const char *key, const char *name, const char *value, int64_t now)
{
    if (strncmp(name, "x-ratelimit-", 12) == 0) {
        openai_header(rl, key, name + 12, value, now);
        return;
    }
    static const char *const kinds[] = {"requests", "input-tokens", "output-tokens"};
    const char *rest = strncmp(name, "anthropic-ratelimit-", 20) == 0 ? name + 20 : NULL;
    entry_t *e = rest != NULL ? entry(rl, key, now) : NULL;
    for (int i = 0; e != NULL && i < 3; i++) {
        size_t k = strlen(kinds[i]);
        if (strncmp(rest, kinds[i], k) != 0 || rest[k] != '-') {
            continue;
        }
        char *end;
        double v = strtod(value, &end);
        if (end == value || v < 0) {
            return;
        }
        if (strcmp(rest + k + 1, "limit") == 0 && v > 0) {
            e->b[i].cap = v;
            e->b[i].level = fmin(e->b[i].level, v);
        } else if (strcmp(rest + k + 1, "remaining") == 0) {
            e->b[i].level = fmin(e->b[i].level, v);
        }
    }
}

int *ad_rl_waiting(ad_rl_t *rl, const char *key, int64_t now)
{
    entry_t *e = entry(rl, key, now);
    return e != NULL ? &e->waiting : NULL;
}

json_t *ad_rl_json(ad_rl_t *rl, const char *prefix, int64_t now)
{
    static const char *const names[] = {"requests", "inputTokens", "outputTokens"};
    json_t *out = json_array();
    size_t pl = prefix != NULL ? strlen(prefix) : 0;
    for (entry_t *e = rl->entries; e != NULL; e = e->next) {
        if (pl > 0 && strncmp(e->key, prefix, pl) != 0) {
            continue;
        }
        json_t *o = json_pack("{s:s, s:i}", "key", e->key + pl, "queued", e->waiting);
        for (int i = 0; i < 3; i++) {
            refill(&e->b[i], now);
            json_object_set_new(o, names[i],
                                json_pack("{s:I, s:I}", "limit", (json_int_t)e->b[i].cap,
                                          "remaining", (json_int_t)floor(fmax(e->b[i].level, 0))));
        }
        json_array_append_new(out, o);
    }
    return out;
}
