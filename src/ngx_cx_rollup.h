/*
 * ngx_cx_rollup -- the report's aggregates, kept as records are committed.
 *
 * report.json reads these rows instead of the responses and the journey
 * events, so its cost grows with days x touchpoints, not with traffic.
 * Every row belongs to one UTC day; its key starts with that day, so a
 * range of days is one cursor walk and retention deletes from the front.
 *
 *   kind  key (besides the day)            value
 *   R     stage, type, survey, touchpoint   the responses' counts: displayed,
 *                                           dismissed, answered, commented,
 *                                           distribution, re-survey movement
 *   O     survey                            prompts offered
 *   V     stage, touchpoint                 visits, and a HyperLogLog sketch
 *                                           of the visitors (a stage's, or
 *                                           everyone's, is the union of
 *                                           these: the registers' maximum)
 *   C     survey, touchpoint                the ids of the latest responses
 *                                           commented (at most 20)
 *   T     from, to (touchpoints)            moves, first arrivals, and a
 *                                           histogram of the seconds between
 *   P     -                                 histogram of the seconds from
 *                                           first seen to the first visit of
 *                                           a purchase-stage touchpoint
 *
 * Responses count on the day of their latest event (ngx_cx_export_time,
 * the day the export shows and the filters use).  A response that changes
 * (displayed, then answered the next day) has its old contribution taken
 * away and the new one added in the same transaction, so the R rows always
 * equal a count over the stored responses.  Journey rows only grow; they
 * hold no visitor ids (a sketch register keeps the longest run of a hash's
 * zero bits, nothing that names anyone), so erasing a visitor leaves them.
 *
 * The sketch: HyperLogLog with 2^10 one-byte registers over a 64-bit mix of
 * the (random) visitor id; merged by taking each register's maximum, so a
 * range of days merges into one estimate.  Standard error 1.04/sqrt(1024),
 * about 3.3%; below about 2500 visitors the small-range correction
 * (linear counting) is used: a handful of visitors come out exact, a few
 * hundred within a few percent (t/unit/test_rollup.c measures it).
 *
 * Histograms: 100 buckets, four per doubling of the seconds (bucket 0 is
 * 0 s); a median or p90 read from them is within about 9% of the true one.
 *
 * Pure C99 over LMDB, no nginx headers: the module's commit thread,
 * cxctl and bench/mkstore share this code.
 */

#ifndef NGX_CX_ROLLUP_H
#define NGX_CX_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "ngx_cx_record.h"


#define NGX_CX_ROLLUP_RESPONSES   'R'
#define NGX_CX_ROLLUP_OFFERS      'O'
#define NGX_CX_ROLLUP_VISITS      'V'
#define NGX_CX_ROLLUP_COMMENTS    'C'
#define NGX_CX_ROLLUP_MOVES       'T'
#define NGX_CX_ROLLUP_PURCHASE    'P'

/* The format of the rows; "rollups" in meta holds it once they are built. */
#define NGX_CX_ROLLUP_VERSION     1
#define NGX_CX_META_ROLLUPS       "rollups"
#define NGX_CX_DB_ROLLUPS         "rollups"

#define NGX_CX_HLL_BITS           10
#define NGX_CX_HLL_REGS           (1 << NGX_CX_HLL_BITS)
#define NGX_CX_HIST_BUCKETS       100
#define NGX_CX_ROLLUP_COUNTERS    (2 + NGX_CX_HIST_BUCKETS)

/*
 * Values: fmt(1) n(1), then n counters, then the sketch (V rows): with fmt
 * 1 the first n counters, u64 each (the rest are 0); with fmt 2 the n that
 * are not 0, each as index(1) u64, indexes increasing.  The encoder writes
 * whichever is shorter (fmt 2 for a move's mostly empty histogram).
 */
#define NGX_CX_ROLLUP_FMT         1
#define NGX_CX_ROLLUP_FMT_SPARSE  2

/* day(4) kind(1) stage(1) type(1) a_len(1) a b_len(1) b */
#define NGX_CX_ROLLUP_KEY_MAX     (9 + 2 * NGX_CX_NAME_MAX)
/* fmt(1) n(1) n x u64, the sketch */
#define NGX_CX_ROLLUP_VAL_MAX     (2 + 8 * NGX_CX_ROLLUP_COUNTERS         \
                                   + NGX_CX_HLL_REGS)

