/* workloads/python/service.c — `service`: a long-running asyncio service
 * whose requests each leave a reference cycle behind (the shape of
 * gh-142516: an httpx/asyncio client service at about 80 MB on 3.14.0 and
 * about 420 MB on 3.14.2, back to normal with the generational collector).
 *
 * Long-lived state (built first, phase "startup"): a connection pool of
 * Connection instances (each with a dict of headers and a read buffer),
 * a routing table dict and a response cache dict of 2000 entries.
 *
 * Per request (phase "serve"): a Request instance (method, url str, a
 * headers dict, a body bytes of 1-16 KiB, lognormal), a Task instance
 * standing for the coroutine and its frame (a locals dict holding the
 * request, the response and the task itself), a Response instance (status,
 * headers list of tuples, a body bytes of 2-64 KiB, lognormal), and, for
 * one request in four, an Exception instance caught and stored in the
 * frame's locals with a traceback list referring back to the frame (the
 * classic `except E as e` + traceback cycle). task.frame = locals,
 * locals["task"] = task, response.request = request, request.task = task:
 * when the request completes, the harness drops its references and the
 * whole request, bodies included, is cyclic garbage that only the
 * collector frees. One response in 50 is cached (the cache evicts its
 * oldest entry, refcount-freed). Every 500 requests the pool replaces a
 * connection.
 *
 * What it stands for: the memory held between collections is the bodies
 * of the requests completed since the last collection that examined them.
 * A collector that leaves young objects unexamined for longer, or scans
 * the old generation slowly, holds more of them.
 *
 * Scale 1: 40000 requests, a pool of 64 connections.
 */
#include "pywl_impl.h"

#include <stdio.h>

#define SV_CACHE 2000

struct sv {
    struct pywl_w w;
    pm_object_t *c_req, *c_resp, *c_task, *c_conn, *c_exc;
    pm_object_t *k_status, *k_get, *k_post;
};

static pm_object_t *sv_headers(struct sv *s, int n)
{
    struct pywl_w *w = &s->w;
    pm_object_t *h = w_dict(w);
    for (int i = 0; i < n && !w->failed; i++) {
        char k[16];
        snprintf(k, sizeof k, "x-h%d", i);
        w_setitem_steal(w, h, w_istr(w, k), w_text(w, 8 + w_below(w, 40)));
    }
    return h;
}

static size_t sv_body(struct pywl_w *w, double median, double cap)
{
    return (size_t)w_lognormal(w, median, 0.9, cap);
}

/* One request; returns the response (a new reference) for the cache. */
static pm_object_t *sv_request(struct sv *s, uint64_t i)
{
    struct pywl_w *w = &s->w;
    pm_object_t *req = w_new(w, s->c_req);
    w_setattr(w, req, "method", i % 3 ? s->k_get : s->k_post);
    w_setattr_steal(w, req, "url", w_text(w, 20 + w_below(w, 60)));
    w_setattr_steal(w, req, "headers", sv_headers(s, 6));
    w_setattr_steal(w, req, "body", w_bytes(w, sv_body(w, 2048, PYWL_TEXT)));
    pm_object_t *task = w_new(w, s->c_task);
    pm_object_t *locals = w_dict(w);
    w_setattr(w, task, "frame", locals);
    w_setkey_steal(w, locals, "task", w_ref(task));
    w_setkey_steal(w, locals, "request", w_ref(req));
    w_setattr(w, req, "task", task);
    pm_object_t *resp = w_new(w, s->c_resp);
    w_setattr(w, resp, "status", s->k_status);
    pm_object_t *hl = w_list(w);
    for (int k = 0; k < 4 && !w->failed; k++)
        w_append_steal(w, hl, w_tuple2(w, w_text(w, 12), w_text(w, 24)));
    w_setattr_steal(w, resp, "headers", hl);
    /* the body: chunks (PYWL_TEXT at most each) in a list */
    pm_object_t *chunks = w_list(w);
    for (size_t left = sv_body(w, 8192, 65536); left && !w->failed;) {
        size_t n = left < PYWL_TEXT ? left : PYWL_TEXT;
        w_append_steal(w, chunks, w_bytes(w, n));
        left -= n;
    }
    w_setattr_steal(w, resp, "body", chunks);
    w_setattr(w, resp, "request", req);
    w_setkey_steal(w, locals, "response", w_ref(resp));
    if (i % 4 == 0) {           /* except E as e: the traceback refers to the frame */
        pm_object_t *exc = w_new(w, s->c_exc);
        pm_object_t *tb = w_list(w);
        w_append(w, tb, locals);
        w_setattr_steal(w, exc, "traceback", tb);
        w_setattr_steal(w, exc, "args", w_text(w, 40));
        w_setkey_steal(w, locals, "e", exc);
    }
    w_drop(w, locals);
    w_drop(w, task);
    w_drop(w, req);
    return resp;
}

