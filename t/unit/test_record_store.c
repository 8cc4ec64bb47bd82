/*
 * Unit tests for the store codec of src/ngx_cx_record.c: the layout's
 * names, the keys and values of both databases (golden bytes: existing
 * stores must keep reading), and ngx_cx_record_apply / _update, the rules
 * by which display, answer, comment and dismiss change a response.
 * test_record.c covers the record encoding itself. Run under
 * -fsanitize=address,undefined: decoders get buffers of exactly the tested
 * length so any over-read is reported.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_record.h"


#define BYTES(s)  { (const unsigned char *) (s), sizeof(s) - 1 }

#define T0        1764000000000ULL      /* a time in ms */


static const unsigned char  visitor_id[NGX_CX_VISITOR_ID_LEN] =
    { 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb };




/* an unanswered prompt, as the module builds one from the token */

static ngx_cx_record_t
fresh_record(void)
{
    ngx_cx_record_t  r;

    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_NPS;
    r.stage = 3;
    r.issued_at_ms = T0 - 60000;
    memcpy(r.visitor, visitor_id, sizeof(r.visitor));
    r.survey = (ngx_cx_bytes_t) BYTES("checkout_nps");
    r.touchpoint = (ngx_cx_bytes_t) BYTES("purchase");
    r.lang = (ngx_cx_bytes_t) BYTES("en");
    r.path = (ngx_cx_bytes_t) BYTES("/done");

    return r;
}


static ngx_cx_change_t
change(ngx_cx_event_e event, uint64_t at_ms)
{
    ngx_cx_change_t  ch;

    memset(&ch, 0, sizeof(ch));
    ch.event = event;
    ch.at_ms = at_ms;

    return ch;
}


/* ---- layout ---- */

static void
test_layout_names(void **state)
{
    (void) state;

    /* renaming any of these orphans every existing store */
    assert_string_equal(NGX_CX_DB_META, "meta");
    assert_string_equal(NGX_CX_DB_RESPONSES, "responses");
    assert_string_equal(NGX_CX_DB_EVENTS, "events");
    assert_string_equal(NGX_CX_META_SECRET, "secret");
    assert_int_equal(NGX_CX_SECRET_LEN, 32);
    assert_int_equal(NGX_CX_STORE_MAXDBS, 8);
    assert_int_equal(NGX_CX_RESPONSE_KEY_LEN, 12);
    assert_int_equal(NGX_CX_JOURNEY_KEY_LEN, 16);
    assert_int_equal(NGX_CX_JOURNEY_VAL_MIN, 15);
    assert_int_equal(NGX_CX_JOURNEY_VAL_MAX, 79);
}


/* ---- responses database keys ---- */

static void
test_response_key(void **state)
{
    uint64_t             ms;
    unsigned char        key[NGX_CX_RESPONSE_KEY_LEN];
    static const unsigned char  nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    static const unsigned char  golden[12] =
        { 0x69, 0x2d, 0x0f, 0x80, 1, 2, 3, 4, 5, 6, 7, 8 };

    (void) state;

    ngx_cx_response_key(key, 0x692d0f80, nonce);
    assert_memory_equal(key, golden, sizeof(golden));

    assert_int_equal(ngx_cx_response_key_ms(key, sizeof(key), &ms), 0);
    assert_true(ms == 0x692d0f80ULL * 1000);

    /* the largest second a u32 holds */
    memset(key, 0xff, 4);
    assert_int_equal(ngx_cx_response_key_ms(key, sizeof(key), &ms), 0);
    assert_true(ms == 0xffffffffULL * 1000);

    /* not a response key: ms untouched */
    ms = 7;
    assert_int_equal(ngx_cx_response_key_ms(key, 11, &ms), -1);
    assert_int_equal(ngx_cx_response_key_ms(key, 16, &ms), -1);
    assert_int_equal(ngx_cx_response_key_ms(key, 0, &ms), -1);
    assert_true(ms == 7);
}


