/* The SIP engine end to end in memory: crafted messages go in through ztpd_sip_input(), the
 * responses come out of a send hook, with a test clock. Covers digest auth (401, 403, stale),
 * bindings (several contacts, refresh, un-REGISTER, "*", expiry), retransmission absorption,
 * other methods, malformed input, and NOTIFY with a challenge, a rejection and a timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "sip/digest.h"
#include "sip/sip.h"
#include "sip/sip_msg.h"
#include "util/error.h"

struct world {
    uv_loop_t loop;
    struct ztpd_sip *sip;
    int64_t now;
    char sent[8][8192];
    size_t n_sent;
    struct ztpd_sip_peer sent_to[8];
    int events[32];
    struct ztpd_sip_binding last_binding;
    size_t n_events;
    char notify_result[32];
    int notify_code;
    int notify_calls;
    struct ztpd_sip_msg msg;
};

static int64_t clock_cb(void *arg)
{
    return ((struct world *)arg)->now;
}

static int send_cb(const struct ztpd_sip_peer *to, const char *buf, size_t len, void *arg)
{
    struct world *w = arg;
    size_t i = w->n_sent < 8 ? w->n_sent : 7;
    assert_true(len < sizeof w->sent[0]);
    memcpy(w->sent[i], buf, len);
    w->sent[i][len] = '\0';
    w->sent_to[i] = *to;
    w->n_sent++;
    return 0;
}

static int password_cb(const char *ext, char *out, size_t cap, void *arg)
{
    (void)arg;
    if (strcmp(ext, "1001") == 0)
        snprintf(out, cap, "secret1001");
    else if (strcmp(ext, "1002") == 0)
        snprintf(out, cap, "pw 1002");
    else
        return -1;
    return 0;
}

static void binding_cb(int ev, const struct ztpd_sip_binding *b, void *arg)
{
    struct world *w = arg;
    if (w->n_events < 32)
        w->events[w->n_events++] = ev;
    w->last_binding = *b;
}

static void notify_cb(const struct ztpd_sip_notify_result *r, void *arg)
{
    struct world *w = arg;
    snprintf(w->notify_result, sizeof w->notify_result, "%s", r->result);
    w->notify_code = r->code;
    w->notify_calls++;
}

static struct ztpd_sip_peer udp_peer(const char *ip, int port)
{
    struct ztpd_sip_peer p = {.proto = ZTPD_SIP_UDP};
    struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    return p;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    uv_loop_init(&w->loop);
    w->now = 1800000000;
    struct ztpd_sip_config cfg = {
        .realm = "ztpd.test",
        .nonce_ttl = 30,
        .send = send_cb,
        .send_arg = w,
        .clock = clock_cb,
        .clock_arg = w,
        .advertise = "192.0.2.1",
        .port = 5060,
        .registrar = {.min_expires = 60, .max_expires = 3600, .max_contacts = 3},
        .t1_ms = 10,
        .t2_ms = 40,
        .timer_f_ms = 300,
        .notify_pace = 10, /* one extension per 100 ms wave */
    };
    struct ztpd_sip_callbacks cb = {.password = password_cb, .binding = binding_cb, .arg = w};
    assert_int_equal(ztpd_sip_new(&w->sip, &w->loop, &cfg, &cb), 0);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    ztpd_sip_free(w->sip);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    free(w);
    return 0;
}

/* Decodes the last message sent. */
static const struct ztpd_sip_msg *last(struct world *w)
{
    assert_true(w->n_sent > 0);
    const char *text = w->sent[w->n_sent < 8 ? w->n_sent - 1 : 7];
    int rc = ztpd_sip_msg_decode(text, strlen(text), &w->msg);
    if (rc)
        fail_msg("our own message does not decode: %s", w->msg.error);
    return &w->msg;
}

static void feed(struct world *w, const struct ztpd_sip_peer *from, const char *text)
{
    w->n_sent = 0;
    ztpd_sip_input(w->sip, from, text, strlen(text));
}

/* A REGISTER for ext with the given Contact header value(s), Expires (-1: none) and optional
 * extra header lines. */
