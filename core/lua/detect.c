#include "lua/detect.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "lua/engine.h"
#include "lua/vendors.h"
#include "util/mac.h"

#define MOD "detect"
/* Broken detect entries are reported this many times, then only at debug level: a phone asks
 * for its file every few seconds and a scanner far more often, so the log must not fill up. */
#define MAX_WARNINGS 20

struct match_job {
    const struct ztpd_vendor *v;
    enum ztpd_ua_kind kind;
    const char *ua;
    size_t ua_len;
    int matched;
    char cap[3][ZTPD_S_VENDOR]; /* model, firmware, MAC as given */
};

/* Copies a capture keeping printable ASCII only: it ends up in logs, JSON and the database. */
static void take_capture(lua_State *L, int idx, char *out, size_t outlen)
{
    size_t n = 0, o = 0;
    const char *s = NULL;
    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
        s = lua_tolstring(L, idx, &n);
    for (size_t i = 0; s && i < n && o + 1 < outlen; i++)
        if (s[i] >= 0x20 && s[i] < 0x7f)
            out[o++] = s[i];
    out[o] = '\0';
}

/* A detect function's answer: nil/false = no match, a table { model =, firmware =, mac = }. */
static void take_result_table(lua_State *L, struct match_job *job, int idx)
{
    static const char *const keys[] = {"model", "firmware", "mac"};
    if (!lua_toboolean(L, idx))
        return;
    if (!lua_istable(L, idx))
        luaL_error(L, "detect: expected a table { model =, firmware =, mac = } or nil, got %s",
                   luaL_typename(L, idx));
    job->matched = 1;
    for (int i = 0; i < 3; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawget(L, idx);
        take_capture(L, -1, job->cap[i], sizeof job->cap[i]);
        lua_pop(L, 1);
    }
}

/* Runs inside ztpd_lua_pcall(): one vendor against one User-Agent. */
static int match_cb(lua_State *L)
{
    struct match_job *job = lua_touserdata(L, 1);
    const struct ztpd_vendor *v = job->v;
    int ref = job->kind == ZTPD_UA_SIP ? v->sip_ua_ref : v->http_ua_ref;
    const char *pat = job->kind == ZTPD_UA_SIP ? v->sip_ua_pattern : v->http_ua_pattern;
    const char *kind = job->kind == ZTPD_UA_SIP ? "sip" : "http";
    if (ref == LUA_NOREF && !pat)
        ref = v->detect_ref; /* detect = function(ua, kind) covers both kinds */
    if (ref != LUA_NOREF && ref != LUA_REFNIL) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_pushlstring(L, job->ua, job->ua_len);
        lua_pushstring(L, kind);
        lua_call(L, 2, 1);
        take_result_table(L, job, lua_gettop(L));
        return 0;
    }
    if (!pat)
        return 0;
    /* string.find from the pristine library (package.loaded, which no script can reach), not
     * the vendor's sandbox copy. find, unlike match, tells "no captures" from "one capture". */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_STRLIBNAME);
    lua_getfield(L, -1, "find");
    int base = lua_gettop(L);
    lua_pushlstring(L, job->ua, job->ua_len);
    lua_pushstring(L, pat);
    lua_call(L, 2, 5); /* start, end, model, firmware, mac */
    if (lua_isnil(L, base))
        return 0;
    job->matched = 1;
    for (int i = 0; i < 3; i++)
        take_capture(L, base + 2 + i, job->cap[i], sizeof job->cap[i]);
    return 0;
}

/* 1 when vendor v recognizes the User-Agent; captures in job. */
static int match_vendor(struct ztpd_lua *lua, struct match_job *job)
{
    static unsigned warnings;
    lua_State *L = ztpd_lua_state(lua);
    char err[512];
    job->matched = 0;
    memset(job->cap, 0, sizeof job->cap);
    lua_pushcfunction(L, match_cb);
    lua_pushlightuserdata(L, job);
    if (ztpd_lua_pcall(lua, 1, 0, err, sizeof err)) {
        size_t n = strcspn(err, "\n");
        if (warnings < MAX_WARNINGS) {
            warnings++;
            LOG_W(MOD, "%s: detect.%s_ua failed: %.*s", job->v->file,
                  job->kind == ZTPD_UA_SIP ? "sip" : "http", (int)n, err);
        } else {
            LOG_D(MOD, "%s: detect failed: %.*s", job->v->file, (int)n, err);
        }
        return 0;
    }
    return job->matched;
}

/* Lowercase without spaces, '_' and '-', into out. */
static void model_key(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *s && o + 1 < outlen; s++) {
        char c = *s;
        if (c == ' ' || c == '_' || c == '-')
            continue;
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[o] = '\0';
}

const char *ztpd_vendor_model_match(const struct ztpd_vendor *v, const char *name)
{
    char want[ZTPD_S_VENDOR], have[ZTPD_S_VENDOR];
    if (!v || !name)
        return NULL;
    model_key(name, want, sizeof want);
    if (!want[0])
        return NULL;
    for (size_t i = 0; i < v->n_models; i++) {
        model_key(v->models[i].id, have, sizeof have);
        if (!strcmp(want, have))
            return v->models[i].id;
    }
    return NULL;
}

static int oui_of(const struct ztpd_vendor *v, const char *mac)
{
    for (size_t i = 0; mac && strlen(mac) == ZTPD_MAC_LEN && i < v->n_oui; i++)
        if (!strncmp(v->oui[i], mac, 6))
            return 1;
    return 0;
}

const struct ztpd_vendor *ztpd_vendors_by_oui(const struct ztpd_vendors *vs, const char *mac)
{
    for (size_t i = 0; vs && i < vs->n; i++)
        if (oui_of(vs->items[i], mac))
            return vs->items[i];
    return NULL;
}

static void fill(struct ztpd_detect *out, const struct ztpd_vendor *v, const struct match_job *job)
{
    out->vendor = v;
    out->by_ua = 1;
    const char *id = ztpd_vendor_model_match(v, job->cap[0]);
    out->model_known = id != NULL;
    if (id)
        snprintf(out->model, sizeof out->model, "%s", id);
    else
        model_key(job->cap[0], out->model, sizeof out->model);
    snprintf(out->firmware, sizeof out->firmware, "%s", job->cap[1]);
    char mac[ZTPD_MAC_LEN + 1];
    if (job->cap[2][0] && !ztpd_mac_normalize(job->cap[2], strlen(job->cap[2]), mac))
        memcpy(out->mac, mac, sizeof mac);
}

int ztpd_vendors_detect(const struct ztpd_vendors *vs, struct ztpd_lua *L, enum ztpd_ua_kind kind,
                        const char *ua, const char *mac, struct ztpd_detect *out)
{
    memset(out, 0, sizeof *out);
    if (!vs)
        return 0;
    if (ua && *ua && L) {
        struct match_job job = {.kind = kind, .ua = ua, .ua_len = strnlen(ua, ZTPD_S_UA - 1)};
        int found = 0;
        for (size_t i = 0; i < vs->n; i++) {
            job.v = vs->items[i];
            if (!match_vendor(L, &job))
                continue;
            /* The first match stands unless a later one also owns the MAC's OUI. */
            if (!found || (!oui_of(out->vendor, mac) && oui_of(job.v, mac))) {
                memset(out, 0, sizeof *out);
                fill(out, job.v, &job);
            }
            found = 1;
            if (oui_of(out->vendor, mac))
                break;
        }
        if (found)
            return 1;
    }
    const struct ztpd_vendor *v = ztpd_vendors_by_oui(vs, mac);
    if (!v)
        return 0;
    out->vendor = v;
    return 1;
}
