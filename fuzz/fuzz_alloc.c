/* fuzz/fuzz_alloc.c — allocator invariants under a shadow model.
 *
 * Input: byte 0 picks the backend among every own backend of the registry
 * (defaults, the option variants of fuzz_common.c, and debug:NAME over each;
 * $PM_FUZZ_BACKEND=SPEC overrides the choice); the rest is a sequence of
 * (op, slot, size) operations (fuzz_model.h: the encoding and every check
 * made after each operation, at close and on destroy).
 */
#include "fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_backend list[FZ_MAX_BACKENDS];
    static size_t n;
    static struct fz_heap m;   /* ~4 KiB: kept off the stack */
    if (!n) {
        fz_target = "fuzz_alloc";
        n = fz_backends(list, FZ_MAX_BACKENDS, FZ_WITH_VARIANTS | FZ_WITH_DEBUG | FZ_WITH_ALIASING);
    }
    fz_recycle();
    struct fz_in in = {data, data + size};
    const struct fz_backend *b = fz_pick(list, n, fz_u8(&in));
    fz_heap_open(&m, b, NULL);
    while (fz_heap_step(&m, &in))
        ;
    fz_heap_close(&m);
    return 0;
}
