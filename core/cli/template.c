#include "cli/template.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/context.h"
#include "config/config.h"
#include "lua/engine.h"
#include "lua/vendors.h"
#include "provision/provision.h"
#include "provision/templates.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "template/template.h"
#include "util/error.h"
#include "util/mac.h"

/* What `render` uses for an extension found neither in config.yml nor in the database, and
 * `check` for every render: plain values, so the output shows the template, not the data. */
#define FAKE_NAME "Test Phone"
#define FAKE_PASSWORD "test-password"
#define FAKE_EXTENSION "1001"
/* Undefined names `check` has already reported for one file: more means a runaway loop. */
#define MAX_PROBLEMS_PER_FILE 50

static const char usage_text[] =
    "usage: ztpd template list [-c config.yml]\n"
    "       ztpd template show <vendor> <model> [-c config.yml]\n"
    "       ztpd template render --vendor V --model M --extension E [--mac MAC] [--name N]\n"
    "                            [-c config.yml]\n"
    "       ztpd template check [DIR] [-c config.yml]\n\n"
    "list    every vendor and model with the template file that serves each of its files and\n"
    "        where it comes from (custom, built-in, generic)\n"
    "show    prints the device template a phone of that vendor and model gets\n"
    "render  renders the device config a phone would get. The extension's name and password\n"
    "        come from config.yml, else from the database (read only while no daemon runs),\n"
    "        else placeholders (\"" FAKE_NAME "\", \"" FAKE_PASSWORD "\"), which a note on stderr\n"
    "        says; --name overrides the name. The MAC defaults to the vendor's first OUI +\n"
    "        000001.\n"
    "check   compiles every template of DIR (default: the custom and built-in directories)\n"
    "        and renders it with sample values: unbalanced sections, unknown placeholders\n"
    "        and XML that is not well-formed are printed as file:line: reason; exit 1 then.\n\n"
    "These commands read config.yml, the vendor profiles and the templates directly; they\n"
    "need no running daemon.\n";

/* ---- shared setup ---- */

/* The template directories in lookup order, as the daemon uses them. */
static size_t template_dirs(const struct ztpd_config *cfg, const char *dirs[2], char *builtin,
                            size_t blen)
{
    snprintf(builtin, blen, "%s/templates", ztpd_app_share_dir());
    dirs[0] = cfg->custom_templates_dir;
    dirs[1] = builtin;
    return 2;
}

static int load_all(struct cli_ctx *c, char *builtin, size_t blen)
{
    const char *dirs[2];
    if (cli_ctx_config(c) || cli_ctx_vendors(c))
        return CLI_FAIL;
    size_t nd = template_dirs(c->cfg, dirs, builtin, blen);
    if (ztpd_templates_load(&c->app.templates, dirs, nd, NULL)) {
        fprintf(stderr, "ztpd %s: out of memory\n", c->cmd);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static const char *source_of(const struct ztpd_config *cfg, const char *path, const char *builtin)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strncmp(base, "generic.", 8) || strstr(base, "_generic."))
        return "generic";
    size_t n = cfg->custom_templates_dir ? strlen(cfg->custom_templates_dir) : 0;
    if (n && !strncmp(path, cfg->custom_templates_dir, n) && path[n] == '/')
        return "custom";
    n = strlen(builtin);
    if (!strncmp(path, builtin, n) && path[n] == '/')
        return "built-in";
    return "custom";
}

/* The template of a non-device role: "<v>_<model>_<role>.<ext>", else "<v>_<role>.<ext>" (the
 * lookup of core/provision/provision.c). */
