/* SPDX-License-Identifier: MIT */
/*
 * What runs send: each run's credential, and its OTLP/HTTP JSON traces
 * taken into the store beside agentd's own spans. The credential is
 * "<runId>.<MAC>", the MAC an HMAC-SHA256 of the run's id under a key of
 * the data dir: agentd keeps nothing per run, a restarted agentd still
 * knows a re-attached run's, and it names one run, so whatever an agent
 * does with its own (print it, hand it to a child) can only add spans to
 * that run, bounded. The spans sent are checked (hex ids, times, a name)
 * and cut to size (attributes, strings); they are kept under the run
 * whose credential came with them, whatever trace they say they are of.
 */
#include "otel/otel_int.h"
#include "tables/runs.h"
#include "tables/spans.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPANS_PER_REQUEST_MAX 2000
#define ATTRS_MAX 64
#define ATTR_VALUE_MAX 1024
#define NAME_MAX_LEN 256

/* ---- the key and the credentials --------------------------------------------------- */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int ad_otel_key_load(ad_otel_t *o, const char *data_dir, char *why, size_t whysz)
{
    char path[4200], text[65];
    snprintf(path, sizeof(path), "%s/otlp-key", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        uint8_t raw[32];
        char secret[AD_SECRET_MAX];
        if (ad_secret_new(secret) != 0) {
            snprintf(why, whysz, "no randomness for %s", path);
            return AD_EIO;
        }
        ad_sha256(secret, strlen(secret), raw);
        memset(secret, 0, sizeof(secret));
        for (int i = 0; i < 32; i++) {
            snprintf(text + i * 2, 3, "%02x", raw[i]);
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        bool ok = fd >= 0 && ad_write_all(fd, text, 64) == 64;
        if (fd >= 0) {
            close(fd);
        }
        if (!ok) {
            snprintf(why, whysz, "cannot write %s: %s", path, strerror(errno));
            return AD_EIO;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    ssize_t n = fd >= 0 ? read(fd, text, 64) : -1;
    if (fd >= 0) {
        close(fd);
    }
    for (int i = 0; n == 64 && i < 32; i++) {
        int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            n = -1;
            break;
        }
        o->key[i] = (uint8_t)(hi * 16 + lo);
    }
    memset(text, 0, sizeof(text));
    if (n != 64) {
        snprintf(why, whysz, "cannot read %s (64 hex characters)", path);
        return AD_EIO;
    }
    o->has_key = true;
    return 0;
}

/* The MAC of run_id, base64url without padding (43 characters). */
static void mac_of(const ad_otel_t *o, const char *run_id, char out[48])
{
    char msg[AD_ID_MAX + 32];
    int len = snprintf(msg, sizeof(msg), "agentd-run-otlp:%s", run_id);
    uint8_t mac[32];
    ad_hmac_sha256(o->key, sizeof(o->key), msg, (size_t)len, mac);
    char b64[48];
    ad_base64_encode(mac, sizeof(mac), b64, sizeof(b64));
    size_t k = 0;
    for (size_t i = 0; b64[i] != '\0' && b64[i] != '=' && k + 1 < 48; i++) {
        out[k++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    }
    out[k] = '\0';
}

void ad_otel_run_token(const ad_otel_t *o, const char *run_id, char *out, size_t outsz)
{
    if (o == NULL || !o->has_key) {
        snprintf(out, outsz, "%s", "");
        return;
    }
    char mac[48];
    mac_of(o, run_id, mac);
    snprintf(out, outsz, "%s.%s", run_id, mac);
}

int ad_otel_run_check(const ad_otel_t *o, const char *token, char run_id[AD_ID_MAX])
{
    const char *dot = token != NULL ? strrchr(token, '.') : NULL;
    if (o == NULL || !o->has_key || dot == NULL || dot == token ||
        (size_t)(dot - token) >= AD_ID_MAX) {
        return AD_EPERM;
    }
    char id[AD_ID_MAX], mac[48];
    snprintf(id, sizeof(id), "%.*s", (int)(dot - token), token);
    mac_of(o, id, mac);
    if (strlen(dot + 1) != strlen(mac) || !ad_consttime_eq(dot + 1, mac, strlen(mac))) {
        return AD_EPERM;
    }
    snprintf(run_id, AD_ID_MAX, "%s", id);
    return 0;
}

/* ---- spans --------------------------------------------------------------------------- */

static bool hex_id(const char *s, size_t len)
{
    if (s == NULL || strlen(s) != len) {
        return false;
    }
    bool zero = true;
    for (size_t i = 0; i < len; i++) {
        if (hexval(s[i]) < 0) {
            return false;
        }
        zero &= s[i] == '0';
    }
    return !zero;
}

/* A time in Unix nanoseconds (a string of digits, or a number) as
 * microseconds; -1 when it is neither. */
static int64_t micros(const json_t *v)
{
    if (json_is_integer(v)) {
        return json_integer_value(v) / 1000;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) > 19) {
        return -1;
    }
    int64_t ns = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        ns = ns * 10 + (*p - '0');
    }
    return ns / 1000;
}

/* s cut to at most max bytes, at a character's start (s is UTF-8: jansson
 * checked it). */
static json_t *cut(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    return json_stringn(s != NULL ? s : "", n);
}

/* An OTLP AnyValue as plain JSON, strings cut to ATTR_VALUE_MAX. */
static json_t *plain(const json_t *v)
{
    json_t *str = json_object_get(v, "stringValue"), *i = json_object_get(v, "intValue");
    json_t *d = json_object_get(v, "doubleValue"), *b = json_object_get(v, "boolValue");
    if (str != NULL) {
        return cut(json_string_value(str), ATTR_VALUE_MAX);
    }
    if (i != NULL) {
        return json_is_string(i) ? json_integer(strtoll(json_string_value(i), NULL, 10))
                                 : json_integer(json_integer_value(i));
    }
    if (d != NULL) {
        return json_real(json_number_value(d));
    }
    if (b != NULL) {
        return json_boolean(json_is_true(b));
    }
    char *text = json_dumps(v, JSON_COMPACT);
    json_t *out = cut(text, ATTR_VALUE_MAX);
    free(text);
    return out;
}

json_t *ad_otel_store_form(const json_t *span, const char *service)
{
    const char *trace = json_string_value(json_object_get(span, "traceId"));
    const char *id = json_string_value(json_object_get(span, "spanId"));
    const char *parent = json_string_value(json_object_get(span, "parentSpanId"));
    const char *name = json_string_value(json_object_get(span, "name"));
    int64_t start = micros(json_object_get(span, "startTimeUnixNano"));
    int64_t end = micros(json_object_get(span, "endTimeUnixNano"));
    if (!hex_id(trace, 32) || !hex_id(id, 16) ||
        (parent != NULL && parent[0] != '\0' && !hex_id(parent, 16)) || name == NULL || start < 0 ||
        end < 0) {
        return NULL;
    }
    json_t *attrs = json_object();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i, a)
    {
        const char *key = json_string_value(json_object_get(a, "key"));
        if (key != NULL && strlen(key) <= 128 && json_object_size(attrs) < ATTRS_MAX) {
            json_object_set_new(attrs, key, plain(json_object_get(a, "value")));
        }
    }
    json_t *status = json_object_get(span, "status");
    json_t *kind = json_object_get(span, "kind");
    json_t *out =
        json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "traceId", trace, "spanId", id,
                  "name", cut(name, NAME_MAX_LEN), "kind",
                  (json_int_t)(json_is_integer(kind) ? json_integer_value(kind) : 1), "startUs",
                  (json_int_t)start, "endUs", (json_int_t)(end > start ? end : start), "status",
                  (json_int_t)json_integer_value(json_object_get(status, "code")), "attrs", attrs);
    if (parent != NULL && parent[0] != '\0') {
        json_object_set_new(out, "parentSpanId", json_string(parent));
    }
    const char *msg = json_string_value(json_object_get(status, "message"));
    if (msg != NULL) {
        json_object_set_new(out, "statusMessage", cut(msg, ATTR_VALUE_MAX));
    }
    if (service != NULL) {
        json_object_set_new(out, "service", json_string(service));
    }
    return out;
}

