/*
 * The ack_url of an alert, served by cx_endpoint: <endpoint>a/<link>.
 *
 *   GET   a small page: what the alert is about, and a button to
 *         acknowledge it.  A GET alone changes nothing, so a link preview
 *         (chat apps fetch the links they show) cannot acknowledge.
 *   POST  from that page (same origin): acknowledged in the store's next
 *         commit, then the page again, saying so.
 *
 * The link is the alert's key signed with the module's token key (domain
 * NGX_CX_DOMAIN_ALERT_LINK): whoever has the link may acknowledge that one
 * alert, as whoever got the webhook may.  It is what cx_alert_link puts in
 * the payload's ack_url.  The page's policy allows nothing but its own
 * form: no script, no style from elsewhere, no framing.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_alert.h"


typedef struct {
    ngx_http_request_t        *r;
    ngx_http_cx_alert_op_t     op;
    u_char                     key[NGX_CX_ALERT_KEY_LEN];
    ngx_flag_t                 found;
    ngx_cx_alert_t             alert;
    u_char                     rule[NGX_CX_NAME_MAX];
    ngx_str_t                  what;      /* the response, HTML-escaped */
} ngx_http_cx_alert_page_t;


static int ngx_http_cx_alert_page_read(void *txn,
    ngx_http_cx_alert_dbs_t *dbs, void *data);
static void ngx_http_cx_alert_page_done(ngx_http_cx_alert_op_t *op);
static ngx_int_t ngx_http_cx_alert_page_send(ngx_http_request_t *r,
    ngx_http_cx_alert_page_t *pg, const char *note);
static u_char *ngx_http_cx_alert_page_text(u_char *p, const u_char *s,
    size_t len);


ngx_int_t
ngx_http_cx_alert_page(ngx_http_request_t *r, ngx_str_t *link)
{
    size_t                     len;
    ngx_int_t                  rc;
    ngx_time_t                *tp;
    ngx_http_cx_main_conf_t   *cmcf;
    ngx_http_cx_alert_page_t  *pg;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    pg = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_alert_page_t));
    if (pg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pg->r = r;

    if (!cmcf->keys_ready || link->len != NGX_CX_ALERT_LINK_LEN
        || ngx_cx_signed_decode(&cmcf->token_key, NGX_CX_DOMAIN_ALERT_LINK,
                                link->data, link->len, pg->key,
                                sizeof(pg->key), &len)
           != 0
        || len != NGX_CX_ALERT_KEY_LEN)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    if (r->method == NGX_HTTP_POST) {
        if (ngx_http_cx_same_origin(r) != NGX_OK) {
            return ngx_http_cx_send_error(r, NGX_HTTP_FORBIDDEN,
                                          "cross-origin request");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        tp = ngx_timeofday();
        pg->op.op = NGX_HTTP_CX_ALERT_ACK;
        pg->op.now_ms = (uint64_t) tp->sec * 1000 + tp->msec;
        ngx_memcpy(pg->op.alert, pg->key, NGX_CX_ALERT_KEY_LEN);
        pg->op.done = ngx_http_cx_alert_page_done;
        pg->op.data = pg;

        if (ngx_http_cx_store_alert(cmcf->store, &pg->op) != NGX_OK) {
            return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "store unavailable");
        }

        r->main->blocked++;
        r->main->count++;

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_cx_store_read(cmcf->store, r->connection->log,
                               ngx_http_cx_alert_page_read, pg)
        != NGX_OK)
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store unavailable");
    }

    if (!pg->found) {
        return NGX_HTTP_NOT_FOUND;      /* signed, but pruned since */
    }

    return ngx_http_cx_alert_page_send(r, pg, NULL);
}


static void
ngx_http_cx_alert_page_done(ngx_http_cx_alert_op_t *op)
{
    ngx_http_cx_alert_page_t *pg = op->data;

    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_cx_main_conf_t  *cmcf;

    r = pg->r;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (op->rc == NGX_DECLINED) {
        rc = NGX_HTTP_NOT_FOUND;

    } else if (op->rc != NGX_OK
               || ngx_http_cx_store_read(cmcf->store, c->log,
                                         ngx_http_cx_alert_page_read, pg)
                  != NGX_OK
               || !pg->found)
    {
        rc = ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "store unavailable");

    } else {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "cx_alert: an alert of \"%*s\" acknowledged by its "
                      "link", pg->alert.rule.len, pg->alert.rule.data);

        rc = ngx_http_cx_alert_page_send(r, pg,
                                         "Acknowledged. Thank you.");
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* In a read transaction: the alert, and a line about its response. */

