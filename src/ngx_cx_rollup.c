/*
 * ngx_cx_rollup -- the report's aggregates; see ngx_cx_rollup.h.
 */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_cx_rollup.h"
#include "ngx_cx_score.h"       /* ngx_cx_band */
#include "ngx_cx_score.h"


#define NGX_CX_DAY_MS        86400000ULL

/* the module's journey kinds (ngx_http_cx.h), as stored */
#define NGX_CX_JOURNEY_VISIT  1
#define NGX_CX_JOURNEY_OFFER  2



static void ngx_cx_rollup_put_u64(unsigned char *p, uint64_t v);
static int ngx_cx_rollup_ids_merge(ngx_cx_rollup_row_t *row,
    const unsigned char *val, size_t len);
static uint64_t ngx_cx_rollup_get_u64(const unsigned char *p);
static ngx_cx_rollup_row_t *ngx_cx_rollup_row(ngx_cx_rollup_batch_t *b,
    MDB_txn *txn, MDB_dbi dbi, const ngx_cx_rollup_key_t *k, int *rc);


/* ---- keys ---- */

size_t
ngx_cx_rollup_key_encode(unsigned char dst[NGX_CX_ROLLUP_KEY_MAX],
    const ngx_cx_rollup_key_t *k)
{
    unsigned char  *p;

    if (k->a_len > NGX_CX_NAME_MAX || k->b_len > NGX_CX_NAME_MAX) {
        return 0;
    }

    p = dst;
    *p++ = (unsigned char) (k->day >> 24);
    *p++ = (unsigned char) (k->day >> 16);
    *p++ = (unsigned char) (k->day >> 8);
    *p++ = (unsigned char) k->day;
    *p++ = k->kind;
    *p++ = k->stage;
    *p++ = k->type;
    *p++ = k->a_len;
    memcpy(p, k->a, k->a_len);
    p += k->a_len;
    *p++ = k->b_len;
    memcpy(p, k->b, k->b_len);
    p += k->b_len;

    return (size_t) (p - dst);
}


int
ngx_cx_rollup_key_decode(const unsigned char *src, size_t len,
    ngx_cx_rollup_key_t *k)
{
    size_t  at;

    if (len < 9) {
        return -1;
    }

    k->day = ((uint32_t) src[0] << 24) | ((uint32_t) src[1] << 16)
             | ((uint32_t) src[2] << 8) | src[3];
    k->kind = src[4];
    k->stage = src[5];
    k->type = src[6];
    k->a_len = src[7];

    at = 8;
    if (k->a_len > NGX_CX_NAME_MAX || at + k->a_len + 1 > len) {
        return -1;
    }

    memcpy(k->a, src + at, k->a_len);
    at += k->a_len;

    k->b_len = src[at++];
    if (k->b_len > NGX_CX_NAME_MAX || at + k->b_len != len) {
        return -1;
    }

    memcpy(k->b, src + at, k->b_len);

    return 0;
}


int
ngx_cx_rollup_key_ms(const unsigned char *key, size_t len, uint64_t *at_ms)
{
    uint64_t  day;

    if (len < 9) {
        return -1;
    }

    day = ((uint64_t) key[0] << 24) | ((uint64_t) key[1] << 16)
          | ((uint64_t) key[2] << 8) | key[3];

    *at_ms = (day + 1) * NGX_CX_DAY_MS - 1;

    return 0;
}


int
ngx_cx_rollup_has_hll(unsigned char kind)
{
    return kind == NGX_CX_ROLLUP_VISITS;
}


/* ---- rows ---- */

static void
ngx_cx_rollup_put_u64(unsigned char *p, uint64_t v)
{
    int  i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char) v;
        v >>= 8;
    }
}


/* a report reads thousands of rows: one load and a byte swap each */

static uint64_t
ngx_cx_rollup_get_u64(const unsigned char *p)
{
    uint64_t  v;

    memcpy(&v, p, sizeof(v));

    return be64toh(v);
}


/* fmt(1) n(1) n x u64 [sketch]: trailing zero counters are left out */

