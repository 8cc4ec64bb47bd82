/*
 * Unit tests for src/ngx_cx_search.c: the comment search of comments.json
 * (case folding per script, code points never bytes, invalid UTF-8 in the
 * text, the query's bounds, and KMP against a naive search).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_search.h"


/* whether text holds q, the text copied to its own block (ASan) */

static int
found(const char *q, const char *text, size_t text_len)
{
    int               r;
    unsigned char    *t;
    ngx_cx_search_t   s;

    assert_int_equal(ngx_cx_search_init(&s, (const unsigned char *) q,
                                        strlen(q)), 0);

    t = dup_exact((const unsigned char *) text, text_len);
    r = ngx_cx_search_in(&s, t, text_len);
    free(t);

    return r;
}

#define FOUND(q, text)  found(q, text, strlen(text))


static void
test_ascii_case(void **state)
{
    (void) state;

    assert_true(FOUND("slow", "Checkout was SLOW today"));
    assert_true(FOUND("SLOW", "checkout was slow"));
    assert_true(FOUND("Was Slow", "checkout was slow"));
    assert_true(FOUND("c", "C"));
    assert_true(FOUND("today", "Checkout was SLOW today"));
    assert_false(FOUND("slowly", "checkout was slow"));
    assert_false(FOUND("fast", "checkout was slow"));
    assert_false(FOUND("x", ""));
    /* only letters fold: "@" (0x40) is not "`" (0x60), "[" not "{" */
    assert_false(FOUND("@", "`"));
    assert_false(FOUND("[", "{"));
}


static void
test_scripts_fold(void **state)
{
    (void) state;

    static const struct {
        const char  *q;
        const char  *text;
    } yes[] = {
        { "g\xc3\xbczel", "G\xc3\x9c" "ZEL" },               /* Latin-1 */
        { "\xc3\xa9t\xc3\xa9", "\xc3\x89T\xc3\x89" },         /* été ÉTÉ */
        { "\xc3\xbf", "\xc5\xb8" },                           /* ÿ Ÿ */
        { "\xc5\x82\xc3\xb3" "d\xc5\xba", "\xc5\x81\xc3\x93" "D\xc5\xb9" },
                                                              /* łódź */
        { "\xc4\x9f", "\xc4\x9e" },                           /* ğ Ğ */
        { "istanbul", "\xc4\xb0stanbul" },                    /* İstanbul */
        { "kapi", "KAPI" },
        { "kap\xc4\xb1", "KAPI" },                            /* kapı */
        { "\xce\xb1\xce\xb8\xce\xae\xce\xbd\xce\xb1",         /* αθήνα */
          "\xce\x91\xce\x98\xce\x89\xce\x9d\xce\x91" },       /* ΑΘΉΝΑ */
        { "\xcf\x83", "\xcf\x82" },                           /* σ ς */
        { "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", /* москва */
          "\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90" },
        { "\xd1\x91", "\xd0\x81" },                           /* ё Ё */
        { "\xd2\x91", "\xd2\x90" },                           /* ґ Ґ */
        { "\xd5\xa1", "\xd4\xb1" },                           /* Armenian */
        { "vi\xe1\xbb\x87t", "VI\xe1\xbb\x86T" },             /* việt */
        { "\xc3\x9f", "\xe1\xba\x9e" },                       /* ß ẞ */
        { "\xce\xbc", "\xc2\xb5" },                           /* μ µ */
        { "\xe2\x98\xb9", "sad \xe2\x98\xb9 face" },          /* ☹ */
        { "\xf0\x9f\x98\x80", "a \xf0\x9f\x98\x80 b" },       /* 😀 */
    };

    static const struct {
        const char  *q;
        const char  *text;
    } no[] = {
        { "e", "\xc3\xa9" },                    /* no accent stripping */
        { "\xc3\xa9", "e\xcc\x81" },            /* nor normalisation */
        { "\xc3\x97", "\xc3\xb7" },             /* × is not ÷ */
        { "\xc4\xb8", "K" },                    /* kra has no capital */
        { "ss", "\xc3\x9f" },                   /* simple folding only */
    };

    size_t  i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_case_true(FOUND(yes[i].q, yes[i].text), i, yes[i].q);
        assert_case_true(FOUND(yes[i].text, yes[i].q)
                         || strcmp(yes[i].q, "\xe2\x98\xb9") == 0
                         || strcmp(yes[i].q, "\xf0\x9f\x98\x80") == 0,
                         i, "both ways");
    }

    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_case_true(!FOUND(no[i].q, no[i].text), i, no[i].q);
    }
}


/* a query never matches part of a character, nor across two */

