/*
 * cxctl erase and prune: deleting responses and journey events.
 *
 * Both walk a database with a write cursor and delete what a predicate
 * selects. nginx's workers commit answers through the same single LMDB
 * writer lock, so the walk is cut into short transactions (at most
 * CXCTL_BATCH_DELETE deletions or CXCTL_BATCH_SCAN entries each): between
 * two of them nginx's pending commits go through. Each batch resumes at the
 * key that follows the last one examined; entries nginx adds meanwhile
 * behind that key are seen, entries it adds before it are not (they are new,
 * so an erase run again catches them).
 *
 * The report's rollups (ngx_cx_rollup.h) stay equal to the responses: a
 * response deleted takes its counts out of them in the same transaction,
 * and prune deletes the rollup rows of the days wholly before DAY.  What
 * the journey rows hold (visits, sketches) names no one: erase leaves it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include "cxctl.h"
#include "ngx_cx_forward.h"
#include "ngx_cx_alert.h"


#define CXCTL_BATCH_DELETE   1000
#define CXCTL_BATCH_SCAN     20000
#define CXCTL_KEY_MAX        512     /* above LMDB's default key limit */

/* What a predicate answers for one entry. */
#define CXCTL_KEEP           0
#define CXCTL_DELETE         1
#define CXCTL_DONE           2       /* keep it and stop: keys are sorted */


const char  cxctl_usage_erase[] =
    "usage: cxctl [--store DIR] erase --visitor ID\n"
    "\n"
    "Deletes every response and journey event of one visitor (right to\n"
    "erasure) and prints how many. ID is the 24 hex digits of the visitor\n"
    "column of an export, in either case. Safe while nginx runs.\n";

const char  cxctl_usage_prune[] =
    "usage: cxctl [--store DIR] prune --before DAY [--dry-run]\n"
    "\n"
    "Deletes the responses whose prompt was issued before DAY (YYYY-MM-DD,\n"
    "00:00 UTC) and the journey events recorded before it, and prints how\n"
    "many. Safe while nginx runs. LMDB reuses the freed pages; the file does\n"
    "not shrink.\n"
    "\n"
    "  --dry-run   count what would be deleted (\"would prune ...\") and\n"
    "              delete nothing; the store is opened read-only\n";


typedef int (*cxctl_pred_pt)(void *ctx, MDB_val *key, MDB_val *val);

static int cxctl_delete_both(cxctl_store_t *st, cxctl_pred_pt response,
    cxctl_pred_pt event, void *ctx, int dry_run, uint64_t deleted[2]);
static void cxctl_print_deleted(uint64_t deleted[2], uint64_t alerts);
static int cxctl_prune_rollup(void *ctx, MDB_val *key, MDB_val *val);
static int cxctl_delete_where(cxctl_store_t *st, MDB_dbi dbi,
    cxctl_pred_pt pred, void *ctx, int dry_run, uint64_t *deleted);
static int cxctl_erase_response(void *ctx, MDB_val *key, MDB_val *val);
static int cxctl_erase_event(void *ctx, MDB_val *key, MDB_val *val);
static int cxctl_prune_response(void *ctx, MDB_val *key, MDB_val *val);
static int cxctl_prune_event(void *ctx, MDB_val *key, MDB_val *val);
static int cxctl_prune_alert(void *ctx, MDB_val *key, MDB_val *val);
static int cxctl_unhex(unsigned char *dst, const char *src, size_t len);
static int cxctl_erase_forward(cxctl_store_t *st, const unsigned char *id);


