/* `ztpd db verify` and `ztpd db migrate`. Both load the backend themselves instead of going
 * through ztpd_store_open(), which always migrates: verify must never write (it is run next to
 * a live daemon), and migrate must see the version before it migrates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/context.h"
#include "config/config.h"
#include "log/log.h"
#include "storage/loader.h"
#include "storage/store.h"
#include "util/error.h"

static const char usage_db[] =
    "usage: ztpd db <command> [-c config.yml]\n\n"
    "commands:\n"
    "  verify    check the database: backend, connection, schema version, every table and its\n"
    "            row count; exits non-zero on any problem. Read-only: safe while ztpd runs.\n"
    "  migrate   create or upgrade the schema (refused while a daemon uses the database) and\n"
    "            print \"schema at version N (was M)\"\n";

static const char *const tables[] = {"provisioned_devices", "registered_phones",
                                     "extensions",          "provisioning_requests",
                                     "discovered_devices",  "schema_version"};

struct raw_db {
    struct ztpd_storage_host host;
    const struct ztpd_config *cfg;
    char *pg_password; /* storage.postgres.password_file's content; wiped when closed */
    struct ztpd_backend_module *mod;
    const struct ztpd_storage_backend *be;
    void *h;
};

static void raw_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level < ZTPD_LOG_ERROR)
        level = ZTPD_LOG_ERROR;
    if (level > ZTPD_LOG_DEBUG)
        level = ZTPD_LOG_DEBUG;
    ztpd_log((enum ztpd_log_level)level, "storage", "%s", msg ? msg : "");
}

/* Mirrors the store's host table (core/storage/store.c), which hands the backend the password
 * file's content under this key; keep the two in step. */
#define PG_PASSWORD_KEY "storage.postgres.password"

static const char *raw_config(void *ctx, const char *key)
{
    struct raw_db *db = ctx;
    if (key && strcmp(key, PG_PASSWORD_KEY) == 0)
        return db->pg_password;
    return key ? ztpd_config_lookup(db->cfg, key) : NULL;
}

/* Loads the configured backend and opens it without migrating. 0 or prints and returns 1. */
static int raw_open(struct raw_db *db, const struct ztpd_config *cfg, const char *cmd)
{
    char path[4096], err[1024] = "";
    memset(db, 0, sizeof *db);
    db->cfg = cfg;
    db->host = (struct ztpd_storage_host){
        .abi_major = ZTPD_STORAGE_ABI_MAJOR,
        .abi_minor = ZTPD_STORAGE_ABI_MINOR,
        .struct_size = sizeof db->host,
        .ctx = db,
        .log = raw_log,
        .config_get = raw_config,
    };
    const char *name = cfg->storage_backend ? cfg->storage_backend : "sqlite";
    if (ztpd_loader_find(cfg->module_dir, name, path, sizeof path)) {
        fprintf(stderr, "ztpd %s: storage.backend: backend '%s' not found (no libztpd-%s.so)\n",
                cmd, name, name);
        return 1;
    }
    if (!strcmp(name, "postgres") &&
        ztpd_config_read_password_file(cfg, &db->pg_password, err, sizeof err)) {
        fprintf(stderr, "ztpd %s: %s\n", cmd, err);
        return 1;
    }
    if (ztpd_loader_open(&db->mod, path, &db->host, err, sizeof err)) {
        fprintf(stderr, "ztpd %s: %s\n", cmd, err);
        return 1;
    }
    db->be = db->mod->be;
    printf("backend:     %s (%s)\n", db->be->name, db->mod->path);
    int st = db->be->open(&db->h, &db->host);
    if (st) {
        db->h = NULL;
        printf("connection:  FAILED (%s)\n", ztpd_store_strstatus(st));
        fprintf(stderr, "ztpd %s: cannot open the database: %s\n", cmd, ztpd_store_strstatus(st));
        return 1;
    }
    return 0;
}

static void raw_close(struct raw_db *db)
{
    if (db->h)
        db->be->close(db->h);
    ztpd_loader_close(db->mod);
    if (db->pg_password) {
        for (volatile char *p = db->pg_password; *p; p++)
            *p = '\0';
        free(db->pg_password);
    }
}

/* The sqlite file, when the backend is sqlite and the path names a file; else NULL. */
static const char *sqlite_file(const struct ztpd_config *cfg)
{
    if (cfg->storage_backend && strcmp(cfg->storage_backend, "sqlite") != 0)
        return NULL;
    const char *p =
        cfg->sqlite_path ? cfg->sqlite_path : ztpd_config_lookup(cfg, "storage.sqlite.path");
    if (!p || !strcmp(p, ":memory:") || !strncmp(p, "file:", 5))
        return NULL;
    return p;
}

/* Rows in schema_version: each migration records one row as it is applied, from version 1
 * on, so the count is the version in place. -1 when the table is missing (no schema yet). */
