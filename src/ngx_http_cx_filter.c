/*
 * The injection: header and body filters.
 *
 * The header filter decides.  Everything that is not a plain, successful,
 * transformable HTML answer to a main GET request passes untouched, and so
 * does every response for which no prompt is decided; only then is a
 * context created and are the headers adjusted (no Content-Length, weak
 * ETag, no Accept-Ranges, Cache-Control: private).
 *
 * The body filter streams.  Each buffer is fed to the scanner
 * (ngx_cx_scan.h) and passed on at once; only the at most six bytes that
 * may begin "</body" are held back, copied, until the next buffer tells.
 * Buffers are split without copying: a buffer of the filter's own carries
 * the bytes before the split point.  A buffer we were handed belongs to
 * whoever made it, and the proxy module reuses its memory as soon as the
 * buffer looks consumed, so it is marked consumed only once every byte that
 * points into it has been sent: at the insertion point the original
 * follows its front (prefix, snippet, the original with its start moved);
 * when bytes are held back the front points at the original as its
 * shadow, and the original is consumed when the front has gone
 * (ngx_http_cx_release).  The filter's own buffers are reused through
 * free/busy chains, so memory stays flat however long the page.  File
 * buffers (sendfile) are read in pieces to be scanned and are sent as file
 * ranges; a static file is scanned once per version
 * (ngx_http_cx_filecache.c).
 *
 * Any internal failure mid-stream sends the rest unchanged.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_cx_csp.h"


#define NGX_HTTP_CX_READ_SIZE   32768
#define NGX_HTTP_CX_SMALL_FILE  65536
#define NGX_HTTP_CX_OWN_BYTES   8       /* room in each own buffer: held bytes */


static ngx_int_t ngx_http_cx_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_cx_eligible(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf);
static void ngx_http_cx_offered(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx);
static ngx_int_t ngx_http_cx_attachment(ngx_str_t *value);
static ngx_int_t ngx_http_cx_csp(ngx_http_request_t *r, ngx_str_t *nonce);
static ngx_int_t ngx_http_cx_private(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_whole_file(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, ngx_chain_t ***last);
static ngx_int_t ngx_http_cx_emit_around(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t ***last, u_char *data, size_t size,
    off_t tag_at, ngx_buf_t *orig);
static ngx_buf_t *ngx_http_cx_read_with_snippet(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, off_t tag_at);
static void ngx_http_cx_cache_tag(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, off_t tag_at);
static ngx_int_t ngx_http_cx_scan_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, uint64_t *tag_at);
static ngx_int_t ngx_http_cx_emit(ngx_http_request_t *r,
    ngx_chain_t ***last, ngx_buf_t *b);
static ngx_int_t ngx_http_cx_emit_bytes(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t ***last, u_char *p, size_t len);
static ngx_buf_t *ngx_http_cx_own_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx);
static ngx_buf_t *ngx_http_cx_snippet_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx);
static ngx_buf_t *ngx_http_cx_prefix(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, off_t size, ngx_buf_t *shadow);
static void ngx_http_cx_release(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t **out);
static void ngx_http_cx_advance(ngx_buf_t *b, off_t n);
static void ngx_http_cx_consume(ngx_buf_t *b);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

/* one worker, one thread: scanning a file range needs no more than this */
static u_char  ngx_http_cx_read_buf[NGX_HTTP_CX_READ_SIZE];


