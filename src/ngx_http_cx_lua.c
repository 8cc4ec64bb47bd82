/*
 * Targeting hooks in LuaJIT: see ngx_http_cx_lua.h for the contract.
 */

#include "ngx_http_cx_lua.h"
#include "ngx_cx_number.h"
#include "ngx_cx_lua_native.h"
#include "ngx_cx_pattern.h"
#include "ngx_cx_lua_pattern.h"
#include "ngx_cx_lua_bytes.h"

#include <luajit.h>
#include <lauxlib.h>
#include <lualib.h>


#define NGX_HTTP_CX_LUA_TICK       1000   /* instructions per count hook */
#define NGX_HTTP_CX_LUA_FILE_MAX   (1024 * 1024)
#define NGX_HTTP_CX_LUA_ATTRS      16

/*
 * Bytes a C string or table function may touch for one instruction of
 * the budget: about what the interpreter runs in the same time, so that
 * the default budget lets one call touch some 6 MB, a few milliseconds.
 */
#define NGX_HTTP_CX_LUA_BYTES      64

/* an allocation that looks at the deadline: some 30 us of copying */
#define NGX_HTTP_CX_LUA_LARGE      (64 * 1024)

/* pattern steps between looks at the deadline: well under a millisecond */
#define NGX_HTTP_CX_LUA_SLICE      65536


typedef struct {
    lua_State                *L;
    lua_Alloc                 real;       /* LuaJIT's own allocator */
    void                     *real_ud;
    size_t                    used;
    size_t                    cap;
    ngx_flag_t                strict;     /* the cap holds: Lua is running */
    char                      where[128]; /* last known position, for OOM */
    ngx_int_t                 ticks;      /* budget left in this call */
    ngx_int_t                 budget;     /* ticks per call */
    long                      steps;      /* pattern steps left in a slice */
    long                      steps_left; /* and in the call, beyond it */
    long                      steps_max;  /* pattern steps per call */
    size_t                    work;       /* bytes not yet charged */
    uint64_t                  time;       /* microseconds per call */
    uint64_t                  deadline;   /* of the call, CLOCK_MONOTONIC */
    ngx_flag_t                late;       /* the call ran out of time */
    ngx_http_request_t       *r;          /* the request of the call */
    ngx_http_cx_ctx_t        *ctx;
    ngx_http_cx_prompt_t     *prompt;
    ngx_array_t              *paths;      /* ngx_str_t, cx_lua_package_path */
    ngx_log_t                *log;
    int                       base;       /* registry ref of the base env */
    int                       cx;         /* registry ref of the cx table */
} ngx_http_cx_lua_vm_t;


static void *ngx_http_cx_lua_alloc(void *ud, void *ptr, size_t osize,
    size_t nsize);
static void ngx_http_cx_lua_count(lua_State *L, lua_Debug *ar);
static void ngx_http_cx_lua_rearm(lua_State *L);
static void ngx_http_cx_lua_spent(lua_State *L);
static int ngx_http_cx_lua_refill(long *steps);
static void ngx_http_cx_lua_charge(lua_State *L, size_t work);
static uint64_t ngx_http_cx_lua_clock(void);
static void ngx_http_cx_lua_start(ngx_http_cx_lua_vm_t *vm);
static ngx_int_t ngx_http_cx_lua_base(lua_State *L);
static void ngx_http_cx_lua_readonly(lua_State *L);
static int ngx_http_cx_lua_readonly_error(lua_State *L);
static void ngx_http_cx_lua_env(lua_State *L);
static int ngx_http_cx_lua_require(lua_State *L);
static u_char *ngx_http_cx_lua_read(ngx_str_t *path, size_t *len,
    ngx_log_t *log);
static void ngx_http_cx_lua_build_cx(lua_State *L);
static void ngx_http_cx_lua_view(lua_State *L, lua_CFunction index,
    ngx_uint_t fixed);
static int ngx_http_cx_lua_view_error(lua_State *L);
static int ngx_http_cx_lua_cx_index(lua_State *L);
static int ngx_http_cx_lua_visitor_index(lua_State *L);
static int ngx_http_cx_lua_request_index(lua_State *L);
static int ngx_http_cx_lua_response_index(lua_State *L);
static int ngx_http_cx_lua_touchpoints(lua_State *L);
static int ngx_http_cx_lua_request_header(lua_State *L);
static int ngx_http_cx_lua_response_header(lua_State *L);
static int ngx_http_cx_lua_cookie(lua_State *L);
static int ngx_http_cx_lua_var(lua_State *L);
static void ngx_http_cx_lua_push_headers(lua_State *L, ngx_list_t *headers,
    const u_char *name, size_t len);
static ngx_uint_t ngx_http_cx_lua_log_allowed(ngx_http_cx_hook_t *hook,
    time_t now, ngx_uint_t *suppressed);
static void ngx_http_cx_lua_log(ngx_http_cx_hook_t *hook, time_t now,
    ngx_log_t *log, const char *what, const char *detail);
static ngx_int_t ngx_http_cx_lua_attrs(lua_State *L, int idx,
    ngx_http_cx_hook_t *hook, time_t now, ngx_log_t *log,
    ngx_http_cx_hook_result_t *res);


static ngx_http_cx_lua_vm_t  ngx_http_cx_vm;

/* addresses used as private registry and table keys */
static char  ngx_http_cx_lua_loaded_key;


