/*
 * rollupcost -- what do the report rollups cost the commit path?
 *
 *   rollupcost [-d seconds] [-r rounds] [-p prefill] [-n] DIR
 *
 * Two stores under DIR (made fresh: DIR/with, DIR/without), synced as the
 * module's are (no MDB_NOSYNC: every commit is on disk when it returns).
 * Both get the same commits, written the way ngx_http_cx_store.c writes
 * them: a response write is mdb_get, ngx_cx_record_update, mdb_put; an
 * event is mdb_put of its key and value.  In "with", as in the module, a
 * response write also takes the old record's counts away and adds the new
 * one's (ngx_cx_rollup_add_record -1/+1, ngx_cx_rollup_comments for a
 * comment), an event adds its visit or offer (ngx_cx_rollup_add_visit,
 * ngx_cx_rollup_add_offer), and the batch is flushed before the commit.
 * "without" is the commit path before the rollups.
 *
 * Three loads, each a closed loop of commits of a fixed shape:
 *   answers x1        one response write a commit (an answer on a quiet
 *                     server: its latency)
 *   answers x32       32 response writes and 64 journey events a commit
 *                     (intake under load: the writes that arrive while a
 *                     commit runs go into the next)
 *   events x2048      2048 journey events a commit (the module commits its
 *                     event queue when 2048 are waiting, or every 500 ms)
 * Response writes are displays of new prompts, answers to prompts
 * displayed earlier (64 back) and a comment on every eighth, over three
 * surveys at nine touchpoints; events are visits (7 in 8) and offers.
 *
 * Each load runs `rounds` rounds; a round gives each store the same time
 * (seconds / rounds / 2), the two taking turns, in reverse order every
 * other round, so both see the same machine.  A round's ratio is with's
 * rate over without's; printed: each store's rate over all rounds, the
 * median ratio and the rounds' ratios.  Before that, both stores are filled
 * with `prefill` journey events (a tenth as many responses) over the last
 * year, and "with" with their rollups, so the trees are as deep as on a
 * store in use.  Also printed: the time and the bytes written (pwrite, from
 * /proc/self/io) a commit.  -n: commits not synced (MDB_NOSYNC), which
 * leaves the CPU's part of the cost.  Bounded: at most seconds + 0.4 s a
 * load, after the prefill.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <lmdb.h>

#include "ngx_cx_record.h"
#include "ngx_cx_rollup.h"


#define RC_PID        777
#define RC_LAG        64        /* answers go to prompts this many back */
#define RC_MAXROUNDS  99
#define RC_RING       1024      /* > 2 x RC_LAG */


