/* fuzz/fuzz_worst_afl.c — fuzz_worst_mut.h's mutator as an AFL++ custom
 * mutator library (AFL_CUSTOM_MUTATOR_LIBRARY=.../libfuzz_worst_mutator.so
 * afl-fuzz ... -- build/fuzz-afl/fuzz/fuzz_frag). AFL++ calls afl_custom_fuzz
 * for each mutation; its own havoc stages still run unless
 * AFL_CUSTOM_MUTATOR_ONLY=1. The adaptive weights stay at their initial
 * values here: the figure is computed in the target's process, which this
 * library cannot hear from. */
#include "fuzz_worst_mut.h"

#include <stdlib.h>
#include <string.h>

struct fw_afl {
    unsigned seed;
    uint8_t *buf;
    size_t cap;
};

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *in, size_t in_size, uint8_t **out, uint8_t *add,
                       size_t add_size, size_t max_size);
void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed)
{
    (void)afl;
    struct fw_afl *m = calloc(1, sizeof *m);
    if (m)
        m->seed = seed;
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *in, size_t in_size, uint8_t **out, uint8_t *add,
                       size_t add_size, size_t max_size)
{
    struct fw_afl *m = data;
    (void)add;
    (void)add_size;
    if (max_size > m->cap) {
        uint8_t *b = realloc(m->buf, max_size);
        if (!b) {
            *out = in;
            return in_size;
        }
        m->buf = b;
        m->cap = max_size;
    }
    size_t n = in_size < max_size ? in_size : max_size;
    memcpy(m->buf, in, n);
    *out = m->buf;
    return fw_mutate(m->buf, n, max_size, m->seed++);
}

void afl_custom_deinit(void *data)
{
    struct fw_afl *m = data;
    free(m->buf);
    free(m);
}
