/*
 * ngx_cx_token — what the module hands to browsers and takes back: the
 * prompt token (embedded in a prompted page, returned with the answer) and
 * the visitor cookie, both as signed blobs, plus the base64url and hex
 * codecs they are written in.
 *
 * Signed blob, the common string form:
 *
 *     B64URL(payload) "." B64URL(first 16 bytes of HMAC-SHA256(key, domain || payload))
 *
 * base64url without padding, so the string is safe as is in a cookie value,
 * a URL and a JSON string. `domain` is one byte naming the use (token,
 * cookie): a blob signed for one use never verifies as another, so a cookie
 * can never be replayed as a token, whatever its payload looks like. The
 * payload is readable by anyone; only its integrity is protected.
 *
 * Payloads are binary and start with a version byte, so the formats can grow
 * without breaking blobs already out in browsers. Decoders accept exactly the
 * canonical encoding: any other string (changed character, padding, stray
 * trailing bits, extra or missing bytes, a field over its maximum) is
 * rejected, so one logical value has one string form.
 *
 * Contract for all functions here: no allocation, no global state, buffers
 * are the caller's, nothing written is NUL-terminated, and `dst` must not
 * overlap the input unless a function says so. Input may be hostile: every
 * length is checked before a byte is read or written.
 */

#ifndef NGX_CX_TOKEN_H
#define NGX_CX_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "ngx_cx_sha256.h"


/* ---- base64url (RFC 4648 section 5), no padding ---- */

/* Encoded length of n bytes. A constant expression when n is. */
#define NGX_CX_B64URL_LEN(n)  \
    (((n) / 3) * 4 + (((n) % 3) ? ((n) % 3) + 1 : 0))

/* Decoded length of a valid encoding of n characters (n % 4 != 1). */
#define NGX_CX_B64URL_DECODED_LEN(n)  \
    (((n) / 4) * 3 + (((n) % 4) ? ((n) % 4) - 1 : 0))

/*
 * Encode `len` bytes of `src` into `dst`, which must hold
 * NGX_CX_B64URL_LEN(len) bytes. Returns the number of bytes written.
 */
size_t ngx_cx_b64url_encode(unsigned char *dst, const unsigned char *src,
    size_t len);

/*
 * Decode `len` characters of `src` into `dst` (room for `dstsize` bytes) and
 * store the decoded length in `*outlen`. Returns 0 on success, -1 when the
 * input is not canonical unpadded base64url: a character outside
 * [A-Za-z0-9_-] (including '=' and whitespace), a length with len % 4 == 1,
 * nonzero unused bits in the last character (so "Zh" is not a second
 * spelling of "Zg"), or a result longer than `dstsize`. On failure `*outlen`
 * is not set and `dst` may hold partial output. `dst` may equal `src`
 * (decoding in place), but must not otherwise overlap it.
 */
int ngx_cx_b64url_decode(unsigned char *dst, size_t dstsize,
    const unsigned char *src, size_t len, size_t *outlen);


/* ---- lowercase hex ---- */

/* Write 2 * len lowercase hex characters of `src` to `dst`. */
void ngx_cx_hex(unsigned char *dst, const unsigned char *src, size_t len);


/* ---- signed blobs ---- */

#define NGX_CX_MAC_LEN  16      /* truncated HMAC-SHA256: 128-bit forgery bound */

/* Domain bytes: one per kind of blob. Never reuse a value for a new kind. */
#define NGX_CX_DOMAIN_TOKEN   0x01
#define NGX_CX_DOMAIN_COOKIE  0x02

/* String length of a signed blob with an n-byte payload. */
#define NGX_CX_SIGNED_LEN(n)  \
    (NGX_CX_B64URL_LEN(n) + 1 + NGX_CX_B64URL_LEN(NGX_CX_MAC_LEN))

/*
 * Sign `len` bytes of `payload` for `domain` and write the blob string to
 * `dst`. Returns its length, NGX_CX_SIGNED_LEN(len), or 0 when that exceeds
 * `dstsize` (nothing is written then).
 */
size_t ngx_cx_signed_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, unsigned char domain,
    const unsigned char *payload, size_t len);

/*
 * Verify a blob string of `len` bytes at `src` for `domain` and, if it is
 * genuine, write its payload to `payload` (room for `payloadsize` bytes) and
 * the payload length to `*payload_len`. The MAC is compared in constant
 * time. Returns 0 on success; -1 if the string is malformed, the payload is
 * longer than `payloadsize`, or the MAC does not match (another key, another
 * domain, any altered byte). On failure `*payload_len` is not set and the
 * payload buffer holds nothing usable (it is zeroed after a bad MAC). The
 * payload's meaning, including any expiry, is the caller's to check.
 */
int ngx_cx_signed_decode(const ngx_cx_hmac_key_t *key, unsigned char domain,
    const unsigned char *src, size_t len, unsigned char *payload,
    size_t payloadsize, size_t *payload_len);


/* ---- prompt token ---- */

#define NGX_CX_VISITOR_ID_LEN  12
#define NGX_CX_PROMPT_ID_LEN   12   /* 4 bytes issued_at big-endian + 8 random bytes: the response id */
#define NGX_CX_NAME_MAX        64
#define NGX_CX_LANG_MAX        15
#define NGX_CX_PATH_MAX        256
#define NGX_CX_STAGE_MAX       6

