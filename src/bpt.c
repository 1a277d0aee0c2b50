/*
 * bpt.c — the B+ tree core.
 *
 * Shape: leaves hold keys and values and form a doubly linked chain; branches
 * hold separators, children and per-child item counts. Each node has room for
 * one item more than its capacity, so an insert always goes into the node
 * first; an overfull node then evens out with a sibling that has room, or
 * is split in two: no three-way merge of old items, new item and new node.
 *
 * Error model: every operation does all its comparisons and allocations
 * before its first structural change (see docs/design.md). Separators are
 * maintained structurally — each one is the very word stored as the first key
 * of its right subtree — so they stay valid whatever a comparator answers.
 *
 * Conventions for the static functions: 0 or -1 where there are two
 * outcomes, success and failure (out of memory or a failed comparison, as
 * each says); a bool for a yes-or-no answer that cannot fail; a named enum
 * where there are more outcomes: bpt_status for a descent (BPT_OK when the
 * key is present, BPT_NOTFOUND, BPT_ECMP) and overflow_action for an
 * overfull node; out-parameters for values. A search within a node returns
 * the position it found, or -1 when a comparison failed.
 *
 * Map, in file order:
 *
 *   Status names ............ bpt_status_str
 *   Memory and nodes ........ the allocator, node sizes, slots (a key and its
 *                             hint), retaining and releasing items, walking
 *                             and freeing a subtree
 *   Search in a node ........ search_keys (comparator or search hook),
 *                             search_hinted (first narrowed by hints), the
 *                             branch-free int64 and hint counts, and search_by,
 *                             which picks one (key_search: BY_HOOKS, BY_I64)
 *   Descents ................ prefetching the next node, the path, descents
 *                             to a key's bound (descend_by, descend_bound) and
 *                             to either end; resolving a leaf position
 *   Life cycle .............. new, clear, free, stats, copy
 *   Lookups ................. get (and get_i64), first and last, floor,
 *                             ceiling, lower and higher
 *   Ranks ................... descents by position, the rank of a path or a
 *                             key, the item at a rank
 *   Node surgery ............ separators, moving entries within and between
 *                             nodes, a branch gaining or losing a child
 *   Siblings: even out and merge .. rebalance_pair, which insert (overfull)
 *                             and delete (underfull) both use
 *   Insert: split and overflow .... insert_at: reserve_splits, leaf_insert,
 *                             resolve_overflow (share, split, grow the root)
 *   Delete: take items, restore the fill .. remove_span: take_items,
 *                             restore_fill, collapse_root
 *   Updates ................. put, insert and remove by key (and by int64),
 *                             pops, by position, ranges
 *   Bulk load ............... check_sorted, then plan, allocate, fill the
 *                             leaves, link the branches
 *   Scans and prefetch ...... the scan path: the branches above a scan's
 *                             leaf, by which it prefetches leaves ahead;
 *                             bpt_visit
 *   Cursors ................. seeking, stepping and chunked reads, on the scan
 *                             path
 */
#include "bpt_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- Status names --------------------------------------------------------- */

const char *bpt_status_str(bpt_status status)
{
    switch (status) {
    case BPT_OK: return "ok";
    case BPT_NOTFOUND: return "not found";
    case BPT_EXISTS: return "exists";
    case BPT_REPLACED: return "replaced";
    case BPT_ENOMEM: return "out of memory";
    case BPT_ECMP: return "comparison failed";
    case BPT_EINVAL: return "invalid argument";
    case BPT_ESTALE: return "cursor invalidated by a modification";
    }
    return "unknown status";
}

/* ---- Memory and nodes ----------------------------------------------------- */

static void *default_alloc(size_t size, void *ctx)
{
    (void)ctx;
    return malloc(size);
}

static void default_free(void *ptr, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    free(ptr);
}

static void *mem_alloc(const bpt_allocator *a, size_t size)
{
    return a->alloc(size, a->ctx);
}

static void mem_free(const bpt_allocator *a, void *ptr, size_t size)
{
    a->free(ptr, size, a->ctx);
}

/* Nodes have room for cap + 1 items, and their hints (see bpt_internal.h). */
static size_t leaf_bytes(const bpt *t)
{
    size_t base = leaf_base_bytes(t);
    if (!t->cfg.hint)
        return base;
    return hints_at(base) + ((size_t)t->cfg.leaf_capacity + 1) * sizeof(uint64_t);
}

static size_t branch_bytes(const bpt *t)
{
    size_t base = branch_base_bytes(t);
    if (!t->cfg.hint)
        return base;
    return hints_at(base) + ((size_t)t->cfg.branch_capacity + 1) * sizeof(uint64_t);
}

static size_t node_bytes(const bpt *t, bool leaf) { return leaf ? leaf_bytes(t) : branch_bytes(t); }

/*
 * A key as nodes hold it: the word and, in a tree with hints, its hint.
 * Separators are copied from the slot of the key they name, hint and all.
 */
typedef struct slot {
    void *key;
    uint64_t hint;
} slot;

static slot leaf_slot(const bpt *t, bpt_leaf *l, uint32_t i)
{
    uint64_t *h = leaf_hints(t, l);
    return (slot){leaf_keys(l)[i], h ? h[i] : 0};
}

static slot branch_slot(const bpt *t, bpt_branch *b, uint32_t i)
{
    uint64_t *h = branch_hints(t, b);
    return (slot){branch_keys(t, b)[i], h ? h[i] : 0};
}

static void set_leaf_slot(const bpt *t, bpt_leaf *l, uint32_t i, slot k)
{
    uint64_t *h = leaf_hints(t, l);
    leaf_keys(l)[i] = k.key;
    if (h)
        h[i] = k.hint;
}

static void set_branch_slot(const bpt *t, bpt_branch *b, uint32_t i, slot k)
{
    uint64_t *h = branch_hints(t, b);
    branch_keys(t, b)[i] = k.key;
    if (h)
        h[i] = k.hint;
}

/*
 * key_slot makes the slot of a key a caller passed in; false when the tree
 * has hints and the key has none (it can be sought, not stored).
 */
static bool key_slot(const bpt *t, void *key, slot *out)
{
    out->key = key;
    out->hint = 0;
    return !t->cfg.hint || t->cfg.hint(key, t->cfg.ctx, &out->hint);
}

static bpt_node *node_new(const bpt *t, bool leaf)
{
    bpt_node *n = mem_alloc(&t->cfg.allocator, node_bytes(t, leaf));
    if (!n)
        return NULL;
    n->n = 0;
    n->leaf = leaf;
    if (leaf) {
        bpt_leaf *l = (bpt_leaf *)n;
        l->prev = l->next = NULL;
    }
    return n;
}

static void node_free(const bpt *t, bpt_node *n)
{
    mem_free(&t->cfg.allocator, n, node_bytes(t, n->leaf));
}

static void retain_item(const bpt *t, void *key, void *value)
{
    if (t->cfg.retain_key)
        t->cfg.retain_key(key, t->cfg.ctx);
    if (t->cfg.retain_value)
        t->cfg.retain_value(value, t->cfg.ctx);
}

static void release_key(const bpt *t, void *key)
{
    if (t->cfg.release_key)
        t->cfg.release_key(key, t->cfg.ctx);
}

static void release_value(const bpt *t, void *value)
{
    if (t->cfg.release_value)
        t->cfg.release_value(value, t->cfg.ctx);
}

/*
 * walk_nodes calls fn(t, node, arg) for every node under root in post-order
 * (children before their parent), without recursion, so fn may free the
 * node. Branches may be partly built: only their first n children are
 * visited.
 */
static void walk_nodes(const bpt *t, bpt_node *root, void (*fn)(const bpt *, bpt_node *, void *),
                       void *arg)
{
    bpt_node *stack[BPT_MAX_HEIGHT + 1];
    uint32_t next[BPT_MAX_HEIGHT + 1];
    int sp = 0;

    if (!root)
        return;
    stack[0] = root;
    next[0] = 0;
    while (sp >= 0) {
        bpt_node *n = stack[sp];
        if (!n->leaf && next[sp] < n->n) {
            bpt_node *child = branch_children(t, (bpt_branch *)n)[next[sp]++];
            stack[++sp] = child;
            next[sp] = 0;
            continue;
        }
        fn(t, n, arg);
        sp--;
    }
}

/* free_node frees a node, first releasing a leaf's items when *release. */
static void free_node(const bpt *t, bpt_node *n, void *release)
{
    if (n->leaf && *(bool *)release) {
        bpt_leaf *l = (bpt_leaf *)n;
        for (uint32_t i = 0; i < l->h.n; i++) {
            release_key(t, leaf_keys(l)[i]);
            release_value(t, leaf_vals(t, l)[i]);
        }
    }
    node_free(t, n);
}

/* subtree_free frees every node under root, releasing items when release. */
static void subtree_free(const bpt *t, bpt_node *root, bool release)
{
    walk_nodes(t, root, free_node, &release);
}

/* ---- Search in a node ----------------------------------------------------- */

/*
 * search_keys returns the lower bound of key in keys[0..n) (the first key
 * not less than key) and sets *exact when that key is equal to key; with
 * upper, the upper bound (the first key greater than key) and *exact when
 * the key before it is equal to key. Returns -1 when a comparison fails. It
 * uses the embedder's hook when there is one, and clamps its answer into
 * [0, n]; the hook gives a lower bound, which a binary search over the keys
 * after it carries past the equal ones for upper, asking the hook about one
 * key at a time (not the comparator: the hook may read the sought key
 * differently, as the Python package's does).
 */
static int search_keys(const bpt *t, void *const *keys, int n, void *key, bool upper,
                       int *exact)
{
    int lo = 0, hi = n, lo_equal = 0, hi_equal = 0; /* keys[lo - 1], keys[hi] equal key */
    if (t->cfg.search) {
        int e = 0;
        int i = t->cfg.search(keys, n, key, t->cfg.ctx, &e);
        if (i < 0)
            return -1;
        if (i >= n) {
            *exact = 0;
            return n;
        }
        *exact = e != 0;
        if (!upper || !e)
            return i;
        lo = i + 1; /* keys[i] is equal: the upper bound is past it */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            int r = t->cfg.search(keys + mid, 1, key, t->cfg.ctx, &e);
            if (r < 0)
                return -1;
            if (r == 0 && e) /* keys[mid] is equal too */
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = t->cfg.compare(keys[mid], key, t->cfg.ctx);
        if (c == BPT_CMP_ERROR)
            return -1;
        if (c < 0 || (upper && c == 0)) {
            lo = mid + 1;
            lo_equal = c == 0;
        } else {
            hi = mid;
            hi_equal = c == 0;
        }
    }
    *exact = upper ? lo_equal : lo < n && hi_equal;
    return lo;
}

