/*
 * ngx_cx_scan — see ngx_cx_scan.h for the contract.
 *
 * The scanner is the WHATWG tokenizer's state machine with one label per
 * state (names follow the specification, so each can be checked against
 * it). States jump to each other with goto, so the hot path — data, '<', a
 * tag name, a few attributes, '>' — runs on direct branches; the state is
 * stored only when a chunk runs out (SUSPEND), and the next call jumps back
 * to its label.
 *
 * Shortcuts, each giving the same result as the specification:
 *   - States that differ from a neighbour only in the parse errors they
 *     report are merged ("after attribute value (quoted)" into "before
 *     attribute name"; "comment less-than sign" and friends into
 *     "comment").
 *   - Where the specification keeps appending letters to a temporary buffer
 *     after an end tag name has already failed to match, we return to the
 *     enclosing text state at once: no text state reacts to letters.
 *   - DOCTYPE and CDATA are read as bogus comments: every DOCTYPE state ends
 *     at '>', and CDATA sections exist only in foreign content.
 *   - Tag names are not stored: each letter is folded into a 5-bit code
 *     (case-insensitively), so names of up to 12 letters pack exactly into
 *     a 64-bit key; any other byte folds to 0, a code no letter has.
 *
 * The attributes of a <meta> start tag (outside templates, until the first
 * Content-Security-Policy pragma is seen) are read by a copy of the
 * attribute states, prefixed meta_, that also matches "http-equiv" and its
 * value; every other tag keeps the plain states, which never look at
 * attribute names or values. Those states hold the progress of that match
 * in `key`, which no longer holds a name there.
 */

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ngx_cx_scan.h"


enum {
    /* data and tags */
    CX_DATA = 0,
    CX_TAG_OPEN,
    CX_END_TAG_OPEN,
    CX_START_NAME,
    CX_END_NAME,
    CX_BEFORE_ATTR_NAME,
    CX_ATTR_NAME,
    CX_AFTER_ATTR_NAME,
    CX_BEFORE_ATTR_VALUE,
    CX_ATTR_VALUE_DQ,
    CX_ATTR_VALUE_SQ,
    CX_ATTR_VALUE_UNQ,
    CX_SELF_CLOSING,

    /* comments; "markup declaration open" is split in two for "--" */
    CX_MDO,
    CX_MDO_DASH,
    CX_COMMENT_START,
    CX_COMMENT_START_DASH,
    CX_COMMENT,
    CX_COMMENT_END_DASH,
    CX_COMMENT_END,
    CX_COMMENT_END_BANG,
    CX_BOGUS,

    /* RAWTEXT and RCDATA (character references do not matter here) */
    CX_RAW,
    CX_RAW_LT,
    CX_RAW_END,

    /* script data with its escape states */
    CX_SCRIPT,
    CX_SCRIPT_LT,
    CX_SCRIPT_END,
    CX_ESC_START,
    CX_ESC_START_DASH,
    CX_ESC,
    CX_ESC_DASH,
    CX_ESC_DASH_DASH,
    CX_ESC_LT,
    CX_ESC_END,
    CX_DESC_START,
    CX_DESC,
    CX_DESC_DASH,
    CX_DESC_DASH_DASH,
    CX_DESC_LT,
    CX_DESC_END,

    /* the attribute states again, for a <meta> start tag */
    CX_META_BEFORE_ATTR_NAME,
    CX_META_ATTR_NAME,
    CX_META_AFTER_ATTR_NAME,
    CX_META_BEFORE_ATTR_VALUE,
    CX_META_VALUE_DQ,
    CX_META_VALUE_SQ,
    CX_META_VALUE_UNQ,
    CX_META_SELF_CLOSING,

    CX_PLAINTEXT,
    CX_FOUND
};


/*
 * Byte classes. The low 5 bits are a letter's code (1..26, the same for
 * both cases, 0 for every other byte); the flags above them are what the
 * tag states stop at.
 */
#define CX_C_LETTER  0x001f
#define CX_C_WS      0x0020    /* TAB LF FF CR SPACE */
#define CX_C_SLASH   0x0040
#define CX_C_GT      0x0080
#define CX_C_EQ      0x0100
#define CX_C_DASH    0x0200
#define CX_C_LT      0x0400

#define CX_C_TERM    (CX_C_WS|CX_C_SLASH|CX_C_GT)

