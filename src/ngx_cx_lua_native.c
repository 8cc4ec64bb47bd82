/*
 * ngx_cx_lua_native -- see ngx_cx_lua_native.h.
 */

#include <lua.h>

#include "ngx_cx_number.h"
#include "ngx_cx_lua_native.h"


/* Parsing in Lua is the dearest part of a typical hook: this is one call. */

static int
ngx_cx_lua_native_number(lua_State *L)
{
    size_t       len;
    double       x;
    const char  *s;

    if (lua_type(L, 1) != LUA_TSTRING) {
        return 0;
    }

    s = lua_tolstring(L, 1, &len);

    if (!ngx_cx_number_read(s, len, &x)) {
        return 0;
    }

    lua_pushnumber(L, (lua_Number) x);

    return 1;
}


void
ngx_cx_lua_native_push(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, ngx_cx_lua_native_number);
    lua_setfield(L, -2, "number");
}
