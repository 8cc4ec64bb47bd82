/*
 * Unit tests for src/ngx_cx_alert.c: the conditions of cx_alert rules, the
 * alert and delivery codecs, backoff and which answers retry.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_alert.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


static void
test_when_refused(void **state)
{
    static const char  *bad[] = {
        "", "scor<=3", "score", "score<=", "score<=x", "score<=11",
        "score<=-1", "score<=2.5", "score==3", "score~3", "band=angry",
        "band<detractor", "attr.", "attr.=5", "attr.a b=1", "attr.total",
        "attr.total>=", "comments", "Comment",
    };
    size_t          i;
    const char     *err;
    ngx_cx_when_t   w;

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        assert_case_int_equal(ngx_cx_when_parse((const unsigned char *) bad[i],
                                                strlen(bad[i]), &w, &err),
                              -1, i, bad[i]);
        assert_case_true(err != NULL && err[0] != '\0', i, bad[i]);
    }
}


/* an answered record with an attributes blob */

static ngx_cx_record_t
answered(unsigned char type, int score, const char *comment,
    const unsigned char *attrs, size_t attrs_len)
{
    ngx_cx_record_t  rec;

    memset(&rec, 0, sizeof(rec));
    rec.type = type;
    rec.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED;
    rec.score = score;
    rec.comment.data = (const unsigned char *) comment;
    rec.comment.len = comment ? strlen(comment) : 0;
    rec.attrs.data = attrs;
    rec.attrs.len = attrs_len;

    return rec;
}


static void
test_when_holds(void **state)
{
    /* order_total=120.50, tier=gold, order_total=99 repeated: last wins */
    static const unsigned char  attrs[] =
        "\x0b" "order_total" "\x06\x00" "120.50"
        "\x04" "tier" "\x04\x00" "gold";
    static const unsigned char  again[] =
        "\x0b" "order_total" "\x06\x00" "120.50"
        "\x0b" "order_total" "\x02\x00" "99";
    static const struct {
        const char  *when;
        int          type, score;
        const char  *comment;
        int          which;             /* 0 attrs, 1 again, 2 none */
        int          holds;
    } cases[] = {
        { "score<=6", NGX_CX_TYPE_NPS, 6, NULL, 0, 1 },
        { "score<=6", NGX_CX_TYPE_NPS, 7, NULL, 0, 0 },
        { "score>=9", NGX_CX_TYPE_NPS, 9, NULL, 0, 1 },
        { "score<3", NGX_CX_TYPE_CSAT, 2, NULL, 0, 1 },
        { "score>3", NGX_CX_TYPE_CSAT, 3, NULL, 0, 0 },
        { "score=0", NGX_CX_TYPE_NPS, 0, NULL, 0, 1 },
        { "score!=0", NGX_CX_TYPE_NPS, 0, NULL, 0, 0 },
        { "band=detractor", NGX_CX_TYPE_NPS, 3, NULL, 0, 1 },
        { "band=detractor", NGX_CX_TYPE_NPS, 7, NULL, 0, 0 },
        { "band=passive", NGX_CX_TYPE_CSAT, 3, NULL, 0, 1 },
        { "band!=promoter", NGX_CX_TYPE_CES, 6, NULL, 0, 0 },
        { "band=promoter", NGX_CX_TYPE_CES, 7, NULL, 0, 1 },
        { "comment", NGX_CX_TYPE_NPS, 3, "slow", 0, 1 },
        { "comment", NGX_CX_TYPE_NPS, 3, NULL, 0, 0 },
        { "attr.order_total>=100", NGX_CX_TYPE_NPS, 3, NULL, 0, 1 },
        { "attr.order_total>100.5", NGX_CX_TYPE_NPS, 3, NULL, 0, 1 },
        { "attr.order_total>=121", NGX_CX_TYPE_NPS, 3, NULL, 0, 0 },
        { "attr.order_total=120.5", NGX_CX_TYPE_NPS, 3, NULL, 0, 1 },
        { "attr.order_total>=100", NGX_CX_TYPE_NPS, 3, NULL, 1, 0 },
        { "attr.order_total<100", NGX_CX_TYPE_NPS, 3, NULL, 1, 1 },
        { "attr.order_total>=100", NGX_CX_TYPE_NPS, 3, NULL, 2, 0 },
        { "attr.order_total!=100", NGX_CX_TYPE_NPS, 3, NULL, 2, 1 },
        { "attr.tier=gold", NGX_CX_TYPE_NPS, 3, NULL, 0, 1 },
        { "attr.tier=golden", NGX_CX_TYPE_NPS, 3, NULL, 0, 0 },
        { "attr.tier!=silver", NGX_CX_TYPE_NPS, 3, NULL, 0, 1 },
        { "attr.tier>=gold", NGX_CX_TYPE_NPS, 3, NULL, 0, 0 },
        { "attr.tier>5", NGX_CX_TYPE_NPS, 3, NULL, 0, 0 },
    };
    size_t            i;
    const char       *err;
    ngx_cx_when_t     w;
    ngx_cx_record_t   rec;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err = NULL;
        assert_case_int_equal(ngx_cx_when_parse(
                                  (const unsigned char *) cases[i].when,
                                  strlen(cases[i].when), &w, &err),
                              0, i, cases[i].when);

        rec = answered((unsigned char) cases[i].type, cases[i].score,
                       cases[i].comment,
                       cases[i].which == 0 ? attrs
                       : cases[i].which == 1 ? again : NULL,
                       cases[i].which == 0 ? sizeof(attrs) - 1
                       : cases[i].which == 1 ? sizeof(again) - 1 : 0);

        assert_case_int_equal(ngx_cx_when_holds(&w, &rec), cases[i].holds,
                              i, cases[i].when);
    }

    /* no answer (a comment-only record): score and band never hold */
    rec = answered(NGX_CX_TYPE_NPS, 0, "x", NULL, 0);
    rec.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_COMMENTED;

    assert_int_equal(ngx_cx_when_parse(S("score<=10"), &w, &err), 0);
    assert_int_equal(ngx_cx_when_holds(&w, &rec), 0);
    assert_int_equal(ngx_cx_when_parse(S("band!=promoter"), &w, &err), 0);
    assert_int_equal(ngx_cx_when_holds(&w, &rec), 0);
}


