/*
 * Visitors: a random first-party id in a signed cookie, so that any node
 * with the same secret recognises the visitor without shared state.  A
 * cookie that does not verify is simply a new visitor, never an error.
 * Also the cx_cookie directive and the cookie's attributes, rendered once
 * at configuration time; the keys that sign it are ngx_http_cx_keys.c's.
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
    u_char  *start, *p;
    size_t   n;

    start = ngx_pnalloc(r->pool, cmcf->cookie_name.len + 1 + NGX_CX_COOKIE_MAX
                                 + cmcf->cookie_attrs.len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(start, cmcf->cookie_name.data, cmcf->cookie_name.len);
    *p++ = '=';

    n = ngx_cx_visitor_encode(p, NGX_CX_COOKIE_MAX, &cmcf->cookie_key,
                              &visitor->v);
    if (n == 0) {
        return NGX_ERROR;
    }

    p += n;
    p = ngx_cpymem(p, cmcf->cookie_attrs.data, cmcf->cookie_attrs.len);

    return ngx_http_cx_header_add(r, "Set-Cookie", start, p - start);
}


/* cx_cookie NAME [max_age=] [samesite=] [secure] [domain=]: the cookie */

char *
ngx_http_cx_cookie_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    u_char      *p;
    time_t       age;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (cmcf->cookie_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_cookie: the cookie needs a name");
        return NGX_CONF_ERROR;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!(ngx_http_cx_isalnum(*p) || *p == '_' || *p == '-')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_cookie: the name \"%V\" may contain only "
                               "letters, digits, \"_\" and \"-\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    cmcf->cookie_name = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_age=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;
            age = ngx_parse_time(&s, 1);
            if (age == (time_t) NGX_ERROR || age == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_cookie: max_age \"%V\" is not a "
                                   "duration such as \"400d\"", &s);
                return NGX_CONF_ERROR;
            }
            cmcf->cookie_max_age = age;
            continue;
        }

        if (ngx_strncmp(value[i].data, "samesite=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;
            if (s.len == 4 && ngx_strncasecmp(s.data, (u_char *) "none", 4)
                              == 0)
            {
                cmcf->cookie_samesite = 0;
            } else if (s.len == 3
                       && ngx_strncasecmp(s.data, (u_char *) "lax", 3) == 0)
            {
                cmcf->cookie_samesite = 1;
            } else if (s.len == 6
                       && ngx_strncasecmp(s.data, (u_char *) "strict", 6)
                          == 0)
            {
                cmcf->cookie_samesite = 2;
            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_cookie: samesite must be \"lax\", "
                                   "\"strict\" or \"none\", not \"%V\"", &s);
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strcmp(value[i].data, "secure") == 0) {
            cmcf->cookie_secure = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            for (p = s.data; p < s.data + s.len; p++) {
                if (!(ngx_http_cx_isalnum(*p) || *p == '.' || *p == '-')) {
                    s.len = 0;
                    break;
                }
            }
            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_cookie: \"%V\" is not a domain such "
                                   "as \"domain=.example.com\"", &value[i]);
                return NGX_CONF_ERROR;
            }
            cmcf->cookie_domain = s;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_cookie: unknown parameter \"%V\"; expected "
                           "max_age=, samesite=, secure or domain=",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (cmcf->cookie_samesite == 0 && cmcf->cookie_secure != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_cookie: samesite=none needs \"secure\" "
                           "(browsers drop such cookies otherwise)");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* The cookie's attributes never change: rendered once, after cx_cookie. */

ngx_int_t
ngx_http_cx_visitor_init_main_conf(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf)
{
    u_char  *p;
    size_t   len;

    len = sizeof("; Max-Age=; Path=/; HttpOnly; SameSite=Strict; Secure")
          + NGX_TIME_T_LEN + sizeof("; Domain=") + cmcf->cookie_domain.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cmcf->cookie_attrs.data = p;

    p = ngx_sprintf(p, "; Max-Age=%T; Path=/; HttpOnly",
                    cmcf->cookie_max_age);

    switch (cmcf->cookie_samesite) {
    case 0:
        p = ngx_cpymem(p, "; SameSite=None", sizeof("; SameSite=None") - 1);
        break;
    case 2:
        p = ngx_cpymem(p, "; SameSite=Strict",
                       sizeof("; SameSite=Strict") - 1);
        break;
    default:
        p = ngx_cpymem(p, "; SameSite=Lax", sizeof("; SameSite=Lax") - 1);
    }

    if (cmcf->cookie_secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    if (cmcf->cookie_domain.len) {
        p = ngx_sprintf(p, "; Domain=%V", &cmcf->cookie_domain);
    }

    cmcf->cookie_attrs.len = p - cmcf->cookie_attrs.data;

    return NGX_OK;
}
