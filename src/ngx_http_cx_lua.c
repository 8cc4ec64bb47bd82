/*
 * Targeting hooks in LuaJIT: see ngx_http_cx_lua.h for the contract.  The
 * sandbox they run in is ngx_cx_lua_sandbox.c, the cx table they get
 * ngx_http_cx_lua_view.c; here, loading them per worker, calling them,
 * their attributes and their log lines.
 */

#include "ngx_http_cx_lua.h"
#include "ngx_cx_number.h"
#include "ngx_cx_alert.h"

#include <luajit.h>
#include <lauxlib.h>
#include <lualib.h>


#define NGX_HTTP_CX_LUA_ATTRS      16


static ngx_int_t ngx_http_cx_lua_load(ngx_http_cx_hook_t *hook,
    ngx_log_t *log);
static void ngx_http_cx_lua_failed(ngx_log_t *log, time_t now,
    ngx_http_cx_hook_t *hook, int rc);
static ngx_uint_t ngx_http_cx_lua_log_allowed(ngx_http_cx_hook_t *hook,
    time_t now, ngx_uint_t *suppressed);
static void ngx_http_cx_lua_log(ngx_http_cx_hook_t *hook, time_t now,
    ngx_log_t *log, const char *what, const char *detail);
static ngx_int_t ngx_http_cx_lua_attrs(lua_State *L, int idx,
    ngx_http_cx_hook_t *hook, time_t now, ngx_log_t *log,
    ngx_http_cx_hook_result_t *res);


/* the registry ref of the cx table */
static int  ngx_http_cx_lua_cx = LUA_NOREF;


/* Configuration: read the file, compile it once to catch syntax errors. */

char *
ngx_http_cx_lua_hook_conf(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_cx_hook_t **hookp)
{
    char                     *src;
    size_t                    len;
    lua_State                *L;
    ngx_http_cx_hook_t       *hook, **hp;
    ngx_http_cx_main_conf_t  *cmcf;

    hook = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_hook_t));
    if (hook == NULL) {
        return NGX_CONF_ERROR;
    }

    hook->path = *path;
    hook->ref = LUA_NOREF;

    /* relative to nginx.conf's directory, as "include" resolves: "cx/x.lua" */
    if (ngx_conf_full_name(cf->cycle, &hook->path, 1) != NGX_OK) {
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

    src = ngx_cx_lua_sandbox_read((char *) hook->path.data, &len);
    if (src == NULL) {
        /* named as the directive was: cx_target_by_lua_file, by_lua_file */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V: cannot read \"%V\"",
                           (ngx_str_t *) cf->args->elts, &hook->path);
        return NGX_CONF_ERROR;
    }

    hook->source.data = ngx_pnalloc(cf->pool, len + 1);
    if (hook->source.data == NULL) {
        free(src);
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(hook->source.data, src, len);
    hook->source.data[len] = '\0';
    hook->source.len = len;
    free(src);

    L = luaL_newstate();
    if (L == NULL) {
        return NGX_CONF_ERROR;
    }

    /* "t": text only, a precompiled (bytecode) chunk is refused */
    if (luaL_loadbufferx(L, (char *) hook->source.data, hook->source.len,
                         (char *) hook->chunkname, "t")
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V: %s",
                           (ngx_str_t *) cf->args->elts, lua_tostring(L, -1));
        lua_close(L);
        return NGX_CONF_ERROR;
    }

    lua_close(L);

    /* every worker loads it at start (ngx_http_cx_lua_init) */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);

    hp = ngx_array_push(&cmcf->hooks);
    if (hp == NULL) {
        return NGX_CONF_ERROR;
    }

    *hp = hook;
    *hookp = hook;

    return NGX_CONF_OK;
}


/* Worker start: the VM, the sandbox, the cx table, every hook loaded. */

ngx_int_t
ngx_http_cx_lua_init(ngx_cycle_t *cycle, ngx_http_cx_main_conf_t *cmcf)
{
    lua_State   *L;
    ngx_str_t   *dirs;
    ngx_uint_t   i;

    if (cmcf->hooks.nelts == 0) {
        return NGX_OK;
    }

    L = ngx_cx_lua_sandbox_open(cmcf->lua_memory, cmcf->lua_budget,
                                (uint64_t) cmcf->lua_time * 1000);
    if (L == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "cx: cannot create the Lua VM: no hook will run");
        return NGX_ERROR;
    }

    dirs = cmcf->lua_paths.elts;

    for (i = 0; i < cmcf->lua_paths.nelts; i++) {
        if (ngx_cx_lua_sandbox_add_path((char *) dirs[i].data, dirs[i].len)
            != 0)
        {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "cx: cannot build the Lua sandbox: "
                          "no hook will run");
            ngx_cx_lua_sandbox_close();
            return NGX_ERROR;
        }
    }

    ngx_cx_lua_sandbox_build(L);

    ngx_http_cx_lua_view_build(L);
    ngx_http_cx_lua_cx = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);

    for (i = 0; i < cmcf->hooks.nelts; i++) {
        (void) ngx_http_cx_lua_load(((ngx_http_cx_hook_t **)
                                     cmcf->hooks.elts)[i], cycle->log);
    }

    return NGX_OK;
}