static void
test_alert_codec(void **state)
{
    size_t            n, cut;
    unsigned char    *copy;
    unsigned char     key[NGX_CX_ALERT_KEY_LEN], val[NGX_CX_ALERT_VAL_MAX];
    unsigned char     id[NGX_CX_RESPONSE_KEY_LEN];
    ngx_cx_alert_t    a, b;

    (void) state;

    memset(id, 0xab, sizeof(id));
    memset(&a, 0, sizeof(a));
    ngx_cx_alert_key(a.key, id, 0x01020304);
    assert_memory_equal(a.key, id, sizeof(id));
    assert_memory_equal(a.key + 12, "\x01\x02\x03\x04", 4);

    /* retention reads the response's issue time (seconds) from the key */
    {
        uint64_t  ms = 7;

        assert_int_equal(ngx_cx_alert_key_ms(a.key, NGX_CX_ALERT_KEY_LEN,
                                             &ms), 0);
        assert_true(ms == 0xababababULL * 1000);
        ms = 7;
        assert_int_equal(ngx_cx_alert_key_ms(a.key, 12, &ms), -1);
        assert_true(ms == 7);
    }

    a.state = NGX_CX_ALERT_ACKNOWLEDGED;
    a.sent = 0x03;
    a.failed = 0x04;
    a.levels = 3;
    a.created_ms = 1765000000123ULL;
    a.acked_ms = 1765000060000ULL;
    a.resolved_ms = 0;
    a.rule.data = (const unsigned char *) "unhappy_big_order";
    a.rule.len = 17;

    n = ngx_cx_alert_encode(val, &a);
    assert_int_equal(n, NGX_CX_ALERT_VAL_MIN + 17);
    memcpy(key, a.key, sizeof(key));

    assert_int_equal(ngx_cx_alert_decode(key, sizeof(key), val, n, &b), 0);
    assert_memory_equal(b.key, a.key, sizeof(key));
    assert_int_equal(b.state, a.state);
    assert_int_equal(b.sent, a.sent);
    assert_int_equal(b.failed, a.failed);
    assert_int_equal(b.levels, 3);
    assert_true(b.created_ms == a.created_ms);
    assert_true(b.acked_ms == a.acked_ms);
    assert_true(b.resolved_ms == 0);
    assert_int_equal(b.rule.len, 17);
    assert_memory_equal(b.rule.data, "unhappy_big_order", 17);
    assert_string_equal(ngx_cx_alert_status(&b), "failed");

    /* every truncation, and every extension, is refused */
    for (cut = 0; cut < n; cut++) {
        copy = dup_exact(val, cut);     /* ASan sees a read past the cut */
        assert_case_int_equal(ngx_cx_alert_decode(key, sizeof(key), copy,
                                                  cut, &b),
                              -1, cut, "truncated alert");
        free(copy);
    }

    assert_int_equal(ngx_cx_alert_decode(key, sizeof(key) - 1, val, n, &b),
                     -1);

    val[0] = 2;
    assert_int_equal(ngx_cx_alert_decode(key, sizeof(key), val, n, &b), -1);
    val[0] = 1;
    val[1] = 3;
    assert_int_equal(ngx_cx_alert_decode(key, sizeof(key), val, n, &b), -1);
    val[1] = 0;
    val[4] = 0;
    assert_int_equal(ngx_cx_alert_decode(key, sizeof(key), val, n, &b), -1);
    val[4] = NGX_CX_ALERT_LEVELS_MAX + 1;
    assert_int_equal(ngx_cx_alert_decode(key, sizeof(key), val, n, &b), -1);

    /* what cannot be stored is not encoded */
    a.levels = 0;
    assert_int_equal(ngx_cx_alert_encode(val, &a), 0);
    a.levels = 1;
    a.state = 7;
    assert_int_equal(ngx_cx_alert_encode(val, &a), 0);
    a.state = NGX_CX_ALERT_OPEN;
    a.rule.len = NGX_CX_NAME_MAX + 1;
    assert_int_equal(ngx_cx_alert_encode(val, &a), 0);
}


