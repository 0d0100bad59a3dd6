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
int api_bulk_routes(struct ztpd_app *app, struct ztpd_router *r);
int api_registrations_routes(struct ztpd_app *app, struct ztpd_router *r);
int api_phones_routes(struct ztpd_app *app, struct ztpd_router *r);

/* After a device of extension ext was registered or changed: sends the reboot NOTIFY when ext
 * has SIP bindings. Returns 1 when at least one NOTIFY went out, else 0. */
int api_phones_reboot_on_change(struct ztpd_app *app, const char *ext);
int api_discovered_routes(struct ztpd_app *app, struct ztpd_router *r);

/* The JSON form of a device (new reference). */
json_t *api_device_json(const struct ztpd_device_rec *d);

/* A validation failure not yet answered: the caller decides how to report it (the bulk
 * import adds the element index). */
struct api_fail {
    int status;        /* HTTP status; 0 = no failure */
    const char *field; /* static string or NULL */
    char msg[512];
};

/* Fills f (printf-style message). */
void api_fail_set(struct api_fail *f, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reads a string (or non-negative integer) member into buf; NULL if absent. A member of another
 * type, too long or with a NUL byte fills f instead of answering. */
const char *api_member_check(json_t *obj, const char *name, char *buf, size_t buflen,
                             struct api_fail *f);
/* Checks one device object as POST /api/provisioning/devices takes it and fills d (MAC
 * normalized, config_url and created_at set); -1 with f filled when it is unusable. Shared
 * with the bulk import so both accept exactly the same devices. */
int api_device_validate(struct ztpd_app *app, json_t *obj, struct ztpd_device_rec *d,
                        struct api_fail *f);

#endif
