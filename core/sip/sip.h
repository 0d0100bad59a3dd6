/* The SIP engine's public face: a registrar and NOTIFY client on libuv (UDP and TCP), with
 * libre as the message codec. It owns its sockets, transactions, bindings and nonce secret; the
 * daemon supplies extension passwords and receives binding changes through callbacks (for
 * write-behind persistence and the API view). Loop thread only.
 *
 * Handled: REGISTER (digest auth), OPTIONS (200), NOTIFY responses; ACK is ignored; other known
 * methods get 405 with Allow, unknown ones 501; Max-Forwards: 0 gets 483. Calls are out of
 * scope. Every binding change is reported through cb->binding; expiry runs once a second. */
#ifndef ZTPD_SIP_SIP_H
#define ZTPD_SIP_SIP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sip/notify.h"
#include "sip/registrar.h"
#include "sip/transaction.h"
#include "sip/transport.h"

struct ztpd_sip_config {
    const char *host;      /* listen address (IP literal), e.g. "0.0.0.0" */
    int port;              /* 0 picks a free port (tests) */
    int transports;        /* ZTPD_SIP_UDP | ZTPD_SIP_TCP */
    const char *advertise; /* host used in our Via/From/Contact; NULL = host */
    const char *realm;     /* digest realm; NULL = "ztpd" */
    int nonce_ttl;         /* seconds; 0 = 300 */
    struct ztpd_registrar_config registrar;
    /* Tests: when send is set no socket is opened and every outgoing message goes to it. */
    ztpd_sip_send_fn send;
    void *send_arg;
    /* Tests: a clock in Unix seconds; NULL = the wall clock. */
    int64_t (*clock)(void *arg);
    void *clock_arg;
    /* Tests: transaction timers in ms (0 = RFC 3261 defaults 500 / 4000 / 32000). */
    uint64_t t1_ms, t2_ms, timer_f_ms;
    /* Reboot waves: extensions per second drained from the paced NOTIFY queue; 0 = 20. */
    int notify_pace;
};

struct ztpd_sip_callbacks {
    ztpd_sip_password_cb password; /* mandatory */
    ztpd_sip_binding_cb binding;   /* may be NULL */
    void *arg;
};

struct ztpd_sip_stats {
    uint64_t received, dropped, bad_request, retransmissions, responses_stray;
    struct ztpd_registrar_stats registrar;
    size_t bindings, server_txns, client_txns, tcp_connections, notify_pending, notify_queued;
};

struct ztpd_sip;

/* Starts the engine on loop. Strings in cfg are copied. *out is owned by the caller and released
 * with ztpd_sip_free(). Returns 0, ZTPD_EINVAL (naming the field in the log), ZTPD_EIO (bind);
 * after a failure, what was set up is released on the next loop turns. */
int ztpd_sip_new(struct ztpd_sip **out, uv_loop_t *loop, const struct ztpd_sip_config *cfg,
                 const struct ztpd_sip_callbacks *cb);

/* Feeds one received message (what the transport does; tests call it directly).
 * Returns non-zero when a TCP connection should be dropped. */
int ztpd_sip_input(struct ztpd_sip *s, const struct ztpd_sip_peer *from, const char *buf,
                   size_t len);

/* Sends `event` in a NOTIFY to every contact of `extension`; cb runs once per contact with the
 * outcome. Returns the number of NOTIFYs started, ZTPD_ENOENT when the extension has no binding,
 * ZTPD_EINVAL for a bad event. */
int ztpd_sip_notify(struct ztpd_sip *s, const char *extension, const char *event,
                    ztpd_sip_notify_cb cb, void *arg);

/* Like ztpd_sip_notify, but queued: extensions are taken from the queue at cfg.notify_pace per
 * second (in waves every 100 ms), so rebooting every phone does not reboot them in the same
 * second. event is copied. An extension without bindings when its turn comes gets one callback
 * with result "no_contact". Returns the queue length after adding, or ZTPD_EINVAL/ZTPD_ENOMEM. */
int ztpd_sip_notify_paced(struct ztpd_sip *s, const char *extension, const char *event,
                          ztpd_sip_notify_cb cb, void *arg);

/* Calls cb for each binding of `extension` (NULL = all). No SIP call may be made from cb. */
void ztpd_sip_bindings_each(const struct ztpd_sip *s, const char *extension,
                            void (*cb)(const struct ztpd_sip_binding *b, void *arg), void *arg);

/* Reinstates a persisted binding at startup (no callback). */
int ztpd_sip_binding_restore(struct ztpd_sip *s, const struct ztpd_sip_binding *b);

/* Records the daemon's row id of a binding (after its insert committed). */
int ztpd_sip_binding_set_store_id(struct ztpd_sip *s, const char *extension, const char *contact,
                                  int64_t id);

/* Runs binding expiry now (it also runs every second on its own). Returns how many expired. */
size_t ztpd_sip_expire_now(struct ztpd_sip *s);

/* The bound port (0 when running on a test send hook). */
int ztpd_sip_port(const struct ztpd_sip *s);

/* Counters and sizes for /metrics and tests. */
void ztpd_sip_stats(const struct ztpd_sip *s, struct ztpd_sip_stats *out);

/* Stops everything: sockets and timers close, pending NOTIFY callbacks never run, bindings are
 * dropped without callbacks (persist them before). Memory is released from libuv close
 * callbacks, so the loop must run afterwards until it has no more handles. NULL is fine. */
void ztpd_sip_free(struct ztpd_sip *s);

#endif
