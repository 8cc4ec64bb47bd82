/*
 * Unit tests for ngx_cx_json: the intake body parser, the JSON string
 * escaper and the UTF-8 validator.
 *
 * Every body is copied into a heap buffer of exactly its length, and the
 * scratch buffer is exactly as long, so under -fsanitize=address a single
 * byte read past the body or written past the scratch fails the test.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_cx_json.h"


#define LIT(s)  (const unsigned char *) (s), (sizeof(s) - 1)

#define APPEND(p, s)  (memcpy(p, s, sizeof(s) - 1), (p) += sizeof(s) - 1)

#define MALFORMED  "malformed JSON"
#define BAD_UTF8   "invalid UTF-8"
#define NOT_INT    "score must be an integer"


typedef struct {
    unsigned char    *body_mem;
    unsigned char    *scratch_mem;
    unsigned char    *body;
    unsigned char    *scratch;
    size_t            len;
    ngx_cx_intake_t   in;
    const char       *err;
    int               rc;
} parsed_t;


static void
parse_n(parsed_t *r, const unsigned char *body, size_t len, size_t max)
{
    /* both buffers end exactly at the end of their allocation, so one
     * byte too far is a redzone hit; the spare byte in front keeps the
     * pointers real when len is 0 (malloc(0) may return NULL) */
    r->body_mem = malloc(len + 1);
    r->scratch_mem = malloc(len + 1);
    assert_non_null(r->body_mem);
    assert_non_null(r->scratch_mem);
    r->body = r->body_mem + 1;
    r->scratch = r->scratch_mem + 1;

    memcpy(r->body, body, len);
    r->len = len;

    r->rc = ngx_cx_intake_parse(r->body, len, r->scratch, max, &r->in,
                                &r->err);

    if (r->rc == 0) {
        assert_null(r->err);
        assert_true(r->in.token_len > 0);
        assert_true(r->in.token >= r->scratch);
        assert_true(r->in.token + r->in.token_len <= r->scratch + len);
        assert_int_not_equal(r->in.event, NGX_CX_EVENT_NONE);

        if (r->in.has_comment) {
            assert_true(r->in.comment >= r->scratch);
            assert_true(r->in.comment + r->in.comment_len <= r->scratch + len);
            assert_true(r->in.comment_chars <= max);
        }

    } else {
        assert_int_equal(r->rc, -1);
        assert_non_null(r->err);
    }
}


static void
parsed_free(parsed_t *r)
{
    free(r->body_mem);
    free(r->scratch_mem);
}


/* A body alone in an allocation of exactly len bytes, nothing kept. */
static int
parse_at_end(const unsigned char *body, size_t len, const char **err)
{
    unsigned char    *b, *s;
    ngx_cx_intake_t   in;
    int               rc;

    b = malloc(len ? len : 1);
    s = malloc(len ? len : 1);
    assert_non_null(b);
    assert_non_null(s);
    memcpy(b, body, len);

    rc = ngx_cx_intake_parse(b, len, s, 2000, &in, err);

    free(b);
    free(s);
    return rc;
}


static void
assert_bytes(const unsigned char *got, size_t got_len, const void *want,
    size_t want_len)
{
    size_t  i;

    if (got_len != want_len || memcmp(got, want, want_len) != 0) {
        print_error("got %zu bytes:", got_len);
        for (i = 0; i < got_len; i++) {
            print_error(" %02x", got[i]);
        }
        print_error("\nwant %zu bytes:", want_len);
        for (i = 0; i < want_len; i++) {
            print_error(" %02x", ((const unsigned char *) want)[i]);
        }
        print_error("\n");
        fail();
    }
}


/* ---- accepted bodies ---------------------------------------------------- */

static void
test_basic_answer(void **state)
{
    parsed_t  r;

    (void) state;

    parse_n(&r, LIT("{\"token\": \"abc.def\", \"event\": \"answer\", "
                    "\"score\": 9, \"comment\": \"fine\"}"), 2000);

    assert_int_equal(r.rc, 0);
    assert_bytes(r.in.token, r.in.token_len, "abc.def", 7);
    assert_int_equal(r.in.event, NGX_CX_EVENT_ANSWER);
    assert_int_equal(r.in.has_score, 1);
    assert_int_equal(r.in.score, 9);
    assert_int_equal(r.in.has_comment, 1);
    assert_bytes(r.in.comment, r.in.comment_len, "fine", 4);
    assert_int_equal(r.in.comment_chars, 4);

    parsed_free(&r);
}


static void
test_each_event(void **state)
{
    static const struct {
        const char      *body;
        ngx_cx_event_e   event;
    } cases[] = {
        { "{\"token\":\"t\",\"event\":\"display\"}", NGX_CX_EVENT_DISPLAY },
        { "{\"token\":\"t\",\"event\":\"answer\",\"score\":0}",
          NGX_CX_EVENT_ANSWER },
        { "{\"token\":\"t\",\"event\":\"comment\",\"comment\":\"x\"}",
          NGX_CX_EVENT_COMMENT },
        { "{\"token\":\"t\",\"event\":\"dismiss\"}", NGX_CX_EVENT_DISMISS },
    };

    parsed_t  r;
    size_t    i;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_n(&r, (const unsigned char *) cases[i].body,
                strlen(cases[i].body), 2000);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.in.event, cases[i].event);
        parsed_free(&r);
    }

    /* a display carries no score and no comment */
    parse_n(&r, LIT("{\"token\":\"t\",\"event\":\"display\"}"), 2000);
    assert_int_equal(r.in.has_score, 0);
    assert_int_equal(r.in.score, 0);
    assert_int_equal(r.in.has_comment, 0);
    assert_null(r.in.comment);
    assert_int_equal(r.in.comment_len, 0);
    parsed_free(&r);
}


