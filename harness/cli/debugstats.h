/* harness/cli/debugstats.h — the sys._debugmallocstats()-style report of a
 * pymalloc heap (harness/cli/debugstats.c). */
#ifndef PM_DEBUGSTATS_H
#define PM_DEBUGSTATS_H

#include <stdio.h>

#include "allocator.h"
#include "pymalloc.h"
#include "pm_api.h"

PM_API_BEGIN

/* Prints r in CPython 3.11's layout: the class table (classes without pools
 * left out), the arena lines, the byte accounting ending in Total (== arenas
 * * arena size), and the arena map section. */
void pm_debugstats_print(FILE *f, const struct pm_pymalloc_report *r);

/* Fills the report from heap h and prints it. Exits 2 if h is not a
 * pymalloc heap, 1 if the report does not add up. Returns PM_EXIT_OK. */
int pm_debugstats_report_heap(FILE *f, const struct allocator_ops *ops, pm_heap_t *h);

PM_API_END
#endif
