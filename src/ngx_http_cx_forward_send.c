/*
 * The forward sender: see ngx_http_cx_forward.h.
 *
 * One per store, in worker 0, like the alerts' sender and for the same
 * reason holding a lock (<store>/forward.lock): a reload's new worker 0
 * starts only once the old one has exited, so one generation sends at a
 * time.  A round:
 *
 *   1. once per process, and again after any failure: the database and
 *      tables are created when missing (CREATE ... IF NOT EXISTS, one
 *      statement per POST, as the HTTP interface takes them);
 *   2. in one read transaction, the oldest `batch` outbox entries become
 *      up to three bodies of JSONEachRow rows, one per table; responses
 *      and alerts are read as they are now, events travel in their entry;
 *   3. each body is posted as "INSERT INTO db.table FORMAT JSONEachRow";
 *   4. when all have answered, the entries of the tables that answered 200
 *      (and entries that name a record no longer stored) are deleted
 *      through the store's group commit; a table that failed keeps its
 *      entries, sent again next round (at least once: the tables'
 *      ReplacingMergeTree makes the repeat harmless).
 *
 * A full batch starts the next round at once; otherwise the next round is
 * `interval` later, and after a failure the wait doubles up to 10 s.
 * Nothing here blocks: the read transaction touches mapped pages only, the
 * POSTs are nginx connections, the deletions a commit in the thread pool.
 */

#include "ngx_http_cx_forward.h"
#include "ngx_http_cx_alert.h"
#include "ngx_http_cx_store.h"


#define NGX_HTTP_CX_FORWARD_LOCK      "/forward.lock"
#define NGX_HTTP_CX_FORWARD_BACKOFF   10000   /* ms, the longest wait */
#define NGX_HTTP_CX_FORWARD_REPORT    60      /* s between outbox reports */
#define NGX_HTTP_CX_FORWARD_FULL      80      /* % of max_size: warn */
#define NGX_HTTP_CX_FORWARD_ERROR_MAX 4096    /* bytes of an answer read */

/* the schema's steps after the CREATE statements (see below) */
#define NGX_HTTP_CX_FORWARD_COLUMNS   NGX_CX_FORWARD_DDL_COUNT
#define NGX_HTTP_CX_FORWARD_UPGRADE   (NGX_CX_FORWARD_DDL_COUNT + 1)
#define NGX_HTTP_CX_FORWARD_STEPS     (NGX_CX_FORWARD_DDL_COUNT + 2)


typedef struct {
    u_char                     *data;
    size_t                      len;
    size_t                      size;
} ngx_http_cx_forward_buf_t;


typedef struct {
    void                       *sender;
    ngx_http_cx_forward_buf_t   rows;
    ngx_http_cx_forward_buf_t   keys;       /* the entries' keys */
    ngx_uint_t                  n;
    ngx_uint_t                  status;
    const char                 *error;
    ngx_http_cx_post_t         *post;
} ngx_http_cx_forward_table_t;


typedef struct {
    ngx_http_cx_main_conf_t    *cmcf;
    ngx_http_cx_forward_t      *fw;
    ngx_log_t                  *log;
    ngx_event_t                 timer;
    ngx_fd_t                    lock;
    ngx_flag_t                  locked;
    ngx_flag_t                  waiting;
    ngx_flag_t                  stopped;
    ngx_flag_t                  busy;       /* a round is under way */

    ngx_uint_t                  schema;     /* steps done this run */
    ngx_msec_t                  wait;       /* until the next round */

    ngx_pool_t                 *pool;       /* the round's */
    ngx_http_cx_forward_table_t tables[NGX_CX_FORWARD_TABLES];
    ngx_http_cx_forward_buf_t   gone;       /* keys of records gone */
    ngx_uint_t                  taken;      /* entries read this round */
    ngx_uint_t                  posting;    /* POSTs in flight */
    ngx_uint_t                  deleted;
    ngx_http_cx_alert_op_t      op;         /* the deletions */

    /* an erasure (cxctl erase): its entry, the visitor, the table at */
    ngx_flag_t                  erase;
    ngx_uint_t                  erase_step;
    u_char                      erase_key[NGX_CX_OUTBOX_KEY_LEN];
    u_char                      erase_visitor[NGX_CX_VISITOR_ID_LEN];

    /* what the log says about the outbox */
    uint64_t                    entries;
    uint64_t                    oldest_ms;
    uint64_t                    sent;       /* since the last report */
    time_t                      reported;
    ngx_flag_t                  failing;
    const char                 *last_error;
    ngx_uint_t                  last_status;
    ngx_uint_t                  full_pct;
    ngx_flag_t                  warned_full;
} ngx_http_cx_forward_sender_t;


static void ngx_http_cx_forward_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_cx_forward_lock(
    ngx_http_cx_forward_sender_t *s);
static void ngx_http_cx_forward_schema(ngx_http_cx_forward_sender_t *s);
static void ngx_http_cx_forward_statement(ngx_http_cx_forward_sender_t *s,
    char *sql, int n);
