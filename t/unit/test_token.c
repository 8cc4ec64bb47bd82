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

#include "unit_util.h"

#include "ngx_cx_token.h"
#include "ngx_cx_record.h"


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


/*
 * sample_token()'s payload after the version byte, as far as version 1
 * had fields: the same in every version since.
 */
#define SAMPLE_TOKEN_FIELDS                                                  \
    0x65, 0xa0, 0xb1, 0xc2,                                                  \
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,  \
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,                          \
    0x03,                                                                    \
    18, 'n', 'p', 's', '_', 'a', 'f', 't', 'e', 'r', '_',                    \
        'p', 'u', 'r', 'c', 'h', 'a', 's', 'e',                              \
    8, 'p', 'u', 'r', 'c', 'h', 'a', 's', 'e',                               \
    2, 'e', 'n',                                                             \
    0x00, 14, '/', 'c', 'h', 'e', 'c', 'k', 'o', 'u', 't',                   \
        '/', 'd', 'o', 'n', 'e'

/* sample_token() as the version-1 encoder wrote it */
static const char  sample_token_v1_str[] =
    "AWWgscIAAQIDBAUGBwgJCgugoaKjpKWmpwMSbnBzX2FmdGVyX3B1cmNoYXNlCHB1cmNoYXNl"
    "AmVuAA4vY2hlY2tvdXQvZG9uZQ.wJj4x2xQMgj8k1pzmexOMg";

static const unsigned char  sample_token_v1_payload[] = {
    0x01, SAMPLE_TOKEN_FIELDS
};

/* sample_token() as version 3, no attrs; from Python */
static const char  sample_token_str[] =
    "A2WgscIAAQIDBAUGBwgJCgugoaKjpKWmpwMSbnBzX2FmdGVyX3B1cmNoYXNlCHB1cmNoYXNl"
    "AmVuAA4vY2hlY2tvdXQvZG9uZQAA.2wxrERqgvkYlD1vpwDuJrg";

/* sample_token() as version 2 wrote it (still decoded) */
static const char  sample_token_v2_str[] =
    "AmWgscIAAQIDBAUGBwgJCgugoaKjpKWmpwMSbnBzX2FmdGVyX3B1cmNoYXNlCHB1cmNoYXNl"
    "AmVuAA4vY2hlY2tvdXQvZG9uZQAA.G7xcgre3KChTRrFeHMzczQ";

/* sample_token_str's payload */
static const unsigned char  sample_token_payload[] = {
    0x03, SAMPLE_TOKEN_FIELDS,
    0x00, 0x00                                    /* attrs_len */
};

/* where the attrs ciphertext starts in a sample_token() payload */
#define SAMPLE_ATTRS_OFF  (sizeof(sample_token_payload))

/* a recognizable plaintext: 70 bytes, so 2 whole keystream blocks and a part */
#define SAMPLE_ATTRS  \
    "order_total=129.90;order_total=129.90;order_total=129.90;order_total=1"

/* sample_token() with attrs SAMPLE_ATTRS, version 3; from Python */
static const char  sample_attrs_token_str[] =
    "A2WgscIAAQIDBAUGBwgJCgugoaKjpKWmpwMSbnBzX2FmdGVyX3B1cmNoYXNlCHB1cmNoYXNl"
    "AmVuAA4vY2hlY2tvdXQvZG9uZQBG2Z4rI8qtTyuvhwMkwdUzNDvBkhKJ6wHO-Au7J4GFBn7r"
    "GzI4aJvBWTlZyI_wqEdZG1_p498ovDRuYsBMniHldJ0__tl1cA.gqmD2ZY1tyULZFgH0pw-p"
    "w";

/* the same, as version 2 wrote it (still decoded) */
static const char  sample_attrs_token_v2_str[] =
    "AmWgscIAAQIDBAUGBwgJCgugoaKjpKWmpwMSbnBzX2FmdGVyX3B1cmNoYXNlCHB1cmNoYXNl"
    "AmVuAA4vY2hlY2tvdXQvZG9uZQBGB_e9rlHZqUYgXI3WfBCOfQ0IMa5x0ePqGYBlxZq49jKL"
    "W5BFaYMbX6S22UPkrFkCt77DImKgbzHGRk_Rq3Qw1DZ73Ul8CQ.2YWFBrxXzGnbU3COSkgvVg";

/*
 * The first 256 keystream bytes (blocks 0..7) of sample_token() under KEY,
 * version 3: SHA-256((KEY zero-padded to 64 bytes, each byte ^ 0x6a)
 * || 03 03 65a0b1c2 000102030405060708090a0b a0a1a2a3a4a5a6a7 i) for
 * i = 0..7, concatenated; from Python hashlib.
 */
static const unsigned char  sample_keystream[NGX_CX_ATTRS_MAX] = {
    0xb6, 0xec, 0x4f, 0x46, 0xb8, 0xf2, 0x3b, 0x44, 0xdb, 0xe6, 0x6f, 0x19,
    0xf0, 0xe7, 0x0a, 0x1a, 0x02, 0xf1, 0xa9, 0x7d, 0xfb, 0x8f, 0x64, 0xbc,
    0xa7, 0x7f, 0xd4, 0x53, 0xe0, 0xe9, 0x3b, 0x4f, 0xd9, 0x22, 0x1c, 0x01,
    0x58, 0xa0, 0xae, 0x2b, 0x5d, 0x3c, 0xba, 0xd0, 0x84, 0xc7, 0x33, 0x38,
    0x77, 0x62, 0xd8, 0xd1, 0xe6, 0x06, 0x85, 0x04, 0x55, 0x0d, 0xb2, 0x28,
    0xfb, 0x53, 0xba, 0x00, 0xf2, 0x4b, 0x9f, 0xb5, 0x48, 0x41, 0x54, 0x61,
    0x74, 0x18, 0x12, 0xfc, 0x81, 0xbb, 0xfa, 0x11, 0xa8, 0xc4, 0x33, 0x64,
    0x26, 0x9b, 0x27, 0xe6, 0x04, 0x36, 0x56, 0xcb, 0xaa, 0xdb, 0xdc, 0x38,
    0xa3, 0x5e, 0x41, 0x95, 0xdb, 0x61, 0x22, 0x7f, 0xb6, 0x94, 0x6d, 0x0e,
    0xef, 0xeb, 0x01, 0x2b, 0x76, 0xbd, 0xda, 0x3a, 0xd6, 0xc0, 0xae, 0x02,
    0xd0, 0x7b, 0x4a, 0x71, 0xd0, 0xc7, 0xc9, 0xb1, 0xfc, 0x66, 0xd7, 0xf7,
    0x1f, 0xc6, 0xb1, 0x46, 0xaa, 0x30, 0x59, 0x0d, 0x94, 0x0d, 0x92, 0x2a,
    0xeb, 0x3a, 0xd8, 0xd9, 0xf2, 0x5f, 0xca, 0xf9, 0x4d, 0xd1, 0x7b, 0x6c,
    0x66, 0xd6, 0x07, 0x2b, 0x2f, 0x12, 0x74, 0x0c, 0xd6, 0xc5, 0x00, 0x09,
    0x88, 0x26, 0x07, 0xc5, 0xac, 0x3a, 0x32, 0x20, 0xd2, 0x77, 0xd5, 0x00,
    0x18, 0x73, 0xb9, 0xb7, 0x21, 0x8f, 0x71, 0x7c, 0x74, 0xd7, 0x55, 0xbc,
    0x1e, 0x69, 0xdb, 0xc0, 0xac, 0x90, 0x6b, 0x7e, 0xe5, 0x96, 0xc3, 0xbc,
    0x7c, 0xe1, 0x7c, 0x7e, 0x00, 0xb6, 0xa8, 0x3d, 0x7a, 0x7f, 0x8e, 0xef,
    0x11, 0x4c, 0xcc, 0x65, 0x96, 0x2f, 0xdb, 0x45, 0x25, 0x05, 0x45, 0x06,
    0x7e, 0xbe, 0x87, 0x78, 0xa0, 0xbe, 0xce, 0x28, 0x23, 0x39, 0x79, 0x1e,
    0x16, 0x8d, 0xe7, 0xf2, 0x6f, 0x29, 0xf0, 0x02, 0xfd, 0xa3, 0x5d, 0xd1,
    0x27, 0x2c, 0x5a, 0x4e
};

/*
 * The same for version 2:
 * HMAC-SHA256(KEY, 03 02 65a0b1c2 000102030405060708090a0b a0a1a2a3a4a5a6a7 i)
 * for i = 0..7, concatenated; from Python hmac.
 */
static const unsigned char  sample_keystream_v2[NGX_CX_ATTRS_MAX] = {
    0x68, 0x85, 0xd9, 0xcb, 0x23, 0x86, 0xdd, 0x29, 0x54, 0x3d, 0xe1, 0xeb,
    0x4d, 0x22, 0xb7, 0x53, 0x34, 0x38, 0x0a, 0xc1, 0x03, 0xb5, 0x86, 0x98,
    0x46, 0xf4, 0x0a, 0xb1, 0xfb, 0xd4, 0xcb, 0x03, 0xb9, 0x62, 0xbe, 0x7c,
    0x59, 0xb8, 0x74, 0x2d, 0xc0, 0xd3, 0xab, 0x1c, 0x90, 0xc3, 0x2d, 0x63,
    0xdb, 0x83, 0xf2, 0x10, 0x5b, 0x8e, 0x56, 0x01, 0xfd, 0x29, 0x3d, 0xb5,
    0xce, 0x06, 0x6f, 0xa0, 0x59, 0x0f, 0xbc, 0x25, 0x41, 0x38, 0x40, 0xa3,
    0x7e, 0x03, 0xe0, 0x87, 0x40, 0xd6, 0x20, 0x78, 0xc1, 0xeb, 0x23, 0x06,
    0x20, 0xca, 0xbd, 0x00, 0xec, 0x6f, 0xe6, 0x70, 0xa8, 0x43, 0x8a, 0xc8,
    0xc0, 0x92, 0x60, 0xdf, 0x85, 0x24, 0x14, 0xe0, 0x81, 0xc3, 0x91, 0x05,
    0x6d, 0xb4, 0x42, 0x8d, 0x1d, 0xce, 0xc3, 0x2f, 0x99, 0x98, 0xa4, 0x5f,
    0x93, 0x0c, 0x48, 0x9d, 0xc1, 0x8d, 0x3f, 0x5d, 0xd7, 0xbf, 0xcc, 0x7f,
    0x10, 0x54, 0x5a, 0xa2, 0xbf, 0xce, 0xe2, 0xaa, 0xb4, 0x1d, 0xaf, 0xe8,
    0xe7, 0xa9, 0xb4, 0x0e, 0xda, 0xb9, 0xb4, 0x7b, 0xc4, 0xad, 0x18, 0x26,
    0xa7, 0x16, 0x53, 0x7d, 0xb9, 0x6f, 0xee, 0x5b, 0xe4, 0xcf, 0xa7, 0xeb,
    0x5b, 0xae, 0xdb, 0x7d, 0xd1, 0xcb, 0xcd, 0xe5, 0xe7, 0xc1, 0x48, 0x7c,
    0x4e, 0x49, 0x02, 0x0d, 0xd1, 0x52, 0xf9, 0x3d, 0xe4, 0x84, 0x3e, 0xd4,
    0xf5, 0xcc, 0x46, 0xc9, 0x96, 0x1f, 0xd2, 0xff, 0xe2, 0x5b, 0xe3, 0x11,
    0xb6, 0xd0, 0x55, 0x0c, 0xb2, 0x3d, 0xbf, 0x89, 0x6b, 0x6e, 0x64, 0x6b,
    0x12, 0xc7, 0xbc, 0x43, 0x0c, 0x06, 0x36, 0xfd, 0x15, 0xb5, 0xf5, 0xca,
    0x9e, 0x36, 0x45, 0x55, 0x7b, 0x93, 0x3f, 0x4a, 0xdc, 0x30, 0xd3, 0x0b,
    0x55, 0xe3, 0xb3, 0x8c, 0x00, 0x32, 0xfd, 0x18, 0x37, 0x22, 0xf7, 0x1e,
    0x86, 0x94, 0x4c, 0xdb
};

