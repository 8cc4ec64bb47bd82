/*
 * Alerts in the store's transactions: see ngx_http_cx_alert.h.  These run
 * inside the commit of ngx_http_cx_store.c (a pool thread), so they touch
 * nothing but the transaction and the read-only rules; an LMDB error is
 * returned and aborts the whole commit, the response with it.
 */

#include "ngx_http_cx_alert.h"


static int ngx_http_cx_alert_matches(ngx_http_cx_alert_t *rule,
    const ngx_cx_record_t *rec, ngx_cx_event_e event);
static int ngx_http_cx_alert_create(MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, ngx_http_cx_alert_t *rule,
    const u_char *response_id, uint64_t now_ms);
static int ngx_http_cx_alert_update(MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, const u_char *key,
    ngx_http_cx_alert_op_t *op);
static int ngx_http_cx_alert_forward(MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, const u_char *akey, uint64_t now_ms);
static int ngx_http_cx_delivery_put(MDB_txn *txn,
    ngx_http_cx_alert_dbs_t *dbs, ngx_cx_delivery_t *d);


int
ngx_http_cx_alert_open_dbs(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    unsigned flags)
{
    int  rc;

    rc = mdb_dbi_open(txn, NGX_CX_DB_ALERTS, flags, &dbs->alerts);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_DELIVERIES, flags,
                          &dbs->deliveries);
    }

    return rc;
}


/*
 * After a response changed in this transaction: an alert for each rule it
 * now matches, unless that rule already has one for it.  An answer checks
 * every rule; a comment only the rules that wait for one ("when comment"),
 * the others having had their turn with the answer.
 */

