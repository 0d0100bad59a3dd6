/* Cleanup of phone registrations (original guide, "Registration Cleanup"): rows missing the
 * MAC, the IP or the extension are removed. Runs at startup before the daemon serves anything,
 * and on demand (POST /api/registrations/cleanup, `ztpd registrations cleanup`); every run
 * applies the same policy and logs the same two lines. */
#ifndef ZTPD_LOOP_CLEANUP_H
#define ZTPD_LOOP_CLEANUP_H

#include "ztpd/storage.h"

struct ztpd_app;

/* Runs the backend's registration_cleanup with the policy on handle h (synchronously: call it
 * where the backend may be used, i.e. before the store starts, on the storage thread, or in an
 * offline tool). Fills *removed and *kept. Returns 0 or a ZTPD_STORAGE_* failure. Logs nothing. */
int ztpd_cleanup_run(const struct ztpd_storage_backend *be, void *h, int *removed, int *kept);

/* Logs the outcome of a run: "Removed N incomplete phone registrations" and "Kept M complete
 * phone registrations" at INFO, or a warning naming the failure when status is non-zero. */
void ztpd_cleanup_log(int status, int removed, int kept);

/* Startup: ztpd_cleanup_run() on the store (before its thread starts), then ztpd_cleanup_log().
 * Returns 0 or the failure, which is logged: the daemon starts anyway, since stale rows are no
 * reason to refuse phones. */
int ztpd_cleanup_registrations(struct ztpd_app *app);

#endif
