/* allocators/pymalloc.c — the `pymalloc` backend: CPython's small-object
 * allocator design (Objects/obmalloc.c), rebuilt as an instance.
 *
 * Entry points: pm_pymalloc_ops, pm_pymalloc_report(), pm_pymalloc_pool_info()
 * (pymalloc.h). Options: preset=3.8|3.9|3.10|3.11|3.12|3.13 (py38 = 3.8,
 * py310 = 3.10; default 3.11), arena=SIZE, pool=SIZE,
 * large=system|segfit|os, placement=os|aligned|unaligned.
 *
 * Versions (docs/cpython-versions.md has the table against each version's
 * Objects/obmalloc.c). A preset sets the geometry (3.8, 3.9: 256 KiB arenas
 * of 4 KiB pools; 3.10+: 1 MiB of 16 KiB) and the version's rules: 3.8
 * unmaps every arena whose pools are all free, 3.9+ keeps one; the report
 * has no arena map section before 3.10, and 3.10's radix nodes (48-bit keys,
 * 10/10/8 bits) are smaller than 3.11's (64-bit keys, 15/15/14 bits): for
 * 3.10 the report counts the nodes CPython 3.10 would make (map310_note),
 * while ownership always uses our own tree below. arena= and pool= after a
 * preset change the geometry and keep the version's rules.
 *
 * Placement. An arena is one mapping of exactly arena_size bytes, as
 * CPython's (placement=os): the kernel places consecutive mappings next to
 * each other, so arenas come in runs that share one alignment, and every
 * other mapping the heap makes (arena table, bitmap region, radix nodes) is
 * a whole number of pools so as not to break a run. placement=aligned maps
 * every arena on a pool boundary (all pools usable), placement=unaligned
 * one page past one (one pool lost per arena): fixed placement for
 * experiments, and for matching a recorded CPython whose report shows all
 * its arenas aligned or all not.
 *
 * Large requests (0 and > 512 bytes). CPython hands them to malloc
 * (PyMem_RawMalloc; 0 bytes asks for 1), a realloc of a block pymalloc does
 * not own goes to PyMem_RawRealloc whatever the new size ("we punt"), and a
 * free of one to PyMem_RawFree; "owns" is the arena test. By default
 * (large=system) the model does exactly that with the C library's
 * malloc/calloc/realloc/free: a pointer in no carved pool of ours (the
 * radix test below) is the C library's. Unlike CPython, the live large
 * blocks are also kept in the hash set below (not to decide ownership: so
 * that destroy() frees them as an instance should, check() counts them,
 * and a foreign or double free is reported as misuse instead of reaching
 * free(); about one hash probe per large call), with counters of them and
 * of their malloc_usable_size() bytes for stats() (CPython keeps the
 * count, raw_allocated_blocks). Injected OS faults reach only the set's
 * own mapping, and the OS account (mapped, peak mapped:
 * `backend_peak_mapped`) covers the small-object heap and the set only;
 * the process RSS (replay's footprint) includes the C library's heap, as
 * for CPython. trim() calls malloc_trim(0), as the system backend. large=segfit (the default before
 * issue 14 item 7) sends them to an inner segfit instance that maps
 * through this heap's own OS account (pm_config.account), so mapped bytes,
 * faults and destroy cover it, and its misuse reports come back as
 * pymalloc's: the accounted path the fuzzers use. large=os keeps the older
 * path below: a mapping per block with an 8-entry cache (a grown list's
 * item array then costs an mmap, a copy and an munmap per resize: 2.6
 * us/op against 0.24 on a growth trace).
 *
 * Layout. Requests of 1..512 bytes map to 32 classes, class = (n - 1) >> 4,
 * block = (class + 1) * 16. Arenas (arena_size bytes, page-aligned mappings
 * from the OS layer) hold pools (pool_size bytes, a power of two, aligned to
 * their size); an arena whose start is not pool-aligned loses one pool. Each
 * pool serves one class at a time and starts with the 48-byte pool header.
 * Arenas are carved into pools lazily (pool_address is the high-water mark)
 * and pools into blocks lazily (nextoffset / maxnextoffset).
 *
 * Lists, as in CPython:
 *  - used[c]: circular doubly linked list of pools of class c that have both
 *    used and free blocks. A pool that fills up is unlinked; a free into a
 *    full pool links it back at the front.
 *  - arena->freepools: singly linked list of empty pools; any class may take
 *    one. An empty pool goes to the front.
 *  - usable_arenas: arenas with nfreepools > 0, doubly linked and sorted by
 *    ascending nfreepools so that the fullest arena serves new pools and
 *    nearly empty arenas drain. nfp2lasta[k] is the rightmost arena with
 *    nfreepools == k, which keeps the re-sort after a pool release O(1).
 *  - An arena whose pools are all free is unmapped, except that one wholly
 *    free arena is kept (the one at the tail of usable_arenas, CPython's
 *    rule since 3.9; we additionally never keep a second one, which CPython
 *    can do when arenas of 63 and 64 pools mix). trim() releases the kept
 *    one. Version 3.8 keeps none.
 *  - The arena table starts at 16 entries and doubles; it only grows when
 *    usable_arenas is empty, so no list pointer into it goes stale.
 *
 * Ownership. A three-level radix tree over the 64 address bits above
 * log2(chunk), chunk = 64 pools (1 MiB for py310, 256 KiB for py38: the
 * arena size, as in CPython, and root/mid/bottom take 15/15/14 bits for
 * py310, so the nodes have CPython 3.11's sizes). Each 8-byte bottom entry
 * is a mask of the chunk's 64 pool-sized slots: bit k set = slot k is a
 * carved pool of one of our arenas. That handles arenas not aligned to the
 * chunk (one chunk holds the end of one arena and the start of the next)
 * and answers "is this a pool of ours" with one bit test, excluding the
 * bytes an unaligned arena loses and pools not carved yet, so the pool
 * header of an accepted pointer is always valid. Nodes are made when an
 * arena is mapped (carving never fails) and kept until destroy, as in
 * CPython.
 *
 * Double frees. Each arena has an allocation bitmap, one bit per 16-byte
 * granule of the arena (set = a block starts here and is handed out),
 * outside the pool headers so that pools hold exactly CPython's block
 * counts. The bitmaps live in a region of their own (arena i's at
 * bitmap_base + i * arena_size/128), which grows with the arena table, so
 * arenas stay plain arena-sized mappings. CPython pads the pool header's
 * first field (a union of the 4-byte count and a pointer) to 8 bytes; we
 * keep the count in the low 4 and, in the otherwise unused high 4, the
 * offset of the pool's slice of the bitmap from bitmap_base, so malloc and
 * free reach the bit with one add of a heap field. Cost: 0.78% of the arena
 * (8 KiB per 1 MiB arena, 2 KiB per 256 KiB arena) and one
 * read-modify-write of a bitmap word per malloc and per free. The offset
 * is 32 bits: at most 4 GiB of bitmap, i.e. 512 GiB of arenas.
 * free/realloc/usable_size of a pointer in no arena mapping and not a live
 * large block is FOREIGN_POINTER; one inside an arena but not the start of
 * a carved block (pool header, interior, lost alignment bytes, uncarved
 * pool, not 16-aligned) is MISALIGNED_POINTER; a carved block start whose
 * bit is clear is DOUBLE_FREE (a large block whose mapping is still in the
 * cache too).
 *
 * Speed. free() is compiled three times: with the py310 and py38 geometry
 * as constants (shifts and masks fold into the instructions) and a generic
 * copy reading them from the heap; the heap's `shape` picks one. Each
 * first tries the bottom node of the newest arena (a range compare instead
 * of two dependent loads); a py310 heap's pointer there takes a path with
 * no dispatch at all. Calls are counted only in malloc, per class (see
 * pymalloc_stats); live_blocks is summed from the pools. The trade-offs
 * were measured against libpython3.11's PyObject_Malloc/PyObject_Free in
 * the loop of harness/micro.c.
 *
 * large=os (0 bytes and > 512 bytes): one mapping per block with a
 * 16-byte header, live blocks kept in an open-addressing hash set keyed by
 * address (foreign and double frees detected), freed mappings kept in a
 * cache of LARGE_CACHE_SLOTS entries reused by size (at most 25% bigger than
 * needed), emptied by trim().
 *
 * realloc of a small block keeps it in place when the new size fits its
 * block and is more than 3/4 of it; otherwise it moves (CPython's rule).
 *
 * ASan (pm_asan.h, builds with PM_ASAN=1). Every byte of an arena's pools
 * that is not in a block handed out is poisoned: a fresh arena is poisoned
 * whole (not its bitmap tail), a pool header is unpoisoned when the pool is
 * carved (pool headers are never poisoned again), blocks are unpoisoned
 * when handed out and poisoned whole when freed; the never-carved tail of a
 * pool above nextoffset, the bytes an unaligned arena loses and uncarved
 * pools stay poisoned. A block handed out is unpoisoned over its class size
 * (usable_size(): code may write that far), so an overflow into the class
 * rounding is not seen; realloc in place stays in the class, so needs
 * nothing. The 8-byte free-list link of a free block is opened around each
 * access (LINK_OPEN/LINK_CLOSE: pool_extend, check()); malloc unpoisons the
 * block it pops before reading the link. A large=os mapping kept in the
 * cache is poisoned until reused; arenas and cached mappings are
 * unpoisoned before munmap. Large blocks of the large=segfit path are the
 * inner segfit's to poison, those of the default large=system ASan's own
 * allocator's. No code in other builds.
 */
#include "pymalloc.h"
#include "pm_asan.h"
#include "pm_assert.h"

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
#define LARGE_HDR 16                   /* bytes before a large block */
#define LARGE_MAGIC UINT64_C(0x70796d616c6c6f63)
#define LARGE_CACHE_SLOTS 8            /* freed large mappings kept for reuse */
#define LARGE_CACHE_MAX_MAP ((size_t)4 << 20)  /* bigger mappings are not cached */
#define LARGE_MAX ((size_t)1 << 46)    /* larger requests fail with ENOMEM */
#define LARGE_SET_INITIAL 512          /* hash set slots (one page) */

_Static_assert(PM_SMALL_MAX / PM_ALIGNMENT == NCLASSES, "32 size classes");
_Static_assert(PM_ALIGNMENT == 1 << GRANULE_SHIFT, "bitmap granule is the alignment");
_Static_assert(POOL_MIN >= POOL_OVERHEAD + PM_SMALL_MAX, "a pool holds one 512-byte block");
_Static_assert(POOL_MIN % (1 << WORD_SHIFT) == 0, "a pool's bitmap slice is whole words");
_Static_assert(LARGE_HDR % PM_ALIGNMENT == 0, "large blocks stay 16-byte aligned");
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

struct pm_large_hdr {
    uint64_t map_size;           /* bytes of the whole mapping */
    uint64_t magic;              /* LARGE_MAGIC ^ map address */
};
_Static_assert(sizeof(struct pm_large_hdr) == LARGE_HDR, "large header size");

struct pm_cached_map {
    void *base;                  /* mapping start */
    size_t size;                 /* bytes mapped */
};