static void ngx_http_cx_forward_schema_done(void *data, ngx_uint_t status,
    const char *error);
static void ngx_http_cx_forward_round(ngx_http_cx_forward_sender_t *s);
static void ngx_http_cx_forward_failed(ngx_http_cx_forward_sender_t *s,
    ngx_uint_t status, const char *error, u_char *why, const char *what,
    ngx_int_t table);
static void ngx_http_cx_forward_erase(ngx_http_cx_forward_sender_t *s);
static void ngx_http_cx_forward_erased(void *data, ngx_uint_t status,
    const char *error);
static int ngx_http_cx_forward_count(void *txn,
    ngx_http_cx_alert_dbs_t *dbs, void *data);
static int ngx_http_cx_forward_read(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *data);
static ngx_int_t ngx_http_cx_forward_row(ngx_http_cx_forward_sender_t *s,
    MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs, MDB_val *key, MDB_val *val);
static ngx_int_t ngx_http_cx_forward_events(ngx_http_cx_forward_sender_t *s,
    MDB_val *key, MDB_val *val);
static u_char *ngx_http_cx_forward_room(ngx_http_cx_forward_sender_t *s,
    ngx_http_cx_forward_buf_t *b, size_t n);
static void ngx_http_cx_forward_posted(void *data, ngx_uint_t status,
    const char *error);
static void ngx_http_cx_forward_finish(ngx_http_cx_forward_sender_t *s);
static int ngx_http_cx_forward_delete(MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, ngx_http_cx_alert_op_t *op);
static void ngx_http_cx_forward_deleted(ngx_http_cx_alert_op_t *op);
static void ngx_http_cx_forward_next(ngx_http_cx_forward_sender_t *s,
    ngx_flag_t failed);
static void ngx_http_cx_forward_report(ngx_http_cx_forward_sender_t *s);
static void ngx_http_cx_forward_why(ngx_http_cx_post_t *post, u_char *why);

#define NGX_HTTP_CX_FORWARD_WHY       160


ngx_int_t
ngx_http_cx_forward_init_process(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf)
{
    u_char                        *path;
    ngx_http_cx_forward_sender_t  *s;

    if (cmcf->forward == NULL || cmcf->store == NULL
        || (ngx_process == NGX_PROCESS_WORKER && ngx_worker != 0))
    {
        return NGX_OK;
    }

    s = ngx_pcalloc(cycle->pool, sizeof(ngx_http_cx_forward_sender_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->cmcf = cmcf;
    s->fw = cmcf->forward;
    s->fw->target.role = "clickhouse";
    s->log = cycle->log;
    s->wait = s->fw->interval;
    s->reported = ngx_time();

    path = ngx_pnalloc(cycle->pool, cmcf->store_path.len
                                    + sizeof(NGX_HTTP_CX_FORWARD_LOCK));
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(path, cmcf->store_path.data, cmcf->store_path.len),
               NGX_HTTP_CX_FORWARD_LOCK, sizeof(NGX_HTTP_CX_FORWARD_LOCK));

    s->lock = ngx_open_file(path, NGX_FILE_RDWR, NGX_FILE_CREATE_OR_OPEN,
                            NGX_FILE_DEFAULT_ACCESS);

    if (s->lock == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "cx_forward: cannot open \"%s\", forwarding without "
                      "it", path);
        s->locked = 1;
    }

    s->timer.handler = ngx_http_cx_forward_handler;
    s->timer.data = s;
    s->timer.log = cycle->log;
    s->timer.cancelable = 1;

    ngx_add_timer(&s->timer, 100);

    cmcf->forward_sender = s;

    return NGX_OK;
}


void
ngx_http_cx_forward_exit_process(ngx_http_cx_main_conf_t *cmcf)
{
    ngx_uint_t                     i;
    ngx_http_cx_forward_sender_t  *s = cmcf->forward_sender;

    if (s == NULL) {
        return;
    }

    /* what is in flight stays in the outbox: the next sender sends it */
    s->stopped = 1;

    for (i = 0; i < NGX_CX_FORWARD_TABLES; i++) {
        if (s->tables[i].post) {
            ngx_http_cx_post_cancel(s->tables[i].post);
            s->tables[i].post = NULL;
        }
    }

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    cmcf->forward_sender = NULL;
}


