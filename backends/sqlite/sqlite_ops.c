/* The domain operations of the sqlite backend: rows of the ABI in and out of the tables. */
#include <string.h>

#include "sqlite_internal.h"

#define DEVICE_COLS                                                                                \
    "mac_address, extension_number, vendor, model, config_url, created_at, last_provisioned"
#define EXT_COLS "number, name, password, created_at, updated_at"
#define REG_COLS                                                                                   \
    "mac_address, ip_address, extension_number, vendor, model, user_agent, transport, "            \
    "mac_source, contact_port, registered_at, last_registered, expires_at"
#define REQ_COLS "at, mac_address, ip_address, path, user_agent, status"
#define DISC_COLS                                                                                  \
    "mac_address, vendor, model, firmware, ip_address, user_agent, first_seen, last_seen, count"

const char *const sq_sql[SQ_STMT_COUNT] = {
    [SQ_DEVICE_INSERT] = "INSERT INTO provisioned_devices (" DEVICE_COLS ") "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* ON CONFLICT ... DO UPDATE keeps the row (and its id); INSERT OR REPLACE would delete it
     * and lose created_at. A 0 last_provisioned means "not known here", not "reset". */
    [SQ_DEVICE_UPSERT] = "INSERT INTO provisioned_devices (" DEVICE_COLS ") "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                         "ON CONFLICT (mac_address) DO UPDATE SET "
                         "extension_number = excluded.extension_number, "
                         "vendor = excluded.vendor, model = excluded.model, "
                         "config_url = excluded.config_url, "
                         "created_at = COALESCE(created_at, excluded.created_at), "
                         "last_provisioned = COALESCE(excluded.last_provisioned, last_provisioned)",
    [SQ_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM provisioned_devices WHERE mac_address = ?1",
    [SQ_DEVICE_DELETE] = "DELETE FROM provisioned_devices WHERE mac_address = ?1",
    [SQ_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM provisioned_devices ORDER BY id",
    [SQ_DEVICE_TOUCH] =
        "UPDATE provisioned_devices SET last_provisioned = ?2 WHERE mac_address = ?1",
    [SQ_EXT_PUT] = "INSERT INTO extensions (" EXT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5) "
                   "ON CONFLICT (number) DO UPDATE SET "
                   "name = excluded.name, password = excluded.password, "
                   "created_at = COALESCE(created_at, excluded.created_at), "
                   "updated_at = excluded.updated_at",
    [SQ_EXT_DELETE] = "DELETE FROM extensions WHERE number = ?1",
    [SQ_EXT_LIST] = "SELECT " EXT_COLS " FROM extensions ORDER BY number",
    [SQ_REG_INSERT] = "INSERT INTO registered_phones (" REG_COLS ", contact) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [SQ_REG_UPDATE] = "UPDATE registered_phones SET "
                      "mac_address = ?1, ip_address = ?2, extension_number = ?3, vendor = ?4, "
                      "model = ?5, user_agent = ?6, transport = ?7, mac_source = ?8, "
                      "contact_port = ?9, registered_at = COALESCE(?10, registered_at), "
                      "last_registered = ?11, expires_at = ?12, contact = ?14 WHERE id = ?13",
    [SQ_REG_DELETE] = "DELETE FROM registered_phones WHERE id = ?1",
    [SQ_REG_LIST] = "SELECT id, " REG_COLS ", contact FROM registered_phones ORDER BY id",
    /* The guide's rule: incomplete when a required field is NULL or the empty string. */
    [SQ_REG_CLEANUP] = "DELETE FROM registered_phones WHERE "
                       "(?1 AND COALESCE(mac_address, '') = '') OR "
                       "(?2 AND COALESCE(ip_address, '') = '') OR "
                       "(?3 AND COALESCE(extension_number, '') = '')",
    [SQ_REG_COUNT] = "SELECT COUNT(*) FROM registered_phones",
    [SQ_REQ_INSERT] = "INSERT INTO provisioning_requests (" REQ_COLS ") "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_REQ_QUERY] = "SELECT id, " REQ_COLS " FROM provisioning_requests ORDER BY id DESC LIMIT ?1",
    /* Finds the id of the newest row to drop through the rowid index, then deletes it and
     * everything older; with fewer than `keep` rows the subquery is NULL and nothing goes. */
    [SQ_REQ_TRIM] = "DELETE FROM provisioning_requests WHERE id <= "
                    "(SELECT id FROM provisioning_requests ORDER BY id DESC LIMIT 1 OFFSET ?1)",
    [SQ_DISC_UPSERT] = "INSERT INTO discovered_devices (" DISC_COLS ") "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                       "ON CONFLICT (mac_address) DO UPDATE SET "
                       "vendor = excluded.vendor, model = excluded.model, "
                       "firmware = excluded.firmware, ip_address = excluded.ip_address, "
                       "user_agent = excluded.user_agent, "
                       "first_seen = COALESCE(first_seen, excluded.first_seen), "
                       "last_seen = excluded.last_seen, count = excluded.count",
    [SQ_DISC_LIST] = "SELECT " DISC_COLS " FROM discovered_devices ORDER BY mac_address",
    [SQ_DISC_DELETE] = "DELETE FROM discovered_devices WHERE mac_address = ?1",
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_PING] = "SELECT COUNT(*) FROM schema_version",
};