/* sample_visitor() as the version-1 encoder wrote it */
static const char  sample_cookie_v1_str[] = "ARAREhMUFRYXGBkaG2VT8QA.zGM4G7GYljOlaypKJy3i9A";


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

typedef int (*decode_pt)(const unsigned char *src, size_t len);

/*
 * Decodes a token (visitor 0) or a cookie (visitor 1); a failure must
 * leave the output all zeros, not half filled in.
 */

static int
decode_either(int visitor, const unsigned char *src, size_t len)
{
    int     rc;
    size_t  size;

    union {
        ngx_cx_token_t    t;
        ngx_cx_visitor_t  v;
    } u;

    memset(&u, 0xee, sizeof(u));

    if (visitor) {
        rc = ngx_cx_visitor_decode(&key, src, len, &u.v);
        size = sizeof(u.v);

    } else {
        rc = ngx_cx_token_decode(&key, src, len, &u.t);
        size = sizeof(u.t);
    }

    if (rc != 0) {
        assert_true(is_zero(&u, size));
    }

    return rc;
}


static int
decode_token(const unsigned char *src, size_t len)
{
    return decode_either(0, src, len);
}


static int
decode_visitor(const unsigned char *src, size_t len)
{
    return decode_either(1, src, len);
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


/*
 * assert_tamper_proof() of the encoded out[0..n) and of each string of the
 * NULL-terminated list after it.
 */
static void
assert_tamper_proof_each(decode_pt decode, const unsigned char *out, size_t n,
    ...)
{
    va_list      args;
    const char  *str;

    assert_tamper_proof(decode, out, n);

    va_start(args, n);

    while ((str = va_arg(args, const char *)) != NULL) {
        assert_tamper_proof(decode, (const unsigned char *) str, strlen(str));
    }

    va_end(args);
}


/* the payload of a token string that must verify; returns its length */
static size_t
token_payload(const unsigned char *s, size_t n,
    unsigned char payload[NGX_CX_TOKEN_PAYLOAD_MAX])
{
    size_t  plen;

    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN, s, n,
                                          payload, NGX_CX_TOKEN_PAYLOAD_MAX,
                                          &plen), 0);

    return plen;
}


/*
 * The encoder wrote out[0..n): it must be the string str, and with want
 * its signed payload in domain must be want[0..want_len).
 */
static void
assert_encoded(const unsigned char *out, size_t n, const char *str,
    unsigned char domain, const unsigned char *want, size_t want_len)
{
    size_t         plen;
    unsigned char  payload[NGX_CX_TOKEN_PAYLOAD_MAX
                           + NGX_CX_VISITOR_PAYLOAD_MAX];

    assert_int_equal(n, strlen(str));
    assert_memory_equal(out, str, n);

    if (want == NULL) {
        return;
    }

    assert_int_equal(ngx_cx_signed_decode(&key, domain, out, n, payload,
                                          sizeof(payload), &plen), 0);
    assert_int_equal(plen, want_len);
    assert_memory_equal(payload, want, plen);
}


static void assert_visitor_equal(const ngx_cx_visitor_t *a,
    const ngx_cx_visitor_t *b);


/*
 * A known answer: the token t, or else the visitor v, encodes into out to
 * the string str, with want[0..want_len) as its signed payload (see
 * assert_encoded()), and decodes back into *dt or *dv, first filled with
 * 0xee, equal to what was encoded.  Returns the encoded length.
 */
static size_t
encode_known(const ngx_cx_token_t *t, ngx_cx_token_t *dt,
    const ngx_cx_visitor_t *v, ngx_cx_visitor_t *dv, unsigned char *out,
    size_t size, const char *str, const unsigned char *want, size_t want_len)
{
    size_t  n;

    if (t != NULL) {
        n = ngx_cx_token_encode(out, size, &key, t);
        assert_encoded(out, n, str, NGX_CX_DOMAIN_TOKEN, want, want_len);
        memset(dt, 0xee, sizeof(*dt));
        assert_int_equal(ngx_cx_token_decode(&key, out, n, dt), 0);
        assert_memory_equal(dt, t, sizeof(*t));

    } else {
        n = ngx_cx_visitor_encode(out, size, &key, v);
        assert_encoded(out, n, str, NGX_CX_DOMAIN_COOKIE, want, want_len);
        memset(dv, 0xee, sizeof(*dv));
        assert_int_equal(ngx_cx_visitor_decode(&key, out, n, dv), 0);
        assert_visitor_equal(dv, v);
    }

    return n;
}


/*
 * Writers for the test's own encoders of old versions: put_be() writes v
 * big-endian in size bytes, put_field() a size-byte big-endian length
 * (none for size 0) and then the len bytes of data.
 */
static unsigned char *
put_be(unsigned char *p, size_t size, uint32_t v)
{
    while (size--) {
        *p++ = (unsigned char) (v >> (8 * size));
    }

    return p;
}


static unsigned char *
put_field(unsigned char *p, size_t size, const void *data, size_t len)
{
    p = put_be(p, size, (uint32_t) len);
    memcpy(p, data, len);

    return p + len;
}


/*
 * The version-1 encoder as it was before attrs, kept here so that the
 * tokens it issued keep being tested against the current decoder.
 */
static size_t
encode_token_v1(unsigned char *dst, size_t dstsize, const ngx_cx_token_t *t)
{
    unsigned char  buf[NGX_CX_TOKEN_PAYLOAD_MAX], *p;

    p = put_be(buf, 1, 1);
    p = put_be(p, 4, t->issued_at);
    p = put_field(p, 0, t->visitor, NGX_CX_VISITOR_ID_LEN);
    p = put_field(p, 0, t->nonce, 8);
    p = put_be(p, 1, t->stage);
    p = put_field(p, 1, t->survey, t->survey_len);
    p = put_field(p, 1, t->touchpoint, t->touchpoint_len);
    p = put_field(p, 1, t->lang, t->lang_len);
    p = put_field(p, 2, t->path, t->path_len);

    return ngx_cx_signed_encode(dst, dstsize, &key, NGX_CX_DOMAIN_TOKEN, buf,
                                (size_t) (p - buf));
}


static void
test_token_known_answer(void **state)
{
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t, d;

    (void) state;

    /* the wire layout, byte for byte */
    sample_token(&t);
    encode_known(&t, &d, NULL, NULL, out, sizeof(out), sample_token_str,
                 sample_token_payload, sizeof(sample_token_payload));

    /* no attrs cost 2 payload bytes over version 1: 2 or 3 characters */
    assert_int_equal(sizeof(sample_token_payload) - sizeof(sample_token_v1_payload), 2);
    assert_int_equal(sizeof(sample_token_str) - sizeof(sample_token_v1_str), 2);

    assert_int_equal(d.issued_at, 0x65a0b1c2);
    assert_int_equal(d.stage, 3);
    assert_int_equal(d.survey_len, 18);
    assert_memory_equal(d.survey, "nps_after_purchase", 18);
    assert_int_equal(d.path_len, 14);
    assert_memory_equal(d.path, "/checkout/done", 14);
    assert_int_equal(d.attrs_len, 0);
    assert_true(is_zero(d.attrs, sizeof(d.attrs)));

    /* what version 2 wrote still decodes, to the same token */
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, (const unsigned char *) sample_token_v2_str,
                                         sizeof(sample_token_v2_str) - 1, &d), 0);
    assert_memory_equal(&d, &t, sizeof(t));
}


/*
 * The keystream against vectors computed in Python from the construction
 * documented in the header, so a change of any HMAC input byte (domain,
 * version, field order, counter base) fails here.
 */
static void
test_token_attrs_known_answer(void **state)
{
    size_t          i, n, plen;
    unsigned char   out[NGX_CX_TOKEN_MAX], payload[NGX_CX_TOKEN_PAYLOAD_MAX];
    unsigned char   msg[27], block[NGX_CX_SHA256_LEN];
    unsigned char   pad[NGX_CX_SHA256_BLOCK_LEN];
    ngx_cx_token_t  t, d;
    ngx_cx_sha256_t ctx;

    (void) state;

    sample_token(&t);
    t.attrs_len = sizeof(SAMPLE_ATTRS) - 1;
    assert_int_equal(t.attrs_len, 70);
    memcpy(t.attrs, SAMPLE_ATTRS, t.attrs_len);

    n = encode_known(&t, &d, NULL, NULL, out, sizeof(out),
                     sample_attrs_token_str, NULL, 0);
    assert_memory_equal(d.attrs, SAMPLE_ATTRS, 70);
    assert_true(is_zero(d.attrs + 70, NGX_CX_ATTRS_MAX - 70));

    plen = token_payload(out, n, payload);
    assert_int_equal(plen, SAMPLE_ATTRS_OFF + 70);
    assert_memory_equal(payload, sample_token_payload, SAMPLE_ATTRS_OFF - 2);
    assert_int_equal(payload[SAMPLE_ATTRS_OFF - 2], 0);
    assert_int_equal(payload[SAMPLE_ATTRS_OFF - 1], 70);

    for (i = 0; i < 70; i++) {
        assert_int_equal(payload[SAMPLE_ATTRS_OFF + i],
                         (unsigned char) SAMPLE_ATTRS[i] ^ sample_keystream[i]);
    }

    /* all 8 blocks */
    t.attrs_len = NGX_CX_ATTRS_MAX;

    for (i = 0; i < NGX_CX_ATTRS_MAX; i++) {
        t.attrs[i] = (unsigned char) i;
    }

    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(SAMPLE_ATTRS_OFF + NGX_CX_ATTRS_MAX));
    plen = token_payload(out, n, payload);
    assert_int_equal(plen, SAMPLE_ATTRS_OFF + NGX_CX_ATTRS_MAX);
    assert_int_equal(payload[SAMPLE_ATTRS_OFF - 2], 1);
    assert_int_equal(payload[SAMPLE_ATTRS_OFF - 1], 0);

    for (i = 0; i < NGX_CX_ATTRS_MAX; i++) {
        assert_int_equal(payload[SAMPLE_ATTRS_OFF + i],
                         (unsigned char) i ^ sample_keystream[i]);
    }

    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_memory_equal(&d, &t, sizeof(t));

    /* the vector is what the header says: block 0 by a plain hash here too */
    assert_int_equal(NGX_CX_DOMAIN_KEYSTREAM, 0x03);
    msg[0] = 0x03;
    msg[1] = 3;
    memcpy(msg + 2, "\x65\xa0\xb1\xc2", 4);
    memcpy(msg + 6, t.visitor, 12);
    memcpy(msg + 18, t.nonce, 8);

    memset(pad, 0, sizeof(pad));
    memcpy(pad, KEY, strlen(KEY));
    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x6a;
    }

    for (i = 0; i < 8; i += 7) {
        msg[26] = (unsigned char) i;
        ngx_cx_sha256_init(&ctx);
        ngx_cx_sha256_update(&ctx, pad, sizeof(pad));
        ngx_cx_sha256_update(&ctx, msg, sizeof(msg));
        ngx_cx_sha256_final(&ctx, block);
        assert_memory_equal(block, sample_keystream + i * 32, NGX_CX_SHA256_LEN);
    }

    /* version 2: HMAC blocks, and what it wrote still decrypts */
    msg[1] = 2;
    msg[26] = 0;
    ngx_cx_hmac_sha256_with(&key, msg, sizeof(msg), block);
    assert_memory_equal(block, sample_keystream_v2, NGX_CX_SHA256_LEN);
    msg[26] = 7;
    ngx_cx_hmac_sha256_with(&key, msg, sizeof(msg), block);
    assert_memory_equal(block, sample_keystream_v2 + 7 * 32, NGX_CX_SHA256_LEN);

    n = sizeof(sample_attrs_token_v2_str) - 1;
    plen = token_payload((const unsigned char *) sample_attrs_token_v2_str, n, payload);
    assert_int_equal(payload[0], 2);
    for (i = 0; i < 70; i++) {
        assert_int_equal(payload[SAMPLE_ATTRS_OFF + i],
                         (unsigned char) SAMPLE_ATTRS[i] ^ sample_keystream_v2[i]);
    }

    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, (const unsigned char *) sample_attrs_token_v2_str,
                                         n, &d), 0);
    assert_int_equal(d.attrs_len, 70);
    assert_memory_equal(d.attrs, SAMPLE_ATTRS, 70);
}


