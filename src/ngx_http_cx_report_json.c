/*
 * report.json — per survey the counts, the score, its distribution, by
 * touchpoint, by day, re-survey movement and the latest comments; per
 * touchpoint its visits and visitors; per stage the same with answers and
 * score; the journey between touchpoints.
 *
 * Two steps: the rollup rows of the days asked for (ngx_cx_rollup.h, one
 * read transaction, nothing per response) are summed into a summary, then
 * the summary is put in order and written as JSON.  The cost grows with
 * days x touchpoints, never with the number of responses or visits.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_report.h"
#include "ngx_http_cx_writer.h"
#include "ngx_http_cx_alert.h"
#include "ngx_cx_rollup.h"


#define NGX_HTTP_CX_REPORT_COMMENTS     NGX_CX_ROLLUP_IDS
#define NGX_HTTP_CX_REPORT_TRANSITIONS  50
#define NGX_HTTP_CX_REPORT_BUF          8192
#define NGX_HTTP_CX_DAY_MS              86400000ULL


typedef struct {
    uint64_t                  at_ms;
    int                       score;
    ngx_str_t                 touchpoint;
    ngx_str_t                 text;
} ngx_http_cx_comment_t;


/* a comments row's ids, to be read after the walk, newest day last */
typedef struct {
    const u_char             *ids;            /* in the read transaction */
    size_t                    n;
} ngx_http_cx_candidates_t;


typedef struct {
    ngx_str_t                 name;
    unsigned char             type;
    ngx_int_t                 target;         /* tenths; UNSET: none */
    uint64_t                  offered;
    uint64_t                  displayed;
    uint64_t                  answered;
    uint64_t                  dismissed;
    ngx_cx_tally_t            tally;
    uint64_t                  resurveyed;
    uint64_t                  change;         /* signed, two's complement */
    uint64_t                  moves[9];       /* [from band][to band] */
    ngx_array_t               by_touchpoint;  /* ngx_http_cx_group_t */
    ngx_array_t               by_day;         /* ngx_http_cx_group_t */
    ngx_array_t               candidates;     /* ngx_http_cx_candidates_t */
    ngx_http_cx_comment_t     comments[NGX_HTTP_CX_REPORT_COMMENTS];
    ngx_uint_t                ncomments;
} ngx_http_cx_survey_report_t;


typedef struct {
    ngx_str_t                 name;
    ngx_uint_t                stage;
    uint64_t                  visits;
    u_char                   *hll;            /* NGX_CX_HLL_REGS */
} ngx_http_cx_tp_report_t;


typedef struct {
    ngx_str_t                 from;
    ngx_str_t                 to;
    uint64_t                  moves;
    uint64_t                  arrivals;
    uint64_t                  hist[NGX_CX_HIST_BUCKETS];
} ngx_http_cx_move_t;


typedef struct {
    ngx_str_t                 name;
    uint64_t                  offered;
} ngx_http_cx_offers_t;


typedef struct {
    ngx_str_t                 name;
    uint64_t                  responses;
    uint64_t                  answered;
} ngx_http_cx_node_report_t;


/* What report.json says, built by ngx_http_cx_report_aggregate(). */
struct ngx_http_cx_summary_s {
    ngx_pool_t                    *pool;
    ngx_http_request_t            *r;
    ngx_http_cx_report_filters_t  *filters;
    ngx_http_cx_main_conf_t       *cmcf;
    ngx_array_t                    surveys;   /* ngx_http_cx_survey_report_t */
    ngx_array_t                    touchpoints;  /* ngx_http_cx_tp_report_t */
    ngx_array_t                    moves;     /* ngx_http_cx_move_t */
    ngx_array_t                    offers;    /* ngx_http_cx_offers_t */
    ngx_array_t                    stage_surveys[NGX_CX_STAGE_MAX + 1];
                                              /* ngx_http_cx_group_t */
    uint64_t                       purchase[NGX_CX_HIST_BUCKETS];
    uint64_t                       purchases;
    uint64_t                       events_dropped;  /* not stored, ever */
    ngx_http_cx_alert_counts_t     alerts;
    ngx_array_t                   *nodes;     /* a fleet's:
                                                 ngx_http_cx_node_report_t */
};


static ngx_int_t ngx_http_cx_report_aggregate(ngx_http_request_t *r,
    ngx_http_cx_summary_t *sum);
static ngx_http_cx_survey_report_t *ngx_http_cx_report_survey(
    ngx_http_cx_summary_t *sum, u_char *name, size_t len, unsigned char type);
static ngx_int_t ngx_http_cx_report_row(void *data, ngx_cx_rollup_key_t *k,
    const u_char *val, size_t len);
static ngx_int_t ngx_http_cx_report_responses(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, ngx_cx_rollup_row_t *row);
static ngx_int_t ngx_http_cx_report_visits(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, ngx_cx_rollup_row_t *row);
static ngx_int_t ngx_http_cx_report_moves(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, ngx_cx_rollup_row_t *row);
static ngx_int_t ngx_http_cx_report_offers(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, ngx_cx_rollup_row_t *row);
static ngx_int_t ngx_http_cx_report_candidates(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, const u_char *val, size_t len);
static ngx_int_t ngx_http_cx_report_comments(void *data, void *txn);
static ngx_int_t ngx_http_cx_report_comment(ngx_http_cx_summary_t *sum,
    ngx_http_cx_survey_report_t *sr, ngx_cx_record_t *rec);
static ngx_int_t ngx_http_cx_report_is(ngx_str_t *filter, u_char *name,
    size_t len);
static void ngx_http_cx_report_sort(ngx_http_cx_summary_t *sum);
static void ngx_http_cx_report_write(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum);
static void ngx_http_cx_report_write_survey(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum, ngx_http_cx_survey_report_t *sr);
static void ngx_http_cx_report_write_stages(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum);
static void ngx_http_cx_report_write_journey(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum);
static void ngx_http_cx_report_write_tenths(ngx_http_cx_writer_t *w,
    const char *key, ngx_int_t tenths);
