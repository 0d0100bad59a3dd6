/* Startup cleanup of phone registrations (original guide, "Registration Cleanup"): rows
 * missing the MAC, the IP or the extension are removed before the daemon serves anything. */
#ifndef ZTPD_LOOP_CLEANUP_H
#define ZTPD_LOOP_CLEANUP_H

struct ztpd_app;

/* Runs the backend's registration_cleanup synchronously (before the storage thread starts)
 * and logs the removed and kept counts. Returns 0 or the ZTPD_STORAGE_* failure, which is
 * logged: the daemon starts anyway, since stale rows are no reason to refuse phones. */
int ztpd_cleanup_registrations(struct ztpd_app *app);

#endif
