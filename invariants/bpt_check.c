/*
 * bpt_check.c — walks a tree depth first, left to right, with an explicit
 * stack, and stops at the first violated invariant.
 */
#include "bpt_check.h"

#include "../src/bpt_internal.h"

#include <stdarg.h>
#include <stdio.h>

const char *bpt_invariant_name(bpt_invariant inv)
{
    switch (inv) {
    case BPT_INV_OK: return "ok";
    case BPT_INV_COMPARE: return "compare";
    case BPT_INV_ROOT: return "root";
    case BPT_INV_CYCLE: return "cycle";
    case BPT_INV_DEPTH: return "depth";
    case BPT_INV_FILL: return "fill";
    case BPT_INV_KEY_ORDER: return "key-order";
    case BPT_INV_KEY_BOUNDS: return "key-bounds";
    case BPT_INV_SEPARATOR: return "separator";
    case BPT_INV_LEAF_CHAIN: return "leaf-chain";
    case BPT_INV_COUNT: return "count";
    case BPT_INV_SIZE: return "size";
    case BPT_INV_HINT: return "hint";
    }
    return "unknown";
}

typedef struct frame {
    const bpt_node *node;
    uint32_t next;      /* next child to visit */
    size_t items;       /* items found under the children visited so far */
    void *const *lo;    /* inclusive lower bound, NULL: none */
    void *const *hi;    /* exclusive upper bound, NULL: none */
    const uint64_t *lo_hint, *hi_hint; /* their hints, in a tree with hints */
} frame;

/*
 * The walk's state: the path from the root on a stack (stack[sp] on top),
 * the last leaf entered, and the separator the next leaf's first key must
 * be (NULL: none), set by the branch above it.
 */
typedef struct walk {
    const bpt *t;
    bpt_check_report *report;
    size_t nodes_at[BPT_MAX_HEIGHT]; /* nodes seen so far at each depth */
    frame stack[BPT_MAX_HEIGHT];
    int sp;
    const bpt_leaf *prev_leaf;
    void *const *expect_first;
} walk;

static bpt_invariant fail(walk *w, bpt_invariant inv, int depth, size_t at, const char *fmt, ...)
{
    if (w->report) {
        va_list ap;
        w->report->invariant = inv;
        w->report->depth = depth;
        w->report->node = depth >= 0 ? w->nodes_at[depth] - 1 : 0;
        w->report->slot = at;
        va_start(ap, fmt);
        vsnprintf(w->report->message, sizeof w->report->message, fmt, ap);
        va_end(ap);
    }
    return inv;
}

/* cmp compares two keys, returning BPT_CMP_ERROR on failure. */
static int cmp(const walk *w, void *a, void *b)
{
    return w->t->cfg.compare(a, b, w->t->cfg.ctx);
}

/*
 * check_hints verifies that each of keys[0..n) has its own hint beside it,
 * and that hints never go down, within the node and against its bounds.
 */
static bpt_invariant check_hints(walk *w, int depth, void *const *keys, const uint64_t *hints,
                                 uint32_t n, const frame *f)
{
    const bpt *t = w->t;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h;
        if (!t->cfg.hint(keys[i], t->cfg.ctx, &h))
            return fail(w, BPT_INV_HINT, depth, i, "key %u has no hint", (unsigned)i);
        if (hints[i] != h)
            return fail(w, BPT_INV_HINT, depth, i, "the hint stored for key %u is not its hint",
                        (unsigned)i);
        if (i > 0 && hints[i] < hints[i - 1])
            return fail(w, BPT_INV_HINT, depth, i, "hint %u is less than hint %u", (unsigned)i,
                        (unsigned)(i - 1));
    }
    if (n && f->lo_hint && *f->lo_hint > hints[0])
        return fail(w, BPT_INV_HINT, depth, 0, "hint 0 is less than the separator's to its left");
    if (n && f->hi_hint && hints[n - 1] > *f->hi_hint)
        return fail(w, BPT_INV_HINT, depth, n - 1,
                    "hint %u is greater than the separator's to its right", (unsigned)(n - 1));
    return BPT_INV_OK;
}

/*
 * check_keys verifies order within keys[0..n) and the bounds [lo, hi): keys
 * strictly increase; in a multiset they do not decrease, and may reach hi,
 * and equal keys have equal hints (a search compares only the keys that
 * share the sought key's hint: one of a run with another would be missed).
 */
