/* fuzz/fuzz_frag.c — worst-case fragmentation search: inputs that make a
 * backend's peak mapped bytes over peak live bytes (metadata and mapping
 * granularity included) reach new highs are kept (fuzz_worst.h). */
#include "fuzz_worst.h"
#include "fuzz_worst_mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fw_run(data, size, FW_FRAG);
}

/* Op-sequence mutations (fuzz_worst_mut.h), libFuzzer's own some of the time. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    return fw_mutate(data, size, max_size, seed);
}
