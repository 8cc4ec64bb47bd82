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
 * payload is readable by anyone; only its integrity is protected, except for
 * the prompt token's hidden attributes, which are also encrypted (see
 * "prompt token" below).
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

/*
 * Domain bytes: the first byte of every HMAC input made with the module's
 * key, one value per use of the key (a kind of blob, or the token's
 * keystream). Inputs of different uses differ in their first byte, so no
 * output of one use is ever an output of another. Never reuse a value.
 */
#define NGX_CX_DOMAIN_TOKEN      0x01
#define NGX_CX_DOMAIN_COOKIE     0x02
#define NGX_CX_DOMAIN_KEYSTREAM  0x03   /* token attrs encryption, never a MAC */
#define NGX_CX_DOMAIN_ALERT_LINK 0x04   /* an alert's ack_url (ngx_cx_alert.h) */
#define NGX_CX_DOMAIN_PREVIEW    0x05   /* the preview cookie (ngx_http_cx_preview.c) */
#define NGX_CX_DOMAIN_LINK       0x06   /* a survey link (ngx_cx_link_encode) */

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

#define NGX_CX_ATTRS_MAX       256  /* hidden attributes, encrypted in the token */

#define NGX_CX_TOKEN_VERSION   3    /* written; versions 1 and 2 are still decoded */

/*
 * A prompt as issued with one page. The strings are byte arrays of the given
 * length, not NUL-terminated (a field at its maximum fills its array) and
 * not validated here: the encoder signs whatever bytes it is given, so
 * escape them where they are printed.
 *
 * `attrs` is an opaque blob (the caller's key/value encoding, not parsed
 * here) that a targeting hook attached to the prompt: stored with the
 * answer, never shown to the browser, so the token carries it encrypted.
 */
typedef struct {
    uint32_t       issued_at;                          /* unix seconds */
    unsigned char  visitor[NGX_CX_VISITOR_ID_LEN];
    unsigned char  nonce[8];                           /* random, see below */
    unsigned char  stage;                              /* 0 none, 1..6 journey stage */
    unsigned char  survey_len, touchpoint_len, lang_len;
    uint16_t       path_len;
    uint16_t       attrs_len;                          /* 0..NGX_CX_ATTRS_MAX */
    char           survey[NGX_CX_NAME_MAX], touchpoint[NGX_CX_NAME_MAX], lang[NGX_CX_LANG_MAX], path[NGX_CX_PATH_MAX];
    unsigned char  attrs[NGX_CX_ATTRS_MAX];
} ngx_cx_token_t;

/*
 * Token payload, all integers big-endian:
 *
 *   version 1 (still decoded, no longer written):
 *     version(1)=1 issued_at(4) visitor(12) nonce(8) stage(1)
 *     survey_len(1) survey  touchpoint_len(1) touchpoint  lang_len(1) lang
 *     path_len(2) path
 *
 *   version 2 (still decoded, no longer written): version 1 with
 *     version(1)=2, followed by attrs_len(2) attrs_ciphertext(attrs_len)
 *
 *   version 3: version 2's layout with version(1)=3; only the keystream
 *     differs (below)
 *
 * attrs_len 0 costs 2 payload bytes (2 or 3 characters of the token). A
 * version 1 token decodes with attrs_len 0.
 *
 * Hidden attributes: encrypt-then-MAC with the token key.
 *
 *   m(i) = 0x03 || version(1) || issued_at(4) || visitor(12) || nonce(8)
 *          || i(1), 27 bytes, for keystream block i = 0, 1, .. 7
 *   keystream block i (32 bytes) =
 *       version 3: SHA-256((key ^ 0x6a6a..) || m(i)), the key padded to a
 *                  block as HMAC pads it: one compression a block
 *       version 2: HMAC-SHA256(key, m(i)): two
 *   attrs_ciphertext = attrs XOR the first attrs_len keystream bytes
 *
 * and the MAC of the blob (domain 0x01) covers the whole payload, the
 * ciphertext included. The decoder verifies the MAC before it looks at the
 * payload, then decrypts. Why this is sound, and what it assumes:
 *
 *   - The keystream function is a PRF, so on inputs never queried before
 *     its output is indistinguishable from random: the keystream is a
 *     one-time pad for anyone without the key (counter mode; 8 blocks cover
 *     NGX_CX_ATTRS_MAX). For HMAC this is its proof; for version 3's keyed
 *     hash it is the same assumption (SHA-256's compression function is a
 *     PRF keyed by its chaining value, and so is it keyed by one secret
 *     block), which holds for inputs of one fixed length: every m(i) is 27
 *     bytes. A length extension of a keystream block (which anyone who
 *     knows some attrs can recover) gives hashes of longer inputs, which
 *     are neither keystream nor MACs: the MACs hash other first blocks
 *     (key ^ 0x36.., key ^ 0x5c..).
 *   - Each token must get a keystream of its own: the triple (issued_at,
 *     visitor, nonce) must never repeat under one key with different attrs.
 *     The caller fills `nonce` from a CSPRNG; 64 random bits make a repeat
 *     within one visitor's second negligible. Two tokens sharing the triple
 *     would reveal the XOR of their attrs. Re-encoding the same token gives
 *     the same string, which leaks nothing.
 *   - One key serves the MACs and the keystream, separated by the first
 *     input byte: 0x01 token MAC, 0x02 cookie MAC, 0x03 keystream. No
 *     keystream input is ever a MAC input, so the MACs published in every
 *     token and cookie are PRF outputs on other inputs and tell nothing of
 *     the keystream; a new use of the key needs a new domain byte.
 *   - Encrypt-then-MAC: a changed ciphertext byte fails the MAC, so the
 *     ciphertext is not malleable and the decoder never decrypts forgeries.
 *
 * Not hidden: the length of the attributes, and everything else in the
 * payload. Anyone holding the key (every node of the fleet) reads them, and
 * a leaked key exposes the attrs of every token issued under it.
 */
