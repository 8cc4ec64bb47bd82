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


/*
 * The value of a sandbox directive: does it still let the widget work?
 * Without allow-scripts no script runs.  With allow-scripts but without
 * allow-same-origin the page gets an opaque origin: the widget's answer is
 * then a cross-origin JSON POST (Origin: null, a preflight the endpoint
 * never grants, no visitor cookie), so it could show a prompt nobody can
 * answer.  Both tokens are needed; they match in any case (HTML keywords).
 */

static int
ngx_cx_csp_sandbox_ok(const unsigned char *p, const unsigned char *last)
{
    int                   scripts, origin;
    const unsigned char  *tok;

    scripts = 0;
    origin = 0;

    while (p < last) {
        while (p < last && ngx_cx_csp_space(*p)) {
            p++;
        }
        tok = p;
        while (p < last && !ngx_cx_csp_space(*p)) {
            p++;
        }

        if (ngx_cx_csp_eq(tok, p - tok, "allow-scripts")) {
            scripts = 1;

        } else if (ngx_cx_csp_eq(tok, p - tok, "allow-same-origin")) {
            origin = 1;
        }
    }

    return scripts && origin;
}


/* one policy: p..last, no commas inside */

static void
ngx_cx_csp_policy(ngx_cx_csp_t *c, const unsigned char *p,
    const unsigned char *last)
{
    int                   rank, best, self, strict, sandbox;
    size_t                i, j, n, kept;
    ngx_cx_csp_nonce_t    nonces[NGX_CX_CSP_NONCES];
    const unsigned char  *d, *dlast, *name, *tok;
    const unsigned char  *best_start, *best_end;

    best = 0;
    best_start = NULL;
    best_end = NULL;
    sandbox = 0;    /* 0 none seen, 1 the widget works, 2 it does not */

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

        /* the first sandbox directive counts, like any directive */
        if (sandbox == 0 && ngx_cx_csp_eq(name, d - name, "sandbox")) {
            sandbox = ngx_cx_csp_sandbox_ok(d, dlast) ? 1 : 2;
            continue;
        }

        rank = ngx_cx_csp_rank(name, d - name);

        /* the first occurrence of a directive is the one that counts */
        if (rank > best) {
            best = rank;
            best_start = d;
            best_end = dlast;
        }
    }

    if (sandbox == 2) {
        c->verdict = NGX_CX_CSP_BLOCK;
        return;
    }

    if (best == 0) {
        return;     /* nothing restricts scripts */
    }

    self = 0;
    strict = 0;
    n = 0;

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
                   && d[-1] == '\'' && n < NGX_CX_CSP_NONCES
                   && ngx_cx_csp_nonce_ok(tok + 7, d - tok - 8))
        {
            nonces[n].p = tok + 7;
            nonces[n].len = d - tok - 8;
            n++;
        }
    }

    if (strict) {
        self = 0;
    }

    if (self) {
        if (n && c->optional.p == NULL) {
            c->optional = nonces[0];
        }
        return;
    }

    if (n == 0) {
        c->verdict = NGX_CX_CSP_BLOCK;
        return;
    }

    /* this policy insists on one of its nonces */

    if (!c->constrained) {
        c->constrained = 1;
        memcpy(c->required, nonces, n * sizeof(ngx_cx_csp_nonce_t));
        c->nrequired = n;

    } else {
        kept = 0;

        for (i = 0; i < c->nrequired; i++) {
            for (j = 0; j < n; j++) {
                if (c->required[i].len == nonces[j].len
                    && memcmp(c->required[i].p, nonces[j].p, nonces[j].len)
                       == 0)
                {
                    c->required[kept++] = c->required[i];
                    break;
                }
            }
        }

        c->nrequired = kept;
    }

    if (c->nrequired == 0) {
        c->verdict = NGX_CX_CSP_BLOCK;
        return;
    }

    if (c->verdict == NGX_CX_CSP_ALLOW) {
        c->verdict = NGX_CX_CSP_NONCE;
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

    if (c->constrained) {
        *nonce = c->required[0].p;
        *nonce_len = c->required[0].len;

    } else if (c->optional.p) {
        *nonce = c->optional.p;
        *nonce_len = c->optional.len;
    }

    return c->verdict;
}
