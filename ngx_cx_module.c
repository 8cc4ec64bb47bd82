/*
 * ngx_cx — customer-feedback surveys at the web server.
 *
 * This file is the module's wiring: the command table, the configuration
 * structures' life cycle (create, defaults, merge), the postconfiguration
 * that runs each capability's step, and the process hooks that open the
 * store.  Each directive's handler lives with what it configures, in src/,
 * one concern per file (see src/ngx_http_cx.h), and checks there what
 * "nginx -t" must catch.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_lua.h"
#include "ngx_http_cx_alert.h"
#include "ngx_http_cx_forward.h"


static ngx_int_t ngx_http_cx_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_cx_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_cx_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_cx_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_cx_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_cx_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cx_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_cx_report(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_cx_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_cx_init_process(ngx_cycle_t *cycle);
static void ngx_http_cx_exit_process(ngx_cycle_t *cycle);



static ngx_conf_num_bounds_t  ngx_http_cx_lua_budget_bounds = {
    ngx_conf_check_num_bounds, 1000, 100000000
};

static ngx_conf_num_bounds_t  ngx_http_cx_alert_concurrency_bounds = {
    ngx_conf_check_num_bounds, 1, 64
};


static ngx_str_t  ngx_http_cx_default_types[] = {
    ngx_string("text/html"),
    ngx_null_string
};


static ngx_command_t  ngx_http_cx_commands[] = {

    { ngx_string("cx_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_cx_store_directive,
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

    { ngx_string("cx_alert"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_cx_alert_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_alert_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, alert_concurrency),
      &ngx_http_cx_alert_concurrency_bounds },

    { ngx_string("cx_alert_retry_for"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, alert_retry_for),
      NULL },

    { ngx_string("cx_alert_link"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_alert_link,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_alert_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cx_main_conf_t, alert_trusted),
      NULL },

    { ngx_string("cx_forward"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_cx_forward_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cx_node"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cx_node_directive,
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
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
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
        || ngx_array_init(&cmcf->touchpoints, cf->pool, 8,
                          sizeof(ngx_http_cx_touchpoint_t))
           != NGX_OK
        || ngx_array_init(&cmcf->hooks, cf->pool, 2,
                          sizeof(ngx_http_cx_hook_t *))
           != NGX_OK
        || ngx_array_init(&cmcf->lua_paths, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&cmcf->alerts, cf->pool, 2,
                          sizeof(ngx_http_cx_alert_t))
           != NGX_OK)
    {
        return NULL;
    }

    cmcf->alert_concurrency = NGX_CONF_UNSET_UINT;
    cmcf->alert_retry_for = NGX_CONF_UNSET;

    cmcf->lua_budget = NGX_CONF_UNSET_UINT;
    cmcf->lua_memory = NGX_CONF_UNSET_SIZE;
    cmcf->lua_time = NGX_CONF_UNSET_MSEC;

    return cmcf;
}


static char *
ngx_http_cx_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

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

    ngx_conf_init_uint_value(cmcf->alert_concurrency, 4);
    ngx_conf_init_value(cmcf->alert_retry_for, 86400);

    if (cmcf->alert_trusted.len
        && ngx_conf_full_name(cf->cycle, &cmcf->alert_trusted, 1) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cx_lua_init_main_conf(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

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

    if (ngx_http_cx_visitor_init_main_conf(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

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
ngx_http_cx_report(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                 *value;
    ngx_http_cx_loc_conf_t    *lcf;
    ngx_http_cx_main_conf_t   *cmcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_cx_conf_prefix_location(cf, "location /cx-admin/ { "
                                            "cx_report; allow 127.0.0.1; "
                                            "deny all; }");
    if (clcf == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_cx_report_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    /* source=store (the default): this node's; source=clickhouse: the
     * fleet's, from the tables cx_forward fills */
    if (cf->args->nelts == 2) {
        value = cf->args->elts;

        if (ngx_strcmp(value[1].data, "source=store") == 0) {
            return NGX_CONF_OK;
        }

        if (ngx_strcmp(value[1].data, "source=clickhouse") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_report: unknown parameter \"%V\" "
                               "(source=store or source=clickhouse)",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        lcf = conf;
        lcf->report_clickhouse = 1;

        if (cmcf->report_clickhouse_file == NULL) {
            cmcf->report_clickhouse_file = cf->conf_file->file.name.data;
            cmcf->report_clickhouse_line = cf->conf_file->line;
        }
    }

    return NGX_CONF_OK;
}


/* each capability's step once the whole configuration is read */

static ngx_int_t
ngx_http_cx_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);

    if (!cmcf->used && cmcf->surveys.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_cx_survey_postconfiguration(cf, cmcf) != NGX_OK
        || ngx_http_cx_prompt_postconfiguration(cf, cmcf) != NGX_OK
        || ngx_http_cx_store_postconfiguration(cf, cmcf) != NGX_OK
        || ngx_http_cx_alert_postconfiguration(cf, cmcf) != NGX_OK
        || ngx_http_cx_forward_postconfiguration(cf, cmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cx_filter_init(cf);
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

    /* no deliveries then, until the next start or reload */
    (void) ngx_http_cx_alert_init_process(cycle, cmcf);
    (void) ngx_http_cx_forward_init_process(cycle, cmcf);

    /* a broken VM offers nothing through hooks; the site stays up */
    (void) ngx_http_cx_lua_init(cycle, cmcf);

    return NGX_OK;
}


static void
ngx_http_cx_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cx_module);

    if (cmcf) {
        ngx_http_cx_alert_exit_process(cmcf);
        ngx_http_cx_forward_exit_process(cmcf);
    }

    if (cmcf && cmcf->store) {
        ngx_http_cx_store_close(cmcf->store);
        cmcf->store = NULL;
    }

    ngx_http_cx_lua_exit();
}
