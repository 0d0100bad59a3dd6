#include "lua/engine.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "util/error.h"

#define DEFAULT_BUDGET 10000000L
/* The hook fires every HOOK_STEP instructions: often enough to stop a loop within a fraction
 * of a millisecond past the budget, rarely enough to cost nothing measurable. */
#define HOOK_STEP 1000
/* Allocation cap while Lua code runs, so string.rep("x", 1e12) fails in the script instead of
 * taking the daemon down. */
#define DEFAULT_MEMORY_LIMIT ((size_t)256 << 20)
#define BUDGET_MSG "instruction budget exceeded"

struct ztpd_lua {
    lua_State *L;
    long budget;
    long used;    /* instructions counted in the current outermost call */
    int depth;    /* nesting of ztpd_lua_pcall(): the budget covers the outermost call */
    int exceeded; /* set once the budget is spent; every later hook raises again */
    size_t mem_used, mem_limit;
    int safe_ref; /* registry: the read-only table of safe globals (the sandboxes' __index) */
    int libs_ref; /* registry: { string = {...}, ... }: safe libraries, copied per sandbox */
    int mt_ref;   /* registry: the protected metatable every sandbox shares */
};

static struct ztpd_lua *self_of(lua_State *L)
{
    return *(struct ztpd_lua **)lua_getextraspace(L);
}

/* Counts bytes and refuses growth past the cap, but only inside ztpd_lua_pcall(): a failure
 * outside a protected call would make Lua panic, and the core's own allocations are bounded. */
static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct ztpd_lua *self = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        self->mem_used -= old;
        return NULL;
    }
    if (nsize > old && self->depth > 0 && self->mem_limit &&
        self->mem_used - old + nsize > self->mem_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    self->mem_used = self->mem_used - old + nsize;
    return p;
}

static int hook_step(const struct ztpd_lua *self)
{
    return self->budget < HOOK_STEP ? (int)self->budget : HOOK_STEP;
}

/* Coroutines inherit this hook from the thread that creates them, so one counter covers every
 * thread. Once the budget is spent the hook fires on every instruction: a script that catches
 * the error with pcall() gets it again at its very next instruction outside the pcall. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct ztpd_lua *self = self_of(L);
    if (self->depth == 0) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, hook_step(self));
        return;
    }
    if (!self->exceeded) {
        self->used += hook_step(self);
        if (self->used < self->budget)
            return;
        self->exceeded = 1;
    }
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 0);
    lua_pushliteral(L, BUDGET_MSG);
    lua_concat(L, 2);
    lua_error(L);
}

/* Message handler: the error text plus a traceback. It runs no Lua code (no __tostring), so a
 * hostile error object cannot escape the budget from inside the handler. */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* print() goes to the log: the daemon's stdout is not a place for scripts to write. */
static int l_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    LOG_I("lua", "%s", lua_tostring(L, -1));
    return 0;
}

/* Offsets from UTC allowed by ztpd.utc_offset_minutes(): UTC-12:00 to UTC+14:00. */
#define UTC_OFFSET_MIN (-12 * 60)
#define UTC_OFFSET_MAX (14 * 60)

/* Raises "<where>TIMEZONE_OFFSET: <what>'<s>'", positioned at the Lua caller as error() is. */
static int offset_error(lua_State *L, const char *what, const char *s, size_t len)
{
    luaL_where(L, 1);
    lua_pushliteral(L, "TIMEZONE_OFFSET: ");
    lua_pushstring(L, what);
    lua_pushliteral(L, "'");
    lua_pushlstring(L, s, len);
    lua_pushliteral(L, "'");
    lua_concat(L, 6);
    return lua_error(L);
}

