/*
 * responses.csv and responses.ndjson: every response that passes the
 * filters, streamed.  A chunk of records is read (in its own read
 * transaction) only when the previous one has been sent, into the writer's
 * buffers, which are reused, so memory stays flat however many responses
 * there are.  The rows are ngx_cx_export.c's, as cxctl export writes them.
 *
 * A CSV's header names an attr_ column per attribute key of its rows, so
 * the records are first read for their keys alone: in larger chunks, one
 * per turn of the event loop (ngx_posted_next_events), so a big store never
 * holds the worker's other requests for long.  The response's headers wait
 * for the key set: a store that fails to read still gets its 500.  A
 * response stored during the download with a key the first pass did not
 * see has that key in its attributes cell only.
 *
 * The export's state is its own: it hangs on the request pool as the data
 * of a cleanup, where the write handler finds it again (as
 * ngx_pool_run_cleanup_file() finds a file).  The module's request context
 * stays the filter's, and stays unset here.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_report.h"
#include "ngx_http_cx_writer.h"


#define NGX_HTTP_CX_EXPORT_CHUNK   256      /* records per read transaction */
#define NGX_HTTP_CX_EXPORT_TURN    16       /* chunks per turn of the loop */
#define NGX_HTTP_CX_EXPORT_KEYS    4096     /* the same, for the keys */
#define NGX_HTTP_CX_EXPORT_BUF     32768


typedef struct {
    ngx_http_cx_report_filters_t  filters;
    ngx_flag_t                    ndjson;
    unsigned                      flags;      /* NGX_CX_EXPORT_EXCEL */
    ngx_flag_t                    started;    /* last holds a key */
    ngx_flag_t                    finished;   /* all read, the end written */
    u_char                        last[NGX_CX_PROMPT_ID_LEN];
    ngx_uint_t                    rows;
    ngx_cx_export_columns_t      *cols;       /* CSV: the attr_ columns */
    ngx_event_t                   keys;       /* the first pass goes on */
    ngx_http_request_t           *r;
    ngx_http_cx_writer_t          w;
} ngx_http_cx_export_t;