static int64_t or_now(int64_t t)
{
    return t > 0 ? t : sq_now();
}

/* Runs a statement that changes rows and says ENOTFOUND when it changed none. */
static int run_changes(struct sq *q, sqlite3_stmt *st, const char *what)
{
    int status = sq_run(q, st, what);
    if (status == ZTPD_STORAGE_OK && sqlite3_changes(q->db) == 0)
        return ZTPD_STORAGE_ENOTFOUND;
    return status;
}

/* Opens a transaction for a multi-statement op unless the caller already has one.
 * Returns the status; *own says whether we must end it. */
static int own_begin(struct sq *q, int *own)
{
    *own = sqlite3_get_autocommit(q->db);
    return *own ? sq_begin(q) : ZTPD_STORAGE_OK;
}

static int own_end(struct sq *q, int own, int status)
{
    if (!own)
        return status;
    if (status == ZTPD_STORAGE_OK)
        status = sq_commit(q);
    if (status != ZTPD_STORAGE_OK)
        sq_rollback(q);
    return status;
}

/* --- devices --- */

static void read_device(sqlite3_stmt *st, struct ztpd_device_rec *d)
{
    memset(d, 0, sizeof *d);
    SQ_COL(st, 0, d->mac);
    SQ_COL(st, 1, d->extension);
    SQ_COL(st, 2, d->vendor);
    SQ_COL(st, 3, d->model);
    SQ_COL(st, 4, d->config_url);
    d->created_at = sq_col_time(st, 5);
    d->last_provisioned = sq_col_time(st, 6);
}

int sq_device_put(void *h, const struct ztpd_device_rec *d, int mode)
{
    struct sq *q = h;
    int status;
    if (!d || !backend_valid_mac(d->mac) || (mode != ZTPD_PUT_INSERT && mode != ZTPD_PUT_UPSERT))
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st =
        sq_stmt(q, mode == ZTPD_PUT_INSERT ? SQ_DEVICE_INSERT : SQ_DEVICE_UPSERT, &status);
    if (!st)
        return status;
    SQ_BIND(st, 1, d->mac);
    SQ_BIND(st, 2, d->extension);
    SQ_BIND(st, 3, d->vendor);
    SQ_BIND(st, 4, d->model);
    SQ_BIND_OPT(st, 5, d->config_url);
    sq_bind_time(st, 6, or_now(d->created_at));
    sq_bind_time(st, 7, d->last_provisioned);
    return sq_run(q, st, "device_put");
}

int sq_device_put_many(void *h, const struct ztpd_device_rec *rows, size_t n, int mode,
                       size_t *failed_index)
{
    struct sq *q = h;
    size_t failed_dummy;
    if (!failed_index)
        failed_index = &failed_dummy;
    *failed_index = n;
    if (!rows && n)
        return ZTPD_STORAGE_EINVAL;
    /* As the PostgreSQL backend: a bad MAC anywhere refuses the call before any write. */
    for (size_t i = 0; i < n; i++) {
        if (!backend_valid_mac(rows[i].mac)) {
            *failed_index = i;
            return ZTPD_STORAGE_EINVAL;
        }
    }
    /* sqlite runs in-process: the prepared statement in a loop is already as fast as a
     * multi-row insert, and it names the failing row for free. */
    int own;
    int status = own_begin(q, &own);
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < n; i++) {
        status = sq_device_put(q, &rows[i], mode);
        if (status)
            *failed_index = i;
    }
    return own_end(q, own, status);
}

struct one_device {
    struct ztpd_device_rec *out;
    int found;
};

static int device_one(sqlite3_stmt *st, void *ctx)
{
    struct one_device *o = ctx;
    read_device(st, o->out);
    o->found = 1;
    return 1;
}

