/*
 * base64url, hex, signed blobs, prompt tokens and visitor cookies.
 * Known-answer strings were computed independently with Python
 * (base64.urlsafe_b64encode, hmac, struct), so a change of wire format
 * or MAC input fails here.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_cx_token.h"


#define KEY  "cx-test-key"

#define S(s)  (const unsigned char *) (s), (sizeof(s) - 1)


static ngx_cx_hmac_key_t  key, other_key;


static int
setup(void **state)
{
    (void) state;

    ngx_cx_hmac_key_init(&key, (const unsigned char *) KEY, strlen(KEY));
    ngx_cx_hmac_key_init(&other_key, (const unsigned char *) "cx-test-kez", 11);

    return 0;
}


static void
sample_token(ngx_cx_token_t *t)
{
    int  i;

    memset(t, 0, sizeof(*t));
    t->issued_at = 0x65a0b1c2;

    for (i = 0; i < NGX_CX_VISITOR_ID_LEN; i++) {
        t->visitor[i] = (unsigned char) i;
    }

    for (i = 0; i < 8; i++) {
        t->nonce[i] = (unsigned char) (0xa0 + i);
    }

    t->stage = 3;
    t->survey_len = 18;
    memcpy(t->survey, "nps_after_purchase", 18);
    t->touchpoint_len = 8;
    memcpy(t->touchpoint, "purchase", 8);
    t->lang_len = 2;
    memcpy(t->lang, "en", 2);
    t->path_len = 14;
    memcpy(t->path, "/checkout/done", 14);
}


static void
sample_visitor(ngx_cx_visitor_t *v)
{
    int  i;

    memset(v, 0, sizeof(*v));

    for (i = 0; i < NGX_CX_VISITOR_ID_LEN; i++) {
        v->id[i] = (unsigned char) (0x10 + i);
    }

    v->first_seen = 1700000000;
}


static const char  sample_token_str[] =
    "AWWgscIAAQIDBAUGBwgJCgugoaKjpKWmpwMSbnBzX2FmdGVyX3B1cmNoYXNlCHB1cmNoYXNl"
    "AmVuAA4vY2hlY2tvdXQvZG9uZQ.wJj4x2xQMgj8k1pzmexOMg";

static const unsigned char  sample_token_payload[] = {
    0x01, 0x65, 0xa0, 0xb1, 0xc2,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0x03,
    18, 'n', 'p', 's', '_', 'a', 'f', 't', 'e', 'r', '_',
        'p', 'u', 'r', 'c', 'h', 'a', 's', 'e',
    8, 'p', 'u', 'r', 'c', 'h', 'a', 's', 'e',
    2, 'e', 'n',
    0x00, 14, '/', 'c', 'h', 'e', 'c', 'k', 'o', 'u', 't', '/', 'd', 'o', 'n', 'e'
};

static const char  sample_cookie_str[] = "ARAREhMUFRYXGBkaG2VT8QA.zGM4G7GYljOlaypKJy3i9A";


static int
is_zero(const void *p, size_t n)
{
    const unsigned char  *c = p;

    while (n--) {
        if (*c++) {
            return 0;
        }
    }

    return 1;
}


/* ---- base64url ---- */

static void
test_b64url_rfc4648(void **state)
{
    size_t         i, n;
    unsigned char  out[16];

    static const char  *v[][2] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };

    (void) state;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        n = ngx_cx_b64url_encode(out, (const unsigned char *) v[i][0], strlen(v[i][0]));
        assert_int_equal(n, strlen(v[i][1]));
        assert_int_equal(n, NGX_CX_B64URL_LEN(strlen(v[i][0])));
        assert_memory_equal(out, v[i][1], n);

        n = 99;
        assert_int_equal(ngx_cx_b64url_decode(out, sizeof(out),
                                              (const unsigned char *) v[i][1],
                                              strlen(v[i][1]), &n), 0);
        assert_int_equal(n, strlen(v[i][0]));
        assert_int_equal(n, NGX_CX_B64URL_DECODED_LEN(strlen(v[i][1])));
        assert_memory_equal(out, v[i][0], n);
    }
}