static bpt_invariant check_keys(walk *w, int depth, void *const *keys, const uint64_t *hints,
                                uint32_t n, const frame *f)
{
    const char *what = depth == w->t->height - 1 ? "leaf" : "branch";
    int most = w->t->cfg.duplicates ? 0 : -1; /* the greatest a comparison may give */
    bpt_invariant inv;
    if (hints && (inv = check_hints(w, depth, keys, hints, n, f)))
        return inv;
    for (uint32_t i = 1; i < n; i++) {
        int c = cmp(w, keys[i - 1], keys[i]);
        if (c == BPT_CMP_ERROR)
            return fail(w, BPT_INV_COMPARE, depth, i, "comparison failed in a %s", what);
        if (c > most)
            return fail(w, BPT_INV_KEY_ORDER, depth, i, "%s key %u is %s key %u", what,
                        (unsigned)i, most ? "not greater than" : "less than",
                        (unsigned)(i - 1));
        if (c == 0 && hints && hints[i] != hints[i - 1])
            return fail(w, BPT_INV_HINT, depth, i, "equal keys %u and %u have different hints",
                        (unsigned)(i - 1), (unsigned)i);
    }
    if (n == 0)
        return BPT_INV_OK;
    if (f->lo) {
        int c = cmp(w, *f->lo, keys[0]);
        if (c == BPT_CMP_ERROR)
            return fail(w, BPT_INV_COMPARE, depth, 0, "comparison failed against a bound");
        if (c > 0)
            return fail(w, BPT_INV_KEY_BOUNDS, depth, 0,
                        "%s key 0 is below the separator to its left", what);
    }
    if (f->hi) {
        int c = cmp(w, keys[n - 1], *f->hi);
        if (c == BPT_CMP_ERROR)
            return fail(w, BPT_INV_COMPARE, depth, n - 1, "comparison failed against a bound");
        if (c > most)
            return fail(w, BPT_INV_KEY_BOUNDS, depth, n - 1,
                        "%s key %u is %s the separator to its right", what, (unsigned)(n - 1),
                        most ? "not below" : "above");
        if (c == 0 && hints && hints[n - 1] != *f->hi_hint)
            return fail(w, BPT_INV_HINT, depth, n - 1,
                        "key %u equals the separator to its right, but not its hint",
                        (unsigned)(n - 1));
    }
    return BPT_INV_OK;
}

/* check_root verifies the tree header before any node is read. */
static bpt_invariant check_root(walk *w)
{
    const bpt *t = w->t;
    if (!t->root) {
        if (t->size || t->height || t->first || t->last)
            return fail(w, BPT_INV_ROOT, -1, 0,
                        "no root, but size %zu, height %d or a first/last leaf", t->size,
                        t->height);
        return BPT_INV_OK;
    }
    if (t->height < 1 || t->height > BPT_MAX_HEIGHT)
        return fail(w, BPT_INV_ROOT, -1, 0, "height %d out of range", t->height);
    w->nodes_at[0] = 1;
    const bpt_node *r = t->root;
    unsigned cap = node_capacity(t, r->leaf);
    uint32_t least = r->leaf ? 1 : 2;
    if (r->n < least || r->n > cap)
        return fail(w, BPT_INV_ROOT, 0, 0, "root %s holds %u (allowed %u..%u)",
                    r->leaf ? "leaf" : "branch", (unsigned)r->n, (unsigned)least, cap);
    return BPT_INV_OK;
}

/* check_node verifies a node on entry: depth, fill, keys, separators. */
static bpt_invariant check_node(walk *w, int depth, const frame *f, void *const **expect_first)
{
    const bpt *t = w->t;
    const bpt_node *n = f->node;
    bool bottom = depth == t->height - 1;
    bpt_invariant inv;

    if (n->leaf != bottom)
        return fail(w, BPT_INV_DEPTH, depth, 0, "%s at depth %d of a tree of height %d",
                    n->leaf ? "leaf" : "branch", depth, t->height);
    if (depth > 0) {
        unsigned cap = node_capacity(t, n->leaf);
        if (n->n < bpt_min_fill(cap) || n->n > cap)
            return fail(w, BPT_INV_FILL, depth, 0, "%s holds %u (allowed %u..%u)",
                        n->leaf ? "leaf" : "branch", (unsigned)n->n,
                        (unsigned)bpt_min_fill(cap), cap);
    }
    if (n->leaf) {
        bpt_leaf *l = (bpt_leaf *)n;
        if ((inv = check_keys(w, depth, leaf_keys(l), leaf_hints(t, l), l->h.n, f)))
            return inv;
        if (*expect_first && **expect_first != leaf_keys(l)[0])
            return fail(w, BPT_INV_SEPARATOR, depth, 0,
                        "a separator above is not this leaf's first key");
        *expect_first = NULL;
        return BPT_INV_OK;
    }
    bpt_branch *b = (bpt_branch *)n;
    return check_keys(w, depth, branch_keys(t, b), branch_hints(t, b), b->h.n - 1, f);
}

/* check_chain verifies that leaf l follows prev in both directions. */
static bpt_invariant check_chain(walk *w, int depth, const bpt_leaf *prev, const bpt_leaf *l)
{
    if (l->prev != prev)
        return fail(w, BPT_INV_LEAF_CHAIN, depth, 0,
                    "prev link does not point to the previous leaf in order");
    if (prev ? prev->next != l : w->t->first != l)
        return fail(w, BPT_INV_LEAF_CHAIN, depth, 0,
                    prev ? "the previous leaf's next link skips this leaf"
                         : "the tree's first leaf is not the leftmost leaf");
    return BPT_INV_OK;
}

