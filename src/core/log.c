/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per event, key=value text or JSON, secrets masked. A
 * message is free text followed by key=value fields; the free text becomes
 * msg and each field stays a field. Lines are capped (AD_LOG_LINE_MAX) and
 * written with a single write(2), so threads never interleave within a line.
 * A warning or error that repeats (the same format string) is written once
 * per window (5 s); the next line written says how many were held back
 * (repeated=N), so a full disk cannot fill the disk with its own warnings.
 */
#include "core.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define AD_LOG_LINE_MAX 8192
#define AD_LOG_REPEAT_SITES 64

static ad_log_level_t min_level = AD_LOG_INFO;
static ad_log_format_t format = AD_LOG_TEXT;
static int log_fd = 2;
static int64_t repeat_ms = 5000;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

void ad_log_set_level(ad_log_level_t level)
{
    min_level = level;
}

void ad_log_set_format(ad_log_format_t f)
{
    format = f;
}

void ad_log_set_repeat_window(int64_t ms)
{
    repeat_ms = ms;
}

void ad_log_set_fd(int fd)
{
    log_fd = fd;
}

bool ad_log_enabled(ad_log_level_t level)
{
    return level >= min_level && level < AD_LOG_OFF;
}

/* A bounded output cursor: writes past the end are dropped. */
typedef struct {
    char *p;
    size_t len;
    size_t cap; /* includes room for the NUL */
} out_t;

