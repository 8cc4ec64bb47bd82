/*
 * Unit tests for src/ngx_cx_export.c: CSV rows and NDJSON lines of stored
 * responses, asserted byte for byte. Every text field is copied into a heap
 * block of exactly its length, so under -fsanitize=address an over-read is
 * reported.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_export.h"
#include "ngx_cx_json.h"


/* ---- a memory sink for the write callback ---- */

typedef struct {
    unsigned char  *data;
    size_t          len;
    size_t          cap;
    unsigned        calls;
    unsigned        fail_at;    /* the call that returns -1; 0 never */
} sink_t;


static int
sink_write(void *data, const unsigned char *p, size_t len)
{
    sink_t  *s = data;

    assert_true(len > 0);
    assert_non_null(p);

    s->calls++;

    if (s->fail_at && s->calls >= s->fail_at) {
        return -1;
    }

    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
        assert_non_null(s->data);
    }

    memcpy(s->data + s->len, p, len);
    s->len += len;

    return 0;
}


/* 1 when the output holds str */
static int
sink_has(const sink_t *s, const char *str)
{
    size_t  i, n;

    n = strlen(str);

    for (i = 0; i + n <= s->len; i++) {
        if (memcmp(s->data + i, str, n) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
sink_free(sink_t *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}


static void
assert_out(const sink_t *s, const char *expect, size_t len)
{
    if (s->len != len || memcmp(s->data, expect, len) != 0) {
        print_error("expected (%zu): %.*s\ngot      (%zu): %.*s\n",
                    len, (int) len, expect, s->len, (int) s->len,
                    (const char *) s->data);
        fail();
    }
}

#define ASSERT_OUT(s, lit)  assert_out((s), (lit), sizeof(lit) - 1)


/* ---- records ---- */

#define MAX_FIELDS  16

static void  *fields[MAX_FIELDS];
static int    nfields;

/* a copy in its own heap block of exactly len bytes */
static ngx_cx_bytes_t
field(const char *p, size_t len)
{
    ngx_cx_bytes_t  b;
    unsigned char  *q;

    assert_true(nfields < MAX_FIELDS);

    q = malloc(len ? len : 1);
    assert_non_null(q);
    if (len) {
        memcpy(q, p, len);
    }
    fields[nfields++] = q;

    b.data = len ? q : NULL;
    b.len = len;

    return b;
}

#define FIELD(lit)  field((lit), sizeof(lit) - 1)


static int
teardown(void **state)
{
    (void) state;

    while (nfields) {
        free(fields[--nfields]);
    }

    return 0;
}


static const unsigned char  prompt_id[12] =
    { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0xff };

#define ID_HEX       "000102030405060708090aff"
#define VISITOR_HEX  "a0a1a2a3a4a5a6a7a8a9aaab"

/* 2025-01-10T12:00:00Z */
#define T0  1736510400000ULL
#define UTC  "2025-01-10 12:00:00"


/* an answered NPS response at T0 with plain fields */
static void
base_record(ngx_cx_record_t *r)
{
    int  i;

    memset(r, 0, sizeof(*r));

    r->flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED;
    r->issued_at_ms = T0 - 60000;
    r->displayed_at_ms = T0 - 30000;
    r->answered_at_ms = T0 + 999;       /* ms are truncated */
    r->score = 10;
    r->type = NGX_CX_TYPE_NPS;
    r->stage = 2;
    for (i = 0; i < 12; i++) {
        r->visitor[i] = (unsigned char) (0xa0 + i);
    }

    r->survey = FIELD("nps1");
    r->touchpoint = FIELD("browse");
    r->lang = FIELD("en");
    r->path = FIELD("/");
}


static void
attrs_add(unsigned char *blob, size_t size, size_t *len, const char *k,
    size_t kl, const char *v, size_t vl)
{
    size_t  n;

    n = ngx_cx_attrs_put(blob + *len, size - *len, k, kl, v, vl);
    assert_int_not_equal(n, 0);
    *len += n;
}

/* the attributes blob of pairs = {key, value, key, value, ..., NULL} */
static size_t
attrs_blob(unsigned char *blob, size_t size, const char *const *pairs)
{
    size_t  len;

    for (len = 0; pairs[0] != NULL; pairs += 2) {
        attrs_add(blob, size, &len, pairs[0], strlen(pairs[0]), pairs[1],
                  strlen(pairs[1]));
    }

    return len;
}

/* ATTRS(blob, "k1", "v1", "k2", "v2", ...) -> the blob's length */
#define ATTRS(blob, ...)                                                      \
    attrs_blob((blob), sizeof(blob),                                          \
               (const char *const []) { __VA_ARGS__, NULL })


/* ---- CSV ---- */

/* the CSV row of r must be want; then r's fields are freed */
static void
expect_csv(const ngx_cx_record_t *r, const char *want, size_t len)
{
    sink_t  s = { 0 };

    assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, r, NULL), 0);
    assert_out(&s, want, len);
    sink_free(&s);
    teardown(NULL);
}

#define EXPECT_CSV(r, lit)  expect_csv((r), (lit), sizeof(lit) - 1)


static void
test_csv_header(void **state)
{
    sink_t  s = { 0 };

    (void) state;

    assert_int_equal(ngx_cx_export_csv_header(sink_write, &s, NULL, 0), 0);
    ASSERT_OUT(&s, "id,received_at,survey,type,touchpoint,stage,score,"
                   "comment,visitor,lang,path,attributes,displayed,answered,"
                   "dismissed,previous_score,received_at_utc,band,followup"
                   "\r\n");
    sink_free(&s);
}


static void
test_csv_plain(void **state)
{
    ngx_cx_record_t  r;

    (void) state;

    base_record(&r);

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,browse,"
                   "consideration,10,," VISITOR_HEX ",en,/,,1,1,0,," UTC ",promoter,\r\n");
}


