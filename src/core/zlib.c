/* SPDX-License-Identifier: MIT */
/*
 * zlib, loaded (dlopen) at its first use rather than linked: a daemon that
 * compresses nothing keeps its ~80 KiB out of its idle memory. Used by
 * permessage-deflate (src/ws) and by the embedded files, kept only
 * gzipped, for a client that does not take gzip (src/http/static.c).
 * Loop thread: the first call loads it.
 */
#include "core.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static ad_zlib_t zl;
static int zl_state; /* 0: not tried, 1: loaded, -1: not there */

const ad_zlib_t *ad_zlib(void)
{
    if (zl_state == 0) {
        void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
        /* function pointers from dlsym: POSIX makes the cast work */
        *(void **)&zl.deflate_init = h != NULL ? dlsym(h, "deflateInit2_") : NULL;
        *(void **)&zl.deflate = h != NULL ? dlsym(h, "deflate") : NULL;
        *(void **)&zl.deflate_reset = h != NULL ? dlsym(h, "deflateReset") : NULL;
        *(void **)&zl.deflate_bound = h != NULL ? dlsym(h, "deflateBound") : NULL;
        *(void **)&zl.inflate_init = h != NULL ? dlsym(h, "inflateInit2_") : NULL;
        *(void **)&zl.inflate = h != NULL ? dlsym(h, "inflate") : NULL;
        *(void **)&zl.inflate_reset = h != NULL ? dlsym(h, "inflateReset") : NULL;
        *(void **)&zl.inflate_end = h != NULL ? dlsym(h, "inflateEnd") : NULL;
        bool all = zl.deflate_init && zl.deflate && zl.deflate_reset && zl.deflate_bound &&
                   zl.inflate_init && zl.inflate && zl.inflate_reset && zl.inflate_end;
        zl_state = all ? 1 : -1;
    }
    return zl_state == 1 ? &zl : NULL;
}

int ad_gunzip(const void *in, size_t len, void *out, size_t outlen)
{
    const ad_zlib_t *z = ad_zlib();
    if (z == NULL) {
        return AD_EIO;
    }
    z_stream s;
    memset(&s, 0, sizeof(s));
    if (z->inflate_init(&s, 15 + 16, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) {
        return AD_ENOMEM;
    }
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)len;
    s.next_out = out;
    s.avail_out = (uInt)outlen;
    int rc = z->inflate(&s, Z_FINISH);
    size_t got = outlen - s.avail_out;
    z->inflate_end(&s);
    return rc == Z_STREAM_END && got == outlen ? 0 : AD_EINVAL;
}

char *ad_gunzip_text(const void *in, size_t len, size_t textlen)
{
    char *s = malloc(textlen + 1);
    if (s == NULL || ad_gunzip(in, len, s, textlen) != 0) {
        free(s);
        return NULL;
    }
    s[textlen] = '\0';
    return s;
}