#define NGX_CX_TOKEN_PAYLOAD_MAX  \
    (1 + 4 + NGX_CX_VISITOR_ID_LEN + 8 + 1 + 1 + NGX_CX_NAME_MAX + 1  \
     + NGX_CX_NAME_MAX + 1 + NGX_CX_LANG_MAX + 2 + NGX_CX_PATH_MAX  \
     + 2 + NGX_CX_ATTRS_MAX)

/* Longest token string (941 bytes); size token buffers with it. */
#define NGX_CX_TOKEN_MAX  NGX_CX_SIGNED_LEN(NGX_CX_TOKEN_PAYLOAD_MAX)

/*
 * Encrypt `t->attrs` and sign `t` as a version 2 token string into `dst`
 * (NGX_CX_TOKEN_MAX always suffices). Returns the string length, or 0 if a
 * length field (attrs_len included) is over its maximum, stage is over
 * NGX_CX_STAGE_MAX, or `dstsize` is too small. `t` is not changed; its
 * nonce must be fresh random bytes (see above).
 */
size_t ngx_cx_token_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_token_t *t);

/*
 * Verify and parse a token string (version 1 or 2) into `*t`, decrypting
 * the attrs. Returns 0 on success, -1 if it is longer than NGX_CX_TOKEN_MAX,
 * forged or signed for another domain, or its payload is not exactly one
 * token (unknown version, a length or stage over its maximum, truncated,
 * trailing bytes). A version 1 token gives attrs_len 0. `*t` is zeroed
 * first, so bytes past each string's length (and the attrs') are 0; on
 * failure it is all zero. The attrs are plaintext in `*t`: keep them out of
 * anything sent to the browser.
 * Not checked here, the caller's job: expiry (issued_at), that the visitor
 * matches the request's cookie, and that survey/touchpoint still exist.
 */
int ngx_cx_token_decode(const ngx_cx_hmac_key_t *key, const unsigned char *src,
    size_t len, ngx_cx_token_t *t);


/*
 * A survey link (README: Survey links): a version 3 token payload followed
 * by u32 expires (unix seconds, big-endian), signed for domain 0x06, so no
 * link is a token or the reverse. The token's issued_at, visitor (the
 * link's own random id: whoever answers, it is the link's respondent) and
 * nonce are fixed when the link is made: every page of one link carries the
 * same prompt id, so a link holds one answer. Path and lang are empty; the
 * attrs are encrypted as a token's (the triple is fresh per link).
 * Same returns as ngx_cx_token_encode/decode; a link must be version 3.
 */
#define NGX_CX_LINK_MAX  NGX_CX_SIGNED_LEN(NGX_CX_TOKEN_PAYLOAD_MAX + 4)

size_t ngx_cx_link_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_token_t *t, uint32_t expires);
int ngx_cx_link_decode(const ngx_cx_hmac_key_t *key, const unsigned char *src,
    size_t len, ngx_cx_token_t *t, uint32_t *expires);

/*
 * The response id of a prompt: issued_at (big-endian) followed by the
 * nonce. Sorts by issue time and is unique per issued token, so it keys the
 * stored response and detects a replayed answer.
 */
void ngx_cx_token_prompt_id(const ngx_cx_token_t *t,
    unsigned char id[NGX_CX_PROMPT_ID_LEN]);


/* ---- visitor cookie ---- */

