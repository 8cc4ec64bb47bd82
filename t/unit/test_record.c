/*
 * Unit tests for src/ngx_cx_record.c: record encoding, attributes blob,
 * date helpers. Run under -fsanitize=address,undefined: the decoders get
 * buffers of exactly the tested length so any over-read is reported.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_record.h"
#include "ngx_cx_device.h"


#define BYTES(s)  { (const unsigned char *) (s), sizeof(s) - 1 }

/* the flags of full_record() */
#define FULL_FLAGS  (NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED              \
                     | NGX_CX_REC_COMMENTED | NGX_CX_REC_DISMISSED)


static const unsigned char  visitor_id[12] =
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };




static void
assert_bytes_equal(ngx_cx_bytes_t a, ngx_cx_bytes_t b)
{
    assert_int_equal(a.len, b.len);

    if (a.len) {
        assert_memory_equal(a.data, b.data, a.len);
    }
}


static void
assert_record_equal(const ngx_cx_record_t *a, const ngx_cx_record_t *b)
{
    assert_int_equal(a->flags, b->flags);
    assert_true(a->issued_at_ms == b->issued_at_ms);
    assert_true(a->displayed_at_ms == b->displayed_at_ms);
    assert_true(a->answered_at_ms == b->answered_at_ms);
    assert_true(a->commented_at_ms == b->commented_at_ms);
    assert_true(a->dismissed_at_ms == b->dismissed_at_ms);
    assert_int_equal(a->score, b->score);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->stage, b->stage);
    assert_memory_equal(a->visitor, b->visitor, 12);
    assert_bytes_equal(a->survey, b->survey);
    assert_bytes_equal(a->touchpoint, b->touchpoint);
    assert_bytes_equal(a->lang, b->lang);
    assert_bytes_equal(a->path, b->path);
    assert_bytes_equal(a->comment, b->comment);
    assert_bytes_equal(a->attrs, b->attrs);
    assert_int_equal(a->has_previous, b->has_previous);
    assert_int_equal(a->previous_score, b->previous_score);
    assert_bytes_equal(a->followup, b->followup);
    assert_true(a->attr_numbers == b->attr_numbers);
    assert_int_equal(a->device, b->device);
}


/* encodes r into an exact-size heap block; *len gets its size */
static unsigned char *
encode_exact(const ngx_cx_record_t *r, size_t *len)
{
    unsigned char  *buf, *end;

    assert_int_equal(ngx_cx_record_valid(r), 1);

    *len = ngx_cx_record_size(r);
    buf = malloc(*len);
    assert_non_null(buf);

    end = ngx_cx_record_encode(buf, r);
    assert_ptr_equal(end, buf + *len);

    return buf;
}


static void
full_record(ngx_cx_record_t *r, unsigned char *attrs, size_t attrs_size)
{
    size_t  n;

    memset(r, 0, sizeof(*r));

    r->flags = FULL_FLAGS;
    r->issued_at_ms = 1795456800000ULL;
    r->displayed_at_ms = 1795456803000ULL;
    r->answered_at_ms = 1795456810123ULL;
    r->commented_at_ms = 1795456840999ULL;
    r->dismissed_at_ms = 1795456841000ULL;
    r->score = 9;
    r->type = NGX_CX_TYPE_NPS;
    r->stage = 3;
    memcpy(r->visitor, visitor_id, 12);

    r->survey = (ngx_cx_bytes_t) BYTES("nps_after_purchase");
    r->touchpoint = (ngx_cx_bytes_t) BYTES("purchase");
    r->lang = (ngx_cx_bytes_t) BYTES("tr");
    r->path = (ngx_cx_bytes_t) BYTES("/checkout/done");
    r->comment = (ngx_cx_bytes_t) BYTES("Hızlı teslimat, \"teşekkürler\"\n");

    n = ngx_cx_attrs_put(attrs, attrs_size, "order_total", 11, "129.90", 6);
    assert_int_equal(n, 1 + 11 + 2 + 6);
    n += ngx_cx_attrs_put(attrs + n, attrs_size - n, "vip", 3, "", 0);
    assert_int_equal(n, 20 + 1 + 3 + 2);

    r->attrs.data = attrs;
    r->attrs.len = n;
}


/* ---- record ---------------------------------------------------------- */

static void
test_record_golden_bytes(void **state)
{
    static const unsigned char  expect[] = {
        0x01, 0x03, 0x01, 0x03, 0x09,
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
        0x01, 0xac, 0x02, 0x00, 0x00, 0x00,
        0x01, 's', 0x02, 't', 'p', 0x00, 0x01, '/', 0x00, 0x00
    };

    unsigned char    buf[64];
    ngx_cx_record_t  r, d;

    (void) state;

    memset(&r, 0, sizeof(r));
    r.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED;
    r.type = NGX_CX_TYPE_NPS;
    r.stage = 3;
    r.score = 9;
    memcpy(r.visitor, visitor_id, 12);
    r.issued_at_ms = 1;
    r.displayed_at_ms = 300;
    r.survey = (ngx_cx_bytes_t) BYTES("s");
    r.touchpoint = (ngx_cx_bytes_t) BYTES("tp");
    r.path = (ngx_cx_bytes_t) BYTES("/");

    assert_int_equal(ngx_cx_record_size(&r), sizeof(expect));
    assert_ptr_equal(ngx_cx_record_encode(buf, &r), buf + sizeof(expect));
    assert_memory_equal(buf, expect, sizeof(expect));

    assert_int_equal(ngx_cx_record_decode(expect, sizeof(expect), &d), 0);
    assert_record_equal(&r, &d);
}


static void
test_record_round_trip_all_fields(void **state)
{
    size_t           len;
    unsigned char    attrs[64], *buf;
    ngx_cx_record_t  r, d;

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    buf = encode_exact(&r, &len);

    memset(&d, 0xa5, sizeof(d));
    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_record_equal(&r, &d);

    /* zero-copy: byte fields point into the encoded buffer */
    assert_true(d.survey.data > buf && d.survey.data < buf + len);
    assert_true(d.attrs.data + d.attrs.len == buf + len);

    free(buf);
}


