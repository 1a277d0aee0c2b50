/*
 * builtin.c — the built-in comparators and node searches: int64, uint64 and
 * double keys stored in the word itself, and byte strings (bpt_bytes *).
 */
#include "bplustree3.h"

#include <string.h>

static int cmp_bytes(void *a, void *b)
{
    const bpt_bytes *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = m ? memcmp(x->data, y->data, m) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
}

/*
 * DEFINE_SEARCH defines a branch-free lower-bound search over n keys, given
 * less(a, b) (0 or 1) and cmp(a, b) that cannot fail: the candidate range
 * halves each step by a masked add, not a jump the CPU would mispredict, and
 * only the last key is compared three ways.
 */
#define DEFINE_SEARCH(name, less, cmp)                                         \
    int name(void *const *keys, int n, void *key, void *ctx, int *exact)       \
    {                                                                          \
        (void)ctx;                                                             \
        if (n <= 0) {                                                          \
            *exact = 0;                                                        \
            return 0;                                                          \
        }                                                                      \
        void *const *base = keys;                                              \
        int len = n;                                                           \
        while (len > 1) {                                                      \
            int half = len / 2;                                                \
            base += half & -less(base[half - 1], key);                         \
            len -= half;                                                       \
        }                                                                      \
        int c = cmp(base[0], key);                                             \
        *exact = c == 0;                                                       \
        return (int)(base - keys) + (c < 0);                                   \
    }

static int less_bytes(void *a, void *b)
{
    return cmp_bytes(a, b) < 0;
}

int bpt_compare_bytes(void *a, void *b, void *ctx)
{
    (void)ctx;
    return cmp_bytes(a, b);
}

DEFINE_SEARCH(bpt_search_bytes, less_bytes, cmp_bytes)

#ifdef BPT_HAVE_WORD64

static inline int cmp_i64(void *a, void *b)
{
    int64_t x = bpt_word_to_i64(a), y = bpt_word_to_i64(b);
    return (x > y) - (x < y);
}

static inline int cmp_u64(void *a, void *b)
{
    uint64_t x = bpt_word_to_u64(a), y = bpt_word_to_u64(b);
    return (x > y) - (x < y);
}

void *bpt_word_from_double(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bpt_word_from_u64(bits);
}

double bpt_word_to_double(void *w)
{
    uint64_t bits = bpt_word_to_u64(w);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Numeric order; -0.0 == 0.0; NaNs are equal and sort after everything. */
static inline int cmp_double(void *a, void *b)
{
    double x = bpt_word_to_double(a), y = bpt_word_to_double(b);
    if (x < y)
        return -1;
    if (x > y)
        return 1;
    if (x == y)
        return 0;
    return (x != x) - (y != y);
}

int bpt_compare_i64(void *a, void *b, void *ctx)
{
    (void)ctx;
    return cmp_i64(a, b);
}

int bpt_compare_u64(void *a, void *b, void *ctx)
{
    (void)ctx;
    return cmp_u64(a, b);
}

int bpt_compare_double(void *a, void *b, void *ctx)
{
    (void)ctx;
    return cmp_double(a, b);
}

static inline int less_i64(void *a, void *b)
{
    return bpt_word_to_i64(a) < bpt_word_to_i64(b);
}

static inline int less_u64(void *a, void *b)
{
    return bpt_word_to_u64(a) < bpt_word_to_u64(b);
}

static inline int less_double(void *a, void *b)
{
    return cmp_double(a, b) < 0;
}

DEFINE_SEARCH(bpt_search_i64, less_i64, cmp_i64)
DEFINE_SEARCH(bpt_search_u64, less_u64, cmp_u64)
DEFINE_SEARCH(bpt_search_double, less_double, cmp_double)

#endif
