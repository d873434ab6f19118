/* workloads/objscript/objscript_parse.c — the parser of object scripts (the format
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
#include "objscript_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
