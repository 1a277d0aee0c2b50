/*
 * test_check.c — the checker's own tests: for each invariant, corrupt a
 * healthy tree on purpose (reaching into the node layout, the test-only hook
 * that bpt_internal.h gives) and assert that the checker names exactly that
 * invariant, and where.
 */
#include "testlib.h"

#include "bpt_internal.h"

#include <string.h>

static test_ctx ctx;

/*
 * healthy builds a tree of n keys 0, 10, 20... (value = key) with capacity 4
 * by bulk load, so its shape is known: leaves of 4 keys, branches of 4.
 */
static bpt *healthy_with(size_t n, int search_kind)
{
    bpt *t;
    memset(&ctx, 0, sizeof ctx);
    bpt_config cfg = test_config(&ctx, 4, 4, search_kind, NULL);
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    void **keys = malloc(n * sizeof *keys);
    CHECK(keys || n == 0);
    for (size_t i = 0; i < n; i++)
        keys[i] = W(10 * (int64_t)i);
    CHECK_EQ(bpt_bulk_load(t, keys, keys, n), BPT_OK);
    free(keys);
    CHECK_TREE(t);
    return t;
}

static bpt *healthy(size_t n)
{
    return healthy_with(n, 0);
}

static bpt_branch *root_branch(bpt *t)
{
    CHECK(!t->root->leaf);
    return (bpt_branch *)t->root;
}

static bpt_node *child(bpt *t, bpt_node *n, uint32_t i)
{
    CHECK(!n->leaf && i < n->n);
    return branch_children(t, (bpt_branch *)n)[i];
}

/* expect asserts that the checker reports inv at the given depth. */
static void expect(bpt *t, bpt_invariant inv, int depth)
{
    bpt_check_report r;
    bpt_invariant got = bpt_check(t, &r);
    if (got != inv || r.invariant != inv || r.depth != depth)
        test_fail(__FILE__, __LINE__, "expected %s at depth %d, got %s at depth %d: %s",
                  bpt_invariant_name(inv), depth, bpt_invariant_name(got), r.depth, r.message);
    CHECK(strlen(r.message) > 0);
    CHECK(bpt_check(t, NULL) == inv); /* the report is optional */
}

static void test_healthy_trees_pass(void)
{
    for (size_t n = 0; n < 300; n += 1 + n / 3) {
        bpt *t = healthy(n);
        bpt_check_report r;
        CHECK_EQ(bpt_check(t, &r), BPT_INV_OK);
        CHECK_EQ(r.invariant, BPT_INV_OK);
        bpt_free(t);
    }
}

static void test_names(void)
{
    for (int i = BPT_INV_OK; i <= BPT_INV_HINT; i++) {
        CHECK(strcmp(bpt_invariant_name((bpt_invariant)i), "unknown") != 0);
        for (int j = BPT_INV_OK; j < i; j++)
            CHECK(strcmp(bpt_invariant_name((bpt_invariant)i),
                         bpt_invariant_name((bpt_invariant)j)) != 0);
    }
    CHECK(strcmp(bpt_invariant_name((bpt_invariant)99), "unknown") == 0);
}

static void test_key_order(void)
{
    bpt *t = healthy(64);
    bpt_leaf *l = t->first->next;
    void *tmp = leaf_keys(l)[1];
    leaf_keys(l)[1] = leaf_keys(l)[2];
    leaf_keys(l)[2] = tmp;
    expect(t, BPT_INV_KEY_ORDER, t->height - 1);
    leaf_keys(l)[2] = leaf_keys(l)[1];
    leaf_keys(l)[1] = tmp;
    CHECK_TREE(t);
    /* In a branch: swap two separators of the root. */
    void **sep = branch_keys(t, root_branch(t));
    tmp = sep[0];
    sep[0] = sep[1];
    sep[1] = tmp;
    expect(t, BPT_INV_KEY_ORDER, 0);
    bpt_free(t);
}

/*
 * A multiset's keys may repeat, within a node and across a separator, but
 * not go down; a map's may not repeat at all.
 */
static void test_multiset_key_order(void)
{
    bpt *t;
    memset(&ctx, 0, sizeof ctx);
    bpt_config cfg = test_config(&ctx, 4, 4, 0, NULL);
    cfg.duplicates = 1;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    for (int i = 0; i < 40; i++) /* 0 0 0 0 0 1 1 1 1 1 ...: runs across leaves */
        CHECK_EQ(bpt_put(t, W(i / 5), W(i), NULL), BPT_OK);
    CHECK_TREE(t);
    bpt_leaf *l = t->first->next;
    void *was = leaf_keys(l)[1];
    leaf_keys(l)[1] = W(I(leaf_keys(l)[0]) - 1); /* below the key before it */
    expect(t, BPT_INV_KEY_ORDER, t->height - 1);
    leaf_keys(l)[1] = was;
    CHECK_TREE(t);
    /* A leaf's last key above the separator to its right. */
    l = t->first;
    was = leaf_keys(l)[l->h.n - 1];
    leaf_keys(l)[l->h.n - 1] = W(I(leaf_keys(l->next)[0]) + 1);
    expect(t, BPT_INV_KEY_BOUNDS, t->height - 1);
    leaf_keys(l)[l->h.n - 1] = was;
    CHECK_TREE(t);
    bpt_free(t);
    /* The same equal neighbours in a map break its order. */
    t = healthy(64);
    l = t->first->next;
    leaf_keys(l)[1] = leaf_keys(l)[0];
    expect(t, BPT_INV_KEY_ORDER, t->height - 1);
    bpt_free(t);
}

