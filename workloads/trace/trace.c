/* workloads/trace/trace.c — the binary trace format: op encoding, the header, the
 * careful decoder and the op checker (the one place every problem message is
 * written), opening traces (mmap, header and metadata validation, the prescan
 * of an unfinished recording) and cursors (pm_trace_next's slow path).
 *
 * Entry points: pm_trace_encode_op, pm_trace_header_encode, pm_trace_open,
 * pm_trace_open_mem, pm_trace_close, the accessors, pm_trace_cursor_init,
 * pm_trace_cursor_init_lenient, pm_trace_next_slow. Format:
 * docs/trace-format.md.
 */
#include "trace_internal.h"
#include "fileio.h"
#include "msgescape.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(PM_OP_PHASE <= 7, "kinds fit the tag's 3 bits");
_Static_assert(PM_DOMAIN_OBJ <= 3, "domains fit 2 bits");
_Static_assert(PM_TRACE_OP_MAX == 3 + 4 + 8 + 8, "longest op: len, head, aw, slot, size, arg");
_Static_assert(PM_TRACE_FAST_MARGIN >= 2 + 4 + 8, "fast loads stay in the buffer (fields <= 2 + 4)");
_Static_assert(PM_TRACE_MAX_SIZE == (UINT64_C(1) << 40) - 1, "the fast path tests size >> 40");

/* pm_trace_heads: what the inline decoder needs to know about a head byte. */
#define HEAD_KIND(h) ((h) & 7u)
#define HEAD_DOM(h) (((h) >> 3) & 3u)
#define HEAD_SW(h) ((h) >> 5)
#define HEAD_SWOK(h) (HEAD_SW(h) <= 4 ? HEAD_SW(h) : 0)   /* a bad width is the slow path's */
#define HEAD_KP(h) ((unsigned)(PM_TRACE_KPROPS >> (HEAD_KIND(h) * 8)) & 0xffu)
#define HEAD_FAST(h)                                                                           \
    ((HEAD_KIND(h) == PM_OP_ALLOC || HEAD_KIND(h) == PM_OP_REALLOC ||                          \
      HEAD_KIND(h) == PM_OP_FREE) && HEAD_SW(h) <= 4)
#define HEAD(h)                                                                                \
    {.smask = (UINT64_C(1) << (8 * HEAD_SWOK(h))) - 1,                                         \
     .slow = !HEAD_FAST(h),                                                                    \
     .fields = 2 + HEAD_SWOK(h),                                                               \
     .maxzw = (HEAD_KP(h) & PM_TRACE_TK_SIZE) ? 8 : 0,                                         \
     .expect = (HEAD_KP(h) & PM_TRACE_TK_LIVE) != 0,                                           \
     .flip = (HEAD_KP(h) & PM_TRACE_TK_FLIP) != 0,                                             \
     .kind = HEAD_KIND(h),                                                                     \
     .domain = HEAD_DOM(h),                                                                    \
     .pad = 0}
#define HEAD4(h) HEAD(h), HEAD((h) + 1), HEAD((h) + 2), HEAD((h) + 3)
#define HEAD16(h) HEAD4(h), HEAD4((h) + 4), HEAD4((h) + 8), HEAD4((h) + 12)
#define HEAD64(h) HEAD16(h), HEAD16((h) + 16), HEAD16((h) + 32), HEAD16((h) + 48)
const struct pm_trace_headinfo pm_trace_heads[256] = {HEAD64(0u), HEAD64(64u), HEAD64(128u), HEAD64(192u)};

/* ---- encoding ---- */

