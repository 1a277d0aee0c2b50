/*
 * testlib.h — what every C test (and later every fuzz harness) shares: check
 * macros, a seeded PRNG, a counting allocator that can fail on purpose, a
 * comparator that can fail on purpose, ownership accounting, a reference
 * model (a sorted array) and helpers that compare a tree with it.
 */
#ifndef BPT_TESTLIB_H
#define BPT_TESTLIB_H

#include "bplustree3.h"
#include "bpt_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- Checks: a failed check prints where and aborts. -------------------- */

void test_fail(const char *file, int line, const char *fmt, ...);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                 \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld",   \
                      #a, a_, #b, b_);                                         \
    } while (0)

/* CHECK_TREE runs the invariant checker and fails with its report. */
#define CHECK_TREE(t) check_tree_at(__FILE__, __LINE__, (t))
void check_tree_at(const char *file, int line, const bpt *t);

/* RUN runs one test function and reports it. */
#define RUN(fn)                                                                \
    do {                                                                       \
        fn();                                                                  \
        printf("ok %s\n", #fn);                                                \
        fflush(stdout);                                                        \
    } while (0)

/* ---- PRNG (splitmix64); the seed comes from $SEED when set. ------------- */

typedef struct rng {
    uint64_t s;
} rng;

uint64_t rng_next(rng *r);
uint64_t rng_below(rng *r, uint64_t n); /* uniform in [0, n), n > 0 */
uint64_t test_seed(uint64_t fallback);  /* $SEED or fallback, printed */

/* ---- Words ---------------------------------------------------------------- */

#define W(i) bpt_word_from_i64((int64_t)(i))
#define I(w) bpt_word_to_i64(w)

/* ---- Allocator: counts blocks and bytes, fails the Nth call if armed. ---- */

typedef struct test_alloc {
    long calls;      /* allocation calls so far */
    long fail_at;    /* fail call number fail_at (1-based); 0: never */
    long failures;   /* calls failed so far */
    struct test_ctx *reenter; /* when set, some calls re-enter its watched tree */
    long live;       /* blocks not yet freed */
    size_t bytes;    /* bytes not yet freed */
    bool random;     /* fail at random instead (chaos), 1 in chaos_odds */
    unsigned chaos_odds;
    rng chaos;
} test_alloc;

bpt_allocator test_allocator(test_alloc *a);

/* ---- Ownership: per-word reference counts for keys and values. ---------- */

#define REF_WORDS 4096 /* words below this are counted; others ignored */

typedef struct test_refs {
    long key[REF_WORDS];
    long value[REF_WORDS];
} test_refs;

/* ---- Test context: what the config's ctx points to. --------------------- */

typedef struct test_ctx {
    long cmp_calls;      /* comparator calls so far */
    long cmp_fail_at;    /* fail comparator call number cmp_fail_at; 0: never */
    long cmp_failures;
    bool quiet;          /* set while a test checks: not counted, never fails */
    test_refs *refs;     /* NULL: no ownership accounting */
    /*
     * Re-entry, as a finalizer run by an allocation or the Python code of a
     * comparison re-enters a map: when watch is set, some comparator and
     * allocator calls read *watch (the tree the operation is working on)
     * and run its checker, which must pass: the core may call back only
     * where the tree is whole. Release callbacks do not: the tree is
     * changing then.
     */
    struct bpt *const *watch;
    long reentries;
    bool reentering;
} test_ctx;

/* test_reenter reads c's watched tree from a callback (see watch). */
void test_reenter(test_ctx *c);

/* test_compare orders int64 words and counts (and may fail) each call. */
int test_compare(void *a, void *b, void *ctx);

/* test_search is a node search on top of test_compare (same failures). */
int test_search(void *const *keys, int n, void *key, void *ctx, int *exact);

/* test_hint is an order-preserving hint that eight keys share. */
int test_hint(void *key, void *ctx, uint64_t *hint);

/*
 * test_config fills a config for int64 words with test_compare, ownership
 * accounting when ctx->refs is set, the given capacities and allocator.
 * search_kind: 0 none (the core's own search over the comparator),
 * 1 bpt_search_i64, 2 test_search, 3 hints (test_hint) and the core's
 * search, 4 hints and test_search. TEST_SEARCH_KINDS counts them.
 */
#define TEST_SEARCH_KINDS 5
bpt_config test_config(test_ctx *ctx, unsigned leaf_cap, unsigned branch_cap, int search_kind,
                       test_alloc *alloc);

/*
 * ---- Reference model: a sorted array of (key, value) int64 pairs. -------
 * A map, or with multi a multiset: ref_put then always inserts, after the
 * equal keys, and ref_find and ref_remove take the first equal key.
 */

typedef struct ref_item {
    int64_t key, value;
} ref_item;

typedef struct ref_map {
    ref_item *items;
    size_t n, cap;
    bool multi;
} ref_map;

void ref_init(ref_map *m);
void ref_free(ref_map *m);
void ref_copy(ref_map *dst, const ref_map *src);
size_t ref_lower(const ref_map *m, int64_t key);     /* first index with key >= key */
size_t ref_upper(const ref_map *m, int64_t key);     /* first index with key > key */
bool ref_find(const ref_map *m, int64_t key, size_t *index);
bool ref_put(ref_map *m, int64_t key, int64_t value, int64_t *old); /* true: replaced */
bool ref_remove(ref_map *m, int64_t key, int64_t *value);
void ref_remove_at(ref_map *m, size_t i);
size_t ref_remove_span(ref_map *m, size_t from, size_t to); /* positions [from, to) */
size_t ref_remove_range(ref_map *m, const int64_t *lo, const int64_t *hi);

/* tree_matches reports whether t holds exactly m's items, in order. */
bool tree_matches(const bpt *t, const ref_map *m);

/* CHECK_MATCH checks invariants, then contents against the model. */
#define CHECK_MATCH(t, m)                                                      \
    do {                                                                       \
        CHECK_TREE(t);                                                         \
        if (!tree_matches((t), (m)))                                           \
            test_fail(__FILE__, __LINE__, "tree differs from the model");      \
    } while (0)

/*
 * refs_match reports whether the reference counts are exactly what a tree
 * holding m's items owns: one per key, one per occurrence of a value (words
 * of REF_WORDS and up are not counted).
 */
bool refs_match(const test_refs *r, const ref_map *m);

/* tree_fingerprint hashes every node's address, shape and slots. */
uint64_t tree_fingerprint(const bpt *t);

/* tree_height returns the height (0 when empty), for shape assertions. */
int tree_height(const bpt *t);

#endif /* BPT_TESTLIB_H */
