/* workloads/python/compiler.c — `compiler`: tokenise, parse, analyse and
 * compile modules, as a type checker or compileall over a code base (mypy,
 * pylint, black, py_compile).
 *
 * Per module: the tokenizer produces a list of 5-tuples (type, string,
 * (row, col), (row, col), line) as tokenize.generate_tokens, with one line
 * str shared by the tokens of its line; a recursive-descent parser (depth
 * bounded by the generator's constants) reads the tokens back and builds an
 * AST: expression nodes (Name, Constant, BinOp, Call) are instances of
 * __slots__ classes, statement nodes (FunctionDef, Assign, Return, Expr,
 * Module) instances with a __dict__, as ast nodes; identifiers are interned.
 * The tokens are dropped; a semantic pass makes one Scope per function
 * (__slots__, with a parent back-link: cyclic garbage once the module is
 * done) and enters every module-level name and every function into the
 * symbol table, a dict living across modules (qualified name -> (kind,
 * lineno, module)); a compile pass makes one code tuple per function (bytes
 * code, consts, names). Then AST, scopes and code are dropped.
 *
 * Phases: "initial" (every module once: the symbol table grows), then
 * "incremental" (random modules re-checked: their old symbols are deleted
 * and new ones entered; the table stays about the same size).
 * Scale 1: 250 modules (median 120 statements) and 250 re-checks.
 */
#include "pywl_impl.h"

#include <stdio.h>
#include <string.h>

enum { TK_NAME = 1, TK_NUMBER = 2, TK_STRING = 3, TK_NEWLINE = 4, TK_INDENT = 5,
       TK_DEDENT = 6, TK_OP = 54 };

#define CP_LINE_MAX 1024            /* tokens in one logical line */
#define CP_MAX_DEF 3                /* def nesting the generator makes */
#define CP_MAX_CALL 2               /* call nesting in expressions */
#define CP_PARSE_DEPTH 8            /* the parser refuses deeper nesting */
#define CP_VOCAB 2000               /* distinct identifiers */
#define CP_QUAL 256                 /* bytes of a qualified name */

struct cp_tok {
    const char *s;                  /* text (not NUL-terminated) */
    uint16_t len;
    uint8_t type;
};

struct cp {
    struct pywl_w w;
    /* classes */
    pm_object_t *c_name, *c_const, *c_binop, *c_call;       /* __slots__ */
    pm_object_t *c_module, *c_funcdef, *c_assign, *c_return, *c_expr;  /* __dict__ */
    pm_object_t *c_scope;
    pm_object_t *load, *store;      /* ctx singletons (instances) */
    pm_object_t *k_def, *k_var;     /* symbol kinds (interned) */
    /* long-lived */
    pm_object_t *symtab;            /* qualified name -> (kind, lineno, module) */
    pm_object_t *modules;           /* module name -> {qualified name: None} */
    /* the module being compiled */
    pm_object_t *tokens, *lines;
    int64_t row;
    struct cp_tok line[CP_LINE_MAX];
    size_t nline;
    size_t pos;                     /* parser cursor in tokens */
};

static const char cp_digits[] = "31415926535897932384626433832795";

/* ---- the tokenizer ---- */

static struct cp_tok cp_ident(struct cp *c)
{
    static const uint16_t lens[] = {4, 5, 7, 8, 9, 10, 11};   /* never "def" or "return" */
    uint64_t k = w_zipf(&c->w, CP_VOCAB);
    return (struct cp_tok){c->w.text + (k * 31) % (PYWL_TEXT - 16), lens[k % 7], TK_NAME};
}

static void cp_push(struct cp *c, uint8_t type, const char *s, size_t len)
{
    if (c->nline < CP_LINE_MAX)
        c->line[c->nline++] = (struct cp_tok){s, (uint16_t)len, type};
}

static void cp_push_op(struct cp *c, const char *op) { cp_push(c, TK_OP, op, strlen(op)); }

static void cp_gen_expr(struct cp *c, int cd);

