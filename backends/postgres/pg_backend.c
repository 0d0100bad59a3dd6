/* libztpd-postgres.so: the PostgreSQL storage backend. This file holds the entry symbol, the
 * connection (open, reset, close), transactions, error translation and the small helpers the
 * other files use; the schema lives in pg_schema.c, the domain operations in pg_ops.c. */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_internal.h"
#include "common/host.h"

/* Without a timeout libpq waits for the kernel's TCP connect timeout (minutes) when the
 * server's host is down. Reconnects run on the storage thread during an outage, and API writes
 * queued behind one wait for it: a few seconds at most. The DSN may still set its own. */
#define PG_CONNECT_TIMEOUT "5"

/* The password may stay out of the DSN (and so out of config.yml and `ps`): from
 * storage.postgres.password_file (read by the core, handed over under this key), else from the
 * environment; either overrides a password in the DSN. */
#define PG_PASSWORD_KEY "storage.postgres.password"
#define PG_PASSWORD_ENV "ZTPD_PG_PASSWORD"

void pg_log(const struct pg *p, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    backend_host_logv(p ? p->host : NULL, level, fmt, ap);
    va_end(ap);
}

/* Server notices ("table already exists, skipping") would go to stderr by default. */
static void notice_to_log(void *arg, const char *message)
{
    pg_log(arg, 3, "server notice: %s", message);
}

int pg_ready(struct pg *p)
{
    if (PQstatus(p->conn) == CONNECTION_OK)
        return ZTPD_STORAGE_OK;
    /* The open transaction died with the connection: a fresh one would silently run the rest
     * of the caller's batch in autocommit, so the caller must roll back first. */
    if (p->in_tx) {
        pg_log(p, 1, "connection lost inside a transaction");
        return ZTPD_STORAGE_EUNAVAIL;
    }
    PQreset(p->conn);
    /* Prepared statements belong to the server session that just ended. */
    memset(p->prepared, 0, sizeof p->prepared);
    if (PQstatus(p->conn) == CONNECTION_OK) {
        pg_log(p, 2, "reconnected to %s:%s/%s", PQhost(p->conn), PQport(p->conn), PQdb(p->conn));
        p->down = 0;
        return ZTPD_STORAGE_OK;
    }
    /* The core keeps retrying while the server is away: warn once, not on every retry. */
    pg_log(p, p->down ? 3 : 1, "database unreachable: %s", PQerrorMessage(p->conn));
    p->down = 1;
    return ZTPD_STORAGE_EUNAVAIL;
}

/* Translates a libpq result into a ZTPD_STORAGE_* status, logging failures with what was
 * being done. */
static int result_status(struct pg *p, const PGresult *res, const char *what)
{
    if (!res) {
        int down = PQstatus(p->conn) != CONNECTION_OK;
        pg_log(p, 1, "%s: %s", what, PQerrorMessage(p->conn));
        return down ? ZTPD_STORAGE_EUNAVAIL : ZTPD_STORAGE_EIO;
    }
    ExecStatusType rs = PQresultStatus(res);
    if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)
        return ZTPD_STORAGE_OK;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state)
        state = "";
    int status;
    int level = 1;
    if (PQstatus(p->conn) != CONNECTION_OK || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0) {
        /* Connection lost, server shutting down or out of connections: reachable later. */
        status = ZTPD_STORAGE_EUNAVAIL;
    } else if (strcmp(state, "23505") == 0) {
        /* A duplicate key is an expected answer (the API turns it into 409): no warning. */
        status = ZTPD_STORAGE_ECONFLICT;
        level = 3;
    } else if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
        /* Other constraints (NOT NULL, CHECK) and data exceptions: the value is at fault. */
        status = ZTPD_STORAGE_EINVAL;
    } else {
        /* Syntax, missing table, aborted transaction, serialization failure: the statement
         * failed but the connection stays usable; batches are retried. */
        status = ZTPD_STORAGE_EIO;
    }
    if (*state)
        pg_log(p, level, "%s: %s (SQLSTATE %s)", what, PQresultErrorMessage(res), state);
    else
        pg_log(p, level, "%s: %s", what, PQresultErrorMessage(res));
    return status;
}

/* Prepares statement id on this connection unless it already is. */
static int prepare(struct pg *p, enum pg_stmt_id id, const char *name, const char *what)
{
    if (p->prepared[id])
        return ZTPD_STORAGE_OK;
    PGresult *res = PQprepare(p->conn, name, pg_sql[id], 0, NULL);
    int status = result_status(p, res, what);
    PQclear(res);
    if (status == ZTPD_STORAGE_OK)
        p->prepared[id] = 1;
    return status;
}

