/*
 * Test driver of src/ngx_http_cx_http_client.c, built only by
 * t/15-http-client.t (never part of the product).
 *
 *   location /x { cx_client_test URL [timeout=MS] [trusted=FILE]
 *                                    [count=N] [cancel=MS] [collect=N]; }
 *
 * A request to the location POSTs its body to URL with
 * ngx_http_cx_post(), N times at once (count, default 1); the request's
 * (first) "X-Hook-Header: Name: value" header becomes the extra header
 * line "Name: value".  The answer is text/plain, a line an exchange in the
 * order they started: "status NNN ms T" or "error TEXT ms T", T the
 * milliseconds done() took to come.  cancel=MS cancels the exchanges
 * still in flight after MS and answers "cancelled" for them.  collect=N
 * reads the answer's body (at most N bytes): "status NNN ms T body LEN
 * TEXT".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cx_http_client.h"


typedef struct {
    ngx_http_cx_target_t   target;
    ngx_str_t              trusted;
    ngx_msec_t             timeout;
    ngx_msec_t             cancel;
    ngx_uint_t             count;
    size_t                 collect;
    u_char                *file;
    ngx_uint_t             line;
} ngx_http_cx_client_test_loc_conf_t;


typedef struct {
    ngx_array_t            locs;   /* ngx_http_cx_client_test_loc_conf_t * */
} ngx_http_cx_client_test_main_conf_t;


typedef struct ngx_http_cx_client_test_ctx_s  ngx_http_cx_client_test_ctx_t;

typedef struct {
    ngx_http_cx_client_test_ctx_t  *ctx;
    ngx_http_cx_post_t             *handle;
    ngx_str_t                       result;
    unsigned                        over:1;
} ngx_http_cx_client_test_one_t;


struct ngx_http_cx_client_test_ctx_s {
    ngx_http_request_t             *request;
    ngx_msec_t                      start;
    ngx_uint_t                      pending;
    ngx_uint_t                      n;
    ngx_http_cx_client_test_one_t  *one;
    ngx_event_t                     cancel;
    size_t                          collect;
};


static void *ngx_http_cx_client_test_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_cx_client_test_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cx_client_test(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_cx_client_test_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_cx_client_test_handler(ngx_http_request_t *r);
static void ngx_http_cx_client_test_body(ngx_http_request_t *r);
static void ngx_http_cx_client_test_done(void *data, ngx_uint_t status,
    const char *error);
static void ngx_http_cx_client_test_cancel(ngx_event_t *ev);
static void ngx_http_cx_client_test_answer(ngx_http_cx_client_test_ctx_t *ctx);


static ngx_command_t  ngx_http_cx_client_test_commands[] = {

    { ngx_string("cx_client_test"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_cx_client_test,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_cx_client_test_module_ctx = {
    NULL,                                     /* preconfiguration */
    ngx_http_cx_client_test_init,             /* postconfiguration */
    ngx_http_cx_client_test_create_main_conf, /* create main configuration */
    NULL,                                     /* init main configuration */
    NULL,                                     /* create server configuration */
    NULL,                                     /* merge server configuration */
    ngx_http_cx_client_test_create_loc_conf,  /* create location conf */
    NULL                                      /* merge location configuration */
};


ngx_module_t  ngx_http_cx_client_test_module = {
    NGX_MODULE_V1,
    &ngx_http_cx_client_test_module_ctx,
    ngx_http_cx_client_test_commands,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_cx_client_test_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_cx_client_test_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_client_test_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->locs, cf->pool, 4, sizeof(void *)) != NGX_OK) {
        return NULL;
    }

    return mcf;
}


static void *
ngx_http_cx_client_test_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_client_test_loc_conf_t));
}


/* the options after the URL: NULL, or the one that is wrong */

