/* libFuzzer target: the MAC parser (core/util/mac.c) on arbitrary bytes. Every accepted input
 * must normalise to 12 lowercase hex digits and survive a format/normalise round trip. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char mac[ZTPD_MAC_LEN + 1];
    if (ztpd_mac_normalize((const char *)data, size, mac) != 0)
        return 0;
    if (strlen(mac) != ZTPD_MAC_LEN || strspn(mac, "0123456789abcdef") != ZTPD_MAC_LEN)
        abort();
    char colon[18], again[ZTPD_MAC_LEN + 1];
    ztpd_mac_format(mac, ':', 1, colon);
    if (ztpd_mac_normalize(colon, strlen(colon), again) != 0 || strcmp(mac, again) != 0)
        abort();
    return 0;
}
