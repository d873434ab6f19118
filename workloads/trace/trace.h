/* workloads/trace/trace.h — raw allocation traces: the binary (.pmt) and text forms,
 * a streaming validating reader, a writer, and the pointer -> slot map.
 *
 * Format: docs/trace-format.md (byte by byte). Generators: docs/patterns.md.
 *
 * Entry points
 *  reading   pm_trace_open / pm_trace_open_mem / pm_trace_close, accessors
 *            (op count, slot count, metadata), pm_trace_cursor_init[_lenient]
 *            and the inline pm_trace_next (decode + validate one op).
 *  writing   pm_trace_writer_open[_mem] / _meta / _op / _close / _abort;
 *            pm_trace_encode_op + pm_trace_header_encode for writers that must
 *            not allocate (a recorder inside malloc).
 *  text      pm_trace_op_format, pm_trace_write_text (the canonical text form).
 *  convert   pm_trace_convert (binary <-> text through a validating cursor).
 *  slots     struct pm_slotmap: pointer -> dense slot, freed slots reused LIFO.
 *  generate  pm_tracegen (lifo, fifo, churn, growth, survivors, adversary).
 *
 * A trace names blocks by dense slot numbers: ALLOC/CALLOC/ALIGNED put a new
 * block into a slot that must be free; REALLOC resizes the live block of a
 * slot (it stays in that slot); FREE frees a live slot; PHASE marks a point
 * (its number in .slot; its label, if any, is metadata "phase.N=label").
 *
 * Error messages (all one line, no trailing newline, into err[PM_ERR_LEN]):
 *  - functions given a path or a trace (open, convert, write_text, the
 *    writer's close) start their message with the file name:
 *        "t.pmt: byte 8: unsupported trace version 2 (this build reads version 1)"
 *        "t.txt:12: free of slot 9 which is not live"
 *    so a command prints  pm_usage_error("%s", err).
 *  - the cursor's c->err names the op index and the byte offset from the start
 *    of the file, not the file:
 *        "op 123 at byte 4567: free of slot 9 which is not live"
 *    so a command prints  pm_usage_error("%s: %s", pm_trace_name(t), c.err).
 *    Text traces are validated completely by pm_trace_open (errors name the
 *    line there), so a cursor over a text trace never fails.
 *
 * Limits (checked by reader and writer): size <= PM_TRACE_MAX_SIZE (1 TiB,
 * also for calloc's count * size); alignment a power of two in 8..1 GiB;
 * slot < 2^32; slot_count <= 2^32.
 */
#ifndef PM_TRACE_H
#define PM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "allocator.h"   /* PM_ERR_LEN, enum pm_domain */
#include "pm_addrset.h"  /* struct pm_slotmap */
#include "pm_api.h"

PM_API_BEGIN

enum pm_op_kind { PM_OP_ALLOC = 1, PM_OP_CALLOC, PM_OP_REALLOC, PM_OP_FREE, PM_OP_ALIGNED, PM_OP_PHASE };

struct pm_trace_op {
    uint8_t kind;      /* enum pm_op_kind */
    uint8_t domain;    /* enum pm_domain: NONE, RAW, MEM, OBJ (PHASE: NONE) */
    uint32_t slot;     /* block slot (< header slot_count); PHASE: phase number */
    uint64_t size;     /* ALLOC/REALLOC/ALIGNED: bytes; CALLOC: element size; FREE: 0; PHASE: 0 */
    uint64_t arg;      /* CALLOC: element count; ALIGNED: alignment (power of two >= 8); else 0 */
};

#define PM_TRACE_MAGIC "PMTRACE"          /* 8 bytes with its NUL */
#define PM_TRACE_MAGIC_LEN 8
#define PM_TRACE_VERSION 1u
#define PM_TRACE_HEADER_SIZE 40           /* bytes before the metadata */
#define PM_TRACE_FLAG_FINISHED 1u         /* set by a successful writer close */
#define PM_TRACE_OPS_UNKNOWN UINT64_MAX   /* header op count while recording */
#define PM_TRACE_MAX_SIZE ((UINT64_C(1) << 40) - 1)   /* just under 1 TiB: a sane request limit */
#define PM_TRACE_MAX_ALIGN (UINT64_C(1) << 30)  /* 1 GiB */
#define PM_TRACE_MIN_ALIGN 8u
#define PM_TRACE_MAX_SLOTS (UINT64_C(1) << 32)  /* slots are uint32_t */
#define PM_TRACE_MAX_META (UINT64_C(16) << 20)  /* metadata bytes */
#define PM_TRACE_OP_MAX 23                /* longest valid op: len, head, aw, slot 4, size 8, arg 8 */
_Static_assert(sizeof(PM_TRACE_MAGIC) == PM_TRACE_MAGIC_LEN, "magic is 8 bytes with its NUL");