int
ngx_http_cx_alert_fire(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    const u_char *response_id, const ngx_cx_record_t *rec,
    ngx_cx_event_e event, uint64_t now_ms)
{
    int                   rc;
    ngx_uint_t            i;
    ngx_http_cx_alert_t  *rule;

    if (dbs->rules == NULL
        || (event != NGX_CX_EVENT_ANSWER && event != NGX_CX_EVENT_COMMENT))
    {
        return 0;
    }

    rule = dbs->rules->elts;

    for (i = 0; i < dbs->rules->nelts; i++) {
        if (event == NGX_CX_EVENT_COMMENT && !rule[i].comment) {
            continue;
        }

        if (!ngx_http_cx_alert_matches(&rule[i], rec, event)) {
            continue;
        }

        rc = ngx_http_cx_alert_create(txn, dbs, &rule[i], response_id,
                                      now_ms);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


static int
ngx_http_cx_alert_matches(ngx_http_cx_alert_t *rule,
    const ngx_cx_record_t *rec, ngx_cx_event_e event)
{
    ngx_str_t      *survey;
    ngx_uint_t      i;
    ngx_cx_when_t  *when;

    if (rule->surveys.nelts) {
        survey = rule->surveys.elts;

        for (i = 0; i < rule->surveys.nelts; i++) {
            if (survey[i].len == rec->survey.len
                && ngx_memcmp(survey[i].data, rec->survey.data,
                              rec->survey.len) == 0)
            {
                break;
            }
        }

        if (i == rule->surveys.nelts) {
            return 0;
        }
    }

    when = rule->whens.elts;

    for (i = 0; i < rule->whens.nelts; i++) {
        if (!ngx_cx_when_holds(&when[i], rec)) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_http_cx_alert_create(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    ngx_http_cx_alert_t *rule, const u_char *response_id, uint64_t now_ms)
{
    int                         rc;
    size_t                      len;
    MDB_val                     key, val;
    ngx_uint_t                  i;
    ngx_cx_alert_t              a;
    ngx_cx_delivery_t           d;
    ngx_http_cx_alert_level_t  *level;
    u_char                      buf[NGX_CX_ALERT_VAL_MAX];

    ngx_memzero(&a, sizeof(ngx_cx_alert_t));
    ngx_cx_alert_key(a.key, response_id, rule->id);

    key.mv_data = a.key;
    key.mv_size = NGX_CX_ALERT_KEY_LEN;

    rc = mdb_get(txn, dbs->alerts, &key, &val);
    if (rc != MDB_NOTFOUND) {
        return rc;                  /* 0: this rule fired already */
    }

    a.state = NGX_CX_ALERT_OPEN;
    a.levels = rule->levels.nelts;
    a.created_ms = now_ms;
    a.rule.data = rule->name.data;
    a.rule.len = rule->name.len;

    len = ngx_cx_alert_encode(buf, &a);
    if (len == 0) {
        return MDB_BAD_VALSIZE;
    }

    val.mv_data = buf;
    val.mv_size = len;

    rc = mdb_put(txn, dbs->alerts, &key, &val, MDB_NOOVERWRITE);
    if (rc != 0) {
        return rc;
    }

    rc = ngx_http_cx_alert_forward(txn, dbs, a.key, now_ms);
    if (rc != 0) {
        return rc;
    }

    /* every level is queued now: escalations are dropped when acknowledged */
    level = rule->levels.elts;

    for (i = 0; i < rule->levels.nelts; i++) {
        ngx_memzero(&d, sizeof(ngx_cx_delivery_t));
        d.due_ms = now_ms + (uint64_t) level[i].after * 1000;
        d.first_ms = d.due_ms;
        d.level = i;
        ngx_memcpy(d.alert, a.key, NGX_CX_ALERT_KEY_LEN);

        rc = ngx_http_cx_delivery_put(txn, dbs, &d);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


static int
ngx_http_cx_delivery_put(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    ngx_cx_delivery_t *d)
{
    MDB_val  key, val;
    u_char   kbuf[NGX_CX_DELIVERY_KEY_LEN], vbuf[NGX_CX_DELIVERY_VAL_LEN];

    ngx_cx_delivery_encode(kbuf, vbuf, d);

    key.mv_data = kbuf;
    key.mv_size = sizeof(kbuf);
    val.mv_data = vbuf;
    val.mv_size = sizeof(vbuf);

    return mdb_put(txn, dbs->deliveries, &key, &val, 0);
}


/* The result of a delivery, or someone acknowledging: op->rc says how. */

int
ngx_http_cx_alert_apply(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    ngx_http_cx_alert_op_t *op)
{
    int                 rc;
    MDB_val             key;
    ngx_cx_delivery_t  *d, next;
    u_char              kbuf[NGX_CX_DELIVERY_KEY_LEN];
    u_char              vbuf[NGX_CX_DELIVERY_VAL_LEN];

    op->rc = NGX_OK;

    if (op->op == NGX_HTTP_CX_ALERT_ACK
        || op->op == NGX_HTTP_CX_ALERT_RESOLVE)
    {
        return ngx_http_cx_alert_update(txn, dbs, op->alert, op);
    }

    d = &op->delivery;

    ngx_cx_delivery_encode(kbuf, vbuf, d);
    key.mv_data = kbuf;
    key.mv_size = sizeof(kbuf);

    rc = mdb_del(txn, dbs->deliveries, &key, NULL);

    if (rc == MDB_NOTFOUND) {
        op->rc = NGX_DECLINED;      /* already taken care of */
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (op->op == NGX_HTTP_CX_ALERT_RETRY) {
        if (op->now_ms - d->first_ms
            < (uint64_t) dbs->retry_for * 1000)
        {
            next = *d;
            next.attempts++;
            next.due_ms = op->now_ms
                          + ngx_cx_delivery_backoff_ms(d->attempts);
            return ngx_http_cx_delivery_put(txn, dbs, &next);
        }

        op->op = NGX_HTTP_CX_ALERT_FAILED;      /* retried long enough */
    }

    if (op->op == NGX_HTTP_CX_ALERT_DROP
        || (op->op == NGX_HTTP_CX_ALERT_VETO && d->level > 0))
    {
        return 0;
    }

    if (op->op == NGX_HTTP_CX_ALERT_VETO) {
        /* its escalations find no alert when due, and are dropped then */
        key.mv_data = d->alert;
        key.mv_size = NGX_CX_ALERT_KEY_LEN;

        rc = mdb_del(txn, dbs->alerts, &key, NULL);

        return rc == MDB_NOTFOUND ? 0 : rc;
    }

    return ngx_http_cx_alert_update(txn, dbs, d->alert, op);
}


static int
ngx_http_cx_alert_update(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    const u_char *akey, ngx_http_cx_alert_op_t *op)
{
    int              rc;
    size_t           len;
    MDB_val          key, val;
    ngx_cx_alert_t   a;
    u_char           rule[NGX_CX_NAME_MAX];
    u_char           buf[NGX_CX_ALERT_VAL_MAX];

    key.mv_data = (void *) akey;
    key.mv_size = NGX_CX_ALERT_KEY_LEN;

    rc = mdb_get(txn, dbs->alerts, &key, &val);

    if (rc == MDB_NOTFOUND) {
        op->rc = NGX_DECLINED;
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                            val.mv_size, &a)
        != 0)
    {
        op->rc = NGX_ERROR;         /* unreadable: left as it is */
        return 0;
    }

    /* the value lives in a page mdb_put() may reuse */
    ngx_memcpy(rule, a.rule.data, a.rule.len);
    a.rule.data = rule;

    switch (op->op) {

    case NGX_HTTP_CX_ALERT_DELIVERED:
        a.sent |= 1u << op->delivery.level;
        break;

    case NGX_HTTP_CX_ALERT_FAILED:
        a.failed |= 1u << op->delivery.level;
        break;

    case NGX_HTTP_CX_ALERT_ACK:
        if (a.state != NGX_CX_ALERT_OPEN) {
            return 0;               /* already: nothing changes */
        }

        a.state = NGX_CX_ALERT_ACKNOWLEDGED;
        a.acked_ms = op->now_ms;
        break;

    case NGX_HTTP_CX_ALERT_RESOLVE:
        if (a.state == NGX_CX_ALERT_RESOLVED) {
            return 0;
        }

        if (a.acked_ms == 0) {
            a.acked_ms = op->now_ms;
        }

        a.state = NGX_CX_ALERT_RESOLVED;
        a.resolved_ms = op->now_ms;
        break;

    default:
        return 0;
    }

    len = ngx_cx_alert_encode(buf, &a);
    if (len == 0) {
        op->rc = NGX_ERROR;
        return 0;
    }

    val.mv_data = buf;
    val.mv_size = len;

    rc = mdb_put(txn, dbs->alerts, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_cx_alert_forward(txn, dbs, akey, op->now_ms);
}


/* An alert that changed: forwarded as it is when sent. */

static int
ngx_http_cx_alert_forward(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    const u_char *akey, uint64_t now_ms)
{
    u_char  val[NGX_CX_OUTBOX_VAL_MAX];

    if (dbs->outbox == NULL) {
        return 0;
    }

    return ngx_http_cx_outbox_put(dbs->outbox, txn, now_ms, val,
                                  ngx_cx_outbox_ref(val, NGX_CX_OUTBOX_ALERT,
                                                    akey,
                                                    NGX_CX_ALERT_KEY_LEN));
}


/* A store reader (ngx_http_cx_store_read): the alerts counted by status. */

int
ngx_http_cx_alert_count(void *txn, ngx_http_cx_alert_dbs_t *dbs, void *data)
{
    ngx_http_cx_alert_counts_t *counts = data;

    int              rc;
    MDB_val          key, val;
    MDB_cursor      *cur;
    const char      *status;
    ngx_cx_alert_t   a;

    rc = mdb_cursor_open(txn, dbs->alerts, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                                val.mv_size, &a)
            != 0)
        {
            continue;
        }

        status = ngx_cx_alert_status(&a);

        switch (status[0]) {
        case 'o': counts->open++; break;
        case 'a': counts->acknowledged++; break;
        case 'r': counts->resolved++; break;
        case 'e': counts->escalated++; break;
        case 'f': counts->failed++; break;
        }
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


/* In a read transaction: an alert's response, NULL when erased or pruned. */

ngx_cx_record_t *
ngx_http_cx_alert_response(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    const ngx_cx_alert_t *a, ngx_cx_record_t *rec)
{
    MDB_val  key, val;

    key.mv_data = (void *) a->key;
    key.mv_size = NGX_CX_RESPONSE_KEY_LEN;

    if (mdb_get(txn, dbs->responses, &key, &val) != 0
        || ngx_cx_response_decode(key.mv_data, key.mv_size, val.mv_data,
                                  val.mv_size, rec)
           != 0)
    {
        return NULL;
    }

    return rec;
}
