/* `ztpd devices list|add|remove|clear|export` (import lives in devices_import.c). Online, each
 * is one API call; offline, the same change through the storage backend, validated by the same
 * function the API uses (api_device_validate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "cli/cli.h"
#include "cli/context.h"
#include "cli/devices_import.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/mac.h"

#define TIMEOUT_MS 30000

static const char usage_devices[] =
    "usage: ztpd devices <command> [-c config.yml] [--offline] [options]\n\n"
    "commands:\n"
    "  list [--json]                          the registered devices (a table, or the API's JSON)\n"
    "  add <mac> <extension> <vendor> <model> register one device\n"
    "  remove <mac>                           unregister one device\n"
    "  clear [--yes]                          unregister every device (asks first)\n"
    "  export [--format json|csv]             write every device to stdout, importable back\n"
    "  import FILE|-                          register the devices of a JSON or CSV file,\n"
    "                                         all or nothing\n\n"
    "options:\n"
    "  -c, --config FILE   the daemon's config (default config.yml)\n"
    "  --offline           work on the database directly (only while no daemon runs);\n"
    "                      without it the running daemon is asked through its API\n"
    "  -h, --help          this help (also after a command: ztpd devices import --help)\n";

static const char usage_list[] =
    "usage: ztpd devices list [--json] [-c config.yml] [--offline]\n\n"
    "Lists the registered devices: MAC, extension, vendor, model, last provisioned.\n"
    "  --json   print the JSON array GET /api/provisioning/devices answers\n";
static const char usage_add[] =
    "usage: ztpd devices add <mac> <extension> <vendor> <model> [-c config.yml] [--offline]\n\n"
    "Registers a device, checked like POST /api/provisioning/devices: the MAC in any usual form\n"
    "(001565123456, 00:15:65:12:34:56, 00-15-65-12-34-56), a known vendor and model, an\n"
    "existing extension.\n";
static const char usage_remove[] =
    "usage: ztpd devices remove <mac> [-c config.yml] [--offline]\n\nUnregisters a device.\n";
static const char usage_clear[] =
    "usage: ztpd devices clear [--yes] [-c config.yml] [--offline]\n\n"
    "Unregisters every device, in one transaction. Asks \"Delete all N devices? [y/N]\" on a\n"
    "terminal; elsewhere (scripts, pipes) it refuses unless --yes is given.\n"
    "  --yes    do not ask\n";
static const char usage_export[] =
    "usage: ztpd devices export [--format json|csv] [-c config.yml] [--offline]\n\n"
    "Writes every device to stdout: a JSON array (default; the API's device objects) or CSV\n"
    "with the header mac,extension,vendor,model. Both are read back by ztpd devices import.\n";

/* Every device as the API's JSON array (new reference), online or offline; NULL after printing
 * why. */
static json_t *fetch_devices(struct cli_ctx *c)
{
    if (c->offline) {
        size_t n;
        const struct ztpd_device_rec **all = ztpd_registry_devices(c->app.reg, &n);
        json_t *arr = json_array();
        for (size_t i = 0; all && i < n; i++)
            json_array_append_new(arr, api_device_json(all[i]));
        free(all);
        return arr;
    }
    return cli_api_get_array(c, "/api/provisioning/devices", TIMEOUT_MS);
}

