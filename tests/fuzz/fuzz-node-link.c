/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: arbitrary bytes as a worker node's binary link message
 * (src/node/link.c), the first thing the control plane reads of a node's
 * frame and a node of the plane's (with its lease epoch): parsed, and when taken, its frame's type
 * checked both ways and its run id and payload read to the end (what the relay then does with
 * them). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hold/hold.h"
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char run[AD_LINK_RUN_MAX + 1];
    uint32_t epoch, lease;
    const unsigned char *f;
    size_t flen;
    if (ad_link_parse_lease(data, size, run, &epoch, &lease, &f, &flen) == 0) {
        size_t plen = flen - AD_HOLD_HDR;
        volatile unsigned sum = (unsigned)strlen(run) + epoch + lease;
        (void)ad_link_frame_up_ok(f[4], plen);
        (void)ad_link_frame_down_ok(f[4], plen);
        for (size_t i = 0; i < plen; i++) {
            sum += f[AD_HOLD_HDR + i];
        }
        (void)sum;
    }
    return 0;
}
