/*
 * bplustree3.h — a B+ tree ordered map with a caller-supplied comparator.
 *
 * Keys and values are pointer-sized opaque words (void *). The tree never
 * looks inside a word: it orders keys with the comparator (or the node-search
 * hook) and hands words back as they were given. A word may hold an integer
 * (see bpt_word_from_i64), a pointer to a record, a Python object pointer...
 *
 * Status codes: every fallible function returns a bpt_status. Values >= 0 are
 * outcomes (BPT_OK, BPT_NOTFOUND, ...), values < 0 are errors. After an error
 * the tree is exactly as it was before the call: no key or value was lost,
 * moved, duplicated, retained or released, and bpt_check() passes.
 *
 * Ownership: the tree holds one reference to each key and value it stores.
 * It calls retain_key/retain_value when it starts holding a word the caller
 * passed in (or when bpt_copy duplicates one), and release_key/release_value
 * when it drops a word without handing it back. A word handed back through an
 * "owned" out-parameter (removals, replaced values) carries the tree's
 * reference: the caller now owns it. Passing NULL for such an out-parameter
 * makes the tree release the word instead. Words handed back through a
 * "borrowed" out-parameter (lookups, cursors) stay owned by the tree. The
 * callbacks see every stored word, NULL included (bpt_bulk_load without
 * values stores NULL values).
 *
 * Callbacks (compare, search, retain, release, allocator) must not call into
 * the same tree, except that compare and search may call read-only functions.
 *
 * Thread safety: none; a tree and its cursors belong to one thread at a time.
 */
#ifndef BPLUSTREE3_H
#define BPLUSTREE3_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version: these macros give the header's, bpt_libversion and
 * bpt_libversion_number the compiled library's (they differ when a program
 * runs against another build of the shared library than it was compiled
 * with). BPT_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH. */
#define BPT_VERSION_MAJOR 0
#define BPT_VERSION_MINOR 1
#define BPT_VERSION_PATCH 0
#define BPT_VERSION_STRING "0.1.0"
#define BPT_VERSION_NUMBER \
    (BPT_VERSION_MAJOR * 10000 + BPT_VERSION_MINOR * 100 + BPT_VERSION_PATCH)

/* Node capacities accepted by bpt_new (keys per leaf, children per branch). */
#define BPT_MIN_CAPACITY 4
#define BPT_MAX_CAPACITY 4096

/* bpt_status is the result of every fallible call: >= 0 outcome, < 0 error. */
typedef enum bpt_status {
    BPT_OK = 0,        /* done (inserted, found, removed, positioned) */
    BPT_NOTFOUND = 1,  /* no such key or item; nothing changed */
    BPT_EXISTS = 2,    /* bpt_insert: the key is present; nothing changed */
    BPT_REPLACED = 3,  /* bpt_put: the key was present; its value replaced */
    BPT_ENOMEM = -1,   /* the allocator failed; nothing changed */
    BPT_ECMP = -2,     /* the comparator or search hook failed; nothing changed */
    BPT_EINVAL = -3,   /* a bad argument (config, unsorted bulk input...) */
    BPT_ESTALE = -4    /* cursor: the tree was modified since it was positioned */
} bpt_status;

/* bpt_status_str returns a static, human-readable name for a status. */
const char *bpt_status_str(bpt_status status);

/*
 * BPT_CMP_ERROR is returned by a comparator that failed (in Python: a
 * comparison raised). Any other negative value means a < b, zero a == b,
 * a positive value a > b.
 */
#define BPT_CMP_ERROR INT_MIN

/* bpt_compare_fn orders two keys; see BPT_CMP_ERROR for failure. */
typedef int (*bpt_compare_fn)(void *a, void *b, void *ctx);

