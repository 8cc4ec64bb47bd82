/*
 * ngx_http_cx_store.h — durable survey responses in LMDB.
 *
 * One LMDB environment (a directory: data.mdb, lock.mdb) shared by all
 * workers of all nginx generations on the node, with the databases meta
 * (the secret, counters), responses, events (journey events), rollups
 * (report aggregates), alerts and deliveries.  Their keys
 * and values, and the rules that change a response, are ngx_cx_record.h's:
 * this file only moves the bytes the codec makes.  The same codec is used
 * by cxctl and bench/mkstore, so the three can never disagree.
 *
 * Life cycle
 *   ngx_http_cx_store_check()    postconfiguration (ngx_http_cx_store_init.c):
 *       a path that cannot be created, or that the worker user could not
 *       reach or write, fails "nginx -t" with an [emerg] at cx_store's
 *       line; at start or reload the same message is an [alert] and the
 *       site stays up without prompts.  Nothing is created here.
 *   ngx_http_cx_store_prepare()  master, init_module (in
 *       ngx_http_cx_store_init.c): creates the directory
 *       and gives it to the worker user (as nginx does for its temp paths),
 *       creates the databases, loads or generates the secret, and closes
 *       the environment again — LMDB handles must not cross fork().
 *       Not under "nginx -t", which creates neither store nor secret.
 *       Failure is logged and leaves the site up: prompts stay off.
 *   ngx_http_cx_store_open()     worker, init_process: opens with MDB_NOTLS
 *       (transactions run in thread-pool threads), clears stale reader
 *       slots left by killed processes.  NULL store = unavailable.
 *   ngx_http_cx_store_close()    worker exit.
 *
 * Writes
 *   ngx_http_cx_store_submit() queues one event.  The worker keeps at most
 *   one commit in flight in the thread pool; events that arrive meanwhile
 *   are committed together in the next transaction (group commit).  LMDB
 *   syncs on commit, so w->done() runs in the event loop only when the
 *   record is on disk (w->status NGX_HTTP_NO_CONTENT) or certainly not
 *   stored (NGX_HTTP_CONFLICT, NGX_HTTP_SERVICE_UNAVAILABLE).
 *   The thread touches only the ngx_http_cx_write_t, which must stay
 *   allocated until done() (the request pool does, since the request is
 *   held open meanwhile).  The record is encoded in a buffer of the
 *   store's, w->room bytes at least, which the commit thread owns and
 *   grows: a request does not allocate the worst case of a record.
 *
 * Journey events
 *   ngx_http_cx_store_event() copies an event into the worker's queue and
 *   returns: no I/O, no failure.  The queue is written in the next commit
 *   (at most half a second later, at once when it holds a few thousand, or
 *   with the next answer).  A full queue drops the event and counts it:
 *   logged once a minute, and added to the store's counter of dropped
 *   events (NGX_CX_META_DROPPED), which report.json and "cxctl stats" show.
 *   Events of a commit that fails are counted the same way.
 *
 * Rollups
 *   Every commit also keeps report.json's aggregates (ngx_cx_rollup.h) in
 *   the rollups database: a response's counts move with it (the old
 *   record's taken out, the new one's added), each journey event adds its
 *   visit, move or offer, retention takes the pruned responses out and
 *   deletes the rows of the days it removes.  A failed commit writes none.
 *
 * Reads
 *   In the event loop, in read transactions (the reports are admin pages;
 *   reads never block on writers in LMDB): ngx_http_cx_store_rollups()
 *   for report.json, ngx_http_cx_store_each_after() in chunks for the
 *   exports, ngx_http_cx_store_each_before() a bounded page of comments.
 */

#ifndef _NGX_HTTP_CX_STORE_H_INCLUDED_
#define _NGX_HTTP_CX_STORE_H_INCLUDED_


#include "ngx_http_cx.h"
#include "ngx_cx_json.h"


typedef struct ngx_http_cx_write_s  ngx_http_cx_write_t;

struct ngx_http_cx_write_s {
    ngx_queue_t               queue;

    /* in */
    u_char                    id[NGX_CX_PROMPT_ID_LEN];
    ngx_cx_event_e            event;
    int                       score;
    int                       previous;   /* this survey's answer before
                                             (the cookie's), or -1 */
    ngx_str_t                 comment;
    ngx_str_t                 followup;   /* an answer's follow-up: the
                                             configuration's text */
    u_char                    device;     /* the answering browser's class,
                                             ngx_cx_device.h */
    ngx_cx_record_t           fresh;      /* fields of a new record */
    uint64_t                  now_ms;
    size_t                    room;       /* bytes the record may need
                                             when encoded, its stored
                                             comment included */

    /* out */
    ngx_int_t                 status;
    const char               *error;      /* for the client, with status */
    int                       mdb_rc;     /* for the log, when not 0 */

    void                    (*done)(ngx_http_cx_write_t *w);
    void                     *data;
};


typedef ngx_int_t (*ngx_http_cx_store_each_pt)(void *data,
    const u_char *id, ngx_cx_record_t *rec);


/*
 * Configuration time (postconfiguration, "nginx -t" included): whether the
 * store directory can be created, or used, and reached by the worker user,
 * without creating anything.  NGX_ERROR after an [emerg] (under "nginx -t",
 * else an [alert]) that names cx_store's file:line and the fix.
 */
ngx_int_t ngx_http_cx_store_check(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);
ngx_int_t ngx_http_cx_store_prepare(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf);