static void
test_b64url_url_alphabet(void **state)
{
    size_t         n;
    unsigned char  out[8];

    static const unsigned char  a[] = { 0xfb, 0xff, 0xbf }, b[] = { 0xf8 };

    (void) state;

    assert_int_equal(ngx_cx_b64url_encode(out, a, 2), 3);
    assert_memory_equal(out, "-_8", 3);
    assert_int_equal(ngx_cx_b64url_encode(out, a, 3), 4);
    assert_memory_equal(out, "-_-_", 4);
    assert_int_equal(ngx_cx_b64url_encode(out, b, 1), 2);
    assert_memory_equal(out, "-A", 2);

    assert_int_equal(ngx_cx_b64url_decode(out, sizeof(out), S("-_-_"), &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, a, 3);
}


static void
test_b64url_round_trip_all_bytes(void **state)
{
    size_t         len, start, n, i;
    unsigned char  src[256], enc[NGX_CX_B64URL_LEN(256)], dec[256];

    (void) state;

    for (i = 0; i < sizeof(src); i++) {
        src[i] = (unsigned char) (255 - i);
    }

    for (start = 0; start < 3; start++) {
        for (len = 0; len + start <= sizeof(src); len++) {
            n = ngx_cx_b64url_encode(enc, src + start, len);
            assert_int_equal(n, NGX_CX_B64URL_LEN(len));

            /* the exact room needed is enough, one byte less is not */
            assert_int_equal(ngx_cx_b64url_decode(dec, len, enc, n, &i), 0);
            assert_int_equal(i, len);
            assert_memory_equal(dec, src + start, len);

            if (len) {
                assert_int_equal(ngx_cx_b64url_decode(dec, len - 1, enc, n, &i), -1);
            }
        }
    }
}


static void
test_b64url_rejects(void **state)
{
    int            c;
    size_t         i, n;
    unsigned char  out[16], in[4];

    static const struct {
        const char *s;
        size_t      len;
    } bad[] = {
        { "Zg==", 4 }, { "Zg=", 3 }, { "Zm8=", 4 },       /* padding */
        { "Z", 1 }, { "Zm9vY", 5 }, { "Zm9vYmFyZ", 9 },   /* len % 4 == 1 */
        { "Zh", 2 }, { "Z_", 2 }, { "Zm9", 3 }, { "Zm-", 3 }, /* stray low bits */
        { "Zm+v", 4 }, { "Zm/v", 4 },                     /* standard alphabet */
        { " Zm9v", 5 }, { "Zm9v\n", 5 }, { "Zm9v ", 5 },  /* whitespace */
        { "Zm\0v", 4 }, { "Zm.v", 4 }, { "Zm9v.", 5 },
        { "Zm\x80v", 4 }, { "Zm\xffv", 4 }, { "\xc3\xa9Zg", 4 },
    };

    (void) state;

    /* exact-size heap copies, so ASan sees any read past the input */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char  *copy = malloc(bad[i].len);

        assert_non_null(copy);
        memcpy(copy, bad[i].s, bad[i].len);
        n = 77;
        assert_int_equal(ngx_cx_b64url_decode(out, sizeof(out), copy,
                                              bad[i].len, &n), -1);
        assert_int_equal(n, 77);
        free(copy);
    }

    /* exactly the 64 alphabet characters are accepted, in any position */
    for (i = 0; i < 4; i++) {
        for (c = 0; c < 256; c++) {
            memcpy(in, "AAAA", 4);
            in[i] = (unsigned char) c;

            assert_int_equal(ngx_cx_b64url_decode(out, sizeof(out), in, 4, &n) == 0,
                             (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                             || (c >= '0' && c <= '9') || c == '-' || c == '_');
        }
    }

    /* the canonical last character of a 2-char group has 4 zero low bits */
    for (c = 0; c < 256; c++) {
        in[0] = 'Z';
        in[1] = (unsigned char) c;

        assert_int_equal(ngx_cx_b64url_decode(out, sizeof(out), in, 2, &n) == 0,
                         c == 'A' || c == 'Q' || c == 'g' || c == 'w');
    }

    /* empty input is valid and needs no room */
    n = 5;
    assert_int_equal(ngx_cx_b64url_decode(NULL, 0, (const unsigned char *) "", 0, &n), 0);
    assert_int_equal(n, 0);
}


static void
test_b64url_in_place(void **state)
{
    size_t         n;
    unsigned char  buf[] = "Zm9vYmFyZm8";

    (void) state;

    assert_int_equal(ngx_cx_b64url_decode(buf, sizeof(buf), buf, 11, &n), 0);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "foobarfo", 8);
}


