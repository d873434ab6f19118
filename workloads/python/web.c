/* workloads/python/web.c — `web`: the request loop of a WSGI web service
 * with an LRU cache (Flask or Django behind gunicorn, functools.lru_cache
 * in front of a database).
 *
 * Per request: the raw request bytes; the parsed method (a constant), path,
 * query dict and headers dict (new strs); the WSGI environ dict (constant
 * keys, HTTP_* keys made per request); a route picked from a long-lived
 * routes dict; the handler looks a user id (Zipf-distributed) up in the
 * cache — functools.lru_cache's pure-Python version: a dict of links, each
 * link a 4-list [PREV, NEXT, KEY, RESULT] on a circular doubly linked list;
 * a hit relinks the link to the front, a miss builds the result (a record
 * dict: ints, strs, a list of floats, a list of tags, a nested dict) and,
 * once the cache is full, evicts the oldest link (the root link is reused,
 * as lru_cache does). The response (the record serialised into chunks and
 * joined, a headers list of tuples, a status) is built and dropped; a line
 * goes into an access-log ring of 1000 strs; a per-route counter int is
 * replaced.
 *
 * Phases: "warmup" (the cache fills), "steady" (every miss evicts),
 * "refill": at two thirds of the requests the cache is cleared
 * (cache_clear(): the ring of links becomes cyclic garbage) and fills again.
 * Scale 1: 150000 requests, a cache of 20000 entries over 200000 user ids
 * (all three scale together).
 */
#include "pywl_impl.h"

#include <stdio.h>

enum { PREV = 0, NEXT = 1, KEY = 2, RESULT = 3 };

#define WEB_ROUTES 8
#define WEB_LOG 1000

struct web {
    struct pywl_w w;
    pm_object_t *cache;             /* key -> link */
    pm_object_t *root;              /* the sentinel link */
    uint64_t maxsize, hits, misses;
    pm_object_t *routes;            /* path -> route index */
    pm_object_t *counts;            /* route index -> requests */
    pm_object_t *log;               /* ring of WEB_LOG strs */
    pm_object_t *k_env[8];          /* environ's constant keys */
    pm_object_t *methods[4];
};

static pm_object_t *web_link(struct web *s, pm_object_t *prev, pm_object_t *next,
                             pm_object_t *key, pm_object_t *result)
{
    struct pywl_w *w = &s->w;
    pm_object_t *it[4] = {prev, next, key, result};
    if (w->failed)
        return NULL;
    for (int i = 0; i < 4; i++)
        if (!it[i])
            return NULL;
    return w_check(w, pm_list_new(w->sp, 4, it));
}

/* root[:] = [root, root, None, None] */
static void web_root_reset(struct web *s)
{
    struct pywl_w *w = &s->w;
    w_lset(w, s->root, PREV, s->root);
    w_lset(w, s->root, NEXT, s->root);
    w_lset(w, s->root, KEY, pm_none(w->sp));
    w_lset(w, s->root, RESULT, pm_none(w->sp));
}

static pm_object_t *web_record(struct web *s, int64_t id)
{
    struct pywl_w *w = &s->w;
    pm_object_t *r = w_dict(w);
    w_setkey_steal(w, r, "id", w_int(w, id));
    w_setkey_steal(w, r, "name", w_text(w, 4 + w_below(w, 20)));
    w_setkey_steal(w, r, "email", w_text(w, 10 + w_below(w, 30)));
    w_setkey_steal(w, r, "bio", w_text(w, (size_t)w_lognormal(w, 120, 1.0, 4000)));
    w_setkey_steal(w, r, "created", w_float(w, 1.6e9 + w_unit(w) * 1e8));
    pm_object_t *scores = w_list(w);
    for (uint64_t i = 0, n = w_range(w, 5, 20); i < n; i++)
        w_append_steal(w, scores, w_float(w, w_unit(w) * 100));
    w_setkey_steal(w, r, "scores", scores);
    pm_object_t *tags = w_list(w);
    for (uint64_t i = 0, n = w_below(w, 9); i < n; i++)
        w_append_steal(w, tags, w_text(w, 3 + w_below(w, 10)));
    w_setkey_steal(w, r, "tags", tags);
    pm_object_t *prof = w_dict(w);
    for (uint64_t i = 0, n = w_range(w, 3, 6); i < n; i++)
        w_setitem_steal(w, prof, w_text(w, 4 + w_below(w, 8)), w_int(w, (int64_t)w_below(w, 100000)));
    w_setkey_steal(w, r, "profile", prof);
    return r;
}

