/* SPDX-License-Identifier: MIT */
/*
 * Private to src/cli: the unix-socket HTTP client the commands use.
 */
#ifndef AD_CLI_INT_H
#define AD_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

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
int ad_cli_http(const char *sock, const char *token, const char *method, const char *path,
                const char *accept, const char *body, size_t blen, int timeout_ms,
                ad_cli_body_cb cb, void *ud, long *status, char *err, size_t errsz);

#endif
