/* SPDX-License-Identifier: MIT */
/*
 * The import readers (issue #35), on the thread pool: a TensorBoard log
 * folder (its *.tfevents.* files, read with src/tsdb/tfevents.c), an
 * MLflow run folder (meta.yaml, metrics/<key> lines "timestamp value
 * step", params/<key>, tags/<key>), or a CSV (a header, then rows: a step
 * column, an optional time column, and one column per series, or
 * name,value rows). Each file is read from the offset the state keeps, up
 * to a bound, and only whole records or lines: a torn last record or a
 * line without its newline is left for the next read (the writer is still
 * writing it), never an error.
 */
#include "store/store.h"
#include "tables/dists.h"
#include "tables/series.h"
#include "train/train_int.h"
#include "tsdb/tsdb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- shared ------------------------------------------------------------------------ */

static json_t *obj(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, key, v);
    }
    return v;
}

static int64_t offset_of(json_t *files, const char *name)
{
    return json_integer_value(json_object_get(files, name));
}

static json_t *value_json(double v)
{
    return isnan(v) ? json_string("NaN") : json_string(v > 0 ? "Infinity" : "-Infinity");
}

static void add_point(ad_train_read_t *r, const char *name, size_t name_len, int64_t step,
                      bool has_ts, int64_t ts, double v)
{
    if (name_len == 0 || name_len > AD_SERIES_NAME_MAX) {
        r->skipped++;
        return;
    }
    json_t *n = json_stringn(name, name_len);
    if (n == NULL) { /* not UTF-8 */
        r->skipped++;
        return;
    }
    json_t *p = json_pack("{s:o, s:I}", "name", n, "step", (json_int_t)step);
    if (!isfinite(v)) {
        json_object_set_new(p, "value", value_json(v));
        json_array_append_new(r->nonfinite, p);
        return;
    }
    json_object_set_new(p, "value", json_real(v));
    if (has_ts) {
        json_object_set_new(p, "ts", json_integer(ts));
    }
    json_array_append_new(r->points, p);
}

static bool full(const ad_train_read_t *r)
{
    return json_array_size(r->points) + json_array_size(r->nonfinite) >= AD_TRAIN_READ_POINTS;
}

/* Reads path from off: at most max bytes into a new buffer (*n of them).
 * A training run writes the folder: the open never waits (a FIFO in it
 * would park a pool thread), and only a regular file is read. */
static int read_from(const char *path, int64_t off, size_t max, uint8_t **out, size_t *n,
                     int64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        return errno == ENOENT ? AD_ENOENT : AD_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return AD_EIO;
    }
    *size = st.st_size;
    *n = 0;
    *out = NULL;
    if (st.st_size <= off) {
        close(fd);
        return 0;
    }
    size_t want = (size_t)(st.st_size - off) < max ? (size_t)(st.st_size - off) : max;
    uint8_t *buf = ad_xmalloc(want + 1);
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(fd, buf + got, want - got, (off_t)(off + (int64_t)got));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *n = got;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- TensorBoard --------------------------------------------------------------------- */

static void tf_scalar(void *ud, const char *tag, size_t tag_len, int64_t step, double wall,
                      double v)
{
    ad_train_read_t *r = ud;
    add_point(r, tag, tag_len, step, isfinite(wall) && wall > 0, (int64_t)llround(wall * 1000), v);
}

