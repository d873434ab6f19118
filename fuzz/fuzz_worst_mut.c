/* fuzz/fuzz_worst_mut.c — the structure-aware mutator of fuzz_frag and
 * fuzz_retention (fuzz_worst_mut.h). */
#include "fuzz_worst_mut.h"
#include "fuzz_worst.h"

#include <string.h>

/* libFuzzer's own mutations (with -dict's entries), when linked in. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

const uint8_t fw_op_args[8] = {1, 2, 2, 2, 2, 2, 1, 3};

#define FW_SIZE_ARGS 53   /* fw_size_x's dictionary: 32 + 11 + 10 sizes */

size_t fw_size_of_byte(unsigned b)
{
    b &= 0xff;
    return b < 0x80 ? (size_t)FW_MIN_SIZE << (b % 11) : FW_MIN_SIZE + (size_t)(b & 0x7f) * 128;
}

/* The extended op's sizes: the smallest request of each pymalloc class
 * (16c + 1, at least 16), of each buddy block (2^k * 8 + 1) and of each
 * segfit block (32 * 2^k - 23), then SIZE's. */
size_t fw_size_x(unsigned b)
{
    b &= 0xff;
    if (b < 32)
        return b ? 16 * (size_t)b + 1 : FW_MIN_SIZE;
    if (b < 43)
        return b == 32 ? FW_MIN_SIZE : ((size_t)8 << (b - 32)) + 1;
    if (b < 53)
        return b == 43 ? FW_MIN_SIZE : ((size_t)32 << (b - 43)) - 23;
    return fw_size_of_byte(b);
}

size_t fw_parse(const uint8_t *data, size_t size, struct fw_opref *ops, size_t max, int *truncated)
{
    size_t n = 0, off = 1;
    *truncated = 0;
    while (off < size && n < max) {
        unsigned len = 1u + fw_op_args[data[off] & 7];
        ops[n++] = (struct fw_opref){(uint32_t)off, (uint8_t)len};
        if (off + len > size)
            *truncated = 1;
        off += len;
    }
    return n;
}

unsigned fw_k_of(unsigned arg)
{
    arg &= 0xff;
    return arg < 64 ? arg + 2 : arg < 128 ? 66 + (arg - 64) * 4 : 322 + (arg - 128) * 8;
}

unsigned fw_k_arg(unsigned k)
{
    if (k < 2)
        return 0;
    if (k <= 65)
        return k - 2;
    if (k <= 318)
        return 64 + (k - 66) / 4;
    if (k < 322)
        return 127;
    unsigned a = 128 + (k - 322) / 8;
    return a > 255 ? 255 : a;
}

void fw_pair(uint8_t out[6], unsigned size_arg, unsigned k_arg, int all)
{
    out[0] = 1;
    out[1] = 0;
    out[2] = (uint8_t)size_arg;
    out[3] = 1;
    out[4] = all ? 2 : 1;
    out[5] = (uint8_t)k_arg;
}

/* ---- random numbers (splitmix64: every seed gives a distinct stream) ---- */

struct rng {
    uint64_t x;
};

