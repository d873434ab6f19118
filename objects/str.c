/* objects/str.c — ASCII str (compact PyASCIIObject: 48 + length + 1 bytes),
 * the intern table, and bytes (33 + length bytes).
 *
 * Entry points: pm_str_new, pm_str_new_interned, pm_str_data,
 * pm_str_is_interned, pm_intern_count, pm_bytes_new; str_hash, str_equal,
 * str_init_statics (internal).
 *
 * Interning as 3.11: a dict (allocated through the space like any dict, so
 * its keys object grows by the dict rule) maps each interned str to itself;
 * the two references the dict holds are not counted (interned strs are
 * "mortal"), so an interned str dies when its last user drops it and its
 * dealloc removes it from the dict. The empty str and the 1-character
 * strs are static singletons, as the latin-1 singletons of 3.11.
 */
#include "pm_objimpl.h"


static uint64_t str_hash_bytes(uint64_t seed, const char *s, size_t n)
{
    /* FNV-1a with the seed folded in, then a 64-bit finaliser */
    uint64_t h = 0xcbf29ce484222325u ^ (seed * 0x9E3779B97F4A7C15u);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h;
}

static int64_t str_hash_of(const pm_objspace_t *sp, const char *s, size_t n)
{
    int64_t h = (int64_t)(str_hash_bytes(sp->cfg.seed, s, n) >> 1);
    return h == -1 ? -2 : h;
}

int64_t str_hash(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_str *s = (struct pm_str *)o;
    if (s->hash == -1)
        s->hash = str_hash_of(sp, str_data(o), (size_t)s->length);
    return s->hash;
}

bool str_equal(const pm_object_t *a, const pm_object_t *b)
{
    const struct pm_str *x = (const struct pm_str *)a, *y = (const struct pm_str *)b;
    return x->length == y->length && memcmp(str_data(a), str_data(b), (size_t)x->length) == 0;
}

static void str_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_str *s = (struct pm_str *)o;
    pm_assert(!(s->state & STR_STATIC));
    if (s->state & STR_INTERNED) {
        /* the dict's two uncounted references come back for the deletion */
        o->refcnt = 3;
        pm_object_t *key = o;
        int r = pm_dict_delete(sp, sp->interned, key);
        pm_assert(r == 0);
        (void)r;
        pm_assert(o->refcnt == 1);
        s->state &= ~STR_INTERNED;
        o->refcnt = 0;
    }
    obj_forget(sp);
    obj_free(sp, o, sizeof(struct pm_str) + (size_t)s->length + 1);
}

const struct pm_type pm_type_str = {
    .name = "str", .kind = PM_KIND_STR, .basicsize = sizeof(struct pm_str), .itemsize = 1,
    .dealloc = str_dealloc,
};

static void str_init_fields(struct pm_str *s, const char *p, size_t n)
{
    s->length = (int64_t)n;
    s->hash = -1;
    s->state = 0;
    s->pad = 0;
    s->wstr = NULL;
    memcpy(str_data(&s->ob), p, n);
    str_data(&s->ob)[n] = 0;
}

void str_init_statics(pm_objspace_t *sp, size_t *off)
{
    for (int c = -1; c < 128; c++) {
        struct pm_str *s = statics_carve(sp, off, 64);
        obj_init(sp, &s->ob, &pm_type_str);
        sp->objects_alive--;
        char ch = (char)c;
        str_init_fields(s, &ch, c < 0 ? 0 : 1);
        s->state = STR_STATIC;
        if (c < 0)
            sp->empty_str = &s->ob;
        else
            sp->str1[c] = &s->ob;
    }
}

static bool ascii_ok(pm_objspace_t *sp, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80) {
            om_error(sp, PM_ERR_VALUE, "str: byte 0x%02x at %zu is not ASCII",
                     (unsigned char)p[i], i);
            return false;
        }
    return true;
}

pm_object_t *pm_str_new(pm_objspace_t *sp, const char *p, size_t n)
{
    if (!ascii_ok(sp, p, n))
        return NULL;
    if (n == 0)
        return pm_incref(sp->empty_str);
    if (n == 1)
        return pm_incref(sp->str1[(unsigned char)p[0]]);
    if (n > ((size_t)1 << 40)) {
        om_error(sp, PM_ERR_VALUE, "str of %zu characters is too long", n);
        return NULL;
    }
    struct pm_str *s = obj_alloc(sp, sizeof(struct pm_str) + n + 1);
    if (!s)
        return NULL;
    obj_init(sp, &s->ob, &pm_type_str);
    str_init_fields(s, p, n);
    return &s->ob;
}

pm_object_t *pm_str_new_interned(pm_objspace_t *sp, const char *p, size_t n)
{
    if (n <= 1 || (sp->cfg.flags & PM_OBJ_NO_INTERN))
        return pm_str_new(sp, p, n);
    if (!ascii_ok(sp, p, n))
        return NULL;
    int64_t h = str_hash_of(sp, p, n);
    if (sp->interned) {
        pm_object_t *found = NULL;
        if (dict_lookup_ascii(sp, sp->interned, p, n, h, &found) >= 0 && found)
            return pm_incref(found);
    }
    pm_object_t *o = pm_str_new(sp, p, n);
    if (!o)
        return NULL;
    ((struct pm_str *)o)->hash = h;
    if (!sp->interned) {
        sp->interned = pm_dict_new(sp);
        if (!sp->interned)
            return o;               /* not interned, as PyUnicode_InternInPlace on error */
        sp->objects_alive--;        /* the space's own, not the workload's */
    }
    if (pm_dict_set(sp, sp->interned, o, o) < 0)
        return o;
    o->refcnt -= 2;
    ((struct pm_str *)o)->state |= STR_INTERNED;
    return o;
}

const char *pm_str_data(const pm_object_t *o, size_t *len)
{
    if (len)
        *len = (size_t)((const struct pm_str *)o)->length;
    return str_data(o);
}

bool pm_str_is_interned(const pm_object_t *o)
{
    return (((const struct pm_str *)o)->state & STR_INTERNED) != 0;
}

size_t pm_intern_count(const pm_objspace_t *sp)
{
    return sp->interned ? pm_dict_size(sp->interned) : 0;
}

/* ---- bytes ---- */

static void bytes_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    obj_forget(sp);
    obj_free(sp, o, PM_BYTES_HEADER + 1 + (size_t)((struct pm_bytes *)o)->size);
}

const struct pm_type pm_type_bytes = {
    .name = "bytes", .kind = PM_KIND_BYTES, .basicsize = PM_BYTES_HEADER + 1, .itemsize = 1,
    .dealloc = bytes_dealloc,
};

pm_object_t *pm_bytes_new(pm_objspace_t *sp, const void *p, size_t n)
{
    if (n == 0)
        return pm_incref(sp->empty_bytes);
    if (n == 1 && p)
        return pm_incref(sp->bytes1[*(const unsigned char *)p]);
    if (n > ((size_t)1 << 40)) {
        om_error(sp, PM_ERR_VALUE, "bytes of %zu bytes is too long", n);
        return NULL;
    }
    struct pm_bytes *b = obj_alloc(sp, PM_BYTES_HEADER + 1 + n);
    if (!b)
        return NULL;
    obj_init(sp, &b->ob, &pm_type_bytes);
    b->size = (int64_t)n;
    b->hash = -1;
    if (p)
        memcpy(bytes_data(&b->ob), p, n);
    else
        memset(bytes_data(&b->ob), 0, n);
    bytes_data(&b->ob)[n] = 0;
    return &b->ob;
}
