/*
 * consumer.c — a program that uses the installed C library, built four
 * ways by scripts/test-c-library.sh (pkg-config, CMake, a meson subproject,
 * the one-file form). It prints one line that the script checks.
 */
#include "bplustree3.h"
#ifndef BPT_CHECK_H /* the one-file header holds the checker's API too */
#include "bpt_check.h"
#endif

#include <stdio.h>

int main(void)
{
    bpt_config cfg = {.compare = bpt_compare_i64, .search = bpt_search_i64};
    bpt *t;
    if (bpt_new(&cfg, &t) != BPT_OK)
        return 1;
    for (int64_t k = 1; k <= 1000; k++)
        if (bpt_put(t, bpt_word_from_i64(k * 3 % 1001), NULL, NULL) < 0)
            return 1;
    size_t rank = 0;
    void *floor = NULL;
    bpt_rank(t, bpt_word_from_i64(500), &rank);
    bpt_floor(t, bpt_word_from_i64(-1), &floor, NULL); /* none: floor stays NULL */
    int ok = bpt_check(t, NULL) == BPT_INV_OK && floor == NULL;
    printf("bplustree3 %s (%d, header %d): %zu keys, rank of 500 is %zu, %s\n",
           bpt_libversion(), bpt_libversion_number(), BPT_VERSION_NUMBER, bpt_size(t), rank,
           ok ? "checked" : "BROKEN");
    bpt_free(t);
    return ok ? 0 : 1;
}