int sq_device_get(void *h, const char *mac, struct ztpd_device_rec *out)
{
    struct sq *q = h;
    int status;
    if (!mac || !out)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DEVICE_GET, &status);
    if (!st)
        return status;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
    struct one_device o = {out, 0};
    status = sq_each(q, st, "device_get", device_one, &o);
    if (status == ZTPD_STORAGE_OK && !o.found)
        return ZTPD_STORAGE_ENOTFOUND;
    return status;
}

int sq_device_delete(void *h, const char *mac)
{
    struct sq *q = h;
    int status;
    if (!mac)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DEVICE_DELETE, &status);
    if (!st)
        return status;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
    return run_changes(q, st, "device_delete");
}

struct device_iter {
    ztpd_device_row_cb cb;
    void *arg;
};

static int device_row(sqlite3_stmt *st, void *ctx)
{
    struct device_iter *it = ctx;
    struct ztpd_device_rec d;
    read_device(st, &d);
    return it->cb(&d, it->arg);
}

int sq_device_list(void *h, ztpd_device_row_cb cb, void *arg)
{
    struct sq *q = h;
    int status;
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DEVICE_LIST, &status);
    if (!st)
        return status;
    struct device_iter it = {cb, arg};
    return sq_each(q, st, "device_list", device_row, &it);
}

int sq_device_touch(void *h, const char *mac, int64_t at)
{
    struct sq *q = h;
    int status;
    if (!mac)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DEVICE_TOUCH, &status);
    if (!st)
        return status;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
    sq_bind_time(st, 2, or_now(at));
    return run_changes(q, st, "device_touch");
}

/* --- extensions --- */

int sq_extension_put(void *h, const struct ztpd_extension_rec *e)
{
    struct sq *q = h;
    int status;
    if (!e || !e->number[0])
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_EXT_PUT, &status);
    if (!st)
        return status;
    int64_t now = sq_now();
    SQ_BIND(st, 1, e->number);
    SQ_BIND(st, 2, e->name);
    SQ_BIND(st, 3, e->password);
    sq_bind_time(st, 4, e->created_at > 0 ? e->created_at : now);
    sq_bind_time(st, 5, e->updated_at > 0 ? e->updated_at : now);
    return sq_run(q, st, "extension_put");
}

int sq_extension_delete(void *h, const char *number)
{
    struct sq *q = h;
    int status;
    if (!number)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_EXT_DELETE, &status);
    if (!st)
        return status;
    sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
    return run_changes(q, st, "extension_delete");
}

struct ext_iter {
    ztpd_extension_row_cb cb;
    void *arg;
};

static int ext_row(sqlite3_stmt *st, void *ctx)
{
    struct ext_iter *it = ctx;
    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    SQ_COL(st, 0, e.number);
    SQ_COL(st, 1, e.name);
    SQ_COL(st, 2, e.password);
    e.created_at = sq_col_time(st, 3);
    e.updated_at = sq_col_time(st, 4);
    return it->cb(&e, it->arg);
}

int sq_extension_list(void *h, ztpd_extension_row_cb cb, void *arg)
{
    struct sq *q = h;
    int status;
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_EXT_LIST, &status);
    if (!st)
        return status;
    struct ext_iter it = {cb, arg};
    return sq_each(q, st, "extension_list", ext_row, &it);
}

/* --- registrations --- */

static void bind_registration(sqlite3_stmt *st, const struct ztpd_registration_rec *r)
{
    SQ_BIND_OPT(st, 1, r->mac);
    SQ_BIND_OPT(st, 2, r->ip);
    SQ_BIND_OPT(st, 3, r->extension);
    SQ_BIND_OPT(st, 4, r->vendor);
    SQ_BIND_OPT(st, 5, r->model);
    SQ_BIND_OPT(st, 6, r->user_agent);
    SQ_BIND_OPT(st, 7, r->transport);
    SQ_BIND_OPT(st, 8, r->mac_source);
    if (r->port > 0)
        sqlite3_bind_int(st, 9, r->port);
    else
        sqlite3_bind_null(st, 9);
    sq_bind_time(st, 11, r->last_registered);
    sq_bind_time(st, 12, r->expires_at);
}