/*
 * DEFINE_COUNT(name, T, E, VALUE, OP) defines name(a, n, x): how many of
 * the n sorted elements a[0..n) (of type E, read as a T by VALUE) stand in
 * relation OP (< or <=) to x. A binary search is a chain of dependent loads, each step
 * waiting for the one before; this halves the range branch-free only while
 * more than 64 remain, then counts in two rounds of independent
 * comparisons: the last element of each block of eight finds the block,
 * and that block's elements are counted.
 */
#define DEFINE_COUNT(name, T, E, VALUE, OP)                                                     \
    static inline int name(const E *a, int n, T x)                                             \
    {                                                                                          \
        int from = 0;                                                                          \
        while (n > 64) {                                                                       \
            int half = n / 2;                                                                  \
            T v = VALUE(a[from + half - 1]);                                                   \
            from += half & -(int)(v OP x);                                                     \
            n -= half;                                                                         \
        }                                                                                      \
        int blocks = n / 8, b = 0;                                                             \
        for (int j = 0; j < blocks; j++) {                                                     \
            T v = VALUE(a[from + 8 * j + 7]);                                                  \
            b += v OP x;                                                                       \
        }                                                                                      \
        int lo = from + 8 * b, hi = lo + 8 < from + n ? lo + 8 : from + n, c = 0;              \
        for (int j = lo; j < hi; j++) {                                                        \
            T v = VALUE(a[j]);                                                                 \
            c += v OP x;                                                                       \
        }                                                                                      \
        return lo + c;                                                                         \
    }

#define HINT_VALUE(h) (h)
DEFINE_COUNT(count_hints_below, uint64_t, uint64_t, HINT_VALUE, <)
DEFINE_COUNT(count_hints_at_most, uint64_t, uint64_t, HINT_VALUE, <=)
#ifdef BPT_HAVE_WORD64
typedef void *word; /* so that const word is a const pointer */
DEFINE_COUNT(count_i64_at_most, int64_t, word, bpt_word_to_i64, <=)
DEFINE_COUNT(count_i64_below, int64_t, word, bpt_word_to_i64, <)
#endif

/*
 * search_hinted is search_keys over a node's keys[0..n) (with their hints,
 * NULL without) for the key of slot k. With hints, only the keys whose hint
 * equals k's are compared: none when no hint does.
 */
static int search_hinted(const bpt *t, void *const *keys, const uint64_t *hints, int n,
                         slot k, bool upper, int *exact)
{
    int lo = 0, hi = n;
    if (hints) {
        lo = count_hints_below(hints, n, k.hint);
        for (hi = lo; hi < n && hi - lo < 8 && hints[hi] == k.hint;) /* few keys share a hint */
            hi++;
        if (hi - lo == 8) /* many do: a multiset's run of equal keys */
            hi = lo + count_hints_at_most(hints + lo, n - lo, k.hint);
        if (lo == hi) {
            *exact = 0;
            return lo;
        }
    }
    int i = search_keys(t, keys + lo, hi - lo, k.key, upper, exact);
    return i < 0 ? -1 : lo + i;
}

/*
 * Prefetching helpers must be inlined: a function whose only effects are
 * prefetches counts as having none, and GCC deletes calls to it. search_by
 * and descend_by are forced inline too: each call site passes a constant
 * key_search, and gets a descent with that one kind of search.
 */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH_INLINE static inline __attribute__((always_inline))
#else
#define PREFETCH_INLINE static inline
#endif

/*
 * How the *_by functions search a node (search_by): BY_HOOKS through the
 * tree's comparator or search hook, narrowed by hints (search_hinted);
 * BY_I64 over the int64s in the words, counted in place with no hook, for a
 * tree whose comparator or search agrees with bpt_compare_i64 (see
 * ordered_as_i64). Callers pass constants, so that each inlined descent
 * holds one kind of search.
 */
typedef enum { BY_HOOKS, BY_I64 } key_search;

/* search_by is the bound search_keys gives, searched the way by says. */
PREFETCH_INLINE int search_by(const bpt *t, void *const *keys, const uint64_t *hints, int n,
                              slot k, bool upper, int *exact, key_search by)
{
#ifdef BPT_HAVE_WORD64
    if (by == BY_I64) {
        int64_t x = bpt_word_to_i64(k.key);
        if (upper) {
            int i = count_i64_at_most(keys, n, x);
            *exact = i > 0 && bpt_word_to_i64(keys[i - 1]) == x;
            return i;
        }
        int i = count_i64_below(keys, n, x);
        *exact = i < n && bpt_word_to_i64(keys[i]) == x;
        return i;
    }
#else
    (void)by;
#endif
    return search_hinted(t, keys, hints, n, k, upper, exact);
}

/* ---- Descents ------------------------------------------------------------- */

/*
 * prefetch_lines asks for the cache lines of bytes at p. p may be any word
 * (a key that is no address, NULL): the arithmetic is on integers, and a
 * prefetch never faults.
 */
PREFETCH_INLINE void prefetch_lines(const void *p, size_t bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch((const void *)((uintptr_t)p + off));
#else
    (void)p;
    (void)bytes;
#endif
}

/*
 * prefetch_node asks for the cache lines a search of n will read: a leaf
 * whole (its values too, which a hit reads next), a branch's header and its
 * keys, or its hints when it has them. Issued as soon as the child is
 * known, the misses overlap instead of following one another through the
 * binary search.
 */
PREFETCH_INLINE void prefetch_node(const bpt *t, bpt_node *n, bool leaf)
{
    if (leaf) {
        prefetch_lines(n, leaf_bytes(t));
        return;
    }
    size_t slots = (size_t)t->cfg.branch_capacity + 1;
    uint64_t *hints = branch_hints(t, (bpt_branch *)n);
    if (hints) {
        prefetch_lines(n, sizeof(bpt_branch));
        prefetch_lines(hints, slots * sizeof(uint64_t));
    } else {
        prefetch_lines(n, sizeof(bpt_branch) + slots * sizeof(void *));
    }
}

/*
 * prefetch_pays tells whether a descent should prefetch the nodes it goes
 * to: not in a tree of one or two levels, a few nodes the cache holds,
 * where the prefetch instructions would be pure cost.
 */
static inline bool prefetch_pays(const bpt *t) { return t->height >= 3; }

/*
 * A path records a descent: node[d] is the node at depth d and idx[d] the
 * child taken (branches) or the key position (the leaf, at depth - 1).
 */
typedef struct path {
    bpt_node *node[BPT_MAX_HEIGHT];
    int idx[BPT_MAX_HEIGHT];
    int depth;
    slot key;      /* the key a descent looked for, with its hint */
    bool hinted;   /* the tree has hints and the key has one */
} path;

static bpt_leaf *path_leaf(const path *p) { return (bpt_leaf *)p->node[p->depth - 1]; }
static int path_pos(const path *p) { return p->idx[p->depth - 1]; }

/*
 * descend_bound records the path to the lower bound of key (the first item
 * not less than key), or with upper to its upper bound (the first item
 * greater than key), in any tree, a multiset's included: it takes the
 * child before a separator equal to key, where equal keys may end, and
 * not the one after it, where they may go on. The leaf position may be
 * one past the leaf's last key; for a lower bound, only when no equal key
 * follows. Searched the way by says (see key_search). Returns BPT_OK when
 * an item equal to key exists, BPT_NOTFOUND when none does, BPT_ECMP when a
 * comparison failed. The tree must not be empty.
 */
static bpt_status descend_bound(const bpt *t, void *key, path *p, key_search by, bool upper)
{
    bpt_node *n = t->root;
    int d = 0, exact = 0;
    int right = -1, right_exact = 0; /* the lowest separator right of the path */
    p->hinted = key_slot(t, key, &p->key) && t->cfg.hint;
    while (!n->leaf) {
        bpt_branch *b = (bpt_branch *)n;
        int seps = (int)n->n - 1;
        int i = search_by(t, branch_keys(t, b), p->hinted ? branch_hints(t, b) : NULL, seps,
                          p->key, upper, &exact, by);
        if (i < 0)
            return BPT_ECMP;
        if (i < seps) {
            right = d;
            right_exact = exact;
        }
        p->node[d] = n;
        p->idx[d++] = i;
        n = branch_children(t, b)[i];
        if (prefetch_pays(t))
            prefetch_node(t, n, d == t->height - 1);
    }
    bpt_leaf *l = (bpt_leaf *)n;
    int i = search_by(t, leaf_keys(l), p->hinted ? leaf_hints(t, l) : NULL, (int)l->h.n,
                      p->key, upper, &exact, by);
    if (i < 0)
        return BPT_ECMP;
    p->node[d] = n;
    p->idx[d] = i;
    p->depth = d + 1;
    if (upper || i < (int)l->h.n || !right_exact)
        return exact ? BPT_OK : BPT_NOTFOUND;
    /* Every key here is less, and the separator after this leaf, the next
     * leaf's first key, is equal: the lower bound is there. */
    p->idx[right]++;
    for (d = right + 1; d < p->depth; d++) {
        p->node[d] = branch_children(t, (bpt_branch *)p->node[d - 1])[p->idx[d - 1]];
        p->idx[d] = 0;
    }
    return BPT_OK;
}

/*
 * descend_by records the path to the lower bound of key (the leaf position
 * may be one past the leaf's last key), searched the way by says (see
 * key_search). Returns BPT_OK when key is present, BPT_NOTFOUND when it is
 * not, BPT_ECMP when a comparison failed. The tree must not be empty. Without duplicates, a
 * separator equal to key ends the comparisons: key is the first key of the
 * subtree after it.
 */
PREFETCH_INLINE bpt_status descend_by(const bpt *t, void *key, path *p, key_search by)
{
    if (t->cfg.duplicates)
        return descend_bound(t, key, p, by, false);
    bpt_node *n = t->root;
    int d = 0, exact = 0;
    p->hinted = key_slot(t, key, &p->key) && t->cfg.hint;
    while (!n->leaf) {
        bpt_branch *b = (bpt_branch *)n;
        int i = search_by(t, branch_keys(t, b), p->hinted ? branch_hints(t, b) : NULL,
                          (int)n->n - 1, p->key, false, &exact, by);
        if (i < 0)
            return BPT_ECMP;
        i += exact;
        p->node[d] = n;
        p->idx[d++] = i;
        n = branch_children(t, b)[i];
        if (prefetch_pays(t))
            prefetch_node(t, n, d == t->height - 1);
        if (exact) {
            /* key is the first key of this subtree: no more comparisons. */
            while (!n->leaf) {
                p->node[d] = n;
                p->idx[d++] = 0;
                n = branch_children(t, (bpt_branch *)n)[0];
            }
            p->node[d] = n;
            p->idx[d] = 0;
            p->depth = d + 1;
            return BPT_OK;
        }
    }
    bpt_leaf *l = (bpt_leaf *)n;
    int i = search_by(t, leaf_keys(l), p->hinted ? leaf_hints(t, l) : NULL, (int)l->h.n,
                      p->key, false, &exact, by);
    if (i < 0)
        return BPT_ECMP;
    p->node[d] = n;
    p->idx[d] = i;
    p->depth = d + 1;
    return exact ? BPT_OK : BPT_NOTFOUND;
}