/* Where requests of 0 and > 512 bytes go (large= option). */
enum pm_large {
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
    /* version 3.10: the radix nodes CPython 3.10 would have made (48-bit
     * keys, 10/10/8 bits for 1 MiB arenas), for its report only */
    unsigned map310_top_bits, map310_bot_bits, map310_arena_bits;
    uint64_t map310_mid[MAP310_KEYS], map310_bot[MAP310_KEYS];
    uint32_t map310_nmid, map310_nbot;   /* saturate at MAP310_KEYS: then a lower bound */

    /* large objects */
    enum pm_large large;         /* which path (large= option) */
    void **large_set;            /* user pointers; NULL = empty slot */
    size_t large_cap;            /* slots, a power of two (0 = not mapped yet) */
    size_t large_count;          /* live large blocks (large=system: a counter, as
                                  * CPython's raw_allocated_blocks) */
    size_t large_bytes;          /* sum of their usable sizes (large=os only) */
    uint64_t large_nmalloc;      /* large blocks handed out, ever (not large=segfit) */
    struct pm_cached_map cache[LARGE_CACHE_SLOTS];
    unsigned ncached;            /* entries of cache[] in use, oldest first */

    struct pm_config cfg;        /* as given to create() */
    uint64_t misuse;             /* misuse events reported */
    struct pm_os os;             /* this instance's OS-layer account */
};

static const char BACKEND[] = "pymalloc";

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

static struct pm_leaf *radix_leaf(const pm_heap_t *h, uintptr_t a)
{
    return (struct pm_leaf *)radix_leaf_g(h, a, h->geom);
}

/* The arena whose mapping's first arena_size bytes hold a, or NULL.
 * O(arenas): for misuse reports and check() only. */
static struct pm_arena *arena_containing(const pm_heap_t *h, uintptr_t a)
{
    for (uint32_t i = 0; i < h->maxarenas; i++) {
        uintptr_t b = h->arenas[i].address;
        if (b && a >= b && a - b < h->arena_size)
            return &h->arenas[i];
    }
    return NULL;
}

/* Makes sure the leaf for a exists. False on OOM (nodes already made stay). */
static bool radix_ensure(pm_heap_t *h, uintptr_t a)
{
    void ***slot = (void ***)&h->root[a >> h->geom.root_shift];
    if (!*slot) {
        void **mid = pm_os_map(&h->os, sizeof(void *) << h->mid_bits);
        if (!mid)
            return false;
        *slot = mid;
        h->mid_count++;
    }
    void **bslot = &(*slot)[(a >> h->geom.mid_shift) & h->geom.mid_mask];
    if (!*bslot) {
        void *bot = pm_os_map(&h->os, sizeof(struct pm_leaf) << h->bot_bits);
        if (!bot)
            return false;
        *bslot = bot;
        h->bot_count++;
    }
    return true;
}

/* Sets (carved) or clears the slot bit of the pool at address pool. */
static void radix_mark_pool(pm_heap_t *h, uintptr_t pool, bool carved)
{
    struct pm_leaf *e = radix_leaf(h, pool);
    pm_assert_internal(e != NULL);
    uint64_t bit = (uint64_t)1 << ((pool >> h->geom.pool_shift) & (SLOTS_PER_CHUNK - 1));
    e->pools = carved ? e->pools | bit : e->pools & ~bit;
}