static const uint16_t  cx_class[256] = {
    ['\t'] = CX_C_WS, ['\n'] = CX_C_WS, ['\f'] = CX_C_WS, ['\r'] = CX_C_WS,
    [' '] = CX_C_WS, ['/'] = CX_C_SLASH, ['>'] = CX_C_GT, ['='] = CX_C_EQ,
    ['-'] = CX_C_DASH, ['<'] = CX_C_LT,

    ['A'] =  1, ['a'] =  1, ['B'] =  2, ['b'] =  2, ['C'] =  3, ['c'] =  3,
    ['D'] =  4, ['d'] =  4, ['E'] =  5, ['e'] =  5, ['F'] =  6, ['f'] =  6,
    ['G'] =  7, ['g'] =  7, ['H'] =  8, ['h'] =  8, ['I'] =  9, ['i'] =  9,
    ['J'] = 10, ['j'] = 10, ['K'] = 11, ['k'] = 11, ['L'] = 12, ['l'] = 12,
    ['M'] = 13, ['m'] = 13, ['N'] = 14, ['n'] = 14, ['O'] = 15, ['o'] = 15,
    ['P'] = 16, ['p'] = 16, ['Q'] = 17, ['q'] = 17, ['R'] = 18, ['r'] = 18,
    ['S'] = 19, ['s'] = 19, ['T'] = 20, ['t'] = 20, ['U'] = 21, ['u'] = 21,
    ['V'] = 22, ['v'] = 22, ['W'] = 23, ['w'] = 23, ['X'] = 24, ['x'] = 24,
    ['Y'] = 25, ['y'] = 25, ['Z'] = 26, ['z'] = 26
};


/* Name keys, built the way the name states build them. */
#define CX_K1(a)                  ((uint64_t) ((a) & 31))
#define CX_K2(a, b)               (CX_K1(a) << 5 | CX_K1(b))
#define CX_K3(a, b, c)            (CX_K2(a, b) << 5 | CX_K1(c))
#define CX_K4(a, b, c, d)         (CX_K3(a, b, c) << 5 | CX_K1(d))
#define CX_K5(a, b, c, d, e)      (CX_K4(a, b, c, d) << 5 | CX_K1(e))
#define CX_K6(a, b, c, d, e, f)   (CX_K5(a, b, c, d, e) << 5 | CX_K1(f))
#define CX_K7(a, b, c, d, e, f, g)                                           \
    (CX_K6(a, b, c, d, e, f) << 5 | CX_K1(g))
#define CX_K8(a, b, c, d, e, f, g, h)                                        \
    (CX_K7(a, b, c, d, e, f, g) << 5 | CX_K1(h))
#define CX_K9(a, b, c, d, e, f, g, h, i)                                     \
    (CX_K8(a, b, c, d, e, f, g, h) << 5 | CX_K1(i))

#define CX_KEY_BODY      CX_K4('b', 'o', 'd', 'y')
#define CX_KEY_META      CX_K4('m', 'e', 't', 'a')
#define CX_KEY_TEMPLATE  CX_K8('t', 'e', 'm', 'p', 'l', 'a', 't', 'e')

/* A name this long matches nothing; name lengths saturate here. */
#define CX_NAME_LONG  10


/* Elements whose start tag changes what follows; index 0 is "any other". */
enum {
    CX_E_NONE = 0,
    CX_E_SCRIPT,
    CX_E_STYLE,
    CX_E_TEXTAREA,
    CX_E_TITLE,
    CX_E_XMP,
    CX_E_IFRAME,
    CX_E_NOEMBED,
    CX_E_NOFRAMES,
    CX_E_NOSCRIPT,
    CX_E_PLAINTEXT,
    CX_E_TEMPLATE
};

static const struct {
    const char  *name;
    size_t       len;
    uint64_t     key;
} cx_elems[] = {
    { "", 0, 0 },
    { "script", 6, CX_K6('s', 'c', 'r', 'i', 'p', 't') },
    { "style", 5, CX_K5('s', 't', 'y', 'l', 'e') },
    { "textarea", 8, CX_K8('t', 'e', 'x', 't', 'a', 'r', 'e', 'a') },
    { "title", 5, CX_K5('t', 'i', 't', 'l', 'e') },
    { "xmp", 3, CX_K3('x', 'm', 'p') },
    { "iframe", 6, CX_K6('i', 'f', 'r', 'a', 'm', 'e') },
    { "noembed", 7, CX_K7('n', 'o', 'e', 'm', 'b', 'e', 'd') },
    { "noframes", 8, CX_K8('n', 'o', 'f', 'r', 'a', 'm', 'e', 's') },
    { "noscript", 8, CX_K8('n', 'o', 's', 'c', 'r', 'i', 'p', 't') },
    { "plaintext", 9, CX_K9('p', 'l', 'a', 'i', 'n', 't', 'e', 'x', 't') },
    { "template", 8, CX_KEY_TEMPLATE }
};