static void
fail(const char *what, int rc)
{
    fprintf(stderr, "rollupcost: %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}


static double
mono(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* bytes this process has written (LMDB writes its dirty pages with
 * pwrite): /proc/self/io's wchar, or 0 */

static uint64_t
written(void)
{
    char                buf[512];
    FILE               *f;
    unsigned long long  v;

    v = 0;
    f = fopen("/proc/self/io", "r");
    if (f == NULL) {
        return 0;
    }

    while (fgets(buf, sizeof(buf), f)) {
        if (sscanf(buf, "wchar: %llu", &v) == 1) {
            break;
        }
    }

    fclose(f);

    return v;
}


static uint64_t  rng = 0x243f6a8885a308d3ULL;

static uint32_t
rnd_below(uint32_t n)
{
    uint64_t  z;

    rng += 0x9e3779b97f4a7c15ULL;
    z = rng;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;

    return (uint32_t) (((z >> 32) * (uint64_t) n) >> 32);
}


static const struct {
    const char  *name;
    unsigned     stage;
    unsigned     survey;
} tps[] = {
    { "home", 1, 0 }, { "product", 2, 1 }, { "cart", 2, 2 },
    { "checkout", 3, 2 }, { "thanks", 3, 1 }, { "account", 4, 0 },
    { "help", 4, 2 }, { "rewards", 5, 0 }, { "review", 6, 0 },
};
#define NTP  (sizeof(tps) / sizeof(tps[0]))

static const struct {
    const char     *name;
    unsigned char   type;
    int             lo, hi;
} surveys[] = {
    { "nps_brand", NGX_CX_TYPE_NPS, 0, 10 },
    { "csat_order", NGX_CX_TYPE_CSAT, 1, 5 },
    { "ces_effort", NGX_CX_TYPE_CES, 1, 7 },
};

static const char  comment[] = "Could not find the returns form.";


typedef struct {
    const char             *name;
    MDB_env                *env;
    MDB_dbi                 responses, events, rollups, meta;
    int                     rollup;
    ngx_cx_rollup_batch_t  *b;
    uint32_t                seq;
    uint64_t                step;       /* next_write's */
    uint32_t                issued[RC_RING];
    uint64_t                writes;     /* response writes so far */
    uint64_t                conflicts;  /* refused (none expected) */
    uint64_t                nevents;
} store_t;


static void
store_open(store_t *st, const char *dir, const char *name, int rollup)
{
    int       rc;
    char      path[4096];
    MDB_txn  *txn;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }

    memset(st, 0, sizeof(store_t));
    st->name = name;
    st->rollup = rollup;
    st->b = ngx_cx_rollup_batch_create();

    if ((rc = mdb_env_create(&st->env)) != 0) fail("mdb_env_create", rc);
    mdb_env_set_maxdbs(st->env, NGX_CX_STORE_MAXDBS);
    mdb_env_set_mapsize(st->env, (size_t) 4 << 30);

    /* as the module opens it (ngx_http_cx_store_env): synced */
    if ((rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600)) != 0) {
        fail(path, rc);
    }

    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) fail("txn", rc);
    if ((rc = mdb_dbi_open(txn, NGX_CX_DB_META, MDB_CREATE, &st->meta))
        || (rc = mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, MDB_CREATE,
                              &st->responses))
        || (rc = mdb_dbi_open(txn, NGX_CX_DB_EVENTS, MDB_CREATE, &st->events))
        || (rc = mdb_dbi_open(txn, NGX_CX_DB_ROLLUPS, MDB_CREATE,
                              &st->rollups)))
    {
        fail("mdb_dbi_open", rc);
    }
    if (rollup && (rc = ngx_cx_rollup_mark_ready(txn, st->meta)) != 0) {
        fail("mark", rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0) fail("commit", rc);
}


static void
visitor_of(unsigned char v[NGX_CX_VISITOR_ID_LEN], uint64_t n)
{
    uint64_t  x;

    x = n * 0x9e3779b97f4a7c15ULL;
    memcpy(v, &x, 8);
    memcpy(v + 8, &n, 4);
}


/* the prompt n's fresh record and id, as the module has them from its
 * token: issued at issued_s */

static void
prompt(uint64_t n, uint32_t issued_s, ngx_cx_record_t *rec,
    unsigned char id[NGX_CX_RESPONSE_KEY_LEN])
{
    unsigned       tp, s;
    unsigned char  nonce[8];

    tp = (unsigned) (n * 7 % NTP);
    s = tps[tp].survey;

    memset(rec, 0, sizeof(ngx_cx_record_t));
    rec->type = surveys[s].type;
    rec->stage = (unsigned char) tps[tp].stage;
    visitor_of(rec->visitor, n / 3);
    rec->survey.data = (const unsigned char *) surveys[s].name;
    rec->survey.len = strlen(surveys[s].name);
    rec->touchpoint.data = (const unsigned char *) tps[tp].name;
    rec->touchpoint.len = strlen(tps[tp].name);
    rec->lang.data = (const unsigned char *) "en";
    rec->lang.len = 2;
    rec->path.data = (const unsigned char *) "/checkout";
    rec->path.len = 9;
    rec->issued_at_ms = (uint64_t) issued_s * 1000;

    memset(nonce, 0, sizeof(nonce));
    nonce[4] = (unsigned char) (n >> 24);
    nonce[5] = (unsigned char) (n >> 16);
    nonce[6] = (unsigned char) (n >> 8);
    nonce[7] = (unsigned char) n;
    ngx_cx_response_key(id, issued_s, nonce);
}


/* One response write, as ngx_http_cx_store_apply makes it. */

