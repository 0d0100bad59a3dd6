/* The daemon's side of the SIP engine (core/sip): starts it from the config with extension
 * passwords from the registry, persists bindings write-behind (insert op, then batched
 * refreshes and deletes), reloads them at startup, and keeps what the API shows besides the
 * bindings themselves: the provisioning join and the outcome of the last NOTIFY per contact.
 * Loop thread only. */
#ifndef ZTPD_LOOP_SIP_GLUE_H
#define ZTPD_LOOP_SIP_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "sip/sip.h"
#include "ztpd/storage.h"

struct ztpd_app;
struct ztpd_sip_glue;

/* The outcome of the last NOTIFY sent to one contact. */
struct ztpd_sip_last_notify {
    char event[128];
    char result[16]; /* "ok" | "rejected" | "timeout" | "auth_failed" | "unreachable" | ... */
    int code;        /* final SIP status, 0 when none came */
    int64_t at;      /* Unix seconds of the outcome */
};

/* Starts SIP for app (after the registry is loaded, before the store thread starts): binds
 * sip.listen and reinstates the unexpired persisted registrations (expired rows are deleted).
 * Returns 0 (also when sip.enabled is false: then *out is NULL), or non-zero with err filled
 * (a bind failure names sip.listen). *out owned by the caller, ztpd_sip_glue_free(). */
int ztpd_sip_glue_start(struct ztpd_sip_glue **out, struct ztpd_app *app, char *err, size_t errlen);

/* Stops the engine (sockets close on the next loop turns); bindings stay persisted for the next
 * start. Call before the store stops so the last batch holds the final state. NULL is fine. */
void ztpd_sip_glue_stop(struct ztpd_sip_glue *g);

/* Frees the glue after the loop ended and the store stopped (NULL is fine). */
void ztpd_sip_glue_free(struct ztpd_sip_glue *g);

/* The engine, or NULL when SIP is disabled or stopped. Owned by g. */
struct ztpd_sip *ztpd_sip_glue_engine(const struct ztpd_sip_glue *g);

/* The registration record the API shows for binding b: the binding's fields joined with the
 * provisioned device (by the binding's MAC, else by extension) for mac/mac_source/vendor/model.
 * *dev receives that device or NULL (owned by the registry). */
void ztpd_sip_glue_record(struct ztpd_sip_glue *g, const struct ztpd_sip_binding *b,
                          struct ztpd_registration_rec *out, const struct ztpd_device_rec **dev);

/* The first provisioned device of an extension (lowest MAC), or NULL. Owned by the registry. */
const struct ztpd_device_rec *ztpd_sip_glue_device_for(struct ztpd_sip_glue *g, const char *ext);

/* Last NOTIFY outcome of (extension, contact), or NULL if none was recorded. Owned by g. */
const struct ztpd_sip_last_notify *ztpd_sip_glue_last_notify(const struct ztpd_sip_glue *g,
                                                             const char *ext, const char *contact);

/* The reboot event for an extension: the `reboot.event` of its provisioned device's vendor, or
 * "check-sync;reboot=true". Static or owned by the vendor set. */
const char *ztpd_sip_glue_reboot_event(struct ztpd_sip_glue *g, const char *ext);

/* Sends the reboot NOTIFY to every contact of ext now. Returns the number sent, ZTPD_ENOENT
 * when ext has no binding (or SIP is off), or another ZTPD_E* code. */
int ztpd_sip_glue_reboot(struct ztpd_sip_glue *g, const char *ext);

/* Queues the reboot NOTIFY for every registered extension, drained at sip.reboot_pace per
 * second. Returns the number of extensions queued, or a ZTPD_E* code. */
int ztpd_sip_glue_reboot_all(struct ztpd_sip_glue *g);

/* NOTIFY outcomes since start by result (for tests and metrics). */
uint64_t ztpd_sip_glue_notify_count(const struct ztpd_sip_glue *g, const char *result);

#endif
