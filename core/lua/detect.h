/* Phone detection: which vendor (and model, firmware, MAC) an HTTP or SIP User-Agent or a MAC's
 * OUI belongs to, as the vendor profiles describe it (DESIGN §5 `detect` and `oui`). Patterns
 * and detect functions run in the engine's Lua state through ztpd_lua_pcall(), so a broken or
 * runaway profile only fails its own match. Loop thread only. */
#ifndef ZTPD_LUA_DETECT_H
#define ZTPD_LUA_DETECT_H

#include "ztpd/storage.h"

struct ztpd_lua;
struct ztpd_vendor;
struct ztpd_vendors;

enum ztpd_ua_kind {
    ZTPD_UA_HTTP = 0, /* matched with detect.http_ua */
    ZTPD_UA_SIP = 1,  /* matched with detect.sip_ua */
};

struct ztpd_detect {
    const struct ztpd_vendor *vendor; /* NULL when nothing matched; owned by the vendor set */
    int by_ua;                        /* 1: the User-Agent named the vendor; 0: the OUI did */
    int model_known;                  /* 1: model is one of the vendor's model ids */
    char model[ZTPD_S_VENDOR];        /* model id, else the capture lowercased without " _-" */
    char firmware[ZTPD_S_VENDOR];     /* "" when unknown */
    char mac[ZTPD_S_MAC];             /* from the User-Agent, normalized; "" unless 12 hex */
};

/* Identifies a phone from its User-Agent (ua, may be NULL) and MAC (mac, normalized, may be
 * NULL). Every vendor's detect entry for `kind` is tried; when several match, the one whose OUI
 * list holds mac wins, else the first by name. Without a User-Agent match the OUI alone names
 * the vendor. The User-Agent is cut to ZTPD_S_UA - 1 bytes first, which bounds the work of any
 * pattern. Fills *out and returns 1 when a vendor was found, 0 otherwise. */
int ztpd_vendors_detect(const struct ztpd_vendors *vs, struct ztpd_lua *L, enum ztpd_ua_kind kind,
                        const char *ua, const char *mac, struct ztpd_detect *out);

/* The vendor whose OUI list holds the first 6 hex digits of mac (normalized), or NULL. */
const struct ztpd_vendor *ztpd_vendors_by_oui(const struct ztpd_vendors *vs, const char *mac);

/* Finds the model id of v that `name` designates once both are lowercased and stripped of
 * spaces, '_' and '-' ("ZIP 37G" -> zip37g, "VVX_450" -> vvx450), or NULL. Owned by v. */
const char *ztpd_vendor_model_match(const struct ztpd_vendor *v, const char *name);

#endif
