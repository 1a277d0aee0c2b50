/* test_api.c — one or more unit tests for every public function. */
#include "testlib.h"
#include "bpt_internal.h" /* bpt_cursor_scan_agrees */

#include <math.h>
#include <string.h>

static test_refs refs;
static test_ctx ctx;
static test_alloc alloc;

/*
 * new_tree_with makes an int64 tree with ownership accounting and counted
 * memory, searched as test_config's search_kind, a multiset with multi.
 */
static bpt *new_tree_with(unsigned cap, int search_kind, bool multi)
{
    bpt *t;
    memset(&refs, 0, sizeof refs);
    memset(&ctx, 0, sizeof ctx);
    memset(&alloc, 0, sizeof alloc);
    ctx.refs = &refs;
    bpt_config cfg = test_config(&ctx, cap, cap, search_kind, &alloc);
    cfg.duplicates = multi;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    return t;
}

static bpt *new_tree(unsigned cap)
{
    return new_tree_with(cap, 0, false);
}

/* done frees t and checks that nothing leaked, in memory or references. */
static void done(bpt *t)
{
    bpt_free(t);
    CHECK_EQ(alloc.live, 0);
    ref_map empty;
    ref_init(&empty);
    CHECK(refs_match(&refs, &empty));
}

/* fill inserts keys 0, step, 2*step... (n of them) with value = key + 1. */
static void fill(bpt *t, ref_map *m, int n, int step)
{
    for (int i = 0; i < n; i++) {
        CHECK_EQ(bpt_put(t, W(i * step), W(i * step + 1), NULL), BPT_OK);
        if (m)
            ref_put(m, i * step, i * step + 1, NULL);
    }
    CHECK_TREE(t);
}

static void test_status_str(void)
{
    bpt_status all[] = {BPT_OK,     BPT_NOTFOUND, BPT_EXISTS, BPT_REPLACED,
                        BPT_ENOMEM, BPT_ECMP,     BPT_EINVAL, BPT_ESTALE};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        CHECK(strlen(bpt_status_str(all[i])) > 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(bpt_status_str(all[i]), bpt_status_str(all[j])) != 0);
    }
    CHECK(strcmp(bpt_status_str((bpt_status)42), "unknown status") == 0);
}

static void test_new_rejects_bad_config(void)
{
    bpt *t = NULL;
    bpt_config cfg = {0};
    CHECK_EQ(bpt_new(NULL, &t), BPT_EINVAL);
    CHECK_EQ(bpt_new(&cfg, &t), BPT_EINVAL); /* no comparator */
    cfg.compare = bpt_compare_i64;
    CHECK_EQ(bpt_new(&cfg, NULL), BPT_EINVAL);
    cfg.leaf_capacity = BPT_MIN_CAPACITY - 1;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_EINVAL);
    cfg.leaf_capacity = BPT_MAX_CAPACITY + 1;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_EINVAL);
    cfg.leaf_capacity = 0;
    cfg.branch_capacity = BPT_MIN_CAPACITY - 1;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_EINVAL);
    cfg.branch_capacity = 0;
    cfg.allocator.alloc = NULL;
    cfg.allocator.free = (void (*)(void *, size_t, void *))1; /* half an allocator */
    CHECK_EQ(bpt_new(&cfg, &t), BPT_EINVAL);
    CHECK(t == NULL);
}

static void test_new_defaults_and_free(void)
{
    bpt *t;
    bpt_config cfg = {.compare = bpt_compare_i64};
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    CHECK_EQ(bpt_leaf_capacity(t), BPT_DEFAULT_LEAF_CAPACITY);
    CHECK_EQ(bpt_branch_capacity(t), BPT_DEFAULT_BRANCH_CAPACITY);
    CHECK_EQ(bpt_size(t), 0);
    CHECK_TREE(t);
    bpt_free(t);
    bpt_free(NULL);

    cfg.leaf_capacity = BPT_MIN_CAPACITY;
    cfg.branch_capacity = BPT_MAX_CAPACITY;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    CHECK_EQ(bpt_leaf_capacity(t), BPT_MIN_CAPACITY);
    CHECK_EQ(bpt_branch_capacity(t), BPT_MAX_CAPACITY);
    bpt_free(t);

    /* The tree's own struct comes from the allocator too. */
    bpt *u = new_tree(4);
    CHECK_EQ(alloc.live, 1);
    done(u);
}

