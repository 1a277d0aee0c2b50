/* diff.c — see diff.h. */
#include "diff.h"
#include "bpt_internal.h" /* bpt_cursor_scan_agrees */

#include <string.h>

enum {
    OP_PUT, OP_INSERT, OP_REMOVE, OP_GET, OP_NEIGHBOUR, OP_EDGE, OP_POP, OP_RANGE,
    OP_RANK, OP_AT, OP_CURSOR, OP_COPY, OP_BULK, OP_CLEAR, OP_COUNT
};

/* Relative frequencies: updates dominate so trees grow and shrink. */
static const unsigned op_weight[OP_COUNT] = {
    [OP_PUT] = 30, [OP_INSERT] = 10, [OP_REMOVE] = 30, [OP_GET] = 6, [OP_NEIGHBOUR] = 6,
    [OP_EDGE] = 2, [OP_POP] = 4, [OP_RANGE] = 3, [OP_RANK] = 3, [OP_AT] = 3,
    [OP_CURSOR] = 3, [OP_COPY] = 1, [OP_BULK] = 1, [OP_CLEAR] = 1,
};

uint64_t diff_rng_choose(void *src, uint64_t n)
{
    return rng_below(src, n);
}

void diff_init(diff *d, unsigned leaf_cap, unsigned branch_cap, int search_kind,
               int64_t key_space, bool multi)
{
    memset(d, 0, sizeof *d);
    CHECK(key_space > 0 && key_space <= REF_WORDS);
    d->key_space = key_space;
    d->ctx.refs = &d->refs;
    ref_init(&d->m);
    d->m.multi = multi;
    d->cfg = test_config(&d->ctx, leaf_cap, branch_cap, search_kind, &d->alloc);
    d->cfg.duplicates = multi;
    CHECK_EQ(bpt_new(&d->cfg, &d->t), BPT_OK);
    d->ctx.watch = &d->t; /* callbacks re-enter the tree (test_reenter) */
    d->alloc.reenter = &d->ctx;
}

/* The caller owns a handed-back word: it drops its reference here. */
static void drop_key(diff *d, void *w)
{
    d->cfg.release_key(w, d->cfg.ctx);
}

static void drop_value(diff *d, void *w)
{
    d->cfg.release_value(w, d->cfg.ctx);
}

/* check_item checks a borrowed (key, value) against model item i. */
static void check_item(const diff *d, void *k, void *v, size_t i)
{
    CHECK(i < d->m.n);
    CHECK_EQ(I(k), d->m.items[i].key);
    CHECK_EQ(I(v), d->m.items[i].value);
}

/* check_found checks a lookup-like result against model index i (or none). */
static void check_found(const diff *d, bpt_status rc, void *k, void *v, bool exists, size_t i)
{
    if (!exists) {
        CHECK_EQ(rc, BPT_NOTFOUND);
        return;
    }
    CHECK_EQ(rc, BPT_OK);
    check_item(d, k, v, i);
}

/* ordered_i64 tells whether d's tree orders its keys as int64s (typed calls apply). */
static bool ordered_i64(const diff *d)
{
    return d->cfg.search == bpt_search_i64 || d->cfg.compare == bpt_compare_i64;
}

static bool failed(bpt_status rc)
{
    return rc == BPT_ENOMEM || rc == BPT_ECMP;
}