ngx_int_t
ngx_http_cx_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_cx_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_cx_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                 nonce;
    ngx_uint_t                visited, eligible;
    ngx_http_cx_ctx_t        *ctx;
    ngx_http_cx_loc_conf_t   *lcf;
    ngx_http_cx_main_conf_t  *cmcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    /* a second header (an error page after a failure) starts over */
    if (ngx_http_get_module_ctx(r, ngx_http_cx_module)) {
        ngx_http_set_ctx(r, NULL, ngx_http_cx_module);
    }

    if ((lcf->prompts == NULL && lcf->touchpoint.len == 0)
        || r != r->main)
    {
        return ngx_http_next_header_filter(r);
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (!cmcf->keys_ready || ngx_http_cx_gpc(r)) {
        return ngx_http_next_header_filter(r);
    }

    /*
     * A 2xx page.  A range request is a resumed download, not a visit
     * (and the range filter, which runs after us, may yet make it a 206).
     */
    visited = (lcf->touchpoint.len
               && r->headers_out.status >= NGX_HTTP_OK
               && r->headers_out.status < NGX_HTTP_SPECIAL_RESPONSE
               && r->headers_out.status != NGX_HTTP_PARTIAL_CONTENT
               && r->headers_in.range == NULL
               && r->method == NGX_HTTP_GET);

    eligible = (lcf->prompts && ngx_http_cx_eligible(r, lcf) == NGX_OK);

    if (!visited && !eligible) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_ctx_t));
    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx->now = ngx_http_cx_now(r);
    ctx->done = 1;

    if (ngx_http_cx_visitor_get(r, cmcf, ctx->now, &ctx->visitor) != NGX_OK) {
        return ngx_http_next_header_filter(r);
    }

    ngx_http_set_ctx(r, ctx, ngx_http_cx_module);

    if (visited) {
        ngx_cx_visitor_visit(&ctx->visitor.v, lcf->touchpoint_id);
        ngx_http_cx_event(r, ctx, NGX_HTTP_CX_EVENT_VISIT, &lcf->touchpoint,
                          lcf->stage);
    }

    if (eligible
        && ngx_http_cx_csp(r, &nonce) == NGX_OK
        && ngx_http_cx_prompt_decide(r, lcf, &nonce, ctx) == NGX_OK)
    {
        ctx->inject = 1;
        ctx->done = 0;

        ngx_http_clear_content_length(r);
        ngx_http_clear_accept_ranges(r);
        ngx_http_weak_etag(r);
        r->allow_ranges = 0;

        ngx_cx_scan_init(&ctx->scan);
    }

    /*
     * The cookie carries what changed (a visit; a new visitor offered a
     * prompt).  A response that sets it is personal: never from a shared
     * cache, so Cache-Control becomes private.
     */
    if (visited || (ctx->inject && ctx->visitor.is_new)) {
        if (ngx_http_cx_visitor_set_cookie(r, cmcf, &ctx->visitor) != NGX_OK
            || ngx_http_cx_private(r) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ctx->inject && ngx_http_cx_private(r) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The header is not held back until the body shows whether and where
     * the snippet goes: later filters (gzip, sub) must see it before the
     * first body buffer is read, and chunked framing costs no more
     * system calls than an exact Content-Length would.
     */
    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_cx_eligible(ngx_http_request_t *r, ngx_http_cx_loc_conf_t *lcf)
{
    ngx_str_t                *ct;
    ngx_uint_t                i;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
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

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        if (h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               h[i].key.len) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "no-transform",
                                sizeof("no-transform") - 2)
               != NULL)
        {
            return NGX_DECLINED;
        }

        if (h[i].key.len == sizeof("Content-Disposition") - 1
            && ngx_strncasecmp(h[i].key.data,
                               (u_char *) "Content-Disposition",
                               h[i].key.len) == 0
            && ngx_http_cx_attachment(&h[i].value))
        {
            return NGX_DECLINED;
        }
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


/* NGX_OK with *nonce (maybe empty) when the widget may run. */

static ngx_int_t
ngx_http_cx_csp(ngx_http_request_t *r, ngx_str_t *nonce)
{
    size_t                len;
    ngx_uint_t            i;
    ngx_cx_csp_t          csp;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h;
    const unsigned char  *p;

    ngx_cx_csp_init(&csp);

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == sizeof("Content-Security-Policy") - 1
            && ngx_strncasecmp(h[i].key.data,
                               (u_char *) "Content-Security-Policy",
                               h[i].key.len) == 0)
        {
            ngx_cx_csp_add(&csp, h[i].value.data, h[i].value.len);
        }
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


/*
 * One visitor's prompt must never be served to another from a shared
 * cache: "private" replaces "public" and drops s-maxage; other directives
 * (max-age, no-cache...) stay as the site set them.
 */

static ngx_int_t
ngx_http_cx_private(ngx_http_request_t *r)
{
    u_char           *p, *start, *end, *tok, *tok_end;
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *cc;

    len = sizeof("private") - 1;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               h[i].key.len) == 0)
        {
            len += 2 + h[i].value.len;
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
    p = ngx_cpymem(p, "private", sizeof("private") - 1);

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (&h[i] == cc || h[i].hash == 0
            || h[i].key.len != sizeof("Cache-Control") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               h[i].key.len) != 0)
        {
            continue;
        }

        start = h[i].value.data;
        end = start + h[i].value.len;

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

        h[i].hash = 0;
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


