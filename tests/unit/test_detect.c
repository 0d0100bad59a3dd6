/* Phone detection from the built-in vendor profiles: the HTTP and SIP User-Agents VENDORS.md
 * records for every vendor give vendor, model id, firmware and (where sent) MAC; OUIs name the
 * vendor when the User-Agent does not (Zultys 000bea); detect functions (per kind and whole)
 * work, and a broken or runaway one fails only its own match. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log.h"
#include "lua/detect.h"
#include "lua/engine.h"
#include "lua/vendors.h"

#ifndef ZTPD_TEST_TMP
#define ZTPD_TEST_TMP "/tmp/ztpd-test"
#endif

struct fixture {
    struct ztpd_lua *L;
    struct ztpd_vendors *vs;
};

static const char *source_dir(void)
{
    const char *env = getenv("ZTPD_SOURCE_DIR");
#ifdef ZTPD_SOURCE_DIR
    if (!env || !*env)
        env = ZTPD_SOURCE_DIR;
#endif
    return env;
}

static int setup_builtin(void **state)
{
    static struct fixture f;
    char dir[1024];
    ztpd_log_init(ZTPD_LOG_ERROR, NULL);
    snprintf(dir, sizeof dir, "%s/vendors", source_dir());
    const char *dirs[] = {dir, NULL};
    assert_int_equal(ztpd_lua_new(&f.L), 0);
    assert_int_equal(ztpd_vendors_load(&f.vs, f.L, dirs), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ztpd_vendors_free(f->vs, f->L);
    ztpd_lua_free(f->L);
    return 0;
}

struct ua_case {
    enum ztpd_ua_kind kind;
    const char *ua;
    const char *vendor, *model;
    int model_known;
    const char *firmware, *mac;
};

/* Real User-Agents from VENDORS.md (§1.2-7), one or more per vendor and kind. */
static const struct ua_case cases[] = {
    /* Zultys: no MAC in the User-Agent, a space inside the model */
    {ZTPD_UA_HTTP, "Zultys ZIP 37G - 27.71.132.29", "zultys", "zip37g", 1, "27.71.132.29", ""},
    {ZTPD_UA_SIP, "Zultys ZIP 33G - 47.80.132.4", "zultys", "zip33g", 1, "47.80.132.4", ""},
    /* Yealink: MAC with colons, or without on T5x */
    {ZTPD_UA_HTTP, "Yealink SIP-T46S 66.86.0.15 80:5e:c0:aa:bb:cc", "yealink", "t46s", 1,
     "66.86.0.15", "805ec0aabbcc"},
    {ZTPD_UA_HTTP, "Yealink SIP-T48G 35.72.0.6 00:15:65:5c:60:82", "yealink", "t48g", 0,
     "35.72.0.6", "0015655c6082"},
    {ZTPD_UA_HTTP, "Yealink SIP-T56A 58.80.0.25 001565f429a4", "yealink", "t56a", 0, "58.80.0.25",
     "001565f429a4"},
    {ZTPD_UA_HTTP, "yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b", "yealink", "t28p", 0,
     "2.70.0.140", "00156513ae0b"},
    {ZTPD_UA_SIP, "Yealink SIP-T23G 44.80.0.60", "yealink", "t23g", 0, "44.80.0.60", ""},
    /* Polycom: model with "_", no MAC */
    {ZTPD_UA_HTTP, "FileTransport PolycomVVX-VVX_450-UA/5.9.1.0615 Type/Application", "polycom",
     "vvx450", 1, "5.9.1.0615", ""},
    {ZTPD_UA_HTTP, "FileTransport PolycomVVX-VVX_410-UA/5.9.5.0614 Type/Updater", "polycom",
     "vvx410", 1, "5.9.5.0614", ""},
    {ZTPD_UA_SIP, "PolycomSoundPointIP SPIP_550 UA 3.3.2.0413", "polycom", "spip550", 0,
     "3.3.2.0413", ""},
    /* Cisco: uppercase MAC in the first parentheses; the SPA525G sends its serial number */
    {ZTPD_UA_HTTP, "Cisco/SPA504G-7.5.5 (8843E157DDCC)(CBT141100HR)", "cisco", "spa504g", 1,
     "7.5.5", "8843e157ddcc"},
    {ZTPD_UA_HTTP, "Cisco/SPA525G-7.4.7 (CBT141900G7)", "cisco", "spa525g", 0, "7.4.7", ""},
    {ZTPD_UA_SIP, "Cisco/SPA525G2-7.6.1(ES_RC01)", "cisco", "spa525g2", 1, "7.6.1(ES_RC01)", ""},
    /* Grandstream: MAC lowercase after DevId, hardware version between model and SW */
    {ZTPD_UA_HTTP, "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872", "grandstream",
     "gxp2135", 1, "1.0.7.97", "000b828aa872"},
    {ZTPD_UA_HTTP, "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "grandstream",
     "gxp1628", 1, "1.0.4.138", "c074ad2bd859"},
    {ZTPD_UA_SIP, "Grandstream GXP2130 1.0.7.25", "grandstream", "gxp2130", 0, "1.0.7.25", ""},
    /* Snom: uppercase MAC near the end; older firmware without */
    {ZTPD_UA_HTTP,
     "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 "
     "UXM:0)",
     "snom", "d785", 1, "10.1.33.33", "000413922d24"},
    {ZTPD_UA_HTTP, "Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)", "snom", "320", 0,
     "8.4.18", ""},
    /* Fanvil: model may hold a space, MAC last */
    {ZTPD_UA_HTTP, "Fanvil X4 2.10.2.6887 0c383e07e16c", "fanvil", "x4", 1, "2.10.2.6887",
     "0c383e07e16c"},
    {ZTPD_UA_HTTP, "Fanvil X6U Pro 0.0.10 0c383e2cd782", "fanvil", "x6upro", 0, "0.0.10",
     "0c383e2cd782"},
};