static void cp_gen_atom(struct cp *c, int cd)
{
    struct pywl_w *w = &c->w;
    uint64_t r = w_below(w, 100);
    if (r < 20 && cd < CP_MAX_CALL && c->nline + 700 < CP_LINE_MAX) {
        struct cp_tok f = cp_ident(c);
        cp_push(c, f.type, f.s, f.len);
        cp_push_op(c, "(");
        uint64_t n = w_below(w, 4);
        for (uint64_t i = 0; i < n; i++) {
            if (i)
                cp_push_op(c, ",");
            cp_gen_expr(c, cd + 1);
        }
        cp_push_op(c, ")");
    } else if (r < 70) {
        struct cp_tok t = cp_ident(c);
        cp_push(c, t.type, t.s, t.len);
    } else if (r < 90) {
        size_t len = 1 + w_below(w, 6);
        cp_push(c, TK_NUMBER, cp_digits + w_below(w, sizeof cp_digits - 1 - len), len);
    } else {
        size_t len = 2 + (size_t)w_lognormal(w, 12, 0.8, 200);
        cp_push(c, TK_STRING, w->text + w_below(w, PYWL_TEXT - len), len);
    }
}

static void cp_gen_expr(struct cp *c, int cd)
{
    static const char *const ops[] = {"+", "-", "*", "/", "%"};
    cp_gen_atom(c, cd);
    uint64_t n = w_below(&c->w, 3);
    for (uint64_t i = 0; i < n; i++) {
        cp_push_op(c, ops[w_below(&c->w, 5)]);
        cp_gen_atom(c, cd);
    }
}

/* Emits the buffered line as token tuples sharing one line str, then NEWLINE. */
static void cp_flush_line(struct cp *c, size_t indent)
{
    struct pywl_w *w = &c->w;
    size_t len = 4 * indent;
    for (size_t i = 0; i < c->nline; i++)
        len += c->line[i].len + 1;
    pm_object_t *line = w_text(w, len);
    w_append(w, c->lines, line);
    c->row++;
    size_t col = 4 * indent;
    for (size_t i = 0; i <= c->nline; i++) {
        struct cp_tok t = i < c->nline ? c->line[i] : (struct cp_tok){"\n", 1, TK_NEWLINE};
        pm_object_t *it[5] = {
            w_int(w, t.type), w_str(w, t.s, t.len),
            w_tuple2(w, w_int(w, c->row), w_int(w, (int64_t)col)),
            w_tuple2(w, w_int(w, c->row), w_int(w, (int64_t)(col + t.len))),
            w_ref(line),
        };
        w_append_steal(w, c->tokens, w_tuple_steal(w, 5, it));
        col += t.len + 1;
    }
    w_drop(w, line);
    c->nline = 0;
}

static void cp_token(struct cp *c, uint8_t type, const char *s)
{
    struct pywl_w *w = &c->w;
    pm_object_t *it[5] = {
        w_int(w, type), w_cstr(w, s), w_tuple2(w, w_int(w, c->row), w_int(w, 0)),
        w_tuple2(w, w_int(w, c->row), w_int(w, (int64_t)strlen(s))), w_cstr(w, ""),
    };
    w_append_steal(w, c->tokens, w_tuple_steal(w, 5, it));
}

static void cp_gen_stmt(struct cp *c, int depth)
{
    struct pywl_w *w = &c->w;
    uint64_t r = w_below(w, 100);
    if (r < 12 && depth < CP_MAX_DEF) {
        cp_push(c, TK_NAME, "def", 3);
        struct cp_tok f = cp_ident(c);
        cp_push(c, f.type, f.s, f.len);
        cp_push_op(c, "(");
        uint64_t n = w_below(w, 4);
        for (uint64_t i = 0; i < n; i++) {
            if (i)
                cp_push_op(c, ",");
            struct cp_tok a = cp_ident(c);
            cp_push(c, a.type, a.s, a.len);
        }
        cp_push_op(c, ")");
        cp_push_op(c, ":");
        cp_flush_line(c, (size_t)depth);
        cp_token(c, TK_INDENT, "    ");
        uint64_t body = 2 + w_below(w, 7);
        for (uint64_t i = 0; i < body && !w->failed; i++)
            cp_gen_stmt(c, depth + 1);
        cp_token(c, TK_DEDENT, "");
        return;
    }
    if (r < 55) {
        struct cp_tok t = cp_ident(c);
        cp_push(c, t.type, t.s, t.len);
        cp_push_op(c, "=");
    } else if (r < 70 && depth > 0) {
        cp_push(c, TK_NAME, "return", 6);
    }
    cp_gen_expr(c, 0);
    cp_flush_line(c, (size_t)depth);
}

