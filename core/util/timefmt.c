#include "util/timefmt.h"

#include <time.h>

void ztpd_time_iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t ztpd_time_now(void)
{
    return (int64_t)time(NULL);
}
