/* fuzz/fuzz_worst.c — the worst-case search shared by fuzz_frag and
 * fuzz_retention (fuzz_worst.h: input, figures, feedback, saved traces). */
#include "fuzz_worst.h"
#include "fuzz_worst_mut.h"
#include "trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_LEVELS 256

/* libFuzzer's extra counters: one per (backend, level); a counter that
 * becomes nonzero is a new feature, so an input reaching a new level is kept. */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t fw_counters[FZ_MAX_BACKENDS * FW_LEVELS];

/* Per phase: the figure the input has reached when its p-th fill begins
 * (p = 1..FW_PHASES), every level up to it, per backend. An input is kept
 * when some prefix of it does better than every prefix of as many fills
 * before: the stepping stones of a search that the final figure alone
 * (where a long input of poor early steps can hold the best) would drop. */
#define FW_PHASES 16
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t fw_phase_counters[FZ_MAX_BACKENDS * FW_PHASES * FW_LEVELS];

/* AFL++: one distinct branch per level (the asm immediates keep the
 * compiler from merging the cases), instrumented by afl-clang-fast. */
static volatile unsigned fw_sink;
#define FW_C1(k) case (k): __asm__ volatile("" ::"i"(k)); fw_sink = (k); break;
#define FW_C4(k) FW_C1(k) FW_C1((k) + 1) FW_C1((k) + 2) FW_C1((k) + 3)
#define FW_C16(k) FW_C4(k) FW_C4((k) + 4) FW_C4((k) + 8) FW_C4((k) + 12)
#define FW_C64(k) FW_C16(k) FW_C16((k) + 16) FW_C16((k) + 32) FW_C16((k) + 48)
static __attribute__((noinline)) void fw_level_branch(unsigned level)
{
    switch (level) {
        FW_C64(0) FW_C64(64) FW_C64(128) FW_C64(192)
    default:
        break;
    }
}

struct fw_order {                   /* an allocation, in the order they were made */
    uint32_t slot;
    uint32_t seq;                   /* == s.seq[slot] while that block lives */
};

struct fw_state {
    const struct allocator_ops *ops;
    pm_heap_t *h;
    struct fz_misuse mis;
    unsigned char *p[FW_SLOTS];
    uint32_t n[FW_SLOTS];           /* requested size of each live slot */
    uint32_t seq[FW_SLOTS];         /* allocation number of each live slot */
    uint32_t free_stack[FW_SLOTS];  /* freed slots; the last freed on top */
    unsigned free_top;
    unsigned hi;                    /* slots used so far: max slot + 1; above are free */
    uint32_t nseq;                  /* allocations so far */
    struct fw_order order[FW_ORDER];   /* live blocks by allocation order (and stale entries) */
    unsigned norder;
    unsigned fill_from;             /* order[] index where the last fill began */
    uint64_t live, peak_live;
    bool record;
    enum fw_metric metric;
    unsigned bi;                    /* the backend's index among the counters */
    unsigned fills;                 /* fill ops begun so far */
    struct pm_trace_op *rec;        /* the ops made, for saving a worst case */
    size_t nrec, caprec;
};

static struct fw_state s;

static void rec_op(uint8_t kind, unsigned slot, uint64_t size)
{
    if (!s.record)
        return;
    if (s.nrec == s.caprec) {
        s.caprec = s.caprec ? 2 * s.caprec : 4096;
        s.rec = realloc(s.rec, s.caprec * sizeof *s.rec);
        FZ_REQUIRE(s.rec, "out of memory");
    }
    s.rec[s.nrec++] = (struct pm_trace_op){.kind = kind, .slot = slot, .size = size};
}

static size_t fw_size(struct fz_in *in) { return fw_size_of_byte(fz_u8(in)); }

static void fw_order_compact(void)
{
    unsigned j = 0, from = 0;
    for (unsigned i = 0; i < s.norder; i++) {
        if (i == s.fill_from)
            from = j;
        struct fw_order o = s.order[i];
        if (s.p[o.slot] && s.seq[o.slot] == o.seq)
            s.order[j++] = o;
    }
    s.fill_from = s.fill_from >= s.norder ? j : from;
    s.norder = j;
}

static bool fw_alloc(size_t n)
{
    if ((!s.free_top && s.hi == FW_SLOTS) || s.live + n > FW_MAX_LIVE)
        return false;
    if (s.norder == FW_ORDER) {
        fw_order_compact();
        if (s.norder == FW_ORDER)
            return false;
    }
    unsigned slot = s.free_top ? s.free_stack[--s.free_top] : s.hi;
    unsigned char *p = s.ops->malloc(s.h, n);
    FZ_REQUIRE(p, "%s: malloc(%zu) = NULL with %llu bytes live", s.ops->name, n,
               (unsigned long long)s.live);
    s.p[slot] = p;
    s.n[slot] = (uint32_t)n;
    s.live += n;
    if (s.live > s.peak_live)
        s.peak_live = s.live;
    if (slot >= s.hi)
        s.hi = slot + 1;
    s.seq[slot] = ++s.nseq;
    s.order[s.norder++] = (struct fw_order){slot, s.nseq};
    rec_op(PM_OP_ALLOC, slot, n);
    return true;
}

