/* harness/cli/debugstats.c — `pymemlab debugstats`: the pymalloc backend's state
 * in the layout of CPython 3.11's sys._debugmallocstats().
 *
 * Entry points: pm_debugstats_print() (the printer, used by tests),
 * pm_debugstats_report_heap() (fill + print for any heap; a later TRACE
 * argument replays into the heap first and then calls it), cmd_debugstats.
 *
 * The built-in exercise mimics `[(i, str(i)) for i in range(N)]` on 64-bit
 * CPython 3.11, per i:
 *   - an int object, 28 bytes (one 30-bit digit), unless -5 <= i <= 256
 *     (those are preallocated and shared);
 *   - an ASCII str, 49 + len(str(i)) bytes, unless len == 1 (single
 *     characters are cached singletons);
 *   - a 2-tuple, 56 bytes: 24 header + 2 * 8 items + 16 GC header. (This is
 *     what sys.getsizeof((a, b)) reports, the GC header included; adding 16
 *     again to reach 72 would count it twice, and CPython's own report puts
 *     these tuples in the 64-byte class.)
 * plus the list: a 56-byte object (40 + 16 GC) and its item array, grown by
 * realloc as list_resize does (new = n + n/8 + 6, rounded down to 4), which
 * leaves the small classes when it passes 512 bytes.
 *
 * A trace is replayed with `--domain pymalloc` by default: only the obj and
 * mem requests, the ones CPython's pymalloc serves. Raw requests (PyMem_Raw*,
 * glibc in CPython) and untagged ones (a program's own malloc, generated
 * traces) would otherwise fill pools CPython never fills. `--domain all`
 * feeds everything, as for a generated (untagged) trace.
 */
#include "debugstats.h"
#include "cli.h"
#include "opts.h"
#include "replay.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CPython's printone(): label padded to column 35, '=', the value right
 * aligned in 21 columns with thousands separators. */
static void print_one(FILE *f, const char *label, size_t value)
{
    char digits[32], out[32];
    int n = snprintf(digits, sizeof digits, "%zu", value);
    int len = n + (n - 1) / 3;          /* with separators */
    int j = len;
    out[j--] = 0;
    for (int i = n - 1, k = 0; i >= 0; i--, k++) {
        if (k && k % 3 == 0)
            out[j--] = ',';
        out[j--] = digits[i];
    }
    fprintf(f, "%-35s=%21s\n", label, out);
}

void pm_debugstats_print(FILE *f, const struct pm_pymalloc_report *r)
{
    char label[128];
    fprintf(f, "Small block threshold = %u, in %u size classes.\n", r->small_threshold,
            r->nclasses);
    fputc('\n', f);
    fputs("class   size   num pools   blocks in use  avail blocks\n"
          "-----   ----   ---------   -------------  ------------\n", f);
    for (unsigned c = 0; c < r->nclasses && c < PM_PYMALLOC_NCLASSES; c++) {
        const struct pm_pymalloc_class_row *row = &r->rows[c];
        if (!row->pools)
            continue;
        fprintf(f, "%5u %6u %11zu %15zu %13zu\n", row->cls, row->size, row->pools,
                row->blocks_in_use, row->avail_blocks);
    }
    fputc('\n', f);
    print_one(f, "# arenas allocated total", r->arenas_allocated_total);
    print_one(f, "# arenas reclaimed", r->arenas_reclaimed);
    print_one(f, "# arenas highwater mark", r->arenas_highwater);
    print_one(f, "# arenas allocated current", r->arenas_current);
    snprintf(label, sizeof label, "%zu arenas * %zu bytes/arena", r->arenas_current,
             r->arena_size);
    print_one(f, label, r->arenas_current * r->arena_size);
    fputc('\n', f);
    print_one(f, "# bytes in allocated blocks", r->bytes_in_allocated_blocks);
    print_one(f, "# bytes in available blocks", r->bytes_in_available_blocks);
    snprintf(label, sizeof label, "%zu unused pools * %zu bytes", r->unused_pools, r->pool_size);
    print_one(f, label, r->unused_pools * r->pool_size);
    print_one(f, "# bytes lost to pool headers", r->bytes_lost_pool_headers);
    print_one(f, "# bytes lost to quantization", r->bytes_lost_quantization);
    print_one(f, "# bytes lost to arena alignment", r->bytes_lost_arena_alignment);
    print_one(f, "Total", r->total);
    if (!r->has_arena_map)       /* 3.8, 3.9: no radix tree */
        return;
    fputs("\narena map counts\n", f);
    print_one(f, "# arena map mid nodes", r->map_mid_nodes);
    print_one(f, "# arena map bot nodes", r->map_bot_nodes);
    fputc('\n', f);
    print_one(f, "# bytes lost to arena map root", r->map_root_bytes);
    print_one(f, "# bytes lost to arena map mid", r->map_mid_bytes);
    print_one(f, "# bytes lost to arena map bot", r->map_bot_bytes);
    print_one(f, "Total", r->map_total);
}

