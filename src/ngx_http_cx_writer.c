/*
 * The one output writer of the report location: see ngx_http_cx_writer.h.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_writer.h"
#include "ngx_cx_json.h"


static ngx_buf_t *ngx_http_cx_writer_buf(ngx_http_cx_writer_t *w);


void
ngx_http_cx_writer_init(ngx_http_cx_writer_t *w, ngx_pool_t *pool,
    size_t size)
{
    ngx_memzero(w, sizeof(ngx_http_cx_writer_t));

    w->pool = pool;
    w->size = size;
    w->last = &w->out;
}


void
ngx_http_cx_write(ngx_http_cx_writer_t *w, const void *p, size_t len)
{
    size_t      n;
    ngx_buf_t  *b;

    while (len && !w->error) {
        b = w->b;

        if (b == NULL || b->last == b->end) {
            b = ngx_http_cx_writer_buf(w);
            if (b == NULL) {
                return;
            }
        }

        n = ngx_min(len, (size_t) (b->end - b->last));
        b->last = ngx_cpymem(b->last, p, n);
        p = (u_char *) p + n;
        len -= n;
    }
}


/* The next buffer to fill, a sent one again if any, chained on out. */

static ngx_buf_t *
ngx_http_cx_writer_buf(ngx_http_cx_writer_t *w)
{
    u_char       *start;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_chain_get_free_buf(w->pool, &w->free);
    if (cl == NULL) {
        w->error = 1;
        return NULL;
    }

    b = cl->buf;
    start = b->start;

    if (start == NULL || (size_t) (b->end - start) != w->size) {
        start = ngx_palloc(w->pool, w->size);
        if (start == NULL) {
            w->error = 1;
            return NULL;
        }
    }

    ngx_memzero(b, sizeof(ngx_buf_t));
    b->start = start;
    b->end = start + w->size;
    b->pos = start;
    b->last = start;
    b->temporary = 1;
    b->tag = (ngx_buf_tag_t) &ngx_http_cx_module;

    cl->next = NULL;
    *w->last = cl;
    w->last = &cl->next;
    w->b = b;

    return b;
}


void
ngx_http_cx_write_json_str(ngx_http_cx_writer_t *w, const u_char *p,
    size_t len)
{
    u_char  *buf, *end;
    size_t   n;

    n = ngx_cx_json_escape_len(p, len) + 2;

    /* straight into the buffer when it fits, else through a copy */
    if (w->b && (size_t) (w->b->end - w->b->last) >= n) {
        buf = w->b->last;

    } else {
        buf = ngx_pnalloc(w->pool, n);
        if (buf == NULL) {
            w->error = 1;
            return;
        }
    }

    buf[0] = '"';
    end = ngx_cx_json_escape(buf + 1, p, len);
    *end++ = '"';

    if (w->b && buf == w->b->last) {
        w->b->last = end;
        return;
    }

    ngx_http_cx_write(w, buf, end - buf);
}


void
ngx_http_cx_writef(ngx_http_cx_writer_t *w, const char *fmt, ...)
{
    u_char   *p;
    u_char    buf[512];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_http_cx_write(w, buf, p - buf);
}


int
ngx_http_cx_writer_sink(void *data, const unsigned char *p, size_t len)
{
    ngx_http_cx_writer_t *w = data;

    ngx_http_cx_write(w, p, len);

    return w->error ? -1 : 0;
}


off_t
ngx_http_cx_writer_size(ngx_http_cx_writer_t *w)
{
    off_t         size;
    ngx_chain_t  *cl;

    size = 0;

    for (cl = w->out; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    return size;
}


ngx_int_t
ngx_http_cx_writer_end(ngx_http_cx_writer_t *w)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (w->error) {
        return NGX_ERROR;
    }

    /* the last bytes carry the mark, or an empty buffer does */
    b = w->b;

    if (b == NULL) {
        cl = ngx_chain_get_free_buf(w->pool, &w->free);
        if (cl == NULL) {
            w->error = 1;
            return NGX_ERROR;
        }

        b = cl->buf;
        ngx_memzero(b, sizeof(ngx_buf_t));
        b->tag = (ngx_buf_tag_t) &ngx_http_cx_module;

        cl->next = NULL;
        *w->last = cl;
        w->last = &cl->next;
        w->b = b;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_cx_writer_flush(ngx_http_cx_writer_t *w, ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (w->error) {
        return NGX_ERROR;
    }

    rc = ngx_http_output_filter(r, w->out);

    ngx_chain_update_chains(w->pool, &w->free, &w->busy, &w->out,
                            (ngx_buf_tag_t) &ngx_http_cx_module);

    /* the one being filled is flushed: the next write takes another */
    w->out = NULL;
    w->last = &w->out;
    w->b = NULL;

    return rc;
}
