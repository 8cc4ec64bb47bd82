/*
 * Unit tests for src/ngx_cx_score.c: scales, bands, tallies and the NPS,
 * CSAT and CES scores, checked against hand-computed values.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_score.h"


/* cmocka 1.1's assert_float_equal narrows to float; this stays in double */
#define assert_near(a, b, eps)                                               \
    assert_true((a) - (b) <= (eps) && (b) - (a) <= (eps))


/* a fresh tally of the type with the n scores added */

static void
tally_of(ngx_cx_tally_t *t, int type, const int *scores, size_t n)
{
    size_t  i;

    ngx_cx_tally_init(t, type);

    for (i = 0; i < n; i++) {
        assert_int_equal(ngx_cx_tally_add(t, scores[i]), 0);
    }

    assert_true(t->answered == n);
}


/* the score of a short list of answers: exact, or else within eps */

typedef struct {
    const char  *name;
    int          type;
    int          scores[8];
    size_t       n;
    double       score;
    double       eps;
} score_case_t;


static void
test_score_cases(void **state)
{
    static const score_case_t  cases[] = {
        { "NPS 0..6", NGX_CX_TYPE_NPS, { 0, 1, 2, 3, 4, 5, 6 }, 7, -100.0, 0 },
        { "NPS promoters", NGX_CX_TYPE_NPS, { 9, 10 }, 2, 100.0, 0 },
        { "NPS passives", NGX_CX_TYPE_NPS, { 7, 8, 8 }, 3, 0.0, 0 },
        /* detractors outnumber promoters: must go negative, not wrap */
        { "NPS negative", NGX_CX_TYPE_NPS, { 10, 1, 2, 3 }, 4, -50.0, 0 },
        { "CSAT none", NGX_CX_TYPE_CSAT, { 1, 2, 3 }, 3, 0.0, 0 },
        { "CSAT 2 of 3", NGX_CX_TYPE_CSAT, { 4, 5, 3 }, 3, 200.0 / 3.0,
          1e-12 },
        /* (1 + 2 + 7 + 7) / 4 */
        { "CES 4.25", NGX_CX_TYPE_CES, { 1, 2, 7, 7 }, 4, 4.25, 0 },
        { "CES one", NGX_CX_TYPE_CES, { 3 }, 1, 3.0, 0 },
        /* (1 + 2 + 2) / 3 */
        { "CES 5/3", NGX_CX_TYPE_CES, { 1, 2, 2 }, 3, 5.0 / 3.0, 1e-12 },
    };

    size_t               i;
    double               got;
    ngx_cx_tally_t       t;
    const score_case_t  *c;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];

        tally_of(&t, c->type, c->scores, c->n);
        got = ngx_cx_tally_score(&t);

        if (c->eps == 0) {
            assert_case_true(got == c->score, i, c->name);

        } else {
            assert_case_true(got - c->score <= c->eps
                             && c->score - got <= c->eps, i, c->name);
        }
    }
}


static void
test_nps_hand_computed(void **state)
{
    /* 5 promoters, 3 passives, 2 detractors: 50% - 20% = 30 */
    static const int  scores[] = { 9, 10, 10, 9, 10, 7, 8, 8, 0, 6 };

    uint64_t        pro, pas, det;
    ngx_cx_tally_t  t;

    (void) state;

    tally_of(&t, NGX_CX_TYPE_NPS, scores, 10);

    assert_true(t.dist[0] == 1 && t.dist[6] == 1 && t.dist[7] == 1);
    assert_true(t.dist[8] == 2 && t.dist[9] == 2 && t.dist[10] == 3);

    ngx_cx_tally_nps_groups(&t, &pro, &pas, &det);
    assert_true(pro == 5);
    assert_true(pas == 3);
    assert_true(det == 2);

    assert_true(ngx_cx_tally_score(&t) == 30.0);

    /* one more detractor: (5 - 3) / 11 * 100 */
    assert_int_equal(ngx_cx_tally_add(&t, 3), 0);
    assert_near(ngx_cx_tally_score(&t), 200.0 / 11.0, 1e-12);

    /* groups tolerate NULL outputs */
    ngx_cx_tally_nps_groups(&t, NULL, &pas, NULL);
    assert_true(pas == 3);
}


static void
test_csat_hand_computed(void **state)
{
    /* 4s and 5s: 5 of 8 = 62.5% */
    static const int  scores[] = { 5, 4, 3, 2, 1, 5, 4, 4 };

    uint64_t        pro, pas, det;
    ngx_cx_tally_t  t;

    (void) state;

    tally_of(&t, NGX_CX_TYPE_CSAT, scores, 8);

    assert_true(ngx_cx_tally_score(&t) == 62.5);

    /* NPS groups mean nothing for CSAT */
    pro = pas = det = 99;
    ngx_cx_tally_nps_groups(&t, &pro, &pas, &det);
    assert_true(pro == 0 && pas == 0 && det == 0);
}


