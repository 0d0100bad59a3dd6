#include "config/yaml_walk.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/error.h"

static void set_err(struct ztpd_yaml_walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct ztpd_yaml_walk *w, const char *fmt, ...)
{
    va_list ap;
    if (!w->err || !w->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(w->err, w->errlen, fmt, ap);
    va_end(ap);
}

/* libyaml keeps several error shapes; turn each into one "<file>:<line>: ..." line. */
static int parse_error(struct ztpd_yaml_walk *w, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        set_err(w, "%s: out of memory while parsing", w->file);
        return ZTPD_ENOMEM;
    case YAML_READER_ERROR:
        /* Reader errors carry no mark of their own; the parser's position is where it stopped. */
        if (p->problem_value != -1)
            set_err(w, "%s:%zu: cannot read: %s (byte 0x%02x at offset %zu)", w->file,
                    p->mark.line + 1, problem, (unsigned)p->problem_value, p->problem_offset);
        else
            set_err(w, "%s:%zu: cannot read: %s", w->file, p->mark.line + 1, problem);
        return ZTPD_ECONFIG;
    default:
        if (p->context)
            set_err(w, "%s:%zu: syntax error: %s (%s at line %zu)", w->file,
                    p->problem_mark.line + 1, problem, p->context, p->context_mark.line + 1);
        else
            set_err(w, "%s:%zu: syntax error: %s", w->file, p->problem_mark.line + 1, problem);
        return ZTPD_ECONFIG;
    }
}

int ztpd_yaml_open(struct ztpd_yaml_walk *w, const char *file, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    struct stat st;
    FILE *f;
    int rc = 0;

    memset(w, 0, sizeof(*w));
    w->file = file;
    w->err = err;
    w->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';

    f = fopen(file, "rb");
    if (!f) {
        set_err(w, "%s: cannot open: %s", file, strerror(errno));
        return ZTPD_EIO;
    }
    /* A directory opens fine on Linux and would only fail later with a confusing read error. */
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(w, "%s: cannot open: not a regular file", file);
        fclose(f);
        return ZTPD_EIO;
    }
    if (!yaml_parser_initialize(&parser)) {
        set_err(w, "%s: out of memory", file);
        fclose(f);
        return ZTPD_ENOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &w->doc)) {
        rc = parse_error(w, &parser);
    } else {
        w->loaded = true;
        /* A second document (a stray "---") would be silently ignored otherwise. */
        if (!yaml_parser_load(&parser, &extra)) {
            rc = parse_error(w, &parser);
        } else {
            yaml_node_t *root = yaml_document_get_root_node(&extra);
            if (root)
                rc = ztpd_yaml_fail(w, root, NULL, "only one YAML document is allowed");
            yaml_document_delete(&extra);
        }
    }
    yaml_parser_delete(&parser);
    if (ferror(f) && rc == 0) {
        set_err(w, "%s: read error", file);
        rc = ZTPD_EIO;
    }
    fclose(f);
    return rc;
}

void ztpd_yaml_close(struct ztpd_yaml_walk *w)
{
    if (w->loaded)
        yaml_document_delete(&w->doc);
    w->loaded = false;
}

yaml_node_t *ztpd_yaml_root(struct ztpd_yaml_walk *w)
{
    return w->loaded ? yaml_document_get_root_node(&w->doc) : NULL;
}

yaml_node_t *ztpd_yaml_node(struct ztpd_yaml_walk *w, int index)
{
    return yaml_document_get_node(&w->doc, index);
}

int ztpd_yaml_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

int ztpd_yaml_fail(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key, const char *fmt,
                   ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (key && *key)
        set_err(w, "%s:%d: %s: %s", w->file, ztpd_yaml_line(n), key, reason);
    else
        set_err(w, "%s:%d: %s", w->file, ztpd_yaml_line(n), reason);
    return ZTPD_ECONFIG;
}

