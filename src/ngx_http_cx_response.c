/*
 * The response-header rules of the injection, in one place.
 *
 * Whether a response may carry a prompt (ngx_http_cx_response_eligible):
 * a main GET or HEAD answered 200, of a type in cx_types, not encoded, not
 * no-transform, not an attachment, not UTF-16/32, with a store that can
 * keep the answer and a Content-Security-Policy that lets the widget run.
 * The headers are walked once for all of that.
 *
 * What an injected response becomes (ngx_http_cx_response_prepare): no
 * Content-Length, no Accept-Ranges, and no validators (ETag, Last-Modified),
 * so that no browser revalidates a page whose token may have been used.  A
 * response that carries a prompt or sets the visitor cookie is personal
 * (ngx_http_cx_response_private): Cache-Control becomes "private", and on a
 * prompted page "private, no-store" (docs/behaviours.md 24).
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_cx_csp.h"


#define ngx_http_cx_header_is(h, name)                                       \
    ((h)->key.len == sizeof(name) - 1                                         \
     && ngx_strncasecmp((h)->key.data, (u_char *) name, sizeof(name) - 1) == 0)


static ngx_int_t ngx_http_cx_attachment(ngx_str_t *value);


/*
 * NGX_OK with *nonce (maybe empty: the nonce the injected tags must carry)
 * when a prompt may go into this response.
 */

ngx_int_t
ngx_http_cx_response_eligible(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_str_t *nonce)
{
    size_t                    len;
    ngx_str_t                *ct;
    ngx_uint_t                i, refuse;
    ngx_cx_csp_t              csp;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    const unsigned char      *p;
    ngx_http_cx_main_conf_t  *cmcf;

    if (r != r->main
        || r->headers_out.status != NGX_HTTP_OK
        || !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        || r->headers_in.range
        || r->headers_out.content_type.len == 0
        || ngx_http_test_content_type(r, &lcf->types) == NULL)
    {
        return NGX_DECLINED;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    /* no store, or a full one: an answer could not be kept, so no asking */
    if (!cmcf->keys_ready || !ngx_http_cx_store_usable(cmcf->store)) {
        return NGX_DECLINED;
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->value.len
        && !(r->headers_out.content_encoding->value.len == 8
             && ngx_strncasecmp(r->headers_out.content_encoding->value.data,
                                (u_char *) "identity", 8) == 0))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cx: response is encoded (\"%V\"), passed unchanged; "
                      "set proxy_set_header Accept-Encoding \"\" to let "
                      "nginx compress after the prompt is added",
                      &r->headers_out.content_encoding->value);
        return NGX_DECLINED;
    }

    /*
     * One walk over the headers: no-transform, an attachment, and every
     * Content-Security-Policy (each may be one of several policies).
     */
    ngx_cx_csp_init(&csp);
    refuse = 0;

    part = &r->headers_out.headers.part;
    i = 0;

    while ((h = ngx_http_cx_headers_next(&part, &i)) != NULL) {

        if (h->hash == 0) {
            continue;
        }

        if (ngx_http_cx_header_is(h, "Cache-Control")) {
            if (ngx_strlcasestrn(h->value.data,
                                 h->value.data + h->value.len,
                                 (u_char *) "no-transform",
                                 sizeof("no-transform") - 2)
                != NULL)
            {
                refuse = 1;
            }

        } else if (ngx_http_cx_header_is(h, "Content-Disposition")) {
            if (ngx_http_cx_attachment(&h->value)) {
                refuse = 1;
            }

        } else if (ngx_http_cx_header_is(h, "Content-Security-Policy")) {
            ngx_cx_csp_add(&csp, h->value.data, h->value.len);
        }
    }

    if (refuse) {
        return NGX_DECLINED;
    }

    /* the snippet is ASCII: it cannot go into UTF-16 or UTF-32 text */
    ct = &r->headers_out.content_type;

    if (ngx_strlcasestrn(ct->data, ct->data + ct->len, (u_char *) "utf-16",
                         sizeof("utf-16") - 2)
        || ngx_strlcasestrn(ct->data, ct->data + ct->len,
                            (u_char *) "utf-32", sizeof("utf-32") - 2)
        || ngx_strlcasestrn(ct->data, ct->data + ct->len,
                            (u_char *) "ucs-2", sizeof("ucs-2") - 2)
        || (r->headers_out.charset.len >= 3
            && (ngx_strncasecmp(r->headers_out.charset.data,
                                (u_char *) "utf-16", 6) == 0
                || ngx_strncasecmp(r->headers_out.charset.data,
                                   (u_char *) "utf-32", 6) == 0)))
    {
        return NGX_DECLINED;
    }

    if (ngx_cx_csp_result(&csp, &p, &len) == NGX_CX_CSP_BLOCK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cx: Content-Security-Policy would block the widget, "
                      "no prompt on this response");
        return NGX_DECLINED;
    }

    nonce->data = (u_char *) p;
    nonce->len = len;

    return NGX_OK;
}


