/*
 * ngx_cx_search -- see ngx_cx_search.h.
 */

#include "ngx_cx_search.h"
#include "ngx_cx_json.h"        /* ngx_cx_utf8_decode */


/* a byte that starts no valid sequence: above every code point */
#define NGX_CX_SEARCH_BAD   0x80000000u


/* upper case at the even code points, lower case at the odd ones */
#define ngx_cx_fold_pair_even(cp)   ((cp) | 1u)
/* upper case at the odd code points, lower case at the even ones */
#define ngx_cx_fold_pair_odd(cp)    ((cp) + ((cp) & 1u))


uint32_t
ngx_cx_fold(uint32_t cp)
{
    if (cp < 0x80) {
        return (cp >= 'A' && cp <= 'Z') ? cp + 0x20 : cp;
    }

    if (cp < 0x100) {
        if (cp == 0xb5) {
            return 0x3bc;                       /* micro sign to mu */
        }

        return (cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ? cp + 0x20 : cp;
    }

    if (cp < 0x180) {                           /* Latin Extended-A */
        if (cp == 0x130 || cp == 0x131) {
            return 'i';                         /* Turkish: see the header */
        }

        if (cp == 0x178) {
            return 0xff;
        }

        if (cp == 0x17f) {
            return 's';
        }

        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e)) {
            return ngx_cx_fold_pair_odd(cp);
        }

        if (cp == 0x138 || cp == 0x149) {
            return cp;                          /* kra, 'n: no capital */
        }

        return ngx_cx_fold_pair_even(cp);
    }

    if (cp >= 0x386 && cp <= 0x3ab) {           /* Greek */
        if (cp == 0x386) {
            return 0x3ac;
        }

        if (cp >= 0x388 && cp <= 0x38a) {
            return cp + 37;
        }

        if (cp == 0x38c) {
            return 0x3cc;
        }

        if (cp == 0x38e || cp == 0x38f) {
            return cp + 63;
        }

        return (cp >= 0x391 && cp != 0x3a2) ? cp + 0x20 : cp;
    }

    if (cp == 0x3c2) {
        return 0x3c3;                           /* final sigma */
    }

    if (cp >= 0x400 && cp <= 0x52f) {           /* Cyrillic */
        if (cp < 0x410) {
            return cp + 0x50;
        }

        if (cp < 0x430) {
            return cp + 0x20;
        }

        if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4bf)
            || cp >= 0x4d0)
        {
            return ngx_cx_fold_pair_even(cp);
        }

        if (cp == 0x4c0) {
            return 0x4cf;
        }

        if (cp >= 0x4c1 && cp <= 0x4ce) {
            return ngx_cx_fold_pair_odd(cp);
        }

        return cp;
    }

    if (cp >= 0x531 && cp <= 0x556) {           /* Armenian */
        return cp + 0x30;
    }

    if (cp >= 0x1e00 && cp <= 0x1eff) {         /* Latin Extended Additional */
        if (cp == 0x1e9e) {
            return 0xdf;                        /* capital sharp s */
        }

        if (cp <= 0x1e95 || cp >= 0x1ea0) {
            return ngx_cx_fold_pair_even(cp);
        }
    }

    return cp;
}


int
ngx_cx_search_init(ngx_cx_search_t *s, const unsigned char *q, size_t len)
{
    size_t    i, k, n, used;
    uint32_t  cp;

    n = 0;

    for (i = 0; i < len; i += used) {
        used = ngx_cx_utf8_decode(q + i, len - i, &cp);

        if (used == 0 || n == NGX_CX_SEARCH_MAX) {
            return -1;
        }

        s->cp[n++] = ngx_cx_fold(cp);
    }

    if (n == 0) {
        return -1;
    }

    s->n = n;

    /* fail[i]: the longest proper prefix of cp[0..i] that ends it */
    s->fail[0] = 0;
    k = 0;

    for (i = 1; i < n; i++) {
        while (k > 0 && s->cp[i] != s->cp[k]) {
            k = s->fail[k - 1];
        }

        if (s->cp[i] == s->cp[k]) {
            k++;
        }

        s->fail[i] = (unsigned char) k;
    }

    return 0;
}


int
ngx_cx_search_in(const ngx_cx_search_t *s, const unsigned char *text,
    size_t len)
{
    size_t    i, k, used;
    uint32_t  cp;

    k = 0;

    for (i = 0; i < len; i += used) {
        used = ngx_cx_utf8_decode(text + i, len - i, &cp);

        if (used == 0) {
            cp = NGX_CX_SEARCH_BAD | text[i];
            used = 1;

        } else {
            cp = ngx_cx_fold(cp);
        }

        while (k > 0 && cp != s->cp[k]) {
            k = s->fail[k - 1];
        }

        if (cp == s->cp[k] && ++k == s->n) {
            return 1;
        }
    }

    return 0;
}
