#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config/yaml_walk.h"
#include "log/log.h"
#include "util/error.h"
#include "util/mac.h"

#define DEFAULT_URL_FORMAT "http://{{SERVER_IP}}:{{PORT}}/provision/{mac}.cfg"

/* How a key's value is checked and where it is stored. One table drives both the walk and
 * ztpd_config_lookup(), so a key cannot be parsed but not looked up or the other way round. */
enum kind {
    K_SECTION,    /* a mapping of further keys */
    K_STRING,     /* char *; empty keeps the default */
    K_PATH,       /* char *; resolved against base_dir; empty means unset */
    K_INT,        /* int within [min, max] */
    K_PORT,       /* int 1..65535 */
    K_SIZE,       /* size_t > 0 */
    K_COUNT,      /* unsigned > 0 */
    K_SECONDS,    /* whole seconds > 0, stored as unsigned milliseconds */
    K_BOOL,       /* bool */
    K_LISTEN,     /* http.listen: http_host + http_port */
    K_SIP_LISTEN, /* sip.listen: sip_host + sip_port */
    K_TRANSPORTS, /* sip.transports: list of udp/tcp */
    K_LEVEL,      /* logging.level: int */
    K_BACKEND,    /* storage.backend: char * */
    K_TOKENS,     /* api.tokens */
    K_EXTENSIONS, /* extensions */
    K_DEVICES,    /* provisioning.devices */
};

struct key_spec {
    const char *key;
    enum kind kind;
    size_t off;
    long long min, max; /* K_INT only */
};

#define F(field) offsetof(struct ztpd_config, field)

static const struct key_spec specs[] = {
    {"server", K_SECTION, 0, 0, 0},
    {"server.name", K_STRING, F(server_name), 0, 0},
    {"server.address", K_STRING, F(server_address), 0, 0},
    {"server.data_dir", K_PATH, F(data_dir), 0, 0},
    {"http", K_SECTION, 0, 0, 0},
    {"http.listen", K_LISTEN, 0, 0, 0},
    {"http.max_header_size", K_SIZE, F(http_max_header_size), 0, 0},
    {"http.max_body_size", K_SIZE, F(http_max_body_size), 0, 0},
    {"http.idle_timeout", K_SECONDS, F(http_idle_timeout_ms), 0, 0},
    {"http.max_connections", K_COUNT, F(http_max_connections), 0, 0},
    {"sip", K_SECTION, 0, 0, 0},
    {"sip.enabled", K_BOOL, F(sip_enabled), 0, 0},
    {"sip.listen", K_SIP_LISTEN, 0, 0, 0},
    {"sip.port", K_PORT, F(sip_port), 0, 0},
    {"sip.transports", K_TRANSPORTS, F(sip_transports), 0, 0},
    {"sip.realm", K_STRING, F(sip_realm), 0, 0},
    {"sip.advertise", K_STRING, F(sip_advertise), 0, 0},
    {"sip.nonce_ttl", K_INT, F(sip_nonce_ttl), 10, 86400},
    {"sip.expires", K_SECTION, 0, 0, 0},
    {"sip.expires.default", K_INT, F(sip_expires_default), 1, 86400},
    {"sip.expires.min", K_INT, F(sip_expires_min), 1, 86400},
    {"sip.expires.max", K_INT, F(sip_expires_max), 1, 86400},
    {"sip.max_contacts", K_INT, F(sip_max_contacts), 1, 16},
    {"sip.reboot_pace", K_INT, F(sip_reboot_pace), 1, 10000},
    {"storage", K_SECTION, 0, 0, 0},
    {"storage.backend", K_BACKEND, F(storage_backend), 0, 0},
    {"storage.module_dir", K_PATH, F(module_dir), 0, 0},
    {"storage.sqlite", K_SECTION, 0, 0, 0},
    {"storage.sqlite.path", K_PATH, F(sqlite_path), 0, 0},
    {"storage.postgres", K_SECTION, 0, 0, 0},
    {"storage.postgres.dsn", K_STRING, F(postgres_dsn), 0, 0},
    {"storage.postgres.password_file", K_PATH, F(postgres_password_file), 0, 0},
    {"storage.flush_interval_ms", K_INT, F(storage_flush_interval_ms), 10, 60000},
    {"api", K_SECTION, 0, 0, 0},
    {"api.tokens", K_TOKENS, 0, 0, 0},
    {"logging", K_SECTION, 0, 0, 0},
    {"logging.level", K_LEVEL, F(log_level), 0, 0},
    {"logging.file", K_PATH, F(log_file), 0, 0},
    {"extensions", K_EXTENSIONS, 0, 0, 0},
    {"provisioning", K_SECTION, 0, 0, 0},
    {"provisioning.enabled", K_BOOL, F(prov_enabled), 0, 0},
    {"provisioning.url_format", K_STRING, F(url_format), 0, 0},
    {"provisioning.custom_templates_dir", K_PATH, F(custom_templates_dir), 0, 0},
    {"provisioning.vendors_dir", K_PATH, F(vendors_dir), 0, 0},
    {"provisioning.timezone", K_STRING, F(timezone), 0, 0},
    {"provisioning.timezone_offset", K_INT, F(timezone_offset), -12, 14},
    {"provisioning.ntp_server", K_STRING, F(ntp_server), 0, 0},
    {"provisioning.upload_max_size", K_SIZE, F(upload_max_size), 0, 0},
    {"provisioning.discovered_max", K_INT, F(discovered_max), 0, 1000000},
    {"provisioning.devices", K_DEVICES, 0, 0, 0},
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Dotted keys are short; a longer unknown key from the file is cut, which only shortens a
 * message. */
#define KEY_MAX 256

struct load {
    struct ztpd_yaml_walk w;
    struct ztpd_config *cfg;
    int sip_listen_port; /* port given by sip.listen, 0 when absent */
    int sip_port_key;    /* port given by sip.port, 0 when absent */
};

/* Formats a key path into buf (KEY_MAX bytes). */
static const char *keyf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *keyf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, KEY_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

static const struct key_spec *find_spec(const char *key)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (!strcmp(specs[i].key, key))
            return &specs[i];
    return NULL;
}

