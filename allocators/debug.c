/* allocators/debug.c — `debug:NAME`, CPython's PYTHONMALLOC=debug hooks
 * rebuilt as a wrapper over any backend (debug:system, debug:pymalloc, ...).
 *
 * Entry point: pm_debug_ops (flags PM_BACKEND_WRAPPER). The registry parses
 * "debug:INNER[,opts]" and passes "INNER[,opts]" as cfg->options to create(),
 * which creates the inner heap with the caller's misuse handler and OS fault
 * settings (faults apply to the inner backend, where the blocks live).
 *
 * LAYOUT of each block, as CPython's (S = sizeof(size_t) = 8 here):
 *
 *   base                                     p = base + 2S        p + n
 *   | size, S bytes big-endian | id | S-1 x 0xFD | n bytes of data | S x 0xFD |
 *
 *   inner request = n + 3S (24 bytes of overhead per block); p is 16-aligned
 *   whenever the inner block is (2S == PM_ALIGNMENT). id is the API: 'r' raw,
 *   'm' mem, 'o' object. New data is 0xCD (calloc: 0), and a freed block is
 *   filled with 0xDD over its whole extent, header and trailing pad included,
 *   before it goes back to the inner backend. usable_size(p) == n, as CPython
 *   gives no more. The plain malloc/calloc/realloc/free ops are API 'm'
 *   (PyMem_Malloc); malloc_dom/free_dom take the caller's domain.
 *
 * CHECKS on free and realloc, in this order (CPython checks the id first; a
 * damaged pad next to a damaged id is an underrun, so the pad goes first):
 *   leading pad   -> PM_MISUSE_UNDERRUN   "bad leading pad byte"
 *   API id        -> PM_MISUSE_WRONG_API  "bad ID: Allocated using API 'm',
 *                    verified using API 'r'" (an id that is no API at all is
 *                    header damage: PM_MISUSE_UNDERRUN, same first line)
 *   size field    -> PM_MISUSE_UNDERRUN   "bad size field": above 1 TiB, or
 *                    (in check() and when classifying a fault found on free)
 *                    not fitting the inner block, usable_size(base) < n + 3S
 *   trailing pad  -> PM_MISUSE_OVERRUN    "bad trailing pad byte"
 * The detail handed to cfg->on_misuse is a multi-line report in the style of
 * CPython's _PyObject_DebugDumpAddress, built without allocating into
 * h->report: its first line is the short message above, then the block's
 * address, API, requested size, the pads byte by byte when damaged ("at
 * tail+0: 0x78 *** OUCH") and the first and last data bytes. If the handler
 * returns, the call is ignored (the block stays live and allocated).
 *
 * LIVE SET. Besides the in-band layout, which is CPython's and fixed, the
 * wrapper keeps an out-of-band hash set of the user pointers of its live
 * blocks (open addressing, linear probing, backward-shift deletion, load
 * <= 1/2), in memory from the OS layer. It is the authority on "is p a live
 * block": free/realloc of a pointer not in it is never passed to the inner
 * heap (CPython passes it on), and check() walks it to verify the pads and id
 * of every live block. Cost: 8 bytes a slot, 16..32 bytes per live block
 * (2..4 slots per block as the table doubles), one probe on every malloc and
 * free (a cache miss once the table outgrows the cache), and a rehash of the
 * whole table at each doubling.
 *
 * DOUBLE FREE. A pointer not in the live set, 16-aligned, is classified by
 * reading (without risk: see mem_peek) the 8 bytes at p - 8 (id + pad) and
 * the 8 at p (data, or the trailing pad when n < 8): a freed block was
 * filled with 0xDD, so if either group is still all 0xDD it is a double
 * free. The inner backend overwrites the start of a freed block with its own
 * free-list links (glibc's tcache: 16 bytes at base, i.e. our size, id and
 * pad; pymalloc: 8 bytes at base), which is why two groups are examined.
 * Once the inner backend REUSES the memory for another block, a second free
 * of the old pointer is seen as something else: a foreign pointer, or, when
 * the new block starts at the same address and is live, as a valid free of
 * that new block (no scheme can tell that apart; CPython neither). Memory
 * the inner backend gave back to the OS reads as "not readable": reported as
 * a foreign pointer, saying it may be a double free. The report of a double
 * free whose header is readable is CPython 3.11's dump of that header, line
 * for line (API byte, the size field read big-endian, the leading pad),
 * which is what CPython prints for the same misuse before it reads the tail
 * at p + that (bogus) count and segfaults (tests/test_debug_cpython.c
 * quotes it); the wrapper stops there and shows the first data bytes.
 *
 * STATS are the inner's, with the 3S bytes per live block moved from
 * used_bytes to meta_bytes and the live set and this struct added to
 * meta_bytes and mapped_bytes (where the inner knows those fields);
 * live_blocks, nmalloc and nfree are the wrapper's own exact counts.
 * peak_mapped_bytes is the inner's peak plus ours, an upper bound.
 *
 * FLAGS. The ops table is const and shared by every debug:NAME, so it cannot
 * inherit PM_BACKEND_GLOBAL from the inner backend. Instead an instance over
 * a global inner behaves per-instance where it can: its counts are exact and
 * destroy() frees the blocks it still has live through the inner backend.
 * With a per-instance inner, destroy() leaves that to the inner's destroy().
 */
