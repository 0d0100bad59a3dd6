#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "util/error.h"
#include "util/hmap.h"

struct ztpd_registry {
    struct ztpd_hmap *devices;    /* mac -> struct ztpd_device_rec* */
    struct ztpd_hmap *extensions; /* number -> struct ztpd_extension_rec* */
    uint64_t generation;
};

int ztpd_registry_new(struct ztpd_registry **out)
{
    struct ztpd_registry *r = calloc(1, sizeof *r);
    if (!r)
        return ZTPD_ENOMEM;
    if (ztpd_hmap_new(&r->devices) || ztpd_hmap_new(&r->extensions)) {
        ztpd_hmap_free(r->devices);
        free(r);
        return ZTPD_ENOMEM;
    }
    *out = r;
    return 0;
}

static void free_value(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

void ztpd_registry_free(struct ztpd_registry *r)
{
    if (!r)
        return;
    ztpd_hmap_each(r->devices, free_value, NULL);
    ztpd_hmap_each(r->extensions, free_value, NULL);
    ztpd_hmap_free(r->devices);
    ztpd_hmap_free(r->extensions);
    free(r);
}

static int load_device(const struct ztpd_device_rec *row, void *arg)
{
    return ztpd_registry_device_put(arg, row) ? 1 : 0;
}

static int load_extension(const struct ztpd_extension_rec *row, void *arg)
{
    return ztpd_registry_extension_put(arg, row) ? 1 : 0;
}

int ztpd_registry_load(struct ztpd_registry *r, const struct ztpd_storage_backend *be, void *h)
{
    int rc = be->extension_list(h, load_extension, r);
    if (rc == 0)
        rc = be->device_list(h, load_device, r);
#ifdef __GLIBC__
    /* A backend may hold a whole result set while it lists (libpq does): give those freed
     * megabytes back to the system instead of keeping them in the heap for the daemon's life. */
    malloc_trim(0);
#endif
    return rc;
}

const struct ztpd_device_rec *ztpd_registry_device(const struct ztpd_registry *r, const char *mac)
{
    return ztpd_hmap_get(r->devices, mac);
}

int ztpd_registry_device_put(struct ztpd_registry *r, const struct ztpd_device_rec *d)
{
    struct ztpd_device_rec *copy = malloc(sizeof *copy);
    if (!copy)
        return ZTPD_ENOMEM;
    *copy = *d;
    void *old = NULL;
    if (ztpd_hmap_put(r->devices, copy->mac, copy, &old)) {
        free(copy);
        return ZTPD_ENOMEM;
    }
    free(old);
    r->generation++;
    return 0;
}

int ztpd_registry_device_remove(struct ztpd_registry *r, const char *mac)
{
    void *old = ztpd_hmap_remove(r->devices, mac);
    if (!old)
        return ZTPD_ENOENT;
    free(old);
    r->generation++;
    return 0;
}

void ztpd_registry_device_touch(struct ztpd_registry *r, const char *mac, int64_t at)
{
    struct ztpd_device_rec *d = ztpd_hmap_get(r->devices, mac);
    /* last_provisioned is not rendered into configs, so the generation stays. */
    if (d)
        d->last_provisioned = at;
}

struct collect {
    const void **items;
    size_t n;
};

static void collect_cb(const char *key, void *value, void *arg)
{
    struct collect *c = arg;
    (void)key;
    c->items[c->n++] = value;
}

static int cmp_device(const void *a, const void *b)
{
    const struct ztpd_device_rec *x = *(const struct ztpd_device_rec *const *)a;
    const struct ztpd_device_rec *y = *(const struct ztpd_device_rec *const *)b;
    return strcmp(x->mac, y->mac);
}

static int cmp_extension(const void *a, const void *b)
{
    const struct ztpd_extension_rec *x = *(const struct ztpd_extension_rec *const *)a;
    const struct ztpd_extension_rec *y = *(const struct ztpd_extension_rec *const *)b;
    size_t lx = strlen(x->number), ly = strlen(y->number);
    /* Numeric order for digit strings: 999 before 1000. */
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x->number, y->number);
}

