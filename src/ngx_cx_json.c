/*
 * ngx_cx_json — intake body parser, JSON string escaper, UTF-8 validator.
 * The contract is in ngx_cx_json.h.
 */

#include <stdint.h>
#include <string.h>

#include "ngx_cx_json.h"


#define NGX_CX_ERR_MALFORMED  "malformed JSON"
#define NGX_CX_ERR_UTF8       "invalid UTF-8"


typedef struct {
    const unsigned char  *pos;
    const unsigned char  *end;
    unsigned char        *scratch;
    size_t                used;       /* scratch bytes kept for *out */
    const char           *fatal;      /* grammar or encoding: stops parsing */
    const char           *field_err;  /* first field error: parsing goes on */
} ngx_cx_json_parser_t;


typedef enum {
    NGX_CX_FIELD_OTHER = 0,
    NGX_CX_FIELD_TOKEN,
    NGX_CX_FIELD_EVENT,
    NGX_CX_FIELD_SCORE,
    NGX_CX_FIELD_COMMENT
} ngx_cx_field_e;


static size_t ngx_cx_json_escape_unit(const unsigned char *p, size_t avail,
    unsigned char *out, size_t *used);
static void ngx_cx_json_skip_ws(ngx_cx_json_parser_t *ps);
static int ngx_cx_json_fail(ngx_cx_json_parser_t *ps, const char *err);
static void ngx_cx_json_field_error(ngx_cx_json_parser_t *ps,
    const char *err);
static int ngx_cx_json_hex4(const unsigned char *p,
    const unsigned char *end, uint32_t *v);
static int ngx_cx_json_string(ngx_cx_json_parser_t *ps, size_t *len,
    size_t *chars);
static int ngx_cx_json_number(ngx_cx_json_parser_t *ps, int *integer,
    long *value);
static int ngx_cx_json_literal(ngx_cx_json_parser_t *ps, const char *word,
    size_t n);
static int ngx_cx_json_value(ngx_cx_json_parser_t *ps, unsigned depth);
static int ngx_cx_json_container(ngx_cx_json_parser_t *ps, unsigned depth);
static ngx_cx_field_e ngx_cx_intake_field(const unsigned char *name,
    size_t len);
static int ngx_cx_intake_string(ngx_cx_json_parser_t *ps, int first,
    const char *type_err, size_t *len, size_t *chars);
static int ngx_cx_intake_object(ngx_cx_json_parser_t *ps,
    size_t comment_max_chars, ngx_cx_intake_t *out);
static int ngx_cx_intake_value(ngx_cx_json_parser_t *ps, ngx_cx_field_e f,
    unsigned *seen, size_t comment_max_chars, ngx_cx_intake_t *out);


static const unsigned char  ngx_cx_hex[] = "0123456789abcdef";


size_t
ngx_cx_utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
    unsigned char  c, lo, hi;
    size_t         n, i;
    uint32_t       v;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    /* the second byte's range is what rules out overlongs, surrogates
     * and > U+10FFFF (RFC 3629, section 4) */
    lo = 0x80;
    hi = 0xbf;

    if (c < 0xc2) {
        return 0;

    } else if (c < 0xe0) {
        n = 2;
        v = c & 0x1f;

    } else if (c < 0xf0) {
        n = 3;
        v = c & 0x0f;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c < 0xf5) {
        n = 4;
        v = c & 0x07;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if (avail < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }

    *cp = v;
    return n;
}


int
ngx_cx_utf8_valid(const unsigned char *p, size_t len, size_t *chars)
{
    size_t    i, n, count;
    uint32_t  cp;

    count = 0;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;

        } else {
            n = ngx_cx_utf8_decode(p + i, len - i, &cp);
            if (n == 0) {
                return 0;
            }
        }

        count++;
    }

    if (chars != NULL) {
        *chars = count;
    }

    return 1;
}


/*
 * The escape of the unit at p: writes up to 12 bytes to out, returns how
 * many, and sets *used to the input bytes consumed. Both escape functions go
 * through here so that escape_len cannot disagree with escape.
 */
