/* One API write on its way through the storage thread: the request waits, unanswered, until
 * the backend committed (or refused) the change; then `apply` updates the registry and answers.
 * Internal to core/api. */
#ifndef ZTPD_API_WRITE_OP_H
#define ZTPD_API_WRITE_OP_H

#include "http/server.h"
#include "storage/store.h"
#include "ztpd/storage.h"

struct ztpd_app;

enum api_write_kind {
    API_DEVICE_INSERT,
    API_DEVICE_DELETE,
    API_DEVICE_TOUCH,
    API_EXTENSION_PUT,
    API_EXTENSION_DELETE,
};

struct api_write {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_app *app;
    struct ztpd_http_req *req;
    enum api_write_kind kind;
    struct ztpd_device_rec dev;
    struct ztpd_extension_rec ext;
    char key[64];
    int64_t at;
    /* Loop thread, after the backend ran: op.status holds the result. Must answer req. */
    void (*apply)(struct api_write *w);
};

/* Allocates a write of `kind` for req; NULL (and a 503 answered) on ENOMEM. */
struct api_write *api_write_new(struct ztpd_app *app, struct ztpd_http_req *req,
                                enum api_write_kind kind, void (*apply)(struct api_write *w));
/* Submits w to the store; apply() runs later and w is freed after it. */
void api_write_submit(struct api_write *w);

#endif
