/* SPDX-License-Identifier: MIT */
/*
 * The last lines of a program's output, kept under a byte cap (a job's
 * output, a service's log): a new line goes at the end, whole lines leave
 * from the front. Bytes that are not UTF-8 are repaired, so what is kept
 * can go into JSON as it is.
 */
#include "svc/svc_int.h"

#include <string.h>

void ad_svc_tail_push(ad_buf_t *b, size_t cap, const char *line, size_t len)
{
    if (len > cap - 1) {
        line += len - (cap - 1);
        len = cap - 1;
    }
    if (b->len + len + 1 > cap) {
        size_t drop = b->len + len + 1 - cap;
        const char *nl = memchr(b->data + drop, '\n', b->len - drop);
        ad_buf_consume(b, nl != NULL ? (size_t)(nl - b->data) + 1 : b->len);
    }
    size_t mark = b->len;
    if (ad_utf8_repair(b, line, len) != 0 || ad_buf_putc(b, '\n') != 0) {
        /* Repaired bytes grew past the cap (U+FFFD is 3 bytes): the line is
         * left out rather than kept cut. */
        ad_buf_truncate(b, mark);
    }
}
