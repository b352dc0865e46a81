/* SPDX-License-Identifier: MIT */
/*
 * A start refused before it made a run (issue #73): its worktree's .git or
 * commondir say something agentd did not write, a path the program needs
 * is outside the sandbox, the sandbox cannot be built. No run row is
 * written, so the reason would live only in the HTTP answer, the audit and
 * the log: it goes into the agent's transcript as a system message too,
 * and becomes the agent's statusReason (code "start_refused", status
 * "error"), which the dashboard and `agentd logs` show. Such a note of no
 * run's batch (a move's, a goal check's, a late CLI version's too) is
 * written here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "run/features.h"

#include <stdlib.h>
#include <string.h>

/* The note: its own message row (of a run that may have ended, or of
 * none), written in its turn behind what waits for space (and again after
 * such a refusal, ad_run_write), as the agent's change after it is. */
typedef struct {
    ad_store_message_t m;
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    char *text;
} note_t;

static void note_free(void *arg)
{
    note_t *n = arg;
    free(n->text);
    free(n);
}

static void note_write(ad_runner_t *r, void *arg, void *ctx)
{
    note_t *n = arg;
    ad_store_messages_insert(r->store, &n->m, 1, ad_run_write_done, ctx);
}

void ad_run_note_system(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                        const char *run_id, const char *text)
{
    note_t *n = ad_xcalloc(1, sizeof(*n));
    ad_id_new("msg", n->id);
    snprintf(n->agent_id, sizeof(n->agent_id), "%s", agent_id);
    snprintf(n->run_id, sizeof(n->run_id), "%s", run_id != NULL ? run_id : "");
    n->text = ad_xstrdup(text);
    n->m = (ad_store_message_t){.id = n->id,
                                .agent_id = n->agent_id,
                                .run_id = run_id != NULL ? n->run_id : NULL,
                                .role = "system",
                                .content = n->text,
                                .is_complete = true,
                                .now = ad_wall_ms()};
    ad_run_publish(r, t, "message_created",
                   json_pack("{s:o}", "message", ad_store_message_json(&n->m)));
    ad_run_write(r, agent_id, "a note of no run", note_write, n, note_free);
}

typedef struct {
    ad_runner_t *r;
    ad_run_topics_t topics;
    char agent_id[AD_ID_MAX];
} refused_t;

static void on_status(int rc, json_t *result, void *ud)
{
    refused_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "refused start's status not stored agent=%s error=%s",
               c->agent_id, ad_strerror(rc));
    } else {
        ad_run_publish_status(c->r, &c->topics, c->agent_id, "error", NULL,
                              json_object_get(json_object_get(result, "agent"), "statusReason"));
    }
    json_decref(result);
    free(c);
}

void ad_run_start_refused(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                          const char *ws, const char *why)
{
    if (agent == NULL || agent_id == NULL || strlen(agent_id) >= AD_ID_MAX) {
        return;
    }
    const char *org = agent->org_id;
    org = org != NULL ? org : AD_ORG_DEFAULT;
    char text[1200];
    snprintf(text, sizeof(text), "agentd did not start the agent: %s",
             why != NULL && why[0] != '\0' ? why : "its start was refused");
    refused_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
    ad_run_topics_init(&c->topics, agent_id, NULL, ws, org, NULL);
    /* the transcript: a system message of no run (the writer keeps their
     * order: the note is stored before the status below) */
    ad_run_note_system(r, &c->topics, agent_id, NULL, text);
    /* the agent: status error, why in statusReason (and state.statusReason,
     * the older string, as a run's end sets it) */
    ad_store_agent_runtime_t u = {
        .context_level = -1, .set_status = true, .status = AD_ROW_AGENT_STATUS_ERROR};
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    u.now = ad_wall_ms();
    ad_status_reason_set(&u.why, "start_refused", NULL, "start refused: %s",
                         why != NULL && why[0] != '\0' ? why : "no reason given");
    u.state_patch = json_pack("{s:s}", "statusReason", u.why.text);
    ad_run_agent_write(r, &u, false, on_status, c);
}