static ngx_int_t
ngx_http_cx_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t               size, keep;
    uint64_t            tag_at, start, hold_from;
    ngx_int_t           rc;
    ngx_buf_t          *b, *snippet, *front;
    ngx_chain_t        *cl, *out, **ll;
    ngx_http_cx_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cx_module);

    /* once done, and nothing of ours is in flight, it is a pass-through */
    if (ctx == NULL || (ctx->done && ctx->busy == NULL)) {
        return ngx_http_next_body_filter(r, in);
    }

    out = NULL;
    ll = &out;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ctx->fed == 0 && !ctx->done) {
            rc = ngx_http_cx_whole_file(r, ctx, b, &ll);

            if (rc == NGX_OK) {
                continue;
            }

            if (rc == NGX_ERROR) {
                goto failed;
            }
        }

        if (ctx->done) {
            if (ngx_http_cx_emit(r, &ll, b) != NGX_OK) {
                goto failed;
            }
            continue;
        }

        size = ngx_buf_size(b);

        if (size == 0 || ngx_buf_special(b)) {

            if (b->last_buf && ctx->hold_len) {
                /* the stream ends: what was held was not "</body" */
                if (ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold, ctx->hold_len)
                    != NGX_OK)
                {
                    goto failed;
                }
                ctx->hold_len = 0;
            }

            if (ngx_http_cx_emit(r, &ll, b) != NGX_OK) {
                goto failed;
            }

            continue;
        }

        start = ctx->fed;

        rc = ngx_http_cx_scan_buf(r, ctx, b, &tag_at);

        if (rc == NGX_OK && ngx_cx_scan_meta_csp(&ctx->scan)) {
            /* a policy in the page itself: not ours to evaluate mid-stream */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "cx: the page sets a Content-Security-Policy in "
                          "a <meta> element, passed unchanged");

            if (ctx->cache_put) {
                ngx_http_cx_filecache_put(&ctx->st, -1, NULL, 0, NULL);
                ctx->cache_put = 0;
            }

            rc = NGX_ERROR;
        }

        if (rc == NGX_ERROR) {
            /* pass everything on untouched from here */
            ctx->done = 1;
            if (ctx->hold_len) {
                if (ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold, ctx->hold_len)
                    != NGX_OK)
                {
                    goto failed;
                }
                ctx->hold_len = 0;
            }
            if (ngx_http_cx_emit(r, &ll, b) != NGX_OK) {
                goto failed;
            }
            continue;
        }

        if (rc == NGX_OK) {
            /* found: hold, prefix, snippet, the rest */
            snippet = ngx_http_cx_snippet_buf(r, ctx);
            if (snippet == NULL) {
                goto failed;
            }

            if (tag_at >= start) {
                if (ctx->hold_len
                    && ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold,
                                              ctx->hold_len)
                       != NGX_OK)
                {
                    goto failed;
                }

                keep = (off_t) (tag_at - start);

                /* b itself follows its prefix: no shadow needed */
                if (keep
                    && ngx_http_cx_emit(r, &ll,
                                        ngx_http_cx_prefix(r, ctx, b, keep,
                                                           NULL))
                       != NGX_OK)
                {
                    goto failed;
                }

                ngx_http_cx_advance(b, keep);

            } else {
                keep = (off_t) (tag_at - ctx->hold_at);

                if (keep
                    && ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold, keep)
                       != NGX_OK)
                {
                    goto failed;
                }

                if (ngx_http_cx_emit(r, &ll, snippet) != NGX_OK
                    || ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold + keep,
                                              ctx->hold_len - keep)
                       != NGX_OK)
                {
                    goto failed;
                }

                snippet = NULL;
            }

            if (snippet && ngx_http_cx_emit(r, &ll, snippet) != NGX_OK) {
                goto failed;
            }

            if (ngx_http_cx_emit(r, &ll, b) != NGX_OK) {
                goto failed;
            }

            ctx->hold_len = 0;
            ctx->done = 1;
            ctx->injected = 1;
            ngx_http_cx_offered(r, ctx);

            if (ctx->cache_put) {
                ngx_http_cx_cache_tag(r, ctx, b, (off_t) tag_at);
            }

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "cx: prompt inserted");
            continue;
        }

        if (ctx->cache_put && b->last_buf) {
            /* the whole file was scanned: it has no </body> */
            ngx_http_cx_filecache_put(&ctx->st, -1, NULL, 0, NULL);
        }

        ctx->cache_put = 0;

        /* not found in this buffer */

        hold_from = ngx_cx_scan_hold_from(&ctx->scan);

        if (b->last_buf || hold_from == ctx->fed) {
            if (ctx->hold_len
                && ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold, ctx->hold_len)
                   != NGX_OK)
            {
                goto failed;
            }

            ctx->hold_len = 0;

            if (ngx_http_cx_emit(r, &ll, b) != NGX_OK) {
                goto failed;
            }

            continue;
        }

        /* a "</body" candidate is still open at the end of this buffer */

        if (hold_from >= start) {
            if (ctx->hold_len
                && ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold, ctx->hold_len)
                   != NGX_OK)
            {
                goto failed;
            }

            keep = (off_t) (ctx->fed - hold_from);
            ngx_memcpy(ctx->hold, ctx->tail + ctx->tail_len - keep, keep);
            ctx->hold_len = keep;
            ctx->hold_at = hold_from;

        } else {
            /* the candidate began in what is held and spans this buffer */
            keep = (off_t) (hold_from - ctx->hold_at);

            if (keep
                && ngx_http_cx_emit_bytes(r, ctx, &ll, ctx->hold, keep) != NGX_OK)
            {
                goto failed;
            }

            ngx_memmove(ctx->hold, ctx->hold + keep, ctx->hold_len - keep);
            ctx->hold_len -= keep;
            ngx_memcpy(ctx->hold + ctx->hold_len, ctx->tail, size);
            ctx->hold_len += size;
            ctx->hold_at = hold_from;

            keep = size;
        }

        /*
         * What stays of the buffer goes on; the held bytes are copies.  b
         * is not passed on, so it stays unconsumed until its front has
         * been sent: its owner must not reuse the memory under the front.
         */

        if (size > keep) {
            front = ngx_http_cx_prefix(r, ctx, b, size - keep, b);
            if (front == NULL) {
                goto failed;
            }

            front->flush = b->flush;

            if (ngx_http_cx_emit(r, &ll, front) != NGX_OK) {
                goto failed;
            }

            continue;
        }

        ngx_http_cx_advance(b, size);

        if (b->flush) {
            /* not ours to reuse: an empty buffer's size says nothing */
            b = ngx_calloc_buf(r->pool);
            if (b == NULL) {
                goto failed;
            }
            b->flush = 1;
            if (ngx_http_cx_emit(r, &ll, b) != NGX_OK) {
                goto failed;
            }
        }
    }

    *ll = NULL;

    rc = ngx_http_next_body_filter(r, out);

    ngx_http_cx_release(r, ctx, &out);

    return rc;