static void
ngx_http_cx_forward_handler(ngx_event_t *ev)
{
    ngx_http_cx_forward_sender_t *s = ev->data;

    if (s->stopped || s->busy || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (!s->locked && ngx_http_cx_forward_lock(s) != NGX_OK) {
        ngx_add_timer(&s->timer, 1000);
        return;
    }

    s->busy = 1;

    if (s->schema < NGX_HTTP_CX_FORWARD_STEPS) {
        ngx_http_cx_forward_schema(s);
        return;
    }

    ngx_http_cx_forward_round(s);
}


static ngx_int_t
ngx_http_cx_forward_lock(ngx_http_cx_forward_sender_t *s)
{
    ngx_err_t  err;

    err = ngx_trylock_fd(s->lock);

    if (err == 0) {
        s->locked = 1;

        if (s->waiting) {
            ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                          "cx_forward: the previous sender is gone, "
                          "forwarding");
        }

        return NGX_OK;
    }

    if (!s->waiting) {
        s->waiting = 1;

        if (err == NGX_EAGAIN || err == NGX_EACCES) {
            ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                          "cx_forward: another process (a previous worker) "
                          "still forwards, waiting for it");
        } else {
            ngx_log_error(NGX_LOG_ALERT, s->log, err,
                          "cx_forward: cannot lock the lock file");
        }
    }

    return NGX_DECLINED;
}


/*
 * ---- the tables, created when missing ----
 *
 * The steps: the CREATE statements (ngx_cx_forward_ddl), then the columns
 * of the responses table, then, when it was made by an earlier version,
 * the ALTER that adds what it lacks (ngx_cx_forward_upgrade).
 */

static void
ngx_http_cx_forward_schema(ngx_http_cx_forward_sender_t *s)
{
    int   n;
    char  sql[2048];

    n = (s->schema < NGX_CX_FORWARD_DDL_COUNT)
        ? ngx_cx_forward_ddl(sql, sizeof(sql), (char *) s->fw->database.data,
                             s->fw->database.len, s->schema)
        : ngx_cx_forward_columns_sql(sql, sizeof(sql),
                                     (char *) s->fw->database.data,
                                     s->fw->database.len);

    ngx_http_cx_forward_statement(s, sql, n);
}


static void
ngx_http_cx_forward_statement(ngx_http_cx_forward_sender_t *s, char *sql,
    int n)
{
    ngx_str_t   args, body;
    u_char     *p;

    if (n <= 0 || (size_t) n >= 2048) {
        ngx_http_cx_forward_schema_done(s, 0, "internal error");
        return;
    }

    /* the statement is the body; the database exists only after [0] */
    body.data = (u_char *) sql;
    body.len = n;

    p = (u_char *) "";
    args.data = p;
    args.len = 0;

    s->tables[0].post = NULL;

    if (ngx_http_cx_post(&s->fw->target, &args, &s->fw->auth, &body,
                         NGX_HTTP_CX_FORWARD_ERROR_MAX,
                         NGX_HTTP_CX_FORWARD_TIMEOUT,
                         ngx_http_cx_forward_schema_done, s, s->log,
                         &s->tables[0].post)
        != NGX_OK)
    {
        ngx_http_cx_forward_schema_done(s, 0, "could not start the request");
    }
}


static void
ngx_http_cx_forward_schema_done(void *data, ngx_uint_t status,
    const char *error)
{
    ngx_http_cx_forward_sender_t *s = data;

    int         n;
    char        sql[2048];
    u_char      why[NGX_HTTP_CX_FORWARD_WHY];
    ngx_str_t  *body;

    static const char  *what[] = {
        "CREATE ... IF NOT EXISTS",
        "SELECT ... FROM system.columns",
        "ALTER TABLE ... ADD COLUMN"
    };

    ngx_http_cx_forward_why(s->tables[0].post, why);

    n = 0;

    if (status == 200 && s->schema == NGX_HTTP_CX_FORWARD_COLUMNS) {
        body = ngx_http_cx_post_body(s->tables[0].post);
        n = ngx_cx_forward_upgrade(sql, sizeof(sql),
                                   (char *) s->fw->database.data,
                                   s->fw->database.len, body->data,
                                   body->len);
    }

    s->tables[0].post = NULL;

    if (status != 200 || n < 0) {
        ngx_http_cx_forward_failed(s, status, status ? error
                                                     : "internal error",
                                   why,
                                   what[s->schema < NGX_CX_FORWARD_DDL_COUNT
                                        ? 0
                                        : s->schema
                                          - NGX_CX_FORWARD_DDL_COUNT + 1],
                                   -1);
        ngx_http_cx_forward_next(s, 1);
        return;
    }

    s->schema++;

    if (s->schema == NGX_HTTP_CX_FORWARD_UPGRADE) {
        if (n > 0) {
            ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                          "cx_forward: adding the columns of this version "
                          "to \"%V.responses\"", &s->fw->database);
            ngx_http_cx_forward_statement(s, sql, n);
            return;
        }

        s->schema++;            /* nothing to add */
    }

    if (s->schema < NGX_HTTP_CX_FORWARD_STEPS) {
        ngx_http_cx_forward_schema(s);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, s->log, 0,
                  "cx_forward: tables of \"%V\" at \"%V\" ready",
                  &s->fw->database, &s->fw->target.url);

    ngx_http_cx_forward_round(s);
}


/*
 * ClickHouse did not take a statement: said once until it takes one again
 * (with its own reason, or the connection's), the outbox's size beside it.
 */

