/* The libre adapter: decoding into our struct, our limits, TCP framing, response and NOTIFY
 * building. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "sip/sip_msg.h"
#include "util/error.h"

static const char REG[] =
    "REGISTER sip:192.0.2.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-abc;rport\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-2, SIP/2.0/TCP "
    "[2001:db8::1];branch=z9hG4bK-3\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:1001@192.0.2.1>;tag=ftag1\r\n"
    "To: <sip:1001@192.0.2.1>\r\n"
    "Call-ID: cid-42@10.0.0.5\r\n"
    "CSeq: 7 REGISTER\r\n"
    "Contact: <sip:1001@10.0.0.5:5062;transport=udp>;expires=120;+sip.instance=\"<urn:uuid:"
    "00000000-0000-1000-8000-000B826C4283>\";reg-id=1, \"X\" <sip:1001@10.0.0.6>\r\n"
    "m: sip:1001@10.0.0.7;expires=0\r\n"
    "Expires: 3600\r\n"
    "mac: 00:0b:ea:85:ed:68\r\n"
    "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    "Authorization: Digest username=\"1001\", realm=\"ztpd\", nonce=\"abc123\", "
    "uri=\"sip:192.0.2.1:5060\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, "
    "qop=auth, nc=00000001, cnonce=\"xyz 1\", opaque=\"op\"\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static struct ztpd_sip_msg m;

static int group_setup(void **state)
{
    (void)state;
    return ztpd_sip_msg_lib_init();
}

static int group_teardown(void **state)
{
    (void)state;
    ztpd_sip_msg_lib_close();
    return 0;
}

static void test_decode_register(void **state)
{
    (void)state;
    assert_int_equal(ztpd_sip_msg_decode(REG, strlen(REG), &m), 0);
    assert_true(m.is_request);
    assert_string_equal(m.method, "REGISTER");
    assert_string_equal(m.ruri, "sip:192.0.2.1:5060");
    assert_int_equal(m.n_via, 3);
    assert_string_equal(m.via[0], "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-abc;rport");
    assert_string_equal(m.via[2], "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK-3");
    assert_string_equal(m.via_host, "10.0.0.5");
    assert_int_equal(m.via_port, 5062);
    assert_string_equal(m.via_transport, "UDP");
    assert_string_equal(m.via_branch, "z9hG4bK-abc");
    assert_true(m.via_rport);
    assert_string_equal(m.from_tag, "ftag1");
    assert_string_equal(m.to_tag, "");
    assert_string_equal(m.to_user, "1001");
    assert_string_equal(m.call_id, "cid-42@10.0.0.5");
    assert_int_equal(m.cseq, 7);
    assert_string_equal(m.cseq_method, "REGISTER");
    assert_int_equal(m.max_forwards, 70);
    assert_int_equal(m.expires, 3600);
    assert_int_equal(m.content_length, 0);
    assert_string_equal(m.mac, "00:0b:ea:85:ed:68");
    assert_string_equal(m.user_agent, "Yealink SIP-T46S 66.86.0.15");
    /* three contacts: comma-split and the compact form */
    assert_int_equal(m.n_contacts, 3);
    assert_string_equal(m.contacts[0].uri, "sip:1001@10.0.0.5:5062;transport=udp");
    assert_string_equal(m.contacts[0].host, "10.0.0.5");
    assert_int_equal(m.contacts[0].port, 5062);
    assert_string_equal(m.contacts[0].transport, "udp");
    assert_int_equal(m.contacts[0].expires, 120);
    assert_string_equal(m.contacts[0].instance, "<urn:uuid:00000000-0000-1000-8000-000B826C4283>");
    assert_int_equal(m.contacts[1].port, 0);
    assert_int_equal(m.contacts[1].expires, -1);
    assert_int_equal(m.contacts[2].expires, 0);
    assert_true(m.auth.present);
    assert_string_equal(m.auth.username, "1001");
    assert_string_equal(m.auth.cnonce, "xyz 1");
    assert_string_equal(m.auth.algorithm, "MD5");
    assert_string_equal(m.auth.opaque, "op");
    assert_string_equal(m.auth.qop, "auth");
}