static const struct ztpd_tpl *role_template(const struct ztpd_templates *ts,
                                            const struct ztpd_vendor *v, const char *model,
                                            const char *role, const char **path)
{
    char name[256];
    if (!strcmp(role, "device"))
        return ztpd_templates_find(ts, v->name, model, v->template_ext, path);
    snprintf(name, sizeof name, "%s_%s_%s.%s", v->name, model, role, v->template_ext);
    const struct ztpd_tpl *t = ztpd_templates_get(ts, name, path);
    if (!t) {
        snprintf(name, sizeof name, "%s_%s.%s", v->name, role, v->template_ext);
        t = ztpd_templates_get(ts, name, path);
    }
    return t;
}

/* ---- list ---- */

static int cmd_list(struct cli_ctx *c)
{
    char builtin[4096];
    if (load_all(c, builtin, sizeof builtin))
        return CLI_FAIL;
    const struct ztpd_vendors *vs = c->app.vendors;
    printf("%-12s %-10s %-8s %-8s %-30s %s\n", "VENDOR", "MODEL", "ROLE", "SOURCE", "TEMPLATE",
           "PATH");
    int missing = 0;
    for (size_t i = 0; i < vs->n; i++) {
        const struct ztpd_vendor *v = vs->items[i];
        for (size_t m = 0; m < v->n_models; m++) {
            /* each template role the vendor's files use, once, device first */
            const char *roles[32];
            size_t nr = 0;
            roles[nr++] = "device";
            for (size_t f = 0; f < v->n_files && nr < 32; f++) {
                const char *r = v->files[f].template;
                size_t k;
                for (k = 0; r && k < nr && strcmp(roles[k], r); k++)
                    ;
                if (r && k == nr)
                    roles[nr++] = r;
            }
            for (size_t k = 0; k < nr; k++) {
                const char *path = NULL;
                const struct ztpd_tpl *t =
                    role_template(c->app.templates, v, v->models[m].id, roles[k], &path);
                const char *base = path ? strrchr(path, '/') : NULL;
                base = base ? base + 1 : (path ? path : "-");
                if (!t)
                    missing++;
                printf("%-12s %-10s %-8s %-8s %-30s %s\n", v->name, v->models[m].id, roles[k],
                       t ? source_of(c->cfg, path, builtin) : "MISSING", base, path ? path : "-");
            }
        }
    }
    if (missing)
        fprintf(stderr, "ztpd template list: %d file(s) have no template\n", missing);
    return missing ? CLI_FAIL : CLI_OK;
}

/* ---- show ---- */

