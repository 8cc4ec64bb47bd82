/*
 * comments.json — every comment, newest first, a page at a time, for the
 * dashboard's Comments view (issue 17, item 6):
 *
 *   GET <report>comments.json?survey=&touchpoint=&from=&to=
 *                             &band=&q=&before=&limit=
 *
 * The filters are report.json's; besides them band= (detractor, passive or
 * promoter: the answer's band on its survey's scale, ngx_cx_band), q= (a
 * case-insensitive search in the comment, ngx_cx_search.h), before= (the
 * cursor: a response id as the exports write it, 24 hex digits) and
 * limit= (1 to 100 comments, 20 when absent).  An empty value is an absent
 * one; any other value that is not one of these answers 400 with the
 * parameter named.
 *
 *   {"comments":[{"id":..,"at":..,"survey":..,"type":..,"score":..,
 *     "band":..,"touchpoint":..,"stage":..,"comment":..}, ...],
 *    "next":"ID" or null,"examined":N,"stopped_early":false}
 *
 * Newest first is the store's own order: response ids begin with the
 * prompt's issue time, and a comment comes within cx_token_ttl of its
 * prompt (the token would be refused after).  A page is read newest first
 * from before= (or from the newest), and ends when it holds limit
 * comments, or at the oldest response, or after NGX_HTTP_CX_COMMENTS_SCAN
 * responses examined: the walk is one read transaction in the event loop,
 * and that bound is what keeps a search that matches little from holding
 * it.  "next" is then the id of the last response examined (null when
 * there is nothing older), and "stopped_early" says that the bound, not
 * the limit, ended a page: the client goes on from "next".  Pages so
 * chained never repeat a comment and never skip one, because each starts
 * strictly after the previous one's last key; a response issued after the
 * first page is on no later page (a new first page shows it).
 *
 * to= bounds the walk's start (a response is issued before it is
 * received), from= its end at cx_token_ttl (and 5 minutes of clock skew)
 * before that day, since nothing is received later than that after its
 * prompt.  A site that lowered cx_token_ttl can thus miss, with from=, a
 * comment on a prompt issued more than the new ttl before the day.
 *
 * cx_report source=clickhouse reads the same pages from ClickHouse
 * (ngx_http_cx_report_clickhouse.c), through ngx_http_cx_comments_add()
 * and ngx_http_cx_comments_end().
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_report.h"
#include "ngx_http_cx_writer.h"
#include "ngx_cx_alert.h"
#include "ngx_cx_score.h"


#define NGX_HTTP_CX_COMMENTS_SCAN      5000     /* responses a request */
#define NGX_HTTP_CX_COMMENTS_LIMIT     20
#define NGX_HTTP_CX_COMMENTS_MAX       100
#define NGX_HTTP_CX_COMMENTS_BUF       8192
#define NGX_HTTP_CX_COMMENTS_SKEW      300      /* seconds, as the intake */


static ngx_int_t ngx_http_cx_comments_args(ngx_http_request_t *r,
    ngx_http_cx_comments_t *c, const char **param, const char **why);
static ngx_int_t ngx_http_cx_comments_query(ngx_http_request_t *r,
    ngx_str_t *raw, ngx_http_cx_comments_t *c);
static ngx_int_t ngx_http_cx_comments_store(ngx_http_request_t *r,
    ngx_http_cx_comments_t *c);
static ngx_int_t ngx_http_cx_comments_each(void *data, const u_char *id,
    ngx_cx_record_t *rec);


ngx_int_t
ngx_http_cx_comments_json(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f)
{
    const char              *param, *why;
    ngx_http_cx_comments_t  *c;
    ngx_http_cx_loc_conf_t  *lcf;

    c = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_comments_t));
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    c->filters = *f;

    if (ngx_http_cx_comments_args(r, c, &param, &why) != NGX_OK) {
        return ngx_http_cx_report_refuse(r, param, why);
    }

    ngx_http_cx_writer_init(&c->w, r->pool, NGX_HTTP_CX_COMMENTS_BUF);
    ngx_http_cx_write(&c->w, "{\"comments\":[", sizeof("{\"comments\":[") - 1);

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    if (lcf->report_clickhouse) {
        return ngx_http_cx_report_clickhouse_comments(
                   r, c, NGX_HTTP_CX_COMMENTS_SCAN);
    }

    return ngx_http_cx_comments_store(r, c);
}


/* band=, q=, before=, limit=: *param and *why say what is wrong */

