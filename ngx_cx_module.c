/*
 * ngx_cx — customer-feedback surveys at the web server.
 *
 * This file is the module's front door: the directives, the configuration
 * structures' life cycle, the checks that make "nginx -t" catch every
 * misconfiguration, and the process hooks that open the store.  The work
 * itself lives in src/, one concern per file (see src/ngx_http_cx.h).
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_lua.h"


static ngx_int_t ngx_http_cx_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_cx_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_cx_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_cx_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_cx_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_cx_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cx_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_cx_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_cookie_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cx_touchpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_prompt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_target_by_lua_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cx_lua_package_path(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cx_lua_time(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_lua_memory(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_report(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_cx_parse_percent(ngx_str_t *value,
    ngx_uint_t *per10000);
static ngx_int_t ngx_http_cx_prompt_after(ngx_conf_t *cf,
    ngx_http_cx_prompt_t *prompt, ngx_str_t *value);
static char *ngx_http_cx_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cx_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_http_cx_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_cx_init_process(ngx_cycle_t *cycle);
static void ngx_http_cx_exit_process(ngx_cycle_t *cycle);



static ngx_conf_num_bounds_t  ngx_http_cx_lua_budget_bounds = {
    ngx_conf_check_num_bounds, 1000, 100000000
};



static ngx_str_t  ngx_http_cx_default_types[] = {
    ngx_string("text/html"),
    ngx_null_string
};


static ngx_command_t  ngx_http_cx_commands[] = {

    { ngx_string("cx_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_cx_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_secret_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cx_cookie_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_quiet_period"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, quiet_period),
      NULL },

    { ngx_string("cx_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, retention),
      NULL },

    { ngx_string("cx_respect_gpc"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, respect_gpc),
      NULL },

    { ngx_string("cx_test_clock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, test_clock),
      NULL },

    { ngx_string("cx_target_by_lua_file"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_target_by_lua_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_lua_package_path"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cx_lua_package_path,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_lua_budget"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, lua_budget),
      &ngx_http_cx_lua_budget_bounds },

    { ngx_string("cx_lua_memory"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_lua_memory,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_lua_time"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_lua_time,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_survey"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_cx_survey_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cx_loc_conf_t, types_keys),
      &ngx_http_cx_default_types[0] },

    { ngx_string("cx_touchpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_cx_touchpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_prompt"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_cx_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cx_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_report"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cx_report,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_cx_module_ctx = {
    ngx_http_cx_add_variables,             /* preconfiguration */
    ngx_http_cx_postconfiguration,         /* postconfiguration */

    ngx_http_cx_create_main_conf,          /* create main configuration */
    ngx_http_cx_init_main_conf,            /* init main configuration */

    ngx_http_cx_create_srv_conf,           /* create server configuration */
    ngx_http_cx_merge_srv_conf,            /* merge server configuration */

    ngx_http_cx_create_loc_conf,           /* create location configuration */
    ngx_http_cx_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_http_cx_module = {
    NGX_MODULE_V1,
    &ngx_http_cx_module_ctx,               /* module context */
    ngx_http_cx_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_cx_init_module,               /* init module */
    ngx_http_cx_init_process,              /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_cx_exit_process,              /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_cx_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->store_path = { 0, NULL };
     *     cmcf->secret_file = { 0, NULL };
     *     cmcf->cookie_name = { 0, NULL };
     *     cmcf->cookie_domain = { 0, NULL };
     *     cmcf->thread_pool_name = { 0, NULL };
     */

    cmcf->store_max_size = NGX_CONF_UNSET_SIZE;
    cmcf->cookie_max_age = NGX_CONF_UNSET;
    cmcf->cookie_secure = NGX_CONF_UNSET;
    cmcf->cookie_samesite = NGX_CONF_UNSET_UINT;
    cmcf->token_ttl = NGX_CONF_UNSET;
    cmcf->comment_max = NGX_CONF_UNSET_SIZE;
    cmcf->quiet_period = NGX_CONF_UNSET;
    cmcf->retention = NGX_CONF_UNSET;
    cmcf->respect_gpc = NGX_CONF_UNSET;
    cmcf->test_clock = NGX_CONF_UNSET;

    if (ngx_array_init(&cmcf->surveys, cf->pool, 4,
                       sizeof(ngx_http_cx_survey_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&cmcf->prompts, cf->pool, 4,
                       sizeof(ngx_http_cx_prompt_t *))
        != NGX_OK
        || ngx_array_init(&cmcf->hooks, cf->pool, 2,
                          sizeof(ngx_http_cx_hook_t *))
           != NGX_OK
        || ngx_array_init(&cmcf->lua_paths, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    cmcf->lua_budget = NGX_CONF_UNSET_UINT;
    cmcf->lua_memory = NGX_CONF_UNSET_SIZE;
    cmcf->lua_time = NGX_CONF_UNSET_MSEC;

    return cmcf;
}


static char *
ngx_http_cx_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    u_char     *p;
    size_t      len;
    ngx_str_t  *path;

    if (cmcf->store_path.len == 0) {
        ngx_str_set(&cmcf->store_path, NGX_HTTP_CX_DEFAULT_STORE);
    }

    if (ngx_conf_full_name(cf->cycle, &cmcf->store_path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_size_value(cmcf->store_max_size,
                             NGX_HTTP_CX_DEFAULT_MAP_SIZE);
    ngx_conf_init_value(cmcf->cookie_max_age, NGX_HTTP_CX_DEFAULT_MAX_AGE);
    ngx_conf_init_value(cmcf->cookie_secure, 0);
    ngx_conf_init_uint_value(cmcf->cookie_samesite, 1);
    ngx_conf_init_value(cmcf->token_ttl, NGX_HTTP_CX_DEFAULT_TOKEN_TTL);
    ngx_conf_init_size_value(cmcf->comment_max, NGX_HTTP_CX_COMMENT_MAX);
    ngx_conf_init_value(cmcf->quiet_period, 0);
    ngx_conf_init_value(cmcf->retention, 0);
    ngx_conf_init_value(cmcf->respect_gpc, 1);
    ngx_conf_init_value(cmcf->test_clock, 0);

    ngx_conf_init_uint_value(cmcf->lua_budget, NGX_HTTP_CX_LUA_BUDGET);
    ngx_conf_init_size_value(cmcf->lua_memory, NGX_HTTP_CX_LUA_MEMORY);
    ngx_conf_init_msec_value(cmcf->lua_time, NGX_HTTP_CX_LUA_TIME);

    /* after cx_lua_package_path: the prefix's lua/, then the built-in one */
    path = ngx_array_push(&cmcf->lua_paths);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(path, "lua");
    if (ngx_conf_full_name(cf->cycle, path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

#ifdef NGX_HTTP_CX_LUA_DIR
    path = ngx_array_push(&cmcf->lua_paths);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(path, NGX_HTTP_CX_LUA_DIR);
#endif

    if (cmcf->test_clock) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "cx_test_clock is on: clients can set the time "
                           "with X-CX-Test-Now; never use it in production");
    }

    if (cmcf->cookie_name.len == 0) {
        ngx_str_set(&cmcf->cookie_name, NGX_HTTP_CX_DEFAULT_COOKIE);
    }

    if (cmcf->thread_pool_name.len == 0) {
        ngx_str_set(&cmcf->thread_pool_name, "default");
    }

    /* the cookie's attributes never change: render them once */

    len = sizeof("; Max-Age=; Path=/; HttpOnly; SameSite=Strict; Secure")
          + NGX_TIME_T_LEN + sizeof("; Domain=") + cmcf->cookie_domain.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    cmcf->cookie_attrs.data = p;

    p = ngx_sprintf(p, "; Max-Age=%T; Path=/; HttpOnly",
                    cmcf->cookie_max_age);

    switch (cmcf->cookie_samesite) {
    case 0:
        p = ngx_cpymem(p, "; SameSite=None", sizeof("; SameSite=None") - 1);
        break;
    case 2:
        p = ngx_cpymem(p, "; SameSite=Strict",
                       sizeof("; SameSite=Strict") - 1);
        break;
    default:
        p = ngx_cpymem(p, "; SameSite=Lax", sizeof("; SameSite=Lax") - 1);
    }

    if (cmcf->cookie_secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    if (cmcf->cookie_domain.len) {
        p = ngx_sprintf(p, "; Domain=%V", &cmcf->cookie_domain);
    }

    cmcf->cookie_attrs.len = p - cmcf->cookie_attrs.data;

    return NGX_CONF_OK;
}


static void *
ngx_http_cx_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_cx_srv_conf_t  *cscf;

    cscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_srv_conf_t));
    if (cscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cscf->endpoint = { 0, NULL };
     */

    return cscf;
}


static char *
ngx_http_cx_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    return NGX_CONF_OK;
}


static void *
ngx_http_cx_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_cx_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lcf->touchpoint = { 0, NULL };
     *     lcf->types = { NULL };
     *     lcf->types_keys = NULL;
     */

    lcf->stage = NGX_CONF_UNSET_UINT;
    lcf->prompts = NGX_CONF_UNSET_PTR;
    lcf->hook = NGX_CONF_UNSET_PTR;

    return lcf;
}


static char *
ngx_http_cx_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_cx_loc_conf_t *prev = parent;
    ngx_http_cx_loc_conf_t *conf = child;

    if (conf->touchpoint.data == NULL) {
        conf->touchpoint = prev->touchpoint;
        conf->touchpoint_id = prev->touchpoint_id;
        conf->stage = prev->stage;
    }

    ngx_conf_merge_uint_value(conf->stage, prev->stage, 0);
    ngx_conf_merge_ptr_value(conf->prompts, prev->prompts, NULL);
    ngx_conf_merge_ptr_value(conf->hook, prev->hook, NULL);

    /*
     * An answer is read in memory: it is small, and a temp file would be
     * disk I/O on the intake path.  The core module has merged already.
     */
    if (conf->endpoint_clcf
        && conf->endpoint_clcf->client_body_buffer_size
           < 2 * NGX_HTTP_CX_BODY_MAX)
    {
        conf->endpoint_clcf->client_body_buffer_size = 2 * NGX_HTTP_CX_BODY_MAX;
    }

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_cx_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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


static char *
ngx_http_cx_cookie_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    u_char      *p;
    time_t       age;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (cmcf->cookie_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_cookie: the cookie needs a name");
        return NGX_CONF_ERROR;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!(ngx_http_cx_isalnum(*p) || *p == '_' || *p == '-')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_cookie: the name \"%V\" may contain only "
                               "letters, digits, \"_\" and \"-\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    cmcf->cookie_name = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_age=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;
            age = ngx_parse_time(&s, 1);
            if (age == (time_t) NGX_ERROR || age == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_cookie: max_age \"%V\" is not a "
                                   "duration such as \"400d\"", &s);
                return NGX_CONF_ERROR;
            }
            cmcf->cookie_max_age = age;
            continue;
        }

        if (ngx_strncmp(value[i].data, "samesite=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;
            if (s.len == 4 && ngx_strncasecmp(s.data, (u_char *) "none", 4)
                              == 0)
            {
                cmcf->cookie_samesite = 0;
            } else if (s.len == 3
                       && ngx_strncasecmp(s.data, (u_char *) "lax", 3) == 0)
            {
                cmcf->cookie_samesite = 1;
            } else if (s.len == 6
                       && ngx_strncasecmp(s.data, (u_char *) "strict", 6)
                          == 0)
            {
                cmcf->cookie_samesite = 2;
            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_cookie: samesite must be \"lax\", "
                                   "\"strict\" or \"none\", not \"%V\"", &s);
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strcmp(value[i].data, "secure") == 0) {
            cmcf->cookie_secure = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            for (p = s.data; p < s.data + s.len; p++) {
                if (!(ngx_http_cx_isalnum(*p) || *p == '.' || *p == '-')) {
                    s.len = 0;
                    break;
                }
            }
            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_cookie: \"%V\" is not a domain such "
                                   "as \"domain=.example.com\"", &value[i]);
                return NGX_CONF_ERROR;
            }
            cmcf->cookie_domain = s;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_cookie: unknown parameter \"%V\"; expected "
                           "max_age=, samesite=, secure or domain=",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (cmcf->cookie_samesite == 0 && cmcf->cookie_secure != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_cookie: samesite=none needs \"secure\" "
                           "(browsers drop such cookies otherwise)");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_touchpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_loc_conf_t *lcf = conf;

    ngx_str_t                *value, s;
    ngx_uint_t                i;
    ngx_http_cx_main_conf_t  *cmcf;

    if (lcf->touchpoint.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_CX_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_touchpoint: a name of 1 to %d characters is "
                           "needed", NGX_CX_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[1].len; i++) {
        if (!(ngx_http_cx_isalnum(value[1].data[i]) || value[1].data[i] == '_'
              || value[1].data[i] == '-' || value[1].data[i] == '.'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_touchpoint: the name \"%V\" may contain "
                               "only letters, digits, \"_\", \"-\" and \".\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    lcf->touchpoint = value[1];
    lcf->touchpoint_id = ngx_cx_name_id(value[1].data, value[1].len);
    lcf->stage = 0;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "stage=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_touchpoint: unknown parameter \"%V\", "
                               "expected \"stage=\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        lcf->stage = ngx_cx_stage_from_name((char *) s.data, s.len);

        if (lcf->stage == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_touchpoint: unknown stage \"%V\"; the "
                               "stages are awareness, consideration, "
                               "purchase, usage, loyalty and advocacy", &s);
            return NGX_CONF_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_prompt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_loc_conf_t *lcf = conf;

    ngx_int_t                          n;
    ngx_str_t                         *value, s;
    ngx_uint_t                         i;
    ngx_msec_t                         delay;
    ngx_http_cx_prompt_t              *prompt, **pp;
    ngx_http_compile_complex_value_t   ccv;
    ngx_http_cx_main_conf_t   *cmcf;

    value = cf->args->elts;

    /* pointers: the prompt is also listed in the main conf, to check */
    if (lcf->prompts == NGX_CONF_UNSET_PTR) {
        lcf->prompts = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_cx_prompt_t *));
        if (lcf->prompts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    prompt = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_prompt_t));
    pp = ngx_array_push(lcf->prompts);
    if (prompt == NULL || pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = prompt;

    prompt->survey_name = value[1];
    prompt->sample = 10000;
    prompt->file = cf->conf_file->file.name.data;
    prompt->line = cf->conf_file->line;
    prompt->srv = ngx_http_conf_get_module_srv_conf(cf, ngx_http_cx_module);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "sample=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            if (ngx_http_cx_parse_percent(&s, &prompt->sample) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: sample \"%V\" is not a "
                                   "percentage from 0%% to 100%% such as "
                                   "\"25%%\" or \"2.5%%\"", &s);
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "delay=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;
            delay = ngx_parse_time(&s, 0);
            if (delay == (ngx_msec_t) NGX_ERROR || delay > 3600000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: delay \"%V\" is not a "
                                   "duration up to 1h such as \"3s\" or "
                                   "\"500ms\"", &s);
                return NGX_CONF_ERROR;
            }
            prompt->delay = delay;
            continue;
        }

        if (ngx_strncmp(value[i].data, "after=", 6) == 0) {
            if (ngx_http_cx_prompt_after(cf, prompt, &value[i]) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "min_visits=", 11) == 0) {
            n = ngx_atoi(value[i].data + 11, value[i].len - 11);
            if (n == NGX_ERROR || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: min_visits \"%V\" is not a "
                                   "number from 0 to 65535", &value[i]);
                return NGX_CONF_ERROR;
            }
            prompt->min_visits = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "if=", 3) == 0) {
            s.data = value[i].data + 3;
            s.len = value[i].len - 3;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: if= needs a value such as "
                                   "\"if=$cookie_logged_in\"");
                return NGX_CONF_ERROR;
            }

            prompt->cond = ngx_palloc(cf->pool,
                                      sizeof(ngx_http_complex_value_t));
            if (prompt->cond == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = prompt->cond;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_prompt: unknown parameter \"%V\"; expected "
                           "sample=, delay=, after=, min_visits= or if=",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    /* surveys and endpoints may be declared later: checked at the end */
    pp = ngx_array_push(&cmcf->prompts);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = prompt;

    return NGX_CONF_OK;
}


