/* workloads/trace/trace_text.c — the text form of a trace: parsing (into memory,
 * re-encoded as a binary op stream, validated completely so that every error
 * names its line) and writing the canonical form.
 *
 * Entry points: trace_text_load (from pm_trace_open), pm_trace_op_format,
 * pm_trace_write_text. Grammar: docs/trace-format.md, "Text form".
 */
#include "trace_internal.h"
#include "pm_assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

/* ---- parsing ---- */

struct text_parser {
    struct pm_trace *t;
    const char *p, *end;        /* rest of the file */
    const char *line, *eol;     /* current line, without its newline (and CR) */
    uint64_t lineno;            /* 1-based */
    char *err;                  /* PM_ERR_LEN */
    uint8_t *out;               /* encoded ops */
    size_t out_len, out_cap;
    struct pm_trace_enc enc;
    uint64_t *live;             /* liveness so far */
    size_t live_words;
    uint64_t ops, slot_hi;      /* ops so far; max slot + 1 */
    bool have_header;
    bool have_ops, have_slots;
    uint64_t hdr_ops, hdr_slots;        /* @ops, @slots values */
    uint64_t ops_line, slots_line;      /* where they were given */
};

static int fail_at(struct text_parser *s, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(struct text_parser *s, uint64_t line, const char *fmt, ...)
{
    char problem[TRACE_PROBLEM_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    snprintf(s->err, PM_ERR_LEN, "%s:%" PRIu64 ": %s", s->t->name, line, problem);
    return -1;
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\t'; }

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Next whitespace-separated token of [*p, end) (end: the comment or EOL). */
static bool next_token(const char **p, const char *end, const char **tok, size_t *len)
{
    const char *q = skip_ws(*p, end);
    if (q == end)
        return false;
    const char *e = q;
    while (e < end && !is_ws(*e))
        e++;
    *tok = q;
    *len = (size_t)(e - q);
    *p = e;
    return true;
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && !memcmp(tok, word, len);
}

/* Decimal digits only; false if not a number or over max. */
static bool parse_u64(const char *tok, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return false;
        unsigned d = (unsigned)(tok[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static int number(struct text_parser *s, const char *tok, size_t len, uint64_t max, const char *what,
                  uint64_t *out)
{
    if (parse_u64(tok, len, max, out))
        return 0;
    bool digits = len > 0 && len <= 64;
    for (size_t i = 0; i < len && digits; i++)
        digits = tok[i] >= '0' && tok[i] <= '9';
    if (digits)
        return fail_at(s, s->lineno, "%s %.*s is out of range (at most %" PRIu64 ")", what, (int)len, tok, max);
    return fail_at(s, s->lineno, "%s '%.*s' is not a decimal number", what, (int)(len > 40 ? 40 : len), tok);
}

static int out_reserve(struct text_parser *s)
{
    if (s->out_len + PM_TRACE_OP_MAX <= s->out_cap)
        return 0;
    size_t n = s->out_cap ? 2 * s->out_cap : 4096;
    uint8_t *b = realloc(s->out, n);
    if (!b)
        return fail_at(s, s->lineno, "out of memory");
    s->out = b;
    s->out_cap = n;
    return 0;
}

static int header_line(struct text_parser *s, const char *p, const char *end)
{
    const char *tok, *cend = memchr(p, '#', (size_t)(end - p));
    size_t len;
    uint64_t v;
    if (cend)
        end = cend;
    if (!next_token(&p, end, &tok, &len) || !tok_is(tok, len, "pmtrace"))
        return fail_at(s, s->lineno,
                       "not a pymemlab trace: expected the text header 'pmtrace %u' (or the binary magic)",
                       PM_TRACE_VERSION);
    if (!next_token(&p, end, &tok, &len) || !parse_u64(tok, len, UINT32_MAX, &v))
        return fail_at(s, s->lineno, "the header 'pmtrace' needs a version number");
    if (v != PM_TRACE_VERSION)
        return fail_at(s, s->lineno, "unsupported trace version %" PRIu64 " (this build reads version %u)", v,
                       PM_TRACE_VERSION);
    if (next_token(&p, end, &tok, &len))
        return fail_at(s, s->lineno, "unexpected '%.*s' after 'pmtrace %u'", (int)(len > 40 ? 40 : len), tok,
                       PM_TRACE_VERSION);
    s->have_header = true;
    return 0;
}

/* "@ops N", "@slots N", "@meta key=value" (the value is the rest of the line,
 * verbatim: no comment is stripped from it). */
static int directive_line(struct text_parser *s, const char *p, const char *end)
{
    const char *tok = p, *rest;
    size_t len = 0;
    next_token(&p, end, &tok, &len);
    if (s->ops)
        return fail_at(s, s->lineno, "'%.*s' after the first op (header lines come first)",
                       (int)(len > 40 ? 40 : len), tok);
    if (tok_is(tok, len, "@meta")) {
        rest = skip_ws(p, end);
        const char *eq = memchr(rest, '=', (size_t)(end - rest));
        if (!eq)
            return fail_at(s, s->lineno, "'@meta' needs key=value");
        char problem[TRACE_PROBLEM_LEN];
        if (!trace_meta_key_ok(rest, (size_t)(eq - rest), problem, sizeof problem) ||
            !trace_meta_value_ok(eq + 1, (size_t)(end - eq - 1), problem, sizeof problem) ||
            trace_meta_add(s->t, rest, (size_t)(eq - rest), eq + 1, (size_t)(end - eq - 1), problem,
                           sizeof problem))
            return fail_at(s, s->lineno, "%s", problem);
        return 0;
    }
    bool is_ops = tok_is(tok, len, "@ops"), is_slots = tok_is(tok, len, "@slots");
    if (!is_ops && !is_slots)
        return fail_at(s, s->lineno, "unknown header line '%.*s' (known: @ops, @slots, @meta)",
                       (int)(len > 40 ? 40 : len), tok);
    const char *name = is_ops ? "@ops" : "@slots";
    if (is_ops ? s->have_ops : s->have_slots)
        return fail_at(s, s->lineno, "duplicate %s", name);
    const char *cend = memchr(p, '#', (size_t)(end - p));
    if (!cend)
        cend = end;
    uint64_t v;
    if (!next_token(&p, cend, &tok, &len))
        return fail_at(s, s->lineno, "%s needs a number", name);
    if (number(s, tok, len, is_ops ? UINT64_MAX - 1 : PM_TRACE_MAX_SLOTS, is_ops ? "op count" : "slot count",
               &v))
        return -1;
    if (next_token(&p, cend, &tok, &len))
        return fail_at(s, s->lineno, "unexpected '%.*s' after %s", (int)(len > 40 ? 40 : len), tok, name);
    if (is_ops) {
        s->have_ops = true;
        s->hdr_ops = v;
        s->ops_line = s->lineno;
    } else {
        s->have_slots = true;
        s->hdr_slots = v;
        s->slots_line = s->lineno;
    }
    return 0;
}

static int op_line(struct text_parser *s, const char *p, const char *end)
{
    const char *cend = memchr(p, '#', (size_t)(end - p));
    if (cend)
        end = cend;
    const char *tok = p;
    size_t len = 0;
    next_token(&p, end, &tok, &len);
    struct pm_trace_op op = {0};
    for (unsigned k = PM_OP_ALLOC; k <= PM_OP_PHASE; k++)
        if (tok_is(tok, len, pm_trace_kind_name(k)))
            op.kind = (uint8_t)k;
    if (!op.kind)
        return fail_at(s, s->lineno,
                       "unknown op '%.*s' (known: alloc, calloc, realloc, free, aligned, phase)",
                       (int)(len > 40 ? 40 : len), tok);
    static const char *const forms[] = {
        [PM_OP_ALLOC] = "alloc SLOT SIZE [raw|mem|obj]",
        [PM_OP_CALLOC] = "calloc SLOT COUNT SIZE [raw|mem|obj]",
        [PM_OP_REALLOC] = "realloc SLOT SIZE [raw|mem|obj]",
        [PM_OP_FREE] = "free SLOT [raw|mem|obj]",
        [PM_OP_ALIGNED] = "aligned SLOT SIZE ALIGNMENT [raw|mem|obj]",
        [PM_OP_PHASE] = "phase NUMBER",
    };
    static const unsigned nargs[] = {[PM_OP_ALLOC] = 2, [PM_OP_CALLOC] = 3, [PM_OP_REALLOC] = 2,
                                     [PM_OP_FREE] = 1, [PM_OP_ALIGNED] = 3, [PM_OP_PHASE] = 1};
    uint64_t v[3] = {0};
    for (unsigned i = 0; i < nargs[op.kind]; i++) {
        if (!next_token(&p, end, &tok, &len))
            return fail_at(s, s->lineno, "too few numbers (expected '%s')", forms[op.kind]);
        const char *what = i == 0 ? (op.kind == PM_OP_PHASE ? "phase number" : "slot")
                           : op.kind == PM_OP_CALLOC && i == 1 ? "count"
                           : i == 1 ? "size" : op.kind == PM_OP_CALLOC ? "size" : "alignment";
        if (number(s, tok, len, i == 0 ? UINT32_MAX : UINT64_MAX, what, &v[i]))
            return -1;
    }
    op.slot = (uint32_t)v[0];
    switch (op.kind) {
    case PM_OP_CALLOC: op.arg = v[1]; op.size = v[2]; break;
    case PM_OP_ALIGNED: op.size = v[1]; op.arg = v[2]; break;
    case PM_OP_ALLOC: case PM_OP_REALLOC: op.size = v[1]; break;
    default: break;
    }
    if (op.kind != PM_OP_PHASE && next_token(&p, end, &tok, &len)) {
        for (unsigned d = PM_DOMAIN_RAW; d <= PM_DOMAIN_OBJ; d++)
            if (tok_is(tok, len, pm_trace_domain_name(d)))
                op.domain = (uint8_t)d;
        if (!op.domain)
            return fail_at(s, s->lineno, "unknown domain '%.*s' (known: raw, mem, obj)",
                           (int)(len > 40 ? 40 : len), tok);
    }
    if (next_token(&p, end, &tok, &len))
        return fail_at(s, s->lineno, "unexpected '%.*s' (expected '%s')", (int)(len > 40 ? 40 : len), tok,
                       forms[op.kind]);
    if (s->have_ops && s->ops == s->hdr_ops)
        return fail_at(s, s->lineno, "more ops than the header's op count %" PRIu64 " (@ops on line %" PRIu64 ")",
                       s->hdr_ops, s->ops_line);
    bool is_slot = trace_kprops(op.kind) & PM_TRACE_TK_SLOT;
    if (is_slot && trace_live_cover(&s->live, &s->live_words, op.slot))
        return fail_at(s, s->lineno, "out of memory");
    char problem[TRACE_PROBLEM_LEN];
    if (trace_op_check(&op, s->live, s->have_slots ? s->hdr_slots : PM_TRACE_MAX_SLOTS, problem, sizeof problem))
        return fail_at(s, s->lineno, "%s", problem);
    trace_op_apply(s->live, &op);
    if (is_slot && (uint64_t)op.slot + 1 > s->slot_hi)
        s->slot_hi = (uint64_t)op.slot + 1;
    if (out_reserve(s))
        return -1;
    size_t n = pm_trace_encode_op(s->out + s->out_len, &op, &s->enc);
    pm_assert(n > 0);   /* trace_op_check accepted it, so it is representable */
    s->out_len += n;
    s->ops++;
    return 0;
}

int trace_text_load(struct pm_trace *t, char err[PM_ERR_LEN])
{
    struct text_parser s = {.t = t, .p = (const char *)t->file, .end = (const char *)t->file + t->file_len,
                            .err = err};
    int rc = -1;
    while (s.p < s.end) {
        s.lineno++;
        s.line = s.p;
        const char *nl = memchr(s.p, '\n', (size_t)(s.end - s.p));
        size_t llen = nl ? (size_t)(nl - s.line) : (size_t)(s.end - s.line);
        s.p = nl ? nl + 1 : s.end;
        if (llen && s.line[llen - 1] == '\r')
            llen--;
        s.eol = s.line + llen;
        if (memchr(s.line, '\0', llen)) {
            fail_at(&s, s.lineno, "NUL byte in a text trace");
            goto out;
        }
        const char *q = skip_ws(s.line, s.eol);
        if (q == s.eol || *q == '#')
            continue;
        int r = !s.have_header ? header_line(&s, q, s.eol) : *q == '@' ? directive_line(&s, q, s.eol)
                                                                        : op_line(&s, q, s.eol);
        if (r)
            goto out;
    }
    if (!s.have_header) {
        fail_at(&s, 1, "not a pymemlab trace: %s (expected the text header 'pmtrace %u' or the binary magic)",
                t->file_len ? "no header line" : "empty file", PM_TRACE_VERSION);
        goto out;
    }
    if (s.have_ops && s.ops < s.hdr_ops) {
        fail_at(&s, s.ops_line, "the header says %" PRIu64 " ops but the trace has %" PRIu64, s.hdr_ops, s.ops);
        goto out;
    }
    if (s.have_slots && s.hdr_slots != s.slot_hi) {
        if (s.slot_hi)
            fail_at(&s, s.slots_line, "the header says %" PRIu64 " slots but the highest slot used is %" PRIu64,
                    s.hdr_slots, s.slot_hi - 1);
        else
            fail_at(&s, s.slots_line, "the header says %" PRIu64 " slots but no op uses a slot", s.hdr_slots);
        goto out;
    }
    t->format = PM_TRACE_TEXT;
    t->finished = true;
    t->op_count = s.ops;
    t->slot_count = s.slot_hi;
    t->text_ops = s.out ? s.out : malloc(1);
    if (!t->text_ops) {
        fail_at(&s, s.lineno, "out of memory");
        goto out;
    }
    s.out = NULL;
    t->base = t->text_ops;
    t->ops = t->text_ops;
    t->ops_end = t->text_ops + s.out_len;
    rc = 0;
out:
    free(s.out);
    free(s.live);
    return rc;
}

/* ---- writing ---- */

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

size_t pm_trace_op_format(char *buf, const struct pm_trace_op *op)
{
    const char *name = pm_trace_kind_name(op->kind);
    char *p = buf;
    if (!name)
        name = "?";
    size_t n = strlen(name);
    memcpy(p, name, n);
    p += n;
    *p++ = ' ';
    p = put_u64(p, op->slot);
    switch (op->kind) {
    case PM_OP_CALLOC:
        *p++ = ' ';
        p = put_u64(p, op->arg);
        *p++ = ' ';
        p = put_u64(p, op->size);
        break;
    case PM_OP_ALIGNED:
        *p++ = ' ';
        p = put_u64(p, op->size);
        *p++ = ' ';
        p = put_u64(p, op->arg);
        break;
    case PM_OP_ALLOC:
    case PM_OP_REALLOC:
        *p++ = ' ';
        p = put_u64(p, op->size);
        break;
    default:
        break;
    }
    if (op->domain) {
        const char *d = pm_trace_domain_name(op->domain);
        *p++ = ' ';
        memcpy(p, d, 3);
        p += 3;
    }
    *p = '\0';
    return (size_t)(p - buf);
}

static int open_cursor(struct pm_trace *t, struct pm_trace_cursor *c, bool lenient, char err[PM_ERR_LEN])
{
    int r = lenient ? pm_trace_cursor_init_lenient(c, t) : pm_trace_cursor_init(c, t);
    if (r)
        trace_err_prefix(err, t->name, c->err);
    return r;
}

int pm_trace_write_text(struct pm_trace *t, FILE *out, bool lenient, char err[PM_ERR_LEN])
{
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    int r;
    /* Pass 1: validate, and learn the counts of what will be written. */
    if (open_cursor(t, &c, lenient, err))
        return -1;
    uint64_t slots = 0;
    while ((r = pm_trace_next(&c, &op)) == 1)
        if (op.kind != PM_OP_PHASE && (uint64_t)op.slot + 1 > slots)
            slots = (uint64_t)op.slot + 1;
    if (r < 0) {
        trace_err_prefix(err, t->name, c.err);
        return -1;
    }
    uint64_t ops = c.index;
    /* Pass 2: write. */
    fprintf(out, "pmtrace %u\n@ops %" PRIu64 "\n@slots %" PRIu64 "\n", PM_TRACE_VERSION, ops, slots);
    for (size_t i = 0; i < t->nmeta; i++)
        fprintf(out, "@meta %s=%s\n", t->meta[i].key, t->meta[i].value);
    if (open_cursor(t, &c, lenient, err))
        return -1;
    char buf[1 << 16];
    size_t len = 0;
    while ((r = pm_trace_next(&c, &op)) == 1) {
        len += pm_trace_op_format(buf + len, &op);
        buf[len++] = '\n';
        if (len > sizeof buf - 100) {
            fwrite(buf, 1, len, out);
            len = 0;
        }
    }
    fwrite(buf, 1, len, out);
    pm_assert(r == 0 && c.index == ops);
    if (fflush(out) || ferror(out)) {
        snprintf(err, PM_ERR_LEN, "write error: %s", strerror(errno));
        return -2;
    }
    return 0;
}