/* ---- the encoding (docs/trace-format.md, "Ops") ----
 * byte 0: the op's total length in bytes (so finding the next op costs one
 * byte load and an add). byte 1, the head: bits 0-2 kind (1..6), bits 3-4
 * domain, bits 5-7 slot field width sw (0..4). CALLOC and ALIGNED then have an
 * arg width byte aw (0..8). Then the fields, little-endian: slot (sw bytes),
 * size (the rest: len - 2 - sw [- 1 - aw] bytes, 0..8; none for FREE and
 * PHASE), arg (aw bytes). The slot field is the zigzag of (slot - previous
 * op's slot) mod 2^32; PHASE has its number there instead and does not move
 * the previous slot. */
#define PM_TRACE_HEAD(kind, domain, sw) ((uint8_t)((kind) | (domain) << 3 | (sw) << 5))

/* The fast path's view of a head byte (pm_trace_heads, built in trace.c). */
struct pm_trace_headinfo {
    uint64_t smask;   /* mask of the slot field's sw bytes */
    uint8_t slow;     /* 0: an ALLOC, REALLOC or FREE with sw <= 4, decoded
                         inline; 1: the slow path decodes it (CALLOC, ALIGNED,
                         PHASE, malformed) */
    uint8_t fields;   /* 2 + sw: offset of the size field (2 if sw > 4) */
    uint8_t maxzw;    /* largest size field allowed: 8, FREE 0 */
    uint8_t expect;   /* the slot must be live (1) or free (0) before the op */
    uint8_t flip;     /* the op toggles the slot's liveness */
    uint8_t kind;     /* enum pm_op_kind */
    uint8_t domain;   /* enum pm_domain */
    uint8_t pad;
};
_Static_assert(sizeof(struct pm_trace_headinfo) == 16, "one entry is 16 bytes");
extern const struct pm_trace_headinfo pm_trace_heads[256];

/* Fast-path margin: an op starting at p with end - p >= this many bytes can
 * be decoded with 8-byte loads that stay inside the buffer whatever its
 * (possibly corrupt) bytes say: the last load starts at most 2 + 4 bytes in. */
#define PM_TRACE_FAST_MARGIN 16

/* Encoder state: the previous slot op's slot (delta base). Zero-initialise. */
struct pm_trace_enc {
    uint32_t prev_slot;   /* slot of the last non-PHASE op encoded */
};

/* Encodes one op into buf (at least PM_TRACE_OP_MAX bytes) and returns its
 * length, or 0 if the op cannot be represented (kind out of range, domain > 3,
 * a PHASE with a domain, size or arg, a FREE with a size or arg, an ALLOC or
 * REALLOC with an arg). Allocates nothing, checks no semantics (liveness,
 * limits): the writer and the reader do. */
size_t pm_trace_encode_op(uint8_t *buf, const struct pm_trace_op *op, struct pm_trace_enc *st);

/* The fixed header (docs/trace-format.md, "Header"). */
struct pm_trace_header {
    uint32_t version;      /* PM_TRACE_VERSION */
    uint32_t flags;        /* PM_TRACE_FLAG_* */
    uint64_t op_count;     /* ops in the stream, PM_TRACE_OPS_UNKNOWN while recording */
    uint64_t slot_count;   /* max slot + 1 over the stream (0 while recording) */
    uint64_t meta_len;     /* bytes of "key=value\n" lines after the header */
};
void pm_trace_header_encode(uint8_t buf[PM_TRACE_HEADER_SIZE], const struct pm_trace_header *h);

/* ---- reading ---- */

struct pm_trace;   /* opaque: an open trace (mmap'd binary or parsed text) */

