#include "util/mac.h"

#include <ctype.h>
#include <string.h>

#include "util/error.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int ztpd_mac_normalize(const char *in, size_t len, char out[ZTPD_MAC_LEN + 1])
{
    char digits[ZTPD_MAC_LEN + 1];
    size_t n = 0;
    /* The separator seen first fixes the form; a mixture ("00:15-65...") is rejected. */
    char sep = 0;
    size_t groups_len = 0, group = 0;
    if (!in)
        return ZTPD_EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        char s = 0;
        if (c == '%' && i + 2 < len && in[i + 1] == '3' && (in[i + 2] == 'a' || in[i + 2] == 'A')) {
            s = ':';
            i += 2;
        } else if (c == ':' || c == '-' || c == '.') {
            s = c;
        }
        if (s) {
            if (sep && sep != s)
                return ZTPD_EINVAL;
            if (!sep) {
                sep = s;
                groups_len = group;
            }
            /* Colon/hyphen forms have pairs; the dotted (Cisco) form has quads. */
            if (group == 0 || group != groups_len || (groups_len != 2 && groups_len != 4))
                return ZTPD_EINVAL;
            group = 0;
            continue;
        }
        if (hexval((unsigned char)c) < 0 || n >= ZTPD_MAC_LEN)
            return ZTPD_EINVAL;
        digits[n++] = (char)tolower((unsigned char)c);
        group++;
    }
    if (n != ZTPD_MAC_LEN)
        return ZTPD_EINVAL;
    if (sep && group != groups_len)
        return ZTPD_EINVAL;
    memcpy(out, digits, ZTPD_MAC_LEN);
    out[ZTPD_MAC_LEN] = '\0';
    return 0;
}

void ztpd_mac_format(const char mac[ZTPD_MAC_LEN + 1], char sep, int upper, char out[18])
{
    size_t o = 0;
    for (size_t i = 0; i < ZTPD_MAC_LEN; i++) {
        if (i && i % 2 == 0 && sep)
            out[o++] = sep;
        out[o++] = upper ? (char)toupper((unsigned char)mac[i]) : mac[i];
    }
    out[o] = '\0';
}