/* ---- the parser ---- */

struct cp_peek {
    int64_t type;
    const char *s;
    size_t len;
    int64_t row, col;
};

static bool cp_peek_at(struct cp *c, size_t pos, struct cp_peek *out)
{
    if (c->w.failed || pos >= pm_list_size(c->tokens))
        return false;
    pm_object_t *t = pm_list_get(c->tokens, pos);
    pm_int_as_int64(pm_tuple_get(t, 0), &out->type);
    out->s = pm_str_data(pm_tuple_get(t, 1), &out->len);
    pm_object_t *start = pm_tuple_get(t, 2);
    pm_int_as_int64(pm_tuple_get(start, 0), &out->row);
    pm_int_as_int64(pm_tuple_get(start, 1), &out->col);
    return true;
}

static bool cp_is(const struct cp_peek *t, int64_t type, const char *s)
{
    return t->type == type && (!s || (t->len == strlen(s) && !memcmp(t->s, s, t->len)));
}

/* Consumes a token of the given type (and text); fails the run otherwise. */
static bool cp_expect(struct cp *c, int64_t type, const char *s, struct cp_peek *out)
{
    struct cp_peek t;
    if (!cp_peek_at(c, c->pos, &t) || !cp_is(&t, type, s)) {
        w_fail_msg(&c->w, "compiler: parse error at token %zu (expected %s)", c->pos,
                   s ? s : "a token");
        return false;
    }
    c->pos++;
    if (out)
        *out = t;
    return true;
}

/* A node: an instance with lineno/col_offset set. */
static pm_object_t *cp_node(struct cp *c, pm_object_t *cls, const struct cp_peek *at)
{
    pm_object_t *n = w_new(&c->w, cls);
    w_setattr_steal(&c->w, n, "lineno", w_int(&c->w, at->row));
    w_setattr_steal(&c->w, n, "col_offset", w_int(&c->w, at->col));
    return n;
}

static pm_object_t *cp_name_node(struct cp *c, const struct cp_peek *t, pm_object_t *ctx)
{
    struct pywl_w *w = &c->w;
    pm_object_t *n = cp_node(c, c->c_name, t);
    pm_object_t *id = w->failed ? NULL : w_check(w, pm_str_new_interned(w->sp, t->s, t->len));
    w_setattr_steal(w, n, "id", id);
    w_setattr(w, n, "ctx", ctx);
    return n;
}

static pm_object_t *cp_expr(struct cp *c, int depth);

