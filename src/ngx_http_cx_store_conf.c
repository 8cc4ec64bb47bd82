/*
 * The store's directives: cx_store (where, and how large the map may
 * grow) and cx_thread_pool (where commits run, off the event loop).  The
 * store itself is ngx_http_cx_store.c.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"


/* cx_store PATH [max_size=SIZE] */

char *
ngx_http_cx_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    off_t       size;
    ngx_str_t  *value, s;

    if (cmcf->store_path.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    cmcf->store_path = value[1];
    cmcf->used = 1;

    /* the store is checked once the path is absolute: errors point here */
    cmcf->store_file = cf->conf_file->file.name.data;
    cmcf->store_line = cf->conf_file->line;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "max_size=", 9) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_store: unknown parameter \"%V\", "
                               "expected \"max_size=\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 9;
        s.len = value[2].len - 9;

        size = ngx_parse_offset(&s);

        /* LMDB needs room for its meta pages and a few trees */
        if (size == NGX_ERROR || size < 1024 * 1024
            || (uint64_t) size > (uint64_t) NGX_MAX_SIZE_T_VALUE)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_store: max_size \"%V\" is not a size of "
                               "at least 1m (e.g. \"max_size=1g\")", &s);
            return NGX_CONF_ERROR;
        }

        cmcf->store_max_size = (size_t) size;
    }

    return NGX_CONF_OK;
}


/* cx_thread_pool NAME: the thread pool that commits answers */

char *
ngx_http_cx_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    ngx_str_t  *value;

    if (cmcf->thread_pool_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    cmcf->thread_pool_name = value[1];

#if (NGX_THREADS)
    /* an unknown pool fails here, at this line */
    if (ngx_thread_pool_add(cf, &value[1]) == NULL) {
        return NGX_CONF_ERROR;
    }
#endif

    return NGX_CONF_OK;
}


/*
 * postconfiguration: the pool the store commits in, and whether the store
 * can be created where cx_store says (checked, not created: "nginx -t"
 * must leave nothing behind).  A bad path fails "nginx -t"; at start and
 * reload it is an [alert] at cx_store's line, and the site stays up without
 * prompts, as for any store that cannot be prepared.
 */

ngx_int_t
ngx_http_cx_store_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf)
{
    if (ngx_http_cx_store_check(cf, cmcf) != NGX_OK && ngx_test_config) {
        return NGX_ERROR;
    }

#if (NGX_THREADS)
    if (ngx_thread_pool_add(cf, &cmcf->thread_pool_name) == NULL) {
        return NGX_ERROR;
    }
#else
    ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                  "ngx_cx: nginx was built without threads, answers are "
                  "committed in the event loop (build with --with-threads)");
#endif

    return NGX_OK;
}
