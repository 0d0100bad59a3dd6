/* The domain operations of the PostgreSQL backend: rows of the ABI in and out of the tables.
 *
 * Timestamps cross the wire as Unix seconds and are stored as TIMESTAMP (without time zone)
 * holding UTC: to_timestamp(..) AT TIME ZONE 'UTC' on the way in, extract(epoch ..) on the
 * way out (extract of a TIMESTAMP reads its wall time as UTC; floor drops the fraction a row
 * written by now() has, as sqlite's reader does; NULL stays NULL and reads as 0).
 * Both ignore the session's TimeZone, so the server's setting cannot shift them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

#define UTC_TS(n) "(to_timestamp($" #n "::bigint) AT TIME ZONE 'UTC')"
/* One name per parameter, so the SQL below reads as plain string concatenation. */
#define TS1 UTC_TS(1)
#define TS2 UTC_TS(2)
#define TS4 UTC_TS(4)
#define TS5 UTC_TS(5)
#define TS6 UTC_TS(6)
#define TS7 UTC_TS(7)
#define TS8 UTC_TS(8)
#define TS10 UTC_TS(10)
#define TS11 UTC_TS(11)
#define TS12 UTC_TS(12)

#define DEVICE_COLS                                                                                \
    "mac_address, extension_number, vendor, model, config_url, created_at, last_provisioned"
#define DEVICE_SEL                                                                                 \
    "mac_address, extension_number, vendor, model, config_url, "                                   \
    "floor(extract(epoch FROM created_at))::bigint, "                                              \
    "floor(extract(epoch FROM last_provisioned))::bigint"
#define EXT_COLS "number, name, password, created_at, updated_at"
#define EXT_SEL                                                                                    \
    "number, name, password, floor(extract(epoch FROM created_at))::bigint, "                      \
    "floor(extract(epoch FROM updated_at))::bigint"
#define REG_COLS                                                                                   \
    "mac_address, ip_address, extension_number, vendor, model, user_agent, transport, "            \
    "mac_source, contact_port, registered_at, last_registered, expires_at"
#define REG_SEL                                                                                    \
    "id, mac_address, ip_address, extension_number, vendor, model, user_agent, transport, "        \
    "mac_source, contact_port, floor(extract(epoch FROM registered_at))::bigint, "                 \
    "floor(extract(epoch FROM last_registered))::bigint, "                                         \
    "floor(extract(epoch FROM expires_at))::bigint, contact"
#define REQ_COLS "at, mac_address, ip_address, path, user_agent, status"
#define REQ_SEL                                                                                    \
    "id, floor(extract(epoch FROM at))::bigint, mac_address, ip_address, path, user_agent, status"
#define DISC_COLS                                                                                  \
    "mac_address, vendor, model, firmware, ip_address, user_agent, first_seen, last_seen, count"
#define DISC_SEL                                                                                   \
    "mac_address, vendor, model, firmware, ip_address, user_agent, "                               \
    "floor(extract(epoch FROM first_seen))::bigint, "                                              \
    "floor(extract(epoch FROM last_seen))::bigint, count"

