/*
 * bpt_check.h — the invariant checker. A real function in every build: tests,
 * fuzzers and the Python package call it to prove a tree is well formed.
 */
#ifndef BPT_CHECK_H
#define BPT_CHECK_H

#include "bplustree3.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bpt_invariant names the invariant a tree violates (BPT_INV_OK: none). */
typedef enum bpt_invariant {
    BPT_INV_OK = 0,
    BPT_INV_COMPARE,    /* a comparison failed while checking */
    BPT_INV_ROOT,       /* root rules: empty <=> no root; root fill; height */
    BPT_INV_CYCLE,      /* a node is its own ancestor */
    BPT_INV_DEPTH,      /* a leaf off the bottom level, or a branch on it */
    BPT_INV_FILL,       /* a non-root node outside [ceil(cap/2), cap] */
    BPT_INV_KEY_ORDER,  /* keys within a node not strictly increasing (multiset: decrease) */
    BPT_INV_KEY_BOUNDS, /* a key outside the bounds its ancestors' separators set */
    BPT_INV_SEPARATOR,  /* a separator is not the first key of its right subtree */
    BPT_INV_LEAF_CHAIN, /* next/prev links or first/last differ from in-order leaves */
    BPT_INV_COUNT,      /* a branch's count for a child differs from its items */
    BPT_INV_SIZE,       /* the tree's size differs from its items */
    BPT_INV_HINT        /* a stored hint differs from its key's, or hints go down */
} bpt_invariant;

/*
 * bpt_check_report locates the first violation found: the depth of the node
 * (0 is the root; -1 for the tree header), its position among the nodes of
 * that depth counted left to right, and the slot within it where that
 * applies; message is one line for people.
 */
typedef struct bpt_check_report {
    bpt_invariant invariant;
    int depth;
    size_t node;
    size_t slot;
    char message[192];
} bpt_check_report;

/* bpt_invariant_name returns a short, stable name, e.g. "key-order". */
const char *bpt_invariant_name(bpt_invariant inv);

/*
 * bpt_check walks the whole tree in O(n) without recursion and returns the
 * first violated invariant (BPT_INV_OK when there is none), filling report
 * when it is not NULL. It never writes to the tree. It checks a node's fill
 * before reading its slots and stops at the first violation, so a corrupt
 * count or a cycle is reported, not followed.
 */
bpt_invariant bpt_check(const bpt *t, bpt_check_report *report);

#ifdef __cplusplus
}
#endif
#endif /* BPT_CHECK_H */
