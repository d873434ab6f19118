/* harness/cli/cmd_trace.c — `pymemlab trace`: generate, convert, dump, inspect
 * and time the decoding of allocation traces (format: docs/trace-format.md,
 * patterns: docs/patterns.md).
 *
 *   trace gen PATTERN [options] -o OUT     a generated trace (.txt: text form)
 *   trace convert IN OUT [--to text|binary] [--lenient]
 *   trace dump TRACE [--lenient]           the text form on stdout
 *   trace info TRACE [--lenient]           header, metadata, op mix, live peaks
 *   trace bench TRACE [--reps N]           decode + validate only: ns per op
 *   trace record, import, stats            trace_record.c, trace_import.c, trace_stats.c
 *
 * Bad input (a malformed trace, a bad option) is one line
 * "pymemlab: FILE: op N at byte B: problem" (text form: "FILE:LINE: problem")
 * and exit code 2; an output file is then never created or changed. Failing
 * to write the output is exit code 1.
 */
#include "cli.h"
#include "opts.h"
#include "metrics.h"
#include "trace.h"
#include "trace_cmds.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static struct pm_trace *open_trace(const char *path)
{
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    if (pm_trace_open(path, &t, err))
        pm_usage_error("%s", err);
    return t;
}

/* Parses "--lenient" / "--to" style options shared by convert, dump, info;
 * returns the positional arguments in pos[]. */
struct sub_opts {
    bool lenient;
    enum pm_trace_format to;
    uint64_t reps;
    const char *pos[2];
    int npos;
};

#define LENIENT_OPT \
    PM_CLI_OPT("lenient", 'l', PM_CLI_FLAG, NULL, NULL, "read the whole ops of an unfinished or damaged recording")

static const struct pm_cli_opt convert_opts[] = {
    PM_CLI_OPT("to", 't', PM_CLI_ENUM, "FORMAT", "from OUT's name (.txt: text)", "the output's form",
               .values = "text binary"),
    LENIENT_OPT,
    {0},
};
static const struct pm_cli_opt lenient_opts[] = {LENIENT_OPT, {0}};
static const struct pm_cli_opt bench_opts[] = {
    PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", "5", "timed decodings after one warm-up", .min = 1, .max = 1000),
    {0},
};

static const struct pm_cli_spec spec_convert = {
    .name = "trace convert", .args = "IN OUT", .opts = convert_opts,
    .summary = "convert a trace between the binary and the text form",
};
static const struct pm_cli_spec spec_dump = {
    .name = "trace dump", .args = "TRACE", .opts = lenient_opts,
    .summary = "print a trace in the text form on stdout",
};
static const struct pm_cli_spec spec_info = {
    .name = "trace info", .args = "TRACE", .opts = lenient_opts,
    .summary = "a trace's header, metadata, op mix and live peaks",
};
static const struct pm_cli_spec spec_bench = {
    .name = "trace bench", .args = "TRACE", .opts = bench_opts,
    .summary = "time decoding and validating a trace (ns per op, the median of --reps)",
};

static void parse_sub(const struct pm_cli_spec *spec, int argc, char **argv, struct sub_opts *so, int want_pos)
{
    const char *cmd = spec->name + strlen("trace ");
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(spec, argc, argv, &v)) != -1) {
        if (c == 'l')
            so->lenient = true;
        else if (c == 't') {
            if (!strcmp(optarg, "text"))
                so->to = PM_TRACE_TEXT;
            else if (!strcmp(optarg, "binary"))
                so->to = PM_TRACE_BINARY;
            else
                pm_usage_error("trace %s: bad value for --to: '%s' (expected text or binary)", cmd, optarg);
        } else if (c == 'r')
            so->reps = v.u;
    }
    for (int i = optind; i < argc; i++) {
        if (so->npos == want_pos)
            pm_usage_error("trace %s: unexpected argument '%s' (see 'pymemlab help trace')", cmd, argv[i]);
        so->pos[so->npos++] = argv[i];
    }
    if (so->npos < want_pos)
        pm_usage_error("trace %s: needs %s (see 'pymemlab help trace')", cmd,
                       want_pos == 2 ? "IN and OUT" : "a TRACE");
}