static void
test_any_order_unknown_fields(void **state)
{
    parsed_t  r;

    (void) state;

    parse_n(&r, LIT(" \r\n\t{ \"comment\" :\t\"why\" ,\n"
                    "  \"extra\": {\"a\": [1, -2.5e+3, {\"b\": null}, [], {}],"
                    " \"c\": \"\\u00e9\\ud83d\\ude00\", \"d\": [true, false]},\n"
                    "  \"score\" : -0 ,"
                    "  \"n\": 1.5E-3, \"s\": \"\", \"z\": 0,"
                    "  \"extra\": \"again\","
                    "  \"event\":\"answer\", \"TOKEN\": 5,"
                    "  \"token\" : \"tok\"\n} \n\r\t"), 2000);

    assert_int_equal(r.rc, 0);
    assert_bytes(r.in.token, r.in.token_len, "tok", 3);
    assert_int_equal(r.in.event, NGX_CX_EVENT_ANSWER);
    assert_int_equal(r.in.has_score, 1);
    assert_int_equal(r.in.score, 0);
    assert_bytes(r.in.comment, r.in.comment_len, "why", 3);

    parsed_free(&r);
}


static void
test_escapes_decoded(void **state)
{
    /* every escape RFC 8259 has, \u in both cases, 1- to 4-byte results */
    static const unsigned char  want[] =
        "a\"b\\c/d\b\f\n\r\t" "A" "\xc3\xa9" "\xe2\x82\xac" "\xef\xbf\xbf"
        "\xf0\x9f\x98\x80" "\xf4\x8f\xbf\xbf" "\x7f";

    parsed_t  r;

    (void) state;

    parse_n(&r, LIT("{\"event\":\"comment\",\"token\":\"k\",\"comment\":"
                    "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00E9\\u20ac"
                    "\\uFFFF\\ud83d\\uDE00\\udbff\\udfff\\u007f\"}"), 2000);

    assert_int_equal(r.rc, 0);
    assert_int_equal(r.in.event, NGX_CX_EVENT_COMMENT);
    assert_bytes(r.in.comment, r.in.comment_len, want, sizeof(want) - 1);
    /* a b c d, 8 one-char escapes, A, é, €, U+FFFF, two astral, DEL */
    assert_int_equal(r.in.comment_chars, 19);

    parsed_free(&r);
}


static void
test_emoji_surrogate_pair(void **state)
{
    parsed_t  r;

    (void) state;

    /* U+1F44D THUMBS UP as a pair, and the same raw: both one code point */
    parse_n(&r, LIT("{\"token\":\"\\ud83d\\udc4d\",\"event\":\"comment\","
                    "\"comment\":\"\xf0\x9f\x91\x8d\"}"), 1);

    assert_int_equal(r.rc, 0);
    assert_bytes(r.in.token, r.in.token_len, "\xf0\x9f\x91\x8d", 4);
    assert_bytes(r.in.comment, r.in.comment_len, "\xf0\x9f\x91\x8d", 4);
    assert_int_equal(r.in.comment_chars, 1);

    parsed_free(&r);
}


static void
test_escaped_field_names(void **state)
{
    parsed_t  r;

    (void) state;

    /* names are compared decoded, so escaping cannot smuggle a second
     * token past the duplicate check */
    parse_n(&r, LIT("{\"\\u0074oken\":\"a\",\"ev\\u0065nt\":\"dismiss\"}"),
            2000);
    assert_int_equal(r.rc, 0);
    assert_bytes(r.in.token, r.in.token_len, "a", 1);
    assert_int_equal(r.in.event, NGX_CX_EVENT_DISMISS);
    parsed_free(&r);

    parse_n(&r, LIT("{\"token\":\"a\",\"\\u0074oken\":\"b\","
                    "\"event\":\"dismiss\"}"), 2000);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "duplicate field");
    parsed_free(&r);
}


static void
test_comment_limit(void **state)
{
    parsed_t  r;

    (void) state;

    /* "héllo😀" is 6 code points in 10 bytes */
    parse_n(&r, LIT("{\"token\":\"t\",\"event\":\"comment\","
                    "\"comment\":\"h\xc3\xa9llo\\ud83d\\ude00\"}"), 6);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.in.comment_chars, 6);
    assert_int_equal(r.in.comment_len, 10);
    assert_bytes(r.in.comment, r.in.comment_len,
                 "h\xc3\xa9llo\xf0\x9f\x98\x80", 10);
    parsed_free(&r);

    parse_n(&r, LIT("{\"token\":\"t\",\"event\":\"comment\","
                    "\"comment\":\"h\xc3\xa9llo\\ud83d\\ude00\"}"), 5);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "comment is too long");
    parsed_free(&r);

    /* the limit counts code points, not bytes: 2000 × U+00E9 fits */
    {
        unsigned char  body[4200], *p;
        size_t         i;

        p = body;
        APPEND(p, "{\"token\":\"t\",\"event\":\"answer\",\"score\":1,"
                  "\"comment\":\"");
        for (i = 0; i < 2000; i++) {
            *p++ = 0xc3;
            *p++ = 0xa9;
        }
        APPEND(p, "\"}");

        parse_n(&r, body, (size_t) (p - body), 2000);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.in.comment_chars, 2000);
        assert_int_equal(r.in.comment_len, 4000);
        parsed_free(&r);

        parse_n(&r, body, (size_t) (p - body), 1999);
        assert_int_equal(r.rc, -1);
        assert_string_equal(r.err, "comment is too long");
        parsed_free(&r);
    }
}


