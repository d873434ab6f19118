/* fuzz/fuzz_trace.c — the trace reader (workloads/trace.h) and the glibc
 * mtrace importer (workloads/mtrace.c, recording.h) on arbitrary bytes: every
 * input goes through both, the reader as a binary or text trace (whichever
 * the bytes look like) and the importer as an mtrace log (so the corpus of
 * traces stays valid, and mtrace logs are just more inputs).
 *
 * Each input is opened twice: from memory (pm_trace_open_mem over a buffer
 * of exactly the input's size, so ASan sees any read past it) and as a file
 * (pm_trace_open on a memfd: the mmap path). Both must agree: the same
 * success, the same error after the name. Then:
 *  - a failed open gives a one-line error starting with the name;
 *  - strict and lenient cursors walk the whole stream; a cursor error is one
 *    line "op N at byte B: ..." with N = the ops returned before it; a text
 *    trace's cursor never fails; a strict walk that ends cleanly read the
 *    header's op count, and the lenient walk returns the same ops with
 *    nothing dropped or missing; an unfinished trace refuses a strict cursor;
 *  - valid results re-encode: the metadata and the ops the lenient cursor
 *    returned (all of them, or those before its error) go through the writer
 *    (pm_trace_writer_open_mem), which must accept them; the result opens,
 *    reads back the same metadata and ops with a strict cursor, and its text
 *    form (pm_trace_write_text) opens and reads back the same again; the text
 *    form of that text trace is byte for byte the same text (canonical).
 * A trace whose header claims more than FT_BIG_SLOTS (2^20) slots gets one
 * lenient walk only: each cursor allocates a bitmap of slot_count bits (up
 * to 512 MiB for a 50-byte file), which took the run down to ~100
 * executions/s; under ASan, one claiming more than FT_WALK_SLOTS (2^24) is
 * opened but not walked (the throughput build, without ASan, walks it).
 *
 * The mtrace importer (pm_mtrace_import over fmemopen, name "input"): a dry
 * run (no writer) succeeds or fails with one line "input:LINE: ..." whose
 * LINE is one of the lines it read; a log it accepts reports consistent
 * counts (ops = allocs + reallocs + frees, allocs - frees = blocks live at
 * the end); imported into a trace writer it succeeds again with the same
 * report, and the trace opens, reads back strictly (every free and realloc
 * of a live slot, every alloc into a free one) with exactly the reported ops
 * of each kind and slot count, and goes through the same re-encoding as a
 * valid input trace (round_trip).
 */
#include "fuzz_common.h"
#include "recording.h"
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FT_BIG_SLOTS ((uint64_t)1 << 20)   /* above: one walk only (bitmaps over 128 KiB) */
/* Above this, under ASan, no walk at all: ASan's allocator poisons and
 * quarantines the shadow of a large calloc (1/8 of its size, memset twice),
 * so a 50-byte input claiming 2^32 slots cost a 64 MiB memset per walk and
 * took most of the run time; without ASan the bitmap is lazily mapped zero
 * pages and the walk stays. */
#if defined(PM_ASAN) && PM_ASAN
#define FT_WALK_SLOTS ((uint64_t)1 << 24)
#else
#define FT_WALK_SLOTS UINT64_MAX
#endif

struct oplist {
    struct pm_trace_op *v;
    size_t n, cap;
};

static void ops_push(struct oplist *l, const struct pm_trace_op *op)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        FZ_REQUIRE(l->v, "out of memory");
    }
    l->v[l->n++] = *op;
}

static void one_line(const char *what, const char *err)
{
    FZ_REQUIRE(err[0], "%s: empty error message", what);
    FZ_REQUIRE(!strchr(err, '\n'), "%s: error message on several lines: '%s'", what, err);
    FZ_REQUIRE(strlen(err) < PM_ERR_LEN, "%s: error message not terminated", what);
}

