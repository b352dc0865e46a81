/* SPDX-License-Identifier: MIT */
/*
 * What a client is looking at, and which events an SSE reader wants. A
 * dashboard says on its /ws which agent's page it shows while the page is
 * visible and focused ({type: presence, payload: {agentId | null}}); the
 * tray helper asks before it shows a desktop notification about that
 * agent (GET /api/agents/:id/presence). A presence counts only for the
 * same person as the one asking (the owner, or the same token), so a
 * client of another token or organisation cannot silence anyone's
 * notifications; it ends with its connection. An SSE reader may name the
 * event types it wants (?types=), so a reader of a few (the tray) is not
 * sent every output line.
 */
#include "live/live_int.h"

#include <stdlib.h>
#include <string.h>

#define TYPES_MAX 32
#define TYPE_LEN_MAX 40

/* An id as agentd makes them: letters, digits, '_' and '-'. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < AD_ID_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

void ad_live_presence_msg(ad_live_chan_t *ch, json_t *payload)
{
    json_t *v = json_object_get(payload, "agentId");
    const char *id = json_string_value(v);
    if (v != NULL && !json_is_null(v) && (id == NULL || (id[0] != '\0' && !id_ok(id)))) {
        ad_live_error(ch, "VALIDATION_ERROR", "payload.agentId: an agent id, or null");
        return;
    }
    snprintf(ch->presence, sizeof(ch->presence), "%s", id != NULL ? id : "");
    ad_live_notice(ch, "presence",
                   json_pack("{s:s?}", "agentId", ch->presence[0] ? ch->presence : NULL));
}

/* Whether a and b are the same person: both the owner (its token, its
 * sessions, the unix socket), or the same token. */
static bool same_person(const ad_principal_t *a, const ad_principal_t *b)
{
    if (a->owner || b->owner) {
        return a->owner && b->owner;
    }
    return a->token_id[0] != '\0' && strcmp(a->token_id, b->token_id) == 0;
}

bool ad_live_viewing(ad_live_t *L, const ad_principal_t *who, const char *agent_id)
{
    for (ad_live_chan_t *ch = L != NULL ? L->channels : NULL; ch != NULL; ch = ch->next) {
        if (!ch->done && ch->kind == AD_LIVE_WS && ch->presence[0] != '\0' &&
            strcmp(ch->presence, agent_id) == 0 && same_person(&ch->who, who)) {
            return true;
        }
    }
    return false;
}

int ad_live_set_types(ad_live_chan_t *ch, const char *csv)
{
    size_t n = 0, len = strlen(csv);
    for (const char *p = csv; *p != '\0';) {
        size_t k = strcspn(p, ",");
        if (k == 0 || k > TYPE_LEN_MAX || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") < k ||
            ++n > TYPES_MAX) {
            return AD_EINVAL;
        }
        p += k + (p[k] == ',');
    }
    if (n == 0) {
        return AD_EINVAL;
    }
    if (ch == NULL) {
        return 0;
    }
    char *list = ad_xmalloc(len + 3);
    snprintf(list, len + 3, ",%s,", csv);
    free(ch->types);
    ch->types = list;
    return 0;
}
