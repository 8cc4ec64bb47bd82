/*
 * The alert sender: see ngx_http_cx_alert.h.
 *
 * One sender per store: worker 0 (a reload's new worker 0 takes over; the
 * old one stops sending as it starts exiting).  The sender holds a lock on
 * <store>/alerts.lock while it sends: a new worker 0 starts sending only
 * once the old one, which finishes the exchanges it has in flight and
 * commits their results, has exited (or died: the lock goes with the
 * process), so one delivery is never posted by two generations at once.
 * Every second, and as soon
 * as a delivery finishes, it reads the deliveries that are due from the
 * front of the queue, at most cx_alert_concurrency in flight, builds each
 * payload from the alert and its response in that read transaction, and
 * posts it.  The result goes back as an op through the store's group
 * commit; a delivery stays in the queue, and counts as in flight here,
 * until that op is committed, so a delivery is never sent twice at once
 * and never lost: after a crash it is simply sent again (receivers tell a
 * repeat by its webhook-id).
 */

#include "ngx_http_cx_alert.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_lua.h"
#include "ngx_cx_json.h"


#define NGX_HTTP_CX_SEND_EVERY    1000    /* ms between reads of the queue */
#define NGX_HTTP_CX_SEND_SCAN     1000    /* due entries looked at per read */
#define NGX_HTTP_CX_SEND_LOCK     "/alerts.lock"


typedef struct ngx_http_cx_sender_s  ngx_http_cx_sender_t;

typedef struct {
    ngx_http_cx_sender_t       *sender;
    ngx_uint_t                  state;      /* FREE, POST, OP */
    ngx_pool_t                 *pool;
    ngx_http_cx_post_t         *post;       /* while posted */
    ngx_http_cx_alert_level_t  *level;
    ngx_str_t                   body;
    ngx_str_t                   headers;
    ngx_str_t                   fields;     /* from the rule's Lua: a blob */
    ngx_http_cx_alert_op_t      op;
} ngx_http_cx_slot_t;

#define NGX_HTTP_CX_SLOT_FREE   0
#define NGX_HTTP_CX_SLOT_POST   1       /* picked, to be posted */
#define NGX_HTTP_CX_SLOT_BUSY   2       /* posted, or its op submitted */

struct ngx_http_cx_sender_s {
    ngx_http_cx_main_conf_t    *cmcf;
    ngx_log_t                  *log;
    ngx_event_t                 timer;
    ngx_http_cx_slot_t         *slots;
    ngx_uint_t                  nslots;
    uint64_t                    now_ms;
    ngx_flag_t                  stopped;
    ngx_fd_t                    lock;       /* <store>/alerts.lock */
    ngx_flag_t                  locked;     /* this process holds it */
    ngx_flag_t                  waiting;    /* said so in the log */
};


static void ngx_http_cx_alert_send_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_cx_alert_lock(ngx_http_cx_sender_t *sender);
static int ngx_http_cx_alert_pick(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *data);
static ngx_int_t ngx_http_cx_alert_prepare(ngx_http_cx_sender_t *sender,
    MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs, ngx_http_cx_slot_t *slot);
static ngx_int_t ngx_http_cx_alert_payload(ngx_http_cx_slot_t *slot,
    ngx_cx_alert_t *a, ngx_cx_record_t *rec);
static u_char *ngx_http_cx_alert_ack_url(ngx_http_cx_slot_t *slot, u_char *p,
    ngx_cx_alert_t *a);
static u_char *ngx_http_cx_alert_object(u_char *p, ngx_cx_bytes_t blob);
static ngx_int_t ngx_http_cx_alert_sign(ngx_http_cx_slot_t *slot,
    ngx_cx_alert_t *a);
static void ngx_http_cx_alert_posted(void *data, ngx_uint_t status,
    const char *error);
static void ngx_http_cx_alert_submit(ngx_http_cx_slot_t *slot);
static void ngx_http_cx_alert_op_done(ngx_http_cx_alert_op_t *op);
static void ngx_http_cx_alert_free(ngx_http_cx_slot_t *slot);


