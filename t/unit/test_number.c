/*
 * test_number.c -- ngx_cx_number_read: what it accepts (the lists of
 * t/lua/test_util.lua for cx.util.number), and that its value is the
 * nearest double, as strtod (and Lua's tonumber) give it; and
 * ngx_cx_number_write: what it writes is what "%.14g" writes.
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


/* ngx_cx_number_write: what it writes is what "%.14g" writes; else 0 */

static void
number_is(double x, const char *want)
{
    char    buf[NGX_CX_NUMBER_WRITE_SIZE], ref[64];
    size_t  n;

    n = ngx_cx_number_write(buf, x);

    if (want == NULL) {
        assert_int_equal(n, 0);
        return;
    }

    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);

    /* below 1e14 it is exactly Lua's tostring, "%.14g" (but -0 is 0) */
    if (x > -1e14 && x < 1e14 && !(x == 0 && signbit(x))) {
        snprintf(ref, sizeof(ref), "%.14g", x);
        assert_string_equal(ref, want);
    }
}


static void
test_number_write(void **state)
{
    uint64_t  seed;
    double    x, p10[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };
    char      buf[NGX_CX_NUMBER_WRITE_SIZE], ref[64];
    size_t    n;
    int       i, k, fast;
    int64_t   m;

    (void) state;

    number_is(0, "0");
    number_is(-0.0, "0");
    number_is(42, "42");
    number_is(-7, "-7");
    number_is(1893456000, "1893456000");
    number_is(99999999999999.0, "99999999999999");
    number_is(1e14, "100000000000000");           /* "%.14g": 1e+14 */
    number_is(-999999999999999.0, "-999999999999999");
    number_is(1e15, NULL);
    number_is(1.5, "1.5");
    number_is(129.9, "129.9");
    number_is(129.95, "129.95");
    number_is(0.1, "0.1");
    number_is(-0.25, "-0.25");
    number_is(0.0001, "0.0001");
    number_is(0.00012, "0.00012");
    number_is(123456.789012, "123456.789012");
    number_is(12345678901.234, "12345678901.234");   /* 14 digits */
    number_is(123456789012.345, NULL);               /* 15 */
    number_is(0.1234567, NULL);                      /* 7 places */
    number_is(1.0 / 3, NULL);
    number_is(0.00005, NULL);                        /* "%.14g": 5e-05 */
    number_is(1e300, NULL);
    number_is(-1e300, NULL);
    number_is(1.0 / 0.0, NULL);
    number_is(-1.0 / 0.0, NULL);
    number_is(0.0 / 0.0, NULL);

    /* decimals of up to 6 places and 14 digits, and doubles near them */
    seed = 0x2545f4914f6cdd1dULL;
    fast = 0;

    for (i = 0; i < 200000; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        k = (int) (seed % 7);
        m = (int64_t) ((seed >> 8) % 100000000000000ULL) >> (seed >> 3 & 31);
        x = (double) m / p10[k];
        if (seed & 1) {
            x = -x;
        }
        if (seed & 2) {
            x = nextafter(x, 1e300);              /* not a short decimal */
        }

        n = ngx_cx_number_write(buf, x);
        if (n == 0) {
            continue;
        }

        fast++;
        snprintf(ref, sizeof(ref), "%.14g", x);
        if (x > -1e14 && x < 1e14) {
            assert_int_equal(n, strlen(ref));
            assert_memory_equal(buf, ref, n);
        }
    }

    /* most of them take the fast way */
    assert_true(fast > 100000);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_number_good),
        cmocka_unit_test(test_number_bad),
        cmocka_unit_test(test_number_nearest),
        cmocka_unit_test(test_number_write),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
