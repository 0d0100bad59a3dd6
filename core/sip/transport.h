/* SIP transports on libuv: one UDP socket and one TCP listener on the same host:port.
 * UDP: one datagram is one message. TCP: messages are framed by Content-Length; each connection
 * buffers at most ZTPD_SIP_MAX_MSG bytes, and malformed input closes only that connection.
 * Sending to a TCP peer reuses its connection while it is open, else connects to its address. */
#ifndef ZTPD_SIP_TRANSPORT_H
#define ZTPD_SIP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#define ZTPD_SIP_UDP 1
#define ZTPD_SIP_TCP 2

/* Where a message came from or goes to. conn identifies the TCP connection (0 for UDP). */
struct ztpd_sip_peer {
    int proto;
    struct sockaddr_storage addr;
    uint64_t conn;
};

/* Receives one framed message (the buffer is only valid during the call). Returning non-zero
 * asks the transport to close that TCP connection (ignored for UDP). */
typedef int (*ztpd_sip_recv_cb)(const struct ztpd_sip_peer *from, const char *buf, size_t len,
                                void *arg);

struct ztpd_sip_transport;

/* Binds the protocols in `protos` (ZTPD_SIP_UDP | ZTPD_SIP_TCP) on host:port (port 0 picks a
 * free one, the same for both) and starts receiving. *out is owned by the caller and released
 * with ztpd_sip_transport_close(). Returns 0, ZTPD_EINVAL (bad address) or ZTPD_EIO (bind). */
int ztpd_sip_transport_new(struct ztpd_sip_transport **out, uv_loop_t *loop, const char *host,
                           int port, int protos, ztpd_sip_recv_cb cb, void *arg);

/* Sends one message (copied). 0, ZTPD_EUNAVAIL (protocol not enabled) or ZTPD_EIO. */
int ztpd_sip_transport_send(struct ztpd_sip_transport *t, const struct ztpd_sip_peer *to,
                            const char *buf, size_t len);

/* The bound port (after port 0 was asked for). */
int ztpd_sip_transport_port(const struct ztpd_sip_transport *t);

/* Number of open TCP connections (for metrics and tests). */
size_t ztpd_sip_transport_connections(const struct ztpd_sip_transport *t);

/* Closes every handle; t is freed once libuv has closed them, then done(arg) runs (may be NULL).
 * The loop must keep running until then. */
void ztpd_sip_transport_close(struct ztpd_sip_transport *t, void (*done)(void *arg), void *arg);

#endif