static void
test_score_values(void **state)
{
    static const struct {
        const char  *score;
        long         value;
    } ok[] = {
        { "0", 0 }, { "-0", 0 }, { "9", 9 }, { "10", 10 }, { "-7", -7 },
        { "1000000", 1000000 }, { "-1000000", -1000000 },
    };
    static const char  *bad[] = {
        "9.0", "1e1", "1E1", "9e0", "-0.0", "0.5", "\"9\"", "true", "false",
        "null", "[9]", "{\"v\":9}", "1000001", "-1000001", "10000000",
        "99999999999999999999999999999999999999",
        "-99999999999999999999999999999999999999",
        "18446744073709551625", "4294967305",   /* 2^64 + 9, 2^32 + 9 */
    };

    char      body[256];
    parsed_t  r;
    size_t    i;
    int       n;

    (void) state;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        n = snprintf(body, sizeof(body),
                     "{\"token\":\"t\",\"event\":\"answer\",\"score\":%s}",
                     ok[i].score);
        parse_n(&r, (unsigned char *) body, (size_t) n, 2000);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.in.has_score, 1);
        assert_int_equal(r.in.score, ok[i].value);
        parsed_free(&r);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = snprintf(body, sizeof(body),
                     "{\"token\":\"t\",\"event\":\"answer\",\"score\":%s}",
                     bad[i]);
        parse_n(&r, (unsigned char *) body, (size_t) n, 2000);
        if (r.rc != -1 || strcmp(r.err, NOT_INT) != 0) {
            print_error("score %s: rc %d, err %s\n", bad[i], r.rc,
                        r.err ? r.err : "(null)");
            fail();
        }
        parsed_free(&r);
    }
}


static void
test_depth_limit(void **state)
{
    unsigned char  body[200], *p;
    parsed_t       r;
    int            levels, i;

    (void) state;

    /* the top-level object is level 1, so 31 arrays reach level 32 */
    for (levels = 31; levels <= 33; levels++) {
        p = body;
        APPEND(p, "{\"token\":\"t\",\"event\":\"display\",\"x\":");
        for (i = 0; i < levels; i++) {
            *p++ = (i % 2) ? '[' : '{';
            if (i % 2 == 0) {
                APPEND(p, "\"k\":");
            }
        }
        *p++ = '1';
        for (i = levels - 1; i >= 0; i--) {
            *p++ = (i % 2) ? ']' : '}';
        }
        *p++ = '}';

        parse_n(&r, body, (size_t) (p - body), 2000);

        if (levels <= 31) {
            assert_int_equal(r.rc, 0);
        } else {
            assert_int_equal(r.rc, -1);
            assert_string_equal(r.err, MALFORMED);
        }

        parsed_free(&r);
    }
}


static void
test_not_nul_terminated(void **state)
{
    const char  *err;

    (void) state;

    /* the parser must stop at len even where the grammar wants more */
    assert_int_equal(parse_at_end(LIT("{\"token\":\"t\",\"event\":\"display\"}"),
                                  &err), 0);
    assert_int_equal(parse_at_end(LIT("{\"token\":\"t\",\"event\":\"display\""),
                                  &err), -1);
    assert_string_equal(err, MALFORMED);
    assert_int_equal(parse_at_end(LIT("{\"x\":tru"), &err), -1);
    assert_int_equal(parse_at_end(LIT("{\"x\":-"), &err), -1);
    assert_int_equal(parse_at_end(LIT("{\"x\":1e"), &err), -1);
    assert_int_equal(parse_at_end(LIT("{\"x\":\"\\u12"), &err), -1);
    assert_int_equal(parse_at_end(LIT("{\"x\":\"\\ud83d"), &err), -1);
    assert_string_equal(err, MALFORMED);
    assert_int_equal(parse_at_end(LIT("{\"x\":\"\\ud83d\\"), &err), -1);
    assert_string_equal(err, MALFORMED);
    assert_int_equal(parse_at_end(LIT("{\"x\":\"\\ud83d\\udc"), &err), -1);
    assert_string_equal(err, MALFORMED);
    assert_int_equal(parse_at_end(LIT("{\"x\":\"\xe2\x82"), &err), -1);
    assert_string_equal(err, BAD_UTF8);
    assert_int_equal(parse_at_end((const unsigned char *) "", 0, &err), -1);
    assert_string_equal(err, MALFORMED);
}


/* ---- rejected bodies ---------------------------------------------------- */

typedef struct {
    const unsigned char  *body;
    size_t                len;
    const char           *err;
} reject_t;

#define REJECT(b, e)  { LIT(b), e }

/* token and event that are fine, to isolate the fault in each case */
#define TE  "\"token\":\"t\",\"event\":\"display\""

/* a body that opens with them, then goes on with rest */
#define REJECT_TE(rest, e)  REJECT("{" TE rest, e)