/* Walks t with a strict or lenient cursor into l. Returns 1 (ended cleanly),
 * 0 (init refused it), -1 (failed on an op); c receives the cursor. */
static int walk(struct pm_trace *t, bool lenient, struct oplist *l, struct pm_trace_cursor *c)
{
    l->n = 0;
    int r = lenient ? pm_trace_cursor_init_lenient(c, t) : pm_trace_cursor_init(c, t);
    if (r) {
        one_line("cursor init", c->err);
        return 0;
    }
    struct pm_trace_op op;
    while ((r = pm_trace_next(c, &op)) == 1)
        ops_push(l, &op);
    FZ_REQUIRE(pm_trace_next(c, &op) == r, "the cursor did not keep returning %d", r);
    if (r == 0)
        return 1;
    one_line("cursor", c->err);
    FZ_REQUIRE(!strncmp(c->err, "op ", 3), "cursor error without the op: '%s'", c->err);
    FZ_REQUIRE(c->err_index == l->n, "cursor error at op %llu after %zu ops: '%s'",
               (unsigned long long)c->err_index, l->n, c->err);
    return -1;
}

static bool op_eq(const struct pm_trace_op *a, const struct pm_trace_op *b)
{
    return a->kind == b->kind && a->domain == b->domain && a->slot == b->slot &&
           a->size == b->size && a->arg == b->arg;
}

static void same_ops(const char *what, const struct oplist *a, const struct oplist *b)
{
    FZ_REQUIRE(a->n == b->n, "%s: %zu ops, expected %zu", what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++) {
        char x[80], y[80];
        if (!op_eq(&a->v[i], &b->v[i])) {
            pm_trace_op_format(x, &a->v[i]);
            pm_trace_op_format(y, &b->v[i]);
            fz_fail("%s: op %zu is '%s', expected '%s'", what, i, y, x);
        }
    }
}

static void same_meta(const char *what, const struct pm_trace *a, const struct pm_trace *b)
{
    FZ_REQUIRE(pm_trace_meta_count(a) == pm_trace_meta_count(b), "%s: %zu metadata pairs, expected %zu",
               what, pm_trace_meta_count(b), pm_trace_meta_count(a));
    for (size_t i = 0; i < pm_trace_meta_count(a); i++) {
        const char *ka, *va, *kb, *vb;
        pm_trace_meta_at(a, i, &ka, &va);
        pm_trace_meta_at(b, i, &kb, &vb);
        FZ_REQUIRE(!strcmp(ka, kb) && !strcmp(va, vb), "%s: metadata %zu is '%s=%s', expected '%s=%s'",
                   what, i, kb, vb, ka, va);
    }
}

/* The text form of t (strict), malloc'ed. */
static char *text_of(struct pm_trace *t, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    FZ_REQUIRE(f, "open_memstream failed");
    char err[PM_ERR_LEN];
    int r = pm_trace_write_text(t, f, false, err);
    fclose(f);
    FZ_REQUIRE(r == 0, "write_text of a valid trace failed: %s", err);
    return buf;
}

/* Opens a trace that must be valid and reads it strictly into l. */
static struct pm_trace *open_valid(const void *buf, size_t len, const char *name, struct oplist *l)
{
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    FZ_REQUIRE(pm_trace_open_mem(buf, len, name, &t, err) == 0, "%s does not open: %s", name, err);
    struct pm_trace_cursor c;
    FZ_REQUIRE(walk(t, false, l, &c) == 1, "%s does not read back: %s", name, c.err);
    return t;
}