int
cxctl_cmd_erase(int argc, char **argv, const char *store_opt)
{
    int             i, r, rc;
    size_t          k;
    uint64_t        deleted[2];
    const char     *visitor;
    cxctl_store_t   st;
    unsigned char   id[NGX_CX_VISITOR_ID_LEN];
    char            hex[2 * NGX_CX_VISITOR_ID_LEN + 1];

    visitor = NULL;

    for (i = 0; i < argc; i++) {
        r = cxctl_opt(argc, argv, &i, "--store", &store_opt);

        if (r == 0) {
            r = cxctl_opt(argc, argv, &i, "--visitor", &visitor);
        }

        if (r == 0) {
            return cxctl_unexpected("erase", argv[i]);
        }

        if (r < 0) {
            return CXCTL_EXIT_USAGE;
        }
    }

    if (visitor == NULL) {
        cxctl_error("erase: --visitor ID is required");
        return CXCTL_EXIT_USAGE;
    }

    if (strlen(visitor) != 2 * NGX_CX_VISITOR_ID_LEN
        || cxctl_unhex(id, visitor, NGX_CX_VISITOR_ID_LEN) != 0)
    {
        cxctl_error("erase: --visitor \"%s\": expected %d hex digits (the "
                    "visitor column of an export)", visitor,
                    2 * NGX_CX_VISITOR_ID_LEN);
        return CXCTL_EXIT_USAGE;
    }

    /* the id as the exports write it, whatever case it was given in */
    for (k = 0; k < NGX_CX_VISITOR_ID_LEN; k++) {
        hex[2 * k] = "0123456789abcdef"[id[k] >> 4];
        hex[2 * k + 1] = "0123456789abcdef"[id[k] & 0x0f];
    }
    hex[2 * NGX_CX_VISITOR_ID_LEN] = '\0';

    if ((rc = cxctl_open(&st, store_opt, 1)) != CXCTL_EXIT_OK) {
        return rc;
    }

    rc = cxctl_delete_both(&st, cxctl_erase_response, cxctl_erase_event, id,
                           0, deleted);

    printf("erased visitor %s: ", hex);
    cxctl_print_deleted(deleted, 0);

    if (rc == CXCTL_EXIT_OK && cxctl_erase_forward(&st, id) == 1) {
        printf("queued for ClickHouse: cx_forward deletes the visitor's rows "
               "there too\n");
    }

    cxctl_store_close(&st);

    return rc;
}


int
cxctl_cmd_prune(int argc, char **argv, const char *store_opt)
{
    int              i, r, rc, dry_run;
    uint64_t         deleted[2], alerts;
    const char      *before;
    cxctl_store_t    st;
    cxctl_filter_t   f;

    before = NULL;
    dry_run = 0;
    memset(&f, 0, sizeof(f));

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
            continue;
        }

        r = cxctl_opt(argc, argv, &i, "--store", &store_opt);

        if (r == 0) {
            r = cxctl_opt(argc, argv, &i, "--before", &before);

            if (r > 0 && cxctl_parse_day(&f, "--before", before, 0) != 0) {
                r = -1;
            }
        }

        if (r == 0) {
            return cxctl_unexpected("prune", argv[i]);
        }

        if (r < 0) {
            return CXCTL_EXIT_USAGE;
        }
    }

    if (before == NULL) {
        cxctl_error("prune: --before YYYY-MM-DD is required");
        return CXCTL_EXIT_USAGE;
    }

    /* a dry run only reads: it needs no write access */
    if ((rc = cxctl_open(&st, store_opt, !dry_run)) != CXCTL_EXIT_OK) {
        return rc;
    }

    /* the alerts of the responses that go, first: keyed by them */
    alerts = 0;
    rc = CXCTL_EXIT_OK;

    if (st.has_alerts) {
        rc = cxctl_delete_where(&st, st.alerts, cxctl_prune_alert,
                                &f.since_ms, dry_run, &alerts);
    }

    if (rc != CXCTL_EXIT_OK) {
        cxctl_store_close(&st);
        return rc;
    }

    st.before_ms = f.since_ms;

    if (st.has_rollups) {
        uint64_t  rows = 0;

        rc = cxctl_delete_where(&st, st.rollups, cxctl_prune_rollup,
                                &f.since_ms, dry_run, &rows);
    }

    if (rc != CXCTL_EXIT_OK) {
        cxctl_store_close(&st);
        return rc;
    }

    rc = cxctl_delete_both(&st, cxctl_prune_response, cxctl_prune_event,
                           &f.since_ms, dry_run, deleted);
    cxctl_store_close(&st);

    printf("%s before %s: ", dry_run ? "would prune" : "pruned", before);
    cxctl_print_deleted(deleted, alerts);

    return rc;
}


