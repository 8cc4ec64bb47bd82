/*
 * Where </body> is in a static file, remembered per worker.
 *
 * A static page is the same bytes on every request, so it is scanned once:
 * the result (the offset of the end tag, or "none") is kept against the
 * file's identity as fstat() reports it — device, inode, size, and the
 * modification and change times to the nanosecond.  Any write to the file
 * changes its ctime, so an edited or replaced file is scanned again; a
 * stale entry can never point into a different version of the file.
 *
 * When the end tag is near the end of the file (the usual
 * "</body></html>\n"), the bytes from the tag to the end are kept too, so a
 * prompted page is sent as one file range plus one memory buffer.
 *
 * A small page (up to 64 KB, 8 MB in all per worker) is kept whole, so a
 * prompted page is sent from memory without reading the file again.  A
 * response may still be sending those bytes when its entry is replaced:
 * bodies are counted references, freed by the last response using them.
 *
 * The table is small, fixed and direct-mapped: a collision replaces the
 * older entry, which only costs a rescan.
 *
 * ngx_http_cx_filecache_send is the body filter's path for such a file
 * sent whole: from the cache, the page goes out around the snippet without
 * a scan.  The first request of a version reads the file to scan it (in
 * the body filter, like the static module's own reads) and records the
 * result with ngx_http_cx_filecache_tag.
 */

#include "ngx_http_cx.h"


#define NGX_HTTP_CX_FILECACHE_SIZE  128
#define NGX_HTTP_CX_FILE_KEEP_MAX   65536
#define NGX_HTTP_CX_BODIES_MAX      (8 * 1024 * 1024)


typedef struct {
    dev_t                     dev;
    ino_t                     ino;
    off_t                     size;
    struct timespec           mtime;
    struct timespec           ctime;
    off_t                     tag_at;     /* -1: the file has no </body> */
    size_t                    tail_len;   /* 0: tail not kept */
    u_char                    tail[NGX_HTTP_CX_FILECACHE_TAIL];
    ngx_http_cx_file_body_t  *body;       /* the whole file, or NULL */
    unsigned                  used:1;
} ngx_http_cx_filecache_entry_t;


static ngx_http_cx_filecache_entry_t
    ngx_http_cx_filecache[NGX_HTTP_CX_FILECACHE_SIZE];

static size_t  ngx_http_cx_bodies_size;


static ngx_int_t ngx_http_cx_filecache_around(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_chain_t ***last, u_char *data, size_t size,
    off_t tag_at, ngx_buf_t *orig);
static ngx_buf_t *ngx_http_cx_filecache_read(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, off_t tag_at);


static void
ngx_http_cx_body_release(ngx_http_cx_file_body_t *body)
{
    if (--body->refs == 0) {
        ngx_http_cx_bodies_size -= body->size;
        ngx_free(body);
    }
}


static void
ngx_http_cx_body_cleanup(void *data)
{
    ngx_http_cx_body_release(data);
}


/* The body stays alive until the request's pool goes. */

ngx_int_t
ngx_http_cx_filecache_hold(ngx_pool_t *pool, ngx_http_cx_file_body_t *body)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    body->refs++;
    cln->handler = ngx_http_cx_body_cleanup;
    cln->data = body;

    return NGX_OK;
}


static ngx_http_cx_filecache_entry_t *
ngx_http_cx_filecache_slot(struct stat *st)
{
    ngx_uint_t  h;

    h = (ngx_uint_t) st->st_ino * 2654435761u ^ (ngx_uint_t) st->st_dev;

    return &ngx_http_cx_filecache[h % NGX_HTTP_CX_FILECACHE_SIZE];
}


static ngx_int_t
ngx_http_cx_filecache_same(ngx_http_cx_filecache_entry_t *e, struct stat *st)
{
    return e->used
           && e->dev == st->st_dev
           && e->ino == st->st_ino
           && e->size == st->st_size
           && e->mtime.tv_sec == st->st_mtim.tv_sec
           && e->mtime.tv_nsec == st->st_mtim.tv_nsec
           && e->ctime.tv_sec == st->st_ctim.tv_sec
           && e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}


ngx_int_t
ngx_http_cx_filecache_get(ngx_fd_t fd, struct stat *st,
    ngx_http_cx_file_hit_t *hit)
{
    ngx_http_cx_filecache_entry_t  *e;

    if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
        return NGX_ERROR;
    }

    e = ngx_http_cx_filecache_slot(st);

    if (!ngx_http_cx_filecache_same(e, st)) {
        return NGX_DECLINED;
    }

    hit->tag_at = e->tag_at;
    hit->tail = e->tail;
    hit->tail_len = e->tail_len;
    hit->body = e->body;

    return NGX_OK;
}


void
ngx_http_cx_filecache_put(struct stat *st, off_t tag_at, u_char *tail,
    size_t tail_len, ngx_file_t *file)
{
    ngx_http_cx_file_body_t        *body;
    ngx_http_cx_filecache_entry_t  *e;

    e = ngx_http_cx_filecache_slot(st);

    if (e->body) {
        ngx_http_cx_body_release(e->body);
        e->body = NULL;
    }

    /* a page that will be prompted is kept whole, if small */
    if (file && tag_at >= 0 && st->st_size <= NGX_HTTP_CX_FILE_KEEP_MAX
        && ngx_http_cx_bodies_size + st->st_size <= NGX_HTTP_CX_BODIES_MAX)
    {
        body = ngx_alloc(sizeof(ngx_http_cx_file_body_t) + st->st_size,
                         file->log);

        if (body
            && ngx_read_file(file, body->data, st->st_size, 0) == st->st_size)
        {
            body->refs = 1;
            body->size = st->st_size;
            ngx_http_cx_bodies_size += body->size;
            e->body = body;

        } else if (body) {
            ngx_free(body);
        }
    }

    e->used = 1;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    e->tag_at = tag_at;

    if (tail && tail_len <= NGX_HTTP_CX_FILECACHE_TAIL) {
        ngx_memcpy(e->tail, tail, tail_len);
        e->tail_len = tail_len;

    } else {
        e->tail_len = 0;
    }
}


/*
 * A static file sent whole (the static module's single buffer, sendfile):
 * scanned once per version of the file (ngx_http_cx_filecache.c), then
 * sent as a file range, the snippet, and the end of the file — from
 * memory when it was small enough to keep.
 *
 * NGX_OK: b was handled (and consumed); NGX_DECLINED: scan it normally;
 * NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_cx_filecache_send(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
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
        ngx_http_cx_offered(r, ctx);
        ctx->fed = b->file_last;
        b->file_pos = b->file_last;

        return ngx_http_cx_filecache_around(r, ctx, last, hit.body->data,
                                       hit.body->size, hit.tag_at, b);
    }

    /* a small page not kept: read in one buffer with the snippet */
    if (b->file_last <= NGX_HTTP_CX_FILE_KEEP_MAX) {
        mb = ngx_http_cx_filecache_read(r, ctx, b, hit.tag_at);

        if (mb) {
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
ngx_http_cx_filecache_around(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
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

    if (ngx_http_cx_emit(r, last, ngx_http_cx_snippet_buf(r, ctx)) != NGX_OK) {
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
ngx_http_cx_filecache_read(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
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


/* Remembers where the scan found </body> in this file, and its tail. */

void
ngx_http_cx_filecache_tag(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
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
