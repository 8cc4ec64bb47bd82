/*
 * ngx_cx_lua_sandbox -- see ngx_cx_lua_sandbox.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>

#include "ngx_cx_pattern.h"
#include "ngx_cx_lua_sandbox.h"
#include "ngx_cx_lua_bytes.h"
#include "ngx_cx_lua_native.h"
#include "ngx_cx_lua_pattern.h"


#define NGX_CX_LUA_NOMEM  "not enough memory (cx_lua_memory)"


ngx_cx_lua_sandbox_t  ngx_cx_lua_sandbox;

/* an address used as a private registry key: the modules require loaded */
static char  ngx_cx_lua_loaded_key;


/*
 * No xpcall: its handler runs while the count hook is still active and
 * so escapes the budget.  No rawset: it would write through the
 * read-only proxies that every hook shares.
 */
static const char  *ngx_cx_lua_globals[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
    "tonumber", "tostring", "type", "unpack", "rawequal", "rawget",
    "setmetatable", "getmetatable", "_VERSION", NULL
};


static void *ngx_cx_lua_alloc(void *ud, void *ptr, size_t osize,
    size_t nsize);
static void ngx_cx_lua_where(const char *src, int line);
static void ngx_cx_lua_spent(lua_State *L);
static int ngx_cx_lua_refill(long *steps);
static void ngx_cx_lua_charge(lua_State *L, size_t work);
static void ngx_cx_lua_open_lib(lua_State *L, lua_CFunction f,
    const char *name);
static void ngx_cx_lua_base(lua_State *L);
static int ngx_cx_lua_readonly_error(lua_State *L);
static int ngx_cx_lua_require(lua_State *L);
static int ngx_cx_lua_require_file(lua_State *L, const char *name,
    size_t len);


lua_State *
ngx_cx_lua_sandbox_open(size_t cap, uintptr_t budget, uint64_t time)
{
    lua_State             *L;
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    sb->cap = cap;
    sb->budget = (intptr_t) (budget / NGX_CX_LUA_TICK);
    sb->budget = (sb->budget > 1) ? sb->budget : 1;
    sb->steps_max = (long) budget;
    sb->time = time;
    sb->ticks = INTPTR_MAX;
    sb->deadline = UINT64_MAX;

    L = luaL_newstate();
    if (L == NULL) {
        return NULL;
    }

    sb->L = L;

    /* LuaJIT's allocator is much faster than malloc: wrap it, to count */
    sb->real = lua_getallocf(L, &sb->real_ud);
    sb->used = (size_t) lua_gc(L, LUA_GCCOUNT, 0) * 1024
               + lua_gc(L, LUA_GCCOUNTB, 0);
    lua_setallocf(L, ngx_cx_lua_alloc, sb);

    /* count hooks fire only in interpreted code: no JIT for hooks */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE|LUAJIT_MODE_OFF);

    ngx_cx_lua_open_lib(L, luaopen_base, "");
    ngx_cx_lua_open_lib(L, luaopen_string, LUA_STRLIBNAME);
    ngx_cx_lua_open_lib(L, luaopen_table, LUA_TABLIBNAME);
    ngx_cx_lua_open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    ngx_cx_lua_open_lib(L, luaopen_os, LUA_OSLIBNAME);

    return L;
}


int
ngx_cx_lua_sandbox_add_path(const char *dir, size_t len)
{
    char                  *p, **paths;
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    paths = realloc(sb->paths, (sb->npaths + 1) * sizeof(char *));
    if (paths == NULL) {
        return -1;
    }

    sb->paths = paths;

    p = malloc(len + 1);
    if (p == NULL) {
        return -1;
    }

    memcpy(p, dir, len);
    p[len] = '\0';
    sb->paths[sb->npaths++] = p;

    return 0;
}


void
ngx_cx_lua_sandbox_close(void)
{
    size_t                 i;
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    if (sb->L) {
        lua_close(sb->L);
        sb->L = NULL;
    }

    for (i = 0; i < sb->npaths; i++) {
        free(sb->paths[i]);
    }

    free(sb->paths);
    sb->paths = NULL;
    sb->npaths = 0;
}


static void
ngx_cx_lua_open_lib(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}


/* The VM's memory, capped: a refused allocation is a Lua memory error. */

