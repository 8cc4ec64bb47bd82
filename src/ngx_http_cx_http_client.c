/*
 * One outgoing HTTP/1.1 POST on nginx's event loop: see
 * ngx_http_cx_http_client.h.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_cx_http_client.h"


/* what the connection is waiting for */
#define NGX_HTTP_CX_POST_CONNECTING   0
#define NGX_HTTP_CX_POST_HANDSHAKING  1
#define NGX_HTTP_CX_POST_SENDING      2
#define NGX_HTTP_CX_POST_READING      3

/* the most certificates between the peer's and a trusted one */
#define NGX_HTTP_CX_POST_VERIFY_DEPTH  10


struct ngx_http_cx_post_s {
    ngx_pool_t                *pool;
    ngx_http_cx_target_t      *target;
    ngx_log_t                  log;          /* the caller's, with our
                                                context */

    ngx_resolver_ctx_t        *resolving;    /* while the name resolves */
    ngx_addr_t                *addrs;        /* the host's, with the port */
    ngx_uint_t                 naddrs;
    ngx_uint_t                 next;         /* the address to try next */
    const char                *connect_error;/* of the last address tried */
    ngx_peer_connection_t      peer;

    ngx_buf_t                  request;      /* sent from pos to last */
    ngx_buf_t                  response;     /* NGX_HTTP_CX_POST_READ */

    ngx_event_t                deadline;
    ngx_event_t                finished;     /* posted: calls done() */

    ngx_http_cx_post_done_pt   done;
    void                      *data;
    ngx_uint_t                 status;
    const char                *error;

    size_t                     collect;      /* 0, or the most body bytes */
    u_char                    *body;         /* collect: after the header */
    ngx_str_t                  response_body;

    unsigned                   state:2;
    unsigned                   over:1;       /* finish() ran */
};


static ngx_int_t ngx_http_cx_post_request(ngx_http_cx_post_t *p,
    ngx_str_t *args,
    ngx_str_t *headers, ngx_str_t *body);
static void ngx_http_cx_post_resolved(ngx_resolver_ctx_t *ctx);
static void ngx_http_cx_post_connect(ngx_http_cx_post_t *p);
static void ngx_http_cx_post_handler(ngx_event_t *ev);
static void ngx_http_cx_post_connected(ngx_http_cx_post_t *p);
static ngx_err_t ngx_http_cx_post_connect_error(ngx_connection_t *c);
#if (NGX_SSL)
static void ngx_http_cx_post_ssl(ngx_http_cx_post_t *p);
static void ngx_http_cx_post_handshaked(ngx_connection_t *c);
static const char *ngx_http_cx_post_verify(ngx_http_cx_post_t *p,
    ngx_connection_t *c);
#endif
static void ngx_http_cx_post_send(ngx_http_cx_post_t *p);
static void ngx_http_cx_post_read(ngx_http_cx_post_t *p);
static ngx_int_t ngx_http_cx_post_io(ngx_http_cx_post_t *p, ssize_t n,
    ngx_event_t *ev);
static ngx_int_t ngx_http_cx_post_parse(ngx_http_cx_post_t *p);
static ngx_int_t ngx_http_cx_post_header_end(ngx_http_cx_post_t *p);
static ngx_int_t ngx_http_cx_post_grow(ngx_http_cx_post_t *p);
static ngx_int_t ngx_http_cx_post_status_line(u_char *pos, u_char *lf);
static const char *ngx_http_cx_post_strerror(ngx_err_t err);
static void ngx_http_cx_post_timeout(ngx_event_t *ev);
static void ngx_http_cx_post_finish(ngx_http_cx_post_t *p, ngx_uint_t status,
    const char *error);
static void ngx_http_cx_post_close(ngx_http_cx_post_t *p);
static void ngx_http_cx_post_finished(ngx_event_t *ev);
static u_char *ngx_http_cx_post_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


/* configuration */