static void
test_record_empty_fields(void **state)
{
    size_t           len;
    unsigned char   *buf;
    ngx_cx_record_t  r, d;

    (void) state;

    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_CES;
    r.score = 6;                /* not ANSWERED: ignored, stored as 0 */

    /* 5 fixed + 12 visitor + 5 one-byte times + 6 one-byte lengths */
    assert_int_equal(ngx_cx_record_size(&r), 28);

    buf = encode_exact(&r, &len);
    assert_int_equal(buf[4], 0);

    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_int_equal(d.score, 0);
    r.score = 0;
    assert_record_equal(&r, &d);
    assert_int_equal(d.comment.len, 0);
    assert_int_equal(d.attrs.len, 0);

    free(buf);
}


static void
test_record_max_sizes(void **state)
{
    size_t           len, n, comment_len, survey_len;
    unsigned char   *buf, *attrs, *comment, *survey;
    char             key[NGX_CX_ATTR_KEY_MAX], *val;
    ngx_cx_record_t  r, d;

    (void) state;

    comment_len = 1000000;
    survey_len = 300;           /* needs a two-byte length */

    comment = malloc(comment_len);
    survey = malloc(survey_len);
    val = malloc(NGX_CX_ATTR_VAL_MAX);
    attrs = malloc(2 * (3 + NGX_CX_ATTR_KEY_MAX + NGX_CX_ATTR_VAL_MAX));
    assert_non_null(comment);
    assert_non_null(survey);
    assert_non_null(val);
    assert_non_null(attrs);

    memset(comment, 'c', comment_len);
    memset(survey, 's', survey_len);
    memset(key, 'k', sizeof(key));
    memset(val, 'v', NGX_CX_ATTR_VAL_MAX);

    n = ngx_cx_attrs_put(attrs, 2 * (3 + 255 + 65535), key, 255,
                         val, 65535);
    assert_int_equal(n, 3 + 255 + 65535);
    key[0] = 'K';
    n += ngx_cx_attrs_put(attrs + n, 3 + 255 + 65535, key, 255, val, 65535);
    assert_int_equal(n, 2 * (3 + 255 + 65535));

    memset(&r, 0, sizeof(r));
    r.flags = NGX_CX_REC_ALL_FLAGS;
    r.type = NGX_CX_TYPE_NPS;
    r.stage = NGX_CX_STAGE_MAX;
    r.score = NGX_CX_NPS_MAX;
    memset(r.visitor, 0xff, 12);
    r.issued_at_ms = UINT64_MAX;
    r.displayed_at_ms = UINT64_MAX - 1;
    r.answered_at_ms = 1ULL << 63;
    r.commented_at_ms = (1ULL << 63) - 1;
    r.dismissed_at_ms = 127;
    r.survey.data = survey;
    r.survey.len = survey_len;
    r.comment.data = comment;
    r.comment.len = comment_len;
    r.attrs.data = attrs;
    r.attrs.len = n;

    assert_int_equal(ngx_cx_record_size(&r),
                     17 + 10 + 10 + 10 + 9 + 1
                     + 2 + survey_len + 1 + 1 + 1
                     + 3 + comment_len + 3 + n);

    buf = encode_exact(&r, &len);
    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_record_equal(&r, &d);

    free(buf);
    free(attrs);
    free(val);
    free(survey);
    free(comment);
}


static void
test_record_every_truncation_rejected(void **state)
{
    size_t           len, cut;
    unsigned char    attrs[64], *buf, *part;
    ngx_cx_record_t  r, d;

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    buf = encode_exact(&r, &len);

    for (cut = 0; cut < len; cut++) {
        part = dup_exact(buf, cut);
        assert_int_equal(ngx_cx_record_decode(part, cut, &d), -1);
        free(part);
    }

    assert_int_equal(ngx_cx_record_decode(NULL, 0, &d), -1);

    free(buf);
}


static void
test_record_extensions(void **state)
{
    size_t           len;
    unsigned char    attrs[64], *buf, *ext;
    ngx_cx_record_t  r, d;

    static const unsigned char  good[] = {
        0x09, 0x03, 'a', 'b', 'c',      /* tag 9, 3 bytes */
        0x80, 0x01, 0x00,               /* tag 128, empty */
        0x14, 0x81, 0x01                /* tag 20, 129 bytes follow */
    };

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    buf = encode_exact(&r, &len);

    ext = malloc(len + sizeof(good) + 129);
    assert_non_null(ext);
    memcpy(ext, buf, len);
    memcpy(ext + len, good, sizeof(good));
    memset(ext + len + sizeof(good), 'x', 129);

    /* well-formed extensions are skipped */
    assert_int_equal(ngx_cx_record_decode(ext, len + sizeof(good) + 129, &d),
                     0);
    assert_record_equal(&r, &d);

    /* the last one one byte short */
    assert_int_equal(ngx_cx_record_decode(ext, len + sizeof(good) + 128, &d),
                     -1);

    /* a lone tag without a length */
    assert_int_equal(ngx_cx_record_decode(ext, len + 1, &d), -1);

    /* an unfinished varint */
    ext[len] = 0x80;
    assert_int_equal(ngx_cx_record_decode(ext, len + 1, &d), -1);

    /* garbage that happens to look like a short extension is accepted */
    ext[len] = 0x07;
    ext[len + 1] = 0x00;
    assert_int_equal(ngx_cx_record_decode(ext, len + 2, &d), 0);

    free(ext);
    free(buf);
}


/* extension 1: the visitor's previous answer, kept through a re-encode */