static void
ngx_http_cx_forward_failed(ngx_http_cx_forward_sender_t *s, ngx_uint_t status,
    const char *error, u_char *why, const char *what, ngx_int_t table)
{
    u_char  *p, to[128], wait[64];

    s->last_status = status;
    s->last_error = error;

    if (s->failing) {
        return;
    }

    s->failing = 1;

    /* "INSERT INTO cx.events", or the DDL's words (table -1) */
    p = (table >= 0) ? ngx_snprintf(to, sizeof(to) - 1, "%s %V.%s", what,
                                    &s->fw->database,
                                    ngx_cx_forward_table(table))
                     : ngx_snprintf(to, sizeof(to) - 1, "%s", what);
    *p = '\0';

    p = s->entries ? ngx_snprintf(wait, sizeof(wait) - 1, "%uL entries",
                                  s->entries)
                   : ngx_snprintf(wait, sizeof(wait) - 1, "records");
    *p = '\0';

    if (status) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "cx_forward: ClickHouse \"%V\" answered %ui to %s: "
                      "\"%s\"; %s wait in the outbox", &s->fw->target.url,
                      status, to, why, wait);
    } else {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "cx_forward: ClickHouse \"%V\" failed: %s; %s wait in "
                      "the outbox", &s->fw->target.url, error, wait);
    }
}


/* ---- a round ---- */

static void
ngx_http_cx_forward_round(ngx_http_cx_forward_sender_t *s)
{
    u_char                       *p;
    ngx_str_t                     args;
    ngx_uint_t                    i;
    ngx_http_cx_forward_table_t  *t;

    s->pool = ngx_create_pool(16384, s->log);
    if (s->pool == NULL) {
        ngx_http_cx_forward_next(s, 1);
        return;
    }

    /* the buffers stay from round to round: emptied, not freed */
    s->gone.len = 0;
    s->erase = 0;

    for (i = 0; i < NGX_CX_FORWARD_TABLES; i++) {
        t = &s->tables[i];
        t->sender = s;
        t->rows.len = 0;
        t->keys.len = 0;
        t->n = 0;
        t->status = 0;
        t->error = NULL;
        t->post = NULL;
    }
    s->taken = 0;
    s->posting = 0;

    if (ngx_http_cx_store_read(s->cmcf->store, s->log,
                               ngx_http_cx_forward_read, s)
        != NGX_OK)
    {
        ngx_http_cx_forward_next(s, 1);
        return;
    }

    ngx_http_cx_forward_report(s);

    if (s->taken == 0) {
        ngx_http_cx_forward_next(s, 0);
        return;
    }

    if (s->erase) {
        s->erase_step = 0;
        ngx_http_cx_forward_erase(s);
        return;
    }

    for (i = 0; i < NGX_CX_FORWARD_TABLES; i++) {
        if (s->tables[i].n) {
            s->posting++;
        }
    }

    if (s->posting == 0) {
        ngx_http_cx_forward_finish(s);     /* only records gone */
        return;
    }

    for (i = 0; i < NGX_CX_FORWARD_TABLES; i++) {
        t = &s->tables[i];

        if (t->n == 0) {
            continue;
        }

        args.len = sizeof("query=INSERT+INTO+.+FORMAT+JSONEachRow") - 1
                   + s->fw->database.len
                   + ngx_strlen(ngx_cx_forward_table(i));
        args.data = ngx_pnalloc(s->pool, args.len);
        if (args.data == NULL) {
            ngx_http_cx_forward_posted(t, 0, "internal error");
            continue;
        }

        p = ngx_sprintf(args.data, "query=INSERT+INTO+%V.%s+FORMAT+"
                        "JSONEachRow", &s->fw->database,
                        ngx_cx_forward_table(i));
        args.len = p - args.data;

        t->status = 0;
        t->error = NULL;

        {
            ngx_str_t  body;

            body.data = t->rows.data;
            body.len = t->rows.len;

            if (ngx_http_cx_post(&s->fw->target, &args, &s->fw->auth, &body,
                                 NGX_HTTP_CX_FORWARD_ERROR_MAX,
                                 NGX_HTTP_CX_FORWARD_TIMEOUT,
                                 ngx_http_cx_forward_posted, t, s->log,
                                 &t->post)
                != NGX_OK)
            {
                ngx_http_cx_forward_posted(t, 0,
                                           "could not start the request");
            }
        }
    }
}


/*
 * An erasure: the visitor's rows deleted from the responses and then the
 * events table (ALTER TABLE ... DELETE, a mutation ClickHouse applies in
 * the background), then the entry leaves the outbox; a failure leaves it
 * for the next round.  Alerts hold no one's words and stay.
 */