/* after=purchase,cart: every listed touchpoint must have been visited */

static ngx_int_t
ngx_http_cx_prompt_after(ngx_conf_t *cf, ngx_http_cx_prompt_t *prompt,
    ngx_str_t *value)
{
    u_char    *p, *last, *start;
    uint32_t  *id;

    prompt->after = ngx_array_create(cf->pool, 2, sizeof(uint32_t));
    if (prompt->after == NULL) {
        return NGX_ERROR;
    }

    p = value->data + 6;
    last = value->data + value->len;

    while (p <= last) {
        start = p;

        while (p < last && *p != ',') {
            if (!(ngx_http_cx_isalnum(*p) || *p == '_' || *p == '-'
                  || *p == '.'))
            {
                goto invalid;
            }
            p++;
        }

        if (p == start || p - start > NGX_CX_NAME_MAX) {
            goto invalid;
        }

        id = ngx_array_push(prompt->after);
        if (id == NULL) {
            return NGX_ERROR;
        }

        *id = ngx_cx_name_id(start, p - start);
        p++;
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "cx_prompt: \"%V\" must name touchpoints, such as "
                       "\"after=purchase\" or \"after=cart,purchase\"",
                       value);
    return NGX_ERROR;
}


/* "25%", "2.5%", "100%" -> per ten thousand */