failed:

    /* allocation failed: the page cannot be rebuilt safely */
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cx: out of memory while inserting the prompt");
    return NGX_ERROR;
}


static void
ngx_http_cx_offered(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx)
{
    ngx_http_cx_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    ngx_http_cx_event(r, ctx, NGX_HTTP_CX_EVENT_OFFER,
                      &ctx->prompt->survey->name, lcf->stage);
}


/*
 * A static file sent whole (the static module's single buffer, sendfile):
 * scanned once per version of the file (ngx_http_cx_filecache.c), then
 * sent as a file range, the snippet, and the end of the file — from
 * memory when it was small enough to keep.
 *
 * NGX_OK: b was handled (and consumed); NGX_DECLINED: scan it normally.
 */

static ngx_int_t
ngx_http_cx_whole_file(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, ngx_chain_t ***last)
{
    ngx_buf_t               *sb, *tb, *mb;
    ngx_int_t                rc;
    ngx_http_cx_file_hit_t   hit;

    if (!b->in_file || ngx_buf_in_memory(b) || b->file == NULL
        || b->file_pos != 0 || !b->last_buf)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_cx_filecache_get(b->file->fd, &ctx->st, &hit);

    if (rc == NGX_ERROR || ctx->st.st_size != b->file_last) {
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        ctx->cache_put = 1;
        return NGX_DECLINED;
    }

    ctx->done = 1;

    if (hit.tag_at < 0) {
        return ngx_http_cx_emit(r, last, b);
    }

    /*
     * A small page kept whole goes out from memory around the snippet, in
     * one send, with no read of the file (bench/run measured sendfile
     * plus a second send for the snippet dearer).
     */
    if (hit.body && ngx_http_cx_filecache_hold(r->pool, hit.body) == NGX_OK) {
        ctx->injected = 1;
        ngx_http_cx_offered(r, ctx);
        ctx->fed = b->file_last;
        b->file_pos = b->file_last;

        return ngx_http_cx_emit_around(r, ctx, last, hit.body->data,
                                       hit.body->size, hit.tag_at, b);
    }

    /* a small page not kept: read in one buffer with the snippet */
    if (b->file_last <= NGX_HTTP_CX_SMALL_FILE) {
        mb = ngx_http_cx_read_with_snippet(r, ctx, b, hit.tag_at);

        if (mb) {
            ctx->injected = 1;
            ngx_http_cx_offered(r, ctx);
            ctx->fed = b->file_last;
            b->file_pos = b->file_last;
            return ngx_http_cx_emit(r, last, mb);
        }
    }

    sb = ngx_http_cx_snippet_buf(r, ctx);
    if (sb == NULL) {
        return NGX_ERROR;
    }

    /* a static file is not reused under us: its range needs no shadow */
    if (hit.tag_at
        && ngx_http_cx_emit(r, last,
                            ngx_http_cx_prefix(r, ctx, b, hit.tag_at, NULL))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cx_emit(r, last, sb) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->injected = 1;
    ctx->fed = b->file_last;
    ngx_http_cx_offered(r, ctx);

    if (hit.tail_len == 0) {
        ngx_http_cx_advance(b, hit.tag_at);
        return ngx_http_cx_emit(r, last, b);
    }

    tb = ngx_calloc_buf(r->pool);
    if (tb == NULL) {
        return NGX_ERROR;
    }

    tb->pos = hit.tail;
    tb->last = hit.tail + hit.tail_len;
    tb->memory = 1;
    tb->last_buf = b->last_buf;
    tb->last_in_chain = b->last_in_chain;
    tb->flush = b->flush;

    /* the file's buffer is done with: its bytes left as range and tail */
    b->file_pos = b->file_last;

    return ngx_http_cx_emit(r, last, tb);
}


/* Memory bytes with the snippet at tag_at: three buffers, no copy. */

static ngx_int_t
ngx_http_cx_emit_around(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_chain_t ***last, u_char *data, size_t size, off_t tag_at,
    ngx_buf_t *orig)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + tag_at;
    b->memory = 1;

    if (tag_at && ngx_http_cx_emit(r, last, b) != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->snippet.data;
    b->last = ctx->snippet.data + ctx->snippet.len;
    b->memory = 1;

    if (ngx_http_cx_emit(r, last, b) != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data + tag_at;
    b->last = data + size;
    b->memory = 1;
    b->last_buf = orig->last_buf;
    b->last_in_chain = orig->last_in_chain;
    b->flush = orig->flush;

    return ngx_http_cx_emit(r, last, b);
}


/* The whole file in memory with the snippet at tag_at; NULL on failure. */

static ngx_buf_t *
ngx_http_cx_read_with_snippet(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, off_t tag_at)
{
    size_t      size;
    ngx_buf_t  *mb;

    size = (size_t) b->file_last;

    mb = ngx_create_temp_buf(r->pool, size + ctx->snippet.len);
    if (mb == NULL) {
        return NULL;
    }

    if (ngx_read_file(b->file, mb->pos, size, 0) != (ssize_t) size) {
        return NULL;
    }

    ngx_memmove(mb->pos + tag_at + ctx->snippet.len, mb->pos + tag_at,
                size - tag_at);
    ngx_memcpy(mb->pos + tag_at, ctx->snippet.data, ctx->snippet.len);

    mb->last = mb->pos + size + ctx->snippet.len;
    mb->last_buf = b->last_buf;
    mb->last_in_chain = b->last_in_chain;
    mb->flush = b->flush;

    return mb;
}


static void
ngx_http_cx_cache_tag(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, off_t tag_at)
{
    size_t  n;
    u_char  tail[NGX_HTTP_CX_FILECACHE_TAIL];

    ctx->cache_put = 0;
    n = (size_t) (ctx->st.st_size - tag_at);

    if (n <= sizeof(tail)
        && ngx_read_file(b->file, tail, n, tag_at) == (ssize_t) n)
    {
        ngx_http_cx_filecache_put(&ctx->st, tag_at, tail, n, b->file);

    } else {
        ngx_http_cx_filecache_put(&ctx->st, tag_at, NULL, 0, b->file);
    }
}


/*
 * Feeds one buffer to the scanner.  NGX_OK: found, *tag_at set;
 * NGX_DECLINED: not in this buffer; NGX_ERROR: could not read it.
 * Keeps the buffer's last bytes in ctx->tail for holding back.
 */

static ngx_int_t
ngx_http_cx_scan_buf(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, uint64_t *tag_at)
{
    off_t     offset, end;
    size_t    n, t;
    ssize_t   got;
    u_char   *p;

    if (ngx_buf_in_memory(b)) {
        p = b->pos;
        n = b->last - b->pos;

        t = ngx_min(n, sizeof(ctx->tail));
        ngx_memcpy(ctx->tail, b->last - t, t);
        ctx->tail_len = t;

        ctx->fed += n;

        return ngx_cx_scan_feed(&ctx->scan, p, n, tag_at) == NGX_CX_SCAN_FOUND
               ? NGX_OK : NGX_DECLINED;
    }

    if (!b->in_file || b->file == NULL) {
        return NGX_ERROR;
    }

    offset = b->file_pos;
    end = b->file_last;

    while (offset < end) {
        n = (size_t) ngx_min(end - offset, NGX_HTTP_CX_READ_SIZE);

        got = ngx_read_file(b->file, ngx_http_cx_read_buf, n, offset);

        if (got != (ssize_t) n) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cx: cannot read \"%V\" to insert the prompt, "
                          "passed unchanged", &b->file->name);
            return NGX_ERROR;
        }

        offset += n;

        t = ngx_min(n, sizeof(ctx->tail));
        if (t < sizeof(ctx->tail) && ctx->tail_len) {
            /* keep the older bytes too: the tail may span reads */
            ngx_memmove(ctx->tail, ctx->tail + t, sizeof(ctx->tail) - t);
        }
        ngx_memcpy(ctx->tail + sizeof(ctx->tail) - t,
                   ngx_http_cx_read_buf + n - t, t);
        ctx->tail_len = sizeof(ctx->tail);

        ctx->fed += n;

        if (ngx_cx_scan_feed(&ctx->scan, ngx_http_cx_read_buf, n, tag_at)
            == NGX_CX_SCAN_FOUND)
        {
            ctx->fed += end - offset;
            return NGX_OK;
        }
    }

    /* only the bytes of this buffer count as its tail */
    t = (size_t) ngx_min(b->file_last - b->file_pos,
                         (off_t) sizeof(ctx->tail));
    if (t < sizeof(ctx->tail)) {
        ngx_memmove(ctx->tail, ctx->tail + sizeof(ctx->tail) - t, t);
    }
    ctx->tail_len = t;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_cx_emit(ngx_http_request_t *r, ngx_chain_t ***last, ngx_buf_t *b)
{
    ngx_chain_t  *cl;

    if (b == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    **last = cl;
    *last = &cl->next;

    return NGX_OK;
}


/* Held bytes, copied into a buffer of our own. */

static ngx_int_t
ngx_http_cx_emit_bytes(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_chain_t ***last, u_char *p, size_t len)
{
    ngx_buf_t  *b;

    if (len == 0) {
        return NGX_OK;
    }

    if (len > NGX_HTTP_CX_OWN_BYTES) {
        return NGX_ERROR;
    }

    b = ngx_http_cx_own_buf(r, ctx);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = b->start;
    b->last = ngx_cpymem(b->pos, p, len);
    b->temporary = 1;

    return ngx_http_cx_emit(r, last, b);
}


/*
 * A buffer of the filter's own, from its free chain when one has been sent
 * on: tagged, so that ngx_chain_update_chains gives it back, and with room
 * for held bytes.
 */

static ngx_buf_t *
ngx_http_cx_own_buf(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx)
{
    u_char       *start;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ctx->free) {
        cl = ctx->free;
        ctx->free = cl->next;
        b = cl->buf;
        ngx_free_chain(r->pool, cl);

        start = b->start;
        ngx_memzero(b, sizeof(ngx_buf_t));

    } else {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NULL;
        }

        start = ngx_pnalloc(r->pool, NGX_HTTP_CX_OWN_BYTES);
        if (start == NULL) {
            return NULL;
        }
    }

    b->start = start;
    b->end = start + NGX_HTTP_CX_OWN_BYTES;
    b->pos = start;
    b->last = start;
    b->tag = (ngx_buf_tag_t) &ngx_http_cx_module;

    return b;
}