static void test_response(void **state)
{
    (void)state;
    assert_int_equal(ztpd_sip_msg_decode(REG, strlen(REG), &m), 0);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(40000)};
    inet_pton(AF_INET, "198.51.100.7", &src.sin_addr);
    char out[4096];
    int n = ztpd_sip_msg_response(&m, (struct sockaddr *)&src, 200, "OK", "tt", "X-A: 1\r\n", out,
                                  sizeof out);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_non_null(strstr(out, "SIP/2.0 200 OK\r\n"
                                "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-abc;rport=40000;"
                                "received=198.51.100.7\r\n"
                                "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-2\r\n"));
    assert_non_null(strstr(out, "To: <sip:1001@192.0.2.1>;tag=tt\r\n"));
    assert_non_null(strstr(out, "CSeq: 7 REGISTER\r\nX-A: 1\r\n"));
    assert_non_null(strstr(out, "Content-Length: 0\r\n\r\n"));
    /* our own response decodes */
    struct ztpd_sip_msg r;
    assert_int_equal(ztpd_sip_msg_decode(out, (size_t)n, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.to_tag, "tt");
    /* too small a buffer is an error, not a truncated message */
    assert_int_equal(
        ztpd_sip_msg_response(&m, (struct sockaddr *)&src, 200, "OK", "tt", NULL, out, 100),
        ZTPD_ETOOBIG);
}

static void test_challenge_response(void **state)
{
    (void)state;
    const char *resp = "SIP/2.0 401 Unauthorized\r\n"
                       "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKn1;rport=5060\r\n"
                       "From: <sip:ztpd@192.0.2.1>;tag=a\r\nTo: <sip:1001@192.0.2.1>;tag=b\r\n"
                       "Call-ID: n@ztpd\r\nCSeq: 1 NOTIFY\r\n"
                       "WWW-Authenticate: Digest realm=\"spa\", nonce=\"n0nce\", "
                       "qop=\"auth,auth-int\", algorithm=MD5, opaque=\"op\", stale=TRUE\r\n"
                       "Content-Length: 0\r\n\r\n";
    assert_int_equal(ztpd_sip_msg_decode(resp, strlen(resp), &m), 0);
    assert_false(m.is_request);
    assert_int_equal(m.status, 401);
    assert_false(m.via_rport); /* rport with a value is not a request for one */
    assert_true(m.chall.present);
    assert_false(m.chall.proxy);
    assert_string_equal(m.chall.realm, "spa");
    assert_string_equal(m.chall.nonce, "n0nce");
    assert_string_equal(m.chall.qop, "auth,auth-int");
    assert_string_equal(m.chall.opaque, "op");
    assert_true(m.chall.stale);
}

static void expect_fail(const char *text, size_t len, int rc, int answerable, const char *field)
{
    int got = ztpd_sip_msg_decode(text, len, &m);
    if (got != rc)
        fail_msg("expected %d, got %d (%s)", rc, got, m.error ? m.error : "-");
    assert_int_equal(m.answerable, answerable);
    assert_non_null(m.error);
    if (field && strncmp(m.error, field, strlen(field)) != 0)
        fail_msg("error '%s' does not name %s", m.error, field);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *base = "OPTIONS sip:x@192.0.2.1 SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKq\r\n"
                       "From: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:b@192.0.2.1>\r\n"
                       "Call-ID: q\r\nCSeq: 1 OPTIONS\r\n%s\r\n";
    char buf[2048];
    expect_fail("", 0, ZTPD_ESYNTAX, 0, "message");
    expect_fail("\x01\x02\xff hello\r\n\r\n", 11, ZTPD_ESYNTAX, 0, "message");
    expect_fail(REG, strlen(REG) / 2, ZTPD_ESYNTAX, 0, "message");
    expect_fail("OPTIONS nota uri SIP/2.0\r\n\r\n", 28, ZTPD_ESYNTAX, 0, "message");
    expect_fail("OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n", 37, ZTPD_ESYNTAX, 0, "Via");
    snprintf(buf, sizeof buf, base, "Expires: soon\r\n");
    expect_fail(buf, strlen(buf), ZTPD_ESYNTAX, 1, "Expires");
    snprintf(buf, sizeof buf, base, "Content-Length: 100\r\n");
    expect_fail(buf, strlen(buf), ZTPD_ESYNTAX, 1, "Content-Length");
    snprintf(buf, sizeof buf, base, "Max-Forwards: 999\r\n");
    expect_fail(buf, strlen(buf), ZTPD_ESYNTAX, 1, "Max-Forwards");
    snprintf(buf, sizeof buf, base, "Contact: <mailto:x>\r\n");
    expect_fail(buf, strlen(buf), ZTPD_ESYNTAX, 1, "Contact");
    snprintf(buf, sizeof buf, base, "Authorization: Basic eDp5\r\n");
    expect_fail(buf, strlen(buf), ZTPD_ESYNTAX, 1, "Authorization");
    snprintf(buf, sizeof buf, base, "");
    assert_int_equal(ztpd_sip_msg_decode(buf, strlen(buf), &m), 0);

    /* our limits: 64 header lines, 16 KB of head, 64 KB in all */
    char *big = malloc(80000);
    size_t n = (size_t)snprintf(big, 80000, "OPTIONS sip:x@192.0.2.1 SIP/2.0\r\n");
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(big + n, 80000 - n, "X-%d: y\r\n", i);
    n += (size_t)snprintf(big + n, 80000 - n, "\r\n");
    expect_fail(big, n, ZTPD_ETOOBIG, 0, "headers");
    n = (size_t)snprintf(big, 80000, "OPTIONS sip:x@192.0.2.1 SIP/2.0\r\nX-Big: ");
    memset(big + n, 'A', 20000);
    n += 20000;
    n += (size_t)snprintf(big + n, 80000 - n, "\r\n\r\n");
    expect_fail(big, n, ZTPD_ETOOBIG, 0, "headers");
    expect_fail(big, 70000, ZTPD_ETOOBIG, 0, "message");
    free(big);
}