/* Tells what a lenient read dropped (stderr), before anything is written. */
static void lenient_note(struct pm_trace *t)
{
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    int r = pm_trace_cursor_init_lenient(&c, t);
    if (r == 0)
        while ((r = pm_trace_next(&c, &op)) == 1)
            ;
    if (r < 0)
        pm_usage_error("%s: %s", pm_trace_name(t), c.err);
    if (c.dropped_bytes || c.missing_ops || !pm_trace_finished(t))
        fprintf(stderr,
                "pymemlab: note: %s: read leniently: %" PRIu64 " whole ops%s; dropped %" PRIu64
                " bytes of a partial op; %" PRIu64 " ops the header promised are missing\n",
                pm_trace_name(t), c.index, pm_trace_finished(t) ? "" : " (the recording did not finish)",
                c.dropped_bytes, c.missing_ops);
}

static void file_summary(const char *path, const char *what, double secs)
{
    struct pm_trace *t = open_trace(path);
    struct stat st;
    uint64_t bytes = stat(path, &st) ? 0 : (uint64_t)st.st_size;
    uint64_t ops = pm_trace_op_count(t);
    printf("%s: %s, %" PRIu64 " ops, %" PRIu64 " slots, %" PRIu64 " bytes (%.2f bytes/op), %.2f s\n", path, what,
           ops, pm_trace_slot_count(t), bytes, ops ? (double)bytes / (double)ops : 0.0, secs);
    pm_trace_close(t);
}

