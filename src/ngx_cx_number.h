/*
 * ngx_cx_number -- reading a decimal number strictly, as cx.util.number
 * does (lua/cx/util.lua), for hooks that read an order total or a count
 * from a header.
 *
 * Accepted: after spaces and tabs are trimmed from both ends, an optional
 * sign, decimal digits and at most one decimal point, with at least one
 * digit: "42", "-3", "+5", "1234.50", ".5", "7.". Nothing else: no
 * thousands separators, currency, exponents, hex, "inf" or "nan", no other
 * white space, nothing longer than NGX_CX_NUMBER_READ_MAX bytes, and
 * nothing whose value is not finite.
 *
 * The value is the double nearest to the decimal, the same one Lua's
 * tonumber gives: up to 15 digits as an exact integer divided by an exact
 * power of ten (one rounding), beyond that by strtod (the C locale's "."
 * is the decimal point; nginx does not call setlocale).
 *
 * Pure C99, no allocation, no nginx headers.
 */

#ifndef NGX_CX_NUMBER_H
#define NGX_CX_NUMBER_H

#include <stddef.h>


#define NGX_CX_NUMBER_READ_MAX  256

/* Returns 1 and sets *out when s[0..len) is such a number, else 0. */
int ngx_cx_number_read(const char *s, size_t len, double *out);


#endif /* NGX_CX_NUMBER_H */