static void
test_response_decode(void **state)
{
    size_t           len;
    unsigned char    key[NGX_CX_RESPONSE_KEY_LEN], buf[512], *val;
    ngx_cx_record_t  r, out;

    (void) state;

    memset(key, 0x42, sizeof(key));
    r = fresh_record();
    len = ngx_cx_record_encode(buf, &r) - buf;
    val = dup_exact(buf, len);

    assert_int_equal(ngx_cx_response_decode(key, sizeof(key), val, len, &out),
                     0);
    assert_true(out.issued_at_ms == r.issued_at_ms);
    assert_int_equal(out.survey.len, r.survey.len);
    assert_memory_equal(out.survey.data, "checkout_nps", out.survey.len);
    /* borrowed from the value, not copied */
    assert_true(out.survey.data > val && out.survey.data < val + len);

    /* a key of another length, a value that does not decode */
    assert_int_equal(ngx_cx_response_decode(key, 11, val, len, &out), -1);
    assert_int_equal(ngx_cx_response_decode(key, 13, val, len, &out), -1);
    assert_int_equal(ngx_cx_response_decode(key, sizeof(key), val, len - 1,
                                            &out),
                     -1);
    val[0] = 2;
    assert_int_equal(ngx_cx_response_decode(key, sizeof(key), val, len, &out),
                     -1);

    free(val);
}


/* ---- journey events ---- */

static ngx_cx_journey_t
journey(size_t name_len)
{
    ngx_cx_journey_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.at_ms = 0x0102030405060708ULL;
    memcpy(ev.visitor, visitor_id, sizeof(ev.visitor));
    ev.kind = 1;
    ev.stage = 4;
    ev.name_len = (unsigned char) name_len;
    memset(ev.name, 'n', name_len);

    return ev;
}


static void
test_journey_key(void **state)
{
    uint64_t       at;
    unsigned char  key[NGX_CX_JOURNEY_KEY_LEN];
    static const unsigned char  golden[16] = {
        1, 2, 3, 4, 5, 6, 7, 8,  0x0a, 0x0b, 0x0c, 0x0d,
        0x11, 0x12, 0x13, 0x14 };

    (void) state;

    ngx_cx_journey_key(key, 0x0102030405060708ULL, 0x0a0b0c0d, 0x11121314);
    assert_memory_equal(key, golden, sizeof(golden));

    assert_int_equal(ngx_cx_journey_key_ms(key, sizeof(key), &at), 0);
    assert_true(at == 0x0102030405060708ULL);

    at = 9;
    assert_int_equal(ngx_cx_journey_key_ms(key, 12, &at), -1);
    assert_int_equal(ngx_cx_journey_key_ms(key, 17, &at), -1);
    assert_true(at == 9);

    /* keys sort by time first, whatever the pid and sequence */
    {
        unsigned char  a[16], b[16];

        ngx_cx_journey_key(a, 1000, 0xffffffff, 0xffffffff);
        ngx_cx_journey_key(b, 1001, 0, 0);
        assert_true(memcmp(a, b, 16) < 0);
    }
}


static void
test_journey_value_golden(void **state)
{
    size_t            n;
    unsigned char     val[NGX_CX_JOURNEY_VAL_MAX];
    ngx_cx_journey_t  ev;
    static const unsigned char  golden[] = {
        1, 4,
        0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb,
        3, 'b', 'u', 'y' };

    (void) state;

    ev = journey(0);
    ev.name_len = 3;
    memcpy(ev.name, "buy", 3);

    n = ngx_cx_journey_encode(val, &ev);
    assert_int_equal(n, sizeof(golden));
    assert_memory_equal(val, golden, sizeof(golden));
}


static void
test_journey_round_trip(void **state)
{
    size_t            n, len;
    unsigned char     key[NGX_CX_JOURNEY_KEY_LEN], buf[NGX_CX_JOURNEY_VAL_MAX];
    unsigned char    *val, *k;
    ngx_cx_journey_t  ev, out;

    (void) state;

    for (len = 0; len <= NGX_CX_NAME_MAX; len++) {
        ev = journey(len);
        ngx_cx_journey_key(key, ev.at_ms, 77, (uint32_t) len);

        n = ngx_cx_journey_encode(buf, &ev);
        assert_int_equal(n, NGX_CX_JOURNEY_VAL_MIN + len);

        val = dup_exact(buf, n);
        k = dup_exact(key, sizeof(key));
        memset(&out, 0xee, sizeof(out));

        assert_int_equal(ngx_cx_journey_decode(k, sizeof(key), val, n, &out),
                         0);
        assert_true(out.at_ms == ev.at_ms);
        assert_memory_equal(out.visitor, ev.visitor, sizeof(ev.visitor));
        assert_int_equal(out.kind, ev.kind);
        assert_int_equal(out.stage, ev.stage);
        assert_int_equal(out.name_len, len);
        assert_memory_equal(out.name, ev.name, len);

        free(val);
        free(k);
    }
}