static void
ngx_http_cx_forward_erase(ngx_http_cx_forward_sender_t *s)
{
    u_char     *p;
    ngx_str_t   sql;
    u_char      buf[256];

    p = ngx_sprintf(buf, "ALTER TABLE %V.%s DELETE WHERE visitor = '",
                    &s->fw->database,
                    ngx_cx_forward_table(s->erase_step == 0
                                         ? NGX_CX_FORWARD_RESPONSES
                                         : NGX_CX_FORWARD_EVENTS));
    p = ngx_hex_dump(p, s->erase_visitor, NGX_CX_VISITOR_ID_LEN);
    *p++ = '\'';

    sql.data = buf;
    sql.len = p - buf;

    if (ngx_http_cx_post(&s->fw->target, NULL, &s->fw->auth, &sql,
                         NGX_HTTP_CX_FORWARD_ERROR_MAX,
                         NGX_HTTP_CX_FORWARD_TIMEOUT,
                         ngx_http_cx_forward_erased, s, s->log,
                         &s->tables[0].post)
        != NGX_OK)
    {
        ngx_http_cx_forward_next(s, 1);
    }
}


static void
ngx_http_cx_forward_erased(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_forward_sender_t *s = data;

    u_char  *p, why[NGX_HTTP_CX_FORWARD_WHY];

    ngx_http_cx_forward_why(s->tables[0].post, why);
    s->tables[0].post = NULL;

    if (s->stopped) {
        return;
    }

    if (status != 200) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "cx_forward: an erasure (cxctl erase) was not taken by "
                      "ClickHouse \"%V\": %s; it is tried again",
                      &s->fw->target.url,
                      status ? (char *) why : error);
        s->schema = 0;
        ngx_http_cx_forward_next(s, 1);
        return;
    }

    if (++s->erase_step < 2) {
        ngx_http_cx_forward_erase(s);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                  "cx_forward: a visitor erased with cxctl erase is being "
                  "deleted from ClickHouse (its tables' mutations)");

    p = ngx_http_cx_forward_room(s, &s->gone, NGX_CX_OUTBOX_KEY_LEN);
    if (p == NULL) {
        ngx_http_cx_forward_next(s, 1);
        return;
    }

    ngx_memcpy(p, s->erase_key, NGX_CX_OUTBOX_KEY_LEN);
    s->gone.len += NGX_CX_OUTBOX_KEY_LEN;

    ngx_http_cx_forward_finish(s);
}


/* In a read transaction: the outbox's size and age, the store's fill. */

static int
ngx_http_cx_forward_count(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *data)
{
    ngx_http_cx_forward_sender_t *s = data;

    int           rc;
    MDB_val       key, val;
    MDB_env      *env;
    MDB_stat      st;
    MDB_envinfo   info;
    MDB_cursor   *cur;

    rc = mdb_stat(txn, dbs->outbox->dbi, &st);
    if (rc != 0) {
        return rc;
    }

    s->entries = st.ms_entries;
    s->oldest_ms = 0;

    /* how full the store is: the outbox is the first suspect */
    env = mdb_txn_env(txn);
    if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st) == 0
        && info.me_mapsize)
    {
        s->full_pct = (ngx_uint_t) ((info.me_last_pgno + 1) * st.ms_psize
                                    * 100 / info.me_mapsize);
    }

    if (s->entries == 0) {
        return 0;
    }

    rc = mdb_cursor_open(txn, dbs->outbox->dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    if (mdb_cursor_get(cur, &key, &val, MDB_FIRST) == 0) {
        (void) ngx_cx_journey_key_ms(key.mv_data, key.mv_size, &s->oldest_ms);
    }

    mdb_cursor_close(cur);

    return 0;
}


/* In the read transaction: the oldest entries become rows. */

static int
ngx_http_cx_forward_read(void *txn, ngx_http_cx_alert_dbs_t *dbs, void *data)
{
    ngx_http_cx_forward_sender_t *s = data;

    int           rc;
    u_char       *p;
    MDB_val       key, val;
    MDB_cursor   *cur;

    rc = ngx_http_cx_forward_count(txn, dbs, s);
    if (rc != 0 || s->entries == 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, dbs->outbox->dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);

    while (rc == 0 && s->taken < s->fw->batch) {

        /* an erasure goes alone, once what came before it is sent */
        if (key.mv_size == NGX_CX_OUTBOX_KEY_LEN && val.mv_size
            && ((u_char *) val.mv_data)[0] == NGX_CX_OUTBOX_ERASE
            && val.mv_size == 1 + NGX_CX_VISITOR_ID_LEN)
        {
            if (s->taken == 0) {
                s->erase = 1;
                ngx_memcpy(s->erase_key, key.mv_data, NGX_CX_OUTBOX_KEY_LEN);
                ngx_memcpy(s->erase_visitor, (u_char *) val.mv_data + 1,
                           NGX_CX_VISITOR_ID_LEN);
                s->taken = 1;
            }

            break;
        }

        if (key.mv_size == NGX_CX_OUTBOX_KEY_LEN) {
            if (ngx_http_cx_forward_row(s, txn, dbs, &key, &val) != NGX_OK) {
                mdb_cursor_close(cur);
                return ENOMEM;
            }

        } else {
            /* not an entry this version writes: out of the way */
            p = ngx_http_cx_forward_room(s, &s->gone, NGX_CX_OUTBOX_KEY_LEN);
            if (p == NULL) {
                mdb_cursor_close(cur);
                return ENOMEM;
            }
            ngx_memzero(p, NGX_CX_OUTBOX_KEY_LEN);
            ngx_memcpy(p, key.mv_data,
                       ngx_min(key.mv_size, NGX_CX_OUTBOX_KEY_LEN));
            s->gone.len += NGX_CX_OUTBOX_KEY_LEN;
        }

        s->taken++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }

    mdb_cursor_close(cur);

    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : rc;
}


