/* Vendor profiles and the Lua sandbox: the built-in vendors load with their models, broken
 * vendor files fail with the file and the field, scripts cannot reach io/os.execute/require or
 * each other's globals, runaway scripts are stopped, prepare() feeds the template context, and
 * every built-in vendor x model template renders with no unknown placeholder (XML well-formed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "lua/engine.h"
#include "lua/vendors.h"
#include "template/template.h"
#include "util/error.h"

#ifndef ZTPD_TEST_TMP
#define ZTPD_TEST_TMP "/tmp/ztpd-test"
#endif

static char g_src[1024];
static char g_tmp[1024];

static const char *source_dir(void)
{
    const char *env = getenv("ZTPD_SOURCE_DIR");
#ifdef ZTPD_SOURCE_DIR
    if (!env || !*env)
        env = ZTPD_SOURCE_DIR;
#endif
    return env;
}

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

static void write_file(const char *dir, const char *name, const char *content, size_t len)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int setup(void **state)
{
    struct ztpd_lua *L = NULL;
    ztpd_log_init(ZTPD_LOG_ERROR, NULL); /* the skipped-file warnings are expected here */
    snprintf(g_src, sizeof g_src, "%s", source_dir());
    /* a fixed name, emptied first: the last run's files stay for a look after a failure */
    snprintf(g_tmp, sizeof g_tmp, "%s/vendors", ZTPD_TEST_TMP);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        return -1;
    mkdirs(g_tmp);
    if (ztpd_lua_new(&L))
        return -1;
    /* a tenth of the default keeps the runaway-script cases quick under the sanitizers */
    ztpd_lua_set_budget(L, 1000000);
    *state = L;
    return 0;
}

static int teardown(void **state)
{
    ztpd_lua_free(*state);
    return 0;
}

/* ---- the built-in vendors ---- */

static void test_builtin_vendors(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    const char *names[] = {"cisco", "fanvil",  "grandstream", "polycom",
                           "snom",  "yealink", "zultys"};
    assert_int_equal(vs->n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < vs->n; i++)
        assert_string_equal(vs->items[i]->name, names[i]);

    const struct ztpd_vendor *y = ztpd_vendors_find(vs, "Yealink");
    assert_non_null(y);
    /* the guide's models plus its "future" ones, with line counts and common-file ids */
    static const struct {
        const char *id;
        int lines;
        const char *common_id;
    } ym[] = {{"t28g", 6, "00"},  {"t42s", 12, "67"}, {"t46s", 16, "66"},
              {"t48s", 16, "65"}, {"t54w", 16, "96"}, {"t57w", 16, "97"}};
    assert_int_equal(y->n_models, sizeof ym / sizeof ym[0]);
    for (size_t i = 0; i < y->n_models; i++) {
        assert_string_equal(y->models[i].id, ym[i].id);
        assert_int_equal(y->models[i].lines, ym[i].lines);
        assert_string_equal(y->models[i].common_id, ym[i].common_id);
    }
    assert_string_equal(y->models[2].label, "T46S");
    assert_int_equal(y->format, ZTPD_FMT_INI);
    assert_string_equal(y->template_ext, "cfg");
    assert_string_equal(y->content_type, "text/plain");
    assert_string_equal(y->mac_variable, "$mac");
    assert_string_equal(y->reboot_event, "check-sync;reboot=true");
    assert_false(y->reboot_auth);
    assert_int_equal(y->n_oui, 3);
    assert_string_equal(y->oui[0], "001565");
    assert_non_null(y->http_ua_pattern);
    assert_int_not_equal(y->prepare_ref, -2);
    assert_string_equal(y->files[0].match, "{mac}.cfg");
    assert_string_equal(y->files[0].template, "device");
    assert_non_null(ztpd_vendor_model(y, "T46S"));
    assert_null(ztpd_vendor_model(y, "t99x"));

    const struct ztpd_vendor *z = ztpd_vendors_find(vs, "zultys");
    assert_non_null(z);
    assert_int_equal(z->n_models, 2);
    assert_string_equal(z->models[0].id, "zip33g");
    assert_string_equal(z->models[1].id, "zip37g");
    assert_string_equal(z->oui[0], "000bea");
    assert_string_equal(z->reboot_event, "check-sync;reboot=true");

    const struct ztpd_vendor *p = ztpd_vendors_find(vs, "polycom");
    assert_int_equal(p->n_models, 4);
    assert_int_equal(ztpd_vendor_model(p, "vvx250")->lines, 4);
    assert_int_equal(ztpd_vendor_model(p, "vvx350")->lines, 6);
    assert_int_equal(ztpd_vendor_model(p, "vvx410")->lines, 12);
    assert_int_equal(ztpd_vendor_model(p, "vvx450")->lines, 12);
    assert_string_equal(p->files[0].match, "{mac}.cfg");
    assert_string_equal(p->files[0].template, "master");
    assert_int_equal(p->format, ZTPD_FMT_XML);
    assert_string_equal(p->template_ext, "xml");
    assert_string_equal(p->content_type, "application/xml");
    assert_string_equal(p->reboot_event, "check-sync");

    const struct ztpd_vendor *c = ztpd_vendors_find(vs, "cisco");
    assert_int_equal(ztpd_vendor_model(c, "spa504g")->lines, 4);
    assert_int_equal(ztpd_vendor_model(c, "spa525g2")->lines, 5);
    assert_int_equal(ztpd_vendor_model(c, "spa303")->lines, 3);
    assert_string_equal(c->mac_variable, "$MA");
    assert_string_equal(c->reboot_event, "resync");
    assert_true(c->reboot_auth);

    const struct ztpd_vendor *g = ztpd_vendors_find(vs, "grandstream");
    assert_non_null(ztpd_vendor_model(g, "gxp2170"));
    assert_non_null(ztpd_vendor_model(g, "gxp1620"));
    assert_non_null(ztpd_vendor_model(g, "gxp1628"));
    assert_non_null(ztpd_vendor_model(g, "gxp2135"));
    assert_int_equal(g->n_oui, 2);
    assert_string_equal(g->oui[1], "c074ad");
    assert_string_equal(g->reboot_event, "check-sync");

    /* the drop-in vendors: Snom names files by the uppercase MAC */
    const struct ztpd_vendor *s = ztpd_vendors_find(vs, "snom");
    assert_non_null(s);
    assert_string_equal(s->files[0].match, "{MAC}.xml");
    assert_string_equal(s->oui[0], "000413");
    assert_non_null(ztpd_vendor_model(s, "d785"));
    const struct ztpd_vendor *f = ztpd_vendors_find(vs, "fanvil");
    assert_non_null(f);
    assert_string_equal(f->oui[0], "0c383e");
    assert_string_equal(f->reboot_event, "check-sync");
    assert_int_equal(f->format, ZTPD_FMT_XML);

    /* every vendor serves {mac}.cfg (the core takes the MAC from the last path component), has
     * a reboot event, both detect patterns, an OUI and a device file for every model */
    for (size_t i = 0; i < vs->n; i++) {
        const struct ztpd_vendor *v = vs->items[i];
        int found = 0;
        for (size_t k = 0; k < v->n_files; k++)
            found |= !strcmp(v->files[k].match, "{mac}.cfg");
        if (!found)
            fail_msg("%s: no {mac}.cfg entry", v->name);
        assert_non_null(v->reboot_event);
        assert_non_null(v->http_ua_pattern);
        assert_non_null(v->sip_ua_pattern);
        assert_true(v->n_oui > 0);
    }
    ztpd_vendors_free(vs, L);
}

/* ---- broken vendor files ---- */

#define GOOD_REST                                                                                  \
    "label = 'X', mac_variable = '$mac', format = 'ini',"                                          \
    " files = { { match = '{mac}.cfg', template = 'device' } },"                                   \
    " models = { m1 = { label = 'M1', lines = 1 } } }"

struct bad_case {
    const char *stem;
    const char *src;
    int rc;
    const char *expect; /* substring of the error after the file name */
};

/* a vendor file with the given files list and one extra top-level field (may be "") */
#define WITH_FILES(stem, files, extra)                                                             \
    "return { name = '" stem "', label = 'X', mac_variable = '$mac', format = 'ini', " extra       \
    " files = " files ", models = { m1 = { label = 'M1', lines = 1 } } }"

