/* The device import parser (core/cli/import.c): JSON and CSV files into device objects, each
 * with the line it starts on, and every structural problem reported with its line. Also the
 * chunked-body decoder of the CLI's HTTP client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/http_client.h"
#include "cli/import.h"

static struct ztpd_import parse(const char *name, const char *text)
{
    struct ztpd_import imp;
    assert_int_equal(ztpd_import_parse(name, text, strlen(text), ZTPD_IMPORT_AUTO, &imp), 0);
    return imp;
}

static const char *member(const struct ztpd_import *imp, size_t row, const char *key)
{
    assert_true(row < imp->n_rows);
    assert_non_null(imp->rows[row].obj);
    return json_string_value(json_object_get(imp->rows[row].obj, key));
}

static void test_csv_basic_lines(void **state)
{
    (void)state;
    struct ztpd_import imp = parse("devices.csv", "mac,extension,vendor,model\n"
                                                  "00:15:65:12:34:56,1001,yealink,t46s\n"
                                                  "\n"
                                                  "  001565123457 , 1002 ,yealink,t46s\n");
    assert_int_equal(imp.format, ZTPD_IMPORT_CSV);
    assert_int_equal(imp.n_errors, 0);
    assert_int_equal(imp.n_rows, 2);
    assert_int_equal(imp.rows[0].line, 2);
    assert_int_equal(imp.rows[1].line, 4); /* the blank line 3 is skipped, but counted */
    assert_string_equal(member(&imp, 0, "mac_address"), "00:15:65:12:34:56");
    assert_string_equal(member(&imp, 1, "mac_address"), "001565123457"); /* trimmed */
    assert_string_equal(member(&imp, 1, "extension_number"), "1002");
    assert_string_equal(member(&imp, 1, "model"), "t46s");
    ztpd_import_free(&imp);
}

static void test_csv_bom_crlf_column_order(void **state)
{
    (void)state;
    struct ztpd_import imp = parse("x.csv", "\xEF\xBB\xBFModel,Vendor,MAC_ADDRESS,extension\r\n"
                                            "t46s,yealink,001565123456,1001\r\n"
                                            "\r\n"
                                            "vvx450,polycom,0004f2123456,1002\r\n");
    assert_int_equal(imp.n_errors, 0);
    assert_int_equal(imp.n_rows, 2);
    assert_int_equal(imp.rows[1].line, 4);
    assert_string_equal(member(&imp, 0, "mac_address"), "001565123456");
    assert_string_equal(member(&imp, 0, "vendor"), "yealink");
    assert_string_equal(member(&imp, 1, "model"), "vvx450");
    /* no CR left in the last field */
    assert_string_equal(member(&imp, 1, "extension_number"), "1002");
    ztpd_import_free(&imp);
}

static void test_csv_quoted_fields(void **state)
{
    (void)state;
    struct ztpd_import imp = parse("q.csv", "mac,extension,vendor,model\n"
                                            "\"00:15:65:12:34:56\",\"10,01\",\"yea\"\"link\",t46s\n"
                                            "\"001565123457\",\"10\n02\",yealink,t46s\n"
                                            "001565123458,1003,yealink,t46s\n");
    assert_int_equal(imp.n_errors, 0);
    assert_int_equal(imp.n_rows, 3);
    assert_string_equal(member(&imp, 0, "extension_number"), "10,01");
    assert_string_equal(member(&imp, 0, "vendor"), "yea\"link");
    assert_string_equal(member(&imp, 1, "extension_number"), "10\n02");
    assert_int_equal(imp.rows[1].line, 3);
    assert_int_equal(imp.rows[2].line, 5); /* the quoted line break counts as a line */
    ztpd_import_free(&imp);
}

static void test_csv_errors_each_with_line(void **state)
{
    (void)state;
    struct ztpd_import imp = parse("bad.csv", "mac,extension,vendor,model\n"
                                              "001565123456,1001,yealink\n"
                                              "001565123457,1002,yealink,t46s\n"
                                              "00156\"5123458,1003,yealink,t46s\n"
                                              "001565123459,,yealink,t46s\n"
                                              "\"001565123450\"x,1004,yealink,t46s\n"
                                              "001565123451,1005,yealink,t46s,extra\n");
    /* Structure errors on lines 2, 4, 6 and 7; the empty extension on line 5 is a device
     * object without extension_number, for validation to call "required". */
    assert_int_equal(imp.n_errors, 4);
    ztpd_import_errors_sort(&imp);
    assert_int_equal(imp.errors[0].line, 2);
    assert_non_null(strstr(imp.errors[0].msg, "3 fields, the header has 4"));
    assert_int_equal(imp.errors[1].line, 4);
    assert_int_equal(imp.errors[2].line, 6);
    assert_int_equal(imp.errors[3].line, 7);
    assert_int_equal(imp.n_rows, 6);
    assert_null(imp.rows[0].obj);
    assert_non_null(imp.rows[1].obj);
    assert_int_equal(imp.rows[3].line, 5);
    assert_null(json_object_get(imp.rows[3].obj, "extension_number"));
    ztpd_import_free(&imp);
}

