/*
 * bench_core.c — the core's speed, side by side in one run, with 1M random
 * int64 keys by default: bplustree3 (built-in int64 node search, and the
 * generic comparator path) against glibc's tsearch/tfind/tdelete (a
 * red-black tree) and, for lookups, binary search over a sorted array.
 * Reports the median ns/op (per-thread CPU time) of several interleaved
 * repetitions and ratios.
 *
 *   bench_core [-n keys | --10m] [-r reps] [--sweep] [--leaf C] [--branch C]
 *
 * Scans are timed forward and backward, three ways (chunked reads with
 * bpt_cursor_read/_prev, steps with bpt_cursor_next/_prev + bpt_cursor_get,
 * and bpt_visit's callback), over the tree built by random inserts (leaves
 * at scattered addresses) and over a bulk-loaded one (leaves allocated in
 * order).
 *
 * Between contenders the heap is settled outside the timed regions: glibc
 * keeps the small blocks tsearch frees (and the tree's own frees) in
 * fastbins and consolidates them at the next large allocation, which would
 * otherwise land inside the timed inserts of whoever runs next.
 *
 * --sweep times insert, lookup, delete and scan over a grid of leaf and
 * branch capacities, to choose the defaults (docs/design.md).
 */
#define _GNU_SOURCE /* tdestroy */
#include "bplustree3.h"
#include "bpt_check.h"