static void fw_free(unsigned slot)
{
    if (!s.p[slot])
        return;
    s.ops->free(s.h, s.p[slot]);
    s.p[slot] = NULL;
    s.live -= s.n[slot];
    s.free_stack[s.free_top++] = slot;   /* reused first, as a recorder does */
    rec_op(PM_OP_FREE, slot, 0);
}

/* Frees all but every k-th live block (in allocation order) among those of
 * the last fill (`last`) or all. */
static void fw_keep_one_in(unsigned k, bool last)
{
    fw_order_compact();
    unsigned i = last ? s.fill_from : 0, c = 0;
    for (; i < s.norder; i++) {
        struct fw_order o = s.order[i];
        if (!(s.p[o.slot] && s.seq[o.slot] == o.seq))
            continue;
        if (c++ % k)
            fw_free(o.slot);
    }
    fw_order_compact();
}

/* The figure of the sequence so far (fuzz_worst.h, THE FIGURES). */
static double fw_figure(const struct pm_stats *st)
{
    if (s.peak_live < FW_MIN_PEAK || st->peak_mapped_bytes == PM_STAT_NA)
        return 0;
    if (s.metric == FW_FRAG)
        return (double)st->peak_mapped_bytes / (double)s.peak_live;
    return st->mapped_bytes > s.live ? (double)(st->mapped_bytes - s.live) / (double)s.peak_live : 0;
}

static unsigned fw_level(double value)
{
    return value * 8 >= FW_LEVELS - 1 ? FW_LEVELS - 1 : (unsigned)(value * 8);
}

/* A fill begins after p fills: the per-phase feature of the figure so far. */
static void fw_phase(unsigned p)
{
    struct pm_stats st;
    s.ops->stats(s.h, &st);
    double value = fw_figure(&st);
    if (value > 0)
        memset(&fw_phase_counters[(s.bi * FW_PHASES + p - 1) * FW_LEVELS], 1, fw_level(value) + 1);
}

static void fw_op(unsigned op, struct fz_in *in)
{
    switch (op & 7) {
    case 0:
        fw_alloc(fw_size(in));
        break;
    case 1: {   /* extended: fill, keep one in k (last fill / all), alloc */
        unsigned sub = fz_u8(in), arg = fz_u8(in);
        switch (sub & 3) {
        case 0: {
            size_t n = fw_size_x(arg);
            if (++s.fills > 1 && s.fills - 1 <= FW_PHASES)
                fw_phase(s.fills - 1);
            fw_order_compact();
            s.fill_from = s.norder;
            while (fw_alloc(n))
                ;
            break;
        }
        case 1:
        case 2: {
            fw_keep_one_in(fw_k_of(arg), (sub & 3) == 1);
            break;
        }
        default:
            fw_alloc(fw_size_x(arg));
            break;
        }
        break;
    }
    case 2: {
        unsigned count = fz_u8(in) + 1;
        size_t n = fw_size(in);
        for (unsigned i = 0; i < count; i++)
            (void)fw_alloc(n);
        break;
    }
    case 3:
    case 4: {
        unsigned slot = fz_u16(in);
        if (s.hi)
            fw_free(slot % s.hi);
        break;
    }
    case 5: {
        unsigned stride = fz_u8(in) % 16 + 2, phase = fz_u8(in), k = 0;
        for (unsigned slot = 0; slot < s.hi; slot++)
            if (s.p[slot] && k++ % stride == phase % stride)
                fw_free(slot);
        break;
    }
    case 6: {
        unsigned k = fz_u8(in) % 11;
        uint64_t lo = (uint64_t)FW_MIN_SIZE << k, hi = lo * 2;
        for (unsigned slot = 0; slot < s.hi; slot++)
            if (s.p[slot] && s.n[slot] >= lo && s.n[slot] < hi)
                fw_free(slot);
        break;
    }
    default: {
        unsigned from = fz_u16(in), len = fz_u8(in) + 1u;
        for (unsigned slot = from; slot < from + len && slot < s.hi; slot++)
            fw_free(slot);
        break;
    }
    }
}

double fw_robson_ratio(uint64_t max_live)
{
    double n = (double)FW_MAX_SIZE / FW_MIN_SIZE, m = (double)max_live / FW_MIN_SIZE;
    return m > 0 ? (m * (log2(n) / 2 + 1) - n + 1) / m : 0;
}

