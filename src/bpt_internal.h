/*
 * bpt_internal.h — node layout shared by the core (src/bpt.c) and the
 * invariant checker (invariants/bpt_check.c). Not installed; tests include it
 * only to corrupt trees on purpose.
 */
#ifndef BPT_INTERNAL_H
#define BPT_INTERNAL_H

#include "bplustree3.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Depth bound: every non-root branch has at least 2 children, so a tree of
 * height h holds at least 2^(h-1) items; 64 levels cover any size_t count.
 */
#define BPT_MAX_HEIGHT 64

typedef struct bpt_node {
    uint32_t n;     /* leaf: keys in use; branch: children in use */
    uint8_t leaf;   /* 1 for a leaf, 0 for a branch */
} bpt_node;

/*
 * Every node has room for one item more than its capacity (cap + 1 slots), so
 * an insert can go into a full node before it is split.
 */

/* A leaf: keys[cap + 1] then values[cap + 1] in slots[], plus the chain. */
typedef struct bpt_leaf {
    bpt_node h;
    struct bpt_leaf *prev;
    struct bpt_leaf *next;
    void *slots[];
} bpt_leaf;

/*
 * A branch with n children: child i holds the keys k with
 * keys[i-1] <= k < keys[i]; keys[i-1] is the very word stored as the first
 * key of child i's subtree (so a separator never outlives its key), and
 * counts[i] is the number of items under child i.
 * Layout after the header: keys[cap + 1], children[cap + 1], counts[cap + 1]:
 * the keys a search reads share the header's cache line; the counts, read
 * only by order statistics and updates, come last.
 */
typedef struct bpt_branch {
    bpt_node h;
    void *slots[];
} bpt_branch;

_Static_assert(sizeof(void *) % _Alignof(size_t) == 0,
               "branch layout puts the size_t counts right after pointers");

struct bpt {
    bpt_config cfg;
    bpt_node *root;    /* NULL when empty */
    bpt_leaf *first;   /* leftmost leaf, NULL when empty */
    bpt_leaf *last;    /* rightmost leaf, NULL when empty */
    size_t size;
    int height;        /* levels: 0 when empty, 1 for a lone leaf */
    uint64_t version;  /* bumped by every structural change */
};

static inline void **leaf_keys(bpt_leaf *l) { return l->slots; }
static inline void **leaf_vals(const bpt *t, bpt_leaf *l)
{
    return l->slots + t->cfg.leaf_capacity + 1;
}
static inline void **branch_keys(const bpt *t, bpt_branch *b)
{
    (void)t;
    return b->slots;
}
static inline bpt_node **branch_children(const bpt *t, bpt_branch *b)
{
    return (bpt_node **)(void *)(b->slots + t->cfg.branch_capacity + 1);
}
static inline size_t *branch_counts(const bpt *t, bpt_branch *b)
{
    return (size_t *)(void *)(b->slots + 2 * ((size_t)t->cfg.branch_capacity + 1));
}

/*
 * With a hint function, each node also keeps the hints of its keys (a
 * branch: of its separators), one uint64_t per key slot, after everything
 * else and 8-byte aligned. hints_at rounds a node's other bytes up to that.
 */
static inline size_t hints_at(size_t bytes) { return (bytes + 7) & ~(size_t)7; }

static inline size_t leaf_base_bytes(const bpt *t)
{
    return sizeof(bpt_leaf) + 2 * ((size_t)t->cfg.leaf_capacity + 1) * sizeof(void *);
}

static inline size_t branch_base_bytes(const bpt *t)
{
    return sizeof(bpt_branch) + ((size_t)t->cfg.branch_capacity + 1) *
                                    (2 * sizeof(void *) + sizeof(size_t));
}

/* leaf_hints and branch_hints are NULL when the tree has no hint function. */
static inline uint64_t *leaf_hints(const bpt *t, bpt_leaf *l)
{
    return t->cfg.hint ? (uint64_t *)(void *)((char *)l + hints_at(leaf_base_bytes(t))) : NULL;
}

static inline uint64_t *branch_hints(const bpt *t, bpt_branch *b)
{
    return t->cfg.hint ? (uint64_t *)(void *)((char *)b + hints_at(branch_base_bytes(t)))
                       : NULL;
}

/* node_capacity is the most items (a leaf) or children (a branch) a node keeps. */
static inline unsigned node_capacity(const bpt *t, bool leaf)
{
    return leaf ? t->cfg.leaf_capacity : t->cfg.branch_capacity;
}

/* The minimum fill of a non-root node of capacity cap: ceil(cap / 2). */
static inline uint32_t bpt_min_fill(unsigned cap) { return (cap + 1) / 2; }

/*
 * bpt_cursor_scan_agrees is for tests: whether a cursor at an item keeps the
 * exact branches above its leaf (the path a scan prefetches leaves by).
 */
bool bpt_cursor_scan_agrees(const bpt_cursor *c);

#endif /* BPT_INTERNAL_H */
