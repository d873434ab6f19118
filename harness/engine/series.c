/* harness/engine/series.c — the memory series writer (series.h). */
#include "series.h"

#include <errno.h>
#include <string.h>

void pm_series_header(FILE *f, unsigned cols)
{
    fprintf(f, "op,live_bytes,footprint_bytes,mapped_bytes%s%s\n",
            cols & PM_SERIES_MARK ? ",mark" : "", cols & PM_SERIES_HELD ? ",garbage_held_bytes" : "");
}

void pm_series_row(FILE *f, unsigned cols, const struct pm_series_row *r)
{
    fprintf(f, "%llu,%llu,%llu,", (unsigned long long)r->op, (unsigned long long)r->live_bytes,
            (unsigned long long)r->footprint_bytes);
    if (r->mapped_bytes != PM_STAT_NA)
        fprintf(f, "%llu", (unsigned long long)r->mapped_bytes);
    if (cols & PM_SERIES_MARK)
        fprintf(f, ",%s%s", r->mark ? r->mark : "", r->phase ? r->phase : "");
    if (cols & PM_SERIES_HELD) {
        if (r->garbage_held_bytes != PM_STAT_NA)
            fprintf(f, ",%llu", (unsigned long long)r->garbage_held_bytes);
        else
            fputc(',', f);
    }
    fputc('\n', f);
}

int pm_series_flush(FILE *f, char err[PM_ERR_LEN])
{
    errno = 0;
    if (fflush(f) || ferror(f)) {   /* (a failed earlier write leaves ENOSPC in the stream's next flush) */
        snprintf(err, PM_ERR_LEN, "cannot write the series: %s", strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}