/* "attachment; filename=..." — the disposition type, not a file name */

static ngx_int_t
ngx_http_cx_attachment(ngx_str_t *value)
{
    u_char  *p, *last;

    p = value->data;
    last = p + value->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (last - p < (ssize_t) sizeof("attachment") - 1
        || ngx_strncasecmp(p, (u_char *) "attachment",
                           sizeof("attachment") - 1) != 0)
    {
        return 0;
    }

    p += sizeof("attachment") - 1;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p == last || *p == ';';
}


/*
 * A prompted page carries a token that can be answered once: a browser
 * must never show it again from its cache (Back, reload, a restored tab)
 * and have the visitor answer a used token.  So, as sub_filter does for a
 * changed body, the validators go: with no ETag and no Last-Modified there
 * is nothing to revalidate, and "no-store" (ngx_http_cx_response_private)
 * keeps the page out of the browser's cache altogether.
 */

void
ngx_http_cx_response_prepare(ngx_http_request_t *r)
{
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
    r->allow_ranges = 0;
}


/*
 * One visitor's prompt must never be served to another from a shared
 * cache: "private" replaces "public" and drops s-maxage; on a response
 * that only sets the visitor cookie, other directives (max-age,
 * no-cache...) stay as the site set them.  A prompted page is
 * "private, no-store" and nothing else: no cache, the browser's included,
 * may keep it (see ngx_http_cx_response_prepare), so the site's max-age
 * and the like would only contradict it.
 */

ngx_int_t
ngx_http_cx_response_private(ngx_http_request_t *r)
{
    u_char             *p, *start, *end, *tok, *tok_end;
    size_t              len;
    ngx_uint_t          i, prompted;
    ngx_list_part_t    *part;
    ngx_table_elt_t    *h, *cc;
    ngx_http_cx_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cx_module);
    prompted = (ctx != NULL && ctx->inject);

    len = sizeof("private, no-store") - 1;

    part = &r->headers_out.headers.part;
    i = 0;

    while ((h = ngx_http_cx_headers_next(&part, &i)) != NULL) {

        if (h->hash != 0 && ngx_http_cx_header_is(h, "Cache-Control")) {
            len += 2 + h->value.len;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    cc->value.data = p;

    if (prompted) {
        p = ngx_cpymem(p, "private, no-store", sizeof("private, no-store") - 1);

    } else {
        p = ngx_cpymem(p, "private", sizeof("private") - 1);
    }

    part = &r->headers_out.headers.part;
    i = 0;

    while ((h = ngx_http_cx_headers_next(&part, &i)) != NULL) {

        if (h == cc || h->hash == 0
            || !ngx_http_cx_header_is(h, "Cache-Control"))
        {
            continue;
        }

        h->hash = 0;

        if (prompted) {
            continue;
        }

        start = h->value.data;
        end = start + h->value.len;

        while (start < end) {
            while (start < end && (*start == ' ' || *start == ',')) {
                start++;
            }

            tok = start;
            while (start < end && *start != ',') {
                start++;
            }

            tok_end = start;
            while (tok_end > tok && tok_end[-1] == ' ') {
                tok_end--;
            }

            len = tok_end - tok;

            if (len == 0
                || (len == 6 && ngx_strncasecmp(tok, (u_char *) "public", 6)
                                == 0)
                || (len == 7 && ngx_strncasecmp(tok, (u_char *) "private", 7)
                                == 0)
                || (len >= 8 && ngx_strncasecmp(tok, (u_char *) "s-maxage",
                                                8) == 0))
            {
                continue;
            }

            *p++ = ',';
            *p++ = ' ';
            p = ngx_cpymem(p, tok, len);
        }
    }

    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");
    cc->value.len = p - cc->value.data;

#if (nginx_version >= 1023000)
    cc->next = NULL;
    r->headers_out.cache_control = cc;
#else
    r->headers_out.cache_control.nelts = 0;
#endif

    return NGX_OK;
}
