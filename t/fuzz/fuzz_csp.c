/*
 * The Content-Security-Policy reader on arbitrary header values
 * (src/ngx_cx_csp.h). Input: header values separated by NUL bytes. Checks:
 *   - no read outside the values (each an exact-size heap copy);
 *   - the verdict is one of the three, and a nonce handed back points into
 *     a value, is at most NGX_CX_CSP_NONCE_MAX base64(url) characters, and
 *     is there exactly when the verdict is NONCE (or an accepted optional
 *     one with ALLOW);
 *   - the values given as separate headers or joined by "," into one give
 *     the same answer (a header value is a comma-separated list of
 *     policies, and browsers combine them the same way);
 *   - every policy given twice: the same answer.
 */

#include "fuzz.h"
#include "ngx_cx_csp.h"

#define MAXV  16


typedef struct {
    int                   verdict;
    const unsigned char  *nonce;
    size_t                nonce_len;
} answer_t;


static void
check_answer(const answer_t *a, unsigned char **v, size_t *vlen, size_t nv)
{
    size_t  i, inside;

    CHECK(a->verdict == NGX_CX_CSP_ALLOW || a->verdict == NGX_CX_CSP_NONCE
          || a->verdict == NGX_CX_CSP_BLOCK);

    if (a->verdict == NGX_CX_CSP_BLOCK) {
        CHECK(a->nonce == NULL && a->nonce_len == 0);
        return;
    }
    if (a->verdict == NGX_CX_CSP_NONCE) {
        CHECK(a->nonce != NULL);
    }
    if (a->nonce == NULL) {
        CHECK(a->nonce_len == 0);
        return;
    }

    CHECK(a->nonce_len > 0 && a->nonce_len <= NGX_CX_CSP_NONCE_MAX);
    inside = 0;
    for (i = 0; i < nv; i++) {
        if (a->nonce >= v[i] && a->nonce + a->nonce_len <= v[i] + vlen[i]) {
            inside = 1;
        }
    }
    CHECK(inside);
    for (i = 0; i < a->nonce_len; i++) {
        unsigned char c = a->nonce[i];
        CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='
              || c == '-' || c == '_');
    }
}


static void
same(const answer_t *a, const answer_t *b)
{
    CHECK(a->verdict == b->verdict);
    CHECK(a->nonce_len == b->nonce_len);
    if (a->nonce_len) {
        CHECK(memcmp(a->nonce, b->nonce, a->nonce_len) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          nv, i, start, jlen;
    unsigned char  *v[MAXV], *joined;
    size_t          vlen[MAXV];
    answer_t        sep, one, twice;
    ngx_cx_csp_t    c;

    /* the values, each on the heap at its exact size */
    nv = 0;
    start = 0;
    for (i = 0; i <= size && nv < MAXV; i++) {
        if (i == size || data[i] == '\0') {
            vlen[nv] = i - start;
            v[nv] = fz_dup(data + start, vlen[nv]);
            nv++;
            start = i + 1;
        }
    }

    ngx_cx_csp_init(&c);
    for (i = 0; i < nv; i++) {
        ngx_cx_csp_add(&c, v[i], vlen[i]);
    }
    sep.verdict = ngx_cx_csp_result(&c, &sep.nonce, &sep.nonce_len);
    check_answer(&sep, v, vlen, nv);

    /* joined by commas into one header value */
    jlen = 0;
    for (i = 0; i < nv; i++) {
        jlen += vlen[i] + 1;
    }
    joined = malloc(jlen);
    CHECK(joined != NULL);
    jlen = 0;
    for (i = 0; i < nv; i++) {
        if (i > 0) {
            joined[jlen++] = ',';
        }
        memcpy(joined + jlen, v[i], vlen[i]);
        jlen += vlen[i];
    }
    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, joined, jlen);
    one.verdict = ngx_cx_csp_result(&c, &one.nonce, &one.nonce_len);
    check_answer(&one, &joined, &jlen, 1);
    same(&sep, &one);

    /* every value twice */
    ngx_cx_csp_init(&c);
    for (i = 0; i < nv; i++) {
        ngx_cx_csp_add(&c, v[i], vlen[i]);
    }
    for (i = 0; i < nv; i++) {
        ngx_cx_csp_add(&c, v[i], vlen[i]);
    }
    twice.verdict = ngx_cx_csp_result(&c, &twice.nonce, &twice.nonce_len);
    check_answer(&twice, v, vlen, nv);
    same(&sep, &twice);

    free(joined);
    for (i = 0; i < nv; i++) {
        free(v[i]);
    }
    return 0;
}
