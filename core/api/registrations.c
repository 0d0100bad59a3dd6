/* POST /api/registrations/cleanup: the startup registration cleanup, on demand. It runs on the
 * storage thread like any write and logs the same lines as at startup. */
#include <stdlib.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "loop/app.h"
#include "loop/cleanup.h"
#include "storage/store.h"

struct cleanup_op {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_http_req *req;
    int removed, kept;
};

static void cleanup_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct cleanup_op *c = (struct cleanup_op *)op;
    op->status = ztpd_cleanup_run(be, h, &c->removed, &c->kept);
}

static void cleanup_done(struct ztpd_store_op *op)
{
    struct cleanup_op *c = (struct cleanup_op *)op;
    ztpd_cleanup_log(op->status, c->removed, c->kept);
    if (op->status) {
        api_storage_error(c->req, op->status, "the registration cleanup (nothing removed)");
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "success", json_true());
        json_object_set_new(o, "removed", json_integer(c->removed));
        json_object_set_new(o, "kept", json_integer(c->kept));
        api_json(c->req, 200, o);
    }
    free(c);
}

static void cleanup_registrations(struct ztpd_http_req *req, const struct ztpd_route_match *m,
                                  void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    struct cleanup_op *c = calloc(1, sizeof *c);
    if (!c) {
        api_error(req, 503, NULL, "out of memory");
        return;
    }
    c->op.run = cleanup_run;
    c->op.done = cleanup_done;
    c->req = req;
    ztpd_store_submit(app->store, &c->op);
}

int api_registrations_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    return ztpd_router_add(r, "POST", "/api/registrations/cleanup", cleanup_registrations, app);
}
