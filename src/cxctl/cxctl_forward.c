/*
 * cxctl clickhouse-schema: the fleet tables' DDL (ngx_cx_forward_ddl).
 * cxctl forward --since DAY: a backfill, for a site that turns cx_forward
 * on after it has collected answers.
 *
 * The backfill sends nothing itself: it puts an outbox entry for every
 * response, journey event and alert from DAY on into the store, and
 * nginx's forward sender posts them as it posts new ones (at least once,
 * so running it twice, or over days already forwarded, is harmless).
 * Entries go in in transactions of CXCTL_FORWARD_TXN, so nginx's commits
 * are never held up long.  Events carry what the store keeps of them: the
 * previous touchpoint and the seconds since, which only the visit's cookie
 * knew, are empty in a backfilled event.
 */

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cxctl.h"
#include "ngx_cx_forward.h"


#define CXCTL_FORWARD_TXN   10000


const char  cxctl_usage_schema[] =
    "usage: cxctl clickhouse-schema [--database NAME]\n"
    "\n"
    "Prints the statements that create the ClickHouse database and tables\n"
    "cx_forward writes to (default database: cx). nginx runs the same ones,\n"
    "IF NOT EXISTS, before it forwards; print them to create the tables by\n"
    "hand, e.g. where nginx's ClickHouse user may not create tables. Last,\n"
    "as a comment, the ALTER TABLE that gives a responses table made by an\n"
    "earlier version the columns added since (nginx runs it when they are\n"
    "missing).\n";

const char  cxctl_usage_forward[] =
    "usage: cxctl [--store DIR] forward --since DAY [--until DAY]\n"
    "\n"
    "Queues every response (by received_at), journey event and alert from\n"
    "DAY on in the store's outbox, for nginx's cx_forward to send to\n"
    "ClickHouse: a site that turns forwarding on later sends what it has.\n"
    "Prints how many were queued. Safe while nginx runs, and to repeat.\n";


int
cxctl_cmd_schema(int argc, char **argv, const char *store_opt)
{
    int          i, r, n;
    unsigned     which;
    const char  *db;
    char         sql[4096];

    (void) store_opt;
    db = "cx";

    for (i = 0; i < argc; i++) {
        r = cxctl_opt(argc, argv, &i, "--database", &db);

        if (r == 0) {
            return cxctl_unexpected("clickhouse-schema", argv[i]);
        }

        if (r < 0) {
            return CXCTL_EXIT_USAGE;
        }
    }

    if (!ngx_cx_forward_db_valid((const unsigned char *) db, strlen(db))) {
        cxctl_error("clickhouse-schema: database name \"%s\" must be "
                    "letters, digits and \"_\" (at most 64, not starting "
                    "with a digit)", db);
        return CXCTL_EXIT_USAGE;
    }

    for (which = 0; which < NGX_CX_FORWARD_DDL_COUNT; which++) {
        n = ngx_cx_forward_ddl(sql, sizeof(sql), db, strlen(db), which);
        if (n < 0 || (size_t) n >= sizeof(sql)) {
            return CXCTL_EXIT_FAIL;
        }

        printf("%s;\n\n", sql);
    }

    n = ngx_cx_forward_upgrade(sql, sizeof(sql), db, strlen(db),
                               (const unsigned char *) "", 0);
    if (n <= 0) {
        return CXCTL_EXIT_FAIL;
    }

    printf("-- a responses table made by an earlier version:\n-- ");

    for (i = 0; i < n; i++) {
        if (sql[i] == '\n') {
            fputs("\n-- ", stdout);

        } else {
            putchar(sql[i]);
        }
    }

    printf(";\n");

    return CXCTL_EXIT_OK;
}


typedef struct {
    cxctl_store_t   *st;
    MDB_txn         *txn;
    MDB_dbi          outbox;
    uint64_t         now_ms;
    uint32_t         seq;
    unsigned         in_txn;
    uint64_t         queued[3];
} cxctl_forward_t;