static void test_real_user_agents(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ua_case *c = &cases[i];
        struct ztpd_detect d;
        int found = ztpd_vendors_detect(f->vs, f->L, c->kind, c->ua, NULL, &d);
        if (!found || strcmp(d.vendor->name, c->vendor) || strcmp(d.model, c->model) ||
            d.model_known != c->model_known || strcmp(d.firmware, c->firmware) ||
            strcmp(d.mac, c->mac) || !d.by_ua)
            fail_msg("%s: got found=%d vendor=%s model=%s known=%d fw=%s mac=%s", c->ua, found,
                     found ? d.vendor->name : "-", d.model, d.model_known, d.firmware, d.mac);
    }
}

static void test_oui_only(void **state)
{
    struct fixture *f = *state;
    struct ztpd_detect d;
    static const struct {
        const char *mac, *vendor;
    } ouis[] = {
        {"000bea85bc14", "zultys"}, {"001565123456", "yealink"},     {"0004f2abcdef", "polycom"},
        {"8843e157ddcc", "cisco"},  {"000b828aa872", "grandstream"}, {"000413922d24", "snom"},
        {"0c383e07e16c", "fanvil"},
    };
    for (size_t i = 0; i < sizeof ouis / sizeof ouis[0]; i++) {
        assert_int_equal(ztpd_vendors_detect(f->vs, f->L, ZTPD_UA_HTTP, NULL, ouis[i].mac, &d), 1);
        assert_string_equal(d.vendor->name, ouis[i].vendor);
        assert_int_equal(d.by_ua, 0);
        assert_string_equal(d.model, "");
    }
    /* an unknown User-Agent falls back to the OUI */
    assert_int_equal(
        ztpd_vendors_detect(f->vs, f->L, ZTPD_UA_HTTP, "curl/8.5.0", "000bea85bc14", &d), 1);
    assert_string_equal(d.vendor->name, "zultys");
    /* nothing known at all */
    assert_int_equal(
        ztpd_vendors_detect(f->vs, f->L, ZTPD_UA_HTTP, "curl/8.5.0", "aabbcc000000", &d), 0);
    assert_null(d.vendor);
    assert_int_equal(ztpd_vendors_detect(f->vs, f->L, ZTPD_UA_HTTP, NULL, NULL, &d), 0);
    assert_null(ztpd_vendors_by_oui(f->vs, "0015"));
}

static void test_model_match(void **state)
{
    struct fixture *f = *state;
    const struct ztpd_vendor *z = ztpd_vendors_find(f->vs, "zultys");
    const struct ztpd_vendor *p = ztpd_vendors_find(f->vs, "polycom");
    assert_non_null(z);
    assert_non_null(p);
    assert_string_equal(ztpd_vendor_model_match(z, "ZIP 37G"), "zip37g");
    assert_string_equal(ztpd_vendor_model_match(z, "zip-33g"), "zip33g");
    assert_string_equal(ztpd_vendor_model_match(p, "VVX_450"), "vvx450");
    assert_null(ztpd_vendor_model_match(p, "VVX_9999"));
    assert_null(ztpd_vendor_model_match(p, ""));
    assert_null(ztpd_vendor_model_match(p, " _-"));
}

