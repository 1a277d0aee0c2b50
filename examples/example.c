/*
 * example.c — a tour of the C API: an ordered map from int64 to strings.
 * Build and run: meson setup build && meson compile -C build && build/example
 */
#include "bplustree3.h"
#include "bpt_check.h"

#include <stdio.h>

static int fail(const char *what, bpt_status rc)
{
    fprintf(stderr, "%s: %s\n", what, bpt_status_str(rc));
    return 1;
}

int main(void)
{
    static const char *names[] = {"zero", "one", "two", "three", "four", "five",
                                  "six", "seven", "eight", "nine"};
    bpt_config cfg = {.compare = bpt_compare_i64, .search = bpt_search_i64};
    bpt *t;
    bpt_status rc;
    void *k, *v;

    if ((rc = bpt_new(&cfg, &t)) != BPT_OK)
        return fail("bpt_new", rc);
    for (int64_t i = 9; i >= 0; i--)
        if ((rc = bpt_put(t, bpt_word_from_i64(i * 10), (void *)names[i], NULL)) < 0)
            return fail("bpt_put", rc);
    printf("size %zu\n", bpt_size(t));

    if (bpt_get(t, bpt_word_from_i64(30), NULL, &v) == BPT_OK)
        printf("get 30 -> %s\n", (const char *)v);
    if (bpt_floor(t, bpt_word_from_i64(42), &k, &v) == BPT_OK)
        printf("floor 42 -> %lld %s\n", (long long)bpt_word_to_i64(k), (const char *)v);
    if (bpt_higher(t, bpt_word_from_i64(42), &k, &v) == BPT_OK)
        printf("higher 42 -> %lld %s\n", (long long)bpt_word_to_i64(k), (const char *)v);

    size_t rank;
    bpt_rank(t, bpt_word_from_i64(70), &rank);
    printf("rank of 70 -> %zu\n", rank);

    /* Walk [25, 65) with a cursor. */
    bpt_cursor *c;
    if ((rc = bpt_cursor_new(t, &c)) != BPT_OK)
        return fail("bpt_cursor_new", rc);
    printf("range [25, 65):");
    for (rc = bpt_cursor_seek_ge(c, bpt_word_from_i64(25)); rc == BPT_OK; rc = bpt_cursor_next(c)) {
        bpt_cursor_get(c, &k, &v);
        if (bpt_word_to_i64(k) >= 65)
            break;
        printf(" %lld=%s", (long long)bpt_word_to_i64(k), (const char *)v);
    }
    printf("\n");
    bpt_cursor_free(c);

    size_t removed;
    bpt_remove_range(t, (void *[]){bpt_word_from_i64(20)}, (void *[]){bpt_word_from_i64(50)},
                     &removed);
    printf("removed %zu in [20, 50), size now %zu\n", removed, bpt_size(t));

    bpt_check_report report;
    if (bpt_check(t, &report) != BPT_INV_OK) {
        fprintf(stderr, "invariant %s: %s\n", bpt_invariant_name(report.invariant),
                report.message);
        return 1;
    }
    printf("invariants ok\n");
    bpt_free(t);

    /* A multiset: equal keys side by side, in the order they came. */
    cfg.duplicates = 1;
    if ((rc = bpt_new(&cfg, &t)) != BPT_OK)
        return fail("bpt_new", rc);
    static const int64_t scores[] = {70, 85, 70, 90, 85, 70};
    for (size_t i = 0; i < sizeof scores / sizeof *scores; i++)
        if ((rc = bpt_put(t, bpt_word_from_i64(scores[i]), (void *)names[i], NULL)) < 0)
            return fail("bpt_put", rc);
    size_t first, end;
    bpt_rank(t, bpt_word_from_i64(70), &first);
    bpt_rank_upper(t, bpt_word_from_i64(70), &end);
    printf("70 appears %zu times, at positions %zu..%zu:", end - first, first, end - 1);
    for (size_t i = first; i < end; i++) {
        bpt_at(t, i, NULL, &v);
        printf(" %s", (const char *)v);
    }
    printf("\n");
    bpt_remove(t, bpt_word_from_i64(70), NULL, NULL); /* the first 70: zero */
    bpt_get(t, bpt_word_from_i64(70), NULL, &v);
    printf("first 70 now %s, size %zu\n", (const char *)v, bpt_size(t));
    bpt_free(t);
    return 0;
}
