#include "lua/vendors.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log/log.h"
#include "lua/engine.h"
#include "util/error.h"

const char *const ztpd_vendor_ctx_names[] = {
    "EXTENSION_NUMBER",
    "EXTENSION_NAME",
    "EXTENSION_PASSWORD",
    "SIP_SERVER",
    "SIP_PORT",
    "SERVER_NAME",
    "MAC_ADDRESS",
    "MAC_COLON",
    "MAC_UPPER",
    "VENDOR",
    "MODEL",
    "MODEL_LABEL",
    "LINES",
    "COMMON_ID",
    "TIMEZONE",
    "TIMEZONE_OFFSET",
    "NTP_SERVER",
    "PROVISIONING_URL",
    NULL,
};

static const char *const top_fields[] = {
    "name",   "label",        "mac_variable", "oui",    "detect",  "files",        "models",
    "format", "content_type", "template_ext", "reboot", "prepare", "provisioning", NULL,
};

#define MAX_ID 64
#define MAX_NEST 8

/* ---- helpers shared by loading and prepare ---- */

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

/* A key fit for an error message: printable and short, so a hostile key cannot forge lines. */
static const char *key_text(lua_State *L, int idx, char *buf, size_t len)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (lua_isinteger(L, idx))
            snprintf(buf, len, "[%lld]", (long long)lua_tointeger(L, idx));
        else
            snprintf(buf, len, "[%g]", (double)lua_tonumber(L, idx));
        return buf;
    }
    if (lua_type(L, idx) != LUA_TSTRING) {
        snprintf(buf, len, "[%s key]", luaL_typename(L, idx));
        return buf;
    }
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < len; i++)
        buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (o + 4 >= len)
        memcpy(buf + o, "...", 3), o += 3;
    buf[o] = 0;
    return buf;
}

static int ident_chars(const char *s, size_t n, const char *extra)
{
    if (n == 0 || n > MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c)) || !c)
            return 0;
    }
    return 1;
}

/* The first line of a Lua message, with a chunk name Lua shortened to "...tail" (LUA_IDSIZE)
 * put back to the full path, and the path prefixed when the message does not start with it:
 * errors always read "<file>:<line>: ..." or "<file>: ...". */
static void format_error(char *err, size_t errlen, const char *path, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    size_t plen = strlen(path);
    if (!err || !errlen)
        return;
    if (n >= plen && !strncmp(msg, path, plen)) {
        snprintf(err, errlen, "%.*s", (int)n, msg);
        return;
    }
    if (!strncmp(msg, "...", 3)) {
        const char *colon = memchr(msg, ':', n);
        size_t tail = colon ? (size_t)(colon - msg) - 3 : 0;
        if (colon && tail > 0 && tail <= plen && !strncmp(path + plen - tail, msg + 3, tail)) {
            snprintf(err, errlen, "%s%.*s", path, (int)(n - (size_t)(colon - msg)), colon);
            return;
        }
    }
    snprintf(err, errlen, "%s: %.*s", path, (int)n, msg);
}

/* ---- loading ---- */

struct load_job {
    struct ztpd_lua *lua;
    const char *path;
    char stem[MAX_ID + 8];
    struct ztpd_vendor *v;
    int invalid; /* the error is a validation error (EINVAL), not a Lua one */
    int nomem;
};

/* Raises "<field>: <reason>" as a validation error. lua_error() longjmps but is not declared
 * noreturn; saying so here lets the compiler see that nothing runs after a failed check. */
