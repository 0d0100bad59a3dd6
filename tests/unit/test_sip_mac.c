/* MAC extraction from REGISTER fields: what each vendor sends, and what must not be taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sip/mac_extract.h"
#include "util/error.h"

static void ua_gives(const char *ua, const char *want)
{
    char out[ZTPD_MAC_LEN + 1];
    if (ztpd_sip_mac_from_user_agent(ua, out) != 0)
        fail_msg("no MAC found in '%s'", ua);
    assert_string_equal(out, want);
}

static void ua_none(const char *ua)
{
    char out[ZTPD_MAC_LEN + 1];
    if (ztpd_sip_mac_from_user_agent(ua, out) == 0)
        fail_msg("'%s' gave MAC %s", ua, out);
}

static void test_header(void **state)
{
    (void)state;
    char out[ZTPD_MAC_LEN + 1];
    assert_int_equal(ztpd_sip_mac_from_header("00:0b:ea:85:ed:68", out), 0);
    assert_string_equal(out, "000bea85ed68");
    assert_int_equal(ztpd_sip_mac_from_header(" 000BEA85ED68 ", out), 0);
    assert_string_equal(out, "000bea85ed68");
    assert_int_equal(ztpd_sip_mac_from_header("00-0b-ea-85-ed-68", out), 0);
    assert_int_equal(ztpd_sip_mac_from_header("not a mac", out), ZTPD_EINVAL);
    assert_int_equal(ztpd_sip_mac_from_header("00:00:00:00:00:00", out), ZTPD_EINVAL);
    assert_int_equal(ztpd_sip_mac_from_header(NULL, out), ZTPD_EINVAL);
}

static void test_instance(void **state)
{
    (void)state;
    char out[ZTPD_MAC_LEN + 1];
    /* Grandstream: 00000000-0000-1000-8000-<MAC> */
    assert_int_equal(
        ztpd_sip_mac_from_instance("<urn:uuid:00000000-0000-1000-8000-000B826C4283>", NULL, out),
        0);
    assert_string_equal(out, "000b826c4283");
    assert_int_equal(
        ztpd_sip_mac_from_instance("urn:uuid:00000000-0000-1000-8000-000b82240363", NULL, out), 0);
    assert_string_equal(out, "000b82240363");
    /* A Yealink (random) UUID is not a MAC (VENDORS.md gotcha 7)... */
    assert_int_equal(ztpd_sip_mac_from_instance("<urn:uuid:5acd54e8-f197-57e2-aa42-5f4a5d04367c>",
                                                "Yealink SIP-T46S 66.86.0.15", out),
                     ZTPD_EINVAL);
    /* ...unless the phone says it is a Grandstream. */
    assert_int_equal(ztpd_sip_mac_from_instance("<urn:uuid:5acd54e8-f197-57e2-aa42-c074ad2bd859>",
                                                "Grandstream GXP2170 1.0.11.3", out),
                     0);
    assert_string_equal(out, "c074ad2bd859");
    assert_int_equal(ztpd_sip_mac_from_instance("<urn:uuid:short>", NULL, out), ZTPD_EINVAL);
    assert_int_equal(
        ztpd_sip_mac_from_instance("<urn:foo:00000000-0000-1000-8000-000B826C4283>", NULL, out),
        ZTPD_EINVAL);
}

static void test_user_agent(void **state)
{
    (void)state;
    ua_gives("Yealink SIP-T46S 66.86.0.15 80:5e:c0:11:22:33", "805ec0112233");
    ua_gives("Fanvil X4 2.4.0 0c383e557eb1", "0c383e557eb1");
    ua_gives("Grandstream GXP2170 1.0.11.3 DevId c074ad2bd859", "c074ad2bd859");
    ua_gives("Cisco/SPA504G-7.5.5 (E05FB9A12345)(CBT123456)", "e05fb9a12345");
    ua_gives("Phone 00-15-65-aa-bb-cc", "001565aabbcc");
    ua_none("Yealink SIP-T46S 66.86.0.15");
    ua_none("Cisco/SPA525G2-7.6.1(ES_RC01)");
    ua_none("PolycomVVX-VVX_450-UA/6.3.1.8427");
    ua_none("firmware 0c383e557eb1ff"); /* 14 hex: part of a longer run */
    ua_none("build x0c383e557eb1");     /* glued to a word */
    ua_none("ver 1.2.0c383e557eb1");
    ua_none("00:15:65:aa:bb");       /* five pairs */
    ua_none("00:15:65:aa:bb:cc:dd"); /* seven pairs */
    ua_none("zeros 000000000000");
}

static void test_priority(void **state)
{
    (void)state;
    char out[ZTPD_MAC_LEN + 1];
    const char *inst[] = {"", "<urn:uuid:00000000-0000-1000-8000-000B826C4283>"};
    assert_int_equal(ztpd_sip_mac_extract("00:0b:ea:85:ed:68", inst, 2, "UA 805ec0112233", out), 0);
    assert_string_equal(out, "000bea85ed68");
    assert_int_equal(ztpd_sip_mac_extract("garbage", inst, 2, "UA 805ec0112233", out), 0);
    assert_string_equal(out, "000b826c4283");
    assert_int_equal(ztpd_sip_mac_extract(NULL, NULL, 0, "UA 805ec0112233", out), 0);
    assert_string_equal(out, "805ec0112233");
    assert_int_equal(ztpd_sip_mac_extract(NULL, NULL, 0, "UA only", out), ZTPD_ENOENT);
    assert_int_equal(ztpd_sip_mac_extract(NULL, NULL, 0, NULL, out), ZTPD_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_instance),
        cmocka_unit_test(test_user_agent),
        cmocka_unit_test(test_priority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