static void out_put(out_t *o, const char *s, size_t n)
{
    if (o->cap == 0) {
        return;
    }
    size_t room = o->cap - 1 - o->len;
    if (n > room) {
        n = room;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void out_str(out_t *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static bool is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* Length of "key" when s starts with key=, else 0. */
static size_t key_len(const char *s)
{
    size_t n = 0;
    if (!isalpha((unsigned char)s[0]) && s[0] != '_') {
        return 0;
    }
    while (is_key_char(s[n])) {
        n++;
    }
    return s[n] == '=' ? n : 0;
}

static bool key_is_secret(const char *k, size_t n)
{
    static const char *words[] = {"token",  "secret",  "password", "passwd", "authorization",
                                  "apikey", "api_key", "api-key",  "cookie"};
    char low[64];
    if (n >= sizeof(low)) {
        n = sizeof(low) - 1;
    }
    for (size_t i = 0; i < n; i++) {
        low[i] = (char)tolower((unsigned char)k[i]);
    }
    low[n] = '\0';
    for (size_t i = 0; i < AD_ARRAY_LEN(words); i++) {
        if (strstr(low, words[i]) != NULL) {
            return true;
        }
    }
    /* "key" alone or as a suffix (api.key, x_key) but not "keys" or "monkey". */
    return strcmp(low, "key") == 0 || (n > 4 && strcmp(low + n - 4, "_key") == 0) ||
           (n > 4 && strcmp(low + n - 4, ".key") == 0);
}

/* Length of a value at s: a "quoted string" with backslash escapes, or up
 * to the next space. */
static size_t value_len(const char *s)
{
    size_t n = 0;
    if (s[0] == '"') {
        n = 1;
        while (s[n] != '\0' && s[n] != '"') {
            n += (s[n] == '\\' && s[n + 1] != '\0') ? 2 : 1;
        }
        return s[n] == '"' ? n + 1 : n;
    }
    while (s[n] != '\0' && s[n] != ' ') {
        n++;
    }
    return n;
}

size_t ad_log_mask(const char *msg, char *buf, size_t bufsz)
{
    out_t o = {buf, 0, bufsz};
    if (bufsz > 0) {
        buf[0] = '\0';
    }
    const char *s = msg;
    while (*s != '\0') {
        if (*s == ' ') {
            out_put(&o, s, 1);
            s++;
            continue;
        }
        size_t k = key_len(s);
        if (k > 0 && key_is_secret(s, k)) {
            out_put(&o, s, k + 1);
            out_str(&o, "***");
            s += k + 1;
            s += value_len(s);
            continue;
        }
        if (strncasecmp(s, "bearer ", 7) == 0) {
            out_put(&o, s, 7);
            out_str(&o, "***");
            s += 7;
            s += value_len(s);
            continue;
        }
        const char *start = s;
        if (k > 0) {
            s += k + 1;
            s += value_len(s);
        } else {
            s += value_len(s);
        }
        if (strncmp(start, "sk-", 3) == 0 && s - start > 8) {
            out_str(&o, "sk-***");
        } else {
            out_put(&o, start, (size_t)(s - start));
        }
    }
    return o.len;
}

static void json_string(out_t *o, const char *s, size_t n)
{
    out_str(o, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            out_put(o, esc, 2);
        } else if (c == '\n') {
            out_str(o, "\\n");
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            out_str(o, esc);
        } else {
            out_put(o, (const char *)&c, 1);
        }
    }
    out_str(o, "\"");
}

/* Finds where the key=value fields begin in a masked message. */
static const char *fields_start(const char *m)
{
    const char *s = m;
    while (*s != '\0') {
        if ((s == m || s[-1] == ' ') && key_len(s) > 0) {
            return s;
        }
        s++;
    }
    return s;
}

static void format_json(out_t *o, const char *ts, ad_log_level_t level, const char *sub,
                        const char *m)
{
    const char *f = fields_start(m);
    size_t free_len = (size_t)(f - m);
    while (free_len > 0 && m[free_len - 1] == ' ') {
        free_len--;
    }
    out_str(o, "{\"ts\":\"");
    out_str(o, ts);
    out_str(o, "\",\"level\":\"");
    out_str(o, level_names[level]);
    out_str(o, "\",\"sub\":");
    json_string(o, sub, strlen(sub));
    out_str(o, ",\"msg\":");
    json_string(o, m, free_len);
    while (*f != '\0') {
        while (*f == ' ') {
            f++;
        }
        size_t k = key_len(f);
        if (k == 0) {
            /* Free text after fields: keep it in a field of its own. */
            size_t n = value_len(f);
            if (n == 0) {
                break;
            }
            out_str(o, ",\"extra\":");
            json_string(o, f, n);
            f += n;
            continue;
        }
        out_str(o, ",");
        json_string(o, f, k);
        out_str(o, ":");
        const char *v = f + k + 1;
        size_t n = value_len(v);
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
            json_string(o, v + 1, n - 2);
        } else {
            json_string(o, v, n);
        }
        f = v + n;
    }
    out_str(o, "}");
}

/* Call sites (format strings) of recent warnings and errors. */
static struct {
    const char *fmt;
    int64_t since; /* when its last line was written */
    uint64_t held; /* repeats not written since */
} sites[AD_LOG_REPEAT_SITES];
static pthread_mutex_t sites_mu = PTHREAD_MUTEX_INITIALIZER;

/* Whether a line of fmt is written now; *held gets the repeats held back
 * before it. The least recently written site makes room for a new one. */
static bool repeat_allows(const char *fmt, int64_t now, uint64_t *held)
{
    pthread_mutex_lock(&sites_mu);
    size_t slot = 0;
    bool found = false;
    for (size_t i = 0; i < AD_LOG_REPEAT_SITES && !found; i++) {
        if (sites[i].fmt == fmt) {
            slot = i;
            found = true;
        } else if (sites[i].since < sites[slot].since) {
            slot = i;
        }
    }
    bool write_now = true;
    *held = 0;
    if (found && now - sites[slot].since < repeat_ms) {
        sites[slot].held++;
        write_now = false;
    } else {
        *held = found ? sites[slot].held : 0;
        sites[slot].fmt = fmt;
        sites[slot].since = now;
        sites[slot].held = 0;
    }
    pthread_mutex_unlock(&sites_mu);
    return write_now;
}

void ad_logv(ad_log_level_t level, const char *sub, const char *fmt, va_list ap)
{
    if (!ad_log_enabled(level)) {
        return;
    }
    int64_t now = ad_wall_ms();
    uint64_t held = 0;
    if (level >= AD_LOG_WARN && !repeat_allows(fmt, now, &held)) {
        return;
    }
    char raw[AD_LOG_LINE_MAX];
    char masked[AD_LOG_LINE_MAX];
    char line[AD_LOG_LINE_MAX + 256];
    char ts[AD_TIME_MAX];
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    if (held > 0 && n >= 0 && (size_t)n < sizeof(raw)) {
        snprintf(raw + n, sizeof(raw) - (size_t)n, " repeated=%llu", (unsigned long long)held);
    }
    /* Keep a line one line: embedded newlines would split it. */
    for (char *p = raw; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    ad_log_mask(raw, masked, sizeof(masked));
    ad_time_format(now, ts);

    out_t o = {line, 0, sizeof(line) - 1};
    line[0] = '\0';
    if (format == AD_LOG_JSON) {
        format_json(&o, ts, level, sub, masked);
    } else {
        const char *f = fields_start(masked);
        size_t free_len = (size_t)(f - masked);
        while (free_len > 0 && masked[free_len - 1] == ' ') {
            free_len--;
        }
        out_str(&o, "ts=");
        out_str(&o, ts);
        out_str(&o, " level=");
        out_str(&o, level_names[level]);
        out_str(&o, " sub=");
        out_str(&o, sub);
        out_str(&o, " msg=");
        json_string(&o, masked, free_len);
        if (*f != '\0') {
            out_str(&o, " ");
            out_str(&o, f);
        }
    }
    line[o.len++] = '\n';
    ssize_t w = write(log_fd, line, o.len);
    AD_UNUSED(w);
}

void ad_log(ad_log_level_t level, const char *sub, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ad_logv(level, sub, fmt, ap);
    va_end(ap);
}
