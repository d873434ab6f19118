/* workloads/python/json.c — `json`: parse and serialise JSON documents, as
 * json.loads / json.dumps in a service that decodes requests and encodes
 * responses.
 *
 * "Parse": a seeded generator plays the scanner and makes a document shaped
 * as an API response, {"meta": {...}, "items": [record, ...]}, of a given
 * number of values: nested dicts and lists (explicit stack, depth at most
 * 8) filled as the text is read and inserted into their parent when closed,
 * strs, ints (small ints are static), floats, True/False/None; dict keys
 * come from a vocabulary and go through a per-document memo dict, as
 * _json's scanner memoizes keys. "Serialise": the C encoder of 3.11 — walk
 * the document (an explicit stack, no recursion) appending chunks to a list:
 * a new quoted str per key and str value, a new str per int and float
 * repr, the encoder's constant separators otherwise; every 100000 chunks
 * the list is joined into one part (_PyAccu), and json.dumps joins the parts
 * into the output str. Document and output are then dropped.
 *
 * Phases: "small" (many small documents), "large" (a few documents 1000x
 * bigger: a peak), "small" again (does the footprint come back down?).
 * Scale 1: 2 x 16000 small documents (median 60 values) and 8 large ones
 * (median 100000 values).
 */
#include "pywl_impl.h"

#include <stdio.h>

#define JSON_MAX_DEPTH 8            /* frames on the parse/serialise stacks */
#define JSON_VOCAB 256              /* distinct dict keys */
#define JSON_ACCU 100000            /* chunks per part, as _PyAccu */

struct json_frame {
    pm_object_t *c;                 /* the container being filled (owned) */
    pm_object_t *key;               /* its key in the parent dict (owned), or NULL */
    uint64_t left;                  /* items still to read */
    bool is_dict;
};

struct json_enc {                   /* the encoder's constants (a json.JSONEncoder) */
    pm_object_t *item_sep, *key_sep, *s_true, *s_false, *s_null;
};

struct json_st {
    struct pywl_w w;
    struct json_enc enc;
    pm_object_t *memo;              /* the scanner's key memo (per document) */
    uint64_t budget;                /* values still to generate in this document */
};

/* The vocabulary key k: a slice of the run's text, 3..12 characters. */
static pm_object_t *json_key(struct json_st *j)
{
    struct pywl_w *w = &j->w;
    uint64_t k = w_zipf(w, JSON_VOCAB);
    size_t len = 3 + (size_t)(k * 7 % 10);
    pm_object_t *s = w_str(w, w->text + (k * 13) % (PYWL_TEXT - 16), len);
    pm_object_t *m = w_getitem(w, j->memo, s);
    if (m) {                        /* memo hit: use the memo's str */
        w_drop(w, s);
        return pm_incref(m);
    }
    w_setitem(w, j->memo, s, s);
    return s;
}

static pm_object_t *json_scalar(struct json_st *j)
{
    struct pywl_w *w = &j->w;
    uint64_t r = w_below(w, 100);
    if (r < 40)
        return w_text(w, (size_t)w_lognormal(w, 10, 1.0, 2000));
    if (r < 70) {
        uint64_t m = w_below(w, 4);
        int64_t v = m < 2 ? (int64_t)w_below(w, 257)
                  : m == 2 ? (int64_t)w_below(w, 1u << 31)
                           : (int64_t)(w_rand(w) >> 2);
        return w_int(w, v);
    }
    if (r < 85)
        return w_float(w, (w_unit(w) - 0.5) * 1e6);
    if (w->failed)
        return NULL;
    pm_object_t *c = r < 90 ? pm_bool(w->sp, true) : r < 95 ? pm_bool(w->sp, false)
                                                            : pm_none(w->sp);
    return pm_incref(c);
}

/* Opens a container of a random size. */
static void json_open(struct json_st *j, struct json_frame *f, bool is_dict, pm_object_t *key)
{
    struct pywl_w *w = &j->w;
    f->is_dict = is_dict;
    f->key = key;
    f->c = is_dict ? w_dict(w) : w_list(w);
    uint64_t n = is_dict ? 1 + (uint64_t)w_lognormal(w, 5, 0.8, 40)
                         : (uint64_t)w_lognormal(w, 4, 1.2, 500);
    f->left = n;
}

/* Reads one container tree (a record) until it closes or the document's
 * budget runs out; returns it. */