/* a re-survey: the visitor's answer before this one, last in both */

static void
test_previous_score(void **state)
{
    sink_t           s = { 0 };
    ngx_cx_record_t  r;

    (void) state;

    base_record(&r);
    r.has_previous = 1;
    r.previous_score = 4;

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,browse,"
                   "consideration,10,," VISITOR_HEX ",en,/,,1,1,0,4," UTC ",promoter,\r\n");

    /* expect_csv frees the record's fields: a new one */
    base_record(&r);
    r.has_previous = 1;
    r.previous_score = 4;

    assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r), 0);
#define TAIL  "\"previous_score\":4,\"band\":\"promoter\",\"followup\":\"\"}\n"
    assert_true(s.len > sizeof(TAIL) - 1);
    assert_memory_equal(s.data + s.len - (sizeof(TAIL) - 1), TAIL,
                        sizeof(TAIL) - 1);
#undef TAIL
    sink_free(&s);
}


static void
test_csv_quoting(void **state)
{
    ngx_cx_record_t  r;

    (void) state;

    base_record(&r);
    r.comment = FIELD("Fast, \"really\"\r\nfast\n");
    r.touchpoint = FIELD("a\"b");
    r.lang = FIELD("x\ry");
    r.path = FIELD("/it's <b>ok</b>");

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,\"a\"\"b\","
                   "consideration,10,\"Fast, \"\"really\"\"\r\nfast\n\","
                   VISITOR_HEX ",\"x\ry\",/it's <b>ok</b>,,1,1,0,," UTC ",promoter,\r\n");
}


static void
test_csv_formula(void **state)
{
    size_t           i;
    ngx_cx_record_t  r;

    static const struct {
        const char  *in;
        const char  *cell;
    } cases[] = {
        { "=SUM(A1)",      "'=SUM(A1)" },
        { "+1",            "'+1" },
        { "-1",            "'-1" },
        { "@cmd",          "'@cmd" },
        { "\tx",           "'\tx" },
        { "\rx",           "\"'\rx\"" },       /* CR quotes: ' inside */
        { "=a,b",          "\"'=a,b\"" },
        { "=\"q\"",        "\"'=\"\"q\"\"\"" },
        { "a=b",           "a=b" },            /* only the first byte */
        { " =b",           " =b" },
        { "'=b",           "'=b" },
        { "\n=b",          "\"\n=b\"" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  expect[256];
        int   n;

        base_record(&r);
        r.comment = field(cases[i].in, strlen(cases[i].in));

        n = snprintf(expect, sizeof(expect),
                     ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,browse,"
                     "consideration,10,%s," VISITOR_HEX ",en,/,,1,1,0,," UTC ",promoter,\r\n",
                     cases[i].cell);

        expect_csv(&r, expect, (size_t) n);
    }

    /* every text cell is neutralised, not only the comment */
    base_record(&r);
    r.survey = FIELD("=s");
    r.touchpoint = FIELD("+t");
    r.lang = FIELD("-l");
    r.path = FIELD("@p");

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,'=s,nps,'+t,consideration,"
                   "10,," VISITOR_HEX ",'-l,'@p,,1,1,0,," UTC ",promoter,\r\n");
}


