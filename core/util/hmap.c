#include "util/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct slot {
    char *key; /* NULL = empty; TOMBSTONE = deleted */
    void *value;
    uint64_t hash;
};

struct ztpd_hmap {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t used; /* count + tombstones: drives growth so probes stay short */
};

static char tombstone;
#define TOMBSTONE (&tombstone)

static uint64_t hash_str(const char *s)
{
    /* FNV-1a: keys are short (MACs, extension numbers), so a simple hash is enough. */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int ztpd_hmap_new(struct ztpd_hmap **out)
{
    struct ztpd_hmap *m = calloc(1, sizeof *m);
    if (!m)
        return ZTPD_ENOMEM;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return ZTPD_ENOMEM;
    }
    *out = m;
    return 0;
}

void ztpd_hmap_free(struct ztpd_hmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static struct slot *find(const struct ztpd_hmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static int grow(struct ztpd_hmap *m)
{
    size_t ncap = m->count * 4 > m->cap ? m->cap * 2 : m->cap;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return ZTPD_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct slot *s = &m->slots[i];
        if (!s->key || s->key == TOMBSTONE)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->count;
    return 0;
}

int ztpd_hmap_put(struct ztpd_hmap *m, const char *key, void *value, void **old)
{
    uint64_t h = hash_str(key);
    struct slot *s = find(m, key, h);
    if (old)
        *old = s ? s->value : NULL;
    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    char *k = strdup(key);
    if (!k)
        return ZTPD_ENOMEM;
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (struct slot){k, value, h};
    m->count++;
    return 0;
}

void *ztpd_hmap_get(const struct ztpd_hmap *m, const char *key)
{
    struct slot *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

void *ztpd_hmap_remove(struct ztpd_hmap *m, const char *key)
{
    struct slot *s = find(m, key, hash_str(key));
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->count--;
    return v;
}

size_t ztpd_hmap_count(const struct ztpd_hmap *m)
{
    return m->count;
}

void ztpd_hmap_each(const struct ztpd_hmap *m, void (*cb)(const char *key, void *value, void *arg),
                    void *arg)
{
    for (size_t i = 0; i < m->cap; i++) {
        struct slot *s = &m->slots[i];
        if (s->key && s->key != TOMBSTONE)
            cb(s->key, s->value, arg);
    }
}