int sq_registration_upsert(void *h, const struct ztpd_registration_rec *r, int64_t *id_out)
{
    struct sq *q = h;
    int status;
    if (!r || r->id < 0)
        return ZTPD_STORAGE_EINVAL;
    if (r->id == 0) {
        sqlite3_stmt *st = sq_stmt(q, SQ_REG_INSERT, &status);
        if (!st)
            return status;
        bind_registration(st, r);
        sq_bind_time(st, 10, or_now(r->first_registered));
        SQ_BIND_OPT(st, 13, r->contact);
        status = sq_run(q, st, "registration_upsert");
        if (status == ZTPD_STORAGE_OK && id_out)
            *id_out = sqlite3_last_insert_rowid(q->db);
        return status;
    }
    sqlite3_stmt *st = sq_stmt(q, SQ_REG_UPDATE, &status);
    if (!st)
        return status;
    bind_registration(st, r);
    sq_bind_time(st, 10, r->first_registered);
    sqlite3_bind_int64(st, 13, r->id);
    SQ_BIND_OPT(st, 14, r->contact);
    status = run_changes(q, st, "registration_upsert");
    if (status == ZTPD_STORAGE_OK && id_out)
        *id_out = r->id;
    return status;
}

int sq_registration_delete(void *h, int64_t id)
{
    struct sq *q = h;
    int status;
    sqlite3_stmt *st = sq_stmt(q, SQ_REG_DELETE, &status);
    if (!st)
        return status;
    sqlite3_bind_int64(st, 1, id);
    return run_changes(q, st, "registration_delete");
}

struct reg_iter {
    ztpd_registration_row_cb cb;
    void *arg;
};

static int reg_row(sqlite3_stmt *st, void *ctx)
{
    struct reg_iter *it = ctx;
    struct ztpd_registration_rec r;
    memset(&r, 0, sizeof r);
    r.id = sqlite3_column_int64(st, 0);
    SQ_COL(st, 1, r.mac);
    SQ_COL(st, 2, r.ip);
    SQ_COL(st, 3, r.extension);
    SQ_COL(st, 4, r.vendor);
    SQ_COL(st, 5, r.model);
    SQ_COL(st, 6, r.user_agent);
    SQ_COL(st, 7, r.transport);
    SQ_COL(st, 8, r.mac_source);
    r.port = sqlite3_column_int(st, 9);
    r.first_registered = sq_col_time(st, 10);
    r.last_registered = sq_col_time(st, 11);
    r.expires_at = sq_col_time(st, 12);
    SQ_COL(st, 13, r.contact);
    return it->cb(&r, it->arg);
}

int sq_registration_list(void *h, ztpd_registration_row_cb cb, void *arg)
{
    struct sq *q = h;
    int status;
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_REG_LIST, &status);
    if (!st)
        return status;
    struct reg_iter it = {cb, arg};
    return sq_each(q, st, "registration_list", reg_row, &it);
}

static int count_row(sqlite3_stmt *st, void *ctx)
{
    *(int *)ctx = sqlite3_column_int(st, 0);
    return 1;
}

int sq_registration_cleanup(void *h, const struct ztpd_cleanup_policy *p, int *removed, int *kept)
{
    struct sq *q = h;
    int own, n_removed = 0, n_kept = 0;
    if (!p)
        return ZTPD_STORAGE_EINVAL;
    /* One transaction, so the two counts describe the same table. */
    int status = own_begin(q, &own);
    if (status)
        return status;
    sqlite3_stmt *st = sq_stmt(q, SQ_REG_CLEANUP, &status);
    if (st) {
        sqlite3_bind_int(st, 1, p->require_mac != 0);
        sqlite3_bind_int(st, 2, p->require_ip != 0);
        sqlite3_bind_int(st, 3, p->require_extension != 0);
        status = sq_run(q, st, "registration_cleanup");
        n_removed = sqlite3_changes(q->db);
    }
    if (status == ZTPD_STORAGE_OK) {
        st = sq_stmt(q, SQ_REG_COUNT, &status);
        if (st)
            status = sq_each(q, st, "registration_cleanup", count_row, &n_kept);
    }
    status = own_end(q, own, status);
    if (status == ZTPD_STORAGE_OK) {
        if (removed)
            *removed = n_removed;
        if (kept)
            *kept = n_kept;
    }
    return status;
}

/* --- provisioning request log --- */

