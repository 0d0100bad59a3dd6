#include "loop/app.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "http/router.h"
#include "http/server.h"
#include "log/log.h"
#include "loop/cleanup.h"
#include "loop/seed.h"
#include "loop/sip_glue.h"
#include "lua/engine.h"
#include "lua/vendors.h"
#include "provision/discovery.h"
#include "provision/provision.h"
#include "provision/templates.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/fs.h"
#include "util/error.h"
#include "util/timefmt.h"
#include "ztpd/version.h"

#define MOD "main"

const char *ztpd_app_share_dir(void)
{
    const char *env = getenv("ZTPD_SHARE_DIR");
    if (env && *env)
        return env;
    /* Running from the build tree: use the checkout's vendors/ and templates/. */
    if (access(ZTPD_SOURCE_DIR "/vendors", R_OK) == 0)
        return ZTPD_SOURCE_DIR;
    return ZTPD_INSTALL_SHARE_DIR;
}

const char *const *ztpd_app_vendor_dirs(const struct ztpd_config *cfg)
{
    static char builtin[4096];
    static const char *dirs[3];
    snprintf(builtin, sizeof builtin, "%s/vendors", ztpd_app_share_dir());
    dirs[0] = builtin;
    dirs[1] = cfg->vendors_dir;
    dirs[2] = NULL;
    return dirs;
}

int ztpd_app_lock(const char *data_dir, int *fd, long *holder_pid, char *err, size_t errlen)
{
    char path[4096];
    *holder_pid = 0;
    if (ztpd_mkdir_p(data_dir, 0700)) {
        snprintf(err, errlen, "server.data_dir: cannot create %s: %s", data_dir, strerror(errno));
        return ZTPD_EIO;
    }
    snprintf(path, sizeof path, "%s/ztpd.lock", data_dir);
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return ZTPD_EIO;
    }
    /* flock, not the pid in the file, is the truth: the kernel drops it when the holder dies,
     * so a crashed daemon never leaves a stale lock behind. */
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = "";
            ssize_t n = pread(lfd, buf, sizeof buf - 1, 0);
            if (n > 0)
                *holder_pid = strtol(buf, NULL, 10);
            snprintf(err, errlen, "%s is held by another ztpd process (pid %ld)", path,
                     *holder_pid);
            close(lfd);
            return ZTPD_EEXIST;
        }
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        close(lfd);
        return ZTPD_EIO;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(lfd, 0) != 0 || pwrite(lfd, pid, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(lfd);
        return ZTPD_EIO;
    }
    *fd = lfd;
    return 0;
}

static int load_templates(struct ztpd_app *app, struct ztpd_templates **out,
                          const struct ztpd_templates *prev)
{
    char builtin[4096];
    snprintf(builtin, sizeof builtin, "%s/templates", ztpd_app_share_dir());
    const char *dirs[2] = {app->cfg->custom_templates_dir, builtin};
    return ztpd_templates_load(out, dirs, 2, prev);
}

static int cmp_vendor(const void *a, const void *b)
{
    const struct ztpd_vendor *x = *(const struct ztpd_vendor *const *)a;
    const struct ztpd_vendor *y = *(const struct ztpd_vendor *const *)b;
    return strcmp(x->name, y->name);
}

void ztpd_app_reload(struct ztpd_app *app)
{
    LOG_I(MOD, "reloading vendors and templates");
    struct ztpd_vendors *nv = NULL;
    if (ztpd_vendors_load(&nv, app->lua, ztpd_app_vendor_dirs(app->cfg)) == 0 && nv) {
        /* Vendors that failed to load now are kept from the previous set. */
        for (size_t i = 0; i < app->vendors->n; i++) {
            struct ztpd_vendor *old = app->vendors->items[i];
            if (ztpd_vendors_find(nv, old->name))
                continue;
            if (access(old->file, R_OK) != 0)
                continue; /* the file was removed: the vendor goes */
            LOG_W(MOD, "keeping the previous version of vendor %s", old->name);
            struct ztpd_vendor **items = realloc(nv->items, (nv->n + 1) * sizeof *items);
            if (!items)
                break;
            nv->items = items;
            nv->items[nv->n++] = old;
            app->vendors->items[i] = NULL;
        }
        qsort(nv->items, nv->n, sizeof *nv->items, cmp_vendor);
        ztpd_vendors_free(app->vendors, app->lua);
        app->vendors = nv;
    } else {
        LOG_E(MOD, "no vendor could be loaded; keeping the previous vendors");
    }
    struct ztpd_templates *nt = NULL;
    if (load_templates(app, &nt, app->templates) == 0) {
        ztpd_templates_free(app->templates);
        app->templates = nt;
    }
    ztpd_registry_bump(app->reg);
    ztpd_provision_invalidate(app->prov);
    LOG_I(MOD, "reloaded: %zu vendors, %zu templates", app->vendors->n,
          ztpd_templates_count(app->templates));
}