static void
test_csv_utf8(void **state)
{
    ngx_cx_record_t  r;

    (void) state;

    base_record(&r);
    /* é € U+1F600 kept; FF, C0 AF (overlong), ED A0 80 (surrogate), a lone
     * continuation byte and E2 82 cut short by 'A' each become U+FFFD per
     * byte; F0 9F 98 cut by the end of the field likewise */
    r.comment = FIELD("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xff|\xc0\xaf|"
                      "\xed\xa0\x80|\x80|\xe2\x82" "A|\xf0\x9f\x98");

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,browse,"
                   "consideration,10,"
                   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xef\xbf\xbd|"
                   "\xef\xbf\xbd\xef\xbf\xbd|"
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|"
                   "\xef\xbf\xbd\xef\xbf\xbd" "A|"
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd,"
                   VISITOR_HEX ",en,/,,1,1,0,," UTC ",promoter,\r\n");
}


/* the CSV row of the base record with the attributes blob is want */
static void
expect_attrs_csv(const unsigned char *blob, size_t len, const char *want,
    size_t want_len)
{
    ngx_cx_record_t  r;

    base_record(&r);
    r.attrs = field((const char *) blob, len);
    expect_csv(&r, want, want_len);
}

/* cell: what the attributes column must hold */
#define EXPECT_ATTRS_CSV(blob, len, cell)                                     \
    do {                                                                      \
        static const char  row_[] = ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,"  \
            "browse,consideration,10,," VISITOR_HEX ",en,/," cell             \
            ",1,1,0,," UTC ",promoter,\r\n";                                                     \
                                                                              \
        expect_attrs_csv((blob), (len), row_, sizeof(row_) - 1);              \
    } while (0)


static void
test_csv_attributes(void **state)
{
    size_t          len;
    unsigned char   blob[512];

    (void) state;

    /* % & = and control bytes encoded, UTF-8 kept, the comma quotes */
    /* repeats kept in CSV */
    len = ATTRS(blob, "plan", "=pro", "q", "a&b=c%",
                "note", "\xe2\x82\xac 1,2\nx\x7f", "q", "again", "e", "");

    EXPECT_ATTRS_CSV(blob, len, "\"plan=%3Dpro&q=a%26b%3Dc%25&note="
                                "\xe2\x82\xac 1,2%0Ax%7F&q=again&e=\"");

    /* a key starting with + is a formula; the ' goes inside the quotes */
    len = ATTRS(blob, "+k", "v", "x", "\"y\"", "b", "\xff");

    EXPECT_ATTRS_CSV(blob, len, "\"'+k=v&x=\"\"y\"\"&b=\xef\xbf\xbd\"");

    /* = TAB CR as the first key byte are encoded, so no prefix is needed */
    len = ATTRS(blob, "=k", "v", "\tk", "\r");

    EXPECT_ATTRS_CSV(blob, len, "%3Dk=v&%09k=%0D");

    /* a corrupt blob: the pairs before the corruption */
    len = ATTRS(blob, "-a", "1");
    blob[len++] = 5;
    blob[len++] = 'x';

    EXPECT_ATTRS_CSV(blob, len, "'-a=1");
}


static void
test_csv_not_answered(void **state)
{
    ngx_cx_record_t  r;

    (void) state;

    /* displayed and dismissed: dated by the display, score empty */
    base_record(&r);
    r.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_DISMISSED;
    r.answered_at_ms = 0;
    r.displayed_at_ms = T0;
    r.dismissed_at_ms = T0 + 5000;
    r.score = 7;                /* ignored without ANSWERED */
    r.type = NGX_CX_TYPE_CSAT;
    r.stage = 6;

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,nps1,csat,browse,advocacy,"
                   ",," VISITOR_HEX ",en,/,,1,0,1,," UTC ",,\r\n");

    /* answered 0 is not empty */
    base_record(&r);
    r.score = 0;
    r.stage = 0;
    r.type = NGX_CX_TYPE_CES;

    EXPECT_CSV(&r, ID_HEX ",2025-01-10T12:00:00Z,nps1,ces,browse,,0,,"
                   VISITOR_HEX ",en,/,,1,1,0,," UTC ",,\r\n");
}