/* Matches "^%s*([+-]?)(%d%d?):(%d%d)%s*$" (whole string, C locale classes); sets *minutes. */
static int parse_hh_mm(const char *s, size_t len, long *minutes)
{
    const char *p = s, *end = s + len;
    while (p < end && isspace((unsigned char)*p))
        p++;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    long h = 0;
    int nh = 0;
    for (; nh < 2 && p < end && isdigit((unsigned char)*p); nh++)
        h = h * 10 + (*p++ - '0');
    if (nh == 0 || p == end || *p++ != ':')
        return 0;
    if (end - p < 2 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
        return 0;
    long m = (p[0] - '0') * 10 + (p[1] - '0');
    for (p += 2; p < end && isspace((unsigned char)*p); p++)
        ;
    if (p != end)
        return 0;
    *minutes = neg ? -(h * 60 + m) : h * 60 + m;
    return 1;
}

/* ztpd.utc_offset_minutes(value): value (nil means "0") as hours from UTC, "-5", "+5:30" or
 * "5.5", to whole minutes, rounded half up. The value goes through tostring() first, so numbers
 * work too. This was the Lua helper each built-in vendor carried; it keeps its behaviour:
 *   local s = tostring(value or "0")
 *   "[+-]h:mm" -> h * 60 + mm; otherwise math.floor(tonumber(s) * 60 + 0.5)
 *   error "TIMEZONE_OFFSET: expected hours such as -5 or +5:30, got '<s>'" if not a number,
 *   error "TIMEZONE_OFFSET: out of range: '<s>'" outside -12:00..+14:00. */
static int l_utc_offset_minutes(lua_State *L)
{
    size_t len;
    const char *s;
    if (lua_toboolean(L, 1)) {
        s = luaL_tolstring(L, 1, &len);
    } else {
        lua_pushliteral(L, "0");
        s = lua_tolstring(L, -1, &len);
    }

    long hm;
    double minutes;
    if (parse_hh_mm(s, len, &hm)) {
        minutes = (double)hm;
    } else {
        /* tonumber(s): the whole string, no embedded zero byte */
        if (lua_stringtonumber(L, s) != len + 1)
            return offset_error(L, "expected hours such as -5 or +5:30, got ", s, len);
        if (lua_isinteger(L, -1)) {
            /* Lua integer arithmetic wraps around; so does the Lua original. */
            lua_Integer h = (lua_Integer)((lua_Unsigned)lua_tointeger(L, -1) * 60u);
            minutes = floor((double)h + 0.5);
        } else {
            double h = lua_tonumber(L, -1) * 60;
            minutes = floor(h + 0.5);
        }
        lua_pop(L, 1);
    }
    if (!(minutes >= UTC_OFFSET_MIN && minutes <= UTC_OFFSET_MAX))
        return offset_error(L, "out of range: ", s, len);
    lua_pushinteger(L, (lua_Integer)minutes);
    return 1;
}

/* The `ztpd` table: helpers for vendor files, copied per sandbox like string and table. */
static int open_ztpd_lib(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"utc_offset_minutes", l_utc_offset_minutes},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}

static const char *const base_names[] = {
    "assert", "error",        "ipairs",       "next",     "pairs",    "pcall",    "rawequal",
    "rawget", "rawlen",       "rawset",       "select",   "tonumber", "tostring", "type",
    "xpcall", "getmetatable", "setmetatable", "_VERSION", NULL,
};

struct lib_spec {
    const char *name;
    lua_CFunction open;
    const char *const *only; /* NULL = every field except those in `except` */
    const char *const *except;
};

static const char *const os_only[] = {"time", "date", "clock", NULL};
/* string.dump only makes sense with binary chunks, which the sandbox cannot load. */
static const char *const string_except[] = {"dump", NULL};

static const struct lib_spec libs[] = {
    {LUA_STRLIBNAME, luaopen_string, NULL, string_except},
    {LUA_TABLIBNAME, luaopen_table, NULL, NULL},
    {LUA_MATHLIBNAME, luaopen_math, NULL, NULL},
    {LUA_UTF8LIBNAME, luaopen_utf8, NULL, NULL},
    {LUA_OSLIBNAME, luaopen_os, os_only, NULL},
    {"ztpd", open_ztpd_lib, NULL, NULL},
};

static int in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (!strcmp(*list, name))
            return 1;
    return 0;
}

/* Leaves on the stack a copy of the library on top holding only the allowed fields. */
static void filter_lib(lua_State *L, const struct lib_spec *spec)
{
    int src = lua_gettop(L);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int keep = k && (spec->only ? in_list(spec->only, k) : !in_list(spec->except, k));
        if (keep) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, src + 1);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_remove(L, src);
}

