/* Digest authentication: the RFC 2617 example, the no-qop form, our nonces (fresh, stale,
 * forged, from another process), and the client side answering a phone's challenge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/digest.h"
#include "util/error.h"

static void test_rfc2617_vector(void **state)
{
    (void)state;
    /* RFC 2617 section 3.5 */
    struct ztpd_sip_auth a = {.present = 1};
    strcpy(a.username, "Mufasa");
    strcpy(a.realm, "testrealm@host.com");
    strcpy(a.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
    strcpy(a.uri, "/dir/index.html");
    strcpy(a.qop, "auth");
    strcpy(a.nc, "00000001");
    strcpy(a.cnonce, "0a4f113b");
    strcpy(a.response, "6629fae49393a05397450978507c4ef1");
    uint8_t ha1[ZTPD_DIGEST_HA1_LEN], wrong[ZTPD_DIGEST_HA1_LEN];
    ztpd_digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
    assert_int_equal(ztpd_digest_verify(&a, "GET", ha1), 0);
    /* upper-case hex is the same response */
    strcpy(a.response, "6629FAE49393A05397450978507C4EF1");
    assert_int_equal(ztpd_digest_verify(&a, "GET", ha1), 0);
    ztpd_digest_ha1("Mufasa", "testrealm@host.com", "Circle of Life", wrong);
    assert_int_equal(ztpd_digest_verify(&a, "GET", wrong), ZTPD_EINVAL);
    assert_int_equal(ztpd_digest_verify(&a, "POST", ha1), ZTPD_EINVAL);
    strcpy(a.algorithm, "MD5-sess");
    assert_int_equal(ztpd_digest_verify(&a, "GET", ha1), ZTPD_EINVAL);
    strcpy(a.algorithm, "MD5");
    strcpy(a.qop, "auth-int");
    assert_int_equal(ztpd_digest_verify(&a, "GET", ha1), ZTPD_EINVAL);
    strcpy(a.qop, "auth");
    a.cnonce[0] = '\0';
    assert_int_equal(ztpd_digest_verify(&a, "GET", ha1), ZTPD_EINVAL);
    strcpy(a.response, "short");
    assert_int_equal(ztpd_digest_verify(&a, "GET", ha1), ZTPD_EINVAL);
}

static void test_nonces(void **state)
{
    (void)state;
    struct ztpd_digest *d, *other;
    assert_int_equal(ztpd_digest_new(&d, "ztpd", 300), 0);
    assert_int_equal(ztpd_digest_new(&other, "ztpd", 300), 0);
    assert_int_equal(ztpd_digest_new(&other, "", 0), ZTPD_EINVAL);
    char n[ZTPD_DIGEST_NONCE_LEN + 1], o[ZTPD_DIGEST_NONCE_LEN + 1];
    int64_t t = 1800000000;
    ztpd_digest_nonce(d, t, n);
    assert_int_equal(strlen(n), ZTPD_DIGEST_NONCE_LEN);
    assert_int_equal(ztpd_digest_nonce_check(d, n, t), ZTPD_NONCE_OK);
    assert_int_equal(ztpd_digest_nonce_check(d, n, t + 300), ZTPD_NONCE_OK);
    assert_int_equal(ztpd_digest_nonce_check(d, n, t + 301), ZTPD_NONCE_STALE);
    /* a different secret (another process) does not accept it */
    assert_int_equal(ztpd_digest_nonce_check(other, n, t), ZTPD_NONCE_BAD);
    ztpd_digest_nonce(other, t, o);
    assert_string_not_equal(n, o);
    /* moving the timestamp breaks the MAC: an old nonce cannot be made fresh */
    char forged[ZTPD_DIGEST_NONCE_LEN + 1];
    strcpy(forged, n);
    forged[7] = forged[7] == '0' ? '1' : '0';
    assert_int_equal(ztpd_digest_nonce_check(d, forged, t), ZTPD_NONCE_BAD);
    assert_int_equal(ztpd_digest_nonce_check(d, "abc", t), ZTPD_NONCE_BAD);
    assert_int_equal(ztpd_digest_nonce_check(d, "zzzzzzzz00000000000000000000000000000000", t),
                     ZTPD_NONCE_BAD);
    ztpd_digest_free(d);
    ztpd_digest_free(other);
}

