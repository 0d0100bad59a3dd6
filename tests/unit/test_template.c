#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/template.h"
#include "util/error.h"

/* Compiles src, renders it with ctx in fmt and checks the exact output. */
static void check_render(struct ztpd_tpl_ctx *ctx, enum ztpd_tpl_format fmt, const char *src,
                         const char *expected)
{
    struct ztpd_tpl *t = NULL;
    char err[256] = "";
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(ztpd_tpl_compile(&t, src, strlen(src), err, sizeof err), 0);
    assert_int_equal(ztpd_tpl_render(t, ctx, fmt, &out, &outlen, err, sizeof err), 0);
    assert_string_equal(out, expected);
    assert_int_equal(outlen, strlen(expected));
    free(out);
    ztpd_tpl_free(t);
}

/* Compiles src and expects a syntax error with exactly the message `expected`. */
static void check_syntax_error(const char *src, const char *expected)
{
    struct ztpd_tpl *t = NULL;
    char err[256] = "";
    assert_int_equal(ztpd_tpl_compile(&t, src, strlen(src), err, sizeof err), ZTPD_ESYNTAX);
    assert_null(t);
    assert_string_equal(err, expected);
}

/* Renders src and expects the error `code` with exactly the message `expected`. */
static void check_render_error(struct ztpd_tpl_ctx *ctx, const char *src, int code,
                               const char *expected)
{
    struct ztpd_tpl *t = NULL;
    char err[256] = "";
    char *out = NULL;
    size_t outlen = 12345;
    assert_int_equal(ztpd_tpl_compile(&t, src, strlen(src), err, sizeof err), 0);
    assert_int_equal(ztpd_tpl_render(t, ctx, ZTPD_FMT_INI, &out, &outlen, err, sizeof err), code);
    assert_null(out);
    assert_int_equal(outlen, 12345);
    assert_string_equal(err, expected);
    ztpd_tpl_free(t);
}

static struct ztpd_tpl_ctx *new_ctx(void)
{
    struct ztpd_tpl_ctx *ctx = NULL;
    assert_int_equal(ztpd_tpl_ctx_new(&ctx), 0);
    assert_non_null(ctx);
    return ctx;
}

static void test_format_parse(void **state)
{
    (void)state;
    assert_int_equal(ztpd_tpl_format_parse("ini"), ZTPD_FMT_INI);
    assert_int_equal(ztpd_tpl_format_parse("xml"), ZTPD_FMT_XML);
    assert_int_equal(ztpd_tpl_format_parse("raw"), ZTPD_FMT_RAW);
    assert_int_equal(ztpd_tpl_format_parse("XML"), ZTPD_FMT_XML);
    assert_int_equal(ztpd_tpl_format_parse("json"), -1);
    assert_int_equal(ztpd_tpl_format_parse(""), -1);
    assert_int_equal(ztpd_tpl_format_parse(NULL), -1);
}

static void test_ctx_api(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_null(ztpd_tpl_ctx_get(ctx, "A"));
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "A", "one"), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "A"), "one");
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "A", "two"), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "A"), "two");
    assert_int_equal(ztpd_tpl_ctx_setn(ctx, "B", "xyz", 2), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "B"), "xy");
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EMPTY", NULL), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "EMPTY"), "");

    /* get sees only this scope: no aliases, no parents */
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION", "100"), 0);
    assert_null(ztpd_tpl_ctx_get(ctx, "EXTENSION_NUMBER"));
    struct ztpd_tpl_ctx *item = ztpd_tpl_ctx_add_item(ctx, "lines");
    assert_non_null(item);
    assert_null(ztpd_tpl_ctx_get(item, "A"));
    assert_null(ztpd_tpl_ctx_get(ctx, "lines")); /* a list is not a scalar */

    /* many variables force the scope to grow */
    for (int i = 0; i < 100; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "V%d", i);
        snprintf(value, sizeof value, "%d", i * 3);
        assert_int_equal(ztpd_tpl_ctx_set(item, name, value), 0);
    }
    assert_string_equal(ztpd_tpl_ctx_get(item, "V77"), "231");

    /* a scalar replaces a list and a list replaces a scalar */
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "lines", "scalar"), 0);
    assert_string_equal(ztpd_tpl_ctx_get(ctx, "lines"), "scalar");
    assert_non_null(ztpd_tpl_ctx_add_item(ctx, "A"));
    assert_null(ztpd_tpl_ctx_get(ctx, "A"));

    assert_int_equal(ztpd_tpl_ctx_set(NULL, "A", "x"), ZTPD_EINVAL);
    assert_int_equal(ztpd_tpl_ctx_new(NULL), ZTPD_EINVAL);
    ztpd_tpl_ctx_free(ctx);
    ztpd_tpl_ctx_free(NULL);
}