/* R rows: the counters' places */
#define NGX_CX_RR_DISPLAYED       0
#define NGX_CX_RR_DISMISSED       1
#define NGX_CX_RR_ANSWERED        2
#define NGX_CX_RR_COMMENTED       3
#define NGX_CX_RR_DIST            4     /* 11: count per score */
#define NGX_CX_RR_RESURVEYED      15    /* answers after an earlier one */
#define NGX_CX_RR_CHANGE          16    /* sum of score - previous (signed) */
#define NGX_CX_RR_MOVES           17    /* 9: [previous band][band], 1-based
                                           bands less one */
#define NGX_CX_RR_COUNTERS        26

/* T rows */
#define NGX_CX_RT_MOVES           0
#define NGX_CX_RT_ARRIVALS        1
#define NGX_CX_RT_HIST            2

/* P rows */
#define NGX_CX_RP_COUNT           0
#define NGX_CX_RP_HIST            1

/* V rows */
#define NGX_CX_RV_VISITS          0


typedef struct ngx_cx_rollup_key_s {
    uint32_t        day;                /* days since 1970-01-01 (UTC) */
    unsigned char   kind;
    unsigned char   stage;
    unsigned char   type;
    unsigned char   a_len;
    unsigned char   b_len;
    unsigned char   a[NGX_CX_NAME_MAX];
    unsigned char   b[NGX_CX_NAME_MAX];
} ngx_cx_rollup_key_t;

typedef struct {
    uint64_t        n[NGX_CX_ROLLUP_COUNTERS];
    unsigned char   hll[NGX_CX_HLL_REGS];
} ngx_cx_rollup_row_t;


#define NGX_CX_ROLLUP_IDS         20

/* A visit as the rollups see it: the event and what the cookie told. */
typedef struct {
    uint64_t              at_ms;
    const unsigned char  *visitor;          /* NGX_CX_VISITOR_ID_LEN */
    unsigned              stage;
    const unsigned char  *touchpoint;
    size_t                touchpoint_len;
    const unsigned char  *from;             /* the previous touchpoint, */
    size_t                from_len;         /* or from_len 0 */
    uint32_t              from_seconds;     /* since the previous visit */
    unsigned              first_arrival;    /* first visit of touchpoint */
    int64_t               purchase_seconds; /* first purchase-stage visit:
                                               since first seen; else -1 */
} ngx_cx_rollup_visit_t;


/* ---- keys and rows ---- */

/* Encodes k into dst; returns the length, or 0 when a name is too long. */
size_t ngx_cx_rollup_key_encode(unsigned char dst[NGX_CX_ROLLUP_KEY_MAX],
    const ngx_cx_rollup_key_t *k);

/* 0, or -1 when the bytes are not exactly one key. */
int ngx_cx_rollup_key_decode(const unsigned char *src, size_t len,
    ngx_cx_rollup_key_t *k);

/* For retention: the last ms of the key's day; -1 for a short key. */
int ngx_cx_rollup_key_ms(const unsigned char *key, size_t len,
    uint64_t *at_ms);

/* Whether rows of this kind carry a sketch. */
int ngx_cx_rollup_has_hll(unsigned char kind);

/* Encodes row (of kind) into dst and returns the length; 0 when the row is
 * empty (all counters 0, no sketch register set): such rows are deleted. */
size_t ngx_cx_rollup_row_encode(unsigned char dst[NGX_CX_ROLLUP_VAL_MAX],
    unsigned char kind, const ngx_cx_rollup_row_t *row);

/* Adds (sign 1) or subtracts (-1) a stored value into row; sketches are
 * merged (maximum) when adding.  0, or -1 when the value is malformed. */
int ngx_cx_rollup_row_merge(ngx_cx_rollup_row_t *row, const unsigned char *val,
    size_t len, int sign);

/* Adds src into dst (sketch by maximum). */
void ngx_cx_rollup_row_add(ngx_cx_rollup_row_t *dst,
    const ngx_cx_rollup_row_t *src, int sign);


/* ---- sketch and histogram ---- */

void ngx_cx_hll_add(unsigned char hll[NGX_CX_HLL_REGS],
    const unsigned char *id, size_t len);
uint64_t ngx_cx_hll_estimate(const unsigned char hll[NGX_CX_HLL_REGS]);

/* The bucket of a number of seconds, and a bucket's middle in seconds. */
unsigned ngx_cx_hist_bucket(uint64_t seconds);
uint64_t ngx_cx_hist_seconds(unsigned bucket);

