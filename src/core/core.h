/* SPDX-License-Identifier: MIT */
/*
 * core: the pieces every subsystem uses. Error codes, logging, checked
 * allocation, a capped growable buffer, an arena, clocks, ids and the data
 * dir lock; the configuration is config.h's. Nothing here knows about HTTP,
 * SQLite or agents. These two headers are the ones other subsystems include
 * from src/core/.
 */
#ifndef AD_CORE_H
#define AD_CORE_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

/* The version, from `git describe` at build time (scripts/version.sh, into
 * $(O)/gen/version.c). */
extern const char ad_version[];
#define AD_VERSION ad_version

#define AD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define AD_UNUSED(x) ((void)(x))
/* A result the caller must look at (the bounded buffer's appends): the
 * compiler warns, and -Werror refuses, a call that drops it. */
#define AD_MUST_USE __attribute__((warn_unused_result))
/* Drops such a result on purpose: only where the buffer is already bounded
 * and a cut-off text is what is wanted; say why next to it. (A (void) cast
 * does not silence GCC's warn_unused_result; (void)! does.) */
#define AD_DISCARD(x) ((void)!(x))

/* ---- errors -------------------------------------------------------------
 * Fallible functions return 0 or one of these negative codes. Library codes
 * (SQLite, libgit2, libuv, curl) are translated into these at the edge of
 * the subsystem that calls the library. They are -1001 to -1017: below
 * every -errno (Linux's are above -200) and above libuv's own codes
 * (UV_EAI_* from -3000, UV_EOF -4095; the others are -errno), so a -errno
 * or UV_E* code that leaks through is never mistaken for one of ours, and
 * ad_strerror / ad_errname still name a -errno (docs/DECISIONS.md).
 */
#define AD_ERR_BASE_ (-1000)
enum {
    AD_OK = 0,
    AD_ENOMEM = AD_ERR_BASE_ - 1,      /* out of memory (only where we do not abort) */
    AD_EINVAL = AD_ERR_BASE_ - 2,      /* invalid argument or input */
    AD_ENOENT = AD_ERR_BASE_ - 3,      /* not found */
    AD_EEXIST = AD_ERR_BASE_ - 4,      /* already exists / unique conflict */
    AD_ETOOBIG = AD_ERR_BASE_ - 5,     /* a cap was reached */
    AD_EIO = AD_ERR_BASE_ - 6,         /* I/O error */
    AD_EBUSY = AD_ERR_BASE_ - 7,       /* resource busy or locked */
    AD_ECONSTRAINT = AD_ERR_BASE_ - 8, /* constraint violated (CHECK, foreign key) */
    AD_EFULL = AD_ERR_BASE_ - 9,       /* disk full */
    AD_ECORRUPT = AD_ERR_BASE_ - 10,   /* on-disk data is corrupt */
    AD_EAGAIN = AD_ERR_BASE_ - 11,     /* try again later */
    AD_ECLOSED = AD_ERR_BASE_ - 12,    /* the peer or handle is closed */
    AD_ETIMEDOUT = AD_ERR_BASE_ - 13,  /* a deadline passed */
    AD_EPERM = AD_ERR_BASE_ - 14,      /* not permitted */
    AD_ESTATE = AD_ERR_BASE_ - 15,     /* not allowed in the current state */
    AD_EINTERNAL = AD_ERR_BASE_ - 16,  /* a bug or an unexpected library error */
    AD_EUNAVAIL = AD_ERR_BASE_ - 17,   /* the database server cannot be reached */
    AD_ERR_MIN_ = AD_ERR_BASE_ - 18
};

/* A static, lowercase description of an AD_E* code, or of a -errno (what
 * libc says, "errno 5: ..."); "unknown error" for anything else. Any
 * thread. */
const char *ad_strerror(int err);
/* The symbolic name ("ENOENT") of an AD_E* code or of a -errno (its errno
 * name, e.g. "EACCES"); "EUNKNOWN" for anything else. Any thread. */
const char *ad_errname(int err);
/* What failed about what, in the words an answer gives ("agent not
 * found", "the disk is full: message was not saved", "run: <strerror>"),
 * into out. Any thread. */
