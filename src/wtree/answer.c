/* SPDX-License-Identifier: MIT */
/*
 * A git failure as an API answers it (src/git's code and reason into an
 * HTTP status, an error code and the details), so that src/api turns an
 * outcome into an answer with one call. Pure: any thread.
 */
#include "wtree/wtree.h"

#include <string.h>

json_t *ad_wtree_git_error(const ad_git_result_t *res, const char *ref_field, bool ws_create,
                           int *status, const char **code)
{
    const char *reason = res->err.reason;
    /* A ref that names nothing is the request's mistake (422), not a 404
     * of the worktree. */
    if (ref_field != NULL && res->rc == AD_ENOENT &&
        (strcmp(reason, "unknown_ref") == 0 || strcmp(reason, "unknown_branch") == 0)) {
        *status = 422, *code = "VALIDATION_ERROR";
        return json_pack("{s:s, s:s}", "field", ref_field, "reason", reason);
    }
    switch (res->rc) {
    case AD_EINVAL:
        *status = 422, *code = "VALIDATION_ERROR";
        break;
    case AD_ENOENT:
        if (ws_create) {
            *status = 422, *code = "VALIDATION_ERROR";
        } else if (strcmp(reason, "not_found") == 0) {
            *status = 409, *code = "WORKTREE_MISSING"; /* folder gone: refresh */
        } else {
            *status = 404, *code = "NOT_FOUND";
        }
        break;
    case AD_ESTATE:
        if (ws_create) {
            *status = 422, *code = "VALIDATION_ERROR";
            break;
        }
        /* fall through */
    case AD_EEXIST:
    case AD_EPERM:
        *status = 409, *code = "CONFLICT";
        break;
    case AD_EBUSY:
    case AD_EAGAIN:
        *status = 503, *code = "UNAVAILABLE";
        break;
    default:
        *status = 500, *code = "INTERNAL";
        break;
    }
    json_t *details = res->err.details ? json_deep_copy(res->err.details) : json_object();
    if (ws_create) {
        json_object_set_new(details, "field", json_string("path"));
    }
    if (reason[0] != '\0') {
        json_object_set_new(details, "reason", json_string(reason));
    }
    return details;
}
