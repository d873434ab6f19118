/* harness/cli/cmd_objrun.c — `pymemlab objrun SCRIPT --backend B [--json]
 * [--gc NAME] [--gc-threshold T0,T1,T2]`: runs
 * an object script (docs/objscript.md) on an object space over backend B and
 * prints what the collector did and the memory figures.
 *
 * Figures: peak_live_bytes is the space's own count of requested bytes live
 * at its peak (L); peak_footprint_bytes is the largest anonymous RSS above
 * the baseline taken after the backend is created and before the space's
 * first request (F), sampled every 256 statements, after each collect and
 * at the end. After the script, the refcount invariant is checked (every
 * tracked object's references from outside the tracked objects equal the
 * names bound to it), every name is dropped and nothing may be left alive.
 *
 * --gc NAME: the collector (gen311 default, gen313, inc314, pep848);
 * --gc-threshold sets its thresholds before the script runs (a script's
 * own gc.set_threshold still wins). With either, the output also names the
 * collector and its pauses (count, max, total; JSON keys gc, gc_pauses,
 * gc_pause_max_ns, gc_pause_total_ns).
 *
 * Exit codes: 0 ok; 1 an `expect` failed, an invariant broke or the backend
 * ran out of memory ("pymemlab: FILE:LINE: ..."); 2 bad arguments or a
 * malformed script ("pymemlab: FILE:LINE: <problem>").
 */
#include "cli.h"
#include "opts.h"
#include "fileio.h"
#include "tee.h"
#include "metrics.h"
#include "pm_objscript.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLLECT_LINES 50

struct objrun_pauses {
    uint64_t n, max, total;
};

static void objrun_gc_event(pm_objspace_t *sp, void *ctx, const struct pm_gc_event *ev)
{
    (void)sp;
    struct objrun_pauses *p = ctx;
    p->n++;
    p->total += ev->pause_ns;
    if (ev->pause_ns > p->max)
        p->max = ev->pause_ns;
}

struct objrun_ctx {
    uint64_t baseline;              /* anonymous RSS before the space */
    uint64_t peak_footprint;        /* max(RSS - baseline) */
    bool print;                     /* text mode: print each collect */
    uint64_t collect_lines;
};

static void objrun_sample(void *p)
{
    struct objrun_ctx *c = p;
    uint64_t rss = pm_rss_anon_bytes();
    uint64_t f = rss > c->baseline ? rss - c->baseline : 0;
    if (f > c->peak_footprint)
        c->peak_footprint = f;
}

static void objrun_collect(void *p, int line, int generation, int64_t returned,
                           int64_t collected, int64_t uncollectable)
{
    struct objrun_ctx *c = p;
    if (!c->print)
        return;
    if (c->collect_lines++ < MAX_COLLECT_LINES)
        printf("  line %d: collect %d -> %lld (collected %lld, uncollectable %lld)\n", line,
               generation, (long long)returned, (long long)collected,
               (long long)uncollectable);
}

/* Object scripts are read whole; 16 MiB is far beyond any hand-written one. */
#define OBJRUN_MAX_SCRIPT (UINT64_C(16) << 20)