/*
 * bpt_search_fn is the node-search hook: it returns the index of the first of
 * keys[0..n) that is not less than key (n when every key is less), and sets
 * *exact to 1 when that key is equal to key, else 0. Any negative result
 * means a comparison failed. keys[0..n) is strictly increasing, or in a
 * multiset non-decreasing: the result must then be the first of the keys
 * equal to key (a binary search that stops at any equal key is wrong
 * there). Upper bounds (bpt_put in a multiset, bpt_rank_upper, floor and
 * higher in a multiset) go past equal keys by calling the hook on one key
 * at a time (n == 1). A result above n is taken as n, so even an inconsistent hook cannot make the tree
 * touch memory it does not own; it can only make the order wrong (an
 * "exact" answer at a branch, for instance, sends bpt_put to the first key
 * of that subtree), which bpt_check reports.
 */
typedef int (*bpt_search_fn)(void *const *keys, int n, void *key, void *ctx,
                             int *exact);

/*
 * bpt_hint_fn summarises a key in 64 bits, in its order: it stores in *hint
 * a number such that a key less than another never has a greater hint and
 * equal keys have equal hints (for strings: the first eight bytes,
 * big-endian), and returns nonzero. With a hint function, every node keeps
 * each key's hint beside it, and a search compares hints first: the
 * comparator or search hook only sees the keys whose hint equals the sought
 * key's, usually one, so keys that live far away in memory are rarely
 * touched. It returns 0 for a key it cannot summarise (one of a type it
 * does not know): such a key is looked up by comparing it with the keys as
 * without hints, and cannot be stored (BPT_EINVAL). It cannot fail. A hint
 * function that breaks these rules can make lookups miss (bpt_check reports
 * it), never corrupt memory.
 */
typedef int (*bpt_hint_fn)(void *key, void *ctx, uint64_t *hint);

/* bpt_word_fn is an ownership callback: retain or release one word. */
typedef void (*bpt_word_fn)(void *word, void *ctx);

/*
 * bpt_allocator supplies node memory. alloc returns NULL on failure; free
 * receives the size that was asked for. A zeroed allocator means malloc/free.
 */
typedef struct bpt_allocator {
    void *(*alloc)(size_t size, void *ctx);
    void (*free)(void *ptr, size_t size, void *ctx);
    void *ctx;
} bpt_allocator;

/*
 * bpt_config describes a tree. Zero-initialise it and set at least compare.
 * Capacities of 0 pick the defaults (BPT_DEFAULT_*_CAPACITY); others must lie
 * in [BPT_MIN_CAPACITY, BPT_MAX_CAPACITY]. ctx is passed to compare, search,
 * hint and the four ownership callbacks; any callback left NULL is a no-op
 * (search and hint: not used).
 *
 * duplicates, when nonzero, makes the tree a multiset (a sorted list of
 * items): equal keys are kept side by side, each its own item, in the order
 * they were added. Every call keeps its meaning with "the first equal key"
 * for "the equal key": bpt_get, bpt_remove and bpt_insert's check find the
 * first of the equal keys, bpt_rank counts the keys before it. Three calls
 * change: bpt_put (and its typed and ranked forms) always inserts, after
 * the keys equal to the new one, and never replaces; bpt_floor returns the
 * last of the equal keys; bpt_bulk_load accepts equal neighbours
 * (non-decreasing keys). bpt_rank_upper and bpt_cursor_seek_gt give the end
 * of a run of equal keys, so a key's count is bpt_rank_upper - bpt_rank.
 */
typedef struct bpt_config {
    bpt_compare_fn compare;
    bpt_search_fn search;
    bpt_hint_fn hint;
    void *ctx;
    bpt_word_fn retain_key;
    bpt_word_fn release_key;
    bpt_word_fn retain_value;
    bpt_word_fn release_value;
    unsigned leaf_capacity;
    unsigned branch_capacity;
    bpt_allocator allocator;
    unsigned duplicates;
} bpt_config;

#define BPT_DEFAULT_LEAF_CAPACITY 64
#define BPT_DEFAULT_BRANCH_CAPACITY 128

typedef struct bpt bpt;
typedef struct bpt_cursor bpt_cursor;

/* ---- Built-in comparators and node searches ----------------------------- */

