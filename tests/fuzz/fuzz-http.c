/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: arbitrary bytes as HTTP/1.1 input on one connection,
 * through parsing, limits, routing, handlers and responses. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FZ_DEFINE_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(NULL, data, size);
    return 0;
}