const char *const pg_sql[PG_STMT_COUNT] = {
    [PG_DEVICE_INSERT] = "INSERT INTO provisioned_devices (" DEVICE_COLS ") "
                         "VALUES ($1, $2, $3, $4, $5, " TS6 ", " TS7 ")",
    /* ON CONFLICT ... DO UPDATE keeps the row (and its id) and its created_at. A 0
     * last_provisioned means "not known here", not "reset". */
    [PG_DEVICE_UPSERT] =
        "INSERT INTO provisioned_devices AS d (" DEVICE_COLS ") "
        "VALUES ($1, $2, $3, $4, $5, " TS6 ", " TS7 ") "
        "ON CONFLICT (mac_address) DO UPDATE SET "
        "extension_number = excluded.extension_number, "
        "vendor = excluded.vendor, model = excluded.model, "
        "config_url = excluded.config_url, "
        "created_at = COALESCE(d.created_at, excluded.created_at), "
        "last_provisioned = COALESCE(excluded.last_provisioned, d.last_provisioned)",
    [PG_DEVICE_GET] = "SELECT " DEVICE_SEL " FROM provisioned_devices WHERE mac_address = $1",
    [PG_DEVICE_DELETE] = "DELETE FROM provisioned_devices WHERE mac_address = $1",
    [PG_DEVICE_LIST] = "SELECT " DEVICE_SEL " FROM provisioned_devices ORDER BY id",
    [PG_DEVICE_TOUCH] =
        "UPDATE provisioned_devices SET last_provisioned = " TS2 " WHERE mac_address = $1",
    [PG_EXT_PUT] = "INSERT INTO extensions AS e (" EXT_COLS ") "
                   "VALUES ($1, $2, $3, " TS4 ", " TS5 ") "
                   "ON CONFLICT (number) DO UPDATE SET "
                   "name = excluded.name, password = excluded.password, "
                   "created_at = COALESCE(e.created_at, excluded.created_at), "
                   "updated_at = excluded.updated_at",
    [PG_EXT_DELETE] = "DELETE FROM extensions WHERE number = $1",
    /* COLLATE "C": byte order, as sqlite sorts, whatever the database's locale. */
    [PG_EXT_LIST] = "SELECT " EXT_SEL " FROM extensions ORDER BY number COLLATE \"C\"",
    [PG_REG_INSERT] = "INSERT INTO registered_phones (" REG_COLS ", contact) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::integer, " TS10 ", " TS11
                      ", " TS12 ", $13) RETURNING id",
    [PG_REG_UPDATE] = "UPDATE registered_phones SET "
                      "mac_address = $1, ip_address = $2, extension_number = $3, vendor = $4, "
                      "model = $5, user_agent = $6, transport = $7, mac_source = $8, "
                      "contact_port = $9::integer, "
                      "registered_at = COALESCE(" TS10 ", registered_at), "
                      "last_registered = " TS11 ", expires_at = " TS12 ", contact = $14 "
                      "WHERE id = $13",
    [PG_REG_DELETE] = "DELETE FROM registered_phones WHERE id = $1",
    [PG_REG_LIST] = "SELECT " REG_SEL " FROM registered_phones ORDER BY id",
    /* The guide's rule: incomplete when a required field is NULL or the empty string. */
    [PG_REG_CLEANUP] = "DELETE FROM registered_phones WHERE "
                       "($1::boolean AND COALESCE(mac_address, '') = '') OR "
                       "($2::boolean AND COALESCE(ip_address, '') = '') OR "
                       "($3::boolean AND COALESCE(extension_number, '') = '')",
    [PG_REG_COUNT] = "SELECT COUNT(*) FROM registered_phones",
    [PG_REQ_INSERT] = "INSERT INTO provisioning_requests (" REQ_COLS ") "
                      "VALUES (" TS1 ", $2, $3, $4, $5, $6::integer)",
    [PG_REQ_QUERY] = "SELECT " REQ_SEL " FROM provisioning_requests ORDER BY id DESC LIMIT $1",
    /* Finds the id of the newest row to drop through the primary key index, then deletes it
     * and everything older; with fewer than `keep` rows the subquery is NULL and nothing goes. */
    [PG_REQ_TRIM] = "DELETE FROM provisioning_requests WHERE id <= "
                    "(SELECT id FROM provisioning_requests ORDER BY id DESC LIMIT 1 OFFSET $1)",
    [PG_DISC_UPSERT] = "INSERT INTO discovered_devices AS dd (" DISC_COLS ") "
                       "VALUES ($1, $2, $3, $4, $5, $6, " TS7 ", " TS8 ", $9::bigint) "
                       "ON CONFLICT (mac_address) DO UPDATE SET "
                       "vendor = excluded.vendor, model = excluded.model, "
                       "firmware = excluded.firmware, ip_address = excluded.ip_address, "
                       "user_agent = excluded.user_agent, "
                       "first_seen = COALESCE(dd.first_seen, excluded.first_seen), "
                       "last_seen = excluded.last_seen, count = excluded.count",
    [PG_DISC_LIST] =
        "SELECT " DISC_SEL " FROM discovered_devices ORDER BY mac_address COLLATE \"C\"",
    [PG_DISC_DELETE] = "DELETE FROM discovered_devices WHERE mac_address = $1",
    [PG_PING] = "SELECT 1",
    /* One statement for a whole chunk of the bulk import: the rows travel as one array per
     * column. ORDER BY the position gives the ids in array order, as n single inserts would. */
    [PG_DEVICE_INSERT_MANY] =
        "INSERT INTO provisioned_devices (" DEVICE_COLS ") "
        "SELECT m, e, v, mo, u, to_timestamp(c) AT TIME ZONE 'UTC', "
        "to_timestamp(l) AT TIME ZONE 'UTC' "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], "
        "$7::bigint[]) WITH ORDINALITY AS t(m, e, v, mo, u, c, l, i) ORDER BY i",
};

