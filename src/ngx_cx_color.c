/*
 * ngx_cx_color -- see ngx_cx_color.h.
 */

#include <math.h>

#include "ngx_cx_color.h"


static int
ngx_cx_color_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


int
ngx_cx_color_parse(const unsigned char *s, size_t len, uint32_t *rgb)
{
    int       d;
    size_t    i;
    uint32_t  v;

    if ((len != 4 && len != 7) || s[0] != '#') {
        return -1;
    }

    v = 0;

    for (i = 1; i < len; i++) {
        d = ngx_cx_color_hex(s[i]);
        if (d < 0) {
            return -1;
        }

        /* #abc is #aabbcc */
        v = (len == 4) ? (v << 8) | (uint32_t) (d * 17) : (v << 4) | (uint32_t) d;
    }

    *rgb = v;

    return 0;
}


/* WCAG 2.x: the channel's linear value, then the weighted sum */

static double
ngx_cx_luminance(uint32_t rgb)
{
    int     i;
    double  c, l[3];

    for (i = 0; i < 3; i++) {
        c = (double) ((rgb >> (16 - 8 * i)) & 0xff) / 255.0;
        l[i] = (c <= 0.03928) ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
    }

    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}


unsigned
ngx_cx_contrast(uint32_t a, uint32_t b)
{
    double  la, lb, r;

    la = ngx_cx_luminance(a);
    lb = ngx_cx_luminance(b);

    r = (la > lb) ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);

    return (unsigned) (r * 100.0 + 1e-9);
}