static void
test_hex(void **state)
{
    unsigned char  out[25];

    static const unsigned char  in[] = { 0x00, 0x0f, 0xa5, 0xff, 0x10 };
    ngx_cx_visitor_t            v;

    (void) state;

    memset(out, '#', sizeof(out));
    ngx_cx_hex(out, in, sizeof(in));
    assert_memory_equal(out, "000fa5ff10#", 11);

    sample_visitor(&v);
    memset(out, '#', sizeof(out));
    ngx_cx_hex(out, v.id, NGX_CX_VISITOR_ID_LEN);
    assert_memory_equal(out, "101112131415161718191a1b#", 25);
}


/* ---- signed blobs ---- */

static void
test_signed_known_answer(void **state)
{
    size_t         n, plen;
    unsigned char  out[64], payload[16];

    (void) state;

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN, S("hello"));
    assert_int_equal(n, NGX_CX_SIGNED_LEN(5));
    assert_memory_equal(out, "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A", n);

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, S("hello"));
    assert_int_equal(n, 30);
    assert_memory_equal(out, "aGVsbG8.yH9gihCB77fjqvYlgnE8xA", n);

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN, NULL, 0);
    assert_int_equal(n, 23);
    assert_memory_equal(out, ".POfsvKCfV7lSbrB_pmHXcA", n);

    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN,
                                          S("aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A"),
                                          payload, sizeof(payload), &plen), 0);
    assert_int_equal(plen, 5);
    assert_memory_equal(payload, "hello", 5);

    plen = 9;
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN,
                                          S(".POfsvKCfV7lSbrB_pmHXcA"),
                                          NULL, 0, &plen), 0);
    assert_int_equal(plen, 0);

    /* the same payload under the other domain or key does not verify */
    plen = 9;
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_COOKIE,
                                          S("aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A"),
                                          payload, sizeof(payload), &plen), -1);
    assert_int_equal(plen, 9);
    assert_true(is_zero(payload, 5));
    assert_int_equal(ngx_cx_signed_decode(&other_key, NGX_CX_DOMAIN_TOKEN,
                                          S("aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A"),
                                          payload, sizeof(payload), &plen), -1);
}


static void
test_signed_buffers(void **state)
{
    size_t         plen;
    unsigned char  out[64];

    (void) state;

    /* too small: 0 and nothing written */
    memset(out, '#', sizeof(out));
    assert_int_equal(ngx_cx_signed_encode(out, 29, &key, NGX_CX_DOMAIN_TOKEN,
                                          S("hello")), 0);
    assert_int_equal(out[0], '#');
    assert_int_equal(ngx_cx_signed_encode(out, 30, &key, NGX_CX_DOMAIN_TOKEN,
                                          S("hello")), 30);

    /* payload buffer one byte short */
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN,
                                          S("aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A"),
                                          out, 4, &plen), -1);
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN,
                                          S("aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A"),
                                          out, 5, &plen), 0);
}


