/* objects/dict.c — dict with 3.11's compact ordered layout and sizes.
 *
 * A dict object is 16 (GC header) + 48 bytes. Its table is a keys object
 * (PyDictKeysObject, PyObject domain):
 *
 *   32 header + (1 << log2_index_bytes) indices + entry_size * usable
 *   usable = (2 << log2_size) / 3;  index width 1, 2, 4, 8 bytes for
 *   log2_size < 8, < 16, < 32, else;  entry_size 16 when every key is an
 *   exact str ("unicode" keys: key, value), else 24 (hash, key, value).
 *
 * So the first insert into an empty dict requests 120 bytes (str keys) or
 * 160 (other keys). An empty dict shares the static empty keys (no request).
 * Growth (insertion_resize): when no usable entry is left, the table is
 * rebuilt with log2_size = bit_length(((3 * used | 8) - 1) | 7), that is the
 * smallest power of two >= 3 * used, at least 8, except 16 for 3 * used in
 * 1..7 (3.11's calculate_log2_keysize);
 * deleted entries stay in the entries array (dummies) until then, and a
 * deletion never shrinks. Inserting a non-str key into a unicode table
 * converts it to the general layout (a rebuild by the same rule). Free
 * lists: 80 dict objects and 80 minimum-size unicode keys objects.
 *
 * Tracking as 3.11: a new dict is untracked; it becomes tracked when a key
 * or value that may be tracked is stored; full collections untrack dicts
 * holding only atomic objects.
 *
 * Honest approximations: split tables (instances' __dict__ sharing the
 * class's keys) exist only as the classes' shared keys (class.c); a dict
 * materialised from an instance is a combined table. ma_version_tag is not
 * maintained.
 *
 * Entry points: pm_dict_new, pm_dict_set, pm_dict_get, pm_dict_delete,
 * pm_dict_clear, pm_dict_size, pm_dict_next, pm_dict_keys_bytes;
 * dictkeys_new, dictkeys_free, dictkeys_bytes, sharedkeys_lookup,
 * dict_maybe_untrack, dict_clear_freelist, dict_lookup_ascii (internal).
 */
#include "pm_objimpl.h"

#define LOG_MINSIZE 3
#define SHARED_KEYS_MAX_SIZE 30
#define IX_EMPTY (-1)
#define IX_DUMMY (-2)
#define PERTURB_SHIFT 5

static int64_t usable_fraction(int64_t n) { return (n << 1) / 3; }

static unsigned index_log2_bytes(unsigned log2_size)
{
    if (log2_size < 8)
        return log2_size;
    if (log2_size < 16)
        return log2_size + 1;
    if (log2_size < 32)
        return log2_size + 2;
    return log2_size + 3;
}

static size_t entry_size(int kind)
{
    return kind == DK_GENERAL ? sizeof(struct pm_dict_entry) : sizeof(struct pm_dict_uentry);
}

static size_t keys_alloc_size(unsigned log2_size, int kind)
{
    return sizeof(struct pm_dictkeys) + ((size_t)1 << index_log2_bytes(log2_size))
           + entry_size(kind) * (size_t)usable_fraction((int64_t)1 << log2_size);
}

size_t dictkeys_bytes(const struct pm_dictkeys *k) { return keys_alloc_size(k->log2_size, k->kind); }

static inline char *keys_indices(const struct pm_dictkeys *k) { return (char *)(k + 1); }

static inline struct pm_dict_entry *keys_entries(const struct pm_dictkeys *k)
{
    return (struct pm_dict_entry *)(keys_indices(k) + ((size_t)1 << k->log2_index_bytes));
}

static inline struct pm_dict_uentry *keys_uentries(const struct pm_dictkeys *k)
{
    return (struct pm_dict_uentry *)(keys_indices(k) + ((size_t)1 << k->log2_index_bytes));
}

static inline int64_t ix_get(const struct pm_dictkeys *k, size_t i)
{
    const char *ind = keys_indices(k);
    switch (k->log2_index_bytes - k->log2_size) {
    case 0: return ((const int8_t *)ind)[i];
    case 1: return ((const int16_t *)ind)[i];
    case 2: return ((const int32_t *)ind)[i];
    default: return ((const int64_t *)ind)[i];
    }
}