static pm_object_t *cp_atom(struct cp *c, int depth)
{
    struct pywl_w *w = &c->w;
    struct cp_peek t, nx;
    if (depth > CP_PARSE_DEPTH || !cp_peek_at(c, c->pos, &t)) {
        w_fail_msg(w, "compiler: parse error at token %zu (atom)", c->pos);
        return NULL;
    }
    c->pos++;
    if (t.type == TK_NAME) {
        pm_object_t *name = cp_name_node(c, &t, c->load);
        if (!cp_peek_at(c, c->pos, &nx) || !cp_is(&nx, TK_OP, "("))
            return name;
        c->pos++;
        pm_object_t *call = cp_node(c, c->c_call, &t), *args = w_list(w);
        w_setattr_steal(w, call, "func", name);
        while (cp_peek_at(c, c->pos, &nx) && !cp_is(&nx, TK_OP, ")")) {
            if (pm_list_size(args) && !cp_expect(c, TK_OP, ",", NULL))
                break;
            w_append_steal(w, args, cp_expr(c, depth + 1));
        }
        cp_expect(c, TK_OP, ")", NULL);
        w_setattr_steal(w, call, "args", args);
        w_setattr_steal(w, call, "keywords", w_list(w));
        return call;
    }
    pm_object_t *k = cp_node(c, c->c_const, &t), *v = NULL;
    if (t.type == TK_NUMBER) {
        int64_t x = 0;
        for (size_t i = 0; i < t.len; i++)
            x = 10 * x + (t.s[i] - '0');
        v = w_int(w, x);
    } else if (t.type == TK_STRING) {
        v = w_str(w, t.s + 1, t.len - 2);
    } else {
        w_fail_msg(w, "compiler: parse error at token %zu (unexpected type %lld)", c->pos - 1,
                   (long long)t.type);
    }
    w_setattr_steal(w, k, "value", v);
    return k;
}

static pm_object_t *cp_expr(struct cp *c, int depth)
{
    struct pywl_w *w = &c->w;
    pm_object_t *left = cp_atom(c, depth);
    struct cp_peek t;
    while (!w->failed && cp_peek_at(c, c->pos, &t) && t.type == TK_OP && t.len == 1 &&
           strchr("+-*/%", t.s[0])) {
        c->pos++;
        pm_object_t *b = cp_node(c, c->c_binop, &t);
        w_setattr_steal(w, b, "left", left);
        pm_object_t *op = w->failed ? NULL : w_check(w, pm_str_new_interned(w->sp, t.s, t.len));
        w_setattr_steal(w, b, "op", op);
        w_setattr_steal(w, b, "right", cp_atom(c, depth));
        left = b;
    }
    return left;
}

static pm_object_t *cp_stmt(struct cp *c, int depth)
{
    struct pywl_w *w = &c->w;
    struct cp_peek t, nx;
    if (depth > CP_PARSE_DEPTH || !cp_peek_at(c, c->pos, &t)) {
        w_fail_msg(w, "compiler: parse error at token %zu (statement)", c->pos);
        return NULL;
    }
    pm_object_t *s;
    if (cp_is(&t, TK_NAME, "def")) {
        c->pos++;
        s = cp_node(c, c->c_funcdef, &t);
        struct cp_peek name = {0};
        pm_object_t *id = NULL;
        if (cp_expect(c, TK_NAME, NULL, &name))
            id = w_check(w, pm_str_new_interned(w->sp, name.s, name.len));
        w_setattr_steal(w, s, "name", id);
        cp_expect(c, TK_OP, "(", NULL);
        pm_object_t *args = w_list(w);
        while (cp_peek_at(c, c->pos, &nx) && !cp_is(&nx, TK_OP, ")")) {
            if (pm_list_size(args) && !cp_expect(c, TK_OP, ",", NULL))
                break;
            struct cp_peek a = {0};
            if (cp_expect(c, TK_NAME, NULL, &a))
                w_append_steal(w, args, cp_name_node(c, &a, c->store));
        }
        cp_expect(c, TK_OP, ")", NULL);
        cp_expect(c, TK_OP, ":", NULL);
        cp_expect(c, TK_NEWLINE, NULL, NULL);
        cp_expect(c, TK_INDENT, NULL, NULL);
        w_setattr_steal(w, s, "args", args);
        pm_object_t *body = w_list(w);
        while (cp_peek_at(c, c->pos, &nx) && nx.type != TK_DEDENT)
            w_append_steal(w, body, cp_stmt(c, depth + 1));
        cp_expect(c, TK_DEDENT, NULL, NULL);
        w_setattr_steal(w, s, "body", body);
        w_setattr_steal(w, s, "decorator_list", w_list(w));
        return s;
    }
    if (cp_is(&t, TK_NAME, "return")) {
        c->pos++;
        s = cp_node(c, c->c_return, &t);
        w_setattr_steal(w, s, "value", cp_expr(c, 0));
    } else if (t.type == TK_NAME && cp_peek_at(c, c->pos + 1, &nx) && cp_is(&nx, TK_OP, "=")) {
        c->pos += 2;
        s = cp_node(c, c->c_assign, &t);
        pm_object_t *targets = w_list(w);
        w_append_steal(w, targets, cp_name_node(c, &t, c->store));
        w_setattr_steal(w, s, "targets", targets);
        w_setattr_steal(w, s, "value", cp_expr(c, 0));
    } else {
        s = cp_node(c, c->c_expr, &t);
        w_setattr_steal(w, s, "value", cp_expr(c, 0));
    }
    cp_expect(c, TK_NEWLINE, NULL, NULL);
    return s;
}

