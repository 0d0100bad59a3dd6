/* Non-INVITE transactions (RFC 3261 17.1.2, 17.2.2) on libuv timers.
 * Server side: the final response of every UDP request is kept for Timer J (64*T1) and replayed
 * when the request is retransmitted, so a retransmitted REGISTER costs no second auth.
 * Client side (our NOTIFYs): on UDP the request is retransmitted from T1 doubling up to T2
 * (Timer E) until a final response or Timer F (64*T1); on TCP only Timer F runs. */
#ifndef ZTPD_SIP_TRANSACTION_H
#define ZTPD_SIP_TRANSACTION_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sip/sip_msg.h"
#include "sip/transport.h"

/* How the transaction layer puts bytes on the wire; returns 0 or a ZTPD_E* code. */
typedef int (*ztpd_sip_send_fn)(const struct ztpd_sip_peer *to, const char *buf, size_t len,
                                void *arg);

/* Outcome of a client transaction: status is the final response code (resp set), 0 for Timer F
 * (no final response), or a negative ZTPD_E* code when sending failed (resp NULL then). */
typedef void (*ztpd_sip_txn_cb)(int status, const struct ztpd_sip_msg *resp, void *arg);

struct ztpd_sip_txns;

/* New transaction table sending through send(arg). *out owned by the caller, released with
 * ztpd_sip_txns_close(). */
int ztpd_sip_txns_new(struct ztpd_sip_txns **out, uv_loop_t *loop, ztpd_sip_send_fn send,
                      void *arg);

/* Overrides T1, T2 and the Timer F/J span in milliseconds (defaults 500, 4000, 32000). */
void ztpd_sip_txns_set_timers(struct ztpd_sip_txns *x, uint64_t t1, uint64_t t2, uint64_t f);

/* For an incoming request: 1 when it retransmits a request we answered (the stored response is
 * sent again to `from`), 0 when it is new. */
int ztpd_sip_txn_server_replay(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *req,
                               const struct ztpd_sip_peer *from);

/* Sends the final response to `req` and, on UDP, remembers it for retransmissions. */
int ztpd_sip_txn_server_reply(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *req,
                              const struct ztpd_sip_peer *from, const char *resp, size_t len);

/* Starts a client transaction for the request text (copied) whose top Via carries `branch` and
 * whose CSeq method is `method`. cb(arg) runs exactly once, later (never from inside this call),
 * unless the table is closed first. Returns 0 or a ZTPD_E* code (cb then never runs). */
int ztpd_sip_txn_client_start(struct ztpd_sip_txns *x, const struct ztpd_sip_peer *to,
                              const char *branch, const char *method, const char *req, size_t len,
                              ztpd_sip_txn_cb cb, void *arg);

/* Matches a response to a client transaction by branch and CSeq method. Returns 1 when matched
 * (a final response ends the transaction and runs its callback), 0 when stray. */
int ztpd_sip_txn_client_response(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *resp);

/* Counts for metrics and tests. */
size_t ztpd_sip_txns_server_count(const struct ztpd_sip_txns *x);
size_t ztpd_sip_txns_client_count(const struct ztpd_sip_txns *x);

/* Stops every timer (pending client callbacks never run); x is freed in the close callbacks,
 * then done(arg) runs (may be NULL). */
void ztpd_sip_txns_close(struct ztpd_sip_txns *x, void (*done)(void *arg), void *arg);

#endif