static void
test_journey_refused(void **state)
{
    size_t            n, cut;
    unsigned char     key[NGX_CX_JOURNEY_KEY_LEN];
    unsigned char     buf[NGX_CX_JOURNEY_VAL_MAX + 1], *val;
    ngx_cx_journey_t  ev, out;

    (void) state;

    /* a name the module never makes is not written */
    ev = journey(NGX_CX_NAME_MAX);
    ev.name_len = NGX_CX_NAME_MAX + 1;
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(ngx_cx_journey_encode(buf, &ev), 0);
    assert_int_equal(buf[0], 0x5a);

    ev = journey(5);
    ngx_cx_journey_key(key, ev.at_ms, 1, 1);
    n = ngx_cx_journey_encode(buf, &ev);

    /* every truncation, and one byte too many */
    for (cut = 0; cut < n; cut++) {
        val = dup_exact(buf, cut);
        assert_int_equal(ngx_cx_journey_decode(key, sizeof(key), val, cut,
                                               &out),
                         -1);
        free(val);
    }

    buf[n] = 'x';
    val = dup_exact(buf, n + 1);
    assert_int_equal(ngx_cx_journey_decode(key, sizeof(key), val, n + 1, &out),
                     -1);
    free(val);

    /* a key of another length */
    val = dup_exact(buf, n);
    assert_int_equal(ngx_cx_journey_decode(key, 15, val, n, &out), -1);
    assert_int_equal(ngx_cx_journey_decode(key, 12, val, n, &out), -1);
    free(val);

    /* name_len over NGX_CX_NAME_MAX, even with the bytes present */
    ev = journey(NGX_CX_NAME_MAX);
    n = ngx_cx_journey_encode(buf, &ev);
    buf[2 + NGX_CX_VISITOR_ID_LEN] = NGX_CX_NAME_MAX + 1;
    buf[n] = 'n';
    val = dup_exact(buf, n + 1);
    assert_int_equal(ngx_cx_journey_decode(key, sizeof(key), val, n + 1, &out),
                     -1);
    free(val);
}


static void
test_journey_visitor(void **state)
{
    unsigned char         buf[NGX_CX_JOURNEY_VAL_MAX], *val;
    ngx_cx_journey_t      ev;
    const unsigned char  *v;

    (void) state;

    ev = journey(4);
    (void) ngx_cx_journey_encode(buf, &ev);

    /* too short to hold a visitor */
    val = dup_exact(buf, 2 + NGX_CX_VISITOR_ID_LEN - 1);
    assert_null(ngx_cx_journey_visitor(val, 2 + NGX_CX_VISITOR_ID_LEN - 1));
    free(val);
    assert_null(ngx_cx_journey_visitor(buf, 0));

    /* just long enough: found although name_len is missing */
    val = dup_exact(buf, 2 + NGX_CX_VISITOR_ID_LEN);
    v = ngx_cx_journey_visitor(val, 2 + NGX_CX_VISITOR_ID_LEN);
    assert_ptr_equal(v, val + 2);
    assert_memory_equal(v, visitor_id, NGX_CX_VISITOR_ID_LEN);
    free(val);

    /* a damaged name does not hide the visitor */
    buf[2 + NGX_CX_VISITOR_ID_LEN] = 200;
    v = ngx_cx_journey_visitor(buf, NGX_CX_JOURNEY_VAL_MIN + 4);
    assert_memory_equal(v, visitor_id, NGX_CX_VISITOR_ID_LEN);
}


/* ---- apply: the state machine ---- */

/*
 * Applies ch to r and expects rc and the error msg (NULL: none); what is
 * not CHANGED must leave r as it was.
 */

static void
expect_apply(ngx_cx_record_t *r, const ngx_cx_change_t *ch, int rc,
    const char *msg)
{
    const char       *err;
    ngx_cx_record_t   before;

    before = *r;
    err = NULL;

    assert_int_equal(ngx_cx_record_apply(r, ch, &err), rc);

    if (msg == NULL) {
        assert_null(err);

    } else {
        assert_non_null(err);
        assert_string_equal(err, msg);
    }

    if (rc != NGX_CX_APPLY_CHANGED) {
        assert_memory_equal(r, &before, sizeof(*r));
    }
}