char *
ngx_http_cx_target_parse(ngx_conf_t *cf, ngx_str_t *url,
    ngx_http_cx_target_t *t)
{
    u_char     *p, *q, *last, *name;
    size_t      len, skip;

    ngx_memzero(t, sizeof(ngx_http_cx_target_t));

    t->url = *url;

    p = url->data;
    last = p + url->len;

    for (q = p; q < last; q++) {
        if (*q <= ' ' || *q == 0x7f) {
            /* they would end or break the request line */
            return "has a space or a control character";
        }
    }

    if (url->len >= 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        skip = 7;

    } else if (url->len >= 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        skip = 8;
        t->https = 1;

    } else {
        return "is not an http:// or https:// URL";
    }

    p += skip;

    /* the fragment is the client's own: it is not sent */

    q = ngx_strlchr(p, last, '#');
    if (q) {
        last = q;
    }

    for (q = p; q < last && *q != '/' && *q != '?'; q++) {
        if (*q == '@') {
            return "has a user name or password (not supported)";
        }
    }

    if (q == p) {
        return "has no host";
    }

    t->u.url.data = p;
    t->u.url.len = last - p;
    t->u.uri_part = 1;
    t->u.no_resolve = 1;
    t->u.default_port = t->https ? 443 : 80;

    if (ngx_parse_url(cf->pool, &t->u) != NGX_OK) {
        if (t->u.err == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_pnalloc(cf->pool,
                        sizeof("is invalid: ") + ngx_strlen(t->u.err));
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(p, "is invalid: %s%Z", t->u.err);

        return (char *) p;
    }

    if (t->u.host.len == 0) {
        return "has no host";
    }

    /* ngx_parse_url() added the address of an IP literal, and only then */

    t->literal = (t->u.naddrs > 0);

    name = t->u.host.data;
    len = t->u.host.len;

    if (*name == '[') {
        name++;
        len -= 2;

    } else if (!t->literal) {
        for (q = name; q < name + len; q++) {
            if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z')
                && !(*q >= '0' && *q <= '9')
                && *q != '-' && *q != '.' && *q != '_')
            {
                return "has an invalid host name";
            }
        }
    }

    t->name = ngx_pnalloc(cf->pool, len + 1);
    if (t->name == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn(t->name, name, len + 1);

    if (t->u.uri.len == 0 || t->u.uri.data[0] == '?') {
        /* "http://host" and "http://host?a=b" ask for the root */

        p = ngx_pnalloc(cf->pool, 1 + t->u.uri.len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        *p = '/';
        ngx_memcpy(p + 1, t->u.uri.data, t->u.uri.len);

        t->u.uri.data = p;
        t->u.uri.len++;
    }

    /* ngx_parse_url() made u.port the default one when none is given */

    if (t->u.port == t->u.default_port) {
        t->host_header = t->u.host;

    } else {
        p = ngx_pnalloc(cf->pool, t->u.host.len + sizeof(":65535") - 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        t->host_header.data = p;
        t->host_header.len = ngx_sprintf(p, "%V:%d", &t->u.host,
                                       (int) t->u.port)
                             - p;
    }

    return NULL;
}


#if (NGX_SSL)

/*
 * The TLS contexts of this configuration, one a "trusted" value: every
 * target shares it.  The cycle it belongs to tells the next configuration
 * (a reload) to make its own; the pool cleanup forgets it with its cycle.
 */

typedef struct {
    ngx_str_t                  trusted;
    ngx_ssl_t                 *ssl;
} ngx_http_cx_client_ssl_t;


static ngx_cycle_t  *ngx_http_cx_client_ssl_cycle;
static ngx_array_t  *ngx_http_cx_client_ssls;


static void
ngx_http_cx_client_ssl_forget(void *data)
{
    if (ngx_http_cx_client_ssl_cycle == data) {
        ngx_http_cx_client_ssl_cycle = NULL;
        ngx_http_cx_client_ssls = NULL;
    }
}


static ngx_ssl_t *
ngx_http_cx_client_ssl(ngx_conf_t *cf, ngx_str_t *trusted, u_char *file,
    ngx_uint_t line)
{
    ngx_str_t                  name;
    ngx_uint_t                 i;
    ngx_ssl_t                 *ssl;
    ngx_pool_cleanup_t        *cln;
    ngx_http_cx_client_ssl_t  *cs;

    if (ngx_http_cx_client_ssl_cycle != cf->cycle) {
        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        ngx_http_cx_client_ssls = ngx_array_create(cf->pool, 2,
                                              sizeof(ngx_http_cx_client_ssl_t));
        if (ngx_http_cx_client_ssls == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_cx_client_ssl_forget;
        cln->data = cf->cycle;

        ngx_http_cx_client_ssl_cycle = cf->cycle;
    }

    cs = ngx_http_cx_client_ssls->elts;

    for (i = 0; i < ngx_http_cx_client_ssls->nelts; i++) {
        if (cs[i].trusted.len == trusted->len
            && (trusted->len == 0
                || ngx_strncmp(cs[i].trusted.data, trusted->data,
                               trusted->len)
                   == 0))
        {
            return cs[i].ssl;
        }
    }

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NULL;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NULL;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    /*
     * The peer is verified after the handshake, as the upstream module
     * does (SSL_get_verify_result(), then the host): the verify mode stays
     * SSL_VERIFY_NONE, so that the failure is told apart from the others.
     */

    /* a copy: ngx_conf_full_name() rewrites it */

    name = *trusted;

    if (name.len) {
        name.data = ngx_pstrdup(cf->pool, trusted);
        if (name.data == NULL) {
            return NULL;
        }
    }

    if (ngx_ssl_trusted_certificate(cf, ssl, &name,
                                    NGX_HTTP_CX_POST_VERIFY_DEPTH)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "cannot load the trusted certificates \"%V\" "
                      "in %s:%ui", trusted, file, line);
        return NULL;
    }

    if (trusted->len == 0
        && SSL_CTX_set_default_verify_paths(ssl->ctx) != 1)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "cannot load the system's CA certificates "
                      "(SSL_CTX_set_default_verify_paths() failed) "
                      "in %s:%ui", file, line);
        return NULL;
    }

    cs = ngx_array_push(ngx_http_cx_client_ssls);
    if (cs == NULL) {
        return NULL;
    }

    cs->trusted = *trusted;
    cs->ssl = ssl;

    return ssl;
}

#endif


ngx_int_t
ngx_http_cx_target_init(ngx_conf_t *cf, ngx_http_cx_target_t *t,
    ngx_str_t *trusted, u_char *file, ngx_uint_t line)
{
#if (NGX_SSL)
    ngx_str_t                  none;
#endif
    ngx_http_core_loc_conf_t  *clcf;

    if (!t->literal) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        /* without a "resolver", the http block has a dummy one */

        if (clcf->resolver == NULL || clcf->resolver->connections.nelts == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "the host \"%V\" of \"%V\" needs a \"resolver\" "
                          "in the http block in %s:%ui",
                          &t->u.host, &t->url, file, line);
            return NGX_ERROR;
        }

        t->resolver = clcf->resolver;
        t->resolver_timeout = (clcf->resolver_timeout == NGX_CONF_UNSET_MSEC)
                              ? 30000 : clcf->resolver_timeout;
    }

    if (!t->https) {
        return NGX_OK;
    }

