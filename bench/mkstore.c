/*
 * mkstore [--no-rollups] DIR RESPONSES [EVENTS] -- writes a synthetic ngx_cx
 * store, for measuring reports and exports at scale (bench/run).
 *
 * Without EVENTS (the form bench/run's reports step and t/46 use): RESPONSES
 * records and nothing else, as a store written before the report rollups
 * was: keyed by the prompt id (issue time first), spread over the last 400
 * days, two touchpoints, one NPS survey with scores cycling 0..10, a comment
 * on every 50th.  No rollups and no "rollups" mark in meta, so nginx builds
 * them at start (and logs it).
 *
 * With EVENTS: a year of journeys.  Visitors (random 12-byte ids) move
 * between nine touchpoints of the six stages (home/awareness,
 * product/consideration, cart/consideration, checkout/purchase,
 * thanks/purchase, account/usage, help/usage, rewards/loyalty,
 * review/advocacy) over the last 365 days, in time order: a new visitor
 * enters, a visitor in a session takes the next step minutes later, a
 * returning one comes back days or weeks later.  EVENTS journey events in
 * all: visits (kind 1) and, on some of them, offers (kind 2, about 5 in 4
 * of the responses); RESPONSES responses to three surveys (nps_brand at
 * home, account, rewards and review; csat_order at product and thanks;
 * ces_effort at cart, checkout and help), displayed, answered (scores
 * drifting up over the year), commented, dismissed; a visitor offered the
 * same survey again answers with the earlier score as previous_score (the
 * re-survey movement).
 *
 * The report rollups are written as the module writes them, by the same
 * calls (ngx_cx_rollup.h): each response's row (ngx_cx_rollup_add_record),
 * its comment (ngx_cx_rollup_comments), each visit with what the visitor's
 * cookie would say (the touchpoint before, the seconds since, a first
 * arrival, the seconds from first seen to the first purchase-stage visit)
 * and each offer; the batch flushed before every commit; then the "rollups"
 * mark.  They equal, byte for byte, what "cxctl rebuild-rollups" builds
 * from the same store (bench/run's journey step checks that report.json
 * is the same after a rebuild).  --no-rollups leaves them
 * and the mark out: a store as an older version wrote it, which nginx
 * then builds the rollups of at start.
 *
 * Keys are written in order (MDB_APPEND), in transactions of a few hundred
 * thousand events, without fsync (MDB_NOSYNC, one sync at the end): 100 M
 * events take minutes.  The same arguments give the same store (a fixed
 * seed), except that "the last 365 days" end now.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lmdb.h>

#include "ngx_cx_record.h"
#include "ngx_cx_rollup.h"


#define MKSTORE_BATCH   50000           /* responses a transaction, plain */
#define MKSTORE_STEPS   400000          /* journey steps a transaction */
#define MKSTORE_PID     4242            /* the events' "worker" */
#define MKSTORE_SESSION 300             /* seconds a session's pages span */
#define MKSTORE_RING    65536           /* at most, visitors in a session */


static void
fail(const char *what, int rc)
{
    fprintf(stderr, "mkstore: %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: mkstore [--no-rollups] DIR RESPONSES [EVENTS]\n"
        "  RESPONSES only: an old-style store of responses, no rollups\n"
        "  with EVENTS: a year of journeys, EVENTS journey events and\n"
        "  RESPONSES responses, with the report rollups unless --no-rollups\n");
    exit(2);
}


/* ---- the old form: responses only ---- */

