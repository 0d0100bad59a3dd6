/* A valid minimal backend (every call succeeds) built against an older minor of ABI 1: its
 * struct_size ends before `ping`. The ping pointer is nevertheless set, so the test proves the
 * loader does not read an optional function beyond struct_size. */
#include "mock_stubs.h"

static int never_called_ping(void *h)
{
    (void)h;
    return ZTPD_STORAGE_EUNAVAIL;
}

static const struct ztpd_storage_backend desc = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = ZTPD_STORAGE_RECORDS_MINOR,
    .struct_size = offsetof(struct ztpd_storage_backend, ping),
    .name = "mock-good",
    MOCK_MANDATORY,
    .ping = never_called_ping,
};

const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host)
{
    (void)host;
    return &desc;
}
