#include "template/template.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

/* Bounds render recursion; real config templates nest two or three levels. */
#define MAX_DEPTH 64

/* ---- names and aliases ---- */

static const struct {
    const char *alias;
    const char *canonical;
} aliases[] = {
    {"EXTENSION", "EXTENSION_NUMBER"},
    {"DISPLAY_NAME", "EXTENSION_NAME"},
    {"PASSWORD", "EXTENSION_PASSWORD"},
    {"SERVER_IP", "SIP_SERVER"},
};

#define N_ALIASES (sizeof aliases / sizeof aliases[0])

const char *ztpd_tpl_canonical(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_ALIASES; i++)
        if (!strcmp(name, aliases[i].alias))
            return aliases[i].canonical;
    return name;
}

static const char *alias_of(const char *canonical)
{
    for (size_t i = 0; i < N_ALIASES; i++)
        if (!strcmp(canonical, aliases[i].canonical))
            return aliases[i].alias;
    return NULL;
}

/* FNV-1a: lookups compare the hash before the bytes, so a miss costs one integer compare. */
static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static int name_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

int ztpd_tpl_format_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcasecmp(name, "ini"))
        return ZTPD_FMT_INI;
    if (!strcasecmp(name, "xml"))
        return ZTPD_FMT_XML;
    if (!strcasecmp(name, "raw"))
        return ZTPD_FMT_RAW;
    return -1;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- variable scopes ---- */

struct var {
    char *name;
    size_t nlen;
    uint32_t hash;
    bool is_list;
    char *value; /* scalar: always NUL-terminated, may hold NUL bytes within vlen */
    size_t vlen;
    struct ztpd_tpl_ctx **items; /* list */
    size_t n_items, cap_items;
};

struct ztpd_tpl_ctx {
    struct ztpd_tpl_ctx *parent;
    struct var *vars;
    size_t n, cap;
};

int ztpd_tpl_ctx_new(struct ztpd_tpl_ctx **out)
{
    if (!out)
        return ZTPD_EINVAL;
    struct ztpd_tpl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return ZTPD_ENOMEM;
    *out = ctx;
    return 0;
}

static void ctx_destroy(struct ztpd_tpl_ctx *ctx);

static void var_clear_items(struct var *v)
{
    for (size_t i = 0; i < v->n_items; i++)
        ctx_destroy(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->n_items = v->cap_items = 0;
}

static void ctx_destroy(struct ztpd_tpl_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n; i++) {
        free(ctx->vars[i].name);
        free(ctx->vars[i].value);
        var_clear_items(&ctx->vars[i]);
    }
    free(ctx->vars);
    free(ctx);
}

void ztpd_tpl_ctx_free(struct ztpd_tpl_ctx *ctx)
{
    /* Item scopes belong to their list; freeing one here would leave a dangling pointer. */
    if (!ctx || ctx->parent)
        return;
    ctx_destroy(ctx);
}

static struct var *scope_find(const struct ztpd_tpl_ctx *ctx, const char *name, size_t nlen,
                              uint32_t hash)
{
    for (size_t i = 0; i < ctx->n; i++) {
        struct var *v = &ctx->vars[i];
        if (v->hash == hash && v->nlen == nlen && !memcmp(v->name, name, nlen))
            return v;
    }
    return NULL;
}

/* Returns the existing entry or a fresh zeroed one; the name is copied only when new. */
static struct var *scope_slot(struct ztpd_tpl_ctx *ctx, const char *name)
{
    size_t nlen = strlen(name);
    uint32_t hash = name_hash(name, nlen);
    struct var *v = scope_find(ctx, name, nlen, hash);
    if (v)
        return v;
    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 16;
        struct var *vars = realloc(ctx->vars, cap * sizeof *vars);
        if (!vars)
            return NULL;
        ctx->vars = vars;
        ctx->cap = cap;
    }
    char *copy = malloc(nlen + 1);
    if (!copy)
        return NULL;
    memcpy(copy, name, nlen + 1);
    v = &ctx->vars[ctx->n++];
    memset(v, 0, sizeof *v);
    v->name = copy;
    v->nlen = nlen;
    v->hash = hash;
    return v;
}