static unsigned bytes_needed(uint64_t v)
{
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 8;
    }
    return n;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t pm_trace_encode_op(uint8_t *buf, const struct pm_trace_op *op, struct pm_trace_enc *st)
{
    unsigned kp = trace_kprops(op->kind);
    if (!(kp & PM_TRACE_TK_VALID) || op->domain > PM_DOMAIN_OBJ)
        return 0;
    if (!(kp & PM_TRACE_TK_SIZE) && op->size)
        return 0;   /* FREE and PHASE have no size field */
    if (!(kp & PM_TRACE_TK_ARG) && op->arg)
        return 0;
    uint64_t field;
    if (kp & PM_TRACE_TK_SLOT) {
        uint32_t d = op->slot - st->prev_slot;                                   /* mod 2^32 */
        field = ((uint64_t)d << 1 ^ (uint64_t)(0u - (d >> 31))) & 0xffffffffu;   /* zigzag */
        st->prev_slot = op->slot;
    } else {   /* PHASE: its number */
        if (op->domain)
            return 0;
        field = op->slot;
    }
    unsigned sw = bytes_needed(field), zw = bytes_needed(op->size), aw = bytes_needed(op->arg);
    bool has_aw = kp & PM_TRACE_TK_ARG;
    unsigned len = 2 + has_aw + sw + zw + aw;
    buf[0] = (uint8_t)len;
    buf[1] = PM_TRACE_HEAD(op->kind, op->domain, sw);
    uint8_t *p = buf + 2;
    if (has_aw)
        *p++ = (uint8_t)aw;
    p = put_le(p, field, sw);
    p = put_le(p, op->size, zw);
    put_le(p, op->arg, aw);
    return len;
}

void pm_trace_header_encode(uint8_t buf[PM_TRACE_HEADER_SIZE], const struct pm_trace_header *h)
{
    memcpy(buf, PM_TRACE_MAGIC, PM_TRACE_MAGIC_LEN);
    put_le(buf + 8, h->version, 4);
    put_le(buf + 12, h->flags, 4);
    put_le(buf + 16, h->op_count, 8);
    put_le(buf + 24, h->slot_count, 8);
    put_le(buf + 32, h->meta_len, 8);
}

void trace_err_prefix(char dst[PM_ERR_LEN], const char *prefix, const char *msg)
{
    size_t n = 0;
    for (const char *parts[3] = {prefix, ": ", msg}, **part = parts; part < parts + 3; part++)
        for (const char *s = *part; *s && n < PM_ERR_LEN - 1; s++)
            dst[n++] = *s;
    dst[n] = '\0';
    pm_msg_escape(dst, PM_ERR_LEN);
}

/* ---- decoding and checking ---- */


const char *pm_trace_kind_name(unsigned kind)
{
    static const char *const names[] = {NULL, "alloc", "calloc", "realloc", "free", "aligned", "phase"};
    return kind < sizeof names / sizeof *names ? names[kind] : NULL;
}

const char *pm_trace_domain_name(unsigned domain)
{
    static const char *const names[] = {"", "raw", "mem", "obj"};
    return domain < 4 ? names[domain] : "?";
}

