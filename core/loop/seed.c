#include "loop/seed.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "log/log.h"
#include "loop/app.h"
#include "lua/vendors.h"
#include "provision/provision.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/error.h"
#include "util/timefmt.h"

#define MOD "seed"

static int seed_extensions(struct ztpd_app *app, const struct ztpd_storage_backend *be, void *h,
                           char *err, size_t errlen)
{
    const struct ztpd_config *cfg = app->cfg;
    size_t changed = 0;
    for (size_t i = 0; i < cfg->n_extensions; i++) {
        const struct ztpd_cfg_extension *ce = &cfg->extensions[i];
        const struct ztpd_extension_rec *cur = ztpd_registry_extension(app->reg, ce->number);
        struct ztpd_extension_rec e;
        memset(&e, 0, sizeof e);
        if (cur)
            e = *cur;
        snprintf(e.number, sizeof e.number, "%s", ce->number);
        if (ce->name && *ce->name)
            snprintf(e.name, sizeof e.name, "%s", ce->name);
        if (ce->password && *ce->password)
            snprintf(e.password, sizeof e.password, "%s", ce->password);
        if (cur && memcmp(&e, cur, sizeof e) == 0)
            continue;
        int64_t now = ztpd_time_now();
        if (!cur)
            e.created_at = now;
        e.updated_at = now;
        int rc = be->extension_put(h, &e);
        if (rc) {
            snprintf(err, errlen, "%s:%d: extensions: cannot store extension %s (backend error %d)",
                     cfg->path, ce->line, ce->number, rc);
            return ZTPD_EIO;
        }
        ztpd_registry_extension_put(app->reg, &e);
        changed++;
    }
    if (changed)
        LOG_I(MOD, "%zu extension(s) from config.yml stored", changed);
    return 0;
}

static int seed_devices(struct ztpd_app *app, const struct ztpd_storage_backend *be, void *h,
                        char *err, size_t errlen)
{
    const struct ztpd_config *cfg = app->cfg;
    size_t changed = 0;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct ztpd_cfg_device *cd = &cfg->devices[i];
        /* validate_devices() already checked vendor, model and extension. */
        const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, cd->vendor);
        const struct ztpd_vendor_model *m = ztpd_vendor_model(v, cd->model);
        const struct ztpd_device_rec *cur = ztpd_registry_device(app->reg, cd->mac);
        struct ztpd_device_rec d;
        memset(&d, 0, sizeof d);
        if (cur)
            d = *cur;
        snprintf(d.mac, sizeof d.mac, "%s", cd->mac);
        snprintf(d.extension, sizeof d.extension, "%s", cd->extension);
        snprintf(d.vendor, sizeof d.vendor, "%s", v->name);
        snprintf(d.model, sizeof d.model, "%s", m->id);
        ztpd_provision_config_url(app, d.mac, d.config_url, sizeof d.config_url);
        if (cur && memcmp(&d, cur, sizeof d) == 0)
            continue;
        if (!cur)
            d.created_at = ztpd_time_now();
        int rc = be->device_put(h, &d, ZTPD_PUT_UPSERT);
        if (rc) {
            snprintf(err, errlen,
                     "%s:%d: provisioning.devices[%zu]: cannot store device %s "
                     "(backend error %d)",
                     cfg->path, cd->line, i, d.mac, rc);
            return ZTPD_EIO;
        }
        ztpd_registry_device_put(app->reg, &d);
        changed++;
    }
    if (changed)
        LOG_I(MOD, "%zu device(s) from config.yml stored", changed);
    return 0;
}

static int config_has_extension(const struct ztpd_config *cfg, const char *number)
{
    for (size_t i = 0; i < cfg->n_extensions; i++)
        if (strcmp(cfg->extensions[i].number, number) == 0)
            return 1;
    return 0;
}

/* Checks every device before anything is written, so a bad entry changes nothing. */
static int validate_devices(struct ztpd_app *app, char *err, size_t errlen)
{
    const struct ztpd_config *cfg = app->cfg;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct ztpd_cfg_device *cd = &cfg->devices[i];
        const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, cd->vendor);
        if (!v) {
            snprintf(err, errlen, "%s:%d: provisioning.devices[%zu].vendor: unknown vendor '%s'",
                     cfg->path, cd->line, i, cd->vendor);
            return ZTPD_ECONFIG;
        }
        if (!ztpd_vendor_model(v, cd->model)) {
            snprintf(err, errlen,
                     "%s:%d: provisioning.devices[%zu].model: vendor %s has no "
                     "model '%s'",
                     cfg->path, cd->line, i, v->name, cd->model);
            return ZTPD_ECONFIG;
        }
        if (!ztpd_registry_extension(app->reg, cd->extension) &&
            !config_has_extension(cfg, cd->extension)) {
            snprintf(err, errlen,
                     "%s:%d: provisioning.devices[%zu].extension: extension '%s' does not "
                     "exist (add it under extensions:)",
                     cfg->path, cd->line, i, cd->extension);
            return ZTPD_ECONFIG;
        }
    }
    return 0;
}

int ztpd_seed_from_config(struct ztpd_app *app, char *err, size_t errlen)
{
    const struct ztpd_storage_backend *be = ztpd_store_backend(app->store);
    void *h = ztpd_store_handle(app->store);
    int rc = validate_devices(app, err, errlen);
    if (!rc)
        rc = seed_extensions(app, be, h, err, errlen);
    if (!rc)
        rc = seed_devices(app, be, h, err, errlen);
    return rc;
}