/* and one with a field x of the value v beside them */
#define REJECT_X(v, e)      REJECT_TE(",\"x\":" v "}", e)


static const reject_t  rejects[] = {
    /* grammar */
    REJECT("", MALFORMED),
    REJECT(" \n", MALFORMED),
    REJECT("null", MALFORMED),
    REJECT("[]", MALFORMED),
    REJECT("[{" TE "}]", MALFORMED),
    REJECT("\"x\"", MALFORMED),
    REJECT("9", MALFORMED),
    REJECT("{", MALFORMED),
    REJECT("}", MALFORMED),
    REJECT_TE("} x", MALFORMED),
    REJECT_TE("}{}", MALFORMED),
    REJECT_TE("}\0", MALFORMED),
    REJECT("\xef\xbb\xbf{" TE "}", MALFORMED),
    REJECT_TE(",}", MALFORMED),
    REJECT("{," TE "}", MALFORMED),
    REJECT("{\"token\":\"t\" \"event\":\"display\"}", MALFORMED),
    REJECT("{\"token\" \"t\",\"event\":\"display\"}", MALFORMED),
    REJECT("{\"token\"=\"t\",\"event\":\"display\"}", MALFORMED),
    REJECT("{'token':'t','event':'display'}", MALFORMED),
    REJECT("{token:\"t\",\"event\":\"display\"}", MALFORMED),
    REJECT_TE(",\"x\"}", MALFORMED),
    REJECT_X("", MALFORMED),
    REJECT_X("1,,\"y\":2", MALFORMED),
    REJECT_X("[1,]", MALFORMED),
    REJECT_X("[,1]", MALFORMED),
    REJECT_X("[1 2]", MALFORMED),
    REJECT_X("[1", MALFORMED),
    REJECT_X("{\"a\"}", MALFORMED),
    REJECT_X("{\"a\":1]", MALFORMED),
    REJECT_X("{1:2}", MALFORMED),
    REJECT_X("{\"a\":1,}", MALFORMED),
    REJECT_X("tru", MALFORMED),
    REJECT_X("True", MALFORMED),
    REJECT_X("nul", MALFORMED),
    REJECT_X("nulls", MALFORMED),
    REJECT_X("undefined", MALFORMED),
    REJECT_X("NaN", MALFORMED),
    REJECT_X("Infinity", MALFORMED),
    REJECT_X("01", MALFORMED),
    REJECT_X("-01", MALFORMED),
    REJECT_X("00", MALFORMED),
    REJECT_X("1.", MALFORMED),
    REJECT_X(".5", MALFORMED),
    REJECT_X("1e", MALFORMED),
    REJECT_X("1e+", MALFORMED),
    REJECT_X("+1", MALFORMED),
    REJECT_X("-", MALFORMED),
    REJECT_X("0x10", MALFORMED),
    REJECT_X("1.5.5", MALFORMED),
    REJECT_X("\"a\x01\"", MALFORMED),
    REJECT_X("\"a\tb\"", MALFORMED),
    REJECT_X("\"a\nb\"", MALFORMED),
    REJECT_X("\"\0\"", MALFORMED),
    REJECT_X("\"\\x41\"", MALFORMED),
    REJECT_X("\"\\'\"", MALFORMED),
    REJECT_X("\"\\U0041\"", MALFORMED),
    REJECT_X("\"\\u12G4\"", MALFORMED),
    REJECT_X("\"\\u12\"", MALFORMED),
    REJECT_X("\"abc", MALFORMED),
    REJECT_X("\"abc\\\"", MALFORMED),
    REJECT("{\"score\":09," TE "}", MALFORMED),
    REJECT("{\"score\":9 9," TE "}", MALFORMED),
    REJECT("{\"token\":\"t\x1f\",\"event\":\"display\"}", MALFORMED),
    /* grammar beats field errors wherever the grammar error is */
    REJECT("{\"score\":\"9\",\"event\":\"answer\",\"token\":\"t\"", MALFORMED),
    REJECT("{\"token\":1,\"event\":\"x\"} ]", MALFORMED),

    /* encoding, anywhere in the body, even in ignored fields */
    REJECT("{\"token\":\"\xff\",\"event\":\"display\"}", BAD_UTF8),
    REJECT_X("\"\xc0\xaf\"", BAD_UTF8),
    REJECT_X("\"\xc1\xbf\"", BAD_UTF8),
    REJECT_X("\"\xe0\x80\xaf\"", BAD_UTF8),
    REJECT_X("\"\xf0\x80\x80\xaf\"", BAD_UTF8),
    REJECT_X("\"\xed\xa0\x80\"", BAD_UTF8),
    REJECT_X("\"\xed\xbf\xbf\"", BAD_UTF8),
    REJECT_X("\"\xf4\x90\x80\x80\"", BAD_UTF8),
    REJECT_X("\"\xf5\x80\x80\x80\"", BAD_UTF8),
    REJECT_X("\"\x80\"", BAD_UTF8),
    REJECT_X("\"\xc3\"", BAD_UTF8),
    REJECT_X("\"\xe2\x82\"", BAD_UTF8),
    REJECT_TE(",\"\xfe\":1}", BAD_UTF8),
    REJECT_TE("}\xe2\x82", BAD_UTF8),
    REJECT_X("[\"\\ud800\"]", BAD_UTF8),
    REJECT_X("\"\\udc00\"", BAD_UTF8),
    REJECT_X("\"\\uDFFF\\uD800\"", BAD_UTF8),
    REJECT_X("\"\\ud800\\u0041\"", BAD_UTF8),
    REJECT_X("\"\\ud800\\udbff\"", BAD_UTF8),
    REJECT_X("\"\\ud800x\"", BAD_UTF8),
    REJECT_X("\"\\ud800\"", BAD_UTF8),
    REJECT_X("\"\\ud800\\n\"", BAD_UTF8),
    REJECT("{\"token\":\"t\",\"event\":\"comment\",\"comment\":\"\\ud83d\"}",
           BAD_UTF8),
    REJECT("{\"score\":1.5,\"token\":\"\xff\"}", BAD_UTF8),

    /* field types */
    REJECT("{\"token\":1,\"event\":\"display\"}", "token must be a string"),
    REJECT("{\"token\":null,\"event\":\"display\"}", "token must be a string"),
    REJECT("{\"token\":[\"t\"],\"event\":\"display\"}",
           "token must be a string"),
    REJECT("{\"token\":\"t\",\"event\":null}", "event must be a string"),
    REJECT("{\"token\":\"t\",\"event\":2}", "event must be a string"),
    REJECT_TE(",\"comment\":null}", "comment must be a string"),
    REJECT_TE(",\"comment\":{}}", "comment must be a string"),
    REJECT_TE(",\"score\":null}", NOT_INT),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"score\":9.0}", NOT_INT),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"score\":1e1}", NOT_INT),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"score\":\"9\"}", NOT_INT),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"score\":true}", NOT_INT),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"score\":1000001}",
           NOT_INT),

    /* event names */
    REJECT("{\"token\":\"t\",\"event\":\"Answer\"}", "unknown event"),
    REJECT("{\"token\":\"t\",\"event\":\"\"}", "unknown event"),
    REJECT("{\"token\":\"t\",\"event\":\"display \"}", "unknown event"),
    REJECT("{\"token\":\"t\",\"event\":\"displayed\"}", "unknown event"),
    REJECT("{\"token\":\"t\",\"event\":\"displa\"}", "unknown event"),
    REJECT("{\"token\":\"t\",\"event\":\"answer\\u0000\",\"score\":1}",
           "unknown event"),

    /* duplicates of known fields */
    REJECT("{\"token\":\"a\",\"token\":\"b\",\"event\":\"display\"}",
           "duplicate field"),
    REJECT_TE(",\"event\":\"display\"}", "duplicate field"),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"score\":1,\"score\":2}",
           "duplicate field"),
    REJECT_TE(",\"comment\":\"a\",\"comment\":\"b\"}", "duplicate field"),
    REJECT_TE(",\"comment\":null,\"comment\":\"b\"}",
           "comment must be a string"),
    REJECT_TE(",\"comment\":\"a\",\"comment\":null}", "duplicate field"),

    /* required fields */
    REJECT("{}", "missing token"),
    REJECT("{\"event\":\"display\"}", "missing token"),
    REJECT("{\"token\":\"\",\"event\":\"display\"}", "missing token"),
    REJECT("{\"token\":\"t\"}", "missing event"),
    REJECT("{\"token\":\"t\",\"score\":5}", "missing event"),
    REJECT("{\"token\":\"t\",\"event\":\"answer\"}",
           "score is required for an answer"),
    REJECT("{\"token\":\"t\",\"event\":\"answer\",\"comment\":\"hi\"}",
           "score is required for an answer"),
    REJECT("{\"token\":\"t\",\"event\":\"comment\"}", "comment is required"),
    REJECT("{\"token\":\"t\",\"event\":\"comment\",\"comment\":\"\"}",
           "comment is required"),
    REJECT("{\"token\":\"t\",\"event\":\"comment\",\"score\":3}",
           "comment is required"),

    /* the first field error in document order wins over later ones and
     * over missing fields */
    REJECT("{\"score\":\"9\",\"token\":1}", NOT_INT),
    REJECT("{\"token\":1,\"score\":\"9\"}", "token must be a string"),
    REJECT("{\"event\":\"x\"}", "unknown event"),
};


