/* Unit tests for config/config.c: every key parsed, defaults, each error class with its
 * "<file>:<line>: <key>: <reason>" message, environment secrets and path resolution. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "log/log.h"
#include "util/error.h"

static char tmpdir[PATH_MAX];
static char last_err[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    if (mkdir(ZTPD_TEST_TMP, 0755) != 0 && errno != EEXIST)
        return -1;
    /* A directory per run: ctest may run several test binaries at once. */
    snprintf(tmpdir, sizeof(tmpdir), "%s/config-XXXXXX", ZTPD_TEST_TMP);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to <tmpdir>/<name> (creating one level of subdirectory) and returns the path. */
static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX + 64];
    const char *slash = strchr(name, '/');
    FILE *f;
    if (slash) {
        snprintf(path, sizeof(path), "%s/%.*s", tmpdir, (int)(slash - name), name);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

static struct ztpd_config *load_ok_as(const char *name, const char *text)
{
    struct ztpd_config *cfg = NULL;
    int rc = ztpd_config_load(&cfg, write_file(name, text), last_err, sizeof(last_err));
    if (rc)
        fail_msg("load failed (%d): %s", rc, last_err);
    assert_non_null(cfg);
    return cfg;
}

static struct ztpd_config *load_ok(const char *text)
{
    return load_ok_as("config.yml", text);
}

/* Loading must fail with ZTPD_ECONFIG, leave *out alone and produce a message containing
 * `want` (which carries the file name, line and key). */
static void expect_error(const char *text, const char *want)
{
    struct ztpd_config *cfg = (struct ztpd_config *)&cfg; /* sentinel: must stay untouched */
    int rc = ztpd_config_load(&cfg, write_file("config.yml", text), last_err, sizeof(last_err));
    assert_int_equal(rc, ZTPD_ECONFIG);
    assert_ptr_equal(cfg, (struct ztpd_config *)&cfg);
    if (!strstr(last_err, want))
        fail_msg("message \"%s\" does not contain \"%s\"", last_err, want);
}

static char *expected_path(const char *rel)
{
    static char buf[PATH_MAX * 2];
    char real[PATH_MAX];
    assert_non_null(realpath(tmpdir, real));
    snprintf(buf, sizeof(buf), "%s/%s", real, rel);
    return buf;
}

static const char full_yaml[] = "server:\n"
                                "  name: \"Main PBX\"\n"
                                "  address: 192.168.1.14\n"
                                "  data_dir: /var/lib/ztpd\n"
                                "http:\n"
                                "  listen: \"0.0.0.0:9090\"\n"
                                "  max_header_size: 16384\n"
                                "  max_body_size: 2097152\n"
                                "  idle_timeout: 45\n"
                                "  max_connections: 200\n"
                                "sip:\n"
                                "  port: 5070\n"
                                "storage:\n"
                                "  backend: postgres\n"
                                "  module_dir: /opt/ztpd/backends\n"
                                "  sqlite:\n"
                                "    path: /var/lib/ztpd/other.db\n"
                                "  postgres:\n"
                                "    dsn: \"host=db dbname=ztpd\"\n"
                                "api:\n"
                                "  tokens:\n"
                                "    - \"0123456789abcdef\"\n"
                                "    - \"another-long-token-value\"\n"
                                "logging:\n"
                                "  level: DEBUG\n"
                                "  file: /var/log/ztpd.log\n"
                                "extensions:\n"
                                "  - number: 1001\n"
                                "    name: \"Alice Example\"\n"
                                "    password: \"secret-1001\"\n"
                                "  - number: \"0042\"\n"
                                "    password: \"secret-42\"\n"
                                "provisioning:\n"
                                "  enabled: no\n"
                                "  url_format: \"http://{{SERVER_IP}}/p/{mac}\"\n"
                                "  custom_templates_dir: /etc/ztpd/templates\n"
                                "  vendors_dir: /etc/ztpd/vendors\n"
                                "  timezone: \"America/New_York\"\n"
                                "  timezone_offset: -5\n"
                                "  ntp_server: time.example.com\n"
                                "  devices:\n"
                                "    - mac: \"00:15:65:12:34:56\"\n"
                                "      extension: \"1001\"\n"
                                "      vendor: Yealink\n"
                                "      model: T46S\n"
                                "    - mac: 00-04-F2-AB-CD-EF\n"
                                "      extension: 42\n"
                                "      vendor: polycom\n"
                                "      model: vvx450\n";

static void test_full_file(void **state)
{
    (void)state;
    char real[PATH_MAX];
    struct ztpd_config *cfg = load_ok(full_yaml);

    assert_string_equal(cfg->path, expected_path("config.yml"));
    assert_string_equal(cfg->base_dir, realpath(tmpdir, real));
    assert_string_equal(cfg->server_name, "Main PBX");
    assert_string_equal(cfg->server_address, "192.168.1.14");
    assert_string_equal(cfg->data_dir, "/var/lib/ztpd");
    assert_string_equal(cfg->http_host, "0.0.0.0");
    assert_int_equal(cfg->http_port, 9090);
    assert_int_equal(cfg->http_max_header_size, 16384);
    assert_int_equal(cfg->http_max_body_size, 2097152);
    assert_int_equal(cfg->http_idle_timeout_ms, 45000);
    assert_int_equal(cfg->http_max_connections, 200);
    assert_int_equal(cfg->sip_port, 5070);
    assert_string_equal(cfg->storage_backend, "postgres");
    assert_string_equal(cfg->module_dir, "/opt/ztpd/backends");
    assert_string_equal(cfg->sqlite_path, "/var/lib/ztpd/other.db");
    assert_string_equal(cfg->postgres_dsn, "host=db dbname=ztpd");
    assert_int_equal(cfg->n_api_tokens, 2);
    assert_string_equal(cfg->api_tokens[0], "0123456789abcdef");
    assert_string_equal(cfg->api_tokens[1], "another-long-token-value");
    assert_int_equal(cfg->log_level, ZTPD_LOG_DEBUG);
    assert_string_equal(cfg->log_file, "/var/log/ztpd.log");

    assert_int_equal(cfg->n_extensions, 2);
    assert_string_equal(cfg->extensions[0].number, "1001");
    assert_string_equal(cfg->extensions[0].name, "Alice Example");
    assert_string_equal(cfg->extensions[0].password, "secret-1001");
    assert_int_equal(cfg->extensions[0].line, 28);
    assert_string_equal(cfg->extensions[1].number, "0042");
    assert_string_equal(cfg->extensions[1].name, "");
    assert_string_equal(cfg->extensions[1].password, "secret-42");
    assert_int_equal(cfg->extensions[1].line, 31);

    assert_false(cfg->prov_enabled);
    assert_string_equal(cfg->url_format, "http://{{SERVER_IP}}/p/{mac}");
    assert_string_equal(cfg->custom_templates_dir, "/etc/ztpd/templates");
    assert_string_equal(cfg->vendors_dir, "/etc/ztpd/vendors");
    assert_string_equal(cfg->timezone, "America/New_York");
    assert_int_equal(cfg->timezone_offset, -5);
    assert_string_equal(cfg->ntp_server, "time.example.com");
    assert_int_equal(cfg->n_devices, 2);
    assert_string_equal(cfg->devices[0].mac, "001565123456");
    assert_string_equal(cfg->devices[0].extension, "1001");
    assert_string_equal(cfg->devices[0].vendor, "yealink");
    assert_string_equal(cfg->devices[0].model, "t46s");
    assert_int_equal(cfg->devices[0].line, 42);
    assert_string_equal(cfg->devices[1].mac, "0004f2abcdef");
    assert_string_equal(cfg->devices[1].extension, "42");
    assert_string_equal(cfg->devices[1].vendor, "polycom");
    assert_string_equal(cfg->devices[1].model, "vvx450");
    assert_int_equal(cfg->devices[1].line, 46);
    ztpd_config_free(cfg);
}

static void check_defaults(const struct ztpd_config *cfg)
{
    assert_string_equal(cfg->server_name, "ztpd");
    assert_string_equal(cfg->server_address, "127.0.0.1");
    assert_string_equal(cfg->data_dir, expected_path("data"));
    assert_string_equal(cfg->http_host, "0.0.0.0");
    assert_int_equal(cfg->http_port, 8080);
    assert_int_equal(cfg->http_max_header_size, 8192);
    assert_int_equal(cfg->http_max_body_size, 1048576);
    assert_int_equal(cfg->http_idle_timeout_ms, 30000);
    assert_int_equal(cfg->http_max_connections, 1024);
    assert_int_equal(cfg->sip_port, 5060);
    assert_string_equal(cfg->storage_backend, "sqlite");
    assert_string_equal(cfg->sqlite_path, expected_path("data/ztpd.db"));
    assert_null(cfg->module_dir);
    assert_null(cfg->postgres_dsn);
    assert_int_equal(cfg->n_api_tokens, 0);
    assert_int_equal(cfg->log_level, ZTPD_LOG_INFO);
    assert_null(cfg->log_file);
    assert_int_equal(cfg->n_extensions, 0);
    assert_true(cfg->prov_enabled);
    assert_string_equal(cfg->url_format, "http://{{SERVER_IP}}:{{PORT}}/provision/{mac}.cfg");
    assert_null(cfg->custom_templates_dir);
    assert_null(cfg->vendors_dir);
    assert_string_equal(cfg->timezone, "UTC");
    assert_int_equal(cfg->timezone_offset, 0);
    assert_string_equal(cfg->ntp_server, "pool.ntp.org");
    assert_int_equal(cfg->n_devices, 0);
}

static void test_empty_file_defaults(void **state)
{
    (void)state;
    static const char *const empties[] = {
        "",
        "# only a comment\n\n",
        "~\n",
        /* null sections and values, "" for optional strings and paths: defaults too */
        ("server:\nhttp:\n  listen:\nstorage:\n  sqlite:\n    path: \"\"\napi:\n  tokens:\n"
         "provisioning:\n  custom_templates_dir: \"\"\n  devices: ~\n  timezone: \"\"\n"),
    };
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        struct ztpd_config *cfg = load_ok(empties[i]);
        check_defaults(cfg);
        ztpd_config_free(cfg);
    }
}