static void make_register(char *out, size_t cap, const char *ext, const char *branch,
                          const char *call_id, unsigned cseq, const char *contact, int expires,
                          const char *extra)
{
    char exp[32] = "";
    if (expires >= 0)
        snprintf(exp, sizeof exp, "Expires: %d\r\n", expires);
    snprintf(out, cap,
             "REGISTER sip:192.0.2.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=%s;rport\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:%s@192.0.2.1>;tag=ft%s\r\n"
             "To: <sip:%s@192.0.2.1>\r\n"
             "Call-ID: %s\r\n"
             "CSeq: %u REGISTER\r\n"
             "%s%s%s%s%s"
             "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
             "Content-Length: 0\r\n\r\n",
             branch, ext, call_id, ext, call_id, cseq, contact ? "Contact: " : "",
             contact ? contact : "", contact ? "\r\n" : "", exp, extra ? extra : "");
}

/* Runs the full challenge/response exchange; returns the final status. user may differ from
 * ext to test the To/username check. */
static int do_register(struct world *w, const struct ztpd_sip_peer *from, const char *ext,
                       const char *user, const char *password, const char *call_id, unsigned *cseq,
                       const char *contact, int expires, const char *extra)
{
    char req[4096], branch[64], auth[1024], extra2[2048];
    snprintf(branch, sizeof branch, "z9hG4bK-%s-%u", call_id, *cseq);
    make_register(req, sizeof req, ext, branch, call_id, (*cseq)++, contact, expires, extra);
    feed(w, from, req);
    const struct ztpd_sip_msg *r = last(w);
    assert_int_equal(r->status, 401);
    assert_true(r->chall.present);
    assert_string_equal(r->chall.realm, "ztpd.test");
    int n = ztpd_digest_client_header(&r->chall, "REGISTER", "sip:192.0.2.1", user, password,
                                      "0a4f113b", auth, sizeof auth);
    assert_true(n > 0);
    snprintf(extra2, sizeof extra2, "%s\r\n%s", auth, extra ? extra : "");
    snprintf(branch, sizeof branch, "z9hG4bK-%s-%u", call_id, *cseq);
    make_register(req, sizeof req, ext, branch, call_id, (*cseq)++, contact, expires, extra2);
    feed(w, from, req);
    return last(w)->status;
}

static void test_register_auth(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.5", 5062);
    unsigned cseq = 1;
    assert_int_equal(do_register(w, &from, "1001", "1001", "secret1001", "c1", &cseq,
                                 "<sip:1001@10.0.0.5:5062>", 600, "Mac: 00:15:65:AA:BB:CC\r\n"),
                     200);
    const struct ztpd_sip_msg *r = last(w);
    assert_int_equal(r->n_contacts, 1);
    assert_string_equal(r->contacts[0].uri, "sip:1001@10.0.0.5:5062");
    assert_int_equal(r->contacts[0].expires, 600);
    /* The top Via tells the phone where we saw it (RFC 3581). */
    assert_non_null(strstr(w->sent[0], ";rport=5062;received=10.0.0.5"));
    assert_int_equal(w->n_events, 1);
    assert_int_equal(w->events[0], ZTPD_SIP_BINDING_ADDED);
    struct ztpd_sip_binding *b = &w->last_binding;
    assert_string_equal(b->extension, "1001");
    assert_string_equal(b->ip, "10.0.0.5");
    assert_int_equal(b->port, 5062);
    assert_string_equal(b->transport, "udp");
    assert_string_equal(b->mac, "001565aabbcc");
    assert_string_equal(b->mac_source, "sip_registration");
    assert_string_equal(b->user_agent, "Yealink SIP-T46S 66.86.0.15");
    assert_int_equal(b->first_registered, w->now);
    assert_int_equal(b->expires_at, w->now + 600);

    /* Wrong password: 401 first, then 403. */
    assert_int_equal(do_register(w, &from, "1001", "1001", "WRONG", "c2", &cseq,
                                 "<sip:1001@10.0.0.5:5062>", 600, NULL),
                     403);
    /* Credentials of another extension for this AOR, and an unknown extension: 403. */
    assert_int_equal(do_register(w, &from, "1001", "1002", "pw 1002", "c3", &cseq,
                                 "<sip:1001@10.0.0.5:5062>", 600, NULL),
                     403);
    assert_int_equal(do_register(w, &from, "1999", "1999", "x", "c4", &cseq,
                                 "<sip:1999@10.0.0.5:5062>", 600, NULL),
                     403);
    assert_int_equal(w->n_events, 1);

    /* Refresh later from a new address: the same binding, new times and address. */
    w->now += 100;
    struct ztpd_sip_peer moved = udp_peer("10.0.0.6", 5070);
    assert_int_equal(do_register(w, &moved, "1001", "1001", "secret1001", "c1", &cseq,
                                 "<sip:1001@10.0.0.5:5062>", 600, NULL),
                     200);
    assert_int_equal(w->events[w->n_events - 1], ZTPD_SIP_BINDING_REFRESHED);
    assert_string_equal(w->last_binding.ip, "10.0.0.6");
    assert_int_equal(w->last_binding.first_registered, w->now - 100);
    assert_int_equal(w->last_binding.last_registered, w->now);
    assert_string_equal(w->last_binding.mac, ""); /* this REGISTER carried no MAC */

    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.bindings, 1);
    assert_int_equal(st.registrar.forbidden, 3);
}

