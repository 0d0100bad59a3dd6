/* libztpd-sqlite.so: the embedded storage backend. This file holds the entry symbol, the
 * connection (open, pragmas, close), transactions, error translation and the small helpers the
 * other files use; the schema lives in sqlite_schema.c, the domain operations in sqlite_ops.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_internal.h"
#include "common/host.h"

/* Waiting this long for a lock held by another process (the sqlite3 CLI, an offline ztpd
 * command) is better than failing; beyond it the store retries the batch later. */
#define SQ_BUSY_TIMEOUT_MS 5000

#define SQ_TIME_FMT "%Y-%m-%dT%H:%M:%S"

void sq_log(const struct sq *q, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    backend_host_logv(q ? q->host : NULL, level, fmt, ap);
    va_end(ap);
}

int sq_status(const struct sq *q, int rc, const char *what)
{
    int status;
    int level = 1;
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return ZTPD_STORAGE_OK;
    case SQLITE_CONSTRAINT:
        /* A duplicate key is an expected answer (the API turns it into 409): no warning. */
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            status = ZTPD_STORAGE_ECONFLICT;
            level = 3;
        } else {
            status = ZTPD_STORAGE_EINVAL;
        }
        break;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
        status = ZTPD_STORAGE_EINVAL;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
        /* Another process holds the lock past busy_timeout, or the file went away (unmounted
         * data dir): the database is there but not reachable now, so the core retries. */
        status = ZTPD_STORAGE_EUNAVAIL;
        break;
    default:
        /* IOERR, FULL, READONLY, CORRUPT, NOTADB, NOMEM, ERROR: the statement failed but the
         * connection stays usable; batches are retried, API writes report the failure. */
        status = ZTPD_STORAGE_EIO;
        break;
    }
    sq_log(q, level, "%s: %s (%s, code %d)", what, q && q->db ? sqlite3_errmsg(q->db) : "-",
           sqlite3_errstr(rc), rc);
    return status;
}

sqlite3_stmt *sq_stmt(struct sq *q, enum sq_stmt_id id, int *status)
{
    sqlite3_stmt *st = q->stmt[id];
    if (!st) {
        int rc = sqlite3_prepare_v3(q->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK || !st) {
            /* OK with no statement means the SQL was empty: a bug here, not in the caller. */
            *status = rc != SQLITE_OK ? sq_status(q, rc, "prepare") : ZTPD_STORAGE_EIO;
            sqlite3_finalize(st);
            return NULL;
        }
        q->stmt[id] = st;
        return st;
    }
    /* Statements are reset after every use; clearing bindings as well means a value from the
     * previous call can never leak into a column the next call forgot to bind. */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int sq_run(struct sq *q, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int status = rc == SQLITE_ROW ? ZTPD_STORAGE_OK : sq_status(q, rc, what);
    sqlite3_reset(st);
    return status;
}

int sq_each(struct sq *q, sqlite3_stmt *st, const char *what, sq_row_fn fn, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(st, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    int status = sq_status(q, rc, what);
    sqlite3_reset(st);
    return status;
}

int sq_exec(struct sq *q, const char *sql, const char *what)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return sq_status(q, rc, what);
}

int sq_begin(void *h)
{
    struct sq *q = h;
    int status;
    /* IMMEDIATE takes the write lock now (waiting up to busy_timeout), so a transaction never
     * fails halfway through because a reader upgraded to writer too late. */
    sqlite3_stmt *st = sq_stmt(q, SQ_BEGIN, &status);
    return st ? sq_run(q, st, "begin") : status;
}

int sq_commit(void *h)
{
    struct sq *q = h;
    int status;
    sqlite3_stmt *st = sq_stmt(q, SQ_COMMIT, &status);
    return st ? sq_run(q, st, "commit") : status;
}

int sq_rollback(void *h)
{
    struct sq *q = h;
    /* sqlite rolls back by itself on some errors (IOERR, FULL); the caller's rollback after
     * such a failure is then a no-op rather than a second error. */
    if (sqlite3_get_autocommit(q->db))
        return ZTPD_STORAGE_OK;
    int status;
    sqlite3_stmt *st = sq_stmt(q, SQ_ROLLBACK, &status);
    return st ? sq_run(q, st, "rollback") : status;
}

int64_t sq_now(void)
{
    return (int64_t)time(NULL);
}

void sq_bind_time(sqlite3_stmt *st, int idx, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(buf, sizeof buf, SQ_TIME_FMT, &tm) == 0) {
        sqlite3_bind_null(st, idx);
        return;
    }
    sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
}

int64_t sq_col_time(sqlite3_stmt *st, int idx)
{
    switch (sqlite3_column_type(st, idx)) {
    case SQLITE_NULL:
        return 0;
    case SQLITE_INTEGER:
        /* Someone wrote Unix seconds by hand in the sqlite3 CLI: still a time. */
        return sqlite3_column_int64(st, idx);
    default:
        break;
    }
    const char *s = (const char *)sqlite3_column_text(st, idx);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char sep;
    /* Also accepts "YYYY-MM-DD HH:MM:SS" (sqlite's datetime()) and ignores any fraction/zone
     * suffix, so rows edited by hand still read back. */
    if (!s ||
        sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 7 ||
        (sep != 'T' && sep != ' '))
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? 0 : (int64_t)t;
}

void sq_bind_text(sqlite3_stmt *st, int idx, const char *s, size_t cap)
{
    /* Records are caller-owned and outlive the step, so sqlite need not copy them. */
    sqlite3_bind_text(st, idx, s, (int)strnlen(s, cap), SQLITE_STATIC);
}

void sq_bind_text_opt(sqlite3_stmt *st, int idx, const char *s, size_t cap)
{
    if (!s || !*s)
        sqlite3_bind_null(st, idx);
    else
        sq_bind_text(st, idx, s, cap);
}

