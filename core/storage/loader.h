/* Loads a storage backend shared object with dlopen and validates its descriptor: ABI major,
 * struct size, mandatory functions. Errors name the file and the missing or wrong field. */
#ifndef ZTPD_STORAGE_LOADER_H
#define ZTPD_STORAGE_LOADER_H

#include <stddef.h>

#include "ztpd/storage.h"

struct ztpd_backend_module {
    void *dl;                              /* dlopen handle */
    const struct ztpd_storage_backend *be; /* validated descriptor (owned by the module) */
    char *path;
};

/* Resolves "sqlite" to <dir>/libztpd-sqlite.so, trying module_dir (if not NULL), then the
 * build tree, then the install dir. Returns 0 and writes out, or ZTPD_ENOENT; ZTPD_EINVAL when
 * name is not [a-z0-9_]+ (so it cannot name a path), ZTPD_ETOOBIG when out is too small. */
int ztpd_loader_find(const char *module_dir, const char *name, char *out, size_t outlen);

/* dlopens `path`, calls its entry symbol with host and validates the result. On success *out
 * is a new module the caller frees with ztpd_loader_close(). On failure returns ZTPD_EABI or
 * ZTPD_ENOENT (ZTPD_EINVAL/ZTPD_ENOMEM for bad arguments or memory) and writes a message naming
 * the file (e.g. "missing mandatory function device_put; rebuild the backend") into err.
 * `host` must outlive the module: the backend keeps the pointer. */
int ztpd_loader_open(struct ztpd_backend_module **out, const char *path,
                     const struct ztpd_storage_host *host, char *err, size_t errlen);

/* Returns 1 when the optional function at byte offset `off` of the descriptor is present
 * (inside struct_size and non-NULL). */
int ztpd_loader_has(const struct ztpd_storage_backend *be, size_t off);

/* dlcloses and frees (NULL is fine). */
void ztpd_loader_close(struct ztpd_backend_module *m);

#endif