static void test_stale_nonce(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.5", 5062);
    char req[4096], auth[1024];
    make_register(req, sizeof req, "1001", "z9hG4bK-s1", "cs", 1, "<sip:1001@10.0.0.5>", 600, NULL);
    feed(w, &from, req);
    struct ztpd_sip_chall ch = last(w)->chall;
    w->now += 31; /* past the 30 s nonce lifetime */
    ztpd_digest_client_header(&ch, "REGISTER", "sip:192.0.2.1", "1001", "secret1001", "abc", auth,
                              sizeof auth);
    strcat(auth, "\r\n");
    make_register(req, sizeof req, "1001", "z9hG4bK-s2", "cs", 2, "<sip:1001@10.0.0.5>", 600, auth);
    feed(w, &from, req);
    const struct ztpd_sip_msg *r = last(w);
    assert_int_equal(r->status, 401);
    assert_true(r->chall.stale);
    /* An expired nonce with a wrong password is a plain 403, never stale. */
    ztpd_digest_client_header(&ch, "REGISTER", "sip:192.0.2.1", "1001", "WRONG", "abc", auth,
                              sizeof auth);
    strcat(auth, "\r\n");
    make_register(req, sizeof req, "1001", "z9hG4bK-s3", "cs", 3, "<sip:1001@10.0.0.5>", 600, auth);
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 403);
    /* A forged nonce gets a fresh challenge. */
    struct ztpd_sip_chall forged = ch;
    forged.nonce[10] = forged.nonce[10] == 'a' ? 'b' : 'a';
    ztpd_digest_client_header(&forged, "REGISTER", "sip:192.0.2.1", "1001", "secret1001", "abc",
                              auth, sizeof auth);
    strcat(auth, "\r\n");
    make_register(req, sizeof req, "1001", "z9hG4bK-s4", "cs", 4, "<sip:1001@10.0.0.5>", 600, auth);
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 401);
    assert_false(last(w)->chall.stale);
    assert_int_equal(w->n_events, 0);
}

static void test_retransmission_absorbed(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.5", 5062);
    char req1[4096], req2[4096], auth[1024], first[8192], second[8192];
    make_register(req1, sizeof req1, "1001", "z9hG4bK-rt1", "rt", 1, "<sip:1001@10.0.0.5>", 600,
                  NULL);
    feed(w, &from, req1);
    assert_int_equal(last(w)->status, 401);
    snprintf(first, sizeof first, "%s", w->sent[0]);
    struct ztpd_sip_chall ch = last(w)->chall;
    /* 2 s later a fresh challenge would carry another nonce: the replay must be identical. */
    w->now += 2;
    feed(w, &from, req1);
    assert_int_equal(w->n_sent, 1);
    assert_string_equal(w->sent[0], first);

    ztpd_digest_client_header(&ch, "REGISTER", "sip:192.0.2.1", "1001", "secret1001", "cn", auth,
                              sizeof auth);
    strcat(auth, "\r\n");
    make_register(req2, sizeof req2, "1001", "z9hG4bK-rt2", "rt", 2, "<sip:1001@10.0.0.5>", 600,
                  auth);
    feed(w, &from, req2);
    assert_int_equal(last(w)->status, 200);
    snprintf(second, sizeof second, "%s", w->sent[0]);
    assert_int_equal(w->n_events, 1);
    w->now += 1;
    feed(w, &from, req2);
    assert_int_equal(w->n_sent, 1);
    assert_string_equal(w->sent[0], second);
    assert_int_equal(w->n_events, 1); /* no second auth, no second binding event */

    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.retransmissions, 2);
    assert_int_equal(st.registrar.challenged, 1);
    assert_int_equal(st.registrar.ok, 1);
    assert_int_equal(st.server_txns, 2);
}