static size_t
ngx_cx_json_escape_unit(const unsigned char *p, size_t avail,
    unsigned char *out, size_t *used)
{
    unsigned char  c;
    uint32_t       cp, hi, lo;
    size_t         n;

    c = p[0];
    *used = 1;

    if (c >= 0x20 && c < 0x7f) {
        switch (c) {
        case '"':
        case '\\':
            out[0] = '\\';
            out[1] = c;
            return 2;

        /* HTML-significant: keeps </script>, <!-- and entities out of the
         * script element, and ' out of single-quoted attributes */
        case '<':
        case '>':
        case '&':
        case '\'':
            break;

        default:
            out[0] = c;
            return 1;
        }

        cp = c;

    } else if (c < 0x80) {
        switch (c) {
        case '\n': out[0] = '\\'; out[1] = 'n'; return 2;
        case '\r': out[0] = '\\'; out[1] = 'r'; return 2;
        case '\t': out[0] = '\\'; out[1] = 't'; return 2;
        case '\b': out[0] = '\\'; out[1] = 'b'; return 2;
        case '\f': out[0] = '\\'; out[1] = 'f'; return 2;
        }

        cp = c;

    } else {
        n = ngx_cx_utf8_decode(p, avail, &cp);
        if (n == 0) {
            cp = 0xfffd;
        } else {
            *used = n;
        }
    }

    if (cp >= 0x10000) {
        cp -= 0x10000;
        hi = 0xd800 | (cp >> 10);
        lo = 0xdc00 | (cp & 0x3ff);

        out[0] = '\\';
        out[1] = 'u';
        out[2] = ngx_cx_hex[(hi >> 12) & 0xf];
        out[3] = ngx_cx_hex[(hi >> 8) & 0xf];
        out[4] = ngx_cx_hex[(hi >> 4) & 0xf];
        out[5] = ngx_cx_hex[hi & 0xf];
        out[6] = '\\';
        out[7] = 'u';
        out[8] = ngx_cx_hex[(lo >> 12) & 0xf];
        out[9] = ngx_cx_hex[(lo >> 8) & 0xf];
        out[10] = ngx_cx_hex[(lo >> 4) & 0xf];
        out[11] = ngx_cx_hex[lo & 0xf];
        return 12;
    }

    out[0] = '\\';
    out[1] = 'u';
    out[2] = ngx_cx_hex[(cp >> 12) & 0xf];
    out[3] = ngx_cx_hex[(cp >> 8) & 0xf];
    out[4] = ngx_cx_hex[(cp >> 4) & 0xf];
    out[5] = ngx_cx_hex[cp & 0xf];
    return 6;
}


size_t
ngx_cx_json_escape_len(const unsigned char *src, size_t len)
{
    unsigned char  buf[12];
    size_t         i, used, total;

    total = 0;

    for (i = 0; i < len; i += used) {
        total += ngx_cx_json_escape_unit(src + i, len - i, buf, &used);
    }

    return total;
}


unsigned char *
ngx_cx_json_escape(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t  i, used;

    for (i = 0; i < len; i += used) {
        dst += ngx_cx_json_escape_unit(src + i, len - i, dst, &used);
    }

    return dst;
}


static void
ngx_cx_json_skip_ws(ngx_cx_json_parser_t *ps)
{
    while (ps->pos < ps->end
           && (*ps->pos == ' ' || *ps->pos == '\t'
               || *ps->pos == '\n' || *ps->pos == '\r'))
    {
        ps->pos++;
    }
}


static int
ngx_cx_json_fail(ngx_cx_json_parser_t *ps, const char *err)
{
    ps->fatal = err;
    return -1;
}


static void
ngx_cx_json_field_error(ngx_cx_json_parser_t *ps, const char *err)
{
    if (ps->field_err == NULL) {
        ps->field_err = err;
    }
}


static int
ngx_cx_json_hex4(const unsigned char *p, const unsigned char *end,
    uint32_t *v)
{
    unsigned char  c;
    int            i;

    if (end - p < 4) {
        return -1;
    }

    *v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;
        } else {
            return -1;
        }

        *v = (*v << 4) | c;
    }

    return 0;
}


/*
 * Decode the string whose opening quote is at ps->pos into
 * scratch + ps->used, without keeping it (the caller advances ps->used to
 * keep it). Sets *len (bytes) and *chars (code points).
 *
 * The decoded form is never longer than the JSON form, and everything kept
 * so far was decoded from bytes before ps->pos, so the output stays within
 * the len bytes of scratch.
 *
 * Raw bytes are copied without decoding: the whole body was checked to be
 * valid UTF-8 before parsing, and since '"' and '\' are ASCII a sequence can
 * never be cut by them.
 */
