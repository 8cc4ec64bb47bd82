/*
 * ngx_cx_record -- the store's format: one codec for everything on disk.
 *
 * The module (ngx_http_cx_store.c), cxctl and the bench tools read and write
 * the store only through this file: the layout (database names), the keys,
 * the values, and ngx_cx_record_apply, the rules by which a display, answer,
 * comment or dismissal changes a stored response. The LMDB code around it
 * only moves bytes.
 *
 * Store layout (one LMDB environment, NGX_CX_STORE_MAXDBS named databases):
 *
 *   meta       "secret" -> the HMAC key (32 bytes) when no cx_secret_file
 *              "events_dropped" -> u64 (big-endian): journey events that
 *                   were counted but could not be stored (a counter)
 *   responses  key: the 12-byte prompt id,
 *                   u32 issued_at (unix seconds, big-endian) + 8 nonce
 *                   bytes, so responses sort by issue time
 *              value: one record, encoded as below
 *   events     key: u64 at_ms (big-endian) + u32 pid (big-endian)
 *                   + u32 sequence (big-endian), 16 bytes: events sort by
 *                   time, and two workers never write the same key
 *              value: u8 kind, u8 stage, 12 visitor, u8 name_len, name
 *                   (name_len <= NGX_CX_NAME_MAX): 15 to 79 bytes
 *
 * Both data databases are keyed by time first, so retention deletes from
 * the front (ngx_cx_response_key_ms, ngx_cx_journey_key_ms).
 *
 * One record is the value kept under the prompt id. It says which survey
 * was offered where, what happened to the prompt (displayed, answered,
 * commented, dismissed, each with its time) and the answer itself. This file
 * also holds the attributes blob format (hidden fields returned by Lua
 * hooks) and the date helpers the reports and exports need.
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
 * Extensions this version writes and reads (any other tag is skipped):
 *
 *   tag 1   previous score: u8, the visitor's answer to the same survey
 *           before this one (from the visitor's cookie at answer time),
 *           within the type's scale; written only when there is one
 *   tag 2   follow-up: the text of the follow-up question the widget asks
 *           after this answer (its band's, in the prompt's language), as
 *           the configuration said when the answer came; 1 byte or more,
 *           written only when the survey has a follow-up for the answer
 *   tag 3   attribute numbers: a varint in its shortest form, not 0, bit i
 *           set when the value of the i-th pair of attrs (from 0) was a
 *           number when the hook returned it (values are stored as text;
 *           pairs from the 64th on are text); written only when not 0
 *   tag 4   device class: u8, NGX_CX_DEVICE_DESKTOP or _MOBILE
 *           (ngx_cx_device.h), of the browser that sent the answer; written
 *           only when known
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

#include "ngx_cx_json.h"        /* ngx_cx_event_e */
#include "ngx_cx_token.h"       /* NGX_CX_PROMPT_ID_LEN, NGX_CX_NAME_MAX */


/* Store layout: see the top of this file. */
#define NGX_CX_STORE_MAXDBS     8       /* mdb_env_set_maxdbs() */
#define NGX_CX_DB_META          "meta"
#define NGX_CX_DB_RESPONSES     "responses"
#define NGX_CX_DB_EVENTS        "events"
#define NGX_CX_META_SECRET      "secret"
#define NGX_CX_META_DROPPED     "events_dropped"
#define NGX_CX_COUNTER_LEN      8
#define NGX_CX_SECRET_LEN       32

#define NGX_CX_RESPONSE_KEY_LEN NGX_CX_PROMPT_ID_LEN
#define NGX_CX_JOURNEY_KEY_LEN  16
#define NGX_CX_JOURNEY_UNKNOWN  2       /* first_arrival: see below */
#define NGX_CX_JOURNEY_VAL_MIN  (3 + NGX_CX_VISITOR_ID_LEN)
#define NGX_CX_JOURNEY_VAL_MAX  (NGX_CX_JOURNEY_VAL_MIN + NGX_CX_NAME_MAX)


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

/* Journey stages: 0 none, 1 awareness .. 6 advocacy (README: cx_touchpoint). */
#define NGX_CX_STAGE_MAX        6
#define NGX_CX_STAGE_PURCHASE   3       /* awareness 1, consideration 2 */

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

    unsigned char   has_previous;       /* extension 1 */
    int             previous_score;     /* valid when has_previous */
    ngx_cx_bytes_t  followup;           /* extension 2, empty: none */
    uint64_t        attr_numbers;       /* extension 3, 0: none */
    unsigned char   device;             /* extension 4, 0: unknown */
} ngx_cx_record_t;