static void
mkstore_plain(MDB_env *env, const char *dir, long n)
{
    int              rc;
    long             i, span;
    time_t           now;
    MDB_txn         *txn;
    MDB_dbi          dbi, other;
    MDB_val          key, val;
    unsigned char    k[NGX_CX_RESPONSE_KEY_LEN], nonce[8], buf[4096], *end;
    uint32_t         issued;
    ngx_cx_record_t  rec;
    static const char  comment[] = "Delivery was quick, the kettle works.";

    now = time(NULL);
    span = 400L * 86400;

    memset(&rec, 0, sizeof(rec));
    rec.type = NGX_CX_TYPE_NPS;
    rec.survey.data = (const unsigned char *) "bench_nps";
    rec.survey.len = 9;
    rec.lang.data = (const unsigned char *) "en";
    rec.lang.len = 2;
    rec.path.data = (const unsigned char *) "/checkout/done";
    rec.path.len = 14;

    txn = NULL;

    for (i = 0; i < n; i++) {
        if (txn == NULL) {
            if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) fail("txn", rc);
            rc = mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, MDB_CREATE, &dbi);
            if (rc != 0) {
                fail(NGX_CX_DB_RESPONSES, rc);
            }
            (void) mdb_dbi_open(txn, NGX_CX_DB_EVENTS, MDB_CREATE, &other);
            (void) mdb_dbi_open(txn, NGX_CX_DB_META, MDB_CREATE, &other);
        }

        /* time-ordered keys, as the module makes them; the nonce counts */
        issued = (uint32_t) (now - span + (span * i) / n);
        memset(nonce, 0, 4);
        nonce[4] = i >> 24; nonce[5] = i >> 16; nonce[6] = i >> 8; nonce[7] = i;
        ngx_cx_response_key(k, issued, nonce);

        rec.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED;
        rec.issued_at_ms = (uint64_t) issued * 1000;
        rec.displayed_at_ms = rec.issued_at_ms + 3000;
        rec.answered_at_ms = rec.issued_at_ms + 9000;
        rec.score = (int) (i % 11);
        rec.stage = (i & 1) ? 3 : 2;
        rec.touchpoint.data = (const unsigned char *) ((i & 1) ? "purchase" : "browse");
        rec.touchpoint.len = (i & 1) ? 8 : 6;
        memcpy(rec.visitor, k, sizeof(rec.visitor));
        rec.comment.len = 0;

        if (i % 50 == 0) {
            rec.flags |= NGX_CX_REC_COMMENTED;
            rec.commented_at_ms = rec.answered_at_ms + 5000;
            rec.comment.data = (const unsigned char *) comment;
            rec.comment.len = sizeof(comment) - 1;
        }

        end = ngx_cx_record_encode(buf, &rec);

        key.mv_data = k;
        key.mv_size = sizeof(k);
        val.mv_data = buf;
        val.mv_size = end - buf;

        if ((rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND)) != 0) fail("put", rc);

        if ((i + 1) % MKSTORE_BATCH == 0 || i + 1 == n) {
            if ((rc = mdb_txn_commit(txn)) != 0) fail("commit", rc);
            txn = NULL;
        }
    }

    printf("%ld responses written to %s\n", n, dir);
}


/* ---- the journey form ---- */

/* splitmix64: the ids and every choice */

static uint64_t  rng_state = 0x6378a1b2c3d4e5f6ULL;

static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ULL;
    return mix64(rng_state);
}

/* uniform in [0, n) */
static uint32_t
rnd_below(uint32_t n)
{
    return (uint32_t) (((rnd() >> 32) * (uint64_t) n) >> 32);
}

/* a per-mille weight table: the index its cumulative weights pick */
static unsigned
pick(const unsigned short *w, unsigned n)
{
    unsigned  i, x;

    x = rnd_below(1000);
    for (i = 0; i + 1 < n; i++) {
        if (x < w[i]) {
            return i;
        }
        x -= w[i];
    }
    return n - 1;
}


enum { HOME, PRODUCT, CART, CHECKOUT, THANKS, ACCOUNT, HELP, REWARDS,
       REVIEW, NTP };

enum { NPS_BRAND, CSAT_ORDER, CES_EFFORT, NSURVEY };

static const struct {
    const char  *name;
    unsigned     stage;
    unsigned     survey;
} tps[NTP] = {
    { "home",     1, NPS_BRAND },
    { "product",  2, CSAT_ORDER },
    { "cart",     2, CES_EFFORT },
    { "checkout", 3, CES_EFFORT },
    { "thanks",   3, CSAT_ORDER },
    { "account",  4, NPS_BRAND },
    { "help",     4, CES_EFFORT },
    { "rewards",  5, NPS_BRAND },
    { "review",   6, NPS_BRAND },
};