/* The cached call: returns a new reference to the record for key. */
static pm_object_t *web_cached(struct web *s, pm_object_t *key, int64_t id)
{
    struct pywl_w *w = &s->w;
    pm_object_t *link = w_getitem(w, s->cache, key);
    if (link) {                                      /* hit: move to the front */
        s->hits++;
        pm_object_t *lp = pm_list_get(link, PREV), *ln = pm_list_get(link, NEXT);
        pm_incref(link);
        w_lset(w, lp, NEXT, ln);
        w_lset(w, ln, PREV, lp);
        pm_object_t *last = pm_list_get(s->root, PREV);
        w_lset(w, last, NEXT, link);
        w_lset(w, s->root, PREV, link);
        w_lset(w, link, PREV, last);
        w_lset(w, link, NEXT, s->root);
        pm_object_t *r = pm_incref(pm_list_get(link, RESULT));
        w_drop(w, link);
        return r;
    }
    s->misses++;
    pm_object_t *result = web_record(s, id);
    if (w->failed) {
        w_drop(w, result);
        return NULL;
    }
    if (pm_dict_size(s->cache) >= s->maxsize) {     /* full: reuse the root as the new link */
        pm_object_t *oldroot = s->root;
        w_lset(w, oldroot, KEY, key);
        w_lset(w, oldroot, RESULT, result);
        s->root = pm_incref(pm_list_get(oldroot, NEXT));
        pm_object_t *oldkey = pm_incref(pm_list_get(s->root, KEY));
        pm_object_t *oldresult = pm_incref(pm_list_get(s->root, RESULT));
        w_lset(w, s->root, KEY, pm_none(w->sp));
        w_lset(w, s->root, RESULT, pm_none(w->sp));
        w_delitem(w, s->cache, oldkey);
        w_setitem(w, s->cache, key, oldroot);
        w_drop(w, oldkey);
        w_drop(w, oldresult);
        w_drop(w, oldroot);                          /* the cache holds it now */
    } else {
        pm_object_t *last = pm_list_get(s->root, PREV);
        pm_object_t *nl = web_link(s, last, s->root, key, result);
        w_lset(w, last, NEXT, nl);
        w_lset(w, s->root, PREV, nl);
        w_setitem(w, s->cache, key, nl);
        w_drop(w, nl);
    }
    return result;
}

static void web_request(struct web *s, uint64_t n, uint64_t keyspace)
{
    struct pywl_w *w = &s->w;
    pm_object_t *raw = w_bytes(w, (size_t)w_lognormal(w, 400, 0.5, PYWL_TEXT));
    pm_object_t *method = w_ref(s->methods[w_zipf(w, 4)]);
    pm_object_t *path = w_text(w, 8 + w_below(w, 50));
    pm_object_t *query = w_dict(w);
    for (uint64_t i = 0, k = w_below(w, 6); i < k; i++)
        w_setitem_steal(w, query, w_text(w, 3 + w_below(w, 8)), w_text(w, 1 + w_below(w, 40)));
    pm_object_t *headers = w_dict(w), *environ = w_dict(w);
    for (uint64_t i = 0, k = w_range(w, 8, 20); i < k; i++) {
        size_t kl = 4 + w_below(w, 16);
        pm_object_t *name = w_text(w, kl), *value = w_text(w, (size_t)w_lognormal(w, 20, 1.0, 1000));
        w_setitem(w, headers, name, value);
        w_setitem_steal(w, environ, w_text(w, kl + 5), value);   /* HTTP_<NAME> */
        w_drop(w, name);
    }
    pm_object_t *envv[8] = {method, path, w_text(w, 20 + w_below(w, 60)), raw, headers, query,
                            NULL, NULL};
    envv[6] = w_text(w, 9);
    envv[7] = w_int(w, (int64_t)(1024 + w_below(w, 60000)));
    for (int i = 0; i < 8; i++)
        w_setitem(w, environ, s->k_env[i], envv[i]);
    w_drop(w, envv[2]);
    w_drop(w, envv[6]);
    w_drop(w, envv[7]);
    /* route and handler */
    pm_object_t *route = w_int(w, (int64_t)w_zipf(w, WEB_ROUTES));
    pm_object_t *count = w_getitem(w, s->counts, route);
    int64_t cnt = 0;
    if (count)
        pm_int_as_int64(count, &cnt);
    w_setitem_steal(w, s->counts, w_ref(route), w_int(w, cnt + 1));
    uint64_t uid = w_zipf(w, keyspace);
    pm_object_t *key = w_int(w, (int64_t)uid);
    pm_object_t *rec = key ? web_cached(s, key, (int64_t)uid) : NULL;
    /* the response */
    pm_object_t *chunks = w_list(w);
    uint64_t total = 0;
    if (rec && !w->failed) {
        size_t pos = 0;
        pm_object_t *k, *v;
        while (pm_dict_next(rec, &pos, &k, &v)) {
            size_t n1 = 4 + w_below(w, 40);
            w_append_steal(w, chunks, w_blank(w, n1));
            total += n1;
        }
    }
    pm_object_t *body = w_blank(w, (size_t)total + 2);
    pm_object_t *rh = w_list(w);
    for (uint64_t i = 0, k = w_range(w, 4, 6); i < k; i++)
        w_append_steal(w, rh, w_tuple2(w, w_ref(s->k_env[i]), w_text(w, 8 + w_below(w, 30))));
    pm_object_t *resp = w_tuple3(w, w_text(w, 6), w_ref(rh), w_ref(body));
    /* access log */
    w_lset_steal(w, s->log, (int64_t)(n % WEB_LOG), w_text(w, 80 + w_below(w, 120)));
    pm_object_t *drop[] = {resp, rh, body, chunks, rec, key, route, environ, headers, query,
                           path, method, raw};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        w_drop(w, drop[i]);
}