static const struct bad_case bad_cases[] = {
    {"no_name", "return { " GOOD_REST, ZTPD_EINVAL, "name: missing"},
    /* profile version 2: upload entries and the provisioning table */
    {"up_tpl",
     WITH_FILES("up_tpl", "{ { match = '{mac}-a.log', upload = true, template = 'x' } }", ""),
     ZTPD_EINVAL, "files[1]: upload excludes template and status"},
    {"up_status",
     WITH_FILES("up_status", "{ { match = '{mac}-a.log', upload = true, status = 404 } }", ""),
     ZTPD_EINVAL, "files[1]: upload excludes template and status"},
    {"up_nomac", WITH_FILES("up_nomac", "{ { match = 'app.log', upload = true } }", ""),
     ZTPD_EINVAL, "files[1].match: an upload belongs to one phone: the name needs {mac} or {MAC}"},
    {"up_type", WITH_FILES("up_type", "{ { match = '{mac}.log', upload = 'yes' } }", ""),
     ZTPD_EINVAL, "files[1].upload: expected true or false"},
    {"up_false", WITH_FILES("up_false", "{ { match = '{mac}.log', upload = false } }", ""),
     ZTPD_EINVAL, "files[1]: needs template = \"<role>\", status = <code> or upload = true"},
    {"m_slash", WITH_FILES("m_slash", "{ { match = 'dir/{mac}.cfg', template = 'device' } }", ""),
     ZTPD_EINVAL, "files[1].match: must be a file name without \"/\""},
    {"m_anyany", WITH_FILES("m_anyany", "{ { match = '{any}{any}.cfg', status = 404 } }", ""),
     ZTPD_EINVAL, "files[1].match: two {any} in a row"},
    {"m_unknown", WITH_FILES("m_unknown", "{ { match = '{serial}.cfg', status = 404 } }", ""),
     ZTPD_EINVAL, "files[1].match: unknown placeholder {serial}"},
    {"p_nourl",
     WITH_FILES("p_nourl", "{ { match = '{mac}.cfg', template = 'device' } }",
                "provisioning = { notes = 'n' },"),
     ZTPD_EINVAL, "provisioning.url: missing"},
    {"p_typo",
     WITH_FILES("p_typo", "{ { match = '{mac}.cfg', template = 'device' } }",
                "provisioning = { url = 'http://{server}/', note = 'n' },"),
     ZTPD_EINVAL, "provisioning.note: unknown field"},
    {"p_type",
     WITH_FILES("p_type", "{ { match = '{mac}.cfg', template = 'device' } }",
                "provisioning = 'http://{server}/',"),
     ZTPD_EINVAL, "provisioning: expected a table"},
    {"p_dhcp",
     WITH_FILES("p_dhcp", "{ { match = '{mac}.cfg', template = 'device' } }",
                "provisioning = { url = 'u', dhcp_option_66 = 66 },"),
     ZTPD_EINVAL, "provisioning.dhcp_option_66: expected a string, got number"},
    {"stem_mismatch", "return { name = 'other', " GOOD_REST, ZTPD_EINVAL,
     "name: \"other\" must equal the file name \"stem_mismatch\""},
    {"Upper", "return { name = 'Upper', " GOOD_REST, ZTPD_EINVAL,
     "name: must be lowercase letters, digits and _"},
    {"zero_lines",
     "return { name = 'zero_lines', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' } },"
     " models = { t46s = { label = 'T46S', lines = 0 } } }",
     ZTPD_EINVAL, "models.t46s.lines: expected a positive integer"},
    {"float_lines",
     "return { name = 'float_lines', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' } },"
     " models = { t46s = { label = 'T46S', lines = 1.5 } } }",
     ZTPD_EINVAL, "models.t46s.lines: expected a positive integer"},
    {"string_lines",
     "return { name = 'string_lines', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' } },"
     " models = { t46s = { label = 'T46S', lines = '4' } } }",
     ZTPD_EINVAL, "models.t46s.lines: expected a positive integer"},
    {"unknown_field", "return { name = 'unknown_field', lable = 'typo', " GOOD_REST, ZTPD_EINVAL,
     "lable: unknown field"},
    {"unknown_model_field",
     "return { name = 'unknown_model_field', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' } },"
     " models = { m1 = { label = 'M1', lines = 1, line = 2 } } }",
     ZTPD_EINVAL, "models.m1.line: unknown field"},
    {"bad_model_id",
     "return { name = 'bad_model_id', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' } },"
     " models = { T46S = { label = 'T46S', lines = 1 } } }",
     ZTPD_EINVAL, "models.T46S: model ids are lowercase"},
    {"no_models",
     "return { name = 'no_models', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' } }, models = {} }",
     ZTPD_EINVAL, "models: expected at least one model"},
    {"bad_format",
     "return { name = 'bad_format', label = 'X', mac_variable = '$mac',"
     " format = 'json', files = { { match = '{mac}.cfg', template = 'device' } },"
     " models = { m1 = { label = 'M1', lines = 1 } } }",
     ZTPD_EINVAL, "format: expected \"ini\" or \"xml\""},
    {"bad_placeholder",
     "return { name = 'bad_placeholder', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg', template = 'device' },"
     " { match = '{serial}.cfg', template = 'device' } },"
     " models = { m1 = { label = 'M1', lines = 1 } } }",
     ZTPD_EINVAL, "files[2].match: unknown placeholder {serial}"},
    {"file_no_action",
     "return { name = 'file_no_action', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.cfg' } }, models = { m1 = { label = 'M1', lines = 1 } } }",
     ZTPD_EINVAL, "files[1]: needs template"},
    {"file_bad_status",
     "return { name = 'file_bad_status', label = 'X', mac_variable = '$mac', format = 'ini',"
     " files = { { match = '{mac}.boot', status = 42 } },"
     " models = { m1 = { label = 'M1', lines = 1 } } }",
     ZTPD_EINVAL, "files[1].status: expected an HTTP status code"},
    {"bad_oui", "return { name = 'bad_oui', oui = { '001565', '00:15:65' }, " GOOD_REST,
     ZTPD_EINVAL, "oui[2]: expected 6 hex digits"},
    {"bad_reboot",
     "return { name = 'bad_reboot', reboot = { event = 'check-sync', auth = 'yes' }, " GOOD_REST,
     ZTPD_EINVAL, "reboot.auth: expected true or false"},
    {"bad_prepare", "return { name = 'bad_prepare', prepare = 'not a function', " GOOD_REST,
     ZTPD_EINVAL, "prepare: expected a function"},
    {"not_a_table", "return 42", ZTPD_EINVAL, "expected the file to return a table, got number"},
    {"syntax_error", "return { name = ", ZTPD_ELUA, "syntax_error.lua:1:"},
    {"runtime_error", "local t = nil\nreturn t.x", ZTPD_ELUA,
     "runtime_error.lua:2: attempt to index a nil value"},
    {"infinite_loop", "while true do end", ZTPD_ELUA, "instruction budget exceeded"},
    {"pcall_loop", "while true do pcall(function() while true do end end) end", ZTPD_ELUA,
     "instruction budget exceeded"},
    {"uses_io", "local f = io.open('/etc/passwd')", ZTPD_ELUA, "global 'io'"},
    {"uses_os_execute", "os.execute('touch /tmp/ztpd-pwned')", ZTPD_ELUA, "field 'execute'"},
    {"uses_os_getenv", "return os.getenv('HOME')", ZTPD_ELUA, "field 'getenv'"},
    {"uses_require", "local os = require('os')", ZTPD_ELUA, "global 'require'"},
    {"uses_dofile", "dofile('/etc/passwd')", ZTPD_ELUA, "global 'dofile'"},
    {"uses_load", "load('return 1')", ZTPD_ELUA, "global 'load'"},
    {"uses_debug", "debug.getregistry()", ZTPD_ELUA, "global 'debug'"},
    {"uses_string_mt", "getmetatable('').__index.upper = nil", ZTPD_ELUA,
     "attempt to index a boolean value"},
    {"env_metatable", "setmetatable(_ENV, nil)", ZTPD_ELUA, "cannot change a protected metatable"},
    {"memory_bomb", "local t = {} for i = 1, 64 do t[i] = string.rep('x', 1 << 24) .. i end",
     ZTPD_ELUA, "not enough memory"},
};

static void test_bad_vendor_files(void **state)
{
    struct ztpd_lua *L = *state;
    char path[2048], err[1024];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        char name[128];
        snprintf(name, sizeof name, "%s.lua", c->stem);
        write_file(g_tmp, name, c->src, strlen(c->src));
        snprintf(path, sizeof path, "%s/%s", g_tmp, name);
        struct ztpd_vendor *v = NULL;
        err[0] = 0;
        int rc = ztpd_vendor_load_file(&v, L, path, err, sizeof err);
        if (rc != c->rc || strncmp(err, path, strlen(path)) || !strstr(err, c->expect))
            fail_msg("%s: rc %d (want %d), err \"%s\" (want the path and \"%s\")", c->stem, rc,
                     c->rc, err, c->expect);
        assert_null(v);
        assert_null(strchr(err, '\n')); /* one line: the traceback goes to the debug log */
    }
    /* a binary chunk is refused even with a valid header */
    static const char bin[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n";
    write_file(g_tmp, "bytecode.lua", bin, sizeof bin - 1);
    snprintf(path, sizeof path, "%s/bytecode.lua", g_tmp);
    struct ztpd_vendor *v = NULL;
    assert_int_equal(ztpd_vendor_load_file(&v, L, path, err, sizeof err), ZTPD_ELUA);
    assert_non_null(strstr(err, "binary chunk"));
    assert_int_equal(access("/tmp/ztpd-pwned", F_OK), -1);

    /* the state is still usable after the budget and memory errors */
    const char *good = "return { name = 'still_fine', " GOOD_REST;
    write_file(g_tmp, "still_fine.lua", good, strlen(good));
    snprintf(path, sizeof path, "%s/still_fine.lua", g_tmp);
    assert_int_equal(ztpd_vendor_load_file(&v, L, path, err, sizeof err), 0);
    assert_string_equal(v->content_type, "text/plain");
    assert_int_equal(v->prepare_ref, -2);
    ztpd_vendor_free(v, L);
}