static inline void ix_set(struct pm_dictkeys *k, size_t i, int64_t ix)
{
    char *ind = keys_indices(k);
    switch (k->log2_index_bytes - k->log2_size) {
    case 0: ((int8_t *)ind)[i] = (int8_t)ix; break;
    case 1: ((int16_t *)ind)[i] = (int16_t)ix; break;
    case 2: ((int32_t *)ind)[i] = (int32_t)ix; break;
    default: ((int64_t *)ind)[i] = ix; break;
    }
}

static inline pm_object_t *entry_key(const struct pm_dictkeys *k, int64_t ix)
{
    return k->kind == DK_GENERAL ? keys_entries(k)[ix].key : keys_uentries(k)[ix].key;
}

static inline pm_object_t **entry_value_ptr(const struct pm_dictkeys *k, int64_t ix)
{
    return k->kind == DK_GENERAL ? &keys_entries(k)[ix].value : &keys_uentries(k)[ix].value;
}

struct pm_dictkeys *dictkeys_new(pm_objspace_t *sp, unsigned log2_size, int kind)
{
    struct pm_dictkeys *k;
    if (log2_size == LOG_MINSIZE && kind == DK_UNICODE && sp->keys_numfree > 0) {
        k = sp->keys_free[--sp->keys_numfree];
    } else {
        if (log2_size > 40) {
            om_nomem(sp, SIZE_MAX);
            return NULL;
        }
        k = obj_alloc(sp, keys_alloc_size(log2_size, kind));
        if (!k)
            return NULL;
    }
    unsigned lib = index_log2_bytes(log2_size);
    int64_t usable = usable_fraction((int64_t)1 << log2_size);
    k->refcnt = 1;
    k->log2_size = (uint8_t)log2_size;
    k->log2_index_bytes = (uint8_t)lib;
    k->kind = (uint8_t)kind;
    k->pad = 0;
    k->version = 0;
    k->usable = usable;
    k->nentries = 0;
    memset(keys_indices(k), 0xff, (size_t)1 << lib);
    memset(keys_indices(k) + ((size_t)1 << lib), 0, entry_size(kind) * (size_t)usable);
    return k;
}

/* free_keys_object: drop the entries, then the free list or the backend. */
void dictkeys_free(pm_objspace_t *sp, struct pm_dictkeys *k)
{
    pm_assert(k != &sp->empty_keys);
    for (int64_t i = 0, n = k->nentries; i < n; i++) {
        pm_xdecref(sp, entry_key(k, i));
        pm_xdecref(sp, *entry_value_ptr(k, i));
    }
    if (k->log2_size == LOG_MINSIZE && k->kind == DK_UNICODE
        && !(sp->cfg.flags & PM_OBJ_NO_FREELIST_DICT) && sp->keys_numfree < DICT_MAXFREELIST) {
        sp->keys_free[sp->keys_numfree++] = k;
        return;
    }
    obj_free(sp, k, dictkeys_bytes(k));
}

/* Finds key; returns its entry index or IX_EMPTY, and in *slot the index
 * slot where it is (or the first free slot for it). */
static int64_t keys_lookup(pm_objspace_t *sp, const struct pm_dictkeys *k, pm_object_t *key,
                           int64_t hash, size_t *slot)
{
    size_t mask = ((size_t)1 << k->log2_size) - 1;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = (uint64_t)hash;
    bool key_is_str = key->type == &pm_type_str;
    size_t free_slot = SIZE_MAX;
    for (;;) {
        int64_t ix = ix_get(k, i);
        if (ix == IX_EMPTY) {
            *slot = free_slot != SIZE_MAX ? free_slot : i;
            return IX_EMPTY;
        }
        if (ix == IX_DUMMY) {
            if (free_slot == SIZE_MAX)
                free_slot = i;
        } else if (k->kind == DK_GENERAL) {
            const struct pm_dict_entry *e = &keys_entries(k)[ix];
            if (e->key == key || (e->hash == hash && pm_object_equal(e->key, key))) {
                *slot = i;
                return ix;
            }
        } else {
            pm_object_t *ek = keys_uentries(k)[ix].key;
            if (ek == key || (key_is_str && ek && str_hash(sp, ek) == hash && str_equal(ek, key))) {
                *slot = i;
                return ix;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + perturb + 1) & mask;
    }
}

/* An empty index slot for a key known to be absent (find_empty_slot). */
static size_t keys_free_slot(const struct pm_dictkeys *k, int64_t hash)
{
    size_t mask = ((size_t)1 << k->log2_size) - 1;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = (uint64_t)hash;
    while (ix_get(k, i) >= 0) {
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + perturb + 1) & mask;
    }
    return i;
}