static _Noreturn void invalid(lua_State *L, struct load_job *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static _Noreturn void invalid(lua_State *L, struct load_job *job, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    job->invalid = 1;
    lua_pushstring(L, buf);
    lua_error(L);
    __builtin_unreachable();
}

static _Noreturn void nomem(lua_State *L, int *flag)
{
    *flag = 1;
    lua_pushliteral(L, "out of memory");
    lua_error(L);
    __builtin_unreachable();
}

static char *dup_mem(lua_State *L, struct load_job *job, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        nomem(L, &job->nomem);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Pushes t[key] (raw: a metatable in the returned table must not run code here). */
static int raw_field(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* Copies the string at idx (non-empty, no NUL) or raises "<field>: expected ...". */
static char *take_string(lua_State *L, struct load_job *job, int idx, const char *field)
{
    size_t n;
    if (lua_type(L, idx) != LUA_TSTRING)
        invalid(L, job, "%s: expected a string, got %s", field, luaL_typename(L, idx));
    const char *s = lua_tolstring(L, idx, &n);
    if (n == 0)
        invalid(L, job, "%s: must not be empty", field);
    if (memchr(s, 0, n))
        invalid(L, job, "%s: must not contain NUL bytes", field);
    return dup_mem(L, job, s, n);
}

/* t[key] as a new string; NULL when absent and optional. */
static char *string_field(lua_State *L, struct load_job *job, int t, const char *key,
                          const char *field, int required)
{
    char *s = NULL;
    if (raw_field(L, t, key) == LUA_TNIL) {
        if (required)
            invalid(L, job, "%s: missing", field);
    } else {
        s = take_string(L, job, -1, field);
    }
    lua_pop(L, 1);
    return s;
}

/* Rejects keys that are not in `allowed` (the first one in byte order, so the message is the
 * same on every run); catches typos such as "lable" before they silently do nothing. */
static void check_keys(lua_State *L, struct load_job *job, int t, const char *const *allowed,
                       const char *prefix)
{
    char bad[80] = "", kb[80];
    int found = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && in_list(allowed, lua_tostring(L, -1)))
            continue;
        key_text(L, -1, kb, sizeof kb);
        if (!found || strcmp(kb, bad) < 0)
            snprintf(bad, sizeof bad, "%s", kb);
        found = 1;
    }
    if (found)
        invalid(L, job, "%s%s: unknown field", prefix, bad);
}

/* Number of elements when t is a proper array 1..n (no other keys), else -1. */
static long array_len(lua_State *L, int t)
{
    long n = (long)lua_rawlen(L, t), count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return -1;
        }
        count++;
    }
    return count == n ? n : -1;
}

enum pat_kind { PAT_LIT, PAT_MAC, PAT_MACU, PAT_HEX2, PAT_MODEL, PAT_ANY };

struct pat_tok {
    enum pat_kind kind;
    const char *lit; /* PAT_LIT: points into the pattern's own copy of the text */
    size_t len;
};

struct ztpd_vendor_pat {
    size_t n;
    char *text; /* the literal pieces, NUL-separated */
    struct pat_tok toks[];
};

static void pat_free(struct ztpd_vendor_pat *p)
{
    if (p) {
        free(p->text);
        free(p);
    }
}

/* Compiles a `match` into tokens once at load, so a request is matched without parsing the
 * pattern again, and a bad pattern fails the file naming the field. */
static struct ztpd_vendor_pat *compile_match(lua_State *L, struct load_job *job, const char *m,
                                             const char *field)
{
    size_t mlen = strlen(m), max = mlen + 1;
    if (strchr(m, '/'))
        invalid(L, job, "%s: must be a file name without \"/\" (the last path component)", field);
    struct ztpd_vendor_pat *p = calloc(1, sizeof *p + max * sizeof p->toks[0]);
    if (!p)
        nomem(L, &job->nomem);
    /* keep p reachable from the vendor before anything can raise */
    p->text = malloc(mlen + 1);
    if (!p->text) {
        free(p);
        nomem(L, &job->nomem);
    }
    char *o = p->text;
    const char *lit = NULL;
    int raised = 0;
    char name[16] = "";
    const char *why = NULL;
    for (const char *q = m; *q; q++) {
        if (*q == '}') {
            why = "\"}\" without \"{\"";
            raised = 1;
            break;
        }
        if (*q != '{') {
            if (!lit) {
                lit = o;
                p->toks[p->n].kind = PAT_LIT;
                p->toks[p->n].lit = o;
                p->toks[p->n].len = 0;
                p->n++;
            }
            *o++ = *q;
            p->toks[p->n - 1].len++;
            continue;
        }
        if (lit) {
            *o++ = 0;
            lit = NULL;
        }
        const char *end = strchr(q, '}');
        if (!end) {
            why = "unterminated \"{\"";
            raised = 1;
            break;
        }
        size_t n = (size_t)(end - q - 1);
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, q + 1, n);
        name[n] = 0;
        enum pat_kind k;
        if (!strcmp(name, "mac"))
            k = PAT_MAC;
        else if (!strcmp(name, "MAC"))
            k = PAT_MACU;
        else if (!strcmp(name, "hex2"))
            k = PAT_HEX2;
        else if (!strcmp(name, "model"))
            k = PAT_MODEL;
        else if (!strcmp(name, "any"))
            k = PAT_ANY;
        else {
            raised = 2;
            break;
        }
        if (k == PAT_ANY && p->n && p->toks[p->n - 1].kind == PAT_ANY) {
            why = "two {any} in a row match the same text";
            raised = 1;
            break;
        }
        p->toks[p->n].kind = k;
        p->n++;
        q = end;
    }
    if (raised) {
        pat_free(p);
        if (raised == 2)
            invalid(L, job, "%s: unknown placeholder {%s} (use {mac} {MAC} {hex2} {model} {any})",
                    field, name);
        invalid(L, job, "%s: %s", field, why);
    }
    return p;
}

static int hexc(char c, int upper)
{
    if (c >= '0' && c <= '9')
        return 1;
    return upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f');
}

