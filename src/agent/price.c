/* SPDX-License-Identifier: MIT */
/*
 * Model prices: the model_prices setting (USD per million tokens per model,
 * checked here for the store), the lookup of a model's price, and the cost
 * of a turn's usage for the CLIs that report none (Codex, Gemini) and for
 * chats. The setting wins; past it, the providers' list prices of their
 * current models are built in (builtin[] below, as published in 2025:
 * update them here when a provider changes a price), so a cost is not $0.00
 * before anyone sets one. A model in neither says so once per run.
 */
#include "agent/agent_int.h"
#include "agent/price.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRICES_MAX 256
#define PRICE_MAX 1e6

static const char *const price_keys[] = {"input", "output", "cachedInput", "cacheWrite"};

static int price_validate(const json_t *p, const char **why)
{
    if (!json_is_object(p)) {
        *why = "each model's price must be an object {input, output, cachedInput?, cacheWrite?} "
               "in USD per million tokens";
        return AD_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < AD_ARRAY_LEN(price_keys); i++) {
            known = known || strcmp(k, price_keys[i]) == 0;
        }
        if (!known) {
            *why = "a price has only input, output, cachedInput and cacheWrite";
            return AD_EINVAL;
        }
        if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0 ||
            json_number_value(v) > PRICE_MAX) {
            *why = "prices must be numbers from 0 to 1000000 (USD per million tokens)";
            return AD_EINVAL;
        }
    }
    if (json_object_get(p, "input") == NULL || json_object_get(p, "output") == NULL) {
        *why = "a price needs input and output (USD per million tokens)";
        return AD_EINVAL;
    }
    return 0;
}

int ad_prices_validate(const json_t *prices, const char **why)
{
    if (!json_is_object(prices) || json_object_size(prices) > PRICES_MAX) {
        *why = "must be an object of at most 256 models, each {input, output, cachedInput?, "
               "cacheWrite?} in USD per million tokens";
        return AD_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)prices, k, v)
    {
        size_t n = strlen(k);
        if (n == 0 || n > 200 || (n == 1 && k[0] == '*')) {
            *why = "model names must be 1 to 200 bytes (a trailing * matches a prefix)";
            return AD_EINVAL;
        }
        if (price_validate(v, why) != 0) {
            return AD_EINVAL;
        }
    }
    return 0;
}

static void price_from(const json_t *p, ad_price_t *out)
{
    out->input = json_number_value(json_object_get(p, "input"));
    out->output = json_number_value(json_object_get(p, "output"));
    json_t *c = json_object_get(p, "cachedInput");
    json_t *w = json_object_get(p, "cacheWrite");
    out->cached_input = json_is_number(c) ? json_number_value(c) : out->input;
    out->cache_write = json_is_number(w) ? json_number_value(w) : out->input;
}

/* List prices, USD per million tokens: input, output, cached input
 * (cache read), cache write. A name ending in '*' is a prefix; the longest
 * matching one wins, so "claude-opus-4-5*" beats "claude-opus-4*". */
static const struct {
    const char *model;
    ad_price_t p;
} builtin[] = {
    /* Anthropic */
    {"claude-opus-4-5*", {5, 25, 0.5, 6.25}},
    {"claude-opus-4*", {15, 75, 1.5, 18.75}},
    {"claude-sonnet-4*", {3, 15, 0.3, 3.75}},
    {"claude-3-7-sonnet*", {3, 15, 0.3, 3.75}},
    {"claude-3-5-sonnet*", {3, 15, 0.3, 3.75}},
    {"claude-haiku-4-5*", {1, 5, 0.1, 1.25}},
    {"claude-3-5-haiku*", {0.8, 4, 0.08, 1}},
    /* OpenAI (cache writes cost input) */
    {"gpt-5*", {1.25, 10, 0.125, 1.25}},
    {"gpt-5-mini*", {0.25, 2, 0.025, 0.25}},
    {"gpt-5-nano*", {0.05, 0.4, 0.005, 0.05}},
    {"gpt-4.1*", {2, 8, 0.5, 2}},
    {"gpt-4.1-mini*", {0.4, 1.6, 0.1, 0.4}},
    {"gpt-4.1-nano*", {0.1, 0.4, 0.025, 0.1}},
    {"gpt-4o*", {2.5, 10, 1.25, 2.5}},
    {"gpt-4o-mini*", {0.15, 0.6, 0.075, 0.15}},
    {"o3*", {2, 8, 0.5, 2}},
    {"o4-mini*", {1.1, 4.4, 0.275, 1.1}},
    /* Google (prompts up to 200k tokens) */
    {"gemini-3-pro*", {2, 12, 0.2, 2}},
    {"gemini-2.5-pro*", {1.25, 10, 0.125, 1.25}},
    {"gemini-2.5-flash*", {0.3, 2.5, 0.03, 0.3}},
    {"gemini-2.5-flash-lite*", {0.1, 0.4, 0.01, 0.1}},
    {"gemini-2.0-flash*", {0.1, 0.4, 0.025, 0.1}},
};

