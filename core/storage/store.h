/* The storage thread: owns the backend connection and runs operations submitted from the
 * loop thread, one at a time; completions come back to the loop through uv_async.
 *
 * Writes the API acknowledges are submitted as ops and answered in their done callback, i.e.
 * after commit. High-rate writes (last_provisioned touches, the request log) are batched in
 * memory on the loop thread and written in one transaction at most every 100 ms; stop flushes
 * them. While the backend reports EUNAVAIL, batches are kept and retried. */
#ifndef ZTPD_STORAGE_STORE_H
#define ZTPD_STORAGE_STORE_H

#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "ztpd/storage.h"

struct ztpd_store;
struct ztpd_store_op;

/* Runs on the storage thread: do the backend calls, set op->status. */
typedef void (*ztpd_store_run_fn)(const struct ztpd_storage_backend *be, void *h,
                                  struct ztpd_store_op *op);
/* Runs on the loop thread after run(); the op's owner frees it here if it wants. */
typedef void (*ztpd_store_done_fn)(struct ztpd_store_op *op);

/* Embed this at the start of (or anywhere in) your own op struct. */
struct ztpd_store_op {
    ztpd_store_run_fn run;
    ztpd_store_done_fn done;
    int status;                 /* ZTPD_STORAGE_* result set by run() */
    struct ztpd_store_op *next; /* queue link, owned by the store */
};

/* Loads the configured backend, opens it and migrates the schema (synchronously: this runs
 * at startup before the loop serves anything, and in CLI tools). The thread is not started.
 * On failure returns a ZTPD_E* code and writes a message to err. *out owned by the caller. */
int ztpd_store_open(struct ztpd_store **out, uv_loop_t *loop, const struct ztpd_config *cfg,
                    char *err, size_t errlen);

/* Flags of ztpd_store_open_flags(). NO_MIGRATE: open the database as it is, writing nothing
 * (`ztpd db verify` next to a live daemon, `ztpd db migrate` reading the old version first);
 * the schema version is then the one found (0: none; -1: the backend cannot tell). */
#define ZTPD_STORE_NO_MIGRATE 1u

/* ztpd_store_open() with flags (0 is ztpd_store_open()). */
int ztpd_store_open_flags(struct ztpd_store **out, uv_loop_t *loop, const struct ztpd_config *cfg,
                          unsigned flags, char *err, size_t errlen);

/* The backend descriptor and handle, for synchronous use before ztpd_store_start() only. */
const struct ztpd_storage_backend *ztpd_store_backend(struct ztpd_store *s);
void *ztpd_store_handle(struct ztpd_store *s);
/* Schema version after migration (after a NO_MIGRATE open: the version found). */
int ztpd_store_schema_version(struct ztpd_store *s);
/* The backend's shared object file (owned by the store). */
const char *ztpd_store_module_path(const struct ztpd_store *s);

/* Starts the storage thread and the batch timer. Returns 0 or ZTPD_EIO. */
int ztpd_store_start(struct ztpd_store *s);

/* Queues op (loop thread only). The store never frees ops; done() is always called, also
 * when the store is stopping (status then ZTPD_STORAGE_EUNAVAIL). Ops run strictly in
 * submission order; ops submitted before start() wait for it. Once stop() has completed,
 * done() is called before submit returns. */
void ztpd_store_submit(struct ztpd_store *s, struct ztpd_store_op *op);

/* Batched writes (loop thread only); copied, written within ~100 ms. */
void ztpd_store_touch(struct ztpd_store *s, const char *mac, int64_t at);
void ztpd_store_log_request(struct ztpd_store *s, const struct ztpd_request_rec *r);
/* Batched registration write of row r->id (> 0; inserts go through an op, which returns the
 * id): remove = 0 upserts it, 1 deletes it. Loop thread only; r is copied. */
void ztpd_store_registration(struct ztpd_store *s, const struct ztpd_registration_rec *r,
                             int remove);

/* 1 while the last backend call did not report EUNAVAIL. */
int ztpd_store_is_up(const struct ztpd_store *s);
/* Batched rows waiting to be written. */
size_t ztpd_store_pending(const struct ztpd_store *s);

/* Flushes batches, drains the queue, joins the thread and closes uv handles; cb(arg) runs
 * on the loop thread when all is done. Loop thread only. On a store never started, cb runs
 * before stop returns. */
void ztpd_store_stop(struct ztpd_store *s, void (*cb)(void *arg), void *arg);

/* Closes the backend and frees the store; after stop (or if never started). NULL is fine. */
void ztpd_store_free(struct ztpd_store *s);

/* Maps a ZTPD_STORAGE_* status to a ZTPD_E* code (ENOTFOUND -> ZTPD_ENOENT, ECONFLICT ->
 * ZTPD_EEXIST, EUNAVAIL -> ZTPD_EUNAVAIL, ESCHEMA -> ZTPD_EABI, ...). */
int ztpd_store_error(int status);

/* A short static message for a ZTPD_STORAGE_* status (never NULL). */
const char *ztpd_store_strstatus(int status);

#endif
