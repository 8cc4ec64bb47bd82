/*
 * Unit tests for src/ngx_cx_color.c: the accent colour's syntax and the
 * WCAG contrast ratio that cx_survey color is checked with.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_cx_color.h"


static void
test_parse(void **state)
{
    uint32_t  rgb;

    (void) state;

    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#2457d6", 7,
                                        &rgb), 0);
    assert_int_equal(rgb, 0x2457d6);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#ABCDEF", 7,
                                        &rgb), 0);
    assert_int_equal(rgb, 0xabcdef);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#f80", 4,
                                        &rgb), 0);
    assert_int_equal(rgb, 0xff8800);

    /* not colours, or not in these forms */
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "2457d6", 6,
                                        &rgb), -1);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#2457d", 6,
                                        &rgb), -1);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#2457dg", 7,
                                        &rgb), -1);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#2457d6ff",
                                        9, &rgb), -1);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "red", 3,
                                        &rgb), -1);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "#", 1,
                                        &rgb), -1);
    assert_int_equal(ngx_cx_color_parse((const unsigned char *) "", 0,
                                        &rgb), -1);
}


static void
test_contrast(void **state)
{
    (void) state;

    /* the ends of the scale, either order */
    assert_int_equal(ngx_cx_contrast(0x000000, 0xffffff), 2100);
    assert_int_equal(ngx_cx_contrast(0xffffff, 0x000000), 2100);
    assert_int_equal(ngx_cx_contrast(0x2457d6, 0x2457d6), 100);

    /* #767676 is the lightest grey with AA contrast on white (4.54:1),
     * #777777 just misses it (4.48:1) */
    assert_int_equal(ngx_cx_contrast(0x767676, 0xffffff), 454);
    assert_int_equal(ngx_cx_contrast(0x777777, 0xffffff), 447);
    assert_true(ngx_cx_contrast(0x767676, 0xffffff) >= NGX_CX_CONTRAST_AA);
    assert_true(ngx_cx_contrast(0x777777, 0xffffff) < NGX_CX_CONTRAST_AA);

    /* the widget's own accent passes; a yellow does not (1.07:1) */
    assert_true(ngx_cx_contrast(0x2457d6, 0xffffff) >= NGX_CX_CONTRAST_AA);
    assert_int_equal(ngx_cx_contrast(0xffff00, 0xffffff), 107);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_contrast),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