static void
test_record_previous_score(void **state)
{
    size_t           len, i;
    unsigned char    attrs[64], *buf, *bad;
    ngx_cx_record_t  r, d;

    static const struct {
        unsigned char  ext[4];
        size_t         len;
        const char    *name;
    } wrong[] = {
        { { 0x01, 0x01, 0x0b }, 3, "score 11 on an NPS scale" },
        { { 0x01, 0x02, 0x05, 0x05 }, 4, "two bytes" },
        { { 0x01, 0x00 }, 2, "empty" },
        { { 0x01, 0x01, 0xff }, 3, "255" },
    };

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    r.has_previous = 1;
    r.previous_score = 3;

    buf = encode_exact(&r, &len);
    assert_memory_equal(buf + len - 3, "\x01\x01\x03", 3);

    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_record_equal(&r, &d);

    /* the same record without it is 3 bytes shorter, and decodes as none */
    r.has_previous = 0;
    r.previous_score = 0;
    assert_int_equal(ngx_cx_record_size(&r), len - 3);
    assert_int_equal(ngx_cx_record_decode(buf, len - 3, &d), 0);
    assert_int_equal(d.has_previous, 0);

    /* a known extension that is not as this version writes it: corrupt */
    bad = malloc(len + 4);
    assert_non_null(bad);

    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        memcpy(bad, buf, len - 3);
        memcpy(bad + len - 3, wrong[i].ext, wrong[i].len);
        assert_case_int_equal(ngx_cx_record_decode(bad, len - 3
                                                   + wrong[i].len, &d),
                              -1, i, wrong[i].name);
    }

    /* twice */
    memcpy(bad, buf, len);
    memcpy(bad + len, "\x01\x01\x03", 3);
    assert_int_equal(ngx_cx_record_decode(bad, len + 3, &d), -1);

    /* what cannot be stored is not valid */
    full_record(&r, attrs, sizeof(attrs));
    r.has_previous = 1;
    r.previous_score = 11;
    assert_int_equal(ngx_cx_record_valid(&r), 0);
    r.type = NGX_CX_TYPE_CSAT;
    r.score = 4;
    r.previous_score = 0;
    assert_int_equal(ngx_cx_record_valid(&r), 0);

    free(bad);
    free(buf);
}


/*
 * Extensions 2 and 3: the follow-up asked and which attributes were
 * numbers, kept through a decode and a re-encode, in tag order after
 * extension 1.
 */

static void
test_record_followup_and_numbers(void **state)
{
    size_t           len, i;
    unsigned char    attrs[64], *buf, *bad, out[512];
    ngx_cx_record_t  r, d;

    static const unsigned char  tail[] = {
        0x01, 0x01, 0x03,                       /* previous score 3 */
        0x02, 0x05, 'W', 'h', 'y', ' ', '?',    /* follow-up "Why ?" */
        0x03, 0x02, 0x81, 0x01                  /* numbers 0x81: pairs 0, 7 */
    };

    static const struct {
        unsigned char  ext[6];
        size_t         len;
        const char    *name;
    } wrong[] = {
        { { 0x02, 0x00 }, 2, "an empty follow-up" },
        { { 0x03, 0x01, 0x00 }, 3, "numbers 0" },
        { { 0x03, 0x02, 0x81, 0x00 }, 4, "numbers not in shortest form" },
        { { 0x03, 0x02, 0x01, 0x01 }, 4, "numbers shorter than the extension" },
        { { 0x03, 0x01, 0x81 }, 3, "numbers cut short" },
        { { 0x03, 0x01, 0x01, 0x03, 0x01, 0x01 }, 6, "numbers twice" },
        { { 0x02, 0x01, 'a', 0x02, 0x01, 'b' }, 6, "a follow-up twice" },
    };

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    r.has_previous = 1;
    r.previous_score = 3;
    r.followup = (ngx_cx_bytes_t) BYTES("Why ?");
    r.attr_numbers = 0x81;

    buf = encode_exact(&r, &len);
    assert_true(len > sizeof(tail));
    assert_memory_equal(buf + len - sizeof(tail), tail, sizeof(tail));

    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_record_equal(&r, &d);

    /* a re-encode of the decoded record: the same bytes */
    assert_int_equal(ngx_cx_record_size(&d), len);
    assert_ptr_equal(ngx_cx_record_encode(out, &d), out + len);
    assert_memory_equal(out, buf, len);

    /* without them, a record written before them: none */
    assert_int_equal(ngx_cx_record_decode(buf, len - 11, &d), 0);
    assert_int_equal(d.followup.len, 0);
    assert_true(d.followup.data == NULL);
    assert_true(d.attr_numbers == 0);

    /* a follow-up of 200 bytes: a two-byte length */
    full_record(&r, attrs, sizeof(attrs));
    memset(out, 'f', 200);
    r.followup.data = out;
    r.followup.len = 200;
    r.attr_numbers = (uint64_t) 1 << 63;
    free(buf);
    buf = encode_exact(&r, &len);
    assert_memory_equal(buf + len - 200 - 3 - 12, "\x02\xc8\x01", 3);
    assert_memory_equal(buf + len - 12, "\x03\x0a", 2);
    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_record_equal(&r, &d);

    /* known extensions not as this version writes them: corrupt */
    full_record(&r, attrs, sizeof(attrs));
    free(buf);
    buf = encode_exact(&r, &len);
    bad = malloc(len + 8);
    assert_non_null(bad);

    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        memcpy(bad, buf, len);
        memcpy(bad + len, wrong[i].ext, wrong[i].len);
        assert_case_int_equal(ngx_cx_record_decode(bad, len + wrong[i].len,
                                                   &d),
                              -1, i, wrong[i].name);
    }

    /* a follow-up field with data NULL is not valid */
    r.followup.data = NULL;
    r.followup.len = 1;
    assert_int_equal(ngx_cx_record_valid(&r), 0);

    free(bad);
    free(buf);
}


/* Extension 4: the answering browser's device class, one known byte. */