static void round_trip(struct pm_trace *t, const struct oplist *ops)
{
    char err[PM_ERR_LEN];
    struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
    FZ_REQUIRE(w, "writer: %s", err);
    for (size_t i = 0; i < pm_trace_meta_count(t); i++) {
        const char *k, *v;
        pm_trace_meta_at(t, i, &k, &v);
        FZ_REQUIRE(pm_trace_writer_meta(w, k, v) == 0, "the writer refuses metadata '%s=%s' the reader took: %s",
                   k, v, pm_trace_writer_error(w));
    }
    for (size_t i = 0; i < ops->n; i++) {
        if (pm_trace_writer_op(w, &ops->v[i])) {
            char x[80];
            pm_trace_op_format(x, &ops->v[i]);
            fz_fail("the writer refuses op %zu '%s' the reader took: %s", i, x, pm_trace_writer_error(w));
        }
    }
    uint8_t *bin;
    size_t blen;
    FZ_REQUIRE(pm_trace_writer_close_mem(w, &bin, &blen, err) == 0, "writer close: %s", err);

    struct oplist back = {0}, back_text = {0};
    struct pm_trace *t2 = open_valid(bin, blen, "rewritten", &back);
    same_ops("rewritten binary", ops, &back);
    same_meta("rewritten binary", t, t2);
    FZ_REQUIRE(pm_trace_finished(t2) && pm_trace_op_count(t2) == ops->n,
               "rewritten binary: finished %d, op count %llu, expected %zu", pm_trace_finished(t2),
               (unsigned long long)pm_trace_op_count(t2), ops->n);

    size_t tlen, tlen2;
    char *text = text_of(t2, &tlen);
    struct pm_trace *t3 = open_valid(text, tlen, "text", &back_text);
    FZ_REQUIRE(pm_trace_format_of(t3) == PM_TRACE_TEXT, "the text form opens as binary");
    same_ops("text form", ops, &back_text);
    same_meta("text form", t, t3);
    char *text2 = text_of(t3, &tlen2);
    FZ_REQUIRE(tlen == tlen2 && !memcmp(text, text2, tlen), "the text form is not canonical:\n%.*s\n---\n%.*s",
               (int)tlen, text, (int)tlen2, text2);
    pm_trace_close(t3);
    pm_trace_close(t2);
    free(text2);
    free(text);
    free(bin);
    free(back.v);
    free(back_text.v);
}

/* ---- the mtrace importer ---- */

static int mtrace_import(const uint8_t *data, size_t size, struct pm_trace_writer *w,
                         struct pm_mtrace_report *r, char err[PM_ERR_LEN])
{
    FILE *f = fmemopen((void *)data, size, "r");   /* read-only: the input is not written */
    FZ_REQUIRE(f, "fmemopen of %zu bytes failed", size);
    int rc = pm_mtrace_import(f, "input", w, r, err);
    fclose(f);
    return rc;
}

/* An import error: one line "input:LINE: ..." with 1 <= LINE <= lines read. */
static void mtrace_error(const char *err, const struct pm_mtrace_report *r)
{
    one_line("mtrace import", err);
    FZ_REQUIRE(!strncmp(err, "input:", 6), "mtrace import error without the name: '%s'", err);
    char *end;
    unsigned long long line = strtoull(err + 6, &end, 10);
    FZ_REQUIRE(end > err + 6 && *end == ':' && line >= 1 && line <= r->lines,
               "mtrace import error not at one of the %llu lines read: '%s'",
               (unsigned long long)r->lines, err);
}

