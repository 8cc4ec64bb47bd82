/*
 * Variables for log_format and other modules:
 *
 *   $cx_visitor     the visitor id (24 hex digits), from this response's
 *                   state or the request's cookie; empty when none (or GPC)
 *   $cx_touchpoint  the touchpoint of the location
 *   $cx_prompt      the survey offered on this response, else empty
 */

#include "ngx_http_cx.h"


static ngx_int_t ngx_http_cx_variable_visitor(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_cx_variable_touchpoint(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_cx_variable_prompt(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_cx_vars[] = {

    { ngx_string("cx_visitor"), NULL, ngx_http_cx_variable_visitor, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("cx_touchpoint"), NULL, ngx_http_cx_variable_touchpoint, 0,
      0, 0 },

    { ngx_string("cx_prompt"), NULL, ngx_http_cx_variable_prompt, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_cx_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_cx_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_variable_visitor(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    ngx_cx_visitor_t          state;
    ngx_http_cx_ctx_t        *ctx;
    const u_char             *id;
    ngx_http_cx_main_conf_t  *cmcf;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_cx_module);
    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (ctx && !ctx->preview) {
        id = ctx->visitor.v.id;

    } else if (!ngx_http_cx_gpc(r)
               && ngx_http_cx_visitor_peek(r, cmcf, &state) == NGX_OK)
    {
        id = state.id;

    } else {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_CX_VISITOR_ID_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_cx_hex(p, id, NGX_CX_VISITOR_ID_LEN);

    v->len = 2 * NGX_CX_VISITOR_ID_LEN;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_variable_touchpoint(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_cx_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    if (lcf->touchpoint.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = lcf->touchpoint.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = lcf->touchpoint.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_variable_prompt(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_cx_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_cx_module);

    /*
     * Put on the page; or decided, and the body is still to come (a value
     * read for a header).  HEAD responses have no body to carry it.
     */
    if (ctx == NULL || ctx->prompt == NULL || !ctx->inject
        || (!ctx->injected && (ctx->done || r->main->header_only)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->survey->name.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->survey->name.data;

    return NGX_OK;
}
