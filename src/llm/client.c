/* SPDX-License-Identifier: MIT */
/*
 * The Messages API client: one curl multi handle driven by the libuv loop
 * (curl's socket callback becomes uv_poll watchers, its timer a uv_timer),
 * one easy handle per try of a request. Owns the requests, their timers
 * and the poll watchers; decoding is anthropic.c's. A request ends exactly
 * once (end()), which calls on_end and frees it.
 */
#include "llm/llm_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_BODY_MAX (64 * 1024)
#define RETRY_AFTER_MAX_MS 60000
#define URL_MAX 1024

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    ad_llm_t *c;
    struct sock *next, *prev;
} sock_t;

struct ad_llm {
    uv_loop_t *loop;
    const ad_curl_t *f; /* NULL until the first request */
    CURLM *multi;
    uv_timer_t *timer; /* curl's timeout; heap, freed in its close callback */
    ad_llm_req_t *reqs;
    sock_t *socks;
    size_t active;
};

struct ad_llm_req {
    ad_llm_t *c;
    ad_llm_req_t *next, *prev;
    CURL *easy; /* the current try, NULL between tries */
    struct curl_slist *headers;
    char *body;
    size_t body_len;
    char url[URL_MAX];
    ad_llm_cbs_t cbs;
    void *ud;
    ad_llm_stream_t stream;
    ad_buf_t errbody;
    uv_timer_t *timer; /* stall watch, or the wait before a retry */
    int status;
    int attempts;
    int max_retries;
    int stall_ms;
    int connect_ms;
    int64_t retry_after_ms;
    uint64_t last_byte_ms;
    bool delivered; /* a delta reached the caller: never try again */
    bool stalled;
    bool in_cb; /* inside a curl callback: removal must wait */
    bool cancelled;
    ad_llm_provider_t provider;
    char errbuf[CURL_ERROR_SIZE];
};

static uint64_t now_ms(void)
{
    return ad_mono_ns() / 1000000;
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

static void sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void check_done(ad_llm_t *c);

/* ---- curl's sockets and timer on the loop ---------------------------------------- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *s = p->data;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
        flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
    }
    int running = 0;
    ad_llm_t *c = s->c;
    c->f->multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

static void sock_drop(ad_llm_t *c, sock_t *s)
{
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        c->socks = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    AD_UNUSED(e);
    ad_llm_t *c = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            c->f->multi_assign(c->multi, fd, NULL);
            sock_drop(c, s);
        }
        return 0;
    }
    if (s == NULL) {
        s = ad_xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->c = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks != NULL) {
            c->socks->prev = s;
        }
        c->socks = s;
        c->f->multi_assign(c->multi, fd, s);
    }
    int ev = 0;
    ev |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
    ev |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    ad_llm_t *c = t->data;
    int running = 0;
    c->f->multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    AD_UNUSED(m);
    ad_llm_t *c = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(c->timer);
    } else {
        uv_timer_start(c->timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

static int multi_open(ad_llm_t *c, char *err, size_t errsz)
{
    if (c->multi != NULL) {
        return 0;
    }
    c->f = ad_curl_get(err, errsz);
    if (c->f == NULL) {
        return AD_ENOENT;
    }
    c->multi = c->f->multi_init();
    if (c->multi == NULL) {
        snprintf(err, errsz, "curl_multi_init failed");
        return AD_EINTERNAL;
    }
    c->timer = ad_xcalloc(1, sizeof(*c->timer));
    uv_timer_init(c->loop, c->timer);
    c->timer->data = c;
    c->f->multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    c->f->multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    c->f->multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    c->f->multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return 0;
}

ad_llm_t *ad_llm_new(uv_loop_t *loop)
{
    ad_llm_t *c = ad_xcalloc(1, sizeof(*c));
    c->loop = loop;
    return c;
}

size_t ad_llm_active(const ad_llm_t *c)
{
    return c != NULL ? c->active : 0;
}

/* ---- one request ---------------------------------------------------------------- */

static void detach_easy(ad_llm_req_t *rq)
{
    if (rq->easy != NULL) {
        rq->c->f->multi_remove_handle(rq->c->multi, rq->easy);
        rq->c->f->easy_cleanup(rq->easy);
        rq->easy = NULL;
    }
}

/* Calls on_end once and frees rq. */
static void end(ad_llm_req_t *rq, int rc, const char *type, const char *msg)
{
    ad_llm_t *c = rq->c;
    detach_easy(rq);
    ad_llm_result_t res = {
        .rc = rc, .http_status = rq->status, .attempts = rq->attempts, .stream = &rq->stream};
    snprintf(res.error_type, sizeof(res.error_type), "%s", type != NULL ? type : "");
    snprintf(res.error_message, sizeof(res.error_message), "%s", msg != NULL ? msg : "");
    if (rq->prev != NULL) {
        rq->prev->next = rq->next;
    } else {
        c->reqs = rq->next;
    }
    if (rq->next != NULL) {
        rq->next->prev = rq->prev;
    }
    c->active--;
    uv_timer_stop(rq->timer);
    uv_close((uv_handle_t *)rq->timer, close_free);
    if (rq->cbs.on_end != NULL) {
        rq->cbs.on_end(rq->ud, &res);
    }
    ad_llm_stream_cleanup(&rq->stream);
    ad_buf_cleanup(&rq->errbody);
    rq->c->f->slist_free_all(rq->headers);
    free(rq->body);
    free(rq);
}

static void on_delta(void *ud, ad_llm_delta_t kind, const char *text, size_t len)
{
    ad_llm_req_t *rq = ud;
    rq->delivered = true;
    if (rq->cbs.on_delta != NULL && !rq->cancelled) {
        rq->cbs.on_delta(rq->ud, kind, text, len);
    }
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    ad_llm_req_t *rq = ud;
    size_t len = size * n;
    rq->last_byte_ms = now_ms();
    if (rq->cancelled) {
        return 0;
    }
    if (rq->status == 0) {
        long code = 0;
        rq->c->f->easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &code);
        rq->status = (int)code;
    }
    if (rq->status != 200) {
        size_t room = rq->errbody.max - rq->errbody.len;
        /* Only the error body's start is kept: what is taken fits its cap. */
        AD_DISCARD(ad_buf_append(&rq->errbody, p, len < room ? len : room));
        return len;
    }
    rq->in_cb = true;
    int rc = ad_llm_stream_feed(&rq->stream, p, len);
    rq->in_cb = false;
    return rc == 0 && !rq->cancelled ? len : 0;
}

