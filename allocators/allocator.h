/* allocators/allocator.h — the one interface every pymemlab backend implements.
 *
 * Entry points: struct allocator_ops (one per backend, exported as
 * `const struct allocator_ops pm_<name>_ops`), pm_backend_find() /
 * pm_backend_create() (registry.c), the stats X-macro PM_STATS_FIELDS.
 *
 * THE CONTRACT (written once; every backend and every caller relies on it)
 *
 *  create(cfg, err) -> handle | NULL
 *      A fresh, independent instance. On failure returns NULL and writes a
 *      one-line reason (no trailing newline) into err[PM_ERR_LEN]: bad option,
 *      library unavailable, out of memory. Backends that are global by nature
 *      (system, tcmalloc, cpython) set PM_BACKEND_GLOBAL in .flags; for them
 *      several "instances" share one heap and destroy cannot release memory
 *      that other instances still use.
 *  destroy(h)
 *      Releases the instance and, for per-instance backends, every byte it
 *      mapped: afterwards pm_os_mapped(&inst->os) == 0. Live blocks are freed
 *      implicitly.
 *  malloc(h, n)      n == 0 returns a unique non-NULL pointer. Blocks of
 *                    n <= 512 are 16-byte aligned; larger blocks too. NULL on
 *                    out-of-memory with errno = ENOMEM.
 *  calloc(h, k, n)   zeroed; k * n overflowing size_t returns NULL (ENOMEM).
 *  realloc(h, p, n)  p == NULL acts as malloc; keeps min(old, n) bytes; on
 *                    failure returns NULL and p stays valid. n == 0 returns a
 *                    valid (possibly minimal) block, never frees p.
 *  free(h, p)        p == NULL is a no-op. A pointer this instance did not
 *                    hand out, or one already freed, is misuse (see below)
 *                    where the backend can detect it cheaply.
 *  usable_size(h, p) bytes usable at p, >= the size requested. May be NULL
 *                    for a reference backend whose library cannot tell (cpython).
 *  stats(h, out)     fills struct pm_stats; a field the backend cannot know is
 *                    PM_STAT_NA.
 *  check(h, msg)     walks the whole heap, returns the number of violated
 *                    invariants (0 = consistent) and writes a message for the
 *                    first into msg[PM_ERR_LEN]. Never aborts, never prints.
 *                    May be NULL in the ops table (reference allocators).
 *  trim(h)           gives free memory back to the OS where the design allows.
 *
 * Misuse (double free, foreign or misaligned pointer, bad realloc) is reported
 * through cfg->on_misuse, chosen by the caller at create time. The harness'
 * default handler prints one line naming the backend, the misuse and the
 * address, and aborts; fuzzers and tests install one that records. With no
 * handler the backend counts it in stats.misuse and ignores the call.
 *
 * Backends never print, never exit and preserve errno except where the
 * contract sets it. They get memory from the OS only through os.h.
 */
#ifndef PM_ALLOCATOR_H
#define PM_ALLOCATOR_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "os.h"
#include "pm_api.h"

PM_API_BEGIN

#define PM_ERR_LEN 256
#define PM_ALIGNMENT 16
#define PM_SMALL_MAX 512

/* What a check() has found: the violations counted, and the first one's
 * message "WHO: what" in msg (PM_ERR_LEN), as check() returns them. The one
 * formatter of every backend's check (pm_check_fail, options.c); a wrapper
 * passes on its inner backend's count, which keeps the inner's message. */
