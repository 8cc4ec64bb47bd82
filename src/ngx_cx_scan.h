/*
 * ngx_cx_scan — a streaming HTML scanner that finds the document's real
 * closing </body> tag, so that a body filter can insert a snippet right
 * before it.
 *
 * It runs the state machine of the HTML tokenizer (WHATWG, "13.2.5
 * Tokenization") far enough to know which '<' a browser would read as the
 * end tag of <body>, and nothing more: it never builds tokens, never
 * buffers data and never looks back into earlier chunks. Input may arrive in
 * any split, down to one byte per call; the result is the same.
 *
 * What counts: "</" + ASCII case-insensitive "body" + one of TAB LF FF CR
 * SPACE '/' '>' (so </BODY>, </Body >, </body/> count, </bodyx> does not),
 * read in the tokenizer's data state, outside every <template> element.
 * What does not: anything inside
 *   - comments <!-- -->, including the empty <!--> and <!--->, and a comment
 *     closed by --!>;
 *   - bogus comments <?...>, <!x...>, </ followed by a non-letter, and every
 *     other <!...> (DOCTYPE, <![CDATA[ in HTML content): each ends at the
 *     first '>';
 *   - a tag, start or end, including its attribute values: quoted values
 *     begin only after '=' and may hold '>'; unquoted ones end at
 *     whitespace or '>';
 *   - the text of <script> (with the tokenizer's "<!--" escape states, so
 *     document.write("<script></script>") inside <!-- --> does not end the
 *     script), <style>, <textarea>, <title>, <xmp>, <iframe>, <noembed>,
 *     <noframes>, <noscript>: each ends only at its own end tag name followed
 *     by a terminator; self-closing syntax (<script />) opens it all the
 *     same, as in browsers; <plaintext> never ends;
 *   - a <template> element: nested templates are counted, </template + a
 *     terminator closes one (never below zero); template content is
 *     tokenized like any other HTML.
 * Only the first real </body> counts.
 *
 * On the way it notes whether the page declares a Content-Security-Policy
 * in markup (ngx_cx_scan_meta_csp()), a policy a filter that has already
 * sent the response header cannot evaluate, so it must not inject: a <meta>
 * start tag read in the data state (so not in a comment, raw text, script
 * or another tag's attribute value), outside every <template>, with an
 * attribute named "http-equiv" (ASCII case-insensitive) whose value is
 * ASCII case-insensitively "content-security-policy", quoted with " or ' or
 * unquoted. The rule errs towards reporting a policy:
 *   - HTML whitespace around the keyword is allowed;
 *   - a value holding '&' after a matching prefix counts, since the
 *     tokenizer decodes character references ("content&#45;security-
 *     policy" is the pragma) and they are not decoded here;
 *   - every http-equiv attribute of the tag is looked at, although browsers
 *     keep only the first of duplicates;
 *   - a <meta> in <body>, which browsers ignore, counts as well, and the
 *     content attribute is not required.
 * "Content-Security-Policy-Report-Only" blocks nothing and does not count;
 * neither does <metadata> or any other name.
 *
 * Known simplifications, all on the side of not finding a tag rather than
 * finding a wrong one: the tree builder's context is not modelled, so
 * <title>/<style> inside <svg> are treated as in HTML and <![CDATA[ as a
 * bogus comment even in foreign content; <noscript> is raw text (scripting
 * enabled, as in every browser that runs the widget).
 *
 * Contract:
 *   - No allocation, no global state; a scanner is a plain struct the caller
 *     owns (e.g. inside a request context) and may copy.
 *   - Never reads outside [p, p + len); any byte values are accepted.
 *   - Cost: text, comments, raw text and quoted attribute values are
 *     skipped 32 or 64 bytes at a time (SSE2 on x86-64, memchr()
 *     elsewhere and in a chunk's last bytes); tags are walked byte by byte
 *     on direct branches. On one core (t/unit/bench_scan.c): about 8 GB/s
 *     on an article's body text, 3 GB/s on a page that is mostly tags,
 *     whatever the chunk sizes above a few hundred bytes.
 *     Only the attribute names of <meta> tags, and the value of their
 *     http-equiv, are compared byte by byte; none once a policy was seen.
 */