/* enter_root puts the root on the stack, checked as any node is on entry. */
static bpt_invariant enter_root(walk *w)
{
    const bpt *t = w->t;
    bpt_invariant inv;

    w->stack[0] = (frame){.node = t->root};
    w->sp = 0;
    if ((inv = check_node(w, 0, &w->stack[0], &w->expect_first)))
        return inv;
    if (t->root->leaf && (inv = check_chain(w, 0, NULL, (const bpt_leaf *)t->root)))
        return inv;
    if (t->root->leaf)
        w->prev_leaf = (const bpt_leaf *)t->root;
    w->stack[0].items = t->root->leaf ? t->root->n : 0;
    return BPT_INV_OK;
}

/*
 * child_frame is the frame of child i of branch b, whose frame is f: the
 * child's keys are bounded by the separators on either side of it, or at
 * the branch's ends by the branch's own bounds.
 */
static frame child_frame(const bpt *t, const frame *f, bpt_branch *b, uint32_t i)
{
    const uint64_t *hints = branch_hints(t, b);
    return (frame){
        .node = branch_children(t, b)[i],
        .lo = i > 0 ? &branch_keys(t, b)[i - 1] : f->lo,
        .hi = i + 1 < b->h.n ? &branch_keys(t, b)[i] : f->hi,
        .lo_hint = !hints ? NULL : i > 0 ? &hints[i - 1] : f->lo_hint,
        .hi_hint = !hints ? NULL : i + 1 < b->h.n ? &hints[i] : f->hi_hint,
    };
}

/*
 * enter_child pushes the next child of the branch on top of the stack, once
 * it is known to be no ancestor and not below the bottom level, and checks
 * it on entry: the node itself, and a leaf's place in the chain.
 */
static bpt_invariant enter_child(walk *w)
{
    const bpt *t = w->t;
    frame *f = &w->stack[w->sp];
    bpt_branch *b = (bpt_branch *)f->node;
    uint32_t i = f->next++;
    const bpt_node *child = branch_children(t, b)[i];
    bpt_invariant inv;

    for (int d = 0; d <= w->sp; d++)
        if (w->stack[d].node == child)
            return fail(w, BPT_INV_CYCLE, w->sp, i, "child %u is an ancestor at depth %d",
                        (unsigned)i, d);
    if (w->sp + 1 >= t->height)
        return fail(w, BPT_INV_DEPTH, w->sp, i, "node below the bottom level");
    frame *c = &w->stack[++w->sp];
    *c = child_frame(t, f, b, i);
    w->nodes_at[w->sp]++;
    if (i > 0)
        w->expect_first = &branch_keys(t, b)[i - 1];
    if ((inv = check_node(w, w->sp, c, &w->expect_first)))
        return inv;
    if (child->leaf) {
        const bpt_leaf *l = (const bpt_leaf *)child;
        if ((inv = check_chain(w, w->sp, w->prev_leaf, l)))
            return inv;
        w->prev_leaf = l;
        c->items = l->h.n;
    }
    return BPT_INV_OK;
}

/*
 * leave_node pops the node on top of the stack, once its parent's count for
 * it is known to match the items found under it.
 */
static bpt_invariant leave_node(walk *w)
{
    const frame *f = &w->stack[w->sp];
    if (w->sp > 0) {
        frame *up = &w->stack[w->sp - 1];
        uint32_t j = up->next - 1;
        size_t counted = branch_counts(w->t, (bpt_branch *)up->node)[j];
        if (counted != f->items)
            return fail(w, BPT_INV_COUNT, w->sp - 1, j,
                        "branch counts %zu items under child %u, found %zu", counted,
                        (unsigned)j, f->items);
        up->items += f->items;
    }
    w->sp--;
    return BPT_INV_OK;
}

/* check_ends verifies, after the walk, the chain's last leaf and the size. */
static bpt_invariant check_ends(walk *w)
{
    const bpt *t = w->t;
    const bpt_leaf *last = w->prev_leaf;
    if (last->next || t->last != last)
        return fail(w, BPT_INV_LEAF_CHAIN, t->height - 1, 0,
                    last->next ? "the last leaf has a next link"
                               : "the tree's last leaf is not the rightmost leaf");
    if (w->stack[0].items != t->size)
        return fail(w, BPT_INV_SIZE, -1, 0, "size is %zu but the tree holds %zu items", t->size,
                    w->stack[0].items);
    return BPT_INV_OK;
}

bpt_invariant bpt_check(const bpt *t, bpt_check_report *report)
{
    walk w = {.t = t, .report = report};
    bpt_invariant inv;

    if (report) {
        report->invariant = BPT_INV_OK;
        report->depth = -1;
        report->node = report->slot = 0;
        report->message[0] = '\0';
    }
    if ((inv = check_root(&w)) || !t->root)
        return inv;
    if ((inv = enter_root(&w)))
        return inv;
    while (w.sp >= 0) {
        const frame *f = &w.stack[w.sp];
        inv = f->node->leaf || f->next == f->node->n ? leave_node(&w) : enter_child(&w);
        if (inv)
            return inv;
    }
    return check_ends(&w);
}