/* The service.name of a resource, or NULL. */
static const char *service_of(const json_t *resource)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(resource, "attributes"), i, a)
    {
        const char *k = json_string_value(json_object_get(a, "key"));
        if (k != NULL && strcmp(k, "service.name") == 0) {
            return json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
        }
    }
    return NULL;
}

int ad_otel_ingest(ad_otel_t *o, const char *run_id, const char *body, size_t len, size_t *taken,
                   size_t *rejected, char *why, size_t whysz)
{
    *taken = *rejected = 0;
    json_t *req = json_loadb(body, len, 0, NULL);
    json_t *rs = json_object_get(req, "resourceSpans");
    if (!json_is_object(req) || (rs != NULL && !json_is_array(rs))) {
        json_decref(req);
        snprintf(why, whysz, "not an OTLP JSON ExportTraceServiceRequest");
        return AD_EINVAL;
    }
    size_t i, j, k;
    json_t *r, *ss, *sp;
    json_array_foreach(rs, i, r)
    {
        const char *service = service_of(json_object_get(r, "resource"));
        json_array_foreach(json_object_get(r, "scopeSpans"), j, ss)
        {
            json_array_foreach(json_object_get(ss, "spans"), k, sp)
            {
                json_t *form = *taken + *rejected < SPANS_PER_REQUEST_MAX
                                   ? ad_otel_store_form(sp, service)
                                   : NULL;
                if (form == NULL) {
                    (*rejected)++;
                    continue;
                }
                ad_otel_keep(o, run_id, "run", form);
                (*taken)++;
            }
        }
    }
    json_decref(req);
    return 0;
}