size_t
ngx_cx_rollup_row_encode(unsigned char dst[NGX_CX_ROLLUP_VAL_MAX],
    unsigned char kind, const ngx_cx_rollup_row_t *row)
{
    int             hll, any;
    size_t          i, n, k;
    unsigned char  *p;

    if (kind == NGX_CX_ROLLUP_COMMENTS) {
        /* fmt(1) n(1) n x id, oldest first */
        n = (size_t) row->n[0];
        if (n == 0) {
            return 0;
        }

        dst[0] = NGX_CX_ROLLUP_FMT;
        dst[1] = (unsigned char) n;
        memcpy(dst + 2, row->hll, n * NGX_CX_PROMPT_ID_LEN);

        return 2 + n * NGX_CX_PROMPT_ID_LEN;
    }

    n = NGX_CX_ROLLUP_COUNTERS;
    while (n > 0 && row->n[n - 1] == 0) {
        n--;
    }

    hll = ngx_cx_rollup_has_hll(kind);
    any = 0;

    if (hll) {
        for (i = 0; i < NGX_CX_HLL_REGS && !any; i++) {
            any = (row->hll[i] != 0);
        }
    }

    if (n == 0 && !any) {
        return 0;
    }

    /* a move's histogram is mostly zeros: then only the others, indexed */
    for (i = 0, k = 0; i < n; i++) {
        k += (row->n[i] != 0);
    }

    p = dst;

    if (9 * k < 8 * n) {
        *p++ = NGX_CX_ROLLUP_FMT_SPARSE;
        *p++ = (unsigned char) k;

        for (i = 0; i < n; i++) {
            if (row->n[i]) {
                *p++ = (unsigned char) i;
                ngx_cx_rollup_put_u64(p, row->n[i]);
                p += 8;
            }
        }

    } else {
        *p++ = NGX_CX_ROLLUP_FMT;
        *p++ = (unsigned char) n;

        for (i = 0; i < n; i++) {
            ngx_cx_rollup_put_u64(p, row->n[i]);
            p += 8;
        }
    }

    if (hll) {
        memcpy(p, row->hll, NGX_CX_HLL_REGS);
        p += NGX_CX_HLL_REGS;
    }

    return (size_t) (p - dst);
}


int
ngx_cx_rollup_row_merge(ngx_cx_rollup_row_t *row, const unsigned char *val,
    size_t len, int sign)
{
    size_t    i, n, at, width;
    uint64_t  v;

    if (len < 2
        || (val[0] != NGX_CX_ROLLUP_FMT && val[0] != NGX_CX_ROLLUP_FMT_SPARSE))
    {
        return -1;
    }

    n = val[1];
    width = (val[0] == NGX_CX_ROLLUP_FMT) ? 8 : 9;

    if (n > NGX_CX_ROLLUP_COUNTERS
        || (len != 2 + width * n && len != 2 + width * n + NGX_CX_HLL_REGS))
    {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (width == 8) {
            at = i;
            v = ngx_cx_rollup_get_u64(val + 2 + 8 * i);

        } else {
            /* indexed: in increasing order, each counter at most once */
            at = val[2 + 9 * i];
            if (at >= NGX_CX_ROLLUP_COUNTERS
                || (i && at <= val[2 + 9 * (i - 1)]))
            {
                return -1;
            }
            v = ngx_cx_rollup_get_u64(val + 3 + 9 * i);
        }

        if (sign > 0) {
            row->n[at] += v;
        } else {
            row->n[at] -= v;
        }
    }

    if (len == 2 + width * n + NGX_CX_HLL_REGS && sign > 0) {
        const unsigned char  *src = val + 2 + width * n;
        unsigned char        *dst = row->hll;
        unsigned char         r;

        /* a register holds a rank, at most 64 - bits + 1: a damaged one is
         * taken as that (the estimate only grows), never as more */
        for (i = 0; i < NGX_CX_HLL_REGS; i++) {
            r = src[i] < 65 - NGX_CX_HLL_BITS ? src[i] : 65 - NGX_CX_HLL_BITS;
            dst[i] = r > dst[i] ? r : dst[i];
        }
    }

    return 0;
}


void
ngx_cx_rollup_row_add(ngx_cx_rollup_row_t *dst, const ngx_cx_rollup_row_t *src,
    int sign)
{
    size_t  i;

    for (i = 0; i < NGX_CX_ROLLUP_COUNTERS; i++) {
        dst->n[i] += (sign > 0) ? src->n[i] : (uint64_t) 0 - src->n[i];
    }

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        if (src->hll[i] > dst->hll[i]) {
            dst->hll[i] = src->hll[i];
        }
    }
}


/*
 * A comments row keeps the ids of the latest responses commented on that
 * day (ngx_cx_rollup_comments): in the batch's row, n[0] ids in hll[],
 * oldest first.  The stored ones are older than the batch's, which keeps
 * the newest.
 */