static void test_substitution(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "MAC_ADDRESS", "001565123456"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SIP_PORT", "5060"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "a.b-c_1", "dotted"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EMPTY", ""), 0);
    check_render(ctx, ZTPD_FMT_INI, "", "");
    check_render(ctx, ZTPD_FMT_INI, "no tags at all\n", "no tags at all\n");
    check_render(ctx, ZTPD_FMT_INI, "mac={{MAC_ADDRESS}}\nport = {{ SIP_PORT }}\n",
                 "mac=001565123456\nport = 5060\n");
    check_render(ctx, ZTPD_FMT_INI, "{{MAC_ADDRESS}}{{SIP_PORT}}", "0015651234565060");
    check_render(ctx, ZTPD_FMT_INI, "[{{a.b-c_1}}]", "[dotted]");
    check_render(ctx, ZTPD_FMT_INI, "x={{EMPTY}};", "x=;");
    /* single braces and a stray "}}" are plain text */
    check_render(ctx, ZTPD_FMT_RAW, "{\"port\": {{SIP_PORT}}} }} {", "{\"port\": 5060} }} {");
    /* names are case-sensitive */
    check_render_error(ctx, "{{sip_port}}", ZTPD_ENOENT, "line 1: unknown placeholder sip_port");
    ztpd_tpl_ctx_free(ctx);
}

static void test_aliases(void **state)
{
    (void)state;
    assert_string_equal(ztpd_tpl_canonical("EXTENSION"), "EXTENSION_NUMBER");
    assert_string_equal(ztpd_tpl_canonical("DISPLAY_NAME"), "EXTENSION_NAME");
    assert_string_equal(ztpd_tpl_canonical("PASSWORD"), "EXTENSION_PASSWORD");
    assert_string_equal(ztpd_tpl_canonical("SERVER_IP"), "SIP_SERVER");
    assert_string_equal(ztpd_tpl_canonical("EXTENSION_NUMBER"), "EXTENSION_NUMBER");
    assert_string_equal(ztpd_tpl_canonical("MODEL"), "MODEL");

    const char *old = "{{EXTENSION}} {{DISPLAY_NAME}} {{PASSWORD}} {{SERVER_IP}}";
    const char *new = "{{EXTENSION_NUMBER}} {{EXTENSION_NAME}} {{EXTENSION_PASSWORD}} "
                      "{{SIP_SERVER}}";

    /* ctx in the canonical vocabulary, template in either */
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NUMBER", "101"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "Alice"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_PASSWORD", "s3cret"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SIP_SERVER", "10.0.0.1"), 0);
    check_render(ctx, ZTPD_FMT_INI, old, "101 Alice s3cret 10.0.0.1");
    check_render(ctx, ZTPD_FMT_INI, new, "101 Alice s3cret 10.0.0.1");
    ztpd_tpl_ctx_free(ctx);

    /* ctx in the old vocabulary (e.g. set by a vendor's prepare), template in either */
    ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION", "102"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "DISPLAY_NAME", "Bob"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "PASSWORD", "pw"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SERVER_IP", "10.0.0.2"), 0);
    check_render(ctx, ZTPD_FMT_INI, old, "102 Bob pw 10.0.0.2");
    check_render(ctx, ZTPD_FMT_INI, new, "102 Bob pw 10.0.0.2");
    /* sections resolve aliases too, and a close tag may use the other spelling */
    check_render(ctx, ZTPD_FMT_INI, "{{#EXTENSION_NUMBER}}has{{/EXTENSION}}", "has");

    /* when both are set in one scope the canonical name wins */
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NUMBER", "200"), 0);
    check_render(ctx, ZTPD_FMT_INI, "{{EXTENSION}}", "200");

    /* an inner scope's alias shadows an outer scope's canonical name */
    struct ztpd_tpl_ctx *item = ztpd_tpl_ctx_add_item(ctx, "lines");
    assert_non_null(item);
    assert_int_equal(ztpd_tpl_ctx_set(item, "EXTENSION", "300"), 0);
    check_render(ctx, ZTPD_FMT_INI, "{{#lines}}{{EXTENSION_NUMBER}}{{/lines}}", "300");
    ztpd_tpl_ctx_free(ctx);
}