static int service_run(pm_objspace_t *sp, const struct pywl_params *p,
                       const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct sv s = {0};
    struct pywl_w *w = &s.w;
    w_init(w, sp, p, 8, hooks, err);
    s.c_req = w_class(w, "Request", 0, NULL);
    s.c_resp = w_class(w, "Response", 0, NULL);
    s.c_task = w_class(w, "Task", 0, NULL);
    s.c_conn = w_class(w, "Connection", 0, NULL);
    s.c_exc = w_class(w, "HTTPError", 0, NULL);
    s.k_status = w_int(w, 200);
    s.k_get = w_istr(w, "GET");
    s.k_post = w_istr(w, "POST");
    w_phase(w, "startup");
    uint64_t npool = w_scaled(p, 64), nreq = w_scaled(p, 40000);
    pm_object_t *pool = w_list(w), *routes = w_dict(w), *cache = w_dict(w), *order = w_list(w);
    for (uint64_t i = 0; i < npool && !w->failed; i++) {
        pm_object_t *c = w_new(w, s.c_conn);
        w_setattr_steal(w, c, "headers", sv_headers(&s, 10));
        w_setattr_steal(w, c, "buffer", w_bytes(w, PYWL_TEXT));
        w_append_steal(w, pool, c);
        w_tick(w);
    }
    for (int i = 0; i < 200 && !w->failed; i++) {
        char r[24];
        snprintf(r, sizeof r, "/api/v1/r%d", i);
        w_setitem_steal(w, routes, w_istr(w, r), w_int(w, i));
    }
    w_phase(w, "serve");
    for (uint64_t i = 0; i < nreq && !w->failed; i++) {
        pm_object_t *resp = sv_request(&s, i);
        if (i % 50 == 0 && resp) {
            pm_object_t *key = w_int(w, (int64_t)i);
            w_setitem(w, cache, key, resp);
            w_append_steal(w, order, key);
            if (order && pm_list_size(order) > SV_CACHE) {
                w_delitem(w, cache, pm_list_get(order, 0));
                w_ldel(w, order, 0);
            }
        }
        w_drop(w, resp);
        if (i % 500 == 499 && pool && npool) {
            pm_object_t *c = w_new(w, s.c_conn);
            w_setattr_steal(w, c, "headers", sv_headers(&s, 10));
            w_setattr_steal(w, c, "buffer", w_bytes(w, PYWL_TEXT));
            w_lset_steal(w, pool, (int64_t)w_below(w, npool), c);
        }
        w_tick(w);
    }
    w_end(w);
    w_drop(w, pool);
    w_drop(w, routes);
    w_drop(w, cache);
    w_drop(w, order);
    w_clear(w, &s.c_req);
    w_clear(w, &s.c_resp);
    w_clear(w, &s.c_task);
    w_clear(w, &s.c_conn);
    w_clear(w, &s.c_exc);
    w_clear(w, &s.k_status);
    w_clear(w, &s.k_get);
    w_clear(w, &s.k_post);
    return w_status(w);
}

const struct pywl pywl_service = {
    .name = "service",
    .summary = "asyncio service: every request leaves a cycle holding its bodies (gh-142516)",
    .description =
        "A long-running asyncio HTTP service (httpx client, aiohttp server): a connection "
        "pool, a routing table and a response cache live for the whole run; every request "
        "makes a Request, a Task with its frame's locals, a Response with a body of a few "
        "to 64 KiB and, one in four, a caught exception whose traceback refers back to the "
        "frame, all tied into reference cycles (task <-> frame locals, request -> task, "
        "response -> request). A finished request is cyclic garbage that only the collector "
        "frees: the memory held between collections is the bodies of the requests finished "
        "since the last collection that examined them. Stands for the service of "
        "gh-142516 (80 MB on 3.14.0, 420 MB on 3.14.2, the incremental collector).",
    .scale_unit = "40000 requests, a pool of 64 connections",
    .default_scale = 1.0,
    .run = service_run,
};
