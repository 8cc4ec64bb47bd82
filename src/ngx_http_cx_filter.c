/*
 * The injection: header and body filters.
 *
 * The header filter decides, with the rules of ngx_http_cx_response.c:
 * everything that is not a plain, successful, transformable HTML answer to
 * a main GET request passes untouched, and so does every response for
 * which no prompt is decided; only then is a context created and are the
 * headers adjusted (no Content-Length, no ETag or Last-Modified, no
 * Accept-Ranges, Cache-Control: private, no-store).
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
 * ranges; a static file sent whole is scanned once per version and then
 * sent around the snippet by ngx_http_cx_filecache.c.  When the page's
 * length was announced, its end (the last chunk) is sent with its last
 * bytes, not in a write of its own (ngx_http_cx_page_end).
 *
 * Any internal failure mid-stream sends the rest unchanged.
 */

#include "ngx_http_cx.h"


#define NGX_HTTP_CX_READ_SIZE   32768
#define NGX_HTTP_CX_OWN_BYTES   8       /* room in each own buffer: held bytes */


static ngx_int_t ngx_http_cx_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_buf_t *ngx_http_cx_page_end(ngx_http_cx_ctx_t *ctx,
    ngx_chain_t *in);
static ngx_int_t ngx_http_cx_body_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, ngx_chain_t ***ll);
static ngx_int_t ngx_http_cx_splice(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, uint64_t start, uint64_t tag_at,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_cx_hold(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, uint64_t start, off_t size,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_cx_flush_hold(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t ***ll);
static ngx_int_t ngx_http_cx_scan_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, uint64_t *tag_at);
static ngx_int_t ngx_http_cx_emit_bytes(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t ***last, u_char *p, size_t len);
static ngx_buf_t *ngx_http_cx_own_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx);
static void ngx_http_cx_release(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t **out);
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
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_loc_conf_t   *lcf;
    ngx_http_cx_main_conf_t  *cmcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    /* a second header (an error page after a failure) starts over */
    if (ngx_http_get_module_ctx(r, ngx_http_cx_module)) {
        ngx_http_set_ctx(r, NULL, ngx_http_cx_module);
    }

    /* ?cx_preview= with the marketer's cookie: any page, nothing counted */
    if (r == r->main && r->args.len
        && (survey = ngx_http_cx_preview_survey(r)) != NULL)
    {
        if (ngx_http_cx_preview_prepare(r, lcf, survey) == NGX_ERROR) {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
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
     * A page is a response of a type in cx_types: the stylesheets, images
     * and scripts a touchpoint location also serves are not visits
     * (docs/behaviours.md 25).
     */
    visited = (lcf->touchpoint.len
               && r->headers_out.status >= NGX_HTTP_OK
               && r->headers_out.status < NGX_HTTP_SPECIAL_RESPONSE
               && r->headers_out.status != NGX_HTTP_PARTIAL_CONTENT
               && r->headers_in.range == NULL
               && r->method == NGX_HTTP_GET
               && r->headers_out.content_type.len
               && ngx_http_test_content_type(r, &lcf->types) != NULL);

    eligible = (lcf->prompts
                && ngx_http_cx_response_eligible(r, lcf, &nonce) == NGX_OK);

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
        ngx_http_cx_visit(r, ctx, lcf);
    }

    if (eligible && ngx_http_cx_prompt_decide(r, lcf, &nonce, ctx) == NGX_OK) {
        ctx->inject = 1;
        ctx->done = 0;

        if (r->headers_out.content_length_n >= 0) {
            ctx->unsent = r->headers_out.content_length_n;
            ctx->sized = 1;
        }

        ngx_http_cx_response_prepare(r);
        ngx_cx_scan_init(&ctx->scan);
    }

    /*
     * The cookie carries what changed (a visit; a new visitor offered a
     * prompt, or drawn for a sample: without the cookie the next page
     * would draw again).  A response that sets it is personal: never from
     * a shared cache, so Cache-Control becomes private.
     */
    if (visited
        || (ctx->visitor.is_new && (ctx->inject || ctx->drawn)))
    {
        if (ngx_http_cx_visitor_set_cookie(r, cmcf, &ctx->visitor) != NGX_OK
            || ngx_http_cx_response_private(r) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ctx->inject && ngx_http_cx_response_private(r) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The header is not held back until the body shows whether and where
     * the snippet goes: later filters (gzip, sub) must see it before the
     * first body buffer is read.  Chunked framing costs no more system
     * calls than an exact Content-Length as long as its last chunk leaves
     * with the page's last bytes (ngx_http_cx_body_filter).
     */
    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_cx_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t           rc;
    ngx_buf_t          *end;
    ngx_chain_t        *cl, *out, **ll;
    ngx_http_cx_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cx_module);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->ended) {
        /* the producer's own end, after ours: nothing left to send */
        for (cl = in; cl; cl = cl->next) {
            ngx_http_cx_consume(cl->buf);
        }

        out = NULL;
        rc = ngx_http_next_body_filter(r, NULL);
        ngx_http_cx_release(r, ctx, &out);

        return rc;
    }

    end = ctx->sized ? ngx_http_cx_page_end(ctx, in) : NULL;

    /* once done, and nothing of ours is in flight, it is a pass-through */
    if (ctx->done && ctx->busy == NULL && end == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    out = NULL;
    ll = &out;

    for (cl = in; cl; cl = cl->next) {
        if (ngx_http_cx_body_buf(r, ctx, cl->buf, &ll) != NGX_OK) {
            goto failed;
        }
    }

    if (end) {
        if (ngx_http_cx_body_buf(r, ctx, end, &ll) != NGX_OK) {
            goto failed;
        }

        ctx->done = 1;
        ctx->ended = 1;
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


/*
 * A proxied page's end reaches the filters in a call of its own (the
 * upstream's finalization, after the last bytes went out), and with chunked
 * framing that end is the last chunk: five bytes that would take a write of
 * their own, one more system call than the same page with its
 * Content-Length.  So when the page's length was known and its last byte
 * is in this chain, the end goes with it: returns a last_buf to append,
 * NULL when this is not the end or the producer marks the end itself.
 */

static ngx_buf_t *
ngx_http_cx_page_end(ngx_http_cx_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            ctx->sized = 0;
            return NULL;
        }

        ctx->unsent -= ngx_buf_size(cl->buf);
    }

    if (ctx->unsent != 0) {
        if (ctx->unsent < 0) {
            ctx->sized = 0;     /* more than announced: not ours to judge */
        }

        return NULL;
    }

    ctx->sized = 0;

    b = &ctx->end;
    ngx_memzero(b, sizeof(ngx_buf_t));
    b->last_buf = 1;

    return b;
}


/*
 * One buffer of the page: passed on, scanned, or split around the snippet.
 * NGX_ERROR only when memory runs out.
 */

static ngx_int_t
ngx_http_cx_body_buf(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, ngx_chain_t ***ll)
{
    off_t      size;
    uint64_t   start, tag_at;
    ngx_int_t  rc;

    if (ctx->fed == 0 && !ctx->done) {
        rc = ngx_http_cx_filecache_send(r, ctx, b, ll);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ctx->done) {
        return ngx_http_cx_emit(r, ll, b);
    }

    size = ngx_buf_size(b);

    if (size == 0 || ngx_buf_special(b)) {

        /* at the end of the stream what was held was not "</body" */
        if (b->last_buf && ngx_http_cx_flush_hold(r, ctx, ll) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_cx_emit(r, ll, b);
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

        if (ngx_http_cx_flush_hold(r, ctx, ll) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_cx_emit(r, ll, b);
    }

    if (rc == NGX_OK) {
        return ngx_http_cx_splice(r, ctx, b, start, tag_at, ll);
    }

    return ngx_http_cx_hold(r, ctx, b, start, size, ll);
}


/*
 * The end tag is at stream offset tag_at: what is held and b's front, the
 * snippet, then b itself with its start moved (or, when the tag began in
 * the held bytes, those around the snippet and b whole).
 */

static ngx_int_t
ngx_http_cx_splice(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, uint64_t start, uint64_t tag_at, ngx_chain_t ***ll)
{
    off_t       keep;
    ngx_buf_t  *snippet;

    snippet = ngx_http_cx_snippet_buf(r, ctx);
    if (snippet == NULL) {
        return NGX_ERROR;
    }

    if (tag_at >= start) {
        if (ngx_http_cx_flush_hold(r, ctx, ll) != NGX_OK) {
            return NGX_ERROR;
        }

        keep = (off_t) (tag_at - start);

        /* b itself follows its front: no shadow needed */
        if (keep
            && ngx_http_cx_emit(r, ll,
                                ngx_http_cx_prefix(r, ctx, b, keep, NULL))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_cx_advance(b, keep);

        if (ngx_http_cx_emit(r, ll, snippet) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        keep = (off_t) (tag_at - ctx->hold_at);

        if (ngx_http_cx_emit_bytes(r, ctx, ll, ctx->hold, keep) != NGX_OK
            || ngx_http_cx_emit(r, ll, snippet) != NGX_OK
            || ngx_http_cx_emit_bytes(r, ctx, ll, ctx->hold + keep,
                                      ctx->hold_len - keep)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->hold_len = 0;
    }

    if (ngx_http_cx_emit(r, ll, b) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->done = 1;
    ngx_http_cx_offered(r, ctx);

    if (ctx->cache_put) {
        ngx_http_cx_filecache_tag(r, ctx, b, (off_t) tag_at);
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cx: prompt inserted");

    return NGX_OK;
}


/*
 * No end tag in b.  It goes on, but for the last bytes when they may begin
 * "</body": those are copied and held until the next buffer tells.
 */

static ngx_int_t
ngx_http_cx_hold(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, uint64_t start, off_t size, ngx_chain_t ***ll)
{
    off_t       keep;
    uint64_t    hold_from;
    ngx_buf_t  *front;

    if (ctx->cache_put && b->last_buf) {
        /* the whole file was scanned: it has no </body> */
        ngx_http_cx_filecache_put(&ctx->st, -1, NULL, 0, NULL);
    }

    ctx->cache_put = 0;

    hold_from = ngx_cx_scan_hold_from(&ctx->scan);

    if (b->last_buf || hold_from == ctx->fed) {
        if (ngx_http_cx_flush_hold(r, ctx, ll) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_cx_emit(r, ll, b);
    }

    if (hold_from >= start) {
        if (ngx_http_cx_flush_hold(r, ctx, ll) != NGX_OK) {
            return NGX_ERROR;
        }

        keep = (off_t) (ctx->fed - hold_from);
        ngx_memcpy(ctx->hold, ctx->tail + ctx->tail_len - keep, keep);
        ctx->hold_len = keep;
        ctx->hold_at = hold_from;

    } else {
        /* the candidate began in what is held and spans this buffer */
        keep = (off_t) (hold_from - ctx->hold_at);

        if (ngx_http_cx_emit_bytes(r, ctx, ll, ctx->hold, keep) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_memmove(ctx->hold, ctx->hold + keep, ctx->hold_len - keep);
        ctx->hold_len -= keep;
        ngx_memcpy(ctx->hold + ctx->hold_len, ctx->tail, size);
        ctx->hold_len += size;
        ctx->hold_at = hold_from;

        keep = size;
    }

    /*
     * b is not passed on, so it stays unconsumed until its front has been
     * sent: its owner must not reuse the memory under the front.
     */

    if (size > keep) {
        front = ngx_http_cx_prefix(r, ctx, b, size - keep, b);
        if (front == NULL) {
            return NGX_ERROR;
        }

        front->flush = b->flush;

        return ngx_http_cx_emit(r, ll, front);
    }

    ngx_http_cx_advance(b, size);

    if (b->flush) {
        /* not ours to reuse: an empty buffer's size says nothing */
        front = ngx_calloc_buf(r->pool);
        if (front == NULL) {
            return NGX_ERROR;
        }

        front->flush = 1;

        return ngx_http_cx_emit(r, ll, front);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_flush_hold(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_chain_t ***ll)
{
    ngx_int_t  rc;

    rc = ngx_http_cx_emit_bytes(r, ctx, ll, ctx->hold, ctx->hold_len);
    ctx->hold_len = 0;

    return rc;
}


void
ngx_http_cx_offered(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx)
{
    ngx_http_cx_loc_conf_t  *lcf;

    ctx->injected = 1;

    if (ctx->preview) {
        return;                 /* a marketer's look: no offer counted */
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    ngx_http_cx_event(r, ctx, NGX_HTTP_CX_EVENT_OFFER,
                      &ctx->survey->name, lcf->stage);
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


ngx_int_t
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


ngx_buf_t *
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

ngx_buf_t *
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


void
ngx_http_cx_advance(ngx_buf_t *b, off_t n)
{
    if (ngx_buf_in_memory(b)) {
        b->pos += n;
    }

    if (b->in_file) {
        b->file_pos += n;
    }
}