int pm_debugstats_report_heap(FILE *f, const struct allocator_ops *ops, pm_heap_t *h)
{
    struct pm_pymalloc_report r;
    if (!pm_pymalloc_report(ops, h, &r))
        pm_usage_error("debugstats: backend '%s' is not pymalloc (the report reads pymalloc's "
                       "arenas and pools)", ops->name);
    if (r.total != r.arenas_current * r.arena_size)
        pm_run_error("debugstats: report does not add up: total %zu != %zu arenas * %zu",
                     r.total, r.arenas_current, r.arena_size);
    pm_debugstats_print(f, &r);
    return PM_EXIT_OK;
}

/* The blocks the exercise keeps live until the report is printed. */
struct exercise {
    void **blocks;               /* ints, strs, tuples, the list object */
    size_t nblocks;
    void *items;                 /* the list's item array */
};

static void *exercise_alloc(const struct allocator_ops *o, pm_heap_t *h, struct exercise *x,
                            size_t n)
{
    void *p = o->malloc(h, n);
    if (!p)
        pm_run_error("debugstats: out of memory in the exercise (%zu bytes)", n);
    memset(p, 0x2b, n);
    x->blocks[x->nblocks++] = p;
    return p;
}

static void exercise_run(const struct allocator_ops *o, pm_heap_t *h, uint64_t n,
                         struct exercise *x)
{
    x->blocks = calloc(3 * n + 1, sizeof *x->blocks);
    if (!x->blocks)
        pm_run_error("debugstats: cannot allocate the exercise's table");
    exercise_alloc(o, h, x, 56);                 /* the list object */
    size_t allocated = 0;
    for (uint64_t i = 0; i < n; i++) {
        char digits[24];
        int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)i);
        if (i > 256)
            exercise_alloc(o, h, x, 28);         /* int */
        if (len > 1)
            exercise_alloc(o, h, x, (size_t)(49 + len));  /* str */
        exercise_alloc(o, h, x, 56);             /* (int, str) */
        size_t size = (size_t)i + 1;
        if (size > allocated) {                  /* list_resize */
            size_t grown = (size + (size >> 3) + 6) & ~(size_t)3;
            void *q = o->realloc(h, x->items, grown * sizeof(void *));
            if (!q)
                pm_run_error("debugstats: out of memory growing the list");
            x->items = q;
            allocated = grown;
        }
    }
}

static void exercise_free(const struct allocator_ops *o, pm_heap_t *h, struct exercise *x)
{
    for (size_t i = 0; i < x->nblocks; i++)
        o->free(h, x->blocks[i]);
    o->free(h, x->items);
    free(x->blocks);
}

/* Replays a trace into the heap (to its end or to a phase mark), reports,
 * then frees what the trace left live. */
