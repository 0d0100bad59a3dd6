#include "loop/cleanup.h"

#include "log/log.h"
#include "loop/app.h"
#include "storage/store.h"

#define MOD "cleanup"

int ztpd_cleanup_registrations(struct ztpd_app *app)
{
    const struct ztpd_storage_backend *be = ztpd_store_backend(app->store);
    void *h = ztpd_store_handle(app->store);
    /* A registration is only useful with all three: it maps a phone (MAC) at an address (IP)
     * to a line (extension); anything less cannot be matched to a device. */
    const struct ztpd_cleanup_policy policy = {
        .require_mac = 1,
        .require_ip = 1,
        .require_extension = 1,
    };
    int removed = 0, kept = 0;
    int rc = be->registration_cleanup ? be->registration_cleanup(h, &policy, &removed, &kept)
                                      : ZTPD_STORAGE_EINVAL;
    if (rc) {
        LOG_W(MOD, "registration cleanup failed (%s); incomplete registrations are kept",
              ztpd_store_strstatus(rc));
        return rc;
    }
    LOG_I(MOD, "Removed %d incomplete phone registrations", removed);
    LOG_I(MOD, "Kept %d complete phone registrations", kept);
    return 0;
}