/*
 * The int64, uint64 and double comparators read the key's value from the
 * word itself (build words with bpt_word_from_i64 and friends); they need
 * 64-bit words. Doubles order numerically, -0.0 equals 0.0, and every NaN
 * sorts after +inf and equals every other NaN. The bytes comparator reads a
 * pointer to a bpt_bytes and orders by memcmp, a shorter prefix first.
 */
typedef struct bpt_bytes {
    size_t len;
    const void *data;
} bpt_bytes;

int bpt_compare_bytes(void *a, void *b, void *ctx);
int bpt_search_bytes(void *const *keys, int n, void *key, void *ctx, int *exact);

#if UINTPTR_MAX >= UINT64_MAX
#define BPT_HAVE_WORD64 1
int bpt_compare_i64(void *a, void *b, void *ctx);
int bpt_compare_u64(void *a, void *b, void *ctx);
int bpt_compare_double(void *a, void *b, void *ctx);
int bpt_search_i64(void *const *keys, int n, void *key, void *ctx, int *exact);
int bpt_search_u64(void *const *keys, int n, void *key, void *ctx, int *exact);
int bpt_search_double(void *const *keys, int n, void *key, void *ctx, int *exact);

/* bpt_word_from_i64 packs an int64 into a word; bpt_word_to_i64 unpacks it. */
static inline void *bpt_word_from_i64(int64_t v) { return (void *)(intptr_t)v; }
static inline int64_t bpt_word_to_i64(void *w) { return (int64_t)(intptr_t)w; }
static inline void *bpt_word_from_u64(uint64_t v) { return (void *)(uintptr_t)v; }
static inline uint64_t bpt_word_to_u64(void *w) { return (uint64_t)(uintptr_t)w; }
void *bpt_word_from_double(double v);
double bpt_word_to_double(void *w);
#endif

/* ---- Life cycle ---------------------------------------------------------- */

/* bpt_libversion returns the library's version, "MAJOR.MINOR.PATCH". */
const char *bpt_libversion(void);

/* bpt_libversion_number returns the library's BPT_VERSION_NUMBER. */
int bpt_libversion_number(void);

/*
 * bpt_new creates an empty tree described by cfg (copied) and stores it in
 * *out. Returns BPT_EINVAL for a missing comparator or a bad capacity,
 * BPT_ENOMEM when the allocator fails.
 */
bpt_status bpt_new(const bpt_config *cfg, bpt **out);

/*
 * bpt_set_context changes the ctx passed to t's callbacks, for instance for
 * a copy whose keys belong to another owner than the original's.
 */
void bpt_set_context(bpt *t, void *ctx);

/* bpt_free releases every key and value, then frees the tree. NULL is ok. */
void bpt_free(bpt *t);

/* bpt_clear releases every key and value and leaves the tree empty. */
void bpt_clear(bpt *t);

/*
 * bpt_copy makes a structural copy of t in O(n) (same shape, no comparisons)
 * into *out, retaining every key and value once more for the copy.
 */
bpt_status bpt_copy(const bpt *t, bpt **out);

/*
 * bpt_bulk_load fills an empty tree from n strictly increasing keys in O(n)
 * (non-decreasing in a multiset: equal keys stay in their order),
 * retaining each key and value. values may be NULL (every value is NULL).
 * Returns BPT_EINVAL when the tree is not empty, the keys are out of order
 * or one has no hint (nothing is built), BPT_ECMP, BPT_ENOMEM.
 */
bpt_status bpt_bulk_load(bpt *t, void *const *keys, void *const *values,
                         size_t n);

/* ---- Queries ------------------------------------------------------------- */

/* bpt_size returns the number of items, in O(1). */
size_t bpt_size(const bpt *t);

/* bpt_leaf_capacity and bpt_branch_capacity return the capacities in use. */
unsigned bpt_leaf_capacity(const bpt *t);
unsigned bpt_branch_capacity(const bpt *t);

/* bpt_duplicates returns 1 for a multiset (see bpt_config), else 0. */
int bpt_duplicates(const bpt *t);