static void
test_signed_malformed(void **state)
{
    size_t         i, plen;
    unsigned char  out[64];

    static const char  *bad[] = {
        "",
        ".",
        "aGVsbG8",
        "aGVsbG8m09JcJ9IB_gMMcTqrlpZ9A",              /* no dot */
        "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9",              /* MAC short */
        "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9AA",            /* MAC long */
        "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9B",             /* MAC non-canonical */
        "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A.",
        "aGVsbG8..m09JcJ9IB_gMMcTqrlpZ9A",
        "aG.VsbG8.m09JcJ9IB_gMMcTqrlpZ9A",
        "aGVsbG8=.m09JcJ9IB_gMMcTqrlpZ9A",
        "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A==",
        " aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A",
        "aGVsbG8.m09JcJ9IB_gMMcTqrlpZ9A\n",
        "aGVsbG9.m09JcJ9IB_gMMcTqrlpZ9A",             /* payload non-canonical */
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN,
                                              (const unsigned char *) bad[i],
                                              strlen(bad[i]), out, sizeof(out),
                                              &plen), -1);
    }
}


/* ---- prompt token ---- */

static void
test_token_known_answer(void **state)
{
    size_t          n, plen;
    unsigned char   out[NGX_CX_TOKEN_MAX], payload[NGX_CX_TOKEN_PAYLOAD_MAX];
    ngx_cx_token_t  t, d;

    (void) state;

    sample_token(&t);
    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    assert_int_equal(n, sizeof(sample_token_str) - 1);
    assert_memory_equal(out, sample_token_str, n);

    /* the wire layout, byte for byte */
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN, out, n,
                                          payload, sizeof(payload), &plen), 0);
    assert_int_equal(plen, sizeof(sample_token_payload));
    assert_memory_equal(payload, sample_token_payload, plen);

    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_memory_equal(&d, &t, sizeof(t));
    assert_int_equal(d.issued_at, 0x65a0b1c2);
    assert_int_equal(d.stage, 3);
    assert_int_equal(d.survey_len, 18);
    assert_memory_equal(d.survey, "nps_after_purchase", 18);
    assert_int_equal(d.path_len, 14);
    assert_memory_equal(d.path, "/checkout/done", 14);
}


static void
test_token_prompt_id(void **state)
{
    unsigned char   id[NGX_CX_PROMPT_ID_LEN];
    ngx_cx_token_t  t;

    static const unsigned char  want[NGX_CX_PROMPT_ID_LEN] = {
        0x65, 0xa0, 0xb1, 0xc2, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7
    };

    (void) state;

    sample_token(&t);
    ngx_cx_token_prompt_id(&t, id);
    assert_memory_equal(id, want, sizeof(want));
}


static void
max_token(ngx_cx_token_t *t)
{
    sample_token(t);
    t->stage = NGX_CX_STAGE_MAX;
    t->issued_at = 0xffffffff;
    t->survey_len = NGX_CX_NAME_MAX;
    memset(t->survey, 's', NGX_CX_NAME_MAX);
    t->touchpoint_len = NGX_CX_NAME_MAX;
    memset(t->touchpoint, 't', NGX_CX_NAME_MAX);
    t->lang_len = NGX_CX_LANG_MAX;
    memset(t->lang, 'l', NGX_CX_LANG_MAX);
    t->path_len = NGX_CX_PATH_MAX;
    memset(t->path, '\xff', NGX_CX_PATH_MAX);
}


static void
test_token_max_fields(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX + 1];
    ngx_cx_token_t  t, d;

    (void) state;

    assert_int_equal(NGX_CX_TOKEN_PAYLOAD_MAX, 430);
    assert_int_equal(NGX_CX_TOKEN_MAX, 597);

    max_token(&t);
    n = ngx_cx_token_encode(out, NGX_CX_TOKEN_MAX, &key, &t);
    assert_int_equal(n, NGX_CX_TOKEN_MAX);
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_memory_equal(&d, &t, sizeof(t));

    assert_int_equal(ngx_cx_token_encode(out, NGX_CX_TOKEN_MAX - 1, &key, &t), 0);

    /* one byte past the maximum is refused before any MAC work */
    out[n] = 'A';
    assert_int_equal(ngx_cx_token_decode(&key, out, n + 1, &d), -1);

    /* all-empty strings are a valid token too */
    memset(&t, 0, sizeof(t));
    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(31));
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_true(is_zero(&d, sizeof(d)));
}