int trace_decode_op(const uint8_t *p, const uint8_t *end, uint32_t *prev, struct pm_trace_op *op,
                    size_t *len, char *problem, size_t plen)
{
    size_t left = (size_t)(end - p);
    unsigned n = p[0];
    if (left < 2) {
        snprintf(problem, plen, "stream cut inside an op: 1 of its %u bytes is in the file", n);
        return 0;
    }
    unsigned head = p[1], kind = head & 7u, sw = head >> 5;
    unsigned kp = trace_kprops(kind);
    const char *name = pm_trace_kind_name(kind);
    if (!(kp & PM_TRACE_TK_VALID)) {
        snprintf(problem, plen, "unknown opcode: head byte 0x%02x has kind %u (known: 1..6)", head, kind);
        return -1;
    }
    if (!(kp & PM_TRACE_TK_SLOT) && (head >> 3 & 3u)) {
        snprintf(problem, plen, "malformed phase mark: head byte 0x%02x has domain bits (a phase has none)", head);
        return -1;
    }
    if (sw > 4) {
        snprintf(problem, plen, "malformed %s: head byte 0x%02x gives a %u-byte %s field (at most 4)", name, head,
                 sw, (kp & PM_TRACE_TK_SLOT) ? "slot" : "number");
        return -1;
    }
    unsigned has_aw = (kp & PM_TRACE_TK_ARG) ? 1 : 0;
    if (n < 2 + has_aw + sw || n > PM_TRACE_OP_MAX) {
        snprintf(problem, plen, "malformed %s: length byte %u (this head needs %u..%d)", name, n, 2 + has_aw + sw,
                 PM_TRACE_OP_MAX);
        return -1;
    }
    if (left < n) {
        snprintf(problem, plen, "stream cut inside a %s: %zu of its %u bytes are in the file", name, left, n);
        return 0;
    }
    unsigned aw = has_aw ? p[2] : 0;
    unsigned fields = 2 + has_aw;
    if (aw > 8 || fields + sw + aw > n) {
        snprintf(problem, plen, "malformed %s: argument width %u (at most 8, and within the op's %u bytes)", name,
                 aw, n);
        return -1;
    }
    unsigned zw = n - fields - sw - aw;
    if (zw > ((kp & PM_TRACE_TK_SIZE) ? 8u : 0u)) {
        snprintf(problem, plen, "malformed %s: a %u-byte size field (%s)", name, zw,
                 (kp & PM_TRACE_TK_SIZE) ? "at most 8" : "it takes none");
        return -1;
    }
    uint64_t f = get_le(p + fields, sw);
    op->kind = (uint8_t)kind;
    op->domain = (uint8_t)(head >> 3 & 3u);
    op->size = get_le(p + fields + sw, zw);
    op->arg = get_le(p + fields + sw + zw, aw);
    if (kp & PM_TRACE_TK_SLOT) {
        uint32_t delta = (uint32_t)(f >> 1) ^ (0u - (uint32_t)(f & 1));
        op->slot = *prev + delta;
        *prev = op->slot;
    } else {
        op->slot = (uint32_t)f;
    }
    *len = n;
    return 1;
}

int trace_op_check(const struct pm_trace_op *op, const uint64_t *live, uint64_t slot_count,
                   char *problem, size_t plen)
{
    unsigned kp = trace_kprops(op->kind);
    const char *name = pm_trace_kind_name(op->kind);
    if (!(kp & PM_TRACE_TK_VALID)) {
        snprintf(problem, plen, "unknown op kind %u", op->kind);
        return -1;
    }
    if (op->domain > PM_DOMAIN_OBJ) {
        snprintf(problem, plen, "unknown domain %u", op->domain);
        return -1;
    }
    if (!(kp & PM_TRACE_TK_SLOT)) {
        if (op->domain || op->size || op->arg) {
            snprintf(problem, plen, "a phase mark takes only its number");
            return -1;
        }
        return 0;
    }
    if (!(kp & PM_TRACE_TK_SIZE) && op->size) {
        snprintf(problem, plen, "a %s takes no size", name);
        return -1;
    }
    if (!(kp & PM_TRACE_TK_ARG) && op->arg) {
        snprintf(problem, plen, "a %s takes no argument", name);
        return -1;
    }
    if (op->slot >= slot_count) {
        snprintf(problem, plen, "slot %" PRIu32 " is beyond the header's slot count %" PRIu64, op->slot,
                 slot_count);
        return -1;
    }
    bool is_live = trace_live_test(live, op->slot);
    if ((kp & PM_TRACE_TK_LIVE) && !is_live) {
        snprintf(problem, plen, "%s of slot %" PRIu32 " which is not live", name, op->slot);
        return -1;
    }
    if (!(kp & PM_TRACE_TK_LIVE) && is_live) {
        snprintf(problem, plen, "%s into slot %" PRIu32 " which is live", name, op->slot);
        return -1;
    }
    if (op->size > PM_TRACE_MAX_SIZE) {
        snprintf(problem, plen, "%s of %" PRIu64 " bytes is over the limit (2^40 - 1 bytes)", name, op->size);
        return -1;
    }
    if (kp & PM_TRACE_TK_CALLOC) {
        uint64_t total;
        if (__builtin_mul_overflow(op->size, op->arg, &total)) {
            snprintf(problem, plen, "calloc of %" PRIu64 " x %" PRIu64 " bytes overflows 64 bits", op->arg,
                     op->size);
            return -1;
        }
        if (total > PM_TRACE_MAX_SIZE || op->arg > PM_TRACE_MAX_SIZE) {
            snprintf(problem, plen, "calloc of %" PRIu64 " x %" PRIu64 " bytes is over the limit (2^40 - 1 bytes)",
                     op->arg, op->size);
            return -1;
        }
    }
    if (kp & PM_TRACE_TK_ALIGNED) {
        if (op->arg & (op->arg - 1) || op->arg == 0) {
            snprintf(problem, plen, "alignment %" PRIu64 " is not a power of two", op->arg);
            return -1;
        }
        if (op->arg < PM_TRACE_MIN_ALIGN || op->arg > PM_TRACE_MAX_ALIGN) {
            snprintf(problem, plen, "alignment %" PRIu64 " is outside 8..1 GiB", op->arg);
            return -1;
        }
    }
    return 0;
}