static int
ngx_cx_rollup_ids_merge(ngx_cx_rollup_row_t *row, const unsigned char *val,
    size_t len)
{
    size_t                keep, have, n;
    const unsigned char  *ids;
    unsigned char         tmp[NGX_CX_ROLLUP_IDS * NGX_CX_PROMPT_ID_LEN];

    if (ngx_cx_rollup_ids(val, len, &ids, &n) != 0) {
        return -1;
    }

    have = (size_t) row->n[0];
    keep = NGX_CX_ROLLUP_IDS - have;
    if (keep > n) {
        keep = n;
    }

    memcpy(tmp, ids + (n - keep) * NGX_CX_PROMPT_ID_LEN,
           keep * NGX_CX_PROMPT_ID_LEN);
    memcpy(tmp + keep * NGX_CX_PROMPT_ID_LEN, row->hll,
           have * NGX_CX_PROMPT_ID_LEN);
    memcpy(row->hll, tmp, (keep + have) * NGX_CX_PROMPT_ID_LEN);
    row->n[0] = keep + have;

    return 0;
}


int
ngx_cx_rollup_ids(const unsigned char *val, size_t len,
    const unsigned char **ids, size_t *n)
{
    if (len < 2 || val[0] != NGX_CX_ROLLUP_FMT || val[1] > NGX_CX_ROLLUP_IDS
        || len != 2 + (size_t) val[1] * NGX_CX_PROMPT_ID_LEN)
    {
        return -1;
    }

    *ids = val + 2;
    *n = val[1];

    return 0;
}


int
ngx_cx_rollup_comments(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    const unsigned char *id, const ngx_cx_record_t *rec)
{
    int                   rc;
    ngx_cx_rollup_row_t  *row, tmp;
    ngx_cx_rollup_key_t   k;

    ngx_cx_rollup_record(rec, &k, &tmp);
    k.kind = NGX_CX_ROLLUP_COMMENTS;
    k.stage = 0;
    k.type = 0;

    row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
    if (row == NULL) {
        return rc;
    }

    if (row->n[0] == NGX_CX_ROLLUP_IDS) {
        memmove(row->hll, row->hll + NGX_CX_PROMPT_ID_LEN,
                (NGX_CX_ROLLUP_IDS - 1) * NGX_CX_PROMPT_ID_LEN);
        row->n[0]--;
    }

    memcpy(row->hll + row->n[0] * NGX_CX_PROMPT_ID_LEN, id,
           NGX_CX_PROMPT_ID_LEN);
    row->n[0]++;

    return 0;
}


/* ---- the sketch ---- */

/* splitmix64's finaliser over the id's bytes: ids are random already, the
 * mix only makes a short or patterned id spread over the registers */

void
ngx_cx_hll_add(unsigned char hll[NGX_CX_HLL_REGS], const unsigned char *id,
    size_t len)
{
    size_t         i;
    uint64_t       h, w;
    unsigned char  rank;

    h = 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < len; i++) {
        h ^= id[i];
        h *= 0x100000001b3ULL;
    }

    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;

    i = (size_t) (h >> (64 - NGX_CX_HLL_BITS));
    w = (h << NGX_CX_HLL_BITS) | ((uint64_t) 1 << (NGX_CX_HLL_BITS - 1));

    rank = 1;
    while (!(w & 0x8000000000000000ULL)) {
        rank++;
        w <<= 1;
    }

    if (rank > hll[i]) {
        hll[i] = rank;
    }
}


uint64_t
ngx_cx_hll_estimate(const unsigned char hll[NGX_CX_HLL_REGS])
{
    size_t  i, zeros;
    double  m, sum, e;

    m = NGX_CX_HLL_REGS;
    sum = 0;
    zeros = 0;

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        /* a damaged register counts as the largest rank there can be */
        sum += 1.0 / (double) ((uint64_t) 1
                               << (hll[i] <= 65 - NGX_CX_HLL_BITS
                                   ? hll[i] : 65 - NGX_CX_HLL_BITS));
        zeros += (hll[i] == 0);
    }

    e = (0.7213 / (1.0 + 1.079 / m)) * m * m / sum;

    if (e <= 2.5 * m && zeros) {
        /* linear counting: m ln(m / zeros), without libm's log */
        double  x, y, t;
        int     k;

        x = m / (double) zeros;         /* >= 1 */
        k = 0;
        while (x > 1.5) {
            x /= 2.0;
            k++;
        }

        /* ln(x) for x in (0.75, 1.5]: atanh series of (x-1)/(x+1) */
        y = (x - 1.0) / (x + 1.0);
        t = y;
        e = 0;
        for (i = 1; i < 40; i += 2) {
            e += t / (double) i;
            t *= y * y;
        }

        e = m * (2.0 * e + k * 0.69314718055994530942);
    }

    return (uint64_t) (e + 0.5);
}


/* ---- histograms: four buckets per doubling ---- */

/* 2^(q/4) and 2^((q+0.5)/4), in ten-thousandths */
static const uint64_t  ngx_cx_hist_step[4] = { 10000, 11892, 14142, 16818 };
static const uint64_t  ngx_cx_hist_mid[4] = { 10905, 12968, 15422, 18340 };