static void *field(struct ztpd_config *cfg, const struct key_spec *s)
{
    return (char *)cfg + s->off;
}

static int oom(struct load *ld)
{
    if (ld->w.err && ld->w.errlen)
        snprintf(ld->w.err, ld->w.errlen, "%s: out of memory", ld->w.file);
    return ZTPD_ENOMEM;
}

/* Replaces *slot with a copy of v (NULL clears it). */
static int set_str(struct load *ld, char **slot, const char *v)
{
    char *copy = NULL;
    if (v && !(copy = strdup(v)))
        return oom(ld);
    free(*slot);
    *slot = copy;
    return 0;
}

/* Joins a relative path to base_dir; "./" prefixes are dropped to keep messages readable. */
static char *resolve_path(const char *base_dir, const char *p)
{
    char *out;
    if (p[0] == '/')
        return strdup(p);
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/')
            p++;
    }
    if (!*p || !strcmp(p, "."))
        return strdup(base_dir);
    if (asprintf(&out, "%s/%s", base_dir, p) < 0)
        return NULL;
    return out;
}

static bool is_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Accepts "host:port", ":port", "port" and "[v6]:port". An unbracketed host with a colon is
 * rejected: "::1:8080" could be read two ways. */
static int parse_listen(struct load *ld, const yaml_node_t *n, const char *key, const char *v,
                        char **host_slot, int *port_slot)
{
    const char *host = NULL, *port;
    size_t host_len = 0;
    long p;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || close == v + 1 || close[1] != ':')
            return ztpd_yaml_fail(&ld->w, n, key, "expected host:port, :port, port or [ipv6]:port");
        host = v + 1;
        host_len = (size_t)(close - host);
        port = close + 2;
    } else {
        const char *colon = strrchr(v, ':');
        if (colon) {
            host = v;
            host_len = (size_t)(colon - v);
            port = colon + 1;
            if (memchr(host, ':', host_len))
                return ztpd_yaml_fail(&ld->w, n, key,
                                      "IPv6 addresses must be bracketed: [ipv6]:port");
        } else {
            port = v;
        }
    }
    for (size_t i = 0; i < host_len; i++)
        if (isspace((unsigned char)host[i]) || host[i] == '[' || host[i] == ']')
            return ztpd_yaml_fail(&ld->w, n, key, "expected host:port, :port, port or [ipv6]:port");
    if (!is_digits(port, 1, 5))
        return ztpd_yaml_fail(&ld->w, n, key, "expected host:port, :port, port or [ipv6]:port");
    p = strtol(port, NULL, 10);
    if (p < 1 || p > 65535)
        return ztpd_yaml_fail(&ld->w, n, key, "port out of range (1-65535)");
    *port_slot = (int)p;
    if (host_len) {
        char *h = strndup(host, host_len);
        if (!h)
            return oom(ld);
        free(*host_slot);
        *host_slot = h;
    }
    return 0;
}

