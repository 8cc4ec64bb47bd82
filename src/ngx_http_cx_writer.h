/*
 * ngx_http_cx_writer — the one output writer of the report location.
 *
 * Bytes are appended into buffers from the request pool, chained in order;
 * flushing passes the chain to the output filters.  report.json writes its
 * whole body and flushes once; the CSV/NDJSON exports flush a chunk at a
 * time, and the buffers the filters are done with are filled again (so an
 * export's memory stays flat).  The pure formatters (ngx_cx_json.h,
 * ngx_cx_export.h) write through it without knowing nginx: see
 * ngx_http_cx_writer_sink().
 *
 * A failed allocation sets w->error; later writes do nothing, and flush
 * and end report NGX_ERROR.
 */

#ifndef _NGX_HTTP_CX_WRITER_H_INCLUDED_
#define _NGX_HTTP_CX_WRITER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct {
    ngx_pool_t               *pool;
    size_t                    size;       /* of each buffer */
    ngx_chain_t              *out;        /* written, not yet flushed */
    ngx_chain_t             **last;
    ngx_buf_t                *b;          /* being filled; in out */
    ngx_chain_t              *free;       /* flushed and sent: to refill */
    ngx_chain_t              *busy;       /* flushed, not yet sent */
    ngx_uint_t                error;
} ngx_http_cx_writer_t;


void ngx_http_cx_writer_init(ngx_http_cx_writer_t *w, ngx_pool_t *pool,
    size_t size);
void ngx_http_cx_write(ngx_http_cx_writer_t *w, const void *p, size_t len);
/* a JSON string: quoted, escaped by ngx_cx_json_escape() */
void ngx_http_cx_write_json_str(ngx_http_cx_writer_t *w, const u_char *p,
    size_t len);
/* ngx_sprintf() formats; one call writes at most 512 bytes */
void ngx_http_cx_writef(ngx_http_cx_writer_t *w, const char *fmt, ...);
/* an ngx_cx_export_write_pt for the pure formatters; data is the writer */
int ngx_http_cx_writer_sink(void *data, const unsigned char *p, size_t len);
/* the bytes written and not yet flushed */
off_t ngx_http_cx_writer_size(ngx_http_cx_writer_t *w);
/* marks the end of the response (last_buf): nothing is written after */
ngx_int_t ngx_http_cx_writer_end(ngx_http_cx_writer_t *w);
/* passes what is written to the output filters; their result */
ngx_int_t ngx_http_cx_writer_flush(ngx_http_cx_writer_t *w,
    ngx_http_request_t *r);


#endif /* _NGX_HTTP_CX_WRITER_H_INCLUDED_ */