#include "debug_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- the live set ---- */

/* An empty live set: DBG_SET_MIN entries, Fibonacci-hashed whole addresses. */
static bool set_init(struct pm_os *os, struct pm_addrset *s)
{
    return pm_addrset_init(s, os, DBG_SET_MIN, 1, 0, true);
}

static bool set_reserve(pm_heap_t *h) { return pm_addrset_reserve(&h->live, &h->os); }

/* ---- reading memory that may not be ours ---- */

/* Direct copy of readable memory that ASan may consider freed; used only
 * after mincore() said the pages are mapped. */
__attribute__((no_sanitize_address)) static void mem_copy_unchecked(unsigned char *out,
                                                                    const unsigned char *src,
                                                                    size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ((const volatile unsigned char *)src)[i];
}

/* Copies n bytes at addr into out if they are readable. A pointer that is
 * not live may point into memory the inner backend freed or unmapped, so it
 * is read through the kernel (process_vm_readv on ourselves): an unmapped
 * address gives EFAULT instead of SIGSEGV, and ASan does not see a read of
 * freed memory. Where that call is refused (seccomp), mincore() decides
 * whether the pages are mapped; a mapped PROT_NONE page would still fault
 * there. Misuse path only: two syscalls at most. Preserves errno. */
static bool mem_peek(const void *addr, unsigned char *out, size_t n)
{
    int saved = errno;
    struct iovec local = {out, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    bool ok = got == (ssize_t)n;
    if (got < 0 && errno != EFAULT && errno != ENOMEM) {
        size_t page = pm_os_page_size();
        uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)(page - 1);
        uintptr_t hi = pm_round_up((uintptr_t)addr + n, page);
        unsigned char vec[4];
        ok = hi - lo <= sizeof vec * page && mincore((void *)lo, hi - lo, vec) == 0;
        if (ok)
            mem_copy_unchecked(out, addr, n);
    }
    errno = saved;
    return ok;
}

/* ---- reports (no allocation: formatted into h->report) ---- */

struct dbg_buf {
    char *s;                    /* h->report */
    size_t len;                 /* bytes written, < DBG_REPORT_LEN */
};

__attribute__((format(printf, 2, 3))) static void buf_put(struct dbg_buf *b, const char *fmt, ...)
{
    if (b->len + 1 >= DBG_REPORT_LEN)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s + b->len, DBG_REPORT_LEN - b->len, fmt, ap);
    va_end(ap);
    size_t room = DBG_REPORT_LEN - b->len;  /* vsnprintf writes at most room - 1 chars */
    if (w > 0)
        b->len += (size_t)w < room ? (size_t)w : room - 1;
}


static void dump_hex(struct dbg_buf *b, const unsigned char *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_put(b, " %02x", q[i]);
}