/* sip.transports: a non-empty list of "udp" and "tcp" (a single scalar is accepted too). */
static int parse_transports(struct load *ld, const yaml_node_t *n, const char *key, int *out)
{
    char item_key[KEY_MAX];
    const char *v;
    int rc, bits = 0;
    if (n->type == YAML_SCALAR_NODE) {
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        if (!strcasecmp(v, "udp"))
            bits = ZTPD_CFG_SIP_UDP;
        else if (!strcasecmp(v, "tcp"))
            bits = ZTPD_CFG_SIP_TCP;
        else
            return ztpd_yaml_fail(&ld->w, n, key, "unknown transport \"%s\" (expected udp or tcp)",
                                  v);
        *out = bits;
        return 0;
    }
    if ((rc = ztpd_yaml_sequence(&ld->w, n, key)))
        return rc;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *item = ztpd_yaml_node(&ld->w, *it);
        keyf(item_key, "%s[%zu]", key, (size_t)(it - n->data.sequence.items.start));
        if ((rc = ztpd_yaml_string(&ld->w, item, item_key, &v)))
            return rc;
        if (!strcasecmp(v, "udp"))
            bits |= ZTPD_CFG_SIP_UDP;
        else if (!strcasecmp(v, "tcp"))
            bits |= ZTPD_CFG_SIP_TCP;
        else
            return ztpd_yaml_fail(&ld->w, item, item_key,
                                  "unknown transport \"%s\" (expected udp or tcp)", v);
    }
    if (!bits)
        return ztpd_yaml_fail(&ld->w, n, key, "at least one transport (udp, tcp) is required");
    *out = bits;
    return 0;
}

/* An integer scalar checked against [min, max]; `what` completes the range message. */
static int int_in(struct load *ld, const yaml_node_t *n, const char *key, long long min,
                  long long max, const char *what, long long *out)
{
    int rc = ztpd_yaml_int(&ld->w, n, key, out);
    if (rc)
        return rc;
    if (*out < min || *out > max) {
        if (what)
            return ztpd_yaml_fail(&ld->w, n, key, "%s", what);
        return ztpd_yaml_fail(&ld->w, n, key, "out of range (%lld..%lld)", min, max);
    }
    return 0;
}

static int parse_tokens(struct load *ld, const yaml_node_t *n, const char *key)
{
    struct ztpd_config *cfg = ld->cfg;
    char item_key[KEY_MAX];
    int rc = ztpd_yaml_sequence(&ld->w, n, key);
    if (rc)
        return rc;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *item = ztpd_yaml_node(&ld->w, *it);
        const char *v;
        char **grown;
        keyf(item_key, "%s[%zu]", key, (size_t)(it - n->data.sequence.items.start));
        if ((rc = ztpd_yaml_string(&ld->w, item, item_key, &v)))
            return rc;
        /* Never echo the token: the message ends up in logs. */
        if (strlen(v) < 16)
            return ztpd_yaml_fail(&ld->w, item, item_key,
                                  "token too short (minimum 16 characters)");
        grown = realloc(cfg->api_tokens, (cfg->n_api_tokens + 1) * sizeof(*grown));
        if (!grown)
            return oom(ld);
        cfg->api_tokens = grown;
        if (!(grown[cfg->n_api_tokens] = strdup(v)))
            return oom(ld);
        cfg->n_api_tokens++;
    }
    return 0;
}

/* One field of a list item: the item's own small schema, checked for unknown keys here. */
struct item_field {
    const char *name;
    char **slot;
};

/* Walks one list item mapping, storing the string fields named in `fields`. */
static int parse_item(struct load *ld, const yaml_node_t *n, const char *item_key,
                      struct item_field *fields, size_t n_fields)
{
    char key[KEY_MAX];
    int rc = ztpd_yaml_mapping(&ld->w, n, item_key);
    if (rc)
        return rc;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ztpd_yaml_node(&ld->w, p->key);
        yaml_node_t *v = ztpd_yaml_node(&ld->w, p->value);
        const char *name = ztpd_yaml_key_text(k), *text;
        size_t i;
        keyf(key, "%s.%s", item_key, name);
        for (i = 0; i < n_fields && strcmp(fields[i].name, name); i++)
            ;
        if (i == n_fields)
            return ztpd_yaml_fail(&ld->w, k, key, "unknown key");
        if (ztpd_yaml_is_null(v))
            continue;
        if ((rc = ztpd_yaml_string(&ld->w, v, key, &text)))
            return rc;
        if ((rc = set_str(ld, fields[i].slot, text)))
            return rc;
    }
    return 0;
}

/* Finds the value node of `name` in a mapping already checked by parse_item(). */
static const yaml_node_t *item_value(struct load *ld, const yaml_node_t *n, const char *name)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
        if (!strcmp(ztpd_yaml_key_text(ztpd_yaml_node(&ld->w, p->key)), name))
            return ztpd_yaml_node(&ld->w, p->value);
    return n;
}

/* A required item field: absent (or null) is reported at the item, empty at the value. */
static int require(struct load *ld, const yaml_node_t *n, const char *item_key, const char *name,
                   const char *value)
{
    if (!value)
        return ztpd_yaml_fail(&ld->w, n, item_key, "missing required key \"%s\"", name);
    if (!*value) {
        char key[KEY_MAX];
        return ztpd_yaml_fail(&ld->w, item_value(ld, n, name), keyf(key, "%s.%s", item_key, name),
                              "must not be empty");
    }
    return 0;
}