static void
test_record_device(void **state)
{
    size_t           len, i;
    unsigned char    attrs[64], *buf, *bad;
    ngx_cx_record_t  r, d;
    ngx_cx_change_t  ch;
    const char      *err;

    static const struct {
        unsigned char  ext[6];
        size_t         len;
        const char    *name;
    } wrong[] = {
        { { 0x04, 0x01, 0x00 }, 3, "device 0 (unknown is not written)" },
        { { 0x04, 0x01, 0x03 }, 3, "device 3" },
        { { 0x04, 0x02, 0x01, 0x01 }, 4, "two bytes" },
        { { 0x04, 0x01, 0x01, 0x04, 0x01, 0x02 }, 6, "twice" },
    };

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    r.device = NGX_CX_DEVICE_MOBILE;

    buf = encode_exact(&r, &len);
    assert_memory_equal(buf + len - 3, "\x04\x01\x02", 3);
    assert_int_equal(ngx_cx_record_decode(buf, len, &d), 0);
    assert_record_equal(&r, &d);

    /* before it: unknown */
    assert_int_equal(ngx_cx_record_decode(buf, len - 3, &d), 0);
    assert_int_equal(d.device, NGX_CX_DEVICE_UNKNOWN);

    bad = malloc(len + 8);
    assert_non_null(bad);

    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        memcpy(bad, buf, len - 3);
        memcpy(bad + len - 3, wrong[i].ext, wrong[i].len);
        assert_case_int_equal(ngx_cx_record_decode(bad, len - 3 + wrong[i].len,
                                                   &d),
                              -1, i, wrong[i].name);
    }

    r.device = NGX_CX_DEVICE_MAX + 1;
    assert_int_equal(ngx_cx_record_valid(&r), 0);

    /* an answer sets it */
    full_record(&r, attrs, sizeof(attrs));
    r.flags = 0;
    memset(&ch, 0, sizeof(ch));
    ch.event = NGX_CX_EVENT_ANSWER;
    ch.score = 3;
    ch.device = NGX_CX_DEVICE_DESKTOP;
    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err), NGX_CX_APPLY_CHANGED);
    assert_int_equal(r.device, NGX_CX_DEVICE_DESKTOP);

    free(bad);
    free(buf);
}


/* an answer keeps the follow-up the intake found for it, or none */

static void
test_record_apply_followup(void **state)
{
    const char       *err;
    ngx_cx_record_t   r;
    ngx_cx_change_t   ch;

    (void) state;

    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_NPS;
    r.attr_numbers = 2;

    memset(&ch, 0, sizeof(ch));
    ch.event = NGX_CX_EVENT_ANSWER;
    ch.score = 3;
    ch.followup = (ngx_cx_bytes_t) BYTES("What should we do better?");

    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_bytes_equal(r.followup, ch.followup);
    assert_true(r.attr_numbers == 2);

    /* the comment after it leaves it */
    ch.event = NGX_CX_EVENT_COMMENT;
    ch.comment = (ngx_cx_bytes_t) BYTES("Faster");
    ch.followup = (ngx_cx_bytes_t) BYTES("other");
    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_memory_equal(r.followup.data, "What", 4);

    /* no follow-up for the answer */
    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_NPS;
    ch.event = NGX_CX_EVENT_ANSWER;
    ch.followup.data = NULL;
    ch.followup.len = 0;
    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_int_equal(r.followup.len, 0);
}


/* attributes as a token carries them: with their numbers when any */

static void
test_attrs_pack(void **state)
{
    size_t           n;
    uint64_t         numbers;
    unsigned char    blob[32], out[64];
    ngx_cx_bytes_t   b, got;

    (void) state;

    n = ngx_cx_attrs_put(blob, sizeof(blob), "total", 5, "42", 2);
    n += ngx_cx_attrs_put(blob + n, sizeof(blob) - n, "plan", 4, "pro", 3);
    b.data = blob;
    b.len = n;

    /* no numbers: the blob as it is, as tokens always carried it */
    assert_int_equal(ngx_cx_attrs_pack(out, sizeof(out), b, 0), n);
    assert_memory_equal(out, blob, n);
    assert_int_equal(ngx_cx_attrs_unpack(out, n, &got, &numbers), 0);
    assert_ptr_equal(got.data, out);
    assert_int_equal(got.len, n);
    assert_true(numbers == 0);

    /* the first pair a number: 0, the mask little-endian, the blob */
    assert_int_equal(ngx_cx_attrs_pack(out, sizeof(out), b, 0x8001), n + 3);
    assert_memory_equal(out, "\x00\x01\x80", 3);
    assert_memory_equal(out + 3, blob, n);
    assert_int_equal(ngx_cx_attrs_unpack(out, n + 3, &got, &numbers), 0);
    assert_ptr_equal(got.data, out + 3);
    assert_int_equal(got.len, n);
    assert_true(numbers == 0x8001);

    /* it must fit, header included */
    assert_int_equal(ngx_cx_attrs_pack(out, n + 2, b, 1), 0);
    assert_int_equal(ngx_cx_attrs_pack(out, n + 3, b, 1), n + 3);
    assert_int_equal(ngx_cx_attrs_pack(out, n - 1, b, 0), 0);

    /* nothing at all; a header cut short */
    b.data = NULL;
    b.len = 0;
    assert_int_equal(ngx_cx_attrs_pack(out, sizeof(out), b, 0), 0);
    assert_int_equal(ngx_cx_attrs_unpack(out, 0, &got, &numbers), 0);
    assert_int_equal(got.len, 0);
    assert_int_equal(ngx_cx_attrs_unpack((const unsigned char *) "\0\1", 2,
                                         &got, &numbers), -1);
}


/* an answer takes the previous score the intake found, if on its scale */

static void
test_record_apply_previous(void **state)
{
    const char       *err;
    ngx_cx_record_t   r;
    ngx_cx_change_t   ch;

    (void) state;

    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_CSAT;
    r.flags = NGX_CX_REC_DISPLAYED;

    memset(&ch, 0, sizeof(ch));
    ch.event = NGX_CX_EVENT_ANSWER;
    ch.score = 5;
    ch.has_previous = 1;
    ch.previous_score = 2;

    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_int_equal(r.has_previous, 1);
    assert_int_equal(r.previous_score, 2);

    /* a previous answer off this scale (the survey changed type): none */
    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_CSAT;
    ch.previous_score = 9;
    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_int_equal(r.has_previous, 0);

    /* no previous answer */
    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_CSAT;
    ch.has_previous = 0;
    assert_int_equal(ngx_cx_record_apply(&r, &ch, &err),
                     NGX_CX_APPLY_CHANGED);
    assert_int_equal(r.has_previous, 0);
}