/* A User-Agent far longer than the stored limit is cut, not refused. */
static void test_long_user_agent(void **state)
{
    struct fixture *f = *state;
    char ua[4096];
    memset(ua, 'x', sizeof ua - 1);
    ua[sizeof ua - 1] = 0;
    memcpy(ua, "Zultys ZIP 37G - 27.71.132.29 ", 30);
    struct ztpd_detect d;
    assert_int_equal(ztpd_vendors_detect(f->vs, f->L, ZTPD_UA_HTTP, ua, NULL, &d), 1);
    assert_string_equal(d.vendor->name, "zultys");
    assert_string_equal(d.model, "zip37g");
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Custom vendors: detect entries that are functions, a whole detect function, a runaway one,
 * one returning the wrong type, and an OUI shared with another vendor. */
static void test_detect_functions(void **state)
{
    (void)state;
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/detect-vendors", ZTPD_TEST_TMP);
    mkdir(ZTPD_TEST_TMP, 0755);
    mkdir(dir, 0755);
    const char *common = "  files = { { match = '{mac}.cfg', template = 'device' } },\n"
                         "  models = { m100 = { label = 'M-100', lines = 1 } },\n"
                         "  format = 'ini',\n}\n";
    char text[2048];
    snprintf(path, sizeof path, "%s/alpha.lua", dir);
    snprintf(text, sizeof text,
             "return { name = 'alpha', label = 'Alpha', mac_variable = '$mac',\n"
             "  oui = { 'a1a1a1' },\n"
             "  detect = {\n"
             "    http_ua = function(ua)\n"
             "      local m, fw = ua:match('^Alpha (%%S+) v(%%S+)')\n"
             "      if m then return { model = m, firmware = fw, mac = 'a1a1a1000001' } end\n"
             "    end,\n"
             "    sip_ua = '^AlphaSIP (%%S+)/(%%S+)',\n"
             "  },\n%s",
             common);
    write_file(path, text);
    snprintf(path, sizeof path, "%s/beta.lua", dir);
    snprintf(text, sizeof text,
             "return { name = 'beta', label = 'Beta', mac_variable = '$mac',\n"
             "  oui = { 'b2b2b2' },\n"
             "  detect = function(ua, kind)\n"
             "    if ua:find('^Shared') then return { model = kind } end\n"
             "    if ua == 'loop' then while true do end end\n"
             "    if ua == 'bad' then return 42 end\n"
             "  end,\n%s",
             common);
    write_file(path, text);
    snprintf(path, sizeof path, "%s/gamma.lua", dir);
    snprintf(text, sizeof text,
             "return { name = 'gamma', label = 'Gamma', mac_variable = '$mac',\n"
             "  oui = { 'c3c3c3' },\n"
             "  detect = { http_ua = '^Shared' },\n%s",
             common);
    write_file(path, text);

    struct ztpd_lua *L;
    struct ztpd_vendors *vs;
    const char *dirs[] = {dir, NULL};
    assert_int_equal(ztpd_lua_new(&L), 0);
    ztpd_lua_set_budget(L, 100000);
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    assert_int_equal(vs->n, 3);

    struct ztpd_detect d;
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "Alpha M-100 v1.2", NULL, &d), 1);
    assert_string_equal(d.vendor->name, "alpha");
    assert_string_equal(d.model, "m100");
    assert_int_equal(d.model_known, 1);
    assert_string_equal(d.firmware, "1.2");
    assert_string_equal(d.mac, "a1a1a1000001");
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_SIP, "AlphaSIP M100/9.9", NULL, &d), 1);
    assert_string_equal(d.vendor->name, "alpha");
    assert_string_equal(d.firmware, "9.9");
    /* the whole-detect function serves both kinds and gets the kind */
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_SIP, "Shared x", NULL, &d), 1);
    assert_string_equal(d.vendor->name, "beta");
    assert_string_equal(d.model, "sip");
    assert_int_equal(d.model_known, 0);
    /* beta and gamma both match "Shared": the MAC's OUI decides, else the first name */
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "Shared", "c3c3c3000001", &d), 1);
    assert_string_equal(d.vendor->name, "gamma");
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "Shared", "b2b2b2000001", &d), 1);
    assert_string_equal(d.vendor->name, "beta");
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "Shared", NULL, &d), 1);
    assert_string_equal(d.vendor->name, "beta");
    /* a runaway detect function is stopped by the budget; a wrong result type is an error;
     * both only fail their own match, and the OUI still answers */
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "loop", "a1a1a1000002", &d), 1);
    assert_string_equal(d.vendor->name, "alpha");
    assert_int_equal(d.by_ua, 0);
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "bad", NULL, &d), 0);
    /* the state is still usable afterwards */
    assert_int_equal(ztpd_vendors_detect(vs, L, ZTPD_UA_HTTP, "Alpha M-100 v2", NULL, &d), 1);
    assert_string_equal(d.firmware, "2");

    ztpd_vendors_free(vs, L);
    ztpd_lua_free(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_user_agents), cmocka_unit_test(test_oui_only),
        cmocka_unit_test(test_model_match),      cmocka_unit_test(test_long_user_agent),
        cmocka_unit_test(test_detect_functions),
    };
    return cmocka_run_group_tests(tests, setup_builtin, teardown);
}
