/* workloads/objscript/objscript.c — parser and interpreter of object scripts (the format
 * is documented in docs/objscript.md; entry points in pm_objscript.h).
 *
 * A script is parsed once into an array of statements whose names are
 * resolved to slot numbers, so `repeat` loops of a million iterations run at
 * the speed of the object layer. The run keeps one strong reference per
 * bound name; finalizers and weakref callbacks of the script's classes are
 * the space's hooks, pointing back at the run.
 *
 * Messages are one line: a word of the script (and the file name) is quoted
 * in its escaped form (word_escape), so a newline or any other control byte
 * in a quoted word cannot split an error.
 *
 * Library code: never prints; tables in the C heap (see pm_objscript.h).
 */
#include "pm_objscript.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- tokens ---- */

struct tok {
    char *s;                        /* NUL-terminated copy */
    size_t n;
    bool quoted;
};

#define MAX_TOKS 256
#define SHOWN_LEN 80                /* a quoted word in a message: bytes, NUL included */
_Static_assert(SHOWN_LEN >= 4, "word_escape needs room for \"...\" and the NUL");

struct parser {
    struct pm_objscript *sc;
    int line;
    char *err;
    struct tok t[MAX_TOKS];
    int nt;
    char shown[SHOWN_LEN];          /* the word the next message quotes (tok_shown) */
};

/* One byte as messages show it, into e[4]; returns its length. */
static size_t byte_escape(char e[4], unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c == '\\' || c == '\n' || c == '\t' || c == '\r') {
        e[0] = '\\';
        e[1] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '\\';
        return 2;
    }
    if (c < 0x20 || c >= 0x7f) {
        e[0] = '\\';
        e[1] = 'x';
        e[2] = hex[c >> 4];
        e[3] = hex[c & 15];
        return 4;
    }
    e[0] = (char)c;
    return 1;
}

/* s[0..n) as a message shows it, in out[cap] (cap >= 4): the backslash as
 * \\, newline, tab and carriage return as \n \t \r, every other byte below
 * 0x20 and every byte from 0x7f up as \xNN. A form longer than cap - 1
 * bytes is cut after a whole escape and ends in "...". Returns out. */
static char *word_escape(char *out, size_t cap, const char *s, size_t n)
{
    char e[4];
    size_t full = 0, o = 0;
    for (size_t i = 0; i < n; i++)
        full += byte_escape(e, (unsigned char)s[i]);
    size_t room = full <= cap - 1 ? cap - 1 : cap - 4;   /* "..." and the NUL after a cut */
    for (size_t i = 0; i < n; i++) {
        size_t k = byte_escape(e, (unsigned char)s[i]);
        if (o + k > room)
            break;
        memcpy(out + o, e, k);
        o += k;
    }
    if (full > cap - 1) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
    return out;
}

/* A token as the parser's messages quote it (one per message). */
static const char *tok_shown(struct parser *p, const struct tok *t)
{
    return word_escape(p->shown, sizeof p->shown, t->s, t->n);
}

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
    char msg[PM_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, PM_ERR_LEN, "%.100s:%d: %.140s", p->sc->file, p->line, msg);
    return -1;
}

static void toks_free(struct parser *p)
{
    for (int i = 0; i < p->nt; i++)
        free(p->t[i].s);
    p->nt = 0;
}

static int tokenize(struct parser *p, const char *line, size_t len)
{
    size_t i = 0;
    p->nt = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= len || line[i] == '#')
            break;
        if (p->nt == MAX_TOKS)
            return perr(p, "more than %d words on a line", MAX_TOKS);
        char *buf = malloc(len - i + 1);
        if (!buf)
            return perr(p, "out of memory");
        size_t n = 0;
        bool quoted = line[i] == '"';
        if (quoted) {
            i++;
            for (;;) {
                if (i >= len) {
                    free(buf);
                    return perr(p, "unterminated string");
                }
                char c = line[i++];
                if (c == '"')
                    break;
                if (c == '\\' && i < len) {
                    char e = line[i++];
                    if (e != 'n' && e != 't' && e != '"' && e != '\\') {
                        free(buf);
                        if (e >= 0x21 && e < 0x7f)
                            return perr(p, "unknown escape '\\%c' in a string (known: \\\" \\\\ \\n \\t)", e);
                        return perr(p, "unknown escape '\\' + byte 0x%02x in a string (known: \\\" \\\\ \\n \\t)",
                                    (unsigned char)e);
                    }
                    c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
                }
                buf[n++] = c;
            }
            if (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '#') {
                free(buf);
                return perr(p, "text right after a closing quote");
            }
        } else {
            while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '#')
                buf[n++] = line[i++];
        }
        buf[n] = 0;
        p->t[p->nt++] = (struct tok){buf, n, quoted};
    }
    return 0;
}

static bool is_name(const struct tok *t)
{
    if (t->quoted || !t->n || !(isalpha((unsigned char)t->s[0]) || t->s[0] == '_'))
        return false;
    for (size_t i = 1; i < t->n; i++)
        if (!(isalnum((unsigned char)t->s[i]) || t->s[i] == '_'))
            return false;
    return true;
}

static bool tok_is(const struct tok *t, const char *w) { return !t->quoted && !strcmp(t->s, w); }

static const char *const kinds[] = {
    "none", "int", "float", "str", "istr", "bytes", "tuple", "list", "dict", "class", "new",
    "weakref", "getattr", "item", "deref", "objects", "garbage", NULL,
};

static bool is_keyword(const char *s)
{
    for (int i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i], s))
            return true;
    return false;
}

static int name_slot(struct parser *p, const char *s)
{
    struct pm_objscript *sc = p->sc;
    for (int i = 0; i < sc->nnames; i++)
        if (!strcmp(sc->names[i], s))
            return i;
    if (sc->nnames == sc->names_cap) {
        int cap = sc->names_cap ? 2 * sc->names_cap : 32;
        char **nn = realloc(sc->names, (size_t)cap * sizeof *nn);
        if (!nn)
            return perr(p, "out of memory");
        sc->names = nn;
        sc->names_cap = cap;
    }
    sc->names[sc->nnames] = strdup(s);
    if (!sc->names[sc->nnames])
        return perr(p, "out of memory");
    return sc->nnames++;
}

static bool parse_i64(const struct tok *t, int64_t *out)
{
    if (t->quoted || !t->n)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(t->s, &end, 10);
    if (errno || *end || !(isdigit((unsigned char)t->s[0]) || t->s[0] == '-'))
        return false;
    *out = v;
    return true;
}