int ztpd_tpl_ctx_setn(struct ztpd_tpl_ctx *ctx, const char *name, const char *value, size_t len)
{
    if (!ctx || !name || (!value && len))
        return ZTPD_EINVAL;
    if (len == SIZE_MAX)
        return ZTPD_ENOMEM;
    char *copy = malloc(len + 1);
    if (!copy)
        return ZTPD_ENOMEM;
    if (len)
        memcpy(copy, value, len);
    copy[len] = '\0';
    struct var *v = scope_slot(ctx, name);
    if (!v) {
        free(copy);
        return ZTPD_ENOMEM;
    }
    if (v->is_list) {
        var_clear_items(v);
        v->is_list = false;
    }
    free(v->value);
    v->value = copy;
    v->vlen = len;
    return 0;
}

int ztpd_tpl_ctx_set(struct ztpd_tpl_ctx *ctx, const char *name, const char *value)
{
    return ztpd_tpl_ctx_setn(ctx, name, value ? value : "", value ? strlen(value) : 0);
}

const char *ztpd_tpl_ctx_get(const struct ztpd_tpl_ctx *ctx, const char *name)
{
    if (!ctx || !name)
        return NULL;
    size_t nlen = strlen(name);
    const struct var *v = scope_find(ctx, name, nlen, name_hash(name, nlen));
    return v && !v->is_list ? v->value : NULL;
}

struct ztpd_tpl_ctx *ztpd_tpl_ctx_add_item(struct ztpd_tpl_ctx *ctx, const char *name)
{
    if (!ctx || !name)
        return NULL;
    struct ztpd_tpl_ctx *item = calloc(1, sizeof *item);
    if (!item)
        return NULL;
    item->parent = ctx;
    struct var *v = scope_slot(ctx, name);
    if (!v)
        goto fail;
    if (v->n_items == v->cap_items) {
        size_t cap = v->cap_items ? v->cap_items * 2 : 4;
        struct ztpd_tpl_ctx **items = realloc(v->items, cap * sizeof *items);
        if (!items)
            goto fail;
        v->items = items;
        v->cap_items = cap;
    }
    if (!v->is_list) {
        free(v->value);
        v->value = NULL;
        v->vlen = 0;
        v->is_list = true;
    }
    v->items[v->n_items++] = item;
    return item;
fail:
    free(item);
    return NULL;
}

/* ---- output buffer and escaping ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return ZTPD_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return ZTPD_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_append(struct buf *b, const char *s, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (overlongs, surrogates and code points above
 * U+10FFFF are not), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return need;
}

static size_t escape_xml(char *dst, const unsigned char *s, size_t len)
{
    char *o = dst;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            const char *ent = NULL;
            switch (c) {
            case '&':
                ent = "&amp;";
                break;
            case '<':
                ent = "&lt;";
                break;
            case '>':
                ent = "&gt;";
                break;
            case '"':
                ent = "&quot;";
                break;
            case '\'':
                ent = "&apos;";
                break;
            default:
                /* XML 1.0 forbids most C0 controls, and CR/LF would be normalized away or
                 * split an attribute's meaning: drop them rather than encode them. */
                if (c >= 0x20 || c == '\t')
                    *o++ = (char)c;
                break;
            }
            if (ent) {
                size_t n = strlen(ent);
                memcpy(o, ent, n);
                o += n;
            }
            i++;
            continue;
        }
        size_t n = utf8_len(s + i, len - i);
        /* U+FFFE and U+FFFF are well-formed UTF-8 but not XML characters. */
        if (n == 3 && c == 0xEF && s[i + 1] == 0xBF && s[i + 2] >= 0xBE) {
            *o++ = '?';
            i += 3;
        } else if (!n) {
            *o++ = '?';
            i++;
        } else {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        }
    }
    return (size_t)(o - dst);
}

static size_t escape_ini(char *dst, const unsigned char *s, size_t len)
{
    /* A space keeps the value on its line, so text after a newline can never become a key. */
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)(s[i] < 0x20 && s[i] != '\t' ? ' ' : s[i]);
    return len;
}

static size_t escape_raw(char *dst, const unsigned char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i])
            dst[o++] = (char)s[i];
    return o;
}

static int escape_into(struct buf *b, const char *value, size_t len, enum ztpd_tpl_format fmt)
{
    /* Reserving the worst case once keeps the copy loops free of bound checks. */
    size_t factor = fmt == ZTPD_FMT_XML ? 6 : 1;
    if (len > (SIZE_MAX - 1) / factor)
        return ZTPD_ENOMEM;
    int rc = buf_reserve(b, len * factor);
    if (rc)
        return rc;
    const unsigned char *s = (const unsigned char *)value;
    char *dst = b->p + b->len;
    switch (fmt) {
    case ZTPD_FMT_XML:
        b->len += escape_xml(dst, s, len);
        break;
    case ZTPD_FMT_INI:
        b->len += escape_ini(dst, s, len);
        break;
    case ZTPD_FMT_RAW:
        b->len += escape_raw(dst, s, len);
        break;
    }
    b->p[b->len] = '\0';
    return 0;
}

