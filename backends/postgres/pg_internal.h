/* Internals of libztpd-postgres.so, shared by its source files and by nothing else.
 *
 * One `struct pg` per connection: the libpq connection, the host table it logs through and
 * which statements are prepared on it (prepared on first use; a reset connection starts with
 * none). Everything here has hidden visibility, so the module exports ztpd_storage_entry_v1
 * alone. */
#ifndef ZTPD_PG_INTERNAL_H
#define ZTPD_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mac.h"
#include "ztpd/storage.h"

#pragma GCC visibility push(hidden)

/* Prepared statements; their SQL is pg_sql[] in pg_ops.c, their names "z<id>". */
enum pg_stmt_id {
    PG_DEVICE_INSERT,
    PG_DEVICE_UPSERT,
    PG_DEVICE_GET,
    PG_DEVICE_DELETE,
    PG_DEVICE_LIST,
    PG_DEVICE_TOUCH,
    PG_EXT_PUT,
    PG_EXT_DELETE,
    PG_EXT_LIST,
    PG_REG_INSERT,
    PG_REG_UPDATE,
    PG_REG_DELETE,
    PG_REG_LIST,
    PG_REG_CLEANUP,
    PG_REG_COUNT,
    PG_REQ_INSERT,
    PG_REQ_QUERY,
    PG_REQ_TRIM,
    PG_DISC_UPSERT,
    PG_DISC_LIST,
    PG_DISC_DELETE,
    PG_PING,
    PG_DEVICE_INSERT_MANY,
    PG_STMT_COUNT
};

extern const char *const pg_sql[PG_STMT_COUNT];

struct pg {
    PGconn *conn;
    const struct ztpd_storage_host *host;
    unsigned char prepared[PG_STMT_COUNT];
    int in_tx; /* the caller's begin() succeeded and no commit/rollback followed yet */
    int down;  /* the last reconnect failed (and was logged as a warning) */
};

/* Parameters of one statement, all sent as text; NULL values are SQL NULLs. */
#define PG_MAX_PARAMS 16
struct pg_params {
    const char *v[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
    int n;
    int bad; /* a string field was not NUL-terminated within its size, or too many params */
};

/* Logs through the host table (level as in ztpd_storage_host.log). */
void pg_log(const struct pg *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Makes sure the connection is usable, resetting it once when it is broken.
 * Returns OK or EUNAVAIL. */
int pg_ready(struct pg *p);

/* Runs prepared statement `id` (preparing it first on this connection). On success *res holds
 * the result for the caller to PQclear (when res is not NULL); on failure returns a status. */
int pg_run(struct pg *p, enum pg_stmt_id id, const struct pg_params *pp, PGresult **res,
           const char *what);

/* One-shot SQL without parameters (migrations, transactions). Same contract as pg_run. */
int pg_exec(struct pg *p, const char *sql, PGresult **res, const char *what);

/* Transactions, with the ABI's signatures. */
int pg_begin(void *h);
int pg_commit(void *h);
int pg_rollback(void *h);

/* Parameter builders. Text: a field of `cap` bytes; _opt sends "" as NULL, for columns where
 * absence matters (registration cleanup treats NULL and "" alike). Time: 0 is NULL. */
void pp_text(struct pg_params *pp, const char *s, size_t cap);
void pp_text_opt(struct pg_params *pp, const char *s, size_t cap);
void pp_int(struct pg_params *pp, int64_t v);
void pp_time(struct pg_params *pp, int64_t t);
void pp_bool(struct pg_params *pp, int b);
void pp_null(struct pg_params *pp);

#define PP_TEXT(pp, field) pp_text(pp, field, sizeof(field))
#define PP_OPT(pp, field) pp_text_opt(pp, field, sizeof(field))

/* Result readers: NULL reads as "" / 0; long values are truncated, never overflowed. */
void pg_col_text(const PGresult *res, int row, int col, char *out, size_t cap);
int64_t pg_col_int(const PGresult *res, int row, int col);

#define PG_COL(res, row, col, field) pg_col_text(res, row, col, field, sizeof(field))

int64_t pg_now(void);

/* Schema (pg_schema.c). */
int pg_migrate(void *h, int *version);
int pg_schema_info(void *h, int *current, int *latest);

/* Domain operations (pg_ops.c), with the ABI's signatures. */
int pg_device_put(void *h, const struct ztpd_device_rec *d, int mode);
int pg_device_put_many(void *h, const struct ztpd_device_rec *rows, size_t n, int mode,
                       size_t *failed_index);
int pg_device_get(void *h, const char *mac, struct ztpd_device_rec *out);
int pg_device_delete(void *h, const char *mac);
int pg_device_list(void *h, ztpd_device_row_cb cb, void *arg);
int pg_device_touch(void *h, const char *mac, int64_t at);
int pg_extension_put(void *h, const struct ztpd_extension_rec *e);
int pg_extension_delete(void *h, const char *number);
int pg_extension_list(void *h, ztpd_extension_row_cb cb, void *arg);
int pg_registration_upsert(void *h, const struct ztpd_registration_rec *r, int64_t *id_out);
int pg_registration_delete(void *h, int64_t id);
int pg_registration_list(void *h, ztpd_registration_row_cb cb, void *arg);
int pg_registration_cleanup(void *h, const struct ztpd_cleanup_policy *p, int *removed, int *kept);
int pg_request_append(void *h, const struct ztpd_request_rec *rows, size_t n);
int pg_request_query(void *h, size_t limit, ztpd_request_row_cb cb, void *arg);
int pg_request_trim(void *h, size_t keep);
int pg_discovered_upsert(void *h, const struct ztpd_discovered_rec *d);
int pg_discovered_list(void *h, ztpd_discovered_row_cb cb, void *arg);
int pg_discovered_delete(void *h, const char *mac);

#pragma GCC visibility pop

#endif