static void
expect_corrupt(const unsigned char *src, size_t len)
{
    unsigned char    *copy;
    ngx_cx_record_t   d;

    copy = dup_exact(src, len);
    assert_int_equal(ngx_cx_record_decode(copy, len, &d), -1);
    free(copy);
}


static void
test_record_corrupt_headers(void **state)
{
    size_t           len;
    unsigned char    attrs[64], *buf, *bad;
    ngx_cx_record_t  r;

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    buf = encode_exact(&r, &len);
    bad = malloc(len);
    assert_non_null(bad);

#define MUTATE(off, val)                                                     \
    memcpy(bad, buf, len); bad[off] = (val); expect_corrupt(bad, len)

    MUTATE(0, 0);                       /* version 0 */
    MUTATE(0, 2);                       /* version 2 */
    MUTATE(1, 0x10);                    /* unknown flag bit */
    MUTATE(1, 0x8f);
    MUTATE(2, 0);                       /* type 0 */
    MUTATE(2, 4);                       /* type 4 */
    MUTATE(3, NGX_CX_STAGE_MAX + 1);    /* stage 7 */
    MUTATE(4, 11);                      /* NPS score 11 */
    MUTATE(4, 0xff);

#undef MUTATE

    /* an answered CSAT with 0, a CES with 8 */
    memcpy(bad, buf, len);
    bad[2] = NGX_CX_TYPE_CSAT;
    bad[4] = 5;
    {
        ngx_cx_record_t  d;

        assert_int_equal(ngx_cx_record_decode(bad, len, &d), 0);
        assert_int_equal(d.score, 5);
    }
    bad[4] = 0;
    expect_corrupt(bad, len);
    bad[2] = NGX_CX_TYPE_CES;
    bad[4] = 8;
    expect_corrupt(bad, len);

    /* not answered, but a score byte is set */
    memcpy(bad, buf, len);
    bad[1] = NGX_CX_REC_DISPLAYED;
    expect_corrupt(bad, len);
    bad[4] = 0;
    {
        ngx_cx_record_t  d;

        assert_int_equal(ngx_cx_record_decode(bad, len, &d), 0);
        assert_int_equal(d.score, 0);
        assert_int_equal(d.flags, NGX_CX_REC_DISPLAYED);
    }

    free(bad);
    free(buf);
}


/*
 * issued_at, the first varint after the header and visitor of a valid
 * unanswered NPS record; the rest of the record follows it as zeros.
 */

typedef struct {
    const char     *name;
    unsigned char   varint[11];
    size_t          len;
    int             rc;
    uint64_t        issued_at;
} varint_case_t;


static void
test_record_corrupt_varints(void **state)
{
    static const varint_case_t  cases[] = {
        { "two-byte 0: not the shortest form", { 0x80, 0x00 }, 2, -1, 0 },
        { "0 in the shortest form", { 0x00 }, 1, 0, 0 },
        { "2^64: a tenth byte with more than bit 63",
          { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 },
          10, -1, 0 },
        { "UINT64_MAX",
          { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 },
          10, 0, UINT64_MAX },
        { "eleven bytes",
          { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x01 },
          11, -1, 0 },
    };

    size_t                n, i;
    unsigned char         rec[64], *copy;
    ngx_cx_record_t       d;
    const varint_case_t  *c;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];

        memset(rec, 0, sizeof(rec));
        rec[0] = 1;
        rec[2] = NGX_CX_TYPE_NPS;
        memcpy(rec + 17, c->varint, c->len);
        n = 17 + c->len + 4 + 6;

        copy = dup_exact(rec, n);
        assert_case_int_equal(ngx_cx_record_decode(copy, n, &d), c->rc,
                              i, c->name);

        if (c->rc == 0) {
            assert_case_true(d.issued_at_ms == c->issued_at, i, c->name);
        }

        free(copy);
    }

    /* a survey length beyond the end, and one near 2^63 */
    n = 17 + 5;
    memset(rec, 0, sizeof(rec));
    rec[0] = 1;
    rec[2] = NGX_CX_TYPE_NPS;
    rec[n] = 6;                 /* survey: 6 bytes, only 5 remain */
    expect_corrupt(rec, n + 1 + 5);
    memset(rec + n, 0xff, 9);
    rec[n + 8] = 0x7f;
    memset(rec + n + 9, 0, 5);
    expect_corrupt(rec, n + 9 + 5);
}


static void
test_record_corrupt_attrs_inside(void **state)
{
    size_t           len;
    unsigned char    attrs[8], *buf;
    ngx_cx_record_t  r;

    (void) state;

    memset(&r, 0, sizeof(r));
    r.type = NGX_CX_TYPE_CSAT;

    /* key_len 2 but only 1 byte of key, no value length */
    attrs[0] = 2;
    attrs[1] = 'k';
    r.attrs.data = attrs;
    r.attrs.len = 2;
    assert_int_equal(ngx_cx_record_valid(&r), 0);

    /* encode anyway: the decoder must catch it */
    len = ngx_cx_record_size(&r);
    buf = malloc(len);
    assert_non_null(buf);
    ngx_cx_record_encode(buf, &r);
    expect_corrupt(buf, len);
    free(buf);
}


/*
 * ngx_cx_record_valid() of full_record() with some fields changed: a flag
 * it does not know, type, stage, the score for each type and whether it
 * counts (answered), and a comment with no data.
 */

enum {
    COMMENT_AS_IS,
    COMMENT_NULL,           /* data NULL, the length kept */
    COMMENT_NULL_EMPTY      /* data NULL, length 0 */
};

typedef struct {
    const char  *name;
    unsigned     flags;
    int          type;
    int          stage;
    int          score;
    int          comment;
    int          valid;
} valid_case_t;