static void tf_histogram(void *ud, const char *tag, size_t tag_len, int64_t step, double wall,
                         const double *edges, const double *counts, size_t n)
{
    ad_train_read_t *r = ud;
    json_t *name = tag_len > 0 && tag_len <= AD_SERIES_NAME_MAX ? json_stringn(tag, tag_len) : NULL;
    if (name == NULL) {
        r->skipped++;
        return;
    }
    json_t *e = json_array(), *c = json_array();
    for (size_t i = 0; i <= n; i++) {
        json_array_append_new(e, json_real(edges[i]));
        if (i < n) {
            json_array_append_new(c, json_real(counts[i]));
        }
    }
    json_t *in = json_pack("{s:o, s:I, s:o, s:o}", "name", name, "step", (json_int_t)step, "edges",
                           e, "counts", c);
    if (isfinite(wall) && wall > 0) {
        json_object_set_new(in, "ts", json_integer((json_int_t)llround(wall * 1000)));
    }
    ad_dist_err_t err;
    json_t *d = ad_store_dist_check(in, false, &err);
    json_decref(in);
    if (d == NULL) {
        r->skipped++;
        return;
    }
    json_array_append_new(r->dists, d);
}

/* One event file from its offset: whole records only. */
static void tf_file(ad_train_read_t *r, const char *dir, const char *name, json_t *files,
                    json_t *bad, size_t *budget)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int64_t off = offset_of(files, name), size = 0;
    size_t want = *budget;
    uint8_t *buf = NULL;
    size_t n = 0;
    tsdb_tf_cb_t cb = {tf_scalar, tf_histogram, r};
    for (;;) {
        if (read_from(path, off, want, &buf, &n, &size) != 0 || n == 0) {
            free(buf);
            return;
        }
        size_t pos = 0;
        int rc = TSDB_TF_OK;
        while (pos < n && !full(r)) {
            const uint8_t *data;
            size_t len, total = 0;
            rc = tsdb_tfrec_parse(buf + pos, n - pos, &data, &len, &total);
            if (rc == TSDB_TF_OK) {
                if (tsdb_tf_event(data, len, &cb) != 0) {
                    r->skipped++;
                }
            } else if (rc == TSDB_TF_SKIP) {
                r->skipped++;
            } else {
                break;
            }
            pos += total;
        }
        free(buf);
        buf = NULL;
        off += (int64_t)pos;
        *budget -= pos < *budget ? pos : *budget;
        json_object_set_new(files, name, json_integer(off));
        if (rc == TSDB_TF_BAD) {
            char why[160];
            snprintf(why, sizeof(why), "a damaged record at offset %lld", (long long)(off));
            json_object_set_new(bad, name, json_string(why));
            return;
        }
        if (full(r) || *budget == 0) {
            r->more = off < size;
            return;
        }
        json_t *tail = obj(r->state, "tail");
        if (rc == TSDB_TF_MORE && pos < n) {
            json_object_set_new(tail, name, json_integer((json_int_t)(n - pos)));
        } else {
            json_object_del(tail, name);
        }
        if (rc != TSDB_TF_MORE || off + (int64_t)(n - pos) >= size) {
            return; /* all read, or a torn tail still being written: waited on */
        }
        /* one record longer than what was read: read it whole */
        want = TSDB_TFREC_MAX + 16;
    }
}