static void
fill_attrs(ngx_cx_token_t *t, size_t len, unsigned seed)
{
    size_t  i;

    memset(t->attrs, 0, sizeof(t->attrs));
    t->attrs_len = (uint16_t) len;

    for (i = 0; i < len; i++) {
        t->attrs[i] = (unsigned char) (i * 7 + seed);
    }
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
    fill_attrs(t, NGX_CX_ATTRS_MAX, 0x5a);
}


static void
test_token_attrs_round_trip(void **state)
{
    int             big;
    size_t          i, n, base;
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t, d;

    static const size_t  lens[] = { 0, 1, 31, 32, 33, 100, 255, 256 };

    (void) state;

    for (big = 0; big < 2; big++) {
        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            if (big) {
                max_token(&t);
                base = NGX_CX_TOKEN_PAYLOAD_MAX - NGX_CX_ATTRS_MAX;

            } else {
                sample_token(&t);
                base = SAMPLE_ATTRS_OFF;
            }

            fill_attrs(&t, lens[i], (unsigned) i);

            n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
            assert_int_equal(n, NGX_CX_SIGNED_LEN(base + lens[i]));

            memset(&d, 0xee, sizeof(d));
            assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
            assert_memory_equal(&d, &t, sizeof(t));
            assert_int_equal(d.attrs_len, lens[i]);
            assert_true(is_zero(d.attrs + lens[i], NGX_CX_ATTRS_MAX - lens[i]));

            if (lens[i] == 1) {
                assert_int_equal(d.attrs[0], (unsigned char) i);
            }
        }
    }
}


/* the browser sees the payload: no piece of the plaintext may be in it */
static void
test_token_attrs_hidden(void **state)
{
    size_t          i, j, n, plen;
    unsigned char   out[NGX_CX_TOKEN_MAX], payload[NGX_CX_TOKEN_PAYLOAD_MAX];
    ngx_cx_token_t  t, d;

    static const char  pattern[] = "order_total=129.90;";

    (void) state;

    sample_token(&t);
    t.attrs_len = NGX_CX_ATTRS_MAX;

    for (i = 0; i < NGX_CX_ATTRS_MAX; i++) {
        t.attrs[i] = (unsigned char) pattern[i % (sizeof(pattern) - 1)];
    }

    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    assert_int_not_equal(n, 0);
    plen = token_payload(out, n, payload);
    assert_int_equal(plen, SAMPLE_ATTRS_OFF + NGX_CX_ATTRS_MAX);

    /* every 6-byte window of the plaintext, anywhere in the payload */
    for (i = 0; i + 6 <= NGX_CX_ATTRS_MAX; i++) {
        for (j = 0; j + 6 <= plen; j++) {
            assert_true(memcmp(payload + j, t.attrs + i, 6) != 0);
        }
    }

    /* a keystream byte 0 leaves its byte in place: 1 in 256, here 4 */
    for (j = 0, i = 0; i < NGX_CX_ATTRS_MAX; i++) {
        j += (payload[SAMPLE_ATTRS_OFF + i] == t.attrs[i]);
    }

    assert_true(j <= 4);

    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_memory_equal(d.attrs, t.attrs, NGX_CX_ATTRS_MAX);
}


/*
 * Every other value of every ciphertext byte, with the MAC left as it was,
 * is refused, and the decoded struct is all zero (nothing decrypted leaks).
 */
static void
test_token_attrs_ciphertext_tamper(void **state)
{
    int             b;
    size_t          i, n, m, plen, dot;
    unsigned char   out[NGX_CX_TOKEN_MAX], forged[NGX_CX_TOKEN_MAX];
    unsigned char   payload[NGX_CX_TOKEN_PAYLOAD_MAX];
    ngx_cx_token_t  t;

    (void) state;

    sample_token(&t);
    fill_attrs(&t, NGX_CX_ATTRS_MAX, 3);
    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    plen = token_payload(out, n, payload);
    dot = n - 1 - NGX_CX_B64URL_LEN(NGX_CX_MAC_LEN);
    assert_int_equal(out[dot], '.');

    /* control: the payload re-encoded with its own MAC is the same token */
    m = ngx_cx_b64url_encode(forged, payload, plen);
    assert_int_equal(m, dot);
    memcpy(forged + m, out + dot, n - dot);
    assert_memory_equal(forged, out, n);
    assert_int_equal(decode_token(forged, n), 0);

    for (i = SAMPLE_ATTRS_OFF; i < plen; i++) {
        for (b = 1; b < 256; b++) {
            payload[i] ^= (unsigned char) b;
            ngx_cx_b64url_encode(forged, payload, plen);
            assert_int_equal(decode_token(forged, n), -1);
            payload[i] ^= (unsigned char) b;
        }
    }
}


/* one keystream per (issued_at, visitor, nonce): same attrs, other bytes */
static void
ciphertext_of(const ngx_cx_token_t *t, unsigned char ct[NGX_CX_ATTRS_MAX])
{
    size_t         n, plen;
    unsigned char  out[NGX_CX_TOKEN_MAX], payload[NGX_CX_TOKEN_PAYLOAD_MAX];

    n = ngx_cx_token_encode(out, sizeof(out), &key, t);
    assert_int_not_equal(n, 0);
    plen = token_payload(out, n, payload);
    assert_int_equal(plen, SAMPLE_ATTRS_OFF + t->attrs_len);
    memcpy(ct, payload + SAMPLE_ATTRS_OFF, t->attrs_len);
}


static void
assert_unrelated(const unsigned char *a, const unsigned char *b)
{
    size_t  i, same;

    assert_memory_not_equal(a, b, NGX_CX_ATTRS_MAX);

    /* not merely different somewhere: about 1 byte in 256 may match */
    for (same = 0, i = 0; i < NGX_CX_ATTRS_MAX; i++) {
        same += (a[i] == b[i]);
    }

    assert_true(same <= 8);
}


static void
test_token_attrs_fresh_keystream(void **state)
{
    int             i;
    unsigned char   ct[NGX_CX_ATTRS_MAX], ct2[NGX_CX_ATTRS_MAX];
    ngx_cx_token_t  t, u;

    (void) state;

    sample_token(&t);
    memset(t.attrs, 'A', NGX_CX_ATTRS_MAX);
    t.attrs_len = NGX_CX_ATTRS_MAX;
    ciphertext_of(&t, ct);

    /* deterministic for one token: re-encoding gives the same bytes */
    ciphertext_of(&t, ct2);
    assert_memory_equal(ct, ct2, NGX_CX_ATTRS_MAX);

    /* each keystream input changed a little: the ciphertext is unrelated */
    for (i = 0; i < 4; i++) {
        u = t;

        switch (i) {
        case 0:  u.nonce[7] ^= 0x01; break;
        case 1:  u.nonce[0] ^= 0x80; break;
        case 2:  u.issued_at++; break;
        default: u.visitor[11] ^= 0x01; break;
        }

        ciphertext_of(&u, ct2);
        assert_unrelated(ct, ct2);
    }

    /* the other fields are not keystream input */
    u = t;
    u.stage = 1;
    u.path[0] = 'X';
    ciphertext_of(&u, ct2);
    assert_memory_equal(ct, ct2, NGX_CX_ATTRS_MAX);

    /* another key, another keystream */
    {
        size_t         n, plen;
        unsigned char  out[NGX_CX_TOKEN_MAX], payload[NGX_CX_TOKEN_PAYLOAD_MAX];

        n = ngx_cx_token_encode(out, sizeof(out), &other_key, &t);
        assert_int_equal(ngx_cx_signed_decode(&other_key, NGX_CX_DOMAIN_TOKEN,
                                              out, n, payload, sizeof(payload),
                                              &plen), 0);
        assert_unrelated(ct, payload + SAMPLE_ATTRS_OFF);
    }
}


static void
test_token_v1_still_decodes(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t, d;

    (void) state;

    /* the test's v1 encoder reproduces the vector from Python */
    sample_token(&t);
    n = encode_token_v1(out, sizeof(out), &t);
    assert_encoded(out, n, sample_token_v1_str, NGX_CX_DOMAIN_TOKEN,
                   sample_token_v1_payload, sizeof(sample_token_v1_payload));

    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, S(sample_token_v1_str), &d), 0);
    assert_memory_equal(&d, &t, sizeof(t));
    assert_int_equal(d.attrs_len, 0);

    /* every field at its maximum, the longest token version 1 had */
    max_token(&t);
    n = encode_token_v1(out, sizeof(out), &t);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(NGX_CX_TOKEN_PAYLOAD_MAX - 2 - NGX_CX_ATTRS_MAX));
    assert_int_equal(n, 597);
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_int_equal(d.attrs_len, 0);
    assert_true(is_zero(d.attrs, sizeof(d.attrs)));
    fill_attrs(&t, 0, 0);
    assert_memory_equal(&d, &t, sizeof(t));

    assert_tamper_proof_each(decode_token, out, n, sample_token_v1_str, NULL);
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
test_token_max_fields(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX + 1];
    ngx_cx_token_t  t, d;

    (void) state;

    assert_int_equal(NGX_CX_TOKEN_PAYLOAD_MAX, 688);
    assert_int_equal(NGX_CX_TOKEN_MAX, 941);

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
    assert_int_equal(n, NGX_CX_SIGNED_LEN(33));
    assert_memory_equal(out, "AwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                             ".Ab7kXsSzRY6omT7--kyN7g", n);
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_token_decode(&key, out, n, &d), 0);
    assert_true(is_zero(&d, sizeof(d)));
}


/*
 * The encoder of the token t, or else of the cookie v, must refuse case i:
 * return 0 and write nothing.
 */

static void
expect_encode_refused(const ngx_cx_token_t *t, const ngx_cx_visitor_t *v,
    int i)
{
    size_t         n;
    unsigned char  out[NGX_CX_TOKEN_MAX + NGX_CX_COOKIE_MAX + 64];

    memset(out, '#', sizeof(out));

    if (t != NULL) {
        n = ngx_cx_token_encode(out, sizeof(out), &key, t);

    } else {
        n = ngx_cx_visitor_encode(out, sizeof(out), &key, v);
    }

    assert_case_int_equal(n, 0, (size_t) i, t ? "token" : "cookie");
    assert_case_int_equal(out[0], '#', (size_t) i, t ? "token" : "cookie");
}


/* one field of ngx_cx_token_t set to a value just past its limit */

typedef struct {
    const char  *name;
    size_t       offset;
    size_t       size;
    unsigned     value;
} token_field_t;

#define TOKEN_FIELD(f, v)                                                    \
    { #f, offsetof(ngx_cx_token_t, f), sizeof(((ngx_cx_token_t *) 0)->f), v }


static void
test_token_oversize_rejected_at_encode(void **state)
{
    static const token_field_t  over[] = {
        TOKEN_FIELD(survey_len, NGX_CX_NAME_MAX + 1),
        TOKEN_FIELD(touchpoint_len, NGX_CX_NAME_MAX + 1),
        TOKEN_FIELD(lang_len, NGX_CX_LANG_MAX + 1),
        TOKEN_FIELD(path_len, NGX_CX_PATH_MAX + 1),
        TOKEN_FIELD(stage, NGX_CX_STAGE_MAX + 1),
        TOKEN_FIELD(attrs_len, NGX_CX_ATTRS_MAX + 1),
    };

    size_t          i;
    uint16_t        u16;
    unsigned char   out[NGX_CX_TOKEN_MAX + 64], *f;
    ngx_cx_token_t  t;

    (void) state;

    for (i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        max_token(&t);

        f = (unsigned char *) &t + over[i].offset;

        if (over[i].size == 1) {
            assert_true(over[i].value <= 0xff);
            *f = (unsigned char) over[i].value;

        } else {
            assert_int_equal(over[i].size, sizeof(u16));
            u16 = (uint16_t) over[i].value;
            memcpy(f, &u16, sizeof(u16));
        }

        expect_encode_refused(&t, NULL, (int) i);
    }

    sample_token(&t);
    t.path_len = 0xffff;
    assert_int_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);
    t.survey_len = 255;
    assert_int_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);

    sample_token(&t);
    t.attrs_len = 0xffff;
    assert_int_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);
    t.attrs_len = NGX_CX_ATTRS_MAX;
    assert_int_not_equal(ngx_cx_token_encode(out, sizeof(out), &key, &t), 0);
}