static bool parse_f64(const struct tok *t, double *out)
{
    if (t->quoted || !t->n)
        return false;
    char *end;
    errno = 0;
    double v = strtod(t->s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int parse_value(struct parser *p, const struct tok *t, struct value *v)
{
    memset(v, 0, sizeof *v);
    if (t->quoted) {
        for (size_t i = 0; i < t->n; i++)
            if ((unsigned char)t->s[i] >= 0x80)
                return perr(p, "string \"%s\" is not ASCII", tok_shown(p, t));
        v->kind = V_STR;
        v->s = strdup(t->s);
        v->n = t->n;
        return v->s ? 0 : perr(p, "out of memory");
    }
    if (tok_is(t, "none")) {
        v->kind = V_NONE;
        return 0;
    }
    if (parse_i64(t, &v->i)) {
        v->kind = V_INT;
        return 0;
    }
    if ((isdigit((unsigned char)t->s[0]) || t->s[0] == '-' || t->s[0] == '.')
        && parse_f64(t, &v->f)) {
        v->kind = V_FLOAT;
        return 0;
    }
    if (is_name(t) && !is_keyword(t->s)) {
        v->kind = V_NAME;
        v->name = name_slot(p, t->s);
        return v->name < 0 ? -1 : 0;
    }
    return perr(p, "bad value '%s' (a name, none, a number or a \"string\")", tok_shown(p, t));
}

static struct stmt *stmt_new(struct parser *p, enum op op)
{
    struct pm_objscript *sc = p->sc;
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? 2 * sc->cap : 64;
        struct stmt *ns = realloc(sc->st, cap * sizeof *ns);
        if (!ns)
            return NULL;
        sc->st = ns;
        sc->cap = cap;
    }
    struct stmt *s = &sc->st[sc->n++];
    memset(s, 0, sizeof *s);
    s->line = p->line;
    s->op = op;
    s->target = -1;
    s->fin_list = -1;
    return s;
}

/* Parses tokens [from, to) as values into s->v. */
static int stmt_values(struct parser *p, struct stmt *s, int from, int to)
{
    s->nv = to - from;
    if (s->nv <= 0)
        return 0;
    s->v = calloc((size_t)s->nv, sizeof *s->v);
    if (!s->v)
        return perr(p, "out of memory");
    for (int i = 0; i < s->nv; i++)
        if (parse_value(p, &p->t[from + i], &s->v[i]) < 0)
            return -1;
    return 0;
}

static int want_args(struct parser *p, const char *what, int have, int lo, int hi)
{
    if (have < lo || have > hi) {
        if (lo == hi)
            return perr(p, "%s takes %d operand%s, not %d", what, lo, lo == 1 ? "" : "s", have);
        return perr(p, "%s takes %d to %d operands, not %d", what, lo, hi, have);
    }
    return 0;
}

static int want_attr(struct parser *p, const struct tok *t, char **out)
{
    if (!is_name(t))
        return perr(p, "bad attribute name '%s'", tok_shown(p, t));
    *out = strdup(t->s);
    return *out ? 0 : perr(p, "out of memory");
}

static int want_count(struct parser *p, const struct tok *t, int64_t lo, int64_t hi, int64_t *out)
{
    if (!parse_i64(t, out) || *out < lo || *out > hi)
        return perr(p, "bad number '%s' (expected %lld..%lld)", tok_shown(p, t), (long long)lo,
                    (long long)hi);
    return 0;
}

/* A generation word: 0 1 2, and for some uses `all` (-1), `permanent` (3). */
static int want_gen(struct parser *p, const struct tok *t, bool extended, int64_t *out)
{
    if (extended && tok_is(t, "all")) {
        *out = -1;
        return 0;
    }
    if (extended && tok_is(t, "permanent")) {
        *out = 3;
        return 0;
    }
    if (!parse_i64(t, out) || *out < 0 || *out > 2)
        return perr(p, "bad generation '%s' (0, 1, 2%s)", tok_shown(p, t),
                    extended ? ", all, permanent" : "");
    return 0;
}

static int parse_binding(struct parser *p)
{
    struct tok *t = p->t;
    if (!is_name(&t[0]) || is_keyword(t[0].s))
        return perr(p, "cannot bind '%s' (a name is letters, digits, _; not a kind word)",
                    tok_shown(p, &t[0]));
    int target = name_slot(p, t[0].s);
    if (target < 0)
        return -1;
    if (p->nt < 3)
        return perr(p, "nothing after '='");
    const char *k = t[2].quoted ? "" : t[2].s;
    int nargs = p->nt - 3;
    struct stmt *s;
#define NEW(op) do { s = stmt_new(p, op); if (!s) return perr(p, "out of memory"); s->target = target; } while (0)
    if (!strcmp(k, "int")) {
        if (nargs >= 1 && tok_is(&t[3], "bits")) {
            NEW(B_INT_BITS);
            if (want_args(p, "int bits", nargs - 1, 1, 2) < 0
                || want_count(p, &t[4], 0, 1 << 20, &s->n[0]) < 0)
                return -1;
            if (nargs == 3) {
                if (!tok_is(&t[5], "neg"))
                    return perr(p, "int bits N [neg]: '%s'", tok_shown(p, &t[5]));
                s->n[1] = 1;
            }
            return 0;
        }
        NEW(B_INT);
        if (want_args(p, "int", nargs, 1, 1) < 0)
            return -1;
        if (!parse_i64(&t[3], &s->n[0]))
            return perr(p, "bad int '%s'", tok_shown(p, &t[3]));
        return 0;
    }
    if (!strcmp(k, "float")) {
        NEW(B_FLOAT);
        double f;
        if (want_args(p, "float", nargs, 1, 1) < 0)
            return -1;
        if (!parse_f64(&t[3], &f))
            return perr(p, "bad float '%s'", tok_shown(p, &t[3]));
        s->v = calloc(1, sizeof *s->v);
        if (!s->v)
            return perr(p, "out of memory");
        s->nv = 1;
        s->v[0].kind = V_FLOAT;
        s->v[0].f = f;
        return 0;
    }
    if (!strcmp(k, "str") || !strcmp(k, "istr")) {
        NEW(!strcmp(k, "str") ? B_STR : B_ISTR);
        if (want_args(p, k, nargs, 1, 1) < 0)
            return -1;
        for (size_t i = 0; i < t[3].n; i++)
            if ((unsigned char)t[3].s[i] >= 0x80)
                return perr(p, "string \"%s\" is not ASCII", tok_shown(p, &t[3]));
        s->word = strdup(t[3].s);
        s->n[0] = (int64_t)t[3].n;
        return s->word ? 0 : perr(p, "out of memory");
    }
    if (!strcmp(k, "bytes")) {
        NEW(B_BYTES);
        return want_args(p, "bytes", nargs, 1, 1) < 0 ? -1
               : want_count(p, &t[3], 0, (int64_t)1 << 32, &s->n[0]);
    }
    if (!strcmp(k, "tuple") || !strcmp(k, "list")) {
        NEW(!strcmp(k, "tuple") ? B_TUPLE : B_LIST);
        return stmt_values(p, s, 3, p->nt);
    }
    if (!strcmp(k, "dict")) {
        NEW(B_DICT);
        if (nargs % 2)
            return perr(p, "dict takes key value pairs (%d operands)", nargs);
        return stmt_values(p, s, 3, p->nt);
    }
    if (!strcmp(k, "class")) {
        NEW(B_CLASS);
        if (nargs < 1)
            return perr(p, "class takes a name");
        if (want_attr(p, &t[3], &s->word) < 0)
            return -1;
        if (nargs >= 2) {
            if (!tok_is(&t[4], "slots"))
                return perr(p, "class NAME [slots NAME...]: '%s'", tok_shown(p, &t[4]));
            s->has_slots = true;
            s->nwords = nargs - 2;
            s->words = calloc((size_t)s->nwords + 1, sizeof *s->words);
            if (!s->words)
                return perr(p, "out of memory");
            for (int i = 0; i < s->nwords; i++)
                if (want_attr(p, &t[5 + i], &s->words[i]) < 0)
                    return -1;
        }
        return 0;
    }
    if (!strcmp(k, "new") || !strcmp(k, "deref")) {
        NEW(!strcmp(k, "new") ? B_NEW : B_DEREF);
        return want_args(p, k, nargs, 1, 1) < 0 ? -1 : stmt_values(p, s, 3, 4);
    }
    if (!strcmp(k, "weakref")) {
        NEW(B_WEAKREF);
        if (nargs == 3) {
            if (!tok_is(&t[4], "callback"))
                return perr(p, "weakref OBJ [callback CB]: '%s'", tok_shown(p, &t[4]));
            if (stmt_values(p, s, 3, 4) < 0)
                return -1;
            struct value *nv = realloc(s->v, 2 * sizeof *nv);
            if (!nv)
                return perr(p, "out of memory");
            s->v = nv;
            s->nv = 2;
            return parse_value(p, &t[5], &s->v[1]);
        }
        return want_args(p, "weakref", nargs, 1, 1) < 0 ? -1 : stmt_values(p, s, 3, 4);
    }
    if (!strcmp(k, "getattr")) {
        NEW(B_GETATTR);
        if (want_args(p, "getattr", nargs, 2, 2) < 0 || stmt_values(p, s, 3, 4) < 0)
            return -1;
        return want_attr(p, &t[4], &s->word);
    }
    if (!strcmp(k, "item")) {
        NEW(B_ITEM);
        return want_args(p, "item", nargs, 2, 2) < 0 ? -1 : stmt_values(p, s, 3, 5);
    }
    if (!strcmp(k, "objects")) {
        NEW(B_OBJECTS);
        return want_args(p, "objects", nargs, 1, 1) < 0 ? -1 : want_gen(p, &t[3], true, &s->n[0]);
    }
    if (!strcmp(k, "garbage")) {
        NEW(B_GARBAGE);
        return want_args(p, "garbage", nargs, 0, 0);
    }
    if (nargs == 0) {
        NEW(B_VALUE);
        return stmt_values(p, s, 2, 3);
    }
    return perr(p, "unknown kind '%s' (none int float str istr bytes tuple list dict class "
                   "new weakref getattr item deref objects garbage)", tok_shown(p, &t[2]));
#undef NEW
}

static const struct { const char *word; enum expect_kind kind; int shape; } expects[] = {
    /* shape 0: N; 1: VALUE; 2: GEN N; 3: VALUE N; 4: VALUE VALUE */
    {"collected", X_COLLECTED, 0}, {"uncollectable", X_UNCOLLECTABLE, 0},
    {"returned", X_RETURNED, 0}, {"garbage", X_GARBAGE, 0}, {"finalized", X_FINALIZED, 0},
    {"legacy", X_LEGACY, 0}, {"callbacks", X_CALLBACKS, 0}, {"inner", X_INNER, 0},
    {"alive_objects", X_ALIVE_OBJECTS, 0}, {"dead", X_DEAD, 1}, {"alive", X_ALIVE, 1},
    {"tracked", X_TRACKED, 1}, {"untracked", X_UNTRACKED, 1}, {"interned", X_INTERNED, 1},
    {"count", X_COUNT, 2}, {"objects", X_OBJECTS, 2}, {"collections", X_COLLECTIONS, 2},
    {"len", X_LEN, 3}, {"refcount", X_REFCOUNT, 3}, {"sizeof", X_SIZEOF, 3},
    {"same", X_SAME, 4},
};

static int parse_expect(struct parser *p)
{
    struct tok *t = p->t;
    if (p->nt < 2)
        return perr(p, "expect what?");
    for (size_t i = 0; i < sizeof expects / sizeof *expects; i++) {
        if (!tok_is(&t[1], expects[i].word))
            continue;
        struct stmt *s = stmt_new(p, S_EXPECT);
        if (!s)
            return perr(p, "out of memory");
        s->ex = expects[i].kind;
        s->word = strdup(expects[i].word);
        int nargs = p->nt - 2;
        switch (expects[i].shape) {
        case 0:
            if (want_args(p, t[1].s, nargs, 1, 1) < 0)
                return -1;
            return want_count(p, &t[2], -1, INT64_MAX, &s->n[0]);
        case 1:
            return want_args(p, t[1].s, nargs, 1, 1) < 0 ? -1 : stmt_values(p, s, 2, 3);
        case 2:
            if (want_args(p, t[1].s, nargs, 2, 2) < 0
                || want_gen(p, &t[2], s->ex == X_OBJECTS, &s->n[1]) < 0)
                return -1;
            return want_count(p, &t[3], 0, INT64_MAX, &s->n[0]);
        case 3:
            if (want_args(p, t[1].s, nargs, 2, 2) < 0 || stmt_values(p, s, 2, 3) < 0)
                return -1;
            return want_count(p, &t[3], 0, INT64_MAX, &s->n[0]);
        default:
            return want_args(p, t[1].s, nargs, 2, 2) < 0 ? -1 : stmt_values(p, s, 2, 4);
        }
    }
    return perr(p, "unknown expectation '%s'", tok_shown(p, &t[1]));
}

static int parse_statement(struct parser *p, int *repeat_stack, int *depth)
{
    struct tok *t = p->t;
    const char *k = t[0].quoted ? "" : t[0].s;
    int nargs = p->nt - 1;
    struct stmt *s;
#define NEW(op) do { s = stmt_new(p, op); if (!s) return perr(p, "out of memory"); } while (0)
    if (!strcmp(k, "append")) {
        NEW(S_APPEND);
        return want_args(p, k, nargs, 2, 2) < 0 ? -1 : stmt_values(p, s, 1, 3);
    }
    if (!strcmp(k, "insert") || !strcmp(k, "setitem")) {
        NEW(!strcmp(k, "insert") ? S_INSERT : S_SETITEM);
        return want_args(p, k, nargs, 3, 3) < 0 ? -1 : stmt_values(p, s, 1, 4);
    }
    if (!strcmp(k, "delitem")) {
        NEW(S_DELITEM);
        return want_args(p, k, nargs, 2, 2) < 0 ? -1 : stmt_values(p, s, 1, 3);
    }
    if (!strcmp(k, "clear")) {
        NEW(S_CLEAR);
        return want_args(p, k, nargs, 1, 1) < 0 ? -1 : stmt_values(p, s, 1, 2);
    }
    if (!strcmp(k, "setattr")) {
        NEW(S_SETATTR);
        if (want_args(p, k, nargs, 3, 3) < 0 || want_attr(p, &t[2], &s->word) < 0)
            return -1;
        if (stmt_values(p, s, 1, 2) < 0)
            return -1;
        struct value *nv = realloc(s->v, 2 * sizeof *nv);
        if (!nv)
            return perr(p, "out of memory");
        s->v = nv;
        s->nv = 2;
        return parse_value(p, &t[3], &s->v[1]);
    }
    if (!strcmp(k, "delattr")) {
        NEW(S_DELATTR);
        if (want_args(p, k, nargs, 2, 2) < 0 || stmt_values(p, s, 1, 2) < 0)
            return -1;
        return want_attr(p, &t[2], &s->word);
    }
    if (!strcmp(k, "del")) {
        NEW(S_DEL);
        if (nargs < 1)
            return perr(p, "del takes names");
        if (stmt_values(p, s, 1, p->nt) < 0)
            return -1;
        for (int i = 0; i < s->nv; i++)
            if (s->v[i].kind != V_NAME)
                return perr(p, "del takes names, not '%s'", tok_shown(p, &t[1 + i]));
        return 0;
    }
    if (!strcmp(k, "finalizer")) {
        NEW(S_FINALIZER);
        if (nargs < 2)
            return perr(p, "finalizer CLASS none|finalize|legacy|resurrect LIST|collect...");
        if (stmt_values(p, s, 1, 2) < 0)
            return -1;
        for (int i = 2; i < p->nt; i++) {
            if (tok_is(&t[i], "none"))
                continue;
            else if (tok_is(&t[i], "finalize"))
                s->fin |= FIN_FINALIZE;
            else if (tok_is(&t[i], "legacy"))
                s->fin |= FIN_LEGACY;
            else if (tok_is(&t[i], "collect"))
                s->fin |= FIN_COLLECT | FIN_FINALIZE;
            else if (tok_is(&t[i], "resurrect")) {
                if (i + 1 >= p->nt || !is_name(&t[i + 1]) || is_keyword(t[i + 1].s))
                    return perr(p, "resurrect takes the name of a list");
                s->fin |= FIN_RESURRECT | FIN_FINALIZE;
                s->fin_list = name_slot(p, t[++i].s);
                if (s->fin_list < 0)
                    return -1;
            } else
                return perr(p, "unknown finalizer mode '%s' (none finalize legacy resurrect "
                               "collect)", tok_shown(p, &t[i]));
        }
        return 0;
    }
    if (!strcmp(k, "collect")) {
        NEW(S_COLLECT);
        s->n[0] = 2;
        if (want_args(p, k, nargs, 0, 1) < 0)
            return -1;
        return nargs ? want_gen(p, &t[1], false, &s->n[0]) : 0;
    }
    if (!strcmp(k, "gc")) {
        if (nargs < 1)
            return perr(p, "gc enable|disable|freeze|unfreeze|threshold N [N [N]]");
        static const struct { const char *w; enum op op; } gcs[] = {
            {"enable", S_GC_ENABLE}, {"disable", S_GC_DISABLE}, {"freeze", S_GC_FREEZE},
            {"unfreeze", S_GC_UNFREEZE},
        };
        for (size_t i = 0; i < 4; i++)
            if (tok_is(&t[1], gcs[i].w)) {
                NEW(gcs[i].op);
                return want_args(p, t[1].s, nargs - 1, 0, 0);
            }
        if (tok_is(&t[1], "threshold")) {
            NEW(S_GC_THRESHOLD);
            if (want_args(p, "gc threshold", nargs - 1, 1, 3) < 0)
                return -1;
            s->nn = nargs - 1;
            for (int i = 0; i < s->nn; i++)
                if (want_count(p, &t[2 + i], 0, INT32_MAX, &s->n[i]) < 0)
                    return -1;
            return 0;
        }
        return perr(p, "unknown gc command '%s'", tok_shown(p, &t[1]));
    }
    if (!strcmp(k, "repeat")) {
        NEW(S_REPEAT);
        if (want_args(p, k, nargs, 1, 1) < 0
            || want_count(p, &t[1], 0, (int64_t)1 << 40, &s->n[0]) < 0)
            return -1;
        if (*depth == 16)
            return perr(p, "repeat nested deeper than 16");
        repeat_stack[(*depth)++] = (int)(p->sc->n - 1);
        return 0;
    }
    if (!strcmp(k, "end")) {
        if (want_args(p, k, nargs, 0, 0) < 0)
            return -1;
        if (*depth == 0)
            return perr(p, "end without repeat");
        NEW(S_END);
        int r = repeat_stack[--(*depth)];
        s->jump = r;
        p->sc->st[r].jump = (int)(p->sc->n - 1);
        return 0;
    }
    if (!strcmp(k, "expect"))
        return parse_expect(p);
#undef NEW
    return perr(p, "unknown statement '%s'", tok_shown(p, &t[0]));
}

static void stmt_free(struct stmt *s)
{
    for (int i = 0; i < s->nv; i++)
        free(s->v[i].s);
    free(s->v);
    free(s->word);
    for (int i = 0; i < s->nwords; i++)
        free(s->words[i]);
    free(s->words);
}

void pm_objscript_free(struct pm_objscript *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n; i++)
        stmt_free(&sc->st[i]);
    free(sc->st);
    for (int i = 0; i < sc->nnames; i++)
        free(sc->names[i]);
    free(sc->names);
    free(sc->file);
    free(sc);
}

