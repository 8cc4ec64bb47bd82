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
 * The table is small, fixed and direct-mapped: a collision replaces the
 * older entry, which only costs a rescan.
 */

#include "ngx_http_cx.h"


#define NGX_HTTP_CX_FILECACHE_SIZE  128


typedef struct {
    dev_t                     dev;
    ino_t                     ino;
    off_t                     size;
    struct timespec           mtime;
    struct timespec           ctime;
    off_t                     tag_at;     /* -1: the file has no </body> */
    size_t                    tail_len;   /* 0: tail not kept */
    u_char                    tail[NGX_HTTP_CX_FILECACHE_TAIL];
    unsigned                  used:1;
} ngx_http_cx_filecache_entry_t;


static ngx_http_cx_filecache_entry_t
    ngx_http_cx_filecache[NGX_HTTP_CX_FILECACHE_SIZE];


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

    return NGX_OK;
}


void
ngx_http_cx_filecache_put(struct stat *st, off_t tag_at, u_char *tail,
    size_t tail_len)
{
    ngx_http_cx_filecache_entry_t  *e;

    e = ngx_http_cx_filecache_slot(st);

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