int pg_run(struct pg *p, enum pg_stmt_id id, const struct pg_params *pp, PGresult **res,
           const char *what)
{
    char name[16];
    snprintf(name, sizeof name, "z%d", (int)id);
    if (pp && pp->bad)
        return ZTPD_STORAGE_EINVAL;
    for (int attempt = 0;; attempt++) {
        int status = pg_ready(p);
        if (status == ZTPD_STORAGE_OK)
            status = prepare(p, id, name, what);
        PGresult *r = NULL;
        if (status == ZTPD_STORAGE_OK) {
            r = PQexecPrepared(p->conn, name, pp ? pp->n : 0, pp ? pp->v : NULL, NULL, NULL, 0);
            status = result_status(p, r, what);
        }
        if (status == ZTPD_STORAGE_OK) {
            if (res)
                *res = r;
            else
                PQclear(r);
            return ZTPD_STORAGE_OK;
        }
        PQclear(r);
        /* A server restart is noticed only by the first statement after it. Outside a
         * transaction, reconnecting and running it once more hides the restart from the core;
         * inside one, the work done so far is lost and only the caller can redo it. */
        if (status != ZTPD_STORAGE_EUNAVAIL || attempt > 0 || p->in_tx ||
            PQstatus(p->conn) == CONNECTION_OK)
            return status;
    }
}

int pg_exec(struct pg *p, const char *sql, PGresult **res, const char *what)
{
    int status = pg_ready(p);
    if (status)
        return status;
    PGresult *r = PQexec(p->conn, sql);
    status = result_status(p, r, what);
    if (status == ZTPD_STORAGE_OK && res)
        *res = r;
    else
        PQclear(r);
    return status;
}

int pg_begin(void *h)
{
    struct pg *p = h;
    for (int attempt = 0;; attempt++) {
        int status = pg_ready(p);
        if (status)
            return status;
        /* PostgreSQL only warns about a nested BEGIN; the ABI (and sqlite) call it an error. */
        if (PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
            pg_log(p, 1, "begin: a transaction is already open");
            return ZTPD_STORAGE_EIO;
        }
        status = pg_exec(p, "BEGIN", NULL, "begin");
        if (status == ZTPD_STORAGE_OK) {
            p->in_tx = 1;
            return status;
        }
        /* As pg_run does for single statements: the first statement after a server restart
         * finds the old connection dead; nothing has been done yet, so reconnect and retry. */
        if (status != ZTPD_STORAGE_EUNAVAIL || attempt > 0 || PQstatus(p->conn) == CONNECTION_OK)
            return status;
    }
}

int pg_commit(void *h)
{
    struct pg *p = h;
    int was_in_tx = p->in_tx;
    p->in_tx = 0;
    if (PQstatus(p->conn) != CONNECTION_OK) {
        if (was_in_tx)
            pg_log(p, 1, "commit: connection lost, the transaction was not committed");
        return ZTPD_STORAGE_EUNAVAIL;
    }
    switch (PQtransactionStatus(p->conn)) {
    case PQTRANS_IDLE:
        pg_log(p, 1, "commit: no transaction is open");
        return ZTPD_STORAGE_EIO;
    case PQTRANS_INERROR:
        /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: say what really happened. */
        pg_exec(p, "ROLLBACK", NULL, "rollback");
        pg_log(p, 1, "commit: a statement of the transaction failed; rolled back");
        return ZTPD_STORAGE_EIO;
    default:
        return pg_exec(p, "COMMIT", NULL, "commit");
    }
}

int pg_rollback(void *h)
{
    struct pg *p = h;
    p->in_tx = 0;
    /* With no transaction (or no connection, which took it along) there is nothing to undo. */
    if (PQstatus(p->conn) != CONNECTION_OK || PQtransactionStatus(p->conn) == PQTRANS_IDLE)
        return ZTPD_STORAGE_OK;
    return pg_exec(p, "ROLLBACK", NULL, "rollback");
}

/* --- parameters and results --- */

static char *pp_slot(struct pg_params *pp)
{
    if (pp->n >= PG_MAX_PARAMS) {
        pp->bad = 1;
        return NULL;
    }
    return pp->num[pp->n];
}

void pp_text(struct pg_params *pp, const char *s, size_t cap)
{
    if (pp->n >= PG_MAX_PARAMS || !s) {
        pp->bad = 1;
        return;
    }
    /* libpq reads to the NUL: a field filled to the brim would be read past its end. */
    if (!memchr(s, '\0', cap))
        pp->bad = 1;
    pp->v[pp->n++] = s;
}

void pp_text_opt(struct pg_params *pp, const char *s, size_t cap)
{
    if (s && !*s)
        pp_null(pp);
    else
        pp_text(pp, s, cap);
}

void pp_int(struct pg_params *pp, int64_t v)
{
    char *buf = pp_slot(pp);
    if (!buf)
        return;
    snprintf(buf, sizeof pp->num[0], "%" PRId64, v);
    pp->v[pp->n++] = buf;
}

void pp_null(struct pg_params *pp)
{
    if (pp_slot(pp))
        pp->v[pp->n++] = NULL;
}

void pp_time(struct pg_params *pp, int64_t t)
{
    if (t > 0)
        pp_int(pp, t);
    else
        pp_null(pp);
}

void pp_bool(struct pg_params *pp, int b)
{
    char *buf = pp_slot(pp);
    if (!buf)
        return;
    snprintf(buf, sizeof pp->num[0], "%s", b ? "true" : "false");
    pp->v[pp->n++] = buf;
}