/* The part of CPython's _PyObject_DebugDumpAddress we can give: block,
 * API, requested size, both pads byte by byte when damaged, data at both
 * ends. p is a live block, so its inner block is readable; the tail is
 * examined only if the size field fits the inner block. */
static void dump_live(const pm_heap_t *h, struct dbg_buf *b, const unsigned char *p)
{
    char idt[8];
    size_t n = size_read(p - DBG_HEAD);
    size_t room = h->in_ops->usable_size(h->in, (void *)(p - DBG_HEAD));
    buf_put(b, "\nDebug memory block at address p=%p: API %s", (const void *)p,
            api_text(p[-(ptrdiff_t)DBG_S], idt));
    buf_put(b, "\n    %zu bytes originally requested", n);

    bool lead_ok = true;
    for (size_t i = 1; i < DBG_S; i++)
        lead_ok &= p[-(ptrdiff_t)i] == DBG_FORBIDDEN;
    buf_put(b, "\n    The %zu pad bytes at p-%zu are ", DBG_S - 1, DBG_S - 1);
    if (lead_ok) {
        buf_put(b, "FORBIDDENBYTE, as expected.");
    } else {
        buf_put(b, "not all FORBIDDENBYTE (0x%02x):", DBG_FORBIDDEN);
        for (size_t i = DBG_S - 1; i >= 1; i--) {
            unsigned char c = p[-(ptrdiff_t)i];
            buf_put(b, "\n        at p-%zu: 0x%02x%s", i, c, c != DBG_FORBIDDEN ? " *** OUCH" : "");
        }
        /* CPython 3.11's words (tests/test_debug_cpython.c); here the tail
         * is read only if the size fits the inner block (below) */
        buf_put(b, "\n    Because memory is corrupted at the start, the count of bytes requested"
                   "\n       may be bogus, and checking the trailing pad bytes may segfault.");
    }

    if (n > DBG_MAX_REQUEST || n + DBG_EXTRA > room) {
        buf_put(b, "\n    The count of bytes requested does not fit the inner block (%zu bytes):"
                   "\n       the size field is damaged; trailing pad and data not examined.", room);
        return;
    }
    const unsigned char *tail = p + n;
    bool tail_ok = true;
    for (size_t i = 0; i < DBG_S; i++)
        tail_ok &= tail[i] == DBG_FORBIDDEN;
    buf_put(b, "\n    The %zu pad bytes at tail=%p are ", DBG_S, (const void *)tail);
    if (tail_ok) {
        buf_put(b, "FORBIDDENBYTE, as expected.");
    } else {
        buf_put(b, "not all FORBIDDENBYTE (0x%02x):", DBG_FORBIDDEN);
        for (size_t i = 0; i < DBG_S; i++)
            buf_put(b, "\n        at tail+%zu: 0x%02x%s", i, tail[i],
                    tail[i] != DBG_FORBIDDEN ? " *** OUCH" : "");
    }
    if (n > 0) {
        buf_put(b, "\n    Data at p:");
        size_t head = n < DBG_DATA_SHOWN ? n : DBG_DATA_SHOWN;
        dump_hex(b, p, head);
        if (n > head) {
            size_t from = n - head > DBG_DATA_SHOWN ? n - DBG_DATA_SHOWN : head;
            if (from > head)
                buf_put(b, " ...");
            dump_hex(b, p + from, n - from);
        }
    }
}

/* Reports misuse of a live block found by block_verify (f != DBG_OK). */
static void report_live(pm_heap_t *h, const unsigned char *p, enum dbg_fault f, char api)
{
    struct dbg_buf b = {h->report, 0};
    enum pm_misuse_kind kind = PM_MISUSE_UNDERRUN;
    unsigned char id = p[-(ptrdiff_t)DBG_S];
    char idt[8];
    switch (f) {
    case DBG_BAD_LEAD:
        buf_put(&b, "bad leading pad byte");
        break;
    case DBG_BAD_ID:
        if (api_is_valid(id))
            kind = PM_MISUSE_WRONG_API;
        buf_put(&b, "bad ID: Allocated using API %s, verified using API '%c'",
                api_text(id, idt), api);
        break;
    case DBG_BAD_SIZE:
        buf_put(&b, "bad size field");
        break;
    case DBG_BAD_TAIL:
    case DBG_OK:
        kind = PM_MISUSE_OVERRUN;
        buf_put(&b, "bad trailing pad byte");
        break;
    }
    dump_live(h, &b, p);
    pm_misuse_report(&h->cfg, &h->misuse, h->name, kind, p, h->report);
}

