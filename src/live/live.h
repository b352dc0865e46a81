/* SPDX-License-Identifier: MIT */
/*
 * live: the live channels' wire format. For now the seeds' dialects of a
 * live frame (src/api/live.c owns the channels).
 *
 * Threads: any (pure JSON shaping).
 */
#ifndef AD_LIVE_H
#define AD_LIVE_H

#include <jansson.h>
#include <stdbool.h>

#include "bus/bus.h"
#include "core/core.h"

/* ---- the seeds' dialects (seed.c) ---------------------------------------------------- */
/* env {type, payload, ...} in the seed's snake_case, in place; false when it
 * has no payload object to translate. */
bool ad_live_seed_envelope(json_t *env);
/* A system_health payload with every figure the seed's panel reads (0 and
 * <key>Available: false where agentd has null), in place. */
void ad_live_seed_health(json_t *payload);
/* An agent status in the Claude Manager seed's strict enum (running,
 * waiting, error, finished): paused is waiting; idle and stopped finished. */
const char *ad_live_seed_status(const char *st);
/* The text of each answer so far on one /ws?compat=seed connection; the
 * connection owns the list (*head) and frees it with ad_live_seed_acc_free. */
typedef struct ad_live_seed_acc ad_live_seed_acc_t;
/* ev in the workbench seed's stream form (a new string, the caller frees
 * it), or NULL: send ev as it is. Updates *head's accumulated text. */
char *ad_live_seed_compat_text(ad_live_seed_acc_t **head, const ad_bus_event_t *ev);
void ad_live_seed_acc_free(ad_live_seed_acc_t **head);

#endif