#if (NGX_SSL)

    if (trusted == NULL) {
        ngx_str_null(&none);
        trusted = &none;
    }

    t->ssl = ngx_http_cx_client_ssl(cf, trusted, file, line);
    if (t->ssl == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;

#else

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%V\" is https, and this nginx is built without SSL "
                  "(--with-http_ssl_module) in %s:%ui", &t->url, file, line);

    return NGX_ERROR;

#endif
}


/* the exchange */


ngx_int_t
ngx_http_cx_post(ngx_http_cx_target_t *t, ngx_str_t *args, ngx_str_t *headers,
    ngx_str_t *body, size_t collect, ngx_msec_t timeout, ngx_http_cx_post_done_pt done, void *data,
    ngx_log_t *log, ngx_http_cx_post_t **handle)
{
    u_char              *buf;
    ngx_pool_t          *pool;
    ngx_resolver_ctx_t  *ctx;
    ngx_http_cx_post_t  *p;

#if (NGX_SSL)
    if (t->https && t->ssl == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "cx: webhook target \"%V\" used before its init",
                      &t->host_header);
        return NGX_ERROR;
    }
#endif

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pcalloc(pool, sizeof(ngx_http_cx_post_t));
    if (p == NULL) {
        goto failed;
    }

    p->pool = pool;
    p->target = t;
    p->collect = collect;
    p->done = done;
    p->data = data;

    p->log = *log;
    p->log.handler = ngx_http_cx_post_log_error;
    p->log.data = p;
    p->log.action = NULL;
    pool->log = &p->log;

    if (ngx_http_cx_post_request(p, args, headers, body) != NGX_OK) {
        goto failed;
    }

    buf = ngx_pnalloc(pool, NGX_HTTP_CX_POST_READ);
    if (buf == NULL) {
        goto failed;
    }

    p->response.start = buf;
    p->response.pos = buf;
    p->response.last = buf;
    p->response.end = buf + NGX_HTTP_CX_POST_READ;

    p->finished.handler = ngx_http_cx_post_finished;
    p->finished.data = p;
    p->finished.log = &p->log;

    if (t->literal) {
        p->addrs = t->u.addrs;
        p->naddrs = t->u.naddrs;

    } else {
        ctx = ngx_resolve_start(t->resolver, NULL);
        if (ctx == NULL) {
            goto failed;
        }

        if (ctx == NGX_NO_RESOLVER) {
            ngx_log_error(NGX_LOG_ALERT, &p->log, 0,
                          "no resolver defined to resolve %V", &t->u.host);
            goto failed;
        }

        ctx->name = t->u.host;
        ctx->handler = ngx_http_cx_post_resolved;
        ctx->data = p;
        ctx->timeout = t->resolver_timeout;

        p->resolving = ctx;
    }

    /*
     * Not cancelable: a worker's graceful exit waits for the exchange
     * instead of exiting with its socket open.
     */

    p->deadline.handler = ngx_http_cx_post_timeout;
    p->deadline.data = p;
    p->deadline.log = &p->log;

    ngx_add_timer(&p->deadline, timeout);

    if (handle) {
        *handle = p;
    }

    /*
     * From here on, every outcome is told by done(), from the posted
     * event: the resolver may answer from its cache within the call, and
     * connect() may fail at once.
     */

    if (p->resolving) {
        p->log.action = "resolving the webhook's host";

        if (ngx_resolve_name(p->resolving) != NGX_OK) {
            /* it has freed the context */
            p->resolving = NULL;
            ngx_http_cx_post_finish(p, 0, "cannot resolve host");
        }

        return NGX_OK;
    }

    ngx_http_cx_post_connect(p);

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