static void *
ngx_cx_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    void                  *p;
    ngx_cx_lua_sandbox_t  *sb = ud;

    if (nsize == 0) {
        sb->used -= osize;
        return sb->real(sb->real_ud, ptr, osize, 0);
    }

    /*
     * The cap holds while Lua code runs (a refusal is a Lua error the call
     * catches); the C side's few allocations around a call (the cx table,
     * results) may go beyond it, since a refusal there would be a panic.
     */
    if (nsize > osize && sb->strict && sb->used + (nsize - osize) > sb->cap) {
        return NULL;
    }

    /*
     * "s = big .. i" is one instruction that copies megabytes, and the
     * count hook looks at the clock only every NGX_CX_LUA_TICK
     * instructions: a large block looks too, and past the deadline the
     * count hook ends the call at the next instruction, at its line.
     */
    if (nsize >= NGX_CX_LUA_LARGE && nsize > osize && sb->strict
        && sb->ticks > 0 && ngx_cx_lua_clock() >= sb->deadline)
    {
        sb->late = 1;
        sb->ticks = 1;
        lua_sethook(sb->L, ngx_cx_lua_sandbox_count, LUA_MASKCOUNT, 1);
    }

    p = sb->real(sb->real_ud, ptr, osize, nsize);
    if (p == NULL) {
        return NULL;
    }

    sb->used = sb->used - osize + nsize;

    return p;
}


/* "src:line: " into where, as the count hook sees the code go by */

static void
ngx_cx_lua_where(const char *src, int line)
{
    char    *p, *last, digits[16];
    size_t   n;

    p = ngx_cx_lua_sandbox.where;
    last = p + sizeof(ngx_cx_lua_sandbox.where) - 1;

    n = strlen(src);
    n = ((size_t) (last - p) < n) ? (size_t) (last - p) : n;
    memcpy(p, src, n);
    p += n;

    n = 0;
    do {
        digits[n++] = (char) ('0' + line % 10);
        line /= 10;
    } while (line && n < sizeof(digits));

    if (p < last) {
        *p++ = ':';
    }

    while (n && p < last) {
        *p++ = digits[--n];
    }

    if (p < last) {
        *p++ = ':';
    }

    if (p < last) {
        *p++ = ' ';
    }

    *p = '\0';
}


/*
 * The budgets, instructions and time.  Once either is spent, the hook
 * fires on every instruction: a pcall in the hook may catch the error
 * once, but the very next instruction raises it again.
 */

void
ngx_cx_lua_sandbox_count(lua_State *L, lua_Debug *ar)
{
    lua_Debug  where;

    (void) ar;

    /* where the code is, for a memory error (which carries no line) */
    if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where)
        && where.currentline > 0)
    {
        ngx_cx_lua_where(where.short_src, where.currentline);
    }

    if (--ngx_cx_lua_sandbox.ticks > 0) {

        if (ngx_cx_lua_clock() < ngx_cx_lua_sandbox.deadline) {
            return;
        }

        ngx_cx_lua_sandbox.late = 1;
        ngx_cx_lua_sandbox.ticks = 0;
    }

    lua_sethook(L, ngx_cx_lua_sandbox_count, LUA_MASKCOUNT, 1);

    if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where)
        && where.currentline > 0)
    {
        lua_pushfstring(L, "%s:%d: %s", where.short_src, where.currentline,
                        ngx_cx_lua_sandbox.late
                        ? "time budget exceeded (cx_lua_time)"
                        : "instruction budget exceeded");

    } else {
        lua_pushstring(L, ngx_cx_lua_sandbox.late
                          ? "time budget exceeded (cx_lua_time)"
                          : "instruction budget exceeded");
    }

    lua_error(L);
}


/*
 * A pattern spent the call's steps: the instruction budget goes too, so
 * that a pcall around the pattern cannot go on running.
 */

static void
ngx_cx_lua_spent(lua_State *L)
{
    ngx_cx_lua_sandbox.ticks = 0;
    lua_sethook(L, ngx_cx_lua_sandbox_count, LUA_MASKCOUNT, 1);
}


/*
 * A pattern spent its slice of steps: the next slice, unless the call is
 * out of steps or of time.  One pattern may backtrack for as many steps as
 * cx_lua_budget, a second or so at its largest: the clock is looked at
 * between slices.
 */

static int
ngx_cx_lua_refill(long *steps)
{
    long                   n;
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    if (ngx_cx_lua_clock() >= sb->deadline) {
        sb->late = 1;
        return NGX_CX_PAT_TIME;
    }

    if (sb->steps_left <= 0) {
        return NGX_CX_PAT_BUDGET;
    }

    n = (sb->steps_left < NGX_CX_LUA_SLICE) ? sb->steps_left
                                             : NGX_CX_LUA_SLICE;
    sb->steps_left -= n;
    *steps += n;

    return NGX_CX_PAT_OK;
}