/*
 * bpt_stats describes a tree's memory: its nodes, and the bytes it asked
 * its allocator for (the tree header and every node; cursors excluded).
 * The average leaf holds items / leaves items.
 */
typedef struct bpt_stats {
    size_t items;
    size_t leaves;
    size_t branches;
    size_t bytes;
    unsigned height;
} bpt_stats;

/* bpt_get_stats fills *out, walking every branch and leaf once: O(n / cap). */
void bpt_get_stats(const bpt *t, bpt_stats *out);

/*
 * bpt_change_count returns a counter that every structural change (an
 * insert, any removal, clear, bulk load) increases and nothing else does:
 * replacing a value leaves it alone. Equal counts mean the same items in
 * the same places, so borrowed keys read earlier are still valid. (Named
 * bpt_version before 0.2; the library's version is bpt_libversion.)
 */
uint64_t bpt_change_count(const bpt *t);

/*
 * bpt_get looks key up. On BPT_OK it stores the stored key and its value
 * (borrowed) in the out-parameters that are not NULL; in a multiset, those
 * of the first equal key.
 */
bpt_status bpt_get(const bpt *t, void *key, void **key_out, void **value_out);

#ifdef BPT_HAVE_WORD64
/*
 * bpt_get_i64 looks up key in a tree of int64 keys in the words (its
 * comparator is bpt_compare_i64 or its search bpt_search_i64) without
 * calling either: the answer of bpt_get, in fewer instructions. On BPT_OK it
 * stores the value (borrowed) in value_out when that is not NULL;
 * BPT_EINVAL for a tree ordered otherwise.
 */
bpt_status bpt_get_i64(const bpt *t, int64_t key, void **value_out);
#endif

/* bpt_first and bpt_last return the smallest or largest item (borrowed). */
bpt_status bpt_first(const bpt *t, void **key_out, void **value_out);
bpt_status bpt_last(const bpt *t, void **key_out, void **value_out);

/*
 * The neighbour queries return (borrowed) the item with the greatest key
 * <= key (floor), the least key >= key (ceiling), the greatest key < key
 * (lower) or the least key > key (higher); BPT_NOTFOUND when there is none.
 * In a multiset each returns the item nearest to key on its side: floor
 * the last of the keys equal to key, ceiling the first.
 */
bpt_status bpt_floor(const bpt *t, void *key, void **key_out, void **value_out);
bpt_status bpt_ceiling(const bpt *t, void *key, void **key_out, void **value_out);
bpt_status bpt_lower(const bpt *t, void *key, void **key_out, void **value_out);
bpt_status bpt_higher(const bpt *t, void *key, void **key_out, void **value_out);

/*
 * bpt_rank stores in *rank the number of keys less than key, in O(log n),
 * and returns BPT_OK when key is present, BPT_NOTFOUND when it is not.
 * bpt_rank_upper does the same with the number of keys less than or equal
 * to key: in a multiset, the position after the last equal key.
 */
bpt_status bpt_rank(const bpt *t, void *key, size_t *rank);
bpt_status bpt_rank_upper(const bpt *t, void *key, size_t *rank);

/* bpt_at returns (borrowed) the item at 0-based position index, O(log n). */
bpt_status bpt_at(const bpt *t, size_t index, void **key_out, void **value_out);

/*
 * bpt_visit calls fn(key, value, arg) for every item in order (borrowed),
 * without allocating, and stops at the first non-zero return, which it
 * returns (0 when every call returned 0). fn must not modify the tree.
 */
int bpt_visit(const bpt *t, int (*fn)(void *key, void *value, void *arg), void *arg);

/* ---- Updates ------------------------------------------------------------- */

/*
 * bpt_put inserts key -> value, or replaces the value of an equal key (the
 * stored key is kept and the passed key is not retained). Returns BPT_OK when
 * it inserted, BPT_REPLACED when it replaced: the old value is then handed
 * back, owned, through *old_value, or released when old_value is NULL.
 * BPT_EINVAL: the key is absent and has no hint (see bpt_hint_fn).
 * In a multiset it always inserts, after the keys equal to key (BPT_OK;
 * *old_value is not written), and a key without a hint is BPT_EINVAL.
 */
