/* fuzz/fuzz_oom.c — out of memory: OS-mapping failures injected where the
 * input says, on every own backend (and debug:NAME over each).
 *
 * Input: byte 0 picks the backend ($PM_FUZZ_BACKEND overrides); byte 1 a
 * fault plan for create (0..3: the first, second or third map call of create
 * fails; above: none); then operations: an op byte of 0xF0..0xFF is a fault
 * op, any other the shared (op, slot, size) encoding of fuzz_model.h:
 *   0xF0-0xF7  FAIL_NTH  the k-th map call from now fails once (k = byte & 7, + 1)
 *   0xF8-0xFB  FAIL_FROM every map call from the k-th from now fails (k = byte & 3, + 1)
 *   0xFC-0xFF  LIFT      no more failures
 *
 * Oracle (on top of fuzz_model.h's, which it runs with faults allowed): a
 * call may return NULL only if it saw one of its own mappings fail, and then
 * with ENOMEM; a failed realloc keeps its block; while every mapping fails
 * (FAIL_FROM reached) the bytes mapped never grow, so live usable bytes stay
 * within what was mapped before; a failed create leaves nothing mapped and a
 * one-line reason; check() is clean after every fault op; at the end the
 * faults are lifted and the heap must serve a small, a medium and a large
 * request (the backend recovers), then close (every block freed, check(),
 * destroy gives back every byte).
 */
#include "fuzz_model.h"

#include <string.h>

static void set_faults(struct fz_heap *m, struct pm_os *os, unsigned op)
{
    struct pm_os_faults f = {0};
    if (op < 0xF8)
        f.fail_nth = os->map_calls + 1 + (op & 7);
    else if (op < 0xFC)
        f.fail_from = os->map_calls + 1 + (op & 3);
    pm_os_set_faults(os, &f);
    fz_heap_check(m);
}

/* Once every further mapping fails (FAIL_FROM reached), the bytes mapped
 * cannot grow: the first op that ends in that state records them. */
struct frozen {
    bool valid;                 /* in the failing state, `at` recorded */
    uint64_t at;                /* os->mapped when it began */
};

static void check_frozen(const struct fz_heap *m, const struct pm_os *os, struct frozen *z)
{
    bool failing = os->faults.fail_from && os->map_calls + 1 >= os->faults.fail_from;
    if (!failing) {
        z->valid = false;
    } else if (!z->valid) {
        *z = (struct frozen){true, os->mapped};
    } else {
        FZ_REQUIRE(os->mapped <= z->at,
                   "%s: %llu bytes mapped while every mapping fails (had %llu)", m->b->spec,
                   (unsigned long long)os->mapped, (unsigned long long)z->at);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_backend list[FZ_MAX_BACKENDS];
    static size_t n;
    static struct fz_heap m;
    if (!n) {
        fz_target = "fuzz_oom";
        n = fz_backends(list, FZ_MAX_BACKENDS, FZ_WITH_VARIANTS | FZ_WITH_DEBUG | FZ_WITH_ALIASING);
    }
    fz_recycle();
    struct fz_in in = {data, data + size};
    const struct fz_backend *b = fz_pick(list, n, fz_u8(&in));
    unsigned plan = fz_u8(&in);
    struct pm_os_faults cf = {.fail_nth = plan < 4 ? plan : 0};
    if (!fz_heap_open(&m, b, &cf))
        return 0;
    m.faults_ok = true;
    struct pm_os *os = b->ops->os(m.h);
    if (!os)
        fz_fail("%s: no OS layer to inject faults into", b->spec);
    struct frozen z = {0};
    while (fz_more(&in)) {
        unsigned op = fz_u8(&in);
        if (op >= 0xF0) {
            set_faults(&m, os, op);
            z.valid = false;
            fz_heap_after_op(&m);
        } else {
            fz_heap_op(&m, op, &in);
        }
        check_frozen(&m, os, &z);
    }
    /* lifted: the heap serves again */
    pm_os_set_faults(os, NULL);
    m.faults_ok = false;
    fz_heap_check(&m);
    static const size_t again[] = {24, 3000, (size_t)3 << 20};
    m.large_bytes = 0;   /* the oracle's own requests: not on the input's large budget */
    for (unsigned i = 0; i < sizeof again / sizeof *again; i++) {
        unsigned slot = FZ_SLOTS - 1 - i;
        fz_heap_free(&m, slot);   /* room within the live budget */
        fz_heap_malloc(&m, slot, again[i]);
        FZ_REQUIRE(m.slot[slot].p || m.usable_bytes + again[i] > FZ_LIVE_BUDGET,
                   "%s: malloc(%zu) not served after the faults were lifted", b->spec, again[i]);
        fz_heap_after_op(&m);
    }
    fz_heap_close(&m);
    return 0;
}
