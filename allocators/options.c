/* allocators/options.c — helpers shared by backends: "k=v,k=v" option
 * iteration, size parsing with K/M/G suffixes, misuse names, the assert hook.
 * Never prints. */
#include "allocator.h"
#include "pm_assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pm_assert_handler_fn pm_assert_handler;

_Noreturn void pm_assert_fail(const char *file, int line, const char *expr)
{
    if (pm_assert_handler)
        pm_assert_handler(file, line, expr);
    abort();
}

void pm_check_fail(struct pm_check_report *r, const char *fmt, ...)
{
    if (r->bad++ == 0) {
        int w = snprintf(r->msg, PM_ERR_LEN, "%s: ", r->who);
        if (w < 0 || w >= PM_ERR_LEN)
            return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg + w, PM_ERR_LEN - (size_t)w, fmt, ap);
        va_end(ap);
    }
}

const char *pm_misuse_name(enum pm_misuse_kind kind)
{
    static const char *const names[PM_MISUSE_KIND_COUNT] = {
        [PM_MISUSE_DOUBLE_FREE] = "double free",
        [PM_MISUSE_FOREIGN_POINTER] = "foreign pointer",
        [PM_MISUSE_MISALIGNED_POINTER] = "misaligned pointer",
        [PM_MISUSE_OVERRUN] = "buffer overrun",
        [PM_MISUSE_UNDERRUN] = "buffer underrun",
        [PM_MISUSE_WRONG_API] = "wrong API",
    };
    return (unsigned)kind < PM_MISUSE_KIND_COUNT ? names[kind] : "unknown misuse";
}

int pm_opt_next(struct pm_opt_iter *it, const char **key, size_t *klen,
                const char **val, size_t *vlen, char err[PM_ERR_LEN])
{
    const char *p = it->p;
    if (!p)
        return 0;
    while (*p == ',')
        p++;
    if (!*p) {
        it->p = p;
        return 0;
    }
    const char *end = strchr(p, ',');
    if (!end)
        end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq || eq == p || eq + 1 == end) {
        snprintf(err, PM_ERR_LEN, "malformed option '%.*s' (expected key=value)",
                 (int)(end - p), p);
        return -1;
    }
    *key = p;
    *klen = (size_t)(eq - p);
    *val = eq + 1;
    *vlen = (size_t)(end - eq - 1);
    it->p = end;
    return 1;
}

bool pm_opt_key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

bool pm_parse_size(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    if (len == 0)
        return false;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return false;
    unsigned shift = 0;
    if (i < len) {
        switch (s[i]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return false;
        }
        i++;
        if (i < len && (s[i] == 'i' || s[i] == 'I'))
            i++;
        if (i < len && (s[i] == 'b' || s[i] == 'B'))
            i++;
    }
    if (i != len || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = v << shift;
    return true;
}