static void
test_token_tamper(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t;

    (void) state;

    max_token(&t);
    n = ngx_cx_token_encode(out, sizeof(out), &key, &t);
    assert_int_equal(n, NGX_CX_TOKEN_MAX);
    assert_tamper_proof_each(decode_token, out, n, sample_token_str,
                             sample_attrs_token_str, NULL);
}


static void
test_token_other_key(void **state)
{
    size_t          n;
    unsigned char   out[NGX_CX_TOKEN_MAX];
    ngx_cx_token_t  t, d;

    (void) state;

    sample_token(&t);
    fill_attrs(&t, 40, 1);
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


/* payloads that are properly signed but are not a token */
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
    p[0] = 4;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[0] = 0xff;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[0] = 1;                                     /* attrs_len is trailing then */
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    assert_int_equal(SIGN_AND_DECODE(plen - 2), 0);
    p[0] = 2;                                     /* attrs_len missing */
    assert_int_equal(SIGN_AND_DECODE(plen - 2), -1);
    assert_int_equal(SIGN_AND_DECODE(plen - 1), -1);
    assert_int_equal(SIGN_AND_DECODE(plen), 0);

    /* stage */
    p[25] = NGX_CX_STAGE_MAX + 1;
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    p[25] = NGX_CX_STAGE_MAX;
    assert_int_equal(SIGN_AND_DECODE(plen), 0);
    p[25] = 3;

    /* attrs_len over its maximum, with the bytes really present */
    p[plen - 2] = (NGX_CX_ATTRS_MAX + 1) >> 8;
    p[plen - 1] = (NGX_CX_ATTRS_MAX + 1) & 0xff;
    memset(p + plen, 'a', NGX_CX_ATTRS_MAX + 1);
    assert_int_equal(SIGN_AND_DECODE(plen + NGX_CX_ATTRS_MAX + 1), -1);

    /* at the maximum: passes, and claims less or more than is there fail */
    p[plen - 2] = NGX_CX_ATTRS_MAX >> 8;
    p[plen - 1] = NGX_CX_ATTRS_MAX & 0xff;
    assert_int_equal(SIGN_AND_DECODE(plen + NGX_CX_ATTRS_MAX), 0);
    assert_int_equal(t.attrs_len, NGX_CX_ATTRS_MAX);
    assert_int_equal(SIGN_AND_DECODE(plen + NGX_CX_ATTRS_MAX - 1), -1);
    assert_int_equal(SIGN_AND_DECODE(plen + NGX_CX_ATTRS_MAX + 1), -1);
    assert_int_equal(SIGN_AND_DECODE(plen), -1);

    p[plen - 2] = 0xff;
    p[plen - 1] = 0xff;
    assert_int_equal(SIGN_AND_DECODE(plen + NGX_CX_ATTRS_MAX), -1);
    p[plen - 2] = 0x80;
    p[plen - 1] = 0x01;
    assert_int_equal(SIGN_AND_DECODE(plen + 1), -1);
    p[plen - 2] = 0;
    p[plen - 1] = 1;
    assert_int_equal(SIGN_AND_DECODE(plen + 1), 0);
    assert_int_equal(t.attrs_len, 1);
    assert_int_equal(SIGN_AND_DECODE(plen), -1);
    assert_int_equal(SIGN_AND_DECODE(plen + 2), -1);

    /*
     * A string length over its maximum, with the bytes really present, in
     * version 1 layouts (the fields before attrs are parsed alike).
     */
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

#define ID_PURCHASE  0x95d58f62u     /* FNV-1a of "purchase" */
#define ID_BROWSE    0x2150e1e7u     /* FNV-1a of "browse" */
#define ID_NPS       0x09415dd1u     /* FNV-1a of "nps_after_purchase" */
#define ID_CSAT      0x2034e826u     /* FNV-1a of "csat_support" */


/*
 * sample_visitor() with a little state, as the module builds it; its
 * payload and cookie string were computed with Python struct/hmac.
 */
static void
sample_visitor_v2(ngx_cx_visitor_t *v)
{
    sample_visitor(v);
    v->visits = 7;
    v->last_display = 1700003600;
    v->ntp = 2;
    v->tp[0].id = ID_PURCHASE;
    v->tp[0].visits = 2;
    v->tp[1].id = ID_BROWSE;
    v->tp[1].visits = 5;
    v->nsv = 2;
    v->sv[0].id = ID_NPS;
    v->sv[0].at = 1700001000;
    v->sv[0].score = 9;
    v->sv[0].event = NGX_CX_MARK_ANSWERED;
    v->sv[1].id = ID_CSAT;
    v->sv[1].at = 1700002000;
    v->sv[1].score = -1;
    v->sv[1].event = NGX_CX_MARK_DISMISSED;
}


/* sample_visitor_v2() having last visited "purchase", stages 1 and 3 reached */
static void
sample_visitor_v3(ngx_cx_visitor_t *v)
{
    sample_visitor_v2(v);
    v->last_tp = ID_PURCHASE;
    v->last_at = 1700003700;
    v->stages = (1u << 1) | (1u << 3);
}


static const unsigned char  sample_cookie_v2_payload[] = {
    0x02,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
    0x65, 0x53, 0xf1, 0x00,                             /* first_seen */
    0x00, 0x00, 0x00, 0x07,                             /* visits */
    0x65, 0x53, 0xff, 0x10,                             /* last_display */
    0x02,
    0x95, 0xd5, 0x8f, 0x62, 0x00, 0x02,
    0x21, 0x50, 0xe1, 0xe7, 0x00, 0x05,
    0x02,
    0x09, 0x41, 0x5d, 0xd1, 0x65, 0x53, 0xf4, 0xe8, 0x09, 0x01,
    0x20, 0x34, 0xe8, 0x26, 0x65, 0x53, 0xf8, 0xd0, 0xff, 0x02
};

/* sample_visitor_v2() as version 2 wrote it (still decoded) */
static const char  sample_cookie_v2_str[] =
    "AhAREhMUFRYXGBkaG2VT8QAAAAAHZVP_EAKV1Y9iAAIhUOHnAAUCCUFd0WVT9OgJASA06CZlU_jQ_wI"
    ".4_sgY1zjepFre0udr8hy0g";

/* sample_visitor() alone as version 2 wrote it: no visits, no marks */
static const char  empty_cookie_v2_str[] =
    "AhAREhMUFRYXGBkaG2VT8QAAAAAAAAAAAAAA.1ym__tBZhyXBM78Zcm1GZA";


/*
 * Version 3 known answers. Made with Python 3 (not with the C encoder),
 * as the version 2 ones were, by this script:
 *
 *   import hmac, hashlib, base64, struct
 *   KEY = b"cx-test-key"
 *   def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
 *   def signed(domain, p):           # domain 2: the cookie
 *       mac = hmac.new(KEY, bytes([domain]) + p, hashlib.sha256).digest()
 *       return b64(p) + "." + b64(mac[:16])
 *   vid = bytes(range(0x10, 0x1c))
 *   def v2_fields(version):          # sample_visitor_v2()'s version 2 fields
 *       return (bytes([version]) + vid
 *               + struct.pack(">III", 1700000000, 7, 1700003600)
 *               + bytes([2]) + struct.pack(">IH", 0x95d58f62, 2)
 *               + struct.pack(">IH", 0x2150e1e7, 5)
 *               + bytes([2]) + struct.pack(">IIbB", 0x09415dd1, 1700001000, 9, 1)
 *               + struct.pack(">IIbB", 0x2034e826, 1700002000, -1, 2))
 *   # sample_cookie_v3_str: last_tp "purchase", last_at, stages 1 and 3
 *   signed(2, v2_fields(3) + struct.pack(">IIB", 0x95d58f62, 1700003700, 0x0a))
 *   # upgraded_cookie_v3_str: the version 2 state, new fields zero
 *   signed(2, v2_fields(3) + bytes(9))
 *   # empty_cookie_v3_str: sample_visitor() alone
 *   signed(2, bytes([3]) + vid + struct.pack(">III", 1700000000, 0, 0)
 *             + bytes(2) + bytes(9))
 *
 * The same script with v2_fields(2) and no trailing 9 bytes gives
 * sample_cookie_v2_str and empty_cookie_v2_str above.
 */

static const unsigned char  sample_cookie_v3_payload[] = {
    0x03,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
    0x65, 0x53, 0xf1, 0x00,                             /* first_seen */
    0x00, 0x00, 0x00, 0x07,                             /* visits */
    0x65, 0x53, 0xff, 0x10,                             /* last_display */
    0x02,
    0x95, 0xd5, 0x8f, 0x62, 0x00, 0x02,
    0x21, 0x50, 0xe1, 0xe7, 0x00, 0x05,
    0x02,
    0x09, 0x41, 0x5d, 0xd1, 0x65, 0x53, 0xf4, 0xe8, 0x09, 0x01,
    0x20, 0x34, 0xe8, 0x26, 0x65, 0x53, 0xf8, 0xd0, 0xff, 0x02,
    0x95, 0xd5, 0x8f, 0x62,                             /* last_tp */
    0x65, 0x53, 0xff, 0x74,                             /* last_at */
    0x0a                                                /* stages 1, 3 */
};

static const char  sample_cookie_v3_str[] =
    "AxAREhMUFRYXGBkaG2VT8QAAAAAHZVP_EAKV1Y9iAAIhUOHnAAUCCUFd0WVT9OgJASA06CZlU_jQ_wKV"
    "1Y9iZVP_dAo.gLbwa8Cm5etjPlFGkGHuWw";

/* sample_visitor_v2() as version 3 writes it: the new fields zero */
static const char  upgraded_cookie_v3_str[] =
    "AxAREhMUFRYXGBkaG2VT8QAAAAAHZVP_EAKV1Y9iAAIhUOHnAAUCCUFd0WVT9OgJASA06CZlU_jQ_wIA"
    "AAAAAAAAAAA.ArcyOt0IGy-LGdAaeQSPmA";

/* sample_visitor() alone as version 3 writes it */
static const char  empty_cookie_v3_str[] =
    "AxAREhMUFRYXGBkaG2VT8QAAAAAAAAAAAAAAAAAAAAAAAAAA.UHFm4BQSN0aaCLHSgl5uvA";


/*
 * The version-1 encoder as it was shipped, kept only here: the module no
 * longer writes version 1, but must read what browsers still hold.
 */
static size_t
encode_v1(unsigned char *dst, size_t dstsize, const ngx_cx_hmac_key_t *k,
    const ngx_cx_visitor_t *v)
{
    unsigned char  p[NGX_CX_VISITOR_V1_PAYLOAD_LEN], *end;

    end = put_be(p, 1, 1);
    end = put_field(end, 0, v->id, NGX_CX_VISITOR_ID_LEN);
    end = put_be(end, 4, v->first_seen);
    assert_int_equal(end - p, sizeof(p));

    return ngx_cx_signed_encode(dst, dstsize, k, NGX_CX_DOMAIN_COOKIE, p,
                                sizeof(p));
}


/*
 * The version-2 encoder as it was shipped (version 3 without last_tp,
 * last_at and stages), kept only here for the cookies browsers still hold.
 * Writes v's tables as they are: give it a valid state.
 */
static size_t
encode_v2(unsigned char *dst, size_t dstsize, const ngx_cx_hmac_key_t *k,
    const ngx_cx_visitor_t *v)
{
    unsigned       i;
    unsigned char  p[NGX_CX_VISITOR_PAYLOAD_MAX], *end;

    end = put_be(p, 1, 2);
    end = put_field(end, 0, v->id, NGX_CX_VISITOR_ID_LEN);
    end = put_be(end, 4, v->first_seen);
    end = put_be(end, 4, v->visits);
    end = put_be(end, 4, v->last_display);
    end = put_be(end, 1, v->ntp);

    for (i = 0; i < v->ntp; i++) {
        end = put_be(end, 4, v->tp[i].id);
        end = put_be(end, 2, v->tp[i].visits);
    }

    end = put_be(end, 1, v->nsv);

    for (i = 0; i < v->nsv; i++) {
        end = put_be(end, 4, v->sv[i].id);
        end = put_be(end, 4, v->sv[i].at);
        end = put_be(end, 1, (uint8_t) v->sv[i].score);
        end = put_be(end, 1, v->sv[i].event);
    }

    return ngx_cx_signed_encode(dst, dstsize, k, NGX_CX_DOMAIN_COOKIE, p,
                                (size_t) (end - p));
}


/* every meaningful field, and the unused table slots must be zero */
static void
assert_visitor_equal(const ngx_cx_visitor_t *a, const ngx_cx_visitor_t *b)
{
    int  i;

    assert_memory_equal(a->id, b->id, NGX_CX_VISITOR_ID_LEN);
    assert_int_equal(a->first_seen, b->first_seen);
    assert_int_equal(a->visits, b->visits);
    assert_int_equal(a->last_display, b->last_display);
    assert_int_equal(a->ntp, b->ntp);
    assert_int_equal(a->nsv, b->nsv);

    for (i = 0; i < NGX_CX_STATE_TOUCHPOINTS; i++) {
        assert_int_equal(a->tp[i].id, b->tp[i].id);
        assert_int_equal(a->tp[i].visits, b->tp[i].visits);
    }

    for (i = 0; i < NGX_CX_STATE_SURVEYS; i++) {
        assert_int_equal(a->sv[i].id, b->sv[i].id);
        assert_int_equal(a->sv[i].at, b->sv[i].at);
        assert_int_equal(a->sv[i].score, b->sv[i].score);
        assert_int_equal(a->sv[i].event, b->sv[i].event);
    }

    assert_int_equal(a->last_tp, b->last_tp);
    assert_int_equal(a->last_at, b->last_at);
    assert_int_equal(a->stages, b->stages);
}


/* both tables full, every counter and time at its widest */
static void
full_visitor(ngx_cx_visitor_t *v)
{
    int  i;

    memset(v, 0, sizeof(*v));
    memset(v->id, 0xff, NGX_CX_VISITOR_ID_LEN);
    v->first_seen = 0xfffffffe;
    v->visits = UINT32_MAX;
    v->last_display = 0xffffffff;
    v->ntp = NGX_CX_STATE_TOUCHPOINTS;
    v->nsv = NGX_CX_STATE_SURVEYS;

    for (i = 0; i < NGX_CX_STATE_TOUCHPOINTS; i++) {
        v->tp[i].id = 0xffffff00u + (uint32_t) i;
        v->tp[i].visits = (uint16_t) (UINT16_MAX - i);
    }

    for (i = 0; i < NGX_CX_STATE_SURVEYS; i++) {
        v->sv[i].id = 0x80000000u + (uint32_t) i;
        v->sv[i].at = 0xfffffff0u + (uint32_t) i;
        v->sv[i].score = (int8_t) ((i & 1) ? -1 : 10 - i);
        v->sv[i].event = (i & 1) ? NGX_CX_MARK_DISMISSED : NGX_CX_MARK_ANSWERED;
    }

    v->last_tp = 0xffffffff;
    v->last_at = 0xffffffff;
    v->stages = 0xfe;                               /* stages 1..7 */
}


/* sign any payload as a cookie, then run it through the cookie decoder */
static int
sign_and_decode_visitor(const unsigned char *p, size_t len, ngx_cx_visitor_t *v)
{
    int            rc;
    size_t         n;
    unsigned char  out[NGX_CX_SIGNED_LEN(NGX_CX_VISITOR_PAYLOAD_MAX + 64)];

    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE, p, len);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(len));

    memset(v, 0xee, sizeof(*v));
    rc = ngx_cx_visitor_decode(&key, out, n, v);

    if (rc != 0) {
        assert_true(is_zero(v, sizeof(*v)));
    }

    return rc;
}