static void
test_rejects(void **state)
{
    parsed_t  r;
    size_t    i, j;
    int       bad;

    (void) state;

    bad = 0;

    for (i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        parse_n(&r, rejects[i].body, rejects[i].len, 2000);

        if (r.rc != -1 || strcmp(r.err, rejects[i].err) != 0) {
            print_error("case %zu: body '", i);
            for (j = 0; j < rejects[i].len; j++) {
                unsigned char c = rejects[i].body[j];
                print_error((c >= 0x20 && c < 0x7f) ? "%c" : "\\x%02x", c);
            }
            print_error("'\n  want rc -1 \"%s\", got rc %d \"%s\"\n",
                        rejects[i].err, r.rc, r.err ? r.err : "(null)");
            bad++;
        }

        parsed_free(&r);
    }

    assert_int_equal(bad, 0);
}


static void
test_comment_too_long_message(void **state)
{
    parsed_t  r;

    (void) state;

    parse_n(&r, LIT("{" TE ",\"comment\":\"abcd\"}"), 3);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "comment is too long");
    parsed_free(&r);

    parse_n(&r, LIT("{" TE ",\"comment\":\"abc\"}"), 3);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.in.comment_chars, 3);
    parsed_free(&r);

    /* limit 0 still accepts an empty comment where none is required */
    parse_n(&r, LIT("{" TE ",\"comment\":\"\"}"), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.in.has_comment, 1);
    assert_int_equal(r.in.comment_len, 0);
    parsed_free(&r);
}


