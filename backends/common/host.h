/* Host-table helpers shared by the storage backends (header-only: a backend links nothing of
 * the daemon). A host built for an older ABI may be shorter than ours, so every field is read
 * only when it lies inside host->struct_size. */
#ifndef ZTPD_BACKENDS_COMMON_HOST_H
#define ZTPD_BACKENDS_COMMON_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ztpd/storage.h"

#define BACKEND_HOST_HAS(host, f)                                                                  \
    ((host) && (host)->struct_size >= offsetof(struct ztpd_storage_host, f) + sizeof((host)->f) && \
     (host)->f)

/* Formats a message and hands it to the host's logger (trailing newlines dropped: library
 * messages often end in one, and the daemon's log adds its own). */
static inline void backend_host_logv(const struct ztpd_storage_host *host, int level,
                                     const char *fmt, va_list ap)
{
    if (!BACKEND_HOST_HAS(host, log))
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    host->log(host->ctx, level, msg);
}

/* The host's config value for a dotted key, or NULL (owned by the host). */
static inline const char *backend_host_config(const struct ztpd_storage_host *host, const char *key)
{
    if (!BACKEND_HOST_HAS(host, config_get))
        return NULL;
    return host->config_get(host->ctx, key);
}

/* Defines the module's only export, which hands the daemon the descriptor `desc`. A host of
 * another major would hand us a table we cannot read safely, so it gets NULL. */
#define BACKEND_ENTRY_V1(desc)                                                                     \
    __attribute__((visibility("default"))) const struct ztpd_storage_backend *                     \
    ztpd_storage_entry_v1(const struct ztpd_storage_host *host);                                   \
    __attribute__((visibility("default"))) const struct ztpd_storage_backend *                     \
    ztpd_storage_entry_v1(const struct ztpd_storage_host *host)                                    \
    {                                                                                              \
        if (!host || host->abi_major != ZTPD_STORAGE_ABI_MAJOR)                                    \
            return NULL;                                                                           \
        return &(desc);                                                                            \
    }

#endif