/* ---- semantic analysis and code generation ---- */

struct cp_walk {
    pm_object_t *body;              /* borrowed statement list */
    size_t i;
    pm_object_t *scope;             /* borrowed */
    size_t qual_len;                /* length of the qualified-name prefix */
};

/* symtab[qual] = (kind, lineno, module); record[qual] = None */
static void cp_enter(struct cp *c, const char *qual, size_t len, pm_object_t *kind,
                     pm_object_t *node, pm_object_t *modname, pm_object_t *record)
{
    struct pywl_w *w = &c->w;
    pm_object_t *key = w_str(w, qual, len);
    pm_object_t *lineno = w->failed ? NULL : pm_getattr(w->sp, node, "lineno");
    w_setitem_steal(w, c->symtab, w_ref(key),
                    w_tuple3(w, w_ref(kind), w_ref(lineno), w_ref(modname)));
    if (!w->failed)
        w_setitem(w, record, key, pm_none(w->sp));
    w_drop(w, key);
}

/* qual[0..len) + "." + name, clamped to CP_QUAL; returns the new length. */
static size_t cp_qual(char qual[CP_QUAL], size_t len, const pm_object_t *name)
{
    size_t n;
    const char *s = pm_str_data(name, &n);
    if (len >= CP_QUAL - 1)
        return len;
    qual[len++] = '.';
    if (n > CP_QUAL - len)
        n = CP_QUAL - len;
    memcpy(qual + len, s, n);
    return len + n;
}

