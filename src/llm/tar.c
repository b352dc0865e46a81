/* SPDX-License-Identifier: MIT */
/*
 * A project as a tar archive (POSIX ustar, with a pax header for a path
 * longer than the 100 bytes of the ustar name field): one folder named
 * after the project, regular files of mode 0644. Written into a bounded
 * buffer; pure, any thread.
 */
#include "llm/llm.h"

#include <stdio.h>
#include <string.h>

#define BLOCK 512

/* v in width - 1 octal digits and a NUL; AD_ETOOBIG if it needs more (a
 * size or time past what ustar holds: 8 GiB in 11 digits). */
static int octal(char *field, size_t width, uint64_t v)
{
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
    return v == 0 ? 0 : AD_ETOOBIG;
}

/* One header block of type (0 file, x pax) for name (at most 99 bytes). */
static int header(ad_buf_t *out, const char *name, char type, uint64_t size, int64_t mtime)
{
    char h[BLOCK];
    memset(h, 0, sizeof(h));
    snprintf(h, 100, "%s", name);
    octal(h + 100, 8, 0644);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    if (octal(h + 124, 12, size) != 0 ||
        octal(h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0)) != 0) {
        return AD_ETOOBIG;
    }
    memset(h + 148, ' ', 8);
    h[156] = type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
        sum += (unsigned char)h[i];
    }
    snprintf(h + 148, 8, "%06o", sum & 0777777u);
    h[155] = ' ';
    return ad_buf_append(out, h, BLOCK);
}

/* The data of n bytes, padded to a whole block. */
static int data(ad_buf_t *out, const char *p, size_t n)
{
    static const char zero[BLOCK];
    int rc = ad_buf_append(out, p, n);
    if (rc == 0 && n % BLOCK != 0) {
        rc = ad_buf_append(out, zero, BLOCK - n % BLOCK);
    }
    return rc;
}

/* A pax "path" record: "<len> path=<path>\n", len counting itself. */
static int pax_path(ad_buf_t *out, const char *path, int64_t mtime)
{
    size_t body = strlen(path) + 7; /* " path=" and "\n" */
    size_t digits = 1;
    while (1) {
        size_t total = body + digits, d = 0;
        for (size_t t = total; t > 0; t /= 10) {
            d++;
        }
        if (d == digits) {
            break;
        }
        digits = d;
    }
    char rec[1200];
    int n = snprintf(rec, sizeof(rec), "%zu path=%s\n", body + digits, path);
    if (n < 0 || (size_t)n >= sizeof(rec)) {
        return AD_ETOOBIG;
    }
    int rc = header(out, "PaxHeader", 'x', (uint64_t)n, mtime);
    return rc != 0 ? rc : data(out, rec, (size_t)n);
}

int ad_llm_tar_file(ad_buf_t *out, const char *path, const char *content, size_t len, int64_t mtime)
{
    if (strlen(path) > 1000) {
        return AD_ETOOBIG;
    }
    int rc = 0;
    if (strlen(path) > 99) {
        rc = pax_path(out, path, mtime);
    }
    rc = rc != 0 ? rc : header(out, path, '0', len, mtime);
    return rc != 0 ? rc : data(out, content, len);
}

int ad_llm_tar_end(ad_buf_t *out)
{
    static const char zero[2 * BLOCK];
    return ad_buf_append(out, zero, sizeof(zero));
}

void ad_llm_tar_folder_name(const char *name, char *out, size_t outsz)
{
    size_t n = 0;
    for (const char *p = name; p != NULL && *p != '\0' && n + 1 < outsz && n < 60; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && n > 0);
        out[n++] = ok ? c : '-';
    }
    if (n == 0) {
        n = (size_t)snprintf(out, outsz, "project");
    }
    out[n < outsz ? n : outsz - 1] = '\0';
}
