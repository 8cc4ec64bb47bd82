/*
 * test_pattern.c -- ngx_cx_pattern's budget and limits. Its language is
 * checked against LuaJIT's own matcher by t/lua/test_pattern.lua.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_cx_pattern.h"


static const char *
run(const char *s, size_t slen, const char *p, long *budget, int *error)
{
    const char    *e, *src;
    ngx_cx_pat_t   ms;

    ngx_cx_pat_init(&ms, s, slen, p + strlen(p), budget);

    for (src = s; src <= s + slen; src++) {
        e = ngx_cx_pat_match(&ms, src, p);
        if (e != NULL || ms.error) {
            *error = ms.error;
            return e;
        }
    }

    *error = ms.error;
    return NULL;
}


static void
test_pattern_budget(void **state)
{
    int    error;
    long   budget;
    char   s[301];

    (void) state;

    memset(s, 'a', 300);
    s[300] = '\0';

    /* backtracking of the cubic kind: stopped by the budget */
    budget = 100000;
    assert_null(run(s, 300, "a-a-a-b", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_BUDGET);
    assert_true(budget < 0);

    /* a spent budget stops the next match at once */
    assert_null(run("ab", 2, "b", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_BUDGET);

    /* with room enough it runs to its end: no match, no error (on 300
     * characters that would take some 10^8 steps; 60 take 10^5) */
    budget = 100000000;
    assert_null(run(s, 60, "a-a-a-b", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_OK);
    assert_true(budget < 100000000 - 100000);

    /* an ordinary match costs a few steps */
    budget = 1000;
    assert_non_null(run("Mozilla/5.0 bot", 15, "[Bb]ot", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_OK);
    assert_true(budget > 900);

    /* %b over a long subject counts each character */
    budget = 50;
    memset(s, '(', 300);
    assert_null(run(s, 300, "%b()", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_BUDGET);
}


static void
test_pattern_limits(void **state)
{
    int    error, i;
    long   budget;
    char   p[2 * NGX_CX_PAT_MAXDEPTH + 8];

    (void) state;

    /* nesting deeper than the limit: an error, not a crash */
    for (i = 0; i < NGX_CX_PAT_MAXDEPTH + 2; i++) {
        p[i] = '(';
    }
    p[i] = '\0';
    budget = 1000000;
    assert_null(run("x", 1, p, &budget, &error));
    assert_true(error == NGX_CX_PAT_TOO_COMPLEX
                || error == NGX_CX_PAT_TOO_MANY_CAPTURES);

    budget = 1000000;
    assert_null(run("x", 1, "[a", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_MISSING_BRACKET);
    assert_string_equal(ngx_cx_pat_strerror(error),
                        "malformed pattern (missing ']')");

    assert_null(run("x", 1, "x%", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_ENDS_WITH_ESCAPE);

    assert_null(run("x", 1, "%1", &budget, &error));
    assert_int_equal(error, NGX_CX_PAT_BAD_CAPTURE_INDEX);

    assert_true(ngx_cx_pat_is_plain("bot", 3));
    assert_false(ngx_cx_pat_is_plain("b.t", 3));
    assert_false(ngx_cx_pat_is_plain("bot-", 4));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_pattern_budget),
        cmocka_unit_test(test_pattern_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
