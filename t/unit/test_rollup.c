/*
 * Unit tests for src/ngx_cx_rollup.c, the report's aggregates (the header,
 * ngx_cx_rollup.h, is the specification). Covered:
 *
 *   keys      encode/decode round trip, names of 0 and 64 bytes; a 65-byte
 *             name refused; decode refuses short keys and extra bytes;
 *             ngx_cx_rollup_key_ms is the last ms of the key's day; keys
 *             sort by day.
 *   rows      trailing zero counters left out; an empty row encodes to 0;
 *             merge adds, and with sign -1 subtracts; malformed values (bad
 *             fmt byte, n over the counters, wrong length) refused; V rows
 *             carry the 1024-byte sketch, merged by maximum.
 *   sketch    HyperLogLog: exact for a few ids, within linear counting's
 *             error at 100..200, within 3 standard errors (3 x 3.3%) at
 *             10 000 and 100 000 (the errors observed are printed and
 *             written down at test_hll_large); an id added twice changes
 *             nothing; the union (register maximum) of two disjoint sets
 *             is the sketch of all of them and estimates the sum.
 *   histogram bucket(0) = 0, bucket(1) = 1, monotone over 0..10^7, a
 *             bucket's seconds close to what fell in it; quantiles.
 *   record    ngx_cx_rollup_record: the day (answered, else displayed,
 *             dismissed, issued), the key, the counters, the re-survey
 *             movement; an invalid score counts no answer.
 *   batch     flushed into an LMDB database in a temporary directory:
 *             +1 then -1 leaves no row; rows of one key sum; 700 keys
 *             pass through a 256-slot batch; comment ids (the newest 20, in
 *             order, across flushes); prune.
 *   rebuild   ngx_cx_rollup_rebuild from stored responses and the journey
 *             events of two visitors: V, T, P, O, R and C rows, the meta
 *             marker (ngx_cx_rollup_ready), and the same rows when rebuilt
 *             twice.
 *
 * Three bugs this file found in src/ngx_cx_rollup.c stay tests, at the
 * end, named test_src_bug_*: each says what was wrong.
 *
 * Every LMDB environment lives in its own mkdtemp() directory,
 * /tmp/cxunit-rollup-XXXXXX, removed by the test's teardown.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_rollup.h"
#include "ngx_cx_score.h"       /* NGX_CX_BAND_* */


#define DAY_MS      86400000ULL
#define T0_S        1795435200u             /* 2026-11-23T12:00:00Z */
#define T0          (T0_S * 1000ULL)
#define DAY0        ((uint32_t) (T0 / DAY_MS))  /* 20780 */

#define BYTES(s)    ((ngx_cx_bytes_t) { (const unsigned char *) (s), sizeof(s) - 1 })
#define NAME(s)     (const unsigned char *) (s), (sizeof(s) - 1)

/* the journey kinds, as the module stores them (ngx_http_cx.h) */
#define KIND_VISIT  1
#define KIND_OFFER  2


/* ---- helpers ---- */

/* splitmix64 from a fixed seed: the same "random" ids on every run */

static uint64_t  rng;

static uint64_t
rng_next(void)
{
    uint64_t  z;

    z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static void
random_id(unsigned char id[NGX_CX_VISITOR_ID_LEN])
{
    uint64_t  a, b;

    a = rng_next();
    b = rng_next();
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 4);
}


static ngx_cx_rollup_key_t
make_key(uint32_t day, unsigned char kind, unsigned char stage,
    unsigned char type, const char *a, const char *b)
{
    ngx_cx_rollup_key_t  k;

    memset(&k, 0, sizeof(k));
    k.day = day;
    k.kind = kind;
    k.stage = stage;
    k.type = type;
    k.a_len = (unsigned char) strlen(a);
    memcpy(k.a, a, k.a_len);
    k.b_len = (unsigned char) strlen(b);
    memcpy(k.b, b, k.b_len);

    return k;
}


/* an answered NPS response of "nps" at "checkout" (stage 3) on DAY0 */

static ngx_cx_record_t
answered_record(int score)
{
    static const unsigned char  visitor[NGX_CX_VISITOR_ID_LEN] =
        { 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb };

    ngx_cx_record_t  r;

    memset(&r, 0, sizeof(r));
    r.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED;
    r.type = NGX_CX_TYPE_NPS;
    r.stage = 3;
    r.score = score;
    r.issued_at_ms = T0 - 60000;
    r.displayed_at_ms = T0 - 50000;
    r.answered_at_ms = T0;
    memcpy(r.visitor, visitor, sizeof(visitor));
    r.survey = BYTES("nps");
    r.touchpoint = BYTES("checkout");
    r.lang = BYTES("en");
    r.path = BYTES("/done");

    return r;
}


static int
row_is_zero(const ngx_cx_rollup_row_t *row)
{
    size_t  i;

    for (i = 0; i < NGX_CX_ROLLUP_COUNTERS; i++) {
        if (row->n[i]) {
            return 0;
        }
    }

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        if (row->hll[i]) {
            return 0;
        }
    }

    return 1;
}


/* ---- an LMDB store in a temporary directory ---- */

typedef struct {
    char       dir[64];
    MDB_env   *env;
    MDB_txn   *txn;                     /* the test's write transaction */
    MDB_dbi    meta, responses, events, rollups;
} store_t;


static int
store_setup(void **state)
{
    MDB_txn  *txn;
    store_t  *s;

    s = calloc(1, sizeof(store_t));
    assert_non_null(s);

    strcpy(s->dir, "/tmp/cxunit-rollup-XXXXXX");
    assert_non_null(mkdtemp(s->dir));

    assert_int_equal(mdb_env_create(&s->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(s->env, NGX_CX_STORE_MAXDBS), 0);
    assert_int_equal(mdb_env_set_mapsize(s->env, 64 << 20), 0);
    assert_int_equal(mdb_env_open(s->env, s->dir, MDB_NOSYNC, 0600), 0);

    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NGX_CX_DB_META, MDB_CREATE, &s->meta), 0);
    assert_int_equal(mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, MDB_CREATE,
                                  &s->responses), 0);
    assert_int_equal(mdb_dbi_open(txn, NGX_CX_DB_EVENTS, MDB_CREATE,
                                  &s->events), 0);
    assert_int_equal(mdb_dbi_open(txn, NGX_CX_DB_ROLLUPS, MDB_CREATE,
                                  &s->rollups), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);

    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &s->txn), 0);

    *state = s;

    return 0;
}


static int
store_teardown(void **state)
{
    char      path[96];
    store_t  *s = *state;

    if (s == NULL) {
        return 0;
    }

    if (s->txn) {
        mdb_txn_abort(s->txn);
    }

    mdb_env_close(s->env);

    snprintf(path, sizeof(path), "%s/data.mdb", s->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", s->dir);
    unlink(path);
    rmdir(s->dir);

    free(s);

    return 0;
}


/* commits the test's transaction and opens the next one */

static void
store_commit(store_t *s)
{
    assert_int_equal(mdb_txn_commit(s->txn), 0);
    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &s->txn), 0);
}


/* the stored row of k merged into *row (zeroed first): 0, or MDB_NOTFOUND */

static int
get_row(store_t *s, const ngx_cx_rollup_key_t *k, ngx_cx_rollup_row_t *row)
{
    int            rc;
    MDB_val        key, val;
    unsigned char  buf[NGX_CX_ROLLUP_KEY_MAX];

    memset(row, 0, sizeof(ngx_cx_rollup_row_t));

    key.mv_data = buf;
    key.mv_size = ngx_cx_rollup_key_encode(buf, k);
    assert_int_not_equal(key.mv_size, 0);

    rc = mdb_get(s->txn, s->rollups, &key, &val);
    if (rc != 0) {
        assert_int_equal(rc, MDB_NOTFOUND);
        return rc;
    }

    assert_int_equal(ngx_cx_rollup_row_merge(row, val.mv_data, val.mv_size, 1),
                     0);

    return 0;
}


/*
 * The rows of `kind` on `day` whose names are a and b (NULL: any),
 * whatever their stage and type, summed into *row. Returns how many.
 */
static unsigned
sum_rows(store_t *s, uint32_t day, unsigned char kind, const char *a,
    const char *b, ngx_cx_rollup_row_t *row)
{
    int                  rc;
    unsigned             found;
    MDB_val              key, val;
    MDB_cursor          *cur;
    ngx_cx_rollup_key_t  k;

    memset(row, 0, sizeof(ngx_cx_rollup_row_t));
    found = 0;

    assert_int_equal(mdb_cursor_open(s->txn, s->rollups, &cur), 0);

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        assert_int_equal(ngx_cx_rollup_key_decode(key.mv_data, key.mv_size,
                                                  &k), 0);

        if (k.day != day || k.kind != kind
            || (a && (k.a_len != strlen(a) || memcmp(k.a, a, k.a_len) != 0))
            || (b && (k.b_len != strlen(b) || memcmp(k.b, b, k.b_len) != 0)))
        {
            continue;
        }

        assert_int_equal(ngx_cx_rollup_row_merge(row, val.mv_data,
                                                 val.mv_size, 1), 0);
        found++;
    }

    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);

    return found;
}


/* number of rows of `kind` (0: all) in the rollups database */

static unsigned
count_rows(store_t *s, unsigned char kind)
{
    int           rc;
    unsigned      n;
    MDB_val       key, val;
    MDB_cursor   *cur;

    n = 0;
    assert_int_equal(mdb_cursor_open(s->txn, s->rollups, &cur), 0);

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        assert_true(key.mv_size >= 9);
        n += (kind == 0 || ((unsigned char *) key.mv_data)[4] == kind);
    }

    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);

    return n;
}


/* ---- keys ---- */