static void
response_write(store_t *st, MDB_txn *txn, ngx_cx_event_e event, uint64_t n,
    uint32_t issued_s, uint64_t now_ms)
{
    int              rc;
    size_t           len;
    MDB_val          key, val;
    const char      *error;
    unsigned char    id[NGX_CX_RESPONSE_KEY_LEN], buf[1024];
    ngx_cx_apply_e   res;
    ngx_cx_change_t  ch;
    ngx_cx_record_t  fresh, rec;

    prompt(n, issued_s, &fresh, id);

    key.mv_data = id;
    key.mv_size = sizeof(id);

    rc = mdb_get(txn, st->responses, &key, &val);
    if (rc == MDB_NOTFOUND) {
        val.mv_data = NULL;
        val.mv_size = 0;
    } else if (rc != 0) {
        fail("get", rc);
    }

    memset(&ch, 0, sizeof(ch));
    ch.event = event;
    ch.at_ms = now_ms;
    ch.score = surveys[0].lo + (int) rnd_below(5) + 1;
    ch.has_previous = (n % 5 == 0);
    ch.previous_score = 3;
    ch.comment.data = (const unsigned char *) comment;
    ch.comment.len = sizeof(comment) - 1;

    if (event != NGX_CX_EVENT_ANSWER) {
        ch.has_previous = 0;
    }

    res = ngx_cx_record_update(val.mv_data, val.mv_size, &fresh, &ch, buf,
                               sizeof(buf), &len, &error);
    if (res != NGX_CX_APPLY_CHANGED) {
        st->conflicts++;
        return;
    }

    if (st->rollup && val.mv_size
        && ngx_cx_record_decode(val.mv_data, val.mv_size, &rec) == 0)
    {
        rc = ngx_cx_rollup_add_record(st->b, txn, st->rollups, &rec, -1);
        if (rc != 0) fail("rollup -1", rc);
    }

    val.mv_data = buf;
    val.mv_size = len;

    if ((rc = mdb_put(txn, st->responses, &key, &val, 0)) != 0) fail("put", rc);

    st->writes++;

    if (!st->rollup || ngx_cx_record_decode(buf, len, &rec) != 0) {
        return;
    }

    rc = ngx_cx_rollup_add_record(st->b, txn, st->rollups, &rec, 1);
    if (rc == 0 && event == NGX_CX_EVENT_COMMENT) {
        rc = ngx_cx_rollup_comments(st->b, txn, st->rollups, id, &rec);
    }
    if (rc != 0) fail("rollup +1", rc);
}


/*
 * The next response write.  Prompt c is displayed in step 3c, answered in
 * step 3(c + RC_LAG) + 1 and, every eighth, commented on in step
 * 3(c + 2 RC_LAG) + 2; steps with nothing to do are skipped.
 */

static void
next_write(store_t *st, MDB_txn *txn, uint32_t now_s)
{
    uint64_t  s, c;

    for ( ;; ) {
        s = st->step++;
        c = s / 3;

        switch (s % 3) {

        case 0:
            st->issued[c % RC_RING] = now_s;
            response_write(st, txn, NGX_CX_EVENT_DISPLAY, c, now_s,
                           (uint64_t) now_s * 1000);
            return;

        case 1:
            if (c < RC_LAG) {
                continue;
            }
            c -= RC_LAG;
            response_write(st, txn, NGX_CX_EVENT_ANSWER, c,
                           st->issued[c % RC_RING], (uint64_t) now_s * 1000);
            return;

        default:
            if (c < 2 * RC_LAG || (c - 2 * RC_LAG) % 8 != 0) {
                continue;
            }
            c -= 2 * RC_LAG;
            response_write(st, txn, NGX_CX_EVENT_COMMENT, c,
                           st->issued[c % RC_RING], (uint64_t) now_s * 1000);
            return;
        }
    }
}


/* One journey event, as ngx_http_cx_store_put_events writes it. */

