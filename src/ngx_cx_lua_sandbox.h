/*
 * ngx_cx_lua_sandbox -- the one Lua sandbox: what a targeting hook runs
 * in, in nginx (src/ngx_http_cx_lua.c) and in the Lua test runner
 * (t/lua/runner.c), so that the tests run in the environment hooks get.
 *
 *   the environment   every chunk (a hook, a module loaded by require, a
 *       test file) gets its own table of globals over one frozen,
 *       allow-listed base: assert error ipairs next pairs pcall select
 *       tonumber tostring type unpack rawequal rawget setmetatable
 *       getmetatable _VERSION require, string (without dump) table math,
 *       os (time, date, clock only), cx_native (ngx_cx_lua_native.c).
 *       No xpcall: its handler runs while the count hook is still active
 *       and so escapes the budget.  No rawset: it would write through the
 *       read-only tables every hook shares.  No io, debug, ffi, jit,
 *       package, load*, dofile, coroutine, getfenv/setfenv, collectgarbage.
 *   read-only tables  the library tables and the modules require returns
 *       are proxies: reads go through, writes raise, the metatable is
 *       locked; getmetatable("") is locked too.
 *   the budgets       per call (between start and finish): instructions,
 *       by a count hook every NGX_CX_LUA_TICK instructions that, once the
 *       budget or the deadline is spent, fires on every instruction so
 *       that a pcall cannot swallow it; pattern steps
 *       (ngx_cx_lua_pattern.c); the bytes of the C string and table
 *       functions (ngx_cx_lua_bytes.c); a deadline on CLOCK_MONOTONIC.
 *   the memory cap    the state's allocator refuses to go beyond cap while
 *       Lua code runs (a Lua memory error the call catches).
 *   require "a.b"     a/b.lua as text under the directories given, loaded
 *       once into an environment of its own; a table it returns is made
 *       read-only.
 *
 * One sandbox a process (nginx: a worker's VM; the runner's state), kept
 * in one global, so that the count hook and the views read it without an
 * indirection.  Pure C over the Lua C API: no nginx types.
 */

#ifndef NGX_CX_LUA_SANDBOX_H
#define NGX_CX_LUA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <lua.h>


#if defined(__GNUC__)
/* in nginx's -fPIC module: read directly, not through the GOT */
#define NGX_CX_LUA_HIDDEN  __attribute__((visibility("hidden")))
#else
#define NGX_CX_LUA_HIDDEN
#endif


#define NGX_CX_LUA_TICK       1000        /* instructions per count hook */
#define NGX_CX_LUA_FILE_MAX   (1024 * 1024)

/*
 * Bytes a C string or table function may touch for one instruction of
 * the budget: about what the interpreter runs in the same time, so that
 * the default budget lets one call touch some 6 MB, a few milliseconds.
 */
#define NGX_CX_LUA_BYTES      64

/* an allocation that looks at the deadline: some 30 us of copying */
#define NGX_CX_LUA_LARGE      (64 * 1024)

/* pattern steps between looks at the deadline: well under a millisecond */
#define NGX_CX_LUA_SLICE      65536


typedef struct {
    lua_State                *L;
    lua_Alloc                 real;       /* LuaJIT's own allocator */
    void                     *real_ud;
    size_t                    used;
    size_t                    cap;
    intptr_t                  strict;     /* the cap holds: Lua is running */
    char                      where[128]; /* last known position, for OOM */
    intptr_t                  ticks;      /* budget left in this call */
    intptr_t                  budget;     /* ticks per call */
    long                      steps;      /* pattern steps left in a slice */
    long                      steps_left; /* and in the call, beyond it */
    long                      steps_max;  /* pattern steps per call */
    size_t                    work;       /* bytes not yet charged */
    uint64_t                  time;       /* microseconds per call */
    uint64_t                  deadline;   /* of the call, CLOCK_MONOTONIC */
    intptr_t                  late;       /* the call ran out of time */
    char                    **paths;      /* require's directories */
    size_t                    npaths;
    int                       base;       /* registry ref of the base env */
} ngx_cx_lua_sandbox_t;