static const void **sorted(struct ztpd_hmap *m, size_t *n, int (*cmp)(const void *, const void *))
{
    size_t count = ztpd_hmap_count(m);
    struct collect c = {calloc(count ? count : 1, sizeof(void *)), 0};
    if (!c.items) {
        *n = 0;
        return NULL;
    }
    ztpd_hmap_each(m, collect_cb, &c);
    qsort(c.items, c.n, sizeof(void *), cmp);
    *n = c.n;
    return c.items;
}

const struct ztpd_device_rec **ztpd_registry_devices(const struct ztpd_registry *r, size_t *n)
{
    return (const struct ztpd_device_rec **)sorted(r->devices, n, cmp_device);
}

struct ext_count {
    const char *number;
    size_t n;
};

static void count_ext(const char *key, void *value, void *arg)
{
    struct ext_count *c = arg;
    const struct ztpd_device_rec *d = value;
    (void)key;
    if (strcmp(d->extension, c->number) == 0)
        c->n++;
}

size_t ztpd_registry_devices_for_extension(const struct ztpd_registry *r, const char *number)
{
    struct ext_count c = {number, 0};
    ztpd_hmap_each(r->devices, count_ext, &c);
    return c.n;
}

struct ext_counts {
    struct ztpd_hmap *index; /* number -> size_t* into the counts array */
};

static void count_into(const char *key, void *value, void *arg)
{
    struct ext_counts *c = arg;
    const struct ztpd_device_rec *d = value;
    (void)key;
    size_t *n = ztpd_hmap_get(c->index, d->extension);
    if (n)
        ++*n;
}

size_t *ztpd_registry_count_devices(const struct ztpd_registry *r,
                                    const struct ztpd_extension_rec *const *exts, size_t n)
{
    size_t *counts = calloc(n ? n : 1, sizeof *counts);
    struct ext_counts c = {NULL};
    if (!counts || ztpd_hmap_new(&c.index)) {
        free(counts);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (ztpd_hmap_put(c.index, exts[i]->number, &counts[i], NULL)) {
            ztpd_hmap_free(c.index);
            free(counts);
            return NULL;
        }
    }
    ztpd_hmap_each(r->devices, count_into, &c);
    ztpd_hmap_free(c.index);
    return counts;
}

size_t ztpd_registry_device_count(const struct ztpd_registry *r)
{
    return ztpd_hmap_count(r->devices);
}

const struct ztpd_extension_rec *ztpd_registry_extension(const struct ztpd_registry *r,
                                                         const char *number)
{
    return ztpd_hmap_get(r->extensions, number);
}

int ztpd_registry_extension_put(struct ztpd_registry *r, const struct ztpd_extension_rec *e)
{
    struct ztpd_extension_rec *copy = malloc(sizeof *copy);
    if (!copy)
        return ZTPD_ENOMEM;
    *copy = *e;
    void *old = NULL;
    if (ztpd_hmap_put(r->extensions, copy->number, copy, &old)) {
        free(copy);
        return ZTPD_ENOMEM;
    }
    free(old);
    r->generation++;
    return 0;
}

int ztpd_registry_extension_remove(struct ztpd_registry *r, const char *number)
{
    void *old = ztpd_hmap_remove(r->extensions, number);
    if (!old)
        return ZTPD_ENOENT;
    free(old);
    r->generation++;
    return 0;
}

const struct ztpd_extension_rec **ztpd_registry_extensions(const struct ztpd_registry *r, size_t *n)
{
    return (const struct ztpd_extension_rec **)sorted(r->extensions, n, cmp_extension);
}

size_t ztpd_registry_extension_count(const struct ztpd_registry *r)
{
    return ztpd_hmap_count(r->extensions);
}

uint64_t ztpd_registry_generation(const struct ztpd_registry *r)
{
    return r->generation;
}

void ztpd_registry_bump(struct ztpd_registry *r)
{
    r->generation++;
}
