/*
 * harness.h — the one fuzz harness, in three modes (one libFuzzer target
 * each). The input chooses node capacities, the search (the core's own,
 * the built-in int64 one, or a linear hook), a small key space so that keys
 * collide and nodes split and merge constantly, and then a bounded sequence
 * of operations, each applied to the tree and to the reference model by the
 * differential driver (tests/diff.h), which compares every result and runs
 * the invariant checker after every operation. Each input runs on a map and
 * then on a multiset (duplicates kept), against a model of each.
 */
#ifndef BPT_FUZZ_HARNESS_H
#define BPT_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum fuzz_mode {
    FUZZ_OPS,     /* every operation, nothing fails */
    FUZZ_OOM,     /* the input makes chosen allocations fail */
    FUZZ_CMPFAIL  /* the input makes chosen comparisons fail */
} fuzz_mode;

/* fuzz_run runs one input; any mismatch or broken invariant aborts. */
int fuzz_run(const uint8_t *data, size_t size, fuzz_mode mode);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* BPT_FUZZ_HARNESS_H */