static bpt_status op_cursor(diff *d, diff_choose_fn choose, void *src)
{
    bpt_cursor *c;
    bpt_status rc = bpt_cursor_new(d->t, &c);
    if (failed(rc))
        return rc;
    CHECK_EQ(rc, BPT_OK);
    const ref_map *m = &d->m;
    int64_t key = (int64_t)choose(src, (uint64_t)d->key_space + 2) - 1;
    /* pos is the model position: -1 before the first, m->n after the last. */
    long pos;
    switch (choose(src, 5)) {
    case 0:
        rc = bpt_cursor_first(c);
        pos = m->n ? 0 : (long)m->n;
        break;
    case 1:
        rc = bpt_cursor_last(c);
        pos = (long)m->n - 1;
        break;
    case 2:
        rc = bpt_cursor_seek_ge(c, W(key));
        pos = (long)ref_lower(m, key);
        break;
    case 3:
        rc = bpt_cursor_seek_gt(c, W(key));
        pos = (long)ref_upper(m, key);
        break;
    default: {
        size_t at = choose(src, m->n + 2);
        rc = bpt_cursor_seek_at(c, at);
        pos = at < m->n ? (long)at : (long)m->n;
    }
    }
    if (rc == BPT_ECMP) {
        bpt_cursor_free(c);
        return rc;
    }
    for (int steps = (int)choose(src, 24); steps >= 0; steps--) {
        void *k, *v;
        bool on_item = pos >= 0 && pos < (long)m->n;
        CHECK_EQ(rc, on_item ? BPT_OK : BPT_NOTFOUND);
        CHECK(bpt_cursor_scan_agrees(c));
        rc = bpt_cursor_get(c, &k, &v);
        CHECK_EQ(rc, on_item ? BPT_OK : BPT_NOTFOUND);
        if (on_item)
            check_item(d, k, v, (size_t)pos);
        unsigned move = (unsigned)choose(src, 8);
        if (move < 4) {
            rc = bpt_cursor_next(c);
            if (pos < (long)m->n)
                pos++;
        } else if (move < 6) {
            rc = bpt_cursor_prev(c);
            if (pos >= 0)
                pos--;
        } else {
            /* A chunked read, forward (6) or backward (7). */
            void *keys[16], *vals[16];
            size_t max = choose(src, 17), got = 99;
            bool fwd = move == 6;
            rc = (fwd ? bpt_cursor_read : bpt_cursor_read_prev)(c, keys, vals, max, &got);
            CHECK_EQ(rc, on_item ? BPT_OK : BPT_NOTFOUND);
            if (on_item) {
                size_t avail = fwd ? m->n - (size_t)pos : (size_t)pos + 1;
                CHECK_EQ(got, max < avail ? max : avail);
                for (size_t j = 0; j < got; j++)
                    check_item(d, keys[j], vals[j], fwd ? (size_t)pos + j : (size_t)pos - j);
                pos += fwd ? (long)got : -(long)got;
            } else {
                CHECK_EQ(got, 0);
            }
            rc = pos >= 0 && pos < (long)m->n ? BPT_OK : BPT_NOTFOUND;
        }
    }
    bpt_cursor_free(c);
    return BPT_OK;
}

/* op_bulk bulk-loads the (empty) tree. */
static bpt_status op_bulk(diff *d, diff_choose_fn choose, void *src)
{

    size_t n = choose(src, (uint64_t)d->key_space / 2 + 1);
    void **keys = malloc((n + 1) * sizeof *keys), **vals = malloc((n + 1) * sizeof *vals);
    CHECK(keys && vals);
    bool multi = d->m.multi;
    int64_t k = (int64_t)choose(src, 3);
    /* A multiset's keys repeat: they step by 0 or 1, a map's by 1 or 2. */
    for (size_t i = 0; i < n; i++, k += !multi + (int64_t)choose(src, 2)) {
        keys[i] = W(k % d->key_space);
        vals[i] = W(choose(src, REF_WORDS));
    }
    if (n >= 2 && choose(src, 8) == 0) {
        size_t i = choose(src, n - 1);
        keys[i + 1] = keys[i]; /* a duplicate: only a multiset takes it */
    }
    /* Keys may wrap around key_space: then the input is not sorted. */
    bool sorted = true;
    for (size_t i = 1; i < n; i++)
        sorted = sorted && (I(keys[i - 1]) < I(keys[i]) ||
                            (multi && I(keys[i - 1]) == I(keys[i])));
    long live = d->alloc.live;
    bpt_status rc = bpt_bulk_load(d->t, keys, vals, n);
    if (!failed(rc)) {
        CHECK_EQ(rc, sorted ? BPT_OK : BPT_EINVAL);
        if (sorted)
            for (size_t i = 0; i < n; i++)
                ref_put(&d->m, I(keys[i]), I(vals[i]), NULL);
    }
    if (rc != BPT_OK)
        CHECK_EQ(d->alloc.live, live);
    free(keys);
    free(vals);
    return rc == BPT_EINVAL ? BPT_OK : rc;
}

static bpt_status op_copy(diff *d, diff_choose_fn choose, void *src)
{
    bpt *c;
    bpt_status rc = bpt_copy(d->t, &c);
    if (failed(rc))
        return rc;
    CHECK_EQ(rc, BPT_OK);
    d->ctx.quiet = true;
    CHECK_MATCH(c, &d->m);
    d->ctx.quiet = false;
    /* Keep one of the two; the other goes, releasing its references. */
    if (choose(src, 2)) {
        bpt_free(d->t);
        d->t = c;
    } else {
        bpt_free(c);
    }
    return BPT_OK;
}

