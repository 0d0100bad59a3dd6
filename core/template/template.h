/* The config template language (DESIGN §6): {{NAME}} substitution, {{#list}}…{{/list}} sections
 * repeated per item (or shown once when NAME is a non-empty, non-"0" scalar), {{^name}}…{{/name}}
 * inverted sections (shown when the list is empty or the value missing/empty/"0"), and
 * {{! comments }}. Every substituted value is escaped for the output format, so a value can
 * never add or change a setting. Names are looked up in the innermost scope first, then outward;
 * placeholder aliases from the original guide resolve to one canonical name. */
#ifndef ZTPD_TEMPLATE_TEMPLATE_H
#define ZTPD_TEMPLATE_TEMPLATE_H

#include <stddef.h>

enum ztpd_tpl_format {
    ZTPD_FMT_INI = 0, /* key = value lines: values lose CR, LF and NUL */
    ZTPD_FMT_XML = 1, /* & < > " ' become entities; control characters are dropped */
    ZTPD_FMT_RAW = 2, /* only NUL is dropped (for tests and plain text) */
};

/* Parses "ini" | "xml" | "raw"; returns the format or -1. */
int ztpd_tpl_format_parse(const char *name);

/* ---- variable scopes ---- */
struct ztpd_tpl_ctx;

/* New empty root scope; freed with ztpd_tpl_ctx_free(). */
int ztpd_tpl_ctx_new(struct ztpd_tpl_ctx **out);
/* Frees a root scope and every child scope (NULL is fine). */
void ztpd_tpl_ctx_free(struct ztpd_tpl_ctx *ctx);
/* Sets (copies) a scalar; replaces an earlier value of that name. Returns 0 or ZTPD_ENOMEM. */
int ztpd_tpl_ctx_set(struct ztpd_tpl_ctx *ctx, const char *name, const char *value);
/* Same with an explicit length (value may contain NUL bytes, which escaping drops). */
int ztpd_tpl_ctx_setn(struct ztpd_tpl_ctx *ctx, const char *name, const char *value, size_t len);
/* Returns the scalar value of name in this scope only (no aliases, no parents), or NULL. */
const char *ztpd_tpl_ctx_get(const struct ztpd_tpl_ctx *ctx, const char *name);
/* Appends a new item scope to list `name` (creating the list) and returns it; it is owned by
 * ctx and its parent is ctx. Returns NULL on ENOMEM. */
struct ztpd_tpl_ctx *ztpd_tpl_ctx_add_item(struct ztpd_tpl_ctx *ctx, const char *name);

/* Canonical name for an alias ("EXTENSION" -> "EXTENSION_NUMBER"), or name itself. */
const char *ztpd_tpl_canonical(const char *name);

/* ---- templates ---- */
struct ztpd_tpl;

/* Compiles src. On a syntax error (unbalanced or mismatched section, unterminated tag) returns
 * ZTPD_ESYNTAX with "line N: reason" in err. *out owned by the caller. */
int ztpd_tpl_compile(struct ztpd_tpl **out, const char *src, size_t len, char *err, size_t errlen);
/* Frees a compiled template (NULL is fine). */
void ztpd_tpl_free(struct ztpd_tpl *t);

/* Renders into a new malloc'd, NUL-terminated buffer (*out, *outlen; caller frees).
 * An unknown placeholder (not set in any scope, after alias resolution) is an error:
 * returns ZTPD_ENOENT with "line N: unknown placeholder NAME" in err. */
int ztpd_tpl_render(const struct ztpd_tpl *t, const struct ztpd_tpl_ctx *ctx,
                    enum ztpd_tpl_format fmt, char **out, size_t *outlen, char *err, size_t errlen);

/* Calls cb for every placeholder and section name used by the template (canonical names,
 * with the line), for `ztpd template check`. */
void ztpd_tpl_names(const struct ztpd_tpl *t,
                    void (*cb)(const char *name, int line, int section, void *arg), void *arg);

/* Escapes one value for fmt, appending to a malloc'd buffer: exposed for tests and for
 * vendor helpers. Returns a new string the caller frees, or NULL on ENOMEM. */
char *ztpd_tpl_escape(const char *value, size_t len, enum ztpd_tpl_format fmt);

#endif