static void
event_write(store_t *st, MDB_txn *txn, uint64_t at_ms)
{
    int                    rc;
    unsigned               tp, from;
    MDB_val                key, val;
    unsigned char          k[NGX_CX_JOURNEY_KEY_LEN], v[NGX_CX_JOURNEY_VAL_MAX];
    ngx_cx_journey_t       ev;
    ngx_cx_rollup_visit_t  vis;

    memset(&ev, 0, sizeof(ev));
    visitor_of(ev.visitor, rnd_below(1000000));
    tp = rnd_below(NTP);
    ev.stage = (unsigned char) tps[tp].stage;

    if (rnd_below(8) == 0) {
        ev.kind = 2;
        ev.name_len = (unsigned char) strlen(surveys[tps[tp].survey].name);
        memcpy(ev.name, surveys[tps[tp].survey].name, ev.name_len);
    } else {
        ev.kind = 1;
        ev.name_len = (unsigned char) strlen(tps[tp].name);
        memcpy(ev.name, tps[tp].name, ev.name_len);
    }

    ngx_cx_journey_key(k, at_ms, RC_PID, ++st->seq);
    key.mv_data = k;
    key.mv_size = sizeof(k);
    val.mv_data = v;
    val.mv_size = ngx_cx_journey_encode(v, &ev);

    if ((rc = mdb_put(txn, st->events, &key, &val, 0)) != 0) fail("put ev", rc);

    st->nevents++;

    if (!st->rollup) {
        return;
    }

    if (ev.kind == 2) {
        rc = ngx_cx_rollup_add_offer(st->b, txn, st->rollups, at_ms, ev.name,
                                     ev.name_len);
        if (rc != 0) fail("rollup offer", rc);
        return;
    }

    /* what a cookie says: mostly a move from a neighbour a minute ago */
    memset(&vis, 0, sizeof(vis));
    vis.at_ms = at_ms;
    vis.visitor = ev.visitor;
    vis.stage = ev.stage;
    vis.touchpoint = ev.name;
    vis.touchpoint_len = ev.name_len;
    vis.purchase_seconds = -1;

    if (rnd_below(10) < 8) {
        from = (tp + 8 + rnd_below(3)) % NTP;       /* tp-1, tp, tp+1 */
        vis.from = (const unsigned char *) tps[from].name;
        vis.from_len = strlen(tps[from].name);
        vis.from_seconds = 5 + rnd_below(600);
        vis.first_arrival = rnd_below(3) == 0;
    }

    if (tps[tp].stage == NGX_CX_STAGE_PURCHASE && rnd_below(4) == 0) {
        vis.purchase_seconds = 60 + rnd_below(86400 * 7);
    }

    rc = ngx_cx_rollup_add_visit(st->b, txn, st->rollups, &vis);
    if (rc != 0) fail("rollup visit", rc);
}


/* One commit of `writes` response writes and `events` events at now. */

static void
commit(store_t *st, unsigned writes, unsigned events, uint64_t now_ms)
{
    int       rc;
    unsigned  i;
    MDB_txn  *txn;

    ngx_cx_rollup_batch_reset(st->b);      /* as the module begins one */

    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) fail("txn", rc);

    for (i = 0; i < writes; i++) {
        next_write(st, txn, (uint32_t) (now_ms / 1000));
    }

    for (i = 0; i < events; i++) {
        event_write(st, txn, now_ms);
    }

    if (st->rollup && (rc = ngx_cx_rollup_flush(st->b, txn, st->rollups))) {
        fail("flush", rc);
    }

    if ((rc = mdb_txn_commit(txn)) != 0) fail("commit", rc);
}


/* A year's data before the measurement, without fsync (then one sync). */

