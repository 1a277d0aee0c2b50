/* fuzz_ops.c — libFuzzer/AFL++ target "ops" (see harness.h). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(data, size, FUZZ_OPS);
}
