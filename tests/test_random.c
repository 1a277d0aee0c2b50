/*
 * test_random.c — randomized differential tests: every operation on the
 * tree and on a sorted-array model, with the invariant checker after each,
 * at several node capacities (the minimum included), with the core's own
 * search, the built-in int64 search and a linear search hook, each also
 * with hints; maps, and multisets over key spaces small enough that most
 * keys repeat.
 * SEED=n reproduces a run; STEPS=n sets the operations per configuration.
 */
#include "diff.h"

int main(void)
{
    static const unsigned caps[][2] = {{4, 4}, {5, 4}, {4, 7}, {6, 6}, {8, 5}, {16, 16}, {64, 64}};
    static const int64_t spaces[] = {16, 300, 3000};
    static const int64_t multi_spaces[] = {4, 40, 400};
    const char *steps_env = getenv("STEPS");
    long steps = steps_env ? strtol(steps_env, NULL, 10) : 3000;
    uint64_t seed = test_seed(20261123);
    long total = 0, configs = 0;

    for (int multi = 0; multi < 2; multi++)
    for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
        for (int search = 0; search < TEST_SEARCH_KINDS; search++) {
            for (size_t s = 0; s < sizeof spaces / sizeof *spaces; s++) {
                rng r = {seed ^ (c * 131 + (size_t)search * 17 + s + (size_t)multi * 7919)};
                diff d;
                int height = 0;
                diff_init(&d, caps[c][0], caps[c][1], search,
                          multi ? multi_spaces[s] : spaces[s], multi);
                for (long i = 0; i < steps; i++) {
                    diff_step(&d, diff_rng_choose, &r);
                    if (tree_height(d.t) > height)
                        height = tree_height(d.t);
                }
                /* Small capacities and a big key space must grow deep trees. */
                if (caps[c][0] <= 5 && s >= 1 && steps >= 1000)
                    CHECK(height >= 3);
                /* The callbacks re-entered the tree (test_reenter): not only in theory. */
                if (steps >= 1000)
                    CHECK(d.ctx.reentries > 0);
                total += d.steps;
                configs++;
                diff_finish(&d);
            }
        }
    }
    printf("ok %ld operations over %ld configurations\n", total, configs);
    return 0;
}