void
ngx_http_cx_post_cancel(ngx_http_cx_post_t *p)
{
    ngx_http_cx_post_close(p);

    if (p->finished.posted) {
        ngx_delete_posted_event(&p->finished);
    }

    ngx_destroy_pool(p->pool);
}


static ngx_int_t
ngx_http_cx_post_request(ngx_http_cx_post_t *p, ngx_str_t *args,
    ngx_str_t *headers, ngx_str_t *body)
{
    size_t                 len;
    u_char                *b;
    ngx_http_cx_target_t  *t;

    /* memcpy() is not to see the NULL of an empty ngx_str_t */

    static ngx_str_t  none = ngx_string("");

    t = p->target;

    if (headers == NULL || headers->len == 0) {
        headers = &none;
    }

    if (body == NULL || body->len == 0) {
        body = &none;
    }

    if (args == NULL || args->len == 0) {
        args = &none;
    }

    len = sizeof("POST  HTTP/1.1" CRLF) - 1 + t->u.uri.len + 1 + args->len
          + sizeof("Host: " CRLF) - 1 + t->host_header.len
          + sizeof("User-Agent: ngx_cx" CRLF) - 1
          + sizeof("Content-Type: application/json" CRLF) - 1
          + sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN
          + sizeof("Connection: close" CRLF) - 1
          + headers->len + sizeof(CRLF) - 1 + body->len;

    b = ngx_pnalloc(p->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p->request.start = b;
    p->request.pos = b;

    b = ngx_sprintf(b, "POST %V", &t->u.uri);

    if (args->len) {
        *b++ = ngx_strlchr(t->u.uri.data, t->u.uri.data + t->u.uri.len, '?')
               ? '&' : '?';
        b = ngx_cpymem(b, args->data, args->len);
    }

    /* HTTP/1.0 when the body is read: it then ends with the connection */
    b = ngx_sprintf(b, " HTTP/1.%c" CRLF
                       "Host: %V" CRLF
                       "User-Agent: ngx_cx" CRLF
                       "Content-Type: application/json" CRLF
                       "Content-Length: %uz" CRLF
                       "Connection: close" CRLF
                       "%V" CRLF,
                    p->collect ? '0' : '1', &t->host_header, body->len,
                    headers);

    b = ngx_cpymem(b, body->data, body->len);

    p->request.last = b;
    p->request.end = b;

    return NGX_OK;
}


static void
ngx_http_cx_post_resolved(ngx_resolver_ctx_t *ctx)
{
    u_char              *text;
    size_t               len;
    ngx_uint_t           i;
    ngx_addr_t          *addr;
    struct sockaddr     *sa;
    ngx_http_cx_post_t  *p;

    p = ctx->data;

    if (ctx->state) {
        ngx_log_error(NGX_LOG_ERR, &p->log, 0,
                      "%V could not be resolved (%i: %s)",
                      &ctx->name, ctx->state,
                      ngx_resolver_strerror(ctx->state));
        goto failed;
    }

    p->addrs = ngx_palloc(p->pool, ctx->naddrs * sizeof(ngx_addr_t));
    if (p->addrs == NULL) {
        goto failed;
    }

    for (i = 0; i < ctx->naddrs; i++) {
        sa = ngx_palloc(p->pool, ctx->addrs[i].socklen);
        if (sa == NULL) {
            goto failed;
        }

        ngx_memcpy(sa, ctx->addrs[i].sockaddr, ctx->addrs[i].socklen);
        ngx_inet_set_port(sa, p->target->u.port);

        len = NGX_SOCKADDR_STRLEN;

        text = ngx_pnalloc(p->pool, len);
        if (text == NULL) {
            goto failed;
        }

        addr = &p->addrs[i];

        addr->sockaddr = sa;
        addr->socklen = ctx->addrs[i].socklen;
        addr->name.data = text;
        addr->name.len = ngx_sock_ntop(sa, addr->socklen, text, len, 1);
    }

    p->naddrs = ctx->naddrs;

    ngx_resolve_name_done(ctx);
    p->resolving = NULL;

    ngx_http_cx_post_connect(p);

    return;

failed:

    ngx_resolve_name_done(ctx);
    p->resolving = NULL;

    ngx_http_cx_post_finish(p, 0, "cannot resolve host");
}


/* connects to the next address; the ones that refuse are passed over */

static void
ngx_http_cx_post_connect(ngx_http_cx_post_t *p)
{
    ngx_int_t          rc;
    ngx_err_t          err;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    p->log.action = "connecting to the webhook";

    while (p->next < p->naddrs) {
        addr = &p->addrs[p->next++];

        ngx_memzero(&p->peer, sizeof(ngx_peer_connection_t));

        p->peer.sockaddr = addr->sockaddr;
        p->peer.socklen = addr->socklen;
        p->peer.name = &addr->name;
        p->peer.get = ngx_event_get_peer;
        p->peer.log = &p->log;
        p->peer.log_error = NGX_ERROR_ERR;
        p->peer.tries = 1;

        rc = ngx_event_connect_peer(&p->peer);

        if (rc == NGX_ERROR) {
            ngx_http_cx_post_finish(p, 0, "internal error");
            return;
        }

        if (rc == NGX_DECLINED) {
            /* connect() failed: nginx logged it and kept its errno */
            err = ngx_socket_errno;
            p->connect_error = ngx_http_cx_post_strerror(err);
            continue;
        }

        c = p->peer.connection;

        c->data = p;
        c->pool = p->pool;
        c->sendfile = 0;
        c->read->handler = ngx_http_cx_post_handler;
        c->write->handler = ngx_http_cx_post_handler;

        p->state = NGX_HTTP_CX_POST_CONNECTING;

        if (rc == NGX_OK) {
            ngx_http_cx_post_connected(p);
        }

        /* NGX_AGAIN: the write event tells */

        return;
    }

    ngx_http_cx_post_finish(p, 0, p->connect_error ? p->connect_error
                                                   : "connection failed");
}


static void
ngx_http_cx_post_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_cx_post_t  *p;

    c = ev->data;
    p = c->data;

    if (c->close) {
        /* worker_shutdown_timeout closes every connection */
        ngx_http_cx_post_finish(p, 0, "worker is shutting down");
        return;
    }

    switch (p->state) {

    case NGX_HTTP_CX_POST_CONNECTING:
        ngx_http_cx_post_connected(p);
        return;

    case NGX_HTTP_CX_POST_SENDING:
        if (ev->write) {
            ngx_http_cx_post_send(p);
        }

        /* an early answer or close is read once the request is out */
        return;

    case NGX_HTTP_CX_POST_READING:
        if (!ev->write) {
            ngx_http_cx_post_read(p);
        }

        return;

    default: /* NGX_HTTP_CX_POST_HANDSHAKING: nginx's TLS handlers run */
        return;
    }
}


