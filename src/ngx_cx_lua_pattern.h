/*
 * ngx_cx_lua_pattern -- string.find, string.match, string.gmatch and
 * string.gsub on ngx_cx_pattern, whose steps count against a budget: the
 * hooks' sandbox installs them over LuaJIT's own (nginx, and the Lua test
 * runner), so that no pattern can hold a worker inside one C call.
 *
 * They behave as Lua 5.1's (LuaJIT's), checked against LuaJIT's own by
 * t/lua/test_pattern.lua, except that a pattern whose steps exceed the
 * budget raises "instruction budget exceeded (in a pattern)" at the
 * caller's line (or "time budget exceeded (cx_lua_time)", when refill()
 * says so).  spent(), when given, is called first: nginx uses it to
 * spend the hook's instruction budget too, so that a pcall in the hook
 * cannot go on after it.
 *
 * Needs Lua headers, not nginx's.
 */

#ifndef NGX_CX_LUA_PATTERN_H
#define NGX_CX_LUA_PATTERN_H

#include <lua.h>


/*
 * Replaces find, match, gmatch and gsub in the table on top of the stack.
 * budget: steps left, read and lowered by every match; the caller refills
 * it (per hook call).  refill: NULL, or called when budget runs out, as
 * ngx_cx_pat_t's (ngx_cx_pattern.h): nginx hands out the steps in slices
 * and looks at the call's deadline in between.
 */
void ngx_cx_lua_pattern_install(lua_State *L, long *budget,
    int (*refill)(long *budget), void (*spent)(lua_State *L));


#endif /* NGX_CX_LUA_PATTERN_H */