enum pm_trace_format { PM_TRACE_AUTO = 0, PM_TRACE_BINARY, PM_TRACE_TEXT };

/* Opens a trace: binary if the file starts with the magic, else text. The
 * binary stream is mmap'd and decoded lazily by cursors (memory is the header,
 * the metadata and one bit per slot); a text trace is parsed and validated
 * here, into memory. Header and metadata are validated here. Returns 0, or -1
 * with err "NAME: byte B: problem" / "NAME:LINE: problem". */
int pm_trace_open(const char *path, struct pm_trace **out, char err[PM_ERR_LEN]);
/* The same over a buffer the caller keeps alive until pm_trace_close; `name`
 * is used in messages. */
int pm_trace_open_mem(const void *buf, size_t len, const char *name, struct pm_trace **out,
                      char err[PM_ERR_LEN]);
void pm_trace_close(struct pm_trace *t);

const char *pm_trace_name(const struct pm_trace *t);          /* path or name given */
enum pm_trace_format pm_trace_format_of(const struct pm_trace *t);
/* Whether the recording finished (header flag). An unfinished binary trace
 * is prescanned at open: op_count and slot_count then describe its whole ops
 * (a trailing partial op is not counted), and only a lenient cursor reads it. */
bool pm_trace_finished(const struct pm_trace *t);
uint64_t pm_trace_op_count(const struct pm_trace *t);
uint64_t pm_trace_slot_count(const struct pm_trace *t);
uint64_t pm_trace_stream_bytes(const struct pm_trace *t);     /* op stream length */
size_t pm_trace_meta_count(const struct pm_trace *t);
/* The i-th metadata pair, in file order; false if i is out of range. */
bool pm_trace_meta_at(const struct pm_trace *t, size_t i, const char **key, const char **value);
/* Reads one byte of every page of the op stream, so that a later pass does
 * not take the page faults of a file-backed mapping (they are not
 * anonymous memory, but they are faults). */
void pm_trace_prefault(const struct pm_trace *t);

/* The value of `key`, or NULL. */
const char *pm_trace_meta_get(const struct pm_trace *t, const char *key);
/* The label of phase n (metadata "phase.N"), or NULL. */
const char *pm_trace_phase_label(const struct pm_trace *t, uint32_t n);

/* A cursor walks the op stream once, validating every op: opcode and field
 * widths, slot < slot_count, liveness (ALLOC/CALLOC/ALIGNED into a free slot,
 * REALLOC/FREE of a live one), size and calloc count*size <= 1 TiB, alignment,
 * a stream cut inside an op, and at the end the header's op count and slot
 * count against the stream. Liveness is a bitmap of slot_count bits owned by
 * the trace: one cursor per trace at a time (init resets it).
 *
 * Strict (pm_trace_cursor_init): any of the above is an error; so is an
 * unfinished trace (init fails at once). Lenient (_init_lenient): a trace
 * whose recording did not finish, or whose file was cut, is read up to its
 * last whole op; then dropped_bytes holds the bytes of a trailing partial op
 * and missing_ops how many ops the header promised beyond those read (0 when
 * the header does not know). Every other problem is still an error.
 *
 * pm_trace_next returns 1 with *op filled, 0 at the clean end, -1 on error
 * with c->err "op N at byte B: problem" (also err_index, err_offset). After 0
 * or -1 it keeps returning the same. */
struct pm_trace_cursor {
    const uint8_t *p;          /* next op */
    const uint8_t *fast_end;   /* p < fast_end: >= PM_TRACE_FAST_MARGIN bytes remain */
    const uint8_t *end;        /* end of the op stream */
    const uint8_t *base;       /* start of the file: byte offsets count from here */
    uint64_t *live;            /* liveness bitmap: bit s set <=> slot s live; >= 1 word */
    uint64_t slot_count;       /* slots allowed: every slot op's slot < slot_count */
    uint64_t fast_slots;       /* slot_count - 1 (0 if none): the fast path's slots */
    uint64_t index;            /* ops returned so far (the next op's index) */
    uint64_t fast_limit;       /* the fast path runs while index < fast_limit */
    uint64_t slot_hi;          /* max slot + 1 over the ops read: 0 if none, and
                                  slot_count once the highest slot was used (the
                                  fast path never moves it) */
    uint64_t op_count;         /* ops the header promises (PM_TRACE_OPS_UNKNOWN: unfinished) */
    uint32_t prev_slot;        /* slot of the previous slot op (delta base) */
    int status;                /* 0 reading, 1 ended cleanly, -1 failed */
    bool lenient;              /* stop at the last whole op of a cut stream */
    const struct pm_trace *trace;
    uint64_t dropped_bytes;    /* lenient: bytes of a trailing partial op */
    uint64_t missing_ops;      /* lenient: header op count - ops read, if known */
    uint64_t err_index;        /* on error: the op's index */
    uint64_t err_offset;       /* on error: its byte offset in the file */
    char err[PM_ERR_LEN];
};

