/*
 * cx_report: the location's content handler.  It routes
 *
 *   <report>                    the dashboard (below)
 *   <report>report.json         ngx_http_cx_report_json.c
 *   <report>responses.csv       ngx_http_cx_export_stream.c
 *   <report>responses.ndjson    ngx_http_cx_export_stream.c
 *   <report>segments.json       ngx_http_cx_report_segments.c
 *   <report>comments.json       ngx_http_cx_report_comments.c
 *   <report>alerts.json, alerts/ID/ack|resolve
 *                               ngx_http_cx_report_alerts.c
 *   <report>preview             ngx_http_cx_preview.c
 *   <report>link                ngx_http_cx_link.c
 *
 * and parses the filters report.json and the exports share: ?survey=
 * ?touchpoint= ?from= ?to= (UTC days, inclusive).  A response's day is the
 * day of its answer, else of its display, else of its dismissal, else of
 * its offer (ngx_cx_export_time()).  A date that is not one, or a from=
 * after to=, answers 400 naming it: a dashboard must be able to tell a bad
 * filter from an empty report.  Their output goes through one writer,
 * ngx_http_cx_writer.c.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_report.h"


#define NGX_HTTP_CX_REPORT_JSON    1
#define NGX_HTTP_CX_REPORT_CSV     2
#define NGX_HTTP_CX_REPORT_NDJSON  3
#define NGX_HTTP_CX_REPORT_SEGMENTS  4
#define NGX_HTTP_CX_REPORT_COMMENTS  5


static ngx_int_t ngx_http_cx_dashboard_send(ngx_http_request_t *r);
static ngx_uint_t ngx_http_cx_report_route(ngx_str_t *rest);
static ngx_int_t ngx_http_cx_report_filters(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, const char **param, const char **why);
static const char *ngx_http_cx_report_excel(ngx_http_request_t *r,
    ngx_uint_t what, unsigned *flags);


ngx_int_t
ngx_http_cx_report_handler(ngx_http_request_t *r)
{
    unsigned                       flags;
    ngx_int_t                      rc;
    ngx_str_t                      rest;
    const char                    *param, *why;
    ngx_uint_t                     what;
    const char                    *err;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_cx_loc_conf_t        *lcf;
    ngx_http_cx_main_conf_t       *cmcf;
    ngx_http_cx_report_filters_t   f;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rest.data = r->uri.data + clcf->name.len;
    rest.len = r->uri.len - clcf->name.len;

    /* the only route that takes a POST: ngx_http_cx_report_alerts.c */
    rc = ngx_http_cx_report_alerts(r, &rest);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* a survey link for a CRM or help desk (GET or POST): ngx_http_cx_link.c */
    if (rest.len == 4 && ngx_strncmp(rest.data, "link", 4) == 0) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_POST))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_cx_link_issue(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    /* a marketer's preview of a survey on a page: ngx_http_cx_preview.c */
    if (rest.len == 7 && ngx_strncmp(rest.data, "preview", 7) == 0) {
        return ngx_http_cx_preview_issue(r);
    }

    if (rest.len == 0) {
        return ngx_http_cx_dashboard_send(r);
    }

    what = ngx_http_cx_report_route(&rest);

    if (what == 0) {
        return NGX_HTTP_NOT_FOUND;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    /* (report.json without a store answers 503 when it reads) */
    if (what != NGX_HTTP_CX_REPORT_JSON && cmcf->store == NULL
        && !lcf->report_clickhouse)
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store unavailable");
    }

    if (ngx_http_cx_report_filters(r, &f, &param, &why) != NGX_OK) {
        return ngx_http_cx_report_refuse(r, param, why);
    }

    if (what == NGX_HTTP_CX_REPORT_COMMENTS) {
        return ngx_http_cx_comments_json(r, &f);
    }

    if (what == NGX_HTTP_CX_REPORT_SEGMENTS) {
        return ngx_http_cx_report_segments(r, &f);
    }

    err = ngx_http_cx_report_excel(r, what, &flags);
    if (err) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST, err);
    }

    if (lcf->report_clickhouse) {
        /* 0 report.json, 1 responses.csv, 2 responses.ndjson */
        return ngx_http_cx_report_clickhouse(r, &f,
                                             what == NGX_HTTP_CX_REPORT_JSON
                                             ? 0
                                             : what == NGX_HTTP_CX_REPORT_CSV
                                               ? 1 : 2,
                                             flags);
    }

    if (what == NGX_HTTP_CX_REPORT_JSON) {
        return ngx_http_cx_report_json(r, &f);
    }

    return ngx_http_cx_export_stream(r, &f, what == NGX_HTTP_CX_REPORT_NDJSON,
                                     flags);
}


