/* NOTIFY client; see notify.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "log/log.h"
#include "sip/digest.h"
#include "sip/notify.h"
#include "util/error.h"

struct job {
    struct ztpd_notifier *n;
    struct job *prev, *next;
    char extension[64];
    char contact[ZTPD_SIP_S_URI];
    char event[ZTPD_SIP_S_TOKEN];
    struct ztpd_sip_peer to;
    char call_id[64];
    char from_tag[24];
    char branch[40];
    uint32_t cseq;
    int auth_tried;
    ztpd_sip_notify_cb cb;
    void *cb_arg;
};

struct ztpd_notifier {
    struct ztpd_sip_txns *txns;
    char local[ZTPD_SIP_S_TOKEN];
    char domain[ZTPD_SIP_S_TOKEN];
    ztpd_sip_password_cb password;
    void *arg;
    struct job *jobs;
    size_t n_jobs;
};

int ztpd_notifier_new(struct ztpd_notifier **out, struct ztpd_sip_txns *x, const char *local,
                      const char *domain, ztpd_sip_password_cb password, void *arg)
{
    if (strlen(local) >= ZTPD_SIP_S_TOKEN || strlen(domain) >= ZTPD_SIP_S_TOKEN)
        return ZTPD_EINVAL;
    struct ztpd_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return ZTPD_ENOMEM;
    n->txns = x;
    snprintf(n->local, sizeof n->local, "%s", local);
    snprintf(n->domain, sizeof n->domain, "%s", domain);
    n->password = password;
    n->arg = arg;
    *out = n;
    return 0;
}

static void random_hex(char *out, size_t nbytes)
{
    uint8_t buf[32];
    if (nbytes > sizeof buf)
        nbytes = sizeof buf;
    if (uv_random(NULL, NULL, buf, nbytes, 0, NULL) != 0) {
        /* uv_random only fails without an entropy source; uniqueness is all we need here. */
        static uint64_t counter;
        uint64_t v = (uint64_t)uv_hrtime() ^ ++counter;
        memcpy(buf, &v, nbytes < sizeof v ? nbytes : sizeof v);
    }
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", buf[i]);
}

/* Where the NOTIFY goes. TCP: the registration's connection (or its source address). UDP: the
 * Contact address when it is the address the REGISTER came from (the phone is not behind NAT,
 * and its Contact port is where it listens), else the REGISTER's source (NAT-safe). */
static int destination(const struct ztpd_sip_binding *b, struct ztpd_sip_peer *to)
{
    *to = b->peer;
    if (b->peer.proto == ZTPD_SIP_TCP || strcmp(b->contact_host, b->ip) != 0)
        return 0;
    int port = b->contact_port ? b->contact_port : 5060;
    if (to->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&to->addr)->sin_port = htons((uint16_t)port);
    else if (to->addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&to->addr)->sin6_port = htons((uint16_t)port);
    return 0;
}

static void job_done(struct job *j, const char *result, int code)
{
    struct ztpd_notifier *n = j->n;
    if (j->prev)
        j->prev->next = j->next;
    else
        n->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    n->n_jobs--;
    struct ztpd_sip_notify_result r = {j->extension, j->contact, j->event, result, code};
    LOG_I("sip", "NOTIFY %s to %s (%s): %s %d", j->event, j->extension, j->contact, result, code);
    if (j->cb)
        j->cb(&r, j->cb_arg);
    free(j);
}

static void on_response(int status, const struct ztpd_sip_msg *resp, void *arg);

static int job_send(struct job *j, const char *auth_header)
{
    char text[4096];
    random_hex(j->branch + 7, 12);
    struct ztpd_sip_notify_req q = {
        .ruri = j->contact,
        .transport = j->to.proto == ZTPD_SIP_TCP ? "TCP" : "UDP",
        .local = j->n->local,
        .to_user = j->extension,
        .to_host = j->n->domain,
        .branch = j->branch,
        .from_tag = j->from_tag,
        .call_id = j->call_id,
        .cseq = j->cseq,
        .event = j->event,
        .auth_header = auth_header,
    };
    int len = ztpd_sip_msg_notify(&q, text, sizeof text);
    if (len < 0)
        return len;
    return ztpd_sip_txn_client_start(j->n->txns, &j->to, j->branch, "NOTIFY", text, (size_t)len,
                                     on_response, j);
}

static void on_response(int status, const struct ztpd_sip_msg *resp, void *arg)
{
    struct job *j = arg;
    if (status < 0) {
        job_done(j, "unreachable", 0);
        return;
    }
    if (status == 0) {
        job_done(j, "timeout", 0);
        return;
    }
    if (status >= 200 && status < 300) {
        job_done(j, "ok", status);
        return;
    }
    if ((status == 401 || status == 407) && resp && resp->chall.present && !j->auth_tried) {
        char password[256], cnonce[17], header[1024];
        j->auth_tried = 1;
        if (j->n->password(j->extension, password, sizeof password, j->n->arg) != 0) {
            job_done(j, "auth_failed", status);
            return;
        }
        random_hex(cnonce, 8);
        int rc = ztpd_digest_client_header(&resp->chall, "NOTIFY", j->contact, j->extension,
                                           password, cnonce, header, sizeof header);
        memset(password, 0, sizeof password);
        if (rc < 0) {
            job_done(j, "auth_failed", status);
            return;
        }
        /* A new transaction: CSeq + 1 and a fresh branch, same Call-ID and From tag. */
        j->cseq++;
        if (job_send(j, header) != 0)
            job_done(j, "unreachable", 0);
        return;
    }
    job_done(j, (status == 401 || status == 407) ? "auth_failed" : "rejected", status);
}

int ztpd_notifier_send(struct ztpd_notifier *n, const struct ztpd_sip_binding *b, const char *event,
                       ztpd_sip_notify_cb cb, void *cb_arg)
{
    if (!event || !event[0] || strlen(event) >= ZTPD_SIP_S_TOKEN || strpbrk(event, "\r\n"))
        return ZTPD_EINVAL;
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return ZTPD_ENOMEM;
    j->n = n;
    snprintf(j->extension, sizeof j->extension, "%s", b->extension);
    snprintf(j->contact, sizeof j->contact, "%s", b->contact);
    snprintf(j->event, sizeof j->event, "%s", event);
    destination(b, &j->to);
    random_hex(j->call_id, 12);
    strcat(j->call_id, "@ztpd");
    random_hex(j->from_tag, 6);
    memcpy(j->branch, "z9hG4bK", 7);
    j->cseq = 1;
    j->cb = cb;
    j->cb_arg = cb_arg;
    if (job_send(j, NULL) != 0) {
        free(j);
        return ZTPD_EUNAVAIL;
    }
    j->next = n->jobs;
    if (n->jobs)
        n->jobs->prev = j;
    n->jobs = j;
    n->n_jobs++;
    return 0;
}

size_t ztpd_notifier_pending(const struct ztpd_notifier *n)
{
    return n->n_jobs;
}

void ztpd_notifier_free(struct ztpd_notifier *n)
{
    if (!n)
        return;
    while (n->jobs) {
        struct job *j = n->jobs;
        n->jobs = j->next;
        free(j);
    }
    free(n);
}
