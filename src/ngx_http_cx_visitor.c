/*
 * Visitors: a random first-party id in a signed cookie, so that any node
 * with the same secret recognises the visitor without shared state.  A
 * cookie that does not verify is simply a new visitor, never an error.
 */

#include "ngx_http_cx.h"
#include <sys/random.h>


/*
 * Random bytes for ids and nonces.  One getrandom() call fills a pool
 * that serves a few hundred pages; the pool belongs to the process that
 * filled it (ngx_pid), so workers forked from a master never share bytes.
 */

static u_char      ngx_http_cx_random_pool[4096];
static size_t      ngx_http_cx_random_left;
static ngx_pid_t   ngx_http_cx_random_owner;


static ngx_int_t
ngx_http_cx_getrandom(u_char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        /* GRND_NONBLOCK: fail closed rather than stall the event loop */
        n = getrandom(p, len, GRND_NONBLOCK);

        if (n <= 0) {
            if (n == -1 && errno == EINTR) {
                continue;
            }
            return NGX_ERROR;
        }

        p += n;
        len -= n;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cx_random(void *buf, size_t len)
{
    u_char  *p;

    if (len > sizeof(ngx_http_cx_random_pool) / 4) {
        return ngx_http_cx_getrandom(buf, len);
    }

    if (ngx_http_cx_random_owner != ngx_pid
        || ngx_http_cx_random_left < len)
    {
        if (ngx_http_cx_getrandom(ngx_http_cx_random_pool,
                                  sizeof(ngx_http_cx_random_pool))
            != NGX_OK)
        {
            ngx_http_cx_random_left = 0;
            return NGX_ERROR;
        }

        ngx_http_cx_random_owner = ngx_pid;
        ngx_http_cx_random_left = sizeof(ngx_http_cx_random_pool);
    }

    p = ngx_http_cx_random_pool + sizeof(ngx_http_cx_random_pool)
        - ngx_http_cx_random_left;

    ngx_memcpy(buf, p, len);

    /* used bytes are not left lying in memory */
    ngx_explicit_memzero(p, len);
    ngx_http_cx_random_left -= len;

    return NGX_OK;
}


/* Separate keys per use, so that no signed value can stand for another. */

ngx_int_t
ngx_http_cx_keys_init(ngx_log_t *log, ngx_http_cx_main_conf_t *cmcf)
{
    u_char  key[32];

    cmcf->keys_ready = 0;

    if (cmcf->secret.len < NGX_HTTP_CX_SECRET_MIN) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "ngx_cx: no secret (neither cx_secret_file nor the "
                      "store): no prompts are offered");
        return NGX_ERROR;
    }

    ngx_cx_hmac_sha256(cmcf->secret.data, cmcf->secret.len,
                       "ngx_cx token v1", sizeof("ngx_cx token v1") - 1, key);
    ngx_cx_hmac_key_init(&cmcf->token_key, key, sizeof(key));

    ngx_cx_hmac_sha256(cmcf->secret.data, cmcf->secret.len,
                       "ngx_cx cookie v1", sizeof("ngx_cx cookie v1") - 1,
                       key);
    ngx_cx_hmac_key_init(&cmcf->cookie_key, key, sizeof(key));

    ngx_cx_hmac_sha256(cmcf->secret.data, cmcf->secret.len,
                       "ngx_cx sample v1", sizeof("ngx_cx sample v1") - 1,
                       key);
    cmcf->sample_seed = (uint32_t) key[0] << 24 | key[1] << 16
                        | key[2] << 8 | key[3];

    ngx_explicit_memzero(key, sizeof(key));

    cmcf->keys_ready = 1;

    return NGX_OK;
}


/*
 * The time decisions are made at.  With cx_test_clock on (tests only), a
 * request header X-CX-Test-Now: <unix seconds> stands for the clock, so
 * tests can move through days without sleeping.
 */

time_t
ngx_http_cx_now(ngx_http_request_t *r)
{
    time_t                    t;
    ngx_table_elt_t          *h;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (cmcf->test_clock) {
        h = ngx_http_cx_header_in(r, "X-CX-Test-Now",
                                  sizeof("X-CX-Test-Now") - 1);
        if (h) {
            t = ngx_atotm(h->value.data, h->value.len);
            if (t != NGX_ERROR) {
                return t;
            }
        }
    }

    return ngx_time();
}


/* Sec-GPC: 1 — the visitor asks not to be tracked: no cookie, no record */

ngx_int_t
ngx_http_cx_gpc(ngx_http_request_t *r)
{
    ngx_table_elt_t          *h;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (!cmcf->respect_gpc) {
        return 0;
    }

    h = ngx_http_cx_header_in(r, "Sec-GPC", sizeof("Sec-GPC") - 1);

    return h && h->value.len == 1 && h->value.data[0] == '1';
}


/* The state in the request's cookie; NGX_DECLINED when there is none. */

ngx_int_t
ngx_http_cx_visitor_peek(ngx_http_request_t *r, ngx_http_cx_main_conf_t *cmcf,
    ngx_cx_visitor_t *v)
{
    ngx_str_t  value;

    if (!cmcf->keys_ready) {
        return NGX_DECLINED;
    }

    if (ngx_http_cx_cookie(r, &cmcf->cookie_name, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_cx_visitor_decode(&cmcf->cookie_key, value.data, value.len, v)
        != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cx: visitor cookie does not verify, "
                      "treating as a new visitor");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Fills *visitor from the request's cookie, or makes a new visitor.
 * NGX_OK either way; NGX_ERROR only when no randomness is available.
 */

ngx_int_t
ngx_http_cx_visitor_get(ngx_http_request_t *r, ngx_http_cx_main_conf_t *cmcf,
    time_t now, ngx_http_cx_visitor_t *visitor)
{
    if (ngx_http_cx_visitor_peek(r, cmcf, &visitor->v) == NGX_OK) {
        visitor->is_new = 0;
        return NGX_OK;
    }

    ngx_memzero(&visitor->v, sizeof(ngx_cx_visitor_t));

    if (ngx_http_cx_random(visitor->v.id, sizeof(visitor->v.id)) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "cx: getrandom() failed");
        return NGX_ERROR;
    }

    visitor->v.first_seen = (uint32_t) now;
    visitor->is_new = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_cx_visitor_set_cookie(ngx_http_request_t *r,
    ngx_http_cx_main_conf_t *cmcf, ngx_http_cx_visitor_t *visitor)
{
    u_char           *p;
    size_t            n;
    ngx_table_elt_t  *h;

    p = ngx_pnalloc(r->pool, cmcf->cookie_name.len + 1 + NGX_CX_COOKIE_MAX
                             + cmcf->cookie_attrs.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Set-Cookie");
    h->value.data = p;

    p = ngx_cpymem(p, cmcf->cookie_name.data, cmcf->cookie_name.len);
    *p++ = '=';

    n = ngx_cx_visitor_encode(p, NGX_CX_COOKIE_MAX, &cmcf->cookie_key,
                              &visitor->v);
    if (n == 0) {
        h->hash = 0;
        return NGX_ERROR;
    }

    p += n;
    p = ngx_cpymem(p, cmcf->cookie_attrs.data, cmcf->cookie_attrs.len);

    h->value.len = p - h->value.data;

    return NGX_OK;
}
