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
