/*
 * Small helpers for request and response headers that nginx keeps only in
 * its lists (no dedicated field): finding one, adding one.
 */

#include "ngx_http_cx.h"


static ngx_table_elt_t *ngx_http_cx_header_next(ngx_list_part_t **part,
    ngx_uint_t *i, const char *name, size_t len);


ngx_table_elt_t *
ngx_http_cx_header_in(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;

    part = &r->headers_in.headers.part;
    i = 0;

    return ngx_http_cx_header_next(&part, &i, name, len);
}


/*
 * For a header a client sends at most once: NGX_OK with *found the one
 * (NULL when absent), NGX_DECLINED when it comes twice or more.  Reading
 * only the first of several would let the others go unchecked.
 */

ngx_int_t
ngx_http_cx_header_in_once(ngx_http_request_t *r, const char *name,
    size_t len, ngx_table_elt_t **found)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;

    part = &r->headers_in.headers.part;
    i = 0;

    *found = ngx_http_cx_header_next(&part, &i, name, len);

    if (*found && ngx_http_cx_header_next(&part, &i, name, len)) {
        *found = NULL;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* The next header of that name from (*part, *i) on; *i moves past it. */

static ngx_table_elt_t *
ngx_http_cx_header_next(ngx_list_part_t **part, ngx_uint_t *i,
    const char *name, size_t len)
{
    ngx_table_elt_t  *h;

    while ((h = ngx_http_cx_headers_next(part, i)) != NULL) {
        if (h->key.len == len
            && ngx_strncasecmp(h->key.data, (u_char *) name, len) == 0)
        {
            return h;
        }
    }

    return NULL;
}


ngx_table_elt_t *
ngx_http_cx_headers_next(ngx_list_part_t **part, ngx_uint_t *i)
{
    ngx_table_elt_t  *h;

    while (*i >= (*part)->nelts) {
        if ((*part)->next == NULL) {
            return NULL;
        }

        *part = (*part)->next;
        *i = 0;
    }

    h = (*part)->elts;

    return &h[(*i)++];
}


ngx_int_t
ngx_http_cx_header_out(ngx_http_request_t *r, const char *name,
    const char *value)
{
    return ngx_http_cx_header_add(r, name, (u_char *) value,
                                  ngx_strlen(value));
}


ngx_int_t
ngx_http_cx_header_add(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/*
 * A request cookie's value.  How nginx splits the Cookie header changed
 * twice: an array before 1.23, a list after, and in 1.29.6 the generic
 * parser began splitting on "," only (cookies got their own parser).
 */

ngx_int_t
ngx_http_cx_cookie(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *value)
{
#if (nginx_version >= 1029006)
    return ngx_http_parse_cookie_lines(r, r->headers_in.cookie, name, value)
           ? NGX_OK : NGX_DECLINED;
#elif (nginx_version >= 1023000)
    return ngx_http_parse_multi_header_lines(r, r->headers_in.cookie, name,
                                             value)
           ? NGX_OK : NGX_DECLINED;
#else
    return ngx_http_parse_multi_header_lines(&r->headers_in.cookies, name,
                                             value)
           == NGX_DECLINED ? NGX_DECLINED : NGX_OK;
#endif
}


/*
 * Sends body (static memory) after the headers the caller has set; HEAD
 * gets the headers only.
 */

ngx_int_t
ngx_http_cx_send_bytes(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_cx_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cx_send_bytes(r, body);
}


ngx_int_t
ngx_http_cx_send_page(ngx_http_request_t *r, const char *policy,
    ngx_str_t *body)
{
    if (r->headers_out.status == 0) {
        r->headers_out.status = NGX_HTTP_OK;    /* else an error page's */
    }

    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;

    if (ngx_http_cx_header_out(r, "Content-Security-Policy", policy)
        != NGX_OK
        || ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK
        || ngx_http_cx_header_out(r, "X-Content-Type-Options", "nosniff")
           != NGX_OK
        || ngx_http_cx_header_out(r, "Referrer-Policy", "no-referrer")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cx_send_bytes(r, body);
}