/* the plain hash, without the 0 -> 1 mapping */
static uint32_t
fnv1a_raw(const unsigned char *p, size_t len)
{
    uint32_t  h = 2166136261u;

    while (len--) {
        h = (h ^ *p++) * 16777619u;
    }

    return h;
}


static void
test_name_id(void **state)
{
    (void) state;

    /* vectors from Python; "7met1an" is a preimage of 0 found by meet-in-the-middle */
    assert_int_equal(ngx_cx_name_id((const unsigned char *) "", 0), 0x811c9dc5u);
    assert_int_equal(ngx_cx_name_id(NULL, 0), 0x811c9dc5u);
    assert_int_equal(ngx_cx_name_id(S("a")), 0xe40c292cu);
    assert_int_equal(ngx_cx_name_id(S("purchase")), ID_PURCHASE);
    assert_int_equal(ngx_cx_name_id(S("browse")), ID_BROWSE);
    assert_int_equal(ngx_cx_name_id(S("nps_after_purchase")), ID_NPS);
    assert_int_equal(ngx_cx_name_id(S("csat_support")), ID_CSAT);
    assert_int_equal(ngx_cx_name_id(S("foobar")), 0xbf9cf968u);
    assert_int_equal(fnv1a_raw(S("7met1an")), 0);
    assert_int_equal(ngx_cx_name_id(S("7met1an")), 1);
}


static void
test_visitor_sizes(void **state)
{
    (void) state;

    assert_int_equal(NGX_CX_VISITOR_VERSION, 3);
    assert_int_equal(NGX_CX_VISITOR_V1_PAYLOAD_LEN, 17);
    assert_int_equal(NGX_CX_VISITOR_PAYLOAD_MAX, 212);     /* 203 in version 2 */
    assert_int_equal(NGX_CX_COOKIE_MAX, 306);              /* 294 in version 2 */
    assert_int_equal(NGX_CX_COOKIE_MAX,
                     NGX_CX_SIGNED_LEN(36 + 16 * 6 + 8 * 10));
    assert_int_equal(sizeof(sample_cookie_v3_payload), 36 + 2 * 6 + 2 * 10);
    assert_int_equal(sizeof(sample_cookie_v2_payload), 27 + 2 * 6 + 2 * 10);
}


static void
test_visitor_known_answer(void **state)
{
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d;

    (void) state;

    sample_visitor_v3(&v);
    n = encode_known(NULL, NULL, &v, &d, out, sizeof(out), sample_cookie_v3_str,
                     sample_cookie_v3_payload, sizeof(sample_cookie_v3_payload));
    assert_int_equal(n, NGX_CX_SIGNED_LEN(36 + 2 * 6 + 2 * 10));
    assert_int_equal(ngx_cx_visitor_tp_visits(&d, ID_BROWSE), 5);
    assert_int_equal(ngx_cx_visitor_mark_get(&d, ID_CSAT)->score, -1);
    assert_int_equal(d.last_tp, ID_PURCHASE);
    assert_int_equal(d.last_at, 1700003700);
    assert_int_equal(d.stages, 0x0a);

    /* exact room is enough, one byte less is not */
    assert_int_equal(ngx_cx_visitor_encode(out, n, &key, &v), n);
    assert_int_equal(ngx_cx_visitor_encode(out, n - 1, &key, &v), 0);

    /* the version 2 state: the new fields written as zeros */
    sample_visitor_v2(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_encoded(out, n, upgraded_cookie_v3_str, 0, NULL, 0);

    sample_visitor(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(36));
    assert_encoded(out, n, empty_cookie_v3_str, 0, NULL, 0);
}


/*
 * Version 2 cookies, written before last_tp, last_at and stages existed,
 * still decode, with those fields zero; re-encoding writes version 3.
 */
static void
test_visitor_v2_still_decodes(void **state)
{
    int               i;
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d, want;

    (void) state;

    /* the known answers version 2 wrote */
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, S(sample_cookie_v2_str), &d), 0);
    sample_visitor_v2(&want);
    assert_visitor_equal(&d, &want);
    assert_int_equal(d.last_tp, 0);
    assert_int_equal(d.last_at, 0);
    assert_int_equal(d.stages, 0);

    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, S(empty_cookie_v2_str), &d), 0);
    sample_visitor(&want);
    assert_visitor_equal(&d, &want);

    /* the test's version 2 encoder writes exactly those strings */
    sample_visitor_v2(&v);
    n = encode_v2(out, sizeof(out), &key, &v);
    assert_encoded(out, n, sample_cookie_v2_str, NGX_CX_DOMAIN_COOKIE,
                   sample_cookie_v2_payload, sizeof(sample_cookie_v2_payload));
    sample_visitor(&v);
    n = encode_v2(out, sizeof(out), &key, &v);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(27));
    assert_encoded(out, n, empty_cookie_v2_str, 0, NULL, 0);

    /* upgraded on the next write */
    assert_int_equal(ngx_cx_visitor_decode(&key, S(sample_cookie_v2_str), &d), 0);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &d);
    assert_encoded(out, n, upgraded_cookie_v3_str, 0, NULL, 0);

    /*
     * Tables of every size up to full, with the new fields set in v: the
     * version 2 cookie has no room for them, so they come back zero.
     */
    for (i = 0; i <= NGX_CX_STATE_TOUCHPOINTS; i++) {
        full_visitor(&v);
        v.ntp = (uint8_t) i;
        v.nsv = (uint8_t) (i % (NGX_CX_STATE_SURVEYS + 1));

        n = encode_v2(out, sizeof(out), &key, &v);
        assert_int_equal(n, NGX_CX_SIGNED_LEN(27 + 6 * v.ntp + 10 * v.nsv));

        memset(&d, 0xee, sizeof(d));
        assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);

        want = v;
        memset(want.tp + v.ntp, 0,
               sizeof(want.tp[0]) * (NGX_CX_STATE_TOUCHPOINTS - v.ntp));
        memset(want.sv + v.nsv, 0,
               sizeof(want.sv[0]) * (NGX_CX_STATE_SURVEYS - v.nsv));
        want.last_tp = 0;
        want.last_at = 0;
        want.stages = 0;
        assert_visitor_equal(&d, &want);
    }
}


static void
test_visitor_round_trips(void **state)
{
    int               i;
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d;

    (void) state;

    /* empty tables, including an all-zero state */
    memset(&v, 0, sizeof(v));
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(36));
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
    assert_true(is_zero(&d, sizeof(d)));

    /* partial tables, grown one entry at a time through the API */
    sample_visitor(&v);

    for (i = 0; i < NGX_CX_STATE_TOUCHPOINTS + NGX_CX_STATE_SURVEYS; i++) {
        if (i < NGX_CX_STATE_TOUCHPOINTS) {
            ngx_cx_visitor_visit(&v, 1000 + (uint32_t) i);
        }

        if (i < NGX_CX_STATE_SURVEYS) {
            ngx_cx_visitor_mark(&v, 2000 + (uint32_t) i, 1700000000 + (uint32_t) i,
                                i % 11, (i & 1) ? NGX_CX_MARK_DISMISSED
                                                : NGX_CX_MARK_ANSWERED);
        }

        n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
        assert_int_equal(n, NGX_CX_SIGNED_LEN(36 + 6 * v.ntp + 10 * v.nsv));
        memset(&d, 0xee, sizeof(d));
        assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
        assert_visitor_equal(&d, &v);
    }

    /* full tables at their widest values: the longest cookie */
    full_visitor(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(n, NGX_CX_COOKIE_MAX);
    print_message("full visitor cookie: %zu bytes\n", n);
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
    assert_visitor_equal(&d, &v);
    assert_int_equal(ngx_cx_visitor_encode(out, n - 1, &key, &v), 0);

    /* another key reads nothing */
    assert_int_equal(ngx_cx_visitor_decode(&other_key, out, n, &d), -1);
    assert_true(is_zero(&d, sizeof(d)));
}


