/* SPDX-License-Identifier: MIT */
/*
 * agent's model prices (price.c): the model_prices setting checked, a
 * model's price looked up, the built-in list. Plain data, any thread.
 */
#ifndef AD_AGENT_PRICE_H
#define AD_AGENT_PRICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- prices ------------------------------------------------------------------ */

/* USD per million tokens of one model (the model_prices setting:
 * {"MODEL": {"input": X, "output": Y, "cachedInput": Z, "cacheWrite": W}},
 * where a key ending in '*' matches names that start with the rest). */
typedef struct {
    double input, output, cached_input, cache_write;
} ad_price_t;

/* Checks a model_prices value: an object of at most 256 models (names of
 * 1-200 bytes) whose prices are objects of the four numbers above, each 0 to
 * 1e6, input and output required. Returns 0, or AD_EINVAL with *why set to
 * a static reason. */
int ad_prices_validate(const json_t *prices, const char **why);

/* The price of model in prices (borrowed; exact name first, then the
 * longest matching "prefix*"), else its built-in list price. False when
 * neither has one. */
bool ad_price_lookup(const json_t *prices, const char *model, ad_price_t *out);
/* The built-in list price of model (the providers' current models, 2025);
 * all of them as a model_prices object (new reference). */
bool ad_price_builtin(const char *model, ad_price_t *out);
json_t *ad_price_builtin_json(void);

#endif