static int64_t or_now(int64_t t)
{
    return t > 0 ? t : pg_now();
}

static int64_t changes(const PGresult *res)
{
    return strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

/* Runs a statement that changes rows and says ENOTFOUND when it changed none. */
static int run_changes(struct pg *p, enum pg_stmt_id id, const struct pg_params *pp,
                       const char *what)
{
    PGresult *res = NULL;
    int status = pg_run(p, id, pp, &res, what);
    if (status)
        return status;
    int64_t n = changes(res);
    PQclear(res);
    return n == 0 ? ZTPD_STORAGE_ENOTFOUND : ZTPD_STORAGE_OK;
}

/* Opens a transaction for a multi-statement op unless the caller already has one.
 * Returns the status; *own says whether we must end it. */
static int own_begin(struct pg *p, int *own)
{
    int status = pg_ready(p);
    *own = 0;
    if (status)
        return status;
    *own = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
    return *own ? pg_begin(p) : ZTPD_STORAGE_OK;
}

static int own_end(struct pg *p, int own, int status)
{
    if (!own)
        return status;
    if (status == ZTPD_STORAGE_OK)
        status = pg_commit(p);
    if (status != ZTPD_STORAGE_OK)
        pg_rollback(p);
    return status;
}

/* Rows of a list query go to fn one at a time; fn returning non-zero stops the walk. */
typedef int (*row_fn)(const PGresult *res, int row, void *ctx);

static int each(struct pg *p, enum pg_stmt_id id, const struct pg_params *pp, const char *what,
                row_fn fn, void *ctx)
{
    PGresult *res = NULL;
    int status = pg_run(p, id, pp, &res, what);
    if (status)
        return status;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if (fn(res, i, ctx))
            break;
    }
    PQclear(res);
    return ZTPD_STORAGE_OK;
}

/* --- devices --- */

static void read_device(const PGresult *res, int row, struct ztpd_device_rec *d)
{
    memset(d, 0, sizeof *d);
    PG_COL(res, row, 0, d->mac);
    PG_COL(res, row, 1, d->extension);
    PG_COL(res, row, 2, d->vendor);
    PG_COL(res, row, 3, d->model);
    PG_COL(res, row, 4, d->config_url);
    d->created_at = pg_col_int(res, row, 5);
    d->last_provisioned = pg_col_int(res, row, 6);
}

