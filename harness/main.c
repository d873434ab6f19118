/* harness/main.c — the pymemlab command line: dispatches to one subcommand
 * per file under harness/. Owns the process: output, exit codes, the assert
 * handler, and the static-TLS re-exec needed to dlopen jemalloc. */
#include "cli.h"
#include "paths.h"
#include "pm_assert.h"
#include "pm_build_info.h"
#include "results.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PM_TLS_TUNABLE "glibc.rtld.optional_static_tls=65536"

const struct pm_command pm_commands[] = {
    {"backends", cmd_backends, "", "list every backend: available or why not, global or per-instance"},
    {"micro", cmd_micro, "--backend B [--ops N] [--live N] [--seed S] [--reps N] [--mode cold|warm] [--json]",
     "random free-then-malloc churn micro-benchmark (ns per op)"},
    {"replay", cmd_replay,
     "TRACE --backend B [--reps N] [--mode cold|warm] [--timed-only] [--json] [--check-every N] "
     "[--sample-every N] [--series FILE] [--domain obj|mem|raw|pymalloc|all] [--touch none|pages|full] "
     "[--lenient] [--engine windows|per-op] [--latency-every N]",
     "replay a trace on a backend: ns/op, footprint, fragmentation, retention"},
    {"compare", cmd_compare, "DIR_A DIR_B [--json]",
     "compare two results folders (same workloads and backends): B/A ns/op with 95% intervals, footprint ratios"},
    {"table", cmd_table, "RESULTS.jsonl|DIR [--baseline B]", "print a comparison table (intervals, not distinguishable) from replay --json lines or a results folder"},
    {"gcbench", cmd_gcbench, "--backend B [--objects N] [--json]", "time one full collection of N containers, half in unreachable 2-cycles (ns per tracked object)"},
    {"objrun", cmd_objrun, "SCRIPT --backend B [--json] [--record-trace OUT]", "run an object script (docs/objscript.md): collector activity and memory figures"},
    {"trace", cmd_trace, "gen PATTERN [--ops N] [--live N] [--seed S] [--sizes python|uniform:MIN-MAX] [--keep-every K] [--again N] [--realloc-frac F] [--max-len N] [--against pymalloc|segfit|buddy] [--live-max BYTES] -o OUT | convert IN OUT [--to text|binary] [--lenient] | dump TRACE [--lenient] | info TRACE [--lenient] | bench TRACE [--reps N] | record -o OUT [--python-domains|--all] -- COMMAND ARGS... | record --salvage OUT.tmp -o OUT | import --format mtrace LOG -o OUT | stats TRACE [--json] [--lenient]", "allocation traces: generate, convert binary <-> text, dump, inspect, time decoding, record a program, import an mtrace log, statistics"},
    {"debugstats", cmd_debugstats, "--backend pymalloc[,OPTS] [--exercise N | TRACE [--at-phase N] [--domain obj|mem|raw|pymalloc|all]]", "pymalloc arenas/pools report in sys._debugmallocstats() layout"},
    {"pyrun", cmd_pyrun, "WORKLOAD --backend B [--scale N] [--seed S] [--reps N] [--mode cold|warm] [--json] [--series FILE] [--sample-every N] [--latency-every N] | --list", "run a Python-like workload (docs/workloads.md) live on a backend: time, footprint, fragmentation, retention, GC"},
    {"run", cmd_run, "[--suite S|FILE] [--backends a,b,...] [--workloads w,...] [--reps N] [--mode cold|warm] [--jobs J] [--out DIR] [--baseline B] [--resume [--force]] [--timeout SEC] [--mem-limit SIZE|none] [--series-every N] [--latency-every N] [--emit-jobs FILE] [--only W:B:R] [--traces-dir DIR]", "the main job: run a suite (docs/suites.md) on every backend into a results folder"}, {"plot", cmd_plot, "DIR [--scripts DIR]", "draw a results folder's plots (gnuplot): DIR/plots/*.png and *.svg"}, {"merge", cmd_merge, "DIR... --out DIR [--force]", "combine results folders (e.g. --emit-jobs parts) into one"},
    {"report", cmd_report, "DIR [--out FILE]",
     "one self-contained HTML page of a results folder: tables with intervals, every figure, provenance, validation"},
    {"validate", cmd_validate, "[--allocators LIST] [--reps N] [--json] [--out DIR] [--sample-us US] [--replay-glibc fixed|dynamic] -- COMMAND ARGS...",
     "run a program natively under each allocator and replay its recorded trace on the matching backend: does replay "
     "predict the native anonymous RSS? (docs/validation.md)"},
    {NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pymemlab COMMAND [ARGS]\n\ncommands:\n");
    for (const struct pm_command *c = pm_commands; c->name; c++)
        fprintf(f, "  %-11s %s\n", c->name, c->summary);
    fprintf(f, "  %-11s %s\n", "help", "help COMMAND (or COMMAND --help): the arguments of a command");
    fprintf(f, "  %-11s %s\n", "--version", "the commit, the build and the reference libraries found");
}

/* `pymemlab --version`: the source commit (asked of git in the source tree
 * the binary was built from; "unknown" without it), the build, and every
 * reference library with its version or why it is unavailable. */
static int print_version(void)
{
    char commit[128];
    pm_source_commit(commit, sizeof commit);
    printf("pymemlab, commit %s, %s build, %s\n", commit[0] ? commit : "unknown",
           PM_BUILD_TYPE[0] ? PM_BUILD_TYPE : "default", PM_BUILD_COMPILER);
    printf("results format %d\n", PM_RESULTS_VERSION);
    /* where the data comes from (paths.h): an installed prefix or the source tree */
    const char *prefix = pm_install_prefix();
    char rec[4200], probe[4200];
    if (!pm_helper_lib("libpmrecord.so", rec, sizeof rec))
        snprintf(rec, sizeof rec, "?");
    if (!pm_helper_lib("libpmprobe.so", probe, sizeof probe))
        snprintf(probe, sizeof probe, "?");
    printf("data from %s: %s\n", prefix ? "install prefix" : "source tree", prefix ? prefix : PM_BUILD_SOURCE_DIR);
    printf("  suites     %s\n  plots      %s\n  docs       %s\n  recorder   %s\n  probe      %s\n",
           pm_suites_dir(), pm_plot_scripts_dir(), pm_docs_dir(), rec, probe);
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        if (!((*b)->flags & PM_BACKEND_REFERENCE))
            continue;
        const char *why = (*b)->unavailable ? (*b)->unavailable() : NULL;
        printf("  %-10s %s\n", (*b)->name, why ? why : (*b)->description);
    }
    return PM_EXIT_OK;
}

