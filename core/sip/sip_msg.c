/* The libre adapter: the only file that includes <re.h> (its headers define unprefixed macros
 * such as min, max, VERSION and LIST_INIT). libre errors are positive errnos and stay here. */
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <re.h>

#include "sip/sip_msg.h"
#include "util/error.h"

static int lib_refs;

int ztpd_sip_msg_lib_init(void)
{
    if (lib_refs++ > 0)
        return 0;
    if (libre_init() != 0) {
        lib_refs = 0;
        return ZTPD_EIO;
    }
    return 0;
}

void ztpd_sip_msg_lib_close(void)
{
    if (lib_refs > 0 && --lib_refs == 0)
        libre_close();
}

/* ---- head scanning (plain C: also used for TCP framing before libre sees the bytes) ---- */

/* Finds the blank line ending the head. Returns 1 with *head_len (including the blank line) and
 * *lines (header lines), 0 when the head is not complete within len bytes. */
static int head_scan(const char *buf, size_t len, size_t *head_len, int *lines)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl)
            return 0;
        size_t line_len = (size_t)(nl - (buf + i));
        if (line_len > 0 && buf[i + line_len - 1] == '\r')
            line_len--;
        i = (size_t)(nl - buf) + 1;
        if (line_len == 0) {
            *head_len = i;
            *lines = n > 0 ? n - 1 : 0; /* the start line is not a header */
            return n > 0;
        }
        n++;
    }
    return 0;
}

/* Looks for a Content-Length header (long or compact form) in the head; -1 when absent,
 * -2 when malformed. */
static int64_t head_content_length(const char *head, size_t len)
{
    size_t i = 0;
    int64_t found = -1;
    while (i < len) {
        const char *nl = memchr(head + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - head) : len;
        const char *line = head + i;
        size_t ll = end - i;
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t nl_len = (size_t)(colon - line);
            while (nl_len > 0 && (line[nl_len - 1] == ' ' || line[nl_len - 1] == '\t'))
                nl_len--;
            if ((nl_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) ||
                (nl_len == 1 && (line[0] == 'l' || line[0] == 'L'))) {
                const char *p = colon + 1, *e = line + ll;
                while (p < e && (*p == ' ' || *p == '\t'))
                    p++;
                int64_t v = 0;
                int digits = 0;
                while (p < e && isdigit((unsigned char)*p) && digits < 10) {
                    v = v * 10 + (*p - '0');
                    p++;
                    digits++;
                }
                while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
                    p++;
                if (!digits || p != e)
                    return -2;
                found = v;
            }
        }
        i = end + 1;
    }
    return found;
}

int ztpd_sip_msg_frame(const char *buf, size_t len, size_t *skip, size_t *msg_len)
{
    size_t s = 0;
    while (s < len && (buf[s] == '\r' || buf[s] == '\n'))
        s++;
    *skip = s;
    buf += s;
    len -= s;
    size_t head = 0;
    int lines = 0;
    if (!head_scan(buf, len, &head, &lines))
        return len > ZTPD_SIP_MAX_HEAD ? ZTPD_ETOOBIG : 0;
    if (head > ZTPD_SIP_MAX_HEAD || lines > ZTPD_SIP_MAX_LINES)
        return ZTPD_ETOOBIG;
    int64_t clen = head_content_length(buf, head);
    if (clen < 0)
        return ZTPD_ESYNTAX;
    if ((int64_t)head + clen > ZTPD_SIP_MAX_MSG)
        return ZTPD_ETOOBIG;
    if (len < head + (size_t)clen)
        return 0;
    *msg_len = head + (size_t)clen;
    return 1;
}

/* ---- decoding ---- */

/* Copies a slice into a fixed field; non-zero when it does not fit. */
static int take(char *dst, size_t cap, const struct pl *pl)
{
    if (!pl_isset(pl)) {
        dst[0] = '\0';
        return 0;
    }
    if (pl->l >= cap)
        return -1;
    memcpy(dst, pl->p, pl->l);
    dst[pl->l] = '\0';
    return 0;
}