#include <malloc.h>
#include <search.h>
#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* now_ns reads this thread's CPU time: time the machine gave to other work
 * does not count. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_i64_qsort(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* tsearch compares node keys; we store the int64 in the pointer itself. */
static int cmp_tsearch(const void *a, const void *b)
{
    int64_t x = (int64_t)(intptr_t)a, y = (int64_t)(intptr_t)b;
    return (x > y) - (x < y);
}

static void noop_free(void *p) { (void)p; }

static uint64_t walk_sum;

static void walk_action(const void *node, VISIT which, int depth)
{
    (void)depth;
    if (which == postorder || which == leaf) /* each node once, in order */
        walk_sum += (uint64_t)(intptr_t) * (void *const *)node;
}

static volatile uint64_t sink;

/*
 * settle_heap makes glibc consolidate its fastbins now, outside any timed
 * region: a request this large does so, and the volatile pointer keeps the
 * compiler from dropping the pair of calls.
 */
static void settle_heap(void)
{
    void *volatile block = malloc(256 * 1024);
    free(block);
}

static int visit_sum(void *key, void *value, void *arg)
{
    *(uint64_t *)arg += (uint64_t)key + (uint64_t)value;
    return 0;
}

/* ---- Workload ------------------------------------------------------------- */

typedef struct workload {
    size_t n;
    int64_t *keys;     /* distinct, random order */
    int64_t *sorted;   /* the same keys sorted */
    int64_t *misses;   /* keys not present, random order */
    int64_t *order2;   /* the keys in another random order (lookups, deletes) */
} workload;

static void shuffle(int64_t *a, size_t n, uint64_t *s)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = splitmix(s) % i;
        int64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static workload make_workload(size_t n, uint64_t seed)
{
    workload w = {.n = n};
    w.keys = malloc(n * sizeof *w.keys);
    w.sorted = malloc(n * sizeof *w.sorted);
    w.misses = malloc(n * sizeof *w.misses);
    w.order2 = malloc(n * sizeof *w.order2);
    if (!w.keys || !w.sorted || !w.misses || !w.order2) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    /* Even keys are present, odd ones miss: distinct by construction. */
    for (size_t i = 0; i < n; i++) {
        uint64_t r = splitmix(&seed) >> 2;
        w.keys[i] = (int64_t)(r & ~1ULL);
        w.misses[i] = (int64_t)(r | 1ULL);
    }
    memcpy(w.sorted, w.keys, n * sizeof *w.keys);
    qsort(w.sorted, n, sizeof *w.sorted, cmp_i64_qsort);
    /* Remove duplicates (rare with 62-bit keys) by nudging. */
    for (size_t i = 1; i < n; i++)
        if (w.sorted[i] <= w.sorted[i - 1])
            w.sorted[i] = w.sorted[i - 1] + 2;
    memcpy(w.keys, w.sorted, n * sizeof *w.keys);
    shuffle(w.keys, n, &seed);
    memcpy(w.order2, w.keys, n * sizeof *w.keys);
    shuffle(w.order2, n, &seed);
    shuffle(w.misses, n, &seed);
    return w;
}

/* ---- Measurements --------------------------------------------------------- */

/* The five scans, each timed per item over a whole tree. */
enum { SC_READ, SC_READ_BACK, SC_STEP, SC_STEP_BACK, SC_VISIT, NSCANS };

enum {
    OP_INSERT, OP_HIT, OP_MISS,
    OP_SCAN, /* NSCANS rows over the tree built by random inserts */
    OP_RANGE10 = OP_SCAN + NSCANS, OP_RANGE1000, OP_BULK,
    OP_BULK_SCAN, /* NSCANS rows over the bulk-loaded tree */
    OP_DELETE = OP_BULK_SCAN + NSCANS, NOPS
};
static const char *op_names[NOPS] = {
    "insert (random)", "lookup hit", "lookup miss",
    "read, chunks of 256", "read back, chunks", "step next+get", "step prev+get",
    "visit (callback)",
    "range scan 10", "range scan 1000", "bulk load (per item)",
    "bulk-loaded: read", "bulk-loaded: read back", "bulk-loaded: step",
    "bulk-loaded: step back", "bulk-loaded: visit",
    "delete (random)",
};

enum { C_BPT_I64, C_BPT_CMP, C_TSEARCH, C_ARRAY, NCONT };
static const char *cont_names[NCONT] = {"bpt int64", "bpt cmp", "tsearch", "sorted array"};

#define NRANGES 10000

/*
 * time_scans fills results[base + SC_*] with the ns per item of each scan of
 * t, which holds n items, and checks that each saw every item.
 */
static void time_scans(bpt *t, size_t n, double *results, int base)
{
    /* Chunked reads copy keys and values a chunk at a time, as a C user would. */
    enum { CHUNK = 256 };
    void *kbuf[CHUNK], *vbuf[CHUNK];
    uint64_t sums[NSCANS] = {0};
    size_t seen[NSCANS] = {0}, got;
    bpt_cursor *c;
    if (bpt_cursor_new(t, &c) != BPT_OK)
        exit(1);
    for (int sc = 0; sc < NSCANS; sc++) {
        uint64_t acc = 0;
        size_t count = 0;
        bool back = sc == SC_READ_BACK || sc == SC_STEP_BACK;
        double t0 = now_ns();
        switch (sc) {
        case SC_READ:
        case SC_READ_BACK:
            (back ? bpt_cursor_last : bpt_cursor_first)(c);
            while ((back ? bpt_cursor_read_prev : bpt_cursor_read)(c, kbuf, vbuf, CHUNK,
                                                                 &got) == BPT_OK) {
                for (size_t k = 0; k < got; k++)
                    acc += (uint64_t)kbuf[k] + (uint64_t)vbuf[k];
                count += got;
            }
            break;
        case SC_STEP:
        case SC_STEP_BACK:
            for (bpt_status rc = (back ? bpt_cursor_last : bpt_cursor_first)(c); rc == BPT_OK;
                 rc = (back ? bpt_cursor_prev : bpt_cursor_next)(c)) {
                void *k, *v;
                bpt_cursor_get(c, &k, &v);
                acc += (uint64_t)k + (uint64_t)v;
                count++;
            }
            break;
        default:
            bpt_visit(t, visit_sum, &acc);
            count = n;
            break;
        }
        results[base + sc] = (now_ns() - t0) / (double)n;
        sums[sc] = acc;
        seen[sc] = count;
    }
    bpt_cursor_free(c);
    for (int sc = 0; sc < NSCANS; sc++) {
        if (seen[sc] != n || sums[sc] != sums[0]) {
            fprintf(stderr, "bench: %s saw %zu items\n", op_names[OP_SCAN + sc], seen[sc]);
            exit(1);
        }
    }
    sink += sums[0];
}

/* time_bpt fills results[op] (ns per op) for one bplustree3 configuration. */
static void time_bpt(const workload *w, bool builtin_search, unsigned leaf, unsigned branch,
                     double *results)
{
    bpt_config cfg = {.compare = bpt_compare_i64,
                      .search = builtin_search ? bpt_search_i64 : NULL,
                      .leaf_capacity = leaf,
                      .branch_capacity = branch};
    bpt *t;
    size_t n = w->n;
    if (bpt_new(&cfg, &t) != BPT_OK)
        exit(1);

    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        bpt_put(t, bpt_word_from_i64(w->keys[i]), NULL, NULL);
    results[OP_INSERT] = (now_ns() - t0) / (double)n;
    if (bpt_size(t) != n) {
        fprintf(stderr, "bench: size mismatch\n");
        exit(1);
    }

    uint64_t acc = 0;
    t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        void *v;
        acc += bpt_get(t, bpt_word_from_i64(w->order2[i]), NULL, &v) == BPT_OK;
    }
    results[OP_HIT] = (now_ns() - t0) / (double)n;
    if (acc != n) {
        fprintf(stderr, "bench: lookups missed\n");
        exit(1);
    }
    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        acc += bpt_get(t, bpt_word_from_i64(w->misses[i]), NULL, NULL) == BPT_OK;
    results[OP_MISS] = (now_ns() - t0) / (double)n;

    time_scans(t, n, results, OP_SCAN);

    enum { CHUNK = 256 };
    void *kbuf[CHUNK], *vbuf[CHUNK];
    size_t got;
    bpt_cursor *c;
    if (bpt_cursor_new(t, &c) != BPT_OK)
        exit(1);
    for (size_t len = 10, op = OP_RANGE10; op <= OP_RANGE1000; len *= 100, op++) {
        t0 = now_ns();
        for (size_t i = 0; i < NRANGES; i++) {
            bpt_cursor_seek_ge(c, bpt_word_from_i64(w->misses[i % n]));
            size_t want = len;
            while (want && bpt_cursor_read(c, kbuf, vbuf, want < CHUNK ? want : CHUNK, &got) ==
                               BPT_OK) {
                for (size_t k = 0; k < got; k++)
                    acc += (uint64_t)kbuf[k] + (uint64_t)vbuf[k];
                want -= got;
            }
        }
        results[op] = (now_ns() - t0) / NRANGES;
    }
    bpt_cursor_free(c);

    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        bpt_remove(t, bpt_word_from_i64(w->order2[i]), NULL, NULL);
    results[OP_DELETE] = (now_ns() - t0) / (double)n;
    if (bpt_size(t) != 0) {
        fprintf(stderr, "bench: delete left items\n");
        exit(1);
    }

    void **words = malloc(n * sizeof *words);
    for (size_t i = 0; i < n; i++)
        words[i] = bpt_word_from_i64(w->sorted[i]);
    t0 = now_ns();
    bpt_bulk_load(t, words, NULL, n);
    results[OP_BULK] = (now_ns() - t0) / (double)n;
    if (bpt_size(t) != n || bpt_check(t, NULL) != BPT_INV_OK) {
        fprintf(stderr, "bench: bulk load went wrong\n");
        exit(1);
    }
    free(words);
    time_scans(t, n, results, OP_BULK_SCAN);
    bpt_free(t);
    sink += acc;
}