/*
 * The <meta> match, kept in `key` by the meta_ states. In an attribute name
 * it counts the bytes of "http-equiv" matched; from the end of the name to
 * the end of the value, the bytes of "content-security-policy" matched,
 * CX_META_NO when the attribute cannot count, or CX_META_REF when a
 * character reference (which the tokenizer decodes in values, so that
 * "content&#45;security-policy" is the pragma) makes the value unknown:
 * unknown counts as a match, to fail closed.
 */
static const char  cx_http_equiv[] = "http-equiv";
static const char  cx_csp[] = "content-security-policy";

#define CX_HTTP_EQUIV_LEN  (sizeof(cx_http_equiv) - 1)
#define CX_CSP_LEN         (sizeof(cx_csp) - 1)
#define CX_META_NO         64
#define CX_META_REF        65

#define cx_meta_matched(m)  ((m) == CX_CSP_LEN || (m) == CX_META_REF)


/*
 * The first c in [p, end), or NULL: memchr, inlined.  Between two tags of
 * body text lie some tens of bytes, where a call to memchr and its set-up
 * cost as much as its search (perf put it at a quarter of a scan); 16
 * bytes are compared at a time with SSE2, which every x86-64 has, and the
 * last few bytes of a chunk by memchr.
 */
static inline const unsigned char *
cx_find(const unsigned char *p, const unsigned char *end, unsigned c)
{
#if defined(__SSE2__)
    unsigned  m;
    __m128i   want, lo, hi;

    want = _mm_set1_epi8((char) c);

    while (end - p >= 32) {
        lo = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) p), want);
        hi = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) (p + 16)),
                            want);
        m = (unsigned) _mm_movemask_epi8(lo)
            | (unsigned) _mm_movemask_epi8(hi) << 16;
        if (m) {
            return p + __builtin_ctz(m);
        }
        p += 32;
    }

    if (end - p >= 16) {
        m = (unsigned) _mm_movemask_epi8(
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) p), want));
        if (m) {
            return p + __builtin_ctz(m);
        }
        p += 16;
    }
#endif

    return memchr(p, c, end - p);
}


/*
 * The first '<' in [p, end), or NULL, for the text states.  Tags in HTML
 * are some tens of bytes apart, and a search that stops after a varying
 * number of blocks costs a mispredicted branch a tag, as much as the rest
 * of the tag's work (perf); so the '<' of a 64-byte window are found at
 * once, as a mask kept in *wb, *wm across the tags that fall in it, and
 * the next is its lowest bit beyond p.  The window moves when p leaves it.
 */
static inline const unsigned char *
cx_find_lt(const unsigned char *p, const unsigned char *end,
    const unsigned char **wb, uint64_t *wm)
{
#if defined(__SSE2__)
    int       i;
    uint64_t  m;
    __m128i   lt;

    for ( ;; ) {
        if (*wb != NULL && p < *wb + 64) {
            m = *wm >> (p - *wb);
            if (m) {
                return p + __builtin_ctzll(m);
            }
            p = *wb + 64;
        }

        if (end - p < 64) {
            break;
        }

        lt = _mm_set1_epi8('<');
        m = 0;

        for (i = 0; i < 4; i++) {
            m |= (uint64_t) (unsigned) _mm_movemask_epi8(_mm_cmpeq_epi8(
                     _mm_loadu_si128((const __m128i *) (p + 16 * i)), lt))
                 << (16 * i);
        }

        *wb = p;
        *wm = m;
    }
#else
    (void) wb;
    (void) wm;
#endif

    return memchr(p, '<', end - p);
}


static unsigned cx_start_elem(size_t n, uint64_t key);
static uint64_t cx_meta_value(uint64_t m, unsigned c);
static int cx_match(const unsigned char **pp, const unsigned char *end,
    size_t *np, unsigned elem);


void
ngx_cx_scan_init(ngx_cx_scan_t *s)
{
    memset(s, 0, sizeof(ngx_cx_scan_t));
    s->state = CX_DATA;
}


/* Leave the current chunk, resuming in state st on the next call. */
#define SUSPEND(st)                                                          \
    do {                                                                     \
        state = (st);                                                        \
        goto suspend;                                                        \
    } while (0)

/* A state that looks at *p first needs at least one byte. */
#define NEED(st)                                                             \
    if (p == end) {                                                          \
        SUSPEND(st);                                                         \
    }


