#include "loop/cleanup.h"

#include "log/log.h"
#include "loop/app.h"
#include "storage/store.h"

#define MOD "cleanup"

int ztpd_cleanup_run(const struct ztpd_storage_backend *be, void *h, int *removed, int *kept)
{
    /* A registration is only useful with all three: it maps a phone (MAC) at an address (IP)
     * to a line (extension); anything less cannot be matched to a device. */
    const struct ztpd_cleanup_policy policy = {
        .require_mac = 1,
        .require_ip = 1,
        .require_extension = 1,
    };
    *removed = *kept = 0;
    return be->registration_cleanup ? be->registration_cleanup(h, &policy, removed, kept)
                                    : ZTPD_STORAGE_EINVAL;
}

void ztpd_cleanup_log(int status, int removed, int kept)
{
    if (status) {
        LOG_W(MOD, "registration cleanup failed (%s); incomplete registrations are kept",
              ztpd_store_strstatus(status));
        return;
    }
    LOG_I(MOD, "Removed %d incomplete phone registrations", removed);
    LOG_I(MOD, "Kept %d complete phone registrations", kept);
}

int ztpd_cleanup_registrations(struct ztpd_app *app)
{
    int removed, kept;
    int rc = ztpd_cleanup_run(ztpd_store_backend(app->store), ztpd_store_handle(app->store),
                              &removed, &kept);
    ztpd_cleanup_log(rc, removed, kept);
    return rc;
}