static struct ztpd_tpl_ctx *line_item(struct ztpd_tpl_ctx *ctx, const char *index,
                                      const char *number)
{
    struct ztpd_tpl_ctx *item = ztpd_tpl_ctx_add_item(ctx, "lines");
    assert_non_null(item);
    assert_int_equal(ztpd_tpl_ctx_set(item, "INDEX", index), 0);
    assert_int_equal(ztpd_tpl_ctx_set(item, "EXTENSION_NUMBER", number), 0);
    return item;
}

static void test_list_sections(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SIP_SERVER", "pbx.local"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NUMBER", "root"), 0);
    line_item(ctx, "1", "101");
    line_item(ctx, "2", "102");
    /* items shadow the root; names missing in an item come from the root */
    check_render(ctx, ZTPD_FMT_INI,
                 "{{#lines}}account.{{INDEX}}.user = {{EXTENSION_NUMBER}}@{{SIP_SERVER}}\n"
                 "{{/lines}}after={{EXTENSION_NUMBER}}\n",
                 "account.1.user = 101@pbx.local\n"
                 "account.2.user = 102@pbx.local\n"
                 "after=root\n");
    check_render(ctx, ZTPD_FMT_INI, "<{{#lines}}{{INDEX}},{{/lines}}>", "<1,2,>");
    /* the item scope is gone after the section */
    check_render_error(ctx, "{{#lines}}{{/lines}}{{INDEX}}", ZTPD_ENOENT,
                       "line 1: unknown placeholder INDEX");
    ztpd_tpl_ctx_free(ctx);
}

static void test_nested_lists(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "MODEL", "t46s"), 0);
    struct ztpd_tpl_ctx *l1 = line_item(ctx, "1", "101");
    struct ztpd_tpl_ctx *l2 = line_item(ctx, "2", "102");
    const char *keys1[] = {"blf", "speed"};
    for (int i = 0; i < 2; i++) {
        struct ztpd_tpl_ctx *k = ztpd_tpl_ctx_add_item(l1, "keys");
        assert_non_null(k);
        assert_int_equal(ztpd_tpl_ctx_set(k, "TYPE", keys1[i]), 0);
    }
    struct ztpd_tpl_ctx *k = ztpd_tpl_ctx_add_item(l2, "keys");
    assert_non_null(k);
    assert_int_equal(ztpd_tpl_ctx_set(k, "TYPE", "park"), 0);
    /* a root list visited from inside another list's item */
    const char *codecs[] = {"PCMU", "G722"};
    for (int i = 0; i < 2; i++) {
        struct ztpd_tpl_ctx *c = ztpd_tpl_ctx_add_item(ctx, "codecs");
        assert_non_null(c);
        assert_int_equal(ztpd_tpl_ctx_set(c, "NAME", codecs[i]), 0);
    }

    check_render(ctx, ZTPD_FMT_INI,
                 "{{#lines}}\n"
                 "[line {{INDEX}}]\n"
                 "  {{#keys}}\n"
                 "key={{INDEX}}/{{TYPE}}/{{EXTENSION_NUMBER}}/{{MODEL}}\n"
                 "  {{/keys}}\n"
                 "  {{#codecs}}\n"
                 "codec.{{INDEX}}={{NAME}}\n"
                 "  {{/codecs}}\n"
                 "{{/lines}}\n",
                 "[line 1]\n"
                 "key=1/blf/101/t46s\n"
                 "key=1/speed/101/t46s\n"
                 "codec.1=PCMU\n"
                 "codec.1=G722\n"
                 "[line 2]\n"
                 "key=2/park/102/t46s\n"
                 "codec.2=PCMU\n"
                 "codec.2=G722\n");

    /* rendering an item scope directly still reaches its parents */
    check_render(l2, ZTPD_FMT_INI, "{{INDEX}} {{MODEL}}", "2 t46s");
    ztpd_tpl_ctx_free(l1); /* an item scope is owned by its list: no effect */
    ztpd_tpl_ctx_free(ctx);
}

