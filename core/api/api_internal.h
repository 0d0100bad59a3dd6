/* Shared between the files of core/api only. */
#ifndef ZTPD_API_API_INTERNAL_H
#define ZTPD_API_API_INTERNAL_H

#include <jansson.h>

#include "http/router.h"
#include "ztpd/storage.h"

struct ztpd_app;

/* Route registrars, one per file. */
int api_devices_routes(struct ztpd_app *app, struct ztpd_router *r);
int api_extensions_routes(struct ztpd_app *app, struct ztpd_router *r);
int api_status_routes(struct ztpd_app *app, struct ztpd_router *r);

/* The JSON form of a device (new reference). */
json_t *api_device_json(const struct ztpd_device_rec *d);

#endif
