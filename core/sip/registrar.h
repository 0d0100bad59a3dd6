/* The registrar (RFC 3261 10.3) over decoded REGISTER requests: digest authentication against
 * extension passwords, bindings per extension (several contacts), Expires handling,
 * un-REGISTER, expiry, and change callbacks so the daemon can persist and publish bindings.
 * It produces a status, a reason and extra header lines; it never touches sockets, so tests
 * drive it with crafted messages and a chosen clock. Loop thread only. */
#ifndef ZTPD_SIP_REGISTRAR_H
#define ZTPD_SIP_REGISTRAR_H

#include <stddef.h>
#include <stdint.h>

#include "sip/digest.h"
#include "sip/sip_msg.h"
#include "sip/transport.h"
#include "util/mac.h"

#define ZTPD_SIP_MAX_BINDINGS 16 /* hard cap of contacts per extension */

/* One registered contact of an extension. */
struct ztpd_sip_binding {
    char extension[64];
    char contact[ZTPD_SIP_S_URI];    /* Contact URI: the Request-URI of our NOTIFYs */
    char instance[ZTPD_SIP_S_TOKEN]; /* +sip.instance, "" when none */
    char contact_host[ZTPD_SIP_S_TOKEN];
    int contact_port; /* 0 when the URI names none */
    char ip[46];      /* source address of the REGISTER */
    int port;
    char transport[4]; /* "udp" | "tcp" */
    char user_agent[ZTPD_SIP_S_UA];
    char mac[ZTPD_MAC_LEN + 1]; /* "" when the phone gave none */
    char mac_source[24];        /* "sip_registration" when mac is set, else "" */
    char call_id[ZTPD_SIP_S_TOKEN];
    uint32_t cseq;
    int64_t first_registered, last_registered, expires_at; /* Unix seconds */
    struct ztpd_sip_peer peer; /* where to reach it (TCP: the connection) */
    int64_t store_id;          /* the daemon's row id; 0 until it sets one */
};

enum ztpd_sip_binding_event {
    ZTPD_SIP_BINDING_ADDED = 1,
    ZTPD_SIP_BINDING_REFRESHED = 2, /* re-REGISTER: times, address or UA may have changed */
    ZTPD_SIP_BINDING_REMOVED = 3,   /* un-REGISTER, or evicted by a newer contact */
    ZTPD_SIP_BINDING_EXPIRED = 4,
};

/* Binding change; b is only valid during the call (copy what you keep). */
typedef void (*ztpd_sip_binding_cb)(int event, const struct ztpd_sip_binding *b, void *arg);
/* Extension password lookup: writes the password into out (cap bytes) and returns 0, or
 * non-zero when the extension does not exist. */
typedef int (*ztpd_sip_password_cb)(const char *extension, char *out, size_t cap, void *arg);

struct ztpd_registrar_config {
    int default_expires; /* when the phone asks for none; default 3600 */
    int min_expires;     /* shorter (non-zero) requests get 423; default 60 */
    int max_expires;     /* longer requests are shortened; default 7200 */
    int max_contacts;    /* per extension, at most ZTPD_SIP_MAX_BINDINGS; default 10 */
};

struct ztpd_registrar_stats {
    uint64_t ok, challenged, stale, forbidden, bad;
};

struct ztpd_registrar;

/* New registrar using digest d (borrowed: it must outlive r) and the callbacks (arg passed
 * back). cfg fields left 0 take defaults. *out owned by the caller, ztpd_registrar_free(). */
int ztpd_registrar_new(struct ztpd_registrar **out, const struct ztpd_registrar_config *cfg,
                       struct ztpd_digest *d, ztpd_sip_password_cb password,
                       ztpd_sip_binding_cb changed, void *arg);
/* Frees every binding without callbacks (NULL is fine). */
void ztpd_registrar_free(struct ztpd_registrar *r);

/* Handles one REGISTER from `from` at time `now`. Returns the status code; *reason is static;
 * extra (cap bytes) receives header lines (each ending in CRLF) for the response. */
int ztpd_registrar_register(struct ztpd_registrar *r, const struct ztpd_sip_msg *req,
                            const struct ztpd_sip_peer *from, int64_t now, const char **reason,
                            char *extra, size_t cap);

/* Removes bindings whose expires_at <= now (EXPIRED events); returns how many. */
size_t ztpd_registrar_expire(struct ztpd_registrar *r, int64_t now);

/* Calls cb for each binding of `extension` (NULL = all); the table must not change meanwhile. */
void ztpd_registrar_each(const struct ztpd_registrar *r, const char *extension,
                         void (*cb)(const struct ztpd_sip_binding *b, void *arg), void *arg);

/* Reinstates a persisted binding (startup reload) without a callback. 0, ZTPD_EINVAL (no
 * extension or contact) or ZTPD_ETOOBIG (extension full). */
int ztpd_registrar_restore(struct ztpd_registrar *r, const struct ztpd_sip_binding *b);

/* Records the daemon's row id for a binding; 0 or ZTPD_ENOENT when it is gone. */
int ztpd_registrar_set_store_id(struct ztpd_registrar *r, const char *extension,
                                const char *contact, int64_t id);

/* Number of bindings over all extensions. */
size_t ztpd_registrar_count(const struct ztpd_registrar *r);

/* Counters since creation. */
void ztpd_registrar_stats(const struct ztpd_registrar *r, struct ztpd_registrar_stats *out);

#endif