static ngx_int_t
ngx_http_cx_forward_row(ngx_http_cx_forward_sender_t *s, MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, MDB_val *key, MDB_val *val)
{
    int                           kind;
    u_char                       *p, *end;
    size_t                        ref_len, max;
    MDB_val                       k, v;
    ngx_str_t                    *node;
    ngx_cx_alert_t                a;
    ngx_cx_record_t               rec;
    ngx_cx_journey_t              ev;
    const u_char                 *ref;
    ngx_http_cx_forward_buf_t    *keys;
    ngx_http_cx_forward_table_t  *t;

    node = &s->cmcf->node;
    keys = &s->gone;
    t = NULL;

    if (val->mv_size && ((u_char *) val->mv_data)[0] == NGX_CX_OUTBOX_EVENTS) {
        return ngx_http_cx_forward_events(s, key, val);
    }

    if (ngx_cx_outbox_parse(val->mv_data, val->mv_size, &kind, &ref, &ref_len,
                            &ev)
        != 0)
    {
        goto gone;
    }

    switch (kind) {

    case NGX_CX_OUTBOX_RESPONSE:
        k.mv_data = (void *) ref;
        k.mv_size = ref_len;

        if (mdb_get(txn, dbs->responses, &k, &v) != 0
            || ngx_cx_record_decode(v.mv_data, v.mv_size, &rec) != 0)
        {
            goto gone;              /* erased or pruned since */
        }

        t = &s->tables[NGX_CX_FORWARD_RESPONSES];
        max = ngx_cx_forward_response_max(&rec, node->len);
        p = ngx_http_cx_forward_room(s, &t->rows, max);
        if (p == NULL) {
            return NGX_ERROR;
        }
        end = ngx_cx_forward_response(p, ref, &rec, node->data, node->len);
        break;

    case NGX_CX_OUTBOX_ALERT:
        k.mv_data = (void *) ref;
        k.mv_size = ref_len;

        if (mdb_get(txn, dbs->alerts, &k, &v) != 0
            || ngx_cx_alert_decode(k.mv_data, k.mv_size, v.mv_data,
                                   v.mv_size, &a)
               != 0)
        {
            goto gone;              /* vetoed, or pruned */
        }

        t = &s->tables[NGX_CX_FORWARD_ALERTS];
        max = ngx_cx_forward_alert_max(&a, node->len);
        p = ngx_http_cx_forward_room(s, &t->rows, max);
        if (p == NULL) {
            return NGX_ERROR;
        }
        end = ngx_cx_forward_alert(p, &a, node->data, node->len);
        break;

    default: /* NGX_CX_OUTBOX_EVENT */
        t = &s->tables[NGX_CX_FORWARD_EVENTS];
        p = ngx_http_cx_forward_room(s, &t->rows, NGX_CX_FORWARD_EVENT_MAX);
        if (p == NULL) {
            return NGX_ERROR;
        }
        end = ngx_cx_forward_event(p, ref, &ev, node->data, node->len);
        break;
    }

    t->rows.len += end - p;
    t->n++;
    keys = &t->keys;

gone:

    p = ngx_http_cx_forward_room(s, keys, NGX_CX_OUTBOX_KEY_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, key->mv_data, NGX_CX_OUTBOX_KEY_LEN);
    keys->len += NGX_CX_OUTBOX_KEY_LEN;

    return NGX_OK;
}


/* A 'B' entry: a commit's events, rows of the events table. */

static ngx_int_t
ngx_http_cx_forward_events(ngx_http_cx_forward_sender_t *s, MDB_val *key,
    MDB_val *val)
{
    int                           rc, kind;
    u_char                       *p;
    size_t                        pos, vlen, ref_len;
    ngx_str_t                    *node;
    ngx_uint_t                    n;
    ngx_cx_journey_t              ev;
    const u_char                 *v, *ref;
    ngx_http_cx_forward_buf_t    *keys;
    ngx_http_cx_forward_table_t  *t;

    node = &s->cmcf->node;
    t = &s->tables[NGX_CX_FORWARD_EVENTS];
    pos = 0;
    n = 0;

    while ((rc = ngx_cx_outbox_batch_next(val->mv_data, val->mv_size, &pos,
                                          &v, &vlen))
           == 1)
    {
        if (ngx_cx_outbox_parse(v, vlen, &kind, &ref, &ref_len, &ev) != 0
            || kind != NGX_CX_OUTBOX_EVENT)
        {
            continue;               /* a damaged one: the others go */
        }

        p = ngx_http_cx_forward_room(s, &t->rows, NGX_CX_FORWARD_EVENT_MAX);
        if (p == NULL) {
            return NGX_ERROR;
        }

        t->rows.len += ngx_cx_forward_event(p, ref, &ev, node->data,
                                            node->len) - p;
        n++;
    }

    /* its key goes with the table's rows, or out of the way if none */
    keys = (rc == 0 && n) ? &t->keys : &s->gone;
    t->n += n;

    /* an entry counts as its events towards the batch */
    s->taken += n ? n - 1 : 0;

    p = ngx_http_cx_forward_room(s, keys, NGX_CX_OUTBOX_KEY_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, key->mv_data, NGX_CX_OUTBOX_KEY_LEN);
    keys->len += NGX_CX_OUTBOX_KEY_LEN;

    return NGX_OK;
}


