/* workloads/trace/keyset.c — the string set of keyset.h: linear probing over a
 * power-of-two table kept at most half full, so an add costs O(len) expected
 * whatever the number of keys. */
#include "keyset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pm_keyset_slot {
    char *key;      /* copy, not NUL-terminated; NULL: empty slot */
    size_t len;     /* bytes */
    uint64_t hash;  /* FNV-1a of the key */
};

static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Grows to cap n (a power of two >= 2 * count), moving every key. */
static int keyset_grow(struct pm_keyset *s, size_t n)
{
    struct pm_keyset_slot *t = calloc(n, sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].key)
            continue;
        size_t j = (size_t)s->slots[i].hash & (n - 1);
        while (t[j].key)
            j = (j + 1) & (n - 1);
        t[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = t;
    s->cap = n;
    return 0;
}

int pm_keyset_add(struct pm_keyset *s, const char *key, size_t len)
{
    if (2 * (s->count + 1) > s->cap && keyset_grow(s, s->cap ? 2 * s->cap : 16))
        return -1;
    uint64_t h = key_hash(key, len);
    size_t j = (size_t)h & (s->cap - 1);
    for (; s->slots[j].key; j = (j + 1) & (s->cap - 1))
        if (s->slots[j].hash == h && s->slots[j].len == len && !memcmp(s->slots[j].key, key, len))
            return 0;
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(copy, key, len);
    s->slots[j] = (struct pm_keyset_slot){.key = copy, .len = len, .hash = h};
    s->count++;
    return 1;
}

void pm_keyset_free(struct pm_keyset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].key);
    free(s->slots);
    *s = (struct pm_keyset){0};
}
