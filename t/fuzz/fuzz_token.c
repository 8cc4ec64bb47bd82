/*
 * The prompt token and visitor cookie decoders, and the base64url codec
 * under them, on hostile input (src/ngx_cx_token.h):
 *   - the fuzzer's bytes as a token string, a cookie value, a signed blob
 *     and base64url: never a crash, and a forged string never verifies;
 *   - the fuzzer's bytes as a payload, signed with the key, so the payload
 *     parsers see every shape: whatever they accept re-encodes to the very
 *     same string (one logical value has one string form, for the version
 *     the encoder writes);
 *   - a token and a visitor state built from the fuzzer's bytes encode and
 *     decode back to themselves.
 */

#include "fuzz.h"
#include "ngx_cx_token.h"


static ngx_cx_hmac_key_t  key;
static int                key_ready;

#define BUF  2048


static void
decode_raw(const unsigned char *data, size_t size)
{
    size_t            outlen, plen;
    unsigned char    *src;
    ngx_cx_token_t    t;
    ngx_cx_visitor_t  v;
    static unsigned char  out[BUF], payload[BUF];

    src = fz_dup(data, size);

    (void) ngx_cx_token_decode(&key, src, size, &t);
    (void) ngx_cx_visitor_decode(&key, src, size, &v);
    (void) ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_TOKEN, src, size,
                                payload, sizeof(payload), &plen);
    /* a payload buffer of exactly the claimed size must be enough */
    if (size / 2 > 0) {
        unsigned char *small = malloc(size / 2);
        CHECK(small != NULL);
        (void) ngx_cx_signed_decode(&key, NGX_CX_DOMAIN_COOKIE, src, size,
                                    small, size / 2, &plen);
        free(small);
    }

    if (ngx_cx_b64url_decode(out, size < BUF ? size : BUF, src, size,
                             &outlen) == 0)
    {
        /* canonical: encoding the result gives the input back */
        unsigned char  *again = malloc(NGX_CX_B64URL_LEN(outlen) + 1);
        CHECK(again != NULL);
        CHECK(outlen == NGX_CX_B64URL_DECODED_LEN(size));
        CHECK(ngx_cx_b64url_encode(again, out, outlen) == size);
        CHECK(memcmp(again, src, size) == 0);
        free(again);
    }

    free(src);
}


/*
 * The payload signed as a token, then as a cookie: what the decoder of its
 * domain accepts (of the version the encoder writes) re-encodes to the same
 * string, and the decoder of the other domain refuses it.
 */
static void
signed_payload(const unsigned char *data, size_t size)
{
    int               cookie, rc, other;
    size_t            n, m;
    unsigned char     domain, version;
    ngx_cx_token_t    t;
    ngx_cx_visitor_t  v;
    static unsigned char  blob[BUF * 2], again[BUF * 2];

    if (size > NGX_CX_TOKEN_PAYLOAD_MAX + 8) {
        return;
    }

    for (cookie = 0; cookie <= 1; cookie++) {
        domain = cookie ? NGX_CX_DOMAIN_COOKIE : NGX_CX_DOMAIN_TOKEN;
        version = cookie ? NGX_CX_VISITOR_VERSION : NGX_CX_TOKEN_VERSION;

        n = ngx_cx_signed_encode(blob, sizeof(blob), &key, domain, data, size);
        CHECK(n == NGX_CX_SIGNED_LEN(size));

        if (cookie) {
            rc = ngx_cx_visitor_decode(&key, blob, n, &v);
            other = ngx_cx_token_decode(&key, blob, n, &t);

        } else {
            rc = ngx_cx_token_decode(&key, blob, n, &t);
            other = ngx_cx_visitor_decode(&key, blob, n, &v);
        }

        /* a token is never a cookie, nor a cookie a token */
        CHECK(other == -1);

        if (rc == 0 && size > 0 && data[0] == version) {
            m = cookie ? ngx_cx_visitor_encode(again, sizeof(again), &key, &v)
                       : ngx_cx_token_encode(again, sizeof(again), &key, &t);
            CHECK(m == n && memcmp(again, blob, n) == 0);
        }
    }
}


/*
 * Encodes the token t, or else the visitor state v, into a heap block of
 * the longest size, and decodes it back to the same; returns the block,
 * the length of the string in *len.
 */