static const struct pm_cli_opt gen_opts[] = {
    PM_CLI_OPT("output", 'o', PM_CLI_FILE, "OUT", NULL, "the trace to write (.txt: the text form)",
               .short_name = 'o', .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("ops", 'n', PM_CLI_COUNT, "N", "the pattern's", "ops to generate", .min = 1,
               .max = UINT64_C(1) << 40),
    PM_CLI_OPT("live", 'l', PM_CLI_COUNT, "N", "the pattern's", "live blocks", .min = 1, .max = UINT64_C(1) << 31),
    PM_CLI_OPT("seed", 's', PM_CLI_COUNT, "S", "the pattern's", "random seed", .min = 0, .max = UINT64_MAX),
    PM_CLI_OPT("sizes", 'z', PM_CLI_STRING, "python|uniform:MIN-MAX", "python",
               "request sizes: CPython's measured mix, or uniform in MIN..MAX bytes",
               .values = "python uniform:"),
    PM_CLI_OPT("keep-every", 'k', PM_CLI_COUNT, "K", "the pattern's", "survivors: keep one block in K", .min = 1,
               .max = UINT64_C(1) << 31),
    PM_CLI_OPT("again", 'a', PM_CLI_COUNT, "N", "the pattern's", "repeat the pattern N more times", .min = 0,
               .max = UINT64_C(1) << 31),
    PM_CLI_OPT("realloc-frac", 'r', PM_CLI_DOUBLE, "F", "the pattern's", "the fraction of ops that are reallocs",
               .dmin = 0, .dmax = 1),
    PM_CLI_OPT("max-len", 'm', PM_CLI_COUNT, "N", "the pattern's", "growth: the longest a block grows to",
               .min = 1, .max = UINT64_C(1) << 32),
    PM_CLI_OPT("against", 'A', PM_CLI_STRING, "B", NULL, "adversary: the backend whose layout it attacks",
               .values = "pymalloc segfit buddy"),
    PM_CLI_OPT("live-max", 'L', PM_CLI_SIZE, "BYTES", "the pattern's", "adversary: the most live bytes", .min = 1,
               .max = UINT64_C(1) << 40),
    {0},
};

static const struct pm_cli_spec spec_gen = {
    .name = "trace gen", .args = "PATTERN", .opts = gen_opts,
    .summary = "generate a trace: lifo, fifo, churn, growth, survivors, adversary (docs/patterns.md)",
};

static int trace_gen(int argc, char **argv)
{
    struct pm_tracegen_opts o = {0};
    const char *out = NULL, *pattern = NULL;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&spec_gen, argc, argv, &v)) != -1) {
        switch (c) {
        case 'n': o.ops = v.u; o.set |= PM_GEN_OPS; break;
        case 'l': o.live = v.u; o.set |= PM_GEN_LIVE; break;
        case 's': o.seed = v.u; o.set |= PM_GEN_SEED; break;
        case 'z':
            if (!pm_tracegen_parse_sizes(optarg, &o))
                pm_usage_error("trace gen: bad value for --sizes: '%s' (expected python or uniform:MIN-MAX)",
                               optarg);
            o.set |= PM_GEN_SIZES;
            break;
        case 'k': o.keep_every = v.u; o.set |= PM_GEN_KEEP_EVERY; break;
        case 'r': o.realloc_frac = v.d; o.set |= PM_GEN_REALLOC_FRAC; break;
        case 'a': o.again = v.u; o.set |= PM_GEN_AGAIN; break;
        case 'm': o.max_len = v.u; o.set |= PM_GEN_MAX_LEN; break;
        case 'A': o.against = v.s; o.set |= PM_GEN_AGAINST; break;
        case 'L': o.live_max = v.u; o.set |= PM_GEN_LIVE_MAX; break;
        case 'o': out = v.s; break;
        default: pm_bad_option("trace", c, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (pattern)
            pm_usage_error("trace gen: unexpected argument '%s'", argv[i]);
        pattern = argv[i];
    }
    if (!pattern)
        pm_usage_error("trace gen: needs a PATTERN (lifo, fifo, churn, growth, survivors, adversary)");
    if (!out)
        pm_usage_error("trace gen: -o OUT is required");
    char err[PM_ERR_LEN];
    if (pm_tracegen_check(pattern, &o, err))
        pm_usage_error("%s", err);
    pm_cli_out_check("trace gen", out);
    bool text = pm_trace_format_for_path(out) == PM_TRACE_TEXT;
    uint64_t t0 = pm_now_ns();
    struct pm_trace_writer *w = text ? pm_trace_writer_open_mem(err) : pm_trace_writer_open(out, err);
    if (!w)
        pm_run_error("%s", err);
    if (pm_tracegen(pattern, &o, w, err)) {
        bool io = pm_trace_writer_error(w) != NULL;
        pm_trace_writer_abort(w);
        if (io)
            pm_run_error("%s", err);
        pm_usage_error("%s", err);
    }
    pm_trace_cmd_finish(w, out, text);
    file_summary(out, pattern, (double)(pm_now_ns() - t0) / 1e9);
    return PM_EXIT_OK;
}

void pm_trace_cmd_finish(struct pm_trace_writer *w, const char *out, bool text)
{
    char err[PM_ERR_LEN];
    if (!text) {
        if (pm_trace_writer_close(w, err))
            pm_run_error("%s", err);
        return;
    }
    uint8_t *buf;
    size_t len;
    struct pm_trace *t;
    if (pm_trace_writer_close_mem(w, &buf, &len, err) || pm_trace_open_mem(buf, len, out, &t, err))
        pm_run_error("%s", err);
    int r = pm_trace_convert(t, out, PM_TRACE_TEXT, false, err);
    pm_trace_close(t);
    free(buf);
    if (r)
        pm_run_error("%s", err);
}

static int trace_convert(int argc, char **argv)
{
    struct sub_opts so = {0};
    parse_sub(&spec_convert, argc, argv, &so, 2);
    struct pm_trace *t = open_trace(so.pos[0]);
    pm_cli_out_check("trace convert", so.pos[1]);
    if (so.lenient)
        lenient_note(t);
    char err[PM_ERR_LEN];
    uint64_t t0 = pm_now_ns();
    int r = pm_trace_convert(t, so.pos[1], so.to, so.lenient, err);
    pm_trace_close(t);
    if (r == -1)
        pm_usage_error("%s", err);
    if (r)
        pm_run_error("%s", err);
    enum pm_trace_format to = so.to == PM_TRACE_AUTO ? pm_trace_format_for_path(so.pos[1]) : so.to;
    file_summary(so.pos[1], to == PM_TRACE_TEXT ? "text" : "binary", (double)(pm_now_ns() - t0) / 1e9);
    return PM_EXIT_OK;
}

static int trace_dump(int argc, char **argv)
{
    struct sub_opts so = {0};
    parse_sub(&spec_dump, argc, argv, &so, 1);
    struct pm_trace *t = open_trace(so.pos[0]);
    if (so.lenient)
        lenient_note(t);
    char err[PM_ERR_LEN];
    int r = pm_trace_write_text(t, stdout, so.lenient, err);
    pm_trace_close(t);
    if (r == -1)
        pm_usage_error("%s", err);
    if (r)
        pm_run_error("stdout: %s", err);
    return PM_EXIT_OK;
}

static int trace_info(int argc, char **argv)
{
    struct sub_opts so = {0};
    parse_sub(&spec_info, argc, argv, &so, 1);
    struct pm_trace *t = open_trace(so.pos[0]);
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    int r = so.lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t);
    uint64_t nslots = pm_trace_slot_count(t);
    uint64_t *size = calloc(nslots ? nslots : 1, sizeof *size);   /* live bytes per slot */
    uint64_t kinds[8] = {0}, doms[4] = {0}, live = 0, blocks = 0, peak = 0, peak_at = 0, peak_blocks = 0,
             requested = 0;
    if (r == 0)
        while ((r = pm_trace_next(&c, &op)) == 1) {
            kinds[op.kind]++;
            doms[op.domain]++;
            uint64_t n = op.kind == PM_OP_CALLOC ? op.size * op.arg : op.size;
            if (op.kind == PM_OP_PHASE || !size)
                continue;
            if (op.kind == PM_OP_FREE || op.kind == PM_OP_REALLOC) {
                live -= size[op.slot];
                blocks -= op.kind == PM_OP_FREE;
            } else {
                blocks++;
            }
            if (op.kind != PM_OP_FREE) {
                live += n;
                requested += n;
            }
            size[op.slot] = op.kind == PM_OP_FREE ? 0 : n;
            if (live > peak) {
                peak = live;
                peak_at = c.index - 1;
            }
            if (blocks > peak_blocks)
                peak_blocks = blocks;
        }
    free(size);
    if (r < 0)
        pm_usage_error("%s: %s", pm_trace_name(t), c.err);
    uint64_t bytes = pm_trace_stream_bytes(t);
    printf("trace        %s (%s, %s)\n", pm_trace_name(t),
           pm_trace_format_of(t) == PM_TRACE_TEXT ? "text" : "binary",
           pm_trace_finished(t) ? "finished" : "recording did not finish");
    printf("ops          %" PRIu64 "\n", c.index);
    printf("slots        %" PRIu64 "\n", nslots);
    if (pm_trace_format_of(t) == PM_TRACE_BINARY)
        printf("stream       %" PRIu64 " bytes (%.2f bytes/op)\n", bytes,
               c.index ? (double)bytes / (double)c.index : 0.0);
    if (so.lenient)
        printf("lenient      dropped %" PRIu64 " bytes of a partial op, %" PRIu64 " ops missing\n",
               c.dropped_bytes, c.missing_ops);
    printf("op mix      ");
    for (unsigned k = PM_OP_ALLOC; k <= PM_OP_PHASE; k++)
        printf(" %s %" PRIu64, pm_trace_kind_name(k), kinds[k]);
    printf("\ndomains      none %" PRIu64 " raw %" PRIu64 " mem %" PRIu64 " obj %" PRIu64 "\n", doms[0], doms[1],
           doms[2], doms[3]);
    if (!size && nslots)
        printf("live bytes   (not tracked: out of memory)\n");
    else
        printf("live bytes   peak %" PRIu64 " (after op %" PRIu64 "), final %" PRIu64 "; peak blocks %" PRIu64
               ", final %" PRIu64 "; requested in all %" PRIu64 "\n",
               peak, peak_at, live, peak_blocks, blocks, requested);
    const char *k, *v;
    for (size_t i = 0; pm_trace_meta_at(t, i, &k, &v); i++)
        printf("meta         %s=%s\n", k, v);
    pm_trace_close(t);
    return PM_EXIT_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Decode + validate only, the loop a replay runs minus the allocator: wall
 * and CPU time per op, median of --reps runs after one warm-up run (which
 * faults the file in). CPU time is the figure to trust on a shared machine. */
static int trace_bench(int argc, char **argv)
{
    struct sub_opts so = {.reps = 5};
    parse_sub(&spec_bench, argc, argv, &so, 1);
    struct pm_trace *t = open_trace(so.pos[0]);
    uint64_t wall[1000], cpu[1000], ops = 0, sink = 0;
    for (uint64_t rep = 0; rep <= so.reps; rep++) {
        struct pm_trace_cursor c;
        struct pm_trace_op op;
        uint64_t w0 = pm_now_ns(), c0 = cpu_ns();
        int r = pm_trace_cursor_init(&c, t);
        if (r == 0)
            while ((r = pm_trace_next(&c, &op)) == 1)
                sink += op.size ^ op.slot;
        uint64_t c1 = cpu_ns(), w1 = pm_now_ns();
        if (r < 0)
            pm_usage_error("%s: %s", pm_trace_name(t), c.err);
        ops = c.index;
        if (rep) {
            wall[rep - 1] = w1 - w0;
            cpu[rep - 1] = c1 - c0;
        }
    }
    qsort(wall, so.reps, sizeof *wall, cmp_u64);
    qsort(cpu, so.reps, sizeof *cpu, cmp_u64);
    double n = (double)(ops ? ops : 1);
    volatile uint64_t keep = sink;   /* the loop's result is used */
    (void)keep;
    printf("%s: %" PRIu64 " ops, %" PRIu64 " bytes (%.2f bytes/op); decode+validate %.2f ns/op CPU, %.2f ns/op "
           "wall (median of %" PRIu64 "; min %.2f CPU)\n",
           pm_trace_name(t), ops, pm_trace_stream_bytes(t), (double)pm_trace_stream_bytes(t) / n,
           (double)cpu[so.reps / 2] / n, (double)wall[so.reps / 2] / n, so.reps, (double)cpu[0] / n);
    pm_trace_close(t);
    return PM_EXIT_OK;
}

static const struct pm_cli_spec *const trace_subs[] = {
    &spec_gen, &spec_convert, &spec_dump, &spec_info, &spec_bench,
    &pm_spec_trace_record, &pm_spec_trace_import, &pm_spec_trace_stats, NULL,
};

const struct pm_cli_spec pm_spec_trace = {
    .name = "trace", .subs = trace_subs,
    .summary = "allocation traces: generate, convert binary <-> text, dump, inspect, time decoding, record a "
               "program, import an mtrace log, statistics",
};

int cmd_trace(int argc, char **argv)
{
    if (argc < 2)
        pm_usage_error("trace: needs a subcommand: gen, convert, dump, info, bench, record, import, stats (see "
                       "'pymemlab help trace')");
    const char *sub = argv[1];
    argc--;
    argv++;
    if (!strcmp(sub, "gen"))
        return trace_gen(argc, argv);
    if (!strcmp(sub, "convert"))
        return trace_convert(argc, argv);
    if (!strcmp(sub, "dump"))
        return trace_dump(argc, argv);
    if (!strcmp(sub, "info"))
        return trace_info(argc, argv);
    if (!strcmp(sub, "bench"))
        return trace_bench(argc, argv);
    if (!strcmp(sub, "record"))
        return cmd_trace_record(argc, argv);
    if (!strcmp(sub, "import"))
        return cmd_trace_import(argc, argv);
    if (!strcmp(sub, "stats"))
        return cmd_trace_stats(argc, argv);
    pm_usage_error("trace: unknown subcommand '%s' (known: gen, convert, dump, info, bench, record, import, stats)",
                   sub);
}
