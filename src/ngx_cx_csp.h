/*
 * ngx_cx_csp.h — may the page's Content-Security-Policy run our widget?
 *
 * The widget is two elements inserted before </body>: a JSON data block
 * (never executed, so CSP does not apply to it) and a same-origin
 * <script src=".../w.js">.  This component reads the response's policy
 * headers and answers one question: can that script element load, and
 * must it carry a nonce?  It never suggests editing the policy.
 *
 * For each policy (a header value may hold several, separated by ","),
 * the governing directive is script-src-elem, else script-src, else
 * default-src; no such directive allows everything.  In its source list:
 *   'nonce-X'          the element is allowed with nonce="X";
 *   'strict-dynamic'   host and 'self' sources are ignored: nonce needed;
 *   'self' or *        the same-origin script is allowed;
 *   'none', hosts, schemes, hashes: not enough on their own.
 * A sandbox directive blocks unless it lists both allow-scripts (else no
 * script runs) and allow-same-origin (else the page has an opaque origin
 * and the widget's same-origin POST of an answer is refused: a prompt that
 * cannot be answered is not shown).
 * All policies must allow (that is how browsers combine them).  Policies
 * that insist on a nonce must share one: the element carries a single
 * nonce, so without a common one the answer is BLOCK.
 *
 * Report-Only policies block nothing: do not feed them here.
 */

#ifndef _NGX_CX_CSP_H_INCLUDED_
#define _NGX_CX_CSP_H_INCLUDED_

#include <stddef.h>

#define NGX_CX_CSP_ALLOW  0     /* no nonce needed, one may be given */
#define NGX_CX_CSP_NONCE  1     /* allowed only with the nonce */
#define NGX_CX_CSP_BLOCK  2     /* the widget cannot run: do not inject */

#define NGX_CX_CSP_NONCE_MAX  128

typedef struct {
    const unsigned char  *p;
    size_t                len;
} ngx_cx_csp_nonce_t;

/* at most this many nonces of one policy are considered */
#define NGX_CX_CSP_NONCES  8

typedef struct {
    int                   verdict;
    ngx_cx_csp_nonce_t    required[NGX_CX_CSP_NONCES]; /* in every such policy */
    size_t                nrequired;
    int                   constrained;  /* some policy insists on a nonce */
    ngx_cx_csp_nonce_t    optional;     /* a nonce that is accepted */
} ngx_cx_csp_t;

void ngx_cx_csp_init(ngx_cx_csp_t *c);

/* Adds one Content-Security-Policy header value.  The nonce pointers
 * point into value, which must outlive the ngx_cx_csp_t. */
void ngx_cx_csp_add(ngx_cx_csp_t *c, const unsigned char *value, size_t len);

/* The verdict over everything added; nonce and nonce_len get the one to
 * put on the script element (NULL/0 when none is needed or known). */
int ngx_cx_csp_result(const ngx_cx_csp_t *c, const unsigned char **nonce,
    size_t *nonce_len);

#endif /* _NGX_CX_CSP_H_INCLUDED_ */