int64_t dict_lookup_ascii(pm_objspace_t *sp, pm_object_t *d, const char *s, size_t n,
                          int64_t hash, pm_object_t **found)
{
    const struct pm_dictkeys *k = ((struct pm_dict *)d)->keys;
    *found = NULL;
    if (k->nentries == 0)
        return IX_EMPTY;
    size_t mask = ((size_t)1 << k->log2_size) - 1;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = (uint64_t)hash;
    for (;;) {
        int64_t ix = ix_get(k, i);
        if (ix == IX_EMPTY)
            return IX_EMPTY;
        if (ix >= 0) {
            pm_object_t *ek = entry_key(k, ix);
            if (ek && ek->type == &pm_type_str && str_hash(sp, ek) == hash) {
                size_t len;
                const char *data = pm_str_data(ek, &len);
                if (len == n && memcmp(data, s, n) == 0) {
                    *found = ek;
                    return ix;
                }
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + perturb + 1) & mask;
    }
}

/* calculate_log2_keysize (3.11, 64-bit): bit_length(((minsize | 8) - 1) | 7).
 * Not quite "the smallest power of two >= minsize": minsize 1..7 gives 16
 * slots (a unicode table converted with one entry gets 16, not 8). */
static unsigned log2_keysize(int64_t minsize)
{
    uint64_t m = (((uint64_t)minsize | 8) - 1) | 7;
    return (unsigned)(64 - __builtin_clzll(m));
}

/* dictresize: a fresh table of 1 << log2_newsize slots holding the live
 * entries in order. unicode: keep the unicode layout if the old one has it. */
static int dict_resize(pm_objspace_t *sp, struct pm_dict *d, unsigned log2_newsize, bool unicode)
{
    struct pm_dictkeys *old = d->keys;
    int kind = unicode && old->kind == DK_UNICODE ? DK_UNICODE : DK_GENERAL;
    struct pm_dictkeys *nk = dictkeys_new(sp, log2_newsize, kind);
    if (!nk)
        return -1;
    pm_assert(d->used < nk->usable);
    int64_t j = 0;
    for (int64_t i = 0; i < old->nentries; i++) {
        pm_object_t *key = entry_key(old, i);
        pm_object_t *value = *entry_value_ptr(old, i);
        if (!key || !value)
            continue;
        int64_t h = old->kind == DK_GENERAL ? keys_entries(old)[i].hash : str_hash(sp, key);
        if (kind == DK_GENERAL)
            keys_entries(nk)[j] = (struct pm_dict_entry){h, key, value};
        else
            keys_uentries(nk)[j] = (struct pm_dict_uentry){key, value};
        ix_set(nk, keys_free_slot(nk, h), j);
        j++;
    }
    pm_assert(j == d->used);
    nk->usable -= j;
    nk->nentries = j;
    d->keys = nk;
    if (old != &sp->empty_keys) {
        old->nentries = 0;          /* entries moved: nothing to drop */
        dictkeys_free(sp, old);
    }
    return 0;
}

/* Keys nest through tuples only; hashing and comparing them recurses, so
 * nesting is bounded as CPython's recursion limit bounds it, and so is the
 * number of items the recursion visits (pm_objspace_config.key_items_max:
 * a tuple shared by several parents is visited once per parent). */
#define KEY_MAX_DEPTH 1000

static int key_check(pm_objspace_t *sp, pm_object_t *key, int depth, uint64_t *left)
{
    enum pm_kind k = key->type->kind;
    if (*left == 0)
        return om_error(sp, PM_ERR_VALUE, "key too large: its nested tuples expand to more than "
                        "%llu items", (unsigned long long)sp->cfg.key_items_max);
    (*left)--;
    if (k == PM_KIND_LIST || k == PM_KIND_DICT)
        return om_error(sp, PM_ERR_TYPE, "unhashable type: '%s'", key->type->name);
    if (k == PM_KIND_TUPLE) {
        if (depth >= KEY_MAX_DEPTH)
            return om_error(sp, PM_ERR_VALUE, "RecursionError: key nested deeper than %d",
                            KEY_MAX_DEPTH);
        for (size_t i = 0; i < pm_tuple_size(key); i++)
            if (key_check(sp, pm_tuple_get(key, i), depth + 1, left) < 0)
                return -1;
    }
    return 0;
}

static int hash_checked(pm_objspace_t *sp, pm_object_t *key, int64_t *h)
{
    if (key->type->kind == PM_KIND_TUPLE || key->type->kind == PM_KIND_LIST
        || key->type->kind == PM_KIND_DICT) {
        uint64_t left = sp->cfg.key_items_max;
        if (key_check(sp, key, 0, &left) < 0)
            return -1;
    }
    *h = pm_object_hash(sp, key);
    return 0;
}

static int dict_check(pm_objspace_t *sp, pm_object_t *o)
{
    if (o->type->kind != PM_KIND_DICT)
        return om_error(sp, PM_ERR_TYPE, "'%s' object is not a dict", o->type->name);
    return 0;
}

static inline void maintain_tracking(pm_objspace_t *sp, struct pm_dict *d, pm_object_t *key,
                                     pm_object_t *value)
{
    if (!obj_is_tracked(&d->ob) && (obj_may_be_tracked(key) || obj_may_be_tracked(value)))
        gc_track(sp, &d->ob);
}

int pm_dict_set(pm_objspace_t *sp, pm_object_t *o, pm_object_t *key, pm_object_t *value)
{
    int64_t h;
    if (dict_check(sp, o) < 0 || hash_checked(sp, key, &h) < 0)
        return -1;
    struct pm_dict *d = (struct pm_dict *)o;
    bool key_is_str = key->type == &pm_type_str;
    if (d->keys == &sp->empty_keys) {
        /* insert_to_emptydict */
        struct pm_dictkeys *nk = dictkeys_new(sp, LOG_MINSIZE, key_is_str ? DK_UNICODE : DK_GENERAL);
        if (!nk)
            return -1;
        maintain_tracking(sp, d, key, value);
        if (nk->kind == DK_GENERAL)
            keys_entries(nk)[0] = (struct pm_dict_entry){h, pm_incref(key), pm_incref(value)};
        else
            keys_uentries(nk)[0] = (struct pm_dict_uentry){pm_incref(key), pm_incref(value)};
        ix_set(nk, (size_t)h & (((size_t)1 << LOG_MINSIZE) - 1), 0);
        nk->usable--;
        nk->nentries = 1;
        d->keys = nk;
        d->used = 1;
        return 0;
    }
    if (d->keys->kind == DK_UNICODE && !key_is_str
        && dict_resize(sp, d, log2_keysize(d->used * 3), false) < 0)
        return -1;
    maintain_tracking(sp, d, key, value);
    size_t slot;
    int64_t ix = keys_lookup(sp, d->keys, key, h, &slot);
    if (ix >= 0) {
        pm_object_t **vp = entry_value_ptr(d->keys, ix);
        pm_object_t *old = *vp;
        *vp = pm_incref(value);
        pm_decref(sp, old);
        return 0;
    }
    if (d->keys->usable <= 0) {
        if (dict_resize(sp, d, log2_keysize(d->used * 3), true) < 0)
            return -1;
        slot = keys_free_slot(d->keys, h);
    }
    struct pm_dictkeys *k = d->keys;
    int64_t j = k->nentries;
    if (k->kind == DK_GENERAL)
        keys_entries(k)[j] = (struct pm_dict_entry){h, pm_incref(key), pm_incref(value)};
    else
        keys_uentries(k)[j] = (struct pm_dict_uentry){pm_incref(key), pm_incref(value)};
    ix_set(k, slot, j);
    k->usable--;
    k->nentries++;
    d->used++;
    return 0;
}

pm_object_t *pm_dict_get(pm_objspace_t *sp, pm_object_t *o, pm_object_t *key)
{
    int64_t h;
    if (dict_check(sp, o) < 0 || hash_checked(sp, key, &h) < 0)
        return NULL;
    struct pm_dict *d = (struct pm_dict *)o;
    if (d->used == 0)
        return NULL;
    size_t slot;
    int64_t ix = keys_lookup(sp, d->keys, key, h, &slot);
    return ix >= 0 ? *entry_value_ptr(d->keys, ix) : NULL;
}

int pm_dict_delete(pm_objspace_t *sp, pm_object_t *o, pm_object_t *key)
{
    int64_t h;
    if (dict_check(sp, o) < 0 || hash_checked(sp, key, &h) < 0)
        return -1;
    struct pm_dict *d = (struct pm_dict *)o;
    size_t slot;
    int64_t ix = d->used ? keys_lookup(sp, d->keys, key, h, &slot) : IX_EMPTY;
    if (ix < 0)
        return om_error(sp, PM_ERR_KEY, "KeyError");
    struct pm_dictkeys *k = d->keys;
    pm_object_t *old_key, *old_value;
    if (k->kind == DK_GENERAL) {
        old_key = keys_entries(k)[ix].key;
        old_value = keys_entries(k)[ix].value;
        keys_entries(k)[ix].key = keys_entries(k)[ix].value = NULL;
    } else {
        old_key = keys_uentries(k)[ix].key;
        old_value = keys_uentries(k)[ix].value;
        keys_uentries(k)[ix].key = keys_uentries(k)[ix].value = NULL;
    }
    ix_set(k, slot, IX_DUMMY);
    d->used--;
    pm_decref(sp, old_key);
    pm_decref(sp, old_value);
    return 0;
}

int pm_dict_clear(pm_objspace_t *sp, pm_object_t *o)
{
    if (dict_check(sp, o) < 0)
        return -1;
    struct pm_dict *d = (struct pm_dict *)o;
    struct pm_dictkeys *old = d->keys;
    if (old == &sp->empty_keys)
        return 0;
    d->keys = &sp->empty_keys;
    d->used = 0;
    dictkeys_free(sp, old);
    return 0;
}

size_t pm_dict_size(const pm_object_t *o) { return (size_t)((const struct pm_dict *)o)->used; }

size_t pm_dict_keys_bytes(const pm_object_t *o)
{
    const struct pm_dict *d = (const struct pm_dict *)o;
    return d->keys->nentries == 0 && d->keys->usable == 0 ? 0 : dictkeys_bytes(d->keys);
}

bool pm_dict_next(const pm_object_t *o, size_t *pos, pm_object_t **key, pm_object_t **value)
{
    const struct pm_dictkeys *k = ((const struct pm_dict *)o)->keys;
    while ((int64_t)*pos < k->nentries) {
        int64_t i = (int64_t)(*pos)++;
        pm_object_t *v = *entry_value_ptr(k, i);
        if (v) {
            if (key)
                *key = entry_key(k, i);
            if (value)
                *value = v;
            return true;
        }
    }
    return false;
}

/* ---- the dict type ---- */

static void dict_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_dict *d = (struct pm_dict *)o;
    gc_untrack(sp, o);
    struct pm_dictkeys *k = d->keys;
    d->keys = &sp->empty_keys;
    d->used = 0;
    if (k != &sp->empty_keys)
        dictkeys_free(sp, k);
    obj_forget(sp);
    if (!(sp->cfg.flags & PM_OBJ_NO_FREELIST_DICT) && sp->dict_numfree < DICT_MAXFREELIST) {
        sp->dict_free[sp->dict_numfree++] = d;
        return;
    }
    gc_free(sp, o, sizeof(struct pm_dict));
}