bool ad_price_builtin(const char *model, ad_price_t *out)
{
    size_t best = AD_ARRAY_LEN(builtin), best_len = 0;
    for (size_t i = 0; model != NULL && i < AD_ARRAY_LEN(builtin); i++) {
        const char *k = builtin[i].model;
        size_t n = strlen(k);
        bool prefix = k[n - 1] == '*';
        if ((prefix && n - 1 > best_len && strncmp(model, k, n - 1) == 0) ||
            (!prefix && strcmp(model, k) == 0)) {
            best = i;
            best_len = prefix ? n - 1 : SIZE_MAX;
        }
    }
    if (best == AD_ARRAY_LEN(builtin)) {
        return false;
    }
    *out = builtin[best].p;
    return true;
}

json_t *ad_price_builtin_json(void)
{
    json_t *o = json_object();
    for (size_t i = 0; i < AD_ARRAY_LEN(builtin); i++) {
        const ad_price_t *p = &builtin[i].p;
        json_object_set_new(o, builtin[i].model,
                            json_pack("{s:f, s:f, s:f, s:f}", "input", p->input, "output",
                                      p->output, "cachedInput", p->cached_input, "cacheWrite",
                                      p->cache_write));
    }
    return o;
}

/* The setting's price of model: exact name first, then the longest prefix. */
static bool setting_lookup(const json_t *prices, const char *model, ad_price_t *out)
{
    if (!json_is_object(prices)) {
        return false;
    }
    json_t *exact = json_object_get(prices, model);
    if (json_is_object(exact)) {
        price_from(exact, out);
        return true;
    }
    const char *k, *best = NULL;
    size_t best_len = 0;
    json_t *v;
    json_object_foreach((json_t *)prices, k, v)
    {
        size_t n = strlen(k);
        if (n >= 2 && k[n - 1] == '*' && n - 1 > best_len && strncmp(model, k, n - 1) == 0) {
            best = k;
            best_len = n - 1;
        }
    }
    if (best == NULL || !json_is_object(json_object_get(prices, best))) {
        return false;
    }
    price_from(json_object_get(prices, best), out);
    return true;
}

bool ad_price_lookup(const json_t *prices, const char *model, ad_price_t *out)
{
    if (model == NULL || model[0] == '\0') {
        return false;
    }
    return setting_lookup(prices, model, out) || ad_price_builtin(model, out);
}

double ad_price_cost(const ad_price_t *p, const ad_usage_t *u)
{
    double c = (double)u->input_tokens * p->input + (double)u->output_tokens * p->output +
               (double)u->cache_read_tokens * p->cached_input +
               (double)u->cache_creation_tokens * p->cache_write;
    return c / 1e6;
}

/* Whether model was already said to have no price in this run; notes it. */
static bool said_unpriced(ad_parser_t *p, const char *model)
{
    char key[256];
    snprintf(key, sizeof(key), ",%s,", model);
    if (p->unpriced.data != NULL && strstr(p->unpriced.data, key) != NULL) {
        return true;
    }
    size_t mark = p->unpriced.len;
    if ((p->unpriced.len == 0 && ad_buf_putc(&p->unpriced, ',') != 0) ||
        ad_buf_puts(&p->unpriced, key + 1) != 0) {
        /* The list is full: say nothing more rather than the same again. */
        ad_buf_truncate(&p->unpriced, mark);
        return true;
    }
    return false;
}

double ad_parser_cost(ad_parser_t *p, const char *model, const ad_usage_t *u, ad_recs_t *out)
{
    ad_price_t price;
    if (ad_price_lookup(p->prices, model, &price)) {
        return ad_price_cost(&price, u);
    }
    const char *name = model != NULL && model[0] != '\0' ? model : "(default)";
    if (!said_unpriced(p, name)) {
        char text[400];
        if (model == NULL || model[0] == '\0') {
            snprintf(text, sizeof(text),
                     "cost not counted: %s does not say which model it used; give the agent a "
                     "model and its price in the model_prices setting",
                     ad_executor_name(p->kind));
        } else {
            snprintf(text, sizeof(text),
                     "cost not counted for model %.200s: no price for it in the model_prices "
                     "setting (USD per million tokens)",
                     model);
        }
        ad_rec_notice(out, "price", text, NULL);
    }
    return 0;
}