/*
 * No xpcall: its handler runs while the count hook is still active and
 * so escapes the budget.  No rawset: it would write through the
 * read-only proxies that every hook shares.
 */
static const char  *ngx_http_cx_lua_globals[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
    "tonumber", "tostring", "type", "unpack", "rawequal", "rawget",
    "setmetatable", "getmetatable", "_VERSION", NULL
};


/* Configuration: read the file, compile it once to catch syntax errors. */

char *
ngx_http_cx_lua_hook_conf(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_cx_hook_t **hookp)
{
    u_char              *src;
    size_t               len;
    lua_State           *L;
    ngx_http_cx_hook_t  *hook;

    hook = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_hook_t));
    if (hook == NULL) {
        return NGX_CONF_ERROR;
    }

    hook->path = *path;
    hook->ref = LUA_NOREF;

    /* relative to the prefix, like the other cx files: "conf/cx/x.lua" */
    if (ngx_conf_full_name(cf->cycle, &hook->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* "@path": Lua then names the file, not the source, in its messages */
    hook->chunkname = ngx_pnalloc(cf->pool, hook->path.len + 2);
    if (hook->chunkname == NULL) {
        return NGX_CONF_ERROR;
    }

    hook->chunkname[0] = '@';
    ngx_memcpy(hook->chunkname + 1, hook->path.data, hook->path.len);
    hook->chunkname[hook->path.len + 1] = '\0';

    src = ngx_http_cx_lua_read(&hook->path, &len, cf->log);
    if (src == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cx_target_by_lua_file: cannot read \"%V\"",
                           &hook->path);
        return NGX_CONF_ERROR;
    }

    hook->source.data = ngx_pnalloc(cf->pool, len + 1);
    if (hook->source.data == NULL) {
        ngx_free(src);
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(hook->source.data, src, len);
    hook->source.data[len] = '\0';
    hook->source.len = len;
    ngx_free(src);

    L = luaL_newstate();
    if (L == NULL) {
        return NGX_CONF_ERROR;
    }

    /* "t": text only, a precompiled (bytecode) chunk is refused */
    if (luaL_loadbufferx(L, (char *) hook->source.data, hook->source.len,
                         (char *) hook->chunkname, "t")
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_target_by_lua_file: %s",
                           lua_tostring(L, -1));
        lua_close(L);
        return NGX_CONF_ERROR;
    }

    lua_close(L);

    *hookp = hook;

    return NGX_CONF_OK;
}


static u_char *
ngx_http_cx_lua_read(ngx_str_t *path, size_t *len, ngx_log_t *log)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return NULL;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_CX_LUA_FILE_MAX)
    {
        ngx_close_file(fd);
        return NULL;
    }

    buf = ngx_alloc(ngx_file_size(&fi) + 1, log);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NULL;
    }

    n = ngx_read_fd(fd, buf, ngx_file_size(&fi));
    ngx_close_file(fd);

    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_free(buf);
        return NULL;
    }

    *len = n;

    return buf;
}


/* Worker start: the VM, the sandbox, every hook loaded. */

ngx_int_t
ngx_http_cx_lua_init(ngx_cycle_t *cycle, ngx_http_cx_main_conf_t *cmcf)
{
    int                   rc;
    lua_State            *L;
    ngx_uint_t            i;
    ngx_http_cx_hook_t  **hooks, *hook;
    ngx_http_cx_lua_vm_t *vm;

    vm = &ngx_http_cx_vm;

    if (cmcf->hooks.nelts == 0) {
        return NGX_OK;
    }

    vm->cap = cmcf->lua_memory;
    vm->budget = ngx_max(cmcf->lua_budget / NGX_HTTP_CX_LUA_TICK, 1);
    vm->steps_max = (long) cmcf->lua_budget;
    vm->time = (uint64_t) cmcf->lua_time * 1000;
    vm->paths = &cmcf->lua_paths;
    vm->log = cycle->log;

    L = luaL_newstate();
    if (L == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "cx: cannot create the Lua VM: no hook will run");
        return NGX_ERROR;
    }

    vm->L = L;

    /* LuaJIT's allocator is much faster than malloc: wrap it, to count */
    vm->real = lua_getallocf(L, &vm->real_ud);
    vm->used = (size_t) lua_gc(L, LUA_GCCOUNT, 0) * 1024
               + lua_gc(L, LUA_GCCOUNTB, 0);
    lua_setallocf(L, ngx_http_cx_lua_alloc, vm);

    /* count hooks fire only in interpreted code: no JIT for hooks */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE|LUAJIT_MODE_OFF);

    if (ngx_http_cx_lua_base(L) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "cx: cannot build the Lua sandbox: no hook will run");
        lua_close(L);
        vm->L = NULL;
        return NGX_ERROR;
    }

    /*
     * The count hook stays installed: Lua runs only inside our calls, and
     * setting a hook rewrites LuaJIT's dispatch table, too dear per call.
     */
    lua_sethook(L, ngx_http_cx_lua_count, LUA_MASKCOUNT, NGX_HTTP_CX_LUA_TICK);

    hooks = cmcf->hooks.elts;

    for (i = 0; i < cmcf->hooks.nelts; i++) {
        hook = hooks[i];

        if (luaL_loadbufferx(L, (char *) hook->source.data, hook->source.len,
                             (char *) hook->chunkname, "t")
            != 0)
        {
            ngx_http_cx_lua_log(hook, ngx_time(), cycle->log,
                                "cannot load", lua_tostring(L, -1));
            lua_settop(L, 0);
            continue;
        }

        ngx_http_cx_lua_env(L);
        lua_setfenv(L, -2);

        ngx_http_cx_lua_start(vm);

        /*
         * Loading runs before the worker serves anything, and a load cut
         * short disables the hook for the worker's life: a second, so that
         * a cold start (page faults, a busy machine) is not taken for a
         * loop.  The instruction budget holds as for a call.
         */
        vm->deadline += ngx_max(vm->time, 1000000) - vm->time;

        rc = lua_pcall(L, 0, 1, 0);

        vm->strict = 0;
        ngx_http_cx_lua_rearm(L);

        if (rc != 0) {
            ngx_http_cx_lua_log(hook, ngx_time(), cycle->log,
                                "failed to start",
                                lua_type(L, -1) == LUA_TSTRING
                                ? lua_tostring(L, -1) : "not enough memory");
            lua_settop(L, 0);
            continue;
        }

        if (lua_type(L, -1) != LUA_TFUNCTION) {
            ngx_http_cx_lua_log(hook, ngx_time(), cycle->log,
                                "is not usable",
                                "the file must return a function");
            lua_settop(L, 0);
            continue;
        }

        hook->ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_settop(L, 0);
    }

    return NGX_OK;
}