static void
test_key_round_trip(void **state)
{
    size_t               i, n, lens[] = { 0, 1, 63, 64 };
    unsigned char        buf[NGX_CX_ROLLUP_KEY_MAX], *exact;
    ngx_cx_rollup_key_t  k, d;

    (void) state;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (n = 0; n < sizeof(lens) / sizeof(lens[0]); n++) {
            memset(&k, 0, sizeof(k));
            k.day = 0x01020304u + (uint32_t) i;
            k.kind = NGX_CX_ROLLUP_RESPONSES;
            k.stage = 6;
            k.type = NGX_CX_TYPE_CES;
            k.a_len = (unsigned char) lens[i];
            memset(k.a, 'a' + (int) i, k.a_len);
            k.b_len = (unsigned char) lens[n];
            memset(k.b, 'z' - (int) n, k.b_len);

            assert_int_equal(ngx_cx_rollup_key_encode(buf, &k),
                             9 + lens[i] + lens[n]);

            /* day(4) kind(1) stage(1) type(1) a_len(1) a b_len(1) b */
            assert_int_equal(buf[0], 0x01);
            assert_int_equal(buf[3], 0x04 + i);
            assert_int_equal(buf[4], 'R');
            assert_int_equal(buf[5], 6);
            assert_int_equal(buf[6], NGX_CX_TYPE_CES);
            assert_int_equal(buf[7], lens[i]);
            assert_int_equal(buf[8 + lens[i]], lens[n]);

            exact = dup_exact(buf, 9 + lens[i] + lens[n]);
            memset(&d, 0xee, sizeof(d));
            assert_int_equal(ngx_cx_rollup_key_decode(exact,
                                                      9 + lens[i] + lens[n],
                                                      &d), 0);
            free(exact);

            assert_int_equal(d.day, k.day);
            assert_int_equal(d.kind, k.kind);
            assert_int_equal(d.stage, k.stage);
            assert_int_equal(d.type, k.type);
            assert_int_equal(d.a_len, k.a_len);
            assert_int_equal(d.b_len, k.b_len);
            assert_memory_equal(d.a, k.a, k.a_len);
            assert_memory_equal(d.b, k.b, k.b_len);
        }
    }

    /* both names at 64: the longest key */
    k.a_len = NGX_CX_NAME_MAX;
    k.b_len = NGX_CX_NAME_MAX;
    assert_int_equal(ngx_cx_rollup_key_encode(buf, &k), NGX_CX_ROLLUP_KEY_MAX);
    assert_int_equal(NGX_CX_ROLLUP_KEY_MAX, 9 + 64 + 64);
}


static void
test_key_refused(void **state)
{
    size_t               len, n;
    unsigned char        buf[NGX_CX_ROLLUP_KEY_MAX + 8], *exact;
    ngx_cx_rollup_key_t  k, d;

    (void) state;

    k = make_key(DAY0, NGX_CX_ROLLUP_MOVES, 0, 0, "home", "product");

    /* a name of 65 bytes is not encoded: either one */
    k.a_len = NGX_CX_NAME_MAX + 1;
    assert_int_equal(ngx_cx_rollup_key_encode(buf, &k), 0);
    k.a_len = 4;
    k.b_len = NGX_CX_NAME_MAX + 1;
    assert_int_equal(ngx_cx_rollup_key_encode(buf, &k), 0);
    k.b_len = 255;
    assert_int_equal(ngx_cx_rollup_key_encode(buf, &k), 0);
    k.b_len = 7;

    len = ngx_cx_rollup_key_encode(buf, &k);
    assert_int_equal(len, 9 + 4 + 7);

    /* every proper prefix is refused (exact-size copies for ASan) */
    for (n = 0; n < len; n++) {
        exact = dup_exact(buf, n);
        assert_int_equal(ngx_cx_rollup_key_decode(exact, n, &d), -1);
        free(exact);
    }

    /* so is a byte more */
    for (n = 1; n <= 8; n++) {
        buf[len + n - 1] = 0;
        exact = dup_exact(buf, len + n);
        assert_int_equal(ngx_cx_rollup_key_decode(exact, len + n, &d), -1);
        free(exact);
    }

    /* a length byte over 64, with the bytes there */
    memset(buf, 'x', sizeof(buf));
    memset(buf, 0, 7);
    buf[7] = NGX_CX_NAME_MAX + 1;
    buf[8 + 65] = 0;
    assert_int_equal(ngx_cx_rollup_key_decode(buf, 9 + 65, &d), -1);
    buf[7] = 0;
    buf[8] = NGX_CX_NAME_MAX + 1;
    assert_int_equal(ngx_cx_rollup_key_decode(buf, 9 + 65, &d), -1);
    buf[8] = NGX_CX_NAME_MAX;
    assert_int_equal(ngx_cx_rollup_key_decode(buf, 9 + 64, &d), 0);
    assert_int_equal(d.b_len, 64);
}


static void
test_key_ms(void **state)
{
    size_t               len;
    uint64_t             ms;
    unsigned char        buf[NGX_CX_ROLLUP_KEY_MAX], lo[NGX_CX_ROLLUP_KEY_MAX];
    ngx_cx_rollup_key_t  k;

    (void) state;

    /* the last ms of the day: 2026-11-23T23:59:59.999Z */
    k = make_key(DAY0, NGX_CX_ROLLUP_VISITS, 1, 0, "home", "");
    len = ngx_cx_rollup_key_encode(buf, &k);
    assert_int_equal(ngx_cx_rollup_key_ms(buf, len, &ms), 0);
    assert_true(ms == 1795478399999ULL);
    assert_true(ms == (DAY0 + 1) * DAY_MS - 1);
    assert_true(ms / DAY_MS == DAY0);
    assert_true((ms + 1) / DAY_MS == DAY0 + 1);

    k.day = 0;
    len = ngx_cx_rollup_key_encode(buf, &k);
    assert_int_equal(ngx_cx_rollup_key_ms(buf, len, &ms), 0);
    assert_true(ms == DAY_MS - 1);

    k.day = UINT32_MAX;
    len = ngx_cx_rollup_key_encode(buf, &k);
    assert_int_equal(ngx_cx_rollup_key_ms(buf, len, &ms), 0);
    assert_true(ms == ((uint64_t) UINT32_MAX + 1) * DAY_MS - 1);

    /* a short key: -1, *at_ms untouched */
    ms = 7;
    assert_int_equal(ngx_cx_rollup_key_ms(buf, 8, &ms), -1);
    assert_int_equal(ngx_cx_rollup_key_ms(buf, 0, &ms), -1);
    assert_true(ms == 7);

    /* keys sort by day first (retention deletes from the front) */
    k = make_key(255, 'Z', 255, 255, "zzzz", "zzzz");
    ngx_cx_rollup_key_encode(lo, &k);
    k = make_key(256, 'C', 0, 0, "", "");
    ngx_cx_rollup_key_encode(buf, &k);
    assert_true(memcmp(lo, buf, 9) < 0);
}


/* ---- rows ---- */

static void
test_row_encode(void **state)
{
    size_t               len, i;
    unsigned char        val[NGX_CX_ROLLUP_VAL_MAX];
    ngx_cx_rollup_row_t  row, back;

    (void) state;

    assert_int_equal(NGX_CX_ROLLUP_VAL_MAX, 2 + 8 * 102 + 1024);

    /* an empty row is no value, of any kind (it is deleted) */
    memset(&row, 0, sizeof(row));
    assert_int_equal(ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_RESPONSES, &row), 0);
    assert_int_equal(ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_VISITS, &row), 0);
    assert_int_equal(ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_MOVES, &row), 0);
    assert_int_equal(ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_COMMENTS, &row), 0);

    /* dense (fmt 1): trailing zero counters are left out, the others kept */
    row.n[0] = 1;
    row.n[1] = 7;
    row.n[2] = 0x0102030405060708ULL;
    len = ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_RESPONSES, &row);
    assert_int_equal(len, 2 + 3 * 8);
    assert_int_equal(val[0], NGX_CX_ROLLUP_FMT);        /* fmt */
    assert_int_equal(val[1], 3);                        /* n */
    assert_int_equal(val[2 + 7], 1);                    /* big-endian */
    assert_int_equal(val[2 + 16], 0x01);
    assert_int_equal(val[2 + 23], 0x08);

    memset(&back, 0, sizeof(back));
    assert_int_equal(ngx_cx_rollup_row_merge(&back, val, len, 1), 0);
    assert_memory_equal(&back, &row, sizeof(row));

    /* sparse (fmt 2) when shorter: only the counters not 0, indexed */
    row.n[1] = 0;
    row.n[NGX_CX_ROLLUP_COUNTERS - 1] = 5;
    len = ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_MOVES, &row);
    assert_int_equal(len, 2 + 3 * 9);
    assert_int_equal(val[0], NGX_CX_ROLLUP_FMT_SPARSE);
    assert_int_equal(val[1], 3);
    assert_int_equal(val[2], 0);                        /* index */
    assert_int_equal(val[2 + 8], 1);
    assert_int_equal(val[2 + 9], 2);
    assert_int_equal(val[2 + 10], 0x01);
    assert_int_equal(val[2 + 18], NGX_CX_ROLLUP_COUNTERS - 1);
    assert_int_equal(val[2 + 26], 5);
    memset(&back, 0, sizeof(back));
    assert_int_equal(ngx_cx_rollup_row_merge(&back, val, len, 1), 0);
    assert_memory_equal(&back, &row, sizeof(row));

    /* sparse: an index out of range, or not increasing, is refused */
    val[2 + 18] = NGX_CX_ROLLUP_COUNTERS;
    assert_int_equal(ngx_cx_rollup_row_merge(&back, val, len, 1), -1);
    val[2 + 18] = 2;
    assert_int_equal(ngx_cx_rollup_row_merge(&back, val, len, 1), -1);

    /* a sketch is written for V rows only */
    memset(&row, 0, sizeof(row));
    row.hll[3] = 4;
    assert_int_equal(ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_RESPONSES, &row), 0);
    assert_int_equal(ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_OFFERS, &row), 0);
    len = ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_VISITS, &row);
    assert_int_equal(len, 2 + NGX_CX_HLL_REGS);         /* n = 0, sketch */
    assert_int_equal(val[1], 0);
    assert_int_equal(val[2 + 3], 4);

    row.n[NGX_CX_RV_VISITS] = 9;
    len = ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_VISITS, &row);
    assert_int_equal(len, 2 + 8 + NGX_CX_HLL_REGS);
    memset(&back, 0, sizeof(back));
    assert_int_equal(ngx_cx_rollup_row_merge(&back, val, len, 1), 0);
    assert_memory_equal(&back, &row, sizeof(row));

    for (i = 0; i < 256; i++) {
        assert_int_equal(ngx_cx_rollup_has_hll((unsigned char) i),
                         i == NGX_CX_ROLLUP_VISITS);
    }
}


