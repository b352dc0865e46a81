/* SPDX-License-Identifier: MIT */
/*
 * Percent-encoding of a URL component (a path segment or a query value):
 * what the CLI and the MCP server put in the paths they call.
 */
#include "core/core.h"

void ad_url_encode(const char *s, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s != '\0' && o + 4 < outsz; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    if (outsz > 0) {
        out[o] = '\0';
    }
}