void
ngx_http_cx_lua_exit(void)
{
    if (ngx_http_cx_vm.L) {
        lua_close(ngx_http_cx_vm.L);
        ngx_http_cx_vm.L = NULL;
    }
}


/* The VM's memory, capped: a refused allocation is a Lua memory error. */

static void *
ngx_http_cx_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    void                  *p;
    ngx_http_cx_lua_vm_t  *vm = ud;

    if (nsize == 0) {
        vm->used -= osize;
        return vm->real(vm->real_ud, ptr, osize, 0);
    }

    /*
     * The cap holds while Lua code runs (a refusal is a Lua error the call
     * catches); the C side's few allocations around a call (the cx table,
     * results) may go beyond it, since a refusal there would be a panic.
     */
    if (nsize > osize && vm->strict && vm->used + (nsize - osize) > vm->cap) {
        return NULL;
    }

    /*
     * "s = big .. i" is one instruction that copies megabytes, and the
     * count hook looks at the clock only every NGX_HTTP_CX_LUA_TICK
     * instructions: a large block looks too, and past the deadline the
     * count hook ends the call at the next instruction, at its line.
     */
    if (nsize >= NGX_HTTP_CX_LUA_LARGE && nsize > osize && vm->strict
        && vm->ticks > 0 && ngx_http_cx_lua_clock() >= vm->deadline)
    {
        vm->late = 1;
        vm->ticks = 1;
        lua_sethook(vm->L, ngx_http_cx_lua_count, LUA_MASKCOUNT, 1);
    }

    p = vm->real(vm->real_ud, ptr, osize, nsize);
    if (p == NULL) {
        return NULL;
    }

    vm->used = vm->used - osize + nsize;

    return p;
}


/* A call starts: its budgets full, its deadline set. */

static void
ngx_http_cx_lua_start(ngx_http_cx_lua_vm_t *vm)
{
    vm->ticks = vm->budget;
    vm->steps = ngx_min(vm->steps_max, NGX_HTTP_CX_LUA_SLICE);
    vm->steps_left = vm->steps_max - vm->steps;
    vm->work = 0;
    vm->late = 0;
    vm->where[0] = '\0';
    vm->deadline = ngx_http_cx_lua_clock() + vm->time;
    vm->strict = 1;
}


/*
 * Microseconds of CLOCK_MONOTONIC: read from the vDSO, some 20 ns, so
 * cheap enough for every tick; a wall clock, since a worker that waits
 * makes every request on it wait, whatever holds it.
 */