static ngx_buf_t *
ngx_http_cx_snippet_buf(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx)
{
    ngx_buf_t  *b;

    b = ngx_http_cx_own_buf(r, ctx);
    if (b == NULL) {
        return NULL;
    }

    b->pos = ctx->snippet.data;
    b->last = ctx->snippet.data + ctx->snippet.len;
    b->memory = 1;

    return b;
}


/*
 * A buffer of our own for the first size bytes of b, sharing its memory or
 * file.  With a shadow, that buffer is consumed once these bytes are sent.
 */

static ngx_buf_t *
ngx_http_cx_prefix(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, off_t size, ngx_buf_t *shadow)
{
    ngx_buf_t  *p;

    p = ngx_http_cx_own_buf(r, ctx);
    if (p == NULL) {
        return NULL;
    }

    /*
     * The owner waits for that buffer: the write filter sends a recycled
     * buffer at once instead of postponing small output, as nginx's own
     * filters mark the piece that carries a shadow.
     */
    if (shadow) {
        p->shadow = shadow;
        p->recycled = 1;
    }

    if (ngx_buf_in_memory(b)) {
        p->pos = b->pos;
        p->last = b->pos + size;
        p->temporary = b->temporary;
        p->memory = b->memory;
        p->mmap = b->mmap;
    }

    if (b->in_file) {
        p->in_file = 1;
        p->file = b->file;
        p->file_pos = b->file_pos;
        p->file_last = b->file_pos + size;
    }

    return p;
}


