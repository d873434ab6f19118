/* workloads/recorder/recorder.c — libpmrecord.so, the allocation recorder.
 *
 * Preloaded (LD_PRELOAD) into a program by `pymemlab trace record`, it writes
 * the program's allocation stream as a binary trace (docs/trace-format.md).
 * README "Recording" says what is recorded in which mode and what each misses.
 *
 * Entry points (the only exported symbols): malloc, calloc, realloc,
 * reallocarray, free, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc (interposed: they call glibc's __libc_* functions, never dlsym, so
 * the loader's own early allocations cannot recurse), _exit and _Exit (the
 * trace is finished before the process goes), the constructor/destructor,
 * and for the program itself pm_record_mark() and pm_record_active() (a
 * labelled phase mark, optionally with CPython's own pymalloc report taken
 * at that very op: scripts/pymemlab_mark.py calls them through ctypes).
 *
 * sys._debugmallocstats() under the recorder. CPython prints its pymalloc
 * section only when _PyMem_PymallocEnabled(), i.e. when the obj domain's
 * malloc is _PyObject_Malloc itself (or the debug hooks over it); our obj
 * hook makes it skip the section silently. Any hook that records obj
 * requests has that effect. So the recorder, once the interpreter is
 * initialised (the first Python request after Py_IsInitialized(), which
 * queues a pending call run by the main thread at its next safe point),
 * replaces sys._debugmallocstats with a function that puts the original
 * obj allocator back for the duration of _PyObject_DebugMallocStats
 * (which allocates nothing), then calls the original function for the rest
 * of the report (the type free lists). The output is what an unrecorded
 * run prints. Nothing is replaced when the hooks are not ours (fallback,
 * PYTHONMALLOC, -X dev).
 *
 * Configuration, from the environment `trace record` sets:
 *   PM_RECORD_OUT    the trace file (absolute path); unset: the library idles
 *   PM_RECORD_PID    the pid of the recorded process: any other process (a
 *                    child after fork, or what a child execs) is left out
 *   PM_RECORD_MODE   "python-domains" (CPython requests only, each with its
 *                    domain) or "all" (also plain malloc, domain none)
 *   PM_RECORD_COMMAND  the command line, for the metadata
 *   PM_RECORD_NO_HOOKS  (tests) behave as if the process had no
 *                    PyMem_SetAllocator: the PYTHONMALLOC=malloc fallback
 *   PM_RECORD_ARENA_PLACEMENT  aligned|unaligned: place CPython's 1 MiB
 *                    arenas on a 16 KiB (pool) boundary, or one page past
 *                    one, as `pymalloc,placement=aligned|unaligned` does in
 *                    the model: both sides then have the same pools per
 *                    arena, whatever the kernel does. Unset: arenas go
 *                    where the kernel puts them; either way they are
 *                    counted (metadata python.arena_maps, .._unaligned).
 *
 * mmap is interposed for that (CPython maps each arena with its own
 * mmap(NULL, ARENA_SIZE, RW, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0), through the
 * PLT; mmap64 in practice, CPython being built with _FILE_OFFSET_BITS=64):
 * any such call of exactly 256 KiB or 1 MiB is taken for an arena.
 * Every other call goes straight to the system call. glibc's malloc and the
 * loader map memory without the PLT and are not seen.
 *
 * How it works
 *  - A thread-local guard: while a recorded call runs (and inside the
 *    recorder), nested allocator calls are passed through unrecorded, so one
 *    request is one op (PyObject_Malloc -> PyMem_RawMalloc -> malloc is
 *    recorded once, as obj) and the recorder's own allocations (dlsym,
 *    setenv, pthread_atfork) are never recorded.
 *  - One lock (a spin lock that yields; it never allocates) serialises the
 *    slot map and the output across threads. An allocation is recorded after
 *    the real call, a free before it (so an address cannot be handed out
 *    again before its free is recorded); realloc holds the lock across the
 *    real call for the same reason.
 *  - Pointers map to dense slots with LIFO reuse of freed slots (a
 *    direct-mapped table shaped like the heap, mmap'd memory only: see
 *    "pointer -> slot" below); a byte per slot keeps the block's domain, so
 *    its free and reallocs carry the domain it was allocated in.
 *  - Output: the file is written through a MAP_SHARED window of
 *    REC_WINDOW bytes (space reserved with fallocate first, so a full disk is
 *    an error, not a SIGBUS). Page-cache bytes survive the process, so a
 *    program killed by any signal leaves every op recorded up to the kill.
 *    Each op is committed by writing its body first and its length byte last:
 *    the file then holds whole ops followed by zeros, which `trace record`
 *    trims (workloads/recorder/recording.c). The header is written first with the
 *    FINISHED flag clear and the op count unknown, and patched at exit.
 *  - Metadata lives in a region reserved at the start (padded with a
 *    "recorder.pad=" line) and is rewritten in place when more is known (the
 *    Python version and hooks in the constructor, counters at exit).
 *  - CPython: the constructor looks up PyMem_GetAllocator/PyMem_SetAllocator
 *    with dlsym(RTLD_DEFAULT) (found both in a python binary that exports
 *    libpython's symbols and through a linked libpython.so) and installs
 *    hooks on the RAW, MEM and OBJ domains that call the previous
 *    allocators. Without them, in python-domains mode, it sets
 *    PYTHONMALLOC=malloc for the interpreter about to start and records plain
 *    malloc instead (domain none).
 *  - fork: the child is left out (pthread_atfork child handler); so is any
 *    process whose pid is not PM_RECORD_PID. exec in the recorded process
 *    itself starts the trace again (the new image truncates the file): the
 *    trace is of the last program the process became (a shell or pyenv shim
 *    that execs python leaves python's trace).
 */
#include "pm_assert.h"
#include "trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PM_EXPORT __attribute__((visibility("default")))
#define REC_VERSION "1"
#define REC_WINDOW ((size_t)1 << 20)      /* bytes of the file mapped at a time */
#define REC_META_MAX 8192                 /* metadata region: at most this many bytes */
#define REC_META_SLACK 512                /* room reserved for what is learnt later */
#define REC_CMD_MAX 2048                  /* longest command kept in the metadata */
#define REC_MARK_LABELS 64                /* marks whose labels go into the metadata */
#define REC_MARK_LABEL_MAX 56             /* bytes of a label kept */
#define REC_MARK_ROOM (REC_MARK_LABELS * (REC_MARK_LABEL_MAX + 16))  /* metadata bytes for labels */
_Static_assert(REC_WINDOW % 65536 == 0, "window is a multiple of any page size");
_Static_assert(REC_WINDOW >= 4 * PM_TRACE_OP_MAX, "an op always fits a fresh window");

