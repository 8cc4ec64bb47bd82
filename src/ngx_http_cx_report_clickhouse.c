/*
 * cx_report source=clickhouse: report.json over every node's records, from
 * the tables cx_forward fills (ngx_cx_forward.h), plus ?node=NAME.
 *
 * The same report as a node's own, by the same code: ClickHouse is asked
 * for what the store's rollup rows hold (ngx_cx_rollup.h), grouped as they
 * are, and its answers go into report.json's summary as such rows
 * (ngx_http_cx_report_add_row):
 *
 *   R  responses by day, stage, type, survey, touchpoint, their flags,
 *      score and previous score, counted: each group made into the record
 *      it stands for, whose contribution (ngx_cx_rollup_record) is added
 *      count times, so scores, distributions and re-survey moves are
 *      computed as a node computes them
 *   O  offers by day and survey
 *   V  visits by stage and touchpoint, with the HyperLogLog sketch of the
 *      visitors computed in SQL with the node's own hash (ngx_cx_hll_add),
 *      so a stage's and the site's visitors are the union of sketches as on
 *      a node, and a one-node fleet reports what that node reports
 *   T  moves by from and to, first arrivals, the histogram of seconds
 *      (bucket bounds taken from ngx_cx_hist_bucket itself)
 *   P  the histogram of the time to purchase
 *   comments, the latest 20 per survey and touchpoint; alert counts; and
 *   the fleet's nodes (report.json's "nodes", for the dashboard).
 *
 * segments.json: the answers counted by survey, type, touchpoint, stage,
 * the day of the answer, the value (lang, device, or an attribute's last
 * value, as a node takes it) and score; each row goes to
 * ngx_http_cx_segments_add() as one record counted n times, after the
 * survey= and touchpoint= filters, so the split is a node's.  Only the
 * attribute key reaches SQL, checked before as [A-Za-z0-9_]{1,64}.
 *
 * comments.json: a page of comments newest first, the commented responses
 * in descending id order (as a node walks its store) before the cursor,
 * at most the scan bound of them a request; the filters, the band and the
 * search are applied to the answer by ngx_http_cx_comments_add(), as on a
 * node: only the cursor, as hex digits, reaches SQL.
 *
 * responses.csv and responses.ndjson: the responses in id order (the order
 * they were issued, as a node's export), read in pages of cx_forward's
 * batch= responses after the last id sent, each page formatted by
 * ngx_cx_export.c as a node formats its own, the next page asked for only
 * once the client has taken the last; the headers go out with the first
 * page, so a ClickHouse that cannot answer gives a 502, and one that fails
 * later cuts the download short (logged) rather than end it as if whole.
 * A CSV first asks for its attr_ columns: the distinct attribute keys
 * (arrayJoin of attr_keys) per survey and touchpoint, filtered and sorted
 * here as a node's first pass would, so the header is a node's too.
 *
 * The queries go out at once through the HTTP client of cx_forward
 * (ngx_http_cx_http_client.c: nginx's connections, resolver and TLS; the
 * credentials of cx_forward), their answers read whole (bounded) as
 * TabSeparated; the request waits without holding the event loop.  Any
 * failure answers 502 with ClickHouse's reason.  The date filters and
 * node= are the only values that reach SQL: dates as parsed numbers, the
 * node checked against the cx_node alphabet; survey= and touchpoint= are
 * applied to the answers, as on a node.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_report.h"
#include "ngx_http_cx_forward.h"
#include "ngx_http_cx_alert.h"
#include "ngx_cx_rollup.h"
#include "ngx_cx_score.h"


#define NGX_HTTP_CX_CH_RESPONSES   0
#define NGX_HTTP_CX_CH_OFFERS      1
#define NGX_HTTP_CX_CH_VISITS      2
#define NGX_HTTP_CX_CH_MOVES       3
#define NGX_HTTP_CX_CH_PURCHASE    4
#define NGX_HTTP_CX_CH_COMMENTS    5
#define NGX_HTTP_CX_CH_ALERTS      6
#define NGX_HTTP_CX_CH_NODES       7
#define NGX_HTTP_CX_CH_QUERIES     8
#define NGX_HTTP_CX_CH_EXPORT      8        /* a page of the export */
#define NGX_HTTP_CX_CH_KEYS        9        /* a CSV's attribute keys */
#define NGX_HTTP_CX_CH_COMMENT_PAGE  10     /* a page of comments.json */
#define NGX_HTTP_CX_CH_SEGMENTS    11       /* segments.json's counts */

/* what: as ngx_http_cx_report_clickhouse() is asked */
#define NGX_HTTP_CX_CH_REPORT      0
#define NGX_HTTP_CX_CH_CSV         1
#define NGX_HTTP_CX_CH_NDJSON      2

#define NGX_HTTP_CX_CH_MAX         (64 * 1024 * 1024)  /* an answer's bytes */
#define NGX_HTTP_CX_CH_TIMEOUT     30000
#define NGX_HTTP_CX_CH_FIELDS      24
#define NGX_HTTP_CX_CH_EXPORT_BUF  32768


typedef struct ngx_http_cx_ch_ctx_s  ngx_http_cx_ch_ctx_t;

typedef struct {
    ngx_http_cx_ch_ctx_t          *ctx;
    ngx_uint_t                     kind;
    ngx_http_cx_post_t            *post;
} ngx_http_cx_ch_query_t;


struct ngx_http_cx_ch_ctx_s {
    ngx_http_request_t            *r;
    ngx_http_cx_summary_t         *sum;
    ngx_http_cx_report_filters_t   filters;
    ngx_http_cx_forward_t         *fw;
    ngx_str_t                      where;     /* day and node conditions */
    ngx_str_t                      day_where;   /* the days' alone */
    ngx_str_t                      node_where;  /* the node's alone */
    ngx_uint_t                     pending;
    ngx_uint_t                     status;    /* 0, or the answer's (502) */
    u_char                         error[256];
    ngx_http_cx_ch_query_t         q[NGX_HTTP_CX_CH_QUERIES];

    /* an export's */
    ngx_flag_t                     ndjson;
    unsigned                       flags;     /* NGX_CX_EXPORT_EXCEL */
    ngx_cx_export_columns_t       *cols;      /* CSV: the attr_ columns */
    ngx_flag_t                     started;   /* headers sent */
    ngx_flag_t                     finished;  /* the last page is in w */
    ngx_flag_t                     waiting;   /* for the client to read */
    ngx_uint_t                     page_rows;
    ngx_uint_t                     rows;
    u_char                         last[2 * NGX_CX_PROMPT_ID_LEN + 1];
    ngx_http_cx_writer_t           w;

    /* comments.json's */
    ngx_http_cx_comments_t        *comments;
    ngx_uint_t                     scan;      /* rows asked for */
    ngx_flag_t                     full;      /* the page's limit reached */
    u_char                         next[NGX_CX_PROMPT_ID_LEN];

    /* segments.json's */
    ngx_http_cx_segments_t        *segments;
};


static ngx_http_cx_ch_ctx_t *ngx_http_cx_ch_create(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, ngx_int_t *rc);
static ngx_int_t ngx_http_cx_ch_where(ngx_http_cx_ch_ctx_t *ctx,
    ngx_str_t *node);
static ngx_int_t ngx_http_cx_ch_export(ngx_http_cx_ch_ctx_t *ctx,
    ngx_flag_t ndjson, unsigned flags);
