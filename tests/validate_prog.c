/* tests/validate_prog.c — a program with a known allocation pattern for
 * tests/cli/validate.sh (`pymemlab validate` on a C program).
 *
 *   validate_prog pattern      24 MiB in 256-byte blocks and 8 MiB in 64 KiB
 *                              blocks, every byte written; the 64 KiB blocks
 *                              and every other small block freed; exit 0.
 *                              Live peak 32 MiB, live at the end 12 MiB.
 *   validate_prog fail-under S the pattern, then exit 3 if LD_PRELOAD
 *                              contains S (a native run that fails under one
 *                              allocator only; recording succeeds)
 *
 * Built without sanitizers and without the compiler's knowledge of malloc
 * (allocators are preloaded into it; no call may be folded away).
 */
#include <stdlib.h>
#include <string.h>

#define SMALL 256
#define NSMALL (24 * 1024 * 1024 / SMALL)
#define BIG (64 * 1024)
#define NBIG (8 * 1024 * 1024 / BIG)

static char *small[NSMALL], *big[NBIG];

static int pattern(void)
{
    for (int i = 0; i < NSMALL; i++) {
        small[i] = malloc(SMALL);
        if (!small[i])
            return 1;
        memset(small[i], i & 0xff, SMALL);
        if (i % (NSMALL / NBIG) == 0) {
            int b = i / (NSMALL / NBIG);
            big[b] = malloc(BIG);
            if (!big[b])
                return 1;
            memset(big[b], 1, BIG);
        }
    }
    for (int b = 0; b < NBIG; b++)
        free(big[b]);
    for (int i = 0; i < NSMALL; i += 2)
        free(small[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (pattern())
        return 1;
    if (!strcmp(argv[1], "fail-under") && argc > 2) {
        const char *p = getenv("LD_PRELOAD");
        if (p && strstr(p, argv[2]))
            return 3;
    }
    return 0;
}