static void test_lookup(void **state)
{
    (void)state;
    struct ztpd_config *cfg = load_ok(full_yaml);
    static const char *const pairs[][2] = {
        {"server.name", "Main PBX"},
        {"server.address", "192.168.1.14"},
        {"server.data_dir", "/var/lib/ztpd"},
        {"http.listen", "0.0.0.0:9090"},
        {"http.max_header_size", "16384"},
        {"http.max_body_size", "2097152"},
        {"http.idle_timeout", "45"},
        {"http.max_connections", "200"},
        {"sip.port", "5070"},
        {"storage.backend", "postgres"},
        {"storage.module_dir", "/opt/ztpd/backends"},
        {"storage.sqlite.path", "/var/lib/ztpd/other.db"},
        {"storage.postgres.dsn", "host=db dbname=ztpd"},
        {"logging.level", "debug"},
        {"logging.file", "/var/log/ztpd.log"},
        {"provisioning.enabled", "false"},
        {"provisioning.url_format", "http://{{SERVER_IP}}/p/{mac}"},
        {"provisioning.custom_templates_dir", "/etc/ztpd/templates"},
        {"provisioning.vendors_dir", "/etc/ztpd/vendors"},
        {"provisioning.timezone", "America/New_York"},
        {"provisioning.timezone_offset", "-5"},
        {"provisioning.ntp_server", "time.example.com"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        const char *v = ztpd_config_lookup(cfg, pairs[i][0]);
        if (!v || strcmp(v, pairs[i][1]))
            fail_msg("%s = %s, want %s", pairs[i][0], v ? v : "(null)", pairs[i][1]);
    }
    /* Sections, lists and unknown keys have no scalar value. */
    assert_null(ztpd_config_lookup(cfg, "storage"));
    assert_null(ztpd_config_lookup(cfg, "api.tokens"));
    assert_null(ztpd_config_lookup(cfg, "extensions"));
    assert_null(ztpd_config_lookup(cfg, "no.such.key"));
    assert_null(ztpd_config_lookup(cfg, NULL));
    assert_null(ztpd_config_lookup(NULL, "sip.port"));
    ztpd_config_free(cfg);

    cfg = load_ok("");
    assert_string_equal(ztpd_config_lookup(cfg, "storage.sqlite.path"),
                        expected_path("data/ztpd.db"));
    assert_string_equal(ztpd_config_lookup(cfg, "http.listen"), "0.0.0.0:8080");
    assert_string_equal(ztpd_config_lookup(cfg, "provisioning.enabled"), "true");
    assert_string_equal(ztpd_config_lookup(cfg, "logging.level"), "info");
    assert_null(ztpd_config_lookup(cfg, "storage.module_dir"));
    assert_null(ztpd_config_lookup(cfg, "storage.postgres.dsn"));
    ztpd_config_free(cfg);
}

static void test_listen_forms(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *host, *address, *lookup;
        int port;
    } cases[] = {
        {"http:\n  listen: \":9000\"\n", "0.0.0.0", "127.0.0.1", "0.0.0.0:9000", 9000},
        {"http:\n  listen: 9001\n", "0.0.0.0", "127.0.0.1", "0.0.0.0:9001", 9001},
        {"http:\n  listen: \"192.168.1.14:80\"\n", "192.168.1.14", "192.168.1.14",
         "192.168.1.14:80", 80},
        {"http:\n  listen: \"[::1]:8443\"\n", "::1", "::1", "[::1]:8443", 8443},
        {"http:\n  listen: \"[::]:8080\"\n", "::", "127.0.0.1", "[::]:8080", 8080},
        {"http:\n  listen: \"pbx.example.com:8080\"\n", "pbx.example.com", "pbx.example.com",
         "pbx.example.com:8080", 8080},
        {"server:\n  address: 10.0.0.5\nhttp:\n  listen: \"0.0.0.0:8080\"\n", "0.0.0.0", "10.0.0.5",
         "0.0.0.0:8080", 8080},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ztpd_config *cfg = load_ok(cases[i].yaml);
        assert_string_equal(cfg->http_host, cases[i].host);
        assert_int_equal(cfg->http_port, cases[i].port);
        assert_string_equal(cfg->server_address, cases[i].address);
        assert_string_equal(ztpd_config_lookup(cfg, "http.listen"), cases[i].lookup);
        ztpd_config_free(cfg);
    }
}