/* Parses "name=\"value\"" (or unquoted) out of a header we built. */
static void field(const char *hdr, const char *name, char *out, size_t cap)
{
    char key[32];
    snprintf(key, sizeof key, " %s=", name);
    const char *p = strstr(hdr, key);
    assert_non_null(p);
    p += strlen(key);
    int quoted = *p == '"';
    p += quoted;
    size_t n = strcspn(p, quoted ? "\"" : ",");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void test_client_header(void **state)
{
    (void)state;
    struct ztpd_sip_chall c = {.present = 1};
    strcpy(c.realm, "phone");
    strcpy(c.nonce, "n0nce");
    strcpy(c.qop, "auth-int, auth");
    strcpy(c.opaque, "op");
    char hdr[1024];
    int n = ztpd_digest_client_header(&c, "NOTIFY", "sip:1001@10.0.0.5:5062", "1001", "pw",
                                      "cn0nce", hdr, sizeof hdr);
    assert_true(n > 0);
    assert_int_equal(strncmp(hdr, "Authorization: Digest ", 22), 0);
    /* what the phone would check: rebuild the fields and verify them */
    struct ztpd_sip_auth a = {.present = 1};
    field(hdr, "username", a.username, sizeof a.username);
    field(hdr, "realm", a.realm, sizeof a.realm);
    field(hdr, "nonce", a.nonce, sizeof a.nonce);
    field(hdr, "uri", a.uri, sizeof a.uri);
    field(hdr, "response", a.response, sizeof a.response);
    field(hdr, "qop", a.qop, sizeof a.qop);
    field(hdr, "nc", a.nc, sizeof a.nc);
    field(hdr, "cnonce", a.cnonce, sizeof a.cnonce);
    field(hdr, "opaque", a.opaque, sizeof a.opaque);
    assert_string_equal(a.qop, "auth");
    assert_string_equal(a.nc, "00000001");
    assert_string_equal(a.opaque, "op");
    uint8_t ha1[ZTPD_DIGEST_HA1_LEN];
    ztpd_digest_ha1("1001", "phone", "pw", ha1);
    assert_int_equal(ztpd_digest_verify(&a, "NOTIFY", ha1), 0);

    /* RFC 2069 form when no qop is offered; Proxy-Authorization after a 407 */
    c.qop[0] = '\0';
    c.opaque[0] = '\0';
    c.proxy = 1;
    n = ztpd_digest_client_header(&c, "NOTIFY", "sip:1001@10.0.0.5", "1001", "pw", "x", hdr,
                                  sizeof hdr);
    assert_true(n > 0);
    assert_int_equal(strncmp(hdr, "Proxy-Authorization: Digest ", 28), 0);
    assert_null(strstr(hdr, "qop="));
    assert_null(strstr(hdr, "opaque="));
    memset(&a, 0, sizeof a);
    a.present = 1;
    field(hdr, "nonce", a.nonce, sizeof a.nonce);
    field(hdr, "uri", a.uri, sizeof a.uri);
    field(hdr, "response", a.response, sizeof a.response);
    assert_int_equal(ztpd_digest_verify(&a, "NOTIFY", ha1), 0);

    /* challenges we cannot answer */
    strcpy(c.algorithm, "SHA-256");
    assert_int_equal(
        ztpd_digest_client_header(&c, "NOTIFY", "sip:a@b", "1001", "pw", "x", hdr, sizeof hdr),
        ZTPD_EINVAL);
    c.algorithm[0] = '\0';
    strcpy(c.qop, "auth-int");
    assert_int_equal(
        ztpd_digest_client_header(&c, "NOTIFY", "sip:a@b", "1001", "pw", "x", hdr, sizeof hdr),
        ZTPD_EINVAL);
    c.qop[0] = '\0';
    assert_int_equal(ztpd_digest_client_header(&c, "NOTIFY", "sip:a@b", "1001", "pw", "x", hdr, 20),
                     ZTPD_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2617_vector),
        cmocka_unit_test(test_nonces),
        cmocka_unit_test(test_client_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
