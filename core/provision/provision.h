/* Provisioning: answers GET /provision/<file> from the registry, rendering the device's
 * config from its vendor's template, with a cache per (MAC, file) invalidated by any change of
 * devices, extensions, vendors or templates. Also builds the config_url the API reports. */
#ifndef ZTPD_PROVISION_PROVISION_H
#define ZTPD_PROVISION_PROVISION_H

#include <stddef.h>

#include "ztpd/storage.h"

struct ztpd_app;
struct ztpd_provision;
struct ztpd_router;
struct ztpd_tpl_ctx;

/* New provisioning state bound to app; *out owned by the caller. */
int ztpd_provision_new(struct ztpd_provision **out, struct ztpd_app *app);
/* Frees it and its cache (NULL is fine). */
void ztpd_provision_free(struct ztpd_provision *p);
/* Registers the /provision routes on the router. */
int ztpd_provision_routes(struct ztpd_provision *p, struct ztpd_router *r);
/* Drops every cached render (after reload). */
void ztpd_provision_invalidate(struct ztpd_provision *p);

/* Fills ctx with the variables of device d (and its extension, vendor, model, server).
 * Returns 0 or ZTPD_ENOENT naming what is missing in err. */
int ztpd_provision_vars(struct ztpd_app *app, const struct ztpd_device_rec *d,
                        struct ztpd_tpl_ctx *ctx, char *err, size_t errlen);

/* Renders the device config of d into a new malloc'd buffer (*out, caller frees); *ctype gets
 * the vendor's content type (static). Returns 0 or a ZTPD_E* code with the reason in err. */
int ztpd_provision_render(struct ztpd_app *app, const struct ztpd_device_rec *d, char **out,
                          size_t *len, const char **ctype, char *err, size_t errlen);

/* Writes the config URL for a MAC from provisioning.url_format into out. */
void ztpd_provision_config_url(const struct ztpd_app *app, const char *mac, char *out,
                               size_t outlen);

#endif
