/* harness/cli/trace_import.c — `pymemlab trace import --format mtrace LOG -o OUT`:
 * another tool's allocation log as a trace (OUT.txt: the text form).
 *
 * The log is read twice: a dry run checks every line (a bad line is one
 * error naming it, exit 2, and OUT is never created) and counts what cannot
 * be replayed, which goes into the metadata; the second run writes. Ops that
 * were dropped or changed are reported on stderr, one note per reason.
 *
 * Entry point: cmd_trace_import.
 */
#include "cli.h"
#include "opts.h"
#include "fileio.h"
#include "metrics.h"
#include "recording.h"
#include "trace_cmds.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void meta_u64(struct pm_trace_writer *w, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    pm_trace_writer_meta(w, key, buf);
}

static const struct pm_cli_opt import_opts[] = {
    PM_CLI_OPT("format", 'f', PM_CLI_STRING, "F", NULL, "the log's format", .values = "mtrace",
               .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("output", 'o', PM_CLI_FILE, "OUT", NULL, "the trace to write (.txt: the text form)",
               .short_name = 'o', .flags = PM_CLI_REQUIRED),
    {0},
};

const struct pm_cli_spec pm_spec_trace_import = {
    .name = "trace import", .args = "LOG", .opts = import_opts,
    .summary = "import an allocation log (glibc's mtrace) as a trace",
};

int cmd_trace_import(int argc, char **argv)
{
    const char *format = NULL, *out = NULL, *log = NULL;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_trace_import, argc, argv, &v)) != -1) {
        switch (c) {
        case 'f': format = v.s; break;
        case 'o': out = v.s; break;
        default: pm_bad_option("trace", c, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (log)
            pm_usage_error("trace import: unexpected argument '%s' (one LOG)", argv[i]);
        log = argv[i];
    }
    if (!format)
        pm_usage_error("trace import: --format is required (known: mtrace)");
    if (strcmp(format, "mtrace"))
        pm_usage_error("trace import: unknown --format '%s' (known: mtrace)", format);
    if (!log)
        pm_usage_error("trace import: needs a LOG to read");
    if (!out)
        pm_usage_error("trace import: -o OUT is required");
    pm_cli_out_check("trace import", out);
    char err[PM_ERR_LEN];
    uint64_t log_size;
    int log_fd = pm_file_open_read(log, UINT64_MAX, &log_size, err);
    if (log_fd < 0)
        pm_usage_error("trace import: %s", err);
    FILE *in = fdopen(log_fd, "r");
    if (!in)
        pm_run_error("trace import: %s: %s", log, strerror(errno));
    struct pm_mtrace_report r;
    uint64_t t0 = pm_now_ns();
    if (pm_mtrace_import(in, log, NULL, &r, err)) {
        fclose(in);
        pm_usage_error("%s", err);
    }
    bool text = pm_trace_format_for_path(out) == PM_TRACE_TEXT;
    struct pm_trace_writer *w = text ? pm_trace_writer_open_mem(err) : pm_trace_writer_open(out, err);
    if (!w)
        pm_run_error("%s", err);
    pm_trace_writer_meta(w, "source", "glibc mtrace log");
    pm_trace_writer_meta(w, "mtrace.log", log);
    meta_u64(w, "mtrace.lines", r.lines);
    meta_u64(w, "import.unknown_frees", r.unknown_frees);
    meta_u64(w, "import.unknown_reallocs", r.unknown_reallocs);
    meta_u64(w, "import.missed_frees", r.missed_frees);
    meta_u64(w, "import.failed_requests", r.failed);
    meta_u64(w, "import.oversize", r.oversize);
    rewind(in);
    struct pm_mtrace_report r2;
    int rc = pm_mtrace_import(in, log, w, &r2, err);
    fclose(in);
    if (rc || r2.ops != r.ops) {
        pm_trace_writer_abort(w);
        if (rc == 0)
            pm_run_error("trace import: %s changed while it was read", log);
        if (rc == -1)
            pm_usage_error("%s", err);
        pm_run_error("%s", err);
    }
    pm_trace_cmd_finish(w, out, text);
    struct stat st;
    uint64_t bytes = stat(out, &st) ? 0 : (uint64_t)st.st_size;
    printf("%s: mtrace log %s: %" PRIu64 " lines -> %" PRIu64 " ops (alloc %" PRIu64 ", realloc %" PRIu64
           ", free %" PRIu64 "), %" PRIu64 " slots, %" PRIu64 " blocks never freed, %" PRIu64 " bytes, %.2f s\n",
           out, log, r.lines, r.ops, r.allocs, r.reallocs, r.frees, r.slots, r.live_at_end, bytes,
           (double)(pm_now_ns() - t0) / 1e9);
    if (r.unknown_frees)
        fprintf(stderr, "pymemlab: note: %s: %" PRIu64 " frees of pointers the log never allocated were dropped "
                        "(allocated before mtrace() or after muntrace(), or the log is partial)\n",
                log, r.unknown_frees);
    if (r.unknown_reallocs)
        fprintf(stderr, "pymemlab: note: %s: %" PRIu64 " reallocs of pointers the log never allocated were "
                        "recorded as allocs of the new block (their old block is unknown)\n",
                log, r.unknown_reallocs);
    if (r.missed_frees)
        fprintf(stderr, "pymemlab: note: %s: %" PRIu64 " allocations at an address still live in the log: the "
                        "missing free was inserted before each\n",
                log, r.missed_frees);
    if (r.failed)
        fprintf(stderr, "pymemlab: note: %s: %" PRIu64 " failed requests ((nil) results, '!' reallocs) made no "
                        "op\n",
                log, r.failed);
    if (r.oversize)
        fprintf(stderr, "pymemlab: note: %s: %" PRIu64 " requests over the trace's 1 TiB size limit were dropped "
                        "(a later free of such a block counts as unknown)\n",
                log, r.oversize);
    return PM_EXIT_OK;
}