static void ngx_http_cx_ch_keyed(void *data, ngx_uint_t status,
    const char *error);
static ngx_int_t ngx_http_cx_ch_key_row(ngx_http_cx_ch_ctx_t *ctx,
    ngx_str_t *f);
static ngx_int_t ngx_http_cx_ch_sql(ngx_http_cx_ch_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *sql);
static ngx_int_t ngx_http_cx_ch_ask(ngx_http_cx_ch_ctx_t *ctx,
    ngx_str_t *sql, ngx_http_cx_post_done_pt done);
static void ngx_http_cx_ch_done(void *data, ngx_uint_t status,
    const char *error);
static ngx_str_t *ngx_http_cx_ch_answer(ngx_http_cx_ch_query_t *q,
    ngx_uint_t status, const char *error);
static ngx_int_t ngx_http_cx_ch_read(ngx_http_cx_ch_query_t *q,
    ngx_uint_t status, const char *error, ngx_uint_t kind, const char *what);
static ngx_int_t ngx_http_cx_ch_rows(ngx_http_cx_ch_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *body);
static ngx_int_t ngx_http_cx_ch_row(ngx_http_cx_ch_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *f, ngx_uint_t n);
static ngx_int_t ngx_http_cx_ch_export_row(ngx_http_cx_ch_ctx_t *ctx,
    ngx_str_t *f);
static ngx_int_t ngx_http_cx_ch_page(ngx_http_cx_ch_ctx_t *ctx);
static void ngx_http_cx_ch_paged(void *data, ngx_uint_t status,
    const char *error);
static ngx_int_t ngx_http_cx_ch_export_send(ngx_http_cx_ch_ctx_t *ctx);
static void ngx_http_cx_ch_export_writer(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_ch_unhex(u_char *dst, ngx_str_t *hex,
    size_t n);
static void ngx_http_cx_ch_commented(void *data, ngx_uint_t status,
    const char *error);
static ngx_int_t ngx_http_cx_ch_comment_row(ngx_http_cx_ch_ctx_t *ctx,
    ngx_str_t *f);
static void ngx_http_cx_ch_segmented(void *data, ngx_uint_t status,
    const char *error);
static ngx_int_t ngx_http_cx_ch_segment_row(ngx_http_cx_ch_ctx_t *ctx,
    ngx_str_t *f);
static void ngx_http_cx_ch_fail(ngx_http_cx_ch_ctx_t *ctx, const char *what,
    ngx_str_t *detail);
static void ngx_http_cx_ch_finish(ngx_http_cx_ch_ctx_t *ctx);
static void ngx_http_cx_ch_cleanup(void *data);
static u_char *ngx_http_cx_ch_hist_sql(u_char *p, const char *x);
static size_t ngx_http_cx_ch_unescape(u_char *p, size_t len);
static int64_t ngx_http_cx_ch_int(ngx_str_t *f);


ngx_int_t
ngx_http_cx_report_clickhouse(ngx_http_request_t *r,
    ngx_http_cx_report_filters_t *f, ngx_uint_t what, unsigned flags)
{
    ngx_int_t              rc;
    ngx_str_t              sql;
    ngx_uint_t             i;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = ngx_http_cx_ch_create(r, f, &rc);
    if (ctx == NULL) {
        return rc;
    }

    if (what != NGX_HTTP_CX_CH_REPORT) {
        return ngx_http_cx_ch_export(ctx, what == NGX_HTTP_CX_CH_NDJSON,
                                     flags);
    }

    ctx->sum = ngx_http_cx_report_begin(r, &ctx->filters);
    if (ctx->sum == NULL
        || ngx_http_cx_report_add_node(ctx->sum, NULL, 0, 0) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < NGX_HTTP_CX_CH_QUERIES; i++) {
        ctx->q[i].ctx = ctx;
        ctx->q[i].kind = i;

        if (ngx_http_cx_ch_sql(ctx, i, &sql) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_cx_post(&ctx->fw->target, NULL, &ctx->fw->auth, &sql,
                             NGX_HTTP_CX_CH_MAX, NGX_HTTP_CX_CH_TIMEOUT,
                             ngx_http_cx_ch_done, &ctx->q[i],
                             r->connection->log, &ctx->q[i].post)
            != NGX_OK)
        {
            ngx_http_cx_ch_fail(ctx, "could not start the request", NULL);
            continue;
        }

        ctx->pending++;
    }

    if (ctx->pending == 0) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                      (char *) ctx->error);
    }

    r->main->count++;

    return NGX_DONE;
}


/*
 * The request's context: cx_forward's ClickHouse, the filters made SQL,
 * and the cleanup that cancels its queries.  NULL with *rc the answer.
 */

static ngx_http_cx_ch_ctx_t *
ngx_http_cx_ch_create(ngx_http_request_t *r, ngx_http_cx_report_filters_t *f,
    ngx_int_t *rc)
{
    ngx_str_t                 node;
    ngx_pool_cleanup_t       *cln;
    ngx_http_cx_ch_ctx_t     *ctx;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (cmcf->forward == NULL) {
        *rc = ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "no cx_forward");
        return NULL;
    }

    *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_ch_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->r = r;
    ctx->fw = cmcf->forward;
    ctx->filters = *f;

    if (ngx_http_arg(r, (u_char *) "node", 4, &node) != NGX_OK) {
        ngx_str_null(&node);
    }

    if (ngx_http_cx_ch_where(ctx, &node) != NGX_OK) {
        *rc = ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "node= takes a node name: letters, "
                                     "digits, \".\", \"-\" and \"_\"");
        return NULL;
    }

    /* the answers may come after the request is gone: they are cancelled */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_cx_ch_cleanup;
    cln->data = ctx;

    return ctx;
}


/* " AND day >= '...' AND day <= '...' AND node = '...'" */

static ngx_int_t
ngx_http_cx_ch_where(ngx_http_cx_ch_ctx_t *ctx, ngx_str_t *node)
{
    u_char                        *p, *q;
    char                           ymd[NGX_CX_YMD_SIZE];
    ngx_http_cx_report_filters_t  *f;

    f = &ctx->filters;

    for (q = node->data; q < node->data + node->len; q++) {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')
              || (*q >= '0' && *q <= '9') || *q == '.' || *q == '-'
              || *q == '_'))
        {
            return NGX_ERROR;
        }
    }

    if (node->len > NGX_CX_NODE_MAX) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(ctx->r->pool, 128 + node->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->where.data = p;

    /* Date holds days up to 2105: a later bound is no bound */
    if (f->from_ms) {
        ngx_cx_ymd(ymd, f->from_ms);
        p = ngx_sprintf(p, " AND day >= '%s'", ymd);
    }

    if (f->to_ms < 4291747200000ULL) {
        ngx_cx_ymd(ymd, f->to_ms);
        p = ngx_sprintf(p, " AND day <= '%s'", ymd);
    }

    ctx->day_where.len = p - ctx->where.data;
    ctx->day_where.data = ctx->where.data;
    ctx->node_where.data = p;

    if (node->len) {
        p = ngx_sprintf(p, " AND node = '%V'", node);
    }

    ctx->node_where.len = p - ctx->node_where.data;
    ctx->where.len = p - ctx->where.data;

    return NGX_OK;
}