void ad_err_about(int err, const char *what, char *out, size_t outsz);
/* Whether err is one of the AD_E* codes above (0 is not). */
#define AD_IS_ERR(err) ((int)(err) < AD_ERR_BASE_ && (int)(err) > (int)AD_ERR_MIN_)

/* Aborts with file and line: for states that mean the code is wrong. */
#define AD_BUG(...) ad_bug_(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void ad_bug_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- assertions ------------------------------------------------------------
 * AD_ASSERT(cond): a state that means the code is wrong. In check and test
 * builds (AD_TEST_BUILD: make BUILD=check|test|tsan, every unit and e2e
 * test) a false cond aborts with file, line and the condition (AD_BUG). In
 * release builds it compiles to nothing and cond is not evaluated, so cond
 * must have no side effects: the checks cost a release daemon nothing, and
 * every path is exercised under them by the tests (docs/DECISIONS.md).
 */
#ifdef AD_TEST_BUILD
#define AD_ASSERT(cond)                                                                            \
    ((cond) ? (void)0 : ad_bug_(__FILE__, __LINE__, "assertion failed: %s", #cond))
#else
#define AD_ASSERT(cond) ((void)0)
#endif
/* The loop thread: ad_loop_thread_set() records the calling thread as the
 * one that runs the daemon's libuv loop (main, before uv_run);
 * AD_ASSERT_LOOP() in a function its header says is for the loop thread
 * only. Before a loop thread is set (unit tests, the CLI) every thread
 * counts as it. Any thread. */
void ad_loop_thread_set(void);
bool ad_loop_thread_is(void);
#define AD_ASSERT_LOOP() AD_ASSERT(ad_loop_thread_is())
/* Runs fn(arg) on a detached thread of its own, its stack stack bytes (0:
 * the default); quiet: every signal blocked in it (the loop's watchers take
 * them). false when no thread could be made: fn is not run and arg is the
 * caller's still. Any thread. */
bool ad_thread_detached(void *(*fn)(void *), void *arg, size_t stack, bool quiet);

/* ---- logging --------------------------------------------------------------
 * One line per event on stderr. The message is free text followed by
 * key=value fields: ad_log(AD_LOG_INFO, "http", "listening addr=%s", a).
 * Values of keys that look secret (token, key, secret, password,
 * authorization) and bearer tokens are masked before anything is written.
 * Thread-safe: a line is written with one write(2).
 */
typedef enum {
    AD_LOG_DEBUG = 0,
    AD_LOG_INFO,
    AD_LOG_WARN,
    AD_LOG_ERROR,
    AD_LOG_OFF
} ad_log_level_t;
typedef enum { AD_LOG_TEXT = 0, AD_LOG_JSON } ad_log_format_t;

void ad_log_set_level(ad_log_level_t level);
void ad_log_set_format(ad_log_format_t format);
/* How long repeats of one warning are held back (default 5000 ms). */
void ad_log_set_repeat_window(int64_t ms);
/* Redirects output to fd (default 2). For tests. */
void ad_log_set_fd(int fd);
bool ad_log_enabled(ad_log_level_t level);
void ad_log(ad_log_level_t level, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ad_logv(ad_log_level_t level, const char *sub, const char *fmt, va_list ap);
/* Writes the masked form of a log message into out (NUL-terminated, capped
 * at outsz). Exposed for tests. Returns the length written. */
size_t ad_log_mask(const char *msg, char *out, size_t outsz);

/* ---- checked allocation ---------------------------------------------------
 * These abort with a message on out-of-memory; they never return NULL
 * (ad_xmalloc(0) returns a unique pointer). Free with free().
 */
void *ad_xmalloc(size_t n);
void *ad_xcalloc(size_t count, size_t n);
void *ad_xrealloc(void *p, size_t n);
char *ad_xstrdup(const char *s);
char *ad_xstrndup(const char *s, size_t n);
/* Test hook: make the nth allocation from now fail (0 disables). */
void ad_alloc_fail_after(unsigned long n);

/* ---- bounded growable buffer --------------------------------------------
 * A byte buffer that grows up to `max` bytes and then refuses with
 * AD_ETOOBIG, leaving its contents as they were. data is always
 * NUL-terminated after a successful append (the NUL is not in len).
 * Owns data; release with ad_buf_cleanup().
 */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} ad_buf_t;

void ad_buf_init(ad_buf_t *b, size_t max);
void ad_buf_cleanup(ad_buf_t *b);
/* Empties the buffer but keeps its memory. */
void ad_buf_reset(ad_buf_t *b);
/* Cuts the buffer back to its first len bytes (len <= b->len): undoes the
 * appends after a mark when one of them was refused. */
void ad_buf_truncate(ad_buf_t *b, size_t len);
/* Makes room for n more bytes at once (AD_ETOOBIG past max). */
AD_MUST_USE int ad_buf_reserve(ad_buf_t *b, size_t n);
/* Appends n bytes (AD_ETOOBIG past max). The common case, room already
 * there, is inline: appends are the hot loop of every JSON writer. */
AD_MUST_USE int ad_buf_append_grow(ad_buf_t *b, const void *p, size_t n);
AD_MUST_USE static inline int ad_buf_append(ad_buf_t *b, const void *p, size_t n)
{
    if (b->cap - b->len <= n) { /* cap <= max + 1, so this also bounds max */
        return ad_buf_append_grow(b, p, n);
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
AD_MUST_USE static inline int ad_buf_putc(ad_buf_t *b, char c)
{
    if (b->cap - b->len <= 1) {
        return ad_buf_append_grow(b, &c, 1);
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}
AD_MUST_USE int ad_buf_puts(ad_buf_t *b, const char *s);
/* A string literal, its length known when compiled (hot JSON writers: a
 * key before each value). ad_buf_puts stays a call, so that the binary does
 * not grow by an inlined copy at each of its hundreds of callers. */
#define ad_buf_lit(b, lit) ad_buf_append((b), "" lit, sizeof(lit) - 1)
AD_MUST_USE int ad_buf_printf(ad_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
AD_MUST_USE int ad_buf_vprintf(ad_buf_t *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void ad_buf_consume(ad_buf_t *b, size_t n);
/* Hands data to the caller (free with free()) and empties the buffer. */
char *ad_buf_detach(ad_buf_t *b, size_t *len);

/* ---- Prometheus text exposition (prom.c) ----------------------------------------
 * Writes into b (a capped buffer: each returns 0 or AD_ETOOBIG). A family
 * is opened with its HELP and TYPE lines, then its samples follow; labels
 * are given as "name", value pairs ending with NULL and escaped here.
 */
int ad_prom_family(ad_buf_t *b, const char *name, const char *type, const char *help);
int ad_prom_sample(ad_buf_t *b, const char *name, double value, ...);
/* Cumulative buckets from per-bucket counts (counts[i] for values <=
 * bounds[i], counts[n] above the last bound), then _sum and _count. */
int ad_prom_histogram(ad_buf_t *b, const char *name, const double *bounds, const uint64_t *counts,
                      size_t n, double sum, const char *label, const char *label_value);
/* A gauge or counter family with one unlabelled sample. */
int ad_prom_gauge(ad_buf_t *b, const char *name, const char *help, double v);
int ad_prom_counter(ad_buf_t *b, const char *name, const char *help, double v);

/* ---- arena ------------------------------------------------------------------
 * Bump allocator for per-request memory, freed all at once with
 * ad_arena_reset() (keeps the first chunk for reuse) or ad_arena_cleanup().
 * Total memory is capped: past `max` bytes, allocation returns NULL.
 */
typedef struct ad_arena_chunk ad_arena_chunk_t;
typedef struct {
    ad_arena_chunk_t *head;
    size_t chunk_size;
    size_t max;
    size_t used; /* bytes reserved in chunks, including headers */
} ad_arena_t;

void ad_arena_init(ad_arena_t *a, size_t chunk_size, size_t max);
void ad_arena_cleanup(ad_arena_t *a);
void ad_arena_reset(ad_arena_t *a);
/* Returns 16-byte aligned memory owned by the arena, or NULL past the cap. */
void *ad_arena_alloc(ad_arena_t *a, size_t n);
char *ad_arena_strndup(ad_arena_t *a, const char *s, size_t n);

/* ---- clocks -------------------------------------------------------------- */
/* Monotonic nanoseconds, for durations. */
uint64_t ad_mono_ns(void);
/* ad_mono_ns() in milliseconds. */
uint64_t ad_mono_ms(void);
/* Wall clock, milliseconds since the Unix epoch. */
int64_t ad_wall_ms(void);
#define AD_TIME_MAX 32
/* Formats ms since epoch as RFC 3339 UTC with milliseconds:
 * 2026-11-21T19:44:46.123Z. out must hold AD_TIME_MAX bytes. */
void ad_time_format(int64_t ms, char out[AD_TIME_MAX]);
/* Parses the form above (and without milliseconds). 0 or AD_EINVAL. */
int ad_time_parse(const char *s, int64_t *ms);
/* A time a query gives: whole milliseconds since the epoch, or the form
 * above. 0 or AD_EINVAL. */
int ad_time_param(const char *s, int64_t *ms);

/* ---- ids -----------------------------------------------------------------
 * Prefixed, time-ordered ids: "<prefix>_" + 26 lowercase Crockford base32
 * characters (48-bit millisecond time, 80 random bits). Ids made in the same
 * millisecond by one process still sort in creation order. Thread-safe.
 */
#define AD_ID_MAX 48
/* prefix is e.g. "ag"; at most 16 characters. Returns 0 or AD_EINVAL. */
int ad_id_new(const char *prefix, char out[AD_ID_MAX]);
/* True when s looks like an id with this prefix. */
bool ad_id_valid(const char *s, const char *prefix);

/* ---- UTF-8 ----------------------------------------------------------------- */
/* Length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 when the bytes
 * there are not one (bad lead or continuation byte, truncated, overlong,
 * surrogate, past U+10FFFF). A NUL byte counts as a one-byte sequence. */
size_t ad_utf8_seq_len(const unsigned char *s, size_t n);
/* How many leading bytes of s[0..n) are whole valid UTF-8 characters. */
size_t ad_utf8_valid_prefix(const char *s, size_t n);
/* s[0..n) is valid UTF-8 (NUL bytes allowed). */
bool ad_utf8_valid(const char *s, size_t n);
/* Appends s[0..n) with every byte that does not start a valid sequence, and
 * every NUL, replaced by U+FFFD, so any bytes become text a JSON string or a
 * row can hold. Returns 0 or the buffer's AD_ETOOBIG. */
AD_MUST_USE int ad_utf8_repair(ad_buf_t *out, const char *s, size_t n);

/* ---- finding programs (which.c) --------------------------------------------- */
/* PATH when none is set: for lookups, and for agents' environments. */
#define AD_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* ---- child statuses (child.c) ------------------------------------------------
 * agentd reaps every child as subreaper (src/proc): a thread waiting for a
 * child of its own uses ad_child_wait(), which also finds a status the
 * supervisor reaped first. The supervisor reaps under ad_child_lock() and
 * leaves foreign statuses with ad_child_status_put_locked(). */
#include <sys/types.h>
void ad_child_lock(void);
void ad_child_unlock(void);
void ad_child_status_put_locked(pid_t pid, int status);
/* waitpid(pid) that also finds a status reaped by the supervisor. 0, or
 * AD_ENOENT when pid is no child of ours. */
int ad_child_wait(pid_t pid, int *status);
/* Takes the status the supervisor left for pid, if any (a child that
 * ended before the thread that started it had said its pid). Any thread. */
bool ad_child_status_take(pid_t pid, int *status);

/* Finds argv0 like execvp would with PATH (path may be NULL: agentd's own
 * PATH) and writes the absolute or relative path that would run into out.
 * AD_ENOENT / AD_EPERM / AD_ETOOBIG. Any thread. */
int ad_path_which(const char *argv0, const char *path, char *out, size_t outsz);
/* ad_path_which() with a cwd that relative names (with a '/') and empty
 * PATH entries are taken from (NULL: relative names as given, empty entries
 * skipped). With a cwd the result is always absolute. Any thread. */
int ad_path_which_in(const char *argv0, const char *path, const char *cwd, char *out, size_t outsz);
/* The folder of the running executable (from /proc/self/exe; a binary
 * replaced on disk still names its folder), where agentd-hold and
 * agentd-git.so sit. 0, or AD_ENOENT / AD_ETOOBIG. Any thread. */
int ad_exe_dir(char *out, size_t outsz);
/* A plugin of agentd's (file, e.g. "agentd-git.so"): the library $env_var
 * names, else file beside the running executable, loaded (RTLD_NOW |
 * RTLD_LOCAL) and never unloaded. The handle, or NULL with why in err.
 * Any thread (callers load once). */
void *ad_plugin_open(const char *file, const char *env_var, char *err, size_t errsz);

/* ---- JSON text ------------------------------------------------------------ */
/* Appends s[0..n) as a quoted JSON string exactly as jansson's JSON_COMPACT
 * writes it: '"' and '\\' escaped, \b \f \n \r \t short, other bytes below
 * 0x20 as \u00XX (upper-case hex), everything else (UTF-8 included) as is.
 * Returns 0 or AD_ETOOBIG from the buffer. */
AD_MUST_USE int ad_json_string(ad_buf_t *b, const char *s, size_t n);
/* Appends a real that reads back as exactly v: the shortest decimal with at
 * most 15 digits after the point when one does ("6.73"), else the 17
 * significant digits of jansson's "%.17g"; always with a '.' or an
 * exponent, the exponent without '+' or leading zeros. 0, AD_ETOOBIG, or
 * AD_EINVAL for NaN and infinities (jansson makes no real of those: a
 * row's key is left out). */
AD_MUST_USE int ad_json_real(ad_buf_t *b, double v);
/* Appends v as compact JSON text: jansson's JSON_COMPACT | JSON_ENCODE_ANY
 * bytes, but reals as ad_json_real writes them and runs of plain string
 * bytes copied at once. 0, AD_ETOOBIG from the buffer, or AD_ETOOBIG for
 * nesting deeper than 256 (the caller may hand that to jansson). */
struct json_t;
AD_MUST_USE int ad_json_write(ad_buf_t *b, const struct json_t *v);
/* A 64-bit integer in decimal, as %lld writes it, without printf. */
AD_MUST_USE int ad_json_integer(ad_buf_t *b, int64_t v);
/* Whether JSON text s[0..n) is exactly what jansson would write back after
 * reading it (JSON_DECODE_ANY, then JSON_COMPACT): no space outside strings,
 * integers of at most 18 digits, strings of ASCII with only the escapes
 * jansson writes. Conservative: false means "parse and dump it" (reals,
 * backslash-u escapes, non-ASCII, invalid or deeper than 32), never a wrong true,
 * except for an object with a key twice (jansson keeps the last). Any
 * thread. */
bool ad_json_canonical(const char *s, size_t n);
/* Parses JSON text in which the bare tokens NaN, Infinity and -Infinity
 * (what Python's json.dumps writes for them) stand as values: each is read
 * as the string "NaN", "Infinity" or "-Infinity". NULL when the text is
 * not JSON even so, or when it holds none of them. A new reference. */
struct json_t *ad_json_load_nonfinite(const char *text, size_t len);
/* A number's value, or NaN / +-Inf for the strings above: false for
 * anything else. */
bool ad_json_number_ext(const struct json_t *v, double *out);
/* The string at key of object o, or NULL (o NULL or not an object, key
 * absent or not a string). Borrowed from o. */
const char *ad_jstr(const struct json_t *o, const char *key);
/* j as one line of a line-delimited JSON protocol: json_dumps(j, flags)
 * with "\n" added, malloc'd (the caller frees), *len its length without
 * the NUL; NULL when j cannot be dumped. Any thread. */
char *ad_json_line(const struct json_t *j, size_t flags, size_t *len);
/* A JSON string of bytes that may not be UTF-8 (repaired). New
 * reference. Any thread. */
struct json_t *ad_json_text(const char *s, size_t n);

/* ---- fields of a JSON object, checked (field.c) ----------------------------
 * What a subsystem checks in an object it is given (a request's body, a
 * spec), before anything is stored: each returns 0 (the value is in *out,
 * or the key is absent and *out is left alone), or AD_EINVAL with e naming
 * the field and why, which the REST layer answers as a 422 on that field.
 * The reasons are the same words every route uses ("is required", "must be
 * a string", "is too long", ...). Any thread. */
typedef struct {
    char field[96];
    char why[224];
} ad_field_err_t;
/* Sets e to field and the printf-style reason; returns AD_EINVAL. */
int ad_field_fail(ad_field_err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether s is one of the comma-separated choices. */
bool ad_field_choice(const char *choices, const char *s);
int ad_field_str(const struct json_t *o, const char *key, bool required, size_t maxlen,
                 const char **out, ad_field_err_t *e);
/* choices: comma-separated allowed values (a string of at most 64 bytes). */
int ad_field_enum(const struct json_t *o, const char *key, bool required, const char *choices,
                  const char **out, ad_field_err_t *e);
/* present (may be NULL): whether the key was there. */
int ad_field_int(const struct json_t *o, const char *key, bool required, int64_t min, int64_t max,
                 int64_t *out, bool *present, ad_field_err_t *e);
int ad_field_bool(const struct json_t *o, const char *key, bool *out, bool *present,
                  ad_field_err_t *e);
/* s, a query parameter named key: NULL or "" leaves *has and *out alone;
 * else a whole number from min to max into *out, *has set. */
int ad_field_query_int(const char *s, const char *key, int64_t min, int64_t max, bool *has,
                       int64_t *out, ad_field_err_t *e);
/* s, a query parameter named key: NULL or "" is def; else true, 1, false
 * or 0. */
int ad_field_query_bool(const char *s, const char *key, bool def, bool *out, ad_field_err_t *e);
/* An array of at most max strings of 1 to maxlen bytes each; *out borrowed. */
int ad_field_str_array(const struct json_t *o, const char *key, bool required, size_t max,
                       size_t maxlen, struct json_t **out, ad_field_err_t *e);

/* ---- URLs (url.c) ---------------------------------------------------------------
 * s percent-encoded as a path segment or query value (all but A-Z a-z 0-9
 * - _ . ~) into out, NUL-terminated, cut at whole characters past outsz. */
void ad_url_encode(const char *s, char *out, size_t outsz);

/* ---- digests and base64 ---------------------------------------------------- */
/* FNV-1a of a NUL-terminated string: a bucket for an in-memory table (mask
 * or reduce it), never a digest. Any thread. */
uint32_t ad_hash_str(const char *s);
/* SHA-1 and SHA-256 of data[0..len). Any thread. */
void ad_sha1(const void *data, size_t len, uint8_t out[20]);
void ad_sha256(const void *data, size_t len, uint8_t out[32]);
/* HMAC-SHA256 (RFC 2104) of msg under key, on the SHA-256 above (libcrypto
 * stays unloaded: JWT HS256, the runs' OTLP credentials). Any thread. */
void ad_hmac_sha256(const uint8_t *key, size_t klen, const char *msg, size_t mlen, uint8_t out[32]);
/* Standard base64 with padding, NUL-terminated. Returns the length written,
 * or 0 when out (outsz bytes, room for the NUL included) is too small. */
size_t ad_base64_encode(const uint8_t *in, size_t len, char *out, size_t outsz);
/* Strict decode (length a multiple of 4, padding only at the end). Returns
 * the number of bytes written, AD_EINVAL or AD_ETOOBIG. */
int ad_base64_decode(const char *in, size_t len, uint8_t *out, size_t outsz);
/* Hex SHA-256 of data[0..len) (64 characters and a NUL). */
void ad_sha256_hex(const void *data, size_t len, char out[65]);
/* ---- zlib, loaded at first use (zlib.c) ---------------------------------- */
struct z_stream_s;
typedef struct {
    int (*deflate_init)(struct z_stream_s *, int, int, int, int, int, const char *, int);
    int (*deflate)(struct z_stream_s *, int);
    int (*deflate_reset)(struct z_stream_s *);
    unsigned long (*deflate_bound)(struct z_stream_s *, unsigned long);
    int (*inflate_init)(struct z_stream_s *, int, const char *, int);
    int (*inflate)(struct z_stream_s *, int);
    int (*inflate_reset)(struct z_stream_s *);
    int (*inflate_end)(struct z_stream_s *);
} ad_zlib_t;
/* libz.so.1's functions, loaded on the first call; NULL when it is not
 * there. Loop thread (the first call). */
const ad_zlib_t *ad_zlib(void);
/* A gzip stream in[0..len) inflated into exactly outlen bytes: 0, AD_EINVAL
 * (not gzip, or not that size), AD_EIO (no zlib) or AD_ENOMEM. */
int ad_gunzip(const void *in, size_t len, void *out, size_t outlen);
/* The same inflated into a new text of textlen bytes and a NUL (the caller
 * frees it), or NULL. */
char *ad_gunzip_text(const void *in, size_t len, size_t textlen);

/* A run's W3C trace context, derived from its id so every part of agentd
 * (and a child's TRACEPARENT) names the same trace without keeping it:
 * the trace id (32 hex) and the run's span id (16 hex), or with child a
 * span below it ("tool/<id>") in span. Any thread. */
void ad_trace_ids(const char *run_id, const char *child, char trace[33], char span[17]);
/* CRC32C (Castagnoli) of data[0..len), continuing from crc (0 to start):
 * ad_crc32c(ad_crc32c(0, a, n), b, m) is the CRC of a then b. SSE4.2's
 * instruction where the CPU has it. Any thread. */
uint32_t ad_crc32c(uint32_t crc, const void *data, size_t len);
/* a[0..n) == b[0..n), in time that does not depend on where they differ. */
bool ad_consttime_eq(const void *a, const void *b, size_t n);

/* ---- PDF (pdf.c) ---------------------------------------------------------------
 * A one-page PDF 1.4 document into out: title, then a table of ncols
 * columns (head) and nrows rows (cells, row-major; NULL cells are empty),
 * in Courier; rows past what fits on the page are counted, not drawn.
 * 0, AD_EINVAL for no or over 32 columns, AD_ETOOBIG past out's bound. */
int ad_pdf_table(ad_buf_t *out, const char *title, const char *const *head, size_t ncols,
                 const char *const *cells, size_t nrows);

/* ---- tables of a report (table.c) ---------------------------------------------
 * Rows of text cells for a download (CSV, or ad_pdf_table): cells are
 * copied into arena (borrowed, e.g. a request's), the row array is the
 * table's (ad_table_free). Any thread. */
typedef struct {
    const char **cells; /* row-major, ncols a row */
    size_t ncols, nrows, cap;
    ad_arena_t *arena;
} ad_table_t;
/* Appends a row of ncols values (NULL is empty). */
void ad_table_add(ad_table_t *t, const char *const *vals);
/* The scalar members of object o as metric/value rows, in key order
 * (integers as they are, reals with 6 significant digits, booleans as
 * words, null empty). */
void ad_table_metrics(ad_table_t *t, const struct json_t *o);
/* Appends the table as CSV (RFC 4180, CRLF) with a header row: every field
 * quoted, and a leading = + - @ (not a negative number) given a quote mark
 * so a spreadsheet never runs a cell as a formula. 0 or AD_ETOOBIG. */
AD_MUST_USE int ad_table_csv(ad_buf_t *b, const char *const *head, const ad_table_t *t);
void ad_table_free(ad_table_t *t);

/* ---- secrets ------------------------------------------------------------------- */
/* A random secret: 32 bytes from the kernel (getrandom), as base64url
 * without padding (43 characters and a NUL). 0 or AD_EIO. Any thread. */
#define AD_SECRET_MAX 44
int ad_secret_new(char out[AD_SECRET_MAX]);

/* ---- whole writes (io.c) ---------------------------------------------------- */
/* Writes p[0..n) to fd, going on after short writes and EINTR. Returns how
 * many bytes went out: n, or fewer when a write failed (errno says why;
 * EIO for a write that took nothing). Any thread. */
size_t ad_write_all(int fd, const void *p, size_t n);
/* name in the folder dfd made or replaced with p[0..n), whole or not at
 * all: written into a dot file beside it (".agentd-w-PID-N"), then renamed
 * over it, so a reader never sees it half written, and a failed write (a
 * full disk) or a stop part-way leaves the old content. A replaced file
 * keeps its mode, and its owner where the process may give it (root); a
 * new one gets mode. A link at name is neither replaced nor followed
 * (ELOOP), nor is a folder (EISDIR) or anything else but a file (EINVAL).
 * *st (or NULL): the new file's. 0 or an errno. Any thread. */
struct stat;
int ad_replace_at(int dfd, const char *name, const void *p, size_t n, unsigned mode,
                  struct stat *st);

/* ---- opening files below a folder (beneath.c) ------------------------------- */
/* Opens rel (relative, no "..") below the folder rootfd without leaving
 * it: a symlink that leads out of the folder, an absolute one, or a /proc
 * magic link is refused (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
 * where the kernel has no openat2, a walk that follows no link at all).
 * flags are open(2)'s (O_CLOEXEC is added). Returns the fd, or -1 with
 * errno (EXDEV or ELOOP for a way out). */
int ad_openat_beneath(int rootfd, const char *rel, int flags);
/* The same below the folder root (a path). */
int ad_open_beneath(const char *root, const char *rel, int flags);

/* ---- opens that never wait on a FIFO (noblock.c) ------------------------------
 * Between these two calls (nested, per thread), every open(2) of this thread,
 * a library's too, never waits and opens no FIFO: one an agent put where
 * libgit2 reads cannot park a pool thread (src/git/async.c). end() is true
 * when an open was refused since the outermost begin(), with the first such
 * path in path (cut to pathsz). */
void ad_untrusted_opens_begin(void);
bool ad_untrusted_opens_end(char *path, size_t pathsz);

/* ---- an agent's text files below its worktree (textfile.c) ------------------ */
/* ACP's fs/read_text_file and fs/write_text_file, served here for a local
 * run and on its node for a node's. Paths are relative (checked by name
 * before: src/agent) and opened beneath root; refuse (or NULL) may turn
 * down an opened file or folder by its fd. Both return 0 or an errno:
 * ENOENT, EXDEV (a way out of root), EFBIG (not a regular file of at most
 * AD_TEXTFILE_MAX), EILSEQ (not UTF-8), EIO, ENOSPC, or open(2)'s. */
#define AD_TEXTFILE_MAX (4u << 20)
/* ACP's word for a missing file, which agents take as "a new file". */
#define AD_TEXTFILE_NOT_FOUND "Resource not found"
typedef bool (*ad_textfile_refuse_fn)(int fd, void *ud);
/* Lines [line, line + limit) (1-based; limit <= 0: to the end) as
 * *content, a new reference. */
int ad_textfile_read(const char *root, const char *rel, int64_t line, int64_t limit,
                     ad_textfile_refuse_fn refuse, void *ud, struct json_t **content);
/* The whole file rel made or replaced with data; its last name is never
 * followed. */
int ad_textfile_write(const char *root, const char *rel, const char *data, size_t n,
                      ad_textfile_refuse_fn refuse, void *ud);
/* The answer for an errno of the two (static; NULL for 0). */
const char *ad_textfile_why(int err);

/* ---- data dir -------------------------------------------------------------- */
/* The unix socket address of path in *a (unixaddr.c). A path too long for
 * sun_path is reached as /proc/self/fd/N/NAME through an O_PATH descriptor
 * N of its directory: *dirfd is then N, for the caller to close once the
 * address is no longer used (after connect; a listener keeps it while it
 * listens), else -1. 0, AD_ETOOBIG (the name alone too long) or AD_EIO
 * (the directory cannot be opened). */
struct sockaddr_un;
int ad_unix_addr(const char *path, struct sockaddr_un *a, int *dirfd);
/* Creates dir and its parents; the last component gets mode 0700.
 * Returns 0, or a negative code with a message in err. */
int ad_dir_create(const char *dir, char *err, size_t errsz);

typedef struct {
    int fd;
    char path[4096];
} ad_pidlock_t;
/* Takes an exclusive lock on <dir>/agentd.pid and writes our pid there.
 * AD_EBUSY when another process holds it (err names its pid). */
int ad_pidlock_acquire(ad_pidlock_t *l, const char *dir, char *err, size_t errsz);
/* Only the owner may read the data dir: it becomes 0700, the folders in
 * it 0700 and the files 0600 (never wider than they were), each change
 * logged as a warning. Returns how many it changed. */
int ad_dir_secure(const char *dir);
void ad_pidlock_release(ad_pidlock_t *l);

#endif
