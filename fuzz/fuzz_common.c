/* fuzz/fuzz_common.c — shared parts of the fuzz targets (fuzz_common.h).
 *
 * The backend list is built from the registry at run time: a backend is
 * fuzzed by being registered. Two small tables say what the registry cannot:
 * option variants worth fuzzing besides the defaults (fz_variants), and which
 * backends promise to detect misuse (fz_misuse_safe). A backend's author adds
 * lines there; nothing else in fuzz/ names a backend.
 */
#include "fuzz_common.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fz_target = "fuzz";

void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: %s: ", fz_target);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

bool fz_verbose(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("PM_FUZZ_VERBOSE");
        v = e && *e && strcmp(e, "0") != 0;
    }
    return v;
}

/* ---- sizes ---- */

size_t fz_size(struct fz_in *in)
{
    static const size_t impossible[8] = {
        SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2, SIZE_MAX / 2 + 1,
        (size_t)1 << 62, (size_t)1 << 48, ((size_t)1 << 48) + 1, SIZE_MAX - 4096,
    };
    unsigned b = fz_u8(in);
    switch (b >> 5) {
    case 0:
    case 1:
    case 2:
        return (size_t)(b & 63) << 4 | (fz_u8(in) & 15);
    case 3:
        return fz_u16(in);
    case 4: {
        unsigned k = fz_u8(in) % 23;
        int d = (int)(fz_u8(in) % 65) - 32;
        long long n = (1LL << k) + d;
        return n < 0 ? 0 : (size_t)n;
    }
    case 5:
        return fz_u24(in) % ((size_t)3 << 20);
    case 6:
        return (size_t)fz_u8(in) << 4;
    default:
        return impossible[b & 7];
    }
}

/* ---- backends ---- */

/* Options worth fuzzing besides a backend's defaults: geometry that reaches
 * other paths (small regions: region churn, large blocks sooner). */
static const struct {
    const char *name;
    const char *options;
} fz_variants[] = {
    {"buddy", "max=64K,keep_empty=0"},
    {"buddy", "min=32,max=4K,keep_empty=2"},
};

/* The options an own backend is fuzzed with by default: pymalloc's
 * large=segfit keeps every block on its OS account (its default,
 * large=system, hands large blocks to the C library as CPython does: those
 * are outside the account that fuzz_oom faults and fuzz_frag/retention
 * measure, and it cannot see a foreign free). */
static const char *base_options(const char *name)
{
    return !strcmp(name, "pymalloc") ? ",large=segfit" : "";
}

/* Backends that report double, foreign, interior and misaligned frees and
 * ignore the call (allocator.h: "where the backend can detect it cheaply").
 * The debug wrapper always does (its live set). */
static const char *const fz_misuse_safe[] = {"buddy"};

static bool is_own(const struct allocator_ops *o)
{
    unsigned not_own = PM_BACKEND_GLOBAL | PM_BACKEND_REFERENCE | PM_BACKEND_WRAPPER |
                       PM_BACKEND_TEST_ONLY;
    return !(o->flags & not_own) && o->os && !(o->unavailable && o->unavailable());
}

static bool name_is(const char *spec, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(spec, name, len) == 0;
}

unsigned fz_props_of(const char *spec, const struct allocator_ops *ops)
{
    unsigned p = 0;
    const char *inner = spec;
    if (ops->flags & PM_BACKEND_WRAPPER) {
        const char *colon = strchr(spec, ':');
        inner = colon ? colon + 1 : "";
        p |= FZ_DEBUG | FZ_MISUSE_SAFE;
    }
    size_t len = strcspn(inner, ",:");
    const struct allocator_ops *in = pm_backend_find(inner);
    if (in && (in->flags & PM_BACKEND_GLOBAL))
        p |= FZ_GLOBAL;
    if (name_is(inner, len, "null"))
        p |= FZ_ALIASES;   /* debug:null too: its pads get overwritten */
    for (size_t i = 0; i < sizeof fz_misuse_safe / sizeof *fz_misuse_safe; i++)
        if (name_is(inner, len, fz_misuse_safe[i]))
            p |= FZ_MISUSE_SAFE;
    if (p & FZ_ALIASES)
        p &= ~(unsigned)FZ_MISUSE_SAFE;
    return p;
}

static size_t add(struct fz_backend *out, size_t n, size_t cap, const struct allocator_ops *ops,
                  const char *fmt, const char *a, const char *b)
{
    if (n >= cap)
        return n;
    snprintf(out[n].spec, sizeof out[n].spec, fmt, a, b);
    out[n].ops = ops;
    out[n].props = fz_props_of(out[n].spec, ops);
    return n + 1;
}

size_t fz_backends(struct fz_backend *out, size_t cap, unsigned which)
{
    size_t n = 0;
    const struct allocator_ops *dbg = NULL, *sys = NULL;
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        if (((*b)->flags & PM_BACKEND_WRAPPER) && !strcmp((*b)->name, "debug"))
            dbg = *b;
        if (!strcmp((*b)->name, "system"))
            sys = *b;
    }
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        const struct allocator_ops *o = *b;
        if (!is_own(o))
            continue;
        bool aliases = fz_props_of(o->name, o) & FZ_ALIASES;
        if (aliases && !(which & FZ_WITH_ALIASING))
            continue;
        n = add(out, n, cap, o, "%s%s", o->name, base_options(o->name));
        if (which & FZ_WITH_VARIANTS)
            for (size_t i = 0; i < sizeof fz_variants / sizeof *fz_variants; i++)
                if (!strcmp(fz_variants[i].name, o->name))
                    n = add(out, n, cap, o, "%s,%s", o->name, fz_variants[i].options);
        if ((which & FZ_WITH_DEBUG) && dbg && !aliases)
            n = add(out, n, cap, dbg, "debug:%s%s", o->name, base_options(o->name));
    }
    if ((which & FZ_WITH_SYSTEM) && sys)
        n = add(out, n, cap, sys, "%s%s", sys->name, "");
    return n;
}