static int check_extension_number(struct load *ld, const yaml_node_t *n, const char *key,
                                  const char *number)
{
    if (!is_digits(number, 1, 20))
        return ztpd_yaml_fail(&ld->w, n, key, "extension number must be 1-20 digits");
    return 0;
}

static int parse_extensions(struct load *ld, const yaml_node_t *n, const char *key)
{
    struct ztpd_config *cfg = ld->cfg;
    char item_key[KEY_MAX], field_key[KEY_MAX];
    int rc = ztpd_yaml_sequence(&ld->w, n, key);
    if (rc)
        return rc;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *item = ztpd_yaml_node(&ld->w, *it);
        struct ztpd_cfg_extension *grown, *e;
        keyf(item_key, "%s[%zu]", key, (size_t)(it - n->data.sequence.items.start));
        grown = realloc(cfg->extensions, (cfg->n_extensions + 1) * sizeof(*grown));
        if (!grown)
            return oom(ld);
        cfg->extensions = grown;
        e = &grown[cfg->n_extensions++];
        memset(e, 0, sizeof(*e));
        e->line = ztpd_yaml_line(item);
        struct item_field fields[] = {
            {"number", &e->number}, {"name", &e->name}, {"password", &e->password}};
        if ((rc = parse_item(ld, item, item_key, fields, sizeof(fields) / sizeof(fields[0]))))
            return rc;
        if ((rc = require(ld, item, item_key, "number", e->number)) ||
            (rc = require(ld, item, item_key, "password", e->password)))
            return rc;
        keyf(field_key, "%s.number", item_key);
        if ((rc = check_extension_number(ld, item_value(ld, item, "number"), field_key, e->number)))
            return rc;
        for (size_t j = 0; j + 1 < cfg->n_extensions; j++)
            if (!strcmp(cfg->extensions[j].number, e->number))
                return ztpd_yaml_fail(&ld->w, item_value(ld, item, "number"), field_key,
                                      "duplicate extension number %s (first at line %d)", e->number,
                                      cfg->extensions[j].line);
        if (!e->name && (rc = set_str(ld, &e->name, "")))
            return rc;
    }
    return 0;
}

/* Vendor and model name files on disk ("<vendor>_<model>.template"), so they must not carry
 * path separators; lowercase keeps lookups case-insensitive. */
static int check_ident(struct load *ld, const yaml_node_t *n, const char *key, char *s)
{
    for (char *p = s; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return ztpd_yaml_fail(&ld->w, n, key,
                                  "must contain only letters, digits, '.', '_' or '-'");
    }
    if (s[0] == '.')
        return ztpd_yaml_fail(&ld->w, n, key, "must not start with '.'");
    return 0;
}

static int parse_devices(struct load *ld, const yaml_node_t *n, const char *key)
{
    struct ztpd_config *cfg = ld->cfg;
    char item_key[KEY_MAX], field_key[KEY_MAX];
    int rc = ztpd_yaml_sequence(&ld->w, n, key);
    if (rc)
        return rc;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *item = ztpd_yaml_node(&ld->w, *it);
        struct ztpd_cfg_device *grown, *d;
        char *mac = NULL;
        keyf(item_key, "%s[%zu]", key, (size_t)(it - n->data.sequence.items.start));
        grown = realloc(cfg->devices, (cfg->n_devices + 1) * sizeof(*grown));
        if (!grown)
            return oom(ld);
        cfg->devices = grown;
        d = &grown[cfg->n_devices++];
        memset(d, 0, sizeof(*d));
        d->line = ztpd_yaml_line(item);
        struct item_field fields[] = {{"mac", &mac},
                                      {"extension", &d->extension},
                                      {"vendor", &d->vendor},
                                      {"model", &d->model}};
        rc = parse_item(ld, item, item_key, fields, sizeof(fields) / sizeof(fields[0]));
        if (!rc)
            rc = require(ld, item, item_key, "mac", mac);
        /* require() has failed when mac is NULL; testing it again keeps analysers on track. */
        if (!rc && mac) {
            keyf(field_key, "%s.mac", item_key);
            if (ztpd_mac_normalize(mac, strlen(mac), d->mac) != 0)
                rc = ztpd_yaml_fail(&ld->w, item_value(ld, item, "mac"), field_key,
                                    "invalid MAC address \"%s\"", mac);
        }
        free(mac);
        if (rc)
            return rc;
        if ((rc = require(ld, item, item_key, "extension", d->extension)) ||
            (rc = require(ld, item, item_key, "vendor", d->vendor)) ||
            (rc = require(ld, item, item_key, "model", d->model)))
            return rc;
        for (size_t j = 0; j + 1 < cfg->n_devices; j++)
            if (!strcmp(cfg->devices[j].mac, d->mac))
                return ztpd_yaml_fail(&ld->w, item_value(ld, item, "mac"), field_key,
                                      "duplicate device MAC %s (first at line %d)", d->mac,
                                      cfg->devices[j].line);
        keyf(field_key, "%s.extension", item_key);
        if ((rc = check_extension_number(ld, item_value(ld, item, "extension"), field_key,
                                         d->extension)))
            return rc;
        keyf(field_key, "%s.vendor", item_key);
        if ((rc = check_ident(ld, item_value(ld, item, "vendor"), field_key, d->vendor)))
            return rc;
        keyf(field_key, "%s.model", item_key);
        if ((rc = check_ident(ld, item_value(ld, item, "model"), field_key, d->model)))
            return rc;
    }
    return 0;
}