static void time_tsearch(const workload *w, double *results)
{
    void *root = NULL;
    size_t n = w->n;
    for (int op = 0; op < NOPS; op++)
        results[op] = -1;
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        tsearch((void *)(intptr_t)w->keys[i], &root, cmp_tsearch);
    results[OP_INSERT] = (now_ns() - t0) / (double)n;
    uint64_t acc = 0;
    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        acc += tfind((void *)(intptr_t)w->order2[i], &root, cmp_tsearch) != NULL;
    results[OP_HIT] = (now_ns() - t0) / (double)n;
    if (acc != n) {
        fprintf(stderr, "bench: tfind missed\n");
        exit(1);
    }
    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        acc += tfind((void *)(intptr_t)w->misses[i], &root, cmp_tsearch) != NULL;
    results[OP_MISS] = (now_ns() - t0) / (double)n;
    /* twalk is tsearch's only scan: an in-order callback over every node. */
    walk_sum = 0;
    t0 = now_ns();
    twalk(root, walk_action);
    results[OP_SCAN + SC_VISIT] = (now_ns() - t0) / (double)n;
    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        tdelete((void *)(intptr_t)w->order2[i], &root, cmp_tsearch);
    results[OP_DELETE] = (now_ns() - t0) / (double)n;
    tdestroy(root, noop_free);
    sink += acc + walk_sum;
}

static void time_array(const workload *w, double *results)
{
    size_t n = w->n;
    uint64_t acc = 0;
    for (int op = 0; op < NOPS; op++)
        results[op] = -1;
    for (int pass = 0; pass < 2; pass++) {
        const int64_t *q = pass ? w->misses : w->order2;
        double t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
            int64_t key = q[i];
            size_t lo = 0, len = n;
            while (len > 0) {
                size_t half = len / 2;
                if (w->sorted[lo + half] < key) {
                    lo += half + 1;
                    len -= half + 1;
                } else {
                    len = half;
                }
            }
            acc += lo < n && w->sorted[lo] == key;
        }
        results[pass ? OP_MISS : OP_HIT] = (now_ns() - t0) / (double)n;
    }
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        acc += (uint64_t)w->sorted[i];
    results[OP_SCAN + SC_READ] = (now_ns() - t0) / (double)n;
    sink += acc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
    puts("bench_core [-n keys | --10m] [-r reps] [--sweep] [--leaf C] [--branch C]");
}

