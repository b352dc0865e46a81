/* SPDX-License-Identifier: MIT */
/*
 * The CLIs' names and the session ids they make, checked before any of
 * them names a file (a session id is never a path).
 */
#include "sessfile/sessfile.h"

#include <string.h>

static const char *const names[AD_SESS_TOOLS] = {"claude", "codex", "gemini"};

const char *ad_sess_tool_name(ad_sess_tool_t t)
{
    return names[t];
}

int ad_sess_tool_parse(const char *s, ad_sess_tool_t *out)
{
    for (int t = 0; t < AD_SESS_TOOLS; t++) {
        if (s != NULL && strcmp(s, names[t]) == 0) {
            *out = (ad_sess_tool_t)t;
            return 0;
        }
    }
    return AD_EINVAL;
}

int ad_sess_tool_check(const char *tool, ad_field_err_t *e)
{
    ad_sess_tool_t t;
    if (ad_sess_tool_parse(tool, &t) != 0) {
        return e != NULL ? ad_field_fail(e, "tool", "must be one of claude, codex, gemini")
                         : AD_EINVAL;
    }
    return 0;
}

int ad_sess_id_check(const char *id, ad_field_err_t *e)
{
    size_t n = id != NULL ? strlen(id) : 0;
    bool ok = n > 0 && n < AD_SESS_ID_MAX && id[0] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!ok) {
        return e != NULL ? ad_field_fail(e, "sessionId",
                                         "must be a session id: letters, digits and '-', at "
                                         "most %d characters",
                                         AD_SESS_ID_MAX - 1)
                         : AD_EINVAL;
    }
    return 0;
}