static uint64_t
ngx_http_cx_lua_clock(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/*
 * The budgets, instructions and time.  Once either is spent, the hook
 * fires on every instruction: a pcall in the hook may catch the error
 * once, but the very next instruction raises it again.
 */

static void
ngx_http_cx_lua_count(lua_State *L, lua_Debug *ar)
{
    lua_Debug  where;

    /* where the code is, for a memory error (which carries no line) */
    if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where)
        && where.currentline > 0)
    {
        ngx_snprintf((u_char *) ngx_http_cx_vm.where,
                     sizeof(ngx_http_cx_vm.where) - 1, "%s:%d: %Z",
                     where.short_src, where.currentline);
    }

    if (--ngx_http_cx_vm.ticks > 0) {

        if (ngx_http_cx_lua_clock() < ngx_http_cx_vm.deadline) {
            return;
        }

        ngx_http_cx_vm.late = 1;
        ngx_http_cx_vm.ticks = 0;
    }

    lua_sethook(L, ngx_http_cx_lua_count, LUA_MASKCOUNT, 1);

    if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where)
        && where.currentline > 0)
    {
        lua_pushfstring(L, "%s:%d: %s", where.short_src, where.currentline,
                        ngx_http_cx_vm.late
                        ? "time budget exceeded (cx_lua_time)"
                        : "instruction budget exceeded");

    } else {
        lua_pushstring(L, ngx_http_cx_vm.late
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
ngx_http_cx_lua_spent(lua_State *L)
{
    ngx_http_cx_vm.ticks = 0;
    lua_sethook(L, ngx_http_cx_lua_count, LUA_MASKCOUNT, 1);
}


/*
 * A pattern spent its slice of steps: the next slice, unless the call is
 * out of steps or of time.  One pattern may backtrack for as many steps as
 * cx_lua_budget, a second or so at its largest: the clock is looked at
 * between slices.
 */

static int
ngx_http_cx_lua_refill(long *steps)
{
    long                   n;
    ngx_http_cx_lua_vm_t  *vm = &ngx_http_cx_vm;

    if (ngx_http_cx_lua_clock() >= vm->deadline) {
        vm->late = 1;
        return NGX_CX_PAT_TIME;
    }

    if (vm->steps_left <= 0) {
        return NGX_CX_PAT_BUDGET;
    }

    n = ngx_min(vm->steps_left, NGX_HTTP_CX_LUA_SLICE);
    vm->steps_left -= n;
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
ngx_http_cx_lua_charge(lua_State *L, size_t work)
{
    size_t                 n;
    ngx_http_cx_lua_vm_t  *vm = &ngx_http_cx_vm;

    vm->work += work;

    if (vm->work >= NGX_HTTP_CX_LUA_TICK * NGX_HTTP_CX_LUA_BYTES) {
        n = vm->work / (NGX_HTTP_CX_LUA_TICK * NGX_HTTP_CX_LUA_BYTES);
        vm->work -= n * NGX_HTTP_CX_LUA_TICK * NGX_HTTP_CX_LUA_BYTES;
        vm->ticks = (n >= (size_t) vm->ticks) ? 0 : vm->ticks - (ngx_int_t) n;
    }

    if (vm->ticks > 0 && ngx_http_cx_lua_clock() < vm->deadline) {
        return;
    }

    if (vm->ticks > 0) {
        vm->late = 1;
    }

    ngx_http_cx_lua_spent(L);

    if (vm->late) {
        luaL_error(L, "time budget exceeded (cx_lua_time)");
    }

    luaL_error(L, "instruction budget exceeded (in a string function)");
}


/*
 * After a call that spent its budget, or ran out of time (the allocator
 * may have armed the hook for the next instruction, and the call ended
 * first), back to a hook every tick.
 */

static void
ngx_http_cx_lua_rearm(lua_State *L)
{
    if (ngx_http_cx_vm.ticks <= 0 || ngx_http_cx_vm.late) {
        lua_sethook(L, ngx_http_cx_lua_count, LUA_MASKCOUNT,
                    NGX_HTTP_CX_LUA_TICK);
    }

    /* outside our calls (lua_next, lua_tolstring) nothing may be cut */
    ngx_http_cx_vm.ticks = NGX_MAX_INT_T_VALUE;
    ngx_http_cx_vm.deadline = UINT64_MAX;
}


/*
 * The allow-listed base every hook and module sees through its own
 * environment: base functions, read-only string/table/math, os with
 * time/date/clock only, and our require.
 */

static ngx_int_t
ngx_http_cx_lua_base(lua_State *L)
{
    ngx_uint_t  i;

    lua_pushcfunction(L, luaopen_base);
    lua_pushliteral(L, "");
    lua_call(L, 1, 0);

    lua_pushcfunction(L, luaopen_string);
    lua_pushliteral(L, LUA_STRLIBNAME);
    lua_call(L, 1, 0);

    /*
     * find, match, gmatch and gsub that count their steps: LuaJIT's run
     * in one C call the count hook never sees, and a pattern can
     * backtrack for seconds over a long header
     */
    lua_getglobal(L, "string");
    ngx_cx_lua_pattern_install(L, &ngx_http_cx_vm.steps,
                               ngx_http_cx_lua_refill, ngx_http_cx_lua_spent);
    lua_pop(L, 1);

    lua_pushcfunction(L, luaopen_table);
    lua_pushliteral(L, LUA_TABLIBNAME);
    lua_call(L, 1, 0);

    /*
     * rep, upper, lower, reverse, sub, format, concat, sort, insert and
     * remove that charge their work: LuaJIT's run in one C call, and a
     * loop of big:upper() on 4 MB held a worker for a minute within its
     * instruction budget
     */
    ngx_cx_lua_bytes_install(L, ngx_http_cx_lua_charge, &ngx_http_cx_vm.cap,
                             "not enough memory (cx_lua_memory)");

    lua_pushcfunction(L, luaopen_math);
    lua_pushliteral(L, LUA_MATHLIBNAME);
    lua_call(L, 1, 0);

    lua_pushcfunction(L, luaopen_os);
    lua_pushliteral(L, LUA_OSLIBNAME);
    lua_call(L, 1, 0);

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

    lua_newtable(L);                                  /* base */

    for (i = 0; ngx_http_cx_lua_globals[i]; i++) {
        lua_getglobal(L, ngx_http_cx_lua_globals[i]);
        lua_setfield(L, -2, ngx_http_cx_lua_globals[i]);
    }

    lua_getglobal(L, "string");
    ngx_http_cx_lua_readonly(L);
    lua_setfield(L, -2, "string");
    lua_getglobal(L, "table");
    ngx_http_cx_lua_readonly(L);
    lua_setfield(L, -2, "table");
    lua_getglobal(L, "math");
    ngx_http_cx_lua_readonly(L);
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
    ngx_http_cx_lua_readonly(L);
    lua_setfield(L, -2, "os");

    lua_pushcfunction(L, ngx_http_cx_lua_require);
    lua_setfield(L, -2, "require");

    /* C helpers for lua/cx/util.lua (which has Lua fallbacks) */
    ngx_cx_lua_native_push(L);
    ngx_http_cx_lua_readonly(L);
    lua_setfield(L, -2, "cx_native");

    ngx_http_cx_vm.base = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_pushlightuserdata(L, &ngx_http_cx_lua_loaded_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    ngx_http_cx_lua_build_cx(L);
    ngx_http_cx_vm.cx = luaL_ref(L, LUA_REGISTRYINDEX);

    /* the real globals stay out of reach: only the base is handed out */
    lua_settop(L, 0);

    return NGX_OK;
}


static int
ngx_http_cx_lua_readonly_error(lua_State *L)
{
    return luaL_error(L, "attempt to change a read-only library table");
}


/* Replaces the table on top with a proxy: reads through, writes fail. */

static void
ngx_http_cx_lua_readonly(lua_State *L)
{
    lua_newtable(L);                                  /* proxy */
    lua_createtable(L, 0, 3);                         /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ngx_http_cx_lua_readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, -2);
}


/* Pushes a fresh environment over the base: a hook's globals are its own. */

static void
ngx_http_cx_lua_env(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_http_cx_vm.base);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}


/* require "cx.util": pure-Lua files under cx_lua_package_path, cached. */

static int
ngx_http_cx_lua_require(lua_State *L)
{
    u_char      *src, *p;
    size_t       len, n;
    ngx_str_t   *dirs, path;
    ngx_uint_t   i;
    const char  *name;
    u_char       file[NGX_MAX_PATH];

    name = luaL_checklstring(L, 1, &len);

    if (len == 0 || len > 128) {
        return luaL_error(L, "bad module name");
    }

    for (i = 0; i < len; i++) {
        if (!(ngx_http_cx_isalnum(name[i]) || name[i] == '_'
              || (name[i] == '.' && i > 0 && name[i - 1] != '.')))
        {
            return luaL_error(L, "bad module name \"%s\"", name);
        }
    }

    lua_pushlightuserdata(L, &ngx_http_cx_lua_loaded_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, name);

    if (!lua_isnil(L, -1)) {
        return 1;
    }

    lua_pop(L, 1);

    dirs = ngx_http_cx_vm.paths->elts;

    for (i = 0; i < ngx_http_cx_vm.paths->nelts; i++) {
        if (dirs[i].len + len + sizeof("@/.lua") > sizeof(file)) {
            continue;
        }

        file[0] = '@';
        p = ngx_cpymem(file + 1, dirs[i].data, dirs[i].len);
        *p++ = '/';

        for (n = 0; n < len; n++) {
            *p++ = (name[n] == '.') ? '/' : (u_char) name[n];
        }

        p = ngx_cpymem(p, ".lua", sizeof(".lua"));

        path.data = file + 1;
        path.len = p - file - 2;

        src = ngx_http_cx_lua_read(&path, &n, ngx_http_cx_vm.log);
        if (src == NULL) {
            continue;
        }

        if (luaL_loadbufferx(L, (char *) src, n, (char *) file, "t") != 0) {
            ngx_free(src);
            return lua_error(L);
        }

        ngx_free(src);

        ngx_http_cx_lua_env(L);
        lua_setfenv(L, -2);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);

        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);

        } else if (lua_istable(L, -1)) {
            /* shared by every hook: none may change it for the others */
            ngx_http_cx_lua_readonly(L);
        }

        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);

        return 1;
    }

    return luaL_error(L, "module \"%s\" not found in cx_lua_package_path",
                      name);
}


