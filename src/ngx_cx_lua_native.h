/*
 * ngx_cx_lua_native -- cx_native, the C helpers that lua/cx/util.lua uses
 * when the host gives them (nginx's hook sandbox, and the Lua test runner,
 * so that both run the same code):
 *
 *   cx_native.number(value, default)
 *                         cx.util.number itself: a decimal string read by
 *                         ngx_cx_number_read, a finite number as it is,
 *                         anything else the default (nil when not given)
 *
 * Needs Lua headers, not nginx's.
 */

#ifndef NGX_CX_LUA_NATIVE_H
#define NGX_CX_LUA_NATIVE_H

#include <lua.h>


/* Pushes a new cx_native table; the caller makes it read-only. */
void ngx_cx_lua_native_push(lua_State *L);


#endif /* NGX_CX_LUA_NATIVE_H */