/* A hook's file runs once, in its own environment, and gives its function. */

static ngx_int_t
ngx_http_cx_lua_load(ngx_http_cx_hook_t *hook, ngx_log_t *log)
{
    int                    rc;
    lua_State             *L;
    ngx_cx_lua_sandbox_t  *sb = &ngx_cx_lua_sandbox;

    L = sb->L;

    if (ngx_cx_lua_sandbox_load(L, (char *) hook->source.data,
                                hook->source.len, (char *) hook->chunkname)
        != 0)
    {
        ngx_http_cx_lua_log(hook, ngx_time(), log, "cannot load",
                            lua_tostring(L, -1));
        lua_settop(L, 0);
        return NGX_ERROR;
    }

    ngx_cx_lua_sandbox_start();

    /*
     * Loading runs before the worker serves anything, and a load cut
     * short disables the hook for the worker's life: a second, so that
     * a cold start (page faults, a busy machine) is not taken for a
     * loop.  The instruction budget holds as for a call.
     */
    sb->deadline += ngx_max(sb->time, 1000000) - sb->time;

    rc = lua_pcall(L, 0, 1, 0);

    ngx_cx_lua_sandbox_finish(L);

    if (rc != 0) {
        ngx_http_cx_lua_log(hook, ngx_time(), log, "failed to start",
                            lua_type(L, -1) == LUA_TSTRING
                            ? lua_tostring(L, -1) : "not enough memory");
        lua_settop(L, 0);
        return NGX_ERROR;
    }

    if (lua_type(L, -1) != LUA_TFUNCTION) {
        ngx_http_cx_lua_log(hook, ngx_time(), log, "is not usable",
                            "the file must return a function");
        lua_settop(L, 0);
        return NGX_ERROR;
    }

    hook->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);

    return NGX_OK;
}


