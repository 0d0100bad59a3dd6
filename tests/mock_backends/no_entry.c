/* Broken: exports an entry under another name (as a backend for a different major would), so
 * the loader finds no ztpd_storage_entry_v1. */
#include "mock_stubs.h"

static const struct ztpd_storage_backend desc = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .struct_size = sizeof desc,
    .name = "mock-no-entry",
    MOCK_MANDATORY,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v0(const struct ztpd_storage_host *host);

const struct ztpd_storage_backend *ztpd_storage_entry_v0(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc;
}
