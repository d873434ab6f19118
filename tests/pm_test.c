/* tests/pm_test.c — shared helpers for the cmocka tests. */
#include "pm_test.h"

#include <stdio.h>

pm_heap_t *pmt_create(const char *spec, const struct allocator_ops **ops)
{
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create(spec, NULL, ops, err);
    if (!h)
        fail_msg("create %s: %s", spec, err);
    return h;
}

void pmt_check_clean(const struct allocator_ops *ops, pm_heap_t *h)
{
    char msg[PM_ERR_LEN] = "";
    if (!ops->check)
        return;
    unsigned long bad = ops->check(h, msg);
    if (bad)
        fail_msg("%s: check() found %lu violation(s): %s", ops->name, bad, msg);
}

uint64_t pmt_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x ? x : 0x9E3779B97F4A7C15u;
}