static int dict_traverse(pm_object_t *o, pm_visit_fn visit, void *arg)
{
    const struct pm_dictkeys *k = ((struct pm_dict *)o)->keys;
    int64_t n = k->nentries;
    if (k->kind == DK_GENERAL) {
        const struct pm_dict_entry *e = keys_entries(k);
        for (int64_t i = 0; i < n; i++)
            if (e[i].value) {
                int r = visit(e[i].key, arg);
                if (!r)
                    r = visit(e[i].value, arg);
                if (r)
                    return r;
            }
    } else {
        const struct pm_dict_uentry *e = keys_uentries(k);
        for (int64_t i = 0; i < n; i++)
            if (e[i].value) {
                int r = visit(e[i].value, arg);
                if (r)
                    return r;
            }
    }
    return 0;
}

static int dict_tp_clear(pm_objspace_t *sp, pm_object_t *o) { return pm_dict_clear(sp, o); }

const struct pm_type pm_type_dict = {
    .name = "dict", .kind = PM_KIND_DICT, .flags = TPF_GC, .basicsize = sizeof(struct pm_dict),
    .dealloc = dict_dealloc, .traverse = dict_traverse, .clear = dict_tp_clear,
};

pm_object_t *pm_dict_new(pm_objspace_t *sp)
{
    struct pm_dict *d;
    if (sp->dict_numfree > 0) {
        d = sp->dict_free[--sp->dict_numfree];
    } else {
        d = (struct pm_dict *)gc_alloc(sp, &pm_type_dict, sizeof(struct pm_dict));
        if (!d)
            return NULL;
    }
    obj_init(sp, &d->ob, &pm_type_dict);
    d->used = 0;
    d->version_tag = 0;
    d->keys = &sp->empty_keys;
    d->values = NULL;
    return &d->ob;
}

