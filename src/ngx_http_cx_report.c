/*
 * cx_report: <report>report.json — per survey the counts, the score, its
 * distribution, by touchpoint, by day, and the latest comments.
 *
 * This version aggregates by walking every stored response in one read
 * transaction; filters ?survey= ?touchpoint= ?from= ?to= (UTC days,
 * inclusive) select the responses that count.  A response's day is the
 * day of its latest event (answer, else dismissal, else display, else
 * offer).
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_cx_json.h"
#include "ngx_cx_export.h"


#define NGX_HTTP_CX_EXPORT_CHUNK   256      /* records per read transaction */
#define NGX_HTTP_CX_EXPORT_BUF     32768


#define NGX_HTTP_CX_REPORT_COMMENTS  20


typedef struct {
    ngx_str_t                 name;
    ngx_cx_tally_t            tally;
} ngx_http_cx_group_t;


typedef struct {
    uint64_t                  at_ms;
    int                       score;
    ngx_str_t                 touchpoint;
    ngx_str_t                 text;
    size_t                    room;
} ngx_http_cx_comment_t;


typedef struct {
    ngx_str_t                 name;
    unsigned char             type;
    uint64_t                  offered;
    uint64_t                  displayed;
    uint64_t                  answered;
    uint64_t                  dismissed;
    ngx_cx_tally_t            tally;
    ngx_array_t               by_touchpoint;  /* ngx_http_cx_group_t */
    ngx_array_t               by_day;         /* ngx_http_cx_group_t */
    ngx_http_cx_comment_t     comments[NGX_HTTP_CX_REPORT_COMMENTS];
    ngx_uint_t                ncomments;      /* total seen */
    uint64_t                  day_num;        /* by_day group last used */
    ngx_http_cx_group_t      *day_group;
} ngx_http_cx_survey_report_t;


/* a touchpoint's visits, and its distinct visitors in an open-addressed set */
typedef struct {
    ngx_str_t                 name;
    ngx_uint_t                stage;
    uint64_t                  visits;
    uint64_t                  visitors;
    u_char                   *ids;            /* NGX_CX_VISITOR_ID_LEN each */
    ngx_uint_t                slots;          /* a power of two */
} ngx_http_cx_tp_report_t;


typedef struct {
    ngx_http_request_t       *r;
    ngx_array_t               surveys;        /* ngx_http_cx_survey_report_t */
    ngx_array_t               touchpoints;    /* ngx_http_cx_tp_report_t */
    ngx_str_t                 survey;         /* filters */
    ngx_str_t                 touchpoint;
    uint64_t                  from_ms;
    uint64_t                  to_ms;
} ngx_http_cx_report_t;


typedef struct {
    ngx_http_request_t       *r;
    ngx_chain_t              *out;
    ngx_chain_t             **last;
    ngx_buf_t                *b;
    ngx_int_t                 error;
} ngx_http_cx_writer_t;


typedef struct {
    ngx_http_cx_report_t      rep;            /* the filters */
    ngx_http_request_t       *r;
    ngx_flag_t                ndjson;
    ngx_flag_t                started;        /* last holds a key */
    ngx_flag_t                finished;
    u_char                    last[NGX_CX_PROMPT_ID_LEN];
    ngx_chain_t              *out;
    ngx_chain_t             **ll;
    ngx_buf_t                *b;
    ngx_chain_t              *free;
    ngx_chain_t              *busy;
    ngx_int_t                 error;
} ngx_http_cx_export_t;