void pg_col_text(const PGresult *res, int row, int col, char *out, size_t cap)
{
    /* Rows written outside ztpd may be longer than the ABI's fields: truncate, never overflow. */
    snprintf(out, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

int64_t pg_col_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int64_t pg_now(void)
{
    return (int64_t)time(NULL);
}

/* --- open, close, optional functions --- */

static void pg_close(void *h)
{
    struct pg *p = h;
    if (!p)
        return;
    /* Ending the session also frees its prepared statements on the server. */
    PQfinish(p->conn);
    free(p);
}

/* Keeps libpq (and with it OpenSSL and Kerberos) loaded after this module is unloaded: their
 * one-time global state is never released, so every unload/reload of the backend would leak it,
 * and their exit handlers expect the code to stay mapped. */
static void pin_libpq(const struct pg *p)
{
    Dl_info info;
    if (!dladdr((void *)PQlibVersion, &info) || !info.dli_fname ||
        !dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
        pg_log(p, 3, "could not pin libpq in memory");
}

static int pg_open(void **handle, const struct ztpd_storage_host *host)
{
    if (!handle || !host)
        return ZTPD_STORAGE_EINVAL;
    struct pg *p = calloc(1, sizeof *p);
    if (!p)
        return ZTPD_STORAGE_EIO;
    p->host = host;
    pin_libpq(p);
    const char *dsn = backend_host_config(host, "storage.postgres.dsn");
    /* As config.yml.example promises: no DSN means libpq's PG* variables and defaults. */
    if (!dsn || !*dsn) {
        pg_log(p, 3, "storage.postgres.dsn is empty: using libpq's PG* environment variables");
        dsn = "";
    }
    const char *password = backend_host_config(host, PG_PASSWORD_KEY);
    const char *password_from = "storage.postgres.password_file";
    if (!password || !*password) {
        password = getenv(PG_PASSWORD_ENV);
        password_from = PG_PASSWORD_ENV;
    }
    if (password && *password)
        pg_log(p, 3, "password from %s", password_from);
    /* Later entries override earlier ones and the DSN (expanded from dbname) overrides the
     * defaults before it, while a password from the environment overrides the DSN's. Empty
     * values are ignored by libpq. */
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "client_encoding",
                          "dbname",
                          password && *password ? "password" : NULL,
                          NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT, "ztpd", "UTF8", dsn, password, NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn) {
        pg_log(p, 0, "cannot allocate a PostgreSQL connection");
        free(p);
        return ZTPD_STORAGE_EIO;
    }
    PQsetNoticeProcessor(p->conn, notice_to_log, p);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        /* libpq's message names host and port but never the password. */
        pg_log(p, 0, "cannot connect to PostgreSQL: %s", PQerrorMessage(p->conn));
        pg_close(p);
        return ZTPD_STORAGE_EUNAVAIL;
    }
    pg_log(p, 3, "connected to %s:%s/%s (server %d, libpq %d)", PQhost(p->conn), PQport(p->conn),
           PQdb(p->conn), PQserverVersion(p->conn), PQlibVersion());
    *handle = p;
    return ZTPD_STORAGE_OK;
}

static int pg_ping(void *h)
{
    return pg_run(h, PG_PING, NULL, NULL, "ping");
}

static int pg_count(void *h, const char *table, int64_t *out)
{
    static const char *const tables[] = {"provisioned_devices", "registered_phones",
                                         "extensions",          "provisioning_requests",
                                         "discovered_devices",  "schema_version"};
    struct pg *p = h;
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
    PGresult *res = NULL;
    int status = pg_exec(p, sql, &res, "count");
    if (status == ZTPD_STORAGE_OK) {
        *out = PQntuples(res) > 0 ? pg_col_int(res, 0, 0) : 0;
        PQclear(res);
    }
    return status;
}

static const struct ztpd_storage_backend postgres_backend = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = ZTPD_STORAGE_ABI_MINOR,
    .struct_size = sizeof(struct ztpd_storage_backend),
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .device_put = pg_device_put,
    .device_get = pg_device_get,
    .device_delete = pg_device_delete,
    .device_list = pg_device_list,
    .device_touch = pg_device_touch,
    .extension_put = pg_extension_put,
    .extension_delete = pg_extension_delete,
    .extension_list = pg_extension_list,
    .registration_upsert = pg_registration_upsert,
    .registration_delete = pg_registration_delete,
    .registration_list = pg_registration_list,
    .registration_cleanup = pg_registration_cleanup,
    .request_append = pg_request_append,
    .request_query = pg_request_query,
    .request_trim = pg_request_trim,
    .discovered_upsert = pg_discovered_upsert,
    .discovered_list = pg_discovered_list,
    .discovered_delete = pg_discovered_delete,
    .ping = pg_ping,
    .count = pg_count,
    .device_put_many = pg_device_put_many,
    .schema_info = pg_schema_info,
};

BACKEND_ENTRY_V1(postgres_backend)
