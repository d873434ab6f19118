/* allocators/pymalloc_internal.h — what the pymalloc backend's hot paths
 * (pymalloc.c: malloc, free, pools and arenas) share with its walks and
 * checks (pymalloc_check.c: stats, the report, pool_info, check() and the
 * validity predicates the expensive asserts call). Private to those two
 * files; the design is in pymalloc.c's file comment.
 */
#ifndef PM_PYMALLOC_INTERNAL_H
#define PM_PYMALLOC_INTERNAL_H

#include "pymalloc.h"
#include "pm_asan.h"
#include "pm_assert.h"
#include "pm_addrset.h"
#include "pm_large.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PM_LIKELY(x) __builtin_expect(!!(x), 1)
#define PM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PM_ALWAYS_INLINE inline __attribute__((always_inline))
#define PM_NOINLINE __attribute__((noinline))

#define NCLASSES PM_PYMALLOC_NCLASSES
#define POOL_OVERHEAD PM_PYMALLOC_POOL_OVERHEAD
#define DUMMY_SZIDX 0xffffu            /* a freshly carved pool: no class yet */
#define ARENA_TABLE_INITIAL 16
#define GRANULE_SHIFT 4                /* bitmap: one bit per 16 bytes */
#define WORD_SHIFT (GRANULE_SHIFT + 6) /* bytes of arena per 64-bit bitmap word: 1024 */
#define BITMAP_DIV 128                 /* bitmap bytes = arena bytes / 128 */
#define ARENA_MAX ((size_t)1 << 30)    /* 16 arenas' bitmaps fit the 32-bit bitmap_off */
#define POOL_MIN 1024                  /* smallest power of two >= 48 + 512 */
#define LARGE_CACHE_SLOTS 8            /* large=os: freed mappings kept for reuse */
#define LARGE_CACHE_MAX_MAP ((size_t)4 << 20)  /* bigger mappings are not cached */

_Static_assert(PM_SMALL_MAX / PM_ALIGNMENT == NCLASSES, "32 size classes");
_Static_assert(PM_ALIGNMENT == 1 << GRANULE_SHIFT, "bitmap granule is the alignment");
_Static_assert(POOL_MIN >= POOL_OVERHEAD + PM_SMALL_MAX, "a pool holds one 512-byte block");
_Static_assert(POOL_MIN % (1 << WORD_SHIFT) == 0, "a pool's bitmap slice is whole words");
_Static_assert(PM_LARGE_HDR % PM_ALIGNMENT == 0, "large blocks stay 16-byte aligned");
_Static_assert(sizeof(void *) == 8, "64-bit layout (48-byte pool header)");

typedef struct pm_pool pm_pool;

/* The pool header: CPython's pool_header field for field (the high half of
 * ref's padding holds bitmap_off, see the file comment).
 * Invariants of a carved pool in use (count > 0), size = (szidx + 1) * 16:
 *   carved = (nextoffset - 48) / size;  count + length(freeblock list) == carved
 *   freeblock == NULL  <=>  count == carved == (pool_size - 48) / size
 *   maxnextoffset == pool_size - size */
struct pm_pool {
    struct {
        uint32_t count;          /* blocks in use */
        uint32_t bitmap_off;     /* bytes from bitmap_base to the pool's bitmap slice */
    } ref;                       /* CPython: union {block *_padding; uint count;} */
    uint8_t *freeblock;          /* LIFO free list head; NULL = pool full */
    pm_pool *nextpool;           /* used[] ring, or freepools chain */
    pm_pool *prevpool;           /* used[] ring only */
    uint32_t arenaindex;         /* index of the arena in the arena table */
    uint32_t szidx;              /* size class, DUMMY_SZIDX when never used */
    uint32_t nextoffset;         /* bytes: next never-carved block */
    uint32_t maxnextoffset;      /* bytes: largest offset a block fits at */
};
_Static_assert(sizeof(pm_pool) == POOL_OVERHEAD, "the pool header is 48 bytes");
_Static_assert(sizeof(((pm_pool *)0)->ref) == sizeof(void *), "ref is padded like CPython's");
_Static_assert(sizeof(pm_pool) % PM_ALIGNMENT == 0, "blocks after the header stay aligned");

/* Invariants: nfreepools == length(freepools) + never carved pools;
 * ntotalpools == pools_per_arena - (address not pool-aligned). */