ngx_int_t
ngx_http_cx_alert_init_process(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf)
{
    u_char                *path;
    ngx_http_cx_sender_t  *sender;

    if (cmcf->alerts.nelts == 0 || cmcf->store == NULL
        || !ngx_http_cx_store_usable(cmcf->store)
        || (ngx_process == NGX_PROCESS_WORKER && ngx_worker != 0))
    {
        return NGX_OK;
    }

    sender = ngx_pcalloc(cycle->pool, sizeof(ngx_http_cx_sender_t));
    if (sender == NULL) {
        return NGX_ERROR;
    }

    sender->nslots = cmcf->alert_concurrency;
    sender->slots = ngx_pcalloc(cycle->pool,
                                sender->nslots * sizeof(ngx_http_cx_slot_t));
    if (sender->slots == NULL) {
        return NGX_ERROR;
    }

    sender->cmcf = cmcf;
    sender->log = cycle->log;

    /* the lock file: created by the worker user in the store's directory */
    path = ngx_pnalloc(cycle->pool, cmcf->store_path.len
                                    + sizeof(NGX_HTTP_CX_SEND_LOCK));
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(path, cmcf->store_path.data, cmcf->store_path.len),
               NGX_HTTP_CX_SEND_LOCK, sizeof(NGX_HTTP_CX_SEND_LOCK));

    sender->lock = ngx_open_file(path, NGX_FILE_RDWR, NGX_FILE_CREATE_OR_OPEN,
                                 NGX_FILE_DEFAULT_ACCESS);

    if (sender->lock == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "cx_alert: cannot open \"%s\", alerts are sent "
                      "without it", path);
        sender->locked = 1;
    }

    sender->timer.handler = ngx_http_cx_alert_send_handler;
    sender->timer.data = sender;
    sender->timer.log = cycle->log;
    sender->timer.cancelable = 1;   /* never delays a graceful exit */

    ngx_add_timer(&sender->timer, 100);

    cmcf->alert_sender = sender;

    return NGX_OK;
}


void
ngx_http_cx_alert_exit_process(ngx_http_cx_main_conf_t *cmcf)
{
    ngx_http_cx_sender_t  *sender = cmcf->alert_sender;

    ngx_uint_t  i;

    if (sender == NULL) {
        return;
    }

    /* what is in flight is sent again by the next sender */
    sender->stopped = 1;

    for (i = 0; i < sender->nslots; i++) {
        if (sender->slots[i].post) {
            ngx_http_cx_post_cancel(sender->slots[i].post);
            sender->slots[i].post = NULL;
        }
    }

    if (sender->timer.timer_set) {
        ngx_del_timer(&sender->timer);
    }

    /* the lock stays until the process is gone, its last commit done */

    cmcf->alert_sender = NULL;
}