static long schema_rows(struct raw_db *db)
{
    int64_t n = 0;
    if (!db->be->count)
        return -2;
    /* On an empty database the table does not exist; that is an answer, not a warning. */
    int quiet = !ztpd_log_enabled(ZTPD_LOG_INFO);
    if (quiet)
        ztpd_log_init(ZTPD_LOG_ERROR, NULL);
    int st = db->be->count(db->h, "schema_version", &n);
    if (quiet)
        ztpd_log_init(ZTPD_LOG_WARN, NULL);
    return st ? -1 : (long)n;
}

static int verify(struct cli_ctx *c)
{
    const char *file = sqlite_file(c->cfg);
    /* sqlite creates a missing file on open: check first, so verify never makes one. */
    if (file && access(file, F_OK) != 0) {
        printf("backend:     sqlite\ndatabase:    %s\n", file);
        fprintf(stderr,
                "ztpd db verify: database file %s does not exist (ztpd serve or ztpd db migrate "
                "creates it; or restore a backup)\n",
                file);
        return CLI_FAIL;
    }
    struct raw_db db;
    if (raw_open(&db, c->cfg, "db verify")) {
        raw_close(&db);
        return CLI_FAIL;
    }
    int problems = 0;
    if (file)
        printf("database:    %s\n", file);
    int st = db.be->ping ? db.be->ping(db.h) : ZTPD_STORAGE_OK;
    printf("connection:  %s\n", st ? ztpd_store_strstatus(st) : "ok");
    if (st) {
        fprintf(stderr, "ztpd db verify: the database does not answer: %s\n",
                ztpd_store_strstatus(st));
        problems++;
    }
    long version = st ? -1 : schema_rows(&db);
    if (version == -2) {
        printf("schema:      unknown (the backend has no count operation)\n");
    } else if (version <= 0) {
        printf("schema:      none\n");
        fprintf(stderr, "ztpd db verify: no schema in the database: run ztpd db migrate (or "
                        "start ztpd serve)\n");
        problems++;
    } else {
        printf("schema:      version %ld\n", version);
    }
    if (!st && db.be->count) {
        printf("tables:\n");
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
            int64_t n = 0;
            int t = db.be->count(db.h, tables[i], &n);
            if (t) {
                printf("  %-22s MISSING (%s)\n", tables[i], ztpd_store_strstatus(t));
                fprintf(stderr, "ztpd db verify: table %s: %s\n", tables[i],
                        ztpd_store_strstatus(t));
                problems++;
            } else {
                printf("  %-22s %lld rows\n", tables[i], (long long)n);
            }
        }
    }
    raw_close(&db);
    printf("verify:      %s\n", problems ? "FAILED" : "ok");
    return problems ? CLI_FAIL : CLI_OK;
}

static int migrate(struct cli_ctx *c)
{
    char err[1024] = "";
    long holder = 0;
    int rc = ztpd_app_lock(c->cfg->data_dir, &c->app.lock_fd, &holder, err, sizeof err);
    if (rc == ZTPD_EEXIST) {
        fprintf(stderr,
                "ztpd db migrate: a ztpd daemon (pid %ld) is using this database; stop it "
                "first (ztpd serve migrates at startup anyway)\n",
                holder);
        return CLI_FAIL;
    }
    if (rc) {
        fprintf(stderr, "ztpd db migrate: %s\n", err);
        return CLI_FAIL;
    }
    struct raw_db db;
    if (raw_open(&db, c->cfg, "db migrate")) {
        raw_close(&db);
        return CLI_FAIL;
    }
    long was = schema_rows(&db);
    int now = 0;
    int st = db.be->migrate(db.h, &now);
    raw_close(&db);
    if (st) {
        fprintf(stderr, "ztpd db migrate: migration failed: %s; nothing was changed\n",
                ztpd_store_strstatus(st));
        return CLI_FAIL;
    }
    if (was == -2) /* no count operation: the earlier version is unknown */
        printf("schema at version %d\n", now);
    else
        printf("schema at version %d (was %ld)\n", now, was < 0 ? 0 : was);
    return CLI_OK;
}

int ztpd_cli_db(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "verify") && strcmp(argv[1], "migrate"))) {
        int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        if (argc >= 2 && !help)
            fprintf(stderr, "ztpd db: unknown command '%s'\n\n", argv[1]);
        fputs(usage_db, help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    int is_verify = !strcmp(argv[1], "verify");
    struct cli_ctx c;
    int rc = cli_ctx_parse(&c, is_verify ? "db verify" : "db migrate", argc - 1, argv + 1, NULL, 0,
                           usage_db);
    if (rc >= 0)
        return rc;
    if (c.n_pos) {
        fprintf(stderr, "ztpd db %s: unexpected argument '%s'\n", argv[1], c.pos[0]);
        return CLI_USAGE;
    }
    rc = cli_ctx_config(&c);
    if (!rc)
        rc = is_verify ? verify(&c) : migrate(&c);
    cli_ctx_free(&c);
    return rc;
}
