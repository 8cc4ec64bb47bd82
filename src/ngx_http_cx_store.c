/*
 * LMDB storage: see ngx_http_cx_store.h for the contract.
 */

#include "ngx_http_cx_store.h"
#include "ngx_http_cx_alert.h"
#include "ngx_cx_rollup.h"
#include <lmdb.h>


/*
 * Journey events: each worker fills one array while the other is being
 * committed.  A commit starts when the filling array holds EVENTS_EARLY
 * events, or half a second after the first, whichever comes first, so an
 * event is dropped only when EVENTS_MAX arrive while one commit runs: at
 * 50,000 events a second, a commit slower than 0.33 s (docs/guarantees.md
 * has the measured figures).
 */
#define NGX_HTTP_CX_EVENTS_MAX    16384   /* per array, per worker */
#define NGX_HTTP_CX_EVENTS_EARLY  2048
#define NGX_HTTP_CX_FLUSH_MS      500
#define NGX_HTTP_CX_PRUNE_MS    60000   /* a retention pass a minute */
#define NGX_HTTP_CX_PRUNE_MAX   1000    /* deletions per transaction */


/* the answer to the client, by ngx_cx_apply_e */
static const ngx_int_t  ngx_http_cx_store_status[] = {
    NGX_HTTP_NO_CONTENT,                /* CHANGED */
    NGX_HTTP_NO_CONTENT,                /* SAME: a repeated display */
    NGX_HTTP_CONFLICT,                  /* CONFLICT */
    NGX_HTTP_BAD_REQUEST,               /* UNKNOWN event */
    NGX_HTTP_SERVICE_UNAVAILABLE,       /* CORRUPT stored record */
    NGX_HTTP_SERVICE_UNAVAILABLE        /* TOO_LARGE */
};


struct ngx_http_cx_store_s {
    MDB_env                  *env;
    MDB_dbi                   responses;
    MDB_dbi                   events;
    MDB_dbi                   meta;
    MDB_dbi                   rollups;
    ngx_cx_rollup_batch_t    *rollup;     /* the commit's changed rows */
    u_char                   *encode;     /* the commit's, for a record */
    size_t                    encode_size;
    ngx_http_cx_outbox_t      outbox;     /* cx_forward's */
    u_char                   *outbox_batch;   /* a 'B' entry being made */
    ngx_log_t                *log;
    ngx_str_t                 path;

    time_t                    full_until; /* no prompts until then */

    ngx_queue_t               pending;    /* submitted, not yet in a txn */
    ngx_queue_t               batch;      /* in the commit in flight */

    /* alerts: created by the responses' commits, changed by these ops */
    ngx_http_cx_alert_dbs_t   alert;
    ngx_queue_t               alert_pending;  /* ngx_http_cx_alert_op_t */
    ngx_queue_t               alert_batch;
    ngx_flag_t                busy;

    /* journey events: one array fills while the other is committed */
    ngx_http_cx_event_t      *queue[2];
    ngx_uint_t                filling;    /* index into queue */
    ngx_uint_t                nqueued;
    ngx_uint_t                nflight;
    ngx_int_t                 events_rc;  /* of the last commit, for the log */
    uint32_t                  seq;
    ngx_uint_t                dropped;    /* since start, for the log */
    uint64_t                  dropped_unsaved;  /* not yet in the counter */
    uint64_t                  dropped_flight;   /* added by the commit */
    time_t                    dropped_logged;
    ngx_event_t               flush;

    /* retention: older responses and events go, a little at a time */
    time_t                    retention;
    ngx_flag_t                prune_due;
    uint64_t                  prune_before_ms;
    ngx_uint_t                pruned;     /* by the last commit */
    ngx_event_t               prune;

#if (NGX_THREADS)
    ngx_thread_pool_t        *thread_pool;
    ngx_thread_task_t        *task;
#endif
};


static ngx_int_t ngx_http_cx_store_enqueue(ngx_http_cx_store_t *store,
    ngx_queue_t *queue, ngx_queue_t *q);
static void ngx_http_cx_store_start(ngx_http_cx_store_t *store);
static void ngx_http_cx_store_start_inline(ngx_http_cx_store_t *store);
static void ngx_http_cx_store_take(ngx_http_cx_store_t *store);
static void ngx_http_cx_store_commit(ngx_http_cx_store_t *store);
static void ngx_http_cx_store_apply(ngx_http_cx_store_t *store,
    MDB_txn *txn, ngx_http_cx_write_t *w, int *fatal);
static void ngx_http_cx_store_finish(ngx_http_cx_store_t *store);
static void ngx_http_cx_store_count(MDB_txn *txn, MDB_dbi dbi,
    const char *name, uint64_t n, int *fatal);
static void ngx_http_cx_store_put_events(ngx_http_cx_store_t *store,
    MDB_txn *txn, int *fatal);
static int ngx_http_cx_store_rollup_event(ngx_http_cx_store_t *store,
    MDB_txn *txn, ngx_http_cx_event_t *ev);
static void ngx_http_cx_store_flush_handler(ngx_event_t *ev);
static void ngx_http_cx_store_prune_handler(ngx_event_t *ev);
typedef int (*ngx_http_cx_store_key_ms_pt)(const u_char *key, size_t len,
    uint64_t *ms);