/* ---- sandbox ---- */

static void test_sandbox_isolation(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], path[2048], err[1024];
    snprintf(dir, sizeof dir, "%s/iso", g_tmp);
    mkdirs(dir);
    const char *a = "leaked = 42\n"
                    "string.leaked = true\n"
                    "ztpd.utc_offset_minutes = nil; ztpd.leaked = true\n"
                    "_G.also = 1\n"
                    "counter = 0\n"
                    "return { name = 'aaa', prepare = function(ctx) counter = counter + 1;"
                    " ctx.COUNT = counter end, " GOOD_REST;
    const char *b = "assert(leaked == nil, 'global leaked')\n"
                    "assert(also == nil, '_G leaked')\n"
                    "assert(string.leaked == nil, 'library change leaked')\n"
                    "assert(ztpd.leaked == nil, 'ztpd change leaked')\n"
                    "assert(ztpd.utc_offset_minutes('-5') == -300, 'ztpd helper lost')\n"
                    "assert(string.upper('a') == 'A')\n"
                    "assert(('x'):rep(3) == 'xxx')\n"
                    "assert(os.time() > 0 and os.date('!%Y', 0) == '1970')\n"
                    "assert(math.floor(2.5) == 2 and utf8.char(65) == 'A')\n"
                    "assert(table.concat({'a','b'}, ',') == 'a,b')\n"
                    "return { name = 'bbb', prepare = function(ctx) ctx.SEEN ="
                    " tostring(counter) end, " GOOD_REST;
    write_file(dir, "aaa.lua", a, strlen(a));
    write_file(dir, "bbb.lua", b, strlen(b));
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    if (vs->n != 2) {
        snprintf(path, sizeof path, "%s/bbb.lua", dir);
        struct ztpd_vendor *v = NULL;
        ztpd_vendor_load_file(&v, L, path, err, sizeof err);
        fail_msg("bbb.lua did not load: %s", err);
    }

    /* each file keeps its own globals across calls, and sees no other file's */
    struct ztpd_tpl_ctx *ctx = NULL;
    assert_int_equal(ztpd_tpl_ctx_new(&ctx), 0);
    assert_int_equal(ztpd_vendor_prepare(ztpd_vendors_find(vs, "aaa"), L, ctx, err, sizeof err), 0);
    assert_int_equal(ztpd_vendor_prepare(ztpd_vendors_find(vs, "aaa"), L, ctx, err, sizeof err), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "COUNT"), "2");
    assert_int_equal(ztpd_vendor_prepare(ztpd_vendors_find(vs, "bbb"), L, ctx, err, sizeof err), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "SEEN"), "nil");
    ztpd_tpl_ctx_free(ctx);
    ztpd_vendors_free(vs, L);
}

/* ---- ztpd.utc_offset_minutes ---- */

/* Runs src in a fresh sandbox (the way a vendor file runs); returns ztpd_lua_pcall()'s code. */
static int run_sandboxed(struct ztpd_lua *zl, const char *name, const char *src, char *err,
                         size_t errlen)
{
    lua_State *L = ztpd_lua_state(zl);
    assert_int_equal(luaL_loadbufferx(L, src, strlen(src), name, "t"), LUA_OK);
    ztpd_lua_push_sandbox(zl);
    assert_non_null(lua_setupvalue(L, -2, 1));
    return ztpd_lua_pcall(zl, 0, 0, err, errlen);
}

/* Calls ztpd.utc_offset_minutes from C with the values the Lua expression list arg gives ("" for
 * none). On success
 * returns 0 and sets *out; on error returns ZTPD_ELUA with the message in err. */
static int call_offset(struct ztpd_lua *zl, const char *arg, long long *out, char *err,
                       size_t errlen)
{
    lua_State *L = ztpd_lua_state(zl);
    char src[256];
    snprintf(src, sizeof src, "return ztpd.utc_offset_minutes%s%s", *arg ? ", " : "", arg);
    int top = lua_gettop(L);
    assert_int_equal(luaL_loadbufferx(L, src, strlen(src), "=arg", "t"), LUA_OK);
    ztpd_lua_push_sandbox(zl);
    assert_non_null(lua_setupvalue(L, -2, 1));
    assert_int_equal(ztpd_lua_pcall(zl, 0, LUA_MULTRET, err, errlen), 0);
    assert_int_equal(lua_type(L, top + 1), LUA_TFUNCTION);
    int rc = ztpd_lua_pcall(zl, lua_gettop(L) - top - 1, 1, err, errlen);
    if (rc == 0) {
        assert_true(lua_isinteger(L, -1));
        *out = (long long)lua_tointeger(L, -1);
    }
    lua_settop(L, top);
    return rc;
}