/* Called by the recorded program (scripts/pymemlab_mark.py, via ctypes). */
PM_EXPORT int pm_record_active(void);
PM_EXPORT int pm_record_mark(const char *label, int report);
PM_EXPORT int pm_record_report(void);
PM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
PM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* The recorder's own mappings: straight to the system call, never through
 * its mmap interposer (which takes the lock the caller may hold). */
static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* glibc's own entry points: the real allocator, without symbol lookup. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

/* CPython's allocator ABI (Include/cpython/pymem.h, unchanged since 3.5):
 * PyMemAllocatorEx and the domain numbers. */
struct py_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
};
_Static_assert(sizeof(struct py_allocator) == 5 * sizeof(void *), "PyMemAllocatorEx: ctx and four functions");
enum { PY_DOMAIN_RAW = 0, PY_DOMAIN_MEM = 1, PY_DOMAIN_OBJ = 2, PY_NDOMAINS = 3 };
typedef void (*py_get_allocator_fn)(int domain, struct py_allocator *a);
typedef void (*py_set_allocator_fn)(int domain, struct py_allocator *a);
typedef const char *(*py_get_version_fn)(void);
/* The few C-API entry points the sys._debugmallocstats replacement uses
 * (stable ABI, all of 3.8 .. 3.13); PyObject is opaque to us. */
typedef struct py_object py_object;
struct py_method_def {
    const char *ml_name;
    py_object *(*ml_meth)(py_object *self, py_object *unused);
    int ml_flags;
    const char *ml_doc;
};
#define PY_METH_NOARGS 0x0004
struct py_api {
    int (*is_initialized)(void);
    int (*add_pending_call)(int (*func)(void *), void *arg);
    int (*debug_malloc_stats)(FILE *out);     /* _PyObject_DebugMallocStats */
    py_object *(*sys_get_object)(const char *name);
    int (*sys_set_object)(const char *name, py_object *v);
    py_object *(*cfunction_new_ex)(struct py_method_def *ml, py_object *self, py_object *module);
    py_object *(*call_object)(py_object *callable, py_object *args);
    void (*incref)(py_object *o);
    void (*decref)(py_object *o);
    void (*err_clear)(void);
};

struct rec_hook {
    struct py_allocator prev;   /* the allocator we call */
    uint8_t domain;             /* enum pm_domain recorded for its ops */
};

enum rec_mode { REC_DOMAINS = 1, REC_ALL = 2 };

static void *hook_malloc(void *ctx, size_t n);
static void *hook_calloc(void *ctx, size_t count, size_t size);
static void *hook_realloc(void *ctx, void *p, size_t n);
static void hook_free(void *ctx, void *p);

/* The recorder is global by nature: one per process. */
static struct {
    atomic_int lock;           /* 0 free, 1 held */
    atomic_int on;             /* recording: initialised, this process, not finished */
    atomic_int inited;         /* rec_init_core ran (set under the lock) */
    int plain;                 /* record plain malloc/free (domain none) */
    int mode;                  /* enum rec_mode */
    pid_t pid;                 /* the recorded process */
    int fd;
    uint8_t *win;              /* MAP_SHARED window of the file */
    uint64_t win_off;          /* file offset of win[0] (page aligned) */
    uint64_t page;             /* page size, bytes */
    uint64_t pos;              /* file offset of the next op */
    uint64_t ops;              /* ops written */
    uint64_t meta_len;         /* bytes reserved for metadata after the header */
    struct pm_trace_enc enc;
    uint8_t *dom;              /* domain of each slot's block */
    size_t dom_cap;            /* bytes mapped at dom */
    /* counters, reported in the metadata at exit */
    uint64_t unknown_frees;    /* free of a pointer the recorder never saw allocated */
    uint64_t unknown_reallocs; /* realloc of one: recorded as an alloc of the new block */
    uint64_t missed_frees;     /* an allocation at a live address: its free was missed, one is inserted */
    uint64_t cross_domain;     /* freed/reallocated through another domain than allocated */
    uint64_t unrepresentable;  /* requests over the trace limits (or misaligned), not recorded */
    /* CPython */
    struct rec_hook hooks[PY_NDOMAINS];
    py_get_allocator_fn py_get;
    py_set_allocator_fn py_set;
    struct py_api api;         /* resolved when the hooks go in; members may be NULL */
    atomic_int patch_wait;     /* 1: replace sys._debugmallocstats once initialised */
    py_object *orig_dms;       /* the original sys._debugmallocstats (a reference) */
    /* phase marks */
    uint32_t nmarks;           /* marks written: the last one's number */
    /* arenas (mmap of 256 KiB or 1 MiB, anonymous, RW) */
    int arena_placement;       /* 0 as the kernel maps, 1 aligned, 2 unaligned (1 MiB only) */
    uint64_t arena_maps;       /* arena-sized maps seen */
    uint64_t arena_maps_unaligned;  /* of which not 16 KiB-aligned (after any placement) */
    char mark_labels[REC_MARK_LABELS][REC_MARK_LABEL_MAX + 1];
    int hooks_installed;       /* 1: our hooks went in */
    int fallback;              /* 1: python-domains without hooks: PYTHONMALLOC=malloc */
    char python_version[160];
    char pythonmalloc[64];     /* the user's PYTHONMALLOC, if set */
    char how_ended[32];        /* "exit", "_exit" */
    char error[160];           /* why recording stopped early, if it did */
    int stopped;               /* 1: rec_fail ran: ops are missing, the trace is left unfinished */
    char date[64];
    char command[REC_CMD_MAX + 4]; /* PM_RECORD_COMMAND, read at the start (the program may clear its environment) */
} rec;

/* What PyMem_SetAllocator receives: ctx points at our per-domain state. */
static struct py_allocator rec_hook_tables[PY_NDOMAINS] = {
    {&rec.hooks[0], hook_malloc, hook_calloc, hook_realloc, hook_free},
    {&rec.hooks[1], hook_malloc, hook_calloc, hook_realloc, hook_free},
    {&rec.hooks[2], hook_malloc, hook_calloc, hook_realloc, hook_free},
};

static __thread int rec_guard __attribute__((tls_model("initial-exec")));

/* ---- small helpers that allocate nothing ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static void lock_take(void)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(&rec.lock, 1, memory_order_acquire)) {
        while (atomic_load_explicit(&rec.lock, memory_order_relaxed)) {
            if (++spins < 100)
                cpu_relax();
            else
                sched_yield();
        }
    }
}

static void lock_give(void) { atomic_store_explicit(&rec.lock, 0, memory_order_release); }

static void *map_anon(size_t n)
{
    void *p = sys_mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int write_all_at(int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Stops recording for good (called with the lock held): the trace so far is
 * kept, and finished at exit with the reason in its metadata. */