size_t pm_objscript_length(const struct pm_objscript *sc) { return sc->n; }

struct pm_objscript *pm_objscript_parse(const char *text, size_t len, const char *filename,
                                        char err[PM_ERR_LEN])
{
    size_t flen = strlen(filename), fcap = 4 * flen + 1;   /* every byte escaped: no cut */
    struct pm_objscript *sc = calloc(1, sizeof *sc);
    char *file = malloc(fcap);
    if (!sc || !file) {
        char shown[SHOWN_LEN];
        snprintf(err, PM_ERR_LEN, "%s: out of memory",
                 word_escape(shown, sizeof shown, filename, flen));
        free(sc);
        free(file);
        return NULL;
    }
    sc->file = word_escape(file, fcap, filename, flen);
    struct parser p = {.sc = sc, .err = err};
    int repeat_stack[16], depth = 0, rc = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        p.line++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        if (n && text[pos + n - 1] == '\r')
            n--;
        if (memchr(text + pos, 0, n)) {
            rc = perr(&p, "NUL byte in the line");
            break;
        }
        rc = tokenize(&p, text + pos, n);
        if (rc == 0 && p.nt > 0)
            rc = p.nt >= 2 && tok_is(&p.t[1], "=") ? parse_binding(&p)
                                                   : parse_statement(&p, repeat_stack, &depth);
        toks_free(&p);
        pos = end + 1;
    }
    if (rc == 0 && depth > 0) {
        p.line = sc->st[repeat_stack[depth - 1]].line;
        rc = perr(&p, "repeat without end");
    }
    if (rc < 0) {
        pm_objscript_free(sc);
        return NULL;
    }
    return sc;
}