static ngx_uint_t
ngx_http_cx_report_route(ngx_str_t *rest)
{
    ngx_uint_t  i;

    static struct {
        ngx_str_t   name;
        ngx_uint_t  what;
    } routes[] = {
        { ngx_string("report.json"), NGX_HTTP_CX_REPORT_JSON },
        { ngx_string("responses.csv"), NGX_HTTP_CX_REPORT_CSV },
        { ngx_string("responses.ndjson"), NGX_HTTP_CX_REPORT_NDJSON },
        { ngx_string("segments.json"), NGX_HTTP_CX_REPORT_SEGMENTS },
        { ngx_string("comments.json"), NGX_HTTP_CX_REPORT_COMMENTS }
    };

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (rest->len == routes[i].name.len
            && ngx_strncmp(rest->data, routes[i].name.data, rest->len) == 0)
        {
            return routes[i].what;
        }
    }

    return 0;
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

    return ngx_http_cx_send_page(r, "default-src 'none'; "
                                    "script-src 'unsafe-inline'; "
                                    "style-src 'unsafe-inline'; "
                                    "connect-src 'self'; img-src data:; "
                                    "base-uri 'none'; form-action 'self'; "
                                    "frame-ancestors 'none'",
                                 &ngx_http_cx_dashboard);
}


/* ?excel=1: responses.csv for Excel (ngx_cx_export.h); NULL, or why not */

static const char *
ngx_http_cx_report_excel(ngx_http_request_t *r, ngx_uint_t what,
    unsigned *flags)
{
    ngx_str_t  v;

    *flags = 0;

    if (what == NGX_HTTP_CX_REPORT_JSON
        || ngx_http_arg(r, (u_char *) "excel", 5, &v) != NGX_OK
        || (v.len == 1 && v.data[0] == '0'))
    {
        return NULL;
    }

    if (v.len != 1 || v.data[0] != '1') {
        return "excel= takes 1 (the CSV for Excel) or 0";
    }

    if (what != NGX_HTTP_CX_REPORT_CSV) {
        return "excel=1 is for responses.csv";
    }

    *flags = NGX_CX_EXPORT_EXCEL;

    return NULL;
}


static ngx_int_t
ngx_http_cx_report_filters(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, const char **param, const char **why)
{
    uint64_t   ms;
    ngx_str_t  v;

    ngx_memzero(f, sizeof(ngx_http_cx_report_filters_t));
    f->to_ms = (uint64_t) -1;

    if (ngx_http_arg(r, (u_char *) "survey", 6, &v) == NGX_OK) {
        f->survey = v;
    }

    if (ngx_http_arg(r, (u_char *) "touchpoint", 10, &v) == NGX_OK) {
        f->touchpoint = v;
    }

    if (ngx_http_arg(r, (u_char *) "from", 4, &v) == NGX_OK) {
        if (ngx_cx_parse_ymd(v.data, v.len, &ms) != 0) {
            *param = "from";
            *why = "from= takes a UTC day as YYYY-MM-DD";
            return NGX_ERROR;
        }
        f->from_ms = ms;
    }

    if (ngx_http_arg(r, (u_char *) "to", 2, &v) == NGX_OK) {
        if (ngx_cx_parse_ymd(v.data, v.len, &ms) != 0) {
            *param = "to";
            *why = "to= takes a UTC day as YYYY-MM-DD";
            return NGX_ERROR;
        }
        f->to_ms = ms + 86400000 - 1;
    }

    if (f->from_ms > f->to_ms) {
        *param = "from";
        *why = "from= is after to=";
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cx_report_refuse(ngx_http_request_t *r, const char *param,
    const char *why)
{
    size_t     len;
    ngx_str_t  body;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "cx_report: %s", why);

    len = sizeof("{\"error\":\"\",\"parameter\":\"\"}\n") - 1
          + ngx_strlen(why) + ngx_strlen(param);

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = ngx_sprintf(body.data,
                           "{\"error\":\"%s\",\"parameter\":\"%s\"}\n",
                           why, param)
               - body.data;

    return ngx_http_cx_send_json(r, NGX_HTTP_BAD_REQUEST, &body);
}
