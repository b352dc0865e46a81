/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: a valid upgrade to /ws/echo, then arbitrary bytes as
 * WebSocket frames (wslay's parser, our close/UTF-8/size handling, the
 * echo's shared-message send path). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FZ_DEFINE_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
           data, size);
    return 0;
}
