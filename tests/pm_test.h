/* tests/pm_test.h — shared helpers for the cmocka tests. */
#ifndef PM_TEST_H
#define PM_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "allocator.h"

/* Creates a backend from a spec or fails the test with the registry's message. */
pm_heap_t *pmt_create(const char *spec, const struct allocator_ops **ops);
/* Runs check() and fails the test with its message if it reports violations
 * (a backend without check() passes). */
void pmt_check_clean(const struct allocator_ops *ops, pm_heap_t *h);
/* Deterministic PRNG for tests. */
uint64_t pmt_rand(uint64_t *state);

#endif
