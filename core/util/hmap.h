/* A string-keyed hash map (open addressing, linear probing) for the in-memory registry.
 * Keys are copied; values are opaque pointers owned by the caller. Not thread-safe. */
#ifndef ZTPD_UTIL_HMAP_H
#define ZTPD_UTIL_HMAP_H

#include <stddef.h>

struct ztpd_hmap;

/* New empty map; *out owned by the caller, freed with ztpd_hmap_free(). */
int ztpd_hmap_new(struct ztpd_hmap **out);
/* Frees the map and its key copies, not the values (NULL is fine). */
void ztpd_hmap_free(struct ztpd_hmap *m);
/* Inserts or replaces; *old (if not NULL) receives the replaced value or NULL. 0 or ZTPD_ENOMEM. */
int ztpd_hmap_put(struct ztpd_hmap *m, const char *key, void *value, void **old);
/* Value for key, or NULL. */
void *ztpd_hmap_get(const struct ztpd_hmap *m, const char *key);
/* Removes key and returns its value, or NULL if absent. */
void *ztpd_hmap_remove(struct ztpd_hmap *m, const char *key);
/* Number of entries. */
size_t ztpd_hmap_count(const struct ztpd_hmap *m);
/* Calls cb for every entry in unspecified order; the map must not change meanwhile. */
void ztpd_hmap_each(const struct ztpd_hmap *m, void (*cb)(const char *key, void *value, void *arg),
                    void *arg);

#endif