/* Writes the recorded ops as a raw trace into $PM_FUZZ_WORST_DIR. */
static void save_worst(const char *dir, const char *spec, const char *metric, double value,
                       const struct pm_stats *st, uint64_t final_live)
{
    char path[4096], clean[80], num[64], err[PM_ERR_LEN];
    size_t j = 0;
    for (const char *c = spec; *c && j < sizeof clean - 1; c++)
        clean[j++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                             *c == '=' ? *c : '_';
    clean[j] = 0;
    snprintf(path, sizeof path, "%s/%s-%s-%.4f.pmt", dir, metric, clean, value);
    struct pm_trace_writer *w = pm_trace_writer_open(path, err);
    if (!w) {
        fprintf(stderr, "fuzz: cannot save a worst case: %s\n", err);
        return;
    }
    pm_trace_writer_meta(w, "fuzz.metric", metric);
    pm_trace_writer_meta(w, "fuzz.backend", spec);
    snprintf(num, sizeof num, "%.6f", value);
    pm_trace_writer_meta(w, "fuzz.value", num);
    static const char *const keys[] = {"fuzz.peak_mapped", "fuzz.peak_live", "fuzz.final_mapped",
                                       "fuzz.final_live"};
    uint64_t vals[] = {st->peak_mapped_bytes, s.peak_live, st->mapped_bytes, final_live};
    for (int i = 0; i < 4; i++) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)vals[i]);
        pm_trace_writer_meta(w, keys[i], num);
    }
    snprintf(num, sizeof num, "%.4f", fw_robson_ratio(s.peak_live));
    pm_trace_writer_meta(w, "fuzz.robson_ratio", num);
    for (size_t i = 0; i < s.nrec; i++)
        pm_trace_writer_op(w, &s.rec[i]);
    if (pm_trace_writer_close(w, err))
        fprintf(stderr, "fuzz: cannot save a worst case: %s\n", err);
    else if (fz_verbose())
        fprintf(stderr, "fuzz: saved %s\n", path);
}

int fw_run(const uint8_t *data, size_t size, enum fw_metric metric)
{
    static struct fz_backend list[FZ_MAX_BACKENDS];
    static size_t nb;
    static unsigned best[FZ_MAX_BACKENDS];   /* best level saved, + 1 */
    const char *mname = metric == FW_FRAG ? "frag" : "retention";
    if (!nb) {
        fz_target = metric == FW_FRAG ? "fuzz_frag" : "fuzz_retention";
        nb = fz_backends(list, FZ_MAX_BACKENDS, FZ_WITH_VARIANTS);
    }
    fz_recycle();
    struct fz_in in = {data, data + size};
    unsigned sel = fz_u8(&in);
    const struct fz_backend *b = fz_pick(list, nb, sel);
    unsigned bi = fz_env_backend() ? 0 : sel % (unsigned)nb;
    const char *dir = getenv("PM_FUZZ_WORST_DIR");

    memset(s.p, 0, s.hi * sizeof *s.p);   /* slots at and above hi were never used */
    s.free_top = 0;
    s.hi = 0;
    s.nseq = 0;
    s.norder = s.fill_from = 0;
    s.live = s.peak_live = 0;
    s.nrec = 0;
    s.record = dir && *dir;
    s.metric = metric;
    s.bi = bi;
    s.fills = 0;
    s.ops = b->ops;
    s.mis = (struct fz_misuse){0};
    struct pm_config cfg = {.on_misuse = fz_misuse_record, .misuse_ctx = &s.mis};
    char err[PM_ERR_LEN];
    s.h = pm_backend_create(b->spec, &cfg, NULL, err);
    FZ_REQUIRE(s.h, "%s: create failed: %s", b->spec, err);
    while (fz_more(&in))
        fw_op(fz_u8(&in), &in);

    struct pm_stats st;
    s.ops->stats(s.h, &st);
    double value = fw_figure(&st);
    unsigned level = fw_level(value);
    if (value > 0) {
        /* every level up to the one reached: an input is kept for a new
         * high, and the best input owns the rarest features (libFuzzer's
         * entropic schedule then mutates it most) */
        memset(&fw_counters[bi * FW_LEVELS], 1, level + 1);
        fw_level_branch(level);
    }
    static unsigned top[FZ_MAX_BACKENDS];   /* highest level seen, + 1 */
    if (value > 0 && level + 1 > top[bi]) {
        top[bi] = level + 1;
        fw_mutate_reward(data, size);
    }
    if (fz_verbose())
        fprintf(stderr, "%s: %s: %s %.4f (level %u): peak mapped %llu, peak live %llu, final "
                        "mapped %llu, final live %llu; Robson's bound %.4f\n",
                fz_target, b->spec, mname, value, level,
                (unsigned long long)st.peak_mapped_bytes, (unsigned long long)s.peak_live,
                (unsigned long long)st.mapped_bytes, (unsigned long long)s.live,
                fw_robson_ratio(s.peak_live));
    if (s.record && value > 0 && level + 1 > best[bi]) {
        best[bi] = level + 1;
        save_worst(dir, b->spec, mname, value, &st, s.live);
    }
    s.ops->destroy(s.h);
    return 0;
}