/* Return 0, or -1 with c->err filled (then pm_trace_next returns -1 too). */
int pm_trace_cursor_init(struct pm_trace_cursor *c, const struct pm_trace *t);
int pm_trace_cursor_init_lenient(struct pm_trace_cursor *c, const struct pm_trace *t);
/* Offset in the file of the next op. */
uint64_t pm_trace_cursor_offset(const struct pm_trace_cursor *c);
/* Out-of-line part of pm_trace_next: ops near the end of the stream, the end
 * checks, and any op the fast path flags (it re-checks and writes c->err). */
int pm_trace_next_slow(struct pm_trace_cursor *c, struct pm_trace_op *op);

static inline uint64_t pm_trace_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Masks of the low n bytes, n = 0..15 (n > 8: flagged bad by the caller). */
static const uint64_t pm_trace_masks[16] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffffu, UINT64_C(0xffffffffff), UINT64_C(0xffffffffffff),
    UINT64_C(0xffffffffffffff), UINT64_MAX, 0, 0, 0, 0, 0, 0, 0,
};

/* Decodes and validates the next op. ALLOC, REALLOC and FREE take a short
 * path: no branch on the op's kind, two well-predicted branches, one table
 * lookup on the head byte, and the next op's address is one byte load away.
 * CALLOC, ALIGNED, PHASE, the last ops of the stream and anything wrong go
 * through pm_trace_next_slow, which checks everything and writes the
 * messages. */
static inline int pm_trace_next(struct pm_trace_cursor *c, struct pm_trace_op *op)
{
    const uint8_t *p = c->p;
    uint64_t index = c->index;
    if (__builtin_expect((p >= c->fast_end) | (index >= c->fast_limit), 0))
        return pm_trace_next_slow(c, op);
    unsigned len = p[0];
    const struct pm_trace_headinfo *e = &pm_trace_heads[p[1]];
    uint32_t zw = len - e->fields;   /* "negative" (and flagged) if len is too small */
    uint64_t f = pm_trace_load64(p + 2) & e->smask;
    uint64_t size = pm_trace_load64(p + e->fields) & pm_trace_masks[zw & 15u];
    uint32_t slot = c->prev_slot + ((uint32_t)(f >> 1) ^ (0u - (uint32_t)(f & 1)));
    /* The highest slot goes the slow way, which notes that it was used (for
     * the end check "header slot count = max slot + 1"). */
    bool inrange = (uint64_t)slot < c->fast_slots;
    uint64_t idx = inrange ? slot : 0;
    uint64_t word = c->live[idx >> 6];
    /* each term is nonzero iff something is wrong */
    uint64_t bad = e->slow | (((e->maxzw - zw) | zw) >> 31) | (size >> 40) | (uint64_t)!inrange |
                   (((word >> (idx & 63)) ^ e->expect) & 1);
    if (__builtin_expect(bad != 0, 0))
        return pm_trace_next_slow(c, op);
    c->live[idx >> 6] = word ^ ((uint64_t)e->flip << (idx & 63));
    op->kind = e->kind;
    op->domain = e->domain;
    op->slot = slot;
    op->size = size;
    op->arg = 0;
    c->prev_slot = slot;
    c->p = p + len;
    c->index = index + 1;
    return 1;
}

/* ---- writing ---- */

struct pm_trace_writer;   /* opaque */