static int vendor_model(struct cli_ctx *c, const char *vendor, const char *model,
                        const struct ztpd_vendor **v, const struct ztpd_vendor_model **m)
{
    *v = ztpd_vendors_find(c->app.vendors, vendor);
    if (!*v) {
        fprintf(stderr, "ztpd %s: vendor: unknown vendor '%s' (see ztpd template list)\n", c->cmd,
                vendor);
        return CLI_FAIL;
    }
    *m = ztpd_vendor_model(*v, model);
    if (!*m) {
        fprintf(stderr, "ztpd %s: model: vendor %s has no model '%s' (see ztpd template list)\n",
                c->cmd, (*v)->name, model);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int cmd_show(struct cli_ctx *c)
{
    char builtin[4096];
    if (c->n_pos != 3) {
        fprintf(stderr, "ztpd template show: expected <vendor> <model> (see --help)\n");
        return CLI_USAGE;
    }
    const struct ztpd_vendor *v;
    const struct ztpd_vendor_model *m;
    if (load_all(c, builtin, sizeof builtin) || vendor_model(c, c->pos[1], c->pos[2], &v, &m))
        return CLI_FAIL;
    const char *path = NULL;
    if (!ztpd_templates_find(c->app.templates, v->name, m->id, v->template_ext, &path)) {
        fprintf(stderr, "ztpd template show: no template for %s %s (not even generic.cfg)\n",
                v->name, m->id);
        return CLI_FAIL;
    }
    size_t len;
    char *src = cli_read_file(path, &len);
    if (!src)
        return CLI_FAIL;
    fprintf(stderr, "# %s (%s)\n", path, source_of(c->cfg, path, builtin));
    fwrite(src, 1, len, stdout);
    free(src);
    return CLI_OK;
}

/* ---- render ---- */

/* The extension from the database, when no daemon holds it. 1 found, 0 not, -1 not readable. */
static int db_extension(struct cli_ctx *c, const char *number, struct ztpd_extension_rec *out)
{
    struct cli_ctx db;
    memset(&db, 0, sizeof db);
    db.cmd = c->cmd;
    db.cfg = c->cfg;
    db.app.cfg = c->cfg;
    db.app.lock_fd = -1;
    char err[512];
    long holder;
    if (ztpd_app_lock(c->cfg->data_dir, &db.app.lock_fd, &holder, err, sizeof err))
        return -1;
    int found = -1;
    uv_loop_init(&db.loop);
    if (!ztpd_store_open(&db.app.store, &db.loop, c->cfg, err, sizeof err) &&
        !ztpd_registry_new(&db.app.reg) &&
        !ztpd_registry_load(db.app.reg, ztpd_store_backend(db.app.store),
                            ztpd_store_handle(db.app.store))) {
        const struct ztpd_extension_rec *e = ztpd_registry_extension(db.app.reg, number);
        found = e != NULL;
        if (e)
            *out = *e;
    }
    ztpd_registry_free(db.app.reg);
    ztpd_store_free(db.app.store);
    uv_loop_close(&db.loop);
    close(db.app.lock_fd);
    return found;
}

static int cmd_render(struct cli_ctx *c, struct cli_flag *fl)
{
    char builtin[4096], err[1024] = "";
    const char *vendor = fl[0].value, *model = fl[1].value, *ext = fl[2].value;
    const char *mac_in = fl[3].value, *name = fl[4].value;
    const char *missing = !vendor ? "--vendor" : !model ? "--model" : !ext ? "--extension" : NULL;
    if (missing || c->n_pos != 1) {
        fprintf(stderr, "ztpd template render: %s (see --help)\n",
                missing ? "missing option" : "unexpected argument");
        if (missing)
            fprintf(stderr, "ztpd template render: %s: required\n", missing);
        return CLI_USAGE;
    }
    const struct ztpd_vendor *v;
    const struct ztpd_vendor_model *m;
    if (load_all(c, builtin, sizeof builtin) || vendor_model(c, vendor, model, &v, &m))
        return CLI_FAIL;
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    if (mac_in) {
        if (ztpd_mac_normalize(mac_in, strlen(mac_in), d.mac)) {
            fprintf(stderr, "ztpd template render: --mac: '%s' is not a MAC address\n", mac_in);
            return CLI_FAIL;
        }
    } else {
        snprintf(d.mac, sizeof d.mac, "%s000001", v->n_oui ? v->oui[0] : "000000");
    }
    if (strlen(ext) >= ZTPD_S_EXT) {
        fprintf(stderr, "ztpd template render: --extension: too long\n");
        return CLI_FAIL;
    }
    snprintf(d.extension, sizeof d.extension, "%s", ext);
    snprintf(d.vendor, sizeof d.vendor, "%s", v->name);
    snprintf(d.model, sizeof d.model, "%s", m->id);

    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    int found = 0;
    for (size_t i = 0; i < c->cfg->n_extensions && !found; i++) {
        const struct ztpd_cfg_extension *ce = &c->cfg->extensions[i];
        if (strcmp(ce->number, ext))
            continue;
        snprintf(e.name, sizeof e.name, "%s", ce->name ? ce->name : "");
        snprintf(e.password, sizeof e.password, "%s", ce->password ? ce->password : "");
        found = 1;
    }
    const char *why = "";
    if (!found) {
        int r = db_extension(c, ext, &e);
        found = r == 1;
        why = r < 0 ? " (the database was not read: a daemon is using it)" : "";
    }
    if (!found) {
        snprintf(e.name, sizeof e.name, "%s", FAKE_NAME);
        snprintf(e.password, sizeof e.password, "%s", FAKE_PASSWORD);
        fprintf(stderr,
                "ztpd template render: note: extension %s is in neither config.yml nor the "
                "database%s; rendering with name \"%s\" and password \"%s\"\n",
                ext, why, FAKE_NAME, FAKE_PASSWORD);
    }
    snprintf(e.number, sizeof e.number, "%s", ext);
    if (name)
        snprintf(e.name, sizeof e.name, "%s", name);

    if (ztpd_registry_new(&c->app.reg) || ztpd_registry_extension_put(c->app.reg, &e) ||
        ztpd_registry_device_put(c->app.reg, &d)) {
        fprintf(stderr, "ztpd template render: out of memory\n");
        return CLI_FAIL;
    }
    char *out = NULL;
    size_t len = 0;
    const char *ctype;
    int rc = ztpd_provision_render(&c->app, &d, &out, &len, &ctype, err, sizeof err);
    memset(&e, 0, sizeof e);
    if (rc) {
        fprintf(stderr, "ztpd template render: %s\n", err);
        return CLI_FAIL;
    }
    fwrite(out, 1, len, stdout);
    free(out);
    return CLI_OK;
}

/* ---- check: XML well-formedness ---- */

struct xml {
    const char *p, *end;
    int line;
    char err[160];
};

static int xml_fail(struct xml *x, const char *msg)
{
    snprintf(x->err, sizeof x->err, "%s", msg);
    return -1;
}

static void xml_adv(struct xml *x, size_t n)
{
    for (size_t i = 0; i < n && x->p < x->end; i++, x->p++)
        if (*x->p == '\n')
            x->line++;
}

static int xml_starts(const struct xml *x, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(x->end - x->p) >= n && !memcmp(x->p, s, n);
}

/* Advances past the next occurrence of s; -1 when there is none. */
static int xml_skip_past(struct xml *x, const char *s, const char *what)
{
    size_t n = strlen(s);
    while (x->p < x->end) {
        if (xml_starts(x, s)) {
            xml_adv(x, n);
            return 0;
        }
        xml_adv(x, 1);
    }
    return xml_fail(x, what);
}

static int name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static size_t xml_name(struct xml *x)
{
    const char *s = x->p;
    if (s >= x->end || !name_start((unsigned char)*s))
        return 0;
    while (s < x->end && name_char((unsigned char)*s))
        s++;
    return (size_t)(s - x->p);
}

static void xml_space(struct xml *x)
{
    while (x->p < x->end && strchr(" \t\r\n", *x->p))
        xml_adv(x, 1);
}

/* At '&': a predefined entity or a character reference. */
static int xml_ref(struct xml *x)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < 5; i++)
        if (xml_starts(x, named[i])) {
            xml_adv(x, strlen(named[i]));
            return 0;
        }
    const char *s = x->p + 1;
    if (s < x->end && *s == '#') {
        int hex = ++s < x->end && *s == 'x';
        s += hex;
        const char *digits = s;
        while (s < x->end && strchr(hex ? "0123456789abcdefABCDEF" : "0123456789", *s))
            s++;
        if (s > digits && s < x->end && *s == ';') {
            xml_adv(x, (size_t)(s + 1 - x->p));
            return 0;
        }
    }
    return xml_fail(x, "'&' that does not start an entity (write &amp;)");
}