/* ---- hostile input ------------------------------------------------------ */

static const unsigned char  valid_body[] =
    "{\"token\":\"v1.abc\\u0041\\ud83d\\ude00\",\"meta\":{\"a\":[1,-2.5e3,"
    "true,false,null,\"\\n\"],\"b\":{}},\"event\":\"answer\",\"score\":10,"
    "\"comment\":\"tr\xc3\xa8s bien \xe2\x82\xac \xf0\x9f\x98\x80\"}";


static uint32_t  rng = 0x2545f491;

static uint32_t
rnd(void)
{
    /* xorshift32: deterministic, so a failure replays */
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}


static void
test_truncations_rejected(void **state)
{
    size_t    len, k;
    parsed_t  r;

    (void) state;

    len = sizeof(valid_body) - 1;

    parse_n(&r, valid_body, len, 2000);
    assert_int_equal(r.rc, 0);
    assert_bytes(r.in.token, r.in.token_len, "v1.abcA\xf0\x9f\x98\x80", 11);
    assert_int_equal(r.in.score, 10);
    assert_bytes(r.in.comment, r.in.comment_len,
                 "tr\xc3\xa8s bien \xe2\x82\xac \xf0\x9f\x98\x80", 19);
    assert_int_equal(r.in.comment_chars, 13);
    parsed_free(&r);

    for (k = 0; k < len; k++) {
        parse_n(&r, valid_body, k, 2000);
        assert_int_equal(r.rc, -1);
        if (strcmp(r.err, MALFORMED) != 0 && strcmp(r.err, BAD_UTF8) != 0) {
            print_error("prefix %zu: %s\n", k, r.err);
            fail();
        }
        parsed_free(&r);

        assert_int_equal(parse_at_end(valid_body, k, &r.err), -1);
    }
}


static void
test_random_bytes(void **state)
{
    static const unsigned char  alphabet[] =
        "{}[]\":,\\ tfnrue0123456789-+.eEu\x80\xbf\xc3\xe2\xf0\xff" "abd"
        "tokeneventscorecommentanswer";

    unsigned char  buf[64];
    parsed_t       r;
    size_t         len, i;
    int            iter;

    (void) state;

    for (iter = 0; iter < 200000; iter++) {
        len = rnd() % sizeof(buf);

        for (i = 0; i < len; i++) {
            buf[i] = (iter & 1) ? (unsigned char) rnd()
                                : alphabet[rnd() % (sizeof(alphabet) - 1)];
        }

        parse_n(&r, buf, len, rnd() % 8);
        parsed_free(&r);
    }
}


static void
test_mutations(void **state)
{
    /* the NUL terminator is a byte worth inserting too */
    static const unsigned char  insert[] = "{}[]\",:\\u0\x80";

    unsigned char  buf[sizeof(valid_body) + 16];
    parsed_t       r;
    size_t         len, pos, n;
    int            iter, m, accepted;

    (void) state;

    accepted = 0;

    for (iter = 0; iter < 200000; iter++) {
        len = sizeof(valid_body) - 1;
        memcpy(buf, valid_body, len);

        for (m = 1 + (int) (rnd() % 3); m > 0; m--) {
            pos = rnd() % len;

            switch (rnd() % 3) {
            case 0:
                buf[pos] = (unsigned char) rnd();
                break;
            case 1:
                if (len > 1) {
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            default:
                if (len < sizeof(buf)) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = insert[rnd() % sizeof(insert)];
                    len++;
                }
                break;
            }
        }

        parse_n(&r, buf, len, 2000);

        if (r.rc == 0) {
            accepted++;
            /* whatever got through is well-formed UTF-8 */
            assert_true(ngx_cx_utf8_valid(r.in.token, r.in.token_len, NULL));
            if (r.in.has_comment) {
                assert_true(ngx_cx_utf8_valid(r.in.comment, r.in.comment_len,
                                              &n));
                assert_int_equal(n, r.in.comment_chars);
            }
        }

        parsed_free(&r);
    }

    /* some mutations (a digit of the score, a letter in an ignored key)
     * keep the body valid; none would mean the loop tests nothing */
    assert_true(accepted > 0);
}


/* ---- escaper ------------------------------------------------------------ */

static void
check_escape(const unsigned char *src, size_t len, const char *want)
{
    unsigned char  *dst, *end;
    size_t          n;

    n = ngx_cx_json_escape_len(src, len);
    dst = malloc(n ? n : 1);
    assert_non_null(dst);

    end = ngx_cx_json_escape(dst, src, len);
    assert_int_equal((size_t) (end - dst), n);
    assert_bytes(dst, n, want, strlen(want));

    free(dst);
}


