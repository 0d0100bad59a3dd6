/* The MAC a phone reveals in its REGISTER (pure functions, no I/O). Vendor facts from
 * VENDORS.md: a Yealink-family "Mac:" header; the last 12 hex of a Grandstream +sip.instance
 * UUID (only the Grandstream pattern: a Yealink instance UUID is NOT a MAC); a MAC inside the
 * User-Agent (Yealink "... 80:5e:c0:11:22:33", Fanvil "... 0c383e557eb1", Cisco "(MAC)").
 * Results are normalized to 12 lowercase hex digits. */
#ifndef ZTPD_SIP_MAC_EXTRACT_H
#define ZTPD_SIP_MAC_EXTRACT_H

#include "util/mac.h"

/* From a Mac: header value. 0 or ZTPD_EINVAL. */
int ztpd_sip_mac_from_header(const char *value, char out[ZTPD_MAC_LEN + 1]);

/* From a +sip.instance value ("<urn:uuid:...>", quotes already removed): only when the UUID is
 * 00000000-0000-1000-8000-<12 hex> or the User-Agent (may be NULL) starts with "Grandstream".
 * 0 or ZTPD_EINVAL. */
int ztpd_sip_mac_from_instance(const char *instance, const char *user_agent,
                               char out[ZTPD_MAC_LEN + 1]);

/* From a User-Agent: the first token that is 12 hex digits or six hex pairs joined by ':' or
 * '-' (not part of a longer hex run). 0 or ZTPD_EINVAL. */
int ztpd_sip_mac_from_user_agent(const char *user_agent, char out[ZTPD_MAC_LEN + 1]);

/* Tries header, instance (each instance given), then User-Agent; any argument may be NULL.
 * Returns 0 with the MAC, or ZTPD_ENOENT. */
int ztpd_sip_mac_extract(const char *mac_header, const char *const *instances, size_t n_instances,
                         const char *user_agent, char out[ZTPD_MAC_LEN + 1]);

#endif
