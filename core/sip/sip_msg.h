/* SIP message codec: decodes one SIP message (libre's parser, used behind this header only) into
 * a plain, self-contained struct ztpd_sip_msg, and builds responses and NOTIFY requests as text.
 * This is the only module that includes <re.h>; nothing here exposes a libre type.
 * Decoded strings are copied into the struct (NUL-terminated); a value longer than its field is
 * a decode error, never a silent truncation. */
#ifndef ZTPD_SIP_SIP_MSG_H
#define ZTPD_SIP_SIP_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Our own limits: libre enforces none (a 20 KB header decodes fine). */
#define ZTPD_SIP_MAX_MSG 65536  /* whole message, headers + body */
#define ZTPD_SIP_MAX_HEAD 16384 /* start line + headers + blank line */
#define ZTPD_SIP_MAX_LINES 64   /* header lines (folded continuation lines count too) */
#define ZTPD_SIP_MAX_VIAS 8     /* Via entries after comma splitting */
#define ZTPD_SIP_MAX_CONTACTS 8 /* Contact entries after comma splitting */
#define ZTPD_SIP_S_URI 256
#define ZTPD_SIP_S_TOKEN 128
#define ZTPD_SIP_S_VIA 320
#define ZTPD_SIP_S_UA 256

/* Digest credentials from Authorization / Proxy-Authorization (quotes removed). */
struct ztpd_sip_auth {
    int present;
    char username[ZTPD_SIP_S_TOKEN];
    char realm[ZTPD_SIP_S_TOKEN];
    char nonce[ZTPD_SIP_S_TOKEN];
    char uri[ZTPD_SIP_S_URI];
    char response[ZTPD_SIP_S_TOKEN];
    char algorithm[32];
    char qop[32];
    char nc[32];
    char cnonce[ZTPD_SIP_S_TOKEN];
    char opaque[ZTPD_SIP_S_TOKEN];
};

/* A digest challenge from WWW-Authenticate / Proxy-Authenticate (quotes removed). */
struct ztpd_sip_chall {
    int present;
    int proxy; /* 1 when it came in Proxy-Authenticate */
    char realm[ZTPD_SIP_S_TOKEN];
    char nonce[ZTPD_SIP_S_TOKEN];
    char opaque[ZTPD_SIP_S_TOKEN];
    char algorithm[32];
    char qop[64]; /* the raw list, e.g. "auth,auth-int" */
    int stale;
};

struct ztpd_sip_contact {
    char uri[ZTPD_SIP_S_URI];        /* addr-spec without <> and header params */
    char host[ZTPD_SIP_S_TOKEN];     /* host part of the URI (IPv6 without brackets) */
    uint16_t port;                   /* 0 when the URI names none */
    char transport[8];               /* "udp" | "tcp" | "" from ;transport= */
    int64_t expires;                 /* ;expires= value, -1 when absent */
    char instance[ZTPD_SIP_S_TOKEN]; /* +sip.instance value, quotes removed, <> kept */
};

struct ztpd_sip_msg {
    int is_request;
    char method[32]; /* requests */
    char ruri[ZTPD_SIP_S_URI];
    int status; /* responses */
    char reason[64];

    /* Via entries in order; [0] is the top one, the one the fields below describe. */
    char via[ZTPD_SIP_MAX_VIAS][ZTPD_SIP_S_VIA];
    size_t n_via;
    char via_transport[8]; /* "UDP" | "TCP" ... as sent */
    char via_host[ZTPD_SIP_S_TOKEN];
    uint16_t via_port; /* 0 when sent-by has none */
    char via_branch[ZTPD_SIP_S_TOKEN];
    int via_rport;     /* ;rport present without a value */
    int via_rport_end; /* offset in via[0] just after ";rport" (where "=port" goes), or -1 */

    char from[ZTPD_SIP_S_URI * 2]; /* whole header values, copied into responses */
    char to[ZTPD_SIP_S_URI * 2];
    char from_tag[ZTPD_SIP_S_TOKEN];
    char to_tag[ZTPD_SIP_S_TOKEN];
    char to_user[64]; /* the AOR user: an extension number */
    char call_id[ZTPD_SIP_S_TOKEN];
    uint32_t cseq;
    char cseq_method[32];
    int max_forwards; /* -1 when absent */

    struct ztpd_sip_contact contacts[ZTPD_SIP_MAX_CONTACTS];
    size_t n_contacts;
    int contact_star; /* "Contact: *" */
    int64_t expires;  /* Expires header, -1 when absent */
    char user_agent[ZTPD_SIP_S_UA];
    char mac[64]; /* Mac: header value as sent */
    char event[ZTPD_SIP_S_TOKEN];

    struct ztpd_sip_auth auth;   /* requests */
    struct ztpd_sip_chall chall; /* 401/407 responses */

    int64_t content_length; /* -1 when absent */
    size_t body_len;        /* bytes present after the blank line */

    /* Set when decoding fails: what was wrong, naming the field. When `answerable` is 1 the
     * request carried Via, From, To, Call-ID and CSeq, so a 400 can be sent back. */
    const char *error;
    int answerable;
};

/* Initializes libre once per process (reference counted); 0 or ZTPD_EIO. */
int ztpd_sip_msg_lib_init(void);
/* Drops one reference taken by ztpd_sip_msg_lib_init(); the last one closes libre. */
void ztpd_sip_msg_lib_close(void);

/* Finds where the first message in a stream buffer ends (TCP framing by Content-Length, which is
 * mandatory on streams). Returns 1 and *msg_len when a whole message is buffered, 0 when more
 * bytes are needed, ZTPD_ETOOBIG when the head or message exceeds our limits, ZTPD_ESYNTAX when
 * Content-Length is missing or malformed. Leading CRLF keep-alives are counted in *skip. */
int ztpd_sip_msg_frame(const char *buf, size_t len, size_t *skip, size_t *msg_len);

/* Decodes one whole message into *out (caller-owned, ~12 KB, may live on the heap).
 * Returns 0, ZTPD_ETOOBIG (limits above; drop it), or ZTPD_ESYNTAX with out->error set and
 * out->answerable telling whether a 400 may be sent. */
int ztpd_sip_msg_decode(const char *buf, size_t len, struct ztpd_sip_msg *out);

/* Builds a response to `req` received from `src`: Vias copied (top one gets received= and a
 * filled-in rport), From, To (+ to_tag when the request had none), Call-ID, CSeq, then `extra`
 * (whole header lines ending in CRLF, may be NULL), Server and Content-Length: 0.
 * Returns the number of bytes written to out, or ZTPD_ETOOBIG when cap is too small. */
int ztpd_sip_msg_response(const struct ztpd_sip_msg *req, const struct sockaddr *src, int code,
                          const char *reason, const char *to_tag, const char *extra, char *out,
                          size_t cap);

/* What an out-of-dialog NOTIFY needs; every string is caller-owned. */
struct ztpd_sip_notify_req {
    const char *ruri;      /* the binding's Contact URI */
    const char *transport; /* "UDP" | "TCP" */
    const char *local;     /* our host:port for Via, From and Contact */
    const char *to_user;   /* the extension */
    const char *to_host;   /* registrar host (realm side of the AOR) */
    const char *branch;
    const char *from_tag;
    const char *call_id;
    uint32_t cseq;
    const char *event;
    const char *auth_header; /* whole "Authorization: ..." line without CRLF, or NULL */
};

/* Writes the NOTIFY text into out; returns its length or ZTPD_ETOOBIG. */
int ztpd_sip_msg_notify(const struct ztpd_sip_notify_req *n, char *out, size_t cap);

#endif