struct pm_arena {
    uintptr_t address;           /* start of the mapping; 0 = table slot unused */
    uint8_t *pool_address;       /* next pool to carve (high-water mark) */
    uint32_t nfreepools;         /* free + never carved pools */
    uint32_t ntotalpools;        /* pools in the arena */
    pm_pool *freepools;          /* empty pools, singly linked via nextpool */
    struct pm_arena *nextarena;  /* usable_arenas, or the unused-slot chain */
    struct pm_arena *prevarena;  /* usable_arenas only */
};

/* One radix leaf per chunk of 64 pool slots; see the file comment. */
struct pm_leaf {
    uint64_t pools;              /* bit k: slot k of the chunk is a carved pool */
};
_Static_assert(sizeof(struct pm_leaf) == 8, "leaf entry size (CPython's arena_coverage_t)");
#define SLOTS_PER_CHUNK 64
#define PM_RADIX_DIR 8               /* radix nodes listed per level (struct pm_heap) */

/* Shifts and masks of the radix tree and the pool size. */
struct pm_geom {
    unsigned root_shift;         /* 64 - root bits */
    unsigned mid_shift;          /* chunk_shift + bottom bits */
    unsigned chunk_shift;        /* log2(chunk) = pool_shift + 6 */
    unsigned pool_shift;         /* log2(pool size) */
    uintptr_t mid_mask;          /* mid node entries - 1 */
    uintptr_t bot_mask;          /* bottom node entries - 1 */
    uintptr_t pool_mask;         /* pool size - 1 */
};

/* The presets' geometry as constants (checked against the computed one). */
#define GEOM_PY310 ((struct pm_geom){64 - 15, 20 + 14, 20, 14, (1u << 15) - 1, (1u << 14) - 1, \
                                     (16u << 10) - 1})
#define GEOM_PY38 ((struct pm_geom){64 - 16, 18 + 15, 18, 12, (1u << 15) - 1, (1u << 15) - 1,  \
                                    (4u << 10) - 1})
enum pm_shape { SHAPE_GENERIC, SHAPE_PY310, SHAPE_PY38 };

/* A used[] ring sentinel: of the pool header only nextpool/prevpool are
 * used. 64 bytes so that indexing by class is a shift; malloc touches this
 * line anyway, so its per-class call counter costs no extra miss. */
struct pm_used_head {
    pm_pool pool;
    uint64_t nmalloc;            /* small blocks handed out in this class, ever */
    uint8_t pad[64 - sizeof(pm_pool) - sizeof(uint64_t)];
};
_Static_assert(sizeof(struct pm_used_head) == 64, "sentinel stride (small_alloc indexes by it)");


/* Where requests of 0 and > 512 bytes go (large= option). */
enum pm_large_path {
    LARGE_SYSTEM,                /* the C library's malloc, as CPython (default) */
    LARGE_SEGFIT,                /* an inner segfit instance on our OS account */
    LARGE_OS,                    /* a mapping per block, with a small cache */
};

enum pm_placement {
    PLACE_OS,                    /* wherever the kernel maps A bytes (CPython's way) */
    PLACE_ALIGNED,               /* every arena starts on a pool boundary */
    PLACE_UNALIGNED,             /* every arena starts one page past a pool boundary */
};

#define MAP310_KEYS 32           /* distinct 3.10 radix nodes tracked for the report */

struct pm_heap {
    /* hot: read on every malloc/free */
    enum pm_shape shape;         /* which compiled free() to use */
    uint8_t *bitmap_base;        /* the bitmap region: arena i's bitmap at i * bitmap_bytes */
    /* large=segfit: requests of 0 and > 512 bytes go to this inner
     * instance, charged to our OS account; NULL with large=system (the C
     * library's malloc, as CPython) and large=os (a mapping per block, the
     * cache below). */
    const struct allocator_ops *inner_ops;
    pm_heap_t *inner;
    uintptr_t hint310_first;     /* bot_hint_first for a py310 heap, else out of reach */
    uintptr_t bot_hint_first;    /* first chunk number (address >> chunk_shift) of bot_hint */
    struct pm_leaf *bot_hint;    /* the bottom node of the newest arena */
    void **root;                 /* radix root: 1 << root_bits mid nodes */
    struct pm_geom geom;         /* this heap's radix and pool geometry */
    struct pm_used_head used[NCLASSES];  /* sentinels of the used[] rings */