static void
test_record_valid(void **state)
{
    static const valid_case_t  cases[] = {
        { "as built", FULL_FLAGS, NGX_CX_TYPE_NPS, 3, 9, COMMENT_AS_IS, 1 },
        { "unknown flag", FULL_FLAGS | 0x10, NGX_CX_TYPE_NPS, 3, 9,
          COMMENT_AS_IS, 0 },
        { "type 0", FULL_FLAGS, 0, 3, 9, COMMENT_AS_IS, 0 },
        { "type 4", FULL_FLAGS, 4, 3, 9, COMMENT_AS_IS, 0 },
        { "stage 7", FULL_FLAGS, NGX_CX_TYPE_NPS, 7, 9, COMMENT_AS_IS, 0 },
        { "stage 0", FULL_FLAGS, NGX_CX_TYPE_NPS, 0, 9, COMMENT_AS_IS, 1 },
        { "NPS -1", FULL_FLAGS, NGX_CX_TYPE_NPS, 0, -1, COMMENT_AS_IS, 0 },
        { "NPS 11", FULL_FLAGS, NGX_CX_TYPE_NPS, 0, 11, COMMENT_AS_IS, 0 },
        { "NPS 11 unanswered", FULL_FLAGS & ~NGX_CX_REC_ANSWERED,
          NGX_CX_TYPE_NPS, 0, 11, COMMENT_AS_IS, 1 },
        { "CSAT 0", FULL_FLAGS, NGX_CX_TYPE_CSAT, 0, 0, COMMENT_AS_IS, 0 },
        { "CSAT 5", FULL_FLAGS, NGX_CX_TYPE_CSAT, 0, 5, COMMENT_AS_IS, 1 },
        { "CES 7", FULL_FLAGS, NGX_CX_TYPE_CES, 0, 7, COMMENT_AS_IS, 1 },
        { "CES 8", FULL_FLAGS, NGX_CX_TYPE_CES, 0, 8, COMMENT_AS_IS, 0 },
        { "comment NULL", FULL_FLAGS, NGX_CX_TYPE_CES, 0, 1, COMMENT_NULL,
          0 },
        { "comment NULL, empty", FULL_FLAGS, NGX_CX_TYPE_CES, 0, 1,
          COMMENT_NULL_EMPTY, 1 },
    };

    size_t               i;
    unsigned char        attrs[64];
    ngx_cx_record_t      r;
    const valid_case_t  *c;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];

        full_record(&r, attrs, sizeof(attrs));

        r.flags = c->flags;
        r.type = c->type;
        r.stage = c->stage;
        r.score = c->score;

        if (c->comment != COMMENT_AS_IS) {
            r.comment.data = NULL;
        }

        if (c->comment == COMMENT_NULL_EMPTY) {
            r.comment.len = 0;
        }

        assert_case_int_equal(ngx_cx_record_valid(&r), c->valid, i, c->name);
    }
}


/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t  rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}


static void
check_decoded_sane(const unsigned char *buf, size_t len,
    const ngx_cx_record_t *d)
{
    int                    rc;
    ngx_cx_bytes_t         cur, k, v;
    size_t                 i, total;
    const ngx_cx_bytes_t  *f[] = { &d->survey, &d->touchpoint, &d->lang,
                                   &d->path, &d->comment, &d->attrs };

    total = 17;

    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        assert_true(f[i]->data >= buf);
        assert_true(f[i]->len <= len);
        assert_true(f[i]->data + f[i]->len <= buf + len);
        total += f[i]->len;
    }

    assert_true(total <= len);
    assert_int_equal(ngx_cx_record_valid(d), 1);
    assert_true(ngx_cx_record_size(d) <= len);

    cur = d->attrs;

    while ((rc = ngx_cx_attrs_next(&cur, &k, &v)) == 1) {
        assert_true(k.data + k.len <= buf + len);
        assert_true(v.data + v.len <= buf + len);
    }

    assert_int_equal(rc, 0);
}


static void
test_record_random_flips(void **state)
{
    int              i, j, flips, ok;
    size_t           len, pos, cut;
    unsigned char    attrs[64], *buf, *bad;
    ngx_cx_record_t  r, d;

    (void) state;

    full_record(&r, attrs, sizeof(attrs));
    buf = encode_exact(&r, &len);
    ok = 0;

    for (i = 0; i < 200000; i++) {
        bad = dup_exact(buf, len);
        flips = 1 + (int) (rng() % 3);

        for (j = 0; j < flips; j++) {
            pos = (size_t) (rng() % len);

            if (rng() & 1) {
                bad[pos] ^= (unsigned char) (1u << (rng() % 8));

            } else {
                bad[pos] = (unsigned char) rng();
            }
        }

        /* sometimes also cut or look at a random prefix */
        cut = (rng() % 4 == 0) ? (size_t) (rng() % (len + 1)) : len;

        if (ngx_cx_record_decode(bad, cut, &d) == 0) {
            check_decoded_sane(bad, cut, &d);
            ok++;
        }

        free(bad);
    }

    /* flips in text bytes keep a record valid: both outcomes are exercised */
    assert_true(ok > 0);
    assert_true(ok < 200000);

    /* fully random buffers */
    for (i = 0; i < 100000; i++) {
        len = (size_t) (rng() % 64);
        bad = malloc(len ? len : 1);
        assert_non_null(bad);

        for (pos = 0; pos < len; pos++) {
            bad[pos] = (unsigned char) rng();
        }

        if (len) {
            bad[0] = 1;
        }

        if (ngx_cx_record_decode(bad, len, &d) == 0) {
            check_decoded_sane(bad, len, &d);
        }

        free(bad);
    }

    free(buf);
}


/* ---- attributes -------------------------------------------------------- */