static void
test_alert_status(void **state)
{
    static const struct {
        unsigned     state, sent, failed;
        const char  *status;
    } cases[] = {
        { NGX_CX_ALERT_OPEN, 0, 0, "open" },
        { NGX_CX_ALERT_OPEN, 1, 0, "open" },
        { NGX_CX_ALERT_OPEN, 3, 0, "escalated" },
        { NGX_CX_ALERT_ACKNOWLEDGED, 3, 0, "acknowledged" },
        { NGX_CX_ALERT_RESOLVED, 1, 0, "resolved" },
        { NGX_CX_ALERT_OPEN, 0, 1, "failed" },
        { NGX_CX_ALERT_RESOLVED, 1, 2, "failed" },
    };
    size_t          i;
    ngx_cx_alert_t  a;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&a, 0, sizeof(a));
        a.state = cases[i].state;
        a.sent = cases[i].sent;
        a.failed = cases[i].failed;
        assert_case_true(strcmp(ngx_cx_alert_status(&a), cases[i].status)
                         == 0, i, cases[i].status);
    }
}


static void
test_delivery_codec(void **state)
{
    unsigned char      key[NGX_CX_DELIVERY_KEY_LEN];
    unsigned char      val[NGX_CX_DELIVERY_VAL_LEN];
    ngx_cx_delivery_t  d, e;

    (void) state;

    memset(&d, 0, sizeof(d));
    d.due_ms = 1765000000000ULL;
    memset(d.alert, 0x5a, sizeof(d.alert));
    d.level = 2;
    d.attempts = 7;
    d.first_ms = 1764999999000ULL;

    ngx_cx_delivery_encode(key, val, &d);
    assert_memory_equal(key, "\x00\x00\x01\x9a\xf2\x32\xb2\x00", 8);
    {
        uint64_t  ms = 0;

        assert_int_equal(ngx_cx_delivery_key_ms(key, sizeof(key), &ms), 0);
        assert_true(ms == d.due_ms);
        assert_int_equal(ngx_cx_delivery_key_ms(key, sizeof(key) - 1, &ms),
                         -1);
    }
    assert_int_equal(key[NGX_CX_DELIVERY_KEY_LEN - 1], 2);

    assert_int_equal(ngx_cx_delivery_decode(key, sizeof(key), val,
                                            sizeof(val), &e), 0);
    assert_true(e.due_ms == d.due_ms);
    assert_memory_equal(e.alert, d.alert, sizeof(d.alert));
    assert_int_equal(e.level, 2);
    assert_int_equal(e.attempts, 7);
    assert_true(e.first_ms == d.first_ms);

    assert_int_equal(ngx_cx_delivery_decode(key, sizeof(key) - 1, val,
                                            sizeof(val), &e), -1);
    assert_int_equal(ngx_cx_delivery_decode(key, sizeof(key), val,
                                            sizeof(val) + 1, &e), -1);
    key[NGX_CX_DELIVERY_KEY_LEN - 1] = NGX_CX_ALERT_LEVELS_MAX;
    assert_int_equal(ngx_cx_delivery_decode(key, sizeof(key), val,
                                            sizeof(val), &e), -1);

    /* earlier due times sort first, whatever the rest of the key */
    d.level = 0;
    ngx_cx_delivery_encode(key, val, &d);
    d.due_ms++;
    memset(d.alert, 0, sizeof(d.alert));
    {
        unsigned char  later[NGX_CX_DELIVERY_KEY_LEN];

        ngx_cx_delivery_encode(later, val, &d);
        assert_true(memcmp(key, later, sizeof(key)) < 0);
    }
}


static void
test_backoff_and_retry(void **state)
{
    static const struct { unsigned attempts; uint64_t ms; } backoff[] = {
        { 0, 1000 }, { 1, 2000 }, { 2, 4000 }, { 9, 512000 },
        { 10, 600000 }, { 40, 600000 }, { 65535, 600000 },
    };
    static const struct { unsigned status; int retry; } answers[] = {
        { 0, 1 }, { 200, 0 }, { 204, 0 }, { 301, 0 }, { 400, 0 },
        { 401, 0 }, { 404, 0 }, { 408, 1 }, { 410, 0 }, { 429, 1 },
        { 500, 1 }, { 503, 1 }, { 599, 1 }, { 600, 0 },
    };
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(backoff) / sizeof(backoff[0]); i++) {
        assert_case_true(ngx_cx_delivery_backoff_ms(backoff[i].attempts)
                         == backoff[i].ms, i, "backoff");
    }

    for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        assert_case_int_equal(ngx_cx_delivery_retryable(answers[i].status),
                              answers[i].retry, i, "retryable");
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_when_refused),
        cmocka_unit_test(test_when_holds),
        cmocka_unit_test(test_alert_codec),
        cmocka_unit_test(test_alert_status),
        cmocka_unit_test(test_delivery_codec),
        cmocka_unit_test(test_backoff_and_retry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
