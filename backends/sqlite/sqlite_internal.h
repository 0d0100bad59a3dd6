/* Internals of libztpd-sqlite.so, shared by its source files and by nothing else.
 *
 * One `struct sq` per open database: the connection, the host table it logs through and a
 * cache of prepared statements (prepared on first use, reset after each use). Everything here
 * has hidden visibility, so the module exports ztpd_storage_entry_v1 alone. */
#ifndef ZTPD_SQLITE_INTERNAL_H
#define ZTPD_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mac.h"
#include "ztpd/storage.h"

#pragma GCC visibility push(hidden)

/* Cached statements; their SQL is sq_sql[] in sqlite_ops.c. */
enum sq_stmt_id {
    SQ_DEVICE_INSERT,
    SQ_DEVICE_UPSERT,
    SQ_DEVICE_GET,
    SQ_DEVICE_DELETE,
    SQ_DEVICE_LIST,
    SQ_DEVICE_TOUCH,
    SQ_EXT_PUT,
    SQ_EXT_DELETE,
    SQ_EXT_LIST,
    SQ_REG_INSERT,
    SQ_REG_UPDATE,
    SQ_REG_DELETE,
    SQ_REG_LIST,
    SQ_REG_CLEANUP,
    SQ_REG_COUNT,
    SQ_REQ_INSERT,
    SQ_REQ_QUERY,
    SQ_REQ_TRIM,
    SQ_DISC_UPSERT,
    SQ_DISC_LIST,
    SQ_DISC_DELETE,
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_PING,
    SQ_STMT_COUNT
};

extern const char *const sq_sql[SQ_STMT_COUNT];

struct sq {
    sqlite3 *db;
    const struct ztpd_storage_host *host;
    sqlite3_stmt *stmt[SQ_STMT_COUNT];
};

/* Logs through the host table (level as in ztpd_storage_host.log). */
void sq_log(const struct sq *q, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Translates an sqlite result code into a ZTPD_STORAGE_* status, logging failures with what
 * was being done; OK, ROW and DONE are success. */
int sq_status(const struct sq *q, int rc, const char *what);

/* Returns the cached statement `id`, reset with bindings cleared, or NULL with *status set. */
sqlite3_stmt *sq_stmt(struct sq *q, enum sq_stmt_id id, int *status);

/* Steps a statement expected to produce no rows, then resets it. Returns a status. */
int sq_run(struct sq *q, sqlite3_stmt *st, const char *what);

/* Runs fn on every row of st (stopping when it returns non-zero), then resets st. */
typedef int (*sq_row_fn)(sqlite3_stmt *st, void *ctx);
int sq_each(struct sq *q, sqlite3_stmt *st, const char *what, sq_row_fn fn, void *ctx);

/* One-shot SQL (possibly several statements), for migrations and pragmas. */
int sq_exec(struct sq *q, const char *sql, const char *what);

/* Transactions used by ops that must be atomic when the caller did not open one. */
int sq_begin(void *h);
int sq_commit(void *h);
int sq_rollback(void *h);

/* Timestamps are stored as "YYYY-MM-DDTHH:MM:SS" UTC text, 0 <-> NULL. */
void sq_bind_time(sqlite3_stmt *st, int idx, int64_t t);
int64_t sq_col_time(sqlite3_stmt *st, int idx);
int64_t sq_now(void);

/* Strings: a field of `cap` bytes, read up to its NUL. The _opt flavour stores "" as NULL,
 * for columns where absence matters (registration cleanup treats NULL and "" alike). */
void sq_bind_text(sqlite3_stmt *st, int idx, const char *s, size_t cap);
void sq_bind_text_opt(sqlite3_stmt *st, int idx, const char *s, size_t cap);
void sq_col_text(sqlite3_stmt *st, int idx, char *out, size_t cap);

#define SQ_BIND(st, idx, field) sq_bind_text(st, idx, field, sizeof(field))
#define SQ_BIND_OPT(st, idx, field) sq_bind_text_opt(st, idx, field, sizeof(field))
#define SQ_COL(st, idx, field) sq_col_text(st, idx, field, sizeof(field))

/* Schema (sqlite_schema.c). */
int sq_migrate(void *h, int *version);
int sq_schema_info(void *h, int *current, int *latest);

/* Domain operations (sqlite_ops.c), with the ABI's signatures. */
int sq_device_put(void *h, const struct ztpd_device_rec *d, int mode);
int sq_device_put_many(void *h, const struct ztpd_device_rec *rows, size_t n, int mode,
                       size_t *failed_index);
int sq_device_get(void *h, const char *mac, struct ztpd_device_rec *out);
int sq_device_delete(void *h, const char *mac);
int sq_device_list(void *h, ztpd_device_row_cb cb, void *arg);
int sq_device_touch(void *h, const char *mac, int64_t at);
int sq_extension_put(void *h, const struct ztpd_extension_rec *e);
int sq_extension_delete(void *h, const char *number);
int sq_extension_list(void *h, ztpd_extension_row_cb cb, void *arg);
int sq_registration_upsert(void *h, const struct ztpd_registration_rec *r, int64_t *id_out);
int sq_registration_delete(void *h, int64_t id);
int sq_registration_list(void *h, ztpd_registration_row_cb cb, void *arg);
int sq_registration_cleanup(void *h, const struct ztpd_cleanup_policy *p, int *removed, int *kept);
int sq_request_append(void *h, const struct ztpd_request_rec *rows, size_t n);
int sq_request_query(void *h, size_t limit, ztpd_request_row_cb cb, void *arg);
int sq_request_trim(void *h, size_t keep);
int sq_discovered_upsert(void *h, const struct ztpd_discovered_rec *d);
int sq_discovered_list(void *h, ztpd_discovered_row_cb cb, void *arg);
int sq_discovered_delete(void *h, const char *mac);

#pragma GCC visibility pop

#endif