static void
test_row_merge(void **state)
{
    size_t               len, la, lb;
    unsigned char        fmt;
    unsigned char        a[NGX_CX_ROLLUP_VAL_MAX + 8];
    unsigned char        b[2 + 8 * 255 + NGX_CX_HLL_REGS];
    ngx_cx_rollup_row_t  row, x, y;

    (void) state;

    memset(a, 0, sizeof(a));

    memset(&x, 0, sizeof(x));
    x.n[0] = 10;
    x.n[1] = 3;
    x.n[NGX_CX_RR_CHANGE] = (uint64_t) -4;              /* a signed sum */
    la = ngx_cx_rollup_row_encode(a, NGX_CX_ROLLUP_RESPONSES, &x);

    memset(&y, 0, sizeof(y));
    y.n[0] = 4;
    y.n[5] = 2;
    lb = ngx_cx_rollup_row_encode(b, NGX_CX_ROLLUP_RESPONSES, &y);

    /* adding: counters sum, whatever each value's length */
    memset(&row, 0, sizeof(row));
    assert_int_equal(ngx_cx_rollup_row_merge(&row, a, la, 1), 0);
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, lb, 1), 0);
    assert_int_equal(row.n[0], 14);
    assert_int_equal(row.n[1], 3);
    assert_int_equal(row.n[5], 2);
    assert_int_equal((int64_t) row.n[NGX_CX_RR_CHANGE], -4);

    /* sign -1 subtracts: back to x, then to nothing */
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, lb, -1), 0);
    assert_memory_equal(&row, &x, sizeof(x));
    assert_int_equal(ngx_cx_rollup_row_merge(&row, a, la, -1), 0);
    assert_true(row_is_zero(&row));
    assert_int_equal(ngx_cx_rollup_row_encode(a, NGX_CX_ROLLUP_RESPONSES, &row), 0);

    /* the same in memory: ngx_cx_rollup_row_add */
    memset(&row, 0, sizeof(row));
    ngx_cx_rollup_row_add(&row, &x, 1);
    ngx_cx_rollup_row_add(&row, &y, 1);
    assert_int_equal(row.n[0], 14);
    ngx_cx_rollup_row_add(&row, &y, -1);
    ngx_cx_rollup_row_add(&row, &x, -1);
    assert_true(row_is_zero(&row));

    /* malformed values change nothing and are refused */
    la = ngx_cx_rollup_row_encode(a, NGX_CX_ROLLUP_RESPONSES, &x);
    memset(&row, 0, sizeof(row));

    fmt = a[0];
    a[0] = 0;                                           /* fmt */
    assert_int_equal(ngx_cx_rollup_row_merge(&row, a, la, 1), -1);
    a[0] = 3;
    assert_int_equal(ngx_cx_rollup_row_merge(&row, a, la, 1), -1);
    a[0] = fmt;

    for (len = 0; len < 2; len++) {                     /* no header */
        assert_int_equal(ngx_cx_rollup_row_merge(&row, a, len, 1), -1);
    }

    for (len = 2; len < la; len++) {                    /* short */
        assert_int_equal(ngx_cx_rollup_row_merge(&row, a, len, 1), -1);
    }

    a[la] = 0;                                          /* a byte over */
    assert_int_equal(ngx_cx_rollup_row_merge(&row, a, la + 1, 1), -1);
    assert_int_equal(ngx_cx_rollup_row_merge(&row, a, la + 8, 1), -1);
    assert_true(row_is_zero(&row));

    /* n over the counters, with all its bytes there */
    memset(b, 0, sizeof(b));
    b[0] = 1;
    b[1] = NGX_CX_ROLLUP_COUNTERS + 1;
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, 2 + 8 * 103, 1), -1);
    b[1] = 255;
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, 2 + 8 * 255, 1), -1);
    b[1] = NGX_CX_ROLLUP_COUNTERS;
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, 2 + 8 * 102, 1), 0);

    /* a sketch of the wrong size */
    b[1] = 1;
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, 2 + 8 + 1023, 1), -1);
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, 2 + 8 + 1025, 1), -1);
    assert_int_equal(ngx_cx_rollup_row_merge(&row, b, 2 + 8 + 1024, 1), 0);
    assert_true(row_is_zero(&row));
}


static void
test_row_sketch_merge(void **state)
{
    size_t               i, len;
    unsigned char        val[NGX_CX_ROLLUP_VAL_MAX];
    ngx_cx_rollup_row_t  row, v;

    (void) state;

    memset(&v, 0, sizeof(v));
    v.n[NGX_CX_RV_VISITS] = 3;

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        v.hll[i] = (unsigned char) (i % 7);
    }

    len = ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_VISITS, &v);
    assert_int_equal(len, 2 + 8 + NGX_CX_HLL_REGS);

    /* registers by maximum, visits by sum */
    memset(&row, 0, sizeof(row));
    row.n[NGX_CX_RV_VISITS] = 2;

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        row.hll[i] = (unsigned char) (i % 5);
    }

    assert_int_equal(ngx_cx_rollup_row_merge(&row, val, len, 1), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 5);

    for (i = 0; i < NGX_CX_HLL_REGS; i++) {
        assert_int_equal(row.hll[i], (i % 7) > (i % 5) ? i % 7 : i % 5);
    }

    /* merging it again: the sketch is idempotent, the count is not */
    memcpy(&v, &row, sizeof(row));
    assert_int_equal(ngx_cx_rollup_row_merge(&row, val, len, 1), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 8);
    assert_memory_equal(row.hll, v.hll, NGX_CX_HLL_REGS);

    /* taking a value away subtracts its counts, never lowers a register */
    assert_int_equal(ngx_cx_rollup_row_merge(&row, val, len, -1), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 5);
    assert_memory_equal(row.hll, v.hll, NGX_CX_HLL_REGS);
}


/* ---- the sketch ---- */

static void
test_hll_small(void **state)
{
    int            n, err, worst, worst_n;
    double         t, sd;
    uint64_t       e;
    unsigned char  hll[NGX_CX_HLL_REGS], id[NGX_CX_VISITOR_ID_LEN];

    (void) state;

    rng = 1;
    memset(hll, 0, sizeof(hll));
    assert_int_equal(ngx_cx_hll_estimate(hll), 0);

    worst = 0;
    worst_n = 0;

    for (n = 1; n <= 200; n++) {
        random_id(id);
        ngx_cx_hll_add(hll, id, sizeof(id));
        e = ngx_cx_hll_estimate(hll);

        if (n == 1 || n == 2 || n == 5 || n == 10) {
            assert_int_equal(e, n);
        }

        if (n == 50) {
            /*
             * Exact for these ids; but 50 ids share a register with ~1.2
             * others on average, and linear counting rounds to exact for
             * only about a third of random 50-sets (97% within +-2, from
             * 300 sets): asserting == would test the ids, not the code.
             */
            print_message("hll: 50 ids -> %llu\n", (unsigned long long) e);
            assert_true(e >= 48 && e <= 52);
        }

        if (n >= 100) {
            /*
             * Linear counting's standard error at t = n / m is
             * sqrt(m (e^t - t - 1)): 2.3 at 100, 4.6 at 200 (measured over
             * 300 random sets: 2.4 and 4.8). +-2 holds for only 65% of
             * sets at 100 and 36% at 200, so the bound is 3 of those.
             */
            t = (double) n / NGX_CX_HLL_REGS;
            sd = sqrt(NGX_CX_HLL_REGS * (exp(t) - t - 1.0));
            err = (int) e - n;

            if (abs(err) > abs(worst)) {
                worst = err;
                worst_n = n;
            }

            assert_true(fabs((double) err) <= 3.0 * sd);
        }
    }

    /* observed with these ids: -7 at 189 ids (1.6 standard errors) */
    print_message("hll: worst error at 100..200 ids: %d at %d\n", worst,
                  worst_n);

    /* adding the same ids again changes no register */
    {
        unsigned char  again[NGX_CX_HLL_REGS];

        memcpy(again, hll, sizeof(hll));
        rng = 1;

        for (n = 1; n <= 200; n++) {
            random_id(id);
            ngx_cx_hll_add(again, id, sizeof(id));
        }

        assert_memory_equal(again, hll, sizeof(hll));
    }
}


static void
test_hll_large(void **state)
{
    int            n;
    double         err;
    uint64_t       e;
    unsigned char  hll[NGX_CX_HLL_REGS], copy[NGX_CX_HLL_REGS];
    unsigned char  id[NGX_CX_VISITOR_ID_LEN], first[NGX_CX_VISITOR_ID_LEN];

    (void) state;

    /*
     * Standard error 1.04 / sqrt(1024) = 3.25%; allowed 3 of them. With
     * these ids: 10 000 -> 9 839 (-1.61%), 100 000 -> 95 286 (-4.71%).
     * Over 300 random sets the rms errors were 3.1% and 2.9%.
     */
    rng = 0x0123456789abcdefULL;
    memset(hll, 0, sizeof(hll));

    for (n = 1; n <= 100000; n++) {
        random_id(id);

        if (n == 1) {
            memcpy(first, id, sizeof(id));
        }

        ngx_cx_hll_add(hll, id, sizeof(id));

        if (n == 10000 || n == 100000) {
            e = ngx_cx_hll_estimate(hll);
            err = ((double) e - n) / n;
            print_message("hll: %d ids -> %llu (%+.2f%%)\n", n,
                          (unsigned long long) e, 100.0 * err);
            assert_true(fabs(err) <= 3 * 0.033);
        }

        /* the same id twice changes nothing */
        if (n % 9973 == 0) {
            memcpy(copy, hll, sizeof(hll));
            ngx_cx_hll_add(hll, id, sizeof(id));
            ngx_cx_hll_add(hll, first, sizeof(first));
            assert_memory_equal(copy, hll, sizeof(hll));
        }
    }

    /* registers hold a rank: 1 .. 64 - 10 + 1 */
    for (n = 0; n < NGX_CX_HLL_REGS; n++) {
        assert_true(hll[n] >= 1 && hll[n] <= 55);
    }
}