/* Parses an unsigned decimal (at most 10 digits); -1 when it is not one. */
static int64_t pl_number(const struct pl *pl)
{
    if (!pl_isset(pl) || pl->l > 10)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < pl->l; i++) {
        if (!isdigit((unsigned char)pl->p[i]))
            return -1;
        v = v * 10 + (pl->p[i] - '0');
    }
    return v;
}

/* Finds ";name=value" in a parameter list (name case-insensitive; the value runs to the next
 * ';' or whitespace and must not be empty; a quoted value loses its quotes), like libre's
 * msg_param_decode but in one plain scan instead of a regex search per name: Contact parameters are
 * read on every REGISTER. */
static int param_value(const struct pl *params, const char *name, struct pl *val)
{
    if (!pl_isset(params))
        return -1;
    size_t nl = strlen(name);
    const char *p = params->p, *e = params->p + params->l;
    while (p < e) {
        const char *semi = memchr(p, ';', (size_t)(e - p));
        if (!semi)
            return -1;
        p = semi + 1;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if ((size_t)(e - p) < nl || strncasecmp(p, name, nl) != 0)
            continue;
        const char *q = p + nl;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
            q++;
        if (q >= e || *q != '=')
            continue;
        q++;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
            q++;
        const char *v = q;
        if (q < e && *q == '"') { /* a quoted value comes back without its quotes */
            const char *close = memchr(q + 1, '"', (size_t)(e - q - 1));
            if (!close)
                return -1;
            val->p = q + 1;
            val->l = (size_t)(close - q - 1);
            return 0;
        }
        while (q < e && *q != ';' && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
            q++;
        if (q == v)
            continue;
        val->p = v;
        val->l = (size_t)(q - v);
        return 0;
    }
    return -1;
}

struct decode_ctx {
    struct ztpd_sip_msg *out;
    struct pl top_via; /* raw value of the first Via entry */
    const char *error;
};

static bool via_each(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    (void)msg;
    struct decode_ctx *c = arg;
    struct ztpd_sip_msg *out = c->out;
    if (out->n_via >= ZTPD_SIP_MAX_VIAS) {
        c->error = "Via: more entries than allowed";
        return true;
    }
    if (take(out->via[out->n_via], sizeof out->via[0], &hdr->val)) {
        c->error = "Via: entry too long";
        return true;
    }
    if (out->n_via == 0)
        c->top_via = hdr->val;
    out->n_via++;
    return false;
}

static bool contact_each(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    (void)msg;
    struct decode_ctx *c = arg;
    struct ztpd_sip_msg *out = c->out;
    if (hdr->val.l == 1 && hdr->val.p[0] == '*') {
        out->contact_star = 1;
        return false;
    }
    if (out->n_contacts >= ZTPD_SIP_MAX_CONTACTS) {
        c->error = "Contact: more entries than allowed";
        return true;
    }
    struct sip_addr a;
    if (sip_addr_decode(&a, &hdr->val) != 0) {
        c->error = "Contact: not a SIP address";
        return true;
    }
    if (pl_strcasecmp(&a.uri.scheme, "sip") != 0 && pl_strcasecmp(&a.uri.scheme, "sips") != 0) {
        c->error = "Contact: not a sip: or sips: URI";
        return true;
    }
    struct ztpd_sip_contact *ct = &out->contacts[out->n_contacts];
    memset(ct, 0, sizeof *ct);
    ct->expires = -1;
    if (take(ct->uri, sizeof ct->uri, &a.auri) || take(ct->host, sizeof ct->host, &a.uri.host)) {
        c->error = "Contact: URI too long";
        return true;
    }
    if (!ct->host[0]) {
        c->error = "Contact: URI has no host";
        return true;
    }
    ct->port = a.uri.port;
    struct pl v;
    if (param_value(&a.uri.params, "transport", &v) == 0 && v.l < sizeof ct->transport) {
        for (size_t i = 0; i < v.l; i++)
            ct->transport[i] = (char)tolower((unsigned char)v.p[i]);
    }
    if (param_value(&a.params, "expires", &v) == 0) {
        ct->expires = pl_number(&v);
        if (ct->expires < 0) {
            c->error = "Contact: expires parameter is not a number";
            return true;
        }
    }
    if (param_value(&a.params, "+sip.instance", &v) == 0 &&
        take(ct->instance, sizeof ct->instance, &v)) {
        c->error = "Contact: +sip.instance too long";
        return true;
    }
    out->n_contacts++;
    return false;
}

/* One left-to-right pass over a Digest credentials value. libre's
 * httpauth_digest_response_decode runs a backtracking regex per parameter, which made it one of
 * the most expensive steps of every authenticated REGISTER. Values keep their raw bytes (quotes
 * stripped, no unescaping), as libre returned them. */
static void decode_auth(struct ztpd_sip_msg *out, const struct pl *hval, const char **error)
{
    static const char not_digest[] =
        "Authorization: not a Digest response with realm, nonce, uri and response";
    const char *p = hval->p, *e = hval->p + hval->l;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (e - p < 7 || strncasecmp(p, "Digest", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
        *error = not_digest;
        return;
    }
    p += 6;
    struct ztpd_sip_auth *a = &out->auth;
    struct {
        const char *name;
        char *dst;
        size_t cap;
        int seen;
    } f[] = {
        {"username", a->username, sizeof a->username, 0},
        {"realm", a->realm, sizeof a->realm, 0},
        {"nonce", a->nonce, sizeof a->nonce, 0},
        {"uri", a->uri, sizeof a->uri, 0},
        {"response", a->response, sizeof a->response, 0},
        {"qop", a->qop, sizeof a->qop, 0},
        {"nc", a->nc, sizeof a->nc, 0},
        {"cnonce", a->cnonce, sizeof a->cnonce, 0},
        {"algorithm", a->algorithm, sizeof a->algorithm, 0},
        {"opaque", a->opaque, sizeof a->opaque, 0},
    };
    const size_t nf = sizeof f / sizeof f[0];
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ','))
            p++;
        if (p >= e)
            break;
        const char *k = p;
        while (p < e && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t kl = (size_t)(p - k);
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (kl == 0 || p >= e || *p != '=') {
            *error = not_digest;
            return;
        }
        p++;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        struct pl v;
        if (p < e && *p == '"') {
            v.p = ++p;
            while (p < e && *p != '"')
                p += (*p == '\\' && p + 1 < e) ? 2 : 1;
            if (p >= e) {
                *error = "Authorization: unterminated quoted value";
                return;
            }
            v.l = (size_t)(p - v.p);
            p++;
        } else {
            v.p = p;
            while (p < e && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            v.l = (size_t)(p - v.p);
        }
        for (size_t i = 0; i < nf; i++) {
            if (f[i].seen || strlen(f[i].name) != kl || strncasecmp(f[i].name, k, kl) != 0)
                continue;
            f[i].seen = 1; /* the first occurrence counts */
            if (take(f[i].dst, f[i].cap, &v)) {
                *error = "Authorization: a parameter is too long";
                return;
            }
            break;
        }
    }
    /* realm, nonce, uri, response */
    if (!f[1].seen || !f[2].seen || !f[3].seen || !f[4].seen) {
        *error = not_digest;
        return;
    }
    a->present = 1;
}

static void decode_chall(struct ztpd_sip_msg *out, const struct pl *hval, int proxy)
{
    struct httpauth_digest_chall c;
    if (httpauth_digest_challenge_decode(&c, hval) != 0)
        return; /* not Digest: the caller sees no challenge and reports the code */
    struct ztpd_sip_chall *ch = &out->chall;
    if (take(ch->realm, sizeof ch->realm, &c.realm) ||
        take(ch->nonce, sizeof ch->nonce, &c.nonce) ||
        take(ch->opaque, sizeof ch->opaque, &c.opaque) ||
        take(ch->algorithm, sizeof ch->algorithm, &c.algorithm) ||
        take(ch->qop, sizeof ch->qop, &c.qop))
        return;
    ch->stale = pl_isset(&c.stale) && pl_strcasecmp(&c.stale, "true") == 0;
    ch->proxy = proxy;
    ch->present = 1;
}

/* Splits sent-by "host[:port]" / "[v6]:port" into the top-Via fields. */
static int split_sentby(struct ztpd_sip_msg *out, const struct pl *sb)
{
    const char *p = sb->p, *e = sb->p + sb->l;
    const char *hs, *he;
    if (p < e && *p == '[') {
        hs = p + 1;
        he = memchr(p, ']', sb->l);
        if (!he)
            return -1;
        p = he + 1;
    } else {
        hs = p;
        while (p < e && *p != ':')
            p++;
        he = p;
    }
    if ((size_t)(he - hs) == 0 || (size_t)(he - hs) >= sizeof out->via_host)
        return -1;
    memcpy(out->via_host, hs, (size_t)(he - hs));
    out->via_host[he - hs] = '\0';
    out->via_port = 0;
    if (p < e && *p == ':') {
        struct pl port = {p + 1, (size_t)(e - p - 1)};
        int64_t v = pl_number(&port);
        if (v <= 0 || v > 65535)
            return -1;
        out->via_port = (uint16_t)v;
    }
    return 0;
}

static void fill(struct ztpd_sip_msg *out, const struct sip_msg *m, size_t body_len)
{
    struct decode_ctx c = {.out = out};
    out->is_request = m->req;
    out->body_len = body_len;

    if (pl_strcmp(&m->ver, "SIP/2.0") != 0) {
        out->error = "start line: version is not SIP/2.0";
        return;
    }
    if (m->req) {
        if (take(out->method, sizeof out->method, &m->met) ||
            take(out->ruri, sizeof out->ruri, &m->ruri)) {
            out->error = "start line: method or Request-URI too long";
            return;
        }
    } else {
        out->status = m->scode;
        struct pl reason = m->reason;
        if (reason.l >= sizeof out->reason)
            reason.l = sizeof out->reason - 1; /* the reason phrase is informative only */
        take(out->reason, sizeof out->reason, &reason);
        if (out->status < 100 || out->status > 699) {
            out->error = "start line: status code out of range";
            return;
        }
    }

    sip_msg_hdr_apply(m, true, SIP_HDR_VIA, via_each, &c);
    if (c.error) {
        out->error = c.error;
        return;
    }
    int have_min = out->n_via > 0 && pl_isset(&m->via.sentby) && pl_isset(&m->callid) &&
                   m->cseq.num > 0 && pl_isset(&m->from.auri) && pl_isset(&m->to.auri);
    if (!have_min) {
        out->error = !out->n_via                ? "Via: missing"
                     : !pl_isset(&m->callid)    ? "Call-ID: missing"
                     : !m->cseq.num             ? "CSeq: missing or zero"
                     : !pl_isset(&m->from.auri) ? "From: missing"
                                                : "To: missing";
        return;
    }
    snprintf(out->via_transport, sizeof out->via_transport, "%s", sip_transp_name(m->via.tp));
    if (split_sentby(out, &m->via.sentby)) {
        out->error = "Via: sent-by is not host[:port]";
        return;
    }
    if (take(out->via_branch, sizeof out->via_branch, &m->via.branch) ||
        take(out->from, sizeof out->from, &m->from.val) ||
        take(out->to, sizeof out->to, &m->to.val) ||
        take(out->from_tag, sizeof out->from_tag, &m->from.tag) ||
        take(out->to_tag, sizeof out->to_tag, &m->to.tag) ||
        take(out->call_id, sizeof out->call_id, &m->callid) ||
        take(out->cseq_method, sizeof out->cseq_method, &m->cseq.met)) {
        out->error = "Via, From, To, Call-ID or CSeq: value too long";
        return;
    }
    out->cseq = m->cseq.num;
    out->answerable = m->req;

    struct pl rport;
    if (msg_param_exists(&m->via.params, "rport", &rport) == 0 && c.top_via.p &&
        rport.p >= c.top_via.p && rport.p + rport.l <= c.top_via.p + c.top_via.l) {
        const char *after = rport.p + rport.l;
        if (after == c.top_via.p + c.top_via.l || *after != '=') {
            out->via_rport = 1;
            out->via_rport_end = (int)(after - c.top_via.p);
        }
    }

    if (take(out->to_user, sizeof out->to_user, &m->to.uri.user)) {
        out->error = "To: user part too long";
        return;
    }
    if (pl_isset(&m->maxfwd)) {
        int64_t v = pl_number(&m->maxfwd);
        if (v < 0 || v > 255) {
            out->error = "Max-Forwards: not a number from 0 to 255";
            return;
        }
        out->max_forwards = (int)v;
    }
    if (pl_isset(&m->expires)) {
        out->expires = pl_number(&m->expires);
        if (out->expires < 0) {
            out->error = "Expires: not a number";
            return;
        }
    }
    if (pl_isset(&m->clen)) {
        out->content_length = pl_number(&m->clen);
        if (out->content_length < 0) {
            out->error = "Content-Length: not a number";
            return;
        }
        if ((size_t)out->content_length > body_len) {
            out->error = "Content-Length: larger than the body received";
            return;
        }
    }

    sip_msg_hdr_apply(m, true, SIP_HDR_CONTACT, contact_each, &c);
    if (c.error) {
        out->error = c.error;
        return;
    }
    const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_USER_AGENT);
    if (h && take(out->user_agent, sizeof out->user_agent, &h->val)) {
        out->error = "User-Agent: too long";
        return;
    }
    h = sip_msg_xhdr(m, "Mac");
    if (h && take(out->mac, sizeof out->mac, &h->val)) {
        out->error = "Mac: too long";
        return;
    }
    h = sip_msg_hdr(m, SIP_HDR_EVENT);
    if (h && take(out->event, sizeof out->event, &h->val)) {
        out->error = "Event: too long";
        return;
    }
    if (m->req) {
        h = sip_msg_hdr(m, SIP_HDR_AUTHORIZATION);
        if (!h)
            h = sip_msg_hdr(m, SIP_HDR_PROXY_AUTHORIZATION);
        if (h) {
            const char *err = NULL;
            decode_auth(out, &h->val, &err);
            if (err) {
                out->error = err;
                return;
            }
        }
    } else {
        h = sip_msg_hdr(m, SIP_HDR_WWW_AUTHENTICATE);
        if (h)
            decode_chall(out, &h->val, 0);
        else if ((h = sip_msg_hdr(m, SIP_HDR_PROXY_AUTHENTICATE)) != NULL)
            decode_chall(out, &h->val, 1);
    }
    if (m->req && strcasecmp(out->cseq_method, out->method) != 0)
        out->error = "CSeq: method differs from the request method";
}