static int walk_mapping(struct load *ld, const yaml_node_t *n, const char *prefix);

/* Stores one value according to its spec. A null value keeps the default. */
static int apply(struct load *ld, const struct key_spec *s, const yaml_node_t *n, const char *key)
{
    struct ztpd_config *cfg = ld->cfg;
    const char *v;
    long long x;
    bool b;
    int rc;

    if (ztpd_yaml_is_null(n))
        return 0;
    switch (s->kind) {
    case K_SECTION:
        return walk_mapping(ld, n, key);
    case K_STRING:
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        return *v ? set_str(ld, field(cfg, s), v) : 0;
    case K_PATH: {
        char *resolved = NULL;
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        if (*v && !(resolved = resolve_path(cfg->base_dir, v)))
            return oom(ld);
        free(*(char **)field(cfg, s));
        *(char **)field(cfg, s) = resolved;
        return 0;
    }
    case K_INT:
        if ((rc = int_in(ld, n, key, s->min, s->max, NULL, &x)))
            return rc;
        *(int *)field(cfg, s) = (int)x;
        return 0;
    case K_PORT:
        if ((rc = int_in(ld, n, key, 1, 65535, "port out of range (1-65535)", &x)))
            return rc;
        *(int *)field(cfg, s) = (int)x;
        if (s->off == F(sip_port))
            ld->sip_port_key = (int)x;
        return 0;
    case K_SIZE:
        if ((rc = int_in(ld, n, key, 1, LLONG_MAX, "must be a positive integer", &x)))
            return rc;
        *(size_t *)field(cfg, s) = (size_t)x;
        return 0;
    case K_COUNT:
        if ((rc = int_in(ld, n, key, 1, UINT_MAX, "must be a positive integer", &x)))
            return rc;
        *(unsigned *)field(cfg, s) = (unsigned)x;
        return 0;
    case K_SECONDS:
        if ((rc = int_in(ld, n, key, 1, UINT_MAX / 1000, "must be a positive number of seconds",
                         &x)))
            return rc;
        *(unsigned *)field(cfg, s) = (unsigned)x * 1000u;
        return 0;
    case K_BOOL:
        if ((rc = ztpd_yaml_bool(&ld->w, n, key, &b)))
            return rc;
        *(bool *)field(cfg, s) = b;
        return 0;
    case K_LISTEN:
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        return parse_listen(ld, n, key, v, &cfg->http_host, &cfg->http_port);
    case K_SIP_LISTEN:
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        if ((rc = parse_listen(ld, n, key, v, &cfg->sip_host, &cfg->sip_port)))
            return rc;
        ld->sip_listen_port = cfg->sip_port;
        return 0;
    case K_TRANSPORTS:
        return parse_transports(ld, n, key, field(cfg, s));
    case K_LEVEL: {
        int level;
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        level = ztpd_log_level_parse(v);
        if (level < 0)
            return ztpd_yaml_fail(&ld->w, n, key,
                                  "unknown log level \"%s\" (expected error, warn, info or debug)",
                                  v);
        *(int *)field(cfg, s) = level;
        return 0;
    }
    case K_BACKEND:
        if ((rc = ztpd_yaml_string(&ld->w, n, key, &v)))
            return rc;
        if (strcmp(v, "sqlite") && strcmp(v, "postgres"))
            return ztpd_yaml_fail(
                &ld->w, n, key, "unknown storage backend \"%s\" (expected sqlite or postgres)", v);
        return set_str(ld, field(cfg, s), v);
    case K_TOKENS:
        return parse_tokens(ld, n, key);
    case K_EXTENSIONS:
        return parse_extensions(ld, n, key);
    case K_DEVICES:
        return parse_devices(ld, n, key);
    }
    return 0;
}

/* Walks a mapping whose keys are "<prefix>.<key>" entries of the spec table. */
static int walk_mapping(struct load *ld, const yaml_node_t *n, const char *prefix)
{
    char key[KEY_MAX];
    int rc = ztpd_yaml_mapping(&ld->w, n, prefix ? prefix : "(top level)");
    if (rc)
        return rc;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ztpd_yaml_node(&ld->w, p->key);
        const struct key_spec *s;
        if (prefix)
            keyf(key, "%s.%s", prefix, ztpd_yaml_key_text(k));
        else
            keyf(key, "%s", ztpd_yaml_key_text(k));
        /* "server.name: x" at the top level would otherwise match a nested key. */
        s = strchr(ztpd_yaml_key_text(k), '.') ? NULL : find_spec(key);
        if (!s)
            return ztpd_yaml_fail(&ld->w, k, key, "unknown key");
        if ((rc = apply(ld, s, ztpd_yaml_node(&ld->w, p->value), key)))
            return rc;
    }
    return 0;
}