ngx_int_t
ngx_http_cx_lua_target(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_hook_t *hook, ngx_http_cx_prompt_t *prompt,
    ngx_http_cx_hook_result_t *res)
{
    int                       rc;
    size_t                    len;
    lua_State                *L;
    const char               *name;
    ngx_http_cx_lua_vm_t     *vm;
    ngx_http_cx_main_conf_t  *cmcf;

    vm = &ngx_http_cx_vm;
    L = vm->L;

    res->survey = NULL;
    res->attrs_len = 0;

    if (L == NULL || hook->ref == LUA_NOREF) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    vm->r = r;
    vm->ctx = ctx;
    vm->prompt = prompt;

    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, hook->ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->cx);

    ngx_http_cx_lua_start(vm);

    rc = lua_pcall(L, 1, 2, 0);

    vm->strict = 0;
    ngx_http_cx_lua_rearm(L);

    /* outside a call the cx table reads nothing */
    vm->r = NULL;

    if (rc != 0) {
        if (rc == LUA_ERRMEM) {
            /* the last known position, else at least the file */
            if (vm->where[0] == '\0') {
                ngx_snprintf((u_char *) vm->where, sizeof(vm->where) - 1,
                             "%V: %Z", &hook->path);
            }

            ngx_snprintf((u_char *) vm->where + ngx_strlen(vm->where),
                         sizeof(vm->where) - ngx_strlen(vm->where) - 1,
                         "not enough memory (cx_lua_memory)%Z");
        }

        ngx_http_cx_lua_log(hook, ctx->now, r->connection->log, "failed",
                            rc == LUA_ERRMEM ? vm->where
                            : lua_type(L, -1) == LUA_TSTRING
                              ? lua_tostring(L, -1)
                              : "error object is not a string");
        lua_settop(L, 0);
        lua_gc(L, LUA_GCCOLLECT, 0);
        return NGX_ERROR;
    }

    switch (lua_type(L, 1)) {

    case LUA_TBOOLEAN:
        res->survey = lua_toboolean(L, 1) ? prompt->survey : NULL;
        break;

    case LUA_TNIL:
        break;

    case LUA_TSTRING:
        name = lua_tolstring(L, 1, &len);
        res->survey = ngx_http_cx_survey_find(cmcf, (u_char *) name, len);

        if (res->survey == NULL) {
            lua_pushfstring(L, "returned the survey \"%s\", which is not "
                            "declared with cx_survey", name);
            ngx_http_cx_lua_log(hook, ctx->now, r->connection->log,
                                "failed", lua_tostring(L, -1));
            lua_settop(L, 0);
            return NGX_ERROR;
        }
        break;

    default:
        ngx_http_cx_lua_log(hook, ctx->now, r->connection->log, "failed",
                            "must return true, false or a survey name");
        lua_settop(L, 0);
        return NGX_ERROR;
    }

    if (res->survey && lua_type(L, 2) == LUA_TTABLE) {
        (void) ngx_http_cx_lua_attrs(L, 2, hook, ctx->now, r->connection->log,
                                     res);
    }

    lua_settop(L, 0);

    return NGX_OK;
}


