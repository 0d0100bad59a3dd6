/* ztpd storage backend ABI, version 1.
 *
 * A backend is a shared object exporting one symbol per major ABI:
 *     const struct ztpd_storage_backend *ztpd_storage_entry_v1(const struct ztpd_storage_host *);
 * It links against nothing of the daemon: logging and config lookup come from the host table.
 *
 * Rules:
 *  - Descriptors start with abi_major, abi_minor, struct_size, name; fields are only appended.
 *    The loader reads a function pointer only if it lies within struct_size.
 *  - All functions run on the core's storage thread, one call at a time: backends are plain
 *    synchronous code and need no locking of their own.
 *  - Records are plain structs with fixed-size, NUL-terminated strings; the caller owns them.
 *    Rows passed to a list callback are valid only during the callback.
 *  - MACs are 12 lowercase hex digits; timestamps are Unix seconds UTC (0 = NULL / never).
 *    A creation time (created_at, first_registered, first_seen, request at) given as 0 on
 *    insert is set to the current time by the backend.
 *  - Deletes and device_touch return ENOTFOUND when no row matched.
 *  - Transactions: after begin(), a call that fails with EINVAL, EIO, ECONFLICT or EUNAVAIL
 *    may have ended the whole transaction. PostgreSQL aborts it (every later statement fails
 *    with EIO and commit() rolls back and returns EIO) while sqlite carries on with the
 *    statements that follow; backends use no savepoints to hide the difference. Callers must
 *    therefore treat such a failure as the end of the transaction: rollback() and redo the
 *    work if they want it. ENOTFOUND (no row matched) is not a failed statement and leaves the
 *    transaction usable on both backends.
 *  - EUNAVAIL means the connection is gone: the backend reconnects on a later call (or on
 *    ping()), outside a transaction only, and a statement outside a transaction that found
 *    the connection dead is retried once on the new one. Prepared state is redone per
 *    connection.
 *  - Return 0 or a negative ZTPD_STORAGE_E* code; never exit or abort.
 */
#ifndef ZTPD_STORAGE_H
#define ZTPD_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#define ZTPD_STORAGE_ABI_MAJOR 1
#define ZTPD_STORAGE_ABI_MINOR 1
/* The first minor with today's record layouts (minor 1: ztpd_registration_rec.contact, and
 * ztpd_device_rec.config_url cut from 512 to ZTPD_S_CONFIG_URL bytes). Records
 * are passed by pointer, so a backend built for an older minor reads and writes them with the
 * wrong size: the loader refuses it. */
#define ZTPD_STORAGE_RECORDS_MINOR 1
#define ZTPD_STORAGE_ENTRY_SYMBOL "ztpd_storage_entry_v1"

/* Result codes of backend operations. */
enum ztpd_storage_status {
    ZTPD_STORAGE_OK = 0,
    ZTPD_STORAGE_ENOTFOUND = -1, /* no such row */
    ZTPD_STORAGE_ECONFLICT = -2, /* unique key violated (duplicate MAC, number...) */
    ZTPD_STORAGE_EINVAL = -3,    /* value rejected by the backend */
    ZTPD_STORAGE_EIO = -4,       /* query failed; the connection may still be good */
    ZTPD_STORAGE_EUNAVAIL = -5,  /* database unreachable; the core will retry */
    ZTPD_STORAGE_ESCHEMA = -6,   /* schema newer than this backend understands */
};

/* String field sizes (including the NUL). */
#define ZTPD_S_MAC 13
#define ZTPD_S_EXT 32
#define ZTPD_S_NAME 128
#define ZTPD_S_VENDOR 64
#define ZTPD_S_IP 46
#define ZTPD_S_URL 512
/* A device's provisioning URL, derived from provisioning.url_format: the daemon refuses a
 * format whose URL would not fit. Kept short because the registry holds one per device. */
#define ZTPD_S_CONFIG_URL 192
#define ZTPD_S_UA 256
#define ZTPD_S_PATH 256
#define ZTPD_S_SECRET 128
#define ZTPD_S_SHORT 24

struct ztpd_device_rec {
    char mac[ZTPD_S_MAC];
    char extension[ZTPD_S_EXT];
    char vendor[ZTPD_S_VENDOR];
    char model[ZTPD_S_VENDOR];
    char config_url[ZTPD_S_CONFIG_URL];
    int64_t created_at;
    int64_t last_provisioned; /* 0 = never */
};

struct ztpd_extension_rec {
    char number[ZTPD_S_EXT];
    char name[ZTPD_S_NAME];
    char password[ZTPD_S_SECRET];
    int64_t created_at;
    int64_t updated_at;
};

struct ztpd_registration_rec {
    int64_t id; /* assigned by the backend on insert; 0 on input means "new" */
    char mac[ZTPD_S_MAC];
    char ip[ZTPD_S_IP];
    char extension[ZTPD_S_EXT];
    char vendor[ZTPD_S_VENDOR];
    char model[ZTPD_S_VENDOR];
    char user_agent[ZTPD_S_UA];
    char transport[ZTPD_S_SHORT];
    char mac_source[ZTPD_S_SHORT]; /* "sip_registration" | "provisioning" | "" */
    int32_t port;
    int64_t first_registered;
    int64_t last_registered;
    int64_t expires_at;
    /* ABI 1.1: the registered Contact URI (the Request-URI of NOTIFYs); "" when unknown. */
    char contact[ZTPD_S_URL];
};

struct ztpd_request_rec {
    int64_t id; /* assigned by the backend */
    int64_t at;
    char mac[ZTPD_S_MAC]; /* "" when the request named no known MAC */
    char ip[ZTPD_S_IP];
    char path[ZTPD_S_PATH];
    char user_agent[ZTPD_S_UA];
    int32_t status;
};