static const struct {
    const char     *name;
    unsigned char   type;
    int             lo, hi;
} surveys[NSURVEY] = {
    { "nps_brand",  NGX_CX_TYPE_NPS,  0, 10 },
    { "csat_order", NGX_CX_TYPE_CSAT, 1, 5 },
    { "ces_effort", NGX_CX_TYPE_CES,  1, 7 },
};

/* where a visitor enters (new, or back after a while), per mille */
static const unsigned short  entry[NTP] = {
    450, 300, 0, 0, 0, 100, 80, 50, 20
};

/* the next step in a session, per mille, from each touchpoint */
static const unsigned short  next[NTP][NTP] = {
    /*           home prod cart chck thnk acct help rwrd revw */
    /* home */  { 150, 550,   0,   0,   0, 120,  80,  50,  50 },
    /* prod */  { 200, 300, 350,   0,   0,   0, 100,   0,  50 },
    /* cart */  { 100, 300,   0, 550,   0,   0,  50,   0,   0 },
    /* chck */  {   0,   0, 150,   0, 750,   0, 100,   0,   0 },
    /* thnk */  { 250, 100,   0,   0,   0, 350,   0, 100, 200 },
    /* acct */  { 300, 150,   0,   0,   0,   0, 250, 200, 100 },
    /* help */  { 350, 300,   0,   0,   0, 250, 100,   0,   0 },
    /* rwrd */  { 400, 400,   0,   0,   0, 200,   0,   0,   0 },
    /* revw */  { 600, 400,   0,   0,   0,   0,   0,   0,   0 },
};

static const char  *langs[] = { "en", "de", "fr", "es" };
static const unsigned short  lang_w[] = { 700, 150, 100, 50 };

static const char  *comments[] = {
    "Delivery was quick, the kettle works.",
    "Could not find the returns form.",
    "Great prices",
    "The checkout asked for my address twice, and then the page timed out "
    "before I could pay. Second try worked.",
    "Support answered within the hour, thank you!",
    "Too many emails since I signed up.",
    "ok",
    "The size guide is wrong for the boots: order one size up.",
};


/*
 * A visitor: what the module's cookie holds, and what the rebuild follows
 * (ngx_cx_rollup_rebuild): first seen at the first event, the touchpoints
 * visited, the last one and when, the stages reached; and the last score
 * given to each survey (the cookie's, for previous_score).
 */
typedef struct {
    uint32_t   first_seen;
    uint32_t   last_at;
    uint16_t   visited;
    uint8_t    last;                    /* touchpoint + 1, 0 none */
    uint8_t    stages;
    uint8_t    prev[NSURVEY];           /* score + 1, 0 none */
} visitor_t;


static void
visitor_id(unsigned char id[NGX_CX_VISITOR_ID_LEN], uint32_t v)
{
    uint64_t  a, b;

    a = mix64(((uint64_t) v << 1) ^ 0x5bd1e9955bd1e995ULL);
    b = mix64(((uint64_t) v << 1 | 1) ^ 0x5bd1e9955bd1e995ULL);
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 4);
}


/* how many of n things fall on step i of s, spread evenly */
static uint64_t
spread(uint64_t i, uint64_t n, uint64_t s)
{
    return (i + 1) * n / s - i * n / s;
}


typedef struct {
    MDB_env                *env;
    MDB_txn                *txn;
    MDB_dbi                 responses, events, rollups, meta;
    int                     rollup;     /* write them */
    ngx_cx_rollup_batch_t  *b;          /* the transaction's rows */
    uint32_t                seq;
    uint64_t                nresp, nvisit, noffer, ncomment, nresurvey;
    uint64_t                flushes;
} store_t;


static void
store_begin(store_t *st)
{
    int  rc;

    if ((rc = mdb_txn_begin(st->env, NULL, 0, &st->txn)) != 0) fail("txn", rc);
    if ((rc = mdb_dbi_open(st->txn, NGX_CX_DB_META, MDB_CREATE, &st->meta))
        || (rc = mdb_dbi_open(st->txn, NGX_CX_DB_RESPONSES, MDB_CREATE,
                              &st->responses))
        || (rc = mdb_dbi_open(st->txn, NGX_CX_DB_EVENTS, MDB_CREATE,
                              &st->events)))
    {
        fail("mdb_dbi_open", rc);
    }

    if (st->rollup) {
        rc = mdb_dbi_open(st->txn, NGX_CX_DB_ROLLUPS, MDB_CREATE, &st->rollups);
        if (rc != 0) fail("mdb_dbi_open rollups", rc);
    }
}