/* Returns 0 when the document is well-formed; else -1 with x->err and x->line. */
static int xml_check(struct xml *x)
{
    char stack[64][64];
    int depth = 0, roots = 0;
    while (x->p < x->end) {
        if (xml_starts(x, "<?")) {
            if (xml_skip_past(x, "?>", "unterminated processing instruction"))
                return -1;
        } else if (xml_starts(x, "<!--")) {
            xml_adv(x, 4);
            if (xml_skip_past(x, "-->", "unterminated comment"))
                return -1;
        } else if (xml_starts(x, "<![CDATA[")) {
            if (!depth)
                return xml_fail(x, "CDATA outside the root element");
            if (xml_skip_past(x, "]]>", "unterminated CDATA section"))
                return -1;
        } else if (xml_starts(x, "<!DOCTYPE")) {
            if (roots || depth)
                return xml_fail(x, "DOCTYPE after the root element");
            int br = 0;
            for (; x->p < x->end && (*x->p != '>' || br); xml_adv(x, 1))
                br += *x->p == '[' ? 1 : *x->p == ']' ? -1 : 0;
            if (x->p >= x->end)
                return xml_fail(x, "unterminated DOCTYPE");
            xml_adv(x, 1);
        } else if (xml_starts(x, "</")) {
            xml_adv(x, 2);
            size_t n = xml_name(x);
            if (!n)
                return xml_fail(x, "end tag without a name");
            if (!depth)
                return xml_fail(x, "end tag with no open element");
            if (strlen(stack[depth - 1]) != n || memcmp(stack[depth - 1], x->p, n)) {
                snprintf(x->err, sizeof x->err, "end tag </%.*s> does not close <%.60s>",
                         (int)(n < 60 ? n : 60), x->p, stack[depth - 1]);
                return -1;
            }
            xml_adv(x, n);
            xml_space(x);
            if (x->p >= x->end || *x->p != '>')
                return xml_fail(x, "end tag not closed with '>'");
            xml_adv(x, 1);
            depth--;
        } else if (*x->p == '<') {
            xml_adv(x, 1);
            size_t n = xml_name(x);
            if (!n)
                return xml_fail(x, "'<' that does not start a tag (write &lt;)");
            if (!depth && roots++)
                return xml_fail(x, "more than one root element");
            if (depth == 64)
                return xml_fail(x, "elements nested too deeply");
            snprintf(stack[depth], sizeof stack[depth], "%.*s", (int)(n < 63 ? n : 63), x->p);
            xml_adv(x, n);
            char seen[32][64];
            int nseen = 0;
            for (;;) {
                const char *before = x->p;
                xml_space(x);
                if (x->p >= x->end)
                    return xml_fail(x, "unterminated start tag");
                if (*x->p == '>' || xml_starts(x, "/>")) {
                    int empty = *x->p == '/';
                    xml_adv(x, empty ? 2 : 1);
                    if (!empty)
                        depth++;
                    break;
                }
                if (x->p == before)
                    return xml_fail(x, "attributes must be separated by white space");
                size_t an = xml_name(x);
                if (!an)
                    return xml_fail(x, "bad attribute name");
                for (int k = 0; k < nseen; k++)
                    if (strlen(seen[k]) == an && !memcmp(seen[k], x->p, an))
                        return xml_fail(x, "attribute given twice");
                if (nseen < 32)
                    snprintf(seen[nseen++], sizeof seen[0], "%.*s", (int)(an < 63 ? an : 63), x->p);
                xml_adv(x, an);
                xml_space(x);
                if (x->p >= x->end || *x->p != '=')
                    return xml_fail(x, "attribute without '=\"value\"'");
                xml_adv(x, 1);
                xml_space(x);
                if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
                    return xml_fail(x, "attribute value not quoted");
                char q = *x->p;
                xml_adv(x, 1);
                while (x->p < x->end && *x->p != q) {
                    if (*x->p == '<')
                        return xml_fail(x, "'<' in an attribute value");
                    if (*x->p == '&') {
                        if (xml_ref(x))
                            return -1;
                        continue;
                    }
                    xml_adv(x, 1);
                }
                if (x->p >= x->end)
                    return xml_fail(x, "unterminated attribute value");
                xml_adv(x, 1);
            }
        } else if (*x->p == '&') {
            if (!depth)
                return xml_fail(x, "text outside the root element");
            if (xml_ref(x))
                return -1;
        } else {
            if (!depth && !strchr(" \t\r\n", *x->p))
                return xml_fail(x, "text outside the root element");
            if ((unsigned char)*x->p < 0x20 && !strchr("\t\r\n", *x->p))
                return xml_fail(x, "control character");
            xml_adv(x, 1);
        }
    }
    if (depth) {
        snprintf(x->err, sizeof x->err, "element <%s> is not closed", stack[depth - 1]);
        return -1;
    }
    if (!roots)
        return xml_fail(x, "no root element");
    return 0;
}