static void ngx_http_cx_store_prune_db(ngx_http_cx_store_t *store,
    MDB_txn *txn, MDB_dbi dbi,
    ngx_http_cx_store_key_ms_pt key_ms, uint64_t before_ms,
    ngx_uint_t *deleted, int *fatal);

typedef ngx_int_t (*ngx_http_cx_store_walk_pt)(void *data, MDB_val *key,
    MDB_val *val);

static ngx_int_t ngx_http_cx_store_read_txn(ngx_http_cx_store_t *store,
    ngx_log_t *log, MDB_txn **txn);
static ngx_int_t ngx_http_cx_store_walk(ngx_http_cx_store_t *store,
    ngx_log_t *log, MDB_dbi dbi, MDB_val *after, ngx_uint_t max,
    ngx_http_cx_store_walk_pt record, void *data);
#if (NGX_THREADS)
static void ngx_http_cx_store_thread(void *data, ngx_log_t *log);
static void ngx_http_cx_store_thread_done(ngx_event_t *ev);
#endif


ngx_http_cx_store_t *
ngx_http_cx_store_open(ngx_cycle_t *cycle, ngx_http_cx_main_conf_t *cmcf)
{
    int                   rc, dead;
    MDB_txn              *txn;
    ngx_http_cx_store_t  *store;

    store = ngx_pcalloc(cycle->pool, sizeof(ngx_http_cx_store_t));
    if (store == NULL) {
        return NULL;
    }

    store->env = ngx_http_cx_store_env(cycle->log, cmcf, MDB_NOTLS);
    if (store->env == NULL) {
        return NULL;
    }

    /* readers killed with their process keep a slot until cleared */
    dead = 0;
    (void) mdb_reader_check(store->env, &dead);
    if (dead) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "cx_store: cleared %d stale reader slots", dead);
    }

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, 0, &store->responses);
        if (rc == 0) {
            rc = mdb_dbi_open(txn, NGX_CX_DB_EVENTS, 0, &store->events);
        }
        if (rc == 0) {
            rc = mdb_dbi_open(txn, NGX_CX_DB_META, 0, &store->meta);
        }
        if (rc == 0) {
            rc = mdb_dbi_open(txn, NGX_CX_DB_ROLLUPS, 0, &store->rollups);
        }
        if (rc == 0) {
            rc = ngx_http_cx_alert_open_dbs(txn, &store->alert, 0);
        }
        if (rc == 0 && cmcf->forward) {
            rc = mdb_dbi_open(txn, NGX_CX_DB_OUTBOX, 0, &store->outbox.dbi);
            store->outbox.on = 1;

            store->outbox_batch = ngx_palloc(cycle->pool,
                                             NGX_CX_OUTBOX_BATCH_MAX);
            if (store->outbox_batch == NULL) {
                rc = ENOMEM;
            }
        }
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "cx_store: cannot open databases in \"%V\": %s",
                      &cmcf->store_path, mdb_strerror(rc));
        mdb_env_close(store->env);
        return NULL;
    }

    store->log = cycle->log;
    store->path = cmcf->store_path;
    ngx_queue_init(&store->pending);
    ngx_queue_init(&store->batch);
    ngx_queue_init(&store->alert_pending);
    ngx_queue_init(&store->alert_batch);

    store->alert.responses = store->responses;
    store->alert.rules = cmcf->alerts.nelts ? &cmcf->alerts : NULL;
    store->alert.retry_for = cmcf->alert_retry_for;
    store->alert.outbox = &store->outbox;
    store->outbox.pid = (uint32_t) ngx_pid;

    store->queue[0] = ngx_palloc(cycle->pool,
                          2 * NGX_HTTP_CX_EVENTS_MAX * sizeof(ngx_http_cx_event_t));
    if (store->queue[0] == NULL) {
        mdb_env_close(store->env);
        return NULL;
    }

    store->queue[1] = store->queue[0] + NGX_HTTP_CX_EVENTS_MAX;

    /* the commit thread's: not from a pool, which is not thread-safe */
    store->rollup = ngx_cx_rollup_batch_create();
    if (store->rollup == NULL) {
        mdb_env_close(store->env);
        return NULL;
    }

    store->flush.handler = ngx_http_cx_store_flush_handler;
    store->flush.data = store;
    store->flush.log = cycle->log;
    store->flush.cancelable = 1;     /* never delays a graceful shutdown */

    store->retention = cmcf->retention;

    if (store->retention) {
        store->prune.handler = ngx_http_cx_store_prune_handler;
        store->prune.data = store;
        store->prune.log = cycle->log;
        store->prune.cancelable = 1;

        /* the first pass soon after start, then every minute */
        ngx_add_timer(&store->prune, 1000);
    }

#if (NGX_THREADS)
    store->thread_pool = cmcf->thread_pool;

    if (store->thread_pool) {
        store->task = ngx_thread_task_alloc(cycle->pool, 0);
        if (store->task == NULL) {
            mdb_env_close(store->env);
            return NULL;
        }

        store->task->ctx = store;
        store->task->handler = ngx_http_cx_store_thread;
        store->task->event.data = store;
        store->task->event.handler = ngx_http_cx_store_thread_done;
    }
#endif

    return store;
}


