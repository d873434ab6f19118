/* harness/cli/main.c — the pymemlab command line: dispatches to one subcommand
 * per file under harness/. Owns the process: output, exit codes, the assert
 * handler, and the static-TLS re-exec needed to dlopen jemalloc. */
#include "cli.h"
#include "opts.h"
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

static int cmd_completion(int argc, char **argv);

/* The commands; each one's usage, summary and options are its option table
 * (opts.h), next to its parser in its own file. */
const struct pm_command pm_commands[] = {
    {"backends", cmd_backends, &pm_spec_backends},
    {"micro", cmd_micro, &pm_spec_micro},
    {"replay", cmd_replay, &pm_spec_replay},
    {"compare", cmd_compare, &pm_spec_compare},
    {"table", cmd_table, &pm_spec_table},
    {"gcbench", cmd_gcbench, &pm_spec_gcbench},
    {"objrun", cmd_objrun, &pm_spec_objrun},
    {"trace", cmd_trace, &pm_spec_trace},
    {"debugstats", cmd_debugstats, &pm_spec_debugstats},
    {"pyrun", cmd_pyrun, &pm_spec_pyrun},
    {"run", cmd_run, &pm_spec_run},
    {"plot", cmd_plot, &pm_spec_plot},
    {"merge", cmd_merge, &pm_spec_merge},
    {"report", cmd_report, &pm_spec_report},
    {"validate", cmd_validate, &pm_spec_validate},
    {"completion", cmd_completion, &pm_spec_completion},
    {NULL, NULL, NULL},
};

static int cmd_completion(int argc, char **argv)
{
    return pm_cli_completion(pm_commands, argc, argv);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pymemlab COMMAND [ARGS]\n\ncommands:\n");
    for (const struct pm_command *c = pm_commands; c->name; c++)
        fprintf(f, "  %-11s %s\n", c->name, c->spec->summary);
    fprintf(f, "  %-11s %s\n", "help", "help COMMAND (or COMMAND --help): the arguments and options of a command");
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
    if (!strcmp(name, "help") && argc == 4 && !strcmp(argv[2], "--roff")) {
        /* the man page's text of a command (scripts/gen-man.sh) */
        for (const struct pm_command *c = pm_commands; c->name; c++)
            if (!strcmp(c->name, argv[3])) {
                pm_cli_help_roff(c->spec, stdout);
                return PM_EXIT_OK;
            }
        pm_usage_error("help: unknown command '%s'", argv[3]);
    }
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2) {
            for (const struct pm_command *c = pm_commands; c->name; c++)
                if (!strcmp(c->name, argv[2])) {
                    const struct pm_cli_spec *sub = argc > 3 ? pm_cli_sub(c->spec, argv[3]) : NULL;
                    pm_cli_help(sub ? sub : c->spec, stdout);
                    return PM_EXIT_OK;
                }
            pm_usage_error("help: unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return PM_EXIT_OK;
    }
    for (const struct pm_command *c = pm_commands; c->name; c++)
        if (!strcmp(c->name, name) && wants_help(argc, argv)) {
            /* trace gen --help: the subcommand's help alone */
            const struct pm_cli_spec *sub = argc > 2 ? pm_cli_sub(c->spec, argv[2]) : NULL;
            pm_cli_help(sub ? sub : c->spec, stdout);
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
