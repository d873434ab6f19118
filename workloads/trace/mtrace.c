/* workloads/trace/mtrace.c — imports a glibc mtrace log (MALLOC_TRACE) as a trace.
 *
 * Addresses become slots through a struct pm_slotmap (LIFO reuse, as the
 * recorder). What the log cannot say is handled, counted and reported, never
 * a failure: a free of a pointer the log never allocated (allocated before
 * mtrace() or after muntrace(), or in a part of the log that is missing) is
 * dropped; a realloc of one records the new block as an alloc; an allocation
 * at an address that is still live means the log lacks a free, which is
 * inserted; failed requests make no op. mtrace does not log alignment, so
 * memalign & co. are plain allocs; calloc is logged as malloc, so it is too.
 * Format: mtrace.h.
 *
 * Entry point: pm_mtrace_import.
 */
#include "msgescape.h"
#include "mtrace.h"
#include "trace_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

struct mt {
    const char *name;
    struct pm_trace_writer *w;
    struct pm_mtrace_report *r;
    struct pm_slotmap map;
    char *err;
    uint64_t line;
};

static int mt_fail(struct mt *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mt_fail(struct mt *m, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[PM_ERR_LEN];
    snprintf(where, sizeof where, "%s:%" PRIu64, m->name, m->line);
    trace_err_prefix(m->err, where, msg);
    return -1;
}

static int emit(struct mt *m, unsigned kind, int64_t slot, uint64_t size)
{
    m->r->ops++;
    m->r->allocs += kind == PM_OP_ALLOC;
    m->r->reallocs += kind == PM_OP_REALLOC;
    m->r->frees += kind == PM_OP_FREE;
    if (!m->w)
        return 0;
    struct pm_trace_op op = {.kind = (uint8_t)kind, .slot = (uint32_t)slot, .size = size};
    if (pm_trace_writer_op(m->w, &op)) {
        snprintf(m->err, PM_ERR_LEN, "%s", pm_trace_writer_error(m->w));
        return -2;
    }
    return 0;
}

static int oom(struct mt *m)
{
    snprintf(m->err, PM_ERR_LEN, "%s:%" PRIu64 ": out of memory (or over 2^32 live blocks) in the address map",
             m->name, m->line);
    return -1;
}

/* A new block at p (size n). */
static int mt_new(struct mt *m, uintptr_t p, uint64_t n)
{
    if (n > PM_TRACE_MAX_SIZE) {
        m->r->oversize++;
        return 0;
    }
    int64_t s = pm_slotmap_put(&m->map, (void *)p);
    if (s == -2) {   /* still live: the log lacks its free */
        int64_t old = pm_slotmap_take(&m->map, (void *)p);
        m->r->missed_frees++;
        int rc = emit(m, PM_OP_FREE, old, 0);
        if (rc)
            return rc;
        s = pm_slotmap_put(&m->map, (void *)p);
    }
    if (s < 0)
        return oom(m);
    return emit(m, PM_OP_ALLOC, s, n);
}

static int mt_free(struct mt *m, uintptr_t p)
{
    int64_t s = pm_slotmap_take(&m->map, (void *)p);
    if (s < 0) {
        m->r->unknown_frees++;
        return 0;
    }
    return emit(m, PM_OP_FREE, s, 0);
}

static int mt_realloc(struct mt *m, uintptr_t old, uintptr_t p, uint64_t n)
{
    int64_t s = pm_slotmap_get(&m->map, (void *)old);
    if (s < 0) {
        m->r->unknown_reallocs++;
        return mt_new(m, p, n);
    }
    if (n > PM_TRACE_MAX_SIZE) {   /* the block goes out of the trace */
        m->r->oversize++;
        pm_slotmap_take(&m->map, (void *)old);
        return emit(m, PM_OP_FREE, s, 0);
    }
    if (p != old) {
        int64_t stale = pm_slotmap_take(&m->map, (void *)p);
        if (stale >= 0) {
            m->r->missed_frees++;
            int rc = emit(m, PM_OP_FREE, stale, 0);
            if (rc)
                return rc;
        }
        pm_slotmap_take(&m->map, (void *)old);
        if (pm_slotmap_put(&m->map, (void *)p) != s)   /* LIFO: the slot old just left */
            return oom(m);
    }
    return emit(m, PM_OP_REALLOC, s, n);
}

/* Parses a hex address "0x..." or "(nil)" (0). */
static bool parse_addr(const char *t, uintptr_t *v)
{
    if (!strcmp(t, "(nil)")) {
        *v = 0;
        return true;
    }
    if (t[0] != '0' || (t[1] != 'x' && t[1] != 'X') || !isxdigit((unsigned char)t[2]))
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(t + 2, &end, 16);
    if (*end || errno)
        return false;
    *v = (uintptr_t)x;
    return true;
}

/* Parses a size: "0x..." (glibc's %#lx) or decimal. */
static bool parse_size(const char *t, uint64_t *v)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)t[0]))
        return false;
    unsigned long long x;
    if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
        if (!isxdigit((unsigned char)t[2]))
            return false;
        x = strtoull(t + 2, &end, 16);
    } else {
        x = strtoull(t, &end, 10);
    }
    if (*end || errno)
        return false;
    *v = x;
    return true;
}