static pm_object_t *json_tree(struct json_st *j, bool is_dict)
{
    struct pywl_w *w = &j->w;
    struct json_frame st[JSON_MAX_DEPTH];
    int top = 0;
    json_open(j, &st[0], is_dict, NULL);
    pm_object_t *tree = NULL;
    while (top >= 0) {
        struct json_frame *f = &st[top];
        if (f->left == 0 || j->budget == 0 || w->failed) {  /* close: into the parent */
            if (top == 0) {
                tree = f->c;
                w_drop(w, f->key);
            } else if (st[top - 1].is_dict) {
                w_setitem_steal(w, st[top - 1].c, f->key, f->c);
            } else {
                w_append_steal(w, st[top - 1].c, f->c);
                w_drop(w, f->key);
            }
            top--;
            continue;
        }
        f->left--;
        j->budget--;
        w_tick(w);
        pm_object_t *key = f->is_dict ? json_key(j) : NULL;
        double pc = top < 2 ? 0.35 : top < 5 ? 0.15 : 0.0;
        if (top + 1 < JSON_MAX_DEPTH && w_chance(w, pc)) {
            top++;
            json_open(j, &st[top], w_chance(w, 0.55), key);
            continue;
        }
        pm_object_t *v = json_scalar(j);
        if (f->is_dict)
            w_setitem_steal(w, f->c, key, v);
        else
            w_append_steal(w, f->c, v);
    }
    if (w->failed)
        w_clear(w, &tree);
    return tree;
}

/* "json.loads": a document of `values` values, shaped as an API response:
 * {"meta": {...}, "items": [record, record, ...]}. */
static pm_object_t *json_parse(struct json_st *j, uint64_t values)
{
    struct pywl_w *w = &j->w;
    j->memo = w_dict(w);
    pm_object_t *doc = w_dict(w);
    j->budget = 8;
    w_setkey_steal(w, doc, "meta", json_tree(j, true));
    j->budget = values;
    pm_object_t *items = w_list(w);
    while (j->budget && !w->failed)
        w_append_steal(w, items, json_tree(j, true));
    w_setkey_steal(w, doc, "items", items);
    w_clear(w, &j->memo);
    if (w->failed)
        w_clear(w, &doc);
    return doc;
}

/* Appends a chunk (stolen) to the accumulator; joins every JSON_ACCU chunks. */
static void json_accu(struct json_st *j, pm_object_t **small, pm_object_t *large,
                      uint64_t *small_len, pm_object_t *chunk, size_t len, bool flush)
{
    struct pywl_w *w = &j->w;
    if (chunk) {
        w_append_steal(w, *small, chunk);
        *small_len += len;
    }
    if (w->failed || !*small)
        return;
    if (pm_list_size(*small) >= JSON_ACCU || (flush && pm_list_size(*small) > 0)) {
        w_append_steal(w, large, w_blank(w, (size_t)*small_len));
        w_check_rc(w, pm_list_clear(w->sp, *small));
        *small_len = 0;
    }
}

static size_t json_digits(int64_t v)
{
    size_t n = v < 0 ? 2 : 1;
    for (uint64_t m = v < 0 ? (uint64_t)-v : (uint64_t)v; m >= 10; m /= 10)
        n++;
    return n;
}

