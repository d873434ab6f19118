/* allocators/os.c — mmap/munmap/madvise with per-instance accounting and
 * fault injection. See os.h. Never prints; failures return NULL with errno. */
#include "os.h"
#include "pm_assert.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size_cached;
static uint64_t total_mapped;   /* over every instance: destroy must bring it back */

uint64_t pm_os_total_mapped(void) { return total_mapped; }

size_t pm_os_page_size(void)
{
    if (!page_size_cached)
        page_size_cached = (size_t)sysconf(_SC_PAGESIZE);
    return page_size_cached;
}

void pm_os_init(struct pm_os *os, const struct pm_os_faults *faults)
{
    memset(os, 0, sizeof *os);
    if (faults)
        os->faults = *faults;
}

void pm_os_set_faults(struct pm_os *os, const struct pm_os_faults *faults)
{
    static const struct pm_os_faults none;
    os->faults = faults ? *faults : none;
}

/* Decides whether map call number os->map_calls (already incremented) fails. */
static int fault_injected(const struct pm_os *os)
{
    uint64_t k = os->map_calls;
    if (os->faults.fail_nth && k == os->faults.fail_nth)
        return 1;
    if (os->faults.fail_from && k >= os->faults.fail_from)
        return 1;
    return 0;
}

static void account_map(struct pm_os *os, size_t size)
{
    os->mapped += size;
    total_mapped += size;
    if (os->mapped > os->peak_mapped)
        os->peak_mapped = os->mapped;
}

void *pm_os_map(struct pm_os *os, size_t size)
{
    return pm_os_map_aligned(os, size, pm_os_page_size());
}

void *pm_os_map_aligned(struct pm_os *os, size_t size, size_t align)
{
    size_t page = pm_os_page_size();
    pm_assert(align >= page && (align & (align - 1)) == 0);
    os->map_calls++;
    if (size == 0 || size > SIZE_MAX / 2 - align || fault_injected(os)) {
        os->failed_maps++;
        errno = ENOMEM;
        return NULL;
    }
    size = pm_round_up(size, page);
    size_t span = align > page ? size + align - page : size;
    int saved = errno;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        os->failed_maps++;
        errno = ENOMEM;
        return NULL;
    }
    if (span != size) {
        char *start = (char *)pm_round_up((uintptr_t)p, align);
        size_t head = (size_t)(start - p);
        size_t tail = span - head - size;
        if (head)
            munmap(p, head);
        if (tail)
            munmap(start + size, tail);
        p = start;
    }
    errno = saved;
    account_map(os, size);
    return p;
}

void pm_os_unmap(struct pm_os *os, void *p, size_t size)
{
    if (!p)
        return;
    size = pm_round_up(size, pm_os_page_size());
    pm_assert(os->mapped >= size);
    int saved = errno;
    munmap(p, size);
    errno = saved;
    os->mapped -= size;
    total_mapped -= size;
    os->unmap_calls++;
}

void pm_os_decommit(struct pm_os *os, void *p, size_t size)
{
    size_t page = pm_os_page_size();
    pm_assert(((uintptr_t)p & (page - 1)) == 0);
    size = size & ~(page - 1);
    if (!size)
        return;
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
    os->decommitted += size;
}