/* descend is descend_by through the tree's comparator or search hook. */
static bpt_status descend(const bpt *t, void *key, path *p)
{
    return descend_by(t, key, p, BY_HOOKS);
}

/* descend_edge records the path to the first (last == false) or last item. */
static void descend_edge(const bpt *t, path *p, bool last)
{
    bpt_node *n = t->root;
    int d = 0;
    for (;;) {
        int i = last ? (int)n->n - 1 : 0;
        p->node[d] = n;
        p->idx[d++] = i;
        if (n->leaf)
            break;
        n = branch_children(t, (bpt_branch *)n)[i];
    }
    p->depth = d;
}

/*
 * leaf_item resolves position i of leaf l, where i may be -1 (the previous
 * leaf's last item) or l->n (the next leaf's first item). Returns false when
 * that steps off either end of the tree.
 */
static bool leaf_item(bpt_leaf *l, int i, bpt_leaf **lo, int *io)
{
    if (i < 0) {
        l = l->prev;
        if (!l)
            return false;
        i = (int)l->h.n - 1;
    } else if (i >= (int)l->h.n) {
        l = l->next;
        if (!l)
            return false;
        i = 0;
    }
    *lo = l;
    *io = i;
    return true;
}

static bpt_status give_item(const bpt *t, bpt_leaf *l, int i, void **key_out, void **value_out)
{
    if (key_out)
        *key_out = leaf_keys(l)[i];
    if (value_out)
        *value_out = leaf_vals(t, l)[i];
    return BPT_OK;
}

/* ---- Life cycle ----------------------------------------------------------- */

bpt_status bpt_new(const bpt_config *cfg, bpt **out)
{
    bpt_config c;

    if (!cfg || !cfg->compare || !out)
        return BPT_EINVAL;
    c = *cfg;
    if (!c.leaf_capacity)
        c.leaf_capacity = BPT_DEFAULT_LEAF_CAPACITY;
    if (!c.branch_capacity)
        c.branch_capacity = BPT_DEFAULT_BRANCH_CAPACITY;
    if (c.leaf_capacity < BPT_MIN_CAPACITY || c.leaf_capacity > BPT_MAX_CAPACITY ||
        c.branch_capacity < BPT_MIN_CAPACITY || c.branch_capacity > BPT_MAX_CAPACITY)
        return BPT_EINVAL;
    if (!c.allocator.alloc != !c.allocator.free)
        return BPT_EINVAL;
    if (!c.allocator.alloc) {
        c.allocator.alloc = default_alloc;
        c.allocator.free = default_free;
        c.allocator.ctx = NULL;
    }
    bpt *t = mem_alloc(&c.allocator, sizeof *t);
    if (!t)
        return BPT_ENOMEM;
    memset(t, 0, sizeof *t);
    t->cfg = c;
    *out = t;
    return BPT_OK;
}

void bpt_set_context(bpt *t, void *ctx)
{
    t->cfg.ctx = ctx;
}

void bpt_clear(bpt *t)
{
    if (!t->root)
        return; /* nothing changes, so cursors stay valid */
    subtree_free(t, t->root, true);
    t->root = NULL;
    t->first = t->last = NULL;
    t->size = 0;
    t->height = 0;
    t->version++;
}

void bpt_free(bpt *t)
{
    if (!t)
        return;
    bpt_clear(t);
    mem_free(&t->cfg.allocator, t, sizeof *t);
}

size_t bpt_size(const bpt *t) { return t->size; }
unsigned bpt_leaf_capacity(const bpt *t) { return t->cfg.leaf_capacity; }
unsigned bpt_branch_capacity(const bpt *t) { return t->cfg.branch_capacity; }
int bpt_duplicates(const bpt *t) { return t->cfg.duplicates != 0; }

static void count_node(const bpt *t, bpt_node *n, void *arg)
{
    bpt_stats *s = arg;
    if (n->leaf) {
        s->leaves++;
        s->bytes += leaf_bytes(t);
    } else {
        s->branches++;
        s->bytes += branch_bytes(t);
    }
}

void bpt_get_stats(const bpt *t, bpt_stats *out)
{
    memset(out, 0, sizeof *out);
    out->height = (unsigned)t->height;
    out->items = t->size;
    out->bytes = sizeof *t;
    walk_nodes(t, t->root, count_node, out);
}

uint64_t bpt_change_count(const bpt *t) { return t->version; }

const char *bpt_libversion(void) { return BPT_VERSION_STRING; }

int bpt_libversion_number(void) { return BPT_VERSION_NUMBER; }

/*
 * node_clone allocates a copy of src's header and contents; branch children
 * are left for the caller to attach (the copy starts with n == 0).
 */
static bpt_node *node_clone(const bpt *t, const bpt_node *src)
{
    bpt_node *n = node_new(t, src->leaf);
    if (!n)
        return NULL;
    if (src->leaf) {
        bpt_leaf *s = (bpt_leaf *)src, *l = (bpt_leaf *)n;
        memcpy(leaf_keys(l), leaf_keys(s), s->h.n * sizeof(void *));
        memcpy(leaf_vals(t, l), leaf_vals(t, s), s->h.n * sizeof(void *));
        if (t->cfg.hint)
            memcpy(leaf_hints(t, l), leaf_hints(t, s), s->h.n * sizeof(uint64_t));
        l->h.n = s->h.n;
    } else {
        bpt_branch *s = (bpt_branch *)src, *b = (bpt_branch *)n;
        memcpy(branch_counts(t, b), branch_counts(t, s), s->h.n * sizeof(size_t));
        memcpy(branch_keys(t, b), branch_keys(t, s), (s->h.n - 1) * sizeof(void *));
        if (t->cfg.hint)
            memcpy(branch_hints(t, b), branch_hints(t, s), (s->h.n - 1) * sizeof(uint64_t));
    }
    return n;
}

/* chain_leaf appends leaf l to the chain of tree c, after *prev. */
static void chain_leaf(bpt *c, bpt_leaf **prev, bpt_leaf *l)
{
    l->prev = *prev;
    if (*prev)
        (*prev)->next = l;
    else
        c->first = l;
    *prev = l;
}

/*
 * clone_nodes copies the nodes of t into the empty tree c, depth-first, left
 * to right, so that leaves are met (and chained) in order. Returns 0, or -1
 * when out of memory, with what it made under c->root: a branch holds only
 * the children attached so far (see walk_nodes).
 */
static int clone_nodes(const bpt *t, bpt *c)
{
    const bpt_node *src[BPT_MAX_HEIGHT];
    bpt_node *dst[BPT_MAX_HEIGHT];
    bpt_leaf *prev_leaf = NULL;
    int sp = 0;

    c->root = dst[0] = node_clone(c, t->root);
    if (!c->root)
        return -1;
    src[0] = t->root;
    for (;;) {
        const bpt_node *s = src[sp];
        bpt_node *d = dst[sp];
        if (s->leaf) {
            chain_leaf(c, &prev_leaf, (bpt_leaf *)d);
        } else if (d->n < s->n) {
            const bpt_node *schild = branch_children(t, (bpt_branch *)s)[d->n];
            bpt_node *dchild = node_clone(c, schild);
            if (!dchild)
                return -1;
            branch_children(c, (bpt_branch *)d)[d->n++] = dchild;
            src[++sp] = schild;
            dst[sp] = dchild;
            continue;
        }
        if (sp == 0)
            break;
        sp--;
    }
    c->last = prev_leaf;
    return 0;
}

/* retain_all retains every item of t: a copy holds them too. */
static void retain_all(const bpt *t)
{
    for (bpt_leaf *l = t->first; l; l = l->next)
        for (uint32_t i = 0; i < l->h.n; i++)
            retain_item(t, leaf_keys(l)[i], leaf_vals(t, l)[i]);
}

bpt_status bpt_copy(const bpt *t, bpt **out)
{
    bpt *c;
    bpt_status rc = bpt_new(&t->cfg, &c);
    if (rc != BPT_OK)
        return rc;
    if (t->root && clone_nodes(t, c) < 0)
        goto oom;
    c->size = t->size;
    c->height = t->height;
    retain_all(c);
    *out = c;
    return BPT_OK;
oom:
    subtree_free(c, c->root, false);
    c->root = NULL;
    c->first = c->last = NULL;
    bpt_free(c);
    return BPT_ENOMEM;
}

/* ---- Lookups -------------------------------------------------------------- */

/* find_by records the path to key: BPT_OK when present, BPT_NOTFOUND, BPT_ECMP. */
static bpt_status find_by(const bpt *t, void *key, path *p, key_search by)
{
    if (!t->root)
        return BPT_NOTFOUND;
    /* Two call sites with a constant by: each inlines its own descent. */
    return by == BY_I64 ? descend_by(t, key, p, BY_I64) : descend(t, key, p);
}

static bpt_status find(const bpt *t, void *key, path *p) { return find_by(t, key, p, BY_HOOKS); }

bpt_status bpt_get(const bpt *t, void *key, void **key_out, void **value_out)
{
    path p;
    bpt_status rc = find(t, key, &p);
    if (rc != BPT_OK)
        return rc;
    return give_item(t, path_leaf(&p), path_pos(&p), key_out, value_out);
}

#ifdef BPT_HAVE_WORD64
/*
 * ordered_as_i64 tells whether t's keys are int64s in the words, ordered so
 * (its comparator or its search is the built-in int64 one, which a hook
 * must agree with): the trees the typed calls (bpt_get_i64, bpt_put_i64,
 * bpt_remove_i64) accept.
 */
static bool ordered_as_i64(const bpt *t)
{
    return t->cfg.compare == bpt_compare_i64 || t->cfg.search == bpt_search_i64;
}

/*
 * bpt_get_i64 is bpt_get for a tree ordered as int64s, typed: one descent
 * that compares machine numbers in place, records no path and calls no
 * hook. Child i of a branch holds the keys from separator i - 1 on, so the
 * child to take is the number of separators <= key.
 */