static void test_contacts_and_unregister(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.5", 5062);
    unsigned cseq = 1;
    /* Two contacts in one request, one with its own expires; the Expires header covers the
     * other. A Grandstream instance gives the MAC. */
    assert_int_equal(
        do_register(w, &from, "1002", "1002", "pw 1002", "m1", &cseq,
                    "<sip:1002@10.0.0.5:5062>;expires=120, <sip:1002@10.0.0.5:5064>;+sip.instance="
                    "\"<urn:uuid:00000000-0000-1000-8000-000B826C4283>\"",
                    900, NULL),
        200);
    assert_int_equal(last(w)->n_contacts, 2);
    assert_int_equal(w->n_events, 2);
    assert_string_equal(w->last_binding.mac, "000b826c4283");
    /* Too short an interval: 423 with Min-Expires, nothing changed. */
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m2", &cseq,
                                 "<sip:1002@10.0.0.5:5066>", 10, NULL),
                     423);
    assert_non_null(strstr(w->sent[0], "Min-Expires: 60\r\n"));
    /* Longer than the maximum: shortened to it. */
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m3", &cseq,
                                 "<sip:1002@10.0.0.5:5066>", 99999, NULL),
                     200);
    assert_int_equal(w->last_binding.expires_at, w->now + 3600);
    assert_int_equal(last(w)->n_contacts, 3);
    /* A fourth contact evicts the one closest to expiry (max_contacts = 3). */
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m4", &cseq,
                                 "<sip:1002@10.0.0.5:5068>", 600, NULL),
                     200);
    assert_int_equal(last(w)->n_contacts, 3);
    assert_null(strstr(w->sent[0], "<sip:1002@10.0.0.5:5062>"));
    /* Un-REGISTER one contact with Expires: 0. */
    size_t before = w->n_events;
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m4", &cseq,
                                 "<sip:1002@10.0.0.5:5068>", 0, NULL),
                     200);
    assert_int_equal(w->n_events, before + 1);
    assert_int_equal(w->events[before], ZTPD_SIP_BINDING_REMOVED);
    assert_int_equal(last(w)->n_contacts, 2);
    /* The same Call-ID with an older CSeq is out of order: 500. */
    unsigned old = 1;
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m3", &old,
                                 "<sip:1002@10.0.0.5:5066>", 600, NULL),
                     500);
    /* "*" needs Expires: 0. */
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m9", &cseq, "*", 60, NULL),
                     400);
    assert_int_equal(do_register(w, &from, "1002", "1002", "pw 1002", "m9", &cseq, "*", 0, NULL),
                     200);
    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.bindings, 0);
    assert_int_equal(w->events[w->n_events - 1], ZTPD_SIP_BINDING_REMOVED);
}

static void test_expiry(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.5", 5062);
    unsigned cseq = 1;
    assert_int_equal(do_register(w, &from, "1001", "1001", "secret1001", "e1", &cseq,
                                 "<sip:1001@10.0.0.5>", 60, NULL),
                     200);
    assert_int_equal(ztpd_sip_expire_now(w->sip), 0);
    w->now += 59;
    assert_int_equal(ztpd_sip_expire_now(w->sip), 0);
    w->now += 1;
    assert_int_equal(ztpd_sip_expire_now(w->sip), 1);
    assert_int_equal(w->events[w->n_events - 1], ZTPD_SIP_BINDING_EXPIRED);
    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.bindings, 0);
}