static void mtrace_check(const uint8_t *data, size_t size)
{
    struct pm_mtrace_report dry, wet;
    char err[PM_ERR_LEN];
    int rc = mtrace_import(data, size, NULL, &dry, err);
    if (fz_verbose())
        fprintf(stderr, "fuzz_trace: mtrace: %s\n", rc ? err : "imported");
    FZ_REQUIRE(rc == 0 || rc == -1, "mtrace dry run returned %d: %s", rc, err);
    if (rc) {
        mtrace_error(err, &dry);
        return;
    }
    FZ_REQUIRE(dry.ops == dry.allocs + dry.reallocs + dry.frees && dry.allocs >= dry.frees &&
               dry.allocs - dry.frees == dry.live_at_end,
               "mtrace report: %llu ops = %llu allocs + %llu reallocs + %llu frees, %llu live at the end",
               (unsigned long long)dry.ops, (unsigned long long)dry.allocs,
               (unsigned long long)dry.reallocs, (unsigned long long)dry.frees,
               (unsigned long long)dry.live_at_end);

    struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
    FZ_REQUIRE(w, "writer: %s", err);
    rc = mtrace_import(data, size, w, &wet, err);
    if (rc) {
        pm_trace_writer_abort(w);
        fz_fail("mtrace: the dry run succeeded, the import into a writer failed (%d): %s", rc, err);
    }
    /* the report is uint64_t fields only: no padding to compare */
    _Static_assert(sizeof dry % sizeof(uint64_t) == 0, "pm_mtrace_report is not all uint64_t");
    FZ_REQUIRE(!memcmp(&dry, &wet, sizeof dry), "mtrace: the dry run and the import report differently "
               "(%llu and %llu ops)", (unsigned long long)dry.ops, (unsigned long long)wet.ops);
    uint8_t *bin;
    size_t blen;
    FZ_REQUIRE(pm_trace_writer_close_mem(w, &bin, &blen, err) == 0, "mtrace: writer close: %s", err);
    struct oplist ops = {0};
    struct pm_trace *t = open_valid(bin, blen, "imported", &ops);
    uint64_t by_kind[PM_OP_PHASE + 1] = {0};
    for (size_t i = 0; i < ops.n; i++)
        by_kind[ops.v[i].kind]++;
    FZ_REQUIRE(pm_trace_finished(t) && ops.n == dry.ops && by_kind[PM_OP_ALLOC] == dry.allocs &&
               by_kind[PM_OP_REALLOC] == dry.reallocs && by_kind[PM_OP_FREE] == dry.frees,
               "mtrace: the imported trace reads back %zu ops (alloc %llu, realloc %llu, free %llu), "
               "the import reported %llu (%llu, %llu, %llu)", ops.n,
               (unsigned long long)by_kind[PM_OP_ALLOC], (unsigned long long)by_kind[PM_OP_REALLOC],
               (unsigned long long)by_kind[PM_OP_FREE], (unsigned long long)dry.ops,
               (unsigned long long)dry.allocs, (unsigned long long)dry.reallocs,
               (unsigned long long)dry.frees);
    FZ_REQUIRE(pm_trace_slot_count(t) == dry.slots, "mtrace: the imported trace has %llu slots, the "
               "import reported %llu", (unsigned long long)pm_trace_slot_count(t),
               (unsigned long long)dry.slots);
    round_trip(t, &ops);
    pm_trace_close(t);
    free(bin);
    free(ops.v);
}

/* pm_trace_open on a memfd holding the input: returns the open's result and
 * its error without the name prefix; -2 if memfds are unavailable. One
 * memfd serves every input (truncated and rewritten: creating and closing
 * one per input cost about a tenth of the run); the trace opened from it is
 * closed before the next input, so no mapping outlives its contents. */
static int open_as_file(const uint8_t *data, size_t size, struct pm_trace **t, char err[PM_ERR_LEN],
                        char path[64])
{
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("fuzz_trace", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 0) != 0)
        return -2;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            return -2;
        done += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return pm_trace_open(path, t, err);
}

/* The same error after the names: equal, or, when either message was cut
 * to PM_ERR_LEN with "..." (pm_msg_escape; the file's longer name cuts it
 * earlier), one the prefix of the other up to the cut. */
