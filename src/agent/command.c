/* SPDX-License-Identifier: MIT */
/*
 * The `command` executor's output: a JSON object line whose `type` is an
 * event the bus knows (metrics, tool progress, agent state updates) becomes
 * an AD_REC_EVENT for the runner to publish; every other line is output.
 */
#include "agent/agent_int.h"

#include <string.h>

static const char *const event_types[] = {"metric",   "metrics",     "histogram",
                                          "counts",   "tool_start",  "tool_progress",
                                          "tool_end", "agent_update"};

bool ad_command_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    AD_UNUSED(p);
    AD_UNUSED(now);
    const char *type = ad_json_str(obj, "type");
    if (type == NULL) {
        return false;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(event_types); i++) {
        if (strcmp(type, event_types[i]) == 0) {
            ad_rec_t *r = ad_rec_push(out, AD_REC_EVENT);
            r->subtype = ad_xstrdup(type);
            r->json = json_incref(obj);
            return true;
        }
    }
    return false;
}
