/* workloads/trace/trace_internal.h — what trace.c, trace_text.c and trace_write.c
 * share and the API does not show: the trace object, the careful decoder, the
 * op checker (one source of every problem message), metadata storage and the
 * liveness bitmap helpers. */
#ifndef PM_TRACE_INTERNAL_H
#define PM_TRACE_INTERNAL_H

#include "keyset.h"
#include "trace.h"

/* Size of a problem text, short enough that "op N at byte B: " or
 * "NAME:LINE: " still fits a PM_ERR_LEN message. */
#define TRACE_PROBLEM_LEN 192

/* dst = "prefix: msg", cut to PM_ERR_LEN bytes. */
void trace_err_prefix(char dst[PM_ERR_LEN], const char *prefix, const char *msg);

struct trace_meta {
    char *key;     /* NUL-terminated, in the trace's pool */
    char *value;
};

struct pm_trace {
    char *name;                 /* path or name, for messages */
    enum pm_trace_format format;
    const uint8_t *file;        /* the file's bytes (our mmap or the caller's buffer) */
    size_t file_len;            /* bytes */
    bool mapped;                /* file is our mmap, unmapped on close */
    uint8_t *text_ops;          /* text form: the ops re-encoded in binary (heap) */
    const uint8_t *ops;         /* op stream: [ops, ops_end) */
    const uint8_t *ops_end;
    const uint8_t *base;        /* byte offsets are counted from here */
    bool finished;              /* header flag (text: always) */
    uint64_t op_count;          /* finished: header's; else whole ops found by the prescan */
    uint64_t slot_count;        /* finished: header's; else max slot + 1 of the prescan */
    uint64_t partial_bytes;     /* unfinished: bytes of a trailing partial op */
    struct trace_meta *meta;    /* nmeta pairs in file order */
    size_t nmeta, meta_cap;
    struct pm_keyset meta_keys; /* the keys of meta, for the linear duplicate check */
    uint64_t meta_bytes;        /* sum of klen + vlen + 2 ("key=value\n"), <= PM_TRACE_MAX_META */
    uint64_t *live;             /* liveness bitmap for cursors, live_words words */
    size_t live_words;
};

/* Per-kind properties, one byte per kind in PM_TRACE_KPROPS. */
#define PM_TRACE_TK_VALID 0x01u    /* a known kind */
#define PM_TRACE_TK_SIZE 0x02u     /* has a size field */
#define PM_TRACE_TK_SLOT 0x04u     /* names a block slot (range + liveness checked); has byte 2 */
#define PM_TRACE_TK_LIVE 0x08u     /* the slot must be live (else: must be free) */
#define PM_TRACE_TK_FLIP 0x10u     /* the op toggles the slot's liveness */
#define PM_TRACE_TK_ARG 0x20u      /* may carry an arg field */
#define PM_TRACE_TK_CALLOC 0x40u   /* arg * size must fit the limit */
#define PM_TRACE_TK_ALIGNED 0x80u  /* arg is an alignment */
#define PM_TRACE_KPROPS                                                                       \
    (((uint64_t)(PM_TRACE_TK_VALID | PM_TRACE_TK_SIZE | PM_TRACE_TK_SLOT | PM_TRACE_TK_FLIP)      \
      << (8 * PM_OP_ALLOC)) |                                                                   \
     ((uint64_t)(PM_TRACE_TK_VALID | PM_TRACE_TK_SIZE | PM_TRACE_TK_SLOT | PM_TRACE_TK_FLIP |     \
                 PM_TRACE_TK_ARG | PM_TRACE_TK_CALLOC) << (8 * PM_OP_CALLOC)) |                   \
     ((uint64_t)(PM_TRACE_TK_VALID | PM_TRACE_TK_SIZE | PM_TRACE_TK_SLOT | PM_TRACE_TK_LIVE)      \
      << (8 * PM_OP_REALLOC)) |                                                                 \
     ((uint64_t)(PM_TRACE_TK_VALID | PM_TRACE_TK_SLOT | PM_TRACE_TK_LIVE | PM_TRACE_TK_FLIP)        \
      << (8 * PM_OP_FREE)) |                                                                    \
     ((uint64_t)(PM_TRACE_TK_VALID | PM_TRACE_TK_SIZE | PM_TRACE_TK_SLOT | PM_TRACE_TK_FLIP |     \
                 PM_TRACE_TK_ARG | PM_TRACE_TK_ALIGNED) << (8 * PM_OP_ALIGNED)) |                 \
     ((uint64_t)PM_TRACE_TK_VALID << (8 * PM_OP_PHASE)))

/* Per-kind properties (PM_TRACE_TK_*), 0 for an unknown kind. */
static inline unsigned trace_kprops(unsigned kind)
{
    return kind < 8 ? (unsigned)(PM_TRACE_KPROPS >> (kind * 8)) & 0xffu : 0;
}

static inline bool trace_live_test(const uint64_t *live, uint64_t s)
{
    return (live[s >> 6] >> (s & 63)) & 1;
}
static inline void trace_live_flip(uint64_t *live, uint64_t s)
{
    live[s >> 6] ^= UINT64_C(1) << (s & 63);
}

/* Decodes the op at p without reading past end. Returns 1 (op, *len, *prev
 * updated), 0 if the stream ends inside the op, -1 if the op is malformed
 * (tag, widths); problem receives the reason for 0 and -1. */
int trace_decode_op(const uint8_t *p, const uint8_t *end, uint32_t *prev, struct pm_trace_op *op,
                    size_t *len, char *problem, size_t plen);

/* Checks one op against the structure rules, the limits, slot_count and the
 * liveness bitmap (which must cover op->slot if slot < slot_count). Returns 0,
 * or -1 with the problem. Does not change the bitmap. */
int trace_op_check(const struct pm_trace_op *op, const uint64_t *live, uint64_t slot_count,
                   char *problem, size_t plen);
/* Applies a checked op to the bitmap. */
static inline void trace_op_apply(uint64_t *live, const struct pm_trace_op *op)
{
    if (trace_kprops(op->kind) & PM_TRACE_TK_FLIP)
        trace_live_flip(live, op->slot);
}

/* Grows a bitmap (zeroing the new words) so that it covers slot s. */
int trace_live_cover(uint64_t **live, size_t *words, uint64_t s);

/* Metadata key and value rules; false with the problem. */
bool trace_meta_key_ok(const char *key, size_t len, char *problem, size_t plen);
bool trace_meta_value_ok(const char *value, size_t len, char *problem, size_t plen);
/* Appends a pair (copied) to t; -1 with the problem on a duplicate key or
 * out of memory. */
int trace_meta_add(struct pm_trace *t, const char *key, size_t klen, const char *value, size_t vlen,
                   char *problem, size_t plen);

/* Parses the text form in t->file into t (ops re-encoded into t->text_ops),
 * validating everything. err: "NAME:LINE: problem". */
int trace_text_load(struct pm_trace *t, char err[PM_ERR_LEN]);

#endif