unsigned
ngx_cx_hist_bucket(uint64_t seconds)
{
    unsigned  k, q, b;

    if (seconds == 0) {
        return 0;
    }

    if (seconds > ((uint64_t) 1 << 40)) {
        return NGX_CX_HIST_BUCKETS - 1;
    }

    k = 0;
    while ((seconds >> (k + 1)) != 0) {
        k++;
    }

    q = 0;
    while (q < 3 && seconds * 10000 >= ((uint64_t) 1 << k)
                                          * ngx_cx_hist_step[q + 1])
    {
        q++;
    }

    b = 1 + 4 * k + q;

    return b < NGX_CX_HIST_BUCKETS ? b : NGX_CX_HIST_BUCKETS - 1;
}


uint64_t
ngx_cx_hist_seconds(unsigned bucket)
{
    unsigned  k, q;

    if (bucket == 0) {
        return 0;
    }

    k = (bucket - 1) / 4;
    q = (bucket - 1) % 4;

    if (k == 0 && q == 0) {
        return 1;
    }

    return (((uint64_t) 1 << k) * ngx_cx_hist_mid[q] + 5000) / 10000;
}


uint64_t
ngx_cx_hist_quantile(const uint64_t *hist, double q)
{
    unsigned  b;
    uint64_t  total, want, seen;

    total = 0;
    for (b = 0; b < NGX_CX_HIST_BUCKETS; b++) {
        total += hist[b];
    }

    if (total == 0) {
        return 0;
    }

    want = (uint64_t) (q * (double) total);
    if ((double) want < q * (double) total) {
        want++;                         /* the ceiling */
    }

    if (want == 0) {
        want = 1;
    }

    seen = 0;
    for (b = 0; b < NGX_CX_HIST_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= want) {
            return ngx_cx_hist_seconds(b);
        }
    }

    return ngx_cx_hist_seconds(NGX_CX_HIST_BUCKETS - 1);
}


/* ---- contributions ---- */

void
ngx_cx_rollup_record(const ngx_cx_record_t *rec, ngx_cx_rollup_key_t *k,
    ngx_cx_rollup_row_t *row)
{
    int       from, to;
    uint64_t  at;

    memset(row, 0, sizeof(ngx_cx_rollup_row_t));

    at = rec->answered_at_ms ? rec->answered_at_ms
         : rec->displayed_at_ms ? rec->displayed_at_ms
         : rec->dismissed_at_ms ? rec->dismissed_at_ms
         : rec->issued_at_ms;

    k->day = (uint32_t) (at / NGX_CX_DAY_MS);
    k->kind = NGX_CX_ROLLUP_RESPONSES;
    k->stage = rec->stage;
    k->type = rec->type;
    k->a_len = (unsigned char) (rec->survey.len <= NGX_CX_NAME_MAX
                                ? rec->survey.len : NGX_CX_NAME_MAX);
    if (k->a_len) {
        memcpy(k->a, rec->survey.data, k->a_len);
    }
    k->b_len = (unsigned char) (rec->touchpoint.len <= NGX_CX_NAME_MAX
                                ? rec->touchpoint.len : NGX_CX_NAME_MAX);
    if (k->b_len) {
        memcpy(k->b, rec->touchpoint.data, k->b_len);
    }

    row->n[NGX_CX_RR_DISPLAYED] = !!(rec->flags & NGX_CX_REC_DISPLAYED);
    row->n[NGX_CX_RR_DISMISSED] = !!(rec->flags & NGX_CX_REC_DISMISSED);

    if (!(rec->flags & NGX_CX_REC_ANSWERED)
        || !ngx_cx_score_valid(rec->type, rec->score))
    {
        return;
    }

    row->n[NGX_CX_RR_ANSWERED] = 1;
    row->n[NGX_CX_RR_COMMENTED] = (rec->flags & NGX_CX_REC_COMMENTED)
                                  && rec->comment.len;
    row->n[NGX_CX_RR_DIST + rec->score] = 1;

    if (!rec->has_previous || !ngx_cx_score_valid(rec->type,
                                                  rec->previous_score))
    {
        return;
    }

    row->n[NGX_CX_RR_RESURVEYED] = 1;
    row->n[NGX_CX_RR_CHANGE] = (uint64_t) (int64_t) (rec->score
                                                     - rec->previous_score);

    from = ngx_cx_band(rec->type, rec->previous_score);
    to = ngx_cx_band(rec->type, rec->score);

    if (from && to) {
        row->n[NGX_CX_RR_MOVES + (from - 1) * 3 + (to - 1)] = 1;
    }
}


/* ---- the batch ---- */