    /* geometry */
    size_t arena_size;           /* A, bytes */
    size_t pool_size;            /* P, bytes */
    uint32_t pools_per_arena;    /* A / P */
    unsigned root_bits, mid_bits, bot_bits;  /* radix levels: root + mid + bot = 64 - chunk_shift */
    size_t bitmap_bytes;         /* A / 128: one arena's allocation bitmap */
    size_t bitmap_map_size;      /* bytes of the bitmap region's mapping */
    size_t table_map_size;       /* bytes of the arena table's mapping */
    enum pm_placement placement; /* where arenas go (placement= option) */
    unsigned version;            /* CPython emulated, 308..313 (preset=; 311 default) */
    bool keep_free_arena;        /* 3.9+: one wholly free arena is kept mapped */
    size_t heap_map_size;        /* bytes of this struct's mapping */

    /* arenas */
    struct pm_arena *arenas;     /* the arena table, maxarenas entries */
    uint32_t maxarenas;          /* entries in the arena table: 16, 32, 64, ... */
    struct pm_arena *usable_arenas;         /* arenas with free pools, fullest first */
    struct pm_arena *unused_arena_objects;  /* table slots without an arena */
    struct pm_arena **nfp2lasta; /* pools_per_arena + 1 entries, [0] always NULL */
    uint64_t ntimes_arena_allocated;  /* arenas mapped, ever */
    uint64_t narenas_current;    /* arenas mapped now */
    uint64_t narenas_highwater;  /* max of narenas_current */
    uint32_t nwhole_free;        /* arenas in usable_arenas with every pool free (<= 1) */
    uint64_t mid_count, bot_count;  /* radix nodes allocated */
    /* The nodes made, in order: the first PM_RADIX_DIR of each level,
     * so that check() and destroy visit them without walking the 2^root_bits
     * root and 2^mid_bits mid entries (512 KiB per walk with 16 KiB pools);
     * past that both walk the whole tree. */
    uint32_t dir_mid[PM_RADIX_DIR];  /* root index of each mid node */
    uintptr_t dir_bot[PM_RADIX_DIR]; /* address >> mid_shift of each bottom node */
    /* version 3.10: the radix nodes CPython 3.10 would have made (48-bit
     * keys, 10/10/8 bits for 1 MiB arenas), for its report only */
    unsigned map310_top_bits, map310_bot_bits, map310_arena_bits;
    uint64_t map310_mid[MAP310_KEYS], map310_bot[MAP310_KEYS];
    uint32_t map310_nmid, map310_nbot;   /* saturate at MAP310_KEYS: then a lower bound */

    /* large objects */
    enum pm_large_path large;         /* which path (large= option) */
    /* large=os: the shared path (pm_large.h) whole. large=system: its set
     * (the C library's block addresses; slot NULL = not mapped yet), count
     * (live blocks, as CPython's raw_allocated_blocks) and nmalloc only;
     * their usable bytes are summed over the set by stats(). Unused with
     * large=segfit. */
    struct pm_large big;

    struct pm_config cfg;        /* as given to create() */
    uint64_t misuse;             /* misuse events reported */
    struct pm_os os;             /* this instance's OS-layer account */
};

/* ------------------------------------------------------------------ helpers */

static inline unsigned class_size(unsigned c) { return (c + 1) << 4; }

/* The free-list link of a free (poisoned) block, opened around an access
 * by the allocator (nothing outside ASan builds; see the file comment). */
#define LINK_OPEN(b) PM_UNPOISON((b), sizeof(uint8_t *))
#define LINK_CLOSE(b) PM_POISON((b), sizeof(uint8_t *))

static inline uintptr_t arena_first_pool(const pm_heap_t *h, uintptr_t address)
{
    return (address + h->geom.pool_mask) & ~h->geom.pool_mask;
}

static inline unsigned pool_capacity(const pm_heap_t *h, unsigned c)
{
    return (unsigned)((h->pool_size - POOL_OVERHEAD) / class_size(c));
}

static inline pm_pool *pool_of(const pm_heap_t *h, const void *p)
{
    return (pm_pool *)((uintptr_t)p & ~h->geom.pool_mask);
}

/* Arena ao's allocation bitmap: slot (ao - arenas) of the bitmap region. */
static inline uint64_t *arena_bitmap(const pm_heap_t *h, const struct pm_arena *ao)
{
    return (uint64_t *)(h->bitmap_base + (size_t)(ao - h->arenas) * h->bitmap_bytes);
}

/* What a pool header at pa in arena ao keeps in ref.bitmap_off: bytes from
 * bitmap_base to the pool's slice (one byte of bitmap per 128 of arena). */
static inline uint32_t pool_bitmap_off(const pm_heap_t *h, const struct pm_arena *ao, uintptr_t pa)
{
    return (uint32_t)((size_t)(ao - h->arenas) * h->bitmap_bytes
                      + ((pa - ao->address) >> (WORD_SHIFT - 3)));
}