bpt_status bpt_get_i64(const bpt *t, int64_t key, void **value_out)
{
    if (!ordered_as_i64(t))
        return BPT_EINVAL;
    bpt_node *n = t->root;
    if (!n)
        return BPT_NOTFOUND;
    if (t->cfg.duplicates) { /* the first equal key: the path's descent */
        path p;
        if (find_by(t, bpt_word_from_i64(key), &p, BY_I64) != BPT_OK)
            return BPT_NOTFOUND;
        return give_item(t, path_leaf(&p), path_pos(&p), NULL, value_out);
    }
    for (int d = 1; !n->leaf; d++) {
        bpt_branch *b = (bpt_branch *)n;
        n = branch_children(t, b)[count_i64_at_most(branch_keys(t, b), (int)n->n - 1, key)];
        if (prefetch_pays(t))
            prefetch_node(t, n, d == t->height - 1);
    }
    bpt_leaf *l = (bpt_leaf *)n;
    int i = count_i64_at_most(leaf_keys(l), (int)l->h.n, key) - 1;
    if (i < 0 || bpt_word_to_i64(leaf_keys(l)[i]) != key)
        return BPT_NOTFOUND;
    if (value_out)
        *value_out = leaf_vals(t, l)[i];
    return BPT_OK;
}
#endif

bpt_status bpt_first(const bpt *t, void **key_out, void **value_out)
{
    if (!t->first)
        return BPT_NOTFOUND;
    return give_item(t, t->first, 0, key_out, value_out);
}

bpt_status bpt_last(const bpt *t, void **key_out, void **value_out)
{
    if (!t->last)
        return BPT_NOTFOUND;
    return give_item(t, t->last, (int)t->last->h.n - 1, key_out, value_out);
}

/* The four neighbour relations, as offsets from the lower bound. */
typedef enum { NB_FLOOR, NB_CEILING, NB_LOWER, NB_HIGHER } neighbour_kind;

/*
 * neighbour_pos records in p the descent to key and stores in *pos the
 * position of key's neighbour of that kind in p's leaf, which may be -1 or
 * the leaf's count (see leaf_item). Returns 0, or -1 when a comparison
 * failed. The tree must not be empty. A multiset's floor and higher are
 * next to the upper bound: past every equal key.
 */
static int neighbour_pos(const bpt *t, void *key, neighbour_kind kind, path *p, int *pos)
{
    bool upper = t->cfg.duplicates && (kind == NB_FLOOR || kind == NB_HIGHER);
    bpt_status found = upper ? descend_bound(t, key, p, BY_HOOKS, true) : descend(t, key, p);
    if (found == BPT_ECMP)
        return -1;
    int i = path_pos(p);
    switch (kind) {
    case NB_FLOOR: i -= upper || found != BPT_OK; break;
    case NB_CEILING: break;
    case NB_LOWER: i -= 1; break;
    case NB_HIGHER: i += !upper && found == BPT_OK; break;
    }
    *pos = i;
    return 0;
}

/*
 * locate finds the leaf position of the neighbour of key: returns BPT_OK and
 * sets *lo, *io when there is one, BPT_NOTFOUND when there is none, BPT_ECMP
 * when a comparison failed.
 */
static bpt_status locate(const bpt *t, void *key, neighbour_kind kind, bpt_leaf **lo, int *io)
{
    path p;
    int i;
    if (!t->root)
        return BPT_NOTFOUND;
    if (neighbour_pos(t, key, kind, &p, &i) < 0)
        return BPT_ECMP;
    return leaf_item(path_leaf(&p), i, lo, io) ? BPT_OK : BPT_NOTFOUND;
}

static bpt_status neighbour(const bpt *t, void *key, neighbour_kind kind, void **key_out,
                            void **value_out)
{
    bpt_leaf *l;
    int i;
    bpt_status rc = locate(t, key, kind, &l, &i);
    if (rc != BPT_OK)
        return rc;
    return give_item(t, l, i, key_out, value_out);
}

bpt_status bpt_floor(const bpt *t, void *key, void **key_out, void **value_out)
{
    return neighbour(t, key, NB_FLOOR, key_out, value_out);
}

bpt_status bpt_ceiling(const bpt *t, void *key, void **key_out, void **value_out)
{
    return neighbour(t, key, NB_CEILING, key_out, value_out);
}

bpt_status bpt_lower(const bpt *t, void *key, void **key_out, void **value_out)
{
    return neighbour(t, key, NB_LOWER, key_out, value_out);
}

bpt_status bpt_higher(const bpt *t, void *key, void **key_out, void **value_out)
{
    return neighbour(t, key, NB_HIGHER, key_out, value_out);
}

/* ---- Ranks ---------------------------------------------------------------- */

/* descend_at records the path to the item at position index < size. */
static void descend_at(const bpt *t, size_t index, path *p)
{
    bpt_node *n = t->root;
    int d = 0;
    while (!n->leaf) {
        bpt_branch *b = (bpt_branch *)n;
        uint32_t i = 0;
        while (i + 1 < n->n && index >= branch_counts(t, b)[i])
            index -= branch_counts(t, b)[i++];
        p->node[d] = n;
        p->idx[d++] = (int)i;
        n = branch_children(t, b)[i];
    }
    p->node[d] = n;
    p->idx[d] = (int)index;
    p->depth = d + 1;
}

/* path_rank returns the number of items before the path's position. */
static size_t path_rank(const bpt *t, const path *p)
{
    size_t rank = (size_t)path_pos(p);
    for (int d = 0; d < p->depth - 1; d++) {
        bpt_branch *b = (bpt_branch *)p->node[d];
        for (int i = 0; i < p->idx[d]; i++)
            rank += branch_counts(t, b)[i];
    }
    return rank;
}

/* rank_bound is bpt_rank (the lower bound's rank), or with upper bpt_rank_upper. */
static bpt_status rank_bound(const bpt *t, void *key, size_t *rank, bool upper)
{
    path p;
    if (!t->root) {
        *rank = 0;
        return BPT_NOTFOUND;
    }
    bpt_status found = upper ? descend_bound(t, key, &p, BY_HOOKS, true) : descend(t, key, &p);
    if (found == BPT_ECMP)
        return BPT_ECMP;
    *rank = path_rank(t, &p);
    return found;
}

bpt_status bpt_rank(const bpt *t, void *key, size_t *rank)
{
    return rank_bound(t, key, rank, false);
}

bpt_status bpt_rank_upper(const bpt *t, void *key, size_t *rank)
{
    return rank_bound(t, key, rank, true);
}

bpt_status bpt_at(const bpt *t, size_t index, void **key_out, void **value_out)
{
    path p;
    if (index >= t->size)
        return BPT_NOTFOUND;
    descend_at(t, index, &p);
    return give_item(t, path_leaf(&p), path_pos(&p), key_out, value_out);
}

/* ---- Node surgery --------------------------------------------------------- */

/*
 * set_first_key stores key as the separator that names the first key of the
 * subtree whose leftmost leaf is the path's leaf: the separator just left of
 * the deepest ancestor edge that is not a leftmost child. None exists when
 * the leaf is the tree's first.
 */
static void set_first_key(const bpt *t, const path *p, slot key)
{
    for (int d = p->depth - 2; d >= 0; d--) {
        if (p->idx[d] > 0) {
            set_branch_slot(t, (bpt_branch *)p->node[d], (uint32_t)p->idx[d] - 1, key);
            return;
        }
    }
}

/* branch_total returns the number of items under the children of b. */
static size_t branch_total(const bpt *t, bpt_branch *b)
{
    size_t total = 0;
    for (uint32_t i = 0; i < b->h.n; i++)
        total += branch_counts(t, b)[i];
    return total;
}

/* leaf_move copies count items from src[si] to dst[di] (may overlap). */
static void leaf_move(const bpt *t, bpt_leaf *dst, uint32_t di, bpt_leaf *src, uint32_t si,
                      uint32_t count)
{
    memmove(leaf_keys(dst) + di, leaf_keys(src) + si, count * sizeof(void *));
    memmove(leaf_vals(t, dst) + di, leaf_vals(t, src) + si, count * sizeof(void *));
    if (t->cfg.hint)
        memmove(leaf_hints(t, dst) + di, leaf_hints(t, src) + si, count * sizeof(uint64_t));
}

/* branch_move copies count children (with counts) from src[si] to dst[di]. */
static void branch_move(const bpt *t, bpt_branch *dst, uint32_t di, bpt_branch *src, uint32_t si,
                        uint32_t count)
{
    memmove(branch_counts(t, dst) + di, branch_counts(t, src) + si, count * sizeof(size_t));
    memmove(branch_children(t, dst) + di, branch_children(t, src) + si,
            count * sizeof(bpt_node *));
}

/* branch_move_keys copies count separators from src[si] to dst[di]. */
static void branch_move_keys(const bpt *t, bpt_branch *dst, uint32_t di, bpt_branch *src,
                             uint32_t si, uint32_t count)
{
    memmove(branch_keys(t, dst) + di, branch_keys(t, src) + si, count * sizeof(void *));
    if (t->cfg.hint)
        memmove(branch_hints(t, dst) + di, branch_hints(t, src) + si, count * sizeof(uint64_t));
}

/*
 * branch_insert puts child (holding count items, first key sep) at position
 * j >= 1 of b, which has a spare slot.
 */
static void branch_insert(const bpt *t, bpt_branch *b, uint32_t j, slot sep, bpt_node *child,
                          size_t count)
{
    branch_move(t, b, j + 1, b, j, b->h.n - j);
    branch_move_keys(t, b, j, b, j - 1, b->h.n - j);
    branch_counts(t, b)[j] = count;
    branch_children(t, b)[j] = child;
    set_branch_slot(t, b, j - 1, sep);
    b->h.n++;
}

/* branch_remove drops child j >= 1 of b and the separator before it. */
static void branch_remove(const bpt *t, bpt_branch *b, uint32_t j)
{
    branch_move(t, b, j, b, j + 1, b->h.n - j - 1);
    branch_move_keys(t, b, j - 1, b, j, b->h.n - j - 1);
    b->h.n--;
}

/* ---- Siblings: even out and merge ----------------------------------------- */

/*
 * even_leaves moves items between the leaves at positions j and j + 1 of
 * parent until the left one holds half of their items (rounded down), and
 * names the right one's new first key in the parent.
 */
static void even_leaves(bpt *t, bpt_branch *parent, uint32_t j)
{
    bpt_node **children = branch_children(t, parent);
    bpt_leaf *l = (bpt_leaf *)children[j], *r = (bpt_leaf *)children[j + 1];
    uint32_t total = l->h.n + r->h.n, want = total / 2;
    if (l->h.n < want) {
        uint32_t m = want - l->h.n;
        leaf_move(t, l, l->h.n, r, 0, m);
        leaf_move(t, r, 0, r, m, r->h.n - m);
    } else {
        uint32_t m = l->h.n - want;
        leaf_move(t, r, m, r, 0, r->h.n);
        leaf_move(t, r, 0, l, want, m);
    }
    l->h.n = want;
    r->h.n = total - want;
    branch_counts(t, parent)[j] = want;
    branch_counts(t, parent)[j + 1] = r->h.n;
    set_branch_slot(t, parent, j, leaf_slot(t, r, 0));
}

/*
 * even_branches does the same for two branches, moving children (with their
 * counts): the parent's separator between the two comes down in front of
 * the children moved right to left, or after those moved left to right,
 * and the first key of the right one's new subtree goes up in its place.
 */