static int
cxctl_forward_put(cxctl_forward_t *fw, const unsigned char *val, size_t len,
    unsigned what)
{
    int            rc;
    MDB_val        k, v;
    unsigned char  key[NGX_CX_OUTBOX_KEY_LEN];

    if (len == 0) {
        return 0;
    }

    ngx_cx_journey_key(key, fw->now_ms, (uint32_t) getpid(), ++fw->seq);

    k.mv_data = key;
    k.mv_size = sizeof(key);
    v.mv_data = (void *) val;
    v.mv_size = len;

    rc = mdb_put(fw->txn, fw->outbox, &k, &v, 0);
    if (rc == 0) {
        fw->queued[what]++;
        fw->in_txn++;
    }

    return rc;
}


/* Commits every CXCTL_FORWARD_TXN entries; *cur is reopened after. */

static int
cxctl_forward_step(cxctl_forward_t *fw, MDB_cursor **cur, MDB_dbi dbi,
    MDB_val *at)
{
    int            rc;
    MDB_val        k, v;
    unsigned char  save[64];
    size_t         len;

    if (fw->in_txn < CXCTL_FORWARD_TXN) {
        return 0;
    }

    len = at->mv_size < sizeof(save) ? at->mv_size : sizeof(save);
    memcpy(save, at->mv_data, len);

    mdb_cursor_close(*cur);
    *cur = NULL;

    rc = mdb_txn_commit(fw->txn);
    fw->txn = NULL;
    fw->in_txn = 0;

    if (rc == 0) {
        rc = mdb_txn_begin(fw->st->env, NULL, 0, &fw->txn);
    }
    if (rc == 0) {
        rc = mdb_cursor_open(fw->txn, dbi, cur);
    }
    if (rc == 0) {
        /* back on the last key taken (or just before where it was, if
         * nginx deleted it meanwhile), so that MDB_NEXT goes on after it */
        k.mv_data = save;
        k.mv_size = len;
        rc = mdb_cursor_get(*cur, &k, &v, MDB_SET_RANGE);

        if (rc == 0 && (k.mv_size != len || memcmp(k.mv_data, save, len))) {
            rc = mdb_cursor_get(*cur, &k, &v, MDB_PREV);
        } else if (rc == MDB_NOTFOUND) {
            rc = mdb_cursor_get(*cur, &k, &v, MDB_LAST);
        }
    }

    return rc;
}


static int
cxctl_forward_walk(cxctl_forward_t *fw, const cxctl_filter_t *f, unsigned what)
{
    int               rc;
    size_t            len;
    MDB_dbi           dbi;
    MDB_val           key, val;
    uint64_t          ms;
    MDB_cursor       *cur;
    ngx_cx_alert_t    a;
    ngx_cx_record_t   rec;
    ngx_cx_journey_t  ev;
    unsigned char     buf[NGX_CX_OUTBOX_VAL_MAX];

    dbi = what == 0 ? fw->st->responses
        : what == 1 ? fw->st->events : fw->st->alerts;

    rc = mdb_cursor_open(fw->txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    /* events are keyed by time: start at the day */
    if (what == 1) {
        unsigned char  k0[NGX_CX_JOURNEY_KEY_LEN];

        ngx_cx_journey_key(k0, f->since_ms, 0, 0);
        key.mv_data = k0;
        key.mv_size = sizeof(k0);
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

    } else {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    }

    while (rc == 0 && !cxctl_stop) {
        len = 0;

        if (what == 0) {
            if (ngx_cx_record_decode(val.mv_data, val.mv_size, &rec) == 0
                && cxctl_filter_match(f, &rec))
            {
                len = ngx_cx_outbox_ref(buf, NGX_CX_OUTBOX_RESPONSE,
                                        key.mv_data, key.mv_size);
            }

        } else if (what == 1) {
            if (ngx_cx_journey_key_ms(key.mv_data, key.mv_size, &ms) == 0
                && f->until_ms && ms >= f->until_ms)
            {
                break;
            }

            if (ngx_cx_journey_decode(key.mv_data, key.mv_size, val.mv_data,
                                      val.mv_size, &ev)
                == 0)
            {
                ev.from_len = 0;
                ev.from_seconds = 0;
                ev.first_arrival = NGX_CX_JOURNEY_UNKNOWN;
                ev.purchase_seconds = -1;
                len = ngx_cx_outbox_event(buf, key.mv_data, &ev);
            }

        } else {
            if (ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                                    val.mv_size, &a) == 0
                && a.created_ms >= f->since_ms
                && (f->until_ms == 0 || a.created_ms < f->until_ms))
            {
                len = ngx_cx_outbox_ref(buf, NGX_CX_OUTBOX_ALERT, key.mv_data,
                                        key.mv_size);
            }
        }

        rc = cxctl_forward_put(fw, buf, len, what);
        if (rc == 0) {
            rc = cxctl_forward_step(fw, &cur, dbi, &key);
        }
        if (rc == 0) {
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }
    }

    if (cur) {
        mdb_cursor_close(cur);
    }

    return rc == MDB_NOTFOUND ? 0 : rc;
}