/*
 * The cookie carries the visitor's targeting state, not just an id: every
 * node of a fleet that shares the key reads the same state from the request
 * and so decides the same way, with no shared store. The state is bounded
 * (fixed-size tables with replacement policies below), so the cookie value
 * has a fixed maximum length, NGX_CX_COOKIE_MAX (306 bytes).
 *
 * The payload is readable by the visitor (it is only signed): it holds
 * hashes of touchpoint and survey names, counters and times, nothing the
 * visitor did not do themselves. Forging or editing it is impossible without
 * the key, but an old cookie can always be replayed by its owner; the state
 * is a targeting hint, never an authority (tokens carry that).
 */

#define NGX_CX_VISITOR_VERSION     3

#define NGX_CX_STATE_TOUCHPOINTS  16   /* per-touchpoint visit counters kept */
#define NGX_CX_STATE_SURVEYS       8   /* per-survey answer/dismissal marks kept */

#define NGX_CX_MARK_ANSWERED       1
#define NGX_CX_MARK_DISMISSED      2

/* Visits of one touchpoint; id is ngx_cx_name_id() of its name, never 0. */
typedef struct {
    uint32_t       id;
    uint16_t       visits;                             /* >= 1, saturates at 65535 */
} ngx_cx_tp_count_t;

/*
 * The last answer or dismissal of one survey; id is ngx_cx_name_id() of the
 * survey's name, never 0. A valid mark is either event NGX_CX_MARK_ANSWERED
 * with score 0..10, or NGX_CX_MARK_DISMISSED with score -1.
 */
typedef struct {
    uint32_t       id;
    uint32_t       at;                                 /* unix seconds */
    int8_t         score;
    uint8_t        event;
} ngx_cx_survey_mark_t;

/*
 * The visitor's state carried in the cookie. Every member means "nothing
 * known" when zero, and the decoder zeroes the struct first, so an older
 * cookie decodes into this struct with those defaults. Only tp[0..ntp-1] and
 * sv[0..nsv-1] are meaningful; the decoder leaves the rest zero. Change the
 * tables through the functions below, which keep them valid (no id 0, no
 * duplicate id, no touchpoint with 0 visits, marks valid as described
 * above); a hand-edited state that breaks these is refused by the encoder.
 */
typedef struct {
    unsigned char         id[NGX_CX_VISITOR_ID_LEN];
    uint32_t              first_seen;                  /* unix seconds */
    uint32_t              visits;                      /* touchpoint visits in total, saturating */
    uint32_t              last_display;                /* unix seconds of the last widget display, 0 never */
    uint8_t               ntp;
    ngx_cx_tp_count_t     tp[NGX_CX_STATE_TOUCHPOINTS];
    uint8_t               nsv;
    ngx_cx_survey_mark_t  sv[NGX_CX_STATE_SURVEYS];
    uint32_t              last_tp;                     /* the last touchpoint visited (id), 0 none */
    uint32_t              last_at;                     /* unix seconds of that visit */
    uint8_t               stages;                      /* bit s: a touchpoint of stage s visited */
} ngx_cx_visitor_t;

/*
 * Cookie payload. All integers big-endian, fixed width (so each state has
 * exactly one encoding and the length is bounded without varint rules).
 *
 *   version 1 (still decoded, no longer written):
 *     version(1)=1 id(12) first_seen(4)                           17 bytes
 *
 *   version 2:
 *     version(1)=2 id(12) first_seen(4) visits(4) last_display(4)
 *     ntp(1)  ntp x { id(4) visits(2) }                 ntp <= 16
 *     nsv(1)  nsv x { id(4) at(4) score(1) event(1) }   nsv <= 8
 *                                                 27 .. 203 bytes
 *
 *   version 3: version 2's fields (version byte 3), then
 *     last_tp(4) last_at(4) stages(1)              36 .. 212 bytes
 *
 * score is a two's complement byte. Entries are written in table order,
 * which is kept because it breaks ties in the replacement policies.
 * A version 1 cookie decodes as id and first_seen with everything else
 * zero. A new version raises NGX_CX_VISITOR_VERSION and this maximum; the
 * decoder keeps accepting every older version.
 */
#define NGX_CX_VISITOR_V1_PAYLOAD_LEN  (1 + NGX_CX_VISITOR_ID_LEN + 4)

#define NGX_CX_VISITOR_PAYLOAD_MAX                                           \
    (1 + NGX_CX_VISITOR_ID_LEN + 4 + 4 + 4                                   \
     + 1 + NGX_CX_STATE_TOUCHPOINTS * (4 + 2)                               \
     + 1 + NGX_CX_STATE_SURVEYS * (4 + 4 + 1 + 1)                           \
     + 4 + 4 + 1)