static void sweep(const workload *w, int reps)
{
    static const unsigned leaves[] = {16, 32, 64, 128, 256};
    static const unsigned branches[] = {16, 32, 64, 128, 256};
    printf("capacity sweep, %zu keys, median of %d, ns/op (int64 node search)\n", w->n, reps);
    printf("%6s %6s %9s %9s %9s %9s %9s\n", "leaf", "branch", "insert", "hit", "miss", "delete",
           "scan");
    double warm[NOPS];
    time_bpt(w, true, 0, 0, warm);
    for (size_t i = 0; i < sizeof leaves / sizeof *leaves; i++) {
        for (size_t j = 0; j < sizeof branches / sizeof *branches; j++) {
            double runs[NOPS][16];
            for (int r = 0; r < reps; r++) {
                double res[NOPS];
                time_bpt(w, true, leaves[i], branches[j], res);
                settle_heap();
                for (int op = 0; op < NOPS; op++)
                    runs[op][r] = res[op];
            }
            printf("%6u %6u %9.1f %9.1f %9.1f %9.1f %9.2f\n", leaves[i], branches[j],
                   median(runs[OP_INSERT], reps), median(runs[OP_HIT], reps),
                   median(runs[OP_MISS], reps), median(runs[OP_DELETE], reps),
                   median(runs[OP_SCAN + SC_READ], reps));
            fflush(stdout);
        }
    }
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int reps = 5;
    bool do_sweep = false;
    unsigned leaf = 0, branch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--10m"))
            n = 10000000;
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--leaf") && i + 1 < argc)
            leaf = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--branch") && i + 1 < argc)
            branch = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sweep"))
            do_sweep = true;
        else {
            usage();
            return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
        }
    }
    if (n < 1000 || reps < 1 || reps > 16) {
        fprintf(stderr, "need -n >= 1000 and 1 <= -r <= 16\n");
        return 2;
    }
#ifdef __GLIBC__
    /* Keep freed memory in the process: no contender pays for page faults
     * that an earlier one's frees caused by trimming the heap. */
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    mallopt(M_MMAP_THRESHOLD, INT_MAX);
#endif
    workload w = make_workload(n, 12345);
    if (do_sweep) {
        sweep(&w, reps);
        return 0;
    }

    double runs[NCONT][NOPS][16];
    double res[NOPS];
    /* A warm-up round, not counted, grows the heap once for everyone. */
    time_tsearch(&w, res);
    settle_heap();
    time_bpt(&w, true, leaf, branch, res);
    settle_heap();
    /* Interleave the contenders in each repetition, rotating who goes first,
     * so that drift on a noisy machine hits all of them alike. */
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < NCONT; k++) {
            int c = (k + r) % NCONT;
            switch (c) {
            case C_BPT_I64: time_bpt(&w, true, leaf, branch, res); break;
            case C_BPT_CMP: time_bpt(&w, false, leaf, branch, res); break;
            case C_TSEARCH: time_tsearch(&w, res); break;
            default: time_array(&w, res); break;
            }
            settle_heap();
            for (int op = 0; op < NOPS; op++)
                runs[c][op][r] = res[op];
        }
        fprintf(stderr, "\rrepetition %d/%d", r + 1, reps);
    }
    fprintf(stderr, "\n");

    double med[NCONT][NOPS];
    for (int c = 0; c < NCONT; c++)
        for (int op = 0; op < NOPS; op++)
            med[c][op] = median(runs[c][op], reps);

    printf("bplustree3 core benchmark: %zu random int64 keys, median of %d interleaved runs,\n"
           "ns/op (per-thread CPU time; scans: ns/item), heap settled between contenders\n",
           n, reps);
    printf("capacities: leaf %u, branch %u\n", leaf ? leaf : BPT_DEFAULT_LEAF_CAPACITY,
           branch ? branch : BPT_DEFAULT_BRANCH_CAPACITY);
    printf("%-24s", "operation");
    for (int c = 0; c < NCONT; c++)
        printf(" %13s", cont_names[c]);
    printf(" %12s %12s\n", "tsearch/i64", "array/i64");
    for (int op = 0; op < NOPS; op++) {
        printf("%-24s", op_names[op]);
        for (int c = 0; c < NCONT; c++) {
            if (med[c][op] < 0)
                printf(" %13s", "-");
            else
                printf(" %13.2f", med[c][op]);
        }
        double base = med[C_BPT_I64][op];
        if (med[C_TSEARCH][op] > 0)
            printf(" %11.2fx", med[C_TSEARCH][op] / base);
        else
            printf(" %12s", "-");
        if (med[C_ARRAY][op] > 0)
            printf(" %11.2fx", med[C_ARRAY][op] / base);
        else
            printf(" %12s", "-");
        printf("\n");
    }
    printf("(ratios > 1: bplustree3 with the int64 node search is that many times faster)\n");
    return 0;
}