static ngx_str_t *
ngx_http_cx_client_test_options(ngx_http_cx_client_test_loc_conf_t *lcf,
    ngx_str_t *opt, ngx_uint_t nopts)
{
    ngx_int_t   n;
    ngx_uint_t  i;

    lcf->timeout = 5000;
    lcf->count = 1;

    for (i = 0; i < nopts; i++) {
        if (ngx_strncmp(opt[i].data, "timeout=", 8) == 0) {
            n = ngx_atoi(opt[i].data + 8, opt[i].len - 8);
            if (n == NGX_ERROR) {
                return &opt[i];
            }

            lcf->timeout = n;

        } else if (ngx_strncmp(opt[i].data, "cancel=", 7) == 0) {
            n = ngx_atoi(opt[i].data + 7, opt[i].len - 7);
            if (n == NGX_ERROR) {
                return &opt[i];
            }

            lcf->cancel = n;

        } else if (ngx_strncmp(opt[i].data, "collect=", 8) == 0) {
            n = ngx_atoi(opt[i].data + 8, opt[i].len - 8);
            if (n == NGX_ERROR) {
                return &opt[i];
            }

            lcf->collect = n;

        } else if (ngx_strncmp(opt[i].data, "count=", 6) == 0) {
            n = ngx_atoi(opt[i].data + 6, opt[i].len - 6);
            if (n == NGX_ERROR || n == 0) {
                return &opt[i];
            }

            lcf->count = n;

        } else if (ngx_strncmp(opt[i].data, "trusted=", 8) == 0) {
            lcf->trusted.data = opt[i].data + 8;
            lcf->trusted.len = opt[i].len - 8;

        } else {
            return &opt[i];
        }
    }

    return NULL;
}