/* ---- check ---- */

struct check {
    struct cli_ctx *c;
    int problems;
};

static void problem(struct check *k, const char *path, int line, const char *fmt, const char *a)
{
    printf("%s:%d: ", path, line);
    printf(fmt, a);
    putchar('\n');
    k->problems++;
}

/* The vendor a template file belongs to ("<vendor>_..."), the longest name that fits. */
static const struct ztpd_vendor *vendor_of(const struct ztpd_vendors *vs, const char *file)
{
    const struct ztpd_vendor *best = NULL;
    for (size_t i = 0; i < vs->n; i++) {
        size_t n = strlen(vs->items[i]->name);
        if (!strncmp(file, vs->items[i]->name, n) && file[n] == '_' &&
            (!best || n > strlen(best->name)))
            best = vs->items[i];
    }
    return best;
}

/* The variables a shared (common) file gets: the server's, none of a phone's. */
static const char *const server_names[] = {
    "SIP_SERVER", "SIP_PORT",         "SERVER_NAME", "TIMEZONE", "TIMEZONE_OFFSET",
    "NTP_SERVER", "PROVISIONING_URL", "VENDOR",      "MODEL",    "MODEL_LABEL",
    "LINES",      "COMMON_ID",        NULL};

/* 1 when role is served per phone (one of the vendor's files with it names the MAC). */
static int role_per_device(const struct ztpd_vendor *v, const char *role)
{
    if (!strcmp(role, "device"))
        return 1;
    for (size_t i = 0; i < v->n_files; i++)
        if (v->files[i].template && !strcmp(v->files[i].template, role) &&
            (strstr(v->files[i].match, "{mac}") || strstr(v->files[i].match, "{MAC}")))
            return 1;
    return 0;
}

