/*
 * <report>segments.json?by=lang|device|attr.KEY (and the report filters):
 * every survey's answers split by the language the visitor saw, the device
 * class of the browser that answered (mobile or desktop, kept with the
 * response), or a hook attribute (e.g. the customer's tier): per value the
 * answers, the score and the distribution (README: Reports, Segments),
 * and the same split of its other views: by day (with the answers per
 * score, as report.json's by_day, so weeks and months add up exactly) and
 * by touchpoint (with its stage).
 *
 * The rollups have no such dimension, so the responses are read: in chunks
 * of NGX_HTTP_CX_SEGMENTS_CHUNK records, each in its own read transaction,
 * one a turn of the event loop (ngx_posted_next_events, as the exports'
 * first pass), so a large store delays other requests by one chunk at most.  A survey shows
 * its NGX_HTTP_CX_SEGMENTS_MAX values with the most answers (ties by value);
 * the rest are counted together as "other" (value null, "other": true).
 * Each record's value is looked up among the survey's values so far, so a
 * survey tracks at most NGX_HTTP_CX_SEGMENTS_TRACK of them (the first seen):
 * an attribute with more distinct values (an order id) sends the later ones
 * straight to "other".  Responses without the attribute are the value "".
 * A value keeps at most NGX_HTTP_CX_SEGMENTS_DAYS days and
 * NGX_HTTP_CX_SEGMENTS_TOUCHPOINTS touchpoints (the first seen); answers
 * past them still count in the value's score, and it says "partial": so a
 * request holds at most 200 x (400 + 64) groups of ~130 bytes.
 *
 * With cx_report source=clickhouse the same answer is made from the fleet:
 * ngx_http_cx_report_clickhouse_segments() asks for the answers counted by
 * survey, touchpoint, stage, day, value and score, and hands each row here
 * as a record counted n times (ngx_http_cx_segments_add()).
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_report.h"


#define NGX_HTTP_CX_SEGMENTS_CHUNK  4096
#define NGX_HTTP_CX_SEGMENTS_MAX    50
#define NGX_HTTP_CX_SEGMENTS_TRACK  200
#define NGX_HTTP_CX_SEGMENTS_DAYS   400
#define NGX_HTTP_CX_SEGMENTS_TOUCHPOINTS  64

typedef struct {
    ngx_str_t                     survey;     /* copied */
    ngx_str_t                     value;      /* copied; other: none */
    ngx_flag_t                    other;
    ngx_flag_t                    folded;     /* counted in "other" */
    ngx_flag_t                    partial;    /* days or touchpoints left */
    ngx_cx_tally_t                tally;
    ngx_array_t                   by_day;     /* ngx_http_cx_group_t */
    ngx_array_t                   by_touchpoint;
} ngx_http_cx_segment_t;


struct ngx_http_cx_segments_s {
    ngx_http_request_t           *request;
    ngx_http_cx_report_filters_t  filters;
    ngx_uint_t                    by;         /* NGX_HTTP_CX_BY_* */
    ngx_str_t                     key;        /* attr.KEY's KEY */
    ngx_str_t                     by_name;    /* as asked */
    ngx_flag_t                    started;
    u_char                        last[NGX_CX_PROMPT_ID_LEN];
    ngx_uint_t                    scanned;
    ngx_array_t                   segments;   /* ngx_http_cx_segment_t */
    uint64_t                      day;        /* of ymd, days since 1970 */
    char                          ymd[NGX_CX_YMD_SIZE];
    ngx_event_t                   next;       /* the next chunk, posted */
};


static ngx_int_t ngx_http_cx_segments_by(ngx_http_request_t *r,
    ngx_http_cx_segments_t *sg);