static ngx_http_cx_survey_t *ngx_http_cx_report_configured(
    ngx_http_cx_summary_t *sum, ngx_str_t *name);
static ngx_int_t ngx_http_cx_report_target(ngx_http_cx_summary_t *sum,
    ngx_str_t *name);


ngx_int_t
ngx_http_cx_report_json(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f)
{
    ngx_int_t               rc;
    ngx_http_cx_summary_t  *sum;

    sum = ngx_http_cx_report_begin(r, f);
    if (sum == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_cx_report_aggregate(r, sum);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_cx_report_end(r, sum);
}


/*
 * The summary, empty but for the configured surveys (shown even before
 * their first answer); rows go in with ngx_http_cx_report_add_row().
 */

ngx_http_cx_summary_t *
ngx_http_cx_report_begin(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f)
{
    ngx_uint_t                    i;
    ngx_http_cx_survey_t         *survey;
    ngx_http_cx_summary_t        *sum;
    ngx_http_cx_main_conf_t      *cmcf;

    sum = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_summary_t));
    if (sum == NULL) {
        return NULL;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    sum->pool = r->pool;
    sum->r = r;
    sum->filters = f;
    sum->cmcf = cmcf;

    if (ngx_array_init(&sum->surveys, r->pool, 4,
                       sizeof(ngx_http_cx_survey_report_t)) != NGX_OK
        || ngx_array_init(&sum->touchpoints, r->pool, 8,
                          sizeof(ngx_http_cx_tp_report_t)) != NGX_OK
        || ngx_array_init(&sum->moves, r->pool, 16,
                          sizeof(ngx_http_cx_move_t)) != NGX_OK
        || ngx_array_init(&sum->offers, r->pool, 4,
                          sizeof(ngx_http_cx_offers_t)) != NGX_OK)
    {
        return NULL;
    }

    for (i = 0; i <= NGX_CX_STAGE_MAX; i++) {
        if (ngx_array_init(&sum->stage_surveys[i], r->pool, 2,
                           sizeof(ngx_http_cx_group_t)) != NGX_OK)
        {
            return NULL;
        }
    }

    survey = cmcf->surveys.elts;
    for (i = 0; i < cmcf->surveys.nelts; i++) {
        if (!ngx_http_cx_report_is(&f->survey, survey[i].name.data,
                                   survey[i].name.len))
        {
            continue;
        }

        if (ngx_http_cx_report_survey(sum, survey[i].name.data,
                                      survey[i].name.len,
                                      (unsigned char) survey[i].type)
            == NULL)
        {
            return NULL;
        }
    }

    return sum;
}


/* The rows are in: offers to their surveys, then in order, as JSON. */

ngx_int_t
ngx_http_cx_report_end(ngx_http_request_t *r, ngx_http_cx_summary_t *sum)
{
    ngx_uint_t                    i, j;
    ngx_http_cx_writer_t          w;
    ngx_http_cx_offers_t         *of;
    ngx_http_cx_survey_report_t  *sr;

    /* offers count for the surveys the report shows */
    of = sum->offers.elts;
    sr = sum->surveys.elts;

    for (i = 0; i < sum->offers.nelts; i++) {
        for (j = 0; j < sum->surveys.nelts; j++) {
            if (sr[j].name.len == of[i].name.len
                && ngx_memcmp(sr[j].name.data, of[i].name.data,
                              of[i].name.len) == 0)
            {
                sr[j].offered += of[i].offered;
                break;
            }
        }
    }

    ngx_http_cx_report_sort(sum);

    ngx_http_cx_writer_init(&w, r->pool, NGX_HTTP_CX_REPORT_BUF);
    ngx_http_cx_report_write(&w, sum);

    return ngx_http_cx_report_send_json(r, &w);
}


/* A fleet report's node (its name copied). */

ngx_int_t
ngx_http_cx_report_add_node(ngx_http_cx_summary_t *sum, ngx_str_t *name,
    uint64_t responses, uint64_t answered)
{
    ngx_http_cx_node_report_t  *nd;

    if (sum->nodes == NULL) {
        sum->nodes = ngx_array_create(sum->pool, 4,
                                      sizeof(ngx_http_cx_node_report_t));
        if (sum->nodes == NULL) {
            return NGX_ERROR;
        }
    }

    if (name == NULL) {
        return NGX_OK;              /* none yet: the list is there, empty */
    }

    nd = ngx_array_push(sum->nodes);
    if (nd == NULL) {
        return NGX_ERROR;
    }

    /* the name is in the answer's buffer, gone before the report is written */
    nd->name.data = ngx_pstrdup(sum->pool, name);
    if (nd->name.data == NULL) {
        return NGX_ERROR;
    }

    nd->name.len = name->len;
    nd->responses = responses;
    nd->answered = answered;

    return NGX_OK;
}


ngx_http_cx_alert_counts_t *
ngx_http_cx_report_alert_counts(ngx_http_cx_summary_t *sum)
{
    return &sum->alerts;
}


ngx_int_t
ngx_http_cx_report_add_row(ngx_http_cx_summary_t *sum, ngx_cx_rollup_key_t *k,
    const u_char *val, size_t len)
{
    return ngx_http_cx_report_row(sum, k, val, len);
}


/*
 * A comment from elsewhere (ClickHouse): kept when the filters let its
 * survey and touchpoint through, at most the survey's NGX_CX_ROLLUP_IDS,
 * the caller's newest first.
 */