/* Makes the leaves for every chunk arena [start, start + A) touches. */
static bool radix_reserve(pm_heap_t *h, uintptr_t start)
{
    uintptr_t c = (uintptr_t)1 << h->geom.chunk_shift;
    uintptr_t end = start + h->arena_size;
    for (uintptr_t chunk = start & ~(c - 1); chunk < end; chunk += c)
        if (!radix_ensure(h, chunk))
            return false;
    return true;
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
static bool bitmap_test(const pm_heap_t *h, const struct pm_arena *ao, uintptr_t a)
{
    const uint64_t *bm = arena_bitmap(h, ao);
    uintptr_t bit = (a - ao->address) >> GRANULE_SHIFT;
    return (bm[bit >> 6] >> (bit & 63)) & 1;
}

/* ------------------------------------------------------------------ arenas */

/* Makes the bitmap region hold the bitmap of arena slot `idx`: doubles it
 * (arena i's bitmap is at i * bitmap_bytes, so the pool headers' offsets
 * stay valid when the region moves). Like the arena table, it is a whole
 * number of pools: then it shifts arenas mapped next to it by whole pools,
 * which keeps their alignment (CPython's table lives on the malloc heap,
 * away from the arenas). */
static bool bitmap_region_fit(pm_heap_t *h, size_t idx)
{
    size_t need = (idx + 1) * h->bitmap_bytes;
    if (need <= h->bitmap_map_size)
        return true;
    if (need > (size_t)UINT32_MAX + 1)
        return false;            /* bitmap_off is 32 bits */
    size_t bsize = h->bitmap_map_size ? h->bitmap_map_size : h->pool_size;
    while (bsize < need)
        bsize *= 2;
    uint8_t *bm = pm_os_map(&h->os, bsize);
    if (!bm)
        return false;
    if (h->bitmap_map_size) {
        memcpy(bm, h->bitmap_base, h->bitmap_map_size);
        pm_os_unmap(&h->os, h->bitmap_base, h->bitmap_map_size);
    }
    h->bitmap_base = bm;
    h->bitmap_map_size = bsize;
    return true;
}

static bool arena_table_grow(pm_heap_t *h)
{
    uint32_t old = h->maxarenas;
    uint32_t n = old ? old * 2 : ARENA_TABLE_INITIAL;
    if (n < old || n > (UINT32_MAX >> 1))
        return false;
    pm_assert_internal(h->usable_arenas == NULL && h->unused_arena_objects == NULL);
    size_t tsize = pm_round_up((size_t)n * sizeof(struct pm_arena), h->pool_size);
    struct pm_arena *t = pm_os_map(&h->os, tsize);
    if (!t)
        return false;
    if (old) {
        memcpy(t, h->arenas, (size_t)old * sizeof *t);
        pm_os_unmap(&h->os, h->arenas, h->table_map_size);
    }
    h->table_map_size = tsize;
    for (uint32_t i = old; i < n; i++) {
        t[i].address = 0;
        t[i].nextarena = i + 1 < n ? &t[i + 1] : NULL;
    }
    h->arenas = t;
    h->maxarenas = n;
    h->unused_arena_objects = &t[old];
    return true;
}

/* Maps arena_size bytes for an arena as the placement option says. */
static uint8_t *arena_map(pm_heap_t *h)
{
    if (h->placement == PLACE_OS)
        return pm_os_map(&h->os, h->arena_size);
    if (h->placement == PLACE_ALIGNED)
        return pm_os_map_aligned(&h->os, h->arena_size, h->pool_size);
    /* unaligned: map a pool more, keep [pool boundary + page, + A) */
    size_t page = pm_os_page_size();
    uint8_t *m = pm_os_map_aligned(&h->os, h->arena_size + h->pool_size, h->pool_size);
    if (!m)
        return NULL;
    pm_os_unmap(&h->os, m, page);
    pm_os_unmap(&h->os, m + page + h->arena_size, h->pool_size - page);
    return m + page;
}

/* Version 3.10's report: note the radix nodes CPython 3.10 makes for an
 * arena at a (arena_map_mark_used: the node of a, and of a + A when a is
 * not A-aligned). It never frees them. */
static void map310_note_key(uint64_t *keys, uint32_t *n, uint64_t key)
{
    uint32_t k = *n < MAP310_KEYS ? *n : MAP310_KEYS;
    for (uint32_t i = 0; i < k; i++)
        if (keys[i] == key)
            return;
    if (*n < MAP310_KEYS)
        keys[*n] = key;
    if (*n < UINT32_MAX)
        (*n)++;
}

static void map310_note(pm_heap_t *h, uintptr_t a)
{
    const unsigned addr_bits = 48;
    map310_note_key(h->map310_mid, &h->map310_nmid, (uint64_t)a >> (addr_bits - h->map310_top_bits));
    map310_note_key(h->map310_bot, &h->map310_nbot,
                    (uint64_t)a >> (h->map310_arena_bits + h->map310_bot_bits));
}

/* Maps a new arena into a free table slot. NULL on OOM. Only called when
 * usable_arenas is empty. */
static struct pm_arena *arena_new(pm_heap_t *h)
{
    if (!h->unused_arena_objects && !arena_table_grow(h))
        return NULL;
    struct pm_arena *ao = h->unused_arena_objects;
    if (!bitmap_region_fit(h, (size_t)(ao - h->arenas)))
        return NULL;
    uint8_t *mem = arena_map(h);
    if (!mem)
        return NULL;
    uintptr_t a = (uintptr_t)mem;
    if (!radix_reserve(h, a)) {
        pm_os_unmap(&h->os, mem, h->arena_size);
        return NULL;
    }
    if (h->version == 310) {
        map310_note(h, a);
        if (a & (((uintptr_t)1 << h->map310_arena_bits) - 1))
            map310_note(h, a + h->arena_size);
    }
    PM_POISON(mem, h->arena_size);   /* nothing handed out yet */
    h->bot_hint_first = (a >> h->geom.mid_shift) << (h->geom.mid_shift - h->geom.chunk_shift);
    h->bot_hint = ((void **)h->root[a >> h->geom.root_shift])[(a >> h->geom.mid_shift)
                                                             & h->geom.mid_mask];
    if (h->shape == SHAPE_PY310)
        h->hint310_first = h->bot_hint_first;
    h->unused_arena_objects = ao->nextarena;
    uintptr_t first = arena_first_pool(h, a);
    ao->address = a;
    ao->pool_address = (uint8_t *)first;
    ao->ntotalpools = h->pools_per_arena - (first != a);
    ao->nfreepools = ao->ntotalpools;
    ao->freepools = NULL;
    ao->nextarena = ao->prevarena = NULL;
    h->ntimes_arena_allocated++;
    h->narenas_current++;
    if (h->narenas_current > h->narenas_highwater)
        h->narenas_highwater = h->narenas_current;
    h->nwhole_free++;
    return ao;
}

/* Unmaps an arena that is not (or no longer) linked in usable_arenas. */
static void arena_release(pm_heap_t *h, struct pm_arena *ao)
{
    for (uintptr_t b = arena_first_pool(h, ao->address); b < (uintptr_t)ao->pool_address;
         b += h->pool_size)
        radix_mark_pool(h, b, false);
    PM_UNPOISON((void *)ao->address, h->arena_size);   /* the shadow outlives the mapping */
    pm_os_unmap(&h->os, (void *)ao->address, h->arena_size);
    ao->address = 0;
    ao->nextarena = h->unused_arena_objects;
    h->unused_arena_objects = ao;
    h->narenas_current--;
}

/* Unlinks ao (nfreepools == nf) from usable_arenas, fixing nfp2lasta. */
static void usable_unlink(pm_heap_t *h, struct pm_arena *ao)
{
    uint32_t nf = ao->nfreepools;
    if (h->nfp2lasta[nf] == ao) {
        struct pm_arena *p = ao->prevarena;
        h->nfp2lasta[nf] = (p && p->nfreepools == nf) ? p : NULL;
    }
    if (ao->prevarena)
        ao->prevarena->nextarena = ao->nextarena;
    else
        h->usable_arenas = ao->nextarena;
    if (ao->nextarena)
        ao->nextarena->prevarena = ao->prevarena;
}

/* ------------------------------------------------------------------- pools */

static inline void used_link_front(pm_heap_t *h, pm_pool *pool, unsigned c)
{
    pm_pool *head = &h->used[c].pool;
    pm_pool *next = head->nextpool;
    pool->nextpool = next;
    pool->prevpool = head;
    next->prevpool = pool;
    head->nextpool = pool;
}

static inline void used_unlink(pm_pool *pool)
{
    pm_pool *next = pool->nextpool, *prev = pool->prevpool;
    next->prevpool = prev;
    prev->nextpool = next;
}

/* The free list ran dry: carve one more block, or unlink the full pool. */
static void pool_extend(pm_pool *pool, unsigned c)
{
    if (pool->nextoffset <= pool->maxnextoffset) {
        uint8_t *bp = (uint8_t *)pool + pool->nextoffset;
        pool->nextoffset += class_size(c);
        LINK_OPEN(bp);          /* carved free: poisoned but for the link access */
        *(uint8_t **)bp = NULL;
        LINK_CLOSE(bp);
        pool->freeblock = bp;
        return;
    }
    used_unlink(pool);
}

/* used[c] is empty: take a pool from the fullest usable arena. Returns the
 * first block, marked allocated, or NULL on OOM. */
static PM_NOINLINE uint8_t *pool_alloc_new(pm_heap_t *h, unsigned c)
{
    if (!h->usable_arenas) {
        struct pm_arena *fresh = arena_new(h);
        if (!fresh)
            return NULL;
        h->usable_arenas = fresh;
        pm_assert_internal(h->nfp2lasta[fresh->nfreepools] == NULL);
        h->nfp2lasta[fresh->nfreepools] = fresh;
    }
    struct pm_arena *ao = h->usable_arenas;
    pm_assert_internal(ao->address != 0 && ao->nfreepools > 0);
    if (ao->nfreepools == ao->ntotalpools)
        h->nwhole_free--;
    /* ao is the leftmost (smallest nfreepools): decrementing keeps order. */
    if (h->nfp2lasta[ao->nfreepools] == ao)
        h->nfp2lasta[ao->nfreepools] = NULL;
    if (ao->nfreepools > 1) {
        pm_assert_internal(h->nfp2lasta[ao->nfreepools - 1] == NULL);
        h->nfp2lasta[ao->nfreepools - 1] = ao;
    }
    pm_pool *pool = ao->freepools;
    if (pool) {
        ao->freepools = pool->nextpool;
    } else {
        pool = (pm_pool *)ao->pool_address;
        uintptr_t pa = (uintptr_t)pool;
        PM_UNPOISON(pool, POOL_OVERHEAD);   /* the header; the blocks stay poisoned */
        pool->arenaindex = (uint32_t)(ao - h->arenas);
        pool->szidx = DUMMY_SZIDX;
        pool->ref.bitmap_off = pool_bitmap_off(h, ao, pa);
        ao->pool_address += h->pool_size;
        radix_mark_pool(h, pa, true);
    }
    if (--ao->nfreepools == 0) {
        h->usable_arenas = ao->nextarena;
        if (h->usable_arenas)
            h->usable_arenas->prevarena = NULL;
    }
    used_link_front(h, pool, c);
    pool->ref.count = 1;
    uint8_t *bp;
    if (pool->szidx == c) {
        /* last used for this class: header and free list still valid */
        bp = pool->freeblock;
        PM_UNPOISON(bp, class_size(c));     /* handed out: the link goes with it */
        pool->freeblock = *(uint8_t **)bp;
    } else {
        unsigned size = class_size(c);
        pool->szidx = c;
        bp = (uint8_t *)pool + POOL_OVERHEAD;
        PM_UNPOISON(bp, size);
        pool->nextoffset = POOL_OVERHEAD + size;
        pool->maxnextoffset = (uint32_t)(h->pool_size - size);
        pool->freeblock = NULL;
    }
    if (!pool->freeblock)
        pool_extend(pool, c);
    *pool_bitmap_word(h, pool, (uintptr_t)bp) |= bitmap_mask((uintptr_t)bp);
    h->used[c].nmalloc++;
    return bp;
}

/* The pool just became empty and is unlinked from used[]: give it to its
 * arena's freepools and do the arena bookkeeping (CPython's 4 cases). */
static PM_NOINLINE void pool_release(pm_heap_t *h, pm_pool *pool)
{
    struct pm_arena *ao = &h->arenas[pool->arenaindex];
    pool->nextpool = ao->freepools;
    ao->freepools = pool;
    uint32_t nf = ao->nfreepools;
    struct pm_arena *lastnf = h->nfp2lasta[nf];   /* NULL when nf == 0 */
    if (lastnf == ao) {
        struct pm_arena *p = ao->prevarena;
        h->nfp2lasta[nf] = (p && p->nfreepools == nf) ? p : NULL;
    }
    bool linked = nf > 0;
    ao->nfreepools = ++nf;

    if (nf == ao->ntotalpools) {
        /* Case 1: wholly free. Keep it only if it is (or would be) the tail
         * of usable_arenas and no other wholly free arena is kept. */
        bool tail = linked ? ao->nextarena == NULL : h->usable_arenas == NULL;
        if (!tail || h->nwhole_free || !h->keep_free_arena) {
            if (linked) {
                if (ao->prevarena)
                    ao->prevarena->nextarena = ao->nextarena;
                else
                    h->usable_arenas = ao->nextarena;
                if (ao->nextarena)
                    ao->nextarena->prevarena = ao->prevarena;
            }
            arena_release(h, ao);
            return;
        }
        h->nwhole_free++;
    }
    if (nf == 1) {
        /* Case 2: was full, not in the list: smallest count goes first. */
        ao->nextarena = h->usable_arenas;
        ao->prevarena = NULL;
        if (h->usable_arenas)
            h->usable_arenas->prevarena = ao;
        h->usable_arenas = ao;
        if (!h->nfp2lasta[1])
            h->nfp2lasta[1] = ao;
        return;
    }
    if (!h->nfp2lasta[nf])
        h->nfp2lasta[nf] = ao;
    if (ao == lastnf)
        return;                 /* Case 4: still in order */
    /* Case 3: slide ao right, to just after lastnf. */
    pm_assert_internal(lastnf != NULL && ao->nextarena != NULL);
    if (ao->prevarena)
        ao->prevarena->nextarena = ao->nextarena;
    else
        h->usable_arenas = ao->nextarena;
    ao->nextarena->prevarena = ao->prevarena;
    ao->prevarena = lastnf;
    ao->nextarena = lastnf->nextarena;
    if (ao->nextarena)
        ao->nextarena->prevarena = ao;
    lastnf->nextarena = ao;
}

/* ------------------------------------------------------------ small blocks */

/* m = request - 1, 0..511: class m >> 4, whose sentinel is at byte
 * (m >> 4) * 64 = (m << 2) & ~63 of used[]. */
static PM_ALWAYS_INLINE uint8_t *small_alloc(pm_heap_t *h, size_t m)
{
    struct pm_used_head *head = (struct pm_used_head *)((uint8_t *)h->used + ((m << 2) & ~(size_t)63));
    pm_pool *sentinel = &head->pool;
    pm_pool *pool = sentinel->nextpool;
    if (PM_UNLIKELY(pool == sentinel))
        return pool_alloc_new(h, (unsigned)(m >> 4));
    head->nmalloc++;
    pool->ref.count++;
    uint8_t *bp = pool->freeblock;
    pm_assert_internal(bp != NULL);
    PM_UNPOISON(bp, class_size((unsigned)(m >> 4)));   /* handed out, link included */
    if (PM_UNLIKELY((pool->freeblock = *(uint8_t **)bp) == NULL))
        pool_extend(pool, pool->szidx);
    uint64_t *w = pool_bitmap_word(h, pool, (uintptr_t)bp);
    *w = *w | bitmap_mask((uintptr_t)bp);
    return bp;
}

/* p is a valid live block of pool; its bitmap bit is already cleared. */
static PM_ALWAYS_INLINE void small_free(pm_heap_t *h, pm_pool *pool, uint8_t *p)
{
    uint8_t *last = pool->freeblock;
    *(uint8_t **)p = last;
    PM_POISON(p, class_size(pool->szidx));   /* free: poisoned whole, link written */
    pool->freeblock = p;
    uint32_t count = --pool->ref.count;
    if (PM_UNLIKELY(last == NULL)) {
        /* the pool was full and unlinked */
        if (PM_UNLIKELY(count == 0))
            pool_release(h, pool);
        else
            used_link_front(h, pool, pool->szidx);
        return;
    }
    if (PM_UNLIKELY(count == 0)) {
        used_unlink(pool);
        pool_release(h, pool);
    }
}

/* Is `pool` (inside arena ao) carved, and is `a` the start of a carved block
 * in it? */
static bool small_block_start(const pm_heap_t *h, const struct pm_arena *ao,
                              const pm_pool *pool, uintptr_t a)
{
    uintptr_t first = arena_first_pool(h, ao->address);
    if ((uintptr_t)pool < first || (uint8_t *)pool >= ao->pool_address)
        return false;
    if (pool->szidx >= NCLASSES)
        return false;
    uintptr_t off = a - (uintptr_t)pool;
    unsigned size = class_size(pool->szidx);
    return off >= POOL_OVERHEAD && off < pool->nextoffset && (off - POOL_OVERHEAD) % size == 0;
}

static void misuse(pm_heap_t *h, enum pm_misuse_kind kind, const void *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void misuse(pm_heap_t *h, enum pm_misuse_kind kind, const void *p, const char *fmt, ...)
{
    char detail[PM_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    int saved = errno;
    pm_misuse_report(&h->cfg, &h->misuse, BACKEND, kind, p, detail);
    errno = saved;
}

/* p is inside an arena's pools but failed the fast validity test. */
static PM_NOINLINE void small_misuse(pm_heap_t *h, const void *p, const char *call)
{
    uintptr_t a = (uintptr_t)p;
    const struct pm_arena *ao = arena_containing(h, a);
    pm_pool *pool = pool_of(h, p);
    if (!ao) {
        misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "%s: not a block of this heap", call);
        return;
    }
    if ((a & (PM_ALIGNMENT - 1)) == 0 && small_block_start(h, ao, pool, a) &&
        !bitmap_test(h, ao, a)) {
        misuse(h, PM_MISUSE_DOUBLE_FREE, p, "%s: block of %u bytes in pool %p is already free",
               call, class_size(pool->szidx), (void *)pool);
        return;
    }
    misuse(h, PM_MISUSE_MISALIGNED_POINTER, p,
           "%s: not the start of a block handed out (offset %lu in pool %p)", call,
           (unsigned long)(a - (uintptr_t)pool), (void *)pool);
}

/* ----------------------------------------------------------- large blocks */

static inline size_t large_hash(const pm_heap_t *h, const void *p)
{
    uint64_t x = ((uint64_t)(uintptr_t)p >> 4) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(x >> 32) & (h->large_cap - 1);
}

/* Slot of p in the set, or SIZE_MAX. */
static size_t large_find(const pm_heap_t *h, const void *p)
{
    if (!h->large_cap)
        return SIZE_MAX;
    for (size_t i = large_hash(h, p);; i = (i + 1) & (h->large_cap - 1)) {
        if (h->large_set[i] == p)
            return i;
        if (!h->large_set[i])
            return SIZE_MAX;
    }
}

static void large_set_put(pm_heap_t *h, void *p)
{
    size_t i = large_hash(h, p);
    while (h->large_set[i])
        i = (i + 1) & (h->large_cap - 1);
    h->large_set[i] = p;
}

/* Linear probing deletion by backward shift: no tombstones. */
static void large_set_remove_at(pm_heap_t *h, size_t i)
{
    size_t mask = h->large_cap - 1;
    size_t j = i;
    h->large_set[i] = NULL;
    for (;;) {
        j = (j + 1) & mask;
        void *q = h->large_set[j];
        if (!q)
            return;
        size_t k = large_hash(h, q);
        /* q may move to i unless its home k lies cyclically in (i, j] */
        bool stay = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stay) {
            h->large_set[i] = q;
            h->large_set[j] = NULL;
            i = j;
        }
    }
}

/* Room for one more entry (load <= 1/2). */
static bool large_set_reserve(pm_heap_t *h)
{
    if ((h->large_count + 1) * 2 <= h->large_cap)
        return true;
    size_t ncap = h->large_cap ? h->large_cap * 2 : LARGE_SET_INITIAL;
    void **t = pm_os_map(&h->os, ncap * sizeof *t);
    if (!t)
        return false;
    void **old = h->large_set;
    size_t ocap = h->large_cap;
    h->large_set = t;
    h->large_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            large_set_put(h, old[i]);
    if (old)
        pm_os_unmap(&h->os, old, ocap * sizeof *old);
    return true;
}

static inline struct pm_large_hdr *large_hdr(const void *p)
{
    return (struct pm_large_hdr *)((uint8_t *)p - LARGE_HDR);
}

static size_t large_map_size(size_t n)
{
    return pm_round_up(n + LARGE_HDR, pm_os_page_size());
}

/* A mapping of at least `need` bytes: from the cache when one fits within
 * 25%, else fresh. *fresh tells whether it is zero-filled. */
static void *large_map(pm_heap_t *h, size_t need, size_t *size, bool *fresh)
{
    unsigned best = LARGE_CACHE_SLOTS;
    for (unsigned i = 0; i < h->ncached; i++) {
        size_t s = h->cache[i].size;
        if (s >= need && s - need <= need / 4 &&
            (best == LARGE_CACHE_SLOTS || s < h->cache[best].size))
            best = i;
    }
    if (best < LARGE_CACHE_SLOTS) {
        void *base = h->cache[best].base;
        *size = h->cache[best].size;
        memmove(&h->cache[best], &h->cache[best + 1],
                (h->ncached - best - 1) * sizeof h->cache[0]);
        h->ncached--;
        *fresh = false;
        PM_UNPOISON(base, *size);   /* poisoned while cached */
        return base;
    }
    *fresh = true;
    *size = need;
    return pm_os_map(&h->os, need);
}

static void large_unmap_or_cache(pm_heap_t *h, void *base, size_t size)
{
    if (size > LARGE_CACHE_MAX_MAP) {
        pm_os_unmap(&h->os, base, size);
        return;
    }
    if (h->ncached == LARGE_CACHE_SLOTS) {
        /* evict the oldest */
        PM_UNPOISON(h->cache[0].base, h->cache[0].size);
        pm_os_unmap(&h->os, h->cache[0].base, h->cache[0].size);
        memmove(&h->cache[0], &h->cache[1], (LARGE_CACHE_SLOTS - 1) * sizeof h->cache[0]);
        h->ncached--;
    }
    PM_POISON(base, size);      /* a freed block, header included, until reused */
    h->cache[h->ncached++] = (struct pm_cached_map){base, size};
}

static PM_NOINLINE void *large_alloc(pm_heap_t *h, size_t n, bool zero)
{
    if (n > LARGE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (!large_set_reserve(h))
        return NULL;
    size_t size;
    bool fresh;
    uint8_t *base = large_map(h, large_map_size(n), &size, &fresh);
    if (!base)
        return NULL;
    struct pm_large_hdr *hd = (struct pm_large_hdr *)base;
    hd->map_size = size;
    hd->magic = LARGE_MAGIC ^ (uint64_t)(uintptr_t)base;
    uint8_t *p = base + LARGE_HDR;
    if (zero && !fresh)
        memset(p, 0, n);
    large_set_put(h, p);
    h->large_nmalloc++;
    h->large_count++;
    h->large_bytes += size - LARGE_HDR;
    return p;
}

static bool large_in_cache(const pm_heap_t *h, const void *p)
{
    for (unsigned i = 0; i < h->ncached; i++)
        if ((const uint8_t *)h->cache[i].base + LARGE_HDR == p)
            return true;
    return false;
}

/* p is in no arena's pools: a large block, or misuse. */
static PM_NOINLINE void large_bad_pointer(pm_heap_t *h, const void *p, const char *call)
{
    const struct pm_arena *ao = arena_containing(h, (uintptr_t)p);
    if (ao)
        misuse(h, PM_MISUSE_MISALIGNED_POINTER, p,
               "%s: inside arena %#lx but not in one of its pools", call,
               (unsigned long)ao->address);
    else if (large_in_cache(h, p))
        misuse(h, PM_MISUSE_DOUBLE_FREE, p, "%s: large block is already free", call);
    else
        misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "%s: not a block of this heap", call);
}

/* Frees the live large block in slot i of the set. */
static void large_release(pm_heap_t *h, size_t i)
{
    uint8_t *p = h->large_set[i];
    struct pm_large_hdr *hd = large_hdr(p);
    pm_assert_internal(hd->magic == (LARGE_MAGIC ^ (uint64_t)(uintptr_t)hd));
    size_t size = (size_t)hd->map_size;
    large_set_remove_at(h, i);
    h->large_count--;
    h->large_bytes -= size - LARGE_HDR;
    large_unmap_or_cache(h, hd, size);
}

/* large=system: the C library's heap, as CPython's PyMem_RawMalloc
 * (0 bytes asks for 1). Live blocks are kept in the large set (not for
 * ownership, which the arena test decides before we get here: so that
 * destroy() frees them, check() counts them and a foreign or double free
 * is reported instead of reaching free()); they and their usable bytes are
 * counted for stats(). */
static void *system_alloc(pm_heap_t *h, size_t n, bool zero)
{
    if (PM_UNLIKELY(n > LARGE_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    if (PM_UNLIKELY(!large_set_reserve(h)))
        return NULL;
    void *p = zero ? calloc(1, n ? n : 1) : malloc(n ? n : 1);
    if (PM_LIKELY(p != NULL)) {
        large_set_put(h, p);
        h->large_count++;
        h->large_nmalloc++;
        h->large_bytes += malloc_usable_size(p);
    }
    return p;
}

/* free() of a pointer that is not in an arena's pools (NULL included). */
static PM_NOINLINE void large_free(pm_heap_t *h, void *p)
{
    if (!p)
        return;
    if (h->large == LARGE_SYSTEM) {
        size_t i = large_find(h, p);
        if (PM_UNLIKELY(i == SIZE_MAX)) {
            large_bad_pointer(h, p, "free");
            return;
        }
        large_set_remove_at(h, i);
        h->large_count--;
        h->large_bytes -= malloc_usable_size(p);
        free(p);
        return;
    }
    if (h->inner) {
        if (arena_containing(h, (uintptr_t)p))
            large_bad_pointer(h, p, "free");
        else
            h->inner_ops->free(h->inner, p);
        return;
    }
    size_t i = large_find(h, p);
    if (i == SIZE_MAX) {
        large_bad_pointer(h, p, "free");
        return;
    }
    large_release(h, i);
}

/* ---------------------------------------------------------------- the ops */

/* 0 and > 512 bytes: the inner instance, or a mapping of our own. */
static PM_NOINLINE void *large_any(pm_heap_t *h, size_t n, bool zero)
{
    if (h->large == LARGE_SYSTEM)
        return system_alloc(h, n, zero);
    if (h->inner)
        return zero ? h->inner_ops->calloc(h->inner, 1, n) : h->inner_ops->malloc(h->inner, n);
    return large_alloc(h, n, zero);
}

static PM_ALWAYS_INLINE void *alloc_any(pm_heap_t *h, size_t n)
{
    if (PM_LIKELY(n - 1 < PM_SMALL_MAX))
        return small_alloc(h, n - 1);
    return large_any(h, n, false);
}

static void *pymalloc_malloc(pm_heap_t *h, size_t n)
{
    return alloc_any(h, n);
}

static void *pymalloc_calloc(pm_heap_t *h, size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = k * n;
    void *p;
    if (total - 1 < PM_SMALL_MAX) {
        p = small_alloc(h, total - 1);
        if (p)
            memset(p, 0, total);
    } else {
        p = large_any(h, total, true);
    }
    return p;
}

/* free() of p whose radix leaf is e. Every call below is in tail
 * position, so the fast path needs no frame. */
static PM_ALWAYS_INLINE void free_leaf_g(pm_heap_t *h, void *p, const struct pm_leaf *e,
                                         const struct pm_geom g)
{
    uintptr_t a = (uintptr_t)p;
    if (PM_UNLIKELY(!leaf_has_pool(e, a, g))) {
        large_free(h, p);
        return;
    }
    pm_pool *pool = (pm_pool *)(a & ~g.pool_mask);
    uint64_t *w = pool_bitmap_word(h, pool, a);
    uint64_t m = bitmap_mask(a);
    uint64_t word = *w;
    if (PM_UNLIKELY(!(word & m))) {
        small_misuse(h, p, "free");
        return;
    }
    if (PM_UNLIKELY(a & (PM_ALIGNMENT - 1))) {
        small_misuse(h, p, "free (unaligned)");
        return;
    }
    *w = word ^ m;                       /* the bit is set: clear it */
    small_free(h, pool, p);
}

static PM_ALWAYS_INLINE void free_g(pm_heap_t *h, void *p, const struct pm_geom g)
{
    uintptr_t a = (uintptr_t)p;
    const struct pm_leaf *e;
    uintptr_t k = (a >> g.chunk_shift) - h->bot_hint_first;
    if (PM_LIKELY(k <= g.bot_mask)) {
        e = &h->bot_hint[k];
    } else {
        e = radix_leaf_g(h, a, g);
        if (!e) {
            large_free(h, p);
            return;
        }
    }
    free_leaf_g(h, p, e, g);
}

/* Everything but a py310 heap's pointer in its newest bottom node. */
static PM_NOINLINE void free_slow(pm_heap_t *h, void *p)
{
    if (h->shape == SHAPE_PY310)
        free_g(h, p, GEOM_PY310);
    else if (h->shape == SHAPE_PY38)
        free_g(h, p, GEOM_PY38);
    else
        free_g(h, p, h->geom);
}

/* The default geometry's common case is tested first, with no dispatch:
 * hint310_first only matches addresses for a py310 heap. */
static void pymalloc_free(pm_heap_t *h, void *p)
{
    const struct pm_geom g = GEOM_PY310;
    uintptr_t k = ((uintptr_t)p >> g.chunk_shift) - h->hint310_first;
    if (PM_LIKELY(k <= g.bot_mask)) {
        free_leaf_g(h, p, &h->bot_hint[k], g);
        return;
    }
    free_slow(h, p);
}

/* Validates p. Returns the allocation-bit word of a live small block, or
 * NULL with *slot set for a live large block, or NULL with *slot ==
 * SIZE_MAX after reporting misuse. */
static uint64_t *pointer_lookup(pm_heap_t *h, void *p, size_t *slot, const char *call)
{
    uintptr_t a = (uintptr_t)p;
    if (radix_owns_g(h, a, h->geom)) {
        uint64_t *w = pool_bitmap_word(h, pool_of(h, p), a);
        if ((a & (PM_ALIGNMENT - 1)) || !(*w & bitmap_mask(a))) {
            small_misuse(h, p, call);
            *slot = SIZE_MAX;
            return NULL;
        }
        return w;
    }
    *slot = large_find(h, p);
    if (*slot == SIZE_MAX)
        large_bad_pointer(h, p, call);
    return NULL;
}

/* Frees a block pointer_lookup() validated. */
static void free_validated(pm_heap_t *h, void *p, uint64_t *w, size_t slot)
{
    if (w) {
        *w &= ~bitmap_mask((uintptr_t)p);
        small_free(h, pool_of(h, p), p);
    } else {
        large_release(h, slot);
    }
}

static void *pymalloc_realloc(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return pymalloc_malloc(h, n);
    if (h->large == LARGE_SYSTEM && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        /* not ours: the C library's realloc whatever n is (CPython's
         * pymalloc_realloc "punts" to PyMem_RawRealloc) */
        size_t i = large_find(h, p);
        if (i == SIZE_MAX) {
            large_bad_pointer(h, p, "realloc");
            return NULL;
        }
        if (PM_UNLIKELY(n > LARGE_MAX)) {
            errno = ENOMEM;
            return NULL;
        }
        size_t before = malloc_usable_size(p);
        void *q = realloc(p, n ? n : 1);
        if (q) {
            h->large_bytes = h->large_bytes - before + malloc_usable_size(q);
            if (q != p) {
                large_set_remove_at(h, i);   /* same count: no growth needed */
                large_set_put(h, q);
            }
        }
        return q;
    }
    if (h->inner && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        /* not ours: the large path's realloc, whatever n is (CPython:
         * PyMem_RawRealloc for a block pymalloc does not own) */
        if (arena_containing(h, (uintptr_t)p)) {
            large_bad_pointer(h, p, "realloc");
            return NULL;
        }
        return h->inner_ops->realloc(h->inner, p, n);
    }
    size_t slot = 0;
    uint64_t *w = pointer_lookup(h, p, &slot, "realloc");
    size_t old;
    if (w) {
        old = class_size(pool_of(h, p)->szidx);
        if (n <= old && 4 * n > 3 * old)
            return p;           /* same class, or shrinking by less than 1/4 */
    } else {
        if (slot == SIZE_MAX)
            return NULL;
        old = (size_t)large_hdr(p)->map_size - LARGE_HDR;
        if (n > PM_SMALL_MAX && n <= old && n > old / 2)
            return p;           /* fits its mapping, wastes less than half */
    }
    void *q = alloc_any(h, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    if (w)                        /* a new arena may have moved the bitmap region */
        w = pool_bitmap_word(h, pool_of(h, p), (uintptr_t)p);
    else
        slot = large_find(h, p);  /* the set may have been rehashed */
    free_validated(h, p, w, slot);
    return q;
}

static size_t pymalloc_usable_size(pm_heap_t *h, void *p)
{
    if (!p)
        return 0;
    if (h->large == LARGE_SYSTEM && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        if (large_find(h, p) == SIZE_MAX) {
            large_bad_pointer(h, p, "usable_size");
            return 0;
        }
        return malloc_usable_size(p);
    }
    if (h->inner && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        if (arena_containing(h, (uintptr_t)p)) {
            large_bad_pointer(h, p, "usable_size");
            return 0;
        }
        return h->inner_ops->usable_size(h->inner, p);
    }
    size_t slot = 0;
    if (pointer_lookup(h, p, &slot, "usable_size"))
        return class_size(pool_of(h, p)->szidx);
    if (slot == SIZE_MAX)
        return 0;
    return (size_t)large_hdr(p)->map_size - LARGE_HDR;
}

/* ----------------------------------------------------------- create/destroy */

struct geometry {
    uint64_t arena;              /* bytes */
    uint64_t pool;               /* bytes */
    enum pm_large large;         /* large= */
    unsigned version;            /* CPython emulated: 308, 309, 310, 311, 312, 313 */
    enum pm_placement placement; /* placement= */
};

/* The presets: one per CPython version (docs/cpython-versions.md), and the
 * older names. Geometry differs at 3.10; the arena release rule at 3.9;
 * the report's arena map section appears at 3.10 and its node sizes change
 * at 3.11. 3.12 and 3.13 behave as 3.11 for the default (GIL) build. */
static const struct preset {
    const char *name;
    unsigned version;
    uint32_t arena, pool;        /* bytes */
} presets[] = {
    {"3.8", 308, 256u << 10, 4u << 10},   {"3.9", 309, 256u << 10, 4u << 10},
    {"3.10", 310, 1u << 20, 16u << 10},   {"3.11", 311, 1u << 20, 16u << 10},
    {"3.12", 312, 1u << 20, 16u << 10},   {"3.13", 313, 1u << 20, 16u << 10},
    {"py38", 308, 256u << 10, 4u << 10},  {"py310", 310, 1u << 20, 16u << 10},
};

static bool geometry_parse(const struct pm_config *cfg, struct geometry *g, char err[PM_ERR_LEN])
{
    g->arena = 1u << 20;         /* 3.11 */
    g->pool = 16u << 10;
    g->large = LARGE_SYSTEM;
    g->version = 311;
    g->placement = PLACE_OS;
    struct pm_opt_iter it = {cfg->options};
    const char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pm_opt_next(&it, &k, &kl, &v, &vl, err)) > 0) {
        if (pm_opt_key_is(k, kl, "preset")) {
            const struct preset *ps = NULL;
            for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
                if (strlen(presets[i].name) == vl && !memcmp(v, presets[i].name, vl))
                    ps = &presets[i];
            if (!ps) {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: unknown preset '%.*s' (known: 3.8, 3.9, 3.10, 3.11, 3.12, "
                         "3.13; py38 = 3.8, py310 = 3.10)", (int)vl, v);
                return false;
            }
            g->arena = ps->arena;
            g->pool = ps->pool;
            g->version = ps->version;
        } else if (pm_opt_key_is(k, kl, "placement")) {
            static const char *const names[] = {"os", "aligned", "unaligned"};
            bool found = false;
            for (unsigned i = 0; i < 3; i++)
                if (strlen(names[i]) == vl && !memcmp(v, names[i], vl)) {
                    g->placement = (enum pm_placement)i;
                    found = true;
                }
            if (!found) {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: unknown placement '%.*s' (known: os, aligned, unaligned)",
                         (int)vl, v);
                return false;
            }
        } else if (pm_opt_key_is(k, kl, "arena") || pm_opt_key_is(k, kl, "pool")) {
            uint64_t *dst = k[0] == 'a' ? &g->arena : &g->pool;
            if (!pm_parse_size(v, vl, dst)) {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: bad %.*s size '%.*s' (expected bytes, K/M/G allowed)",
                         (int)kl, k, (int)vl, v);
                return false;
            }
        } else if (pm_opt_key_is(k, kl, "large")) {
            if (vl == 6 && !memcmp(v, "system", 6)) {
                g->large = LARGE_SYSTEM;
            } else if (vl == 2 && !memcmp(v, "os", 2)) {
                g->large = LARGE_OS;
            } else if (vl == 6 && !memcmp(v, "segfit", 6)) {
                g->large = LARGE_SEGFIT;
            } else {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: unknown large path '%.*s' (known: system, segfit, os)",
                         (int)vl, v);
                return false;
            }
        } else {
            snprintf(err, PM_ERR_LEN,
                     "pymalloc: unknown option '%.*s' (known: preset, arena, pool, large, placement)",
                     (int)kl, k);
            return false;
        }
    }
    if (r < 0) {
        char inner[PM_ERR_LEN];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, PM_ERR_LEN, "pymalloc: %.200s", inner);
        return false;
    }
    unsigned long long a = (unsigned long long)g->arena, p = (unsigned long long)g->pool;
    if (p == 0 || (p & (p - 1))) {
        snprintf(err, PM_ERR_LEN, "pymalloc: pool size %llu is not a power of two", p);
        return false;
    }
    if (p < POOL_MIN) {
        snprintf(err, PM_ERR_LEN,
                 "pymalloc: pool size %llu is too small for the %d-byte pool header and one "
                 "%d-byte block (at least %d)", p, POOL_OVERHEAD, PM_SMALL_MAX, POOL_MIN);
        return false;
    }
    if (a % p) {
        snprintf(err, PM_ERR_LEN, "pymalloc: arena size %llu is not a multiple of the pool size %llu",
                 a, p);
        return false;
    }
    if (a / p < 2) {
        snprintf(err, PM_ERR_LEN,
                 "pymalloc: arena size %llu holds fewer than 2 pools of %llu bytes (an arena "
                 "not aligned to the pool size loses one)", a, p);
        return false;
    }
    if (g->placement == PLACE_UNALIGNED && p <= pm_os_page_size()) {
        snprintf(err, PM_ERR_LEN,
                 "pymalloc: placement=unaligned needs pools larger than a page (%zu bytes): "
                 "every page-aligned arena is pool-aligned", pm_os_page_size());
        return false;
    }
    if (a > ARENA_MAX) {
        snprintf(err, PM_ERR_LEN, "pymalloc: arena size %llu is too large (at most %zu)", a,
                 ARENA_MAX);
        return false;
    }
    return true;
}