/* ---- running ---- */

struct fin_mode {
    const pm_object_t *cls;
    unsigned fin;
    int list;                       /* resurrection list slot */
};

struct pm_objscript_run {
    const struct pm_objscript *sc;
    pm_objspace_t *sp;
    struct pm_objscript_io io;
    pm_object_t **slot;             /* one strong reference per bound name */
    struct pm_objscript_stats st;
    struct fin_mode *modes;
    size_t nmodes, modes_cap;
    int64_t inner;                  /* the last collection run by a finalizer */
    char hook_err[PM_ERR_LEN];      /* a problem met inside a hook */
    const struct stmt *cur;
    char *err;
    bool finishing;                 /* pm_objscript_finish is dropping the names */
};

static int rerr(struct pm_objscript_run *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rerr(struct pm_objscript_run *r, int status, const char *fmt, ...)
{
    char msg[PM_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, PM_ERR_LEN, "%.100s:%d: %.140s", r->sc->file, r->cur ? r->cur->line : 0,
             msg);
    return status;
}

/* A failed call of the object layer: MemoryError fails the run, anything
 * else is a mistake in the script. */
static int space_err(struct pm_objscript_run *r, const char *what)
{
    const char *msg;
    enum pm_err_kind k = pm_objspace_error(r->sp, &msg);
    int status = k == PM_ERR_NOMEM ? PM_OBJSCRIPT_FAILED : PM_OBJSCRIPT_BAD;
    int rc = rerr(r, status, "%s: %s", what, *msg ? msg : "failed");
    pm_objspace_clear_error(r->sp);
    return rc;
}

static const struct fin_mode *mode_of(struct pm_objscript_run *r, const pm_object_t *cls)
{
    for (size_t i = 0; i < r->nmodes; i++)
        if (r->modes[i].cls == cls)
            return &r->modes[i];
    return NULL;
}

static void hook_finalize(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    struct pm_objscript_run *r = ctx;
    r->st.finalized++;
    const struct fin_mode *m = mode_of(r, pm_object_class(self));
    if (!m)
        return;
    if (m->fin & FIN_RESURRECT) {
        pm_object_t *l = r->slot[m->list];
        if (r->finishing) {
            /* finish has unbound every name, as CPython's shutdown clears the
             * modules' globals: the __del__'s NameError would be ignored
             * there; the object is not resurrected and goes */
        } else if (l && pm_object_kind(l) == PM_KIND_LIST) {
            if (pm_list_append(sp, l, self) < 0 && !r->hook_err[0])
                snprintf(r->hook_err, PM_ERR_LEN, "resurrecting in a finalizer: MemoryError");
        } else if (!r->hook_err[0]) {
            snprintf(r->hook_err, PM_ERR_LEN, "finalizer: '%s' is not a list",
                     r->sc->names[m->list]);
        }
    }
    if (m->fin & FIN_COLLECT)
        r->inner = pm_gc_collect(sp, 2);
    pm_objspace_clear_error(sp);
}

static void hook_legacy(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    (void)sp;
    (void)self;
    struct pm_objscript_run *r = ctx;
    r->st.legacy_dels++;
}

static void hook_callback(pm_objspace_t *sp, void *ctx, pm_object_t *cb, pm_object_t *wr)
{
    (void)cb;
    struct pm_objscript_run *r = ctx;
    r->st.callbacks++;
    if (pm_weakref_get(sp, wr) != pm_none(sp) && !r->hook_err[0])
        snprintf(r->hook_err, PM_ERR_LEN, "a weakref callback saw a live referent");
}

struct pm_objscript_run *pm_objscript_start(const struct pm_objscript *sc, pm_objspace_t *sp,
                                            const struct pm_objscript_io *io)
{
    struct pm_objscript_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->sc = sc;
    r->sp = sp;
    if (io)
        r->io = *io;
    r->slot = calloc((size_t)sc->nnames + 1, sizeof *r->slot);
    if (!r->slot) {
        free(r);
        return NULL;
    }
    struct pm_objspace_hooks hooks = {
        .ctx = r, .finalize = hook_finalize, .legacy_del = hook_legacy,
        .weakref_callback = hook_callback,
    };
    pm_objspace_set_hooks(sp, &hooks);
    return r;
}

const struct pm_objscript_stats *pm_objscript_stats(const struct pm_objscript_run *r)
{
    return &r->st;
}

static void bind(struct pm_objscript_run *r, int slot, pm_object_t *o)
{
    pm_object_t *old = r->slot[slot];
    r->slot[slot] = o;
    pm_xdecref(r->sp, old);
}

/* Evaluates an operand: a borrowed reference in *out; literals make a new
 * object, returned in *owned as well (drop it after use). */
static int eval(struct pm_objscript_run *r, const struct value *v, pm_object_t **out,
                pm_object_t **owned)
{
    pm_objspace_t *sp = r->sp;
    *owned = NULL;
    switch (v->kind) {
    case V_NAME:
        *out = r->slot[v->name];
        if (!*out)
            return rerr(r, PM_OBJSCRIPT_BAD, "name '%s' is not bound", r->sc->names[v->name]);
        return 0;
    case V_NONE:
        *out = pm_none(sp);
        return 0;
    case V_INT:
        *owned = pm_int_new(sp, v->i);
        break;
    case V_FLOAT:
        *owned = pm_float_new(sp, v->f);
        break;
    case V_STR: {
        /* as code constants: identifier-like strings are interned */
        bool ident = v->n > 0 && (isalpha((unsigned char)v->s[0]) || v->s[0] == '_');
        for (size_t i = 0; ident && i < v->n; i++)
            ident = isalnum((unsigned char)v->s[i]) || v->s[i] == '_';
        *owned = ident ? pm_str_new_interned(sp, v->s, v->n) : pm_str_new(sp, v->s, v->n);
        break;
    }
    }
    if (!*owned)
        return space_err(r, "literal");
    *out = *owned;
    return 0;
}

static const char *vname(const struct pm_objscript_run *r, const struct value *v)
{
    return v->kind == V_NAME ? r->sc->names[v->name] : "the value";
}

static int want_kind(struct pm_objscript_run *r, const struct value *v, pm_object_t *o,
                     enum pm_kind k, const char *what)
{
    if (pm_object_kind(o) != k)
        return rerr(r, PM_OBJSCRIPT_BAD, "%s is a %s, not a %s", vname(r, v),
                    pm_object_type_name(o), what);
    return 0;
}

static int index_of(struct pm_objscript_run *r, const struct value *v, pm_object_t *o,
                    int64_t *i)
{
    if (!pm_int_as_int64(o, i))
        return rerr(r, PM_OBJSCRIPT_BAD, "%s is not a small int index", vname(r, v));
    return 0;
}

static int set_mode(struct pm_objscript_run *r, pm_object_t *cls, const struct stmt *s)
{
    struct fin_mode *m = (struct fin_mode *)mode_of(r, cls);
    if (!m) {
        if (r->nmodes == r->modes_cap) {
            size_t cap = r->modes_cap ? 2 * r->modes_cap : 8;
            struct fin_mode *nm = realloc(r->modes, cap * sizeof *nm);
            if (!nm)
                return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
            r->modes = nm;
            r->modes_cap = cap;
        }
        m = &r->modes[r->nmodes++];
        m->cls = cls;
    }
    m->fin = s->fin;
    m->list = s->fin_list;
    if (pm_class_set_finalizers(cls, (s->fin & FIN_FINALIZE) != 0, (s->fin & FIN_LEGACY) != 0))
        return rerr(r, PM_OBJSCRIPT_BAD, "%s is not a user class", vname(r, &s->v[0]));
    return 0;
}

static int do_binding(struct pm_objscript_run *r, const struct stmt *s)
{
    pm_objspace_t *sp = r->sp;
    pm_object_t *o = NULL, *a = NULL, *b = NULL, *owned_a = NULL, *owned_b = NULL;
    int rc = 0;
    switch (s->op) {
    case B_VALUE:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        o = owned_a ? owned_a : pm_incref(a);
        owned_a = NULL;
        break;
    case B_INT: o = pm_int_new(sp, s->n[0]); break;
    case B_INT_BITS: o = pm_int_new_bits(sp, (unsigned)s->n[0], s->n[1] != 0); break;
    case B_FLOAT: o = pm_float_new(sp, s->v[0].f); break;
    case B_STR: o = pm_str_new(sp, s->word, (size_t)s->n[0]); break;
    case B_ISTR: o = pm_str_new_interned(sp, s->word, (size_t)s->n[0]); break;
    case B_BYTES: o = pm_bytes_new(sp, NULL, (size_t)s->n[0]); break;
    case B_TUPLE:
    case B_LIST:
    case B_DICT: {
        pm_object_t *items[128], *owned[128];
        pm_object_t **it = s->nv <= 128 ? items : malloc((size_t)s->nv * sizeof *it);
        pm_object_t **ow = s->nv <= 128 ? owned : calloc((size_t)s->nv, sizeof *ow);
        if (!it || !ow) {
            if (it != items)
                free(it);
            if (ow != owned)
                free(ow);
            return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
        }
        int k = 0;
        for (; k < s->nv && rc == 0; k++)
            rc = eval(r, &s->v[k], &it[k], &ow[k]);
        if (rc == 0) {
            if (s->op == B_TUPLE) {
                o = pm_tuple_new(sp, (size_t)s->nv, it);
            } else if (s->op == B_LIST) {
                o = pm_list_new(sp, (size_t)s->nv, it);
            } else {
                o = pm_dict_new(sp);
                for (int i = 0; o && i < s->nv; i += 2)
                    if (pm_dict_set(sp, o, it[i], it[i + 1]) < 0) {
                        pm_decref(sp, o);
                        o = NULL;
                    }
            }
            if (!o)
                rc = space_err(r, s->op == B_TUPLE ? "tuple" : s->op == B_LIST ? "list" : "dict");
        }
        for (int i = 0; i < k; i++)
            pm_xdecref(sp, ow[i]);
        if (it != items)
            free(it);
        if (ow != owned)
            free(ow);
        if (rc)
            return rc;
        break;
    }
    case B_CLASS:
        o = pm_class_new(sp, s->word, s->has_slots ? (size_t)s->nwords : 0,
                         s->has_slots ? (const char *const *)s->words : NULL);
        break;
    case B_NEW:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        o = pm_instance_new(sp, a);
        break;
    case B_WEAKREF:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        if (s->nv > 1 && (rc = eval(r, &s->v[1], &b, &owned_b))) {
            pm_xdecref(sp, owned_a);
            return rc;
        }
        o = pm_weakref_new(sp, a, b);
        break;
    case B_GETATTR:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        o = pm_getattr(sp, a, s->word);
        if (o)
            pm_incref(o);
        break;
    case B_ITEM:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        if ((rc = eval(r, &s->v[1], &b, &owned_b))) {
            pm_xdecref(sp, owned_a);
            return rc;
        }
        if (pm_object_kind(a) == PM_KIND_DICT) {
            o = pm_dict_get(sp, a, b);
            if (!o && pm_objspace_error(sp, NULL) == PM_ERR_NONE)
                rc = rerr(r, PM_OBJSCRIPT_BAD, "key not in %s", vname(r, &s->v[0]));
        } else {
            int64_t i;
            enum pm_kind k = pm_object_kind(a);
            size_t n = k == PM_KIND_LIST ? pm_list_size(a) : k == PM_KIND_TUPLE ? pm_tuple_size(a) : 0;
            if (k != PM_KIND_LIST && k != PM_KIND_TUPLE)
                rc = rerr(r, PM_OBJSCRIPT_BAD, "%s is a %s: no items", vname(r, &s->v[0]),
                          pm_object_type_name(a));
            else if ((rc = index_of(r, &s->v[1], b, &i)) == 0) {
                if (i < 0)
                    i += (int64_t)n;
                if (i < 0 || (size_t)i >= n)
                    rc = rerr(r, PM_OBJSCRIPT_BAD, "index out of range");
                else
                    o = k == PM_KIND_LIST ? pm_list_get(a, (size_t)i) : pm_tuple_get(a, (size_t)i);
            }
        }
        if (o)
            pm_incref(o);
        break;
    case B_DEREF:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        if ((rc = want_kind(r, &s->v[0], a, PM_KIND_WEAKREF, "weakref")) == 0)
            o = pm_incref(pm_weakref_get(sp, a));
        break;
    case B_OBJECTS:
        o = pm_gc_get_objects(sp, (int)s->n[0]);
        break;
    case B_GARBAGE:
        o = pm_incref(pm_gc_garbage(sp));
        break;
    default:
        break;
    }
    pm_xdecref(sp, owned_a);
    pm_xdecref(sp, owned_b);
    if (rc)
        return rc;
    if (!o) {
        static const char *const what[] = {
            [B_VALUE] = "value", [B_INT] = "int", [B_INT_BITS] = "int", [B_FLOAT] = "float",
            [B_STR] = "str", [B_ISTR] = "istr", [B_BYTES] = "bytes", [B_TUPLE] = "tuple",
            [B_LIST] = "list", [B_DICT] = "dict", [B_CLASS] = "class", [B_NEW] = "new",
            [B_WEAKREF] = "weakref", [B_GETATTR] = "getattr", [B_ITEM] = "item",
            [B_DEREF] = "deref", [B_OBJECTS] = "objects", [B_GARBAGE] = "garbage",
        };
        return space_err(r, what[s->op]);
    }
    bind(r, s->target, o);
    return 0;
}

static int64_t expect_actual(struct pm_objscript_run *r, const struct stmt *s, pm_object_t *a,
                             pm_object_t *b, int *rc)
{
    pm_objspace_t *sp = r->sp;
    int64_t c[3];
    struct pm_gc_gen_stats gs[3];
    struct pm_objspace_stats os;
    switch (s->ex) {
    case X_COLLECTED: return r->st.last_collected;
    case X_UNCOLLECTABLE: return r->st.last_uncollectable;
    case X_RETURNED: return r->st.last_returned;
    case X_GARBAGE: return (int64_t)pm_list_size(pm_gc_garbage(sp));
    case X_FINALIZED: return (int64_t)r->st.finalized;
    case X_LEGACY: return (int64_t)r->st.legacy_dels;
    case X_CALLBACKS: return (int64_t)r->st.callbacks;
    case X_INNER: return r->inner;
    case X_ALIVE_OBJECTS:
        pm_objspace_stats(sp, &os);
        return (int64_t)os.objects_alive;
    case X_COUNT:
        pm_gc_get_count(sp, c);
        return c[s->n[1]];
    case X_OBJECTS: return (int64_t)pm_gc_count_objects(sp, (int)s->n[1]);
    case X_COLLECTIONS:
        pm_gc_get_stats(sp, gs);
        return (int64_t)gs[s->n[1]].collections;
    case X_LEN:
        switch (pm_object_kind(a)) {
        case PM_KIND_LIST: return (int64_t)pm_list_size(a);
        case PM_KIND_TUPLE: return (int64_t)pm_tuple_size(a);
        case PM_KIND_DICT: return (int64_t)pm_dict_size(a);
        case PM_KIND_STR: { size_t n; pm_str_data(a, &n); return (int64_t)n; }
        default:
            *rc = rerr(r, PM_OBJSCRIPT_BAD, "%s (a %s) has no len", vname(r, &s->v[0]),
                       pm_object_type_name(a));
            return 0;
        }
    case X_REFCOUNT: return (int64_t)a->refcnt;
    case X_SIZEOF: return (int64_t)pm_object_sizeof(a);
    default:
        (void)b;
        return 0;
    }
}

static int do_expect(struct pm_objscript_run *r, const struct stmt *s)
{
    pm_objspace_t *sp = r->sp;
    pm_object_t *a = NULL, *b = NULL, *oa = NULL, *ob = NULL;
    int rc = 0;
    if (s->nv >= 1 && (rc = eval(r, &s->v[0], &a, &oa)))
        return rc;
    if (s->nv >= 2 && (rc = eval(r, &s->v[1], &b, &ob))) {
        pm_xdecref(sp, oa);
        return rc;
    }
    bool ok = true;
    char got[96] = "";
    switch (s->ex) {
    case X_DEAD:
    case X_ALIVE:
        if ((rc = want_kind(r, &s->v[0], a, PM_KIND_WEAKREF, "weakref")))
            break;
        ok = (pm_weakref_get(sp, a) == pm_none(sp)) == (s->ex == X_DEAD);
        snprintf(got, sizeof got, "its referent is %s",
                 pm_weakref_get(sp, a) == pm_none(sp) ? "dead" : "alive");
        break;
    case X_TRACKED:
    case X_UNTRACKED:
        ok = pm_gc_is_tracked(a) == (s->ex == X_TRACKED);
        snprintf(got, sizeof got, "it is %stracked", pm_gc_is_tracked(a) ? "" : "un");
        break;
    case X_INTERNED:
        ok = pm_object_kind(a) == PM_KIND_STR && pm_str_is_interned(a);
        snprintf(got, sizeof got, "it is not an interned str");
        break;
    case X_SAME:
        ok = a == b;
        snprintf(got, sizeof got, "they are different objects");
        break;
    default: {
        int64_t v = expect_actual(r, s, a, b, &rc);
        ok = v == s->n[0];
        snprintf(got, sizeof got, "got %lld", (long long)v);
        break;
    }
    }
    pm_xdecref(sp, oa);
    pm_xdecref(sp, ob);
    if (rc)
        return rc;
    if (!ok) {
        char what[120];
        if (s->nv == 0 && s->ex != X_COUNT && s->ex != X_OBJECTS && s->ex != X_COLLECTIONS)
            snprintf(what, sizeof what, "expect %s %lld", s->word, (long long)s->n[0]);
        else if (s->ex == X_COUNT || s->ex == X_OBJECTS || s->ex == X_COLLECTIONS)
            snprintf(what, sizeof what, "expect %s %lld %lld", s->word, (long long)s->n[1],
                     (long long)s->n[0]);
        else if (s->ex == X_LEN || s->ex == X_REFCOUNT || s->ex == X_SIZEOF)
            snprintf(what, sizeof what, "expect %s %s %lld", s->word, vname(r, &s->v[0]),
                     (long long)s->n[0]);
        else if (s->ex == X_SAME)
            snprintf(what, sizeof what, "expect same %s %s", vname(r, &s->v[0]),
                     vname(r, &s->v[1]));
        else
            snprintf(what, sizeof what, "expect %s %s", s->word, vname(r, &s->v[0]));
        return rerr(r, PM_OBJSCRIPT_FAILED, "%s: %s", what, got);
    }
    return 0;
}

static int do_statement(struct pm_objscript_run *r, const struct stmt *s)
{
    pm_objspace_t *sp = r->sp;
    pm_object_t *a = NULL, *b = NULL, *c = NULL, *oa = NULL, *ob = NULL, *oc = NULL;
    int rc = 0, lrc = 0;
    int64_t i;
    if (s->op == S_DEL) {
        for (int k = 0; k < s->nv; k++) {
            int slot = s->v[k].name;
            if (!r->slot[slot])
                return rerr(r, PM_OBJSCRIPT_BAD, "name '%s' is not bound", r->sc->names[slot]);
            pm_object_t *o = r->slot[slot];
            r->slot[slot] = NULL;
            pm_decref(sp, o);
        }
        return 0;
    }
    if (s->nv >= 1 && (rc = eval(r, &s->v[0], &a, &oa)))
        return rc;
    if (s->nv >= 2 && (rc = eval(r, &s->v[1], &b, &ob)))
        goto out;
    if (s->nv >= 3 && (rc = eval(r, &s->v[2], &c, &oc)))
        goto out;
    switch (s->op) {
    case S_APPEND:
        if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list")))
            lrc = pm_list_append(sp, a, b);
        break;
    case S_INSERT:
        if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list"))
            && !(rc = index_of(r, &s->v[1], b, &i)))
            lrc = pm_list_insert(sp, a, i, c);
        break;
    case S_SETITEM:
        if (pm_object_kind(a) == PM_KIND_DICT)
            lrc = pm_dict_set(sp, a, b, c);
        else if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list or dict"))
                 && !(rc = index_of(r, &s->v[1], b, &i)))
            lrc = pm_list_set(sp, a, i, c);
        break;
    case S_DELITEM:
        if (pm_object_kind(a) == PM_KIND_DICT)
            lrc = pm_dict_delete(sp, a, b);
        else if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list or dict"))
                 && !(rc = index_of(r, &s->v[1], b, &i)))
            lrc = pm_list_delete(sp, a, i);
        break;
    case S_CLEAR:
        if (pm_object_kind(a) == PM_KIND_DICT)
            lrc = pm_dict_clear(sp, a);
        else if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list or dict")))
            lrc = pm_list_clear(sp, a);
        break;
    case S_SETATTR:
        lrc = pm_setattr(sp, a, s->word, b);
        break;
    case S_DELATTR:
        lrc = pm_delattr(sp, a, s->word);
        break;
    case S_FINALIZER:
        if (pm_object_kind(a) != PM_KIND_CLASS)
            rc = rerr(r, PM_OBJSCRIPT_BAD, "%s is not a class", vname(r, &s->v[0]));
        else
            rc = set_mode(r, a, s);
        break;
    default:
        break;
    }
    if (!rc && lrc < 0) {
        static const char *const what[] = {
            [S_APPEND] = "append", [S_INSERT] = "insert", [S_SETITEM] = "setitem",
            [S_DELITEM] = "delitem", [S_CLEAR] = "clear", [S_SETATTR] = "setattr",
            [S_DELATTR] = "delattr",
        };
        rc = space_err(r, s->op <= S_DELATTR && what[s->op] ? what[s->op] : "statement");
    }