const struct fz_backend *fz_env_backend(void)
{
    static struct fz_backend env;
    static int state;   /* 0 not read, 1 unset, 2 set */
    if (!state) {
        const char *s = getenv("PM_FUZZ_BACKEND");
        state = 1;
        if (s && *s) {
            const struct allocator_ops *o = pm_backend_find(s);
            if (!o) {
                char names[200];
                pm_backend_names(names, sizeof names);
                fz_fail("PM_FUZZ_BACKEND=%s: unknown backend (known: %s)", s, names);
            }
            if (strlen(s) >= sizeof env.spec)
                fz_fail("PM_FUZZ_BACKEND=%s: too long", s);
            strcpy(env.spec, s);
            env.ops = o;
            env.props = fz_props_of(s, o);
            state = 2;
        }
    }
    return state == 2 ? &env : NULL;
}

const struct fz_backend *fz_pick(const struct fz_backend *list, size_t n, unsigned sel)
{
    const struct fz_backend *env = fz_env_backend();
    if (env)
        return env;
    if (!n)
        fz_fail("no backend to fuzz");
    return &list[sel % n];
}

/* ---- recycled mappings ---- */

static uint64_t recycle_base;   /* pm_os_total_mapped() before the first input */

static void recycle_verify(const char *when)
{
    pm_os_cache_flush();
    struct pm_os_cache_info ci;
    pm_os_cache_info(&ci);
    FZ_REQUIRE(ci.cached_bytes == 0 && ci.cached_ranges == 0, "%s: the cache kept %llu bytes",
               when, (unsigned long long)ci.cached_bytes);
    FZ_REQUIRE(pm_os_total_mapped() == recycle_base && ci.kernel_mapped == recycle_base,
               "%s: %llu bytes mapped through the OS layer (%llu from the kernel), %llu before "
               "the first input", when, (unsigned long long)pm_os_total_mapped(),
               (unsigned long long)ci.kernel_mapped, (unsigned long long)recycle_base);
}

static void recycle_at_exit(void) { recycle_verify("at exit"); }

static void recycle(bool c_heap)
{
    static uint64_t inputs;
    static bool on;
    if (!inputs++) {
        const char *e = getenv("PM_FUZZ_RECYCLE");
        on = !(e && !strcmp(e, "0"));
        recycle_base = pm_os_total_mapped();
        if (on) {
            pm_os_cache_set(FZ_CACHE_BYTES, FZ_CACHE_RANGES);
            atexit(recycle_at_exit);
            /* The C library's heap the same way (the `system` reference,
             * debug:system, libpython's raw requests): large blocks from the
             * heap, not each a fresh mapping, and freed memory kept, not
             * given back to be faulted in again. (A no-op under ASan, whose
             * allocator is not glibc's.) */
            if (c_heap) {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 512 << 20);
                mallopt(M_TOP_PAD, 16 << 20);
            }
        }
        return;
    }
    if (on && inputs % FZ_FLUSH_EVERY == 0)
        recycle_verify("periodic leak check");
}

void fz_recycle(void) { recycle(true); }
void fz_recycle_maps(void) { recycle(false); }

/* ---- misuse ---- */

void fz_misuse_record(void *ctx, const char *backend, enum pm_misuse_kind kind, const void *ptr,
                      const char *detail)
{
    struct fz_misuse *m = ctx;
    if (m->calls >= m->expected) {
        const char *nl = strchr(detail, '\n');
        int len = nl ? (int)(nl - detail) : (int)strlen(detail);
        fz_fail("%s: unexpected misuse report: %s at %p: %.*s", backend, pm_misuse_name(kind), ptr,
                len, detail);
    }
    m->calls++;
    m->kind = kind;
    m->ptr = ptr;
}

/* ---- contents ---- */

size_t fz_diff_at(const unsigned char *p, size_t n, unsigned char byte)
{
    /* 64 bytes at a time against the byte in every lane (a loop the
     * compiler vectorises), then byte by byte where they differ. (It used
     * to compare against a 4 KiB pattern rebuilt whenever the byte changed:
     * every block has its own fill byte, so the 32-byte edge checks after
     * each op rebuilt it for every block, 6% of a fuzz_alloc campaign.) */
    const uint64_t lanes = byte * UINT64_C(0x0101010101010101);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], d = 0;
        memcpy(w, p + i, sizeof w);
        for (unsigned j = 0; j < 8; j++)
            d |= w[j] ^ lanes;
        if (d)
            break;
    }
    /* then 8 at a time: the edge checks after every op read 32 bytes at
     * each end of every live block, which the loop above never takes */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        if (w != lanes)
            break;
    }
    for (; i < n; i++)
        if (p[i] != byte)
            return i;
    return n;
}
