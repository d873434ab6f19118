/* fuzz/fuzz_objscript.c — the object-script parser and interpreter
 * (objects/pm_objscript.h, docs/objscript.md) on arbitrary bytes, over
 * debug:system (glibc underneath, so ASan sees every object; the debug
 * wrapper's pads catch overruns that stay inside a block's rounding, and its
 * destroy frees what a failed script left, so LeakSanitizer stays quiet
 * unless the object layer itself leaks).
 *
 * Bounded work: before parsing, a scan that follows the parser's lexical
 * rules (lines split at '\n', words at blanks and '#') weighs the script:
 * each line costs the product of the counts of the `repeat` blocks around
 * it, more for `int bits N` and `bytes N`; an input over FO_BUDGET is not
 * run (a `repeat 1000000` would make one input take seconds). The scan only
 * overestimates: a count it cannot read makes the parser reject the line.
 *
 * Oracle: a parse error is one line of printable ASCII "fuzz.txt:LINE: ..."
 * (words from the script escaped); a run returns a pm_objscript_status, with
 * such a message unless OK; whatever it returned, the collector's lists are
 * consistent (pm_objspace_check); a run that succeeded must also pass
 * pm_objscript_finish (the refcount invariant, everything collectable once
 * the names are dropped, whatever its finalizers do) and leave no block in
 * the backend when the space is destroyed; the backend's misuse handler
 * fails on any report (the object layer never misuses its allocator).
 */
#include "fuzz_common.h"
#include "pm_objscript.h"

#include <stdio.h>
#include <string.h>

#define FO_BUDGET 4096u          /* weighted statements executed per input */
#define FO_MAX_DEPTH 16          /* the parser's repeat nesting limit */

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* The next word of [*p, end) (unquoted rules: ends at a blank or '#'). */
static size_t word(const char **p, const char *end, const char **w)
{
    const char *s = *p;
    while (s < end && blank(*s))
        s++;
    *w = s;
    if (s < end && *s == '#')
        s = end;   /* comment: no word */
    const char *e = s;
    while (e < end && !blank(*e) && *e != '#')
        e++;
    *p = e;
    return (size_t)(e - *w) * (s < end);
}

static bool word_is(const char *w, size_t n, const char *lit)
{
    return n == strlen(lit) && !memcmp(w, lit, n);
}

/* Leading decimal digits of a word (after an optional '-'), saturated. */
static uint64_t count_of(const char *w, size_t n)
{
    size_t i = n && w[0] == '-';
    uint64_t v = 0;
    for (; i < n && w[i] >= '0' && w[i] <= '9'; i++)
        v = v > UINT64_C(1) << 40 ? v : v * 10 + (uint64_t)(w[i] - '0');
    return v;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) || r > UINT64_C(1) << 40 ? UINT64_C(1) << 40 : r;
}

/* Weighted statements the script would execute, an upper bound. */
static uint64_t script_weight(const char *text, size_t len)
{
    uint64_t stack[FO_MAX_DEPTH + 1] = {1}, total = 0;
    int depth = 0;
    for (const char *line = text, *end; line < text + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end)
            end = text + len;
        const char *stop = end > line && end[-1] == '\r' ? end - 1 : end;   /* as the parser */
        const char *p = line, *w[4];
        size_t n[4];
        for (int i = 0; i < 4; i++)
            n[i] = word(&p, stop, &w[i]);
        if (!n[0])
            continue;
        uint64_t around = stack[depth];
        uint64_t cost = 1;
        if (word_is(w[0], n[0], "repeat")) {
            if (depth == FO_MAX_DEPTH)
                return UINT64_MAX;
            uint64_t k = count_of(w[1], n[1]);
            stack[depth + 1] = sat_mul(around, k ? k : 1);
            depth++;
        } else if (word_is(w[0], n[0], "end")) {
            if (depth)
                depth--;
        } else if (n[1] && word_is(w[1], n[1], "=") && word_is(w[2], n[2], "bytes")) {
            cost += count_of(w[3], n[3]) / 256;
        } else if (n[1] && word_is(w[1], n[1], "=") && word_is(w[2], n[2], "int") &&
                   word_is(w[3], n[3], "bits")) {
            const char *q = p, *w4;
            size_t n4 = word(&q, stop, &w4);
            cost += count_of(w4, n4) / 256;
        }
        total += sat_mul(around, cost);
        if (total > FO_BUDGET)
            return total;
    }
    return total;
}