#ifndef NGX_CX_SCAN_H
#define NGX_CX_SCAN_H

#include <stddef.h>
#include <stdint.h>


#define NGX_CX_SCAN_MORE   0     /* not found yet, feed more */
#define NGX_CX_SCAN_FOUND  1     /* the real </body> end tag was completed */

/* Scanner state (32 bytes). Treat the members as private. */
typedef struct {
    uint64_t       total;     /* bytes fed so far */
    uint64_t       lt;        /* offset of the '<' of the tag being read */
    uint64_t       key;       /* the tag name read so far, packed; in a
                                 <meta> tag's attributes, the match state */
    uint32_t       depth;     /* open <template> elements */
    unsigned char  state;
    unsigned char  elem;      /* element the current start tag opens */
    unsigned char  nlen;      /* name bytes read, saturating */
    unsigned char  meta_csp;  /* a <meta> CSP pragma was seen */
} ngx_cx_scan_t;


/* Reset a scanner to the start of a document. Never fails. */
void ngx_cx_scan_init(ngx_cx_scan_t *s);

/*
 * Feed the next `len` bytes of the stream (p may be NULL when len is 0).
 *
 * Returns NGX_CX_SCAN_FOUND when the terminator that completes the real
 * </body> end tag is among these bytes, and stores in *tag_at the absolute
 * stream offset (0 = first byte ever fed) of its '<', which may lie in an
 * earlier chunk (see ngx_cx_scan_hold_from()). The bytes after the
 * terminator in this chunk are not examined. Once FOUND, every later call
 * returns FOUND with the same *tag_at and ignores its input; callers are
 * expected to stop feeding.
 *
 * Returns NGX_CX_SCAN_MORE otherwise; *tag_at is left untouched.
 */
int ngx_cx_scan_feed(ngx_cx_scan_t *s, const unsigned char *p, size_t len,
    uint64_t *tag_at);

/*
 * The absolute offset from which the bytes fed so far might still be the
 * start of a real "</body" whose terminator has not been seen: a '<' in the
 * data state followed by a prefix of "/body", outside any <template>. A
 * filter that streams while scanning must hold back the bytes at and after
 * this offset; everything before it can be sent, since a later FOUND never
 * reports an offset below it.
 *
 * Returns the total number of bytes fed (hold nothing) when there is no open
 * candidate, and also once FOUND. At most 6 bytes ("</body") are ever held.
 */
uint64_t ngx_cx_scan_hold_from(const ngx_cx_scan_t *s);

/*
 * Whether the bytes fed so far held a <meta http-equiv=
 * "Content-Security-Policy"> in the sense described at the top of this
 * file: returns 1 if so, 0 if not. Once 1, it stays 1 until
 * ngx_cx_scan_init().
 *
 * It turns 1 in the call that feeds the end of the attribute's value (the
 * closing quote, or the byte after an unquoted value), before the tag's '>'
 * is seen; a tag cut off by the end of the stream may thus count, but no
 * real </body> can follow such a tag. Like FOUND, it does not depend on how
 * the stream is split. Bytes not examined do not count: those after the
 * real </body> (a FOUND call's tail and every later call) and the whole
 * <plaintext> contents. So when ngx_cx_scan_feed() returns FOUND, the value
 * covers exactly the document before the real </body>, which is where a
 * policy that could block the insertion would have to be.
 *
 * Recognising it never changes what ngx_cx_scan_feed() finds, nor
 * ngx_cx_scan_hold_from().
 */
int ngx_cx_scan_meta_csp(const ngx_cx_scan_t *s);


#endif /* NGX_CX_SCAN_H */
