/* harness/trace_cmds.h — `trace` subcommands kept in their own files;
 * cmd_trace.c dispatches to them.
 *
 *   trace record -o OUT [--python-domains|--all] [--] COMMAND ARGS...   trace_record.c
 *   trace import --format mtrace LOG -o OUT                             trace_import.c
 *   trace stats TRACE [--json] [--lenient]                              trace_stats.c
 */
#ifndef PM_TRACE_CMDS_H
#define PM_TRACE_CMDS_H

int cmd_trace_record(int argc, char **argv);
int cmd_trace_import(int argc, char **argv);
int cmd_trace_stats(int argc, char **argv);

#endif