ngx_int_t
ngx_http_cx_report_add_comment(ngx_http_cx_summary_t *sum,
    ngx_cx_record_t *rec)
{
    ngx_http_cx_survey_report_t  *sr;

    if (!ngx_http_cx_report_is(&sum->filters->survey, (u_char *)
                               rec->survey.data, rec->survey.len)
        || !ngx_http_cx_report_is(&sum->filters->touchpoint, (u_char *)
                                  rec->touchpoint.data, rec->touchpoint.len)
        || rec->comment.len == 0)
    {
        return NGX_OK;
    }

    sr = ngx_http_cx_report_survey(sum, (u_char *) rec->survey.data,
                                   rec->survey.len, rec->type);
    if (sr == NULL) {
        return NGX_ERROR;
    }

    if (sr->ncomments == NGX_HTTP_CX_REPORT_COMMENTS) {
        return NGX_OK;
    }

    return ngx_http_cx_report_comment(sum, sr, rec);
}


/* ---- aggregation: the rollup rows of the days into the summary ---- */

static ngx_int_t
ngx_http_cx_report_aggregate(ngx_http_request_t *r, ngx_http_cx_summary_t *sum)
{
    uint32_t                       from_day, to_day;
    ngx_int_t                      rc;
    ngx_http_cx_main_conf_t       *cmcf;
    ngx_http_cx_report_filters_t  *f;

    cmcf = sum->cmcf;
    f = sum->filters;

    from_day = (uint32_t) (f->from_ms / NGX_HTTP_CX_DAY_MS);
    to_day = (f->to_ms / NGX_HTTP_CX_DAY_MS > 0xffffffff)
             ? 0xffffffff : (uint32_t) (f->to_ms / NGX_HTTP_CX_DAY_MS);

    rc = ngx_http_cx_store_rollups(cmcf->store, r->connection->log,
                                   from_day, to_day, ngx_http_cx_report_row,
                                   ngx_http_cx_report_comments, sum);
    if (rc != NGX_OK) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_cx_store_counter(cmcf->store, r->connection->log,
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


/* an empty filter lets everything through */

static ngx_int_t
ngx_http_cx_report_is(ngx_str_t *filter, u_char *name, size_t len)
{
    return filter->len == 0
           || (filter->len == len && ngx_memcmp(filter->data, name, len) == 0);
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
    sr->target = ngx_http_cx_report_target(sum, &sr->name);
    ngx_cx_tally_init(&sr->tally, type);

    if (ngx_array_init(&sr->by_touchpoint, sum->pool, 4,
                       sizeof(ngx_http_cx_group_t)) != NGX_OK
        || ngx_array_init(&sr->by_day, sum->pool, 16,
                          sizeof(ngx_http_cx_group_t)) != NGX_OK
        || ngx_array_init(&sr->candidates, sum->pool, 8,
                          sizeof(ngx_http_cx_candidates_t)) != NGX_OK)
    {
        return NULL;
    }

    return sr;
}


/* a configured survey, or NULL */

static ngx_http_cx_survey_t *
ngx_http_cx_report_configured(ngx_http_cx_summary_t *sum, ngx_str_t *name)
{
    ngx_uint_t             i;
    ngx_http_cx_survey_t  *survey;

    survey = sum->cmcf->surveys.elts;

    for (i = 0; i < sum->cmcf->surveys.nelts; i++) {
        if (survey[i].name.len == name->len
            && ngx_memcmp(survey[i].name.data, name->data, name->len) == 0)
        {
            return &survey[i];
        }
    }

    return NULL;
}


/* a configured survey's target, in tenths; NGX_CONF_UNSET: none */

static ngx_int_t
ngx_http_cx_report_target(ngx_http_cx_summary_t *sum, ngx_str_t *name)
{
    ngx_http_cx_survey_t  *survey;

    survey = ngx_http_cx_report_configured(sum, name);

    return survey ? survey->target : NGX_CONF_UNSET;
}


/* Runs inside the read transaction: anything kept past it is copied,
 * except comment ids, read in the same transaction. */

static ngx_int_t
ngx_http_cx_report_row(void *data, ngx_cx_rollup_key_t *k, const u_char *val,
    size_t len)
{
    ngx_http_cx_summary_t *sum = data;

    ngx_str_t                     *tf;
    ngx_cx_rollup_row_t            row;
    ngx_http_cx_report_filters_t  *f;

    /* the filters on the key first: most rows are not decoded at all */
    f = sum->filters;
    tf = &f->touchpoint;

    switch (k->kind) {

    case NGX_CX_ROLLUP_RESPONSES:
    case NGX_CX_ROLLUP_COMMENTS:
        if (!ngx_http_cx_report_is(&f->survey, k->a, k->a_len)
            || !ngx_http_cx_report_is(tf, k->b, k->b_len))
        {
            return NGX_OK;
        }
        break;

    case NGX_CX_ROLLUP_OFFERS:
        if (!ngx_http_cx_report_is(&f->survey, k->a, k->a_len)) {
            return NGX_OK;
        }
        break;

    case NGX_CX_ROLLUP_VISITS:
        if (!ngx_http_cx_report_is(tf, k->a, k->a_len)) {
            return NGX_OK;
        }
        break;

    case NGX_CX_ROLLUP_MOVES:
        if (!ngx_http_cx_report_is(tf, k->a, k->a_len)
            && !ngx_http_cx_report_is(tf, k->b, k->b_len))
        {
            return NGX_OK;
        }
        break;

    case NGX_CX_ROLLUP_PURCHASE:
        break;

    default:
        return NGX_OK;
    }

    if (k->kind == NGX_CX_ROLLUP_COMMENTS) {
        return ngx_http_cx_report_candidates(sum, k, val, len);
    }

    ngx_memzero(row.n, sizeof(row.n));

    if (k->kind == NGX_CX_ROLLUP_VISITS) {
        ngx_memzero(row.hll, sizeof(row.hll));
    }

    if (ngx_cx_rollup_row_merge(&row, val, len, 1) != 0) {
        return NGX_OK;                  /* not readable: left out */
    }

    switch (k->kind) {

    case NGX_CX_ROLLUP_RESPONSES:
        return ngx_http_cx_report_responses(sum, k, &row);

    case NGX_CX_ROLLUP_VISITS:
        return ngx_http_cx_report_visits(sum, k, &row);

    case NGX_CX_ROLLUP_MOVES:
        return ngx_http_cx_report_moves(sum, k, &row);

    case NGX_CX_ROLLUP_OFFERS:
        return ngx_http_cx_report_offers(sum, k, &row);

    case NGX_CX_ROLLUP_PURCHASE:
        {
        ngx_uint_t  b;

        sum->purchases += row.n[NGX_CX_RP_COUNT];
        for (b = 0; b < NGX_CX_HIST_BUCKETS; b++) {
            sum->purchase[b] += row.n[NGX_CX_RP_HIST + b];
        }
        }
        return NGX_OK;

    default:
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_cx_report_responses(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, ngx_cx_rollup_row_t *row)
{
    int                           s, lo, hi;
    char                          day[NGX_CX_YMD_SIZE];
    uint64_t                      n;
    ngx_uint_t                    i;
    ngx_http_cx_group_t          *g[3];
    ngx_http_cx_survey_report_t  *sr;

    if (ngx_cx_score_range(k->type, &lo, &hi) == 0) {
        return NGX_OK;
    }

    sr = ngx_http_cx_report_survey(sum, k->a, k->a_len, k->type);
    if (sr == NULL) {
        return NGX_ERROR;
    }

    if (sr->type != k->type) {
        return NGX_OK;          /* a survey whose type changed: its old rows */
    }

    sr->displayed += row->n[NGX_CX_RR_DISPLAYED];
    sr->dismissed += row->n[NGX_CX_RR_DISMISSED];
    sr->answered += row->n[NGX_CX_RR_ANSWERED];
    sr->resurveyed += row->n[NGX_CX_RR_RESURVEYED];
    sr->change += row->n[NGX_CX_RR_CHANGE];

    for (i = 0; i < 9; i++) {
        sr->moves[i] += row->n[NGX_CX_RR_MOVES + i];
    }

    if (row->n[NGX_CX_RR_ANSWERED] == 0) {
        return NGX_OK;
    }

    ngx_cx_ymd(day, (uint64_t) k->day * NGX_HTTP_CX_DAY_MS);

    g[0] = ngx_http_cx_report_group(sum->pool, &sr->by_touchpoint, k->b,
                                    k->b_len, k->type);
    g[1] = ngx_http_cx_report_group(sum->pool, &sr->by_day, (u_char *) day,
                                    10, k->type);
    g[2] = ngx_http_cx_report_group(sum->pool,
                                    &sum->stage_surveys[k->stage
                                                        <= NGX_CX_STAGE_MAX
                                                        ? k->stage : 0],
                                    k->a, k->a_len, k->type);

    if (g[0] == NULL || g[1] == NULL || g[2] == NULL) {
        return NGX_ERROR;
    }

    g[0]->stage = k->stage;

    for (s = lo; s <= hi; s++) {
        n = row->n[NGX_CX_RR_DIST + s];

        sr->tally.dist[s] += n;
        sr->tally.answered += n;

        for (i = 0; i < 3; i++) {
            g[i]->tally.dist[s] += n;
            g[i]->tally.answered += n;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_report_visits(ngx_http_cx_summary_t *sum, ngx_cx_rollup_key_t *k,
    ngx_cx_rollup_row_t *row)
{
    u_char                   *dst, *src;
    ngx_uint_t                i;
    ngx_http_cx_tp_report_t  *tp;

    tp = sum->touchpoints.elts;

    for (i = 0; i < sum->touchpoints.nelts; i++) {
        if (tp[i].name.len == k->a_len
            && ngx_memcmp(tp[i].name.data, k->a, k->a_len) == 0)
        {
            break;
        }
    }

    if (i == sum->touchpoints.nelts) {
        tp = ngx_array_push(&sum->touchpoints);
        if (tp == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tp, sizeof(ngx_http_cx_tp_report_t));

        tp->name.data = ngx_pnalloc(sum->pool, k->a_len + 1);
        tp->hll = ngx_pcalloc(sum->pool, NGX_CX_HLL_REGS);
        if (tp->name.data == NULL || tp->hll == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(tp->name.data, k->a, k->a_len);
        tp->name.len = k->a_len;

    } else {
        tp = &tp[i];
    }

    tp->stage = k->stage;
    tp->visits += row->n[NGX_CX_RV_VISITS];

    dst = tp->hll;
    src = row->hll;

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        dst[i] = src[i] > dst[i] ? src[i] : dst[i];
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_report_moves(ngx_http_cx_summary_t *sum, ngx_cx_rollup_key_t *k,
    ngx_cx_rollup_row_t *row)
{
    ngx_uint_t           i;
    ngx_http_cx_move_t  *m;

    m = sum->moves.elts;

    for (i = 0; i < sum->moves.nelts; i++) {
        if (m[i].from.len == k->a_len && m[i].to.len == k->b_len
            && ngx_memcmp(m[i].from.data, k->a, k->a_len) == 0
            && ngx_memcmp(m[i].to.data, k->b, k->b_len) == 0)
        {
            break;
        }
    }

    if (i == sum->moves.nelts) {
        m = ngx_array_push(&sum->moves);
        if (m == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(m, sizeof(ngx_http_cx_move_t));

        m->from.data = ngx_pnalloc(sum->pool, k->a_len + k->b_len + 1);
        if (m->from.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(m->from.data, k->a, k->a_len);
        m->from.len = k->a_len;
        m->to.data = m->from.data + k->a_len;
        ngx_memcpy(m->to.data, k->b, k->b_len);
        m->to.len = k->b_len;

    } else {
        m = &m[i];
    }

    m->moves += row->n[NGX_CX_RT_MOVES];
    m->arrivals += row->n[NGX_CX_RT_ARRIVALS];

    for (i = 0; i < NGX_CX_HIST_BUCKETS; i++) {
        m->hist[i] += row->n[NGX_CX_RT_HIST + i];
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_report_offers(ngx_http_cx_summary_t *sum, ngx_cx_rollup_key_t *k,
    ngx_cx_rollup_row_t *row)
{
    ngx_uint_t             i;
    ngx_http_cx_offers_t  *of;

    of = sum->offers.elts;

    for (i = 0; i < sum->offers.nelts; i++) {
        if (of[i].name.len == k->a_len
            && ngx_memcmp(of[i].name.data, k->a, k->a_len) == 0)
        {
            of[i].offered += row->n[0];
            return NGX_OK;
        }
    }

    of = ngx_array_push(&sum->offers);
    if (of == NULL) {
        return NGX_ERROR;
    }

    of->name.data = ngx_pnalloc(sum->pool, k->a_len + 1);
    if (of->name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(of->name.data, k->a, k->a_len);
    of->name.len = k->a_len;
    of->offered = row->n[0];

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_report_candidates(ngx_http_cx_summary_t *sum,
    ngx_cx_rollup_key_t *k, const u_char *val, size_t len)
{
    size_t                        n;
    const u_char                 *ids;
    ngx_http_cx_candidates_t     *c;
    ngx_http_cx_survey_report_t  *sr;

    if (ngx_cx_rollup_ids(val, len, &ids, &n) != 0) {
        return NGX_OK;
    }

    sr = sum->surveys.elts;

    for (len = 0; len < sum->surveys.nelts; len++) {
        if (sr[len].name.len == k->a_len
            && ngx_memcmp(sr[len].name.data, k->a, k->a_len) == 0)
        {
            break;
        }
    }

    if (len == sum->surveys.nelts) {
        return NGX_OK;          /* no answers counted: no comments either */
    }

    c = ngx_array_push(&sr[len].candidates);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->ids = ids;
    c->n = n;

    return NGX_OK;
}


/*
 * After the walk, in the same read transaction: each survey's latest
 * comments, from the newest day's ids backwards.  A response erased or
 * pruned since is simply not found; the filters are checked on the record.
 */

static ngx_int_t
ngx_http_cx_report_comments(void *data, void *txn)
{
    ngx_http_cx_summary_t *sum = data;

    size_t                        j;
    ngx_uint_t                    i, c;
    ngx_cx_record_t               rec;
    ngx_http_cx_candidates_t     *cand;
    ngx_http_cx_survey_report_t  *sr;

    sr = sum->surveys.elts;

    for (i = 0; i < sum->surveys.nelts; i++) {
        cand = sr[i].candidates.elts;

        /* days in key order: the last rows are the newest */
        for (c = sr[i].candidates.nelts; c > 0; c--) {
            for (j = cand[c - 1].n; j > 0; j--) {
                if (sr[i].ncomments == NGX_HTTP_CX_REPORT_COMMENTS) {
                    break;
                }

                if (ngx_http_cx_store_lookup(sum->cmcf->store, txn,
                                             cand[c - 1].ids
                                             + (j - 1) * NGX_CX_PROMPT_ID_LEN,
                                             &rec)
                    != NGX_OK
                    || !ngx_http_cx_report_wanted(sum->filters, &rec)
                    || !(rec.flags & NGX_CX_REC_COMMENTED)
                    || rec.comment.len == 0)
                {
                    continue;
                }

                if (ngx_http_cx_report_comment(sum, &sr[i], &rec)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_report_comment(ngx_http_cx_summary_t *sum,
    ngx_http_cx_survey_report_t *sr, ngx_cx_record_t *rec)
{
    ngx_http_cx_comment_t  *c;

    c = &sr->comments[sr->ncomments++];

    c->text.data = ngx_pnalloc(sum->pool,
                               rec->comment.len + rec->touchpoint.len + 1);
    if (c->text.data == NULL) {
        return NGX_ERROR;
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


ngx_http_cx_group_t *
ngx_http_cx_report_group(ngx_pool_t *pool, ngx_array_t *groups, u_char *name,
    size_t len, unsigned char type)
{
    u_char               *copy;
    ngx_uint_t            i;
    ngx_http_cx_group_t  *g;

    g = groups->elts;

    /* rows come in day order: the last group is likely */
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
    g->stage = 0;
    ngx_cx_tally_init(&g->tally, type);

    return g;
}


/* ---- the summary in the order it is shown ---- */

static void
ngx_http_cx_report_sort(ngx_http_cx_summary_t *sum)
{
    ngx_uint_t                    i, j, k;
    ngx_http_cx_move_t           *m, tmp;
    ngx_http_cx_comment_t         c;
    ngx_http_cx_tp_report_t      *tp, ttmp;
    ngx_http_cx_survey_report_t  *sr;

    sr = sum->surveys.elts;

    for (i = 0; i < sum->surveys.nelts; i++) {
        ngx_http_cx_report_sort_groups(&sr[i].by_touchpoint);
        ngx_http_cx_report_sort_groups(&sr[i].by_day);

        /* latest first */
        for (j = 1; j < sr[i].ncomments; j++) {
            c = sr[i].comments[j];
            for (k = j; k > 0 && sr[i].comments[k - 1].at_ms < c.at_ms; k--) {
                sr[i].comments[k] = sr[i].comments[k - 1];
            }
            sr[i].comments[k] = c;
        }
    }

    for (i = 0; i <= NGX_CX_STAGE_MAX; i++) {
        ngx_http_cx_report_sort_groups(&sum->stage_surveys[i]);
    }

    /* touchpoints by stage, then name: the rows' order on any one day,
     * whatever order the days (or another source) gave them in */
    tp = sum->touchpoints.elts;

    for (j = 1; j < sum->touchpoints.nelts; j++) {
        ttmp = tp[j];
        for (k = j; k > 0; k--) {
            if (tp[k - 1].stage < ttmp.stage
                || (tp[k - 1].stage == ttmp.stage
                    && ngx_memn2cmp(tp[k - 1].name.data, ttmp.name.data,
                                    tp[k - 1].name.len, ttmp.name.len) <= 0))
            {
                break;
            }
            tp[k] = tp[k - 1];
        }
        tp[k] = ttmp;
    }

    /* strongest first; ties by name, so the order never flickers */
    m = sum->moves.elts;

    for (j = 1; j < sum->moves.nelts; j++) {
        tmp = m[j];
        for (k = j; k > 0; k--) {
            if (m[k - 1].moves > tmp.moves
                || (m[k - 1].moves == tmp.moves
                    && ngx_memn2cmp(m[k - 1].from.data, tmp.from.data,
                                    m[k - 1].from.len, tmp.from.len) < 0)
                || (m[k - 1].moves == tmp.moves
                    && ngx_memn2cmp(m[k - 1].from.data, tmp.from.data,
                                    m[k - 1].from.len, tmp.from.len) == 0
                    && ngx_memn2cmp(m[k - 1].to.data, tmp.to.data,
                                    m[k - 1].to.len, tmp.to.len) <= 0))
            {
                break;
            }
            m[k] = m[k - 1];
        }
        m[k] = tmp;
    }
}


/* days sort as text; touchpoints read best sorted too */

void
ngx_http_cx_report_sort_groups(ngx_array_t *groups)
{
    ngx_uint_t            i, j;
    ngx_http_cx_group_t  *g, tmp;

    g = groups->elts;

    for (i = 1; i < groups->nelts; i++) {
        tmp = g[i];
        for (j = i; j > 0; j--) {
            if (ngx_memn2cmp(g[j - 1].name.data, tmp.name.data,
                             g[j - 1].name.len, tmp.name.len) <= 0)
            {
                break;
            }
            g[j] = g[j - 1];
        }
        g[j] = tmp;
    }
}


/* ---- writing the summary as JSON ---- */

static void
ngx_http_cx_report_write(ngx_http_cx_writer_t *w, ngx_http_cx_summary_t *sum)
{
    char                          at[NGX_CX_ISO8601_SIZE];
    ngx_uint_t                    i;
    ngx_http_cx_tp_report_t      *tp;
    ngx_http_cx_node_report_t    *nd;
    ngx_http_cx_survey_report_t  *sr;

    ngx_cx_iso8601(at, (uint64_t) ngx_time() * 1000);
    ngx_http_cx_writef(w, "{\"generated_at\":\"%s\",\"surveys\":[", at);

    sr = sum->surveys.elts;

    for (i = 0; i < sum->surveys.nelts; i++) {
        if (i) {
            ngx_http_cx_write(w, ",", 1);
        }

        ngx_http_cx_report_write_survey(w, sum, &sr[i]);
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
                           ngx_cx_hll_estimate(tp[i].hll));
    }

    ngx_http_cx_write(w, "]", 1);

    ngx_http_cx_report_write_stages(w, sum);
    ngx_http_cx_report_write_journey(w, sum);

    /* the whole store's, whatever the filters: the counts may be short */
    ngx_http_cx_writef(w, ",\"events_dropped\":%uL", sum->events_dropped);

    /* the whole store's too: an alert is not a response to filter */
    ngx_http_cx_writef(w, ",\"alerts\":{\"open\":%uL,\"acknowledged\":%uL,"
                       "\"escalated\":%uL,\"failed\":%uL,\"resolved\":%uL}",
                       sum->alerts.open, sum->alerts.acknowledged,
                       sum->alerts.escalated, sum->alerts.failed,
                       sum->alerts.resolved);

    /* a fleet's report: its nodes, whatever node= says */
    if (sum->nodes) {
        ngx_http_cx_write(w, ",\"nodes\":[", sizeof(",\"nodes\":[") - 1);

        nd = sum->nodes->elts;
        for (i = 0; i < sum->nodes->nelts; i++) {
            ngx_http_cx_write(w, i ? ",{\"node\":" : "{\"node\":", i ? 9 : 8);
            ngx_http_cx_write_json_str(w, nd[i].name.data, nd[i].name.len);
            ngx_http_cx_writef(w, ",\"responses\":%uL,\"answered\":%uL}",
                               nd[i].responses, nd[i].answered);
        }

        ngx_http_cx_write(w, "]", 1);
    }

    ngx_http_cx_write(w, "}\n", 2);
}


/* a score or a target in tenths, as a number with one decimal */

static void
ngx_http_cx_report_write_tenths(ngx_http_cx_writer_t *w, const char *key,
    ngx_int_t tenths)
{
    ngx_http_cx_writef(w, ",\"%s\":%s%i.%i", key, tenths < 0 ? "-" : "",
                       ngx_abs(tenths) / 10, ngx_abs(tenths) % 10);
}


static void
ngx_http_cx_report_write_survey(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum, ngx_http_cx_survey_report_t *sr)
{
    int                     lo, hi, s;
    char                    at[NGX_CX_ISO8601_SIZE];
    int64_t                 change;
    uint64_t                p, pa, d, same;
    ngx_uint_t              j;
    ngx_http_cx_survey_t   *survey;
    ngx_http_cx_comment_t  *c;

    static const char      *bands[3] = { "detractor", "passive", "promoter" };

    ngx_http_cx_write(w, "{\"name\":", sizeof("{\"name\":") - 1);
    ngx_http_cx_write_json_str(w, sr->name.data, sr->name.len);

    /* cx_survey title: what people call it */
    survey = ngx_http_cx_report_configured(sum, &sr->name);

    if (survey && survey->title.len) {
        ngx_http_cx_write(w, ",\"title\":", sizeof(",\"title\":") - 1);
        ngx_http_cx_write_json_str(w, survey->title.data, survey->title.len);
    }

    ngx_http_cx_writef(w, ",\"type\":\"%s\",\"offered\":%uL,"
                       "\"displayed\":%uL,"
                       "\"answered\":%uL,\"dismissed\":%uL,"
                       "\"score\":%.1f",
                       ngx_cx_type_name(sr->type), sr->offered,
                       sr->displayed,
                       sr->answered, sr->dismissed,
                       ngx_cx_tally_score(&sr->tally));

    if (sr->target != NGX_CONF_UNSET) {
        ngx_http_cx_report_write_tenths(w, "target", sr->target);
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

    /* re-surveys: band to band, both ways; the mean change in tenths */
    ngx_http_cx_writef(w, ",\"resurvey\":{\"answers\":%uL", sr->resurveyed);

    same = 0;
    for (j = 0; j < 9; j++) {
        if (j / 3 == j % 3) {
            same += sr->moves[j];
            continue;
        }

        ngx_http_cx_writef(w, ",\"%s_to_%s\":%uL", bands[j / 3],
                           bands[j % 3], sr->moves[j]);
    }

    change = (int64_t) sr->change;
    if (sr->resurveyed) {
        change = (change * 10 + (change >= 0 ? 1 : -1)
                  * (int64_t) (sr->resurveyed / 2))
                 / (int64_t) sr->resurveyed;
    }

    ngx_http_cx_writef(w, ",\"unchanged\":%uL", same);
    ngx_http_cx_report_write_tenths(w, "mean_change", (ngx_int_t) change);

    ngx_http_cx_write(w, "},\"comments\":[",
                      sizeof("},\"comments\":[") - 1);

    for (j = 0; j < sr->ncomments; j++) {
        c = &sr->comments[j];
        ngx_cx_iso8601(at, c->at_ms);
        ngx_http_cx_writef(w, "%s{\"at\":\"%s\",\"score\":%d,"
                           "\"touchpoint\":", j ? "," : "", at, c->score);
        ngx_http_cx_write_json_str(w, c->touchpoint.data, c->touchpoint.len);
        ngx_http_cx_write(w, ",\"comment\":", sizeof(",\"comment\":") - 1);
        ngx_http_cx_write_json_str(w, c->text.data, c->text.len);
        ngx_http_cx_write(w, "}", 1);
    }

    ngx_http_cx_write(w, "]}", 2);

    (void) sum;
}


void
ngx_http_cx_report_write_groups(ngx_http_cx_writer_t *w, ngx_array_t *groups,
    const char *key)
{
    int                   s, lo, hi;
    ngx_uint_t            i;
    ngx_http_cx_group_t  *g;

    g = groups->elts;

    ngx_http_cx_writef(w, ",\"by_%s\":[", key[0] == 'd' ? "day" : key);

    for (i = 0; i < groups->nelts; i++) {
        ngx_http_cx_writef(w, "%s{\"%s\":", i ? "," : "", key);
        ngx_http_cx_write_json_str(w, g[i].name.data, g[i].name.len);

        if (key[0] == 't') {
            ngx_http_cx_writef(w, ",\"stage\":\"%s\"",
                               ngx_cx_stage_name(g[i].stage));
        }

        ngx_http_cx_writef(w, ",\"answered\":%uL,\"score\":%.1f",
                           g[i].tally.answered,
                           ngx_cx_tally_score(&g[i].tally));

        /* a day's answers per score: weeks and months add up exactly */
        if (key[0] == 'd'
            && ngx_cx_score_range(g[i].tally.type, &lo, &hi) != 0)
        {
            for (s = lo; s <= hi; s++) {
                ngx_http_cx_writef(w, s == lo ? ",\"distribution\":[%uL"
                                              : ",%uL",
                                   g[i].tally.dist[s]);
            }

            ngx_http_cx_write(w, "]", 1);
        }

        ngx_http_cx_write(w, "}", 1);
    }

    ngx_http_cx_write(w, "]", 1);
}


/*
 * Per stage: its touchpoints, visits and visitors (the union of the
 * touchpoints' sketches), answers, and the score when the answers are of
 * one type (NPS and CSAT do not add up).
 */

static void
ngx_http_cx_report_write_stages(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum)
{
    u_char                    hll[NGX_CX_HLL_REGS];
    uint64_t                  visits, answers;
    ngx_int_t                 target;
    ngx_uint_t                st, i, j, n, mixed;
    ngx_cx_tally_t            all;
    ngx_http_cx_group_t      *g;
    ngx_http_cx_tp_report_t  *tp;

    ngx_http_cx_write(w, ",\"stages\":[", sizeof(",\"stages\":[") - 1);

    tp = sum->touchpoints.elts;

    for (st = 1; st <= NGX_CX_STAGE_MAX; st++) {
        ngx_http_cx_writef(w, "%s{\"stage\":\"%s\",\"touchpoints\":[",
                           st > 1 ? "," : "", ngx_cx_stage_name(st));

        ngx_memzero(hll, sizeof(hll));
        visits = 0;
        n = 0;

        for (i = 0; i < sum->touchpoints.nelts; i++) {
            if (tp[i].stage != st) {
                continue;
            }

            if (n++) {
                ngx_http_cx_write(w, ",", 1);
            }

            ngx_http_cx_write_json_str(w, tp[i].name.data, tp[i].name.len);
            visits += tp[i].visits;

            for (j = 0; j < NGX_CX_HLL_REGS; j++) {
                if (tp[i].hll[j] > hll[j]) {
                    hll[j] = tp[i].hll[j];
                }
            }
        }

        g = sum->stage_surveys[st].elts;
        answers = 0;
        mixed = 0;

        for (i = 0; i < sum->stage_surveys[st].nelts; i++) {
            answers += g[i].tally.answered;
            mixed |= (g[i].tally.type != g[0].tally.type);
        }

        ngx_http_cx_writef(w, "],\"visits\":%uL,\"visitors\":%uL,"
                           "\"answers\":%uL", visits, ngx_cx_hll_estimate(hll),
                           answers);

        if (answers == 0 || mixed) {
            ngx_http_cx_write(w, ",\"type\":null,\"score\":null",
                              sizeof(",\"type\":null,\"score\":null") - 1);

        } else {
            ngx_cx_tally_init(&all, g[0].tally.type);

            for (i = 0; i < sum->stage_surveys[st].nelts; i++) {
                for (j = 0; j < 11; j++) {
                    all.dist[j] += g[i].tally.dist[j];
                }
                all.answered += g[i].tally.answered;
            }

            ngx_http_cx_writef(w, ",\"type\":\"%s\",\"score\":%.1f",
                               ngx_cx_type_name(all.type),
                               ngx_cx_tally_score(&all));
        }

        ngx_http_cx_write(w, ",\"surveys\":[", sizeof(",\"surveys\":[") - 1);

        for (i = 0; i < sum->stage_surveys[st].nelts; i++) {
            ngx_http_cx_write(w, i ? ",{\"name\":" : "{\"name\":",
                              i ? sizeof(",{\"name\":") - 1
                                : sizeof("{\"name\":") - 1);
            ngx_http_cx_write_json_str(w, g[i].name.data, g[i].name.len);
            ngx_http_cx_writef(w, ",\"type\":\"%s\",\"answered\":%uL,"
                               "\"score\":%.1f",
                               ngx_cx_type_name(g[i].tally.type),
                               g[i].tally.answered,
                               ngx_cx_tally_score(&g[i].tally));

            target = ngx_http_cx_report_target(sum, &g[i].name);
            if (target != NGX_CONF_UNSET) {
                ngx_http_cx_report_write_tenths(w, "target", target);
            }

            ngx_http_cx_write(w, "}", 1);
        }

        ngx_http_cx_write(w, "]}", 2);
    }

    ngx_http_cx_write(w, "]", 1);
}


/*
 * The journey: visitors seen (the union of every touchpoint's sketch),
 * how many reached each stage, the strongest moves, the time to purchase.
 */

static void
ngx_http_cx_report_write_journey(ngx_http_cx_writer_t *w,
    ngx_http_cx_summary_t *sum)
{
    u_char                    all[NGX_CX_HLL_REGS], hll[NGX_CX_HLL_REGS];
    uint64_t                  seen, reached;
    ngx_uint_t                st, i, j;
    ngx_http_cx_move_t       *m;
    ngx_http_cx_tp_report_t  *tp;

    tp = sum->touchpoints.elts;

    ngx_memzero(all, sizeof(all));

    for (i = 0; i < sum->touchpoints.nelts; i++) {
        for (j = 0; j < NGX_CX_HLL_REGS; j++) {
            if (tp[i].hll[j] > all[j]) {
                all[j] = tp[i].hll[j];
            }
        }
    }

    seen = ngx_cx_hll_estimate(all);

    ngx_http_cx_writef(w, ",\"journey\":{\"visitors\":%uL,\"conversion\":[",
                       seen);

    for (st = 1; st <= NGX_CX_STAGE_MAX; st++) {
        ngx_memzero(hll, sizeof(hll));

        for (i = 0; i < sum->touchpoints.nelts; i++) {
            if (tp[i].stage != st) {
                continue;
            }

            for (j = 0; j < NGX_CX_HLL_REGS; j++) {
                if (tp[i].hll[j] > hll[j]) {
                    hll[j] = tp[i].hll[j];
                }
            }
        }

        /* two estimates: a stage can never show more than everyone */
        reached = ngx_min(ngx_cx_hll_estimate(hll), seen);

        ngx_http_cx_writef(w, "%s{\"stage\":\"%s\",\"visitors\":%uL",
                           st > 1 ? "," : "", ngx_cx_stage_name(st), reached);
        ngx_http_cx_report_write_tenths(w, "percent",
                                        seen ? (ngx_int_t) ((reached * 1000
                                                             + seen / 2)
                                                            / seen)
                                             : 0);
        ngx_http_cx_write(w, "}", 1);
    }

    ngx_http_cx_write(w, "],\"transitions\":[",
                      sizeof("],\"transitions\":[") - 1);

    m = sum->moves.elts;

    for (i = 0; i < sum->moves.nelts && i < NGX_HTTP_CX_REPORT_TRANSITIONS;
         i++)
    {
        ngx_http_cx_write(w, i ? ",{\"from\":" : "{\"from\":",
                          i ? sizeof(",{\"from\":") - 1
                            : sizeof("{\"from\":") - 1);
        ngx_http_cx_write_json_str(w, m[i].from.data, m[i].from.len);
        ngx_http_cx_write(w, ",\"to\":", sizeof(",\"to\":") - 1);
        ngx_http_cx_write_json_str(w, m[i].to.data, m[i].to.len);
        ngx_http_cx_writef(w, ",\"moves\":%uL,\"visitors\":%uL,"
                           "\"median_seconds\":%uL}",
                           m[i].moves, m[i].arrivals,
                           ngx_cx_hist_quantile(m[i].hist, 0.5));
    }

    ngx_http_cx_writef(w, "],\"time_to_purchase\":{\"visitors\":%uL",
                       sum->purchases);

    if (sum->purchases) {
        ngx_http_cx_writef(w, ",\"median_seconds\":%uL,\"p90_seconds\":%uL}}",
                           ngx_cx_hist_quantile(sum->purchase, 0.5),
                           ngx_cx_hist_quantile(sum->purchase, 0.9));

    } else {
        ngx_http_cx_write(w, ",\"median_seconds\":null,\"p90_seconds\":null}}",
                          sizeof(",\"median_seconds\":null,"
                                 "\"p90_seconds\":null}}") - 1);
    }
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
