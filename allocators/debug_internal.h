/* allocators/debug_internal.h — what the debug wrapper's paths (debug.c)
 * share with its stats and check (debug_check.c): the heap, the in-band
 * layout and the verification of one block. Private to those two files;
 * the design is in debug.c's file comment.
 */
#ifndef PM_DEBUG_INTERNAL_H
#define PM_DEBUG_INTERNAL_H

#include "allocator.h"
#include "pm_addrset.h"
#include "pm_assert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define DBG_S sizeof(size_t)            /* bytes of the size field, S */
#define DBG_HEAD (2 * DBG_S)            /* bytes before p: size, id, S-1 pad */
#define DBG_EXTRA (3 * DBG_S)           /* bytes added per block: head + tail pad */
#define DBG_FORBIDDEN 0xFD              /* CPython's PYMEM_FORBIDDENBYTE */
#define DBG_CLEAN 0xCD                  /* PYMEM_CLEANBYTE: new memory */
#define DBG_DEAD 0xDD                   /* PYMEM_DEADBYTE: freed memory */
#define DBG_MAX_REQUEST ((size_t)1 << 40)   /* larger requests: ENOMEM */
#define DBG_REPORT_LEN 2048             /* bytes of the misuse report */
#define DBG_SET_MIN 512                 /* slots of the smallest live set */
#define DBG_DATA_SHOWN 8                /* data bytes dumped at each end */

_Static_assert(DBG_HEAD == PM_ALIGNMENT,
               "p = base + 2S must keep the inner block's 16-byte alignment");
_Static_assert(DBG_EXTRA == 24, "the documented per-block overhead is 3S = 24 bytes");
_Static_assert(DBG_MAX_REQUEST < SIZE_MAX - DBG_EXTRA, "request + overhead must not overflow");
_Static_assert((DBG_SET_MIN & (DBG_SET_MIN - 1)) == 0, "live set capacity is a power of two");

struct pm_heap {
    struct pm_config cfg;       /* the caller's: misuse handler (options dropped) */
    const struct allocator_ops *in_ops; /* the wrapped backend */
    pm_heap_t *in;              /* its instance */
    struct pm_os os;            /* this struct and the live set's table */
    struct pm_addrset live;     /* user pointers; live.count == nmalloc - nfree */
    uint64_t nmalloc;           /* successful malloc/calloc/realloc(NULL) calls */
    uint64_t nfree;             /* successful frees */
    uint64_t misuse;            /* misuse reports made by the wrapper */
    uint64_t inner_dups;        /* times the inner handed out a live block again */
    char name[48];              /* "debug:INNER", the backend named in reports */
    char report[DBG_REPORT_LEN];/* the last misuse report, passed as detail */
};

/* ---- the in-band layout ---- */

static inline void size_write(unsigned char *q, size_t n)
{
    for (size_t i = DBG_S; i-- > 0; n >>= 8)
        q[i] = (unsigned char)n;
}

static inline size_t size_read(const unsigned char *q)
{
    size_t n = 0;
    for (size_t i = 0; i < DBG_S; i++)
        n = n << 8 | q[i];
    return n;
}

static inline bool api_is_valid(unsigned char id) { return id == 'r' || id == 'm' || id == 'o'; }

static inline char api_of_domain(enum pm_domain d)
{
    switch (d) {
    case PM_DOMAIN_RAW: return 'r';
    case PM_DOMAIN_OBJ: return 'o';
    case PM_DOMAIN_MEM:
    case PM_DOMAIN_NONE:
    default: return 'm';
    }
}

/* Writes size, id and both pads around the data of an inner block; returns p. */
static inline unsigned char *block_decorate(unsigned char *base, size_t n, char api)
{
    size_write(base, n);
    base[DBG_S] = (unsigned char)api;
    memset(base + DBG_S + 1, DBG_FORBIDDEN, DBG_S - 1);
    memset(base + DBG_HEAD + n, DBG_FORBIDDEN, DBG_S);
    return base + DBG_HEAD;
}

enum dbg_fault { DBG_OK, DBG_BAD_LEAD, DBG_BAD_ID, DBG_BAD_SIZE, DBG_BAD_TAIL };

/* Verifies a LIVE block (its whole inner block is readable). api 0 accepts
 * any valid API id (check() does not know which API the caller meant). With
 * fit, the size field must fit the inner block (inner usable_size >= n + 3S)
 * before the tail is read. free and realloc skip that (on `micro` over
 * system it was 25-30 ns a free, about a third of what the wrapper adds) and
 * bound n by DBG_MAX_REQUEST only, where CPython bounds it by nothing: a size
 * field damaged on its own (bytes p-16..p-9 hit while the pad and id are
 * intact) can send their tail check astray, past the inner block. check()
 * and the reports use fit. */
static inline enum dbg_fault block_verify(const pm_heap_t *h, const unsigned char *p, char api, bool fit)
{
    for (size_t i = 1; i < DBG_S; i++)
        if (p[-(ptrdiff_t)i] != DBG_FORBIDDEN)
            return DBG_BAD_LEAD;
    unsigned char id = p[-(ptrdiff_t)DBG_S];
    if (api ? id != (unsigned char)api : !api_is_valid(id))
        return DBG_BAD_ID;
    size_t n = size_read(p - DBG_HEAD);
    if (n > DBG_MAX_REQUEST ||
        (fit && n + DBG_EXTRA > h->in_ops->usable_size(h->in, (void *)(p - DBG_HEAD))))
        return DBG_BAD_SIZE;
    for (size_t i = 0; i < DBG_S; i++)
        if (p[n + i] != DBG_FORBIDDEN)
            return DBG_BAD_TAIL;
    return DBG_OK;
}

/* "'m'" for a printable id, "'\\xdd'" otherwise: CPython prints the raw
 * byte between the quotes; the report stays printable ASCII. */
static inline const char *api_text(unsigned char id, char out[8])
{
    if (id >= 0x20 && id < 0x7F)
        snprintf(out, 8, "'%c'", id);
    else
        snprintf(out, 8, "'\\x%02x'", id);
    return out;
}

/* debug_check.c */
void debug_stats(pm_heap_t *h, struct pm_stats *out);
unsigned long debug_check(pm_heap_t *h, char msg[PM_ERR_LEN]);

#endif
