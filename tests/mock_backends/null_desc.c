/* Broken: the entry symbol exists but hands back no descriptor. */
#include "mock_stubs.h"

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return NULL;
}