struct ztpd_discovered_rec {
    char mac[ZTPD_S_MAC];
    char vendor[ZTPD_S_VENDOR];
    char model[ZTPD_S_VENDOR];
    char firmware[ZTPD_S_VENDOR];
    char ip[ZTPD_S_IP];
    char user_agent[ZTPD_S_UA];
    int64_t first_seen;
    int64_t last_seen;
    int64_t count;
};

/* Cleanup policy for registrations: which fields must be present (non-NULL, non-empty). */
struct ztpd_cleanup_policy {
    int require_mac;
    int require_ip;
    int require_extension;
};

/* Host services handed to the backend. `ctx` is passed back unchanged. */
struct ztpd_storage_host {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t struct_size;
    void *ctx;
    /* level: 0 error, 1 warn, 2 info, 3 debug. */
    void (*log)(void *ctx, int level, const char *msg);
    /* Looks up a config value by dotted key ("storage.sqlite.path"); NULL if unset.
     * The returned string stays valid until close(). */
    const char *(*config_get)(void *ctx, const char *key);
};

typedef int (*ztpd_device_row_cb)(const struct ztpd_device_rec *row, void *arg);
typedef int (*ztpd_extension_row_cb)(const struct ztpd_extension_rec *row, void *arg);
typedef int (*ztpd_registration_row_cb)(const struct ztpd_registration_rec *row, void *arg);
typedef int (*ztpd_request_row_cb)(const struct ztpd_request_rec *row, void *arg);
typedef int (*ztpd_discovered_row_cb)(const struct ztpd_discovered_rec *row, void *arg);

/* Device put modes. UPSERT keeps the created_at of an existing row, and its last_provisioned
 * too when the new value is 0. */
#define ZTPD_PUT_INSERT 0 /* fail with ECONFLICT when the key exists */
#define ZTPD_PUT_UPSERT 1 /* insert or replace */

/* A list callback returning non-zero stops the iteration; the list call then returns 0. */
struct ztpd_storage_backend {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t struct_size;
    const char *name;

    /* --- mandatory --- */
    int (*open)(void **handle, const struct ztpd_storage_host *host);
    void (*close)(void *h);
    /* Creates or upgrades the schema; *version receives the schema version now in place. */
    int (*migrate)(void *h, int *version);
    int (*begin)(void *h);
    int (*commit)(void *h);
    int (*rollback)(void *h);

    int (*device_put)(void *h, const struct ztpd_device_rec *d, int mode);
    int (*device_get)(void *h, const char *mac, struct ztpd_device_rec *out);
    int (*device_delete)(void *h, const char *mac);
    int (*device_list)(void *h, ztpd_device_row_cb cb, void *arg);
    int (*device_touch)(void *h, const char *mac, int64_t at);

    int (*extension_put)(void *h, const struct ztpd_extension_rec *e);
    int (*extension_delete)(void *h, const char *number);
    int (*extension_list)(void *h, ztpd_extension_row_cb cb, void *arg);

    /* Inserts when r->id == 0 (and *id_out receives the id), else updates row r->id
     * (ENOTFOUND if there is none; a 0 first_registered keeps the stored one). */
    int (*registration_upsert)(void *h, const struct ztpd_registration_rec *r, int64_t *id_out);
    int (*registration_delete)(void *h, int64_t id);
    int (*registration_list)(void *h, ztpd_registration_row_cb cb, void *arg);
    int (*registration_cleanup)(void *h, const struct ztpd_cleanup_policy *p, int *removed,
                                int *kept);

    /* All rows or none (in its own transaction unless the caller has begun one). */
    int (*request_append)(void *h, const struct ztpd_request_rec *rows, size_t n);
    /* Newest first, at most `limit` rows. */
    int (*request_query)(void *h, size_t limit, ztpd_request_row_cb cb, void *arg);
    /* Keeps only the newest `keep` rows. */
    int (*request_trim)(void *h, size_t keep);

    /* Writes the row as given (count included); an existing row keeps its first_seen. */
    int (*discovered_upsert)(void *h, const struct ztpd_discovered_rec *d);
    int (*discovered_list)(void *h, ztpd_discovered_row_cb cb, void *arg);
    int (*discovered_delete)(void *h, const char *mac);

    /* --- optional (may be NULL) --- */
    /* Reports whether the connection is alive (OK) or not (EUNAVAIL), reconnecting first when
     * it is broken. The core calls it on an idle connection every 2 s, every 1 s while the
     * database is unreachable, so it must be cheap and bounded by the connect timeout. A
     * backend without it is assumed always up. */
    int (*ping)(void *h);
    /* Row count of a table by name, for `ztpd db verify`. */
    int (*count)(void *h, const char *table, int64_t *out);
    /* Puts rows[0..n) as device_put would (same modes), much faster than n calls: the bulk
     * import. Inside the caller's transaction (in one of its own when none is open, so all or
     * none of the rows are written). On ECONFLICT *failed_index is the first row that
     * conflicts, with an existing row or an earlier row of the array; on another failure it is
     * n when no single row is to blame. Ends the transaction as a failed device_put does. */
    int (*device_put_many)(void *h, const struct ztpd_device_rec *rows, size_t n, int mode,
                           size_t *failed_index);
    /* Reads the schema version in the database (*current, 0 when there is none) and the
     * latest this backend knows (*latest) without migrating or writing anything. */
    int (*schema_info)(void *h, int *current, int *latest);
};

typedef const struct ztpd_storage_backend *(*ztpd_storage_entry_fn)(
    const struct ztpd_storage_host *host);

#endif
