/* JSON answers shared by the API handlers. Internal to core/api. */
#ifndef ZTPD_API_RESPOND_H
#define ZTPD_API_RESPOND_H

#include <jansson.h>

#include "http/server.h"

struct ztpd_app;

/* Sends body (reference stolen) as JSON with status. */
void api_json(struct ztpd_http_req *req, int status, json_t *body);
/* Sends {"success":false,"error":msg,"field":field} (field omitted when NULL). */
void api_error(struct ztpd_http_req *req, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends {"success":true,"message":message} with status. */
void api_ok(struct ztpd_http_req *req, int status, const char *message);
/* Parses the body as a JSON object; on failure answers 400 itself and returns NULL. */
json_t *api_body_object(struct ztpd_http_req *req);
/* Answers 401 and returns 0 unless the request carries a valid bearer token. */
int api_authorized(struct ztpd_app *app, struct ztpd_http_req *req);
/* Checks the request's bearer token without answering: 1 valid, 0 no Authorization header,
 * -1 more than one, -2 wrong scheme or token. The one comparison every token check uses. */
int api_token_check(const struct ztpd_app *app, const struct ztpd_http_req *req);
/* Maps a ZTPD_STORAGE_* failure to an HTTP answer naming what was not written. */
void api_storage_error(struct ztpd_http_req *req, int status, const char *what);
/* Reads a string (or integer, for numbers such as extensions) member; NULL if absent.
 * Answers 400 naming the field and sets *bad when present with another type. */
const char *api_member_string(struct ztpd_http_req *req, json_t *obj, const char *name, char *buf,
                              size_t buflen, int *bad);

#endif