/*
 * The visitor's sketch register and rank, as ngx_cx_hll_add() computes
 * them from the 12 bytes of the id: FNV-1a-like steps, then a 64-bit
 * finalizer; the register is the top 10 bits, the rank 1 + the leading
 * zeros of the rest (with a stop bit).
 */

static u_char *
ngx_http_cx_ch_hll_sql(u_char *p)
{
    ngx_uint_t  i;

    p = ngx_cpymem(p, "unhex(visitor) AS v, ", 21);

    for (i = 0; i < NGX_CX_VISITOR_ID_LEN; i++) {
        p = ngx_cpymem(p, "((bitXor(", 9);
    }

    p = ngx_sprintf(p, "toUInt64(11400714819323198485)");

    for (i = 0; i < NGX_CX_VISITOR_ID_LEN; i++) {
        p = ngx_sprintf(p, ", reinterpretAsUInt8(substring(v, %ui, 1))) "
                           "* 1099511628211))", i + 1);
    }

    p = ngx_sprintf(p, " AS h0, "
        "bitXor(h0, bitShiftRight(h0, 30)) * 13787848793156543929 AS h1, "
        "bitXor(h1, bitShiftRight(h1, 27)) * 10723151780598845931 AS h2, "
        "bitXor(h2, bitShiftRight(h2, 31)) AS h, "
        "bitShiftRight(h, %d) AS reg, "
        "bitOr(bitShiftLeft(h, %d), %d) AS w, multiIf(",
        64 - NGX_CX_HLL_BITS, NGX_CX_HLL_BITS, 1 << (NGX_CX_HLL_BITS - 1));

    for (i = 1; i < 64 - NGX_CX_HLL_BITS + 1; i++) {
        p = ngx_sprintf(p, "w >= %uL, %ui, ", (uint64_t) 1 << (64 - i), i);
    }

    return ngx_sprintf(p, "%d) AS rank", 64 - NGX_CX_HLL_BITS + 1);
}


/*
 * A histogram bucket in SQL: multiIf(x >= L99, 99, ..., x >= L1, 1, 0),
 * L the least seconds of each bucket, found with ngx_cx_hist_bucket()
 * itself (it only grows with the seconds), so the two never disagree.
 */

static u_char *
ngx_http_cx_ch_hist_sql(u_char *p, const char *x)
{
    unsigned   b;
    uint64_t   lo, hi, mid;

    p = ngx_sprintf(p, "multiIf(");

    for (b = NGX_CX_HIST_BUCKETS - 1; b > 0; b--) {
        lo = 1;
        hi = (uint64_t) 1 << 42;

        while (lo < hi) {
            mid = lo + (hi - lo) / 2;

            if (ngx_cx_hist_bucket(mid) >= b) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }

        p = ngx_sprintf(p, "%s >= %uL, %ud, ", x, lo, b);
    }

    return ngx_sprintf(p, "0)");
}


static ngx_int_t
ngx_http_cx_ch_sql(ngx_http_cx_ch_ctx_t *ctx, ngx_uint_t kind, ngx_str_t *sql)
{
    u_char     *p;
    ngx_str_t  *db, *w;

    db = &ctx->fw->database;
    w = &ctx->where;

    p = ngx_pnalloc(ctx->r->pool, 16384);
    if (p == NULL) {
        return NGX_ERROR;
    }

    sql->data = p;

    switch (kind) {

    case NGX_HTTP_CX_CH_RESPONSES:
        p = ngx_sprintf(p,
            "SELECT toUInt32(day), stage, type, survey, touchpoint, "
            "displayed, dismissed, answered, commented, "
            "ifNull(score, -1000) AS s, ifNull(previous_score, -1000) AS ps, "
            "count() FROM %V.responses FINAL WHERE 1%V "
            "GROUP BY day, stage, type, survey, touchpoint, displayed, "
            "dismissed, answered, commented, s, ps", db, w);
        break;

    case NGX_HTTP_CX_CH_OFFERS:
        p = ngx_sprintf(p,
            "SELECT name, count() FROM %V.events FINAL "
            "WHERE kind = 'offer'%V GROUP BY name", db, w);
        break;

    case NGX_HTTP_CX_CH_VISITS:
        p = ngx_sprintf(p,
            "SELECT stage, name, reg, max(rank), count() FROM (SELECT stage, "
            "name, ");
        p = ngx_http_cx_ch_hll_sql(p);
        p = ngx_sprintf(p, " FROM %V.events FINAL WHERE kind = 'visit'%V) "
                        "GROUP BY stage, name, reg", db, w);
        break;

    case NGX_HTTP_CX_CH_MOVES:
        p = ngx_sprintf(p, "SELECT from_touchpoint, name, ");
        p = ngx_http_cx_ch_hist_sql(p, "from_seconds");
        p = ngx_sprintf(p, " AS b, sum(first_arrival), count() FROM "
                        "%V.events FINAL WHERE kind = 'visit' AND "
                        "from_touchpoint != ''%V "
                        "GROUP BY from_touchpoint, name, b", db, w);
        break;

    case NGX_HTTP_CX_CH_PURCHASE:
        p = ngx_sprintf(p, "SELECT ");
        p = ngx_http_cx_ch_hist_sql(p, "purchase_seconds");
        p = ngx_sprintf(p, " AS b, count() FROM %V.events FINAL "
                        "WHERE kind = 'visit' AND purchase_seconds >= 0%V "
                        "GROUP BY b", db, w);
        break;

    case NGX_HTTP_CX_CH_COMMENTS:
        p = ngx_sprintf(p,
            "SELECT survey, type, touchpoint, commented_at_ms, "
            "ifNull(score, -1000), comment FROM %V.responses FINAL "
            "WHERE commented = 1 AND comment != ''%V "
            "ORDER BY commented_at_ms DESC LIMIT %d BY survey, touchpoint",
            db, w, NGX_CX_ROLLUP_IDS);
        break;

    case NGX_HTTP_CX_CH_NODES:
        /* every node of the dates, for the dashboard's choice */
        p = ngx_sprintf(p,
            "SELECT node, count(), sum(answered) FROM %V.responses FINAL "
            "WHERE 1%V GROUP BY node ORDER BY node", db, &ctx->day_where);
        break;

    default: /* NGX_HTTP_CX_CH_ALERTS: all of them, as on a node */
        p = ngx_sprintf(p,
            "SELECT state, sent, failed, levels, count() FROM %V.alerts "
            "FINAL WHERE 1", db);


        p = ngx_cpymem(p, ctx->node_where.data, ctx->node_where.len);
        p = ngx_sprintf(p, " GROUP BY state, sent, failed, levels");
        break;
    }

    p = ngx_sprintf(p, " FORMAT TabSeparated");
    sql->len = p - sql->data;

    return NGX_OK;
}


/*
 * A request's one query, its answer to done(q[0]): what a content handler
 * returns (NGX_DONE while it waits; 502 when it cannot be sent).
 */