/* --------------------------------------------------------------- radix tree */

static PM_ALWAYS_INLINE const struct pm_leaf *radix_leaf_g(const pm_heap_t *h, uintptr_t a,
                                                           const struct pm_geom g)
{
    void **mid = h->root[a >> g.root_shift];
    if (PM_UNLIKELY(!mid))
        return NULL;
    const struct pm_leaf *bot = mid[(a >> g.mid_shift) & g.mid_mask];
    if (PM_UNLIKELY(!bot))
        return NULL;
    return &bot[(a >> g.chunk_shift) & g.bot_mask];
}

static PM_ALWAYS_INLINE bool leaf_has_pool(const struct pm_leaf *e, uintptr_t a,
                                           const struct pm_geom g)
{
    return (e->pools >> ((a >> g.pool_shift) & (SLOTS_PER_CHUNK - 1))) & 1;
}

/* True if a lies in a carved pool of one of our arenas. */
static PM_ALWAYS_INLINE bool radix_owns_g(const pm_heap_t *h, uintptr_t a, const struct pm_geom g)
{
    const struct pm_leaf *e = radix_leaf_g(h, a, g);
    return e && leaf_has_pool(e, a, g);
}

static inline struct pm_leaf *radix_leaf(const pm_heap_t *h, uintptr_t a)
{
    return (struct pm_leaf *)radix_leaf_g(h, a, h->geom);
}

/* The bottom node listed at dir_bot[i], or NULL when its key leads to
 * none (check() counts those: a damaged directory). */
static inline struct pm_leaf *radix_dir_bot(const pm_heap_t *h, size_t i)
{
    uintptr_t k = h->dir_bot[i];
    void **mid = (k >> h->mid_bits) >> h->root_bits ? NULL : h->root[k >> h->mid_bits];
    return mid ? mid[k & h->geom.mid_mask] : NULL;
}

/* The arena whose mapping's first arena_size bytes hold a, or NULL.
 * O(arenas): for misuse reports and check() only. */
static inline struct pm_arena *arena_containing(const pm_heap_t *h, uintptr_t a)
{
    for (uint32_t i = 0; i < h->maxarenas; i++) {
        uintptr_t b = h->arenas[i].address;
        if (b && a >= b && a - b < h->arena_size)
            return &h->arenas[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------ bitmap */

/* The word holding the bit of a block at a in `pool`: pools are aligned to
 * at least 1 KiB, so each pool's slice of the arena bitmap is whole words. */
static PM_ALWAYS_INLINE uint64_t *pool_bitmap_word(const pm_heap_t *h, const pm_pool *pool,
                                                    uintptr_t a)
{
    uintptr_t base = (uintptr_t)pool;
    return (uint64_t *)(h->bitmap_base + pool->ref.bitmap_off + (((a - base) >> WORD_SHIFT) << 3));
}

static PM_ALWAYS_INLINE uint64_t bitmap_mask(uintptr_t a)
{
    return (uint64_t)1 << ((a >> GRANULE_SHIFT) & 63);
}

/* Bit of address a (16-byte aligned, inside the arena at `arena`). */
static inline bool bitmap_test(const pm_heap_t *h, const struct pm_arena *ao, uintptr_t a)
{
    const uint64_t *bm = arena_bitmap(h, ao);
    uintptr_t bit = (a - ao->address) >> GRANULE_SHIFT;
    return (bm[bit >> 6] >> (bit & 63)) & 1;
}

/* ------------------------------------------------------ the large-block set */

/* Slot of p in the large set, or SIZE_MAX. */
static inline size_t large_find(const pm_heap_t *h, const void *p)
{
    const uintptr_t *e = pm_large_find(&h->big, p);
    return e ? (size_t)(e - h->big.set.slot) : SIZE_MAX;
}

/* ------------------------------------- pymalloc_check.c, for pymalloc.c */

void pymalloc_stats(pm_heap_t *h, struct pm_stats *out);
unsigned long pymalloc_check(pm_heap_t *h, char msg[PM_ERR_LEN]);
/* Validity predicates for pm_assert_expensive (definitions there). */
bool pymalloc_pool_valid(const pm_heap_t *h, const pm_pool *pool);
bool pymalloc_arena_valid(const pm_heap_t *h, const struct pm_arena *ao);
bool pymalloc_usable_valid(const pm_heap_t *h, const struct pm_arena *ao);
bool pymalloc_arenas_valid(const pm_heap_t *h);

#endif
