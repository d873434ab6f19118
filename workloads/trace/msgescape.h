/* workloads/trace/msgescape.h — control bytes out of one-line messages. The trace
 * reader (binary and text), the trace writer, the mtrace importer and the
 * suite parser quote words of their input in their errors; a newline or an
 * escape sequence in such a word would break the one-line rule or drive the
 * terminal. pm_msg_escape rewrites a finished message in place: newline,
 * tab and carriage return as \n \t \r, every other byte below 0x20 and 0x7f
 * as \xNN, the same forms objscript's messages use (workloads/objscript/objscript_parse.c,
 * word_escape, which also escapes the backslash and bytes >= 0x80 in the
 * words it quotes; here a backslash or UTF-8 in a path is left as it is).
 *
 * Entry point: pm_msg_escape. */
#ifndef PM_MSGESCAPE_H
#define PM_MSGESCAPE_H

#include <stddef.h>
#include "pm_api.h"

PM_API_BEGIN

/* Escapes msg (NUL-terminated, in a buffer of cap bytes) in place; a result
 * longer than cap - 1 is cut after a whole escape and ends in "...".
 * Returns msg. */
char *pm_msg_escape(char *msg, size_t cap);

PM_API_END
#endif