static void
test_hll_union(void **state)
{
    int                  i;
    double               err;
    uint64_t             e, ex, ey;
    unsigned char        id[NGX_CX_VISITOR_ID_LEN];
    ngx_cx_rollup_row_t  x, y, all, u;

    (void) state;

    /* X: 6 000 ids starting 0x00, Y: 9 000 starting 0x01: disjoint */
    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    memset(&all, 0, sizeof(all));
    rng = 42;

    for (i = 0; i < 15000; i++) {
        random_id(id);
        id[0] = (i < 6000) ? 0x00 : 0x01;
        ngx_cx_hll_add(i < 6000 ? x.hll : y.hll, id, sizeof(id));
        ngx_cx_hll_add(all.hll, id, sizeof(id));
    }

    ex = ngx_cx_hll_estimate(x.hll);
    ey = ngx_cx_hll_estimate(y.hll);

    /* the union by register maximum is the sketch of all the ids */
    memset(&u, 0, sizeof(u));
    ngx_cx_rollup_row_add(&u, &x, 1);
    ngx_cx_rollup_row_add(&u, &y, 1);
    assert_memory_equal(u.hll, all.hll, NGX_CX_HLL_REGS);

    /* in the other order, or sign -1 (a sketch is never subtracted) */
    memset(&u, 0, sizeof(u));
    ngx_cx_rollup_row_add(&u, &y, -1);
    ngx_cx_rollup_row_add(&u, &x, 1);
    assert_memory_equal(u.hll, all.hll, NGX_CX_HLL_REGS);

    e = ngx_cx_hll_estimate(u.hll);
    err = ((double) e - 15000) / 15000;
    print_message("hll: %llu + %llu, union -> %llu (%+.2f%% of 15000)\n",
                  (unsigned long long) ex, (unsigned long long) ey,
                  (unsigned long long) e, 100.0 * err);
    assert_true(fabs(err) <= 3 * 0.033);
    assert_true(fabs(((double) ex - 6000) / 6000) <= 3 * 0.033);
    assert_true(fabs(((double) ey - 9000) / 9000) <= 3 * 0.033);

    /* a union with itself is itself */
    ngx_cx_rollup_row_add(&u, &all, 1);
    assert_memory_equal(u.hll, all.hll, NGX_CX_HLL_REGS);
}


/* ---- histograms ---- */

static void
test_hist_buckets(void **state)
{
    unsigned  b, prev;
    uint64_t  x, s, d;

    (void) state;

    assert_int_equal(ngx_cx_hist_bucket(0), 0);
    assert_int_equal(ngx_cx_hist_bucket(1), 1);
    assert_int_equal(ngx_cx_hist_seconds(0), 0);
    assert_int_equal(ngx_cx_hist_seconds(1), 1);

    /* four buckets per doubling: 2^k starts bucket 1 + 4k */
    for (x = 1; x <= 24; x++) {
        assert_int_equal(ngx_cx_hist_bucket((uint64_t) 1 << x), 1 + 4 * x);
    }

    /* monotone, in range, and near: every second from 0 to 10^7 */
    prev = 0;

    for (x = 0; x <= 10000000; x++) {
        b = ngx_cx_hist_bucket(x);
        assert_true(b >= prev && b < NGX_CX_HIST_BUCKETS);
        assert_true(b <= prev + 4);
        prev = b;

        if (x < 8) {
            continue;
        }

        /*
         * A bucket spans a factor 2^(1/4), so its middle is within
         * 2^(1/8) - 1 = 9.05% of what fell in it; ngx_cx_hist_seconds
         * rounds that middle to whole seconds, which costs up to 0.5 s
         * more: 8 -> 9 (12.5%) and 19 -> 17 (10.5%) are the only ones
         * over 10%, and no whole second could do better: 8 and 9 s share
         * a bucket, and so do 16..19 s.
         */
        s = ngx_cx_hist_seconds(b);
        d = s > x ? s - x : x - s;

        if (x >= 20) {
            assert_true(d * 10 <= x);
        } else {
            assert_true((double) d <= 0.0905 * (double) x + 0.5);
        }
    }

    /* the top bucket takes everything beyond */
    assert_int_equal(ngx_cx_hist_bucket((uint64_t) 1 << 40),
                     NGX_CX_HIST_BUCKETS - 1);
    assert_int_equal(ngx_cx_hist_bucket(UINT64_MAX), NGX_CX_HIST_BUCKETS - 1);
    assert_true(ngx_cx_hist_seconds(NGX_CX_HIST_BUCKETS - 1)
                >= ngx_cx_hist_seconds(NGX_CX_HIST_BUCKETS - 2));
}


static void
test_hist_quantile(void **state)
{
    uint64_t  hist[NGX_CX_HIST_BUCKETS], x, q50, q90, q100;

    (void) state;

    memset(hist, 0, sizeof(hist));
    assert_int_equal(ngx_cx_hist_quantile(hist, 0.5), 0);
    assert_int_equal(ngx_cx_hist_quantile(hist, 0.9), 0);
    assert_int_equal(ngx_cx_hist_quantile(hist, 1.0), 0);

    /* one value: every quantile is its bucket */
    hist[ngx_cx_hist_bucket(70)] = 1;
    assert_int_equal(ngx_cx_hist_quantile(hist, 0.5),
                     ngx_cx_hist_seconds(ngx_cx_hist_bucket(70)));
    assert_int_equal(ngx_cx_hist_quantile(hist, 0.01),
                     ngx_cx_hist_quantile(hist, 1.0));

    /* 1..1000 s, uniform: median 500, p90 900 */
    memset(hist, 0, sizeof(hist));

    for (x = 1; x <= 1000; x++) {
        hist[ngx_cx_hist_bucket(x)]++;
    }

    q50 = ngx_cx_hist_quantile(hist, 0.5);
    q90 = ngx_cx_hist_quantile(hist, 0.9);
    q100 = ngx_cx_hist_quantile(hist, 1.0);
    print_message("hist: 1..1000 s: median %llu, p90 %llu, max %llu\n",
                  (unsigned long long) q50, (unsigned long long) q90,
                  (unsigned long long) q100);

    assert_true(q50 >= 450 && q50 <= 550);
    assert_true(q90 >= 810 && q90 <= 990);
    assert_true(q100 >= 900 && q100 <= 1100);

    /* 9 at 10 s and 1 at 1000 s: p90 is 10 s, the max 1000 s */
    memset(hist, 0, sizeof(hist));
    hist[ngx_cx_hist_bucket(10)] = 9;
    hist[ngx_cx_hist_bucket(1000)] = 1;
    assert_int_equal(ngx_cx_hist_quantile(hist, 0.9),
                     ngx_cx_hist_seconds(ngx_cx_hist_bucket(10)));
    assert_int_equal(ngx_cx_hist_quantile(hist, 0.91),
                     ngx_cx_hist_seconds(ngx_cx_hist_bucket(1000)));
}


/* ---- what a record adds ---- */

static void
test_record_key_and_day(void **state)
{
    ngx_cx_record_t      r;
    ngx_cx_rollup_row_t  row;
    ngx_cx_rollup_key_t  k;

    (void) state;

    /* each time on its own day: answered on DAY0 + 3 */
    r = answered_record(9);
    r.flags |= NGX_CX_REC_DISMISSED;          /* not a valid state; only times matter */
    r.issued_at_ms = (uint64_t) DAY0 * DAY_MS + 1;
    r.dismissed_at_ms = (uint64_t) (DAY0 + 1) * DAY_MS + 1;
    r.displayed_at_ms = (uint64_t) (DAY0 + 2) * DAY_MS + 1;
    r.answered_at_ms = (uint64_t) (DAY0 + 4) * DAY_MS - 1;

    memset(&k, 0xee, sizeof(k));
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.day, DAY0 + 3);
    assert_int_equal(k.kind, NGX_CX_ROLLUP_RESPONSES);
    assert_int_equal(k.stage, 3);
    assert_int_equal(k.type, NGX_CX_TYPE_NPS);
    assert_int_equal(k.a_len, 3);
    assert_memory_equal(k.a, "nps", 3);
    assert_int_equal(k.b_len, 8);
    assert_memory_equal(k.b, "checkout", 8);

    /* else displayed, else dismissed, else issued */
    r.answered_at_ms = 0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.day, DAY0 + 2);

    r.displayed_at_ms = 0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.day, DAY0 + 1);

    r.dismissed_at_ms = 0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.day, DAY0);

    /* a day starts at 00:00:00.000 UTC */
    r.issued_at_ms = (uint64_t) DAY0 * DAY_MS - 1;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.day, DAY0 - 1);

    /* no survey, no touchpoint: empty names */
    r.survey = (ngx_cx_bytes_t) { NULL, 0 };
    r.touchpoint = (ngx_cx_bytes_t) { NULL, 0 };
    r.stage = 0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.a_len, 0);
    assert_int_equal(k.b_len, 0);
    assert_int_equal(k.stage, 0);
}


static void
test_record_counters(void **state)
{
    int                  s;
    unsigned             i;
    ngx_cx_record_t      r;
    ngx_cx_rollup_row_t  row;
    ngx_cx_rollup_key_t  k;

    (void) state;

    /* displayed and answered 9, no comment */
    r = answered_record(9);
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 1);
    assert_int_equal(row.n[NGX_CX_RR_DISMISSED], 0);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);
    assert_int_equal(row.n[NGX_CX_RR_COMMENTED], 0);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 9], 1);
    assert_int_equal(row.n[NGX_CX_RR_RESURVEYED], 0);

    for (i = 0; i < NGX_CX_ROLLUP_COUNTERS; i++) {
        if (i != NGX_CX_RR_DISPLAYED && i != NGX_CX_RR_ANSWERED
            && i != NGX_CX_RR_DIST + 9)
        {
            assert_int_equal(row.n[i], 0);
        }
    }

    /* commented: the flag and a comment */
    r.flags |= NGX_CX_REC_COMMENTED;
    r.commented_at_ms = T0 + 1000;
    r.comment = BYTES("great");
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_COMMENTED], 1);
    r.comment = (ngx_cx_bytes_t) { NULL, 0 };
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_COMMENTED], 0);

    /* every score of each scale lands in its own place */
    for (s = 0; s <= 10; s++) {
        r = answered_record(s);
        ngx_cx_rollup_record(&r, &k, &row);
        assert_int_equal(row.n[NGX_CX_RR_DIST + s], 1);
        assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);
    }

    r = answered_record(5);
    r.type = NGX_CX_TYPE_CSAT;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(k.type, NGX_CX_TYPE_CSAT);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 5], 1);

    /* an invalid score counts no answer (the display still counts) */
    r = answered_record(11);
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 1);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);

    for (i = NGX_CX_RR_ANSWERED; i < NGX_CX_ROLLUP_COUNTERS; i++) {
        assert_int_equal(row.n[i], 0);
    }

    r = answered_record(-1);
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);

    r = answered_record(0);
    r.type = NGX_CX_TYPE_CSAT;                  /* 1..5 */
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 0], 0);

    r = answered_record(9);
    r.type = 0;                                 /* no type */
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);

    /* displayed, or dismissed, only */
    r = answered_record(9);
    r.flags = NGX_CX_REC_DISPLAYED;
    r.answered_at_ms = 0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 1);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 9], 0);

    r.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_DISMISSED;
    r.dismissed_at_ms = T0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 1);
    assert_int_equal(row.n[NGX_CX_RR_DISMISSED], 1);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);

    r.flags = 0;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_true(row_is_zero(&row));
}