void sq_col_text(sqlite3_stmt *st, int idx, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, idx);
    /* Rows written outside ztpd may be longer than the ABI's fields: truncate, never overflow. */
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void sq_close(void *h)
{
    struct sq *q = h;
    if (!q)
        return;
    for (int i = 0; i < SQ_STMT_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    /* The last connection to close checkpoints the WAL into the main file and removes it. */
    if (q->db && sqlite3_close(q->db) != SQLITE_OK)
        sq_log(q, 1, "close: %s", sqlite3_errmsg(q->db));
    free(q);
}

/* Runs one statement (a pragma, a count) and copies the first column of its first row. */
static int query_one(struct sq *q, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (out && cap)
            out[0] = '\0';
        if (rc == SQLITE_ROW && out)
            sq_col_text(st, 0, out, cap);
    }
    int status = rc == SQLITE_ROW ? ZTPD_STORAGE_OK : sq_status(q, rc, sql);
    sqlite3_finalize(st);
    return status;
}

static int configure(struct sq *q, const char *path)
{
    char mode[32];
    int status;
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, SQ_BUSY_TIMEOUT_MS);
    /* sqlite opens the file lazily: reading the schema here turns "not a database" or an
     * unreadable file into an open error instead of a surprise on the storage thread. */
    status = query_one(q, "SELECT COUNT(*) FROM sqlite_master", NULL, 0);
    if (status)
        return status;
    /* WAL: readers (the sqlite3 CLI, `ztpd db verify`) never block the daemon's writer, and a
     * commit is one append to the log instead of a rewrite of pages in place. */
    status = query_one(q, "PRAGMA journal_mode=WAL", mode, sizeof mode);
    if (status)
        return status;
    if (strcmp(mode, "wal") != 0 && strcmp(path, ":memory:") != 0)
        sq_log(q, 1, "%s: journal_mode is '%s', not wal (file system without shared memory?)", path,
               mode);
    /* FULL: every COMMIT fsyncs the WAL, so an acknowledged write survives a process kill and
     * a power loss. The cost is one fsync per transaction, and high-rate writes are already
     * batched into one transaction per 100 ms by the core. */
    return query_one(q, "PRAGMA synchronous=FULL", NULL, 0) == ZTPD_STORAGE_OK ? ZTPD_STORAGE_OK
                                                                               : ZTPD_STORAGE_EIO;
}

static int sq_open(void **handle, const struct ztpd_storage_host *host)
{
    if (!handle || !host)
        return ZTPD_STORAGE_EINVAL;
    struct sq *q = calloc(1, sizeof *q);
    if (!q)
        return ZTPD_STORAGE_EIO;
    q->host = host;
    const char *path = backend_host_config(host, "storage.sqlite.path");
    if (!path || !*path) {
        sq_log(q, 0, "storage.sqlite.path is not set");
        free(q);
        return ZTPD_STORAGE_EINVAL;
    }
    /* NOMUTEX: the core calls the backend from one thread at a time (open on the loop thread
     * at startup, everything else on the storage thread), so sqlite's own locking is waste. */
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    int status = rc == SQLITE_OK ? configure(q, path) : sq_status(q, rc, path);
    if (status) {
        sq_log(q, 0, "cannot open database %s", path);
        sq_close(q);
        return status;
    }
    sq_log(q, 3, "opened %s (sqlite %s)", path, sqlite3_libversion());
    *handle = q;
    return ZTPD_STORAGE_OK;
}

static int sq_ping(void *h)
{
    struct sq *q = h;
    int status;
    sqlite3_stmt *st = sq_stmt(q, SQ_PING, &status);
    return st ? sq_run(q, st, "ping") : status;
}

static int sq_count(void *h, const char *table, int64_t *out)
{
    static const char *const tables[] = {"provisioned_devices", "registered_phones",
                                         "extensions",          "provisioning_requests",
                                         "discovered_devices",  "schema_version"};
    struct sq *q = h;
    const char *name = NULL;
    /* The table name is spliced into SQL, so only the known names are accepted. */
    for (size_t i = 0; table && i < sizeof tables / sizeof tables[0]; i++) {
        if (strcmp(table, tables[i]) == 0)
            name = tables[i];
    }
    if (!name || !out)
        return ZTPD_STORAGE_EINVAL;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", name);
    char buf[32];
    int status = query_one(q, sql, buf, sizeof buf);
    if (status == ZTPD_STORAGE_OK)
        *out = strtoll(buf, NULL, 10);
    return status;
}

static const struct ztpd_storage_backend sqlite_backend = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = ZTPD_STORAGE_ABI_MINOR,
    .struct_size = sizeof(struct ztpd_storage_backend),
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .device_put = sq_device_put,
    .device_get = sq_device_get,
    .device_delete = sq_device_delete,
    .device_list = sq_device_list,
    .device_touch = sq_device_touch,
    .extension_put = sq_extension_put,
    .extension_delete = sq_extension_delete,
    .extension_list = sq_extension_list,
    .registration_upsert = sq_registration_upsert,
    .registration_delete = sq_registration_delete,
    .registration_list = sq_registration_list,
    .registration_cleanup = sq_registration_cleanup,
    .request_append = sq_request_append,
    .request_query = sq_request_query,
    .request_trim = sq_request_trim,
    .discovered_upsert = sq_discovered_upsert,
    .discovered_list = sq_discovered_list,
    .discovered_delete = sq_discovered_delete,
    .ping = sq_ping,
    .count = sq_count,
    .device_put_many = sq_device_put_many,
    .schema_info = sq_schema_info,
};

BACKEND_ENTRY_V1(sqlite_backend)
