/* harness/cmd_trace.c — `pymemlab trace`: generate, convert, dump, inspect
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

static void parse_sub(const char *cmd, int argc, char **argv, struct sub_opts *so, int want_pos,
                      bool takes_to, bool takes_lenient, bool takes_reps)
{
    static const struct option lo[] = {{"lenient", no_argument, 0, 'l'},
                                       {"to", required_argument, 0, 't'},
                                       {"reps", required_argument, 0, 'r'},
                                       {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        if (c == 'l' && takes_lenient)
            so->lenient = true;
        else if (c == 't' && takes_to) {
            if (!strcmp(optarg, "text"))
                so->to = PM_TRACE_TEXT;
            else if (!strcmp(optarg, "binary"))
                so->to = PM_TRACE_BINARY;
            else
                pm_usage_error("trace %s: bad value for --to: '%s' (expected text or binary)", cmd, optarg);
        } else if (c == 'r' && takes_reps)
            so->reps = pm_arg_count("--reps", optarg, 1, 1000);
        else
            pm_bad_option("trace", c == 'l' || c == 't' || c == 'r' ? '?' : c, argv);
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

static int trace_gen(int argc, char **argv)
{
    static const struct option lo[] = {
        {"ops", required_argument, 0, 'n'},        {"live", required_argument, 0, 'l'},
        {"seed", required_argument, 0, 's'},       {"sizes", required_argument, 0, 'z'},
        {"keep-every", required_argument, 0, 'k'}, {"realloc-frac", required_argument, 0, 'r'},
        {"again", required_argument, 0, 'a'},      {"max-len", required_argument, 0, 'm'},
        {"against", required_argument, 0, 'A'},    {"live-max", required_argument, 0, 'L'},
        {"output", required_argument, 0, 'o'},     {0, 0, 0, 0}};
    struct pm_tracegen_opts o = {0};
    const char *out = NULL, *pattern = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'n': o.ops = pm_arg_count("--ops", optarg, 1, UINT64_C(1) << 40); o.set |= PM_GEN_OPS; break;
        case 'l': o.live = pm_arg_count("--live", optarg, 1, UINT64_C(1) << 31); o.set |= PM_GEN_LIVE; break;
        case 's': o.seed = pm_arg_count("--seed", optarg, 0, UINT64_MAX); o.set |= PM_GEN_SEED; break;
        case 'z':
            if (!pm_tracegen_parse_sizes(optarg, &o))
                pm_usage_error("trace gen: bad value for --sizes: '%s' (expected python or uniform:MIN-MAX)",
                               optarg);
            o.set |= PM_GEN_SIZES;
            break;
        case 'k': o.keep_every = pm_arg_count("--keep-every", optarg, 1, UINT64_C(1) << 31); o.set |= PM_GEN_KEEP_EVERY; break;
        case 'r': o.realloc_frac = pm_arg_double("--realloc-frac", optarg, 0, 1); o.set |= PM_GEN_REALLOC_FRAC; break;
        case 'a': o.again = pm_arg_count("--again", optarg, 0, UINT64_C(1) << 31); o.set |= PM_GEN_AGAIN; break;
        case 'm': o.max_len = pm_arg_count("--max-len", optarg, 1, UINT64_C(1) << 32); o.set |= PM_GEN_MAX_LEN; break;
        case 'A': o.against = optarg; o.set |= PM_GEN_AGAINST; break;
        case 'L': o.live_max = pm_arg_size("--live-max", optarg, 1, UINT64_C(1) << 40); o.set |= PM_GEN_LIVE_MAX; break;
        case 'o': out = optarg; break;
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
    parse_sub("convert", argc, argv, &so, 2, true, true, false);
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
    parse_sub("dump", argc, argv, &so, 1, false, true, false);
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
    parse_sub("info", argc, argv, &so, 1, false, true, false);
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
    parse_sub("bench", argc, argv, &so, 1, false, false, true);
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