/* Header lines: the status line starts a new answer; retry-after and the
 * rate-limit headers are kept or handed on. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ad_llm_req_t *rq = ud;
    size_t len = size * n;
    rq->last_byte_ms = now_ms();
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        rq->retry_after_ms = -1;
        rq->status = 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL || (size_t)(colon - p) >= 64 || len > 1024) {
        return len;
    }
    char name[64], value[1024];
    size_t klen = (size_t)(colon - p);
    for (size_t i = 0; i < klen; i++) {
        name[i] = (char)tolower((unsigned char)p[i]);
    }
    name[klen] = '\0';
    const char *v = colon + 1;
    const char *e = p + len;
    while (v < e && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) {
        e--;
    }
    snprintf(value, sizeof(value), "%.*s", (int)(e - v), v);
    if (strcmp(name, "retry-after-ms") == 0) {
        char *end;
        long ms = strtol(value, &end, 10);
        rq->retry_after_ms = (end != value && ms >= 0) ? ms : rq->retry_after_ms;
    } else if (strcmp(name, "retry-after") == 0 && rq->retry_after_ms < 0) {
        rq->retry_after_ms = ad_llm_retry_after_ms(value, ad_wall_ms());
    } else if ((strncmp(name, "anthropic-ratelimit-", 20) == 0 ||
                strncmp(name, "x-ratelimit-", 12) == 0) &&
               rq->cbs.on_header != NULL) {
        rq->cbs.on_header(rq->ud, name, value);
    }
    return len;
}

static void on_stall_check(uv_timer_t *t);

static int try_start(ad_llm_req_t *rq)
{
    const ad_curl_t *f = rq->c->f;
    CURL *e = f->easy_init();
    if (e == NULL) {
        return AD_ENOMEM;
    }
    rq->easy = e;
    rq->attempts++;
    rq->status = 0;
    rq->retry_after_ms = -1;
    rq->errbuf[0] = '\0';
    ad_buf_reset(&rq->errbody);
    ad_llm_stream_cleanup(&rq->stream);
    if (rq->provider == AD_LLM_OPENAI) {
        ad_llm_stream_init_openai(&rq->stream, on_delta, rq);
    } else {
        ad_llm_stream_init(&rq->stream, on_delta, rq);
    }
    f->easy_setopt(e, CURLOPT_URL, rq->url);
    f->easy_setopt(e, CURLOPT_PRIVATE, rq);
    f->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    f->easy_setopt(e, CURLOPT_HTTPHEADER, rq->headers);
    f->easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
    f->easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    f->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    f->easy_setopt(e, CURLOPT_WRITEDATA, rq);
    f->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    f->easy_setopt(e, CURLOPT_HEADERDATA, rq);
    f->easy_setopt(e, CURLOPT_ERRORBUFFER, rq->errbuf);
    f->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->connect_ms);
    f->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* No redirects and no scheme but HTTP(S): a base URL cannot be turned
     * into a file read or a hop to another host. */
    f->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    f->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (f->multi_add_handle(rq->c->multi, e) != CURLM_OK) {
        f->easy_cleanup(e);
        rq->easy = NULL;
        return AD_EINTERNAL;
    }
    rq->last_byte_ms = now_ms();
    uint64_t every = rq->stall_ms < 1000 ? (uint64_t)rq->stall_ms : 1000;
    uv_timer_start(rq->timer, on_stall_check, every, every);
    return 0;
}