static void test_scalar_sections(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "ON", "1"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "YES", "yes"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "ZERO", "0"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "ZEROS", "00"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EMPTY", ""), 0);
    const char *src = "{{#ON}}a{{/ON}}{{#YES}}b{{YES}}{{/YES}}{{#ZERO}}c{{/ZERO}}"
                      "{{#ZEROS}}d{{/ZEROS}}{{#EMPTY}}e{{/EMPTY}}{{#MISSING}}f{{/MISSING}}";
    check_render(ctx, ZTPD_FMT_INI, src, "abyesd");
    /* a false section is skipped entirely, unknown placeholders inside included */
    check_render(ctx, ZTPD_FMT_INI, "{{#MISSING}}{{NOPE}}{{/MISSING}}ok", "ok");
    ztpd_tpl_ctx_free(ctx);
}

static void test_inverted_sections(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "ON", "1"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "ZERO", "0"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EMPTY", ""), 0);
    assert_non_null(ztpd_tpl_ctx_add_item(ctx, "list"));
    const char *src = "{{^ON}}a{{/ON}}{{^ZERO}}b{{/ZERO}}{{^EMPTY}}c{{/EMPTY}}"
                      "{{^MISSING}}d{{/MISSING}}{{^list}}e{{/list}}{{^nolist}}f{{/nolist}}";
    check_render(ctx, ZTPD_FMT_INI, src, "bcdf");
    check_render(ctx, ZTPD_FMT_INI, "{{#ZERO}}yes{{/ZERO}}{{^ZERO}}no{{/ZERO}}", "no");
    check_render(ctx, ZTPD_FMT_INI, "{{#list}}{{^ON}}x{{/ON}}{{^MISSING}}y{{/MISSING}}{{/list}}",
                 "y");
    ztpd_tpl_ctx_free(ctx);
}