static int pat_match(const struct ztpd_vendor *v, const struct pat_tok *t, size_t n, const char *s,
                     struct ztpd_file_match *m)
{
    if (n == 0)
        return *s == 0;
    switch (t->kind) {
    case PAT_LIT:
        return !strncmp(s, t->lit, t->len) && pat_match(v, t + 1, n - 1, s + t->len, m);
    case PAT_MAC:
    case PAT_MACU: {
        int zero = 1;
        for (int i = 0; i < 12; i++) {
            if (!hexc(s[i], t->kind == PAT_MACU))
                return 0;
            zero &= s[i] == '0';
        }
        if (zero)
            return 0;
        char saved[13];
        memcpy(saved, m->mac, sizeof saved);
        for (int i = 0; i < 12; i++)
            m->mac[i] = (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 'a' : s[i]);
        m->mac[12] = 0;
        if (pat_match(v, t + 1, n - 1, s + 12, m))
            return 1;
        memcpy(m->mac, saved, sizeof saved);
        return 0;
    }
    case PAT_HEX2:
        if (!hexc(s[0], 0) && !hexc(s[0], 1))
            return 0;
        if (!hexc(s[1], 0) && !hexc(s[1], 1))
            return 0;
        for (size_t i = 0; i < v->n_models; i++) {
            const struct ztpd_vendor_model *md = &v->models[i];
            if (!md->common_id || strncasecmp(md->common_id, s, 2) || md->common_id[2])
                continue;
            const struct ztpd_vendor_model *saved = m->model;
            m->model = md;
            if (pat_match(v, t + 1, n - 1, s + 2, m))
                return 1;
            m->model = saved;
        }
        return 0;
    case PAT_MODEL:
        for (size_t i = 0; i < v->n_models; i++) {
            const struct ztpd_vendor_model *md = &v->models[i];
            size_t len = strlen(md->id);
            if (strncasecmp(s, md->id, len))
                continue;
            const struct ztpd_vendor_model *saved = m->model;
            m->model = md;
            if (pat_match(v, t + 1, n - 1, s + len, m))
                return 1;
            m->model = saved;
        }
        return 0;
    case PAT_ANY:
        for (size_t k = 1; s[k - 1] && s[k - 1] != '/'; k++)
            if (pat_match(v, t + 1, n - 1, s + k, m))
                return 1;
        return 0;
    }
    return 0;
}

int ztpd_vendor_file_match(const struct ztpd_vendor *v, const struct ztpd_vendor_file *f,
                           const char *name, struct ztpd_file_match *m)
{
    memset(m, 0, sizeof *m);
    if (!f->pat || !name)
        return 0;
    return pat_match(v, f->pat->toks, f->pat->n, name, m);
}

const struct ztpd_vendor_file *ztpd_vendor_match(const struct ztpd_vendor *v, const char *name,
                                                 struct ztpd_file_match *m)
{
    for (size_t i = 0; v && i < v->n_files; i++)
        if (ztpd_vendor_file_match(v, &v->files[i], name, m))
            return &v->files[i];
    memset(m, 0, sizeof *m);
    return NULL;
}

