/* MAC extraction from REGISTER fields; see mac_extract.h. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "sip/mac_extract.h"
#include "util/error.h"

/* A MAC of all zeros or all ones is a placeholder, not a device. */
static int plausible(const char mac[ZTPD_MAC_LEN + 1])
{
    return strcmp(mac, "000000000000") != 0 && strcmp(mac, "ffffffffffff") != 0;
}

int ztpd_sip_mac_from_header(const char *value, char out[ZTPD_MAC_LEN + 1])
{
    if (!value)
        return ZTPD_EINVAL;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (ztpd_mac_normalize(value, n, out) != 0 || !plausible(out))
        return ZTPD_EINVAL;
    return 0;
}

int ztpd_sip_mac_from_instance(const char *instance, const char *user_agent,
                               char out[ZTPD_MAC_LEN + 1])
{
    static const char prefix[] = "urn:uuid:";
    static const char gs_head[] = "00000000-0000-1000-8000-";
    if (!instance)
        return ZTPD_EINVAL;
    const char *p = instance;
    size_t n = strlen(p);
    if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
        p++;
        n -= 2;
    }
    if (n != sizeof prefix - 1 + 36 || strncasecmp(p, prefix, sizeof prefix - 1) != 0)
        return ZTPD_EINVAL;
    const char *uuid = p + sizeof prefix - 1;
    int grandstream_ua = user_agent && strncasecmp(user_agent, "Grandstream", 11) == 0;
    if (strncasecmp(uuid, gs_head, sizeof gs_head - 1) != 0 && !grandstream_ua)
        return ZTPD_EINVAL;
    if (uuid[8] != '-' || uuid[13] != '-' || uuid[18] != '-' || uuid[23] != '-')
        return ZTPD_EINVAL;
    if (ztpd_mac_normalize(uuid + 24, 12, out) != 0 || !plausible(out))
        return ZTPD_EINVAL;
    return 0;
}

static int is_hex(char c)
{
    return isxdigit((unsigned char)c) != 0;
}

/* Length of a MAC-shaped token at s (12 hex, or 6 pairs with one separator kind), else 0. */
static size_t mac_token(const char *s)
{
    size_t i = 0;
    while (i < 12 && is_hex(s[i]))
        i++;
    if (i == 12)
        return is_hex(s[12]) ? 0 : 12;
    if (i != 2 || (s[2] != ':' && s[2] != '-'))
        return 0;
    char sep = s[2];
    for (int g = 0; g < 6; g++) {
        const char *q = s + g * 3;
        if (!is_hex(q[0]) || !is_hex(q[1]))
            return 0;
        if (g < 5 && q[2] != sep)
            return 0;
    }
    return is_hex(s[17]) || s[17] == sep ? 0 : 17;
}

int ztpd_sip_mac_from_user_agent(const char *ua, char out[ZTPD_MAC_LEN + 1])
{
    if (!ua)
        return ZTPD_EINVAL;
    size_t len = strlen(ua);
    for (size_t i = 0; i < len; i++) {
        /* Tokens start at a boundary: a hex run inside a longer word (firmware ids) is no MAC. */
        if (i > 0 && (isalnum((unsigned char)ua[i - 1]) || ua[i - 1] == ':' || ua[i - 1] == '-' ||
                      ua[i - 1] == '.'))
            continue;
        size_t n = mac_token(ua + i);
        if (!n)
            continue;
        char after = ua[i + n];
        if (isalnum((unsigned char)after) || after == '.')
            continue;
        if (ztpd_mac_normalize(ua + i, n, out) == 0 && plausible(out))
            return 0;
    }
    return ZTPD_EINVAL;
}

int ztpd_sip_mac_extract(const char *mac_header, const char *const *instances, size_t n_instances,
                         const char *user_agent, char out[ZTPD_MAC_LEN + 1])
{
    if (mac_header && mac_header[0] && ztpd_sip_mac_from_header(mac_header, out) == 0)
        return 0;
    for (size_t i = 0; i < n_instances; i++)
        if (instances[i] && instances[i][0] &&
            ztpd_sip_mac_from_instance(instances[i], user_agent, out) == 0)
            return 0;
    if (user_agent && user_agent[0] && ztpd_sip_mac_from_user_agent(user_agent, out) == 0)
        return 0;
    return ZTPD_ENOENT;
}