int trace_live_cover(uint64_t **live, size_t *words, uint64_t s)
{
    size_t need = (size_t)(s >> 6) + 1;
    if (need <= *words)
        return 0;
    size_t n = *words ? *words : 16;
    while (n < need)
        n *= 2;
    uint64_t *b = realloc(*live, n * sizeof *b);
    if (!b)
        return -1;
    memset(b + *words, 0, (n - *words) * sizeof *b);
    *live = b;
    *words = n;
    return 0;
}

/* ---- metadata ---- */

bool trace_meta_key_ok(const char *key, size_t len, char *problem, size_t plen)
{
    if (len == 0) {
        snprintf(problem, plen, "empty metadata key");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (ch && strchr("_.:/-", ch)))) {
            snprintf(problem, plen, "metadata key '%.*s' has a byte 0x%02x outside [A-Za-z0-9_.:/-]",
                     (int)(len > 64 ? 64 : len), key, ch);
            return false;
        }
    }
    return true;
}

bool trace_meta_value_ok(const char *value, size_t len, char *problem, size_t plen)
{
    for (size_t i = 0; i < len; i++)
        if (value[i] == '\0' || value[i] == '\n' || value[i] == '\r') {
            snprintf(problem, plen, "metadata value has a %s byte at position %zu",
                     value[i] == '\0' ? "NUL" : value[i] == '\n' ? "LF" : "CR", i);
            return false;
        }
    return true;
}

int trace_meta_add(struct pm_trace *t, const char *key, size_t klen, const char *value, size_t vlen,
                   char *problem, size_t plen)
{
    /* The cap counts the bytes of the binary form ("key=value\n"), so the
     * text parser refuses what the writer could not write. */
    if (klen + vlen + 2 > PM_TRACE_MAX_META - t->meta_bytes) {
        snprintf(problem, plen, "metadata over the 16 MiB limit");
        return -1;
    }
    int added = pm_keyset_add(&t->meta_keys, key, klen);
    if (added < 0)
        goto oom;
    if (added == 0) {
        snprintf(problem, plen, "duplicate metadata key '%.*s'", (int)(klen > 64 ? 64 : klen), key);
        return -1;
    }
    if (t->nmeta == t->meta_cap) {
        size_t n = t->meta_cap ? 2 * t->meta_cap : 8;
        struct trace_meta *m = realloc(t->meta, n * sizeof *m);
        if (!m)
            goto oom;
        t->meta = m;
        t->meta_cap = n;
    }
    char *k = malloc(klen + 1 + vlen + 1);
    if (!k)
        goto oom;
    memcpy(k, key, klen);
    k[klen] = '\0';
    memcpy(k + klen + 1, value, vlen);
    k[klen + 1 + vlen] = '\0';
    t->meta[t->nmeta].key = k;
    t->meta[t->nmeta].value = k + klen + 1;
    t->nmeta++;
    t->meta_bytes += klen + vlen + 2;
    return 0;
oom:
    snprintf(problem, plen, "out of memory for metadata");
    return -1;
}