int sq_request_append(void *h, const struct ztpd_request_rec *rows, size_t n)
{
    struct sq *q = h;
    int own;
    if (n == 0)
        return ZTPD_STORAGE_OK;
    if (!rows)
        return ZTPD_STORAGE_EINVAL;
    /* All rows or none: a partial batch would be retried and then logged twice. */
    int status = own_begin(q, &own);
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < n; i++) {
        const struct ztpd_request_rec *r = &rows[i];
        sqlite3_stmt *st = sq_stmt(q, SQ_REQ_INSERT, &status);
        if (!st)
            break;
        sq_bind_time(st, 1, or_now(r->at));
        SQ_BIND_OPT(st, 2, r->mac);
        SQ_BIND_OPT(st, 3, r->ip);
        SQ_BIND(st, 4, r->path);
        SQ_BIND_OPT(st, 5, r->user_agent);
        sqlite3_bind_int(st, 6, r->status);
        status = sq_run(q, st, "request_append");
    }
    return own_end(q, own, status);
}

struct req_iter {
    ztpd_request_row_cb cb;
    void *arg;
};

static int req_row(sqlite3_stmt *st, void *ctx)
{
    struct req_iter *it = ctx;
    struct ztpd_request_rec r;
    memset(&r, 0, sizeof r);
    r.id = sqlite3_column_int64(st, 0);
    r.at = sq_col_time(st, 1);
    SQ_COL(st, 2, r.mac);
    SQ_COL(st, 3, r.ip);
    SQ_COL(st, 4, r.path);
    SQ_COL(st, 5, r.user_agent);
    r.status = sqlite3_column_int(st, 6);
    return it->cb(&r, it->arg);
}

/* sqlite LIMIT takes a signed 64-bit value; SIZE_MAX means "all". */
static sqlite3_int64 clamp_count(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)n;
}

int sq_request_query(void *h, size_t limit, ztpd_request_row_cb cb, void *arg)
{
    struct sq *q = h;
    int status;
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_REQ_QUERY, &status);
    if (!st)
        return status;
    sqlite3_bind_int64(st, 1, clamp_count(limit));
    struct req_iter it = {cb, arg};
    return sq_each(q, st, "request_query", req_row, &it);
}

int sq_request_trim(void *h, size_t keep)
{
    struct sq *q = h;
    int status;
    sqlite3_stmt *st = sq_stmt(q, SQ_REQ_TRIM, &status);
    if (!st)
        return status;
    sqlite3_bind_int64(st, 1, clamp_count(keep));
    return sq_run(q, st, "request_trim");
}

/* --- discovered devices --- */

int sq_discovered_upsert(void *h, const struct ztpd_discovered_rec *d)
{
    struct sq *q = h;
    int status;
    if (!d || !backend_valid_mac(d->mac))
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DISC_UPSERT, &status);
    if (!st)
        return status;
    int64_t now = sq_now();
    SQ_BIND(st, 1, d->mac);
    SQ_BIND_OPT(st, 2, d->vendor);
    SQ_BIND_OPT(st, 3, d->model);
    SQ_BIND_OPT(st, 4, d->firmware);
    SQ_BIND_OPT(st, 5, d->ip);
    SQ_BIND_OPT(st, 6, d->user_agent);
    sq_bind_time(st, 7, d->first_seen > 0 ? d->first_seen : now);
    sq_bind_time(st, 8, d->last_seen > 0 ? d->last_seen : now);
    sqlite3_bind_int64(st, 9, d->count);
    return sq_run(q, st, "discovered_upsert");
}

struct disc_iter {
    ztpd_discovered_row_cb cb;
    void *arg;
};

static int disc_row(sqlite3_stmt *st, void *ctx)
{
    struct disc_iter *it = ctx;
    struct ztpd_discovered_rec d;
    memset(&d, 0, sizeof d);
    SQ_COL(st, 0, d.mac);
    SQ_COL(st, 1, d.vendor);
    SQ_COL(st, 2, d.model);
    SQ_COL(st, 3, d.firmware);
    SQ_COL(st, 4, d.ip);
    SQ_COL(st, 5, d.user_agent);
    d.first_seen = sq_col_time(st, 6);
    d.last_seen = sq_col_time(st, 7);
    d.count = sqlite3_column_int64(st, 8);
    return it->cb(&d, it->arg);
}

int sq_discovered_list(void *h, ztpd_discovered_row_cb cb, void *arg)
{
    struct sq *q = h;
    int status;
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DISC_LIST, &status);
    if (!st)
        return status;
    struct disc_iter it = {cb, arg};
    return sq_each(q, st, "discovered_list", disc_row, &it);
}

int sq_discovered_delete(void *h, const char *mac)
{
    struct sq *q = h;
    int status;
    if (!mac)
        return ZTPD_STORAGE_EINVAL;
    sqlite3_stmt *st = sq_stmt(q, SQ_DISC_DELETE, &status);
    if (!st)
        return status;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
    return run_changes(q, st, "discovered_delete");
}
