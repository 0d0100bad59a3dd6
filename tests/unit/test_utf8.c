/* ztpd_utf8_scrub: valid text untouched, every invalid byte replaced, length kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"

static void check(const char *in, const char *want, size_t want_replaced)
{
    char buf[64];
    strcpy(buf, in);
    size_t r = ztpd_utf8_scrub(buf);
    assert_string_equal(buf, want);
    assert_int_equal(r, want_replaced);
}

static void test_valid_untouched(void **state)
{
    (void)state;
    check("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc",
          "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc", 0);
    check("Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e", "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e",
          0);
    check("", "", 0);
}

static void test_invalid_replaced(void **state)
{
    (void)state;
    check("\xff\xfe UA", "?? UA", 2);     /* bytes never valid */
    check("a\xc3", "a?", 1);              /* truncated at the end */
    check("\xc3(", "?(", 1);              /* bad continuation */
    check("\xc0\xaf", "??", 2);           /* overlong '/' */
    check("\xe0\x80\xaf", "???", 3);      /* overlong, 3 bytes */
    check("\xed\xa0\x80", "???", 3);      /* surrogate U+D800 */
    check("\xf4\x90\x80\x80", "????", 4); /* above U+10FFFF */
    check("\xe2\x82", "??", 2);           /* cut in the middle, as a fixed-size
                                             field truncation does */
    check("ok\x80ok", "ok?ok", 1);        /* lone continuation byte */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_untouched),
        cmocka_unit_test(test_invalid_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
