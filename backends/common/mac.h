/* The MAC form the storage ABI requires, checked by every backend before it writes.
 * Header-only: backends link against nothing of the daemon. */
#ifndef ZTPD_BACKEND_MAC_H
#define ZTPD_BACKEND_MAC_H

/* 1 when mac is exactly 12 lowercase hex digits (the ABI's normalized form), else 0. */
static inline int backend_valid_mac(const char *mac)
{
    if (!mac)
        return 0;
    for (int i = 0; i < 12; i++) {
        char c = mac[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return mac[12] == '\0';
}

#endif
