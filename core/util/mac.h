/* MAC address parsing: every textual form phones and admins use, normalized to 12 lowercase hex
 * digits (the form stored and used as the registry key). */
#ifndef ZTPD_UTIL_MAC_H
#define ZTPD_UTIL_MAC_H

#include <stddef.h>

#define ZTPD_MAC_LEN 12

/* Normalizes `in` (len bytes: "001565123456", "00:15:65:12:34:56", "00-15-65-12-34-56",
 * "0015.6512.3456", URL-encoded colons "%3A", any case) into out (13 bytes, NUL-terminated).
 * Separators must be consistent and in the canonical positions. Returns 0 or ZTPD_EINVAL. */
int ztpd_mac_normalize(const char *in, size_t len, char out[ZTPD_MAC_LEN + 1]);

/* Formats a normalized MAC with a separator (':' or '-') and case; out needs 18 bytes. */
void ztpd_mac_format(const char mac[ZTPD_MAC_LEN + 1], char sep, int upper, char out[18]);

#endif
