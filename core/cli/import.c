#include "cli/import.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

int ztpd_import_error_add(struct ztpd_import *imp, int line, const char *fmt, ...)
{
    struct ztpd_import_error *e = realloc(imp->errors, (imp->n_errors + 1) * sizeof *imp->errors);
    if (!e)
        return ZTPD_ENOMEM;
    imp->errors = e;
    e += imp->n_errors++;
    e->line = line;
    e->seq = imp->n_errors;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return 0;
}

static int cmp_error(const void *a, const void *b)
{
    const struct ztpd_import_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq; /* qsort is not stable: keep found order */
}

void ztpd_import_errors_sort(struct ztpd_import *imp)
{
    if (imp->n_errors > 1)
        qsort(imp->errors, imp->n_errors, sizeof *imp->errors, cmp_error);
}

void ztpd_import_free(struct ztpd_import *imp)
{
    for (size_t i = 0; i < imp->n_rows; i++)
        json_decref(imp->rows[i].obj);
    free(imp->rows);
    free(imp->errors);
    memset(imp, 0, sizeof *imp);
}

static int add_row(struct ztpd_import *imp, int line, json_t *obj)
{
    struct ztpd_import_row *r = realloc(imp->rows, (imp->n_rows + 1) * sizeof *imp->rows);
    if (!r) {
        json_decref(obj);
        return ZTPD_ENOMEM;
    }
    imp->rows = r;
    imp->rows[imp->n_rows].line = line;
    imp->rows[imp->n_rows].obj = obj;
    imp->n_rows++;
    return 0;
}

/* --- JSON --- */

/* Lines where each element of the top-level array starts. jansson reports no positions for
 * values it parsed fine, so a light scan of the text (strings and nesting only) finds them. */
static int *json_element_lines(const char *p, size_t len, size_t *n_out)
{
    size_t n = 0, cap = 64;
    int *lines = malloc(cap * sizeof *lines);
    if (!lines)
        return NULL;
    int line = 1, depth = 0, in_str = 0, esc = 0, expect = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch == '\n')
            line++;
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        if (depth == 1 && expect && ch != ']') {
            if (n == cap) {
                int *nl = realloc(lines, 2 * cap * sizeof *lines);
                if (!nl) {
                    free(lines);
                    return NULL;
                }
                lines = nl;
                cap *= 2;
            }
            lines[n++] = line;
            expect = 0;
        }
        if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            depth++;
            if (depth == 1 && ch == '[')
                expect = 1;
        } else if (ch == ']' || ch == '}') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            expect = 1;
        }
    }
    *n_out = n;
    return lines;
}

static int parse_json(const char *data, size_t len, struct ztpd_import *imp)
{
    json_error_t e;
    json_t *arr = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
    if (!arr)
        return ztpd_import_error_add(imp, e.line > 0 ? e.line : 0, "malformed JSON (column %d): %s",
                                     e.column, e.text);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return ztpd_import_error_add(imp, 1,
                                     "expected a JSON array of device objects, as `ztpd devices "
                                     "export` writes");
    }
    size_t n_lines = 0;
    int *lines = json_element_lines(data, len, &n_lines);
    if (!lines) {
        json_decref(arr);
        return ZTPD_ENOMEM;
    }
    int rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        int line = i < n_lines ? lines[i] : 0;
        if (!json_is_object(v)) {
            rc = ztpd_import_error_add(imp, line, "expected a device object");
            if (!rc)
                rc = add_row(imp, line, NULL);
        } else {
            rc = add_row(imp, line, json_incref(v));
        }
        if (rc)
            break;
    }
    free(lines);
    json_decref(arr);
    return rc;
}

/* --- CSV --- */

struct csv {
    const char *p, *end;
    int line; /* current line */
};

struct csv_field {
    char *s;
    size_t len, cap;
    int quoted;
};

static int field_push(struct csv_field *f, char ch)
{
    if (f->len + 1 >= f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        char *s = realloc(f->s, cap);
        if (!s)
            return ZTPD_ENOMEM;
        f->s = s;
        f->cap = cap;
    }
    f->s[f->len++] = ch;
    f->s[f->len] = '\0';
    return 0;
}

/* Reads one record into fields (reset first). Returns 1 on a record, 0 at the end of input,
 * ZTPD_ENOMEM, or ZTPD_ESYNTAX with *why set (the record is skipped up to the end of the line). */