int
ngx_cx_scan_feed(ngx_cx_scan_t *s, const unsigned char *p, size_t len,
    uint64_t *tag_at)
{
    int                   m;
    size_t                n;
    unsigned              c, state;
    uint64_t              key, wm;
    const unsigned char  *start, *end, *q, *wb;

    if (s->state == CX_FOUND) {
        *tag_at = s->lt;
        return NGX_CX_SCAN_FOUND;
    }

    if (len == 0) {
        return NGX_CX_SCAN_MORE;
    }

    start = p;
    end = p + len;
    wb = NULL;
    wm = 0;
    n = s->nlen;
    key = s->key;

    switch (s->state) {
    case CX_DATA:               goto data;
    case CX_TAG_OPEN:           goto tag_open;
    case CX_END_TAG_OPEN:       goto end_tag_open;
    case CX_START_NAME:         goto start_name;
    case CX_END_NAME:           goto end_name;
    case CX_BEFORE_ATTR_NAME:   goto before_attr_name;
    case CX_ATTR_NAME:          goto attr_name;
    case CX_AFTER_ATTR_NAME:    goto after_attr_name;
    case CX_BEFORE_ATTR_VALUE:  goto before_attr_value;
    case CX_ATTR_VALUE_DQ:      goto attr_value_dq;
    case CX_ATTR_VALUE_SQ:      goto attr_value_sq;
    case CX_ATTR_VALUE_UNQ:     goto attr_value_unq;
    case CX_SELF_CLOSING:       goto self_closing;
    case CX_MDO:                goto mdo;
    case CX_MDO_DASH:           goto mdo_dash;
    case CX_COMMENT_START:      goto comment_start;
    case CX_COMMENT_START_DASH: goto comment_start_dash;
    case CX_COMMENT:            goto comment;
    case CX_COMMENT_END_DASH:   goto comment_end_dash;
    case CX_COMMENT_END:        goto comment_end;
    case CX_COMMENT_END_BANG:   goto comment_end_bang;
    case CX_BOGUS:              goto bogus;
    case CX_RAW:                goto raw;
    case CX_RAW_LT:             goto raw_lt;
    case CX_RAW_END:            goto raw_end;
    case CX_SCRIPT:             goto script;
    case CX_SCRIPT_LT:          goto script_lt;
    case CX_SCRIPT_END:         goto script_end;
    case CX_ESC_START:          goto esc_start;
    case CX_ESC_START_DASH:     goto esc_start_dash;
    case CX_ESC:                goto esc;
    case CX_ESC_DASH:           goto esc_dash;
    case CX_ESC_DASH_DASH:      goto esc_dash_dash;
    case CX_ESC_LT:             goto esc_lt;
    case CX_ESC_END:            goto esc_end;
    case CX_DESC_START:         goto desc_start;
    case CX_DESC:               goto desc;
    case CX_DESC_DASH:          goto desc_dash;
    case CX_DESC_DASH_DASH:     goto desc_dash_dash;
    case CX_DESC_LT:            goto desc_lt;
    case CX_DESC_END:           goto desc_end;
    case CX_META_BEFORE_ATTR_NAME:  goto meta_before_attr_name;
    case CX_META_ATTR_NAME:         goto meta_attr_name;
    case CX_META_AFTER_ATTR_NAME:   goto meta_after_attr_name;
    case CX_META_BEFORE_ATTR_VALUE: goto meta_before_attr_value;
    case CX_META_VALUE_DQ:          goto meta_value_dq;
    case CX_META_VALUE_SQ:          goto meta_value_sq;
    case CX_META_VALUE_UNQ:         goto meta_value_unq;
    case CX_META_SELF_CLOSING:      goto meta_self_closing;
    default:                    goto plaintext;
    }

    /* ---- data and tags ------------------------------------------------ */

data:
    q = cx_find_lt(p, end, &wb, &wm);
    if (q == NULL) {
        SUSPEND(CX_DATA);
    }
    s->lt = s->total + (uint64_t) (q - start);
    p = q + 1;

tag_open:
    NEED(CX_TAG_OPEN);
    c = *p;
    if (cx_class[c] & CX_C_LETTER) {
        n = 0;
        key = 0;
        goto start_name;
    }
    switch (c) {
    case '/':
        p++;
        goto end_tag_open;
    case '!':
        p++;
        goto mdo;
    case '?':
        p++;
        goto bogus;
    default:
        goto data;              /* a lone '<' is text; reconsume */
    }

start_name:
    for ( ;; ) {
        NEED(CX_START_NAME);
        c = cx_class[*p];
        if (c & CX_C_TERM) {
            break;
        }
        key = key << 5 | (c & CX_C_LETTER);
        n++;
        p++;
    }
    s->elem = (unsigned char) cx_start_elem(n, key);
    if (n == 4 && key == CX_KEY_META && s->depth == 0 && !s->meta_csp) {
        goto meta_tag;          /* browsers ignore a <meta> in a template */
    }
    c = *p++;
    if (c == '>') {
        goto emit;
    }
    if (c == '/') {
        goto self_closing;
    }

before_attr_name:
    while (p < end && (cx_class[*p] & CX_C_WS)) {
        p++;
    }
    NEED(CX_BEFORE_ATTR_NAME);
    c = *p++;
    if (c == '>') {
        goto emit;
    }
    if (c == '/') {
        goto self_closing;
    }
    /* anything else, '=' included, starts an attribute name */

attr_name:
    while (p < end && !(cx_class[*p] & (CX_C_TERM|CX_C_EQ))) {
        p++;
    }
    NEED(CX_ATTR_NAME);
    c = *p++;
    if (c == '=') {
        goto before_attr_value;
    }
    if (c == '>') {
        goto emit;
    }
    if (c == '/') {
        goto self_closing;
    }

after_attr_name:
    while (p < end && (cx_class[*p] & CX_C_WS)) {
        p++;
    }
    NEED(CX_AFTER_ATTR_NAME);
    c = *p++;
    if (c == '=') {
        goto before_attr_value;
    }
    if (c == '>') {
        goto emit;
    }
    if (c == '/') {
        goto self_closing;
    }
    goto attr_name;

before_attr_value:
    while (p < end && (cx_class[*p] & CX_C_WS)) {
        p++;
    }
    NEED(CX_BEFORE_ATTR_VALUE);
    c = *p;
    if (c == '"') {
        p++;
        goto attr_value_dq;
    }
    if (c == '\'') {
        p++;
        goto attr_value_sq;
    }
    if (c == '>') {
        p++;
        goto emit;
    }

attr_value_unq:
    while (p < end && !(cx_class[*p] & (CX_C_WS|CX_C_GT))) {
        p++;
    }
    NEED(CX_ATTR_VALUE_UNQ);
    c = *p++;
    if (c == '>') {
        goto emit;
    }
    goto before_attr_name;

attr_value_dq:
    q = cx_find(p, end, '"');
    if (q == NULL) {
        SUSPEND(CX_ATTR_VALUE_DQ);
    }
    p = q + 1;
    goto before_attr_name;

attr_value_sq:
    q = cx_find(p, end, '\'');
    if (q == NULL) {
        SUSPEND(CX_ATTR_VALUE_SQ);
    }
    p = q + 1;
    goto before_attr_name;

self_closing:
    /* the flag is ignored: <script/> still opens script data */
    NEED(CX_SELF_CLOSING);
    if (*p == '>') {
        p++;
        goto emit;
    }
    goto before_attr_name;

emit:
    switch (s->elem) {
    case CX_E_NONE:
        goto data;
    case CX_E_TEMPLATE:
        if (s->depth < UINT32_MAX) {
            s->depth++;
        }
        goto data;
    case CX_E_SCRIPT:
        goto script;
    case CX_E_PLAINTEXT:
        goto plaintext;
    default:
        goto raw;
    }

end_tag_open:
    NEED(CX_END_TAG_OPEN);
    c = *p;
    if (cx_class[c] & CX_C_LETTER) {
        n = 0;
        key = 0;
        goto end_name;
    }
    p++;
    if (c == '>') {
        goto data;              /* "</>" is dropped */
    }
    goto bogus;

end_name:
    for ( ;; ) {
        NEED(CX_END_NAME);
        c = cx_class[*p];
        if (c & CX_C_TERM) {
            break;
        }
        key = key << 5 | (c & CX_C_LETTER);
        n++;
        p++;
    }
    if (n == 4 && key == CX_KEY_BODY) {
        if (s->depth == 0) {
            s->state = CX_FOUND;
            s->total += len;
            *tag_at = s->lt;
            return NGX_CX_SCAN_FOUND;
        }

    } else if (n == 8 && key == CX_KEY_TEMPLATE) {
        if (s->depth > 0) {
            s->depth--;
        }
    }

end_tag_attrs:
    /* *p is the terminator of an end tag's name; an end tag opens nothing */
    s->elem = CX_E_NONE;
    c = *p++;
    if (c == '>') {
        goto data;
    }
    if (c == '/') {
        goto self_closing;
    }
    goto before_attr_name;

    /* ---- the attributes of a <meta> start tag --------------------------- */

    /*
     * The same transitions as the plain attribute states above; only the
     * bytes of names and values are looked at, and a name's first byte is
     * reconsumed rather than skipped.
     */

meta_tag:
    /* *p is the terminator of the name; s->elem is CX_E_NONE */
    c = *p++;
    if (c == '>') {
        goto emit;
    }
    if (c == '/') {
        goto meta_self_closing;
    }

meta_before_attr_name:
    while (p < end && (cx_class[*p] & CX_C_WS)) {
        p++;
    }
    NEED(CX_META_BEFORE_ATTR_NAME);
    c = *p;
    if (c == '>') {
        p++;
        goto emit;
    }
    if (c == '/') {
        p++;
        goto meta_self_closing;
    }
    key = 0;
    if (c == '=') {
        p++;                    /* a name may start with '=': "=http-equiv" */
        key = CX_META_NO;
    }

meta_attr_name:
    while (p < end && key != CX_META_NO) {
        c = *p;
        if (cx_class[c] & (CX_C_TERM|CX_C_EQ)) {
            goto meta_attr_name_end;
        }
        if (c - 'A' < 26u) {
            c += 'a' - 'A';
        }
        key = (key < CX_HTTP_EQUIV_LEN && c == (unsigned) cx_http_equiv[key])
              ? key + 1 : CX_META_NO;
        p++;
    }
    /* a name that cannot match is skipped as in the plain state */
    while (p < end && !(cx_class[*p] & (CX_C_TERM|CX_C_EQ))) {
        p++;
    }
    NEED(CX_META_ATTR_NAME);

meta_attr_name_end:
    key = (key == CX_HTTP_EQUIV_LEN) ? 0 : CX_META_NO;
    c = *p++;
    if (c == '=') {
        goto meta_before_attr_value;
    }
    if (c == '>') {
        goto emit;
    }
    if (c == '/') {
        goto meta_self_closing;
    }

meta_after_attr_name:
    while (p < end && (cx_class[*p] & CX_C_WS)) {
        p++;
    }
    NEED(CX_META_AFTER_ATTR_NAME);
    c = *p;
    if (c == '=') {
        p++;
        goto meta_before_attr_value;
    }
    if (c == '>') {
        p++;
        goto emit;
    }
    if (c == '/') {
        p++;
        goto meta_self_closing;
    }
    key = 0;                    /* the next name starts with this byte */
    goto meta_attr_name;

meta_before_attr_value:
    while (p < end && (cx_class[*p] & CX_C_WS)) {
        p++;
    }
    NEED(CX_META_BEFORE_ATTR_VALUE);
    c = *p;
    if (c == '"') {
        p++;
        goto meta_value_dq;
    }
    if (c == '\'') {
        p++;
        goto meta_value_sq;
    }
    if (c == '>') {
        p++;
        goto emit;
    }

meta_value_unq:
    for ( ;; ) {
        NEED(CX_META_VALUE_UNQ);
        c = *p;
        if (cx_class[c] & (CX_C_WS|CX_C_GT)) {
            break;
        }
        key = cx_meta_value(key, c);
        p++;
    }
    if (cx_meta_matched(key)) {
        s->meta_csp = 1;
    }
    c = *p++;
    if (c == '>') {
        goto emit;
    }
    goto meta_before_attr_name;

meta_value_dq:
    if (key >= CX_META_NO) {
        q = cx_find(p, end, '"');
        if (q == NULL) {
            SUSPEND(CX_META_VALUE_DQ);
        }
        p = q + 1;
        goto meta_value_end;
    }
    for ( ;; ) {
        NEED(CX_META_VALUE_DQ);
        c = *p++;
        if (c == '"') {
            goto meta_value_end;
        }
        key = cx_meta_value(key, c);
    }

meta_value_sq:
    if (key >= CX_META_NO) {
        q = cx_find(p, end, '\'');
        if (q == NULL) {
            SUSPEND(CX_META_VALUE_SQ);
        }
        p = q + 1;
        goto meta_value_end;
    }
    for ( ;; ) {
        NEED(CX_META_VALUE_SQ);
        c = *p++;
        if (c == '\'') {
            break;
        }
        key = cx_meta_value(key, c);
    }

meta_value_end:
    /* after a quoted value, as after any other: "after attribute value" */
    if (cx_meta_matched(key)) {
        s->meta_csp = 1;
    }
    goto meta_before_attr_name;

meta_self_closing:
    NEED(CX_META_SELF_CLOSING);
    if (*p == '>') {
        p++;
        goto emit;
    }
    goto meta_before_attr_name;

    /* ---- comments ----------------------------------------------------- */

mdo:
    NEED(CX_MDO);
    if (*p != '-') {
        goto bogus;             /* DOCTYPE too ends at the first '>' */
    }
    p++;

mdo_dash:
    NEED(CX_MDO_DASH);
    if (*p != '-') {
        goto bogus;
    }
    p++;

comment_start:
    NEED(CX_COMMENT_START);
    c = *p;
    if (c == '>') {
        p++;                    /* <!--> */
        goto data;
    }
    if (c != '-') {
        goto comment;
    }
    p++;

comment_start_dash:
    NEED(CX_COMMENT_START_DASH);
    c = *p;
    if (c == '>') {
        p++;                    /* <!---> */
        goto data;
    }
    if (c == '-') {
        p++;
        goto comment_end;
    }

comment:
    q = cx_find(p, end, '-');
    if (q == NULL) {
        SUSPEND(CX_COMMENT);
    }
    p = q + 1;

comment_end_dash:
    NEED(CX_COMMENT_END_DASH);
    if (*p != '-') {
        goto comment;
    }
    p++;

comment_end:
    NEED(CX_COMMENT_END);
    c = *p;
    if (c == '>') {
        p++;
        goto data;
    }
    if (c == '-') {
        p++;
        goto comment_end;
    }
    if (c != '!') {
        goto comment;
    }
    p++;

comment_end_bang:
    NEED(CX_COMMENT_END_BANG);
    c = *p;
    if (c == '>') {
        p++;                    /* --!> */
        goto data;
    }
    if (c == '-') {
        p++;
        goto comment_end_dash;
    }
    goto comment;

bogus:
    q = cx_find(p, end, '>');
    if (q == NULL) {
        SUSPEND(CX_BOGUS);
    }
    p = q + 1;
    goto data;

    /* ---- RAWTEXT and RCDATA ------------------------------------------- */

raw:
    q = cx_find_lt(p, end, &wb, &wm);
    if (q == NULL) {
        SUSPEND(CX_RAW);
    }
    p = q + 1;

raw_lt:
    NEED(CX_RAW_LT);
    if (*p != '/') {
        goto raw;
    }
    p++;
    n = 0;

raw_end:
    m = cx_match(&p, end, &n, s->elem);
    if (m == 0) {
        SUSPEND(CX_RAW_END);
    }
    if (m < 0) {
        goto raw;
    }
    goto end_tag_attrs;

    /* ---- script data -------------------------------------------------- */

script:
    q = cx_find_lt(p, end, &wb, &wm);
    if (q == NULL) {
        SUSPEND(CX_SCRIPT);
    }
    p = q + 1;

script_lt:
    NEED(CX_SCRIPT_LT);
    c = *p;
    if (c == '!') {
        p++;
        goto esc_start;
    }
    if (c != '/') {
        goto script;
    }
    p++;
    n = 0;

script_end:
    m = cx_match(&p, end, &n, CX_E_SCRIPT);
    if (m == 0) {
        SUSPEND(CX_SCRIPT_END);
    }
    if (m < 0) {
        goto script;
    }
    goto end_tag_attrs;

esc_start:
    NEED(CX_ESC_START);
    if (*p != '-') {
        goto script;
    }
    p++;

esc_start_dash:
    NEED(CX_ESC_START_DASH);
    if (*p != '-') {
        goto script;
    }
    p++;
    goto esc_dash_dash;

esc:
    while (p < end && !(cx_class[*p] & (CX_C_DASH|CX_C_LT))) {
        p++;
    }
    NEED(CX_ESC);
    if (*p++ == '<') {
        goto esc_lt;
    }

esc_dash:
    NEED(CX_ESC_DASH);
    c = *p++;
    if (c == '<') {
        goto esc_lt;
    }
    if (c != '-') {
        goto esc;
    }

esc_dash_dash:
    NEED(CX_ESC_DASH_DASH);
    c = *p++;
    if (c == '-') {
        goto esc_dash_dash;
    }
    if (c == '>') {
        goto script;
    }
    if (c != '<') {
        goto esc;
    }

esc_lt:
    NEED(CX_ESC_LT);
    c = *p;
    if (cx_class[c] & CX_C_LETTER) {
        n = 0;
        goto desc_start;
    }
    if (c != '/') {
        goto esc;
    }
    p++;
    n = 0;

esc_end:
    m = cx_match(&p, end, &n, CX_E_SCRIPT);
    if (m == 0) {
        SUSPEND(CX_ESC_END);
    }
    if (m < 0) {
        goto esc;
    }
    goto end_tag_attrs;

desc_start:
    m = cx_match(&p, end, &n, CX_E_SCRIPT);
    if (m == 0) {
        SUSPEND(CX_DESC_START);
    }
    if (m < 0) {
        goto esc;
    }
    p++;                        /* "<script" + terminator: double escaped */

desc:
    while (p < end && !(cx_class[*p] & (CX_C_DASH|CX_C_LT))) {
        p++;
    }
    NEED(CX_DESC);
    if (*p++ == '<') {
        goto desc_lt;
    }

desc_dash:
    NEED(CX_DESC_DASH);
    c = *p++;
    if (c == '<') {
        goto desc_lt;
    }
    if (c != '-') {
        goto desc;
    }

desc_dash_dash:
    NEED(CX_DESC_DASH_DASH);
    c = *p++;
    if (c == '-') {
        goto desc_dash_dash;
    }
    if (c == '>') {
        goto script;
    }
    if (c != '<') {
        goto desc;
    }

desc_lt:
    NEED(CX_DESC_LT);
    if (*p != '/') {
        goto desc;
    }
    p++;
    n = 0;

desc_end:
    m = cx_match(&p, end, &n, CX_E_SCRIPT);
    if (m == 0) {
        SUSPEND(CX_DESC_END);
    }
    if (m < 0) {
        goto desc;
    }
    p++;                        /* "</script" + terminator: back to escaped */
    goto esc;

    /* ---- the rest ----------------------------------------------------- */

plaintext:
    state = CX_PLAINTEXT;

suspend:
    s->state = (unsigned char) state;
    s->nlen = (unsigned char) (n < CX_NAME_LONG ? n : CX_NAME_LONG);
    s->key = key;
    s->total += len;

    return NGX_CX_SCAN_MORE;
}