/* Records ordered by k, with a hint function that reads h: a liar when two
 * equal records have different h. */
typedef struct rec {
    int64_t k;
    uint64_t h;
} rec;

static int rec_compare(void *a, void *b, void *c)
{
    (void)c;
    int64_t x = ((rec *)a)->k, y = ((rec *)b)->k;
    return (x > y) - (x < y);
}

static int rec_hint(void *key, void *c, uint64_t *hint)
{
    (void)c;
    *hint = ((rec *)key)->h;
    return 1;
}

/*
 * In a multiset, equal keys must have equal hints: a search compares only
 * the keys that share the sought key's hint, so a run split between two
 * hints hides some of its keys. (In a map, equal neighbours already break
 * the order.)
 */
static void test_multiset_equal_keys_share_hints(void)
{
    rec recs[] = {{1, 1}, {5, 5}, {5, 6}, {9, 9}};
    bpt_config cfg = {.compare = rec_compare, .hint = rec_hint, .leaf_capacity = 4,
                      .branch_capacity = 4, .duplicates = 1};
    bpt *t;
    CHECK_EQ(bpt_new(&cfg, &t), BPT_OK);
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ(bpt_put(t, &recs[i], NULL, NULL), BPT_OK);
    expect(t, BPT_INV_HINT, 0);
    recs[2].h = 5; /* now the run shares its hint, and leaf 0 stores 6 for it */
    expect(t, BPT_INV_HINT, 0);
    leaf_hints(t, t->first)[2] = 5;
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_key_bounds(void)
{
    bpt *t = healthy(64);
    /* The first leaf's last key (30) moved past its right separator (40). */
    bpt_leaf *l = t->first;
    leaf_keys(l)[l->h.n - 1] = W(45);
    expect(t, BPT_INV_KEY_BOUNDS, t->height - 1);
    leaf_keys(l)[l->h.n - 1] = W(30);
    CHECK_TREE(t);
    /* The second leaf's keys all below its left separator: first key too. */
    bpt_free(t);
    t = healthy(64);
    bpt_node *mid = child(t, t->root, 1); /* a branch under the root */
    void **sep = branch_keys(t, (bpt_branch *)mid);
    sep[mid->n - 2] = W(10 * 64 + 5); /* beyond the root's bound for child 1 */
    expect(t, BPT_INV_KEY_BOUNDS, 1);
    bpt_free(t);
}

static void test_separator(void)
{
    bpt *t = healthy(64);
    /* Root separator 0 names the first key of child 1: move it a little. */
    void **sep = branch_keys(t, root_branch(t));
    int64_t was = I(sep[0]);
    sep[0] = W(was - 5); /* still between the subtrees, but not their key */
    expect(t, BPT_INV_SEPARATOR, t->height - 1);
    sep[0] = W(was);
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_fill(void)
{
    bpt *t = healthy(64);
    bpt_leaf *l = t->last;
    CHECK(l->h.n == 4);
    l->h.n = 1; /* min fill of capacity 4 is 2 */
    expect(t, BPT_INV_FILL, t->height - 1);
    l->h.n = 5; /* over capacity */
    expect(t, BPT_INV_FILL, t->height - 1);
    l->h.n = 4;
    CHECK_TREE(t);
    /* A branch below the root with one child. */
    bpt_node *b = child(t, t->root, 0);
    uint32_t was = b->n;
    b->n = 1;
    expect(t, BPT_INV_FILL, 1);
    b->n = was;
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_root(void)
{
    bpt *t = healthy(64);
    uint32_t was = t->root->n;
    t->root->n = 1; /* a branch root needs two children */
    expect(t, BPT_INV_ROOT, 0);
    t->root->n = 5; /* over capacity */
    expect(t, BPT_INV_ROOT, 0);
    t->root->n = was;
    CHECK_TREE(t);
    t->height = 0;
    expect(t, BPT_INV_ROOT, -1);
    t->height = BPT_MAX_HEIGHT + 1;
    expect(t, BPT_INV_ROOT, -1);
    bpt_free(t);
    /* An empty tree that claims items. */
    t = healthy(0);
    t->size = 3;
    expect(t, BPT_INV_ROOT, -1);
    t->size = 0;
    CHECK_TREE(t);
    bpt_free(t);
    /* A lone root leaf with no keys. */
    t = healthy(3);
    t->root->n = 0;
    expect(t, BPT_INV_ROOT, 0);
    t->root->n = 3;
    bpt_free(t);
}

static void test_depth(void)
{
    bpt *t = healthy(64);
    t->height++; /* leaves now sit above the bottom level */
    expect(t, BPT_INV_DEPTH, t->height - 2);
    t->height -= 2; /* branches now sit on the bottom level */
    expect(t, BPT_INV_DEPTH, t->height - 1);
    t->height++;
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_leaf_chain(void)
{
    bpt *t = healthy(64);
    bpt_leaf *a = t->first, *b = a->next, *c = b->next;
    a->next = c; /* forward chain skips b */
    expect(t, BPT_INV_LEAF_CHAIN, t->height - 1);
    a->next = b;
    c->prev = a; /* backward chain skips b */
    expect(t, BPT_INV_LEAF_CHAIN, t->height - 1);
    c->prev = b;
    t->first = b;
    expect(t, BPT_INV_LEAF_CHAIN, t->height - 1);
    t->first = a;
    bpt_leaf *z = t->last;
    t->last = z->prev;
    expect(t, BPT_INV_LEAF_CHAIN, t->height - 1);
    t->last = z;
    z->next = a; /* a cycle through the chain */
    expect(t, BPT_INV_LEAF_CHAIN, t->height - 1);
    z->next = NULL;
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_count(void)
{
    bpt *t = healthy(64);
    bpt_branch *r = root_branch(t);
    branch_counts(t, r)[0]++;
    branch_counts(t, r)[1]--; /* the total still matches the size */
    expect(t, BPT_INV_COUNT, 0);
    branch_counts(t, r)[0]--;
    branch_counts(t, r)[1]++;
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_size(void)
{
    bpt *t = healthy(64);
    t->size++;
    expect(t, BPT_INV_SIZE, -1);
    t->size--;
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_cycle(void)
{
    bpt *t = healthy(64);
    bpt_node **kids = branch_children(t, root_branch(t));
    bpt_node *was = kids[1];
    kids[1] = t->root; /* the root is its own child */
    expect(t, BPT_INV_CYCLE, 0);
    kids[1] = was;
    CHECK_TREE(t);
    bpt_free(t);
}

/* A comparator that fails while checking is reported, not mistaken. */
static void test_hints(void)
{
    /* Keys 0, 10, 20...: test_hint gives 0, 1, 2, 3, 5... (key / 8). */
    bpt *t = healthy_with(64, 3);
    bpt_leaf *first = t->first;
    leaf_hints(t, first)[2]++; /* not the key's own hint */
    expect(t, BPT_INV_HINT, t->height - 1);
    leaf_hints(t, first)[2]--;
    CHECK_TREE(t);
    bpt_branch *b = root_branch(t);
    branch_hints(t, b)[0] ^= 1; /* a separator's */
    expect(t, BPT_INV_HINT, 0);
    branch_hints(t, b)[0] ^= 1;
    bpt_free(t);

    /* A hint function that breaks the order: hints must never go down. */
    t = healthy_with(64, 3);
    bpt_leaf *l = t->first;
    void *k = leaf_keys(l)[1];
    leaf_keys(l)[1] = W(-80); /* its hint is smaller; then fix the hint... */
    test_hint(W(-80), NULL, &leaf_hints(t, l)[1]);
    bpt_check_report r;
    CHECK_EQ(bpt_check(t, &r), BPT_INV_HINT); /* ...which now goes down */
    leaf_keys(l)[1] = k;
    test_hint(k, NULL, &leaf_hints(t, l)[1]);
    CHECK_TREE(t);
    bpt_free(t);
}

static void test_compare_failure(void)
{
    bpt *t = healthy(64);
    bpt_check_report r;
    ctx.cmp_fail_at = ctx.cmp_calls + 5;
    CHECK_EQ(bpt_check(t, &r), BPT_INV_COMPARE);
    CHECK_EQ(r.invariant, BPT_INV_COMPARE);
    ctx.cmp_fail_at = 0;
    CHECK_TREE(t);
    bpt_free(t);
}

int main(void)
{
    RUN(test_healthy_trees_pass);
    RUN(test_names);
    RUN(test_key_order);
    RUN(test_multiset_key_order);
    RUN(test_multiset_equal_keys_share_hints);
    RUN(test_key_bounds);
    RUN(test_separator);
    RUN(test_fill);
    RUN(test_root);
    RUN(test_depth);
    RUN(test_leaf_chain);
    RUN(test_count);
    RUN(test_size);
    RUN(test_cycle);
    RUN(test_hints);
    RUN(test_compare_failure);
    return 0;
}
