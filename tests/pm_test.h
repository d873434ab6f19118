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
/* Runs body(arg) in a forked child whose stderr goes to a pipe; `out`
 * (n bytes) receives all of it, NUL-terminated (cut to fit). Returns the
 * child's wait status. A body that returns makes the child _exit(0). */
int pmt_run_child(void (*body)(void *), void *arg, char *out, size_t n);
/* The same, and fails the test unless the child died of SIGABRT with
 * `first_line` as the first line of its stderr (misuse death tests: the
 * harness' handler prints one line and aborts). */
void pmt_expect_abort(void (*body)(void *), void *arg, const char *first_line);

/* Is ASan poisoning on in this build (allocators/pm_asan.h, PM_ASAN_ON)? */
bool pmt_asan_on(void);
/* Writes `len` bytes at `at` in a forked child, under ASan (PM_ASAN_ON):
 * with want_report the write must be reported by ASan as a use-after-poison
 * WRITE at `at` itself (the child dies: non-zero exit or a signal; its
 * stderr names the address), else the child must write all of it and exit
 * 0 with nothing reported. Without ASan: a write that is to be reported is
 * not made, one that is not is made in place (it is legal). */
void pmt_asan_write(void *at, size_t len, bool want_report);
/* After an arena or region at addr (len bytes) went back to the OS: maps
 * the range again (MAP_FIXED_NOREPLACE; nothing is checked if something
 * else took it) and checks with pmt_asan_write that all of it is writable,
 * i.e. no poison outlived the unmapping. */
void pmt_asan_unmapped_clean(void *addr, size_t len);

#endif
