/* workloads/objscript/objscript_internal.h — what the parser
 * (objscript_parse.c) hands the runner (objscript_run.c): a script parsed
 * into an array of statements whose names are resolved to slot numbers.
 * Private to workloads/objscript/.
 */
#ifndef PM_OBJSCRIPT_INTERNAL_H
#define PM_OBJSCRIPT_INTERNAL_H

#include "pm_objscript.h"

/* ---- statements ---- */

enum vkind { V_NAME, V_NONE, V_INT, V_FLOAT, V_STR };

struct value {
    enum vkind kind;
    int name;                       /* V_NAME: slot */
    int64_t i;                      /* V_INT */
    double f;                       /* V_FLOAT */
    char *s;                        /* V_STR (NUL-terminated) */
    size_t n;                       /* V_STR length */
};

enum op {
    /* NAME = ... */
    B_VALUE, B_INT, B_INT_BITS, B_FLOAT, B_STR, B_ISTR, B_BYTES, B_TUPLE, B_LIST, B_DICT,
    B_CLASS, B_NEW, B_WEAKREF, B_GETATTR, B_ITEM, B_DEREF, B_OBJECTS, B_GARBAGE,
    /* statements */
    S_APPEND, S_INSERT, S_SETITEM, S_DELITEM, S_CLEAR, S_SETATTR, S_DELATTR, S_DEL,
    S_FINALIZER, S_COLLECT, S_GC_ENABLE, S_GC_DISABLE, S_GC_FREEZE, S_GC_UNFREEZE,
    S_GC_THRESHOLD, S_REPEAT, S_END, S_EXPECT,
};

enum expect_kind {
    X_COLLECTED, X_UNCOLLECTABLE, X_RETURNED, X_GARBAGE, X_FINALIZED, X_LEGACY, X_CALLBACKS,
    X_INNER, X_ALIVE_OBJECTS, X_DEAD, X_ALIVE, X_TRACKED, X_UNTRACKED, X_INTERNED, X_COUNT,
    X_OBJECTS, X_COLLECTIONS, X_LEN, X_REFCOUNT, X_SIZEOF, X_SAME,
};

#define FIN_FINALIZE 1u
#define FIN_LEGACY 2u
#define FIN_RESURRECT 4u
#define FIN_COLLECT 8u

struct stmt {
    int line;
    enum op op;
    int target;                     /* slot bound by `NAME = ...`, else -1 */
    struct value *v;                /* operands */
    int nv;
    char *word;                     /* attribute or class name */
    char **words;                   /* class slots */
    int nwords;
    bool has_slots;
    int64_t n[3];                   /* numbers: generation, counts, expected value */
    int nn;
    int jump;                       /* repeat <-> end */
    enum expect_kind ex;
    unsigned fin;                   /* FIN_* */
    int fin_list;                   /* slot of the resurrection list */
};

struct pm_objscript {
    char *file;                     /* the file name for messages, escaped (word_escape) */
    struct stmt *st;
    size_t n, cap;
    char **names;
    int nnames, names_cap;
};

#endif