static void test_standalone_lines(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "ON", "1"), 0);
    line_item(ctx, "1", "101");
    line_item(ctx, "2", "102");

    /* indented tags alone on their lines vanish with their line */
    check_render(ctx, ZTPD_FMT_INI,
                 "begin\n"
                 "  {{#lines}}\n"
                 "account.{{INDEX}}.enable = 1\n"
                 "\t{{/lines}}  \n"
                 "  {{^lines}}\n"
                 "none\n"
                 "  {{/lines}}\n"
                 "{{! a comment on its own line }}\n"
                 "end\n",
                 "begin\n"
                 "account.1.enable = 1\n"
                 "account.2.enable = 1\n"
                 "end\n");
    /* CRLF line endings */
    check_render(ctx, ZTPD_FMT_INI, "a\r\n{{#ON}}\r\nb\r\n{{/ON}}\r\nc\r\n", "a\r\nb\r\nc\r\n");
    /* standalone at the very start and at the end without a final newline */
    check_render(ctx, ZTPD_FMT_INI, "{{#ON}}\nx\n{{/ON}}", "x\n");
    /* not standalone: other text on the line, or two tags on one line */
    check_render(ctx, ZTPD_FMT_INI, "a {{#ON}}b{{/ON}} c\n", "a b c\n");
    check_render(ctx, ZTPD_FMT_INI, "{{#ON}}{{/ON}}\nx\n", "\nx\n");
    check_render(ctx, ZTPD_FMT_INI, "  {{#ON}}x\n{{/ON}}\n", "  x\n");
    /* placeholders are never standalone: an empty value keeps its line */
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EMPTY", ""), 0);
    check_render(ctx, ZTPD_FMT_INI, "a\n  {{EMPTY}}\nb\n", "a\n  \nb\n");
    /* a blank line next to a standalone tag stays */
    check_render(ctx, ZTPD_FMT_INI, "a\n\n{{#ON}}\n\nb\n{{/ON}}\n", "a\n\n\nb\n");
    ztpd_tpl_ctx_free(ctx);
}

static void test_comments(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "X", "x"), 0);
    check_render(ctx, ZTPD_FMT_INI, "a{{! ignored {NOPE} }}b", "ab");
    /* a comment ends at the first closing braces */
    check_render(ctx, ZTPD_FMT_INI, "a{{! {{X}} }}b", "a }}b");
    check_render(ctx, ZTPD_FMT_INI, "a{{!}}b", "ab");
    /* multi-line comments count their lines for later errors */
    check_render(ctx, ZTPD_FMT_INI, "{{! line one\nline two\n}}\n{{X}}\n", "x\n");
    check_render_error(ctx, "{{! one\ntwo }}\n\n{{NOPE}}", ZTPD_ENOENT,
                       "line 4: unknown placeholder NOPE");
    ztpd_tpl_ctx_free(ctx);
}

static void test_unknown_placeholder(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "A", "a"), 0);
    line_item(ctx, "1", "101");
    check_render_error(ctx, "{{A}}\n{{A}}\nx = {{MISSING}}\n", ZTPD_ENOENT,
                       "line 3: unknown placeholder MISSING");
    /* reported as written, even when it is an alias */
    check_render_error(ctx, "\n{{PASSWORD}}", ZTPD_ENOENT, "line 2: unknown placeholder PASSWORD");
    check_render_error(ctx, "{{#lines}}\n{{INDEX}}\n\n{{ NOPE }}\n{{/lines}}\n", ZTPD_ENOENT,
                       "line 4: unknown placeholder NOPE");
    /* a list is not a value */
    check_render_error(ctx, "{{A}}{{lines}}", ZTPD_EINVAL, "line 1: placeholder lines is a list");
    ztpd_tpl_ctx_free(ctx);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    check_syntax_error("a\n{{#lines}}\nx\n", "line 2: unclosed section lines");
    check_syntax_error("{{#a}}\n{{#b}}\n{{/b}}\n", "line 1: unclosed section a");
    check_syntax_error("{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}\n",
                       "line 3: mismatched {{/a}}, expected {{/b}} (opened on line 2)");
    check_syntax_error("x\n\n{{/a}}", "line 3: {{/a}} closes no open section");
    check_syntax_error("ok\nkey = {{NAME\nnext = 1\n", "line 2: unterminated tag");
    check_syntax_error("ok\nkey = {{NAME}", "line 2: unterminated tag");
    check_syntax_error("a\n{{! never closed\n\n", "line 2: unterminated comment");
    check_syntax_error("\n\n{{{NAME}}}", "line 3: triple mustache is not supported (values are "
                                         "always escaped)");
    check_syntax_error("{{&NAME}}", "line 1: unsupported tag {{&");
    check_syntax_error("{{>partial}}", "line 1: unsupported tag {{>");
    check_syntax_error("x\n{{NA ME}}", "line 2: invalid name in tag '{{NA ME}}'");
    check_syntax_error("{{na$me}}", "line 1: invalid name in tag '{{na$me}}'");
    check_syntax_error("{{}}", "line 1: empty tag");
    check_syntax_error("{{# }}x{{/}}", "line 1: empty tag");

    /* deep but legal nesting compiles; beyond the limit it is an error */
    char deep[64 * 12 + 64 * 12 + 1] = "";
    for (int i = 0; i < 64; i++)
        strcat(deep, "{{#a}}");
    for (int i = 0; i < 64; i++)
        strcat(deep, "{{/a}}");
    struct ztpd_tpl *t = NULL;
    assert_int_equal(ztpd_tpl_compile(&t, deep, strlen(deep), NULL, 0), 0);
    ztpd_tpl_free(t);
    char deeper[sizeof deep + 12];
    snprintf(deeper, sizeof deeper, "{{#a}}%s{{/a}}", deep);
    check_syntax_error(deeper, "line 1: sections nested deeper than 64");

    assert_int_equal(ztpd_tpl_compile(NULL, "x", 1, NULL, 0), ZTPD_EINVAL);
    ztpd_tpl_free(NULL);
}

