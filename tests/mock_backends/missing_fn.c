/* Broken: one mandatory function (device_put) is missing. */
#include "mock_stubs.h"

static struct ztpd_storage_backend desc = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .struct_size = sizeof desc,
    .name = "mock-missing-fn",
    MOCK_MANDATORY,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    /* Cleared here rather than in the initializer, which would set the field twice. */
    desc.device_put = NULL;
    return &desc;
}