static void test_booleans(void **state)
{
    (void)state;
    static const struct {
        const char *word;
        bool value;
    } cases[] = {{"true", true},   {"Yes", true}, {"ON", true},  {"\"on\"", true},
                 {"FALSE", false}, {"no", false}, {"Off", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[128];
        struct ztpd_config *cfg;
        snprintf(yaml, sizeof(yaml), "provisioning:\n  enabled: %s\n", cases[i].word);
        cfg = load_ok(yaml);
        assert_int_equal(cfg->prov_enabled, cases[i].value);
        ztpd_config_free(cfg);
    }
}

static void test_env_substitution(void **state)
{
    (void)state;
    struct ztpd_config *cfg;
    setenv("ZTPD_TEST_EXT_PW", "from-the-environment", 1);
    setenv("ZTPD_TEST_TOKEN", "token-from-environment-0123", 1);
    setenv("ZTPD_TEST_SIP_PORT", "5080", 1);
    cfg = load_ok("sip:\n"
                  "  port: ${ZTPD_TEST_SIP_PORT}\n"
                  "api:\n"
                  "  tokens: [\"${ZTPD_TEST_TOKEN}\"]\n"
                  "extensions:\n"
                  "  - number: \"1001\"\n"
                  "    password: \"${ZTPD_TEST_EXT_PW}\"\n"
                  "    name: \"literal ${NOT_A_REF} and $HOME\"\n");
    assert_int_equal(cfg->sip_port, 5080);
    assert_int_equal(cfg->n_api_tokens, 1);
    assert_string_equal(cfg->api_tokens[0], "token-from-environment-0123");
    assert_string_equal(cfg->extensions[0].password, "from-the-environment");
    assert_string_equal(cfg->extensions[0].name, "literal ${NOT_A_REF} and $HOME");
    ztpd_config_free(cfg);

    /* The substituted value is validated like a literal one. */
    setenv("ZTPD_TEST_SHORT", "short", 1);
    expect_error("api:\n  tokens:\n    - ${ZTPD_TEST_SHORT}\n",
                 "config.yml:3: api.tokens[0]: token too short (minimum 16 characters)");
    unsetenv("ZTPD_TEST_UNSET_VAR");
    expect_error("extensions:\n  - number: \"1001\"\n    password: \"${ZTPD_TEST_UNSET_VAR}\"\n",
                 "config.yml:3: extensions[0].password: environment variable "
                 "ZTPD_TEST_UNSET_VAR is not set");
}

static void test_relative_paths(void **state)
{
    (void)state;
    struct ztpd_config *cfg = load_ok_as("sub/ztpd.yml", "server:\n"
                                                         "  data_dir: state\n"
                                                         "storage:\n"
                                                         "  module_dir: ../modules\n"
                                                         "logging:\n"
                                                         "  file: ./log/ztpd.log\n"
                                                         "provisioning:\n"
                                                         "  custom_templates_dir: tpl\n"
                                                         "  vendors_dir: /abs/vendors\n");
    assert_string_equal(cfg->path, expected_path("sub/ztpd.yml"));
    assert_string_equal(cfg->base_dir, expected_path("sub"));
    assert_string_equal(cfg->data_dir, expected_path("sub/state"));
    /* The sqlite default follows data_dir. */
    assert_string_equal(cfg->sqlite_path, expected_path("sub/state/ztpd.db"));
    assert_string_equal(cfg->module_dir, expected_path("sub/../modules"));
    assert_string_equal(cfg->log_file, expected_path("sub/log/ztpd.log"));
    assert_string_equal(cfg->custom_templates_dir, expected_path("sub/tpl"));
    assert_string_equal(cfg->vendors_dir, "/abs/vendors");
    ztpd_config_free(cfg);

    /* An explicit sqlite path resolves against the file's directory, not data_dir. */
    cfg = load_ok_as("sub/ztpd.yml", "server:\n  data_dir: state\nstorage:\n  sqlite:\n"
                                     "    path: db/ztpd.db\n");
    assert_string_equal(cfg->sqlite_path, expected_path("sub/db/ztpd.db"));
    ztpd_config_free(cfg);
}

/* Reads the password of the config in `text` (password_file pointing at <tmpdir>/<file>). */
static int read_password(const char *file, char **out)
{
    char text[PATH_MAX + 96];
    snprintf(text, sizeof(text), "storage:\n  postgres:\n    password_file: %s\n", file);
    struct ztpd_config *cfg = load_ok(text);
    int rc = ztpd_config_read_password_file(cfg, out, last_err, sizeof(last_err));
    ztpd_config_free(cfg);
    return rc;
}

static void expect_password(const char *content, const char *want)
{
    char *pw = NULL;
    chmod(write_file("pg.pw", content), 0600);
    int rc = read_password("pg.pw", &pw);
    if (rc)
        fail_msg("read failed (%d): %s", rc, last_err);
    assert_string_equal(pw, want);
    free(pw);
}

static void expect_password_error(const char *file, const char *want_suffix)
{
    char *pw = (char *)"unchanged";
    char want[PATH_MAX * 2 + 128];
    assert_int_equal(read_password(file, &pw), ZTPD_ECONFIG);
    assert_null(pw);
    snprintf(want, sizeof(want), "storage.postgres.password_file: %s%s", expected_path(file),
             want_suffix);
    assert_string_equal(last_err, want);
}

static void test_password_file(void **state)
{
    (void)state;
    /* Unset: no password, no error. */
    struct ztpd_config *cfg = load_ok("storage:\n  backend: postgres\n");
    char *pw = (char *)"unchanged";
    assert_int_equal(ztpd_config_read_password_file(cfg, &pw, last_err, sizeof(last_err)), 0);
    assert_null(pw);
    assert_null(ztpd_config_lookup(cfg, "storage.postgres.password_file"));
    ztpd_config_free(cfg);

    /* A relative path resolves against the config file's directory. */
    cfg = load_ok_as("sub/ztpd.yml", "storage:\n  postgres:\n    password_file: secret.pw\n");
    assert_string_equal(cfg->postgres_password_file, expected_path("sub/secret.pw"));
    assert_string_equal(ztpd_config_lookup(cfg, "storage.postgres.password_file"),
                        expected_path("sub/secret.pw"));
    ztpd_config_free(cfg);

    /* The first line, without LF or CRLF; what follows is ignored, inner blanks are kept. */
    expect_password("s3cret\n", "s3cret");
    expect_password("s3cret\r\nsecond line\n", "s3cret");
    expect_password("no newline", "no newline");
    expect_password("pass word \n", "pass word ");
    /* Group/world-readable: a warning, not a failure (mounted secrets are often 0644). */
    write_file("open.pw", "opensecret\n");
    chmod(expected_path("open.pw"), 0644);
    assert_int_equal(read_password("open.pw", &pw), 0);
    assert_string_equal(pw, "opensecret");
    free(pw);

    /* 1024 bytes is the limit; the message never quotes the content. */
    char line[1027], want[1025];
    memset(line, 'x', 1024);
    memcpy(want, line, 1024);
    want[1024] = '\0';
    strcpy(line + 1024, "\n");
    expect_password(line, want);
    strcpy(line + 1024, "y\n");
    chmod(write_file("long.pw", line), 0600);
    expect_password_error("long.pw", ": the first line is longer than 1024 bytes");
    assert_null(strstr(last_err, "xxxx"));

    char want_missing[PATH_MAX * 2 + 128];
    pw = (char *)"unchanged";
    assert_int_equal(read_password("missing.pw", &pw), ZTPD_ECONFIG);
    assert_null(pw);
    snprintf(want_missing, sizeof(want_missing),
             "storage.postgres.password_file: cannot read %s: No such file or directory",
             expected_path("missing.pw"));
    assert_string_equal(last_err, want_missing);
    chmod(write_file("empty.pw", ""), 0600);
    expect_password_error("empty.pw", ": the first line is empty");
    chmod(write_file("blank.pw", "\r\nsecond\n"), 0600);
    expect_password_error("blank.pw", ": the first line is empty");
    mkdir(expected_path("dir.pw"), 0700);
    expect_password_error("dir.pw", " is not a regular file");
}

static void test_example_file(void **state)
{
    (void)state;
    struct ztpd_config *cfg = NULL;
    int rc =
        ztpd_config_load(&cfg, ZTPD_SOURCE_DIR "/config.yml.example", last_err, sizeof(last_err));
    if (rc)
        fail_msg("config.yml.example: %s", last_err);
    assert_string_equal(cfg->http_host, "0.0.0.0");
    assert_int_equal(cfg->http_port, 8080);
    assert_string_equal(cfg->storage_backend, "sqlite");
    assert_int_equal(cfg->n_api_tokens, 0);
    assert_int_equal(cfg->n_extensions, 2);
    assert_string_equal(cfg->extensions[0].number, "1001");
    assert_string_equal(cfg->extensions[0].name, "Alice Example");
    assert_string_equal(cfg->extensions[1].number, "1002");
    assert_string_equal(cfg->extensions[1].name, "Bob Example");
    assert_int_equal(cfg->n_devices, 0);
    assert_true(cfg->prov_enabled);
    assert_string_equal(cfg->sqlite_path, ztpd_config_lookup(cfg, "storage.sqlite.path"));
    assert_string_equal(cfg->server_address, "127.0.0.1");
    ztpd_config_free(cfg);
}

static void test_io_errors(void **state)
{
    (void)state;
    struct ztpd_config *cfg = NULL;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/does-not-exist.yml", tmpdir);
    assert_int_equal(ztpd_config_load(&cfg, path, last_err, sizeof(last_err)), ZTPD_EIO);
    assert_non_null(strstr(last_err, "does-not-exist.yml: cannot open"));
    assert_int_equal(ztpd_config_load(&cfg, tmpdir, last_err, sizeof(last_err)), ZTPD_EIO);
    assert_null(cfg);
    /* A NULL error buffer is allowed. */
    assert_int_equal(ztpd_config_load(&cfg, path, NULL, 0), ZTPD_EIO);
}

static void test_err_syntax(void **state)
{
    (void)state;
    expect_error("server:\n  name: ztpd\n   bad: indent\n", "config.yml:3: syntax error: ");
    expect_error("http:\n  listen: \"unterminated\n", "config.yml:");
    expect_error("a: 1\n---\nb: 2\n", "config.yml:3: only one YAML document is allowed");
    expect_error("- just\n- a list\n", "config.yml:1: (top level): expected a mapping");
    expect_error("http:\n  listen: \":80\"\n  listen: \":81\"\n",
                 "config.yml:3: http: duplicate key \"listen\" (first at line 2)");
}

static void test_err_unknown_key(void **state)
{
    (void)state;
    expect_error("server:\n  name: x\nhtp:\n  listen: \":80\"\n", "config.yml:3: htp: unknown key");
    expect_error("http:\n  max_body_size: 10\n  lisen: \":80\"\n",
                 "config.yml:3: http.lisen: unknown key");
    /* Dotted keys are not a shortcut for nesting. */
    expect_error("sip:\n  port: 5060\nserver.name: x\n", "config.yml:3: server.name: unknown key");
    expect_error("storage:\n  sqlite.path: x.db\n",
                 "config.yml:2: storage.sqlite.path: unknown key");
    expect_error("storage:\n  sqlite:\n    file: x.db\n",
                 "config.yml:3: storage.sqlite.file: unknown key");
    expect_error("extensions:\n  - number: \"1001\"\n    password: pw\n    pin: 1234\n",
                 "config.yml:4: extensions[0].pin: unknown key");
    expect_error("provisioning:\n  devices:\n    - mac: 001565123456\n      ext: \"1001\"\n",
                 "config.yml:4: provisioning.devices[0].ext: unknown key");
}

static void test_err_wrong_type(void **state)
{
    (void)state;
    expect_error("http:\n  listen:\n    host: 0.0.0.0\n",
                 "config.yml:3: http.listen: expected a string, got a mapping");
    expect_error("server:\n  name: [a, b]\n",
                 "config.yml:2: server.name: expected a string, got a list");
    expect_error("http:\n  max_body_size: big\n",
                 "config.yml:2: http.max_body_size: expected an integer");
    expect_error("http:\n  idle_timeout: 1.5\n",
                 "config.yml:2: http.idle_timeout: expected an integer");
    expect_error("sip:\n  port: {a: 1}\n",
                 "config.yml:2: sip.port: expected an integer, got a mapping");
    expect_error("provisioning:\n  enabled: maybe\n",
                 "config.yml:2: provisioning.enabled: expected a boolean");
    expect_error("server: ztpd\n", "config.yml:1: server: expected a mapping, got a scalar");
    expect_error("api:\n  tokens: abcdefabcdefabcdef\n",
                 "config.yml:2: api.tokens: expected a list, got a scalar");
    expect_error("extensions:\n  - \"1001\"\n", "config.yml:2: extensions[0]: expected a mapping");
    expect_error("extensions:\n  number: 1001\n", "config.yml:2: extensions: expected a list");
}

static void test_err_ports_and_listen(void **state)
{
    (void)state;
    expect_error("sip:\n  port: 0\n", "config.yml:2: sip.port: port out of range (1-65535)");
    expect_error("sip:\n  port: 70000\n", "config.yml:2: sip.port: port out of range");
    expect_error("sip:\n  port: -1\n", "config.yml:2: sip.port: port out of range");
    expect_error("\n\nhttp:\n  listen: \":70000\"\n",
                 "config.yml:4: http.listen: port out of range (1-65535)");
    expect_error("http:\n  listen: \"localhost\"\n",
                 "config.yml:2: http.listen: expected host:port");
    expect_error("http:\n  listen: \"::1:8080\"\n",
                 "config.yml:2: http.listen: IPv6 addresses must be bracketed");
    expect_error("http:\n  listen: \"[::1]\"\n", "config.yml:2: http.listen: expected host:port");
    expect_error("http:\n  listen: \"host:\"\n", "config.yml:2: http.listen: expected host:port");
    expect_error("http:\n  listen: \"a b:80\"\n", "config.yml:2: http.listen: expected host:port");
    expect_error("http:\n  listen: \"[]:80\"\n", "config.yml:2: http.listen: expected host:port");
}

static void test_err_sizes(void **state)
{
    (void)state;
    expect_error("http:\n  max_header_size: 0\n",
                 "config.yml:2: http.max_header_size: must be a positive integer");
    expect_error("http:\n  max_body_size: -5\n",
                 "config.yml:2: http.max_body_size: must be a positive integer");
    expect_error("http:\n  max_connections: 0\n",
                 "config.yml:2: http.max_connections: must be a positive integer");
    expect_error("http:\n  idle_timeout: 0\n",
                 "config.yml:2: http.idle_timeout: must be a positive number of seconds");
    expect_error("http:\n  max_body_size: 99999999999999999999999\n",
                 "config.yml:2: http.max_body_size: integer out of range");
    expect_error("provisioning:\n  timezone_offset: 15\n",
                 "config.yml:2: provisioning.timezone_offset: out of range (-12..14)");
    expect_error("provisioning:\n  timezone_offset: -13\n",
                 "config.yml:2: provisioning.timezone_offset: out of range (-12..14)");
}

static void test_err_enums(void **state)
{
    (void)state;
    expect_error("logging:\n  level: verbose\n",
                 "config.yml:2: logging.level: unknown log level \"verbose\"");
    expect_error("storage:\n  backend: mysql\n",
                 "config.yml:2: storage.backend: unknown storage backend \"mysql\"");
}

static void test_err_tokens(void **state)
{
    (void)state;
    expect_error("api:\n  tokens:\n    - \"0123456789abcdef\"\n    - \"tooshort\"\n",
                 "config.yml:4: api.tokens[1]: token too short (minimum 16 characters)");
    /* The token itself must never appear in a message. */
    assert_null(strstr(last_err, "tooshort"));
}

static void test_err_extensions(void **state)
{
    (void)state;
    expect_error("extensions:\n  - number: \"10a1\"\n    password: pw\n",
                 "config.yml:2: extensions[0].number: extension number must be 1-20 digits");
    expect_error("extensions:\n  - number: \"123456789012345678901\"\n    password: pw\n",
                 "config.yml:2: extensions[0].number: extension number must be 1-20 digits");
    expect_error("extensions:\n  - number: \"\"\n    password: pw\n",
                 "config.yml:2: extensions[0].number: must not be empty");
    expect_error("extensions:\n  - name: Alice\n    password: pw\n",
                 "config.yml:2: extensions[0]: missing required key \"number\"");
    expect_error("extensions:\n  - number: 1001\n    name: Alice\n",
                 "config.yml:2: extensions[0]: missing required key \"password\"");
    expect_error("extensions:\n"
                 "  - number: 1001\n"
                 "    password: a\n"
                 "  - number: \"1001\"\n"
                 "    password: b\n",
                 "config.yml:4: extensions[1].number: duplicate extension number 1001 "
                 "(first at line 2)");
}

static void test_err_devices(void **state)
{
    (void)state;
    const char *head = "provisioning:\n  devices:\n";
    char yaml[512];
#define DEVICE_ERR(body, want)                                                                     \
    do {                                                                                           \
        snprintf(yaml, sizeof(yaml), "%s%s", head, body);                                          \
        expect_error(yaml, want);                                                                  \
    } while (0)
    DEVICE_ERR("    - mac: \"00:15:65:12:34\"\n      extension: 1001\n      vendor: y\n"
               "      model: t\n",
               "config.yml:3: provisioning.devices[0].mac: invalid MAC address");
    DEVICE_ERR("    - mac: \"00:15-65:12:34:56\"\n      extension: 1001\n      vendor: y\n"
               "      model: t\n",
               "config.yml:3: provisioning.devices[0].mac: invalid MAC address");
    DEVICE_ERR("    - mac: 001565123456\n      extension: 1001\n      vendor: y\n      model: t\n"
               "    - mac: 00-15-65-12-34-56\n      extension: 1002\n      vendor: y\n"
               "      model: t\n",
               "config.yml:7: provisioning.devices[1].mac: duplicate device MAC 001565123456 "
               "(first at line 3)");
    DEVICE_ERR("    - mac: 001565123456\n      vendor: y\n      model: t\n",
               "config.yml:3: provisioning.devices[0]: missing required key \"extension\"");
    DEVICE_ERR("    - mac: 001565123456\n      extension: 1001\n      model: t\n",
               "config.yml:3: provisioning.devices[0]: missing required key \"vendor\"");
    DEVICE_ERR("    - mac: 001565123456\n      extension: 1001\n      vendor: y\n",
               "config.yml:3: provisioning.devices[0]: missing required key \"model\"");
    DEVICE_ERR("    - extension: 1001\n      vendor: y\n      model: t\n",
               "config.yml:3: provisioning.devices[0]: missing required key \"mac\"");
    DEVICE_ERR("    - mac: 001565123456\n      extension: abc\n      vendor: y\n      model: t\n",
               "config.yml:4: provisioning.devices[0].extension: extension number must be");
    DEVICE_ERR("    - mac: 001565123456\n      extension: 1001\n      vendor: ../etc\n"
               "      model: t\n",
               "config.yml:5: provisioning.devices[0].vendor: must contain only");
#undef DEVICE_ERR
}

static void test_sip_keys(void **state)
{
    (void)state;
    struct ztpd_config *cfg = load_ok("");
    assert_true(cfg->sip_enabled);
    assert_string_equal(cfg->sip_host, "0.0.0.0");
    assert_int_equal(cfg->sip_port, 5060);
    assert_int_equal(cfg->sip_transports, ZTPD_CFG_SIP_UDP | ZTPD_CFG_SIP_TCP);
    assert_string_equal(cfg->sip_realm, "ztpd");
    assert_string_equal(cfg->sip_advertise, "127.0.0.1");
    assert_int_equal(cfg->sip_nonce_ttl, 300);
    assert_int_equal(cfg->sip_expires_default, 3600);
    assert_int_equal(cfg->sip_expires_min, 60);
    assert_int_equal(cfg->sip_expires_max, 7200);
    assert_int_equal(cfg->sip_max_contacts, 10);
    assert_int_equal(cfg->sip_reboot_pace, 20);
    assert_string_equal(ztpd_config_lookup(cfg, "sip.listen"), "0.0.0.0:5060");
    assert_string_equal(ztpd_config_lookup(cfg, "sip.transports"), "udp,tcp");
    ztpd_config_free(cfg);

    /* Realm and advertise follow server.name / server.address unless set. */
    cfg = load_ok("server:\n  name: pbx1\n  address: 10.1.2.3\n");
    assert_string_equal(cfg->sip_realm, "pbx1");
    assert_string_equal(cfg->sip_advertise, "10.1.2.3");
    ztpd_config_free(cfg);

    cfg = load_ok("sip:\n  enabled: false\n  listen: \"[::1]:5070\"\n  transports: [tcp]\n"
                  "  realm: office\n  advertise: pbx.example.com\n  nonce_ttl: 60\n"
                  "  expires:\n    default: 600\n    min: 30\n    max: 900\n"
                  "  max_contacts: 3\n  reboot_pace: 5\n");
    assert_false(cfg->sip_enabled);
    assert_string_equal(cfg->sip_host, "::1");
    assert_int_equal(cfg->sip_port, 5070);
    assert_int_equal(cfg->sip_transports, ZTPD_CFG_SIP_TCP);
    assert_string_equal(cfg->sip_realm, "office");
    assert_string_equal(cfg->sip_advertise, "pbx.example.com");
    assert_int_equal(cfg->sip_nonce_ttl, 60);
    assert_int_equal(cfg->sip_expires_default, 600);
    assert_int_equal(cfg->sip_expires_min, 30);
    assert_int_equal(cfg->sip_expires_max, 900);
    assert_int_equal(cfg->sip_max_contacts, 3);
    assert_int_equal(cfg->sip_reboot_pace, 5);
    /* {{SIP_PORT}} in templates keeps meaning the listen port. */
    assert_string_equal(ztpd_config_lookup(cfg, "sip.port"), "5070");
    assert_string_equal(ztpd_config_lookup(cfg, "sip.listen"), "[::1]:5070");
    assert_string_equal(ztpd_config_lookup(cfg, "sip.transports"), "tcp");
    ztpd_config_free(cfg);

    /* The legacy sip.port alone still moves the listener; agreeing keys are fine. */
    cfg = load_ok("sip:\n  port: 5062\n  transports: udp\n");
    assert_int_equal(cfg->sip_port, 5062);
    assert_int_equal(cfg->sip_transports, ZTPD_CFG_SIP_UDP);
    ztpd_config_free(cfg);
    cfg = load_ok("sip:\n  port: 5062\n  listen: \"127.0.0.1:5062\"\n");
    assert_string_equal(cfg->sip_host, "127.0.0.1");
    ztpd_config_free(cfg);
}

static void test_err_sip(void **state)
{
    (void)state;
    expect_error("sip:\n  listen: \"1.2.3.4\"\n", "config.yml:2: sip.listen: expected host:port");
    expect_error("sip:\n  listen: \":0\"\n", "config.yml:2: sip.listen: port out of range");
    expect_error("sip:\n  transports: [udp, sctp]\n",
                 "config.yml:2: sip.transports[1]: unknown transport \"sctp\"");
    expect_error("sip:\n  transports: []\n",
                 "config.yml:2: sip.transports: at least one transport");
    expect_error("sip:\n  transports: tls\n", "config.yml:2: sip.transports: unknown transport");
    expect_error("sip:\n  nonce_ttl: 0\n", "config.yml:2: sip.nonce_ttl: out of range (10..86400)");
    expect_error("sip:\n  max_contacts: 17\n",
                 "config.yml:2: sip.max_contacts: out of range (1..16)");
    expect_error("sip:\n  reboot_pace: 0\n", "config.yml:2: sip.reboot_pace: out of range");
    expect_error("sip:\n  expires:\n    min: 600\n    max: 300\n",
                 "config.yml: sip.expires.min: greater than sip.expires.max (600 > 300)");
    expect_error("sip:\n  expires:\n    default: 10000\n",
                 "config.yml: sip.expires.default: 10000 is outside sip.expires.min..max");
    expect_error("sip:\n  expires:\n    bogus: 1\n",
                 "config.yml:3: sip.expires.bogus: unknown key");
    expect_error("sip:\n  realm: \"a\\\"b\"\n", "config.yml: sip.realm: the SIP realm must not");
    expect_error("sip:\n  advertise: 0.0.0.0\n", "config.yml: sip.advertise: a wildcard address");
    expect_error("server:\n  address: \"::\"\n", "config.yml: server.address: a wildcard address");
    expect_error("sip:\n  port: 5061\n  listen: \":5062\"\n",
                 "config.yml: sip.port: 5061 conflicts with the port of sip.listen (5062)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* clang-format off */
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_empty_file_defaults),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_err_syntax),
        cmocka_unit_test(test_err_unknown_key),
        cmocka_unit_test(test_err_wrong_type),
        cmocka_unit_test(test_err_ports_and_listen),
        cmocka_unit_test(test_err_sizes),
        cmocka_unit_test(test_err_enums),
        cmocka_unit_test(test_err_tokens),
        cmocka_unit_test(test_err_extensions),
        cmocka_unit_test(test_err_devices),
        cmocka_unit_test(test_sip_keys),
        cmocka_unit_test(test_err_sip),
        /* clang-format on */
    };
    return cmocka_run_group_tests_name("config", tests, group_setup, group_teardown);
}