void
ngx_http_cx_store_close(ngx_http_cx_store_t *store)
{
    if (store == NULL || store->env == NULL) {
        return;
    }

    /* the worker is leaving: what is queued is written now, or never */
    if (!store->busy
        && (store->nqueued || store->dropped_unsaved
            || !ngx_queue_empty(&store->alert_pending)))
    {
        ngx_http_cx_store_start_inline(store);
    }

    if (store->flush.timer_set) {
        ngx_del_timer(&store->flush);
    }

    if (store->prune.timer_set) {
        ngx_del_timer(&store->prune);
    }

    if (!store->busy) {
        mdb_env_close(store->env);
        store->env = NULL;
        ngx_cx_rollup_batch_free(store->rollup);
        store->rollup = NULL;
        ngx_free(store->encode);
        store->encode = NULL;
    }
}


ngx_int_t
ngx_http_cx_store_usable(ngx_http_cx_store_t *store)
{
    return store && store->env && store->full_until <= ngx_time();
}


size_t
ngx_http_cx_store_record_room(ngx_http_cx_write_t *w)
{
    ngx_cx_record_t  rec;

    rec = w->fresh;
    rec.comment.data = w->comment.data;
    rec.comment.len = w->comment.len;
    rec.followup.data = w->followup.data;
    rec.followup.len = w->followup.len;
    rec.device = NGX_CX_DEVICE_MAX;     /* room for it */

    return ngx_cx_record_size(&rec);
}


ngx_int_t
ngx_http_cx_store_submit(ngx_http_cx_store_t *store, ngx_http_cx_write_t *w)
{
    return ngx_http_cx_store_enqueue(store, store ? &store->pending : NULL,
                                     &w->queue);
}


/* Into the next commit; started now unless one is in flight. */

static ngx_int_t
ngx_http_cx_store_enqueue(ngx_http_cx_store_t *store, ngx_queue_t *queue,
    ngx_queue_t *q)
{
    if (store == NULL || store->env == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(queue, q);

    if (!store->busy) {
        ngx_http_cx_store_start(store);
    }

    return NGX_OK;
}


/* everything pending goes into one transaction */

static void
ngx_http_cx_store_take(ngx_http_cx_store_t *store)
{
    ngx_queue_t  *q;

    while (!ngx_queue_empty(&store->pending)) {
        q = ngx_queue_head(&store->pending);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&store->batch, q);
    }

    while (!ngx_queue_empty(&store->alert_pending)) {
        q = ngx_queue_head(&store->alert_pending);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&store->alert_batch, q);
    }

    store->nflight = store->nqueued;
    store->nqueued = 0;
    store->filling ^= 1;

    store->dropped_flight = store->dropped_unsaved;
    store->dropped_unsaved = 0;

    store->busy = 1;
}


static void
ngx_http_cx_store_start_inline(ngx_http_cx_store_t *store)
{
    ngx_http_cx_store_take(store);
    ngx_http_cx_store_commit(store);
    ngx_http_cx_store_finish(store);
}


static void
ngx_http_cx_store_start(ngx_http_cx_store_t *store)
{
    ngx_http_cx_store_take(store);

#if (NGX_THREADS)
    if (store->task) {
        if (ngx_thread_task_post(store->thread_pool, store->task) == NGX_OK) {
            return;
        }

        ngx_log_error(NGX_LOG_ALERT, store->log, 0,
                      "cx_store: cannot post a commit to the thread pool, "
                      "committing in the event loop");
    }
#endif

    ngx_http_cx_store_commit(store);
    ngx_http_cx_store_finish(store);
}


#if (NGX_THREADS)

static void
ngx_http_cx_store_thread(void *data, ngx_log_t *log)
{
    ngx_http_cx_store_commit(data);
}


static void
ngx_http_cx_store_thread_done(ngx_event_t *ev)
{
    ngx_http_cx_store_finish(ev->data);
}

#endif


/* Runs in a pool thread: touches only the store's env and the batch. */

