/* harness.c — see harness.h. */
#include "harness.h"

#include "diff.h"
#include "producer.h"

/* Bounded work per input: long inputs do not make slow executions. */
#define MAX_OPS 1500

/* run_one runs the input on a map, or with multi on a multiset. */
static void run_one(const uint8_t *data, size_t size, fuzz_mode mode, bool multi)
{
    fdp p;
    diff d;
    fdp_init(&p, data, size);
    unsigned leaf = 4 + (unsigned)fdp_below(&p, 29);
    unsigned branch = 4 + (unsigned)fdp_below(&p, 29);
    int search = (int)fdp_below(&p, TEST_SEARCH_KINDS);
    int64_t key_space = (int64_t)8 << fdp_below(&p, 7); /* 8 .. 512 */
    if (multi) /* 2 .. 128: keys repeat */
        key_space /= 4;
    diff_init(&d, leaf, branch, search, key_space, multi);
    for (int i = 0; i < MAX_OPS && !fdp_empty(&p); i++) {
        /* Arm a failure a few allocations or comparisons into the next ops. */
        if (mode == FUZZ_OOM && fdp_below(&p, 3) == 0)
            d.alloc.fail_at = d.alloc.calls + 1 + (long)fdp_below(&p, 8);
        if (mode == FUZZ_CMPFAIL && fdp_below(&p, 3) == 0)
            d.ctx.cmp_fail_at = d.ctx.cmp_calls + 1 + (long)fdp_below(&p, 40);
        diff_step(&d, fdp_below, &p);
    }
    diff_finish(&d);
}

/*
 * Each input runs twice, on a map and on a multiset: the corpora replay as
 * they always did on maps, and every input found for one mode explores the
 * other.
 */
int fuzz_run(const uint8_t *data, size_t size, fuzz_mode mode)
{
    run_one(data, size, mode, false);
    run_one(data, size, mode, true);
    return 0;
}