static void
ngx_http_cx_post_connected(ngx_http_cx_post_t *p)
{
    ngx_err_t          err;
    ngx_connection_t  *c;

    c = p->peer.connection;

    err = ngx_http_cx_post_connect_error(c);

    if (err) {
        p->connect_error = ngx_http_cx_post_strerror(err);

        ngx_close_connection(c);
        p->peer.connection = NULL;

        ngx_http_cx_post_connect(p);
        return;
    }

#if (NGX_SSL)
    if (p->target->https) {
        ngx_http_cx_post_ssl(p);
        return;
    }
#endif

    ngx_http_cx_post_send(p);
}


static ngx_err_t
ngx_http_cx_post_connect_error(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

#if (NGX_HAVE_KQUEUE)

    if (ngx_event_flags & NGX_USE_KQUEUE_EVENT) {
        if (c->write->pending_eof || c->read->pending_eof) {
            err = c->write->pending_eof ? c->write->kq_errno
                                        : c->read->kq_errno;

            (void) ngx_connection_error(c, err,
                                    "kevent() reported that connect() failed");
            return err ? err : NGX_ECONNREFUSED;
        }

        return 0;
    }

#endif

    err = 0;
    len = sizeof(int);

    /* Linux and the BSDs return the pending error in err, Solaris in errno */

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "connect() failed");
    }

    return err;
}