static ngx_int_t ngx_http_cx_dashboard_send(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_report_json(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_report_wanted(ngx_http_cx_report_t *rep,
    ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_export(ngx_http_request_t *r,
    ngx_flag_t ndjson);
static ngx_int_t ngx_http_cx_export_send(ngx_http_request_t *r,
    ngx_http_cx_export_t *ex);
static void ngx_http_cx_export_writer(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_export_wait(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_export_record(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static int ngx_http_cx_export_write(void *data, const unsigned char *p,
    size_t len);
static ngx_int_t ngx_http_cx_report_args(ngx_http_request_t *r,
    ngx_http_cx_report_t *rep);
static ngx_http_cx_survey_report_t *ngx_http_cx_report_survey(
    ngx_http_cx_report_t *rep, u_char *name, size_t len, unsigned char type);
static ngx_int_t ngx_http_cx_report_add(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_report_event(void *data,
    ngx_http_cx_event_t *ev);
static ngx_int_t ngx_http_cx_report_visitor(ngx_pool_t *pool,
    ngx_http_cx_tp_report_t *tp, u_char *id);
static ngx_http_cx_group_t *ngx_http_cx_report_group(ngx_pool_t *pool,
    ngx_array_t *groups, u_char *name, size_t len, unsigned char type);
static void ngx_http_cx_write(ngx_http_cx_writer_t *w, const void *p,
    size_t len);
static void ngx_http_cx_write_str(ngx_http_cx_writer_t *w, const u_char *p,
    size_t len);
static void ngx_http_cx_writef(ngx_http_cx_writer_t *w, const char *fmt,
    ...);
static void ngx_http_cx_write_groups(ngx_http_cx_writer_t *w,
    ngx_array_t *groups, const char *key);


ngx_int_t
ngx_http_cx_report_handler(ngx_http_request_t *r)
{
    ngx_str_t                  rest;
    ngx_http_core_loc_conf_t  *clcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rest.data = r->uri.data + clcf->name.len;
    rest.len = r->uri.len - clcf->name.len;

    if (rest.len == 0) {
        return ngx_http_cx_dashboard_send(r);
    }

    if (rest.len == sizeof("report.json") - 1
        && ngx_strncmp(rest.data, "report.json", rest.len) == 0)
    {
        return ngx_http_cx_report_json(r);
    }

    if (rest.len == sizeof("responses.csv") - 1
        && ngx_strncmp(rest.data, "responses.csv", rest.len) == 0)
    {
        return ngx_http_cx_export(r, 0);
    }

    if (rest.len == sizeof("responses.ndjson") - 1
        && ngx_strncmp(rest.data, "responses.ndjson", rest.len) == 0)
    {
        return ngx_http_cx_export(r, 1);
    }

    return NGX_HTTP_NOT_FOUND;
}


/*
 * The dashboard: one self-contained page (src/dashboard/dashboard.html)
 * that reads report.json.  Its own policy allows nothing but itself and
 * that request.
 */

static ngx_int_t
ngx_http_cx_dashboard_send(ngx_http_request_t *r)
{
    ngx_int_t    rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_http_cx_dashboard.len;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;

    if (ngx_http_cx_header_out(r, "Content-Security-Policy",
                               "default-src 'none'; "
                               "script-src 'unsafe-inline'; "
                               "style-src 'unsafe-inline'; "
                               "connect-src 'self'; img-src data:; "
                               "base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'")
        != NGX_OK
        || ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK
        || ngx_http_cx_header_out(r, "X-Content-Type-Options", "nosniff")
           != NGX_OK
        || ngx_http_cx_header_out(r, "Referrer-Policy", "no-referrer")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cx_send_bytes(r, &ngx_http_cx_dashboard);
}


static ngx_int_t
ngx_http_cx_report_json(ngx_http_request_t *r)
{
    char                          at[NGX_CX_ISO8601_SIZE];
    ngx_int_t                     rc;
    ngx_uint_t                    i, j, n, first;
    uint64_t                      p, pa, d;
    ngx_buf_t                    *b;
    ngx_uint_t                    corrupt;
    ngx_http_cx_writer_t          w;
    ngx_http_cx_report_t          rep;
    ngx_http_cx_comment_t        *c, *sorted[NGX_HTTP_CX_REPORT_COMMENTS], *t;
    ngx_http_cx_survey_t         *survey;
    ngx_http_cx_main_conf_t      *cmcf;
    ngx_http_cx_survey_report_t  *sr;
    ngx_http_cx_tp_report_t      *tp;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    ngx_memzero(&rep, sizeof(ngx_http_cx_report_t));
    rep.r = r;
    rep.to_ms = (uint64_t) -1;

    if (ngx_http_cx_report_args(r, &rep) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "from= and to= take dates as "
                                      "YYYY-MM-DD");
    }

    if (ngx_array_init(&rep.surveys, r->pool, 4,
                       sizeof(ngx_http_cx_survey_report_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* configured surveys appear even before their first answer */
    survey = cmcf->surveys.elts;
    for (i = 0; i < cmcf->surveys.nelts; i++) {
        if (rep.survey.len
            && (rep.survey.len != survey[i].name.len
                || ngx_strncmp(rep.survey.data, survey[i].name.data,
                               rep.survey.len) != 0))
        {
            continue;
        }

        if (ngx_http_cx_report_survey(&rep, survey[i].name.data,
                                      survey[i].name.len,
                                      (unsigned char) survey[i].type)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    corrupt = 0;

    if (ngx_http_cx_store_each(cmcf->store, r->connection->log,
                               ngx_http_cx_report_add, &rep, &corrupt)
        != NGX_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (corrupt) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cx: %ui stored responses could not be read",
                      corrupt);
    }

    if (ngx_array_init(&rep.touchpoints, r->pool, 8,
                       sizeof(ngx_http_cx_tp_report_t))
        != NGX_OK
        || ngx_http_cx_store_each_event(cmcf->store, r->connection->log,
                                        ngx_http_cx_report_event, &rep)
           != NGX_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_memzero(&w, sizeof(ngx_http_cx_writer_t));
    w.r = r;
    w.last = &w.out;

    ngx_cx_iso8601(at, (uint64_t) ngx_time() * 1000);
    ngx_http_cx_writef(&w, "{\"generated_at\":\"%s\",\"surveys\":[", at);

    sr = rep.surveys.elts;

    for (i = 0; i < rep.surveys.nelts; i++) {
        if (i) {
            ngx_http_cx_write(&w, ",", 1);
        }

        ngx_http_cx_write(&w, "{\"name\":", sizeof("{\"name\":") - 1);
        ngx_http_cx_write_str(&w, sr[i].name.data, sr[i].name.len);

        ngx_http_cx_writef(&w, ",\"type\":\"%s\",\"offered\":%uL,"
                           "\"displayed\":%uL,"
                           "\"answered\":%uL,\"dismissed\":%uL,"
                           "\"score\":%.1f",
                           ngx_cx_type_name(sr[i].type), sr[i].offered,
                           sr[i].displayed,
                           sr[i].answered, sr[i].dismissed,
                           ngx_cx_tally_score(&sr[i].tally));

        if (sr[i].type == NGX_CX_TYPE_NPS) {
            ngx_cx_tally_nps_groups(&sr[i].tally, &p, &pa, &d);
            ngx_http_cx_writef(&w, ",\"promoters\":%uL,\"passives\":%uL,"
                               "\"detractors\":%uL", p, pa, d);
        }

        ngx_http_cx_write(&w, ",\"distribution\":[",
                          sizeof(",\"distribution\":[") - 1);

        {
            int  lo, hi, s;

            (void) ngx_cx_score_range(sr[i].type, &lo, &hi);

            for (s = lo; s <= hi; s++) {
                ngx_http_cx_writef(&w, s == lo ? "%uL" : ",%uL",
                                   sr[i].tally.dist[s]);
            }
        }

        ngx_http_cx_write(&w, "]", 1);

        ngx_http_cx_write_groups(&w, &sr[i].by_touchpoint, "touchpoint");
        ngx_http_cx_write_groups(&w, &sr[i].by_day, "date");

        /* latest first */
        n = ngx_min(sr[i].ncomments, NGX_HTTP_CX_REPORT_COMMENTS);
        for (j = 0; j < n; j++) {
            sorted[j] = &sr[i].comments[j];
        }

        for (j = 1; j < n; j++) {
            t = sorted[j];
            first = j;
            while (first > 0 && sorted[first - 1]->at_ms < t->at_ms) {
                sorted[first] = sorted[first - 1];
                first--;
            }
            sorted[first] = t;
        }

        ngx_http_cx_write(&w, ",\"comments\":[", sizeof(",\"comments\":[") - 1);

        for (j = 0; j < n; j++) {
            c = sorted[j];
            ngx_cx_iso8601(at, c->at_ms);
            ngx_http_cx_writef(&w, "%s{\"at\":\"%s\",\"score\":%d,"
                               "\"touchpoint\":", j ? "," : "", at,
                               c->score);
            ngx_http_cx_write_str(&w, c->touchpoint.data, c->touchpoint.len);
            ngx_http_cx_write(&w, ",\"comment\":", sizeof(",\"comment\":") - 1);
            ngx_http_cx_write_str(&w, c->text.data, c->text.len);
            ngx_http_cx_write(&w, "}", 1);
        }

        ngx_http_cx_write(&w, "]}", 2);
    }

    ngx_http_cx_write(&w, "],\"touchpoints\":[", sizeof("],\"touchpoints\":[") - 1);

    tp = rep.touchpoints.elts;

    for (i = 0; i < rep.touchpoints.nelts; i++) {
        ngx_http_cx_write(&w, i ? ",{\"name\":" : "{\"name\":",
                          i ? sizeof(",{\"name\":") - 1
                            : sizeof("{\"name\":") - 1);
        ngx_http_cx_write_str(&w, tp[i].name.data, tp[i].name.len);
        ngx_http_cx_writef(&w, ",\"stage\":\"%s\",\"visits\":%uL,"
                           "\"visitors\":%uL}",
                           ngx_cx_stage_name(tp[i].stage), tp[i].visits,
                           tp[i].visitors);
    }

    ngx_http_cx_write(&w, "]}\n", 3);

    if (w.error || w.out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *w.last = NULL;

    b = w.b;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;
    for (i = 0, b = NULL; w.out && i == 0; i++) {
        ngx_chain_t  *cl;

        for (cl = w.out; cl; cl = cl->next) {
            r->headers_out.content_length_n += ngx_buf_size(cl->buf);
        }
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, w.out);
}


static ngx_int_t
ngx_http_cx_report_args(ngx_http_request_t *r, ngx_http_cx_report_t *rep)
{
    uint64_t   ms;
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) "survey", 6, &v) == NGX_OK) {
        rep->survey = v;
    }

    if (ngx_http_arg(r, (u_char *) "touchpoint", 10, &v) == NGX_OK) {
        rep->touchpoint = v;
    }

    if (ngx_http_arg(r, (u_char *) "from", 4, &v) == NGX_OK) {
        if (ngx_cx_parse_ymd(v.data, v.len, &ms) != 0) {
            return NGX_ERROR;
        }
        rep->from_ms = ms;
    }

    if (ngx_http_arg(r, (u_char *) "to", 2, &v) == NGX_OK) {
        if (ngx_cx_parse_ymd(v.data, v.len, &ms) != 0) {
            return NGX_ERROR;
        }
        rep->to_ms = ms + 86400000 - 1;
    }

    return NGX_OK;
}


static ngx_http_cx_survey_report_t *
ngx_http_cx_report_survey(ngx_http_cx_report_t *rep, u_char *name,
    size_t len, unsigned char type)
{
    u_char                       *copy;
    ngx_uint_t                    i;
    ngx_http_cx_survey_report_t  *sr;

    sr = rep->surveys.elts;

    for (i = 0; i < rep->surveys.nelts; i++) {
        if (sr[i].name.len == len && ngx_memcmp(sr[i].name.data, name, len)
                                     == 0)
        {
            return &sr[i];
        }
    }

    copy = ngx_pnalloc(rep->r->pool, len);
    sr = ngx_array_push(&rep->surveys);

    if (copy == NULL || sr == NULL) {
        return NULL;
    }

    ngx_memzero(sr, sizeof(ngx_http_cx_survey_report_t));
    ngx_memcpy(copy, name, len);
    sr->name.data = copy;
    sr->name.len = len;
    sr->type = type;
    ngx_cx_tally_init(&sr->tally, type);

    if (ngx_array_init(&sr->by_touchpoint, rep->r->pool, 4,
                       sizeof(ngx_http_cx_group_t)) != NGX_OK
        || ngx_array_init(&sr->by_day, rep->r->pool, 16,
                          sizeof(ngx_http_cx_group_t)) != NGX_OK)
    {
        return NULL;
    }

    return sr;
}


/* Whether a response passes the filters; its day is its latest event's. */

static ngx_int_t
ngx_http_cx_report_wanted(ngx_http_cx_report_t *rep, ngx_cx_record_t *rec)
{
    uint64_t  at;

    at = ngx_cx_export_time(rec);

    if (at < rep->from_ms || at > rep->to_ms) {
        return 0;
    }

    if (rep->survey.len
        && (rep->survey.len != rec->survey.len
            || ngx_memcmp(rep->survey.data, rec->survey.data,
                          rec->survey.len) != 0))
    {
        return 0;
    }

    if (rep->touchpoint.len
        && (rep->touchpoint.len != rec->touchpoint.len
            || ngx_memcmp(rep->touchpoint.data, rec->touchpoint.data,
                          rec->touchpoint.len) != 0))
    {
        return 0;
    }

    return 1;
}


/*
 * responses.csv and responses.ndjson: every response that passes the
 * filters, streamed.  A chunk of records is read (in its own read
 * transaction) only when the previous one has been sent, into buffers that
 * are reused, so memory stays flat however many responses there are.
 */

static ngx_int_t
ngx_http_cx_export(ngx_http_request_t *r, ngx_flag_t ndjson)
{
    ngx_int_t                  rc;
    ngx_http_cx_ctx_t         *ctx;
    ngx_http_cx_export_t      *ex;
    ngx_http_cx_main_conf_t   *cmcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (cmcf->store == NULL) {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store unavailable");
    }

    ex = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_export_t));
    if (ex == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ex->r = r;
    ex->ndjson = ndjson;
    ex->rep.r = r;
    ex->rep.to_ms = (uint64_t) -1;

    if (ngx_http_cx_report_args(r, &ex->rep) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "from= and to= take dates as "
                                      "YYYY-MM-DD");
    }

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

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    /*
     * The module's request context is the filter's: one that passes
     * everything (done) and carries the export for the write handler.
     */
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->done = 1;
    ctx->export = ex;
    ngx_http_set_ctx(r, ctx, ngx_http_cx_module);

    if (!ndjson) {
        if (ngx_cx_export_csv_header(ngx_http_cx_export_write, ex) != 0) {
            return NGX_ERROR;
        }

        *ex->ll = NULL;
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


static ngx_int_t
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
    ngx_int_t                  rc;
    ngx_connection_t          *c;
    ngx_http_cx_ctx_t         *ctx;
    ngx_http_cx_export_t      *ex;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_cx_module);
    ex = ctx->export;

    if (c->write->timedout) {
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    rc = ngx_http_cx_export_send(r, ex);

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
 * Sends what is pending, then reads and sends chunks until the socket is
 * full (NGX_AGAIN), the end (NGX_OK) or an error.
 */

static ngx_int_t
ngx_http_cx_export_send(ngx_http_request_t *r, ngx_http_cx_export_t *ex)
{
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_uint_t                corrupt;
    ngx_chain_t              *cl;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    for ( ;; ) {

        if (ex->out == NULL && !ex->finished) {
            ex->ll = &ex->out;
            ex->b = NULL;       /* the last one may be back in the free list */
            corrupt = 0;

            rc = ngx_http_cx_store_each_after(cmcf->store, r->connection->log,
                                              ex->started ? ex->last : NULL,
                                              NGX_HTTP_CX_EXPORT_CHUNK,
                                              ngx_http_cx_export_record, ex,
                                              &corrupt);

            if (rc == NGX_ERROR || ex->error) {
                return NGX_ERROR;
            }

            if (rc == NGX_DONE) {
                ex->finished = 1;

                cl = ngx_chain_get_free_buf(r->pool, &ex->free);
                if (cl == NULL) {
                    return NGX_ERROR;
                }

                b = cl->buf;
                ngx_memzero(b, sizeof(ngx_buf_t));
                b->last_buf = 1;
                b->last_in_chain = 1;
                b->tag = (ngx_buf_tag_t) &ngx_http_cx_module;

                *ex->ll = cl;
                ex->ll = &cl->next;
            }

            *ex->ll = NULL;
            ex->b = NULL;
        }

        if (ex->out == NULL && ex->busy == NULL) {
            if (ex->finished) {
                return NGX_OK;
            }

            continue;       /* nothing in this chunk passed the filters */
        }

        rc = ngx_http_output_filter(r, ex->out);

        ngx_chain_update_chains(r->pool, &ex->free, &ex->busy, &ex->out,
                                (ngx_buf_tag_t) &ngx_http_cx_module);

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


static ngx_int_t
ngx_http_cx_export_record(void *data, const u_char *id, ngx_cx_record_t *rec)
{
    ngx_http_cx_export_t *ex = data;

    int  rc;

    ngx_memcpy(ex->last, id, NGX_CX_PROMPT_ID_LEN);
    ex->started = 1;

    if (!ngx_http_cx_report_wanted(&ex->rep, rec)) {
        return NGX_OK;
    }

    rc = ex->ndjson ? ngx_cx_export_ndjson(ngx_http_cx_export_write, ex, id,
                                           rec)
                    : ngx_cx_export_csv(ngx_http_cx_export_write, ex, id,
                                        rec);

    return (rc == 0) ? NGX_OK : NGX_ERROR;
}


/* The formatter's output, into reused buffers chained on ex->out. */

static int
ngx_http_cx_export_write(void *data, const unsigned char *p, size_t len)
{
    ngx_http_cx_export_t *ex = data;

    size_t        n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    while (len) {
        b = ex->b;

        if (b == NULL || b->last == b->end) {
            cl = ngx_chain_get_free_buf(ex->r->pool, &ex->free);
            if (cl == NULL) {
                ex->error = 1;
                return -1;
            }

            b = cl->buf;

            if (b->start == NULL) {
                b->start = ngx_palloc(ex->r->pool, NGX_HTTP_CX_EXPORT_BUF);
                if (b->start == NULL) {
                    ex->error = 1;
                    return -1;
                }

                b->end = b->start + NGX_HTTP_CX_EXPORT_BUF;
            }

            b->pos = b->start;
            b->last = b->start;
            b->temporary = 1;
            b->tag = (ngx_buf_tag_t) &ngx_http_cx_module;

            if (ex->ll == NULL) {
                ex->ll = &ex->out;
            }

            *ex->ll = cl;
            ex->ll = &cl->next;
            cl->next = NULL;
            ex->b = b;
        }

        n = ngx_min(len, (size_t) (b->end - b->last));
        b->last = ngx_cpymem(b->last, p, n);
        p += n;
        len -= n;
    }

    return 0;
}


/* Runs inside the read transaction: anything kept must be copied. */

static ngx_int_t
ngx_http_cx_report_add(void *data, const u_char *id, ngx_cx_record_t *rec)
{
    ngx_http_cx_report_t *rep = data;

    char                          day[NGX_CX_YMD_SIZE];
    uint64_t                      day_num;
    ngx_http_cx_group_t          *g;
    ngx_http_cx_comment_t        *c;
    ngx_http_cx_survey_report_t  *sr;

    if (!ngx_http_cx_report_wanted(rep, rec)) {
        return NGX_OK;
    }

    sr = ngx_http_cx_report_survey(rep, (u_char *) rec->survey.data,
                                   rec->survey.len, rec->type);
    if (sr == NULL) {
        return NGX_ERROR;
    }

    if (rec->flags & NGX_CX_REC_DISPLAYED) {
        sr->displayed++;
    }

    if (rec->flags & NGX_CX_REC_DISMISSED) {
        sr->dismissed++;
    }

    if (!(rec->flags & NGX_CX_REC_ANSWERED)
        || ngx_cx_tally_add(&sr->tally, rec->score) != 0)
    {
        return NGX_OK;
    }

    sr->answered++;

    g = ngx_http_cx_report_group(rep->r->pool, &sr->by_touchpoint,
                                 (u_char *) rec->touchpoint.data,
                                 rec->touchpoint.len, rec->type);
    if (g == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cx_tally_add(&g->tally, rec->score);

    /* responses come in time order: most share the previous one's day */
    day_num = rec->answered_at_ms / 86400000;

    if (sr->day_group == NULL || sr->day_num != day_num) {
        ngx_cx_ymd(day, rec->answered_at_ms);

        g = ngx_http_cx_report_group(rep->r->pool, &sr->by_day,
                                     (u_char *) day, 10, rec->type);
        if (g == NULL) {
            return NGX_ERROR;
        }

        sr->day_num = day_num;
        sr->day_group = g;
    }

    (void) ngx_cx_tally_add(&sr->day_group->tally, rec->score);

    if (!(rec->flags & NGX_CX_REC_COMMENTED) || rec->comment.len == 0) {
        return NGX_OK;
    }

    /* a ring of the latest comments; each slot's buffer is reused */
    c = &sr->comments[sr->ncomments++ % NGX_HTTP_CX_REPORT_COMMENTS];

    if (c->room < rec->comment.len + rec->touchpoint.len) {
        c->room = rec->comment.len + rec->touchpoint.len;
        c->text.data = ngx_pnalloc(rep->r->pool, c->room);
        if (c->text.data == NULL) {
            return NGX_ERROR;
        }
    }

    c->at_ms = rec->commented_at_ms;
    c->score = rec->score;
    c->text.len = rec->comment.len;
    ngx_memcpy(c->text.data, rec->comment.data, rec->comment.len);
    c->touchpoint.data = c->text.data + rec->comment.len;
    c->touchpoint.len = rec->touchpoint.len;
    ngx_memcpy(c->touchpoint.data, rec->touchpoint.data, rec->touchpoint.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_report_event(void *data, ngx_http_cx_event_t *ev)
{
    ngx_http_cx_report_t *rep = data;

    ngx_uint_t                    i;
    ngx_http_cx_tp_report_t      *tp;
    ngx_http_cx_survey_report_t  *sr;

    if (ev->at_ms < rep->from_ms || ev->at_ms > rep->to_ms) {
        return NGX_OK;
    }

    if (ev->kind == NGX_HTTP_CX_EVENT_OFFER) {
        if (rep->survey.len
            && (rep->survey.len != ev->name_len
                || ngx_memcmp(rep->survey.data, ev->name, ev->name_len) != 0))
        {
            return NGX_OK;
        }

        /* offers count for the surveys the report shows */
        sr = rep->surveys.elts;
        for (i = 0; i < rep->surveys.nelts; i++) {
            if (sr[i].name.len == ev->name_len
                && ngx_memcmp(sr[i].name.data, ev->name, ev->name_len) == 0)
            {
                sr[i].offered++;
                break;
            }
        }

        return NGX_OK;
    }

    if (ev->kind != NGX_HTTP_CX_EVENT_VISIT) {
        return NGX_OK;
    }

    if (rep->touchpoint.len
        && (rep->touchpoint.len != ev->name_len
            || ngx_memcmp(rep->touchpoint.data, ev->name, ev->name_len) != 0))
    {
        return NGX_OK;
    }

    tp = rep->touchpoints.elts;
    for (i = 0; i < rep->touchpoints.nelts; i++) {
        if (tp[i].name.len == ev->name_len
            && ngx_memcmp(tp[i].name.data, ev->name, ev->name_len) == 0)
        {
            break;
        }
    }

    if (i == rep->touchpoints.nelts) {
        tp = ngx_array_push(&rep->touchpoints);
        if (tp == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tp, sizeof(ngx_http_cx_tp_report_t));

        tp->name.data = ngx_pnalloc(rep->r->pool, ev->name_len + 1);
        if (tp->name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(tp->name.data, ev->name, ev->name_len);
        tp->name.len = ev->name_len;

    } else {
        tp = &tp[i];
    }

    tp->stage = ev->stage;
    tp->visits++;

    return ngx_http_cx_report_visitor(rep->r->pool, tp, ev->visitor);
}


/* Counts a visitor once per touchpoint: an open-addressed set of ids. */

static ngx_int_t
ngx_http_cx_report_visitor(ngx_pool_t *pool, ngx_http_cx_tp_report_t *tp,
    u_char *id)
{
    u_char      *ids, *slot;
    uint32_t     h;
    ngx_uint_t   i, slots;

    static u_char  empty[NGX_CX_VISITOR_ID_LEN];

    if (tp->visitors * 4 >= tp->slots * 3) {
        /* grow: reinsert everything into twice the room */
        slots = tp->slots ? tp->slots * 2 : 64;

        ids = ngx_pcalloc(pool, slots * NGX_CX_VISITOR_ID_LEN);
        if (ids == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < tp->slots; i++) {
            slot = tp->ids + i * NGX_CX_VISITOR_ID_LEN;

            if (ngx_memcmp(slot, empty, NGX_CX_VISITOR_ID_LEN) == 0) {
                continue;
            }

            h = ngx_murmur_hash2(slot, NGX_CX_VISITOR_ID_LEN) & (slots - 1);
            while (ngx_memcmp(ids + h * NGX_CX_VISITOR_ID_LEN, empty,
                              NGX_CX_VISITOR_ID_LEN) != 0)
            {
                h = (h + 1) & (slots - 1);
            }

            ngx_memcpy(ids + h * NGX_CX_VISITOR_ID_LEN, slot,
                       NGX_CX_VISITOR_ID_LEN);
        }

        if (tp->ids) {
            (void) ngx_pfree(pool, tp->ids);
        }

        tp->ids = ids;
        tp->slots = slots;
    }

    h = ngx_murmur_hash2(id, NGX_CX_VISITOR_ID_LEN) & (tp->slots - 1);

    for ( ;; ) {
        slot = tp->ids + h * NGX_CX_VISITOR_ID_LEN;

        if (ngx_memcmp(slot, id, NGX_CX_VISITOR_ID_LEN) == 0) {
            return NGX_OK;
        }

        if (ngx_memcmp(slot, empty, NGX_CX_VISITOR_ID_LEN) == 0) {
            ngx_memcpy(slot, id, NGX_CX_VISITOR_ID_LEN);
            tp->visitors++;
            return NGX_OK;
        }

        h = (h + 1) & (tp->slots - 1);
    }
}


static ngx_http_cx_group_t *
ngx_http_cx_report_group(ngx_pool_t *pool, ngx_array_t *groups, u_char *name,
    size_t len, unsigned char type)
{
    u_char               *copy;
    ngx_uint_t            i;
    ngx_http_cx_group_t  *g;

    g = groups->elts;

    /* responses come roughly in time order: the last group is likely */
    for (i = groups->nelts; i > 0; i--) {
        if (g[i - 1].name.len == len
            && ngx_memcmp(g[i - 1].name.data, name, len) == 0)
        {
            return &g[i - 1];
        }
    }

    copy = ngx_pnalloc(pool, len + 1);
    g = ngx_array_push(groups);

    if (copy == NULL || g == NULL) {
        return NULL;
    }

    ngx_memcpy(copy, name, len);
    g->name.data = copy;
    g->name.len = len;
    ngx_cx_tally_init(&g->tally, type);

    return g;
}


static void
ngx_http_cx_write_groups(ngx_http_cx_writer_t *w, ngx_array_t *groups,
    const char *key)
{
    ngx_uint_t            i, j, first;
    ngx_http_cx_group_t  *g, tmp;

    g = groups->elts;

    /* days sort as text; touchpoints read best sorted too */
    for (i = 1; i < groups->nelts; i++) {
        tmp = g[i];
        j = i;
        while (j > 0) {
            first = ngx_min(g[j - 1].name.len, tmp.name.len);
            if (ngx_memcmp(g[j - 1].name.data, tmp.name.data, first) < 0
                || (ngx_memcmp(g[j - 1].name.data, tmp.name.data, first) == 0
                    && g[j - 1].name.len <= tmp.name.len))
            {
                break;
            }
            g[j] = g[j - 1];
            j--;
        }
        g[j] = tmp;
    }

    ngx_http_cx_writef(w, ",\"by_%s\":[", key[0] == 'd' ? "day" : key);

    for (i = 0; i < groups->nelts; i++) {
        ngx_http_cx_writef(w, "%s{\"%s\":", i ? "," : "", key);
        ngx_http_cx_write_str(w, g[i].name.data, g[i].name.len);
        ngx_http_cx_writef(w, ",\"answered\":%uL,\"score\":%.1f}",
                           g[i].tally.answered,
                           ngx_cx_tally_score(&g[i].tally));
    }

    ngx_http_cx_write(w, "]", 1);
}


static void
ngx_http_cx_write(ngx_http_cx_writer_t *w, const void *p, size_t len)
{
    size_t        n;
    ngx_chain_t  *cl;

    while (len && !w->error) {
        if (w->b == NULL || w->b->last == w->b->end) {
            w->b = ngx_create_temp_buf(w->r->pool, 8192);
            cl = ngx_alloc_chain_link(w->r->pool);
            if (w->b == NULL || cl == NULL) {
                w->error = 1;
                return;
            }
            cl->buf = w->b;
            *w->last = cl;
            w->last = &cl->next;
        }

        n = ngx_min(len, (size_t) (w->b->end - w->b->last));
        w->b->last = ngx_cpymem(w->b->last, p, n);
        p = (u_char *) p + n;
        len -= n;
    }
}


static void
ngx_http_cx_write_str(ngx_http_cx_writer_t *w, const u_char *p, size_t len)
{
    u_char  *buf, *end;
    size_t   n;

    n = ngx_cx_json_escape_len(p, len);

    buf = ngx_pnalloc(w->r->pool, n + 2);
    if (buf == NULL) {
        w->error = 1;
        return;
    }

    buf[0] = '"';
    end = ngx_cx_json_escape(buf + 1, p, len);
    *end++ = '"';

    ngx_http_cx_write(w, buf, end - buf);
}


static void
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