/* The attributes table: string keys, string or number values, bounded. */

static ngx_int_t
ngx_http_cx_lua_attrs(lua_State *L, int idx, ngx_http_cx_hook_t *hook,
    time_t now, ngx_log_t *log, ngx_http_cx_hook_result_t *res)
{
    int          type, pushed;
    size_t       klen, vlen, n;
    char         numbuf[NGX_CX_NUMBER_WRITE_SIZE];
    ngx_uint_t   count, i, suppressed;
    const char  *k, *v;

    count = 0;

    lua_pushnil(L);

    while (lua_next(L, idx)) {

        type = lua_type(L, -1);

        if (lua_type(L, -2) != LUA_TSTRING
            || (type != LUA_TSTRING && type != LUA_TNUMBER))
        {
            lua_pop(L, 1);
            continue;
        }

        k = lua_tolstring(L, -2, &klen);

        for (i = 0; i < klen; i++) {
            if (!(ngx_http_cx_isalnum(k[i]) || k[i] == '_' || k[i] == '-'
                  || k[i] == '.'))
            {
                break;
            }
        }

        if (klen == 0 || klen > NGX_CX_NAME_MAX || i < klen) {
            lua_pop(L, 1);
            continue;
        }

        pushed = 0;

        if (type == LUA_TSTRING) {
            v = lua_tolstring(L, -1, &vlen);

        } else if ((vlen = ngx_cx_number_write(numbuf, lua_tonumber(L, -1)))) {
            /* 42, 129.9: without LuaJIT's number formatting, which is dear */
            v = numbuf;

        } else {
            /* as Lua prints it; on a copy, the table's value stays a number */
            lua_pushvalue(L, -1);
            v = lua_tolstring(L, -1, &vlen);
            pushed = 1;
        }

        n = (count < NGX_HTTP_CX_LUA_ATTRS)
            ? ngx_cx_attrs_put(res->attrs + res->attrs_len,
                               sizeof(res->attrs) - res->attrs_len,
                               k, klen, v, vlen)
            : 0;

        lua_pop(L, 1 + pushed);

        /* a hook does it on every call: rate-limited as its failures */
        if (n == 0) {
            if (ngx_http_cx_lua_log_allowed(hook, now, &suppressed)) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "cx: hook \"%V\" returned more attributes "
                              "than are kept (16, 256 bytes in all): the "
                              "rest are dropped%s", &hook->path,
                              suppressed ? " (more lines suppressed)" : "");
            }

            lua_pop(L, 1);
            return NGX_DECLINED;
        }

        res->attrs_len += n;
        count++;
    }

    return NGX_OK;
}


/*
 * The cx table and the tables under it (visitor, request, response and
 * their headers, cookies, touchpoints) are views made once per VM, so a
 * call allocates nothing for them.  A view is an empty table: a read
 * finds its fixed fields (the views under it, cx.var) in a table behind
 * it without leaving the interpreter, and the rest through an __index
 * function that reads the request of the call in progress; so a field
 * costs only when it is read.  Nothing is cached: a view kept from an
 * earlier call reads the current call, never the request it was handed
 * in; outside a call the request's fields are nil.  Views are read-only,
 * since every hook shares them.
 */

static void
ngx_http_cx_lua_build_cx(lua_State *L)
{
    lua_createtable(L, 0, 4);                         /* cx's fixed fields */

    lua_createtable(L, 0, 1);                         /* visitor's */
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_touchpoints, 0);
    lua_setfield(L, -2, "touchpoints");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_visitor_index, 1);
    lua_setfield(L, -2, "visitor");

    lua_createtable(L, 0, 2);                         /* request's */
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_request_header, 0);
    lua_setfield(L, -2, "headers");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_cookie, 0);
    lua_setfield(L, -2, "cookies");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_request_index, 1);
    lua_setfield(L, -2, "request");

    lua_createtable(L, 0, 1);                         /* response's */
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_response_header, 0);
    lua_setfield(L, -2, "headers");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_response_index, 1);
    lua_setfield(L, -2, "response");

    lua_pushcfunction(L, ngx_http_cx_lua_var);
    lua_setfield(L, -2, "var");

    ngx_http_cx_lua_view(L, ngx_http_cx_lua_cx_index, 1);
}


/*
 * Pushes a read-only view reading by index(); with fixed, the table on
 * top (popped) holds its fixed fields, read before index() is asked.
 */

