#include "cli/context.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/http_client.h"
#include "config/config.h"
#include "log/log.h"
#include "lua/engine.h"
#include "lua/vendors.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/error.h"

int cli_ctx_parse(struct cli_ctx *c, const char *cmd, int argc, char **argv, struct cli_flag *flags,
                  size_t n_flags, const char *usage)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->cfg_path = "config.yml";
    c->app.lock_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
            c->cfg_path = argv[++i];
            continue;
        }
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            fprintf(stderr, "ztpd %s: %s needs a file name\n", cmd, a);
            return CLI_USAGE;
        }
        if (!strncmp(a, "--config=", 9)) {
            c->cfg_path = a + 9;
            continue;
        }
        if (!strcmp(a, "--offline")) {
            c->offline = 1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            size_t k;
            for (k = 0; k < n_flags; k++) {
                size_t nl = strlen(flags[k].name);
                if (strncmp(a, flags[k].name, nl) != 0)
                    continue;
                if (!flags[k].takes_value && a[nl] == '\0') {
                    flags[k].value = "";
                    break;
                }
                if (flags[k].takes_value && a[nl] == '=') {
                    flags[k].value = a + nl + 1;
                    break;
                }
                if (flags[k].takes_value && a[nl] == '\0' && i + 1 < argc) {
                    flags[k].value = argv[++i];
                    break;
                }
            }
            if (k < n_flags)
                continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ztpd %s: unknown option '%s' (see ztpd %s --help)\n", cmd, a, cmd);
            return CLI_USAGE;
        }
        if (c->n_pos == sizeof c->pos / sizeof c->pos[0]) {
            fprintf(stderr, "ztpd %s: too many arguments (see ztpd %s --help)\n", cmd, cmd);
            return CLI_USAGE;
        }
        c->pos[c->n_pos++] = a;
    }
    return -1;
}

int cli_ctx_config(struct cli_ctx *c)
{
    char err[1024] = "";
    /* Tools print their own results; the daemon's INFO lines would only be noise here. */
    ztpd_log_init(ZTPD_LOG_WARN, NULL);
    if (ztpd_config_load(&c->cfg, c->cfg_path, err, sizeof err)) {
        fprintf(stderr, "ztpd %s: %s\n", c->cmd, err);
        return CLI_FAIL;
    }
    c->app.cfg = c->cfg;
    return CLI_OK;
}

int cli_ctx_online(struct cli_ctx *c)
{
    const char *h = c->cfg->http_host ? c->cfg->http_host : "127.0.0.1";
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    snprintf(c->host, sizeof c->host, "%.*s", (int)hl, h);
    /* A daemon listening on every address is reached on loopback. */
    if (!strcmp(c->host, "0.0.0.0") || !*c->host)
        snprintf(c->host, sizeof c->host, "127.0.0.1");
    else if (!strcmp(c->host, "::"))
        snprintf(c->host, sizeof c->host, "::1");
    c->port = c->cfg->http_port;

    if (c->cfg->n_api_tokens) {
        c->token = strdup(c->cfg->api_tokens[0]);
        return c->token ? CLI_OK : CLI_FAIL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/api-token", c->cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            fprintf(stderr,
                    "ztpd %s: no API token: api.tokens is empty in %s and %s does not exist "
                    "(the daemon creates it on first start)\n",
                    c->cmd, c->cfg->path, path);
        else
            fprintf(stderr,
                    "ztpd %s: cannot read the API token %s: %s (run as the daemon's user, or "
                    "set api.tokens)\n",
                    c->cmd, path, strerror(errno));
        return CLI_FAIL;
    }
    char tok[256] = "";
    char *ok = fgets(tok, sizeof tok, f);
    fclose(f);
    tok[strcspn(tok, "\r\n")] = '\0';
    if (!ok || !*tok) {
        fprintf(stderr, "ztpd %s: the API token file %s is empty\n", c->cmd, path);
        return CLI_FAIL;
    }
    c->token = strdup(tok);
    return c->token ? CLI_OK : CLI_FAIL;
}