/*
 * Returns 1 when r can be encoded and will decode back to the same values,
 * 0 otherwise: type is one of NGX_CX_TYPE_*, stage is 0..NGX_CX_STAGE_MAX,
 * flags has no bits outside NGX_CX_REC_ALL_FLAGS, score is within the type's
 * scale when ANSWERED (it is ignored, and stored as 0, otherwise), attrs is a
 * well-formed blob, and no byte field has len > 0 with data NULL.
 * Call it before ngx_cx_record_encode on anything built from input.
 * (attr_numbers may have bits past the pairs of attrs: they mean nothing.)
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
 * Responses database keys.
 *
 * ngx_cx_response_key writes the key of the prompt issued at issued_s with
 * the given nonce (the module takes both from the prompt token, see
 * ngx_cx_token_prompt_id; the bench tools make them up).
 * ngx_cx_response_key_ms reads the issue time back, in unix ms (a multiple
 * of 1000): 0, or -1 when len is not NGX_CX_RESPONSE_KEY_LEN (not a
 * response; *ms is then untouched).
 */
void ngx_cx_response_key(unsigned char key[NGX_CX_RESPONSE_KEY_LEN],
    uint32_t issued_s, const unsigned char nonce[8]);
int ngx_cx_response_key_ms(const unsigned char *key, size_t len,
    uint64_t *ms);

/*
 * One entry of the responses database: 0 with r decoded as by
 * ngx_cx_record_decode (byte fields pointing into val), or -1 when the key
 * is not a response key or the value does not decode. Readers count the
 * -1s as unreadable and go on.
 */
int ngx_cx_response_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_record_t *r);


/* One intake event for a response, as the module received it. */
typedef struct {
    ngx_cx_event_e  event;
    uint64_t        at_ms;              /* when it was received */
    int             score;              /* ANSWER */
    ngx_cx_bytes_t  comment;            /* COMMENT */
    unsigned char   has_previous;       /* ANSWER: the visitor answered */
    int             previous_score;     /* this survey before, with this */
    ngx_cx_bytes_t  followup;           /* ANSWER: the follow-up it asks */
    unsigned char   device;             /* ANSWER: the browser's class */
} ngx_cx_change_t;

/* What ngx_cx_record_apply and ngx_cx_record_update did. */
typedef enum {
    NGX_CX_APPLY_CHANGED = 0,   /* the record changed: store it */
    NGX_CX_APPLY_SAME,          /* nothing to store, yet a success (a
                                   repeated display) */
    NGX_CX_APPLY_CONFLICT,      /* refused by the state; *error says why */
    NGX_CX_APPLY_UNKNOWN,       /* not an event (NONE or out of range) */
    NGX_CX_APPLY_CORRUPT,       /* update: the stored value does not decode */
    NGX_CX_APPLY_TOO_LARGE      /* update: the result does not fit in dst */
} ngx_cx_apply_e;

/*
 * Applies the change ch to the response r (a decoded record, or for a
 * prompt never seen before a fresh one with flags 0). The rules:
 *
 *   DISPLAY  sets DISPLAYED and displayed_at; a repeated display is SAME
 *            (the first time is kept). Allowed in any state.
 *   ANSWER   sets ANSWERED, answered_at, score, the previous score and
 *            the follow-up; a CONFLICT when already answered ("already
 *            answered") or dismissed ("already dismissed"). A display is
 *            not required.
 *   COMMENT  sets COMMENTED, commented_at and comment; a CONFLICT without
 *            an answer ("no answer to comment on") or with a comment
 *            already ("already commented").
 *   DISMISS  sets DISMISSED and dismissed_at; a CONFLICT when answered or
 *            dismissed already, with the ANSWER messages.
 *
 * Only the event's own flag, time and value change; on SAME, CONFLICT and
 * UNKNOWN r is untouched. The caller checks the score against the survey
 * type first (ngx_cx_record_valid refuses an out-of-range score); the
 * comment and the follow-up are borrowed, like every byte field of r. *error is set on
 * CONFLICT and UNKNOWN ("unknown event") and left alone otherwise.
 */
ngx_cx_apply_e ngx_cx_record_apply(ngx_cx_record_t *r,
    const ngx_cx_change_t *ch, const char **error);

/*
 * The read-modify-write of one stored response, on bytes. old is the
 * stored value, or NULL when there is none (then fresh, with its flags
 * taken as 0, is the record to start from). The change is applied as by
 * ngx_cx_record_apply and, on CHANGED, the new value is encoded into dst
 * (dst_size bytes of room; the caller sizes it with ngx_cx_record_size of
 * fresh with the comment) and *len set. dst must not overlap old: old may
 * be a database page the write reuses. Besides apply's results: CORRUPT
 * ("stored record is unreadable") and TOO_LARGE ("record too large"), both
 * with *error set and nothing written.
 */
ngx_cx_apply_e ngx_cx_record_update(const unsigned char *old, size_t old_len,
    const ngx_cx_record_t *fresh, const ngx_cx_change_t *ch,
    unsigned char *dst, size_t dst_size, size_t *len, const char **error);


/*
 * Journey events (the events database): what a visitor saw, kept apart
 * from the responses. kind and stage are the module's (ngx_http_cx.h);
 * the codec stores them as they are.
 */
