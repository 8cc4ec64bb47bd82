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

#endif /* _NGX_CX_UNIT_UTIL_H_INCLUDED_ */