static bool geom_equal(const struct pm_geom *x, const struct pm_geom *y)
{
    return x->root_shift == y->root_shift && x->mid_shift == y->mid_shift &&
           x->chunk_shift == y->chunk_shift && x->pool_shift == y->pool_shift &&
           x->mid_mask == y->mid_mask && x->bot_mask == y->bot_mask &&
           x->pool_mask == y->pool_mask;
}

static void pymalloc_destroy(pm_heap_t *h);

/* Misuse the large path's instance detects is ours: reported as pymalloc's. */
static void inner_misuse(void *ctx, const char *backend, enum pm_misuse_kind kind,
                         const void *ptr, const char *detail)
{
    (void)backend;
    pm_heap_t *h = ctx;
    char d[PM_ERR_LEN];
    snprintf(d, sizeof d, "large block%s%.200s", *detail ? ": " : "", detail);
    int saved = errno;
    pm_misuse_report(&h->cfg, &h->misuse, BACKEND, kind, ptr, d);
    errno = saved;
}

static pm_heap_t *pymalloc_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    struct geometry g;
    if (!geometry_parse(cfg, &g, err))
        return NULL;
    unsigned pool_shift = (unsigned)__builtin_ctzll(g.pool);
    unsigned chunk_shift = pool_shift + 6;       /* 64 pool slots per leaf */
    unsigned key_bits = 64 - chunk_shift;
    unsigned bot_bits = key_bits / 3;
    unsigned mid_bits = (key_bits - bot_bits) / 2;
    unsigned root_bits = key_bits - bot_bits - mid_bits;
    uint32_t ppa = (uint32_t)(g.arena / g.pool);

    size_t off_nfp = pm_round_up(sizeof(struct pm_heap), 64);
    size_t off_root = pm_round_up(off_nfp + ((size_t)ppa + 1) * sizeof(struct pm_arena *), 64);
    size_t map_size = off_root + (sizeof(void *) << root_bits);

    struct pm_os os;
    pm_os_init(&os, &cfg->faults);
    uint8_t *mem = pm_os_map(&os, map_size);
    if (!mem) {
        snprintf(err, PM_ERR_LEN, "pymalloc: out of memory");
        return NULL;
    }
    pm_heap_t *h = (pm_heap_t *)mem;
    h->arena_size = (size_t)g.arena;
    h->pool_size = (size_t)g.pool;
    h->pools_per_arena = ppa;
    h->root_bits = root_bits;
    h->mid_bits = mid_bits;
    h->bot_bits = bot_bits;
    h->geom = (struct pm_geom){
        .root_shift = 64 - root_bits,
        .mid_shift = chunk_shift + bot_bits,
        .chunk_shift = chunk_shift,
        .pool_shift = pool_shift,
        .mid_mask = ((uintptr_t)1 << mid_bits) - 1,
        .bot_mask = ((uintptr_t)1 << bot_bits) - 1,
        .pool_mask = (uintptr_t)g.pool - 1,
    };
    const struct pm_geom py310 = GEOM_PY310, py38 = GEOM_PY38;
    h->shape = geom_equal(&h->geom, &py310) ? SHAPE_PY310
             : geom_equal(&h->geom, &py38) ? SHAPE_PY38 : SHAPE_GENERIC;
    h->bitmap_bytes = h->arena_size / BITMAP_DIV;
    h->placement = g.placement;
    h->version = g.version;
    h->keep_free_arena = g.version >= 309;
    if (g.version == 310) {
        unsigned ab = 63u - (unsigned)__builtin_clzll(g.arena);   /* CPython's ARENA_BITS */
        unsigned key = 48 > ab ? 48 - ab : 0;
        h->map310_arena_bits = ab;
        h->map310_top_bits = (key + 2) / 3;
        h->map310_bot_bits = key - 2 * h->map310_top_bits;
    }
    h->heap_map_size = map_size;
    h->nfp2lasta = (struct pm_arena **)(mem + off_nfp);
    h->root = (void **)(mem + off_root);
    for (unsigned c = 0; c < NCLASSES; c++) {
        h->used[c].pool.nextpool = h->used[c].pool.prevpool = &h->used[c].pool;
        h->used[c].pool.szidx = c;
    }
    h->bot_hint_first = UINTPTR_MAX >> 1;  /* no bottom node yet: no chunk number in range */
    h->hint310_first = UINTPTR_MAX >> 1;
    h->cfg = *cfg;
    h->cfg.options = NULL;      /* the caller's string may not outlive create */
    h->os = os;
    h->large = g.large;
    if (g.large == LARGE_SEGFIT) {
        struct pm_config icfg = {.on_misuse = inner_misuse, .misuse_ctx = h, .account = &h->os};
        char ierr[PM_ERR_LEN];
        h->inner = pm_backend_create("segfit", &icfg, &h->inner_ops, ierr);
        if (!h->inner) {
            pymalloc_destroy(h);
            snprintf(err, PM_ERR_LEN, "pymalloc: large path: %.200s", ierr);
            return NULL;
        }
    }
    return h;
}