typedef struct {
    uint64_t        at_ms;
    unsigned char   visitor[NGX_CX_VISITOR_ID_LEN];
    unsigned char   kind;
    unsigned char   stage;
    unsigned char   name_len;           /* <= NGX_CX_NAME_MAX */
    unsigned char   name[NGX_CX_NAME_MAX];

    /*
     * Not stored: what the visitor's cookie said at a visit, for the
     * rollups (ngx_cx_rollup.h).  The codec neither writes nor reads them.
     */
    unsigned char   from_len;           /* the touchpoint before, or 0 */
    unsigned char   first_arrival;      /* first visit of this touchpoint;
                                           NGX_CX_JOURNEY_UNKNOWN: not known
                                           (nor are the others here: an
                                           event read back from the store) */
    uint32_t        from_seconds;
    int64_t         purchase_seconds;   /* -1: not a first purchase visit */
    unsigned char   from[NGX_CX_NAME_MAX];
} ngx_cx_journey_t;

/*
 * Writes the key of an event recorded at at_ms by process pid, the seq-th
 * of that process (a counter that only has to differ between the events
 * one process writes in the same millisecond).
 */
void ngx_cx_journey_key(unsigned char key[NGX_CX_JOURNEY_KEY_LEN],
    uint64_t at_ms, uint32_t pid, uint32_t seq);

/* Reads at_ms from a key: 0, or -1 when len is not NGX_CX_JOURNEY_KEY_LEN. */
int ngx_cx_journey_key_ms(const unsigned char *key, size_t len,
    uint64_t *at_ms);

/*
 * Writes the value of ev to dst and returns its length
 * (NGX_CX_JOURNEY_VAL_MIN + name_len), or 0, writing nothing, when
 * ev->name_len is over NGX_CX_NAME_MAX.
 */
size_t ngx_cx_journey_encode(unsigned char dst[NGX_CX_JOURNEY_VAL_MAX],
    const ngx_cx_journey_t *ev);

/*
 * Parses an event's key and value into ev (name copied). Returns 0, or -1
 * when the key is not 16 bytes or the value is not exactly one well-formed
 * value (short, name_len over NGX_CX_NAME_MAX, or bytes missing or left
 * over); ev is then unspecified.
 */
int ngx_cx_journey_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_journey_t *ev);

/*
 * The visitor of an event value, for erasure: a pointer to its
 * NGX_CX_VISITOR_ID_LEN bytes inside val, or NULL when val is too short to
 * hold one. Only the visitor's position is checked, so an erasure also
 * finds an event whose name is damaged.
 */
const unsigned char *ngx_cx_journey_visitor(const unsigned char *val,
    size_t vlen);


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
 * Attributes as a prompt token carries them (ngx_cx_token_t.attrs is the
 * caller's to encode), with which values were numbers (the record's
 * attr_numbers): the blob alone when none was, else a 0 byte (a blob never
 * starts with one: a key is 1 byte or more), the numbers as u16
 * little-endian (bit i: the i-th pair, so at most 16 pairs are typed),
 * then the blob. Tokens issued before numbers were kept are plain blobs.
 *
 * ngx_cx_attrs_pack writes blob and numbers at dst (dstsize bytes of room)
 * and returns the length: blob.len, or NGX_CX_ATTRS_PACK_EXTRA more when
 * numbers is not 0; 0 (nothing written) when that does not fit.
 * ngx_cx_attrs_unpack reads them back, *blob pointing into src: 0, or -1
 * when src starts with 0 and is shorter than the header.
 */
#define NGX_CX_ATTRS_PACK_EXTRA 3

size_t ngx_cx_attrs_pack(unsigned char *dst, size_t dstsize,
    ngx_cx_bytes_t blob, unsigned numbers);
int ngx_cx_attrs_unpack(const unsigned char *src, size_t len,
    ngx_cx_bytes_t *blob, uint64_t *numbers);

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


/*
 * The time a key of key_len bytes starts with: `bytes` big-endian, in units
 * of unit_ms (1000 for seconds), as unix ms; 0, or -1 when len is not
 * key_len (*ms untouched).  The *_key_ms functions of each database.
 */
int ngx_cx_key_time(const unsigned char *key, size_t len, size_t key_len,
    int bytes, uint64_t unit_ms, uint64_t *ms);

/* n bytes of v, big-endian (the keys' byte order), and back; n <= 8. */
void ngx_cx_put_be(unsigned char *p, uint64_t v, int n);
uint64_t ngx_cx_get_be(const unsigned char *p, int n);


/*
 * Counters in the meta database (NGX_CX_META_DROPPED): a u64, big-endian.
 * ngx_cx_counter_decode() returns 0, or -1 when len is not
 * NGX_CX_COUNTER_LEN; an absent counter is 0 to its callers.
 */
void ngx_cx_counter_encode(unsigned char dst[NGX_CX_COUNTER_LEN],
    uint64_t value);
int ngx_cx_counter_decode(const unsigned char *src, size_t len,
    uint64_t *value);


#endif /* NGX_CX_RECORD_H */