#if (NGX_SSL)

static void
ngx_http_cx_post_ssl(ngx_http_cx_post_t *p)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_cx_target_t  *t;

    c = p->peer.connection;
    t = p->target;

    if (ngx_ssl_create_connection(t->ssl, c, NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_cx_post_finish(p, 0, "internal error");
        return;
    }

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME

    /* RFC 6066: SNI names a host, never an IP address */

    if (!t->literal
        && SSL_set_tlsext_host_name(c->ssl->connection, (char *) t->name)
           == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, &p->log, 0,
                      "SSL_set_tlsext_host_name(\"%s\") failed", t->name);
        ngx_http_cx_post_finish(p, 0, "internal error");
        return;
    }

#endif

    p->state = NGX_HTTP_CX_POST_HANDSHAKING;
    p->log.action = "TLS handshaking with the webhook";

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_cx_post_handshaked;
        return;
    }

    ngx_http_cx_post_handshaked(c);
}


static void
ngx_http_cx_post_handshaked(ngx_connection_t *c)
{
    const char          *error;
    ngx_http_cx_post_t  *p;

    p = c->data;

    if (c->close) {
        ngx_http_cx_post_finish(p, 0, "worker is shutting down");
        return;
    }

    if (!c->ssl->handshaked) {
        ngx_http_cx_post_finish(p, 0, "TLS handshake failed");
        return;
    }

    error = ngx_http_cx_post_verify(p, c);

    if (error) {
        ngx_http_cx_post_finish(p, 0, error);
        return;
    }

    /* nginx's TLS handlers are done: ours again */

    c->read->handler = ngx_http_cx_post_handler;
    c->write->handler = ngx_http_cx_post_handler;

    ngx_http_cx_post_send(p);
}


static const char *
ngx_http_cx_post_verify(ngx_http_cx_post_t *p, ngx_connection_t *c)
{
    long                   rc;
    u_char                *text;
    X509                  *cert;
    ngx_int_t              match;
    const char            *reason;
    ngx_http_cx_target_t  *t;

    t = p->target;

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        reason = X509_verify_cert_error_string(rc);

        ngx_log_error(NGX_LOG_ERR, &p->log, 0,
                      "webhook SSL certificate verify error: (%l:%s)",
                      rc, reason);

        text = ngx_pnalloc(p->pool, sizeof("certificate verify failed: ")
                                    + ngx_strlen(reason));
        if (text == NULL) {
            return "certificate verify failed";
        }

        ngx_sprintf(text, "certificate verify failed: %s%Z", reason);

        return (const char *) text;
    }

    if (t->literal) {
        cert = SSL_get_peer_certificate(c->ssl->connection);

        match = (cert != NULL
                 && X509_check_ip_asc(cert, (char *) t->name, 0) == 1);

        if (cert) {
            X509_free(cert);
        }

    } else {
        match = (ngx_ssl_check_host(c, &t->u.host) == NGX_OK);
    }

    if (!match) {
        ngx_log_error(NGX_LOG_ERR, &p->log, 0,
                      "webhook SSL certificate does not match \"%s\"",
                      t->name);
        return "certificate verify failed: host name mismatch";
    }

    return NULL;
}

#endif


static void
ngx_http_cx_post_send(ngx_http_cx_post_t *p)
{
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    c = p->peer.connection;
    b = &p->request;

    p->state = NGX_HTTP_CX_POST_SENDING;
    p->log.action = "sending the request to the webhook";

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (ngx_http_cx_post_io(p, n, c->write)) {
            return;
        }

        b->pos += n;
    }

    p->state = NGX_HTTP_CX_POST_READING;
    p->log.action = "reading the webhook's response";

    ngx_http_cx_post_read(p);
}


/*
 * After a send or a recv: 1 when the exchange waits for ev (NGX_AGAIN, the
 * event armed) or has ended (an error, finished here), 0 to go on.
 */