/*
 * The responses pred response selects, then the journey events pred event
 * selects (both with ctx), counted in deleted[0] and deleted[1]; the store
 * is closed.  Returns an exit code.
 */

static int
cxctl_delete_both(cxctl_store_t *st, cxctl_pred_pt response,
    cxctl_pred_pt event, void *ctx, int dry_run, uint64_t deleted[2])
{
    int  rc;

    deleted[0] = 0;
    deleted[1] = 0;

    rc = cxctl_delete_where(st, st->responses, response, ctx, dry_run,
                            &deleted[0]);
    if (rc == CXCTL_EXIT_OK) {
        rc = cxctl_delete_where(st, st->events, event, ctx, dry_run,
                                &deleted[1]);
    }

    return rc;
}


/*
 * The end of the line erase and prune print: "3 responses, 1 event", and
 * ", 2 alerts" when prune removed alerts.
 */

static void
cxctl_print_deleted(uint64_t deleted[2], uint64_t alerts)
{
    printf("%llu %s, %llu %s",
           (unsigned long long) deleted[0],
           cxctl_plural(deleted[0], "response", "responses"),
           (unsigned long long) deleted[1],
           cxctl_plural(deleted[1], "event", "events"));

    if (alerts) {
        printf(", %llu %s", (unsigned long long) alerts,
               cxctl_plural(alerts, "alert", "alerts"));
    }

    printf("\n");
    fflush(stdout);
}


/*
 * Returns an exit code; *deleted counts what was committed.  With dry_run
 * the same walk runs in read-only transactions and deletes nothing:
 * *deleted counts what pred selected.
 */

static int
cxctl_delete_where(cxctl_store_t *st, MDB_dbi dbi, cxctl_pred_pt pred,
    void *ctx, int dry_run, uint64_t *deleted)
{
    int                     rc, verdict, resume, done;
    size_t                  resume_len;
    MDB_txn                *txn;
    MDB_val                 key, val;
    uint64_t                batch, scanned;
    MDB_cursor             *cur;
    ngx_cx_record_t         rec;
    ngx_cx_rollup_batch_t  *unroll;
    unsigned char           resume_key[CXCTL_KEY_MAX];

    /* a response deleted leaves the rollups with it */
    unroll = NULL;

    if (dbi == st->responses && st->has_rollups && !dry_run) {
        unroll = ngx_cx_rollup_batch_create();
        if (unroll == NULL) {
            rc = ENOMEM;
            goto failed;
        }
    }

    resume = 0;
    resume_len = 0;
    done = 0;

    while (!done) {
        if (cxctl_stop) {
            cxctl_error(dry_run ? "interrupted"
                                : "interrupted: what was deleted so far stays "
                                  "deleted");
            return CXCTL_EXIT_STOPPED;
        }

        rc = mdb_txn_begin(st->env, NULL, dry_run ? MDB_RDONLY : 0, &txn);
        if (rc != 0) {
            goto failed;
        }

        rc = mdb_cursor_open(txn, dbi, &cur);
        if (rc != 0) {
            mdb_txn_abort(txn);
            goto failed;
        }

        if (resume) {
            key.mv_data = resume_key;
            key.mv_size = resume_len;
            rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        } else {
            rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        }

        batch = 0;
        scanned = 0;

        while (rc == 0) {
            verdict = pred(ctx, &key, &val);

            if (verdict == CXCTL_DONE) {
                rc = MDB_NOTFOUND;
                break;
            }

            if (verdict == CXCTL_DELETE) {
                if (unroll
                    && ngx_cx_response_decode(key.mv_data, key.mv_size,
                                              val.mv_data, val.mv_size, &rec)
                       == 0)
                {
                    rc = st->before_ms
                         ? ngx_cx_rollup_prune_record(unroll, txn,
                                                      st->rollups, &rec,
                                                      st->before_ms)
                         : ngx_cx_rollup_add_record(unroll, txn, st->rollups,
                                                    &rec, -1);
                    if (rc != 0) {
                        break;
                    }
                }

                if (!dry_run) {
                    rc = mdb_cursor_del(cur, 0);
                    if (rc != 0) {
                        break;
                    }
                }
                batch++;
            }

            /* after a delete, MDB_NEXT gives the entry that followed it */
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);

            if (rc == 0
                && (++scanned >= CXCTL_BATCH_SCAN
                    || batch >= CXCTL_BATCH_DELETE || cxctl_stop))
            {
                if (key.mv_size > sizeof(resume_key)) {
                    rc = MDB_BAD_VALSIZE;
                    break;
                }

                /* the key lives in the map only until the commit */
                memcpy(resume_key, key.mv_data, key.mv_size);
                resume_len = key.mv_size;
                resume = 1;
                break;
            }
        }

        if (rc == MDB_NOTFOUND) {
            done = 1;

        } else if (rc != 0) {
            mdb_cursor_close(cur);
            mdb_txn_abort(txn);
            goto failed;
        }

        mdb_cursor_close(cur);

        rc = unroll ? ngx_cx_rollup_flush(unroll, txn, st->rollups) : 0;

        if (rc != 0) {
            mdb_txn_abort(txn);
            goto failed;
        }

        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            goto failed;
        }

        *deleted += batch;
    }

    ngx_cx_rollup_batch_free(unroll);

    return CXCTL_EXIT_OK;

