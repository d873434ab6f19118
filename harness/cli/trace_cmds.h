/* harness/cli/trace_cmds.h — `trace` subcommands kept in their own files;
 * cmd_trace.c dispatches to them.
 *
 *   trace record -o OUT [--python-domains|--all] [--] COMMAND ARGS...   trace_record.c
 *   trace import --format mtrace LOG -o OUT                             trace_import.c
 *   trace stats TRACE [--json] [--lenient]                              trace_stats.c
 */
#ifndef PM_TRACE_CMDS_H
#define PM_TRACE_CMDS_H

#include <stdbool.h>

int cmd_trace_record(int argc, char **argv);
int cmd_trace_import(int argc, char **argv);
int cmd_trace_stats(int argc, char **argv);

struct pm_trace_writer;
/* Ends a writer that `trace gen` or `trace import` filled: a binary writer
 * (opened on `out`) is closed; a memory writer (for a text OUT) is read
 * back and written to `out` in the text form. Exits 1 with one line on an
 * I/O error. */
void pm_trace_cmd_finish(struct pm_trace_writer *w, const char *out, bool text);

#endif