static void even_branches(bpt *t, bpt_branch *parent, uint32_t j)
{
    bpt_node **children = branch_children(t, parent);
    bpt_branch *l = (bpt_branch *)children[j], *r = (bpt_branch *)children[j + 1];
    uint32_t total = l->h.n + r->h.n, want = total / 2;
    if (l->h.n < want) {
        uint32_t m = want - l->h.n;
        set_branch_slot(t, l, l->h.n - 1, branch_slot(t, parent, j));
        branch_move_keys(t, l, l->h.n, r, 0, m - 1);
        branch_move(t, l, l->h.n, r, 0, m);
        set_branch_slot(t, parent, j, branch_slot(t, r, m - 1));
        branch_move_keys(t, r, 0, r, m, r->h.n - 1 - m);
        branch_move(t, r, 0, r, m, r->h.n - m);
    } else {
        uint32_t m = l->h.n - want;
        branch_move_keys(t, r, m, r, 0, r->h.n - 1);
        branch_move(t, r, m, r, 0, r->h.n);
        set_branch_slot(t, r, m - 1, branch_slot(t, parent, j));
        branch_move_keys(t, r, 0, l, want, m - 1);
        branch_move(t, r, 0, l, want, m);
        set_branch_slot(t, parent, j, branch_slot(t, l, want - 1));
    }
    l->h.n = want;
    r->h.n = total - want;
    branch_counts(t, parent)[j] = branch_total(t, l);
    branch_counts(t, parent)[j + 1] = branch_total(t, r);
}

/*
 * merge_pair moves everything the node at position j + 1 of parent holds
 * into the one at j (a branch takes the separator between them too), then
 * drops the right one from the parent and frees it.
 */
static void merge_pair(bpt *t, bpt_branch *parent, uint32_t j)
{
    bpt_node **children = branch_children(t, parent);
    bpt_node *ln = children[j], *rn = children[j + 1];
    uint32_t total = ln->n + rn->n;
    if (ln->leaf) {
        bpt_leaf *l = (bpt_leaf *)ln, *r = (bpt_leaf *)rn;
        leaf_move(t, l, l->h.n, r, 0, r->h.n);
        l->next = r->next;
        if (r->next)
            r->next->prev = l;
        else
            t->last = l;
    } else {
        bpt_branch *l = (bpt_branch *)ln, *r = (bpt_branch *)rn;
        set_branch_slot(t, l, l->h.n - 1, branch_slot(t, parent, j));
        branch_move_keys(t, l, l->h.n, r, 0, r->h.n - 1);
        branch_move(t, l, l->h.n, r, 0, r->h.n);
    }
    ln->n = total;
    branch_counts(t, parent)[j] += branch_counts(t, parent)[j + 1];
    branch_remove(t, parent, j + 1);
    node_free(t, rn);
}

/*
 * rebalance_pair evens out or merges the siblings at positions j and j + 1
 * of parent, one of which is underfull (after a removal) or overfull (after
 * an insert, when the other has room: they always even out then). Returns
 * true when it merged (the parent lost a child), false when it
 * redistributed.
 */
static bool rebalance_pair(bpt *t, bpt_branch *parent, uint32_t j)
{
    bpt_node **children = branch_children(t, parent);
    bpt_node *ln = children[j], *rn = children[j + 1];
    if (ln->n + rn->n < 2 * bpt_min_fill(node_capacity(t, ln->leaf))) {
        merge_pair(t, parent, j);
        return true;
    }
    if (ln->leaf)
        even_leaves(t, parent, j);
    else
        even_branches(t, parent, j);
    return false;
}

/* ---- Insert: split and overflow ------------------------------------------- */

/*
 * split moves the upper half of the overfull node n into the fresh node r and
 * returns the first key of r's subtree; *moved gets r's item count.
 */
static slot split(bpt *t, bpt_node *n, bpt_node *r, size_t *moved)
{
    uint32_t keep = (n->n + 1) / 2, give = n->n - keep;
    if (n->leaf) {
        bpt_leaf *l = (bpt_leaf *)n, *rl = (bpt_leaf *)r;
        leaf_move(t, rl, 0, l, keep, give);
        rl->next = l->next;
        rl->prev = l;
        if (l->next)
            l->next->prev = rl;
        else
            t->last = rl;
        l->next = rl;
        *moved = give;
        l->h.n = keep;
        rl->h.n = give;
        return leaf_slot(t, rl, 0);
    }
    bpt_branch *b = (bpt_branch *)n, *rb = (bpt_branch *)r;
    slot up = branch_slot(t, b, keep - 1);
    branch_move(t, rb, 0, b, keep, give);
    branch_move_keys(t, rb, 0, b, keep, give - 1);
    b->h.n = keep;
    rb->h.n = give;
    *moved = branch_total(t, rb);
    return up;
}

/*
 * roomy_sibling tells whether a sibling of child j of parent has room for
 * another entry, and then stores in *pair the position of the left one of
 * child j and that sibling (the emptier of the two neighbours). Sharing
 * with it instead of splitting keeps nodes fuller: about 80% after random
 * inserts instead of 70%, and near 100% after ascending or descending ones,
 * where splits alone leave every node half full.
 */
static bool roomy_sibling(const bpt *t, bpt_branch *parent, uint32_t j, uint32_t *pair)
{
    bpt_node **children = branch_children(t, parent);
    unsigned cap = node_capacity(t, children[j]->leaf);
    uint32_t left = j > 0 ? children[j - 1]->n : cap;
    uint32_t right = j + 1 < parent->h.n ? children[j + 1]->n : cap;
    if (left >= cap && right >= cap)
        return false;
    *pair = left <= right ? j - 1 : j;
    return true;
}

/* What an entry added to a full node does (overflow_at). */
typedef enum {
    OVERFLOW_SHARE,    /* the node evens out with a roomy sibling */
    OVERFLOW_SPLIT,    /* the node splits, and its parent gains a child */
    OVERFLOW_NEW_ROOT, /* the root splits, under a new root */
} overflow_action;

/*
 * overflow_at tells what an entry added to the full node at depth d of the
 * path does; for OVERFLOW_SHARE it stores in *pair the position under the
 * parent of the left one of the node and the sibling it shares with.
 */
static overflow_action overflow_at(const bpt *t, const path *p, int d, uint32_t *pair)
{
    if (d == 0)
        return OVERFLOW_NEW_ROOT;
    bpt_branch *parent = (bpt_branch *)p->node[d - 1];
    return roomy_sibling(t, parent, (uint32_t)p->idx[d - 1], pair) ? OVERFLOW_SHARE
                                                                   : OVERFLOW_SPLIT;
}

/*
 * overflow_nodes is how many fresh nodes an action takes: a split's new
 * right half, and a new root.
 */
static int overflow_nodes(overflow_action action)
{
    return action == OVERFLOW_SHARE ? 0 : action == OVERFLOW_SPLIT ? 1 : 2;
}

/* The fresh nodes an insert's splits take, allocated before any change. */
typedef struct spares {
    bpt_node *node[BPT_MAX_HEIGHT + 1];
    int n;    /* allocated */
    int used; /* handed out by take_spare, in order */
} spares;

/*
 * reserve_splits allocates the nodes an insert at the path's leaf splits
 * into: up from the leaf while full nodes cannot share with a sibling.
 * Returns 0, or -1 when out of memory, with nothing left allocated.
 */
static int reserve_splits(const bpt *t, const path *p, spares *s)
{
    s->n = s->used = 0;
    for (int d = p->depth - 1; d >= 0; d--) {
        bpt_node *n = p->node[d];
        if (n->n < node_capacity(t, n->leaf))
            break;
        uint32_t pair;
        overflow_action action = overflow_at(t, p, d, &pair);
        for (int k = 0; k < overflow_nodes(action); k++) {
            bpt_node *fresh = node_new(t, k == 0 && n->leaf);
            if (!fresh)
                goto oom;
            s->node[s->n++] = fresh;
        }
        if (action != OVERFLOW_SPLIT)
            break;
    }
    return 0;
oom:
    while (s->n > 0)
        node_free(t, s->node[--s->n]);
    return -1;
}

/* take_spare hands out the next node reserve_splits allocated. */
static bpt_node *take_spare(spares *s)
{
    assert(s->used < s->n); /* reserve_splits allocated every split */
    return s->node[s->used++];
}

/*
 * leaf_insert stores the path's key -> value at the path's leaf position,
 * where the leaf may go one over its capacity, and counts the item above.
 */
static void leaf_insert(bpt *t, const path *p, void *value)
{
    bpt_leaf *l = path_leaf(p);
    uint32_t pos = (uint32_t)path_pos(p);
    leaf_move(t, l, pos + 1, l, pos, l->h.n - pos);
    set_leaf_slot(t, l, pos, p->key);
    leaf_vals(t, l)[pos] = value;
    l->h.n++;
    if (pos == 0)
        set_first_key(t, p, p->key);
    for (int d = 0; d < p->depth - 1; d++)
        branch_counts(t, (bpt_branch *)p->node[d])[p->idx[d]]++;
    t->size++;
    t->version++;
}

/* grow_root makes root, a fresh branch, the parent of the old root n and r. */
static void grow_root(bpt *t, bpt_branch *root, bpt_node *n, bpt_node *r, slot sep,
                      size_t moved)
{
    root->h.n = 2;
    branch_counts(t, root)[0] = t->size - moved;
    branch_counts(t, root)[1] = moved;
    branch_children(t, root)[0] = n;
    branch_children(t, root)[1] = r;
    set_branch_slot(t, root, 0, sep);
    t->root = &root->h;
    t->height++;
}

/*
 * resolve_overflow brings the overfull nodes on the path back within their
 * capacity, bottom-up from the leaf: a node shares with a roomy sibling
 * (and the parent gains nothing), or splits into a spare that its parent,
 * or a new root, gains as a child.
 */
static void resolve_overflow(bpt *t, const path *p, spares *s)
{
    bpt_node *n = p->node[p->depth - 1];
    for (int d = p->depth - 1; n->n > node_capacity(t, n->leaf); d--) {
        uint32_t pair;
        overflow_action action = overflow_at(t, p, d, &pair);
        if (action == OVERFLOW_SHARE) {
            rebalance_pair(t, (bpt_branch *)p->node[d - 1], pair);
            return;
        }
        bpt_node *r = take_spare(s);
        size_t moved;
        slot sep = split(t, n, r, &moved);
        if (action == OVERFLOW_NEW_ROOT) {
            grow_root(t, (bpt_branch *)take_spare(s), n, r, sep, moved);
            return;
        }
        bpt_branch *parent = (bpt_branch *)p->node[d - 1];
        uint32_t j = (uint32_t)p->idx[d - 1];
        branch_counts(t, parent)[j] -= moved;
        branch_insert(t, parent, j + 1, sep, r, moved);
        n = &parent->h;
    }
}

