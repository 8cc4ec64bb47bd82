/*
 * runner.c — runs a Lua test file in the world a targeting hook lives in.
 *
 *   gcc -std=c99 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -Isrc \
 *       t/lua/runner.c src/ngx_cx_number.c src/ngx_cx_pattern.c \
 *       src/ngx_cx_lua_pattern.c src/ngx_cx_lua_native.c \
 *       -I/usr/include/luajit-2.1 \
 *       -lluajit-5.1 -lm -o build/luarun
 *   build/luarun ROOT t/lua/test_util.lua
 *
 * One LuaJIT state with the JIT off (as in the worker), the base, string,
 * table, math and os libraries opened, and one environment holding only
 * what SPEC §7 gives a hook:
 *
 *   assert error ipairs next pairs pcall select tonumber tostring type
 *   unpack xpcall rawequal rawget rawset setmetatable getmetatable require
 *   _VERSION  string (without dump)  table  math  os (time, date, clock)
 *   cx_native (src/ngx_cx_lua_native.c, as in nginx)
 *   string.find/match/gmatch/gsub from src/ngx_cx_lua_pattern.c, as in
 *   nginx (without a budget); LuaJIT's own as luajit_string, for tests
 *   string.rep/upper/lower/reverse/sub/format, table.concat/sort/insert/
 *   remove from src/ngx_cx_lua_bytes.c, as in nginx (charging nothing);
 *   LuaJIT's own as luajit_string and luajit_table, for tests
 *
 * plus print, for the test's report.  As in src/ngx_http_cx_lua.c the
 * library tables are read-only proxies (reads go through, writes raise, the
 * metatable is locked), so code that iterates or changes them fails here
 * as it would in nginx.  No _G, io, debug, ffi, jit, bit,
 * package, load, loadstring, loadfile, dofile, coroutine, getfenv/setfenv,
 * collectgarbage.  Stricter than nginx (where every module has its own
 * environment): assigning a new global raises an error, so a module that
 * leaks one fails its test.  string.dump is removed from the real string
 * table, so ("").dump is nil as well, and getmetatable("") is locked.
 *
 * require "a.b" loads ROOT/lua/a/b.lua as text (mode "t": no bytecode) into
 * that environment, once; the module's value (true if it returns nothing)
 * is cached.  Names are letters, digits, '_' and dots.
 *
 * Exit status: 0 if the test file ran to its end without error, 1 if it
 * raised one (printed with a traceback), 2 on usage or load errors.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>

#include "ngx_cx_lua_bytes.h"
#include "ngx_cx_lua_native.h"
#include "ngx_cx_lua_pattern.h"


#define LOADED_KEY  "cx.runner.loaded"
#define ENV_KEY     "cx.runner.env"
#define MAX_FILE    (4 * 1024 * 1024)


static const char  *root;
static long         pattern_steps = LONG_MAX;


static const char  *base_names[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
    "tonumber", "tostring", "type", "unpack", "xpcall", "rawequal",
    "rawget", "rawset", "setmetatable", "getmetatable", "_VERSION", "print",
    NULL
};

static const char  *os_names[] = { "time", "date", "clock", NULL };

static const char  *string_wrapped[] = {
    "rep", "upper", "lower", "reverse", "sub", "format", NULL
};

static const char  *table_wrapped[] = {
    "concat", "sort", "insert", "remove", NULL
};


/* Reads a whole file; NULL with a message on the stack on failure. */
static char *
read_file(lua_State *L, const char *path, size_t *len)
{
    FILE    *f;
    char    *buf;
    size_t   n, cap;

    f = fopen(path, "rb");
    if (f == NULL) {
        lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }

    cap = 65536;
    n = 0;
    buf = malloc(cap);

    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);

        if (n < cap) {
            break;
        }

        if (cap >= MAX_FILE) {
            free(buf);
            fclose(f);
            lua_pushfstring(L, "%s: file too large", path);
            return NULL;
        }

        cap *= 2;
        {
            char *p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
            }
            buf = p;
        }
    }

    if (buf == NULL || ferror(f)) {
        free(buf);
        fclose(f);
        lua_pushfstring(L, "cannot read %s", path);
        return NULL;
    }

    fclose(f);
    *len = n;
    return buf;
}


/*
 * Loads a text chunk from path with the sandbox as its environment; leaves
 * the function (0) or an error message (non-zero) on the stack.
 */
static int
load_sandboxed(lua_State *L, const char *path)
{
    char    *buf;
    size_t   len;
    int      rc;

    buf = read_file(L, path, &len);
    if (buf == NULL) {
        return LUA_ERRFILE;
    }

    lua_pushfstring(L, "@%s", path);
    rc = luaL_loadbufferx(L, buf, len, lua_tostring(L, -1), "t");
    free(buf);
    lua_remove(L, -2);

    if (rc != 0) {
        return rc;
    }

    lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lua_setfenv(L, -2);
    return 0;
}


static int
sandbox_require(lua_State *L)
{
    const char  *name, *p;
    luaL_Buffer  b;

    name = luaL_checkstring(L, 1);

    for (p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
        {
            return luaL_error(L, "require: bad module name \"%s\"", name);
        }
    }

    if (*name == '\0' || *name == '.' || p[-1] == '.'
        || strstr(name, "..") != NULL)
    {
        return luaL_error(L, "require: bad module name \"%s\"", name);
    }

    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LOADED_KEY);      /* 2: loaded */
    lua_getfield(L, 2, name);

    if (lua_toboolean(L, -1)) {
        if (lua_islightuserdata(L, -1)) {
            return luaL_error(L, "require: loop while loading \"%s\"", name);
        }
        return 1;
    }

    lua_pop(L, 1);

    luaL_buffinit(L, &b);
    luaL_addstring(&b, root);
    luaL_addstring(&b, "/lua/");
    for (p = name; *p; p++) {
        luaL_addchar(&b, *p == '.' ? '/' : *p);
    }
    luaL_addstring(&b, ".lua");
    luaL_pushresult(&b);                                  /* 3: path */

    if (load_sandboxed(L, lua_tostring(L, 3)) != 0) {
        return luaL_error(L, "require \"%s\": %s", name, lua_tostring(L, -1));
    }

    lua_pushlightuserdata(L, (void *) &root);             /* loading mark */
    lua_setfield(L, 2, name);

    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        lua_pushnil(L);                       /* a later require retries */
        lua_setfield(L, 2, name);
        return lua_error(L);
    }

    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }

    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}


