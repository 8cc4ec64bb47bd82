/*
 * The Lua directives: cx_target_by_lua_file (a location's hook, compiled
 * at once so that a syntax error fails "nginx -t"), cx_lua_package_path,
 * cx_lua_time and cx_lua_memory, and where require looks by default.
 * The hooks themselves run in ngx_http_cx_lua.c.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_lua.h"


/* cx_target_by_lua_file FILE: the location's targeting hook */

char *
ngx_http_cx_target_by_lua_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cx_loc_conf_t *lcf = conf;

    char                     *rv;
    ngx_str_t                *value;
    ngx_http_cx_main_conf_t  *cmcf;

    if (lcf->hook != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rv = ngx_http_cx_lua_hook_conf(cf, &value[1], &lcf->hook);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    return NGX_CONF_OK;
}


/*
 * cx_lua_time: how long one call of a hook may hold its worker, and every
 * request on it.  Up to a second: beyond, the worker is not serving.
 */

char *
ngx_http_cx_lua_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    ngx_msec_t  ms;
    ngx_str_t  *value;

    if (cmcf->lua_time != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms < 1 || ms > 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_lua_time \"%V\" is not a time from 1ms "
                           "to 1s", &value[1]);
        return NGX_CONF_ERROR;
    }

    cmcf->lua_time = ms;

    return NGX_CONF_OK;
}


/* cx_lua_memory SIZE: "1g" too, ngx_parse_size of 1.22 knows k and m only */

char *
ngx_http_cx_lua_memory(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    off_t       size;
    ngx_str_t  *value;

    if (cmcf->lua_memory != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;
    size = ngx_parse_offset(&value[1]);

    if (size == NGX_ERROR || size < 1024 * 1024
        || size > 1024 * 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_lua_memory \"%V\" is not a size from 1m "
                           "to 1g", &value[1]);
        return NGX_CONF_ERROR;
    }

    cmcf->lua_memory = (size_t) size;

    return NGX_CONF_OK;
}


/* cx_lua_package_path DIR ...: searched first by require */

char *
ngx_http_cx_lua_package_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    ngx_str_t   *value, *path;
    ngx_uint_t   i;

    if (cmcf->lua_paths.nelts) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        path = ngx_array_push(&cmcf->lua_paths);
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }

        *path = value[i];

        while (path->len > 1 && path->data[path->len - 1] == '/') {
            path->len--;
        }

        /* beside the hooks: relative to nginx.conf's directory */
        if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* after cx_lua_package_path: the prefix's lua/, then the built-in one */

ngx_int_t
ngx_http_cx_lua_init_main_conf(ngx_conf_t *cf, ngx_http_cx_main_conf_t *cmcf)
{
    ngx_str_t  *path;

    path = ngx_array_push(&cmcf->lua_paths);
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(path, "lua");
    if (ngx_conf_full_name(cf->cycle, path, 0) != NGX_OK) {
        return NGX_ERROR;
    }

#ifdef NGX_HTTP_CX_LUA_DIR
    path = ngx_array_push(&cmcf->lua_paths);
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(path, NGX_HTTP_CX_LUA_DIR);
#endif

    return NGX_OK;
}