static void test_escape_xml(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "DISPLAY_NAME", "Tom & Jerry <\"Sales\"> 'HQ'"), 0);
    check_render(ctx, ZTPD_FMT_XML, "<reg name=\"{{EXTENSION_NAME}}\"/>",
                 "<reg name=\"Tom &amp; Jerry &lt;&quot;Sales&quot;&gt; &apos;HQ&apos;\"/>");

    /* an attempt to close the element and add another one stays text */
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "x\"/><server addr=\"evil\"/><a b=\""),
                     0);
    check_render(ctx, ZTPD_FMT_XML, "<reg name=\"{{EXTENSION_NAME}}\"/>",
                 "<reg name=\"x&quot;/&gt;&lt;server addr=&quot;evil&quot;/&gt;&lt;a "
                 "b=&quot;\"/>");

    /* newline injection: control characters vanish, TAB stays */
    assert_int_equal(
        ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "Bob\r\naccount.1.sip_server.1.address = evil\t!"),
        0);
    check_render(ctx, ZTPD_FMT_XML, "<n>{{DISPLAY_NAME}}</n>",
                 "<n>Bobaccount.1.sip_server.1.address = evil\t!</n>");

    /* embedded NUL and other C0 controls */
    assert_int_equal(ztpd_tpl_ctx_setn(ctx, "EXTENSION_NAME", "Bob\0evil\x01\x1f\x7f", 11), 0);
    check_render(ctx, ZTPD_FMT_XML, "<n>{{DISPLAY_NAME}}</n>", "<n>Bobevil\x7f</n>");

    /* valid UTF-8 is kept; invalid bytes become '?' one by one */
    assert_int_equal(
        ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x93\x9e"), 0);
    check_render(ctx, ZTPD_FMT_XML, "{{EXTENSION_NAME}}",
                 "Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x93\x9e");
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME",
                                      "a\xff"             /* never valid */
                                      "b\xc0\xaf"         /* overlong '/' */
                                      "c\xed\xa0\x80"     /* surrogate */
                                      "d\xe6\x97"         /* truncated */
                                      "e\xf4\x90\x80\x80" /* above U+10FFFF */
                                      "f\x80"             /* lone continuation */
                                      "g\xef\xbf\xbe"     /* U+FFFE, not an XML character */
                                      "h\xc3"),
                     0);
    check_render(ctx, ZTPD_FMT_XML, "{{EXTENSION_NAME}}", "a?b??c???d??e????f?g?h?");
    ztpd_tpl_ctx_free(ctx);
}

