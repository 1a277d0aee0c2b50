/* testlib.c — see testlib.h. */
#include "testlib.h"

#include "bpt_internal.h"

#include <stdarg.h>
#include <string.h>

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort(); /* a crash to a fuzzer, a failure to meson, a core to gdb */
}

void check_tree_at(const char *file, int line, const bpt *t)
{
    bpt_check_report r;
    if (bpt_check(t, &r) != BPT_INV_OK)
        test_fail(file, line, "invariant %s violated at depth %d node %zu slot %zu: %s",
                  bpt_invariant_name(r.invariant), r.depth, r.node, r.slot, r.message);
}

/* ---- PRNG ----------------------------------------------------------------- */

uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_below(rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

uint64_t test_seed(uint64_t fallback)
{
    const char *s = getenv("SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0) : fallback;
    printf("seed %llu (set SEED= to reproduce)\n", (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

/* ---- Allocator ------------------------------------------------------------ */

/* Each block carries its size in front, to check what free is told. */
typedef union block_header {
    size_t size;
    max_align_t align;
} block_header;

static void *t_alloc(size_t size, void *ctx)
{
    test_alloc *a = ctx;
    a->calls++;
    if (a->reenter && a->calls % 4 == 0)
        test_reenter(a->reenter);
    bool fail = a->random ? rng_below(&a->chaos, a->chaos_odds) == 0 : a->calls == a->fail_at;
    if (fail) {
        a->failures++;
        return NULL;
    }
    block_header *h = malloc(sizeof *h + size);
    if (!h) {
        fprintf(stderr, "test allocator: the real malloc failed\n");
        exit(2);
    }
    h->size = size;
    a->live++;
    a->bytes += size;
    return h + 1;
}

static void t_free(void *ptr, size_t size, void *ctx)
{
    test_alloc *a = ctx;
    block_header *h = (block_header *)ptr - 1;
    if (h->size != size)
        test_fail(__FILE__, __LINE__, "free told %zu bytes for a block of %zu", size, h->size);
    a->live--;
    a->bytes -= size;
    free(h);
}

bpt_allocator test_allocator(test_alloc *a)
{
    return (bpt_allocator){.alloc = t_alloc, .free = t_free, .ctx = a};
}

/* ---- Comparator and ownership ------------------------------------------- */

void test_reenter(test_ctx *c)
{
    if (!c->watch || !*c->watch || c->quiet || c->reentering)
        return;
    const bpt *t = *c->watch;
    c->reentering = c->quiet = true; /* its comparisons neither count nor fail */
    bpt_check_report r;
    bpt_invariant inv = bpt_check(t, &r);
    if (inv != BPT_INV_OK)
        test_fail(__FILE__, __LINE__, "re-entered from a callback, the tree is not whole: %s",
                  r.message);
    size_t n = bpt_size(t), rank = 0, end = 0;
    void *k, *v, *found;
    if (n > 0) {
        /* The middle item's key: n / 2 lies in its run of equal keys (one
         * key long in a map), and a lookup finds the run's first item. */
        CHECK_EQ(bpt_at(t, n / 2, &k, NULL), BPT_OK);
        CHECK_EQ(bpt_rank(t, k, &rank), BPT_OK);
        CHECK_EQ(bpt_rank_upper(t, k, &end), BPT_OK);
        CHECK(rank <= n / 2 && n / 2 < end);
        CHECK(bpt_duplicates(t) || end == rank + 1);
        CHECK_EQ(bpt_at(t, rank, NULL, &v), BPT_OK);
        CHECK_EQ(bpt_get(t, k, NULL, &found), BPT_OK);
        CHECK(found == v);
    }
    c->reentries++;
    c->reentering = c->quiet = false;
}

int test_compare(void *a, void *b, void *ctx)
{
    test_ctx *c = ctx;
    if (c->watch && c->cmp_calls % 16 == 0)
        test_reenter(c);
    if (!c->quiet && ++c->cmp_calls == c->cmp_fail_at) {
        c->cmp_failures++;
        return BPT_CMP_ERROR;
    }
    int64_t x = I(a), y = I(b);
    return (x > y) - (x < y);
}

int test_search(void *const *keys, int n, void *key, void *ctx, int *exact)
{
    /* A plain linear scan, unlike the core's binary search. */
    for (int i = 0; i < n; i++) {
        int c = test_compare(keys[i], key, ctx);
        if (c == BPT_CMP_ERROR)
            return -1;
        if (c >= 0) {
            *exact = c == 0;
            return i;
        }
    }
    *exact = 0;
    return n;
}

int test_hint(void *key, void *ctx, uint64_t *hint)
{
    (void)ctx;
    /* Order-preserving and coarse: eight keys share each hint. */
    *hint = ((uint64_t)I(key) ^ (UINT64_C(1) << 63)) >> 3;
    return 1;
}

static long *ref_slot(long *table, void *w)
{
    int64_t i = I(w);
    return i >= 0 && i < REF_WORDS ? &table[i] : NULL;
}

static void retain_key(void *w, void *ctx)
{
    long *s = ref_slot(((test_ctx *)ctx)->refs->key, w);
    if (s)
        ++*s;
}

static void release_key(void *w, void *ctx)
{
    long *s = ref_slot(((test_ctx *)ctx)->refs->key, w);
    if (s && --*s < 0)
        test_fail(__FILE__, __LINE__, "key %lld released more often than retained",
                  (long long)I(w));
}

static void retain_value(void *w, void *ctx)
{
    long *s = ref_slot(((test_ctx *)ctx)->refs->value, w);
    if (s)
        ++*s;
}

static void release_value(void *w, void *ctx)
{
    long *s = ref_slot(((test_ctx *)ctx)->refs->value, w);
    if (s && --*s < 0)
        test_fail(__FILE__, __LINE__, "value %lld released more often than retained",
                  (long long)I(w));
}

bpt_config test_config(test_ctx *ctx, unsigned leaf_cap, unsigned branch_cap, int search_kind,
                       test_alloc *alloc)
{
    bpt_config cfg = {
        .compare = test_compare,
        .ctx = ctx,
        .leaf_capacity = leaf_cap,
        .branch_capacity = branch_cap,
    };
    if (search_kind == 1)
        cfg.search = bpt_search_i64;
    else if (search_kind == 2 || search_kind == 4)
        cfg.search = test_search;
    if (search_kind >= 3)
        cfg.hint = test_hint;
    if (ctx->refs) {
        cfg.retain_key = retain_key;
        cfg.release_key = release_key;
        cfg.retain_value = retain_value;
        cfg.release_value = release_value;
    }
    if (alloc)
        cfg.allocator = test_allocator(alloc);
    return cfg;
}

/* ---- Reference model ------------------------------------------------------ */

void ref_init(ref_map *m)
{
    memset(m, 0, sizeof *m);
}

void ref_free(ref_map *m)
{
    free(m->items);
    ref_init(m);
}

static void ref_reserve(ref_map *m, size_t n)
{
    if (n <= m->cap)
        return;
    size_t cap = m->cap ? m->cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    m->items = realloc(m->items, cap * sizeof *m->items);
    if (!m->items) {
        fprintf(stderr, "reference model: out of memory\n");
        exit(2);
    }
    m->cap = cap;
}

void ref_copy(ref_map *dst, const ref_map *src)
{
    dst->n = 0;
    ref_reserve(dst, src->n);
    if (src->n)
        memcpy(dst->items, src->items, src->n * sizeof *src->items);
    dst->n = src->n;
    dst->multi = src->multi;
}

size_t ref_lower(const ref_map *m, int64_t key)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->items[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t ref_upper(const ref_map *m, int64_t key)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->items[mid].key <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool ref_find(const ref_map *m, int64_t key, size_t *index)
{
    size_t i = ref_lower(m, key);
    if (index)
        *index = i;
    return i < m->n && m->items[i].key == key;
}

bool ref_put(ref_map *m, int64_t key, int64_t value, int64_t *old)
{
    size_t i;
    if (m->multi) {
        i = ref_upper(m, key);
    } else if (ref_find(m, key, &i)) {
        if (old)
            *old = m->items[i].value;
        m->items[i].value = value;
        return true;
    }
    ref_reserve(m, m->n + 1);
    memmove(m->items + i + 1, m->items + i, (m->n - i) * sizeof *m->items);
    m->items[i] = (ref_item){key, value};
    m->n++;
    return false;
}

void ref_remove_at(ref_map *m, size_t i)
{
    memmove(m->items + i, m->items + i + 1, (m->n - i - 1) * sizeof *m->items);
    m->n--;
}

bool ref_remove(ref_map *m, int64_t key, int64_t *value)
{
    size_t i;
    if (!ref_find(m, key, &i))
        return false;
    if (value)
        *value = m->items[i].value;
    ref_remove_at(m, i);
    return true;
}

size_t ref_remove_span(ref_map *m, size_t from, size_t to)
{
    if (to > m->n)
        to = m->n;
    if (to <= from)
        return 0;
    memmove(m->items + from, m->items + to, (m->n - to) * sizeof *m->items);
    m->n -= to - from;
    return to - from;
}

size_t ref_remove_range(ref_map *m, const int64_t *lo, const int64_t *hi)
{
    return ref_remove_span(m, lo ? ref_lower(m, *lo) : 0, hi ? ref_lower(m, *hi) : m->n);
}

bool tree_matches(const bpt *t, const ref_map *m)
{
    if (bpt_size(t) != m->n)
        return false;
    /* Walk the leaf chain directly: no cursor, no allocation. */
    size_t i = 0;
    for (bpt_leaf *l = t->first; l; l = l->next) {
        for (uint32_t k = 0; k < l->h.n; k++, i++) {
            if (i >= m->n || I(leaf_keys(l)[k]) != m->items[i].key ||
                I(leaf_vals(t, l)[k]) != m->items[i].value)
                return false;
        }
    }
    return i == m->n;
}

bool refs_match(const test_refs *r, const ref_map *m)
{
    static long want_key[REF_WORDS], want_value[REF_WORDS];
    memset(want_key, 0, sizeof want_key);
    memset(want_value, 0, sizeof want_value);
    for (size_t i = 0; i < m->n; i++) {
        if (m->items[i].key >= 0 && m->items[i].key < REF_WORDS)
            want_key[m->items[i].key]++;
        if (m->items[i].value >= 0 && m->items[i].value < REF_WORDS)
            want_value[m->items[i].value]++;
    }
    return memcmp(want_key, r->key, sizeof want_key) == 0 &&
           memcmp(want_value, r->value, sizeof want_value) == 0;
}

/* ---- Shape ---------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0x100000001b3ULL;
}

uint64_t tree_fingerprint(const bpt *t)
{
    uint64_t h = mix(mix(mix(0, t->size), (uint64_t)t->height), t->version);
    h = mix(mix(h, (uintptr_t)t->first), (uintptr_t)t->last);
    if (!t->root)
        return h;
    const bpt_node *stack[BPT_MAX_HEIGHT];
    uint32_t next[BPT_MAX_HEIGHT];
    int sp = 0;
    stack[0] = t->root;
    next[0] = 0;
    while (sp >= 0) {
        const bpt_node *n = stack[sp];
        if (next[sp] == 0) {
            h = mix(mix(mix(h, (uintptr_t)n), n->n), n->leaf);
            if (n->leaf) {
                bpt_leaf *l = (bpt_leaf *)n;
                h = mix(mix(h, (uintptr_t)l->prev), (uintptr_t)l->next);
                for (uint32_t i = 0; i < n->n; i++)
                    h = mix(mix(h, (uintptr_t)leaf_keys(l)[i]), (uintptr_t)leaf_vals(t, l)[i]);
            } else {
                bpt_branch *b = (bpt_branch *)n;
                for (uint32_t i = 0; i < n->n; i++)
                    h = mix(mix(h, branch_counts(t, b)[i]), (uintptr_t)branch_children(t, b)[i]);
                for (uint32_t i = 0; i + 1 < n->n; i++)
                    h = mix(h, (uintptr_t)branch_keys(t, b)[i]);
            }
        }
        if (!n->leaf && next[sp] < n->n) {
            stack[sp + 1] = branch_children(t, (bpt_branch *)n)[next[sp]++];
            next[++sp] = 0;
            continue;
        }
        sp--;
    }
    return h;
}

int tree_height(const bpt *t)
{
    return t->height;
}