/*
 * n more bytes at the end of b, which grows by doubling and is kept for
 * the next rounds (the process's: a round's pool would map and fault in a
 * batch's megabytes afresh each time).
 */

static u_char *
ngx_http_cx_forward_room(ngx_http_cx_forward_sender_t *s,
    ngx_http_cx_forward_buf_t *b, size_t n)
{
    u_char  *p;
    size_t   size;

    if (b->size - b->len >= n) {
        return b->data + b->len;
    }

    size = ngx_max(b->size * 2, b->len + n);
    size = ngx_max(size, 65536);

    p = ngx_alloc(size, s->log);
    if (p == NULL) {
        return NULL;
    }

    if (b->len) {
        ngx_memcpy(p, b->data, b->len);
    }

    if (b->data) {
        ngx_free(b->data);
    }

    b->data = p;
    b->size = size;

    return p + b->len;
}


static void
ngx_http_cx_forward_posted(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_forward_table_t *t = data;

    u_char                         why[NGX_HTTP_CX_FORWARD_WHY];
    ngx_uint_t                     i;
    ngx_http_cx_forward_sender_t  *s;

    s = t->sender;

    ngx_http_cx_forward_why(t->post, why);

    t->post = NULL;
    t->status = status;
    t->error = error;

    i = t - s->tables;

    if (status != 200) {
        ngx_http_cx_forward_failed(s, status, error, why, "INSERT INTO",
                                   (ngx_int_t) i);
    }

    if (--s->posting == 0) {
        ngx_http_cx_forward_finish(s);
    }
}


/* All POSTs answered: the entries ClickHouse has (or that name nothing) go. */

static void
ngx_http_cx_forward_finish(ngx_http_cx_forward_sender_t *s)
{
    u_char                       *p;
    ngx_uint_t                    i, failed;
    ngx_http_cx_forward_buf_t    *all;
    ngx_http_cx_forward_table_t  *t;

    if (s->stopped) {
        return;
    }

    failed = 0;
    all = &s->gone;

    for (i = 0; i < NGX_CX_FORWARD_TABLES; i++) {
        t = &s->tables[i];

        if (t->n == 0) {
            continue;
        }

        if (t->status != 200) {
            failed = 1;
            continue;
        }

        s->sent += t->n;

        p = ngx_http_cx_forward_room(s, all, t->keys.len);
        if (p == NULL) {
            ngx_http_cx_forward_next(s, 1);
            return;
        }

        ngx_memcpy(p, t->keys.data, t->keys.len);
        all->len += t->keys.len;
    }

    if (!failed && s->failing) {
        s->failing = 0;
        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "cx_forward: ClickHouse \"%V\" takes records again; "
                      "the outbox drains (%uL entries)", &s->fw->target.url,
                      s->entries);
    }

    if (failed) {
        s->failing = 1;
        s->schema = 0;          /* the tables may be what is missing */
    }

    if (all->len == 0) {
        ngx_http_cx_forward_next(s, failed);
        return;
    }

    ngx_memzero(&s->op, sizeof(ngx_http_cx_alert_op_t));
    s->op.apply = ngx_http_cx_forward_delete;
    s->op.done = ngx_http_cx_forward_deleted;
    s->op.data = s;
    s->deleted = failed;        /* remembered through the commit */

    if (ngx_http_cx_store_alert(s->cmcf->store, &s->op) != NGX_OK) {
        ngx_http_cx_forward_next(s, 1);
    }
}


/* In the commit's transaction: deletes the keys in s->gone. */

