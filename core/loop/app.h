/* The running daemon: every long-lived part, owned here and wired together at startup
 * (DESIGN §3: config → storage → registry → config seeding → vendors/templates → listen).
 * Loop thread only, except the store's own thread. */
#ifndef ZTPD_LOOP_APP_H
#define ZTPD_LOOP_APP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"

struct ztpd_app {
    uv_loop_t *loop;
    struct ztpd_config *cfg;
    struct ztpd_store *store;
    struct ztpd_registry *reg;
    struct ztpd_lua *lua;
    struct ztpd_vendors *vendors;
    struct ztpd_templates *templates;
    struct ztpd_router *router;
    struct ztpd_http_server *http;
    struct ztpd_provision *prov;
    struct ztpd_sip_glue *sipg;       /* NULL when sip.enabled is false */
    struct ztpd_discovery *discovery; /* owned by core/provision/discovery.c */
    char **tokens;                    /* accepted API tokens (config or generated); owned */
    size_t n_tokens;
    int64_t started_at;
    uint64_t requests_served;
    uv_signal_t sig_int, sig_term, sig_hup;
    int stopping;
    int store_started;
    int exit_code;
    int lock_fd; /* <data_dir>/ztpd.lock, held while serving; -1 when not taken */
};

/* Runs `ztpd serve`: loads cfg_path, starts everything, runs the loop until SIGINT/SIGTERM.
 * Returns the process exit code (0 clean stop, 1 startup failure). */
int ztpd_app_serve(const char *cfg_path);

/* Re-reads vendors and templates (SIGHUP); a file that fails keeps its previous version. */
void ztpd_app_reload(struct ztpd_app *app);

/* Vendor directories in load order (built-in, then provisioning.vendors_dir); NULL-terminated,
 * static storage valid until the next call. */
const char *const *ztpd_app_vendor_dirs(const struct ztpd_config *cfg);

/* Takes the exclusive lock <data_dir>/ztpd.lock (creating data_dir if needed) and writes this
 * process's pid into it, without waiting. The daemon holds it while it runs; offline data tools
 * hold it while they work on the database, so neither runs under the other. Returns 0 and the
 * open descriptor in *fd (the caller closes it to release the lock); ZTPD_EEXIST when another
 * process holds it (*holder_pid gets its pid, or 0 if unknown); ZTPD_EIO with err otherwise. */
int ztpd_app_lock(const char *data_dir, int *fd, long *holder_pid, char *err, size_t errlen);

/* Directory of the built-in vendors/, templates/ and lua/ trees (source tree or install). */
const char *ztpd_app_share_dir(void);

#endif