static bool all_bytes(const unsigned char *q, size_t n, unsigned char c)
{
    for (size_t i = 0; i < n; i++)
        if (q[i] != c)
            return false;
    return true;
}

/* Reports free/realloc of a pointer that is not in the live set: a double
 * free if its bytes still read as freed, else a foreign or misaligned
 * pointer. Never dereferences p directly (see mem_peek). */
static void report_not_live(pm_heap_t *h, const unsigned char *p)
{
    struct dbg_buf b = {h->report, 0};
    if ((uintptr_t)p % PM_ALIGNMENT) {
        buf_put(&b, "not a live block of this heap (its blocks are %d-byte aligned)", PM_ALIGNMENT);
        pm_misuse_report(&h->cfg, &h->misuse, h->name, PM_MISUSE_MISALIGNED_POINTER, p, h->report);
        return;
    }
    unsigned char head[DBG_HEAD], data[DBG_S];
    bool head_ok = mem_peek(p - DBG_HEAD, head, sizeof head);
    bool data_ok = mem_peek(p, data, sizeof data);
    bool dead = (head_ok && all_bytes(head + DBG_S, DBG_S, DBG_DEAD)) ||
                (data_ok && all_bytes(data, DBG_S, DBG_DEAD));
    enum pm_misuse_kind kind = dead ? PM_MISUSE_DOUBLE_FREE : PM_MISUSE_FOREIGN_POINTER;
    if (dead && head_ok) {
        /* CPython's dump of the freed block, line for line as
         * _PyObject_DebugDumpAddress prints it from the same bytes (the
         * header as the inner backend's free left it: DEADBYTE, and the
         * inner's free-list link over the first bytes), up to where CPython
         * goes on to read the trailing pad at p + that bogus count (and
         * segfaults, tests/test_debug_cpython.c): here the tail is not read. */
        char idt[8];
        buf_put(&b, "block already freed (not live; its bytes read as DEADBYTE 0x%02x)", DBG_DEAD);
        buf_put(&b, "\nDebug memory block at address p=%p: API %s", (const void *)p, api_text(head[DBG_S], idt));
        buf_put(&b, "\n    %zu bytes originally requested", size_read(head));
        bool lead_ok = all_bytes(head + DBG_S + 1, DBG_S - 1, DBG_FORBIDDEN);
        buf_put(&b, "\n    The %zu pad bytes at p-%zu are ", DBG_S - 1, DBG_S - 1);
        if (lead_ok) {
            buf_put(&b, "FORBIDDENBYTE, as expected.");
        } else {
            buf_put(&b, "not all FORBIDDENBYTE (0x%02x):", DBG_FORBIDDEN);
            for (size_t i = DBG_S - 1; i >= 1; i--) {
                unsigned char c = head[DBG_HEAD - i];
                buf_put(&b, "\n        at p-%zu: 0x%02x%s", i, c, c != DBG_FORBIDDEN ? " *** OUCH" : "");
            }
            buf_put(&b, "\n    Because memory is corrupted at the start, the count of bytes requested"
                        "\n       may be bogus, and checking the trailing pad bytes may segfault.");
        }
        buf_put(&b, "\n    The block is not live (freed): its trailing pad is not read.");
        buf_put(&b, "\n    Data at p:");
        if (data_ok)
            dump_hex(&b, data, sizeof data);
        else
            buf_put(&b, " not readable");
        pm_misuse_report(&h->cfg, &h->misuse, h->name, kind, p, h->report);
        return;
    }
    if (dead)
        buf_put(&b, "block already freed (not live; its bytes read as DEADBYTE 0x%02x)", DBG_DEAD);
    else if (!head_ok && !data_ok)
        buf_put(&b, "not a live block of this heap (unreadable: a wild pointer, or a block"
                    " freed and unmapped)");
    else
        buf_put(&b, "not a live block of this heap");
    buf_put(&b, "\nDebug memory block at address p=%p: not live", (const void *)p);
    buf_put(&b, "\n    The %zu header bytes at p-%zu:", DBG_HEAD, DBG_HEAD);
    if (head_ok)
        dump_hex(&b, head, sizeof head);
    else
        buf_put(&b, " not readable");
    buf_put(&b, "\n    Data at p:");
    if (data_ok)
        dump_hex(&b, data, sizeof data);
    else
        buf_put(&b, " not readable");
    pm_misuse_report(&h->cfg, &h->misuse, h->name, kind, p, h->report);
}