/* expect_apply() of a change with only an event, a time and a score */

static void
expect_event(ngx_cx_record_t *r, ngx_cx_event_e event, uint64_t at_ms,
    int score, int rc, const char *msg)
{
    ngx_cx_change_t  ch;

    ch = change(event, at_ms);
    ch.score = score;
    expect_apply(r, &ch, rc, msg);
}


static void
test_apply_display_answer_comment(void **state)
{
    ngx_cx_record_t   r;
    ngx_cx_change_t   ch;

    (void) state;

    r = fresh_record();

    expect_event(&r, NGX_CX_EVENT_DISPLAY, T0, 0, NGX_CX_APPLY_CHANGED, NULL);
    assert_int_equal(r.flags, NGX_CX_REC_DISPLAYED);
    assert_true(r.displayed_at_ms == T0);

    expect_event(&r, NGX_CX_EVENT_ANSWER, T0 + 5000, 9, NGX_CX_APPLY_CHANGED,
                 NULL);
    assert_int_equal(r.flags, NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED);
    assert_true(r.answered_at_ms == T0 + 5000);
    assert_int_equal(r.score, 9);

    ch = change(NGX_CX_EVENT_COMMENT, T0 + 9000);
    ch.comment = (ngx_cx_bytes_t) BYTES("quick delivery");
    expect_apply(&r, &ch, NGX_CX_APPLY_CHANGED, NULL);
    assert_int_equal(r.flags, NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED
                              | NGX_CX_REC_COMMENTED);
    assert_true(r.commented_at_ms == T0 + 9000);
    assert_ptr_equal(r.comment.data, ch.comment.data);
    assert_int_equal(r.comment.len, 14);

    /* the other times were not touched (success sets no error, above) */
    assert_true(r.displayed_at_ms == T0);
    assert_true(r.answered_at_ms == T0 + 5000);
    assert_true(r.dismissed_at_ms == 0);
    assert_true(r.issued_at_ms == T0 - 60000);
    assert_int_equal(ngx_cx_record_valid(&r), 1);
}


static void
test_apply_repeated_display(void **state)
{
    /* a display after an answer or a dismissal is still recorded */
    static const struct {
        ngx_cx_event_e  first;
        int             score;
        unsigned        flags;
    } after[] = {
        { NGX_CX_EVENT_ANSWER, 3,
          NGX_CX_REC_ANSWERED | NGX_CX_REC_DISPLAYED },
        { NGX_CX_EVENT_DISMISS, 0,
          NGX_CX_REC_DISMISSED | NGX_CX_REC_DISPLAYED },
    };

    size_t           i;
    ngx_cx_record_t  r;

    (void) state;

    r = fresh_record();
    expect_event(&r, NGX_CX_EVENT_DISPLAY, T0, 0, NGX_CX_APPLY_CHANGED, NULL);

    /* the first display's time stays: r is not changed */
    expect_event(&r, NGX_CX_EVENT_DISPLAY, T0 + 1000, 0, NGX_CX_APPLY_SAME,
                 NULL);

    for (i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
        r = fresh_record();
        expect_event(&r, after[i].first, T0, after[i].score,
                     NGX_CX_APPLY_CHANGED, NULL);
        expect_event(&r, NGX_CX_EVENT_DISPLAY, T0 + 1, 0,
                     NGX_CX_APPLY_CHANGED, NULL);
        assert_case_int_equal(r.flags, after[i].flags, i, "flags");
    }
}