void diff_step(diff *d, diff_choose_fn choose, void *src)
{
    unsigned total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += op_weight[i];
    unsigned pick = (unsigned)choose(src, total);
    int op = 0;
    while (pick >= op_weight[op])
        pick -= op_weight[op++];

    if (op == OP_BULK) {
        /* A bulk load needs an empty tree: empty it before the snapshot. */
        bpt_clear(d->t);
        d->m.n = 0;
    }
    bpt *t = d->t;
    ref_map *m = &d->m;
    int64_t key = (int64_t)choose(src, (uint64_t)d->key_space);
    int64_t value = (int64_t)choose(src, REF_WORDS);
    bool want_out = choose(src, 4) != 0;
    uint64_t fp = tree_fingerprint(t);
    long live = d->alloc.live;
    void *k = NULL, *v = NULL;
    size_t i;
    bpt_status rc = BPT_OK;

    switch (op) {
    case OP_PUT: {
        /* The typed put, for int64-ordered trees without hints, or the put
         * that gives the position, on bits of value (no extra choice, so
         * the corpora replay as they did). */
        size_t rank = 0;
        bool typed = ordered_i64(d) && !d->cfg.hint && (value & 2);
        bool ranked = (value & 4) && (typed || !(value & 2));
        if (typed && ranked)
            rc = bpt_put_i64_rank(t, key, W(value), want_out ? &v : NULL, &rank);
        else if (typed)
            rc = bpt_put_i64(t, key, W(value), want_out ? &v : NULL);
        else if (ranked)
            rc = bpt_put_rank(t, W(key), W(value), want_out ? &v : NULL, &rank);
        else
            rc = bpt_put(t, W(key), W(value), want_out ? &v : NULL);
        if (failed(rc))
            break;
        if (ranked) /* a multiset's new key goes after its equals */
            CHECK_EQ(rank, m->multi ? ref_upper(m, key) : ref_lower(m, key));
        if (ranked && want_out && (value & 8)) {
            /* Undo it at its position, comparing nothing: the tree must
             * hold the model's items again (the model is left as it was). */
            if (rc == BPT_OK) {
                CHECK_EQ(bpt_remove_at(t, rank, &k, &v), BPT_OK);
                CHECK_EQ(I(k), key);
                drop_key(d, k);
            } else {
                void *mine;
                CHECK_EQ(bpt_replace_at(t, rank, v, &mine), BPT_OK);
                drop_value(d, v); /* the tree retained it again */
                v = mine;
            }
            CHECK_EQ(I(v), value);
            drop_value(d, v);
            break;
        }
        int64_t old = 0;
        CHECK_EQ(rc, ref_put(m, key, value, &old) ? BPT_REPLACED : BPT_OK);
        if (rc == BPT_REPLACED && want_out) {
            CHECK_EQ(I(v), old);
            drop_value(d, v);
        }
        break;
    }
    case OP_INSERT: {
        bool exists = ref_find(m, key, &i);
        rc = bpt_insert(t, W(key), W(value), want_out ? &v : NULL);
        if (failed(rc))
            break;
        CHECK_EQ(rc, exists ? BPT_EXISTS : BPT_OK);
        if (exists && want_out)
            CHECK_EQ(I(v), m->items[i].value);
        if (!exists)
            ref_put(m, key, value, NULL);
        break;
    }
    case OP_REMOVE:
    case OP_POP: {
        bool exists;
        if (op == OP_REMOVE && (value & 2)) { /* by position: key is one */
            i = (size_t)key;
            exists = i < m->n;
            rc = bpt_remove_at(t, i, want_out ? &k : NULL, want_out ? &v : NULL);
        } else if (op == OP_REMOVE) {
            exists = ref_find(m, key, &i);
            if (ordered_i64(d) && (value & 1)) /* the typed remove, as the put */
                rc = bpt_remove_i64(t, key, want_out ? &k : NULL, want_out ? &v : NULL);
            else
                rc = bpt_remove(t, W(key), want_out ? &k : NULL, want_out ? &v : NULL);
        } else {
            bool last = value & 1;
            exists = m->n > 0;
            i = last ? m->n - 1 : 0;
            rc = (last ? bpt_pop_last : bpt_pop_first)(t, want_out ? &k : NULL,
                                                      want_out ? &v : NULL);
        }
        if (failed(rc))
            break;
        CHECK_EQ(rc, exists ? BPT_OK : BPT_NOTFOUND);
        if (exists) {
            if (want_out) {
                check_item(d, k, v, i);
                drop_key(d, k);
                drop_value(d, v);
            }
            ref_remove_at(m, i);
        }
        break;
    }
    case OP_GET: {
        rc = bpt_get(t, W(key), &k, &v);
        bool exists = ref_find(m, key, &i);
        if (!failed(rc))
            check_found(d, rc, k, v, exists, i);
        /* The typed lookup answers the same, for int64-ordered trees only;
         * elsewhere every typed call refuses, changing nothing. */
        bpt_status typed = bpt_get_i64(t, key, &v);
        if (!ordered_i64(d)) {
            CHECK_EQ(typed, BPT_EINVAL);
            CHECK_EQ(bpt_put_i64(t, key, W(value), NULL), BPT_EINVAL);
            CHECK_EQ(bpt_put_i64_rank(t, key, W(value), NULL, NULL), BPT_EINVAL);
            CHECK_EQ(bpt_remove_i64(t, key, NULL, NULL), BPT_EINVAL);
        } else {
            CHECK_EQ(typed, exists ? BPT_OK : BPT_NOTFOUND);
            if (exists)
                CHECK_EQ(I(v), m->items[i].value);
        }
        break;
    }
    case OP_NEIGHBOUR: {
        static bpt_status (*const fn[4])(const bpt *, void *, void **, void **) = {
            bpt_floor, bpt_ceiling, bpt_lower, bpt_higher};
        int kind = (int)(value & 3);
        rc = fn[kind](t, W(key), &k, &v);
        if (failed(rc))
            break;
        /* Around a run of equal keys: floor its last, ceiling its first. */
        size_t lo = ref_lower(m, key), up = ref_upper(m, key);
        long want = kind == 0 ? (long)up - 1
                  : kind == 1 ? (long)lo
                  : kind == 2 ? (long)lo - 1
                              : (long)up;
        check_found(d, rc, k, v, want >= 0 && want < (long)m->n, (size_t)want);
        break;
    }
    case OP_EDGE:
        if (value & 1) {
            rc = bpt_last(t, &k, &v);
            check_found(d, rc, k, v, m->n > 0, m->n - 1);
        } else {
            rc = bpt_first(t, &k, &v);
            check_found(d, rc, k, v, m->n > 0, 0);
        }
        break;
    case OP_RANGE: {
        int64_t lo = key, hi = key + (int64_t)choose(src, (uint64_t)d->key_space / 4 + 2) - 1;
        bool has_lo = choose(src, 6) != 0, has_hi = choose(src, 6) != 0;
        size_t removed = 0, want;
        if (value & 1) { /* by positions [lo, hi) */
            size_t from = has_lo ? (size_t)lo : 0, to = has_hi ? (size_t)hi : SIZE_MAX;
            rc = bpt_remove_range_at(t, from, to, want_out ? &removed : NULL);
            CHECK_EQ(rc, BPT_OK); /* it cannot fail */
            want = ref_remove_span(m, from, to);
            if (want_out)
                CHECK_EQ(removed, want);
            break;
        }
        rc = bpt_remove_range(t, has_lo ? (void *[]){W(lo)} : NULL,
                              has_hi ? (void *[]){W(hi)} : NULL, want_out ? &removed : NULL);
        if (failed(rc))
            break;
        CHECK_EQ(rc, BPT_OK);
        want = ref_remove_range(m, has_lo ? &lo : NULL, has_hi ? &hi : NULL);
        if (want_out)
            CHECK_EQ(removed, want);
        break;
    }
    case OP_RANK: {
        size_t r = 0;
        bool upper = value & 1; /* past the equal keys */
        rc = (upper ? bpt_rank_upper : bpt_rank)(t, W(key), &r);
        if (failed(rc))
            break;
        bool exists = ref_find(m, key, &i);
        CHECK_EQ(rc, exists ? BPT_OK : BPT_NOTFOUND);
        CHECK_EQ(r, upper ? ref_upper(m, key) : i);
        break;
    }
    case OP_AT: {
        size_t at = choose(src, m->n + 2);
        if (value & 1) { /* replace the value there */
            uint64_t version = bpt_change_count(t);
            rc = bpt_replace_at(t, at, W(value), want_out ? &v : NULL);
            CHECK_EQ(rc, at < m->n ? BPT_OK : BPT_NOTFOUND);
            CHECK_EQ(bpt_change_count(t), version); /* no structural change */
            if (rc == BPT_OK) {
                if (want_out) {
                    CHECK_EQ(I(v), m->items[at].value);
                    drop_value(d, v);
                }
                m->items[at].value = value;
            }
            break;
        }
        rc = bpt_at(t, at, &k, &v);
        check_found(d, rc, k, v, at < m->n, at);
        break;
    }
    case OP_CURSOR:
        rc = op_cursor(d, choose, src);
        break;
    case OP_COPY:
        rc = op_copy(d, choose, src);
        break;
    case OP_BULK:
        rc = op_bulk(d, choose, src);
        break;
    case OP_CLEAR:
        bpt_clear(t);
        m->n = 0;
        break;
    }

    d->ctx.quiet = true; /* an armed comparison failure is not for the checks */
    if (failed(rc)) {
        /* A failed operation leaves the tree exactly as it was. */
        d->failed_ops++;
        CHECK(tree_fingerprint(d->t) == fp);
        CHECK_EQ(d->alloc.live, live);
    }
    CHECK_MATCH(d->t, m);
    if (++d->steps % 64 == 0)
        CHECK(refs_match(&d->refs, m));
    d->ctx.quiet = false;
}

