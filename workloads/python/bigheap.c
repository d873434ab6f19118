/* workloads/python/bigheap.c — `bigheap`: a large long-lived heap built
 * while cycles churn (the shape of faster-cpython/ideas#668: a program
 * loading a large data set into objects, RSS 435 MB under the incremental
 * collector against 270 MB under the generational one at one data size).
 *
 * Phase "load": records are added to a long-lived index (a dict of
 * Record instances, each with a dict of 4 fields: an int, a str, a float
 * and a list of 3 tags) until it holds the data set; between records, a
 * parser makes short-lived Token/Node cycles (a node with a parent link and
 * a children list, a 200-byte str payload each) and drops them: cyclic
 * garbage made at the rate of the load. Phase "churn": the index stays;
 * each step replaces one record (refcount-freed) and makes a cycle of the
 * same shape. The generations hold a growing (then fixed) mass of live
 * objects: a collector that scans the old generation in proportion to its
 * size spends its work there while the cycles wait.
 *
 * Scale 1: 200000 records loaded, then 200000 churn steps; 2 cycles of
 * 4 nodes per record.
 */
#include "pywl_impl.h"

#include <stdio.h>

struct bh {
    struct pywl_w w;
    pm_object_t *c_rec, *c_node, *tags[8];
};

static pm_object_t *bh_record(struct bh *b, uint64_t i)
{
    struct pywl_w *w = &b->w;
    pm_object_t *r = w_new(w, b->c_rec);
    w_setattr_steal(w, r, "id", w_int(w, (int64_t)i));
    w_setattr_steal(w, r, "name", w_text(w, 8 + w_below(w, 24)));
    w_setattr_steal(w, r, "score", w_float(w, w_unit(w)));
    pm_object_t *tags = w_list(w);
    for (int k = 0; k < 3; k++)
        w_append(w, tags, b->tags[w_below(w, 8)]);
    w_setattr_steal(w, r, "tags", tags);
    return r;
}

/* A parse tree of n nodes: parent <-> children cycles, then dropped. */
static void bh_cycle(struct bh *b, int n)
{
    struct pywl_w *w = &b->w;
    pm_object_t *root = w_new(w, b->c_node);
    pm_object_t *kids = w_list(w);
    w_setattr(w, root, "children", kids);
    for (int k = 1; k < n && !w->failed; k++) {
        pm_object_t *c = w_new(w, b->c_node);
        w_setattr(w, c, "parent", root);
        w_setattr_steal(w, c, "text", w_text(w, 200));
        w_append_steal(w, kids, c);
    }
    w_drop(w, kids);
    w_drop(w, root);
}

static int bigheap_run(pm_objspace_t *sp, const struct pywl_params *p,
                       const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct bh b = {0};
    struct pywl_w *w = &b.w;
    w_init(w, sp, p, 9, hooks, err);
    b.c_rec = w_class(w, "Record", 0, NULL);
    b.c_node = w_class(w, "Node", 0, NULL);
    for (int i = 0; i < 8; i++) {
        char t[8];
        snprintf(t, sizeof t, "t%d", i);
        b.tags[i] = w_istr(w, t);
    }
    uint64_t n = w_scaled(p, 200000);
    pm_object_t *index = w_dict(w);
    w_phase(w, "load");
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        pm_object_t *k = w_int(w, (int64_t)i);
        w_setitem_steal(w, index, k, bh_record(&b, i));
        bh_cycle(&b, 4);
        bh_cycle(&b, 4);
        w_tick(w);
    }
    w_phase(w, "churn");
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        uint64_t j = w_below(w, n);
        pm_object_t *k = w_int(w, (int64_t)j);
        w_setitem_steal(w, index, k, bh_record(&b, j));
        bh_cycle(&b, 4);
        bh_cycle(&b, 4);
        w_tick(w);
    }
    w_end(w);
    w_drop(w, index);
    w_clear(w, &b.c_rec);
    w_clear(w, &b.c_node);
    for (int i = 0; i < 8; i++)
        w_clear(w, &b.tags[i]);
    return w_status(w);
}

const struct pywl pywl_bigheap = {
    .name = "bigheap",
    .summary = "a large long-lived index built while parse-tree cycles churn (ideas#668)",
    .description =
        "A program loading a large data set into objects (an index dict of records, each "
        "an instance with an id, a name, a score and a list of tags) while a parser makes "
        "short-lived parse trees whose nodes link to their parent: two cycles of four nodes "
        "per record, dropped at once, so cyclic garbage is made at the rate of the load. "
        "After the load the index stays and records are replaced at random while the "
        "cycles go on. Stands for faster-cpython/ideas#668 (RSS 435 MB under the "
        "incremental collector against 270 MB under the generational one at one data "
        "size): the collector's work on the old generation grows with the live heap.",
    .scale_unit = "200000 records loaded, then 200000 churn steps",
    .default_scale = 1.0,
    .run = bigheap_run,
};