static void
test_csv_out_of_range(void **state)
{
    sink_t           s = { 0 };
    ngx_cx_record_t  r;

    (void) state;

    memset(&r, 0, sizeof(r));
    r.flags = 0xff;
    r.type = 99;
    r.stage = 200;
    r.score = INT_MIN;

    EXPECT_CSV(&r, ID_HEX ",1970-01-01T00:00:00Z,,unknown,,,-2147483648,,"
                   "000000000000000000000000,,,,1,1,1,,1970-01-01 00:00:00,,"
                   "\r\n");

    r.score = INT_MAX;
    assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r), 0);
    ASSERT_OUT(&s, "{\"id\":\"" ID_HEX "\",\"received_at\":"
                   "\"1970-01-01T00:00:00Z\",\"survey\":\"\",\"type\":"
                   "\"unknown\",\"touchpoint\":\"\",\"stage\":\"\",\"score\":"
                   "2147483647,\"comment\":\"\",\"visitor\":"
                   "\"000000000000000000000000\",\"lang\":\"\",\"path\":\"\","
                   "\"attributes\":{},\"displayed\":true,\"answered\":true,"
                   "\"dismissed\":true,\"previous_score\":null,\"band\":null,"
                   "\"followup\":\"\"}\n");
    sink_free(&s);
}


/* a field longer than the internal buffer goes through whole and in order */
static void
test_csv_long_field(void **state)
{
    size_t           i, n;
    sink_t           s = { 0 };
    char            *big, *expect;
    ngx_cx_record_t  r;

    (void) state;

    n = 10000;
    big = malloc(n);
    expect = malloc(n * 2 + 256);
    assert_non_null(big);
    assert_non_null(expect);

    for (i = 0; i < n; i++) {
        big[i] = (i % 100 == 99) ? '"' : (char) ('a' + i % 26);
    }

    base_record(&r);
    r.comment = field(big, n);

    n = (size_t) sprintf(expect, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,"
                         "browse,consideration,10,\"");
    for (i = 0; i < 10000; i++) {
        expect[n++] = big[i];
        if (big[i] == '"') {
            expect[n++] = '"';
        }
    }
    n += (size_t) sprintf(expect + n, "\"," VISITOR_HEX ",en,/,,1,1,0,," UTC ",promoter,\r\n");

    assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, &r, NULL), 0);
    assert_out(&s, expect, n);
    assert_true(s.calls > 1);

    sink_free(&s);
    free(big);
    free(expect);
}


/* ---- NDJSON ---- */

static void
test_ndjson_line(void **state)
{
    size_t           len;
    sink_t           s = { 0 };
    unsigned char    blob[256];
    ngx_cx_record_t  r;

    (void) state;

    /* the last q wins */
    len = ATTRS(blob, "plan", "=pro", "q", "first",
                "note", "\xe2\x82\xac 1,2\nx", "q", "a&b\xff");

    base_record(&r);
    r.comment = FIELD("=SUM(A1) \"q\" <script>\\");
    r.attrs = field((const char *) blob, len);

    assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r), 0);
    ASSERT_OUT(&s, "{\"id\":\"" ID_HEX "\",\"received_at\":"
                   "\"2025-01-10T12:00:00Z\",\"survey\":\"nps1\",\"type\":"
                   "\"nps\",\"touchpoint\":\"browse\",\"stage\":"
                   "\"consideration\",\"score\":10,\"comment\":"
                   "\"=SUM(A1) \\\"q\\\" \\u003cscript\\u003e\\\\\","
                   "\"visitor\":\"" VISITOR_HEX "\",\"lang\":\"en\","
                   "\"path\":\"/\",\"attributes\":{\"plan\":\"=pro\","
                   "\"note\":\"\\u20ac 1,2\\nx\",\"q\":\"a\\u0026b\\ufffd\"},"
                   "\"displayed\":true,\"answered\":true,"
                   "\"dismissed\":false,\"previous_score\":null,"
                   "\"band\":\"promoter\",\"followup\":\"\"}\n");
    sink_free(&s);
}


static void
test_ndjson_not_answered(void **state)
{
    sink_t           s = { 0 };
    ngx_cx_record_t  r;

    (void) state;

    base_record(&r);
    r.flags = 0;
    r.answered_at_ms = 0;
    r.displayed_at_ms = 0;
    r.issued_at_ms = T0;
    r.stage = 3;

    assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r), 0);
    ASSERT_OUT(&s, "{\"id\":\"" ID_HEX "\",\"received_at\":"
                   "\"2025-01-10T12:00:00Z\",\"survey\":\"nps1\",\"type\":"
                   "\"nps\",\"touchpoint\":\"browse\",\"stage\":\"purchase\","
                   "\"score\":null,\"comment\":\"\",\"visitor\":\""
                   VISITOR_HEX "\",\"lang\":\"en\",\"path\":\"/\","
                   "\"attributes\":{},\"displayed\":false,\"answered\":false,"
                   "\"dismissed\":false,\"previous_score\":null,"
                   "\"band\":null,\"followup\":\"\"}\n");
    sink_free(&s);
}