static void test_other_methods_and_malformed(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.7", 5060);
    const char *tmpl = "%s sip:192.0.2.1 SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-%s\r\n"
                       "Max-Forwards: %d\r\n"
                       "From: <sip:x@10.0.0.7>;tag=a\r\nTo: <sip:y@192.0.2.1>\r\n"
                       "Call-ID: m-%s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n";
    char req[1024];
    snprintf(req, sizeof req, tmpl, "OPTIONS", "o", 70, "o", "OPTIONS");
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 200);
    assert_non_null(strstr(w->sent[0], "Allow: REGISTER, OPTIONS, NOTIFY"));
    /* No ;rport: received= only, and the answer goes to the sent-by port (5060 by default),
     * not to the source port. */
    assert_non_null(strstr(w->sent[0], "branch=z9hG4bK-o;received=10.0.0.7\r\n"));
    struct ztpd_sip_peer ephemeral = udp_peer("10.0.0.7", 40001);
    snprintf(req, sizeof req, tmpl, "OPTIONS", "e", 70, "e", "OPTIONS");
    feed(w, &ephemeral, req);
    assert_int_equal(ntohs(((struct sockaddr_in *)&w->sent_to[0].addr)->sin_port), 5060);
    feed(w, &ephemeral, req); /* the replay follows the same rule */
    assert_int_equal(ntohs(((struct sockaddr_in *)&w->sent_to[0].addr)->sin_port), 5060);
    snprintf(req, sizeof req, tmpl, "SUBSCRIBE", "s", 70, "s", "SUBSCRIBE");
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 405);
    snprintf(req, sizeof req, tmpl, "FROBNICATE", "f", 70, "f", "FROBNICATE");
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 501);
    snprintf(req, sizeof req, tmpl, "OPTIONS", "h", 0, "h", "OPTIONS");
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 483);
    /* Answerable but wrong: CSeq method differs -> 400 naming the field. */
    snprintf(req, sizeof req, tmpl, "OPTIONS", "c", 70, "c", "REGISTER");
    feed(w, &from, req);
    assert_int_equal(last(w)->status, 400);
    assert_non_null(strstr(w->sent[0], "CSeq"));
    /* ACK: silence. Garbage, truncated and oversized input: dropped. */
    snprintf(req, sizeof req, tmpl, "ACK", "a", 70, "a", "ACK");
    feed(w, &from, req);
    assert_int_equal(w->n_sent, 0);
    feed(w, &from, "\x01\x02\xff garbage\r\n\r\n");
    assert_int_equal(w->n_sent, 0);
    snprintf(req, sizeof req, tmpl, "OPTIONS", "t", 70, "t", "OPTIONS");
    req[strlen(req) / 2] = '\0';
    feed(w, &from, req);
    assert_int_equal(w->n_sent, 0);
    char *big = malloc(40000);
    int n = snprintf(big, 40000, "OPTIONS sip:192.0.2.1 SIP/2.0\r\nX-Big: ");
    memset(big + n, 'A', 30000);
    strcpy(big + n + 30000, "\r\nCall-ID: x\r\n\r\n");
    feed(w, &from, big);
    free(big);
    assert_int_equal(w->n_sent, 0);
    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.bad_request, 1);
}

static void run_until_notify(struct world *w, int calls)
{
    for (int i = 0; i < 2000 && w->notify_calls < calls; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
}

/* A response to the last NOTIFY sent, with optional extra header lines. */
static void answer_notify(struct world *w, int code, const char *extra)
{
    char resp[4096];
    const struct ztpd_sip_msg *n = last(w);
    struct ztpd_sip_peer phone = udp_peer("10.0.0.5", 5062);
    snprintf(resp, sizeof resp,
             "SIP/2.0 %d Whatever\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=ph\r\nCall-ID: %s\r\n"
             "CSeq: %u NOTIFY\r\n%sContent-Length: 0\r\n\r\n",
             code, n->via[0], n->from, n->to, n->call_id, n->cseq, extra ? extra : "");
    feed(w, &phone, resp);
}

static void test_notify(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer from = udp_peer("10.0.0.5", 5062);
    unsigned cseq = 1;
    assert_int_equal(do_register(w, &from, "1001", "1001", "secret1001", "n1", &cseq,
                                 "<sip:1001@10.0.0.5:5062>", 600, NULL),
                     200);
    assert_int_equal(ztpd_sip_notify(w->sip, "1999", "check-sync", notify_cb, w), ZTPD_ENOENT);
    assert_int_equal(ztpd_sip_notify(w->sip, "1001", "bad\r\nX: y", notify_cb, w), ZTPD_EINVAL);

    /* Challenged once, then accepted. */
    w->n_sent = 0;
    assert_int_equal(ztpd_sip_notify(w->sip, "1001", "resync", notify_cb, w), 1);
    const struct ztpd_sip_msg *n = last(w);
    assert_string_equal(n->method, "NOTIFY");
    assert_string_equal(n->ruri, "sip:1001@10.0.0.5:5062");
    assert_string_equal(n->event, "resync");
    assert_string_equal(n->to_user, "1001");
    assert_int_equal(ntohs(((struct sockaddr_in *)&w->sent_to[0].addr)->sin_port), 5062);
    answer_notify(w, 401,
                  "WWW-Authenticate: Digest realm=\"phone\", nonce=\"abc123\", "
                  "qop=\"auth,auth-int\", opaque=\"op\"\r\n");
    assert_int_equal(w->notify_calls, 0);
    n = last(w);
    assert_int_equal(n->cseq, 2);
    assert_true(n->auth.present);
    assert_string_equal(n->auth.realm, "phone");
    assert_string_equal(n->auth.opaque, "op");
    assert_string_equal(n->auth.qop, "auth");
    uint8_t ha1[16];
    ztpd_digest_ha1("1001", "phone", "secret1001", ha1);
    assert_int_equal(ztpd_digest_verify(&n->auth, "NOTIFY", ha1), 0);
    answer_notify(w, 200, NULL);
    assert_int_equal(w->notify_calls, 1);
    assert_string_equal(w->notify_result, "ok");
    assert_int_equal(w->notify_code, 200);

    /* Challenged twice: auth_failed. Rejected: the code is kept. */
    w->n_sent = 0;
    assert_int_equal(ztpd_sip_notify(w->sip, "1001", "resync", notify_cb, w), 1);
    answer_notify(w, 407, "Proxy-Authenticate: Digest realm=\"phone\", nonce=\"n2\"\r\n");
    assert_non_null(strstr(w->sent[0], "Proxy-Authorization: Digest"));
    answer_notify(w, 407, "Proxy-Authenticate: Digest realm=\"phone\", nonce=\"n3\"\r\n");
    assert_int_equal(w->notify_calls, 2);
    assert_string_equal(w->notify_result, "auth_failed");
    assert_int_equal(w->notify_code, 407);
    w->n_sent = 0;
    assert_int_equal(ztpd_sip_notify(w->sip, "1001", "check-sync", notify_cb, w), 1);
    answer_notify(w, 489, NULL);
    assert_int_equal(w->notify_calls, 3);
    assert_string_equal(w->notify_result, "rejected");
    assert_int_equal(w->notify_code, 489);

    /* No answer: retransmitted (T1 10 ms doubling to 40 ms), then timeout at Timer F. */
    w->n_sent = 0;
    assert_int_equal(ztpd_sip_notify(w->sip, "1001", "check-sync", notify_cb, w), 1);
    run_until_notify(w, 4);
    assert_int_equal(w->notify_calls, 4);
    assert_string_equal(w->notify_result, "timeout");
    assert_true(w->n_sent >= 5); /* 1 + retransmissions at 10, 30, 70, 110, ... ms */
    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.client_txns, 0);
    assert_int_equal(st.notify_pending, 0);
}