static int csv_record(struct csv *c, struct csv_field **fields, size_t *n, size_t *cap,
                      const char **why)
{
    *n = 0;
    if (c->p >= c->end)
        return 0;
    int in_q = 0, after_q = 0;
    struct csv_field *f = NULL;
#define NEW_FIELD()                                                                                \
    do {                                                                                           \
        if (*n == *cap) {                                                                          \
            size_t nc = *cap ? 2 * *cap : 8;                                                       \
            struct csv_field *nf = realloc(*fields, nc * sizeof *nf);                              \
            if (!nf)                                                                               \
                return ZTPD_ENOMEM;                                                                \
            memset(nf + *cap, 0, (nc - *cap) * sizeof *nf);                                        \
            *fields = nf;                                                                          \
            *cap = nc;                                                                             \
        }                                                                                          \
        f = &(*fields)[(*n)++];                                                                    \
        f->len = 0;                                                                                \
        f->quoted = 0;                                                                             \
        if (field_push(f, 'x'))                                                                    \
            return ZTPD_ENOMEM;                                                                    \
        f->len = 0;                                                                                \
        f->s[0] = '\0';                                                                            \
    } while (0)
    NEW_FIELD();
    while (c->p < c->end) {
        char ch = *c->p++;
        if (in_q) {
            if (ch == '"') {
                if (c->p < c->end && *c->p == '"') {
                    c->p++;
                    if (field_push(f, '"'))
                        return ZTPD_ENOMEM;
                } else {
                    in_q = 0;
                    after_q = 1;
                }
                continue;
            }
            if (ch == '\n')
                c->line++;
            if (field_push(f, ch))
                return ZTPD_ENOMEM;
            continue;
        }
        if (ch == '\r' && c->p < c->end && *c->p == '\n')
            continue; /* CRLF: the LF ends the record */
        if (ch == '\n' || ch == '\r') {
            c->line++;
            return 1;
        }
        if (ch == ',') {
            NEW_FIELD();
            after_q = 0;
            continue;
        }
        if (after_q) {
            if (ch == ' ' || ch == '\t')
                continue;
            *why = "text after a closing quote (write a quote inside a quoted field as \"\")";
            goto skip;
        }
        if (ch == '"') {
            /* A quote opens a quoted field only at its start (blanks before it are allowed). */
            size_t k = 0;
            while (k < f->len && (f->s[k] == ' ' || f->s[k] == '\t'))
                k++;
            if (k == f->len) {
                f->len = 0;
                f->s[0] = '\0';
                f->quoted = 1;
                in_q = 1;
                continue;
            }
            *why = "a quote inside an unquoted field (quote the whole field)";
            goto skip;
        }
        if (field_push(f, ch))
            return ZTPD_ENOMEM;
    }
    if (in_q) {
        *why = "unterminated quoted field";
        return ZTPD_ESYNTAX;
    }
    return 1;
skip:
    while (c->p < c->end && *c->p != '\n')
        c->p++;
    if (c->p < c->end) {
        c->p++;
        c->line++;
    }
    return ZTPD_ESYNTAX;
#undef NEW_FIELD
}

static void trim(struct csv_field *f)
{
    if (f->quoted)
        return;
    size_t a = 0, b = f->len;
    while (a < b && isspace((unsigned char)f->s[a]))
        a++;
    while (b > a && isspace((unsigned char)f->s[b - 1]))
        b--;
    memmove(f->s, f->s + a, b - a);
    f->len = b - a;
    f->s[f->len] = '\0';
}

enum { COL_MAC, COL_EXT, COL_VENDOR, COL_MODEL, N_COLS };
static const char *const col_api[N_COLS] = {"mac_address", "extension_number", "vendor", "model"};

static int column_of(const char *h)
{
    static const struct {
        const char *name;
        int col;
    } names[] = {{"mac", COL_MAC},       {"mac_address", COL_MAC},
                 {"extension", COL_EXT}, {"extension_number", COL_EXT},
                 {"vendor", COL_VENDOR}, {"model", COL_MODEL}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(h, names[i].name) == 0)
            return names[i].col;
    return -1;
}

static int blank_record(const struct csv_field *f, size_t n)
{
    return n == 1 && f[0].len == 0 && !f[0].quoted;
}