/*
 * Long strings are escaped in chunks: whatever multi-byte characters (valid
 * or broken) straddle the chunk edges, the result equals one escape of the
 * whole string.
 */
static void
test_ndjson_long_strings(void **state)
{
    size_t           i, n, shift, pre;
    sink_t           s = { 0 };
    unsigned char   *src, *esc, *end;
    ngx_cx_record_t  r;

    static const char  *pieces[] = {
        "\xf0\x9f\x98\x80", "\xe2\x82\xac", "\xc3\xa9", "\x80\x80\x80\x80",
        "\xf0\x9f\x98", "\xe2\x82", "<", "a"
    };

    (void) state;

    src = malloc(2100);
    esc = malloc(6 * 2100);
    assert_non_null(src);
    assert_non_null(esc);

    for (shift = 0; shift < 8; shift++) {
        for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
            /* the piece repeated, offset so it crosses every edge */
            n = 0;
            while (n < shift) {
                src[n++] = 'x';
            }
            while (n + 4 <= 2100) {
                memcpy(src + n, pieces[i], strlen(pieces[i]));
                n += strlen(pieces[i]);
            }

            base_record(&r);
            r.comment = field((const char *) src, n);

            end = ngx_cx_json_escape(esc, src, n);

            assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id,
                                                  &r), 0);

            pre = strlen("{\"id\":\"" ID_HEX "\",\"received_at\":"
                         "\"2025-01-10T12:00:00Z\",\"survey\":\"nps1\","
                         "\"type\":\"nps\",\"touchpoint\":\"browse\","
                         "\"stage\":\"consideration\",\"score\":10,"
                         "\"comment\":\"");
            assert_true(s.len > pre + (size_t) (end - esc));
            assert_memory_equal(s.data + pre, esc, (size_t) (end - esc));
            assert_memory_equal(s.data + pre + (end - esc), "\",\"visitor\"",
                                11);

            sink_free(&s);
            teardown(NULL);
        }
    }

    free(src);
    free(esc);
}


/* ---- the columns of issue 17, item 9 ---- */

/*
 * A detractor's answer with a follow-up and typed attributes; records from
 * two hooks with different keys make the attr_ columns.
 */
static void
item9_record(ngx_cx_record_t *r, unsigned char *blob, size_t size)
{
    size_t  len;

    base_record(r);
    r->score = 3;
    r->has_previous = 1;
    r->previous_score = 9;
    r->lang = FIELD("tr");
    r->followup = FIELD("Neyi daha iyi yapmal\xc4\xb1y\xc4\xb1z?");

    /* total, neg and bad were numbers; plan a string; total repeated */
    len = attrs_blob(blob, size, (const char *const []) {
        "total", "12", "plan", "=pro", "neg", "-5", "total", "129.9",
        "zip", "01234", "bad", "inf", NULL });
    r->attrs = field((const char *) blob, len);
    r->attr_numbers = 0x01 | 0x04 | 0x08 | 0x20;
}