/* A message is one line of printable ASCII: the interpreter escapes what it
 * quotes from the script (\n, \xNN, ...). */
static bool printable(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_target = "fuzz_objscript";
    fz_recycle();   /* the debug backend's tables: mappings recycled between inputs */
    const char *text = (const char *)data;
    uint64_t weight = script_weight(text, size);
    if (weight > FO_BUDGET) {
        if (fz_verbose())
            fprintf(stderr, "fuzz_objscript: weight %llu: not run\n", (unsigned long long)weight);
        return 0;
    }
    char err[PM_ERR_LEN];
    struct pm_objscript *sc = pm_objscript_parse(text, size, "fuzz.txt", err);
    if (!sc) {
        if (fz_verbose())
            fprintf(stderr, "fuzz_objscript: weight %llu: %s\n", (unsigned long long)weight, err);
        FZ_REQUIRE(err[0] && printable(err), "parse error not one printable line: '%s'", err);
        FZ_REQUIRE(!strncmp(err, "fuzz.txt:", 9), "parse error without FILE:LINE: '%s'", err);
        return 0;
    }
    static struct fz_misuse mis;
    struct pm_config cfg = {.on_misuse = fz_misuse_record, .misuse_ctx = &mis};
    const struct allocator_ops *ops;
    pm_heap_t *heap = pm_backend_create("debug:system", &cfg, &ops, err);
    FZ_REQUIRE(heap, "debug:system: %s", err);
    /* A dict key of nested shared tuples costs its expansion per operation
     * (pm_object.h): 4096 items at most here, so that a script of 4096
     * statement executions stays well under a second. The reproducer of the
     * exponential case that timed out is in the corpus
     * (122e56473be68d8b62b22995189345b300b95b1b, fuzz/README.md). */
    const struct pm_objspace_config scfg = {.key_items_max = 4096};
    pm_objspace_t *sp = pm_objspace_create(ops, heap, &scfg, err);
    FZ_REQUIRE(sp, "objspace: %s", err);
    struct pm_objscript_run *run = pm_objscript_start(sc, sp, NULL);
    FZ_REQUIRE(run, "objscript start: out of memory");

    int rc = pm_objscript_exec(run, err);
    FZ_REQUIRE(rc == PM_OBJSCRIPT_OK || rc == PM_OBJSCRIPT_FAILED || rc == PM_OBJSCRIPT_BAD,
               "exec returned %d", rc);
    if (rc != PM_OBJSCRIPT_OK)
        FZ_REQUIRE(err[0] && printable(err),
                   "exec failed (%d) without a one-line printable message: '%s'", rc, err);
    char msg[PM_ERR_LEN];
    unsigned long bad = pm_objspace_check(sp, msg);
    FZ_REQUIRE(!bad, "after exec (status %d%s%s): objspace check: %s", rc, rc ? ", " : "",
               rc ? err : "", msg);
    char exec_err[PM_ERR_LEN];
    memcpy(exec_err, err, sizeof exec_err);
    int frc = pm_objscript_finish(run, err);
    if (rc == PM_OBJSCRIPT_OK)
        FZ_REQUIRE(frc == PM_OBJSCRIPT_OK, "a script that ran fails finish: %s", err);
    if (frc != PM_OBJSCRIPT_OK)
        FZ_REQUIRE(err[0] && printable(err),
                   "finish failed (%d) without a one-line printable message: '%s'", frc, err);
    if (fz_verbose())
        fprintf(stderr, "fuzz_objscript: weight %llu: %zu statements, exec %d%s%s, finish %d\n",
                (unsigned long long)weight, pm_objscript_length(sc), rc, rc ? ": " : "",
                rc ? exec_err : "", frc);
    pm_objscript_end(run);
    uint64_t left = pm_objspace_destroy(sp);
    if (rc == PM_OBJSCRIPT_OK && frc == PM_OBJSCRIPT_OK)
        FZ_REQUIRE(left == 0, "%llu block(s) left after a clean run", (unsigned long long)left);
    ops->destroy(heap);   /* frees what a failed script left (debug over a global heap) */
    pm_objscript_free(sc);
    return 0;
}
