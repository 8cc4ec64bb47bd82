/*
 * Helpers shared by the cmocka tests.  Include after cmocka.h.
 */

#ifndef _NGX_CX_UNIT_UTIL_H_INCLUDED_
#define _NGX_CX_UNIT_UTIL_H_INCLUDED_

#include <stdlib.h>
#include <string.h>


/*
 * A copy in its own heap block of exactly len bytes, so ASan sees
 * over-reads.  Not inlined: the compiler would then warn about sizes on
 * paths the tests never take.
 */

static __attribute__((noinline, unused)) unsigned char *
dup_exact(const unsigned char *p, size_t len)
{
    unsigned char  *q;

    q = malloc(len ? len : 1);
    assert_non_null(q);

    if (len) {
        memcpy(q, p, len);
    }

    return q;
}


/*
 * For the tables of cases: asserts like assert_int_equal() and
 * assert_true(), and on failure first names the case (its index in the
 * table and its description), since the line is the loop's for them all.
 */

#define assert_case_int_equal(a, b, i, name)                                 \
    case_int_equal((LargestIntegralType) (a), (LargestIntegralType) (b),    \
                   i, name, __FILE__, __LINE__)

#define assert_case_true(c, i, name)                                         \
    case_int_equal(!!(c), 1, i, name, __FILE__, __LINE__)


static __attribute__((unused)) void
case_int_equal(LargestIntegralType a, LargestIntegralType b, size_t i,
    const char *name, const char *file, int line)
{
    if (a != b) {
        print_message("%s:%d: case %zu (%s): %llu != %llu\n", file, line, i,
                      name ? name : "", (unsigned long long) a,
                      (unsigned long long) b);
    }

    _assert_int_equal(a, b, file, line);
}

#endif /* _NGX_CX_UNIT_UTIL_H_INCLUDED_ */
