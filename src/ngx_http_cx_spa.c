/*
 * <endpoint>p: the prompt for a page that changed without loading, the
 * route change of a single-page application (README: Single-page
 * applications).
 *
 *   GET /cx/p?touchpoint=NAME&path=/ROUTE    (same origin, the cookie)
 *
 * A route is a visit of the touchpoint NAME as a page of the location
 * that declares "cx_touchpoint NAME" in this server would be: the same
 * counting, quiet period, prompts, sampling, if= and hook.  The answer is
 * the prompt JSON a page gets in its #cx-prompt script (200), or 204 when
 * no prompt is due.  The widget's cx.touch(name) calls it.
 *
 * The path is the route's (it goes into the prompt's token as a page's
 * would, without query or fragment); hooks see it as cx.request.uri.
 * if= conditions see this request: its headers and cookies, no upstream.
 */

#include "ngx_http_cx.h"


static ngx_http_cx_loc_conf_t *ngx_http_cx_spa_find(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_cx_spa_path(ngx_http_request_t *r, ngx_str_t *path);
static ngx_int_t ngx_http_cx_spa_send(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx);


ngx_int_t
ngx_http_cx_spa(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 name, path;
    ngx_http_cx_ctx_t        *ctx;
    ngx_http_cx_loc_conf_t   *tlcf;
    ngx_http_cx_main_conf_t  *cmcf;

    if (r->method != NGX_HTTP_GET) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* another site must not count visits or draw samples for a visitor */
    if (ngx_http_cx_same_origin(r) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_FORBIDDEN,
                                      "cross-site request");
    }

    if (ngx_http_arg(r, (u_char *) "touchpoint", sizeof("touchpoint") - 1,
                     &name)
        != NGX_OK || name.len == 0)
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "touchpoint= is required");
    }

    tlcf = ngx_http_cx_spa_find(r, &name);
    if (tlcf == NULL) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "unknown touchpoint");
    }

    rc = ngx_http_cx_spa_path(r, &path);
    if (rc != NGX_OK) {
        return rc == NGX_ERROR
               ? NGX_HTTP_INTERNAL_SERVER_ERROR
               : ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "path= must be the page's path, "
                                        "from \"/\"");
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    /* as a page: a visitor asking not to be tracked is not counted */
    if (!cmcf->keys_ready || ngx_http_cx_gpc(r)) {
        return ngx_http_cx_spa_send(r, NULL);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->now = ngx_http_cx_now(r);
    ctx->done = 1;
    ctx->json = 1;
    ctx->route = path;

    if (ngx_http_cx_visitor_get(r, cmcf, ctx->now, &ctx->visitor) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the hooks' cx.response.status: this answer's */
    r->headers_out.status = NGX_HTTP_OK;

    ngx_http_cx_visit(r, ctx, tlcf);

    if (tlcf->prompts
        && ngx_http_cx_prompt_decide(r, tlcf, NULL, ctx) == NGX_OK)
    {
        ctx->inject = 1;
        ngx_http_cx_event(r, ctx, NGX_HTTP_CX_EVENT_OFFER, &ctx->survey->name,
                          tlcf->stage);
    }

    /* a visit always changes the cookie */
    if (ngx_http_cx_visitor_set_cookie(r, cmcf, &ctx->visitor) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cx_spa_send(r, ctx);
}


/* The first location of this server that declares the touchpoint and
 * offers prompts there; else the first that declares it. */

static ngx_http_cx_loc_conf_t *
ngx_http_cx_spa_find(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t                i;
    ngx_http_cx_loc_conf_t  **tp, *found;
    ngx_http_cx_srv_conf_t   *cscf;

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_cx_module);

    if (cscf->touchpoints == NULL) {
        return NULL;
    }

    found = NULL;
    tp = cscf->touchpoints->elts;

    for (i = 0; i < cscf->touchpoints->nelts; i++) {
        if (tp[i]->touchpoint.len != name->len
            || ngx_strncmp(tp[i]->touchpoint.data, name->data, name->len) != 0)
        {
            continue;
        }

        if (tp[i]->prompts) {
            return tp[i];
        }

        if (found == NULL) {
            found = tp[i];
        }
    }

    return found;
}


/*
 * path=, decoded: from "/", no control bytes; a query or fragment the
 * page sent along is cut (it may hold personal data), a long path is cut
 * to what a token keeps.  NGX_DECLINED: refused.
 */

static ngx_int_t
ngx_http_cx_spa_path(ngx_http_request_t *r, ngx_str_t *path)
{
    u_char     *dst, *src, *p;
    ngx_str_t   arg;

    if (ngx_http_arg(r, (u_char *) "path", sizeof("path") - 1, &arg)
        != NGX_OK || arg.len == 0)
    {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, arg.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    path->data = dst;
    src = arg.data;

    ngx_unescape_uri(&dst, &src, arg.len, 0);

    path->len = dst - path->data;

    if (path->len == 0 || path->data[0] != '/') {
        return NGX_DECLINED;
    }

    for (p = path->data; p < path->data + path->len; p++) {
        if (*p == '?' || *p == '#') {
            path->len = p - path->data;
            break;
        }

        if (*p < 0x20 || *p == 0x7f) {
            return NGX_DECLINED;
        }
    }

    path->len = ngx_min(path->len, NGX_CX_PATH_MAX);

    return NGX_OK;
}


/* 200 with the prompt JSON, or 204; never stored by any cache */

static ngx_int_t
ngx_http_cx_spa_send(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx)
{
    if (ctx == NULL || !ctx->inject) {
        if (ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = 0;
        r->header_only = 1;

        return ngx_http_send_header(r);
    }

    return ngx_http_cx_send_json(r, NGX_HTTP_OK, &ctx->snippet);
}
