/* workloads/trace/msgescape.c — pm_msg_escape (msgescape.h). */
#include "msgescape.h"

#include <stdbool.h>
#include <string.h>

/* One byte as messages show it, into e[4]; returns its length. */
static size_t ctl_escape(char e[4], unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c == '\n' || c == '\t' || c == '\r') {
        e[0] = '\\';
        e[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        e[0] = '\\';
        e[1] = 'x';
        e[2] = hex[c >> 4];
        e[3] = hex[c & 15];
        return 4;
    }
    e[0] = (char)c;
    return 1;
}

char *pm_msg_escape(char *msg, size_t cap)
{
    if (cap < 4)
        return msg;
    size_t n = strnlen(msg, cap - 1), full = 0;
    bool any = false;
    char e[4];
    for (size_t i = 0; i < n; i++) {
        size_t k = ctl_escape(e, (unsigned char)msg[i]);
        full += k;
        any |= k > 1;
    }
    if (!any)
        return msg;
    /* right to left would need the final length; a copy of the input is
     * simpler and the messages are short */
    char in[1024];
    if (n >= sizeof in)
        n = sizeof in - 1;
    memcpy(in, msg, n);
    size_t room = full <= cap - 1 ? cap - 1 : cap - 4, o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = ctl_escape(e, (unsigned char)in[i]);
        if (o + k > room)
            break;
        memcpy(msg + o, e, k);
        o += k;
    }
    if (full > cap - 1) {
        memcpy(msg + o, "...", 3);
        o += 3;
    }
    msg[o] = 0;
    return msg;
}
