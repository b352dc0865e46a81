/* SPDX-License-Identifier: MIT */
/*
 * Private to src/cli: the unix-socket HTTP client the commands use.
 */
#ifndef AD_CLI_INT_H
#define AD_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

#include <http_parser.h>

/* Receives body bytes as they arrive (borrowed for the call). Returns false
 * to abort the request. */
typedef bool (*ad_cli_body_cb)(const char *p, size_t n, void *ud);

/* One request on a new connection to the unix socket sock. token (may be
 * NULL or "") becomes a bearer Authorization header; body (may be NULL) is
 * sent as JSON. Waits at most timeout_ms for each read (-1: forever, for
 * event streams). *status gets the response status (0 if none arrived).
 * Returns 0; AD_ENOENT when nothing listens on sock; AD_ECLOSED when the
 * daemon closed the connection before the response ended; AD_ETIMEDOUT, AD_ETOOBIG (cb aborted),
 * AD_EIO, AD_EINVAL, each with a one-line reason in err. Blocking: for the client process. */
/* A response being parsed (http-parser): the status, and the body handed
 * to on_body as it arrives (on_body returning false aborts). */
typedef struct {
    http_parser parser;
    ad_cli_body_cb on_body;
    void *ud;
    long status;
    bool done;
    bool aborted;
} ad_cli_response_t;
void ad_cli_response_init(ad_cli_response_t *r, ad_cli_body_cb cb, void *ud);
/* Feeds n bytes read from the daemon (n == 0: its EOF). 0, or AD_ETOOBIG
 * (aborted by on_body), AD_EIO (not HTTP), AD_ECLOSED (cut mid-body). */
int ad_cli_response_feed(ad_cli_response_t *r, const char *buf, size_t n, char *err, size_t errsz);
int ad_cli_http(const char *sock, const char *token, const char *method, const char *path,
                const char *accept, const char *body, size_t blen, int timeout_ms,
                ad_cli_body_cb cb, void *ud, long *status, char *err, size_t errsz);

#endif
