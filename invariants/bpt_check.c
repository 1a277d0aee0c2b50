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

typedef struct walk {
    const bpt *t;
    bpt_check_report *report;
    size_t nodes_at[BPT_MAX_HEIGHT]; /* nodes seen so far at each depth */
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

bpt_invariant bpt_check(const bpt *t, bpt_check_report *report)
{
    frame stack[BPT_MAX_HEIGHT];
    walk w = {.t = t, .report = report};
    const bpt_leaf *prev_leaf = NULL;
    void *const *expect_first = NULL;
    bpt_invariant inv;
    int sp = 0;

    if (report) {
        report->invariant = BPT_INV_OK;
        report->depth = -1;
        report->node = report->slot = 0;
        report->message[0] = '\0';
    }
    if ((inv = check_root(&w)) || !t->root)
        return inv;

    stack[0] = (frame){.node = t->root};
    if ((inv = check_node(&w, 0, &stack[0], &expect_first)))
        return inv;
    if (t->root->leaf && (inv = check_chain(&w, 0, NULL, (const bpt_leaf *)t->root)))
        return inv;
    if (t->root->leaf)
        prev_leaf = (const bpt_leaf *)t->root;
    stack[0].items = t->root->leaf ? t->root->n : 0;

    while (sp >= 0) {
        frame *f = &stack[sp];
        const bpt_node *n = f->node;
        if (n->leaf || f->next == n->n) {
            /* Leaving the node: its parent's count for it must match. */
            if (sp > 0) {
                frame *up = &stack[sp - 1];
                bpt_branch *pb = (bpt_branch *)up->node;
                if (branch_counts(t, pb)[up->next - 1] != f->items)
                    return fail(&w, BPT_INV_COUNT, sp - 1, up->next - 1,
                                "branch counts %zu items under child %u, found %zu",
                                branch_counts(t, pb)[up->next - 1], (unsigned)(up->next - 1), f->items);
                up->items += f->items;
            }
            sp--;
            continue;
        }
        bpt_branch *b = (bpt_branch *)n;
        uint32_t i = f->next++;
        const bpt_node *child = branch_children(t, b)[i];
        for (int d = 0; d <= sp; d++)
            if (stack[d].node == child)
                return fail(&w, BPT_INV_CYCLE, sp, i, "child %u is an ancestor at depth %d",
                            (unsigned)i, d);
        if (sp + 1 >= t->height)
            return fail(&w, BPT_INV_DEPTH, sp, i, "node below the bottom level");
        frame *c = &stack[++sp];
        const uint64_t *hints = branch_hints(t, b);
        *c = (frame){
            .node = child,
            .lo = i > 0 ? &branch_keys(t, b)[i - 1] : f->lo,
            .hi = i + 1 < b->h.n ? &branch_keys(t, b)[i] : f->hi,
            .lo_hint = !hints ? NULL : i > 0 ? &hints[i - 1] : f->lo_hint,
            .hi_hint = !hints ? NULL : i + 1 < b->h.n ? &hints[i] : f->hi_hint,
        };
        w.nodes_at[sp]++;
        if (i > 0)
            expect_first = &branch_keys(t, b)[i - 1];
        if ((inv = check_node(&w, sp, c, &expect_first)))
            return inv;
        if (child->leaf) {
            const bpt_leaf *l = (const bpt_leaf *)child;
            if ((inv = check_chain(&w, sp, prev_leaf, l)))
                return inv;
            prev_leaf = l;
            c->items = l->h.n;
        }
    }
    if (prev_leaf->next || t->last != prev_leaf)
        return fail(&w, BPT_INV_LEAF_CHAIN, t->height - 1, 0,
                    prev_leaf->next ? "the last leaf has a next link"
                                    : "the tree's last leaf is not the rightmost leaf");
    if (stack[0].items != t->size)
        return fail(&w, BPT_INV_SIZE, -1, 0, "size is %zu but the tree holds %zu items",
                    t->size, stack[0].items);
    return BPT_INV_OK;
}
