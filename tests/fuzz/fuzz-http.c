/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: arbitrary bytes as HTTP/1.1 input on one connection,
 * through parsing, limits, routing, handlers and responses. */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    AD_UNUSED(argc);
    AD_UNUSED(argv);
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(NULL, data, size);
    return 0;
}