out:
    pm_xdecref(sp, oa);
    pm_xdecref(sp, ob);
    pm_xdecref(sp, oc);
    return rc;
}

int pm_objscript_exec(struct pm_objscript_run *r, char err[PM_ERR_LEN])
{
    const struct pm_objscript *sc = r->sc;
    pm_objspace_t *sp = r->sp;
    r->err = err;
    err[0] = 0;
    int64_t left[16];
    int depth = 0, rc = 0;
    uint64_t every = r->io.sample_every ? r->io.sample_every : 1000;
    for (size_t pc = 0; pc < sc->n && rc == 0; pc++) {
        const struct stmt *s = &sc->st[pc];
        r->cur = s;
        r->st.statements++;
        if (r->io.sample && r->st.statements % every == 0)
            r->io.sample(r->io.ctx);
        switch (s->op) {
        case S_REPEAT:
            if (s->n[0] == 0) {
                pc = (size_t)s->jump;
            } else {
                left[depth++] = s->n[0];
            }
            continue;
        case S_END:
            if (--left[depth - 1] > 0)
                pc = (size_t)s->jump;
            else
                depth--;
            continue;
        case S_COLLECT: {
            struct pm_gc_gen_stats a[3], b[3];
            pm_gc_get_stats(sp, a);
            int64_t ret = pm_gc_collect(sp, (int)s->n[0]);
            pm_gc_get_stats(sp, b);
            int g = (int)s->n[0];
            r->st.collects++;
            r->st.last_returned = ret;
            r->st.last_collected = (int64_t)(b[g].collected - a[g].collected);
            r->st.last_uncollectable = (int64_t)(b[g].uncollectable - a[g].uncollectable);
            if (r->io.on_collect)
                r->io.on_collect(r->io.ctx, s->line, g, ret, r->st.last_collected,
                                 r->st.last_uncollectable);
            if (r->io.sample)
                r->io.sample(r->io.ctx);
            break;
        }
        case S_GC_ENABLE: pm_gc_enable(sp); break;
        case S_GC_DISABLE: pm_gc_disable(sp); break;
        case S_GC_FREEZE: pm_gc_freeze(sp); break;
        case S_GC_UNFREEZE: pm_gc_unfreeze(sp); break;
        case S_GC_THRESHOLD: {
            int64_t t[3];
            pm_gc_get_threshold(sp, t);
            for (int k = 0; k < s->nn; k++)
                t[k] = s->n[k];
            pm_gc_set_threshold(sp, t[0], t[1], t[2]);
            break;
        }
        case S_EXPECT:
            rc = do_expect(r, s);
            break;
        default:
            rc = s->target >= 0 ? do_binding(r, s) : do_statement(r, s);
            break;
        }
        if (!rc && r->hook_err[0])
            rc = rerr(r, PM_OBJSCRIPT_FAILED, "%s", r->hook_err);
    }
    if (r->io.sample)
        r->io.sample(r->io.ctx);
    return rc;
}

