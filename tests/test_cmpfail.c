/*
 * test_cmpfail.c — a comparator can fail (in Python, a comparison raises).
 * For each operation that compares, and for keys all over the tree, make
 * comparison number 1, 2, 3... fail until the operation needs no more: every
 * failure must return BPT_ECMP and leave the tree exactly as it was (same
 * nodes, same items, same references) with the checker passing.
 */
#include "testlib.h"

#include <string.h>

static test_refs refs;
static test_ctx ctx;

typedef struct op {
    const char *name;
    /* Runs the operation on key; on success disarms the failing comparison
     * and restores the tree's contents. */
    bpt_status (*run)(bpt *t, int64_t key);
} op;

static bpt_status run_put(bpt *t, int64_t key)
{
    bpt_status rc = bpt_put(t, W(key), W(key + 1), NULL);
    ctx.cmp_fail_at = 0;
    if (rc == BPT_OK)
        CHECK_EQ(bpt_remove(t, W(key), NULL, NULL), BPT_OK);
    return rc;
}

static bpt_status run_insert(bpt *t, int64_t key)
{
    bpt_status rc = bpt_insert(t, W(key), W(key + 1), NULL);
    ctx.cmp_fail_at = 0;
    if (rc == BPT_OK)
        CHECK_EQ(bpt_remove(t, W(key), NULL, NULL), BPT_OK);
    return rc;
}

static bpt_status run_remove(bpt *t, int64_t key)
{
    void *k, *v;
    bpt_status rc = bpt_remove(t, W(key), &k, &v);
    ctx.cmp_fail_at = 0;
    if (rc == BPT_OK) {
        CHECK_EQ(bpt_put(t, k, v, NULL), BPT_OK);
        /* The put retained them again: drop the references handed back. */
        refs.key[I(k)]--;
        refs.value[I(v)]--;
    }
    return rc;
}

static bpt_status run_get(bpt *t, int64_t key)
{
    return bpt_get(t, W(key), NULL, NULL);
}

static bpt_status run_neighbours(bpt *t, int64_t key)
{
    bpt_status (*fn[])(const bpt *, void *, void **, void **) = {bpt_floor, bpt_ceiling,
                                                                 bpt_lower, bpt_higher};
    return fn[key & 3](t, W(key), NULL, NULL);
}

static bpt_status run_rank(bpt *t, int64_t key)
{
    size_t r;
    return bpt_rank(t, W(key), &r);
}

static bpt_status run_seek(bpt *t, int64_t key)
{
    bpt_cursor *c;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
    bpt_status rc;
    if (key % 3 == 0) {
        size_t rank = 12345;
        rc = bpt_cursor_seek_rank(c, W(key), &rank);
        if (rc == BPT_ECMP) { /* rank and cursor unchanged: still before the first */
            CHECK_EQ(rank, 12345);
            CHECK_EQ(bpt_cursor_get(c, NULL, NULL), BPT_NOTFOUND);
            CHECK_EQ(bpt_cursor_next(c), BPT_OK);
        }
    } else {
        rc = (key & 1 ? bpt_cursor_seek_gt : bpt_cursor_seek_ge)(c, W(key));
    }
    bpt_cursor_free(c);
    return rc;
}

/* Removes [key, key + 25) and puts the removed items back. */
static bpt_status run_remove_range(bpt *t, int64_t key)
{
    size_t removed;
    bpt_status rc = bpt_remove_range(t, (void *[]){W(key)}, (void *[]){W(key + 25)}, &removed);
    ctx.cmp_fail_at = 0;
    if (rc == BPT_OK) {
        for (int64_t k = key; k < key + 25; k++)
            if (k >= 0 && k < 600 && k % 2 == 0)
                CHECK_EQ(bpt_put(t, W(k), W(k + 1), NULL), BPT_OK);
    }
    return rc;
}

/* tree holds keys 0, 2, ..., 598 (value key + 1) at the minimum capacity. */
static bpt *build(int search)
{
    bpt *t;
    memset(&refs, 0, sizeof refs);
    memset(&ctx, 0, sizeof ctx);
    ctx.refs = &refs;
    bpt_config cfg = test_config(&ctx, 4, 4, search, NULL);
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    for (int64_t k = 0; k < 600; k += 2)
        CHECK_EQ(bpt_put(t, W(k), W(k + 1), NULL), BPT_OK);
    CHECK(tree_height(t) >= 4);
    return t;
}

static void test_every_comparison_fails(void)
{
    static const op ops[] = {
        {"put", run_put},           {"insert", run_insert},   {"remove", run_remove},
        {"get", run_get},           {"neighbours", run_neighbours}, {"rank", run_rank},
        {"seek", run_seek},         {"remove_range", run_remove_range},
    };
    ref_map m;
    ref_init(&m);
    for (int64_t k = 0; k < 600; k += 2)
        ref_put(&m, k, k + 1, NULL);

    static const int searches[] = {0, 2, 3, 4}; /* the comparator's callers */
    for (size_t s = 0; s < sizeof searches / sizeof *searches; s++) {
        int search = searches[s];
        bpt *t = build(search);
        for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
            long points = 0;
            for (int64_t key = -3; key < 605; key += 7) {
                for (long n = 1;; n++) {
                    uint64_t fp = tree_fingerprint(t);
                    long calls = ctx.cmp_calls, fails = ctx.cmp_failures;
                    ctx.cmp_fail_at = calls + n;
                    bpt_status rc = ops[o].run(t, key);
                    ctx.cmp_fail_at = 0;
                    if (ctx.cmp_failures == fails) {
                        /* Needed fewer than n comparisons: it succeeded
                         * (with hints, maybe with none at all). */
                        CHECK(rc >= 0);
                        CHECK(n > 1 || search >= 3);
                        break;
                    }
                    if (rc != BPT_ECMP)
                        test_fail(__FILE__, __LINE__, "%s(%lld) with comparison %ld failing: %s",
                                  ops[o].name, (long long)key, n, bpt_status_str(rc));
                    CHECK(tree_fingerprint(t) == fp);
                    CHECK_MATCH(t, &m);
                    CHECK(refs_match(&refs, &m));
                    points++;
                }
            }
            printf("search %d %-12s %ld failure points, each left the tree unchanged\n", search,
                   ops[o].name, points);
        }
        bpt_free(t);
    }
    ref_free(&m);
}

/* A bulk load with a failing comparison builds nothing. */
static void test_bulk_load_comparison_fails(void)
{
    void *keys[200];
    for (int i = 0; i < 200; i++)
        keys[i] = W(i);
    for (long n = 1; n < 199; n += 13) {
        bpt *t;
        memset(&ctx, 0, sizeof ctx);
        test_alloc a = {0};
        bpt_config cfg = test_config(&ctx, 4, 4, 0, &a);
        CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
        ctx.cmp_fail_at = n;
        CHECK_EQ(bpt_bulk_load(t, keys, keys, 200), BPT_ECMP);
        CHECK_EQ(bpt_size(t), 0);
        CHECK_EQ(a.live, 1);
        ctx.cmp_fail_at = 0;
        CHECK_TREE(t);
        bpt_free(t);
    }
}

int main(void)
{
    RUN(test_every_comparison_fails);
    RUN(test_bulk_load_comparison_fails);
    return 0;
}