static void test_utc_offset_minutes(void **state)
{
    struct ztpd_lua *zl = *state;
    char err[1024];
    long long min = 0;

    static const struct {
        const char *arg; /* a Lua expression */
        long long want;
    } good[] = {
        {"'-5'", -300},
        {"'+5:30'", 330},
        {"'5.5'", 330},
        {"'0'", 0},
        {"'+5'", 300},
        {"' -3:30 '", -210},
        {"'-0:30'", -30},
        {"'5:45'", 345},
        {"'\\t9:30\\n'", 570},
        {"'-12'", -720},
        {"'+14'", 840},
        {"'-12:00'", -720},
        {"'14:00'", 840},
        {"'0x2'", 120},
        {"' 1e0 '", 60},
        {"'0.125'", 8},
        {"'-0.125'", -7}, /* halves round up, as floor(x + 0.5) */
        {"'0.0083'", 0},
        {"'-0.0084'", -1},
        {"'13.99'", 839},
        {"-5", -300},
        {"5.5", 330},
        {"-3.5", -210}, /* numbers too */
        {"nil", 0},
        {"false", 0},
        {"", 0}, /* no value: "0" */
        {"setmetatable({}, { __tostring = function() return '+1:15' end })", 75},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        err[0] = 0;
        if (call_offset(zl, good[i].arg, &min, err, sizeof err))
            fail_msg("%s: %s", good[i].arg, err);
        if (min != good[i].want)
            fail_msg("%s: got %lld, want %lld", good[i].arg, min, good[i].want);
    }

    static const struct {
        const char *arg, *want; /* want: the start of the message */
    } bad[] = {
        {"'EST'", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got 'EST'"},
        {"''", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got ''"},
        {"'5:3'", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got '5:3'"},
        {"'123:00'", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got '123:00'"},
        {"'+ 5'", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got '+ 5'"},
        {"'inf'", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got 'inf'"},
        {"'5\\0'", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got '5"},
        {"true", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got 'true'"},
        {"{}", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got 'table: "},
        {"print", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got 'function: "},
        {"math.huge", "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got 'inf'"},
        {"'14:01'", "TIMEZONE_OFFSET: out of range: '14:01'"},
        {"'-12:01'", "TIMEZONE_OFFSET: out of range: '-12:01'"},
        {"'15'", "TIMEZONE_OFFSET: out of range: '15'"},
        {"'-12.01'", "TIMEZONE_OFFSET: out of range: '-12.01'"},
        {"'14.01'", "TIMEZONE_OFFSET: out of range: '14.01'"},
        {"'99:99'", "TIMEZONE_OFFSET: out of range: '99:99'"},
        {"'1e400'", "TIMEZONE_OFFSET: out of range: '1e400'"},
        {"1e300", "TIMEZONE_OFFSET: out of range: '1e+300'"},
        {"-13", "TIMEZONE_OFFSET: out of range: '-13'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        min = 0;
        if (call_offset(zl, bad[i].arg, &min, err, sizeof err) != ZTPD_ELUA)
            fail_msg("%s: no error, got %lld", bad[i].arg, min);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)))
            fail_msg("%s: got \"%s\", want \"%s...\"", bad[i].arg, err, bad[i].want);
    }

    /* Called from Lua, the error names the caller's line, as error() in the old Lua helper did;
     * the ztpd table is there with nothing else in it. */
    const char *pos = "local n = 0\n"
                      "for k, v in pairs(ztpd) do n = n + 1 end\n"
                      "assert(n == 1 and type(ztpd.utc_offset_minutes) == 'function')\n"
                      "ztpd.utc_offset_minutes('+15')\n";
    assert_int_equal(run_sandboxed(zl, "=pos.lua", pos, err, sizeof err), ZTPD_ELUA);
    if (strncmp(err, "pos.lua:4: TIMEZONE_OFFSET: out of range: '+15'", 47))
        fail_msg("got \"%s\"", err);

    /* The helper behaves exactly as the Lua function the built-in vendors used to carry,
     * results and messages alike (integer wrap-around included). */
    const char *same =
        "local function old(ctx)\n"
        "  local s = tostring(ctx.TIMEZONE_OFFSET or '0')\n"
        "  local sign, h, m = s:match('^%s*([+-]?)(%d%d?):(%d%d)%s*$')\n"
        "  local minutes\n"
        "  if sign then\n"
        "    minutes = tonumber(h) * 60 + tonumber(m)\n"
        "    if sign == '-' then minutes = -minutes end\n"
        "  else\n"
        "    local hours = tonumber(s)\n"
        "    if not hours then\n"
        "      error(\"TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got '\" .. s .. "
        "\"'\")\n"
        "    end\n"
        "    minutes = math.floor(hours * 60 + 0.5)\n"
        "  end\n"
        "  if minutes < -12 * 60 or minutes > 14 * 60 then\n"
        "    error(\"TIMEZONE_OFFSET: out of range: '\" .. s .. \"'\")\n"
        "  end\n"
        "  return minutes\n"
        "end\n"
        "local function strip(ok, v)\n"
        "  if ok then return ok, v, math.type(v) end\n"
        "  return ok, (tostring(v):gsub('^[^\\n]-:%d+: ', ''))\n"
        "end\n"
        "local values = { '-5', '+5:30', '5.5', '0', '-0', '+0:00', ' 7 ', '07:05', '1:5',\n"
        "  '12:60', '+14:00', '14:00 ', '-12:00', '-12:01', '0.0083', '0.0084', '-0.0083',\n"
        "  '-0.0084', '0.025', '-0.025', '0.125', '-0.125', '5.00833333', '1e1', '0x0A', '0x.8',\n"
        "  '9223372036854775807', '-9223372036854775808', '153722867280912931', '1e20', '-1e400',\n"
        "  'nan', 'inf', '', ' ', '+', '-:30', '5 :30', '5: 30', '\\v5:30\\f', 'x', '5x', '5\\0',\n"
        "  -5, 5.5, 0, -0.0, 14, 14.5, 1/3, -1/3, 2^53, math.mininteger, math.maxinteger,\n"
        "  math.huge, -math.huge, 0/0, true, false, {} }\n"
        "values[#values + 1] = nil\n"
        "for i = 1, #values + 1 do\n"
        "  local v = values[i]\n"
        "  local ok1, r1, t1 = strip(pcall(old, { TIMEZONE_OFFSET = v }))\n"
        "  local ok2, r2, t2 = strip(pcall(ztpd.utc_offset_minutes, v))\n"
        "  if ok1 ~= ok2 or r1 ~= r2 or t1 ~= t2 then\n"
        "    error(string.format('%q: old %s %s %s, ztpd %s %s %s', tostring(v), tostring(ok1),\n"
        "      tostring(r1), tostring(t1), tostring(ok2), tostring(r2), tostring(t2)), 0)\n"
        "  end\n"
        "end\n";
    if (run_sandboxed(zl, "=same.lua", same, err, sizeof err))
        fail_msg("%s", err);
}

static void test_load_dirs_override(void **state)
{
    struct ztpd_lua *L = *state;
    char builtin[1100], extra[1100];
    snprintf(builtin, sizeof builtin, "%s/vendors", g_src);
    snprintf(extra, sizeof extra, "%s/extra", g_tmp);
    mkdirs(extra);
    const char *y = "return { name = 'yealink', label = 'Local Yealink', mac_variable = '$mac',"
                    " format = 'ini', files = { { match = '{mac}.cfg', template = 'device' } },"
                    " models = { t57w = { label = 'T57W', lines = 16, common_id = '97' } } }";
    const char *broken = "return { name = 'broken' }";
    write_file(extra, "yealink.lua", y, strlen(y));
    write_file(extra, "broken.lua", broken, strlen(broken));
    write_file(extra, "notes.txt", "x", 1);
    const char *dirs[] = {builtin, "/nonexistent/ztpd-vendors", extra, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    assert_int_equal(vs->n, 7); /* broken.lua skipped, yealink replaced */
    const struct ztpd_vendor *v = ztpd_vendors_find(vs, "yealink");
    assert_string_equal(v->label, "Local Yealink");
    assert_non_null(ztpd_vendor_model(v, "t57w"));
    assert_string_equal(vs->items[5]->name, "yealink");
    ztpd_vendors_free(vs, L);

    const char *none[] = {"/nonexistent/ztpd-vendors", NULL};
    vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, none), ZTPD_ENOENT);
    assert_null(vs);
}

/* The detect patterns capture model, firmware and MAC from the User-Agents of VENDORS.md. The
 * patterns run in Lua: a generated vendor file checks them at its top level. */
static void test_detect_patterns(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], err[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    static const struct {
        const char *vendor;
        int sip;
        const char *ua, *model, *fw, *mac; /* model NULL: must not match */
    } cases[] = {
        {"yealink", 0, "Yealink SIP-T46S 66.86.0.15 80:5e:c0:aa:bb:cc", "T46S", "66.86.0.15",
         "80:5e:c0:aa:bb:cc"},
        {"yealink", 0, "yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b", "T28P", "2.70.0.140",
         "00:15:65:13:ae:0b"},
        {"yealink", 0, "Yealink SIP-T56A 58.80.0.25 001565f429a4", "T56A", "58.80.0.25",
         "001565f429a4"},
        {"yealink", 0, "Yealink SIP VP-T49G 51.80.0.10 00:15:65:11:22:33", "T49G", "51.80.0.10",
         "00:15:65:11:22:33"},
        {"yealink", 1, "Yealink SIP-T23G 44.80.0.60", "T23G", "44.80.0.60", NULL},
        {"yealink", 0, "Zultys ZIP 37G - 27.71.132.29", NULL, NULL, NULL},
        {"zultys", 0, "Zultys ZIP 37G - 27.71.132.29", "ZIP 37G", "27.71.132.29", NULL},
        {"zultys", 1, "Zultys ZIP 33G - 47.80.132.4", "ZIP 33G", "47.80.132.4", NULL},
        {"polycom", 0, "FileTransport PolycomVVX-VVX_450-UA/5.9.1.0615 Type/Application", "VVX_450",
         "5.9.1.0615", NULL},
        {"polycom", 1, "PolycomVVX-VVX_450-UA/6.4.3.1234", "VVX_450", "6.4.3.1234", NULL},
        {"polycom", 1, "PolycomSoundPointIP SPIP_550 UA 3.3.2.0413", "SPIP_550", "3.3.2.0413",
         NULL},
        {"cisco", 0, "Cisco/SPA504G-7.5.5 (8843E157DDCC)(CBT141100HR)", "SPA504G", "7.5.5",
         "8843E157DDCC"},
        {"cisco", 0, "Cisco/SPA525G-7.4.7 (CBT141900G7)", "SPA525G", "7.4.7", NULL},
        {"cisco", 1, "Cisco/SPA525G2-7.6.1(ES_RC01)", "SPA525G2", "7.6.1(ES_RC01)", NULL},
        {"grandstream", 0, "Grandstream Model HW GXV3350  V1.3A SW 1.0.1.8 DevId c074ad150b88",
         "GXV3350", "1.0.1.8", "c074ad150b88"},
        {"grandstream", 0, "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872", "GXP2135",
         "1.0.7.97", "000b828aa872"},
        {"grandstream", 1, "Grandstream GXP2130 1.0.7.25", "GXP2130", "1.0.7.25", NULL},
        {"grandstream", 1, "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", NULL,
         NULL, NULL},
        {"grandstream", 0, "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859",
         "GXP1628", "1.0.4.138", "c074ad2bd859"},
        {"fanvil", 0, "Fanvil X4 2.10.2.6887 0c383e07e16c", "X4", "2.10.2.6887", "0c383e07e16c"},
        {"fanvil", 0, "Fanvil X5U-V2 2.12.16.17 0c383e557eb1", "X5U-V2", "2.12.16.17",
         "0c383e557eb1"},
        {"fanvil", 0, "Fanvil X6U Pro 0.0.10 0c383e2cd782", "X6U Pro", "0.0.10", "0c383e2cd782"},
        {"fanvil", 1, "Fanvil X4 2.10.2.6887", "X4", "2.10.2.6887", ""},
        {"fanvil", 0, "Yealink SIP-T46S 66.86.0.15 80:5e:c0:aa:bb:cc", NULL, NULL, NULL},
        {"snom", 0,
         "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 "
         "SXM:0 UXM:0)",
         "D785", "10.1.33.33", "000413922D24"},
        {"snom", 0,
         "Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)", "710",
         "8.7.5.35", "000413741767"},
        {"snom", 0, "Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)", "320", "8.4.18", ""},
        {"snom", 1, "snomD785/10.1.33.33", "D785", "10.1.33.33", NULL},
        {"snom", 0, "Fanvil X4 2.10.2.6887 0c383e07e16c", NULL, NULL, NULL},
    };
    size_t cap = 16384, len = 0;
    char *src = malloc(cap);
    assert_non_null(src);
    len += (size_t)snprintf(src + len, cap - len,
                            "local function check(pat, ua, m, f, mac)\n"
                            "  local a, b, c = string.match(ua, pat)\n"
                            "  if a ~= m or (m and (b ~= f or (mac and c ~= mac))) then\n"
                            "    error(ua .. ' => ' .. tostring(a) .. ' ' .. tostring(b) .. ' '"
                            " .. tostring(c), 0)\n"
                            "  end\n"
                            "end\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ztpd_vendor *v = ztpd_vendors_find(vs, cases[i].vendor);
        const char *pat = cases[i].sip ? v->sip_ua_pattern : v->http_ua_pattern;
        assert_non_null(pat);
        len += (size_t)snprintf(
            src + len, cap - len, "check([==[%s]==], [==[%s]==], %s%s%s, %s%s%s, %s%s%s)\n", pat,
            cases[i].ua, cases[i].model ? "[==[" : "", cases[i].model ? cases[i].model : "nil",
            cases[i].model ? "]==]" : "", cases[i].fw ? "[==[" : "",
            cases[i].fw ? cases[i].fw : "nil", cases[i].fw ? "]==]" : "",
            cases[i].mac ? "[==[" : "", cases[i].mac ? cases[i].mac : "nil",
            cases[i].mac ? "]==]" : "");
        assert_true(len < cap);
    }
    len += (size_t)snprintf(src + len, cap - len, "return { name = 'detect', " GOOD_REST);
    assert_true(len < cap);
    write_file(g_tmp, "detect.lua", src, len);
    free(src);
    snprintf(path, sizeof path, "%s/detect.lua", g_tmp);
    struct ztpd_vendor *v = NULL;
    if (ztpd_vendor_load_file(&v, L, path, err, sizeof err))
        fail_msg("%s", err);
    ztpd_vendor_free(v, L);
    ztpd_vendors_free(vs, L);
}

/* The example in docs/vendor-profiles.md is a working vendor file. */
static void test_doc_example(void **state)
{
    struct ztpd_lua *L = *state;
    char path[2048], err[1024];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/docs/vendor-profiles.md", g_src);
    char *doc = read_file(path, &len);
    assert_non_null(doc);
    char *start = strstr(doc, "```lua\n");
    assert_non_null(start);
    start += 7;
    char *end = strstr(start, "\n```");
    assert_non_null(end);
    write_file(g_tmp, "acme.lua", start, (size_t)(end - start) + 1);
    free(doc);
    snprintf(path, sizeof path, "%s/acme.lua", g_tmp);
    struct ztpd_vendor *v = NULL;
    if (ztpd_vendor_load_file(&v, L, path, err, sizeof err))
        fail_msg("the documented example does not load: %s", err);
    assert_int_equal(v->n_models, 2);
    assert_string_equal(v->models[1].common_id, "42");
    assert_int_equal(v->n_files, 3);
    assert_int_equal(v->files[2].status, 404);
    struct ztpd_tpl_ctx *ctx = NULL;
    assert_int_equal(ztpd_tpl_ctx_new(&ctx), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "TIMEZONE_OFFSET", "-5"), 0);
    assert_int_equal(ztpd_vendor_prepare(v, L, ctx, err, sizeof err), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "ACME_TZ_MINUTES"), "-300");
    ztpd_tpl_ctx_free(ctx);
    ztpd_vendor_free(v, L);
}

/* ---- prepare ---- */

/* The variables the core sets before prepare() and rendering, with awkward values. */
static struct ztpd_tpl_ctx *core_ctx(const char *vendor, const char *model, const char *offset)
{
    struct ztpd_tpl_ctx *ctx = NULL;
    assert_int_equal(ztpd_tpl_ctx_new(&ctx), 0);
    const char *vars[][2] = {
        {"EXTENSION_NUMBER", "1001"},
        {"EXTENSION_NAME", "O'Brien & <Sons> \"Sales\""},
        {"EXTENSION_PASSWORD", "p&ss<w>rd\"'"},
        {"SIP_SERVER", "192.168.1.14"},
        {"SIP_PORT", "5060"},
        {"SERVER_NAME", "ztpd"},
        {"MAC_ADDRESS", "001565123456"},
        {"MAC_COLON", "00:15:65:12:34:56"},
        {"MAC_UPPER", "001565123456"},
        {"VENDOR", vendor},
        {"MODEL", model},
        {"MODEL_LABEL", model},
        {"LINES", "4"},
        {"COMMON_ID", "66"},
        {"TIMEZONE", "America/New_York"},
        {"TIMEZONE_OFFSET", offset},
        {"NTP_SERVER", "pool.ntp.org"},
        {"PROVISIONING_URL", "http://192.168.1.14:8080/provision/"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        assert_int_equal(ztpd_tpl_ctx_set(ctx, vars[i][0], vars[i][1]), 0);
    return ctx;
}

static void test_prepare_builtin(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], err[1024];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);

    static const struct {
        const char *vendor, *offset, *var, *want;
    } cases[] = {
        {"yealink", "-5", "YEALINK_TIME_ZONE", "-5"},
        {"yealink", "+5:30", "YEALINK_TIME_ZONE", "+5:30"},
        {"zultys", "0", "YEALINK_TIME_ZONE", "+0"},
        {"polycom", "-5", "POLYCOM_GMT_OFFSET", "-18000"},
        {"polycom", "5.5", "POLYCOM_GMT_OFFSET", "19800"},
        {"cisco", "-5", "CISCO_TIME_ZONE", "GMT-05:00"},
        {"cisco", "+9:30", "CISCO_TIME_ZONE", "GMT+09:30"},
        {"grandstream", "-5", "GRANDSTREAM_TIME_ZONE", "UTC+5"},
        {"grandstream", "1", "GRANDSTREAM_TIME_ZONE", "UTC-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ztpd_vendor *v = ztpd_vendors_find(vs, cases[i].vendor);
        struct ztpd_tpl_ctx *ctx = core_ctx(cases[i].vendor, v->models[0].id, cases[i].offset);
        assert_int_equal(ztpd_vendor_prepare(v, L, ctx, err, sizeof err), 0);
        assert_string_equal(ztpd_tpl_ctx_get(ctx, cases[i].var), cases[i].want);
        assert_string_equal(ztpd_tpl_ctx_get(ctx, "LINE_LABEL"), "O'Brien & <Sons> \"Sales\"");
        ztpd_tpl_ctx_free(ctx);
    }

    /* no name: the line label falls back to the number */
    const struct ztpd_vendor *y = ztpd_vendors_find(vs, "yealink");
    struct ztpd_tpl_ctx *ctx = core_ctx("yealink", "t46s", "0");
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", ""), 0);
    assert_int_equal(ztpd_vendor_prepare(y, L, ctx, err, sizeof err), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "LINE_LABEL"), "1001");
    ztpd_tpl_ctx_free(ctx);

    /* a bad offset is an error naming the vendor file and the line */
    ctx = core_ctx("yealink", "t46s", "EST");
    assert_int_equal(ztpd_vendor_prepare(y, L, ctx, err, sizeof err), ZTPD_ELUA);
    assert_non_null(strstr(err, "yealink.lua:"));
    assert_non_null(strstr(err, "TIMEZONE_OFFSET"));
    ztpd_tpl_ctx_free(ctx);
    ztpd_vendors_free(vs, L);
}

static void test_prepare_values_and_errors(void **state)
{
    struct ztpd_lua *L = *state;
    char path[2048], err[1024];
    const char *src = "local mode = 'ok'\n"
                      "return { name = 'prep', prepare = function(ctx)\n"
                      "  if ctx.MODEL == 'boom' then error('boom') end\n"
                      "  if ctx.MODEL == 'loop' then while true do end end\n"
                      "  if ctx.MODEL == 'func' then ctx.F = print; return end\n"
                      "  if ctx.MODEL == 'map' then ctx.M = { a = 1 }; return end\n"
                      "  if ctx.MODEL == 'ret' then return 42 end\n"
                      "  if ctx.MODEL == 'new' then return { ONLY = 'x' } end\n"
                      "  ctx.GREETING = 'hi ' .. ctx.EXTENSION_NUMBER\n"
                      "  ctx.INT = 7; ctx.FLOAT = 3600 / 2; ctx.FRAC = 0.25\n"
                      "  ctx.YES = true; ctx.NO = false; ctx.EMPTY = {}\n"
                      "  ctx.KEYS = { { N = 1, L = 'a' }, { N = 2, L = 'b',"
                      " SUB = { { X = 'x1' }, { X = 'x2' } } } }\n"
                      "end, " GOOD_REST;
    write_file(g_tmp, "prep.lua", src, strlen(src));
    snprintf(path, sizeof path, "%s/prep.lua", g_tmp);
    struct ztpd_vendor *v = NULL;
    assert_int_equal(ztpd_vendor_load_file(&v, L, path, err, sizeof err), 0);

    struct ztpd_tpl_ctx *ctx = core_ctx("prep", "m1", "0");
    assert_int_equal(ztpd_vendor_prepare(v, L, ctx, err, sizeof err), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "GREETING"), "hi 1001");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "INT"), "7");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "FLOAT"), "1800");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "FRAC"), "0.25");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "YES"), "1");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "NO"), "0");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "EMPTY"), "");
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "SIP_SERVER"), "192.168.1.14");

    const char *tsrc = "{{#KEYS}}{{N}}={{L}}[{{#SUB}}{{X}}{{/SUB}}];{{/KEYS}}"
                       "{{#YES}}y{{/YES}}{{#NO}}n{{/NO}}{{^EMPTY}}e{{/EMPTY}}";
    struct ztpd_tpl *t = NULL;
    assert_int_equal(ztpd_tpl_compile(&t, tsrc, strlen(tsrc), err, sizeof err), 0);
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(ztpd_tpl_render(t, ctx, ZTPD_FMT_RAW, &out, &outlen, err, sizeof err), 0);
    assert_string_equal(out, "1=a[];2=b[x1x2];ye");
    free(out);
    ztpd_tpl_free(t);
    ztpd_tpl_ctx_free(ctx);

    static const struct {
        const char *model, *want;
    } bad[] = {
        {"boom", "prep.lua:3: boom"},
        {"loop", "prep.lua:4: instruction budget exceeded"},
        {"func", "prepare: F: cannot use a function value"},
        {"map", "prepare: M: expected a scalar or an array of tables"},
        {"ret", "prepare: must return a table or nothing, got number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ctx = core_ctx("prep", bad[i].model, "0");
        err[0] = 0;
        assert_int_equal(ztpd_vendor_prepare(v, L, ctx, err, sizeof err), ZTPD_ELUA);
        if (!strstr(err, bad[i].want) || strncmp(err, path, strlen(path)))
            fail_msg("%s: got \"%s\", want the path and \"%s\"", bad[i].model, err, bad[i].want);
        ztpd_tpl_ctx_free(ctx);
    }

    /* a returned table replaces the passed one */
    ctx = core_ctx("prep", "new", "0");
    assert_int_equal(ztpd_vendor_prepare(v, L, ctx, err, sizeof err), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "ONLY"), "x");
    ztpd_tpl_ctx_free(ctx);
    ztpd_vendor_free(v, L);
}