static ngx_int_t
ngx_http_cx_parse_percent(ngx_str_t *value, ngx_uint_t *per10000)
{
    u_char      *p, *last;
    ngx_uint_t   n, decimals;

    p = value->data;
    last = p + value->len;

    if (value->len < 2 || last[-1] != '%') {
        return NGX_ERROR;
    }

    last--;
    n = 0;
    decimals = 0;

    if (!ngx_http_cx_isdigit(*p)) {
        return NGX_ERROR;
    }

    while (p < last && ngx_http_cx_isdigit(*p) && n <= 100) {
        n = n * 10 + (*p++ - '0');
    }

    n *= 100;

    if (p < last && *p == '.') {
        p++;

        if (p == last) {
            return NGX_ERROR;
        }

        while (p < last && ngx_http_cx_isdigit(*p) && decimals < 2) {
            n += (*p++ - '0') * (decimals == 0 ? 10 : 1);
            decimals++;
        }
    }

    if (p != last || n > 10000) {
        return NGX_ERROR;
    }

    *per10000 = n;

    return NGX_OK;
}


static char *
ngx_http_cx_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                     c;
    ngx_uint_t                 i;
    ngx_http_cx_srv_conf_t    *cscf;
    ngx_http_cx_main_conf_t   *cmcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_cx_module);

    if (cscf->endpoint.data) {
        return "is duplicate: a server has one cx_endpoint location";
    }

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/'
        || clcf->regex || clcf->named || clcf->exact_match)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_endpoint must be in a prefix location ending "
                           "in \"/\", such as \"location /cx/ { cx_endpoint; "
                           "}\"");
        return NGX_CONF_ERROR;
    }

    /* the URI goes into pages as JSON and as an attribute: no escaping */
    for (i = 0; i < clcf->name.len; i++) {
        c = clcf->name.data[i];

        if (!(ngx_http_cx_isalnum(c) || c == '/' || c == '-' || c == '_'
              || c == '.' || c == '~'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_endpoint: the location \"%V\" may contain "
                               "only letters, digits and \"/-_.~\"",
                               &clcf->name);
            return NGX_CONF_ERROR;
        }
    }

    cscf->endpoint = clcf->name;
    clcf->handler = ngx_http_cx_endpoint_handler;
    ((ngx_http_cx_loc_conf_t *) conf)->endpoint_clcf = clcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_target_by_lua_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cx_loc_conf_t *lcf = conf;

    char                      *rv;
    ngx_str_t                 *value;
    ngx_http_cx_hook_t       **hp;
    ngx_http_cx_main_conf_t   *cmcf;

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

    hp = ngx_array_push(&cmcf->hooks);
    if (hp == NULL) {
        return NGX_CONF_ERROR;
    }

    *hp = lcf->hook;

    return NGX_CONF_OK;
}