static void handle_request(struct ztpd_http_req *req, void *arg)
{
    struct ztpd_app *app = arg;
    ztpd_route_handler h;
    void *harg;
    struct ztpd_route_match m;
    char allow[64];
    app->requests_served++;
    int rc =
        ztpd_router_find(app->router, req->method, req->path, &h, &harg, &m, allow, sizeof allow);
    if (rc == 0) {
        h(req, &m, harg);
    } else if (rc == ZTPD_EINVAL) {
        char hdr[96], body[160];
        snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
        int n =
            snprintf(body, sizeof body,
                     "{\"success\":false,\"error\":\"method %s not allowed here; allowed: %s\"}",
                     req->method, allow);
        ztpd_http_respond(req, 405, "application/json", body, (size_t)n, hdr);
    } else if (!ztpd_provision_root(app->prov, req)) {
        /* no route at all: phones set to a bare host ask for their files at the root */
        ztpd_http_respond_not_found(req);
    }
}

static void close_signal(uv_signal_t *s)
{
    if (!uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, NULL);
}

static void store_stopped(void *arg)
{
    struct ztpd_app *app = arg;
    LOG_I(MOD, "storage flushed and closed; bye");
    close_signal(&app->sig_int);
    close_signal(&app->sig_term);
    close_signal(&app->sig_hup);
}

static void http_closed(void *arg)
{
    struct ztpd_app *app = arg;
    ztpd_discovery_flush(app); /* its pending writes go before the store flushes and closes */
    /* Also before the store: binding changes up to here are in the final batch. Bindings stay
     * persisted and are reloaded at the next start. */
    ztpd_sip_glue_stop(app->sipg);
    ztpd_store_stop(app->store, store_stopped, app);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct ztpd_app *app = s->data;
    if (signum == SIGHUP) {
        ztpd_app_reload(app);
        return;
    }
    if (app->stopping)
        return;
    app->stopping = 1;
    LOG_I(MOD, "%s received: stopping (flushing pending writes)",
          signum == SIGINT ? "SIGINT" : "SIGTERM");
    if (app->http)
        ztpd_http_server_close(app->http, http_closed, app);
    else
        http_closed(app);
}

static void app_free(struct ztpd_app *app)
{
    if (app->http)
        ztpd_http_server_free(app->http);
    ztpd_sip_glue_free(app->sipg);
    ztpd_router_free(app->router);
    ztpd_provision_free(app->prov);
    ztpd_discovery_free(app);
    ztpd_templates_free(app->templates);
    ztpd_vendors_free(app->vendors, app->lua);
    ztpd_lua_free(app->lua);
    ztpd_registry_free(app->reg);
    ztpd_store_free(app->store);
    for (size_t i = 0; i < app->n_tokens; i++)
        free(app->tokens[i]);
    free(app->tokens);
    ztpd_config_free(app->cfg);
    if (app->lock_fd >= 0)
        close(app->lock_fd); /* releases the data_dir lock */
}

static int fail(struct ztpd_app *app, const char *what, const char *err)
{
    LOG_E(MOD, "%s: %s", what, err);
    fprintf(stderr, "ztpd: %s: %s\n", what, err);
    (void)app;
    return 1;
}