/*
 * After the next filters ran, in the order the buffers were sent on: a
 * buffer of ours that has been sent consumes the buffer it was cut from
 * (its shadow) and goes back to the free chain.  Only buffers with data are
 * reused: an empty one may still wait in a later filter.  Other buffers'
 * links are dropped; their owners track them.
 */

static void
ngx_http_cx_release(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_chain_t **out)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (*out) {
        if (ctx->busy == NULL) {
            ctx->busy = *out;

        } else {
            for (cl = ctx->busy; cl->next; cl = cl->next) { /* void */ }
            cl->next = *out;
        }

        *out = NULL;
    }

    while (ctx->busy) {
        cl = ctx->busy;
        b = cl->buf;

        if (b->tag != (ngx_buf_tag_t) &ngx_http_cx_module) {
            ctx->busy = cl->next;
            ngx_free_chain(r->pool, cl);
            continue;
        }

        if (ngx_buf_size(b) != 0) {
            break;
        }

        if (b->shadow) {
            ngx_http_cx_consume(b->shadow);
            b->shadow = NULL;
        }

        ctx->busy = cl->next;
        cl->next = ctx->free;
        ctx->free = cl;
    }
}


static void
ngx_http_cx_consume(ngx_buf_t *b)
{
    if (ngx_buf_in_memory(b)) {
        b->pos = b->last;
    }

    if (b->in_file) {
        b->file_pos = b->file_last;
    }
}


static void
ngx_http_cx_advance(ngx_buf_t *b, off_t n)
{
    if (ngx_buf_in_memory(b)) {
        b->pos += n;
    }

    if (b->in_file) {
        b->file_pos += n;
    }
}