/* Config, then the API's address or the offline store. */
static int connect_ctx(struct cli_ctx *c, int vendors)
{
    if (cli_ctx_config(c))
        return CLI_FAIL;
    return c->offline ? cli_ctx_offline(c, vendors) : cli_ctx_online(c);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void colon_mac(const char *mac, char out[18])
{
    char norm[ZTPD_MAC_LEN + 1];
    if (ztpd_mac_normalize(mac, strlen(mac), norm) == 0)
        ztpd_mac_format(norm, ':', 0, out);
    else
        snprintf(out, 18, "%s", mac);
}

static void print_table(json_t *arr)
{
    static const char *const head[5] = {"MAC", "EXTENSION", "VENDOR", "MODEL", "LAST PROVISIONED"};
    size_t w[5];
    for (int k = 0; k < 5; k++)
        w[k] = strlen(head[k]);
    w[0] = 17;
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        const char *v[3] = {jstr(d, "extension_number"), jstr(d, "vendor"), jstr(d, "model")};
        for (int k = 0; k < 3; k++)
            if (strlen(v[k]) > w[k + 1])
                w[k + 1] = strlen(v[k]);
    }
    printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1], (int)w[2],
           head[2], (int)w[3], head[3], head[4]);
    json_array_foreach(arr, i, d)
    {
        char mac[18];
        colon_mac(jstr(d, "mac_address"), mac);
        const char *last = json_string_value(json_object_get(d, "last_provisioned"));
        printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], mac, (int)w[1],
               jstr(d, "extension_number"), (int)w[2], jstr(d, "vendor"), (int)w[3],
               jstr(d, "model"), last ? last : "never");
    }
    if (json_array_size(arr) == 0)
        printf("(no devices registered)\n");
}

static int cmd_list(int argc, char **argv)
{
    struct cli_ctx c;
    struct cli_flag flags[] = {{"--json", 0, NULL}};
    int rc = cli_ctx_parse(&c, "devices list", argc, argv, flags, 1, usage_list);
    if (rc >= 0)
        return rc;
    if (c.n_pos) {
        fprintf(stderr, "ztpd devices list: unexpected argument '%s'\n", c.pos[0]);
        return CLI_USAGE;
    }
    rc = connect_ctx(&c, 0);
    json_t *arr = rc ? NULL : fetch_devices(&c);
    if (!arr) {
        rc = CLI_FAIL;
    } else if (flags[0].value) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "[]");
        free(s);
    } else {
        print_table(arr);
    }
    json_decref(arr);
    cli_ctx_free(&c);
    return rc;
}

static void print_added(json_t *dev)
{
    char mac[18];
    colon_mac(jstr(dev, "mac_address"), mac);
    printf("registered %s for extension %s (%s %s); config URL %s\n", mac,
           jstr(dev, "extension_number"), jstr(dev, "vendor"), jstr(dev, "model"),
           jstr(dev, "config_url"));
}

static int add_offline(struct cli_ctx *c, json_t *obj)
{
    struct ztpd_device_rec d;
    struct api_fail f;
    if (api_device_validate(&c->app, obj, &d, &f)) {
        fprintf(stderr, "ztpd devices add: %s\n", f.msg);
        return CLI_FAIL;
    }
    if (ztpd_registry_device(c->app.reg, d.mac)) {
        fprintf(stderr, "ztpd devices add: mac_address: device %s is already registered\n", d.mac);
        return CLI_FAIL;
    }
    const struct ztpd_storage_backend *be = ztpd_store_backend(c->app.store);
    int st = be->device_put(ztpd_store_handle(c->app.store), &d, ZTPD_PUT_INSERT);
    if (st) {
        fprintf(stderr, "ztpd devices add: device %s was not saved: %s\n", d.mac,
                ztpd_store_strstatus(st));
        return CLI_FAIL;
    }
    json_t *j = api_device_json(&d);
    print_added(j);
    json_decref(j);
    return CLI_OK;
}

static int cmd_add(int argc, char **argv)
{
    struct cli_ctx c;
    int rc = cli_ctx_parse(&c, "devices add", argc, argv, NULL, 0, usage_add);
    if (rc >= 0)
        return rc;
    if (c.n_pos != 4) {
        fprintf(stderr, "ztpd devices add: expected <mac> <extension> <vendor> <model>\n");
        fputs(usage_add, stderr);
        return CLI_USAGE;
    }
    json_t *obj = json_pack("{s:s,s:s,s:s,s:s}", "mac_address", c.pos[0], "extension_number",
                            c.pos[1], "vendor", c.pos[2], "model", c.pos[3]);
    rc = connect_ctx(&c, 1);
    if (!rc && c.offline) {
        rc = add_offline(&c, obj);
    } else if (!rc) {
        char *body = json_dumps(obj, JSON_COMPACT);
        int status;
        json_t *j = NULL;
        rc = cli_api(&c, "POST", "/api/provisioning/devices", body, body ? strlen(body) : 0,
                     TIMEOUT_MS, &status, &j);
        free(body);
        if (!rc && status == 201) {
            print_added(json_object_get(j, "device"));
        } else if (!rc) {
            cli_api_error(&c, status, j);
            rc = CLI_FAIL;
        }
        json_decref(j);
    }
    json_decref(obj);
    cli_ctx_free(&c);
    return rc;
}

