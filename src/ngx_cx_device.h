/*
 * ngx_cx_device -- the device class of a browser, from its User-Agent, as
 * coarse as the reports need it: mobile (phones and tablets: touch
 * screens that travel) or desktop. Nothing else of the User-Agent is kept
 * (README: Reports, Segments).
 *
 * The rule (what browsers' own documentation recommends for "mobile"):
 * "Mobi" anywhere (every mobile Chrome, Safari, Firefox, Edge, Opera:
 * "Mobile", "Mobile Safari", "Mobile/15E148"), "Android" (Android tablets
 * drop "Mobile"), "iPhone", "iPad" or "Tablet" means mobile; any other
 * non-empty value is desktop; none is unknown. An iPad that asks for the
 * desktop site says it is a Mac and is counted as desktop.
 *
 * Pure C99, no allocation, no nginx headers.
 */

#ifndef NGX_CX_DEVICE_H
#define NGX_CX_DEVICE_H

#include <stddef.h>


#define NGX_CX_DEVICE_UNKNOWN  0
#define NGX_CX_DEVICE_DESKTOP  1
#define NGX_CX_DEVICE_MOBILE   2
#define NGX_CX_DEVICE_MAX      2


/* The class of a User-Agent of len bytes (ua may be NULL when len is 0). */
unsigned ngx_cx_device_from_ua(const unsigned char *ua, size_t len);

/* "desktop", "mobile"; "" for unknown and anything out of range. */
const char *ngx_cx_device_name(unsigned device);


#endif /* NGX_CX_DEVICE_H */
