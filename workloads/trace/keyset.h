/* workloads/trace/keyset.h — a set of byte strings (open addressing, FNV-1a),
 * for duplicate checks that must stay linear in the input: the metadata keys
 * of the trace reader, the text parser and the writer (issue 19: 200k keys
 * took 290 s with a walk over every earlier key).
 *
 * Entry points: pm_keyset_add, pm_keyset_free. A zeroed struct is an empty
 * set. Keys are copied. Invariant: 2 * count <= cap (cap a power of two). */
#ifndef PM_KEYSET_H
#define PM_KEYSET_H

#include <stddef.h>
#include "pm_api.h"

PM_API_BEGIN

struct pm_keyset {
    struct pm_keyset_slot *slots;  /* cap entries, key NULL when empty */
    size_t count;                  /* keys held */
    size_t cap;                    /* slots, 0 or a power of two */
};

/* 1 if the key was added, 0 if it was already there, -1 out of memory
 * (errno ENOMEM, the set unchanged). */
int pm_keyset_add(struct pm_keyset *s, const char *key, size_t len);
void pm_keyset_free(struct pm_keyset *s);

PM_API_END
#endif