static void
store_commit(store_t *st, int last)
{
    int  rc;

    if (st->rollup) {
        if ((rc = ngx_cx_rollup_flush(st->b, st->txn, st->rollups)) != 0) {
            fail("rollup flush", rc);
        }

        if (last && (rc = ngx_cx_rollup_mark_ready(st->txn, st->meta))) {
            fail("rollup mark", rc);
        }
    }

    if ((rc = mdb_txn_commit(st->txn)) != 0) fail("commit", rc);
    st->txn = NULL;
}


static void
put_event(store_t *st, uint64_t at_ms, ngx_cx_journey_t *ev)
{
    int            rc;
    MDB_val        key, val;
    unsigned char  k[NGX_CX_JOURNEY_KEY_LEN], v[NGX_CX_JOURNEY_VAL_MAX];

    ngx_cx_journey_key(k, at_ms, MKSTORE_PID, ++st->seq);
    key.mv_data = k;
    key.mv_size = sizeof(k);
    val.mv_data = v;
    val.mv_size = ngx_cx_journey_encode(v, ev);

    rc = mdb_put(st->txn, st->events, &key, &val, MDB_APPEND);
    if (rc != 0) fail("put event", rc);
}


/* A visit of touchpoint tp by visitor vi at now: the event, the rollups
 * with what the cookie says before it, then the cookie moves. */

static void
visit(store_t *st, visitor_t *vs, uint32_t vi, unsigned tp, uint32_t now)
{
    int                    rc;
    ngx_cx_journey_t       ev;
    ngx_cx_rollup_visit_t  v;

    memset(&ev, 0, sizeof(ev));
    visitor_id(ev.visitor, vi);
    ev.kind = 1;
    ev.stage = (unsigned char) tps[tp].stage;
    ev.name_len = (unsigned char) strlen(tps[tp].name);
    memcpy(ev.name, tps[tp].name, ev.name_len);

    put_event(st, (uint64_t) now * 1000, &ev);
    st->nvisit++;

    if (vs->first_seen == 0) {
        vs->first_seen = now;
    }

    if (st->rollup) {
        memset(&v, 0, sizeof(v));
        v.at_ms = (uint64_t) now * 1000;
        v.visitor = ev.visitor;
        v.stage = tps[tp].stage;
        v.touchpoint = (const unsigned char *) tps[tp].name;
        v.touchpoint_len = ev.name_len;
        v.first_arrival = !(vs->visited & (1u << tp));
        v.purchase_seconds = -1;

        if (vs->last) {
            v.from = (const unsigned char *) tps[vs->last - 1].name;
            v.from_len = strlen(tps[vs->last - 1].name);
            v.from_seconds = now >= vs->last_at ? now - vs->last_at : 0;
        }

        if (tps[tp].stage == NGX_CX_STAGE_PURCHASE
            && !(vs->stages & (1u << NGX_CX_STAGE_PURCHASE)))
        {
            v.purchase_seconds = now >= vs->first_seen
                                 ? now - vs->first_seen : 0;
        }

        rc = ngx_cx_rollup_add_visit(st->b, st->txn, st->rollups, &v);
        if (rc != 0) fail("rollup visit", rc);
    }

    vs->visited |= (uint16_t) (1u << tp);
    vs->last = (uint8_t) (tp + 1);
    vs->last_at = now;
    vs->stages |= (uint8_t) (1u << tps[tp].stage);
}