static int report_after_trace(const struct allocator_ops *o, pm_heap_t *h, const char *path,
                              uint32_t phase, unsigned domains)
{
    char err[PM_ERR_LEN];
    struct pm_trace *t;
    if (pm_trace_open(path, &t, err))
        pm_usage_error("%s", err);
    struct pm_replay_scan scan;
    if (pm_replay_scan(t, domains, &scan, err))
        pm_usage_error("%s: %s", path, err);
    if (scan.ops == 0 && domains)
        pm_usage_error("%s: no ops in the chosen domain (an untagged trace needs --domain all)",
                       path);
    struct pm_replay_opts opts = {.touch = PM_TOUCH_PAGES, .domains = domains,
                                 .on_misuse = pm_cli_misuse_abort};
    struct pm_replay_held held;
    int rc = pm_replay_into(t, o, h, &opts, &scan, phase, &held, err);
    if (rc == 2)
        pm_usage_error("%s: %s", path, err);
    if (rc)
        pm_run_error("%s: %s", path, err);
    if (phase && !held.stopped_at_phase)
        pm_usage_error("%s: no phase mark %u in the trace", path, phase);
    char msg[PM_ERR_LEN];
    if (o->check && o->check(h, msg))
        pm_run_error("debugstats: heap check failed after %llu ops: %s",
                     (unsigned long long)held.ops, msg);
    rc = pm_debugstats_report_heap(stdout, o, h);
    pm_replay_release(&held, o, h);
    o->destroy(h);
    pm_trace_close(t);
    return rc;
}

static const struct pm_cli_opt debugstats_opts[] = {
    PM_CLI_OPT("backend", 'b', PM_CLI_BACKEND, "pymalloc[,OPTS]", NULL, "a pymalloc backend and its options",
               .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("exercise", 'e', PM_CLI_COUNT, "N", "100000", "without a TRACE: allocate and free N random blocks first",
               .min = 0, .max = UINT64_C(1) << 26),
    PM_CLI_OPT("at-phase", 'p', PM_CLI_COUNT, "N", "the end", "with a TRACE: report at its phase mark N",
               .min = 1, .max = UINT32_MAX),
    PM_CLI_OPT("domain", 'd', PM_CLI_ENUM, "D", "pymalloc",
               "with a TRACE: replay only the ops of one API domain (pymalloc: obj and mem)",
               .values = "obj mem raw pymalloc all"),
    {0},
};

const struct pm_cli_spec pm_spec_debugstats = {
    .name = "debugstats", .args = "[TRACE]", .opts = debugstats_opts,
    .summary = "pymalloc arenas/pools report in sys._debugmallocstats() layout",
};

int cmd_debugstats(int argc, char **argv)
{
    const char *backend = NULL;
    uint64_t n = 100000, phase = 0;
    unsigned domains = (1u << PM_DOMAIN_OBJ) | (1u << PM_DOMAIN_MEM);   /* pymalloc */
    bool domain_given = false;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_debugstats, argc, argv, &v)) != -1) {
        switch (c) {
        case 'b': backend = v.s; break;
        case 'e': n = v.u; break;
        case 'p': phase = v.u; break;
        case 'd':
            if (!pm_replay_parse_domains(optarg, &domains))
                pm_usage_error("debugstats: bad value for --domain: '%s' (expected obj, mem, raw, "
                               "pymalloc or all)", optarg);
            domain_given = true;
            break;
        default: pm_bad_option("debugstats", c, argv);
        }
    }
    const char *trace_path = optind < argc ? argv[optind++] : NULL;
    if (optind < argc)
        pm_usage_error("debugstats: unexpected argument '%s'", argv[optind]);
    if (phase && !trace_path)
        pm_usage_error("debugstats: --at-phase needs a TRACE");
    if (domain_given && !trace_path)
        pm_usage_error("debugstats: --domain needs a TRACE");
    if (!backend)
        pm_usage_error("debugstats: --backend is required (pymalloc[,options])");
    const struct allocator_ops *found = pm_backend_find(backend);
    if (found && found != &pm_pymalloc_ops)
        pm_usage_error("debugstats: backend '%s' is not pymalloc (the report reads pymalloc's "
                       "arenas and pools)", found->name);
    const struct allocator_ops *o;
    pm_heap_t *h = pm_cli_backend(backend, &o);   /* exits 2 on unknown name, bad geometry */
    if (trace_path)
        return report_after_trace(o, h, trace_path, (uint32_t)phase, domains);
    struct exercise x = {0};
    exercise_run(o, h, n, &x);
    char msg[PM_ERR_LEN];
    if (o->check && o->check(h, msg))
        pm_run_error("debugstats: heap check failed: %s", msg);
    int rc = pm_debugstats_report_heap(stdout, o, h);
    exercise_free(o, h, &x);
    o->destroy(h);
    return rc;
}