int pg_device_put(void *h, const struct ztpd_device_rec *d, int mode)
{
    struct pg *p = h;
    if (!d || !backend_valid_mac(d->mac) || (mode != ZTPD_PUT_INSERT && mode != ZTPD_PUT_UPSERT))
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {0};
    PP_TEXT(&pp, d->mac);
    PP_TEXT(&pp, d->extension);
    PP_TEXT(&pp, d->vendor);
    PP_TEXT(&pp, d->model);
    PP_OPT(&pp, d->config_url);
    pp_time(&pp, or_now(d->created_at));
    pp_time(&pp, d->last_provisioned);
    return pg_run(p, mode == ZTPD_PUT_INSERT ? PG_DEVICE_INSERT : PG_DEVICE_UPSERT, &pp, NULL,
                  "device_put");
}

/* --- bulk insert --- */

/* Rows per INSERT of device_put_many: 5,000 rows are ~0.5 MB of parameters, large enough that
 * the per-statement cost vanishes and small enough to stay far from any server limit. */
#define PUT_MANY_CHUNK 5000

/* A PostgreSQL array literal being built: "{...}". */
struct arr {
    char *buf;
    size_t len, cap;
    int bad; /* out of memory, or a field not NUL-terminated within its size */
};

static void arr_put(struct arr *a, const char *s, size_t n)
{
    if (a->bad)
        return;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *nb = realloc(a->buf, cap);
        if (!nb) {
            a->bad = 1;
            return;
        }
        a->buf = nb;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

static void arr_sep(struct arr *a, size_t i)
{
    arr_put(a, i ? "," : "{", 1);
}

/* One text element, double-quoted with \ and " escaped; "" becomes NULL when opt is set, as
 * PP_OPT sends it for a single row. */
static void arr_text(struct arr *a, size_t i, const char *s, size_t cap, int opt)
{
    arr_sep(a, i);
    if (!memchr(s, '\0', cap)) {
        a->bad = 1;
        return;
    }
    if (opt && !*s) {
        arr_put(a, "NULL", 4);
        return;
    }
    arr_put(a, "\"", 1);
    for (const char *p = s; *p; p++) {
        size_t run = strcspn(p, "\"\\");
        arr_put(a, p, run);
        p += run;
        if (!*p)
            break;
        arr_put(a, "\\", 1);
        arr_put(a, p, 1);
    }
    arr_put(a, "\"", 1);
}

/* One bigint element; 0 (no time) becomes NULL. */
static void arr_time(struct arr *a, size_t i, int64_t t)
{
    char num[24];
    arr_sep(a, i);
    if (t > 0)
        arr_put(a, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)t));
    else
        arr_put(a, "NULL", 4);
}

/* Inserts rows[0..n) with one statement; *bad set when a field could not be sent. */
static int insert_chunk(struct pg *p, const struct ztpd_device_rec *rows, size_t n, int *bad)
{
    struct arr a[7];
    memset(a, 0, sizeof a);
    for (size_t i = 0; i < n; i++) {
        const struct ztpd_device_rec *d = &rows[i];
        arr_text(&a[0], i, d->mac, sizeof d->mac, 0);
        arr_text(&a[1], i, d->extension, sizeof d->extension, 0);
        arr_text(&a[2], i, d->vendor, sizeof d->vendor, 0);
        arr_text(&a[3], i, d->model, sizeof d->model, 0);
        arr_text(&a[4], i, d->config_url, sizeof d->config_url, 1);
        arr_time(&a[5], i, or_now(d->created_at));
        arr_time(&a[6], i, d->last_provisioned);
    }
    struct pg_params pp = {0};
    *bad = 0;
    for (int k = 0; k < 7; k++) {
        arr_put(&a[k], "}", 1);
        *bad |= a[k].bad;
        pp.v[k] = a[k].buf;
    }
    pp.n = 7;
    int status =
        *bad ? ZTPD_STORAGE_EINVAL : pg_run(p, PG_DEVICE_INSERT_MANY, &pp, NULL, "device_put_many");
    for (int k = 0; k < 7; k++)
        free(a[k].buf);
    return status;
}

