/*
 * ngx_cx_record -- the stored form of one survey response.
 *
 * One record is the LMDB value kept under the 12-byte prompt id. It says
 * which survey was offered where, what happened to the prompt (displayed,
 * answered, commented, dismissed, each with its time) and the answer itself.
 * This file also holds the attributes blob format (hidden fields returned by
 * Lua hooks) and the date helpers the reports and exports need.
 *
 * Pure C99, no allocation, no nginx headers. Every input to a decoder is
 * treated as hostile: a truncated or corrupt record, blob or date returns -1
 * and nothing is ever read outside [src, src + len).
 *
 * Encoding, version 1 (all integers little-endian or LEB128 varints):
 *
 *   u8      version          1
 *   u8      flags            NGX_CX_REC_* bits; the other bits must be 0
 *   u8      type             NGX_CX_TYPE_*
 *   u8      stage            0..NGX_CX_STAGE_MAX
 *   u8      score            the score when ANSWERED, else 0
 *   12      visitor
 *   varint  issued_at_ms, displayed_at_ms, answered_at_ms,
 *           commented_at_ms, dismissed_at_ms
 *   varint  len, bytes       survey, touchpoint, lang, path, comment, attrs
 *           (six times, in this order)
 *   ...     extensions       zero or more (varint tag, varint len, bytes)
 *
 * Varints are unsigned LEB128 (7 bits per byte, low group first) in their
 * shortest form; a longer form or a value over 64 bits is corrupt. Overhead:
 * 17 fixed bytes, 6 per time that is set (1 when 0) and 1 per field length
 * under 128 bytes: about 50 bytes besides the text for an answered prompt.
 *
 * Compatibility rule: a later writer that needs more fields keeps version 1
 * and appends extensions after the attrs field. A version 1 decoder accepts
 * trailing bytes only when they parse exactly as a sequence of well-formed
 * extensions (each one's length lies within the record), and skips them;
 * anything else after attrs is corruption. Re-encoding a decoded record drops
 * extensions this version does not know. A version byte other than 1 means
 * an incompatible layout and is rejected.
 */

#ifndef NGX_CX_RECORD_H
#define NGX_CX_RECORD_H

#include <stddef.h>
#include <stdint.h>


#define NGX_CX_TYPE_NPS         1       /* scores 0..10 */
#define NGX_CX_TYPE_CSAT        2       /* scores 1..5 */
#define NGX_CX_TYPE_CES         3       /* scores 1..7 */

/* Scale bounds per type; ngx_cx_score.c and the record decoder share them. */
#define NGX_CX_NPS_MIN          0
#define NGX_CX_NPS_MAX          10
#define NGX_CX_CSAT_MIN         1
#define NGX_CX_CSAT_MAX         5
#define NGX_CX_CES_MIN          1
#define NGX_CX_CES_MAX          7

/* Journey stages: 0 none, 1 awareness .. 6 advocacy (see SPEC section 1). */
#define NGX_CX_STAGE_MAX        6

#define NGX_CX_REC_DISPLAYED    0x01
#define NGX_CX_REC_ANSWERED     0x02
#define NGX_CX_REC_COMMENTED    0x04
#define NGX_CX_REC_DISMISSED    0x08
#define NGX_CX_REC_ALL_FLAGS    0x0f

#define NGX_CX_RECORD_VERSION   1

/* Longest attribute key and value ngx_cx_attrs_put accepts. */
#define NGX_CX_ATTR_KEY_MAX     255
#define NGX_CX_ATTR_VAL_MAX     65535

/* Output sizes of the date formatters, including the terminating NUL. */
#define NGX_CX_ISO8601_SIZE     25
#define NGX_CX_YMD_SIZE         11


/* A borrowed byte range. data may be NULL only when len is 0. */
typedef struct {
    const unsigned char  *data;
    size_t                len;
} ngx_cx_bytes_t;

typedef struct {
    unsigned        flags;              /* NGX_CX_REC_* */

    /* unix ms, 0 = never */
    uint64_t        issued_at_ms;
    uint64_t        displayed_at_ms;
    uint64_t        answered_at_ms;
    uint64_t        commented_at_ms;
    uint64_t        dismissed_at_ms;

    int             score;              /* valid when ANSWERED */
    unsigned char   type;               /* NGX_CX_TYPE_* */
    unsigned char   stage;              /* 0 none, 1..6 */
    unsigned char   visitor[12];

    ngx_cx_bytes_t  survey;
    ngx_cx_bytes_t  touchpoint;
    ngx_cx_bytes_t  lang;
    ngx_cx_bytes_t  path;
    ngx_cx_bytes_t  comment;
    ngx_cx_bytes_t  attrs;              /* see ngx_cx_attrs_next */
} ngx_cx_record_t;