static int
ngx_http_cx_forward_delete(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    ngx_http_cx_alert_op_t *op)
{
    ngx_http_cx_forward_sender_t *s = op->data;

    int      rc;
    u_char  *p, *end;
    MDB_val  key;

    end = s->gone.data + s->gone.len;

    for (p = s->gone.data; p < end; p += NGX_CX_OUTBOX_KEY_LEN) {
        key.mv_data = p;
        key.mv_size = NGX_CX_OUTBOX_KEY_LEN;

        rc = mdb_del(txn, dbs->outbox->dbi, &key, NULL);

        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    op->rc = NGX_OK;

    return 0;
}


static void
ngx_http_cx_forward_deleted(ngx_http_cx_alert_op_t *op)
{
    ngx_http_cx_forward_sender_t *s = op->data;

    ngx_flag_t  failed;

    failed = s->deleted || op->rc != NGX_OK;

    if (op->rc != NGX_OK) {
        /* sent, and sent again next round: harmless, but say so */
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "cx_forward: sent entries could not be removed from "
                      "the outbox; they will be sent again");
    }

    if (!failed && s->taken >= s->fw->batch && !s->stopped) {
        /* more are waiting: the next round at once */
        ngx_destroy_pool(s->pool);
        s->pool = NULL;
        s->wait = s->fw->interval;
        ngx_http_cx_forward_round(s);
        return;
    }

    ngx_http_cx_forward_next(s, failed);
}


/* The round is over: its pool goes, the next one is timed. */

static void
ngx_http_cx_forward_next(ngx_http_cx_forward_sender_t *s, ngx_flag_t failed)
{
    if (s->pool) {
        ngx_destroy_pool(s->pool);
        s->pool = NULL;
    }

    s->busy = 0;

    if (failed) {
        s->failing = 1;
        s->wait = ngx_min(s->wait * 2, NGX_HTTP_CX_FORWARD_BACKOFF);

        /* the outbox as it is now, for the report */
        (void) ngx_http_cx_store_read(s->cmcf->store, s->log,
                                      ngx_http_cx_forward_count, s);
        ngx_http_cx_forward_report(s);

    } else {
        s->wait = s->fw->interval;
    }

    if (!s->stopped && !ngx_exiting && !s->timer.timer_set) {
        ngx_add_timer(&s->timer, s->wait);
    }
}


/*
 * Once a minute while the outbox is not empty: its size and age; and the
 * store's fill level when it nears max_size, naming the outbox first.
 */

static void
ngx_http_cx_forward_report(ngx_http_cx_forward_sender_t *s)
{
    time_t       now;
    u_char       why[128];
    uint64_t     age;
    ngx_flag_t   full;
    ngx_time_t  *tp;

    now = ngx_time();
    tp = ngx_timeofday();
    age = 0;

    if (s->oldest_ms && s->entries) {
        age = ((uint64_t) tp->sec * 1000 + tp->msec - s->oldest_ms) / 1000;
    }

    full = (s->full_pct >= NGX_HTTP_CX_FORWARD_FULL && s->entries);

    /* the first time at once, then with each minute's report */
    if (full
        && (!s->warned_full || now - s->reported >= NGX_HTTP_CX_FORWARD_REPORT))
    {
        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "cx_store: \"%V\" is %ui%% full and its outbox holds "
                      "%uL entries not yet in ClickHouse (oldest %uLs); "
                      "the store refuses answers when full: bring "
                      "ClickHouse back or raise max_size= of cx_store",
                      &s->cmcf->store_path, s->full_pct, s->entries, age);
    }

    s->warned_full = full;

    if (now - s->reported < NGX_HTTP_CX_FORWARD_REPORT) {
        return;
    }

    if (s->entries && (s->failing || age > 60)) {
        if (!s->failing) {
            ngx_cpystrn(why, (u_char *) "slow", sizeof(why));
        } else if (s->last_status) {
            *ngx_snprintf(why, sizeof(why) - 1, "answered %ui",
                          s->last_status) = '\0';
        } else {
            *ngx_snprintf(why, sizeof(why) - 1, "%s",
                          s->last_error ? s->last_error : "failed") = '\0';
        }

        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "cx_forward: outbox holds %uL entries, oldest %uLs; "
                      "%uL sent in the last %Ts; ClickHouse \"%V\": %s",
                      s->entries, age, s->sent, now - s->reported,
                      &s->fw->target.url, why);

    } else if (s->sent) {
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "cx_forward: %uL records sent in the last %Ts, "
                      "outbox %uL entries", s->sent, now - s->reported,
                      s->entries);
    }

    s->sent = 0;
    s->reported = now;
}


/*
 * ClickHouse says why in its answer's first line ("Code: 60,
 * e.displayText() = DB::Exception: Table cx.responses doesn't exist."):
 * that line, printable ASCII only, cut to fit.
 */

static void
ngx_http_cx_forward_why(ngx_http_cx_post_t *post, u_char *why)
{
    u_char     *p, *q, *end;
    ngx_str_t  *body;

    *why = '\0';

    if (post == NULL) {
        return;
    }

    body = ngx_http_cx_post_body(post);
    p = body->data;
    end = p ? p + body->len : p;
    q = why;

    while (p < end && *p != '\n' && q < why + NGX_HTTP_CX_FORWARD_WHY - 4) {
        *q++ = (*p >= 0x20 && *p < 0x7f && *p != '"') ? *p : '?';
        p++;
    }

    if (p < end && *p != '\n') {
        q = ngx_cpymem(q, "...", 3);
    }

    *q = '\0';
}
