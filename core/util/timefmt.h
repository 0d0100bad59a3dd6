/* Timestamps as the API shows them: ISO 8601 UTC, "2025-12-03T10:30:00Z". */
#ifndef ZTPD_UTIL_TIMEFMT_H
#define ZTPD_UTIL_TIMEFMT_H

#include <stdint.h>

/* Formats Unix seconds into out (at least 21 bytes). */
void ztpd_time_iso(int64_t t, char out[32]);
/* Current Unix time in seconds. */
int64_t ztpd_time_now(void);

#endif
