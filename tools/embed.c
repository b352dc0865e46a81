/* SPDX-License-Identifier: MIT */
/*
 * Build-time asset embedder: walks a directory and writes a C file with
 * every regular file's bytes, or only its gzip copy when gzip pays off (the
 * server inflates it for a client that does not take gzip),
 * a strong ETag, a Content-Type and whether the name is content-hashed.
 * The table is sorted by path for bsearch in src/http/static.c.
 * Usage: embed OUT.c DIR
 *
 * embed --blob OUT.c NAME FILE writes one file's bytes gzipped, as NAME_gz
 * (NAME_gzlen bytes) and its length as NAME_len: the SQL text src/store
 * keeps (scripts/migrations.mk), inflated only when a database needs it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

typedef struct {
    char *rel; /* "/index.html" */
    char *full;
    size_t len, gzlen;
    int has_gz;
} entry_t;

static entry_t *entries;
static size_t nentries, cap;

static void die(const char *what, const char *path)
{
    fprintf(stderr, "embed: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void walk(const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        die("cannot open", dir);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue; /* ., .., and hidden files stay out */
        }
        size_t fl = strlen(dir) + strlen(e->d_name) + 2;
        size_t rl = strlen(rel) + strlen(e->d_name) + 2;
        char *full = malloc(fl), *r = malloc(rl);
        if (full == NULL || r == NULL) {
            die("out of memory at", dir);
        }
        snprintf(full, fl, "%s/%s", dir, e->d_name);
        snprintf(r, rl, "%s/%s", rel, e->d_name);
        struct stat st;
        if (stat(full, &st) != 0) {
            die("cannot stat", full);
        }
        if (S_ISDIR(st.st_mode)) {
            walk(full, r);
            free(full);
            free(r);
        } else if (S_ISREG(st.st_mode)) {
            if (nentries == cap) {
                cap = cap ? cap * 2 : 64;
                entries = realloc(entries, cap * sizeof(*entries));
                if (entries == NULL) {
                    die("out of memory at", dir);
                }
            }
            entries[nentries].rel = r;
            entries[nentries].full = full;
            nentries++;
        } else {
            free(full);
            free(r);
        }
    }
    closedir(d);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->rel, ((const entry_t *)b)->rel);
}

static const char *ctype_of(const char *path, int *compressible)
{
    static const struct {
        const char *ext, *type;
        int z;
    } types[] = {
        {".html", "text/html; charset=utf-8", 1},
        {".htm", "text/html; charset=utf-8", 1},
        {".js", "text/javascript; charset=utf-8", 1},
        {".mjs", "text/javascript; charset=utf-8", 1},
        {".css", "text/css; charset=utf-8", 1},
        {".json", "application/json", 1},
        {".map", "application/json", 1},
        {".webmanifest", "application/manifest+json", 1},
        {".svg", "image/svg+xml", 1},
        {".txt", "text/plain; charset=utf-8", 1},
        {".xml", "application/xml", 1},
        {".wasm", "application/wasm", 1},
        {".ico", "image/x-icon", 1},
        {".png", "image/png", 0},
        {".jpg", "image/jpeg", 0},
        {".jpeg", "image/jpeg", 0},
        {".gif", "image/gif", 0},
        {".webp", "image/webp", 0},
        {".woff", "font/woff", 0},
        {".woff2", "font/woff2", 0},
        {".ttf", "font/ttf", 1},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot != NULL && (slash == NULL || dot > slash)) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            if (strcasecmp(dot, types[i].ext) == 0) {
                *compressible = types[i].z;
                return types[i].type;
            }
        }
    }
    *compressible = 0;
    return "application/octet-stream";
}

/* Vite-style content-hashed names: name-<8+ chars of [A-Za-z0-9_]>.ext */
static int is_hashed(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dash = strrchr(base, '-');
    if (dash == NULL) {
        return 0;
    }
    const char *p = dash + 1;
    size_t n = 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
           (p[n] >= '0' && p[n] <= '9') || p[n] == '_') {
        n++;
    }
    return n >= 8 && p[n] == '.';
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        die("cannot open", path);
    }
    size_t cap2 = 4096, n = 0;
    unsigned char *buf = malloc(cap2);
    for (;;) {
        if (buf == NULL) {
            die("out of memory reading", path);
        }
        size_t got = fread(buf + n, 1, cap2 - n, f);
        n += got;
        if (got == 0) {
            break;
        }
        if (n == cap2) {
            cap2 *= 2;
            buf = realloc(buf, cap2);
        }
    }
    if (ferror(f)) {
        die("cannot read", path);
    }
    fclose(f);
    *len = n;
    return buf;
}

static unsigned char *gzip(const unsigned char *in, size_t len, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip wrapper; mtime stays 0 so builds repeat. */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    size_t cap2 = deflateBound(&z, len);
    unsigned char *out = malloc(cap2);
    if (out == NULL) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap2;
    int rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* Writes p as an array of n bytes named name; storage is "static " or "". */
static void put_bytes(FILE *o, const char *storage, const char *name, const unsigned char *p,
                      size_t n)
{
    fprintf(o, "%sconst unsigned char %s[%zu] = {", storage, name, n > 0 ? n : 1);
    for (size_t i = 0; i < n; i++) {
        fprintf(o, "%s%u,", i % 20 == 0 ? "\n" : "", p[i]);
    }
    if (n == 0) {
        fputs("0", o);
    }
    fputs("};\n", o);
}

static void put_cstr(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(o, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(o, "\\%03o", c);
        } else {
            fputc(c, o);
        }
    }
    fputc('"', o);
}