int cli_ctx_vendors(struct cli_ctx *c)
{
    struct ztpd_app *app = &c->app;
    if (app->vendors)
        return CLI_OK;
    if (ztpd_lua_new(&app->lua)) {
        fprintf(stderr, "ztpd %s: cannot create the Lua state\n", c->cmd);
        return CLI_FAIL;
    }
    if (ztpd_vendors_load(&app->vendors, app->lua, ztpd_app_vendor_dirs(c->cfg)) || !app->vendors) {
        fprintf(stderr, "ztpd %s: no vendor profile could be loaded\n", c->cmd);
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_ctx_offline(struct cli_ctx *c, int vendors)
{
    char err[1024] = "";
    long holder = 0;
    struct ztpd_app *app = &c->app;
    int rc = ztpd_app_lock(c->cfg->data_dir, &app->lock_fd, &holder, err, sizeof err);
    if (rc == ZTPD_EEXIST) {
        fprintf(stderr,
                "ztpd %s: a ztpd daemon (pid %ld) is using this database; stop it or drop "
                "--offline\n",
                c->cmd, holder);
        return CLI_FAIL;
    }
    if (rc) {
        fprintf(stderr, "ztpd %s: %s\n", c->cmd, err);
        return CLI_FAIL;
    }
    /* The store wants a loop for its thread; offline tools never start it, so the loop only
     * has to exist. */
    uv_loop_init(&c->loop);
    c->loop_ready = 1;
    app->loop = &c->loop;
    if (ztpd_store_open(&app->store, &c->loop, c->cfg, err, sizeof err)) {
        fprintf(stderr, "ztpd %s: %s\n", c->cmd, err);
        return CLI_FAIL;
    }
    if (ztpd_registry_new(&app->reg)) {
        fprintf(stderr, "ztpd %s: out of memory\n", c->cmd);
        return CLI_FAIL;
    }
    rc =
        ztpd_registry_load(app->reg, ztpd_store_backend(app->store), ztpd_store_handle(app->store));
    if (rc) {
        fprintf(stderr, "ztpd %s: cannot load devices and extensions: %s\n", c->cmd,
                ztpd_store_strstatus(rc));
        return CLI_FAIL;
    }
    /* The daemon stores the extensions of config.yml at every start; a device for one of them
     * is what it would accept then, so offline validation counts them too (in memory only). */
    for (size_t i = 0; i < c->cfg->n_extensions; i++) {
        if (ztpd_registry_extension(app->reg, c->cfg->extensions[i].number))
            continue;
        struct ztpd_extension_rec e;
        memset(&e, 0, sizeof e);
        snprintf(e.number, sizeof e.number, "%s", c->cfg->extensions[i].number);
        if (ztpd_registry_extension_put(app->reg, &e)) {
            fprintf(stderr, "ztpd %s: out of memory\n", c->cmd);
            return CLI_FAIL;
        }
    }
    return vendors ? cli_ctx_vendors(c) : CLI_OK;
}

void cli_ctx_free(struct cli_ctx *c)
{
    struct ztpd_app *app = &c->app;
    ztpd_vendors_free(app->vendors, app->lua);
    ztpd_lua_free(app->lua);
    ztpd_registry_free(app->reg);
    ztpd_store_free(app->store);
    if (c->loop_ready)
        uv_loop_close(&c->loop);
    if (app->lock_fd >= 0)
        close(app->lock_fd);
    free(c->token);
    ztpd_config_free(c->cfg);
    memset(c, 0, sizeof *c);
    c->app.lock_fd = -1;
}

int cli_api(struct cli_ctx *c, const char *method, const char *path, const char *body,
            size_t body_len, int timeout_ms, int *status, json_t **json)
{
    struct ztpd_http_call call = {
        .host = c->host,
        .port = c->port,
        .method = method,
        .path = path,
        .token = c->token,
        .body = body,
        .body_len = body_len,
        .timeout_ms = timeout_ms,
    };
    struct ztpd_http_resp resp;
    char err[256] = "";
    int colon = strchr(c->host, ':') != NULL;
    int rc = ztpd_http_client_call(&call, &resp, err, sizeof err);
    if (rc == ZTPD_EUNAVAIL) {
        fprintf(stderr,
                "ztpd %s: cannot reach ztpd at %s%s%s:%d: %s (is the daemon running? use "
                "--offline to work on the database directly)\n",
                c->cmd, colon ? "[" : "", c->host, colon ? "]" : "", c->port, err);
        return CLI_FAIL;
    }
    if (rc) {
        fprintf(stderr, "ztpd %s: ztpd at %s%s%s:%d: %s\n", c->cmd, colon ? "[" : "", c->host,
                colon ? "]" : "", c->port, err);
        return CLI_FAIL;
    }
    *status = resp.status;
    /* A bulk import's success answer repeats every device: no need to build it in memory. */
    int skip = c->errors_only && resp.status >= 200 && resp.status < 300;
    *json = resp.body_len && !skip ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    ztpd_http_resp_free(&resp);
    return CLI_OK;
}

void cli_api_error(struct cli_ctx *c, int status, json_t *json)
{
    const char *msg = json_string_value(json_object_get(json, "error"));
    const char *field = json_string_value(json_object_get(json, "field"));
    if (!msg)
        fprintf(stderr, "ztpd %s: the daemon answered HTTP %d\n", c->cmd, status);
    else if (field)
        fprintf(stderr, "ztpd %s: %s (field %s, HTTP %d)\n", c->cmd, msg, field, status);
    else
        fprintf(stderr, "ztpd %s: %s (HTTP %d)\n", c->cmd, msg, status);
}

char *cli_read_file(const char *path, size_t *len)
{
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ztpd: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    if (!is_stdin)
        fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "ztpd: cannot read %s: %s\n", path,
                buf ? strerror(errno) : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

json_t *cli_api_get_array(struct cli_ctx *c, const char *path, int timeout_ms)
{
    int status;
    json_t *j = NULL;
    if (cli_api(c, "GET", path, NULL, 0, timeout_ms, &status, &j))
        return NULL;
    if (status != 200 || !json_is_array(j)) {
        cli_api_error(c, status, j);
        json_decref(j);
        return NULL;
    }
    return j;
}