bpt_status bpt_put(bpt *t, void *key, void *value, void **old_value);

/*
 * bpt_put_rank is bpt_put that also stores in *rank the position of the
 * item it inserted or whose value it replaced (the number of keys before
 * it: less than key, or in a multiset less than or equal to key). A caller can undo the change at that position without comparing
 * keys, as long as nothing else changed since: bpt_remove_at for an insert,
 * bpt_replace_at with the old value for a replacement. Undoing several puts
 * in the reverse order of the puts restores the tree's items exactly.
 */
bpt_status bpt_put_rank(bpt *t, void *key, void *value, void **old_value, size_t *rank);

/*
 * bpt_insert inserts key -> value only if no equal key is present. Returns
 * BPT_OK when inserted, BPT_EXISTS otherwise (the present value is then
 * stored, borrowed, in *existing when it is not NULL; nothing is retained).
 * BPT_EINVAL: the key is absent and has no hint (see bpt_hint_fn).
 */
bpt_status bpt_insert(bpt *t, void *key, void *value, void **existing);

/*
 * bpt_remove removes the item with key equal to key (in a multiset the
 * first of them), handing the stored key and value back (owned) through
 * key_out and value_out, or releasing each one whose out-parameter is NULL.
 */
bpt_status bpt_remove(bpt *t, void *key, void **key_out, void **value_out);

#ifdef BPT_HAVE_WORD64
/*
 * bpt_put_i64, bpt_put_i64_rank and bpt_remove_i64 are bpt_put,
 * bpt_put_rank and bpt_remove for a tree of
 * int64 keys in the words (as bpt_get_i64): the same results, with a
 * descent that compares machine numbers in place and calls neither the
 * comparator nor the search. BPT_EINVAL for a tree ordered otherwise, and
 * from the puts for a tree with hints.
 */
bpt_status bpt_put_i64(bpt *t, int64_t key, void *value, void **old_value);
bpt_status bpt_put_i64_rank(bpt *t, int64_t key, void *value, void **old_value, size_t *rank);
bpt_status bpt_remove_i64(bpt *t, int64_t key, void **key_out, void **value_out);
#endif

/* bpt_pop_first and bpt_pop_last remove the smallest or largest item (owned). */
bpt_status bpt_pop_first(bpt *t, void **key_out, void **value_out);
bpt_status bpt_pop_last(bpt *t, void **key_out, void **value_out);

/*
 * bpt_remove_at removes the item at 0-based position index, handing its key
 * and value back as bpt_remove does; BPT_NOTFOUND when index >= size. It
 * compares no keys and allocates nothing: it cannot fail on a valid index.
 */
bpt_status bpt_remove_at(bpt *t, size_t index, void **key_out, void **value_out);

/*
 * bpt_replace_at stores value (retained) as the value of the item at
 * 0-based position index and hands the old value back (owned) through
 * old_value, or releases it when old_value is NULL; BPT_NOTFOUND when
 * index >= size. No comparison, no allocation, no structural change
 * (cursors stay valid).
 */
bpt_status bpt_replace_at(bpt *t, size_t index, void *value, void **old_value);

/*
 * bpt_remove_range_at removes the items at positions from <= i < to (to
 * past the end counts as the end; nothing when to <= from), releasing keys
 * and values, and stores the count in *removed when it is not NULL. It
 * compares no keys and allocates nothing: it cannot fail. O(log n + m).
 */
bpt_status bpt_remove_range_at(bpt *t, size_t from, size_t to, size_t *removed);

/*
 * bpt_remove_range removes every item with lo <= key < hi, releasing keys
 * and values, and stores the count in *removed when it is not NULL. A NULL lo
 * or hi means unbounded on that side. Costs O(log n + m) for m removed items,
 * with O(m / capacity) descents: much less than m single removals.
 */