static void
test_record_resurvey(void **state)
{
    unsigned             i;
    ngx_cx_record_t      r;
    ngx_cx_rollup_row_t  row;
    ngx_cx_rollup_key_t  k;

    (void) state;

    assert_int_equal(NGX_CX_RR_MOVES, 17);
    assert_int_equal(NGX_CX_RR_COUNTERS, 26);

    /* 3 (detractor) then 9 (promoter) */
    r = answered_record(9);
    r.has_previous = 1;
    r.previous_score = 3;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);
    assert_int_equal(row.n[NGX_CX_RR_RESURVEYED], 1);
    assert_int_equal((int64_t) row.n[NGX_CX_RR_CHANGE], 6);

    /* [previous band - 1][band - 1], three bands a row */
    for (i = 0; i < 9; i++) {
        assert_int_equal(row.n[NGX_CX_RR_MOVES + i],
                         i == (NGX_CX_BAND_DETRACTOR - 1) * 3
                              + (NGX_CX_BAND_PROMOTER - 1));
    }

    assert_int_equal(row.n[19], 1);

    /* the other way: the change is negative, the move [promoter][detractor] */
    r = answered_record(3);
    r.has_previous = 1;
    r.previous_score = 9;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal((int64_t) row.n[NGX_CX_RR_CHANGE], -6);
    assert_int_equal(row.n[NGX_CX_RR_MOVES + 2 * 3 + 0], 1);

    /* summed, the changes cancel */
    {
        ngx_cx_rollup_row_t  sum;

        memset(&sum, 0, sizeof(sum));
        ngx_cx_rollup_row_add(&sum, &row, 1);
        r = answered_record(9);
        r.has_previous = 1;
        r.previous_score = 3;
        ngx_cx_rollup_record(&r, &k, &row);
        ngx_cx_rollup_row_add(&sum, &row, 1);
        assert_int_equal(sum.n[NGX_CX_RR_RESURVEYED], 2);
        assert_int_equal(sum.n[NGX_CX_RR_CHANGE], 0);
    }

    /* the same band: passive 7 -> 8 */
    r = answered_record(8);
    r.has_previous = 1;
    r.previous_score = 7;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal((int64_t) row.n[NGX_CX_RR_CHANGE], 1);
    assert_int_equal(row.n[NGX_CX_RR_MOVES + 1 * 3 + 1], 1);

    /* no previous answer, an invalid one, or an invalid answer: no movement */
    r = answered_record(9);
    r.previous_score = 3;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_RESURVEYED], 0);

    r.has_previous = 1;
    r.previous_score = 11;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);
    assert_int_equal(row.n[NGX_CX_RR_RESURVEYED], 0);
    assert_int_equal(row.n[NGX_CX_RR_CHANGE], 0);

    r = answered_record(12);
    r.has_previous = 1;
    r.previous_score = 3;
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);
    assert_int_equal(row.n[NGX_CX_RR_RESURVEYED], 0);

    for (i = 0; i < 9; i++) {
        assert_int_equal(row.n[NGX_CX_RR_MOVES + i], 0);
    }
}


/* ---- the batch, on LMDB ---- */

static void
test_batch_add_and_take_away(void **state)
{
    store_t                *s = *state;
    ngx_cx_record_t         r, r2;
    ngx_cx_rollup_row_t     row;
    ngx_cx_rollup_key_t     k;
    ngx_cx_rollup_batch_t  *b;

    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);
    assert_int_equal(b->n, 0);

    r = answered_record(9);
    ngx_cx_rollup_record(&r, &k, &row);

    /* +1 then -1 in one batch: nothing is written */
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, -1), 0);
    assert_int_equal(b->n, 1);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_int_equal(b->n, 0);
    assert_int_equal(count_rows(s, 0), 0);

    /* +1, flushed and committed, then -1: the row is deleted */
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);

    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, -1), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);
    assert_int_equal(get_row(s, &k, &row), MDB_NOTFOUND);
    assert_int_equal(count_rows(s, 0), 0);

    /* two records of one key sum; a change moves one between counters */
    r2 = answered_record(3);
    r2.has_previous = 1;
    r2.previous_score = 10;
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r2, 1), 0);
    assert_int_equal(b->n, 1);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);

    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 3);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 3);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 9], 2);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 3], 1);
    assert_int_equal(row.n[NGX_CX_RR_RESURVEYED], 1);
    assert_int_equal((int64_t) row.n[NGX_CX_RR_CHANGE], -7);
    assert_int_equal(row.n[NGX_CX_RR_MOVES + 2 * 3 + 0], 1);

    /* the live path of a displayed prompt answered: -old, +new */
    r2 = r;
    r2.flags = NGX_CX_REC_DISPLAYED;
    r2.answered_at_ms = 0;
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, -1), 0);
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r2, 1), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 3);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 2);
    assert_int_equal(row.n[NGX_CX_RR_DIST + 9], 1);

    /* a malformed stored row is replaced by the batch's */
    {
        MDB_val        key, val;
        unsigned char  kb[NGX_CX_ROLLUP_KEY_MAX];

        key.mv_data = kb;
        key.mv_size = ngx_cx_rollup_key_encode(kb, &k);
        val.mv_data = "junk";
        val.mv_size = 4;
        assert_int_equal(mdb_put(s->txn, s->rollups, &key, &val, 0), 0);
        assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
        assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
        assert_int_equal(get_row(s, &k, &row), 0);
        assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);
    }

    ngx_cx_rollup_batch_free(b);
}


static void
test_batch_many_keys(void **state)
{
    store_t                *s = *state;
    unsigned                i;
    ngx_cx_record_t         r;
    ngx_cx_rollup_row_t     row;
    ngx_cx_rollup_key_t     k;
    ngx_cx_rollup_batch_t  *b;

    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);

    /* 700 days, two records each: 700 keys through a 256-slot batch */
    for (i = 0; i < 1400; i++) {
        r = answered_record((int) (i % 11));
        r.answered_at_ms = T0 + (uint64_t) (i % 700) * DAY_MS;
        assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1),
                         0);
        assert_true(b->n >= 1 && b->n <= NGX_CX_ROLLUP_BATCH);
    }

    /* the batch flushed itself on the way: rows are there already */
    assert_true(count_rows(s, NGX_CX_ROLLUP_RESPONSES) >= NGX_CX_ROLLUP_BATCH);
    assert_true(b->n < NGX_CX_ROLLUP_BATCH);

    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);
    assert_int_equal(count_rows(s, 0), 700);

    for (i = 0; i < 700; i++) {
        r = answered_record(0);
        r.answered_at_ms = T0 + (uint64_t) i * DAY_MS;
        ngx_cx_rollup_record(&r, &k, &row);
        assert_int_equal(k.day, DAY0 + i);
        assert_int_equal(get_row(s, &k, &row), 0);
        assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 2);
        assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 2);
        assert_int_equal(row.n[NGX_CX_RR_DIST + i % 11], 1);
        assert_int_equal(row.n[NGX_CX_RR_DIST + (i + 700) % 11], 1);
    }

    ngx_cx_rollup_batch_free(b);
}


/* the id of the i-th response, big-endian i, so ids are easy to read back */

static void
response_id(unsigned char id[NGX_CX_PROMPT_ID_LEN], unsigned i)
{
    memset(id, 0, NGX_CX_PROMPT_ID_LEN);
    id[0] = 0x69;
    id[8] = (unsigned char) (i >> 24);
    id[9] = (unsigned char) (i >> 16);
    id[10] = (unsigned char) (i >> 8);
    id[11] = (unsigned char) i;
}


/* the comments row of answered_record(): its ids are first..last */

static void
assert_comment_ids(store_t *s, unsigned first, unsigned last)
{
    size_t                n, i;
    MDB_val               key, val;
    unsigned char         kb[NGX_CX_ROLLUP_KEY_MAX], id[NGX_CX_PROMPT_ID_LEN];
    const unsigned char  *ids;
    ngx_cx_rollup_key_t   k;

    k = make_key(DAY0, NGX_CX_ROLLUP_COMMENTS, 0, 0, "nps", "checkout");
    key.mv_data = kb;
    key.mv_size = ngx_cx_rollup_key_encode(kb, &k);
    assert_int_equal(mdb_get(s->txn, s->rollups, &key, &val), 0);

    assert_int_equal(ngx_cx_rollup_ids(val.mv_data, val.mv_size, &ids, &n), 0);
    assert_int_equal(n, last - first + 1);
    assert_int_equal(val.mv_size, 2 + n * NGX_CX_PROMPT_ID_LEN);

    for (i = 0; i < n; i++) {
        response_id(id, first + (unsigned) i);
        assert_memory_equal(ids + i * NGX_CX_PROMPT_ID_LEN, id,
                            NGX_CX_PROMPT_ID_LEN);
    }
}