ngx_cx_rollup_batch_t *
ngx_cx_rollup_batch_create(void)
{
    return calloc(1, sizeof(ngx_cx_rollup_batch_t));
}


void
ngx_cx_rollup_batch_reset(ngx_cx_rollup_batch_t *b)
{
    b->n = 0;
    memset(b->index, 0, sizeof(b->index));
}


void
ngx_cx_rollup_batch_free(ngx_cx_rollup_batch_t *b)
{
    free(b);
}


/*
 * The batch's row for k, added empty; a full batch is flushed first.  A
 * commit of thousands of visits looks its rows up thousands of times: the
 * slots are found through a hash index, not by comparing every key.
 */

static ngx_cx_rollup_row_t *
ngx_cx_rollup_row(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    const ngx_cx_rollup_key_t *k, int *rc)
{
    size_t                 len, i;
    uint32_t               h;
    unsigned char          key[NGX_CX_ROLLUP_KEY_MAX];
    ngx_cx_rollup_slot_t  *s;

    *rc = 0;

    len = ngx_cx_rollup_key_encode(key, k);
    if (len == 0) {
        return NULL;
    }

    h = 0x811c9dc5;
    for (i = 0; i < len; i++) {
        h = (h ^ key[i]) * 0x01000193;
    }

    for ( ;; ) {
        for (i = h & (NGX_CX_ROLLUP_INDEX - 1);
             b->index[i];
             i = (i + 1) & (NGX_CX_ROLLUP_INDEX - 1))
        {
            s = &b->slot[b->index[i] - 1];
            if (s->key_len == len && memcmp(s->key, key, len) == 0) {
                return &s->row;
            }
        }

        if (b->n < NGX_CX_ROLLUP_BATCH) {
            break;
        }

        *rc = ngx_cx_rollup_flush(b, txn, dbi);
        if (*rc != 0) {
            return NULL;
        }
    }

    b->index[i] = (uint16_t) (b->n + 1);

    s = &b->slot[b->n++];
    s->key_len = len;
    memcpy(s->key, key, len);
    s->kind = k->kind;
    memset(&s->row, 0, sizeof(ngx_cx_rollup_row_t));

    return &s->row;
}


int
ngx_cx_rollup_flush(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi)
{
    int                    rc;
    unsigned               i;
    MDB_val                key, val;
    ngx_cx_rollup_slot_t  *s;
    unsigned char          buf[NGX_CX_ROLLUP_VAL_MAX];

    for (i = 0; i < b->n; i++) {
        s = &b->slot[i];

        key.mv_data = s->key;
        key.mv_size = s->key_len;

        rc = mdb_get(txn, dbi, &key, &val);

        if (rc == 0) {
            /* a malformed stored row is replaced by this batch's */
            if (s->kind == NGX_CX_ROLLUP_COMMENTS) {
                (void) ngx_cx_rollup_ids_merge(&s->row, val.mv_data,
                                               val.mv_size);

            } else {
                (void) ngx_cx_rollup_row_merge(&s->row, val.mv_data,
                                               val.mv_size, 1);
            }

        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }

        val.mv_size = ngx_cx_rollup_row_encode(buf, s->kind, &s->row);
        val.mv_data = buf;

        if (val.mv_size == 0) {
            rc = mdb_del(txn, dbi, &key, NULL);
            if (rc != 0 && rc != MDB_NOTFOUND) {
                return rc;
            }
            continue;
        }

        rc = mdb_put(txn, dbi, &key, &val, 0);
        if (rc != 0) {
            return rc;
        }
    }

    ngx_cx_rollup_batch_reset(b);

    return 0;
}


int
ngx_cx_rollup_add_record(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    const ngx_cx_record_t *rec, int sign)
{
    int                   rc;
    ngx_cx_rollup_row_t  *row, add;
    ngx_cx_rollup_key_t   k;

    ngx_cx_rollup_record(rec, &k, &add);

    row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
    if (row == NULL) {
        return rc;
    }

    ngx_cx_rollup_row_add(row, &add, sign);

    return 0;
}


int
ngx_cx_rollup_prune_record(ngx_cx_rollup_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi, const ngx_cx_record_t *rec, uint64_t before_ms)
{
    int                   rc;
    ngx_cx_rollup_row_t  *row, add;
    ngx_cx_rollup_key_t   k;

    ngx_cx_rollup_record(rec, &k, &add);

    if (((uint64_t) k.day + 1) * NGX_CX_DAY_MS <= before_ms) {
        return 0;
    }

    row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
    if (row == NULL) {
        return rc;
    }

    ngx_cx_rollup_row_add(row, &add, -1);

    return 0;
}