static void
test_visitor_visit(void **state)
{
    int               i;
    ngx_cx_visitor_t  v;

    (void) state;

    sample_visitor(&v);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, ID_PURCHASE), 0);

    ngx_cx_visitor_visit(&v, ID_PURCHASE);
    ngx_cx_visitor_visit(&v, ID_BROWSE);
    ngx_cx_visitor_visit(&v, ID_PURCHASE);
    assert_int_equal(v.visits, 3);
    assert_int_equal(v.ntp, 2);
    assert_int_equal(v.tp[0].id, ID_PURCHASE);
    assert_int_equal(v.tp[0].visits, 2);
    assert_int_equal(v.tp[1].id, ID_BROWSE);
    assert_int_equal(v.tp[1].visits, 1);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, ID_PURCHASE), 2);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, ID_BROWSE), 1);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, 12345), 0);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, 0), 0);

    /* no touchpoint: counts in the total only */
    ngx_cx_visitor_visit(&v, 0);
    assert_int_equal(v.visits, 4);
    assert_int_equal(v.ntp, 2);

    /* fill the table: entry i gets i + 4 visits, except entries 5 and 9: 3 */
    sample_visitor(&v);

    for (i = 0; i < NGX_CX_STATE_TOUCHPOINTS; i++) {
        int  k, times = (i == 5 || i == 9) ? 3 : i + 4;

        for (k = 0; k < times; k++) {
            ngx_cx_visitor_visit(&v, 100 + (uint32_t) i);
        }
    }

    assert_int_equal(v.ntp, NGX_CX_STATE_TOUCHPOINTS);

    /* a known touchpoint on a full table is counted, nothing replaced */
    ngx_cx_visitor_visit(&v, 100 + 9);
    assert_int_equal(v.tp[9].visits, 4);

    /* a new one replaces the first entry with the fewest visits, in place */
    ngx_cx_visitor_visit(&v, 999);
    assert_int_equal(v.ntp, NGX_CX_STATE_TOUCHPOINTS);
    assert_int_equal(v.tp[5].id, 999);
    assert_int_equal(v.tp[5].visits, 1);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, 105), 0);
    assert_int_equal(v.tp[4].id, 104);
    assert_int_equal(v.tp[6].id, 106);

    /* the newcomer, at 1 visit, is the next to go */
    ngx_cx_visitor_visit(&v, 998);
    assert_int_equal(v.tp[5].id, 998);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, 999), 0);

    /* with it at 4, the 4-visit entries tie: the first (index 0) goes */
    for (i = 0; i < 3; i++) {
        ngx_cx_visitor_visit(&v, 998);
    }

    assert_int_equal(v.tp[5].visits, 4);
    assert_int_equal(v.tp[0].visits, 4);
    ngx_cx_visitor_visit(&v, 997);
    assert_int_equal(v.tp[0].id, 997);
    assert_int_equal(v.tp[5].id, 998);
    assert_int_equal(v.tp[9].id, 109);

    for (i = 0; i < NGX_CX_STATE_TOUCHPOINTS; i++) {
        assert_int_not_equal(v.tp[i].id, 0);
    }
}


static void
test_visitor_saturation(void **state)
{
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d;

    (void) state;

    sample_visitor(&v);
    v.visits = UINT32_MAX - 1;
    v.ntp = 1;
    v.tp[0].id = ID_PURCHASE;
    v.tp[0].visits = UINT16_MAX - 1;

    ngx_cx_visitor_visit(&v, ID_PURCHASE);
    assert_int_equal(v.visits, UINT32_MAX);
    assert_int_equal(v.tp[0].visits, UINT16_MAX);

    ngx_cx_visitor_visit(&v, ID_PURCHASE);
    ngx_cx_visitor_visit(&v, 0);
    assert_int_equal(v.visits, UINT32_MAX);
    assert_int_equal(v.tp[0].visits, UINT16_MAX);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, ID_PURCHASE), UINT16_MAX);

    /* a new touchpoint still starts at 1 */
    ngx_cx_visitor_visit(&v, ID_BROWSE);
    assert_int_equal(v.visits, UINT32_MAX);
    assert_int_equal(ngx_cx_visitor_tp_visits(&v, ID_BROWSE), 1);

    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_not_equal(n, 0);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
    assert_visitor_equal(&d, &v);
}


/*
 * ngx_cx_visitor_move: the last touchpoint and its time are replaced at
 * every call; stage s (1..7) sets bit s of stages, and no bit is ever
 * cleared; stage 0 (none) and stages over 7 set nothing.
 */
static void
test_visitor_move(void **state)
{
    size_t            n;
    unsigned          s;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d, before;

    (void) state;

    sample_visitor_v2(&v);
    assert_int_equal(v.last_tp, 0);
    assert_int_equal(v.stages, 0);

    ngx_cx_visitor_move(&v, ID_BROWSE, 1, 1700000100);
    assert_int_equal(v.last_tp, ID_BROWSE);
    assert_int_equal(v.last_at, 1700000100);
    assert_int_equal(v.stages, 0x02);

    ngx_cx_visitor_move(&v, ID_PURCHASE, 3, 1700000200);
    assert_int_equal(v.last_tp, ID_PURCHASE);
    assert_int_equal(v.last_at, 1700000200);
    assert_int_equal(v.stages, 0x0a);

    /* a stage already reached: the bits stay, the last visit moves on */
    ngx_cx_visitor_move(&v, ID_BROWSE, 1, 1700000300);
    assert_int_equal(v.last_tp, ID_BROWSE);
    assert_int_equal(v.last_at, 1700000300);
    assert_int_equal(v.stages, 0x0a);

    /* stage 0 (a touchpoint without a stage) and stages over 7: no bit */
    before = v;
    ngx_cx_visitor_move(&v, ID_NPS, 0, 1700000400);
    assert_int_equal(v.last_tp, ID_NPS);
    assert_int_equal(v.last_at, 1700000400);
    assert_int_equal(v.stages, before.stages);

    for (s = 8; s < 300; s += (s < 40 ? 1 : 37)) {
        ngx_cx_visitor_move(&v, ID_CSAT, s, 1700000500 + s);
        assert_int_equal(v.last_tp, ID_CSAT);
        assert_int_equal(v.last_at, 1700000500 + s);
        assert_int_equal(v.stages, 0x0a);
    }

    ngx_cx_visitor_move(&v, ID_CSAT, UINT32_MAX, 1700000000);
    assert_int_equal(v.stages, 0x0a);

    /* nothing else in the state moves: visits are ngx_cx_visitor_visit's */
    before.last_tp = v.last_tp;
    before.last_at = v.last_at;
    assert_visitor_equal(&v, &before);

    /* each stage 1..7 sets its own bit; all of them: 0xfe, never bit 0 */
    for (s = 1; s <= 7; s++) {
        sample_visitor(&v);
        ngx_cx_visitor_move(&v, 1000 + s, s, s);
        assert_int_equal(v.stages, 1u << s);
    }

    sample_visitor(&v);

    for (s = 0; s <= 8; s++) {
        ngx_cx_visitor_move(&v, 1000 + s, s, s);
    }

    assert_int_equal(v.stages, 0xfe);
    assert_int_equal(v.last_tp, 1008);
    assert_int_equal(v.last_at, 8);

    /* a touchpoint id 0 (none) is kept as given, and times as given too */
    ngx_cx_visitor_move(&v, 0, 0, 0);
    assert_int_equal(v.last_tp, 0);
    assert_int_equal(v.last_at, 0);
    assert_int_equal(v.stages, 0xfe);

    /* what move wrote goes through the cookie */
    sample_visitor_v2(&v);
    ngx_cx_visitor_visit(&v, ID_PURCHASE);
    ngx_cx_visitor_move(&v, ID_PURCHASE, 3, 1700003700);
    ngx_cx_visitor_move(&v, ID_PURCHASE, 1, 1700003700);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(n, NGX_CX_SIGNED_LEN(36 + 2 * 6 + 2 * 10));
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
    assert_visitor_equal(&d, &v);
    assert_int_equal(d.last_tp, ID_PURCHASE);
    assert_int_equal(d.last_at, 1700003700);
    assert_int_equal(d.stages, 0x0a);
}


static void
test_visitor_mark(void **state)
{
    int                          i;
    ngx_cx_visitor_t             v;
    const ngx_cx_survey_mark_t  *m;

    (void) state;

    sample_visitor(&v);
    assert_null(ngx_cx_visitor_mark_get(&v, ID_NPS));
    assert_null(ngx_cx_visitor_mark_get(&v, 0));

    ngx_cx_visitor_mark(&v, ID_NPS, 100, 9, NGX_CX_MARK_ANSWERED);
    ngx_cx_visitor_mark(&v, ID_CSAT, 200, 4, NGX_CX_MARK_DISMISSED);
    assert_int_equal(v.nsv, 2);

    m = ngx_cx_visitor_mark_get(&v, ID_NPS);
    assert_ptr_equal(m, &v.sv[0]);
    assert_int_equal(m->at, 100);
    assert_int_equal(m->score, 9);
    assert_int_equal(m->event, NGX_CX_MARK_ANSWERED);

    /* a dismissal's score is always -1 */
    m = ngx_cx_visitor_mark_get(&v, ID_CSAT);
    assert_int_equal(m->score, -1);
    assert_int_equal(m->event, NGX_CX_MARK_DISMISSED);

    /* the same survey again: replaced in place, even with an older time */
    ngx_cx_visitor_mark(&v, ID_NPS, 50, 0, NGX_CX_MARK_DISMISSED);
    assert_int_equal(v.nsv, 2);
    assert_int_equal(v.sv[0].id, ID_NPS);
    assert_int_equal(v.sv[0].at, 50);
    assert_int_equal(v.sv[0].score, -1);
    assert_int_equal(v.sv[0].event, NGX_CX_MARK_DISMISSED);
    ngx_cx_visitor_mark(&v, ID_NPS, 300, 10, NGX_CX_MARK_ANSWERED);
    assert_int_equal(v.sv[0].at, 300);
    assert_int_equal(v.sv[0].score, 10);
    assert_int_equal(v.sv[0].event, NGX_CX_MARK_ANSWERED);

    /* marks that could not be encoded change nothing */
    ngx_cx_visitor_mark(&v, ID_NPS, 400, 11, NGX_CX_MARK_ANSWERED);
    ngx_cx_visitor_mark(&v, ID_NPS, 400, -1, NGX_CX_MARK_ANSWERED);
    ngx_cx_visitor_mark(&v, ID_NPS, 400, 5, 0);
    ngx_cx_visitor_mark(&v, ID_NPS, 400, 5, 3);
    ngx_cx_visitor_mark(&v, 0, 400, 5, NGX_CX_MARK_ANSWERED);
    ngx_cx_visitor_mark(&v, 0, 400, -1, NGX_CX_MARK_DISMISSED);
    assert_int_equal(v.nsv, 2);
    assert_int_equal(v.sv[0].at, 300);
    assert_int_equal(v.sv[0].score, 10);

    /* fill: times 1000, 900, ..., with a tie at the smallest */
    sample_visitor(&v);

    for (i = 0; i < NGX_CX_STATE_SURVEYS; i++) {
        uint32_t  at = (i == 6) ? 500 : 1000 - 100 * (uint32_t) (i < 6 ? i : 5);

        ngx_cx_visitor_mark(&v, 10 + (uint32_t) i, at, i, NGX_CX_MARK_ANSWERED);
    }

    /* at: 1000 900 800 700 600 500 500 500 */
    assert_int_equal(v.nsv, NGX_CX_STATE_SURVEYS);
    assert_int_equal(v.sv[5].at, 500);
    assert_int_equal(v.sv[7].at, 500);

    /* a known survey on a full table is updated, nothing replaced */
    ngx_cx_visitor_mark(&v, 10 + 5, 2000, 3, NGX_CX_MARK_ANSWERED);
    assert_int_equal(v.sv[5].at, 2000);

    /* a new one replaces the first oldest (index 6 now), in place */
    ngx_cx_visitor_mark(&v, 77, 3000, 8, NGX_CX_MARK_ANSWERED);
    assert_int_equal(v.nsv, NGX_CX_STATE_SURVEYS);
    assert_int_equal(v.sv[6].id, 77);
    assert_int_equal(v.sv[6].at, 3000);
    assert_int_equal(v.sv[6].score, 8);
    assert_null(ngx_cx_visitor_mark_get(&v, 10 + 6));
    assert_ptr_equal(ngx_cx_visitor_mark_get(&v, 77), &v.sv[6]);

    ngx_cx_visitor_mark(&v, 78, 3001, -1, NGX_CX_MARK_DISMISSED);
    assert_int_equal(v.sv[7].id, 78);
    assert_null(ngx_cx_visitor_mark_get(&v, 10 + 7));

    /* then 600 at index 4 */
    ngx_cx_visitor_mark(&v, 79, 1, 0, NGX_CX_MARK_ANSWERED);
    assert_int_equal(v.sv[4].id, 79);

    /* and the one just written at time 1 is the oldest now */
    ngx_cx_visitor_mark(&v, 80, 5, 0, NGX_CX_MARK_ANSWERED);
    assert_int_equal(v.sv[4].id, 80);
    assert_int_equal(v.sv[0].id, 10);
}