static void
test_escape_tricky(void **state)
{
    (void) state;

    check_escape(LIT("Say \"hi\" \\ </script><!-- & 'x'\n\t\r\b\f\x01\x1f\x7f"
                     "\xc3\xa9" "\xe2\x80\xa8" "\xe2\x80\xa9"
                     "\xf0\x9f\x98\x80" "\xff" "\xc0\xaf" "\xe2\x82" "A/"
                     "\xed\xa0\x80" "\xf4\x90\x80\x80" "\xef\xbf\xbf"),
                 "Say \\\"hi\\\" \\\\ \\u003c/script\\u003e\\u003c!-- "
                 "\\u0026 \\u0027x\\u0027\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f"
                 "\\u00e9\\u2028\\u2029\\ud83d\\ude00"
                 "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdA/"
                 "\\ufffd\\ufffd\\ufffd"
                 "\\ufffd\\ufffd\\ufffd\\ufffd\\uffff");

    check_escape(LIT(""), "");
    check_escape(LIT("\0"), "\\u0000");
    check_escape(LIT("plain ASCII 123 ~`!@#$%^*()-_=+[]{}|;:,.?"),
                 "plain ASCII 123 ~`!@#$%^*()-_=+[]{}|;:,.?");
    check_escape(LIT("\xf4\x8f\xbf\xbf\xf0\x90\x80\x80\xdf\xbf\xc2\x80"),
                 "\\udbff\\udfff\\ud800\\udc00\\u07ff\\u0080");
    /* a sequence cut by the end of input */
    check_escape(LIT("a\xf0\x9f\x98"), "a\\ufffd\\ufffd\\ufffd");
}


/* Reference UTF-8 decoding, written from the definition rather than from the
 * byte-range table the implementation uses. */
static size_t
ref_seq_len(const unsigned char *p, size_t avail, uint32_t *cp)
{
    static const uint32_t  min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t                 n, i;
    uint32_t               v;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        v = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        v = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        v = p[0] & 0x07;
    } else {
        return 0;
    }

    if (avail < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }

    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }

    *cp = v;
    return n;
}


static int
ref_valid(const unsigned char *p, size_t len, size_t *chars)
{
    size_t    i, n;
    uint32_t  cp;

    *chars = 0;

    for (i = 0; i < len; i += n) {
        n = ref_seq_len(p + i, len - i, &cp);
        if (n == 0) {
            return 0;
        }
        (*chars)++;
    }

    return 1;
}


static size_t
encode_utf8(uint32_t cp, unsigned char *d)
{
    if (cp < 0x80) {
        d[0] = (unsigned char) cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char) (0xc0 | (cp >> 6));
        d[1] = (unsigned char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char) (0xe0 | (cp >> 12));
        d[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char) (0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char) (0xf0 | (cp >> 18));
    d[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char) (0x80 | (cp & 0x3f));
    return 4;
}


/*
 * Escape random bytes, check the output is safe ASCII of the promised
 * length, then feed it back through the parser as a comment: it must decode
 * to the input with each invalid byte replaced by U+FFFD.
 */
static void
test_escape_round_trip(void **state)
{
    static const char  head[] =
        "{\"token\":\"t\",\"event\":\"comment\",\"comment\":\"";

    unsigned char  src[48], want[48 * 3 + 3], *esc, *body, *end;
    size_t         len, i, n, want_len, want_chars, esc_len, body_len;
    uint32_t       cp;
    parsed_t       r;
    int            iter;

    (void) state;

    for (iter = 0; iter < 50000; iter++) {
        /* even iterations: valid UTF-8 across all planes; odd: any bytes */
        len = 0;
        if (iter & 1) {
            len = 1 + rnd() % (sizeof(src) - 1);
            for (i = 0; i < len; i++) {
                src[i] = (unsigned char) rnd();
            }

        } else {
            while (len < sizeof(src) - 4) {
                switch (rnd() % 4) {
                case 0: cp = rnd() % 0x80; break;
                case 1: cp = rnd() % 0x800; break;
                case 2: cp = rnd() % 0x10000; break;
                default: cp = rnd() % 0x110000; break;
                }
                if (cp >= 0xd800 && cp <= 0xdfff) {
                    continue;
                }
                len += encode_utf8(cp, src + len);
                if (rnd() % 8 == 0) {
                    break;
                }
            }
        }

        want_len = 0;
        want_chars = 0;
        for (i = 0; i < len; i += n) {
            n = ref_seq_len(src + i, len - i, &cp);
            if (n == 0) {
                memcpy(want + want_len, "\xef\xbf\xbd", 3);
                want_len += 3;
                n = 1;
            } else {
                memcpy(want + want_len, src + i, n);
                want_len += n;
            }
            want_chars++;
        }

        esc_len = ngx_cx_json_escape_len(src, len);
        body_len = sizeof(head) - 1 + esc_len + 2;
        body = malloc(body_len);
        assert_non_null(body);
        memcpy(body, head, sizeof(head) - 1);
        esc = body + sizeof(head) - 1;

        end = ngx_cx_json_escape(esc, src, len);
        assert_int_equal((size_t) (end - esc), esc_len);

        for (i = 0; i < esc_len; i++) {
            assert_true(esc[i] >= 0x20 && esc[i] < 0x7f);
            assert_null(strchr("<>&'", esc[i]));
        }

        memcpy(end, "\"}", 2);

        parse_n(&r, body, body_len, 1000);
        assert_int_equal(r.rc, 0);
        assert_bytes(r.in.comment, r.in.comment_len, want, want_len);
        assert_int_equal(r.in.comment_chars, want_chars);
        parsed_free(&r);

        free(body);
    }
}


/* ---- UTF-8 validator ---------------------------------------------------- */

