/*
 * ngx_cx_lua_native -- see ngx_cx_lua_native.h.
 */

#include <lua.h>

#include "ngx_cx_number.h"
#include "ngx_cx_lua_native.h"


/*
 * cx.util.number(value, default) whole: reading a header as a number is
 * the commonest work of a hook, and one C call is far cheaper than a Lua
 * function that calls C.  The rules are util.lua's (its Lua version is the
 * documented one and is tested to agree): a string of decimal digits as
 * ngx_cx_number_read reads it, a finite number as it is, else the default.
 */

static int
ngx_cx_lua_native_number(lua_State *L)
{
    size_t       len;
    double       x;
    const char  *s;

    lua_settop(L, 2);                                 /* value, default */

    switch (lua_type(L, 1)) {

    case LUA_TSTRING:
        s = lua_tolstring(L, 1, &len);

        if (ngx_cx_number_read(s, len, &x)) {
            lua_pushnumber(L, (lua_Number) x);
        }

        break;

    case LUA_TNUMBER:
        x = lua_tonumber(L, 1);

        /* not nan, not an infinity */
        if (x == x && x - x == 0) {
            lua_pushvalue(L, 1);
        }

        break;
    }

    return 1;
}


void
ngx_cx_lua_native_push(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, ngx_cx_lua_native_number);
    lua_setfield(L, -2, "number");
}