static void
test_batch_comments(void **state)
{
    store_t                *s = *state;
    size_t                  n;
    unsigned                i;
    unsigned char           id[NGX_CX_PROMPT_ID_LEN], bad[2 + 21 * 12];
    ngx_cx_record_t         r;
    const unsigned char    *ids;
    ngx_cx_rollup_batch_t  *b;

    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);

    r = answered_record(2);
    r.flags |= NGX_CX_REC_COMMENTED;
    r.comment = BYTES("slow");
    r.commented_at_ms = T0 + 5000;

    assert_int_equal(NGX_CX_ROLLUP_IDS, 20);

    /* 1..15 in one flush */
    for (i = 1; i <= 15; i++) {
        response_id(id, i);
        assert_int_equal(ngx_cx_rollup_comments(b, s->txn, s->rollups, id, &r), 0);
    }

    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);
    assert_comment_ids(s, 1, 15);

    /* 16..25: the stored 6..15 stay before them */
    for (i = 16; i <= 25; i++) {
        response_id(id, i);
        assert_int_equal(ngx_cx_rollup_comments(b, s->txn, s->rollups, id, &r), 0);
    }

    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);
    assert_comment_ids(s, 6, 25);

    /* one more, alone */
    response_id(id, 26);
    assert_int_equal(ngx_cx_rollup_comments(b, s->txn, s->rollups, id, &r), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_comment_ids(s, 7, 26);

    /* 27..60 in one batch: the batch keeps its newest 20, the stored go */
    for (i = 27; i <= 60; i++) {
        response_id(id, i);
        assert_int_equal(ngx_cx_rollup_comments(b, s->txn, s->rollups, id, &r), 0);
    }

    assert_int_equal(b->n, 1);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);
    assert_comment_ids(s, 41, 60);

    /* the comments row sits beside the R row, not in it */
    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_COMMENTS), 1);
    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_RESPONSES), 0);

    /* ngx_cx_rollup_ids refuses what is not a list of ids */
    memset(bad, 0, sizeof(bad));
    bad[0] = 1;
    bad[1] = 0;
    assert_int_equal(ngx_cx_rollup_ids(bad, 2, &ids, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ngx_cx_rollup_ids(bad, 1, &ids, &n), -1);
    assert_int_equal(ngx_cx_rollup_ids(bad, 3, &ids, &n), -1);
    bad[1] = 21;
    assert_int_equal(ngx_cx_rollup_ids(bad, 2 + 21 * 12, &ids, &n), -1);
    bad[1] = 2;
    assert_int_equal(ngx_cx_rollup_ids(bad, 2 + 2 * 12, &ids, &n), 0);
    assert_int_equal(ngx_cx_rollup_ids(bad, 2 + 2 * 12 - 1, &ids, &n), -1);
    bad[0] = 2;
    assert_int_equal(ngx_cx_rollup_ids(bad, 2 + 2 * 12, &ids, &n), -1);

    ngx_cx_rollup_batch_free(b);
}


static void
test_batch_prune(void **state)
{
    store_t                *s = *state;
    ngx_cx_record_t         r;
    ngx_cx_rollup_row_t     row;
    ngx_cx_rollup_key_t     k;
    ngx_cx_rollup_batch_t  *b;

    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);

    r = answered_record(9);
    ngx_cx_rollup_record(&r, &k, &row);
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
    assert_int_equal(ngx_cx_rollup_add_record(b, s->txn, s->rollups, &r, 1), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);

    /* the record's day is wholly before: nothing to do, no slot taken */
    assert_int_equal(ngx_cx_rollup_prune_record(b, s->txn, s->rollups, &r,
                                                (DAY0 + 1) * DAY_MS), 0);
    assert_int_equal(ngx_cx_rollup_prune_record(b, s->txn, s->rollups, &r,
                                                (DAY0 + 100) * DAY_MS), 0);
    assert_int_equal(b->n, 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 2);

    /* its day is kept (in part): the record leaves the row */
    assert_int_equal(ngx_cx_rollup_prune_record(b, s->txn, s->rollups, &r,
                                                (DAY0 + 1) * DAY_MS - 1), 0);
    assert_int_equal(b->n, 1);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 1);

    /*
     * Retention from the start of DAY0: a record issued the day before is
     * deleted, but the row of its day (the answer's, DAY0) is kept, so the
     * record leaves it: here the last one, and the row goes.
     */
    r.issued_at_ms = T0 - DAY_MS;
    assert_int_equal(ngx_cx_rollup_prune_record(b, s->txn, s->rollups, &r,
                                                (uint64_t) DAY0 * DAY_MS), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    assert_int_equal(get_row(s, &k, &row), MDB_NOTFOUND);

    ngx_cx_rollup_batch_free(b);
}


static void
test_batch_offers_and_visits(void **state)
{
    store_t                *s = *state;
    unsigned char           visitor[NGX_CX_VISITOR_ID_LEN];
    ngx_cx_rollup_row_t     row;
    ngx_cx_rollup_key_t     k;
    ngx_cx_rollup_visit_t   v;
    ngx_cx_rollup_batch_t  *b;

    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);

    assert_int_equal(ngx_cx_rollup_add_offer(b, s->txn, s->rollups, T0,
                                             NAME("nps")), 0);
    assert_int_equal(ngx_cx_rollup_add_offer(b, s->txn, s->rollups, T0 + 1,
                                             NAME("nps")), 0);
    assert_int_equal(ngx_cx_rollup_add_offer(b, s->txn, s->rollups,
                                             T0 + DAY_MS, NAME("nps")), 0);

    /* a visit without a move (first of the visitor) */
    rng = 7;
    random_id(visitor);
    memset(&v, 0, sizeof(v));
    v.at_ms = T0;
    v.visitor = visitor;
    v.stage = 1;
    v.touchpoint = (const unsigned char *) "home";
    v.touchpoint_len = 4;
    v.first_arrival = 1;
    v.purchase_seconds = -1;
    assert_int_equal(ngx_cx_rollup_add_visit(b, s->txn, s->rollups, &v), 0);

    /* the same touchpoint again: a visit, but no move to itself */
    v.from = (const unsigned char *) "home";
    v.from_len = 4;
    v.from_seconds = 5;
    v.first_arrival = 0;
    assert_int_equal(ngx_cx_rollup_add_visit(b, s->txn, s->rollups, &v), 0);

    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);
    store_commit(s);

    k = make_key(DAY0, NGX_CX_ROLLUP_OFFERS, 0, 0, "nps", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[0], 2);
    k.day = DAY0 + 1;
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[0], 1);

    k = make_key(DAY0, NGX_CX_ROLLUP_VISITS, 1, 0, "home", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 2);
    assert_int_equal(ngx_cx_hll_estimate(row.hll), 1);

    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_MOVES), 0);
    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_PURCHASE), 0);
    assert_int_equal(count_rows(s, 0), 3);

    ngx_cx_rollup_batch_free(b);
}


/* ---- rebuild ---- */

/* two visitors: A and B */
static const unsigned char  visitor_a[NGX_CX_VISITOR_ID_LEN] =
    { 0xaa, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b };
static const unsigned char  visitor_b[NGX_CX_VISITOR_ID_LEN] =
    { 0xbb, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b };


static void
put_event(store_t *s, uint64_t at_ms, const unsigned char *visitor,
    unsigned kind, unsigned stage, const char *name)
{
    static uint32_t   seq;

    MDB_val           key, val;
    unsigned char     kb[NGX_CX_JOURNEY_KEY_LEN], vb[NGX_CX_JOURNEY_VAL_MAX];
    ngx_cx_journey_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.at_ms = at_ms;
    memcpy(ev.visitor, visitor, NGX_CX_VISITOR_ID_LEN);
    ev.kind = (unsigned char) kind;
    ev.stage = (unsigned char) stage;
    ev.name_len = (unsigned char) strlen(name);
    memcpy(ev.name, name, ev.name_len);

    ngx_cx_journey_key(kb, at_ms, 4242, ++seq);
    key.mv_data = kb;
    key.mv_size = sizeof(kb);
    val.mv_data = vb;
    val.mv_size = ngx_cx_journey_encode(vb, &ev);
    assert_int_not_equal(val.mv_size, 0);

    assert_int_equal(mdb_put(s->txn, s->events, &key, &val, 0), 0);
}


static void
put_response(store_t *s, unsigned i, const ngx_cx_record_t *r)
{
    MDB_val        key, val;
    unsigned char  kb[NGX_CX_RESPONSE_KEY_LEN], vb[1024], nonce[8];

    assert_true(ngx_cx_record_valid(r));
    assert_true(ngx_cx_record_size(r) <= sizeof(vb));

    memset(nonce, 0, sizeof(nonce));
    nonce[7] = (unsigned char) i;
    ngx_cx_response_key(kb, (uint32_t) (r->issued_at_ms / 1000), nonce);

    key.mv_data = kb;
    key.mv_size = sizeof(kb);
    val.mv_data = vb;
    val.mv_size = (size_t) (ngx_cx_record_encode(vb, r) - vb);

    assert_int_equal(mdb_put(s->txn, s->responses, &key, &val, 0), 0);
}


/* every row, key and value, in order: for comparing two builds */

static size_t
dump_rows(store_t *s, unsigned char *out, size_t size)
{
    int          rc;
    size_t       n;
    MDB_val      key, val;
    MDB_cursor  *cur;

    n = 0;
    assert_int_equal(mdb_cursor_open(s->txn, s->rollups, &cur), 0);

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        assert_true(n + 4 + key.mv_size + val.mv_size <= size);
        out[n++] = (unsigned char) key.mv_size;
        memcpy(out + n, key.mv_data, key.mv_size);
        n += key.mv_size;
        out[n++] = (unsigned char) (val.mv_size >> 16);
        out[n++] = (unsigned char) (val.mv_size >> 8);
        out[n++] = (unsigned char) val.mv_size;
        memcpy(out + n, val.mv_data, val.mv_size);
        n += val.mv_size;
    }

    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);

    return n;
}


