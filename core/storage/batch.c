#include "storage/batch.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MIN_SLOTS 64
#define MIN_REQS 64

void ztpd_batch_init(struct ztpd_batch *b, size_t max_requests)
{
    memset(b, 0, sizeof *b);
    b->max_reqs = max_requests ? max_requests : 1;
}

void ztpd_batch_free(struct ztpd_batch *b)
{
    size_t max = b->max_reqs;
    free(b->slots);
    free(b->reqs);
    ztpd_batch_init(b, max);
}

/* FNV-1a: MACs of one vendor share their first half, so every character must count. */
static size_t mac_hash(const char *mac)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < ZTPD_S_MAC - 1 && mac[i]; i++) {
        h ^= (unsigned char)mac[i];
        h *= 16777619u;
    }
    return h;
}

static struct ztpd_batch_touch *slot_for(struct ztpd_batch_touch *slots, size_t n_slots,
                                         const char *mac)
{
    size_t mask = n_slots - 1;
    for (size_t i = mac_hash(mac) & mask;; i = (i + 1) & mask) {
        if (!slots[i].mac[0] || strcmp(slots[i].mac, mac) == 0)
            return &slots[i];
    }
}

static int grow_slots(struct ztpd_batch *b)
{
    size_t n = b->n_slots ? b->n_slots * 2 : MIN_SLOTS;
    struct ztpd_batch_touch *slots = calloc(n, sizeof *slots);
    if (!slots)
        return ZTPD_ENOMEM;
    for (size_t i = 0; i < b->n_slots; i++) {
        if (b->slots[i].mac[0])
            *slot_for(slots, n, b->slots[i].mac) = b->slots[i];
    }
    free(b->slots);
    b->slots = slots;
    b->n_slots = n;
    return 0;
}

int ztpd_batch_touch(struct ztpd_batch *b, const char mac[ZTPD_S_MAC], int64_t at)
{
    char key[ZTPD_S_MAC];
    size_t len = strnlen(mac, ZTPD_S_MAC - 1);
    if (len == 0)
        return ZTPD_EINVAL;
    memcpy(key, mac, len);
    key[len] = '\0';
    /* Keep the table at most half full so probes stay short. */
    if ((b->n_touches + 1) * 2 > b->n_slots && grow_slots(b) != 0)
        return ZTPD_ENOMEM;
    struct ztpd_batch_touch *t = slot_for(b->slots, b->n_slots, key);
    if (!t->mac[0]) {
        memcpy(t->mac, key, len + 1);
        t->at = at;
        b->n_touches++;
    } else if (at > t->at) {
        t->at = at;
    }
    return 0;
}

/* Makes room for one more request row when the ring is full but below the cap. */
static int grow_reqs(struct ztpd_batch *b)
{
    size_t n = b->cap_reqs ? b->cap_reqs * 2 : MIN_REQS;
    if (n > b->max_reqs)
        n = b->max_reqs;
    struct ztpd_request_rec *r = malloc(n * sizeof *r);
    if (!r)
        return ZTPD_ENOMEM;
    for (size_t i = 0; i < b->n_reqs; i++)
        r[i] = b->reqs[(b->head + i) % b->cap_reqs];
    free(b->reqs);
    b->reqs = r;
    b->cap_reqs = n;
    b->head = 0;
    return 0;
}

int ztpd_batch_request(struct ztpd_batch *b, const struct ztpd_request_rec *r)
{
    if (b->n_reqs == b->max_reqs) {
        /* Full: the newest row is worth more than the oldest one, overwrite it. */
        b->reqs[b->head] = *r;
        b->head = (b->head + 1) % b->cap_reqs;
        b->dropped++;
        return 0;
    }
    if (b->n_reqs == b->cap_reqs && grow_reqs(b) != 0)
        return ZTPD_ENOMEM;
    b->reqs[(b->head + b->n_reqs) % b->cap_reqs] = *r;
    b->n_reqs++;
    return 0;
}

size_t ztpd_batch_size(const struct ztpd_batch *b)
{
    return b->n_touches + b->n_reqs;
}

int ztpd_batch_take(struct ztpd_batch *b, struct ztpd_batch_rows *out)
{
    memset(out, 0, sizeof *out);
    if (b->n_touches) {
        out->touches = malloc(b->n_touches * sizeof *out->touches);
        if (!out->touches)
            return ZTPD_ENOMEM;
    }
    if (b->n_reqs) {
        out->reqs = malloc(b->n_reqs * sizeof *out->reqs);
        if (!out->reqs) {
            free(out->touches);
            out->touches = NULL;
            return ZTPD_ENOMEM;
        }
    }
    for (size_t i = 0; i < b->n_slots; i++) {
        if (b->slots[i].mac[0])
            out->touches[out->n_touches++] = b->slots[i];
    }
    for (size_t i = 0; i < b->n_reqs; i++)
        out->reqs[i] = b->reqs[(b->head + i) % b->cap_reqs];
    out->n_reqs = b->n_reqs;
    /* Keep the slot table (its size fits the device count) but empty it; the ring too. */
    if (b->slots)
        memset(b->slots, 0, b->n_slots * sizeof *b->slots);
    b->n_touches = 0;
    b->head = 0;
    b->n_reqs = 0;
    return 0;
}

/* Puts one row in front of the ring, i.e. as the oldest. 0, or -1 when it had to be dropped. */
static int push_front(struct ztpd_batch *b, const struct ztpd_request_rec *r)
{
    if (b->n_reqs == b->max_reqs)
        return -1;
    if (b->n_reqs == b->cap_reqs && grow_reqs(b) != 0)
        return -1;
    b->head = (b->head + b->cap_reqs - 1) % b->cap_reqs;
    b->reqs[b->head] = *r;
    b->n_reqs++;
    return 0;
}

void ztpd_batch_putback(struct ztpd_batch *b, struct ztpd_batch_rows *rows)
{
    for (size_t i = 0; i < rows->n_touches; i++) {
        /* A touch lost to memory pressure only leaves last_provisioned a little stale. */
        (void)ztpd_batch_touch(b, rows->touches[i].mac, rows->touches[i].at);
    }
    /* Newest of the old rows first, so when the cap is reached it is the oldest that go. */
    for (size_t i = rows->n_reqs; i > 0; i--) {
        if (push_front(b, &rows->reqs[i - 1]) != 0) {
            b->dropped += i;
            break;
        }
    }
    ztpd_batch_rows_free(rows);
}

void ztpd_batch_rows_free(struct ztpd_batch_rows *rows)
{
    free(rows->touches);
    free(rows->reqs);
    memset(rows, 0, sizeof *rows);
}
