/*
 * Unit tests of src/ngx_cx_device.c: the device class of real User-Agents.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_cx_device.h"


static unsigned
device(const char *ua)
{
    return ngx_cx_device_from_ua((const unsigned char *) ua, strlen(ua));
}


static void
test_mobile(void **state)
{
    (void) state;

    /* iPhone Safari, Android Chrome, Firefox on Android, an Android tablet
     * (no "Mobile"), iPad Safari, Samsung Internet */
    assert_int_equal(device("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
                            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
                            "Mobile/15E148 Safari/604.1"), NGX_CX_DEVICE_MOBILE);
    assert_int_equal(device("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"),
                     NGX_CX_DEVICE_MOBILE);
    assert_int_equal(device("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 "
                            "Firefox/127.0"), NGX_CX_DEVICE_MOBILE);
    assert_int_equal(device("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"),
                     NGX_CX_DEVICE_MOBILE);
    assert_int_equal(device("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) "
                            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
                            "Mobile/15E148 Safari/604.1"), NGX_CX_DEVICE_MOBILE);
}


static void
test_desktop(void **state)
{
    (void) state;

    assert_int_equal(device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"),
                     NGX_CX_DEVICE_DESKTOP);
    assert_int_equal(device("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
                            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
                            "Safari/605.1.15"), NGX_CX_DEVICE_DESKTOP);
    assert_int_equal(device("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 "
                            "Firefox/127.0"), NGX_CX_DEVICE_DESKTOP);
    assert_int_equal(device("curl/7.88.1"), NGX_CX_DEVICE_DESKTOP);
    /* case matters: "mobile" in a product token is not the marker */
    assert_int_equal(device("automobile-crawler/1.0"), NGX_CX_DEVICE_DESKTOP);
    /* a word cut at the end is not there */
    assert_int_equal(device("X Mob"), NGX_CX_DEVICE_DESKTOP);
    assert_int_equal(device("X Mobi"), NGX_CX_DEVICE_MOBILE);
}


static void
test_unknown_and_names(void **state)
{
    (void) state;

    assert_int_equal(ngx_cx_device_from_ua(NULL, 0), NGX_CX_DEVICE_UNKNOWN);
    assert_string_equal(ngx_cx_device_name(NGX_CX_DEVICE_MOBILE), "mobile");
    assert_string_equal(ngx_cx_device_name(NGX_CX_DEVICE_DESKTOP), "desktop");
    assert_string_equal(ngx_cx_device_name(NGX_CX_DEVICE_UNKNOWN), "");
    assert_string_equal(ngx_cx_device_name(200), "");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_mobile),
        cmocka_unit_test(test_desktop),
        cmocka_unit_test(test_unknown_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