/* Fills ctx as the daemon would for this file: a sample phone of vendor v (model m) for a
 * per-device file, the server variables only for a shared one; then v's prepare(). */
static int sample_ctx(struct cli_ctx *c, const struct ztpd_vendor *v,
                      const struct ztpd_vendor_model *m, int per_device, struct ztpd_tpl_ctx *ctx,
                      char *err, size_t errlen)
{
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    snprintf(d.mac, sizeof d.mac, "%s000001", v->n_oui ? v->oui[0] : "000000");
    snprintf(d.extension, sizeof d.extension, "%s", FAKE_EXTENSION);
    snprintf(d.vendor, sizeof d.vendor, "%s", v->name);
    snprintf(d.model, sizeof d.model, "%s", m->id);
    struct ztpd_tpl_ctx *full;
    if (ztpd_tpl_ctx_new(&full))
        return ZTPD_ENOMEM;
    int rc = ztpd_provision_vars(&c->app, &d, full, err, errlen);
    for (const char *const *n = per_device ? ztpd_vendor_ctx_names : server_names; !rc && *n; n++) {
        const char *val = ztpd_tpl_ctx_get(full, *n);
        if (val && ztpd_tpl_ctx_set(ctx, *n, val))
            rc = ZTPD_ENOMEM;
    }
    ztpd_tpl_ctx_free(full);
    if (!rc)
        rc = ztpd_vendor_prepare(v, c->app.lua, ctx, err, errlen);
    return rc;
}

static int line_of(const char *err)
{
    int line = 0;
    return sscanf(err, "line %d:", &line) == 1 ? line : 0;
}