failed:

    ngx_cx_rollup_batch_free(unroll);

    cxctl_error("cannot %s store \"%s\": %s%s", dry_run ? "read" : "write",
                st->path, mdb_strerror(rc),
                rc == EACCES ? " (run cxctl as root or as the nginx worker user)"
                             : "");
    return CXCTL_EXIT_FAIL;
}


static int
cxctl_erase_response(void *ctx, MDB_val *key, MDB_val *val)
{
    const unsigned char  *visitor = ctx;
    ngx_cx_record_t       rec;

    if (ngx_cx_response_decode(key->mv_data, key->mv_size, val->mv_data,
                               val->mv_size, &rec)
        != 0)
    {
        return CXCTL_KEEP;
    }

    return memcmp(rec.visitor, visitor, NGX_CX_VISITOR_ID_LEN) == 0
           ? CXCTL_DELETE : CXCTL_KEEP;
}


/* an event's visitor is found even when the rest of it is damaged */

static int
cxctl_erase_event(void *ctx, MDB_val *key, MDB_val *val)
{
    const unsigned char  *visitor = ctx;
    const unsigned char  *v;

    (void) key;

    v = ngx_cx_journey_visitor(val->mv_data, val->mv_size);

    return v && memcmp(v, visitor, NGX_CX_VISITOR_ID_LEN) == 0
           ? CXCTL_DELETE : CXCTL_KEEP;
}


/*
 * Both databases are keyed by time first (ngx_cx_record.h): the walk stops
 * at the first entry not older than the day.  A response is dated by the
 * second its prompt was issued, so "before the day" compares whole seconds.
 */

static int
cxctl_prune_response(void *ctx, MDB_val *key, MDB_val *val)
{
    uint64_t  before_ms, issued_ms;

    (void) val;

    before_ms = *(uint64_t *) ctx / 1000 * 1000;

    if (ngx_cx_response_key_ms(key->mv_data, key->mv_size, &issued_ms) != 0) {
        return CXCTL_KEEP;
    }

    return issued_ms < before_ms ? CXCTL_DELETE : CXCTL_DONE;
}


