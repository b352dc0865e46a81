/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: arbitrary bytes as a CLI's session file (src/sessfile:
 * its lines read into a listing's summary and into messages, for the tool the
 * first byte picks) and as a node's answer about its sessions
 * (src/sessions/nodecheck.c: the bytes as JSON, each session and the messages
 * rebuilt as the control plane takes them). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sessions/sessions_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    ad_sess_tool_t tool = (ad_sess_tool_t)(data[0] % AD_SESS_TOOLS);
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    ad_sess_info_t info = {.tool = tool};
    memcpy(info.id, "abc-1", 6);
    ad_sess_msgs_t *m = ad_sess_msgs_new(tool);
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(s + at, '\n', n - at);
        size_t len = (nl != NULL ? (size_t)(nl - s) : n) - at;
        ad_sess_summary_line(&info, s + at, len);
        ad_sess_msgs_line(m, s + at, len);
        at += len + 1;
    }
    json_decref(ad_sess_msgs_take(m));
    json_decref(ad_sess_info_json(&info));
    ad_sess_info_clear(&info);

    json_t *j = json_loadb(s, n, 0, NULL);
    size_t i;
    json_t *one;
    json_array_foreach(json_object_get(j, "sessions"), i, one)
    {
        json_decref(sess_node_session(one, "nd_1", "box"));
    }
    json_decref(sess_node_session(json_object_get(j, "session"), "nd_1", "box"));
    json_decref(sess_node_messages(json_object_get(j, "messages")));
    json_decref(j);
    return 0;
}
