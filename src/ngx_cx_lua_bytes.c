/*
 * ngx_cx_lua_bytes -- see ngx_cx_lua_bytes.h.
 */

#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "ngx_cx_lua_bytes.h"


/* what a call costs, in the unit of charge(): about a byte touched */
#define ELEMENT      8      /* a table element moved */
#define COMPARISON   16     /* a comparison of table.sort */


enum {
    KIND_INPUT = 1,         /* upper, lower, reverse: the input's bytes */
    KIND_REP,               /* rep: the result's bytes and repetitions */
    KIND_RESULT,            /* sub, format, concat: the result's bytes */
    KIND_SORT,              /* sort: n log n comparisons */
    KIND_INSERT,            /* insert at a position: the elements moved */
    KIND_REMOVE             /* remove at a position: the elements moved */
};


typedef struct {
    const char  *lib;
    const char  *name;
    int          kind;
} wrapped_t;


static const wrapped_t  wrapped[] = {
    { "string", "upper", KIND_INPUT },
    { "string", "lower", KIND_INPUT },
    { "string", "reverse", KIND_INPUT },
    { "string", "rep", KIND_REP },
    { "string", "sub", KIND_RESULT },
    { "string", "format", KIND_RESULT },
    { "table", "concat", KIND_RESULT },
    { "table", "sort", KIND_SORT },
    { "table", "insert", KIND_INSERT },
    { "table", "remove", KIND_REMOVE },
    { NULL, NULL, 0 }
};


static void        (*charge)(lua_State *L, size_t work);
static const size_t *cap;
static const char   *nomem;


/* a string argument's length, as LuaJIT's would read it; 0 if none */

static size_t
str_len(lua_State *L, int i)
{
    int  t = lua_type(L, i);

    return (t == LUA_TSTRING || t == LUA_TNUMBER) ? lua_objlen(L, i) : 0;
}


/* a number argument as LuaJIT's lj_lib_checkint reads it */

static int32_t
int_arg(lua_State *L, int i, int32_t def)
{
    lua_Number  d;

    if (lua_isnoneornil(L, i) || !lua_isnumber(L, i)) {
        return def;
    }

    d = lua_tonumber(L, i);

    return (d >= -2147483648.0 && d < 2147483648.0) ? (int32_t) d
                                                    : INT32_MIN;
}


/* The work of a call known from its arguments, before it runs. */

static size_t
before(lua_State *L, int kind)
{
    double   total, n, moved;
    int32_t  k, pos, len;

    switch (kind) {

    case KIND_INPUT:
        return str_len(L, 1);

    case KIND_REP:
        k = int_arg(L, 2, 0);
        if (k <= 0) {
            return 0;
        }

        /* in doubles: the product cannot overflow */
        total = (double) str_len(L, 1) * k
                + (double) str_len(L, 3) * (k - 1);

        if (cap != NULL && total > (double) *cap) {
            luaL_error(L, "%s", nomem);
        }

        /* the repetitions, if more: rep("", 1e9) loops without a byte */
        return (size_t) (total > k ? total : k);

    case KIND_SORT:
        if (lua_type(L, 1) != LUA_TTABLE) {
            return 0;
        }

        n = (double) lua_objlen(L, 1);
        total = 0;
        for (moved = 1; moved < n; moved *= 2) {
            total += n;
        }

        return (size_t) (total * COMPARISON);

    case KIND_INSERT:
    case KIND_REMOVE:
        /* appending, or removing the last element, moves nothing */
        if (lua_type(L, 1) != LUA_TTABLE
            || lua_gettop(L) < (kind == KIND_INSERT ? 3 : 2))
        {
            return 0;
        }

        len = (int32_t) lua_objlen(L, 1);
        pos = int_arg(L, 2, len);
        moved = (pos >= 1 && pos <= len) ? (double) len - pos + 1 : 0;

        return (size_t) (moved * ELEMENT);
    }

    return 0;
}


/*
 * An error raised by LuaJIT's function, called from C here, names the
 * function "?" and has no position: the name and the hook's file:line go
 * back in, so that the message is what a direct call gives.  Errors that
 * have a position (from Lua code the function called: a comparator, a
 * __tostring) and error objects that are not strings go on as they are.
 */

static int
rethrow(lua_State *L, int rc, const char *name)
{
    size_t       len;
    const char  *msg, *p, *q;

    if (rc == LUA_ERRMEM) {
        /* past the deadline, the deadline's error says more */
        if (charge != NULL) {
            charge(L, 0);
        }

        return luaL_error(L, "%s", nomem);
    }

    if (lua_type(L, -1) != LUA_TSTRING) {
        return lua_error(L);
    }

    msg = lua_tolstring(L, -1, &len);

    /* "file:12: ...": a position already */
    p = memchr(msg, ':', len);
    if (p != NULL && p[1] >= '0' && p[1] <= '9') {
        for (p++; *p >= '0' && *p <= '9'; p++) { /* void */ }
        if (*p == ':') {
            return lua_error(L);
        }
    }

    luaL_where(L, 1);

    q = strstr(msg, "'?'");
    if (q != NULL) {
        lua_pushlstring(L, msg, q - msg);
        lua_pushfstring(L, "'%s'%s", name, q + 3);
        lua_concat(L, 3);

    } else {
        lua_pushvalue(L, -2);
        lua_concat(L, 2);
    }

    return lua_error(L);
}


/* upvalues: LuaJIT's function, its name, what kind of work it does */

static int
wrapper(lua_State *L)
{
    int     rc, n, kind;
    size_t  work;

    kind = (int) lua_tointeger(L, lua_upvalueindex(3));
    n = lua_gettop(L);

    work = before(L, kind);

    if (work && charge != NULL) {
        charge(L, work);
    }

    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);

    rc = lua_pcall(L, n, LUA_MULTRET, 0);

    if (rc != 0) {
        return rethrow(L, rc, lua_tostring(L, lua_upvalueindex(2)));
    }

    if (kind == KIND_RESULT && charge != NULL
        && lua_type(L, 1) == LUA_TSTRING)
    {
        work = lua_objlen(L, 1);
        if (work) {
            charge(L, work);
        }
    }

    return lua_gettop(L);
}


void
ngx_cx_lua_bytes_install(lua_State *L,
    void (*charge_work)(lua_State *L, size_t work), const size_t *max,
    const char *message)
{
    const wrapped_t  *w;

    charge = charge_work;
    cap = max;
    nomem = message;

    for (w = wrapped; w->lib; w++) {
        lua_getglobal(L, w->lib);
        lua_getfield(L, -1, w->name);
        lua_pushstring(L, w->name);
        lua_pushinteger(L, w->kind);
        lua_pushcclosure(L, wrapper, 3);
        lua_setfield(L, -2, w->name);
        lua_pop(L, 1);
    }
}