static void test_escape_ini(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    const char *tpl = "account.1.display_name = {{DISPLAY_NAME}}\n"
                      "account.1.sip_server.1.address = {{SERVER_IP}}\n";
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SIP_SERVER", "10.0.0.1"), 0);

    /* the classic injection: a newline followed by a key of its own */
    assert_int_equal(
        ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "Bob\naccount.1.sip_server.1.address = evil"), 0);
    check_render(ctx, ZTPD_FMT_INI, tpl,
                 "account.1.display_name = Bob account.1.sip_server.1.address = evil\n"
                 "account.1.sip_server.1.address = 10.0.0.1\n");
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "Bob\r\n[evil]\rx"), 0);
    check_render(ctx, ZTPD_FMT_INI, tpl,
                 "account.1.display_name = Bob  [evil] x\n"
                 "account.1.sip_server.1.address = 10.0.0.1\n");

    /* embedded NUL: a space too, so nothing after it is lost or hidden */
    assert_int_equal(ztpd_tpl_ctx_setn(ctx, "EXTENSION_NAME", "Bob\0x = 1", 9), 0);
    check_render(ctx, ZTPD_FMT_INI, "n={{EXTENSION_NAME}};", "n=Bob x = 1;");

    /* XML specials, TAB and UTF-8 pass through untouched in INI */
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "A&B <\"c\">\t'd' \xc3\xa9"), 0);
    check_render(ctx, ZTPD_FMT_INI, "{{EXTENSION_NAME}}", "A&B <\"c\">\t'd' \xc3\xa9");
    ztpd_tpl_ctx_free(ctx);
}

static void test_escape_raw(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_setn(ctx, "V", "a\0b\n<&>\r\x01", 9), 0);
    check_render(ctx, ZTPD_FMT_RAW, "[{{V}}]", "[ab\n<&>\r\x01]");
    ztpd_tpl_ctx_free(ctx);
}

static void test_escape_function(void **state)
{
    (void)state;
    char *s = ztpd_tpl_escape("a&b\"'<>", 7, ZTPD_FMT_XML);
    assert_string_equal(s, "a&amp;b&quot;&apos;&lt;&gt;");
    free(s);
    s = ztpd_tpl_escape("x\ny\0z", 5, ZTPD_FMT_INI);
    assert_memory_equal(s, "x y z", 6);
    free(s);
    s = ztpd_tpl_escape("x\0y", 3, ZTPD_FMT_RAW);
    assert_string_equal(s, "xy");
    free(s);
    s = ztpd_tpl_escape("", 0, ZTPD_FMT_XML);
    assert_string_equal(s, "");
    free(s);
    s = ztpd_tpl_escape(NULL, 0, ZTPD_FMT_INI);
    assert_string_equal(s, "");
    free(s);
    assert_null(ztpd_tpl_escape("x", 1, (enum ztpd_tpl_format)7));
    /* the worst case (every byte an entity) fits */
    char quotes[1000];
    memset(quotes, '\'', sizeof quotes);
    s = ztpd_tpl_escape(quotes, sizeof quotes, ZTPD_FMT_XML);
    assert_int_equal(strlen(s), 6000);
    assert_memory_equal(s + 5994, "&apos;", 6);
    free(s);
}

struct seen {
    char text[512];
};

static void collect(const char *name, int line, int section, void *arg)
{
    struct seen *seen = arg;
    size_t n = strlen(seen->text);
    snprintf(seen->text + n, sizeof seen->text - n, "%s@%d%s ", name, line, section ? "#" : "");
}

static void test_names(void **state)
{
    (void)state;
    const char *src = "{{! {HIDDEN} }}{{EXTENSION}}\n"
                      "{{#lines}}\n"
                      "{{ INDEX }} {{SIP_SERVER}}\n"
                      "{{^SERVER_IP}}x{{/SERVER_IP}}\n"
                      "{{/lines}}\n"
                      "{{MODEL}}";
    struct ztpd_tpl *t = NULL;
    assert_int_equal(ztpd_tpl_compile(&t, src, strlen(src), NULL, 0), 0);
    struct seen seen = {""};
    ztpd_tpl_names(t, collect, &seen);
    assert_string_equal(seen.text, "EXTENSION_NUMBER@1 lines@2# INDEX@3 SIP_SERVER@3 "
                                   "SIP_SERVER@4# MODEL@6 ");
    ztpd_tpl_names(NULL, collect, &seen);
    ztpd_tpl_free(t);
}

