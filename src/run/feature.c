/* SPDX-License-Identifier: MIT */
/*
 * The run features' table and the core's calls of their hooks (feature.h
 * says what each hook is for and when it is called). A hook is called
 * for every feature that sets it, in the order of the table.
 */
#include "run/features.h"

#include <stdlib.h>

const ad_run_feature_t *const ad_run_features[AD_RUN_FEATURES] = {
    [AD_RUN_FEAT_PROGRAM] = &ad_run_feat_program,
    [AD_RUN_FEAT_CALLS] = &ad_run_feat_calls,
    [AD_RUN_FEAT_OTEL] = &ad_run_feat_otel,
    [AD_RUN_FEAT_RESUME] = &ad_run_feat_resume,
    [AD_RUN_FEAT_VERSION] = &ad_run_feat_version,
    [AD_RUN_FEAT_NODE] = &ad_run_feat_node,
    [AD_RUN_FEAT_CODEXAPP] = &ad_run_feat_codexapp,
    [AD_RUN_FEAT_APPROVALS] = &ad_run_feat_approvals,
    [AD_RUN_FEAT_ACP] = &ad_run_feat_acp,
    [AD_RUN_FEAT_TTY] = &ad_run_feat_tty,
    [AD_RUN_FEAT_LIMIT] = &ad_run_feat_limit,
    [AD_RUN_FEAT_GOAL] = &ad_run_feat_goal,
};

void *ad_run_ctx(ad_run_t *run, ad_run_feat_t id)
{
    if (run->ctx[id] == NULL) {
        size_t size = ad_run_features[id]->ctx_size;
        run->ctx[id] = ad_xcalloc(1, size > 0 ? size : 1);
    }
    return run->ctx[id];
}

void *ad_run_ctx_peek(const ad_run_t *run, ad_run_feat_t id)
{
    return run->ctx[id];
}

/* Calls hook of every feature that sets it, with the arguments that follow. */
#define EACH(hook, ...)                                                                            \
    do {                                                                                           \
        for (int i_ = 0; i_ < AD_RUN_FEATURES; i_++) {                                             \
            if (ad_run_features[i_]->hook != NULL) {                                               \
                ad_run_features[i_]->hook(__VA_ARGS__);                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

void ad_run_feat_open(ad_run_t *run, const ad_run_start_t *s)
{
    EACH(open, run, s);
}

void ad_run_feat_launch(ad_run_t *run, ad_run_start_t *s)
{
    EACH(launch, run, s);
}

void ad_run_feat_input(ad_run_t *run, const ad_run_start_t *s, const char *prompt)
{
    EACH(input, run, s, prompt);
}

void ad_run_feat_started(ad_run_t *run, ad_run_start_t *s)
{
    EACH(started, run, s);
}

void ad_run_feat_attach(ad_run_t *run, ad_run_start_t *s)
{
    EACH(attach, run, s);
}

bool ad_run_feat_record(ad_run_t *run, const ad_rec_t *rec)
{
    for (int i = 0; i < AD_RUN_FEATURES; i++) {
        if (ad_run_features[i]->record != NULL && ad_run_features[i]->record(run, rec)) {
            return true;
        }
    }
    return false;
}

void ad_run_feat_flush(ad_run_t *run, bool final)
{
    EACH(flush, run, final);
}

void ad_run_feat_line_end(ad_run_t *run)
{
    EACH(line_end, run);
}

void ad_run_feat_exit(ad_run_t *run, const ad_proc_exit_t *ex)
{
    EACH(exit, run, ex);
}

void ad_run_feat_release(ad_run_t *run)
{
    EACH(release, run);
}

void ad_run_feat_free(ad_run_t *run)
{
    for (int i = 0; i < AD_RUN_FEATURES; i++) {
        if (run->ctx[i] == NULL) {
            continue;
        }
        if (ad_run_features[i]->free != NULL) {
            ad_run_features[i]->free(run, run->ctx[i]);
        }
        free(run->ctx[i]);
        run->ctx[i] = NULL;
    }
}