/* Parses "key=value\n" lines at file offset `at`; err names the line's byte. */
static int meta_parse(struct pm_trace *t, const uint8_t *m, size_t len, uint64_t at, char err[PM_ERR_LEN])
{
    char problem[TRACE_PROBLEM_LEN];
    size_t i = 0;
    while (i < len) {
        const uint8_t *nl = memchr(m + i, '\n', len - i);
        if (!nl) {
            snprintf(err, PM_ERR_LEN, "%s: byte %" PRIu64 ": metadata line is not ended by a newline",
                     t->name, at + i);
            return -1;
        }
        size_t llen = (size_t)(nl - (m + i));
        const uint8_t *eq = memchr(m + i, '=', llen);
        if (!eq) {
            snprintf(err, PM_ERR_LEN, "%s: byte %" PRIu64 ": metadata line has no '=' (key=value)", t->name,
                     at + i);
            return -1;
        }
        const char *key = (const char *)(m + i), *val = (const char *)(eq + 1);
        size_t klen = (size_t)(eq - (m + i)), vlen = llen - klen - 1;
        if (!trace_meta_key_ok(key, klen, problem, sizeof problem) ||
            !trace_meta_value_ok(val, vlen, problem, sizeof problem) ||
            trace_meta_add(t, key, klen, val, vlen, problem, sizeof problem)) {
            snprintf(err, PM_ERR_LEN, "%s: byte %" PRIu64 ": %s", t->name, at + i, problem);
            return -1;
        }
        i += llen + 1;
    }
    return 0;
}

/* ---- opening ---- */

/* Unfinished recording: find its whole ops and highest slot (structure only;
 * liveness is the cursor's). Stops at a partial op or a malformed one (which
 * a cursor then reports). */
static void prescan(struct pm_trace *t)
{
    const uint8_t *p = t->ops;
    uint32_t prev = 0;
    uint64_t n = 0, hi = 0;
    char problem[TRACE_PROBLEM_LEN];
    while (p < t->ops_end) {
        struct pm_trace_op op;
        size_t len;
        int r = trace_decode_op(p, t->ops_end, &prev, &op, &len, problem, sizeof problem);
        if (r == 0)
            t->partial_bytes = (uint64_t)(t->ops_end - p);
        if (r != 1)
            break;
        if ((trace_kprops(op.kind) & PM_TRACE_TK_SLOT) && (uint64_t)op.slot + 1 > hi)
            hi = (uint64_t)op.slot + 1;
        n++;
        p += len;
    }
    t->op_count = n;
    t->slot_count = hi;
}