static void load_files(lua_State *L, struct load_job *job, int top)
{
    static const char *const file_fields[] = {"match", "template", "status", "upload", NULL};
    struct ztpd_vendor *v = job->v;
    char field[64];
    if (raw_field(L, top, "files") != LUA_TTABLE)
        invalid(L, job, "files: expected a non-empty array of { match =, template = | status = }");
    int t = lua_gettop(L);
    long n = array_len(L, t);
    if (n <= 0)
        invalid(L, job, "files: expected a non-empty array of { match =, template = | status = }");
    v->files = calloc((size_t)n, sizeof *v->files);
    if (!v->files)
        nomem(L, &job->nomem);
    v->n_files = (size_t)n;
    for (long i = 1; i <= n; i++) {
        struct ztpd_vendor_file *f = &v->files[i - 1];
        snprintf(field, sizeof field, "files[%ld]", i);
        if (lua_rawgeti(L, t, i) != LUA_TTABLE)
            invalid(L, job, "%s: expected a table { match =, template = | status = }", field);
        int e = lua_gettop(L);
        snprintf(field, sizeof field, "files[%ld].", i);
        check_keys(L, job, e, file_fields, field);
        snprintf(field, sizeof field, "files[%ld].match", i);
        f->match = string_field(L, job, e, "match", field, 1);
        f->pat = compile_match(L, job, f->match, field);
        f->has_mac = strstr(f->match, "{mac}") || strstr(f->match, "{MAC}");
        snprintf(field, sizeof field, "files[%ld].template", i);
        f->template = string_field(L, job, e, "template", field, 0);
        snprintf(field, sizeof field, "files[%ld].status", i);
        int st = raw_field(L, e, "status");
        if (st != LUA_TNIL) {
            lua_Integer s = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
            if (s < 100 || s > 599)
                invalid(L, job, "%s: expected an HTTP status code (100-599)", field);
            f->status = (int)s;
        }
        lua_pop(L, 1);
        snprintf(field, sizeof field, "files[%ld].upload", i);
        int ut = raw_field(L, e, "upload");
        if (ut != LUA_TNIL && ut != LUA_TBOOLEAN)
            invalid(L, job, "%s: expected true or false", field);
        f->upload = lua_toboolean(L, -1);
        lua_pop(L, 1);
        snprintf(field, sizeof field, "files[%ld]", i);
        if (f->upload) {
            if (f->template || f->status)
                invalid(L, job, "%s: upload excludes template and status", field);
            if (!f->has_mac)
                invalid(L, job,
                        "%s.match: an upload belongs to one phone: the name needs {mac} or {MAC}",
                        field);
            lua_pop(L, 1);
            continue;
        }
        if (f->template && f->status)
            invalid(L, job, "%s: template and status exclude each other", field);
        if (!f->template && !f->status)
            invalid(L, job, "%s: needs template = \"<role>\", status = <code> or upload = true",
                    field);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int model_cmp(const void *a, const void *b)
{
    const struct ztpd_vendor_model *x = a, *y = b;
    return strcmp(x->id, y->id);
}

static void load_models(lua_State *L, struct load_job *job, int top)
{
    static const char *const model_fields[] = {"label", "lines", "common_id", NULL};
    struct ztpd_vendor *v = job->v;
    char field[MAX_ID + 32], kb[80], prefix[MAX_ID + 16];
    if (raw_field(L, top, "models") != LUA_TTABLE)
        invalid(L, job, "models: expected a table of id = { label =, lines = }");
    int t = lua_gettop(L);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        n++;
    }
    if (n == 0)
        invalid(L, job, "models: expected at least one model");
    v->models = calloc(n, sizeof *v->models);
    if (!v->models)
        nomem(L, &job->nomem);
    v->n_models = n;
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        struct ztpd_vendor_model *m = &v->models[i++];
        size_t idlen = 0;
        const char *id = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &idlen) : NULL;
        if (!id || !ident_chars(id, idlen, "_-"))
            invalid(L, job, "models.%s: model ids are lowercase letters, digits, _ and -",
                    key_text(L, -2, kb, sizeof kb));
        m->id = dup_mem(L, job, id, idlen);
        if (lua_type(L, -1) != LUA_TTABLE)
            invalid(L, job, "models.%s: expected a table { label =, lines = }", m->id);
        int e = lua_gettop(L);
        snprintf(prefix, sizeof prefix, "models.%s.", m->id);
        check_keys(L, job, e, model_fields, prefix);
        snprintf(field, sizeof field, "models.%s.label", m->id);
        m->label = string_field(L, job, e, "label", field, 1);
        snprintf(field, sizeof field, "models.%s.lines", m->id);
        raw_field(L, e, "lines");
        lua_Integer lines = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (lines <= 0 || lines > 1000)
            invalid(L, job, "%s: expected a positive integer", field);
        m->lines = (int)lines;
        lua_pop(L, 1);
        snprintf(field, sizeof field, "models.%s.common_id", m->id);
        m->common_id = string_field(L, job, e, "common_id", field, 0);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    qsort(v->models, v->n_models, sizeof *v->models, model_cmp);
}