static char *
ngx_http_cx_client_test(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_client_test_loc_conf_t *lcf = conf;

    char                                 *err;
    ngx_str_t                            *value, *bad;
    ngx_http_core_loc_conf_t             *clcf;
    ngx_http_cx_client_test_loc_conf_t  **loc;
    ngx_http_cx_client_test_main_conf_t  *mcf;

    value = cf->args->elts;

    err = ngx_http_cx_target_parse(cf, &value[1], &lcf->target);
    if (err == NGX_CONF_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    bad = ngx_http_cx_client_test_options(lcf, &value[2], cf->args->nelts - 2);
    if (bad) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid \"%V\"", bad);
        return NGX_CONF_ERROR;
    }

    lcf->file = cf->conf_file->file.name.data;
    lcf->line = cf->conf_file->line;

    mcf = ngx_http_conf_get_module_main_conf(cf,
                                             ngx_http_cx_client_test_module);

    loc = ngx_array_push(&mcf->locs);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    *loc = lcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cx_client_test_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cx_client_test_init(ngx_conf_t *cf)
{
    ngx_uint_t                             i;
    ngx_http_cx_client_test_loc_conf_t   **loc;
    ngx_http_cx_client_test_main_conf_t   *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf,
                                             ngx_http_cx_client_test_module);

    loc = mcf->locs.elts;

    for (i = 0; i < mcf->locs.nelts; i++) {
        if (ngx_http_cx_target_init(cf, &loc[i]->target, &loc[i]->trusted,
                                    loc[i]->file, loc[i]->line)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_client_test_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_read_client_request_body(r, ngx_http_cx_client_test_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_cx_client_test_body(ngx_http_request_t *r)
{
    static ngx_str_t  hook_name = ngx_string("http_x_hook_header");

    u_char                              *p;
    size_t                               len;
    ngx_str_t                            body, headers;
    ngx_uint_t                           i;
    ngx_chain_t                         *cl;
    ngx_http_variable_value_t           *hook;
    ngx_http_cx_client_test_ctx_t       *ctx;
    ngx_http_cx_client_test_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_client_test_module);

    ngx_str_null(&body);
    ngx_str_null(&headers);

    if (r->request_body && r->request_body->bufs) {
        len = 0;

        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            if (cl->buf->in_file) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            len += cl->buf->last - cl->buf->pos;
        }

        body.data = ngx_pnalloc(r->pool, len);
        if (body.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = body.data;

        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            if (cl->buf->last > cl->buf->pos) {
                p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
            }
        }

        body.len = len;
    }

    /* X-Hook-Header (the first one) as the extra header line */
    hook = ngx_http_get_variable(r, &hook_name,
                                 ngx_hash_key(hook_name.data, hook_name.len));

    if (hook && !hook->not_found) {
        headers.data = ngx_pnalloc(r->pool, hook->len + 2);
        if (headers.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        headers.len = ngx_sprintf(headers.data, "%*s" CRLF, (size_t) hook->len,
                                  hook->data)
                      - headers.data;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_client_test_ctx_t));
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->one = ngx_pcalloc(r->pool,
                           lcf->count * sizeof(ngx_http_cx_client_test_one_t));
    if (ctx->one == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->request = r;
    ctx->start = ngx_current_msec;
    ctx->collect = lcf->collect;

    for (i = 0; i < lcf->count; i++) {
        ctx->one[i].ctx = ctx;

        if (ngx_http_cx_post(&lcf->target, NULL, &headers, &body,
                             lcf->collect, lcf->timeout,
                             ngx_http_cx_client_test_done, &ctx->one[i],
                             r->connection->log, &ctx->one[i].handle)
            != NGX_OK)
        {
            ngx_str_set(&ctx->one[i].result, "could not start");
            ctx->one[i].over = 1;
            continue;
        }

        ctx->pending++;
    }

    ctx->n = lcf->count;

    /* the body is copied: the client's own copy may go now */

    if (body.len) {
        ngx_memset(body.data, 'X', body.len);
    }

    if (ctx->pending == 0) {
        ngx_http_cx_client_test_answer(ctx);
        return;
    }

    if (lcf->cancel) {
        ctx->cancel.handler = ngx_http_cx_client_test_cancel;
        ctx->cancel.data = ctx;
        ctx->cancel.log = r->connection->log;

        ngx_add_timer(&ctx->cancel, lcf->cancel);
    }
}


static void
ngx_http_cx_client_test_done(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_client_test_one_t  *one = data;

    u_char                         *p;
    ngx_str_t                      *body;
    ngx_msec_t                      ms;
    ngx_http_cx_client_test_ctx_t  *ctx;

    ctx = one->ctx;
    ms = ngx_current_msec - ctx->start;

    body = (one->handle && !error) ? ngx_http_cx_post_body(one->handle)
                                   : NULL;

    p = ngx_pnalloc(ctx->request->pool, 64 + (error ? ngx_strlen(error) : 0)
                                        + (body ? 32 + body->len : 0));
    if (p == NULL) {
        ngx_str_set(&one->result, "no memory");

    } else if (error) {
        one->result.data = p;
        one->result.len = ngx_sprintf(p, "error %s ms %M", error, ms) - p;

    } else {
        one->result.data = p;
        p = ngx_sprintf(p, "status %ui ms %M", status, ms);

        if (ctx->collect) {
            p = ngx_sprintf(p, " body %uz %V", body->len, body);
        }

        one->result.len = p - one->result.data;
    }

    if (one->over) {
        /* done() twice, or after a cancel: the test looks for this */
        ngx_log_error(NGX_LOG_ALERT, ctx->request->connection->log, 0,
                      "cx client test: done() called again");
        return;
    }

    one->over = 1;
    one->handle = NULL;

    if (--ctx->pending == 0) {
        ngx_http_cx_client_test_answer(ctx);
    }
}


static void
ngx_http_cx_client_test_cancel(ngx_event_t *ev)
{
    ngx_uint_t                      i;
    ngx_http_cx_client_test_ctx_t  *ctx;

    ctx = ev->data;

    for (i = 0; i < ctx->n; i++) {
        if (ctx->one[i].over) {
            continue;
        }

        ngx_http_cx_post_cancel(ctx->one[i].handle);

        ctx->one[i].handle = NULL;
        ctx->one[i].over = 1;
        ngx_str_set(&ctx->one[i].result, "cancelled");
    }

    ctx->pending = 0;

    ngx_http_cx_client_test_answer(ctx);
}


static void
ngx_http_cx_client_test_answer(ngx_http_cx_client_test_ctx_t *ctx)
{
    u_char              *p;
    size_t               len;
    ngx_buf_t           *b;
    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_chain_t          out;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    if (ctx->cancel.timer_set) {
        ngx_del_timer(&ctx->cancel);
    }

    len = 0;

    for (i = 0; i < ctx->n; i++) {
        len += ctx->one[i].result.len + 1;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    p = b->last;

    for (i = 0; i < ctx->n; i++) {
        p = ngx_cpymem(p, ctx->one[i].result.data, ctx->one[i].result.len);
        *p++ = LF;
    }

    b->last = p;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "text/plain");

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(c);
        return;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
    ngx_http_run_posted_requests(c);
}
