/*
 * test_oom.c — allocation failure is an ordinary outcome. For every N, a
 * fixed sequence of operations runs with the Nth allocation failing: the
 * failed operation returns BPT_ENOMEM and leaves the tree exactly as it was
 * (same nodes, same items, same references), the checker passes, and at the
 * end nothing leaked. Then a chaos run fails allocations at random.
 */
#include "diff.h"

#include <string.h>

static void test_new_and_cursor_oom(void)
{
    test_ctx ctx = {0};
    test_alloc a = {.fail_at = 1};
    bpt_config cfg = test_config(&ctx, 4, 4, 0, &a);
    bpt *t = NULL;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_ENOMEM);
    CHECK(t == NULL);
    CHECK_EQ(a.live, 0);
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    bpt_cursor *c = NULL;
    a.fail_at = a.calls + 1;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_ENOMEM);
    CHECK(c == NULL);
    bpt_free(t);
    CHECK_EQ(a.live, 0);
}

/*
 * run_sequence runs the fixed sequence with allocation fail_nth failing, on
 * a map or a multiset.
 */
static long run_sequence(unsigned cap, int search, bool multi, long fail_nth, long *failures)
{
    rng r = {1234567 + cap};
    diff d;
    diff_init(&d, cap, cap, search, multi ? 60 : 400, multi);
    d.alloc.fail_at = fail_nth ? d.alloc.calls + fail_nth : 0;
    for (int i = 0; i < 600; i++)
        diff_step(&d, diff_rng_choose, &r);
    long calls = d.alloc.calls;
    *failures = d.alloc.failures;
    /* A failed allocation must surface as a failed operation. */
    CHECK_EQ(d.failed_ops, d.alloc.failures);
    diff_finish(&d);
    return calls;
}

static void test_every_allocation_fails_once(void)
{
    static const unsigned caps[] = {4, 5, 16, 4, 6}; /* with search kinds 0..4 */
    for (int multi = 0; multi < 2; multi++) {
        for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
            long failures;
            long calls = run_sequence(caps[c], (int)c, multi, 0, &failures);
            CHECK_EQ(failures, 0);
            CHECK(calls > 50);
            long failed_runs = 0;
            for (long n = 1;; n++) {
                run_sequence(caps[c], (int)c, multi, n, &failures);
                if (!failures)
                    break;
                failed_runs++;
            }
            /* Every allocation point of the sequence was made to fail. */
            CHECK(failed_runs >= calls - 1);
            printf("%s, capacity %u: %ld allocation points, each failed once\n",
                   multi ? "multiset" : "map", caps[c], failed_runs);
        }
    }
}

static void test_chaos(void)
{
    uint64_t seed = test_seed(99);
    for (int run = 0; run < 2 * TEST_SEARCH_KINDS; run++) {
        int search = run % TEST_SEARCH_KINDS;
        bool multi = run >= TEST_SEARCH_KINDS;
        rng r = {seed + (uint64_t)run};
        diff d;
        diff_init(&d, 4, 4, search, multi ? 80 : 500, multi);
        d.alloc.random = true;
        d.alloc.chaos_odds = 8;
        d.alloc.chaos.s = seed * 31 + (uint64_t)run;
        for (int i = 0; i < 20000; i++)
            diff_step(&d, diff_rng_choose, &r);
        CHECK(d.alloc.failures > 100);
        CHECK_EQ(d.failed_ops, d.alloc.failures);
        diff_finish(&d);
    }
}

int main(void)
{
    RUN(test_new_and_cursor_oom);
    RUN(test_every_allocation_fails_once);
    RUN(test_chaos);
    return 0;
}