static void
ngx_http_cx_store_commit(ngx_http_cx_store_t *store)
{
    int                      rc, fatal;
    MDB_txn                 *txn;
    ngx_queue_t             *q;
    ngx_http_cx_write_t     *w;
    ngx_http_cx_alert_op_t  *op;

    fatal = 0;
    ngx_cx_rollup_batch_reset(store->rollup);  /* a failed commit's rows */

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);

    if (rc == 0) {
        for (q = ngx_queue_head(&store->batch);
             q != ngx_queue_sentinel(&store->batch) && !fatal;
             q = ngx_queue_next(q))
        {
            w = ngx_queue_data(q, ngx_http_cx_write_t, queue);
            ngx_http_cx_store_apply(store, txn, w, &fatal);
        }

        for (q = ngx_queue_head(&store->alert_batch);
             q != ngx_queue_sentinel(&store->alert_batch) && !fatal;
             q = ngx_queue_next(q))
        {
            op = ngx_queue_data(q, ngx_http_cx_alert_op_t, queue);
            fatal = op->apply ? op->apply(txn, &store->alert, op)
                              : ngx_http_cx_alert_apply(txn, &store->alert, op);
        }

        if (!fatal) {
            ngx_http_cx_store_put_events(store, txn, &fatal);
        }

        if (!fatal && store->dropped_flight) {
            ngx_http_cx_store_count(txn, store->meta, NGX_CX_META_DROPPED,
                                    store->dropped_flight, &fatal);
        }

        store->pruned = 0;

        if (!fatal && store->prune_due) {
            /* a response leaves the rollups with itself */
            ngx_http_cx_store_prune_db(store, txn, store->responses,
                                       ngx_cx_response_key_ms,
                                       store->prune_before_ms,
                                       &store->pruned, &fatal);
            ngx_http_cx_store_prune_db(store, txn, store->rollups,
                                       ngx_cx_rollup_key_ms,
                                       store->prune_before_ms,
                                       &store->pruned, &fatal);
            ngx_http_cx_store_prune_db(store, txn, store->events,
                                       ngx_cx_journey_key_ms,
                                       store->prune_before_ms,
                                       &store->pruned, &fatal);

            /* alerts go with their responses, deliveries when long due */
            ngx_http_cx_store_prune_db(store, txn, store->alert.alerts,
                                       ngx_cx_alert_key_ms,
                                       store->prune_before_ms,
                                       &store->pruned, &fatal);
            ngx_http_cx_store_prune_db(store, txn, store->alert.deliveries,
                                       ngx_cx_delivery_key_ms,
                                       store->prune_before_ms,
                                       &store->pruned, &fatal);
        }

        if (!fatal) {
            fatal = ngx_cx_rollup_flush(store->rollup, txn, store->rollups);
        }

        if (fatal) {
            rc = fatal;
            mdb_txn_abort(txn);

        } else {
            rc = mdb_txn_commit(txn);
        }
    }

    store->events_rc = rc;

    if (rc == 0) {
        return;
    }

    /* nothing of this batch is stored */
    for (q = ngx_queue_head(&store->alert_batch);
         q != ngx_queue_sentinel(&store->alert_batch);
         q = ngx_queue_next(q))
    {
        op = ngx_queue_data(q, ngx_http_cx_alert_op_t, queue);
        op->rc = NGX_ERROR;
    }

    for (q = ngx_queue_head(&store->batch);
         q != ngx_queue_sentinel(&store->batch);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_http_cx_write_t, queue);
        w->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        w->error = (rc == MDB_MAP_FULL) ? "store is full"
                                        : "store unavailable";
        w->mdb_rc = rc;
    }
}


/*
 * In the commit's thread: one response's read-modify-write.  The stored
 * record points into a database page that mdb_put() may reuse, so the
 * codec encodes the new one into the request's buffer first.
 */

static void
ngx_http_cx_store_apply(ngx_http_cx_store_t *store, MDB_txn *txn,
    ngx_http_cx_write_t *w, int *fatal)
{
    int              rc;
    size_t           len;
    MDB_dbi          dbi;
    MDB_val          key, val;
    ngx_cx_apply_e   res;
    ngx_cx_change_t  ch;
    ngx_cx_record_t  rec;
    u_char           vbuf[NGX_CX_OUTBOX_VAL_MAX];

    dbi = store->responses;

    key.mv_data = w->id;
    key.mv_size = NGX_CX_RESPONSE_KEY_LEN;

    rc = mdb_get(txn, dbi, &key, &val);

    if (rc == MDB_NOTFOUND) {
        val.mv_data = NULL;
        val.mv_size = 0;

    } else if (rc != 0) {
        *fatal = rc;
        return;
    }

    ch.event = w->event;
    ch.at_ms = w->now_ms;
    ch.score = w->score;
    ch.has_previous = (w->previous >= 0);
    ch.previous_score = w->previous;
    ch.comment.data = w->comment.data;
    ch.comment.len = w->comment.len;
    ch.followup.data = w->followup.data;
    ch.followup.len = w->followup.len;
    ch.device = w->device;

    /* malloc(), not a pool: the commit thread's own, grown to fit */
    if (store->encode_size < w->room) {
        ngx_free(store->encode);

        store->encode = ngx_alloc(w->room, store->log);
        if (store->encode == NULL) {
            store->encode_size = 0;
            *fatal = ENOMEM;
            return;
        }

        store->encode_size = w->room;
    }

    res = ngx_cx_record_update(val.mv_data, val.mv_size, &w->fresh, &ch,
                               store->encode, w->room, &len, &w->error);

    w->status = ngx_http_cx_store_status[res];

    if (res != NGX_CX_APPLY_CHANGED) {
        return;
    }

    /* the rollups move with the record: the old one's counts go first */
    if (val.mv_size
        && ngx_cx_record_decode(val.mv_data, val.mv_size, &rec) == 0)
    {
        rc = ngx_cx_rollup_add_record(store->rollup, txn, store->rollups,
                                      &rec, -1);
        if (rc != 0) {
            *fatal = rc;
            return;
        }
    }

    val.mv_data = store->encode;
    val.mv_size = len;

    rc = mdb_put(txn, dbi, &key, &val, 0);
    if (rc != 0) {
        *fatal = rc;
        return;
    }

    if (ngx_cx_record_decode(store->encode, len, &rec) != 0) {
        return;
    }

    rc = ngx_cx_rollup_add_record(store->rollup, txn, store->rollups, &rec, 1);

    if (rc == 0 && w->event == NGX_CX_EVENT_COMMENT) {
        rc = ngx_cx_rollup_comments(store->rollup, txn, store->rollups, w->id,
                                    &rec);
    }

    if (rc != 0) {
        *fatal = rc;
        return;
    }

    /* forwarded as it is when sent: the entry names it */
    rc = ngx_http_cx_outbox_put(&store->outbox, txn, w->now_ms, vbuf,
                                ngx_cx_outbox_ref(vbuf, NGX_CX_OUTBOX_RESPONSE,
                                                  w->id,
                                                  NGX_CX_RESPONSE_KEY_LEN));
    if (rc != 0) {
        *fatal = rc;
        return;
    }

    /* its alerts, in the same transaction: a 204 implies them */
    if (store->alert.rules) {
        rc = ngx_http_cx_alert_fire(txn, &store->alert, w->id, &rec,
                                    w->event, w->now_ms);
        if (rc != 0) {
            *fatal = rc;
        }
    }
}