/*
 * Creates and opens the LMDB environment of cmcf's cx_store, or logs why
 * not and returns NULL. Internal: ngx_http_cx_store.c and
 * ngx_http_cx_store_init.c share it.
 */
struct MDB_env *ngx_http_cx_store_env(ngx_log_t *log,
    ngx_http_cx_main_conf_t *cmcf, unsigned flags);
ngx_http_cx_store_t *ngx_http_cx_store_open(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf);
void ngx_http_cx_store_close(ngx_http_cx_store_t *store);

/*
 * Whether prompts may be offered: not when the store is missing, nor for a
 * minute after a commit found it full (offers could not be answered).
 */
ngx_int_t ngx_http_cx_store_usable(ngx_http_cx_store_t *store);

/* Bytes needed to encode a record built from w (an upper bound). */
size_t ngx_http_cx_store_record_room(ngx_http_cx_write_t *w);

/* NGX_OK: queued, done() will run; NGX_ERROR: not queued (done() won't). */
ngx_int_t ngx_http_cx_store_submit(ngx_http_cx_store_t *store,
    ngx_http_cx_write_t *w);

void ngx_http_cx_store_event(ngx_http_cx_store_t *store,
    ngx_http_cx_event_t *ev);

/*
 * A counter of the meta database (NGX_CX_META_DROPPED): *value, 0 when
 * absent.  NGX_ERROR (logged, *value 0) when the store cannot be read.
 */
ngx_int_t ngx_http_cx_store_counter(ngx_http_cx_store_t *store,
    ngx_log_t *log, const char *name, uint64_t *value);

/*
 * Alerts (ngx_http_cx_alert.h): ngx_http_cx_store_alert() queues a change
 * for the next commit, like an answer; op->done() runs in the event loop
 * once it is committed (op->rc NGX_OK or NGX_DECLINED) or not
 * (NGX_ERROR).  ngx_http_cx_store_read() runs read() in a read transaction
 * with the databases of alerts and responses; read() returns 0 or an LMDB
 * error, which is logged.
 */
struct ngx_http_cx_alert_op_s;
typedef struct ngx_http_cx_alert_op_s  ngx_http_cx_store_alert_op_t;
ngx_int_t ngx_http_cx_store_alert(ngx_http_cx_store_t *store,
    ngx_http_cx_store_alert_op_t *op);

struct ngx_http_cx_alert_dbs_s;
typedef int (*ngx_http_cx_store_read_pt)(void *txn,
    struct ngx_http_cx_alert_dbs_s *dbs, void *data);
ngx_int_t ngx_http_cx_store_read(ngx_http_cx_store_t *store, ngx_log_t *log,
    ngx_http_cx_store_read_pt reader, void *data);

/*
 * Reports (ngx_cx_rollup.h): in one read transaction, calls row() per
 * rollup row of the days from_day..to_day (days since 1970), in key order,
 * then done(), which may read responses by id with
 * ngx_http_cx_store_lookup(txn, ...).  NGX_DECLINED when the store's
 * rollups are not built (logged); NGX_ERROR when it cannot be read or a
 * callback says so.
 */
struct ngx_cx_rollup_key_s;
typedef ngx_int_t (*ngx_http_cx_store_row_pt)(void *data,
    struct ngx_cx_rollup_key_s *k, const u_char *val, size_t len);
typedef ngx_int_t (*ngx_http_cx_store_done_pt)(void *data, void *txn);

ngx_int_t ngx_http_cx_store_rollups(ngx_http_cx_store_t *store,
    ngx_log_t *log, uint32_t from_day, uint32_t to_day,
    ngx_http_cx_store_row_pt row, ngx_http_cx_store_done_pt done,
    void *data);

/* The response with that id, decoded (pointing into the transaction's
 * pages): NGX_OK, or NGX_DECLINED when absent or unreadable. */
ngx_int_t ngx_http_cx_store_lookup(ngx_http_cx_store_t *store, void *txn,
    const u_char *id, ngx_cx_record_t *rec);

/*
 * Calls each() for at most max records after the id "after" (NULL: from
 * the first), each chunk in its own read transaction, so a long export
 * never holds one open.  NGX_DONE: no more records; NGX_OK: maybe more.
 */
ngx_int_t ngx_http_cx_store_each_after(ngx_http_cx_store_t *store,
    ngx_log_t *log, u_char *after, ngx_uint_t max,
    ngx_http_cx_store_each_pt each, void *data, ngx_uint_t *corrupt);

/*
 * The responses newest first, for comments.json: calls each() for the
 * records with ids before "before" (NULL: from the newest) and not before
 * "floor" (NULL: to the oldest), in one read transaction, examining at most
 * max of them.  *last is set to the id of the last record examined (12
 * bytes of room), *examined to their number; unreadable records count as
 * examined but are not handed over.  each() returns NGX_OK to go on,
 * NGX_DONE to stop there, NGX_ERROR to fail.
 *
 *   NGX_DONE    the oldest response (or the floor) was reached
 *   NGX_OK      each() said NGX_DONE
 *   NGX_AGAIN   max records were examined: more may follow *last
 *   NGX_ERROR   the store cannot be read (logged), or each() failed
 */
ngx_int_t ngx_http_cx_store_each_before(ngx_http_cx_store_t *store,
    ngx_log_t *log, u_char *before, u_char *floor, ngx_uint_t max,
    ngx_http_cx_store_each_pt each, void *data, u_char *last,
    ngx_uint_t *examined);



#endif /* _NGX_HTTP_CX_STORE_H_INCLUDED_ */
