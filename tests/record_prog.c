/* tests/record_prog.c — a program with known allocation behaviour, recorded
 * by tests/cli/record.sh through `pymemlab trace record`. Built without
 * sanitizers (the recorder is preloaded into it) and without the compiler's
 * knowledge of malloc (so no call is folded away).
 *
 *   record_prog seq      the exact sequence of tests/cli/record.sh's expected trace
 *   record_prog threads  4 threads x 10000 malloc/free pairs (the trace must be valid)
 *   record_prog fork     allocations in a forked child (left out of the trace)
 *   record_prog exit     a few allocations, then _exit(0) (the trace must be finished)
 *   record_prog kill     N allocations, then SIGKILL to itself (an unfinished trace)
 *   record_prog exec     exec's itself with "seq" (the trace is the new image's)
 *   record_prog mtrace   "seq" between mtrace() and muntrace() (run with MALLOC_TRACE
 *                        and libc_malloc_debug.so.0 preloaded: a real glibc mtrace log)
 *
 * No stdio before the allocations: its buffers would be allocations too.
 */
#include <malloc.h>
#include <mcheck.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static void seq(void)
{
    char *a = malloc(100);                  /* alloc 0 100 */
    char *b = calloc(10, 20);               /* calloc 1 10 20 */
    a = realloc(a, 5000);                   /* realloc 0 5000 */
    void *c;
    if (posix_memalign(&c, 64, 48))         /* aligned 2 48 64 */
        abort();
    void *d = aligned_alloc(4096, 8192);    /* aligned 3 8192 4096 */
    void *e = memalign(8, 24);              /* alloc 4 24 (alignment 8: malloc's own) */
    free(b);                                /* free 1 */
    void *f = realloc(NULL, 33);            /* alloc 1 33: realloc(NULL) is malloc */
    f = realloc(f, 0);                      /* free 1: glibc's realloc(p, 0) frees */
    void *g = malloc(0);                    /* alloc 1 0 */
    free(NULL);                             /* nothing */
    free(c);                                /* free 2 */
    free(a);                                /* free 0 */
    void *h = malloc(7);                    /* alloc 0 7: the last freed slot first */
    free(d);                                /* free 3 */
    free(e);                                /* free 4 */
    free(g);                                /* free 1 */
    free(h);                                /* free 0 */
    sink = f;
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        void *p = malloc((size_t)(16 + i % 200));
        sink = p;
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "seq";
    if (!strcmp(mode, "seq")) {
        seq();
    } else if (!strcmp(mode, "threads")) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, worker, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    } else if (!strcmp(mode, "fork")) {
        void *p = malloc(111);
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 100; i++)
                sink = malloc(222);   /* left out: the child is not recorded */
            free(p);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        free(p);
    } else if (!strcmp(mode, "exit")) {
        sink = malloc(10);
        sink = malloc(20);
        _exit(0);
    } else if (!strcmp(mode, "kill")) {
        long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
        for (long i = 0; i < n; i++) {
            void *p = malloc((size_t)(i % 300 + 1));
            if (i % 3)
                free(p);
        }
        kill(getpid(), SIGKILL);
    } else if (!strcmp(mode, "mtrace")) {
        mtrace();
        seq();
        muntrace();
    } else if (!strcmp(mode, "exec")) {
        sink = malloc(12345);   /* the old image's: gone from the trace */
        char *args[] = {argv[0], "seq", NULL};
        execv("/proc/self/exe", args);
        return 3;
    } else {
        return 2;
    }
    return 0;
}