/* Event loop: answer everyone in the finished batch, start the next. */

static void
ngx_http_cx_store_finish(ngx_http_cx_store_t *store)
{
    ngx_queue_t             *q;
    ngx_http_cx_write_t     *w;
    ngx_http_cx_alert_op_t  *op;

    store->busy = 0;

    if (store->events_rc) {
        if (store->nflight) {
            ngx_log_error(NGX_LOG_ERR, store->log, 0,
                          "cx_store: %ui journey events not written to "
                          "\"%V\": %s", store->nflight, &store->path,
                          mdb_strerror(store->events_rc));
        }

        /* lost with the commit: counted as dropped in a later one */
        store->dropped += store->nflight;
        store->dropped_unsaved += store->dropped_flight + store->nflight;
    }

    store->dropped_flight = 0;
    store->nflight = 0;
    store->events_rc = 0;

    if (store->prune_due) {
        if (store->pruned) {
            ngx_log_error(NGX_LOG_INFO, store->log, 0,
                          "cx_store: retention removed %ui old entries",
                          store->pruned);
        }

        /* a full batch means more are waiting: go on with the next commit */
        store->prune_due = (store->pruned >= NGX_HTTP_CX_PRUNE_MAX);
    }

    while (!ngx_queue_empty(&store->batch)) {
        q = ngx_queue_head(&store->batch);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_cx_write_t, queue);

        if (w->mdb_rc == MDB_MAP_FULL) {
            store->full_until = ngx_time() + 60;
        }

        if (w->mdb_rc) {
            ngx_log_error(NGX_LOG_ERR, store->log, 0,
                          "cx_store: commit to \"%V\" failed: %s%s",
                          &store->path, mdb_strerror(w->mdb_rc),
                          w->mdb_rc == MDB_MAP_FULL
                          ? " (raise max_size= of cx_store)" : "");
        }

        w->done(w);
    }

    while (!ngx_queue_empty(&store->alert_batch)) {
        q = ngx_queue_head(&store->alert_batch);
        ngx_queue_remove(q);

        op = ngx_queue_data(q, ngx_http_cx_alert_op_t, queue);
        op->done(op);
    }

    if (!ngx_queue_empty(&store->pending)
        || !ngx_queue_empty(&store->alert_pending)
        || ((store->prune_due || store->nqueued >= NGX_HTTP_CX_EVENTS_EARLY)
            && !ngx_exiting))
    {
        if (store->flush.timer_set) {
            ngx_del_timer(&store->flush);
        }

        ngx_http_cx_store_start(store);

    } else if (store->nqueued && !store->flush.timer_set
               && !ngx_exiting)
    {
        ngx_add_timer(&store->flush, NGX_HTTP_CX_FLUSH_MS);
    }
}


void
ngx_http_cx_store_event(ngx_http_cx_store_t *store, ngx_http_cx_event_t *ev)
{
    if (store == NULL || store->env == NULL) {
        return;
    }

    if (store->nqueued == NGX_HTTP_CX_EVENTS_MAX) {
        store->dropped++;
        store->dropped_unsaved++;

        if (store->dropped_logged + 60 <= ngx_time()) {
            store->dropped_logged = ngx_time();
            ngx_log_error(NGX_LOG_WARN, store->log, 0,
                          "cx_store: journey event queue full, %ui events "
                          "dropped so far", store->dropped);
        }

        return;
    }

    store->queue[store->filling][store->nqueued++] = *ev;

    if (store->busy) {
        return;                     /* finish() starts or times the next */
    }

    if (store->nqueued >= NGX_HTTP_CX_EVENTS_EARLY && !ngx_exiting) {
        if (store->flush.timer_set) {
            ngx_del_timer(&store->flush);
        }

        ngx_http_cx_store_start(store);
        return;
    }

    if (!store->flush.timer_set) {
        ngx_add_timer(&store->flush, NGX_HTTP_CX_FLUSH_MS);
    }
}


/* In the commit's thread: adds n to a counter of the meta database. */

static void
ngx_http_cx_store_count(MDB_txn *txn, MDB_dbi dbi, const char *name,
    uint64_t n, int *fatal)
{
    int            rc;
    MDB_val        key, val;
    uint64_t       value;
    unsigned char  buf[NGX_CX_COUNTER_LEN];

    key.mv_data = (void *) name;
    key.mv_size = ngx_strlen(name);

    rc = mdb_get(txn, dbi, &key, &val);

    if (rc == MDB_NOTFOUND
        || (rc == 0
            && ngx_cx_counter_decode(val.mv_data, val.mv_size, &value) != 0))
    {
        value = 0;                  /* absent, or unreadable: start again */

    } else if (rc != 0) {
        *fatal = rc;
        return;
    }

    ngx_cx_counter_encode(buf, value + n);

    val.mv_data = buf;
    val.mv_size = sizeof(buf);

    rc = mdb_put(txn, dbi, &key, &val, 0);
    if (rc != 0) {
        *fatal = rc;
    }
}


