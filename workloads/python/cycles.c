/* workloads/python/cycles.c — `cycles`: document trees with back-links,
 * as an HTML/XML DOM (BeautifulSoup, lxml-free ElementTree wrappers), an ORM
 * session's identity map, or any tree whose nodes know their parent.
 *
 * Per document: a Document instance holding the root Node, an index dict
 * (id str -> node) and a title; Nodes (instances with a __dict__ and a
 * __weakref__ slot) with a tag (interned), an attrs dict, a children list
 * and, in three documents out of four, strong back-links: node.parent,
 * prev/next sibling links, cross references to random nodes, and now and
 * then an attrs dict that contains itself. In the fourth, node.parent is a
 * weakref and there are no other back-links, so the tree is acyclic and
 * freed by reference counting. Each document is walked once (a transient
 * str per node, as rendering would), then kept in a registry of the last 8
 * documents; the oldest is dropped: cyclic garbage, which only the collector
 * frees, by then usually in generation 1 or 2 because the nodes survived
 * the generation-0 collections that ran while the document was built.
 *
 * Phases: "ramp" (the registry fills), "steady".
 * Scale 1: 1200 documents of median 300 nodes.
 */
#include "pywl_impl.h"

#include <stdio.h>

#define CY_KEEP 8                   /* documents kept alive */
#define CY_TAGS 24

struct cy {
    struct pywl_w w;
    pm_object_t *c_doc, *c_node;
    pm_object_t *tags[CY_TAGS];
    pm_object_t *nodes;             /* the document's nodes, in creation order (a temporary) */
};

static pm_object_t *cy_document(struct cy *c, uint64_t n, bool strong)
{
    struct pywl_w *w = &c->w;
    pm_object_t *doc = w_new(w, c->c_doc), *index = w_dict(w);
    w_setattr_steal(w, doc, "title", w_text(w, 10 + w_below(w, 60)));
    w_setattr(w, doc, "index", index);
    c->nodes = w_list(w);
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        pm_object_t *node = w_new(w, c->c_node);
        w_setattr(w, node, "tag", c->tags[w_zipf(w, CY_TAGS)]);
        pm_object_t *attrs = w_dict(w);
        for (uint64_t a = 0, na = w_range(w, 1, 4); a < na; a++)
            w_setitem_steal(w, attrs, w_text(w, 2 + w_below(w, 8)),
                            w_text(w, (size_t)w_lognormal(w, 12, 1.0, 500)));
        if (strong && w_chance(w, 0.02))
            w_setkey_steal(w, attrs, "self", w_ref(attrs));     /* attrs['self'] = attrs */
        w_setattr_steal(w, node, "attrs", attrs);
        w_setattr_steal(w, node, "children", w_list(w));
        if (i == 0) {
            w_setattr(w, doc, "root", node);
        } else if (!w->failed) {
            pm_object_t *parent = pm_list_get(c->nodes, w_below(w, i));
            pm_object_t *siblings = pm_getattr(w->sp, parent, "children");
            if (strong) {
                w_setattr(w, node, "parent", parent);
                size_t ns = siblings ? pm_list_size(siblings) : 0;
                if (ns) {
                    pm_object_t *prev = pm_list_get(siblings, ns - 1);
                    w_setattr(w, node, "prev", prev);
                    w_setattr(w, prev, "next", node);
                }
                if (w_chance(w, 0.1))
                    w_setattr(w, node, "ref", pm_list_get(c->nodes, w_below(w, i)));
            } else {
                w_setattr_steal(w, node, "parent",
                                w->failed ? NULL : w_check(w, pm_weakref_new(w->sp, parent, NULL)));
            }
            w_append(w, siblings, node);
        }
        char id[24];
        snprintf(id, sizeof id, "n%llu", (unsigned long long)i);
        w_setitem_steal(w, index, w_cstr(w, id), w_ref(node));
        w_append_steal(w, c->nodes, node);
        w_tick(w);
    }
    /* render: walk the tree breadth-first, one transient str per node */
    pm_object_t *queue = w_list(w);
    if (!w->failed)
        w_append(w, queue, pm_getattr(w->sp, doc, "root"));
    for (size_t q = 0; !w->failed && q < pm_list_size(queue); q++) {
        pm_object_t *node = pm_list_get(queue, q);
        w_drop(w, w_text(w, 10 + w_below(w, 40)));
        pm_object_t *ch = pm_getattr(w->sp, node, "children");
        for (size_t k = 0; ch && k < pm_list_size(ch); k++)
            w_append(w, queue, pm_list_get(ch, k));
        w_tick(w);
    }
    w_drop(w, queue);
    w_clear(w, &c->nodes);
    w_drop(w, index);
    if (w->failed)
        w_clear(w, &doc);
    return doc;
}

static int cycles_run(pm_objspace_t *sp, const struct pywl_params *p,
                      const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct cy c = {0};
    struct pywl_w *w = &c.w;
    w_init(w, sp, p, 4, hooks, err);
    c.c_doc = w_class(w, "Document", 0, NULL);
    c.c_node = w_class(w, "Node", 0, NULL);
    for (int i = 0; i < CY_TAGS; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "tag%d", i);
        c.tags[i] = w_istr(w, tag);
    }
    pm_object_t *registry = w_list(w);
    uint64_t docs = w_scaled(p, 1200);
    w_phase(w, "ramp");
    for (uint64_t d = 0; d < docs && !w->failed; d++) {
        bool strong = d % 4 != 3;
        uint64_t n = 1 + (uint64_t)w_lognormal(w, 300, 0.8, 20000);
        w_append_steal(w, registry, cy_document(&c, n, strong));
        if (registry && pm_list_size(registry) > CY_KEEP)
            w_ldel(w, registry, 0);
        if (d == CY_KEEP)
            w_phase(w, "steady");
        w_tick(w);
    }
    w_end(w);
    w_drop(w, registry);
    for (int i = 0; i < CY_TAGS; i++)
        w_clear(w, &c.tags[i]);
    w_clear(w, &c.c_doc);
    w_clear(w, &c.c_node);
    return w_status(w);
}

const struct pywl pywl_cycles = {
    .name = "cycles",
    .summary = "document trees with parent/sibling back-links: cyclic garbage for the collector",
    .description =
        "An HTML/XML document model or an ORM identity map: trees of instances with "
        "parent, sibling and cross references, an index dict of every node, "
        "self-referencing attribute dicts, built, walked, kept for a while in a registry "
        "of recent documents and then dropped as cyclic garbage (one document in four uses "
        "weakref parents instead and is freed by reference counting). The collector does "
        "the freeing: the nodes survive the young collections that run while their "
        "document is built, so the garbage accumulates in the older generations until a "
        "full collection; the footprint follows the collector's schedule, not the "
        "program's.",
    .scale_unit = "1200 documents of median 300 nodes",
    .default_scale = 1.0,
    .run = cycles_run,
};
