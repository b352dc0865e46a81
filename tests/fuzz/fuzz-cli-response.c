/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the CLI's HTTP response parser: the bytes a daemon
 * (or whatever listens on the socket) sends back, fed in two reads split
 * where the input says, then the EOF. */
#include <stdint.h>
#include <string.h>

#include "cli/cli_int.h"
#include "fuzz_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool take_body(const char *p, size_t n, void *ud)
{
    size_t *total = ud;
    *total += n;
    (void)p;
    return *total < (1u << 20); /* the CLI's own cap decides when to abort */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_split_t in;
    if (!fz_split(data, size, &in)) {
        return 0;
    }
    size_t total = 0;
    char err[256];
    ad_cli_response_t r;
    ad_cli_response_init(&r, take_body, &total);
    int rc = ad_cli_response_feed(&r, in.s, in.split, err, sizeof(err));
    if (rc == 0 && !r.done) {
        rc = ad_cli_response_feed(&r, in.s + in.split, in.n - in.split, err, sizeof(err));
    }
    if (rc == 0 && !r.done) {
        (void)ad_cli_response_feed(&r, in.s, 0, err, sizeof(err));
    }
    return 0;
}