static int cmd_remove(int argc, char **argv)
{
    struct cli_ctx c;
    int rc = cli_ctx_parse(&c, "devices remove", argc, argv, NULL, 0, usage_remove);
    if (rc >= 0)
        return rc;
    if (c.n_pos != 1) {
        fprintf(stderr, "ztpd devices remove: expected one <mac>\n");
        return CLI_USAGE;
    }
    char mac[ZTPD_MAC_LEN + 1], pretty[18];
    if (ztpd_mac_normalize(c.pos[0], strlen(c.pos[0]), mac)) {
        fprintf(stderr, "ztpd devices remove: mac_address: '%s' is not a MAC address\n", c.pos[0]);
        return CLI_FAIL;
    }
    ztpd_mac_format(mac, ':', 0, pretty);
    rc = connect_ctx(&c, 0);
    if (!rc && c.offline) {
        const struct ztpd_storage_backend *be = ztpd_store_backend(c.app.store);
        int st = be->device_delete(ztpd_store_handle(c.app.store), mac);
        if (st == ZTPD_STORAGE_ENOTFOUND)
            fprintf(stderr, "ztpd devices remove: device %s is not registered\n", mac);
        else if (st)
            fprintf(stderr, "ztpd devices remove: device %s was not removed: %s\n", mac,
                    ztpd_store_strstatus(st));
        rc = st ? CLI_FAIL : CLI_OK;
    } else if (!rc) {
        char path[128];
        snprintf(path, sizeof path, "/api/provisioning/devices/%s", mac);
        int status;
        json_t *j = NULL;
        rc = cli_api(&c, "DELETE", path, NULL, 0, TIMEOUT_MS, &status, &j);
        if (!rc && status != 200) {
            cli_api_error(&c, status, j);
            rc = CLI_FAIL;
        }
        json_decref(j);
    }
    if (!rc)
        printf("removed %s\n", pretty);
    cli_ctx_free(&c);
    return rc;
}