static void rec_fail(const char *why)
{
    if (!rec.error[0])
        snprintf(rec.error, sizeof rec.error, "%s", why);
    rec.stopped = 1;
    atomic_store(&rec.on, 0);
}

/* ---- pointer -> slot ----
 * A direct-mapped table shaped like the heap: the address space is cut into
 * chunks of 2^MAP_CHUNK_SHIFT bytes, and each chunk that ever held a block
 * gets a leaf with one uint32 cell per 16-byte unit (slot + 1; 0 = no block
 * starts there), found through a small hash directory (plus a one-entry
 * cache). A lookup is then one access to a cell next to the cells of the
 * block's neighbours, so the map's cache behaviour follows the program's
 * own; a hashed table of pointers (struct pm_slotmap) costs a cache miss per
 * op on a large heap (measured: 2/3 of the recorder's time on a json run).
 * Leaves are mmap'd MAP_NORESERVE and only the pages that cells fall in are
 * ever touched (a chunk holding one big block costs one page).
 * Freed slots are reused LIFO from a stack; free_cap >= next_slot, so a take
 * never needs memory. Invariant: live + free_top == next_slot.
 * Blocks from glibc malloc and pymalloc are 16-byte aligned; a pointer that
 * is not is counted as unrepresentable and left out. */
#define MAP_UNIT_SHIFT 4
#define MAP_CHUNK_SHIFT 20
#define MAP_LEAF_CELLS ((size_t)1 << (MAP_CHUNK_SHIFT - MAP_UNIT_SHIFT))
#define MAP_MAX_SLOTS (PM_TRACE_MAX_SLOTS - 1)   /* cells hold slot + 1 in 32 bits */
_Static_assert(MAP_LEAF_CELLS * sizeof(uint32_t) == 256 * 1024, "a leaf is 256 KiB of address space for 1 MiB of heap");
_Static_assert(MAP_MAX_SLOTS <= UINT32_MAX, "slot + 1 fits a cell");

struct map_dir_entry {
    uintptr_t chunk;    /* chunk number + 1; 0 = empty */
    uint32_t *leaf;
};

static struct {
    struct map_dir_entry *dir;   /* open addressing, load <= 1/2 */
    size_t dir_cap;              /* entries, a power of two */
    size_t dir_used;
    uintptr_t last_chunk;        /* chunk number + 1 of last_leaf */
    uint32_t *last_leaf;
    uint32_t *free_slots;        /* stack of freed slots */
    size_t free_top, free_cap;
    uint64_t next_slot;          /* slots handed out ever = max slot + 1 */
    uint64_t live;
} map;

static size_t dir_home(uintptr_t chunk, size_t cap)
{
    return (size_t)(((uint64_t)chunk * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - __builtin_ctzll(cap)));
}

static int dir_grow(void)
{
    size_t cap = map.dir_cap ? map.dir_cap * 2 : 256;
    struct map_dir_entry *d = map_anon(cap * sizeof *d);
    if (!d)
        return -1;
    for (size_t i = 0; i < map.dir_cap; i++) {
        if (!map.dir[i].chunk)
            continue;
        size_t j = dir_home(map.dir[i].chunk, cap);
        while (d[j].chunk)
            j = (j + 1) & (cap - 1);
        d[j] = map.dir[i];
    }
    if (map.dir)
        munmap(map.dir, map.dir_cap * sizeof *map.dir);
    map.dir = d;
    map.dir_cap = cap;
    return 0;
}

/* The cell of address a, or NULL (no leaf and !create, or out of memory). */
static uint32_t *map_cell(uintptr_t a, int create)
{
    uintptr_t chunk = (a >> MAP_CHUNK_SHIFT) + 1;
    size_t cell = (a >> MAP_UNIT_SHIFT) & (MAP_LEAF_CELLS - 1);
    if (chunk == map.last_chunk)
        return map.last_leaf + cell;
    size_t i = 0;
    if (map.dir_cap) {
        i = dir_home(chunk, map.dir_cap);
        while (map.dir[i].chunk && map.dir[i].chunk != chunk)
            i = (i + 1) & (map.dir_cap - 1);
    }
    if (!map.dir_cap || !map.dir[i].chunk) {
        if (!create)
            return NULL;
        if ((map.dir_used + 1) * 2 > map.dir_cap) {
            if (dir_grow())
                return NULL;
            i = dir_home(chunk, map.dir_cap);
            while (map.dir[i].chunk)
                i = (i + 1) & (map.dir_cap - 1);
        }
        void *leaf = sys_mmap(NULL, MAP_LEAF_CELLS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (leaf == MAP_FAILED)
            return NULL;
        map.dir[i].chunk = chunk;
        map.dir[i].leaf = leaf;
        map.dir_used++;
    }
    map.last_chunk = chunk;
    map.last_leaf = map.dir[i].leaf;
    return map.last_leaf + cell;
}

/* Maps p to a slot: the slot, -1 out of memory or slots, -2 already mapped,
 * -3 misaligned. */
static int64_t map_put(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a & ((1u << MAP_UNIT_SHIFT) - 1))
        return -3;
    uint32_t *c = map_cell(a, 1);
    if (!c)
        return -1;
    if (*c)
        return -2;
    uint32_t slot;
    if (map.free_top) {
        slot = map.free_slots[--map.free_top];
    } else {
        if (map.next_slot >= MAP_MAX_SLOTS)
            return -1;
        if (map.next_slot == map.free_cap) {
            size_t cap = map.free_cap ? map.free_cap * 2 : 65536;
            uint32_t *f = map_anon(cap * sizeof *f);
            if (!f)
                return -1;
            if (map.free_slots) {
                memcpy(f, map.free_slots, map.free_top * sizeof *f);
                munmap(map.free_slots, map.free_cap * sizeof *f);
            }
            map.free_slots = f;
            map.free_cap = cap;
        }
        slot = (uint32_t)map.next_slot++;
    }
    *c = slot + 1;
    map.live++;
    return slot;
}

/* The slot of p, or -1; `take` also unmaps it (the slot becomes free). */
static int64_t map_find(const void *p, int take)
{
    uintptr_t a = (uintptr_t)p;
    if (a & ((1u << MAP_UNIT_SHIFT) - 1))
        return -1;
    uint32_t *c = map_cell(a, 0);
    if (!c || !*c)
        return -1;
    uint32_t slot = *c - 1;
    if (take) {
        *c = 0;
        map.free_slots[map.free_top++] = slot;
        map.live--;
    }
    return slot;
}

static int64_t map_take(const void *p) { return map_find(p, 1); }
static int64_t map_get(const void *p) { return map_find(p, 0); }

/* ---- metadata ---- */

