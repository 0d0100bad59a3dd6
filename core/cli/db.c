/* `ztpd db verify` and `ztpd db migrate`. Both open the store without migrating
 * (ZTPD_STORE_NO_MIGRATE): verify must never write (it is run next to a live daemon), and
 * migrate must see the version before it migrates. */
#include <stddef.h>
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

/* Opens the configured database without migrating; the store lives in c->app.store (freed
 * by cli_ctx_free). 0, or prints why and returns 1. */
static int open_db(struct cli_ctx *c, const char *cmd)
{
    char err[1024] = "";
    uv_loop_init(&c->loop);
    c->loop_ready = 1;
    if (ztpd_store_open_flags(&c->app.store, &c->loop, c->cfg, ZTPD_STORE_NO_MIGRATE, err,
                              sizeof err)) {
        printf("connection:  FAILED\n");
        fprintf(stderr, "ztpd %s: cannot open the database: %s\n", cmd, err);
        return 1;
    }
    const struct ztpd_storage_backend *be = ztpd_store_backend(c->app.store);
    printf("backend:     %s (%s)\n", be->name, ztpd_store_module_path(c->app.store));
    return 0;
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

/* The schema version in the database and the one this ztpd's backend expects; 0 when there
 * is no schema, -1 when the backend cannot tell (no schema_info). */
static int schema_versions(struct cli_ctx *c, int *current, int *latest)
{
    const struct ztpd_storage_backend *be = ztpd_store_backend(c->app.store);
    *current = *latest = -1;
    if (!ztpd_loader_has(be, offsetof(struct ztpd_storage_backend, schema_info)))
        return ZTPD_STORAGE_OK;
    return be->schema_info(ztpd_store_handle(c->app.store), current, latest);
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
    if (open_db(c, "db verify"))
        return CLI_FAIL;
    const struct ztpd_storage_backend *be = ztpd_store_backend(c->app.store);
    void *h = ztpd_store_handle(c->app.store);
    int problems = 0;
    if (file)
        printf("database:    %s\n", file);
    int st = be->ping ? be->ping(h) : ZTPD_STORAGE_OK;
    printf("connection:  %s\n", st ? ztpd_store_strstatus(st) : "ok");
    if (st) {
        fprintf(stderr, "ztpd db verify: the database does not answer: %s\n",
                ztpd_store_strstatus(st));
        problems++;
    }
    int cur = -1, latest = -1;
    if (!st && (st = schema_versions(c, &cur, &latest)) != 0) {
        printf("schema:      unreadable (%s)\n", ztpd_store_strstatus(st));
        fprintf(stderr, "ztpd db verify: cannot read the schema version: %s\n",
                ztpd_store_strstatus(st));
        problems++;
    } else if (latest < 0) {
        printf("schema:      unknown (the backend cannot report its version)\n");
    } else if (cur == 0) {
        printf("schema:      none (this ztpd expects %d)\n", latest);
        fprintf(stderr, "ztpd db verify: no schema in the database: run ztpd db migrate (or "
                        "start ztpd serve)\n");
        problems++;
    } else {
        printf("schema:      version %d (this ztpd expects %d)\n", cur, latest);
        if (cur < latest) {
            fprintf(stderr,
                    "ztpd db verify: schema version %d is older than this ztpd's %d: run ztpd "
                    "db migrate (or start ztpd serve)\n",
                    cur, latest);
            problems++;
        } else if (cur > latest) {
            fprintf(stderr,
                    "ztpd db verify: schema version %d is newer than this ztpd knows (%d): "
                    "upgrade ztpd\n",
                    cur, latest);
            problems++;
        }
    }
    if (!st && be->count) {
        printf("tables:\n");
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
            int64_t n = 0;
            int t = be->count(h, tables[i], &n);
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
    if (open_db(c, "db migrate"))
        return CLI_FAIL;
    const struct ztpd_storage_backend *be = ztpd_store_backend(c->app.store);
    int was = -1, latest = -1;
    if (schema_versions(c, &was, &latest))
        was = -1;
    int now = 0;
    int st = be->migrate(ztpd_store_handle(c->app.store), &now);
    if (st) {
        fprintf(stderr, "ztpd db migrate: migration failed: %s; nothing was changed\n",
                ztpd_store_strstatus(st));
        return CLI_FAIL;
    }
    if (was < 0) /* the backend cannot report the earlier version */
        printf("schema at version %d\n", now);
    else
        printf("schema at version %d (was %d)\n", now, was);
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