int
ngx_cx_rollup_add_offer(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    uint64_t at_ms, const unsigned char *survey, size_t len)
{
    int                   rc;
    ngx_cx_rollup_row_t  *row;
    ngx_cx_rollup_key_t   k;

    memset(&k, 0, sizeof(ngx_cx_rollup_key_t));
    k.day = (uint32_t) (at_ms / NGX_CX_DAY_MS);
    k.kind = NGX_CX_ROLLUP_OFFERS;
    k.a_len = (unsigned char) (len <= NGX_CX_NAME_MAX ? len : NGX_CX_NAME_MAX);
    memcpy(k.a, survey, k.a_len);

    row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
    if (row == NULL) {
        return rc;
    }

    row->n[0]++;

    return 0;
}


int
ngx_cx_rollup_add_visit(ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    const ngx_cx_rollup_visit_t *v)
{
    int                   rc;
    size_t                tl;
    ngx_cx_rollup_row_t  *row;
    ngx_cx_rollup_key_t   k;

    tl = v->touchpoint_len <= NGX_CX_NAME_MAX ? v->touchpoint_len
                                               : NGX_CX_NAME_MAX;

    memset(&k, 0, sizeof(ngx_cx_rollup_key_t));
    k.day = (uint32_t) (v->at_ms / NGX_CX_DAY_MS);

    /* the touchpoint's visits and visitors */
    k.kind = NGX_CX_ROLLUP_VISITS;
    k.stage = (unsigned char) v->stage;
    k.a_len = (unsigned char) tl;
    memcpy(k.a, v->touchpoint, tl);

    row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
    if (row == NULL) {
        return rc;
    }

    row->n[NGX_CX_RV_VISITS]++;
    ngx_cx_hll_add(row->hll, v->visitor, NGX_CX_VISITOR_ID_LEN);

    /* moves and purchases are not per stage */
    k.stage = 0;

    /* the move here from the touchpoint before */
    if (v->from_len && v->from_len <= NGX_CX_NAME_MAX
        && (v->from_len != tl || memcmp(v->from, v->touchpoint, tl) != 0))
    {
        k.kind = NGX_CX_ROLLUP_MOVES;
        k.a_len = (unsigned char) v->from_len;
        memcpy(k.a, v->from, v->from_len);
        k.b_len = (unsigned char) tl;
        memcpy(k.b, v->touchpoint, tl);

        row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
        if (row == NULL) {
            return rc;
        }

        row->n[NGX_CX_RT_MOVES]++;
        row->n[NGX_CX_RT_ARRIVALS] += !!v->first_arrival;
        row->n[NGX_CX_RT_HIST + ngx_cx_hist_bucket(v->from_seconds)]++;

        k.a_len = 0;
        k.b_len = 0;
    }

    if (v->purchase_seconds >= 0) {
        k.kind = NGX_CX_ROLLUP_PURCHASE;
        k.a_len = 0;
        k.b_len = 0;

        row = ngx_cx_rollup_row(b, txn, dbi, &k, &rc);
        if (row == NULL) {
            return rc;
        }

        row->n[NGX_CX_RP_COUNT]++;
        row->n[NGX_CX_RP_HIST
               + ngx_cx_hist_bucket((uint64_t) v->purchase_seconds)]++;
    }

    return 0;
}


/* ---- the one-time build ---- */

/*
 * A visitor as the rebuild follows them: what the cookie holds live.
 * Touchpoints are numbered as they are first seen (names[]); a visitor's
 * visited set is a bitmask of the first 64, beyond which every visit counts
 * as a first arrival.
 */
typedef struct {
    unsigned char   id[NGX_CX_VISITOR_ID_LEN];
    unsigned char   used;
    unsigned char   stages;             /* bit s: stage s reached */
    uint16_t        last;               /* touchpoint number + 1, 0 none */
    uint32_t        first_seen;         /* unix seconds */
    uint32_t        last_at;
    uint64_t        visited;
} ngx_cx_rollup_follow_t;

typedef struct {
    ngx_cx_rollup_follow_t  *v;
    size_t                   slots;     /* a power of two */
    size_t                   used;
    unsigned                 ntp;
    unsigned char            tp_len[65535];
    unsigned char           *tp;        /* 65535 x NGX_CX_NAME_MAX */
} ngx_cx_rollup_world_t;