static uint64_t rnd64(struct rng *r)
{
    uint64_t z = (r->x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rnd(struct rng *r, unsigned n) { return n ? (unsigned)(rnd64(r) % n) : 0; }

/* ---- adaptive choices and the elite ----
 * Each choice the mutator makes (mutation kind, where a size comes from,
 * how K is chosen, keep of the last fill or of all) is an arm, picked with
 * a probability proportional to its prior times its estimated success rate,
 * (successes + 1) / (tries + 2): a success is an input made with that
 * choice reaching a new highest figure (fw_mutate_reward, called by fw_run).
 * No backend's construction is in here; the search learns, e.g., that keeps
 * of all blocks with a small K pay on one backend and page-sized K of the
 * last fill on another.
 * The elite is the input that reached the highest figure so far (in this
 * process); a third of the mutations start from it instead of the input
 * libFuzzer chose, a (1+1) hill climb next to libFuzzer's corpus search. */

enum { ARM_KIND, ARM_SIZE = ARM_KIND + FW_MUT_KINDS, ARM_K = ARM_SIZE + 4, ARM_ALL = ARM_K + 11,
       ARMS = ARM_ALL + 2 };
static uint32_t arm_tries[ARMS], arm_succ[ARMS];
static bool arm_used[ARMS];
static const double kind_prior[FW_MUT_KINDS] = {10, 5, 6, 3, 2, 2, 2, 1, 1, 3, 4};

#define FW_ELITE_MAX 65536
static uint8_t elite[FW_ELITE_MAX];
static size_t elite_size;

static unsigned pick_arm(struct rng *r, unsigned first, unsigned n)
{
    double w[FW_MUT_KINDS + 11], tot = 0;   /* the most arms of a choice */
    for (unsigned i = 0; i < n; i++) {
        w[i] = (first == ARM_KIND ? kind_prior[i] : 1.0) * (arm_succ[first + i] + 1.0) /
               (arm_tries[first + i] + 2.0);
        tot += w[i];
    }
    double x = (double)(rnd64(r) >> 11) * 0x1p-53 * tot;
    unsigned i = 0;
    for (; i + 1 < n && x >= w[i]; i++)
        x -= w[i];
    arm_used[first + i] = true;
    arm_tries[first + i]++;
    return i;
}

void fw_mutate_reward(const uint8_t *data, size_t size)
{
    for (unsigned i = 0; i < ARMS; i++)
        if (arm_used[i])
            arm_succ[i]++;
    if (size <= FW_ELITE_MAX) {
        memcpy(elite, data, size);
        elite_size = size;
    }
}

/* ---- the op sequence ---- */

struct seq {
    uint8_t *d;
    size_t size, max;
    struct fw_opref ops[FW_MAX_OPS];
    size_t n;
};

static void reparse(struct seq *q)
{
    int trunc;
    q->n = fw_parse(q->d, q->size, q->ops, FW_MAX_OPS, &trunc);
    if (trunc) {   /* pad the last op: the decoder reads zeros past the end */
        struct fw_opref *last = &q->ops[q->n - 1];
        size_t end = last->off + last->len;
        if (end <= q->max) {
            memset(q->d + q->size, 0, end - q->size);
            q->size = end;
        } else {
            q->size = last->off;
            q->n--;
        }
    }
}

static bool is_fill(const struct seq *q, size_t i)
{
    return (q->d[q->ops[i].off] & 7) == 1 && (q->d[q->ops[i].off + 1] & 3) == 0;
}

static bool is_keep(const struct seq *q, size_t i)
{
    unsigned sub = q->d[q->ops[i].off + 1] & 3;
    return (q->d[q->ops[i].off] & 7) == 1 && (sub == 1 || sub == 2);
}

/* A unit: a fill with the keep that follows it, or one op; [i, unit_end). */
static size_t unit_end(const struct seq *q, size_t i)
{
    return i + 1 < q->n && is_fill(q, i) && is_keep(q, i + 1) ? i + 2 : i + 1;
}

static size_t op_off(const struct seq *q, size_t i) { return i < q->n ? q->ops[i].off : q->size; }

static bool insert_bytes(struct seq *q, size_t at, const uint8_t *b, size_t len)
{
    if (q->size + len > q->max)
        return false;
    memmove(q->d + at + len, q->d + at, q->size - at);
    memcpy(q->d + at, b, len);
    q->size += len;
    reparse(q);
    return true;
}

static void delete_bytes(struct seq *q, size_t at, size_t len)
{
    memmove(q->d + at, q->d + at + len, q->size - at - len);
    q->size -= len;
    reparse(q);
}

/* The i-th op of a kind (fill or keep), at random; q->n if none. */
static size_t pick_op(const struct seq *q, struct rng *r, bool (*pred)(const struct seq *, size_t))
{
    size_t count = 0;
    for (size_t i = 0; i < q->n; i++)
        count += pred(q, i);
    if (!count)
        return q->n;
    size_t want = rnd(r, (unsigned)count);
    for (size_t i = 0; i < q->n; i++)
        if (pred(q, i) && !want--)
            return i;
    return q->n;
}

static bool filled(const struct seq *q, unsigned arg)
{
    for (size_t i = 0; i < q->n; i++)
        if (is_fill(q, i) && q->d[q->ops[i].off + 2] == arg)
            return true;
    return false;
}

/* A size argument: one of fw_size_x's dictionary (preferring one no fill
 * of the input uses yet), the next size up or down in the family of an
 * existing fill (pymalloc classes, buddy blocks, segfit blocks), or any
 * byte (fw_size's sizes). */
static unsigned pick_size(const struct seq *q, struct rng *r)
{
    unsigned how = pick_arm(r, ARM_SIZE, 4);
    if (how == 3)
        return rnd(r, 256);
    if (how == 1 || how == 2) {
        size_t i = pick_op(q, r, is_fill);
        if (i < q->n) {
            unsigned a = q->d[q->ops[i].off + 2];
            unsigned lo = a < 32 ? 0 : a < 43 ? 32 : a < 53 ? 43 : 53;
            unsigned hi = a < 32 ? 31 : a < 43 ? 42 : a < 53 ? 52 : 255;
            if (how == 1)
                return a < hi ? a + 1 : a;
            return a > lo ? a - 1 : a;
        }
    }
    unsigned a = rnd(r, FW_SIZE_ARGS);
    for (int t = 0; t < 4 && filled(q, a); t++)
        a = rnd(r, FW_SIZE_ARGS);
    return a;
}

/* A K argument for blocks of size argument `size_arg`: how many blocks fit
 * in a page or region of 4, 16 or 64 KiB (the block being the size rounded
 * to 16, to a power of two, or with an 8-byte header), a small K, or any. */
static unsigned pick_k(unsigned size_arg, struct rng *r)
{
    unsigned how = pick_arm(r, ARM_K, 11), k;
    if (how < 9) {
        static const unsigned region[] = {4096, 16384, 65536};
        size_t n = fw_size_x(size_arg), b;
        switch (how % 3) {
        case 0:
            b = (n + 15) & ~(size_t)15;
            break;
        case 1:
            for (b = 16; b < n; b *= 2)
                ;
            break;
        default:
            b = (n + 8 + 15) & ~(size_t)15;
            if (b < 32)
                b = 32;
            break;
        }
        k = (unsigned)(region[how / 3] / b);
    } else if (how == 9) {
        k = 2 + rnd(r, 3) * rnd(r, 3);   /* 2..6, most often 2 */
        if (rnd(r, 3) == 0)
            k = 2 + rnd(r, 7);
    } else {
        return rnd(r, 256);
    }
    unsigned a = fw_k_arg(k);
    switch (rnd(r, 8)) {   /* now and then one encoding step either side */
    case 0:
        return a ? a - 1 : a;
    case 1:
        return a < 255 ? a + 1 : a;
    default:
        return a;
    }
}

static bool append_pair(struct seq *q, struct rng *r)
{
    uint8_t pair[6];
    unsigned sa = pick_size(q, r);
    fw_pair(pair, sa, pick_k(sa, r), (int)pick_arm(r, ARM_ALL, 2));
    return insert_bytes(q, q->size, pair, sizeof pair);
}

static bool mut_insert_pair(struct seq *q, struct rng *r)
{
    uint8_t pair[6];
    unsigned sa = pick_size(q, r);
    fw_pair(pair, sa, pick_k(sa, r), (int)pick_arm(r, ARM_ALL, 2));
    unsigned where = rnd(r, 20);
    size_t at = q->size;
    if (where >= 17) {
        at = op_off(q, rnd(r, (unsigned)q->n + 1));
    } else if (where >= 12) {
        size_t i = pick_op(q, r, is_keep);
        at = op_off(q, i < q->n ? i + 1 : q->n);
    }
    return insert_bytes(q, at, pair, sizeof pair);
}

static bool mut_fill_size(struct seq *q, struct rng *r)
{
    size_t i = pick_op(q, r, is_fill);
    if (i == q->n)
        return false;
    unsigned sa = pick_size(q, r);
    q->d[q->ops[i].off + 2] = (uint8_t)sa;
    if (i + 1 < q->n && is_keep(q, i + 1) && rnd(r, 2))
        q->d[q->ops[i + 1].off + 2] = (uint8_t)pick_k(sa, r);
    return true;
}

static bool mut_keep_k(struct seq *q, struct rng *r)
{
    size_t i = pick_op(q, r, is_keep);
    if (i == q->n)
        return false;
    uint8_t *op = q->d + q->ops[i].off;
    unsigned c = rnd(r, 6);
    if (c < 3) {
        unsigned sa = i > 0 && is_fill(q, i - 1) ? q->d[q->ops[i - 1].off + 2] : rnd(r, FW_SIZE_ARGS);
        op[2] = (uint8_t)pick_k(sa, r);
    } else if (c < 5) {
        op[2] = (uint8_t)(c == 3 ? (op[2] ? op[2] - 1 : 0) : (op[2] < 255 ? op[2] + 1 : 255));
    } else {
        op[1] = pick_arm(r, ARM_ALL, 2) ? 2 : 1;
    }
    return true;
}

static bool mut_delete(struct seq *q, struct rng *r)
{
    if (!q->n)
        return false;
    size_t i = rnd(r, (unsigned)q->n), j = rnd(r, 2) ? unit_end(q, i) : i + 1;
    size_t a = op_off(q, i);
    delete_bytes(q, a, op_off(q, j) - a);
    return true;
}

/* Swaps units [a0, a1) and [b0, b1), a1 <= b0 (byte offsets). */
static void swap_ranges(struct seq *q, size_t a0, size_t a1, size_t b0, size_t b1)
{
    static uint8_t tmp[1 << 16];
    size_t len = b1 - a0;
    if (len > sizeof tmp)
        return;
    size_t n = 0;
    memcpy(tmp + n, q->d + b0, b1 - b0), n += b1 - b0;
    memcpy(tmp + n, q->d + a1, b0 - a1), n += b0 - a1;
    memcpy(tmp + n, q->d + a0, a1 - a0), n += a1 - a0;
    memcpy(q->d + a0, tmp, n);
    reparse(q);
}

static bool mut_swap(struct seq *q, struct rng *r)
{
    if (q->n < 2)
        return false;
    size_t i = rnd(r, (unsigned)q->n), ie = unit_end(q, i);
    if (ie >= q->n)
        return false;
    /* the next unit most of the time, else any later one */
    size_t j = ie;
    if (rnd(r, 3) == 0) {
        j = ie + rnd(r, (unsigned)(q->n - ie));
        while (j > ie && j > 0 && is_keep(q, j) && is_fill(q, j - 1))
            j--;   /* start at a unit's beginning */
    }
    size_t je = unit_end(q, j);
    swap_ranges(q, op_off(q, i), op_off(q, ie), op_off(q, j), op_off(q, je));
    return true;
}

static bool mut_dup(struct seq *q, struct rng *r)
{
    if (!q->n)
        return false;
    size_t i = rnd(r, (unsigned)q->n), ie = unit_end(q, i);
    uint8_t buf[16];
    size_t a = op_off(q, i), len = op_off(q, ie) - a;
    if (len > sizeof buf)
        return false;
    memcpy(buf, q->d + a, len);
    size_t at = rnd(r, 2) ? q->size : op_off(q, rnd(r, (unsigned)q->n + 1));
    return insert_bytes(q, at, buf, len);
}

static bool is_ext(const struct seq *q, size_t i) { return (q->d[q->ops[i].off] & 7) == 1; }

/* Deletes every op but the extended op's, or one run of other ops. */
static bool mut_clean(struct seq *q, struct rng *r)
{
    size_t i = 0, j;
    if (rnd(r, 2)) {
        size_t w = 1;
        for (size_t k = 0; k < q->n; k++)
            if (is_ext(q, k)) {
                memmove(q->d + w, q->d + q->ops[k].off, q->ops[k].len);
                w += q->ops[k].len;
            }
        if (w == q->size)
            return false;
        q->size = w;
        reparse(q);
        return true;
    }
    size_t start = rnd(r, (unsigned)q->n + 1);
    for (i = start; i < q->n && is_ext(q, i); i++)
        ;
    for (j = i; j < q->n && !is_ext(q, j); j++)
        ;
    if (i == j)
        return false;
    delete_bytes(q, op_off(q, i), op_off(q, j) - op_off(q, i));
    return true;
}

/* Sorts the fill + keep pairs by fill size (stable), other ops dropped. */
static bool mut_sort(struct seq *q, struct rng *r)
{
    (void)r;
    static uint8_t tmp[FW_MAX_OPS * 6 + 1];
    struct unit {
        size_t off, len, size;
    };
    static struct unit u[FW_MAX_OPS / 2];
    size_t nu = 0;
    for (size_t i = 0; i < q->n; i++)
        if (i + 1 < q->n && is_fill(q, i) && is_keep(q, i + 1)) {
            u[nu++] = (struct unit){q->ops[i].off, (size_t)q->ops[i].len + q->ops[i + 1].len,
                                    fw_size_x(q->d[q->ops[i].off + 2])};
            i++;
        }
    if (nu < 2)
        return false;
    for (size_t i = 1; i < nu; i++)   /* insertion sort: stable, nu is small */
        for (size_t j = i; j > 0 && u[j - 1].size > u[j].size; j--) {
            struct unit t = u[j];
            u[j] = u[j - 1];
            u[j - 1] = t;
        }
    size_t w = 0;
    tmp[w++] = q->d[0];
    for (size_t i = 0; i < nu; i++) {
        memcpy(tmp + w, q->d + u[i].off, u[i].len);
        w += u[i].len;
    }
    memcpy(q->d, tmp, w);
    q->size = w;
    reparse(q);
    return true;
}

/* A new input: the backend byte and one to three new pairs. */
static bool mut_fresh(struct seq *q, struct rng *r)
{
    if (q->max < 7)
        return false;
    q->size = 1;
    reparse(q);
    unsigned n = 1 + rnd(r, 3);
    for (unsigned i = 0; i < n; i++)
        if (!append_pair(q, r))
            break;
    return true;
}

/* The size arguments of fw_size_x's dictionary strictly between lo and hi
 * into out[] (at most FW_SIZE_ARGS); returns how many, *smallest the
 * smallest of them. */
static unsigned sizes_between(size_t lo, size_t hi, unsigned out[FW_SIZE_ARGS], unsigned *smallest)
{
    unsigned n = 0;
    for (unsigned a = 0; a < FW_SIZE_ARGS; a++)
        if (fw_size_x(a) > lo && fw_size_x(a) < hi) {
            if (!n || fw_size_x(a) < fw_size_x(*smallest))
                *smallest = a;
            out[n++] = a;
        }
    return n;
}

/* A rung (fuzz_worst_mut.h): the two edits a ladder needs at once to
 * close a gap. Sizes are fw_size_x's dictionary, nothing of a backend. */
static bool mut_ladder(struct seq *q, struct rng *r)
{
    static size_t fill[FW_MAX_OPS / 2], gap[FW_MAX_OPS / 2];
    size_t np = 0, ngap = 0, top = 0;
    for (size_t i = 0; i + 1 < q->n; i++)
        if (is_fill(q, i) && is_keep(q, i + 1))
            fill[np++] = i++;
    if (!np)
        return false;
#define FILL_SIZE(j) fw_size_x(q->d[q->ops[fill[j]].off + 2])
    unsigned between[FW_SIZE_ARGS], smallest = 0;
    for (size_t j = 0; j < np; j++) {
        if (FILL_SIZE(j) > FILL_SIZE(top))
            top = j;
        if (j + 1 < np && sizes_between(FILL_SIZE(j), FILL_SIZE(j + 1), between, &smallest))
            gap[ngap++] = j;   /* consecutive pairs with a dictionary size between */
    }
    /* the new pair goes after pair `after`: in a gap 3/4 of the time, else above the top */
    bool in_gap = ngap && rnd(r, 4);
    size_t after = in_gap ? gap[rnd(r, (unsigned)ngap)] : top;
    size_t hi = in_gap ? FILL_SIZE(after + 1) : (size_t)-1;
    unsigned nb = sizes_between(FILL_SIZE(after), hi, between, &smallest);
#undef FILL_SIZE
    if (!nb)
        return false;
    /* the next size up: always above the top, half the time in a gap */
    unsigned sa = !in_gap || rnd(r, 2) ? smallest : between[rnd(r, nb)];
    uint8_t *keep = q->d + q->ops[fill[after] + 1].off;
    keep[1] = 2;
    keep[2] = (uint8_t)fw_k_arg(2);
    uint8_t pair[6];
    fw_pair(pair, sa, fw_k_arg(2), 1);
    return insert_bytes(q, op_off(q, fill[after] + 2), pair, sizeof pair);
}

static bool mut_bytes(struct seq *q, struct rng *r)
{
    if (LLVMFuzzerMutate) {
        q->size = LLVMFuzzerMutate(q->d, q->size, q->max);
    } else if (q->size > 1) {   /* without libFuzzer: flip a bit of an op */
        size_t at = 1 + rnd(r, (unsigned)(q->size - 1));
        q->d[at] ^= (uint8_t)(1u << rnd(r, 8));
    } else {
        return false;
    }
    if (!q->size) {
        q->d[0] = 0;
        q->size = 1;
    }
    reparse(q);
    return true;
}

static struct seq the_seq;   /* 32 KiB of op records: not on the stack */

static bool apply(struct seq *q, struct rng *r, enum fw_mut kind)
{
    switch (kind) {
    case FW_MUT_INSERT_PAIR:
        return mut_insert_pair(q, r);
    case FW_MUT_FILL_SIZE:
        return mut_fill_size(q, r);
    case FW_MUT_KEEP_K:
        return mut_keep_k(q, r);
    case FW_MUT_DELETE:
        return mut_delete(q, r);
    case FW_MUT_SWAP:
        return mut_swap(q, r);
    case FW_MUT_DUP:
        return mut_dup(q, r);
    case FW_MUT_CLEAN:
        return mut_clean(q, r);
    case FW_MUT_SORT:
        return mut_sort(q, r);
    case FW_MUT_FRESH:
        return mut_fresh(q, r);
    case FW_MUT_LADDER:
        return mut_ladder(q, r);
    default:
        return mut_bytes(q, r);
    }
}

static struct seq *begin(uint8_t *data, size_t size, size_t max)
{
    struct seq *q = &the_seq;
    q->d = data;
    q->max = max;
    q->size = size > max ? max : size;
    if (!q->size && max) {
        data[0] = 0;
        q->size = 1;
    }
    reparse(q);
    return q;
}

size_t fw_mutate_kind(uint8_t *data, size_t size, size_t max, unsigned seed, enum fw_mut kind)
{
    if (!max)
        return 0;
    struct rng r = {seed * 0x2545f4914f6cdd1dull + 1};
    struct seq *q = begin(data, size, max);
    apply(q, &r, kind);
    return q->size;
}

size_t fw_mutate(uint8_t *data, size_t size, size_t max, unsigned seed)
{
    if (!max)
        return 0;
    struct rng r = {seed * 0x2545f4914f6cdd1dull + 1};
    struct seq *q = begin(data, size, max);
    memset(arm_used, 0, sizeof arm_used);
    if (elite_size && elite_size <= max && !rnd(&r, 3)) {
        memcpy(data, elite, elite_size);
        q = begin(data, elite_size, max);
    }
    for (int tries = 0; tries < 8; tries++)
        if (apply(q, &r, (enum fw_mut)pick_arm(&r, ARM_KIND, FW_MUT_KINDS)))
            break;
    return q->size;
}
