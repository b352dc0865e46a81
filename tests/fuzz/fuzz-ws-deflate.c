/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: an upgrade to /ws/echo that negotiates
 * permessage-deflate, then arbitrary bytes as WebSocket frames: compressed
 * messages (RSV1) go through the bounded inflater (src/ws/deflate.c) and
 * the echo's answers through the compressed send path. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FZ_DEFINE_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ad_ws_deflate_allow(true); /* off by default (--ws-deflate) */
    fz_run("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
           data, size);
    return 0;
}