/* Opens a binary trace writer on `path`: it writes `path.tmp` (created
 * exclusively: an existing .tmp, e.g. a crashed recording, is never
 * overwritten) and renames it to `path` on a successful close; on any failure
 * or abort the .tmp is removed and `path` is untouched. NULL + err on failure.
 * The writer allocates (buffer, metadata, a liveness bitmap it grows) and
 * validates every op as the reader would. */
struct pm_trace_writer *pm_trace_writer_open(const char *path, char err[PM_ERR_LEN]);
/* The same into memory: pm_trace_writer_close_mem hands the bytes over. */
struct pm_trace_writer *pm_trace_writer_open_mem(char err[PM_ERR_LEN]);
/* Adds metadata (before the first op). key: [A-Za-z0-9_.:/-]+, unique;
 * value: no NUL, CR or LF. Returns 0 or -1 (the error is kept for close). */
int pm_trace_writer_meta(struct pm_trace_writer *w, const char *key, const char *value);
/* Appends one op (buffered). Returns 0, or -1 on an invalid op or an I/O
 * error; the writer then refuses everything and close reports the first. */
int pm_trace_writer_op(struct pm_trace_writer *w, const struct pm_trace_op *op);
/* The first error so far, or NULL. */
const char *pm_trace_writer_error(const struct pm_trace_writer *w);
uint64_t pm_trace_writer_ops(const struct pm_trace_writer *w);
/* Patches the header (op count, slot count = max slot + 1, finished flag),
 * renames .tmp to the path. Frees w in every case. 0, or -1 + err. */
int pm_trace_writer_close(struct pm_trace_writer *w, char err[PM_ERR_LEN]);
/* For a memory writer: *buf (free() it) and *len receive the trace. */
int pm_trace_writer_close_mem(struct pm_trace_writer *w, uint8_t **buf, size_t *len,
                              char err[PM_ERR_LEN]);
/* Discards: removes the .tmp, frees w. */
void pm_trace_writer_abort(struct pm_trace_writer *w);

/* ---- text form ---- */

/* The text line of an op, without newline: "alloc 3 128", "calloc 4 10 16 obj"
 * (count before size, as calloc's arguments), "aligned 5 64 4096" (size, then
 * alignment), "free 3", "realloc 3 256 mem", "phase 1". Returns the length
 * (buf needs 80 bytes). */
size_t pm_trace_op_format(char *buf, const struct pm_trace_op *op);
const char *pm_trace_kind_name(unsigned kind);       /* "alloc"... or NULL */
const char *pm_trace_domain_name(unsigned domain);   /* "", "raw", "mem", "obj" */

/* Writes the canonical text form of t to out: validates the whole stream
 * first (so nothing is written for a bad trace), then writes. `lenient` reads
 * a cut or unfinished trace up to its last whole op. 0; -1 + err "NAME: op N
 * at byte B: problem" for a bad trace; -2 + err "write error: ..." if out
 * failed. */
int pm_trace_write_text(struct pm_trace *t, FILE *out, bool lenient, char err[PM_ERR_LEN]);

/* Converts t to out_path in `to` form (AUTO: text if out_path ends in ".txt",
 * else binary). The output appears only when complete and valid (written to
 * out_path.tmp, renamed); on failure out_path is untouched. Returns 0, -1 if
 * the input is bad (err names it: "IN: op N at byte B: ..."), -2 if the
 * output could not be written (err names the output file). */
int pm_trace_convert(struct pm_trace *t, const char *out_path, enum pm_trace_format to,
                     bool lenient, char err[PM_ERR_LEN]);
/* PM_TRACE_TEXT if path ends in ".txt", else PM_TRACE_BINARY. */
enum pm_trace_format pm_trace_format_for_path(const char *path);

/* ---- pointer -> slot ----
 * For writers that see pointers (a recorder, the object layer): each live
 * pointer has a dense slot; a freed slot is reused first (LIFO), so slot_count
 * stays close to the peak number of live blocks. Memory comes from mmap
 * through the OS layer, never malloc, so a malloc interposer may use it. The
 * table is a pm_addrset (open addressing, load <= 1/2); a stack of free
 * slots. Invariant: map.count + free_top == next_slot. */