static void cp_analyse(struct cp *c, pm_object_t *module, pm_object_t *modname,
                       pm_object_t *record, pm_object_t *codes)
{
    struct pywl_w *w = &c->w;
    struct cp_walk st[CP_PARSE_DEPTH + 2];
    char qual[CP_QUAL];
    size_t mlen;
    const char *m = pm_str_data(modname, &mlen);
    if (mlen >= CP_QUAL / 2)
        mlen = CP_QUAL / 2;
    memcpy(qual, m, mlen);
    pm_object_t *top_scope = w_new(w, c->c_scope);
    w_setattr_steal(w, top_scope, "symbols", w_dict(w));
    w_setattr_steal(w, top_scope, "children", w_list(w));
    int top = 0;
    st[0] = (struct cp_walk){pm_getattr(w->sp, module, "body"), 0, top_scope, mlen};
    while (top >= 0 && !w->failed) {
        struct cp_walk *f = &st[top];
        if (!f->body || f->i >= pm_list_size(f->body)) {
            top--;
            continue;
        }
        pm_object_t *s = pm_list_get(f->body, f->i++);
        pm_object_t *cls = pm_object_class(s);
        pm_object_t *symbols = pm_getattr(w->sp, f->scope, "symbols");
        if (cls == c->c_assign) {
            pm_object_t *t = pm_list_get(pm_getattr(w->sp, s, "targets"), 0);
            pm_object_t *id = pm_getattr(w->sp, t, "id");
            w_setitem_steal(w, symbols, pm_incref(id), w_int(w, 1));
            if (top == 0) {
                size_t q = cp_qual(qual, f->qual_len, id);
                cp_enter(c, qual, q, c->k_var, s, modname, record);
            }
        } else if (cls == c->c_funcdef) {
            pm_object_t *name = pm_getattr(w->sp, s, "name");
            pm_object_t *body = pm_getattr(w->sp, s, "body");
            pm_object_t *args = pm_getattr(w->sp, s, "args");
            w_setitem_steal(w, symbols, pm_incref(name), w_int(w, 2));
            size_t q = cp_qual(qual, f->qual_len, name);
            cp_enter(c, qual, q, c->k_def, s, modname, record);
            /* the function's scope, linked both ways to its parent */
            pm_object_t *scope = w_new(w, c->c_scope);
            w_setattr(w, scope, "name", name);
            w_setattr(w, scope, "parent", f->scope);
            w_setattr_steal(w, scope, "symbols", w_dict(w));
            w_setattr_steal(w, scope, "children", w_list(w));
            w_append(w, w->failed ? NULL : pm_getattr(w->sp, f->scope, "children"), scope);
            /* its code object: (co_code, co_consts, co_names, co_name, co_firstlineno) */
            size_t na = pm_list_size(args);
            pm_object_t *names = NULL;
            if (!w->failed) {
                pm_object_t *ids[4] = {0};
                for (size_t i = 0; i < na && i < 4; i++) {
                    ids[i] = pm_getattr(w->sp, pm_list_get(args, i), "id");
                    pm_incref(ids[i]);
                }
                names = w_tuple_steal(w, na < 4 ? na : 4, ids);
            }
            pm_object_t *code[5] = {
                w->failed ? NULL : w_check(w, pm_bytes_new(w->sp, pywl_zeros,
                                                           16 * pm_list_size(body) + 8)),
                w_tuple2(w, pm_incref(pm_none(w->sp)), pm_incref(name)),
                names,
                pm_incref(name),
                w->failed ? NULL : pm_incref(pm_getattr(w->sp, s, "lineno")),
            };
            w_append_steal(w, codes, w_tuple_steal(w, 5, code));
            if (top + 1 < (int)(sizeof st / sizeof st[0])) {
                top++;
                st[top] = (struct cp_walk){body, 0, scope, q};
            }
            w_drop(w, scope);
        }
    }
    w_drop(w, top_scope);
}

/* Compiles module `idx` (new contents each time: the RNG moves on). */
static void cp_module(struct cp *c, uint64_t idx, uint64_t stmts)
{
    struct pywl_w *w = &c->w;
    char mname[48];
    snprintf(mname, sizeof mname, "pkg%llu.mod%llu", (unsigned long long)(idx % 37),
             (unsigned long long)idx);
    pm_object_t *modname = w_cstr(w, mname);
    /* re-check: forget the module's old symbols */
    pm_object_t *old = w_getitem(w, c->modules, modname);
    if (old) {
        size_t pos = 0;
        pm_object_t *k, *v;
        while (!w->failed && pm_dict_next(old, &pos, &k, &v))
            w_delitem(w, c->symtab, k);
    }
    /* tokenize */
    c->tokens = w_list(w);
    c->lines = w_list(w);
    c->row = 0;
    for (uint64_t i = 0; i < stmts && !w->failed; i++) {
        cp_gen_stmt(c, 0);
        w_tick(w);
    }
    /* parse */
    c->pos = 0;
    pm_object_t *module = w_new(w, c->c_module), *body = w_list(w);
    struct cp_peek t;
    while (!w->failed && cp_peek_at(c, c->pos, &t)) {
        w_append_steal(w, body, cp_stmt(c, 0));
        w_tick(w);
    }
    w_setattr_steal(w, module, "body", body);
    w_clear(w, &c->tokens);
    w_clear(w, &c->lines);
    /* analyse and compile */
    pm_object_t *record = w_dict(w), *codes = w_list(w);
    if (!w->failed)
        cp_analyse(c, module, modname, record, codes);
    w_setitem(w, c->modules, modname, record);
    w_tick(w);
    w_drop(w, codes);
    w_drop(w, record);
    w_drop(w, module);
    w_drop(w, modname);
}

