/*
 * The alerts in the cx_report location (behind its access rules):
 *
 *   GET  <report>alerts.json            the latest alerts, newest first,
 *                                       each with its response
 *   POST <report>alerts/ID/ack          acknowledged: escalations stop
 *   POST <report>alerts/ID/resolve      resolved (acknowledged too)
 *
 * The POSTs must come from the site itself (Origin, Sec-Fetch-Site) or
 * from no browser at all, so a page elsewhere cannot make an admin's
 * browser acknowledge.  They are written in the store's next commit and
 * answered 204 once committed, 404 for an unknown alert.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_report.h"
#include "ngx_http_cx_alert.h"
#include "ngx_cx_json.h"


#define NGX_HTTP_CX_ALERTS_LIST   500     /* alerts in alerts.json */


typedef struct {
    ngx_http_cx_alert_op_t     op;
    ngx_http_request_t        *r;
} ngx_http_cx_alert_action_t;


typedef struct {
    ngx_http_cx_writer_t       *w;
    ngx_uint_t                  n;
} ngx_http_cx_alert_list_t;


static ngx_int_t ngx_http_cx_report_alert_action(ngx_http_request_t *r,
    ngx_str_t *rest);
static void ngx_http_cx_report_alert_done(ngx_http_cx_alert_op_t *op);
static int ngx_http_cx_report_alert_list(void *txn,
    ngx_http_cx_alert_dbs_t *dbs, void *data);
static void ngx_http_cx_report_alert_item(ngx_http_cx_writer_t *w,
    ngx_cx_alert_t *a, ngx_cx_record_t *rec);


/* NGX_DECLINED: not an alerts route */

ngx_int_t
ngx_http_cx_report_alerts(ngx_http_request_t *r, ngx_str_t *rest)
{
    ngx_int_t                  rc;
    ngx_http_cx_writer_t       w;
    ngx_http_cx_main_conf_t   *cmcf;
    ngx_http_cx_alert_list_t   list;

    if (rest->len > 7 && ngx_strncmp(rest->data, "alerts/", 7) == 0) {
        return ngx_http_cx_report_alert_action(r, rest);
    }

    if (rest->len != sizeof("alerts.json") - 1
        || ngx_strncmp(rest->data, "alerts.json", rest->len) != 0)
    {
        return NGX_DECLINED;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    ngx_http_cx_writer_init(&w, r->pool, 16384);
    ngx_http_cx_write(&w, "{\"alerts\":[", sizeof("{\"alerts\":[") - 1);

    list.w = &w;
    list.n = 0;

    if (ngx_http_cx_store_read(cmcf->store, r->connection->log,
                               ngx_http_cx_report_alert_list, &list)
        != NGX_OK)
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store unavailable");
    }

    ngx_http_cx_write(&w, "]}\n", 3);

    return ngx_http_cx_report_send_json(r, &w);
}


static ngx_int_t
ngx_http_cx_report_alert_action(ngx_http_request_t *r, ngx_str_t *rest)
{
    u_char                      *p, *last;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_time_t                  *tp;
    ngx_http_cx_main_conf_t     *cmcf;
    ngx_http_cx_alert_action_t  *act;

    /* alerts/<22 characters of base64url>/ack|resolve */
    p = rest->data + 7;
    last = rest->data + rest->len;

    if (last - p < NGX_CX_ALERT_ID_LEN + 1 || p[NGX_CX_ALERT_ID_LEN] != '/') {
        return NGX_HTTP_NOT_FOUND;
    }

    act = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_alert_action_t));
    if (act == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_cx_b64url_decode(act->op.alert, NGX_CX_ALERT_KEY_LEN, p,
                             NGX_CX_ALERT_ID_LEN, &len)
        != 0
        || len != NGX_CX_ALERT_KEY_LEN)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    p += NGX_CX_ALERT_ID_LEN + 1;

    if (last - p == 3 && ngx_strncmp(p, "ack", 3) == 0) {
        act->op.op = NGX_HTTP_CX_ALERT_ACK;

    } else if (last - p == 7 && ngx_strncmp(p, "resolve", 7) == 0) {
        act->op.op = NGX_HTTP_CX_ALERT_RESOLVE;

    } else {
        return NGX_HTTP_NOT_FOUND;
    }

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_cx_same_origin(r) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_FORBIDDEN,
                                      "cross-origin request");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    tp = ngx_timeofday();
    act->op.now_ms = (uint64_t) tp->sec * 1000 + tp->msec;
    act->op.done = ngx_http_cx_report_alert_done;
    act->op.data = act;
    act->r = r;

    if (ngx_http_cx_store_alert(cmcf->store, &act->op) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store unavailable");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "cx_alert: %*s %s from the report location",
                  (size_t) NGX_CX_ALERT_ID_LEN, rest->data + 7,
                  act->op.op == NGX_HTTP_CX_ALERT_ACK ? "acknowledged"
                                                      : "resolved");

    /* the commit runs in a thread: keep the request until it is done */
    r->main->blocked++;
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_cx_report_alert_done(ngx_http_cx_alert_op_t *op)
{
    ngx_http_cx_alert_action_t *act = op->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = act->r;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;

    if (op->rc == NGX_OK) {
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;
        (void) ngx_http_cx_header_out(r, "Cache-Control", "no-store");
        rc = ngx_http_send_header(r);

    } else if (op->rc == NGX_DECLINED) {
        rc = ngx_http_cx_send_error(r, NGX_HTTP_NOT_FOUND, "no such alert");

    } else {
        rc = ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "store unavailable");
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* In a read transaction: the latest alerts, newest first. */

static int
ngx_http_cx_report_alert_list(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *data)
{
    ngx_http_cx_alert_list_t *list = data;

    int               rc;
    MDB_val           key, val;
    MDB_cursor       *cur;
    ngx_cx_alert_t    a;
    ngx_cx_record_t   rec;

    rc = mdb_cursor_open(txn, dbs->alerts, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
         rc == 0 && list->n < NGX_HTTP_CX_ALERTS_LIST;
         rc = mdb_cursor_get(cur, &key, &val, MDB_PREV))
    {
        if (ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                                val.mv_size, &a)
            != 0)
        {
            continue;
        }

        if (list->n++) {
            ngx_http_cx_write(list->w, ",", 1);
        }

        ngx_http_cx_report_alert_item(list->w, &a,
                                      ngx_http_cx_alert_response(txn, dbs,
                                                                 &a, &rec));
    }

    mdb_cursor_close(cur);

    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : rc;
}