bpt_status bpt_remove_range(bpt *t, void *const *lo, void *const *hi,
                            size_t *removed);

/* ---- Cursors ------------------------------------------------------------- */

/*
 * A cursor is a position in the sequence of items: before the first item,
 * at an item, or after the last item. It holds no reference to the items.
 * Any change to the tree's structure (insert, remove, clear, bulk load...)
 * invalidates it: its next move or read returns BPT_ESTALE until it is
 * positioned again. Replacing a value (bpt_put on a present key of a map,
 * bpt_replace_at) does not; in a multiset every bpt_put inserts.
 * Do not use a cursor after its tree is freed; freeing it then is allowed
 * (it keeps its own copy of the allocator).
 */

/* bpt_cursor_new creates a cursor over t, positioned before the first item. */
bpt_status bpt_cursor_new(bpt *t, bpt_cursor **out);

/* bpt_cursor_free frees a cursor. NULL is ok. */
void bpt_cursor_free(bpt_cursor *c);

/*
 * The seeks position the cursor at the first item, the last item, the first
 * item with key >= key (seek_ge), the first with key > key (seek_gt) or the
 * item at a 0-based position (seek_at). They return BPT_NOTFOUND when there
 * is no such item: the cursor is then after the last item (before the first
 * for bpt_cursor_last on an empty tree). On BPT_ECMP the cursor is unchanged.
 */
bpt_status bpt_cursor_first(bpt_cursor *c);
bpt_status bpt_cursor_last(bpt_cursor *c);
bpt_status bpt_cursor_seek_ge(bpt_cursor *c, void *key);
bpt_status bpt_cursor_seek_gt(bpt_cursor *c, void *key);
bpt_status bpt_cursor_seek_at(bpt_cursor *c, size_t index);

/*
 * bpt_cursor_seek_rank is bpt_cursor_seek_ge and bpt_rank in one descent:
 * it positions c at the first item with key >= key (after the last item
 * when there is none), stores in *rank the number of keys less than key,
 * and returns BPT_OK when key is present, BPT_NOTFOUND when it is not. On
 * BPT_ECMP the cursor and *rank are unchanged. A range's iteration can
 * start from its first bound this way and know its length from one more
 * bpt_rank.
 */
bpt_status bpt_cursor_seek_rank(bpt_cursor *c, void *key, size_t *rank);

/*
 * bpt_cursor_next and bpt_cursor_prev move one item forward or back. Before
 * the first item, next goes to the first; after the last, prev goes to the
 * last. They return BPT_NOTFOUND when they step off either end (on an empty
 * tree, next leaves the cursor after the end and prev before the start),
 * BPT_ESTALE when the tree changed since the last seek.
 */
bpt_status bpt_cursor_next(bpt_cursor *c);
bpt_status bpt_cursor_prev(bpt_cursor *c);

/*
 * bpt_cursor_get reads the item under the cursor (borrowed). BPT_NOTFOUND
 * when the cursor is before the first or after the last item.
 */
bpt_status bpt_cursor_get(const bpt_cursor *c, void **key_out, void **value_out);

/*
 * bpt_cursor_read copies up to max items (borrowed), from the one under the
 * cursor onward, into keys[] and values[] (either may be NULL), stores how
 * many in *count, and leaves the cursor on the item after the last one
 * copied (or after the last item). bpt_cursor_read_prev does the same going
 * backward: keys[0] is the item under the cursor, keys[1] the one before it.
 * Returns BPT_OK when the cursor was on an item, BPT_NOTFOUND when it was
 * not (nothing copied), BPT_ESTALE. A scan a chunk at a time costs a
 * fraction of a nanosecond per item more than the copies themselves.
 */
bpt_status bpt_cursor_read(bpt_cursor *c, void **keys, void **values, size_t max,
                           size_t *count);
bpt_status bpt_cursor_read_prev(bpt_cursor *c, void **keys, void **values, size_t max,
                                size_t *count);

#ifdef __cplusplus
}
#endif
#endif /* BPLUSTREE3_H */