/* ---- every built-in template renders ---- */

static int have_xmllint(void)
{
    return system("xmllint --version >/dev/null 2>&1") == 0;
}

static void render_one(struct ztpd_lua *L, const struct ztpd_vendor *v, const char *model,
                       const char *tpl_name, int xmllint)
{
    char path[2048], err[1024];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/templates/%s", g_src, tpl_name);
    char *src = read_file(path, &len);
    if (!src)
        fail_msg("missing template %s", path);
    struct ztpd_tpl *t = NULL;
    if (ztpd_tpl_compile(&t, src, len, err, sizeof err))
        fail_msg("%s: %s", tpl_name, err);

    struct ztpd_tpl_ctx *ctx = core_ctx(v ? v->name : "generic", model, "-5");
    if (v && ztpd_vendor_prepare(v, L, ctx, err, sizeof err))
        fail_msg("%s prepare: %s", v->name, err);
    char *out = NULL;
    size_t outlen = 0;
    enum ztpd_tpl_format fmt = v ? v->format : ZTPD_FMT_INI;
    if (ztpd_tpl_render(t, ctx, fmt, &out, &outlen, err, sizeof err))
        fail_msg("%s: %s", tpl_name, err);
    assert_null(strstr(out, "{{"));
    assert_non_null(strstr(out, "1001"));
    assert_non_null(strstr(out, "pool.ntp.org"));

    if (fmt == ZTPD_FMT_INI) {
        assert_memory_equal(out, "#!version:1.0.0.1\n", 18);
        /* no value line carries a trailing comment, and the hostile name stayed on its line */
        for (char *line = out; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            size_t n = strcspn(line, "\n");
            if (line[0] == '#' || n == 0)
                continue;
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s", (int)n, line);
            assert_non_null(strstr(buf, " = "));
            assert_null(strstr(buf, " #"));
        }
    } else if (xmllint) {
        char xpath[2048], cmd[4300];
        snprintf(xpath, sizeof xpath, "%s/render-%s", g_tmp, tpl_name);
        write_file(g_tmp, strrchr(xpath, '/') + 1, out, outlen);
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", xpath);
        if (system(cmd) != 0)
            fail_msg("%s: rendered XML is not well-formed (%s)", tpl_name, xpath);
    } else {
        assert_non_null(strstr(out, "&amp;"));
    }
    free(out);
    ztpd_tpl_ctx_free(ctx);
    ztpd_tpl_free(t);
    free(src);
}