static void test_put_insert_get(void)
{
    bpt *t = new_tree(4);
    void *k, *v;
    CHECK_EQ(bpt_get(t, W(1), &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_put(t, W(1), W(10), NULL), BPT_OK);
    CHECK_EQ(refs.key[1], 1);
    CHECK_EQ(refs.value[10], 1);
    CHECK_EQ(bpt_get(t, W(1), &k, &v), BPT_OK);
    CHECK_EQ(I(k), 1);
    CHECK_EQ(I(v), 10);
    CHECK_EQ(bpt_get(t, W(1), NULL, NULL), BPT_OK);

    /* Replace: old value handed back, owned; the new value retained. */
    void *old = NULL;
    CHECK_EQ(bpt_put(t, W(1), W(11), &old), BPT_REPLACED);
    CHECK_EQ(I(old), 10);
    CHECK_EQ(refs.value[10], 1); /* the caller's now */
    refs.value[10]--;
    CHECK_EQ(refs.value[11], 1);
    CHECK_EQ(refs.key[1], 1); /* the passed key was not retained */
    /* Replace without an out-parameter: the tree releases the old value. */
    CHECK_EQ(bpt_put(t, W(1), W(12), NULL), BPT_REPLACED);
    CHECK_EQ(refs.value[11], 0);
    CHECK_EQ(refs.value[12], 1);

    /* Insert-if-absent. */
    void *existing = NULL;
    CHECK_EQ(bpt_insert(t, W(1), W(99), &existing), BPT_EXISTS);
    CHECK_EQ(I(existing), 12);
    CHECK_EQ(refs.value[99], 0);
    CHECK_EQ(bpt_insert(t, W(1), W(99), NULL), BPT_EXISTS);
    CHECK_EQ(bpt_insert(t, W(2), W(20), NULL), BPT_OK);
    CHECK_EQ(bpt_insert(t, W(0), W(5), &existing), BPT_OK);
    CHECK_EQ(bpt_size(t), 3);
    CHECK_EQ(bpt_get(t, W(2), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 20);

    /* Enough keys for a few levels, in descending order. */
    for (int i = 300; i >= 3; i--)
        CHECK_EQ(bpt_insert(t, W(i), W(i), NULL), BPT_OK);
    CHECK_TREE(t);
    CHECK(tree_height(t) >= 4);
    for (int i = 3; i <= 300; i++) {
        CHECK_EQ(bpt_get(t, W(i), &k, &v), BPT_OK);
        CHECK_EQ(I(k), i);
    }
    CHECK_EQ(bpt_get(t, W(301), NULL, NULL), BPT_NOTFOUND);
    CHECK_EQ(bpt_get(t, W(-1), NULL, NULL), BPT_NOTFOUND);
    done(t);
}

static void test_remove(void)
{
    bpt *t = new_tree(4);
    ref_map m;
    ref_init(&m);
    void *k, *v;
    CHECK_EQ(bpt_remove(t, W(1), &k, &v), BPT_NOTFOUND);
    fill(t, &m, 200, 2);
    CHECK_EQ(bpt_remove(t, W(3), &k, &v), BPT_NOTFOUND);
    /* Handed back, owned. */
    CHECK_EQ(bpt_remove(t, W(10), &k, &v), BPT_OK);
    CHECK_EQ(I(k), 10);
    CHECK_EQ(I(v), 11);
    CHECK_EQ(refs.key[10], 1);
    refs.key[10]--;
    refs.value[11]--;
    ref_remove(&m, 10, NULL);
    CHECK_MATCH(t, &m);
    /* Released by the tree. */
    CHECK_EQ(bpt_remove(t, W(12), NULL, NULL), BPT_OK);
    ref_remove(&m, 12, NULL);
    CHECK(refs_match(&refs, &m));
    /* Remove all, alternating ends, checking after each. */
    int lo = 0, hi = 398;
    while (lo <= hi) {
        int key = (lo + hi) % 4 ? lo : hi;
        if (key == lo)
            lo += 2;
        else
            hi -= 2;
        bpt_status rc = bpt_remove(t, W(key), NULL, NULL);
        CHECK_EQ(rc, ref_remove(&m, key, NULL) ? BPT_OK : BPT_NOTFOUND);
        CHECK_MATCH(t, &m);
    }
    CHECK_EQ(bpt_size(t), 0);
    CHECK_EQ(tree_height(t), 0);
    CHECK(refs_match(&refs, &m));
    ref_free(&m);
    done(t);
}

static void test_first_last_neighbours(void)
{
    bpt *t = new_tree(4);
    void *k, *v;
    CHECK_EQ(bpt_first(t, &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_last(t, &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_floor(t, W(0), &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_ceiling(t, W(0), &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_lower(t, W(0), &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_higher(t, W(0), &k, &v), BPT_NOTFOUND);
    fill(t, NULL, 100, 10); /* keys 0, 10, ..., 990 */
    CHECK_EQ(bpt_first(t, &k, &v), BPT_OK);
    CHECK_EQ(I(k), 0);
    CHECK_EQ(I(v), 1);
    CHECK_EQ(bpt_last(t, &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 990);
    CHECK_EQ(bpt_last(t, NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 991);
    for (int q = -5; q <= 1000; q++) {
        int floor_k = q < 0 ? -1 : (q > 990 ? 990 : q / 10 * 10);
        int ceil_k = q <= 0 ? 0 : ((q + 9) / 10 * 10 > 990 ? -1 : (q + 9) / 10 * 10);
        int lower_k = q <= 0 ? -1 : (q > 990 ? 990 : (q - 1) / 10 * 10);
        int higher_k = q < 0 ? 0 : (q >= 990 ? -1 : q / 10 * 10 + 10);
        struct {
            bpt_status (*fn)(const bpt *, void *, void **, void **);
            int want;
        } cases[] = {{bpt_floor, floor_k}, {bpt_ceiling, ceil_k},
                     {bpt_lower, lower_k}, {bpt_higher, higher_k}};
        for (int c = 0; c < 4; c++) {
            bpt_status rc = cases[c].fn(t, W(q), &k, &v);
            if (cases[c].want < 0) {
                CHECK_EQ(rc, BPT_NOTFOUND);
            } else {
                CHECK_EQ(rc, BPT_OK);
                CHECK_EQ(I(k), cases[c].want);
                CHECK_EQ(I(v), cases[c].want + 1);
            }
        }
    }
    done(t);
}

static void test_pop(void)
{
    bpt *t = new_tree(5);
    void *k, *v;
    CHECK_EQ(bpt_pop_first(t, &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_pop_last(t, &k, &v), BPT_NOTFOUND);
    ref_map m;
    ref_init(&m);
    fill(t, &m, 150, 1);
    for (int i = 0; i < 75; i++) {
        CHECK_EQ(bpt_pop_first(t, &k, &v), BPT_OK);
        CHECK_EQ(I(k), i);
        CHECK_EQ(I(v), i + 1);
        refs.key[i]--;
        refs.value[i + 1]--;
        ref_remove(&m, i, NULL);
        CHECK_EQ(bpt_pop_last(t, NULL, NULL), BPT_OK);
        ref_remove(&m, 149 - i, NULL);
        CHECK_MATCH(t, &m);
        CHECK(refs_match(&refs, &m));
    }
    CHECK_EQ(bpt_size(t), 0);
    ref_free(&m);
    done(t);
}

static void test_clear(void)
{
    bpt *t = new_tree(4);
    bpt_clear(t);
    CHECK_TREE(t);
    fill(t, NULL, 500, 1);
    long before = alloc.live;
    CHECK(before > 100);
    bpt_clear(t);
    CHECK_TREE(t);
    CHECK_EQ(bpt_size(t), 0);
    CHECK_EQ(alloc.live, 1); /* just the tree */
    ref_map empty;
    ref_init(&empty);
    CHECK(refs_match(&refs, &empty));
    fill(t, NULL, 10, 1); /* usable afterwards */
    CHECK_EQ(bpt_size(t), 10);
    done(t);
}

static void test_copy(void)
{
    bpt *t = new_tree(4), *c;
    CHECK_EQ(bpt_copy(t, &c), BPT_OK); /* empty */
    CHECK_TREE(c);
    CHECK_EQ(bpt_size(c), 0);
    bpt_free(c);

    ref_map m, twice;
    ref_init(&m);
    ref_init(&twice);
    fill(t, &m, 300, 3);
    long blocks = alloc.live;
    long cmp_before = ctx.cmp_calls;
    CHECK_EQ(bpt_copy(t, &c), BPT_OK);
    CHECK_EQ(ctx.cmp_calls, cmp_before); /* structural: no comparisons */
    CHECK_EQ(alloc.live, 2 * blocks);     /* same number of nodes */
    CHECK_MATCH(c, &m);
    CHECK_EQ(tree_height(c), tree_height(t));
    /* Every key and value is now held twice. */
    for (size_t i = 0; i < m.n; i++) {
        CHECK_EQ(refs.key[m.items[i].key], 2);
        CHECK_EQ(refs.value[m.items[i].value], 2);
    }
    /* A copy can be handed to another owner's callbacks. */
    test_refs other_refs;
    memset(&other_refs, 0, sizeof other_refs);
    other_refs.key[3] = other_refs.value[4] = 1; /* the copy's references to 3 -> 4 */
    refs.key[3]--;                               /* now counted by the other owner */
    refs.value[4]--;
    test_ctx other = {.refs = &other_refs};
    bpt_set_context(c, &other);
    CHECK_EQ(bpt_remove(c, W(3), NULL, NULL), BPT_OK);
    CHECK_EQ(other_refs.key[3], 0); /* released through the new context */
    CHECK_EQ(other_refs.value[4], 0);
    CHECK(other.cmp_calls > 0);
    CHECK_EQ(refs.key[3], 1); /* the original's own reference is untouched */
    bpt_set_context(c, &ctx);
    /* Independent: changing one leaves the other alone. */
    CHECK_EQ(bpt_remove(c, W(0), NULL, NULL), BPT_OK);
    CHECK_EQ(bpt_put(c, W(1), W(1), NULL), BPT_OK);
    CHECK_MATCH(t, &m);
    bpt_free(c);
    CHECK(refs_match(&refs, &m));
    ref_free(&m);
    ref_free(&twice);
    done(t);
}

static void test_bulk_load(void)
{
    enum { N = 1000 };
    void *keys[N], *vals[N];
    for (int i = 0; i < N; i++) {
        keys[i] = W(2 * i);
        vals[i] = W(2 * i + 1);
    }
    for (size_t n = 0; n <= N; n = n ? n * 3 : 1) {
        bpt *t = new_tree(4);
        ref_map m;
        ref_init(&m);
        for (size_t i = 0; i < n; i++)
            ref_put(&m, 2 * (int64_t)i, 2 * (int64_t)i + 1, NULL);
        CHECK_EQ(bpt_bulk_load(t, keys, vals, n), BPT_OK);
        CHECK_MATCH(t, &m);
        CHECK(refs_match(&refs, &m));
        /* Not empty any more: a second load is refused. */
        if (n) {
            long live = alloc.live;
            CHECK_EQ(bpt_bulk_load(t, keys, vals, n), BPT_EINVAL);
            CHECK_EQ(alloc.live, live);
        }
        /* The loaded tree takes ordinary updates. */
        CHECK_EQ(bpt_put(t, W(-1), W(0), NULL), BPT_OK);
        ref_put(&m, -1, 0, NULL);
        CHECK_MATCH(t, &m);
        ref_free(&m);
        done(t);
    }
    /* Fill: a full load of capacity-sized leaves uses the fewest leaves. */
    bpt *t = new_tree(8);
    CHECK_EQ(bpt_bulk_load(t, keys, vals, 64), BPT_OK);
    CHECK_EQ(alloc.live, 1 + 8 + 1); /* tree, 8 full leaves, one root */
    done(t);

    /* Values may be omitted. */
    t = new_tree(4);
    CHECK_EQ(bpt_bulk_load(t, keys, NULL, 10), BPT_OK);
    void *v = W(7);
    CHECK_EQ(bpt_get(t, W(4), NULL, &v), BPT_OK);
    CHECK(v == NULL);
    done(t);

    /* Unsorted or duplicate input builds nothing. */
    t = new_tree(4);
    void *bad[] = {W(1), W(2), W(2), W(3)};
    CHECK_EQ(bpt_bulk_load(t, bad, NULL, 4), BPT_EINVAL);
    void *down[] = {W(1), W(3), W(2)};
    CHECK_EQ(bpt_bulk_load(t, down, NULL, 3), BPT_EINVAL);
    CHECK_EQ(bpt_size(t), 0);
    CHECK_EQ(alloc.live, 1);
    CHECK_TREE(t);
    done(t);
}

static void test_remove_range(void)
{
    for (unsigned cap = 4; cap <= 9; cap += 5) {
        for (int lo = -10; lo <= 420; lo += 43) {
            for (int hi = lo - 20; hi <= 430; hi += 37) {
                bpt *t = new_tree(cap);
                ref_map m;
                ref_init(&m);
                fill(t, &m, 200, 2);
                int64_t l = lo, h = hi;
                size_t removed = 99;
                CHECK_EQ(bpt_remove_range(t, (void *[]){W(lo)}, (void *[]){W(hi)}, &removed),
                         BPT_OK);
                CHECK_EQ(removed, ref_remove_range(&m, &l, &h));
                CHECK_MATCH(t, &m);
                CHECK(refs_match(&refs, &m));
                ref_free(&m);
                done(t);
            }
        }
    }
    /* Unbounded sides. */
    bpt *t = new_tree(4);
    ref_map m;
    ref_init(&m);
    size_t removed;
    CHECK_EQ(bpt_remove_range(t, NULL, NULL, &removed), BPT_OK);
    CHECK_EQ(removed, 0);
    fill(t, &m, 300, 1);
    int64_t k = 250;
    CHECK_EQ(bpt_remove_range(t, (void *[]){W(250)}, NULL, &removed), BPT_OK);
    CHECK_EQ(removed, ref_remove_range(&m, &k, NULL));
    CHECK_MATCH(t, &m);
    k = 50;
    CHECK_EQ(bpt_remove_range(t, NULL, (void *[]){W(50)}, NULL), BPT_OK);
    ref_remove_range(&m, NULL, &k);
    CHECK_MATCH(t, &m);
    CHECK_EQ(bpt_remove_range(t, NULL, NULL, &removed), BPT_OK);
    CHECK_EQ(removed, 200);
    CHECK_EQ(bpt_size(t), 0);
    CHECK_TREE(t);
    ref_free(&m);
    done(t);

    /* Faster than one at a time: far fewer comparisons. */
    t = new_tree(64);
    fill(t, NULL, 4000, 1);
    long before = ctx.cmp_calls;
    CHECK_EQ(bpt_remove_range(t, (void *[]){W(100)}, (void *[]){W(3900)}, &removed), BPT_OK);
    CHECK_EQ(removed, 3800);
    CHECK(ctx.cmp_calls - before < 100);
    CHECK_TREE(t);
    done(t);
}

/* give_back drops the reference to a key or value word the tree handed back. */
static void give_back_key(void *k)
{
    if (I(k) >= 0 && I(k) < REF_WORDS)
        refs.key[I(k)]--;
}

static void give_back_value(void *v)
{
    if (I(v) >= 0 && I(v) < REF_WORDS)
        refs.value[I(v)]--;
}

/*
 * test_positions_and_undo: removals and value replacements by position
 * compare nothing, allocate nothing and cannot fail on a valid position;
 * bpt_put_rank gives the position that undoes a put, and undoing several
 * puts in reverse restores the items exactly.
 */
static void test_positions_and_undo(void)
{
    for (unsigned cap = 4; cap <= 9; cap += 5) {
        bpt *t = new_tree(cap);
        ref_map m;
        ref_init(&m);
        fill(t, &m, 300, 2);
        void *k, *v;
        long cmp = ctx.cmp_calls, calls = alloc.calls;
        CHECK_EQ(bpt_remove_at(t, 300, &k, &v), BPT_NOTFOUND);
        for (size_t at = 0; bpt_size(t) > 250; at = (at + 37) % bpt_size(t)) {
            int64_t key = m.items[at].key, value = m.items[at].value;
            CHECK_EQ(bpt_remove_at(t, at, &k, &v), BPT_OK);
            CHECK_EQ(I(k), key);
            CHECK_EQ(I(v), value);
            ref_remove(&m, key, NULL);
            give_back_key(k);
            give_back_value(v);
        }
        CHECK_EQ(bpt_remove_at(t, 3, NULL, NULL), BPT_OK); /* released by the tree */
        ref_remove(&m, m.items[3].key, NULL);
        uint64_t version = bpt_change_count(t);
        CHECK_EQ(bpt_replace_at(t, 7, W(-7), &v), BPT_OK);
        CHECK_EQ(I(v), m.items[7].value);
        give_back_value(v);
        m.items[7].value = -7;
        CHECK_EQ(bpt_replace_at(t, 8, W(-8), NULL), BPT_OK);
        m.items[8].value = -8;
        CHECK_EQ(bpt_replace_at(t, bpt_size(t), W(0), NULL), BPT_NOTFOUND);
        CHECK_EQ(bpt_change_count(t), version); /* no structural change */
        size_t removed = 99;
        CHECK_EQ(bpt_remove_range_at(t, 10, 5, &removed), BPT_OK);
        CHECK_EQ(removed, 0);
        int64_t klo = m.items[10].key, khi = m.items[40].key;
        CHECK_EQ(bpt_remove_range_at(t, 10, 40, &removed), BPT_OK);
        CHECK_EQ(removed, ref_remove_range(&m, &klo, &khi));
        klo = m.items[200].key;
        CHECK_EQ(bpt_remove_range_at(t, 200, (size_t)-1, &removed), BPT_OK);
        CHECK_EQ(removed, ref_remove_range(&m, &klo, NULL));
        CHECK_EQ(ctx.cmp_calls, cmp); /* no comparison */
        CHECK_EQ(alloc.calls, calls); /* no allocation */
        CHECK_MATCH(t, &m);
        CHECK(refs_match(&refs, &m));

        /* Ten puts, some new keys and some present ones, then undone. */
        size_t rank[10];
        void *old[10];
        bpt_status rc[10];
        ref_map after;
        ref_init(&after);
        ref_copy(&after, &m);
        for (int i = 0; i < 10; i++) {
            int64_t key = (int64_t)(i * 53 % 420) * (i % 3 ? 1 : 2); /* some twice */
            size_t want = ref_lower(&after, key);
            old[i] = NULL;
            rc[i] = bpt_put_rank(t, W(key), W(1000 + i), &old[i], &rank[i]);
            CHECK_EQ(rc[i], ref_put(&after, key, 1000 + i, NULL) ? BPT_REPLACED : BPT_OK);
            CHECK_EQ(rank[i], want);
        }
        CHECK_MATCH(t, &after);
        ref_free(&after);
        cmp = ctx.cmp_calls;
        calls = alloc.calls;
        for (int i = 9; i >= 0; i--) {
            if (rc[i] == BPT_OK) {
                CHECK_EQ(bpt_remove_at(t, rank[i], &k, &v), BPT_OK);
                CHECK_EQ(I(v), 1000 + i);
                give_back_key(k);
                give_back_value(v);
            } else {
                CHECK_EQ(bpt_replace_at(t, rank[i], old[i], &v), BPT_OK);
                CHECK_EQ(I(v), 1000 + i);
                give_back_value(v);
                give_back_value(old[i]); /* the tree retained it again */
            }
        }
        CHECK_EQ(ctx.cmp_calls, cmp);
        CHECK_EQ(alloc.calls, calls);
        CHECK_MATCH(t, &m);
        CHECK(refs_match(&refs, &m));
        size_t r = 99;
        CHECK_EQ(bpt_put_rank(t, W(5000), W(1), NULL, &r), BPT_OK);
        CHECK_EQ(r, m.n);
        bpt_clear(t);
        CHECK_EQ(bpt_put_rank(t, W(7), W(1), NULL, &r), BPT_OK); /* the first key */
        CHECK_EQ(r, 0);
        ref_free(&m);
        done(t);
    }
}

static void test_rank_at(void)
{
    bpt *t = new_tree(4);
    size_t r = 99;
    void *k, *v;
    bpt_cursor *c;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
    CHECK_EQ(bpt_rank(t, W(5), &r), BPT_NOTFOUND);
    CHECK_EQ(r, 0);
    r = 99;
    CHECK_EQ(bpt_cursor_seek_rank(c, W(5), &r), BPT_NOTFOUND);
    CHECK_EQ(r, 0);
    CHECK_EQ(bpt_cursor_get(c, NULL, NULL), BPT_NOTFOUND);
    CHECK_EQ(bpt_at(t, 0, &k, &v), BPT_NOTFOUND);
    fill(t, NULL, 500, 2);
    for (int q = -1; q <= 1000; q++) {
        bpt_status rc = bpt_rank(t, W(q), &r);
        bpt_status want = q >= 0 && q < 1000 && q % 2 == 0 ? BPT_OK : BPT_NOTFOUND;
        size_t want_rank = q < 0 ? 0 : (q + 1) / 2 > 500 ? 500 : (size_t)(q + 1) / 2;
        CHECK_EQ(rc, want);
        CHECK_EQ(r, want_rank);
        /* The same in one descent with a cursor on the first key >= q. */
        r = 99;
        CHECK_EQ(bpt_cursor_seek_rank(c, W(q), &r), want);
        CHECK_EQ(r, want_rank);
        if (want_rank < 500) {
            CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
            CHECK_EQ(I(k), 2 * (int64_t)want_rank);
        } else {
            CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_NOTFOUND);
            CHECK_EQ(bpt_cursor_prev(c), BPT_OK); /* from after the end */
            CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
            CHECK_EQ(I(k), 998);
        }
    }
    bpt_cursor_free(c);
    for (size_t i = 0; i < 500; i++) {
        CHECK_EQ(bpt_at(t, i, &k, &v), BPT_OK);
        CHECK_EQ(I(k), 2 * (int64_t)i);
        CHECK_EQ(I(v), 2 * (int64_t)i + 1);
    }
    CHECK_EQ(bpt_at(t, 500, &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_at(t, (size_t)-1, NULL, NULL), BPT_NOTFOUND);
    done(t);
}

/*
 * test_multiset: key k is added k % 4 times (keys 0, 4, 8... never), in
 * rounds, with value 100 * round + k: equal keys must stay in the order
 * they came, each call finding the first or the last of a run as its
 * header says, with runs that span leaves. Each search kind (the core's,
 * the int64 hook, a linear hook, hints) runs it.
 */
static int run_length(int64_t k) { return k >= 0 && k < 40 ? (int)(k % 4) : 0; }

static size_t run_start(int64_t k)
{
    size_t r = 0;
    for (int64_t j = 0; j < k && j < 40; j++)
        r += (size_t)run_length(j);
    return r;
}

static void test_multiset_runs(int search_kind)
{
    bpt *t = new_tree_with(4, search_kind, true);
    void *k, *v;
    size_t r;
    CHECK_EQ(bpt_duplicates(t), 1);
    for (int round = 0; round < 3; round++) {
        for (int64_t key = 39; key >= 0; key--) {
            if (round >= run_length(key))
                continue;
            /* After the smaller keys of the rounds so far and its equals. */
            size_t want = (size_t)round;
            for (int64_t j = 0; j < key; j++)
                want += (size_t)(run_length(j) < round ? run_length(j) : round);
            CHECK_EQ(bpt_put_rank(t, W(key), W(100 * round + key), &v, &r), BPT_OK);
            CHECK_EQ(r, want);
            CHECK_TREE(t);
        }
    }
    CHECK_EQ(bpt_size(t), run_start(40));
    CHECK(tree_height(t) >= 3);
    for (int64_t key = -1; key <= 41; key++) {
        size_t lo = run_start(key), n = (size_t)run_length(key);
        bpt_status present = n ? BPT_OK : BPT_NOTFOUND;
        CHECK_EQ(bpt_rank(t, W(key), &r), present);
        CHECK_EQ(r, lo);
        CHECK_EQ(bpt_rank_upper(t, W(key), &r), present);
        CHECK_EQ(r, lo + n);
        CHECK_EQ(bpt_get(t, W(key), &k, &v), present);
        if (n)
            CHECK_EQ(I(v), key); /* round 0: the first */
        /* floor: the run's last or the item before it; ceiling: its first
         * or the item after; lower and higher: just outside it. */
        size_t size = bpt_size(t);
        struct { bpt_status (*fn)(const bpt *, void *, void **, void **); long at; } nb[] = {
            {bpt_floor, (long)(lo + n) - 1}, {bpt_ceiling, (long)lo},
            {bpt_lower, (long)lo - 1}, {bpt_higher, (long)(lo + n)}};
        for (size_t j = 0; j < 4; j++) {
            void *want_k, *want_v;
            bool exists = nb[j].at >= 0 && nb[j].at < (long)size;
            CHECK_EQ(nb[j].fn(t, W(key), &k, &v), exists ? BPT_OK : BPT_NOTFOUND);
            if (!exists)
                continue;
            CHECK_EQ(bpt_at(t, (size_t)nb[j].at, &want_k, &want_v), BPT_OK);
            CHECK(k == want_k && v == want_v);
        }
        bpt_cursor *c;
        CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
        CHECK_EQ(bpt_cursor_seek_gt(c, W(key)), lo + n < size ? BPT_OK : BPT_NOTFOUND);
        CHECK_EQ(bpt_cursor_seek_rank(c, W(key), &r), present);
        CHECK_EQ(r, lo);
        if (n) {
            /* The run from its first item, in the order it was added. */
            for (size_t i = 0; i < n; i++, bpt_cursor_next(c)) {
                CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_OK);
                CHECK_EQ(I(k), key);
                CHECK_EQ(I(v), 100 * (int64_t)i + key);
            }
        }
        bpt_cursor_free(c);
        /* bpt_insert adds only a key that is absent. */
        if (n)
            CHECK_EQ(bpt_insert(t, W(key), W(7), &v), BPT_EXISTS);
        if (n)
            CHECK_EQ(I(v), key);
    }
    /* Removal by key takes each run's first item: rounds come out in order. */
    for (int round = 0; round < 3; round++) {
        for (int64_t key = 0; key < 40; key++) {
            if (round >= run_length(key))
                continue;
            CHECK_EQ(bpt_remove(t, W(key), &k, &v), BPT_OK);
            CHECK_EQ(I(v), 100 * round + key);
            give_back_key(k);
            give_back_value(v);
            CHECK_TREE(t);
        }
    }
    CHECK_EQ(bpt_size(t), 0);
    done(t);
}

/* test_multiset_long_runs: one key many times over, then around it. */
static void test_multiset_long_runs(void)
{
    bpt *t = new_tree_with(4, 0, true);
    void *k, *v;
    size_t r, removed;
    for (int i = 0; i < 300; i++)
        CHECK_EQ(bpt_put(t, W(7), W(i), NULL), BPT_OK);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(bpt_put(t, W(3), W(1000 + i), NULL), BPT_OK);
        CHECK_EQ(bpt_put(t, W(9), W(2000 + i), NULL), BPT_OK);
    }
    CHECK_TREE(t);
    CHECK_EQ(bpt_rank(t, W(7), &r), BPT_OK);
    CHECK_EQ(r, 50);
    CHECK_EQ(bpt_rank_upper(t, W(7), &r), BPT_OK);
    CHECK_EQ(r, 350);
    CHECK_EQ(bpt_get(t, W(7), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 0);
    CHECK_EQ(bpt_floor(t, W(7), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 299);
    CHECK_EQ(bpt_floor(t, W(8), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 299);
    CHECK_EQ(bpt_ceiling(t, W(4), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 0);
    CHECK_EQ(bpt_lower(t, W(7), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 1049);
    CHECK_EQ(bpt_higher(t, W(7), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 2000);
    for (size_t i = 0; i < 300; i++) {
        CHECK_EQ(bpt_at(t, 50 + i, &k, &v), BPT_OK);
        CHECK(I(k) == 7 && I(v) == (int64_t)i);
    }
    /* A range of one key removes its run, and only it. */
    CHECK_EQ(bpt_remove_range(t, (void *[]){W(7)}, (void *[]){W(8)}, &removed), BPT_OK);
    CHECK_EQ(removed, 300);
    CHECK_TREE(t);
    CHECK_EQ(bpt_size(t), 100);
    CHECK_EQ(bpt_get(t, W(7), NULL, NULL), BPT_NOTFOUND);
    /* Bulk load: equal neighbours are taken, a key going down is not. */
    bpt_clear(t);
    void *keys[] = {W(1), W(1), W(2), W(2), W(2), W(5), W(5)};
    void *vals[] = {W(10), W(11), W(20), W(21), W(22), W(50), W(51)};
    CHECK_EQ(bpt_bulk_load(t, keys, vals, 7), BPT_OK);
    CHECK_TREE(t);
    CHECK_EQ(bpt_rank_upper(t, W(2), &r), BPT_OK);
    CHECK_EQ(r, 5);
    CHECK_EQ(bpt_floor(t, W(2), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 22);
    bpt_clear(t);
    keys[4] = W(0);
    CHECK_EQ(bpt_bulk_load(t, keys, vals, 7), BPT_EINVAL);
    CHECK_EQ(bpt_size(t), 0);
    done(t);
    /* A map refuses the equal neighbours, and its put replaces. */
    t = new_tree(4);
    CHECK_EQ(bpt_duplicates(t), 0);
    keys[4] = W(2);
    CHECK_EQ(bpt_bulk_load(t, keys, vals, 7), BPT_EINVAL);
    CHECK_EQ(bpt_put(t, W(1), W(1), NULL), BPT_OK);
    CHECK_EQ(bpt_put(t, W(1), W(2), NULL), BPT_REPLACED);
    CHECK_EQ(bpt_rank_upper(t, W(1), &r), BPT_OK);
    CHECK_EQ(r, 1);
    done(t);
}

/*
 * test_multiset_wide_hinted_runs: in wide nodes with hints, runs of equal
 * keys longer than the linear scan of equal hints (they are counted) and
 * than 64 slots (the count halves its range first).
 */
static void test_multiset_wide_hinted_runs(void)
{
    for (int search = 3; search <= 4; search++) {
        bpt *t = new_tree_with(256, search, true);
        size_t r;
        void *v;
        for (int i = 0; i < 600; i++)
            CHECK_EQ(bpt_put(t, W(40 + i % 3), W(i), NULL), BPT_OK);
        CHECK_TREE(t);
        CHECK_EQ(bpt_rank(t, W(41), &r), BPT_OK);
        CHECK_EQ(r, 200);
        CHECK_EQ(bpt_rank_upper(t, W(41), &r), BPT_OK);
        CHECK_EQ(r, 400);
        CHECK_EQ(bpt_get(t, W(42), NULL, &v), BPT_OK);
        CHECK_EQ(I(v), 2);
        CHECK_EQ(bpt_floor(t, W(40), NULL, &v), BPT_OK);
        CHECK_EQ(I(v), 597);
        done(t);
    }
}

/*
 * test_multiset_distinct_keys: equal keys that are distinct records, freed
 * when the tree releases them (under ASan a separator that outlived its
 * record would be a use after free in the checker). A lookup returns the
 * first record added of a run, floor the last; removals take them in the
 * order they came.
 */
typedef struct boxed {
    int64_t k;
    long serial;
} boxed;

static long boxes_live;

static int boxed_compare(void *a, void *b, void *c)
{
    (void)c;
    int64_t x = ((boxed *)a)->k, y = ((boxed *)b)->k;
    return (x > y) - (x < y);
}

static void boxed_release(void *w, void *c)
{
    (void)c;
    free(w);
    boxes_live--;
}

static void test_multiset_distinct_keys(void)
{
    bpt_config cfg = {.compare = boxed_compare, .release_key = boxed_release,
                      .leaf_capacity = 4, .branch_capacity = 4, .duplicates = 1};
    bpt *t;
    void *k;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    rng r = {test_seed(5)};
    long serial = 0, first_serial[8] = {0};
    for (int i = 0; i < 2000; i++) {
        boxed *b = malloc(sizeof *b);
        CHECK(b);
        *b = (boxed){(int64_t)rng_below(&r, 8), serial++};
        boxes_live++;
        CHECK_EQ(bpt_put(t, b, NULL, NULL), BPT_OK);
        if (rng_below(&r, 3) == 0) { /* remove the first of a random run */
            boxed probe = {(int64_t)rng_below(&r, 8), -1};
            bpt_remove(t, &probe, NULL, NULL);
        }
        CHECK_TREE(t);
    }
    CHECK_EQ((long)bpt_size(t), boxes_live);
    for (int64_t key = 0; key < 8; key++) {
        boxed probe = {key, -1};
        size_t lo, hi;
        bpt_rank(t, &probe, &lo);
        bpt_rank_upper(t, &probe, &hi);
        if (lo == hi)
            continue;
        long last = -1;
        for (size_t i = lo; i < hi; i++) { /* the run, in the order it came */
            CHECK_EQ(bpt_at(t, i, &k, NULL), BPT_OK);
            CHECK(((boxed *)k)->serial > last);
            last = ((boxed *)k)->serial;
            if (i == lo)
                first_serial[key] = last;
        }
        CHECK_EQ(bpt_get(t, &probe, &k, NULL), BPT_OK);
        CHECK_EQ(((boxed *)k)->serial, first_serial[key]);
        CHECK_EQ(bpt_floor(t, &probe, &k, NULL), BPT_OK);
        CHECK_EQ(((boxed *)k)->serial, last);
    }
    bpt_free(t);
    CHECK_EQ(boxes_live, 0);
}

#ifdef BPT_HAVE_WORD64
/* test_multiset_typed: the int64 calls find a run's first item, put after it. */
static void test_multiset_typed(void)
{
    bpt *t = new_tree_with(4, 1, true);
    void *k, *v;
    size_t r;
    for (int i = 0; i < 60; i++) { /* key i % 6 after the i / 6 before it */
        size_t key = (size_t)(i % 6), before = (size_t)(i / 6);
        CHECK_EQ(bpt_put_i64_rank(t, (int64_t)key, W(i), NULL, &r), BPT_OK);
        CHECK_EQ(r, key * (before + 1) + before);
    }
    CHECK_TREE(t);
    for (int64_t key = 0; key < 6; key++) {
        CHECK_EQ(bpt_get_i64(t, key, &v), BPT_OK);
        CHECK_EQ(I(v), key);
    }
    CHECK_EQ(bpt_get_i64(t, 6, &v), BPT_NOTFOUND);
    for (int i = 0; i < 60; i++) {
        CHECK_EQ(bpt_remove_i64(t, i % 6, &k, &v), BPT_OK);
        CHECK_EQ(I(v), i);
        give_back_key(k);
        give_back_value(v);
        CHECK_TREE(t);
    }
    done(t);
}
#endif

/*
 * test_scans_across_leaves: in a deep tree of small nodes (many leaf,
 * parent and grandparent edges), full scans both ways by steps, by
 * chunked reads of every size from 1 to 9 with keys or values alone, and
 * by bpt_visit see every item in order, and the cursor's prefetch path
 * stays on its leaf; a seek to every position then reads on from there.
 */
typedef struct scan_count {
    int64_t next;
} scan_count;

static int visit_in_order(void *key, void *value, void *arg)
{
    scan_count *sc = arg;
    CHECK_EQ(bpt_word_to_i64(key), sc->next);
    CHECK_EQ(bpt_word_to_i64(value), -sc->next);
    sc->next++;
    return 0;
}

static void test_scans_across_leaves(void)
{
    bpt_config cfg = {.compare = bpt_compare_i64, .leaf_capacity = 4, .branch_capacity = 4};
    bpt *t;
    enum { N = 3000 };
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    for (int64_t i = 0; i < N; i++) { /* an odd order: scattered, unevenly filled nodes */
        int64_t k = (i * 7919) % N;
        CHECK_EQ(bpt_put(t, bpt_word_from_i64(k), bpt_word_from_i64(-k), NULL), BPT_OK);
    }
    bpt_stats st;
    bpt_get_stats(t, &st);
    CHECK(st.height >= 5);
    bpt_cursor *c;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
    int64_t want = 0;
    for (bpt_status rc = bpt_cursor_first(c); rc == BPT_OK; rc = bpt_cursor_next(c), want++) {
        void *k;
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
        CHECK_EQ(bpt_word_to_i64(k), want);
    }
    CHECK_EQ(want, N);
    for (bpt_status rc = bpt_cursor_last(c); rc == BPT_OK; rc = bpt_cursor_prev(c)) {
        void *v;
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_get(c, NULL, &v), BPT_OK);
        CHECK_EQ(bpt_word_to_i64(v), -(--want));
    }
    CHECK_EQ(want, 0);
    for (size_t max = 1; max <= 9; max++) {
        for (int back = 0; back < 2; back++) {
            void *buf[9];
            size_t got;
            int64_t seen = 0;
            bool keys_only = max % 2; /* keys alone, or values alone */
            void **keys = keys_only ? buf : NULL, **vals = keys_only ? NULL : buf;
            (back ? bpt_cursor_last : bpt_cursor_first)(c);
            while ((back ? bpt_cursor_read_prev : bpt_cursor_read)(c, keys, vals, max, &got) ==
                   BPT_OK) {
                CHECK(bpt_cursor_scan_agrees(c));
                for (size_t j = 0; j < got; j++, seen++) {
                    int64_t k = back ? N - 1 - seen : seen;
                    CHECK_EQ(bpt_word_to_i64(buf[j]), keys_only ? k : -k);
                }
            }
            CHECK_EQ(seen, N);
        }
    }
    scan_count sc = {0};
    CHECK_EQ(bpt_visit(t, visit_in_order, &sc), 0);
    CHECK_EQ(sc.next, N);
    for (size_t at = 0; at < N; at += 37) {
        void *keys[5];
        size_t got;
        CHECK_EQ(bpt_cursor_seek_at(c, at), BPT_OK);
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_read(c, keys, NULL, 5, &got), BPT_OK);
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_word_to_i64(keys[0]), (int64_t)at);
        /* seek_ge to a key past a leaf's last one lands on the next leaf */
        CHECK_EQ(bpt_cursor_seek_ge(c, bpt_word_from_i64((int64_t)at)), BPT_OK);
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_seek_gt(c, bpt_word_from_i64((int64_t)at)), BPT_OK);
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_prev(c), BPT_OK);
        CHECK(bpt_cursor_scan_agrees(c));
    }
    /* A stale cursor keeps no path to check, and steps say so. */
    CHECK_EQ(bpt_cursor_first(c), BPT_OK);
    CHECK_EQ(bpt_remove(t, bpt_word_from_i64(N / 2), NULL, NULL), BPT_OK);
    CHECK(bpt_cursor_scan_agrees(c));
    CHECK_EQ(bpt_cursor_next(c), BPT_ESTALE);
    CHECK_EQ(bpt_cursor_prev(c), BPT_ESTALE);
    bpt_cursor_free(c);
    bpt_free(t);
}

static void test_cursor(void)
{
    bpt *t = new_tree(4);
    bpt_cursor *c;
    void *k, *v;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
    /* Empty tree. */
    CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_first(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_last(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_next(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_prev(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_seek_ge(c, W(1)), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_seek_at(c, 0), BPT_NOTFOUND);

    fill(t, NULL, 200, 3); /* 0, 3, ..., 597 */
    /* Forward from the start, then back to the start. */
    CHECK_EQ(bpt_cursor_first(c), BPT_OK);
    for (int i = 0; i < 200; i++) {
        CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_OK);
        CHECK_EQ(I(k), 3 * i);
        CHECK_EQ(I(v), 3 * i + 1);
        CHECK_EQ(bpt_cursor_next(c), i < 199 ? BPT_OK : BPT_NOTFOUND);
    }
    CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_next(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_prev(c), BPT_OK); /* after the last: back to it */
    CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 597);
    for (int i = 198; i >= 0; i--) {
        CHECK_EQ(bpt_cursor_prev(c), BPT_OK);
        CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
        CHECK_EQ(I(k), 3 * i);
    }
    CHECK_EQ(bpt_cursor_prev(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_prev(c), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_next(c), BPT_OK); /* before the first: forward to it */
    CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 0);

    /* Last. */
    CHECK_EQ(bpt_cursor_last(c), BPT_OK);
    CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 597);
    /* Seeks. */
    for (int q = -2; q <= 600; q++) {
        int ge = q <= 0 ? 0 : (q + 2) / 3 * 3, gt = q < 0 ? 0 : q / 3 * 3 + 3;
        CHECK_EQ(bpt_cursor_seek_ge(c, W(q)), ge > 597 ? BPT_NOTFOUND : BPT_OK);
        if (ge <= 597) {
            CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
            CHECK_EQ(I(k), ge);
        } else {
            CHECK_EQ(bpt_cursor_prev(c), BPT_OK); /* from after the end */
            CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
            CHECK_EQ(I(k), 597);
        }
        CHECK_EQ(bpt_cursor_seek_gt(c, W(q)), gt > 597 ? BPT_NOTFOUND : BPT_OK);
        if (gt <= 597) {
            CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
            CHECK_EQ(I(k), gt);
        }
    }
    for (size_t i = 0; i < 200; i += 7) {
        CHECK_EQ(bpt_cursor_seek_at(c, i), BPT_OK);
        CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
        CHECK_EQ(I(k), 3 * (int64_t)i);
    }
    CHECK_EQ(bpt_cursor_seek_at(c, 200), BPT_NOTFOUND);

    /* Replacing a value keeps the cursor valid; structural change does not. */
    CHECK_EQ(bpt_cursor_seek_ge(c, W(300)), BPT_OK);
    CHECK_EQ(bpt_put(t, W(300), W(7), NULL), BPT_REPLACED);
    CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_OK);
    CHECK_EQ(I(v), 7);
    CHECK_EQ(bpt_put(t, W(301), W(7), NULL), BPT_OK);
    CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_ESTALE);
    CHECK_EQ(bpt_cursor_next(c), BPT_ESTALE);
    CHECK_EQ(bpt_cursor_prev(c), BPT_ESTALE);
    CHECK_EQ(bpt_cursor_seek_ge(c, W(300)), BPT_OK); /* a seek revalidates */
    CHECK_EQ(bpt_cursor_next(c), BPT_OK);
    CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 301);
    CHECK_EQ(bpt_remove(t, W(0), NULL, NULL), BPT_OK);
    CHECK_EQ(bpt_cursor_next(c), BPT_ESTALE);
    CHECK_EQ(bpt_cursor_first(c), BPT_OK);

    /* Chunked reads: keys 3, 6, ..., 597 and 301 are left. */
    void *keys[300], *vals[300];
    size_t got = 0;
    CHECK_EQ(bpt_cursor_read(c, keys, vals, 5, &got), BPT_OK);
    CHECK_EQ(got, 5);
    CHECK_EQ(I(keys[0]), 3);
    CHECK_EQ(I(vals[4]), 16);
    CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 18); /* the cursor moved past what it read */
    CHECK_EQ(bpt_cursor_read(c, keys, NULL, 300, &got), BPT_OK);
    CHECK_EQ(got, 195); /* 200 - 1 removed + 1 inserted - 5 read */
    CHECK_EQ(I(keys[194]), 597);
    CHECK_EQ(bpt_cursor_read(c, keys, vals, 10, &got), BPT_NOTFOUND);
    CHECK_EQ(got, 0);
    CHECK_EQ(bpt_cursor_prev(c), BPT_OK); /* back from after the end */
    CHECK_EQ(bpt_cursor_read_prev(c, NULL, vals, 3, &got), BPT_OK);
    CHECK_EQ(got, 3);
    CHECK_EQ(I(vals[0]), 598);
    CHECK_EQ(I(vals[2]), 592);
    CHECK_EQ(bpt_cursor_read_prev(c, keys, vals, 0, &got), BPT_OK);
    CHECK_EQ(got, 0);
    CHECK_EQ(bpt_cursor_read_prev(c, keys, vals, 1000, &got), BPT_OK);
    CHECK_EQ(got, 197);
    CHECK_EQ(I(keys[196]), 3);
    CHECK_EQ(bpt_cursor_read_prev(c, keys, vals, 1, &got), BPT_NOTFOUND);
    CHECK_EQ(bpt_cursor_next(c), BPT_OK); /* forward from before the start */
    CHECK_EQ(bpt_put(t, W(1), W(1), NULL), BPT_OK);
    CHECK_EQ(bpt_cursor_read(c, keys, vals, 1, &got), BPT_ESTALE);
    CHECK_EQ(bpt_cursor_first(c), BPT_OK);
    bpt_clear(t);
    CHECK_EQ(bpt_cursor_get(c, &k, NULL), BPT_ESTALE);
    bpt_cursor_free(c);
    bpt_cursor_free(NULL);
    done(t);
}

static void test_builtin_compare(void)
{
    /* int64 and uint64 across the whole range. */
    CHECK(bpt_compare_i64(W(INT64_MIN), W(INT64_MAX), NULL) < 0);
    CHECK(bpt_compare_i64(W(-1), W(0), NULL) < 0);
    CHECK(bpt_compare_i64(W(5), W(5), NULL) == 0);
    CHECK(bpt_compare_u64(bpt_word_from_u64(UINT64_MAX), bpt_word_from_u64(0), NULL) > 0);
    CHECK_EQ(bpt_word_to_u64(bpt_word_from_u64(UINT64_MAX)) == UINT64_MAX, 1);

    /* Doubles: numeric order, -0 == 0, NaN after +inf and equal to NaN. */
    double ds[] = {-INFINITY, -1e300, -1.5, -0.0, 0.0, 1e-300, 2.5, INFINITY, NAN};
    int rank[] = {0, 1, 2, 3, 3, 4, 5, 6, 7};
    for (int i = 0; i < 9; i++) {
        CHECK(bpt_word_to_double(bpt_word_from_double(ds[i])) == ds[i] || isnan(ds[i]));
        for (int j = 0; j < 9; j++) {
            int c = bpt_compare_double(bpt_word_from_double(ds[i]), bpt_word_from_double(ds[j]),
                                       NULL);
            int want = (rank[i] > rank[j]) - (rank[i] < rank[j]);
            CHECK_EQ((c > 0) - (c < 0), want);
        }
    }

    /* Bytes: memcmp order, a prefix first, empty strings allowed. */
    bpt_bytes e = {0, NULL}, a = {1, "a"}, ab = {2, "ab"}, b = {1, "b"}, hi = {1, "\xff"};
    CHECK(bpt_compare_bytes(&e, &a, NULL) < 0);
    CHECK(bpt_compare_bytes(&a, &ab, NULL) < 0);
    CHECK(bpt_compare_bytes(&ab, &b, NULL) < 0);
    CHECK(bpt_compare_bytes(&b, &hi, NULL) < 0); /* unsigned bytes */
    CHECK(bpt_compare_bytes(&ab, &ab, NULL) == 0);
    CHECK(bpt_compare_bytes(&e, &e, NULL) == 0);
    CHECK(bpt_compare_bytes(&hi, &e, NULL) > 0);
}

/* Each built-in search must agree with the plain lower bound. */
static void test_builtin_search(void)
{
    rng r = {42};
    void *keys[80];
    double dv[80];
    bpt_bytes bv[80];
    char text[80][4];
    for (int n = 0; n <= 80; n += 1 + n / 4) {
        for (int round = 0; round < 20; round++) {
            /* Sorted distinct ints with gaps, in [-n*4, n*4). */
            int64_t v = -4 * n + (int64_t)rng_below(&r, 3);
            for (int i = 0; i < n; i++, v += 1 + (int64_t)rng_below(&r, 3)) {
                keys[i] = W(v);
                dv[i] = (double)v / 2;
                snprintf(text[i], sizeof text[i], "%03d", (int)(v + 400));
                bv[i] = (bpt_bytes){3, text[i]};
            }
            int64_t q = -4 * n - 2 + (int64_t)rng_below(&r, (uint64_t)(8 * n + 5));
            size_t want = 0;
            while (want < (size_t)n && I(keys[want]) < q)
                want++;
            int want_exact = want < (size_t)n && I(keys[want]) == q;
            int exact = -1;
            CHECK_EQ(bpt_search_i64(keys, n, W(q), NULL, &exact), want);
            CHECK_EQ(exact, want_exact);
            exact = -1;
            CHECK_EQ(bpt_search_u64(keys, n, W(q), NULL, &exact) >= 0, 1);
            void *dkeys[80];
            for (int i = 0; i < n; i++)
                dkeys[i] = bpt_word_from_double(dv[i]);
            exact = -1;
            CHECK_EQ(bpt_search_double(dkeys, n, bpt_word_from_double((double)q / 2), NULL,
                                       &exact),
                     want);
            CHECK_EQ(exact, want_exact);
            void *bkeys[80];
            for (int i = 0; i < n; i++)
                bkeys[i] = &bv[i];
            char qt[8];
            snprintf(qt, sizeof qt, "%03d", (int)(q + 400));
            bpt_bytes qb = {3, qt};
            exact = -1;
            CHECK_EQ(bpt_search_bytes(bkeys, n, &qb, NULL, &exact), want);
            CHECK_EQ(exact, want_exact);
        }
    }
    /* uint64 order differs from int64 order for negative words. */
    void *u[] = {bpt_word_from_u64(1), bpt_word_from_u64(UINT64_MAX)};
    int exact;
    CHECK_EQ(bpt_search_u64(u, 2, bpt_word_from_u64(UINT64_MAX - 1), NULL, &exact), 1);
    CHECK_EQ(exact, 0);
}

/* Built-in comparator trees of every kind, end to end. */
static void test_builtin_trees(void)
{
    bpt *t;
    bpt_config cfg = {.compare = bpt_compare_double, .search = bpt_search_double,
                      .leaf_capacity = 4, .branch_capacity = 4};
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(bpt_put(t, bpt_word_from_double((i * 37 % 100) - 49.5), W(i), NULL), BPT_OK);
    CHECK_EQ(bpt_put(t, bpt_word_from_double(NAN), W(1), NULL), BPT_OK);
    CHECK_EQ(bpt_put(t, bpt_word_from_double(-NAN), W(2), NULL), BPT_REPLACED);
    CHECK_TREE(t);
    void *k;
    CHECK_EQ(bpt_last(t, &k, NULL), BPT_OK);
    CHECK(isnan(bpt_word_to_double(k)));
    CHECK_EQ(bpt_first(t, &k, NULL), BPT_OK);
    CHECK(bpt_word_to_double(k) == -49.5);
    bpt_free(t);

    static const char *words[] = {"pear", "apple", "fig", "", "apricot", "banana", "app"};
    bpt_bytes b[7];
    cfg = (bpt_config){.compare = bpt_compare_bytes, .search = bpt_search_bytes};
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    for (int i = 0; i < 7; i++) {
        b[i] = (bpt_bytes){strlen(words[i]), words[i]};
        CHECK_EQ(bpt_put(t, &b[i], NULL, NULL), BPT_OK);
    }
    CHECK_TREE(t);
    bpt_bytes q = {3, "apq"};
    CHECK_EQ(bpt_ceiling(t, &q, &k, NULL), BPT_OK);
    CHECK(((bpt_bytes *)k)->data == words[4]); /* "apricot" */
    bpt_free(t);
}

typedef struct visit_state {
    int64_t next_key;
    int calls, stop_after;
} visit_state;

static int visit_check(void *key, void *value, void *arg)
{
    visit_state *s = arg;
    CHECK_EQ(I(key), s->next_key);
    CHECK_EQ(I(value), s->next_key + 1);
    s->next_key += 2;
    return ++s->calls == s->stop_after ? 7 : 0;
}

static void test_visit(void)
{
    bpt *t = new_tree(4);
    visit_state s = {0, 0, 0};
    CHECK_EQ(bpt_visit(t, visit_check, &s), 0);
    CHECK_EQ(s.calls, 0);
    fill(t, NULL, 300, 2);
    long allocs = alloc.calls;
    CHECK_EQ(bpt_visit(t, visit_check, &s), 0);
    CHECK_EQ(s.calls, 300);
    CHECK_EQ(alloc.calls, allocs); /* no allocation */
    s = (visit_state){0, 0, 123};
    CHECK_EQ(bpt_visit(t, visit_check, &s), 7); /* stops when told */
    CHECK_EQ(s.calls, 123);
    done(t);
}

/* A cursor may be freed after its tree. */
static void test_cursor_outlives_tree(void)
{
    bpt *t = new_tree(4);
    bpt_cursor *c;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
    bpt_free(t);
    CHECK_EQ(alloc.live, 1);
    bpt_cursor_free(c);
    CHECK_EQ(alloc.live, 0);
}

/* A custom allocator sees every byte back, with the size it handed out. */
static void test_allocator_accounting(void)
{
    bpt *t = new_tree(6);
    bpt_cursor *c;
    CHECK_EQ(bpt_cursor_new(t, &c), BPT_OK);
    CHECK_EQ(alloc.live, 2);
    fill(t, NULL, 1000, 1);
    CHECK(alloc.bytes > 1000 * 2 * sizeof(void *));
    bpt_cursor_free(c);
    done(t);
    CHECK_EQ(alloc.bytes, 0);
}

/* leaf_fill returns the average leaf's share of the capacity, in percent. */
static double leaf_fill(const bpt *t)
{
    bpt_stats st;
    bpt_get_stats(t, &st);
    CHECK_EQ(st.items, bpt_size(t));
    /* Every block the tree holds is the header or a node: bytes must agree. */
    CHECK_EQ(st.bytes, alloc.bytes);
    return 100.0 * (double)st.items / ((double)st.leaves * bpt_leaf_capacity(t));
}

/* The library's version at run time is the header's, and the number orders
 * versions as their parts do. */
static void test_library_version(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", BPT_VERSION_MAJOR, BPT_VERSION_MINOR,
             BPT_VERSION_PATCH);
    CHECK(strcmp(bpt_libversion(), want) == 0);
    CHECK(strcmp(bpt_libversion(), BPT_VERSION_STRING) == 0);
    CHECK_EQ(bpt_libversion_number(), BPT_VERSION_NUMBER);
    CHECK_EQ(BPT_VERSION_NUMBER,
             BPT_VERSION_MAJOR * 10000 + BPT_VERSION_MINOR * 100 + BPT_VERSION_PATCH);
    CHECK(BPT_VERSION_MINOR < 100 && BPT_VERSION_PATCH < 100);
}

static void test_stats_and_fill(void)
{
    bpt *t = new_tree(16);
    bpt_stats st;
    bpt_get_stats(t, &st);
    CHECK(st.items == 0 && st.leaves == 0 && st.branches == 0 && st.height == 0);
    CHECK_EQ(st.bytes, alloc.bytes);
    uint64_t v0 = bpt_change_count(t);
    fill(t, NULL, 10000, 1); /* ascending */
    CHECK(bpt_change_count(t) > v0);
    bpt_get_stats(t, &st);
    CHECK_EQ(st.height, tree_height(t));
    CHECK(st.branches > 0 && st.leaves > st.branches);
    double ascending = leaf_fill(t);
    /* Replacing a value is not a structural change. */
    uint64_t v1 = bpt_change_count(t);
    CHECK_EQ(bpt_put(t, W(5), W(6), NULL), BPT_REPLACED);
    CHECK_EQ(bpt_change_count(t), v1);
    done(t);

    t = new_tree(16);
    for (int i = 10000; i > 0; i--)
        CHECK_EQ(bpt_put(t, W(i), W(i + 1), NULL), BPT_OK);
    CHECK_TREE(t);
    double descending = leaf_fill(t);
    done(t);

    t = new_tree(16);
    rng r = {42};
    for (int i = 0; i < 20000; i++)
        bpt_put(t, W(rng_below(&r, 1000000)), W(1), NULL);
    CHECK_TREE(t);
    double random = leaf_fill(t);
    done(t);
    printf("leaf fill at capacity 16: ascending %.1f%%, descending %.1f%%, random %.1f%%\n",
           ascending, descending, random);
    /* Splits alone leave about 53%, 53% and 69%: sharing with siblings
     * first keeps nodes much fuller. */
    CHECK(ascending > 85 && descending > 85 && random > 75);
}

/* hint_nonneg hints non-negative keys (four share each hint), not others. */
static int hint_nonneg(void *key, void *ctx, uint64_t *hint)
{
    (void)ctx;
    if (I(key) < 0)
        return 0;
    *hint = (uint64_t)I(key) >> 2;
    return 1;
}

/* new_hinted_tree is new_tree(4) with hint_nonneg. */
static bpt *new_hinted_tree(void)
{
    bpt *t = new_tree(4); /* resets the accounting */
    bpt_free(t);
    bpt_config cfg = test_config(&ctx, 4, 4, 0, &alloc);
    cfg.hint = hint_nonneg;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    return t;
}

static void test_hints(void)
{
    bpt *t = new_hinted_tree();
    ref_map m;
    ref_init(&m);
    fill(t, &m, 1000, 3); /* 0, 3, ..., 2997 */
    CHECK_EQ(leaf_fill(t) > 0, 1); /* and the byte accounting agrees */

    /* Only keys sharing the sought key's hint are compared. */
    long before = ctx.cmp_calls;
    void *v;
    CHECK_EQ(bpt_get(t, W(1500), NULL, &v), BPT_OK);
    CHECK_EQ(I(v), 1501);
    CHECK(ctx.cmp_calls - before <= 2);
    before = ctx.cmp_calls;
    CHECK_EQ(bpt_get(t, W(5000), NULL, NULL), BPT_NOTFOUND);
    CHECK_EQ(ctx.cmp_calls, before); /* no key has its hint */

    /* A key without a hint is sought by comparisons, and never stored. */
    void *k;
    CHECK_EQ(bpt_get(t, W(-5), NULL, NULL), BPT_NOTFOUND);
    CHECK_EQ(bpt_floor(t, W(-5), NULL, NULL), BPT_NOTFOUND);
    CHECK_EQ(bpt_ceiling(t, W(-5), &k, NULL), BPT_OK);
    CHECK_EQ(I(k), 0);
    size_t rank = 9;
    CHECK_EQ(bpt_rank(t, W(-5), &rank), BPT_NOTFOUND);
    CHECK_EQ(rank, 0);
    uint64_t fp = tree_fingerprint(t);
    CHECK_EQ(bpt_put(t, W(-5), W(1), NULL), BPT_EINVAL);
    CHECK_EQ(bpt_insert(t, W(-5), W(1), NULL), BPT_EINVAL);
    CHECK(tree_fingerprint(t) == fp);
    CHECK_MATCH(t, &m);
    CHECK(refs_match(&refs, &m));
    done(t);
    ref_free(&m);

    t = new_hinted_tree();
    CHECK_EQ(bpt_put(t, W(-1), W(1), NULL), BPT_EINVAL); /* the first key, too */
    void *keys[] = {W(1), W(-2)};
    CHECK_EQ(bpt_bulk_load(t, keys, NULL, 2), BPT_EINVAL);
    CHECK_EQ(bpt_bulk_load(t, keys + 1, NULL, 1), BPT_EINVAL); /* the first one */
    void *backwards[] = {W(8), W(1)};
    CHECK_EQ(bpt_bulk_load(t, backwards, NULL, 2), BPT_EINVAL); /* told by the hints */
    void *same_hint[] = {W(9), W(8)};
    CHECK_EQ(bpt_bulk_load(t, same_hint, NULL, 2), BPT_EINVAL); /* by the comparator */
    CHECK_EQ(bpt_size(t), 0);
    void *good[] = {W(1), W(8), W(9)};
    CHECK_EQ(bpt_bulk_load(t, good, good, 3), BPT_OK);
    CHECK_TREE(t);
    done(t);
}

/*
 * Nodes wider than 64 keys narrow a node search by halving before they
 * count; bpt_get_i64 answers as bpt_get does, with and without hints, and
 * bpt_put_i64 and bpt_remove_i64 as bpt_put and bpt_remove (bpt_put_i64
 * refuses a tree with hints); all refuse a tree of another order.
 */
static void test_wide_nodes(void)
{
    for (int hinted = 0; hinted < 2; hinted++) {
        bpt_config cfg = {.compare = bpt_compare_i64, .leaf_capacity = 300,
                          .branch_capacity = 300, .hint = hinted ? hint_nonneg : NULL};
        bpt *t;
        CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
        for (int64_t i = 0; i < 40000; i += 2)
            CHECK_EQ(bpt_put(t, W(i), W(i + 1), NULL), BPT_OK);
        for (int64_t i = -3; i < 40003; i++) {
            void *v = NULL, *typed = NULL;
            bool present = i >= 0 && i < 40000 && i % 2 == 0;
            CHECK_EQ(bpt_get(t, W(i), NULL, &v), present ? BPT_OK : BPT_NOTFOUND);
            CHECK_EQ(bpt_get_i64(t, i, &typed), present ? BPT_OK : BPT_NOTFOUND);
            if (present)
                CHECK(I(v) == i + 1 && I(typed) == i + 1);
        }
        bpt_check_report r;
        if (hinted) {
            CHECK_EQ(bpt_put_i64(t, 1, W(2), NULL), BPT_EINVAL);
            CHECK_EQ(bpt_size(t), (size_t)20000);
        } else {
            /* Odd keys in typed, replacing every tenth even value on the way. */
            for (int64_t i = 1; i < 40000; i += 2) {
                void *old = NULL;
                CHECK_EQ(bpt_put_i64(t, i, W(-i), NULL), BPT_OK);
                if (i % 10 == 1) {
                    CHECK_EQ(bpt_put_i64(t, i - 1, W(7), &old), BPT_REPLACED);
                    CHECK_EQ(I(old), i);
                }
            }
            CHECK_EQ(bpt_size(t), (size_t)40000);
            CHECK_EQ(bpt_check(t, &r), BPT_INV_OK);
        }
        /* Every key from 0 up in typed removes, half of them absent when hinted. */
        for (int64_t i = 0; i < 40000; i++) {
            void *k = NULL, *v = NULL;
            bool present = !hinted || i % 2 == 0;
            CHECK_EQ(bpt_remove_i64(t, i, &k, &v), present ? BPT_OK : BPT_NOTFOUND);
            if (present && !hinted)
                CHECK(I(k) == i && I(v) == (i % 2 ? -i : i % 10 == 0 ? 7 : i + 1));
        }
        CHECK_EQ(bpt_size(t), (size_t)0);
        CHECK_EQ(bpt_check(t, &r), BPT_INV_OK);
        bpt_free(t);
    }
    bpt_config other = {.compare = bpt_compare_double};
    bpt *t;
    CHECK_EQ(bpt_new(&other, &t), BPT_OK);
    CHECK_EQ(bpt_get_i64(t, 1, NULL), BPT_EINVAL);
    CHECK_EQ(bpt_put_i64(t, 1, W(1), NULL), BPT_EINVAL);
    CHECK_EQ(bpt_remove_i64(t, 1, NULL, NULL), BPT_EINVAL);
    CHECK_EQ(bpt_size(t), (size_t)0);
    bpt_free(t);
}

int main(void)
{
    RUN(test_status_str);
    RUN(test_new_rejects_bad_config);
    RUN(test_new_defaults_and_free);
    RUN(test_put_insert_get);
    RUN(test_remove);
    RUN(test_first_last_neighbours);
    RUN(test_pop);
    RUN(test_clear);
    RUN(test_copy);
    RUN(test_bulk_load);
    RUN(test_remove_range);
    RUN(test_rank_at);
    RUN(test_positions_and_undo);
    RUN(test_cursor);
    RUN(test_scans_across_leaves);
    RUN(test_builtin_compare);
    RUN(test_builtin_search);
    RUN(test_builtin_trees);
    RUN(test_visit);
    RUN(test_cursor_outlives_tree);
    RUN(test_allocator_accounting);
    RUN(test_library_version);
    RUN(test_stats_and_fill);
    RUN(test_hints);
    RUN(test_wide_nodes);
    for (int search = 0; search < TEST_SEARCH_KINDS; search++)
        test_multiset_runs(search);
    printf("ok test_multiset_runs\n");
    RUN(test_multiset_long_runs);
    RUN(test_multiset_distinct_keys);
    RUN(test_multiset_wide_hinted_runs);
#ifdef BPT_HAVE_WORD64
    RUN(test_multiset_typed);
#endif
    return 0;
}