static void
test_ces_mean(void **state)
{
    ngx_cx_tally_t  t;

    (void) state;

    /* huge counts: no integer overflow in score * count */
    ngx_cx_tally_init(&t, NGX_CX_TYPE_CES);
    t.dist[7] = UINT64_MAX / 2;
    t.dist[1] = UINT64_MAX / 2;
    t.answered = t.dist[1] + t.dist[7];
    assert_near(ngx_cx_tally_score(&t), 4.0, 1e-9);
}


static void
test_empty_tallies(void **state)
{
    uint64_t        pro, pas, det;
    ngx_cx_tally_t  t;

    (void) state;

    ngx_cx_tally_init(&t, NGX_CX_TYPE_NPS);
    assert_true(ngx_cx_tally_score(&t) == 0.0);
    ngx_cx_tally_nps_groups(&t, &pro, &pas, &det);
    assert_true(pro == 0 && pas == 0 && det == 0);

    ngx_cx_tally_init(&t, NGX_CX_TYPE_CSAT);
    assert_true(ngx_cx_tally_score(&t) == 0.0);

    ngx_cx_tally_init(&t, NGX_CX_TYPE_CES);
    assert_true(ngx_cx_tally_score(&t) == 0.0);

    /* init clears a used tally */
    tally_of(&t, NGX_CX_TYPE_CES, (const int[]) { 5, 6 }, 2);
    ngx_cx_tally_init(&t, NGX_CX_TYPE_NPS);
    assert_int_equal(t.type, NGX_CX_TYPE_NPS);
    assert_true(t.answered == 0);
    assert_true(t.dist[5] == 0 && t.dist[6] == 0);
}


static void
expect_refused(unsigned char type, int score)
{
    ngx_cx_tally_t  t, before;

    ngx_cx_tally_init(&t, type);
    before = t;

    assert_int_equal(ngx_cx_tally_add(&t, score), -1);
    assert_memory_equal(&t, &before, sizeof(t));
}


static void
test_out_of_range_refused(void **state)
{
    (void) state;

    expect_refused(NGX_CX_TYPE_NPS, -1);
    expect_refused(NGX_CX_TYPE_NPS, 11);
    expect_refused(NGX_CX_TYPE_NPS, INT_MIN);
    expect_refused(NGX_CX_TYPE_NPS, INT_MAX);
    expect_refused(NGX_CX_TYPE_CSAT, 0);
    expect_refused(NGX_CX_TYPE_CSAT, 6);
    expect_refused(NGX_CX_TYPE_CES, 0);
    expect_refused(NGX_CX_TYPE_CES, 8);
    expect_refused(NGX_CX_TYPE_CES, 10);

    /* a tally of an unknown type refuses everything and scores 0 */
    expect_refused(0, 0);
    expect_refused(0, 5);
    expect_refused(4, 1);

    {
        ngx_cx_tally_t  t;

        ngx_cx_tally_init(&t, 9);
        t.answered = 3;
        t.dist[1] = 3;
        assert_true(ngx_cx_tally_score(&t) == 0.0);
    }
}


static void
test_score_valid(void **state)
{
    (void) state;

    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_NPS, 0), 1);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_NPS, 10), 1);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_NPS, -1), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_NPS, 11), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CSAT, 1), 1);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CSAT, 5), 1);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CSAT, 0), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CSAT, 6), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CES, 1), 1);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CES, 7), 1);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CES, 0), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CES, 8), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_NPS, LONG_MAX), 0);
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_NPS, LONG_MIN), 0);

    /* a long that would become 5 if narrowed to int is still refused */
    assert_int_equal(ngx_cx_score_valid(NGX_CX_TYPE_CSAT,
                                        (long) (((unsigned long) 1
                                                 << (sizeof(long) * 8 - 2))
                                                + 5)), 0);

    assert_int_equal(ngx_cx_score_valid(0, 0), 0);
    assert_int_equal(ngx_cx_score_valid(4, 1), 0);
}