int ztpd_sip_msg_decode(const char *buf, size_t len, struct ztpd_sip_msg *out)
{
    memset(out, 0, sizeof *out);
    out->expires = -1;
    out->content_length = -1;
    out->max_forwards = -1;
    out->via_rport_end = -1;
    if (len > ZTPD_SIP_MAX_MSG) {
        out->error = "message: larger than 65536 bytes";
        return ZTPD_ETOOBIG;
    }
    size_t head = 0;
    int lines = 0;
    if (!head_scan(buf, len, &head, &lines)) {
        out->error = len > ZTPD_SIP_MAX_HEAD ? "headers: larger than 16384 bytes"
                                             : "message: truncated (no blank line after headers)";
        return len > ZTPD_SIP_MAX_HEAD ? ZTPD_ETOOBIG : ZTPD_ESYNTAX;
    }
    if (head > ZTPD_SIP_MAX_HEAD) {
        out->error = "headers: larger than 16384 bytes";
        return ZTPD_ETOOBIG;
    }
    if (lines > ZTPD_SIP_MAX_LINES) {
        out->error = "headers: more than 64 lines";
        return ZTPD_ETOOBIG;
    }
    /* sip_msg_decode keeps a reference to the mbuf, so it must come from mbuf_alloc. */
    struct mbuf *mb = mbuf_alloc(len ? len : 1);
    if (!mb)
        return ZTPD_ENOMEM;
    if (mbuf_write_mem(mb, (const uint8_t *)buf, len) != 0) {
        mem_deref(mb);
        return ZTPD_ENOMEM;
    }
    mb->pos = 0;
    struct sip_msg *m = NULL;
    int err = sip_msg_decode(&m, mb);
    mem_deref(mb);
    if (err) {
        out->error =
            err == ENOMEM ? "message: out of memory" : "message: unparsable start line or header";
        return err == ENOMEM ? ZTPD_ENOMEM : ZTPD_ESYNTAX;
    }
    fill(out, m, mbuf_get_left(m->mb));
    mem_deref(m);
    return out->error ? ZTPD_ESYNTAX : 0;
}