static ngx_int_t
ngx_http_cx_ch_ask(ngx_http_cx_ch_ctx_t *ctx, ngx_str_t *sql,
    ngx_http_cx_post_done_pt done)
{
    ngx_http_request_t  *r;

    r = ctx->r;
    ctx->q[0].ctx = ctx;

    if (ngx_http_cx_post(&ctx->fw->target, NULL, &ctx->fw->auth, sql,
                         NGX_HTTP_CX_CH_MAX, NGX_HTTP_CX_CH_TIMEOUT, done,
                         &ctx->q[0], r->connection->log, &ctx->q[0].post)
        != NGX_OK)
    {
        ngx_http_cx_ch_fail(ctx, "could not start the request", NULL);
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                      (char *) ctx->error);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_cx_ch_done(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_ch_query_t *q = data;

    ngx_http_cx_ch_ctx_t   *ctx;

    ctx = q->ctx;
    (void) ngx_http_cx_ch_read(q, status, error, q->kind,
                               "answered what is not a report");

    if (--ctx->pending == 0) {
        ngx_http_cx_ch_finish(ctx);
    }
}


/* TabSeparated: rows end with LF, fields with TAB, \-escaped inside */

/* A query's answer: its body, or NULL when ClickHouse failed (said). */

static ngx_str_t *
ngx_http_cx_ch_answer(ngx_http_cx_ch_query_t *q, ngx_uint_t status,
    const char *error)
{
    ngx_str_t  *body;

    body = q->post ? ngx_http_cx_post_body(q->post) : NULL;
    q->post = NULL;

    if (error) {
        ngx_http_cx_ch_fail(q->ctx, error, NULL);
        return NULL;
    }

    if (status != 200 || body == NULL) {
        ngx_http_cx_ch_fail(q->ctx, "answered", body);
        return NULL;
    }

    return body;
}


/*
 * A query's answer read as rows of kind: NGX_OK, or NGX_ERROR with the
 * reason in ctx (ClickHouse failed, or answered what, not rows of kind).
 */

static ngx_int_t
ngx_http_cx_ch_read(ngx_http_cx_ch_query_t *q, ngx_uint_t status,
    const char *error, ngx_uint_t kind, const char *what)
{
    ngx_str_t  *body;

    body = ngx_http_cx_ch_answer(q, status, error);

    if (body && q->ctx->status == 0
        && ngx_http_cx_ch_rows(q->ctx, kind, body) != NGX_OK)
    {
        ngx_http_cx_ch_fail(q->ctx, what, NULL);
    }

    return q->ctx->status ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_http_cx_ch_rows(ngx_http_cx_ch_ctx_t *ctx, ngx_uint_t kind,
    ngx_str_t *body)
{
    u_char      *p, *end, *lf, *tab;
    ngx_str_t    f[NGX_HTTP_CX_CH_FIELDS];
    ngx_uint_t   n;

    p = body->data;
    end = p + body->len;

    while (p < end) {
        lf = ngx_strlchr(p, end, LF);
        if (lf == NULL) {
            return NGX_ERROR;
        }

        for (n = 0; n < NGX_HTTP_CX_CH_FIELDS; n++) {
            tab = ngx_strlchr(p, lf, '\t');
            f[n].data = p;
            f[n].len = (tab ? tab : lf) - p;
            f[n].len = ngx_http_cx_ch_unescape(f[n].data, f[n].len);

            if (tab == NULL) {
                n++;
                break;
            }

            p = tab + 1;
        }

        if (ngx_http_cx_ch_row(ctx, kind, f, n) != NGX_OK) {
            return NGX_ERROR;
        }

        p = lf + 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_ch_row(ngx_http_cx_ch_ctx_t *ctx, ngx_uint_t kind, ngx_str_t *f,
    ngx_uint_t n)
{
    size_t                len;
    int64_t               count, v;
    uint64_t              ms;
    ngx_uint_t            i, b;
    ngx_cx_alert_t        a;
    ngx_cx_record_t       rec;
    ngx_cx_rollup_key_t   k;
    ngx_cx_rollup_row_t   row;
    u_char                val[NGX_CX_ROLLUP_VAL_MAX];

    static ngx_uint_t  fields[NGX_HTTP_CX_CH_QUERIES + 4] = {
        12, 2, 5, 5, 2, 6, 5, 3, 24, 3, 10, 8
    };

    if (n != fields[kind]) {
        return NGX_ERROR;
    }

    if (kind == NGX_HTTP_CX_CH_EXPORT) {
        return ngx_http_cx_ch_export_row(ctx, f);
    }

    if (kind == NGX_HTTP_CX_CH_KEYS) {
        return ngx_http_cx_ch_key_row(ctx, f);
    }

    if (kind == NGX_HTTP_CX_CH_COMMENT_PAGE) {
        return ngx_http_cx_ch_comment_row(ctx, f);
    }

    if (kind == NGX_HTTP_CX_CH_SEGMENTS) {
        return ngx_http_cx_ch_segment_row(ctx, f);
    }

    ngx_memzero(&k, sizeof(ngx_cx_rollup_key_t));
    ngx_memzero(row.n, sizeof(row.n));

    switch (kind) {

    case NGX_HTTP_CX_CH_RESPONSES:
        /* the record the group stands for, dated on its day */
        ngx_memzero(&rec, sizeof(ngx_cx_record_t));

        ms = (uint64_t) ngx_http_cx_ch_int(&f[0]) * 86400000;
        rec.issued_at_ms = ms;
        rec.stage = ngx_cx_stage_from_name((char *) f[1].data, f[1].len);
        rec.type = ngx_cx_type_from_name((char *) f[2].data, f[2].len);
        rec.survey.data = f[3].data;
        rec.survey.len = f[3].len;
        rec.touchpoint.data = f[4].data;
        rec.touchpoint.len = f[4].len;

        if (ngx_http_cx_ch_int(&f[5])) {
            rec.flags |= NGX_CX_REC_DISPLAYED;
            rec.displayed_at_ms = ms;
        }
        if (ngx_http_cx_ch_int(&f[6])) {
            rec.flags |= NGX_CX_REC_DISMISSED;
            rec.dismissed_at_ms = ms;
        }
        if (ngx_http_cx_ch_int(&f[7])) {
            rec.flags |= NGX_CX_REC_ANSWERED;
            rec.answered_at_ms = ms;
        }
        if (ngx_http_cx_ch_int(&f[8])) {
            rec.flags |= NGX_CX_REC_COMMENTED;
            rec.commented_at_ms = ms;
        }

        v = ngx_http_cx_ch_int(&f[9]);
        rec.score = (v == -1000) ? 0 : (int) v;
        v = ngx_http_cx_ch_int(&f[10]);
        rec.has_previous = (v != -1000);
        rec.previous_score = rec.has_previous ? (int) v : 0;

        count = ngx_http_cx_ch_int(&f[11]);

        if (f[3].len > NGX_CX_NAME_MAX || f[4].len > NGX_CX_NAME_MAX
            || count <= 0)
        {
            return NGX_OK;
        }

        ngx_cx_rollup_record(&rec, &k, &row);

        for (i = 0; i < NGX_CX_ROLLUP_COUNTERS; i++) {
            row.n[i] *= (uint64_t) count;   /* signed ones wrap alike */
        }

        k.kind = NGX_CX_ROLLUP_RESPONSES;
        break;

    case NGX_HTTP_CX_CH_OFFERS:
        if (f[0].len > NGX_CX_NAME_MAX) {
            return NGX_OK;
        }

        k.kind = NGX_CX_ROLLUP_OFFERS;
        k.a_len = (u_char) f[0].len;
        ngx_memcpy(k.a, f[0].data, f[0].len);
        row.n[0] = ngx_http_cx_ch_int(&f[1]);
        break;

    case NGX_HTTP_CX_CH_VISITS:
        if (f[1].len > NGX_CX_NAME_MAX) {
            return NGX_OK;
        }

        k.kind = NGX_CX_ROLLUP_VISITS;
        k.stage = ngx_cx_stage_from_name((char *) f[0].data, f[0].len);
        k.a_len = (u_char) f[1].len;
        ngx_memcpy(k.a, f[1].data, f[1].len);

        ngx_memzero(row.hll, sizeof(row.hll));
        i = (ngx_uint_t) ngx_http_cx_ch_int(&f[2]);
        v = ngx_http_cx_ch_int(&f[3]);

        if (i >= NGX_CX_HLL_REGS || v < 1 || v > 64) {
            return NGX_ERROR;
        }

        row.hll[i] = (u_char) v;
        row.n[NGX_CX_RV_VISITS] = ngx_http_cx_ch_int(&f[4]);
        break;

    case NGX_HTTP_CX_CH_MOVES:
        if (f[0].len > NGX_CX_NAME_MAX || f[1].len > NGX_CX_NAME_MAX) {
            return NGX_OK;
        }

        k.kind = NGX_CX_ROLLUP_MOVES;
        k.a_len = (u_char) f[0].len;
        ngx_memcpy(k.a, f[0].data, f[0].len);
        k.b_len = (u_char) f[1].len;
        ngx_memcpy(k.b, f[1].data, f[1].len);

        b = (ngx_uint_t) ngx_http_cx_ch_int(&f[2]);
        if (b >= NGX_CX_HIST_BUCKETS) {
            return NGX_ERROR;
        }

        row.n[NGX_CX_RT_ARRIVALS] = ngx_http_cx_ch_int(&f[3]);
        row.n[NGX_CX_RT_MOVES] = ngx_http_cx_ch_int(&f[4]);
        row.n[NGX_CX_RT_HIST + b] = row.n[NGX_CX_RT_MOVES];
        break;

    case NGX_HTTP_CX_CH_PURCHASE:
        k.kind = NGX_CX_ROLLUP_PURCHASE;

        b = (ngx_uint_t) ngx_http_cx_ch_int(&f[0]);
        if (b >= NGX_CX_HIST_BUCKETS) {
            return NGX_ERROR;
        }

        row.n[NGX_CX_RP_COUNT] = ngx_http_cx_ch_int(&f[1]);
        row.n[NGX_CX_RP_HIST + b] = row.n[NGX_CX_RP_COUNT];
        break;

    case NGX_HTTP_CX_CH_COMMENTS:
        ngx_memzero(&rec, sizeof(ngx_cx_record_t));

        rec.survey.data = f[0].data;
        rec.survey.len = f[0].len;
        rec.type = ngx_cx_type_from_name((char *) f[1].data, f[1].len);
        rec.touchpoint.data = f[2].data;
        rec.touchpoint.len = f[2].len;
        rec.commented_at_ms = ngx_http_cx_ch_int(&f[3]);
        v = ngx_http_cx_ch_int(&f[4]);
        rec.score = (v == -1000) ? 0 : (int) v;
        rec.comment.data = f[5].data;
        rec.comment.len = f[5].len;

        return ngx_http_cx_report_add_comment(ctx->sum, &rec);

    case NGX_HTTP_CX_CH_NODES:
        return ngx_http_cx_report_add_node(ctx->sum, &f[0],
                                           ngx_http_cx_ch_int(&f[1]),
                                           ngx_http_cx_ch_int(&f[2]));

    default: /* NGX_HTTP_CX_CH_ALERTS */
        ngx_memzero(&a, sizeof(ngx_cx_alert_t));

        a.state = (f[0].len && f[0].data[0] == 'a') ? NGX_CX_ALERT_ACKNOWLEDGED
                  : (f[0].len && f[0].data[0] == 'r') ? NGX_CX_ALERT_RESOLVED
                  : NGX_CX_ALERT_OPEN;
        a.sent = (unsigned) ngx_http_cx_ch_int(&f[1]);
        a.failed = (unsigned) ngx_http_cx_ch_int(&f[2]);
        a.levels = (unsigned) ngx_http_cx_ch_int(&f[3]);
        count = ngx_http_cx_ch_int(&f[4]);

        {
        const char                  *status;
        ngx_http_cx_alert_counts_t  *c;

        c = ngx_http_cx_report_alert_counts(ctx->sum);
        status = ngx_cx_alert_status(&a);

        switch (status[0]) {
        case 'o': c->open += count; break;
        case 'a': c->acknowledged += count; break;
        case 'r': c->resolved += count; break;
        case 'e': c->escalated += count; break;
        case 'f': c->failed += count; break;
        }
        }

        return NGX_OK;
    }

    len = ngx_cx_rollup_row_encode(val, k.kind, &row);
    if (len == 0) {
        return NGX_OK;
    }

    return ngx_http_cx_report_add_row(ctx->sum, &k, val, len);
}


static int64_t
ngx_http_cx_ch_int(ngx_str_t *f)
{
    u_char    *p;
    int64_t    v;
    ngx_int_t  neg;

    p = f->data;
    neg = (f->len && *p == '-');
    v = 0;

    for (p += neg; p < f->data + f->len && *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
    }

    return neg ? -v : v;
}


/* TabSeparated's escapes, in place; the new length */

static size_t
ngx_http_cx_ch_unescape(u_char *p, size_t len)
{
    u_char  *s, *d, *end;

    end = p + len;
    d = p;

    for (s = p; s < end; s++) {
        if (*s != '\\' || s + 1 == end) {
            *d++ = *s;
            continue;
        }

        switch (*++s) {
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case '0': *d++ = '\0'; break;
        default:  *d++ = *s; break;         /* \\ \' and the rest */
        }
    }

    return d - p;
}


static void
ngx_http_cx_ch_fail(ngx_http_cx_ch_ctx_t *ctx, const char *what,
    ngx_str_t *detail)
{
    u_char  *p, *q, *end;

    if (ctx->status) {
        return;                     /* the first reason is the one told */
    }

    ctx->status = NGX_HTTP_BAD_GATEWAY;

    end = ctx->error + sizeof(ctx->error) - 1;
    p = ngx_snprintf(ctx->error, end - ctx->error, "ClickHouse %s", what);

    /* its first line, printable ASCII: it says why */
    if (detail && detail->len) {
        p = ngx_snprintf(p, end - p, ": ");

        for (q = detail->data;
             q < detail->data + detail->len && *q != '\n' && p < end;
             q++)
        {
            *p++ = (*q >= 0x20 && *q < 0x7f) ? *q : '?';
        }
    }

    *p = '\0';

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "cx_report source=clickhouse: %s", ctx->error);
}


static void
ngx_http_cx_ch_finish(ngx_http_cx_ch_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->r;

    if (ctx->status) {
        rc = ngx_http_cx_send_error(r, ctx->status, (char *) ctx->error);

    } else {
        rc = ngx_http_cx_report_end(r, ctx->sum);
    }

    ngx_http_finalize_request(r, rc);
}


/* the request is gone (its pool destroyed): no answer may come back to it */

static void
ngx_http_cx_ch_cleanup(void *data)
{
    ngx_http_cx_ch_ctx_t *ctx = data;

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_CX_CH_QUERIES; i++) {
        if (ctx->q[i].post) {
            ngx_http_cx_post_cancel(ctx->q[i].post);
            ctx->q[i].post = NULL;
        }
    }
}


/* ---- the exports ---- */

static ngx_int_t
ngx_http_cx_ch_export(ngx_http_cx_ch_ctx_t *ctx, ngx_flag_t ndjson,
    unsigned flags)
{
    u_char              *p;
    ngx_str_t            sql;
    ngx_http_request_t  *r;

    r = ctx->r;
    ctx->ndjson = ndjson;
    ctx->flags = flags;
    ctx->q[0].ctx = ctx;
    ctx->q[0].kind = NGX_HTTP_CX_CH_EXPORT;

    ngx_http_cx_writer_init(&ctx->w, r->pool, NGX_HTTP_CX_CH_EXPORT_BUF);

    if (ndjson || r->method == NGX_HTTP_HEAD) {
        if (ngx_http_cx_ch_page(ctx) != NGX_OK) {
            return ngx_http_cx_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                          (char *) ctx->error);
        }

        r->main->count++;

        return NGX_DONE;
    }

    ctx->cols = ngx_palloc(r->pool, sizeof(ngx_cx_export_columns_t));
    p = ngx_pnalloc(r->pool, 512 + ctx->where.len);
    if (ctx->cols == NULL || p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cx_export_columns_init(ctx->cols);

    /* the keys hex-encoded, as a page's are: any bytes survive */
    sql.data = p;
    p = ngx_sprintf(p,
        "SELECT DISTINCT survey, touchpoint, hex(arrayJoin(attr_keys)) "
        "FROM %V.responses FINAL WHERE 1%V FORMAT TabSeparated",
        &ctx->fw->database, &ctx->where);
    sql.len = p - sql.data;

    return ngx_http_cx_ch_ask(ctx, &sql, ngx_http_cx_ch_keyed);
}


/* The CSV's columns are known: the first page. */

static void
ngx_http_cx_ch_keyed(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_ch_query_t *q = data;

    ngx_http_request_t    *r;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = q->ctx;
    r = ctx->r;

    if (ngx_http_cx_ch_read(q, status, error, NGX_HTTP_CX_CH_KEYS,
                            "answered what is not a key set")
        == NGX_OK
        && ngx_http_cx_ch_page(ctx) == NGX_OK)
    {
        return;
    }

    ngx_http_finalize_request(r, ngx_http_cx_send_error(r,
                              ctx->status ? ctx->status
                                          : NGX_HTTP_BAD_GATEWAY,
                              (char *) ctx->error));
}


/* survey, touchpoint, a key (hex): the key, if the filters want them */

static ngx_int_t
ngx_http_cx_ch_key_row(ngx_http_cx_ch_ctx_t *ctx, ngx_str_t *f)
{
    ngx_cx_record_t  rec;
    u_char           key[NGX_CX_ATTR_KEY_MAX];

    if (f[2].len == 0 || f[2].len / 2 > NGX_CX_ATTR_KEY_MAX
        || ngx_http_cx_ch_unhex(key, &f[2], f[2].len / 2) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the dates and node are the query's; survey and touchpoint are here */
    ngx_memzero(&rec, sizeof(ngx_cx_record_t));
    rec.survey.data = f[0].data;
    rec.survey.len = f[0].len;
    rec.touchpoint.data = f[1].data;
    rec.touchpoint.len = f[1].len;
    rec.issued_at_ms = ctx->filters.from_ms;

    if (ngx_http_cx_report_wanted(&ctx->filters, &rec)) {
        ngx_cx_export_columns_add_key(ctx->cols, key, f[2].len / 2);
    }

    return NGX_OK;
}


/* Asks for the next page: the responses after the last id sent. */

static ngx_int_t
ngx_http_cx_ch_page(ngx_http_cx_ch_ctx_t *ctx)
{
    u_char     *p;
    ngx_str_t   sql;

    p = ngx_pnalloc(ctx->r->pool, 2048 + ctx->where.len);
    if (p == NULL) {
        ngx_http_cx_ch_fail(ctx, "internal error", NULL);
        return NGX_ERROR;
    }

    sql.data = p;
    p = ngx_sprintf(p,
        "SELECT id, issued_at_ms, displayed_at_ms, answered_at_ms, "
        "commented_at_ms, dismissed_at_ms, survey, type, touchpoint, stage, "
        "ifNull(score, -1000), ifNull(previous_score, -1000), comment, "
        "visitor, lang, path, "
        "arrayStringConcat(arrayMap(x -> hex(x), attr_keys), ','), "
        "arrayStringConcat(arrayMap(x -> hex(x), attr_values), ','), "
        "displayed, answered, commented, dismissed, followup, "
        "arrayStringConcat(arrayMap(x -> toString(x), attr_numeric)) "
        "FROM %V.responses FINAL WHERE id > '%s'%V "
        "ORDER BY id LIMIT %ui FORMAT TabSeparated",
        &ctx->fw->database, ctx->last, &ctx->where, ctx->fw->batch);
    sql.len = p - sql.data;

    ctx->page_rows = 0;

    if (ngx_http_cx_post(&ctx->fw->target, NULL, &ctx->fw->auth, &sql,
                         NGX_HTTP_CX_CH_MAX, NGX_HTTP_CX_CH_TIMEOUT,
                         ngx_http_cx_ch_paged, &ctx->q[0],
                         ctx->r->connection->log, &ctx->q[0].post)
        != NGX_OK)
    {
        ngx_http_cx_ch_fail(ctx, "could not start the request", NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_cx_ch_paged(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_ch_query_t *q = data;

    ngx_int_t              rc;
    ngx_str_t             *body;
    ngx_http_request_t    *r;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = q->ctx;
    r = ctx->r;
    body = ngx_http_cx_ch_answer(q, status, error);

    if (body) {
        if (!ctx->started) {
            rc = ngx_http_cx_export_headers(r, ctx->ndjson);

            if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
                ngx_http_finalize_request(r, rc);
                return;
            }

            ctx->started = 1;

            if (!ctx->ndjson
                && ngx_cx_export_csv_header(ngx_http_cx_writer_sink, &ctx->w,
                                            ctx->cols, ctx->flags)
                   != 0)
            {
                ngx_http_finalize_request(r, NGX_ERROR);
                return;
            }
        }

        if (ngx_http_cx_ch_rows(ctx, NGX_HTTP_CX_CH_EXPORT, body) != NGX_OK
            || ctx->w.error)
        {
            ngx_http_cx_ch_fail(ctx, "answered what is not an export", NULL);

        } else if (ctx->page_rows < ctx->fw->batch) {
            ctx->finished = 1;

            if (ngx_http_cx_writer_end(&ctx->w) != NGX_OK) {
                ngx_http_finalize_request(r, NGX_ERROR);
                return;
            }
        }
    }

    if (ctx->status) {
        if (!ctx->started) {
            ngx_http_finalize_request(r, ngx_http_cx_send_error(r,
                                      ctx->status, (char *) ctx->error));
            return;
        }

        /* half sent: cut short, so the client can tell */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cx_report source=clickhouse: export cut short after "
                      "%ui rows", ctx->rows);
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    rc = ngx_http_cx_ch_export_send(ctx);

    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Sends what the writer holds; then the next page, or the end.  NGX_AGAIN
 * while waiting (for the client, or for ClickHouse), else the request's
 * final code.
 */

static ngx_int_t
ngx_http_cx_ch_export_send(ngx_http_cx_ch_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->r;

    rc = ngx_http_cx_writer_flush(&ctx->w, r);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_AGAIN) {
        if (ngx_http_cx_export_wait(r) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->waiting = 1;
        r->write_event_handler = ngx_http_cx_ch_export_writer;
        return NGX_AGAIN;
    }

    if (ctx->finished) {
        return NGX_OK;
    }

    if (ngx_http_cx_ch_page(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_http_cx_ch_export_writer(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_pool_cleanup_t    *cln;
    ngx_http_cx_ch_ctx_t  *ctx;

    c = r->connection;

    if (c->write->timedout) {
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    ctx = NULL;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_cx_ch_cleanup) {
            ctx = cln->data;
            break;
        }
    }

    if (ctx == NULL || !ctx->waiting) {
        return;                 /* a page is on its way */
    }

    ctx->waiting = 0;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    rc = ngx_http_cx_ch_export_send(ctx);

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, rc);
    }
}


/* One response of the page, as a node's export writes it. */

static ngx_int_t
ngx_http_cx_ch_export_row(ngx_http_cx_ch_ctx_t *ctx, ngx_str_t *f)
{
    int               rc;
    u_char           *attrs, *p, *end, *kc, *vc, *kend, *vend;
    size_t            n, room;
    int64_t           v;
    ngx_str_t         hk, hv;
    ngx_cx_record_t   rec;
    u_char            id[NGX_CX_PROMPT_ID_LEN];
    u_char            key[NGX_CX_ATTR_KEY_MAX];

    ctx->page_rows++;

    if (f[0].len != 2 * NGX_CX_PROMPT_ID_LEN
        || ngx_http_cx_ch_unhex(id, &f[0], NGX_CX_PROMPT_ID_LEN) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the next page starts after it, whether it passes the filters or not */
    ngx_memcpy(ctx->last, f[0].data, f[0].len);
    ctx->last[f[0].len] = '\0';

    ngx_memzero(&rec, sizeof(ngx_cx_record_t));

    rec.issued_at_ms = ngx_http_cx_ch_int(&f[1]);
    rec.displayed_at_ms = ngx_http_cx_ch_int(&f[2]);
    rec.answered_at_ms = ngx_http_cx_ch_int(&f[3]);
    rec.commented_at_ms = ngx_http_cx_ch_int(&f[4]);
    rec.dismissed_at_ms = ngx_http_cx_ch_int(&f[5]);
    rec.survey.data = f[6].data;
    rec.survey.len = f[6].len;
    rec.type = ngx_cx_type_from_name((char *) f[7].data, f[7].len);
    rec.touchpoint.data = f[8].data;
    rec.touchpoint.len = f[8].len;
    rec.stage = ngx_cx_stage_from_name((char *) f[9].data, f[9].len);

    v = ngx_http_cx_ch_int(&f[10]);
    rec.score = (v == -1000) ? 0 : (int) v;
    v = ngx_http_cx_ch_int(&f[11]);
    rec.has_previous = (v != -1000);
    rec.previous_score = rec.has_previous ? (int) v : 0;

    rec.comment.data = f[12].data;
    rec.comment.len = f[12].len;

    if (f[13].len != 2 * NGX_CX_VISITOR_ID_LEN
        || ngx_http_cx_ch_unhex(rec.visitor, &f[13], NGX_CX_VISITOR_ID_LEN)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rec.lang.data = f[14].data;
    rec.lang.len = f[14].len;
    rec.path.data = f[15].data;
    rec.path.len = f[15].len;

    if (ngx_http_cx_ch_int(&f[18])) {
        rec.flags |= NGX_CX_REC_DISPLAYED;
    }
    if (ngx_http_cx_ch_int(&f[19])) {
        rec.flags |= NGX_CX_REC_ANSWERED;
    }
    if (ngx_http_cx_ch_int(&f[20])) {
        rec.flags |= NGX_CX_REC_COMMENTED;
    }
    if (ngx_http_cx_ch_int(&f[21])) {
        rec.flags |= NGX_CX_REC_DISMISSED;
    }

    rec.followup.data = f[22].data;
    rec.followup.len = f[22].len;

    /* attr_numeric, "0110": a digit per pair */
    for (n = 0; n < f[23].len && n < 64; n++) {
        if (f[23].data[n] == '1') {
            rec.attr_numbers |= (uint64_t) 1 << n;
        }
    }

    if (!ngx_http_cx_report_wanted(&ctx->filters, &rec)) {
        return NGX_OK;
    }

    /* the attributes: "hex,hex,..." keys and values, made a blob again */
    room = f[16].len / 2 + f[17].len / 2 + 3 * (f[16].len / 2 + 1);
    attrs = ngx_pnalloc(ctx->r->pool, room);
    if (attrs == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    kc = f[16].data;
    kend = kc + f[16].len;
    vc = f[17].data;
    vend = vc + f[17].len;

    while (kc < kend) {
        p = ngx_strlchr(kc, kend, ',');
        hk.data = kc;
        hk.len = (p ? p : kend) - kc;
        kc = p ? p + 1 : kend;

        end = vc < vend ? ngx_strlchr(vc, vend, ',') : NULL;
        hv.data = vc;
        hv.len = vc < vend ? (size_t) ((end ? end : vend) - vc) : 0;
        vc = end ? end + 1 : vend;

        if (hk.len == 0 || hk.len / 2 > NGX_CX_ATTR_KEY_MAX
            || ngx_http_cx_ch_unhex(key, &hk, hk.len / 2) != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* the value decoded in place: hex is twice its bytes */
        if (ngx_http_cx_ch_unhex(hv.data, &hv, hv.len / 2) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = (int) ngx_cx_attrs_put(attrs + n, room - n, (char *) key,
                                    hk.len / 2, (char *) hv.data,
                                    hv.len / 2);
        if (rc == 0) {
            return NGX_ERROR;
        }

        n += rc;
    }

    rec.attrs.data = attrs;
    rec.attrs.len = n;

    ctx->rows++;

    rc = ctx->ndjson ? ngx_cx_export_ndjson(ngx_http_cx_writer_sink, &ctx->w,
                                            id, &rec)
                     : ngx_cx_export_csv(ngx_http_cx_writer_sink, &ctx->w,
                                         id, &rec, ctx->cols);

    return (rc == 0) ? NGX_OK : NGX_ERROR;
}


/* n bytes from 2n hex digits (in place is fine: dst never passes src) */

static ngx_int_t
ngx_http_cx_ch_unhex(u_char *dst, ngx_str_t *hex, size_t n)
{
    size_t     i;
    ngx_int_t  hi, lo;

    if (hex->len != 2 * n) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        hi = ngx_hextoi(&hex->data[2 * i], 1);
        lo = ngx_hextoi(&hex->data[2 * i + 1], 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return NGX_ERROR;
        }

        dst[i] = (u_char) (hi * 16 + lo);
    }

    return NGX_OK;
}


/* ---- comments.json ---- */

ngx_int_t
ngx_http_cx_report_clickhouse_comments(ngx_http_request_t *r,
    ngx_http_cx_comments_t *c, ngx_uint_t scan)
{
    u_char                *p;
    ngx_int_t              rc;
    ngx_str_t              sql;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = ngx_http_cx_ch_create(r, &c->filters, &rc);
    if (ctx == NULL) {
        return rc;
    }

    ctx->comments = c;
    ctx->scan = scan;

    p = ngx_pnalloc(r->pool, 1024 + ctx->where.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sql.data = p;
    p = ngx_sprintf(p,
        "SELECT id, commented_at_ms, answered_at_ms, survey, type, "
        "touchpoint, stage, answered, ifNull(score, -1000), comment "
        "FROM %V.responses FINAL WHERE commented = 1 AND comment != ''",
        &ctx->fw->database);

    /* the cursor as the ids are written: lowercase hex */
    if (c->has_before) {
        p = ngx_cpymem(p, " AND id < '", sizeof(" AND id < '") - 1);
        p = ngx_hex_dump(p, c->before, NGX_CX_PROMPT_ID_LEN);
        *p++ = '\'';
    }

    p = ngx_sprintf(p, "%V ORDER BY id DESC LIMIT %ui FORMAT TabSeparated",
                    &ctx->where, scan);
    sql.len = p - sql.data;

    return ngx_http_cx_ch_ask(ctx, &sql, ngx_http_cx_ch_commented);
}


static void
ngx_http_cx_ch_commented(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_ch_query_t *q = data;

    ngx_int_t              rc;
    ngx_flag_t             more;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = q->ctx;

    if (ngx_http_cx_ch_read(q, status, error, NGX_HTTP_CX_CH_COMMENT_PAGE,
                            "answered what is not a page of comments")
        != NGX_OK)
    {
        rc = ngx_http_cx_send_error(ctx->r, ctx->status, (char *) ctx->error);

    } else {
        /* as many rows as asked for: there may be older ones */
        more = ctx->full || ctx->page_rows == ctx->scan;

        rc = ngx_http_cx_comments_end(ctx->r, ctx->comments,
                                      more ? ctx->next : NULL,
                                      ctx->page_rows,
                                      more && !ctx->full);
    }

    ngx_http_finalize_request(ctx->r, rc);
}


/* One commented response, newest first; after a full page, nothing. */

static ngx_int_t
ngx_http_cx_ch_comment_row(ngx_http_cx_ch_ctx_t *ctx, ngx_str_t *f)
{
    int64_t          v;
    ngx_int_t        rc;
    ngx_cx_record_t  rec;

    if (ctx->full) {
        return NGX_OK;
    }

    if (ngx_http_cx_ch_unhex(ctx->next, &f[0], NGX_CX_PROMPT_ID_LEN)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->page_rows++;

    ngx_memzero(&rec, sizeof(ngx_cx_record_t));

    rec.flags = NGX_CX_REC_COMMENTED;
    rec.commented_at_ms = ngx_http_cx_ch_int(&f[1]);
    rec.answered_at_ms = ngx_http_cx_ch_int(&f[2]);
    rec.survey.data = f[3].data;
    rec.survey.len = f[3].len;
    rec.type = ngx_cx_type_from_name((char *) f[4].data, f[4].len);
    rec.touchpoint.data = f[5].data;
    rec.touchpoint.len = f[5].len;
    rec.stage = ngx_cx_stage_from_name((char *) f[6].data, f[6].len);

    v = ngx_http_cx_ch_int(&f[8]);

    if (ngx_http_cx_ch_int(&f[7]) && v != -1000) {
        rec.flags |= NGX_CX_REC_ANSWERED;
        rec.score = (int) v;
    }

    rec.comment.data = f[9].data;
    rec.comment.len = f[9].len;

    rc = ngx_http_cx_comments_add(ctx->comments, ctx->next, &rec);

    if (rc == NGX_DONE) {
        ctx->full = 1;
        return NGX_OK;
    }

    return rc;
}


/* ---- segments.json ---- */

ngx_int_t
ngx_http_cx_report_clickhouse_segments(ngx_http_request_t *r,
    ngx_http_cx_segments_t *sg, ngx_http_cx_report_filters_t *f,
    ngx_uint_t by, ngx_str_t *key)
{
    u_char                *p;
    ngx_int_t              rc;
    ngx_str_t              sql;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = ngx_http_cx_ch_create(r, f, &rc);
    if (ctx == NULL) {
        return rc;
    }

    ctx->segments = sg;

    p = ngx_pnalloc(r->pool, 1024 + ctx->where.len + 2 * key->len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sql.data = p;
    p = ngx_sprintf(p, "SELECT survey, type, touchpoint, stage, "
                    "intDiv(answered_at_ms, 86400000) AS d, ");

    switch (by) {

    case NGX_HTTP_CX_BY_LANG:
        p = ngx_sprintf(p, "lang AS v");
        break;

    case NGX_HTTP_CX_BY_DEVICE:
        p = ngx_sprintf(p, "device AS v");
        break;

    default:
        /* the key's last value, "" without: arr[0] is the default */
        p = ngx_sprintf(p, "arrayReverse(attr_values)[indexOf("
                        "arrayReverse(attr_keys), '%V')] AS v", key);
        break;
    }

    p = ngx_sprintf(p, ", score, count() FROM %V.responses FINAL "
                    "WHERE answered = 1 AND isNotNull(score)%V "
                    "GROUP BY survey, type, touchpoint, stage, d, v, score "
                    "FORMAT TabSeparated", &ctx->fw->database, &ctx->where);
    sql.len = p - sql.data;

    return ngx_http_cx_ch_ask(ctx, &sql, ngx_http_cx_ch_segmented);
}


static void
ngx_http_cx_ch_segmented(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_ch_query_t *q = data;

    ngx_int_t              rc;
    ngx_http_cx_ch_ctx_t  *ctx;

    ctx = q->ctx;

    rc = ngx_http_cx_ch_read(q, status, error, NGX_HTTP_CX_CH_SEGMENTS,
                             "answered what is not segments") != NGX_OK
         ? ngx_http_cx_send_error(ctx->r, ctx->status, (char *) ctx->error)
         : ngx_http_cx_segments_send(ctx->r, ctx->segments);

    ngx_http_finalize_request(ctx->r, rc);
}


/* survey, type, touchpoint, stage, day, value, score, count */

static ngx_int_t
ngx_http_cx_ch_segment_row(ngx_http_cx_ch_ctx_t *ctx, ngx_str_t *f)
{
    int64_t          day, n;
    ngx_cx_record_t  rec;

    ngx_memzero(&rec, sizeof(ngx_cx_record_t));

    day = ngx_http_cx_ch_int(&f[4]);
    n = ngx_http_cx_ch_int(&f[7]);

    if (day < 0 || n <= 0) {
        return NGX_ERROR;
    }

    rec.flags = NGX_CX_REC_ANSWERED;
    rec.survey.data = f[0].data;
    rec.survey.len = f[0].len;
    rec.type = ngx_cx_type_from_name((char *) f[1].data, f[1].len);
    rec.touchpoint.data = f[2].data;
    rec.touchpoint.len = f[2].len;
    rec.stage = ngx_cx_stage_from_name((char *) f[3].data, f[3].len);
    rec.answered_at_ms = (uint64_t) day * 86400000;
    rec.score = (int) ngx_http_cx_ch_int(&f[6]);

    /* the days were SQL's: only survey= and touchpoint= are left */
    ctx->filters.from_ms = 0;
    ctx->filters.to_ms = (uint64_t) -1;

    if (!ngx_http_cx_report_wanted(&ctx->filters, &rec)) {
        return NGX_OK;
    }

    /* values are bounded as a node bounds them */
    f[5].len = ngx_min(f[5].len, NGX_CX_ATTR_VAL_MAX);

    return ngx_http_cx_segments_add(ctx->segments, &rec, &f[5], (uint64_t) n);
}