/* Finds the row of rows[0..n) that conflicts by inserting them one at a time (after the
 * chunk's savepoint was rolled back); the failing one is the first in array order. */
static int insert_each(struct pg *p, const struct ztpd_device_rec *rows, size_t n, size_t base,
                       size_t *failed_index)
{
    for (size_t i = 0; i < n; i++) {
        int status = pg_device_put(p, &rows[i], ZTPD_PUT_INSERT);
        if (status) {
            *failed_index = base + i;
            return status;
        }
    }
    /* The conflicting row went away in between (a concurrent insert rolled back). */
    return ZTPD_STORAGE_OK;
}

int pg_device_put_many(void *h, const struct ztpd_device_rec *rows, size_t n, int mode,
                       size_t *failed_index)
{
    struct pg *p = h;
    size_t failed_dummy;
    if (!failed_index)
        failed_index = &failed_dummy;
    *failed_index = n;
    if ((!rows && n) || (mode != ZTPD_PUT_INSERT && mode != ZTPD_PUT_UPSERT))
        return ZTPD_STORAGE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!backend_valid_mac(rows[i].mac)) {
            *failed_index = i;
            return ZTPD_STORAGE_EINVAL;
        }
    }
    int own;
    int status = own_begin(p, &own);
    if (status)
        return status;
    if (mode == ZTPD_PUT_UPSERT) {
        /* ON CONFLICT DO UPDATE refuses a MAC twice in one statement, which an array may hold;
         * upserts are not the bulk path, one statement a row is good enough. */
        for (size_t i = 0; status == ZTPD_STORAGE_OK && i < n; i++) {
            status = pg_device_put(p, &rows[i], mode);
            if (status)
                *failed_index = i;
        }
        return own_end(p, own, status);
    }
    for (size_t at = 0; status == ZTPD_STORAGE_OK && at < n; at += PUT_MANY_CHUNK) {
        size_t len = n - at < PUT_MANY_CHUNK ? n - at : PUT_MANY_CHUNK;
        /* The savepoint lets a duplicate be traced to its row: a failed statement aborts the
         * transaction, but rolling back to the savepoint revives it for the row-by-row pass.
         * The caller still sees ECONFLICT end the transaction, as the ABI says. */
        status = pg_exec(p, "SAVEPOINT ztpd_put_many", NULL, "device_put_many");
        int bad = 0;
        if (status == ZTPD_STORAGE_OK)
            status = insert_chunk(p, rows + at, len, &bad);
        if (status == ZTPD_STORAGE_ECONFLICT) {
            status = pg_exec(p, "ROLLBACK TO SAVEPOINT ztpd_put_many", NULL, "device_put_many");
            if (status == ZTPD_STORAGE_OK)
                status = insert_each(p, rows + at, len, at, failed_index);
        } else if (status == ZTPD_STORAGE_EINVAL && bad) {
            pg_log(p, 1,
                   "device_put_many: a field of rows %zu..%zu is not NUL-terminated or "
                   "out of memory",
                   at, at + len - 1);
        }
        if (status == ZTPD_STORAGE_OK)
            status = pg_exec(p, "RELEASE SAVEPOINT ztpd_put_many", NULL, "device_put_many");
    }
    return own_end(p, own, status);
}

int pg_device_get(void *h, const char *mac, struct ztpd_device_rec *out)
{
    struct pg *p = h;
    if (!mac || !out)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {.v = {mac}, .n = 1};
    PGresult *res = NULL;
    int status = pg_run(p, PG_DEVICE_GET, &pp, &res, "device_get");
    if (status)
        return status;
    if (PQntuples(res) > 0)
        read_device(res, 0, out);
    else
        status = ZTPD_STORAGE_ENOTFOUND;
    PQclear(res);
    return status;
}

int pg_device_delete(void *h, const char *mac)
{
    if (!mac)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {.v = {mac}, .n = 1};
    return run_changes(h, PG_DEVICE_DELETE, &pp, "device_delete");
}