struct paced_log {
    char order[8][16];
    int n;
};

static void paced_cb(const struct ztpd_sip_notify_result *r, void *arg)
{
    struct paced_log *l = arg;
    if (l->n < 8)
        snprintf(l->order[l->n++], sizeof l->order[0], "%s:%s", r->extension, r->result);
}

static void test_notify_paced(void **state)
{
    struct world *w = *state;
    struct ztpd_sip_peer a = udp_peer("10.0.0.5", 5062), b = udp_peer("10.0.0.6", 5062);
    unsigned cseq = 1;
    assert_int_equal(do_register(w, &a, "1001", "1001", "secret1001", "p1", &cseq,
                                 "<sip:1001@10.0.0.5:5062>", 600, NULL),
                     200);
    assert_int_equal(do_register(w, &b, "1002", "1002", "pw 1002", "p2", &cseq,
                                 "<sip:1002@10.0.0.6:5062>", 600, NULL),
                     200);
    struct paced_log log = {0};
    w->n_sent = 0;
    assert_int_equal(ztpd_sip_notify_paced(w->sip, "1999", "check-sync", paced_cb, &log), 1);
    assert_int_equal(ztpd_sip_notify_paced(w->sip, "1002", "check-sync", paced_cb, &log), 2);
    assert_int_equal(ztpd_sip_notify_paced(w->sip, "1001", "check-sync", paced_cb, &log), 3);
    assert_int_equal(ztpd_sip_notify_paced(w->sip, "1001", "a\nb", paced_cb, &log), ZTPD_EINVAL);
    /* nothing goes out before the first wave */
    assert_int_equal(w->n_sent, 0);
    struct ztpd_sip_stats st;
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.notify_queued, 3);
    for (int i = 0; i < 3000 && log.n < 3; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_int_equal(log.n, 3);
    /* queue order is kept; the NOTIFYs themselves time out in this world */
    assert_string_equal(log.order[0], "1999:no_contact");
    assert_string_equal(log.order[1], "1002:timeout");
    assert_string_equal(log.order[2], "1001:timeout");
    ztpd_sip_stats(w->sip, &st);
    assert_int_equal(st.notify_queued, 0);
    /* a queue left behind at shutdown is freed without callbacks (teardown checks leaks) */
    assert_int_equal(ztpd_sip_notify_paced(w->sip, "1001", "check-sync", paced_cb, &log), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_nonce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmission_absorbed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contacts_and_unregister, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_methods_and_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_paced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