static unsigned char *
encode_decode(const ngx_cx_token_t *t, const ngx_cx_visitor_t *v,
    size_t *len)
{
    size_t            n, max;
    unsigned char    *str;
    ngx_cx_token_t    t2;
    ngx_cx_visitor_t  v2;

    max = t ? NGX_CX_TOKEN_MAX : NGX_CX_COOKIE_MAX;
    str = malloc(max);
    CHECK(str != NULL);

    if (t != NULL) {
        n = ngx_cx_token_encode(str, max, &key, t);
        CHECK(n > 0 && n <= max);
        CHECK(ngx_cx_token_decode(&key, str, n, &t2) == 0);
        CHECK(memcmp(t, &t2, sizeof(t2)) == 0);

    } else {
        n = ngx_cx_visitor_encode(str, max, &key, v);
        CHECK(n > 0 && n <= max);
        CHECK(ngx_cx_visitor_decode(&key, str, n, &v2) == 0);
        CHECK(memcmp(v, &v2, sizeof(v2)) == 0);
    }

    *len = n;

    return str;
}


static void
round_trip(const uint8_t *data, size_t size)
{
    unsigned          i, ops;
    size_t            n;
    fz_t              f;
    ngx_cx_token_t    t, t2;
    ngx_cx_visitor_t  v;
    unsigned char    *str;

    f.p = data;
    f.left = size;

    /* a token, every length up to its maximum */
    memset(&t, 0, sizeof(t));
    t.issued_at = fz_u32(&f);
    for (i = 0; i < sizeof(t.visitor); i++) {
        t.visitor[i] = fz_byte(&f);
    }
    for (i = 0; i < sizeof(t.nonce); i++) {
        t.nonce[i] = fz_byte(&f);
    }
    t.stage = fz_byte(&f) % (NGX_CX_STAGE_MAX + 1);
    t.survey_len = fz_bytes(&f, (unsigned char *) t.survey, NGX_CX_NAME_MAX);
    t.touchpoint_len = fz_bytes(&f, (unsigned char *) t.touchpoint,
                                NGX_CX_NAME_MAX);
    t.lang_len = fz_bytes(&f, (unsigned char *) t.lang, NGX_CX_LANG_MAX);
    t.path_len = fz_bytes(&f, (unsigned char *) t.path, 255);
    if (fz_byte(&f) & 1) {
        t.path_len = NGX_CX_PATH_MAX;      /* the longest path too */
    }
    t.attrs_len = fz_bytes(&f, t.attrs, 255);
    if (fz_byte(&f) & 1) {
        t.attrs_len = NGX_CX_ATTRS_MAX;
    }

    str = encode_decode(&t, NULL, &n);
    /* one byte changed or cut off: refused */
    if (n > 0) {
        i = fz_byte(&f) % n;
        str[i] ^= 1 + fz_byte(&f) % 127;
        CHECK(ngx_cx_token_decode(&key, str, n, &t2) == -1);
        CHECK(ngx_cx_token_decode(&key, str, i, &t2) == -1);
    }
    free(str);

    /* a visitor state, built through the functions that keep it valid */
    memset(&v, 0, sizeof(v));
    for (i = 0; i < sizeof(v.id); i++) {
        v.id[i] = fz_byte(&f);
    }
    v.first_seen = fz_u32(&f);
    v.last_display = fz_u32(&f);
    ops = fz_byte(&f);
    for (i = 0; i < ops && f.left > 0; i++) {
        unsigned op = fz_byte(&f);
        uint32_t id = fz_byte(&f) % 24;    /* few ids: repeats and replacement */
        if (op & 1) {
            ngx_cx_visitor_visit(&v, id);
        } else {
            ngx_cx_visitor_mark(&v, id, fz_u32(&f), (int) (op >> 2) - 8,
                                (op >> 1) & 1 ? NGX_CX_MARK_DISMISSED
                                              : NGX_CX_MARK_ANSWERED);
        }
    }
    CHECK(v.ntp <= NGX_CX_STATE_TOUCHPOINTS && v.nsv <= NGX_CX_STATE_SURVEYS);

    str = encode_decode(NULL, &v, &n);
    /* a buffer one byte short is refused, not overrun */
    CHECK(ngx_cx_visitor_encode(str, n - 1, &key, &v) == 0);
    free(str);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!key_ready) {
        ngx_cx_hmac_key_init(&key, (const unsigned char *) "cx-fuzz-key", 11);
        key_ready = 1;
    }

    decode_raw(data, size);
    signed_payload(data, size);
    round_trip(data, size);
    return 0;
}