struct pm_check_report {
    char *msg;                  /* PM_ERR_LEN, "" until the first violation */
    const char *who;            /* the backend named in the message */
    unsigned long bad;          /* violations so far */
};
void pm_check_fail(struct pm_check_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The byte count of calloc(count, size) in *total; false and errno ENOMEM
 * if it overflows size_t (the contract's calloc failure). Every backend's
 * calloc starts with it. */
static inline bool pm_calloc_bytes(size_t count, size_t size, size_t *total)
{
    if (__builtin_mul_overflow(count, size, total)) {
        errno = ENOMEM;
        return false;
    }
    return true;
}
#define PM_STAT_NA UINT64_MAX

/* One list of stats fields: the struct, the CSV header, the JSON and the
 * printer are all generated from it. X(name, description). */
#define PM_STATS_FIELDS(X)                                                   \
    X(mapped_bytes,      "bytes mapped from the OS now")                    \
    X(peak_mapped_bytes, "max of mapped_bytes over the instance's life")    \
    X(used_bytes,        "bytes in blocks handed out (block sizes)")        \
    X(meta_bytes,        "bytes of headers, tables and other metadata")     \
    X(live_blocks,       "blocks handed out and not freed")                 \
    X(nmalloc,           "successful malloc/calloc/realloc-as-malloc calls")\
    X(nfree,             "successful frees")                                \
    X(arenas,            "arenas or regions mapped now")                    \
    X(pools,             "pools (or equivalent) in use now")                \
    X(large_blocks,      "blocks served by the large-object path now")      \
    X(misuse,            "misuse events detected")

struct pm_stats {
#define PM_X(name, desc) uint64_t name;
    PM_STATS_FIELDS(PM_X)
#undef PM_X
};

enum pm_misuse_kind {
    PM_MISUSE_DOUBLE_FREE,
    PM_MISUSE_FOREIGN_POINTER,
    PM_MISUSE_MISALIGNED_POINTER,
    PM_MISUSE_OVERRUN,          /* debug wrapper: trailing pad damaged */
    PM_MISUSE_UNDERRUN,         /* debug wrapper: leading pad damaged */
    PM_MISUSE_WRONG_API,        /* debug wrapper: API id mismatch */
    PM_MISUSE_KIND_COUNT
};
const char *pm_misuse_name(enum pm_misuse_kind kind);

/* Called by a backend on misuse. `detail` is a one-line message, may be "".
 * A handler may abort (default in the harness) or return, in which case the
 * backend ignores the offending call. */
typedef void (*pm_misuse_fn)(void *ctx, const char *backend,
                             enum pm_misuse_kind kind, const void *ptr,
                             const char *detail);

/* API domains of a request (CPython's raw/mem/obj allocator domains). */
enum pm_domain { PM_DOMAIN_NONE = 0, PM_DOMAIN_RAW, PM_DOMAIN_MEM, PM_DOMAIN_OBJ };

struct pm_config {
    const char *options;        /* backend options "k=v,k=v" or NULL */
    pm_misuse_fn on_misuse;     /* NULL: count in stats.misuse and ignore */
    void *misuse_ctx;
    struct pm_os_faults faults; /* fault injection for the OS layer */
    /* NULL: the instance keeps its own OS account (faults above). Else it
     * maps through this account, whose faults apply: a composite backend
     * (pymalloc's large path) charges its inner instance to its own. */
    struct pm_os *account;
};

typedef struct pm_heap pm_heap_t;   /* opaque per-backend instance */

enum {
    PM_BACKEND_GLOBAL = 1u << 0,    /* one process-wide heap */
    PM_BACKEND_REFERENCE = 1u << 1, /* third-party allocator, for comparison */
    PM_BACKEND_WRAPPER = 1u << 2,   /* wraps another backend (debug:NAME) */
    PM_BACKEND_TEST_ONLY = 1u << 3, /* not listed by `backends` */
    PM_BACKEND_NO_CONTENTS = 1u << 4, /* blocks do not keep what is written in them (null) */
    /* Its memory is not what a program's heap would be (null: one ring that
     * blocks alias): footprint, fragmentation and retention are reported as
     * not applicable, never as numbers. */
    PM_BACKEND_NO_MEMORY = 1u << 5,
};

struct allocator_ops {
    const char *name;
    const char *description;    /* one line */
    unsigned flags;
    /* NULL if available; else why not ("built without libjemalloc"). */
    const char *(*unavailable)(void);
    pm_heap_t *(*create)(const struct pm_config *cfg, char err[PM_ERR_LEN]);
    void (*destroy)(pm_heap_t *h);
    void *(*malloc)(pm_heap_t *h, size_t n);
    void *(*calloc)(pm_heap_t *h, size_t count, size_t n);
    void *(*realloc)(pm_heap_t *h, void *p, size_t n);
    void (*free)(pm_heap_t *h, void *p);
    size_t (*usable_size)(pm_heap_t *h, void *p);
    void (*stats)(pm_heap_t *h, struct pm_stats *out);
    unsigned long (*check)(pm_heap_t *h, char msg[PM_ERR_LEN]);
    void (*trim)(pm_heap_t *h);
    /* The OS-layer account of an own backend, NULL for references. */
    struct pm_os *(*os)(pm_heap_t *h);
    /* Allocation with an API domain (debug wrapper checks the id); may be NULL:
     * callers then use malloc/realloc/free. */
    void *(*malloc_dom)(pm_heap_t *h, size_t n, enum pm_domain d);
    void (*free_dom)(pm_heap_t *h, void *p, enum pm_domain d);
};

/* ---- registry (registry.c) ---- */

/* All backends, in listing order, NULL-terminated. */
extern const struct allocator_ops *const pm_backends[];

/* Finds a backend by its name (the part of `spec` before the first ','). For
 * "debug:INNER" returns the debug wrapper. NULL if unknown. */
const struct allocator_ops *pm_backend_find(const char *spec);

/* Parses spec "NAME[,k=v...]" and creates an instance. On failure returns NULL
 * and writes the reason (unknown backend with the list of known names, bad
 * option, unavailable library) into err. `base` may be NULL; its options field
 * is overridden by the spec's. *ops_out receives the backend. */
pm_heap_t *pm_backend_create(const char *spec, const struct pm_config *base,
                             const struct allocator_ops **ops_out,
                             char err[PM_ERR_LEN]);

/* The flags of the backend `spec` names, with those of the backend a
 * wrapper wraps (debug:null has PM_BACKEND_NO_MEMORY); 0 if unknown. */
unsigned pm_backend_spec_flags(const char *spec);

/* What results, tables and plots call the backend of `spec`: NAME for
 * "lib:PATH[,name=NAME]" (lib.c), the spec itself for every other. 0, or
 * -1 with err (a malformed lib spec). */
int pm_backend_label(const char *spec, char *out, size_t len, char err[PM_ERR_LEN]);

/* "lib:PATH[,name=NAME]" after "lib:": the path and the name (given or
 * derived from the path, lib.c). 0, or -1 with err. */
int pm_lib_spec_parse(const char *opts, char path[4096], char name[64], char err[PM_ERR_LEN]);

/* The address of `sym` in the library of a lib:PATH instance (tests). */
void *pm_lib_symbol(pm_heap_t *h, const char *sym);

/* "a, b, c": the names of every listed backend, for error messages. */
void pm_backend_names(char *buf, size_t len);

/* ---- option parsing for backends (options.c) ---- */

/* Iterates "k=v,k=v". Returns 1 with key/value (not NUL-terminated: lengths
 * given) for each pair, 0 at the end, -1 on a malformed item (err filled). */
struct pm_opt_iter { const char *p; };
int pm_opt_next(struct pm_opt_iter *it, const char **key, size_t *klen,
                const char **val, size_t *vlen, char err[PM_ERR_LEN]);
bool pm_opt_key_is(const char *key, size_t klen, const char *name);
/* Parses a size with optional K/M/G suffix (powers of 1024). */
bool pm_parse_size(const char *s, size_t len, uint64_t *out);

/* Calls cfg->on_misuse or counts. Used by backends. */
static inline void pm_misuse_report(const struct pm_config *cfg, uint64_t *counter,
                                    const char *backend, enum pm_misuse_kind kind,
                                    const void *ptr, const char *detail)
{
    (*counter)++;
    if (cfg->on_misuse)
        cfg->on_misuse(cfg->misuse_ctx, backend, kind, ptr, detail ? detail : "");
}

PM_API_END
#endif
