#include "api/write_op.h"

#include <stdlib.h>

#include "api/respond.h"
#include "loop/app.h"

static void run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct api_write *w = (struct api_write *)op;
    switch (w->kind) {
    case API_DEVICE_INSERT:
        op->status = be->device_put(h, &w->dev, ZTPD_PUT_INSERT);
        break;
    case API_DEVICE_DELETE:
        op->status = be->device_delete(h, w->key);
        break;
    case API_DEVICE_TOUCH:
        op->status = be->device_touch(h, w->key, w->at);
        break;
    case API_EXTENSION_PUT:
        op->status = be->extension_put(h, &w->ext);
        break;
    case API_EXTENSION_DELETE:
        op->status = be->extension_delete(h, w->key);
        break;
    }
}

static void done(struct ztpd_store_op *op)
{
    struct api_write *w = (struct api_write *)op;
    w->apply(w);
    free(w);
}

struct api_write *api_write_new(struct ztpd_app *app, struct ztpd_http_req *req,
                                enum api_write_kind kind, void (*apply)(struct api_write *w))
{
    struct api_write *w = calloc(1, sizeof *w);
    if (!w) {
        api_error(req, 503, NULL, "out of memory");
        return NULL;
    }
    w->op.run = run;
    w->op.done = done;
    w->app = app;
    w->req = req;
    w->kind = kind;
    w->apply = apply;
    return w;
}

void api_write_submit(struct api_write *w)
{
    ztpd_store_submit(w->app->store, &w->op);
}
