/*
 * ngx_http_cx_alert.h — alerts on unhappy answers, and their escalation.
 *
 *   cx_alert NAME {
 *       survey     nps_after_purchase;     # may repeat; every survey if none
 *       when       band=detractor;         # all must hold (ngx_cx_alert.h)
 *       when       attr.order_total>=100;
 *       notify     URL  secret=FILE  [format=json|slack];
 *       escalate   15m  URL  [secret=FILE]  [format=json|slack];
 *       by_lua_file  PATH;                 # may veto, may add fields
 *   }
 *   cx_alert_concurrency N;          deliveries in flight per store (4)
 *   cx_alert_retry_for TIME;         how long a delivery is retried (24h)
 *   cx_alert_trusted_certificate F;  CAs for https targets (system store)
 *   cx_alert_link URL;               the cx_endpoint as seen from outside
 *                                    ("https://shop.example/cx/"): the
 *                                    payloads' ack_url; none without it
 *
 * The parts:
 *   src/ngx_http_cx_alert.c        the directives, checked at nginx -t
 *   src/ngx_http_cx_alert_store.c  in the store's transactions: an alert
 *       created with the response that fires it (same commit, so a 204
 *       implies its alert), deliveries queued per level, results applied,
 *       acknowledgements; and the reads the reports make
 *   src/ngx_http_cx_alert_page.c   the ack_url's page on cx_endpoint
 *   src/ngx_http_cx_alert_send.c   the sender: worker 0 reads the due
 *       deliveries, signs them (Standard Webhooks) and posts them through
 *       ngx_http_cx_http_client.c, never more than cx_alert_concurrency at
 *       a time; results go back through the store's group commit
 *   src/ngx_cx_alert.c             the pure part: conditions, records
 */

#ifndef _NGX_HTTP_CX_ALERT_H_INCLUDED_
#define _NGX_HTTP_CX_ALERT_H_INCLUDED_


#include <lmdb.h>

#include "ngx_http_cx.h"
#include "ngx_http_cx_http_client.h"
#include "ngx_cx_alert.h"
#include "ngx_http_cx_forward.h"


#define NGX_HTTP_CX_ALERT_JSON    0
#define NGX_HTTP_CX_ALERT_SLACK   1

#define NGX_HTTP_CX_ALERT_TIMEOUT     10000   /* ms, one attempt */


typedef struct {
    ngx_http_cx_target_t      target;
    time_t                    after;      /* s after creation; 0: notify */
    ngx_str_t                 key;        /* the whsec_ key's bytes, or "" */
    ngx_uint_t                format;     /* NGX_HTTP_CX_ALERT_* */
} ngx_http_cx_alert_level_t;


typedef struct {
    ngx_str_t                 name;
    uint32_t                  id;         /* ngx_cx_name_id(name) */
    ngx_array_t               surveys;    /* ngx_str_t; none: every survey */
    ngx_array_t               whens;      /* ngx_cx_when_t */
    ngx_flag_t                comment;    /* a "when comment" line */
    ngx_array_t               levels;     /* ngx_http_cx_alert_level_t */
    ngx_http_cx_hook_t       *hook;       /* by_lua_file, or NULL */
    u_char                   *file;
    ngx_uint_t                line;
} ngx_http_cx_alert_t;


/* What the store's commit needs to know about alerts (read-only). */
typedef struct ngx_http_cx_alert_dbs_s {
    MDB_dbi                   responses;
    MDB_dbi                   alerts;
    MDB_dbi                   deliveries;
    ngx_array_t              *rules;      /* ngx_http_cx_alert_t */
    time_t                    retry_for;
    ngx_http_cx_outbox_t     *outbox;     /* an alert that changes goes in */
} ngx_http_cx_alert_dbs_t;  /* ngx_http_cx_store.h names the struct */


/*
 * A change to alerts, made in the store's next commit (ngx_http_cx_store.h:
 * ngx_http_cx_store_alert()); done() runs in the event loop afterwards.
 */
typedef enum {
    NGX_HTTP_CX_ALERT_DELIVERED = 1,   /* a 2xx: the delivery is done */
    NGX_HTTP_CX_ALERT_RETRY,           /* again later, or failed when late */
    NGX_HTTP_CX_ALERT_FAILED,          /* given up */
    NGX_HTTP_CX_ALERT_DROP,            /* an escalation no longer due */
    NGX_HTTP_CX_ALERT_VETO,            /* the rule's Lua said no: at level
                                          0 the alert goes, later levels
                                          only that delivery */
    NGX_HTTP_CX_ALERT_ACK,             /* acknowledged by someone */
    NGX_HTTP_CX_ALERT_RESOLVE
} ngx_http_cx_alert_op_e;

typedef struct ngx_http_cx_alert_op_s  ngx_http_cx_alert_op_t;

struct ngx_http_cx_alert_op_s {
    ngx_queue_t               queue;
    ngx_http_cx_alert_op_e    op;
    ngx_cx_delivery_t         delivery;   /* for the delivery ops */
    u_char                    alert[NGX_CX_ALERT_KEY_LEN];  /* ack, resolve */
    uint64_t                  now_ms;

    /*
     * Another change through the same group commit (the forward sender's
     * deletions from the outbox): when set, the commit calls it instead;
     * it returns 0 or an LMDB error, as ngx_http_cx_alert_apply().
     */
    int                     (*apply)(MDB_txn *txn,
                                     struct ngx_http_cx_alert_dbs_s *dbs,
                                     ngx_http_cx_alert_op_t *op);

    /* out: NGX_OK, NGX_DECLINED (no such alert), NGX_ERROR */
    ngx_int_t                 rc;
    void                    (*done)(ngx_http_cx_alert_op_t *op);
    void                     *data;
};


/* ngx_http_cx_alert.c */
char *ngx_http_cx_alert_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_cx_alert_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);

/* ngx_http_cx_alert_store.c, in the commit's transaction (a pool thread) */
int ngx_http_cx_alert_open_dbs(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    unsigned flags);
int ngx_http_cx_alert_fire(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    const u_char *response_id, const ngx_cx_record_t *rec,
    ngx_cx_event_e event, uint64_t now_ms);
int ngx_http_cx_alert_apply(MDB_txn *txn, ngx_http_cx_alert_dbs_t *dbs,
    ngx_http_cx_alert_op_t *op);

/* ngx_http_cx_alert_store.c, reads in the event loop */
typedef struct ngx_http_cx_alert_counts_s {
    uint64_t                  open;
    uint64_t                  acknowledged;
    uint64_t                  resolved;
    uint64_t                  escalated;
    uint64_t                  failed;
} ngx_http_cx_alert_counts_t;

int ngx_http_cx_alert_count(void *txn, ngx_http_cx_alert_dbs_t *dbs,
    void *counts);
ngx_cx_record_t *ngx_http_cx_alert_response(void *txn,
    ngx_http_cx_alert_dbs_t *dbs, const ngx_cx_alert_t *a,
    ngx_cx_record_t *rec);

ngx_http_cx_alert_t *ngx_http_cx_alert_rule(ngx_array_t *rules,
    const u_char *name, size_t len);

/* ngx_http_cx_alert_page.c: <endpoint>a/<link>, the ack_url */
ngx_int_t ngx_http_cx_alert_page(ngx_http_request_t *r, ngx_str_t *link);
char *ngx_http_cx_alert_link(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_cx_alert_send.c */
ngx_int_t ngx_http_cx_alert_init_process(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf);
void ngx_http_cx_alert_exit_process(ngx_http_cx_main_conf_t *cmcf);


#endif /* _NGX_HTTP_CX_ALERT_H_INCLUDED_ */