static void
offer(store_t *st, visitor_t *vs, uint32_t vi, unsigned tp, uint32_t now)
{
    int               rc;
    unsigned          s;
    ngx_cx_journey_t  ev;

    s = tps[tp].survey;

    memset(&ev, 0, sizeof(ev));
    visitor_id(ev.visitor, vi);
    ev.kind = 2;
    ev.stage = (unsigned char) tps[tp].stage;
    ev.name_len = (unsigned char) strlen(surveys[s].name);
    memcpy(ev.name, surveys[s].name, ev.name_len);

    put_event(st, (uint64_t) now * 1000, &ev);
    st->noffer++;

    if (vs->first_seen == 0) {
        vs->first_seen = now;
    }

    if (st->rollup) {
        rc = ngx_cx_rollup_add_offer(st->b, st->txn, st->rollups,
                                     (uint64_t) now * 1000, ev.name,
                                     ev.name_len);
        if (rc != 0) fail("rollup offer", rc);
    }
}


/* a score for survey s, a year's drift f (0..1) towards the better */

static int
score(unsigned s, double f)
{
    static const unsigned short  csat[5] = { 60, 80, 160, 340, 360 };
    static const unsigned short  ces[7] = { 30, 50, 90, 140, 250, 250, 190 };
    unsigned                     x, det, pas;

    switch (s) {

    case NPS_BRAND:
        det = (unsigned) (330 - 120 * f);       /* 0..6 */
        pas = 300;                              /* 7..8 */
        x = rnd_below(1000);
        if (x < det) {
            return (int) rnd_below(7);
        }
        if (x < det + pas) {
            return 7 + (int) rnd_below(2);
        }
        return 9 + (int) rnd_below(2);

    case CSAT_ORDER:
        return 1 + (int) pick(csat, 5);

    default:
        return 1 + (int) pick(ces, 7);
    }
}


static void
respond(store_t *st, visitor_t *vs, uint32_t vi, unsigned tp, uint32_t now,
    double f)
{
    int              rc, sc;
    unsigned         s, x;
    MDB_val          key, val;
    const char      *lang, *c;
    unsigned char    k[NGX_CX_RESPONSE_KEY_LEN], nonce[8], *end;
    unsigned char    buf[1024];
    uint64_t         r;
    char             path[80];
    ngx_cx_record_t  rec;

    s = tps[tp].survey;

    memset(&rec, 0, sizeof(rec));
    rec.type = surveys[s].type;
    rec.stage = (unsigned char) tps[tp].stage;
    visitor_id(rec.visitor, vi);
    rec.survey.data = (const unsigned char *) surveys[s].name;
    rec.survey.len = strlen(surveys[s].name);
    rec.touchpoint.data = (const unsigned char *) tps[tp].name;
    rec.touchpoint.len = strlen(tps[tp].name);
    lang = langs[pick(lang_w, 4)];
    rec.lang.data = (const unsigned char *) lang;
    rec.lang.len = 2;
    rec.path.len = (size_t) snprintf(path, sizeof(path), "/%s%s",
                                     tps[tp].name,
                                     tp == PRODUCT ? "/kettle-1.7l" : "");
    rec.path.data = (const unsigned char *) path;

    /* issued now; displayed 9 in 10, then answered, dismissed, or left */
    rec.issued_at_ms = (uint64_t) now * 1000;
    x = rnd_below(1000);

    if (x < 900) {
        rec.flags |= NGX_CX_REC_DISPLAYED;
        rec.displayed_at_ms = rec.issued_at_ms + 1000 + rnd_below(30000);
    }

    if (x < 560) {
        sc = score(s, f);

        if (vs->prev[s]) {
            /* asked again: near the earlier answer, mostly */
            rec.has_previous = 1;
            rec.previous_score = vs->prev[s] - 1;
            if (rnd_below(10) < 7) {
                sc = rec.previous_score + (int) rnd_below(5) - 2;
                if (rnd_below(3) == 0) {
                    sc++;                       /* things got better */
                }
                sc = sc < surveys[s].lo ? surveys[s].lo
                     : sc > surveys[s].hi ? surveys[s].hi : sc;
            }
            st->nresurvey++;
        }

        rec.flags |= NGX_CX_REC_ANSWERED;
        rec.score = sc;
        rec.answered_at_ms = rec.displayed_at_ms + 2000 + rnd_below(120000);
        vs->prev[s] = (uint8_t) (sc + 1);

        if (rnd_below(100) < 12) {
            c = comments[rnd_below(sizeof(comments) / sizeof(comments[0]))];
            rec.flags |= NGX_CX_REC_COMMENTED;
            rec.commented_at_ms = rec.answered_at_ms + 5000
                                  + rnd_below(300000);
            rec.comment.data = (const unsigned char *) c;
            rec.comment.len = strlen(c);
        }

    } else if (x < 760) {
        rec.flags |= NGX_CX_REC_DISMISSED;
        rec.dismissed_at_ms = rec.displayed_at_ms + 3000 + rnd_below(60000);

    } else if (x >= 900) {
        /* not displayed: never written by the module (a response is made
         * by its first intake event); answered without a display, then */
        rec.flags |= NGX_CX_REC_ANSWERED;
        rec.score = score(s, f);
        rec.answered_at_ms = rec.issued_at_ms + 5000 + rnd_below(60000);
    }

    /* the prompt id: issued_at, then a counter and random bytes, so keys
     * keep the order they are written in */
    r = rnd();
    nonce[0] = (unsigned char) (st->nresp >> 24);
    nonce[1] = (unsigned char) (st->nresp >> 16);
    nonce[2] = (unsigned char) (st->nresp >> 8);
    nonce[3] = (unsigned char) st->nresp;
    memcpy(nonce + 4, &r, 4);
    ngx_cx_response_key(k, now, nonce);

    if (!ngx_cx_record_valid(&rec)) {
        fprintf(stderr, "mkstore: invalid record\n");
        exit(1);
    }

    end = ngx_cx_record_encode(buf, &rec);

    key.mv_data = k;
    key.mv_size = sizeof(k);
    val.mv_data = buf;
    val.mv_size = (size_t) (end - buf);

    rc = mdb_put(st->txn, st->responses, &key, &val, MDB_APPEND);
    if (rc != 0) fail("put response", rc);

    st->nresp++;
    st->ncomment += !!(rec.flags & NGX_CX_REC_COMMENTED);

    if (st->rollup) {
        rc = ngx_cx_rollup_add_record(st->b, st->txn, st->rollups, &rec, 1);
        if (rc == 0 && (rec.flags & NGX_CX_REC_COMMENTED)) {
            rc = ngx_cx_rollup_comments(st->b, st->txn, st->rollups, k, &rec);
        }
        if (rc != 0) fail("rollup response", rc);
    }
}