/*
 * The work of a C string or table function (ngx_cx_lua_bytes.c), about a
 * byte a unit: the count hook never sees it, so it is charged here, to
 * the instruction budget, and the deadline is checked on every call.
 * Either spent, the call ends as a loop does, also inside pcall.
 */

static void
ngx_cx_lua_charge(lua_State *L, size_t work)
{
    size_t                 n;
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    sb->work += work;

    if (sb->work >= NGX_CX_LUA_TICK * NGX_CX_LUA_BYTES) {
        n = sb->work / (NGX_CX_LUA_TICK * NGX_CX_LUA_BYTES);
        sb->work -= n * NGX_CX_LUA_TICK * NGX_CX_LUA_BYTES;
        sb->ticks = (n >= (size_t) sb->ticks) ? 0 : sb->ticks - (intptr_t) n;
    }

    if (sb->ticks > 0 && ngx_cx_lua_clock() < sb->deadline) {
        return;
    }

    if (sb->ticks > 0) {
        sb->late = 1;
    }

    ngx_cx_lua_spent(L);

    if (sb->late) {
        luaL_error(L, "time budget exceeded (cx_lua_time)");
    }

    luaL_error(L, "instruction budget exceeded (in a string function)");
}


void
ngx_cx_lua_sandbox_build(lua_State *L)
{
    /*
     * find, match, gmatch and gsub that count their steps: LuaJIT's run
     * in one C call the count hook never sees, and a pattern can
     * backtrack for seconds over a long header
     */
    lua_getglobal(L, "string");
    ngx_cx_lua_pattern_install(L, &ngx_cx_lua_sandbox.steps,
                               ngx_cx_lua_refill, ngx_cx_lua_spent);
    lua_pop(L, 1);

    /*
     * rep, upper, lower, reverse, sub, format, concat, sort, insert and
     * remove that charge their work: LuaJIT's run in one C call, and a
     * loop of big:upper() on 4 MB held a worker for a minute within its
     * instruction budget
     */
    ngx_cx_lua_bytes_install(L, ngx_cx_lua_charge, &ngx_cx_lua_sandbox.cap,
                             NGX_CX_LUA_NOMEM);

    /* no bytecode out of the sandbox either */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    /* getmetatable("") must not hand out the real string table */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    ngx_cx_lua_base(L);

    lua_pushlightuserdata(L, &ngx_cx_lua_loaded_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* the real globals stay out of reach: only the base is handed out */
    lua_settop(L, 0);

    /*
     * The count hook stays installed: Lua runs only inside calls, and
     * setting a hook rewrites LuaJIT's dispatch table, too dear per call.
     */
    lua_sethook(L, ngx_cx_lua_sandbox_count, LUA_MASKCOUNT, NGX_CX_LUA_TICK);
}


/*
 * The allow-listed base every hook and module sees through its own
 * environment: base functions, read-only string/table/math, os with
 * time/date/clock only, and our require.
 */

static void
ngx_cx_lua_base(lua_State *L)
{
    int  i;

    lua_newtable(L);                                  /* base */

    for (i = 0; ngx_cx_lua_globals[i]; i++) {
        lua_getglobal(L, ngx_cx_lua_globals[i]);
        lua_setfield(L, -2, ngx_cx_lua_globals[i]);
    }

    lua_getglobal(L, "string");
    ngx_cx_lua_sandbox_readonly(L);
    lua_setfield(L, -2, "string");
    lua_getglobal(L, "table");
    ngx_cx_lua_sandbox_readonly(L);
    lua_setfield(L, -2, "table");
    lua_getglobal(L, "math");
    ngx_cx_lua_sandbox_readonly(L);
    lua_setfield(L, -2, "math");

    lua_createtable(L, 0, 3);                         /* os, the safe part */
    lua_getglobal(L, "os");
    lua_getfield(L, -1, "time");
    lua_setfield(L, -3, "time");
    lua_getfield(L, -1, "date");
    lua_setfield(L, -3, "date");
    lua_getfield(L, -1, "clock");
    lua_setfield(L, -3, "clock");
    lua_pop(L, 1);
    ngx_cx_lua_sandbox_readonly(L);
    lua_setfield(L, -2, "os");

    lua_pushcfunction(L, ngx_cx_lua_require);
    lua_setfield(L, -2, "require");

    /* C helpers for lua/cx/util.lua (which has Lua fallbacks) */
    ngx_cx_lua_native_push(L);
    ngx_cx_lua_sandbox_readonly(L);
    lua_setfield(L, -2, "cx_native");

    ngx_cx_lua_sandbox.base = luaL_ref(L, LUA_REGISTRYINDEX);
}


static int
ngx_cx_lua_readonly_error(lua_State *L)
{
    return luaL_error(L, "attempt to change a read-only library table");
}


void
ngx_cx_lua_sandbox_readonly(lua_State *L)
{
    ngx_cx_lua_sandbox_proxy(L, ngx_cx_lua_readonly_error);
}


void
ngx_cx_lua_sandbox_proxy(lua_State *L, lua_CFunction newindex)
{
    lua_newtable(L);                                  /* proxy */
    lua_createtable(L, 0, 3);                         /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, -2);
}