/* Appends "key=value\n" to buf (value cleaned of CR/LF), if it fits. */
static void meta_add(char *buf, size_t cap, size_t *len, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    if (*len + kl + vl + 2 > cap)
        return;
    memcpy(buf + *len, key, kl);
    *len += kl;
    buf[(*len)++] = '=';
    for (size_t i = 0; i < vl; i++)
        buf[(*len)++] = (value[i] == '\n' || value[i] == '\r') ? ' ' : value[i];
    buf[(*len)++] = '\n';
}

static void meta_add_u64(char *buf, size_t cap, size_t *len, const char *key, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    meta_add(buf, cap, len, key, num);
}

/* UTC date "YYYY-MM-DDTHH:MM:SSZ" without the locale or time zone machinery
 * (days -> civil date after H. Hinnant's algorithm). */
static void utc_date(char out[64])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long t = ts.tv_sec > 0 ? (unsigned long long)ts.tv_sec : 0;
    unsigned long long days = t / 86400, secs = t % 86400;
    unsigned long long z = days + 719468, era = z / 146097, doe = z - era * 146097;
    unsigned long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1), m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    unsigned long long y = yoe + era * 400 + (m <= 2);
    snprintf(out, 64, "%04llu-%02u-%02uT%02u:%02u:%02uZ", y % 10000, m % 100, d % 100,
             (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

static const char *mode_name(void)
{
    if (rec.fallback)
        return "malloc (python-domains fallback: no PyMem_SetAllocator in this process; PYTHONMALLOC=malloc)";
    return rec.mode == REC_ALL ? "all" : "python-domains";
}

/* Composes the metadata; `final` adds what is known at the end. */
static size_t meta_compose(char *buf, size_t cap, int final)
{
    size_t n = 0;
    char exe[512];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = '\0';
    meta_add(buf, cap, &n, "recorder", "pymemlab libpmrecord " REC_VERSION);
    meta_add(buf, cap, &n, "recorder.mode", mode_name());
    if (rec.command[0])
        meta_add(buf, cap, &n, "command", rec.command);
    meta_add(buf, cap, &n, "exe", exe);
    meta_add(buf, cap, &n, "date", rec.date);
    meta_add_u64(buf, cap, &n, "pid", (uint64_t)rec.pid);
    if (rec.python_version[0])
        meta_add(buf, cap, &n, "python.version", rec.python_version);
    if (rec.hooks_installed)
        meta_add(buf, cap, &n, "python.hooks", "raw mem obj");
    if (rec.pythonmalloc[0])
        meta_add(buf, cap, &n, "python.pythonmalloc", rec.pythonmalloc);
    if (rec.arena_placement)
        meta_add(buf, cap, &n, "recorder.arena_placement", rec.arena_placement == 1 ? "aligned" : "unaligned");
    if (final && rec.arena_maps) {
        meta_add_u64(buf, cap, &n, "python.arena_maps", rec.arena_maps);
        meta_add_u64(buf, cap, &n, "python.arena_maps_unaligned", rec.arena_maps_unaligned);
    }
    for (uint32_t i = 0; i < rec.nmarks && i < REC_MARK_LABELS; i++)
        if (rec.mark_labels[i][0]) {
            char key[32];
            snprintf(key, sizeof key, "phase.%u", (unsigned)(i + 1));
            meta_add(buf, cap, &n, key, rec.mark_labels[i]);
        }
    if (final) {
        meta_add(buf, cap, &n, "recorder.end", rec.how_ended);
        if (rec.error[0])
            meta_add(buf, cap, &n, "recorder.error", rec.error);
        meta_add_u64(buf, cap, &n, "recorder.unknown_frees", rec.unknown_frees);
        meta_add_u64(buf, cap, &n, "recorder.unknown_reallocs", rec.unknown_reallocs);
        meta_add_u64(buf, cap, &n, "recorder.missed_frees", rec.missed_frees);
        meta_add_u64(buf, cap, &n, "recorder.cross_domain", rec.cross_domain);
        meta_add_u64(buf, cap, &n, "recorder.unrepresentable", rec.unrepresentable);
    }
    return n;
}

/* Writes the metadata region (exactly rec.meta_len bytes: the content, then a
 * pad line). Lines that do not fit are left out. */
static int meta_write(int final)
{
    static char buf[REC_META_MAX];
    static const char pad_key[] = "recorder.pad=";
    size_t room = (size_t)rec.meta_len - (sizeof pad_key - 1) - 1;   /* the pad line's own bytes */
    size_t n = meta_compose(buf, room, final);
    memcpy(buf + n, pad_key, sizeof pad_key - 1);
    n += sizeof pad_key - 1;
    while (n < rec.meta_len - 1)
        buf[n++] = ' ';
    buf[n++] = '\n';
    return write_all_at(rec.fd, buf, n, PM_TRACE_HEADER_SIZE);
}

static int header_write(int finished)
{
    uint8_t h[PM_TRACE_HEADER_SIZE];
    struct pm_trace_header hd = {
        .version = PM_TRACE_VERSION,
        .flags = finished ? PM_TRACE_FLAG_FINISHED : 0,
        .op_count = finished ? rec.ops : PM_TRACE_OPS_UNKNOWN,
        .slot_count = finished ? map.next_slot : 0,
        .meta_len = rec.meta_len,
    };
    pm_trace_header_encode(h, &hd);
    return write_all_at(rec.fd, h, sizeof h, 0);
}

/* ---- the op stream ---- */

/* Maps the window that holds file offset rec.pos onwards. */
static int window_slide(void)
{
    uint64_t off = rec.pos & ~(uint64_t)(rec.page - 1);   /* pos - off < page: the op fits */
    int r = fallocate(rec.fd, 0, (off_t)off, (off_t)REC_WINDOW);
    if (r && (errno == EOPNOTSUPP || errno == ENOSYS))
        r = ftruncate(rec.fd, (off_t)(off + REC_WINDOW));
    if (r) {
        rec_fail("cannot extend the trace file (disk full?)");
        return -1;
    }
    void *w = sys_mmap(NULL, REC_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, rec.fd, (off_t)off);
    if (w == MAP_FAILED) {
        rec_fail("cannot map the trace file");
        return -1;
    }
    if (rec.win)
        munmap(rec.win, REC_WINDOW);
    rec.win = w;
    rec.win_off = off;
    return 0;
}

static void op_put(unsigned kind, unsigned domain, uint32_t slot, uint64_t size, uint64_t arg)
{
    struct pm_trace_op op = {.kind = (uint8_t)kind, .domain = (uint8_t)domain, .slot = slot, .size = size, .arg = arg};
    uint8_t b[PM_TRACE_OP_MAX];
    size_t n = pm_trace_encode_op(b, &op, &rec.enc);
    if (n == 0) {
        rec_fail("internal error: an op the format cannot encode");
        return;
    }
    if (rec.pos + n > rec.win_off + REC_WINDOW && window_slide())
        return;
    uint8_t *d = rec.win + (rec.pos - rec.win_off);
    memcpy(d + 1, b + 1, n - 1);
    /* the length byte last: a process killed here leaves a 0 where this op
     * would start, never a whole-looking op with a partial body */
    atomic_signal_fence(memory_order_release);
    *(volatile uint8_t *)d = b[0];
    rec.pos += n;
    rec.ops++;
}

/* ---- slots ---- */

static int dom_cover(uint64_t slot)
{
    if (slot < rec.dom_cap)
        return 0;
    size_t cap = rec.dom_cap ? rec.dom_cap : 65536;
    while (cap <= slot)
        cap *= 2;
    uint8_t *d = map_anon(cap);
    if (!d)
        return -1;
    if (rec.dom) {
        memcpy(d, rec.dom, rec.dom_cap);
        munmap(rec.dom, rec.dom_cap);
    }
    rec.dom = d;
    rec.dom_cap = cap;
    return 0;
}

static int fits(uint64_t size) { return size <= PM_TRACE_MAX_SIZE; }

/* A new block p (kind ALLOC, CALLOC or ALIGNED). Lock held. */
static void rec_new(void *p, unsigned kind, unsigned domain, uint64_t size, uint64_t arg)
{
    int64_t s = map_put(p);
    if (s == -2) {   /* p is mapped: its free went by unseen */
        int64_t old = map_take(p);
        op_put(PM_OP_FREE, rec.dom[old], (uint32_t)old, 0, 0);
        rec.missed_frees++;
        s = map_put(p);
    }
    if (s == -3) {
        rec.unrepresentable++;
        return;
    }
    if (s < 0 || dom_cover((uint64_t)s)) {
        rec_fail("out of memory for the slot map");
        return;
    }
    rec.dom[s] = (uint8_t)domain;
    op_put(kind, domain, (uint32_t)s, size, arg);
}

/* A free of p. Lock held. `counted`: an unknown pointer is worth counting
 * (it was freed through a recorded path). */
static void rec_free(void *p, unsigned domain, int counted)
{
    int64_t s = map_take(p);
    if (s < 0) {
        rec.unknown_frees += (uint64_t)counted;
        return;
    }
    rec.cross_domain += rec.dom[s] != domain && counted;
    op_put(PM_OP_FREE, rec.dom[s], (uint32_t)s, 0, 0);
}

/* realloc(p, size) returned q (both non-NULL). Lock held. */
static void rec_resize(void *p, void *q, unsigned domain, uint64_t size, int counted)
{
    int64_t s = map_get(p);
    if (s < 0) {
        if (!counted)
            return;
        rec.unknown_reallocs++;
        if (fits(size))
            rec_new(q, PM_OP_ALLOC, domain, size, 0);
        else
            rec.unrepresentable++;
        return;
    }
    rec.cross_domain += rec.dom[s] != domain && counted;
    unsigned d = rec.dom[s];
    if (!fits(size)) {
        map_take(p);
        op_put(PM_OP_FREE, d, (uint32_t)s, 0, 0);
        rec.unrepresentable++;
        return;
    }
    if (q != p) {
        int64_t stale = map_take(q);   /* q mapped: its free went by unseen */
        if (stale >= 0) {
            op_put(PM_OP_FREE, rec.dom[stale], (uint32_t)stale, 0, 0);
            rec.missed_frees++;
        }
        map_take(p);
        int64_t s2 = map_put(q);   /* LIFO: the slot p just left */
        if (s2 == -3) {
            op_put(PM_OP_FREE, d, (uint32_t)s, 0, 0);
            rec.unrepresentable++;
            return;
        }
        if (s2 != s) {
            rec_fail("internal error: realloc changed the slot");
            return;
        }
    }
    op_put(PM_OP_REALLOC, d, (uint32_t)s, size, 0);
}

/* ---- initialisation and the end ---- */

static void rec_init_core(void)
{
    atomic_store_explicit(&rec.inited, 1, memory_order_release);
    const char *out = getenv("PM_RECORD_OUT"), *pid = getenv("PM_RECORD_PID");
    const char *mode = getenv("PM_RECORD_MODE");
    if (!out || !pid || strtoll(pid, NULL, 10) != (long long)getpid())
        return;   /* not the recorded process */
    rec.pid = getpid();
    rec.mode = mode && !strcmp(mode, "all") ? REC_ALL : REC_DOMAINS;
    rec.plain = rec.mode == REC_ALL;
    const char *cmd = getenv("PM_RECORD_COMMAND");
    if (cmd)
        snprintf(rec.command, sizeof rec.command, "%.*s%s", REC_CMD_MAX, cmd, strlen(cmd) > REC_CMD_MAX ? "..." : "");
    const char *place = getenv("PM_RECORD_ARENA_PLACEMENT");
    rec.arena_placement = !place ? 0 : !strcmp(place, "aligned") ? 1 : !strcmp(place, "unaligned") ? 2 : 0;
    const char *pm = getenv("PYTHONMALLOC");
    if (pm && !getenv("PM_RECORD_SET_PYTHONMALLOC"))
        snprintf(rec.pythonmalloc, sizeof rec.pythonmalloc, "%s", pm);
    snprintf(rec.how_ended, sizeof rec.how_ended, "not finished");
    utc_date(rec.date);
    rec.page = (uint64_t)sysconf(_SC_PAGESIZE);
    rec.fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (rec.fd < 0)
        return;
    if (dom_cover(0)) {
        close(rec.fd);
        return;
    }
    static char probe[REC_META_MAX];
    size_t n = meta_compose(probe, sizeof probe, 1);
    size_t want = n + REC_META_SLACK + REC_MARK_ROOM;
    rec.meta_len = want > REC_META_MAX ? REC_META_MAX : want;
    rec.pos = PM_TRACE_HEADER_SIZE + rec.meta_len;
    if (header_write(0) || meta_write(0) || window_slide()) {
        close(rec.fd);
        return;
    }
    atomic_store(&rec.on, 1);
}

/* Lazy start: the first allocator call (possibly the loader's, before any
 * constructor) or the constructor, whichever comes first. Guard set. */
static inline void rec_ensure_init(void)
{
    if (__builtin_expect(!atomic_load_explicit(&rec.inited, memory_order_acquire), 0)) {
        lock_take();
        if (!atomic_load_explicit(&rec.inited, memory_order_relaxed))
            rec_init_core();
        lock_give();
    }
}

static int hooks_intact(void)
{
    if (!rec.hooks_installed || !rec.py_get)
        return 1;
    for (int d = 0; d < PY_NDOMAINS; d++) {
        struct py_allocator cur;
        rec.py_get(d, &cur);
        if (cur.ctx != &rec.hooks[d])
            return 0;
    }
    return 1;
}

/* Ends the recording: trims the file to its ops, rewrites metadata and
 * header (finished). Only in the recorded process itself (a vfork child
 * shares our memory and may call _exit). */
static void rec_finish(const char *how)
{
    int saved = rec_guard;
    rec_guard = 1;
    lock_take();
    if (atomic_load(&rec.inited) && rec.fd >= 0 && rec.win && rec.pid == getpid()) {
        atomic_store(&rec.on, 0);
        snprintf(rec.how_ended, sizeof rec.how_ended, "%s", how);
        if (!hooks_intact() && !rec.error[0])
            snprintf(rec.error, sizeof rec.error,
                     "the interpreter replaced the PyMem hooks (PYTHONMALLOC=%s?): later Python requests are missing",
                     rec.pythonmalloc[0] ? rec.pythonmalloc : "...");
        munmap(rec.win, REC_WINDOW);
        rec.win = NULL;
        /* a recording that stopped early (disk full...) misses ops: its
         * header stays unfinished, so that no reader takes it for whole */
        if (ftruncate(rec.fd, (off_t)rec.pos) == 0 && meta_write(1) == 0)
            header_write(!rec.stopped);
        close(rec.fd);
        rec.fd = -1;
    }
    lock_give();
    rec_guard = saved;
}

/* fork: the lock is held across it (the child must not inherit it taken by
 * another thread in the middle of an op), and the guard set, so that an
 * atfork handler that runs after ours and allocates passes through instead
 * of waiting for the lock this thread holds. */
static __thread int fork_saved_guard __attribute__((tls_model("initial-exec")));
static void fork_prepare(void)
{
    fork_saved_guard = rec_guard;
    rec_guard = 1;
    lock_take();
}
static void fork_parent(void)
{
    lock_give();
    rec_guard = fork_saved_guard;
}
static void fork_child(void)
{
    atomic_store(&rec.on, 0);   /* the child is left out */
    rec.win = NULL;             /* its copy of the shared window is not ours to touch */
    rec.fd = -1;
    lock_give();
    rec_guard = fork_saved_guard;
}

static void hook_install(void)
{
    py_get_allocator_fn get = (py_get_allocator_fn)dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
    py_set_allocator_fn set = (py_set_allocator_fn)dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
    py_get_version_fn ver = (py_get_version_fn)dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (getenv("PM_RECORD_NO_HOOKS"))
        get = NULL;
    if (!get || !set) {
        if (rec.mode == REC_DOMAINS) {
            /* Plain interposition; pymalloc would hide small requests from
             * malloc, so the interpreter about to start must not use it. */
            rec.fallback = 1;
            rec.plain = 1;
            if (!getenv("PYTHONMALLOC")) {
                setenv("PYTHONMALLOC", "malloc", 1);
                setenv("PM_RECORD_SET_PYTHONMALLOC", "1", 1);
            }
        }
        return;
    }
    if (getenv("PM_RECORD_SET_PYTHONMALLOC")) {   /* we set it in an image before an exec */
        unsetenv("PYTHONMALLOC");
        unsetenv("PM_RECORD_SET_PYTHONMALLOC");
    }
    if (ver)
        snprintf(rec.python_version, sizeof rec.python_version, "%s", ver());
    static const uint8_t doms[PY_NDOMAINS] = {PM_DOMAIN_RAW, PM_DOMAIN_MEM, PM_DOMAIN_OBJ};
    for (int d = 0; d < PY_NDOMAINS; d++) {
        get(d, &rec.hooks[d].prev);
        rec.hooks[d].domain = doms[d];
    }
    for (int d = 0; d < PY_NDOMAINS; d++)
        set(d, &rec_hook_tables[d]);
    rec.py_get = get;
    rec.py_set = set;
    rec.hooks_installed = 1;
    struct py_api *a = &rec.api;
    static const struct { const char *name; size_t off; } api_syms[] = {
        {"Py_IsInitialized", offsetof(struct py_api, is_initialized)},
        {"Py_AddPendingCall", offsetof(struct py_api, add_pending_call)},
        {"_PyObject_DebugMallocStats", offsetof(struct py_api, debug_malloc_stats)},
        {"PySys_GetObject", offsetof(struct py_api, sys_get_object)},
        {"PySys_SetObject", offsetof(struct py_api, sys_set_object)},
        {"PyCFunction_NewEx", offsetof(struct py_api, cfunction_new_ex)},
        {"PyObject_CallObject", offsetof(struct py_api, call_object)},
        {"Py_IncRef", offsetof(struct py_api, incref)},
        {"Py_DecRef", offsetof(struct py_api, decref)},
        {"PyErr_Clear", offsetof(struct py_api, err_clear)},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof api_syms / sizeof api_syms[0]; i++) {
        void *f = dlsym(RTLD_DEFAULT, api_syms[i].name);
        memcpy((char *)a + api_syms[i].off, &f, sizeof f);
        all &= f != NULL;
    }
    if (all && !getenv("PM_RECORD_NO_DMS_PATCH"))
        atomic_store(&rec.patch_wait, 1);
}

/* ---- CPython's own report, and marks ---- */

/* Is the obj domain's allocator still our hook? */
static int obj_hook_intact(void)
{
    struct py_allocator cur;
    if (!rec.hooks_installed)
        return 0;
    rec.py_get(PY_DOMAIN_OBJ, &cur);
    return cur.ctx == &rec.hooks[PY_DOMAIN_OBJ];
}

/* CPython's pymalloc report (_PyObject_DebugMallocStats) on stderr, with the
 * original obj allocator put back for its duration so that CPython does not
 * skip it. It allocates nothing, so no request goes unrecorded. Caller holds
 * the GIL (and the guard). Returns what CPython returns: 1 if it printed. */
static int py_report_unhooked(void)
{
    if (!rec.api.debug_malloc_stats)
        return 0;
    int ours = obj_hook_intact();
    if (ours)
        rec.py_set(PY_DOMAIN_OBJ, &rec.hooks[PY_DOMAIN_OBJ].prev);
    int r = rec.api.debug_malloc_stats(stderr);
    if (ours)
        rec.py_set(PY_DOMAIN_OBJ, &rec_hook_tables[PY_DOMAIN_OBJ]);
    fflush(stderr);
    return r;
}

/* The replacement of sys._debugmallocstats: CPython's own implementation
 * prints _PyObject_DebugMallocStats then a newline if it printed, then the
 * type statistics; the original (called second) now does only the latter. */
static py_object *dms_replacement(py_object *self, py_object *unused)
{
    (void)self;
    (void)unused;
    int saved = rec_guard;
    rec_guard = 1;
    if (py_report_unhooked())
        fputc('\n', stderr);
    rec_guard = saved;
    return rec.api.call_object(rec.orig_dms, NULL);
}

static struct py_method_def dms_def = {
    "_debugmallocstats", dms_replacement, PY_METH_NOARGS,
    "_debugmallocstats($module, /)\n--\n\nPrint summary info to stderr about the state of "
    "pymalloc's structures (pymemlab's recorder: with the pymalloc section).",
};

/* Pending call, main thread, GIL held: replaces sys._debugmallocstats. */
static int dms_patch(void *arg)
{
    (void)arg;
    if (!obj_hook_intact())
        return 0;
    py_object *orig = rec.api.sys_get_object("_debugmallocstats");   /* borrowed */
    if (!orig)
        return 0;
    py_object *f = rec.api.cfunction_new_ex(&dms_def, NULL, NULL);
    if (!f) {
        rec.api.err_clear();
        return 0;
    }
    rec.api.incref(orig);
    rec.orig_dms = orig;
    if (rec.api.sys_set_object("_debugmallocstats", f) < 0)
        rec.api.err_clear();
    rec.api.decref(f);
    return 0;
}

/* From the Python hooks, after a request, until it fires once. */
static void dms_patch_poll(void)
{
    if (rec.api.is_initialized() && atomic_exchange(&rec.patch_wait, 0))
        rec.api.add_pending_call(dms_patch, NULL);
}

/* CPython's pymalloc report on stderr now, without a mark (GIL held).
 * Returns 1 if CPython printed it. */
PM_EXPORT int pm_record_report(void)
{
    int saved = rec_guard;
    rec_guard = 1;
    int r = py_report_unhooked();
    rec_guard = saved;
    return r;
}

/* 1 while this process is being recorded. */
PM_EXPORT int pm_record_active(void)
{
    return atomic_load(&rec.on) && rec.pid == getpid();
}

/* Writes phase mark N = (marks so far) + 1 with `label` (metadata phase.N,
 * the first REC_MARK_LABEL_MAX bytes of the first REC_MARK_LABELS marks);
 * with `report`, CPython's pymalloc report goes to stderr at exactly that
 * op (the lock is held across both: no request of any thread falls between
 * them). Call it with the GIL held (ctypes.PyDLL). Returns N, or 0 when not
 * recording (the report is then printed all the same if CPython is there,
 * see scripts/pymemlab_mark.py). */
PM_EXPORT int pm_record_mark(const char *label, int report)
{
    int saved = rec_guard;
    rec_guard = 1;
    int n = 0;
    lock_take();
    if (pm_record_active()) {
        n = (int)++rec.nmarks;
        op_put(PM_OP_PHASE, 0, (uint32_t)n, 0, 0);
        if (label && *label && rec.nmarks <= REC_MARK_LABELS) {
            snprintf(rec.mark_labels[n - 1], sizeof rec.mark_labels[n - 1], "%s", label);
            if (meta_write(0))
                rec_fail("cannot write the metadata");
        }
        if (report)
            py_report_unhooked();
    }
    lock_give();
    rec_guard = saved;
    return n;
}

__attribute__((constructor)) static void rec_ctor(void)
{
    rec_guard = 1;
    rec_ensure_init();
    if (atomic_load(&rec.on)) {
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        hook_install();
        lock_take();
        if (atomic_load(&rec.on) && meta_write(0))
            rec_fail("cannot write the metadata");
        lock_give();
    }
    rec_guard = 0;
}

__attribute__((destructor)) static void rec_dtor(void) { rec_finish("exit"); }

/* ---- the interposed C allocator ---- */

/* Whether this call is to be looked at: not nested, and recording. */
static inline int rec_enter(void)
{
    if (rec_guard)
        return 0;
    rec_guard = 1;
    rec_ensure_init();
    if (!atomic_load_explicit(&rec.on, memory_order_relaxed)) {
        rec_guard = 0;
        return 0;
    }
    return 1;
}

static inline void rec_leave(void) { rec_guard = 0; }

PM_EXPORT void *malloc(size_t n)
{
    if (!rec_enter())
        return __libc_malloc(n);
    void *p = __libc_malloc(n);
    if (p && rec.plain) {
        lock_take();
        if (atomic_load_explicit(&rec.on, memory_order_relaxed)) {
            if (fits(n))
                rec_new(p, PM_OP_ALLOC, PM_DOMAIN_NONE, n, 0);
            else
                rec.unrepresentable++;
        }
        lock_give();
    }
    rec_leave();
    return p;
}

PM_EXPORT void *calloc(size_t count, size_t size)
{
    if (!rec_enter())
        return __libc_calloc(count, size);
    void *p = __libc_calloc(count, size);
    if (p && rec.plain) {
        lock_take();
        if (atomic_load_explicit(&rec.on, memory_order_relaxed)) {
            if (fits(count) && fits(size) && fits((uint64_t)count * size))
                rec_new(p, PM_OP_CALLOC, PM_DOMAIN_NONE, size, count);
            else
                rec.unrepresentable++;
        }
        lock_give();
    }
    rec_leave();
    return p;
}

PM_EXPORT void free(void *p)
{
    if (!p)
        return;
    if (!rec_enter()) {
        __libc_free(p);
        return;
    }
    /* Even when plain calls are not recorded, a block a domain hook
     * recorded may come back through free (PyMem_RawMalloc is malloc). */
    lock_take();
    if (atomic_load_explicit(&rec.on, memory_order_relaxed))
        rec_free(p, PM_DOMAIN_NONE, rec.plain);
    lock_give();
    __libc_free(p);
    rec_leave();
}

PM_EXPORT void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (!rec_enter())
        return __libc_realloc(p, n);
    lock_take();   /* held across the call: p may be handed out again the moment it is freed */
    void *q = __libc_realloc(p, n);
    if (atomic_load_explicit(&rec.on, memory_order_relaxed)) {
        if (q)
            rec_resize(p, q, PM_DOMAIN_NONE, n, rec.plain);
        else if (n == 0)   /* glibc: realloc(p, 0) frees p */
            rec_free(p, PM_DOMAIN_NONE, rec.plain);
    }
    lock_give();
    rec_leave();
    return q;
}

PM_EXPORT void *reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n);
}

