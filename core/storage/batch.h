/* High-rate writes waiting for the next flush, collected on the loop thread: device touches
 * (deduplicated by MAC, keeping the latest time) and request-log rows (in arrival order, at
 * most `max_requests`, the oldest dropped first).
 *
 * ztpd_batch_take() moves everything into a struct ztpd_batch_rows that the storage thread
 * owns while it writes; if the write fails, ztpd_batch_putback() returns the rows (as older
 * than anything collected since). Not thread-safe: the loop thread owns struct ztpd_batch. */
#ifndef ZTPD_STORAGE_BATCH_H
#define ZTPD_STORAGE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "ztpd/storage.h"

struct ztpd_batch_touch {
    char mac[ZTPD_S_MAC]; /* "" marks a free hash slot */
    int64_t at;
};

/* A registration row to write (upsert of rec.id) or delete (remove); rec.id > 0. */
struct ztpd_batch_reg {
    struct ztpd_registration_rec rec;
    int remove;
};

struct ztpd_batch {
    struct ztpd_batch_touch *slots; /* open-addressing hash by MAC, power-of-two size */
    size_t n_slots, n_touches;
    struct ztpd_batch_reg *regs; /* registration rows, one per id */
    size_t n_regs, cap_regs;
    size_t *reg_slots; /* open-addressing hash by id: index + 1 into regs, 0 = free */
    size_t n_reg_slots;
    struct ztpd_request_rec *reqs; /* ring buffer, oldest at reqs[head] */
    size_t head, n_reqs, cap_reqs, max_reqs;
    size_t dropped; /* request rows dropped since the counter was last reset by the owner */
};

/* A taken batch: plain arrays, oldest request first. */
struct ztpd_batch_rows {
    struct ztpd_batch_touch *touches;
    size_t n_touches;
    struct ztpd_request_rec *reqs;
    size_t n_reqs;
    struct ztpd_batch_reg *regs;
    size_t n_regs;
};

/* Initializes an empty batch holding at most max_requests request rows (at least 1). */
void ztpd_batch_init(struct ztpd_batch *b, size_t max_requests);

/* Frees the memory of a batch (it is empty afterwards and may be reused). */
void ztpd_batch_free(struct ztpd_batch *b);

/* Records a touch; an existing one for the same MAC keeps the later time. 0 or ZTPD_ENOMEM. */
int ztpd_batch_touch(struct ztpd_batch *b, const char mac[ZTPD_S_MAC], int64_t at);

/* Appends a request row, dropping the oldest (b->dropped++) when full. 0 or ZTPD_ENOMEM. */
int ztpd_batch_request(struct ztpd_batch *b, const struct ztpd_request_rec *r);

/* Records a registration write for row r->id (> 0): the latest upsert of an id replaces an
 * earlier one, and a delete wins over any upsert. 0, ZTPD_EINVAL (id <= 0) or ZTPD_ENOMEM. */
int ztpd_batch_registration(struct ztpd_batch *b, const struct ztpd_registration_rec *r,
                            int remove);

/* Rows waiting: touches, registration rows and request rows. */
size_t ztpd_batch_size(const struct ztpd_batch *b);

/* Moves all rows into *out (b is then empty). 0, or ZTPD_ENOMEM leaving b untouched. */
int ztpd_batch_take(struct ztpd_batch *b, struct ztpd_batch_rows *out);

/* Gives the rows of a failed write back to b, older than what b collected meanwhile; rows
 * beyond the cap are dropped (counted in b->dropped). Frees the arrays of rows. */
void ztpd_batch_putback(struct ztpd_batch *b, struct ztpd_batch_rows *rows);

/* Frees the arrays of taken rows (NULL members are fine). */
void ztpd_batch_rows_free(struct ztpd_batch_rows *rows);

#endif
