/* config.yml, parsed with libyaml into typed structs.
 *
 * Every problem (unknown key, wrong type, bad value, missing required key) is reported as
 * "<file>:<line>: <dotted.key>: <reason>" and makes loading fail: the daemon refuses to start.
 * Relative paths in the file are resolved against the directory holding the config file.
 * A scalar value written exactly "${NAME}" is replaced by the environment variable NAME (loading
 * fails if it is unset), so secrets need not live in the file. An unquoted empty or null value
 * means "use the default"; so does "" for the optional strings and paths.
 * The struct is owned by the caller of ztpd_config_load() and freed with ztpd_config_free(). */
#ifndef ZTPD_CONFIG_CONFIG_H
#define ZTPD_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* sip.transports bits; equal to ZTPD_SIP_UDP / ZTPD_SIP_TCP of core/sip/transport.h. */
#define ZTPD_CFG_SIP_UDP 1
#define ZTPD_CFG_SIP_TCP 2

struct ztpd_cfg_extension {
    char *number;   /* digits, 1..20 chars */
    char *name;     /* display name, may be empty */
    char *password; /* SIP password; never logged */
    int line;       /* line in the config file, for messages */
};

struct ztpd_cfg_device {
    char mac[13]; /* normalized */
    char *extension;
    char *vendor;
    char *model;
    int line;
};

struct ztpd_config {
    char *path;     /* absolute path of the file that was loaded */
    char *base_dir; /* its directory; relative paths are resolved against it */

    /* server */
    char *server_name;    /* default "ztpd" */
    char *server_address; /* address phones use; default: the http.listen host, or 127.0.0.1 */
    char *data_dir;       /* server.data_dir, default "<base_dir>/data" (absolute) */

    /* http */
    char *http_host;               /* from http.listen "host:port"; default "0.0.0.0" */
    int http_port;                 /* default 8080 */
    size_t http_max_header_size;   /* http.max_header_size, default 8192 */
    size_t http_max_body_size;     /* http.max_body_size, default 1048576 */
    unsigned http_idle_timeout_ms; /* http.idle_timeout (seconds in YAML), default 30 s */
    unsigned http_max_connections; /* http.max_connections, default 1024 */

    /* sip */
    bool sip_enabled;        /* sip.enabled, default true */
    char *sip_host;          /* from sip.listen "host:port"; default "0.0.0.0" */
    int sip_port;            /* sip.listen port (or sip.port), default 5060; fills {{SIP_PORT}} */
    int sip_transports;      /* sip.transports: ZTPD_CFG_SIP_UDP | ZTPD_CFG_SIP_TCP, default both */
    char *sip_realm;         /* sip.realm, default server.name */
    char *sip_advertise;     /* sip.advertise, default server.address */
    int sip_nonce_ttl;       /* sip.nonce_ttl seconds, default 300 */
    int sip_expires_default; /* sip.expires.default, default 3600 */
    int sip_expires_min;     /* sip.expires.min, default 60 */
    int sip_expires_max;     /* sip.expires.max, default 7200 */
    int sip_max_contacts;    /* sip.max_contacts per extension, default 10 (1..16) */
    int sip_reboot_pace;     /* sip.reboot_pace extensions per second, default 20 */

    /* storage */
    char *storage_backend; /* "sqlite" (default) | "postgres" */
    char *sqlite_path;     /* storage.sqlite.path, default "<data_dir>/ztpd.db" (absolute) */
    char *module_dir;      /* storage.module_dir, default NULL = build tree, then install dir */
    char *postgres_dsn;    /* storage.postgres.dsn, default NULL (libpq then uses PG* env) */
    char *postgres_password_file; /* storage.postgres.password_file (absolute), NULL if unset */
    int storage_flush_interval_ms; /* storage.flush_interval_ms: batched writes, default 100 */

    /* api */
    char **api_tokens; /* api.tokens; may be empty: then a token is generated on first start */
    size_t n_api_tokens;

    /* logging */
    int log_level;  /* enum ztpd_log_level, logging.level, default info */
    char *log_file; /* logging.file, default NULL (stderr only) */

    /* extensions */
    struct ztpd_cfg_extension *extensions;
    size_t n_extensions;

    /* provisioning */
    bool prov_enabled;          /* provisioning.enabled, default true */
    char *url_format;           /* provisioning.url_format, default
                                   "http://{{SERVER_IP}}:{{PORT}}/provision/{mac}.cfg" */
    char *custom_templates_dir; /* provisioning.custom_templates_dir, NULL when "" */
    char *vendors_dir;          /* provisioning.vendors_dir: extra vendor files, NULL if unset */
    char *timezone;             /* provisioning.timezone, default "UTC" (fills {{TIMEZONE}}) */
    int timezone_offset;        /* provisioning.timezone_offset hours, default 0 */
    char *ntp_server;           /* provisioning.ntp_server, default "pool.ntp.org" */
    size_t upload_max_size;     /* provisioning.upload_max_size: cap of a phone's PUT, 1 MiB */
    int discovered_max;         /* provisioning.discovered_max: unknown MACs remembered,
                                   default 1000; 0 = record none */
    struct ztpd_cfg_device *devices;
    size_t n_devices;

    /* Private to config.c: text forms of numeric keys for ztpd_config_lookup(), built at load
     * time so lookups on a const config need no allocation. */
    char **lookup_text;
};

/* Loads and validates `path`. On success *out owns a new config. On failure returns
 * ZTPD_ECONFIG (or ZTPD_EIO if the file cannot be read) and writes the message to err. */
int ztpd_config_load(struct ztpd_config **out, const char *path, char *err, size_t errlen);

/* Frees a config from ztpd_config_load() (NULL is fine). */
void ztpd_config_free(struct ztpd_config *cfg);

/* Returns the value of a scalar config key by dotted path ("storage.sqlite.path") as the
 * loaded struct holds it (resolved paths, defaults applied), or NULL. Owned by cfg. */
const char *ztpd_config_lookup(const struct ztpd_config *cfg, const char *key);

/* Reads the PostgreSQL password from storage.postgres.password_file: the file's first line
 * without its line end. Read when the backend is opened, not at load, so tools that never
 * open the database need no access to the file. Warns (never fails) when the file is readable
 * by group or others. *out is NULL when the key is unset; otherwise the caller owns it and
 * should wipe it before freeing. Errors (ZTPD_ECONFIG, ZTPD_ENOMEM) name the key and the file,
 * never the content. */
int ztpd_config_read_password_file(const struct ztpd_config *cfg, char **out, char *err,
                                   size_t errlen);

#endif