/* An aligned block (any of the aligned entry points). */
static void *aligned_common(size_t align, size_t n, void *p)
{
    if (!p)
        return p;
    lock_take();
    if (atomic_load_explicit(&rec.on, memory_order_relaxed)) {
        if (!fits(n) || align > PM_TRACE_MAX_ALIGN)
            rec.unrepresentable++;
        else if (align <= PM_TRACE_MIN_ALIGN)   /* no stronger than malloc's own */
            rec_new(p, PM_OP_ALLOC, PM_DOMAIN_NONE, n, 0);
        else
            rec_new(p, PM_OP_ALIGNED, PM_DOMAIN_NONE, n, align);
    }
    lock_give();
    return p;
}

PM_EXPORT void *memalign(size_t align, size_t n)
{
    if (!rec_enter())
        return __libc_memalign(align, n);
    void *p = __libc_memalign(align, n);
    if (rec.plain) {
        /* glibc rounds a non-power-of-two alignment up to one */
        size_t a = align;
        if (a & (a - 1)) {
            a = 1;
            while (a < align)
                a <<= 1;
        }
        aligned_common(a, n, p);
    }
    rec_leave();
    return p;
}

PM_EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (align == 0 || (align & (align - 1))) {   /* glibc 2.36's rule */
        errno = EINVAL;
        return NULL;
    }
    return memalign(align, n);
}