struct pm_slotmap {
    struct pm_os os;      /* the mappings below (os.h) */
    struct pm_addrset map;/* pointer -> slot (the value word) */
    uint32_t *free_slots; /* stack of freed slots */
    size_t free_top;      /* entries in free_slots */
    size_t free_cap;
    uint64_t next_slot;   /* slots handed out ever: max slot + 1 */
};
int pm_slotmap_init(struct pm_slotmap *m);      /* 0, or -1 (out of memory) */
void pm_slotmap_destroy(struct pm_slotmap *m);
/* Maps a new pointer: returns its slot, -1 out of memory or out of slots,
 * -2 if ptr (or NULL) is already mapped / invalid. */
int64_t pm_slotmap_put(struct pm_slotmap *m, const void *ptr);
/* Unmaps ptr: returns its slot (now free for reuse), or -1 if not mapped. */
int64_t pm_slotmap_take(struct pm_slotmap *m, const void *ptr);
/* The slot of ptr, or -1. */
int64_t pm_slotmap_get(const struct pm_slotmap *m, const void *ptr);
static inline uint64_t pm_slotmap_slot_count(const struct pm_slotmap *m) { return m->next_slot; }
/* Pointers in the map now. */
static inline size_t pm_slotmap_live(const struct pm_slotmap *m) { return m->map.count; }

/* ---- generators (tracegen.c, docs/patterns.md) ---- */

enum pm_sizes_kind { PM_SIZES_PYTHON = 0, PM_SIZES_UNIFORM };

/* Which options the user set (pm_tracegen applies each pattern's defaults to
 * the rest and rejects options a pattern does not take). */
enum {
    PM_GEN_OPS = 1u << 0,
    PM_GEN_LIVE = 1u << 1,
    PM_GEN_SEED = 1u << 2,
    PM_GEN_SIZES = 1u << 3,
    PM_GEN_KEEP_EVERY = 1u << 4,
    PM_GEN_REALLOC_FRAC = 1u << 5,
    PM_GEN_AGAIN = 1u << 6,
    PM_GEN_MAX_LEN = 1u << 7,
    PM_GEN_AGAINST = 1u << 8,
    PM_GEN_LIVE_MAX = 1u << 9,
};

struct pm_tracegen_opts {
    unsigned set;          /* PM_GEN_* bits of the fields below that are given */
    uint64_t ops;          /* op budget (see each pattern for how exact) */
    uint64_t live;         /* live set / depth / queue / lists / blocks, per pattern */
    uint64_t seed;
    unsigned sizes;        /* enum pm_sizes_kind */
    uint64_t size_min;     /* PM_SIZES_UNIFORM: bytes, inclusive */
    uint64_t size_max;
    uint64_t keep_every;   /* survivors: keep every k-th block */
    uint64_t again;        /* survivors: blocks allocated after the frees */
    double realloc_frac;   /* churn: share of steady-state ops that are reallocs */
    uint64_t max_len;      /* growth: longest list, in items */
    const char *against;   /* adversary: pymalloc, segfit or buddy */
    uint64_t live_max;     /* adversary: requested bytes live at most */
};

struct pm_tracegen_pattern {
    const char *name;
    unsigned takes;        /* PM_GEN_* options it accepts */
    const char *summary;   /* one line */
};
extern const struct pm_tracegen_pattern pm_tracegen_patterns[];   /* NULL-terminated */

/* Writes pattern's metadata and ops to w (which must have no ops yet). The
 * output depends only on the pattern and the options. 0, or -1 + err (bad
 * pattern or option: nothing useful was written; abort the writer). */
int pm_tracegen(const char *pattern, const struct pm_tracegen_opts *o, struct pm_trace_writer *w,
                char err[PM_ERR_LEN]);

/* Checks pattern and options exactly as pm_tracegen does before it writes
 * anything (unknown pattern, an option the pattern does not take, ranges, ops
 * too few for live): 0, or -1 with err "gen PATTERN: problem". */
int pm_tracegen_check(const char *pattern, const struct pm_tracegen_opts *o, char err[PM_ERR_LEN]);

/* Parses "python" or "uniform:MIN-MAX" (K/M/G suffixes) into o. */
bool pm_tracegen_parse_sizes(const char *s, struct pm_tracegen_opts *o);

PM_API_END
#endif