static void
ngx_http_cx_alert_send_handler(ngx_event_t *ev)
{
    ngx_http_cx_sender_t *sender = ev->data;

    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_time_t          *tp;
    ngx_http_cx_slot_t  *slot;

    if (sender->stopped || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (!sender->locked && ngx_http_cx_alert_lock(sender) != NGX_OK) {
        ngx_add_timer(&sender->timer, NGX_HTTP_CX_SEND_EVERY);
        return;
    }

    tp = ngx_timeofday();
    sender->now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    for (i = 0; i < sender->nslots; i++) {
        if (sender->slots[i].state == NGX_HTTP_CX_SLOT_FREE) {
            break;
        }
    }

    if (i < sender->nslots) {
        (void) ngx_http_cx_store_read(sender->cmcf->store, sender->log,
                                      ngx_http_cx_alert_pick, sender);
    }

    for (i = 0; i < sender->nslots; i++) {
        slot = &sender->slots[i];

        if (slot->state != NGX_HTTP_CX_SLOT_POST) {
            continue;
        }

        slot->state = NGX_HTTP_CX_SLOT_BUSY;

        if (slot->op.op == NGX_HTTP_CX_ALERT_DROP
            || slot->op.op == NGX_HTTP_CX_ALERT_VETO)
        {
            ngx_http_cx_alert_submit(slot);
            continue;
        }

        rc = ngx_http_cx_post(&slot->level->target, NULL, &slot->headers,
                              &slot->body, 0, NGX_HTTP_CX_ALERT_TIMEOUT,
                              ngx_http_cx_alert_posted, slot, sender->log,
                              &slot->post);

        if (rc != NGX_OK) {
            ngx_http_cx_alert_posted(slot, 0, "could not start the request");
        }
    }

    if (!sender->timer.timer_set) {
        ngx_add_timer(&sender->timer, NGX_HTTP_CX_SEND_EVERY);
    }
}


/* NGX_OK once this process is the store's sender */

static ngx_int_t
ngx_http_cx_alert_lock(ngx_http_cx_sender_t *sender)
{
    ngx_err_t  err;

    err = ngx_trylock_fd(sender->lock);

    if (err == 0) {
        sender->locked = 1;

        if (sender->waiting) {
            ngx_log_error(NGX_LOG_NOTICE, sender->log, 0,
                          "cx_alert: the previous sender is gone, "
                          "sending alerts");
        }

        return NGX_OK;
    }

    if (!sender->waiting) {
        sender->waiting = 1;

        if (err == NGX_EAGAIN || err == NGX_EACCES) {
            ngx_log_error(NGX_LOG_NOTICE, sender->log, 0,
                          "cx_alert: another process (a previous worker) "
                          "still sends alerts, waiting for it");
        } else {
            ngx_log_error(NGX_LOG_ALERT, sender->log, err,
                          "cx_alert: cannot lock the lock file");
        }
    }

    return NGX_DECLINED;
}


/* In a read transaction: fill free slots with due deliveries. */

static int
ngx_http_cx_alert_pick(void *txn, ngx_http_cx_alert_dbs_t *dbs, void *data)
{
    ngx_http_cx_sender_t *sender = data;

    int                  rc;
    MDB_val              key, val;
    ngx_uint_t           i, scanned;
    MDB_cursor          *cur;
    ngx_cx_delivery_t    d;
    ngx_http_cx_slot_t  *slot, *free;

    rc = mdb_cursor_open(txn, dbs->deliveries, &cur);
    if (rc != 0) {
        return rc;
    }

    scanned = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && scanned++ < NGX_HTTP_CX_SEND_SCAN;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (ngx_cx_delivery_decode(key.mv_data, key.mv_size, val.mv_data,
                                   val.mv_size, &d)
            != 0)
        {
            continue;               /* not ours to read */
        }

        if (d.due_ms > sender->now_ms) {
            break;                  /* the rest are later still */
        }

        free = NULL;

        for (i = 0; i < sender->nslots; i++) {
            slot = &sender->slots[i];

            if (slot->state == NGX_HTTP_CX_SLOT_FREE) {
                if (free == NULL) {
                    free = slot;
                }
                continue;
            }

            if (slot->op.delivery.due_ms == d.due_ms
                && slot->op.delivery.level == d.level
                && ngx_memcmp(slot->op.delivery.alert, d.alert,
                              NGX_CX_ALERT_KEY_LEN) == 0)
            {
                break;              /* in flight */
            }
        }

        if (i < sender->nslots) {
            continue;
        }

        if (free == NULL) {
            break;
        }

        ngx_memzero(&free->op, sizeof(ngx_http_cx_alert_op_t));
        free->op.delivery = d;
        free->sender = sender;

        if (ngx_http_cx_alert_prepare(sender, txn, dbs, free) != NGX_OK) {
            ngx_http_cx_alert_free(free);
            continue;
        }

        free->state = NGX_HTTP_CX_SLOT_POST;
    }

    mdb_cursor_close(cur);

    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : rc;
}


/*
 * Decides what a due delivery becomes: a post (the payload built and
 * signed now, while the records are readable), or a drop (an escalation
 * of an alert someone has acknowledged, a rule or level no longer
 * configured, an alert gone).
 */

