/* A backend from a future minor of ABI 1: a bigger descriptor with fields this daemon does not
 * know yet. It must be accepted, and its optional functions within struct_size used. */
#include "mock_stubs.h"

static int ping_ok(void *h)
{
    (void)h;
    return ZTPD_STORAGE_OK;
}

static const struct {
    struct ztpd_storage_backend base;
    void *added_later[3];
} desc = {
    .base =
        {
            .abi_major = ZTPD_STORAGE_ABI_MAJOR,
            .abi_minor = 9,
            .struct_size = sizeof desc,
            .name = "mock-future",
            MOCK_MANDATORY,
            .ping = ping_ok,
        },
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc.base;
}