static void test_render_args_and_large_output(void **state)
{
    (void)state;
    struct ztpd_tpl *t = NULL;
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(ztpd_tpl_compile(&t, "{{#items}}<{{V}}>{{/items}}", 27, NULL, 0), 0);
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_render(t, ctx, (enum ztpd_tpl_format)9, &out, &outlen, NULL, 0),
                     ZTPD_EINVAL);
    assert_int_equal(ztpd_tpl_render(t, NULL, ZTPD_FMT_XML, &out, &outlen, NULL, 0), ZTPD_EINVAL);
    /* output grows well past the initial buffer */
    for (int i = 0; i < 2000; i++) {
        struct ztpd_tpl_ctx *item = ztpd_tpl_ctx_add_item(ctx, "items");
        assert_non_null(item);
        assert_int_equal(ztpd_tpl_ctx_set(item, "V", "&&"), 0);
    }
    assert_int_equal(ztpd_tpl_render(t, ctx, ZTPD_FMT_XML, &out, NULL, NULL, 0), 0);
    assert_int_equal(strlen(out), 2000 * 12);
    assert_memory_equal(out, "<&amp;&amp;><&amp;&amp;>", 24);
    free(out);
    ztpd_tpl_ctx_free(ctx);
    ztpd_tpl_free(t);
}

static void test_device_template(void **state)
{
    (void)state;
    struct ztpd_tpl_ctx *ctx = new_ctx();
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SERVER_NAME", "ztpd"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SIP_SERVER", "192.0.2.10"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "SIP_PORT", "5060"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION", "101"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", "Ann & <Co>\nx=1"), 0);
    assert_int_equal(ztpd_tpl_ctx_set(ctx, "PASSWORD", "p\"w"), 0);
    const char *src = "<?xml version=\"1.0\"?>\n"
                      "<!-- {{SERVER_NAME}} -->\n"
                      "<settings>\n"
                      "  {{#EXTENSION_NUMBER}}\n"
                      "  <account user=\"{{EXTENSION}}\" name=\"{{DISPLAY_NAME}}\"\n"
                      "           password=\"{{EXTENSION_PASSWORD}}\"\n"
                      "           server=\"{{SERVER_IP}}:{{SIP_PORT}}\"/>\n"
                      "  {{/EXTENSION_NUMBER}}\n"
                      "  {{^EXTENSION_NUMBER}}\n"
                      "  <unassigned/>\n"
                      "  {{/EXTENSION_NUMBER}}\n"
                      "</settings>\n";
    check_render(ctx, ZTPD_FMT_XML, src,
                 "<?xml version=\"1.0\"?>\n"
                 "<!-- ztpd -->\n"
                 "<settings>\n"
                 "  <account user=\"101\" name=\"Ann &amp; &lt;Co&gt;x=1\"\n"
                 "           password=\"p&quot;w\"\n"
                 "           server=\"192.0.2.10:5060\"/>\n"
                 "</settings>\n");
    ztpd_tpl_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_parse),
        cmocka_unit_test(test_ctx_api),
        cmocka_unit_test(test_substitution),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_list_sections),
        cmocka_unit_test(test_nested_lists),
        cmocka_unit_test(test_scalar_sections),
        cmocka_unit_test(test_inverted_sections),
        cmocka_unit_test(test_standalone_lines),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_unknown_placeholder),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_escape_xml),
        cmocka_unit_test(test_escape_ini),
        cmocka_unit_test(test_escape_raw),
        cmocka_unit_test(test_escape_function),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_render_args_and_large_output),
        cmocka_unit_test(test_device_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