static void test_templates_render(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], name[256];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    int xmllint = have_xmllint();
    if (!xmllint)
        fprintf(stderr, "note: xmllint not found (Debian: libxml2-utils); XML only escaped\n");
    size_t rendered = 0;
    for (size_t i = 0; i < vs->n; i++) {
        const struct ztpd_vendor *v = vs->items[i];
        for (size_t m = 0; m < v->n_models; m++) {
            snprintf(name, sizeof name, "%s_%s.%s", v->name, v->models[m].id, v->template_ext);
            render_one(L, v, v->models[m].id, name, xmllint);
            rendered++;
            /* the other roles a vendor declares: <vendor>_<model>_<role>, else <vendor>_<role> */
            for (size_t f = 0; f < v->n_files; f++) {
                const char *role = v->files[f].template;
                if (!role || !strcmp(role, "device"))
                    continue;
                char path[2048];
                snprintf(name, sizeof name, "%s_%s_%s.%s", v->name, v->models[m].id, role,
                         v->template_ext);
                snprintf(path, sizeof path, "%s/templates/%s", g_src, name);
                if (access(path, F_OK))
                    snprintf(name, sizeof name, "%s_%s.%s", v->name, role, v->template_ext);
                snprintf(path, sizeof path, "%s/templates/%s", g_src, name);
                if (access(path, F_OK))
                    fail_msg("%s declares role %s but %s is missing", v->name, role, path);
            }
        }
    }
    assert_int_equal(rendered, 23); /* 6 yealink, 2 zultys, 4 polycom, 3 cisco, 4 grandstream,
                                        2 fanvil, 2 snom */
    render_one(L, NULL, "unknown", "generic.cfg", xmllint);
    ztpd_vendors_free(vs, L);
}

/* Role templates (common, master) render with the server-wide variables only: no extension. */
static void test_role_templates_render(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], path[2048], err[1024];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    static const struct {
        const char *vendor, *tpl, *want;
        int per_device;
    } cases[] = {
        {"yealink", "yealink_common.cfg", "local_time.time_zone = -5", 0},
        {"zultys", "zultys_common.cfg", "local_time.ntp_server1 = pool.ntp.org", 0},
        {"cisco", "cisco_common.xml",
         "<Profile_Rule>http://192.168.1.14:8080/provision/$MA.xml</Profile_Rule>", 0},
        {"polycom", "polycom_master.xml", "CONFIG_FILES=\"001565123456-ztpd.cfg\"", 1},
        {"grandstream", "grandstream_common.xml", "<P30>pool.ntp.org</P30>", 0},
        {"snom", "snom_master.xml",
         "<file url=\"http://192.168.1.14:8080/provision/0004130A0B0C.xml\"/>", 1},
    };
    int xmllint = have_xmllint();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ztpd_vendor *v = ztpd_vendors_find(vs, cases[i].vendor);
        struct ztpd_tpl_ctx *ctx = NULL;
        assert_int_equal(ztpd_tpl_ctx_new(&ctx), 0);
        ztpd_tpl_ctx_set(ctx, "SIP_SERVER", "192.168.1.14");
        ztpd_tpl_ctx_set(ctx, "SIP_PORT", "5060");
        ztpd_tpl_ctx_set(ctx, "TIMEZONE_OFFSET", "-5");
        ztpd_tpl_ctx_set(ctx, "NTP_SERVER", "pool.ntp.org");
        ztpd_tpl_ctx_set(ctx, "PROVISIONING_URL", "http://192.168.1.14:8080/provision/");
        if (cases[i].per_device) {
            ztpd_tpl_ctx_set(ctx, "MAC_ADDRESS", "001565123456");
            ztpd_tpl_ctx_set(ctx, "MAC_UPPER", "0004130A0B0C");
        }
        assert_int_equal(ztpd_vendor_prepare(v, L, ctx, err, sizeof err), 0);

        size_t len = 0;
        snprintf(path, sizeof path, "%s/templates/%s", g_src, cases[i].tpl);
        char *src = read_file(path, &len);
        assert_non_null(src);
        struct ztpd_tpl *t = NULL;
        assert_int_equal(ztpd_tpl_compile(&t, src, len, err, sizeof err), 0);
        char *out = NULL;
        size_t outlen = 0;
        if (ztpd_tpl_render(t, ctx, v->format, &out, &outlen, err, sizeof err))
            fail_msg("%s: %s", cases[i].tpl, err);
        if (!strstr(out, cases[i].want))
            fail_msg("%s: \"%s\" not in:\n%s", cases[i].tpl, cases[i].want, out);
        if (v->format == ZTPD_FMT_XML && xmllint) {
            char cmd[4300], xpath[2048];
            snprintf(xpath, sizeof xpath, "%s/render-%s", g_tmp, cases[i].tpl);
            write_file(g_tmp, strrchr(xpath, '/') + 1, out, outlen);
            snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", xpath);
            assert_int_equal(system(cmd), 0);
        }
        free(out);
        ztpd_tpl_free(t);
        free(src);
        ztpd_tpl_ctx_free(ctx);
    }
    ztpd_vendors_free(vs, L);
}