static void
test_rebuild(void **state)
{
    store_t              *s = *state;
    int                   ready;
    size_t                n1, n2;
    uint64_t              nr, ne;
    MDB_val               key, val;
    unsigned char        *d1, *d2, kb[NGX_CX_ROLLUP_KEY_MAX], id[12];
    ngx_cx_record_t       r;
    ngx_cx_rollup_row_t   row, want;
    ngx_cx_rollup_key_t   k;
    const unsigned char  *ids;
    size_t                nids;

    /*
     * Journey, all on DAY0 (T0 is noon):
     *   A  home (1) at T0, product (2) at +10 s, checkout (3) at +70 s,
     *      offered "nps" at +71 s, home again at +100 s
     *   B  home at +5 s, checkout at +305 s, offered "nps" at +306 s and
     *      "csat" at +307 s
     */
    put_event(s, T0, visitor_a, KIND_VISIT, 1, "home");
    put_event(s, T0 + 10000, visitor_a, KIND_VISIT, 2, "product");
    put_event(s, T0 + 70000, visitor_a, KIND_VISIT, 3, "checkout");
    put_event(s, T0 + 71000, visitor_a, KIND_OFFER, 0, "nps");
    put_event(s, T0 + 100000, visitor_a, KIND_VISIT, 1, "home");
    put_event(s, T0 + 5000, visitor_b, KIND_VISIT, 1, "home");
    put_event(s, T0 + 305000, visitor_b, KIND_VISIT, 3, "checkout");
    put_event(s, T0 + 306000, visitor_b, KIND_OFFER, 0, "nps");
    put_event(s, T0 + 307000, visitor_b, KIND_OFFER, 0, "csat");

    /* an event of another kind counts as read but adds nothing */
    put_event(s, T0 + 400000, visitor_b, 9, 0, "other");

    /* and an unreadable one is skipped */
    memset(kb, 0xff, NGX_CX_JOURNEY_KEY_LEN);
    key.mv_data = kb;
    key.mv_size = NGX_CX_JOURNEY_KEY_LEN;
    val.mv_data = "x";
    val.mv_size = 1;
    assert_int_equal(mdb_put(s->txn, s->events, &key, &val, 0), 0);

    /*
     * Responses: A answered nps 9 (after a 3) with a comment; B's nps was
     * displayed only; a csat dismissed; one unreadable value.
     */
    r = answered_record(9);
    r.has_previous = 1;
    r.previous_score = 3;
    r.flags |= NGX_CX_REC_COMMENTED;
    r.comment = BYTES("better now");
    r.commented_at_ms = T0 + 90000;
    memcpy(r.visitor, visitor_a, NGX_CX_VISITOR_ID_LEN);
    put_response(s, 1, &r);

    r = answered_record(0);
    r.flags = NGX_CX_REC_DISPLAYED;
    r.answered_at_ms = 0;
    r.displayed_at_ms = T0 + 306500;
    memcpy(r.visitor, visitor_b, NGX_CX_VISITOR_ID_LEN);
    put_response(s, 2, &r);

    r = answered_record(0);
    r.type = NGX_CX_TYPE_CSAT;
    r.survey = BYTES("csat");
    r.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_DISMISSED;
    r.answered_at_ms = 0;
    r.dismissed_at_ms = T0 + 308000;
    memcpy(r.visitor, visitor_b, NGX_CX_VISITOR_ID_LEN);
    put_response(s, 3, &r);

    memset(kb, 0x70, NGX_CX_RESPONSE_KEY_LEN);
    key.mv_data = kb;
    key.mv_size = NGX_CX_RESPONSE_KEY_LEN;
    val.mv_data = "not a record";
    val.mv_size = 12;
    assert_int_equal(mdb_put(s->txn, s->responses, &key, &val, 0), 0);

    /* a stale row, which the rebuild must drop */
    k = make_key(DAY0 - 30, NGX_CX_ROLLUP_OFFERS, 0, 0, "gone", "");
    key.mv_size = ngx_cx_rollup_key_encode(kb, &k);
    key.mv_data = kb;
    val.mv_data = "\x01\x01\0\0\0\0\0\0\0\x05";
    val.mv_size = 10;
    assert_int_equal(mdb_put(s->txn, s->rollups, &key, &val, 0), 0);

    store_commit(s);

    assert_int_equal(ngx_cx_rollup_ready(s->txn, s->meta, &ready), 0);
    assert_int_equal(ready, 0);

    /* build */
    assert_int_equal(ngx_cx_rollup_rebuild(s->txn, s->responses, s->events,
                                           s->rollups, s->meta, &nr, &ne), 0);
    assert_int_equal(nr, 3);
    assert_int_equal(ne, 10);
    store_commit(s);

    assert_int_equal(ngx_cx_rollup_ready(s->txn, s->meta, &ready), 0);
    assert_int_equal(ready, 1);

    k = make_key(DAY0 - 30, NGX_CX_ROLLUP_OFFERS, 0, 0, "gone", "");
    assert_int_equal(get_row(s, &k, &row), MDB_NOTFOUND);

    /* V: visits per touchpoint, and the visitors */
    k = make_key(DAY0, NGX_CX_ROLLUP_VISITS, 1, 0, "home", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 3);
    assert_int_equal(ngx_cx_hll_estimate(row.hll), 2);

    k = make_key(DAY0, NGX_CX_ROLLUP_VISITS, 2, 0, "product", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 1);
    assert_int_equal(ngx_cx_hll_estimate(row.hll), 1);

    k = make_key(DAY0, NGX_CX_ROLLUP_VISITS, 3, 0, "checkout", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RV_VISITS], 2);
    assert_int_equal(ngx_cx_hll_estimate(row.hll), 2);

    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_VISITS), 3);

    /*
     * T: moves, first arrivals, seconds between. T and P rows are found by
     * their names alone: their keys also carry the visit's stage, which
     * the header does not list (see test_src_bug_purchase_row_key).
     */
    assert_int_equal(sum_rows(s, DAY0, NGX_CX_ROLLUP_MOVES, "home", "product",
                              &row), 1);
    assert_int_equal(row.n[NGX_CX_RT_MOVES], 1);
    assert_int_equal(row.n[NGX_CX_RT_ARRIVALS], 1);
    assert_int_equal(row.n[NGX_CX_RT_HIST + ngx_cx_hist_bucket(10)], 1);

    assert_int_equal(sum_rows(s, DAY0, NGX_CX_ROLLUP_MOVES, "product",
                              "checkout", &row), 1);
    assert_int_equal(row.n[NGX_CX_RT_MOVES], 1);
    assert_int_equal(row.n[NGX_CX_RT_ARRIVALS], 1);
    assert_int_equal(row.n[NGX_CX_RT_HIST + ngx_cx_hist_bucket(60)], 1);

    /* A had been home before */
    assert_int_equal(sum_rows(s, DAY0, NGX_CX_ROLLUP_MOVES, "checkout", "home",
                              &row), 1);
    assert_int_equal(row.n[NGX_CX_RT_MOVES], 1);
    assert_int_equal(row.n[NGX_CX_RT_ARRIVALS], 0);
    assert_int_equal(row.n[NGX_CX_RT_HIST + ngx_cx_hist_bucket(30)], 1);

    /* B; A's visit of checkout does not make it B's */
    assert_int_equal(sum_rows(s, DAY0, NGX_CX_ROLLUP_MOVES, "home", "checkout",
                              &row), 1);
    assert_int_equal(row.n[NGX_CX_RT_MOVES], 1);
    assert_int_equal(row.n[NGX_CX_RT_ARRIVALS], 1);
    assert_int_equal(row.n[NGX_CX_RT_HIST + ngx_cx_hist_bucket(300)], 1);

    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_MOVES), 4);

    /* P: seconds from first seen to the first purchase-stage visit */
    assert_int_equal(sum_rows(s, DAY0, NGX_CX_ROLLUP_PURCHASE, NULL, NULL,
                              &row), count_rows(s, NGX_CX_ROLLUP_PURCHASE));
    assert_int_equal(row.n[NGX_CX_RP_COUNT], 2);
    assert_int_not_equal(ngx_cx_hist_bucket(70), ngx_cx_hist_bucket(300));
    assert_int_equal(row.n[NGX_CX_RP_HIST + ngx_cx_hist_bucket(70)], 1);
    assert_int_equal(row.n[NGX_CX_RP_HIST + ngx_cx_hist_bucket(300)], 1);
    assert_int_equal(ngx_cx_hist_quantile(row.n + NGX_CX_RP_HIST, 0.5),
                     ngx_cx_hist_seconds(ngx_cx_hist_bucket(70)));

    /* O: offers per survey */
    k = make_key(DAY0, NGX_CX_ROLLUP_OFFERS, 0, 0, "nps", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[0], 2);
    k = make_key(DAY0, NGX_CX_ROLLUP_OFFERS, 0, 0, "csat", "");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[0], 1);
    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_OFFERS), 2);

    /* R: nps at checkout, A's answer and B's display */
    k = make_key(DAY0, NGX_CX_ROLLUP_RESPONSES, 3, NGX_CX_TYPE_NPS, "nps",
                 "checkout");
    assert_int_equal(get_row(s, &k, &row), 0);
    memset(&want, 0, sizeof(want));
    want.n[NGX_CX_RR_DISPLAYED] = 2;
    want.n[NGX_CX_RR_ANSWERED] = 1;
    want.n[NGX_CX_RR_COMMENTED] = 1;
    want.n[NGX_CX_RR_DIST + 9] = 1;
    want.n[NGX_CX_RR_RESURVEYED] = 1;
    want.n[NGX_CX_RR_CHANGE] = 6;
    want.n[NGX_CX_RR_MOVES + 2] = 1;
    assert_memory_equal(row.n, want.n, sizeof(want.n));

    k = make_key(DAY0, NGX_CX_ROLLUP_RESPONSES, 3, NGX_CX_TYPE_CSAT, "csat",
                 "checkout");
    assert_int_equal(get_row(s, &k, &row), 0);
    assert_int_equal(row.n[NGX_CX_RR_DISPLAYED], 1);
    assert_int_equal(row.n[NGX_CX_RR_DISMISSED], 1);
    assert_int_equal(row.n[NGX_CX_RR_ANSWERED], 0);
    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_RESPONSES), 2);

    /* C: the commented response's id */
    k = make_key(DAY0, NGX_CX_ROLLUP_COMMENTS, 0, 0, "nps", "checkout");
    key.mv_size = ngx_cx_rollup_key_encode(kb, &k);
    key.mv_data = kb;
    assert_int_equal(mdb_get(s->txn, s->rollups, &key, &val), 0);
    assert_int_equal(ngx_cx_rollup_ids(val.mv_data, val.mv_size, &ids, &nids), 0);
    assert_int_equal(nids, 1);
    memset(id, 0, sizeof(id));
    id[7 + 4] = 1;
    ngx_cx_put_be(id, (T0 - 60000) / 1000, 4);
    assert_memory_equal(ids, id, 12);
    assert_int_equal(count_rows(s, NGX_CX_ROLLUP_COMMENTS), 1);

    assert_int_equal(count_rows(s, 0),
                     3 + 4 + count_rows(s, NGX_CX_ROLLUP_PURCHASE) + 2 + 2 + 1);

    /* built twice: the same rows, byte for byte */
    d1 = malloc(1 << 16);
    d2 = malloc(1 << 16);
    assert_non_null(d1);
    assert_non_null(d2);

    n1 = dump_rows(s, d1, 1 << 16);
    assert_int_equal(ngx_cx_rollup_rebuild(s->txn, s->responses, s->events,
                                           s->rollups, s->meta, NULL, NULL), 0);
    store_commit(s);
    n2 = dump_rows(s, d2, 1 << 16);
    assert_int_equal(n1, n2);
    assert_memory_equal(d1, d2, n1);

    free(d1);
    free(d2);

    /* ready only at this version of the rows */
    {
        unsigned char  c[NGX_CX_COUNTER_LEN];

        key.mv_data = NGX_CX_META_ROLLUPS;
        key.mv_size = strlen(NGX_CX_META_ROLLUPS);
        assert_int_equal(mdb_get(s->txn, s->meta, &key, &val), 0);
        assert_int_equal(val.mv_size, NGX_CX_COUNTER_LEN);

        ngx_cx_counter_encode(c, NGX_CX_ROLLUP_VERSION + 1);
        val.mv_data = c;
        val.mv_size = sizeof(c);
        assert_int_equal(mdb_put(s->txn, s->meta, &key, &val, 0), 0);
        assert_int_equal(ngx_cx_rollup_ready(s->txn, s->meta, &ready), 0);
        assert_int_equal(ready, 0);

        val.mv_size = 3;
        assert_int_equal(mdb_put(s->txn, s->meta, &key, &val, 0), 0);
        assert_int_equal(ngx_cx_rollup_ready(s->txn, s->meta, &ready), 0);
        assert_int_equal(ready, 0);

        assert_int_equal(ngx_cx_rollup_mark_ready(s->txn, s->meta), 0);
        assert_int_equal(ngx_cx_rollup_ready(s->txn, s->meta, &ready), 0);
        assert_int_equal(ready, 1);
    }
}


