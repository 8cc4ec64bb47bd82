/*
 * Content-Security-Policy check for the widget: see ngx_cx_csp.h.
 */

#include <string.h>

#include "ngx_cx_csp.h"


static int
ngx_cx_csp_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}


static int
ngx_cx_csp_eq(const unsigned char *p, size_t len, const char *lit)
{
    size_t         i, n;
    unsigned char  c;

    n = strlen(lit);
    if (len != n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }
        if (c != (unsigned char) lit[i]) {
            return 0;
        }
    }

    return 1;
}


/* base64 or base64url value characters only: it goes into an attribute */

static int
ngx_cx_csp_nonce_ok(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_CX_CSP_NONCE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '/'
              || p[i] == '=' || p[i] == '-' || p[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* rank of a directive for script elements: 3 best, 0 not relevant */

static int
ngx_cx_csp_rank(const unsigned char *name, size_t len)
{
    if (ngx_cx_csp_eq(name, len, "script-src-elem")) {
        return 3;
    }
    if (ngx_cx_csp_eq(name, len, "script-src")) {
        return 2;
    }
    if (ngx_cx_csp_eq(name, len, "default-src")) {
        return 1;
    }
    return 0;
}


/* one policy: p..last, no commas inside */

static void
ngx_cx_csp_policy(ngx_cx_csp_t *c, const unsigned char *p,
    const unsigned char *last)
{
    int                   rank, best, self, strict, verdict;
    size_t                nonce_len;
    const unsigned char  *d, *dlast, *name, *tok, *nonce;
    const unsigned char  *best_start, *best_end;

    best = 0;
    best_start = NULL;
    best_end = NULL;

    while (p < last) {
        d = p;
        while (p < last && *p != ';') {
            p++;
        }
        dlast = p;
        if (p < last) {
            p++;
        }

        while (d < dlast && ngx_cx_csp_space(*d)) {
            d++;
        }
        name = d;
        while (d < dlast && !ngx_cx_csp_space(*d)) {
            d++;
        }

        rank = ngx_cx_csp_rank(name, d - name);

        /* the first occurrence of a directive is the one that counts */
        if (rank > best) {
            best = rank;
            best_start = d;
            best_end = dlast;
        }
    }

    if (best == 0) {
        return;     /* nothing restricts scripts */
    }

    self = 0;
    strict = 0;
    nonce = NULL;
    nonce_len = 0;

    for (d = best_start; d < best_end; /* void */) {
        while (d < best_end && ngx_cx_csp_space(*d)) {
            d++;
        }
        tok = d;
        while (d < best_end && !ngx_cx_csp_space(*d)) {
            d++;
        }
        if (tok == d) {
            break;
        }

        if (ngx_cx_csp_eq(tok, d - tok, "'self'")
            || ngx_cx_csp_eq(tok, d - tok, "*"))
        {
            self = 1;

        } else if (ngx_cx_csp_eq(tok, d - tok, "'strict-dynamic'")) {
            strict = 1;

        } else if (d - tok > 8 && ngx_cx_csp_eq(tok, 7, "'nonce-")
                   && d[-1] == '\'')
        {
            if (nonce == NULL && ngx_cx_csp_nonce_ok(tok + 7, d - tok - 8)) {
                nonce = tok + 7;
                nonce_len = d - tok - 8;
            }
        }
    }

    if (strict) {
        self = 0;
    }

    if (self) {
        verdict = NGX_CX_CSP_ALLOW;
    } else if (nonce) {
        verdict = NGX_CX_CSP_NONCE;
    } else {
        verdict = NGX_CX_CSP_BLOCK;
    }

    if (verdict == NGX_CX_CSP_BLOCK) {
        c->verdict = NGX_CX_CSP_BLOCK;
        return;
    }

    if (verdict == NGX_CX_CSP_NONCE) {
        if (c->required
            && (c->required_len != nonce_len
                || memcmp(c->required, nonce, nonce_len) != 0))
        {
            c->verdict = NGX_CX_CSP_BLOCK;
            return;
        }

        c->required = nonce;
        c->required_len = nonce_len;

        if (c->verdict == NGX_CX_CSP_ALLOW) {
            c->verdict = NGX_CX_CSP_NONCE;
        }

        return;
    }

    if (nonce && c->optional == NULL) {
        c->optional = nonce;
        c->optional_len = nonce_len;
    }
}


void
ngx_cx_csp_init(ngx_cx_csp_t *c)
{
    memset(c, 0, sizeof(ngx_cx_csp_t));
    c->verdict = NGX_CX_CSP_ALLOW;
}


void
ngx_cx_csp_add(ngx_cx_csp_t *c, const unsigned char *value, size_t len)
{
    const unsigned char  *p, *last, *start;

    p = value;
    last = value + len;

    while (p < last) {
        start = p;
        while (p < last && *p != ',') {
            p++;
        }

        ngx_cx_csp_policy(c, start, p);

        if (p < last) {
            p++;
        }
    }
}


int
ngx_cx_csp_result(const ngx_cx_csp_t *c, const unsigned char **nonce,
    size_t *nonce_len)
{
    *nonce = NULL;
    *nonce_len = 0;

    if (c->verdict == NGX_CX_CSP_BLOCK) {
        return NGX_CX_CSP_BLOCK;
    }

    if (c->required) {
        *nonce = c->required;
        *nonce_len = c->required_len;

    } else if (c->optional) {
        *nonce = c->optional;
        *nonce_len = c->optional_len;
    }

    return c->verdict;
}
