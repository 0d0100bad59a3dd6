/* Broken: a complete descriptor built for ABI 1.0, whose records (ztpd_registration_rec) are
 * shorter than today's; the loader must refuse it rather than let it overrun them. */
#include "mock_stubs.h"

static const struct ztpd_storage_backend desc = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = 0,
    .struct_size = sizeof(struct ztpd_storage_backend),
    .name = "mock-old-records",
    MOCK_MANDATORY,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc;
}