static int
ngx_cx_json_string(ngx_cx_json_parser_t *ps, size_t *len, size_t *chars)
{
    const unsigned char  *p, *end;
    unsigned char        *d, *start, c;
    uint32_t              cp, lo;
    size_t                n;

    p = ps->pos + 1;
    end = ps->end;
    start = ps->scratch + ps->used;
    d = start;
    n = 0;

    for ( ;; ) {
        if (p == end) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        c = *p++;

        if (c == '"') {
            break;
        }

        if (c < 0x20) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        if (c != '\\') {
            *d++ = c;
            if ((c & 0xc0) != 0x80) {
                n++;
            }
            continue;
        }

        if (p == end) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        n++;
        c = *p++;

        switch (c) {
        case '"':
        case '\\':
        case '/':
            *d++ = c;
            continue;
        case 'b': *d++ = '\b'; continue;
        case 'f': *d++ = '\f'; continue;
        case 'n': *d++ = '\n'; continue;
        case 'r': *d++ = '\r'; continue;
        case 't': *d++ = '\t'; continue;
        case 'u': break;
        default:
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        if (ngx_cx_json_hex4(p, end, &cp) != 0) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        p += 4;

        if (cp >= 0xdc00 && cp <= 0xdfff) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_UTF8);
        }

        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* a body cut right after the high half is malformed, not a
             * lone surrogate: only complete input can show the latter */
            if (p == end) {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
            }

            if (*p != '\\') {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_UTF8);
            }

            if (end - p < 2) {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
            }

            if (p[1] != 'u') {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_UTF8);
            }

            if (ngx_cx_json_hex4(p + 2, end, &lo) != 0) {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
            }

            if (lo < 0xdc00 || lo > 0xdfff) {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_UTF8);
            }

            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        if (cp < 0x80) {
            *d++ = (unsigned char) cp;

        } else if (cp < 0x800) {
            *d++ = (unsigned char) (0xc0 | (cp >> 6));
            *d++ = (unsigned char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            *d++ = (unsigned char) (0xe0 | (cp >> 12));
            *d++ = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            *d++ = (unsigned char) (0x80 | (cp & 0x3f));

        } else {
            *d++ = (unsigned char) (0xf0 | (cp >> 18));
            *d++ = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
            *d++ = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            *d++ = (unsigned char) (0x80 | (cp & 0x3f));
        }
    }

    ps->pos = p;
    *len = (size_t) (d - start);
    *chars = n;

    return 0;
}


/*
 * RFC 8259 number. *integer tells whether it had neither fraction nor
 * exponent; *value is its integer part, with the magnitude capped just
 * above NGX_CX_INTAKE_SCORE_MAX so that long digit runs cannot overflow.
 */