/* Sets path and base_dir. The file was read already, so realpath() fails only on ENOMEM or
 * when the file vanished meanwhile. */
static int set_location(struct load *ld, const char *path)
{
    struct ztpd_config *cfg = ld->cfg;
    char *slash;
    cfg->path = realpath(path, NULL);
    if (!cfg->path) {
        if (errno == ENOMEM)
            return oom(ld);
        if (ld->w.err && ld->w.errlen)
            snprintf(ld->w.err, ld->w.errlen, "%s: cannot resolve path: %s", path, strerror(errno));
        return ZTPD_EIO;
    }
    cfg->base_dir = strdup(cfg->path);
    if (!cfg->base_dir)
        return oom(ld);
    slash = strrchr(cfg->base_dir, '/');
    if (slash == cfg->base_dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    return 0;
}

static int set_defaults(struct load *ld)
{
    struct ztpd_config *cfg = ld->cfg;
    cfg->http_port = 8080;
    cfg->http_max_header_size = 8192;
    cfg->http_max_body_size = 1048576;
    cfg->http_idle_timeout_ms = 30000;
    cfg->http_max_connections = 1024;
    cfg->sip_port = 5060;
    cfg->sip_enabled = true;
    cfg->sip_transports = ZTPD_CFG_SIP_UDP | ZTPD_CFG_SIP_TCP;
    cfg->sip_nonce_ttl = 300;
    cfg->sip_expires_default = 3600;
    cfg->sip_expires_min = 60;
    cfg->sip_expires_max = 7200;
    cfg->sip_max_contacts = 10;
    cfg->sip_reboot_pace = 20;
    cfg->storage_flush_interval_ms = 100;
    cfg->log_level = ZTPD_LOG_INFO;
    cfg->prov_enabled = true;
    cfg->upload_max_size = 1048576;
    cfg->timezone_offset = 0;
    cfg->discovered_max = 1000;
    if (set_str(ld, &cfg->server_name, "ztpd") || set_str(ld, &cfg->http_host, "0.0.0.0") ||
        set_str(ld, &cfg->sip_host, "0.0.0.0") || set_str(ld, &cfg->storage_backend, "sqlite") ||
        set_str(ld, &cfg->url_format, DEFAULT_URL_FORMAT) || set_str(ld, &cfg->timezone, "UTC") ||
        set_str(ld, &cfg->ntp_server, "pool.ntp.org"))
        return ZTPD_ENOMEM;
    return 0;
}

/* A cross-key error found after the walk: "<file>: <key>: <reason>" (no single line to name). */
static int fail_key(struct load *ld, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_key(struct load *ld, const char *key, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (ld->w.err && ld->w.errlen)
        snprintf(ld->w.err, ld->w.errlen, "%s: %s: %s", ld->w.file, key, reason);
    return ZTPD_ECONFIG;
}

static bool sip_token_ok(const char *s)
{
    return !strpbrk(s, "\"\r\n\\");
}

/* SIP defaults that follow other keys, and the checks that involve several sip keys. */
static int finish_sip(struct load *ld)
{
    struct ztpd_config *cfg = ld->cfg;
    /* sip.port predates sip.listen; both may be given as long as they agree. */
    if (ld->sip_listen_port && ld->sip_port_key && ld->sip_listen_port != ld->sip_port_key)
        return fail_key(ld, "sip.port", "%d conflicts with the port of sip.listen (%d)",
                        ld->sip_port_key, ld->sip_listen_port);
    if (ld->sip_listen_port)
        cfg->sip_port = ld->sip_listen_port;
    const char *realm_key = cfg->sip_realm ? "sip.realm" : "server.name";
    if (!cfg->sip_realm && set_str(ld, &cfg->sip_realm, cfg->server_name))
        return ZTPD_ENOMEM;
    if (!sip_token_ok(cfg->sip_realm))
        return fail_key(ld, realm_key,
                        "the SIP realm must not contain quotes, backslashes or line breaks");
    const char *adv_key = cfg->sip_advertise ? "sip.advertise" : "server.address";
    if (!cfg->sip_advertise && set_str(ld, &cfg->sip_advertise, cfg->server_address))
        return ZTPD_ENOMEM;
    if (!cfg->sip_enabled)
        return 0; /* a disabled SIP service needs no reachable address */
    if (!sip_token_ok(cfg->sip_advertise) || strpbrk(cfg->sip_advertise, " \t;,<>"))
        return fail_key(ld, adv_key, "not a host name or address usable in SIP headers");
    if (!strcmp(cfg->sip_advertise, "0.0.0.0") || !strcmp(cfg->sip_advertise, "::") ||
        !strcmp(cfg->sip_advertise, "[::]"))
        return fail_key(ld, adv_key,
                        "a wildcard address cannot be reached by phones; set the address phones "
                        "use to reach this server");
    if (cfg->sip_expires_min > cfg->sip_expires_max)
        return fail_key(ld, "sip.expires.min", "greater than sip.expires.max (%d > %d)",
                        cfg->sip_expires_min, cfg->sip_expires_max);
    if (cfg->sip_expires_default < cfg->sip_expires_min ||
        cfg->sip_expires_default > cfg->sip_expires_max)
        return fail_key(ld, "sip.expires.default", "%d is outside sip.expires.min..max (%d..%d)",
                        cfg->sip_expires_default, cfg->sip_expires_min, cfg->sip_expires_max);
    return 0;
}

/* Defaults that depend on other keys, applied once the whole file has been read. */
static int finish_defaults(struct load *ld)
{
    struct ztpd_config *cfg = ld->cfg;
    if (!cfg->data_dir && !(cfg->data_dir = resolve_path(cfg->base_dir, "data")))
        return oom(ld);
    if (!cfg->sqlite_path && asprintf(&cfg->sqlite_path, "%s/ztpd.db", cfg->data_dir) < 0) {
        cfg->sqlite_path = NULL;
        return oom(ld);
    }
    if (!cfg->server_address) {
        /* A wildcard bind address is no address a phone can reach; loopback at least works for
         * a local test and is obviously wrong in a phone's logs. */
        const char *h = cfg->http_host;
        bool wildcard = !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "*");
        if (set_str(ld, &cfg->server_address, wildcard ? "127.0.0.1" : h))
            return ZTPD_ENOMEM;
    }
    return finish_sip(ld);
}

static int build_lookup_text(struct load *ld)
{
    struct ztpd_config *cfg = ld->cfg;
    cfg->lookup_text = calloc(N_SPECS, sizeof(char *));
    if (!cfg->lookup_text)
        return oom(ld);
    for (size_t i = 0; i < N_SPECS; i++) {
        const struct key_spec *s = &specs[i];
        const void *f = field(cfg, s);
        int n = 0;
        char **out = &cfg->lookup_text[i];
        switch (s->kind) {
        case K_INT:
        case K_PORT:
            n = asprintf(out, "%d", *(const int *)f);
            break;
        case K_SIZE:
            n = asprintf(out, "%zu", *(const size_t *)f);
            break;
        case K_COUNT:
            n = asprintf(out, "%u", *(const unsigned *)f);
            break;
        case K_SECONDS:
            n = asprintf(out, "%u", *(const unsigned *)f / 1000u);
            break;
        case K_LISTEN:
            n = strchr(cfg->http_host, ':')
                    ? asprintf(out, "[%s]:%d", cfg->http_host, cfg->http_port)
                    : asprintf(out, "%s:%d", cfg->http_host, cfg->http_port);
            break;
        case K_SIP_LISTEN:
            n = strchr(cfg->sip_host, ':') ? asprintf(out, "[%s]:%d", cfg->sip_host, cfg->sip_port)
                                           : asprintf(out, "%s:%d", cfg->sip_host, cfg->sip_port);
            break;
        case K_TRANSPORTS:
            n = asprintf(out, "%s%s%s", cfg->sip_transports & ZTPD_CFG_SIP_UDP ? "udp" : "",
                         cfg->sip_transports == (ZTPD_CFG_SIP_UDP | ZTPD_CFG_SIP_TCP) ? "," : "",
                         cfg->sip_transports & ZTPD_CFG_SIP_TCP ? "tcp" : "");
            break;
        default:
            continue;
        }
        if (n < 0) {
            *out = NULL;
            return oom(ld);
        }
    }
    return 0;
}

int ztpd_config_load(struct ztpd_config **out, const char *path, char *err, size_t errlen)
{
    struct load ld = {0};
    yaml_node_t *root;
    int rc;

    if (!out || !path)
        return ZTPD_EINVAL;
    rc = ztpd_yaml_open(&ld.w, path, err, errlen);
    if (rc) {
        ztpd_yaml_close(&ld.w);
        return rc;
    }
    ld.cfg = calloc(1, sizeof(*ld.cfg));
    if (!ld.cfg) {
        ztpd_yaml_close(&ld.w);
        return oom(&ld);
    }
    rc = set_location(&ld, path);
    if (!rc)
        rc = set_defaults(&ld);
    root = ztpd_yaml_root(&ld.w);
    /* An empty file (or a lone "~") is a valid config: every key takes its default. */
    if (!rc && root && !ztpd_yaml_is_null(root))
        rc = walk_mapping(&ld, root, NULL);
    if (!rc)
        rc = finish_defaults(&ld);
    if (!rc)
        rc = build_lookup_text(&ld);
    ztpd_yaml_close(&ld.w);
    if (rc) {
        ztpd_config_free(ld.cfg);
        return rc;
    }
    *out = ld.cfg;
    return 0;
}

void ztpd_config_free(struct ztpd_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->base_dir);
    free(cfg->server_name);
    free(cfg->server_address);
    free(cfg->data_dir);
    free(cfg->http_host);
    free(cfg->sip_host);
    free(cfg->sip_realm);
    free(cfg->sip_advertise);
    free(cfg->storage_backend);
    free(cfg->sqlite_path);
    free(cfg->module_dir);
    free(cfg->postgres_dsn);
    free(cfg->postgres_password_file);
    for (size_t i = 0; i < cfg->n_api_tokens; i++)
        free(cfg->api_tokens[i]);
    free(cfg->api_tokens);
    free(cfg->log_file);
    for (size_t i = 0; i < cfg->n_extensions; i++) {
        free(cfg->extensions[i].number);
        free(cfg->extensions[i].name);
        free(cfg->extensions[i].password);
    }
    free(cfg->extensions);
    free(cfg->url_format);
    free(cfg->custom_templates_dir);
    free(cfg->vendors_dir);
    free(cfg->timezone);
    free(cfg->ntp_server);
    for (size_t i = 0; i < cfg->n_devices; i++) {
        free(cfg->devices[i].extension);
        free(cfg->devices[i].vendor);
        free(cfg->devices[i].model);
    }
    free(cfg->devices);
    if (cfg->lookup_text)
        for (size_t i = 0; i < N_SPECS; i++)
            free(cfg->lookup_text[i]);
    free(cfg->lookup_text);
    free(cfg);
}