static void
test_token_oversize_rejected_at_encode(void **state)
{
    int             i;
    unsigned char   out[NGX_CX_TOKEN_MAX + 64];
    ngx_cx_token_t  t;

    (void) state;

    for (i = 0; i < 5; i++) {
        max_token(&t);

        switch (i) {
        case 0: t.survey_len = NGX_CX_NAME_MAX + 1; break;
        case 1: t.touchpoint_len = NGX_CX_NAME_MAX + 1; break;
        case 2: t.lang_len = NGX_CX_LANG_MAX + 1; break;
        case 3: t.path_len = NGX_CX_PATH_MAX + 1; break;
        case 4: t.stage = NGX_CX_STAGE_MAX + 1; break;
        }

        assert_int_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);
    }

    sample_token(&t);
    t.path_len = 0xffff;
    assert_int_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);
    t.survey_len = 255;
    assert_int_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);
}


typedef int (*decode_pt)(const unsigned char *src, size_t len);

static int
decode_token(const unsigned char *src, size_t len)
{
    ngx_cx_token_t  t;
    int             rc;

    memset(&t, 0xee, sizeof(t));
    rc = ngx_cx_token_decode(&key, src, len, &t);

    if (rc != 0) {
        assert_true(is_zero(&t, sizeof(t)));
    }

    return rc;
}


static int
decode_visitor(const unsigned char *src, size_t len)
{
    ngx_cx_visitor_t  v;
    int               rc;

    memset(&v, 0xee, sizeof(v));
    rc = ngx_cx_visitor_decode(&key, src, len, &v);

    if (rc != 0) {
        assert_true(is_zero(&v, sizeof(v)));
    }

    return rc;
}


/*
 * Every other value of every byte, every proper prefix, and the string with
 * a byte appended must all fail; the string itself must pass. The copy is
 * heap-allocated at the exact length so ASan catches any read past `len`.
 */
static void
assert_tamper_proof(decode_pt decode, const unsigned char *s, size_t len)
{
    int             b;
    size_t          i;
    unsigned char  *buf;

    buf = malloc(len + 1);
    assert_non_null(buf);

    memcpy(buf, s, len);
    assert_int_equal(decode(buf, len), 0);

    for (i = 0; i < len; i++) {
        for (b = 1; b < 256; b++) {
            buf[i] = s[i] ^ (unsigned char) b;
            assert_int_equal(decode(buf, len), -1);
        }

        buf[i] = s[i];
    }

    for (i = 0; i < len; i++) {
        unsigned char  *prefix = malloc(i ? i : 1);

        assert_non_null(prefix);
        memcpy(prefix, s, i);
        assert_int_equal(decode(prefix, i), -1);
        free(prefix);
    }

    for (b = 0; b < 256; b++) {
        buf[len] = (unsigned char) b;
        assert_int_equal(decode(buf, len + 1), -1);
    }

    free(buf);
}


static void
test_token_tamper(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t;

    (void) state;

    assert_tamper_proof(decode_token, (const unsigned char *) sample_token_str,
                        sizeof(sample_token_str) - 1);

    max_token(&t);
    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    assert_int_equal(n, NGX_CX_TOKEN_MAX);
    assert_tamper_proof(decode_token, out, n);
}


static void
test_token_other_key(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t, d;

    (void) state;

    sample_token(&t);
    n = ngx_cx_token_encode(out, sizeof(out), &other_key, &t);
    assert_int_not_equal(n, 0);
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), -1);
    assert_int_equal(ngx_cx_token_decode(&other_key, out, n, &d), 0);
    assert_memory_equal(&d, &t, sizeof(t));
}


/* sign any payload as a token, then run it through the token decoder */
static int
sign_and_decode(const unsigned char *p, size_t len, ngx_cx_token_t *t)
{
    size_t         n;
    unsigned char  out[NGX_CX_SIGNED_LEN(NGX_CX_TOKEN_PAYLOAD_MAX + 8)];

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN, p, len);
    assert_int_not_equal(n, 0);

    return ngx_cx_token_decode(&key, out, n, t);
}