static void test_frame(void **state)
{
    (void)state;
    const char *one = "OPTIONS sip:x SIP/2.0\r\nl: 3\r\n\r\nabc";
    char two[256];
    snprintf(two, sizeof two, "\r\n\r\n%s%s", one, one);
    size_t skip, len;
    assert_int_equal(ztpd_sip_msg_frame(two, strlen(two), &skip, &len), 1);
    assert_int_equal(skip, 4);
    assert_int_equal(len, strlen(one));
    assert_int_equal(ztpd_sip_msg_frame(two + 4 + len, strlen(one), &skip, &len), 1);
    /* incomplete: body short, head short */
    assert_int_equal(ztpd_sip_msg_frame(one, strlen(one) - 1, &skip, &len), 0);
    assert_int_equal(ztpd_sip_msg_frame(one, 10, &skip, &len), 0);
    /* Content-Length is mandatory on streams */
    const char *nolen = "OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n";
    assert_int_equal(ztpd_sip_msg_frame(nolen, strlen(nolen), &skip, &len), ZTPD_ESYNTAX);
    const char *badlen = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 1x\r\n\r\n";
    assert_int_equal(ztpd_sip_msg_frame(badlen, strlen(badlen), &skip, &len), ZTPD_ESYNTAX);
    const char *huge = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 9999999\r\n\r\n";
    assert_int_equal(ztpd_sip_msg_frame(huge, strlen(huge), &skip, &len), ZTPD_ETOOBIG);
    /* garbage without a blank line: more data wanted until the head cap */
    char *junk = malloc(ZTPD_SIP_MAX_HEAD + 10);
    memset(junk, 'x', ZTPD_SIP_MAX_HEAD + 10);
    assert_int_equal(ztpd_sip_msg_frame(junk, 100, &skip, &len), 0);
    assert_int_equal(ztpd_sip_msg_frame(junk, ZTPD_SIP_MAX_HEAD + 10, &skip, &len), ZTPD_ETOOBIG);
    free(junk);
}

static void test_notify_build(void **state)
{
    (void)state;
    struct ztpd_sip_notify_req q = {
        .ruri = "sip:1001@10.0.0.5:5062",
        .transport = "UDP",
        .local = "192.0.2.1:5060",
        .to_user = "1001",
        .to_host = "192.0.2.1:5060",
        .branch = "z9hG4bKabc",
        .from_tag = "ft",
        .call_id = "cid@ztpd",
        .cseq = 2,
        .event = "check-sync;reboot=true",
        .auth_header = "Authorization: Digest username=\"1001\", realm=\"r\", nonce=\"n\", "
                       "uri=\"sip:1001@10.0.0.5:5062\", response=\"00\"",
    };
    char out[2048];
    int n = ztpd_sip_msg_notify(&q, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(ztpd_sip_msg_decode(out, (size_t)n, &m), 0);
    assert_string_equal(m.method, "NOTIFY");
    assert_string_equal(m.ruri, "sip:1001@10.0.0.5:5062");
    assert_string_equal(m.via_branch, "z9hG4bKabc");
    assert_true(m.via_rport);
    assert_string_equal(m.event, "check-sync;reboot=true");
    assert_int_equal(m.cseq, 2);
    assert_string_equal(m.to_user, "1001");
    assert_true(m.auth.present);
    assert_non_null(strstr(out, "Subscription-State: terminated\r\n"));
    assert_int_equal(ztpd_sip_msg_notify(&q, out, 64), ZTPD_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_register),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_challenge_response),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_notify_build),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