struct device_iter {
    ztpd_device_row_cb cb;
    void *arg;
};

static int device_row(const PGresult *res, int row, void *ctx)
{
    struct device_iter *it = ctx;
    struct ztpd_device_rec d;
    read_device(res, row, &d);
    return it->cb(&d, it->arg);
}

int pg_device_list(void *h, ztpd_device_row_cb cb, void *arg)
{
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    struct device_iter it = {cb, arg};
    return each(h, PG_DEVICE_LIST, NULL, "device_list", device_row, &it);
}

int pg_device_touch(void *h, const char *mac, int64_t at)
{
    if (!mac)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {.v = {mac}, .n = 1};
    pp_time(&pp, or_now(at));
    return run_changes(h, PG_DEVICE_TOUCH, &pp, "device_touch");
}

/* --- extensions --- */

int pg_extension_put(void *h, const struct ztpd_extension_rec *e)
{
    if (!e || !e->number[0])
        return ZTPD_STORAGE_EINVAL;
    int64_t now = pg_now();
    struct pg_params pp = {0};
    PP_TEXT(&pp, e->number);
    PP_TEXT(&pp, e->name);
    PP_TEXT(&pp, e->password);
    pp_time(&pp, e->created_at > 0 ? e->created_at : now);
    pp_time(&pp, e->updated_at > 0 ? e->updated_at : now);
    return pg_run(h, PG_EXT_PUT, &pp, NULL, "extension_put");
}

int pg_extension_delete(void *h, const char *number)
{
    if (!number)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {.v = {number}, .n = 1};
    return run_changes(h, PG_EXT_DELETE, &pp, "extension_delete");
}

struct ext_iter {
    ztpd_extension_row_cb cb;
    void *arg;
};

static int ext_row(const PGresult *res, int row, void *ctx)
{
    struct ext_iter *it = ctx;
    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    PG_COL(res, row, 0, e.number);
    PG_COL(res, row, 1, e.name);
    PG_COL(res, row, 2, e.password);
    e.created_at = pg_col_int(res, row, 3);
    e.updated_at = pg_col_int(res, row, 4);
    return it->cb(&e, it->arg);
}

int pg_extension_list(void *h, ztpd_extension_row_cb cb, void *arg)
{
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    struct ext_iter it = {cb, arg};
    return each(h, PG_EXT_LIST, NULL, "extension_list", ext_row, &it);
}

/* --- registrations --- */

static void bind_registration(struct pg_params *pp, const struct ztpd_registration_rec *r,
                              int64_t first_registered)
{
    PP_OPT(pp, r->mac);
    PP_OPT(pp, r->ip);
    PP_OPT(pp, r->extension);
    PP_OPT(pp, r->vendor);
    PP_OPT(pp, r->model);
    PP_OPT(pp, r->user_agent);
    PP_OPT(pp, r->transport);
    PP_OPT(pp, r->mac_source);
    if (r->port > 0)
        pp_int(pp, r->port);
    else
        pp_null(pp);
    pp_time(pp, first_registered);
    pp_time(pp, r->last_registered);
    pp_time(pp, r->expires_at);
}

int pg_registration_upsert(void *h, const struct ztpd_registration_rec *r, int64_t *id_out)
{
    struct pg *p = h;
    if (!r || r->id < 0)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {0};
    if (r->id == 0) {
        bind_registration(&pp, r, or_now(r->first_registered));
        PP_OPT(&pp, r->contact);
        PGresult *res = NULL;
        int status = pg_run(p, PG_REG_INSERT, &pp, &res, "registration_upsert");
        if (status)
            return status;
        if (id_out)
            *id_out = PQntuples(res) > 0 ? pg_col_int(res, 0, 0) : 0;
        PQclear(res);
        return ZTPD_STORAGE_OK;
    }
    bind_registration(&pp, r, r->first_registered);
    pp_int(&pp, r->id);
    PP_OPT(&pp, r->contact);
    int status = run_changes(p, PG_REG_UPDATE, &pp, "registration_upsert");
    if (status == ZTPD_STORAGE_OK && id_out)
        *id_out = r->id;
    return status;
}