static int parse_csv(const char *data, size_t len, struct ztpd_import *imp)
{
    struct csv c = {.p = data, .end = data + len, .line = 1};
    struct csv_field *fields = NULL;
    size_t n = 0, cap = 0;
    int map[N_COLS]; /* column index of each API field */
    size_t n_header = 0;
    int have_header = 0, rc = 0;
    for (;;) {
        int line = c.line;
        const char *why = NULL;
        int r = csv_record(&c, &fields, &n, &cap, &why);
        if (r == 0)
            break;
        if (r == ZTPD_ENOMEM) {
            rc = r;
            break;
        }
        if (r == ZTPD_ESYNTAX) {
            if ((rc = ztpd_import_error_add(imp, line, "%s", why)))
                break;
            if (have_header && (rc = add_row(imp, line, NULL)))
                break;
            if (!have_header)
                break; /* without a header nothing after it can be read */
            continue;
        }
        for (size_t i = 0; i < n; i++)
            trim(&fields[i]);
        if (blank_record(fields, n))
            continue;
        if (!have_header) {
            have_header = 1;
            n_header = n;
            for (int k = 0; k < N_COLS; k++)
                map[k] = -1;
            int bad = 0;
            for (size_t i = 0; i < n; i++) {
                int col = column_of(fields[i].s);
                if (col < 0 || map[col] >= 0) {
                    rc = ztpd_import_error_add(
                        imp, line,
                        "header: %s column '%.60s' (the header is mac,extension,vendor,model)",
                        col < 0 ? "unknown" : "repeated", fields[i].s);
                    bad = 1;
                    if (rc)
                        break;
                    continue;
                }
                map[col] = (int)i;
            }
            for (int k = 0; !rc && k < N_COLS; k++) {
                if (map[k] < 0) {
                    rc = ztpd_import_error_add(
                        imp, line,
                        "header: no '%s' column (the header is mac,extension,vendor,model)",
                        k == COL_MAC   ? "mac"
                        : k == COL_EXT ? "extension"
                                       : col_api[k]);
                    bad = 1;
                }
            }
            if (rc || bad)
                break;
            continue;
        }
        if (n != n_header) {
            rc = ztpd_import_error_add(imp, line, "%zu fields, the header has %zu", n, n_header);
            if (!rc)
                rc = add_row(imp, line, NULL);
            if (rc)
                break;
            continue;
        }
        json_t *o = json_object();
        for (int k = 0; o && k < N_COLS; k++) {
            const struct csv_field *f = &fields[map[k]];
            /* An empty cell is a missing value, so validation says "required". */
            if (f->len && json_object_set_new(o, col_api[k], json_stringn(f->s, f->len))) {
                json_decref(o);
                o = NULL;
            }
        }
        if (!o) {
            rc = ZTPD_ENOMEM;
            break;
        }
        if ((rc = add_row(imp, line, o)))
            break;
    }
    if (!rc && !have_header && !imp->n_errors)
        rc = ztpd_import_error_add(imp, 0,
                                   "empty file: expected the header mac,extension,vendor,model");
    for (size_t i = 0; i < cap; i++)
        free(fields[i].s);
    free(fields);
    return rc;
}

static enum ztpd_import_format sniff(const char *name, const char *data, size_t len)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (dot && !strcasecmp(dot, ".json"))
        return ZTPD_IMPORT_JSON;
    if (dot && !strcasecmp(dot, ".csv"))
        return ZTPD_IMPORT_CSV;
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)data[i]))
            continue;
        return data[i] == '[' || data[i] == '{' ? ZTPD_IMPORT_JSON : ZTPD_IMPORT_CSV;
    }
    return ZTPD_IMPORT_CSV;
}

int ztpd_import_parse(const char *name, const char *data, size_t len,
                      enum ztpd_import_format format, struct ztpd_import *out)
{
    memset(out, 0, sizeof *out);
    /* Spreadsheets on Windows save UTF-8 with a BOM. */
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) {
        data += 3;
        len -= 3;
    }
    out->format = format == ZTPD_IMPORT_AUTO ? sniff(name, data, len) : format;
    return out->format == ZTPD_IMPORT_JSON ? parse_json(data, len, out) : parse_csv(data, len, out);
}
