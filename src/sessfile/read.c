/* SPDX-License-Identifier: MIT */
/*
 * One session read whole (thread pool): its newest file found, its last
 * AD_SESS_READ_MAX bytes parsed line by line into messages.
 */
#include "sessfile/sessfile.h"

#include <unistd.h>

int ad_sess_read(const char *home, const char *tool, const char *id, json_t **out)
{
    ad_sess_tool_t t;
    *out = NULL;
    if (ad_sess_tool_parse(tool, &t) != 0 || ad_sess_id_check(id, NULL) != 0) {
        return AD_EINVAL;
    }
    ad_sess_info_t s = {0};
    int rc = ad_sess_find(home, t, id, &s);
    int fd = rc == 0 ? ad_sess_file_open(home, t, s.rel) : -1;
    if (fd < 0) {
        ad_sess_info_clear(&s);
        return AD_ENOENT;
    }
    ad_sess_msgs_t *m = ad_sess_msgs_new(t);
    int64_t from = s.size > (int64_t)AD_SESS_READ_MAX ? s.size - (int64_t)AD_SESS_READ_MAX : 0;
    ad_sess_lines(fd, from, s.size, ad_sess_msgs_line, m);
    close(fd);
    *out =
        json_pack("{s:o, s:o}", "session", ad_sess_info_json(&s), "messages", ad_sess_msgs_take(m));
    ad_sess_info_clear(&s);
    return 0;
}