static int
ngx_cx_json_number(ngx_cx_json_parser_t *ps, int *integer, long *value)
{
    const unsigned char  *p, *end;
    long                  v;
    int                   neg;

    p = ps->pos;
    end = ps->end;
    v = 0;
    neg = 0;
    *integer = 1;

    if (*p == '-') {
        neg = 1;
        p++;
    }

    if (p == end) {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    if (*p == '0') {
        /* a digit after this 0 is caught by the caller as a missing
         * separator: leading zeros are malformed, not merely non-integers */
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            if (v <= NGX_CX_INTAKE_SCORE_MAX) {
                v = v * 10 + (*p - '0');
            }
            p++;
        }

    } else {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    if (p < end && *p == '.') {
        *integer = 0;
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        *integer = 0;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    ps->pos = p;
    *value = neg ? -v : v;

    return 0;
}


static int
ngx_cx_json_literal(ngx_cx_json_parser_t *ps, const char *word, size_t n)
{
    if ((size_t) (ps->end - ps->pos) < n || memcmp(ps->pos, word, n) != 0) {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    ps->pos += n;

    return 0;
}


/*
 * Validate and skip any value. depth is the nesting level of the container
 * the value sits in. ps->pos is at the value's first byte or at the end.
 */
static int
ngx_cx_json_value(ngx_cx_json_parser_t *ps, unsigned depth)
{
    size_t  len, chars;
    long    v;
    int     integer;

    if (ps->pos == ps->end) {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    switch (*ps->pos) {
    case '{':
    case '[':
        return ngx_cx_json_container(ps, depth + 1);
    case '"':
        return ngx_cx_json_string(ps, &len, &chars);
    case 't':
        return ngx_cx_json_literal(ps, "true", 4);
    case 'f':
        return ngx_cx_json_literal(ps, "false", 5);
    case 'n':
        return ngx_cx_json_literal(ps, "null", 4);
    default:
        return ngx_cx_json_number(ps, &integer, &v);
    }
}


/* An object or array nested inside the top-level object, at level depth. */
static int
ngx_cx_json_container(ngx_cx_json_parser_t *ps, unsigned depth)
{
    unsigned char  close;
    size_t         len, chars;

    if (depth > NGX_CX_JSON_MAX_DEPTH) {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    close = (*ps->pos == '{') ? '}' : ']';
    ps->pos++;
    ngx_cx_json_skip_ws(ps);

    if (ps->pos < ps->end && *ps->pos == close) {
        ps->pos++;
        return 0;
    }

    for ( ;; ) {
        if (close == '}') {
            if (ps->pos == ps->end || *ps->pos != '"') {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
            }

            if (ngx_cx_json_string(ps, &len, &chars) != 0) {
                return -1;
            }

            ngx_cx_json_skip_ws(ps);

            if (ps->pos == ps->end || *ps->pos != ':') {
                return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
            }

            ps->pos++;
            ngx_cx_json_skip_ws(ps);
        }

        if (ngx_cx_json_value(ps, depth) != 0) {
            return -1;
        }

        ngx_cx_json_skip_ws(ps);

        if (ps->pos == ps->end) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        if (*ps->pos == close) {
            ps->pos++;
            return 0;
        }

        if (*ps->pos != ',') {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        ps->pos++;
        ngx_cx_json_skip_ws(ps);
    }
}


static ngx_cx_field_e
ngx_cx_intake_field(const unsigned char *name, size_t len)
{
    if (len == 5 && memcmp(name, "token", 5) == 0) {
        return NGX_CX_FIELD_TOKEN;
    }

    if (len == 5 && memcmp(name, "event", 5) == 0) {
        return NGX_CX_FIELD_EVENT;
    }

    if (len == 5 && memcmp(name, "score", 5) == 0) {
        return NGX_CX_FIELD_SCORE;
    }

    if (len == 7 && memcmp(name, "comment", 7) == 0) {
        return NGX_CX_FIELD_COMMENT;
    }

    return NGX_CX_FIELD_OTHER;
}


/*
 * A known string field's value. Returns 1 with the decoded string at
 * scratch + ps->used (not yet kept) when it is the first occurrence and a
 * string; 0 when the value was skipped and a field error recorded; -1 on a
 * fatal error.
 */
static int
ngx_cx_intake_string(ngx_cx_json_parser_t *ps, int first,
    const char *type_err, size_t *len, size_t *chars)
{
    if (!first) {
        ngx_cx_json_field_error(ps, "duplicate field");
        return ngx_cx_json_value(ps, 1);
    }

    if (*ps->pos != '"') {
        ngx_cx_json_field_error(ps, type_err);
        return ngx_cx_json_value(ps, 1);
    }

    return ngx_cx_json_string(ps, len, chars) == 0 ? 1 : -1;
}


/* The value of field f of the top-level object; ps->pos is before it. */
static int
ngx_cx_intake_value(ngx_cx_json_parser_t *ps, ngx_cx_field_e f,
    unsigned *seen, size_t comment_max_chars, ngx_cx_intake_t *out)
{
    static const struct {
        const char      *name;
        size_t           len;
        ngx_cx_event_e   event;
    } events[] = {
        { "display", 7, NGX_CX_EVENT_DISPLAY },
        { "answer",  6, NGX_CX_EVENT_ANSWER },
        { "comment", 7, NGX_CX_EVENT_COMMENT },
        { "dismiss", 7, NGX_CX_EVENT_DISMISS }
    };

    const unsigned char  *s;
    size_t                len, chars, i;
    long                  v;
    int                   rc, integer, first;

    if (ps->pos == ps->end) {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    first = !(*seen & (1u << f));
    *seen |= 1u << f;

    switch (f) {

    case NGX_CX_FIELD_SCORE:
        if (!first) {
            ngx_cx_json_field_error(ps, "duplicate field");
            return ngx_cx_json_value(ps, 1);
        }

        if (*ps->pos != '-' && (*ps->pos < '0' || *ps->pos > '9')) {
            ngx_cx_json_field_error(ps, "score must be an integer");
            return ngx_cx_json_value(ps, 1);
        }

        if (ngx_cx_json_number(ps, &integer, &v) != 0) {
            return -1;
        }

        if (!integer || v > NGX_CX_INTAKE_SCORE_MAX
            || v < -NGX_CX_INTAKE_SCORE_MAX)
        {
            ngx_cx_json_field_error(ps, "score must be an integer");
            return 0;
        }

        out->has_score = 1;
        out->score = v;
        return 0;

    case NGX_CX_FIELD_TOKEN:
        rc = ngx_cx_intake_string(ps, first, "token must be a string",
                                  &len, &chars);
        if (rc == 1) {
            out->token = ps->scratch + ps->used;
            out->token_len = len;
            ps->used += len;
        }
        return rc < 0 ? -1 : 0;

    case NGX_CX_FIELD_EVENT:
        rc = ngx_cx_intake_string(ps, first, "event must be a string",
                                  &len, &chars);
        if (rc != 1) {
            return rc;
        }

        s = ps->scratch + ps->used;

        for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
            if (len == events[i].len && memcmp(s, events[i].name, len) == 0) {
                out->event = events[i].event;
                return 0;
            }
        }

        ngx_cx_json_field_error(ps, "unknown event");
        return 0;

    case NGX_CX_FIELD_COMMENT:
        rc = ngx_cx_intake_string(ps, first, "comment must be a string",
                                  &len, &chars);
        if (rc != 1) {
            return rc;
        }

        if (chars > comment_max_chars) {
            ngx_cx_json_field_error(ps, "comment is too long");
            return 0;
        }

        out->comment = ps->scratch + ps->used;
        out->comment_len = len;
        out->comment_chars = chars;
        out->has_comment = 1;
        ps->used += len;
        return 0;

    case NGX_CX_FIELD_OTHER:
        break;
    }

    /* unknown fields may repeat and hold anything, but must be valid */
    return ngx_cx_json_value(ps, 1);
}


/* The top-level object: level 1 of NGX_CX_JSON_MAX_DEPTH. */
static int
ngx_cx_intake_object(ngx_cx_json_parser_t *ps, size_t comment_max_chars,
    ngx_cx_intake_t *out)
{
    ngx_cx_field_e  f;
    unsigned        seen;
    size_t          len, chars;

    seen = 0;

    ngx_cx_json_skip_ws(ps);

    if (ps->pos == ps->end || *ps->pos != '{') {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    ps->pos++;
    ngx_cx_json_skip_ws(ps);

    if (ps->pos < ps->end && *ps->pos == '}') {
        ps->pos++;
        goto done;
    }

    for ( ;; ) {
        if (ps->pos == ps->end || *ps->pos != '"') {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        /* names are compared decoded: "\u0074oken" is "token" (RFC 8259
         * compares names by code points, not by their escaping) */
        if (ngx_cx_json_string(ps, &len, &chars) != 0) {
            return -1;
        }

        f = ngx_cx_intake_field(ps->scratch + ps->used, len);

        ngx_cx_json_skip_ws(ps);

        if (ps->pos == ps->end || *ps->pos != ':') {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        ps->pos++;
        ngx_cx_json_skip_ws(ps);

        if (ngx_cx_intake_value(ps, f, &seen, comment_max_chars, out) != 0) {
            return -1;
        }

        ngx_cx_json_skip_ws(ps);

        if (ps->pos == ps->end) {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        if (*ps->pos == '}') {
            ps->pos++;
            break;
        }

        if (*ps->pos != ',') {
            return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
        }

        ps->pos++;
        ngx_cx_json_skip_ws(ps);
    }

done:

    ngx_cx_json_skip_ws(ps);

    if (ps->pos != ps->end) {
        return ngx_cx_json_fail(ps, NGX_CX_ERR_MALFORMED);
    }

    return 0;
}


int
ngx_cx_intake_parse(const unsigned char *body, size_t len,
    unsigned char *scratch, size_t comment_max_chars, ngx_cx_intake_t *out,
    const char **err)
{
    ngx_cx_json_parser_t  ps;

    memset(out, 0, sizeof(ngx_cx_intake_t));
    *err = NULL;

    if (len == 0) {
        *err = NGX_CX_ERR_MALFORMED;
        return -1;
    }

    /* one pass up front gives every encoding error the same answer wherever
     * it is, and lets the string decoder copy raw bytes unchecked */
    if (!ngx_cx_utf8_valid(body, len, NULL)) {
        *err = NGX_CX_ERR_UTF8;
        return -1;
    }

    ps.pos = body;
    ps.end = body + len;
    ps.scratch = scratch;
    ps.used = 0;
    ps.fatal = NULL;
    ps.field_err = NULL;

    if (ngx_cx_intake_object(&ps, comment_max_chars, out) != 0) {
        *err = ps.fatal;
        return -1;
    }

    if (ps.field_err != NULL) {
        *err = ps.field_err;

    } else if (out->token_len == 0) {
        *err = "missing token";

    } else if (out->event == NGX_CX_EVENT_NONE) {
        *err = "missing event";

    } else if (out->event == NGX_CX_EVENT_ANSWER && !out->has_score) {
        *err = "score is required for an answer";

    } else if (out->event == NGX_CX_EVENT_COMMENT && out->comment_len == 0) {
        *err = "comment is required";

    } else {
        return 0;
    }

    return -1;
}