static ngx_int_t
ngx_http_cx_post_io(ngx_http_cx_post_t *p, ssize_t n, ngx_event_t *ev)
{
    ngx_int_t  rc;

    if (n == NGX_AGAIN) {
        rc = ev->write ? ngx_handle_write_event(ev, 0)
                       : ngx_handle_read_event(ev, 0);

        if (rc != NGX_OK) {
            ngx_http_cx_post_finish(p, 0, "internal error");
        }

        return 1;
    }

    if (n == NGX_ERROR) {
        ngx_http_cx_post_finish(p, 0,
                                ngx_http_cx_post_strerror(ngx_socket_errno));
        return 1;
    }

    return 0;
}


static void
ngx_http_cx_post_read(ngx_http_cx_post_t *p)
{
    ssize_t            n;
    ngx_int_t          rc;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    c = p->peer.connection;
    b = &p->response;

    for ( ;; ) {
        if (b->last == b->end) {
            if (p->body == NULL) {
                /* no status line in all we are willing to read */
                ngx_http_cx_post_finish(p, 0, "bad response");
                return;
            }

            if (ngx_http_cx_post_grow(p) != NGX_OK) {
                return;
            }
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (ngx_http_cx_post_io(p, n, c->read)) {
            return;
        }

        if (n == 0) {
            if (p->body) {
                /* the body ends with the connection (HTTP/1.0) */
                p->response_body.data = p->body;
                p->response_body.len = b->last - p->body;
                ngx_http_cx_post_finish(p, p->status, NULL);
                return;
            }

            ngx_http_cx_post_finish(p, 0, b->last == b->start
                                          ? "connection closed"
                                          : "bad response");
            return;
        }

        b->last += n;

        if (p->body) {
            continue;
        }

        rc = ngx_http_cx_post_parse(p);

        if (rc == NGX_OK && p->collect) {
            rc = ngx_http_cx_post_header_end(p);
        }

        if (rc == NGX_OK && p->body) {
            continue;
        }

        if (rc == NGX_OK) {
            ngx_http_cx_post_finish(p, p->status, NULL);
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_http_cx_post_finish(p, 0, "bad response");
            return;
        }
    }
}


/*
 * collect: after the final status line, where its header ends: NGX_OK with
 * p->body set, or NGX_AGAIN (more to read).  A chunked body is refused:
 * the request was HTTP/1.0, so the peer must not send one.
 */

static ngx_int_t
ngx_http_cx_post_header_end(ngx_http_cx_post_t *p)
{
    u_char     *q, *lf;
    ngx_buf_t  *b;

    b = &p->response;

    for (q = ngx_strlchr(b->pos, b->last, LF) + 1; /* void */; q = lf + 1) {
        lf = ngx_strlchr(q, b->last, LF);
        if (lf == NULL) {
            return NGX_AGAIN;
        }

        if (lf == q || (lf == q + 1 && *q == CR)) {
            p->body = lf + 1;
            return NGX_OK;
        }

        if (lf - q > 26
            && ngx_strncasecmp(q, (u_char *) "transfer-encoding:", 18) == 0)
        {
            return NGX_ERROR;
        }
    }
}


/* collect: room for more of the body, up to p->collect bytes of it */

static ngx_int_t
ngx_http_cx_post_grow(ngx_http_cx_post_t *p)
{
    u_char     *nb;
    size_t      size, used;
    ngx_buf_t  *b;

    b = &p->response;
    used = b->last - b->start;

    if ((size_t) (b->last - p->body) >= p->collect) {
        ngx_http_cx_post_finish(p, 0, "response too large");
        return NGX_ERROR;
    }

    size = ngx_min(used * 2, used + p->collect);

    nb = ngx_pnalloc(p->pool, size);
    if (nb == NULL) {
        ngx_http_cx_post_finish(p, 0, "internal error");
        return NGX_ERROR;
    }

    ngx_memcpy(nb, b->start, used);

    p->body = nb + (p->body - b->start);
    b->pos = nb + (b->pos - b->start);
    b->start = nb;
    b->last = nb + used;
    b->end = nb + size;

    return NGX_OK;
}


ngx_str_t *
ngx_http_cx_post_body(ngx_http_cx_post_t *p)
{
    return &p->response_body;
}


/*
 * Finds the final status line in what was read: NGX_OK with p->status,
 * NGX_AGAIN, or NGX_ERROR.  Interim (1xx) responses are passed over with
 * their header lines; b->pos is where the next one starts.
 */

static ngx_int_t
ngx_http_cx_post_parse(ngx_http_cx_post_t *p)
{
    u_char     *q, *lf;
    ngx_int_t   status;
    ngx_buf_t  *b;

    b = &p->response;

    for ( ;; ) {
        /* fail early on what is not HTTP at all */

        if (b->last - b->pos >= 7
            && ngx_strncmp(b->pos, "HTTP/1.", 7) != 0)
        {
            return NGX_ERROR;
        }

        lf = ngx_strlchr(b->pos, b->last, LF);
        if (lf == NULL) {
            return NGX_AGAIN;
        }

        status = ngx_http_cx_post_status_line(b->pos, lf);

        if (status == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (status >= 200) {
            p->status = status;
            return NGX_OK;
        }

        for (q = lf + 1; /* void */; q = lf + 1) {
            lf = ngx_strlchr(q, b->last, LF);
            if (lf == NULL) {
                return NGX_AGAIN;
            }

            if (lf == q || (lf == q + 1 && *q == CR)) {
                break;
            }
        }

        b->pos = lf + 1;
    }
}


/* "HTTP/1.x NNN[ reason]" up to lf, CR allowed before it: NNN or NGX_ERROR */

static ngx_int_t
ngx_http_cx_post_status_line(u_char *pos, u_char *lf)
{
    ngx_int_t  i, status;

    if (lf > pos && lf[-1] == CR) {
        lf--;
    }

    if (lf - pos < 12
        || ngx_strncmp(pos, "HTTP/1.", 7) != 0
        || pos[7] < '0' || pos[7] > '9'
        || pos[8] != ' '
        || (lf - pos > 12 && pos[12] != ' '))
    {
        return NGX_ERROR;
    }

    status = 0;

    for (i = 9; i < 12; i++) {
        if (pos[i] < '0' || pos[i] > '9') {
            return NGX_ERROR;
        }

        status = status * 10 + (pos[i] - '0');
    }

    if (status < 100) {
        return NGX_ERROR;
    }

    return status;
}


static const char *
ngx_http_cx_post_strerror(ngx_err_t err)
{
    switch (err) {

    case NGX_ECONNREFUSED:
        return "connection refused";

    case NGX_ECONNRESET:
    case NGX_EPIPE:
        return "connection reset";

    case NGX_ENETDOWN:
    case NGX_ENETUNREACH:
    case NGX_EHOSTDOWN:
    case NGX_EHOSTUNREACH:
        return "host unreachable";

    case NGX_ETIMEDOUT:
        return "timed out";

    default:
        return "connection failed";
    }
}


static void
ngx_http_cx_post_timeout(ngx_event_t *ev)
{
    ngx_http_cx_post_t  *p;

    p = ev->data;

    ngx_log_error(NGX_LOG_ERR, &p->log, NGX_ETIMEDOUT, "webhook timed out");

    ngx_http_cx_post_finish(p, 0, "timed out");
}


/* ends the exchange now and tells done() from a posted event */

static void
ngx_http_cx_post_finish(ngx_http_cx_post_t *p, ngx_uint_t status,
    const char *error)
{
    if (p->over) {
        return;
    }

    p->over = 1;
    p->status = status;
    p->error = error;

    ngx_http_cx_post_close(p);

    ngx_post_event(&p->finished, &ngx_posted_events);
}


static void
ngx_http_cx_post_close(ngx_http_cx_post_t *p)
{
    ngx_connection_t  *c;

    if (p->deadline.timer_set) {
        ngx_del_timer(&p->deadline);
    }

    if (p->resolving) {
        ngx_resolve_name_done(p->resolving);
        p->resolving = NULL;
    }

    c = p->peer.connection;

    if (c == NULL) {
        return;
    }

    p->peer.connection = NULL;

#if (NGX_SSL)
    if (c->ssl) {
        /*
         * The rest of the response is never read: no "close notify"
         * either way, so that the shutdown is done at once and frees.
         */
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        (void) ngx_ssl_shutdown(c);
    }
#endif

    ngx_close_connection(c);
}


static void
ngx_http_cx_post_finished(ngx_event_t *ev)
{
    ngx_pool_t          *pool;
    ngx_http_cx_post_t  *p;

    p = ev->data;
    pool = p->pool;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &p->log, 0,
                   "cx webhook done: %ui \"%s\"",
                   p->status, p->error ? p->error : "");

    p->done(p->data, p->status, p->error);

    ngx_destroy_pool(pool);
}


/* the URL's path may carry a secret (a webhook's token): only the host */

static u_char *
ngx_http_cx_post_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char              *p;
    ngx_http_cx_post_t  *post;

    post = log->data;
    p = buf;

    if (log->action) {
        p = ngx_snprintf(p, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    return ngx_snprintf(p, len, ", %s: %s://%V",
                        post->target->role ? post->target->role : "webhook",
                        post->target->https ? "https" : "http",
                        &post->target->host_header);
}
