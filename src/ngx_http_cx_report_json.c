/*
 * report.json — per survey the counts, the score, its distribution, by
 * touchpoint, by day, and the latest comments; per touchpoint its visits
 * and visitors.
 *
 * Two steps: one pass over the store (every stored response in one read
 * transaction, then the journey events) builds a summary, with nothing
 * allocated per response but what a new group or comment needs; then the
 * summary is put in order and written as JSON.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_report.h"
#include "ngx_http_cx_writer.h"
#include "ngx_http_cx_alert.h"


#define NGX_HTTP_CX_REPORT_COMMENTS  20
#define NGX_HTTP_CX_REPORT_BUF       8192


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
    ngx_int_t                 target;         /* tenths; UNSET: none */
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
    ngx_http_cx_comment_t    *latest[NGX_HTTP_CX_REPORT_COMMENTS];
    ngx_uint_t                nlatest;        /* latest first, when sorted */
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


/* What report.json says, built by ngx_http_cx_report_aggregate(). */
typedef struct {
    ngx_pool_t                    *pool;
    ngx_http_cx_report_filters_t  *filters;
    ngx_array_t                    surveys;   /* ngx_http_cx_survey_report_t */
    ngx_array_t                    touchpoints;  /* ngx_http_cx_tp_report_t */
    uint64_t                       events_dropped;  /* not stored, ever */
    ngx_http_cx_alert_counts_t     alerts;
} ngx_http_cx_summary_t;


static ngx_int_t ngx_http_cx_report_aggregate(ngx_http_request_t *r,
    ngx_http_cx_summary_t *sum);
static ngx_http_cx_survey_report_t *ngx_http_cx_report_survey(
    ngx_http_cx_summary_t *sum, u_char *name, size_t len, unsigned char type);