static ngx_int_t
ngx_http_cx_alert_prepare(ngx_http_cx_sender_t *sender, MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, ngx_http_cx_slot_t *slot)
{
    int                         rc;
    MDB_val                     key, val;
    ngx_cx_alert_t              a;
    ngx_cx_record_t             rec, *recp;
    ngx_cx_delivery_t          *d;
    ngx_http_cx_alert_t        *rule;
    ngx_http_cx_lua_alert_t     view;
    ngx_http_cx_hook_result_t   res;

    d = &slot->op.delivery;
    slot->op.op = NGX_HTTP_CX_ALERT_DROP;

    key.mv_data = d->alert;
    key.mv_size = NGX_CX_ALERT_KEY_LEN;

    rc = mdb_get(txn, dbs->alerts, &key, &val);

    if (rc != 0
        || ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                               val.mv_size, &a)
           != 0)
    {
        return NGX_OK;
    }

    rule = ngx_http_cx_alert_rule(&sender->cmcf->alerts, a.rule.data,
                                  a.rule.len);

    if (rule == NULL || d->level >= rule->levels.nelts) {
        ngx_log_error(NGX_LOG_WARN, sender->log, 0,
                      "cx_alert \"%*s\": level %ui is no longer configured, "
                      "its delivery is dropped", a.rule.len, a.rule.data,
                      (ngx_uint_t) d->level);
        return NGX_OK;
    }

    if (d->level > 0 && a.state != NGX_CX_ALERT_OPEN) {
        return NGX_OK;              /* acted on in time: no escalation */
    }

    slot->level = &((ngx_http_cx_alert_level_t *) rule->levels.elts)[d->level];

    /* NULL when erased: the alert alone */
    recp = ngx_http_cx_alert_response(txn, dbs, &a, &rec);

    slot->pool = ngx_create_pool(4096, sender->log);
    if (slot->pool == NULL) {
        return NGX_ERROR;
    }

    /* the rule's Lua may veto, or add fields; a failed one does neither */
    if (rule->hook) {
        view.rule = a.rule;
        view.level = d->level;
        view.rec = recp;

        rc = ngx_http_cx_lua_alert(rule->hook, sender->log, &view, &res);

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_INFO, sender->log, 0,
                          "cx_alert \"%V\": level %ui vetoed by its Lua",
                          &rule->name, (ngx_uint_t) d->level);
            slot->op.op = NGX_HTTP_CX_ALERT_VETO;
            return NGX_OK;
        }

        if (rc == NGX_OK && res.attrs_len) {
            slot->fields.data = ngx_pnalloc(slot->pool, res.attrs_len);
            if (slot->fields.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(slot->fields.data, res.attrs, res.attrs_len);
            slot->fields.len = res.attrs_len;
        }
    }

    if (ngx_http_cx_alert_payload(slot, &a, recp) != NGX_OK
        || ngx_http_cx_alert_sign(slot, &a) != NGX_OK)
    {
        return NGX_ERROR;
    }

    slot->op.op = NGX_HTTP_CX_ALERT_DELIVERED;     /* decided when posted */

    return NGX_OK;
}


/* ---- the payload ---- */

static u_char *
ngx_http_cx_alert_str(u_char *p, const u_char *s, size_t len)
{
    *p++ = '"';
    p = ngx_cx_json_escape(p, s, len);
    *p++ = '"';

    return p;
}


/* an attributes blob (ngx_cx_record.h) as a JSON object of strings */

static u_char *
ngx_http_cx_alert_object(u_char *p, ngx_cx_bytes_t blob)
{
    ngx_uint_t      first;
    ngx_cx_bytes_t  k, v;

    *p++ = '{';
    first = 1;

    while (ngx_cx_attrs_next(&blob, &k, &v) == 1) {
        if (!first) {
            *p++ = ',';
        }

        first = 0;
        p = ngx_http_cx_alert_str(p, k.data, k.len);
        *p++ = ':';
        p = ngx_http_cx_alert_str(p, v.data, v.len);
    }

    *p++ = '}';

    return p;
}