static void load_oui(lua_State *L, struct load_job *job, int top)
{
    struct ztpd_vendor *v = job->v;
    char field[32];
    int type = raw_field(L, top, "oui");
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    int t = lua_gettop(L);
    long n = type == LUA_TTABLE ? array_len(L, t) : -1;
    if (n < 0)
        invalid(L, job, "oui: expected an array of 6-hex-digit strings");
    v->oui = calloc(n ? (size_t)n : 1, sizeof *v->oui);
    if (!v->oui)
        nomem(L, &job->nomem);
    v->n_oui = (size_t)n;
    for (long i = 1; i <= n; i++) {
        snprintf(field, sizeof field, "oui[%ld]", i);
        lua_rawgeti(L, t, i);
        size_t len = 0;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        int ok = s && len == 6;
        for (size_t k = 0; ok && k < len; k++)
            ok = strchr("0123456789abcdefABCDEF", s[k]) && s[k];
        if (!ok)
            invalid(L, job, "%s: expected 6 hex digits such as \"001565\"", field);
        char *o = dup_mem(L, job, s, len);
        for (char *p = o; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        v->oui[i - 1] = o;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void load_detect(lua_State *L, struct load_job *job, int top)
{
    static const char *const detect_fields[] = {"http_ua", "sip_ua", NULL};
    struct ztpd_vendor *v = job->v;
    int type = raw_field(L, top, "detect");
    if (type == LUA_TFUNCTION) {
        v->detect_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return;
    }
    if (type == LUA_TTABLE) {
        int t = lua_gettop(L);
        check_keys(L, job, t, detect_fields, "detect.");
        /* each entry is a Lua pattern or a function(ua) returning { model =, firmware =, mac = } */
        if (raw_field(L, t, "http_ua") == LUA_TFUNCTION)
            v->http_ua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
        if (raw_field(L, t, "sip_ua") == LUA_TFUNCTION)
            v->sip_ua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
        if (v->http_ua_ref == LUA_NOREF)
            v->http_ua_pattern = string_field(L, job, t, "http_ua", "detect.http_ua", 0);
        if (v->sip_ua_ref == LUA_NOREF)
            v->sip_ua_pattern = string_field(L, job, t, "sip_ua", "detect.sip_ua", 0);
    } else if (type != LUA_TNIL) {
        invalid(L, job, "detect: expected a table { http_ua =, sip_ua = } or a function(ua)");
    }
    lua_pop(L, 1);
}

static void load_reboot(lua_State *L, struct load_job *job, int top)
{
    static const char *const reboot_fields[] = {"event", "auth", NULL};
    struct ztpd_vendor *v = job->v;
    int type = raw_field(L, top, "reboot");
    if (type == LUA_TTABLE) {
        int t = lua_gettop(L);
        check_keys(L, job, t, reboot_fields, "reboot.");
        v->reboot_event = string_field(L, job, t, "event", "reboot.event", 1);
        int at = raw_field(L, t, "auth");
        if (at != LUA_TNIL && at != LUA_TBOOLEAN)
            invalid(L, job, "reboot.auth: expected true or false");
        v->reboot_auth = lua_toboolean(L, -1);
        lua_pop(L, 1);
    } else if (type != LUA_TNIL) {
        invalid(L, job, "reboot: expected a table { event =, auth = }");
    }
    lua_pop(L, 1);
}

/* provisioning = { url =, dhcp_option_66 =, notes = } (profile version 2): what an admin sets
 * on the phone; {server} is filled in by the API, anything else is the phone's own macro. */
static void load_provisioning(lua_State *L, struct load_job *job, int top)
{
    static const char *const prov_fields[] = {"url", "dhcp_option_66", "notes", NULL};
    struct ztpd_vendor *v = job->v;
    int type = raw_field(L, top, "provisioning");
    if (type == LUA_TTABLE) {
        int t = lua_gettop(L);
        check_keys(L, job, t, prov_fields, "provisioning.");
        v->prov_url = string_field(L, job, t, "url", "provisioning.url", 1);
        v->prov_dhcp66 =
            string_field(L, job, t, "dhcp_option_66", "provisioning.dhcp_option_66", 0);
        v->prov_notes = string_field(L, job, t, "notes", "provisioning.notes", 0);
    } else if (type != LUA_TNIL) {
        invalid(L, job, "provisioning: expected a table { url =, dhcp_option_66 =, notes = }");
    }
    lua_pop(L, 1);
}

static void validate(lua_State *L, struct load_job *job, int top)
{
    struct ztpd_vendor *v = job->v;

    check_keys(L, job, top, top_fields, "");

    v->name = string_field(L, job, top, "name", "name", 1);
    if (!ident_chars(v->name, strlen(v->name), "_"))
        invalid(L, job, "name: must be lowercase letters, digits and _");
    if (strcmp(v->name, job->stem))
        invalid(L, job, "name: \"%s\" must equal the file name \"%s\"", v->name, job->stem);
    v->label = string_field(L, job, top, "label", "label", 1);
    v->mac_variable = string_field(L, job, top, "mac_variable", "mac_variable", 1);

    char *fmt = string_field(L, job, top, "format", "format", 1);
    int f = ztpd_tpl_format_parse(fmt);
    int ok = f == ZTPD_FMT_INI || f == ZTPD_FMT_XML;
    free(fmt);
    if (!ok)
        invalid(L, job, "format: expected \"ini\" or \"xml\"");
    v->format = (enum ztpd_tpl_format)f;

    v->content_type = string_field(L, job, top, "content_type", "content_type", 0);
    if (!v->content_type) {
        const char *ct = v->format == ZTPD_FMT_XML ? "application/xml" : "text/plain";
        v->content_type = dup_mem(L, job, ct, strlen(ct));
    }
    v->template_ext = string_field(L, job, top, "template_ext", "template_ext", 0);
    if (v->template_ext && !ident_chars(v->template_ext, strlen(v->template_ext), ""))
        invalid(L, job, "template_ext: expected lowercase letters and digits, such as \"cfg\"");
    if (!v->template_ext) {
        const char *ext = v->format == ZTPD_FMT_XML ? "xml" : "cfg";
        v->template_ext = dup_mem(L, job, ext, strlen(ext));
    }

    load_models(L, job, top);
    load_files(L, job, top);
    load_oui(L, job, top);
    load_detect(L, job, top);
    load_reboot(L, job, top);
    load_provisioning(L, job, top);

    int pt = raw_field(L, top, "prepare");
    if (pt == LUA_TFUNCTION) {
        v->prepare_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        if (pt != LUA_TNIL)
            invalid(L, job, "prepare: expected a function(ctx)");
        lua_pop(L, 1);
    }
}

/* Runs inside ztpd_lua_pcall(): loading, the file's top level and validation all happen under
 * the budget and the memory cap, and any failure unwinds to one place. */
static int load_cb(lua_State *L)
{
    struct load_job *job = lua_touserdata(L, 1);
    if (luaL_loadfilex(L, job->path, "t") != LUA_OK)
        return lua_error(L);
    ztpd_lua_push_sandbox(job->lua);
    /* The file's own copy of ztpd says which profile fields this loader reads, so one vendor
     * file can serve older and newer daemons. */
    lua_pushliteral(L, "ztpd");
    if (lua_rawget(L, -2) == LUA_TTABLE) {
        lua_pushinteger(L, ZTPD_VENDOR_PROFILE_VERSION);
        lua_setfield(L, -2, "profile_version");
    }
    lua_pop(L, 1);
    /* A main chunk's only upvalue is _ENV: the file's globals live in its own table. */
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TTABLE) {
        job->invalid = 1;
        lua_pushfstring(L, "expected the file to return a table, got %s", luaL_typename(L, -1));
        return lua_error(L);
    }
    validate(L, job, lua_gettop(L));
    return 0;
}

static void stem_of(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".lua"))
        n -= 4;
    snprintf(out, len, "%.*s", (int)n, base);
}