static void read_tfevents(ad_train_read_t *r)
{
    DIR *d = opendir(r->path);
    if (d == NULL) {
        r->rc = errno == ENOENT ? AD_ENOENT : AD_EIO;
        snprintf(r->error, sizeof(r->error), "cannot open the folder: %s", strerror(errno));
        return;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nn < AD_TRAIN_FILES_MAX) {
        if (strstr(e->d_name, "tfevents") != NULL && e->d_name[0] != '.') {
            names = ad_xrealloc(names, (nn + 1) * sizeof(*names));
            names[nn++] = ad_xstrdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, nn, sizeof(*names), by_name);
    json_t *files = obj(r->state, "files"), *bad = obj(r->state, "bad");
    size_t budget = AD_TRAIN_READ_BYTES;
    for (size_t i = 0; i < nn; i++) {
        if (!r->more && json_object_get(bad, names[i]) == NULL) {
            tf_file(r, r->path, names[i], files, bad, &budget);
        }
        free(names[i]);
    }
    free(names);
}

/* ---- lines -------------------------------------------------------------------------------- */

/* Calls fn for each whole line of path past the state's offset of key
 * (a last line without its newline waits), then moves the offset. */
typedef void (*line_fn)(ad_train_read_t *r, const char *key, char *line, size_t len, void *ud);
static void each_line(ad_train_read_t *r, const char *path, const char *key, json_t *files,
                      size_t *budget, line_fn fn, void *ud)
{
    int64_t off = offset_of(files, key), size = 0;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (*budget == 0 || read_from(path, off, *budget, &buf, &n, &size) != 0 || n == 0) {
        free(buf);
        return;
    }
    size_t pos = 0;
    while (pos < n && !full(r)) {
        char *nl = memchr(buf + pos, '\n', n - pos);
        if (nl == NULL) {
            break;
        }
        size_t len = (size_t)(nl - (char *)buf) - pos;
        *nl = '\0';
        if (len > 0 && buf[pos + len - 1] == '\r') {
            buf[pos + len - 1] = '\0';
            len--;
        }
        fn(r, key, (char *)buf + pos, len, ud);
        pos = (size_t)(nl - (char *)buf) + 1;
    }
    free(buf);
    json_t *tail = obj(r->state, "tail");
    if (pos < n && !full(r)) {
        json_object_set_new(tail, key, json_integer((json_int_t)(n - pos))); /* no newline yet */
    } else {
        json_object_del(tail, key);
    }
    off += (int64_t)pos;
    *budget -= pos < *budget ? pos : *budget;
    json_object_set_new(files, key, json_integer(off));
    if (full(r) || *budget == 0) {
        r->more = r->more || off < size;
    }
}

static bool num(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0') {
        return false;
    }
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (*end != '\0' || end == s) {
        return false;
    }
    *out = v;
    return true;
}

/* ---- MLflow ----------------------------------------------------------------------------- */

/* metrics/<key>: "timestamp value step" (older files: no step, 0). */
static void mlflow_line(ad_train_read_t *r, const char *key, char *line, size_t len, void *ud)
{
    AD_UNUSED(ud);
    AD_UNUSED(len);
    char *sp1 = strchr(line, ' ');
    if (sp1 == NULL) {
        r->skipped++;
        return;
    }
    *sp1 = '\0';
    char *val = sp1 + 1, *sp2 = strchr(val, ' ');
    const char *step_s = "0";
    if (sp2 != NULL) {
        *sp2 = '\0';
        step_s = sp2 + 1;
    }
    double ts, v, step;
    if (!num(line, &ts) || !num(val, &v) || !num(step_s, &step) || step != floor(step)) {
        r->skipped++;
        return;
    }
    add_point(r, key, strlen(key), (int64_t)step, true, (int64_t)ts, v);
}

/* The files under dir/rel (depth at most 8), each key its path from the top. */
static void walk(const char *root, const char *rel, int depth, char ***keys, size_t *n)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && *n < AD_TRAIN_FILES_MAX) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char sub[4096];
        if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
            sizeof(sub)) {
            continue;
        }
        char full_path[8192];
        snprintf(full_path, sizeof(full_path), "%s/%s", root, sub);
        struct stat st;
        if (lstat(full_path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode) && depth < 8) {
            walk(root, sub, depth + 1, keys, n);
        } else if (S_ISREG(st.st_mode)) {
            *keys = ad_xrealloc(*keys, (*n + 1) * sizeof(**keys));
            (*keys)[(*n)++] = ad_xstrdup(sub);
        }
    }
    closedir(d);
}

/* A small file's text, trimmed (NULL when missing or over 64 KiB). */
static char *small_text(const char *path)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int64_t size = 0;
    if (read_from(path, 0, 65536, &buf, &n, &size) != 0 || size > 65536) {
        free(buf);
        return NULL;
    }
    if (buf == NULL) {
        return ad_xstrdup("");
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    return (char *)buf;
}