static int
ngx_http_cx_alert_page_read(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *data)
{
    ngx_http_cx_alert_page_t *pg = data;

    u_char           *p;
    size_t            size;
    MDB_val           key, val;
    ngx_cx_record_t   rec;

    pg->found = 0;

    key.mv_data = pg->key;
    key.mv_size = NGX_CX_ALERT_KEY_LEN;

    if (mdb_get(txn, dbs->alerts, &key, &val) != 0
        || ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                               val.mv_size, &pg->alert)
           != 0)
    {
        return 0;
    }

    ngx_memcpy(pg->rule, pg->alert.rule.data, pg->alert.rule.len);
    pg->alert.rule.data = pg->rule;
    pg->found = 1;

    if (ngx_http_cx_alert_response(txn, dbs, &pg->alert, &rec) == NULL) {
        return 0;                       /* erased: the alert alone */
    }

    size = 128 + 6 * (rec.survey.len + rec.touchpoint.len + rec.comment.len);

    p = ngx_pnalloc(pg->r->pool, size);
    if (p == NULL) {
        return 0;
    }

    pg->what.data = p;

    p = ngx_http_cx_alert_page_text(p, rec.survey.data,
                                    rec.survey.len);

    if (rec.flags & NGX_CX_REC_ANSWERED) {
        p = ngx_sprintf(p, ": %d", rec.score);
    }

    p = ngx_cpymem(p, " at ", 4);
    p = ngx_http_cx_alert_page_text(p, rec.touchpoint.data,
                                    rec.touchpoint.len);

    if (rec.comment.len) {
        p = ngx_cpymem(p, " &ldquo;", 8);
        p = ngx_http_cx_alert_page_text(p, rec.comment.data,
                                        rec.comment.len);
        p = ngx_cpymem(p, "&rdquo;", 7);
    }

    pg->what.len = p - pg->what.data;

    return 0;
}


/* HTML text: < > & " escaped, control bytes dropped (at most 6 per byte) */

static u_char *
ngx_http_cx_alert_page_text(u_char *p, const u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        switch (s[i]) {
        case '<':
            p = ngx_cpymem(p, "&lt;", 4);
            break;
        case '>':
            p = ngx_cpymem(p, "&gt;", 4);
            break;
        case '&':
            p = ngx_cpymem(p, "&amp;", 5);
            break;
        case '"':
            p = ngx_cpymem(p, "&quot;", 6);
            break;
        default:
            if (s[i] >= 0x20 && s[i] != 0x7f) {
                *p++ = s[i];
            }
        }
    }

    return p;
}


static ngx_int_t
ngx_http_cx_alert_page_send(ngx_http_request_t *r,
    ngx_http_cx_alert_page_t *pg, const char *note)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   body;
    const char *state;

    state = ngx_cx_alert_status(&pg->alert);

    len = 1024 + 6 * pg->alert.rule.len + pg->what.len;

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body.data,
                   "<!doctype html><html lang=\"en\"><head>"
                   "<meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, "
                   "initial-scale=1\"><title>Alert</title>"
                   "<style>body{font:16px/1.5 system-ui,sans-serif;"
                   "max-width:32em;margin:2em auto;padding:0 1em}"
                   "button{font:inherit;min-height:44px;padding:0 1.2em}"
                   "</style></head><body><h1>Alert: ",
                   sizeof("<!doctype html><html lang=\"en\"><head>"
                          "<meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-"
                          "width, initial-scale=1\"><title>Alert</title>"
                          "<style>body{font:16px/1.5 system-ui,sans-serif;"
                          "max-width:32em;margin:2em auto;padding:0 1em}"
                          "button{font:inherit;min-height:44px;padding:0 "
                          "1.2em}</style></head><body><h1>Alert: ") - 1);

    p = ngx_http_cx_alert_page_text(p, pg->alert.rule.data,
                                    pg->alert.rule.len);
    p = ngx_sprintf(p, "</h1><p>%V</p><p>Status: <strong>%s</strong></p>",
                    &pg->what, state);

    if (note) {
        p = ngx_sprintf(p, "<p role=\"status\">%s</p>", note);

    } else if (pg->alert.state == NGX_CX_ALERT_OPEN) {
        /* the form posts to this very URL */
        p = ngx_cpymem(p, "<form method=\"post\"><button type=\"submit\">"
                          "Acknowledge</button></form>",
                       sizeof("<form method=\"post\"><button type=\"submit\">"
                              "Acknowledge</button></form>") - 1);
    }

    p = ngx_cpymem(p, "</body></html>\n", sizeof("</body></html>\n") - 1);

    body.len = p - body.data;

    return ngx_http_cx_send_page(r, "default-src 'none'; style-src "
                                    "'unsafe-inline'; form-action 'self'; "
                                    "base-uri 'none'; frame-ancestors 'none'",
                                 &body);
}