static void
ngx_http_cx_report_alert_item(ngx_http_cx_writer_t *w, ngx_cx_alert_t *a,
    ngx_cx_record_t *rec)
{
    int     band;
    u_char  id[NGX_CX_ALERT_ID_LEN];
    u_char  hex[2 * NGX_CX_PROMPT_ID_LEN];
    char    created[NGX_CX_ISO8601_SIZE], acked[NGX_CX_ISO8601_SIZE];
    char    resolved[NGX_CX_ISO8601_SIZE];

    (void) ngx_cx_b64url_encode(id, a->key, NGX_CX_ALERT_KEY_LEN);
    ngx_cx_hex(hex, a->key, NGX_CX_PROMPT_ID_LEN);
    (void) ngx_cx_iso8601(created, a->created_ms);
    (void) ngx_cx_iso8601(acked, a->acked_ms);
    (void) ngx_cx_iso8601(resolved, a->resolved_ms);

    ngx_http_cx_writef(w, "{\"id\":\"%*s\",\"alert\":",
                       (size_t) NGX_CX_ALERT_ID_LEN, id);
    ngx_http_cx_write_json_str(w, a->rule.data, a->rule.len);
    ngx_http_cx_writef(w, ",\"status\":\"%s\",\"state\":\"%s\","
                       "\"created_at\":\"%s\"", ngx_cx_alert_status(a),
                       ngx_cx_alert_state_name(a->state), created);

    if (a->acked_ms) {
        ngx_http_cx_writef(w, ",\"acknowledged_at\":\"%s\"", acked);
    }

    if (a->resolved_ms) {
        ngx_http_cx_writef(w, ",\"resolved_at\":\"%s\"", resolved);
    }

    /* level 0 is the notification; a bit per level delivered, failed */
    ngx_http_cx_writef(w, ",\"levels\":%ui,\"sent\":%ui,\"failed\":%ui,"
                       "\"response_id\":\"%*s\"", (ngx_uint_t) a->levels,
                       (ngx_uint_t) a->sent, (ngx_uint_t) a->failed,
                       (size_t) (2 * NGX_CX_PROMPT_ID_LEN), hex);

    if (rec) {
        ngx_http_cx_write(w, ",\"survey\":", sizeof(",\"survey\":") - 1);
        ngx_http_cx_write_json_str(w, rec->survey.data, rec->survey.len);
        ngx_http_cx_write(w, ",\"touchpoint\":",
                          sizeof(",\"touchpoint\":") - 1);
        ngx_http_cx_write_json_str(w, rec->touchpoint.data,
                                   rec->touchpoint.len);

        if (rec->flags & NGX_CX_REC_ANSWERED) {
            band = ngx_cx_band(rec->type, rec->score);
            ngx_http_cx_writef(w, ",\"type\":\"%s\",\"score\":%d,"
                               "\"band\":\"%s\"",
                               ngx_cx_type_name(rec->type), rec->score,
                               ngx_cx_band_name(band));
        }

        ngx_http_cx_write(w, ",\"comment\":", sizeof(",\"comment\":") - 1);
        ngx_http_cx_write_json_str(w, rec->comment.data, rec->comment.len);
    }

    ngx_http_cx_write(w, "}", 1);
}