void
ngx_http_cx_lua_exit(void)
{
    ngx_cx_lua_sandbox_close();
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
    ngx_http_cx_main_conf_t  *cmcf;

    L = ngx_cx_lua_sandbox.L;

    res->survey = NULL;
    res->attrs_len = 0;
    res->attr_numbers = 0;

    if (L == NULL || hook->ref == LUA_NOREF) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    ngx_http_cx_lua_call.r = r;
    ngx_http_cx_lua_call.ctx = ctx;
    ngx_http_cx_lua_call.prompt = prompt;

    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, hook->ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_http_cx_lua_cx);

    ngx_cx_lua_sandbox_start();

    rc = lua_pcall(L, 1, 2, 0);

    ngx_cx_lua_sandbox_finish(L);

    /* outside a call the cx table reads nothing */
    ngx_http_cx_lua_call.r = NULL;

    if (rc != 0) {
        ngx_http_cx_lua_failed(r->connection->log, ctx->now, hook, rc);
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


/*
 * An alert's hook (cx_alert ... by_lua_file): called by the sender before
 * each delivery with a plain table of the alert and its response, fresh
 * per call (alerts are few; the request view is for pages).  Answers
 * NGX_OK with res->attrs the fields to add to the payload, NGX_DECLINED
 * when it vetoes (false or nil), NGX_ERROR when it failed (logged).
 */

ngx_int_t
ngx_http_cx_lua_alert(ngx_http_cx_hook_t *hook, ngx_log_t *log,
    ngx_http_cx_lua_alert_t *a, ngx_http_cx_hook_result_t *res)
{
    int                   rc;
    time_t                now;
    lua_State            *L;
    ngx_cx_bytes_t        cursor, k, v;
    ngx_cx_record_t      *rec;

    L = ngx_cx_lua_sandbox.L;
    now = ngx_time();
    res->attrs_len = 0;
    res->attr_numbers = 0;

    if (L == NULL || hook->ref == LUA_NOREF) {
        return NGX_ERROR;
    }

    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, hook->ref);

    lua_createtable(L, 0, 12);
    lua_pushlstring(L, (char *) a->rule.data, a->rule.len);
    lua_setfield(L, -2, "alert");
    lua_pushinteger(L, (lua_Integer) a->level);
    lua_setfield(L, -2, "level");

    rec = a->rec;

    if (rec) {
        lua_pushlstring(L, (char *) rec->survey.data, rec->survey.len);
        lua_setfield(L, -2, "survey");
        lua_pushstring(L, ngx_cx_type_name(rec->type));
        lua_setfield(L, -2, "type");

        if (rec->flags & NGX_CX_REC_ANSWERED) {
            lua_pushinteger(L, rec->score);
            lua_setfield(L, -2, "score");
            lua_pushstring(L, ngx_cx_band_name(ngx_cx_band(rec->type,
                                                           rec->score)));
            lua_setfield(L, -2, "band");
        }

        lua_pushlstring(L, (char *) rec->comment.data, rec->comment.len);
        lua_setfield(L, -2, "comment");
        lua_pushlstring(L, (char *) rec->touchpoint.data,
                        rec->touchpoint.len);
        lua_setfield(L, -2, "touchpoint");
        lua_pushstring(L, ngx_cx_stage_name(rec->stage));
        lua_setfield(L, -2, "stage");

        lua_createtable(L, 0, 4);
        cursor = rec->attrs;

        while (ngx_cx_attrs_next(&cursor, &k, &v) == 1) {
            lua_pushlstring(L, (char *) k.data, k.len);
            lua_pushlstring(L, (char *) v.data, v.len);
            lua_rawset(L, -3);
        }

        lua_setfield(L, -2, "attributes");
    }

    ngx_cx_lua_sandbox_start();

    rc = lua_pcall(L, 1, 2, 0);

    ngx_cx_lua_sandbox_finish(L);

    if (rc != 0) {
        ngx_http_cx_lua_failed(log, now, hook, rc);
        return NGX_ERROR;
    }

    if (lua_type(L, 1) == LUA_TNIL
        || (lua_type(L, 1) == LUA_TBOOLEAN && !lua_toboolean(L, 1)))
    {
        lua_settop(L, 0);
        return NGX_DECLINED;
    }

    if (lua_type(L, 1) != LUA_TBOOLEAN) {
        ngx_http_cx_lua_log(hook, now, log, "failed",
                            "must return true or false, and a table of "
                            "fields");
        lua_settop(L, 0);
        return NGX_ERROR;
    }

    if (lua_type(L, 2) == LUA_TTABLE) {
        (void) ngx_http_cx_lua_attrs(L, 2, hook, now, log, res);
    }

    lua_settop(L, 0);

    return NGX_OK;
}


/* A call that raised an error, or ran out of memory: one line. */

static void
ngx_http_cx_lua_failed(ngx_log_t *log, time_t now, ngx_http_cx_hook_t *hook,
    int rc)
{
    char       *where;
    lua_State  *L;

    L = ngx_cx_lua_sandbox.L;
    where = ngx_cx_lua_sandbox.where;

    if (rc == LUA_ERRMEM) {
        /* the last known position, else at least the file */
        if (where[0] == '\0') {
            ngx_snprintf((u_char *) where,
                         sizeof(ngx_cx_lua_sandbox.where) - 1,
                         "%V: %Z", &hook->path);
        }

        ngx_snprintf((u_char *) where + ngx_strlen(where),
                     sizeof(ngx_cx_lua_sandbox.where) - ngx_strlen(where) - 1,
                     "not enough memory (cx_lua_memory)%Z");
    }

    ngx_http_cx_lua_log(hook, now, log, "failed",
                        rc == LUA_ERRMEM ? where
                        : lua_type(L, -1) == LUA_TSTRING
                          ? lua_tostring(L, -1)
                          : "error object is not a string");
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
}


/*
 * The attributes table: string keys, string or number values, bounded.
 * Which values were numbers is kept beside the pairs: a prompt's token
 * carries it in NGX_CX_ATTRS_PACK_EXTRA bytes of its room (ngx_cx_record.h).
 */

static ngx_int_t
ngx_http_cx_lua_attrs(lua_State *L, int idx, ngx_http_cx_hook_t *hook,
    time_t now, ngx_log_t *log, ngx_http_cx_hook_result_t *res)
{
    int          type, pushed;
    size_t       klen, vlen, n, room;
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

        room = sizeof(res->attrs) - res->attrs_len;

        if (res->attr_numbers || type == LUA_TNUMBER) {
            room = (room > NGX_CX_ATTRS_PACK_EXTRA)
                   ? room - NGX_CX_ATTRS_PACK_EXTRA : 0;
        }

        n = (count < NGX_HTTP_CX_LUA_ATTRS)
            ? ngx_cx_attrs_put(res->attrs + res->attrs_len, room,
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

        if (type == LUA_TNUMBER) {
            res->attr_numbers |= 1u << count;
        }

        res->attrs_len += n;
        count++;
    }

    return NGX_OK;
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