/* ---- building ---- */

struct out_buf {
    char *p;
    size_t cap, len;
    int overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out_buf *b, const char *fmt, ...)
{
    if (b->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    b->len += (size_t)n;
}

static void addr_ip(const struct sockaddr *sa, char *ip, size_t cap, int *port)
{
    ip[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)cap);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)cap);
        *port = ntohs(in6->sin6_port);
    }
}

int ztpd_sip_msg_response(const struct ztpd_sip_msg *req, const struct sockaddr *src, int code,
                          const char *reason, const char *to_tag, const char *extra, char *out,
                          size_t cap)
{
    struct out_buf b = {out, cap, 0, 0};
    char ip[64];
    int port;
    addr_ip(src, ip, sizeof ip, &port);
    put(&b, "SIP/2.0 %d %s\r\n", code, reason);
    for (size_t i = 0; i < req->n_via; i++) {
        const char *v = req->via[i];
        if (i > 0 || !ip[0]) {
            put(&b, "Via: %s\r\n", v);
            continue;
        }
        /* RFC 3261 18.2.1 received=, RFC 3581 rport=: where the request really came from. */
        if (req->via_rport && req->via_rport_end >= 0)
            put(&b, "Via: %.*s=%d%s;received=%s\r\n", req->via_rport_end, v, port,
                v + req->via_rport_end, ip);
        else
            put(&b, "Via: %s;received=%s\r\n", v, ip);
    }
    put(&b, "From: %s\r\n", req->from);
    if (!req->to_tag[0] && to_tag && to_tag[0])
        put(&b, "To: %s;tag=%s\r\n", req->to, to_tag);
    else
        put(&b, "To: %s\r\n", req->to);
    put(&b, "Call-ID: %s\r\nCSeq: %u %s\r\n", req->call_id, req->cseq, req->cseq_method);
    if (extra)
        put(&b, "%s", extra);
    put(&b, "Server: ztpd/%s\r\nContent-Length: 0\r\n\r\n", ZTPD_VERSION);
    return b.overflow ? ZTPD_ETOOBIG : (int)b.len;
}

int ztpd_sip_msg_notify(const struct ztpd_sip_notify_req *n, char *out, size_t cap)
{
    struct out_buf b = {out, cap, 0, 0};
    put(&b,
        "NOTIFY %s SIP/2.0\r\n"
        "Via: SIP/2.0/%s %s;branch=%s;rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:ztpd@%s>;tag=%s\r\n"
        "To: <sip:%s@%s>\r\n"
        "Call-ID: %s\r\n"
        "CSeq: %u NOTIFY\r\n"
        "Contact: <sip:ztpd@%s>\r\n"
        "Event: %s\r\n"
        "Subscription-State: terminated\r\n",
        n->ruri, n->transport, n->local, n->branch, n->local, n->from_tag, n->to_user, n->to_host,
        n->call_id, n->cseq, n->local, n->event);
    if (n->auth_header)
        put(&b, "%s\r\n", n->auth_header);
    put(&b, "User-Agent: ztpd/%s\r\nContent-Length: 0\r\n\r\n", ZTPD_VERSION);
    return b.overflow ? ZTPD_ETOOBIG : (int)b.len;
}