static void
test_type_names(void **state)
{
    (void) state;

    assert_int_equal(ngx_cx_type_from_name("nps", 3), NGX_CX_TYPE_NPS);
    assert_int_equal(ngx_cx_type_from_name("csat", 4), NGX_CX_TYPE_CSAT);
    assert_int_equal(ngx_cx_type_from_name("ces", 3), NGX_CX_TYPE_CES);
    assert_int_equal(ngx_cx_type_from_name("NPS", 3), NGX_CX_TYPE_NPS);
    assert_int_equal(ngx_cx_type_from_name("CSat", 4), NGX_CX_TYPE_CSAT);

    /* exactly len bytes: a longer buffer is cut, a prefix is not a match */
    assert_int_equal(ngx_cx_type_from_name("npsx", 3), NGX_CX_TYPE_NPS);
    assert_int_equal(ngx_cx_type_from_name("npsx", 4), 0);
    assert_int_equal(ngx_cx_type_from_name("np", 2), 0);
    assert_int_equal(ngx_cx_type_from_name("cs", 2), 0);
    assert_int_equal(ngx_cx_type_from_name("csa", 3), 0);
    assert_int_equal(ngx_cx_type_from_name("ces\0", 4), 0);
    assert_int_equal(ngx_cx_type_from_name("nqs", 3), 0);
    assert_int_equal(ngx_cx_type_from_name("", 0), 0);
    assert_int_equal(ngx_cx_type_from_name(NULL, 0), 0);

    assert_string_equal(ngx_cx_type_name(NGX_CX_TYPE_NPS), "nps");
    assert_string_equal(ngx_cx_type_name(NGX_CX_TYPE_CSAT), "csat");
    assert_string_equal(ngx_cx_type_name(NGX_CX_TYPE_CES), "ces");
    assert_string_equal(ngx_cx_type_name(0), "unknown");
    assert_string_equal(ngx_cx_type_name(255), "unknown");
}


static void
test_score_range(void **state)
{
    int  lo, hi;

    (void) state;

    assert_int_equal(ngx_cx_score_range(NGX_CX_TYPE_NPS, &lo, &hi), 11);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 10);

    assert_int_equal(ngx_cx_score_range(NGX_CX_TYPE_CSAT, &lo, &hi), 5);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 5);

    assert_int_equal(ngx_cx_score_range(NGX_CX_TYPE_CES, &lo, &hi), 7);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 7);

    lo = hi = -42;
    assert_int_equal(ngx_cx_score_range(0, &lo, &hi), 0);
    assert_int_equal(ngx_cx_score_range(4, &lo, &hi), 0);
    assert_int_equal(lo, -42);
    assert_int_equal(hi, -42);

    assert_int_equal(ngx_cx_score_range(NGX_CX_TYPE_CES, NULL, NULL), 7);
}


/* bands (README: the alerts' band=, the exports' band column) */
static void
test_bands(void **state)
{
    static const struct { unsigned char type; int score, band; } cases[] = {
        { NGX_CX_TYPE_NPS, 0, NGX_CX_BAND_DETRACTOR },
        { NGX_CX_TYPE_NPS, 6, NGX_CX_BAND_DETRACTOR },
        { NGX_CX_TYPE_NPS, 7, NGX_CX_BAND_PASSIVE },
        { NGX_CX_TYPE_NPS, 8, NGX_CX_BAND_PASSIVE },
        { NGX_CX_TYPE_NPS, 9, NGX_CX_BAND_PROMOTER },
        { NGX_CX_TYPE_NPS, 10, NGX_CX_BAND_PROMOTER },
        { NGX_CX_TYPE_NPS, 11, 0 },
        { NGX_CX_TYPE_NPS, -1, 0 },
        { NGX_CX_TYPE_CSAT, 1, NGX_CX_BAND_DETRACTOR },
        { NGX_CX_TYPE_CSAT, 2, NGX_CX_BAND_DETRACTOR },
        { NGX_CX_TYPE_CSAT, 3, NGX_CX_BAND_PASSIVE },
        { NGX_CX_TYPE_CSAT, 4, NGX_CX_BAND_PROMOTER },
        { NGX_CX_TYPE_CSAT, 0, 0 },
        { NGX_CX_TYPE_CSAT, 6, 0 },
        { NGX_CX_TYPE_CES, 3, NGX_CX_BAND_DETRACTOR },
        { NGX_CX_TYPE_CES, 4, NGX_CX_BAND_PASSIVE },
        { NGX_CX_TYPE_CES, 5, NGX_CX_BAND_PASSIVE },
        { NGX_CX_TYPE_CES, 6, NGX_CX_BAND_PROMOTER },
        { NGX_CX_TYPE_CES, 8, 0 },
        { 9, 5, 0 },
    };
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_case_int_equal(ngx_cx_band(cases[i].type, cases[i].score),
                              cases[i].band, i, "band");
    }

    assert_string_equal(ngx_cx_band_name(NGX_CX_BAND_PASSIVE), "passive");
    assert_string_equal(ngx_cx_band_name(0), "");
}



int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_nps_hand_computed),
        cmocka_unit_test(test_score_cases),
        cmocka_unit_test(test_csat_hand_computed),
        cmocka_unit_test(test_ces_mean),
        cmocka_unit_test(test_empty_tallies),
        cmocka_unit_test(test_out_of_range_refused),
        cmocka_unit_test(test_score_valid),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_score_range),
        cmocka_unit_test(test_bands),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
