/* fuzz/fuzz_model.c — a backend instance under a shadow model (see
 * fuzz_model.h for what is checked and when). */
#include "fuzz_model.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SPEC(m) ((m)->b->spec)
#define OPS(m) ((m)->b->ops)

/* ---- interval set ---- */

/* First interval with lo >= a. */
static unsigned iv_lower(const struct fz_heap *m, uintptr_t a)
{
    unsigned lo = 0, hi = m->niv;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (m->iv[mid].lo < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void iv_overlap(const struct fz_heap *m, uintptr_t lo, uintptr_t hi, unsigned slot,
                       const struct fz_iv *o)
{
    fz_fail("%s: block [%p, %p) of slot %u overlaps live block [%p, %p) of slot %u (op %llu)",
            SPEC(m), (void *)lo, (void *)hi, slot, (void *)o->lo, (void *)o->hi, o->slot,
            (unsigned long long)m->nops);
}

static void iv_insert(struct fz_heap *m, uintptr_t lo, uintptr_t hi, unsigned slot)
{
    unsigned i = iv_lower(m, lo);
    if (i < m->niv && m->iv[i].lo < hi)
        iv_overlap(m, lo, hi, slot, &m->iv[i]);
    if (i > 0 && m->iv[i - 1].hi > lo)
        iv_overlap(m, lo, hi, slot, &m->iv[i - 1]);
    memmove(&m->iv[i + 1], &m->iv[i], (m->niv - i) * sizeof *m->iv);
    m->iv[i] = (struct fz_iv){lo, hi, slot};
    m->niv++;
}

static void iv_remove(struct fz_heap *m, uintptr_t lo)
{
    unsigned i = iv_lower(m, lo);
    FZ_REQUIRE(i < m->niv && m->iv[i].lo == lo, "shadow: no interval at %p", (void *)lo);
    memmove(&m->iv[i], &m->iv[i + 1], (m->niv - i - 1) * sizeof *m->iv);
    m->niv--;
}

static bool is_live_start(const struct fz_heap *m, const void *p)
{
    unsigned i = iv_lower(m, (uintptr_t)p);
    if (i < m->niv && m->iv[i].lo == (uintptr_t)p)
        return true;
    for (unsigned s = 0; s < FZ_SLOTS; s++)   /* aliasing backends keep no intervals */
        if (m->slot[s].p == p)
            return true;
    return false;
}

/* ---- blocks ---- */

static bool checks_contents(const struct fz_heap *m) { return !(m->b->props & FZ_ALIASES); }

static unsigned char fill_for(const struct fz_heap *m, unsigned slot)
{
    unsigned char f = (unsigned char)(slot * 37u + (unsigned)m->nops * 101u + 1u);
    return f ? f : 0xA5;
}

static void verify_range(const struct fz_heap *m, unsigned slot, size_t from, size_t len,
                         const char *when)
{
    const struct fz_blk *k = &m->slot[slot];
    size_t d = fz_diff_at(k->p + from, len, k->fill);
    if (d != len)
        fz_fail("%s: slot %u, %s: byte %zu of the block at %p (%zu requested, %zu usable) is "
                "%#x, not its fill %#x (op %llu)",
                SPEC(m), slot, when, from + d, (void *)k->p, k->n, k->usable, k->p[from + d],
                k->fill, (unsigned long long)m->nops);
}

/* The filled part of a block of `usable` bytes whose fill byte is `salt`,
 * range i = 0, 1, ...: false past the last (fuzz_model.h, "THE FILL").
 * Range 0 is the first min(usable, FZ_DENSE) bytes; then, for each stretch
 * [max(FZ_DENSE, k * FZ_STRIDE), min((k + 1) * FZ_STRIDE, tail)) that is not
 * empty (tail = usable - FZ_STRIPE), FZ_STRIPE bytes at a 16-byte aligned
 * offset in it chosen by a hash of (salt, k); last the final FZ_STRIPE
 * bytes. Ranges come in increasing order of start (they may overlap; the
 * fill is the same). */
bool fz_filled_range(size_t usable, unsigned salt, size_t i, size_t *from, size_t *len)
{
    if (usable <= FZ_DENSE || i == 0) {
        *from = 0;
        *len = usable < FZ_DENSE ? usable : FZ_DENSE;
        return i == 0;
    }
    size_t tail = usable - FZ_STRIPE;
    size_t stretches = tail > FZ_DENSE ? (tail - 1) / FZ_STRIDE + 1 : 0;
    if (i > stretches + 1)
        return false;
    if (i == stretches + 1) {
        *from = tail;
        *len = FZ_STRIPE;
        return true;
    }
    size_t k = i - 1;
    size_t lo = k * FZ_STRIDE > FZ_DENSE ? k * FZ_STRIDE : FZ_DENSE;
    size_t hi = (k + 1) * FZ_STRIDE < tail ? (k + 1) * FZ_STRIDE : tail;
    uint32_t h = (uint32_t)salt * 0x9E3779B1u ^ (uint32_t)k * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 13;
    *from = (lo + h % (hi - lo)) & ~(size_t)15;   /* lo is a multiple of 16 */
    *len = FZ_STRIPE;
    return true;
}

/* Range i clipped to [0, limit); false past the last such. */
static bool filled_below(size_t usable, unsigned salt, size_t limit, size_t i, size_t *from,
                         size_t *len)
{
    if (!fz_filled_range(usable, salt, i, from, len) || *from >= limit)
        return false;
    if (*len > limit - *from)
        *len = limit - *from;
    return true;
}

static void verify_block(const struct fz_heap *m, unsigned slot, bool full, const char *when)
{
    const struct fz_blk *k = &m->slot[slot];
    if (!k->p || !checks_contents(m))
        return;
    if (full) {
        size_t from, len;
        for (size_t i = 0; filled_below(k->usable, k->fill, k->usable, i, &from, &len); i++)
            verify_range(m, slot, from, len, when);
    } else if (k->usable <= 2 * FZ_EDGE) {
        verify_range(m, slot, 0, k->usable, when);
    } else {
        verify_range(m, slot, 0, FZ_EDGE, when);
        verify_range(m, slot, k->usable - FZ_EDGE, FZ_EDGE, when);
    }
}

void fz_heap_verify(struct fz_heap *m, bool full)
{
    if (!checks_contents(m))
        return;
    for (unsigned s = 0; s < FZ_SLOTS; s++)   /* called for live slots only: after every op */
        if (m->slot[s].p)
            verify_block(m, s, full, full ? "full check" : "edge check");
}

/* Takes p (just returned for n bytes) into slot: checks, fills. */
static void adopt(struct fz_heap *m, unsigned slot, unsigned char *p, size_t n, bool zeroed,
                  const char *what)
{
    FZ_REQUIRE(((uintptr_t)p & (PM_ALIGNMENT - 1)) == 0, "%s: %s(%zu) = %p: not %d-byte aligned",
               SPEC(m), what, n, (void *)p, PM_ALIGNMENT);
    size_t usable = n;
    if (OPS(m)->usable_size) {
        usable = OPS(m)->usable_size(m->h, p);
        FZ_REQUIRE(usable >= n, "%s: %s(%zu) = %p: usable_size %zu < %zu", SPEC(m), what, n,
                   (void *)p, usable, n);
    }
    struct fz_blk *k = &m->slot[slot];
    *k = (struct fz_blk){.p = p, .n = n, .usable = usable, .fill = fill_for(m, slot)};
    if (checks_contents(m)) {
        size_t from, len;
        /* calloc's zeroes, over the part that is filled next (THE FILL):
         * reading the rest of a large block would map the kernel's zero
         * page there, and the fill then a copy-on-write fault per page */
        for (size_t i = 0; zeroed && filled_below(usable, k->fill, n, i, &from, &len); i++) {
            size_t d = fz_diff_at(p + from, len, 0);
            FZ_REQUIRE(d == len, "%s: %s: byte %zu of %zu at %p is %#x, not zero", SPEC(m), what,
                       from + d, n, (void *)p, p[from + d]);
        }
        iv_insert(m, (uintptr_t)p, (uintptr_t)p + (usable ? usable : 1), slot);
        for (size_t i = 0; filled_below(usable, k->fill, usable, i, &from, &len); i++)
            memset(p + from, k->fill, len);
    }
    m->live++;
    m->req_bytes += n;
    m->usable_bytes += usable;
}

/* Forgets slot's block (after the backend freed or moved it). */
static void drop(struct fz_heap *m, unsigned slot, bool stale)
{
    struct fz_blk *k = &m->slot[slot];
    if (checks_contents(m))
        iv_remove(m, (uintptr_t)k->p);
    if (stale)
        m->stale[m->nstale++ % FZ_STALE] = k->p;
    m->live--;
    m->req_bytes -= k->n;
    m->usable_bytes -= k->usable;
    k->p = NULL;
}

/* ---- NULL results ---- */

struct call {                   /* what a call may be judged by */
    uint64_t failed_before;     /* os->failed_maps before the call */
};

static struct call call_begin(const struct fz_heap *m)
{
    struct pm_os *os = OPS(m)->os ? OPS(m)->os(m->h) : NULL;
    errno = 0;
    return (struct call){os ? os->failed_maps : 0};
}

/* A call returned NULL. must: the request can never be served. Otherwise
 * NULL is allowed only in fault mode, and only if this call saw a mapping
 * fail; either way with errno == ENOMEM. */
static void null_result(struct fz_heap *m, struct call c, bool must, const char *what, size_t n)
{
    int e = errno;
    if (!must) {
        struct pm_os *os = OPS(m)->os ? OPS(m)->os(m->h) : NULL;
        bool mapfail = os && os->failed_maps > c.failed_before;
        FZ_REQUIRE(m->faults_ok && mapfail, "%s: %s(%zu) = NULL (errno %d)%s (op %llu)", SPEC(m),
                   what, n, e,
                   m->faults_ok ? " although no mapping failed during the call" : "",
                   (unsigned long long)m->nops);
        m->nulls++;
    }
    FZ_REQUIRE(e == ENOMEM, "%s: %s(%zu) = NULL with errno %d, not ENOMEM", SPEC(m), what, n, e);
}

/* ---- operations ---- */

/* False if a request of n bytes would pass FZ_LARGE_BUDGET (then it is
 * skipped); else counts it. Impossible requests are always made. */
static bool large_ok(struct fz_heap *m, size_t n, bool must)
{
    if (must || n < FZ_LARGE)
        return true;
    if (m->large_bytes + n > FZ_LARGE_BUDGET)
        return false;
    m->large_bytes += n;
    return true;
}

void fz_heap_free(struct fz_heap *m, unsigned slot)
{
    struct fz_blk *k = &m->slot[slot];
    if (!k->p) {
        OPS(m)->free(m->h, NULL);
        return;
    }
    verify_block(m, slot, true, "before free");
    OPS(m)->free(m->h, k->p);
    drop(m, slot, true);
}

void fz_heap_malloc(struct fz_heap *m, unsigned slot, size_t n)
{
    bool must = n >= FZ_HUGE;
    if (m->slot[slot].p)
        fz_heap_free(m, slot);
    if (!must && m->usable_bytes + n > FZ_LIVE_BUDGET)
        return;
    if (!large_ok(m, n, must))
        return;
    struct call c = call_begin(m);
    unsigned char *p = OPS(m)->malloc(m->h, n);
    if (!p) {
        null_result(m, c, must, "malloc", n);
        return;
    }
    FZ_REQUIRE(!must, "%s: malloc(%zu) = %p: an impossible request succeeded", SPEC(m), n,
               (void *)p);
    adopt(m, slot, p, n, false, "malloc");
}

void fz_heap_calloc(struct fz_heap *m, unsigned slot, size_t count, size_t n)
{
    size_t total;
    bool must = __builtin_mul_overflow(count, n, &total) || total >= FZ_HUGE;
    if (m->slot[slot].p)
        fz_heap_free(m, slot);
    if (!must && m->usable_bytes + total > FZ_LIVE_BUDGET)
        return;
    if (!large_ok(m, total, must))
        return;
    struct call c = call_begin(m);
    unsigned char *p = OPS(m)->calloc(m->h, count, n);
    if (!p) {
        null_result(m, c, must, "calloc", n);
        return;
    }
    FZ_REQUIRE(!must, "%s: calloc(%zu, %zu) = %p: an impossible request succeeded", SPEC(m),
               count, n, (void *)p);
    adopt(m, slot, p, total, true, "calloc");
}

void fz_heap_realloc(struct fz_heap *m, unsigned slot, size_t n)
{
    struct fz_blk old = m->slot[slot];
    bool must = n >= FZ_HUGE;
    if (!must && m->usable_bytes - (old.p ? old.usable : 0) + n > FZ_LIVE_BUDGET)
        return;
    if (!large_ok(m, n, must))
        return;
    verify_block(m, slot, true, "before realloc");
    struct call c = call_begin(m);
    unsigned char *p = OPS(m)->realloc(m->h, old.p, n);
    if (!p) {
        null_result(m, c, must, "realloc", n);
        verify_block(m, slot, true, "after a failed realloc");   /* p stays valid */
        return;
    }
    FZ_REQUIRE(!must, "%s: realloc(%p, %zu) = %p: an impossible request succeeded", SPEC(m),
               (void *)old.p, n, (void *)p);
    if (old.p) {
        drop(m, slot, p != old.p);
        if (checks_contents(m)) {
            size_t keep = old.n < n ? old.n : n;
            size_t from, len;
            for (size_t i = 0; filled_below(old.usable, old.fill, keep, i, &from, &len); i++) {
                size_t d = fz_diff_at(p + from, len, old.fill);
                FZ_REQUIRE(d == len,
                           "%s: realloc(%p, %zu) = %p: byte %zu of the %zu kept is %#x, not %#x",
                           SPEC(m), (void *)old.p, n, (void *)p, from + d, keep, p[from + d],
                           old.fill);
            }
        }
    }
    adopt(m, slot, p, n, false, "realloc");
}

void fz_heap_trim(struct fz_heap *m)
{
    if (OPS(m)->trim)
        OPS(m)->trim(m->h);
    fz_heap_verify(m, true);   /* trim must not give back live memory */
}

void fz_heap_check(struct fz_heap *m)
{
    if (!OPS(m)->check)
        return;
    char msg[PM_ERR_LEN];
    unsigned long bad = OPS(m)->check(m->h, msg);
    FZ_REQUIRE(bad == 0, "%s: check() found %lu violation(s): %s (op %llu)", SPEC(m), bad, msg,
               (unsigned long long)m->nops);
}

void fz_heap_misuse(struct fz_heap *m, unsigned sel, unsigned slot)
{
    static _Alignas(64) unsigned char foreign[256];
    static const char *const what[] = {"stale", "interior", "misaligned", "foreign"};
    if (!(m->b->props & FZ_MISUSE_SAFE))
        return;
    const struct fz_blk *k = &m->slot[slot];
    unsigned char *bad = NULL;
    unsigned arg = sel >> 3;
    switch (sel & 3) {
    case 0:
        if (!m->nstale)
            return;
        bad = m->stale[arg % (m->nstale < FZ_STALE ? m->nstale : FZ_STALE)];
        break;
    case 1:
        if (!k->p || k->usable < 2 * PM_ALIGNMENT)
            return;
        bad = k->p + PM_ALIGNMENT * (1 + arg % (k->usable / PM_ALIGNMENT - 1));
        break;
    case 2:
        if (!k->p)
            return;
        bad = k->p + 1 + arg % (PM_ALIGNMENT - 1);
        break;
    default:
        bad = foreign + PM_ALIGNMENT * (arg % (sizeof foreign / PM_ALIGNMENT));
        break;
    }
    if (is_live_start(m, bad))
        return;   /* a stale pointer handed out again: a valid free */
    struct pm_stats before, after;
    OPS(m)->stats(m->h, &before);
    bool use_realloc = sel & 4;
    m->mis = (struct fz_misuse){.expected = 1};
    if (use_realloc) {
        void *r = OPS(m)->realloc(m->h, bad, 100);
        FZ_REQUIRE(r == NULL, "%s: realloc of a %s pointer %p returned %p", SPEC(m),
                   what[sel & 3], (void *)bad, r);
    } else {
        OPS(m)->free(m->h, bad);
    }
    m->mis.expected = 0;
    FZ_REQUIRE(m->mis.calls == 1, "%s: %s of a %s pointer %p: %u misuse reports, expected 1",
               SPEC(m), use_realloc ? "realloc" : "free", what[sel & 3], (void *)bad,
               m->mis.calls);
    OPS(m)->stats(m->h, &after);
    if (before.misuse != PM_STAT_NA)
        FZ_REQUIRE(after.misuse == before.misuse + 1, "%s: stats.misuse %llu -> %llu, expected +1",
                   SPEC(m), (unsigned long long)before.misuse,
                   (unsigned long long)after.misuse);
    fz_heap_verify(m, true);   /* the call was ignored */
    fz_heap_check(m);
}

/* ---- invariants ---- */

static void check_stats(struct fz_heap *m)
{
    struct pm_stats st;
    OPS(m)->stats(m->h, &st);
    if (m->b->props & FZ_GLOBAL)
        return;   /* process-wide figures */
    if (st.live_blocks != PM_STAT_NA)
        FZ_REQUIRE(st.live_blocks == m->live, "%s: stats.live_blocks %llu, shadow %u (op %llu)",
                   SPEC(m), (unsigned long long)st.live_blocks, m->live,
                   (unsigned long long)m->nops);
    if (st.used_bytes != PM_STAT_NA)
        FZ_REQUIRE(st.used_bytes >= m->req_bytes,
                   "%s: stats.used_bytes %llu < %llu bytes requested by live blocks (op %llu)",
                   SPEC(m), (unsigned long long)st.used_bytes, (unsigned long long)m->req_bytes,
                   (unsigned long long)m->nops);
    if (st.mapped_bytes != PM_STAT_NA && st.peak_mapped_bytes != PM_STAT_NA)
        FZ_REQUIRE(st.peak_mapped_bytes >= st.mapped_bytes,
                   "%s: stats.peak_mapped_bytes %llu < mapped_bytes %llu", SPEC(m),
                   (unsigned long long)st.peak_mapped_bytes,
                   (unsigned long long)st.mapped_bytes);
    if (st.mapped_bytes != PM_STAT_NA && checks_contents(m))
        FZ_REQUIRE(m->usable_bytes <= st.mapped_bytes,
                   "%s: %llu usable bytes live in %llu bytes mapped (op %llu)", SPEC(m),
                   (unsigned long long)m->usable_bytes, (unsigned long long)st.mapped_bytes,
                   (unsigned long long)m->nops);
}

void fz_heap_after_op(struct fz_heap *m)
{
    m->nops++;
    bool full = m->nops % FZ_CHECK_EVERY == 0;
    fz_heap_verify(m, full);
    check_stats(m);
    if (full)
        fz_heap_check(m);
}

/* ---- open, close ---- */

bool fz_heap_open(struct fz_heap *m, const struct fz_backend *b,
                  const struct pm_os_faults *create_faults)
{
    memset(m, 0, sizeof *m);
    m->b = b;
    /* glibc (under ASan and libFuzzer's malloc limit) aborts on the
     * impossible sizes instead of returning NULL: reference backends are
     * fuzz_diff's business; debug:system is fine (it refuses > 1 TiB) */
    if ((b->props & FZ_GLOBAL) && !(b->props & FZ_DEBUG))
        fz_fail("%s: a reference backend; fuzz it wrapped (debug:%s) or through fuzz_diff", b->spec,
                b->spec);
    m->mapped_before = pm_os_total_mapped();
    struct pm_config cfg = {.on_misuse = fz_misuse_record, .misuse_ctx = &m->mis};
    if (create_faults)
        cfg.faults = *create_faults;
    char err[PM_ERR_LEN] = "";
    const struct allocator_ops *ops = NULL;
    m->h = pm_backend_create(b->spec, &cfg, &ops, err);
    if (!m->h) {
        bool faults = create_faults && (create_faults->fail_nth || create_faults->fail_from);
        FZ_REQUIRE(faults, "%s: create failed: %s", b->spec, err);
        FZ_REQUIRE(err[0] && !strchr(err, '\n'), "%s: create failed without a one-line reason",
                   b->spec);
        FZ_REQUIRE(pm_os_total_mapped() == m->mapped_before,
                   "%s: a failed create left %lld bytes mapped", b->spec,
                   (long long)(pm_os_total_mapped() - m->mapped_before));
        return false;
    }
    FZ_REQUIRE(ops == b->ops, "%s: created as '%s'", b->spec, ops->name);
    return true;
}

void fz_heap_close(struct fz_heap *m)
{
    if (fz_verbose())
        fprintf(stderr, "%s: %s: %llu ops, %u live at the end, %llu NULLs from failed mappings\n",
                fz_target, SPEC(m), (unsigned long long)m->nops, m->live,
                (unsigned long long)m->nulls);
    fz_heap_verify(m, true);
    fz_heap_check(m);
    /* an odd number of ops: destroy with the blocks still live (destroy
     * frees them implicitly; the leak check below still applies) */
    bool keep = (m->nops & 1) && !(m->b->props & FZ_GLOBAL);
    for (unsigned s = 0; s < FZ_SLOTS && !keep; s++)
        fz_heap_free(m, s);
    fz_heap_check(m);
    struct pm_stats st;
    OPS(m)->stats(m->h, &st);
    if (!(m->b->props & FZ_GLOBAL) && !keep) {
        if (st.live_blocks != PM_STAT_NA)
            FZ_REQUIRE(st.live_blocks == 0, "%s: %llu live blocks after freeing all", SPEC(m),
                       (unsigned long long)st.live_blocks);
        if (st.used_bytes != PM_STAT_NA)
            FZ_REQUIRE(st.used_bytes == 0, "%s: used_bytes %llu after freeing all", SPEC(m),
                       (unsigned long long)st.used_bytes);
    }
    if (OPS(m)->trim)
        OPS(m)->trim(m->h);
    fz_heap_check(m);
    fz_heap_verify(m, true);
    OPS(m)->destroy(m->h);
    m->h = NULL;
    uint64_t now = pm_os_total_mapped();
    FZ_REQUIRE(now == m->mapped_before, "%s: destroy left %lld bytes mapped", SPEC(m),
               (long long)(now - m->mapped_before));
}

/* ---- the op encoding ---- */

bool fz_heap_op(struct fz_heap *m, unsigned op, struct fz_in *in)
{
    unsigned slot = fz_u8(in) % FZ_SLOTS;
    switch (op % 16) {   /* 0-3, 15: malloc (default) */
    case 4:
    case 5: {
        unsigned c = fz_u8(in);
        size_t count = c < 0xE0 ? c % 24 : (size_t)1 << (28 + (c & 31));
        fz_heap_calloc(m, slot, count, fz_size(in));
        break;
    }
    case 6:
    case 7:
    case 8:
        fz_heap_realloc(m, slot, fz_size(in));
        break;
    case 9:
    case 10:
    case 11:
    case 12:
        fz_heap_free(m, slot);
        break;
    case 13:
        if (slot & 1)
            fz_heap_check(m);
        else
            fz_heap_trim(m);
        break;
    case 14:
        fz_heap_misuse(m, fz_u8(in), slot);
        break;
    default:
        fz_heap_malloc(m, slot, fz_size(in));
        break;
    }
    fz_heap_after_op(m);
    return true;
}

bool fz_heap_step(struct fz_heap *m, struct fz_in *in)
{
    if (!fz_more(in))
        return false;
    return fz_heap_op(m, fz_u8(in), in);
}