/* ---- the end of a run: invariants, then everything must go ---- */

struct name_count {
    const pm_object_t **keys;
    int64_t *counts;
    size_t mask;
};

static size_t nc_slot(const struct name_count *m, const pm_object_t *o)
{
    size_t i = (size_t)(((uintptr_t)o >> 4) * 0x9E3779B97F4A7C15u) & m->mask;
    while (m->keys[i] && m->keys[i] != o)
        i = (i + 1) & m->mask;
    return i;
}

struct ext_check {
    struct name_count *m;
    pm_object_t *garbage;
    unsigned long bad;
    char msg[PM_ERR_LEN];
};

static void ext_visit(void *ctx, pm_object_t *o, int64_t external)
{
    struct ext_check *c = ctx;
    size_t i = nc_slot(c->m, o);
    int64_t names = c->m->keys[i] ? c->m->counts[i] : 0;
    if (o == c->garbage)
        names++;                    /* the space's own reference */
    if (external != names && c->bad++ == 0)
        snprintf(c->msg, sizeof c->msg,
                 "refcount invariant: a tracked %s has %lld references from outside the "
                 "tracked objects but %lld name%s bound to it", pm_object_type_name(o),
                 (long long)external, (long long)names, names == 1 ? "" : "s");
}

static void collect_class(void *ctx, pm_object_t *o)
{
    struct { pm_object_t **v; size_t n, cap; } *cl = ctx;
    if (pm_object_kind(o) != PM_KIND_CLASS)
        return;
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? 2 * cl->cap : 16;
        pm_object_t **nv = realloc(cl->v, cap * sizeof *nv);
        if (!nv)
            return;
        cl->v = nv;
        cl->cap = cap;
    }
    cl->v[cl->n++] = o;
}

