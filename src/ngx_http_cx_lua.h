/*
 * ngx_http_cx_lua.h — targeting hooks in Lua (cx_target_by_lua_file).
 *
 * A hook is a Lua file that returns a function; the function gets the
 * "cx" table (README: Lua targeting hooks) when a cx_prompt's built-in conditions have passed
 * and answers: true/false, or the name of another survey to offer, and
 * optionally a table of attributes stored (encrypted in the token) with the
 * visitor's answer.
 *
 * Life cycle
 *   ngx_http_cx_lua_hook_conf()  configuration: reads the file (text only)
 *       and compiles it in a scratch state, so a syntax error fails
 *       "nginx -t" with the file and line.
 *   ngx_http_cx_lua_init()       worker start: one LuaJIT VM per worker,
 *       independent of any other Lua module; the JIT is off (count hooks
 *       fire only in interpreted code); every hook is loaded into its own
 *       environment over a frozen, allow-listed base.
 *   ngx_http_cx_lua_target()     per decision, on the request path: the
 *       hook gets the worker's one cx table, a read-only view whose fields
 *       read the request of the call in progress (nothing outside a call),
 *       so a call allocates nothing for cx.
 *
 * Safety (the sandbox, ngx_cx_lua_sandbox.c, which the Lua test runner
 * shares): no io, os beyond time/date/clock, debug, ffi, jit, package,
 * load*, dofile, string.dump, xpcall, rawset; require finds pure-Lua files
 * under cx_lua_package_path.  Each call has an instruction budget and a time
 * budget (cx_lua_time, a deadline on the monotonic clock), enforced by a
 * count hook that, once either is spent, fires on every instruction so
 * that a pcall in the hook cannot swallow it; the C string and table
 * functions that do work in proportion to their strings charge it to the
 * budget and check the deadline (ngx_cx_lua_bytes.c), and the patterns
 * count their steps (ngx_cx_lua_pattern.c); the VM's memory is capped by
 * its allocator.  A hook that errors, loops or runs out of memory offers
 * nothing and logs one line naming the file and line (at most one line a
 * second per hook); the page is served normally.
 */

#ifndef _NGX_HTTP_CX_LUA_H_INCLUDED_
#define _NGX_HTTP_CX_LUA_H_INCLUDED_


#include "ngx_http_cx.h"
#include "ngx_cx_lua_sandbox.h"


#define NGX_HTTP_CX_LUA_BUDGET   100000          /* instructions per call */
#define NGX_HTTP_CX_LUA_MEMORY   (16 * 1024 * 1024)
#define NGX_HTTP_CX_LUA_TIME     10              /* ms per call */


struct ngx_http_cx_hook_s {
    ngx_str_t                 path;
    u_char                   *chunkname;  /* "@path", for Lua's messages */
    ngx_str_t                 source;
    int                       ref;        /* the function, in the worker VM */
    time_t                    logged_at;
    ngx_uint_t                suppressed;
};


/* What a hook decided. */
typedef struct {
    ngx_http_cx_survey_t     *survey;     /* to offer; NULL: offer nothing */
    u_char                    attrs[NGX_CX_ATTRS_MAX];
    size_t                    attrs_len;
    unsigned                  attr_numbers;   /* bit i: the i-th pair's
                                                 value was a number */
} ngx_http_cx_hook_result_t;


char *ngx_http_cx_lua_hook_conf(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_cx_hook_t **hook);
ngx_int_t ngx_http_cx_lua_init(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf);
void ngx_http_cx_lua_exit(void);

/*
 * Runs the hook for prompt on this response.  NGX_OK: res tells what to
 * offer (res->survey NULL: nothing); NGX_ERROR: the hook failed (logged),
 * offer nothing.
 */
ngx_int_t ngx_http_cx_lua_target(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_http_cx_hook_t *hook,
    ngx_http_cx_prompt_t *prompt, ngx_http_cx_hook_result_t *res);


/* An alert and its response, for an alert's hook (ngx_http_cx_alert.h). */
typedef struct {
    ngx_cx_bytes_t            rule;
    ngx_uint_t                level;
    ngx_cx_record_t          *rec;        /* NULL: the response is erased */
} ngx_http_cx_lua_alert_t;

ngx_int_t ngx_http_cx_lua_alert(ngx_http_cx_hook_t *hook, ngx_log_t *log,
    ngx_http_cx_lua_alert_t *a, ngx_http_cx_hook_result_t *res);


/*
 * Inside the hooks' code: the call in progress, which the cx view reads
 * (r NULL outside a call), and the view's construction, once per VM
 * (ngx_http_cx_lua_view.c).
 */
typedef struct {
    ngx_http_request_t       *r;
    ngx_http_cx_ctx_t        *ctx;
    ngx_http_cx_prompt_t     *prompt;
} ngx_http_cx_lua_call_t;

extern ngx_http_cx_lua_call_t  ngx_http_cx_lua_call NGX_CX_LUA_HIDDEN;

/* Pushes the cx table. */
void ngx_http_cx_lua_view_build(lua_State *L);


#endif /* _NGX_HTTP_CX_LUA_H_INCLUDED_ */
