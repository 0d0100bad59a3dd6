/* A small blocking HTTP/1.1 client for the command-line tools: one request per connection
 * (Connection: close), a Content-Length request body, a response framed by Content-Length, by
 * chunked transfer coding or by the end of the connection. Every wait on the socket is bounded
 * by a timeout. Not for the daemon: it blocks. */
#ifndef ZTPD_CLI_HTTP_CLIENT_H
#define ZTPD_CLI_HTTP_CLIENT_H

#include <stddef.h>

struct ztpd_http_resp {
    int status; /* e.g. 200 */
    char *body; /* NUL-terminated (body_len excludes it); owned, see ztpd_http_resp_free() */
    size_t body_len;
};

struct ztpd_http_call {
    const char *host; /* numeric address or name; IPv6 without brackets */
    int port;
    const char *method;
    const char *path;  /* with the query, already encoded */
    const char *token; /* bearer token, or NULL */
    const char *body;  /* sent as application/json when not NULL */
    size_t body_len;
    int timeout_ms; /* bound on each wait: connect, each send, each receive */
};

/* Performs the call and fills *resp (zeroed first; free it with ztpd_http_resp_free()).
 * Returns 0 for any HTTP answer (check resp->status); ZTPD_EUNAVAIL when no connection could be
 * made (err: "<reason>", e.g. "Connection refused"); ZTPD_EIO on a timeout or a connection lost
 * mid-way; ZTPD_ESYNTAX on an answer that is not HTTP/1.x. err is written on failure only. */
int ztpd_http_client_call(const struct ztpd_http_call *call, struct ztpd_http_resp *resp, char *err,
                          size_t errlen);

/* Frees the body (the struct itself is the caller's). */
void ztpd_http_resp_free(struct ztpd_http_resp *resp);

/* Decodes a complete chunked body in place: data[0..len) holds everything after the headers.
 * Returns 1 and sets *out_len when the last chunk was seen, 0 when more bytes are needed, -1
 * when the coding is malformed. Exposed for the unit tests. */
int ztpd_http_dechunk(char *data, size_t len, size_t *out_len);

#endif