PM_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) || (align & (align - 1)) || align == 0)
        return EINVAL;
    int saved = errno;
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    errno = saved;
    *out = p;
    return 0;
}

PM_EXPORT void *valloc(size_t n)
{
    if (!rec_enter())
        return __libc_valloc(n);
    void *p = __libc_valloc(n);
    if (rec.plain)
        aligned_common((size_t)sysconf(_SC_PAGESIZE), n, p);
    rec_leave();
    return p;
}

PM_EXPORT void *pvalloc(size_t n)
{
    if (!rec_enter())
        return __libc_pvalloc(n);
    void *p = __libc_pvalloc(n);
    if (rec.plain) {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        aligned_common(pg, n ? (n + pg - 1) & ~(pg - 1) : pg, p);
    }
    rec_leave();
    return p;
}

PM_EXPORT void _exit(int status)
{
    rec_finish("_exit");
    for (;;)
        syscall(SYS_exit_group, status);
}

PM_EXPORT void _Exit(int status)
{
    rec_finish("_exit");
    for (;;)
        syscall(SYS_exit_group, status);
}

/* ---- arenas ---- */

#define ARENA_POOL ((uintptr_t)16 << 10)   /* CPython 3.10+'s pool size */


/* Maps a 1 MiB arena at a pool boundary (+ one page if unaligned). */
static void *arena_place(size_t len, int how)
{
    size_t page = (size_t)rec.page;
    char *m = sys_mmap(NULL, len + ARENA_POOL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return MAP_FAILED;
    char *start = (char *)(((uintptr_t)m + ARENA_POOL - 1) & ~(ARENA_POOL - 1));
    if (how == 2)
        start = start + page <= m + ARENA_POOL ? start + page : start - ARENA_POOL + page;
    if (start > m)
        syscall(SYS_munmap, m, (size_t)(start - m));
    size_t tail = (size_t)(m + len + ARENA_POOL - (start + len));
    if (tail)
        syscall(SYS_munmap, start + len, tail);
    return start;
}

PM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (addr || fd != -1 || off || prot != (PROT_READ | PROT_WRITE) ||
        flags != (MAP_PRIVATE | MAP_ANONYMOUS) || (len != ((size_t)1 << 20) && len != ((size_t)256 << 10)) ||
        !atomic_load_explicit(&rec.on, memory_order_relaxed) || rec.pid != getpid())
        return sys_mmap(addr, len, prot, flags, fd, off);
    void *p = rec.arena_placement && len == ((size_t)1 << 20) ? arena_place(len, rec.arena_placement)
                                                             : sys_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED) {
        /* no lock: realloc holds it across the real call, which may map an
         * arena right here */
        __atomic_fetch_add(&rec.arena_maps, 1, __ATOMIC_RELAXED);
        if ((uintptr_t)p & (ARENA_POOL - 1))
            __atomic_fetch_add(&rec.arena_maps_unaligned, 1, __ATOMIC_RELAXED);
    }
    return p;
}