static ngx_int_t
ngx_http_cx_comments_args(ngx_http_request_t *r, ngx_http_cx_comments_t *c,
    const char **param, const char **why)
{
    int        band;
    u_char    *p;
    ngx_int_t  n, hi, lo;
    ngx_str_t  v;

    c->limit = NGX_HTTP_CX_COMMENTS_LIMIT;

    if (ngx_http_arg(r, (u_char *) "band", 4, &v) == NGX_OK && v.len) {
        for (band = NGX_CX_BAND_DETRACTOR; band <= NGX_CX_BAND_PROMOTER;
             band++)
        {
            if (v.len == ngx_strlen(ngx_cx_band_name(band))
                && ngx_strncmp(v.data, ngx_cx_band_name(band), v.len) == 0)
            {
                c->band = band;
                break;
            }
        }

        if (c->band == 0) {
            *param = "band";
            *why = "band= takes detractor, passive or promoter";
            return NGX_ERROR;
        }
    }

    if (ngx_http_arg(r, (u_char *) "q", 1, &v) == NGX_OK && v.len) {
        if (ngx_http_cx_comments_query(r, &v, c) != NGX_OK) {
            *param = "q";
            *why = "q= takes at most 100 characters of UTF-8";
            return NGX_ERROR;
        }
    }

    if (ngx_http_arg(r, (u_char *) "before", 6, &v) == NGX_OK && v.len) {
        if (v.len != 2 * NGX_CX_RESPONSE_KEY_LEN) {
            goto bad_before;
        }

        for (p = v.data, n = 0; n < NGX_CX_RESPONSE_KEY_LEN; n++, p += 2) {
            hi = ngx_hextoi(p, 1);
            lo = ngx_hextoi(p + 1, 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                goto bad_before;
            }

            c->before[n] = (u_char) (hi << 4 | lo);
        }

        c->has_before = 1;
    }

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK && v.len) {
        n = ngx_atoi(v.data, v.len);

        if (n < 1 || n > NGX_HTTP_CX_COMMENTS_MAX) {
            *param = "limit";
            *why = "limit= takes a number from 1 to 100";
            return NGX_ERROR;
        }

        c->limit = n;
    }

    return NGX_OK;

bad_before:

    *param = "before";
    *why = "before= takes the next of the page before: 24 hex digits";
    return NGX_ERROR;
}


/* q= as typed into a form: "+" is a space, then %XX are bytes */

static ngx_int_t
ngx_http_cx_comments_query(ngx_http_request_t *r, ngx_str_t *raw,
    ngx_http_cx_comments_t *c)
{
    u_char  *src, *dst, *p, *start;

    /* %XX at most: three bytes of argument per byte of query */
    if (raw->len > 3 * 4 * NGX_CX_SEARCH_MAX) {
        return NGX_ERROR;
    }

    src = ngx_pnalloc(r->pool, 2 * raw->len);
    if (src == NULL) {
        return NGX_ERROR;
    }

    for (p = src; p < src + raw->len; p++) {
        *p = raw->data[p - src] == '+' ? ' ' : raw->data[p - src];
    }

    start = src + raw->len;
    dst = start;
    ngx_unescape_uri(&dst, &src, raw->len, 0);

    if (ngx_cx_search_init(&c->search, start, dst - start) != 0) {
        return NGX_ERROR;
    }

    c->has_search = 1;

    return NGX_OK;
}


/* the store's page: the walk bounded by to=, from= and the scan */

static ngx_int_t
ngx_http_cx_comments_store(ngx_http_request_t *r, ngx_http_cx_comments_t *c)
{
    u_char                   *before, *floor;
    uint64_t                  s;
    ngx_int_t                 rc;
    ngx_uint_t                examined;
    ngx_http_cx_main_conf_t  *cmcf;
    u_char                    start[NGX_CX_RESPONSE_KEY_LEN];
    u_char                    end[NGX_CX_RESPONSE_KEY_LEN];
    u_char                    last[NGX_CX_RESPONSE_KEY_LEN];
    static const u_char       zero[8];

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    before = c->has_before ? c->before : NULL;
    floor = NULL;

    /* issued by the end of to= (ids hold the issue second, 32 bits) */
    s = c->filters.to_ms / 1000 + 1;

    if (s <= 0xffffffff) {
        ngx_cx_response_key(start, (uint32_t) s, zero);

        if (before == NULL
            || ngx_memcmp(start, before, NGX_CX_RESPONSE_KEY_LEN) < 0)
        {
            before = start;
        }
    }

    s = c->filters.from_ms / 1000;

    if (s > (uint64_t) cmcf->token_ttl + NGX_HTTP_CX_COMMENTS_SKEW) {
        s -= cmcf->token_ttl + NGX_HTTP_CX_COMMENTS_SKEW;
        ngx_cx_response_key(end, s > 0xffffffff ? 0xffffffff : (uint32_t) s,
                            zero);
        floor = end;
    }

    rc = ngx_http_cx_store_each_before(cmcf->store, r->connection->log,
                                       before, floor,
                                       NGX_HTTP_CX_COMMENTS_SCAN,
                                       ngx_http_cx_comments_each, c, last,
                                       &examined);

    if (rc == NGX_ERROR) {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store unavailable");
    }

    return ngx_http_cx_comments_end(r, c, rc == NGX_DONE ? NULL : last,
                                    examined, rc == NGX_AGAIN);
}