/*
 * insert_at stores key -> value at the path's leaf position; an overfull
 * node then shares with a roomy sibling or splits, as far up as needed.
 * Every node it may need is allocated before anything changes.
 */
static bpt_status insert_at(bpt *t, path *p, void *key, void *value)
{
    spares s;
    if (reserve_splits(t, p, &s) < 0)
        return BPT_ENOMEM;
    retain_item(t, key, value);
    leaf_insert(t, p, value);
    resolve_overflow(t, p, &s);
    return BPT_OK;
}

/* insert_first makes the first leaf of an empty tree. */
static bpt_status insert_first(bpt *t, void *key, void *value)
{
    slot k;
    if (!key_slot(t, key, &k))
        return BPT_EINVAL;
    bpt_leaf *l = (bpt_leaf *)node_new(t, true);
    if (!l)
        return BPT_ENOMEM;
    retain_item(t, key, value);
    set_leaf_slot(t, l, 0, k);
    leaf_vals(t, l)[0] = value;
    l->h.n = 1;
    t->root = &l->h;
    t->first = t->last = l;
    t->size = 1;
    t->height = 1;
    t->version++;
    return BPT_OK;
}

/* ---- Delete: take items, restore the fill --------------------------------- */

/*
 * take_items hands the count items of leaf l from position pos on back
 * through the owned out-parameters, or releases them (see remove_span).
 */
static void take_items(const bpt *t, bpt_leaf *l, uint32_t pos, uint32_t count, void **key_out,
                       void **value_out)
{
    for (uint32_t i = pos; i < pos + count; i++) {
        if (key_out)
            *key_out = leaf_keys(l)[i];
        else
            release_key(t, leaf_keys(l)[i]);
        if (value_out)
            *value_out = leaf_vals(t, l)[i];
        else
            release_value(t, leaf_vals(t, l)[i]);
    }
}

/*
 * collapse_root drops a root leaf left empty, or a root branch left with
 * one child, whose child becomes the root.
 */
static void collapse_root(bpt *t)
{
    bpt_node *n = t->root;
    if (n->leaf && n->n == 0) {
        node_free(t, n);
        t->root = NULL;
        t->first = t->last = NULL;
        t->height = 0;
    } else if (!n->leaf && n->n == 1) {
        t->root = branch_children(t, (bpt_branch *)n)[0];
        node_free(t, n);
        t->height--;
    }
}

/*
 * restore_fill brings the underfull nodes on the path back to their minimum
 * fill, bottom-up from the leaf: each evens out with a sibling, or merges
 * with it and leaves its parent a child short; then collapse_root.
 */
static void restore_fill(bpt *t, const path *p)
{
    int d = p->depth - 1;
    bpt_node *n = p->node[d];
    while (d > 0) {
        if (n->n >= bpt_min_fill(node_capacity(t, n->leaf)))
            return;
        bpt_branch *parent = (bpt_branch *)p->node[d - 1];
        uint32_t j = (uint32_t)p->idx[d - 1];
        if (!rebalance_pair(t, parent, j > 0 ? j - 1 : j))
            return;
        n = &parent->h;
        d--;
    }
    collapse_root(t);
}

/*
 * remove_span removes count >= 1 items of the path's leaf from its position
 * on, then restores the fill bounds up the path. Owned out-parameters hand
 * the item back and are only for count == 1 (single removals and pops);
 * range removal passes NULL and every item is released.
 * Needs no comparison and no allocation, so it cannot fail.
 */
static void remove_span(bpt *t, path *p, uint32_t count, void **key_out, void **value_out)
{
    bpt_leaf *l = path_leaf(p);
    uint32_t pos = (uint32_t)path_pos(p);

    take_items(t, l, pos, count, key_out, value_out);
    leaf_move(t, l, pos, l, pos + count, l->h.n - pos - count);
    l->h.n -= count;
    for (int d = 0; d < p->depth - 1; d++)
        branch_counts(t, (bpt_branch *)p->node[d])[p->idx[d]] -= count;
    t->size -= count;
    t->version++;

    /*
     * The subtree's first key changed: name its new first key — the next
     * leaf's when this one emptied (restore_fill then fixes or drops the
     * separators next to this leaf).
     */
    if (pos == 0) {
        if (l->h.n)
            set_first_key(t, p, leaf_slot(t, l, 0));
        else if (l->next)
            set_first_key(t, p, leaf_slot(t, l->next, 0));
    }
    restore_fill(t, p);
}

/* ---- Updates -------------------------------------------------------------- */

/*
 * insert_by inserts key -> value when no equal key is present (BPT_OK);
 * otherwise it returns BPT_EXISTS with p leading to the present item (in a
 * multiset, the first equal one). With add (multisets only) it inserts
 * anyway, after the equal keys. Either way it stores the item's position
 * in *rank when rank is not NULL. Searched the way by says (see
 * key_search).
 */
static bpt_status insert_by(bpt *t, void *key, void *value, path *p, size_t *rank,
                            key_search by, bool add)
{
    if (!t->root) {
        if (rank)
            *rank = 0;
        return insert_first(t, key, value);
    }
    bpt_status found;
    if (add) /* each call site has a constant add and by: each inlines its own */
        found = descend_bound(t, key, p, by, true);
    else
        found = by == BY_I64 ? descend_by(t, key, p, BY_I64) : descend(t, key, p); /* find_by's */
    if (found == BPT_ECMP)
        return BPT_ECMP;
    bool exists = found == BPT_OK && !add;
    if (!exists && t->cfg.hint && !p->hinted)
        return BPT_EINVAL; /* a key without a hint cannot be stored */
    if (rank)
        *rank = path_rank(t, p); /* before an insert: its position after it */
    if (exists)
        return BPT_EXISTS;
    return insert_at(t, p, key, value);
}

/*
 * replace_value stores value (retained) in the item the path leads to and
 * hands the old value back through old_value (owned), or releases it.
 */
static void replace_value(bpt *t, const path *p, void *value, void **old_value)
{
    void **vslot = &leaf_vals(t, path_leaf(p))[path_pos(p)];
    void *old = *vslot;
    if (t->cfg.retain_value)
        t->cfg.retain_value(value, t->cfg.ctx);
    *vslot = value;
    if (old_value)
        *old_value = old;
    else
        release_value(t, old);
}

/* put_by is bpt_put_rank, searched the way by says (see key_search). */
static bpt_status put_by(bpt *t, void *key, void *value, void **old_value, size_t *rank,
                         key_search by)
{
    path p;
    bpt_status rc = t->cfg.duplicates ? insert_by(t, key, value, &p, rank, by, true)
                                      : insert_by(t, key, value, &p, rank, by, false);
    if (rc != BPT_EXISTS)
        return rc;
    replace_value(t, &p, value, old_value);
    return BPT_REPLACED;
}

bpt_status bpt_put(bpt *t, void *key, void *value, void **old_value)
{
    return put_by(t, key, value, old_value, NULL, BY_HOOKS);
}

bpt_status bpt_put_rank(bpt *t, void *key, void *value, void **old_value, size_t *rank)
{
    return put_by(t, key, value, old_value, rank, BY_HOOKS);
}

bpt_status bpt_insert(bpt *t, void *key, void *value, void **existing)
{
    path p;
    bpt_status rc = insert_by(t, key, value, &p, NULL, BY_HOOKS, false);
    if (rc == BPT_EXISTS && existing)
        *existing = leaf_vals(t, path_leaf(&p))[path_pos(&p)];
    return rc;
}

/* remove_by is bpt_remove, searched the way by says (see key_search). */
static bpt_status remove_by(bpt *t, void *key, void **key_out, void **value_out, key_search by)
{
    path p;
    bpt_status rc = find_by(t, key, &p, by);
    if (rc == BPT_OK)
        remove_span(t, &p, 1, key_out, value_out);
    return rc;
}

bpt_status bpt_remove(bpt *t, void *key, void **key_out, void **value_out)
{
    return remove_by(t, key, key_out, value_out, BY_HOOKS);
}

#ifdef BPT_HAVE_WORD64
bpt_status bpt_put_i64(bpt *t, int64_t key, void *value, void **old_value)
{
    return bpt_put_i64_rank(t, key, value, old_value, NULL);
}

bpt_status bpt_put_i64_rank(bpt *t, int64_t key, void *value, void **old_value, size_t *rank)
{
    if (!ordered_as_i64(t) || t->cfg.hint)
        return BPT_EINVAL;
    return put_by(t, bpt_word_from_i64(key), value, old_value, rank, BY_I64);
}

bpt_status bpt_remove_i64(bpt *t, int64_t key, void **key_out, void **value_out)
{
    if (!ordered_as_i64(t))
        return BPT_EINVAL;
    return remove_by(t, bpt_word_from_i64(key), key_out, value_out, BY_I64);
}
#endif

static bpt_status pop_edge(bpt *t, bool last, void **key_out, void **value_out)
{
    path p;
    if (!t->root)
        return BPT_NOTFOUND;
    descend_edge(t, &p, last);
    remove_span(t, &p, 1, key_out, value_out);
    return BPT_OK;
}

bpt_status bpt_pop_first(bpt *t, void **key_out, void **value_out)
{
    return pop_edge(t, false, key_out, value_out);
}

bpt_status bpt_pop_last(bpt *t, void **key_out, void **value_out)
{
    return pop_edge(t, true, key_out, value_out);
}

bpt_status bpt_remove_at(bpt *t, size_t index, void **key_out, void **value_out)
{
    path p;
    if (index >= t->size)
        return BPT_NOTFOUND;
    descend_at(t, index, &p);
    remove_span(t, &p, 1, key_out, value_out);
    return BPT_OK;
}

bpt_status bpt_replace_at(bpt *t, size_t index, void *value, void **old_value)
{
    path p;
    if (index >= t->size)
        return BPT_NOTFOUND;
    descend_at(t, index, &p);
    replace_value(t, &p, value, old_value);
    return BPT_OK;
}

bpt_status bpt_remove_range_at(bpt *t, size_t from, size_t to, size_t *removed)
{
    if (to > t->size)
        to = t->size;
    if (removed)
        *removed = to > from ? to - from : 0;
    if (to <= from)
        return BPT_OK;

    /* Remove leaf-sized chunks; each descent is by position, not by key. */
    size_t left = to - from;
    while (left) {
        path p;
        descend_at(t, from, &p);
        uint32_t avail = path_leaf(&p)->h.n - (uint32_t)path_pos(&p);
        uint32_t chunk = left < avail ? (uint32_t)left : avail;
        remove_span(t, &p, chunk, NULL, NULL);
        left -= chunk;
    }
    return BPT_OK;
}