static void
test_attrs_put_and_iterate(void **state)
{
    static const unsigned char  expect[] = {
        0x01, 'a', 0x02, 0x00, 'x', 'y',
        0x03, 'k', 'e', 'y', 0x00, 0x00,
        0x01, 'b', 0x2c, 0x01
    };

    unsigned char   blob[512], big[300];
    size_t          n, m;
    ngx_cx_bytes_t  cur, key, val;

    (void) state;

    memset(big, 'z', sizeof(big));

    n = ngx_cx_attrs_put(blob, sizeof(blob), "a", 1, "xy", 2);
    assert_int_equal(n, 6);
    m = ngx_cx_attrs_put(blob + n, sizeof(blob) - n, "key", 3, NULL, 0);
    assert_int_equal(m, 6);
    n += m;
    m = ngx_cx_attrs_put(blob + n, sizeof(blob) - n, "b", 1,
                         (const char *) big, 300);
    assert_int_equal(m, 1 + 1 + 2 + 300);

    /* the header bytes are exact; 300 = 0x012c little-endian */
    assert_memory_equal(blob, expect, sizeof(expect));
    n += m;

    cur.data = blob;
    cur.len = n;

    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 1);
    assert_int_equal(key.len, 1);
    assert_memory_equal(key.data, "a", 1);
    assert_int_equal(val.len, 2);
    assert_memory_equal(val.data, "xy", 2);

    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 1);
    assert_int_equal(key.len, 3);
    assert_memory_equal(key.data, "key", 3);
    assert_int_equal(val.len, 0);

    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 1);
    assert_int_equal(key.len, 1);
    assert_int_equal(val.len, 300);
    assert_ptr_equal(val.data, blob + 16);

    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 0);
    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 0);

    /* an empty blob, even with a NULL pointer */
    cur.data = NULL;
    cur.len = 0;
    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 0);
}


static void
test_attrs_put_refuses(void **state)
{
    unsigned char  blob[16];
    char           key[257];
    size_t         i;

    (void) state;

    memset(key, 'k', sizeof(key));
    memset(blob, 0xee, sizeof(blob));

    /* exactly fits, then one byte short */
    assert_int_equal(ngx_cx_attrs_put(blob, 9, "key", 3, "abc", 3), 9);
    memset(blob, 0xee, sizeof(blob));
    assert_int_equal(ngx_cx_attrs_put(blob, 8, "key", 3, "abc", 3), 0);
    assert_int_equal(ngx_cx_attrs_put(blob, 0, "k", 1, NULL, 0), 0);
    assert_int_equal(ngx_cx_attrs_put(NULL, 100, "k", 1, NULL, 0), 0);

    /* empty or over-long keys, over-long values */
    assert_int_equal(ngx_cx_attrs_put(blob, sizeof(blob), "", 0, "v", 1), 0);
    assert_int_equal(ngx_cx_attrs_put(blob, sizeof(blob), key, 256, "", 0),
                     0);
    assert_int_equal(ngx_cx_attrs_put(blob, sizeof(blob), "k", 1, key,
                                      NGX_CX_ATTR_VAL_MAX + 1), 0);

    /* nothing was written by any refused call */
    for (i = 0; i < sizeof(blob); i++) {
        assert_int_equal(blob[i], 0xee);
    }
}


static void
expect_attrs_corrupt(const unsigned char *blob, size_t len, int good_pairs)
{
    int             i;
    unsigned char  *copy;
    ngx_cx_bytes_t  cur, saved, key, val;

    copy = dup_exact(blob, len);
    cur.data = copy;
    cur.len = len;

    for (i = 0; i < good_pairs; i++) {
        assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), 1);
    }

    saved = cur;
    key.data = NULL;
    key.len = 77;
    val = key;

    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), -1);
    assert_ptr_equal(cur.data, saved.data);
    assert_int_equal(cur.len, saved.len);
    assert_int_equal(key.len, 77);
    assert_int_equal(val.len, 77);

    /* stays corrupt */
    assert_int_equal(ngx_cx_attrs_next(&cur, &key, &val), -1);

    free(copy);
}


static void
test_attrs_corrupt(void **state)
{
    static const unsigned char  empty_key[] = { 0x00, 0x00, 0x00 };
    static const unsigned char  short_key[] = { 0x05, 'a', 'b' };
    static const unsigned char  no_vlen[] = { 0x01, 'a' };
    static const unsigned char  half_vlen[] = { 0x01, 'a', 0x01 };
    static const unsigned char  short_val[] = { 0x01, 'a', 0x03, 0x00, 'x' };
    static const unsigned char  huge_val[] = { 0x01, 'a', 0xff, 0xff, 'x' };
    static const unsigned char  good_then_bad[] = {
        0x01, 'a', 0x01, 0x00, 'x',
        0x02, 'b'
    };

    (void) state;

    expect_attrs_corrupt(empty_key, sizeof(empty_key), 0);
    expect_attrs_corrupt(short_key, sizeof(short_key), 0);
    expect_attrs_corrupt(no_vlen, sizeof(no_vlen), 0);
    expect_attrs_corrupt(half_vlen, sizeof(half_vlen), 0);
    expect_attrs_corrupt(short_val, sizeof(short_val), 0);
    expect_attrs_corrupt(huge_val, sizeof(huge_val), 0);
    expect_attrs_corrupt(good_then_bad, sizeof(good_then_bad), 1);
}


/* ---- dates ------------------------------------------------------------- */

static void
test_dates_format(void **state)
{
    char  iso[NGX_CX_ISO8601_SIZE], ymd[NGX_CX_YMD_SIZE];

    (void) state;

    assert_int_equal(ngx_cx_iso8601(iso, 0), 20);
    assert_string_equal(iso, "1970-01-01T00:00:00Z");
    assert_int_equal(ngx_cx_ymd(ymd, 0), 10);
    assert_string_equal(ymd, "1970-01-01");

    assert_int_equal(ngx_cx_iso8601(iso, 1795456800000ULL), 20);
    assert_string_equal(iso, "2026-11-23T18:00:00Z");
    assert_int_equal(ngx_cx_ymd(ymd, 1795456800000ULL), 10);
    assert_string_equal(ymd, "2026-11-23");

    /* milliseconds are truncated, never rounded up */
    ngx_cx_iso8601(iso, 1795456800999ULL);
    assert_string_equal(iso, "2026-11-23T18:00:00Z");

    /* the last millisecond of a day and the first of the next */
    ngx_cx_iso8601(iso, 1795392000000ULL - 1);
    assert_string_equal(iso, "2026-11-22T23:59:59Z");
    ngx_cx_ymd(ymd, 1795392000000ULL - 1);
    assert_string_equal(ymd, "2026-11-22");
    ngx_cx_ymd(ymd, 1795392000000ULL);
    assert_string_equal(ymd, "2026-11-23");

    ngx_cx_iso8601(iso, 1709164800000ULL + 12 * 3600000ULL + 34 * 60000
                   + 56000);
    assert_string_equal(iso, "2024-02-29T12:34:56Z");
    ngx_cx_iso8601(iso, 951782400000ULL);
    assert_string_equal(iso, "2000-02-29T00:00:00Z");

    /* the end of four-digit years, and clamping beyond it */
    ngx_cx_iso8601(iso, 253402300799000ULL);
    assert_string_equal(iso, "9999-12-31T23:59:59Z");
    ngx_cx_iso8601(iso, 253402300800000ULL);
    assert_string_equal(iso, "9999-12-31T23:59:59Z");
    assert_int_equal(ngx_cx_iso8601(iso, UINT64_MAX), 20);
    assert_string_equal(iso, "9999-12-31T23:59:59Z");
    assert_int_equal(ngx_cx_ymd(ymd, UINT64_MAX), 10);
    assert_string_equal(ymd, "9999-12-31");
}