int pm_objscript_finish(struct pm_objscript_run *r, char err[PM_ERR_LEN])
{
    pm_objspace_t *sp = r->sp;
    r->err = err;
    r->cur = NULL;
    err[0] = 0;
    /* 1. each tracked object: outside references == names bound to it */
    int nn = r->sc->nnames;
    size_t cap = 16;
    while (cap < 2 * (size_t)nn + 2)
        cap *= 2;
    struct name_count m = {calloc(cap, sizeof *m.keys), calloc(cap, sizeof *m.counts), cap - 1};
    if (!m.keys || !m.counts) {
        free(m.keys);
        free(m.counts);
        return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
    }
    for (int i = 0; i < nn; i++)
        if (r->slot[i]) {
            size_t k = nc_slot(&m, r->slot[i]);
            m.keys[k] = r->slot[i];
            m.counts[k]++;
        }
    struct ext_check c = {.m = &m, .garbage = pm_gc_garbage(sp)};
    char msg[PM_ERR_LEN];
    unsigned long bad = pm_gc_external_refs(sp, ext_visit, &c, msg);
    free(m.keys);
    free(m.counts);
    if (bad)
        return rerr(r, PM_OBJSCRIPT_FAILED, "consistency: %s", msg);
    if (c.bad)
        return rerr(r, PM_OBJSCRIPT_FAILED, "%s", c.msg);
    /* 2. drop every name; what is left must be collectable. Every name is
     * unbound first, then the references go: finalizers and weakref callbacks
     * still run as objects die, as at CPython's shutdown, but find no name
     * bound, whatever the order of the names (a resurrecting finalizer
     * resurrects nothing: hook_finalize). The finalizers are removed only
     * before the collections below, so that legacy tp_del cannot keep
     * anything alive for ever. */
    pm_object_t **held = r->slot;
    r->slot = calloc((size_t)nn + 1, sizeof *r->slot);
    if (!r->slot) {
        r->slot = held;
        return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
    }
    r->finishing = true;
    for (int i = 0; i < nn; i++)
        pm_xdecref(sp, held[i]);
    free(held);
    pm_gc_unfreeze(sp);
    for (int round = 0; round < 100; round++) {
        pm_list_clear(sp, pm_gc_garbage(sp));
        struct { pm_object_t **v; size_t n, cap; } classes = {0};
        pm_gc_foreach(sp, -1, collect_class, &classes);
        for (size_t i = 0; i < classes.n; i++)
            pm_class_set_finalizers(classes.v[i], false, false);
        free(classes.v);
        if (pm_gc_collect(sp, 2) == 0 && pm_list_size(pm_gc_garbage(sp)) == 0)
            break;
    }
    if (pm_objspace_check(sp, msg))
        return rerr(r, PM_OBJSCRIPT_FAILED, "consistency after the script: %s", msg);
    struct pm_objspace_stats os;
    pm_objspace_stats(sp, &os);
    if (os.objects_alive)
        return rerr(r, PM_OBJSCRIPT_FAILED, "%llu object(s) still alive after dropping every "
                                           "name and collecting (a leak)",
                    (unsigned long long)os.objects_alive);
    if (r->hook_err[0])
        return rerr(r, PM_OBJSCRIPT_FAILED, "%s", r->hook_err);
    return 0;
}

void pm_objscript_end(struct pm_objscript_run *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->sc->nnames; i++)
        pm_xdecref(r->sp, r->slot[i]);
    pm_objspace_set_hooks(r->sp, NULL);
    free(r->slot);
    free(r->modes);
    free(r);
}