static void
test_apply_conflicts(void **state)
{
    size_t            i;
    ngx_cx_record_t   answered, dismissed, fresh, commented;
    ngx_cx_change_t   answer, dismiss, comment;

    struct {
        ngx_cx_record_t        *r;
        const ngx_cx_change_t  *ch;
        const char             *msg;
    } conflicts[] = {
        /* one answer per prompt, and no change of mind after a dismissal */
        { &answered, &answer, "already answered" },
        { &answered, &dismiss, "already answered" },
        { &dismissed, &answer, "already dismissed" },
        { &dismissed, &dismiss, "already dismissed" },
        { &commented, &answer, "already answered" },

        /* a comment belongs to an answer, and there is one */
        { &fresh, &comment, "no answer to comment on" },
        { &dismissed, &comment, "no answer to comment on" },
        { &commented, &comment, "already commented" },
    };

    (void) state;

    answer = change(NGX_CX_EVENT_ANSWER, T0 + 2);
    answer.score = 10;
    dismiss = change(NGX_CX_EVENT_DISMISS, T0 + 3);
    comment = change(NGX_CX_EVENT_COMMENT, T0 + 4);
    comment.comment = (ngx_cx_bytes_t) BYTES("late");

    /* an answer needs no display first */
    fresh = fresh_record();
    answered = fresh;
    expect_apply(&answered, &answer, NGX_CX_APPLY_CHANGED, NULL);
    assert_int_equal(answered.flags, NGX_CX_REC_ANSWERED);

    dismissed = fresh;
    expect_apply(&dismissed, &dismiss, NGX_CX_APPLY_CHANGED, NULL);
    assert_int_equal(dismissed.flags, NGX_CX_REC_DISMISSED);
    assert_true(dismissed.dismissed_at_ms == T0 + 3);

    commented = answered;
    expect_apply(&commented, &comment, NGX_CX_APPLY_CHANGED, NULL);

    for (i = 0; i < sizeof(conflicts) / sizeof(conflicts[0]); i++) {
        expect_apply(conflicts[i].r, conflicts[i].ch, NGX_CX_APPLY_CONFLICT,
                     conflicts[i].msg);
    }
}


static void
test_apply_unknown(void **state)
{
    size_t           i;
    ngx_cx_record_t  r;

    static const ngx_cx_event_e  events[] = {
        NGX_CX_EVENT_NONE, (ngx_cx_event_e) 99
    };

    (void) state;

    r = fresh_record();

    for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        expect_event(&r, events[i], T0, 0, NGX_CX_APPLY_UNKNOWN,
                     "unknown event");
    }
}


/* ---- update: the read-modify-write on bytes ---- */

#define UPDATE_ROOM  512


/*
 * ngx_cx_record_update() of old (NULL: nothing stored yet) must succeed
 * and write exactly the encoding of want; returns what it wrote, in a heap
 * block of its exact size.
 */