static char *read_file(const char *path, size_t *len)
{
    char err[PM_ERR_LEN];
    char *buf = pm_file_read_all(path, OBJRUN_MAX_SCRIPT, len, err);
    if (!buf)
        pm_usage_error("objrun: %s", err);
    return buf;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* The --record-trace writer while it is open: every way out of objrun
 * (pm_usage_error and pm_run_error exit) removes its OUT.tmp, so that a
 * failed script leaves nothing behind and blocks no later recording. */
static struct pm_trace_writer *record_writer;

static void record_abort_at_exit(void)
{
    if (record_writer)
        pm_trace_writer_abort(record_writer);
    record_writer = NULL;
}

static const struct pm_cli_opt objrun_opts[] = {
    PM_CLI_OPT("backend", 'b', PM_CLI_BACKEND, "B", NULL,
               "the backend, NAME[,key=value...] (see 'pymemlab backends'); it must keep block contents",
               .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("gc", 'g', PM_CLI_GC, "NAME", "gen311", "the cycle collector (docs/gc.md)"),
    PM_CLI_OPT("gc-threshold", 't', PM_CLI_STRING, "T0,T1,T2", "the collector's own",
               "the collector's thresholds: three integers 0..2147483648", .values = "700,10,10 2000,10,10"),
    PM_CLI_OPT("record-trace", 'r', PM_CLI_FILE, "OUT", NULL, "also record the run's allocations as a trace"),
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text report"),
    {0},
};

const struct pm_cli_spec pm_spec_objrun = {
    .name = "objrun", .args = "SCRIPT", .opts = objrun_opts,
    .summary = "run an object script (docs/objscript.md): collector activity and memory figures",
};

/* One objrun: its options, then what each step adds. */
struct objrun_cmd {
    const char *backend, *record, *gc, *path;
    int json;
    int64_t gc_threshold[3];
    bool gc_threshold_set, show_gc;
    struct pm_objscript *sc;            /* the parsed script */
    /* the figures of the script itself, before the cleanup */
    struct objrun_ctx ctx;
    struct objrun_pauses pauses;
    const char *gc_name;
    struct pm_objscript_stats st;
    struct pm_gc_gen_stats gs[3];
    struct pm_objspace_stats os;
    uint64_t collections, collected, uncollectable, gc_ns;
};

static void parse_options(struct objrun_cmd *o, int argc, char **argv)
{
    struct pm_cli_val v;
    int ch;
    while ((ch = pm_cli_getopt(&pm_spec_objrun, argc, argv, &v)) != -1) {
        switch (ch) {
        case 'b': o->backend = v.s; break;
        case 'j': o->json = 1; break;
        case 'r': o->record = v.s; break;
        case 'g': o->gc = pm_cli_gc_name("objrun", optarg); break;
        case 't':
            pm_cli_gc_thresholds("objrun", optarg, o->gc_threshold);
            o->gc_threshold_set = true;
            break;
        default: pm_bad_option("objrun", ch, argv);
        }
    }
    if (optind >= argc)
        pm_usage_error("objrun: a script is required (see 'pymemlab help objrun')");
    if (optind + 1 < argc)
        pm_usage_error("objrun: unexpected argument '%s'", argv[optind + 1]);
    if (!o->backend)
        pm_usage_error("objrun: --backend is required (see 'pymemlab backends')");
    o->path = argv[optind];
    o->show_gc = o->gc || o->gc_threshold_set;
}

/* --record-trace's path, the script (parsed whole), the backend: exit 2
 * before anything runs. */
static void check_input(struct objrun_cmd *o)
{
    if (o->record)
        pm_cli_out_check("objrun", o->record);
    size_t len;
    char *text = read_file(o->path, &len);
    char err[PM_ERR_LEN];
    o->sc = pm_objscript_parse(text, len, o->path, err);
    free(text);
    if (!o->sc)
        pm_usage_error("%s", err);
    pm_cli_need_contents("objrun", o->backend);
}

/* Runs the script on a space over heap (ops) and its cleanup; its figures
 * into o. Returns the blocks left in the backend after destroy. */
static uint64_t run_script(struct objrun_cmd *o, const struct allocator_ops *ops, pm_heap_t *heap)
{
    char err[PM_ERR_LEN];
    o->ctx = (struct objrun_ctx){.print = !o->json};
    o->ctx.baseline = pm_rss_anon_bytes();
    struct pm_objspace_config cfg = {.gc = o->gc};
    pm_objspace_t *sp = pm_objspace_create(ops, heap, &cfg, err);
    if (!sp)
        pm_run_error("objrun: %s", err);
    if (o->gc_threshold_set)
        pm_gc_set_threshold(sp, o->gc_threshold[0], o->gc_threshold[1], o->gc_threshold[2]);
    pm_gc_set_observer(sp, objrun_gc_event, &o->pauses, false);
    o->gc_name = pm_gc_collector(sp);
    struct pm_objscript_io io = {.ctx = &o->ctx, .on_collect = objrun_collect,
                                 .sample = objrun_sample, .sample_every = 256};
    struct pm_objscript_run *run = pm_objscript_start(o->sc, sp, &io);
    if (!run)
        pm_run_error("objrun: out of memory");
    if (!o->json)
        printf("objrun %s on %s\n", o->path, ops->name);
    int rc = pm_objscript_exec(run, err);
    if (rc != PM_OBJSCRIPT_OK) {
        if (rc == PM_OBJSCRIPT_BAD)
            pm_usage_error("%s", err);
        pm_run_error("%s", err);
    }
    o->st = *pm_objscript_stats(run);
    pm_gc_set_observer(sp, NULL, NULL, false);      /* the cleanup's collections not counted */
    pm_gc_get_stats(sp, o->gs);
    pm_objspace_stats(sp, &o->os);
    rc = pm_objscript_finish(run, err);
    if (rc != PM_OBJSCRIPT_OK)
        pm_run_error("%s", err);
    pm_objscript_end(run);
    return pm_objspace_destroy(sp);
}

/* The backend, with --record-trace a tee into a raw trace in front of it
 * (written to OUT.tmp, renamed when complete); the script run on it. */
static void run(struct objrun_cmd *o)
{
    char err[PM_ERR_LEN];
    const struct allocator_ops *ops, *inner_ops;
    pm_heap_t *inner = pm_cli_backend(o->backend, &inner_ops);
    pm_heap_t *heap = inner;
    ops = inner_ops;
    struct pm_trace_writer *writer = NULL;
    if (o->record) {
        writer = pm_trace_writer_open(o->record, err);
        if (!writer)
            pm_usage_error("%s", err);
        record_writer = writer;
        atexit(record_abort_at_exit);
        pm_trace_writer_meta(writer, "generator", "pymemlab objrun");
        pm_trace_writer_meta(writer, "script", o->path);
        heap = pm_tee_open(inner_ops, inner, writer, PM_DOMAIN_OBJ, &ops, err);
        if (!heap)
            pm_run_error("objrun: %s", err);
    }
    uint64_t left = run_script(o, ops, heap);
    if (writer) {
        char why[PM_ERR_LEN] = "";
        if (pm_tee_error(heap))
            snprintf(why, sizeof why, "%s", pm_tee_error(heap));   /* the tee's text goes with it */
        pm_tee_close(heap);
        if (why[0])
            pm_run_error("objrun: --record-trace %s: %s", o->record, why);   /* OUT.tmp removed at exit */
        record_writer = NULL;
        if (pm_trace_writer_close(writer, err))
            pm_run_error("objrun: %s", err);
    }
    inner_ops->destroy(inner);
    pm_objscript_free(o->sc);
    if (left)
        pm_run_error("%s: %llu block(s) left in the backend after destroy", o->path,
                     (unsigned long long)left);
    for (int g = 0; g < 3; g++) {
        o->collections += o->gs[g].collections;
        o->collected += o->gs[g].collected;
        o->uncollectable += o->gs[g].uncollectable;
        o->gc_ns += o->gs[g].time_ns;
    }
}

static void print_json(const struct objrun_cmd *o)
{
    const struct pm_gc_gen_stats *gs = o->gs;
    printf("{\"script\": ");
    json_string(o->path);
    printf(", \"backend\": ");
    json_string(o->backend);
    printf(", \"statements\": %llu, \"collections\": %llu, \"collected\": %llu, "
           "\"uncollectable\": %llu, \"generations\": [",
           (unsigned long long)o->st.statements, (unsigned long long)o->collections,
           (unsigned long long)o->collected, (unsigned long long)o->uncollectable);
    for (int g = 0; g < 3; g++)
        printf("%s{\"collections\": %llu, \"collected\": %llu, \"uncollectable\": %llu, "
               "\"time_ns\": %llu}", g ? ", " : "",
               (unsigned long long)gs[g].collections, (unsigned long long)gs[g].collected,
               (unsigned long long)gs[g].uncollectable, (unsigned long long)gs[g].time_ns);
    printf("], \"gc_time_ns\": %llu, \"finalizers\": %llu, \"legacy_dels\": %llu, "
           "\"weakref_callbacks\": %llu, \"peak_live_bytes\": %llu, "
           "\"peak_footprint_bytes\": %llu, \"live_bytes_end\": %llu, \"requests\": %llu, "
           "\"invariants\": \"ok\"",
           (unsigned long long)o->gc_ns, (unsigned long long)o->st.finalized,
           (unsigned long long)o->st.legacy_dels, (unsigned long long)o->st.callbacks,
           (unsigned long long)o->os.peak_live_bytes, (unsigned long long)o->ctx.peak_footprint,
           (unsigned long long)o->os.live_bytes, (unsigned long long)o->os.requests);
    if (o->show_gc)
        printf(", \"gc\": \"%s\", \"gc_pauses\": %llu, \"gc_pause_max_ns\": %llu, "
               "\"gc_pause_total_ns\": %llu", o->gc_name, (unsigned long long)o->pauses.n,
               (unsigned long long)o->pauses.max, (unsigned long long)o->pauses.total);
    printf("}\n");
}

static void print_text(const struct objrun_cmd *o)
{
    const struct pm_gc_gen_stats *gs = o->gs;
    if (o->ctx.collect_lines > MAX_COLLECT_LINES)
        printf("  ... %llu more collect statements\n",
               (unsigned long long)(o->ctx.collect_lines - MAX_COLLECT_LINES));
    printf("collections           %llu (gen0 %llu, gen1 %llu, gen2 %llu), %.3f ms\n",
           (unsigned long long)o->collections, (unsigned long long)gs[0].collections,
           (unsigned long long)gs[1].collections, (unsigned long long)gs[2].collections,
           (double)o->gc_ns / 1e6);
    if (o->show_gc)
        printf("collector             %s: %llu pauses, max %.3f ms, total %.3f ms\n", o->gc_name,
               (unsigned long long)o->pauses.n, (double)o->pauses.max / 1e6,
               (double)o->pauses.total / 1e6);
    printf("collected             %llu\n", (unsigned long long)o->collected);
    printf("uncollectable         %llu\n", (unsigned long long)o->uncollectable);
    printf("finalizers run        %llu (legacy tp_del %llu), weakref callbacks %llu\n",
           (unsigned long long)o->st.finalized, (unsigned long long)o->st.legacy_dels,
           (unsigned long long)o->st.callbacks);
    printf("statements            %llu\n", (unsigned long long)o->st.statements);
    printf("peak_live_bytes       %llu\n", (unsigned long long)o->os.peak_live_bytes);
    printf("peak_footprint_bytes  %llu\n", (unsigned long long)o->ctx.peak_footprint);
    printf("live_bytes_end        %llu (%llu requests)\n", (unsigned long long)o->os.live_bytes,
           (unsigned long long)o->os.requests);
    printf("invariants            ok (refcounts match the names; nothing left alive)\n");
}

int cmd_objrun(int argc, char **argv)
{
    struct objrun_cmd o = {0};
    parse_options(&o, argc, argv);
    check_input(&o);
    run(&o);
    if (o.json)
        print_json(&o);
    else
        print_text(&o);
    return PM_EXIT_OK;
}
