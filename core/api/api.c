#include "api/api.h"

#include "api/api_internal.h"
#include "util/error.h"

int ztpd_api_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    if (api_status_routes(app, r) || api_bulk_routes(app, r) || api_devices_routes(app, r) ||
        api_extensions_routes(app, r) || api_registrations_routes(app, r) ||
        api_discovered_routes(app, r) || api_phones_routes(app, r))
        return ZTPD_ENOMEM;
    return 0;
}