static void check_file(struct check *k, const char *path, const char *file)
{
    struct cli_ctx *c = k->c;
    size_t len;
    char *src = cli_read_file(path, &len);
    if (!src) {
        problem(k, path, 0, "%s", "cannot read the file");
        return;
    }
    char err[512] = "";
    struct ztpd_tpl *t = NULL;
    if (memchr(src, 0, len)) {
        problem(k, path, 0, "%s", "contains a NUL byte (not a text template)");
        free(src);
        return;
    }
    if (ztpd_tpl_compile(&t, src, len, err, sizeof err)) {
        const char *reason = strchr(err, ':');
        problem(k, path, line_of(err), "%s", reason ? reason + 2 : err);
        free(src);
        return;
    }
    free(src);

    /* which vendor, model and role the daemon would render this file as */
    const struct ztpd_vendors *vs = c->app.vendors;
    const struct ztpd_vendor *v = vendor_of(vs, file);
    const struct ztpd_vendor *rv = v ? v : vs->items[0]; /* generic files: any vendor's phone */
    const struct ztpd_vendor_model *m = &rv->models[0];
    char stem[256], role[256] = "device";
    snprintf(stem, sizeof stem, "%s", v ? file + strlen(v->name) + 1 : file);
    char *dot = strrchr(stem, '.');
    const char *ext = dot ? dot + 1 : "";
    if (dot)
        *dot = '\0';
    if (v) {
        const struct ztpd_vendor_model *fm = NULL;
        char *us = strchr(stem, '_');
        if (us) {
            *us = '\0';
            fm = ztpd_vendor_model(v, stem);
            snprintf(role, sizeof role, "%s", fm ? us + 1 : "device");
            *us = '_';
        }
        if (!fm && !(fm = ztpd_vendor_model(v, stem)) && strcmp(stem, "generic"))
            snprintf(role, sizeof role, "%s", stem);
        if (fm)
            m = fm;
    }
    int xml = !strcmp(ext, "xml") || (v && v->format == ZTPD_FMT_XML && strcmp(ext, "cfg"));

    struct ztpd_tpl_ctx *ctx;
    if (ztpd_tpl_ctx_new(&ctx)) {
        ztpd_tpl_free(t);
        problem(k, path, 0, "%s", "out of memory");
        return;
    }
    int rc = sample_ctx(c, rv, m, v ? role_per_device(rv, role) : 1, ctx, err, sizeof err);
    if (rc && v) {
        problem(k, path, 0, "vendor prepare() failed: %s", err);
    } else {
        char *out = NULL;
        size_t olen = 0;
        for (int n = 0; n < MAX_PROBLEMS_PER_FILE; n++) {
            rc = ztpd_tpl_render(t, ctx, xml ? ZTPD_FMT_XML : ZTPD_FMT_INI, &out, &olen, err,
                                 sizeof err);
            if (rc != ZTPD_ENOENT)
                break;
            /* report it, define it, go on: every unknown name is listed, not only the first */
            const char *name = strstr(err, "unknown placeholder ");
            name = name ? name + 20 : "";
            char what[160];
            snprintf(what, sizeof what, "unknown placeholder {{%s}}%s", name,
                     v && !role_per_device(rv, role) ? " (a shared file has no phone variables)"
                                                     : "");
            problem(k, path, line_of(err), "%s", what);
            if (!*name || ztpd_tpl_ctx_set(ctx, name, "x"))
                break;
        }
        if (rc == 0 && xml) {
            struct xml x = {.p = out, .end = out + olen, .line = 1};
            if (xml_check(&x)) {
                char what[256];
                snprintf(what, sizeof what, "XML not well-formed (line %d of the render): %s",
                         x.line, x.err);
                problem(k, path, x.line, "%s", what);
            }
        } else if (rc && rc != ZTPD_ENOENT) {
            problem(k, path, line_of(err), "%s", err);
        }
        free(out);
    }
    ztpd_tpl_ctx_free(ctx);
    ztpd_tpl_free(t);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks every regular, non-hidden file of dir in name order. */
static int check_dir(struct check *k, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "ztpd template check: cannot open %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!stat(path, &st) && S_ISREG(st.st_mode))
            check_file(k, path, names[i]);
        free(names[i]);
    }
    free(names);
    return 0;
}