/* meta.yaml's top-level "key: value" lines (the file store writes flat YAML). */
static void mlflow_meta(ad_train_read_t *r)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s/meta.yaml", r->path);
    char *text = small_text(path);
    if (text == NULL) {
        return;
    }
    int status = 0;
    int64_t end = 0;
    for (char *p = text; p != NULL && *p != '\0';) {
        char *nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        char *colon = strchr(p, ':');
        if (colon != NULL && p[0] != ' ') {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vl = strlen(v);
            if (vl >= 2 && (v[0] == '\'' || v[0] == '"') && v[vl - 1] == v[0]) {
                v[vl - 1] = '\0';
                v++;
            }
            if (strcmp(p, "run_name") == 0 && v[0] != '\0' && strcmp(v, "null") != 0) {
                json_object_set_new(r->patch, "name", json_string(v));
            } else if (strcmp(p, "status") == 0) {
                status = strcmp(v, "FINISHED") == 0 ? 3
                         : strcmp(v, "FAILED") == 0 ? 4
                         : strcmp(v, "KILLED") == 0 ? 5
                                                    : (int)strtol(v, NULL, 10);
            } else if (strcmp(p, "end_time") == 0) {
                end = strtoll(v, NULL, 10);
            }
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    free(text);
    if (status == 3 || status == 4 || status == 5) {
        r->ended = true;
        json_object_set_new(r->patch, "status",
                            json_string(status == 3   ? "succeeded"
                                        : status == 4 ? "failed"
                                                      : "stopped"));
        if (end > 0) {
            json_object_set_new(r->patch, "endedAt", json_integer(end));
        }
    }
}

/* params/<key>: the run's config values (numbers where they read as one). */
static void mlflow_params(ad_train_read_t *r)
{
    char root[8192];
    snprintf(root, sizeof(root), "%s/params", r->path);
    char **keys = NULL;
    size_t n = 0;
    walk(root, "", 0, &keys, &n);
    json_t *values = json_object();
    for (size_t i = 0; i < n; i++) {
        char path[16384];
        snprintf(path, sizeof(path), "%s/%s", root, keys[i]);
        char *text = json_object_size(values) < 1000 ? small_text(path) : NULL;
        double v;
        if (text != NULL && ad_utf8_valid(text, strlen(text))) {
            json_object_set_new(values, keys[i],
                                num(text, &v) && isfinite(v) ? json_real(v) : json_string(text));
        }
        free(text);
        free(keys[i]);
    }
    free(keys);
    if (json_object_size(values) > 0) {
        json_object_set_new(r->patch, "config",
                            json_pack("{s:s, s:o}", "name", "mlflow params", "values", values));
    } else {
        json_decref(values);
    }
}

static void read_mlruns(ad_train_read_t *r)
{
    struct stat st;
    if (stat(r->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        r->rc = AD_ENOENT;
        snprintf(r->error, sizeof(r->error), "not a folder");
        return;
    }
    mlflow_meta(r);
    mlflow_params(r);
    char root[8192];
    snprintf(root, sizeof(root), "%s/metrics", r->path);
    char **keys = NULL;
    size_t n = 0;
    walk(root, "", 0, &keys, &n);
    qsort(keys, n, sizeof(*keys), by_name);
    json_t *files = obj(r->state, "files");
    size_t budget = AD_TRAIN_READ_BYTES;
    for (size_t i = 0; i < n; i++) {
        char path[16384];
        snprintf(path, sizeof(path), "%s/%s", root, keys[i]);
        each_line(r, path, keys[i], files, &budget, mlflow_line, NULL);
        free(keys[i]);
    }
    free(keys);
}

/* ---- CSV --------------------------------------------------------------------------------------
 */

#define CSV_COLS 256

/* Splits line into fields (double quotes may hold commas; "" is a quote). */
static size_t csv_split(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n == max) {
            return n;
        }
        char *w = p, *start = p;
        if (*p == '"') {
            p++;
            while (*p != '\0') {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while (*p != '\0' && *p != ',') {
                p++;
            }
        } else {
            while (*p != '\0' && *p != ',') {
                p++;
            }
            w = p;
        }
        char c = *p;
        *w = '\0';
        f[n++] = start;
        if (c != ',') {
            return n;
        }
        p++;
    }
}

typedef struct {
    int step, time, name, value; /* column indexes, -1: none */
} csv_cols_t;

static void csv_line(ad_train_read_t *r, const char *key, char *line, size_t len, void *ud)
{
    AD_UNUSED(key);
    AD_UNUSED(len);
    AD_UNUSED(ud);
    char *f[CSV_COLS];
    size_t n = csv_split(line, f, CSV_COLS);
    json_t *header = json_object_get(r->state, "header");
    if (!json_is_array(header)) {
        header = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_string(f[i]);
            json_array_append_new(header, s != NULL ? s : json_string(""));
        }
        json_object_set_new(r->state, "header", header);
        return;
    }
    csv_cols_t c = {-1, -1, -1, -1};
    size_t nh = json_array_size(header);
    for (size_t i = 0; i < nh; i++) {
        const char *h = json_string_value(json_array_get(header, i));
        if (strcmp(h, "step") == 0 || strcmp(h, "_step") == 0 || strcmp(h, "global_step") == 0) {
            c.step = (int)i;
        } else if (strcmp(h, "time") == 0 || strcmp(h, "timestamp") == 0 ||
                   strcmp(h, "wall_time") == 0 || strcmp(h, "_timestamp") == 0) {
            c.time = (int)i;
        } else if (strcmp(h, "name") == 0 || strcmp(h, "metric") == 0 || strcmp(h, "tag") == 0) {
            c.name = (int)i;
        } else if (strcmp(h, "value") == 0) {
            c.value = (int)i;
        }
    }
    int64_t row = json_integer_value(json_object_get(r->state, "rows"));
    json_object_set_new(r->state, "rows", json_integer(row + 1));
    double step = (double)row, t = 0;
    if (c.step >= 0 && ((size_t)c.step >= n || !num(f[c.step], &step) || step != floor(step))) {
        r->skipped++;
        return;
    }
    bool has_t = c.time >= 0 && (size_t)c.time < n && num(f[c.time], &t) && isfinite(t);
    int64_t ts = has_t ? (int64_t)llround(t < 1e11 ? t * 1000 : t) : 0;
    if (c.name >= 0 && c.value >= 0) { /* long: name,value rows */
        double v;
        if ((size_t)c.name >= n || (size_t)c.value >= n || !num(f[c.value], &v)) {
            r->skipped++;
            return;
        }
        add_point(r, f[c.name], strlen(f[c.name]), (int64_t)step, has_t, ts, v);
        return;
    }
    for (size_t i = 0; i < n && i < nh; i++) {
        double v;
        if ((int)i == c.step || (int)i == c.time || f[i][0] == '\0') {
            continue;
        }
        const char *h = json_string_value(json_array_get(header, i));
        if (!num(f[i], &v)) {
            r->skipped++;
            continue;
        }
        add_point(r, h, strlen(h), (int64_t)step, has_t, ts, v);
    }
}

static void read_csv(ad_train_read_t *r)
{
    struct stat st;
    if (stat(r->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        r->rc = AD_ENOENT;
        snprintf(r->error, sizeof(r->error), "not a file");
        return;
    }
    json_t *files = obj(r->state, "files");
    size_t budget = AD_TRAIN_READ_BYTES;
    each_line(r, r->path, "csv", files, &budget, csv_line, NULL);
}

void ad_train_read(ad_train_read_t *r)
{
    r->points = json_array();
    r->nonfinite = json_array();
    r->dists = json_array();
    r->patch = json_object();
    switch (r->kind) {
    case AD_IMPORT_TFEVENTS:
        read_tfevents(r);
        break;
    case AD_IMPORT_MLRUNS:
        read_mlruns(r);
        break;
    case AD_IMPORT_CSV:
        read_csv(r);
        break;
    }
}
