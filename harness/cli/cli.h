/* harness/cli/cli.h — what every subcommand shares: the error convention (one
 * line "pymemlab: ...", exit code 2 for bad input), strict number parsing,
 * backend creation with the harness' misuse handler, the command table. */
#ifndef PM_CLI_H
#define PM_CLI_H

#include "allocator.h"

#include <stdbool.h>
#include <stdint.h>

#define PM_EXIT_OK 0
#define PM_EXIT_FAIL 1      /* the measured thing failed (check() violation, OOM) */
#define PM_EXIT_USAGE 2     /* bad input: option, file, name */

/* Prints "pymemlab: <message>" on stderr and exits with code 2. */
_Noreturn void pm_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same with exit code 1: a run-time failure of the thing measured. */
_Noreturn void pm_run_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict parsers for option values; on error they call pm_usage_error naming
 * the option. Accept K/M/G suffixes (powers of 1024 for sizes, 1000 for
 * counts: "20M" ops = 20,000,000). */
uint64_t pm_arg_count(const char *opt, const char *val, uint64_t min, uint64_t max);
uint64_t pm_arg_size(const char *opt, const char *val, uint64_t min, uint64_t max);
double pm_arg_double(const char *opt, const char *val, double min, double max);

/* Creates a backend from a spec, exits 2 with the registry's message on
 * failure. Installs the harness' misuse handler (print one line, abort). */
pm_heap_t *pm_cli_backend(const char *spec, const struct allocator_ops **ops);
void pm_cli_misuse_abort(void *ctx, const char *backend, enum pm_misuse_kind kind,
                         const void *ptr, const char *detail);

/* Whether the backend named by spec keeps the contents of its blocks: false
 * for one flagged PM_BACKEND_NO_CONTENTS and for any wrapper around one
 * (debug:null). Object workloads (pyrun, objrun, gcbench, run's py items)
 * need it. An unknown name answers true (pm_cli_backend reports it). */
bool pm_cli_keeps_contents(const char *spec);
/* Exits 2 ("CMD: backend 'SPEC' does not keep ...") unless it does. */
void pm_cli_need_contents(const char *cmd, const char *spec);

/* Output paths are checked before the work starts (workloads/fileio.h,
 * pm_out_check): a folder where a file is expected, a missing or unwritable
 * folder, a leftover PATH.tmp exit 2 with "CMD: PATH: problem". An existing
 * regular file is replaced when the work is done (atomically: PATH.tmp,
 * fsync, rename), never before. */
void pm_cli_out_check(const char *cmd, const char *path);
/* The same without the PATH.tmp rule (trace record --salvage PATH.tmp). */
void pm_cli_out_check_target(const char *cmd, const char *path);

/* Running a program in a forked child, with exec failures reported back:
 * the child calls pm_exec_or_report(fd, cmd) with the write end of a
 * CLOEXEC pipe (execvp; on failure its errno goes down the pipe and the
 * child exits 127); the parent closes that end and calls
 * pm_exec_errno(read end), which closes it and returns 0 when the exec
 * succeeded (the pipe closed on exec), else the child's errno. */
_Noreturn void pm_exec_or_report(int fd, char **cmd);
int pm_exec_errno(int fd);
/* Creates the results folder DIR if need be and locks DIR/.lock (flock,
 * exclusive) for the rest of the process, for `run` and `merge --out`
 * alike: a folder another run or merge holds is refused with exit 2
 * ("CMD: DIR is in use by another run or merge ..."), before anything is
 * written. The fd is never closed (the lock ends with the process; the
 * children of run share it and die with it). The file is left in place:
 * removing it would let a third process lock a new file while the second
 * still holds the old one. */
void pm_cli_folder_lock(const char *cmd, const char *dir);

/* Exits 2 naming the option getopt_long refused (':' a missing value, else
 * unknown): what pm_cli_getopt (opts.h) calls; commands parse through it. */
_Noreturn void pm_bad_option(const char *cmd, int optopt_val, char **argv);

struct pm_cli_spec;
struct pm_command {
    const char *name;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
    const struct pm_cli_spec *spec;     /* its option table, usage, summary (opts.h) */
};
extern const struct pm_command pm_commands[];

/* Subcommands (one file each under harness/). */
int cmd_backends(int argc, char **argv);
int cmd_micro(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_objrun(int argc, char **argv);
int cmd_gcbench(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_debugstats(int argc, char **argv);
int cmd_pyrun(int argc, char **argv);
int cmd_run(int argc, char **argv); int cmd_plot(int argc, char **argv); int cmd_merge(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Each command's option table (opts.h), next to its parser. */
extern const struct pm_cli_spec pm_spec_backends, pm_spec_micro, pm_spec_replay, pm_spec_compare,
    pm_spec_table, pm_spec_gcbench, pm_spec_objrun, pm_spec_trace, pm_spec_debugstats, pm_spec_pyrun,
    pm_spec_run, pm_spec_plot, pm_spec_merge, pm_spec_report, pm_spec_validate;
/* trace's subcommands that live in their own files */
extern const struct pm_cli_spec pm_spec_trace_record, pm_spec_trace_import, pm_spec_trace_stats;

/* ---- the collector options (issue 20): --gc NAME, --gc-threshold T0,T1,T2 ----
 * pm_cli_gc_name: exits 2 naming the option and the known names if unknown.
 * pm_cli_gc_thresholds: three integers 0..2^31 separated by commas, else
 * exits 2. */
const char *pm_cli_gc_name(const char *cmd, const char *arg);
void pm_cli_gc_thresholds(const char *cmd, const char *arg, int64_t out[3]);

#endif