static ngx_int_t
ngx_http_cx_alert_payload(ngx_http_cx_slot_t *slot, ngx_cx_alert_t *a,
    ngx_cx_record_t *rec)
{
    u_char             *p;
    size_t              size;
    ngx_int_t           band;
    ngx_str_t          *node;
    ngx_cx_bytes_t      fields;
    u_char              id[NGX_CX_ALERT_ID_LEN];
    u_char              hex[2 * NGX_CX_PROMPT_ID_LEN];
    char                at[NGX_CX_ISO8601_SIZE];

    node = (ngx_str_t *) &ngx_cycle->hostname;

    size = 512 + 6 * (a->rule.len + node->len + 2 * slot->fields.len)
           + slot->sender->cmcf->alert_link.len + NGX_CX_ALERT_LINK_LEN;
    if (rec) {
        size += 6 * (rec->survey.len + rec->touchpoint.len + rec->comment.len
                     + 2 * rec->attrs.len);
    }

    p = ngx_pnalloc(slot->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    slot->body.data = p;

    (void) ngx_cx_b64url_encode(id, a->key, NGX_CX_ALERT_KEY_LEN);
    (void) ngx_cx_iso8601(at, a->created_ms);
    band = rec && (rec->flags & NGX_CX_REC_ANSWERED)
           ? ngx_cx_band(rec->type, rec->score) : 0;

    if (slot->level->format == NGX_HTTP_CX_ALERT_SLACK) {
        /* {"text": "..."}: the same facts in one line of text */
        p = ngx_cpymem(p, "{\"text\":\"", 9);
        p = ngx_cx_json_escape(p, a->rule.data, a->rule.len);

        if (slot->op.delivery.level) {
            p = ngx_sprintf(p, " (escalation %ui)",
                            (ngx_uint_t) slot->op.delivery.level);
        }

        if (rec) {
            p = ngx_cpymem(p, ": ", 2);
            p = ngx_cx_json_escape(p, rec->survey.data, rec->survey.len);

            if (rec->flags & NGX_CX_REC_ANSWERED) {
                p = ngx_sprintf(p, " scored %d", rec->score);

                if (band) {
                    p = ngx_sprintf(p, " (%s)", ngx_cx_band_name(band));
                }
            }

            p = ngx_cpymem(p, " at ", 4);
            p = ngx_cx_json_escape(p, rec->touchpoint.data,
                                   rec->touchpoint.len);

            if (rec->comment.len) {
                p = ngx_cpymem(p, ": \\\"", 4);
                p = ngx_cx_json_escape(p, rec->comment.data,
                                       rec->comment.len);
                p = ngx_cpymem(p, "\\\"", 2);
            }
        }

        p = ngx_sprintf(p, " [alert %*s]", (size_t) NGX_CX_ALERT_ID_LEN, id);

        if (slot->sender->cmcf->alert_link.len) {
            p = ngx_cpymem(p, " Acknowledge: ", 14);
            p = ngx_http_cx_alert_ack_url(slot, p, a);
        }

        p = ngx_cpymem(p, "\"}", 2);
        slot->body.len = p - slot->body.data;

        return NGX_OK;
    }

    p = ngx_sprintf(p, "{\"id\":\"%*s\",\"alert\":",
                    (size_t) NGX_CX_ALERT_ID_LEN, id);
    p = ngx_http_cx_alert_str(p, a->rule.data, a->rule.len);
    p = ngx_sprintf(p, ",\"level\":%ui,\"created_at\":\"%s\"",
                    (ngx_uint_t) slot->op.delivery.level, at);

    if (rec) {
        p = ngx_cpymem(p, ",\"survey\":", 10);
        p = ngx_http_cx_alert_str(p, rec->survey.data, rec->survey.len);
        p = ngx_sprintf(p, ",\"type\":\"%s\"", ngx_cx_type_name(rec->type));

        if (rec->flags & NGX_CX_REC_ANSWERED) {
            p = ngx_sprintf(p, ",\"score\":%d", rec->score);
        } else {
            p = ngx_cpymem(p, ",\"score\":null", 13);
        }

        if (band) {
            p = ngx_sprintf(p, ",\"band\":\"%s\"", ngx_cx_band_name(band));
        } else {
            p = ngx_cpymem(p, ",\"band\":null", 12);
        }

        p = ngx_cpymem(p, ",\"comment\":", 11);
        p = ngx_http_cx_alert_str(p, rec->comment.data, rec->comment.len);
        p = ngx_cpymem(p, ",\"touchpoint\":", 14);
        p = ngx_http_cx_alert_str(p, rec->touchpoint.data,
                                  rec->touchpoint.len);
        p = ngx_sprintf(p, ",\"stage\":\"%s\"",
                        ngx_cx_stage_name(rec->stage));

        ngx_cx_hex(hex, rec->visitor, NGX_CX_VISITOR_ID_LEN);
        p = ngx_sprintf(p, ",\"visitor\":\"%*s\",\"attributes\":",
                        (size_t) (2 * NGX_CX_VISITOR_ID_LEN), hex);
        p = ngx_http_cx_alert_object(p, rec->attrs);
    }

    /* what the rule's Lua added: its own object, never over ours */
    if (slot->fields.len) {
        p = ngx_cpymem(p, ",\"fields\":", 10);
        fields.data = slot->fields.data;
        fields.len = slot->fields.len;
        p = ngx_http_cx_alert_object(p, fields);
    }

    ngx_cx_hex(hex, a->key, NGX_CX_PROMPT_ID_LEN);
    p = ngx_sprintf(p, ",\"response_id\":\"%*s\",\"ack_url\":",
                    (size_t) (2 * NGX_CX_PROMPT_ID_LEN), hex);

    if (slot->sender->cmcf->alert_link.len) {
        *p++ = '"';
        p = ngx_http_cx_alert_ack_url(slot, p, a);
        *p++ = '"';

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"node\":", 8);
    p = ngx_http_cx_alert_str(p, node->data, node->len);
    *p++ = '}';

    slot->body.len = p - slot->body.data;

    return NGX_OK;
}


/*
 * cx_alert_link + "a/" + the signed link (ngx_http_cx_alert_page.c); the
 * link's characters (base64url and ".") and the configured URL's need no
 * JSON escaping (cx_alert_link refuses quotes).
 */

static u_char *
ngx_http_cx_alert_ack_url(ngx_http_cx_slot_t *slot, u_char *p,
    ngx_cx_alert_t *a)
{
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = slot->sender->cmcf;

    p = ngx_cpymem(p, cmcf->alert_link.data, cmcf->alert_link.len);
    p = ngx_cpymem(p, "a/", 2);

    return p + ngx_cx_signed_encode(p, NGX_CX_ALERT_LINK_LEN, &cmcf->token_key,
                                    NGX_CX_DOMAIN_ALERT_LINK, a->key,
                                    NGX_CX_ALERT_KEY_LEN);
}


/*
 * Standard Webhooks: webhook-id (the same on every retry of this alert's
 * level), webhook-timestamp, and webhook-signature "v1,<base64 HMAC-SHA256
 * of id.timestamp.body>" under the target's key.
 */

static ngx_int_t
ngx_http_cx_alert_sign(ngx_http_cx_slot_t *slot, ngx_cx_alert_t *a)
{
    u_char     *p, *msg;
    size_t      len;
    ngx_str_t   mac, sig;
    u_char      id[NGX_CX_ALERT_ID_LEN];
    u_char      digest[32], b64[ngx_base64_encoded_length(32)];

    (void) ngx_cx_b64url_encode(id, a->key, NGX_CX_ALERT_KEY_LEN);

    len = NGX_CX_ALERT_ID_LEN + 1 + NGX_INT_T_LEN + 1 + NGX_TIME_T_LEN + 1
          + slot->body.len;

    msg = ngx_pnalloc(slot->pool, len);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(msg, "%*s.%ui.%T.", (size_t) NGX_CX_ALERT_ID_LEN, id,
                    (ngx_uint_t) slot->op.delivery.level, ngx_time());
    p = ngx_cpymem(p, slot->body.data, slot->body.len);

    sig.data = b64;
    sig.len = 0;

    if (slot->level->key.len) {
        ngx_cx_hmac_sha256(slot->level->key.data, slot->level->key.len, msg,
                           p - msg, digest);
        mac.data = digest;
        mac.len = sizeof(digest);
        ngx_encode_base64(&sig, &mac);
    }

    slot->headers.data = ngx_pnalloc(slot->pool, 256 + sig.len);
    if (slot->headers.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(slot->headers.data,
                    "webhook-id: %*s.%ui\r\nwebhook-timestamp: %T\r\n",
                    (size_t) NGX_CX_ALERT_ID_LEN, id,
                    (ngx_uint_t) slot->op.delivery.level, ngx_time());

    if (sig.len) {
        p = ngx_sprintf(p, "webhook-signature: v1,%V\r\n", &sig);
    }

    slot->headers.len = p - slot->headers.data;

    return NGX_OK;
}


/* ---- results ---- */

static void
ngx_http_cx_alert_posted(void *data, ngx_uint_t status, const char *error)
{
    ngx_http_cx_slot_t *slot = data;

    ngx_uint_t             late, level;
    ngx_time_t            *tp;
    u_char                 why[128];
    ngx_cx_delivery_t     *d;
    ngx_http_cx_sender_t  *sender;

    sender = slot->sender;
    d = &slot->op.delivery;
    slot->post = NULL;

    tp = ngx_timeofday();
    slot->op.now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    if (status >= 200 && status <= 299) {
        slot->op.op = NGX_HTTP_CX_ALERT_DELIVERED;

        ngx_log_error(NGX_LOG_INFO, sender->log, 0,
                      "cx_alert: level %ui delivered to \"%V\" (%ui)",
                      (ngx_uint_t) d->level, &slot->level->target.url,
                      status);

    } else if (ngx_cx_delivery_retryable((unsigned) status)) {
        slot->op.op = NGX_HTTP_CX_ALERT_RETRY;

        /* the store decides the same: say here which attempt was the last */
        late = slot->op.now_ms - d->first_ms
               >= (uint64_t) sender->cmcf->alert_retry_for * 1000;

        level = NGX_LOG_WARN;

        if (late) {
            slot->op.op = NGX_HTTP_CX_ALERT_FAILED;
            level = NGX_LOG_ERR;
        }

        /* "answered 503" or "failed: connection refused" */
        if (status) {
            *ngx_snprintf(why, sizeof(why) - 1, "answered %ui", status) = '\0';
        } else {
            *ngx_snprintf(why, sizeof(why) - 1, "failed: %s", error) = '\0';
        }

        ngx_log_error(level, sender->log, 0,
                      "cx_alert: level %ui to \"%V\" %s, attempt %ui, %s",
                      (ngx_uint_t) d->level, &slot->level->target.url, why,
                      (ngx_uint_t) d->attempts + 1,
                      late ? "given up (cx_alert_retry_for)" : "retried");

    } else {
        slot->op.op = NGX_HTTP_CX_ALERT_FAILED;

        ngx_log_error(NGX_LOG_ERR, sender->log, 0,
                      "cx_alert: level %ui to \"%V\" refused with status "
                      "%ui: not retried", (ngx_uint_t) d->level,
                      &slot->level->target.url, status);
    }

    ngx_http_cx_alert_submit(slot);
}


static void
ngx_http_cx_alert_submit(ngx_http_cx_slot_t *slot)
{
    ngx_time_t  *tp;

    if (slot->op.now_ms == 0) {
        tp = ngx_timeofday();
        slot->op.now_ms = (uint64_t) tp->sec * 1000 + tp->msec;
    }

    slot->op.done = ngx_http_cx_alert_op_done;
    slot->op.data = slot;

    if (slot->sender->stopped
        || ngx_http_cx_store_alert(slot->sender->cmcf->store, &slot->op)
           != NGX_OK)
    {
        ngx_http_cx_alert_free(slot);
    }
}


static void
ngx_http_cx_alert_op_done(ngx_http_cx_alert_op_t *op)
{
    ngx_http_cx_slot_t *slot = op->data;

    ngx_http_cx_sender_t  *sender;

    sender = slot->sender;

    ngx_http_cx_alert_free(slot);

    /* the next due one at once, rather than at the next tick */
    if (!sender->stopped && !ngx_exiting) {
        if (sender->timer.timer_set) {
            ngx_del_timer(&sender->timer);
        }

        ngx_add_timer(&sender->timer, 1);
    }
}


/*
 * Everything of the delivery goes: its pool, and every pointer into it
 * (body, headers, fields), so the next delivery in this slot starts clean.
 */

static void
ngx_http_cx_alert_free(ngx_http_cx_slot_t *slot)
{
    ngx_http_cx_sender_t  *sender;

    if (slot->pool) {
        ngx_destroy_pool(slot->pool);
    }

    sender = slot->sender;
    ngx_memzero(slot, sizeof(ngx_http_cx_slot_t));
    slot->sender = sender;              /* state: NGX_HTTP_CX_SLOT_FREE */
}