static void
ngx_http_cx_lua_view(lua_State *L, lua_CFunction index, ngx_uint_t fixed)
{
    lua_createtable(L, 0, 2);                         /* index's metatable */
    lua_pushcfunction(L, index);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");

    if (fixed) {
        lua_setmetatable(L, -2);                      /* fixed -> index() */

    } else {
        lua_getfield(L, -1, "__index");               /* index() itself */
        lua_replace(L, -2);
    }

    lua_createtable(L, 0, 3);                         /* the view's */
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ngx_http_cx_lua_view_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");

    lua_newtable(L);                                  /* the view */
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
}


static int
ngx_http_cx_lua_view_error(lua_State *L)
{
    return luaL_error(L, "attempt to change cx, which is read-only");
}


static int
ngx_http_cx_lua_cx_index(lua_State *L)
{
    size_t                   len;
    const char              *key;
    ngx_str_t               *name;
    ngx_http_request_t      *r;
    ngx_http_cx_loc_conf_t  *lcf;

    r = ngx_http_cx_vm.r;
    key = lua_tolstring(L, 2, &len);

    if (r == NULL || key == NULL) {
        return 0;
    }

    if (len == 3 && ngx_strncmp(key, "now", 3) == 0) {
        lua_pushnumber(L, (lua_Number) ngx_http_cx_vm.ctx->now);

    } else if (len == 6 && ngx_strncmp(key, "survey", 6) == 0) {
        name = &ngx_http_cx_vm.prompt->survey->name;
        lua_pushlstring(L, (char *) name->data, name->len);

    } else if (len == 10 && ngx_strncmp(key, "touchpoint", 10) == 0) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);
        lua_pushlstring(L, (char *) lcf->touchpoint.data, lcf->touchpoint.len);

    } else if (len == 5 && ngx_strncmp(key, "stage", 5) == 0) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);
        lua_pushstring(L, ngx_cx_stage_name(lcf->stage));

    } else {
        return 0;
    }

    return 1;
}


static int
ngx_http_cx_lua_visitor_index(lua_State *L)
{
    size_t                       len;
    u_char                       hex[2 * NGX_CX_VISITOR_ID_LEN];
    ngx_uint_t                   i;
    const char                  *key;
    ngx_cx_visitor_t            *v;
    const ngx_cx_survey_mark_t  *last;

    key = lua_tolstring(L, 2, &len);

    if (ngx_http_cx_vm.r == NULL || key == NULL) {
        return 0;
    }

    v = &ngx_http_cx_vm.ctx->visitor.v;

    if (len == 2 && ngx_strncmp(key, "id", 2) == 0) {
        ngx_cx_hex(hex, v->id, NGX_CX_VISITOR_ID_LEN);
        lua_pushlstring(L, (char *) hex, sizeof(hex));

    } else if (len == 6 && ngx_strncmp(key, "visits", 6) == 0) {
        lua_pushnumber(L, v->visits);

    } else if (len == 10 && ngx_strncmp(key, "first_seen", 10) == 0) {
        lua_pushnumber(L, v->first_seen);

    } else if (len == 14 && ngx_strncmp(key, "last_prompt_at", 14) == 0) {
        if (v->last_display == 0) {
            return 0;
        }
        lua_pushnumber(L, v->last_display);

    } else if (len == 10 && ngx_strncmp(key, "last_score", 10) == 0) {
        /* the most recent answer's score */
        last = NULL;
        for (i = 0; i < v->nsv; i++) {
            if (v->sv[i].event == NGX_CX_MARK_ANSWERED
                && (last == NULL || v->sv[i].at > last->at))
            {
                last = &v->sv[i];
            }
        }

        if (last == NULL) {
            return 0;
        }
        lua_pushnumber(L, last->score);

    } else {
        return 0;
    }

    return 1;
}


static int
ngx_http_cx_lua_request_index(lua_State *L)
{
    size_t               len;
    const char          *key;
    ngx_http_request_t  *r;

    r = ngx_http_cx_vm.r;
    key = lua_tolstring(L, 2, &len);

    if (r == NULL || key == NULL) {
        return 0;
    }

    if (len == 6 && ngx_strncmp(key, "method", 6) == 0) {
        lua_pushlstring(L, (char *) r->method_name.data, r->method_name.len);

    } else if (len == 3 && ngx_strncmp(key, "uri", 3) == 0) {
        lua_pushlstring(L, (char *) r->uri.data, r->uri.len);

    } else if (len == 4 && ngx_strncmp(key, "args", 4) == 0) {
        lua_pushlstring(L, (char *) r->args.data, r->args.len);

    } else {
        return 0;
    }

    return 1;
}


static int
ngx_http_cx_lua_response_index(lua_State *L)
{
    size_t               len;
    const char          *key;
    ngx_http_request_t  *r;

    r = ngx_http_cx_vm.r;
    key = lua_tolstring(L, 2, &len);

    if (r == NULL || key == NULL) {
        return 0;
    }

    if (len == 6 && ngx_strncmp(key, "status", 6) == 0) {
        lua_pushnumber(L, r->headers_out.status);

    } else {
        return 0;
    }

    return 1;
}


/* cx.visitor.touchpoints["purchase"]: visits, from the cookie's counts */