static int
parse(const char *s, uint64_t *ms)
{
    int             rc;
    size_t          len;
    unsigned char  *copy;

    len = strlen(s);
    copy = dup_exact((const unsigned char *) s, len);
    rc = ngx_cx_parse_ymd(copy, len, ms);
    free(copy);

    return rc;
}


static void
test_dates_parse(void **state)
{
    uint64_t  ms;

    (void) state;

    assert_int_equal(parse("1970-01-01", &ms), 0);
    assert_true(ms == 0);
    assert_int_equal(parse("2026-11-23", &ms), 0);
    assert_true(ms == 1795392000000ULL);
    assert_int_equal(parse("2024-02-29", &ms), 0);
    assert_true(ms == 1709164800000ULL);
    assert_int_equal(parse("2000-02-29", &ms), 0);
    assert_true(ms == 951782400000ULL);
    assert_int_equal(parse("9999-12-31", &ms), 0);
    assert_true(ms == 253402300800000ULL - 86400000ULL);
    assert_int_equal(parse("2026-12-31", &ms), 0);
    assert_int_equal(parse("2026-04-30", &ms), 0);

    ms = 42;
    assert_int_equal(parse("2100-02-29", &ms), -1);
    assert_int_equal(parse("1900-02-29", &ms), -1);
    assert_int_equal(parse("2023-02-29", &ms), -1);
    assert_int_equal(parse("2024-02-30", &ms), -1);
    assert_int_equal(parse("2026-04-31", &ms), -1);
    assert_int_equal(parse("2026-13-01", &ms), -1);
    assert_int_equal(parse("2026-00-10", &ms), -1);
    assert_int_equal(parse("2026-11-00", &ms), -1);
    assert_int_equal(parse("2026-11-32", &ms), -1);
    assert_int_equal(parse("1969-12-31", &ms), -1);
    assert_int_equal(parse("0000-01-01", &ms), -1);
    assert_int_equal(parse("2026-1-23", &ms), -1);
    assert_int_equal(parse("2026-11-3", &ms), -1);
    assert_int_equal(parse("2026/11/23", &ms), -1);
    assert_int_equal(parse("2026-11-23 ", &ms), -1);
    assert_int_equal(parse(" 2026-11-2", &ms), -1);
    assert_int_equal(parse("+026-11-23", &ms), -1);
    assert_int_equal(parse("2026-+1-23", &ms), -1);
    assert_int_equal(parse("2026-11-2x", &ms), -1);
    assert_int_equal(parse("20261123", &ms), -1);
    assert_int_equal(parse("", &ms), -1);
    assert_true(ms == 42);
    assert_int_equal(ngx_cx_parse_ymd(NULL, 0, &ms), -1);
}


static void
test_dates_against_gmtime(void **state)
{
    int         i;
    char        iso[NGX_CX_ISO8601_SIZE], ymd[NGX_CX_YMD_SIZE], want[32];
    time_t      t;
    uint64_t    ms, day, back;
    struct tm   tm;

    (void) state;

    assert_true(sizeof(time_t) >= 8);

    /* every day 1970..2500: format, parse back, compare with gmtime_r */
    for (day = 0; day < 194000; day++) {
        ms = day * 86400000ULL + 86399999ULL;
        t = (time_t) (ms / 1000);
        assert_non_null(gmtime_r(&t, &tm));
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);

        ngx_cx_iso8601(iso, ms);
        assert_string_equal(iso, want);

        assert_int_equal(ngx_cx_ymd(ymd, ms), 10);
        assert_memory_equal(ymd, want, 10);

        assert_int_equal(ngx_cx_parse_ymd((unsigned char *) ymd, 10, &back),
                         0);
        assert_true(back == day * 86400000ULL);
    }

    /* random instants up to year 9999 */
    for (i = 0; i < 200000; i++) {
        ms = rng() % 253402300800000ULL;
        t = (time_t) (ms / 1000);
        assert_non_null(gmtime_r(&t, &tm));
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);

        ngx_cx_iso8601(iso, ms);
        assert_string_equal(iso, want);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_record_golden_bytes),
        cmocka_unit_test(test_record_round_trip_all_fields),
        cmocka_unit_test(test_record_empty_fields),
        cmocka_unit_test(test_record_max_sizes),
        cmocka_unit_test(test_record_every_truncation_rejected),
        cmocka_unit_test(test_record_extensions),
        cmocka_unit_test(test_record_previous_score),
        cmocka_unit_test(test_record_apply_previous),
        cmocka_unit_test(test_record_followup_and_numbers),
        cmocka_unit_test(test_record_apply_followup),
        cmocka_unit_test(test_record_device),
        cmocka_unit_test(test_attrs_pack),
        cmocka_unit_test(test_record_corrupt_headers),
        cmocka_unit_test(test_record_corrupt_varints),
        cmocka_unit_test(test_record_corrupt_attrs_inside),
        cmocka_unit_test(test_record_valid),
        cmocka_unit_test(test_record_random_flips),
        cmocka_unit_test(test_attrs_put_and_iterate),
        cmocka_unit_test(test_attrs_put_refuses),
        cmocka_unit_test(test_attrs_corrupt),
        cmocka_unit_test(test_dates_format),
        cmocka_unit_test(test_dates_parse),
        cmocka_unit_test(test_dates_against_gmtime),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