/* payloads that are properly signed but are not a version-1 token */
static void
test_token_bad_payloads(void **state)
{
    size_t          n, plen;
    unsigned char   p[NGX_CX_TOKEN_PAYLOAD_MAX + 8];
    ngx_cx_token_t  t;

    (void) state;

    plen = sizeof(sample_token_payload);

#define SIGN_AND_DECODE(len)  sign_and_decode(p, (len), &t)

    /* control: the sample payload itself decodes */
    memcpy(p, sample_token_payload, plen);
    assert_int_equal(SIGN_AND_DECODE(plen), 0);

    /* truncated anywhere, including inside a string or the path length */
    for (n = 0; n < plen; n++) {
        assert_int_equal(SIGN_AND_DECODE(n), -1);
    }

    /* trailing bytes */
    p[plen] = 0;
    assert_int_equal(SIGN_AND_DECODE(plen + 1), -1);

    /* version */
    p[0] = 0;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[0] = 2;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[0] = 0xff;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[0] = 1;

    /* stage */
    p[25] = NGX_CX_STAGE_MAX + 1;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[25] = NGX_CX_STAGE_MAX;
    assert_int_equal(SIGN_AND_DECODE(plen), 0);
    p[25] = 3;

    /* a string length over its maximum, with the bytes really present */
    {
        size_t  o = 0;

        p[o++] = 1;
        memset(p + o, 0, 4 + 12 + 8 + 1);
        o += 4 + 12 + 8 + 1;
        p[o++] = NGX_CX_NAME_MAX + 1;
        memset(p + o, 's', NGX_CX_NAME_MAX + 1);
        o += NGX_CX_NAME_MAX + 1;
        p[o++] = 0;                               /* touchpoint */
        p[o++] = 0;                               /* lang */
        p[o++] = 0;                               /* path_len hi */
        p[o++] = 0;                               /* path_len lo */
        assert_int_equal(SIGN_AND_DECODE(o), -1);

        /* the same layout at exactly the maximum passes */
        o = 26;
        p[o++] = NGX_CX_NAME_MAX;
        o += NGX_CX_NAME_MAX;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = 0;
        assert_int_equal(SIGN_AND_DECODE(o), 0);
        assert_int_equal(t.survey_len, NGX_CX_NAME_MAX);

        o = 26;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = NGX_CX_LANG_MAX + 1;
        memset(p + o, 'l', NGX_CX_LANG_MAX + 1);
        o += NGX_CX_LANG_MAX + 1;
        p[o++] = 0;
        p[o++] = 0;
        assert_int_equal(SIGN_AND_DECODE(o), -1);

        o = 26;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = (NGX_CX_PATH_MAX + 1) >> 8;
        p[o++] = (NGX_CX_PATH_MAX + 1) & 0xff;
        memset(p + o, '/', NGX_CX_PATH_MAX + 1);
        o += NGX_CX_PATH_MAX + 1;
        assert_int_equal(SIGN_AND_DECODE(o), -1);

        o = 26;
        p[o++] = 0;
        p[o++] = NGX_CX_NAME_MAX + 1;
        memset(p + o, 't', NGX_CX_NAME_MAX + 1);
        o += NGX_CX_NAME_MAX + 1;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = 0;
        assert_int_equal(SIGN_AND_DECODE(o), -1);
    }

#undef SIGN_AND_DECODE
}


/* ---- visitor cookie ---- */

static void
test_visitor_known_answer(void **state)
{
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d;

    (void) state;

    assert_int_equal(NGX_CX_COOKIE_MAX, 46);

    sample_visitor(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(n, sizeof(sample_cookie_str) - 1);
    assert_int_equal(n, NGX_CX_COOKIE_MAX);
    assert_memory_equal(out, sample_cookie_str, n);

    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
    assert_memory_equal(d.id, v.id, NGX_CX_VISITOR_ID_LEN);
    assert_int_equal(d.first_seen, 1700000000);

    assert_int_equal(ngx_cx_visitor_encode(out, sizeof(out) - 1, &key, &v), 0);
}


static void
test_visitor_tamper(void **state)
{
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d;

    (void) state;

    assert_tamper_proof(decode_visitor, (const unsigned char *) sample_cookie_str,
                        sizeof(sample_cookie_str) - 1);

    sample_visitor(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &other_key, &v);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), -1);
    assert_int_equal(ngx_cx_visitor_decode(&other_key, out, n, &d), 0);
}


