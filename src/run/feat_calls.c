/* SPDX-License-Identifier: MIT */
/*
 * The calls feature (issue #79): a CLI's tool calls. A call and its
 * result are one stored message (the result is written over the call's
 * row, same id and time: output.c asks ad_run_call_opened /
 * ad_run_call_closed), and tool_start / tool_end go out as events.
 *
 * Owns (its state, allocated at the run's first call: a plain command
 * has none, 4.5 KB inside every run before, issue #38): the calls waiting
 * for their result, oldest first; a call past AD_RUN_OPEN_CALLS keeps
 * two rows. Hooks: record (AD_REC_TOOL_START, AD_REC_TOOL_END).
 */
#include "run/features.h"
#include "tables/stats.h"

#include <string.h>

typedef struct {
    struct {
        char tool_id[96];
        char msg_id[AD_ID_MAX];
        int64_t at;
    } open[AD_RUN_OPEN_CALLS];
    size_t nopen;
} calls_t;

/* The run's calls in flight, allocated at its first. */
static calls_t *calls_of(ad_run_t *run)
{
    return ad_run_ctx(run, AD_RUN_FEAT_CALLS);
}

/* A tool call's message, remembered until its result comes. */
void ad_run_call_opened(ad_run_t *run, const char *tool_id, const char *msg_id, int64_t at)
{
    calls_t *c = calls_of(run);
    if (strlen(tool_id) >= sizeof(c->open[0].tool_id)) {
        return; /* an id that long keeps two rows */
    }
    if (c->nopen == AD_RUN_OPEN_CALLS) {
        memmove(&c->open[0], &c->open[1], (AD_RUN_OPEN_CALLS - 1) * sizeof(c->open[0]));
        c->nopen--;
    }
    size_t i = c->nopen++;
    snprintf(c->open[i].tool_id, sizeof(c->open[i].tool_id), "%s", tool_id);
    memcpy(c->open[i].msg_id, msg_id, AD_ID_MAX);
    c->open[i].at = at;
}

/* The message of tool call tool_id, taken off the open list: true when
 * there was one (its id and time in id and *at). */
bool ad_run_call_closed(ad_run_t *run, const char *tool_id, char id[AD_ID_MAX], int64_t *at)
{
    calls_t *c = ad_run_ctx_peek(run, AD_RUN_FEAT_CALLS);
    for (size_t i = 0; c != NULL && i < c->nopen; i++) {
        if (strcmp(c->open[i].tool_id, tool_id) == 0) {
            memcpy(id, c->open[i].msg_id, AD_ID_MAX);
            *at = c->open[i].at;
            memmove(&c->open[i], &c->open[i + 1], (c->nopen - i - 1) * sizeof(c->open[0]));
            c->nopen--;
            return true;
        }
    }
    return false;
}

/* tool_start / tool_end of a CLI's tool call (tool_end says denied when
 * the user denied it: the user's answer, not a failure). */
static bool calls_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_TOOL_START && rec->type != AD_REC_TOOL_END) {
        return false;
    }
    if (rec->type == AD_REC_TOOL_START) {
        ad_run_publish(run->r, &run->topics, "tool_start",
                       json_pack("{s:s?, s:s?, s:O?, s:s, s:s, s:s?}", "toolId", rec->tool_id,
                                 "name", rec->tool_name, "params", rec->json, "agentId",
                                 run->agent_id, "runId", run->run_id, "crewId",
                                 run->crew_id[0] ? run->crew_id : NULL));
        return true;
    }
    ad_store_tool_timed(run->r->store, run->org_id, (int64_t)ad_wall_ms(), rec->duration_ms);
    json_t *end = json_pack(
        "{s:s?, s:I, s:s, s:o, s:s, s:s, s:s?}", "toolId", rec->tool_id, "durationMs",
        (json_int_t)rec->duration_ms, "status", rec->is_error ? "error" : "success", "exitCode",
        rec->exit_code >= 0 ? json_integer(rec->exit_code) : json_null(), "agentId", run->agent_id,
        "runId", run->run_id, "crewId", run->crew_id[0] ? run->crew_id : NULL);
    if (rec->is_error && ad_run_tool_denied(run, rec->tool_id)) {
        json_object_set_new(end, "denied", json_true()); /* the user's answer, not a failure */
    }
    ad_run_publish(run->r, &run->topics, "tool_end", end);
    return true;
}

const ad_run_feature_t ad_run_feat_calls = {
    .name = "calls",
    .ctx_size = sizeof(calls_t),
    .record = calls_record,
};
