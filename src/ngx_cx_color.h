/*
 * ngx_cx_color -- a survey's accent colour (cx_survey color), and whether
 * text on it can be read: WCAG 2.x contrast ratio.
 *
 * Pure C99, no allocation.
 */

#ifndef NGX_CX_COLOR_H
#define NGX_CX_COLOR_H

#include <stddef.h>
#include <stdint.h>


/* WCAG AA for normal text: at least 4.5:1, in hundredths */
#define NGX_CX_CONTRAST_AA      450

/*
 * "#rgb" or "#rrggbb" (hex digits in either case) to 0xrrggbb.
 * 0, or -1 for anything else.
 */
int ngx_cx_color_parse(const unsigned char *s, size_t len, uint32_t *rgb);

/*
 * The contrast ratio of two sRGB colours, (L1 + 0.05) / (L2 + 0.05) with
 * L the relative luminance of the lighter and the darker, times 100 and
 * rounded down: 100 (the same colour) to 2100 (black on white).
 */
unsigned ngx_cx_contrast(uint32_t a, uint32_t b);


#endif /* NGX_CX_COLOR_H */