static void
test_utf8_table(void **state)
{
    static const struct {
        const char  *s;
        size_t       len;
        int          valid;
        size_t       chars;
    } cases[] = {
        { "", 0, 1, 0 },
        { "abc", 3, 1, 3 },
        { "\0", 1, 1, 1 },
        { "\x7f", 1, 1, 1 },
        { "\xc2\x80", 2, 1, 1 },
        { "\xdf\xbf", 2, 1, 1 },
        { "\xe0\xa0\x80", 3, 1, 1 },
        { "\xed\x9f\xbf", 3, 1, 1 },
        { "\xee\x80\x80", 3, 1, 1 },
        { "\xef\xbf\xbf", 3, 1, 1 },
        { "\xf0\x90\x80\x80", 4, 1, 1 },
        { "\xf4\x8f\xbf\xbf", 4, 1, 1 },
        { "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 11, 1, 5 },
        { "\x80", 1, 0, 0 },
        { "\xbf", 1, 0, 0 },
        { "\xc0\x80", 2, 0, 0 },
        { "\xc1\xbf", 2, 0, 0 },
        { "\xe0\x80\x80", 3, 0, 0 },
        { "\xe0\x9f\xbf", 3, 0, 0 },
        { "\xed\xa0\x80", 3, 0, 0 },
        { "\xed\xbf\xbf", 3, 0, 0 },
        { "\xf0\x80\x80\x80", 4, 0, 0 },
        { "\xf0\x8f\xbf\xbf", 4, 0, 0 },
        { "\xf4\x90\x80\x80", 4, 0, 0 },
        { "\xf5\x80\x80\x80", 4, 0, 0 },
        { "\xf8\x88\x80\x80\x80", 5, 0, 0 },
        { "\xfe", 1, 0, 0 },
        { "\xff", 1, 0, 0 },
        { "\xc2", 1, 0, 0 },
        { "\xe2\x82", 2, 0, 0 },
        { "\xf0\x9f\x98", 3, 0, 0 },
        { "\xc2\x41", 2, 0, 0 },
        { "\xe2\x28\xa1", 3, 0, 0 },
        { "abc\xc3", 4, 0, 0 },
    };

    size_t  i, chars;

    (void) state;

    assert_int_equal(ngx_cx_utf8_valid(NULL, 0, NULL), 1);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        chars = 12345;
        if (ngx_cx_utf8_valid((const unsigned char *) cases[i].s,
                              cases[i].len, &chars) != cases[i].valid)
        {
            print_error("case %zu: want %d\n", i, cases[i].valid);
            fail();
        }
        if (cases[i].valid) {
            assert_int_equal(chars, cases[i].chars);
        }
        assert_int_equal(ngx_cx_utf8_valid((const unsigned char *) cases[i].s,
                                           cases[i].len, NULL),
                         cases[i].valid);
    }
}


static void
test_utf8_every_code_point(void **state)
{
    unsigned char  buf[4];
    uint32_t       cp;
    size_t         n, chars;

    (void) state;

    for (cp = 0; cp <= 0x10ffff; cp++) {
        n = encode_utf8(cp, buf);
        assert_int_equal(ngx_cx_utf8_valid(buf, n, &chars),
                         !(cp >= 0xd800 && cp <= 0xdfff));
    }
}


static void
test_utf8_exhaustive_short(void **state)
{
    static const unsigned char  tail[] = {
        0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2,
        0xe0, 0xf0, 0xff
    };

    unsigned char  b[4];
    size_t         n, got_chars, want_chars;
    uint32_t       v;
    int            got, want;
    unsigned       i, j;

    (void) state;

    /* every 1-, 2- and 3-byte string */
    for (n = 1; n <= 3; n++) {
        for (v = 0; v < (1u << (8 * n)); v++) {
            for (i = 0; i < n; i++) {
                b[i] = (unsigned char) (v >> (8 * i));
            }
            want = ref_valid(b, n, &want_chars);
            got = ngx_cx_utf8_valid(b, n, &got_chars);
            if (got != want || (want && got_chars != want_chars)) {
                print_error("%zu bytes %06x: got %d want %d\n", n,
                            (unsigned) v, got, want);
                fail();
            }
        }
    }

    /* 4-byte strings: every first two bytes, sampled last two */
    for (v = 0; v < 0x10000; v++) {
        b[0] = (unsigned char) (v >> 8);
        b[1] = (unsigned char) v;
        for (i = 0; i < sizeof(tail); i++) {
            for (j = 0; j < sizeof(tail); j++) {
                b[2] = tail[i];
                b[3] = tail[j];
                want = ref_valid(b, 4, &want_chars);
                got = ngx_cx_utf8_valid(b, 4, &got_chars);
                if (got != want || (want && got_chars != want_chars)) {
                    print_error("4 bytes %02x%02x%02x%02x: got %d want %d\n",
                                b[0], b[1], b[2], b[3], got, want);
                    fail();
                }
            }
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_basic_answer),
        cmocka_unit_test(test_each_event),
        cmocka_unit_test(test_any_order_unknown_fields),
        cmocka_unit_test(test_escapes_decoded),
        cmocka_unit_test(test_emoji_surrogate_pair),
        cmocka_unit_test(test_escaped_field_names),
        cmocka_unit_test(test_comment_limit),
        cmocka_unit_test(test_score_values),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_comment_too_long_message),
        cmocka_unit_test(test_truncations_rejected),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_escape_tricky),
        cmocka_unit_test(test_escape_round_trip),
        cmocka_unit_test(test_utf8_table),
        cmocka_unit_test(test_utf8_every_code_point),
        cmocka_unit_test(test_utf8_exhaustive_short),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
