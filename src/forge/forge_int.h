/* SPDX-License-Identifier: MIT */
/* Private to src/forge: a job on the pool and its steps. */
#ifndef AD_FORGE_INT_H
#define AD_FORGE_INT_H

#include "forge/forge.h"
#include "llm/llm.h"

#define AD_FORGE_TOKEN_MAX 512

typedef struct {
    uv_work_t work;
    ad_forge_req_t req; /* its strings point into the job's own copies */
    char token[AD_FORGE_TOKEN_MAX + 1];
    char *title, *body, *head, *base, *since;
    ad_forge_cb cb;
    void *ud;
    int rc;
    json_t *out;
    char msg[512];
    int http_status;
    ad_fetch_meta_t meta; /* the last answer's headers */
    long retry_after_s;   /* the forge's rate limit said wait (0: not) */
    json_t *known;        /* feedback: forge ids answered already (owned) */
    int sub_rc;           /* feedback: the first list read that failed (0: none) */
    ad_forge_feedback_cb fcb;
} ad_forge_job_t;

/* Pool thread: the steps; 0 and j->out, or an rc with j->msg. */
int ad_forgex_create(ad_forge_job_t *j);
int ad_forgex_status(ad_forge_job_t *j);
int ad_forgex_feedback(ad_forge_job_t *j);
/* Shared by rest.c and status.c. */
long ad_forgex_call(ad_forge_job_t *j, const char *method, const char *url, json_t *body,
                    json_t **out);
int ad_forgex_failed(ad_forge_job_t *j, long status, json_t *answer);
json_t *ad_forgex_normalize(const ad_forge_target_t *t, json_t *p);
long ad_forgex_call_raw(ad_forge_job_t *j, const char *method, const char *url, json_t *body,
                        bool auth_on, ad_buf_t *b);
/* status.c: one check's state (success|failure|pending), and all of them. */
const char *ad_forgex_check_state(const char *status, const char *conclusion);
const char *ad_forgex_overall(json_t *items);
void ad_forgex_root(const ad_forge_target_t *t, char *out, size_t outsz);
/* status.c: j's pull request read and normalized into *pr (new; j->out
 * for a status), root the target's API root, *sha its head commit when
 * it looks like one (hex, at most 64), else NULL (borrowed from *pr).
 * 0, or an rc with j->msg and *pr untouched. */
int ad_forgex_pr_read(ad_forge_job_t *j, char *root, size_t rootsz, json_t **pr, const char **sha);

#endif