static unsigned char *
expect_update_to(const unsigned char *old, size_t old_len,
    const ngx_cx_record_t *fresh, const ngx_cx_change_t *ch,
    const ngx_cx_record_t *want, size_t *len)
{
    size_t          exp_len;
    const char     *err;
    unsigned char   out[UPDATE_ROOM], expect[UPDATE_ROOM];

    err = NULL;
    assert_int_equal(ngx_cx_record_update(old, old_len, fresh, ch, out,
                                          sizeof(out), len, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_null(err);

    exp_len = ngx_cx_record_encode(expect, want) - expect;
    assert_int_equal(*len, exp_len);
    assert_memory_equal(out, expect, *len);

    return dup_exact(out, *len);
}


static void
test_update_byte_identical(void **state)
{
    size_t            len;
    unsigned char    *a, *b, *c;
    ngx_cx_record_t   fresh, r;
    ngx_cx_change_t   ch;

    (void) state;

    fresh = fresh_record();
    fresh.flags = NGX_CX_REC_ALL_FLAGS;     /* ignored for a new record */

    /* display of a prompt never seen: the fresh record, DISPLAYED */
    ch = change(NGX_CX_EVENT_DISPLAY, T0);
    r = fresh_record();
    r.flags = NGX_CX_REC_DISPLAYED;
    r.displayed_at_ms = T0;
    a = expect_update_to(NULL, 0, &fresh, &ch, &r, &len);

    /* answer, from the stored bytes */
    ch = change(NGX_CX_EVENT_ANSWER, T0 + 5000);
    ch.score = 0;
    r.flags |= NGX_CX_REC_ANSWERED;
    r.answered_at_ms = T0 + 5000;
    r.score = 0;
    b = expect_update_to(a, len, &fresh, &ch, &r, &len);

    /* comment */
    ch = change(NGX_CX_EVENT_COMMENT, T0 + 8000);
    ch.comment = (ngx_cx_bytes_t) BYTES("The kettle works.");
    r.flags |= NGX_CX_REC_COMMENTED;
    r.commented_at_ms = T0 + 8000;
    r.comment = ch.comment;
    c = expect_update_to(b, len, &fresh, &ch, &r, &len);

    free(a);
    free(b);
    free(c);
}


/*
 * ngx_cx_record_update() of old with room bytes to write in must return rc
 * with the error msg (NULL: none), write nothing and leave len alone.
 */

static void
expect_update_refused(const unsigned char *old, size_t old_len,
    const ngx_cx_record_t *fresh, const ngx_cx_change_t *ch, size_t room,
    int rc, const char *msg)
{
    size_t          i, len;
    const char     *err;
    unsigned char   dst[UPDATE_ROOM];

    assert_true(room <= sizeof(dst));

    memset(dst, 0x5a, sizeof(dst));
    len = 12345;
    err = NULL;

    assert_int_equal(ngx_cx_record_update(old, old_len, fresh, ch, dst, room,
                                          &len, &err),
                     rc);

    if (msg == NULL) {
        assert_null(err);

    } else {
        assert_non_null(err);
        assert_string_equal(err, msg);
    }

    assert_int_equal(len, 12345);

    for (i = 0; i < sizeof(dst); i++) {
        assert_int_equal(dst[i], 0x5a);
    }
}


static void
test_update_refusals(void **state)
{
    size_t            len, need, stored_len;
    const char       *err;
    unsigned char     dst[UPDATE_ROOM], stored[512], *old;
    ngx_cx_record_t   fresh, r;
    ngx_cx_change_t   ch;

    (void) state;

    fresh = fresh_record();

    /* an answered prompt, stored */
    r = fresh;
    r.flags = NGX_CX_REC_ANSWERED;
    r.answered_at_ms = T0 - 1;
    r.score = 7;
    stored_len = ngx_cx_record_encode(stored, &r) - stored;
    old = dup_exact(stored, stored_len);

    /* the size of the commented record */
    ch = change(NGX_CX_EVENT_COMMENT, T0);
    ch.comment = (ngx_cx_bytes_t) BYTES("a comment");
    r.flags |= NGX_CX_REC_COMMENTED;
    r.commented_at_ms = T0;
    r.comment = ch.comment;
    need = ngx_cx_record_size(&r);

    /* a truncated stored value */
    expect_update_refused(old, stored_len - 1, &fresh, &ch, sizeof(dst),
                          NGX_CX_APPLY_CORRUPT, "stored record is unreadable");

    /* a result one byte larger than the room: nothing written */
    expect_update_refused(old, stored_len, &fresh, &ch, need - 1,
                          NGX_CX_APPLY_TOO_LARGE, "record too large");

    /* exactly the room needed is enough */
    err = NULL;
    assert_int_equal(ngx_cx_record_update(old, stored_len, &fresh, &ch, dst,
                                          need, &len, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_int_equal(len, need);

    /* a conflict and a repeat write nothing and leave len alone */
    ch = change(NGX_CX_EVENT_ANSWER, T0);
    ch.score = 1;
    expect_update_refused(old, stored_len, &fresh, &ch, sizeof(dst),
                          NGX_CX_APPLY_CONFLICT, "already answered");
    free(old);

    /* a repeated display */
    r = fresh;
    r.flags = NGX_CX_REC_DISPLAYED;
    r.displayed_at_ms = T0 - 1;
    stored_len = ngx_cx_record_encode(stored, &r) - stored;
    old = dup_exact(stored, stored_len);
    ch = change(NGX_CX_EVENT_DISPLAY, T0);
    expect_update_refused(old, stored_len, &fresh, &ch, sizeof(dst),
                          NGX_CX_APPLY_SAME, NULL);

    /* a stored value of another version */
    old[0] = 2;
    expect_update_refused(old, stored_len, &fresh, &ch, sizeof(dst),
                          NGX_CX_APPLY_CORRUPT, "stored record is unreadable");
    free(old);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_layout_names),
        cmocka_unit_test(test_response_key),
        cmocka_unit_test(test_response_decode),
        cmocka_unit_test(test_journey_key),
        cmocka_unit_test(test_journey_value_golden),
        cmocka_unit_test(test_journey_round_trip),
        cmocka_unit_test(test_journey_refused),
        cmocka_unit_test(test_journey_visitor),
        cmocka_unit_test(test_apply_display_answer_comment),
        cmocka_unit_test(test_apply_repeated_display),
        cmocka_unit_test(test_apply_conflicts),
        cmocka_unit_test(test_apply_unknown),
        cmocka_unit_test(test_update_byte_identical),
        cmocka_unit_test(test_update_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