static int compiler_run(pm_objspace_t *sp, const struct pywl_params *p,
                        const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct cp local;                /* 20 KiB: the line buffer */
    struct cp *c = &local;
    memset(c, 0, sizeof *c);
    struct pywl_w *w = &c->w;
    w_init(w, sp, p, 2, hooks, err);
    static const char *const name_slots[] = {"id", "ctx", "lineno", "col_offset"};
    static const char *const const_slots[] = {"value", "lineno", "col_offset"};
    static const char *const binop_slots[] = {"left", "op", "right", "lineno", "col_offset"};
    static const char *const call_slots[] = {"func", "args", "keywords", "lineno", "col_offset"};
    static const char *const scope_slots[] = {"name", "parent", "symbols", "children"};
    c->c_name = w_class(w, "Name", 4, name_slots);
    c->c_const = w_class(w, "Constant", 3, const_slots);
    c->c_binop = w_class(w, "BinOp", 5, binop_slots);
    c->c_call = w_class(w, "Call", 5, call_slots);
    c->c_scope = w_class(w, "Scope", 4, scope_slots);
    c->c_module = w_class(w, "Module", 0, NULL);
    c->c_funcdef = w_class(w, "FunctionDef", 0, NULL);
    c->c_assign = w_class(w, "Assign", 0, NULL);
    c->c_return = w_class(w, "Return", 0, NULL);
    c->c_expr = w_class(w, "Expr", 0, NULL);
    pm_object_t *c_load = w_class(w, "Load", 0, NULL), *c_store = w_class(w, "Store", 0, NULL);
    c->load = w_new(w, c_load);         /* the instances hold their classes */
    c->store = w_new(w, c_store);
    w_drop(w, c_load);
    w_drop(w, c_store);
    c->k_def = w_istr(w, "def");
    c->k_var = w_istr(w, "var");
    c->symtab = w_dict(w);
    c->modules = w_dict(w);

    uint64_t nmod = w_scaled(p, 250), rechecks = w_scaled(p, 250);
    w_phase(w, "initial");
    for (uint64_t i = 0; i < nmod && !w->failed; i++)
        cp_module(c, i, 1 + (uint64_t)w_lognormal(w, 120, 0.7, 3000));
    w_phase(w, "incremental");
    for (uint64_t i = 0; i < rechecks && !w->failed; i++)
        cp_module(c, w_zipf(w, nmod), 1 + (uint64_t)w_lognormal(w, 120, 0.7, 3000));
    w_end(w);

    pm_object_t **own[] = {&c->symtab, &c->modules, &c->k_def, &c->k_var, &c->load, &c->store,
                           &c->c_name, &c->c_const, &c->c_binop, &c->c_call, &c->c_scope,
                           &c->c_module, &c->c_funcdef, &c->c_assign, &c->c_return, &c->c_expr,
                           &c->tokens, &c->lines};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        w_clear(w, own[i]);
    return w_status(w);
}

const struct pywl pywl_compiler = {
    .name = "compiler",
    .summary = "tokenise, parse, analyse, compile modules: token tuples, AST instances, a symbol table across modules",
    .description =
        "A type checker or compileall over a code base (mypy, pylint, py_compile): each "
        "module is tokenised into 5-tuples sharing line strs, parsed into an AST of "
        "__slots__ expression nodes and __dict__ statement nodes with interned identifiers, "
        "analysed into scopes with parent back-links, compiled into code tuples, and "
        "dropped, while a symbol table dict keyed by qualified names lives across modules "
        "and is updated when modules are re-checked. Bursts of small tuples, ints and "
        "instances freed per module, small cyclic garbage (scopes), interning, and a "
        "long-lived dict growing among short-lived objects.",
    .scale_unit = "250 modules of median 120 statements, then 250 re-checks",
    .default_scale = 1.0,
    .run = compiler_run,
};