static int confirm(size_t n)
{
    fprintf(stderr, "Delete all %zu devices? [y/N] ", n);
    fflush(stderr);
    char line[32];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

/* Offline: every device deleted in one transaction. Returns the count or -1 after printing. */
static long clear_offline(struct cli_ctx *c)
{
    const struct ztpd_storage_backend *be = ztpd_store_backend(c->app.store);
    void *h = ztpd_store_handle(c->app.store);
    size_t n;
    const struct ztpd_device_rec **all = ztpd_registry_devices(c->app.reg, &n);
    int st = all ? be->begin(h) : ZTPD_STORAGE_EIO;
    for (size_t i = 0; st == ZTPD_STORAGE_OK && i < n; i++)
        st = be->device_delete(h, all[i]->mac);
    if (st == ZTPD_STORAGE_OK)
        st = be->commit(h);
    if (st != ZTPD_STORAGE_OK && all)
        be->rollback(h);
    free(all);
    if (st) {
        fprintf(stderr, "ztpd devices clear: no device was removed: %s\n",
                ztpd_store_strstatus(st));
        return -1;
    }
    return (long)n;
}

/* The daemon deletes row by row in one transaction: 100,000 rows take seconds on sqlite and
 * tens of seconds on a remote PostgreSQL, with no byte of answer before the commit. The wait
 * grows with the work (3 ms a device on top of the usual bound: 100,000 -> 330 s). */
static int clear_timeout_ms(size_t n)
{
    size_t ms = TIMEOUT_MS + 3 * n;
    return ms > 3600000 ? 3600000 : (int)ms;
}

static int cmd_clear(int argc, char **argv)
{
    struct cli_ctx c;
    struct cli_flag flags[] = {{"--yes", 0, NULL}};
    int rc = cli_ctx_parse(&c, "devices clear", argc, argv, flags, 1, usage_clear);
    if (rc >= 0)
        return rc;
    if (c.n_pos) {
        fprintf(stderr, "ztpd devices clear: unexpected argument '%s'\n", c.pos[0]);
        return CLI_USAGE;
    }
    rc = connect_ctx(&c, 0);
    json_t *arr = rc ? NULL : fetch_devices(&c);
    size_t n = json_array_size(arr);
    json_decref(arr);
    if (!rc && !arr)
        rc = CLI_FAIL;
    if (!rc && n == 0) {
        printf("no devices registered: nothing to delete\n");
        cli_ctx_free(&c);
        return CLI_OK;
    }
    if (!rc && !flags[0].value) {
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr,
                    "ztpd devices clear: refusing to delete all %zu devices without "
                    "confirmation: stdin is not a terminal; pass --yes to confirm\n",
                    n);
            rc = CLI_USAGE;
        } else if (!confirm(n)) {
            fprintf(stderr, "ztpd devices clear: nothing deleted\n");
            rc = CLI_FAIL;
        }
    }
    long deleted = -1;
    if (!rc && c.offline) {
        deleted = clear_offline(&c);
    } else if (!rc) {
        int status;
        json_t *j = NULL;
        if (isatty(STDERR_FILENO))
            fprintf(stderr, "deleting %zu devices; waiting for the database to commit\n", n);
        rc = cli_api(&c, "DELETE", "/api/provisioning/devices?confirm=all", NULL, 0,
                     clear_timeout_ms(n), &status, &j);
        if (!rc && status == 200)
            deleted = (long)json_integer_value(json_object_get(j, "deleted"));
        else if (!rc)
            cli_api_error(&c, status, j);
        json_decref(j);
    }
    if (!rc && deleted < 0)
        rc = CLI_FAIL;
    if (!rc)
        printf("deleted %ld devices\n", deleted);
    cli_ctx_free(&c);
    return rc;
}

/* A CSV field, quoted when it has to be (RFC 4180). */
static void csv_field(const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '))) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

static int cmd_export(int argc, char **argv)
{
    struct cli_ctx c;
    struct cli_flag flags[] = {{"--format", 1, NULL}};
    int rc = cli_ctx_parse(&c, "devices export", argc, argv, flags, 1, usage_export);
    if (rc >= 0)
        return rc;
    const char *fmt = flags[0].value ? flags[0].value : "json";
    if (strcmp(fmt, "json") && strcmp(fmt, "csv")) {
        fprintf(stderr, "ztpd devices export: --format: '%s' is not json or csv\n", fmt);
        return CLI_USAGE;
    }
    if (c.n_pos) {
        fprintf(stderr,
                "ztpd devices export: unexpected argument '%s' (the export goes to "
                "stdout: ztpd devices export > devices.json)\n",
                c.pos[0]);
        return CLI_USAGE;
    }
    rc = connect_ctx(&c, 0);
    json_t *arr = rc ? NULL : fetch_devices(&c);
    if (!arr) {
        rc = CLI_FAIL;
    } else if (!strcmp(fmt, "json")) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "[]");
        free(s);
    } else {
        printf("mac,extension,vendor,model\n");
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d)
        {
            char mac[18];
            colon_mac(jstr(d, "mac_address"), mac);
            csv_field(mac, 0);
            csv_field(jstr(d, "extension_number"), 0);
            csv_field(jstr(d, "vendor"), 0);
            csv_field(jstr(d, "model"), 1);
        }
    }
    if (!rc && fflush(stdout) != 0) {
        perror("ztpd devices export: stdout");
        rc = CLI_FAIL;
    }
    json_decref(arr);
    cli_ctx_free(&c);
    return rc;
}

int ztpd_cli_devices(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"list", cmd_list},   {"add", cmd_add},       {"remove", cmd_remove},
                {"clear", cmd_clear}, {"export", cmd_export}, {"import", cli_devices_import}};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage_devices, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ztpd devices: unknown command '%s'\n\n", argv[1]);
    fputs(usage_devices, stderr);
    return CLI_USAGE;
}
