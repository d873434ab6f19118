/* harness/engine/engine.h — the engine library (CMake target pm_engine) and its
 * one rule.
 *
 * The engines measure; the commands (harness/cmd_*.c, main.c: pm_harness)
 * parse options and own all output. The library:
 *
 *   replay.c    trace replay on a backend: the sampled and the timed runs
 *   pyrun.c     a Python-like workload run live on a backend
 *   results.c   the one record (result_fields.def), the results files, the
 *               summary, provenance
 *   series.c    the one memory series writer
 *   suite.c     suites: parsing and the matrix
 *   metrics.c   RSS and the machine's load; latency.c per-call latency;
 *   stats.c     medians and intervals; fresh.c runs in forked processes;
 *   paths.c     where the installed files are
 *
 * THE RULE: engine code never prints and never exits. It reports an error
 * by its return value (0 ok; -1 or the PM_*_FAIL/USAGE codes of its
 * header) and one line in a caller's err[PM_ERR_LEN] buffer; it writes only
 * to the FILE * or file descriptors its caller gives it (a series file, a
 * summary stream); the caller decides the message, the exit code and the
 * stream. It never calls the command layer (cli.h: pm_usage_error,
 * pm_run_error, pm_cli_*), exit, printf, puts or perror, and never touches
 * stdout or stderr. A forked child of the engine's own (fresh.c) ends with
 * _exit. Policies the command chooses — what a backend's misuse report
 * does, for one — come in through options (pm_replay_opts.on_misuse).
 *
 * tests/engine_quiet.sh checks the built library's objects for those
 * references (the way tests/exports.sh checks the exported names).
 */
#ifndef PM_ENGINE_H
#define PM_ENGINE_H
#endif
