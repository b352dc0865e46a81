/* SPDX-License-Identifier: MIT */
/*
 * A Claude agent whose CLI session is gone (issue #74): a run started with
 * --resume <id> that the CLI refuses ("No conversation found with session
 * ID: <id>", in its result's errors and on stderr, exit 1: the session
 * file was deleted, or the agent's home moved) would fail the same way on
 * every start. Once such a run's end is stored, the agent's state records
 * the lost id (state.sessionGone, so start.c resumes nothing while the
 * stored id is that one), the transcript says so, and a new run starts a
 * fresh session with the same first prompt. The fresh run's own session
 * id replaces the lost one as soon as the CLI reports it.
 *
 * The resume feature (feature.h) owns, per run: the first prompt of a
 * Claude run started with --resume (for the fresh start), and whether a
 * fork's first run still waits for its own session id (issue #14).
 * Hooks: open (the fork flag), started (the prompt), free.
 */
#include "run/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GONE "No conversation found with session ID: "

typedef struct {
    char *prompt;      /* Claude with --resume: its first prompt ("" none), or NULL */
    bool fork_pending; /* resumed with --fork-session, new id not yet seen */
} resume_t;

bool ad_run_fork_seen(ad_run_t *run)
{
    resume_t *rs = ad_run_ctx_peek(run, AD_RUN_FEAT_RESUME);
    bool was = rs != NULL && rs->fork_pending;
    if (was) {
        rs->fork_pending = false;
    }
    return was;
}

char *ad_run_session_lost(ad_run_t *run, char sid[AD_RUN_SID_MAX])
{
    const char *at = strstr(run->turn.reason, GONE);
    resume_t *rs = ad_run_ctx_peek(run, AD_RUN_FEAT_RESUME);
    if (run->how.exec != AD_EXEC_CLAUDE || rs == NULL || rs->prompt == NULL || at == NULL) {
        return NULL;
    }
    at += strlen(GONE);
    size_t n = strcspn(at, " ;\n");
    if (n == 0 || n >= AD_RUN_SID_MAX) {
        return NULL;
    }
    memcpy(sid, at, n);
    sid[n] = '\0';
    char *prompt = rs->prompt;
    rs->prompt = NULL;
    return prompt;
}

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    char *prompt; /* owned; "" for none */
} fresh_t;

/* sessionGone stored (after the note, in the writer's order): the fresh
 * run (no --resume now that sessionGone names the stored id). */
static void marked(int rc, json_t *result, void *ud)
{
    fresh_t *f = ud;
    json_decref(result);
    char err[256] = "";
    if (rc == 0) {
        rc = ad_runner_start(f->r, f->agent_id, f->prompt[0] != '\0' ? f->prompt : NULL, NULL, NULL,
                             err, sizeof(err));
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "fresh session not started agent=%s error=%s %s", f->agent_id,
               ad_strerror(rc), err);
    }
    free(f->prompt);
    free(f);
}

void ad_run_fresh_session(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                          const char *run_id, const char *sid, char *prompt)
{
    fresh_t *f = ad_xcalloc(1, sizeof(*f));
    f->r = r;
    snprintf(f->agent_id, sizeof(f->agent_id), "%s", agent_id);
    f->prompt = prompt;
    char text[AD_RUN_SID_MAX + 200];
    snprintf(text, sizeof(text),
             "Claude Code could not resume session %s (the CLI has no such conversation): "
             "starting a new session",
             sid);
    ad_log(AD_LOG_INFO, "runner", "session gone, starting a new one agent=%s session=%s", agent_id,
           sid);
    /* the note (of the run that could not resume), then the mark: both in
     * their turn behind what waits for space, so neither is lost to a
     * full disk; the fresh start follows the mark */
    ad_run_note_system(r, t, agent_id, run_id, text);
    ad_store_agent_runtime_t u = {.now = ad_wall_ms(),
                                  .context_level = -1,
                                  .state_patch = json_pack("{s:s}", "sessionGone", sid)};
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    ad_run_agent_write(r, &u, false, marked, f);
}

/* A fork's first run: its session id is still the parent's until the CLI
 * says the new one (output.c, ad_run_fork_seen). */
static void resume_open(ad_run_t *run, const ad_run_start_t *s)
{
    if (s->spec.fork_session) {
        ((resume_t *)ad_run_ctx(run, AD_RUN_FEAT_RESUME))->fork_pending = true;
    }
}

/* A Claude run that resumes a session keeps its first prompt, for a fresh
 * session should the CLI have lost that one. */
static void resume_started(ad_run_t *run, ad_run_start_t *s)
{
    if (s->spec.executor == AD_EXEC_CLAUDE && s->spec.session_id != NULL) {
        resume_t *rs = ad_run_ctx(run, AD_RUN_FEAT_RESUME);
        free(rs->prompt);
        rs->prompt = ad_xstrdup(s->spec.prompt != NULL ? s->spec.prompt : "");
    }
}

static void resume_free(ad_run_t *run, void *ctx)
{
    AD_UNUSED(run);
    free(((resume_t *)ctx)->prompt);
}

const ad_run_feature_t ad_run_feat_resume = {
    .name = "resume",
    .ctx_size = sizeof(resume_t),
    .open = resume_open,
    .started = resume_started,
    .free = resume_free,
};