static void
test_csv_item9_row(void **state)
{
    sink_t                    s = { 0 };
    unsigned char             blob[256], other[64];
    ngx_cx_record_t           r, r2;
    ngx_cx_export_columns_t  *cols;

    (void) state;

    cols = malloc(sizeof(*cols));
    assert_non_null(cols);
    ngx_cx_export_columns_init(cols);

    /* another record's keys: "coupon" only there, "plan" in both */
    base_record(&r2);
    r2.attrs = field((const char *) other,
                     attrs_blob(other, sizeof(other), (const char *const []) {
                         "coupon", "X1", "plan", "free", NULL }));
    ngx_cx_export_columns_add(cols, &r2);

    item9_record(&r, blob, sizeof(blob));
    ngx_cx_export_columns_add(cols, &r);

    assert_int_equal(cols->n, 6);
    assert_int_equal(cols->dropped, 0);

    assert_int_equal(ngx_cx_export_csv_header(sink_write, &s, cols, 0), 0);
    ASSERT_OUT(&s, "id,received_at,survey,type,touchpoint,stage,score,"
                   "comment,visitor,lang,path,attributes,displayed,answered,"
                   "dismissed,previous_score,received_at_utc,band,followup,"
                   "attr_bad,attr_coupon,attr_neg,attr_plan,attr_total,"
                   "attr_zip\r\n");
    sink_free(&s);

    assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, &r, cols),
                     0);
    ASSERT_OUT(&s, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,browse,"
                   "consideration,3,," VISITOR_HEX ",tr,/,"
                   "total=12&plan=%3Dpro&neg=-5&total=129.9&zip=01234&bad=inf"
                   ",1,1,0,9," UTC ",detractor,"
                   "Neyi daha iyi yapmal\xc4\xb1y\xc4\xb1z?,"
                   "inf,,-5,'=pro,129.9,01234\r\n");
    sink_free(&s);

    /* the other record: its own values, empty cells for the rest */
    assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, &r2, cols),
                     0);
    ASSERT_OUT(&s, ID_HEX ",2025-01-10T12:00:00Z,nps1,nps,browse,"
                   "consideration,10,," VISITOR_HEX ",en,/,"
                   "coupon=X1&plan=free,1,1,0,," UTC ",promoter,,"
                   ",X1,,free,,\r\n");
    sink_free(&s);

    /* the Excel variant: a BOM, then the same header */
    assert_int_equal(ngx_cx_export_csv_header(sink_write, &s, NULL,
                                              NGX_CX_EXPORT_EXCEL), 0);
    ASSERT_OUT(&s, "\xef\xbb\xbfid,received_at,survey,type,touchpoint,stage,"
                   "score,comment,visitor,lang,path,attributes,displayed,"
                   "answered,dismissed,previous_score,received_at_utc,band,"
                   "followup\r\n");
    sink_free(&s);

    free(cols);
}


static void
test_ndjson_item9_line(void **state)
{
    sink_t           s = { 0 };
    unsigned char    blob[256];
    ngx_cx_record_t  r;

    (void) state;

    item9_record(&r, blob, sizeof(blob));

    assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r), 0);
    ASSERT_OUT(&s, "{\"id\":\"" ID_HEX "\",\"received_at\":"
                   "\"2025-01-10T12:00:00Z\",\"survey\":\"nps1\",\"type\":"
                   "\"nps\",\"touchpoint\":\"browse\",\"stage\":"
                   "\"consideration\",\"score\":3,\"comment\":\"\","
                   "\"visitor\":\"" VISITOR_HEX "\",\"lang\":\"tr\","
                   "\"path\":\"/\",\"attributes\":{\"plan\":\"=pro\","
                   "\"neg\":-5,\"total\":129.9,\"zip\":\"01234\","
                   "\"bad\":\"inf\"},"
                   "\"displayed\":true,\"answered\":true,"
                   "\"dismissed\":false,\"previous_score\":9,"
                   "\"band\":\"detractor\",\"followup\":"
                   "\"Neyi daha iyi yapmal\\u0131y\\u0131z?\"}\n");
    sink_free(&s);
}


/* the band of each type's scale, empty (null) when not answered */
static void
test_bands_per_type(void **state)
{
    size_t           i;
    char             want[64];
    sink_t           s = { 0 };
    ngx_cx_record_t  r;

    static const struct {
        unsigned char  type;
        int            score;
        unsigned       flags;
        const char    *band;
    } cases[] = {
        { NGX_CX_TYPE_NPS, 0, NGX_CX_REC_ANSWERED, "detractor" },
        { NGX_CX_TYPE_NPS, 6, NGX_CX_REC_ANSWERED, "detractor" },
        { NGX_CX_TYPE_NPS, 7, NGX_CX_REC_ANSWERED, "passive" },
        { NGX_CX_TYPE_NPS, 9, NGX_CX_REC_ANSWERED, "promoter" },
        { NGX_CX_TYPE_CSAT, 2, NGX_CX_REC_ANSWERED, "detractor" },
        { NGX_CX_TYPE_CSAT, 3, NGX_CX_REC_ANSWERED, "passive" },
        { NGX_CX_TYPE_CSAT, 4, NGX_CX_REC_ANSWERED, "promoter" },
        { NGX_CX_TYPE_CES, 3, NGX_CX_REC_ANSWERED, "detractor" },
        { NGX_CX_TYPE_CES, 5, NGX_CX_REC_ANSWERED, "passive" },
        { NGX_CX_TYPE_CES, 6, NGX_CX_REC_ANSWERED, "promoter" },
        { NGX_CX_TYPE_NPS, 9, NGX_CX_REC_DISPLAYED, "" },
        { NGX_CX_TYPE_CSAT, 4, NGX_CX_REC_DISMISSED, "" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        base_record(&r);
        r.type = cases[i].type;
        r.score = cases[i].score;
        r.flags = cases[i].flags;

        assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, &r,
                                           NULL), 0);
        snprintf(want, sizeof(want), "," UTC ",%s,\r\n", cases[i].band);
        assert_true(s.len > strlen(want));
        assert_case_int_equal(memcmp(s.data + s.len - strlen(want), want,
                                     strlen(want)), 0, i, cases[i].band);
        sink_free(&s);

        assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r),
                         0);
        if (cases[i].band[0]) {
            snprintf(want, sizeof(want), ",\"band\":\"%s\",\"followup\":\"\"}\n",
                     cases[i].band);
        } else {
            snprintf(want, sizeof(want), ",\"band\":null,\"followup\":\"\"}\n");
        }
        assert_true(s.len > strlen(want));
        assert_case_int_equal(memcmp(s.data + s.len - strlen(want), want,
                                     strlen(want)), 0, i, cases[i].band);
        sink_free(&s);
        teardown(NULL);
    }
}