extern ngx_cx_lua_sandbox_t  ngx_cx_lua_sandbox NGX_CX_LUA_HIDDEN;


/*
 * A new state, its memory capped at cap bytes, the JIT off (count hooks
 * fire only in interpreted code), the base, string, table, math and os
 * libraries opened as LuaJIT has them; budget: instructions (and pattern
 * steps) per call; time: microseconds per call.  NULL if out of memory.
 * Then, optionally, directories for require, and build.
 */
lua_State *ngx_cx_lua_sandbox_open(size_t cap, uintptr_t budget,
    uint64_t time);
int ngx_cx_lua_sandbox_add_path(const char *dir, size_t len);

/*
 * The sandbox itself: the counting string and table functions over
 * LuaJIT's, the base, the count hook.  The real globals stay out of reach.
 */
void ngx_cx_lua_sandbox_build(lua_State *L);
void ngx_cx_lua_sandbox_close(void);

/* Pushes a fresh environment over the base: a chunk's globals are its own. */
void ngx_cx_lua_sandbox_env(lua_State *L);

/* Replaces the table on top with a proxy: reads through, writes fail. */
void ngx_cx_lua_sandbox_readonly(lua_State *L);

/*
 * The same with the error of one's own: replaces the value on top (a
 * table, or an __index function) with an empty table that reads from it
 * and whose writes call newindex; its metatable is hidden.
 */
void ngx_cx_lua_sandbox_proxy(lua_State *L, lua_CFunction newindex);

/*
 * Compiles a text chunk (no bytecode) in a fresh environment: pushes the
 * function (0) or the error message (a lua_load code).  chunkname: "@path".
 */
int ngx_cx_lua_sandbox_load(lua_State *L, const char *buf, size_t len,
    const char *chunkname);

/* A whole file, at most NGX_CX_LUA_FILE_MAX, malloc()ed; NULL, errno set. */
char *ngx_cx_lua_sandbox_read(const char *path, size_t *len);

/* the count hook: the budgets and the deadline */
void ngx_cx_lua_sandbox_count(lua_State *L, lua_Debug *ar) NGX_CX_LUA_HIDDEN;


/*
 * Microseconds of CLOCK_MONOTONIC: read from the vDSO, some 20 ns, so
 * cheap enough for every tick; a wall clock, since a worker that waits
 * makes every request on it wait, whatever holds it.
 */

static inline uint64_t
ngx_cx_lua_clock(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/* A call starts: its budgets full, its deadline set, the cap holding. */

static inline void
ngx_cx_lua_sandbox_start(void)
{
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    sb->ticks = sb->budget;
    sb->steps = (sb->steps_max < NGX_CX_LUA_SLICE) ? sb->steps_max
                                                   : NGX_CX_LUA_SLICE;
    sb->steps_left = sb->steps_max - sb->steps;
    sb->work = 0;
    sb->late = 0;
    sb->where[0] = '\0';
    sb->deadline = ngx_cx_lua_clock() + sb->time;
    sb->strict = 1;
}


/*
 * A call ended.  If it spent its budget, or ran out of time (the
 * allocator may have armed the hook for the next instruction, and the
 * call ended first), back to a hook every tick.  Outside calls (lua_next,
 * lua_tolstring) nothing may be cut, and the cap does not hold.
 */

static inline void
ngx_cx_lua_sandbox_finish(lua_State *L)
{
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    sb->strict = 0;

    if (sb->ticks <= 0 || sb->late) {
        lua_sethook(L, ngx_cx_lua_sandbox_count, LUA_MASKCOUNT,
                    NGX_CX_LUA_TICK);
    }

    sb->ticks = INTPTR_MAX;
    sb->deadline = UINT64_MAX;
}


#endif /* NGX_CX_LUA_SANDBOX_H */