#define MT_TOKENS 64
#define MT_EXPECT "expected '@ CALLER + ADDR SIZE', '- ADDR', '< ADDR', '> ADDR SIZE', '! ADDR SIZE', '= Start' or '= End'"

int pm_mtrace_import(FILE *in, const char *name, struct pm_trace_writer *w, struct pm_mtrace_report *r,
                     char err[PM_ERR_LEN])
{
    struct mt m = {.name = name, .w = w, .r = r, .err = err};
    memset(r, 0, sizeof *r);
    if (pm_slotmap_init(&m.map)) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory", name);
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    uintptr_t pending = 0;        /* the '<' block awaiting its '>' line */
    bool have_pending = false;
    uint64_t pending_line = 0;
    while (rc == 0 && (got = getline(&buf, &cap, in)) >= 0) {
        m.line = ++r->lines;
        if ((size_t)got != strlen(buf)) {
            rc = mt_fail(&m, "a NUL byte in the line (not an mtrace log?)");
            break;
        }
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
            buf[--got] = '\0';
        char shown[64];   /* the line as read, for messages */
        snprintf(shown, sizeof shown, "%.50s%s", buf, got > 50 ? "..." : "");
        /* split into at most MT_TOKENS tokens (a caller may hold spaces) */
        char *tok[MT_TOKENS];
        int nt = 0;
        for (char *s = strtok(buf, " \t"); s; s = strtok(NULL, " \t")) {
            if (nt == MT_TOKENS) {
                nt = MT_TOKENS + 1;
                break;
            }
            tok[nt++] = s;
        }
        if (nt == 0)
            continue;
        if (nt == 2 && !strcmp(tok[0], "=") && (!strcmp(tok[1], "Start") || !strcmp(tok[1], "End"))) {
            if (have_pending) {
                m.line = pending_line;
                rc = mt_fail(&m, "a realloc's '<' line without its '>' line");
                break;
            }
            r->sections += tok[1][0] == 'S';
            continue;
        }
        /* "@ CALLER..." prefix: the op is the token before the address
         * (and size), counted from the right, as CALLER may hold spaces. */
        int first = 0;
        if (!strcmp(tok[0], "@")) {
            if (nt < 4) {
                rc = mt_fail(&m, "unrecognised mtrace line '%s' (" MT_EXPECT ")", shown);
                break;
            }
            first = nt - 2;
            if (!(strlen(tok[first]) == 1 && strchr("-<", tok[first][0])))
                first = nt - 3;
            if (first < 2) {
                rc = mt_fail(&m, "unrecognised mtrace line '%s' (" MT_EXPECT ")", shown);
                break;
            }
        }
        const char *opt = tok[first];
        int nargs = nt - first - 1;
        char op = strlen(opt) == 1 ? opt[0] : '?';
        int want = op == '-' || op == '<' ? 1 : op == '+' || op == '>' || op == '!' ? 2 : -1;
        if (want < 0 || nargs != want || nt > MT_TOKENS) {
            rc = mt_fail(&m, "unrecognised mtrace line '%s' (" MT_EXPECT ")", shown);
            break;
        }
        uintptr_t a;
        uint64_t n = 0;
        if (!parse_addr(tok[first + 1], &a)) {
            rc = mt_fail(&m, "bad address '%.40s' (expected 0x... or (nil))", tok[first + 1]);
            break;
        }
        if (want == 2 && !parse_size(tok[first + 2], &n)) {
            rc = mt_fail(&m, "bad size '%.40s' (expected 0x... or a decimal number)", tok[first + 2]);
            break;
        }
        if (have_pending != (op == '>')) {
            if (have_pending)
                m.line = pending_line;
            rc = mt_fail(&m, have_pending ? "a realloc's '<' line without its '>' line"
                                          : "a realloc's '>' line without the '<' line before it");
            break;
        }
        switch (op) {
        case '+':
            if (!a)
                r->failed++;
            else
                rc = mt_new(&m, a, n);
            break;
        case '-':
            if (a)
                rc = mt_free(&m, a);
            break;
        case '!':
            r->failed++;
            break;
        case '<':
            pending = a;
            have_pending = true;
            pending_line = m.line;
            break;
        case '>':
            have_pending = false;
            rc = a ? mt_realloc(&m, pending, a, n) : 0;
            break;
        }
    }
    if (rc == 0 && ferror(in)) {
        snprintf(err, PM_ERR_LEN, "%s: read error: %s", name, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && have_pending) {
        m.line = pending_line;
        rc = mt_fail(&m, "a realloc's '<' line without its '>' line (the log ends)");
    }
    r->live_at_end = pm_slotmap_live(&m.map);
    r->slots = pm_slotmap_slot_count(&m.map);
    free(buf);
    pm_slotmap_destroy(&m.map);
    if (rc)
        pm_msg_escape(err, PM_ERR_LEN);   /* the log's bytes, quoted: one line, no control byte */
    return rc;
}
