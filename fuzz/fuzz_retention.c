/* fuzz/fuzz_retention.c — worst-case retention search: inputs that leave a
 * backend holding the most mapped memory beyond what is live at the end,
 * relative to the peak live bytes, are kept (fuzz_worst.h). */
#include "fuzz_worst.h"
#include "fuzz_worst_mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fw_run(data, size, FW_RETENTION);
}

/* Op-sequence mutations (fuzz_worst_mut.h), libFuzzer's own some of the time. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    return fw_mutate(data, size, max_size, seed);
}