static ngx_cx_rollup_follow_t *
ngx_cx_rollup_follow(ngx_cx_rollup_world_t *w, const unsigned char *id)
{
    size_t                   i, h, slots;
    uint64_t                 x;
    ngx_cx_rollup_follow_t  *nv, *f;

    if (w->used * 4 >= w->slots * 3) {
        slots = w->slots ? w->slots * 2 : 1 << 16;
        nv = calloc(slots, sizeof(ngx_cx_rollup_follow_t));
        if (nv == NULL) {
            return NULL;
        }

        for (i = 0; i < w->slots; i++) {
            if (!w->v[i].used) {
                continue;
            }

            memcpy(&x, w->v[i].id, sizeof(x));
            h = (size_t) (x * 0x9e3779b97f4a7c15ULL >> 20) & (slots - 1);
            while (nv[h].used) {
                h = (h + 1) & (slots - 1);
            }
            nv[h] = w->v[i];
        }

        free(w->v);
        w->v = nv;
        w->slots = slots;
    }

    memcpy(&x, id, sizeof(x));
    h = (size_t) (x * 0x9e3779b97f4a7c15ULL >> 20) & (w->slots - 1);

    for ( ;; ) {
        f = &w->v[h];

        if (!f->used) {
            memset(f, 0, sizeof(ngx_cx_rollup_follow_t));
            memcpy(f->id, id, NGX_CX_VISITOR_ID_LEN);
            f->used = 1;
            w->used++;
            return f;
        }

        if (memcmp(f->id, id, NGX_CX_VISITOR_ID_LEN) == 0) {
            return f;
        }

        h = (h + 1) & (w->slots - 1);
    }
}


/* A touchpoint's number (1-based), added when new; 0 when there are too
 * many names to follow. */

static unsigned
ngx_cx_rollup_tp_number(ngx_cx_rollup_world_t *w, const unsigned char *name,
    size_t len)
{
    unsigned  i;

    for (i = 0; i < w->ntp; i++) {
        if (w->tp_len[i] == len
            && memcmp(w->tp + i * NGX_CX_NAME_MAX, name, len) == 0)
        {
            return i + 1;
        }
    }

    if (w->ntp == 65535) {
        return 0;
    }

    w->tp_len[w->ntp] = (unsigned char) len;
    memcpy(w->tp + w->ntp * NGX_CX_NAME_MAX, name, len);

    return ++w->ntp;
}


static int
ngx_cx_rollup_rebuild_event(ngx_cx_rollup_world_t *w,
    ngx_cx_rollup_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    const ngx_cx_journey_t *ev)
{
    unsigned                 tp;
    uint32_t                 now;
    uint64_t                 bit;
    ngx_cx_rollup_visit_t    v;
    ngx_cx_rollup_follow_t  *f;

    f = ngx_cx_rollup_follow(w, ev->visitor);
    if (f == NULL) {
        return ENOMEM;
    }

    now = (uint32_t) (ev->at_ms / 1000);

    if (f->first_seen == 0) {
        f->first_seen = now;
    }

    if (ev->kind == NGX_CX_JOURNEY_OFFER) {
        return ngx_cx_rollup_add_offer(b, txn, dbi, ev->at_ms, ev->name,
                                       ev->name_len);
    }

    if (ev->kind != NGX_CX_JOURNEY_VISIT) {
        return 0;
    }

    tp = ngx_cx_rollup_tp_number(w, ev->name, ev->name_len);
    bit = (tp >= 1 && tp <= 64) ? (uint64_t) 1 << (tp - 1) : 0;

    memset(&v, 0, sizeof(ngx_cx_rollup_visit_t));
    v.at_ms = ev->at_ms;
    v.visitor = ev->visitor;
    v.stage = ev->stage;
    v.touchpoint = ev->name;
    v.touchpoint_len = ev->name_len;
    v.first_arrival = (bit == 0 || !(f->visited & bit));
    v.purchase_seconds = -1;

    if (f->last) {
        v.from = w->tp + (f->last - 1) * NGX_CX_NAME_MAX;
        v.from_len = w->tp_len[f->last - 1];
        v.from_seconds = now >= f->last_at ? now - f->last_at : 0;
    }

    if (ev->stage == NGX_CX_STAGE_PURCHASE
        && !(f->stages & (1u << NGX_CX_STAGE_PURCHASE)))
    {
        v.purchase_seconds = now >= f->first_seen ? now - f->first_seen : 0;
    }

    f->visited |= bit;
    f->last = (uint16_t) tp;
    f->last_at = now;
    if (ev->stage <= 7) {
        f->stages |= (unsigned char) (1u << ev->stage);
    }

    return ngx_cx_rollup_add_visit(b, txn, dbi, &v);
}


/* What a rebuild carries from one entry to the next. */
typedef struct {
    MDB_txn                *txn;
    MDB_dbi                 rollups;
    ngx_cx_rollup_batch_t  *batch;
    ngx_cx_rollup_world_t  *world;
    uint64_t                read;
} ngx_cx_rollup_build_t;