static int cmd_check(struct cli_ctx *c)
{
    char builtin[4096];
    if (c->n_pos > 2) {
        fprintf(stderr, "ztpd template check: expected at most one directory (see --help)\n");
        return CLI_USAGE;
    }
    if (cli_ctx_config(c) || cli_ctx_vendors(c))
        return CLI_FAIL;
    /* the sample phone's extension, for every per-device render */
    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    snprintf(e.number, sizeof e.number, "%s", FAKE_EXTENSION);
    snprintf(e.name, sizeof e.name, "%s", FAKE_NAME);
    snprintf(e.password, sizeof e.password, "%s", FAKE_PASSWORD);
    if (ztpd_registry_new(&c->app.reg) || ztpd_registry_extension_put(c->app.reg, &e))
        return CLI_FAIL;
    struct check k = {.c = c};
    int bad = 0;
    if (c->n_pos == 2) {
        bad = check_dir(&k, c->pos[1]);
    } else {
        const char *dirs[2];
        size_t nd = template_dirs(c->cfg, dirs, builtin, sizeof builtin);
        for (size_t i = 0; i < nd; i++)
            if (dirs[i] && check_dir(&k, dirs[i]))
                bad = -1;
    }
    if (k.problems)
        fprintf(stderr, "ztpd template check: %d problem(s)\n", k.problems);
    return bad || k.problems ? CLI_FAIL : CLI_OK;
}

int ztpd_cli_template(int argc, char **argv)
{
    struct cli_ctx c;
    struct cli_flag flags[] = {
        {"--vendor", 1, NULL}, {"--model", 1, NULL}, {"--extension", 1, NULL},
        {"--mac", 1, NULL},    {"--name", 1, NULL},
    };
    int rc = cli_ctx_parse(&c, "template", argc, argv, flags, sizeof flags / sizeof flags[0],
                           usage_text);
    if (rc >= 0)
        return rc;
    const char *sub = c.n_pos ? c.pos[0] : NULL;
    if (!sub) {
        fputs(usage_text, stderr);
        return CLI_USAGE;
    }
    int render = !strcmp(sub, "render");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0] && !render; i++) {
        if (flags[i].value) {
            fprintf(stderr, "ztpd template %s: %s is an option of render only\n", sub,
                    flags[i].name);
            return CLI_USAGE;
        }
    }
    if (c.offline) {
        fprintf(stderr, "ztpd template: --offline is not needed: these commands never use the "
                        "daemon\n");
        return CLI_USAGE;
    }
    if (!strcmp(sub, "list")) {
        c.cmd = "template list";
        rc = c.n_pos == 1 ? cmd_list(&c) : CLI_USAGE;
    } else if (!strcmp(sub, "show")) {
        c.cmd = "template show";
        rc = cmd_show(&c);
    } else if (render) {
        c.cmd = "template render";
        rc = cmd_render(&c, flags);
    } else if (!strcmp(sub, "check")) {
        c.cmd = "template check";
        rc = cmd_check(&c);
    } else {
        fprintf(stderr, "ztpd template: unknown subcommand '%s' (list, show, render, check)\n",
                sub);
        rc = CLI_USAGE;
    }
    if (rc == CLI_USAGE && !strcmp(sub, "list"))
        fprintf(stderr, "ztpd template list: takes no arguments (see --help)\n");
    ztpd_templates_free(c.app.templates); /* the context does not know templates */
    c.app.templates = NULL;
    cli_ctx_free(&c);
    return rc;
}