static ngx_int_t
ngx_http_cx_comments_each(void *data, const u_char *id, ngx_cx_record_t *rec)
{
    return ngx_http_cx_comments_add(data, id, rec);
}


/*
 * One response, from either source: written when it has a comment and
 * passes the filters.  NGX_DONE when the page is full.
 */

ngx_int_t
ngx_http_cx_comments_add(ngx_http_cx_comments_t *c, const u_char *id,
    ngx_cx_record_t *rec)
{
    int                    band;
    char                   at[NGX_CX_ISO8601_SIZE];
    ngx_uint_t             i;
    ngx_http_cx_writer_t  *w;

    if (!(rec->flags & NGX_CX_REC_COMMENTED) || rec->comment.len == 0
        || !ngx_http_cx_report_wanted(&c->filters, rec))
    {
        return NGX_OK;
    }

    band = (rec->flags & NGX_CX_REC_ANSWERED)
           ? ngx_cx_band(rec->type, rec->score) : 0;

    if ((c->band && band != c->band)
        || (c->has_search
            && !ngx_cx_search_in(&c->search, rec->comment.data,
                                 rec->comment.len)))
    {
        return NGX_OK;
    }

    w = &c->w;

    ngx_http_cx_write(w, c->n ? ",{\"id\":\"" : "{\"id\":\"", c->n ? 8 : 7);

    for (i = 0; i < NGX_CX_RESPONSE_KEY_LEN; i++) {
        ngx_http_cx_writef(w, "%02xd", id[i]);
    }

    ngx_cx_iso8601(at, rec->commented_at_ms);
    ngx_http_cx_writef(w, "\",\"at\":\"%s\",\"survey\":", at);
    ngx_http_cx_write_json_str(w, rec->survey.data, rec->survey.len);
    ngx_http_cx_writef(w, ",\"type\":\"%s\"", ngx_cx_type_name(rec->type));

    if (rec->flags & NGX_CX_REC_ANSWERED) {
        ngx_http_cx_writef(w, ",\"score\":%d", rec->score);

    } else {
        ngx_http_cx_write(w, ",\"score\":null", sizeof(",\"score\":null") - 1);
    }

    ngx_http_cx_writef(w, ",\"band\":\"%s\",\"touchpoint\":",
                       ngx_cx_band_name(band));
    ngx_http_cx_write_json_str(w, rec->touchpoint.data, rec->touchpoint.len);
    ngx_http_cx_writef(w, ",\"stage\":\"%s\",\"comment\":",
                       ngx_cx_stage_name(rec->stage));
    ngx_http_cx_write_json_str(w, rec->comment.data, rec->comment.len);
    ngx_http_cx_write(w, "}", 1);

    return ++c->n == c->limit ? NGX_DONE : NGX_OK;
}


/* The page's end: where the next one starts (NULL: nothing older). */

ngx_int_t
ngx_http_cx_comments_end(ngx_http_request_t *r, ngx_http_cx_comments_t *c,
    const u_char *next, ngx_uint_t examined, ngx_flag_t stopped_early)
{
    ngx_uint_t             i;
    ngx_http_cx_writer_t  *w;

    w = &c->w;

    if (next) {
        ngx_http_cx_write(w, "],\"next\":\"", sizeof("],\"next\":\"") - 1);

        for (i = 0; i < NGX_CX_RESPONSE_KEY_LEN; i++) {
            ngx_http_cx_writef(w, "%02xd", next[i]);
        }

        ngx_http_cx_write(w, "\"", 1);

    } else {
        ngx_http_cx_write(w, "],\"next\":null", sizeof("],\"next\":null") - 1);
    }

    ngx_http_cx_writef(w, ",\"examined\":%ui,\"stopped_early\":%s}\n",
                       examined, stopped_early ? "true" : "false");

    return ngx_http_cx_report_send_json(r, w);
}