uint64_t
ngx_cx_scan_hold_from(const ngx_cx_scan_t *s)
{
    if (s->depth > 0) {
        return s->total;        /* no </body> counts inside a template */
    }

    switch (s->state) {

    case CX_TAG_OPEN:
    case CX_END_TAG_OPEN:
        return s->lt;

    case CX_END_NAME:
        /* the name so far is a prefix of "body" */
        if (s->nlen <= 4 && s->key == CX_KEY_BODY >> (5 * (4 - s->nlen))) {
            return s->lt;
        }
        break;

    default:
        break;
    }

    return s->total;
}


int
ngx_cx_scan_meta_csp(const ngx_cx_scan_t *s)
{
    return s->meta_csp;
}


/* Which element a start tag whose name has just ended opens. */

static unsigned
cx_start_elem(size_t n, uint64_t key)
{
    unsigned  e, first, last;

    switch (n) {
    case 3:
        first = CX_E_XMP;
        last = CX_E_XMP;
        break;
    case 5:
        first = CX_E_STYLE;
        last = CX_E_TITLE;
        break;
    case 6:
        first = CX_E_SCRIPT;
        last = CX_E_IFRAME;
        break;
    case 7:
        first = CX_E_NOEMBED;
        last = CX_E_NOEMBED;
        break;
    case 8:
        first = CX_E_TEXTAREA;
        last = CX_E_TEMPLATE;
        break;
    case 9:
        first = CX_E_PLAINTEXT;
        last = CX_E_PLAINTEXT;
        break;
    default:
        return CX_E_NONE;       /* the common case: a, p, div, span, ... */
    }

    for (e = first; e <= last; e++) {
        if (cx_elems[e].len == n && cx_elems[e].key == key) {
            return e;
        }
    }

    return CX_E_NONE;
}


