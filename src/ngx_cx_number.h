/*
 * ngx_cx_number -- numbers as text for the Lua hooks: reading a decimal
 * strictly, as cx.util.number does (lua/cx/util.lua), for hooks that read
 * an order total or a count from a header; and writing an attribute's
 * number as Lua prints it, without its slow formatting.
 *
 * Reading. Accepted: after spaces and tabs are trimmed from both ends, an
 * optional sign, decimal digits and at most one decimal point, with at
 * least one digit: "42", "-3", "+5", "1234.50", ".5", "7.". Nothing else: no
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

/* Room ngx_cx_number_write needs: "-99999999999999.9", or 15 digits. */
#define NGX_CX_NUMBER_WRITE_SIZE  24

/*
 * Writes a number (a hook's attribute value) as Lua prints it ("%.14g")
 * for the common cases, without a printf: whole numbers of magnitude
 * below 1e15 (as plain digits: from 1e14 on, "%.14g" would write an
 * exponent; -0 is "0"), and decimals of up to 6 places and 14 significant
 * digits, 0.0001 or more in magnitude ("129.9", "-0.25"). Returns the
 * length written to buf (no NUL), or 0 when x is none of those (the
 * caller formats it the slow way).
 */
size_t ngx_cx_number_write(char buf[NGX_CX_NUMBER_WRITE_SIZE], double x);


#endif /* NGX_CX_NUMBER_H */