/* Pushes a shallow copy of the table at idx. */
static void push_copy(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

/* Builds the safe globals, the per-sandbox library set and the sandbox metatable, and strips
 * the state's real globals down to the same safe set (the console and hooks share them). */
static int setup_state(lua_State *L)
{
    struct ztpd_lua *self = lua_touserdata(L, 1);

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    int g = lua_gettop(L);

    lua_newtable(L); /* safe */
    int safe = lua_gettop(L);
    for (const char *const *n = base_names; *n; n++) {
        lua_getfield(L, g, *n);
        lua_setfield(L, safe, *n);
    }
    lua_pushcfunction(L, l_print);
    lua_setfield(L, safe, "print");

    lua_newtable(L); /* libs */
    int libt = lua_gettop(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 0);
        filter_lib(L, &libs[i]);
        /* package.loaded must not keep the full os library reachable from anywhere. */
        lua_pushvalue(L, -1);
        lua_setfield(L, loaded, libs[i].name);
        lua_setfield(L, libt, libs[i].name);
    }
    lua_pop(L, 1); /* loaded */

    /* The real globals: clear them, then refill with the safe set and shared safe libraries. */
    lua_pushnil(L);
    while (lua_next(L, g)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, g);
    }
    lua_pushnil(L);
    while (lua_next(L, safe)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, g);
    }
    /* Copies, not the sandbox originals: code running in the real globals (the console) may
     * change its string table without changing what later sandboxes start from. */
    lua_pushnil(L);
    while (lua_next(L, libt)) {
        lua_pushvalue(L, -2);
        push_copy(L, -2);
        lua_rawset(L, g);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, g);
    lua_setfield(L, g, LUA_GNAME);

    /* getmetatable("").__index is the real string table: hide the metatable so no script can
     * change string methods for every other script. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    lua_newtable(L); /* sandbox metatable */
    lua_pushvalue(L, safe);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    self->mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_pushvalue(L, libt);
    self->libs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, safe);
    self->safe_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int ztpd_lua_new(struct ztpd_lua **out)
{
    struct ztpd_lua *self = calloc(1, sizeof *self);
    if (!self)
        return ZTPD_ENOMEM;
    self->budget = DEFAULT_BUDGET;
    self->mem_limit = DEFAULT_MEMORY_LIMIT;
    self->safe_ref = self->libs_ref = self->mt_ref = LUA_NOREF;
    self->L = lua_newstate(lua_alloc, self);
    if (!self->L) {
        free(self);
        return ZTPD_ENOMEM;
    }
    *(struct ztpd_lua **)lua_getextraspace(self->L) = self;
    lua_pushcfunction(self->L, setup_state);
    lua_pushlightuserdata(self->L, self);
    if (lua_pcall(self->L, 1, 0, 0) != LUA_OK) {
        LOG_E("lua", "cannot set up the Lua state: %s", lua_tostring(self->L, -1));
        lua_close(self->L);
        free(self);
        return ZTPD_ENOMEM;
    }
    lua_sethook(self->L, count_hook, LUA_MASKCOUNT, hook_step(self));
    *out = self;
    return 0;
}

void ztpd_lua_free(struct ztpd_lua *self)
{
    if (!self)
        return;
    lua_close(self->L);
    free(self);
}

void *ztpd_lua_state(struct ztpd_lua *self)
{
    return self->L;
}

/* 0 or less restores the default: running Lua without any budget is never what we want. */
void ztpd_lua_set_budget(struct ztpd_lua *self, long instructions)
{
    self->budget = instructions > 0 ? instructions : DEFAULT_BUDGET;
    lua_sethook(self->L, count_hook, LUA_MASKCOUNT, hook_step(self));
}

void ztpd_lua_set_memory_limit(struct ztpd_lua *self, size_t bytes)
{
    self->mem_limit = bytes;
}

size_t ztpd_lua_memory_used(const struct ztpd_lua *self)
{
    return self->mem_used;
}

int ztpd_lua_pcall(struct ztpd_lua *self, int nargs, int nresults, char *err, size_t errlen)
{
    lua_State *L = self->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);

    int outer = self->depth == 0;
    if (outer) {
        self->used = 0;
        self->exceeded = 0;
        lua_sethook(L, count_hook, LUA_MASKCOUNT, hook_step(self));
    }
    self->depth++;
    int rc = lua_pcall(L, nargs, nresults, base);
    self->depth--;
    int exceeded = self->exceeded;
    if (outer) {
        self->exceeded = 0;
        lua_sethook(L, count_hook, LUA_MASKCOUNT, hook_step(self));
    }
    lua_remove(L, base);
    if (rc == LUA_OK)
        return 0;

    const char *msg = lua_tostring(L, -1);
    if (rc == LUA_ERRMEM)
        msg = "not enough memory (Lua memory limit reached)";
    else if (exceeded && (!msg || !strstr(msg, BUDGET_MSG)))
        msg = BUDGET_MSG; /* e.g. the handler itself was stopped: keep the real cause */
    else if (!msg)
        msg = "unknown Lua error";
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    lua_pop(L, 1);
    return ZTPD_ELUA;
}

void ztpd_lua_push_sandbox(struct ztpd_lua *self)
{
    lua_State *L = self->L;
    lua_newtable(L);
    int env = lua_gettop(L);
    /* Each file gets its own copy of string/table/math/utf8/os, so `string.x = f` in one file
     * changes nothing for another; the functions themselves are immutable and shared. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, self->libs_ref);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        push_copy(L, -2);
        lua_rawset(L, env);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, env);
    lua_setfield(L, env, LUA_GNAME);
    lua_rawgeti(L, LUA_REGISTRYINDEX, self->mt_ref);
    lua_setmetatable(L, env);
}
