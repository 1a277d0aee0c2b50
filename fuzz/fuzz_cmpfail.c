/* fuzz_cmpfail.c — libFuzzer/AFL++ target "cmpfail" (see harness.h). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run(data, size, FUZZ_CMPFAIL);
}
