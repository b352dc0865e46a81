/* SPDX-License-Identifier: MIT */
/*
 * What the git routes share (api_int.h, "git work"): the worktree of :id
 * as the caller may see it, and src/wtree's outcome of a request turned
 * into an answer (git's errors into their statuses). The requests
 * themselves run in src/wtree.
 */
#include "api/api_int.h"
#include "node/node.h"
#include "run/run.h"
#include "tables/gitrows.h"

void ad_api_wtree_reply(ad_req_t *r, const ad_wtree_out_t *o, int ok, const char *ref_field,
                        bool ws_create)
{
    if (o->rc == 0) {
        ad_res_json(r, ok, json_incref(o->data));
    } else if (o->git != NULL) {
        int status;
        const char *code;
        json_t *details = ad_wtree_git_error(o->git, ref_field, ws_create, &status, &code);
        ad_res_error(r, status, code, details, "%s", o->git->err.msg);
    } else if (o->rc == AD_ECLOSED) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "%s", o->msg);
    } else if (o->code != NULL) {
        ad_res_error(r, ad_http_status_of(o->rc, NULL), o->code,
                     o->details != NULL ? json_incref(o->details) : NULL, "%s", o->msg);
    } else {
        ad_res_error_code(r, o->rc, o->details != NULL ? json_incref(o->details) : NULL, "%s",
                          o->msg);
    }
}

void ad_api_wtree_200(void *ud, const ad_wtree_out_t *o)
{
    ad_api_wtree_reply(ud, o, 200, NULL, false);
}

void ad_api_wtree_201(void *ud, const ad_wtree_out_t *o)
{
    ad_api_wtree_reply(ud, o, 201, NULL, false);
}

bool ad_api_setup_valid(ad_req_t *req, json_t *body)
{
    char msg[200];
    json_t *details = NULL;
    json_t *cmd = json_object_get(body, "setupCommand");
    if (ad_wtree_setup_files_check(body, msg, sizeof(msg), &details) != 0) {
        ad_res_error(req, 422, "VALIDATION_ERROR", details, "%s", msg);
        return false;
    }
    if (json_is_string(cmd) && json_string_length(cmd) > 0 &&
        !ad_api_require(req, AD_SCOPE_ADMIN, "a setup command")) {
        return false;
    }
    if (ad_wtree_setup_command_check(body, msg, sizeof(msg), &details) != 0) {
        ad_res_error(req, 422, "VALIDATION_ERROR", details, "%s", msg);
        return false;
    }
    return true;
}

int ad_api_git_invalid(ad_req_t *req, const ad_field_err_t *e)
{
    ad_res_error(req, 422, "VALIDATION_ERROR",
                 e->field[0] != '\0' ? json_pack("{s:s}", "field", e->field) : NULL, "%s", e->why);
    return -1;
}