static void test_csv_bad_header(void **state)
{
    (void)state;
    struct ztpd_import imp = parse("h.csv", "\n\nmac,ext,vendor,model\n001565123456,1,y,t\n");
    assert_true(imp.n_errors >= 1);
    assert_int_equal(imp.errors[0].line, 3);
    assert_non_null(strstr(imp.errors[0].msg, "unknown column 'ext'"));
    assert_int_equal(imp.n_rows, 0);
    ztpd_import_free(&imp);

    imp = parse("e.csv", "");
    assert_int_equal(imp.n_errors, 1);
    assert_non_null(strstr(imp.errors[0].msg, "empty file"));
    ztpd_import_free(&imp);

    imp = parse("u.csv", "mac,extension,vendor,model\n\"001565123456,1,y,t\n");
    assert_int_equal(imp.n_errors, 1);
    assert_int_equal(imp.errors[0].line, 2);
    assert_non_null(strstr(imp.errors[0].msg, "unterminated"));
    ztpd_import_free(&imp);
}

static void test_json_lines(void **state)
{
    (void)state;
    struct ztpd_import imp = parse(
        "d.json", "[\n"
                  "  {\"mac_address\": \"001565123456\", \"extension_number\": \"1001\",\n"
                  "   \"vendor\": \"yealink\", \"model\": \"t46s\", \"note\": \"a [b], {c}\"},\n"
                  "  {\"mac_address\": \"001565123457\",\n"
                  "   \"extension_number\": 1002, \"vendor\": \"yealink\", \"model\": "
                  "\"t46s\"},\n"
                  "  \"not an object\"\n"
                  "]\n");
    assert_int_equal(imp.format, ZTPD_IMPORT_JSON);
    assert_int_equal(imp.n_rows, 3);
    assert_int_equal(imp.rows[0].line, 2);
    assert_int_equal(imp.rows[1].line, 4);
    assert_int_equal(imp.rows[2].line, 6);
    assert_int_equal(imp.n_errors, 1);
    assert_int_equal(imp.errors[0].line, 6);
    assert_null(imp.rows[2].obj);
    assert_true(json_is_integer(json_object_get(imp.rows[1].obj, "extension_number")));
    ztpd_import_free(&imp);
}

static void test_json_sniffed_and_malformed(void **state)
{
    (void)state;
    /* No extension: the first character decides; a BOM and CRLF do not confuse it. */
    struct ztpd_import imp = parse("-", "\xEF\xBB\xBF\r\n[{\"mac_address\":\"001565123456\"}]");
    assert_int_equal(imp.format, ZTPD_IMPORT_JSON);
    assert_int_equal(imp.n_rows, 1);
    assert_int_equal(imp.rows[0].line, 2);
    ztpd_import_free(&imp);

    imp = parse("m.json", "[\n{\"mac_address\": \"x\",\n}\n]");
    assert_int_equal(imp.n_rows, 0);
    assert_int_equal(imp.n_errors, 1);
    assert_int_equal(imp.errors[0].line, 3);
    assert_non_null(strstr(imp.errors[0].msg, "malformed JSON"));
    ztpd_import_free(&imp);

    imp = parse("o.json", "{\"devices\": []}");
    assert_int_equal(imp.n_errors, 1);
    assert_non_null(strstr(imp.errors[0].msg, "expected a JSON array"));
    ztpd_import_free(&imp);

    imp = parse(NULL, "mac,extension,vendor,model\n");
    assert_int_equal(imp.format, ZTPD_IMPORT_CSV);
    assert_int_equal(imp.n_rows, 0);
    assert_int_equal(imp.n_errors, 0);
    ztpd_import_free(&imp);
}

static void test_dechunk(void **state)
{
    (void)state;
    char body[] = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
    size_t n = 0;
    assert_int_equal(ztpd_http_dechunk(body, strlen(body), &n), 1);
    assert_int_equal(n, 12);
    assert_memory_equal(body, "hello, world", 12);

    char partial[] = "5\r\nhel";
    assert_int_equal(ztpd_http_dechunk(partial, strlen(partial), &n), 0);
    char no_end[] = "5\r\nhello\r\n0\r\n";
    assert_int_equal(ztpd_http_dechunk(no_end, strlen(no_end), &n), 0);
    char bad[] = "zz\r\nhello\r\n";
    assert_int_equal(ztpd_http_dechunk(bad, strlen(bad), &n), -1);
    char bad_crlf[] = "5\r\nhelloXX0\r\n\r\n";
    assert_int_equal(ztpd_http_dechunk(bad_crlf, strlen(bad_crlf), &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_basic_lines),
        cmocka_unit_test(test_csv_bom_crlf_column_order),
        cmocka_unit_test(test_csv_quoted_fields),
        cmocka_unit_test(test_csv_errors_each_with_line),
        cmocka_unit_test(test_csv_bad_header),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_json_sniffed_and_malformed),
        cmocka_unit_test(test_dechunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
