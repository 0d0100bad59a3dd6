/* Broken: struct_size claims the descriptor ends before its mandatory functions do. */
#include "mock_stubs.h"

static const struct ztpd_storage_backend desc = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .struct_size = offsetof(struct ztpd_storage_backend, device_put),
    .name = "mock-small-struct",
    MOCK_MANDATORY,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc;
}