int
cxctl_cmd_forward(int argc, char **argv, const char *store_opt)
{
    int               i, r, rc;
    unsigned          what;
    cxctl_store_t     st;
    cxctl_filter_t    f;
    cxctl_forward_t   fw;
    struct timespec   now;

    memset(&f, 0, sizeof(f));
    f.since_ms = UINT64_MAX;

    for (i = 0; i < argc; i++) {
        r = cxctl_filter_opt(argc, argv, &i, &store_opt, &f);

        if (r < 0) {
            return CXCTL_EXIT_USAGE;
        }

        if (r == 0 || f.survey) {
            return cxctl_unexpected("forward", argv[i]);
        }
    }

    if (f.since_ms == UINT64_MAX) {
        cxctl_error("forward: --since DAY is required (the first day to "
                    "send; 1970-01-01 for everything)");
        return CXCTL_EXIT_USAGE;
    }

    if ((rc = cxctl_open(&st, store_opt, 1)) != CXCTL_EXIT_OK) {
        return rc;
    }

    memset(&fw, 0, sizeof(fw));
    fw.st = &st;
    clock_gettime(CLOCK_REALTIME, &now);
    fw.now_ms = (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;

    rc = mdb_txn_begin(st.env, NULL, 0, &fw.txn);
    if (rc == 0) {
        rc = mdb_dbi_open(fw.txn, NGX_CX_DB_OUTBOX, MDB_CREATE, &fw.outbox);
    }

    for (what = 0; what < 3 && rc == 0; what++) {
        if (what == 2 && !st.has_alerts) {
            break;
        }
        rc = cxctl_forward_walk(&fw, &f, what);
    }

    if (rc == 0 && cxctl_stop) {
        rc = EINTR;
    }

    if (rc == 0) {
        rc = mdb_txn_commit(fw.txn);
        fw.txn = NULL;
    }

    if (fw.txn) {
        mdb_txn_abort(fw.txn);
    }

    cxctl_store_close(&st);

    if (rc != 0) {
        cxctl_error("forward: %s (what was queued before stays queued)",
                    rc == EINTR ? "interrupted" : mdb_strerror(rc));
        return rc == EINTR ? CXCTL_EXIT_STOPPED : CXCTL_EXIT_FAIL;
    }

    printf("queued %llu %s, %llu journey %s, %llu %s for ClickHouse\n",
           (unsigned long long) fw.queued[0],
           cxctl_plural(fw.queued[0], "response", "responses"),
           (unsigned long long) fw.queued[1],
           cxctl_plural(fw.queued[1], "event", "events"),
           (unsigned long long) fw.queued[2],
           cxctl_plural(fw.queued[2], "alert", "alerts"));

    return CXCTL_EXIT_OK;
}