bool ztpd_yaml_is_null(const yaml_node_t *n)
{
    const char *v;
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a scalar";
    }
}

const char *ztpd_yaml_key_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

int ztpd_yaml_mapping(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key)
{
    if (n->type != YAML_MAPPING_NODE)
        return ztpd_yaml_fail(w, n, key, "expected a mapping, got %s", kind_name(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ztpd_yaml_node(w, p->key);
        /* An embedded NUL would make the key compare equal to a shorter, known one. */
        if (k->type != YAML_SCALAR_NODE ||
            strlen((const char *)k->data.scalar.value) != k->data.scalar.length)
            return ztpd_yaml_fail(w, k, key, "mapping keys must be plain strings");
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = ztpd_yaml_node(w, q->key);
            if (!strcmp(ztpd_yaml_key_text(prev), ztpd_yaml_key_text(k)))
                return ztpd_yaml_fail(w, k, key, "duplicate key \"%s\" (first at line %d)",
                                      ztpd_yaml_key_text(k), ztpd_yaml_line(prev));
        }
    }
    return 0;
}

int ztpd_yaml_sequence(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return ztpd_yaml_fail(w, n, key, "expected a list, got %s", kind_name(n));
    return 0;
}

/* "${NAME}" with a shell-style name; anything else is literal text. */
static bool env_ref(const char *v, size_t len, char *name, size_t name_size)
{
    if (len < 4 || v[0] != '$' || v[1] != '{' || v[len - 1] != '}' || len - 3 >= name_size)
        return false;
    for (size_t i = 2; i < len - 1; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(c == '_' || isalpha(c) || (i > 2 && isdigit(c))))
            return false;
    }
    memcpy(name, v + 2, len - 3);
    name[len - 3] = '\0';
    return true;
}

int ztpd_yaml_string(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key,
                     const char **out)
{
    char name[256];
    const char *v;
    size_t len;
    /* A valid string even on failure, so a caller that misses the error cannot crash. */
    *out = "";
    if (n->type != YAML_SCALAR_NODE)
        return ztpd_yaml_fail(w, n, key, "expected a string, got %s", kind_name(n));
    v = (const char *)n->data.scalar.value;
    len = n->data.scalar.length;
    if (strlen(v) != len)
        return ztpd_yaml_fail(w, n, key, "contains a NUL character");
    if (env_ref(v, len, name, sizeof(name))) {
        v = getenv(name);
        if (!v)
            return ztpd_yaml_fail(w, n, key, "environment variable %s is not set", name);
    }
    *out = v;
    return 0;
}

int ztpd_yaml_int(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key, long long *out)
{
    const char *v, *p;
    char *end;
    long long x;
    int rc;
    if (n->type != YAML_SCALAR_NODE)
        return ztpd_yaml_fail(w, n, key, "expected an integer, got %s", kind_name(n));
    rc = ztpd_yaml_string(w, n, key, &v);
    if (rc)
        return rc;
    /* strtoll alone would accept leading blanks, hex prefixes' "0" and trailing junk. */
    p = (*v == '+' || *v == '-') ? v + 1 : v;
    if (!isdigit((unsigned char)*p))
        return ztpd_yaml_fail(w, n, key, "expected an integer");
    errno = 0;
    x = strtoll(v, &end, 10);
    if (*end)
        return ztpd_yaml_fail(w, n, key, "expected an integer");
    if (errno == ERANGE)
        return ztpd_yaml_fail(w, n, key, "integer out of range");
    *out = x;
    return 0;
}

int ztpd_yaml_bool(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    const char *v;
    int rc;
    if (n->type != YAML_SCALAR_NODE)
        return ztpd_yaml_fail(w, n, key, "expected a boolean, got %s", kind_name(n));
    rc = ztpd_yaml_string(w, n, key, &v);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return ztpd_yaml_fail(w, n, key, "expected a boolean (true/false, yes/no, on/off)");
}