static void
test_visitor_bad_payloads(void **state)
{
    size_t            n, i;
    unsigned char     p[NGX_CX_VISITOR_PAYLOAD_MAX + 1], out[64];
    ngx_cx_visitor_t  v;

    static const unsigned char  good[NGX_CX_VISITOR_PAYLOAD_MAX] = {
        0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
        0x1b, 0x65, 0x53, 0xf1, 0x00
    };

    (void) state;

    memcpy(p, good, sizeof(good));
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, p,
                             sizeof(good));
    assert_memory_equal(out, sample_cookie_str, n);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), 0);

    for (i = 0; i < sizeof(good); i++) {
        n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, p, i);
        assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);
    }

    /* trailing byte: longer than any version-1 payload */
    p[sizeof(good)] = 0;
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, p,
                             sizeof(good) + 1);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);

    /* unknown versions */
    p[0] = 0;
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, p,
                             sizeof(good));
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);
    p[0] = 2;
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, p,
                             sizeof(good));
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);
}


static void
test_visitor_oversized(void **state)
{
    unsigned char     big[4096];
    ngx_cx_visitor_t  v;

    (void) state;

    memset(big, 'A', sizeof(big));
    memcpy(big, sample_cookie_str, sizeof(sample_cookie_str) - 1);
    assert_int_equal(ngx_cx_visitor_decode(&key, big, NGX_CX_COOKIE_MAX + 1, &v), -1);
    assert_int_equal(ngx_cx_visitor_decode(&key, big, sizeof(big), &v), -1);
    assert_int_equal(ngx_cx_visitor_decode(&key, big, 0, &v), -1);
}


/* ---- domain separation ---- */

static void
test_domain_separation(void **state)
{
    size_t            n, plen;
    unsigned char     out[NGX_CX_TOKEN_MAX], payload[NGX_CX_TOKEN_PAYLOAD_MAX];
    ngx_cx_token_t    t;
    ngx_cx_visitor_t  v;

    (void) state;

    /* the strings themselves, presented to the other decoder */
    assert_int_equal(ngx_cx_token_decode(&key, S(sample_cookie_str), &t), -1);
    assert_int_equal(ngx_cx_visitor_decode(&key, S(sample_token_str), &v), -1);

    /*
     * A valid token payload signed for the cookie domain: the payload parses
     * as a token, so only the domain byte in the MAC stops it.
     */
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN,
                                          S(sample_token_str), payload,
                                          sizeof(payload), &plen), 0);

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE,
                             payload, plen);
    assert_int_not_equal(n, 0);
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &t), -1);

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN,
                             payload, plen);
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &t), 0);

    /* and a valid cookie payload signed for the token domain */
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_COOKIE,
                                          S(sample_cookie_str), payload,
                                          sizeof(payload), &plen), 0);
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN,
                             payload, plen);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_b64url_rfc4648),
        cmocka_unit_test(test_b64url_url_alphabet),
        cmocka_unit_test(test_b64url_round_trip_all_bytes),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b64url_in_place),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_signed_known_answer),
        cmocka_unit_test(test_signed_buffers),
        cmocka_unit_test(test_signed_malformed),
        cmocka_unit_test(test_token_known_answer),
        cmocka_unit_test(test_token_prompt_id),
        cmocka_unit_test(test_token_max_fields),
        cmocka_unit_test(test_token_oversize_rejected_at_encode),
        cmocka_unit_test(test_token_tamper),
        cmocka_unit_test(test_token_other_key),
        cmocka_unit_test(test_token_bad_payloads),
        cmocka_unit_test(test_visitor_known_answer),
        cmocka_unit_test(test_visitor_tamper),
        cmocka_unit_test(test_visitor_bad_payloads),
        cmocka_unit_test(test_visitor_oversized),
        cmocka_unit_test(test_domain_separation),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