static ngx_int_t ngx_http_cx_export_keys(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static void ngx_http_cx_export_keys_next(ngx_event_t *ev);
static ngx_int_t ngx_http_cx_export_key(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_export_start(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static ngx_int_t ngx_http_cx_export_send(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static ngx_int_t ngx_http_cx_export_read(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static ngx_int_t ngx_http_cx_export_record(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static void ngx_http_cx_export_writer(ngx_http_request_t *r);
static void ngx_http_cx_export_cleanup(void *data);


/* The store is there; nothing is sent yet. */

ngx_int_t
ngx_http_cx_export_stream(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, ngx_flag_t ndjson, unsigned flags)
{
    ngx_int_t              rc;
    ngx_pool_cleanup_t    *cln;
    ngx_http_cx_export_t  *ex;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_cx_export_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ex = cln->data;
    ngx_memzero(ex, sizeof(ngx_http_cx_export_t));
    ex->filters = *f;
    ex->ndjson = ndjson;
    ex->flags = flags;
    ex->r = r;
    ngx_http_cx_writer_init(&ex->w, r->pool, NGX_HTTP_CX_EXPORT_BUF);

    cln->handler = ngx_http_cx_export_cleanup;

    if (ndjson || r->method == NGX_HTTP_HEAD) {
        return ngx_http_cx_export_start(r, ex);
    }

    ex->cols = ngx_palloc(r->pool, sizeof(ngx_cx_export_columns_t));
    if (ex->cols == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cx_export_columns_init(ex->cols);

    rc = ngx_http_cx_export_keys(r, ex);

    if (rc == NGX_DONE) {
        return ngx_http_cx_export_start(r, ex);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* more to read: on the next turn of the event loop */
    ex->keys.handler = ngx_http_cx_export_keys_next;
    ex->keys.data = ex;
    ex->keys.log = r->connection->log;

    ngx_post_event(&ex->keys, &ngx_posted_next_events);

    r->write_event_handler = ngx_http_request_empty_handler;
    r->main->count++;

    return NGX_DONE;
}


/* One chunk of the first pass: NGX_DONE at the end, NGX_OK, NGX_ERROR. */

static ngx_int_t
ngx_http_cx_export_keys(ngx_http_request_t *r, ngx_http_cx_export_t *ex)
{
    ngx_int_t                 rc;
    ngx_uint_t                corrupt;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    corrupt = 0;

    rc = ngx_http_cx_store_each_after(cmcf->store, r->connection->log,
                                      ex->started ? ex->last : NULL,
                                      NGX_HTTP_CX_EXPORT_KEYS,
                                      ngx_http_cx_export_key, ex, &corrupt);

    if (rc == NGX_DONE) {
        /* the rows are read from the first again */
        ex->started = 0;
    }

    return rc;
}


static void
ngx_http_cx_export_keys_next(ngx_event_t *ev)
{
    ngx_http_cx_export_t *ex = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ex->r;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    rc = ngx_http_cx_export_keys(r, ex);

    if (rc == NGX_OK) {
        ngx_post_event(&ex->keys, &ngx_posted_next_events);
        return;
    }

    rc = (rc == NGX_DONE) ? ngx_http_cx_export_start(r, ex)
                          : NGX_HTTP_INTERNAL_SERVER_ERROR;

    if (rc == NGX_DONE) {
        /* the writer goes on; the count taken for the first pass is its */
        r->main->count--;
        return;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_cx_export_key(void *data, const u_char *id, ngx_cx_record_t *rec)
{
    ngx_http_cx_export_t *ex = data;

    ngx_memcpy(ex->last, id, NGX_CX_PROMPT_ID_LEN);
    ex->started = 1;

    if (ngx_http_cx_report_wanted(&ex->filters, rec)) {
        ngx_cx_export_columns_add(ex->cols, rec);
    }

    return NGX_OK;
}


/*
 * The headers, the CSV's header row, then the rows as the client takes
 * them: what a content handler returns (NGX_DONE while the writer goes on).
 */

static ngx_int_t
ngx_http_cx_export_start(ngx_http_request_t *r, ngx_http_cx_export_t *ex)
{
    ngx_int_t  rc;

    rc = ngx_http_cx_export_headers(r, ex->ndjson);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (!ex->ndjson
        && ngx_cx_export_csv_header(ngx_http_cx_writer_sink, &ex->w,
                                    ex->cols, ex->flags)
           != 0)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_cx_export_send(r, ex);

    if (rc != NGX_AGAIN) {
        return rc;
    }

    /* the client reads slower than we write: go on when it can take more */
    if (ngx_http_cx_export_wait(r) != NGX_OK) {
        return NGX_ERROR;
    }

    r->main->count++;
    r->write_event_handler = ngx_http_cx_export_writer;

    return NGX_DONE;
}


ngx_int_t
ngx_http_cx_export_headers(ngx_http_request_t *r, ngx_flag_t ndjson)
{
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;

    if (ndjson) {
        ngx_str_set(&r->headers_out.content_type, "application/x-ndjson");
    } else {
        ngx_str_set(&r->headers_out.content_type, "text/csv; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_cx_header_out(r, "Content-Disposition", ndjson
                               ? "attachment; filename=\"responses.ndjson\""
                               : "attachment; filename=\"responses.csv\"")
        != NGX_OK
        || ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    return ngx_http_send_header(r);
}


/*
 * Sends what is pending, then reads and sends chunks until the socket is
 * full (NGX_AGAIN), the end (NGX_OK) or an error.  A client that takes
 * everything at once (loopback, a fast network) would keep the worker here
 * for the whole store: after NGX_HTTP_CX_EXPORT_TURN chunks the write
 * event is posted for the next turn of the loop (NGX_AGAIN as well), so
 * the worker's other requests wait for one turn at most.
 */

static ngx_int_t
ngx_http_cx_export_send(ngx_http_request_t *r, ngx_http_cx_export_t *ex)
{
    ngx_int_t   rc;
    ngx_uint_t  chunks;

    for (chunks = 0; /* void */; chunks++) {

        if (chunks == NGX_HTTP_CX_EXPORT_TURN) {
            ngx_post_event(r->connection->write, &ngx_posted_next_events);
            return NGX_AGAIN;
        }

        if (ex->w.out == NULL && !ex->finished) {
            if (ngx_http_cx_export_read(r, ex) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (ex->w.out == NULL && ex->w.busy == NULL) {
            if (ex->finished) {
                return NGX_OK;
            }

            continue;       /* nothing in this chunk passed the filters */
        }

        rc = ngx_http_cx_writer_flush(&ex->w, r);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* (busy buffers after NGX_OK are only held back by postpone_output) */
        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (ex->finished) {
            return rc;
        }
    }
}


/* The next chunk of records into the writer; after the last, the end. */

static ngx_int_t
ngx_http_cx_export_read(ngx_http_request_t *r, ngx_http_cx_export_t *ex)
{
    ngx_int_t                 rc;
    ngx_uint_t                corrupt;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    corrupt = 0;

    rc = ngx_http_cx_store_each_after(cmcf->store, r->connection->log,
                                      ex->started ? ex->last : NULL,
                                      NGX_HTTP_CX_EXPORT_CHUNK,
                                      ngx_http_cx_export_record, ex,
                                      &corrupt);

    if (rc == NGX_ERROR || ex->w.error) {
        return NGX_ERROR;
    }

    if (rc == NGX_DONE) {
        ex->finished = 1;
        return ngx_http_cx_writer_end(&ex->w);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_export_record(void *data, const u_char *id, ngx_cx_record_t *rec)
{
    ngx_http_cx_export_t *ex = data;

    int  rc;

    ngx_memcpy(ex->last, id, NGX_CX_PROMPT_ID_LEN);
    ex->started = 1;

    if (!ngx_http_cx_report_wanted(&ex->filters, rec)) {
        return NGX_OK;
    }

    ex->rows++;

    rc = ex->ndjson ? ngx_cx_export_ndjson(ngx_http_cx_writer_sink, &ex->w,
                                           id, rec)
                    : ngx_cx_export_csv(ngx_http_cx_writer_sink, &ex->w,
                                        id, rec, ex->cols);

    return (rc == 0) ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_cx_export_wait(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    return ngx_handle_write_event(wev, clcf->send_lowat);
}


static void
ngx_http_cx_export_writer(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_pool_cleanup_t    *cln;
    ngx_http_cx_export_t  *ex;

    c = r->connection;

    if (c->write->timedout) {
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    ex = NULL;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_cx_export_cleanup) {
            ex = cln->data;
            break;
        }
    }

    rc = (ex == NULL) ? NGX_ERROR : ngx_http_cx_export_send(r, ex);

    if (rc == NGX_AGAIN) {
        if (ngx_http_cx_export_wait(r) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Nothing to free (it is all the pool's); it marks the export's state, and
 * a first pass cut short by the request's end is not taken up again.
 */

static void
ngx_http_cx_export_cleanup(void *data)
{
    ngx_http_cx_export_t *ex = data;

    if (ex->keys.posted) {
        ngx_delete_posted_event(&ex->keys);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ex->w.pool->log, 0,
                   "cx export: %ui rows, %s", ex->rows,
                   ex->finished ? "complete" : "cut short");
}