static void pymalloc_destroy(pm_heap_t *h)
{
    if (h->inner)
        h->inner_ops->destroy(h->inner);   /* through our account: before the copy */
    struct pm_os os = h->os;
    for (uint32_t i = 0; i < h->maxarenas; i++)
        if (h->arenas[i].address) {
            PM_UNPOISON((void *)h->arenas[i].address, h->arena_size);
            pm_os_unmap(&os, (void *)h->arenas[i].address, h->arena_size);
        }
    if (h->arenas)
        pm_os_unmap(&os, h->arenas, h->table_map_size);
    if (h->bitmap_base)
        pm_os_unmap(&os, h->bitmap_base, h->bitmap_map_size);
    if (h->mid_count) {
        for (size_t r = 0; r < ((size_t)1 << h->root_bits); r++) {
            void **mid = h->root[r];
            if (!mid)
                continue;
            for (size_t m = 0; m <= h->geom.mid_mask; m++)
                if (mid[m])
                    pm_os_unmap(&os, mid[m], sizeof(struct pm_leaf) << h->bot_bits);
            pm_os_unmap(&os, mid, sizeof(void *) << h->mid_bits);
        }
    }
    for (size_t i = 0; i < h->large_cap; i++)
        if (h->large_set[i] && h->large == LARGE_SYSTEM) {
            free(h->large_set[i]);
        } else if (h->large_set[i]) {
            struct pm_large_hdr *hd = large_hdr(h->large_set[i]);
            pm_os_unmap(&os, hd, (size_t)hd->map_size);
        }
    if (h->large_set)
        pm_os_unmap(&os, h->large_set, h->large_cap * sizeof *h->large_set);
    for (unsigned i = 0; i < h->ncached; i++) {
        PM_UNPOISON(h->cache[i].base, h->cache[i].size);
        pm_os_unmap(&os, h->cache[i].base, h->cache[i].size);
    }
    pm_os_unmap(&os, h, h->heap_map_size);
}

