/* The daemon's one Lua 5.4 state (loop thread only). Every entry into Lua goes through
 * ztpd_lua_pcall(), which adds a traceback and arms the instruction budget, so a runaway
 * script is stopped with an error instead of hanging the loop. */
#ifndef ZTPD_LUA_ENGINE_H
#define ZTPD_LUA_ENGINE_H

#include <stddef.h>

struct ztpd_lua;

/* Creates the state with the safe standard libraries (base without dofile/loadfile,
 * string, table, math, utf8, os.time/date/clock only) and the `ztpd` helper table
 * (ztpd.utc_offset_minutes). *out owned by the caller. */
int ztpd_lua_new(struct ztpd_lua **out);
/* Closes the state (NULL is fine). */
void ztpd_lua_free(struct ztpd_lua *L);

/* The raw lua_State*, as void* so callers need not include lua.h. */
void *ztpd_lua_state(struct ztpd_lua *L);

/* Instruction budget per call (default 10 million VM instructions). */
void ztpd_lua_set_budget(struct ztpd_lua *L, long instructions);

/* Caps the bytes the state may hold while a ztpd_lua_pcall() runs (default 256 MiB; 0 = no cap).
 * A script that needs more gets a "not enough memory" error instead of exhausting the host. */
void ztpd_lua_set_memory_limit(struct ztpd_lua *L, size_t bytes);
/* Bytes currently allocated by the state (for diagnostics and the metrics page). */
size_t ztpd_lua_memory_used(const struct ztpd_lua *L);

/* Calls the function pushed before its nargs arguments (the lua_pcall convention), with a
 * traceback message handler and the budget armed; nested calls share the outermost budget.
 * On error returns ZTPD_ELUA, copies the message (with traceback) to err and pops it. */
int ztpd_lua_pcall(struct ztpd_lua *L, int nargs, int nresults, char *err, size_t errlen);

/* Pushes a new sandbox environment table (fresh per file: safe globals only, writes stay in it). */
void ztpd_lua_push_sandbox(struct ztpd_lua *L);

#endif
