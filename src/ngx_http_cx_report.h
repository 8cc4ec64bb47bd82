/*
 * ngx_http_cx_report.h — what the parts of the cx_report location share.
 *
 *   src/ngx_http_cx_report.c           routing, the dashboard, the filters
 *   src/ngx_http_cx_report_json.c      report.json: aggregation, then writing
 *   src/ngx_http_cx_export_stream.c    responses.csv and responses.ndjson
 *   src/ngx_http_cx_report_comments.c  comments.json: pages of comments
 *   src/ngx_http_cx_report_alerts.c    the alerts: list, acknowledge, resolve
 *   src/ngx_http_cx_report_segments.c  segments.json: scores by a value
 *   src/ngx_http_cx_report_clickhouse.c  the same read from ClickHouse
 *   src/ngx_http_cx_writer.c           the output writer they all use
 */

#ifndef _NGX_HTTP_CX_REPORT_H_INCLUDED_
#define _NGX_HTTP_CX_REPORT_H_INCLUDED_


#include "ngx_http_cx.h"
#include "ngx_cx_export.h"
#include "ngx_http_cx_writer.h"
#include "ngx_cx_search.h"


/*
 * ?survey= ?touchpoint= ?from= ?to= (UTC days, inclusive): which responses
 * count.  The strings point into the request's arguments.
 */
typedef struct {
    ngx_str_t                 survey;     /* empty: any */
    ngx_str_t                 touchpoint;
    uint64_t                  from_ms;
    uint64_t                  to_ms;      /* inclusive */
} ngx_http_cx_report_filters_t;


/* Whether a response passes the filters; its day is its latest event's. */

static ngx_inline ngx_int_t
ngx_http_cx_report_wanted(ngx_http_cx_report_filters_t *f,
    ngx_cx_record_t *rec)
{
    uint64_t  at;

    at = ngx_cx_export_time(rec);

    if (at < f->from_ms || at > f->to_ms) {
        return 0;
    }

    if (f->survey.len
        && (f->survey.len != rec->survey.len
            || ngx_memcmp(f->survey.data, rec->survey.data,
                          rec->survey.len) != 0))
    {
        return 0;
    }

    if (f->touchpoint.len
        && (f->touchpoint.len != rec->touchpoint.len
            || ngx_memcmp(f->touchpoint.data, rec->touchpoint.data,
                          rec->touchpoint.len) != 0))
    {
        return 0;
    }

    return 1;
}


/*
 * A request's answer to a bad argument: 400 with
 * {"error":"<why>","parameter":"<param>"} (both fixed ASCII, no quotes).
 */
ngx_int_t ngx_http_cx_report_refuse(ngx_http_request_t *r, const char *param,
    const char *why);


/* ngx_http_cx_report_json.c */
ngx_int_t ngx_http_cx_report_json(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f);

/*
 * A survey's answers grouped by a name: a touchpoint (with its stage) or a
 * day ("YYYY-MM-DD").  group() finds the group of that name in the array
 * (the last one first: rows come in day order) or adds an empty one of the
 * type, a copy of the name (NULL: no memory); sort_groups() orders them by
 * name; write_groups() writes ,"by_<key>":[...] with key "touchpoint" (and
 * each group's stage) or "date" (as "by_day", with the answers per score).
 */
typedef struct {
    ngx_str_t                 name;
    ngx_uint_t                stage;          /* by_touchpoint */
    ngx_cx_tally_t            tally;
} ngx_http_cx_group_t;

ngx_http_cx_group_t *ngx_http_cx_report_group(ngx_pool_t *pool,
    ngx_array_t *groups, u_char *name, size_t len, unsigned char type);
void ngx_http_cx_report_sort_groups(ngx_array_t *groups);
void ngx_http_cx_report_write_groups(ngx_http_cx_writer_t *w,
    ngx_array_t *groups, const char *key);

/*
 * report.json's two halves, for a source other than the store
 * (ngx_http_cx_report_clickhouse.c): begin() makes an empty summary for
 * the filters; rows go in as the store's rollup rows would
 * (ngx_cx_rollup.h: key and encoded value; the filters on survey and
 * touchpoint are applied here), comments as records; end() writes and
 * sends the JSON, returning what a content handler returns.
 */
typedef struct ngx_http_cx_summary_s  ngx_http_cx_summary_t;
struct ngx_cx_rollup_key_s;
struct ngx_http_cx_alert_counts_s;

ngx_http_cx_summary_t *ngx_http_cx_report_begin(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f);
ngx_int_t ngx_http_cx_report_add_row(ngx_http_cx_summary_t *sum,
    struct ngx_cx_rollup_key_s *k, const u_char *val, size_t len);
ngx_int_t ngx_http_cx_report_add_comment(ngx_http_cx_summary_t *sum,
    ngx_cx_record_t *rec);