static void on_retry_due(uv_timer_t *t)
{
    ad_llm_req_t *rq = t->data;
    int rc = try_start(rq);
    if (rc != 0) {
        end(rq, rc, "client_error", "cannot start the next try");
    }
}

static void on_stall_check(uv_timer_t *t)
{
    ad_llm_req_t *rq = t->data;
    if (rq->easy == NULL || now_ms() - rq->last_byte_ms < (uint64_t)rq->stall_ms) {
        return;
    }
    rq->stalled = true;
    char msg[128];
    snprintf(msg, sizeof(msg), "no data from the provider for %d ms", rq->stall_ms);
    end(rq, AD_ETIMEDOUT, "stalled", msg);
}

/* After a failed try: waits and tries again, or ends. */
static void retry_or_end(ad_llm_req_t *rq, int rc, const char *type, const char *msg)
{
    bool again = !rq->delivered && rq->attempts <= rq->max_retries;
    if (!again) {
        end(rq, rc, type, msg);
        return;
    }
    detach_easy(rq);
    int64_t wait = rq->retry_after_ms >= 0
                       ? rq->retry_after_ms
                       : ad_llm_backoff_ms(rq->attempts, rand() / (RAND_MAX + 1.0));
    if (wait > RETRY_AFTER_MAX_MS) {
        end(rq, rc, type, msg); /* the server asks for longer than a chat waits */
        return;
    }
    if (rq->cbs.on_retry != NULL) {
        rq->cbs.on_retry(rq->ud, rq->status, wait, rq->attempts + 1);
    }
    uv_timer_stop(rq->timer);
    uv_timer_start(rq->timer, on_retry_due, (uint64_t)wait, 0);
}

/* A try has finished (transfer done or failed): what it means. */
static void try_done(ad_llm_req_t *rq, CURLcode cc)
{
    const ad_llm_stream_t *st = &rq->stream;
    if (rq->cancelled) {
        end(rq, AD_ECLOSED, "cancelled", "stopped");
        return;
    }
    if (rq->status == 200 && st->failed) {
        int rc = strcmp(st->error_type, "overloaded_error") == 0 ? AD_EAGAIN : AD_EIO;
        retry_or_end(rq, rc, st->error_type, st->error_message);
    } else if (rq->status == 200 && cc == CURLE_OK && st->stopped) {
        end(rq, 0, NULL, NULL);
    } else if (rq->status == 200) {
        retry_or_end(rq, AD_EIO, "incomplete",
                     cc != CURLE_OK ? rq->errbuf : "the stream ended early");
    } else if (rq->status > 0) {
        char type[64] = "http_error", msg[512];
        snprintf(msg, sizeof(msg), "the provider answered HTTP %d", rq->status);
        ad_llm_error_body(rq->errbody.data != NULL ? rq->errbody.data : "", rq->errbody.len, type,
                          sizeof(type), msg, sizeof(msg));
        if (ad_llm_status_retryable(rq->status)) {
            retry_or_end(rq, AD_EAGAIN, type, msg);
        } else {
            end(rq, rq->status == 401 || rq->status == 403 ? AD_EPERM : AD_EINVAL, type, msg);
        }
    } else {
        const char *why = rq->errbuf[0] != '\0' ? rq->errbuf : rq->c->f->easy_strerror(cc);
        retry_or_end(rq, AD_EIO, "connection_error", why);
    }
}

