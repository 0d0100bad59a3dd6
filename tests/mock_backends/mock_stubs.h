/* Do-nothing operations shared by the mock backends of the loader tests: every call succeeds.
 * Each mock includes this and breaks its descriptor in exactly one way. */
#ifndef ZTPD_MOCK_STUBS_H
#define ZTPD_MOCK_STUBS_H

#include <stddef.h>

#include "ztpd/storage.h"

#define MOCK_UNUSED __attribute__((unused))

static int mock_handle;

MOCK_UNUSED static int m_open(void **h, const struct ztpd_storage_host *host)
{
    (void)host;
    *h = &mock_handle;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static void m_close(void *h)
{
    (void)h;
}

MOCK_UNUSED static int m_migrate(void *h, int *version)
{
    (void)h;
    *version = 1;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_txn(void *h)
{
    (void)h;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_device_put(void *h, const struct ztpd_device_rec *d, int mode)
{
    (void)h, (void)d, (void)mode;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_device_get(void *h, const char *mac, struct ztpd_device_rec *out)
{
    (void)h, (void)mac, (void)out;
    return ZTPD_STORAGE_ENOTFOUND;
}

MOCK_UNUSED static int m_by_key(void *h, const char *key)
{
    (void)h, (void)key;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_device_list(void *h, ztpd_device_row_cb cb, void *arg)
{
    (void)h, (void)cb, (void)arg;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_device_touch(void *h, const char *mac, int64_t at)
{
    (void)h, (void)mac, (void)at;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_extension_put(void *h, const struct ztpd_extension_rec *e)
{
    (void)h, (void)e;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_extension_list(void *h, ztpd_extension_row_cb cb, void *arg)
{
    (void)h, (void)cb, (void)arg;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_registration_upsert(void *h, const struct ztpd_registration_rec *r,
                                             int64_t *id_out)
{
    (void)h, (void)r;
    if (id_out)
        *id_out = 1;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_registration_delete(void *h, int64_t id)
{
    (void)h, (void)id;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_registration_list(void *h, ztpd_registration_row_cb cb, void *arg)
{
    (void)h, (void)cb, (void)arg;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_registration_cleanup(void *h, const struct ztpd_cleanup_policy *p,
                                              int *removed, int *kept)
{
    (void)h, (void)p;
    *removed = 0;
    *kept = 0;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_request_append(void *h, const struct ztpd_request_rec *rows, size_t n)
{
    (void)h, (void)rows, (void)n;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_request_query(void *h, size_t limit, ztpd_request_row_cb cb, void *arg)
{
    (void)h, (void)limit, (void)cb, (void)arg;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_request_trim(void *h, size_t keep)
{
    (void)h, (void)keep;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_discovered_upsert(void *h, const struct ztpd_discovered_rec *d)
{
    (void)h, (void)d;
    return ZTPD_STORAGE_OK;
}

MOCK_UNUSED static int m_discovered_list(void *h, ztpd_discovered_row_cb cb, void *arg)
{
    (void)h, (void)cb, (void)arg;
    return ZTPD_STORAGE_OK;
}

/* Every mandatory function, for the designated initializer of a descriptor. */
#define MOCK_MANDATORY                                                                             \
    .open = m_open, .close = m_close, .migrate = m_migrate, .begin = m_txn, .commit = m_txn,       \
    .rollback = m_txn, .device_put = m_device_put, .device_get = m_device_get,                     \
    .device_delete = m_by_key, .device_list = m_device_list, .device_touch = m_device_touch,       \
    .extension_put = m_extension_put, .extension_delete = m_by_key,                                \
    .extension_list = m_extension_list, .registration_upsert = m_registration_upsert,              \
    .registration_delete = m_registration_delete, .registration_list = m_registration_list,        \
    .registration_cleanup = m_registration_cleanup, .request_append = m_request_append,            \
    .request_query = m_request_query, .request_trim = m_request_trim,                              \
    .discovered_upsert = m_discovered_upsert, .discovered_list = m_discovered_list,                \
    .discovered_delete = m_by_key

/* The entry point every mock but no_entry exports. */
const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *host);

#endif
