/* Out-of-dialog NOTIFY to a registered contact (resync / reboot, RFC 3265 style with
 * Subscription-State: terminated), answering one 401/407 challenge with the line's credentials
 * (extension + its password), as Cisco SPA requires. Runs over the transaction layer. */
#ifndef ZTPD_SIP_NOTIFY_H
#define ZTPD_SIP_NOTIFY_H

#include "sip/registrar.h"
#include "sip/transaction.h"

/* What became of one NOTIFY. */
struct ztpd_sip_notify_result {
    const char *extension;
    const char *contact;
    const char *event;
    const char *result; /* "ok" | "rejected" | "timeout" | "auth_failed" | "unreachable" |
                         * "no_contact" (paced queue: the extension had no binding left) */
    int code;           /* final status code; 0 for timeout/unreachable */
};

/* Called once per NOTIFY; r and its strings are only valid during the call. */
typedef void (*ztpd_sip_notify_cb)(const struct ztpd_sip_notify_result *r, void *arg);

struct ztpd_notifier;

/* New notifier sending through x (borrowed) with `local` ("host:port" for Via/From/Contact) and
 * `domain` (the To host). *out owned by the caller, ztpd_notifier_free(). */
int ztpd_notifier_new(struct ztpd_notifier **out, struct ztpd_sip_txns *x, const char *local,
                      const char *domain, ztpd_sip_password_cb password, void *arg);

/* Sends `event` (a header value, e.g. "check-sync;reboot=true") to binding b. cb(cb_arg) runs
 * once with the outcome, later. Returns 0, ZTPD_EINVAL (event empty, too long or with CR/LF)
 * or ZTPD_EUNAVAIL (cannot send; cb does not run). */
int ztpd_notifier_send(struct ztpd_notifier *n, const struct ztpd_sip_binding *b, const char *event,
                       ztpd_sip_notify_cb cb, void *cb_arg);

/* NOTIFYs still waiting for an answer. */
size_t ztpd_notifier_pending(const struct ztpd_notifier *n);

/* Frees the notifier and forgets pending NOTIFYs (their callbacks never run). Close the
 * transaction table first or together: its callbacks must not reach a freed notifier. */
void ztpd_notifier_free(struct ztpd_notifier *n);

#endif