/* Longest cookie value (306 bytes); size cookie buffers with it. */
#define NGX_CX_COOKIE_MAX  NGX_CX_SIGNED_LEN(NGX_CX_VISITOR_PAYLOAD_MAX)

/*
 * The 32-bit FNV-1a hash of `len` bytes of `name` (offset basis 0x811c9dc5,
 * prime 0x01000193), except that 0 is returned as 1, so 0 can mean "no
 * entry". Names the touchpoints and surveys in the cookie. The hash is part
 * of the cookie format: changing it forgets every visitor's counters.
 * Distinct names may collide (about 1 in 2^32 per pair); they then share a
 * counter or mark, which only skews targeting.
 */
uint32_t ngx_cx_name_id(const unsigned char *name, size_t len);

/*
 * A survey or touchpoint name: 1 to NGX_CX_NAME_MAX bytes of letters,
 * digits, "_", "-" and ".". Returns 1 when name is one, else 0.
 */
int ngx_cx_name_valid(const unsigned char *name, size_t len);

/*
 * Count one visit of the touchpoint `tp_id`: `visits` + 1 and that
 * touchpoint's counter + 1, both saturating (at UINT32_MAX and 65535).
 * A touchpoint not yet in the table is added with 1 visit; when the table
 * is full it replaces, in place, the entry with the fewest visits (the
 * first such in table order). The policy keeps the touchpoints a visitor
 * comes back to; its cost is that a run of new touchpoints keeps replacing
 * the same weak slot, so each of them may be forgotten at the next new one.
 * A tp_id of 0 (no touchpoint) counts only in `visits`.
 */
void ngx_cx_visitor_visit(ngx_cx_visitor_t *v, uint32_t tp_id);

/*
 * The journey: remember `tp_id` (of `stage`, 1..7) as the last touchpoint,
 * visited at `now`, and the stage as reached.  Call after
 * ngx_cx_visitor_visit(), having read what was there before.
 */
void ngx_cx_visitor_move(ngx_cx_visitor_t *v, uint32_t tp_id, unsigned stage,
    uint32_t now);

/* Visits counted for touchpoint `tp_id`; 0 when it is not in the table. */
unsigned ngx_cx_visitor_tp_visits(const ngx_cx_visitor_t *v, uint32_t tp_id);

/*
 * The mark of survey `survey_id`, pointing into `v`, or NULL when there is
 * none (or survey_id is 0). The pointer is valid until `v` next changes.
 */
const ngx_cx_survey_mark_t *ngx_cx_visitor_mark_get(const ngx_cx_visitor_t *v,
    uint32_t survey_id);

/*
 * Record that survey `survey_id` was answered with `score` or dismissed
 * (`event` NGX_CX_MARK_ANSWERED or NGX_CX_MARK_DISMISSED) at `at`. An
 * existing mark of that survey is overwritten in place, so only the last
 * event is kept. A new survey is appended; when the table is full it
 * replaces the mark with the smallest `at` (the first such in table order),
 * the survey whose recontact period is most likely over already. The
 * score of a dismissal is ignored and stored as -1. Nothing changes when
 * survey_id is 0, the event is neither of the two, or an answer's score is
 * outside 0..10: such a mark could not be encoded.
 */
void ngx_cx_visitor_mark(ngx_cx_visitor_t *v, uint32_t survey_id, uint32_t at,
    int score, unsigned event);

/*
 * Sign `v` as a version 3 cookie value into `dst` (NGX_CX_COOKIE_MAX always
 * suffices; a full state takes exactly that). Returns the value's length,
 * or 0 if `dstsize` is too small or `v` breaks the table rules (ntp or nsv
 * over its maximum, an id 0 or duplicate id, a touchpoint with 0 visits, an
 * invalid mark): nothing the decoder would refuse is ever written.
 */
size_t ngx_cx_visitor_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_visitor_t *v);

/*
 * Verify and parse a cookie value (version 1, 2 or 3) into `*v`. Returns 0 on
 * success, -1 if it is longer than NGX_CX_COOKIE_MAX, tampered with,
 * truncated, signed by another key or for another domain (a token), of an
 * unknown version, has trailing bytes, or breaks the table rules listed at
 * ngx_cx_visitor_encode(). `*v` is zeroed first; on failure it is all zero,
 * and the caller should treat the request as coming from a new visitor.
 */
int ngx_cx_visitor_decode(const ngx_cx_hmac_key_t *key,
    const unsigned char *src, size_t len, ngx_cx_visitor_t *v);


#endif /* NGX_CX_TOKEN_H */