static bool same_error(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    bool ca = la >= 3 && !strcmp(a + la - 3, "..."), cb = lb >= 3 && !strcmp(b + lb - 3, "...");
    if (!ca && !cb)
        return !strcmp(a, b);
    la -= ca ? 3 : 0;
    lb -= cb ? 3 : 0;
    if ((!ca && la < lb) || (!cb && lb < la))
        return false;   /* an uncut message shorter than what the other kept */
    return !strncmp(a, b, la < lb ? la : lb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_target = "fuzz_trace";
    fz_recycle_maps();   /* the importer's slot map: mappings recycled between inputs */
    mtrace_check(data, size);
    static const char name[] = "input";
    struct pm_trace *t = NULL, *tf = NULL;
    char err[PM_ERR_LEN], ferr[PM_ERR_LEN], path[64];
    int r = pm_trace_open_mem(data, size, name, &t, err);
    int rf = open_as_file(data, size, &tf, ferr, path);
    if (rf != -2) {
        FZ_REQUIRE((r == 0) == (rf == 0), "open from memory %s, as a file %s: %s",
                   r ? "failed" : "succeeded", rf ? "failed" : "succeeded", r ? err : ferr);
        if (r) {
            size_t pl = strlen(path), nl = strlen(name);
            FZ_REQUIRE(!strncmp(ferr, path, pl) && same_error(ferr + pl, err + nl),
                       "errors differ: memory '%s', file '%s'", err, ferr);
        }
    }
    if (fz_verbose())
        fprintf(stderr, "fuzz_trace: %s\n", r ? err : "opened");
    if (r) {
        one_line("open", err);
        FZ_REQUIRE(!strncmp(err, name, strlen(name)), "open error without the name: '%s'", err);
        return 0;
    }

    struct oplist strict = {0}, lenient = {0}, viafile = {0};
    struct pm_trace_cursor cs, cl, cf;
    if (pm_trace_slot_count(t) > FT_BIG_SLOTS) {
        /* a cursor's bitmap has slot_count bits (512 MiB for 2^32 slots): one lenient walk */
        if (pm_trace_slot_count(t) <= FT_WALK_SLOTS)
            walk(t, true, &lenient, &cl);
        if (tf)
            pm_trace_close(tf);
        pm_trace_close(t);
        free(lenient.v);
        return 0;
    }
    int rs = walk(t, false, &strict, &cs);
    int rl = walk(t, true, &lenient, &cl);
    FZ_REQUIRE(rl != 0, "the lenient cursor refused the trace: %s", cl.err);
    if (pm_trace_format_of(t) == PM_TRACE_TEXT)
        FZ_REQUIRE(rs == 1, "a cursor over a text trace failed: %s", cs.err);
    if (!pm_trace_finished(t))
        FZ_REQUIRE(rs == 0, "a strict cursor accepted an unfinished trace");
    if (rs == 1) {
        FZ_REQUIRE(strict.n == pm_trace_op_count(t), "strict walk read %zu ops, header says %llu",
                   strict.n, (unsigned long long)pm_trace_op_count(t));
        FZ_REQUIRE(rl == 1 && !cl.dropped_bytes && !cl.missing_ops,
                   "lenient walk of a valid trace: status %d, dropped %llu, missing %llu", rl,
                   (unsigned long long)cl.dropped_bytes, (unsigned long long)cl.missing_ops);
        same_ops("lenient walk of a valid trace", &strict, &lenient);
    }
    if (tf) {
        int rff = walk(tf, true, &viafile, &cf);
        FZ_REQUIRE(rff == rl, "lenient walk: memory %d, file %d", rl, rff);
        same_ops("the file form", &lenient, &viafile);
        pm_trace_close(tf);
    }
    if (fz_verbose())
        fprintf(stderr, "fuzz_trace: %s, %s, strict %d (%s), lenient %d: %zu ops\n",
                pm_trace_format_of(t) == PM_TRACE_TEXT ? "text" : "binary",
                pm_trace_finished(t) ? "finished" : "unfinished", rs, rs == 1 ? "ok" : cs.err, rl,
                lenient.n);
    round_trip(t, &lenient);
    pm_trace_close(t);
    free(strict.v);
    free(lenient.v);
    free(viafile.v);
    return 0;
}