int pg_registration_delete(void *h, int64_t id)
{
    struct pg_params pp = {0};
    pp_int(&pp, id);
    return run_changes(h, PG_REG_DELETE, &pp, "registration_delete");
}

struct reg_iter {
    ztpd_registration_row_cb cb;
    void *arg;
};

static int reg_row(const PGresult *res, int row, void *ctx)
{
    struct reg_iter *it = ctx;
    struct ztpd_registration_rec r;
    memset(&r, 0, sizeof r);
    r.id = pg_col_int(res, row, 0);
    PG_COL(res, row, 1, r.mac);
    PG_COL(res, row, 2, r.ip);
    PG_COL(res, row, 3, r.extension);
    PG_COL(res, row, 4, r.vendor);
    PG_COL(res, row, 5, r.model);
    PG_COL(res, row, 6, r.user_agent);
    PG_COL(res, row, 7, r.transport);
    PG_COL(res, row, 8, r.mac_source);
    r.port = (int32_t)pg_col_int(res, row, 9);
    r.first_registered = pg_col_int(res, row, 10);
    r.last_registered = pg_col_int(res, row, 11);
    r.expires_at = pg_col_int(res, row, 12);
    PG_COL(res, row, 13, r.contact);
    return it->cb(&r, it->arg);
}

int pg_registration_list(void *h, ztpd_registration_row_cb cb, void *arg)
{
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    struct reg_iter it = {cb, arg};
    return each(h, PG_REG_LIST, NULL, "registration_list", reg_row, &it);
}

int pg_registration_cleanup(void *h, const struct ztpd_cleanup_policy *policy, int *removed,
                            int *kept)
{
    struct pg *p = h;
    int own;
    if (!policy)
        return ZTPD_STORAGE_EINVAL;
    /* One transaction, so the two counts describe the same table. */
    int status = own_begin(p, &own);
    if (status)
        return status;
    struct pg_params pp = {0};
    pp_bool(&pp, policy->require_mac);
    pp_bool(&pp, policy->require_ip);
    pp_bool(&pp, policy->require_extension);
    PGresult *res = NULL;
    int64_t n_removed = 0, n_kept = 0;
    status = pg_run(p, PG_REG_CLEANUP, &pp, &res, "registration_cleanup");
    if (status == ZTPD_STORAGE_OK) {
        n_removed = changes(res);
        PQclear(res);
        status = pg_run(p, PG_REG_COUNT, NULL, &res, "registration_cleanup");
    }
    if (status == ZTPD_STORAGE_OK) {
        n_kept = PQntuples(res) > 0 ? pg_col_int(res, 0, 0) : 0;
        PQclear(res);
    }
    status = own_end(p, own, status);
    if (status == ZTPD_STORAGE_OK) {
        if (removed)
            *removed = (int)n_removed;
        if (kept)
            *kept = (int)n_kept;
    }
    return status;
}

/* --- provisioning request log --- */

int pg_request_append(void *h, const struct ztpd_request_rec *rows, size_t n)
{
    struct pg *p = h;
    int own;
    if (n == 0)
        return ZTPD_STORAGE_OK;
    if (!rows)
        return ZTPD_STORAGE_EINVAL;
    /* All rows or none: a partial batch would be retried and then logged twice. */
    int status = own_begin(p, &own);
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < n; i++) {
        const struct ztpd_request_rec *r = &rows[i];
        struct pg_params pp = {0};
        pp_time(&pp, or_now(r->at));
        PP_OPT(&pp, r->mac);
        PP_OPT(&pp, r->ip);
        PP_TEXT(&pp, r->path);
        PP_OPT(&pp, r->user_agent);
        pp_int(&pp, r->status);
        status = pg_run(p, PG_REQ_INSERT, &pp, NULL, "request_append");
    }
    return own_end(p, own, status);
}