static void
test_visitor_v1_still_decodes(void **state)
{
    int               i;
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d, want;

    (void) state;

    /* the string version 1 wrote for sample_visitor() */
    memset(&d, 0xee, sizeof(d));
    assert_int_equal(ngx_cx_visitor_decode(&key, S(sample_cookie_v1_str), &d), 0);
    sample_visitor(&want);
    assert_visitor_equal(&d, &want);

    sample_visitor(&v);
    n = encode_v1(out, sizeof(out), &key, &v);
    assert_encoded(out, n, sample_cookie_v1_str, 0, NULL, 0);

    /* other ids and times; the state beyond them always comes back zero */
    for (i = 0; i < 64; i++) {
        full_visitor(&v);
        memset(v.id, i * 5, NGX_CX_VISITOR_ID_LEN);
        v.id[i % NGX_CX_VISITOR_ID_LEN] = (unsigned char) ~i;
        v.first_seen = 0x9e3779b9u * (uint32_t) i;

        n = encode_v1(out, sizeof(out), &key, &v);
        assert_int_equal(n, NGX_CX_SIGNED_LEN(NGX_CX_VISITOR_V1_PAYLOAD_LEN));

        memset(&d, 0xee, sizeof(d));
        assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), 0);
        memset(&want, 0, sizeof(want));
        memcpy(want.id, v.id, NGX_CX_VISITOR_ID_LEN);
        want.first_seen = v.first_seen;
        assert_visitor_equal(&d, &want);
    }

    /* re-encoding an old visitor upgrades it to version 3 */
    assert_int_equal(ngx_cx_visitor_decode(&key, S(sample_cookie_v1_str), &d), 0);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &d);
    assert_encoded(out, n, empty_cookie_v3_str, 0, NULL, 0);
}


static void
test_visitor_tamper(void **state)
{
    size_t            n;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v, d;

    (void) state;

    /* every byte of the longest cookie, every value; every prefix */
    full_visitor(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(n, NGX_CX_COOKIE_MAX);
    assert_tamper_proof_each(decode_visitor, out, n, sample_cookie_v1_str,
                             sample_cookie_v2_str, sample_cookie_v3_str, NULL);

    sample_visitor_v3(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &other_key, &v);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &d), -1);
    assert_int_equal(ngx_cx_visitor_decode(&other_key, out, n, &d), 0);
    assert_visitor_equal(&d, &v);
}


/* a full state's payload, as the encoder writes it */
static size_t
full_payload(unsigned char *p)
{
    size_t            n, plen;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v;

    full_visitor(&v);
    n = ngx_cx_visitor_encode(out, sizeof(out), &key, &v);
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_COOKIE, out, n, p,
                                          NGX_CX_VISITOR_PAYLOAD_MAX, &plen), 0);
    assert_int_equal(plen, NGX_CX_VISITOR_PAYLOAD_MAX);

    return plen;
}


/* a full state's payload, as version 2 wrote it */
static size_t
full_payload_v2(unsigned char *p)
{
    size_t            n, plen;
    unsigned char     out[NGX_CX_COOKIE_MAX];
    ngx_cx_visitor_t  v;

    full_visitor(&v);
    n = encode_v2(out, sizeof(out), &key, &v);
    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_COOKIE, out, n, p,
                                          NGX_CX_VISITOR_PAYLOAD_MAX, &plen), 0);
    assert_int_equal(plen, NGX_CX_VISITOR_PAYLOAD_MAX - 9);

    return plen;
}


/*
 * A payload of `version` (2 or 3) claiming `ntp` touchpoints and `nsv` marks
 * but holding `ntp_real` and `nsv_real` valid, distinct entries; version 3
 * ends with last_tp, last_at and stages. Returns its length.
 */
static size_t
counts_payload(unsigned char *p, unsigned version, unsigned ntp,
    unsigned ntp_real, unsigned nsv, unsigned nsv_real)
{
    size_t    o;
    unsigned  i;

    o = 0;
    p[o++] = (unsigned char) version;
    memset(p + o, 0x33, 12 + 4 + 4 + 4);
    o += 12 + 4 + 4 + 4;

    p[o++] = (unsigned char) ntp;

    for (i = 0; i < ntp_real; i++) {
        p[o++] = 0x01; p[o++] = 0x00; p[o++] = 0x00; p[o++] = (unsigned char) i;
        p[o++] = 0x00; p[o++] = 0x01;
    }

    p[o++] = (unsigned char) nsv;

    for (i = 0; i < nsv_real; i++) {
        p[o++] = 0x02; p[o++] = 0x00; p[o++] = 0x00; p[o++] = (unsigned char) i;
        memset(p + o, 0, 4);
        o += 4;
        p[o++] = 5;
        p[o++] = NGX_CX_MARK_ANSWERED;
    }

    if (version >= 3) {
        memset(p + o, 0x44, 9);
        o += 9;
    }

    return o;
}


/* payloads that are properly signed but are not a valid cookie */
static void
test_visitor_bad_payloads(void **state)
{
    size_t            n, plen, o;
    unsigned char     p[NGX_CX_VISITOR_PAYLOAD_MAX + 64], save, hold;
    ngx_cx_visitor_t  v;

    static const unsigned char  v1[NGX_CX_VISITOR_V1_PAYLOAD_LEN] = {
        0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
        0x1b, 0x65, 0x53, 0xf1, 0x00
    };

    /* offsets in a full payload */
    enum {
        NTP = 25,
        TP = 26,                                    /* 16 x 6 */
        NSV = TP + 6 * NGX_CX_STATE_TOUCHPOINTS,    /* 122 */
        SV = NSV + 1                                /* 8 x 10 */
    };

    (void) state;

    /* version 1: control, truncations, trailing byte */
    memcpy(p, v1, sizeof(v1));
    assert_int_equal(sign_and_decode_visitor(p, sizeof(v1), &v), 0);
    assert_int_equal(v.first_seen, 1700000000);

    for (n = 0; n < sizeof(v1); n++) {
        assert_int_equal(sign_and_decode_visitor(p, n, &v), -1);
    }

    p[sizeof(v1)] = 0;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(v1) + 1, &v), -1);

    /*
     * One version's body under another's version byte: version 2's under
     * 1 and 3, version 1's under 2 and 3, version 3's under 1 and 2 (it is
     * version 2's with 9 bytes more, so under 2 they are trailing bytes).
     */
    memcpy(p, sample_cookie_v2_payload, sizeof(sample_cookie_v2_payload));
    p[0] = 1;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v2_payload), &v), -1);
    p[0] = 3;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v2_payload), &v), -1);
    memcpy(p, v1, sizeof(v1));
    p[0] = 2;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(v1), &v), -1);
    p[0] = 3;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(v1), &v), -1);
    memcpy(p, sample_cookie_v3_payload, sizeof(sample_cookie_v3_payload));
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v3_payload), &v), 0);
    p[0] = 1;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v3_payload), &v), -1);
    p[0] = 2;
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v3_payload), &v), -1);

    /* version 2 full: control, every truncation */
    plen = full_payload_v2(p);
    assert_int_equal(sign_and_decode_visitor(p, plen, &v), 0);
    assert_int_equal(v.last_tp, 0);
    assert_int_equal(v.stages, 0);

    for (n = 0; n < plen; n++) {
        assert_int_equal(sign_and_decode_visitor(p, n, &v), -1);
    }

    /* version 3 full: control, every truncation */
    plen = full_payload(p);
    assert_int_equal(sign_and_decode_visitor(p, plen, &v), 0);
    assert_int_equal(v.last_tp, 0xffffffffu);
    assert_int_equal(v.last_at, 0xffffffffu);
    assert_int_equal(v.stages, 0xfe);

    for (n = 0; n < plen; n++) {
        assert_int_equal(sign_and_decode_visitor(p, n, &v), -1);
    }

    /*
     * Its tail cut by 1..9 bytes, named apart: cut by 9 it is a whole
     * version 2 body, which must not pass under version 3.
     */
    for (n = 1; n <= 9; n++) {
        assert_int_equal(sign_and_decode_visitor(p, plen - n, &v), -1);
    }

    /* one byte over the longest payload: the decoder has no room for it */
    p[plen] = 0;
    assert_int_equal(sign_and_decode_visitor(p, plen + 1, &v), -1);

    /* unknown versions; 1 and 2 fail on the length of a version 3 body */
    for (n = 0; n < 256; n++) {
        if (n == 3) {
            continue;
        }

        p[0] = (unsigned char) n;
        assert_int_equal(sign_and_decode_visitor(p, plen, &v), -1);
    }

    p[0] = 3;

    /* trailing bytes after a partial state, in version 2 and 3 */
    memcpy(p, sample_cookie_v2_payload, sizeof(sample_cookie_v2_payload));
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v2_payload), &v), 0);

    for (n = 0; n < 8; n++) {
        p[sizeof(sample_cookie_v2_payload) + n] = 0;
        assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v2_payload)
                                                    + n + 1, &v), -1);
    }

    memcpy(p, sample_cookie_v3_payload, sizeof(sample_cookie_v3_payload));
    assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v3_payload), &v), 0);

    for (n = 1; n <= 9; n++) {
        assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v3_payload)
                                                    - n, &v), -1);
    }

    for (n = 0; n < 16; n++) {
        p[sizeof(sample_cookie_v3_payload) + n] = (unsigned char) n;
        assert_int_equal(sign_and_decode_visitor(p, sizeof(sample_cookie_v3_payload)
                                                    + n + 1, &v), -1);
    }

    /*
     * Counts above the maxima, with the entries really present. The other
     * table is left empty so the payload fits the decoder's buffer: up to
     * 29 touchpoints or 17 marks, enough to run past the whole struct if
     * a count were trusted.
     */
    {
        static const struct {
            unsigned  ntp, ntp_real, nsv, nsv_real;
            int       rc;
        } c[] = {
            { 16, 16, 0, 0, 0 },
            { 17, 17, 0, 0, -1 },
            { 29, 29, 0, 0, -1 },
            { 255, 29, 0, 0, -1 },
            { 0, 0, 8, 8, 0 },
            { 0, 0, 9, 9, -1 },
            { 0, 0, 17, 17, -1 },
            { 0, 0, 255, 17, -1 },
        };

        unsigned  version;

        for (version = 2; version <= 3; version++) {
            for (n = 0; n < sizeof(c) / sizeof(c[0]); n++) {
                plen = counts_payload(p, version, c[n].ntp, c[n].ntp_real,
                                      c[n].nsv, c[n].nsv_real);
                assert_true(plen <= NGX_CX_VISITOR_PAYLOAD_MAX);
                assert_case_int_equal(sign_and_decode_visitor(p, plen, &v),
                                      c[n].rc, n, version == 2 ? "v2" : "v3");

                if (c[n].rc == 0) {
                    assert_int_equal(v.ntp, c[n].ntp);
                    assert_int_equal(v.nsv, c[n].nsv);
                    assert_int_equal(v.last_tp, version == 3 ? 0x44444444u : 0);
                }
            }
        }
    }

    /* both tables one over: longer than any valid payload */
    plen = full_payload(p);
    memmove(p + NSV + 6, p + NSV, plen - NSV);
    memset(p + NSV, 0, 6);
    p[NSV] = 0x12;                                     /* id 0x12000000 */
    p[NSV + 5] = 1;                                    /* visits 1 */
    p[NTP] = NGX_CX_STATE_TOUCHPOINTS + 1;
    assert_int_equal(sign_and_decode_visitor(p, plen + 6, &v), -1);

    /* a 9th mark overwriting the 8th is fine */
    plen = full_payload(p);
    memset(p + SV + 7 * 10, 0, 10);
    p[SV + 7 * 10] = 0x7f;                             /* id 0x7f000000 */
    p[SV + 7 * 10 + 9] = NGX_CX_MARK_ANSWERED;         /* at 0, score 0 */
    assert_int_equal(sign_and_decode_visitor(p, plen, &v), 0);
    assert_int_equal(v.sv[7].id, 0x7f000000u);

    /* small tables: counts of 0, the rest at the limit; version 2, then 3 */
    o = 0;
    p[o++] = 2;
    memset(p + o, 0, 12 + 4 + 4 + 4);
    o += 12 + 4 + 4 + 4;
    p[o++] = 0;
    p[o++] = 0;
    assert_int_equal(sign_and_decode_visitor(p, o, &v), 0);
    p[NTP] = 1;                                        /* claims an entry it lacks */
    assert_int_equal(sign_and_decode_visitor(p, o, &v), -1);
    p[NTP] = 0;
    p[NTP + 1] = 1;
    assert_int_equal(sign_and_decode_visitor(p, o, &v), -1);
    p[NTP + 1] = 0;

    p[0] = 3;
    memset(p + o, 0, 9);
    o += 9;
    assert_int_equal(sign_and_decode_visitor(p, o, &v), 0);
    p[NTP] = 1;                                        /* eats 6 of the 9 new bytes */
    assert_int_equal(sign_and_decode_visitor(p, o, &v), -1);
    p[NTP] = 0;
    p[NTP + 1] = 1;                                    /* wants 10, finds 9 */
    assert_int_equal(sign_and_decode_visitor(p, o, &v), -1);

    /* table rules, one broken field at a time in the full payload */
    plen = full_payload(p);