static int format_valid(int fmt)
{
    return fmt == ZTPD_FMT_INI || fmt == ZTPD_FMT_XML || fmt == ZTPD_FMT_RAW;
}

char *ztpd_tpl_escape(const char *value, size_t len, enum ztpd_tpl_format fmt)
{
    if (!format_valid((int)fmt) || (!value && len))
        return NULL;
    struct buf b = {0};
    if (buf_reserve(&b, len) || escape_into(&b, value ? value : "", len, fmt)) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- compiled templates ---- */

enum node_kind { N_TEXT, N_VAR, N_SECTION, N_INVERTED };

struct node {
    enum node_kind kind;
    int line;
    size_t off, len;     /* N_TEXT: slice of the template's copy of the source */
    const char *written; /* name as in the template (for messages) */
    const char *canon;   /* canonical name; looked up first */
    const char *alt;     /* its alias, looked up second; NULL if none */
    size_t canon_len, alt_len;
    uint32_t canon_hash, alt_hash;
    size_t end; /* sections: index of the first node after the body */
};

struct ztpd_tpl {
    char *src; /* copy of the source; names point into it, NUL-terminated in place */
    size_t len;
    struct node *nodes;
    size_t n, cap;
};

void ztpd_tpl_free(struct ztpd_tpl *t)
{
    if (!t)
        return;
    free(t->nodes);
    free(t->src);
    free(t);
}

static struct node *node_push(struct ztpd_tpl *t, enum node_kind kind, int line)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        struct node *nodes = realloc(t->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NULL;
        t->nodes = nodes;
        t->cap = cap;
    }
    struct node *n = &t->nodes[t->n++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

static int push_text(struct ztpd_tpl *t, size_t off, size_t len, int line)
{
    if (!len)
        return 0;
    struct node *n = node_push(t, N_TEXT, line);
    if (!n)
        return ZTPD_ENOMEM;
    n->off = off;
    n->len = len;
    return 0;
}

static void node_set_name(struct node *n, const char *written)
{
    n->written = written;
    n->canon = ztpd_tpl_canonical(written);
    n->alt = alias_of(n->canon);
    n->canon_len = strlen(n->canon);
    n->canon_hash = name_hash(n->canon, n->canon_len);
    if (n->alt) {
        n->alt_len = strlen(n->alt);
        n->alt_hash = name_hash(n->alt, n->alt_len);
    }
}

static int count_lines(const char *s, size_t n)
{
    int lines = 0;
    const char *end = s + n;
    while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        lines++;
        s++;
    }
    return lines;
}

/* One parsed tag: [start, end) covers "{{" through "}}". */
struct tag {
    size_t start, end;
    char sigil; /* 0 for a placeholder, else '!', '#', '^' or '/' */
    size_t name_off, name_len;
};

static int parse_tag(const char *s, size_t len, size_t start, int line, struct tag *tag, char *err,
                     size_t errlen)
{
    size_t i = start + 2;
    tag->start = start;
    tag->sigil = 0;
    tag->name_off = tag->name_len = 0;
    if (i < len && s[i] == '{') {
        set_err(err, errlen,
                "line %d: triple mustache is not supported (values are always escaped)", line);
        return ZTPD_ESYNTAX;
    }
    if (i < len && s[i] && strchr("&>=<$", s[i])) {
        set_err(err, errlen, "line %d: unsupported tag {{%c", line, s[i]);
        return ZTPD_ESYNTAX;
    }
    if (i < len && s[i] && strchr("!#^/", s[i]))
        tag->sigil = s[i++];
    if (tag->sigil == '!') {
        /* Comments may span lines; everything up to the first "}}" is ignored. */
        const char *close = memmem(s + i, len - i, "}}", 2);
        if (!close) {
            set_err(err, errlen, "line %d: unterminated comment", line);
            return ZTPD_ESYNTAX;
        }
        tag->end = (size_t)(close - s) + 2;
        return 0;
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    tag->name_off = i;
    while (i < len && name_char((unsigned char)s[i]))
        i++;
    tag->name_len = i - tag->name_off;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i + 1 < len && s[i] == '}' && s[i + 1] == '}') {
        if (!tag->name_len) {
            set_err(err, errlen, "line %d: empty tag", line);
            return ZTPD_ESYNTAX;
        }
        tag->end = i + 2;
        return 0;
    }
    /* Placeholders live on one line: a missing "}}" is reported where the tag opened instead
     * of swallowing the rest of the file. */
    for (size_t k = i; k + 1 < len && s[k] != '\n'; k++) {
        if (s[k] == '}' && s[k + 1] == '}') {
            set_err(err, errlen, "line %d: invalid name in tag '%.*s'", line, (int)(k + 2 - start),
                    s + start);
            return ZTPD_ESYNTAX;
        }
    }
    set_err(err, errlen, "line %d: unterminated tag", line);
    return ZTPD_ESYNTAX;
}

/* Mustache's standalone rule: a section, close or comment tag alone on its line (whitespace
 * aside) takes the whole line with it, so config files keep no blank lines. */
static bool standalone(const char *s, size_t len, size_t cur, const struct tag *tag,
                       size_t *line_start, size_t *line_end)
{
    size_t a = tag->start;
    while (a > cur && (s[a - 1] == ' ' || s[a - 1] == '\t'))
        a--;
    if (a > 0 && s[a - 1] != '\n')
        return false;
    size_t b = tag->end;
    while (b < len && (s[b] == ' ' || s[b] == '\t'))
        b++;
    if (b < len && s[b] == '\n')
        b++;
    else if (b + 1 < len && s[b] == '\r' && s[b + 1] == '\n')
        b += 2;
    else if (b != len)
        return false;
    *line_start = a;
    *line_end = b;
    return true;
}

int ztpd_tpl_compile(struct ztpd_tpl **out, const char *src, size_t len, char *err, size_t errlen)
{
    if (!out || (!src && len) || len == SIZE_MAX)
        return ZTPD_EINVAL;
    struct ztpd_tpl *t = calloc(1, sizeof *t);
    if (!t)
        return ZTPD_ENOMEM;
    t->src = malloc(len + 1);
    if (!t->src) {
        free(t);
        return ZTPD_ENOMEM;
    }
    if (len)
        memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;

    char *s = t->src;
    size_t open[MAX_DEPTH];
    size_t depth = 0;
    size_t cur = 0;
    int line = 1;
    int rc = 0;
    while (cur < len) {
        const char *p = memmem(s + cur, len - cur, "{{", 2);
        if (!p) {
            rc = push_text(t, cur, len - cur, line);
            break;
        }
        struct tag tag;
        int tag_line = line + count_lines(s + cur, (size_t)(p - s) - cur);
        rc = parse_tag(s, len, (size_t)(p - s), tag_line, &tag, err, errlen);
        if (rc)
            break;
        size_t text_end = tag.start, next = tag.end;
        if (tag.sigil)
            standalone(s, len, cur, &tag, &text_end, &next);
        rc = push_text(t, cur, text_end - cur, line);
        if (rc)
            break;
        char *name = s + tag.name_off;
        if (tag.sigil != '!')
            name[tag.name_len] = '\0'; /* that byte is inside the tag, never part of text */
        if (tag.sigil == 0 || tag.sigil == '#' || tag.sigil == '^') {
            if (tag.sigil && depth == MAX_DEPTH) {
                set_err(err, errlen, "line %d: sections nested deeper than %d", tag_line,
                        MAX_DEPTH);
                rc = ZTPD_ESYNTAX;
                break;
            }
            enum node_kind kind = !tag.sigil ? N_VAR : tag.sigil == '#' ? N_SECTION : N_INVERTED;
            struct node *n = node_push(t, kind, tag_line);
            if (!n) {
                rc = ZTPD_ENOMEM;
                break;
            }
            node_set_name(n, name);
            if (tag.sigil)
                open[depth++] = t->n - 1;
        } else if (tag.sigil == '/') {
            if (!depth) {
                set_err(err, errlen, "line %d: {{/%s}} closes no open section", tag_line, name);
                rc = ZTPD_ESYNTAX;
                break;
            }
            struct node *o = &t->nodes[open[depth - 1]];
            if (strcmp(o->canon, ztpd_tpl_canonical(name)) != 0) {
                set_err(err, errlen,
                        "line %d: mismatched {{/%s}}, expected {{/%s}} (opened on line %d)",
                        tag_line, name, o->written, o->line);
                rc = ZTPD_ESYNTAX;
                break;
            }
            o->end = t->n;
            depth--;
        }
        line = tag_line + count_lines(s + tag.start, next - tag.start);
        cur = next;
    }
    if (!rc && depth) {
        const struct node *o = &t->nodes[open[depth - 1]];
        set_err(err, errlen, "line %d: unclosed section %s", o->line, o->written);
        rc = ZTPD_ESYNTAX;
    }
    if (rc) {
        if (rc == ZTPD_ENOMEM)
            set_err(err, errlen, "out of memory");
        ztpd_tpl_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void ztpd_tpl_names(const struct ztpd_tpl *t,
                    void (*cb)(const char *name, int line, int section, void *arg), void *arg)
{
    if (!t || !cb)
        return;
    for (size_t i = 0; i < t->n; i++) {
        const struct node *n = &t->nodes[i];
        if (n->kind != N_TEXT)
            cb(n->canon, n->line, n->kind != N_VAR, arg);
    }
}

/* ---- rendering ---- */

/* The render-time scope chain follows section nesting, not ctx parents: inside
 * {{#lines}}{{#codecs}} a codec item still sees the current line's variables. */
struct frame {
    const struct ztpd_tpl_ctx *ctx;
    const struct frame *up;
};

struct render {
    const struct ztpd_tpl *t;
    enum ztpd_tpl_format fmt;
    struct buf out;
    char *err;
    size_t errlen;
};

static const struct var *lookup(const struct frame *f, const struct node *n)
{
    for (; f; f = f->up) {
        /* Only the outermost frame continues through the static parents of the ctx given to
         * ztpd_tpl_render (when it is an item scope). */
        for (const struct ztpd_tpl_ctx *c = f->ctx; c; c = f->up ? NULL : c->parent) {
            const struct var *v = scope_find(c, n->canon, n->canon_len, n->canon_hash);
            if (!v && n->alt)
                v = scope_find(c, n->alt, n->alt_len, n->alt_hash);
            if (v)
                return v;
        }
    }
    return NULL;
}

static bool truthy(const struct var *v)
{
    if (!v)
        return false;
    if (v->is_list)
        return v->n_items > 0;
    return v->vlen > 0 && !(v->vlen == 1 && v->value[0] == '0');
}

static int render_range(struct render *r, size_t i, size_t end, const struct frame *f)
{
    const struct ztpd_tpl *t = r->t;
    int rc = 0;
    while (i < end && !rc) {
        const struct node *n = &t->nodes[i];
        const struct var *v;
        switch (n->kind) {
        case N_TEXT:
            rc = buf_append(&r->out, t->src + n->off, n->len);
            i++;
            break;
        case N_VAR:
            v = lookup(f, n);
            if (!v) {
                set_err(r->err, r->errlen, "line %d: unknown placeholder %s", n->line, n->written);
                return ZTPD_ENOENT;
            }
            if (v->is_list) {
                set_err(r->err, r->errlen, "line %d: placeholder %s is a list", n->line,
                        n->written);
                return ZTPD_EINVAL;
            }
            rc = escape_into(&r->out, v->value, v->vlen, r->fmt);
            i++;
            break;
        case N_SECTION:
            v = lookup(f, n);
            if (v && v->is_list) {
                for (size_t k = 0; k < v->n_items && !rc; k++) {
                    struct frame inner = {v->items[k], f};
                    rc = render_range(r, i + 1, n->end, &inner);
                }
            } else if (truthy(v)) {
                rc = render_range(r, i + 1, n->end, f);
            }
            i = n->end;
            break;
        case N_INVERTED:
            if (!truthy(lookup(f, n)))
                rc = render_range(r, i + 1, n->end, f);
            i = n->end;
            break;
        }
    }
    if (rc == ZTPD_ENOMEM)
        set_err(r->err, r->errlen, "out of memory");
    return rc;
}

int ztpd_tpl_render(const struct ztpd_tpl *t, const struct ztpd_tpl_ctx *ctx,
                    enum ztpd_tpl_format fmt, char **out, size_t *outlen, char *err, size_t errlen)
{
    if (!t || !ctx || !out || !format_valid((int)fmt))
        return ZTPD_EINVAL;
    struct render r = {.t = t, .fmt = fmt, .err = err, .errlen = errlen};
    /* Most of the output is template text; one allocation usually covers the values too. */
    int rc = buf_reserve(&r.out, t->len + t->len / 4 + 64);
    if (!rc) {
        r.out.p[0] = '\0';
        struct frame root = {ctx, NULL};
        rc = render_range(&r, 0, t->n, &root);
    } else {
        set_err(err, errlen, "out of memory");
    }
    if (rc) {
        free(r.out.p);
        return rc;
    }
    *out = r.out.p;
    if (outlen)
        *outlen = r.out.len;
    return 0;
}
