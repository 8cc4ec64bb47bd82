/*
 * runner.c — runs a Lua test file in the sandbox a targeting hook lives in.
 *
 *   make build/luarun    (t/lua/runner.c and the Makefile's LUARUN_SRCS)
 *   build/luarun [-b INSTRUCTIONS] [-t MS] [-m MB] ROOT t/lua/test_util.lua
 *
 * The sandbox is nginx's own, src/ngx_cx_lua_sandbox.c, not a copy: the
 * same allow-listed environment (no xpcall, no rawset, no io, ...), the
 * same read-only library tables, the same string and table functions that
 * charge their work and patterns that count their steps, the same count
 * hook, deadline and memory cap.  Only the limits differ, since a test
 * file is one long call where a hook is many short ones: by default
 * 10^10 instructions (-b), 600000 ms (-t) and 1024 MB (-m).  require "a.b"
 * loads ROOT/lua/a/b.lua, else ROOT/t/lua/lib/a/b.lua (the tests' own
 * modules), as nginx does from cx_lua_package_path: a module gets exactly
 * a hook's environment.
 *
 * The test file's own environment (a fresh one over the base, as a
 * hook's) gets three more globals, for the test's report and comparisons:
 *
 *   print           LuaJIT's
 *   luajit_string   LuaJIT's own rep, upper, lower, reverse, sub, format,
 *                   find, match, gmatch and gsub (read-only), for
 *                   t/lua/test_bytes.lua and t/lua/test_pattern.lua
 *   luajit_table    LuaJIT's own concat, sort, insert and remove
 *
 * Exit status: 0 if the test file ran to its end without error, 1 if it
 * raised one (printed with a traceback), 2 on usage or load errors.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "ngx_cx_lua_sandbox.h"


static const char  *string_own[] = {
    "rep", "upper", "lower", "reverse", "sub", "format",
    "find", "match", "gmatch", "gsub", NULL
};

static const char  *table_own[] = {
    "concat", "sort", "insert", "remove", NULL
};


/* Pushes a read-only table of LuaJIT's own functions of the global lib. */
static void
push_own(lua_State *L, const char *lib, const char **names)
{
    lua_newtable(L);
    lua_getglobal(L, lib);

    for (; *names; names++) {
        lua_getfield(L, -1, *names);
        lua_setfield(L, -3, *names);
    }

    lua_pop(L, 1);
    ngx_cx_lua_sandbox_readonly(L);
}


static int
traceback(lua_State *L)
{
    const char  *msg = lua_tostring(L, 1);

    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}


static int
usage(const char *name)
{
    fprintf(stderr, "usage: %s [-b INSTRUCTIONS] [-t MS] [-m MB] "
            "ROOT TEST.lua\n", name);
    return 2;
}


/*
 * Loads the test file; its environment gets the test's extras, kept in
 * the registry at refs[0..2]: print, luajit_string, luajit_table.
 */
static int
load_test(lua_State *L, const char *path, const int *refs)
{
    char    *src;
    size_t   len;
    int      rc;

    src = ngx_cx_lua_sandbox_read(path, &len);
    if (src == NULL) {
        fprintf(stderr, "luarun: cannot read %s: %s\n", path,
                strerror(errno));
        return -1;
    }

    lua_pushfstring(L, "@%s", path);
    rc = ngx_cx_lua_sandbox_load(L, src, len, lua_tostring(L, -1));
    free(src);
    lua_remove(L, -2);

    if (rc != 0) {
        fprintf(stderr, "luarun: %s\n", lua_tostring(L, -1));
        return -1;
    }

    lua_getfenv(L, -1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, refs[0]);
    lua_setfield(L, -2, "print");
    lua_rawgeti(L, LUA_REGISTRYINDEX, refs[1]);
    lua_setfield(L, -2, "luajit_string");
    lua_rawgeti(L, LUA_REGISTRYINDEX, refs[2]);
    lua_setfield(L, -2, "luajit_table");
    lua_pop(L, 1);

    return 0;
}


int
main(int argc, char **argv)
{
    int          rc, opt, refs[3];
    char        *dir;
    double       budget, ms, mb;
    size_t       len;
    lua_State   *L;

    budget = 1e10;
    ms = 600000;
    mb = 1024;

    while ((opt = getopt(argc, argv, "b:t:m:")) != -1) {
        switch (opt) {
        case 'b': budget = atof(optarg); break;
        case 't': ms = atof(optarg); break;
        case 'm': mb = atof(optarg); break;
        default: return usage(argv[0]);
        }
    }

    if (argc - optind != 2 || budget < 1 || ms < 1 || mb < 1) {
        return usage(argv[0]);
    }

    L = ngx_cx_lua_sandbox_open((size_t) (mb * 1024 * 1024),
                                (uintptr_t) budget, (uint64_t) (ms * 1000));
    if (L == NULL) {
        fprintf(stderr, "luarun: cannot create a Lua state\n");
        return 2;
    }

    /* LuaJIT's own, before the sandbox puts its wrappers over them */
    lua_getglobal(L, "print");
    refs[0] = luaL_ref(L, LUA_REGISTRYINDEX);
    push_own(L, "string", string_own);
    refs[1] = luaL_ref(L, LUA_REGISTRYINDEX);
    push_own(L, "table", table_own);
    refs[2] = luaL_ref(L, LUA_REGISTRYINDEX);

    /* require "a.b": ROOT/lua/a/b.lua, else the tests' ROOT/t/lua/lib/ */
    len = strlen(argv[optind]);
    dir = malloc(len + sizeof("/t/lua/lib"));
    if (dir == NULL) {
        return 2;
    }

    memcpy(dir, argv[optind], len);
    memcpy(dir + len, "/lua", sizeof("/lua"));
    rc = ngx_cx_lua_sandbox_add_path(dir, len + 4);
    memcpy(dir + len, "/t/lua/lib", sizeof("/t/lua/lib"));
    rc |= ngx_cx_lua_sandbox_add_path(dir, len + 10);
    free(dir);

    if (rc != 0) {
        return 2;
    }

    ngx_cx_lua_sandbox_build(L);

    lua_pushcfunction(L, traceback);

    if (load_test(L, argv[optind + 1], refs) != 0) {
        ngx_cx_lua_sandbox_close();
        return 2;
    }

    /* one call, as a hook's: the budgets and the cap hold */
    ngx_cx_lua_sandbox_start();
    rc = lua_pcall(L, 0, 0, 1);
    ngx_cx_lua_sandbox_finish(L);

    if (rc == LUA_ERRMEM) {
        fprintf(stderr, "luarun: %snot enough memory (-m)\n",
                ngx_cx_lua_sandbox.where);

    } else if (rc != 0) {
        fprintf(stderr, "luarun: %s\n", lua_tostring(L, -1));
    }

    ngx_cx_lua_sandbox_close();
    return rc == 0 ? 0 : 1;
}
