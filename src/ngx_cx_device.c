/*
 * ngx_cx_device: see ngx_cx_device.h.
 */

#include <string.h>

#include "ngx_cx_device.h"


static int ngx_cx_device_has(const unsigned char *s, size_t len,
    const char *word);


unsigned
ngx_cx_device_from_ua(const unsigned char *ua, size_t len)
{
    if (len == 0) {
        return NGX_CX_DEVICE_UNKNOWN;
    }

    if (ngx_cx_device_has(ua, len, "Mobi")
        || ngx_cx_device_has(ua, len, "Android")
        || ngx_cx_device_has(ua, len, "iPhone")
        || ngx_cx_device_has(ua, len, "iPad")
        || ngx_cx_device_has(ua, len, "Tablet"))
    {
        return NGX_CX_DEVICE_MOBILE;
    }

    return NGX_CX_DEVICE_DESKTOP;
}


const char *
ngx_cx_device_name(unsigned device)
{
    switch (device) {
    case NGX_CX_DEVICE_DESKTOP:
        return "desktop";
    case NGX_CX_DEVICE_MOBILE:
        return "mobile";
    default:
        return "";
    }
}


/* Whether word occurs in the len bytes at s (case matters, as in UAs). */

static int
ngx_cx_device_has(const unsigned char *s, size_t len, const char *word)
{
    size_t                n;
    const unsigned char  *p, *last;

    n = strlen(word);

    if (len < n) {
        return 0;
    }

    last = s + len - n;

    for (p = s; p <= last; p++) {
        p = memchr(p, word[0], (size_t) (last - p) + 1);

        if (p == NULL) {
            return 0;
        }

        if (memcmp(p, word, n) == 0) {
            return 1;
        }
    }

    return 0;
}