/* ---- hostile values cannot add a setting ---- */

/* The template of role `role` for v and model, as the core looks it up: the device file is
 * <vendor>_<model>, another role <vendor>_<model>_<role>, else <vendor>_<role>. */
static void role_template(const struct ztpd_vendor *v, const char *model, const char *role,
                          char *name, size_t len)
{
    char path[2048];
    if (!strcmp(role, "device")) {
        snprintf(name, len, "%s_%s.%s", v->name, model, v->template_ext);
        return;
    }
    snprintf(name, len, "%s_%s_%s.%s", v->name, model, role, v->template_ext);
    snprintf(path, sizeof path, "%s/templates/%s", g_src, name);
    if (access(path, F_OK))
        snprintf(name, len, "%s_%s.%s", v->name, role, v->template_ext);
}

/* Renders tpl_name for v/model with EXTENSION_NAME (and so LINE_LABEL) set to name[0..len). */
static char *render_named(struct ztpd_lua *L, const struct ztpd_vendor *v, const char *model,
                          const char *tpl_name, const char *name, size_t len, size_t *outlen)
{
    char path[2048], err[1024];
    size_t srclen = 0;
    snprintf(path, sizeof path, "%s/templates/%s", g_src, tpl_name);
    char *src = read_file(path, &srclen);
    if (!src)
        fail_msg("missing template %s", path);
    struct ztpd_tpl *t = NULL;
    if (ztpd_tpl_compile(&t, src, srclen, err, sizeof err))
        fail_msg("%s: %s", tpl_name, err);
    struct ztpd_tpl_ctx *ctx = core_ctx(v->name, model, "-5");
    assert_int_equal(ztpd_tpl_ctx_setn(ctx, "EXTENSION_NAME", name, len), 0);
    if (ztpd_vendor_prepare(v, L, ctx, err, sizeof err))
        fail_msg("%s prepare: %s", v->name, err);
    char *out = NULL;
    if (ztpd_tpl_render(t, ctx, v->format, &out, outlen, err, sizeof err))
        fail_msg("%s: %s", tpl_name, err);
    ztpd_tpl_ctx_free(ctx);
    ztpd_tpl_free(t);
    free(src);
    return out;
}

static size_t count_char(const char *s, size_t len, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == c;
    return n;
}

/* The INI keys of out, one per value line, joined by '|'. */
static void ini_keys(const char *out, size_t len, char *keys, size_t klen)
{
    size_t k = 0;
    keys[0] = 0;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && out[i + n] != '\n')
            n++;
        const char *eq = memchr(out + i, '=', n);
        if (n && out[i] != '#' && eq) {
            int w = snprintf(keys + k, klen - k, "%.*s|", (int)(eq - (out + i)), out + i);
            assert_true(w > 0 && (size_t)w < klen - k);
            k += (size_t)w;
        }
        i += n + 1;
    }
}

/* A display name with XML metacharacters, a newline followed by a Yealink setting, and a NUL
 * renders into every vendor x model x role file with the same structure as a plain name: the
 * same INI keys on the same number of lines, or the same number of elements and attribute
 * quotes in well-formed XML. */
static void test_injection_all_vendors(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], name[256];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    static const char hostile[] = "Eve &<\"'>\naccount.1.sip_server.1.address = evil\r\n"
                                  "<evil a=\"1\"/>\0account.1.password = evil";
    static const char plain[] = "Plain Name";
    int xmllint = have_xmllint();
    size_t checked = 0;
    for (size_t i = 0; i < vs->n; i++) {
        const struct ztpd_vendor *v = vs->items[i];
        for (size_t m = 0; m < v->n_models; m++) {
            for (size_t f = 0; f < v->n_files; f++) {
                const char *role = v->files[f].template;
                if (!role)
                    continue;
                role_template(v, v->models[m].id, role, name, sizeof name);
                size_t blen = 0, hlen = 0;
                char *base =
                    render_named(L, v, v->models[m].id, name, plain, sizeof plain - 1, &blen);
                char *bad =
                    render_named(L, v, v->models[m].id, name, hostile, sizeof hostile - 1, &hlen);
                assert_null(memchr(bad, '\0', hlen)); /* nothing after a NUL in a file */
                if (v->format == ZTPD_FMT_INI) {
                    char kb[8192], kh[8192];
                    ini_keys(base, blen, kb, sizeof kb);
                    ini_keys(bad, hlen, kh, sizeof kh);
                    if (strcmp(kb, kh) ||
                        count_char(base, blen, '\n') != count_char(bad, hlen, '\n'))
                        fail_msg("%s/%s: the name changed the settings:\n%s", v->name, name, bad);
                } else {
                    if (count_char(base, blen, '<') != count_char(bad, hlen, '<') ||
                        count_char(base, blen, '"') != count_char(bad, hlen, '"'))
                        fail_msg("%s/%s: the name changed the XML structure:\n%s", v->name, name,
                                 bad);
                    if (xmllint) {
                        char xpath[2048], cmd[4300];
                        snprintf(xpath, sizeof xpath, "%s/inject-%s-%s", g_tmp, v->models[m].id,
                                 name);
                        write_file(g_tmp, strrchr(xpath, '/') + 1, bad, hlen);
                        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", xpath);
                        if (system(cmd) != 0)
                            fail_msg("%s: not well-formed with a hostile name (%s)", name, xpath);
                    }
                }
                assert_null(strstr(bad, "\naccount.1.sip_server.1.address = evil"));
                if (v->format == ZTPD_FMT_XML)
                    assert_null(strstr(bad, "<evil"));
                free(base);
                free(bad);
                checked++;
            }
        }
    }
    assert_true(checked >= 23);
    ztpd_vendors_free(vs, L);
}

/* ---- the profile fields the loader reads from profile_version 2 on ---- */

/* Runs a vendor file with ztpd.profile_version = 2 in its sandbox and leaves the returned table
 * on the stack; these fields (provisioning, files[].upload) are not read by the loader yet. */
static void run_v2(struct ztpd_lua *zl, const char *path)
{
    lua_State *L = ztpd_lua_state(zl);
    char err[1024];
    assert_int_equal(luaL_loadfilex(L, path, "t"), LUA_OK);
    ztpd_lua_push_sandbox(zl);
    assert_int_equal(lua_getfield(L, -1, "ztpd"), LUA_TTABLE);
    lua_pushinteger(L, 2);
    lua_setfield(L, -2, "profile_version");
    lua_pop(L, 1);
    assert_non_null(lua_setupvalue(L, -2, 1));
    if (ztpd_lua_pcall(zl, 0, 1, err, sizeof err))
        fail_msg("%s: %s", path, err);
    assert_int_equal(lua_type(L, -1), LUA_TTABLE);
}

static void test_profile_v2_fields(void **state)
{
    struct ztpd_lua *zl = *state;
    lua_State *L = ztpd_lua_state(zl);
    static const char *const vendors[] = {"cisco", "fanvil",  "grandstream", "polycom",
                                          "snom",  "yealink", "zultys"};
    char path[2048];
    for (size_t i = 0; i < sizeof vendors / sizeof vendors[0]; i++) {
        int top = lua_gettop(L);
        snprintf(path, sizeof path, "%s/vendors/%s.lua", g_src, vendors[i]);
        run_v2(zl, path);
        /* provisioning = { url = "...{server}...", dhcp_option_66 = optional, notes = "..." } */
        assert_int_equal(lua_getfield(L, -1, "provisioning"), LUA_TTABLE);
        assert_int_equal(lua_getfield(L, -1, "url"), LUA_TSTRING);
        if (!strstr(lua_tostring(L, -1), "{server}/provision"))
            fail_msg("%s: provisioning.url \"%s\" lacks {server}/provision", vendors[i],
                     lua_tostring(L, -1));
        lua_pop(L, 1);
        int t = lua_getfield(L, -1, "dhcp_option_66");
        assert_true(t == LUA_TNIL || t == LUA_TSTRING);
        lua_pop(L, 1);
        assert_int_equal(lua_getfield(L, -1, "notes"), LUA_TSTRING);
        lua_pop(L, 2);
        /* an upload entry has {mac} in its name and neither a template nor a status */
        size_t uploads = 0;
        assert_int_equal(lua_getfield(L, -1, "files"), LUA_TTABLE);
        for (lua_Integer k = 1; lua_rawgeti(L, -1, k) == LUA_TTABLE; k++) {
            if (lua_getfield(L, -1, "upload") == LUA_TBOOLEAN && lua_toboolean(L, -1)) {
                lua_getfield(L, -2, "match");
                assert_non_null(strstr(lua_tostring(L, -1), "{mac}"));
                assert_int_equal(lua_getfield(L, -3, "template"), LUA_TNIL);
                assert_int_equal(lua_getfield(L, -4, "status"), LUA_TNIL);
                lua_pop(L, 3);
                uploads++;
            }
            lua_pop(L, 2);
        }
        assert_int_equal(uploads, strcmp(vendors[i], "polycom") ? 0 : 5);
        lua_settop(L, top);
    }
    /* today's loader still takes the same files (the fields are left out below version 2) */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, zl, dirs), 0);
    assert_int_equal(vs->n, 7);
    /* this loader is version 2: every built-in file declares its URL and Polycom its uploads */
    for (size_t i = 0; i < vs->n; i++) {
        const struct ztpd_vendor *v = vs->items[i];
        size_t uploads = 0;
        assert_non_null(v->prov_url);
        assert_non_null(strstr(v->prov_url, "{server}"));
        assert_non_null(v->prov_notes);
        for (size_t k = 0; k < v->n_files; k++)
            uploads += v->files[k].upload;
        assert_int_equal(uploads, strcmp(v->name, "polycom") ? 0 : 5);
    }
    ztpd_vendors_free(vs, zl);
}