void dict_clear_freelist(pm_objspace_t *sp)
{
    while (sp->dict_numfree > 0) {
        struct pm_dict *d = sp->dict_free[--sp->dict_numfree];
        gc_free(sp, &d->ob, sizeof(struct pm_dict));
    }
    while (sp->keys_numfree > 0) {
        struct pm_dictkeys *k = sp->keys_free[--sp->keys_numfree];
        obj_free(sp, k, dictkeys_bytes(k));
    }
}

void dict_maybe_untrack(pm_objspace_t *sp, pm_object_t *o)
{
    if (!obj_is_tracked(o))
        return;
    const struct pm_dictkeys *k = ((struct pm_dict *)o)->keys;
    for (int64_t i = 0; i < k->nentries; i++) {
        pm_object_t *v = *entry_value_ptr(k, i);
        if (!v)
            continue;
        if (obj_may_be_tracked(v))
            return;
        if (k->kind == DK_GENERAL && obj_may_be_tracked(entry_key(k, i)))
            return;
    }
    gc_untrack(sp, o);
}

/* ---- shared keys of a class (split kind, log2 size 6, 30 usable) ---- */

struct pm_dictkeys *sharedkeys_new(pm_objspace_t *sp)
{
    struct pm_dictkeys *k = dictkeys_new(sp, 6, DK_SPLIT);
    if (k)
        k->usable = SHARED_KEYS_MAX_SIZE;
    return k;
}

int64_t sharedkeys_lookup(pm_objspace_t *sp, struct pm_dictkeys *k, pm_object_t *name, bool insert)
{
    int64_t h = str_hash(sp, name);
    size_t slot;
    int64_t ix = k->nentries ? keys_lookup(sp, k, name, h, &slot) : IX_EMPTY;
    if (ix >= 0)
        return ix;
    if (!insert || k->usable <= 0)
        return -1;
    if (k->nentries == 0)
        slot = keys_free_slot(k, h);
    ix = k->nentries;
    keys_uentries(k)[ix] = (struct pm_dict_uentry){pm_incref(name), NULL};
    ix_set(k, slot, ix);
    k->usable--;
    k->nentries++;
    return ix;
}

pm_object_t *sharedkeys_name(struct pm_dictkeys *k, int64_t ix) { return keys_uentries(k)[ix].key; }
