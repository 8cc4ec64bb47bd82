/*
 * ngx_http_cx_forward.h — every record forwarded to ClickHouse, for fleets.
 *
 *   cx_forward  clickhouse  URL  database=NAME  [user=NAME]
 *               [password_file=FILE]  [batch=5000]  [interval=1s];
 *   cx_node     NAME;                       the node's name (host name)
 *
 * The parts:
 *   src/ngx_cx_forward.c            pure: the outbox's entries, the rows
 *       (JSONEachRow), the tables' DDL
 *   src/ngx_http_cx_forward.c       the directives, checked at nginx -t,
 *       and the outbox's writes inside the store's transactions
 *   src/ngx_http_cx_forward_send.c  the sender: worker 0, beside the
 *       alerts' sender and through the same HTTP client, creates the
 *       tables when missing, reads the outbox oldest first, posts each
 *       table's rows as one INSERT ... FORMAT JSONEachRow, and deletes the
 *       entries through the store's group commit only after a 200
 *
 * Every response that changes (display, answer, comment, dismissal), every
 * journey event and every alert that changes gets an outbox entry in the
 * same transaction as the change itself: what the store holds, the outbox
 * will carry.  Nothing on the page path or intake waits for ClickHouse;
 * while it is unreachable the outbox grows (logged once a minute with its
 * size and age; "cxctl stats" shows it) and drains when it is back.
 */

#ifndef _NGX_HTTP_CX_FORWARD_H_INCLUDED_
#define _NGX_HTTP_CX_FORWARD_H_INCLUDED_


#include <lmdb.h>

#include "ngx_http_cx.h"
#include "ngx_http_cx_http_client.h"
#include "ngx_cx_forward.h"


#define NGX_HTTP_CX_FORWARD_BATCH      5000
#define NGX_HTTP_CX_FORWARD_INTERVAL   1000     /* ms */
#define NGX_HTTP_CX_FORWARD_TIMEOUT    30000    /* ms, one INSERT */


typedef struct ngx_http_cx_forward_s {
    ngx_http_cx_target_t      target;
    ngx_str_t                 database;
    ngx_str_t                 auth;       /* "Authorization: Basic ..\r\n"
                                             or "" */
    ngx_uint_t                batch;      /* entries per read of the outbox */
    ngx_msec_t                interval;
    u_char                   *file;
    ngx_uint_t                line;
} ngx_http_cx_forward_t;   /* ngx_http_cx.h names the struct */


/* The outbox as a transaction writes it (the store keeps one). */
typedef struct {
    MDB_dbi                   dbi;
    ngx_flag_t                on;         /* cx_forward is configured */
    uint32_t                  pid;
    uint32_t                  seq;
} ngx_http_cx_outbox_t;


/* ngx_http_cx_forward.c: the directives */
char *ngx_http_cx_forward_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cx_node_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* postconfiguration: the node's default, the target's resolver and TLS */
ngx_int_t ngx_http_cx_forward_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);

/*
 * In a commit's transaction: adds an entry (ngx_cx_forward.h) dated at_ms.
 * 0 or an LMDB error; 0 and nothing written when forwarding is off.
 */
int ngx_http_cx_outbox_put(ngx_http_cx_outbox_t *ob, MDB_txn *txn,
    uint64_t at_ms, const u_char *val, size_t len);

/* ngx_http_cx_forward_send.c: worker 0's sender */
ngx_int_t ngx_http_cx_forward_init_process(ngx_cycle_t *cycle,
    ngx_http_cx_main_conf_t *cmcf);
void ngx_http_cx_forward_exit_process(ngx_http_cx_main_conf_t *cmcf);


#endif /* _NGX_HTTP_CX_FORWARD_H_INCLUDED_ */