static void
ngx_http_cx_store_flush_handler(ngx_event_t *ev)
{
    ngx_http_cx_store_t  *store = ev->data;

    if (store->busy || store->env == NULL) {
        return;     /* finish() re-arms the timer */
    }

    if (store->nqueued || !ngx_queue_empty(&store->pending)) {
        ngx_http_cx_store_start(store);
    }
}


static void
ngx_http_cx_store_prune_handler(ngx_event_t *ev)
{
    ngx_http_cx_store_t  *store = ev->data;

    if (store->env == NULL || ngx_exiting) {
        return;
    }

    store->prune_due = 1;
    store->prune_before_ms = (uint64_t) (ngx_time() - store->retention) * 1000;

    if (!store->busy) {
        ngx_http_cx_store_start(store);
    }

    ngx_add_timer(&store->prune, NGX_HTTP_CX_PRUNE_MS);
}


/*
 * In the commit's thread: both databases are keyed by time first (a
 * response by its prompt's issue time, an event by its own), so the old
 * entries are the first ones.
 */

static void
ngx_http_cx_store_prune_db(ngx_http_cx_store_t *store, MDB_txn *txn,
    MDB_dbi dbi, ngx_http_cx_store_key_ms_pt key_ms, uint64_t before_ms,
    ngx_uint_t *deleted, int *fatal)
{
    int              rc;
    uint64_t         at_ms;
    MDB_val          key, val;
    MDB_cursor      *cur;
    ngx_cx_record_t  rec;

    if (*fatal || *deleted >= NGX_HTTP_CX_PRUNE_MAX) {
        return;
    }

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        *fatal = rc;
        return;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && *deleted < NGX_HTTP_CX_PRUNE_MAX;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key_ms(key.mv_data, key.mv_size, &at_ms) != 0) {
            continue;
        }

        if (at_ms >= before_ms) {
            break;
        }

        if (dbi == store->responses
            && ngx_cx_record_decode(val.mv_data, val.mv_size, &rec) == 0)
        {
            rc = ngx_cx_rollup_prune_record(store->rollup, txn,
                                            store->rollups, &rec, before_ms);
            if (rc != 0) {
                *fatal = rc;
                break;
            }
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            *fatal = rc;
            break;
        }

        (*deleted)++;
    }

    mdb_cursor_close(cur);
}


/* In the commit's thread: the events taken for this transaction. */

static void
ngx_http_cx_store_put_events(ngx_http_cx_store_t *store, MDB_txn *txn,
    int *fatal)
{
    int                   rc;
    MDB_val               key, val;
    ngx_uint_t            i;
    ngx_http_cx_event_t  *ev;
    size_t                olen, blen;
    ngx_uint_t            nbatch;
    u_char                kbuf[NGX_CX_JOURNEY_KEY_LEN];
    u_char                vbuf[NGX_CX_JOURNEY_VAL_MAX];
    u_char                obuf[NGX_CX_OUTBOX_VAL_MAX];

    ev = store->queue[store->filling ^ 1];
    blen = 0;
    nbatch = 0;

    for (i = 0; i < store->nflight; i++) {
        ngx_cx_journey_key(kbuf, ev[i].at_ms, (uint32_t) ngx_pid,
                           ++store->seq);

        key.mv_data = kbuf;
        key.mv_size = sizeof(kbuf);
        val.mv_data = vbuf;
        val.mv_size = ngx_cx_journey_encode(vbuf, &ev[i]);

        if (val.mv_size == 0) {
            continue;       /* a name longer than any the module makes */
        }

        rc = mdb_put(txn, store->events, &key, &val, 0);
        if (rc != 0) {
            *fatal = rc;
            return;
        }

        rc = ngx_http_cx_store_rollup_event(store, txn, &ev[i]);
        if (rc != 0) {
            *fatal = rc;
            return;
        }

        /* forwarded: the commit's events in 'B' entries of up to 256 */
        if (store->outbox.on) {
            olen = ngx_cx_outbox_event(obuf, kbuf, &ev[i]);

            if (olen) {
                ngx_cx_outbox_batch_add(store->outbox_batch, &blen, obuf,
                                        olen);
                nbatch++;
            }

            if (nbatch == NGX_CX_OUTBOX_BATCH) {
                rc = ngx_http_cx_outbox_put(&store->outbox, txn, ev[i].at_ms,
                                            store->outbox_batch, blen);
                if (rc != 0) {
                    *fatal = rc;
                    return;
                }

                blen = 0;
                nbatch = 0;
            }
        }
    }

    if (nbatch) {
        rc = ngx_http_cx_outbox_put(&store->outbox, txn,
                                    ev[store->nflight - 1].at_ms,
                                    store->outbox_batch, blen);
        if (rc != 0) {
            *fatal = rc;
        }
    }
}


/* In the commit's thread: what one journey event adds to the rollups. */

