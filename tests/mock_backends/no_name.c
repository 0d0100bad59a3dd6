/* Broken: the descriptor has no name. */
#include "mock_stubs.h"

static const struct ztpd_storage_backend desc = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .struct_size = sizeof desc,
    .name = NULL,
    MOCK_MANDATORY,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc;
}