static void pymalloc_trim(pm_heap_t *h)
{
    if (h->nwhole_free) {
        for (struct pm_arena *ao = h->usable_arenas; ao; ao = ao->nextarena)
            if (ao->nfreepools == ao->ntotalpools) {
                usable_unlink(h, ao);
                h->nwhole_free--;
                arena_release(h, ao);
                break;
            }
    }
    if (h->large == LARGE_SYSTEM)
        malloc_trim(0);          /* the C library's heap: process-wide, as the system backend */
    while (h->ncached) {
        h->ncached--;
        PM_UNPOISON(h->cache[h->ncached].base, h->cache[h->ncached].size);
        pm_os_unmap(&h->os, h->cache[h->ncached].base, h->cache[h->ncached].size);
    }
    if (h->inner)
        h->inner_ops->trim(h->inner);
}

static struct pm_os *pymalloc_os(pm_heap_t *h) { return &h->os; }

/* ------------------------------------------------------------------- walks */

/* Per-class totals over every carved pool in use. */
struct pool_census {
    size_t pools[NCLASSES];      /* pools with count > 0 */
    size_t blocks[NCLASSES];     /* blocks in use */
    size_t unused_pools;         /* sum of nfreepools */
    size_t unaligned_arenas;     /* arenas that lost a pool to alignment */
};

static void pool_census_take(const pm_heap_t *h, struct pool_census *pc)
{
    memset(pc, 0, sizeof *pc);
    for (uint32_t i = 0; i < h->maxarenas; i++) {
        const struct pm_arena *ao = &h->arenas[i];
        if (!ao->address)
            continue;
        uintptr_t first = arena_first_pool(h, ao->address);
        pc->unused_pools += ao->nfreepools;
        pc->unaligned_arenas += first != ao->address;
        for (uintptr_t b = first; b < (uintptr_t)ao->pool_address; b += h->pool_size) {
            const pm_pool *pool = (const pm_pool *)b;
            if (pool->ref.count == 0 || pool->szidx >= NCLASSES)
                continue;
            pc->pools[pool->szidx]++;
            pc->blocks[pool->szidx] += pool->ref.count;
        }
    }
}

static size_t used_bytes_small(const struct pool_census *pc)
{
    size_t s = 0;
    for (unsigned c = 0; c < NCLASSES; c++)
        s += pc->blocks[c] * class_size(c);
    return s;
}

static size_t pools_in_use(const struct pool_census *pc)
{
    size_t s = 0;
    for (unsigned c = 0; c < NCLASSES; c++)
        s += pc->pools[c];
    return s;
}

/* Metadata: this struct's mapping (with nfp2lasta and the radix root), the
 * arena table, radix nodes, the bitmap tail of each arena mapping, the
 * headers of pools in use, the large-block set and headers. */
static size_t meta_bytes(const pm_heap_t *h, const struct pool_census *pc)
{
    size_t page = pm_os_page_size();
    return pm_round_up(h->heap_map_size, page)
         + pm_round_up(h->table_map_size, page) + pm_round_up(h->bitmap_map_size, page)
         + (size_t)h->mid_count * pm_round_up(sizeof(void *) << h->mid_bits, page)
         + (size_t)h->bot_count * pm_round_up(sizeof(struct pm_leaf) << h->bot_bits, page)
         + pools_in_use(pc) * POOL_OVERHEAD
         + pm_round_up(h->large_cap * sizeof(void *), page)
         + (h->large == LARGE_OS ? h->large_count * LARGE_HDR : 0);
}

static void pymalloc_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct pool_census pc;
    pool_census_take(h, &pc);
    /* Only allocations are counted (per class, in the sentinel line malloc
     * reads anyway; a heap-wide counter pair cost ~5% in `pymemlab micro`).
     * nfree = nmalloc - live. A realloc that moves counts as one of each. */
    uint64_t live = h->large_count, nmalloc = h->large_nmalloc;
    for (unsigned c = 0; c < NCLASSES; c++) {
        live += pc.blocks[c];
        nmalloc += h->used[c].nmalloc;
    }
    uint64_t large_used = h->large_bytes, large_meta = 0, large_live = h->large_count;
    uint64_t misuse_n = h->misuse;
    if (h->inner) {
        struct pm_stats is;
        h->inner_ops->stats(h->inner, &is);
        large_used = is.used_bytes;
        large_meta = is.meta_bytes;
        large_live = is.live_blocks;
        live += is.live_blocks;
        nmalloc += is.nmalloc;
    }
    *out = (struct pm_stats){
        .mapped_bytes = h->os.mapped,        /* the inner instance's included */
        .peak_mapped_bytes = h->os.peak_mapped,
        .used_bytes = used_bytes_small(&pc) + large_used,
        .meta_bytes = meta_bytes(h, &pc) + large_meta,
        .live_blocks = live,
        .nmalloc = nmalloc,
        .nfree = nmalloc - live,
        .arenas = h->narenas_current,
        .pools = pools_in_use(&pc),
        .large_blocks = large_live,
        .misuse = misuse_n,
    };
}