/* ---- allocation ---- */

/* A decorated block of n bytes, data left as the inner gave it unless fill;
 * not counted in nmalloc (callers do). */
static unsigned char *block_alloc(pm_heap_t *h, size_t n, char api, bool zero, bool fill)
{
    if (n > DBG_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    if (!set_reserve(h))
        return NULL;
    unsigned char *base = zero ? h->in_ops->calloc(h->in, 1, n + DBG_EXTRA)
                               : h->in_ops->malloc(h->in, n + DBG_EXTRA);
    if (!base)
        return NULL;
    pm_assert(((uintptr_t)base & (PM_ALIGNMENT - 1)) == 0);
    unsigned char *p = block_decorate(base, n, api);
    if (fill)
        memset(p, DBG_CLEAN, n);
    if (!pm_addrset_insert(&h->live, (uintptr_t)p))
        h->inner_dups++;
    return p;
}

/* Frees a verified live block (e its live set entry): 0xDD over all of it,
 * then inner. */
static void block_release(pm_heap_t *h, unsigned char *p, uintptr_t *e)
{
    size_t n = size_read(p - DBG_HEAD);
    pm_addrset_remove_entry(&h->live, e);
    memset(p - DBG_HEAD, DBG_DEAD, n + DBG_EXTRA);
    h->in_ops->free(h->in, p - DBG_HEAD);
}

/* Finds and verifies p for free/realloc with API api. Returns its live set
 * entry, or NULL after reporting the misuse. */
static uintptr_t *block_claim(pm_heap_t *h, unsigned char *p, char api)
{
    uintptr_t *e = pm_addrset_find(&h->live, (uintptr_t)p);
    if (!e) {
        report_not_live(h, p);
        return NULL;
    }
    enum dbg_fault f = block_verify(h, p, api, false);
    if (f != DBG_OK) {
        /* again with the size bound: a bad tail may be a bad size field */
        report_live(h, p, block_verify(h, p, api, true), api);
        return NULL;
    }
    return e;
}

static void *debug_malloc_dom(pm_heap_t *h, size_t n, enum pm_domain d)
{
    void *p = block_alloc(h, n, api_of_domain(d), false, true);
    if (p)
        h->nmalloc++;
    return p;
}

static void *debug_malloc(pm_heap_t *h, size_t n) { return debug_malloc_dom(h, n, PM_DOMAIN_MEM); }

static void *debug_calloc(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    void *p = block_alloc(h, total, 'm', true, false);
    if (p)
        h->nmalloc++;
    return p;
}

static void debug_free_dom(pm_heap_t *h, void *vp, enum pm_domain d)
{
    if (!vp)
        return;
    unsigned char *p = vp;
    uintptr_t *e = block_claim(h, p, api_of_domain(d));
    if (!e)
        return;
    block_release(h, p, e);
    h->nfree++;
}

static void debug_free(pm_heap_t *h, void *p) { debug_free_dom(h, p, PM_DOMAIN_MEM); }

/* As CPython's older debug realloc: check the old block, take a new one,
 * copy, 0xCD over the growth, 0xDD over the old block and free it. On any
 * failure the old block stays live and untouched. Counts in neither nmalloc
 * nor nfree unless p is NULL. */
static void *debug_realloc(pm_heap_t *h, void *vp, size_t n)
{
    if (!vp)
        return debug_malloc(h, n);
    unsigned char *p = vp;
    if (!block_claim(h, p, 'm'))
        return NULL;
    size_t old = size_read(p - DBG_HEAD);
    unsigned char *q = block_alloc(h, n, 'm', false, false);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    if (n > old)
        memset(q + old, DBG_CLEAN, n - old);
    /* block_alloc may have rebuilt the set: find p's entry again */
    uintptr_t *e = pm_addrset_find(&h->live, (uintptr_t)p);
    pm_assert_internal(e != NULL);
    block_release(h, p, e);
    return q;
}

static size_t debug_usable(pm_heap_t *h, void *p)
{
    pm_assert_internal(pm_addrset_has(&h->live, (uintptr_t)p));
    (void)h;
    return size_read((const unsigned char *)p - DBG_HEAD);
}

/* ---- create, destroy, stats, check, trim ---- */

static pm_heap_t *debug_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    const char *spec = cfg->options;
    if (!spec || !*spec) {
        snprintf(err, PM_ERR_LEN, "debug: no inner backend (write debug:NAME, e.g. debug:system)");
        return NULL;
    }
    struct pm_config in_cfg = {
        .on_misuse = cfg->on_misuse,
        .misuse_ctx = cfg->misuse_ctx,
        .faults = cfg->faults,
    };
    const struct allocator_ops *in_ops;
    pm_heap_t *in = pm_backend_create(spec, &in_cfg, &in_ops, err);
    if (!in)
        return NULL;            /* err names the inner backend's problem */
    /* The wrapper's own mappings (this struct, the live set) get no injected
     * faults: map call numbers of a fault plan refer to the inner backend. */
    struct pm_os os;
    pm_os_init(&os, NULL);
    pm_heap_t *h = pm_os_map(&os, sizeof *h);
    if (!h || !set_init(&os, &h->live)) {
        pm_os_unmap(&os, h, sizeof *h);
        in_ops->destroy(in);
        snprintf(err, PM_ERR_LEN, "debug: out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    h->cfg.options = NULL;
    h->in_ops = in_ops;
    h->in = in;
    snprintf(h->name, sizeof h->name, "debug:%s", in_ops->name);
    h->os = os;
    return h;
}

static void debug_destroy(pm_heap_t *h)
{
    if (h->in_ops->flags & PM_BACKEND_GLOBAL)
        for (size_t i = 0; i < pm_addrset_cap(&h->live); i++)
            if (h->live.slot[i])
                h->in_ops->free(h->in, (unsigned char *)h->live.slot[i] - DBG_HEAD);
    h->in_ops->destroy(h->in);
    struct pm_os os = h->os;
    pm_addrset_fini(&h->live, &os);
    pm_os_unmap(&os, h, sizeof *h);
}

/* The inner's trim, and the live set shrinks to the smallest table that
 * keeps its load at or below 1/4 (so that it does not regrow at once). */
static void debug_trim(pm_heap_t *h)
{
    if (h->in_ops->trim)
        h->in_ops->trim(h->in);
    size_t cap = DBG_SET_MIN;
    while (cap < 4 * h->live.count)
        cap *= 2;
    if (cap < pm_addrset_cap(&h->live))
        pm_addrset_resize(&h->live, &h->os, cap);   /* on failure the larger table stays */
}

/* Fault plans set through this account act on the inner backend, where the
 * blocks' memory comes from; NULL when the inner has no OS account. */
static struct pm_os *debug_os(pm_heap_t *h)
{
    return h->in_ops->os ? h->in_ops->os(h->in) : NULL;
}

const struct allocator_ops pm_debug_ops = {
    .name = "debug",
    .description = "CPython's PYTHONMALLOC=debug hooks over NAME: pads, fills, API ids",
    .flags = PM_BACKEND_WRAPPER,
    .create = debug_create,
    .destroy = debug_destroy,
    .malloc = debug_malloc,
    .calloc = debug_calloc,
    .realloc = debug_realloc,
    .free = debug_free,
    .usable_size = debug_usable,
    .stats = debug_stats,
    .check = debug_check,
    .trim = debug_trim,
    .os = debug_os,
    .malloc_dom = debug_malloc_dom,
    .free_dom = debug_free_dom,
};