static int load_binary(struct pm_trace *t, char err[PM_ERR_LEN])
{
    const uint8_t *f = t->file;
    size_t len = t->file_len;
    if (len < PM_TRACE_MAGIC_LEN || memcmp(f, PM_TRACE_MAGIC, PM_TRACE_MAGIC_LEN)) {
        snprintf(err, PM_ERR_LEN, "%s: byte 0: bad magic (not a pymemlab trace: expected \"PMTRACE\\0\")",
                 t->name);
        return -1;
    }
    if (len < PM_TRACE_HEADER_SIZE) {
        snprintf(err, PM_ERR_LEN, "%s: byte %zu: truncated header (the file has %zu bytes, the header %d)",
                 t->name, len, len, PM_TRACE_HEADER_SIZE);
        return -1;
    }
    struct pm_trace_header h = {
        .version = (uint32_t)get_le(f + 8, 4),
        .flags = (uint32_t)get_le(f + 12, 4),
        .op_count = get_le(f + 16, 8),
        .slot_count = get_le(f + 24, 8),
        .meta_len = get_le(f + 32, 8),
    };
    if (h.version != PM_TRACE_VERSION) {
        snprintf(err, PM_ERR_LEN, "%s: byte 8: unsupported trace version %" PRIu32 " (this build reads version %u)",
                 t->name, h.version, PM_TRACE_VERSION);
        return -1;
    }
    if (h.flags & ~PM_TRACE_FLAG_FINISHED) {
        snprintf(err, PM_ERR_LEN, "%s: byte 12: unknown header flags 0x%" PRIx32, t->name, h.flags);
        return -1;
    }
    t->finished = h.flags & PM_TRACE_FLAG_FINISHED;
    if (t->finished && h.op_count == PM_TRACE_OPS_UNKNOWN) {
        snprintf(err, PM_ERR_LEN, "%s: byte 16: the header is marked finished but its op count is unknown",
                 t->name);
        return -1;
    }
    if (h.slot_count > PM_TRACE_MAX_SLOTS) {
        snprintf(err, PM_ERR_LEN, "%s: byte 24: slot count %" PRIu64 " is over the limit of 2^32", t->name,
                 h.slot_count);
        return -1;
    }
    if (h.meta_len > PM_TRACE_MAX_META) {
        snprintf(err, PM_ERR_LEN, "%s: byte 32: metadata length %" PRIu64 " is over the 16 MiB limit", t->name,
                 h.meta_len);
        return -1;
    }
    if (h.meta_len > len - PM_TRACE_HEADER_SIZE) {
        snprintf(err, PM_ERR_LEN, "%s: byte 32: metadata length %" PRIu64 " runs past the end of the file (%zu bytes)",
                 t->name, h.meta_len, len);
        return -1;
    }
    if (meta_parse(t, f + PM_TRACE_HEADER_SIZE, (size_t)h.meta_len, PM_TRACE_HEADER_SIZE, err))
        return -1;
    t->format = PM_TRACE_BINARY;
    t->base = f;
    t->ops = f + PM_TRACE_HEADER_SIZE + h.meta_len;
    t->ops_end = f + len;
    if (t->finished) {
        t->op_count = h.op_count;
        t->slot_count = h.slot_count;
    } else {
        prescan(t);
    }
    return 0;
}

static int load(struct pm_trace *t, char err[PM_ERR_LEN])
{
    size_t head = t->file_len < 16 ? t->file_len : 16;
    if ((t->file_len >= PM_TRACE_MAGIC_LEN && !memcmp(t->file, PM_TRACE_MAGIC, PM_TRACE_MAGIC_LEN)) ||
        memchr(t->file, '\0', head))
        return load_binary(t, err);   /* binary by magic; NULs up front: binary with a bad magic */
    return trace_text_load(t, err);
}

static struct pm_trace *trace_new(const char *name, char err[PM_ERR_LEN])
{
    struct pm_trace *t = calloc(1, sizeof *t);
    if (t)
        t->name = strdup(name);
    if (!t || !t->name) {
        free(t);
        snprintf(err, PM_ERR_LEN, "%s: out of memory", name);
        return NULL;
    }
    return t;
}

