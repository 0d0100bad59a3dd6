/* Broken: built for storage ABI 2, which this daemon does not speak. */
#include "mock_stubs.h"

static const struct ztpd_storage_backend desc = {
    .abi_major = 2,
    .struct_size = sizeof desc,
    .name = "mock-bad-abi",
    MOCK_MANDATORY,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc;
}