static int
cxctl_prune_event(void *ctx, MDB_val *key, MDB_val *val)
{
    uint64_t  before_ms, at_ms;

    (void) val;

    before_ms = *(uint64_t *) ctx;

    if (ngx_cx_journey_key_ms(key->mv_data, key->mv_size, &at_ms) != 0) {
        return CXCTL_KEEP;
    }

    return at_ms < before_ms ? CXCTL_DELETE : CXCTL_DONE;
}


/* a rollup row of a day wholly before DAY (its key starts with the day) */

static int
cxctl_prune_rollup(void *ctx, MDB_val *key, MDB_val *val)
{
    uint64_t  before_ms, last_ms;

    (void) val;

    before_ms = *(uint64_t *) ctx;

    if (ngx_cx_rollup_key_ms(key->mv_data, key->mv_size, &last_ms) != 0) {
        return CXCTL_KEEP;
    }

    return last_ms < before_ms ? CXCTL_DELETE : CXCTL_DONE;
}


/* an alert goes with its response: keyed by it, so dated like it */

static int
cxctl_prune_alert(void *ctx, MDB_val *key, MDB_val *val)
{
    uint64_t  before_ms, issued_ms;

    (void) val;

    before_ms = *(uint64_t *) ctx / 1000 * 1000;

    if (ngx_cx_alert_key_ms(key->mv_data, key->mv_size, &issued_ms) != 0) {
        return CXCTL_KEEP;
    }

    return issued_ms < before_ms ? CXCTL_DELETE : CXCTL_DONE;
}


static int
cxctl_unhex(unsigned char *dst, const char *src, size_t len)
{
    int     hi, lo;
    size_t  i;

    for (i = 0; i < len; i++) {
        hi = src[2 * i];
        lo = src[2 * i + 1];

        hi = hi >= '0' && hi <= '9' ? hi - '0'
             : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10
             : hi >= 'A' && hi <= 'F' ? hi - 'A' + 10 : -1;
        lo = lo >= '0' && lo <= '9' ? lo - '0'
             : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10
             : lo >= 'A' && lo <= 'F' ? lo - 'A' + 10 : -1;

        if (hi < 0 || lo < 0) {
            return -1;
        }

        dst[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


/*
 * A store that forwards (meta "forward", set by nginx with cx_forward)
 * gets the erasure in its outbox, after everything queued before it: the
 * forward sender deletes the visitor's rows in ClickHouse.  1: queued,
 * 0: not a forwarding store, -1: failed (said).
 */

static int
cxctl_erase_forward(cxctl_store_t *st, const unsigned char *id)
{
    int               rc;
    MDB_dbi           outbox;
    MDB_txn          *txn;
    MDB_val           k, v;
    struct timespec   now;
    unsigned char     key[NGX_CX_OUTBOX_KEY_LEN];
    unsigned char     val[NGX_CX_OUTBOX_VAL_MAX];

    rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0) {
        goto failed;
    }

    k.mv_data = NGX_CX_META_FORWARD;
    k.mv_size = sizeof(NGX_CX_META_FORWARD) - 1;

    if (mdb_get(txn, st->meta, &k, &v) != 0
        || mdb_dbi_open(txn, NGX_CX_DB_OUTBOX, 0, &outbox) != 0)
    {
        mdb_txn_abort(txn);
        return 0;
    }

    clock_gettime(CLOCK_REALTIME, &now);
    ngx_cx_journey_key(key, (uint64_t) now.tv_sec * 1000
                            + (uint64_t) now.tv_nsec / 1000000,
                       (uint32_t) getpid(), 0);

    k.mv_data = key;
    k.mv_size = sizeof(key);
    v.mv_data = val;
    v.mv_size = ngx_cx_outbox_ref(val, NGX_CX_OUTBOX_ERASE, id,
                                  NGX_CX_VISITOR_ID_LEN);

    rc = mdb_put(txn, outbox, &k, &v, 0);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    } else {
        mdb_txn_abort(txn);
    }

    if (rc == 0) {
        return 1;
    }

failed:

    cxctl_error("erase: the erasure could not be queued for ClickHouse: %s",
                mdb_strerror(rc));
    return -1;
}