int ztpd_vendor_load_file(struct ztpd_vendor **out, struct ztpd_lua *lua, const char *path,
                          char *err, size_t errlen)
{
    struct load_job job = {.lua = lua, .path = path};
    stem_of(path, job.stem, sizeof job.stem);
    job.v = calloc(1, sizeof *job.v);
    if (!job.v || !(job.v->file = strdup(path))) {
        free(job.v);
        snprintf(err, errlen, "%s: out of memory", path);
        return ZTPD_ENOMEM;
    }
    job.v->prepare_ref = job.v->detect_ref = LUA_NOREF;
    job.v->http_ua_ref = job.v->sip_ua_ref = LUA_NOREF;

    lua_State *L = ztpd_lua_state(lua);
    char msg[1024];
    lua_pushcfunction(L, load_cb);
    lua_pushlightuserdata(L, &job);
    int rc = ztpd_lua_pcall(lua, 1, 0, msg, sizeof msg);
    if (rc == 0) {
        *out = job.v;
        return 0;
    }
    ztpd_vendor_free(job.v, lua);
    LOG_D("vendors", "%s: %s", path, msg);
    if (job.nomem) {
        snprintf(err, errlen, "%s: out of memory", path);
        return ZTPD_ENOMEM;
    }
    format_error(err, errlen, path, msg);
    return job.invalid ? ZTPD_EINVAL : ZTPD_ELUA;
}

void ztpd_vendor_free(struct ztpd_vendor *v, struct ztpd_lua *lua)
{
    if (!v)
        return;
    if (lua) {
        lua_State *L = ztpd_lua_state(lua);
        luaL_unref(L, LUA_REGISTRYINDEX, v->prepare_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, v->detect_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, v->http_ua_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, v->sip_ua_ref);
    }
    for (size_t i = 0; i < v->n_oui; i++)
        free(v->oui[i]);
    free(v->oui);
    for (size_t i = 0; i < v->n_files; i++) {
        free(v->files[i].match);
        free(v->files[i].template);
        pat_free(v->files[i].pat);
    }
    free(v->files);
    for (size_t i = 0; i < v->n_models; i++) {
        free(v->models[i].id);
        free(v->models[i].label);
        free(v->models[i].common_id);
    }
    free(v->models);
    free(v->name);
    free(v->label);
    free(v->file);
    free(v->mac_variable);
    free(v->content_type);
    free(v->template_ext);
    free(v->reboot_event);
    free(v->prov_url);
    free(v->prov_dhcp66);
    free(v->prov_notes);
    free(v->http_ua_pattern);
    free(v->sip_ua_pattern);
    free(v);
}