struct ngx_http_cx_alert_counts_s *ngx_http_cx_report_alert_counts(
    ngx_http_cx_summary_t *sum);
/* a fleet report's "nodes": name NULL makes the list (empty) */
ngx_int_t ngx_http_cx_report_add_node(ngx_http_cx_summary_t *sum,
    ngx_str_t *name, uint64_t responses, uint64_t answered);
ngx_int_t ngx_http_cx_report_end(ngx_http_request_t *r,
    ngx_http_cx_summary_t *sum);

/* report.json and the exports of cx_report source=clickhouse */
ngx_int_t ngx_http_cx_report_clickhouse(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, ngx_uint_t what, unsigned flags);
ngx_int_t ngx_http_cx_report_send_json(ngx_http_request_t *r,
    ngx_http_cx_writer_t *w);

/*
 * ngx_http_cx_report_comments.c: <report>comments.json, a page of
 * comments newest first.  The page's query and its output so far; a source
 * other than the store (ngx_http_cx_report_clickhouse.c) reads responses
 * newest first from c->before (when has_before) and hands each to add()
 * (NGX_DONE: the page is full), then end() sends the page: next is the id
 * of the last response it read, or NULL when none is older; stopped_early
 * when its bound on the responses read, not the page's limit, ended it.
 */
typedef struct {
    ngx_http_cx_report_filters_t  filters;
    int                           band;       /* 0 any, NGX_CX_BAND_* */
    ngx_flag_t                    has_search;
    ngx_flag_t                    has_before;
    ngx_uint_t                    limit;
    ngx_uint_t                    n;          /* comments written */
    u_char                        before[NGX_CX_RESPONSE_KEY_LEN];
    ngx_cx_search_t               search;
    ngx_http_cx_writer_t          w;
} ngx_http_cx_comments_t;

ngx_int_t ngx_http_cx_comments_json(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f);
ngx_int_t ngx_http_cx_comments_add(ngx_http_cx_comments_t *c,
    const u_char *id, ngx_cx_record_t *rec);
ngx_int_t ngx_http_cx_comments_end(ngx_http_request_t *r,
    ngx_http_cx_comments_t *c, const u_char *next, ngx_uint_t examined,
    ngx_flag_t stopped_early);

/* comments.json of cx_report source=clickhouse: at most scan responses */
ngx_int_t ngx_http_cx_report_clickhouse_comments(ngx_http_request_t *r,
    ngx_http_cx_comments_t *c, ngx_uint_t scan);


/* ngx_http_cx_report_alerts.c: <report>alerts.json, alerts/ID/ack|resolve */
ngx_int_t ngx_http_cx_report_alerts(ngx_http_request_t *r, ngx_str_t *rest);

/*
 * ngx_http_cx_report_segments.c: <report>segments.json?by=.  A source
 * other than the store (ngx_http_cx_report_clickhouse_segments()) hands
 * add() each answer as a record (survey, type, touchpoint, stage,
 * answered_at_ms, score) with its value, n times, the filters already
 * applied; then send() writes and sends the JSON.
 */
#define NGX_HTTP_CX_BY_LANG         1
#define NGX_HTTP_CX_BY_DEVICE       2
#define NGX_HTTP_CX_BY_ATTR         3

typedef struct ngx_http_cx_segments_s  ngx_http_cx_segments_t;

ngx_int_t ngx_http_cx_report_segments(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f);
ngx_int_t ngx_http_cx_segments_add(ngx_http_cx_segments_t *sg,
    ngx_cx_record_t *rec, ngx_str_t *value, uint64_t n);
ngx_int_t ngx_http_cx_segments_send(ngx_http_request_t *r,
    ngx_http_cx_segments_t *sg);

/* segments.json of cx_report source=clickhouse: by, and attr.KEY's KEY */
ngx_int_t ngx_http_cx_report_clickhouse_segments(ngx_http_request_t *r,
    ngx_http_cx_segments_t *sg, ngx_http_cx_report_filters_t *f,
    ngx_uint_t by, ngx_str_t *key);

/* ngx_http_cx_export_stream.c; flags: NGX_CX_EXPORT_EXCEL (?excel=1) */
ngx_int_t ngx_http_cx_export_stream(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, ngx_flag_t ndjson, unsigned flags);

/* An export's headers (200, its type, attachment, no-store), sent. */
ngx_int_t ngx_http_cx_export_headers(ngx_http_request_t *r,
    ngx_flag_t ndjson);

/* Arms the write event (send_timeout, send_lowat) for a client that reads
 * slower than the export writes. */
ngx_int_t ngx_http_cx_export_wait(ngx_http_request_t *r);


#endif /* _NGX_HTTP_CX_REPORT_H_INCLUDED_ */
