/* allocators/pm_asan.h — AddressSanitizer poisoning for our own arenas.
 *
 * Entry points: PM_POISON(p, n), PM_UNPOISON(p, n), PM_ASAN_ON, PM_POISONED(p).
 *
 * Own backends carve blocks out of their own mmaps (os.h), which ASan sees
 * as one big addressable region: a use after free or an overflow into a
 * neighbouring block inside an arena goes unnoticed. Poisoning fixes that:
 *
 *   - a fresh arena (or any memory not handed out) is poisoned whole;
 *   - a block handed out is unpoisoned over its usable size (usable_size()
 *     bytes: what the contract lets the caller touch);
 *   - a freed block is poisoned whole again, before it goes on a free list;
 *   - the allocator's own accesses to a free block (free-list links, in-band
 *     headers of free blocks) unpoison exactly the bytes they touch around
 *     the access and poison them again after; metadata kept outside the
 *     blocks (bitmaps, tables, headers of live blocks) is never poisoned;
 *   - before memory goes back to the OS (munmap) it is unpoisoned: ASan's
 *     shadow outlives the mapping, and whoever gets the addresses next
 *     (another arena, glibc, ASan itself) must not find stale poison.
 *
 * Reads of free memory that are not accesses to it (a check() walking free
 * lists, a debug helper) use the same open/close pattern, or
 * __attribute__((no_sanitize_address)).
 *
 * Granularity: ASan tracks 8-byte granules; poisoning [p, p + n) with p and
 * n multiples of 8 is exact. Our blocks are 16-aligned, so that holds.
 *
 * The macros vanish unless the build defines PM_ASAN=1 (CMake does with
 * PM_SANITIZE=ON and in the fuzz builds; fuzz/oss-fuzz/build.sh does under
 * ASan), and do nothing either unless the compiler instruments for ASan
 * (asan_interface.h's own macros are empty then). Nothing here allocates,
 * prints or changes errno.
 *
 * Adopted by: buddy, pymalloc, segfit (fuzz/README.md, "ASan inside our
 * arenas").
 */
#ifndef PM_ASAN_H
#define PM_ASAN_H

#if defined(PM_ASAN) && PM_ASAN
#include <sanitizer/asan_interface.h>
#define PM_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define PM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#if defined(__SANITIZE_ADDRESS__)
#define PM_ASAN_ON 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PM_ASAN_ON 1
#endif
#endif
#endif

#ifndef PM_ASAN_ON
#define PM_ASAN_ON 0
#endif

/* PM_POISONED(p): is the byte at p poisoned? Only where PM_ASAN_ON (it calls
 * into the ASan runtime); for reads that must leave the poison state as they
 * found it (walks of a heap that may be damaged, neighbours of unknown state). */
#if PM_ASAN_ON
#define PM_POISONED(p) (__asan_address_is_poisoned(p) != 0)
#endif
#ifndef PM_POISON
#define PM_POISON(p, n) ((void)sizeof(p), (void)sizeof(n))
#define PM_UNPOISON(p, n) ((void)sizeof(p), (void)sizeof(n))
#endif

#endif
