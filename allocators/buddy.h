/* allocators/buddy.h — introspection of the `buddy` backend (allocators/buddy.c)
 * beyond the generic interface, for tests and reports.
 *
 * Entry points: pm_buddy_free_blocks, pm_buddy_orders. Both take a heap
 * created by pm_buddy_ops (there is no run-time type tag: passing another
 * backend's heap is undefined).
 */
#ifndef PM_BUDDY_H
#define PM_BUDDY_H

#include "allocator.h"
#include "pm_api.h"

PM_API_BEGIN

extern const struct allocator_ops pm_buddy_ops;

/* Number of blocks on the free list of `order` (block size 2^order bytes), by
 * walking that list. 0 for an order outside [min_order, max_order]. */
size_t pm_buddy_free_blocks(pm_heap_t *h, unsigned order);

/* The heap's smallest and largest block orders (log2 of bytes). */
void pm_buddy_orders(pm_heap_t *h, unsigned *min_order, unsigned *max_order);

PM_API_END
#endif
