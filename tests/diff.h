/*
 * diff.h — the differential driver: applies one operation chosen by a
 * chooser to a tree and to the reference model, compares every result, and
 * checks the invariants after every operation. An operation that fails
 * (out of memory, comparison failure) must leave the tree exactly as it was.
 * The randomized tests drive it with a PRNG; a fuzzer can drive it with its
 * input bytes.
 */
#ifndef BPT_DIFF_H
#define BPT_DIFF_H

#include "testlib.h"

/* A chooser returns a choice in [0, n) for n > 0. */
typedef uint64_t (*diff_choose_fn)(void *src, uint64_t n);

typedef struct diff {
    bpt *t;
    ref_map m;
    test_ctx ctx;
    test_refs refs;
    test_alloc alloc;
    bpt_config cfg;
    int64_t key_space;  /* keys are drawn from [0, key_space) */
    long steps;
    long failed_ops;    /* operations that failed with ENOMEM or ECMP */
} diff;

/*
 * diff_init makes an empty tree, a multiset with multi (and the model one
 * too); key_space must be at most REF_WORDS.
 */
void diff_init(diff *d, unsigned leaf_cap, unsigned branch_cap, int search_kind,
               int64_t key_space, bool multi);

/* diff_step applies one chosen operation and checks everything. */
void diff_step(diff *d, diff_choose_fn choose, void *src);

/* diff_finish scans forward and backward, frees, and checks for leaks. */
void diff_finish(diff *d);

/* diff_rng_choose is a chooser over an rng. */
uint64_t diff_rng_choose(void *src, uint64_t n);

#endif /* BPT_DIFF_H */