static void check_done(ad_llm_t *c)
{
    CURLMsg *m;
    int left = 0;
    while ((m = c->f->multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        ad_llm_req_t *rq = NULL;
        c->f->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
        if (rq != NULL) {
            try_done(rq, m->data.result);
        }
    }
}

static int make_url(ad_llm_req_t *rq, const char *base, char *err, size_t errsz)
{
    size_t n = base != NULL ? strlen(base) : 0;
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    if (n == 0 || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)) {
        snprintf(err, errsz, "the base URL must start with http:// or https://");
        return AD_EINVAL;
    }
    const char *path = rq->provider == AD_LLM_OPENAI ? "/chat/completions" : "/v1/messages";
    int w = snprintf(rq->url, sizeof(rq->url), "%.*s%s", (int)n, base, path);
    if (w < 0 || (size_t)w >= sizeof(rq->url)) {
        snprintf(err, errsz, "the base URL is too long");
        return AD_EINVAL;
    }
    return 0;
}

static int set_headers(ad_llm_req_t *rq, const char *key)
{
    const ad_curl_t *f = rq->c->f;
    char auth[600];
    int w = snprintf(auth, sizeof(auth),
                     rq->provider == AD_LLM_OPENAI ? "authorization: Bearer %s" : "x-api-key: %s",
                     key != NULL ? key : "");
    if (w < 0 || (size_t)w >= sizeof(auth)) {
        return AD_EINVAL;
    }
    const char *lines[] = {"content-type: application/json", "accept: text/event-stream",
                           "anthropic-version: 2023-06-01", auth, "Expect:"};
    for (size_t i = 0; i < AD_ARRAY_LEN(lines); i++) {
        struct curl_slist *l = f->slist_append(rq->headers, lines[i]);
        if (l == NULL) {
            return AD_ENOMEM;
        }
        rq->headers = l;
    }
    /* The key now lives only in the header list: wipe the stack copy. */
    memset(auth, 0, sizeof(auth));
    return 0;
}

int ad_llm_start(ad_llm_t *c, const ad_llm_spec_t *spec, const ad_llm_cbs_t *cbs, void *ud,
                 ad_llm_req_t **out, char *err, size_t errsz)
{
    AD_ASSERT_LOOP();
    int rc = multi_open(c, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_llm_req_t *rq = ad_xcalloc(1, sizeof(*rq));
    rq->c = c;
    rq->provider = spec->provider;
    rq->cbs = *cbs;
    rq->ud = ud;
    rq->max_retries = spec->max_retries >= 0 ? spec->max_retries : 0;
    rq->stall_ms = spec->stall_ms > 0 ? spec->stall_ms : 60000;
    rq->connect_ms = spec->connect_ms > 0 ? spec->connect_ms : 10000;
    ad_buf_init(&rq->errbody, ERR_BODY_MAX);
    ad_llm_stream_init(&rq->stream, on_delta, rq);
    rc = make_url(rq, spec->base_url, err, errsz);
    if (rc == 0 && set_headers(rq, spec->api_key) != 0) {
        snprintf(err, errsz, "the API key is too long");
        rc = AD_EINVAL;
    }
    if (rc == 0) {
        rq->body = json_dumps(spec->body, JSON_COMPACT);
        rq->body_len = rq->body != NULL ? strlen(rq->body) : 0;
        rq->timer = ad_xcalloc(1, sizeof(*rq->timer));
        uv_timer_init(c->loop, rq->timer);
        rq->timer->data = rq;
        rq->next = c->reqs;
        if (c->reqs != NULL) {
            c->reqs->prev = rq;
        }
        c->reqs = rq;
        c->active++;
        rc = try_start(rq);
        if (rc != 0) {
            rq->cbs.on_end = NULL; /* a start that fails calls nothing */
            end(rq, rc, NULL, NULL);
            snprintf(err, errsz, "cannot start the request");
            return rc;
        }
        *out = rq;
        return 0;
    }
    ad_llm_stream_cleanup(&rq->stream);
    ad_buf_cleanup(&rq->errbody);
    c->f->slist_free_all(rq->headers);
    free(rq);
    return rc;
}

void ad_llm_cancel(ad_llm_req_t *rq)
{
    rq->cancelled = true;
    if (rq->in_cb) {
        return; /* the write callback refuses the rest; try_done ends it */
    }
    end(rq, AD_ECLOSED, "cancelled", "stopped");
}

void ad_llm_free(ad_llm_t *c)
{
    if (c == NULL) {
        return;
    }
    while (c->reqs != NULL) {
        c->reqs->cancelled = true;
        end(c->reqs, AD_ECLOSED, "cancelled", "agentd is shutting down");
    }
    if (c->multi != NULL) {
        c->f->multi_cleanup(c->multi);
        while (c->socks != NULL) {
            sock_drop(c, c->socks);
        }
        uv_timer_stop(c->timer);
        uv_close((uv_handle_t *)c->timer, close_free);
    }
    free(c);
}