static int
no_new_globals(lua_State *L)
{
    return luaL_error(L, "assignment to undeclared global \"%s\"",
                      luaL_optstring(L, 2, "?"));
}


static int
read_only(lua_State *L)
{
    return luaL_error(L, "attempt to change a read-only library table");
}


/* Replaces the table on top with a read-only proxy of it. */
static void
make_read_only(lua_State *L)
{
    lua_newtable(L);                                      /* proxy */
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, read_only);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, -2);
}


/* Pushes a new table with the named fields of the table at index src. */
static void
copy_fields(lua_State *L, int src, const char **names)
{
    lua_newtable(L);

    for (; *names; names++) {
        lua_getfield(L, src, *names);
        lua_setfield(L, -2, *names);
    }
}


/* Copies the named fields of the table at src into the table at dst. */
static void
copy_into(lua_State *L, int dst, int src, const char **names)
{
    dst = (dst < 0) ? lua_gettop(L) + dst + 1 : dst;
    src = (src < 0) ? lua_gettop(L) + src + 1 : src;

    for (; *names; names++) {
        lua_getfield(L, src, *names);
        lua_setfield(L, dst, *names);
    }
}


static void
open_lib(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}


static void
build_sandbox(lua_State *L)
{
    int  g, env;

    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, luaopen_os, LUA_OSLIBNAME);

    /*
     * As in nginx, the wrappers that charge work; here nothing is counted.
     * LuaJIT's own stay reachable as luajit_string and luajit_table, so
     * that t/lua/test_bytes.lua can compare the two.
     */
    lua_createtable(L, 0, 10);                            /* g - 2 */
    lua_getglobal(L, "string");
    copy_into(L, -2, -1, string_wrapped);
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);                             /* g - 1 */
    lua_getglobal(L, "table");
    copy_into(L, -2, -1, table_wrapped);
    lua_pop(L, 1);

    ngx_cx_lua_bytes_install(L, NULL, NULL, "not enough memory");

    lua_pushvalue(L, LUA_GLOBALSINDEX);
    g = lua_gettop(L);

    copy_fields(L, g, base_names);
    env = lua_gettop(L);

    lua_pushvalue(L, g - 1);
    make_read_only(L);
    lua_setfield(L, env, "luajit_table");

    lua_pushcfunction(L, sandbox_require);
    lua_setfield(L, env, "require");

    /* no bytecode: string.dump goes, for ("").dump too */
    lua_getfield(L, g, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /*
     * As in nginx, the pattern functions are ngx_cx_pattern's, here without
     * a budget; LuaJIT's own go into luajit_string too, so that
     * t/lua/test_pattern.lua can compare the two.
     */
    lua_pushvalue(L, g - 2);
    lua_getfield(L, g, "string");
    lua_getfield(L, -1, "find");
    lua_setfield(L, -3, "find");
    lua_getfield(L, -1, "match");
    lua_setfield(L, -3, "match");
    lua_getfield(L, -1, "gmatch");
    lua_setfield(L, -3, "gmatch");
    lua_getfield(L, -1, "gsub");
    lua_setfield(L, -3, "gsub");
    ngx_cx_lua_pattern_install(L, &pattern_steps, NULL, NULL);
    lua_pop(L, 1);
    make_read_only(L);
    lua_setfield(L, env, "luajit_string");

    lua_getfield(L, g, "string");
    make_read_only(L);
    lua_setfield(L, env, "string");

    lua_getfield(L, g, "table");
    make_read_only(L);
    lua_setfield(L, env, "table");

    lua_getfield(L, g, "math");
    make_read_only(L);
    lua_setfield(L, env, "math");

    lua_getfield(L, g, "os");
    copy_fields(L, lua_gettop(L), os_names);
    lua_remove(L, -2);
    make_read_only(L);
    lua_setfield(L, env, "os");

    /* as in nginx: the C helpers of lua/cx/util.lua */
    ngx_cx_lua_native_push(L);
    make_read_only(L);
    lua_setfield(L, env, "cx_native");

    lua_newtable(L);
    lua_pushcfunction(L, no_new_globals);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, env);

    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADED_KEY);

    lua_pop(L, 3);                      /* globals, LuaJIT's two tables */
}


static int
traceback(lua_State *L)
{
    const char  *msg = lua_tostring(L, 1);

    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}


int
main(int argc, char **argv)
{
    lua_State  *L;
    int         rc;

    if (argc != 3) {
        fprintf(stderr, "usage: %s ROOT TEST.lua\n", argv[0]);
        return 2;
    }

    root = argv[1];

    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "luarun: cannot create a Lua state\n");
        return 2;
    }

    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    build_sandbox(L);

    lua_pushcfunction(L, traceback);

    if (load_sandboxed(L, argv[2]) != 0) {
        fprintf(stderr, "luarun: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 2;
    }

    rc = lua_pcall(L, 0, 0, 1);
    if (rc != 0) {
        fprintf(stderr, "luarun: %s\n", lua_tostring(L, -1));
    }

    lua_close(L);
    return rc == 0 ? 0 : 1;
}
