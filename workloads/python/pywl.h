/* workloads/python/pywl.h — Python-like workloads: C programs over the
 * object layer (objects/pm_object.h), each modelled on a kind of real Python
 * program (docs/workloads.md has one paragraph per workload).
 *
 * Entry points
 *   pywl_all[]      the registry, NULL-terminated, in listing order
 *   pywl_find       a workload by name (NULL if unknown)
 *   pywl_names      "json, compiler, ...": the known names, for error messages
 *   pywl_check_params  scale and seed in range (a one-line reason otherwise)
 *   pywl_run        runs one workload on a space
 *
 * A run: `wl->run(sp, params, hooks, err)` makes its objects in the space,
 * calls hooks->sample regularly (every iteration of its loops: every few
 * requests, except inside one deallocation cascade), hooks->phase where its
 * behaviour changes, and hooks->end exactly once, when its work is done and its
 * long-lived state is still alive (what the program holds when it exits; the
 * harness takes F(T) there). Then it drops everything it holds and returns
 * 0. Cyclic garbage is left to the collector (pm_objspace_destroy collects
 * it). On failure (a backend refused a request: MemoryError) it drops what
 * it holds, returns -1 and writes a one-line reason into err; hooks->end is
 * then not called.
 *
 * Determinism: the requests a run makes depend only on (workload, scale,
 * seed) and the space's config, never on the backend, and never on the
 * hooks, provided the hooks do not touch the space (a hook may run a
 * collection; then the requests after it differ, deterministically).
 *
 * Scale: a positive number; scale 1 is the documented size of each workload
 * (its `scale_unit`), sized to run in roughly 1-3 s on `system` on the
 * reference machine. Counts are scaled and rounded, never below 1.
 *
 * Library code: never prints, never exits.
 */
#ifndef PYWL_H
#define PYWL_H

#include "pm_object.h"

#include <stdint.h>

/* Scale bounds: below the minimum every count rounds to 1; above the
 * maximum a run would take hours. */
#define PYWL_SCALE_MIN 1e-4
#define PYWL_SCALE_MAX 1e4

struct pywl_params {
    double scale;                   /* 1: the documented size; PYWL_SCALE_MIN..MAX */
    uint64_t seed;                  /* any value; the same seed gives the same requests */
};

/* Calls from the workload to whoever measures it. Any hook may be NULL. The
 * hooks receive `ctx`. */
struct pywl_hooks {
    void *ctx;
    /* Called every iteration of the main loop: must be cheap (decide by the
     * space's request count whether to take a sample). */
    void (*sample)(void *ctx);
    /* The workload starts a phase of different behaviour; `name` is a static
     * string ("alloc", "free", "quiet", ...). The first phase is marked too. */
    void (*phase)(void *ctx, const char *name);
    /* Once, at the end of the work, before the teardown: the long-lived
     * state is still alive. */
    void (*end)(void *ctx);
};

typedef int (*pywl_run_fn)(pm_objspace_t *sp, const struct pywl_params *p,
                           const struct pywl_hooks *hooks, char err[PM_ERR_LEN]);

struct pywl {
    const char *name;
    const char *summary;            /* one line, for listings */
    const char *description;        /* one paragraph: the program it stands for, the
                                       memory behaviour it stresses */
    const char *scale_unit;         /* what scale 1 means */
    double default_scale;           /* the scale used when none is given */
    pywl_run_fn run;
};

extern const struct pywl *const pywl_all[];

const struct pywl *pywl_find(const char *name);
void pywl_names(char *buf, size_t len);
/* 0 if scale is within PYWL_SCALE_MIN..MAX (and finite); else -1 and a reason. */
int pywl_check_params(const struct pywl_params *p, char err[PM_ERR_LEN]);
/* Checks the parameters, then wl->run with hooks (NULL: none). */
int pywl_run(const struct pywl *wl, pm_objspace_t *sp, const struct pywl_params *p,
             const struct pywl_hooks *hooks, char err[PM_ERR_LEN]);

#endif
