/* HTTP/1.1 server on libuv + llhttp: keep-alive, pipelining (responses strictly in request
 * order), limits (header bytes, body bytes, idle timeout, connections) answered with the right
 * 4xx/5xx. It knows nothing of routes or vendors: every complete request goes to one handler.
 *
 * A handler answers with ztpd_http_respond(), at once or later (after a storage round trip).
 * While a request is unanswered the connection reads no further requests, which keeps
 * pipelined responses in order. The request stays valid until it is answered; if the client
 * goes away meanwhile, the answer is discarded and the memory freed then. */
#ifndef ZTPD_HTTP_SERVER_H
#define ZTPD_HTTP_SERVER_H

#include <stddef.h>
#include <uv.h>

struct ztpd_http_server;
struct ztpd_http_conn;

struct ztpd_http_header {
    const char *name; /* lowercased */
    const char *value;
};

struct ztpd_http_req {
    struct ztpd_http_conn *conn;
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* percent-decoded path, without the query; never contains NUL */
    const char *raw_path; /* as sent, without the query */
    const char *query;    /* raw query after '?', or "" */
    const struct ztpd_http_header *headers;
    size_t n_headers;
    const char *body; /* NUL-terminated for convenience; body_len excludes it */
    size_t body_len;
    const char *peer_ip;   /* the TCP peer */
    const char *client_ip; /* the client: peer_ip, or the forwarded address when peer_ip is
                              one of http.trusted_proxies; use it for bans, logs, policies */
    int tls;               /* 1 when the request came over HTTPS */
    /* Subject CN of a client certificate that verified against http.tls.client_ca, or NULL. */
    const char *client_cert_subject;
    int keep_alive;
};

struct ztpd_http_limits {
    size_t max_header_size;   /* request line + headers, bytes */
    size_t max_body_size;     /* bytes */
    unsigned idle_timeout_ms; /* also bounds a slow request */
    unsigned max_connections;
};

typedef void (*ztpd_http_handler)(struct ztpd_http_req *req, void *arg);

/* Asked at headers-complete, only when the body may exceed limits.max_body_size (a larger
 * Content-Length, or chunked): the body limit for this request in bytes. req has method, path,
 * query and headers but no body yet, and must not be answered. A value at or below the
 * default keeps the default, so an unknown route or client can never get a bigger buffer. */
typedef size_t (*ztpd_http_body_limit_fn)(const struct ztpd_http_req *req, void *arg);

/* Creates a server bound to host:port (not yet accepting). *out owned by the caller, released
 * with ztpd_http_server_close(). Returns 0 or ZTPD_EIO with the reason in err. */
int ztpd_http_server_new(struct ztpd_http_server **out, uv_loop_t *loop, const char *host, int port,
                         const struct ztpd_http_limits *limits, ztpd_http_handler handler,
                         void *arg, char *err, size_t errlen);

/* Installs the per-request body limit callback (NULL: max_body_size for every request). */
void ztpd_http_server_set_body_limit(struct ztpd_http_server *s, ztpd_http_body_limit_fn fn,
                                     void *arg);

/* The port actually bound (useful with port 0). */
int ztpd_http_server_port(const struct ztpd_http_server *s);

/* Starts accepting connections. */
int ztpd_http_server_start(struct ztpd_http_server *s);

/* Stops accepting, closes idle connections, lets answered ones finish and frees everything;
 * cb(arg) runs when the last handle is closed. */
void ztpd_http_server_close(struct ztpd_http_server *s, void (*cb)(void *arg), void *arg);

/* Frees the server struct; only after the close callback ran. */
void ztpd_http_server_free(struct ztpd_http_server *s);

/* Number of open connections. */
unsigned ztpd_http_server_connections(const struct ztpd_http_server *s);

/* Value of a request header (name lowercase), or NULL. Owned by the request. */
const char *ztpd_http_header(const struct ztpd_http_req *req, const char *name);

/* Answers req (exactly once). extra_headers: NULL or "Name: value\r\n..." lines. The body is
 * copied. After this call req must not be used. */
void ztpd_http_respond(struct ztpd_http_req *req, int status, const char *content_type,
                       const char *body, size_t body_len, const char *extra_headers);

/* Answers the one 404 used for every unknown path and unknown MAC, so the two cannot be told
 * apart by a scanner. */
void ztpd_http_respond_not_found(struct ztpd_http_req *req);

/* Reason phrase for a status code. */
const char *ztpd_http_reason(int status);

#endif
