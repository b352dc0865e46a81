/* SPDX-License-Identifier: MIT */
/*
 * A Server-Sent Events decoder for the client's event streams (agentd logs
 * -f, agentd acp): bytes in as they arrive, one call per whole event with
 * its data: lines joined. id:, event: and comments are skipped (the JSON
 * carries seq and type); an event past its bound is dropped whole.
 */
#include "cli/cli_int.h"

#include <string.h>

void ad_cli_sse_init(ad_cli_sse_t *s, size_t max, ad_cli_sse_fn fn, void *ud)
{
    memset(s, 0, sizeof(*s));
    ad_buf_init(&s->line, max);
    ad_buf_init(&s->data, max);
    s->fn = fn;
    s->ud = ud;
}

void ad_cli_sse_cleanup(ad_cli_sse_t *s)
{
    ad_buf_cleanup(&s->line);
    ad_buf_cleanup(&s->data);
}

/* One complete line (without its newline); false when fn says stop. */
static bool sse_line(ad_cli_sse_t *s, const char *line, size_t len)
{
    bool go = true;
    if (len == 0) {
        if (s->data.len > 0 && !s->too_big) {
            go = s->fn(s->data.data, s->data.len, s->ud);
        }
        ad_buf_reset(&s->data);
        s->too_big = false;
        return go;
    }
    if (len >= 5 && memcmp(line, "data:", 5) == 0) {
        size_t skip = (len > 5 && line[5] == ' ') ? 6 : 5;
        if (s->data.len > 0 && ad_buf_putc(&s->data, '\n') != 0) {
            s->too_big = true;
        }
        if (ad_buf_append(&s->data, line + skip, len - skip) != 0) {
            s->too_big = true;
        }
    }
    return true;
}

bool ad_cli_sse_feed(ad_cli_sse_t *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (ad_buf_putc(&s->line, p[i]) != 0) {
                s->too_big = true;
                ad_buf_reset(&s->line);
            }
            continue;
        }
        size_t len = s->line.len;
        if (len > 0 && s->line.data[len - 1] == '\r') {
            len--;
        }
        bool go = sse_line(s, s->line.data ? s->line.data : "", len);
        ad_buf_reset(&s->line);
        if (!go) {
            return false;
        }
    }
    return true;
}
