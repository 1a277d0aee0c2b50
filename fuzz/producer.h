/*
 * producer.h — turns a fuzzer's input bytes into choices. Every choice
 * consumes as few bytes as its range needs; once the input runs out every
 * choice is 0, so any input, even an empty one, is a valid program.
 */
#ifndef BPT_FUZZ_PRODUCER_H
#define BPT_FUZZ_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fdp {
    const uint8_t *data;
    size_t size, pos;
} fdp;

void fdp_init(fdp *p, const uint8_t *data, size_t size);

/* fdp_below returns a choice in [0, n) for n > 0 (a diff_choose_fn). */
uint64_t fdp_below(void *p, uint64_t n);

/* fdp_empty reports whether the input is used up. */
bool fdp_empty(const fdp *p);

#endif /* BPT_FUZZ_PRODUCER_H */