struct req_iter {
    ztpd_request_row_cb cb;
    void *arg;
};

static int req_row(const PGresult *res, int row, void *ctx)
{
    struct req_iter *it = ctx;
    struct ztpd_request_rec r;
    memset(&r, 0, sizeof r);
    r.id = pg_col_int(res, row, 0);
    r.at = pg_col_int(res, row, 1);
    PG_COL(res, row, 2, r.mac);
    PG_COL(res, row, 3, r.ip);
    PG_COL(res, row, 4, r.path);
    PG_COL(res, row, 5, r.user_agent);
    r.status = (int32_t)pg_col_int(res, row, 6);
    return it->cb(&r, it->arg);
}

/* LIMIT and OFFSET take a signed 64-bit value; SIZE_MAX means "all". */
static int64_t clamp_count(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

int pg_request_query(void *h, size_t limit, ztpd_request_row_cb cb, void *arg)
{
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {0};
    pp_int(&pp, clamp_count(limit));
    struct req_iter it = {cb, arg};
    return each(h, PG_REQ_QUERY, &pp, "request_query", req_row, &it);
}

int pg_request_trim(void *h, size_t keep)
{
    struct pg_params pp = {0};
    pp_int(&pp, clamp_count(keep));
    return pg_run(h, PG_REQ_TRIM, &pp, NULL, "request_trim");
}

/* --- discovered devices --- */

int pg_discovered_upsert(void *h, const struct ztpd_discovered_rec *d)
{
    if (!d || !backend_valid_mac(d->mac))
        return ZTPD_STORAGE_EINVAL;
    int64_t now = pg_now();
    struct pg_params pp = {0};
    PP_TEXT(&pp, d->mac);
    PP_OPT(&pp, d->vendor);
    PP_OPT(&pp, d->model);
    PP_OPT(&pp, d->firmware);
    PP_OPT(&pp, d->ip);
    PP_OPT(&pp, d->user_agent);
    pp_time(&pp, d->first_seen > 0 ? d->first_seen : now);
    pp_time(&pp, d->last_seen > 0 ? d->last_seen : now);
    pp_int(&pp, d->count);
    return pg_run(h, PG_DISC_UPSERT, &pp, NULL, "discovered_upsert");
}

struct disc_iter {
    ztpd_discovered_row_cb cb;
    void *arg;
};

static int disc_row(const PGresult *res, int row, void *ctx)
{
    struct disc_iter *it = ctx;
    struct ztpd_discovered_rec d;
    memset(&d, 0, sizeof d);
    PG_COL(res, row, 0, d.mac);
    PG_COL(res, row, 1, d.vendor);
    PG_COL(res, row, 2, d.model);
    PG_COL(res, row, 3, d.firmware);
    PG_COL(res, row, 4, d.ip);
    PG_COL(res, row, 5, d.user_agent);
    d.first_seen = pg_col_int(res, row, 6);
    d.last_seen = pg_col_int(res, row, 7);
    d.count = pg_col_int(res, row, 8);
    return it->cb(&d, it->arg);
}

int pg_discovered_list(void *h, ztpd_discovered_row_cb cb, void *arg)
{
    if (!cb)
        return ZTPD_STORAGE_EINVAL;
    struct disc_iter it = {cb, arg};
    return each(h, PG_DISC_LIST, NULL, "discovered_list", disc_row, &it);
}

int pg_discovered_delete(void *h, const char *mac)
{
    if (!mac)
        return ZTPD_STORAGE_EINVAL;
    struct pg_params pp = {.v = {mac}, .n = 1};
    return run_changes(h, PG_DISC_DELETE, &pp, "discovered_delete");
}
