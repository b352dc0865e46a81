/* SPDX-License-Identifier: MIT */
/*
 * tables: credits and agent time (credits.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_CREDITS_H
#define AD_TABLES_CREDITS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- credits and agent time (credits.c) --------------------------------------------
 * Credits are US dollars of model cost: the owner grants them to an org,
 * runs spend them. Reads on the loop thread (bounded: a few rows a day).
 */
typedef struct {
    const char *id, *org_id, *note, *granted_by;
    double amount;
    int64_t created_at;
} ad_store_grant_t;
/* cb gets {id, orgId, amount, note, grantedBy, createdAt}; AD_ENOENT for
 * an org that does not exist. */
void ad_store_credit_grant(ad_store_t *st, const ad_store_grant_t *g, ad_store_result_cb cb,
                           void *ud);
typedef struct {
    double earned;  /* granted, all time */
    double spent;   /* cost of the org's ended runs, all time */
    double pending; /* cost so far of its running runs */
    double balance; /* earned - spent - pending */
    int64_t grants;
} ad_store_credits_t;
int ad_store_credit_totals(ad_store_t *st, const char *org, ad_store_credits_t *out);
/* org's credits {orgId, unit, balance, earned, spent, pending, grants},
 * or NULL when they cannot be read. New reference. */
json_t *ad_store_credits_json(ad_store_t *st, const char *org);
/* A grant's body {amount (non-zero, at most 1e9 either way), note?}: 0,
 * or AD_EINVAL with e. */
int ad_store_grant_check(const json_t *body, double *amount, const char **note, ad_field_err_t *e);
/* The org's grants, newest first, at most limit. */
int ad_store_credit_grant_list(ad_store_t *st, const char *org, int limit, json_t **out);
/* Agent time of org ("": every org) since from_day (days since the epoch)
 * plus the running runs' time until now (wall ms), counted on the node
 * each run ran on (runs.node_id; NULL, the control plane's, is counted as
 * the node 'control-plane'):
 * {agentSeconds, agentHours, runs, activeRuns, activeSeconds,
 * nodes:[{node, agentSeconds, runs, activeRuns}], orgs:[{orgId,
 * agentSeconds, runs, activeRuns, nodes:[...]}], agents:[{agentId, name,
 * node, runs, agentSeconds}] (the 50 longest, ended runs)}; runs count
 * ended runs, agentSeconds the running ones' time so far too. */
int ad_store_agent_time(ad_store_t *st, const char *org, int64_t from_day, int64_t now,
                        json_t **out);
/* What the credit routes answer (credits.c): org's credits with
 * grantList (its 100 newest grants) into *out (new; AD_EINTERNAL when they
 * cannot be read); a grant of amount to org by `by` with a new "cred_" id,
 * now (as ad_store_credit_grant); the agent time of a range (24h, 7d, 30d
 * (NULL or ""), 90d or all) with range beside it (AD_EINVAL for another
 * range only). */
int ad_store_credits_view(ad_store_t *st, const char *org, json_t **out);
void ad_store_credit_grant_new(ad_store_t *st, const char *org, double amount, const char *note,
                               const char *by, ad_store_result_cb cb, void *ud);
int ad_store_agent_time_range(ad_store_t *st, const char *org, const char *range, int64_t now,
                              json_t **out);
/* ad_store_token_stats of org with credit_org's credits (balance, earned,
 * spent, pending, unit) beside them. 0 or a read error. */
int ad_store_token_figures(ad_store_t *st, const char *org, const char *credit_org, int64_t now,
                           json_t **out);

#endif