/* `-h`/`--help` among a command's own arguments (before any `--`, after
 * which they belong to the program a command runs). */
static bool wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return false;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    }
    return false;
}

static void assert_print(const char *file, int line, const char *expr)
{
    fflush(stdout);
    fprintf(stderr, "pymemlab: assertion failed: %s (%s:%d)\n", expr, file, line);
}

/* jemalloc uses initial-exec TLS and cannot be dlopen'ed into a process with
 * glibc's default static TLS surplus. Re-exec once with a larger surplus; the
 * cost is one exec and some KiB of TLS reservation, the same for every
 * backend. */
static void ensure_static_tls(char **argv)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if (t && strstr(t, "optional_static_tls"))
        return;
    if (getenv("PM_NO_REEXEC"))
        return;
    char buf[512];
    if (t && *t)
        snprintf(buf, sizeof buf, "%s:%s", t, PM_TLS_TUNABLE);
    else
        snprintf(buf, sizeof buf, "%s", PM_TLS_TUNABLE);
    setenv("GLIBC_TUNABLES", buf, 1);
    setenv("PM_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: go on; jemalloc will show as unavailable. */
}

int main(int argc, char **argv)
{
    pm_assert_handler = assert_print;
    char known[512] = "";
    for (const struct pm_command *c = pm_commands; c->name; c++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "", c->name);
    if (argc < 2)
        pm_usage_error("no command given (known: %s; pymemlab --help describes them)", known);
    const char *name = argv[1];
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        ensure_static_tls(argv);    /* jemalloc is only loadable after it */
        unsetenv("PM_NO_REEXEC");
        return print_version();
    }
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2) {
            for (const struct pm_command *c = pm_commands; c->name; c++)
                if (!strcmp(c->name, argv[2])) {
                    printf("usage: pymemlab %s %s\n%s\n", c->name, c->usage, c->summary);
                    return PM_EXIT_OK;
                }
            pm_usage_error("help: unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return PM_EXIT_OK;
    }
    for (const struct pm_command *c = pm_commands; c->name; c++)
        if (!strcmp(c->name, name) && wants_help(argc, argv)) {
            printf("usage: pymemlab %s %s\n%s\n", c->name, c->usage, c->summary);
            return PM_EXIT_OK;
        }
    for (const struct pm_command *c = pm_commands; c->name; c++)
        if (!strcmp(c->name, name)) {
            ensure_static_tls(argv);
            unsetenv("PM_NO_REEXEC");
            return c->run(argc - 1, argv + 1);
        }
    pm_usage_error("unknown command '%s' (known: %s; pymemlab --help describes them)", name, known);
}