/* a number is written bare only when it was one and reads as JSON's */
static void
test_attribute_numbers(void **state)
{
    size_t           i, len;
    char             want[128];
    sink_t           s = { 0 };
    unsigned char    blob[64], big[512];
    ngx_cx_record_t  r;

    static const struct {
        const char  *value;
        int          bare;
    } cases[] = {
        { "42", 1 }, { "0", 1 }, { "-0.25", 1 }, { "1e+20", 1 },
        { "2.5E-3", 1 }, { "-7", 1 },
        { "inf", 0 }, { "-inf", 0 }, { "nan", 0 }, { "01", 0 }, { "1.", 0 },
        { ".5", 0 }, { "+1", 0 }, { "1e", 0 }, { "-", 0 }, { "", 0 },
        { "1 ", 0 }, { "0x10", 0 }, { "1e+", 0 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        base_record(&r);
        len = attrs_blob(blob, sizeof(blob), (const char *const []) {
            "s", cases[i].value, "n", cases[i].value, NULL });
        r.attrs = field((const char *) blob, len);
        r.attr_numbers = 2;         /* the second pair only */

        assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r),
                         0);
        snprintf(want, sizeof(want), cases[i].bare
                 ? "\"attributes\":{\"s\":\"%s\",\"n\":%s}"
                 : "\"attributes\":{\"s\":\"%s\",\"n\":\"%s\"}",
                 cases[i].value, cases[i].value);
        assert_case_int_equal(sink_has(&s, want), 1, i, cases[i].value);
        sink_free(&s);
        teardown(NULL);
    }

    /* a pair from the 64th on is text: the mask has no bit for it */
    base_record(&r);
    len = 0;
    for (i = 0; i < 65; i++) {
        attrs_add(big, sizeof(big), &len, i == 64 ? "last" : "k",
                  i == 64 ? 4 : 1, "7", 1);
    }
    r.attr_numbers = ~(uint64_t) 0;
    r.attrs = field((const char *) big, len);
    assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r), 0);
    assert_true(sink_has(&s, "{\"k\":7,\"last\":\"7\"}"));
    sink_free(&s);
}


/* the columns: sorted, distinct, and the first 256 of many */
static void
test_columns(void **state)
{
    int                       i;
    char                      key[16];
    sink_t                    s = { 0 };
    ngx_cx_export_columns_t  *cols;

    (void) state;

    cols = malloc(sizeof(*cols));
    assert_non_null(cols);
    ngx_cx_export_columns_init(cols);

    ngx_cx_export_columns_add_key(cols, (const unsigned char *) "b", 1);
    ngx_cx_export_columns_add_key(cols, (const unsigned char *) "ab", 2);
    ngx_cx_export_columns_add_key(cols, (const unsigned char *) "a", 1);
    ngx_cx_export_columns_add_key(cols, (const unsigned char *) "b", 1);
    ngx_cx_export_columns_add_key(cols, (const unsigned char *) "", 0);
    ngx_cx_export_columns_add_key(cols, (const unsigned char *) "a,\"b\"", 5);

    assert_int_equal(ngx_cx_export_csv_header(sink_write, &s, cols, 0), 0);
    ASSERT_OUT(&s, "id,received_at,survey,type,touchpoint,stage,score,"
                   "comment,visitor,lang,path,attributes,displayed,answered,"
                   "dismissed,previous_score,received_at_utc,band,followup,"
                   "attr_a,\"attr_a,\"\"b\"\"\",attr_ab,attr_b\r\n");
    sink_free(&s);

    /* 300 keys from the greatest down: k000 .. k255 are kept */
    ngx_cx_export_columns_init(cols);

    for (i = 299; i >= 0; i--) {
        snprintf(key, sizeof(key), "k%03d", i);
        ngx_cx_export_columns_add_key(cols, (unsigned char *) key, 4);
    }

    assert_int_equal(cols->n, NGX_CX_EXPORT_COLUMNS);
    assert_int_equal(cols->dropped, 1);
    assert_memory_equal(cols->key[0], "k000", 4);
    assert_memory_equal(cols->key[255], "k255", 4);

    /* and from the least up: the same columns */
    ngx_cx_export_columns_init(cols);

    for (i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        ngx_cx_export_columns_add_key(cols, (unsigned char *) key, 4);
    }

    assert_int_equal(cols->n, NGX_CX_EXPORT_COLUMNS);
    assert_memory_equal(cols->key[255], "k255", 4);

    free(cols);
}