bool ad_otel_run_sends(ad_store_t *st, const char *run_id)
{
    json_t *run = NULL;
    int64_t ended = 0;
    bool alive = ad_store_run_get(st, run_id, &run) == 0;
    const char *status = json_string_value(json_object_get(run, "status"));
    const char *end = json_string_value(json_object_get(run, "endedAt"));
    if (alive && status != NULL && strcmp(status, "running") != 0) {
        alive = end != NULL && ad_time_parse(end, &ended) == 0 &&
                ad_wall_ms() - ended < AD_OTEL_RUN_GRACE_MS;
    }
    json_decref(run);
    return alive;
}

json_t *ad_otel_ingest_answer(size_t rejected)
{
    json_t *out = json_object();
    if (rejected > 0) {
        json_object_set_new(out, "partialSuccess",
                            json_pack("{s:I, s:s}", "rejectedSpans", (json_int_t)rejected,
                                      "errorMessage",
                                      "spans without valid ids, times and a name, or past 2000 "
                                      "a request, are not kept"));
    }
    return out;
}

/* ---- a run's trace read back ---------------------------------------------------------- */

typedef struct {
    ad_otel_trace_cb cb;
    void *ud;
    json_t *out;
} trace_t;

static void spans_read(int rc, json_t *spans, void *ud)
{
    trace_t *t = ud;
    if (rc != 0) {
        json_decref(spans); /* ours either way */
        json_decref(t->out);
        t->cb(rc, NULL, t->ud);
    } else {
        json_object_set_new(t->out, "spans", spans);
        t->cb(0, t->out, t->ud);
    }
    free(t);
}

int ad_otel_trace(ad_store_t *st, const char *run_id, ad_otel_trace_cb cb, void *ud)
{
    json_t *run = NULL;
    int rc = ad_store_run_get(st, run_id, &run);
    if (rc != 0) {
        return rc;
    }
    char trace[33], span[17];
    ad_trace_ids(run_id, NULL, trace, span);
    trace_t *t = ad_xcalloc(1, sizeof(*t));
    t->cb = cb;
    t->ud = ud;
    t->out = json_pack("{s:s, s:s, s:s, s:o}", "runId", run_id, "traceId", trace, "spanId", span,
                       "run", run);
    ad_store_run_spans(st, run_id, AD_OTEL_RUN_SPANS_MAX, spans_read, t);
    return 0;
}