void ztpd_vendors_free(struct ztpd_vendors *vs, struct ztpd_lua *lua)
{
    if (!vs)
        return;
    for (size_t i = 0; i < vs->n; i++)
        ztpd_vendor_free(vs->items[i], lua);
    free(vs->items);
    free(vs);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int vendor_cmp(const void *a, const void *b)
{
    const struct ztpd_vendor *x = *(struct ztpd_vendor *const *)a;
    const struct ztpd_vendor *y = *(struct ztpd_vendor *const *)b;
    return strcmp(x->name, y->name);
}

/* The *.lua names in dir, sorted so loading (and its log) is the same on every run. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? ZTPD_ENOENT : ZTPD_EIO;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        /* dot files are editor droppings (.#x.lua), not vendors */
        if (e->d_name[0] == '.' || len <= 4 || strcmp(e->d_name + len - 4, ".lua"))
            continue;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = ZTPD_ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[cnt] = strdup(e->d_name))) {
            rc = ZTPD_ENOMEM;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc) {
        while (cnt)
            free(v[--cnt]);
        free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, name_cmp);
    *names = v;
    *n = cnt;
    return 0;
}

/* Adds v to vs, replacing a vendor of the same name (a later directory wins). */
static int vendors_put(struct ztpd_vendors *vs, size_t *cap, struct ztpd_vendor *v,
                       struct ztpd_lua *lua)
{
    for (size_t i = 0; i < vs->n; i++) {
        if (!strcmp(vs->items[i]->name, v->name)) {
            LOG_I("vendors", "%s overrides %s", v->file, vs->items[i]->file);
            ztpd_vendor_free(vs->items[i], lua);
            vs->items[i] = v;
            return 0;
        }
    }
    if (vs->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct ztpd_vendor **ni = realloc(vs->items, ncap * sizeof *ni);
        if (!ni)
            return ZTPD_ENOMEM;
        vs->items = ni;
        *cap = ncap;
    }
    vs->items[vs->n++] = v;
    return 0;
}

int ztpd_vendors_load(struct ztpd_vendors **out, struct ztpd_lua *lua, const char *const *dirs)
{
    struct ztpd_vendors *vs = calloc(1, sizeof *vs);
    size_t cap = 0;
    if (!vs)
        return ZTPD_ENOMEM;
    for (; dirs && *dirs; dirs++) {
        char **names = NULL;
        size_t n = 0;
        int rc = list_dir(*dirs, &names, &n);
        if (rc) {
            LOG_W("vendors", "%s: cannot read the directory: %s", *dirs, ztpd_strerror(rc));
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            char path[4096], err[1024];
            struct ztpd_vendor *v = NULL;
            snprintf(path, sizeof path, "%s/%s", *dirs, names[i]);
            free(names[i]);
            rc = ztpd_vendor_load_file(&v, lua, path, err, sizeof err);
            if (rc) {
                LOG_W("vendors", "skipped: %s", err);
                continue;
            }
            if (vendors_put(vs, &cap, v, lua)) {
                ztpd_vendor_free(v, lua);
                LOG_E("vendors", "%s: out of memory", path);
            }
        }
        free(names);
    }
    if (vs->n == 0) {
        ztpd_vendors_free(vs, lua);
        return ZTPD_ENOENT;
    }
    qsort(vs->items, vs->n, sizeof *vs->items, vendor_cmp);
    for (size_t i = 0; i < vs->n; i++)
        LOG_D("vendors", "loaded %s (%zu models) from %s", vs->items[i]->name,
              vs->items[i]->n_models, vs->items[i]->file);
    *out = vs;
    return 0;
}

const struct ztpd_vendor *ztpd_vendors_find(const struct ztpd_vendors *vs, const char *name)
{
    if (!vs || !name)
        return NULL;
    for (size_t i = 0; i < vs->n; i++)
        if (!strcasecmp(vs->items[i]->name, name))
            return vs->items[i];
    return NULL;
}

const struct ztpd_vendor_model *ztpd_vendor_model(const struct ztpd_vendor *v, const char *id)
{
    if (!v || !id)
        return NULL;
    for (size_t i = 0; i < v->n_models; i++)
        if (!strcasecmp(v->models[i].id, id))
            return &v->models[i];
    return NULL;
}

/* ---- prepare ---- */

struct prep_job {
    const struct ztpd_vendor *v;
    struct ztpd_tpl_ctx *ctx;
    int nomem;
};