/*
 * Returns 1 when r can be encoded and will decode back to the same values,
 * 0 otherwise: type is one of NGX_CX_TYPE_*, stage is 0..NGX_CX_STAGE_MAX,
 * flags has no bits outside NGX_CX_REC_ALL_FLAGS, score is within the type's
 * scale when ANSWERED (it is ignored, and stored as 0, otherwise), attrs is a
 * well-formed blob, and no byte field has len > 0 with data NULL.
 * Call it before ngx_cx_record_encode on anything built from input.
 */
int ngx_cx_record_valid(const ngx_cx_record_t *r);

/*
 * Exact number of bytes ngx_cx_record_encode writes for r.
 * r must satisfy ngx_cx_record_valid.
 */
size_t ngx_cx_record_size(const ngx_cx_record_t *r);

/*
 * Writes the version 1 encoding of r to dst, which must hold at least
 * ngx_cx_record_size(r) bytes, and returns dst + that size.
 * r must satisfy ngx_cx_record_valid; the encoder does not check it and
 * would write a record that the decoder rejects.
 */
unsigned char *ngx_cx_record_encode(unsigned char *dst,
    const ngx_cx_record_t *r);

/*
 * Parses the len bytes at src into r. Returns 0 on success, -1 when the
 * record is truncated, corrupt, of another version, or fails any rule of
 * ngx_cx_record_valid (so a decoded score always indexes a tally safely and
 * the attrs blob always iterates to the end). On success the byte fields of
 * r point into src (nothing is copied): src must outlive r, which for LMDB
 * means the read transaction must stay open. Unknown extensions are skipped.
 * When ANSWERED is not set, r->score is 0. On failure r is unspecified.
 */
int ngx_cx_record_decode(const unsigned char *src, size_t len,
    ngx_cx_record_t *r);


/*
 * Attributes blob: a sequence of pairs, each
 *
 *   u8 key_len (1..255), key, u16 val_len (little-endian), val
 *
 * Keys and values are opaque bytes (hooks normally use UTF-8). An empty blob
 * has no pairs. Keys are not required to be unique; readers that want a map
 * keep the last one.
 */

/*
 * Reads the next pair from *cursor (a blob or what remains of one).
 * Returns 1 and sets key and val (pointing into the blob) and advances
 * *cursor past the pair; 0 when *cursor is empty; -1 when the blob is
 * corrupt (empty key, or a length running past the end), leaving *cursor,
 * key and val unchanged, so calling again returns -1 again.
 */
int ngx_cx_attrs_next(ngx_cx_bytes_t *cursor, ngx_cx_bytes_t *key,
    ngx_cx_bytes_t *val);

/*
 * Writes one pair at dst, which has dstsize bytes of room, and returns the
 * number of bytes written (3 + klen + vlen). To append, pass the end of the
 * blob built so far and the room left. Returns 0, writing nothing, when the
 * pair does not fit, klen is 0 or over NGX_CX_ATTR_KEY_MAX, or vlen is over
 * NGX_CX_ATTR_VAL_MAX. val may be NULL when vlen is 0.
 */
size_t ngx_cx_attrs_put(unsigned char *dst, size_t dstsize, const char *key,
    size_t klen, const char *val, size_t vlen);


/*
 * Formats unix ms as ISO 8601 UTC with seconds precision,
 * "2026-11-23T18:00:00Z" (milliseconds are truncated), NUL-terminated.
 * Returns 20, the length without the NUL. Times after
 * 9999-12-31T23:59:59Z are written as that instant, so the year always has
 * four digits.
 */
size_t ngx_cx_iso8601(char out[NGX_CX_ISO8601_SIZE], uint64_t ms);

/*
 * Formats the UTC date of unix ms as "2026-11-23", NUL-terminated.
 * Returns 10. Clamps like ngx_cx_iso8601.
 */
size_t ngx_cx_ymd(char out[NGX_CX_YMD_SIZE], uint64_t ms);

/*
 * Parses exactly "YYYY-MM-DD" (len must be 10, ASCII digits, no sign or
 * spaces) naming a real Gregorian date from 1970-01-01 to 9999-12-31, and
 * sets *day_start_ms to that day's 00:00:00.000 UTC in unix ms.
 * Returns 0, or -1 for anything else (day_start_ms is then untouched).
 * The end of a "to=" filter is the result for the next day, exclusive.
 */
int ngx_cx_parse_ymd(const unsigned char *s, size_t len,
    uint64_t *day_start_ms);


#endif /* NGX_CX_RECORD_H */