/* an empty store builds to no rows, and is ready */

static void
test_rebuild_empty(void **state)
{
    store_t   *s = *state;
    int        ready;
    uint64_t   nr, ne;

    nr = ne = 99;
    assert_int_equal(ngx_cx_rollup_rebuild(s->txn, s->responses, s->events,
                                           s->rollups, s->meta, &nr, &ne), 0);
    assert_int_equal(nr, 0);
    assert_int_equal(ne, 0);
    assert_int_equal(count_rows(s, 0), 0);
    assert_int_equal(ngx_cx_rollup_ready(s->txn, s->meta, &ready), 0);
    assert_int_equal(ready, 1);
}


/* ---- bugs this file found in src/ngx_cx_rollup.c, fixed ---- */


/*
 * SRC BUG: ngx_cx_rollup_row_merge() takes a row for a comments row when
 * its last counter, n[NGX_CX_ROLLUP_COUNTERS - 1], equals 'C' (67), the
 * tag ngx_cx_rollup_comments() leaves there. In a T row that counter is
 * histogram bucket 99 (moves over ~274 days apart). A batch's T row with
 * 67 such moves is then merged in ngx_cx_rollup_flush() as a list of ids,
 * which fails on the stored T value, and "a malformed stored row is
 * replaced": the stored counts are lost. Expected 1 + 67 moves, got 67.
 */
static void
test_src_bug_moves_row_taken_for_comments(void **state)
{
    store_t                *s = *state;
    unsigned                i;
    unsigned char           visitor[NGX_CX_VISITOR_ID_LEN];
    ngx_cx_rollup_row_t     row;
    ngx_cx_rollup_visit_t   v;
    ngx_cx_rollup_batch_t  *b;


    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);

    rng = 99;
    random_id(visitor);
    memset(&v, 0, sizeof(v));
    v.at_ms = T0;
    v.visitor = visitor;
    v.stage = 0;
    v.touchpoint = (const unsigned char *) "b";
    v.touchpoint_len = 1;
    v.from = (const unsigned char *) "a";
    v.from_len = 1;
    v.from_seconds = 1u << 30;                  /* bucket 99 */
    v.purchase_seconds = -1;

    assert_int_equal(ngx_cx_hist_bucket(1u << 30), NGX_CX_HIST_BUCKETS - 1);

    assert_int_equal(ngx_cx_rollup_add_visit(b, s->txn, s->rollups, &v), 0);
    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);

    for (i = 0; i < NGX_CX_ROLLUP_COMMENTS; i++) {
        assert_int_equal(ngx_cx_rollup_add_visit(b, s->txn, s->rollups, &v), 0);
    }

    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);

    assert_int_equal(sum_rows(s, DAY0, NGX_CX_ROLLUP_MOVES, "a", "b", &row), 1);
    assert_int_equal(row.n[NGX_CX_RT_MOVES], 1 + NGX_CX_ROLLUP_COMMENTS);
    assert_int_equal(row.n[NGX_CX_RT_HIST + NGX_CX_HIST_BUCKETS - 1],
                     1 + NGX_CX_ROLLUP_COMMENTS);

    ngx_cx_rollup_batch_free(b);
}


/*
 * SRC BUG: the P row's key should hold nothing besides the day and the
 * kind (the header's table: "P  -"). ngx_cx_rollup_add_visit() builds it
 * from the V key, clearing the names only after a T row, so a purchase
 * visit that is no move (the visitor's first visit, or the same
 * touchpoint again) keys its P row by the touchpoint's name: one
 * day's purchases are split over several P rows. Expected one P row with
 * a_len 0 and b_len 0; got two, one of them named "checkout". Checked
 * last: every P row (and T row) also keeps the visit's stage (3 here), which
 * the header's table does not list either; if the stage is meant to be in
 * the key, say so in ngx_cx_rollup.h and drop that check.
 */
static void
test_src_bug_purchase_row_key(void **state)
{
    store_t                *s = *state;
    int                     rc;
    unsigned                n, named, staged;
    unsigned char           visitor[NGX_CX_VISITOR_ID_LEN];
    MDB_val                 key, val;
    MDB_cursor             *cur;
    ngx_cx_rollup_key_t     k;
    ngx_cx_rollup_visit_t   v;
    ngx_cx_rollup_batch_t  *b;


    b = ngx_cx_rollup_batch_create();
    assert_non_null(b);

    /* a first visit, straight to checkout: no move */
    rng = 5;
    random_id(visitor);
    memset(&v, 0, sizeof(v));
    v.at_ms = T0;
    v.visitor = visitor;
    v.stage = NGX_CX_STAGE_PURCHASE;
    v.touchpoint = (const unsigned char *) "checkout";
    v.touchpoint_len = 8;
    v.first_arrival = 1;
    v.purchase_seconds = 0;
    assert_int_equal(ngx_cx_rollup_add_visit(b, s->txn, s->rollups, &v), 0);

    /* another visitor, from home */
    random_id(visitor);
    v.from = (const unsigned char *) "home";
    v.from_len = 4;
    v.from_seconds = 20;
    v.purchase_seconds = 20;
    assert_int_equal(ngx_cx_rollup_add_visit(b, s->txn, s->rollups, &v), 0);

    assert_int_equal(ngx_cx_rollup_flush(b, s->txn, s->rollups), 0);

    n = 0;
    named = 0;
    staged = 0;
    assert_int_equal(mdb_cursor_open(s->txn, s->rollups, &cur), 0);

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        assert_int_equal(ngx_cx_rollup_key_decode(key.mv_data, key.mv_size,
                                                  &k), 0);

        if (k.kind == NGX_CX_ROLLUP_PURCHASE) {
            n++;
            named += (k.a_len != 0 || k.b_len != 0);
            staged += (k.stage != 0);
        }
    }

    mdb_cursor_close(cur);

    assert_int_equal(named, 0);
    assert_int_equal(n, 1);
    assert_int_equal(staged, 0);

    ngx_cx_rollup_batch_free(b);
}


/*
 * SRC BUG: a sketch register is a rank, 1..55 (64 - 10 + 1), but
 * ngx_cx_rollup_row_merge() takes any byte from a stored V value and
 * ngx_cx_hll_estimate() computes (uint64_t) 1 << hll[i]: a register of 64
 * or more (a damaged row) is a shift past the width, undefined behaviour
 * (UBSan aborts the whole binary here, which is why this test is last).
 * Either fix passes: merge refuses such a value, or the estimate copes.
 */
static void
test_src_bug_sketch_register_range(void **state)
{
    int                  rc;
    size_t               len;
    uint64_t             e;
    unsigned char        val[NGX_CX_ROLLUP_VAL_MAX];
    ngx_cx_rollup_row_t  row;

    (void) state;


    memset(&row, 0, sizeof(row));
    row.n[NGX_CX_RV_VISITS] = 1;
    row.hll[0] = 200;
    len = ngx_cx_rollup_row_encode(val, NGX_CX_ROLLUP_VISITS, &row);
    assert_int_equal(len, 2 + 8 + NGX_CX_HLL_REGS);

    memset(&row, 0, sizeof(row));
    rc = ngx_cx_rollup_row_merge(&row, val, len, 1);

    if (rc == 0) {
        e = ngx_cx_hll_estimate(row.hll);
        assert_true(e >= 1);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_key_round_trip),
        cmocka_unit_test(test_key_refused),
        cmocka_unit_test(test_key_ms),
        cmocka_unit_test(test_row_encode),
        cmocka_unit_test(test_row_merge),
        cmocka_unit_test(test_row_sketch_merge),
        cmocka_unit_test(test_hll_small),
        cmocka_unit_test(test_hll_large),
        cmocka_unit_test(test_hll_union),
        cmocka_unit_test(test_hist_buckets),
        cmocka_unit_test(test_hist_quantile),
        cmocka_unit_test(test_record_key_and_day),
        cmocka_unit_test(test_record_counters),
        cmocka_unit_test(test_record_resurvey),
        cmocka_unit_test_setup_teardown(test_batch_add_and_take_away,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_batch_many_keys,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_batch_comments,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_batch_prune,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_batch_offers_and_visits,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_empty,
                                        store_setup, store_teardown),

        /* the bugs found and fixed */
        cmocka_unit_test_setup_teardown(test_src_bug_moves_row_taken_for_comments,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_src_bug_purchase_row_key,
                                        store_setup, store_teardown),
        cmocka_unit_test(test_src_bug_sketch_register_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