bpt_status bpt_remove_range(bpt *t, void *const *lo, void *const *hi, size_t *removed)
{
    size_t from = 0, to = t->size;
    if (removed)
        *removed = 0;
    if (lo && bpt_rank(t, *lo, &from) == BPT_ECMP)
        return BPT_ECMP;
    if (hi && bpt_rank(t, *hi, &to) == BPT_ECMP)
        return BPT_ECMP;
    return bpt_remove_range_at(t, from, to, removed);
}

/* ---- Bulk load ------------------------------------------------------------ */

/*
 * check_sorted returns BPT_OK when keys[0..n) strictly increase (do not
 * decrease, in a multiset), BPT_EINVAL or BPT_ECMP otherwise. With hints,
 * every key needs one (stored in hints[]), and keys whose hints differ are
 * ordered by them. The hint function usually reads what a key points to, so
 * that is prefetched a few keys ahead (a prefetch of a word that is no
 * address does no harm).
 */
static bpt_status check_sorted(const bpt *t, void *const *keys, size_t n, uint64_t *hints)
{
    slot before, k;
    for (size_t i = 0; i < n; i++, before = k) {
        if (hints && i + 8 < n)
            prefetch_lines(keys[i + 8], 1);
        if (!key_slot(t, keys[i], &k))
            return BPT_EINVAL;
        if (hints)
            hints[i] = k.hint;
        if (i == 0)
            continue;
        if (hints && before.hint != k.hint) {
            if (before.hint > k.hint)
                return BPT_EINVAL;
            continue;
        }
        int c = t->cfg.compare(keys[i - 1], keys[i], t->cfg.ctx);
        if (c == BPT_CMP_ERROR)
            return BPT_ECMP;
        if (c > 0 || (c == 0 && !t->cfg.duplicates))
            return BPT_EINVAL;
    }
    return BPT_OK;
}

/*
 * A bulk load's plan and scratch space: the items, their hints (in a tree
 * with hints), the level sizes bottom-up, and every node, leaves first and
 * the root last.
 */
typedef struct bulk {
    void *const *keys;
    void *const *values;
    size_t n;
    uint64_t *hints; /* NULL without a hint function */
    size_t hints_bytes;
    size_t level_nodes[BPT_MAX_HEIGHT];
    int levels;
    size_t total_nodes;
    bpt_node **nodes;
    size_t nodes_bytes;
} bulk;

/*
 * bulk_plan checks that the keys are in order, taking their hints, and
 * sizes the levels bottom-up, each node filled evenly to at most capacity.
 */
static bpt_status bulk_plan(const bpt *t, bulk *b)
{
    b->hints_bytes = t->cfg.hint ? b->n * sizeof(uint64_t) : 0;
    if (b->hints_bytes && !(b->hints = mem_alloc(&t->cfg.allocator, b->hints_bytes)))
        return BPT_ENOMEM;
    bpt_status rc = check_sorted(t, b->keys, b->n, b->hints);
    if (rc != BPT_OK)
        return rc;
    size_t count = b->n;
    unsigned cap = t->cfg.leaf_capacity;
    do {
        count = (count + cap - 1) / cap;
        b->level_nodes[b->levels++] = count;
        b->total_nodes += count;
        cap = t->cfg.branch_capacity;
    } while (count > 1);
    return BPT_OK;
}

/*
 * bulk_alloc allocates every node up front, so that failure changes
 * nothing. Returns 0, or -1 when out of memory, with no node left
 * allocated (the array of them is bpt_bulk_load's to free).
 */
static int bulk_alloc(const bpt *t, bulk *b)
{
    size_t made = 0;
    b->nodes_bytes = b->total_nodes * sizeof(bpt_node *);
    if (!(b->nodes = mem_alloc(&t->cfg.allocator, b->nodes_bytes)))
        return -1;
    for (int lv = 0; lv < b->levels; lv++)
        for (size_t i = 0; i < b->level_nodes[lv]; i++, made++)
            if (!(b->nodes[made] = node_new(t, lv == 0)))
                goto fail;
    return 0;
fail:
    while (made > 0)
        node_free(t, b->nodes[--made]);
    return -1;
}

/* bulk_fill_leaves shares the items out evenly over the leaves, and chains them. */
static void bulk_fill_leaves(bpt *t, const bulk *b)
{
    void *const *keys = b->keys, *const *values = b->values;
    const uint64_t *hints = b->hints;
    bpt_leaf *prev = NULL;
    size_t n = b->n, m = b->level_nodes[0], next = 0;
    for (size_t i = 0; i < m; i++) {
        bpt_leaf *l = (bpt_leaf *)b->nodes[i];
        size_t take = n / m + (i < n % m);
        for (size_t k = 0; k < take; k++, next++) {
            void *v = values ? values[next] : NULL;
            /* retain likely writes to the key and the value: ask for them ahead */
            if (t->cfg.retain_key && next + 8 < n)
                prefetch_lines(keys[next + 8], 1);
            if (t->cfg.retain_value && values && next + 8 < n)
                prefetch_lines(values[next + 8], 1);
            retain_item(t, keys[next], v);
            set_leaf_slot(t, l, (uint32_t)k, (slot){keys[next], hints ? hints[next] : 0});
            leaf_vals(t, l)[k] = v;
        }
        l->h.n = (uint32_t)take;
        l->prev = prev;
        if (prev)
            prev->next = l;
        prev = l;
    }
    t->first = (bpt_leaf *)b->nodes[0];
    t->last = prev;
}

/*
 * bulk_link_branches fills each branch level from the level below: its
 * children, evenly shared out, their counts, and as separators the first
 * keys of their subtrees.
 */
static void bulk_link_branches(bpt *t, const bulk *b)
{
    bpt_node **nodes = b->nodes;
    size_t below = 0;
    for (int lv = 1; lv < b->levels; lv++) {
        size_t children = b->level_nodes[lv - 1], parents = b->level_nodes[lv];
        size_t here = below + children, child = below;
        for (size_t i = 0; i < parents; i++) {
            bpt_branch *p = (bpt_branch *)nodes[here + i];
            size_t take = children / parents + (i < children % parents);
            for (size_t k = 0; k < take; k++, child++) {
                bpt_node *c = nodes[child];
                branch_children(t, p)[k] = c;
                branch_counts(t, p)[k] = c->leaf ? c->n : branch_total(t, (bpt_branch *)c);
                if (k > 0) {
                    while (!c->leaf)
                        c = branch_children(t, (bpt_branch *)c)[0];
                    set_branch_slot(t, p, (uint32_t)k - 1, leaf_slot(t, (bpt_leaf *)c, 0));
                }
            }
            p->h.n = (uint32_t)take;
        }
        below = here;
    }
}

bpt_status bpt_bulk_load(bpt *t, void *const *keys, void *const *values, size_t n)
{
    if (t->root)
        return BPT_EINVAL;
    if (n == 0)
        return BPT_OK;
    bulk b = {.keys = keys, .values = values, .n = n};
    bpt_status rc = bulk_plan(t, &b);
    if (rc == BPT_OK && bulk_alloc(t, &b) < 0)
        rc = BPT_ENOMEM;
    if (rc == BPT_OK) {
        bulk_fill_leaves(t, &b);
        bulk_link_branches(t, &b);
        t->root = b.nodes[b.total_nodes - 1];
        t->height = b.levels;
        t->size = n;
        t->version++;
    }
    /* Success or failure, the scratch space goes. */
    if (b.nodes)
        mem_free(&t->cfg.allocator, b.nodes, b.nodes_bytes);
    if (b.hints)
        mem_free(&t->cfg.allocator, b.hints, b.hints_bytes);
    return rc;
}

/* ---- Scans and prefetch --------------------------------------------------- */

/*
 * A scan (cursor steps and reads, bpt_visit) asks for the leaves ahead of
 * the one it is in: after random inserts leaves lie at scattered addresses,
 * so each is a cache miss (in a large tree a TLB miss too) that the
 * hardware prefetcher cannot foresee. Following the leaf chain to find them
 * would make the scan wait for one leaf's header before it can ask for the
 * next, one memory latency per leaf whatever the distance; so a scan also
 * keeps the branches above its leaf, a scan_path, whose child arrays hold
 * the addresses of many leaves at once. Leaves are still reached through
 * the chain: the path only says what to prefetch, and is valid exactly as
 * long as the cursor is (the same version).
 *
 * SCAN_AHEAD is how many leaves ahead the scan asks for, chosen by
 * measurement at 1M and 10M keys (docs/design.md, "Speed").
 */
#ifndef BPT_SCAN_AHEAD
#define BPT_SCAN_AHEAD 4
#endif

/* above[d] is the leaf's ancestor d + 1 levels up, at[d] the child taken. */
typedef struct scan_path {
    int levels; /* branch levels recorded: 0 for a lone leaf or off the ends */
    bpt_branch *above[BPT_MAX_HEIGHT - 1];
    int at[BPT_MAX_HEIGHT - 1];
} scan_path;

/* scan_set records the branches of descent p, which ends at a leaf. */
static void scan_set(scan_path *s, const path *p)
{
    int levels = p->depth - 1;
    for (int d = 0; d < levels; d++) {
        s->above[d] = (bpt_branch *)p->node[levels - 1 - d];
        s->at[d] = p->idx[levels - 1 - d];
    }
    s->levels = levels;
}

/*
 * scan_move follows the scan's leaf to its neighbour in direction dir: up
 * to the lowest ancestor with a child beyond the one taken, then down its
 * edge. Off either end of the tree the path is no more (levels 0).
 */
static void scan_move(const bpt *t, scan_path *s, int dir)
{
    int d = 0;
    while (d < s->levels &&
           (dir > 0 ? (uint32_t)s->at[d] + 1 >= s->above[d]->h.n : s->at[d] == 0))
        d++;
    if (d == s->levels) {
        s->levels = 0;
        return;
    }
    s->at[d] += dir;
    while (d > 0) {
        bpt_branch *b = (bpt_branch *)branch_children(t, s->above[d])[s->at[d]];
        d--;
        s->above[d] = b;
        s->at[d] = dir > 0 ? 0 : (int)b->h.n - 1;
    }
}

/*
 * scan_prefetch asks for the keys and values of the leaf SCAN_AHEAD leaves
 * after the scan's in direction dir: a child of the same parent, or of the
 * parent's neighbour under the same grandparent (across a grandparent's
 * edge, once in some ten thousand leaves, it asks for nothing).
 */
PREFETCH_INLINE void scan_prefetch(const bpt *t, const scan_path *s, int dir)
{
    if (s->levels == 0)
        return;
    bpt_branch *p = s->above[0];
    int n = (int)p->h.n, j = s->at[0] + dir * BPT_SCAN_AHEAD;
    if (dir > 0 ? j >= n : j < 0) {
        if (s->levels < 2)
            return;
        int g = s->at[1] + dir;
        if (dir > 0 ? g >= (int)s->above[1]->h.n : g < 0)
            return;
        p = (bpt_branch *)branch_children(t, s->above[1])[g];
        j = dir > 0 ? j - n : j + (int)p->h.n;
        if (dir > 0 ? j >= (int)p->h.n : j < 0) /* a parent with few children */
            return;
    }
    prefetch_lines(branch_children(t, p)[j], leaf_base_bytes(t));
}