/* "json.dumps": the output str. */
static pm_object_t *json_serialise(struct json_st *j, pm_object_t *doc)
{
    struct pywl_w *w = &j->w;
    struct {
        pm_object_t *c;             /* borrowed */
        size_t pos;                 /* list index or dict iteration position */
        bool is_dict, first;
    } st[JSON_MAX_DEPTH + 1];
    int top = 0;
    pm_object_t *small = w_list(w), *large = w_list(w);
    uint64_t small_len = 0, total = 0;
    pm_object_t *bracket[2][2] = {{pm_str_new(w->sp, "[", 1), pm_str_new(w->sp, "]", 1)},
                                  {pm_str_new(w->sp, "{", 1), pm_str_new(w->sp, "}", 1)}};
#define CHUNK(obj, len) (total += (len), json_accu(j, &small, large, &small_len, (obj), (len), false))
    st[0].c = doc;
    st[0].pos = 0;
    st[0].is_dict = true;
    st[0].first = true;
    CHUNK(pm_incref(bracket[1][0]), 1);
    while (top >= 0 && !w->failed) {
        w_tick(w);
        pm_object_t *c = st[top].c, *key = NULL, *v = NULL;
        bool more;
        if (st[top].is_dict) {
            more = pm_dict_next(c, &st[top].pos, &key, &v);
        } else {
            more = st[top].pos < pm_list_size(c);
            if (more)
                v = pm_list_get(c, st[top].pos++);
        }
        if (!more) {
            CHUNK(pm_incref(bracket[st[top].is_dict][1]), 1);
            top--;
            continue;
        }
        if (!st[top].first)
            CHUNK(pm_incref(j->enc.item_sep), 2);
        st[top].first = false;
        if (key) {
            size_t kl;
            pm_str_data(key, &kl);
            CHUNK(w_blank(w, kl + 2), kl + 2);
            CHUNK(pm_incref(j->enc.key_sep), 2);
        }
        enum pm_kind k = pm_object_kind(v);
        if (k == PM_KIND_DICT || k == PM_KIND_LIST) {
            if (top + 1 > JSON_MAX_DEPTH) {
                w_fail_msg(w, "json: document nested deeper than %d", JSON_MAX_DEPTH);
                break;
            }
            top++;
            st[top].c = v;
            st[top].pos = 0;
            st[top].is_dict = k == PM_KIND_DICT;
            st[top].first = true;
            CHUNK(pm_incref(bracket[st[top].is_dict][0]), 1);
        } else if (k == PM_KIND_STR) {
            size_t n;
            pm_str_data(v, &n);
            CHUNK(w_blank(w, n + 2), n + 2);
        } else if (k == PM_KIND_INT) {
            int64_t iv = 0;
            pm_int_as_int64(v, &iv);
            size_t n = json_digits(iv);
            CHUNK(w_blank(w, n), n);
        } else if (k == PM_KIND_FLOAT) {
            CHUNK(w_blank(w, 18), 18);
        } else if (k == PM_KIND_BOOL) {
            pm_object_t *s = v == pm_bool(w->sp, true) ? j->enc.s_true : j->enc.s_false;
            size_t n;
            pm_str_data(s, &n);
            CHUNK(pm_incref(s), n);
        } else {
            CHUNK(pm_incref(j->enc.s_null), 4);
        }
    }
#undef CHUNK
    json_accu(j, &small, large, &small_len, NULL, 0, true);
    w_drop(w, small);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            w_drop(w, bracket[a][b]);
    pm_object_t *out = w_blank(w, (size_t)total);   /* ''.join(parts) */
    w_drop(w, large);
    return out;
}

static int json_run(pm_objspace_t *sp, const struct pywl_params *p,
                    const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct json_st j = {0};
    struct pywl_w *w = &j.w;
    w_init(w, sp, p, 1, hooks, err);
    j.enc.item_sep = w_istr(w, ", ");
    j.enc.key_sep = w_istr(w, ": ");
    j.enc.s_true = w_istr(w, "true");
    j.enc.s_false = w_istr(w, "false");
    j.enc.s_null = w_istr(w, "null");
    const struct { const char *name; uint64_t docs; double median, sigma, cap; } phases[] = {
        {"small", w_scaled(p, 16000), 60, 1.0, 5000},
        {"large", w_scaled(p, 8), 100000, 0.3, 200000},
        {"small", w_scaled(p, 16000), 60, 1.0, 5000},
    };
    for (size_t ph = 0; ph < sizeof phases / sizeof phases[0] && !w->failed; ph++) {
        w_phase(w, phases[ph].name);
        for (uint64_t d = 0; d < phases[ph].docs && !w->failed; d++) {
            w_tick(w);
            uint64_t values =
                1 + (uint64_t)w_lognormal(w, phases[ph].median, phases[ph].sigma, phases[ph].cap);
            pm_object_t *doc = json_parse(&j, values);
            pm_object_t *out = doc ? json_serialise(&j, doc) : NULL;
            w_drop(w, out);
            w_drop(w, doc);
        }
    }
    w_end(w);
    pm_object_t **enc[] = {&j.enc.item_sep, &j.enc.key_sep, &j.enc.s_true, &j.enc.s_false,
                           &j.enc.s_null};
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++)
        w_clear(w, enc[i]);
    return w_status(w);
}

const struct pywl pywl_json = {
    .name = "json",
    .summary = "json.loads/json.dumps of nested dicts, lists, strs, ints, floats; a peak of large documents",
    .description =
        "A service that decodes JSON requests and encodes JSON responses (json.loads / "
        "json.dumps): nested dicts and lists of strs, ints, floats, booleans and None are "
        "built by a seeded scanner with a per-document key memo, walked by the C encoder "
        "into a list of str chunks joined into the output, and dropped. Many small, "
        "short-lived objects of a few size classes, freed in bulk at the end of each "
        "document; a phase of large documents in the middle raises the peak, and the last "
        "phase shows how much of it the process keeps.",
    .scale_unit = "2 x 16000 small documents (median 60 values) and 8 large ones (median 100000 values)",
    .default_scale = 1.0,
    .run = json_run,
};