static int
ngx_http_cx_store_rollup_event(ngx_http_cx_store_t *store, MDB_txn *txn,
    ngx_http_cx_event_t *ev)
{
    ngx_cx_rollup_visit_t  v;

    if (ev->kind == NGX_HTTP_CX_EVENT_OFFER) {
        return ngx_cx_rollup_add_offer(store->rollup, txn, store->rollups,
                                       ev->at_ms, ev->name, ev->name_len);
    }

    if (ev->kind != NGX_HTTP_CX_EVENT_VISIT) {
        return 0;
    }

    v.at_ms = ev->at_ms;
    v.visitor = ev->visitor;
    v.stage = ev->stage;
    v.touchpoint = ev->name;
    v.touchpoint_len = ev->name_len;
    v.from = ev->from;
    v.from_len = ev->from_len;
    v.from_seconds = ev->from_seconds;
    v.first_arrival = ev->first_arrival;
    v.purchase_seconds = ev->purchase_seconds;

    return ngx_cx_rollup_add_visit(store->rollup, txn, store->rollups, &v);
}


/* A walk's callback: decodes one entry and hands it to the caller's. */

typedef struct {
    ngx_http_cx_store_each_pt         each;
    void                             *data;
    ngx_uint_t                       *corrupt;
} ngx_http_cx_store_reader_t;


/* A read transaction of the event loop's readers; NGX_ERROR logged. */

static ngx_int_t
ngx_http_cx_store_read_txn(ngx_http_cx_store_t *store, ngx_log_t *log,
    MDB_txn **txn)
{
    int  rc;

    if (store == NULL || store->env == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, txn);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "cx_store: read transaction failed: %s",
                      mdb_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cx_store_rollups(ngx_http_cx_store_t *store, ngx_log_t *log,
    uint32_t from_day, uint32_t to_day, ngx_http_cx_store_row_pt row,
    ngx_http_cx_store_done_pt done, void *data)
{
    int                  rc, ready;
    MDB_txn             *txn;
    MDB_val              key, val;
    ngx_int_t            result;
    MDB_cursor          *cur;
    ngx_cx_rollup_key_t  k;
    u_char               first[NGX_CX_ROLLUP_KEY_MAX];

    if (ngx_http_cx_store_read_txn(store, log, &txn) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_cx_rollup_ready(txn, store->meta, &ready);

    if (rc == 0 && !ready) {
        mdb_txn_abort(txn);
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "cx_store: the report rollups of \"%V\" are not "
                      "built; restart nginx or run "
                      "\"cxctl rebuild-rollups\"", &store->path);
        return NGX_DECLINED;
    }

    if (rc == 0) {
        rc = mdb_cursor_open(txn, store->rollups, &cur);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "cx_store: cannot read the report rollups: %s",
                      mdb_strerror(rc));
        return NGX_ERROR;
    }

    ngx_memzero(&k, sizeof(ngx_cx_rollup_key_t));
    k.day = from_day;

    key.mv_data = first;
    key.mv_size = ngx_cx_rollup_key_encode(first, &k);

    result = NGX_OK;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (ngx_cx_rollup_key_decode(key.mv_data, key.mv_size, &k) != 0) {
            continue;
        }

        if (k.day > to_day) {
            break;
        }

        if (row(data, &k, val.mv_data, val.mv_size) != NGX_OK) {
            result = NGX_ERROR;
            break;
        }
    }

    mdb_cursor_close(cur);

    if (result == NGX_OK && done) {
        result = done(data, txn);
    }

    mdb_txn_abort(txn);

    return result;
}


