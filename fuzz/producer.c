/* producer.c — see producer.h. */
#include "producer.h"

void fdp_init(fdp *p, const uint8_t *data, size_t size)
{
    p->data = data;
    p->size = size;
    p->pos = 0;
}

uint64_t fdp_below(void *src, uint64_t n)
{
    fdp *p = src;
    uint64_t v = 0;
    /* Little-endian, one byte per 8 bits of range. */
    for (uint64_t range = n - 1, shift = 0; range > 0 && p->pos < p->size; range >>= 8, shift += 8)
        v |= (uint64_t)p->data[p->pos++] << shift;
    return n ? v % n : 0;
}

bool fdp_empty(const fdp *p)
{
    return p->pos >= p->size;
}