bool pm_pymalloc_report(const struct allocator_ops *ops, pm_heap_t *h,
                        struct pm_pymalloc_report *out)
{
    if (ops != &pm_pymalloc_ops || !h)
        return false;
    struct pool_census pc;
    pool_census_take(h, &pc);
    memset(out, 0, sizeof *out);
    out->small_threshold = PM_SMALL_MAX;
    out->nclasses = NCLASSES;
    for (unsigned c = 0; c < NCLASSES; c++) {
        struct pm_pymalloc_class_row *r = &out->rows[c];
        unsigned size = class_size(c);
        r->cls = c;
        r->size = size;
        r->pools = pc.pools[c];
        r->blocks_in_use = pc.blocks[c];
        r->avail_blocks = pc.pools[c] * pool_capacity(h, c) - pc.blocks[c];
        out->bytes_in_allocated_blocks += r->blocks_in_use * size;
        out->bytes_in_available_blocks += r->avail_blocks * size;
        out->bytes_lost_pool_headers += r->pools * POOL_OVERHEAD;
        out->bytes_lost_quantization += r->pools * ((h->pool_size - POOL_OVERHEAD) % size);
    }
    out->arenas_allocated_total = h->ntimes_arena_allocated;
    out->arenas_current = h->narenas_current;
    out->arenas_reclaimed = h->ntimes_arena_allocated - h->narenas_current;
    out->arenas_highwater = h->narenas_highwater;
    out->arena_size = h->arena_size;
    out->pool_size = h->pool_size;
    out->unused_pools = pc.unused_pools;
    out->bytes_lost_arena_alignment = pc.unaligned_arenas * h->pool_size;
    out->total = out->bytes_in_allocated_blocks + out->bytes_in_available_blocks
               + out->unused_pools * out->pool_size + out->bytes_lost_pool_headers
               + out->bytes_lost_quantization + out->bytes_lost_arena_alignment;
    out->version = h->version;
    out->has_arena_map = h->version >= 310;
    if (h->version == 310) {     /* CPython 3.10's nodes, not ours (map310_note) */
        out->map_mid_nodes = h->map310_nmid;
        out->map_bot_nodes = h->map310_nbot;
        out->map_root_bytes = sizeof(void *) << h->map310_top_bits;
        out->map_mid_bytes = h->map310_nmid * (sizeof(void *) << h->map310_top_bits);
        out->map_bot_bytes = h->map310_nbot * (sizeof(struct pm_leaf) << h->map310_bot_bits);
    } else {
        out->map_mid_nodes = h->mid_count;
        out->map_bot_nodes = h->bot_count;
        out->map_root_bytes = sizeof(void *) << h->root_bits;
        out->map_mid_bytes = h->mid_count * (sizeof(void *) << h->mid_bits);
        out->map_bot_bytes = h->bot_count * (sizeof(struct pm_leaf) << h->bot_bits);
    }
    out->map_total = out->map_root_bytes + out->map_mid_bytes + out->map_bot_bytes;
    return true;
}

/* Is p a live small block of h? (No misuse report.) */
static bool small_live(const pm_heap_t *h, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if ((a & (PM_ALIGNMENT - 1)) || !radix_owns_g(h, a, h->geom))
        return false;
    return (*pool_bitmap_word(h, pool_of(h, p), a) & bitmap_mask(a)) != 0;
}

bool pm_pymalloc_pool_info(const struct allocator_ops *ops, pm_heap_t *h, const void *p,
                           struct pm_pymalloc_pool_info *info)
{
    if (ops != &pm_pymalloc_ops || !h || !p || !small_live(h, p))
        return false;
    const pm_pool *pool = pool_of(h, p);
    const struct pm_arena *ao = &h->arenas[pool->arenaindex];
    unsigned size = class_size(pool->szidx);
    bool in_used = false;
    for (const pm_pool *q = h->used[pool->szidx].pool.nextpool; q != &h->used[pool->szidx].pool;
         q = q->nextpool)
        if (q == pool) {
            in_used = true;
            break;
        }
    uintptr_t first = arena_first_pool(h, ao->address);
    *info = (struct pm_pymalloc_pool_info){
        .pool = (uintptr_t)pool,
        .szidx = pool->szidx,
        .block_size = size,
        .count = pool->ref.count,
        .carved = (pool->nextoffset - POOL_OVERHEAD) / size,
        .capacity = pool_capacity(h, pool->szidx),
        .in_usedpools = in_used,
        .arena_index = pool->arenaindex,
        .arena_address = ao->address,
        .arena_first_pool = first,
        .arena_nfreepools = ao->nfreepools,
        .arena_ntotalpools = ao->ntotalpools,
        .arena_ncarved = (unsigned)(((uintptr_t)ao->pool_address - first) / h->pool_size),
    };
    return true;
}

/* ------------------------------------------------------------------- check */

struct checker {
    unsigned long bad;           /* violations found */
    char *msg;                   /* PM_ERR_LEN, first violation */
};