/* CPython is built with _FILE_OFFSET_BITS=64: its calls bind to mmap64 (the
 * same function on 64-bit glibc, off_t being 64 bits). */
PM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

/* ---- the CPython domain hooks ---- */

static void *hook_malloc(void *ctx, size_t n)
{
    struct rec_hook *h = ctx;
    if (!rec_enter())
        return h->prev.malloc(h->prev.ctx, n);
    void *p = h->prev.malloc(h->prev.ctx, n);
    if (p) {
        lock_take();
        if (atomic_load_explicit(&rec.on, memory_order_relaxed)) {
            if (fits(n))
                rec_new(p, PM_OP_ALLOC, h->domain, n, 0);
            else
                rec.unrepresentable++;
        }
        lock_give();
    }
    if (__builtin_expect(atomic_load_explicit(&rec.patch_wait, memory_order_relaxed), 0))
        dms_patch_poll();
    rec_leave();
    return p;
}

static void *hook_calloc(void *ctx, size_t count, size_t size)
{
    struct rec_hook *h = ctx;
    if (!rec_enter())
        return h->prev.calloc(h->prev.ctx, count, size);
    void *p = h->prev.calloc(h->prev.ctx, count, size);
    if (p) {
        lock_take();
        if (atomic_load_explicit(&rec.on, memory_order_relaxed)) {
            if (fits(count) && fits(size) && fits((uint64_t)count * size))
                rec_new(p, PM_OP_CALLOC, h->domain, size, count);
            else
                rec.unrepresentable++;
        }
        lock_give();
    }
    rec_leave();
    return p;
}