static int web_run(pm_objspace_t *sp, const struct pywl_params *p,
                   const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct web s = {0};
    struct pywl_w *w = &s.w;
    w_init(w, sp, p, 3, hooks, err);
    static const char *const env_keys[8] = {"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING",
                                            "wsgi.input", "wsgi.headers", "wsgi.query",
                                            "SERVER_NAME", "SERVER_PORT"};
    static const char *const methods[4] = {"GET", "POST", "PUT", "DELETE"};
    for (int i = 0; i < 8; i++)
        s.k_env[i] = w_istr(w, env_keys[i]);
    for (int i = 0; i < 4; i++)
        s.methods[i] = w_istr(w, methods[i]);
    s.maxsize = w_scaled(p, 20000);
    uint64_t keyspace = 10 * s.maxsize, requests = w_scaled(p, 150000);
    s.cache = w_dict(w);
    s.root = w_list(w);
    for (int i = 0; i < 4; i++)
        w_append(w, s.root, pm_none(sp));
    web_root_reset(&s);
    s.routes = w_dict(w);
    for (int i = 0; i < WEB_ROUTES; i++)
        w_setitem_steal(w, s.routes, w_text(w, 6 + w_below(w, 20)), w_int(w, i));
    s.counts = w_dict(w);
    s.log = w_list(w);
    for (int i = 0; i < WEB_LOG; i++)
        w_append(w, s.log, pm_none(sp));

    w_phase(w, "warmup");
    bool steady = false;
    for (uint64_t n = 0; n < requests && !w->failed; n++) {
        if (n == requests * 2 / 3) {                 /* cache_clear() */
            w_check_rc(w, pm_dict_clear(sp, s.cache));
            web_root_reset(&s);
            w_phase(w, "refill");
        }
        web_request(&s, n, keyspace);
        if (!steady && s.cache && pm_dict_size(s.cache) >= s.maxsize && n < requests * 2 / 3) {
            steady = true;
            w_phase(w, "steady");
        }
        w_tick(w);
    }
    w_end(w);
    if (s.cache)
        w_check_rc(w, pm_dict_clear(sp, s.cache));  /* the ring of links: cyclic garbage */
    pm_object_t **own[] = {&s.cache, &s.root, &s.routes, &s.counts, &s.log};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        w_clear(w, own[i]);
    for (int i = 0; i < 8; i++)
        w_clear(w, &s.k_env[i]);
    for (int i = 0; i < 4; i++)
        w_clear(w, &s.methods[i]);
    return w_status(w);
}

const struct pywl pywl_web = {
    .name = "web",
    .summary = "WSGI request loop: short-lived dicts and strs per request, an lru_cache with evictions",
    .description =
        "The request loop of a WSGI web service (Flask or Django behind gunicorn) with "
        "functools.lru_cache in front of a database: per request the raw bytes, parsed "
        "headers and query dicts, the environ dict, a response built from chunks and "
        "dropped; a cache of records (dicts with strs, floats and nested lists) on lru_cache's "
        "circular list of 4-item links, evicting the oldest entry once full; an access-log "
        "ring and per-route counters. Short-lived objects interleaved with long-lived ones "
        "that are evicted in an order unrelated to their allocation, which scatters live "
        "records over the heap; a cache_clear() in the middle drops the whole cache at once "
        "(cyclic garbage for the collector) and refills it.",
    .scale_unit = "150000 requests, a cache of 20000 entries over 200000 user ids",
    .default_scale = 1.0,
    .run = web_run,
};