static void violation(struct checker *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(struct checker *ck, const char *fmt, ...)
{
    if (ck->bad++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(ck->msg, PM_ERR_LEN, "pymalloc: ");
        vsnprintf(ck->msg + n, PM_ERR_LEN - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

/* Bits set in arena ao's bitmap for [from, to) (16-byte aligned addresses). */
static size_t bitmap_count(const pm_heap_t *h, const struct pm_arena *ao, uintptr_t from,
                           uintptr_t to)
{
    const uint64_t *bm = arena_bitmap(h, ao);
    size_t n = 0;
    uintptr_t b0 = (from - ao->address) >> GRANULE_SHIFT, b1 = (to - ao->address) >> GRANULE_SHIFT;
    for (uintptr_t b = b0; b < b1;) {
        if ((b & 63) == 0 && b + 64 <= b1) {
            n += (size_t)__builtin_popcountll(bm[b >> 6]);
            b += 64;
        } else {
            n += (bm[b >> 6] >> (b & 63)) & 1;
            b++;
        }
    }
    return n;
}

/* The link of free block b, which the caller has validated (a carved block
 * of the pool, its allocation bit clear). */
static inline const uint8_t *link_read(const uint8_t *b)
{
    LINK_OPEN(b);
    const uint8_t *next = *(uint8_t *const *)b;
    LINK_CLOSE(b);
    return next;
}

/* One carved pool of arena i: header, blocks, free list, bitmap. Counts
 * empty and partly used pools. */
static void check_pool(const pm_heap_t *h, struct checker *ck, const struct pm_arena *ao,
                       uint32_t i, const pm_pool *pool, size_t *empty, size_t *partial)
{
    uintptr_t pa = (uintptr_t)pool;
    if (pool->arenaindex != i)
        violation(ck, "pool %p: arenaindex %u, expected %u", (const void *)pool, pool->arenaindex, i);
    uint32_t bm_off = pool_bitmap_off(h, ao, pa);
    if (pool->ref.bitmap_off != bm_off)
        violation(ck, "pool %p: bitmap offset %u, expected %u", (const void *)pool,
                  pool->ref.bitmap_off, bm_off);
    size_t bits = bitmap_count(h, ao, pa, pa + h->pool_size);
    if (pool->ref.count == 0) {
        (*empty)++;
        if (bits)
            violation(ck, "empty pool %p has %zu allocation bits set", (const void *)pool, bits);
        return;
    }
    if (pool->szidx >= NCLASSES) {
        violation(ck, "pool %p in use with bad class %u", (const void *)pool, pool->szidx);
        return;
    }
    unsigned size = class_size(pool->szidx);
    unsigned cap = pool_capacity(h, pool->szidx);
    if (pool->maxnextoffset != h->pool_size - size ||
        pool->nextoffset < POOL_OVERHEAD + size || (pool->nextoffset - POOL_OVERHEAD) % size ||
        pool->nextoffset > pool->maxnextoffset + size) {
        violation(ck, "pool %p: nextoffset %u / maxnextoffset %u invalid for %u-byte blocks",
                  (const void *)pool, pool->nextoffset, pool->maxnextoffset, size);
        return;
    }
    unsigned carved = (pool->nextoffset - POOL_OVERHEAD) / size;
    if (pool->ref.count > carved) {
        violation(ck, "pool %p: %u blocks in use but only %u carved", (const void *)pool,
                  pool->ref.count, carved);
        return;
    }
    if (bits != pool->ref.count)
        violation(ck, "pool %p: %u blocks in use but %zu allocation bits", (const void *)pool,
                  pool->ref.count, bits);
    size_t nfree = 0;
    size_t limit = carved - pool->ref.count;
    for (const uint8_t *b = pool->freeblock; b; b = link_read(b)) {
        uintptr_t off = (uintptr_t)b - pa;
        if ((uintptr_t)b < pa || off >= pool->nextoffset || off < POOL_OVERHEAD ||
            (off - POOL_OVERHEAD) % size) {
            violation(ck, "pool %p: free list entry %p outside the carved blocks",
                      (const void *)pool, (const void *)b);
            return;
        }
        if (bitmap_test(h, ao, (uintptr_t)b)) {
            violation(ck, "pool %p: free block %p is marked allocated", (const void *)pool,
                      (const void *)b);
            return;
        }
        if (++nfree > limit) {
            violation(ck, "pool %p: free list longer than %zu (duplicate or cycle)",
                      (const void *)pool, limit);
            return;
        }
    }
    if (nfree != limit)
        violation(ck, "pool %p: %zu free + %u used != %u carved blocks", (const void *)pool, nfree,
                  pool->ref.count, carved);
    if (!pool->freeblock && (pool->ref.count != cap || carved != cap))
        violation(ck, "pool %p: no free block but %u of %u in use", (const void *)pool,
                  pool->ref.count, cap);
    if (pool->freeblock)
        partial[pool->szidx]++;
}

static void check_arenas(const pm_heap_t *h, struct checker *ck, size_t *partial,
                         size_t *n_usable, size_t *n_whole, size_t *carved_total)
{
    size_t narenas = 0, nunused_slots = 0;
    for (uint32_t i = 0; i < h->maxarenas; i++) {
        const struct pm_arena *ao = &h->arenas[i];
        if (!ao->address) {
            nunused_slots++;
            continue;
        }
        narenas++;
        uintptr_t a = ao->address;
        uintptr_t first = arena_first_pool(h, a);
        if (a & (pm_os_page_size() - 1))
            violation(ck, "arena %u at %#lx is not page aligned", i, (unsigned long)a);
        uint32_t total = h->pools_per_arena - (first != a);
        if (ao->ntotalpools != total) {
            violation(ck, "arena %u: ntotalpools %u, expected %u", i, ao->ntotalpools, total);
            continue;
        }
        uintptr_t end = first + (uintptr_t)total * h->pool_size;
        uintptr_t pa = (uintptr_t)ao->pool_address;
        if (pa < first || pa > end || ((pa - first) & h->geom.pool_mask)) {
            violation(ck, "arena %u: pool_address %#lx outside [%#lx, %#lx]", i,
                      (unsigned long)pa, (unsigned long)first, (unsigned long)end);
            continue;
        }
        size_t carved = (pa - first) / h->pool_size;
        *carved_total += carved;
        for (uintptr_t b = first; b < end; b += h->pool_size)
            if (radix_owns_g(h, b, h->geom) != (b < pa)) {
                violation(ck, "arena %u: radix tree says pool %#lx is %scarved", i,
                          (unsigned long)b, b < pa ? "not " : "");
                break;
            }
        size_t empty = 0;
        for (uintptr_t b = first; b < pa; b += h->pool_size)
            check_pool(h, ck, ao, i, (const pm_pool *)b, &empty, partial);
        size_t bits_all = bitmap_count(h, ao, a, a + h->arena_size);
        size_t bits_pools = bitmap_count(h, ao, first, pa);
        if (bits_all != bits_pools)
            violation(ck, "arena %u: %zu allocation bits outside carved pools", i,
                      bits_all - bits_pools);
        /* freepools: carved, empty, no cycle, as many as the empty pools */
        size_t nfp = 0;
        for (const pm_pool *q = ao->freepools; q; q = q->nextpool) {
            uintptr_t qa = (uintptr_t)q;
            if (qa < first || qa >= pa || ((qa - first) & h->geom.pool_mask)) {
                violation(ck, "arena %u: freepools entry %p is not a carved pool", i,
                          (const void *)q);
                break;
            }
            if (q->ref.count) {
                violation(ck, "arena %u: freepools entry %p has %u blocks in use", i,
                          (const void *)q, q->ref.count);
                break;
            }
            if (++nfp > carved) {
                violation(ck, "arena %u: freepools list has a cycle", i);
                break;
            }
        }
        if (nfp != empty)
            violation(ck, "arena %u: %zu pools on freepools but %zu empty carved pools", i, nfp,
                      empty);
        size_t expect_free = empty + (end - pa) / h->pool_size;
        if (ao->nfreepools != expect_free)
            violation(ck, "arena %u: nfreepools %u, expected %zu", i, ao->nfreepools, expect_free);
        *n_usable += ao->nfreepools > 0;
        *n_whole += ao->nfreepools == ao->ntotalpools;
    }
    if (narenas != h->narenas_current)
        violation(ck, "%zu arenas mapped but narenas_current is %llu", narenas,
                  (unsigned long long)h->narenas_current);
    if (h->narenas_highwater < h->narenas_current ||
        h->ntimes_arena_allocated < h->narenas_current)
        violation(ck, "arena counters: total %llu, highwater %llu, current %llu",
                  (unsigned long long)h->ntimes_arena_allocated,
                  (unsigned long long)h->narenas_highwater, (unsigned long long)h->narenas_current);
    size_t nunused = 0;
    for (const struct pm_arena *ao = h->unused_arena_objects; ao; ao = ao->nextarena) {
        if (ao < h->arenas || ao >= h->arenas + h->maxarenas || ao->address) {
            violation(ck, "unused arena list holds a bad entry %p", (const void *)ao);
            break;
        }
        if (++nunused > nunused_slots) {
            violation(ck, "unused arena list has a cycle");
            break;
        }
    }
    if (nunused != nunused_slots)
        violation(ck, "%zu unused arena slots but %zu on the unused list", nunused_slots, nunused);
}

static void check_usedpools(const pm_heap_t *h, struct checker *ck, const size_t *partial,
                            size_t carved_total)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        const pm_pool *head = &h->used[c].pool;
        size_t n = 0;
        const pm_pool *prev = head;
        for (const pm_pool *q = head->nextpool; q != head; prev = q, q = q->nextpool) {
            if (q->prevpool != prev) {
                violation(ck, "usedpools[%u]: broken prev link at %p", c, (const void *)q);
                break;
            }
            const struct pm_arena *ao = arena_containing(h, (uintptr_t)q);
            if (!ao || !radix_owns_g(h, (uintptr_t)q, h->geom) ||
                q->arenaindex != (uint32_t)(ao - h->arenas) ||
                ((uintptr_t)q & h->geom.pool_mask)) {
                violation(ck, "usedpools[%u]: %p is not a carved pool", c, (const void *)q);
                break;
            }
            if (q->szidx != c || q->ref.count == 0 || !q->freeblock) {
                violation(ck, "usedpools[%u]: pool %p has class %u, %u in use, freeblock %p", c,
                          (const void *)q, q->szidx, q->ref.count, (void *)q->freeblock);
                break;
            }
            if (++n > carved_total) {
                violation(ck, "usedpools[%u] has a cycle", c);
                break;
            }
        }
        if (n != partial[c])
            violation(ck, "usedpools[%u] links %zu pools but %zu are partly used", c, n, partial[c]);
    }
}

static void check_usable_arenas(const pm_heap_t *h, struct checker *ck, size_t n_usable,
                                size_t n_whole)
{
    size_t n = 0, groups = 0, whole = 0;
    const struct pm_arena *prev = NULL;
    for (const struct pm_arena *ao = h->usable_arenas; ao; prev = ao, ao = ao->nextarena) {
        if (ao < h->arenas || ao >= h->arenas + h->maxarenas || !ao->address) {
            violation(ck, "usable_arenas holds a bad entry %p", (const void *)ao);
            return;
        }
        if (ao->prevarena != prev) {
            violation(ck, "usable_arenas: broken prev link at arena %td", ao - h->arenas);
            return;
        }
        if (ao->nfreepools == 0)
            violation(ck, "usable_arenas: arena %td has no free pool", ao - h->arenas);
        if (prev && prev->nfreepools > ao->nfreepools)
            violation(ck, "usable_arenas not sorted: %u free pools before %u", prev->nfreepools,
                      ao->nfreepools);
        whole += ao->nfreepools == ao->ntotalpools;
        if (!ao->nextarena || ao->nextarena->nfreepools != ao->nfreepools) {
            groups++;
            if (ao->nfreepools <= h->pools_per_arena && h->nfp2lasta[ao->nfreepools] != ao)
                violation(ck, "nfp2lasta[%u] is not the rightmost arena with %u free pools",
                          ao->nfreepools, ao->nfreepools);
        }
        if (++n > h->maxarenas) {
            violation(ck, "usable_arenas has a cycle");
            return;
        }
    }
    if (n != n_usable)
        violation(ck, "usable_arenas links %zu arenas but %zu have free pools", n, n_usable);
    size_t set = 0;
    for (uint32_t k = 0; k <= h->pools_per_arena; k++)
        set += h->nfp2lasta[k] != NULL;
    if (h->nfp2lasta[0])
        violation(ck, "nfp2lasta[0] is set");
    if (set != groups)
        violation(ck, "nfp2lasta has %zu entries for %zu groups of equal free pools", set, groups);
    if (whole != n_whole || whole != h->nwhole_free)
        violation(ck, "wholly free arenas: %zu listed, %zu mapped, counter %u", whole, n_whole,
                  h->nwhole_free);
    if (n_whole > 1)
        violation(ck, "%zu wholly free arenas kept (at most 1)", n_whole);
}

static void check_large(const pm_heap_t *h, struct checker *ck, uint64_t *mapped)
{
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < h->large_cap; i++) {
        const void *p = h->large_set[i];
        if (!p)
            continue;
        n++;
        if (h->large == LARGE_SYSTEM) {    /* the C library's block: no header of ours */
            if (large_find(h, p) != i)
                violation(ck, "large block %p: not reachable by its hash", p);
            if (radix_leaf(h, (uintptr_t)p) && leaf_has_pool(radix_leaf(h, (uintptr_t)p),
                                                             (uintptr_t)p, h->geom))
                violation(ck, "large block %p lies in a carved pool", p);
            bytes += malloc_usable_size((void *)p);
            continue;
        }
        const struct pm_large_hdr *hd = large_hdr(p);
        if (hd->magic != (LARGE_MAGIC ^ (uint64_t)(uintptr_t)hd) || hd->map_size <= LARGE_HDR) {
            violation(ck, "large block %p: header damaged", p);
            continue;
        }
        if (large_find(h, p) != i)
            violation(ck, "large block %p: not reachable by its hash", p);
        bytes += (size_t)hd->map_size - LARGE_HDR;
        *mapped += hd->map_size;
    }
    if (n != h->large_count || bytes != h->large_bytes)
        violation(ck, "large blocks: %zu (%zu bytes) in the set, counters say %zu (%zu bytes)", n,
                  bytes, h->large_count, h->large_bytes);
    if (h->large_cap && h->large_count * 2 > h->large_cap)
        violation(ck, "large set over half full (%zu of %zu)", h->large_count, h->large_cap);
    if (h->ncached > LARGE_CACHE_SLOTS)
        violation(ck, "large cache holds %u entries (max %d)", h->ncached, LARGE_CACHE_SLOTS);
    for (unsigned i = 0; i < h->ncached && i < LARGE_CACHE_SLOTS; i++)
        *mapped += pm_round_up(h->cache[i].size, pm_os_page_size());
}

static unsigned long pymalloc_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    struct checker ck = {0, msg};
    msg[0] = 0;
    size_t partial[NCLASSES] = {0};
    size_t n_usable = 0, n_whole = 0, carved_total = 0;
    check_arenas(h, &ck, partial, &n_usable, &n_whole, &carved_total);
    check_usedpools(h, &ck, partial, carved_total);
    check_usable_arenas(h, &ck, n_usable, n_whole);

    if (h->bot_hint &&
        radix_leaf(h, h->bot_hint_first << h->geom.chunk_shift) != h->bot_hint)
        violation(&ck, "bottom-node hint does not match the radix tree");

    /* radix nodes */
    size_t mids = 0, bots = 0, slot_bits = 0;
    if (h->mid_count)
        for (size_t r = 0; r < ((size_t)1 << h->root_bits); r++) {
            void **mid = h->root[r];
            if (!mid)
                continue;
            mids++;
            for (size_t m = 0; m <= h->geom.mid_mask; m++) {
                const struct pm_leaf *bot = mid[m];
                if (!bot)
                    continue;
                bots++;
                for (size_t k = 0; k <= h->geom.bot_mask; k++)
                    slot_bits += (size_t)__builtin_popcountll(bot[k].pools);
            }
        }
    if (mids != h->mid_count || bots != h->bot_count)
        violation(&ck, "radix tree has %zu mid and %zu bottom nodes, counters say %llu and %llu",
                  mids, bots, (unsigned long long)h->mid_count, (unsigned long long)h->bot_count);
    if (slot_bits != carved_total)
        violation(&ck, "radix tree marks %zu pools but %zu are carved", slot_bits, carved_total);

    /* every byte the OS layer counts is accounted for */
    size_t page = pm_os_page_size();
    uint64_t mapped = pm_round_up(h->heap_map_size, page)
                    + h->narenas_current * h->arena_size
                    + pm_round_up(h->table_map_size, page)   /* pools under a page: */
                    + pm_round_up(h->bitmap_map_size, page)  /* the OS layer maps pages */
                    + mids * pm_round_up(sizeof(void *) << h->mid_bits, page)
                    + bots * pm_round_up(sizeof(struct pm_leaf) << h->bot_bits, page)
                    + (h->large_cap ? pm_round_up(h->large_cap * sizeof(void *), page) : 0);
    check_large(h, &ck, &mapped);
    if (h->inner) {
        /* the shared account also holds the inner instance's mappings */
        char imsg[PM_ERR_LEN];
        unsigned long ibad = h->inner_ops->check(h->inner, imsg);
        if (ibad)
            violation(&ck, "large path: %.200s", imsg);
        ck.bad += ibad ? ibad - 1 : 0;
        if (mapped > h->os.mapped)
            violation(&ck, "OS layer counts %llu bytes mapped, the arenas alone account for %llu",
                      (unsigned long long)h->os.mapped, (unsigned long long)mapped);
    } else if (mapped != h->os.mapped) {
        violation(&ck, "OS layer counts %llu bytes mapped, the heap accounts for %llu",
                  (unsigned long long)h->os.mapped, (unsigned long long)mapped);
    }
    return ck.bad;
}

const struct allocator_ops pm_pymalloc_ops = {
    .name = "pymalloc",
    .description = "CPython's obmalloc design rebuilt: arenas, pools, 32 classes, radix-tree ownership; "
                   "0 and > 512 B to the C library's malloc (large=system)",
    .flags = 0,
    .create = pymalloc_create,
    .destroy = pymalloc_destroy,
    .malloc = pymalloc_malloc,
    .calloc = pymalloc_calloc,
    .realloc = pymalloc_realloc,
    .free = pymalloc_free,
    .usable_size = pymalloc_usable_size,
    .stats = pymalloc_stats,
    .check = pymalloc_check,
    .trim = pymalloc_trim,
    .os = pymalloc_os,
};