int pm_trace_open_mem(const void *buf, size_t len, const char *name, struct pm_trace **out,
                      char err[PM_ERR_LEN])
{
    *out = NULL;
    struct pm_trace *t = trace_new(name, err);
    if (!t)
        return -1;
    t->file = buf;
    t->file_len = len;
    if (load(t, err)) {
        pm_msg_escape(err, PM_ERR_LEN);   /* words of the input, quoted: no control byte */
        pm_trace_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

int pm_trace_open(const char *path, struct pm_trace **out, char err[PM_ERR_LEN])
{
    *out = NULL;
    uint64_t size;
    int fd = pm_file_open_read(path, SIZE_MAX, &size, err);
    if (fd < 0) {
        pm_msg_escape(err, PM_ERR_LEN);   /* the path itself may hold one */
        return -1;
    }
    struct pm_trace *t = trace_new(path, err);
    if (!t) {
        close(fd);
        return -1;
    }
    static const uint8_t empty[1];
    t->file = empty;
    t->file_len = (size_t)size;
    if (size > 0) {
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            snprintf(err, PM_ERR_LEN, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            pm_trace_close(t);
            return -1;
        }
        madvise(m, (size_t)size, MADV_SEQUENTIAL);
        t->file = m;
        t->mapped = true;
    }
    close(fd);
    if (load(t, err)) {
        pm_msg_escape(err, PM_ERR_LEN);
        pm_trace_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

void pm_trace_close(struct pm_trace *t)
{
    if (!t)
        return;
    if (t->mapped)
        munmap((void *)t->file, t->file_len);
    for (size_t i = 0; i < t->nmeta; i++)
        free(t->meta[i].key);
    free(t->meta);
    pm_keyset_free(&t->meta_keys);
    free(t->text_ops);
    free(t->live);
    free(t->name);
    free(t);
}

const char *pm_trace_name(const struct pm_trace *t) { return t->name; }
enum pm_trace_format pm_trace_format_of(const struct pm_trace *t) { return t->format; }
bool pm_trace_finished(const struct pm_trace *t) { return t->finished; }
uint64_t pm_trace_op_count(const struct pm_trace *t) { return t->op_count; }
uint64_t pm_trace_slot_count(const struct pm_trace *t) { return t->slot_count; }
uint64_t pm_trace_stream_bytes(const struct pm_trace *t) { return (uint64_t)(t->ops_end - t->ops); }
size_t pm_trace_meta_count(const struct pm_trace *t) { return t->nmeta; }

bool pm_trace_meta_at(const struct pm_trace *t, size_t i, const char **key, const char **value)
{
    if (i >= t->nmeta)
        return false;
    *key = t->meta[i].key;
    *value = t->meta[i].value;
    return true;
}

void pm_trace_prefault(const struct pm_trace *t)
{
    const volatile uint8_t *p = t->ops;
    size_t n = (size_t)(t->ops_end - t->ops);
    uint8_t sink = 0;
    for (size_t i = 0; i < n; i += 4096)
        sink ^= p[i];
    (void)sink;
}

const char *pm_trace_meta_get(const struct pm_trace *t, const char *key)
{
    for (size_t i = 0; i < t->nmeta; i++)
        if (!strcmp(t->meta[i].key, key))
            return t->meta[i].value;
    return NULL;
}

const char *pm_trace_phase_label(const struct pm_trace *t, uint32_t n)
{
    char key[32];
    snprintf(key, sizeof key, "phase.%" PRIu32, n);
    return pm_trace_meta_get(t, key);
}

/* ---- cursors ---- */

/* A zeroed bitmap of slot_count bits (at least one word, so that index 0 is
 * always readable). Big bitmaps are reallocated rather than cleared, so pages
 * a trace never touches stay unbacked. */
static uint64_t *live_reset(struct pm_trace *t)
{
    size_t words = (size_t)((t->slot_count + 63) / 64);
    if (words == 0)
        words = 1;
    if (t->live && t->live_words == words && words * sizeof(uint64_t) <= (1u << 20)) {
        memset(t->live, 0, words * sizeof(uint64_t));
        return t->live;
    }
    free(t->live);
    t->live = calloc(words, sizeof(uint64_t));
    t->live_words = t->live ? words : 0;
    return t->live;
}

static int cursor_fail(struct pm_trace_cursor *c, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cursor_fail(struct pm_trace_cursor *c, uint64_t offset, const char *fmt, ...)
{
    char problem[TRACE_PROBLEM_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    c->status = -1;
    c->fast_limit = 0;   /* every later call takes the slow path and returns -1 */
    c->err_index = c->index;
    c->err_offset = offset;
    snprintf(c->err, sizeof c->err, "op %" PRIu64 " at byte %" PRIu64 ": %s", c->index, offset, problem);
    return -1;
}

uint64_t pm_trace_cursor_offset(const struct pm_trace_cursor *c) { return (uint64_t)(c->p - c->base); }

static int cursor_init(struct pm_trace_cursor *c, const struct pm_trace *ct, bool lenient)
{
    struct pm_trace *t = (struct pm_trace *)ct;   /* the bitmap is the trace's scratch */
    memset(c, 0, offsetof(struct pm_trace_cursor, err));
    c->err[0] = '\0';
    c->trace = t;
    c->lenient = lenient;
    c->base = t->base;
    c->p = t->ops;
    c->end = t->ops_end;
    c->fast_end = (size_t)(c->end - c->p) >= PM_TRACE_FAST_MARGIN ? c->end - PM_TRACE_FAST_MARGIN : c->p;
    c->slot_count = t->slot_count;
    c->fast_slots = t->slot_count ? t->slot_count - 1 : 0;
    c->op_count = t->finished ? t->op_count : PM_TRACE_OPS_UNKNOWN;
    c->fast_limit = t->finished ? t->op_count : UINT64_MAX;
    static uint64_t dead_word;   /* never written: a failed cursor stops before the fast path */
    c->live = &dead_word;
    if (!t->finished && !lenient)
        return cursor_fail(c, pm_trace_cursor_offset(c),
                           "the recording did not finish (the header's op count is unknown; %" PRIu64
                           " whole ops%s follow): read it leniently to replay them",
                           t->op_count, t->partial_bytes ? " and a partial one" : "");
    c->live = live_reset(t);
    if (!c->live) {
        c->live = &dead_word;
        return cursor_fail(c, pm_trace_cursor_offset(c), "out of memory for a bitmap of %" PRIu64 " slots",
                           t->slot_count);
    }
    return 0;
}

int pm_trace_cursor_init(struct pm_trace_cursor *c, const struct pm_trace *t) { return cursor_init(c, t, false); }
int pm_trace_cursor_init_lenient(struct pm_trace_cursor *c, const struct pm_trace *t)
{
    return cursor_init(c, t, true);
}

/* The stream ended at an op boundary. */
static int cursor_end(struct pm_trace_cursor *c)
{
    uint64_t off = pm_trace_cursor_offset(c);
    if (c->op_count != PM_TRACE_OPS_UNKNOWN && c->index < c->op_count) {
        if (!c->lenient)
            return cursor_fail(c, off, "the stream ends after %" PRIu64 " ops but the header says %" PRIu64,
                               c->index, c->op_count);
        c->missing_ops = c->op_count - c->index;
    } else if (c->slot_hi != c->slot_count) {   /* the top slot was never used */
        return cursor_fail(c, off, "the header says %" PRIu64 " slots but no op uses slot %" PRIu64,
                           c->slot_count, c->slot_count - 1);
    }
    c->status = 1;
    c->fast_limit = 0;
    return 0;
}

int pm_trace_next_slow(struct pm_trace_cursor *c, struct pm_trace_op *op)
{
    if (c->status)
        return c->status > 0 ? 0 : -1;
    uint64_t off = pm_trace_cursor_offset(c);
    if (c->op_count != PM_TRACE_OPS_UNKNOWN && c->index >= c->op_count && c->p < c->end)
        return cursor_fail(c, off, "more ops than the header's op count %" PRIu64 " (%zu more bytes follow)",
                           c->op_count, (size_t)(c->end - c->p));
    if (c->p >= c->end)
        return cursor_end(c);
    char problem[TRACE_PROBLEM_LEN];
    uint32_t prev = c->prev_slot;
    size_t len;
    int r = trace_decode_op(c->p, c->end, &prev, op, &len, problem, sizeof problem);
    if (r == 0 && c->lenient) {
        c->dropped_bytes = (uint64_t)(c->end - c->p);
        if (c->op_count != PM_TRACE_OPS_UNKNOWN)
            c->missing_ops = c->op_count - c->index;
        c->status = 1;
        c->fast_limit = 0;
        return 0;
    }
    if (r != 1 || trace_op_check(op, c->live, c->slot_count, problem, sizeof problem))
        return cursor_fail(c, off, "%s", problem);
    trace_op_apply(c->live, op);
    if ((trace_kprops(op->kind) & PM_TRACE_TK_SLOT) && (uint64_t)op->slot + 1 > c->slot_hi)
        c->slot_hi = (uint64_t)op->slot + 1;
    c->prev_slot = prev;
    c->p += len;
    c->index++;
    return 1;
}