#define NGX_CX_TOKEN_VERSION   1

/*
 * A prompt as issued with one page. The strings are byte arrays of the given
 * length, not NUL-terminated (a field at its maximum fills its array) and
 * not validated here: the encoder signs whatever bytes it is given, so
 * escape them where they are printed.
 */
typedef struct {
    uint32_t       issued_at;                          /* unix seconds */
    unsigned char  visitor[NGX_CX_VISITOR_ID_LEN];
    unsigned char  nonce[8];                           /* random */
    unsigned char  stage;                              /* 0 none, 1..6 journey stage */
    unsigned char  survey_len, touchpoint_len, lang_len;
    uint16_t       path_len;
    char           survey[NGX_CX_NAME_MAX], touchpoint[NGX_CX_NAME_MAX], lang[NGX_CX_LANG_MAX], path[NGX_CX_PATH_MAX];
} ngx_cx_token_t;

/*
 * Token payload, version 1, all integers big-endian:
 *   version(1) issued_at(4) visitor(12) nonce(8) stage(1)
 *   survey_len(1) survey  touchpoint_len(1) touchpoint  lang_len(1) lang
 *   path_len(2) path
 */
#define NGX_CX_TOKEN_PAYLOAD_MAX  \
    (1 + 4 + NGX_CX_VISITOR_ID_LEN + 8 + 1 + 1 + NGX_CX_NAME_MAX + 1  \
     + NGX_CX_NAME_MAX + 1 + NGX_CX_LANG_MAX + 2 + NGX_CX_PATH_MAX)

/* Longest token string (597 bytes); size token buffers with it. */
#define NGX_CX_TOKEN_MAX  NGX_CX_SIGNED_LEN(NGX_CX_TOKEN_PAYLOAD_MAX)

/*
 * Sign `t` as a token string into `dst` (NGX_CX_TOKEN_MAX always suffices).
 * Returns the string length, or 0 if a length field is over its maximum,
 * stage is over NGX_CX_STAGE_MAX, or `dstsize` is too small.
 */
size_t ngx_cx_token_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_token_t *t);

/*
 * Verify and parse a token string into `*t`. Returns 0 on success, -1 if it
 * is longer than NGX_CX_TOKEN_MAX, forged or signed for another domain, or
 * its payload is not exactly one version-1 token (wrong version, a length or
 * stage over its maximum, truncated, trailing bytes). `*t` is zeroed first,
 * so bytes past each string's length are 0; on failure it is all zero.
 * Not checked here, the caller's job: expiry (issued_at), that the visitor
 * matches the request's cookie, and that survey/touchpoint still exist.
 */
int ngx_cx_token_decode(const ngx_cx_hmac_key_t *key, const unsigned char *src,
    size_t len, ngx_cx_token_t *t);

/*
 * The response id of a prompt: issued_at (big-endian) followed by the
 * nonce. Sorts by issue time and is unique per issued token, so it keys the
 * stored response and detects a replayed answer.
 */
void ngx_cx_token_prompt_id(const ngx_cx_token_t *t,
    unsigned char id[NGX_CX_PROMPT_ID_LEN]);


/* ---- visitor cookie ---- */

#define NGX_CX_VISITOR_VERSION  1

/*
 * The visitor's state carried in the cookie. New members go at the end and
 * must mean "nothing known" when zero: the decoder zeroes the struct first,
 * so an older cookie decodes into a newer struct with those defaults.
 */
typedef struct {
    unsigned char  id[NGX_CX_VISITOR_ID_LEN];
    uint32_t       first_seen;                         /* unix seconds */
} ngx_cx_visitor_t;

/*
 * Cookie payload, version 1, big-endian: version(1) id(12) first_seen(4).
 * A new version raises NGX_CX_VISITOR_VERSION and this maximum; the decoder
 * keeps accepting every older version.
 */
#define NGX_CX_VISITOR_PAYLOAD_MAX  (1 + NGX_CX_VISITOR_ID_LEN + 4)

/* Longest cookie value (46 bytes today); size cookie buffers with it. */
#define NGX_CX_COOKIE_MAX  NGX_CX_SIGNED_LEN(NGX_CX_VISITOR_PAYLOAD_MAX)

/*
 * Sign `v` as a cookie value into `dst` (NGX_CX_COOKIE_MAX always suffices).
 * Returns the value's length, or 0 if `dstsize` is too small.
 */
size_t ngx_cx_visitor_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_visitor_t *v);

/*
 * Verify and parse a cookie value into `*v`. Returns 0 on success, -1 if it
 * is longer than NGX_CX_COOKIE_MAX, tampered with, truncated, signed by
 * another key or for another domain (a token), of an unknown version, or has
 * trailing bytes. `*v` is zeroed first; on failure it is all zero, and the
 * caller should treat the request as coming from a new visitor.
 */
int ngx_cx_visitor_decode(const ngx_cx_hmac_key_t *key,
    const unsigned char *src, size_t len, ngx_cx_visitor_t *v);


#endif /* NGX_CX_TOKEN_H */