static void
mkstore_journeys(MDB_env *env, const char *dir, uint64_t nr, uint64_t ne,
    int rollup)
{
    double          f;
    uint64_t        i, s, nv, no, nvis, span, start, off, k, nring;
    uint32_t        now, vi, cap, *ring, w, x;
    unsigned        tp;
    visitor_t      *vs, *v;
    store_t         st;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* offers: about 5 for every 4 responses, at most half the events */
    no = nr + nr / 4;
    if (no > ne / 2) {
        no = ne / 2;
    }
    nv = ne - no;

    /* a step is one page a visitor sees; visits and offers are spread
     * over them evenly, and responses over the offers (or the steps, when
     * there are more responses than offers) */
    s = nv > nr ? nv : nr;
    if (s == 0) {
        s = 1;
    }

    /* the visitors of the last few minutes' pages are in a session */
    span = 365ULL * 86400;
    w = (uint32_t) (s * MKSTORE_SESSION / span);
    w = w < 16 ? 16 : w > MKSTORE_RING ? MKSTORE_RING : w;

    cap = (uint32_t) (s / 8 + 1024 < 0xfffffff0u ? s / 8 + 1024 : 0xfffffff0u);
    vs = calloc(cap, sizeof(visitor_t));
    ring = malloc(w * sizeof(uint32_t));
    if (vs == NULL || ring == NULL) {
        fprintf(stderr, "mkstore: no memory for %u visitors\n", cap);
        exit(1);
    }

    memset(&st, 0, sizeof(st));
    st.env = env;
    st.rollup = rollup;
    if (rollup) {
        st.b = ngx_cx_rollup_batch_create();
        if (st.b == NULL) {
            fprintf(stderr, "mkstore: no memory\n");
            exit(1);
        }
    }

    start = (uint64_t) time(NULL) - span;

    nvis = 0;
    nring = 0;
    off = 0;

    store_begin(&st);

    for (i = 0; i < s; i++) {
        now = (uint32_t) (start + i * span / s);
        f = (double) i / (double) s;

        /* who: a new visitor, one in a session, or one coming back */
        x = rnd_below(1000);

        if (nvis == 0 || (x < 100 && nvis < cap)) {
            vi = (uint32_t) nvis++;
            tp = pick(entry, NTP);

        } else if (x < 720 && nring > 0) {
            vi = ring[rnd_below(nring < w ? (uint32_t) nring : w)];
            v = &vs[vi];
            tp = v->last ? pick(next[v->last - 1], NTP) : pick(entry, NTP);

        } else {
            /* back after a while: the recent ones more likely */
            double  u = (double) rnd_below(1u << 30) / (double) (1u << 30);
            vi = (uint32_t) (nvis - 1 - (uint64_t) ((double) nvis * u * u));
            tp = pick(entry, NTP);
        }

        v = &vs[vi];
        ring[nring++ % w] = vi;

        if (spread(i, nv, s)) {
            visit(&st, v, vi, tp, now);
        }

        if (no && spread(i, no, s)) {
            offer(&st, v, vi, tp, now);

            if (nr <= no && spread(off, nr, no)) {
                respond(&st, v, vi, tp, now, f);
            }
            off++;
        }

        if (nr > no) {
            for (k = spread(i, nr, s); k > 0; k--) {
                respond(&st, v, vi, tp, now, f);
            }
        }

        if ((i + 1) % MKSTORE_STEPS == 0 && i + 1 < s) {
            store_commit(&st, 0);
            store_begin(&st);
        }
    }

    store_commit(&st, 1);

    clock_gettime(CLOCK_MONOTONIC, &t1);

    printf("%llu responses (%llu commented, %llu re-surveys) and %llu "
           "journey events (%llu visits, %llu offers) of %llu visitors "
           "written to %s, %s, in %.1f s\n",
           (unsigned long long) st.nresp, (unsigned long long) st.ncomment,
           (unsigned long long) st.nresurvey,
           (unsigned long long) (st.nvisit + st.noffer),
           (unsigned long long) st.nvisit, (unsigned long long) st.noffer,
           (unsigned long long) nvis, dir,
           rollup ? "with the rollups" : "without rollups",
           (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

    ngx_cx_rollup_batch_free(st.b);
    free(vs);
    free(ring);
}


int
main(int argc, char **argv)
{
    int          rc, i, rollup, nargs;
    char        *end, *args[3];
    long long    n[2];
    MDB_env     *env;

    rollup = 1;
    nargs = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-rollups") == 0) {
            rollup = 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage();
        } else if (nargs < 3) {
            args[nargs++] = argv[i];
        } else {
            usage();
        }
    }

    if (nargs < 2) {
        usage();
    }

    for (i = 1; i < nargs; i++) {
        n[i - 1] = strtoll(args[i], &end, 10);
        if (*args[i] == '\0' || *end != '\0' || n[i - 1] < 0
            || n[i - 1] > 4000000000LL)
        {
            usage();
        }
    }

    if (nargs == 2 && n[0] <= 0) {
        usage();
    }

    if ((rc = mdb_env_create(&env)) != 0) fail("mdb_env_create", rc);
    mdb_env_set_maxdbs(env, NGX_CX_STORE_MAXDBS);

    /* the file grows as it is written; the map only has to be large */
    mdb_env_set_mapsize(env, (size_t) (nargs == 2 ? 8 : 64) << 30);

    if ((rc = mdb_env_open(env, args[0], MDB_NOSYNC, 0600)) != 0) {
        fail(args[0], rc);
    }

    if (nargs == 2) {
        mkstore_plain(env, args[0], (long) n[0]);
    } else {
        mkstore_journeys(env, args[0], (uint64_t) n[0], (uint64_t) n[1],
                         rollup);
    }

    if ((rc = mdb_env_sync(env, 1)) != 0) fail("mdb_env_sync", rc);
    mdb_env_close(env);

    return 0;
}
