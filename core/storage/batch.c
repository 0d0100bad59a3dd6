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
    free(b->regs);
    free(b->reg_slots);
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

static size_t *reg_slot_for(size_t *slots, size_t n_slots, const struct ztpd_batch_reg *regs,
                            int64_t id)
{
    size_t mask = n_slots - 1;
    /* Ids are sequential: multiplying spreads neighbours over the table. */
    for (size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 20) & mask;;
         i = (i + 1) & mask) {
        if (!slots[i] || regs[slots[i] - 1].rec.id == id)
            return &slots[i];
    }
}

static int grow_reg_slots(struct ztpd_batch *b)
{
    size_t n = b->n_reg_slots ? b->n_reg_slots * 2 : MIN_SLOTS;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return ZTPD_ENOMEM;
    for (size_t i = 0; i < b->n_regs; i++)
        *reg_slot_for(slots, n, b->regs, b->regs[i].rec.id) = i + 1;
    free(b->reg_slots);
    b->reg_slots = slots;
    b->n_reg_slots = n;
    return 0;
}

int ztpd_batch_registration(struct ztpd_batch *b, const struct ztpd_registration_rec *r, int remove)
{
    if (!r || r->id <= 0)
        return ZTPD_EINVAL;
    if ((b->n_regs + 1) * 2 > b->n_reg_slots && grow_reg_slots(b) != 0)
        return ZTPD_ENOMEM;
    size_t *slot = reg_slot_for(b->reg_slots, b->n_reg_slots, b->regs, r->id);
    if (*slot) {
        struct ztpd_batch_reg *e = &b->regs[*slot - 1];
        if (e->remove)
            return 0; /* the row is going: a late refresh must not bring it back */
        e->rec = *r;
        e->remove = remove;
        return 0;
    }
    if (b->n_regs == b->cap_regs) {
        size_t n = b->cap_regs ? b->cap_regs * 2 : MIN_REQS;
        struct ztpd_batch_reg *regs = realloc(b->regs, n * sizeof *regs);
        if (!regs)
            return ZTPD_ENOMEM;
        b->regs = regs;
        b->cap_regs = n;
    }
    b->regs[b->n_regs].rec = *r;
    b->regs[b->n_regs].remove = remove;
    *slot = ++b->n_regs;
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
    return b->n_touches + b->n_reqs + b->n_regs;
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
    if (b->n_regs) {
        out->regs = malloc(b->n_regs * sizeof *out->regs);
        if (!out->regs) {
            free(out->touches);
            free(out->reqs);
            memset(out, 0, sizeof *out);
            return ZTPD_ENOMEM;
        }
        memcpy(out->regs, b->regs, b->n_regs * sizeof *out->regs);
        out->n_regs = b->n_regs;
        memset(b->reg_slots, 0, b->n_reg_slots * sizeof *b->reg_slots);
        b->n_regs = 0;
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
    for (size_t i = 0; i < rows->n_regs; i++) {
        struct ztpd_batch_reg *old = &rows->regs[i];
        size_t *slot = b->n_reg_slots
                           ? reg_slot_for(b->reg_slots, b->n_reg_slots, b->regs, old->rec.id)
                           : NULL;
        if (slot && *slot) {
            /* Collected since: newer values win, but a delete of either kind stands. */
            if (old->remove)
                b->regs[*slot - 1].remove = 1;
            continue;
        }
        (void)ztpd_batch_registration(b, &old->rec, old->remove);
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
    free(rows->regs);
    memset(rows, 0, sizeof *rows);
}