/* Request file names against the built-in profiles: the documented placeholder rules. */
static void test_file_match(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/vendors", g_src);
    const char *dirs[] = {dir, NULL};
    struct ztpd_vendors *vs = NULL;
    assert_int_equal(ztpd_vendors_load(&vs, L, dirs), 0);
    static const struct {
        const char *vendor, *name;
        const char *want; /* "tpl:<role>", "status:<n>", "upload", or NULL for no match */
        const char *mac, *model;
    } cases[] = {
        {"yealink", "805ec0a1b2c3.cfg", "tpl:device", "805ec0a1b2c3", NULL},
        {"yealink", "805EC0A1B2C3.cfg", NULL, NULL, NULL}, /* {mac} is lowercase */
        {"yealink", "000000000000.cfg", NULL, NULL, NULL}, /* never the all-zero MAC */
        {"yealink", "y000000000066.cfg", "tpl:common", "", "t46s"},
        {"yealink", "y000000000000.cfg", "tpl:common", "", "t28g"},
        {"yealink", "y000000000099.cfg", NULL, NULL, NULL}, /* no model has common_id 99 */
        {"yealink", "y000000000096.boot", "status:404", "", "t54w"},
        {"yealink", "805ec0a1b2c3.boot", "status:404", "805ec0a1b2c3", NULL},
        {"yealink", "805ec0a1b2c3.cfg.bak", NULL, NULL, NULL},
        {"zultys", "zip37g_common.cfg", "tpl:common", "", "zip37g"},
        {"zultys", "ZIP33G_common.cfg", "tpl:common", "", "zip33g"}, /* {model}: any case */
        {"zultys", "{mac}.cfg", NULL, NULL, NULL},
        {"cisco", "spa504G.cfg", "tpl:common", "", "spa504g"},
        {"cisco", "spa525G2.cfg", "tpl:common", "", "spa525g2"},
        {"cisco", "spa942.cfg", "tpl:common", "", NULL}, /* spa{any}.cfg */
        {"cisco", "spa.cfg", NULL, NULL, NULL},          /* {any} is at least one character */
        {"cisco", "8843e157ddcc.xml", "tpl:device", "8843e157ddcc", NULL},
        {"polycom", "0004f2aabbcc.cfg", "tpl:master", "0004f2aabbcc", NULL},
        {"polycom", "0004f2aabbcc-ztpd.cfg", "tpl:device", "0004f2aabbcc", NULL},
        {"polycom", "0004f2aabbcc-app.log", "upload", "0004f2aabbcc", NULL},
        {"polycom", "0004f2aabbcc-web.cfg", "upload", "0004f2aabbcc", NULL},
        {"polycom", "000000000000.cfg", "status:404", "", NULL},
        {"grandstream", "cfgc074ad2bd859.xml", "tpl:device", "c074ad2bd859", NULL},
        {"grandstream", "cfgc074ad2bd859", "status:404", "c074ad2bd859", NULL},
        {"grandstream", "cfgc074ad2bd859.bin", "status:404", "c074ad2bd859", NULL},
        {"grandstream", "cfggxp2135.xml", "tpl:common", "", "gxp2135"},
        {"grandstream", "cfg.xml", "status:404", "", NULL},
        {"grandstream", "CFGc074ad2bd859.xml", NULL, NULL, NULL}, /* literal text keeps case */
        {"fanvil", "f0X4hw1.100.cfg", "status:404", "", NULL},
        {"fanvil", "F0V00X600000.cfg", "status:404", "", NULL},
        {"snom", "000413ABCDEF.xml", "tpl:device", "000413abcdef", NULL},
        {"snom", "000413abcdef.xml", "tpl:device", "000413abcdef", NULL},
        {"snom", "snomD785-000413ABCDEF.htm", "tpl:master", "000413abcdef", "d785"},
        {"snom", "snomD785-000413abcdef.htm", NULL, NULL, NULL}, /* {MAC} is uppercase */
        {"snom", "snomD785.htm", "status:404", "", "d785"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ztpd_vendor *v = ztpd_vendors_find(vs, cases[i].vendor);
        assert_non_null(v);
        struct ztpd_file_match m;
        const struct ztpd_vendor_file *f = ztpd_vendor_match(v, cases[i].name, &m);
        char got[64] = "";
        if (f && f->upload)
            snprintf(got, sizeof got, "upload");
        else if (f && f->status)
            snprintf(got, sizeof got, "status:%d", f->status);
        else if (f)
            snprintf(got, sizeof got, "tpl:%s", f->template);
        if (!cases[i].want) {
            if (f)
                fail_msg("%s %s: matched %s (%s), want no match", cases[i].vendor, cases[i].name,
                         f->match, got);
            continue;
        }
        if (!f || strcmp(got, cases[i].want))
            fail_msg("%s %s: got %s, want %s", cases[i].vendor, cases[i].name, f ? got : "nothing",
                     cases[i].want);
        assert_string_equal(m.mac, cases[i].mac);
        if (cases[i].model) {
            assert_non_null(m.model);
            assert_string_equal(m.model->id, cases[i].model);
        } else {
            assert_null(m.model);
        }
    }
    ztpd_vendors_free(vs, L);
}

/* The worked example in examples/vendors/ loads and renders its template. */
static void test_example_vendor(void **state)
{
    struct ztpd_lua *L = *state;
    char dir[1100], err[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/examples/vendors/acme.lua", g_src);
    struct ztpd_vendor *v = NULL;
    if (ztpd_vendor_load_file(&v, L, dir, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(v->n_models, 2);
    for (size_t m = 0; m < v->n_models; m++) {
        size_t len = 0;
        snprintf(path, sizeof path, "%s/examples/vendors/acme_%s.%s", g_src, v->models[m].id,
                 v->template_ext);
        char *src = read_file(path, &len);
        if (!src)
            fail_msg("missing %s", path);
        struct ztpd_tpl *t = NULL;
        if (ztpd_tpl_compile(&t, src, len, err, sizeof err))
            fail_msg("%s: %s", path, err);
        struct ztpd_tpl_ctx *ctx = core_ctx("acme", v->models[m].id, "-5");
        if (ztpd_vendor_prepare(v, L, ctx, err, sizeof err))
            fail_msg("prepare: %s", err);
        char *out = NULL;
        size_t outlen = 0;
        if (ztpd_tpl_render(t, ctx, v->format, &out, &outlen, err, sizeof err))
            fail_msg("%s: %s", path, err);
        assert_non_null(strstr(out, "sip.server = 192.168.1.14:5060"));
        assert_non_null(strstr(out, "time.offset_minutes = -300"));
        free(out);
        ztpd_tpl_ctx_free(ctx);
        ztpd_tpl_free(t);
        free(src);
    }
    ztpd_vendor_free(v, L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_vendors),    cmocka_unit_test(test_bad_vendor_files),
        cmocka_unit_test(test_sandbox_isolation),  cmocka_unit_test(test_load_dirs_override),
        cmocka_unit_test(test_doc_example),        cmocka_unit_test(test_detect_patterns),
        cmocka_unit_test(test_prepare_builtin),    cmocka_unit_test(test_prepare_values_and_errors),
        cmocka_unit_test(test_templates_render),   cmocka_unit_test(test_role_templates_render),
        cmocka_unit_test(test_utc_offset_minutes), cmocka_unit_test(test_injection_all_vendors),
        cmocka_unit_test(test_profile_v2_fields),  cmocka_unit_test(test_example_vendor),
        cmocka_unit_test(test_file_match),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