static int
ngx_http_cx_lua_touchpoints(lua_State *L)
{
    size_t       len;
    const char  *name;

    name = lua_tolstring(L, 2, &len);

    if (ngx_http_cx_vm.r == NULL || name == NULL) {
        return 0;
    }

    lua_pushnumber(L, ngx_cx_visitor_tp_visits(&ngx_http_cx_vm.ctx->visitor.v,
                                  ngx_cx_name_id((u_char *) name, len)));

    return 1;
}


static int
ngx_http_cx_lua_request_header(lua_State *L)
{
    size_t               len;
    const char          *name;
    ngx_http_request_t  *r;

    r = ngx_http_cx_vm.r;
    name = lua_tolstring(L, 2, &len);

    if (r == NULL || name == NULL) {
        return 0;
    }

    ngx_http_cx_lua_push_headers(L, &r->headers_in.headers, (u_char *) name,
                                 len);
    return 1;
}


static int
ngx_http_cx_lua_response_header(lua_State *L)
{
    size_t               len;
    const char          *name;
    ngx_http_request_t  *r;

    r = ngx_http_cx_vm.r;
    name = lua_tolstring(L, 2, &len);

    if (r == NULL || name == NULL) {
        return 0;
    }

    /* kept out of the list by nginx */
    if (len == sizeof("content-type") - 1
        && ngx_strncasecmp((u_char *) name, (u_char *) "content-type", len)
           == 0)
    {
        if (r->headers_out.content_type.len == 0) {
            return 0;
        }

        lua_pushlstring(L, (char *) r->headers_out.content_type.data,
                        r->headers_out.content_type.len);
        return 1;
    }

    ngx_http_cx_lua_push_headers(L, &r->headers_out.headers, (u_char *) name,
                                 len);
    return 1;
}


/*
 * Every header of that name (any case), joined by ", "; nil when none.
 * The common single header is pushed as it is, without a buffer.
 */

static void
ngx_http_cx_lua_push_headers(lua_State *L, ngx_list_t *headers,
    const u_char *name, size_t len)
{
    ngx_uint_t        i, found;
    luaL_Buffer       b;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *first;

    found = 0;
    first = NULL;

    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != len
            || ngx_strncasecmp(h[i].key.data, (u_char *) name, len) != 0)
        {
            continue;
        }

        if (found == 0) {
            first = &h[i];
            found = 1;
            continue;
        }

        if (found == 1) {
            luaL_buffinit(L, &b);
            luaL_addlstring(&b, (char *) first->value.data, first->value.len);
        }

        luaL_addlstring(&b, ", ", 2);
        luaL_addlstring(&b, (char *) h[i].value.data, h[i].value.len);
        found++;
    }

    if (found == 0) {
        lua_pushnil(L);

    } else if (found == 1) {
        lua_pushlstring(L, (char *) first->value.data, first->value.len);

    } else {
        luaL_pushresult(&b);
    }
}


static int
ngx_http_cx_lua_cookie(lua_State *L)
{
    ngx_str_t            name, value;
    ngx_http_request_t  *r;

    r = ngx_http_cx_vm.r;
    name.data = (u_char *) lua_tolstring(L, 2, &name.len);

    if (r == NULL || name.data == NULL) {
        return 0;
    }

    if (ngx_http_cx_cookie(r, &name, &value) != NGX_OK) {
        return 0;
    }

    lua_pushlstring(L, (char *) value.data, value.len);

    return 1;
}


/* cx.var("name"): an nginx variable of this request, or nil */

static int
ngx_http_cx_lua_var(lua_State *L)
{
    size_t                      len;
    u_char                     *lowcase;
    ngx_str_t                   name;
    ngx_uint_t                  key;
    const char                 *s;
    ngx_http_request_t         *r;
    ngx_http_variable_value_t  *vv;

    r = ngx_http_cx_vm.r;
    s = luaL_checklstring(L, 1, &len);

    if (r == NULL || len == 0 || len > 256) {
        lua_pushnil(L);
        return 1;
    }

    lowcase = ngx_pnalloc(r->pool, len);
    if (lowcase == NULL) {
        lua_pushnil(L);
        return 1;
    }

    key = ngx_hash_strlow(lowcase, (u_char *) s, len);
    name.data = lowcase;
    name.len = len;

    vv = ngx_http_get_variable(r, &name, key);

    if (vv == NULL || vv->not_found) {
        lua_pushnil(L);
        return 1;
    }

    lua_pushlstring(L, (char *) vv->data, vv->len);

    return 1;
}


/*
 * One line, at most once a second per hook: a broken hook is not a flood.
 * "now" is the request's time, so that cx_test_clock can step it in tests.
 * When a line may go out, *suppressed tells whether lines were dropped
 * since the last one.
 */

static ngx_uint_t
ngx_http_cx_lua_log_allowed(ngx_http_cx_hook_t *hook, time_t now,
    ngx_uint_t *suppressed)
{
    if (hook->logged_at == now) {
        hook->suppressed++;
        return 0;
    }

    *suppressed = hook->suppressed;

    hook->logged_at = now;
    hook->suppressed = 0;

    return 1;
}


static void
ngx_http_cx_lua_log(ngx_http_cx_hook_t *hook, time_t now, ngx_log_t *log,
    const char *what, const char *detail)
{
    ngx_uint_t  suppressed;

    if (!ngx_http_cx_lua_log_allowed(hook, now, &suppressed)) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "cx: hook \"%V\" %s, nothing offered: %s%s",
                  &hook->path, what, detail,
                  suppressed ? " (more lines suppressed)" : "");
}