/*
 * cx_lua_time: how long one call of a hook may hold its worker, and every
 * request on it.  Up to a second: beyond, the worker is not serving.
 */

static char *
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


/* "1g" too: ngx_parse_size of 1.22 knows k and m only */

static char *
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

static char *
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

        if (ngx_conf_full_name(cf->cycle, path, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_report(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t   *cmcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/'
        || clcf->regex || clcf->named || clcf->exact_match)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_report must be in a prefix location ending "
                           "in \"/\", such as \"location /cx-admin/ { "
                           "cx_report; allow 127.0.0.1; deny all; }\"");
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_cx_report_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cx_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                 i;
    ngx_http_cx_prompt_t      *prompt, **prompts;
    ngx_http_cx_survey_t      *survey;
    ngx_http_cx_main_conf_t   *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);

    if (!cmcf->used && cmcf->surveys.nelts == 0) {
        return NGX_OK;
    }

    survey = cmcf->surveys.elts;
    for (i = 0; i < cmcf->surveys.nelts; i++) {
        if (ngx_http_cx_survey_render(cf, &survey[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    prompts = cmcf->prompts.elts;
    for (i = 0; i < cmcf->prompts.nelts; i++) {
        prompt = prompts[i];

        prompt->survey = ngx_http_cx_survey_find(cmcf,
                                                 prompt->survey_name.data,
                                                 prompt->survey_name.len);
        if (prompt->survey == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cx_prompt: unknown survey \"%V\" (declare it "
                          "with cx_survey %V { ... } in the http block) "
                          "in %s:%ui", &prompt->survey_name,
                          &prompt->survey_name, prompt->file, prompt->line);
            return NGX_ERROR;
        }

        if (prompt->srv->endpoint.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cx_prompt: the server has no cx_endpoint "
                          "location to answer the survey (add "
                          "\"location /cx/ { cx_endpoint; }\") in %s:%ui",
                          prompt->file, prompt->line);
            return NGX_ERROR;
        }

        prompt->survey_id = ngx_cx_name_id(prompt->survey_name.data,
                                           prompt->survey_name.len);

        if (ngx_http_cx_prompt_prepare(cf, prompt) != NGX_OK) {
            return NGX_ERROR;
        }
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

    return ngx_http_cx_filter_init(cf);
}


/* Read at once, so that a bad file fails "nginx -t" at its line. */

static char *
ngx_http_cx_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    u_char           *p, *last;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t        *value;
    ngx_file_info_t   fi;

    if (cmcf->secret_file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    cmcf->secret_file = value[1];

    /* relative to the prefix, like cx_store: "conf/cx.key" */
    if (ngx_conf_full_name(cf->cycle, &cmcf->secret_file, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(cmcf->secret_file.data, NGX_FILE_RDONLY,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cx_secret_file: cannot open \"%V\"",
                           &cmcf->secret_file);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_close_file(fd);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_secret_file: \"%V\" must be a file of 32 to "
                           "4096 bytes", &cmcf->secret_file);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, 4096);
    if (p == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, p, 4096);
    ngx_close_file(fd);

    /* "openssl rand -hex 32 > cx.key" leaves a newline: not key material */
    last = (n > 0) ? p + n : p;
    while (last > p && (last[-1] == '\n' || last[-1] == '\r')) {
        last--;
    }

    if (last - p < NGX_HTTP_CX_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_secret_file: \"%V\" holds %z bytes, at least "
                           "%d are needed (e.g. \"openssl rand -hex 32 > "
                           "%V\")", &cmcf->secret_file, (ssize_t) (last - p),
                           NGX_HTTP_CX_SECRET_MIN, &cmcf->secret_file);
        return NGX_CONF_ERROR;
    }

    cmcf->secret.data = p;
    cmcf->secret.len = last - p;

    return NGX_CONF_OK;
}


static char *
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


static ngx_int_t
ngx_http_cx_init_module(ngx_cycle_t *cycle)
{
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cx_module);

    if (cmcf == NULL || !cmcf->used) {
        return NGX_OK;
    }

    /* a store that cannot be prepared leaves the site up, prompts off */
    if (ngx_http_cx_store_prepare(cycle, cmcf) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "ngx_cx: the store is unavailable: no prompts are "
                      "offered and answers are refused with 503");
    }

    (void) ngx_http_cx_keys_init(cycle->log, cmcf);

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_init_process(ngx_cycle_t *cycle)
{
    ngx_http_cx_main_conf_t  *cmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cx_module);

    if (cmcf == NULL || !cmcf->used) {
        return NGX_OK;
    }

#if (NGX_THREADS)
    cmcf->thread_pool = ngx_thread_pool_get(cycle, &cmcf->thread_pool_name);
#endif

    cmcf->store = ngx_http_cx_store_open(cycle, cmcf);

    /* a broken VM offers nothing through hooks; the site stays up */
    (void) ngx_http_cx_lua_init(cycle, cmcf);

    return NGX_OK;
}


static void
ngx_http_cx_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cx_module);

    if (cmcf && cmcf->store) {
        ngx_http_cx_store_close(cmcf->store);
        cmcf->store = NULL;
    }

    ngx_http_cx_lua_exit();
}
