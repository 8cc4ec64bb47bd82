/*
 * responses.csv and responses.ndjson: every response that passes the
 * filters, streamed.  A chunk of records is read (in its own read
 * transaction) only when the previous one has been sent, into the writer's
 * buffers, which are reused, so memory stays flat however many responses
 * there are.  The rows are ngx_cx_export.c's, as cxctl export writes them.
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
#define NGX_HTTP_CX_EXPORT_BUF     32768


typedef struct {
    ngx_http_cx_report_filters_t  filters;
    ngx_flag_t                    ndjson;
    ngx_flag_t                    started;    /* last holds a key */
    ngx_flag_t                    finished;   /* all read, the end written */
    u_char                        last[NGX_CX_PROMPT_ID_LEN];
    ngx_uint_t                    rows;
    ngx_http_cx_writer_t          w;
} ngx_http_cx_export_t;


static ngx_int_t ngx_http_cx_export_send(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static ngx_int_t ngx_http_cx_export_read(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static ngx_int_t ngx_http_cx_export_record(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static void ngx_http_cx_export_writer(ngx_http_request_t *r);
static void ngx_http_cx_export_cleanup(void *data);


/* The request's headers are sent; the store is there. */

ngx_int_t
ngx_http_cx_export_stream(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, ngx_flag_t ndjson)
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
    ngx_http_cx_writer_init(&ex->w, r->pool, NGX_HTTP_CX_EXPORT_BUF);

    cln->handler = ngx_http_cx_export_cleanup;

    rc = ngx_http_cx_export_headers(r, ndjson);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (!ndjson
        && ngx_cx_export_csv_header(ngx_http_cx_writer_sink, &ex->w) != 0)
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
 * full (NGX_AGAIN), the end (NGX_OK) or an error.
 */

static ngx_int_t
ngx_http_cx_export_send(ngx_http_request_t *r, ngx_http_cx_export_t *ex)
{
    ngx_int_t  rc;

    for ( ;; ) {

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
                                        id, rec);

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


/* Nothing to free (it is all the pool's); it marks the export's state. */

static void
ngx_http_cx_export_cleanup(void *data)
{
    ngx_http_cx_export_t *ex = data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ex->w.pool->log, 0,
                   "cx export: %ui rows, %s", ex->rows,
                   ex->finished ? "complete" : "cut short");
}
