/* The in-memory registry (loop thread only): devices by MAC and extensions by number, loaded
 * from storage at startup and updated after each committed write. Everything the provisioning
 * hot path needs is here, so it never waits on the database. Records are copies owned by the
 * registry; pointers returned stay valid until that entry is replaced or removed. */
#ifndef ZTPD_REGISTRY_REGISTRY_H
#define ZTPD_REGISTRY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "ztpd/storage.h"

struct ztpd_registry;

/* New empty registry; *out owned by the caller. */
int ztpd_registry_new(struct ztpd_registry **out);
/* Frees the registry and every record (NULL is fine). */
void ztpd_registry_free(struct ztpd_registry *r);

/* Loads every device and extension through the backend (startup, before the storage thread
 * runs). Returns 0 or the backend's ZTPD_STORAGE_* code. */
int ztpd_registry_load(struct ztpd_registry *r, const struct ztpd_storage_backend *be, void *h);

/* Device lookup by normalized MAC, or NULL. */
const struct ztpd_device_rec *ztpd_registry_device(const struct ztpd_registry *r, const char *mac);
/* Inserts or replaces a device (copied). 0 or ZTPD_ENOMEM. */
int ztpd_registry_device_put(struct ztpd_registry *r, const struct ztpd_device_rec *d);
/* Removes a device; 0 or ZTPD_ENOENT. */
int ztpd_registry_device_remove(struct ztpd_registry *r, const char *mac);
/* Sets last_provisioned in memory (the store batches the same change to disk). */
void ztpd_registry_device_touch(struct ztpd_registry *r, const char *mac, int64_t at);
/* All devices sorted by MAC: a new array of pointers the caller frees (not the records). */
const struct ztpd_device_rec **ztpd_registry_devices(const struct ztpd_registry *r, size_t *n);
/* Number of devices using an extension (one pass over all devices). */
size_t ztpd_registry_devices_for_extension(const struct ztpd_registry *r, const char *number);
/* Devices per extension for each of exts[0..n), in one pass over the devices: counts[i] is for
 * exts[i]. Returns a calloc'd array the caller frees, or NULL when out of memory. */
size_t *ztpd_registry_count_devices(const struct ztpd_registry *r,
                                    const struct ztpd_extension_rec *const *exts, size_t n);
size_t ztpd_registry_device_count(const struct ztpd_registry *r);

/* Extension lookup by number, or NULL. */
const struct ztpd_extension_rec *ztpd_registry_extension(const struct ztpd_registry *r,
                                                         const char *number);
/* Inserts or replaces an extension (copied). 0 or ZTPD_ENOMEM. */
int ztpd_registry_extension_put(struct ztpd_registry *r, const struct ztpd_extension_rec *e);
/* Removes an extension; 0 or ZTPD_ENOENT. */
int ztpd_registry_extension_remove(struct ztpd_registry *r, const char *number);
/* All extensions sorted by number: a new array of pointers the caller frees. */
const struct ztpd_extension_rec **ztpd_registry_extensions(const struct ztpd_registry *r,
                                                           size_t *n);
size_t ztpd_registry_extension_count(const struct ztpd_registry *r);

/* A counter bumped by every change; caches compare it to know they are stale. */
uint64_t ztpd_registry_generation(const struct ztpd_registry *r);
/* Bumps the generation (used on template/vendor reload too). */
void ztpd_registry_bump(struct ztpd_registry *r);

#endif