/* Everything up to listening; returns 0 or 1 after logging why. */
static int app_start(struct ztpd_app *app, const char *cfg_path)
{
    char err[1024] = "";
    int rc = ztpd_config_load(&app->cfg, cfg_path, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ztpd: %s\n", err);
        return 1;
    }
    const struct ztpd_config *cfg = app->cfg;
    if (ztpd_log_init(cfg->log_level, cfg->log_file)) {
        fprintf(stderr, "ztpd: %s:1: logging.file: cannot open %s\n", cfg->path, cfg->log_file);
        return 1;
    }
    LOG_I(MOD, "ztpd %s starting with %s", ZTPD_VERSION, cfg->path);
    app->started_at = ztpd_time_now();

    /* Every device record stores its provisioning URL in a fixed-size field: a format that
     * cannot fit is a config error, not a silently cut URL. */
    char url[1024];
    ztpd_provision_config_url(app, "001565123456", url, sizeof url);
    if (strlen(url) >= ZTPD_S_CONFIG_URL) {
        snprintf(err, sizeof err,
                 "%s: provisioning.url_format: the provisioning URL would be %zu bytes long "
                 "(\"%.60s...\"); at most %d",
                 cfg->path, strlen(url), url, ZTPD_S_CONFIG_URL - 1);
        return fail(app, "config", err);
    }
    long holder;
    rc = ztpd_app_lock(cfg->data_dir, &app->lock_fd, &holder, err, sizeof err);
    if (rc == ZTPD_EEXIST) {
        snprintf(err, sizeof err,
                 "another ztpd process (pid %ld) is using %s; stop it first (offline data tools "
                 "hold it only while they run)",
                 holder, cfg->data_dir);
        return fail(app, "lock", err);
    }
    if (rc)
        return fail(app, "lock", err);
    if ((rc = ztpd_store_open(&app->store, app->loop, cfg, err, sizeof err)))
        return fail(app, "storage", err);
    if (ztpd_registry_new(&app->reg))
        return fail(app, "registry", "out of memory");
    if ((rc = ztpd_registry_load(app->reg, ztpd_store_backend(app->store),
                                 ztpd_store_handle(app->store)))) {
        snprintf(err, sizeof err, "cannot load devices and extensions (backend error %d)", rc);
        return fail(app, "storage", err);
    }
    LOG_I(MOD, "loaded %zu devices and %zu extensions from %s storage",
          ztpd_registry_device_count(app->reg), ztpd_registry_extension_count(app->reg),
          cfg->storage_backend);
    ztpd_cleanup_registrations(app); /* logs its counts; a failure does not stop startup */

    if (ztpd_lua_new(&app->lua))
        return fail(app, "lua", "cannot create the Lua state");
    if (ztpd_vendors_load(&app->vendors, app->lua, ztpd_app_vendor_dirs(cfg)) || !app->vendors)
        return fail(app, "vendors", "no vendor profile could be loaded");
    LOG_I(MOD, "loaded %zu vendor profiles", app->vendors->n);

    if (ztpd_seed_from_config(app, err, sizeof err))
        return fail(app, "config", err);
    if ((rc = ztpd_discovery_start(app, err, sizeof err)))
        return fail(app, "storage", err);

    if (load_templates(app, &app->templates, NULL))
        return fail(app, "templates", "out of memory");
    LOG_I(MOD, "loaded %zu templates", ztpd_templates_count(app->templates));

    /* After the registry (passwords) and vendors (reboot events), before the storage thread
     * (the persisted registrations are read synchronously). */
    if (ztpd_sip_glue_start(&app->sipg, app, err, sizeof err))
        return fail(app, "sip", err);

    if ((rc = ztpd_api_auth_init(app, err, sizeof err)))
        return fail(app, "api", err);
    if (ztpd_router_new(&app->router) || ztpd_provision_new(&app->prov, app) ||
        ztpd_provision_routes(app->prov, app->router) || ztpd_api_routes(app, app->router))
        return fail(app, "http", "out of memory");

    struct ztpd_http_limits limits = {
        .max_header_size = cfg->http_max_header_size,
        .max_body_size = cfg->http_max_body_size,
        .idle_timeout_ms = cfg->http_idle_timeout_ms,
        .max_connections = cfg->http_max_connections,
    };
    rc = ztpd_http_server_new(&app->http, app->loop, cfg->http_host, cfg->http_port, &limits,
                              handle_request, app, err, sizeof err);
    if (rc)
        return fail(app, "http", err);
    /* Routes may allow a larger body (the bulk import); the router answers per request. */
    ztpd_http_server_set_body_limit(app->http, ztpd_router_body_limit, app->router);
    if (ztpd_http_server_start(app->http))
        return fail(app, "http", "cannot listen");
    if (ztpd_store_start(app->store))
        return fail(app, "storage", "cannot start the storage thread");
    app->store_started = 1;

    uv_signal_init(app->loop, &app->sig_int);
    uv_signal_init(app->loop, &app->sig_term);
    uv_signal_init(app->loop, &app->sig_hup);
    app->sig_int.data = app->sig_term.data = app->sig_hup.data = app;
    uv_signal_start(&app->sig_int, on_signal, SIGINT);
    uv_signal_start(&app->sig_term, on_signal, SIGTERM);
    uv_signal_start(&app->sig_hup, on_signal, SIGHUP);
    signal(SIGPIPE, SIG_IGN);

    LOG_I(MOD, "listening on http://%s:%d (phones use http://%s:%d/provision/)", cfg->http_host,
          ztpd_http_server_port(app->http), cfg->server_address, cfg->http_port);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int ztpd_app_serve(const char *cfg_path)
{
    struct ztpd_app app;
    memset(&app, 0, sizeof app);
    app.lock_fd = -1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    app.loop = &loop;
    int rc = app_start(&app, cfg_path);
    if (rc == 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
    } else if (app.http) {
        /* Startup failed half-way: close what was opened without serving anything. */
        ztpd_http_server_close(app.http, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    /* A startup failure after SIP started leaves its handles to close on this loop. */
    ztpd_sip_glue_stop(app.sipg);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    app_free(&app);
    ztpd_log_close();
    return rc;
}
