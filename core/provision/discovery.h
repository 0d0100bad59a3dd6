/* Discovery: remembers phones that asked for a config but are not provisioned (MAC, what their
 * User-Agent and OUI say about them, IP, first/last seen, count). The set is bounded by
 * provisioning.discovered_max (the entry seen longest ago is evicted, from memory and from the
 * database) so a MAC scanner can fill neither. Rows are written behind: changes are coalesced
 * and written by the storage thread about once a second, never waited for. A MAC that gets
 * provisioned leaves the set (claimed, or found in the registry when listed or reloaded).
 * Loop thread only. The state lives in this module (one daemon per process). */
#ifndef ZTPD_PROVISION_DISCOVERY_H
#define ZTPD_PROVISION_DISCOVERY_H

#include <stddef.h>

#include "ztpd/storage.h"

struct ztpd_app;

/* Loads the discovered devices through the store's backend (startup, after the registry and
 * before the storage thread starts), dropping provisioned MACs and the oldest beyond the bound
 * (their rows are deleted by the first write-behind). Returns 0, or a ZTPD_E* code with err. */
int ztpd_discovery_start(struct ztpd_app *app, char *err, size_t errlen);

/* Records a request from an unprovisioned MAC (12 lowercase hex digits); ip and user_agent may
 * be NULL. Cheap and never blocks: detection runs only when the User-Agent changed, and the
 * database write is queued and coalesced. A provisioned MAC is ignored. */
void ztpd_discovery_note(struct ztpd_app *app, const char *mac, const char *ip,
                         const char *user_agent);

/* The discovered devices, newest last_seen first: a new array of pointers (*n of them) that the
 * caller frees, not the records, which stay valid until the next note/forget. Provisioned MACs
 * are dropped first. NULL with *n = 0 when there are none (or on ENOMEM). */
const struct ztpd_discovered_rec **ztpd_discovery_list(struct ztpd_app *app, size_t *n);

/* One discovered device by normalized MAC, or NULL. Owned by the module. */
const struct ztpd_discovered_rec *ztpd_discovery_get(struct ztpd_app *app, const char *mac);

/* Removes a MAC from the set and queues the deletion of its row. */
void ztpd_discovery_forget(struct ztpd_app *app, const char *mac);

/* Submits the pending writes now and stops the write-behind timer (shutdown, before the store
 * stops: the store runs what was submitted before it flushes and closes). */
void ztpd_discovery_flush(struct ztpd_app *app);

/* Frees the state (after the loop has ended; safe when never started). */
void ztpd_discovery_free(struct ztpd_app *app);

#endif