static void *hook_realloc(void *ctx, void *p, size_t n)
{
    struct rec_hook *h = ctx;
    if (!p)
        return hook_malloc(ctx, n);
    if (!rec_enter())
        return h->prev.realloc(h->prev.ctx, p, n);
    lock_take();
    void *q = h->prev.realloc(h->prev.ctx, p, n);
    if (q && atomic_load_explicit(&rec.on, memory_order_relaxed))
        rec_resize(p, q, h->domain, n, 1);
    lock_give();
    rec_leave();
    return q;
}

static void hook_free(void *ctx, void *p)
{
    struct rec_hook *h = ctx;
    if (!p || !rec_enter()) {
        h->prev.free(h->prev.ctx, p);
        return;
    }
    lock_take();
    if (atomic_load_explicit(&rec.on, memory_order_relaxed))
        rec_free(p, h->domain, 1);
    lock_give();
    h->prev.free(h->prev.ctx, p);
    rec_leave();
}

/* pm_assert_fail for the slot map's asserts in debug builds: the library has
 * no harness to print for it. */
pm_assert_handler_fn pm_assert_handler;
_Noreturn void pm_assert_fail(const char *file, int line, const char *expr)
{
    static const char msg[] = "libpmrecord: assertion failed: ";
    ssize_t w = write(2, msg, sizeof msg - 1);
    w = write(2, expr, strlen(expr));
    w = write(2, "\n", 1);
    (void)w;
    (void)file;
    (void)line;
    abort();
}