/* ---- the write callback ---- */

static void
test_write_stops(void **state)
{
    unsigned         k;
    sink_t           s = { 0 };
    char             big[6000];
    ngx_cx_record_t  r;

    (void) state;

    s.fail_at = 1;
    assert_int_equal(ngx_cx_export_csv_header(sink_write, &s, NULL, 0), -1);
    assert_int_equal(s.calls, 1);
    sink_free(&s);

    base_record(&r);
    memset(big, 'c', sizeof(big));
    r.comment = field(big, sizeof(big));
    r.path = field(big, sizeof(big));

    /* how many calls a full row takes */
    assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, &r, NULL), 0);
    assert_true(s.calls >= 3);
    k = s.calls;
    sink_free(&s);

    /* failing at each of them: -1, and no call after the failing one */
    for (s.fail_at = 1; s.fail_at <= k; s.fail_at++) {
        unsigned  at = s.fail_at;

        assert_int_equal(ngx_cx_export_csv(sink_write, &s, prompt_id, &r, NULL), -1);
        assert_int_equal(s.calls, at);
        sink_free(&s);
        s.fail_at = at;

        assert_int_equal(ngx_cx_export_ndjson(sink_write, &s, prompt_id, &r),
                         -1);
        assert_int_equal(s.calls, at);
        sink_free(&s);
        s.fail_at = at;
    }
}


/* ---- received_at ---- */

static void
test_export_time(void **state)
{
    ngx_cx_record_t  r;

    (void) state;

    memset(&r, 0, sizeof(r));
    assert_true(ngx_cx_export_time(&r) == 0);

    r.issued_at_ms = 1;
    assert_true(ngx_cx_export_time(&r) == 1);

    r.dismissed_at_ms = 4;
    assert_true(ngx_cx_export_time(&r) == 4);

    r.displayed_at_ms = 2;
    assert_true(ngx_cx_export_time(&r) == 2);

    r.answered_at_ms = 3;
    r.commented_at_ms = 9;              /* never the date */
    assert_true(ngx_cx_export_time(&r) == 3);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_teardown(test_csv_header, teardown),
        cmocka_unit_test_teardown(test_csv_plain, teardown),
        cmocka_unit_test_teardown(test_previous_score, teardown),
        cmocka_unit_test_teardown(test_csv_quoting, teardown),
        cmocka_unit_test_teardown(test_csv_formula, teardown),
        cmocka_unit_test_teardown(test_csv_utf8, teardown),
        cmocka_unit_test_teardown(test_csv_attributes, teardown),
        cmocka_unit_test_teardown(test_csv_not_answered, teardown),
        cmocka_unit_test_teardown(test_csv_out_of_range, teardown),
        cmocka_unit_test_teardown(test_csv_long_field, teardown),
        cmocka_unit_test_teardown(test_ndjson_line, teardown),
        cmocka_unit_test_teardown(test_ndjson_not_answered, teardown),
        cmocka_unit_test_teardown(test_ndjson_long_strings, teardown),
        cmocka_unit_test_teardown(test_csv_item9_row, teardown),
        cmocka_unit_test_teardown(test_ndjson_item9_line, teardown),
        cmocka_unit_test_teardown(test_bands_per_type, teardown),
        cmocka_unit_test_teardown(test_attribute_numbers, teardown),
        cmocka_unit_test_teardown(test_columns, teardown),
        cmocka_unit_test_teardown(test_write_stops, teardown),
        cmocka_unit_test_teardown(test_export_time, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