static int blob(const char *out, const char *name, const char *path)
{
    size_t len, gzlen = 0;
    unsigned char *data = read_all(path, &len);
    unsigned char *gz = gzip(data, len, &gzlen);
    if (gz == NULL) {
        die("cannot gzip", path);
    }
    char tmp[4096], sym[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    FILE *o = fopen(tmp, "w");
    if (o == NULL) {
        die("cannot write", tmp);
    }
    fprintf(o, "/* Generated by tools/embed --blob from %s: do not edit. */\n", path);
    fputs("#include <stddef.h>\n", o);
    fprintf(o, "extern const unsigned char %s_gz[];\n", name);
    fprintf(o, "extern const size_t %s_gzlen, %s_len;\n", name, name);
    fprintf(o, "const size_t %s_gzlen = %zu, %s_len = %zu;\n", name, gzlen, name, len);
    snprintf(sym, sizeof(sym), "%s_gz", name);
    put_bytes(o, "", sym, gz, gzlen);
    if (fclose(o) != 0) {
        die("cannot write", tmp);
    }
    if (rename(tmp, out) != 0) {
        die("cannot rename", tmp);
    }
    fprintf(stderr, "embed: %s, %zu bytes, %zu gzipped\n", path, len, gzlen);
    free(data);
    free(gz);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--blob") == 0) {
        return blob(argv[2], argv[3], argv[4]);
    }
    if (argc != 3) {
        fprintf(stderr, "usage: embed OUT.c DIR | embed --blob OUT.c NAME FILE\n");
        return 2;
    }
    walk(argv[2], "");
    qsort(entries, nentries, sizeof(*entries), cmp);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
    FILE *o = fopen(tmp, "w");
    if (o == NULL) {
        die("cannot write", tmp);
    }
    fprintf(o, "/* Generated by tools/embed from %s: do not edit. */\n", argv[2]);
    fputs("#include \"http/http_int.h\"\n\n", o);
    size_t total = 0, totalgz = 0;
    for (size_t i = 0; i < nentries; i++) {
        size_t len, gzlen = 0;
        unsigned char *data = read_all(entries[i].full, &len);
        int z;
        ctype_of(entries[i].rel, &z);
        unsigned char *gz = z && len >= 256 ? gzip(data, len, &gzlen) : NULL;
        if (gz != NULL && gzlen * 10 > len * 9) {
            free(gz); /* under 10% saved: not worth a second copy */
            gz = NULL;
        }
        char name[32];
        snprintf(name, sizeof(name), "d%zu", i);
        if (gz == NULL) { /* a gzipped file is kept only so: the server inflates it for the rare
                           * client that does not take gzip */
            put_bytes(o, "static ", name, data, len);
        }
        if (gz != NULL) {
            snprintf(name, sizeof(name), "z%zu", i);
            put_bytes(o, "static ", name, gz, gzlen);
        }
        total += gz == NULL ? len : 0;
        totalgz += gz != NULL ? gzlen : 0;
        /* Strong ETag: 64-bit FNV-1a of the content plus its length. */
        uint64_t h = 1469598103934665603ULL;
        for (size_t k = 0; k < len; k++) {
            h = (h ^ data[k]) * 1099511628211ULL;
        }
        fprintf(o, "static const char e%zu[] = \"\\\"%016llx-%zx\\\"\";\n", i,
                (unsigned long long)h, len);
        entries[i].len = len;
        entries[i].gzlen = gzlen;
        entries[i].has_gz = gz != NULL;
        free(data);
        free(gz);
    }
    fprintf(o, "\nconst ad_asset_t ad_assets[] = {\n");
    for (size_t i = 0; i < nentries; i++) {
        const char *rel = entries[i].rel;
        size_t len = entries[i].len, gzlen = entries[i].gzlen;
        int z;
        const char *ct = ctype_of(rel, &z);
        fputs("    {", o);
        put_cstr(o, rel);
        if (entries[i].has_gz) {
            fprintf(o, ", NULL, %zu, ", len);
        } else {
            fprintf(o, ", d%zu, %zu, ", i, len);
        }
        if (entries[i].has_gz) {
            fprintf(o, "z%zu, %zu, ", i, gzlen);
        } else {
            fputs("NULL, 0, ", o);
        }
        fprintf(o, "e%zu, \"%s\", %d},\n", i, ct, is_hashed(rel));
    }
    if (nentries == 0) {
        fputs("    {NULL, NULL, 0, NULL, 0, NULL, NULL, 0},\n", o);
    }
    fprintf(o, "};\nconst size_t ad_assets_count = %zu;\n", nentries);
    if (fclose(o) != 0) {
        die("cannot write", tmp);
    }
    if (rename(tmp, argv[1]) != 0) {
        die("cannot rename", tmp);
    }
    fprintf(stderr, "embed: %zu files, %zu bytes as they are and %zu gzipped from %s\n", nentries,
            total, totalgz, argv[2]);
    for (size_t i = 0; i < nentries; i++) {
        free(entries[i].rel);
        free(entries[i].full);
    }
    free(entries);
    return 0;
}
