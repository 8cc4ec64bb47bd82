/*
 * ngx_http_cx_http_client — one outgoing HTTP/1.1 POST, on the event loop.
 *
 * The webhook deliveries of alerts go through here.  Nothing blocks: names
 * are resolved with nginx's resolver (the "resolver" of the http block),
 * the connection is nginx's (ngx_event_connect_peer), TLS is nginx's
 * (ngx_ssl_*), as the upstream module does it.
 *
 * Configuration time, per target URL:
 *
 *   ngx_http_cx_target_parse()  in the directive handler: the URL's syntax;
 *   ngx_http_cx_target_init()   in postconfiguration (the http block's
 *                               "resolver" is known by then): the resolver
 *                               a host name needs, the TLS context of an
 *                               https URL.
 *
 * In a worker, ngx_http_cx_post() sends
 *
 *   POST <path>[?<args>] HTTP/1.1
 *   Host: <host>[:<port> when not 80 for http, 443 for https]
 *   User-Agent: ngx_cx
 *   Content-Type: application/json
 *   Content-Length: <body's length>
 *   Connection: close
 *   <the caller's header lines>
 *
 *   <body>
 *
 * and reads the response until its status line (1xx interim responses are
 * skipped): at most NGX_HTTP_CX_POST_READ bytes, the rest is never read.
 * Then the connection is closed and done() is called with the status.  The
 * whole exchange (resolving, connecting, the TLS handshake, writing,
 * reading) has one deadline, `timeout` after the call.  A host name's
 * addresses are tried in turn while connecting fails.
 *
 * https: the peer's certificate must verify against the system's CA store,
 * or against the target's `trusted` file only (PEM) when one is given, and
 * must match the host (a name: ngx_ssl_check_host; an IP literal: the
 * certificate's IP addresses).  SNI is sent for names.  TLS 1.2 and 1.3.
 *
 * done(data, status, error) is called exactly once, from a posted event,
 * never from inside ngx_http_cx_post(): status is the response's status
 * code (100 < status < 1000), or 0 and error is one of
 *
 *   "timed out"                    the deadline passed, at any step
 *   "cannot resolve host"          no address for the name (logged, with
 *                                  the resolver's reason)
 *   "connection refused"           (and "host unreachable", "connection
 *                                  reset", "connection failed": the other
 *                                  errors of connect() and of writing)
 *   "TLS handshake failed"         (nginx logs OpenSSL's reason)
 *   "certificate verify failed: <OpenSSL's reason>"
 *   "certificate verify failed: host name mismatch"
 *   "connection closed"            the peer closed before a status line
 *   "bad response"                 not an HTTP/1.x status line, or none in
 *                                  the first NGX_HTTP_CX_POST_READ bytes
 *   "response too large"           collect: the body is over its bound
 *   "worker is shutting down"      worker_shutdown_timeout closed it
 *   "internal error"               an allocation or a system call failed
 *
 * The error string is valid until done() returns.  Everything the exchange
 * needs (the request's bytes included: the caller's headers and body may
 * go away once the call returns) is in a pool of its own, destroyed after
 * done() returns.
 *
 * Worker exit: the deadline's timer is not cancelable, so a graceful
 * shutdown waits for exchanges in flight (at most `timeout`) instead of
 * leaving their sockets open.  ngx_http_cx_post_cancel() ends one early.
 */

#ifndef _NGX_HTTP_CX_HTTP_CLIENT_H_INCLUDED_
#define _NGX_HTTP_CX_HTTP_CLIENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the most bytes of a response ever read */
#define NGX_HTTP_CX_POST_READ  4096


/* A webhook target: parsed at configuration time, used in workers. */
typedef struct {
    ngx_str_t                  url;         /* as configured */
    ngx_url_t                  u;           /* host, port, uri ("/" when
                                               none); addrs of an IP
                                               literal */
    ngx_str_t                  host_header; /* "host[:port]" */
    u_char                    *name;        /* the host, NUL-terminated,
                                               without an IPv6 literal's
                                               [] (SNI, verification) */
    unsigned                   https:1;
    unsigned                   literal:1;   /* the host is an IP address */
#if (NGX_SSL)
    ngx_ssl_t                 *ssl;         /* https: verifies the peer */
#else
    void                      *ssl;
#endif
    ngx_resolver_t            *resolver;    /* NULL for an IP literal */
    const char                *role;        /* the log's word for the
                                               peer: NULL "webhook" */
    ngx_msec_t                 resolver_timeout;
} ngx_http_cx_target_t;


typedef struct ngx_http_cx_post_s  ngx_http_cx_post_t;

typedef void (*ngx_http_cx_post_done_pt)(void *data, ngx_uint_t status,
    const char *error);


/*
 * Directive time: parses "http://host[:port][/path][?query]" or
 * "https://...", host a name, an IPv4 address or [an IPv6 address]; a
 * "#fragment" is dropped.  Returns NULL, or an error to follow the URL in
 * ngx_conf_log_error(), e.g. "is not an http:// or https:// URL", "has no
 * host", "has a user name or password (not supported)".  Allocates from
 * cf->pool; t->url keeps pointing at url's bytes.
 */
char *ngx_http_cx_target_parse(ngx_conf_t *cf, ngx_str_t *url,
    ngx_http_cx_target_t *t);

/*
 * Postconfiguration (cf in the http block's context): takes the http
 * block's resolver when the host is a name, and for https the TLS context,
 * one per cycle and `trusted` value, shared by the targets that have the
 * same.  trusted: a PEM file of the CAs to trust instead of the system's,
 * or NULL or "" for the system's store.  On error, logs an [emerg] that
 * says what to fix, ending with " in file:line" (the directive's place),
 * and returns NGX_ERROR.
 */
ngx_int_t ngx_http_cx_target_init(ngx_conf_t *cf, ngx_http_cx_target_t *t,
    ngx_str_t *trusted, u_char *file, ngx_uint_t line);

/*
 * Worker: starts the POST of body to t.  args: added to the URL's path
 * after "?" (or "&" when it has a query), may be NULL.  headers: the extra header lines,
 * each "Name: value\r\n", copied as they are (may be NULL or empty); they
 * must not repeat the ones above.  timeout: in ms, more than 0.  log:
 * where the exchange logs (copied; its messages end with ", webhook:
 * http[s]://host[:port]": never the path, which may hold the webhook's
 * secret).  handle: when not NULL, set to the exchange, for
 * ngx_http_cx_post_cancel() until done() is called.  Returns NGX_OK, or
 * NGX_ERROR when it could not even start (memory): then done() is not
 * called.
 */
ngx_int_t ngx_http_cx_post(ngx_http_cx_target_t *t, ngx_str_t *args,
    ngx_str_t *headers, ngx_str_t *body, size_t collect, ngx_msec_t timeout, ngx_http_cx_post_done_pt done,
    void *data, ngx_log_t *log, ngx_http_cx_post_t **handle);

/*
 * With collect > 0 the request says HTTP/1.0 and the response's body is
 * read to the end of the connection, at most collect bytes ("response too
 * large" beyond; a chunked one is a "bad response"): inside done(), the
 * handle's ngx_http_cx_post_body() is that body (empty when none), valid
 * until done() returns.
 */
ngx_str_t *ngx_http_cx_post_body(ngx_http_cx_post_t *p);

/* Ends an exchange in flight and frees it; done() is not called. */
void ngx_http_cx_post_cancel(ngx_http_cx_post_t *p);


#endif /* _NGX_HTTP_CX_HTTP_CLIENT_H_INCLUDED_ */
