/* Schema migrations of the PostgreSQL backend: a table of (version, SQL) applied in order, each
 * recorded in schema_version, all in one transaction. Add a migration by appending an entry;
 * never edit a shipped one. Versions mean the same schema as in the sqlite backend.
 *
 * Column names follow the original guide (mac_address, extension_number, ...) so existing
 * scripts read the same tables as with sqlite. Timestamps are TIMESTAMP (without time zone)
 * holding UTC, so a psql session shows the same wall time whatever its TimeZone. */
#include <stdio.h>

#include "pg_internal.h"

/* Several ztpd nodes may share one database and start together: the first to take this
 * transaction-scoped advisory lock migrates, the others then find the schema up to date.
 * The number is arbitrary but fixed ("ztpd" in ASCII). */
#define MIGRATION_LOCK "2054451300"

struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, "CREATE TABLE provisioned_devices ("
        "  id SERIAL PRIMARY KEY,"
        "  mac_address TEXT UNIQUE NOT NULL,"
        "  extension_number TEXT NOT NULL,"
        "  vendor TEXT NOT NULL,"
        "  model TEXT NOT NULL,"
        "  config_url TEXT,"
        "  created_at TIMESTAMP,"
        "  last_provisioned TIMESTAMP"
        ");"
        /* registered_at is the first registration of this row (first_registered in the ABI);
         * the guide's scripts read it under that name. */
        "CREATE TABLE registered_phones ("
        "  id SERIAL PRIMARY KEY,"
        "  mac_address TEXT,"
        "  ip_address TEXT,"
        "  extension_number TEXT,"
        "  vendor TEXT,"
        "  model TEXT,"
        "  user_agent TEXT,"
        "  transport TEXT,"
        "  contact_port INTEGER,"
        "  mac_source TEXT,"
        "  registered_at TIMESTAMP,"
        "  last_registered TIMESTAMP,"
        "  expires_at TIMESTAMP"
        ");"
        "CREATE TABLE extensions ("
        "  number TEXT PRIMARY KEY,"
        "  name TEXT,"
        "  password TEXT,"
        "  created_at TIMESTAMP,"
        "  updated_at TIMESTAMP"
        ");"
        /* BIGSERIAL: the log is trimmed but its ids keep growing for the life of the
         * database, past what a 32-bit SERIAL holds on a busy site. */
        "CREATE TABLE provisioning_requests ("
        "  id BIGSERIAL PRIMARY KEY,"
        "  at TIMESTAMP NOT NULL,"
        "  mac_address TEXT,"
        "  ip_address TEXT,"
        "  path TEXT,"
        "  user_agent TEXT,"
        "  status INTEGER"
        ");"
        "CREATE TABLE discovered_devices ("
        "  mac_address TEXT PRIMARY KEY,"
        "  vendor TEXT,"
        "  model TEXT,"
        "  firmware TEXT,"
        "  ip_address TEXT,"
        "  user_agent TEXT,"
        "  first_seen TIMESTAMP,"
        "  last_seen TIMESTAMP,"
        "  count BIGINT NOT NULL DEFAULT 0"
        ");"},
    /* The registered Contact URI: NOTIFYs go to it, and it differs from ip:port behind NAT. */
    {2, "ALTER TABLE registered_phones ADD COLUMN contact TEXT;"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* One-shot integer query; 0 rows or NULL reads as 0. */
static int query_int(struct pg *p, const char *sql, int *out)
{
    PGresult *res = NULL;
    *out = 0;
    int status = pg_exec(p, sql, &res, "schema version");
    if (status == ZTPD_STORAGE_OK) {
        if (PQntuples(res) > 0)
            *out = (int)pg_col_int(res, 0, 0);
        PQclear(res);
    }
    return status;
}

static int current_version(struct pg *p, int *version)
{
    int exists;
    /* to_regclass follows search_path, as the unqualified names in every statement do. */
    int status = query_int(
        p, "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 ELSE 1 END", &exists);
    if (status || !exists) {
        *version = 0;
        return status;
    }
    return query_int(p, "SELECT COALESCE(MAX(version), 0) FROM schema_version", version);
}

static int too_new(struct pg *p, int found, int known)
{
    pg_log(p, 0,
           "database schema version %d is newer than this backend knows (%d): upgrade ztpd or "
           "use a database it created",
           found, known);
    return ZTPD_STORAGE_ESCHEMA;
}

/* Applies migrations above `from` inside the caller's transaction. */
static int apply(struct pg *p, int from)
{
    int status = pg_exec(p,
                         "CREATE TABLE IF NOT EXISTS schema_version ("
                         "  version INTEGER NOT NULL,"
                         "  applied_at TIMESTAMP NOT NULL"
                         ")",
                         NULL, "create schema_version");
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < N_MIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= from)
            continue;
        char what[48];
        snprintf(what, sizeof what, "schema migration %d", m->version);
        status = pg_exec(p, m->sql, NULL, what);
        if (status)
            break;
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version (version, applied_at) "
                 "VALUES (%d, now() AT TIME ZONE 'UTC')",
                 m->version);
        status = pg_exec(p, sql, NULL, what);
        if (status == ZTPD_STORAGE_OK)
            pg_log(p, 2, "applied %s", what);
    }
    return status;
}

int pg_migrate(void *h, int *version)
{
    struct pg *p = h;
    int known = migrations[N_MIGRATIONS - 1].version;
    int cur;
    int status = current_version(p, &cur);
    if (status)
        return status;
    if (cur > known)
        return too_new(p, cur, known);
    if (cur == known) {
        /* Up to date: no transaction, no lock, so a read-only role can also open it. */
        if (version)
            *version = cur;
        return ZTPD_STORAGE_OK;
    }
    status = pg_begin(p);
    if (status)
        return status;
    status = pg_exec(p, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", NULL, "migration lock");
    /* Read again under the lock: another node may have migrated in between. */
    if (status == ZTPD_STORAGE_OK)
        status = current_version(p, &cur);
    if (status == ZTPD_STORAGE_OK && cur > known)
        status = too_new(p, cur, known);
    if (status == ZTPD_STORAGE_OK)
        status = apply(p, cur);
    if (status == ZTPD_STORAGE_OK)
        status = pg_commit(p);
    if (status) {
        pg_rollback(p);
        return status;
    }
    if (version)
        *version = known;
    return ZTPD_STORAGE_OK;
}

int pg_schema_info(void *h, int *current, int *latest)
{
    struct pg *p = h;
    if (!current || !latest)
        return ZTPD_STORAGE_EINVAL;
    *latest = migrations[N_MIGRATIONS - 1].version;
    return current_version(p, current);
}
