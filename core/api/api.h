/* The REST API (JSON, jansson): routes under /api, bearer-token authentication on everything
 * except GET /api/status. Response shapes follow the original guide so existing scripts work.
 * Writes are answered only after the storage thread committed them. */
#ifndef ZTPD_API_API_H
#define ZTPD_API_API_H

#include <stddef.h>

struct ztpd_app;
struct ztpd_router;

/* Registers every API route on r. 0 or ZTPD_ENOMEM. */
int ztpd_api_routes(struct ztpd_app *app, struct ztpd_router *r);

/* Sets app->tokens from api.tokens, or, when that list is empty, from <data_dir>/api-token,
 * generating it (mode 0600) and printing it once on first start. 0 or ZTPD_EIO with err. */
int ztpd_api_auth_init(struct ztpd_app *app, char *err, size_t errlen);

#endif