/*
 * Advance the match of an http-equiv value (see CX_META_NO) by byte c.
 * HTML whitespace is allowed before and after the keyword, to fail closed
 * should a browser trim it.
 */

static uint64_t
cx_meta_value(uint64_t m, unsigned c)
{
    if (m >= CX_META_NO) {
        return m;               /* the outcome is known */
    }

    if (c == '&') {
        return CX_META_REF;
    }

    if (cx_class[c] & CX_C_WS) {
        return (m == 0 || m == CX_CSP_LEN) ? m : CX_META_NO;
    }

    if (c - 'A' < 26u) {
        c += 'a' - 'A';
    }

    return (m < CX_CSP_LEN && c == (unsigned) cx_csp[m]) ? m + 1 : CX_META_NO;
}


/*
 * Match the name of `elem` after "</" (or after "<" for the double escape
 * start), continuing from *np letters already matched. Returns 1 when the
 * whole name is matched and *pp points at a terminator (not consumed), -1
 * when the bytes cannot be that tag (*pp at the first byte to reconsume),
 * 0 when the input ran out first.
 */

static int
cx_match(const unsigned char **pp, const unsigned char *end, size_t *np,
    unsigned elem)
{
    size_t                n, len;
    const char           *name;
    const unsigned char  *p;

    p = *pp;
    n = *np;
    name = cx_elems[elem].name;
    len = cx_elems[elem].len;

    while (p < end && n < len
           && (cx_class[*p] & CX_C_LETTER)
              == (cx_class[(unsigned char) name[n]] & CX_C_LETTER))
    {
        n++;
        p++;
    }

    *pp = p;
    *np = n;

    if (p == end) {
        return 0;
    }

    return (n == len && (cx_class[*p] & CX_C_TERM)) ? 1 : -1;
}