const char *ztpd_config_lookup(const struct ztpd_config *cfg, const char *key)
{
    const struct key_spec *s;
    const void *f;
    if (!cfg || !key || !(s = find_spec(key)))
        return NULL;
    f = (const char *)cfg + s->off;
    switch (s->kind) {
    case K_STRING:
    case K_PATH:
    case K_BACKEND:
        return *(char *const *)f;
    case K_BOOL:
        return *(const bool *)f ? "true" : "false";
    case K_LEVEL: {
        int level = *(const int *)f;
        return level >= 0 && level <= ZTPD_LOG_DEBUG ? level_names[level] : NULL;
    }
    case K_INT:
    case K_PORT:
    case K_SIZE:
    case K_COUNT:
    case K_SECONDS:
    case K_LISTEN:
    case K_SIP_LISTEN:
    case K_TRANSPORTS:
        return cfg->lookup_text ? cfg->lookup_text[s - specs] : NULL;
    default:
        return NULL;
    }
}

/* Longer than any sane password; bounds what a wrong path (a log file, a device) reads. */
#define PASSWORD_MAX 1024

int ztpd_config_read_password_file(const struct ztpd_config *cfg, char **out, char *err,
                                   size_t errlen)
{
    static const char key[] = "storage.postgres.password_file";
    *out = NULL;
    const char *path = cfg ? cfg->postgres_password_file : NULL;
    if (!path)
        return 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
        return ZTPD_ECONFIG;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a regular file", key, path);
        fclose(f);
        return ZTPD_ECONFIG;
    }
    /* Refusing would break secrets mounted 0644 (Kubernetes' default); a warning tells the
     * admin without stopping the service. */
    if (st.st_mode & (S_IRGRP | S_IROTH))
        LOG_W("config", "%s: %s is readable by other users (mode %04o); chmod 600 it", key, path,
              (unsigned)(st.st_mode & 07777));
    char *buf = calloc(1, PASSWORD_MAX + 2);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", key);
        return ZTPD_ENOMEM;
    }
    int rc = 0;
    if (!fgets(buf, PASSWORD_MAX + 2, f)) {
        if (ferror(f)) {
            snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
            rc = ZTPD_ECONFIG;
        }
        buf[0] = '\0';
    }
    fclose(f);
    size_t len = strlen(buf);
    int whole_line = len > 0 && buf[len - 1] == '\n';
    if (!rc && !whole_line && len > PASSWORD_MAX) {
        snprintf(err, errlen, "%s: %s: the first line is longer than %d bytes", key, path,
                 PASSWORD_MAX);
        rc = ZTPD_ECONFIG;
    }
    /* The first line without its line end (LF or CRLF); trailing blanks are part of it. */
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    if (!rc && len == 0) {
        snprintf(err, errlen, "%s: %s: the first line is empty", key, path);
        rc = ZTPD_ECONFIG;
    }
    if (rc) {
        /* Whatever was read may be a password: do not leave it in freed memory. */
        memset(buf, 0, PASSWORD_MAX + 2);
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}
