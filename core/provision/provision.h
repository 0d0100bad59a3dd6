/* Provisioning: answers GET /provision/<file> from the registry, rendering the device's
 * config from its vendor's template, with a cache per (MAC, file) invalidated by any change of
 * devices, extensions, vendors or templates. Also builds the config_url the API reports. */
#ifndef ZTPD_PROVISION_PROVISION_H
#define ZTPD_PROVISION_PROVISION_H

#include <stddef.h>

#include "ztpd/storage.h"

struct ztpd_app;
struct ztpd_http_req;
struct ztpd_provision;
struct ztpd_vendor;
struct ztpd_vendor_model;
struct ztpd_router;
struct ztpd_tpl_ctx;

/* New provisioning state bound to app; *out owned by the caller. */
int ztpd_provision_new(struct ztpd_provision **out, struct ztpd_app *app);
/* Frees it and its cache (NULL is fine). */
void ztpd_provision_free(struct ztpd_provision *p);
/* Registers GET and PUT /provision/... on the router (route.c). */
int ztpd_provision_routes(struct ztpd_provision *p, struct ztpd_router *r);
/* Answers a GET, HEAD or PUT that no route matched as a provisioning request at the root (phones
 * configured with a bare host); returns 1 when it answered req, 0 for other methods (the caller
 * answers). Call it only after the router found no route, so API routes always win (route.c). */
int ztpd_provision_root(struct ztpd_provision *p, struct ztpd_http_req *req);
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

/* Renders `role` ("device", "master", "common", ...) of vendor v: for device d (its own model,
 * with every variable) or, with d NULL, the shared file of model m (may be NULL) with the
 * server-wide variables only. *out is malloc'd, caller frees. 0 or ZTPD_E* with err. */
int ztpd_provision_render_role(struct ztpd_app *app, const struct ztpd_vendor *v,
                               const struct ztpd_vendor_model *m, const struct ztpd_device_rec *d,
                               const char *role, char **out, size_t *len, char *err, size_t errlen);

/* As ztpd_provision_render_role, through the render cache (per (MAC, role) for a device, per
 * (vendor, model, role) for a shared file; dropped on any registry or reload change). *body is
 * owned by the cache and valid until the next cache call. */
int ztpd_provision_cached(struct ztpd_provision *p, const struct ztpd_vendor *v,
                          const struct ztpd_vendor_model *m, const struct ztpd_device_rec *d,
                          const char *role, const char **body, size_t *len, char *err,
                          size_t errlen);

/* The app p was created for. */
struct ztpd_app *ztpd_provision_app(const struct ztpd_provision *p);

/* Writes the config URL for a MAC from provisioning.url_format into out. */
void ztpd_provision_config_url(const struct ztpd_app *app, const char *mac, char *out,
                               size_t outlen);

#endif
