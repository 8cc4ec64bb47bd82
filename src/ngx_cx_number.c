/*
 * ngx_cx_number -- see ngx_cx_number.h.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_cx_number.h"


int
ngx_cx_number_read(const char *s, size_t len, double *out)
{
    /* powers of ten, each exact in a double */
    static const double  pow10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
        1e13, 1e14, 1e15
    };

    int          neg, point;
    char         buf[NGX_CX_NUMBER_READ_MAX + 1];
    double       x;
    size_t       digits, places;
    uint64_t     m;
    const char  *p, *end, *start;

    if (len > NGX_CX_NUMBER_READ_MAX) {
        return 0;
    }

    p = s;
    end = s + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    start = p;
    neg = 0;

    if (p < end && (*p == '+' || *p == '-')) {
        neg = (*p == '-');
        p++;
    }

    m = 0;
    digits = 0;
    places = 0;
    point = 0;

    for ( /* void */ ; p < end; p++) {

        if (*p >= '0' && *p <= '9') {
            if (digits < 19) {
                m = m * 10 + (uint64_t) (*p - '0');
            }
            digits++;
            places += point;

        } else if (*p == '.' && !point) {
            point = 1;

        } else {
            return 0;
        }
    }

    if (digits == 0) {
        return 0;
    }

    if (digits <= 15) {
        /* m < 10^15 < 2^53: both operands exact, so one rounding */
        x = (double) m / pow10[places];
        *out = neg ? -x : x;
        return 1;
    }

    memcpy(buf, start, (size_t) (end - start));
    buf[end - start] = '\0';

    x = strtod(buf, NULL);

    if (!isfinite(x)) {
        return 0;
    }

    *out = x;

    return 1;
}


size_t
ngx_cx_number_write(char buf[NGX_CX_NUMBER_WRITE_SIZE], double x)
{
    /* powers of ten, each exact in a double */
    static const double  pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };

    int       k, places;
    char     *p, *end;
    double    s;
    int64_t   m;
    uint64_t  u;

    if (!(x > -1e15 && x < 1e15)) {             /* also NaN */
        return 0;
    }

    /*
     * The fewest places k for which x is the double nearest m / 10^k: a
     * division of exact operands is correctly rounded, so the check is
     * exact, and with 14 significant digits or fewer "%.14g" of x gives
     * back the digits of m.
     */
    for (k = 0; k <= 6; k++) {
        s = x * pow10[k];

        if (s >= 1e14 || s <= -1e14) {
            if (k == 0) {
                m = (int64_t) x;
                if ((double) m == x) {
                    break;                      /* whole, below 1e15 */
                }
            }
            return 0;                           /* over 14 digits */
        }

        m = (int64_t) (s + (s >= 0 ? 0.5 : -0.5));

        if ((double) m / pow10[k] == x) {
            break;
        }
    }

    if (k > 6 || (k > 0 && x > -1e-4 && x < 1e-4)) {
        return 0;                               /* "%.14g": an exponent */
    }

    end = buf + NGX_CX_NUMBER_WRITE_SIZE;
    p = end;
    u = (m < 0) ? (uint64_t) 0 - (uint64_t) m : (uint64_t) m;

    for (places = 0; places < k; places++) {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    }

    if (k) {
        *--p = '.';
    }

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (m < 0) {
        *--p = '-';
    }

    memmove(buf, p, end - p);

    return (size_t) (end - p);
}
