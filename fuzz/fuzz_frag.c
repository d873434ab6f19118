/* fuzz/fuzz_frag.c — worst-case fragmentation search: inputs that make a
 * backend's peak mapped bytes over peak live bytes (metadata and mapping
 * granularity included) reach new highs are kept (fuzz_worst.h). */
#include "fuzz_worst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fw_run(data, size, FW_FRAG);
}