typedef int (*ngx_cx_rollup_entry_pt)(ngx_cx_rollup_build_t *bd,
    MDB_val *key, MDB_val *val);


static int
ngx_cx_rollup_build_response(ngx_cx_rollup_build_t *bd, MDB_val *key,
    MDB_val *val)
{
    int              rc;
    ngx_cx_record_t  rec;

    if (ngx_cx_record_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return 0;                   /* unreadable: counted nowhere */
    }

    bd->read++;

    rc = ngx_cx_rollup_add_record(bd->batch, bd->txn, bd->rollups, &rec, 1);

    if (rc == 0 && (rec.flags & NGX_CX_REC_COMMENTED) && rec.comment.len
        && key->mv_size == NGX_CX_PROMPT_ID_LEN)
    {
        rc = ngx_cx_rollup_comments(bd->batch, bd->txn, bd->rollups,
                                    key->mv_data, &rec);
    }

    return rc;
}


static int
ngx_cx_rollup_build_event(ngx_cx_rollup_build_t *bd, MDB_val *key,
    MDB_val *val)
{
    ngx_cx_journey_t  ev;

    if (ngx_cx_journey_decode(key->mv_data, key->mv_size, val->mv_data,
                              val->mv_size, &ev)
        != 0)
    {
        return 0;
    }

    bd->read++;

    return ngx_cx_rollup_rebuild_event(bd->world, bd->batch, bd->txn,
                                       bd->rollups, &ev);
}


/* Every entry of dbi in key order through entry(); 0 or the error. */

static int
ngx_cx_rollup_build_walk(ngx_cx_rollup_build_t *bd, MDB_dbi dbi,
    ngx_cx_rollup_entry_pt entry)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(bd->txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        rc = entry(bd, &key, &val);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


int
ngx_cx_rollup_rebuild(MDB_txn *txn, MDB_dbi responses, MDB_dbi events,
    MDB_dbi rollups, MDB_dbi meta, uint64_t *nresponses, uint64_t *nevents)
{
    int                     rc;
    uint64_t                nr;
    ngx_cx_rollup_world_t  *w;
    ngx_cx_rollup_build_t   bd;

    bd.txn = txn;
    bd.rollups = rollups;
    bd.read = 0;
    nr = 0;

    rc = mdb_drop(txn, rollups, 0);
    if (rc != 0) {
        return rc;
    }

    bd.batch = ngx_cx_rollup_batch_create();
    w = calloc(1, sizeof(ngx_cx_rollup_world_t));
    if (w) {
        w->tp = malloc((size_t) 65535 * NGX_CX_NAME_MAX);
    }

    bd.world = w;

    if (bd.batch == NULL || w == NULL || w->tp == NULL) {
        rc = ENOMEM;

    } else {
        rc = ngx_cx_rollup_build_walk(&bd, responses,
                                      ngx_cx_rollup_build_response);
        nr = bd.read;
        bd.read = 0;
    }

    if (rc == 0) {
        rc = ngx_cx_rollup_build_walk(&bd, events, ngx_cx_rollup_build_event);
    }

    if (rc == 0) {
        rc = ngx_cx_rollup_flush(bd.batch, txn, rollups);
    }

    if (rc == 0) {
        rc = ngx_cx_rollup_mark_ready(txn, meta);
    }

    if (w) {
        free(w->v);
        free(w->tp);
        free(w);
    }

    ngx_cx_rollup_batch_free(bd.batch);

    if (nresponses) {
        *nresponses = nr;
    }

    if (nevents) {
        *nevents = bd.read;
    }

    return rc;
}


int
ngx_cx_rollup_ready(MDB_txn *txn, MDB_dbi meta, int *ready)
{
    int       rc;
    MDB_val   key, val;
    uint64_t  version;

    *ready = 0;

    key.mv_data = (void *) NGX_CX_META_ROLLUPS;
    key.mv_size = sizeof(NGX_CX_META_ROLLUPS) - 1;

    rc = mdb_get(txn, meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    *ready = (ngx_cx_counter_decode(val.mv_data, val.mv_size, &version) == 0
              && version == NGX_CX_ROLLUP_VERSION);

    return 0;
}


int
ngx_cx_rollup_mark_ready(MDB_txn *txn, MDB_dbi meta)
{
    MDB_val        key, val;
    unsigned char  buf[NGX_CX_COUNTER_LEN];

    ngx_cx_counter_encode(buf, NGX_CX_ROLLUP_VERSION);

    key.mv_data = (void *) NGX_CX_META_ROLLUPS;
    key.mv_size = sizeof(NGX_CX_META_ROLLUPS) - 1;
    val.mv_data = buf;
    val.mv_size = sizeof(buf);

    return mdb_put(txn, meta, &key, &val, 0);
}
