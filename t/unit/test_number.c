/*
 * test_number.c -- ngx_cx_number_read: what it accepts (the lists of
 * t/lua/test_util.lua for cx.util.number), and that its value is the
 * nearest double, as strtod (and Lua's tonumber) give it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "ngx_cx_number.h"


static int
reads(const char *s, double *x)
{
    return ngx_cx_number_read(s, strlen(s), x);
}


static void
test_number_good(void **state)
{
    static const struct { const char *s; double want; }  good[] = {
        { "42", 42 }, { "-3", -3 }, { "+5", 5 }, { "1234.50", 1234.5 },
        { ".5", 0.5 }, { "7.", 7 }, { " 12 ", 12 }, { "007", 7 }, { "0", 0 },
        { "\t129.90\t", 129.9 }, { "-.5", -0.5 }, { "129.90", 129.9 },
        { "0.1", 0.1 }, { "999999999999999", 999999999999999.0 },
        { "1234567890123456789", 1234567890123456789.0 },
        { "0.30000000000000004", 0.30000000000000004 },
    };

    size_t  i;
    double  x;

    (void) state;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        x = -1;
        assert_int_equal(reads(good[i].s, &x), 1);
        assert_true(x == good[i].want);
    }

    assert_int_equal(reads("-0.0", &x), 1);
    assert_true(x == 0 && signbit(x));
    assert_int_equal(reads("0.00", &x), 1);
    assert_true(x == 0 && !signbit(x));
}


static void
test_number_bad(void **state)
{
    static const char  *bad[] = {
        "1,234.50", "$12", "12 EUR", "1e3", "0x10", "inf", "-inf", "nan", "",
        " ", ".", "-", "1.2.3", "--1", "1 2", "12abc", "\n12\n", "+", "+.",
        "-.", "1 .5", "12.5x", "x12.5", "1e309", "+-1",
    };

    size_t  i;
    char    nines[401];
    double  x;

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(reads(bad[i], &x), 0);
    }

    /* a NUL inside the given length is not a digit */
    assert_int_equal(ngx_cx_number_read("1\0" "2", 3, &x), 0);

    /* 400 nines: over the length limit (and infinite) */
    memset(nines, '9', 400);
    nines[400] = '\0';
    assert_int_equal(reads(nines, &x), 0);

    /* 256 bytes is the limit */
    memset(nines, ' ', 255);
    nines[255] = '7';
    assert_int_equal(ngx_cx_number_read(nines, 256, &x), 1);
    assert_true(x == 7);
    assert_int_equal(ngx_cx_number_read(nines, 257, &x), 0);
}


/* random decimals of 1 to 19 digits: the value strtod gives */
static void
test_number_nearest(void **state)
{
    int       i, n, point, d;
    char      s[32];
    double    x;
    uint64_t  seed;

    (void) state;

    seed = 0x9e3779b97f4a7c15ULL;

    for (i = 0; i < 300000; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;

        n = 1 + (int) (seed % 19);
        point = (int) ((seed >> 8) % (uint64_t) (n + 1));

        d = 0;
        if (seed >> 20 & 1) {
            s[d++] = '-';
        }

        for (int j = 0; j < n; j++) {
            if (j == point) {
                s[d++] = '.';
            }
            s[d++] = (char) ('0' + (seed >> (24 + j * 2 % 40)) % 10);
        }
        s[d] = '\0';

        assert_int_equal(reads(s, &x), 1);
        if (x != strtod(s, NULL)) {
            fail_msg("\"%s\": %.17g, strtod %.17g", s, x, strtod(s, NULL));
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_number_good),
        cmocka_unit_test(test_number_bad),
        cmocka_unit_test(test_number_nearest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
