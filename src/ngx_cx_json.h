/*
 * ngx_cx_json — the only JSON the module reads and the escaping of what it
 * writes: a strict parser for the survey answer endpoint's request body, a
 * JSON string escaper for survey texts and tokens placed into HTML pages and
 * reports, and a UTF-8 validator.
 *
 * The intake body comes from any client on the internet, so the parser is a
 * validator first: it accepts exactly RFC 8259 JSON whose top level is an
 * object, checks the four known fields and ignores everything else.
 *
 *   {"token": "...", "event": "display"|"answer"|"comment"|"dismiss",
 *    "score": 9, "comment": "..."}
 *
 * Contract:
 *   - No allocation, no global state, no recursion deeper than
 *     NGX_CX_JSON_MAX_DEPTH; safe on any number of threads.
 *   - Input is never assumed to be NUL-terminated; nothing is read outside
 *     [body, body + len) and nothing is written outside
 *     [scratch, scratch + len).
 *   - Escaped output is pure printable ASCII that can be placed, unchanged,
 *     between the quotes of a JSON string and inside an HTML
 *     <script type="application/json"> element (it never contains < > & '
 *     or a raw line terminator, so neither "</script>" nor "<!--" can appear).
 */

#ifndef NGX_CX_JSON_H
#define NGX_CX_JSON_H

#include <stddef.h>


/*
 * Deepest nesting of objects and arrays, counting the top-level object as
 * level 1: `{"x":[[...]]}` with 31 brackets is the deepest accepted body.
 * Deeper documents are "malformed JSON"; the limit bounds the parser's stack.
 */
#define NGX_CX_JSON_MAX_DEPTH    32

/*
 * Largest |score| the parser represents. Anything beyond is reported as
 * "score must be an integer" rather than wrapped or clamped; the survey's
 * own scale (0..10, 1..5, ...) is checked by the caller.
 */
#define NGX_CX_INTAKE_SCORE_MAX  1000000


typedef enum {
    NGX_CX_EVENT_NONE = 0,
    NGX_CX_EVENT_DISPLAY,
    NGX_CX_EVENT_ANSWER,
    NGX_CX_EVENT_COMMENT,
    NGX_CX_EVENT_DISMISS
} ngx_cx_event_e;


/* The fields of an accepted intake body. */
typedef struct {
    const unsigned char  *token;         /* decoded, points into scratch */
    size_t                token_len;     /* > 0 on success */
    ngx_cx_event_e        event;         /* never NONE on success */
    int                   has_score;
    long                  score;         /* 0 unless has_score */
    const unsigned char  *comment;       /* decoded UTF-8, into scratch */
    size_t                comment_len;   /* bytes */
    size_t                comment_chars; /* Unicode code points */
    int                   has_comment;   /* the field was present (may be "") */
} ngx_cx_intake_t;


/*
 * Parse and validate an intake request body of `len` bytes at `body`.
 *
 * `scratch` must have room for at least `len` bytes (it may be NULL when len
 * is 0); decoded strings are written there, and out->token / out->comment
 * point into it, so scratch must outlive the use of *out. `body` and
 * `scratch` must not overlap. `comment_max_chars` is the longest comment
 * accepted, in code points.
 *
 * Returns 0 when the body is accepted: *out is filled and *err is NULL.
 * Returns -1 otherwise: *err is a static English sentence fit to send to the
 * client as is, and *out must not be used. Checks, in order of precedence:
 *
 *   "invalid UTF-8"     any byte sequence in the body that is not valid UTF-8
 *                       (overlong forms, UTF-16 surrogates, > U+10FFFF,
 *                       truncated sequences), or a \u escape that is a lone
 *                       surrogate, in any field, known or not.
 *   "malformed JSON"    anything RFC 8259 forbids: empty body, top level not
 *                       an object, trailing data after it (whitespace is
 *                       fine), raw control characters in strings, bad
 *                       escapes, leading zeros, trailing commas, a byte order
 *                       mark, nesting deeper than NGX_CX_JSON_MAX_DEPTH.
 *   then the first of these field errors in document order:
 *   "duplicate field"   a known field given twice (unknown ones may repeat);
 *   "token must be a string", "event must be a string",
 *   "comment must be a string"   wrong JSON type, null included;
 *   "unknown event"     event is not one of the four names (case matters);
 *   "score must be an integer"   score is not an integer literal (9.0, 1e1,
 *                       "9", true, null...) or |score| > NGX_CX_INTAKE_SCORE_MAX;
 *   "comment is too long"        over comment_max_chars code points;
 *   then the required fields:
 *   "missing token"     absent or "";
 *   "missing event";
 *   "score is required for an answer"   event "answer" without score;
 *   "comment is required"   event "comment" without a non-empty comment.
 *
 * Unknown fields are parsed (and must be valid) but otherwise ignored,
 * whatever their type. Escapes, \uXXXX and surrogate pairs included, are
 * decoded to UTF-8. "\u0000" is valid JSON and decodes to a NUL byte: the
 * decoded strings are counted, not NUL-terminated. "-0" is the score 0.
 * A score given with a non-answer event is reported in *out; whether it
 * means anything is the caller's decision.
 */
int ngx_cx_intake_parse(const unsigned char *body, size_t len,
    unsigned char *scratch, size_t comment_max_chars, ngx_cx_intake_t *out,
    const char **err);


/*
 * Exact number of bytes ngx_cx_json_escape() writes for the same input.
 * At most 6 * len (12 bytes per 4-byte character, 6 per other unit).
 */
size_t ngx_cx_json_escape_len(const unsigned char *src, size_t len);

/*
 * Write `len` bytes at `src` (nominally UTF-8, but any bytes are accepted)
 * as the inside of a JSON string, without the surrounding quotes, and return
 * the end of the output. `dst` needs ngx_cx_json_escape_len(src, len) bytes
 * and must not overlap `src`. Escapes:
 *
 *   "  \                        as \" \\
 *   \n \r \t \b \f              as themselves; other bytes < 0x20 as \u00XX
 *   < > & '                     as \u003c \u003e \u0026 \u0027
 *   DEL (0x7f)                  as \u007f
 *   every non-ASCII code point  as \uXXXX, above the BMP as a surrogate pair
 *                               (so U+2028 and U+2029 never appear raw)
 *   each byte that does not start a valid UTF-8 sequence   as \ufffd
 *
 * Hex digits are lowercase. A truncated sequence such as E2 82 followed by
 * 'A' gives two \ufffd and then 'A'. Other ASCII (including '/') is copied.
 */
unsigned char *ngx_cx_json_escape(unsigned char *dst, const unsigned char *src,
    size_t len);


/*
 * Return 1 if the `len` bytes at `p` are valid UTF-8 (RFC 3629: shortest
 * form only, no UTF-16 surrogates U+D800..U+DFFF, nothing above U+10FFFF),
 * else 0. When `chars` is not NULL and the input is valid, *chars is set to
 * the number of code points; it is left unspecified when the input is
 * invalid. `p` may be NULL when len is 0. NUL bytes are valid (U+0000).
 */
int ngx_cx_utf8_valid(const unsigned char *p, size_t len, size_t *chars);

/*
 * The length of the valid UTF-8 sequence at p (1 to 4) with its code point
 * in *cp, or 0 when the bytes there do not start one (the sequence would run
 * past avail bytes, is overlong, encodes a surrogate or goes above
 * U+10FFFF; *cp is then untouched). avail must be > 0.
 */
size_t ngx_cx_utf8_decode(const unsigned char *p, size_t avail,
    uint32_t *cp);


#endif /* NGX_CX_JSON_H */