void
ngx_cx_lua_sandbox_env(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_cx_lua_sandbox.base);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}


int
ngx_cx_lua_sandbox_load(lua_State *L, const char *buf, size_t len,
    const char *chunkname)
{
    int  rc;

    /* "t": text only, a precompiled (bytecode) chunk is refused */
    rc = luaL_loadbufferx(L, buf, len, chunkname, "t");
    if (rc != 0) {
        return rc;
    }

    ngx_cx_lua_sandbox_env(L);
    lua_setfenv(L, -2);

    return 0;
}


char *
ngx_cx_lua_sandbox_read(const char *path, size_t *len)
{
    int          fd, err;
    char        *buf;
    ssize_t      n;
    struct stat  st;

    st.st_size = 0;

    fd = open(path, O_RDONLY);
    if (fd == -1) {
        return NULL;
    }

    if (fstat(fd, &st) == -1 || st.st_size > NGX_CX_LUA_FILE_MAX) {
        err = (st.st_size > NGX_CX_LUA_FILE_MAX) ? EFBIG : errno;
        close(fd);
        errno = err;
        return NULL;
    }

    buf = malloc(st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }

    n = read(fd, buf, st.st_size);
    err = errno;
    close(fd);

    if (n != (ssize_t) st.st_size) {
        free(buf);
        errno = (n == -1) ? err : EIO;
        return NULL;
    }

    *len = n;

    return buf;
}


/* require "cx.util": pure-Lua files under the sandbox's paths, cached. */

static int
ngx_cx_lua_require(lua_State *L)
{
    size_t       len, i;
    const char  *name;

    name = luaL_checklstring(L, 1, &len);

    if (len == 0 || len > 128) {
        return luaL_error(L, "bad module name");
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= '0' && name[i] <= '9')
              || ((name[i] | 0x20) >= 'a' && (name[i] | 0x20) <= 'z')
              || name[i] == '_'
              || (name[i] == '.' && i > 0 && name[i - 1] != '.')))
        {
            return luaL_error(L, "bad module name \"%s\"", name);
        }
    }

    lua_pushlightuserdata(L, &ngx_cx_lua_loaded_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, name);

    if (!lua_isnil(L, -1)) {
        return 1;
    }

    lua_pop(L, 1);

    if (ngx_cx_lua_require_file(L, name, len) != 0) {
        return luaL_error(L, "module \"%s\" not found in "
                          "cx_lua_package_path", name);
    }

    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);

    } else if (lua_istable(L, -1)) {
        /* shared by every hook: none may change it for the others */
        ngx_cx_lua_sandbox_readonly(L);
    }

    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);

    return 1;
}


/*
 * The first file for name under the paths, run in its own environment:
 * pushes its value (0); -1 if there is none.
 */

static int
ngx_cx_lua_require_file(lua_State *L, const char *name, size_t len)
{
    char    *src, *p;
    size_t   i, n, dlen;
    char     file[PATH_MAX];

    for (i = 0; i < ngx_cx_lua_sandbox.npaths; i++) {
        dlen = strlen(ngx_cx_lua_sandbox.paths[i]);

        if (dlen + len + sizeof("@/.lua") > sizeof(file)) {
            continue;
        }

        file[0] = '@';
        memcpy(file + 1, ngx_cx_lua_sandbox.paths[i], dlen);
        p = file + 1 + dlen;
        *p++ = '/';

        for (n = 0; n < len; n++) {
            *p++ = (name[n] == '.') ? '/' : name[n];
        }

        memcpy(p, ".lua", sizeof(".lua"));

        src = ngx_cx_lua_sandbox_read(file + 1, &n);
        if (src == NULL) {
            continue;
        }

        if (ngx_cx_lua_sandbox_load(L, src, n, file) != 0) {
            free(src);
            return lua_error(L);
        }

        free(src);

        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);

        return 0;
    }

    return -1;
}