/* luaL_error() with the noreturn the compiler needs to see (see invalid()). */
static _Noreturn void prep_fail(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void prep_fail(lua_State *L, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lua_pushstring(L, buf);
    lua_error(L);
    __builtin_unreachable();
}

static int var_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static void set_scalar(lua_State *L, struct prep_job *job, struct ztpd_tpl_ctx *ctx,
                       const char *name, const char *s, size_t n)
{
    if (ztpd_tpl_ctx_setn(ctx, name, s, n))
        nomem(L, &job->nomem);
}

/* Writes the table at t into ctx: strings, numbers and booleans ("1"/"0", which sections read
 * as true/false) become scalars; arrays of tables become lists of item scopes. */
static void write_back(lua_State *L, struct prep_job *job, int t, struct ztpd_tpl_ctx *ctx,
                       int depth)
{
    char kb[80], num[64];
    luaL_checkstack(L, 6, "prepare result too deeply nested");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int val = lua_gettop(L);
        size_t klen = 0;
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
        if (!key || !var_name_ok(key, klen))
            prep_fail(L, "prepare: %s: variable names are letters, digits and _",
                      key_text(L, -2, kb, sizeof kb));
        switch (lua_type(L, val)) {
        case LUA_TSTRING: {
            size_t n;
            const char *s = lua_tolstring(L, val, &n);
            set_scalar(L, job, ctx, key, s, n);
            break;
        }
        case LUA_TNUMBER:
            if (lua_isinteger(L, val))
                snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, val));
            else if (lua_tonumber(L, val) == (double)(long long)lua_tonumber(L, val))
                /* 3600.0 (from a division) belongs in a config file as 3600 */
                snprintf(num, sizeof num, "%lld", (long long)lua_tonumber(L, val));
            else
                snprintf(num, sizeof num, "%.14g", (double)lua_tonumber(L, val));
            set_scalar(L, job, ctx, key, num, strlen(num));
            break;
        case LUA_TBOOLEAN:
            set_scalar(L, job, ctx, key, lua_toboolean(L, val) ? "1" : "0", 1);
            break;
        case LUA_TTABLE: {
            long n = array_len(L, val);
            if (n == 0) {
                /* an empty list: no items, so {{#name}} shows nothing and {{^name}} shows */
                set_scalar(L, job, ctx, key, "", 0);
                break;
            }
            if (n < 0)
                prep_fail(L, "prepare: %s: expected a scalar or an array of tables", key);
            if (depth >= MAX_NEST)
                prep_fail(L, "prepare: %s: lists nested too deeply", key);
            for (long i = 1; i <= n; i++) {
                if (lua_rawgeti(L, val, i) != LUA_TTABLE)
                    prep_fail(L, "prepare: %s[%ld]: expected a table of variables", key, i);
                struct ztpd_tpl_ctx *item = ztpd_tpl_ctx_add_item(ctx, key);
                if (!item)
                    nomem(L, &job->nomem);
                write_back(L, job, lua_gettop(L), item, depth + 1);
                lua_pop(L, 1);
            }
            break;
        }
        default:
            prep_fail(L, "prepare: %s: cannot use a %s value in a template", key,
                      luaL_typename(L, val));
        }
        lua_pop(L, 1);
    }
}

static int prepare_cb(lua_State *L)
{
    struct prep_job *job = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, job->v->prepare_ref);
    int fn = lua_gettop(L);
    lua_newtable(L);
    int t = lua_gettop(L);
    for (const char *const *n = ztpd_vendor_ctx_names; *n; n++) {
        const char *val = ztpd_tpl_ctx_get(job->ctx, *n);
        if (val) {
            lua_pushstring(L, val);
            lua_setfield(L, t, *n);
        }
    }
    lua_pushvalue(L, fn);
    lua_pushvalue(L, t);
    lua_call(L, 1, 1);
    int res = lua_gettop(L);
    if (lua_isnil(L, res))
        res = t; /* prepare() changed the table in place */
    else if (!lua_istable(L, res))
        prep_fail(L, "prepare: must return a table or nothing, got %s", luaL_typename(L, res));
    write_back(L, job, res, job->ctx, 0);
    return 0;
}

int ztpd_vendor_prepare(const struct ztpd_vendor *v, struct ztpd_lua *lua, struct ztpd_tpl_ctx *ctx,
                        char *err, size_t errlen)
{
    if (!v || v->prepare_ref == LUA_NOREF || v->prepare_ref == LUA_REFNIL)
        return 0;
    struct prep_job job = {.v = v, .ctx = ctx};
    lua_State *L = ztpd_lua_state(lua);
    char msg[1024];
    lua_pushcfunction(L, prepare_cb);
    lua_pushlightuserdata(L, &job);
    int rc = ztpd_lua_pcall(lua, 1, 0, msg, sizeof msg);
    if (rc == 0)
        return 0;
    LOG_D("vendors", "%s: prepare: %s", v->file, msg);
    if (job.nomem) {
        snprintf(err, errlen, "%s: prepare: out of memory", v->file);
        return ZTPD_ENOMEM;
    }
    format_error(err, errlen, v->file, msg);
    return ZTPD_ELUA;
}