static void ngx_http_cx_segments_chunk(ngx_event_t *ev);
static ngx_int_t ngx_http_cx_segments_record(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_segments_value(ngx_http_cx_segments_t *sg,
    ngx_cx_record_t *rec, ngx_str_t *value);
static ngx_int_t ngx_http_cx_segments_count(ngx_http_cx_segments_t *sg,
    ngx_http_cx_segment_t *s, ngx_cx_record_t *rec, uint64_t n);
static ngx_http_cx_group_t *ngx_http_cx_segments_group(
    ngx_http_cx_segments_t *sg, ngx_http_cx_segment_t *s, ngx_array_t *groups,
    u_char *name, size_t len, ngx_uint_t max);
static ngx_int_t ngx_http_cx_segments_merge(ngx_http_cx_segments_t *sg,
    ngx_http_cx_segment_t *other, ngx_http_cx_segment_t *s);
static void ngx_http_cx_segments_write_value(ngx_http_cx_writer_t *w,
    ngx_http_cx_segment_t *s);
static ngx_int_t ngx_http_cx_segments_fold(ngx_http_cx_segments_t *sg);
static int ngx_http_cx_segments_cmp(const void *a, const void *b);
static void ngx_http_cx_segments_cleanup(void *data);


ngx_int_t
ngx_http_cx_report_segments(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_cx_segments_t   *sg;
    ngx_http_cx_loc_conf_t   *lcf;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_cx_segments_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sg = cln->data;
    ngx_memzero(sg, sizeof(ngx_http_cx_segments_t));
    cln->handler = ngx_http_cx_segments_cleanup;

    sg->request = r;
    sg->filters = *f;

    if (ngx_http_cx_segments_by(r, sg) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "by= must be lang, device or "
                                      "attr.KEY (KEY: 1 to 64 letters, "
                                      "digits or _)");
    }

    if (ngx_array_init(&sg->segments, r->pool, 16,
                       sizeof(ngx_http_cx_segment_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);

    if (lcf->report_clickhouse) {
        return ngx_http_cx_report_clickhouse_segments(r, sg, f, sg->by,
                                                      &sg->key);
    }

    sg->next.handler = ngx_http_cx_segments_chunk;
    sg->next.data = sg;
    sg->next.log = r->connection->log;

    /* the request waits for the chunks: ngx_http_cx_segments_chunk() */
    r->main->count++;
    ngx_http_cx_segments_chunk(&sg->next);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_cx_segments_by(ngx_http_request_t *r, ngx_http_cx_segments_t *sg)
{
    ngx_str_t   by;
    ngx_uint_t  i;

    if (ngx_http_arg(r, (u_char *) "by", 2, &by) != NGX_OK) {
        return NGX_DECLINED;
    }

    sg->by_name = by;

    if (by.len == 4 && ngx_strncmp(by.data, "lang", 4) == 0) {
        sg->by = NGX_HTTP_CX_BY_LANG;
        return NGX_OK;
    }

    if (by.len == 6 && ngx_strncmp(by.data, "device", 6) == 0) {
        sg->by = NGX_HTTP_CX_BY_DEVICE;
        return NGX_OK;
    }

    if (by.len < 6 || by.len > 5 + NGX_CX_NAME_MAX
        || ngx_strncmp(by.data, "attr.", 5) != 0)
    {
        return NGX_DECLINED;
    }

    sg->key.data = by.data + 5;
    sg->key.len = by.len - 5;

    for (i = 0; i < sg->key.len; i++) {
        if (!(ngx_http_cx_isalnum(sg->key.data[i]) || sg->key.data[i] == '_'))
        {
            return NGX_DECLINED;
        }
    }

    sg->by = NGX_HTTP_CX_BY_ATTR;

    return NGX_OK;
}


/* One chunk of records; then the next turn, or the answer. */

static void
ngx_http_cx_segments_chunk(ngx_event_t *ev)
{
    ngx_http_cx_segments_t *sg = ev->data;

    ngx_int_t                 rc;
    ngx_uint_t                corrupt;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_cx_main_conf_t  *cmcf;

    r = sg->request;
    c = r->connection;
    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    corrupt = 0;

    rc = ngx_http_cx_store_each_after(cmcf->store, c->log,
                                      sg->started ? sg->last : NULL,
                                      NGX_HTTP_CX_SEGMENTS_CHUNK,
                                      ngx_http_cx_segments_record, sg,
                                      &corrupt);

    if (rc == NGX_OK) {
        ngx_post_event(&sg->next, &ngx_posted_next_events);
        return;
    }

    ngx_http_set_log_request(c->log, r);

    ngx_http_finalize_request(r, rc == NGX_DONE
                                 ? ngx_http_cx_segments_send(r, sg)
                                 : NGX_HTTP_SERVICE_UNAVAILABLE);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_cx_segments_record(void *data, const u_char *id,
    ngx_cx_record_t *rec)
{
    ngx_http_cx_segments_t *sg = data;

    ngx_str_t  value;

    ngx_memcpy(sg->last, id, NGX_CX_PROMPT_ID_LEN);
    sg->started = 1;
    sg->scanned++;

    if (!(rec->flags & NGX_CX_REC_ANSWERED)
        || !ngx_http_cx_report_wanted(&sg->filters, rec))
    {
        return NGX_OK;
    }

    if (ngx_http_cx_segments_value(sg, rec, &value) != NGX_OK) {
        return NGX_OK;          /* a corrupt attrs blob: not counted */
    }

    return ngx_http_cx_segments_add(sg, rec, &value, 1);
}


ngx_int_t
ngx_http_cx_segments_add(ngx_http_cx_segments_t *sg, ngx_cx_record_t *rec,
    ngx_str_t *value, uint64_t n)
{
    ngx_uint_t              i, tracked;
    ngx_http_cx_segment_t  *s, *other;

    s = sg->segments.elts;
    other = NULL;
    tracked = 0;

    for (i = 0; i < sg->segments.nelts; i++) {
        if (s[i].survey.len != rec->survey.len
            || ngx_memcmp(s[i].survey.data, rec->survey.data,
                          rec->survey.len) != 0)
        {
            continue;
        }

        if (s[i].other) {
            other = &s[i];
            continue;
        }

        tracked++;

        if (s[i].value.len == value->len
            && ngx_memcmp(s[i].value.data, value->data, value->len) == 0)
        {
            return ngx_http_cx_segments_count(sg, &s[i], rec, n);
        }
    }

    if (tracked >= NGX_HTTP_CX_SEGMENTS_TRACK && other) {
        return ngx_http_cx_segments_count(sg, other, rec, n);
    }

    s = ngx_array_push(&sg->segments);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(s, sizeof(ngx_http_cx_segment_t));

    s->survey.len = rec->survey.len;
    s->survey.data = ngx_pnalloc(sg->segments.pool, rec->survey.len + 1);
    s->value.len = value->len;
    s->value.data = ngx_pnalloc(sg->segments.pool, value->len + 1);

    if (s->survey.data == NULL || s->value.data == NULL
        || ngx_array_init(&s->by_day, sg->segments.pool, 8,
                          sizeof(ngx_http_cx_group_t))
           != NGX_OK
        || ngx_array_init(&s->by_touchpoint, sg->segments.pool, 4,
                          sizeof(ngx_http_cx_group_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(s->survey.data, rec->survey.data, rec->survey.len);
    ngx_memcpy(s->value.data, value->data, value->len);

    /* the first value a survey cannot track opens its "other" */
    s->other = (tracked == NGX_HTTP_CX_SEGMENTS_TRACK);
    if (s->other) {
        s->value.len = 0;
    }

    ngx_cx_tally_init(&s->tally, rec->type);

    return ngx_http_cx_segments_count(sg, s, rec, n);
}


/* n answers of rec's score: the value's tally, its day, its touchpoint */

static ngx_int_t
ngx_http_cx_segments_count(ngx_http_cx_segments_t *sg,
    ngx_http_cx_segment_t *s, ngx_cx_record_t *rec, uint64_t n)
{
    ngx_uint_t            i;
    ngx_http_cx_group_t  *g[2];

    if (n == 0 || rec->type != s->tally.type
        || ngx_cx_tally_add(&s->tally, rec->score) != 0)
    {
        return NGX_OK;          /* off the scale (the type changed) */
    }

    s->tally.dist[rec->score] += n - 1;
    s->tally.answered += n - 1;

    /* answers come mostly in day order: the day's name is kept */
    if (rec->answered_at_ms / 86400000 != sg->day || sg->ymd[0] == '\0') {
        sg->day = rec->answered_at_ms / 86400000;
        ngx_cx_ymd(sg->ymd, rec->answered_at_ms);
    }

    g[0] = ngx_http_cx_segments_group(sg, s, &s->by_day, (u_char *) sg->ymd,
                                      10, NGX_HTTP_CX_SEGMENTS_DAYS);
    g[1] = ngx_http_cx_segments_group(sg, s, &s->by_touchpoint,
                                      (u_char *) rec->touchpoint.data,
                                      rec->touchpoint.len,
                                      NGX_HTTP_CX_SEGMENTS_TOUCHPOINTS);

    for (i = 0; i < 2; i++) {
        if (g[i] == NULL) {
            return NGX_ERROR;
        }

        if (g[i]->name.data == NULL) {
            continue;           /* past the bound: s->partial */
        }

        g[i]->tally.dist[rec->score] += n;
        g[i]->tally.answered += n;
    }

    if (g[1]->name.data) {
        g[1]->stage = rec->stage;
    }

    return NGX_OK;
}


/*
 * The value's group of that name, added while it has fewer than max; past
 * them a group without a name that counts nowhere, and the value partial.
 */

static ngx_http_cx_group_t *
ngx_http_cx_segments_group(ngx_http_cx_segments_t *sg,
    ngx_http_cx_segment_t *s, ngx_array_t *groups, u_char *name, size_t len,
    ngx_uint_t max)
{
    ngx_uint_t            i;
    ngx_http_cx_group_t  *g;

    static ngx_http_cx_group_t  none;

    if (groups->nelts < max) {
        return ngx_http_cx_report_group(sg->segments.pool, groups, name, len,
                                        s->tally.type);
    }

    g = groups->elts;

    for (i = groups->nelts; i > 0; i--) {
        if (g[i - 1].name.len == len
            && ngx_memcmp(g[i - 1].name.data, name, len) == 0)
        {
            return &g[i - 1];
        }
    }

    s->partial = 1;

    return &none;
}


static ngx_int_t
ngx_http_cx_segments_value(ngx_http_cx_segments_t *sg, ngx_cx_record_t *rec,
    ngx_str_t *value)
{
    int              rc;
    const char      *device;
    ngx_cx_bytes_t   cursor, key, val;

    switch (sg->by) {

    case NGX_HTTP_CX_BY_LANG:
        value->data = (u_char *) rec->lang.data;
        value->len = rec->lang.len;
        return NGX_OK;

    case NGX_HTTP_CX_BY_DEVICE:
        device = ngx_cx_device_name(rec->device);
        value->data = (u_char *) device;
        value->len = ngx_strlen(device);
        return NGX_OK;

    default:
        break;
    }

    /* the last pair of the key wins, as in the exports */
    ngx_str_null(value);
    value->data = (u_char *) "";
    cursor = rec->attrs;

    while ((rc = ngx_cx_attrs_next(&cursor, &key, &val)) == 1) {
        if (key.len == sg->key.len
            && ngx_memcmp(key.data, sg->key.data, key.len) == 0)
        {
            value->data = (u_char *) val.data;
            value->len = ngx_min(val.len, NGX_CX_ATTR_VAL_MAX);
        }
    }

    return rc == 0 ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_cx_segments_send(ngx_http_request_t *r, ngx_http_cx_segments_t *sg)
{
    ngx_uint_t                i, j, first;
    ngx_http_cx_writer_t      w;
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_segment_t    *s;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    /* by survey, then most answers first */
    ngx_qsort(sg->segments.elts, sg->segments.nelts,
              sizeof(ngx_http_cx_segment_t), ngx_http_cx_segments_cmp);

    if (ngx_http_cx_segments_fold(sg) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cx_writer_init(&w, r->pool, 16384);

    ngx_http_cx_write(&w, "{\"by\":", sizeof("{\"by\":") - 1);
    ngx_http_cx_write_json_str(&w, sg->by_name.data, sg->by_name.len);
    ngx_http_cx_writef(&w, ",\"scanned\":%ui,\"surveys\":[", sg->scanned);

    s = sg->segments.elts;

    for (i = 0; i < sg->segments.nelts; /* void */) {
        survey = ngx_http_cx_survey_find(cmcf, s[i].survey.data,
                                         s[i].survey.len);

        ngx_http_cx_write(&w, i ? ",{\"name\":" : "{\"name\":",
                          i ? sizeof(",{\"name\":") - 1
                            : sizeof("{\"name\":") - 1);
        ngx_http_cx_write_json_str(&w, s[i].survey.data, s[i].survey.len);

        if (survey && survey->title.len) {
            ngx_http_cx_write(&w, ",\"title\":", sizeof(",\"title\":") - 1);
            ngx_http_cx_write_json_str(&w, survey->title.data,
                                       survey->title.len);
        }

        ngx_http_cx_writef(&w, ",\"type\":\"%s\",\"segments\":[",
                           ngx_cx_type_name(s[i].tally.type));

        first = 1;

        for (j = i; j < sg->segments.nelts
                    && s[j].survey.len == s[i].survey.len
                    && ngx_memcmp(s[j].survey.data, s[i].survey.data,
                                  s[i].survey.len) == 0;
             j++)
        {
            if (s[j].folded) {
                continue;
            }

            if (!first) {
                ngx_http_cx_write(&w, ",", 1);
            }

            first = 0;
            ngx_http_cx_segments_write_value(&w, &s[j]);
        }

        ngx_http_cx_write(&w, "]}", 2);
        i = j;
    }

    ngx_http_cx_write(&w, "]}\n", 3);

    return ngx_http_cx_report_send_json(r, &w);
}


static void
ngx_http_cx_segments_write_value(ngx_http_cx_writer_t *w,
    ngx_http_cx_segment_t *s)
{
    uint64_t  pro, pas, det;

    ngx_http_cx_write(w, "{\"value\":", sizeof("{\"value\":") - 1);

    if (s->other) {
        ngx_http_cx_write(w, "null,\"other\":true",
                          sizeof("null,\"other\":true") - 1);

    } else {
        ngx_http_cx_write_json_str(w, s->value.data, s->value.len);
    }

    ngx_http_cx_writef(w, ",\"answered\":%uL,\"score\":%.1f",
                       s->tally.answered, ngx_cx_tally_score(&s->tally));

    if (s->tally.type == NGX_CX_TYPE_NPS) {
        ngx_cx_tally_nps_groups(&s->tally, &pro, &pas, &det);
        ngx_http_cx_writef(w, ",\"promoters\":%uL,\"passives\":%uL,"
                           "\"detractors\":%uL", pro, pas, det);
    }

    if (s->partial) {
        ngx_http_cx_write(w, ",\"partial\":true",
                          sizeof(",\"partial\":true") - 1);
    }

    ngx_http_cx_report_sort_groups(&s->by_touchpoint);
    ngx_http_cx_report_sort_groups(&s->by_day);
    ngx_http_cx_report_write_groups(w, &s->by_touchpoint, "touchpoint");
    ngx_http_cx_report_write_groups(w, &s->by_day, "date");

    ngx_http_cx_write(w, "}", 1);
}


/*
 * Past a survey's NGX_HTTP_CX_SEGMENTS_MAX values (sorted: most answers
 * first, "other" last), the answers go into its "other": the one it has,
 * else the first value past the limit becomes it.
 */

static ngx_int_t
ngx_http_cx_segments_fold(ngx_http_cx_segments_t *sg)
{
    ngx_uint_t              i, j, n, end;
    ngx_http_cx_segment_t  *s, *other;

    s = sg->segments.elts;

    for (i = 0; i < sg->segments.nelts; i = end) {
        for (end = i + 1;
             end < sg->segments.nelts
             && s[end].survey.len == s[i].survey.len
             && ngx_memcmp(s[end].survey.data, s[i].survey.data,
                           s[i].survey.len) == 0;
             end++)
        { /* void */ }

        n = end - i;

        if (n <= NGX_HTTP_CX_SEGMENTS_MAX
            || (n == NGX_HTTP_CX_SEGMENTS_MAX + 1 && s[end - 1].other))
        {
            continue;
        }

        other = s[end - 1].other ? &s[end - 1]
                                 : &s[i + NGX_HTTP_CX_SEGMENTS_MAX];
        other->other = 1;
        other->value.len = 0;

        for (j = i + NGX_HTTP_CX_SEGMENTS_MAX; j < end; j++) {
            if (&s[j] == other) {
                continue;
            }

            if (ngx_http_cx_segments_merge(sg, other, &s[j]) != NGX_OK) {
                return NGX_ERROR;
            }

            s[j].folded = 1;
        }

        /* "other" goes last, after the values it took in */
        if (other != &s[end - 1]) {
            ngx_http_cx_segment_t  tmp = *other;

            *other = s[end - 1];
            s[end - 1] = tmp;
        }
    }

    return NGX_OK;
}


/* s's answers into other: the tally, the days and the touchpoints */

static ngx_int_t
ngx_http_cx_segments_merge(ngx_http_cx_segments_t *sg,
    ngx_http_cx_segment_t *other, ngx_http_cx_segment_t *s)
{
    ngx_uint_t            i, k, t;
    ngx_array_t          *from[2], *to[2];
    ngx_http_cx_group_t  *g, *o;

    for (k = 0; k < 11; k++) {
        other->tally.dist[k] += s->tally.dist[k];
    }

    other->tally.answered += s->tally.answered;
    other->partial |= s->partial;

    from[0] = &s->by_day;
    to[0] = &other->by_day;
    from[1] = &s->by_touchpoint;
    to[1] = &other->by_touchpoint;

    for (t = 0; t < 2; t++) {
        g = from[t]->elts;

        for (i = 0; i < from[t]->nelts; i++) {
            o = ngx_http_cx_segments_group(sg, other, to[t], g[i].name.data,
                                           g[i].name.len,
                                           t ? NGX_HTTP_CX_SEGMENTS_TOUCHPOINTS
                                             : NGX_HTTP_CX_SEGMENTS_DAYS);
            if (o == NULL) {
                return NGX_ERROR;
            }

            if (o->name.data == NULL) {
                continue;
            }

            o->stage = g[i].stage;

            for (k = 0; k < 11; k++) {
                o->tally.dist[k] += g[i].tally.dist[k];
            }

            o->tally.answered += g[i].tally.answered;
        }
    }

    return NGX_OK;
}


static int
ngx_http_cx_segments_cmp(const void *a, const void *b)
{
    const ngx_http_cx_segment_t  *x = a, *y = b;

    size_t     n;
    ngx_int_t  rc;

    n = ngx_min(x->survey.len, y->survey.len);
    rc = ngx_memcmp(x->survey.data, y->survey.data, n);

    if (rc || x->survey.len != y->survey.len) {
        return rc ? (int) rc : (x->survey.len < y->survey.len ? -1 : 1);
    }

    if (x->other != y->other) {
        return x->other ? 1 : -1;           /* "other" last */
    }

    if (x->tally.answered != y->tally.answered) {
        return x->tally.answered > y->tally.answered ? -1 : 1;
    }

    n = ngx_min(x->value.len, y->value.len);
    rc = ngx_memcmp(x->value.data, y->value.data, n);

    return rc ? (int) rc : (int) x->value.len - (int) y->value.len;
}


/* A client gone mid-way: the next chunk must not run. */

static void
ngx_http_cx_segments_cleanup(void *data)
{
    ngx_http_cx_segments_t *sg = data;

    if (sg->next.posted) {
        ngx_delete_posted_event(&sg->next);
    }
}