static void
test_code_points_not_bytes(void **state)
{
    ngx_cx_search_t  s;

    (void) state;

    /* "é" is C3 A9; "é" and "©" (C2 A9) share their last byte */
    assert_false(FOUND("\xc2\xa9", "\xc3\xa9"));

    /* a text of invalid bytes: each is its own unit, matched by nothing */
    assert_false(found("a", "\xff\xfe", 2));
    assert_true(found("ab", "\xff" "aB\xfe", 4));
    assert_false(found("ab", "a\xff" "b", 3));
    /* a truncated sequence, then the letter */
    assert_true(found("a", "\xe2\x82" "A", 3));
    /* U+FFFD in a query does not match an invalid byte */
    assert_false(found("\xef\xbf\xbd", "\xff", 1));
    /* NUL is a code point like another */
    assert_true(found("b", "a\0B", 3));

    /* queries: valid UTF-8, 1..100 code points */
    assert_int_equal(ngx_cx_search_init(&s, (const unsigned char *) "", 0), -1);
    assert_int_equal(ngx_cx_search_init(&s, (const unsigned char *) "\xff", 1),
                     -1);
    assert_int_equal(ngx_cx_search_init(&s, (const unsigned char *) "a\xc3",
                                        2), -1);
    assert_int_equal(ngx_cx_search_init(&s,                     /* overlong */
                                        (const unsigned char *) "\xc0\xaf",
                                        2), -1);
    assert_int_equal(ngx_cx_search_init(&s,                     /* surrogate */
                                        (const unsigned char *) "\xed\xa0\x80",
                                        3), -1);
}


static void
test_query_length(void **state)
{
    char             q[4 * NGX_CX_SEARCH_MAX + 4];
    size_t           i;
    ngx_cx_search_t  s;

    (void) state;

    /* 100 code points of 4 bytes each: the longest query */
    for (i = 0; i < NGX_CX_SEARCH_MAX; i++) {
        memcpy(q + 4 * i, "\xf0\x9f\x98\x80", 4);
    }

    assert_int_equal(ngx_cx_search_init(&s, (unsigned char *) q,
                                        4 * NGX_CX_SEARCH_MAX), 0);
    assert_int_equal(s.n, NGX_CX_SEARCH_MAX);
    assert_true(ngx_cx_search_in(&s, (unsigned char *) q,
                                 4 * NGX_CX_SEARCH_MAX));

    q[4 * NGX_CX_SEARCH_MAX] = 'x';
    assert_int_equal(ngx_cx_search_init(&s, (unsigned char *) q,
                                        4 * NGX_CX_SEARCH_MAX + 1), -1);

    memset(q, 'a', NGX_CX_SEARCH_MAX + 1);
    assert_int_equal(ngx_cx_search_init(&s, (unsigned char *) q,
                                        NGX_CX_SEARCH_MAX), 0);
    assert_int_equal(ngx_cx_search_init(&s, (unsigned char *) q,
                                        NGX_CX_SEARCH_MAX + 1), -1);
}


/* KMP agrees with the obvious search on every small text and query */

static int
naive(const char *q, size_t qn, const char *t, size_t tn)
{
    size_t  i, j;

    for (i = 0; i + qn <= tn; i++) {
        for (j = 0; j < qn; j++) {
            if ((t[i + j] | 0x20) != (q[j] | 0x20)) {
                break;
            }
        }

        if (j == qn) {
            return 1;
        }
    }

    return 0;
}


static void
test_kmp_against_naive(void **state)
{
    char             q[6], t[10];
    size_t           qn, tn, i, n;
    unsigned         qb, tb;
    ngx_cx_search_t  s;

    (void) state;

    n = 0;

    /* every query of 1..5 letters and text of 0..9 over {a, B} */
    for (qn = 1; qn <= 5; qn++) {
        for (qb = 0; qb < (1u << qn); qb++) {
            for (i = 0; i < qn; i++) {
                q[i] = (qb >> i) & 1 ? 'B' : 'a';
            }

            assert_int_equal(ngx_cx_search_init(&s, (unsigned char *) q, qn),
                             0);

            for (tn = 0; tn <= 9; tn++) {
                for (tb = 0; tb < (1u << tn); tb++) {
                    for (i = 0; i < tn; i++) {
                        t[i] = (tb >> i) & 1 ? 'b' : 'A';
                    }

                    assert_int_equal(ngx_cx_search_in(&s, (unsigned char *) t,
                                                      tn),
                                     naive(q, qn, t, tn));
                    n++;
                }
            }
        }
    }

    assert_true(n > 60000);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_ascii_case),
        cmocka_unit_test(test_scripts_fold),
        cmocka_unit_test(test_code_points_not_bytes),
        cmocka_unit_test(test_query_length),
        cmocka_unit_test(test_kmp_against_naive),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
