/*
 * ngx_cx_lua_native -- cx_native, the C helpers that lua/cx/util.lua uses
 * when the host gives them (nginx's hook sandbox, and the Lua test runner,
 * so that both run the same code):
 *
 *   cx_native.number(s)   s read as cx.util.number reads a string
 *                         (ngx_cx_number_read), or nil
 *
 * Needs Lua headers, not nginx's.
 */

#ifndef NGX_CX_LUA_NATIVE_H
#define NGX_CX_LUA_NATIVE_H

#include <lua.h>


/* Pushes a new cx_native table; the caller makes it read-only. */
void ngx_cx_lua_native_push(lua_State *L);


#endif /* NGX_CX_LUA_NATIVE_H */