static void
prefill(store_t *st, uint64_t n)
{
    int       rc;
    uint64_t  i, start, span;

    if (n == 0) {
        return;
    }

    mdb_env_set_flags(st->env, MDB_NOSYNC, 1);

    span = 365ULL * 86400 * 1000;
    start = (uint64_t) time(NULL) * 1000 - span - 86400 * 1000;

    for (i = 0; i < n; i += 2000) {
        /* 20 response writes and 2000 events a commit, a day apart */
        commit(st, 20 * 3 / 2, 2000, start + i * span / n);
    }

    mdb_env_set_flags(st->env, MDB_NOSYNC, 0);
    if ((rc = mdb_env_sync(st->env, 1)) != 0) fail("sync", rc);
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static void
load(store_t st[2], const char *name, unsigned writes, unsigned events,
    double seconds, int rounds)
{
    int       r, j, o;
    double    t0, t, slice, rate[2], secs[2], ratio[RC_MAXROUNDS], med;
    uint64_t  n[2], commits[2], before, w0, bytes[2];
    double    rr[2];

    slice = seconds / rounds / 2;
    n[0] = n[1] = 0;
    commits[0] = commits[1] = 0;
    secs[0] = secs[1] = 0;
    bytes[0] = bytes[1] = 0;

    /* a short warm-up each */
    for (j = 0; j < 2; j++) {
        t0 = mono();
        while (mono() - t0 < 0.2) {
            commit(&st[j], writes, events, (uint64_t) time(NULL) * 1000);
        }
    }

    for (r = 0; r < rounds; r++) {
        for (o = 0; o < 2; o++) {
            j = (r & 1) ? 1 - o : o;

            before = writes ? st[j].writes : st[j].nevents;
            w0 = written();
            t0 = mono();
            do {
                commit(&st[j], writes, events, (uint64_t) time(NULL) * 1000);
                commits[j]++;
                t = mono() - t0;
            } while (t < slice);

            rr[j] = (double) ((writes ? st[j].writes : st[j].nevents)
                              - before) / t;
            n[j] += (writes ? st[j].writes : st[j].nevents) - before;
            secs[j] += t;
            bytes[j] += written() - w0;
        }

        ratio[r] = rr[0] / rr[1];
    }

    for (j = 0; j < 2; j++) {
        rate[j] = (double) n[j] / secs[j];
    }

    printf("%-12s %s/s with %8.0f (%.2f ms, %.0f KB a commit), "
           "without %8.0f (%.2f ms, %.0f KB); with/without",
           name, writes ? "answers" : "events", rate[0],
           1000.0 * secs[0] / (double) commits[0],
           (double) bytes[0] / 1024.0 / (double) commits[0],
           rate[1], 1000.0 * secs[1] / (double) commits[1],
           (double) bytes[1] / 1024.0 / (double) commits[1]);

    for (r = 0; r < rounds; r++) {
        printf(" %.3f", ratio[r]);
    }

    qsort(ratio, rounds, sizeof(double), cmp_double);
    med = (rounds & 1) ? ratio[rounds / 2]
                       : (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2;

    printf("  median %.3f\n", med);
    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int      c, rounds;
    char    *end;
    double   seconds, t0;
    long     pre;
    int      nosync;
    store_t  st[2];

    nosync = 0;
    seconds = 6;
    rounds = 30;
    pre = 1000000;

    while ((c = getopt(argc, argv, "d:r:p:n")) != -1) {
        switch (c) {
        case 'n':
            nosync = 1;
            break;
        case 'd':
            seconds = strtod(optarg, &end);
            if (*end || seconds <= 0 || seconds > 600) goto usage;
            break;
        case 'r':
            rounds = (int) strtol(optarg, &end, 10);
            if (*end || rounds < 1 || rounds > RC_MAXROUNDS) goto usage;
            break;
        case 'p':
            pre = strtol(optarg, &end, 10);
            if (*end || pre < 0 || pre > 100000000) goto usage;
            break;
        default:
            goto usage;
        }
    }

    if (optind + 1 != argc) {
        goto usage;
    }

    store_open(&st[0], argv[optind], "with", 1);
    store_open(&st[1], argv[optind], "without", 0);

    t0 = mono();
    prefill(&st[0], (uint64_t) pre);
    prefill(&st[1], (uint64_t) pre);
    if (nosync) {
        mdb_env_set_flags(st[0].env, MDB_NOSYNC, 1);
        mdb_env_set_flags(st[1].env, MDB_NOSYNC, 1);
    }

    printf("prefilled each store with %ld events and %ld response writes "
           "over a year in %.1f s; %g s a load, %d rounds, %s commits\n",
           pre, (long) st[1].writes, mono() - t0, seconds, rounds,
           nosync ? "unsynced (-n: the CPU's part only)" : "synced");

    load(st, "answers x1", 1, 0, seconds, rounds);
    load(st, "answers x32", 32, 64, seconds, rounds);
    load(st, "events x2048", 0, 2048, seconds, rounds);

    if (st[0].conflicts || st[1].conflicts) {
        printf("refused writes: %llu, %llu (a bug in rollupcost)\n",
               (unsigned long long) st[0].conflicts,
               (unsigned long long) st[1].conflicts);
    }

    mdb_env_close(st[0].env);
    mdb_env_close(st[1].env);
    ngx_cx_rollup_batch_free(st[0].b);
    ngx_cx_rollup_batch_free(st[1].b);

    return 0;

usage:
    fprintf(stderr, "usage: rollupcost [-d seconds] [-r rounds] "
                    "[-p prefill] [-n] DIR\n");
    return 2;
}