int bpt_visit(const bpt *t, int (*fn)(void *key, void *value, void *arg), void *arg)
{
    scan_path s = {.levels = 0};
    if (t->root) {
        path p;
        descend_edge(t, &p, false);
        scan_set(&s, &p);
    }
    for (bpt_leaf *l = t->first; l; l = l->next, scan_move(t, &s, 1)) {
        scan_prefetch(t, &s, 1);
        void **keys = leaf_keys(l), **vals = leaf_vals(t, l);
        for (uint32_t i = 0, n = l->h.n; i < n; i++) {
            int rc = fn(keys[i], vals[i], arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- Cursors -------------------------------------------------------------- */

typedef enum { AT_BEFORE = -1, AT_ITEM = 0, AT_AFTER = 1 } cursor_state;

struct bpt_cursor {
    bpt *t;
    bpt_allocator allocator; /* its own copy: freeing needs no tree */
    bpt_leaf *leaf;
    int idx;
    cursor_state state;
    uint64_t version;
    scan_path scan; /* the branches above leaf, while at an item */
};

bpt_status bpt_cursor_new(bpt *t, bpt_cursor **out)
{
    bpt_cursor *c = mem_alloc(&t->cfg.allocator, sizeof *c);
    if (!c)
        return BPT_ENOMEM;
    c->t = t;
    c->allocator = t->cfg.allocator;
    c->leaf = NULL;
    c->idx = 0;
    c->state = AT_BEFORE;
    c->version = t->version;
    *out = c;
    return BPT_OK;
}

void bpt_cursor_free(bpt_cursor *c)
{
    if (c)
        mem_free(&c->allocator, c, sizeof *c);
}

/* cursor_place positions c at (l, i), or off an end when l is NULL. */
static bpt_status cursor_place(bpt_cursor *c, bpt_leaf *l, int i, cursor_state off_end)
{
    c->version = c->t->version;
    c->leaf = l;
    c->idx = i;
    c->state = l ? AT_ITEM : off_end;
    return l ? BPT_OK : BPT_NOTFOUND;
}

/*
 * cursor_at positions c at position i of the leaf that descent p ended at,
 * where i may be that leaf's count (the next leaf's first item), and keeps
 * p's branches for the scan: after the last item when there is no such
 * item.
 */
static bpt_status cursor_at(bpt_cursor *c, const path *p, int i)
{
    bpt_leaf *l;
    int io;
    if (!leaf_item(path_leaf(p), i, &l, &io))
        return cursor_place(c, NULL, 0, AT_AFTER);
    scan_set(&c->scan, p);
    if (l != path_leaf(p)) /* i is the leaf's count: the next leaf's first item */
        scan_move(c->t, &c->scan, 1);
    return cursor_place(c, l, io, AT_AFTER);
}

/* cursor_edge positions c at the first (last == false) or last item. */
static bpt_status cursor_edge(bpt_cursor *c, bool last)
{
    const bpt *t = c->t;
    path p;
    if (!t->root)
        return cursor_place(c, NULL, 0, last ? AT_BEFORE : AT_AFTER);
    descend_edge(t, &p, last);
    return cursor_at(c, &p, path_pos(&p));
}

bpt_status bpt_cursor_first(bpt_cursor *c) { return cursor_edge(c, false); }

bpt_status bpt_cursor_last(bpt_cursor *c) { return cursor_edge(c, true); }

static bpt_status cursor_seek(bpt_cursor *c, void *key, neighbour_kind kind)
{
    path p;
    int i;
    if (!c->t->root)
        return cursor_place(c, NULL, 0, AT_AFTER);
    if (neighbour_pos(c->t, key, kind, &p, &i) < 0)
        return BPT_ECMP;
    return cursor_at(c, &p, i);
}

bpt_status bpt_cursor_seek_ge(bpt_cursor *c, void *key)
{
    return cursor_seek(c, key, NB_CEILING);
}

bpt_status bpt_cursor_seek_gt(bpt_cursor *c, void *key)
{
    return cursor_seek(c, key, NB_HIGHER);
}

bpt_status bpt_cursor_seek_rank(bpt_cursor *c, void *key, size_t *rank)
{
    const bpt *t = c->t;
    path p;
    if (!t->root) {
        *rank = 0;
        cursor_place(c, NULL, 0, AT_AFTER);
        return BPT_NOTFOUND;
    }
    bpt_status found = descend(t, key, &p);
    if (found == BPT_ECMP)
        return BPT_ECMP;
    *rank = path_rank(t, &p);
    cursor_at(c, &p, path_pos(&p));
    return found;
}

bpt_status bpt_cursor_seek_at(bpt_cursor *c, size_t index)
{
    path p;
    if (index >= c->t->size)
        return cursor_place(c, NULL, 0, AT_AFTER);
    descend_at(c->t, index, &p);
    return cursor_at(c, &p, path_pos(&p));
}

/* cursor_step moves c by one item in direction dir (+1 or -1). */
static bpt_status cursor_step(bpt_cursor *c, int dir)
{
    if (c->version != c->t->version)
        return BPT_ESTALE;
    if (c->state == (dir > 0 ? AT_AFTER : AT_BEFORE))
        return BPT_NOTFOUND;
    if (c->state != AT_ITEM) {
        /* Entering from the far end. */
        if (dir > 0)
            return bpt_cursor_first(c) == BPT_OK ? BPT_OK : BPT_NOTFOUND;
        return bpt_cursor_last(c) == BPT_OK ? BPT_OK : BPT_NOTFOUND;
    }
    bpt_leaf *l;
    int i;
    if (!leaf_item(c->leaf, c->idx + dir, &l, &i))
        return cursor_place(c, NULL, 0, dir > 0 ? AT_AFTER : AT_BEFORE);
    /* The next and prev fast paths took every step within the leaf. */
    scan_move(c->t, &c->scan, dir);
    scan_prefetch(c->t, &c->scan, dir);
    return cursor_place(c, l, i, AT_AFTER);
}

/*
 * copy_reversed stores src[0], src[-1], ... src[1 - n] in dst[0..n), if
 * dst; four at a time, whose loads and stores the compiler pairs up (a
 * backward read ran about 0.5 ns per item slower than a forward memcpy
 * with a plain loop).
 */
static void copy_reversed(void **dst, void *const *src, size_t n)
{
    if (!dst)
        return;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        void *a = *(src - k), *b = *(src - k - 1), *c = *(src - k - 2), *d = *(src - k - 3);
        dst[k] = a;
        dst[k + 1] = b;
        dst[k + 2] = c;
        dst[k + 3] = d;
    }
    for (; k < n; k++)
        dst[k] = *(src - k);
}

/*
 * cursor_read copies items from the cursor on, in direction dir, a leaf's
 * run at a time, asking for the leaf SCAN_AHEAD ahead of each one it copies.
 */
static bpt_status cursor_read(bpt_cursor *c, int dir, void **keys, void **values, size_t max,
                              size_t *count)
{
    *count = 0;
    if (c->version != c->t->version)
        return BPT_ESTALE;
    if (c->state != AT_ITEM)
        return BPT_NOTFOUND;
    const bpt *t = c->t;
    bpt_leaf *l = c->leaf;
    int i = c->idx;
    size_t got = 0;
    while (l && got < max) {
        scan_prefetch(t, &c->scan, dir);
        bpt_leaf *after = dir > 0 ? l->next : l->prev;
        size_t avail = dir > 0 ? l->h.n - (uint32_t)i : (size_t)i + 1;
        size_t take = max - got < avail ? max - got : avail;
        if (dir > 0) {
            if (keys)
                memcpy(keys + got, leaf_keys(l) + i, take * sizeof(void *));
            if (values)
                memcpy(values + got, leaf_vals(t, l) + i, take * sizeof(void *));
        } else {
            copy_reversed(keys ? keys + got : NULL, leaf_keys(l) + i, take);
            copy_reversed(values ? values + got : NULL, leaf_vals(t, l) + i, take);
        }
        got += take;
        if (take < avail) {
            i += dir * (int)take;
            break;
        }
        scan_move(t, &c->scan, dir);
        l = after;
        i = l ? (dir > 0 ? 0 : (int)l->h.n - 1) : 0;
    }
    *count = got;
    cursor_place(c, l, i, dir > 0 ? AT_AFTER : AT_BEFORE);
    return BPT_OK;
}

bpt_status bpt_cursor_read(bpt_cursor *c, void **keys, void **values, size_t max, size_t *count)
{
    return cursor_read(c, 1, keys, values, max, count);
}

bpt_status bpt_cursor_read_prev(bpt_cursor *c, void **keys, void **values, size_t max,
                                size_t *count)
{
    return cursor_read(c, -1, keys, values, max, count);
}

/*
 * The common step stays in the cursor's leaf: checked (version first, so a
 * stale cursor never reads its leaf) and done here; cursor_step handles the
 * rest, leaf changes and the ends included.
 */
bpt_status bpt_cursor_next(bpt_cursor *c)
{
    if (c->state == AT_ITEM && c->version == c->t->version &&
        (uint32_t)c->idx + 1 < c->leaf->h.n) {
        c->idx++;
        return BPT_OK;
    }
    return cursor_step(c, 1);
}

bpt_status bpt_cursor_prev(bpt_cursor *c)
{
    if (c->state == AT_ITEM && c->version == c->t->version && c->idx > 0) {
        c->idx--;
        return BPT_OK;
    }
    return cursor_step(c, -1);
}

bpt_status bpt_cursor_get(const bpt_cursor *c, void **key_out, void **value_out)
{
    if (c->version != c->t->version)
        return BPT_ESTALE;
    if (c->state != AT_ITEM)
        return BPT_NOTFOUND;
    return give_item(c->t, c->leaf, c->idx, key_out, value_out);
}

/*
 * bpt_cursor_scan_agrees (bpt_internal.h, for tests) tells whether a cursor
 * at an item keeps the branches above its leaf exactly: each level's child
 * taken is the level below, the top is the root, the bottom holds the leaf.
 */
bool bpt_cursor_scan_agrees(const bpt_cursor *c)
{
    const bpt *t = c->t;
    const scan_path *s = &c->scan;
    if (c->version != t->version || c->state != AT_ITEM)
        return true; /* no path to keep */
    bool ok = s->levels == t->height - 1;
    bpt_node *below = &c->leaf->h;
    for (int d = 0; d < s->levels; d++) {
        ok &= branch_children(t, s->above[d])[s->at[d]] == below;
        below = &s->above[d]->h;
    }
    return ok & (below == t->root);
}