/* The q-quantile (0 < q <= 1) of a histogram, in seconds; 0 when empty. */
uint64_t ngx_cx_hist_quantile(const uint64_t *hist, double q);


/* ---- what a record or an event adds ---- */

/* The R row a record counts in (key) and what it adds (row, zeroed first). */
void ngx_cx_rollup_record(const ngx_cx_record_t *rec, ngx_cx_rollup_key_t *k,
    ngx_cx_rollup_row_t *row);


/*
 * A batch: rows changed by one transaction, merged in memory and written
 * once each.  Fixed room (no allocation after ngx_cx_rollup_batch_create):
 * when a new key finds it full, the caller writes it (flush) and goes on.
 */
#define NGX_CX_ROLLUP_BATCH       256
#define NGX_CX_ROLLUP_INDEX       1024  /* a power of two, > 2 x BATCH */

typedef struct {
    size_t                key_len;
    unsigned char         key[NGX_CX_ROLLUP_KEY_MAX];
    unsigned char         kind;
    ngx_cx_rollup_row_t   row;
} ngx_cx_rollup_slot_t;

typedef struct {
    unsigned              n;
    uint16_t              index[NGX_CX_ROLLUP_INDEX];  /* slot + 1, 0 free */
    ngx_cx_rollup_slot_t  slot[NGX_CX_ROLLUP_BATCH];
} ngx_cx_rollup_batch_t;

ngx_cx_rollup_batch_t *ngx_cx_rollup_batch_create(void);
void ngx_cx_rollup_batch_free(ngx_cx_rollup_batch_t *b);

/* Forgets the batch's rows (a transaction that was aborted). */
void ngx_cx_rollup_batch_reset(ngx_cx_rollup_batch_t *b);

/* Writes the batch into the rollups database and empties it: each row is
 * merged into the stored one (or deleted when it comes to nothing).
 * 0, or the LMDB error; a malformed stored row is replaced. */
int ngx_cx_rollup_flush(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi);

/* Adds a record's contribution (sign 1) or takes it away (-1). */
int ngx_cx_rollup_add_record(ngx_cx_rollup_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi, const ngx_cx_record_t *rec, int sign);

/*
 * Retention: a record about to be deleted leaves its row, unless that row
 * is of a day wholly before before_ms (deleted whole, see
 * ngx_cx_rollup_key_ms, so the row is not made again).
 */
int ngx_cx_rollup_prune_record(ngx_cx_rollup_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi, const ngx_cx_record_t *rec, uint64_t before_ms);

/* A response (id, the stored record) was commented: its id joins the
 * latest of its day, survey and touchpoint. */
int ngx_cx_rollup_comments(ngx_cx_rollup_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi, const unsigned char *id, const ngx_cx_record_t *rec);

/* The ids of a stored comments row: *n ids at *ids, oldest first; 0, or
 * -1 when malformed. */
int ngx_cx_rollup_ids(const unsigned char *val, size_t len,
    const unsigned char **ids, size_t *n);

int ngx_cx_rollup_add_visit(ngx_cx_rollup_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi, const ngx_cx_rollup_visit_t *v);
int ngx_cx_rollup_add_offer(ngx_cx_rollup_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi, uint64_t at_ms, const unsigned char *survey, size_t len);


/*
 * Builds every row again from the stored responses and events, in one
 * write transaction (txn): deletes the rollups database's rows, walks the
 * responses, then the events in time order, following each visitor
 * (by id, in memory) to derive moves and the time to purchase as the
 * cookie does live; then sets meta's NGX_CX_META_ROLLUPS.  0, or an LMDB
 * error, or ENOMEM.  *responses and *events (may be NULL) say how many
 * were read.
 */
int ngx_cx_rollup_rebuild(MDB_txn *txn, MDB_dbi responses, MDB_dbi events,
    MDB_dbi rollups, MDB_dbi meta, uint64_t *nresponses, uint64_t *nevents);

/* Sets *ready to whether meta says the rollups are built at this version;
 * returns 0 or the LMDB error. */
int ngx_cx_rollup_ready(MDB_txn *txn, MDB_dbi meta, int *ready);
int ngx_cx_rollup_mark_ready(MDB_txn *txn, MDB_dbi meta);


#endif /* NGX_CX_ROLLUP_H */