ngx_int_t
ngx_http_cx_store_lookup(ngx_http_cx_store_t *store, void *txn,
    const u_char *id, ngx_cx_record_t *rec)
{
    MDB_val  key, val;

    key.mv_data = (void *) id;
    key.mv_size = NGX_CX_RESPONSE_KEY_LEN;

    if (mdb_get(txn, store->responses, &key, &val) != 0
        || ngx_cx_response_decode(key.mv_data, key.mv_size, val.mv_data,
                                  val.mv_size, rec)
           != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_store_response_record(void *data, MDB_val *key, MDB_val *val)
{
    ngx_http_cx_store_reader_t *walk = data;

    ngx_cx_record_t  rec;

    if (ngx_cx_response_decode(key->mv_data, key->mv_size, val->mv_data,
                               val->mv_size, &rec)
        != 0)
    {
        (*walk->corrupt)++;
        return NGX_OK;
    }

    return walk->each(walk->data, key->mv_data, &rec);
}


ngx_int_t
ngx_http_cx_store_each_after(ngx_http_cx_store_t *store, ngx_log_t *log,
    u_char *after, ngx_uint_t max, ngx_http_cx_store_each_pt each,
    void *data, ngx_uint_t *corrupt)
{
    MDB_val                     key;
    ngx_http_cx_store_reader_t  walk;

    if (store == NULL || store->env == NULL) {
        return NGX_ERROR;
    }

    walk.each = each;
    walk.data = data;
    walk.corrupt = corrupt;

    key.mv_data = after;
    key.mv_size = NGX_CX_RESPONSE_KEY_LEN;

    return ngx_http_cx_store_walk(store, log, store->responses,
                                  after ? &key : NULL, max,
                                  ngx_http_cx_store_response_record, &walk);
}


/*
 * Entries of a database in key order, in one read transaction: all of
 * them, or (max > 0) at most max after the key "after".  NGX_DONE: the
 * end was reached; NGX_OK: max entries were read, more may follow.
 */

static ngx_int_t
ngx_http_cx_store_walk(ngx_http_cx_store_t *store, ngx_log_t *log,
    MDB_dbi dbi, MDB_val *after, ngx_uint_t max,
    ngx_http_cx_store_walk_pt record, void *data)
{
    int          rc;
    MDB_txn     *txn;
    MDB_val      key, val;
    ngx_int_t    result;
    ngx_uint_t   n;
    MDB_cursor  *cur;

    if (ngx_http_cx_store_read_txn(store, log, &txn) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return NGX_ERROR;
    }

    result = NGX_DONE;
    n = 0;

    if (after) {
        key = *after;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

        if (rc == 0 && key.mv_size == after->mv_size
            && ngx_memcmp(key.mv_data, after->mv_data, key.mv_size) == 0)
        {
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }

    } else {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    }

    for ( /* void */ ; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (record(data, &key, &val) != NGX_OK) {
            result = NGX_ERROR;
            break;
        }

        if (max && ++n == max) {
            result = NGX_OK;
            break;
        }
    }

    mdb_cursor_close(cur);
    mdb_txn_abort(txn);

    return result;
}


ngx_int_t
ngx_http_cx_store_each_before(ngx_http_cx_store_t *store, ngx_log_t *log,
    u_char *before, u_char *floor, ngx_uint_t max,
    ngx_http_cx_store_each_pt each, void *data, u_char *last,
    ngx_uint_t *examined)
{
    int               rc;
    MDB_txn          *txn;
    MDB_val           key, val;
    ngx_int_t         result, rv;
    ngx_uint_t        n;
    MDB_cursor       *cur;
    ngx_cx_record_t   rec;

    *examined = 0;

    if (ngx_http_cx_store_read_txn(store, log, &txn) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, store->responses, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return NGX_ERROR;
    }

    /* the first key at or after "before", then one back */
    if (before) {
        key.mv_data = before;
        key.mv_size = NGX_CX_RESPONSE_KEY_LEN;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        rc = mdb_cursor_get(cur, &key, &val, rc == 0 ? MDB_PREV : MDB_LAST);

    } else {
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    }

    result = NGX_DONE;
    n = 0;

    for ( /* void */ ; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_PREV))
    {
        if (key.mv_size != NGX_CX_RESPONSE_KEY_LEN) {
            continue;               /* not a response key: never a cursor */
        }

        if (floor && ngx_memcmp(key.mv_data, floor, NGX_CX_RESPONSE_KEY_LEN)
                     < 0)
        {
            break;
        }

        if (n == max) {
            result = NGX_AGAIN;
            break;
        }

        n++;
        ngx_memcpy(last, key.mv_data, NGX_CX_RESPONSE_KEY_LEN);

        if (ngx_cx_response_decode(key.mv_data, key.mv_size, val.mv_data,
                                   val.mv_size, &rec)
            != 0)
        {
            continue;               /* unreadable: the exports count them */
        }

        rv = each(data, key.mv_data, &rec);

        if (rv == NGX_DONE) {
            result = NGX_OK;
            break;
        }

        if (rv != NGX_OK) {
            result = NGX_ERROR;
            break;
        }
    }

    if (rc != 0 && rc != MDB_NOTFOUND) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "cx_store: read failed: %s",
                      mdb_strerror(rc));
        result = NGX_ERROR;
    }

    mdb_cursor_close(cur);
    mdb_txn_abort(txn);

    *examined = n;

    return result;
}


typedef struct {
    ngx_http_cx_store_t      *store;
    const char               *name;
    uint64_t                 *value;
} ngx_http_cx_store_counter_t;


/* A store reader: one counter of the meta database. */

static int
ngx_http_cx_store_read_counter(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *data)
{
    ngx_http_cx_store_counter_t *c = data;

    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) c->name;
    key.mv_size = ngx_strlen(c->name);

    rc = mdb_get(txn, c->store->meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc == 0
        && ngx_cx_counter_decode(val.mv_data, val.mv_size, c->value) != 0)
    {
        *c->value = 0;
        return MDB_CORRUPTED;
    }

    return rc;
}


ngx_int_t
ngx_http_cx_store_counter(ngx_http_cx_store_t *store, ngx_log_t *log,
    const char *name, uint64_t *value)
{
    ngx_http_cx_store_counter_t  c;

    *value = 0;

    c.store = store;
    c.name = name;
    c.value = value;

    return ngx_http_cx_store_read(store, log, ngx_http_cx_store_read_counter,
                                  &c);
}


ngx_int_t
ngx_http_cx_store_alert(ngx_http_cx_store_t *store, ngx_http_cx_alert_op_t *op)
{
    return ngx_http_cx_store_enqueue(store,
                                     store ? &store->alert_pending : NULL,
                                     &op->queue);
}


ngx_int_t
ngx_http_cx_store_read(ngx_http_cx_store_t *store, ngx_log_t *log,
    ngx_http_cx_store_read_pt reader, void *data)
{
    int       rc;
    MDB_txn  *txn;

    if (store == NULL || store->env == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "cx_store: cannot read \"%V\": %s",
                      &store->path, mdb_strerror(rc));
        return NGX_ERROR;
    }

    rc = reader(txn, &store->alert, data);

    mdb_txn_abort(txn);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "cx_store: cannot read \"%V\": %s",
                      &store->path, mdb_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}