#define BREAK_AT(off, val)                                                 \
    do {                                                                   \
        save = p[off];                                                     \
        p[off] = (unsigned char) (val);                                    \
        assert_int_equal(sign_and_decode_visitor(p, plen, &v), -1);        \
        p[off] = save;                                                     \
        assert_int_equal(sign_and_decode_visitor(p, plen, &v), 0);         \
    } while (0)

    /* touchpoint id 0: entry 3 is 0xffffff03 */
    memset(p + TP + 3 * 6, 0, 3);
    BREAK_AT(TP + 3 * 6 + 3, 0);
    memset(p + TP + 3 * 6, 0xff, 3);

    /* duplicate touchpoint: entry 3 spelt like entry 7 */
    BREAK_AT(TP + 3 * 6 + 3, 7);

    /* touchpoint with 0 visits: entry 15 has 65535 - 15 */
    hold = p[TP + 15 * 6 + 4];
    p[TP + 15 * 6 + 4] = 0;
    BREAK_AT(TP + 15 * 6 + 5, 0);
    p[TP + 15 * 6 + 4] = hold;

    /* survey id 0: entry 2 is 0x80000002 */
    hold = p[SV + 2 * 10];
    p[SV + 2 * 10] = 0;
    BREAK_AT(SV + 2 * 10 + 3, 0);
    p[SV + 2 * 10] = hold;

    /* duplicate survey: entry 2 spelt like entry 5 */
    BREAK_AT(SV + 2 * 10 + 3, 5);

    /* entry 0 is answered 10, entry 1 dismissed -1 */
    BREAK_AT(SV + 8, 11);
    BREAK_AT(SV + 8, 0x80);
    BREAK_AT(SV + 8, 0xff);                            /* answered with -1 */
    BREAK_AT(SV + 9, 0);
    BREAK_AT(SV + 9, 3);
    BREAK_AT(SV + 9, NGX_CX_MARK_DISMISSED);           /* dismissed with 10 */
    BREAK_AT(SV + 10 + 8, 0);                          /* dismissed with 0 */
    BREAK_AT(SV + 10 + 8, 0xfe);
    BREAK_AT(SV + 10 + 9, NGX_CX_MARK_ANSWERED);       /* answered with -1 */

#undef BREAK_AT

    /* scores 0..10 answered all pass */
    for (n = 0; n <= 10; n++) {
        p[SV + 8] = (unsigned char) n;
        assert_int_equal(sign_and_decode_visitor(p, plen, &v), 0);
        assert_int_equal(v.sv[0].score, (int) n);
    }
}


static void
test_visitor_encode_refuses(void **state)
{
    int               i;
    unsigned char     out[NGX_CX_COOKIE_MAX + 64];
    ngx_cx_visitor_t  v;

    (void) state;

    for (i = 0; i < 12; i++) {
        full_visitor(&v);

        switch (i) {
        case 0: v.ntp = NGX_CX_STATE_TOUCHPOINTS + 1; break;
        case 1: v.ntp = 255; break;
        case 2: v.nsv = NGX_CX_STATE_SURVEYS + 1; break;
        case 3: v.tp[4].id = 0; break;
        case 4: v.tp[4].id = v.tp[11].id; break;
        case 5: v.tp[15].visits = 0; break;
        case 6: v.sv[7].id = 0; break;
        case 7: v.sv[7].id = v.sv[0].id; break;
        case 8: v.sv[0].score = 11; break;
        case 9: v.sv[0].score = -1; break;
        case 10: v.sv[1].score = 0; break;
        case 11: v.sv[3].event = 0; break;
        }

        expect_encode_refused(NULL, &v, i);
    }

    /* entries past the counts are not the encoder's business */
    full_visitor(&v);
    v.ntp = 3;
    v.nsv = 1;
    v.tp[3].id = 0;
    v.sv[1].event = 0;
    assert_int_equal(ngx_cx_visitor_encode(out, sizeof(out), &key, &v),
                     NGX_CX_SIGNED_LEN(36 + 3 * 6 + 10));
}


static void
test_visitor_oversized(void **state)
{
    unsigned char     big[4096];
    ngx_cx_visitor_t  v;

    (void) state;

    memset(big, 'A', sizeof(big));
    memcpy(big, sample_cookie_v2_str, sizeof(sample_cookie_v2_str) - 1);
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
    assert_int_equal(ngx_cx_token_decode(&key, S(sample_cookie_v1_str), &t), -1);
    assert_int_equal(ngx_cx_token_decode(&key, S(sample_cookie_v2_str), &t), -1);
    assert_int_equal(ngx_cx_token_decode(&key, S(sample_cookie_v3_str), &t), -1);
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
                                          S(sample_cookie_v1_str), payload,
                                          sizeof(payload), &plen), 0);
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN,
                             payload, plen);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);

    assert_int_equal(ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_COOKIE,
                                          S(sample_cookie_v2_str), payload,
                                          sizeof(payload), &plen), 0);
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_TOKEN,
                             payload, plen);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), -1);
    n = ngx_cx_signed_encode(out, sizeof(out), &key, NGX_CX_DOMAIN_COOKIE,
                             payload, plen);
    assert_int_equal(ngx_cx_visitor_decode(&key, out, n, &v), 0);
}


/* A survey link: a token payload plus its expiry, its own domain. */
static void
test_link(void **state)
{
    size_t          n, tn;
    uint32_t        expires;
    ngx_cx_token_t  t, back;
    unsigned char   link[NGX_CX_LINK_MAX + 1], tok[NGX_CX_TOKEN_MAX];

    (void) state;

    sample_token(&t);
    t.path_len = 0;
    t.lang_len = 0;
    memset(t.path, 0, sizeof(t.path));
    memset(t.lang, 0, sizeof(t.lang));
    t.attrs_len = (uint16_t) ngx_cx_attrs_put(t.attrs, sizeof(t.attrs),
                                              "ticket", 6, "T-42", 4);

    n = ngx_cx_link_encode(link, sizeof(link), &key, &t, 0x6a000000);
    assert_true(n > 0 && n <= NGX_CX_LINK_MAX);
    for (tn = 0; tn + 4 <= n; tn++) {
        assert_false(memcmp(link + tn, "T-42", 4) == 0);
    }

    assert_int_equal(ngx_cx_link_decode(&key, link, n, &back, &expires), 0);
    assert_int_equal(expires, 0x6a000000);
    assert_memory_equal(&back, &t, sizeof(t));

    /* another key, or any byte changed: refused, nothing left in back */
    assert_int_equal(ngx_cx_link_decode(&other_key, link, n, &back, &expires),
                     -1);
    link[n / 2] ^= 1;
    assert_int_equal(ngx_cx_link_decode(&key, link, n, &back, &expires), -1);
    assert_true(back.survey_len == 0 && back.attrs_len == 0);
    link[n / 2] ^= 1;
    assert_int_equal(ngx_cx_link_decode(&key, link, n - 1, &back, &expires),
                     -1);

    /* a link is no token, a token no link (domains 0x06 and 0x01) */
    assert_int_equal(ngx_cx_token_decode(&key, link, n, &back), -1);
    tn = ngx_cx_token_encode(tok, sizeof(tok), &key, &t);
    assert_true(tn > 0);
    assert_int_equal(ngx_cx_link_decode(&key, tok, tn, &back, &expires), -1);

    /* too small a buffer: nothing */
    assert_int_equal(ngx_cx_link_encode(link, n - 1, &key, &t, 1), 0);
}


/* Names of surveys and touchpoints. */
static void
test_name_valid(void **state)
{
    char  name[NGX_CX_NAME_MAX + 1];

    (void) state;

    assert_true(ngx_cx_name_valid((const unsigned char *) "nps_after-1.b", 13));
    assert_false(ngx_cx_name_valid((const unsigned char *) "", 0));
    assert_false(ngx_cx_name_valid((const unsigned char *) "a b", 3));
    assert_false(ngx_cx_name_valid((const unsigned char *) "caf\xc3\xa9", 5));
    memset(name, 'a', sizeof(name));
    assert_true(ngx_cx_name_valid((const unsigned char *) name, NGX_CX_NAME_MAX));
    assert_false(ngx_cx_name_valid((const unsigned char *) name,
                                   NGX_CX_NAME_MAX + 1));
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
        cmocka_unit_test(test_token_attrs_known_answer),
        cmocka_unit_test(test_token_attrs_round_trip),
        cmocka_unit_test(test_token_attrs_hidden),
        cmocka_unit_test(test_token_attrs_ciphertext_tamper),
        cmocka_unit_test(test_token_attrs_fresh_keystream),
        cmocka_unit_test(test_token_v1_still_decodes),
        cmocka_unit_test(test_token_prompt_id),
        cmocka_unit_test(test_token_max_fields),
        cmocka_unit_test(test_token_oversize_rejected_at_encode),
        cmocka_unit_test(test_token_tamper),
        cmocka_unit_test(test_token_other_key),
        cmocka_unit_test(test_token_bad_payloads),
        cmocka_unit_test(test_name_id),
        cmocka_unit_test(test_visitor_sizes),
        cmocka_unit_test(test_visitor_known_answer),
        cmocka_unit_test(test_visitor_round_trips),
        cmocka_unit_test(test_visitor_visit),
        cmocka_unit_test(test_visitor_saturation),
        cmocka_unit_test(test_visitor_move),
        cmocka_unit_test(test_visitor_mark),
        cmocka_unit_test(test_visitor_v1_still_decodes),
        cmocka_unit_test(test_visitor_v2_still_decodes),
        cmocka_unit_test(test_visitor_tamper),
        cmocka_unit_test(test_visitor_bad_payloads),
        cmocka_unit_test(test_visitor_encode_refuses),
        cmocka_unit_test(test_visitor_oversized),
        cmocka_unit_test(test_domain_separation),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_name_valid),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