static ngx_int_t ngx_http_cx_report_add(void *data, const u_char *id,
    ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_report_comment(ngx_http_cx_summary_t *sum,
    ngx_http_cx_survey_report_t *sr, ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_report_event(void *data,
    ngx_http_cx_event_t *ev);
static ngx_http_cx_tp_report_t *ngx_http_cx_report_touchpoint(
    ngx_http_cx_summary_t *sum, ngx_http_cx_event_t *ev);
static ngx_int_t ngx_http_cx_report_visitor(ngx_pool_t *pool,
    ngx_http_cx_tp_report_t *tp, u_char *id);
static ngx_http_cx_group_t *ngx_http_cx_report_group(ngx_pool_t *pool,
    ngx_array_t *groups, u_char *name, size_t len, unsigned char type);
static void ngx_http_cx_report_sort(ngx_http_cx_summary_t *sum);
static void ngx_http_cx_report_sort_groups(ngx_array_t *groups);
static void ngx_http_cx_report_sort_comments(ngx_http_cx_survey_report_t *sr);
static void ngx_http_cx_report_write(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum);
static void ngx_http_cx_report_write_survey(ngx_http_cx_writer_t *w,
    ngx_http_cx_survey_report_t *sr);
static void ngx_http_cx_report_write_groups(ngx_http_cx_writer_t *w,
    ngx_array_t *groups, const char *key);


ngx_int_t
ngx_http_cx_report_json(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f)
{
    ngx_int_t              rc;
    ngx_http_cx_writer_t   w;
    ngx_http_cx_summary_t  sum;

    ngx_memzero(&sum, sizeof(ngx_http_cx_summary_t));
    sum.pool = r->pool;
    sum.filters = f;

    rc = ngx_http_cx_report_aggregate(r, &sum);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_cx_report_sort(&sum);

    ngx_http_cx_writer_init(&w, r->pool, NGX_HTTP_CX_REPORT_BUF);
    ngx_http_cx_report_write(&w, &sum);

    return ngx_http_cx_report_send_json(r, &w);
}


/* ---- aggregation: one pass over the store into the summary ---- */

static ngx_int_t
ngx_http_cx_report_aggregate(ngx_http_request_t *r, ngx_http_cx_summary_t *sum)
{
    ngx_uint_t                     i, corrupt;
    ngx_http_cx_survey_t          *survey;
    ngx_http_cx_main_conf_t       *cmcf;
    ngx_http_cx_survey_report_t   *sr;
    ngx_http_cx_report_filters_t  *f;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    f = sum->filters;

    if (ngx_array_init(&sum->surveys, r->pool, 4,
                       sizeof(ngx_http_cx_survey_report_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* configured surveys appear even before their first answer */
    survey = cmcf->surveys.elts;
    for (i = 0; i < cmcf->surveys.nelts; i++) {
        if (f->survey.len
            && (f->survey.len != survey[i].name.len
                || ngx_strncmp(f->survey.data, survey[i].name.data,
                               f->survey.len) != 0))
        {
            continue;
        }

        sr = ngx_http_cx_report_survey(sum, survey[i].name.data,
                                       survey[i].name.len,
                                       (unsigned char) survey[i].type);
        if (sr == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        sr->target = survey[i].target;
    }

    corrupt = 0;

    if (ngx_http_cx_store_each(cmcf->store, r->connection->log,
                               ngx_http_cx_report_add, sum, &corrupt)
        != NGX_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (corrupt) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cx: %ui stored responses could not be read",
                      corrupt);
    }

    if (ngx_array_init(&sum->touchpoints, r->pool, 8,
                       sizeof(ngx_http_cx_tp_report_t))
        != NGX_OK
        || ngx_http_cx_store_each_event(cmcf->store, r->connection->log,
                                        ngx_http_cx_report_event, sum)
           != NGX_OK
        || ngx_http_cx_store_counter(cmcf->store, r->connection->log,
                                     NGX_CX_META_DROPPED, &sum->events_dropped)
           != NGX_OK
        || ngx_http_cx_store_read(cmcf->store, r->connection->log,
                                  ngx_http_cx_alert_count, &sum->alerts)
           != NGX_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    return NGX_OK;
}


static ngx_http_cx_survey_report_t *
ngx_http_cx_report_survey(ngx_http_cx_summary_t *sum, u_char *name,
    size_t len, unsigned char type)
{
    u_char                       *copy;
    ngx_uint_t                    i;
    ngx_http_cx_survey_report_t  *sr;

    sr = sum->surveys.elts;

    for (i = 0; i < sum->surveys.nelts; i++) {
        if (sr[i].name.len == len && ngx_memcmp(sr[i].name.data, name, len)
                                     == 0)
        {
            return &sr[i];
        }
    }

    copy = ngx_pnalloc(sum->pool, len);
    sr = ngx_array_push(&sum->surveys);

    if (copy == NULL || sr == NULL) {
        return NULL;
    }

    ngx_memzero(sr, sizeof(ngx_http_cx_survey_report_t));
    ngx_memcpy(copy, name, len);
    sr->name.data = copy;
    sr->name.len = len;
    sr->type = type;
    sr->target = NGX_CONF_UNSET;        /* configured surveys set theirs */
    ngx_cx_tally_init(&sr->tally, type);

    if (ngx_array_init(&sr->by_touchpoint, sum->pool, 4,
                       sizeof(ngx_http_cx_group_t)) != NGX_OK
        || ngx_array_init(&sr->by_day, sum->pool, 16,
                          sizeof(ngx_http_cx_group_t)) != NGX_OK)
    {
        return NULL;
    }

    return sr;
}


/* Runs inside the read transaction: anything kept must be copied. */

static ngx_int_t
ngx_http_cx_report_add(void *data, const u_char *id, ngx_cx_record_t *rec)
{
    ngx_http_cx_summary_t *sum = data;

    char                          day[NGX_CX_YMD_SIZE];
    uint64_t                      day_num;
    ngx_http_cx_group_t          *g;
    ngx_http_cx_survey_report_t  *sr;

    if (!ngx_http_cx_report_wanted(sum->filters, rec)) {
        return NGX_OK;
    }

    sr = ngx_http_cx_report_survey(sum, (u_char *) rec->survey.data,
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

    g = ngx_http_cx_report_group(sum->pool, &sr->by_touchpoint,
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

        g = ngx_http_cx_report_group(sum->pool, &sr->by_day,
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

    return ngx_http_cx_report_comment(sum, sr, rec);
}


/* A ring of the latest comments; each slot's buffer is reused. */

static ngx_int_t
ngx_http_cx_report_comment(ngx_http_cx_summary_t *sum,
    ngx_http_cx_survey_report_t *sr, ngx_cx_record_t *rec)
{
    ngx_http_cx_comment_t  *c;

    c = &sr->comments[sr->ncomments++ % NGX_HTTP_CX_REPORT_COMMENTS];

    if (c->room < rec->comment.len + rec->touchpoint.len) {
        c->room = rec->comment.len + rec->touchpoint.len;
        c->text.data = ngx_pnalloc(sum->pool, c->room);
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
    ngx_http_cx_summary_t *sum = data;

    ngx_uint_t                     i;
    ngx_http_cx_tp_report_t       *tp;
    ngx_http_cx_survey_report_t   *sr;
    ngx_http_cx_report_filters_t  *f;

    f = sum->filters;

    if (ev->at_ms < f->from_ms || ev->at_ms > f->to_ms) {
        return NGX_OK;
    }

    if (ev->kind == NGX_HTTP_CX_EVENT_OFFER) {
        if (f->survey.len
            && (f->survey.len != ev->name_len
                || ngx_memcmp(f->survey.data, ev->name, ev->name_len) != 0))
        {
            return NGX_OK;
        }

        /* offers count for the surveys the report shows */
        sr = sum->surveys.elts;
        for (i = 0; i < sum->surveys.nelts; i++) {
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

    if (f->touchpoint.len
        && (f->touchpoint.len != ev->name_len
            || ngx_memcmp(f->touchpoint.data, ev->name, ev->name_len) != 0))
    {
        return NGX_OK;
    }

    tp = ngx_http_cx_report_touchpoint(sum, ev);
    if (tp == NULL) {
        return NGX_ERROR;
    }

    tp->stage = ev->stage;
    tp->visits++;

    return ngx_http_cx_report_visitor(sum->pool, tp, ev->visitor);
}


static ngx_http_cx_tp_report_t *
ngx_http_cx_report_touchpoint(ngx_http_cx_summary_t *sum,
    ngx_http_cx_event_t *ev)
{
    ngx_uint_t                i;
    ngx_http_cx_tp_report_t  *tp;

    tp = sum->touchpoints.elts;
    for (i = 0; i < sum->touchpoints.nelts; i++) {
        if (tp[i].name.len == ev->name_len
            && ngx_memcmp(tp[i].name.data, ev->name, ev->name_len) == 0)
        {
            return &tp[i];
        }
    }

    tp = ngx_array_push(&sum->touchpoints);
    if (tp == NULL) {
        return NULL;
    }

    ngx_memzero(tp, sizeof(ngx_http_cx_tp_report_t));

    tp->name.data = ngx_pnalloc(sum->pool, ev->name_len + 1);
    if (tp->name.data == NULL) {
        return NULL;
    }

    ngx_memcpy(tp->name.data, ev->name, ev->name_len);
    tp->name.len = ev->name_len;

    return tp;
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


/* ---- the summary in the order it is shown ---- */

static void
ngx_http_cx_report_sort(ngx_http_cx_summary_t *sum)
{
    ngx_uint_t                    i;
    ngx_http_cx_survey_report_t  *sr;

    sr = sum->surveys.elts;

    for (i = 0; i < sum->surveys.nelts; i++) {
        ngx_http_cx_report_sort_groups(&sr[i].by_touchpoint);
        ngx_http_cx_report_sort_groups(&sr[i].by_day);
        ngx_http_cx_report_sort_comments(&sr[i]);
    }
}


/* days sort as text; touchpoints read best sorted too */

static void
ngx_http_cx_report_sort_groups(ngx_array_t *groups)
{
    ngx_uint_t            i, j, first;
    ngx_http_cx_group_t  *g, tmp;

    g = groups->elts;

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
}


/* latest first */

static void
ngx_http_cx_report_sort_comments(ngx_http_cx_survey_report_t *sr)
{
    ngx_uint_t              j, k, n;
    ngx_http_cx_comment_t  *t;

    n = ngx_min(sr->ncomments, NGX_HTTP_CX_REPORT_COMMENTS);
    for (j = 0; j < n; j++) {
        sr->latest[j] = &sr->comments[j];
    }

    for (j = 1; j < n; j++) {
        t = sr->latest[j];
        k = j;
        while (k > 0 && sr->latest[k - 1]->at_ms < t->at_ms) {
            sr->latest[k] = sr->latest[k - 1];
            k--;
        }
        sr->latest[k] = t;
    }

    sr->nlatest = n;
}


/* ---- writing the summary as JSON ---- */

static void
ngx_http_cx_report_write(ngx_http_cx_writer_t *w, ngx_http_cx_summary_t *sum)
{
    char                          at[NGX_CX_ISO8601_SIZE];
    ngx_uint_t                    i;
    ngx_http_cx_tp_report_t      *tp;
    ngx_http_cx_survey_report_t  *sr;

    ngx_cx_iso8601(at, (uint64_t) ngx_time() * 1000);
    ngx_http_cx_writef(w, "{\"generated_at\":\"%s\",\"surveys\":[", at);

    sr = sum->surveys.elts;

    for (i = 0; i < sum->surveys.nelts; i++) {
        if (i) {
            ngx_http_cx_write(w, ",", 1);
        }

        ngx_http_cx_report_write_survey(w, &sr[i]);
    }

    ngx_http_cx_write(w, "],\"touchpoints\":[",
                      sizeof("],\"touchpoints\":[") - 1);

    tp = sum->touchpoints.elts;

    for (i = 0; i < sum->touchpoints.nelts; i++) {
        ngx_http_cx_write(w, i ? ",{\"name\":" : "{\"name\":",
                          i ? sizeof(",{\"name\":") - 1
                            : sizeof("{\"name\":") - 1);
        ngx_http_cx_write_json_str(w, tp[i].name.data, tp[i].name.len);
        ngx_http_cx_writef(w, ",\"stage\":\"%s\",\"visits\":%uL,"
                           "\"visitors\":%uL}",
                           ngx_cx_stage_name(tp[i].stage), tp[i].visits,
                           tp[i].visitors);
    }

    /* the whole store's, whatever the filters: the counts may be short */
    ngx_http_cx_writef(w, "],\"events_dropped\":%uL", sum->events_dropped);

    /* the whole store's too: an alert is not a response to filter */
    ngx_http_cx_writef(w, ",\"alerts\":{\"open\":%uL,\"acknowledged\":%uL,"
                       "\"escalated\":%uL,\"failed\":%uL,\"resolved\":%uL}}\n",
                       sum->alerts.open, sum->alerts.acknowledged,
                       sum->alerts.escalated, sum->alerts.failed,
                       sum->alerts.resolved);
}


static void
ngx_http_cx_report_write_survey(ngx_http_cx_writer_t *w,
    ngx_http_cx_survey_report_t *sr)
{
    int                     lo, hi, s;
    char                    at[NGX_CX_ISO8601_SIZE];
    uint64_t                p, pa, d;
    ngx_uint_t              j;
    ngx_http_cx_comment_t  *c;

    ngx_http_cx_write(w, "{\"name\":", sizeof("{\"name\":") - 1);
    ngx_http_cx_write_json_str(w, sr->name.data, sr->name.len);

    ngx_http_cx_writef(w, ",\"type\":\"%s\",\"offered\":%uL,"
                       "\"displayed\":%uL,"
                       "\"answered\":%uL,\"dismissed\":%uL,"
                       "\"score\":%.1f",
                       ngx_cx_type_name(sr->type), sr->offered,
                       sr->displayed,
                       sr->answered, sr->dismissed,
                       ngx_cx_tally_score(&sr->tally));

    if (sr->target != NGX_CONF_UNSET) {
        ngx_http_cx_writef(w, ",\"target\":%s%i.%i",
                           sr->target < 0 ? "-" : "",
                           ngx_abs(sr->target) / 10, ngx_abs(sr->target) % 10);
    }

    if (sr->type == NGX_CX_TYPE_NPS) {
        ngx_cx_tally_nps_groups(&sr->tally, &p, &pa, &d);
        ngx_http_cx_writef(w, ",\"promoters\":%uL,\"passives\":%uL,"
                           "\"detractors\":%uL", p, pa, d);
    }

    ngx_http_cx_write(w, ",\"distribution\":[",
                      sizeof(",\"distribution\":[") - 1);

    (void) ngx_cx_score_range(sr->type, &lo, &hi);

    for (s = lo; s <= hi; s++) {
        ngx_http_cx_writef(w, s == lo ? "%uL" : ",%uL", sr->tally.dist[s]);
    }

    ngx_http_cx_write(w, "]", 1);

    ngx_http_cx_report_write_groups(w, &sr->by_touchpoint, "touchpoint");
    ngx_http_cx_report_write_groups(w, &sr->by_day, "date");

    ngx_http_cx_write(w, ",\"comments\":[", sizeof(",\"comments\":[") - 1);

    for (j = 0; j < sr->nlatest; j++) {
        c = sr->latest[j];
        ngx_cx_iso8601(at, c->at_ms);
        ngx_http_cx_writef(w, "%s{\"at\":\"%s\",\"score\":%d,"
                           "\"touchpoint\":", j ? "," : "", at, c->score);
        ngx_http_cx_write_json_str(w, c->touchpoint.data, c->touchpoint.len);
        ngx_http_cx_write(w, ",\"comment\":", sizeof(",\"comment\":") - 1);
        ngx_http_cx_write_json_str(w, c->text.data, c->text.len);
        ngx_http_cx_write(w, "}", 1);
    }

    ngx_http_cx_write(w, "]}", 2);
}


static void
ngx_http_cx_report_write_groups(ngx_http_cx_writer_t *w, ngx_array_t *groups,
    const char *key)
{
    ngx_uint_t            i;
    ngx_http_cx_group_t  *g;

    g = groups->elts;

    ngx_http_cx_writef(w, ",\"by_%s\":[", key[0] == 'd' ? "day" : key);

    for (i = 0; i < groups->nelts; i++) {
        ngx_http_cx_writef(w, "%s{\"%s\":", i ? "," : "", key);
        ngx_http_cx_write_json_str(w, g[i].name.data, g[i].name.len);
        ngx_http_cx_writef(w, ",\"answered\":%uL,\"score\":%.1f}",
                           g[i].tally.answered,
                           ngx_cx_tally_score(&g[i].tally));
    }

    ngx_http_cx_write(w, "]", 1);
}


/* 200, application/json, the writer's bytes as the body */

ngx_int_t
ngx_http_cx_report_send_json(ngx_http_request_t *r, ngx_http_cx_writer_t *w)
{
    ngx_int_t  rc;

    if (ngx_http_cx_writer_end(w) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_http_cx_writer_size(w);

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_cx_writer_flush(w, r);
}
