/* Schema migrations of the sqlite backend: a table of (version, SQL) applied in order, each
 * recorded in schema_version. Add a migration by appending an entry; never edit a shipped one.
 *
 * Column names follow the original guide (mac_address, extension_number, ...) so existing
 * scripts and the PostgreSQL backend read the same tables. Timestamps are ISO 8601 UTC text
 * ("YYYY-MM-DDTHH:MM:SS"): readable in the sqlite3 CLI, and they sort chronologically. */
#include <stdio.h>

#include "sqlite_internal.h"

struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, "CREATE TABLE provisioned_devices ("
        "  id INTEGER PRIMARY KEY,"
        "  mac_address TEXT UNIQUE NOT NULL,"
        "  extension_number TEXT NOT NULL,"
        "  vendor TEXT NOT NULL,"
        "  model TEXT NOT NULL,"
        "  config_url TEXT,"
        "  created_at TEXT,"
        "  last_provisioned TEXT"
        ");"
        /* registered_at is the first registration of this row (first_registered in the ABI);
         * the guide's scripts read it under that name. */
        "CREATE TABLE registered_phones ("
        "  id INTEGER PRIMARY KEY,"
        "  mac_address TEXT,"
        "  ip_address TEXT,"
        "  extension_number TEXT,"
        "  vendor TEXT,"
        "  model TEXT,"
        "  user_agent TEXT,"
        "  transport TEXT,"
        "  contact_port INTEGER,"
        "  mac_source TEXT,"
        "  registered_at TEXT,"
        "  last_registered TEXT,"
        "  expires_at TEXT"
        ");"
        /* NOT NULL spelled out: sqlite lets a non-integer PRIMARY KEY hold NULL otherwise. */
        "CREATE TABLE extensions ("
        "  number TEXT PRIMARY KEY NOT NULL,"
        "  name TEXT,"
        "  password TEXT,"
        "  created_at TEXT,"
        "  updated_at TEXT"
        ");"
        /* id INTEGER PRIMARY KEY is the rowid, i.e. the index that "newest first" and the trim
         * to the newest N rows walk; no separate index is needed. */
        "CREATE TABLE provisioning_requests ("
        "  id INTEGER PRIMARY KEY,"
        "  at TEXT NOT NULL,"
        "  mac_address TEXT,"
        "  ip_address TEXT,"
        "  path TEXT,"
        "  user_agent TEXT,"
        "  status INTEGER"
        ");"
        "CREATE TABLE discovered_devices ("
        "  mac_address TEXT PRIMARY KEY NOT NULL,"
        "  vendor TEXT,"
        "  model TEXT,"
        "  firmware TEXT,"
        "  ip_address TEXT,"
        "  user_agent TEXT,"
        "  first_seen TEXT,"
        "  last_seen TEXT,"
        "  count INTEGER NOT NULL DEFAULT 0"
        ");"},
    /* The registered Contact URI: NOTIFYs go to it, and it differs from ip:port behind NAT. */
    {2, "ALTER TABLE registered_phones ADD COLUMN contact TEXT;"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* One-shot integer query; 0 rows reads as 0. */
static int query_int(struct sq *q, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    *out = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *out = sqlite3_column_int(st, 0);
    }
    int status = sq_status(q, rc, "schema version");
    sqlite3_finalize(st);
    return status;
}

static int current_version(struct sq *q, int *version)
{
    int exists;
    int status = query_int(
        q, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        &exists);
    if (status || !exists) {
        *version = 0;
        return status;
    }
    return query_int(q, "SELECT COALESCE(MAX(version), 0) FROM schema_version", version);
}

static int too_new(struct sq *q, int found, int known)
{
    sq_log(q, 0,
           "database schema version %d is newer than this backend knows (%d): upgrade ztpd or "
           "use a database it created",
           found, known);
    return ZTPD_STORAGE_ESCHEMA;
}

/* Applies migrations above `from` inside the caller's transaction. */
static int apply(struct sq *q, int from)
{
    int status = sq_exec(q,
                         "CREATE TABLE IF NOT EXISTS schema_version ("
                         "  version INTEGER NOT NULL,"
                         "  applied_at TEXT NOT NULL"
                         ")",
                         "create schema_version");
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < N_MIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= from)
            continue;
        char what[48];
        snprintf(what, sizeof what, "schema migration %d", m->version);
        status = sq_exec(q, m->sql, what);
        if (status)
            break;
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(
            q->db, "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)", -1, &st,
            NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(st, 1, m->version);
            sq_bind_time(st, 2, sq_now());
            rc = sqlite3_step(st);
        }
        status = sq_status(q, rc, what);
        sqlite3_finalize(st);
        if (status == ZTPD_STORAGE_OK)
            sq_log(q, 2, "applied %s", what);
    }
    return status;
}

int sq_migrate(void *h, int *version)
{
    struct sq *q = h;
    int known = migrations[N_MIGRATIONS - 1].version;
    int cur;
    int status = current_version(q, &cur);
    if (status)
        return status;
    if (cur > known)
        return too_new(q, cur, known);
    if (cur == known) {
        /* Up to date: no transaction, no write, so a read-only copy of the file also opens. */
        if (version)
            *version = cur;
        return ZTPD_STORAGE_OK;
    }
    status = sq_begin(q);
    if (status)
        return status;
    /* Read again under the write lock: another process may have migrated in between. */
    status = current_version(q, &cur);
    if (status == ZTPD_STORAGE_OK && cur > known)
        status = too_new(q, cur, known);
    if (status == ZTPD_STORAGE_OK)
        status = apply(q, cur);
    if (status == ZTPD_STORAGE_OK)
        status = sq_commit(q);
    if (status) {
        sq_rollback(q);
        return status;
    }
    if (version)
        *version = known;
    return ZTPD_STORAGE_OK;
}

int sq_schema_info(void *h, int *current, int *latest)
{
    struct sq *q = h;
    if (!current || !latest)
        return ZTPD_STORAGE_EINVAL;
    *latest = migrations[N_MIGRATIONS - 1].version;
    return current_version(q, current);
}
