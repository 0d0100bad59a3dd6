/* Vendor profiles: vendors/<name>.lua files loaded into the daemon's Lua state, each in its own
 * sandboxed _ENV (no io, os.execute, package, require, load of bytecode; an instruction budget).
 * The returned table is validated (DESIGN §5) and copied into C structs; errors name the file and
 * the field. This module and engine.c are the only C code that includes lua.h. */
#ifndef ZTPD_LUA_VENDORS_H
#define ZTPD_LUA_VENDORS_H

#include <stdbool.h>
#include <stddef.h>

#include "template/template.h"

struct ztpd_lua; /* engine.h */

struct ztpd_vendor_model {
    char *id;    /* "t46s": lowercase key used in the API and templates */
    char *label; /* "T46S" */
    int lines;
    char *common_id; /* e.g. "66" for y000000000066.cfg; NULL if none */
};

struct ztpd_vendor_pat; /* a compiled `match`, private to vendors.c */

struct ztpd_vendor_file {
    char *match;    /* pattern: literal text with {mac}, {MAC}, {hex2}, {model}, {any} */
    char *template; /* "device" | "common" | other template role; NULL when status is set */
    int status;     /* fixed HTTP status (e.g. 404), 0 = render template */
    bool upload;    /* the phone PUTs this file (profile v2); template and status are unset */
    bool has_mac;   /* match contains {mac} or {MAC}: the file belongs to one phone */
    struct ztpd_vendor_pat *pat;
};

/* What a request file name matched: the MAC (12 lowercase hex digits, "" without {mac}/{MAC})
 * and the model named by {model} or {hex2} (NULL without them). */
struct ztpd_file_match {
    char mac[13];
    const struct ztpd_vendor_model *model;
};

struct ztpd_vendor {
    char *name;  /* file stem, lowercase */
    char *label; /* display label */
    char *file;  /* path of the .lua file it came from */
    char *mac_variable;
    char **oui;
    size_t n_oui;
    struct ztpd_vendor_file *files;
    size_t n_files;
    struct ztpd_vendor_model *models;
    size_t n_models; /* sorted by id */
    enum ztpd_tpl_format format;
    char *content_type; /* "text/plain" for ini, "application/xml" for xml unless set */
    char *template_ext; /* extension of its template files: "cfg" or "xml" */
    char *reboot_event;
    bool reboot_auth;
    char *prov_url;        /* provisioning.url with {server} unexpanded; NULL if not declared */
    char *prov_dhcp66;     /* provisioning.dhcp_option_66 or NULL */
    char *prov_notes;      /* provisioning.notes or NULL */
    char *http_ua_pattern; /* detect.http_ua when a string, else NULL */
    char *sip_ua_pattern;
    int http_ua_ref; /* detect.http_ua when a function(ua): registry ref, else LUA_NOREF */
    int sip_ua_ref;
    int prepare_ref; /* LUA_NOREF (-2) when absent; a registry ref into the engine's state */
    int detect_ref;  /* detect function ref or LUA_NOREF */
};

/* The set of loaded vendors, sorted by name. */
struct ztpd_vendors {
    struct ztpd_vendor **items;
    size_t n;
};

/* Loads every *.lua in each of dirs (NULL-terminated; later dirs override earlier vendors of
 * the same name). A file that fails to load is logged with its reason and skipped; *out owns
 * the vendors that loaded. Returns 0, or ZTPD_ENOENT when no vendor loaded at all. */
int ztpd_vendors_load(struct ztpd_vendors **out, struct ztpd_lua *L, const char *const *dirs);

/* Loads one file (exposed for tests and `ztpd template check`). On error returns ZTPD_ELUA or
 * ZTPD_EINVAL with "<file>: <field>: <reason>" in err. *out owned by the caller. */
int ztpd_vendor_load_file(struct ztpd_vendor **out, struct ztpd_lua *L, const char *path, char *err,
                          size_t errlen);

/* Frees one vendor and releases its Lua refs (L may be NULL if the state is gone). */
void ztpd_vendor_free(struct ztpd_vendor *v, struct ztpd_lua *L);
/* Frees the set (NULL is fine). */
void ztpd_vendors_free(struct ztpd_vendors *vs, struct ztpd_lua *L);

/* Lookup by name (case-insensitive); NULL if absent. Owned by vs. */
const struct ztpd_vendor *ztpd_vendors_find(const struct ztpd_vendors *vs, const char *name);
/* Model lookup by id (case-insensitive); NULL if absent. Owned by v. */
const struct ztpd_vendor_model *ztpd_vendor_model(const struct ztpd_vendor *v, const char *id);

/* The profile version the loader implements; vendor files see it as ztpd.profile_version. */
#define ZTPD_VENDOR_PROFILE_VERSION 2

/* Matches one request file name (a last path component) against entry f of v; fills *m.
 * Returns 1 on a match, 0 otherwise. {mac} never matches 000000000000 (a phone's "any phone"
 * name, never its own). */
int ztpd_vendor_file_match(const struct ztpd_vendor *v, const struct ztpd_vendor_file *f,
                           const char *name, struct ztpd_file_match *m);
/* The first entry of v that matches name (declaration order), or NULL. Owned by v. */
const struct ztpd_vendor_file *ztpd_vendor_match(const struct ztpd_vendor *v, const char *name,
                                                 struct ztpd_file_match *m);

/* The scalar names the core sets in the render context before prepare() and rendering
 * (NULL-terminated); prepare() sees exactly these in its table. See docs/vendor-profiles.md. */
extern const char *const ztpd_vendor_ctx_names[];

/* Runs the vendor's prepare(ctx) if it has one: Lua sees a table of the scalar variables and
 * may set new scalars or lists (arrays of tables of scalars); they are written back to ctx.
 * Returns 0, or ZTPD_ELUA with the Lua error (file:line) in err. */
int ztpd_vendor_prepare(const struct ztpd_vendor *v, struct ztpd_lua *L, struct ztpd_tpl_ctx *ctx,
                        char *err, size_t errlen);

#endif