typedef struct visit_state {
    diff *d;
    size_t next;
} visit_state;

static int visit_item(void *key, void *value, void *arg)
{
    visit_state *vs = arg;
    check_item(vs->d, key, value, vs->next++);
    return 0;
}

void diff_finish(diff *d)
{
    /* Failures still armed are not for the final checks. */
    d->alloc.fail_at = 0;
    d->alloc.random = false;
    d->ctx.cmp_fail_at = 0;
    CHECK_MATCH(d->t, &d->m);
    CHECK(refs_match(&d->refs, &d->m));
    /* Full scans both ways with a cursor. */
    bpt_cursor *c;
    CHECK_EQ(bpt_cursor_new(d->t, &c), BPT_OK);
    size_t i = 0;
    for (bpt_status rc = bpt_cursor_first(c); rc == BPT_OK; rc = bpt_cursor_next(c), i++) {
        void *k, *v;
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_OK);
        check_item(d, k, v, i);
    }
    CHECK_EQ(i, d->m.n);
    for (bpt_status rc = bpt_cursor_last(c); rc == BPT_OK; rc = bpt_cursor_prev(c)) {
        void *k, *v;
        CHECK(bpt_cursor_scan_agrees(c));
        CHECK_EQ(bpt_cursor_get(c, &k, &v), BPT_OK);
        check_item(d, k, v, --i);
    }
    CHECK_EQ(i, 0);
    /* Chunked reads both ways, a chunk ending in every leaf position. */
    for (int back = 0; back < 2; back++) {
        void *keys[7], *vals[7];
        size_t got, seen = 0;
        bpt_status rc = back ? bpt_cursor_last(c) : bpt_cursor_first(c);
        while ((back ? bpt_cursor_read_prev : bpt_cursor_read)(c, keys, vals, 7, &got) ==
               BPT_OK) {
            CHECK(bpt_cursor_scan_agrees(c));
            for (size_t j = 0; j < got; j++, seen++)
                check_item(d, keys[j], vals[j], back ? d->m.n - 1 - seen : seen);
        }
        CHECK_EQ(rc, d->m.n ? BPT_OK : BPT_NOTFOUND);
        CHECK_EQ(seen, d->m.n);
    }
    /* The visit sees every item in order. */
    visit_state vs = {d, 0};
    CHECK_EQ(bpt_visit(d->t, visit_item, &vs), 0);
    CHECK_EQ(vs.next, d->m.n);
    bpt_cursor_free(c);
    bpt_free(d->t);
    d->t = NULL;
    CHECK_EQ(d->alloc.live, 0);
    ref_map empty;
    ref_init(&empty);
    CHECK(refs_match(&d->refs, &empty));
    ref_free(&d->m);
}
